// SPDX-License-Identifier: GPL-2.0-only
/*
 * IPv6 neighbour discovery (RFC 4861) for the neighbour table: validation, answering
 * solicitations for the port's addresses, learning from solicitations and advertisements, and
 * the solicitations resolution and aging send. Router messages are ignored.
 */
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "neigh_internal.h"
#include "pkt.h"

#define FRAME_MAX         1518
#define IP6_HLEN          40
#define ND_HLEN           24 /* ICMPv6 header + reserved/flags + target */
#define ND_OPT_SLLA       1
#define ND_OPT_TLLA       2
#define NA_FLAG_SOLICITED 0x40
#define NA_FLAG_OVERRIDE  0x20

static bool v6_is_link_local(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static void solicited_node(const uint8_t *target, uint8_t out[16])
{
	static const uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};

	memcpy(out, prefix, sizeof(prefix));
	memcpy(out + 13, target + 13, 3);
}

static void v6_multicast_mac(const uint8_t *dst, struct rte_ether_addr *mac)
{
	mac->addr_bytes[0] = 0x33;
	mac->addr_bytes[1] = 0x33;
	memcpy(&mac->addr_bytes[2], dst + 12, 4);
}

static bool v6_is_ours(const struct mg_gateway *gw, uint8_t port, const uint8_t *a)
{
	const struct mg_port_addrs *pc = &mg_gateway_addrs(gw)->ports[port];
	uint8_t ll[16];

	if (pc->has_ipv6 && memcmp(a, pc->ipv6.addr, 16) == 0)
		return true;
	mg_neigh_link_local(&gw->ports[port].mac, ll);
	return memcmp(a, ll, 16) == 0;
}

/* A neighbour solicitation (type 135) or advertisement (136) with one link-layer option. */
static int send_nd(struct mg_gateway *gw, uint8_t port, uint8_t type, uint8_t flags,
                   const struct rte_ether_addr *eth_dst, const uint8_t *src, const uint8_t *dst,
                   const uint8_t *target)
{
	const struct rte_ether_addr *our = &gw->ports[port].mac;
	uint8_t f[ETH_HLEN + IP6_HLEN + ND_HLEN + 8] = {0};
	uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP6_HLEN;
	const uint16_t plen = ND_HLEN + 8;
	uint16_t ck;

	mg_neigh_eth_header(f, eth_dst, our, RTE_ETHER_TYPE_IPV6);
	ip[0] = 0x60;
	mg_neigh_put16(ip + 4, plen);
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = 255;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	icmp[0] = type;
	icmp[4] = flags;
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == 135 ? ND_OPT_SLLA : ND_OPT_TLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, our, 6);
	ck = mg_icmp6_cksum(src, dst, icmp, plen);
	memcpy(icmp + 2, &ck, 2); /* the ones' complement sum is already in memory order */
	return mg_neigh_send_frame(gw, port, f, sizeof(f));
}

int mg_nd_solicit(struct mg_gateway *gw, uint8_t port, const uint8_t *addr,
                  const struct rte_ether_addr *unicast)
{
	const struct mg_port_addrs *pc = &mg_gateway_addrs(gw)->ports[port];
	uint8_t src[16], dst[16];
	struct rte_ether_addr eth_dst;

	if (v6_is_link_local(addr) || !pc->has_ipv6)
		mg_neigh_link_local(&gw->ports[port].mac, src);
	else
		memcpy(src, pc->ipv6.addr, 16);
	if (unicast) {
		memcpy(dst, addr, 16);
		eth_dst = *unicast;
	} else {
		solicited_node(addr, dst);
		v6_multicast_mac(dst, &eth_dst);
	}
	return send_nd(gw, port, 135, 0, &eth_dst, src, dst, addr);
}

struct nd_msg {
	const uint8_t *src, *dst, *target;
	uint8_t type, flags;
	const uint8_t *lladdr; /* SLLA of an NS or TLLA of an NA, NULL if absent */
};

/* RFC 4861 7.1.1 / 7.1.2 validity checks. Returns false for a malformed message. */
static bool nd_parse(const uint8_t *ip, const uint8_t *icmp, uint16_t plen, struct nd_msg *msg)
{
	msg->src = ip + 8;
	msg->dst = ip + 24;
	msg->type = icmp[0];
	msg->flags = icmp[4];
	msg->target = icmp + 8;
	msg->lladdr = NULL;
	if (ip[7] != 255 || icmp[1] != 0 || plen < ND_HLEN)
		return false;
	if (mg_icmp6_cksum(msg->src, msg->dst, icmp, plen) != 0)
		return false;
	if (msg->target[0] == 0xff || msg->src[0] == 0xff)
		return false;
	for (uint32_t off = ND_HLEN; off < plen;) {
		const uint8_t *o = icmp + off;
		uint32_t olen;

		if (plen - off < 2 || o[1] == 0)
			return false;
		olen = o[1] * 8u;
		if (olen > plen - off)
			return false;
		if (olen == 8 && ((msg->type == 135 && o[0] == ND_OPT_SLLA) ||
		                  (msg->type == 136 && o[0] == ND_OPT_TLLA)))
			msg->lladdr = o + 2;
		off += olen;
	}
	if (msg->lladdr && !rte_is_valid_assigned_ether_addr((const void *)msg->lladdr))
		return false;
	if (msg->type == 135 && mg_neigh_v6_unspecified(msg->src)) {
		uint8_t sn[16];

		solicited_node(msg->target, sn);
		if (memcmp(msg->dst, sn, 16) != 0 || msg->lladdr != NULL)
			return false;
	}
	if (msg->type == 136 && msg->dst[0] == 0xff && (msg->flags & NA_FLAG_SOLICITED))
		return false;
	return true;
}

