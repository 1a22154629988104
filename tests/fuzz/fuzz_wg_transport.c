// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: data messages (wg/transport.h wg_transport_classify, wg_transport_open,
 * wg_transport_inner_len) against two nodes that ran a real handshake: I (initiator, current
 * keypair) and R (responder, keypair still unconfirmed in next). The seeds are data messages
 * both sides sealed under the genuine keypairs: keepalives, IPv4 and IPv6 packets, odd sizes,
 * a counter far ahead, and counters at and past WG_REJECT_AFTER_MESSAGES sealed by hand with
 * the real send key (authentic, yet never to be accepted).
 *
 * Invariants per input, for each node:
 *  - classify agrees with an independent reading of the type field and length, and open says
 *    WG_ERR_INVALID whenever classify says it is not a data message;
 *  - open returns one of its documented results; a rejected message leaves every keypair
 *    (replay window, counters) byte-identical, gives no keypair, and leaves the plaintext
 *    buffer either untouched or zeroed: no unauthenticated byte escapes;
 *  - a message that authenticates (WG_OK or WG_ERR_REPLAY) is byte-identical to a genuine one
 *    for this node, with that one's expected result, keypair and plaintext; then it is a
 *    replay on the second try, stays a replay after the window slides past it, opens in place
 *    too, and gives WG_OK_REKEY only to the initiator late in the keypair's life;
 *  - with the keypair past WG_REJECT_AFTER_TIME nothing is accepted and nothing changes.
 * inner_len is fuzzed on the raw input as if it were a decrypted payload.
 */
#include <endian.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define MAX_GENUINE  16
#define MAX_PLAIN    1500
#define FAR_COUNTER  (1ULL << 20)
#define FILL_BYTE    0xa5
#define SENTINEL_LEN ((size_t)0x5a5a5a5a)

struct genuine {
	uint8_t bytes[WG_DATA_OVERHEAD + MAX_PLAIN];
	size_t len;
	uint8_t plain[MAX_PLAIN]; /* padded, as open returns it */
	size_t plain_len;
	struct fake_host *opener;
	struct wg_noise_keypair *kp; /* the opener's */
	enum wg_result want;         /* WG_OK, or WG_ERR_REPLAY for a counter past the limit */
	uint64_t counter;
};

static struct fake_host node_i, node_r;
static struct fake_host *const nodes[] = {&node_i, &node_r};
static struct genuine genuine[MAX_GENUINE];
static size_t n_genuine;
static const struct genuine *far[2]; /* per opener: the message with FAR_COUNTER */
static uint64_t birth_ns;
static uint64_t accepted_count;

/* Copies of both keypairs, to prove a refusal changed nothing and to undo an acceptance. */
static struct wg_noise_keypair kp_before[2], kp_after[2];

static char label_open[WG_RESULT_COUNT][FUZZ_LABEL_LEN],
    label_late[WG_RESULT_COUNT][FUZZ_LABEL_LEN];

/* ---- nodes ---- */

/* The ephemerals come from a stream apart from the key's. */
static int node_init(struct fake_host *n, const char *name, uint64_t key_seed)
{
	if (fake_host_init(n, name, key_seed) != WG_OK)
		return -1;
	n->rng = key_seed ^ 0x7a7a;
	return 0;
}

static void cleanup(void)
{
	for (size_t i = 0; i < 2; i++)
		fake_host_destroy(nodes[i]);
	wg_memzero(kp_before, sizeof(kp_before));
	wg_memzero(kp_after, sizeof(kp_after));
	wg_memzero(genuine, sizeof(genuine));
}

/* The keypair a node opens with: the initiator's current, the responder's unconfirmed next. */
static struct wg_noise_keypair *node_kp(const struct fake_host *n)
{
	return n == &node_i ? wg_noise_keypair_current(&n->remotes[0])
	                    : wg_noise_keypair_next(&n->remotes[0]);
}

static int handshake(void)
{
	if (node_init(&node_i, "I", 21) != 0 || node_init(&node_r, "R", 22) != 0 ||
	    fake_host_add(&node_i, node_r.local.static_public, NULL) != WG_OK ||
	    fake_host_add(&node_r, node_i.local.static_public, NULL) != WG_OK ||
	    fake_host_handshake(&node_i, &node_i.remotes[0], &node_r) != WG_OK)
		return -1;
	birth_ns = node_i.now_ns;
	return node_kp(&node_i) && node_kp(&node_r) ? 0 : -1;
}

