/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One worker lcore: its queues, crypto context, counters, TX buffers and idle state, in the
 * style of DPDK l3fwd's per-lcore conf. A worker never takes a lock, never runs a handshake and
 * never blocks: it reads the gateway's tables inside its RCU read-side section and reports a
 * quiescent state after every loop iteration.
 *
 * Queues. A port with one RX queue per worker is polled by all of them. A port with a single RX
 * queue and conf.rx_fanout set is polled by worker 0, which hands each burst round-robin to
 * every worker's input ring (its own included): any worker can decrypt any peer's packets, so
 * one busy peer spreads over every core. Each worker has its own TX queue on each port.
 */
#ifndef MESHGATE_DATAPLANE_WORKER_H
#define MESHGATE_DATAPLANE_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "counters.h"
#include "dataplane.h"
#include "icmp.h"
#include "punt.h"

struct rte_mbuf;
struct rte_ring;
struct mg_crypto;

/* Packets taken from a queue or ring at once. */
#define MG_BURST 32
/* Packets one encap pass may handle: a burst whose IPv4 packets were fragmented (up to 7
 * fragments each from a 9000-byte frame). Also the most nonces one reservation takes. */
#define MG_ENCAP_MAX 256
/* Partial TX bursts are flushed after this long. */
#define MG_DRAIN_US 100
/* Idle mode: empty polls before the first sleep, and the first sleep. */
#define MG_IDLE_POLLS    256
#define MG_IDLE_START_US 1

struct mg_txbuf {
	uint16_t n;
	uint64_t first_tsc; /* when the oldest buffered packet was queued */
	struct rte_mbuf *pkts[MG_BURST];
};

/*
 * Loop iterations that took longer than min_tsc, with the frames they handled: the time the
 * worker was not polling (preempted, faulting, in its own periodic work, or busy with a
 * backlog), for a benchmark to set against its latency samples. The gateway leaves it off
 * (mg_worker.stall_log NULL).
 */
struct mg_stall {
	uint64_t start, end; /* TSC */
	uint32_t frames;     /* received plus handled in that iteration (0: it found nothing) */
};

struct mg_stall_log {
	uint64_t min_tsc;
	struct mg_stall *at;
	uint32_t cap, n;
	uint64_t lost; /* stalls past cap, not logged */
};

struct mg_worker {
	struct mg_gateway *gw;
	unsigned id; /* index in gw->workers, the RCU thread id and the peer-counter row */
	unsigned lcore;

	bool has_rxq[MG_PORT_COUNT];
	uint16_t rxq[MG_PORT_COUNT];
	uint16_t txq[MG_PORT_COUNT];
	bool fanout[MG_PORT_COUNT]; /* this worker polls the port's only queue and spreads it */
	unsigned fanout_next;
	struct rte_ring *input; /* bursts handed over by the fan-out worker (MP/SC) */

	/* A full burst from each source (the ports, then the input ring) waits here for one
	 * iteration while its first lines load behind the previous burst's work (worker.c). */
	struct rte_mbuf *held[MG_PORT_COUNT + 1][MG_BURST];
	uint16_t n_held[MG_PORT_COUNT + 1];

	struct mg_crypto *crypto;
	struct mg_peer_counters *peer_counters; /* gw->peer_counters[id] */
	struct mg_worker_counters counters;

	struct mg_txbuf tx[MG_PORT_COUNT];
	uint64_t drain_tsc;
	/* Checksum offloads the port was configured with (read once at init). */
	bool tx_ip_cksum_offload[MG_PORT_COUNT];
	bool tx_udp_cksum_offload[MG_PORT_COUNT];

	struct mg_punt_batch punts;
	struct mg_resolve_limiter resolve;
	struct mg_icmp_limiter icmp; /* this worker's share of the ICMP error budget */
	uint16_t ip_id;              /* outer IPv4 identification */

	/* Clock, read once per iteration: monotonic ns (gw->local's clock, as keypair birth
	 * times use it) and the TSC. */
	uint64_t now_ns;
	uint64_t now_tsc;

	unsigned empty_polls;
	uint32_t sleep_us;

	struct mg_stall_log *stall_log;
};

/* Logs [start, end), which handled frames, when it is longer than log->min_tsc. */
static inline void mg_stall_note(struct mg_stall_log *log, uint64_t start, uint64_t end,
                                 uint32_t frames)
{
	if (end - start <= log->min_tsc)
		return;
	if (log->n == log->cap) {
		log->lost++;
		return;
	}
	log->at[log->n++] = (struct mg_stall){.start = start, .end = end, .frames = frames};
}

/*
 * Sets up worker id of gw on lcore: queue assignment from gw->ports and gw->n_workers (which
 * must be final), the fan-out input ring, TX buffers, the resolve limiter. The crypto context
 * is created by the worker itself on its lcore (NUMA-local) unless w->crypto is already set.
 * Returns 0 or a negative errno (-ENOTSUP: a port has too few TX queues for a private one per
 * worker; -ENOMEM).
 */
int mg_worker_init(struct mg_worker *w, struct mg_gateway *gw, unsigned id, unsigned lcore);
/* Frees what init and the loop allocated, and any packet still buffered. */
void mg_worker_fini(struct mg_worker *w);

/* rte_eal_remote_launch entry (arg: struct mg_worker *). Returns when gw->stop is set. */
int mg_worker_main(void *arg);

/*
 * One pass over a burst of received frames (m->port says which port), as the loop runs it:
 * classify, punt, encap and decap. Call mg_worker_clock first and mg_worker_flush after when
 * driving a worker by hand (tests, benchmarks).
 */
void mg_worker_rx_burst(struct mg_worker *w, struct rte_mbuf **pkts, unsigned n);
void mg_worker_clock(struct mg_worker *w);
/* Sends every buffered TX packet and enqueues pending punts. */
void mg_worker_flush(struct mg_worker *w);

/* ---- for encap.c / decap.c ---- */

/* Queues m for transmission on port (flushing when the buffer is full). */
void mg_worker_tx(struct mg_worker *w, enum mg_port_id port, struct rte_mbuf *m);
/* Frees m and counts it under reason. */
static inline void mg_worker_drop(struct mg_worker *w, struct rte_mbuf *m,
                                  enum mg_drop_reason reason)
{
	w->counters.drops[reason]++;
	rte_pktmbuf_free(m);
}
/* Punts m (frame or packet) to the control lcore. */
void mg_worker_punt(struct mg_worker *w, struct rte_mbuf *m, enum mg_punt_kind kind,
                    enum mg_port_id port, uint16_t l3_offset, uint32_t peer_slot,
                    const struct mg_sockaddr *src);

#endif
