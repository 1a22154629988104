// SPDX-License-Identifier: GPL-2.0-only
/*
 * node/disco.c: seal and open round trips for every type, the replay window (duplicates,
 * eviction, stale), clock skew, and forgeries: tampered bytes anywhere, a wrong key, a third
 * party's box, hostile plaintexts sealed with the right key.
 */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "disco.h"
#include "stun.h"

#define NOW 1800000000000ull

static struct mg_disco_node a, b, c;
static struct mg_disco_peer a_b, b_a, c_b, b_c;

static void setup(void)
{
	uint8_t sk[32];

	randombytes_buf(sk, 32);
	CHECK(mg_disco_node_init(&a, sk) == 0);
	randombytes_buf(sk, 32);
	CHECK(mg_disco_node_init(&b, sk) == 0);
	randombytes_buf(sk, 32);
	CHECK(mg_disco_node_init(&c, sk) == 0);
	CHECK(mg_disco_peer_init(&a_b, &a, b.pk) == 0);
	CHECK(mg_disco_peer_init(&b_a, &b, a.pk) == 0);
	CHECK(mg_disco_peer_init(&c_b, &c, b.pk) == 0);
	CHECK(mg_disco_peer_init(&b_c, &b, c.pk) == 0);
	/* Our own key, and a low-order point, are refused. */
	{
		struct mg_disco_peer p;
		static const uint8_t zero[32];
		CHECK(mg_disco_peer_init(&p, &a, a.pk) == -1);
		CHECK(mg_disco_peer_init(&p, &a, zero) == -1);
	}
}

static void reset_windows(void)
{
	b_a.n_seen = 0;
	b_c.n_seen = 0;
}

static void test_round_trips(void)
{
	uint8_t pkt[MG_DISCO_MAX_LEN];
	struct mg_disco_msg m = {.type = MG_DISCO_PING}, got;
	size_t n;

	mg_disco_new_txid(m.txid);
	n = mg_disco_seal(&a, &a_b, &m, NOW, pkt, sizeof(pkt));
	CHECK(n == MG_DISCO_HDR_LEN + MG_DISCO_MAC_LEN + MG_DISCO_PLAIN_HDR);
	CHECK(mg_disco_is_disco(pkt, n) && !mg_stun_is_stun(pkt, n));
	CHECK(pkt[0] > 4, "disco must not look like WireGuard");
	CHECK(memcmp(mg_disco_sender(pkt, n), a.pk, 32) == 0);
	CHECK(mg_disco_open(&b, &b_a, pkt, n, NOW + 5, &got) == MG_DISCO_OK);
	CHECK(got.type == MG_DISCO_PING && memcmp(got.txid, m.txid, 12) == 0 && got.sent_ms == NOW);

	struct mg_disco_msg pong = {.type = MG_DISCO_PONG};
	memcpy(pong.txid, m.txid, 12);
	CHECK(mg_sockaddr_parse("[2001:db8::7]:41641", &pong.src) == 0);
	n = mg_disco_seal(&b, &b_a, &pong, NOW + 6, pkt, sizeof(pkt));
	CHECK(n > 0);
	CHECK(mg_disco_open(&a, &a_b, pkt, n, NOW + 7, &got) == MG_DISCO_OK);
	CHECK(got.type == MG_DISCO_PONG && got.src.family == 6 && got.src.port == 41641);
	CHECK(memcmp(got.src.addr, pong.src.addr, 16) == 0);

	struct mg_disco_msg cmm = {.type = MG_DISCO_CALL_ME_MAYBE, .n_eps = MG_DISCO_MAX_EPS};
	for (unsigned i = 0; i < cmm.n_eps; i++) {
		char s[64];
		snprintf(s, sizeof(s), "198.51.100.%u:%u", i + 1, 1000 + i);
		CHECK(mg_sockaddr_parse(s, &cmm.eps[i]) == 0);
	}
	n = mg_disco_seal(&a, &a_b, &cmm, NOW + 8, pkt, sizeof(pkt));
	CHECK(n == MG_DISCO_MAX_LEN, "%zu", n);
	CHECK(mg_disco_open(&b, &b_a, pkt, n, NOW + 9, &got) == MG_DISCO_OK);
	CHECK(got.n_eps == MG_DISCO_MAX_EPS && got.eps[15].port == 1015 && got.eps[3].addr[3] == 4);
	cmm.n_eps = 0;
	n = mg_disco_seal(&a, &a_b, &cmm, NOW + 10, pkt, sizeof(pkt));
	CHECK(mg_disco_open(&b, &b_a, pkt, n, NOW + 11, &got) == MG_DISCO_OK && got.n_eps == 0);
	/* Invalid messages are not sealed. */
	cmm.n_eps = MG_DISCO_MAX_EPS + 1;
	CHECK(mg_disco_seal(&a, &a_b, &cmm, NOW, pkt, sizeof(pkt)) == 0);
	pong.src.family = 0;
	CHECK(mg_disco_seal(&b, &b_a, &pong, NOW, pkt, sizeof(pkt)) == 0);
	m.type = 9;
	CHECK(mg_disco_seal(&a, &a_b, &m, NOW, pkt, sizeof(pkt)) == 0);
	m.type = MG_DISCO_PING;
	CHECK(mg_disco_seal(&a, &a_b, &m, NOW, pkt, 50) == 0);
	reset_windows();
}

