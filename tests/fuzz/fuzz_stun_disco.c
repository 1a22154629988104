// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: node/'s STUN parser (node/stun.c) and disco opener (node/disco.c), the two
 * things a node reads from anyone on the internet. The first byte picks which: even → STUN,
 * odd → disco; the rest is the datagram. Seeds: our Binding request, RFC 5769's IPv4 and IPv6
 * responses, an error response, and a genuine ping, pong and call-me-maybe between two fixed
 * keys.
 *
 * Invariants:
 *  - STUN: an accepted message has exactly 20 + its length field bytes and looks like STUN to
 *    mg_stun_is_stun (unless it begins with a WireGuard first word); its FINGERPRINT, when
 *    present, is right; an accepted response has a family 4 or 6 address and a non-zero port.
 *  - disco: a message opens only when it is byte for byte one of the genuine seeds (anything
 *    else would be a forgery); every refusal is counted under its reason exactly once. The
 *    replay window is restored after each input, so the answer depends on the bytes alone.
 */
#include <string.h>

#include <sodium.h>

#include "disco.h"
#include "fuzz_driver.h"
#include "stun.h"
#include "test_rng.h"

#define NOW 1800000000000ull

static struct mg_disco_node a, b;
static struct mg_disco_peer a_b, b_a;
static uint8_t genuine[3][MG_DISCO_MAX_LEN];
static size_t genuine_len[3];

static const uint8_t rfc_v4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};
static const uint8_t rfc_v6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

static void seed(const char *name, uint8_t sel, const uint8_t *p, size_t len)
{
	uint8_t buf[1 + MG_DISCO_MAX_LEN + 128];

	buf[0] = sel;
	memcpy(buf + 1, p, len);
	fuzz_seed_add(name, buf, 1 + len);
}

int fuzz_init(void)
{
	uint64_t st = 15;
	uint8_t sk[32], req[MG_STUN_REQUEST_LEN], txid[12];
	static const uint8_t err420[] = {0x01, 0x11, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1,  2,
	                                 3,    4,    5,    6,    7,    8,    9,    10,   11, 12,
	                                 0x00, 0x09, 0x00, 0x04, 0x00, 0x00, 0x04, 0x14};
	struct mg_disco_msg m;

	if (sodium_init() < 0)
		return 1;
	test_rng(&st, sk, 32);
	if (mg_disco_node_init(&a, sk) != 0)
		return 1;
	test_rng(&st, sk, 32);
	if (mg_disco_node_init(&b, sk) != 0 || mg_disco_peer_init(&a_b, &a, b.pk) != 0 ||
	    mg_disco_peer_init(&b_a, &b, a.pk) != 0)
		return 1;
	mg_stun_build_request(req, sizeof(req), txid);
	seed("stun_request", 0, req, sizeof(req));
	seed("stun_rfc5769_v4", 0, rfc_v4, sizeof(rfc_v4));
	seed("stun_rfc5769_v6", 0, rfc_v6, sizeof(rfc_v6));
	seed("stun_error", 0, err420, sizeof(err420));

	memset(&m, 0, sizeof(m));
	m.type = MG_DISCO_PING;
	test_rng(&st, m.txid, sizeof(m.txid));
	genuine_len[0] = mg_disco_seal(&a, &a_b, &m, NOW, genuine[0], MG_DISCO_MAX_LEN);
	m.type = MG_DISCO_PONG;
	mg_sockaddr_parse("[2001:db8::1]:41641", &m.src);
	genuine_len[1] = mg_disco_seal(&a, &a_b, &m, NOW + 1, genuine[1], MG_DISCO_MAX_LEN);
	m.type = MG_DISCO_CALL_ME_MAYBE;
	m.n_eps = 2;
	mg_sockaddr_parse("192.0.2.1:1", &m.eps[0]);
	mg_sockaddr_parse("[2001:db8::2]:65535", &m.eps[1]);
	genuine_len[2] = mg_disco_seal(&a, &a_b, &m, NOW + 2, genuine[2], MG_DISCO_MAX_LEN);
	for (int i = 0; i < 3; i++) {
		struct mg_disco_peer save = b_a;
		if (!genuine_len[i] ||
		    mg_disco_open(&b, &b_a, genuine[i], genuine_len[i], NOW, &m) != MG_DISCO_OK)
			return 1;
		b_a = save;
	}
	seed("disco_ping", 1, genuine[0], genuine_len[0]);
	seed("disco_pong", 1, genuine[1], genuine_len[1]);
	seed("disco_call_me_maybe", 1, genuine[2], genuine_len[2]);
	fuzz_token_add("\x21\x12\xa4\x42", 4);
	fuzz_token_add("\x80\x28\x00\x04", 4);
	fuzz_token_add("\x00\x20\x00\x08\x00\x01", 6);
	fuzz_token_add("\x00\x20\x00\x14\x00\x02", 6);
	fuzz_token_add_str(MG_DISCO_MAGIC);
	fuzz_set_max_len(1 + MG_STUN_MAX_LEN + 16);
	return 0;
}

