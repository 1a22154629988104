// SPDX-License-Identifier: GPL-2.0-only
/* The control lcore's side of the WireGuard port's STUN and disco traffic (nat_gw.h). */
#include "nat_gw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "control.h"
#include "handshake.h"
#include "punt.h"
#include "wgport.h"

/* Datagrams per pass: timers, handshakes and the UAPI still get their turn during a flood. */
#define NAT_BUDGET 128

int mg_nat_gw_start(struct mg_control *ctl, char *err, size_t errlen)
{
	struct mg_nat_gw *ng = calloc(1, sizeof(*ng));
	if (!ng || !(ng->win = calloc(ctl->gw.max_peers, sizeof(*ng->win)))) {
		free(ng);
		snprintf(err, errlen, "out of memory for the STUN and disco state");
		return -1;
	}
	ng->n_win = ctl->gw.max_peers;
	ng->cfg = ctl->cfg.stun;
	if (ng->cfg.enabled && ng->cfg.from_map) {
		if (!(ng->map = malloc(sizeof(*ng->map)))) {
			free(ng->win);
			free(ng);
			snprintf(err, errlen, "out of memory for the STUN servers");
			return -1;
		}
		/* No route check: the kernel does not route the mesh port's traffic, DPDK does. */
		mg_stun_servers_init(ng->map, ng->cfg.region, false);
	}
	ng->last.nat = "unknown";
	ng->last.rtt_ms[0] = ng->last.rtt_ms[1] = -1;
	if (mg_wgport_ring_create(&ctl->gw) != 0) {
		free(ng->map);
		free(ng->win);
		free(ng);
		snprintf(err, errlen, "cannot create the STUN/disco ring");
		return -1;
	}
	ctl->nat = ng;
	return 0;
}

void mg_nat_gw_stop(struct mg_control *ctl)
{
	struct mg_nat_gw *ng = ctl->nat;
	mg_wgport_ring_free(&ctl->gw);
	if (!ng)
		return;
	mg_paths_gw_fini(ng);
	mg_disco_gw_fini(ng);
	if (ng->map)
		mg_stun_servers_free(ng->map);
	free(ng->map);
	free(ng);
	ctl->nat = NULL;
}

int mg_nat_gw_send(struct mg_control *ctl, const struct mg_sockaddr *dst, const void *buf,
                   size_t len, uint64_t now_ns)
{
	uint8_t *payload;
	if (dst->family != 4 && dst->family != 6)
		return -EAFNOSUPPORT;
	struct rte_mbuf *m = mg_hs_frame_alloc(ctl, dst->family, (uint16_t)len, &payload);
	if (!m)
		return -ENOBUFS;
	memcpy(payload, buf, len);
	return mg_hs_frame_send(ctl, m, dst, (uint16_t)len, 0, MG_PUNT_NO_PEER, now_ns);
}

unsigned mg_nat_gw_poll(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_wgport_item it[MG_WGPORT_BURST];
	unsigned total = 0, n;
	if (!ctl->nat)
		return 0;
	do {
		n = mg_wgport_take(&ctl->gw, it, MG_WGPORT_BURST);
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = it[i].m;
			const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
			size_t len = rte_pktmbuf_data_len(m);
			if (it[i].kind == MG_WGPORT_STUN)
				mg_stun_gw_input(ctl, &it[i], b, len, now_ns);
			else
				mg_disco_gw_input(ctl, &it[i], b, len, now_ns);
			rte_pktmbuf_free(m);
		}
		total += n;
	} while (n == MG_WGPORT_BURST && total < NAT_BUDGET);
	return total + mg_stun_gw_tick(ctl, now_ns) + mg_paths_gw_poll(ctl, now_ns);
}
