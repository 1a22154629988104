// SPDX-License-Identifier: GPL-2.0-only
/*
 * node/stun.c's codec: RFC 5769's sample messages, round trips through our own builder, and
 * crafted hostile packets (every length and attribute boundary, wrong cookie, wrong CRC,
 * WireGuard and disco first bytes). Also the blocking client against a local fake server.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "check.h"
#include "disco.h"
#include "stun.h"

/* RFC 5769 §2.1-2.3 (MESSAGE-INTEGRITY is not checked here: no credentials in Binding). */
static const char rfc_request[] =
    "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74"
    "002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149a"
    "eaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf";
static const char rfc_v4[] =
    "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000080001"
    "a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96";
static const char rfc_v6[] =
    "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000140002"
    "a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c";
static const uint8_t rfc_txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                     0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* A message from parts: header, then attrs (already encoded), optional FINGERPRINT. */
static size_t craft(uint8_t *out, uint16_t type, const uint8_t *txid, const uint8_t *attrs,
                    size_t alen, bool fp)
{
	size_t len = 20 + alen;

	mg_put_be16(out, type);
	mg_put_be32(out + 4, MG_STUN_MAGIC);
	memcpy(out + 8, txid, 12);
	if (alen) /* attrs may be NULL when there are none */
		memcpy(out + 20, attrs, alen);
	mg_put_be16(out + 2, (uint16_t)(alen + (fp ? 8 : 0)));
	if (fp) {
		mg_put_be16(out + len, MG_STUN_ATTR_FINGERPRINT);
		mg_put_be16(out + len + 2, 4);
		mg_put_be32(out + len + 4, mg_stun_fingerprint(out, len));
		len += 8;
	}
	return len;
}

static void test_rfc5769(void)
{
	uint8_t *b;
	size_t n;
	struct mg_stun_msg m;
	struct mg_sockaddr a;
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
	                               0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};

	CHECK(hex_decode(rfc_request, &b, &n));
	CHECK(mg_stun_is_stun(b, n));
	CHECK(mg_stun_parse(b, n, &m) == MG_STUN_OK);
	CHECK(m.type == MG_STUN_BINDING_REQUEST && m.has_fingerprint);
	/* PRIORITY (0x0024) is an ICE attribute this codec does not know. */
	CHECK(m.unknown_required == 0x0024, "got %04x", m.unknown_required);
	CHECK(mg_stun_parse_response(b, n, NULL, &m, &a) == MG_STUN_ERR_TYPE);
	free(b);

	CHECK(hex_decode(rfc_v4, &b, &n));
	CHECK(mg_stun_parse_response(b, n, rfc_txid, &m, &a) == MG_STUN_OK);
	CHECK(a.family == 4 && a.port == 32853 && memcmp(a.addr, "\xc0\x00\x02\x01", 4) == 0);
	CHECK(m.has_fingerprint);
	b[n - 1] ^= 1;
	CHECK(mg_stun_parse(b, n, &m) == MG_STUN_ERR_FINGERPRINT);
	free(b);

	CHECK(hex_decode(rfc_v6, &b, &n));
	CHECK(mg_stun_parse_response(b, n, rfc_txid, &m, &a) == MG_STUN_OK);
	CHECK(a.family == 6 && a.port == 32853 && memcmp(a.addr, v6, 16) == 0);
	{
		uint8_t other[12];
		memcpy(other, rfc_txid, 12);
		other[11] ^= 1;
		CHECK(mg_stun_parse_response(b, n, other, &m, &a) == MG_STUN_ERR_TXID);
	}
	free(b);
}

