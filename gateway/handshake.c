// SPDX-License-Identifier: GPL-2.0-only
/*
 * Handshake and cookie messages, and the few data messages the control thread seals itself
 * (keepalives, staged packets, echo replies to the overlay address). The order of the timer
 * calls around each message follows the Linux module's send.c and receive.c, since the timers
 * are its state machine.
 */
#include "handshake.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "cookie.h"
#include "crypto.h"
#include "handshake_lcores.h"
#include "hs_load.h"
#include "index_table.h"
#include "keypair_use.h"
#include "neigh.h"
#include "noise.h"
#include "pkt.h"
#include "policy.h"
#include "punt.h"
#include "relay_gw.h"
#include "relay_ring.h"
#include "ratelimiter.h"
#include "timers.h"
#include "transport.h"
#include "ports.h"

#define OUTER_TTL 64

/* ---- frames out ---- */

static const struct mg_prefix *mesh_source(const struct mg_port_addrs *pc, uint8_t family)
{
	if (family == 4 && pc->has_ipv4)
		return &pc->ipv4;
	if (family == 6 && pc->has_ipv6)
		return &pc->ipv6;
	return NULL;
}

struct rte_mbuf *mg_hs_frame_alloc(struct mg_control *ctl, uint8_t family, uint16_t payload_len,
                                   uint8_t **payload)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(ctl->gw.ports[MG_PORT_MESH].pool);
	if (!m)
		return NULL;
	unsigned hdr = MG_ETH_HLEN + mg_ip_udp_hlen(family);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hdr + payload_len));
	if (!p) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	*payload = p + hdr;
	return m;
}

static int transmit(struct mg_control *ctl, struct rte_mbuf *m, uint32_t slot, uint16_t len)
{
	const struct mg_port *port = &ctl->gw.ports[MG_PORT_MESH];
	if (!mg_port_control_tx(port, m)) {
		rte_pktmbuf_free(m);
		ctl->stats.tx_failed++;
		return -EBUSY;
	}
	/* wg(8) counts whole WireGuard messages, handshakes included. */
	if (slot < ctl->gw.max_peers && mg_gateway_peer(&ctl->gw, slot)) {
		ctl->ctl_counters[slot].tx_bytes += len;
		ctl->ctl_counters[slot].tx_packets++;
	}
	return 0;
}

int mg_hs_frame_send(struct mg_control *ctl, struct rte_mbuf *m, const struct mg_sockaddr *dst,
                     uint16_t payload_len, uint8_t tclass, uint32_t peer_slot, uint64_t now_ns)
{
	struct mg_gateway *gw = &ctl->gw;
	const struct mg_port_addrs *pc = &mg_gateway_addrs(gw)->ports[MG_PORT_MESH];
	const struct mg_prefix *src = mesh_source(pc, dst->family);
	uint8_t nh[16];

	if (dst->family == MG_FAMILY_RELAY) {
		/* The relay frames the message itself: no outer headers. */
		const uint8_t *payload = rte_pktmbuf_mtod_offset(
		    m, const uint8_t *, rte_pktmbuf_data_len(m) - payload_len);
		int rc = mg_relay_gw_send(ctl, dst, payload, payload_len);
		rte_pktmbuf_free(m);
		if (rc != 0) {
			ctl->stats.tx_failed++;
			return rc;
		}
		if (peer_slot < ctl->gw.max_peers && mg_gateway_peer(&ctl->gw, peer_slot)) {
			ctl->ctl_counters[peer_slot].tx_bytes += payload_len;
			ctl->ctl_counters[peer_slot].tx_packets++;
		}
		return 0;
	}
	if (!src || !mg_neigh_next_hop(pc, dst->family, dst->addr, nh)) {
		rte_pktmbuf_free(m);
		ctl->stats.tx_failed++;
		return -ENETUNREACH;
	}
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	const struct mg_udp_tuple t = {
	    .family = dst->family,
	    .tclass = tclass,
	    .ttl = OUTER_TTL,
	    .ip_id = ctl->ip_id++,
	    .src = src->addr,
	    .dst = dst->addr,
	    .sport = __atomic_load_n(&gw->listen_port, __ATOMIC_RELAXED),
	    .dport = dst->port,
	};
	mg_ip_udp_write(frame + MG_ETH_HLEN, &t, payload_len, true, MG_UDP_CKSUM_SW);

	uint16_t etype = dst->family == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6;
	struct rte_ether_addr mac = {{0}};
	bool known = mg_neigh_lookup(gw->neigh, MG_PORT_MESH, dst->family, nh, &mac);
	mg_eth_write(frame, &mac, &gw->ports[MG_PORT_MESH].mac, etype);
	if (known)
		return transmit(ctl, m, peer_slot, payload_len);

	/* Wait for ARP/ND with the frame complete but for its destination MAC. */
	mg_neigh_resolve(gw, MG_PORT_MESH, dst->family, nh, now_ns);
	if (ctl->n_pending == MG_CTL_PENDING_MAX) {
		rte_pktmbuf_free(ctl->pending[0].m);
		ctl->stats.tx_no_neighbour++;
		memmove(&ctl->pending[0], &ctl->pending[1],
		        (MG_CTL_PENDING_MAX - 1) * sizeof(ctl->pending[0]));
		ctl->n_pending--;
	}
	struct mg_pending_tx *p = &ctl->pending[ctl->n_pending++];
	p->m = m;
	p->since_ns = now_ns;
	p->family = dst->family;
	memcpy(p->nh, nh, sizeof(p->nh));
	p->payload_len = payload_len;
	p->peer_slot = peer_slot;
	return -EAGAIN;
}

