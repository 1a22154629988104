// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: handshake messages (wg/noise.h consume_initiation and consume_response, with
 * wg_transport_classify and the mac1 check in front, as the control thread runs them).
 *
 * Real nodes run real handshakes at setup: I initiates to R and S, J to R (I twice to R,
 * 5 ms apart); K, whom R does not know, initiates too. The genuine initiations and responses are
 * the seeds. Initiations are fed to twins of R and S that share their keys but have consumed
 * nothing, responses to I and J while they wait for them. Noise is called on every message of the
 * right length even when mac1 is wrong: mac1 is keyed by a public key, so an attacker can always
 * get past it, and Noise must hold on its own.
 *
 * Invariants per input:
 *  - classify agrees with an independent reading of the type field and length;
 *  - a mac1 that verifies belongs to a genuine message, byte for byte up to mac2;
 *  - consume returns one of its documented results, and WG_ERR_INVALID for a wrong type;
 *  - a rejected message leaves every remote and the local byte-identical, index table too;
 *  - an accepted message equals a genuine one in every byte Noise authenticates (all but the
 *    sender index and the macs), names the right peer, and leaves the documented state;
 *    consumed again it is refused (WG_ERR_REPLAY, WG_ERR_STATE) without a change, and an
 *    initiation newer by 5 ms is refused as a flood.
 * State is restored after an accepted message, so every input meets the same nodes.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "crypto.h"
#include "fake_host.h"
#include "fuzz_driver.h"
#include "fuzz_oracles.h"
#include "index_table.h"
#include "messages.h"
#include "noise.h"
#include "result.h"
#include "tai64n.h"
#include "transport.h"

/* Bytes Noise authenticates: the type and everything after the sender index up to the macs. */
#define INIT_AUTH_FROM offsetof(struct wg_msg_initiation, unencrypted_ephemeral)
#define INIT_AUTH_TO   offsetof(struct wg_msg_initiation, macs)
#define RESP_AUTH_FROM offsetof(struct wg_msg_response, receiver_index)
#define RESP_AUTH_TO   offsetof(struct wg_msg_response, macs)

struct genuine_init {
	uint8_t bytes[sizeof(struct wg_msg_initiation)];
	struct fake_host *responder; /* the twin that accepts it */
	struct wg_noise_remote *sender;
	uint8_t timestamp[WG_TIMESTAMP_LEN];
	const struct genuine_init *newer; /* same sender, 5 ms later: a flood after this one */
};

struct genuine_resp {
	uint8_t bytes[sizeof(struct wg_msg_response)];
	struct fake_host *initiator;
	struct wg_noise_remote *sender;
};

static struct fake_host node_i, node_j, node_k, node_r, node_s, twin_r, twin_s;
static struct fake_host *const all_nodes[] = {&node_i, &node_j, &node_k, &node_r,
                                              &node_s, &twin_r, &twin_s};
static struct fake_host *const responders[] = {&twin_r, &twin_s};
static struct fake_host *const initiators[] = {&node_i, &node_j};

enum { G_I1A, G_I1B, G_J1, G_I2, N_INITS };
enum { G_R_TO_I, G_S_TO_I, G_R_TO_J, N_RESPS };
static struct genuine_init inits[N_INITS];
static struct genuine_resp resps[N_RESPS];
/* A real initiation from K, a stranger to R: it decrypts, then names no known peer. */
static uint8_t stranger_init[sizeof(struct wg_msg_initiation)];

static uint64_t accepted_count;
static char label_init[WG_RESULT_COUNT][FUZZ_LABEL_LEN],
    label_resp[WG_RESULT_COUNT][FUZZ_LABEL_LEN];

/* Snapshot of one node's Noise state: every remote, the local, the index table's size. */
static struct snapshot {
	struct wg_noise_remote remotes[FAKE_HOST_MAX_REMOTES];
	struct wg_noise_local local;
	uint32_t table_count;
} before, after_accept;

/* ---- nodes ---- */

