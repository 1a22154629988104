/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * EAL start-up and the two ports (LAN, mesh): probing by devargs, mbuf pools, queues, RSS, MTU
 * and offloads, start and stop. Everything here runs on the control thread before the workers
 * start or after they stopped.
 */
#ifndef MESHGATE_DATAPLANE_PORTS_H
#define MESHGATE_DATAPLANE_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_config.h"

struct mg_gateway;
struct mg_port;
struct rte_mbuf;

/* Outer headers the gateway adds to an inner packet: IPv6 40 + UDP 8 + WireGuard 16 + tag 16. */
#define MG_OUTER_OVERHEAD 80
/* mbufs per port kept aside for packets staged during handshakes and in the rings. */
#define MG_POOL_STAGING 4096
#define MG_POOL_CACHE   256
/* No TX queue of its own for the control thread (struct mg_port.control_txq). */
#define MG_NO_CONTROL_TXQ UINT16_MAX
/* Control packets waiting for worker 0 (ARP/ND, handshakes, ICMP): bursts of them are rare. */
#define MG_CONTROL_TX_RING 1024

/*
 * Initialises the EAL from cfg->eal_args, adding "-l control,workers" and "--main-lcore control"
 * unless the arguments already choose lcores. prog becomes argv[0]. Nothing is added about
 * memory: production runs on hugepages, tests pass --no-huge --in-memory themselves. DPDK 22.11
 * refuses that pair (--no-huge implies legacy memory), so beside --no-huge, --in-memory is passed
 * on as --no-shconf, which keeps the same promise: no hugepage or config files.
 * Returns 0, or -1 with err filled.
 */
int mg_eal_init(const struct mg_dp_config *cfg, const char *prog, char *err, size_t errlen);
/* Releases the EAL (after mg_ports_stop) and its runtime directory if it is empty. */
void mg_eal_fini(void);

/*
 * Brings up gw->ports[MG_PORT_LAN] and [MG_PORT_MESH] from gw->conf.ports[].devargs:
 *  - a PCI address (0000:3b:00.0 or 3b:00.0, optionally ",key=value"): the EAL port, probed now
 *    if the EAL did not already; a vdev string (net_af_packet0,iface=veth0): created unless a port
 *    of that name exists (--vdev in the EAL arguments, or created by the caller, e.g. tests);
 *  - a pool per port on the port's NUMA socket, sized from descriptors, queues and workers
 *    (conf.mbufs overrides);
 *  - one RX queue per worker (fewer when the PMD has fewer: n_rxq < n_workers tells the workers to
 *    fan out; more for af_packet, whose qpairs sockets all receive: n_rxq > n_workers, worker i
 *    polls queues i, i + n_workers, ...) and one TX queue per worker plus control_txq for the
 *    control thread; with only n_workers TX queues the control thread sends through worker 0
 *    (control_tx_ring). A PMD with fewer than n_workers TX queues is refused;
 *  - RSS over IP and UDP when n_rxq > 1 and the PMD hashes; MTU for the outer packet
 *    (conf.mtu + MG_OUTER_OVERHEAD) where settable; IPv4/UDP checksum and multi-segment TX
 *    offloads when offered; promiscuous off; IPv6 all-nodes and solicited-node multicast
 *    accepted (or all-multicast where the PMD filters no other way).
 * Uses gw->n_workers (at least 1). Returns 0, or -1 with err naming the port and its devargs;
 * on failure everything set up so far is released.
 */
int mg_ports_setup(struct mg_gateway *gw, char *err, size_t errlen);

/* The control thread's way out of a port: its own TX queue, or (MG_NO_CONTROL_TXQ) a ring that
 * worker 0 drains into its queue. False when m was not taken: the caller frees and counts it. */
bool mg_port_control_tx(const struct mg_port *port, struct rte_mbuf *m);

/* Stops and closes both ports, removes devices this module created, frees the pools.
 * Idempotent. */
void mg_ports_stop(struct mg_gateway *gw);

#endif
