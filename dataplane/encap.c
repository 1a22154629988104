// SPDX-License-Identifier: GPL-2.0-only
#include "encap.h"

#include <endian.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "allowedips.h"
#include "crypto_burst.h"
#include "icmp.h"
#include "keypair_use.h"
#include "mbuf_tail.h"
#include "neigh.h"
#include "outer_hdr.h"
#include "pkt.h"
#include "prefetch.h"
#include "relay_ring.h"
#include "policy.h"
#include "timers.h"
#include "transport.h"

#define IPV4_MF      0x2000
#define IPV4_DF      0x4000
#define IPV4_OFFMASK 0x1fff
#define OPT_COPIED   0x80
#define OPT_EOL      0
#define OPT_NOP      1

/* Ethernet, IPv6, UDP and the data header: the most finish() prepends to an IP packet. */
#define OUTER_MAX_HLEN MG_OUTER6_LEN
#define GROUP_MAP_BITS 9 /* twice MG_ENCAP_MAX slots: probes stay short */
#define GROUP_MAP_SIZE (1u << GROUP_MAP_BITS)
_Static_assert(GROUP_MAP_SIZE >= 2 * MG_ENCAP_MAX, "the group map must stay half empty");

/* One peer's share of the burst. */
struct group {
	uint32_t slot;
	struct mg_peer_tx *tx; /* the slot's send state */
	unsigned first, n;     /* members: idx[first .. first + n) */
	uint64_t bytes;        /* WireGuard message bytes sealed for this peer */
	unsigned sealed;
	uint64_t nonce;       /* the first of the n counters reserved for the members */
	struct mg_peer_tx st; /* what this burst seals with: a copy of *tx, or rebuilt */
};

struct encap_burst {
	unsigned n;
	struct rte_mbuf *m[MG_ENCAP_MAX];
	uint32_t slot[MG_ENCAP_MAX];
	uint16_t grp[MG_ENCAP_MAX];
	unsigned n_groups;
	struct group groups[MG_ENCAP_MAX];
	unsigned idx[MG_ENCAP_MAX]; /* packet indices ordered by group */
	unsigned n_jobs;
	struct mg_crypto_job jobs[MG_ENCAP_MAX];
	enum mg_crypto_status status[MG_ENCAP_MAX];
	unsigned job_pkt[MG_ENCAP_MAX];
	uint8_t inner_tclass[MG_ENCAP_MAX];
};

static uint8_t *frame_ip(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, uint8_t *, MG_ETH_HLEN);
}

static void icmp_reply(struct mg_worker *w, struct rte_mbuf *m, enum mg_icmp_kind kind)
{
	struct rte_mbuf *r =
	    mg_icmp_error(w->gw, MG_PORT_LAN, m, kind, w->gw->mtu, &w->icmp, w->now_tsc);
	if (r)
		mg_worker_tx(w, MG_PORT_LAN, r);
}

static void drop_icmp(struct mg_worker *w, struct rte_mbuf *m, enum mg_icmp_kind kind,
                      enum mg_drop_reason reason)
{
	icmp_reply(w, m, kind);
	mg_worker_drop(w, m, reason);
}

/* ---- IPv4 fragmentation (RFC 791) for DF-clear packets over the MTU ---- */

/* The options a non-first fragment carries: those with the copied flag, EOL-padded to 4. */
static int copied_options(const uint8_t *opt, unsigned len, uint8_t *out)
{
	unsigned o = 0;
	for (unsigned i = 0; i < len;) {
		uint8_t type = opt[i];
		if (type == OPT_EOL)
			break;
		if (type == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len)
			return -1;
		if (type & OPT_COPIED) {
			memcpy(out + o, opt + i, opt[i + 1]);
			o += opt[i + 1];
		}
		i += opt[i + 1];
	}
	while (o % 4)
		out[o++] = OPT_EOL;
	return (int)o;
}

/*
 * Splits m (consumed) into fragments of at most mtu bytes, each a new one-segment frame with
 * m's Ethernet header, stored in out. Returns how many, or 0 after counting the drop.
 */