/* ---- genuine messages ---- */

/* sender seals plain (len bytes) for the other node; counter NULL: the next one. */
static int seal(struct fake_host *sender, const uint8_t *plain, size_t len, const uint64_t *counter)
{
	struct genuine *g = &genuine[n_genuine];
	struct wg_noise_keypair *kp = node_kp(sender);
	struct fake_host *opener = sender == &node_i ? &node_r : &node_i;
	enum wg_result r;

	if (n_genuine >= MAX_GENUINE || len > MAX_PLAIN - WG_PADDING_MULTIPLE)
		return -1;
	if (counter)
		atomic_store(&kp->send_counter, *counter);
	g->counter = atomic_load(&kp->send_counter);
	r = wg_transport_seal(kp, plain, len, 0, g->bytes, sizeof(g->bytes), &g->len, NULL,
	                      sender->now_ns);
	if (r != WG_OK)
		return -1;
	g->plain_len = g->len - WG_DATA_OVERHEAD;
	memcpy(g->plain, plain, len);
	memset(g->plain + len, 0, g->plain_len - len);
	g->opener = opener;
	g->kp = node_kp(opener);
	g->want = WG_OK;
	n_genuine++;
	return 0;
}

/*
 * An authentic message with a counter seal refuses to produce (at or past
 * WG_REJECT_AFTER_MESSAGES), built with the sender's real key: open must call it a replay.
 */
static int seal_beyond_limit(struct fake_host *sender, uint64_t counter)
{
	struct genuine *g = &genuine[n_genuine];
	struct wg_noise_keypair *kp = node_kp(sender);
	struct fake_host *opener = sender == &node_i ? &node_r : &node_i;
	struct wg_msg_data hdr = {
	    .header.type = htole32(WG_MSG_DATA),
	    .key_idx = htole32(kp->remote_index),
	    .counter = htole64(counter),
	};
	uint8_t zeros[WG_PADDING_MULTIPLE] = {0};

	if (n_genuine >= MAX_GENUINE)
		return -1;
	memcpy(g->bytes, &hdr, sizeof(hdr));
	if (wg_aead_seal(g->bytes + sizeof(hdr), zeros, sizeof(zeros), NULL, 0, counter,
	                 kp->send_key) != WG_OK)
		return -1;
	g->len = sizeof(hdr) + sizeof(zeros) + WG_AEAD_TAG_LEN;
	g->plain_len = sizeof(zeros);
	memset(g->plain, 0, sizeof(zeros));
	g->opener = opener;
	g->kp = node_kp(opener);
	g->want = WG_ERR_REPLAY;
	g->counter = counter;
	n_genuine++;
	return 0;
}

/* An IPv4 (version 4) or IPv6 (version 6) packet of total length len with a filler payload. */
static void ip_packet(uint8_t *p, size_t len, int version)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	if (version == 4) {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
	} else {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
	}
}

static int make_genuine(void)
{
	uint8_t p[MAX_PLAIN] = {0};
	uint64_t c;

	/* I to R: keepalive, small and MTU-sized IPv4, IPv6, a byte of junk, a jump ahead. */
	if (seal(&node_i, p, 0, NULL) != 0)
		return -1;
	ip_packet(p, 60, 4);
	if (seal(&node_i, p, 60, NULL) != 0)
		return -1;
	ip_packet(p, 1420, 4);
	if (seal(&node_i, p, 1420, NULL) != 0)
		return -1;
	ip_packet(p, 81, 6);
	if (seal(&node_i, p, 81, NULL) != 0)
		return -1;
	p[0] = 0x99;
	if (seal(&node_i, p, 1, NULL) != 0)
		return -1;
	c = 5000;
	ip_packet(p, 40, 6);
	if (seal(&node_i, p, 40, &c) != 0)
		return -1;
	c = FAR_COUNTER;
	if (seal(&node_i, p, 40, &c) != 0)
		return -1;
	far[1] = &genuine[n_genuine - 1]; /* opened by R */
	/* R to I, under the keypair R has not yet seen confirmed. */
	if (seal(&node_r, p, 0, NULL) != 0)
		return -1;
	ip_packet(p, 100, 4);
	if (seal(&node_r, p, 100, NULL) != 0)
		return -1;
	c = FAR_COUNTER;
	if (seal(&node_r, p, 100, &c) != 0)
		return -1;
	far[0] = &genuine[n_genuine - 1]; /* opened by I */
	/* Authentic, but counters no sender may use. */
	if (seal_beyond_limit(&node_i, WG_REJECT_AFTER_MESSAGES) != 0 ||
	    seal_beyond_limit(&node_i, UINT64_MAX) != 0 ||
	    seal_beyond_limit(&node_r, WG_REJECT_AFTER_MESSAGES + 1) != 0)
		return -1;
	return 0;
}

