// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: the DoS cookie layer (wg/cookie.h wg_cookie_validate on the responder side,
 * wg_cookie_consume_reply on the initiator side). A real checker (the responder's) and real
 * makers (the initiator's, for the same public key) exchange genuine messages at setup: a
 * handshake initiation and response with mac1, the same with mac2 after a cookie reply for
 * source A, and two cookie replies to the initiation (for sources A and B, fresh nonces). Those
 * are the seeds; a maker that has sent the initiation and waits for a reply takes the replies.
 *
 * Invariants per input:
 *  - validate gives only the states its mode allows; mac1 valid without load exactly when some
 *    state is valid under load; a verified mac1 or mac2 means the bytes are a genuine message's
 *    (up to mac2, or whole); the checker never changes at a fixed time;
 *  - an attacker who knows the public key recomputes mac1: any handshake-shaped input then
 *    passes mac1, needs a cookie under load unless it is genuine, and completes the full round
 *    (cookie reply, consume, mac2) to be accepted with a cookie from its own source only;
 *  - consume_reply says WG_ERR_INVALID exactly for what is not a 64-byte type-3 message,
 *    accepts only a genuine reply byte for byte, and changes nothing when it refuses; an
 *    accepted reply is not accepted twice; once the checker's secret is older than two
 *    minutes a genuine mac2 no longer counts.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "crypto.h"
#include "fuzz_driver.h"
#include "fuzz_oracles.h"
#include "messages.h"
#include "result.h"
#include "test_rng.h"

#define INIT_LEN     sizeof(struct wg_msg_initiation)
#define RESP_LEN     sizeof(struct wg_msg_response)
#define MAC1_AT(len) ((len) - sizeof(struct wg_msg_macs))

struct message {
	uint8_t bytes[INIT_LEN];
	size_t len;
};

static const struct wg_endpoint src_a = {.family = 4, .port = 51820, .addr = {192, 0, 2, 1}};
static const struct wg_endpoint src_b = {
    .family = 6, .port = 443, .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};

static uint64_t rng_checker = 41, rng_body = 42;
static const uint64_t now_ns = 3000 * 1000000000ULL;

static struct wg_cookie_checker checker, checker_before;
/* waiting: sent msgs[M_INIT] and waits for its reply; fresh: has sent nothing. */
static struct wg_cookie_maker waiting, waiting_after, fresh;

enum { M_INIT, M_RESP, M_INIT_COOKIE, M_RESP_COOKIE, N_MSGS };
static struct message msgs[N_MSGS];
static struct wg_msg_cookie replies[2];
static uint64_t accepted_replies;

/* ---- oracles ---- */

static bool handshake_shaped(const uint8_t *d, size_t len)
{
	return len >= 4 && ((len == INIT_LEN && fuzz_le32(d) == WG_MSG_HANDSHAKE_INITIATION) ||
	                    (len == RESP_LEN && fuzz_le32(d) == WG_MSG_HANDSHAKE_RESPONSE));
}

/* A genuine message equal to d up to (without) mac2, or whole. */
static bool genuine_msg(const uint8_t *d, size_t len, bool whole, bool with_cookie_only)
{
	for (size_t i = 0; i < N_MSGS; i++) {
		if (with_cookie_only && i != M_INIT_COOKIE && i != M_RESP_COOKIE)
			continue;
		if (msgs[i].len == len &&
		    memcmp(msgs[i].bytes, d, whole ? len : FUZZ_MAC2_AT(len)) == 0)
			return true;
	}
	return false;
}

static bool genuine_reply(const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < 2; i++)
		if (len == sizeof(replies[i]) && memcmp(&replies[i], d, len) == 0)
			return true;
	return false;
}

/* ---- the target ---- */

static void check_validate(const uint8_t *d, size_t len)
{
	enum wg_cookie_mac_state plain, load_a, load_b;

	memcpy(&checker_before, &checker, sizeof(checker));
	plain = wg_cookie_validate(&checker, d, len, NULL, false, now_ns);
	load_a = wg_cookie_validate(&checker, d, len, &src_a, true, now_ns);
	load_b = wg_cookie_validate(&checker, d, len, &src_b, true, now_ns);
	FUZZ_CHECK(plain == WG_COOKIE_MAC_INVALID || plain == WG_COOKIE_MAC_VALID,
	           "without load: %s", wg_cookie_mac_state_str(plain));
	FUZZ_CHECK(load_a != WG_COOKIE_MAC_VALID && load_b != WG_COOKIE_MAC_VALID,
	           "under load, mac2 was not judged");
	FUZZ_CHECK((plain == WG_COOKIE_MAC_VALID) == (load_a != WG_COOKIE_MAC_INVALID) &&
	               (plain == WG_COOKIE_MAC_VALID) == (load_b != WG_COOKIE_MAC_INVALID),
	           "mac1 judged differently under load: %s / %s / %s",
	           wg_cookie_mac_state_str(plain), wg_cookie_mac_state_str(load_a),
	           wg_cookie_mac_state_str(load_b));
	FUZZ_CHECK(memcmp(&checker_before, &checker, sizeof(checker)) == 0,
	           "validate changed the checker");
	if (plain == WG_COOKIE_MAC_VALID) {
		FUZZ_CHECK(handshake_shaped(d, len) && genuine_msg(d, len, false, false),
		           "mac1 verified on a message no initiator made");
		fuzz_outcome("validate: mac1 valid");
	} else {
		fuzz_outcome("validate: mac1 invalid");
	}
	if (load_a == WG_COOKIE_MAC_VALID_WITH_COOKIE) {
		FUZZ_CHECK(genuine_msg(d, len, true, true), "mac2 verified on a forged message");
		fuzz_outcome("validate: mac2 valid");
	}
	FUZZ_CHECK(load_b != WG_COOKIE_MAC_VALID_WITH_COOKIE,
	           "a cookie for source A passed for source B");

	/* The secret is renewed after two minutes: yesterday's mac2 stops counting. */
	if (load_a == WG_COOKIE_MAC_VALID_WITH_COOKIE) {
		enum wg_cookie_mac_state later =
		    wg_cookie_validate(&checker, d, len, &src_a, true,
		                       now_ns + (WG_COOKIE_SECRET_MAX_AGE_S + 1) * WG_NSEC_PER_SEC);
		FUZZ_CHECK(later == WG_COOKIE_NEEDS_COOKIE, "mac2 after the secret rotated: %s",
		           wg_cookie_mac_state_str(later));
		memcpy(&checker, &checker_before, sizeof(checker));
	}
}

/* Equal but for the cookie-reply nonce pool, which each reply draws from. */
static bool same_but_nonces(const struct wg_cookie_checker *a, const struct wg_cookie_checker *b)
{
	static struct wg_cookie_checker x, y;
	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	memset(x.nonces, 0, sizeof(x.nonces));
	memset(y.nonces, 0, sizeof(y.nonces));
	x.nonces_left = y.nonces_left = 0;
	bool same = memcmp(&x, &y, sizeof(x)) == 0;
	wg_cookie_checker_clear(&x);
	wg_cookie_checker_clear(&y);
	return same;
}

/* What anyone holding the responder's public key can do: fix mac1, then ask for a cookie. */
static void check_attacker_round(const uint8_t *d, size_t len)
{
	uint8_t m[INIT_LEN];
	struct wg_cookie_maker maker;
	struct wg_msg_cookie reply;
	enum wg_cookie_mac_state st;
	enum wg_result r;

	if (!handshake_shaped(d, len))
		return;
	memcpy(m, d, len);
	r = wg_blake2s_keyed(m + MAC1_AT(len), WG_COOKIE_LEN, fresh.mac1_key,
	                     sizeof(fresh.mac1_key), m, MAC1_AT(len));
	FUZZ_CHECK(r == WG_OK, "blake2s");
	st = wg_cookie_validate(&checker, m, len, NULL, false, now_ns);
	FUZZ_CHECK(st == WG_COOKIE_MAC_VALID, "a correct mac1 was refused: %s",
	           wg_cookie_mac_state_str(st));
	st = wg_cookie_validate(&checker, m, len, &src_a, true, now_ns);
	FUZZ_CHECK(st == (genuine_msg(m, len, true, true) ? WG_COOKIE_MAC_VALID_WITH_COOKIE
	                                                  : WG_COOKIE_NEEDS_COOKIE),
	           "under load with a fixed mac1: %s", wg_cookie_mac_state_str(st));

	memcpy(&maker, &fresh, sizeof(maker));
	FUZZ_CHECK(wg_cookie_add_macs(&maker, m, len, now_ns) == WG_OK, "add_macs");
	FUZZ_CHECK(wg_cookie_reply_create(&checker, &reply, m, len, &src_a, now_ns) == WG_OK,
	           "no cookie reply for a message with a valid mac1");
	r = wg_cookie_consume_reply(&maker, &reply, sizeof(reply), now_ns);
	FUZZ_CHECK(r == WG_OK, "the maker refused the checker's reply: %s", wg_result_str(r));
	FUZZ_CHECK(wg_cookie_add_macs(&maker, m, len, now_ns) == WG_OK, "add_macs with cookie");
	st = wg_cookie_validate(&checker, m, len, &src_a, true, now_ns);
	FUZZ_CHECK(st == WG_COOKIE_MAC_VALID_WITH_COOKIE, "round trip ended in %s",
	           wg_cookie_mac_state_str(st));
	st = wg_cookie_validate(&checker, m, len, &src_b, true, now_ns);
	FUZZ_CHECK(st == WG_COOKIE_NEEDS_COOKIE, "source A's cookie from source B: %s",
	           wg_cookie_mac_state_str(st));
	unsigned left =
	    checker_before.nonces_left ? checker_before.nonces_left : WG_COOKIE_NONCE_POOL;
	FUZZ_CHECK(checker.nonces_left == left - 1, "the reply took %u nonces from the pool",
	           left - checker.nonces_left);
	FUZZ_CHECK(same_but_nonces(&checker_before, &checker),
	           "the round trip changed the checker beyond its nonce pool");
	wg_cookie_maker_clear(&maker);
	fuzz_outcome("attacker: cookie round trip completed");
}

static void check_reply(const uint8_t *d, size_t len)
{
	bool shaped =
	    len == sizeof(struct wg_msg_cookie) && fuzz_le32(d) == WG_MSG_HANDSHAKE_COOKIE;
	enum wg_result r = wg_cookie_consume_reply(&waiting, d, len, now_ns + 1);

	FUZZ_CHECK(r == WG_OK || r == WG_ERR_INVALID || r == WG_ERR_UNKNOWN_PEER ||
	               r == WG_ERR_AUTH,
	           "consume_reply returned %s", wg_result_str(r));
	FUZZ_CHECK((r == WG_ERR_INVALID) == !shaped, "shape %d, result %s", shaped,
	           wg_result_str(r));
	if (r != WG_OK) {
		FUZZ_CHECK(memcmp(&waiting, &waiting_after, sizeof(waiting)) == 0,
		           "a refused reply (%s) changed the maker", wg_result_str(r));
		fuzz_outcome(r == WG_ERR_INVALID        ? "reply: malformed"
		             : r == WG_ERR_UNKNOWN_PEER ? "reply: other receiver index"
		                                        : "reply: authentication failed");
		return;
	}
	FUZZ_CHECK(genuine_reply(d, len), "accepted a reply the checker never made");
	FUZZ_CHECK(waiting.cookie_set && !waiting.mac1_outstanding &&
	               waiting.cookie_birth_ns == now_ns + 1,
	           "cookie not taken");
	r = wg_cookie_consume_reply(&waiting, d, len, now_ns + 2);
	FUZZ_CHECK(r == WG_ERR_STATE, "second reply to one message gave %s", wg_result_str(r));
	memcpy(&waiting, &waiting_after, sizeof(waiting));
	accepted_replies++;
	fuzz_outcome("reply: accepted");
}

int fuzz_one(const uint8_t *data, size_t len)
{
	check_validate(data, len);
	check_attacker_round(data, len);
	check_reply(data, len);
	return 0;
}

/* ---- setup ---- */

static int make_body(struct message *m, size_t len, uint32_t type)
{
	uint32_t le = htole32(type);
	m->len = len;
	test_rng(&rng_body, m->bytes, len);
	memcpy(m->bytes, &le, sizeof(le));
	memset(m->bytes + MAC1_AT(len), 0, sizeof(struct wg_msg_macs));
	return 0;
}

static void cleanup(void)
{
	wg_cookie_checker_clear(&checker);
	wg_cookie_checker_clear(&checker_before);
	wg_cookie_maker_clear(&waiting);
	wg_cookie_maker_clear(&waiting_after);
	wg_cookie_maker_clear(&fresh);
}

int fuzz_init(void)
{
	static const char *const names[] = {"init", "resp", "init-mac2", "resp-mac2"};
	struct wg_cookie_maker with_cookie;
	uint8_t pub[WG_KEY_LEN];
	uint64_t key_rng = 40;

	atexit(cleanup);
	if (wg_crypto_init() != WG_OK)
		return -1;
	test_rng(&key_rng, pub, sizeof(pub)); /* the cookie layer only hashes it */
	if (wg_cookie_checker_init(&checker, pub, test_rng, &rng_checker) != WG_OK ||
	    wg_cookie_maker_init(&fresh, pub) != WG_OK)
		return -1;
	make_body(&msgs[M_INIT], INIT_LEN, WG_MSG_HANDSHAKE_INITIATION);
	make_body(&msgs[M_RESP], RESP_LEN, WG_MSG_HANDSHAKE_RESPONSE);

	/* The initiation with mac1, a reply for each source, a maker left waiting. */
	memcpy(&waiting, &fresh, sizeof(waiting));
	memcpy(&with_cookie, &fresh, sizeof(with_cookie));
	if (wg_cookie_add_macs(&waiting, msgs[M_INIT].bytes, INIT_LEN, now_ns) != WG_OK ||
	    wg_cookie_add_macs(&with_cookie, msgs[M_RESP].bytes, RESP_LEN, now_ns) != WG_OK ||
	    wg_cookie_add_macs(&with_cookie, msgs[M_INIT].bytes, INIT_LEN, now_ns) != WG_OK ||
	    wg_cookie_reply_create(&checker, &replies[0], msgs[M_INIT].bytes, INIT_LEN, &src_a,
	                           now_ns) != WG_OK ||
	    wg_cookie_reply_create(&checker, &replies[1], msgs[M_INIT].bytes, INIT_LEN, &src_b,
	                           now_ns) != WG_OK)
		return -1;
	memcpy(&waiting_after, &waiting, sizeof(waiting));

	/* with_cookie takes source A's cookie and sends both messages again, now with mac2. */
	msgs[M_INIT_COOKIE] = msgs[M_INIT];
	msgs[M_RESP_COOKIE] = msgs[M_RESP];
	if (wg_cookie_consume_reply(&with_cookie, &replies[0], sizeof(replies[0]), now_ns) !=
	        WG_OK ||
	    wg_cookie_add_macs(&with_cookie, msgs[M_INIT_COOKIE].bytes, INIT_LEN, now_ns) !=
	        WG_OK ||
	    wg_cookie_add_macs(&with_cookie, msgs[M_RESP_COOKIE].bytes, RESP_LEN, now_ns) != WG_OK)
		return -1;
	wg_cookie_maker_clear(&with_cookie);

	for (size_t i = 0; i < N_MSGS; i++)
		fuzz_seed_add(names[i], msgs[i].bytes, msgs[i].len);
	fuzz_seed_add("reply-a", &replies[0], sizeof(replies[0]));
	fuzz_seed_add("reply-b", &replies[1], sizeof(replies[1]));
	fuzz_token_add(msgs[M_INIT].bytes + 4, 4); /* sender index */
	fuzz_token_add(msgs[M_RESP].bytes + 4, 4);
	for (uint8_t t = 0; t <= 4; t++) {
		uint8_t type[4] = {t, 0, 0, 0};
		fuzz_token_add(type, sizeof(type));
	}
	fuzz_set_max_len(256);

	/* The seeds take the accepting paths: mac2 verifies, both replies are taken. */
	for (size_t i = 0; i < N_MSGS; i++) {
		enum wg_cookie_mac_state st =
		    wg_cookie_validate(&checker, msgs[i].bytes, msgs[i].len, &src_a, true, now_ns);
		bool has_mac2 = i == M_INIT_COOKIE || i == M_RESP_COOKIE;
		FUZZ_CHECK(
		    st == (has_mac2 ? WG_COOKIE_MAC_VALID_WITH_COOKIE : WG_COOKIE_NEEDS_COOKIE),
		    "seed %s: %s", names[i], wg_cookie_mac_state_str(st));
		fuzz_one(msgs[i].bytes, msgs[i].len);
	}
	for (size_t i = 0; i < 2; i++) {
		uint64_t n = accepted_replies;
		fuzz_one((const uint8_t *)&replies[i], sizeof(replies[i]));
		FUZZ_CHECK(accepted_replies == n + 1, "genuine reply %zu not accepted", i);
	}
	return 0;
}