static void test_build(void)
{
	uint8_t req[64], txid[12], txid2[12];
	struct mg_stun_msg m;

	CHECK(mg_stun_build_request(req, 27, txid) == 0);
	CHECK(mg_stun_build_request(req, sizeof(req), txid) == MG_STUN_REQUEST_LEN);
	CHECK(mg_stun_is_stun(req, MG_STUN_REQUEST_LEN));
	CHECK(mg_stun_parse(req, MG_STUN_REQUEST_LEN, &m) == MG_STUN_OK);
	CHECK(m.type == MG_STUN_BINDING_REQUEST && m.has_fingerprint && m.n_attrs == 1);
	CHECK(memcmp(m.txid, txid, 12) == 0);
	mg_stun_build_request(req, sizeof(req), txid2);
	CHECK(memcmp(txid, txid2, 12) != 0, "transaction ids must be random");
}

static void test_addresses(void)
{
	static const uint8_t tx[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	uint8_t a[64], pkt[128];
	struct mg_stun_msg m;
	struct mg_sockaddr got;
	size_t n;

	/* MAPPED-ADDRESS only (RFC 3489 server): the fallback. */
	mg_put_be16(a, MG_STUN_ATTR_MAPPED_ADDRESS);
	mg_put_be16(a + 2, 8);
	memcpy(a + 4, "\x00\x01\x1f\x90\x0a\x00\x00\x07", 8);
	n = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, a, 12, false);
	CHECK(mg_stun_parse_response(pkt, n, tx, &m, &got) == MG_STUN_OK);
	CHECK(got.family == 4 && got.port == 8080 && got.addr[0] == 10 && got.addr[3] == 7);

	/* Both: XOR-MAPPED-ADDRESS wins. */
	mg_put_be16(a + 12, MG_STUN_ATTR_XOR_MAPPED_ADDRESS);
	mg_put_be16(a + 14, 8);
	a[16] = 0;
	a[17] = 1;
	mg_put_be16(a + 18, 1234 ^ 0x2112);
	mg_put_be32(a + 20, 0xc0a80101 ^ MG_STUN_MAGIC);
	n = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, a, 24, true);
	CHECK(mg_stun_parse_response(pkt, n, tx, &m, &got) == MG_STUN_OK);
	CHECK(got.port == 1234 && got.addr[0] == 192 && got.addr[3] == 1);

	/* Bad family, bad lengths for the family, port zero. */
	a[17] = 3;
	n = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, a + 12, 12, false);
	CHECK(mg_stun_parse(pkt, n, &m) == MG_STUN_ERR_ATTR);
	a[17] = 2; /* IPv6 family with an IPv4-sized value */
	n = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, a + 12, 12, false);
	CHECK(mg_stun_parse(pkt, n, &m) == MG_STUN_ERR_ATTR);
	a[17] = 1;
	mg_put_be16(a + 18, 0x2112);
	n = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, a + 12, 12, false);
	CHECK(mg_stun_parse_response(pkt, n, tx, &m, &got) == MG_STUN_ERR_NO_ADDRESS);

	/* No address at all; an error response; an unknown comprehension-required one. */
	n = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, NULL, 0, true);
	CHECK(mg_stun_parse_response(pkt, n, tx, &m, &got) == MG_STUN_ERR_NO_ADDRESS);
	memcpy(a, "\x00\x09\x00\x04\x00\x00\x04\x14", 8);
	n = craft(pkt, MG_STUN_BINDING_ERROR, tx, a, 8, true);
	CHECK(mg_stun_parse_response(pkt, n, tx, &m, &got) == MG_STUN_ERR_ERROR_RESPONSE);
	CHECK(m.error_code == 420, "got %u", m.error_code);
	memcpy(a, "\x00\x09\x00\x04\x00\x00\x09\x14", 8); /* class 9 */
	n = craft(pkt, MG_STUN_BINDING_ERROR, tx, a, 8, true);
	CHECK(mg_stun_parse(pkt, n, &m) == MG_STUN_ERR_ATTR);
	memcpy(a, "\x7f\x01\x00\x00", 4);
	mg_put_be16(a + 4, MG_STUN_ATTR_XOR_MAPPED_ADDRESS);
	mg_put_be16(a + 6, 8);
	memcpy(a + 8, "\x00\x01\x25\x16\x21\x12\xa4\x43", 8);
	n = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, a, 16, true);
	CHECK(mg_stun_parse_response(pkt, n, tx, &m, &got) == MG_STUN_ERR_UNKNOWN_REQUIRED);
	a[0] = 0xff; /* comprehension-optional: ignored */
	n = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, a, 16, true);
	CHECK(mg_stun_parse_response(pkt, n, tx, &m, &got) == MG_STUN_OK);
	CHECK(got.port == 1028 && got.addr[3] == 1);
}