unsigned mg_hs_pending_poll(struct mg_control *ctl, uint64_t now_ns)
{
	unsigned kept = 0, sent = 0;
	for (unsigned i = 0; i < ctl->n_pending; i++) {
		struct mg_pending_tx *p = &ctl->pending[i];
		struct rte_ether_addr mac;
		if (mg_neigh_lookup(ctl->gw.neigh, MG_PORT_MESH, p->family, p->nh, &mac)) {
			rte_ether_addr_copy(&mac, rte_pktmbuf_mtod(p->m, struct rte_ether_addr *));
			transmit(ctl, p->m, p->peer_slot, p->payload_len);
			sent++;
		} else if (now_ns - p->since_ns > MG_CTL_PENDING_NS) {
			rte_pktmbuf_free(p->m);
			ctl->stats.tx_no_neighbour++;
		} else {
			ctl->pending[kept++] = *p;
		}
	}
	ctl->n_pending = kept;
	return sent;
}

void mg_hs_pending_clear(struct mg_control *ctl)
{
	for (unsigned i = 0; i < ctl->n_pending; i++)
		rte_pktmbuf_free(ctl->pending[i].m);
	ctl->n_pending = 0;
}

/* Copies msg to a fresh frame for the peer's current endpoint and sends it. */
static int send_to_peer(struct mg_control *ctl, struct mg_peer *peer, const void *msg, uint16_t len,
                        uint64_t now_ns)
{
	struct mg_sockaddr ep;
	uint8_t *payload;
	if (!mg_endpoint_read(&peer->endpoint, &ep)) {
		ctl->stats.tx_failed++;
		return -EDESTADDRREQ;
	}
	struct rte_mbuf *m = mg_hs_frame_alloc(ctl, ep.family, len, &payload);
	if (!m) {
		ctl->stats.tx_failed++;
		return -ENOBUFS;
	}
	memcpy(payload, msg, len);
	return mg_hs_frame_send(ctl, m, &ep, len, 0, peer->slot, now_ns);
}

/* ---- data messages sealed here ---- */

static struct wg_noise_keypair *usable_keypair(struct mg_peer *peer, uint64_t now_ns)
{
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&peer->remote);
	if (!kp ||
	    wg_keypair_may_seal(kp, &peer->timers.d,
	                        atomic_load_explicit(&kp->send_counter, memory_order_relaxed),
	                        now_ns) == WG_KEYPAIR_EXPIRED)
		return NULL;
	return kp;
}

bool mg_hs_has_usable_keypair(struct mg_peer *peer, uint64_t now_ns)
{
	return usable_keypair(peer, now_ns) != NULL;
}

