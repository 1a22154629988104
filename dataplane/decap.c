// SPDX-License-Identifier: GPL-2.0-only
#include "decap.h"

#include <endian.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "acl.h"
#include "allowedips.h"
#include "crypto_burst.h"
#include "index_table.h"
#include "keypair_use.h"
#include "mbuf_tail.h"
#include "nat.h"
#include "neigh.h"
#include "pkt.h"
#include "prefetch.h"
#include "policy.h"
#include "timers.h"
#include "transport.h"

_Static_assert(MG_BURST <= MG_NAT_BURST, "a decrypt burst's NAT packets go in one NAT burst");

struct decap_burst {
	unsigned n;
	struct mg_decap_pkt *pkt[MG_BURST];
	struct wg_noise_keypair *kp[MG_BURST];
	bool rekey[MG_BURST]; /* wg_keypair_may_open said so; acted on once authenticated */
	struct mg_crypto_job jobs[MG_BURST];
	enum mg_crypto_status status[MG_BURST];
	struct mg_l3 inner[MG_BURST];
	uint32_t src_slot[MG_BURST];
	/* the last LAN next hop resolved in this burst */
	bool nh_valid;
	uint8_t nh_family;
	uint8_t nh_addr[16];
	struct rte_ether_addr nh_mac;
	/* packets for the exit NAT, translated together after the burst's other packets */
	unsigned n_nat;
	struct rte_mbuf *nat_m[MG_BURST];
	struct mg_l3 nat_l3[MG_BURST];
};

static struct mg_peer *peer_of(const struct wg_noise_keypair *kp)
{
	return mg_peer_of_remote(kp->remote);
}

/*
 * Receiver index to keypair, age check, and a job to open each message in place. With many
 * peers every packet may touch a different index slot, keypair and peer: each wave requests
 * for the whole burst the lines the next wave reads, so no packet waits on a miss alone.
 */
static void lookup(struct mg_worker *w, struct decap_burst *b, struct mg_decap_pkt *pkts,
                   unsigned n)
{
	struct wg_noise_keypair *kps[MG_BURST];
	uint32_t idx[MG_BURST];
	b->n = 0;
	/* Each index's slot was asked for as the message was handed over (mg_decap_prefetch). */
	for (unsigned i = 0; i < n; i++) {
		struct wg_msg_data hdr;
		memcpy(&hdr, rte_pktmbuf_mtod(pkts[i].m, const uint8_t *), sizeof(hdr));
		idx[i] = le32toh(hdr.key_idx);
	}
	for (unsigned i = 0; i < n; i++) {
		kps[i] = wg_index_table_lookup(w->gw->index, idx[i], WG_INDEX_KEYPAIR);
		if (kps[i]) {
			rte_prefetch0(&kps[i]->birth_ns);
			rte_prefetch0(kps[i]->recv_key); /* and the window's top (noise.h) */
		}
	}
	/* The peer's two lines: the keypair slots (wg_noise_keypair_awaits_confirmation) and
	 * its receive fields. */
	for (unsigned i = 0; i < n; i++) {
		if (!kps[i])
			continue;
		struct mg_peer *peer = peer_of(kps[i]);
		rte_prefetch0((const void *)&peer->remote.next);
		rte_prefetch0(&peer->slot);
	}
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i].m;
		uint8_t *msg = rte_pktmbuf_mtod(m, uint8_t *);
		struct wg_noise_keypair *kp = kps[i];
		if (!kp) {
			mg_worker_drop(w, m, MG_DROP_UNKNOWN_INDEX);
			continue;
		}
		struct mg_peer *peer = peer_of(kp);
		enum wg_keypair_use use = wg_keypair_may_open_after(
		    kp, peer->open_reject_after_ns, peer->open_rekey_age_ns, w->now_ns);
		if (use == WG_KEYPAIR_EXPIRED) {
			mg_worker_drop(w, m, MG_DROP_KEY_EXPIRED);
			continue;
		}
		struct wg_msg_data hdr;
		memcpy(&hdr, msg, sizeof(hdr));
		uint32_t len = m->data_len - (uint32_t)WG_DATA_OVERHEAD;
		struct mg_crypto_job *j = &b->jobs[b->n];
		j->key = kp->recv_key;
		j->counter = le64toh(hdr.counter);
		j->src = msg + sizeof(hdr);
		j->dst = msg + sizeof(hdr);
		j->len = len;
		j->tag = msg + sizeof(hdr) + len;
		/* The tag's last byte is on a line the cipher never reads (the message does not
		 * start on one): only the tag comparison would ask for it, after the crypto. */
		rte_prefetch0(j->tag + WG_AEAD_TAG_LEN - 1);
		/* The window block this counter will test, and the peer's counters: both are
		 * needed right after the crypto, which hides the misses. */
		mg_prefetch_w(&kp->recv_replay.blocks[((j->counter + 1) / WG_REPLAY_BLOCK_BITS) %
		                                      WG_REPLAY_BLOCKS]);
		mg_prefetch_w(&w->peer_counters[peer->slot]);
		b->kp[b->n] = kp;
		b->rekey[b->n] = use == WG_KEYPAIR_REKEY;
		b->pkt[b->n++] = &pkts[i];
	}
}

