/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * LAN to mesh: IP packets from the LAN become WireGuard data messages to the peer whose allowed
 * IPs hold the destination.
 *
 * Packets over the MTU are handled as the Linux forwarding path in front of a wg interface
 * handles them (ip_forward / ip6_forward, then ip_fragment): IPv6, and IPv4 with DF set, are
 * dropped with ICMP "fragmentation needed" / "packet too big" carrying the tunnel MTU; IPv4
 * without DF is fragmented to the MTU and each fragment is encrypted on its own.
 */
#ifndef MESHGATE_DATAPLANE_ENCAP_H
#define MESHGATE_DATAPLANE_ENCAP_H

#include "worker.h"

/*
 * Encapsulates and queues for TX (or punts, or drops with a counted reason and, where a router
 * would, an ICMP error) n frames from the LAN port. Each is an untagged Ethernet frame holding
 * one IPv4/IPv6 packet whose header mg_pkt_parse_ip accepted, trimmed to the IP length, in one
 * segment, not addressed to the gateway. n <= MG_BURST. The worker's clock must be current.
 */
void mg_encap_burst(struct mg_worker *w, struct rte_mbuf **frames, unsigned n);

#endif
