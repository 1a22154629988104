/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A ring-port gateway for tests and the benchmark: a port backed by rte_rings (the net_ring
 * PMD), so a test puts frames on the gateway's wire by enqueueing to rx and reads what the
 * gateway sent from tx[queue]. One RX queue; TX queues as many as asked (a worker's each, and
 * the control thread's last).
 *
 * Two uses: create only, for a gateway that brings the port up itself (mg_control_up finds it by
 * its devargs, "net_ring_" + name); or create then attach, for a test that fills struct
 * mg_gateway by hand and runs the workers' bursts itself.
 */
#ifndef MESHGATE_TESTS_SUPPORT_RING_GATEWAY_H
#define MESHGATE_TESTS_SUPPORT_RING_GATEWAY_H

#include <stdint.h>

#include "dataplane.h"

struct rte_mempool;
struct rte_ring;

#define MG_RING_PORT_MAX_TXQ (MG_MAX_WORKERS + 1)

struct mg_ring_port {
	struct rte_ring *rx;                       /* to the gateway (its RX queue 0) */
	struct rte_ring *tx[MG_RING_PORT_MAX_TXQ]; /* from the gateway, by TX queue */
	unsigned n_txq;
	uint16_t port_id;
};

/*
 * Rings "<name>_rx" and "<name>_tx<q>" of ring_size each (single producer and consumer) and the
 * device on them. Returns 0, or -1 with rte_errno set.
 */
int mg_ring_port_create(struct mg_ring_port *rp, const char *name, unsigned n_txq,
                        unsigned ring_size);
/*
 * Configures and starts the device, desc descriptors per queue from pool, and makes it
 * gw->ports[p]: mac as given (the ring PMD keeps its own; NULL reads it), the pool, one RX
 * queue, the TX queues, the last of them the control thread's when there are two or more.
 * Returns 0 or -1.
 */
int mg_ring_port_attach(struct mg_ring_port *rp, struct mg_gateway *gw, enum mg_port_id p,
                        struct rte_mempool *pool, uint16_t desc, const struct rte_ether_addr *mac);

/* Frees the rings, after the device is closed. */
void mg_ring_port_free(struct mg_ring_port *rp);

#endif