static bool same_endpoint(const struct mg_sockaddr *a, const struct mg_sockaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       mg_addr_eq(a->family, a->addr, b->addr);
}

static void compact(struct decap_burst *b, unsigned *kept, unsigned i)
{
	if (*kept == i) { /* nothing dropped before it: already in place */
		(*kept)++;
		return;
	}
	b->pkt[*kept] = b->pkt[i];
	b->kp[*kept] = b->kp[i];
	b->rekey[*kept] = b->rekey[i];
	b->jobs[*kept] = b->jobs[i];
	b->inner[*kept] = b->inner[i];
	(*kept)++;
}

static void rx_stats(struct mg_worker *w, struct mg_peer *peer, uint32_t msg_len)
{
	struct mg_peer_counters *pc = &w->peer_counters[peer->slot];
	pc->rx_bytes += msg_len;
	pc->rx_packets++;
}

/*
 * Only an authenticated counter may move a window; it also refuses counters from
 * WG_REJECT_AFTER_MESSAGES on. A keypair's consecutive messages are checked together: one
 * compare-and-swap per 64-counter block instead of two atomic operations per message.
 */
static void replay_check(struct decap_burst *b, bool *fresh)
{
	uint64_t counters[MG_BURST];
	bool ok[MG_BURST];
	unsigned at[MG_BURST];

	for (unsigned i = 0; i < b->n;) {
		struct wg_noise_keypair *kp = b->kp[i];
		unsigned k = 0, j = i;
		for (; j < b->n && b->kp[j] == kp; j++) {
			fresh[j] = false;
			if (b->status[j] == MG_CRYPTO_OK) {
				at[k] = j;
				counters[k++] = b->jobs[j].counter;
			}
		}
		if (k)
			wg_replay_check_many(&kp->recv_replay, counters, k, ok);
		for (unsigned q = 0; q < k; q++)
			fresh[at[q]] = ok[q];
		i = j;
	}
}

/*
 * What every authenticated message does, keepalive or not (the kernel's
 * wg_packet_consume_data_done up to the keepalive test): confirm a responder's new keypair,
 * roam, feed the timers. Keepalives end here.
 */
static void authenticated(struct mg_worker *w, struct decap_burst *b)
{
	const struct wg_noise_keypair *confirmed = NULL;
	unsigned kept = 0;
	bool fresh[MG_BURST];

	replay_check(b, fresh);

	for (unsigned i = 0; i < b->n; i++) {
		struct wg_noise_keypair *kp = b->kp[i];
		struct mg_peer *peer = peer_of(kp);
		struct mg_decap_pkt *d = b->pkt[i];
		uint32_t plain_len = b->jobs[i].len;

		if (b->status[i] != MG_CRYPTO_OK) {
			mg_worker_drop(w, d->m,
			               b->status[i] == MG_CRYPTO_AUTH_FAILED ? MG_DROP_AUTH
			                                                     : MG_DROP_WG_INVALID);
			continue;
		}
		if (!fresh[i]) {
			mg_worker_drop(w, d->m, MG_DROP_REPLAY);
			continue;
		}
		if (kp != confirmed && wg_noise_keypair_awaits_confirmation(kp)) {
			struct mg_event ev = {
			    .kind = MG_EVENT_KEY_CONFIRMED,
			    .peer_slot = peer->slot,
			    .local_index = kp->local_index,
			};
			mg_event_post(w->gw, &ev, &w->counters.events_lost);
			confirmed = kp;
		}
		struct mg_sockaddr cur;
		if (!mg_endpoint_read(&peer->endpoint, &cur) || !same_endpoint(&cur, &d->src))
			mg_endpoint_try_write(&peer->endpoint, &d->src);
		if (b->rekey[i])
			atomic_fetch_or_explicit(&peer->requests, MG_PEER_WANT_HANDSHAKE,
			                         memory_order_relaxed);
		if (plain_len == 0) {
			atomic_store_explicit(&peer->last_keepalive_rx_ns, w->now_ns,
			                      memory_order_relaxed);
			w->counters.keepalives_rx++;
			rx_stats(w, peer, (uint32_t)WG_DATA_OVERHEAD);
			rte_pktmbuf_free(d->m);
			continue;
		}
		/* On this worker's row, which the packet writes anyway: the peer's line stays
		 * clean for the other workers and the control thread. */
		atomic_store_explicit(&w->peer_counters[peer->slot].last_rx_ns, w->now_ns,
		                      memory_order_relaxed);
		compact(b, &kept, i);
	}
	b->n = kept;
}

