// SPDX-License-Identifier: GPL-2.0-only
/*
 * Exit NAT: translation both ways on random packets with every checksum compared against a full
 * recompute, ICMP errors (quoted header included), the MSS clamp, endpoint-independent mappings,
 * the burst path against the per-packet one, port-range exhaustion and table exhaustion, expiry
 * under an injected clock, RCU deferral.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_rcu_qsbr.h>
#include <rte_malloc.h>

#include "check.h"
#include "eal_test_env.h"
#include "nat.h"
#include "pkt.h"

#define NS 1000000000ull

static const uint8_t UP4[4] = {203, 0, 113, 2};
static const uint8_t UP6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
static const uint8_t ROUTER4[4] = {198, 51, 100, 1};
static const uint8_t ROUTER6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 1};

static uint64_t rng_state = 0x1234567;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

static struct mg_dp_addrs addrs(void)
{
	struct mg_dp_addrs a;
	memset(&a, 0, sizeof(a));
	struct mg_port_addrs *m = &a.ports[MG_PORT_MESH];
	m->has_ipv4 = m->has_ipv6 = true;
	m->ipv4 = (struct mg_prefix){.family = 4, .len = 24};
	memcpy(m->ipv4.addr, UP4, 4);
	m->ipv6 = (struct mg_prefix){.family = 6, .len = 64};
	memcpy(m->ipv6.addr, UP6, 16);
	struct mg_port_addrs *l = &a.ports[MG_PORT_LAN];
	l->has_ipv4 = true;
	l->ipv4 = (struct mg_prefix){.family = 4, .len = 24, .addr = {192, 168, 1, 1}};
	a.addresses[0] = (struct mg_prefix){.family = 4, .len = 10, .addr = {100, 64, 0, 1}};
	a.n_addresses = 1;
	return a;
}

static struct mg_nat *make(uint16_t lo, uint16_t hi, uint32_t flows, unsigned workers,
                           struct rte_rcu_qsbr *rcu)
{
	struct mg_dp_exit_config cfg = {.enabled = true, .uplink = MG_PORT_MESH};
	cfg.port_min = lo;
	cfg.port_max = hi;
	cfg.max_flows = flows;
	cfg.udp_timeout = 5;
	cfg.tcp_transitory_timeout = 10;
	cfg.tcp_established_timeout = 100;
	cfg.icmp_timeout = 3;
	cfg.exclude[0] = (struct mg_prefix){.family = 4, .len = 8, .addr = {10}};
	cfg.n_exclude = 1;
	struct mg_dp_addrs a = addrs();
	char err[160];
	struct mg_nat *nat = mg_nat_create(&cfg, &a, workers, 1420, rcu, err, sizeof(err));
	CHECK(nat != NULL, "%s", err);
	return nat;
}

/* ---- packets ---- */

struct flow {
	uint8_t family, proto; /* IP protocol */
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* host order; the ICMP identifier in sport */
};

static unsigned l4_len_of(uint8_t proto)
{
	return proto == MG_IPPROTO_TCP ? 20 : 8;
}

static void l4_cksum(uint8_t *ip, uint8_t family, uint8_t proto, uint8_t *l4, unsigned l4len)
{
	uint16_t ck;
	if (proto == MG_IPPROTO_ICMP) {
		memset(l4 + 2, 0, 2);
		ck = (uint16_t)~rte_raw_cksum(l4, l4len);
		memcpy(l4 + 2, &ck, 2);
		return;
	}
	if (proto == MG_IPPROTO_ICMPV6) {
		memset(l4 + 2, 0, 2);
		ck = mg_icmp6_cksum(ip + 8, ip + 24, l4, l4len);
		memcpy(l4 + 2, &ck, 2);
		return;
	}
	uint8_t *f = l4 + (proto == MG_IPPROTO_TCP ? 16 : 6);
	memset(f, 0, 2);
	ck = family == 4 ? rte_ipv4_udptcp_cksum((struct rte_ipv4_hdr *)ip, l4)
	                 : rte_ipv6_udptcp_cksum((struct rte_ipv6_hdr *)ip, l4);
	memcpy(f, &ck, 2);
}

