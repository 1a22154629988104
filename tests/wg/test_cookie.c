// SPDX-License-Identifier: GPL-2.0-only
/*
 * mac1/mac2 and cookie replies between a maker (initiator) and a checker (responder), on
 * handshake-shaped messages filled with test bytes, with injected time and a seeded RNG.
 */
#include <endian.h>
#include <string.h>

#include "check.h"
#include "cookie.h"
#include "crypto.h"
#include "messages.h"

#define SEC WG_NSEC_PER_SEC
#define T0  (1000 * SEC)

static uint8_t responder_pub[WG_KEY_LEN], other_pub[WG_KEY_LEN];
static uint64_t rng_seed = 7;

static const struct wg_endpoint src4 = {.family = 4, .port = 51820, .addr = {192, 0, 2, 1}};
static const struct wg_endpoint src4_other_addr = {
    .family = 4, .port = 51820, .addr = {192, 0, 2, 2}};
static const struct wg_endpoint src4_other_port = {
    .family = 4, .port = 51821, .addr = {192, 0, 2, 1}};
static const struct wg_endpoint src6 = {
    .family = 6, .port = 443, .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};

static void make_keys(void)
{
	uint8_t priv[WG_KEY_LEN];

	test_rng(&rng_seed, priv, sizeof(priv));
	wg_x25519_clamp(priv);
	CHECK(wg_x25519_public(responder_pub, priv) == WG_OK, "responder key");
	test_rng(&rng_seed, priv, sizeof(priv));
	wg_x25519_clamp(priv);
	CHECK(wg_x25519_public(other_pub, priv) == WG_OK, "other key");
	wg_memzero(priv, sizeof(priv));
}

static void fill_initiation(struct wg_msg_initiation *m, uint32_t sender, uint8_t filler)
{
	memset(m, 0, sizeof(*m));
	m->header.type = htole32(WG_MSG_HANDSHAKE_INITIATION);
	m->sender_index = htole32(sender);
	memset(m->unencrypted_ephemeral, filler, sizeof(m->unencrypted_ephemeral));
	memset(m->encrypted_static, filler ^ 0x5a, sizeof(m->encrypted_static));
	memset(m->encrypted_timestamp, filler ^ 0xa5, sizeof(m->encrypted_timestamp));
}

static void fill_response(struct wg_msg_response *m, uint32_t sender, uint32_t receiver)
{
	memset(m, 0, sizeof(*m));
	m->header.type = htole32(WG_MSG_HANDSHAKE_RESPONSE);
	m->sender_index = htole32(sender);
	m->receiver_index = htole32(receiver);
	memset(m->unencrypted_ephemeral, 0x33, sizeof(m->unencrypted_ephemeral));
	memset(m->encrypted_nothing, 0x44, sizeof(m->encrypted_nothing));
}

/* The paper's definitions, computed here from the primitives, not from cookie.c. */
static void expected_mac(uint8_t out[WG_COOKIE_LEN], const char *label, const uint8_t *pub,
                         const void *msg, size_t covered)
{
	uint8_t key[WG_HASH_LEN];

	CHECK(wg_blake2s_2(key, label, 8, pub, WG_KEY_LEN) == WG_OK, "label hash");
	CHECK(wg_blake2s_keyed(out, WG_COOKIE_LEN, key, sizeof(key), msg, covered) == WG_OK, "mac");
}