static unsigned fragment4(struct mg_worker *w, struct rte_mbuf *m, const struct mg_l3 *l3,
                          struct rte_mbuf **out, unsigned cap)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip = frame + MG_ETH_HLEN;
	uint8_t later_opts[40];
	unsigned hl = l3->hdr_len, payload = l3->total_len - hl;
	int later_opt_len = copied_options(ip + MG_IPV4_HLEN, hl - MG_IPV4_HLEN, later_opts);
	uint16_t frag_field = (uint16_t)(ip[6] << 8 | ip[7]);
	unsigned base = (frag_field & IPV4_OFFMASK) * 8u;
	bool more_after = (frag_field & IPV4_MF) != 0;
	unsigned n = 0;

	if (later_opt_len < 0) {
		mg_worker_drop(w, m, MG_DROP_MALFORMED);
		return 0;
	}
	for (unsigned off = 0; off < payload; n++) {
		unsigned fhl = off == 0 ? hl : MG_IPV4_HLEN + (unsigned)later_opt_len;
		unsigned chunk = (w->gw->mtu - fhl) & ~7u;
		if (chunk > payload - off)
			chunk = payload - off;
		struct rte_mbuf *f = n < cap && chunk ? rte_pktmbuf_alloc(m->pool) : NULL;
		uint8_t *d =
		    f ? (uint8_t *)rte_pktmbuf_append(f, (uint16_t)(MG_ETH_HLEN + fhl + chunk))
		      : NULL;
		if (!d) {
			rte_pktmbuf_free(f);
			rte_pktmbuf_free_bulk(out, n);
			mg_worker_drop(w, m,
			               f || n >= cap || !chunk ? MG_DROP_TOO_BIG : MG_DROP_NOMEM);
			return 0;
		}
		f->port = m->port;
		memcpy(d, frame, MG_ETH_HLEN + MG_IPV4_HLEN);
		uint8_t *fip = d + MG_ETH_HLEN;
		if (off == 0)
			memcpy(fip + MG_IPV4_HLEN, ip + MG_IPV4_HLEN, hl - MG_IPV4_HLEN);
		else
			memcpy(fip + MG_IPV4_HLEN, later_opts, (size_t)later_opt_len);
		memcpy(fip + fhl, ip + hl + off, chunk);
		struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)fip;
		bool last = off + chunk == payload;
		h->version_ihl = (uint8_t)(0x40 | fhl / 4);
		h->total_length = rte_cpu_to_be_16((uint16_t)(fhl + chunk));
		h->fragment_offset = rte_cpu_to_be_16(
		    (uint16_t)(((base + off) / 8) | (!last || more_after ? IPV4_MF : 0)));
		h->hdr_checksum = 0;
		h->hdr_checksum = rte_ipv4_cksum(h);
		out[n] = f;
		off += chunk;
	}
	rte_pktmbuf_free(m);
	return n;
}

/* ---- stages ---- */

/*
 * Every line from the outer headers to the tag is written on this core before TX: the
 * headers by finish(), the TTL by prepare_group, the payload, padding and tag by the in-place
 * seal. The packet's lines were last written on another core (a PMD, the fan-out worker) and
 * classify only read the first: asking for all of them now overlaps their misses with the
 * rest of the burst's work instead of taking them one by one at the first store; asked for
 * owned (prefetch.h), so that store does not wait again for the other core's copy to go.
 */
static void prefetch_written(struct rte_mbuf *m, unsigned ip_len)
{
	const uint8_t *ip = frame_ip(m);
	uintptr_t line = RTE_ALIGN_FLOOR((uintptr_t)(ip - OUTER_MAX_HLEN), RTE_CACHE_LINE_SIZE);
	uintptr_t end = (uintptr_t)ip + ip_len + (WG_PADDING_MULTIPLE - 1) + WG_AEAD_TAG_LEN;

	for (; line < end; line += RTE_CACHE_LINE_SIZE)
		mg_prefetch_w((const void *)line);
}