/* ---- oracles ---- */

static const struct genuine *find_genuine(const struct fake_host *x, const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < n_genuine; i++)
		if (genuine[i].opener == x && genuine[i].len == len &&
		    memcmp(genuine[i].bytes, d, len) == 0)
			return &genuine[i];
	return NULL;
}

static bool open_result_documented(enum wg_result r)
{
	switch (r) {
	case WG_OK:
	case WG_OK_REKEY:
	case WG_ERR_INVALID:
	case WG_ERR_UNKNOWN_PEER:
	case WG_ERR_EXPIRED:
	case WG_ERR_AUTH:
	case WG_ERR_REPLAY:
		return true;
	default:
		return false;
	}
}

static void kp_snap(struct wg_noise_keypair snap[2])
{
	for (size_t i = 0; i < 2; i++)
		memcpy(&snap[i], node_kp(nodes[i]), sizeof(snap[i]));
}

static bool kp_same(const struct wg_noise_keypair snap[2])
{
	for (size_t i = 0; i < 2; i++)
		if (memcmp(&snap[i], node_kp(nodes[i]), sizeof(snap[i])) != 0)
			return false;
	return true;
}

static void kp_restore(const struct wg_noise_keypair snap[2])
{
	for (size_t i = 0; i < 2; i++)
		memcpy(node_kp(nodes[i]), &snap[i], sizeof(snap[i]));
}

/* ---- the target ---- */

static void check_inner_len(const uint8_t *d, size_t len)
{
	size_t inner = SENTINEL_LEN;
	enum wg_result r = wg_transport_inner_len(d, len, &inner);

	FUZZ_CHECK(r == WG_OK || r == WG_ERR_INVALID, "inner_len returned %s", wg_result_str(r));
	if (r != WG_OK) {
		FUZZ_CHECK(inner == 0, "inner_len set %zu on error", inner);
		fuzz_outcome("inner_len: invalid");
		return;
	}
	FUZZ_CHECK(inner <= len, "inner length %zu beyond the %zu bytes", inner, len);
	if (len == 0) {
		FUZZ_CHECK(inner == 0, "keepalive");
	} else if (d[0] >> 4 == 4) {
		FUZZ_CHECK(len >= 20 && inner >= 20 && inner >= (size_t)(d[0] & 15) * 4 &&
		               inner == ((size_t)d[2] << 8 | d[3]),
		           "IPv4 inner length %zu", inner);
	} else {
		FUZZ_CHECK(d[0] >> 4 == 6 && len >= 40 && inner == 40 + ((size_t)d[4] << 8 | d[5]),
		           "IPv6 inner length %zu", inner);
	}
	fuzz_outcome("inner_len: ok");
}

/* Opens d on x; returns the result after checking everything a refusal must not do. */
static enum wg_result open_checked(struct fake_host *x, const uint8_t *d, size_t len,
                                   uint8_t *plain, uint64_t now, struct wg_noise_keypair **kp,
                                   size_t *plain_len)
{
	size_t cap = len >= WG_DATA_OVERHEAD ? len - WG_DATA_OVERHEAD : 0;
	enum wg_result r;

	memset(plain, FILL_BYTE, cap);
	*plain_len = SENTINEL_LEN;
	*kp = &kp_after[0]; /* any non-NULL value: open must overwrite it */
	r = wg_transport_open(&x->local, d, len, plain, plain_len, kp, NULL, now);
	FUZZ_CHECK(open_result_documented(r), "%s: open returned %d (%s)", x->name, (int)r,
	           wg_result_str(r));
	if (r != WG_OK && r != WG_OK_REKEY) {
		FUZZ_CHECK(*kp == NULL, "%s: a keypair returned with %s", x->name,
		           wg_result_str(r));
		FUZZ_CHECK(*plain_len == SENTINEL_LEN, "%s: plain_len set on %s", x->name,
		           wg_result_str(r));
		FUZZ_CHECK(fuzz_all_bytes(plain, cap, FILL_BYTE) || fuzz_all_bytes(plain, cap, 0),
		           "%s: plaintext bytes escaped a refusal (%s)", x->name, wg_result_str(r));
	}
	return r;
}