/* Writes a valid packet at p; returns its length. opts: TCP options (multiple of 4). */
static unsigned build(uint8_t *p, const struct flow *f, unsigned payload, uint8_t tcp_flags,
                      const uint8_t *opts, unsigned optlen)
{
	unsigned hl = f->family == 4 ? 20 : 40;
	unsigned l4h = l4_len_of(f->proto) + (f->proto == MG_IPPROTO_TCP ? optlen : 0);
	unsigned total = hl + l4h + payload;
	memset(p, 0, total);
	if (f->family == 4) {
		p[0] = 0x45;
		p[2] = (uint8_t)(total >> 8);
		p[3] = (uint8_t)total;
		p[6] = 0x40;
		p[8] = 64;
		p[9] = f->proto;
		memcpy(p + 12, f->src, 4);
		memcpy(p + 16, f->dst, 4);
	} else {
		p[0] = 0x60;
		p[4] = (uint8_t)((total - 40) >> 8);
		p[5] = (uint8_t)(total - 40);
		p[6] = f->proto;
		p[7] = 64;
		memcpy(p + 8, f->src, 16);
		memcpy(p + 24, f->dst, 16);
	}
	uint8_t *l4 = p + hl;
	for (unsigned i = 0; i < payload; i++)
		l4[l4h + i] = (uint8_t)rnd();
	if (f->proto == MG_IPPROTO_ICMP || f->proto == MG_IPPROTO_ICMPV6) {
		l4[0] = f->proto == MG_IPPROTO_ICMP ? 8 : 128;
		l4[4] = (uint8_t)(f->sport >> 8);
		l4[5] = (uint8_t)f->sport;
		l4[7] = 1;
	} else {
		l4[0] = (uint8_t)(f->sport >> 8);
		l4[1] = (uint8_t)f->sport;
		l4[2] = (uint8_t)(f->dport >> 8);
		l4[3] = (uint8_t)f->dport;
		if (f->proto == MG_IPPROTO_UDP) {
			l4[4] = (uint8_t)((l4h + payload) >> 8);
			l4[5] = (uint8_t)(l4h + payload);
		} else {
			l4[12] = (uint8_t)((l4h / 4) << 4);
			l4[13] = tcp_flags;
			if (optlen)
				memcpy(l4 + 20, opts, optlen);
		}
	}
	if (f->family == 4) {
		uint16_t ck = rte_ipv4_cksum((struct rte_ipv4_hdr *)p);
		memcpy(p + 10, &ck, 2);
	}
	l4_cksum(p, f->family, f->proto, l4, total - hl);
	return total;
}

/* Every checksum in the packet equals a full recompute. */
static bool cksums_ok(const uint8_t *pkt, unsigned len, bool udp_zero_ok)
{
	uint8_t c[2048];
	memcpy(c, pkt, len);
	uint8_t family = c[0] >> 4;
	unsigned hl = family == 4 ? (c[0] & 15u) * 4 : 40;
	uint8_t proto = family == 4 ? c[9] : c[6];
	if (family == 4) {
		memset(c + 10, 0, 2);
		uint16_t ck = rte_ipv4_cksum((struct rte_ipv4_hdr *)c);
		if (memcmp(&ck, pkt + 10, 2) != 0)
			return false;
	}
	unsigned off = proto == MG_IPPROTO_TCP ? 16 : proto == MG_IPPROTO_UDP ? 6 : 2;
	if (proto == MG_IPPROTO_UDP && udp_zero_ok && !pkt[hl + 6] && !pkt[hl + 7])
		return true;
	l4_cksum(c, family, proto, c + hl, len - hl);
	return memcmp(c + hl + off, pkt + hl + off, 2) == 0;
}

