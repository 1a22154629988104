// SPDX-License-Identifier: GPL-2.0-only
/*
 * The template writer of the outer headers (dataplane/outer_hdr.h) against the field-by-field
 * one it replaced on the encrypt path (mg_eth_write, mg_ip_udp_write: DPDK's rte_ipv4_cksum,
 * rte_ipv4_phdr_cksum, rte_ipv6_phdr_cksum and rte_ipv*_udptcp_cksum over the written bytes),
 * byte for byte, for random addresses, ports, MACs, traffic classes, IDs, TTLs, receiver
 * indexes, counters and payloads, in every checksum mode; and each checksum checked on its own
 * by summing the finished headers.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "check.h"
#include "messages.h"
#include "outer_hdr.h"
#include "pkt.h"

#define ROUNDS   20000
#define BODY_MAX 1440 /* padded plaintext and tag of a 1420-byte MTU message, and then some */
#define HEADROOM 128

static uint64_t rng = 0x6f75746572;

static uint32_t rnd(void)
{
	return (uint32_t)test_rng_next(&rng);
}

static void fill(void *p, size_t n)
{
	test_rng(&rng, p, n);
}

/* The old path: the data header, then mg_ip_udp_write and mg_eth_write in front of it. */
static void reference(uint8_t *frame, const struct rte_ether_addr *dst,
                      const struct rte_ether_addr *src, const struct mg_udp_tuple *t, bool ip_cksum,
                      enum mg_udp_cksum uc, uint32_t index, uint64_t counter, uint16_t body_len)
{
	unsigned iphl = mg_ip_udp_hlen(t->family);
	struct wg_msg_data hdr = {
	    .header.type = rte_cpu_to_le_32(WG_MSG_DATA),
	    .key_idx = rte_cpu_to_le_32(index),
	    .counter = rte_cpu_to_le_64(counter),
	};
	memcpy(frame + MG_ETH_HLEN + iphl, &hdr, sizeof(hdr));
	mg_ip_udp_write(frame + MG_ETH_HLEN, t, (uint16_t)(sizeof(hdr) + body_len), ip_cksum, uc);
	mg_eth_write(frame, dst, src, t->family == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
}

/* The finished frame's checksums, summed from its bytes (RFC 1071). */
static void check_sums(const uint8_t *frame, uint8_t family, bool ip_cksum, enum mg_udp_cksum uc,
                       unsigned udp_len)
{
	const uint8_t *ip = frame + MG_ETH_HLEN;
	if (family == 4) {
		const struct rte_ipv4_hdr *h = (const void *)ip;
		if (ip_cksum)
			CHECK(rte_raw_cksum(ip, MG_IPV4_HLEN) == 0xffff, "IPv4 header sum");
		else
			CHECK(h->hdr_checksum == 0, "IPv4 checksum left to the NIC");
		const struct rte_udp_hdr *u = (const void *)(ip + MG_IPV4_HLEN);
		if (uc == MG_UDP_CKSUM_SW)
			CHECK(rte_ipv4_udptcp_cksum_verify(h, u) == 0, "IPv4 UDP sum");
		else if (uc == MG_UDP_CKSUM_ZERO)
			CHECK(u->dgram_cksum == 0, "IPv4 UDP without a checksum");
		else
			CHECK(u->dgram_cksum == rte_ipv4_phdr_cksum(h, 0),
			      "IPv4 pseudo-header sum");
		CHECK(rte_be_to_cpu_16(u->dgram_len) == udp_len, "UDP length");
		return;
	}
	const struct rte_ipv6_hdr *h = (const void *)ip;
	const struct rte_udp_hdr *u = (const void *)(ip + MG_IPV6_HLEN);
	if (uc == MG_UDP_CKSUM_OFFLOAD)
		CHECK(u->dgram_cksum == rte_ipv6_phdr_cksum(h, 0), "IPv6 pseudo-header sum");
	else
		CHECK(rte_ipv6_udptcp_cksum_verify(h, u) == 0 && u->dgram_cksum != 0,
		      "IPv6 UDP sum");
	CHECK(rte_be_to_cpu_16(h->payload_len) == udp_len, "IPv6 payload length");
}

static void one(uint8_t family, bool ip_cksum, enum mg_udp_cksum uc)
{
	static uint8_t want[HEADROOM + BODY_MAX], got[HEADROOM + BODY_MAX];
	uint8_t src[16], dst[16];
	struct rte_ether_addr dmac, smac;
	fill(src, sizeof(src));
	fill(dst, sizeof(dst));
	fill(&dmac, sizeof(dmac));
	fill(&smac, sizeof(smac));
	struct mg_udp_tuple t = {
	    .family = family,
	    .tclass = (uint8_t)rnd(),
	    .ttl = (uint8_t)rnd(),
	    .ip_id = (uint16_t)rnd(),
	    .src = src,
	    .dst = dst,
	    .sport = (uint16_t)rnd(),
	    .dport = (uint16_t)rnd(),
	};
	uint32_t index = rnd();
	uint64_t counter = test_rng_next(&rng);
	/* Mostly whole blocks as sealing leaves them, sometimes any length, odd ones too. */
	uint16_t body_len =
	    (uint16_t)(rnd() % 4 ? 16 * (1 + rnd() % (BODY_MAX / 16)) : 1 + rnd() % BODY_MAX);
	unsigned outer = family == 4 ? MG_OUTER4_LEN : MG_OUTER6_LEN;
	uint8_t *wf = want + HEADROOM - outer, *gf = got + HEADROOM - outer;

	fill(want, sizeof(want)); /* garbage where the headers go: every byte must be written */
	memset(got, 0xa5, sizeof(got));
	fill(want + HEADROOM, body_len);
	memcpy(got + HEADROOM, want + HEADROOM, body_len);
	reference(wf, &dmac, &smac, &t, ip_cksum, uc, index, counter, body_len);

	struct mg_outer_tmpl tmpl;
	struct mg_udp_tuple per_group = t;
	per_group.tclass = (uint8_t)~t.tclass; /* per message: the template must ignore them */
	per_group.ip_id = (uint16_t)~t.ip_id;
	mg_outer_tmpl_init(&tmpl, &dmac, &smac, &per_group, ip_cksum, uc, index);
	CHECK(mg_outer_len(&tmpl) == outer, "outer length");
	mg_outer_write(gf, &tmpl, t.tclass, t.ip_id, body_len, counter);

	bool same = memcmp(wf, gf, outer + body_len) == 0;
	CHECK(same, "family %u ip_cksum %d udp %d body %u: template writer differs", family,
	      ip_cksum, uc, body_len);
	if (!same) {
		for (unsigned i = 0; i < outer; i++)
			if (wf[i] != gf[i])
				fprintf(stderr, "  byte %u: want %02x got %02x\n", i, wf[i], gf[i]);
		exit(check_done("outer_hdr"));
	}
	check_sums(gf, family, ip_cksum, uc, MG_UDP_HLEN + MG_WG_DATA_HLEN + body_len);
}

/* All-zero and all-ones fields: the sums' edge cases (a ones' complement zero) */
static void edges(void)
{
	static uint8_t want[HEADROOM + 64], got[HEADROOM + 64];
	uint8_t zero[16] = {0}, ones[16];
	struct rte_ether_addr mac = {{0}};
	memset(ones, 0xff, sizeof(ones));
	for (unsigned v = 0; v < 8; v++) {
		uint8_t family = v & 1 ? 6 : 4;
		const uint8_t *a = v & 2 ? ones : zero;
		enum mg_udp_cksum uc = v & 4 ? MG_UDP_CKSUM_SW : MG_UDP_CKSUM_OFFLOAD;
		struct mg_udp_tuple t = {.family = family,
		                         .tclass = v & 2 ? 0xff : 0,
		                         .ttl = 0,
		                         .ip_id = v & 2 ? 0xffff : 0,
		                         .src = a,
		                         .dst = a,
		                         .sport = v & 2 ? 0xffff : 0,
		                         .dport = v & 2 ? 0xffff : 0};
		unsigned outer = family == 4 ? MG_OUTER4_LEN : MG_OUTER6_LEN;
		memset(want, v & 2 ? 0xff : 0, sizeof(want));
		memcpy(got, want, sizeof(got));
		reference(want + HEADROOM - outer, &mac, &mac, &t, true, uc, v & 2 ? ~0u : 0,
		          v & 2 ? ~0ull : 0, 64);
		struct mg_outer_tmpl tmpl;
		mg_outer_tmpl_init(&tmpl, &mac, &mac, &t, true, uc, v & 2 ? ~0u : 0);
		mg_outer_write(got + HEADROOM - outer, &tmpl, t.tclass, t.ip_id, 64,
		               v & 2 ? ~0ull : 0);
		CHECK(memcmp(want, got, sizeof(want)) == 0, "edge case %u", v);
	}
}

int main(void)
{
	const enum mg_udp_cksum modes[] = {MG_UDP_CKSUM_ZERO, MG_UDP_CKSUM_SW,
	                                   MG_UDP_CKSUM_OFFLOAD};
	for (unsigned f = 0; f < 2; f++)
		for (unsigned ipc = 0; ipc < 2; ipc++)
			for (unsigned u = 0; u < 3; u++)
				for (unsigned r = 0; r < ROUNDS; r++)
					one(f ? 6 : 4, ipc, modes[u]);
	edges();
	return check_done("outer_hdr");
}
