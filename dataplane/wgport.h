/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * STUN and disco on the WireGuard port (docs/nat-traversal.md): the workers tell them from
 * WireGuard by their first bytes (base/port_demux.h) and hand them to the control lcore, which
 * runs the STUN client and the disco responder (gateway/stun_gw.c, gateway/disco_gw.c).
 *
 * They have a ring of their own rather than the punt ring: a flood of them, which anyone on
 * the Internet can send, then fills only this ring, never the one handshakes and ARP/ND use.
 * The ring is bounded; what does not fit is freed and counted MG_DROP_WGPORT_FULL. Only the
 * default branch of the worker's WireGuard type switch (which dropped the datagram before)
 * pays for the two tests: the data path is unchanged.
 */
#ifndef MESHGATE_DATAPLANE_WGPORT_H
#define MESHGATE_DATAPLANE_WGPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "dataplane.h"

struct rte_mbuf;
struct mg_worker;

#define MG_WGPORT_RING_SIZE 1024
#define MG_WGPORT_BURST     32

enum mg_wgport_kind { MG_WGPORT_STUN = 1, MG_WGPORT_DISCO = 2 };

/* One ring element: the mbuf holds exactly the UDP payload. */
struct mg_wgport_item {
	struct rte_mbuf *m;
	uint64_t rx_ns;
	uint8_t kind; /* enum mg_wgport_kind */
	uint8_t pad[7];
	struct mg_sockaddr src; /* the datagram's source address and port */
};

/* Creates gw->wgport. 0 or a negative errno. */
int mg_wgport_ring_create(struct mg_gateway *gw);
/* Frees what is still queued and the ring. */
void mg_wgport_ring_free(struct mg_gateway *gw);

/*
 * Worker: msg (msg_len bytes inside m) arrived on the listen port from src and is not
 * WireGuard. Hands STUN and disco to the control lcore; anything else is counted
 * MG_DROP_WG_INVALID. Consumes m.
 */
void mg_wgport_input(struct mg_worker *w, struct rte_mbuf *m, const uint8_t *msg, unsigned msg_len,
                     const struct mg_sockaddr *src);
/* Control: up to max items. */
unsigned mg_wgport_take(struct mg_gateway *gw, struct mg_wgport_item *items, unsigned max);

#endif