/* TTL and size: what passes goes to b; IPv4 without DF over the MTU is fragmented first. */
static void admit(struct mg_worker *w, struct encap_burst *b, struct rte_mbuf **frames, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = frames[i];
		struct mg_l3 l3;
		if (mg_pkt_parse_ip(frame_ip(m), m->data_len - MG_ETH_HLEN, &l3) != 0) {
			mg_worker_drop(w, m, MG_DROP_MALFORMED);
			continue;
		}
		if (l3.ttl <= 1) {
			drop_icmp(w, m, MG_ICMP_TIME_EXCEEDED, MG_DROP_TTL);
			continue;
		}
		if (l3.total_len <= w->gw->mtu) {
			prefetch_written(m, l3.total_len);
			if (b->n < MG_ENCAP_MAX)
				b->m[b->n++] = m;
			else
				mg_worker_drop(w, m, MG_DROP_NOMEM);
			continue;
		}
		if (l3.family == 4 && !l3.df)
			b->n += fragment4(w, m, &l3, b->m + b->n, MG_ENCAP_MAX - b->n);
		else
			drop_icmp(w, m, MG_ICMP_TOO_BIG, MG_DROP_TOO_BIG);
	}
}

/* Inner destination to peer slot for the whole burst, one bulk lookup per family. */
static void route(struct mg_worker *w, struct encap_burst *b)
{
	uint32_t ips4[MG_ENCAP_MAX], res4[MG_ENCAP_MAX], res6[MG_ENCAP_MAX];
	const uint8_t *ips6[MG_ENCAP_MAX];
	unsigned pos4[MG_ENCAP_MAX], pos6[MG_ENCAP_MAX], n4 = 0, n6 = 0;

	for (unsigned i = 0; i < b->n; i++) {
		const uint8_t *ip = frame_ip(b->m[i]);
		if (ip[0] >> 4 == 4) {
			uint32_t be;
			memcpy(&be, ip + 16, 4);
			pos4[n4] = i;
			ips4[n4++] = rte_be_to_cpu_32(be);
		} else {
			pos6[n6] = i;
			ips6[n6++] = ip + 24;
		}
	}
	if (n4)
		mg_allowedips_lookup4_bulk(w->gw->allowedips, ips4, res4, n4);
	if (n6)
		mg_allowedips_lookup6_bulk(w->gw->allowedips, ips6, res6, n6);
	for (unsigned i = 0; i < n4; i++)
		b->slot[pos4[i]] = res4[i];
	for (unsigned i = 0; i < n6; i++)
		b->slot[pos6[i]] = res6[i];
}

/* Groups the routed packets by peer slot; packets without one are answered and dropped. A
 * small hash of slots keeps this linear when a burst spans as many peers as packets. Nothing
 * here loads a peer: the send state is addressed by the slot alone (peer.h), so its lines are
 * requested as soon as the slot is known. */
static void group(struct mg_worker *w, struct encap_burst *b)
{
	unsigned count[MG_ENCAP_MAX], kept = 0;
	uint16_t map[GROUP_MAP_SIZE]; /* group index + 1, 0 = empty */
	uint32_t max_peers = w->gw->max_peers;

	memset(map, 0, sizeof(map));
	b->n_groups = 0;
	for (unsigned i = 0; i < b->n; i++) {
		uint32_t slot = b->slot[i];
		if (slot >= max_peers) { /* MG_ALLOWEDIPS_NO_PEER among them */
			drop_icmp(w, b->m[i], MG_ICMP_UNREACHABLE, MG_DROP_NO_ROUTE);
			continue;
		}
		unsigned h = (slot * 2654435761u) >> (32 - GROUP_MAP_BITS);
		while (map[h] && b->groups[map[h] - 1].slot != slot)
			h = (h + 1) & (GROUP_MAP_SIZE - 1);
		if (!map[h]) {
			unsigned g = b->n_groups++;
			/* The rest is set before use: the state by prepare_group, first below. */
			struct group *gr = &b->groups[g];
			gr->slot = slot;
			gr->tx = mg_gateway_peer_tx(w->gw, slot);
			gr->n = gr->sealed = 0;
			gr->bytes = 0;
			count[g] = 0;
			map[h] = (uint16_t)(g + 1);
			/* prepare_group reads these next: start the misses now, together. */
			rte_prefetch0(gr->tx);
			rte_prefetch0((const char *)gr->tx + RTE_CACHE_LINE_SIZE);
			mg_prefetch_w(&w->peer_counters[slot]);
		}
		unsigned g = map[h] - 1u;
		count[g]++;
		b->m[kept] = b->m[i];
		b->grp[kept++] = (uint16_t)g;
	}
	b->n = kept;
	unsigned at = 0;
	for (unsigned g = 0; g < b->n_groups; g++) {
		b->groups[g].first = at;
		at += count[g];
	}
	for (unsigned i = 0; i < b->n; i++) {
		struct group *gr = &b->groups[b->grp[i]];
		b->idx[gr->first + gr->n++] = i;
	}
	/* Second wave: the keypairs, now that the states' lines are on their way. Only a hint:
	 * the pointer is read outside the state's sequence lock, and a stale one costs nothing
	 * (a prefetch never faults); prepare_group reads the state properly. */
	for (unsigned g = 0; g < b->n_groups; g++) {
		struct wg_noise_keypair *kp =
		    __atomic_load_n(&b->groups[g].tx->kp, __ATOMIC_RELAXED);
		if (kp) {
			rte_prefetch0(kp->send_key); /* and birth, validity and index (noise.h) */
			mg_prefetch_w((const void *)&kp->send_counter);
		}
	}
}

