// SPDX-License-Identifier: GPL-2.0-only
#include "prefetch.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <rte_common.h>

_Atomic bool mg_have_prefetchw;

/* A constructor, so no caller (the gateway, a test, a benchmark) can run before it. */
RTE_INIT(mg_prefetch_detect)
{
#if defined(__x86_64__)
	unsigned a, b, c, d;
	bool has = __get_cpuid(0x80000001u, &a, &b, &c, &d) != 0 && (c & bit_PRFCHW) != 0;
	atomic_store_explicit(&mg_have_prefetchw, has, memory_order_relaxed);
#endif
}