/* Seals len bytes of plain (0: a keepalive) and sends it to the peer's endpoint. */
static int seal_and_send(struct mg_control *ctl, struct mg_peer *peer, struct wg_noise_keypair *kp,
                         const uint8_t *plain, size_t len, uint8_t inner_tclass, uint64_t now_ns)
{
	struct mg_sockaddr ep;
	uint8_t *payload;
	size_t out_len;

	if (!mg_endpoint_read(&peer->endpoint, &ep)) {
		ctl->stats.tx_failed++;
		return -EDESTADDRREQ;
	}
	size_t cap = wg_transport_sealed_len(len, ctl->gw.mtu);
	struct rte_mbuf *m = mg_hs_frame_alloc(ctl, ep.family, (uint16_t)cap, &payload);
	if (!m) {
		ctl->stats.tx_failed++;
		return -ENOBUFS;
	}
	enum wg_result r = wg_transport_seal(kp, plain, len, ctl->gw.mtu, payload, cap, &out_len,
	                                     &peer->timers.d, now_ns);
	if (r != WG_OK && r != WG_OK_REKEY) {
		rte_pktmbuf_free(m);
		ctl->stats.tx_failed++;
		return -EKEYEXPIRED;
	}
	rte_pktmbuf_trim(m, (uint16_t)(cap - out_len));
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now_ns);
	int rc = mg_hs_frame_send(ctl, m, &ep, (uint16_t)out_len, mg_ecn_encap(inner_tclass),
	                          peer->slot, now_ns);
	wg_timers_any_authenticated_packet_sent(&peer->timers);
	if (len)
		wg_timers_data_sent(&peer->timers, now_ns);
	/* The kernel's keep_key_fresh after sending. */
	if (r == WG_OK_REKEY)
		mg_hs_maybe_initiate(ctl, peer, now_ns);
	return rc == -EAGAIN ? 0 : rc;
}

void mg_hs_send_keepalive(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns)
{
	if (peer->n_staged) {
		mg_hs_flush_staged(ctl, peer, now_ns);
		return;
	}
	struct wg_noise_keypair *kp = usable_keypair(peer, now_ns);
	if (!kp) {
		mg_hs_maybe_initiate(ctl, peer, now_ns);
		return;
	}
	if (seal_and_send(ctl, peer, kp, NULL, 0, 0, now_ns) == 0)
		ctl->stats.keepalives_sent++;
}

int mg_hs_send_data(struct mg_control *ctl, struct mg_peer *peer, const uint8_t *ip, size_t len,
                    uint64_t now_ns)
{
	struct mg_l3 l3;
	struct wg_noise_keypair *kp = usable_keypair(peer, now_ns);
	if (!kp)
		return -ENOKEY;
	if (len > ctl->gw.mtu || mg_pkt_parse_ip(ip, (uint32_t)len, &l3) != 0)
		return -EMSGSIZE;
	/* The gateway's own flows (meshctl ping's probe) get their replies past the filter. */
	mg_policy_track_local(&ctl->gw, ip, (uint32_t)len, now_ns, &ctl->ctl_flows);
	return seal_and_send(ctl, peer, kp, ip, len, l3.tclass, now_ns);
}

/* True when the peer's endpoint has a resolved next hop; starts resolution otherwise. */
static bool endpoint_ready(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns)
{
	struct mg_gateway *gw = &ctl->gw;
	struct mg_sockaddr ep;
	struct rte_ether_addr mac;
	uint8_t nh[16];
	const struct mg_port_addrs *mesh = &mg_gateway_addrs(gw)->ports[MG_PORT_MESH];
	if (!mg_endpoint_read(&peer->endpoint, &ep))
		return false;
	if (ep.family == MG_FAMILY_RELAY)
		return true;
	if (!mesh_source(mesh, ep.family) || !mg_neigh_next_hop(mesh, ep.family, ep.addr, nh))
		return false;
	if (mg_neigh_lookup(gw->neigh, MG_PORT_MESH, ep.family, nh, &mac))
		return true;
	mg_neigh_resolve(gw, MG_PORT_MESH, ep.family, nh, now_ns);
	return false;
}

unsigned mg_hs_flush_staged(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns)
{
	unsigned sent = 0;
	if (!peer->n_staged || !usable_keypair(peer, now_ns) || !endpoint_ready(ctl, peer, now_ns))
		return 0;
	for (unsigned i = 0; i < peer->n_staged; i++) {
		struct rte_mbuf *m = peer->staged[i];
		uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);
		uint8_t family = ip[0] >> 4 == 6 ? 6 : 4;
		/* Forwarded into the tunnel: one hop, as the worker's encap counts it. */
		if (mg_ip_dec_ttl(ip, family) &&
		    mg_hs_send_data(ctl, peer, ip, rte_pktmbuf_data_len(m), now_ns) == 0) {
			sent++;
		} else {
			ctl->stats.staged_dropped++;
		}
		rte_pktmbuf_free(m);
	}
	peer->n_staged = 0;
	ctl->stats.staged_sent += sent;
	return sent;
}