static void test_mac1_everywhere(void)
{
	struct wg_cookie_checker checker;
	struct wg_cookie_maker maker;
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	uint8_t want[WG_COOKIE_LEN];

	CHECK(wg_cookie_checker_init(&checker, responder_pub, test_rng, &rng_seed) == WG_OK,
	      "init");
	CHECK(wg_cookie_maker_init(&maker, responder_pub) == WG_OK, "maker init");

	for (uint8_t f = 0; f < 8; f++) {
		fill_initiation(&init, 0x1000u + f, f);
		CHECK(wg_cookie_add_macs(&maker, &init, sizeof(init), T0) == WG_OK, "add macs");
		expected_mac(want, "mac1----", responder_pub, &init, 116);
		CHECK(memcmp(init.macs.mac1, want, WG_COOKIE_LEN) == 0,
		      "mac1 is MAC(HASH(\"mac1----\" || pub), msg[0:116])");
		CHECK(wg_is_zero(init.macs.mac2, WG_COOKIE_LEN), "no cookie, mac2 zero");
		CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4, false, T0) ==
		          WG_COOKIE_MAC_VALID,
		      "initiation %u passes when not under load", f);

		fill_response(&resp, 0x2000u + f, 0x3000u + f);
		CHECK(wg_cookie_add_macs(&maker, &resp, sizeof(resp), T0) == WG_OK, "add macs");
		expected_mac(want, "mac1----", responder_pub, &resp, 60);
		CHECK(memcmp(resp.macs.mac1, want, WG_COOKIE_LEN) == 0, "response mac1");
		CHECK(wg_cookie_validate(&checker, &resp, sizeof(resp), NULL, false, T0) ==
		          WG_COOKIE_MAC_VALID,
		      "response %u passes when not under load", f);
	}

	/* Any change covered by mac1, and any change to mac1 itself, is refused. */
	fill_initiation(&init, 0x4242, 9);
	CHECK(wg_cookie_add_macs(&maker, &init, sizeof(init), T0) == WG_OK, "add macs");
	for (size_t i = 0; i < offsetof(struct wg_msg_initiation, macs.mac2); i++) {
		struct wg_msg_initiation bad = init;
		((uint8_t *)&bad)[i] ^= 0x80;
		enum wg_cookie_mac_state s =
		    wg_cookie_validate(&checker, &bad, sizeof(bad), &src4, false, T0);
		CHECK(s == WG_COOKIE_MAC_INVALID, "flipped byte %zu: %s", i,
		      wg_cookie_mac_state_str(s));
	}
	/* mac2 is not looked at when not under load. */
	struct wg_msg_initiation mac2_flipped = init;
	mac2_flipped.macs.mac2[3] ^= 1;
	CHECK(wg_cookie_validate(&checker, &mac2_flipped, sizeof(init), &src4, false, T0) ==
	          WG_COOKIE_MAC_VALID,
	      "mac2 ignored when not under load");

	/* Malformed framing. */
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init) - 1, &src4, false, T0) ==
	          WG_COOKIE_MAC_INVALID,
	      "147 bytes");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(resp), &src4, false, T0) ==
	          WG_COOKIE_MAC_INVALID,
	      "initiation type with response length");
	CHECK(wg_cookie_validate(&checker, NULL, sizeof(init), &src4, false, T0) ==
	          WG_COOKIE_MAC_INVALID,
	      "NULL message");
	CHECK(wg_cookie_add_macs(&maker, &init, 100, T0) == WG_ERR_INVALID, "add macs length");

	/* A message made for another interface's key. */
	struct wg_cookie_maker wrong;
	CHECK(wg_cookie_maker_init(&wrong, other_pub) == WG_OK, "maker init");
	CHECK(wg_cookie_add_macs(&wrong, &init, sizeof(init), T0) == WG_OK, "add macs");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4, false, T0) ==
	          WG_COOKIE_MAC_INVALID,
	      "mac1 under another public key");

	wg_cookie_checker_clear(&checker);
	wg_cookie_maker_clear(&maker);
	wg_cookie_maker_clear(&wrong);
	CHECK(wg_is_zero(&checker, sizeof(checker)) && wg_is_zero(&maker, sizeof(maker)),
	      "clear zeroes everything");
}