static int parse(uint8_t *p, unsigned len, struct mg_l3 *l3)
{
	return mg_pkt_parse_ip(p, len, l3);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A TCP, UDP or echo flow from a mesh address to an internet one, either family. */
static struct flow random_flow(void)
{
	struct flow f = {.family = rnd() % 2 ? 4 : 6};
	unsigned kind = rnd() % 3;
	f.proto = kind == 0       ? MG_IPPROTO_TCP
	          : kind == 1     ? MG_IPPROTO_UDP
	          : f.family == 4 ? MG_IPPROTO_ICMP
	                          : MG_IPPROTO_ICMPV6;
	if (f.family == 4) {
		uint8_t s[4] = {100, 64, (uint8_t)rnd(), (uint8_t)rnd()};
		uint8_t d[4] = {93, (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)(rnd() | 1)};
		memcpy(f.src, s, 4);
		memcpy(f.dst, d, 4);
	} else {
		f.src[0] = 0xfd;
		f.dst[0] = 0x26;
		for (unsigned k = 1; k < 16; k++) {
			f.src[k] = (uint8_t)rnd();
			f.dst[k] = (uint8_t)rnd();
		}
	}
	f.sport = (uint16_t)rnd();
	f.dport = (uint16_t)(rnd() | 1);
	return f;
}

/* ---- cases ---- */

static void random_flows(unsigned n)
{
	struct mg_nat *nat = make(1024, 65535, 1u << 16, 2, NULL);
	struct mg_worker_counters c;
	memset(&c, 0, sizeof(c));
	for (unsigned i = 0; i < n; i++) {
		struct flow f = random_flow();
		uint8_t pkt[2048], orig[2048];
		unsigned len = build(pkt, &f, rnd() % 600, (uint8_t)(rnd() & 0x18), NULL, 0);
		bool udp0 = f.proto == MG_IPPROTO_UDP && f.family == 4 && rnd() % 4 == 0;
		unsigned hl = f.family == 4 ? 20 : 40;
		if (udp0)
			pkt[hl + 6] = pkt[hl + 7] = 0;
		memcpy(orig, pkt, len);
		struct mg_l3 l3;
		enum mg_drop_reason why;
		CHECK(parse(pkt, len, &l3) == 0);
		int r = mg_nat_translate_out(nat, i % 2, pkt, &l3, 1 * NS, &c, &why);
		CHECK(r == 0, "out %u: why %d", i, why);
		if (r != 0)
			continue;
		CHECK(memcmp(pkt + (f.family == 4 ? 12 : 8), f.family == 4 ? UP4 : UP6,
		             f.family == 4 ? 4 : 16) == 0);
		CHECK(cksums_ok(pkt, len, true), "out checksum, packet %u proto %u", i, f.proto);
		if (udp0)
			CHECK(pkt[hl + 6] == 0 && pkt[hl + 7] == 0, "UDP 'no checksum' kept");
		bool icmp = f.proto != MG_IPPROTO_TCP && f.proto != MG_IPPROTO_UDP;
		uint16_t ext = get16(pkt + hl + (icmp ? 4 : 0));
		CHECK(ext >= 1024);
		/* Endpoint independence: another destination, same external port. */
		struct flow g = f;
		g.dst[3] ^= 0x40;
		g.dst[15] ^= 0x40;
		g.dport ^= 0x100;
		uint8_t p2[2048];
		unsigned len2 = build(p2, &g, 10, 0x10, NULL, 0);
		CHECK(parse(p2, len2, &l3) == 0);
		CHECK(mg_nat_translate_out(nat, (i + 1) % 2, p2, &l3, 1 * NS, &c, &why) == 0);
		CHECK(get16(p2 + hl + (icmp ? 4 : 0)) == ext, "EIM: same port for another dst");

		/* The reply, as the server sends it. */
		struct flow rf = {.family = f.family, .proto = f.proto};
		memcpy(rf.src, f.dst, 16);
		memcpy(rf.dst, pkt + (f.family == 4 ? 12 : 8), f.family == 4 ? 4 : 16);
		rf.sport = f.dport;
		rf.dport = ext;
		uint8_t rep[2048];
		unsigned rlen = build(rep, &rf, rnd() % 300, 0x10, NULL, 0);
		if (icmp) {
			rep[hl] = f.family == 4 ? 0 : 129;
			rep[hl + 4] = (uint8_t)(ext >> 8);
			rep[hl + 5] = (uint8_t)ext;
			l4_cksum(rep, f.family, f.proto, rep + hl, rlen - hl);
		}
		CHECK(parse(rep, rlen, &l3) == 0);
		CHECK(mg_nat_translate_in(nat, rep, &l3, 2 * NS, &c, &why) == 1, "in %u", i);
		CHECK(memcmp(rep + (f.family == 4 ? 16 : 24), f.src, f.family == 4 ? 4 : 16) == 0);
		CHECK(get16(rep + hl + (icmp ? 4 : 2)) == f.sport, "in: internal port back");
		CHECK(cksums_ok(rep, rlen, false), "in checksum, packet %u", i);
	}
	CHECK(c.nat.out == 2 * n && c.nat.in == n);
	mg_nat_free(nat);
}

static uint16_t ext_port_of(const uint8_t *pkt)
{
	unsigned hl = pkt[0] >> 4 == 4 ? 20 : 40;
	uint8_t proto = pkt[0] >> 4 == 4 ? pkt[9] : pkt[6];
	bool icmp = proto != MG_IPPROTO_TCP && proto != MG_IPPROTO_UDP;
	return get16(pkt + hl + (icmp ? 4 : 0));
}

/*
 * The burst path gives what the per-packet one gives: mappings another worker made are found,
 * a new flow seen several times in one burst gets one mapping, what cannot be mapped is a drop
 * with its reason while the rest of the burst goes on, and every checksum is right.
 */
static void bursts(unsigned rounds)
{
	enum { FLOWS = 12, OLD = 4 };
	for (unsigned r = 0; r < rounds; r++) {
		struct mg_nat *nat = make(1024, 65535, 4096, 2, NULL);
		struct mg_worker_counters c;
		enum mg_drop_reason why1;
		struct mg_l3 l3;
		memset(&c, 0, sizeof(c));
		struct flow f[FLOWS];
		uint16_t port[FLOWS] = {0};
		uint8_t one[2048];
		for (unsigned k = 0; k < FLOWS; k++) {
			f[k] = random_flow();
			f[k].sport = (uint16_t)(1000 + r * FLOWS + k); /* distinct keys */
		}
		/* Flows the other worker mapped first. */
		for (unsigned k = 0; k < OLD; k++) {
			unsigned len = build(one, &f[k], 20, 0x10, NULL, 0);
			CHECK(parse(one, len, &l3) == 0);
			CHECK(mg_nat_translate_out(nat, 1, one, &l3, NS, &c, &why1) == 0);
			port[k] = ext_port_of(one);
		}
		static uint8_t pkts[MG_NAT_BURST][2048];
		uint8_t *ip[MG_NAT_BURST];
		struct mg_l3 bl3[MG_NAT_BURST];
		unsigned fl[MG_NAT_BURST], len[MG_NAT_BURST];
		int rc[MG_NAT_BURST];
		enum mg_drop_reason why[MG_NAT_BURST];
		unsigned bad = FLOWS + rnd() % (MG_NAT_BURST - FLOWS); /* a repeat */
		for (unsigned j = 0; j < MG_NAT_BURST; j++) {
			/* every flow at least once, then repeats in a random order */
			fl[j] = j < FLOWS ? j : rnd() % FLOWS;
			ip[j] = pkts[j];
			len[j] = build(pkts[j], &f[fl[j]], rnd() % 200, 0x10, NULL, 0);
			if (j == bad) {
				/* GRE: nothing to map */
				pkts[j][f[fl[j]].family == 4 ? 9 : 6] = 47;
				if (f[fl[j]].family == 4) {
					memset(pkts[j] + 10, 0, 2);
					uint16_t ck =
					    rte_ipv4_cksum((struct rte_ipv4_hdr *)pkts[j]);
					memcpy(pkts[j] + 10, &ck, 2);
				}
			}
			CHECK(parse(pkts[j], len[j], &bl3[j]) == 0);
		}
		mg_nat_translate_out_burst(nat, 0, ip, bl3, MG_NAT_BURST, 2 * NS, &c, rc, why);
		for (unsigned j = 0; j < MG_NAT_BURST; j++) {
			if (j == bad) {
				CHECK(rc[j] == -1 && why[j] == MG_DROP_NAT_UNSUPPORTED, "bad %u",
				      rc[j]);
				continue;
			}
			const struct flow *g = &f[fl[j]];
			CHECK(rc[j] == 0, "burst packet %u: why %d", j, why[j]);
			CHECK(memcmp(pkts[j] + (g->family == 4 ? 12 : 8),
			             g->family == 4 ? UP4 : UP6, g->family == 4 ? 4 : 16) == 0);
			CHECK(cksums_ok(pkts[j], len[j], true), "burst checksum %u", j);
			uint16_t p = ext_port_of(pkts[j]);
			if (!port[fl[j]])
				port[fl[j]] = p;
			CHECK(port[fl[j]] == p, "burst: flow %u one port (%u, %u)", fl[j],
			      port[fl[j]], p);
		}
		uint64_t created = c.nat.created[0] + c.nat.created[1] + c.nat.created[2];
		CHECK(created == FLOWS, "one mapping per flow: %llu", (unsigned long long)created);
		/* The per-packet path agrees, on either worker. */
		for (unsigned k = 0; k < FLOWS; k++) {
			unsigned n = build(one, &f[k], 5, 0x10, NULL, 0);
			CHECK(parse(one, n, &l3) == 0);
			CHECK(mg_nat_translate_out(nat, k % 2, one, &l3, 3 * NS, &c, &why1) == 0);
			CHECK(ext_port_of(one) == port[k], "single vs burst, flow %u", k);
		}
		CHECK(c.nat.created[0] + c.nat.created[1] + c.nat.created[2] == FLOWS);
		mg_nat_free(nat);
	}
}

/* An ICMP error from a router on the path quotes what we sent; the peer must get its own. */
static void icmp_errors(void)
{
	struct mg_nat *nat = make(1024, 65535, 1024, 1, NULL);
	struct mg_worker_counters c;
	memset(&c, 0, sizeof(c));
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		for (unsigned k = 0; k < 3; k++) {
			uint8_t proto = k == 0     ? MG_IPPROTO_UDP
			                : k == 1   ? MG_IPPROTO_TCP
			                : fam == 4 ? MG_IPPROTO_ICMP
			                           : MG_IPPROTO_ICMPV6;
			struct flow f = {.family = (uint8_t)fam,
			                 .proto = proto,
			                 .sport = (uint16_t)(33000 + k),
			                 .dport = 33434};
			if (fam == 4) {
				memcpy(f.src, (uint8_t[]){100, 64, 0, 7}, 4);
				memcpy(f.dst, (uint8_t[]){8, 8, 8, 8}, 4);
			} else {
				f.src[0] = 0xfd;
				f.src[15] = 7;
				f.dst[0] = 0x26;
				f.dst[15] = 8;
			}
			uint8_t pkt[256];
			unsigned len = build(pkt, &f, 24, 0x02, NULL, 0);
			struct mg_l3 l3;
			enum mg_drop_reason why;
			CHECK(parse(pkt, len, &l3) == 0);
			CHECK(mg_nat_translate_out(nat, 0, pkt, &l3, NS, &c, &why) == 0);
			/* time exceeded from the router: the quote is the whole packet (v6) or
			 * its header and 8 bytes (v4, RFC 792) */
			unsigned hl = fam == 4 ? 20 : 40;
			unsigned qlen = fam == 4 ? hl + 8 : len;
			uint8_t err[512];
			unsigned elen = hl + 8 + qlen;
			struct flow ef = {.family = (uint8_t)fam,
			                  .proto = fam == 4 ? MG_IPPROTO_ICMP : MG_IPPROTO_ICMPV6};
			memcpy(ef.src, fam == 4 ? ROUTER4 : ROUTER6, fam == 4 ? 4 : 16);
			memcpy(ef.dst, fam == 4 ? UP4 : UP6, fam == 4 ? 4 : 16);
			build(err, &ef, qlen, 0, NULL, 0);
			err[hl] = fam == 4 ? 11 : 3;
			memset(err + hl + 4, 0, 4);
			memcpy(err + hl + 8, pkt, qlen);
			l4_cksum(err, (uint8_t)fam, ef.proto, err + hl, elen - hl);
			CHECK(parse(err, elen, &l3) == 0);
			int r = mg_nat_translate_in(nat, err, &l3, NS, &c, &why);
			CHECK(r == 1, "icmp error v%u proto %u: %d", fam, proto, r);
			CHECK(memcmp(err + (fam == 4 ? 16 : 24), f.src, fam == 4 ? 4 : 16) == 0,
			      "outer destination is the peer");
			uint8_t *q = err + hl + 8;
			CHECK(memcmp(q + (fam == 4 ? 12 : 8), f.src, fam == 4 ? 4 : 16) == 0,
			      "quoted source is the peer");
			bool icmp = proto != MG_IPPROTO_UDP && proto != MG_IPPROTO_TCP;
			CHECK(get16(q + hl + (icmp ? 4 : 0)) == f.sport,
			      "quoted port is the peer's");
			CHECK(cksums_ok(err, elen, false), "outer ICMP checksum");
			if (fam == 4) {
				uint8_t h[20];
				memcpy(h, q, 20);
				memset(h + 10, 0, 2);
				uint16_t ck = rte_ipv4_cksum((struct rte_ipv4_hdr *)h);
				CHECK(memcmp(&ck, q + 10, 2) == 0, "quoted IPv4 header checksum");
			} else {
				/* The whole packet is quoted: its L4 checksum must verify too. */
				CHECK(cksums_ok(q, len, false), "quoted L4 checksum");
			}
		}
	}
	CHECK(c.nat.icmp_errors == 6);
	mg_nat_free(nat);
}

