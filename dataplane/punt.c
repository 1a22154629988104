// SPDX-License-Identifier: GPL-2.0-only
#include "punt.h"

#include <string.h>

#include <rte_byteorder.h>
#include <rte_jhash.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "messages.h"
#include "pkt.h"

void mg_punt_flush(struct mg_gateway *gw, struct mg_worker_counters *c, struct mg_punt_batch *b)
{
	if (b->n == 0)
		return;
	unsigned done = rte_ring_mp_enqueue_burst(gw->punt_ring, (void **)b->pkts, b->n, NULL);
	c->punted += done;
	if (done < b->n) {
		c->drops[MG_DROP_PUNT_FULL] += b->n - done;
		rte_pktmbuf_free_bulk(b->pkts + done, b->n - done);
	}
	b->n = 0;
}

/* Makes the first MG_PUNT_META_ROOM bytes of the buffer free for the metadata. */
static bool meta_room(struct rte_mbuf *m)
{
	uint16_t head = rte_pktmbuf_headroom(m);
	if (head >= MG_PUNT_META_ROOM)
		return true;
	uint16_t shift = (uint16_t)(MG_PUNT_META_ROOM - head);
	if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1 || m->nb_segs != 1 ||
	    rte_pktmbuf_tailroom(m) < shift)
		return false;
	uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);
	memmove(data + shift, data, m->data_len);
	m->data_off = (uint16_t)(m->data_off + shift);
	return true;
}

void mg_punt_add(struct mg_gateway *gw, struct mg_worker_counters *c, struct mg_punt_batch *b,
                 struct rte_mbuf *m, const struct mg_punt_meta *meta)
{
	if (!meta_room(m)) {
		c->drops[MG_DROP_NOMEM]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (b->n == MG_PUNT_BATCH)
		mg_punt_flush(gw, c, b);
	*mg_punt_meta(m) = *meta;
	b->pkts[b->n++] = m;
}

unsigned mg_punt_initiation_ring(const struct mg_gateway *gw, const struct mg_sockaddr *src)
{
	uint32_t h =
	    rte_jhash(src->addr, mg_addr_len(src->family), (uint32_t)src->family << 16 | src->port);
	return gw->n_hs_rings ? h % gw->n_hs_rings : 0;
}

void mg_punt_initiation(struct mg_gateway *gw, struct mg_worker_counters *c,
                        struct mg_punt_batch *b, struct rte_mbuf *m,
                        const struct mg_punt_meta *meta)
{
	if (gw->n_hs_rings == 0) {
		mg_punt_add(gw, c, b, m, meta);
		return;
	}
	if (!meta_room(m)) {
		c->drops[MG_DROP_NOMEM]++;
		rte_pktmbuf_free(m);
		return;
	}
	*mg_punt_meta(m) = *meta;
	if (rte_ring_mp_enqueue(gw->hs_rings[mg_punt_initiation_ring(gw, &meta->src)], m) != 0) {
		c->drops[MG_DROP_PUNT_FULL]++;
		rte_pktmbuf_free(m);
		return;
	}
	c->punted++;
}

void mg_punt_reply(struct mg_gateway *gw, struct mg_worker_counters *c, struct mg_punt_batch *b,
                   struct rte_mbuf *m, const struct mg_punt_meta *meta, const uint8_t *msg,
                   unsigned len)
{
	/* The receiver index: after the sender's in a response, right after the header in a
	 * cookie reply (lengths checked by the classification). */
	unsigned off = len == sizeof(struct wg_msg_response) ? 8 : 4;
	uint32_t idx;
	if (gw->n_hs_rings == 0 || len < off + 4) {
		mg_punt_add(gw, c, b, m, meta);
		return;
	}
	memcpy(&idx, msg + off, sizeof(idx));
	idx = rte_le_to_cpu_32(idx);
	struct wg_noise_remote *remote = wg_index_table_lookup(gw->index, idx, WG_INDEX_HANDSHAKE);
	if (!remote) {
		struct wg_noise_keypair *kp =
		    wg_index_table_lookup(gw->index, idx, WG_INDEX_KEYPAIR);
		remote = kp ? kp->remote : NULL;
	}
	if (!remote || !meta_room(m)) {
		mg_punt_add(gw, c, b, m, meta);
		return;
	}
	*mg_punt_meta(m) = *meta;
	unsigned ring = mg_punt_reply_ring(gw, mg_peer_of_remote(remote)->slot);
	if (rte_ring_mp_enqueue(gw->hs_rings[ring], m) != 0) {
		c->drops[MG_DROP_PUNT_FULL]++;
		rte_pktmbuf_free(m);
		return;
	}
	c->punted++;
}

bool mg_event_post(struct mg_gateway *gw, const struct mg_event *ev, uint64_t *lost)
{
	if (rte_ring_mp_enqueue_elem(gw->event_ring, (void *)(uintptr_t)ev, sizeof(*ev)) == 0)
		return true;
	(*lost)++;
	return false;
}

void mg_resolve_limiter_init(struct mg_resolve_limiter *l, uint64_t tsc_hz)
{
	memset(l, 0, sizeof(*l));
	/* About ten requests a second per address keeps ARP/ND retrying without flooding. */
	l->interval_tsc = tsc_hz / 10;
}

static unsigned resolve_hash(uint8_t port, uint8_t family, const uint8_t *addr)
{
	unsigned h = (unsigned)port * 31u + family;
	for (unsigned i = 0; i < mg_addr_len(family); i++)
		h = h * 131u + addr[i];
	return h % MG_RESOLVE_SLOTS;
}

void mg_event_resolve(struct mg_gateway *gw, struct mg_resolve_limiter *l, uint8_t port,
                      uint8_t family, const uint8_t *addr, uint64_t now_tsc, uint64_t *lost)
{
	unsigned alen = mg_addr_len(family);
	unsigned i = resolve_hash(port, family, addr);
	if (l->slot[i].tsc && l->slot[i].port == port && l->slot[i].family == family &&
	    memcmp(l->slot[i].addr, addr, alen) == 0 && now_tsc - l->slot[i].tsc < l->interval_tsc)
		return;

	struct mg_event ev = {
	    .kind = MG_EVENT_RESOLVE,
	    .port = port,
	    .family = family,
	    .peer_slot = MG_PUNT_NO_PEER,
	};
	memcpy(ev.addr, addr, alen);
	if (!mg_event_post(gw, &ev, lost))
		return; /* not remembered: the next packet tries again */
	l->slot[i].tsc = now_tsc ? now_tsc : 1;
	l->slot[i].port = port;
	l->slot[i].family = family;
	memset(l->slot[i].addr, 0, sizeof(l->slot[i].addr));
	memcpy(l->slot[i].addr, addr, alen);
}
