// SPDX-License-Identifier: GPL-2.0-only
#include "pkt.h"

#include <string.h>

#include <rte_ip.h>
#include <rte_udp.h>

#define IPV4_MF      0x2000
#define IPV4_DF      0x4000
#define IPV4_OFFMASK 0x1fff
#define IPV6_NH_FRAG 44

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int mg_pkt_parse_ip(const uint8_t *p, uint32_t avail, struct mg_l3 *out)
{
	if (avail < 1)
		return -1;
	switch (p[0] >> 4) {
	case 4: {
		uint16_t ihl = (uint16_t)((p[0] & 0x0f) * 4);
		if (avail < MG_IPV4_HLEN || ihl < MG_IPV4_HLEN || ihl > avail)
			return -1;
		uint16_t tot = rd16(p + 2), frag = rd16(p + 6);
		if (tot < ihl || tot > avail)
			return -1;
		out->family = 4;
		out->tclass = p[1];
		out->ttl = p[8];
		out->proto = p[9];
		out->hdr_len = ihl;
		out->total_len = tot;
		out->df = (frag & IPV4_DF) != 0;
		out->fragment = (frag & (IPV4_MF | IPV4_OFFMASK)) != 0;
		out->src = p + 12;
		out->dst = p + 16;
		return 0;
	}
	case 6: {
		if (avail < MG_IPV6_HLEN)
			return -1;
		uint32_t tot = MG_IPV6_HLEN + (uint32_t)rd16(p + 4);
		if (tot > avail)
			return -1;
		out->family = 6;
		out->tclass = (uint8_t)((p[0] & 0x0f) << 4 | p[1] >> 4);
		out->proto = p[6];
		out->ttl = p[7];
		out->hdr_len = MG_IPV6_HLEN;
		out->total_len = (uint16_t)tot;
		out->df = true;
		out->fragment = p[6] == IPV6_NH_FRAG;
		out->src = p + 8;
		out->dst = p + 24;
		return 0;
	}
	default:
		return -1;
	}
}

bool mg_ipv4_hdr_cksum_ok(const uint8_t *p, uint16_t hdr_len)
{
	/* The ones' complement sum over a correct header, checksum included, is 0xffff. */
	return rte_raw_cksum(p, hdr_len) == 0xffff;
}

