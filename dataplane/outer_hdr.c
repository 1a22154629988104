// SPDX-License-Identifier: GPL-2.0-only
#include "outer_hdr.h"

#include "messages.h"

/* The 16-bit words of n bytes (n even) as memory holds them; the bytes come from the caller's
 * inputs, not from the template being written, so nothing waits on a store. */
static uint32_t sum_bytes(const uint8_t *p, unsigned n)
{
	uint32_t s = 0;
	for (unsigned i = 0; i < n; i += 2) {
		uint16_t w;
		memcpy(&w, p + i, 2);
		s += w;
	}
	return s;
}

void mg_outer_tmpl_init(struct mg_outer_tmpl *tmpl, const struct rte_ether_addr *dst_mac,
                        const struct rte_ether_addr *src_mac, const struct mg_udp_tuple *t,
                        bool ip_cksum, enum mg_udp_cksum udp_cksum, uint32_t receiver_index)
{
	unsigned alen = mg_addr_len(t->family);
	uint8_t *h = tmpl->hdr;
	uint8_t *ip = h + MG_ETH_HLEN;
	uint8_t *udp = ip + (t->family == 4 ? MG_IPV4_HLEN : MG_IPV6_HLEN);
	rte_be16_t sport = rte_cpu_to_be_16(t->sport), dport = rte_cpu_to_be_16(t->dport);
	rte_be16_t proto = rte_cpu_to_be_16(MG_IPPROTO_UDP); /* {0, 17}: the pseudo-header's */
	uint32_t msg_head[2] = {rte_cpu_to_le_32(WG_MSG_DATA), rte_cpu_to_le_32(receiver_index)};

	memset(tmpl, 0, sizeof(*tmpl));
	tmpl->family = t->family;
	tmpl->ip_cksum = t->family == 4 && ip_cksum;
	tmpl->udp_cksum =
	    (uint8_t)(t->family == 6 && udp_cksum == MG_UDP_CKSUM_ZERO ? MG_UDP_CKSUM_SW
	                                                               : udp_cksum);

	memcpy(h, dst_mac, RTE_ETHER_ADDR_LEN);
	memcpy(h + RTE_ETHER_ADDR_LEN, src_mac, RTE_ETHER_ADDR_LEN);
	rte_be16_t etype =
	    rte_cpu_to_be_16(t->family == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	memcpy(h + 12, &etype, 2);
	if (t->family == 4) {
		/* TOS, total length, ID and checksum are the message's; flags and offset 0. */
		ip[0] = 0x45;
		ip[8] = t->ttl;
		ip[9] = MG_IPPROTO_UDP;
		memcpy(ip + 12, t->src, 4);
		memcpy(ip + 16, t->dst, 4);
		tmpl->ip_sum = rte_cpu_to_be_16(0x4500) +
		               rte_cpu_to_be_16((uint16_t)(t->ttl << 8 | MG_IPPROTO_UDP)) +
		               sum_bytes(t->src, 4) + sum_bytes(t->dst, 4);
	} else {
		ip[0] = 0x60;
		ip[6] = MG_IPPROTO_UDP;
		ip[7] = t->ttl;
		memcpy(ip + 8, t->src, 16);
		memcpy(ip + 24, t->dst, 16);
	}
	memcpy(udp, &sport, 2);
	memcpy(udp + 2, &dport, 2);
	memcpy(udp + MG_UDP_HLEN, msg_head, sizeof(msg_head));

	tmpl->udp_sum = sum_bytes(t->src, alen) + sum_bytes(t->dst, alen) + proto;
	if (tmpl->udp_cksum == MG_UDP_CKSUM_SW)
		tmpl->udp_sum +=
		    sport + dport + sum_bytes((const uint8_t *)msg_head, sizeof(msg_head));
}