/*
 * Makes sure m can grow in place: the outer headers in front, padding and tag behind, and
 * nobody else holding the data. Returns m, a private copy (m freed), or NULL (m dropped).
 */
static struct rte_mbuf *make_room(struct mg_worker *w, struct rte_mbuf *m, unsigned head,
                                  unsigned tail)
{
	if (rte_pktmbuf_headroom(m) >= head && rte_pktmbuf_tailroom(m) >= tail &&
	    RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1)
		return m;
	struct rte_mbuf *c = rte_pktmbuf_alloc(m->pool);
	if (!c) {
		mg_worker_drop(w, m, MG_DROP_NOMEM);
		return NULL;
	}
	uint8_t *d;
	if (rte_pktmbuf_headroom(c) < head ||
	    !(d = (uint8_t *)rte_pktmbuf_append(c, (uint16_t)m->data_len)) ||
	    rte_pktmbuf_tailroom(c) < tail) {
		rte_pktmbuf_free(c);
		mg_worker_drop(w, m, MG_DROP_TOO_BIG);
		return NULL;
	}
	memcpy(d, rte_pktmbuf_mtod(m, const void *), m->data_len);
	c->port = m->port;
	rte_pktmbuf_free(m);
	return c;
}

static void stage(struct mg_worker *w, struct rte_mbuf *m, uint32_t slot)
{
	mg_worker_punt(w, m, MG_PUNT_STAGE, MG_PORT_LAN, MG_ETH_HLEN, slot, NULL);
}

static bool mesh_has_family(const struct mg_port_addrs *pc, uint8_t family)
{
	return family == 4 ? pc->has_ipv4 : family == 6 ? pc->has_ipv6 : false;
}

/* The mesh port's checksum offloads, as a template records them: every worker read them from
 * the port's one configuration, so a state any worker built is right for all. */
static bool tmpl_ip_cksum(const struct mg_worker *w, uint8_t family)
{
	return family == 4 && !w->tx_ip_cksum_offload[MG_PORT_MESH];
}

static enum mg_udp_cksum tmpl_udp_cksum(const struct mg_worker *w, uint8_t family)
{
	return w->tx_udp_cksum_offload[MG_PORT_MESH] ? MG_UDP_CKSUM_OFFLOAD
	       : family == 4                         ? MG_UDP_CKSUM_ZERO
	                                             : MG_UDP_CKSUM_SW;
}