static void mss_clamp(void)
{
	struct mg_nat *nat = make(1024, 65535, 1024, 1, NULL);
	struct mg_worker_counters c;
	memset(&c, 0, sizeof(c));
	/* aligned MSS, then after one NOP (the value at an odd offset) */
	static const uint8_t opt_a[4] = {2, 4, 0x05, 0xb4};
	static const uint8_t opt_b[8] = {1, 2, 4, 0x05, 0xb4, 1, 1, 0};
	for (unsigned k = 0; k < 4; k++) {
		struct flow f = {
		    .family = k < 2 ? 4 : 6, .proto = MG_IPPROTO_TCP, .sport = 40000, .dport = 443};
		f.src[0] = 100;
		f.dst[0] = 9;
		f.src[15] = f.src[3] = 5;
		uint8_t pkt[256];
		const uint8_t *opt = k % 2 ? opt_b : opt_a;
		unsigned ol = k % 2 ? 8 : 4, mo = k % 2 ? 3 : 2;
		unsigned len = build(pkt, &f, 0, 0x02, opt, ol);
		struct mg_l3 l3;
		enum mg_drop_reason why;
		CHECK(parse(pkt, len, &l3) == 0);
		CHECK(mg_nat_translate_out(nat, 0, pkt, &l3, NS, &c, &why) == 0);
		unsigned hl = f.family == 4 ? 20 : 40;
		CHECK(get16(pkt + hl + 20 + mo) == (f.family == 4 ? 1380 : 1360), "MSS clamped %u",
		      get16(pkt + hl + 20 + mo));
		CHECK(cksums_ok(pkt, len, false), "TCP checksum after the clamp");
	}
	CHECK(c.nat.mss_clamped == 4);
	mg_nat_free(nat);
}

