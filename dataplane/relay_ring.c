// SPDX-License-Identifier: GPL-2.0-only
#include "relay_ring.h"

#include <errno.h>
#include <stdlib.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "decap.h"
#include "transport.h"
#include "worker.h"

int mg_relay_rings_create(struct mg_gateway *gw)
{
	struct mg_relay_rings *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int socket = (int)rte_socket_id();
	r->out = rte_ring_create_elem("mg_relay_out", sizeof(struct mg_relay_item),
	                              MG_RELAY_RING_SIZE, socket, RING_F_SC_DEQ);
	r->in = rte_ring_create_elem("mg_relay_in", sizeof(struct mg_relay_item),
	                             MG_RELAY_RING_SIZE, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!r->out || !r->in) {
		rte_ring_free(r->out);
		rte_ring_free(r->in);
		free(r);
		return -ENOMEM;
	}
	gw->relay = r;
	return 0;
}

static void drain(struct rte_ring *ring)
{
	struct mg_relay_item it[MG_RELAY_BURST];
	unsigned n;
	while ((n = rte_ring_dequeue_burst_elem(ring, it, sizeof(it[0]), MG_RELAY_BURST, NULL)))
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(it[i].m);
}

void mg_relay_rings_free(struct mg_gateway *gw)
{
	struct mg_relay_rings *r = gw->relay;
	if (!r)
		return;
	drain(r->out);
	drain(r->in);
	rte_ring_free(r->out);
	rte_ring_free(r->in);
	free(r);
	gw->relay = NULL;
}

void mg_relay_out(struct mg_worker *w, struct rte_mbuf *m, uint32_t slot)
{
	struct mg_relay_rings *r = w->gw->relay;
	struct mg_relay_item it = {.m = m, .slot = slot};
	/* The relay is the slow path by nature: one enqueue per message is cheap next to TLS. */
	if (!r || rte_ring_mp_enqueue_elem(r->out, &it, sizeof(it)) != 0)
		mg_worker_drop(w, m, MG_DROP_RELAY_FULL);
}

unsigned mg_relay_out_take(struct mg_gateway *gw, struct mg_relay_item *items, unsigned max)
{
	if (!gw->relay)
		return 0;
	return rte_ring_sc_dequeue_burst_elem(gw->relay->out, items, sizeof(items[0]), max, NULL);
}

bool mg_relay_in_put(struct mg_gateway *gw, struct rte_mbuf *m, const struct mg_sockaddr *src)
{
	struct mg_relay_item it = {.m = m, .src = *src};
	if (!gw->relay || rte_ring_sp_enqueue_elem(gw->relay->in, &it, sizeof(it)) != 0) {
		rte_pktmbuf_free(m);
		return false;
	}
	return true;
}

unsigned mg_relay_in_poll(struct mg_worker *w)
{
	struct mg_relay_rings *r = w->gw->relay;
	struct mg_relay_item it[MG_RELAY_BURST];
	struct mg_decap_pkt d[MG_RELAY_BURST];
	if (!r)
		return 0;
	unsigned n = rte_ring_sc_dequeue_burst_elem(r->in, it, sizeof(it[0]), MG_RELAY_BURST, NULL);
	if (!n)
		return 0;
	mg_worker_clock(w);
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = it[i].m;
		/* The control side checked the type; the length decap relies on is checked here,
		 * where the mbuf is handed over. */
		if (rte_pktmbuf_data_len(m) < WG_DATA_MIN_LEN || m->nb_segs != 1) {
			mg_worker_drop(w, m, MG_DROP_WG_INVALID);
			continue;
		}
		mg_decap_prefetch(w, m);
		d[k].m = m;
		d[k].src = it[i].src;
		d[k].outer_tclass = 0;
		k++;
	}
	if (k)
		mg_decap_burst(w, d, k);
	return n;
}