static void test_hostile(void)
{
	static const uint8_t tx[12] = {0};
	uint8_t pkt[2048], req[64], txid[12];
	struct mg_stun_msg m;
	size_t n = mg_stun_build_request(req, sizeof(req), txid);

	/* Every truncation of a valid message is refused, never read past. */
	for (size_t i = 0; i < n; i++) {
		uint8_t *cut = malloc(i ? i : 1);
		memcpy(cut, req, i);
		CHECK(mg_stun_parse(cut, i, &m) != MG_STUN_OK, "length %zu", i);
		free(cut);
	}
	/* Trailing bytes, bad cookie, top bits, odd length field. */
	memcpy(pkt, req, n);
	pkt[n] = 0;
	CHECK(mg_stun_parse(pkt, n + 4, &m) == MG_STUN_ERR_LENGTH);
	pkt[4] ^= 1;
	CHECK(mg_stun_parse(pkt, n, &m) == MG_STUN_ERR_NOT_STUN && !mg_stun_is_stun(pkt, n));
	memcpy(pkt, req, n);
	pkt[0] |= 0x40;
	CHECK(mg_stun_parse(pkt, n, &m) == MG_STUN_ERR_NOT_STUN);
	memcpy(pkt, req, n);
	pkt[3] = 9;
	CHECK(mg_stun_parse(pkt, n, &m) == MG_STUN_ERR_LENGTH);
	/* An attribute length past the end, and one that wraps when padded. */
	memcpy(pkt, req, n);
	mg_put_be16(pkt + 22, 5);
	CHECK(mg_stun_parse(pkt, n, &m) == MG_STUN_ERR_ATTR);
	mg_put_be16(pkt + 22, 0xffff);
	CHECK(mg_stun_parse(pkt, n, &m) == MG_STUN_ERR_ATTR);
	/* FINGERPRINT not last. */
	{
		uint8_t a[16] = {0x80, 0x28, 0, 4, 0, 0, 0, 0, 0x80, 0x22, 0, 4, 'x', 'y', 'z', 0};
		size_t k = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, a, 16, false);
		CHECK(mg_stun_parse(pkt, k, &m) == MG_STUN_ERR_FINGERPRINT);
	}
	/* Too long; a body of many tiny attributes is walked without trouble. */
	memset(pkt, 0, sizeof(pkt));
	CHECK(mg_stun_parse(pkt, MG_STUN_MAX_LEN + 1, &m) == MG_STUN_ERR_TOO_LONG);
	{
		uint8_t a[1200];
		for (size_t i = 0; i < sizeof(a); i += 4)
			memcpy(a + i, "\x80\x99\x00\x00", 4);
		size_t k = craft(pkt, MG_STUN_BINDING_SUCCESS, tx, a, sizeof(a), true);
		CHECK(mg_stun_parse(pkt, k, &m) == MG_STUN_OK && m.n_attrs == 301);
	}
	/* What shares the port: WireGuard messages and disco are not STUN. */
	for (uint8_t t = 1; t <= 4; t++) {
		uint8_t wg[148] = {t};
		memcpy(wg + 4, "\x21\x12\xa4\x42", 4); /* even with the cookie at offset 4 */
		CHECK(!mg_stun_is_stun(wg, sizeof(wg)), "wg type %u", t);
	}
	memcpy(pkt, MG_DISCO_MAGIC, MG_DISCO_MAGIC_LEN);
	CHECK(!mg_stun_is_stun(pkt, 100));
	CHECK(!mg_stun_is_stun(req, 19));
}

/* ---- the client against a fake server on loopback ---- */

