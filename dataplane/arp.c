// SPDX-License-Identifier: GPL-2.0-only
/*
 * ARP (RFC 826) for the neighbour table: answering for the port's IPv4 address, learning from
 * requests and replies, and the requests resolution and aging send.
 */
#include <string.h>

#include <rte_arp.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "neigh_internal.h"

#define ARP_LEN 28

static const struct rte_ether_addr bcast_mac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

/* ARP request (who-has target) to dst_mac; broadcast when resolving, unicast when probing. */
static int send_arp(struct mg_gateway *gw, uint8_t port, uint16_t op,
                    const struct rte_ether_addr *eth_dst, const struct rte_ether_addr *tha,
                    const uint8_t *tip)
{
	const struct mg_port_addrs *pc = &mg_gateway_addrs(gw)->ports[port];
	const struct rte_ether_addr *our = &gw->ports[port].mac;
	uint8_t f[ETH_HLEN + ARP_LEN];
	uint8_t *a = f + ETH_HLEN;

	mg_neigh_eth_header(f, eth_dst, our, RTE_ETHER_TYPE_ARP);
	mg_neigh_put16(a, RTE_ARP_HRD_ETHER);
	mg_neigh_put16(a + 2, RTE_ETHER_TYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	mg_neigh_put16(a + 6, op);
	memcpy(a + 8, our, 6);
	memcpy(a + 14, pc->ipv4.addr, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, tip, 4);
	return mg_neigh_send_frame(gw, port, f, sizeof(f));
}

int mg_arp_solicit(struct mg_gateway *gw, uint8_t port, const uint8_t *addr,
                   const struct rte_ether_addr *unicast)
{
	static const struct rte_ether_addr zero_mac;

	return send_arp(gw, port, RTE_ARP_OP_REQUEST, unicast ? unicast : &bcast_mac, &zero_mac,
	                addr);
}

void mg_neigh_input_arp(struct mg_gateway *gw, uint8_t port, struct rte_mbuf *m, uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;
	uint8_t f[ETH_HLEN + ARP_LEN];
	const uint8_t *a = f + ETH_HLEN;
	struct rte_ether_addr sha, our;
	const struct mg_port_addrs *pc;
	const uint8_t *sip, *tip;
	uint16_t op;
	bool for_us;

	n->stats.arp_rx++;
	if (port >= MG_PORT_COUNT || !mg_neigh_copy_frame(m, f, sizeof(f))) {
		n->stats.arp_malformed++;
		goto out;
	}
	pc = &mg_gateway_addrs(gw)->ports[port];
	our = gw->ports[port].mac;
	op = mg_neigh_get16(a + 6);
	memcpy(&sha, a + 8, 6);
	sip = a + 14;
	tip = a + 24;
	if (mg_neigh_get16(f + 12) != RTE_ETHER_TYPE_ARP ||
	    mg_neigh_get16(a) != RTE_ARP_HRD_ETHER ||
	    mg_neigh_get16(a + 2) != RTE_ETHER_TYPE_IPV4 || a[4] != 6 || a[5] != 4 ||
	    (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) ||
	    !rte_is_valid_assigned_ether_addr(&sha) ||
	    (mg_neigh_v4_unusable(sip) &&
	     !(op == RTE_ARP_OP_REQUEST && memcmp(sip, "\0\0\0\0", 4) == 0))) {
		n->stats.arp_malformed++;
		goto out;
	}
	/* frames we sent ourselves, or unicast to another station (promiscuous ports) */
	if (rte_is_same_ether_addr(&sha, &our) ||
	    (!rte_is_multicast_ether_addr((const struct rte_ether_addr *)f) &&
	     !rte_is_same_ether_addr((const struct rte_ether_addr *)f, &our))) {
		n->stats.ignored++;
		goto out;
	}
	for_us = pc->has_ipv4 && memcmp(tip, pc->ipv4.addr, 4) == 0;
	if (!for_us) {
		/* gratuitous ARP refreshes an entry we already have, never creates one */
		if (memcmp(sip, tip, 4) == 0)
			mg_neigh_learn(n, port, 4, sip, &sha, now_ns, false, false);
		else
			n->stats.ignored++;
		goto out;
	}
	if (op == RTE_ARP_OP_REQUEST) {
		uint8_t sip_copy[4];

		memcpy(sip_copy, sip, 4);
		if (!mg_neigh_v4_unusable(sip))
			mg_neigh_learn(n, port, 4, sip, &sha, now_ns, false, true);
		if (send_arp(gw, port, RTE_ARP_OP_REPLY, &sha, &sha, sip_copy) == 0)
			n->stats.replies_sent++;
	} else {
		mg_neigh_learn(n, port, 4, sip, &sha, now_ns, true, true);
	}
out:
	rte_pktmbuf_free(m);
}
