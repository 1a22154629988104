/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ICMP / ICMPv6 errors for dropped packets. The never-answer rules run on the first bytes of the
 * frame before any token is spent or mbuf allocated; the quote is copied straight from the
 * offending mbuf into the reply.
 */
#include <string.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "icmp.h"
#include "neigh.h"
#include "pkt.h"

#define ETH_HLEN        14
#define IP4_HLEN        20
#define IP6_HLEN        40
#define ICMP_HLEN       8
#define IP4_ERROR_MAX   576  /* RFC 1812 4.3.2.3: the whole error datagram */
#define IP6_ERROR_MAX   1280 /* RFC 4443 2.4(c): the minimum IPv6 MTU */
#define PARSE_MAX       128  /* bytes examined by the rules (IPv6 extension headers included) */
#define EXT_HEADERS_MAX 8
#define ERROR_TTL       64

struct offending {
	uint8_t family;
	uint16_t avail; /* bytes of the IP packet present, capped by its own length field */
	uint8_t src[16], dst[16];
	struct rte_ether_addr eth_src;
};

void mg_icmp_limiter_init(struct mg_icmp_limiter *l, uint32_t rate, uint32_t burst,
                          uint64_t ticks_per_s)
{
	memset(l, 0, sizeof(*l));
	l->rate = rate;
	l->ticks_per_s = ticks_per_s ? ticks_per_s : 1;
	l->burst = (uint64_t)burst * l->ticks_per_s;
	l->tokens = l->burst;
}

static bool take_token(struct mg_icmp_limiter *l, uint64_t now)
{
	uint64_t dt = now > l->last_ticks ? now - l->last_ticks : 0;

	l->last_ticks = now > l->last_ticks ? now : l->last_ticks;
	if (l->rate == 0)
		return false;
	/* cap dt first so dt * rate cannot overflow: a full bucket needs no more */
	if (dt > l->burst / l->rate + 1)
		dt = l->burst / l->rate + 1;
	l->tokens += dt * l->rate;
	if (l->tokens > l->burst)
		l->tokens = l->burst;
	if (l->tokens < l->ticks_per_s)
		return false;
	l->tokens -= l->ticks_per_s;
	return true;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool v4_bad_source(const uint8_t *a)
{
	/* 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4 reserved and broadcast */
	return a[0] == 0 || a[0] == 127 || a[0] >= 224;
}

static bool v4_is_subnet_broadcast(const struct mg_port_addrs *pc, const uint8_t *a)
{
	uint32_t net, addr, host_mask;

	if (!pc->has_ipv4 || pc->ipv4.len >= 31)
		return false;
	memcpy(&net, pc->ipv4.addr, 4);
	memcpy(&addr, a, 4);
	net = rte_be_to_cpu_32(net);
	addr = rte_be_to_cpu_32(addr);
	host_mask = pc->ipv4.len == 0 ? UINT32_MAX : (1u << (32 - pc->ipv4.len)) - 1;
	return (addr & ~host_mask) == (net & ~host_mask) && (addr & host_mask) == host_mask;
}

enum verdict { ANSWER, NOT_ALLOWED, MALFORMED };

/* RFC 1812 4.3.2.7. */
static enum verdict v4_may_answer(const struct mg_gateway *gw, uint8_t port, const uint8_t *ip,
                                  uint32_t len, struct offending *o)
{
	uint32_t ihl, total;

	if (len < IP4_HLEN || ip[0] >> 4 != 4)
		return MALFORMED;
	ihl = (ip[0] & 0xf) * 4u;
	total = get16(ip + 2);
	if (ihl < IP4_HLEN || total < ihl || ihl > len)
		return MALFORMED;
	if ((get16(ip + 6) & 0x1fff) != 0)
		return NOT_ALLOWED; /* not the first fragment */
	memcpy(o->src, ip + 12, 4);
	memcpy(o->dst, ip + 16, 4);
	if (v4_bad_source(o->src) || o->dst[0] >= 224 ||
	    v4_is_subnet_broadcast(&mg_gateway_addrs(gw)->ports[port], o->dst))
		return NOT_ALLOWED;
	if (ip[9] == IPPROTO_ICMP) {
		uint8_t type;

		if (len < ihl + 1)
			return NOT_ALLOWED; /* cannot tell whether it is an error */
		type = ip[ihl];
		if (type == 3 || type == 4 || type == 5 || type == 11 || type == 12)
			return NOT_ALLOWED; /* an error message (RFC 792 types) */
	}
	o->family = 4;
	o->avail = (uint16_t)RTE_MIN(total, o->avail);
	return ANSWER;
}

static bool v6_is_unspecified_or_loopback(const uint8_t *a)
{
	static const uint8_t zero[15];

	return memcmp(a, zero, 15) == 0 && a[15] <= 1;
}

/* RFC 4443 2.4(e). */
static enum verdict v6_may_answer(const uint8_t *ip, uint32_t len, enum mg_icmp_kind kind,
                                  struct offending *o)
{
	uint32_t off = IP6_HLEN, plen;
	uint8_t nh;

	if (len < IP6_HLEN || ip[0] >> 4 != 6)
		return MALFORMED;
	plen = get16(ip + 4);
	if (plen == 0)
		return MALFORMED; /* jumbograms never reach a 1500-byte port */
	memcpy(o->src, ip + 8, 16);
	memcpy(o->dst, ip + 24, 16);
	if (o->src[0] == 0xff || v6_is_unspecified_or_loopback(o->src))
		return NOT_ALLOWED;
	if (o->dst[0] == 0xff && kind != MG_ICMP_TOO_BIG)
		return NOT_ALLOWED;
	nh = ip[6];
	for (int i = 0; i < EXT_HEADERS_MAX && off + 8 <= len; i++) {
		const uint8_t *h = ip + off;

		if (nh == IPPROTO_FRAGMENT) {
			if ((get16(h + 2) & 0xfff8) != 0)
				return NOT_ALLOWED; /* not the first fragment */
			off += 8;
		} else if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
		           nh == IPPROTO_DSTOPTS) {
			off += (h[1] + 1u) * 8;
		} else if (nh == IPPROTO_AH) {
			off += (h[1] + 2u) * 4;
		} else {
			break;
		}
		nh = h[0];
	}
	if (nh == IPPROTO_ICMPV6) {
		if (off + 1 > len)
			return NOT_ALLOWED; /* cannot tell whether it is an error */
		if (ip[off] < 128 || ip[off] == 137)
			return NOT_ALLOWED; /* an error message, or a redirect */
	}
	o->family = 6;
	o->avail = (uint16_t)RTE_MIN(IP6_HLEN + plen, o->avail);
	return ANSWER;
}