/* Twins share a key seed, so they share the key; the ephemerals come from another stream. */
static int node_init(struct fake_host *n, const char *name, uint64_t key_seed)
{
	if (fake_host_init(n, name, key_seed) != WG_OK)
		return -1;
	n->rng = key_seed ^ 0x5eed;
	return 0;
}

static bool node_add(struct fake_host *n, const struct fake_host *peer)
{
	return fake_host_add(n, peer->local.static_public, NULL) == WG_OK;
}

static void cleanup(void)
{
	for (size_t i = 0; i < sizeof(all_nodes) / sizeof(all_nodes[0]); i++)
		fake_host_destroy(all_nodes[i]);
	wg_memzero(&before, sizeof(before));
	wg_memzero(&after_accept, sizeof(after_accept));
}

/* ---- genuine messages ---- */

/* ini's initiation to peer, macs included, to be accepted by twin. */
static int make_init(struct genuine_init *g, struct fake_host *ini, struct fake_host *peer,
                     struct fake_host *twin)
{
	struct wg_noise_remote *to = fake_host_find(ini, peer->local.static_public);
	struct wg_msg_initiation m;

	g->sender = fake_host_find(twin, ini->local.static_public);
	if (!to || !g->sender || fake_host_initiation(ini, to, &m) != WG_OK)
		return -1;
	memcpy(g->bytes, &m, sizeof(m));
	g->responder = twin;
	fake_host_tai64n(ini, g->timestamp);
	return 0;
}

/* res answers g (as the real responder), macs included. */
static int make_resp(struct genuine_resp *out, struct fake_host *res, const struct genuine_init *g,
                     struct fake_host *ini)
{
	struct wg_msg_response m;

	out->sender = fake_host_find(ini, res->local.static_public);
	if (!out->sender || fake_host_respond(res, g->bytes, sizeof(g->bytes), &m, NULL) != WG_OK)
		return -1;
	memcpy(out->bytes, &m, sizeof(m));
	out->initiator = ini;
	return 0;
}

/* ---- state snapshots ---- */

static void snap_take(struct snapshot *sn, const struct fake_host *n)
{
	memcpy(sn->remotes, n->remotes, sizeof(sn->remotes));
	memcpy(&sn->local, &n->local, sizeof(sn->local));
	sn->table_count = wg_index_table_count(n->table);
}

static bool snap_same(const struct snapshot *sn, const struct fake_host *n)
{
	return memcmp(sn->remotes, n->remotes, sizeof(sn->remotes)) == 0 &&
	       memcmp(&sn->local, &n->local, sizeof(sn->local)) == 0 &&
	       sn->table_count == wg_index_table_count(n->table);
}

static void snap_restore(const struct snapshot *sn, struct fake_host *n)
{
	memcpy(n->remotes, sn->remotes, sizeof(sn->remotes));
	memcpy(&n->local, &sn->local, sizeof(sn->local));
}

/* ---- oracles ---- */

static bool same_range(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
	return memcmp(a + from, b + from, to - from) == 0;
}

/* The genuine initiation for twin x that d equals up to mac2 (what mac1 covers, and mac1). */
static const struct genuine_init *init_by_mac(const struct fake_host *x, const uint8_t *d)
{
	for (size_t i = 0; i < N_INITS; i++)
		if (inits[i].responder == x && same_range(d, inits[i].bytes, 0, FUZZ_MAC2_AT(148)))
			return &inits[i];
	return NULL;
}

/* The genuine initiation for twin x that d equals in every byte Noise authenticates. */
static const struct genuine_init *init_by_noise(const struct fake_host *x, const uint8_t *d)
{
	for (size_t i = 0; i < N_INITS; i++)
		if (inits[i].responder == x && same_range(d, inits[i].bytes, 0, 4) &&
		    same_range(d, inits[i].bytes, INIT_AUTH_FROM, INIT_AUTH_TO))
			return &inits[i];
	return NULL;
}