/* The plaintext must be one IPv4/IPv6 packet no longer than itself; the padding goes. */
static void inner_valid(struct mg_worker *w, struct decap_burst *b)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < b->n; i++) {
		struct mg_decap_pkt *d = b->pkt[i];
		uint8_t *plain = (uint8_t *)b->jobs[i].dst;
		size_t inner_len;
		if (wg_transport_inner_len(plain, b->jobs[i].len, &inner_len) != WG_OK ||
		    mg_pkt_parse_ip(plain, (uint32_t)inner_len, &b->inner[i]) != 0 ||
		    b->inner[i].total_len != inner_len ||
		    (b->inner[i].family == 4 &&
		     !mg_ipv4_hdr_cksum_ok(plain, b->inner[i].hdr_len))) {
			mg_worker_drop(w, d->m, MG_DROP_INNER_INVALID);
			continue;
		}
		compact(b, &kept, i);
	}
	b->n = kept;
}

/* Crypto-key routing: the inner source must be one of this peer's allowed IPs. */
static void source_check(struct mg_worker *w, struct decap_burst *b)
{
	uint32_t ips4[MG_BURST], res4[MG_BURST], res6[MG_BURST];
	const uint8_t *ips6[MG_BURST];
	unsigned pos4[MG_BURST], pos6[MG_BURST], n4 = 0, n6 = 0, kept = 0;

	for (unsigned i = 0; i < b->n; i++) {
		if (b->inner[i].family == 4) {
			uint32_t be;
			memcpy(&be, b->inner[i].src, 4);
			pos4[n4] = i;
			ips4[n4++] = rte_be_to_cpu_32(be);
		} else {
			pos6[n6] = i;
			ips6[n6++] = b->inner[i].src;
		}
	}
	if (n4)
		mg_allowedips_lookup4_bulk(w->gw->allowedips, ips4, res4, n4);
	if (n6)
		mg_allowedips_lookup6_bulk(w->gw->allowedips, ips6, res6, n6);
	for (unsigned i = 0; i < n4; i++)
		b->src_slot[pos4[i]] = res4[i];
	for (unsigned i = 0; i < n6; i++)
		b->src_slot[pos6[i]] = res6[i];
	for (unsigned i = 0; i < b->n; i++) {
		if (b->src_slot[i] != peer_of(b->kp[i])->slot) {
			mg_worker_drop(w, b->pkt[i]->m, MG_DROP_ALLOWED_IPS);
			continue;
		}
		compact(b, &kept, i);
	}
	b->n = kept;
}

/* The packet filter, when one is in force: what it refuses is counted for the peer too. */
static void policy(struct mg_worker *w, struct decap_burst *b)
{
	const struct mg_acl *acl = mg_gateway_acl(w->gw);
	uint8_t *ip[MG_BURST];
	bool pass[MG_BURST];
	unsigned kept = 0;

	if (!acl || !b->n)
		return;
	for (unsigned i = 0; i < b->n; i++)
		ip[i] = (uint8_t *)b->jobs[i].dst;
	mg_policy_inbound(w, acl, ip, b->inner, pass, b->n);
	for (unsigned i = 0; i < b->n; i++) {
		if (!pass[i]) {
			struct mg_peer *peer = peer_of(b->kp[i]);
			struct mg_peer_counters *pc = &w->peer_counters[peer->slot];
			/* Received and authenticated: wg(8)'s transfer counts it, as the
			 * kernel's does before netfilter sees it. */
			rx_stats(w, peer, b->pkt[i]->m->data_len);
			pc->drops++;
			pc->policy_drops++;
			mg_worker_drop(w, b->pkt[i]->m, MG_DROP_POLICY);
			continue;
		}
		compact(b, &kept, i);
	}
	b->n = kept;
}

