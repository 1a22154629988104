/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ICMP errors: every field and checksum of each kind (checksums recomputed here from RFC 1071),
 * the quoting limits, the never-answer rules and the token bucket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "check.h"
#include "dataplane.h"
#include "echo.h"
#include "icmp.h"
#include "pkt.h"
#include "ports.h"

#define HZ 1000000000ull

static struct mg_dp_addrs addrs; /* gw.addrs: mutable here, no worker runs meanwhile */
static struct mg_gateway gw;
static struct rte_mempool *pool;
static struct mg_icmp_limiter lim;
static uint64_t now = HZ;

static const uint8_t our_mac[6] = {0x02, 0xaa, 0, 0, 0, 1};
static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x10};
static const uint8_t our_ip[4] = {192, 0, 2, 1};
static const uint8_t host_ip[4] = {192, 0, 2, 10};
static const uint8_t far_ip[4] = {10, 9, 9, 9};
static const uint8_t our_ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t host_ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x10};
static const uint8_t far_ip6[16] = {0xfd, 0x00, [15] = 9};

static uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static bool sum_ok(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc == 0xffff;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

/* An IPv4 packet of total bytes in an Ethernet frame; payload bytes follow a pattern. */
static size_t v4_frame(uint8_t *f, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                       uint16_t total, uint16_t frag)
{
	uint8_t *ip = f + 14;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, host_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	for (size_t i = 0; i < total; i++)
		ip[i] = (uint8_t)(i * 7 + 3);
	ip[0] = 0x45;
	ip[1] = 0;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = 1;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	return 14 + (size_t)total;
}

static size_t v6_frame(uint8_t *f, const uint8_t *src, const uint8_t *dst, uint8_t nh,
                       uint16_t total)
{
	uint8_t *ip = f + 14;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, host_mac, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	for (size_t i = 0; i < total; i++)
		ip[i] = (uint8_t)(i * 5 + 1);
	memset(ip, 0, 8);
	ip[0] = 0x60;
	ip[4] = (uint8_t)((total - 40) >> 8);
	ip[5] = (uint8_t)(total - 40);
	ip[6] = nh;
	ip[7] = 1;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	return 14 + (size_t)total;
}

static struct rte_mbuf *mk(const uint8_t *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	if (m == NULL)
		abort();
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	return m;
}

static struct rte_mbuf *err_for(const uint8_t *f, size_t len, uint8_t port, enum mg_icmp_kind k,
                                uint32_t mtu)
{
	struct rte_mbuf *m = mk(f, len), *r;

	r = mg_icmp_error(&gw, port, m, k, mtu, &lim, now);
	rte_pktmbuf_free(m);
	return r;
}

/* Checks an IPv4 error against the offending frame; returns the quote length. */
static size_t check_v4(struct rte_mbuf *r, const uint8_t *orig, size_t orig_ip_len,
                       const uint8_t *src, uint8_t type, uint8_t code, uint32_t word)
{
	uint8_t out[2048];
	const uint8_t *ip = out + 14, *icmp = ip + 20;
	size_t len, quote;

	CHECK(r != NULL, "no reply");
	if (r == NULL)
		return 0;
	len = rte_pktmbuf_pkt_len(r);
	memcpy(out, rte_pktmbuf_read(r, 0, len, out), len);
	rte_pktmbuf_free(r);
	quote = len - 14 - 28;
	CHECK(memcmp(out, orig + 6, 6) == 0 && memcmp(out + 6, our_mac, 6) == 0, "MACs swapped");
	CHECK(out[12] == 0x08 && out[13] == 0);
	CHECK(ip[0] == 0x45 && ip[1] == 0xc0 && rd16(ip + 2) == len - 14, "ip header");
	CHECK(rd16(ip + 6) == 0 && ip[8] == 64 && ip[9] == 1);
	CHECK(memcmp(ip + 12, src, 4) == 0, "source");
	CHECK(memcmp(ip + 16, orig + 14 + 12, 4) == 0, "back to the sender");
	CHECK(sum_ok(ref_sum(ip, 20, 0)), "ip checksum");
	CHECK(icmp[0] == type && icmp[1] == code, "type %u code %u", icmp[0], icmp[1]);
	CHECK(rd32(icmp + 4) == word, "word %#x", rd32(icmp + 4));
	CHECK(sum_ok(ref_sum(icmp, 8 + quote, 0)), "icmp checksum");
	CHECK(quote == RTE_MIN(orig_ip_len, (size_t)548), "quote %zu of %zu", quote, orig_ip_len);
	CHECK(memcmp(icmp + 8, orig + 14, quote) == 0, "quoted bytes");
	return quote;
}

static size_t check_v6(struct rte_mbuf *r, const uint8_t *orig, size_t orig_ip_len,
                       const uint8_t *src, uint8_t type, uint8_t code, uint32_t word)
{
	uint8_t out[2048];
	const uint8_t *ip = out + 14, *icmp = ip + 40;
	size_t len, quote;
	uint32_t plen;

	CHECK(r != NULL, "no reply");
	if (r == NULL)
		return 0;
	len = rte_pktmbuf_pkt_len(r);
	memcpy(out, rte_pktmbuf_read(r, 0, len, out), len);
	rte_pktmbuf_free(r);
	quote = len - 14 - 48;
	plen = rd16(ip + 4);
	CHECK(memcmp(out, orig + 6, 6) == 0 && memcmp(out + 6, our_mac, 6) == 0);
	CHECK(out[12] == 0x86 && out[13] == 0xdd);
	CHECK(rd32(ip) == 0x60000000u && plen == len - 14 - 40 && ip[6] == 58 && ip[7] == 64);
	CHECK(memcmp(ip + 8, src, 16) == 0, "source");
	CHECK(memcmp(ip + 24, orig + 14 + 8, 16) == 0, "back to the sender");
	CHECK(icmp[0] == type && icmp[1] == code, "type %u code %u", icmp[0], icmp[1]);
	CHECK(rd32(icmp + 4) == word, "word %u", rd32(icmp + 4));
	uint8_t ph[8] = {0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, 0, 0, 0, 58};
	CHECK(sum_ok(ref_sum(icmp, plen, ref_sum(ph, 8, ref_sum(ip + 8, 32, 0)))),
	      "icmpv6 checksum");
	CHECK(quote == RTE_MIN(orig_ip_len, (size_t)1232), "quote %zu", quote);
	CHECK(memcmp(icmp + 8, orig + 14, quote) == 0, "quoted bytes");
	return quote;
}

static void test_v4_kinds(void)
{
	uint8_t f[2048];
	size_t len;
	struct rte_mbuf *m, *r;

	len = v4_frame(f, host_ip, far_ip, 17, 100, 0);
	check_v4(err_for(f, len, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0), f, 100, our_ip, 3, 1, 0);
	len = v4_frame(f, host_ip, far_ip, 17, 1500, 0x4000);
	CHECK(check_v4(err_for(f, len, MG_PORT_LAN, MG_ICMP_TOO_BIG, 1420), f, 1500, our_ip, 3, 4,
	               1420) == 548,
	      "576-byte limit");
	len = v4_frame(f, host_ip, far_ip, 6, 60, 0x4000);
	check_v4(err_for(f, len, MG_PORT_LAN, MG_ICMP_TIME_EXCEEDED, 0), f, 60, our_ip, 11, 0, 0);

	/* header with options: quoted whole */
	len = v4_frame(f, host_ip, far_ip, 17, 90, 0);
	f[14] = 0x46;
	check_v4(err_for(f, len, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0), f, 90, our_ip, 3, 1, 0);

	/* the frame carries less than the header claims: quote what is there */
	len = v4_frame(f, host_ip, far_ip, 17, 1000, 0);
	check_v4(err_for(f, 14 + 200, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0), f, 200, our_ip, 3, 1,
	         0);
	/* Ethernet padding after a short packet is not quoted */
	len = v4_frame(f, host_ip, far_ip, 17, 28, 0);
	memset(f + len, 0xee, 18);
	check_v4(err_for(f, len + 18, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0), f, 28, our_ip, 3, 1, 0);

	/* a chained mbuf quotes across segments */
	len = v4_frame(f, host_ip, far_ip, 17, 300, 0);
	m = mk(f, 14 + 60);
	struct rte_mbuf *tail = mk(f + 14 + 60, len - 14 - 60);
	CHECK(rte_pktmbuf_chain(m, tail) == 0);
	r = mg_icmp_error(&gw, MG_PORT_LAN, m, MG_ICMP_UNREACHABLE, 0, &lim, now);
	rte_pktmbuf_free(m);
	check_v4(r, f, 300, our_ip, 3, 1, 0);

	/* identification advances per error */
	uint16_t id1, id2;
	len = v4_frame(f, host_ip, far_ip, 17, 40, 0);
	r = err_for(f, len, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0);
	id1 = rd16(rte_pktmbuf_mtod_offset(r, uint8_t *, 18));
	rte_pktmbuf_free(r);
	r = err_for(f, len, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0);
	id2 = rd16(rte_pktmbuf_mtod_offset(r, uint8_t *, 18));
	rte_pktmbuf_free(r);
	CHECK(id2 == (uint16_t)(id1 + 1));
}

static void test_v6_kinds(void)
{
	uint8_t f[2048], ll[16] = {0xfe, 0x80, [8] = 0x00, 0xaa, 0, 0xff, 0xfe, 0, 0, 1};
	static const uint8_t host_ll[16] = {0xfe, 0x80, [15] = 0x42};
	size_t len;

	len = v6_frame(f, host_ip6, far_ip6, 17, 200);
	check_v6(err_for(f, len, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0), f, 200, our_ip6, 1, 3, 0);
	len = v6_frame(f, host_ip6, far_ip6, 17, 1500);
	CHECK(check_v6(err_for(f, len, MG_PORT_LAN, MG_ICMP_TOO_BIG, 1420), f, 1500, our_ip6, 2, 0,
	               1420) == 1232,
	      "1280-byte limit");
	check_v6(err_for(f, len, MG_PORT_LAN, MG_ICMP_TOO_BIG, 1000), f, 1500, our_ip6, 2, 0, 1280);
	len = v6_frame(f, host_ip6, far_ip6, 6, 80);
	check_v6(err_for(f, len, MG_PORT_LAN, MG_ICMP_TIME_EXCEEDED, 0), f, 80, our_ip6, 3, 0, 0);
	/* a link-local sender is answered from our link-local address (EUI-64 of our MAC) */
	len = v6_frame(f, host_ll, far_ip6, 17, 64);
	check_v6(err_for(f, len, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0), f, 64, ll, 1, 3, 0);
}

/* Expects no reply and exactly one more count in *counter. */
static void expect_none(const uint8_t *f, size_t len, enum mg_icmp_kind k, uint64_t *counter,
                        const char *what)
{
	uint64_t before = *counter;
	struct rte_mbuf *r = err_for(f, len, MG_PORT_LAN, k, 1280);

	CHECK(r == NULL && *counter == before + 1, "%s", what);
	rte_pktmbuf_free(r);
}

static void expect_reply(const uint8_t *f, size_t len, enum mg_icmp_kind k, const char *what)
{
	struct rte_mbuf *r = err_for(f, len, MG_PORT_LAN, k, 1280);

	CHECK(r != NULL, "%s", what);
	rte_pktmbuf_free(r);
}

static void test_rules(void)
{
	uint8_t f[2048];
	size_t len;
	static const uint8_t mc4[4] = {224, 0, 0, 5}, bc4[4] = {255, 255, 255, 255};
	static const uint8_t subnet_bc[4] = {192, 0, 2, 255}, zero4[4], lo4[4] = {127, 0, 0, 1};
	static const uint8_t mc6[16] = {0xff, 0x02, [15] = 1}, unspec6[16], lo6[16] = {[15] = 1};

	for (uint8_t t = 0; t < 20; t++) {
		bool error = t == 3 || t == 4 || t == 5 || t == 11 || t == 12;

		len = v4_frame(f, host_ip, far_ip, 1, 64, 0);
		f[14 + 20] = t;
		if (error)
			expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "ICMP error");
		else
			expect_reply(f, len, MG_ICMP_UNREACHABLE, "ICMP query");
	}
	len = v4_frame(f, host_ip, far_ip, 17, 64, 0x2000 | 100);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "non-first fragment");
	len = v4_frame(f, host_ip, far_ip, 17, 64, 0x2000);
	expect_reply(f, len, MG_ICMP_UNREACHABLE, "first fragment");
	len = v4_frame(f, host_ip, mc4, 17, 64, 0);
	expect_none(f, len, MG_ICMP_TOO_BIG, &lim.not_allowed, "multicast destination");
	len = v4_frame(f, host_ip, bc4, 17, 64, 0);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "broadcast destination");
	len = v4_frame(f, host_ip, subnet_bc, 17, 64, 0);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "subnet broadcast");
	len = v4_frame(f, zero4, far_ip, 17, 64, 0);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "source 0.0.0.0");
	len = v4_frame(f, lo4, far_ip, 17, 64, 0);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "loopback source");
	len = v4_frame(f, mc4, far_ip, 17, 64, 0);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "multicast source");
	len = v4_frame(f, host_ip, far_ip, 17, 64, 0);
	memset(f, 0xff, 6);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "link-layer broadcast");
	f[0] = 0x01, f[1] = 0, f[2] = 0x5e;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "link-layer multicast");

	len = v4_frame(f, host_ip, far_ip, 17, 64, 0);
	expect_none(f, 20, MG_ICMP_UNREACHABLE, &lim.malformed, "truncated frame");
	f[14] = 0x65;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.malformed, "wrong IP version");
	f[14] = 0x43;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.malformed, "IHL below 5");
	f[12] = 0x08, f[13] = 0x06, f[14] = 0x45;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.malformed, "ARP is not answered");

	/* IPv6 */
	for (unsigned t = 0; t < 256; t += 1) {
		bool error = t < 128 || t == 137;

		len = v6_frame(f, host_ip6, far_ip6, 58, 80);
		f[14 + 40] = (uint8_t)t;
		if (error)
			expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "ICMPv6 error");
		else
			expect_reply(f, len, MG_ICMP_UNREACHABLE, "ICMPv6 informational");
	}
	/* fragment header: offset 8 (non-first), then first fragments */
	len = v6_frame(f, host_ip6, far_ip6, 44, 120);
	f[54] = 17, f[55] = 0, f[56] = 0, f[57] = 8 | 1;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "IPv6 non-first fragment");
	f[57] = 1;
	expect_reply(f, len, MG_ICMP_UNREACHABLE, "IPv6 first fragment");
	f[54] = 58, f[62] = 1;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "fragmented ICMPv6 error");
	/* hop-by-hop (8 bytes) then an ICMPv6 error */
	len = v6_frame(f, host_ip6, far_ip6, 0, 120);
	f[54] = 58, f[55] = 0, f[62] = 4;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "error behind hop-by-hop");
	f[62] = 128;
	expect_reply(f, len, MG_ICMP_UNREACHABLE, "echo behind hop-by-hop");
	len = v6_frame(f, host_ip6, mc6, 17, 120);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "IPv6 multicast destination");
	expect_reply(f, len, MG_ICMP_TOO_BIG, "packet too big may answer multicast");
	len = v6_frame(f, mc6, far_ip6, 17, 120);
	expect_none(f, len, MG_ICMP_TOO_BIG, &lim.not_allowed, "IPv6 multicast source");
	len = v6_frame(f, unspec6, far_ip6, 17, 120);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "unspecified source");
	len = v6_frame(f, lo6, far_ip6, 17, 120);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.not_allowed, "::1 source");
	len = v6_frame(f, host_ip6, far_ip6, 17, 120);
	f[18] = 0, f[19] = 0;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.malformed, "payload length 0");
}

