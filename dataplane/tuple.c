// SPDX-License-Identifier: GPL-2.0-only
/*
 * The 5-tuple the policy filter and its flow table read (flow.h). IPv6 extension headers are
 * walked so that a rule on a port cannot be bypassed by putting an options header first.
 */
#include <string.h>

#include "flow.h"

#define IPV4_OFFMASK 0x1fff
#define NH_HOPOPTS   0
#define NH_ROUTING   43
#define NH_FRAGMENT  44
#define NH_AH        51
#define NH_DSTOPTS   60
/* More than this many extension headers in a row is refused, as an IDS would. */
#define MAX_EXT_HEADERS 8

#define ICMP4_ECHO_REPLY  0
#define ICMP4_UNREACH     3
#define ICMP4_ECHO        8
#define ICMP4_TIME_EXCEED 11
#define ICMP4_PARAM_PROB  12
#define ICMP6_UNREACH     1
#define ICMP6_PARAM_PROB  4
#define ICMP6_ECHO        128
#define ICMP6_ECHO_REPLY  129
#define ICMP_HDR_LEN      8
#define TCP_SYN           0x02
#define TCP_ACK           0x10

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool is_icmp(uint8_t family, uint8_t proto)
{
	return (family == 4 && proto == MG_IPPROTO_ICMP) ||
	       (family == 6 && proto == MG_IPPROTO_ICMPV6);
}

static bool icmp_is_error(uint8_t family, uint8_t type)
{
	if (family == 4)
		return type == ICMP4_UNREACH || type == ICMP4_TIME_EXCEED ||
		       type == ICMP4_PARAM_PROB;
	return type >= ICMP6_UNREACH && type <= ICMP6_PARAM_PROB;
}

static bool icmp_is_echo(uint8_t family, uint8_t type)
{
	return family == 4 ? type == ICMP4_ECHO || type == ICMP4_ECHO_REPLY
	                   : type == ICMP6_ECHO || type == ICMP6_ECHO_REPLY;
}

/* IPv6: the upper-layer protocol and where it starts; -1 on a header that runs past the end. */
static int walk6(const uint8_t *ip, uint32_t total, uint8_t *proto, uint32_t *off, bool *later)
{
	for (unsigned i = 0; i <= MAX_EXT_HEADERS; i++) {
		uint8_t nh = *proto;
		uint32_t len;
		if (nh != NH_HOPOPTS && nh != NH_ROUTING && nh != NH_FRAGMENT && nh != NH_AH &&
		    nh != NH_DSTOPTS)
			return 0;
		if (i == MAX_EXT_HEADERS || *off + 8 > total)
			return -1;
		if (nh == NH_FRAGMENT) {
			if (rd16(ip + *off + 2) & 0xfff8)
				*later = true;
			len = 8;
		} else if (nh == NH_AH) {
			len = ((uint32_t)ip[*off + 1] + 2) * 4;
		} else {
			len = ((uint32_t)ip[*off + 1] + 1) * 8;
		}
		*proto = ip[*off];
		*off += len;
		if (*later)
			return 0; /* what follows is a piece of the upper layer, not a header */
	}
	return -1;
}