static void nd_solicitation(struct mg_gateway *gw, uint8_t port, const struct nd_msg *msg,
                            const struct rte_ether_addr *eth_src, uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;
	struct rte_ether_addr eth_dst;
	uint8_t dst[16], target[16];
	uint8_t flags = NA_FLAG_OVERRIDE;

	if (!v6_is_ours(gw, port, msg->target)) {
		n->stats.ignored++;
		return;
	}
	memcpy(target, msg->target, 16);
	if (mg_neigh_v6_unspecified(msg->src)) {
		/* someone's DAD probe for our address: defend it to all nodes (RFC 4861 7.2.4) */
		static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};

		memcpy(dst, all_nodes, 16);
		v6_multicast_mac(dst, &eth_dst);
	} else {
		memcpy(dst, msg->src, 16);
		if (msg->lladdr) {
			memcpy(&eth_dst, msg->lladdr, 6);
			mg_neigh_learn(n, port, 6, msg->src, &eth_dst, now_ns, false, true);
		} else {
			eth_dst = *eth_src; /* a unicast probe carries no option */
		}
		flags |= NA_FLAG_SOLICITED;
	}
	if (send_nd(gw, port, 136, flags, &eth_dst, target, dst, target) == 0)
		n->stats.replies_sent++;
}

static void nd_advertisement(struct mg_gateway *gw, uint8_t port, const struct nd_msg *msg,
                             uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;
	int64_t i;
	struct neigh_ctl *c;
	struct rte_ether_addr mac;

	i = v6_is_ours(gw, port, msg->target) ? -1 : mg_neigh_find(n, port, 6, msg->target);
	if (i < 0) {
		/* RFC 4861 7.2.5: an advertisement for an address we do not track is dropped */
		n->stats.ignored++;
		return;
	}
	c = &n->ctl[i];
	if (msg->lladdr)
		memcpy(&mac, msg->lladdr, 6);
	if (c->state == MG_NEIGH_INCOMPLETE
	        ? msg->lladdr == NULL
	        : (msg->lladdr && !rte_is_same_ether_addr(&mac, &c->mac) &&
	           !(msg->flags & NA_FLAG_OVERRIDE))) {
		n->stats.ignored++;
		return;
	}
	if (msg->lladdr == NULL)
		mac = c->mac;
	mg_neigh_learn(n, port, 6, msg->target, &mac, now_ns, msg->flags & NA_FLAG_SOLICITED,
	               false);
}

void mg_neigh_input_nd(struct mg_gateway *gw, uint8_t port, struct rte_mbuf *m, uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;
	uint8_t f[FRAME_MAX];
	const uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP6_HLEN;
	uint32_t len = rte_pktmbuf_pkt_len(m) < FRAME_MAX ? rte_pktmbuf_pkt_len(m) : FRAME_MAX;
	struct rte_ether_addr eth_src;
	const struct rte_ether_addr *our;
	struct nd_msg msg;
	uint16_t plen;

	n->stats.nd_rx++;
	if (port >= MG_PORT_COUNT || len < ETH_HLEN + IP6_HLEN + 4 ||
	    !mg_neigh_copy_frame(m, f, len) || mg_neigh_get16(f + 12) != RTE_ETHER_TYPE_IPV6 ||
	    ip[0] >> 4 != 6 || ip[6] != IPPROTO_ICMPV6) {
		n->stats.nd_malformed++;
		goto out;
	}
	plen = mg_neigh_get16(ip + 4);
	if (plen < 4 || ETH_HLEN + IP6_HLEN + (uint32_t)plen > len) {
		n->stats.nd_malformed++;
		goto out;
	}
	if (icmp[0] != 135 && icmp[0] != 136) {
		n->stats.ignored++; /* router solicitations, advertisements, redirects */
		goto out;
	}
	if (!nd_parse(ip, icmp, plen, &msg)) {
		n->stats.nd_malformed++;
		goto out;
	}
	our = &gw->ports[port].mac;
	memcpy(&eth_src, f + 6, 6);
	if (rte_is_same_ether_addr(&eth_src, our) || !rte_is_valid_assigned_ether_addr(&eth_src) ||
	    (!rte_is_multicast_ether_addr((const struct rte_ether_addr *)f) &&
	     !rte_is_same_ether_addr((const struct rte_ether_addr *)f, our))) {
		n->stats.ignored++;
		goto out;
	}
	if (msg.type == 135)
		nd_solicitation(gw, port, &msg, &eth_src, now_ns);
	else
		nd_advertisement(gw, port, &msg, now_ns);
out:
	rte_pktmbuf_free(m);
}