static int out_udp(struct mg_nat *nat, unsigned worker, unsigned host, uint16_t sport, uint64_t now,
                   struct mg_worker_counters *c, uint16_t *ext, enum mg_drop_reason *why)
{
	struct flow f = {.family = 4, .proto = MG_IPPROTO_UDP, .sport = sport, .dport = 53};
	memcpy(f.src, (uint8_t[]){100, 64, (uint8_t)(host >> 8), (uint8_t)host}, 4);
	memcpy(f.dst, (uint8_t[]){1, 1, 1, 1}, 4);
	uint8_t pkt[128];
	unsigned len = build(pkt, &f, 8, 0, NULL, 0);
	struct mg_l3 l3;
	parse(pkt, len, &l3);
	int r = mg_nat_translate_out(nat, worker, pkt, &l3, now, c, why);
	if (ext)
		*ext = get16(pkt + 20);
	return r;
}

static int in_udp(struct mg_nat *nat, uint16_t ext, uint64_t now, struct mg_worker_counters *c)
{
	struct flow f = {.family = 4, .proto = MG_IPPROTO_UDP, .sport = 53, .dport = ext};
	memcpy(f.src, (uint8_t[]){1, 1, 1, 1}, 4);
	memcpy(f.dst, UP4, 4);
	uint8_t pkt[128];
	unsigned len = build(pkt, &f, 8, 0, NULL, 0);
	struct mg_l3 l3;
	enum mg_drop_reason why;
	parse(pkt, len, &l3);
	return mg_nat_translate_in(nat, pkt, &l3, now, c, &why);
}

