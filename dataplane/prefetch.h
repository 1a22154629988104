// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prefetch for writing. DPDK's rte_prefetch0_write is __builtin_prefetch(p, 1, 3), which GCC
 * turns into PREFETCHW only when the target has PRFCHW (-mprfchw, -march=broadwell or later);
 * for the baseline x86-64 a distribution builds for it is PREFETCHT0, a read. A line this
 * core is about to store into and another core (the PMD's, the fan-out worker's) wrote last
 * then arrives shared, and the first store waits a second time for the other copy to be
 * invalidated. PREFETCHW asks for the line owned. The CPU is asked once (CPUID
 * 0x80000001 ECX bit 8, Linux's "3dnowprefetch"): without it the read prefetch stays.
 */
#ifndef MG_DATAPLANE_PREFETCH_H
#define MG_DATAPLANE_PREFETCH_H

#include <stdatomic.h>
#include <stdbool.h>

#include <rte_branch_prediction.h>
#include <rte_prefetch.h>

/* Whether mg_prefetch_w issues PREFETCHW: the CPU's answer, set before main() runs. Atomic
 * only so that dataplane_bench --prefetchw-ab may switch it while a worker runs. */
extern _Atomic bool mg_have_prefetchw;

/* Asks for p's line with the intent to store into it; a hint, never a fault. */
static inline void mg_prefetch_w(const void *p)
{
#if defined(__x86_64__)
	if (likely(atomic_load_explicit(&mg_have_prefetchw, memory_order_relaxed))) {
		/* The address in a register: no C-level access to p, so any value is fine. */
		__asm__ volatile("prefetchw (%0)" : : "r"(p));
		return;
	}
#endif
	rte_prefetch0(p);
}

#endif