/* One round: message, NEEDS_COOKIE, reply, consume, message with mac2 that passes. */
static void cookie_round(struct wg_cookie_checker *checker, struct wg_cookie_maker *maker,
                         const struct wg_endpoint *src, uint64_t now, struct wg_msg_cookie *reply)
{
	struct wg_msg_initiation init;
	uint8_t cookie[WG_COOKIE_LEN], key[WG_HASH_LEN], want[WG_COOKIE_LEN], input[18];
	size_t addrlen = src->family == 4 ? 4 : 16;
	enum wg_cookie_mac_state s;

	fill_initiation(&init, 0xabcd0001, 1);
	CHECK(wg_cookie_add_macs(maker, &init, sizeof(init), now) == WG_OK, "add macs");
	s = wg_cookie_validate(checker, &init, sizeof(init), src, true, now);
	CHECK(s == WG_COOKIE_NEEDS_COOKIE, "under load without mac2: %s",
	      wg_cookie_mac_state_str(s));
	CHECK(wg_cookie_reply_create(checker, reply, &init, sizeof(init), src, now) == WG_OK,
	      "reply");
	CHECK(le32toh(reply->header.type) == WG_MSG_HANDSHAKE_COOKIE, "reply type");
	CHECK(reply->receiver_index == init.sender_index, "reply receiver index");
	CHECK(!wg_is_zero(reply->nonce, sizeof(reply->nonce)), "random nonce");

	/* The reply decrypts, by the paper's definition, to MAC(secret, address || port). */
	CHECK(wg_blake2s_2(key, "cookie--", 8, responder_pub, WG_KEY_LEN) == WG_OK, "cookie key");
	CHECK(wg_xaead_open(cookie, reply->encrypted_cookie, sizeof(reply->encrypted_cookie),
	                    init.macs.mac1, WG_COOKIE_LEN, reply->nonce, sizeof(reply->nonce),
	                    key) == WG_OK,
	      "reply decrypts with the mac1 as AD");
	memcpy(input, src->addr, addrlen);
	input[addrlen] = (uint8_t)(src->port >> 8);
	input[addrlen + 1] = (uint8_t)src->port;
	CHECK(wg_blake2s_keyed(want, WG_COOKIE_LEN, checker->secret, WG_HASH_LEN, input,
	                       addrlen + 2) == WG_OK &&
	          memcmp(want, cookie, WG_COOKIE_LEN) == 0,
	      "cookie is MAC(secret, addr || port)");

	CHECK(wg_cookie_consume_reply(maker, reply, sizeof(*reply), now) == WG_OK, "consume");

	fill_initiation(&init, 0xabcd0002, 2);
	CHECK(wg_cookie_add_macs(maker, &init, sizeof(init), now + SEC) == WG_OK, "add macs");
	CHECK(wg_blake2s_keyed(want, WG_COOKIE_LEN, cookie, WG_COOKIE_LEN, &init, 132) == WG_OK &&
	          memcmp(want, init.macs.mac2, WG_COOKIE_LEN) == 0,
	      "mac2 is MAC(cookie, msg[0:132])");
	s = wg_cookie_validate(checker, &init, sizeof(init), src, true, now + SEC);
	CHECK(s == WG_COOKIE_MAC_VALID_WITH_COOKIE, "mac2 passes: %s", wg_cookie_mac_state_str(s));
	CHECK(wg_cookie_validate(checker, &init, sizeof(init), src, false, now + SEC) ==
	          WG_COOKIE_MAC_VALID,
	      "and mac1 alone when not under load");
	for (size_t i = 0; i < WG_COOKIE_LEN; i++) {
		struct wg_msg_initiation bad = init;
		bad.macs.mac2[i] ^= 0x10;
		CHECK(wg_cookie_validate(checker, &bad, sizeof(bad), src, true, now + SEC) ==
		          WG_COOKIE_NEEDS_COOKIE,
		      "flipped mac2 byte %zu", i);
		bad = init;
		bad.macs.mac1[i] ^= 0x10;
		CHECK(wg_cookie_validate(checker, &bad, sizeof(bad), src, true, now + SEC) ==
		          WG_COOKIE_MAC_INVALID,
		      "flipped mac1 byte %zu under load", i);
	}
}