static void test_replay(void)
{
	uint8_t pkt[MG_DISCO_WINDOW + 4][MG_DISCO_MAX_LEN];
	size_t len[MG_DISCO_WINDOW + 4];
	struct mg_disco_msg m = {.type = MG_DISCO_PING}, got;
	uint64_t before = b.stats.refused[MG_DISCO_ERR_REPLAY];

	for (unsigned i = 0; i < MG_DISCO_WINDOW + 4; i++) {
		mg_disco_new_txid(m.txid);
		len[i] = mg_disco_seal(&a, &a_b, &m, NOW + i, pkt[i], sizeof(pkt[i]));
	}
	CHECK(mg_disco_open(&b, &b_a, pkt[0], len[0], NOW, &got) == MG_DISCO_OK);
	CHECK(mg_disco_open(&b, &b_a, pkt[0], len[0], NOW, &got) == MG_DISCO_ERR_REPLAY);
	CHECK(b.stats.refused[MG_DISCO_ERR_REPLAY] == before + 1);
	/* Out of order within the window is fine. */
	CHECK(mg_disco_open(&b, &b_a, pkt[5], len[5], NOW, &got) == MG_DISCO_OK);
	CHECK(mg_disco_open(&b, &b_a, pkt[3], len[3], NOW, &got) == MG_DISCO_OK);
	for (unsigned i = 6; i < MG_DISCO_WINDOW + 4; i++)
		CHECK(mg_disco_open(&b, &b_a, pkt[i], len[i], NOW, &got) == MG_DISCO_OK, "%u", i);
	CHECK(b_a.n_seen == MG_DISCO_WINDOW);
	/* pkt[0] has been pushed out: it may not come back. Nor may pkt[1], never seen but
	 * older than everything remembered. */
	CHECK(mg_disco_open(&b, &b_a, pkt[0], len[0], NOW, &got) == MG_DISCO_ERR_STALE);
	CHECK(mg_disco_open(&b, &b_a, pkt[1], len[1], NOW, &got) == MG_DISCO_ERR_STALE);
	/* pkt[4] arrives late but is newer than the oldest remembered: taken, pushing out
	 * pkt[3], which then counts as stale. */
	CHECK(mg_disco_open(&b, &b_a, pkt[4], len[4], NOW, &got) == MG_DISCO_OK);
	CHECK(mg_disco_open(&b, &b_a, pkt[3], len[3], NOW, &got) == MG_DISCO_ERR_STALE);
	for (unsigned i = 4; i < MG_DISCO_WINDOW + 4; i++)
		CHECK(mg_disco_open(&b, &b_a, pkt[i], len[i], NOW, &got) == MG_DISCO_ERR_REPLAY,
		      "%u", i);
	/* A message only a different peer could send does not touch a's window. */
	mg_disco_new_txid(m.txid);
	size_t n = mg_disco_seal(&c, &c_b, &m, NOW + 1000, pkt[0], sizeof(pkt[0]));
	CHECK(mg_disco_open(&b, &b_a, pkt[0], n, NOW, &got) == MG_DISCO_ERR_WRONG_PEER);
	CHECK(mg_disco_open(&b, &b_c, pkt[0], n, NOW, &got) == MG_DISCO_OK);
	reset_windows();
}

static void test_skew(void)
{
	uint8_t pkt[MG_DISCO_MAX_LEN];
	struct mg_disco_msg m = {.type = MG_DISCO_PING}, got;
	size_t n = mg_disco_seal(&a, &a_b, &m, NOW, pkt, sizeof(pkt));

	CHECK(mg_disco_open(&b, &b_a, pkt, n, NOW + MG_DISCO_DEFAULT_SKEW_MS + 1, &got) ==
	      MG_DISCO_ERR_SKEW);
	CHECK(mg_disco_open(&b, &b_a, pkt, n, NOW - MG_DISCO_DEFAULT_SKEW_MS - 1, &got) ==
	      MG_DISCO_ERR_SKEW);
	/* Refused messages take no slot: it still opens once in time. */
	CHECK(mg_disco_open(&b, &b_a, pkt, n, NOW + MG_DISCO_DEFAULT_SKEW_MS, &got) == MG_DISCO_OK);
	reset_windows();
}