static const struct genuine_resp *resp_by_mac(const struct fake_host *y, const uint8_t *d)
{
	for (size_t i = 0; i < N_RESPS; i++)
		if (resps[i].initiator == y && same_range(d, resps[i].bytes, 0, FUZZ_MAC2_AT(92)))
			return &resps[i];
	return NULL;
}

static const struct genuine_resp *resp_by_noise(const struct fake_host *y, const uint8_t *d)
{
	for (size_t i = 0; i < N_RESPS; i++)
		if (resps[i].initiator == y && same_range(d, resps[i].bytes, 0, 4) &&
		    same_range(d, resps[i].bytes, RESP_AUTH_FROM, RESP_AUTH_TO))
			return &resps[i];
	return NULL;
}

/* WG_ERR_CRYPTO is documented but means the library failed: never expected from bad input. */
static bool init_result_documented(enum wg_result r)
{
	switch (r) {
	case WG_OK:
	case WG_ERR_INVALID:
	case WG_ERR_STATE:
	case WG_ERR_LOW_ORDER:
	case WG_ERR_AUTH:
	case WG_ERR_UNKNOWN_PEER:
	case WG_ERR_REPLAY:
	case WG_ERR_FLOOD:
		return true;
	default:
		return false;
	}
}

static bool resp_result_documented(enum wg_result r)
{
	switch (r) {
	case WG_OK:
	case WG_ERR_INVALID:
	case WG_ERR_UNKNOWN_PEER:
	case WG_ERR_STATE:
	case WG_ERR_LOW_ORDER:
	case WG_ERR_AUTH:
		return true;
	default:
		return false;
	}
}

/* ---- the target ---- */

static enum wg_result last_init_result[2], last_resp_result[2];

static void feed_initiation(size_t xi, const uint8_t *d, enum wg_message_type type)
{
	struct fake_host *x = responders[xi];
	struct wg_msg_initiation in;
	struct wg_noise_remote *got = NULL;
	const struct genuine_init *g;
	enum wg_cookie_mac_state mac;
	enum wg_result r;

	memcpy(&in, d, sizeof(in));
	mac = wg_cookie_validate(&x->checker, d, sizeof(in), NULL, false, x->now_ns);
	FUZZ_CHECK(mac == WG_COOKIE_MAC_INVALID || mac == WG_COOKIE_MAC_VALID, "mac state %d",
	           (int)mac);
	if (mac == WG_COOKIE_MAC_VALID) {
		FUZZ_CHECK(init_by_mac(x, d) != NULL ||
		               (x == &twin_r && same_range(d, stranger_init, 0, FUZZ_MAC2_AT(148))),
		           "%s: mac1 verified an initiation no sender made", x->name);
		fuzz_outcome("initiation: mac1 valid");
	}

	snap_take(&before, x);
	r = wg_noise_consume_initiation(&x->local, &in, &got);
	last_init_result[xi] = r;
	FUZZ_CHECK(init_result_documented(r), "%s: consume_initiation returned %d (%s)", x->name,
	           (int)r, wg_result_str(r));
	if (type != WG_MSG_HANDSHAKE_INITIATION)
		FUZZ_CHECK(r == WG_ERR_INVALID, "%s: wrong type field, yet %s", x->name,
		           wg_result_str(r));
	if (r != WG_OK) {
		FUZZ_CHECK(got == NULL, "%s: a peer returned with %s", x->name, wg_result_str(r));
		FUZZ_CHECK(snap_same(&before, x), "%s: a refused initiation (%s) changed state",
		           x->name, wg_result_str(r));
		fuzz_outcome(label_init[r]);
		return;
	}

	g = init_by_noise(x, d);
	FUZZ_CHECK(g != NULL, "%s: accepted an initiation that differs from every genuine one",
	           x->name);
	FUZZ_CHECK(got == g->sender, "%s: accepted as the wrong peer", x->name);
	FUZZ_CHECK(got->handshake.state == WG_NOISE_HANDSHAKE_CONSUMED_INITIATION, "state %d",
	           (int)got->handshake.state);
	FUZZ_CHECK(got->handshake.remote_index == le32toh(in.sender_index), "remote index");
	FUZZ_CHECK(memcmp(got->handshake.remote_ephemeral, in.unencrypted_ephemeral, WG_KEY_LEN) ==
	               0,
	           "remote ephemeral");
	FUZZ_CHECK(memcmp(got->latest_timestamp, g->timestamp, WG_TIMESTAMP_LEN) == 0,
	           "latest timestamp is not the message's");
	FUZZ_CHECK(got->has_last_initiation && got->last_initiation_ns == x->now_ns,
	           "initiation time not recorded");

	/* The same again is a replay; another genuine one from the same peer within 20 ms is a
	 * flood if newer, a replay if older. None of them may change anything. */
	snap_take(&after_accept, x);
	r = wg_noise_consume_initiation(&x->local, &in, &got);
	FUZZ_CHECK(r == WG_ERR_REPLAY && got == NULL, "%s: replayed initiation gave %s", x->name,
	           wg_result_str(r));
	FUZZ_CHECK(snap_same(&after_accept, x), "%s: a replay changed state", x->name);
	for (size_t i = 0; i < N_INITS; i++) {
		const struct genuine_init *o = &inits[i];
		if (o == g || o->responder != x || o->sender != g->sender)
			continue;
		enum wg_result want =
		    wg_tai64n_after(o->timestamp, g->timestamp) ? WG_ERR_FLOOD : WG_ERR_REPLAY;
		struct wg_msg_initiation other;
		memcpy(&other, o->bytes, sizeof(other));
		r = wg_noise_consume_initiation(&x->local, &other, &got);
		FUZZ_CHECK(r == want, "%s: second genuine initiation gave %s, want %s", x->name,
		           wg_result_str(r), wg_result_str(want));
		FUZZ_CHECK(snap_same(&after_accept, x), "%s: refused follow-up changed state",
		           x->name);
	}
	snap_restore(&before, x);
	accepted_count++;
	fuzz_outcome(label_init[WG_OK]);
}

