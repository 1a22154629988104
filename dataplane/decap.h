/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mesh to LAN: WireGuard data messages become IP packets forwarded to the LAN, after the tag,
 * the replay window and the peer's allowed IPs (crypto-key routing) agree.
 */
#ifndef MESHGATE_DATAPLANE_DECAP_H
#define MESHGATE_DATAPLANE_DECAP_H

#include <endian.h>
#include <stddef.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "index_table.h"
#include "messages.h"
#include "worker.h"

/* A data message as the classifier hands it over. */
struct mg_decap_pkt {
	struct rte_mbuf *m;     /* starts at the WireGuard header, exactly the UDP payload, one
	                           segment; type 4 and at least WG_DATA_MIN_LEN bytes */
	struct mg_sockaddr src; /* outer source, for roaming */
	uint8_t outer_tclass;   /* outer TOS / traffic class, for ECN decapsulation */
};

/*
 * Asks for the line decap reads first for m, a message as struct mg_decap_pkt holds it (its
 * receiver index's slot). Whoever hands messages over calls it for each as it is gathered, so the
 * line arrives while the rest of the burst is; decap itself would read it right away.
 */
static inline void mg_decap_prefetch(const struct mg_worker *w, const struct rte_mbuf *m)
{
	uint32_t idx;
	memcpy(&idx,
	       rte_pktmbuf_mtod_offset(m, const uint8_t *, offsetof(struct wg_msg_data, key_idx)),
	       sizeof(idx));
	rte_prefetch0(wg_index_table_home(w->gw->index, le32toh(idx)));
}

/* Decrypts, checks and forwards (or punts, or drops with a counted reason) n <= MG_BURST
 * messages. The worker's clock must be current. */
void mg_decap_burst(struct mg_worker *w, struct mg_decap_pkt *pkts, unsigned n);

#endif