/* The follow-ups for an accepted genuine message g, all undone before returning. */
static void after_accept(struct fake_host *x, const struct genuine *g, const uint8_t *d, size_t len,
                         uint8_t *plain)
{
	struct wg_noise_keypair *kp;
	size_t plain_len;
	uint8_t *copy = malloc(len);
	enum wg_result r;

	FUZZ_CHECK(copy != NULL, "out of memory");
	kp_snap(kp_after);
	r = open_checked(x, d, len, plain, birth_ns + WG_NSEC_PER_SEC, &kp, &plain_len);
	FUZZ_CHECK(r == WG_ERR_REPLAY, "%s: second open gave %s", x->name, wg_result_str(r));
	FUZZ_CHECK(kp_same(kp_after), "%s: a replay changed a keypair", x->name);

	/* Slide the window far past the message: it stays refused. */
	const struct genuine *f = far[x == &node_i ? 0 : 1];
	if (f != g && g->counter + WG_REPLAY_WINDOW_SIZE < f->counter) {
		uint8_t *fplain = malloc(f->len - WG_DATA_OVERHEAD);
		FUZZ_CHECK(fplain != NULL, "out of memory");
		r = open_checked(x, f->bytes, f->len, fplain, birth_ns + WG_NSEC_PER_SEC, &kp,
		                 &plain_len);
		FUZZ_CHECK(r == WG_OK, "%s: far message gave %s", x->name, wg_result_str(r));
		free(fplain);
		kp_snap(kp_after);
		r = open_checked(x, d, len, plain, birth_ns + WG_NSEC_PER_SEC, &kp, &plain_len);
		FUZZ_CHECK(r == WG_ERR_REPLAY, "%s: message left of the window gave %s", x->name,
		           wg_result_str(r));
		FUZZ_CHECK(kp_same(kp_after), "%s: an old counter changed a keypair", x->name);
	}
	kp_restore(kp_before);

	/* In place, as the data path does it. */
	memcpy(copy, d, len);
	r = wg_transport_open(&x->local, copy, len, copy + sizeof(struct wg_msg_data), &plain_len,
	                      &kp, NULL, birth_ns + WG_NSEC_PER_SEC);
	FUZZ_CHECK(r == WG_OK && plain_len == g->plain_len &&
	               memcmp(copy + sizeof(struct wg_msg_data), g->plain, g->plain_len) == 0,
	           "%s: in-place open gave %s", x->name, wg_result_str(r));
	kp_restore(kp_before);
	free(copy);

	/* Late in the keypair's life only the initiator is told to rekey. */
	uint64_t late =
	    birth_ns + (WG_REJECT_AFTER_TIME_S - WG_KEEPALIVE_TIMEOUT_S - WG_REKEY_TIMEOUT_S + 1) *
	                   WG_NSEC_PER_SEC;
	enum wg_result want = g->kp->is_initiator ? WG_OK_REKEY : WG_OK;
	r = open_checked(x, d, len, plain, late, &kp, &plain_len);
	FUZZ_CHECK(r == want, "%s: late open gave %s, want %s", x->name, wg_result_str(r),
	           wg_result_str(want));
	kp_restore(kp_before);
}

