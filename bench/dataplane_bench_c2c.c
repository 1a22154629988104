// SPDX-License-Identifier: GPL-2.0-only
/*
 * What moving a cache line between the generator's core and the worker's costs: the two lcores
 * hand a counter back and forth on one line. Every frame the worker reads was just written by
 * the generator, while the ceiling works in its own core's cache, so the worker's share of the
 * ceiling depends on this cost and the ceiling does not. On a VM it is up to the host's
 * placement of the two vCPUs: on this EPYC VM a stand-alone ping-pong read 105 ns a round trip
 * in ten runs and then 350-480 ns in every run for the rest of the session. Measured at the
 * start and the end of a run and reported with its figures, so runs can be told apart.
 */
#include <stdatomic.h>

#include <rte_launch.h>
#include <rte_pause.h>

#include "dataplane_bench.h"

enum { ROUNDS = 200000 };

static _Alignas(64) _Atomic uint64_t line;

static int pong(void *arg)
{
	(void)arg;
	for (uint64_t i = 1; i < 2 * ROUNDS; i += 2) {
		while (atomic_load_explicit(&line, memory_order_acquire) != i)
			rte_pause();
		atomic_store_explicit(&line, i + 1, memory_order_release);
	}
	return 0;
}

double c2c_round_trip_ns(unsigned other_lcore)
{
	atomic_store_explicit(&line, 0, memory_order_relaxed);
	if (rte_eal_remote_launch(pong, NULL, other_lcore) != 0)
		return 0;
	double t0 = clock_s(CLOCK_MONOTONIC);
	for (uint64_t i = 0; i < 2 * ROUNDS; i += 2) {
		atomic_store_explicit(&line, i + 1, memory_order_release);
		while (atomic_load_explicit(&line, memory_order_acquire) != i + 2)
			rte_pause();
	}
	double t1 = clock_s(CLOCK_MONOTONIC);
	if (rte_eal_wait_lcore(other_lcore) != 0)
		return 0;
	return (t1 - t0) * 1e9 / ROUNDS;
}