/* The outer headers to ep through the next hop mac, but for each message's own fields. */
static void outer_tmpl(struct mg_worker *w, struct mg_outer_tmpl *tmpl,
                       const struct mg_sockaddr *ep, const struct rte_ether_addr *mac,
                       uint32_t remote_index)
{
	struct mg_gateway *gw = w->gw;
	const struct mg_port_addrs *mesh = &mg_gateway_addrs(gw)->ports[MG_PORT_MESH];
	uint8_t family = ep->family;
	struct mg_udp_tuple t = {
	    .family = family,
	    .ttl = 64,
	    .src = family == 4 ? mesh->ipv4.addr : mesh->ipv6.addr,
	    .dst = ep->addr,
	    .sport = __atomic_load_n(&gw->listen_port, __ATOMIC_ACQUIRE),
	    .dport = ep->port,
	};
	mg_outer_tmpl_init(tmpl, mac, &gw->ports[MG_PORT_MESH].mac, &t, tmpl_ip_cksum(w, family),
	                   tmpl_udp_cksum(w, family), remote_index);
}

/*
 * The inputs behind a stale send state, read one by one as they change (peer.h), and the
 * state stored for the next bursts when everything resolved. st->kp is the current keypair,
 * already known to be there. Returns false after dropping the group (no endpoint, no
 * neighbour).
 */
static bool rebuild_state(struct mg_worker *w, struct encap_burst *b, struct group *g,
                          struct mg_peer *peer, uint32_t begin, uint32_t neigh_gen)
{
	struct mg_gateway *gw = w->gw;
	struct mg_peer_tx *st = &g->st;
	unsigned *members = b->idx + g->first;
	const struct mg_port_addrs *mesh = &mg_gateway_addrs(gw)->ports[MG_PORT_MESH];
	struct mg_sockaddr ep;
	struct rte_ether_addr mac;
	uint8_t nh[16];

	st->neigh_gen = neigh_gen;
	bool have_ep = mg_endpoint_read(&peer->endpoint, &ep);
	st->relayed = have_ep && ep.family == MG_FAMILY_RELAY;
	if (!st->relayed && (!have_ep || !mesh_has_family(mesh, ep.family))) {
		for (unsigned i = 0; i < g->n; i++)
			drop_icmp(w, b->m[members[i]], MG_ICMP_UNREACHABLE, MG_DROP_NO_ENDPOINT);
		g->n = 0;
		return false;
	}
	bool hop = st->relayed || mg_neigh_next_hop(mesh, ep.family, ep.addr, nh);
	bool have_mac =
	    st->relayed || (hop && mg_neigh_lookup(gw->neigh, MG_PORT_MESH, ep.family, nh, &mac));
	if (!have_mac) {
		if (hop)
			mg_event_resolve(gw, &w->resolve, MG_PORT_MESH, ep.family, nh, w->now_tsc,
			                 &w->counters.events_lost);
		for (unsigned i = 0; i < g->n; i++)
			mg_worker_drop(w, b->m[members[i]], MG_DROP_NO_NEIGHBOUR);
		g->n = 0;
		return false;
	}
	if (st->relayed)
		memset(&st->tmpl, 0, sizeof(st->tmpl));
	else
		outer_tmpl(w, &st->tmpl, &ep, &mac, st->kp->remote_index);
	/* Only into the peer's own slot: a peer without one (or a stale pointer) never makes a
	 * slot's state fresh. */
	if (peer->tx == g->tx)
		mg_peer_tx_store(g->tx, begin, st);
	return true;
}

/*
 * Everything one peer's packets need before sealing but their own stores: the send state, room
 * in each mbuf and the nonces (g->nonce). Drops or stages the group on failure (g->n = 0).
 */