static void feed(struct fake_host *x, const uint8_t *d, size_t len, enum wg_message_type type)
{
	size_t cap = len >= WG_DATA_OVERHEAD ? len - WG_DATA_OVERHEAD : 0, plain_len;
	/* Exactly the room open may use, on the heap, so an overrun is caught. */
	uint8_t *plain = malloc(cap ? cap : 1);
	struct wg_noise_keypair *kp;
	const struct genuine *g;
	enum wg_result r;

	FUZZ_CHECK(plain != NULL, "out of memory");
	kp_snap(kp_before);
	r = open_checked(x, d, len, plain, birth_ns + WG_NSEC_PER_SEC, &kp, &plain_len);
	if (type != WG_MSG_DATA)
		FUZZ_CHECK(r == WG_ERR_INVALID, "%s: not a data message, yet %s", x->name,
		           wg_result_str(r));
	FUZZ_CHECK(r != WG_ERR_EXPIRED && r != WG_OK_REKEY, "%s: young keypair gave %s", x->name,
	           wg_result_str(r));
	if (r != WG_OK && r != WG_ERR_REPLAY) {
		FUZZ_CHECK(kp_same(kp_before), "%s: a refused message (%s) changed a keypair",
		           x->name, wg_result_str(r));
		fuzz_outcome(label_open[r]);
		goto late;
	}
	/* Only an authentic message gets this far. */
	g = find_genuine(x, d, len);
	FUZZ_CHECK(g != NULL, "%s: %s for a message no peer sealed", x->name, wg_result_str(r));
	FUZZ_CHECK(r == g->want, "%s: genuine message gave %s, want %s", x->name, wg_result_str(r),
	           wg_result_str(g->want));
	if (r == WG_ERR_REPLAY) {
		FUZZ_CHECK(kp_same(kp_before), "%s: a counter past the limit changed a keypair",
		           x->name);
		fuzz_outcome("open: authentic, counter past the limit");
		goto late;
	}
	FUZZ_CHECK(kp == g->kp, "%s: wrong keypair", x->name);
	FUZZ_CHECK(plain_len == g->plain_len && memcmp(plain, g->plain, plain_len) == 0,
	           "%s: plaintext differs from what was sealed", x->name);
	after_accept(x, g, d, len, plain);
	accepted_count++;
	fuzz_outcome(label_open[WG_OK]);
late:
	/* Past REJECT_AFTER_TIME: nothing opens, nothing changes. */
	kp_snap(kp_before);
	r = open_checked(x, d, len, plain, birth_ns + WG_REJECT_AFTER_TIME_S * WG_NSEC_PER_SEC, &kp,
	                 &plain_len);
	FUZZ_CHECK(r == WG_ERR_INVALID || r == WG_ERR_UNKNOWN_PEER || r == WG_ERR_EXPIRED,
	           "%s: expired keypair gave %s", x->name, wg_result_str(r));
	FUZZ_CHECK(kp_same(kp_before), "%s: refusal on an expired keypair changed it", x->name);
	fuzz_outcome(label_late[r]);
	free(plain);
}

int fuzz_one(const uint8_t *data, size_t len)
{
	enum wg_message_type type = wg_transport_classify(data, len);

	FUZZ_CHECK(type == fuzz_expected_type(data, len), "classify said %d, the bytes say %d",
	           (int)type, (int)fuzz_expected_type(data, len));
	check_inner_len(data, len);
	for (size_t i = 0; i < 2; i++)
		feed(nodes[i], data, len, type);
	return 0;
}

/* ---- setup ---- */

int fuzz_init(void)
{
	fuzz_result_labels(label_open, "open");
	fuzz_result_labels(label_late, "open, keypair expired");
	atexit(cleanup);
	if (handshake() != 0 || make_genuine() != 0) {
		fprintf(stderr, "fuzz_wg_transport: handshake or sealing failed\n");
		return -1;
	}
	for (size_t i = 0; i < n_genuine; i++) {
		char name[32];
		snprintf(name, sizeof(name), "data-%zu-%s", i, genuine[i].opener->name);
		fuzz_seed_add(name, genuine[i].bytes, genuine[i].len);
		fuzz_token_add(genuine[i].bytes + 4, 4); /* receiver index */
	}
	fuzz_set_max_len(2048);

	/* Every genuine message meets its expected result exactly once. */
	for (size_t i = 0; i < n_genuine; i++) {
		uint64_t n = accepted_count;
		fuzz_one(genuine[i].bytes, genuine[i].len);
		FUZZ_CHECK(accepted_count == n + (genuine[i].want == WG_OK),
		           "genuine message %zu: accepted %llu times", i,
		           (unsigned long long)(accepted_count - n));
	}
	return 0;
}