static void test_cookie_flow(void)
{
	struct wg_cookie_checker checker;
	struct wg_cookie_maker maker;
	struct wg_msg_cookie reply;
	struct wg_msg_initiation init;
	struct wg_msg_response resp;

	CHECK(wg_cookie_checker_init(&checker, responder_pub, test_rng, &rng_seed) == WG_OK,
	      "init");
	CHECK(wg_cookie_maker_init(&maker, responder_pub) == WG_OK, "maker init");
	cookie_round(&checker, &maker, &src4, T0, &reply);

	/* A replayed reply, now that a newer message (another index) is outstanding. */
	CHECK(wg_cookie_consume_reply(&maker, &reply, sizeof(reply), T0) == WG_ERR_UNKNOWN_PEER,
	      "replayed reply refused");

	/* The cookie is bound to the source address and port. */
	fill_initiation(&init, 0xabcd0003, 3);
	CHECK(wg_cookie_add_macs(&maker, &init, sizeof(init), T0 + 2 * SEC) == WG_OK, "macs");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4, true, T0 + 2 * SEC) ==
	          WG_COOKIE_MAC_VALID_WITH_COOKIE,
	      "from the right source");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4_other_addr, true,
	                         T0 + 2 * SEC) == WG_COOKIE_NEEDS_COOKIE,
	      "from another address");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4_other_port, true,
	                         T0 + 2 * SEC) == WG_COOKIE_NEEDS_COOKIE,
	      "from another port");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src6, true, T0 + 2 * SEC) ==
	          WG_COOKIE_NEEDS_COOKIE,
	      "from IPv6");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), NULL, true, T0 + 2 * SEC) ==
	          WG_COOKIE_MAC_INVALID,
	      "under load without a source");
	struct wg_endpoint none = src4;
	none.family = 0;
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &none, true, T0 + 2 * SEC) ==
	          WG_COOKIE_MAC_INVALID,
	      "under load with an unset source");

	/* mac2 also goes on responses. */
	fill_response(&resp, 0x77, 0x88);
	CHECK(wg_cookie_add_macs(&maker, &resp, sizeof(resp), T0 + 3 * SEC) == WG_OK, "macs");
	CHECK(!wg_is_zero(resp.macs.mac2, WG_COOKIE_LEN) &&
	          wg_cookie_validate(&checker, &resp, sizeof(resp), &src4, true, T0 + 3 * SEC) ==
	              WG_COOKIE_MAC_VALID_WITH_COOKIE,
	      "response with mac2");

	/* The maker stops using its cookie after 120 - 5 seconds. */
	uint64_t got = T0; /* the round above consumed at T0 */
	uint64_t limit = got + (WG_COOKIE_SECRET_MAX_AGE_S - WG_COOKIE_SECRET_LATENCY_S) * SEC;
	fill_initiation(&init, 0xabcd0004, 4);
	CHECK(wg_cookie_add_macs(&maker, &init, sizeof(init), limit) == WG_OK &&
	          !wg_is_zero(init.macs.mac2, WG_COOKIE_LEN),
	      "cookie still used at exactly 115 s");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4, true, limit) ==
	          WG_COOKIE_MAC_VALID_WITH_COOKIE,
	      "and accepted");
	CHECK(wg_cookie_add_macs(&maker, &init, sizeof(init), limit + 1) == WG_OK &&
	          wg_is_zero(init.macs.mac2, WG_COOKIE_LEN),
	      "cookie past its age not added");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4, true, limit + 1) ==
	          WG_COOKIE_NEEDS_COOKIE,
	      "so the checker asks again");
	CHECK(wg_cookie_add_macs(&maker, &init, sizeof(init), got - 1) == WG_OK &&
	          wg_is_zero(init.macs.mac2, WG_COOKIE_LEN),
	      "clock before the cookie's birth: not used");

	/* Over IPv6, from scratch. */
	wg_cookie_checker_clear(&checker);
	wg_cookie_maker_clear(&maker);
	CHECK(wg_cookie_checker_init(&checker, responder_pub, test_rng, &rng_seed) == WG_OK,
	      "init");
	CHECK(wg_cookie_maker_init(&maker, responder_pub) == WG_OK, "maker init");
	cookie_round(&checker, &maker, &src6, T0, &reply);

	wg_cookie_checker_clear(&checker);
	wg_cookie_maker_clear(&maker);
}

static void test_secret_rotation(void)
{
	struct wg_cookie_checker checker;
	struct wg_cookie_maker maker;
	struct wg_msg_cookie reply;
	struct wg_msg_initiation init;
	uint8_t first_secret[WG_HASH_LEN];

	/* Default RNG this time. The secret is born at T0, on first use. */
	CHECK(wg_cookie_checker_init(&checker, responder_pub, NULL, NULL) == WG_OK, "init");
	CHECK(wg_cookie_maker_init(&maker, responder_pub) == WG_OK, "maker init");
	cookie_round(&checker, &maker, &src4, T0, &reply);
	memcpy(first_secret, checker.secret, sizeof(first_secret));

	fill_initiation(&init, 0xabcd0010, 10);
	CHECK(wg_cookie_add_macs(&maker, &init, sizeof(init), T0 + 10 * SEC) == WG_OK, "macs");
	CHECK(!wg_is_zero(init.macs.mac2, WG_COOKIE_LEN), "mac2 present");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4, true, T0 + 119 * SEC) ==
	          WG_COOKIE_MAC_VALID_WITH_COOKIE,
	      "secret still current at 119 s");
	CHECK(wg_memeq(first_secret, checker.secret, WG_HASH_LEN), "not rotated yet");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4, true, T0 + 121 * SEC) ==
	          WG_COOKIE_NEEDS_COOKIE,
	      "mac2 under a rotated secret refused");
	CHECK(!wg_memeq(first_secret, checker.secret, WG_HASH_LEN), "secret rotated");
	CHECK(wg_cookie_validate(&checker, &init, sizeof(init), &src4, true, T0 + 122 * SEC) ==
	          WG_COOKIE_NEEDS_COOKIE,
	      "and stays refused");

	/* A fresh cookie under the new secret works again. */
	cookie_round(&checker, &maker, &src4, T0 + 125 * SEC, &reply);
	wg_memzero(first_secret, sizeof(first_secret));
	wg_cookie_checker_clear(&checker);
	wg_cookie_maker_clear(&maker);
}