/* Strips the outer headers and sends the inner packet to its LAN next hop. */
static void forward(struct mg_worker *w, struct decap_burst *b, unsigned i)
{
	struct mg_gateway *gw = w->gw;
	struct mg_decap_pkt *d = b->pkt[i];
	struct rte_mbuf *m = d->m;
	const struct mg_l3 *l3 = &b->inner[i];
	struct mg_peer *peer = peer_of(b->kp[i]);
	uint32_t msg_len = m->data_len;
	uint8_t *ip = (uint8_t *)b->jobs[i].dst;
	uint8_t nh[16];
	struct rte_ether_addr mac;

	/* The message as received (padding included) is what wg(8) counts. */
	rx_stats(w, peer, msg_len);
	w->counters.decrypted++;
	rte_pktmbuf_adj(m, (uint16_t)sizeof(struct wg_msg_data));
	mg_mbuf_trim(m, (uint16_t)(m->data_len - l3->total_len));

	if (mg_is_gateway_addr(mg_gateway_addrs(gw), l3->family, l3->dst)) {
		mg_worker_punt(w, m, MG_PUNT_LOCAL, MG_PORT_MESH, 0, peer->slot, NULL);
		return;
	}
	if (mg_addr_is_multicast(l3->family, l3->dst)) {
		mg_worker_drop(w, m, MG_DROP_UNSUPPORTED);
		return;
	}
	if (!mg_ip_dec_ttl(ip, l3->family)) {
		mg_worker_drop(w, m, MG_DROP_TTL);
		return;
	}
	/* RFC 6040: congestion marked on the outside is carried in if the inside is ECN-capable. */
	if ((d->outer_tclass & MG_ECN_MASK) == MG_ECN_CE && (l3->tclass & MG_ECN_MASK) != 0)
		mg_ip_set_ce(ip, l3->family);
	if (gw->nat && mg_nat_wants(gw->nat, mg_gateway_addrs(gw), l3)) {
		b->nat_m[b->n_nat] = m;
		b->nat_l3[b->n_nat++] = *l3;
		return;
	}

	if (!mg_neigh_next_hop(&mg_gateway_addrs(gw)->ports[MG_PORT_LAN], l3->family, l3->dst,
	                       nh)) {
		mg_worker_drop(w, m, MG_DROP_NO_NEIGHBOUR);
		return;
	}
	/* Most of a burst goes to the same next hop: one lookup per run of them. */
	if (b->nh_valid && b->nh_family == l3->family && mg_addr_eq(l3->family, b->nh_addr, nh)) {
		mac = b->nh_mac;
	} else if (mg_neigh_lookup(gw->neigh, MG_PORT_LAN, l3->family, nh, &mac)) {
		b->nh_valid = true;
		b->nh_family = l3->family;
		memcpy(b->nh_addr, nh, mg_addr_len(l3->family));
		b->nh_mac = mac;
	} else {
		mg_event_resolve(gw, &w->resolve, MG_PORT_LAN, l3->family, nh, w->now_tsc,
		                 &w->counters.events_lost);
		mg_worker_drop(w, m, MG_DROP_NO_NEIGHBOUR);
		return;
	}
	uint8_t *eth = (uint8_t *)rte_pktmbuf_prepend(m, MG_ETH_HLEN);
	if (!eth) {
		mg_worker_drop(w, m, MG_DROP_NOMEM);
		return;
	}
	mg_eth_write(eth, &mac, &gw->ports[MG_PORT_LAN].mac,
	             l3->family == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	m->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;
	mg_worker_tx(w, MG_PORT_LAN, m);
}

void mg_decap_burst(struct mg_worker *w, struct mg_decap_pkt *pkts, unsigned n)
{
	struct decap_burst b;

	b.nh_valid = false;
	b.n_nat = 0;
	lookup(w, &b, pkts, n);
	if (!b.n)
		return;
	mg_crypto_open_burst(w->crypto, b.jobs, b.status, b.n);
	authenticated(w, &b);
	inner_valid(w, &b);
	source_check(w, &b);
	policy(w, &b);
	for (unsigned i = 0; i < b.n; i++)
		forward(w, &b, i);
	if (b.n_nat)
		mg_nat_forward_burst(w, b.nat_m, b.nat_l3, b.n_nat);
}