uint16_t mg_icmp6_cksum(const uint8_t *src, const uint8_t *dst, const uint8_t *l4, uint32_t len)
{
	uint8_t ph[8] = {
	    (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0,
	    MG_IPPROTO_ICMPV6};
	uint32_t sum = __rte_raw_cksum(src, 16, 0);

	sum = __rte_raw_cksum(dst, 16, sum);
	sum = __rte_raw_cksum(ph, sizeof(ph), sum);
	sum = __rte_raw_cksum(l4, len, sum);
	return (uint16_t)~__rte_raw_cksum_reduce(sum);
}

bool mg_addr_is_multicast(uint8_t family, const uint8_t *addr)
{
	if (family == 4) {
		return (addr[0] & 0xf0) == 0xe0 ||
		       (addr[0] == 255 && addr[1] == 255 && addr[2] == 255 && addr[3] == 255);
	}
	return addr[0] == 0xff;
}

bool mg_addr_is_link_local6(const uint8_t *addr)
{
	return addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;
}

static const struct mg_prefix *port_prefix(const struct mg_port_addrs *pc, uint8_t family)
{
	if (family == 4)
		return pc->has_ipv4 ? &pc->ipv4 : NULL;
	if (family == 6)
		return pc->has_ipv6 ? &pc->ipv6 : NULL;
	return NULL;
}

bool mg_port_is_own_addr(const struct mg_port_addrs *pc, uint8_t family, const uint8_t *addr)
{
	const struct mg_prefix *p = port_prefix(pc, family);
	return p && mg_addr_eq(family, p->addr, addr);
}

bool mg_is_gateway_addr(const struct mg_dp_addrs *addrs, uint8_t family, const uint8_t *addr)
{
	for (unsigned p = 0; p < MG_PORT_COUNT; p++)
		if (mg_port_is_own_addr(&addrs->ports[p], family, addr))
			return true;
	for (size_t i = 0; i < addrs->n_addresses; i++)
		if (addrs->addresses[i].family == family &&
		    mg_addr_eq(family, addrs->addresses[i].addr, addr))
			return true;
	return false;
}

bool mg_ip_dec_ttl(uint8_t *p, uint8_t family)
{
	if (family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;
		if (ip->time_to_live <= 1)
			return false;
		/* TTL shares its 16-bit word with the protocol. */
		rte_be16_t old =
		    rte_cpu_to_be_16((uint16_t)(ip->time_to_live << 8 | ip->next_proto_id));
		ip->time_to_live--;
		rte_be16_t new =
		    rte_cpu_to_be_16((uint16_t)(ip->time_to_live << 8 | ip->next_proto_id));
		ip->hdr_checksum = mg_cksum_update16(ip->hdr_checksum, old, new);
		return true;
	}
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;
	if (ip6->hop_limits <= 1)
		return false;
	ip6->hop_limits--;
	return true;
}

void mg_ip_set_ce(uint8_t *p, uint8_t family)
{
	if (family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;
		rte_be16_t old = rte_cpu_to_be_16((uint16_t)(p[0] << 8 | ip->type_of_service));
		ip->type_of_service |= MG_ECN_CE;
		rte_be16_t new = rte_cpu_to_be_16((uint16_t)(p[0] << 8 | ip->type_of_service));
		ip->hdr_checksum = mg_cksum_update16(ip->hdr_checksum, old, new);
		return;
	}
	/* Traffic class bits 20..27 of vtc_flow: ECN is bits 20 and 21, in the second byte. */
	p[1] |= MG_ECN_CE << 4;
}

void mg_eth_write(uint8_t *p, const struct rte_ether_addr *dst, const struct rte_ether_addr *src,
                  uint16_t ethertype)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	rte_ether_addr_copy(dst, &eth->dst_addr);
	rte_ether_addr_copy(src, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(ethertype);
}

void mg_ip_udp_write(uint8_t *p, const struct mg_udp_tuple *t, uint16_t payload_len, bool ip_cksum,
                     enum mg_udp_cksum udp_cksum)
{
	uint16_t udp_len = (uint16_t)(MG_UDP_HLEN + payload_len);
	struct rte_udp_hdr *udp;

	if (t->family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;
		udp = (struct rte_udp_hdr *)(p + MG_IPV4_HLEN);
		ip->version_ihl = 0x45;
		ip->type_of_service = t->tclass;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(MG_IPV4_HLEN + udp_len));
		ip->packet_id = rte_cpu_to_be_16(t->ip_id);
		ip->fragment_offset = 0;
		ip->time_to_live = t->ttl;
		ip->next_proto_id = MG_IPPROTO_UDP;
		ip->hdr_checksum = 0;
		memcpy(&ip->src_addr, t->src, 4);
		memcpy(&ip->dst_addr, t->dst, 4);
		udp->src_port = rte_cpu_to_be_16(t->sport);
		udp->dst_port = rte_cpu_to_be_16(t->dport);
		udp->dgram_len = rte_cpu_to_be_16(udp_len);
		udp->dgram_cksum = 0;
		if (udp_cksum == MG_UDP_CKSUM_SW)
			udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
		else if (udp_cksum == MG_UDP_CKSUM_OFFLOAD)
			udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, RTE_MBUF_F_TX_UDP_CKSUM);
		if (ip_cksum)
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		return;
	}
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;
	udp = (struct rte_udp_hdr *)(p + MG_IPV6_HLEN);
	ip6->vtc_flow = rte_cpu_to_be_32(6u << 28 | (uint32_t)t->tclass << RTE_IPV6_HDR_TC_SHIFT);
	ip6->payload_len = rte_cpu_to_be_16(udp_len);
	ip6->proto = MG_IPPROTO_UDP;
	ip6->hop_limits = t->ttl;
	memcpy(ip6->src_addr, t->src, 16);
	memcpy(ip6->dst_addr, t->dst, 16);
	udp->src_port = rte_cpu_to_be_16(t->sport);
	udp->dst_port = rte_cpu_to_be_16(t->dport);
	udp->dgram_len = rte_cpu_to_be_16(udp_len);
	udp->dgram_cksum = 0;
	if (udp_cksum == MG_UDP_CKSUM_OFFLOAD)
		udp->dgram_cksum = rte_ipv6_phdr_cksum(ip6, RTE_MBUF_F_TX_UDP_CKSUM);
	else
		/* IPv6 forbids a zero UDP checksum: MG_UDP_CKSUM_ZERO computes it too. */
		udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip6, udp);
}