static void exhaustion(void)
{
	struct mg_nat *nat = make(2000, 2009, 1024, 1, NULL);
	struct mg_worker_counters c;
	enum mg_drop_reason why;
	uint16_t ext[10];
	memset(&c, 0, sizeof(c));
	for (unsigned i = 0; i < 10; i++) {
		CHECK(out_udp(nat, 0, 1, (uint16_t)(5000 + i), 0, &c, &ext[i], &why) == 0);
		CHECK(ext[i] >= 2000 && ext[i] <= 2009);
	}
	CHECK(out_udp(nat, 0, 1, 6000, 0, &c, NULL, &why) == -1 && why == MG_DROP_NAT_NO_PORT,
	      "11th flow: no port");
	/* Existing flows go on both ways; five of them are kept alive at t=3 s. */
	for (unsigned i = 0; i < 10; i++) {
		uint64_t t = i < 5 ? 3 * NS : NS / 2;
		CHECK(out_udp(nat, 0, 1, (uint16_t)(5000 + i), t, &c, NULL, &why) == 0);
		CHECK(in_udp(nat, ext[i], t, &c) == 1);
	}
	mg_nat_expire(nat, 0, 4 * NS + NS / 2, 4096, &c);
	CHECK(c.nat.expired[MG_NAT_UDP] == 0, "nothing expires before its timeout");
	mg_nat_expire(nat, 0, 5 * NS + NS / 2, 4096, &c);
	CHECK(c.nat.expired[MG_NAT_UDP] == 5, "the five idle flows expired: %lu",
	      (unsigned long)c.nat.expired[MG_NAT_UDP]);
	CHECK(in_udp(nat, ext[7], 7 * NS, &c) == 0, "an expired mapping no longer translates");
	CHECK(in_udp(nat, ext[2], 7 * NS, &c) == 1, "a live one still does");
	for (unsigned i = 0; i < 5; i++)
		CHECK(out_udp(nat, 0, 2, (uint16_t)(7000 + i), 7 * NS, &c, NULL, &why) == 0,
		      "new flow %u after expiry", i);
	CHECK(out_udp(nat, 0, 2, 7100, 7 * NS, &c, NULL, &why) == -1);
	mg_nat_free(nat);

	/* A table of 64 mappings: the 65th is a counted drop, the others go on. */
	nat = make(1024, 65535, 64, 1, NULL);
	for (unsigned i = 0; i < 64; i++)
		CHECK(out_udp(nat, 0, 3, (uint16_t)(1000 + i), 0, &c, NULL, &why) == 0);
	CHECK(out_udp(nat, 0, 3, 2000, 0, &c, NULL, &why) == -1 && why == MG_DROP_NAT_TABLE_FULL);
	CHECK(out_udp(nat, 0, 3, 1000, 0, &c, NULL, &why) == 0);
	mg_nat_free(nat);
}