static void test_reply_refusals(void)
{
	struct wg_cookie_checker checker;
	struct wg_cookie_maker maker;
	struct wg_msg_cookie reply, bad;
	struct wg_msg_initiation a, b;
	enum wg_result r;

	CHECK(wg_cookie_checker_init(&checker, responder_pub, test_rng, &rng_seed) == WG_OK,
	      "init");
	CHECK(wg_cookie_maker_init(&maker, responder_pub) == WG_OK, "maker init");

	/* Nothing sent yet. */
	fill_initiation(&a, 0x5151, 1);
	CHECK(wg_cookie_add_macs(&maker, &a, sizeof(a), T0) == WG_OK, "macs");
	CHECK(wg_cookie_reply_create(&checker, &reply, &a, sizeof(a), &src4, T0) == WG_OK, "reply");
	struct wg_cookie_maker fresh;
	CHECK(wg_cookie_maker_init(&fresh, responder_pub) == WG_OK, "maker init");
	CHECK(wg_cookie_consume_reply(&fresh, &reply, sizeof(reply), T0) == WG_ERR_STATE,
	      "reply with no message sent");

	/* Every single flipped byte of the reply is refused, and refusals keep the mac1. */
	for (size_t i = 0; i < sizeof(reply); i++) {
		bad = reply;
		((uint8_t *)&bad)[i] ^= 0x01;
		r = wg_cookie_consume_reply(&maker, &bad, sizeof(bad), T0);
		enum wg_result want = i < 4   ? WG_ERR_INVALID
		                      : i < 8 ? WG_ERR_UNKNOWN_PEER
		                              : WG_ERR_AUTH;
		CHECK(r == want, "flipped reply byte %zu: %s", i, wg_result_str(r));
	}
	CHECK(!maker.cookie_set, "no cookie taken from forgeries");
	CHECK(wg_cookie_consume_reply(&maker, &reply, sizeof(reply) - 1, T0) == WG_ERR_INVALID,
	      "63 bytes");
	CHECK(wg_cookie_consume_reply(&maker, &reply, sizeof(reply) + 1, T0) == WG_ERR_INVALID,
	      "65 bytes");
	CHECK(wg_cookie_consume_reply(&maker, NULL, sizeof(reply), T0) == WG_ERR_INVALID, "NULL");

	/* A reply to an older message (same index, other mac1) once a newer one went out. */
	fill_initiation(&b, 0x5151, 2);
	CHECK(wg_cookie_add_macs(&maker, &b, sizeof(b), T0 + SEC) == WG_OK, "macs");
	CHECK(wg_cookie_consume_reply(&maker, &reply, sizeof(reply), T0 + SEC) == WG_ERR_AUTH,
	      "reply sealed to another mac1");
	/* ... and one for an index we never used. */
	fill_initiation(&b, 0x6161, 3);
	CHECK(wg_cookie_add_macs(&maker, &b, sizeof(b), T0 + SEC) == WG_OK, "macs");
	CHECK(wg_cookie_consume_reply(&maker, &reply, sizeof(reply), T0 + SEC) ==
	          WG_ERR_UNKNOWN_PEER,
	      "reply for another sender index");

	/* A reply from a checker with another key does not decrypt. */
	struct wg_cookie_checker other;
	CHECK(wg_cookie_checker_init(&other, other_pub, test_rng, &rng_seed) == WG_OK, "init");
	CHECK(wg_cookie_reply_create(&other, &bad, &b, sizeof(b), &src4, T0 + SEC) == WG_OK,
	      "reply");
	CHECK(wg_cookie_consume_reply(&maker, &bad, sizeof(bad), T0 + SEC) == WG_ERR_AUTH,
	      "reply under another interface's key");

	/* The genuine reply to the last message still works after all that, once. */
	CHECK(wg_cookie_reply_create(&checker, &reply, &b, sizeof(b), &src4, T0 + SEC) == WG_OK,
	      "reply");
	CHECK(wg_cookie_consume_reply(&maker, &reply, sizeof(reply), T0 + SEC) == WG_OK,
	      "genuine reply");
	CHECK(wg_cookie_consume_reply(&maker, &reply, sizeof(reply), T0 + SEC) == WG_ERR_STATE,
	      "twice");

	/* reply_create refuses what it cannot answer. */
	CHECK(wg_cookie_reply_create(&checker, &reply, &b, 147, &src4, T0) == WG_ERR_INVALID,
	      "bad length");
	CHECK(wg_cookie_reply_create(&checker, &reply, &b, sizeof(b), NULL, T0) == WG_ERR_INVALID,
	      "no source");
	CHECK(wg_is_zero(&reply, sizeof(reply)), "failed reply left zeroed");

	wg_cookie_checker_clear(&checker);
	wg_cookie_checker_clear(&other);
	wg_cookie_maker_clear(&maker);
	wg_cookie_maker_clear(&fresh);
}