static void test_sources(void)
{
	uint8_t f[2048];
	size_t len = v4_frame(f, host_ip, far_ip, 17, 64, 0);
	static const uint8_t overlay[4] = {100, 64, 0, 1};
	struct rte_mbuf *r;
	uint8_t ll[16] = {0xfe, 0x80, [8] = 0x00, 0xaa, 0, 0xff, 0xfe, 0, 0, 2};

	/* the mesh port has no address of its own */
	uint64_t before = lim.no_source;
	r = err_for(f, len, MG_PORT_MESH, MG_ICMP_UNREACHABLE, 0);
	CHECK(r == NULL && lim.no_source == before + 1, "no IPv4 source");
	addrs.addresses[0] = (struct mg_prefix){.family = 4, .len = 32, .addr = {100, 64, 0, 1}};
	addrs.n_addresses = 1;
	r = err_for(f, len, MG_PORT_MESH, MG_ICMP_UNREACHABLE, 0);
	CHECK(r != NULL && memcmp(rte_pktmbuf_mtod_offset(r, uint8_t *, 26), overlay, 4) == 0,
	      "overlay address used");
	CHECK(r && memcmp(rte_pktmbuf_mtod_offset(r, uint8_t *, 6), &gw.ports[1].mac, 6) == 0,
	      "from the mesh port's MAC");
	rte_pktmbuf_free(r);
	addrs.n_addresses = 0;
	len = v6_frame(f, host_ip6, far_ip6, 17, 100);
	r = err_for(f, len, MG_PORT_MESH, MG_ICMP_UNREACHABLE, 0);
	CHECK(r != NULL && memcmp(rte_pktmbuf_mtod_offset(r, uint8_t *, 22), ll, 16) == 0,
	      "IPv6 falls back to the link-local address");
	rte_pktmbuf_free(r);
	CHECK(err_for(f, len, 7, MG_ICMP_UNREACHABLE, 0) == NULL, "bad port");

	/* no mbuf */
	struct rte_mempool *tiny = rte_pktmbuf_pool_create("tiny", 2, 0, 0, 2048, SOCKET_ID_ANY);
	struct rte_mbuf *hold[2];
	CHECK(tiny && rte_pktmbuf_alloc_bulk(tiny, hold, 2) == 0);
	gw.ports[1].pool = tiny;
	before = lim.nomem;
	CHECK(err_for(f, len, MG_PORT_MESH, MG_ICMP_UNREACHABLE, 0) == NULL &&
	          lim.nomem == before + 1,
	      "nomem counted");
	gw.ports[1].pool = pool;
	rte_pktmbuf_free_bulk(hold, 2);
	rte_mempool_free(tiny);
}