void mg_hs_stage(struct mg_control *ctl, struct mg_peer *peer, struct rte_mbuf *m)
{
	if (peer->n_staged == MG_STAGED_MAX) {
		rte_pktmbuf_free(peer->staged[0]);
		memmove(&peer->staged[0], &peer->staged[1],
		        (MG_STAGED_MAX - 1) * sizeof(peer->staged[0]));
		peer->n_staged--;
		ctl->stats.staged_dropped++;
	}
	peer->staged[peer->n_staged++] = m;
}

/* ---- handshake messages out ---- */

void mg_hs_send_initiation(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns)
{
	struct wg_msg_initiation msg;
	rte_spinlock_lock(&peer->hs_lock);
	enum wg_result r = wg_noise_create_initiation(&peer->remote, &msg);
	if (r == WG_OK)
		wg_cookie_add_macs(&peer->cookie, &msg, sizeof(msg), now_ns);
	rte_spinlock_unlock(&peer->hs_lock);
	if (r != WG_OK) {
		ctl->stats.tx_failed++;
		return;
	}
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now_ns);
	wg_timers_any_authenticated_packet_sent(&peer->timers);
	if (send_to_peer(ctl, peer, &msg, sizeof(msg), now_ns) != -EDESTADDRREQ)
		ctl->stats.initiations_sent++;
	wg_timers_handshake_initiated(&peer->timers, now_ns);
	wg_memzero(&msg, sizeof(msg));
}

void mg_hs_maybe_initiate(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns)
{
	if (wg_timers_may_send_initiation(&peer->timers, now_ns, false))
		mg_hs_send_initiation(ctl, peer, now_ns);
}

/* The response to a consumed initiation, the new keypair installed; called with hs_lock held. */
static bool build_response(struct mg_peer *peer, struct wg_msg_response *msg, uint64_t now_ns)
{
	if (wg_noise_create_response(&peer->remote, msg) != WG_OK)
		return false;
	wg_cookie_add_macs(&peer->cookie, msg, sizeof(*msg), now_ns);
	return wg_noise_begin_session(&peer->remote) == WG_OK;
}

/* What follows a built response: the peer's timers and the frame out. */
static void send_response(struct mg_control *ctl, struct mg_peer *peer,
                          const struct wg_msg_response *msg, uint64_t now_ns)
{
	wg_timers_session_derived(&peer->timers, now_ns);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now_ns);
	wg_timers_any_authenticated_packet_sent(&peer->timers);
	wg_timers_handshake_response_sent(&peer->timers, now_ns);
	if (send_to_peer(ctl, peer, msg, sizeof(*msg), now_ns) != -EDESTADDRREQ)
		ctl->stats.responses_sent++;
}

void mg_hs_cookie_built(struct mg_control *ctl, const struct wg_msg_cookie *reply,
                        const struct mg_sockaddr *src, uint64_t now_ns)
{
	uint8_t *payload;
	struct rte_mbuf *m = mg_hs_frame_alloc(ctl, src->family, sizeof(*reply), &payload);
	if (!m) {
		ctl->stats.tx_failed++;
		return;
	}
	memcpy(payload, reply, sizeof(*reply));
	mg_hs_frame_send(ctl, m, src, sizeof(*reply), 0, MG_PUNT_NO_PEER, now_ns);
	ctl->stats.cookies_sent++;
}

static void send_cookie_reply(struct mg_control *ctl, const void *msg, size_t len,
                              const struct mg_sockaddr *src, const struct wg_endpoint *ep,
                              uint64_t now_ns)
{
	struct wg_msg_cookie reply;
	if (wg_cookie_reply_create(&ctl->cookie_checker, &reply, msg, len, ep, now_ns) != WG_OK)
		return;
	mg_hs_cookie_built(ctl, &reply, src, now_ns);
}

/* ---- messages in ---- */

union hs_msg {
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_msg_cookie cookie;
	uint8_t raw[sizeof(struct wg_msg_initiation)];
};

