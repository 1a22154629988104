// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sequence locks of the peer's endpoint and send state. Readers are workers on the fast
 * path, so they never wait on a writer; writers are rare (a roam, a UAPI change, a rekey) and
 * simply retry or give up.
 */
#include "peer.h"

#include <stddef.h>
#include <string.h>

#include "keypair_use.h"

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
	struct mg_peer *peer =
	    (struct mg_peer *)(void *)((char *)ep - offsetof(struct mg_peer, endpoint));
	mg_peer_tx_invalidate(peer->tx);
	return true;
}

void mg_endpoint_write(struct mg_endpoint *ep, const struct mg_sockaddr *addr)
{
	while (!mg_endpoint_try_write(ep, addr))
		;
}

bool mg_peer_tx_read(const struct mg_peer_tx *tx, struct mg_peer_tx *out)
{
	struct mg_peer_tx *t = (struct mg_peer_tx *)tx;
	uint32_t before = atomic_load_explicit(&t->seq, memory_order_acquire);

	if (before & 1)
		return false;
	memcpy(out, (const void *)tx, sizeof(*out));
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&t->seq, memory_order_relaxed) == before && out->fresh;
}

/* Takes the line for writing if its sequence is still begin. */
static bool tx_lock(struct mg_peer_tx *tx, uint32_t begin)
{
	if ((begin & 1) ||
	    !atomic_compare_exchange_strong_explicit(&tx->seq, &begin, begin + 1,
	                                             memory_order_acquire, memory_order_relaxed))
		return false;
	atomic_thread_fence(memory_order_release);
	return true;
}

void mg_peer_tx_store(struct mg_peer_tx *tx, uint32_t begin, const struct mg_peer_tx *in)
{
	if (!tx_lock(tx, begin))
		return;
	/* Everything but the sequence, which the lock owns. */
	memcpy((char *)tx + sizeof(tx->seq), (const char *)in + sizeof(tx->seq),
	       sizeof(*tx) - sizeof(tx->seq));
	tx->fresh = true;
	atomic_store_explicit(&tx->seq, begin + 2, memory_order_release);
}

void mg_peer_tx_invalidate(struct mg_peer_tx *tx)
{
	if (!tx)
		return;
	/* Even when the line is already stale: the sequence moving is what makes a rebuild that
	 * read the old inputs fail its store. */
	for (;;) {
		uint32_t seq = atomic_load_explicit(&tx->seq, memory_order_relaxed);
		if (tx_lock(tx, seq))
			break;
	}
	tx->fresh = false;
	atomic_store_explicit(&tx->seq, atomic_load_explicit(&tx->seq, memory_order_relaxed) + 1,
	                      memory_order_release);
}

void mg_peer_current_changed(void *ctx, struct wg_noise_remote *remote)
{
	(void)ctx;
	if (remote->owner)
		mg_peer_tx_invalidate(mg_peer_of_remote(remote)->tx);
}

void mg_peer_timers_init(struct mg_peer *peer, const struct wg_timer_durations *d,
                         void (*rand)(void *ctx, void *buf, size_t len), void *rand_ctx)
{
	wg_timers_init(&peer->timers, d, rand, rand_ctx);
	peer->open_reject_after_ns = peer->timers.d.reject_after_time_ns;
	peer->open_rekey_age_ns = wg_keypair_open_rekey_age_ns(&peer->timers.d);
}