struct fake {
	int fd;
	int mode; /* 0: answer; 1: junk first, then a wrong txid, then the answer; 2: error */
};

static void *fake_server(void *arg)
{
	struct fake *f = arg;
	uint8_t buf[1500], out[128], a[12];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(f->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	size_t k;

	if (n < 20)
		return NULL;
	mg_put_be16(a, MG_STUN_ATTR_XOR_MAPPED_ADDRESS);
	mg_put_be16(a + 2, 8);
	a[4] = 0;
	a[5] = 1;
	mg_put_be16(a + 6, ntohs(from.sin_port) ^ 0x2112);
	mg_put_be32(a + 8, ntohl(from.sin_addr.s_addr) ^ MG_STUN_MAGIC);
	if (f->mode == 1) {
		uint8_t tx[12];
		memcpy(tx, buf + 8, 12);
		tx[0] ^= 1;
		sendto(f->fd, "\x01\x00\x00\x00junk", 8, 0, (struct sockaddr *)&from, fl);
		k = craft(out, MG_STUN_BINDING_SUCCESS, tx, a, 12, true);
		sendto(f->fd, out, k, 0, (struct sockaddr *)&from, fl);
	}
	if (f->mode == 2)
		k = craft(out, MG_STUN_BINDING_ERROR, buf + 8,
		          (const uint8_t *)"\x00\x09\x00\x04\x00\x00\x05\x00", 8, true);
	else
		k = craft(out, MG_STUN_BINDING_SUCCESS, buf + 8, a, 12, true);
	sendto(f->fd, out, k, 0, (struct sockaddr *)&from, fl);
	return NULL;
}

static unsigned others;
static void count_other(void *arg, const uint8_t *b, size_t n, const struct mg_sockaddr *f)
{
	(void)arg;
	(void)b;
	(void)n;
	(void)f;
	others++;
}

static int udp_bound(struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t l = sizeof(*sin);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)sin, sizeof(*sin));
	getsockname(fd, (struct sockaddr *)sin, &l);
	return fd;
}

static void test_client(void)
{
	for (int mode = 0; mode < 3; mode++) {
		struct sockaddr_in ssin, csin;
		struct fake f = {.fd = udp_bound(&ssin), .mode = mode};
		int cfd = udp_bound(&csin);
		struct mg_sockaddr srv = {.family = 4, .port = ntohs(ssin.sin_port)};
		struct mg_stun_query q = {.timeout_ms = 2000, .other = count_other};
		pthread_t th;
		char err[200];
		int r;

		memcpy(srv.addr, &ssin.sin_addr, 4);
		others = 0;
		pthread_create(&th, NULL, fake_server, &f);
		r = mg_stun_query(cfd, &srv, &q, err, sizeof(err));
		pthread_join(th, NULL);
		if (mode == 2) {
			CHECK(r == -1 && q.msg.error_code == 500, "%s", err);
		} else {
			CHECK(r == 0, "mode %d: %s", mode, err);
			CHECK(q.mapped.port == ntohs(csin.sin_port) && q.mapped.addr[0] == 127);
			CHECK(others == (mode == 1 ? 2u : 0u), "mode %d others %u", mode, others);
		}
		close(f.fd);
		close(cfd);
	}
	/* Nobody answers: bounded, with retransmissions. */
	{
		struct sockaddr_in ssin, csin;
		int sfd = udp_bound(&ssin), cfd = udp_bound(&csin);
		struct mg_sockaddr srv = {.family = 4, .port = ntohs(ssin.sin_port)};
		struct mg_stun_query q = {.timeout_ms = 600};
		char err[200];

		memcpy(srv.addr, &ssin.sin_addr, 4);
		CHECK(mg_stun_query(cfd, &srv, &q, err, sizeof(err)) == -1);
		CHECK(q.sent >= 2, "sent %u", q.sent);
		close(sfd);
		close(cfd);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_rfc5769();
	test_build();
	test_addresses();
	test_hostile();
	test_client();
	return check_done("stun");
}