int mg_pkt_tuple(const uint8_t *ip, const struct mg_l3 *l3, struct mg_pkt_tuple *t)
{
	uint32_t total = l3->total_len, off = l3->hdr_len;
	uint8_t proto = l3->proto;

	memset(t, 0, sizeof(*t));
	t->key.family = l3->family;
	/* Constant lengths: a per-packet call into libc's memcpy shows in the profile. */
	if (l3->family == 4) {
		memcpy(t->key.src, l3->src, 4);
		memcpy(t->key.dst, l3->dst, 4);
	} else {
		memcpy(t->key.src, l3->src, 16);
		memcpy(t->key.dst, l3->dst, 16);
	}
	if (l3->family == 4) {
		t->later_fragment = (rd16(ip + 6) & IPV4_OFFMASK) != 0;
	} else if (walk6(ip, total, &proto, &off, &t->later_fragment) != 0) {
		t->key.proto = proto;
		return -1;
	}
	t->key.proto = proto;
	if (t->later_fragment)
		return 0;
	if (proto == MG_IPPROTO_TCP || proto == MG_IPPROTO_UDP) {
		if (off + 4 > total)
			return 0; /* no ports: the filter sees port 0 */
		memcpy(&t->key.sport, ip + off, 2);
		memcpy(&t->key.dport, ip + off + 2, 2);
		t->l4_off = (uint16_t)off;
		if (proto == MG_IPPROTO_TCP && off + 14 <= total)
			t->tcp_syn = (ip[off + 13] & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	} else if (is_icmp(l3->family, proto) && off + ICMP_HDR_LEN <= total) {
		uint8_t type = ip[off];
		t->l4_off = (uint16_t)off;
		if (icmp_is_echo(l3->family, type)) {
			/* The identifier ties a reply to its request; the type keeps a request
			 * from passing as a reply. */
			memcpy(&t->key.sport, ip + off + 4, 2);
			t->key.dport = rte_cpu_to_be_16(type);
			t->echo_request = type == (l3->family == 4 ? ICMP4_ECHO : ICMP6_ECHO);
		} else {
			t->icmp_error = icmp_is_error(l3->family, type);
		}
	}
	return 0;
}

void mg_flow_key_reverse(const struct mg_flow_key *k, struct mg_flow_key *out)
{
	memset(out, 0, sizeof(*out));
	out->family = k->family;
	out->proto = k->proto;
	memcpy(out->src, k->dst, sizeof(out->src));
	memcpy(out->dst, k->src, sizeof(out->dst));
	if (is_icmp(k->family, k->proto)) {
		uint8_t type = (uint8_t)rte_be_to_cpu_16(k->dport);
		uint8_t rev = k->family == 4 ? (type == ICMP4_ECHO ? ICMP4_ECHO_REPLY : ICMP4_ECHO)
		                             : (type == ICMP6_ECHO ? ICMP6_ECHO_REPLY : ICMP6_ECHO);
		out->sport = k->sport;
		out->dport = icmp_is_echo(k->family, type) ? rte_cpu_to_be_16(rev) : 0;
		return;
	}
	out->sport = k->dport;
	out->dport = k->sport;
}

int mg_flow_key_of_icmp_error(const uint8_t *ip, const struct mg_l3 *l3,
                              const struct mg_pkt_tuple *t, struct mg_flow_key *out)
{
	uint32_t q = (uint32_t)t->l4_off + ICMP_HDR_LEN;
	struct mg_l3 ql3;
	struct mg_pkt_tuple qt;

	if (!t->icmp_error || q >= l3->total_len)
		return -1;
	/* The quote is usually cut short: parse it as if it ended where the error ends, but
	 * only its header and first 8 bytes are needed. */
	uint32_t avail = l3->total_len - q;
	const uint8_t *qip = ip + q;
	if (avail < 1 || (qip[0] >> 4) != l3->family)
		return -1;
	uint8_t hdr[MG_IPV6_HLEN + 8 * (MAX_EXT_HEADERS + 1) + 8];
	uint32_t n = avail < sizeof(hdr) ? avail : (uint32_t)sizeof(hdr);
	memcpy(hdr, qip, n);
	/* Its length field may claim more than was quoted: clamp it to what is there. */
	if (l3->family == 4) {
		if (n < MG_IPV4_HLEN)
			return -1;
		hdr[2] = (uint8_t)(n >> 8);
		hdr[3] = (uint8_t)n;
	} else {
		if (n < MG_IPV6_HLEN)
			return -1;
		hdr[4] = (uint8_t)((n - MG_IPV6_HLEN) >> 8);
		hdr[5] = (uint8_t)(n - MG_IPV6_HLEN);
	}
	if (mg_pkt_parse_ip(hdr, n, &ql3) != 0 || mg_pkt_tuple(hdr, &ql3, &qt) != 0)
		return -1;
	/* The error goes back to whoever sent the quoted packet. */
	if (memcmp(qt.key.src, t->key.dst, sizeof(qt.key.src)) != 0)
		return -1;
	if ((qt.key.proto == MG_IPPROTO_TCP || qt.key.proto == MG_IPPROTO_UDP) && !qt.l4_off)
		return -1;
	mg_flow_key_reverse(&qt.key, out);
	return 0;
}