static void prepare_group(struct mg_worker *w, struct encap_burst *b, struct group *g)
{
	struct mg_gateway *gw = w->gw;
	struct mg_peer_tx *st = &g->st;
	struct mg_peer *peer = NULL; /* loaded only off the fast path */
	unsigned *members = b->idx + g->first;

	/* The sequence and the generation before any input: a change after them stales what
	 * this burst builds (peer.h). */
	uint32_t begin = mg_peer_tx_begin(g->tx);
	uint32_t neigh_gen = mg_neigh_gen(gw->neigh);
	bool fresh = mg_peer_tx_read(g->tx, st) && st->neigh_gen == neigh_gen;
	if (!fresh) {
		peer = mg_gateway_peer(gw, g->slot);
		if (!peer) { /* left its slot since allowed-IPs was read */
			for (unsigned i = 0; i < g->n; i++)
				drop_icmp(w, b->m[members[i]], MG_ICMP_UNREACHABLE,
				          MG_DROP_NO_ROUTE);
			g->n = 0;
			return;
		}
		st->kp = wg_noise_keypair_current(&peer->remote);
	}
	struct wg_noise_keypair *kp = st->kp;
	if (!kp)
		goto stage_all;
	if (!fresh) {
		st->rekey_after_time_ns = peer->timers.d.rekey_after_time_ns;
		st->reject_after_time_ns = peer->timers.d.reject_after_time_ns;
	}
	/* Asked before reserving, once for the group; the send counter's line is prefetched. */
	enum wg_keypair_use use = wg_keypair_may_seal_after(
	    kp, st->rekey_after_time_ns, st->reject_after_time_ns,
	    atomic_load_explicit(&kp->send_counter, memory_order_relaxed), w->now_ns);
	if (use == WG_KEYPAIR_EXPIRED)
		goto stage_all;
	if (!fresh && !rebuild_state(w, b, g, peer, begin, neigh_gen))
		return;
	bool relayed = st->relayed;

	/* A relayed message travels without outer headers (the relay client frames it), but
	 * with its data header. */
	unsigned head =
	    relayed ? (unsigned)sizeof(struct wg_msg_data) : mg_outer_len(&st->tmpl) - MG_ETH_HLEN;
	unsigned kept = 0;
	for (unsigned i = 0; i < g->n; i++) {
		struct rte_mbuf *m = b->m[members[i]];
		unsigned len = m->data_len - MG_ETH_HLEN;
		unsigned tail = (unsigned)wg_padded_len(len, gw->mtu) - len + WG_AEAD_TAG_LEN;
		m = make_room(w, m, head, tail);
		if (!m)
			continue;
		b->m[members[i]] = m;
		members[kept++] = members[i];
	}
	g->n = kept;
	if (!kept)
		return;

	/* The reservation applies the same rule to the nonces it actually took. */
	switch (wg_noise_keypair_reserve(kp, kept, &g->nonce)) {
	case WG_OK:
		break;
	case WG_OK_REKEY:
		use = WG_KEYPAIR_REKEY;
		break;
	default:
		goto stage_all;
	}
	if (use == WG_KEYPAIR_REKEY) {
		if (!peer)
			peer = mg_gateway_peer(gw, g->slot);
		if (peer)
			atomic_fetch_or_explicit(&peer->requests, MG_PEER_WANT_HANDSHAKE,
			                         memory_order_relaxed);
	}
	return;

stage_all:
	for (unsigned i = 0; i < g->n; i++)
		stage(w, b->m[members[i]], g->slot);
	g->n = 0;
}

/* The members' own stores (TTL, lengths, padding) and their seal jobs. */
static void make_jobs(struct mg_worker *w, struct encap_burst *b, const struct group *g)
{
	const unsigned *members = b->idx + g->first;

	for (unsigned i = 0; i < g->n; i++) {
		unsigned p = members[i];
		struct rte_mbuf *m = b->m[p];
		uint8_t *ip = frame_ip(m);
		uint8_t family = ip[0] >> 4 == 4 ? 4 : 6;
		b->inner_tclass[p] =
		    family == 4 ? ip[1] : (uint8_t)((ip[0] & 0x0f) << 4 | ip[1] >> 4);
		/* A router decrements on the way into the tunnel as on any other hop. */
		mg_ip_dec_ttl(ip, family);
		rte_pktmbuf_adj(m, MG_ETH_HLEN);
		unsigned len = m->data_len;
		unsigned padded = (unsigned)wg_padded_len(len, w->gw->mtu);
		uint8_t *tail =
		    (uint8_t *)mg_mbuf_append(m, (uint16_t)(padded - len + WG_AEAD_TAG_LEN));
		/* Padding is under 16 bytes and the tag's 16 follow it: one fixed-size store
		 * (no call) covers it, and the seal then writes the tag over the rest. */
		_Static_assert(WG_AEAD_TAG_LEN >= WG_PADDING_MULTIPLE,
		               "the store stays in the tail");
		memset(tail, 0, WG_PADDING_MULTIPLE);
		uint8_t *body = rte_pktmbuf_mtod(m, uint8_t *);
		struct mg_crypto_job *j = &b->jobs[b->n_jobs];
		j->key = g->st.kp->send_key; /* set whenever the group kept members */
		j->counter = g->nonce + i;
		j->src = body;
		j->dst = body;
		j->len = padded;
		j->tag = body + padded;
		b->job_pkt[b->n_jobs++] = p;
	}
}