int mg_hs_extract(struct rte_mbuf *m, void *out, size_t cap, size_t *len)
{
	const struct mg_punt_meta *meta = mg_punt_meta(m);
	uint32_t avail = rte_pktmbuf_data_len(m);
	struct mg_l3 l3;
	if (meta->l3_offset >= avail)
		return -1;
	const uint8_t *ip = rte_pktmbuf_mtod_offset(m, const uint8_t *, meta->l3_offset);
	if (mg_pkt_parse_ip(ip, avail - meta->l3_offset, &l3) != 0 || l3.proto != MG_IPPROTO_UDP ||
	    l3.total_len < l3.hdr_len + MG_UDP_HLEN)
		return -1;
	const uint8_t *udp = ip + l3.hdr_len;
	unsigned udp_len = (unsigned)(udp[4] << 8 | udp[5]);
	if (udp_len < MG_UDP_HLEN || udp_len > (unsigned)(l3.total_len - l3.hdr_len) ||
	    udp_len - MG_UDP_HLEN > cap)
		return -1;
	*len = udp_len - MG_UDP_HLEN;
	memcpy(out, udp + MG_UDP_HLEN, *len);
	return 0;
}

/* mac1, and under load mac2 and the rate limit; answers with a cookie when mac2 is due. */
static bool macs_ok(struct mg_control *ctl, const union hs_msg *msg, size_t len,
                    const struct mg_sockaddr *src, uint64_t now_ns)
{
	struct wg_endpoint ep = {.family = src->family, .port = src->port};
	const struct rte_ring *q = ctl->gw.punt_ring;
	memcpy(ep.addr, src->addr, sizeof(ep.addr));
	bool load =
	    mg_hs_load_under(&ctl->hs_load, rte_ring_count(q), rte_ring_get_capacity(q), now_ns);
	switch (wg_cookie_validate(&ctl->cookie_checker, msg->raw, len, &ep, load, now_ns)) {
	case WG_COOKIE_MAC_VALID:
		if (msg->init.header.type == htole32(WG_MSG_HANDSHAKE_INITIATION))
			mg_hs_load_unproven(&ctl->hs_load, now_ns); /* on to the DH */
		return true;
	case WG_COOKIE_MAC_VALID_WITH_COOKIE:
		if (wg_ratelimiter_allow(ctl->ratelimiter, &ep, now_ns))
			return true;
		ctl->stats.hs_ratelimited++;
		return false;
	case WG_COOKIE_NEEDS_COOKIE:
		send_cookie_reply(ctl, msg->raw, len, src, &ep, now_ns);
		return false;
	default:
		ctl->stats.hs_bad_mac++;
		return false;
	}
}

static void received_handshake(struct mg_control *ctl, struct mg_peer *peer, size_t len,
                               const struct mg_sockaddr *src, uint64_t now_ns)
{
	ctl->ctl_counters[peer->slot].rx_bytes += len;
	ctl->ctl_counters[peer->slot].rx_packets++;
	mg_endpoint_write(&peer->endpoint, src);
	wg_timers_any_authenticated_packet_received(&peer->timers);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now_ns);
}

void mg_hs_response_built(struct mg_control *ctl, struct mg_peer *peer,
                          const struct wg_msg_response *resp, size_t rx_len,
                          const struct mg_sockaddr *src, uint64_t now_ns)
{
	received_handshake(ctl, peer, rx_len, src, now_ns);
	send_response(ctl, peer, resp, now_ns);
}

static void input_initiation(struct mg_control *ctl, const union hs_msg *msg, size_t len,
                             const struct mg_sockaddr *src, uint64_t now_ns)
{
	struct wg_noise_remote *remote;
	struct wg_msg_response resp;
	if (!macs_ok(ctl, msg, len, src, now_ns))
		return;
	/* The peer's hs_lock is taken in the lookup (control.c's upcall), held to here. */
	enum wg_result r = wg_noise_consume_initiation(&ctl->gw.local, &msg->init, &remote);
	struct mg_peer *peer = mg_hs_take_found();
	bool ok = r == WG_OK && build_response(peer, &resp, now_ns);
	if (peer)
		rte_spinlock_unlock(&peer->hs_lock);
	if (ok)
		mg_hs_response_built(ctl, peer, &resp, len, src, now_ns);
	else
		ctl->stats.hs_rejected++;
	wg_memzero(&resp, sizeof(resp));
}

struct mg_peer *mg_hs_lock_index_owner(struct mg_control *ctl, uint32_t idx)
{
	struct wg_index_table *index = ctl->gw.index;
	struct wg_noise_remote *remote = wg_index_table_lookup(index, idx, WG_INDEX_HANDSHAKE);
	if (!remote) {
		struct wg_noise_keypair *kp = wg_index_table_lookup(index, idx, WG_INDEX_KEYPAIR);
		remote = kp ? kp->remote : NULL;
	}
	if (!remote)
		return NULL;
	struct mg_peer *peer = mg_peer_of_remote(remote);
	rte_spinlock_lock(&peer->hs_lock);
	struct wg_noise_remote *again = wg_index_table_lookup(index, idx, WG_INDEX_HANDSHAKE);
	if (!again) {
		struct wg_noise_keypair *kp = wg_index_table_lookup(index, idx, WG_INDEX_KEYPAIR);
		again = kp ? kp->remote : NULL;
	}
	if (again != remote) {
		rte_spinlock_unlock(&peer->hs_lock);
		return NULL;
	}
	return peer;
}

