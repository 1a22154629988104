/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Header parsing and building for the fast path and the neighbour/ICMP code: Ethernet, IPv4,
 * IPv6 and UDP on contiguous bytes. Nothing here allocates or touches shared state.
 *
 * Addresses are handled as (family, pointer to 4 or 16 bytes in network order), the way
 * struct mg_prefix and struct mg_sockaddr store them; family is 4 or 6.
 */
#ifndef MESHGATE_DATAPLANE_PKT_H
#define MESHGATE_DATAPLANE_PKT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>

#include "dp_config.h"

#define MG_ETH_HLEN  14
#define MG_IPV4_HLEN 20
#define MG_IPV6_HLEN 40
#define MG_UDP_HLEN  8

#define MG_IPPROTO_ICMP   1
#define MG_IPPROTO_TCP    6
#define MG_IPPROTO_UDP    17
#define MG_IPPROTO_ICMPV6 58

/* ECN field values (RFC 3168), the low two bits of the IPv4 TOS / IPv6 traffic class. */
#define MG_ECN_MASK  0x03
#define MG_ECN_ECT_0 0x02
#define MG_ECN_CE    0x03

/* An IP header as the fast path needs it. Pointers point into the parsed bytes. */
struct mg_l3 {
	uint8_t family;     /* 4 or 6 */
	uint8_t proto;      /* IPv4 protocol or the IPv6 next header */
	uint8_t ttl;        /* TTL / hop limit */
	uint8_t tclass;     /* IPv4 TOS / IPv6 traffic class (DSCP and ECN) */
	uint16_t hdr_len;   /* 20..60 for IPv4, 40 for IPv6 (extension headers not walked) */
	uint16_t total_len; /* the whole packet as the header states it */
	bool df;            /* IPv4 don't-fragment (always true for IPv6: routers never fragment) */
	bool fragment;      /* IPv4 MF set or offset non-zero; IPv6 fragment header first */
	const uint8_t *src, *dst;
};

/*
 * Parses the IP header at p; avail bytes are readable. Checks version, IHL, that the stated
 * length covers the header and fits in avail. The IPv4 header checksum is not verified (see
 * mg_ipv4_hdr_cksum_ok). Returns 0 or -1.
 */
int mg_pkt_parse_ip(const uint8_t *p, uint32_t avail, struct mg_l3 *out);
/* True when the IPv4 header (hdr_len bytes at p) carries a correct checksum. */
bool mg_ipv4_hdr_cksum_ok(const uint8_t *p, uint16_t hdr_len);

/* Address width in bytes for family 4 or 6 (0 otherwise). */
static inline unsigned mg_addr_len(uint8_t family)
{
	return family == 4 ? 4 : family == 6 ? 16 : 0;
}

/* Multicast or limited broadcast: never routed through the tunnel, never answered by ICMP. */
bool mg_addr_is_multicast(uint8_t family, const uint8_t *addr);
/* IPv6 link-local unicast (fe80::/10): never routed off the link. */
bool mg_addr_is_link_local6(const uint8_t *addr);

/* True when addr is the port's own address of that family. */
bool mg_port_is_own_addr(const struct mg_port_addrs *pc, uint8_t family, const uint8_t *addr);
/* True when addr is any address of the gateway: either port's or an interface (overlay) one. */
bool mg_is_gateway_addr(const struct mg_dp_addrs *addrs, uint8_t family, const uint8_t *addr);
/*
 * Decrements the TTL / hop limit of the IP header at p in place (IPv4: incremental checksum
 * update, RFC 1624). Returns false, changing nothing, when the packet must not be forwarded
 * (TTL <= 1).
 */
bool mg_ip_dec_ttl(uint8_t *p, uint8_t family);
/* Sets the ECN field of the IP header at p to CE (IPv4: incremental checksum update). */
void mg_ip_set_ce(uint8_t *p, uint8_t family);
/* RFC 6040 encapsulation: the outer ECN field for an inner one (CE is carried as ECT(0)). */
static inline uint8_t mg_ecn_encap(uint8_t inner_tclass)
{
	uint8_t ecn = inner_tclass & MG_ECN_MASK;
	return ecn == MG_ECN_CE ? MG_ECN_ECT_0 : ecn;
}

/* RFC 1624 eqn. 3: a 16-bit ones' complement checksum after one 16-bit word changed. */
static inline rte_be16_t mg_cksum_update16(rte_be16_t cksum, rte_be16_t old_word,
                                           rte_be16_t new_word)
{
	uint32_t sum = (uint16_t)~rte_be_to_cpu_16(cksum);
	sum += (uint16_t)~rte_be_to_cpu_16(old_word);
	sum += rte_be_to_cpu_16(new_word);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return rte_cpu_to_be_16((uint16_t)~sum);
}

/*
 * The ICMPv6 checksum (RFC 4443 2.3) of len bytes at l4, pseudo-header included, in memory
 * order: store it with memcpy. Over a message whose checksum field is set, 0 means correct.
 */
uint16_t mg_icmp6_cksum(const uint8_t *src, const uint8_t *dst, const uint8_t *l4, uint32_t len);

/* Writes a 14-byte Ethernet header at p; ethertype in host order. */
void mg_eth_write(uint8_t *p, const struct rte_ether_addr *dst, const struct rte_ether_addr *src,
                  uint16_t ethertype);

/* An outer IP + UDP header to build in front of payload_len bytes of UDP payload. */
struct mg_udp_tuple {
	uint8_t family; /* 4 or 6 */
	uint8_t tclass; /* TOS / traffic class */
	uint8_t ttl;
	uint16_t ip_id; /* IPv4 only */
	const uint8_t *src, *dst;
	uint16_t sport, dport; /* host order */
};

/* Bytes of IP + UDP header for a family. */
static inline unsigned mg_ip_udp_hlen(uint8_t family)
{
	return (family == 6 ? MG_IPV6_HLEN : MG_IPV4_HLEN) + MG_UDP_HLEN;
}

/* How the UDP checksum is filled in. */
enum mg_udp_cksum {
	MG_UDP_CKSUM_ZERO,    /* 0: "no checksum", allowed for IPv4 only */
	MG_UDP_CKSUM_SW,      /* computed over the payload here */
	MG_UDP_CKSUM_OFFLOAD, /* pseudo-header sum only; the NIC completes it (mbuf flags set by
	                         the caller) */
};

/*
 * Writes the IP and UDP headers at p, followed by payload_len bytes already in place.
 * ip_cksum: compute the IPv4 header checksum (false: leave 0 for TX offload).
 */
void mg_ip_udp_write(uint8_t *p, const struct mg_udp_tuple *t, uint16_t payload_len, bool ip_cksum,
                     enum mg_udp_cksum udp_cksum);

#endif