static void test_rate_limit(void)
{
	uint8_t f[2048], bad[2048];
	size_t len = v4_frame(f, host_ip, far_ip, 17, 64, 0);
	size_t blen = v4_frame(bad, host_ip, (const uint8_t[]){224, 0, 0, 1}, 17, 64, 0);
	unsigned sent = 0;

	mg_icmp_limiter_init(&lim, MG_ICMP_RATE_PER_S, MG_ICMP_BURST, HZ);
	now = 5 * HZ;
	for (int i = 0; i < 60; i++) {
		struct rte_mbuf *r = err_for(f, len, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0);
		sent += r != NULL;
		rte_pktmbuf_free(r);
	}
	CHECK(sent == 50 && lim.sent == 50 && lim.rate_limited == 10, "burst: %u", sent);
	/* 1000/s: one token per millisecond */
	now += HZ / 1000;
	expect_reply(f, len, MG_ICMP_UNREACHABLE, "refilled one token");
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.rate_limited, "and only one");
	now += HZ / 2000;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.rate_limited, "half a token");
	now += HZ / 2000;
	expect_reply(f, len, MG_ICMP_UNREACHABLE, "second half");
	/* a long pause refills to the burst, no more */
	now += 3600 * HZ;
	sent = 0;
	for (int i = 0; i < 80; i++) {
		struct rte_mbuf *r = err_for(f, len, MG_PORT_LAN, MG_ICMP_UNREACHABLE, 0);
		sent += r != NULL;
		rte_pktmbuf_free(r);
	}
	CHECK(sent == 50, "capped at the burst: %u", sent);
	/* suppressed-by-rule packets spend no token */
	mg_icmp_limiter_init(&lim, 10, 2, HZ);
	for (int i = 0; i < 5; i++)
		expect_none(bad, blen, MG_ICMP_UNREACHABLE, &lim.not_allowed, "multicast");
	expect_reply(f, len, MG_ICMP_UNREACHABLE, "token 1");
	expect_reply(f, len, MG_ICMP_UNREACHABLE, "token 2");
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.rate_limited, "bucket empty");
	/* time going backwards does not mint tokens */
	now -= HZ;
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.rate_limited, "clock went back");
	/* rate 0 disables errors */
	mg_icmp_limiter_init(&lim, 0, 50, HZ);
	expect_none(f, len, MG_ICMP_UNREACHABLE, &lim.rate_limited, "disabled");
	mg_icmp_limiter_init(&lim, MG_ICMP_RATE_PER_S, MG_ICMP_BURST, HZ);
}