/* TCP: transitory until the other side answered, established after, transitory on FIN. */
static void tcp_timeouts(void)
{
	struct mg_nat *nat = make(1024, 65535, 1024, 1, NULL);
	struct mg_worker_counters c;
	enum mg_drop_reason why;
	struct mg_l3 l3;
	memset(&c, 0, sizeof(c));
	struct flow f = {.family = 4, .proto = MG_IPPROTO_TCP, .sport = 40000, .dport = 80};
	memcpy(f.src, (uint8_t[]){100, 64, 0, 9}, 4);
	memcpy(f.dst, (uint8_t[]){1, 2, 3, 4}, 4);
	uint8_t pkt[128];
	unsigned len = build(pkt, &f, 0, 0x02, NULL, 0);
	parse(pkt, len, &l3);
	CHECK(mg_nat_translate_out(nat, 0, pkt, &l3, 0, &c, &why) == 0);
	uint16_t ext = get16(pkt + 20);
	mg_nat_expire(nat, 0, 11 * NS, 4096, &c);
	CHECK(c.nat.expired[MG_NAT_TCP] == 1, "unanswered SYN: transitory timeout");

	len = build(pkt, &f, 0, 0x02, NULL, 0);
	parse(pkt, len, &l3);
	CHECK(mg_nat_translate_out(nat, 0, pkt, &l3, 20 * NS, &c, &why) == 0);
	ext = get16(pkt + 20);
	struct flow r = {.family = 4, .proto = MG_IPPROTO_TCP, .sport = 80, .dport = ext};
	memcpy(r.src, f.dst, 4);
	memcpy(r.dst, UP4, 4);
	len = build(pkt, &r, 0, 0x12, NULL, 0);
	parse(pkt, len, &l3);
	CHECK(mg_nat_translate_in(nat, pkt, &l3, 20 * NS, &c, &why) == 1);
	mg_nat_expire(nat, 0, 50 * NS, 4096, &c);
	CHECK(c.nat.expired[MG_NAT_TCP] == 1, "established: lives past the transitory timeout");
	mg_nat_expire(nat, 0, 121 * NS, 4096, &c);
	CHECK(c.nat.expired[MG_NAT_TCP] == 2, "established timeout");
	mg_nat_free(nat);
}

