/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mesh to LAN: WireGuard data messages become IP packets forwarded to the LAN, after the tag,
 * the replay window and the peer's allowed IPs (crypto-key routing) agree.
 */
#ifndef MESHGATE_DATAPLANE_DECAP_H
#define MESHGATE_DATAPLANE_DECAP_H

#include "worker.h"

/* A data message as the classifier hands it over. */
struct mg_decap_pkt {
	struct rte_mbuf *m;     /* starts at the WireGuard header, exactly the UDP payload, one
	                           segment; type 4 and at least WG_DATA_MIN_LEN bytes */
	struct mg_sockaddr src; /* outer source, for roaming */
	uint8_t outer_tclass;   /* outer TOS / traffic class, for ECN decapsulation */
};

/* Decrypts, checks and forwards (or punts, or drops with a counted reason) n <= MG_BURST
 * messages. The worker's clock must be current. */
void mg_decap_burst(struct mg_worker *w, struct mg_decap_pkt *pkts, unsigned n);

#endif
