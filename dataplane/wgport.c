// SPDX-License-Identifier: GPL-2.0-only
#include "wgport.h"

#include <errno.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "port_demux.h"
#include "worker.h"

int mg_wgport_ring_create(struct mg_gateway *gw)
{
	gw->wgport = rte_ring_create_elem("mg_wgport", sizeof(struct mg_wgport_item),
	                                  MG_WGPORT_RING_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
	return gw->wgport ? 0 : -ENOMEM;
}

void mg_wgport_ring_free(struct mg_gateway *gw)
{
	struct mg_wgport_item it[MG_WGPORT_BURST];
	unsigned n;
	if (!gw->wgport)
		return;
	while ((n = mg_wgport_take(gw, it, MG_WGPORT_BURST)))
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(it[i].m);
	rte_ring_free(gw->wgport);
	gw->wgport = NULL;
}

void mg_wgport_input(struct mg_worker *w, struct rte_mbuf *m, const uint8_t *msg, unsigned msg_len,
                     const struct mg_sockaddr *src)
{
	uint8_t kind;
	if (mg_demux_is_stun(msg, msg_len))
		kind = MG_WGPORT_STUN;
	else if (mg_demux_is_disco(msg, msg_len))
		kind = MG_WGPORT_DISCO;
	else {
		mg_worker_drop(w, m, MG_DROP_WG_INVALID);
		return;
	}
	/* From here on the mbuf is exactly the datagram's payload. */
	unsigned off = (unsigned)(msg - rte_pktmbuf_mtod(m, const uint8_t *));
	rte_pktmbuf_adj(m, (uint16_t)off);
	rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - msg_len));
	struct mg_wgport_item it = {.m = m, .rx_ns = w->now_ns, .kind = kind, .src = *src};
	/* Rare by nature (a few per second per peer): one enqueue per datagram is fine. */
	if (!w->gw->wgport || rte_ring_mp_enqueue_elem(w->gw->wgport, &it, sizeof(it)) != 0)
		mg_worker_drop(w, m, MG_DROP_WGPORT_FULL);
}

unsigned mg_wgport_take(struct mg_gateway *gw, struct mg_wgport_item *items, unsigned max)
{
	if (!gw->wgport)
		return 0;
	return rte_ring_sc_dequeue_burst_elem(gw->wgport, items, sizeof(items[0]), max, NULL);
}
