// SPDX-License-Identifier: GPL-2.0-only
/*
 * Echo for the gateway's own addresses. Replies are made in place from the request, so the
 * control thread sends back the very mbuf it was punted.
 */
#include "echo.h"

#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "dataplane.h"
#include "neigh.h"
#include "pkt.h"

#define ICMP_ECHO_REQUEST   8
#define ICMP_ECHO_REPLY     0
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY   129
#define ICMP_HLEN           8

bool mg_echo_is_own_addr(const struct mg_gateway *gw, uint8_t port, uint8_t family,
                         const uint8_t *addr)
{
	if (mg_is_gateway_addr(mg_gateway_addrs(gw), family, addr))
		return true;
	if (family != 6 || port >= MG_PORT_COUNT)
		return false;
	uint8_t ll[16];
	mg_neigh_link_local(&gw->ports[port].mac, ll);
	return memcmp(ll, addr, 16) == 0;
}

bool mg_echo_reply_in_place(const struct mg_gateway *gw, uint8_t port, uint8_t *ip, uint32_t avail,
                            uint32_t *ip_len)
{
	struct mg_l3 l3;
	uint8_t tmp[16];
	if (mg_pkt_parse_ip(ip, avail, &l3) != 0 || l3.fragment ||
	    l3.total_len < l3.hdr_len + ICMP_HLEN ||
	    !mg_echo_is_own_addr(gw, port, l3.family, l3.dst))
		return false;
	uint8_t *icmp = ip + l3.hdr_len;
	unsigned alen = mg_addr_len(l3.family);
	uint8_t *src = ip + (l3.family == 4 ? 12 : 8), *dst = src + alen;
	rte_be16_t *cksum = (rte_be16_t *)(icmp + 2);
	if (l3.family == 4) {
		if (l3.proto != MG_IPPROTO_ICMP || icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
			return false;
		rte_be16_t *ip_cksum = (rte_be16_t *)(ip + 10);
		rte_be16_t old_ttl = rte_cpu_to_be_16((uint16_t)(ip[8] << 8 | ip[9]));
		ip[8] = MG_ECHO_TTL;
		*ip_cksum = mg_cksum_update16(*ip_cksum, old_ttl,
		                              rte_cpu_to_be_16((uint16_t)(ip[8] << 8 | ip[9])));
		icmp[0] = ICMP_ECHO_REPLY;
		*cksum = mg_cksum_update16(*cksum, rte_cpu_to_be_16(ICMP_ECHO_REQUEST << 8),
		                           rte_cpu_to_be_16(ICMP_ECHO_REPLY << 8));
	} else {
		if (l3.proto != MG_IPPROTO_ICMPV6 || icmp[0] != ICMPV6_ECHO_REQUEST || icmp[1] != 0)
			return false;
		ip[7] = MG_ECHO_TTL;
		icmp[0] = ICMPV6_ECHO_REPLY;
		*cksum = mg_cksum_update16(*cksum, rte_cpu_to_be_16(ICMPV6_ECHO_REQUEST << 8),
		                           rte_cpu_to_be_16(ICMPV6_ECHO_REPLY << 8));
	}
	memcpy(tmp, src, alen);
	memcpy(src, dst, alen);
	memcpy(dst, tmp, alen);
	*ip_len = l3.total_len;
	return true;
}

bool mg_echo_is_reply_to_us(const struct mg_gateway *gw, uint8_t port, const uint8_t *ip,
                            uint32_t avail)
{
	struct mg_l3 l3;
	if (mg_pkt_parse_ip(ip, avail, &l3) != 0 || l3.fragment ||
	    l3.total_len < l3.hdr_len + ICMP_HLEN ||
	    !mg_echo_is_own_addr(gw, port, l3.family, l3.dst))
		return false;
	uint8_t type = ip[l3.hdr_len];
	return l3.family == 4 ? l3.proto == MG_IPPROTO_ICMP && type == ICMP_ECHO_REPLY
	                      : l3.proto == MG_IPPROTO_ICMPV6 && type == ICMPV6_ECHO_REPLY;
}

size_t mg_echo_request_build(uint8_t *out, uint8_t family, const uint8_t *src, const uint8_t *dst,
                             uint16_t id, uint16_t seq, const void *payload, size_t payload_len)
{
	bool v4 = family == 4;
	size_t hl = v4 ? MG_IPV4_HLEN : MG_IPV6_HLEN, icmp_len = ICMP_HLEN + payload_len;
	size_t total = hl + icmp_len;
	uint8_t *icmp = out + hl;
	uint16_t ck;

	memset(out, 0, hl + ICMP_HLEN);
	icmp[0] = v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
	icmp[4] = (uint8_t)(id >> 8);
	icmp[5] = (uint8_t)id;
	icmp[6] = (uint8_t)(seq >> 8);
	icmp[7] = (uint8_t)seq;
	memcpy(icmp + ICMP_HLEN, payload, payload_len);
	if (v4) {
		out[0] = 0x45;
		out[2] = (uint8_t)(total >> 8);
		out[3] = (uint8_t)total;
		out[6] = 0x40; /* DF */
		out[8] = MG_ECHO_TTL;
		out[9] = MG_IPPROTO_ICMP;
		memcpy(out + 12, src, 4);
		memcpy(out + 16, dst, 4);
		ck = (uint16_t)~rte_raw_cksum(out, MG_IPV4_HLEN);
		memcpy(out + 10, &ck, 2);
		ck = (uint16_t)~rte_raw_cksum(icmp, icmp_len);
	} else {
		out[0] = 0x60;
		out[4] = (uint8_t)(icmp_len >> 8);
		out[5] = (uint8_t)icmp_len;
		out[6] = MG_IPPROTO_ICMPV6;
		out[7] = MG_ECHO_TTL;
		memcpy(out + 8, src, 16);
		memcpy(out + 24, dst, 16);
		ck = mg_icmp6_cksum(src, dst, icmp, (uint32_t)icmp_len);
	}
	memcpy(icmp + 2, &ck, 2);
	return total;
}
