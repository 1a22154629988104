/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The gateway's relay path inside the data plane: two rings between the workers and the relay
 * client on the control lcore (gateway/relay_gw.c).
 *
 * A relayed peer's endpoint is a pseudo address of family MG_FAMILY_RELAY (mg_relay_addr):
 * encap seals its packets as for any peer and, instead of adding IP/UDP/Ethernet, hands the
 * bare WireGuard message to the out ring with the peer's slot. Frames the relay delivers come
 * back on the in ring with that pseudo address as their source; worker 0 feeds them to
 * mg_decap_burst, so the keypair, replay window, allowed IPs and filter apply unchanged, and
 * roaming points the peer's endpoint at the relay exactly when the peer reached us through it.
 * Both rings are bounded: what does not fit is freed and counted MG_DROP_RELAY_FULL.
 */
#ifndef MESHGATE_DATAPLANE_RELAY_RING_H
#define MESHGATE_DATAPLANE_RELAY_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "dataplane.h"

struct rte_mbuf;
struct mg_worker;

/* Not 4 or 6: the workers' IP paths never take it for an address. */
#define MG_FAMILY_RELAY 0x52

#define MG_RELAY_RING_SIZE 4096
#define MG_RELAY_BURST     32

struct mg_relay_rings {
	struct rte_ring *out; /* struct mg_relay_item, workers (MP) to control (SC) */
	struct rte_ring *in;  /* struct mg_relay_item, control (SP) to worker 0 (SC) */
};

/* One ring element: the mbuf holds exactly one WireGuard message. */
struct mg_relay_item {
	struct rte_mbuf *m;
	uint32_t slot; /* out: the destination peer */
	uint32_t pad;
	struct mg_sockaddr src; /* in: the pseudo source (mg_relay_addr) */
};

/* The pseudo endpoint of a peer reached through relay number relay_id, for slot. */
static inline struct mg_sockaddr mg_relay_addr(uint16_t relay_id, uint32_t slot)
{
	struct mg_sockaddr a = {.family = MG_FAMILY_RELAY, .port = relay_id};
	a.addr[0] = (uint8_t)(slot >> 24);
	a.addr[1] = (uint8_t)(slot >> 16);
	a.addr[2] = (uint8_t)(slot >> 8);
	a.addr[3] = (uint8_t)slot;
	return a;
}

static inline uint32_t mg_relay_addr_slot(const struct mg_sockaddr *a)
{
	return (uint32_t)a->addr[0] << 24 | (uint32_t)a->addr[1] << 16 | (uint32_t)a->addr[2] << 8 |
	       a->addr[3];
}

/* Creates gw->relay. 0 or a negative errno. */
int mg_relay_rings_create(struct mg_gateway *gw);
void mg_relay_rings_free(struct mg_gateway *gw);

/* Worker: m (one sealed WireGuard message) for the peer in slot. Consumes m. */
void mg_relay_out(struct mg_worker *w, struct rte_mbuf *m, uint32_t slot);
/* Control: up to max items from the out ring. */
unsigned mg_relay_out_take(struct mg_gateway *gw, struct mg_relay_item *items, unsigned max);
/* Control: a WireGuard data message from the relay for the decrypt path. Consumes m; false
 * when the ring is full (m freed, the caller counts it). */
bool mg_relay_in_put(struct mg_gateway *gw, struct rte_mbuf *m, const struct mg_sockaddr *src);
/* Worker 0, each loop pass: decrypts what the relay delivered. Returns how many. */
unsigned mg_relay_in_poll(struct mg_worker *w);

#endif