static void test_forgery(void)
{
	uint8_t pkt[MG_DISCO_MAX_LEN], bad[MG_DISCO_MAX_LEN + 8];
	struct mg_disco_msg m = {.type = MG_DISCO_PONG}, got;
	size_t n;
	uint64_t forged = b.stats.refused[MG_DISCO_ERR_FORGED];

	CHECK(mg_sockaddr_parse("203.0.113.9:5000", &m.src) == 0);
	n = mg_disco_seal(&a, &a_b, &m, NOW, pkt, sizeof(pkt));
	/* Every single bit flipped anywhere is refused, and counted. */
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			enum mg_disco_result r;
			memcpy(bad, pkt, n);
			bad[i] ^= (uint8_t)(1 << bit);
			r = mg_disco_open(&b, &b_a, bad, n, NOW, &got);
			CHECK(r != MG_DISCO_OK, "byte %zu bit %d", i, bit);
		}
	}
	CHECK(b.stats.refused[MG_DISCO_ERR_FORGED] > forged);
	/* Truncated and extended. */
	for (size_t i = 0; i < n; i++)
		CHECK(mg_disco_open(&b, &b_a, pkt, i, NOW, &got) != MG_DISCO_OK, "len %zu", i);
	memcpy(bad, pkt, n);
	bad[n] = 0;
	CHECK(mg_disco_open(&b, &b_a, bad, n + 1, NOW, &got) == MG_DISCO_ERR_FORGED);
	/* c claims to be a: c cannot make a box that opens as a's. */
	{
		struct mg_disco_msg p = {.type = MG_DISCO_PING};
		size_t k = mg_disco_seal(&c, &c_b, &p, NOW, bad, sizeof(bad));
		memcpy(bad + MG_DISCO_MAGIC_LEN + 1, a.pk, 32);
		CHECK(mg_disco_open(&b, &b_a, bad, k, NOW, &got) == MG_DISCO_ERR_FORGED);
	}
	/* A message for a, delivered to c (who knows a's key but not a's secret). */
	{
		struct mg_disco_peer c_a;
		CHECK(mg_disco_peer_init(&c_a, &c, a.pk) == 0);
		CHECK(mg_disco_open(&c, &c_a, pkt, n, NOW, &got) == MG_DISCO_ERR_FORGED);
	}
	/* Authentic but malformed plaintexts, sealed by hand with the right key. */
	{
		static const struct {
			uint8_t plain[64];
			size_t len;
			enum mg_disco_result want;
		} cases[] = {
		    {{1, 1}, 22, MG_DISCO_ERR_TYPE},                  /* flags */
		    {{7}, 22, MG_DISCO_ERR_TYPE},                     /* type */
		    {{1}, 23, MG_DISCO_ERR_BODY},                     /* ping with a body */
		    {{2}, 22, MG_DISCO_ERR_BODY},                     /* pong without one */
		    {{2, [22] = 5, [25] = 1}, 42, MG_DISCO_ERR_BODY}, /* family 5 */
		    {{2, [22] = 4, [24] = 0, [25] = 0}, 42, MG_DISCO_ERR_BODY}, /* port 0 */
		    {{2, [22] = 4, [25] = 1, [40] = 1}, 42, MG_DISCO_ERR_BODY}, /* v4 junk */
		    {{3}, 22, MG_DISCO_ERR_BODY},                               /* no count */
		    {{3, [22] = 2}, 43, MG_DISCO_ERR_BODY},  /* count 2, one ep */
		    {{3, [22] = 17}, 23, MG_DISCO_ERR_BODY}, /* too many */
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			uint8_t nonce[24];
			memcpy(bad, MG_DISCO_MAGIC, 5);
			bad[5] = MG_DISCO_VERSION;
			memcpy(bad + 6, a.pk, 32);
			randombytes_buf(nonce, 24);
			memcpy(bad + 38, nonce, 24);
			crypto_box_easy_afternm(bad + 62, cases[i].plain, cases[i].len, nonce,
			                        a_b.shared);
			CHECK(mg_disco_open(&b, &b_a, bad, 62 + 16 + cases[i].len, NOW, &got) ==
			          cases[i].want,
			      "case %zu", i);
		}
	}
	/* Version and magic. */
	memcpy(bad, pkt, n);
	bad[5] = 2;
	CHECK(mg_disco_open(&b, &b_a, bad, n, NOW, &got) == MG_DISCO_ERR_VERSION);
	bad[0] = 'X';
	CHECK(mg_disco_open(&b, &b_a, bad, n, NOW, &got) == MG_DISCO_ERR_MAGIC);
	CHECK(mg_disco_sender(bad, n) == NULL);
	/* After all that, the genuine message still opens: no refusal touched the window. */
	CHECK(mg_disco_open(&b, &b_a, pkt, n, NOW, &got) == MG_DISCO_OK);
	reset_windows();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	setup();
	test_round_trips();
	test_replay();
	test_skew();
	test_forgery();
	mg_disco_node_clear(&a);
	mg_disco_node_clear(&b);
	mg_disco_node_clear(&c);
	return check_done("disco");
}