static void feed_response(size_t yi, const uint8_t *d, enum wg_message_type type)
{
	struct fake_host *y = initiators[yi];
	struct wg_msg_response in;
	struct wg_noise_remote *got = NULL;
	const struct genuine_resp *g;
	enum wg_cookie_mac_state mac;
	enum wg_result r;

	memcpy(&in, d, sizeof(in));
	mac = wg_cookie_validate(&y->checker, d, sizeof(in), NULL, false, y->now_ns);
	FUZZ_CHECK(mac == WG_COOKIE_MAC_INVALID || mac == WG_COOKIE_MAC_VALID, "mac state %d",
	           (int)mac);
	if (mac == WG_COOKIE_MAC_VALID) {
		FUZZ_CHECK(resp_by_mac(y, d) != NULL, "%s: mac1 verified a response no peer made",
		           y->name);
		fuzz_outcome("response: mac1 valid");
	}

	snap_take(&before, y);
	r = wg_noise_consume_response(&y->local, &in, &got);
	last_resp_result[yi] = r;
	FUZZ_CHECK(resp_result_documented(r), "%s: consume_response returned %d (%s)", y->name,
	           (int)r, wg_result_str(r));
	if (type != WG_MSG_HANDSHAKE_RESPONSE)
		FUZZ_CHECK(r == WG_ERR_INVALID, "%s: wrong type field, yet %s", y->name,
		           wg_result_str(r));
	if (r != WG_OK) {
		FUZZ_CHECK(got == NULL, "%s: a peer returned with %s", y->name, wg_result_str(r));
		FUZZ_CHECK(snap_same(&before, y), "%s: a refused response (%s) changed state",
		           y->name, wg_result_str(r));
		fuzz_outcome(label_resp[r]);
		return;
	}

	g = resp_by_noise(y, d);
	FUZZ_CHECK(g != NULL, "%s: accepted a response that differs from every genuine one",
	           y->name);
	FUZZ_CHECK(got == g->sender, "%s: accepted for the wrong peer", y->name);
	FUZZ_CHECK(got->handshake.state == WG_NOISE_HANDSHAKE_CONSUMED_RESPONSE, "state %d",
	           (int)got->handshake.state);
	FUZZ_CHECK(got->handshake.remote_index == le32toh(in.sender_index), "remote index");
	FUZZ_CHECK(wg_is_zero(got->handshake.ephemeral_private, WG_KEY_LEN),
	           "ephemeral private key kept after the response");

	snap_take(&after_accept, y);
	r = wg_noise_consume_response(&y->local, &in, &got);
	FUZZ_CHECK(r == WG_ERR_STATE && got == NULL, "%s: second response gave %s", y->name,
	           wg_result_str(r));
	FUZZ_CHECK(snap_same(&after_accept, y), "%s: a repeated response changed state", y->name);
	snap_restore(&before, y);
	accepted_count++;
	fuzz_outcome(label_resp[WG_OK]);
}

