/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The outer headers of a WireGuard data message sent over IP: Ethernet, IPv4 or IPv6, UDP and
 * the message's own 16-byte header (type, receiver index, counter).
 *
 * All of it but a few fields is the same for every message a burst sends to one peer, so encap
 * builds a template once per peer and burst; each message then gets a copy in a few wide stores
 * and its own traffic class, lengths, IPv4 ID and counter. The checksums are summed from those
 * values and the template's precomputed sum, never by reading back the header just written: a
 * load that spans several narrow stores cannot be forwarded from the store buffer and waits
 * until they reach the cache, and the headroom line they go to may not even be owned yet. That
 * read-back was most of the old writer's time (mg_ip_udp_write, bench/README.md).
 */
#ifndef MESHGATE_DATAPLANE_OUTER_HDR_H
#define MESHGATE_DATAPLANE_OUTER_HDR_H

#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "pkt.h"

#define MG_WG_DATA_HLEN 16 /* struct wg_msg_data: type, receiver index, counter */
#define MG_OUTER4_LEN   (MG_ETH_HLEN + MG_IPV4_HLEN + MG_UDP_HLEN + MG_WG_DATA_HLEN)
#define MG_OUTER6_LEN   (MG_ETH_HLEN + MG_IPV6_HLEN + MG_UDP_HLEN + MG_WG_DATA_HLEN)

struct mg_outer_tmpl {
	uint8_t hdr[MG_OUTER6_LEN]; /* MG_OUTER4_LEN used for IPv4 */
	uint8_t family;             /* 4 or 6 */
	bool ip_cksum;              /* IPv4: fill in the header checksum (false: the NIC does) */
	uint8_t udp_cksum;          /* enum mg_udp_cksum */
	uint32_t ip_sum;            /* IPv4 header words that never change, unfolded */
	uint32_t udp_sum;           /* pseudo-header addresses and protocol, the ports for SW,
	                               the message type and receiver index for SW; unfolded */
};

/*
 * Builds the template for messages from t->src:t->sport to t->dst:t->dport (t->tclass and
 * t->ip_id are per message and ignored here), the Ethernet addresses, and the receiver index
 * (host order) the peer gave this keypair. udp_cksum MG_UDP_CKSUM_ZERO is IPv4 only (IPv6
 * computes it as MG_UDP_CKSUM_SW does), as with mg_ip_udp_write.
 */
void mg_outer_tmpl_init(struct mg_outer_tmpl *tmpl, const struct rte_ether_addr *dst_mac,
                        const struct rte_ether_addr *src_mac, const struct mg_udp_tuple *t,
                        bool ip_cksum, enum mg_udp_cksum udp_cksum, uint32_t receiver_index);

/* The bytes a template puts in front of the sealed payload. */
static inline unsigned mg_outer_len(const struct mg_outer_tmpl *tmpl)
{
	return tmpl->family == 4 ? MG_OUTER4_LEN : MG_OUTER6_LEN;
}

/* The four 16-bit words of 8 bytes as memory holds them, summed as rte_raw_cksum would. */
static inline uint32_t mg_outer_sum64(uint64_t mem)
{
	return (uint32_t)(mem & 0xffff) + (uint32_t)(mem >> 16 & 0xffff) +
	       (uint32_t)(mem >> 32 & 0xffff) + (uint32_t)(mem >> 48);
}

static inline uint16_t mg_outer_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Writes the outer headers at frame in front of a sealed payload of body_len bytes (padded
 * plaintext and tag), which must already be in place at frame + mg_outer_len(tmpl): only
 * MG_UDP_CKSUM_SW reads it. tclass is the outer traffic class (ECN already mapped), counter the
 * message's nonce counter.
 */
static inline void mg_outer_write(uint8_t *frame, const struct mg_outer_tmpl *tmpl, uint8_t tclass,
                                  uint16_t ip_id, uint16_t body_len, uint64_t counter)
{
	uint16_t udp_len = (uint16_t)(MG_UDP_HLEN + MG_WG_DATA_HLEN + body_len);
	rte_be16_t udp_len_be = rte_cpu_to_be_16(udp_len);
	uint64_t counter_le = rte_cpu_to_le_64(counter);
	uint32_t udp_sum = 0;
	uint8_t *udp;

	if (tmpl->family == 4) {
		uint8_t *ip = frame + MG_ETH_HLEN;
		memcpy(frame, tmpl->hdr, MG_OUTER4_LEN);
		rte_be16_t tot = rte_cpu_to_be_16((uint16_t)(MG_IPV4_HLEN + udp_len));
		rte_be16_t id = rte_cpu_to_be_16(ip_id);
		ip[1] = tclass;
		memcpy(ip + 2, &tot, 2);
		memcpy(ip + 4, &id, 2);
		if (tmpl->ip_cksum) {
			/* The version/IHL byte is in the template's sum: the TOS is the
			 * word's second byte. */
			uint32_t s = tmpl->ip_sum + rte_cpu_to_be_16(tclass) + tot + id;
			rte_be16_t ck = (rte_be16_t)~mg_outer_fold(s);
			memcpy(ip + 10, &ck, 2);
		}
		udp = ip + MG_IPV4_HLEN;
	} else {
		uint8_t *ip = frame + MG_ETH_HLEN;
		memcpy(frame, tmpl->hdr, MG_OUTER6_LEN);
		/* Version 6, the traffic class, a zero flow label. */
		ip[0] = (uint8_t)(0x60 | tclass >> 4);
		ip[1] = (uint8_t)(tclass << 4);
		memcpy(ip + 4, &udp_len_be, 2);
		udp = ip + MG_IPV6_HLEN;
	}
	memcpy(udp + 4, &udp_len_be, 2);
	memcpy(udp + MG_UDP_HLEN + 8, &counter_le, 8);
	if (tmpl->udp_cksum == MG_UDP_CKSUM_ZERO)
		return;
	/* The length counts twice: in the pseudo-header and in the UDP header. */
	udp_sum = tmpl->udp_sum + udp_len_be;
	if (tmpl->udp_cksum == MG_UDP_CKSUM_OFFLOAD) {
		rte_be16_t ck = mg_outer_fold(udp_sum);
		memcpy(udp + 6, &ck, 2);
		return;
	}
	udp_sum += udp_len_be + mg_outer_sum64(counter_le);
	/* 32-bit word sums of at most 64 KB: no overflow. */
	udp_sum += __rte_raw_cksum(udp + MG_UDP_HLEN + MG_WG_DATA_HLEN, body_len, 0);
	rte_be16_t ck = (rte_be16_t)~mg_outer_fold(udp_sum);
	if (ck == 0)
		ck = 0xffff; /* RFC 768: a computed zero is sent as all ones */
	memcpy(udp + 6, &ck, 2);
}

#endif