static void one_stun(const uint8_t *p, size_t len)
{
	struct mg_stun_msg m;
	struct mg_sockaddr mapped;
	enum mg_stun_result r = mg_stun_parse(p, len, &m);
	bool wg_word = len >= 4 && p[0] >= 1 && p[0] <= 4 && !p[1] && !p[2] && !p[3];

	if (r == MG_STUN_OK) {
		FUZZ_CHECK(len == 20u + m.length, "len %zu length %u", len, m.length);
		FUZZ_CHECK(mg_stun_is_stun(p, len) || wg_word, "accepted but not STUN-looking");
		if (m.has_fingerprint)
			FUZZ_CHECK(mg_stun_fingerprint(p, len - 8) ==
			               ((uint32_t)p[len - 4] << 24 | (uint32_t)p[len - 3] << 16 |
			                (uint32_t)p[len - 2] << 8 | p[len - 1]),
			           "wrong FINGERPRINT accepted");
	}
	r = mg_stun_parse_response(p, len, NULL, &m, &mapped);
	if (r == MG_STUN_OK) {
		FUZZ_CHECK(m.type == MG_STUN_BINDING_SUCCESS, "type %04x", m.type);
		FUZZ_CHECK((mapped.family == 4 || mapped.family == 6) && mapped.port != 0,
		           "family %u port %u", mapped.family, mapped.port);
	}
	fuzz_outcome(mg_stun_result_str(r));
}

static void one_disco(const uint8_t *p, size_t len)
{
	struct mg_disco_peer save = b_a;
	struct mg_disco_stats before = b.stats;
	struct mg_disco_msg m;
	enum mg_disco_result r = mg_disco_open(&b, &b_a, p, len, NOW, &m);
	bool is_genuine = false;

	for (int i = 0; i < 3; i++)
		if (len == genuine_len[i] && memcmp(p, genuine[i], len) == 0)
			is_genuine = true;
	if (r == MG_DISCO_OK) {
		FUZZ_CHECK(is_genuine, "a message that is not a genuine seed opened");
		FUZZ_CHECK(b.stats.opened == before.opened + 1, "not counted");
	} else {
		FUZZ_CHECK((unsigned)r < MG_DISCO_ERR_COUNT, "reason %d", (int)r);
		FUZZ_CHECK(b.stats.refused[r] == before.refused[r] + 1, "refusal not counted");
		FUZZ_CHECK(!is_genuine, "a genuine message was refused: %s",
		           mg_disco_result_str(r));
	}
	b_a = save;
	b.stats = before;
	fuzz_outcome(mg_disco_result_str(r));
}

int fuzz_one(const uint8_t *data, size_t len)
{
	if (len < 1)
		return 0;
	if (data[0] & 1)
		one_disco(data + 1, len - 1);
	else
		one_stun(data + 1, len - 1);
	return 0;
}
