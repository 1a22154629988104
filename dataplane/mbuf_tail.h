/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Growing and shrinking a frame at its tail without reading the mbuf's second cache line.
 *
 * rte_pktmbuf_trim and rte_pktmbuf_append walk to the last segment through m->next, which sits
 * on the mbuf's second line. Nothing else on the fast path reads that line, and whoever filled
 * the mbuf (a PMD or a ring on another core) last wrote it there: one remote miss per frame,
 * about half the classify loop's time at 1420 bytes. The worker linearizes every frame when it
 * arrives, so these take the one-segment case from nb_segs (first line) and leave chains to
 * DPDK.
 */
#ifndef MESHGATE_DATAPLANE_MBUF_TAIL_H
#define MESHGATE_DATAPLANE_MBUF_TAIL_H

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>

/* rte_pktmbuf_trim: 0, or -1 when the frame is shorter than len. */
static inline int mg_mbuf_trim(struct rte_mbuf *m, uint16_t len)
{
	if (unlikely(m->nb_segs != 1))
		return rte_pktmbuf_trim(m, len);
	if (unlikely(len > m->data_len))
		return -1;
	m->data_len = (uint16_t)(m->data_len - len);
	m->pkt_len -= len;
	return 0;
}

/* rte_pktmbuf_append: the start of the len new bytes, or NULL without the tailroom. */
static inline char *mg_mbuf_append(struct rte_mbuf *m, uint16_t len)
{
	if (unlikely(m->nb_segs != 1))
		return rte_pktmbuf_append(m, len);
	if (unlikely(len > rte_pktmbuf_tailroom(m)))
		return NULL;
	char *tail = rte_pktmbuf_mtod_offset(m, char *, m->data_len);
	m->data_len = (uint16_t)(m->data_len + len);
	m->pkt_len += len;
	return tail;
}

#endif