static const uint8_t *overlay_address(const struct mg_dp_addrs *addrs, uint8_t family)
{
	for (size_t i = 0; i < addrs->n_addresses; i++)
		if (addrs->addresses[i].family == family)
			return addrs->addresses[i].addr;
	return NULL;
}

/* Our address on the port the packet came in on; NULL when there is none of that family. */
static bool pick_source(const struct mg_gateway *gw, uint8_t port, const struct offending *o,
                        uint8_t *out)
{
	const struct mg_dp_addrs *addrs = mg_gateway_addrs(gw);
	const struct mg_port_addrs *pc = &addrs->ports[port];
	const uint8_t *a;

	if (o->family == 4) {
		a = pc->has_ipv4 ? pc->ipv4.addr : overlay_address(addrs, 4);
		if (a == NULL)
			return false;
		memcpy(out, a, 4);
		return true;
	}
	/* a link-local source can only be answered from our link-local address */
	a = pc->has_ipv6 ? pc->ipv6.addr : overlay_address(addrs, 6);
	if (a != NULL && !(o->src[0] == 0xfe && (o->src[1] & 0xc0) == 0x80))
		memcpy(out, a, 16);
	else
		mg_neigh_link_local(&gw->ports[port].mac, out);
	return true;
}

static uint16_t fold(uint32_t sum)
{
	return (uint16_t)~__rte_raw_cksum_reduce(sum);
}

static void type_code(uint8_t family, enum mg_icmp_kind kind, uint8_t *type, uint8_t *code)
{
	static const uint8_t v4[][2] = {
	    [MG_ICMP_UNREACHABLE] = {3, 1},
	    [MG_ICMP_TOO_BIG] = {3, 4},
	    [MG_ICMP_TIME_EXCEEDED] = {11, 0},
	};
	static const uint8_t v6[][2] = {
	    [MG_ICMP_UNREACHABLE] = {1, 3},
	    [MG_ICMP_TOO_BIG] = {2, 0},
	    [MG_ICMP_TIME_EXCEEDED] = {3, 0},
	};
	const uint8_t *tc = family == 4 ? v4[kind] : v6[kind];

	*type = tc[0];
	*code = tc[1];
}

/* Writes the IP and ICMP headers around a quote already in place; returns nothing to fail. */
static void finish_v4(uint8_t *ip, const uint8_t *src, const struct offending *o,
                      enum mg_icmp_kind kind, uint32_t mtu, uint16_t quote, uint16_t id)
{
	uint8_t *icmp = ip + IP4_HLEN;
	uint16_t ck;

	memset(ip, 0, IP4_HLEN + ICMP_HLEN);
	ip[0] = 0x45;
	ip[1] = 0xc0; /* precedence "internetwork control", RFC 1812 4.3.2.5 */
	put16(ip + 2, (uint16_t)(IP4_HLEN + ICMP_HLEN + quote));
	put16(ip + 4, id);
	ip[8] = ERROR_TTL;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, o->src, 4);
	ck = fold(__rte_raw_cksum(ip, IP4_HLEN, 0));
	memcpy(ip + 10, &ck, 2);
	type_code(4, kind, &icmp[0], &icmp[1]);
	if (kind == MG_ICMP_TOO_BIG)
		put16(icmp + 6, (uint16_t)RTE_MIN(mtu, (uint32_t)UINT16_MAX));
	ck = fold(__rte_raw_cksum(icmp, ICMP_HLEN + quote, 0));
	memcpy(icmp + 2, &ck, 2);
}