int fuzz_one(const uint8_t *data, size_t len)
{
	enum wg_message_type type = wg_transport_classify(data, len);

	FUZZ_CHECK(type == fuzz_expected_type(data, len), "classify said %d, the bytes say %d",
	           (int)type, (int)fuzz_expected_type(data, len));
	if (len == sizeof(struct wg_msg_initiation)) {
		for (size_t i = 0; i < 2; i++)
			feed_initiation(i, data, type);
	} else if (len == sizeof(struct wg_msg_response)) {
		for (size_t i = 0; i < 2; i++)
			feed_response(i, data, type);
	} else {
		fuzz_outcome(type == WG_MSG_INVALID ? "other length: invalid"
		                                    : "other length: cookie or data");
	}
	return 0;
}

/* ---- setup ---- */

/* X25519 points of small order (RFC 7748 section 7 and libsodium's list), little-endian. */
static const uint8_t low_order_points[][WG_KEY_LEN] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
     0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
     0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    /* p and p + 1: 0 and 1 once reduced */
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};
#define N_LOW_ORDER (sizeof(low_order_points) / sizeof(low_order_points[0]))

static int build_world(void)
{
	static const char *const names[] = {"I", "J", "K", "R", "S", "R-twin", "S-twin"};
	static const uint64_t key_seeds[] = {11, 12, 15, 13, 14, 13, 14}; /* twins share keys */
	struct wg_msg_initiation m;

	for (size_t i = 0; i < sizeof(all_nodes) / sizeof(all_nodes[0]); i++)
		if (node_init(all_nodes[i], names[i], key_seeds[i]) != 0)
			return -1;
	if (!node_add(&node_i, &node_r) || !node_add(&node_i, &node_s) ||
	    !node_add(&node_j, &node_r) || !node_add(&node_r, &node_i) ||
	    !node_add(&node_r, &node_j) || !node_add(&node_s, &node_i) ||
	    !node_add(&twin_r, &node_i) || !node_add(&twin_r, &node_j) ||
	    !node_add(&twin_s, &node_i) || !node_add(&node_k, &node_r))
		return -1;
	if (fake_host_initiation(&node_k, &node_k.remotes[0], &m) != WG_OK)
		return -1;
	memcpy(stranger_init, &m, sizeof(m));

	if (make_init(&inits[G_I1A], &node_i, &node_r, &twin_r) != 0)
		return -1;
	fake_host_tick(&node_i, 5 * WG_NSEC_PER_MSEC);
	if (make_init(&inits[G_I1B], &node_i, &node_r, &twin_r) != 0 ||
	    make_init(&inits[G_J1], &node_j, &node_r, &twin_r) != 0 ||
	    make_init(&inits[G_I2], &node_i, &node_s, &twin_s) != 0)
		return -1;
	if (make_resp(&resps[G_R_TO_I], &node_r, &inits[G_I1B], &node_i) != 0 ||
	    make_resp(&resps[G_R_TO_J], &node_r, &inits[G_J1], &node_j) != 0 ||
	    make_resp(&resps[G_S_TO_I], &node_s, &inits[G_I2], &node_i) != 0)
		return -1;
	return 0;
}

