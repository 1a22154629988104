// SPDX-License-Identifier: GPL-2.0-only
/*
 * The peer endpoint's sequence lock. Readers are workers on the fast path, so they never wait
 * on a writer; writers are rare (a roam, a UAPI change) and simply retry or give up.
 */
#include "peer.h"

#include <string.h>

bool mg_endpoint_read(const struct mg_endpoint *ep, struct mg_sockaddr *out)
{
	struct mg_endpoint *e = (struct mg_endpoint *)ep;
	uint32_t before, after;

	for (;;) {
		before = atomic_load_explicit(&e->seq, memory_order_acquire);
		if (before & 1)
			continue;
		memcpy(out, (const void *)&ep->addr, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		after = atomic_load_explicit(&e->seq, memory_order_relaxed);
		if (before == after)
			break;
	}
	/* 4, 6, or the relay path's pseudo family (relay_ring.h); each reader checks which. */
	return out->family != 0;
}

bool mg_endpoint_try_write(struct mg_endpoint *ep, const struct mg_sockaddr *addr)
{
	uint32_t seq = atomic_load_explicit(&ep->seq, memory_order_relaxed);

	if ((seq & 1) || !atomic_compare_exchange_strong_explicit(
	                     &ep->seq, &seq, seq + 1, memory_order_acquire, memory_order_relaxed))
		return false;
	atomic_thread_fence(memory_order_release);
	memcpy((void *)&ep->addr, addr, sizeof(*addr));
	atomic_store_explicit(&ep->seq, seq + 2, memory_order_release);
	return true;
}

void mg_endpoint_write(struct mg_endpoint *ep, const struct mg_sockaddr *addr)
{
	while (!mg_endpoint_try_write(ep, addr))
		;
}