static void finish_v6(uint8_t *ip, const uint8_t *src, const struct offending *o,
                      enum mg_icmp_kind kind, uint32_t mtu, uint16_t quote)
{
	uint8_t *icmp = ip + IP6_HLEN;
	uint32_t len = ICMP_HLEN + quote;
	uint16_t ck;

	memset(ip, 0, IP6_HLEN + ICMP_HLEN);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)len);
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = ERROR_TTL;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, o->src, 16);
	type_code(6, kind, &icmp[0], &icmp[1]);
	if (kind == MG_ICMP_TOO_BIG) {
		uint32_t m6 = mtu < IP6_ERROR_MAX ? IP6_ERROR_MAX : mtu;

		put16(icmp + 4, (uint16_t)(m6 >> 16));
		put16(icmp + 6, (uint16_t)m6);
	}
	ck = mg_icmp6_cksum(ip + 8, ip + 24, icmp, len);
	memcpy(icmp + 2, &ck, 2);
}

struct rte_mbuf *mg_icmp_error(const struct mg_gateway *gw, uint8_t port, const struct rte_mbuf *m,
                               enum mg_icmp_kind kind, uint32_t mtu, struct mg_icmp_limiter *l,
                               uint64_t now_ticks)
{
	uint8_t buf[ETH_HLEN + PARSE_MAX];
	const uint8_t *f;
	uint32_t pkt_len = rte_pktmbuf_pkt_len(m), len = RTE_MIN(pkt_len, (uint32_t)sizeof(buf));
	struct offending o = {0};
	uint8_t src[16];
	uint16_t type, hlen, quote;
	struct rte_mbuf *r;
	uint8_t *d;
	enum verdict v;

	if (port >= MG_PORT_COUNT || kind > MG_ICMP_TIME_EXCEEDED || len < ETH_HLEN + IP4_HLEN ||
	    (f = rte_pktmbuf_read(m, 0, len, buf)) == NULL) {
		l->malformed++;
		return NULL;
	}
	type = get16(f + 12);
	if (type != RTE_ETHER_TYPE_IPV4 && type != RTE_ETHER_TYPE_IPV6) {
		l->malformed++;
		return NULL;
	}
	memcpy(&o.eth_src, f + 6, 6);
	o.avail = (uint16_t)RTE_MIN(pkt_len - ETH_HLEN, (uint32_t)UINT16_MAX);
	/* a link-layer broadcast or multicast is never answered (RFC 1812 4.3.2.7) */
	if (rte_is_multicast_ether_addr((const struct rte_ether_addr *)f) ||
	    !rte_is_valid_assigned_ether_addr(&o.eth_src))
		v = NOT_ALLOWED;
	else if (type == RTE_ETHER_TYPE_IPV4)
		v = v4_may_answer(gw, port, f + ETH_HLEN, len - ETH_HLEN, &o);
	else
		v = v6_may_answer(f + ETH_HLEN, len - ETH_HLEN, kind, &o);
	if (v != ANSWER) {
		if (v == MALFORMED)
			l->malformed++;
		else
			l->not_allowed++;
		return NULL;
	}
	if (!pick_source(gw, port, &o, src)) {
		l->no_source++;
		return NULL;
	}
	if (!take_token(l, now_ticks)) {
		l->rate_limited++;
		return NULL;
	}
	hlen = o.family == 4 ? IP4_HLEN + ICMP_HLEN : IP6_HLEN + ICMP_HLEN;
	quote = (uint16_t)RTE_MIN(o.avail, (o.family == 4 ? IP4_ERROR_MAX : IP6_ERROR_MAX) - hlen);
	r = rte_pktmbuf_alloc(gw->ports[port].pool);
	if (r == NULL || (d = (uint8_t *)rte_pktmbuf_append(r, ETH_HLEN + hlen + quote)) == NULL) {
		rte_pktmbuf_free(r);
		l->nomem++;
		return NULL;
	}
	memcpy(d, &o.eth_src, 6);
	memcpy(d + 6, &gw->ports[port].mac, 6);
	put16(d + 12, type);
	f = rte_pktmbuf_read(m, ETH_HLEN, quote, d + ETH_HLEN + hlen);
	if (f != d + ETH_HLEN + hlen)
		memcpy(d + ETH_HLEN + hlen, f, quote);
	if (o.family == 4)
		finish_v4(d + ETH_HLEN, src, &o, kind, mtu, quote, l->ip_id++);
	else
		finish_v6(d + ETH_HLEN, src, &o, kind, mtu, quote);
	l->sent++;
	return r;
}