/* Echo for the gateway's own addresses (echo.c): a request built here is answered in place with
 * correct checksums, and the answer is recognised as a reply to us once turned around. */
static void test_echo(void)
{
	static const uint8_t host4[4] = {192, 0, 2, 7};
	static const uint8_t host6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
	const uint8_t *our4 = addrs.ports[0].ipv4.addr;
	uint8_t pkt[MG_ECHO_IP_HLEN_MAX + 8 + 4], orig[sizeof(pkt)];
	uint32_t len;

	for (int family = 4; family <= 6; family += 2) {
		const uint8_t *host = family == 4 ? host4 : host6,
		              *us = family == 4 ? our4 : our_ip6;
		size_t n =
		    mg_echo_request_build(pkt, (uint8_t)family, host, us, 0x1234, 7, "ping", 4);
		size_t hl = family == 4 ? 20 : 40;
		CHECK(n == hl + 12, "request length %zu", n);
		if (family == 4)
			CHECK(rte_raw_cksum(pkt, 20) == 0xffff &&
			          rte_raw_cksum(pkt + 20, 12) == 0xffff,
			      "v4 request checksums");
		else
			CHECK(mg_icmp6_cksum(host, us, pkt + 40, 12) == 0, "v6 request checksum");
		CHECK(!mg_echo_is_reply_to_us(&gw, 0, pkt, (uint32_t)n), "a request is no reply");
		memcpy(orig, pkt, n);
		CHECK(mg_echo_reply_in_place(&gw, 0, pkt, (uint32_t)n, &len) && len == n,
		      "answered");
		CHECK(pkt[hl] == (family == 4 ? 0 : 129) && pkt[hl + 1] == 0, "reply type");
		CHECK(memcmp(pkt + hl + 4, orig + hl + 4, 8) == 0, "id, sequence and data kept");
		if (family == 4)
			CHECK(memcmp(pkt + 12, our4, 4) == 0 && memcmp(pkt + 16, host4, 4) == 0 &&
			          rte_raw_cksum(pkt, 20) == 0xffff &&
			          rte_raw_cksum(pkt + 20, 12) == 0xffff,
			      "v4 reply from us, checksums correct");
		else
			CHECK(memcmp(pkt + 8, our_ip6, 16) == 0 &&
			          mg_icmp6_cksum(our_ip6, host6, pkt + 40, 12) == 0,
			      "v6 reply from us, checksum correct");
		/* Our own request to a host comes back as a reply to us. */
		n = mg_echo_request_build(pkt, (uint8_t)family, us, host, 1, 1, "ping", 4);
		CHECK(!mg_echo_reply_in_place(&gw, 0, pkt, (uint32_t)n, &len),
		      "not a request to us");
		pkt[hl] = family == 4 ? 0 : 129;
		uint8_t tmp[16];
		unsigned al = family == 4 ? 4 : 16, so = family == 4 ? 12 : 8;
		memcpy(tmp, pkt + so, al);
		memcpy(pkt + so, pkt + so + al, al);
		memcpy(pkt + so + al, tmp, al);
		CHECK(mg_echo_is_reply_to_us(&gw, 0, pkt, (uint32_t)n), "reply to us");
	}
}

