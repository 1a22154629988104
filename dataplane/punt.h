/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The worker side of the rings to the control lcore: packets (gw->punt_ring, each with a
 * struct mg_punt_meta, see mg_punt_meta) and packet-less events (gw->event_ring).
 *
 * Punted frames keep their Ethernet header: meta->l3_offset says where IP (or ARP) starts.
 * One exception: a MG_PUNT_LOCAL from the mesh port with peer_slot != MG_PUNT_NO_PEER is a
 * decrypted inner packet that peer sent to the gateway's own address; it starts at the IP
 * header (l3_offset 0) and has been authenticated and checked against the peer's allowed IPs.
 */
#ifndef MESHGATE_DATAPLANE_PUNT_H
#define MESHGATE_DATAPLANE_PUNT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "counters.h"
#include "dataplane.h"

#define MG_PUNT_NO_PEER UINT32_MAX

/*
 * Where the metadata lives: at the start of the mbuf's headroom (buf_addr), not in an mbuf
 * dynamic field. struct mg_punt_meta is 40 bytes and the mbuf's whole dynamic-field area is 36
 * (dynfield1[9]), part of which PMDs claim for timestamps and flags, so registration fails.
 * The headroom is the mbuf's own memory, needs no registration and costs nothing to reach.
 * mg_punt_add guarantees the frame starts at least MG_PUNT_META_ROOM bytes into the buffer.
 * The consumer must read (copy) the metadata before it prepends headers that reach into it.
 */
#define MG_PUNT_META_ROOM RTE_ALIGN_CEIL(sizeof(struct mg_punt_meta), 8)

static inline struct mg_punt_meta *mg_punt_meta(struct rte_mbuf *m)
{
	return (struct mg_punt_meta *)m->buf_addr;
}

/* Punts collected during one burst, enqueued at once so the ring's producer CAS runs once. */
#define MG_PUNT_BATCH 64

struct mg_punt_batch {
	unsigned n;
	struct rte_mbuf *pkts[MG_PUNT_BATCH];
};

/*
 * Stores meta in m and queues it in b (flushing b first when it is full). m belongs to the
 * batch from here on. A frame with less headroom than MG_PUNT_META_ROOM is moved back within
 * its buffer; one that cannot be (no room, shared or chained data) is freed and counted
 * MG_DROP_NOMEM.
 */
void mg_punt_add(struct mg_gateway *gw, struct mg_worker_counters *c, struct mg_punt_batch *b,
                 struct rte_mbuf *m, const struct mg_punt_meta *meta);
/*
 * A handshake initiation (meta->src set): to the ring of one handshake lcore, the same one for
 * every message from one source address and port, so that lcore's cookie secret and rate
 * limiter see all of that source's messages; without handshake lcores, mg_punt_add. A full
 * ring drops it (MG_DROP_PUNT_FULL), as a full punt ring does.
 */
void mg_punt_initiation(struct mg_gateway *gw, struct mg_worker_counters *c,
                        struct mg_punt_batch *b, struct rte_mbuf *m,
                        const struct mg_punt_meta *meta);
/*
 * A handshake response or cookie reply (msg, len bytes: its receiver index names one of our
 * handshakes or keypairs): to the ring of the handshake lcore that owns that peer (its slot
 * modulo the lcores), so one peer's replies meet one lcore; to the punt ring without handshake
 * lcores or when the index names nothing (the control lcore counts it).
 */
void mg_punt_reply(struct mg_gateway *gw, struct mg_worker_counters *c, struct mg_punt_batch *b,
                   struct rte_mbuf *m, const struct mg_punt_meta *meta, const uint8_t *msg,
                   unsigned len);
/* Which handshake lcore owns a peer slot's replies (0 without any). */
static inline unsigned mg_punt_reply_ring(const struct mg_gateway *gw, uint32_t slot)
{
	return gw->n_hs_rings ? slot % gw->n_hs_rings : 0;
}
/* Which handshake lcore's ring takes initiations from src (0 without any). */
unsigned mg_punt_initiation_ring(const struct mg_gateway *gw, const struct mg_sockaddr *src);
/* Enqueues the batch; what the ring does not take is freed and counted MG_DROP_PUNT_FULL. */
void mg_punt_flush(struct mg_gateway *gw, struct mg_worker_counters *c, struct mg_punt_batch *b);

/*
 * Posts one event. False when the ring is full: the event is lost, which only delays what it
 * asks for (the next packet that needs it posts it again); *lost counts it, no packet counter.
 */
bool mg_event_post(struct mg_gateway *gw, const struct mg_event *ev, uint64_t *lost);

/*
 * Neighbour-resolution requests, deduplicated: a worker sending to an unresolved next hop
 * would otherwise post one event per packet. A small direct-mapped cache per worker remembers
 * what it asked for recently.
 */
#define MG_RESOLVE_SLOTS 16

struct mg_resolve_limiter {
	uint64_t interval_tsc; /* repeat a request for the same address after this long */
	struct {
		uint64_t tsc;
		uint8_t port, family;
		uint8_t addr[16];
	} slot[MG_RESOLVE_SLOTS];
};

void mg_resolve_limiter_init(struct mg_resolve_limiter *l, uint64_t tsc_hz);
/* Posts MG_EVENT_RESOLVE for (port, family, addr) unless asked for recently; a full ring adds
 * to *lost. */
void mg_event_resolve(struct mg_gateway *gw, struct mg_resolve_limiter *l, uint8_t port,
                      uint8_t family, const uint8_t *addr, uint64_t now_tsc, uint64_t *lost);

#endif