static void add_seeds_and_tokens(void)
{
	static const char *const init_names[] = {"init-i-r", "init-i-r-newer", "init-j-r",
	                                         "init-i-s"};
	static const char *const resp_names[] = {"resp-r-i", "resp-s-i", "resp-r-j"};
	struct wg_msg_cookie reply;
	struct wg_endpoint src = {.family = 4, .port = 51820, .addr = {192, 0, 2, 1}};

	for (size_t i = 0; i < N_INITS; i++) {
		fuzz_seed_add(init_names[i], inits[i].bytes, sizeof(inits[i].bytes));
		fuzz_token_add(inits[i].bytes + 4, 4); /* sender index */
	}
	for (size_t i = 0; i < N_RESPS; i++) {
		fuzz_seed_add(resp_names[i], resps[i].bytes, sizeof(resps[i].bytes));
		fuzz_token_add(resps[i].bytes + 4, 8); /* sender and receiver index */
	}
	fuzz_seed_add("init-stranger", stranger_init, sizeof(stranger_init));
	if (wg_cookie_reply_create(&node_r.checker, &reply, inits[G_I1A].bytes, 148, &src,
	                           node_r.now_ns) == WG_OK)
		fuzz_seed_add("cookie-reply", &reply, sizeof(reply));
	for (size_t i = 0; i < N_LOW_ORDER; i++)
		fuzz_token_add(low_order_points[i], WG_KEY_LEN);
	for (uint8_t t = 0; t <= 5; t++) {
		uint8_t type[4] = {t, 0, 0, 0};
		fuzz_token_add(type, sizeof(type));
	}
	fuzz_set_max_len(256);
}

/* Each genuine message is accepted by exactly one node; a low-order ephemeral is named. */
static void self_check(void)
{
	uint8_t buf[sizeof(struct wg_msg_initiation)];

	for (size_t i = 0; i < N_INITS; i++) {
		uint64_t n = accepted_count;
		fuzz_one(inits[i].bytes, sizeof(inits[i].bytes));
		FUZZ_CHECK(accepted_count == n + 1, "genuine initiation %zu not accepted once", i);
	}
	for (size_t i = 0; i < N_RESPS; i++) {
		uint64_t n = accepted_count;
		fuzz_one(resps[i].bytes, sizeof(resps[i].bytes));
		FUZZ_CHECK(accepted_count == n + 1, "genuine response %zu not accepted once", i);
	}
	fuzz_one(stranger_init, sizeof(stranger_init));
	FUZZ_CHECK(last_init_result[0] == WG_ERR_UNKNOWN_PEER, "stranger's initiation gave %s",
	           wg_result_str(last_init_result[0]));
	for (size_t i = 0; i < N_LOW_ORDER; i++) {
		memcpy(buf, inits[G_I1A].bytes, 148);
		memcpy(buf + offsetof(struct wg_msg_initiation, unencrypted_ephemeral),
		       low_order_points[i], WG_KEY_LEN);
		fuzz_one(buf, 148);
		FUZZ_CHECK(last_init_result[0] == WG_ERR_LOW_ORDER,
		           "low-order ephemeral %zu in an initiation gave %s", i,
		           wg_result_str(last_init_result[0]));
		memcpy(buf, resps[G_R_TO_I].bytes, 92);
		memcpy(buf + offsetof(struct wg_msg_response, unencrypted_ephemeral),
		       low_order_points[i], WG_KEY_LEN);
		fuzz_one(buf, 92);
		FUZZ_CHECK(last_resp_result[0] == WG_ERR_LOW_ORDER,
		           "low-order ephemeral %zu in a response gave %s", i,
		           wg_result_str(last_resp_result[0]));
	}
}

int fuzz_init(void)
{
	fuzz_result_labels(label_init, "initiation");
	fuzz_result_labels(label_resp, "response");
	atexit(cleanup);
	if (build_world() != 0) {
		fprintf(stderr, "fuzz_wg_messages: handshake setup failed\n");
		return -1;
	}
	add_seeds_and_tokens();
	self_check();
	return 0;
}