int main(int argc, char **argv)
{
	char err[256], prefix[64];
	unsigned avail;

	(void)argc;
	(void)argv;
	snprintf(prefix, sizeof(prefix), "--file-prefix=mg_icmp_%d", (int)getpid());
	gw.conf.eal_args[0] = (char *)"--no-huge";
	gw.conf.eal_args[1] = (char *)"--in-memory";
	gw.conf.eal_args[2] = (char *)"--no-pci";
	gw.conf.eal_args[3] = prefix;
	gw.conf.eal_args[4] = (char *)"-m";
	gw.conf.eal_args[5] = (char *)"64";
	gw.conf.eal_args[6] = (char *)"--log-level=error";
	gw.conf.n_eal_args = 7;
	if (mg_eal_init(&gw.conf, "test_icmp", err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	pool = rte_pktmbuf_pool_create("icmp_test", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                               SOCKET_ID_ANY);
	if (pool == NULL)
		return 1;
	addrs.ports[0].ipv4 = (struct mg_prefix){.family = 4, .len = 24, .addr = {192, 0, 2, 1}};
	addrs.ports[0].has_ipv4 = true;
	addrs.ports[0].ipv6 = (struct mg_prefix){.family = 6, .len = 64};
	memcpy(addrs.ports[0].ipv6.addr, our_ip6, 16);
	addrs.ports[0].has_ipv6 = true;
	gw.addrs = &addrs;
	for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
		gw.ports[p].pool = pool;
		memcpy(&gw.ports[p].mac, our_mac, 6);
		gw.ports[p].mac.addr_bytes[5] = (uint8_t)(p + 1);
	}
	mg_icmp_limiter_init(&lim, 1000000, 1000000, HZ);
	avail = rte_mempool_avail_count(pool);
	test_v4_kinds();
	test_v6_kinds();
	test_rules();
	test_sources();
	test_rate_limit();
	test_echo();
	CHECK(rte_mempool_avail_count(pool) == avail, "no mbuf leaked");
	rte_mempool_free(pool);
	mg_eal_fini();
	return check_done("icmp");
}