/* With RCU, an expired mapping's port is reused only after every reader passed a quiescent
 * state. */
static void rcu_deferral(void)
{
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	struct rte_rcu_qsbr *v = rte_zmalloc("test_rcu", sz, RTE_CACHE_LINE_SIZE);
	CHECK(v && rte_rcu_qsbr_init(v, 1) == 0);
	rte_rcu_qsbr_thread_register(v, 0);
	rte_rcu_qsbr_thread_online(v, 0);
	struct mg_nat *nat = make(3000, 3000, 1024, 1, v);
	struct mg_worker_counters c;
	enum mg_drop_reason why;
	memset(&c, 0, sizeof(c));
	CHECK(out_udp(nat, 0, 1, 1, 0, &c, NULL, &why) == 0);
	mg_nat_expire(nat, 0, 10 * NS, 16, &c);
	CHECK(c.nat.expired[MG_NAT_UDP] == 1);
	CHECK(out_udp(nat, 0, 1, 2, 10 * NS, &c, NULL, &why) == -1 && why == MG_DROP_NAT_NO_PORT,
	      "the port waits for the grace period");
	rte_rcu_qsbr_quiescent(v, 0);
	mg_nat_expire(nat, 0, 10 * NS, 16, &c);
	CHECK(out_udp(nat, 0, 1, 2, 10 * NS, &c, NULL, &why) == 0, "reused after it");
	mg_nat_free(nat);
	rte_rcu_qsbr_thread_offline(v, 0);
	rte_free(v);
}

static void wants(void)
{
	struct mg_nat *nat = make(1024, 65535, 1024, 1, NULL);
	struct mg_dp_addrs a = addrs();
	struct flow f = {.family = 4, .proto = MG_IPPROTO_UDP, .sport = 1, .dport = 2};
	static const uint8_t dsts[][4] = {
	    {8, 8, 8, 8}, {100, 64, 9, 9}, {192, 168, 1, 20}, {10, 1, 2, 3}};
	static const bool want[] = {true, false, false, false};
	for (unsigned i = 0; i < 4; i++) {
		uint8_t pkt[64];
		struct mg_l3 l3;
		memcpy(f.dst, dsts[i], 4);
		parse(pkt, build(pkt, &f, 0, 0, NULL, 0), &l3);
		CHECK(mg_nat_wants(nat, &a, &l3) == want[i], "destination %u", i);
	}
	mg_nat_free(nat);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (eal_test_init(argv[0], 2, 512) != 0)
		return 1;
	random_flows(20000);
	bursts(200);
	icmp_errors();
	mss_clamp();
	exhaustion();
	tcp_timeouts();
	rcu_deferral();
	wants();
	eal_test_cleanup();
	return check_done("nat");
}