static void input_response(struct mg_control *ctl, const union hs_msg *msg, size_t len,
                           const struct mg_sockaddr *src, uint64_t now_ns)
{
	struct wg_noise_remote *remote;
	if (!macs_ok(ctl, msg, len, src, now_ns))
		return;
	struct mg_peer *locked = mg_hs_lock_index_owner(ctl, le32toh(msg->resp.receiver_index));
	if (!locked) {
		ctl->stats.hs_rejected++;
		return;
	}
	enum wg_result r = wg_noise_consume_response(&ctl->gw.local, &msg->resp, &remote);
	if (r == WG_OK)
		r = wg_noise_begin_session(remote);
	rte_spinlock_unlock(&locked->hs_lock);
	if (r != WG_OK) {
		ctl->stats.hs_rejected++;
		return;
	}
	mg_hs_initiator_done(ctl, mg_peer_of_remote(remote), len, src, now_ns);
}

void mg_hs_initiator_done(struct mg_control *ctl, struct mg_peer *peer, size_t rx_len,
                          const struct mg_sockaddr *src, uint64_t now_ns)
{
	received_handshake(ctl, peer, rx_len, src, now_ns);
	uint64_t wall = mg_wall_ns();
	peer->last_handshake_realtime_ns = wall;
	wg_timers_session_derived(&peer->timers, now_ns);
	wg_timers_handshake_complete(&peer->timers, wall);
	/* The responder confirms the keys on our first data message: staged ones or a keepalive. */
	mg_hs_send_keepalive(ctl, peer, now_ns);
}

static void input_cookie(struct mg_control *ctl, const union hs_msg *msg, size_t len,
                         uint64_t now_ns)
{
	/* A reply to our initiation names its handshake; to our response, the new keypair. */
	struct mg_peer *peer = mg_hs_lock_index_owner(ctl, le32toh(msg->cookie.receiver_index));
	bool ok =
	    peer && wg_cookie_consume_reply(&peer->cookie, &msg->cookie, len, now_ns) == WG_OK;
	if (peer)
		rte_spinlock_unlock(&peer->hs_lock);
	if (ok)
		ctl->stats.cookies_taken++;
	else
		ctl->stats.cookies_rejected++;
}

void mg_hs_input(struct mg_control *ctl, struct rte_mbuf *m, uint64_t now_ns)
{
	const struct mg_sockaddr src = mg_punt_meta(m)->src;
	union hs_msg msg;
	size_t len = 0;

	if (mg_hs_extract(m, msg.raw, sizeof(msg.raw), &len) != 0)
		ctl->stats.hs_malformed++;
	else
		mg_hs_input_msg(ctl, msg.raw, len, &src, now_ns);
	wg_memzero(&msg, sizeof(msg));
	rte_pktmbuf_free(m);
}

void mg_hs_input_msg(struct mg_control *ctl, const void *raw, size_t len,
                     const struct mg_sockaddr *from, uint64_t now_ns)
{
	const struct mg_sockaddr src = *from;
	union hs_msg msg;

	if (len > sizeof(msg.raw)) {
		ctl->stats.hs_malformed++;
		return;
	}
	memcpy(msg.raw, raw, len);
	enum wg_message_type type = wg_transport_classify(msg.raw, len);
	if (type >= WG_MSG_HANDSHAKE_INITIATION && type <= WG_MSG_HANDSHAKE_COOKIE)
		ctl->stats.hs_rx[type]++;
	switch (type) {
	case WG_MSG_HANDSHAKE_INITIATION:
		input_initiation(ctl, &msg, len, &src, now_ns);
		break;
	case WG_MSG_HANDSHAKE_RESPONSE:
		input_response(ctl, &msg, len, &src, now_ns);
		break;
	case WG_MSG_HANDSHAKE_COOKIE:
		input_cookie(ctl, &msg, len, now_ns);
		break;
	default:
		ctl->stats.hs_malformed++;
		break;
	}
	wg_memzero(&msg, sizeof(msg));
}