static unsigned rand_calls;

static void counting_rng(void *ctx, void *buf, size_t len)
{
	rand_calls++;
	test_rng(ctx, buf, len);
}

/* Cookie-reply nonces: each reply's is distinct and its own, taken from a pool the random source
 * fills WG_COOKIE_NONCE_POOL at a time; every reply still opens. */
static void test_reply_nonces(void)
{
	enum { N = 3 * WG_COOKIE_NONCE_POOL + 1 };
	static uint8_t seen[N][WG_XNONCE_LEN];
	struct wg_cookie_checker checker;
	struct wg_cookie_maker maker;
	struct wg_msg_initiation init;
	struct wg_msg_cookie reply;
	uint64_t seed = 99;
	unsigned distinct = 1, opened = 0;

	CHECK(wg_cookie_checker_init(&checker, responder_pub, counting_rng, &seed) == WG_OK,
	      "init");
	CHECK(wg_cookie_maker_init(&maker, responder_pub) == WG_OK, "maker");
	rand_calls = 0;
	for (unsigned i = 0; i < N; i++) {
		fill_initiation(&init, 0x1000 + i, (uint8_t)i);
		CHECK(wg_cookie_add_macs(&maker, &init, sizeof(init), T0) == WG_OK, "macs");
		CHECK(wg_cookie_reply_create(&checker, &reply, &init, sizeof(init), &src4, T0) ==
		          WG_OK,
		      "reply %u", i);
		memcpy(seen[i], reply.nonce, WG_XNONCE_LEN);
		opened += wg_cookie_consume_reply(&maker, &reply, sizeof(reply), T0) == WG_OK;
	}
	for (unsigned i = 1; i < N; i++) {
		bool dup = false;
		for (unsigned j = 0; j < i; j++)
			dup |= memcmp(seen[i], seen[j], WG_XNONCE_LEN) == 0;
		distinct += !dup;
	}
	CHECK(distinct == N, "%u distinct nonces in %u replies", distinct, N);
	CHECK(opened == N, "%u of %u replies opened by the maker", opened, N);
	/* The cookie secret once, then one fill per WG_COOKIE_NONCE_POOL replies. */
	CHECK(rand_calls == 1 + (N + WG_COOKIE_NONCE_POOL - 1) / WG_COOKIE_NONCE_POOL,
	      "%u calls of the random source for %u replies", rand_calls, N);
	wg_cookie_checker_clear(&checker);
	CHECK(wg_is_zero(&checker, sizeof(checker)), "clear zeroes the pool too");
	wg_cookie_maker_clear(&maker);
}

int main(void)
{
	make_keys();
	test_mac1_everywhere();
	test_cookie_flow();
	test_secret_rotation();
	test_reply_refusals();
	test_reply_nonces();
	return check_done("cookie");
}