/* Header, outer IP/UDP and Ethernet around a sealed packet, then TX. */
static void finish(struct mg_worker *w, struct encap_burst *b, unsigned j)
{
	const struct mg_crypto_job *job = &b->jobs[j];
	unsigned p = b->job_pkt[j];
	struct rte_mbuf *m = b->m[p];
	struct group *g = &b->groups[b->grp[p]];

	if (b->status[j] != MG_CRYPTO_OK) {
		mg_worker_drop(w, m, MG_DROP_CRYPTO);
		return;
	}
	uint16_t body_len = (uint16_t)m->data_len;
	uint16_t msg_len = (uint16_t)(body_len + sizeof(struct wg_msg_data));
	if (g->st.relayed) {
		struct wg_msg_data hdr = {
		    .header.type = htole32(WG_MSG_DATA),
		    .key_idx = htole32(g->st.kp->remote_index),
		    .counter = htole64(job->counter),
		};
		memcpy(rte_pktmbuf_prepend(m, sizeof(hdr)), &hdr, sizeof(hdr));
		g->bytes += msg_len;
		g->sealed++;
		w->counters.encrypted++;
		mg_relay_out(w, m, g->slot);
		return;
	}
	const struct mg_outer_tmpl *tmpl = &g->st.tmpl;
	uint8_t family = tmpl->family;
	uint8_t *frame = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)mg_outer_len(tmpl));
	mg_outer_write(frame, tmpl, mg_ecn_encap(b->inner_tclass[p]), w->ip_id++, body_len,
	               job->counter);
	m->ol_flags &= ~(RTE_MBUF_F_TX_OFFLOAD_MASK);
	bool ip_off = family == 4 && !tmpl->ip_cksum;
	bool udp_off = tmpl->udp_cksum == MG_UDP_CKSUM_OFFLOAD;
	if (ip_off || udp_off) {
		m->l2_len = MG_ETH_HLEN;
		m->l3_len = family == 4 ? MG_IPV4_HLEN : MG_IPV6_HLEN;
		m->ol_flags |= family == 4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6;
		if (ip_off)
			m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
		if (udp_off)
			m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
	}
	g->bytes += msg_len;
	g->sealed++;
	w->counters.encrypted++;
	mg_worker_tx(w, MG_PORT_MESH, m);
}

void mg_encap_burst(struct mg_worker *w, struct rte_mbuf **frames, unsigned n)
{
	struct encap_burst b;

	b.n = 0;
	b.n_jobs = 0;
	admit(w, &b, frames, n);
	if (!b.n)
		return;
	route(w, &b);
	group(w, &b);
	/* Before sealing: a reply may come back before this burst is even sent. */
	mg_policy_outbound(w, b.m, b.n);
	/* Every group's reservation (a locked add, which waits for all earlier stores) before
	 * any packet's stores: interleaved, each add waited for the group before's first stores
	 * into lines the other core wrote, once per peer. */
	for (unsigned g = 0; g < b.n_groups; g++)
		prepare_group(w, &b, &b.groups[g]);
	for (unsigned g = 0; g < b.n_groups; g++)
		make_jobs(w, &b, &b.groups[g]);
	if (!b.n_jobs)
		return;
	mg_crypto_seal_burst(w->crypto, b.jobs, b.status, b.n_jobs);
	for (unsigned j = 0; j < b.n_jobs; j++)
		finish(w, &b, j);
	for (unsigned g = 0; g < b.n_groups; g++) {
		struct group *gr = &b.groups[g];
		if (!gr->sealed)
			continue;
		struct mg_peer_counters *pc = &w->peer_counters[gr->slot];
		pc->tx_bytes += gr->bytes;
		pc->tx_packets += gr->sealed;
		atomic_store_explicit(&pc->last_tx_ns, w->now_ns, memory_order_relaxed);
	}
}
