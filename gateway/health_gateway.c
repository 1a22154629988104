// SPDX-License-Identifier: GPL-2.0-only
/*
 * The health server's view of the gateway: snapshots through mg_status_collect plus the control
 * thread's own counters, and the ping probe. Everything runs on the control thread, the only
 * writer of peers, so a peer found here stays valid until this call returns; a ping in flight
 * keeps only the slot and key and looks the peer up again on every check.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "device.h"
#include "echo.h"
#include "control.h"
#include "handshake.h"
#include "handshake_lcores.h"
#include "health.h"
#include "nat_gw.h"
#include "keys.h"
#include "pkt.h"
#include "relay_gw.h"
#include "status.h"

#ifndef MG_VERSION
#define MG_VERSION "unknown"
#endif

#define ECHO_PAYLOAD "meshgate ping"
#define ECHO_LEN     (8 + sizeof(ECHO_PAYLOAD) - 1)

struct mg_control_health {
	struct mg_control *ctl;
	struct mg_health_server *server;
	uint64_t start_unix_ns;
	struct mg_status_coord coord;
	bool has_coord;
	uint16_t echo_seq;
};

/* ---- snapshot ---- */

static const char *relay_via(const void *ctx, uint32_t slot)
{
	return mg_relay_gw_via(ctx, slot);
}

/* STUN and disco on the WireGuard port (nat_gw.h); meshctl netcheck has the details. */
static void add_nat_metrics(const struct mg_nat_gw *ng, struct mg_status *st)
{
	uint64_t refused = ng->disco.unknown_sender + ng->disco.relay_mismatch;
	for (int r = 1; r < MG_DISCO_ERR_COUNT; r++)
		refused += ng->self.stats.refused[r];
	mg_status_add_extra(st, "meshgate_stun_rounds_total", "STUN rounds finished.", true,
	                    ng->stun.rounds);
	mg_status_add_extra(st, "meshgate_stun_changes_total",
	                    "STUN results that differed from the previous one.", true,
	                    ng->stun.changes);
	mg_status_add_extra(st, "meshgate_stun_refused_total",
	                    "STUN datagrams that were no awaited answer.", true, ng->stun.refused);
	mg_status_add_extra(st, "meshgate_disco_received_total",
	                    "Disco datagrams on the WireGuard port.", true, ng->disco.received);
	mg_status_add_extra(st, "meshgate_disco_relay_received_total",
	                    "Disco messages that came through the relay.", true,
	                    ng->disco.relay_received);
	mg_status_add_extra(st, "meshgate_disco_pongs_sent_total", "Disco pings answered.", true,
	                    ng->disco.pongs_sent);
	mg_status_add_extra(st, "meshgate_disco_relay_sent_total",
	                    "Disco pings, pongs and call-me-maybe sent through the relay.", true,
	                    ng->disco.relay_pings_sent + ng->disco.relay_pongs_sent +
	                        ng->disco.call_me_maybe_sent);
	mg_status_add_extra(
	    st, "meshgate_disco_refused_total",
	    "Disco messages refused (unknown sender, relay mismatch, forged, replayed...).", true,
	    refused);
	mg_status_add_extra(st, "meshgate_disco_direct_paths_total",
	                    "Direct paths chosen for peers by disco.", true,
	                    ng->disco.paths_direct);
}

/* The relay path's counters (relay_gw.h); only with a relay section. */
static void add_relay_metrics(struct mg_control *ctl, struct mg_status *st)
{
	struct mg_relay_gw_stats r;
	uint64_t relayed = 0;
	mg_relay_gw_get_stats(ctl, &r);
	for (size_t i = 0; i < st->n_peers; i++)
		relayed += strncmp(st->peers[i].path, "relay:", 6) == 0;
	mg_status_add_extra(st, "meshgate_relay_connected", "1 while the home relay is connected.",
	                    false, r.connected);
	mg_status_add_extra(st, "meshgate_relay_peers", "Peers whose path is the relay.", false,
	                    relayed);
	mg_status_add_extra(st, "meshgate_relay_connects_total", "Connections to the home relay.",
	                    true, r.connects);
	mg_status_add_extra(st, "meshgate_relay_messages_sent_total",
	                    "WireGuard messages handed to the relay.", true, r.sent);
	mg_status_add_extra(st, "meshgate_relay_messages_received_total",
	                    "WireGuard messages the relay delivered.", true, r.received);
	mg_status_add_extra(st, "meshgate_relay_dropped_unknown_key_total",
	                    "Relayed messages from keys that are no peer.", true,
	                    r.dropped_unknown_key);
	mg_status_add_extra(st, "meshgate_relay_dropped_malformed_total",
	                    "Relayed messages that are no WireGuard message.", true,
	                    r.dropped_malformed);
	mg_status_add_extra(st, "meshgate_relay_dropped_queue_full_total",
	                    "Messages the relay connection's queue refused.", true,
	                    r.dropped_queue_full);
	mg_status_add_extra(st, "meshgate_relay_dropped_down_total",
	                    "Messages for the relay while it was not connected.", true,
	                    r.dropped_down);
	mg_status_add_extra(st, "meshgate_relay_dropped_in_full_total",
	                    "Relayed data messages the ring to the worker refused.", true,
	                    r.dropped_in_full);
	int64_t rtt = mg_relay_rtt_gw_home_us(ctl);
	if (rtt >= 0)
		mg_status_add_extra(st, "meshgate_relay_home_rtt_microseconds",
		                    "The last round trip (PING/PONG) to the home relay.", false,
		                    (uint64_t)rtt);
	mg_status_add_extra(st, "meshgate_relay_extra_connected",
	                    "Connections to peers' home relays outside our region.", false,
	                    r.extra_connected);
	mg_status_add_extra(st, "meshgate_relay_extra_connects_total",
	                    "Connections made to peers' home relays outside our region.", true,
	                    r.extra_connects);
	mg_status_add_extra(st, "meshgate_relay_extra_idle_closes_total",
	                    "Connections to peers' home relays closed for idleness.", true,
	                    r.extra_idle_closes);
}

#define EXTRA(name, help, field) mg_status_add_extra(st, name, help, true, ctl->stats.field)

static int health_snapshot(void *vctx, struct mg_status *st)
{
	struct mg_control_health *h = vctx;
	struct mg_control *ctl = h->ctl;
	struct mg_status_sources src = {
	    .version = MG_VERSION,
	    .ifname = ctl->cfg.ifname,
	    .coordinator_url = ctl->cfg.coord.url,
	    .start_unix_ns = h->start_unix_ns,
	    .coord = h->has_coord ? &h->coord : NULL,
	    .ctl_counters = ctl->ctl_counters,
	    .slot_high = ctl->slot_high,
	    .filter_source = ctl->filter_source == MG_FILTER_COORD    ? "coordinator"
	                     : ctl->filter_source == MG_FILTER_CONFIG ? "config"
	                                                              : NULL,
	    .filter_rules = ctl->filter.n_rules,
	    .filter_installed_unix_ns = ctl->filter_installed_ns,
	    .filter_changes = ctl->stats.filter_changes,
	    .filter_errors = ctl->stats.filter_errors,
	    .ctl_flows = &ctl->ctl_flows,
	    .relay_name = mg_relay_gw_relay(ctl),
	    .relay_home = mg_relay_gw_home(ctl),
	    .relay_via = relay_via,
	    .relay_ctx = ctl,
	};
	int rc = mg_status_collect(&ctl->gw, &src, st);
	if (rc != 0)
		return rc;
	/* Initiations answered on handshake lcores count with the control lcore's. */
	struct mg_hs_lcore_stats hs;
	mg_hs_lcores_stats(ctl, &hs);
	mg_status_add_extra(st, "meshgate_handshake_initiations_received_total",
	                    "Handshake initiations taken from the workers.", true,
	                    ctl->stats.hs_rx[1] + hs.initiations);
	EXTRA("meshgate_handshake_responses_received_total",
	      "Handshake responses taken from the workers.", hs_rx[2]);
	EXTRA("meshgate_handshake_cookie_replies_received_total",
	      "Cookie replies taken from the workers.", hs_rx[3]);
	mg_status_add_extra(st, "meshgate_handshake_malformed_total",
	                    "Handshake frames with broken framing.", true,
	                    ctl->stats.hs_malformed + hs.malformed);
	mg_status_add_extra(st, "meshgate_handshake_bad_mac_total",
	                    "Handshake messages with a wrong mac1.", true,
	                    ctl->stats.hs_bad_mac + hs.bad_mac);
	mg_status_add_extra(st, "meshgate_handshake_rejected_total",
	                    "Handshake messages Noise refused.", true,
	                    ctl->stats.hs_rejected + hs.rejected);
	mg_status_add_extra(st, "meshgate_handshake_ratelimited_total",
	                    "Handshake messages over the rate limit.", true,
	                    ctl->stats.hs_ratelimited + hs.ratelimited);
	mg_status_add_extra(st, "meshgate_handshake_lcore_handshakes_total",
	                    "Initiations answered on handshake lcores (lcores.handshake).", true,
	                    hs.handshakes);
	EXTRA("meshgate_handshake_initiations_sent_total", "Handshake initiations sent.",
	      initiations_sent);
	EXTRA("meshgate_handshake_responses_sent_total", "Handshake responses sent.",
	      responses_sent);
	EXTRA("meshgate_cookie_replies_sent_total", "Cookie replies sent under load.",
	      cookies_sent);
	EXTRA("meshgate_keepalives_sent_total", "Keepalives sent by the control thread.",
	      keepalives_sent);
	EXTRA("meshgate_control_tx_failed_total", "Control-thread frames that could not be sent.",
	      tx_failed);
	EXTRA("meshgate_staged_dropped_packets_total",
	      "Packets dropped while waiting for a handshake.", staged_dropped);
	EXTRA("meshgate_echo_replies_sent_total", "ICMP echo replies from the gateway's addresses.",
	      echo_replies);
	EXTRA("meshgate_local_dropped_packets_total",
	      "Packets to the gateway's own addresses not answered.", local_dropped);
	mg_status_add_extra(st, "meshgate_peer_slots", "Peer slots available.", false,
	                    ctl->gw.max_peers);
	if (ctl->relay)
		add_relay_metrics(ctl, st);
	if (ctl->nat)
		add_nat_metrics(ctl->nat, st);
	return 0;
}

/* ---- netcheck ---- */

static json_t *health_netcheck(void *vctx)
{
	struct mg_control_health *h = vctx;
	return mg_nat_gw_json(h->ctl);
}

/* ---- filter ---- */

static json_t *health_filter(void *vctx)
{
	struct mg_control_health *h = vctx;
	struct mg_control *ctl = h->ctl;
	struct mg_status st;
	char line[1024];

	mg_status_init(&st);
	if (health_snapshot(vctx, &st) != 0) {
		mg_status_free(&st);
		return NULL;
	}
	json_t *o = mg_status_filter_json(&st);
	json_t *rules = json_array();
	for (size_t i = 0; i < ctl->filter.n_rules; i++) {
		mg_filter_rule_format(&ctl->filter.rules[i], line, sizeof(line));
		json_array_append_new(rules, json_string(line));
	}
	json_object_set_new(o, "rule_text", rules);
	json_t *peers = json_array();
	for (size_t i = 0; i < st.n_peers; i++) {
		json_t *p = json_object();
		json_object_set_new(p, "public_key", json_string(st.peers[i].public_key));
		json_object_set_new(p, "policy_drops",
		                    json_integer((json_int_t)st.peers[i].policy_drops));
		json_array_append_new(peers, p);
	}
	json_object_set_new(o, "peers", peers);
	mg_status_free(&st);
	return o;
}

/* ---- ping ---- */

/* The peer the data plane would send a packet for a to: the allowed-IPs table's answer. */
static struct mg_peer *peer_by_addr(struct mg_control *ctl, const struct mg_prefix *a)
{
	uint32_t slot = mg_allowedips_lookup(ctl->gw.allowedips, a->family, a->addr);
	return slot == MG_ALLOWEDIPS_NO_PEER ? NULL : mg_gateway_peer(&ctl->gw, slot);
}

/* The overlay address to ping: the one asked for, else the peer's first host route for which
 * the gateway has an address of the same family. */
static bool echo_target(const struct mg_control *ctl, const struct mg_peer *peer,
                        const struct mg_prefix *asked, struct mg_prefix *dst, struct mg_prefix *src)
{
	for (size_t i = 0; i < (asked ? 1 : peer->n_allowed_ips); i++) {
		const struct mg_prefix *d = asked ? asked : &peer->allowed_ips[i];
		if (d->len != (d->family == 4 ? 32 : 128))
			continue;
		const struct mg_dp_addrs *own = mg_gateway_addrs(&ctl->gw);
		for (size_t j = 0; j < own->n_addresses; j++)
			if (own->addresses[j].family == d->family) {
				*dst = *d;
				*src = own->addresses[j];
				return true;
			}
	}
	return false;
}

static int health_ping_start(void *vctx, const char *arg, struct mg_health_ping *p, char *err,
                             size_t errlen)
{
	struct mg_control_health *h = vctx;
	struct mg_control *ctl = h->ctl;
	struct mg_peer *peer = NULL;
	struct mg_prefix asked, dst, src;
	bool by_addr = false;
	uint8_t pub[WG_KEY_LEN];

	if (strlen(arg) == WG_KEY_B64_LEN &&
	    wg_key_from_base64(pub, arg, WG_KEY_B64_LEN, NULL) == WG_KEY_OK) {
		peer = mg_device_find(ctl, pub);
		if (!peer) {
			snprintf(err, errlen, "no peer with public key %s", arg);
			return -ENOENT;
		}
	} else if (!strchr(arg, '/') && mg_prefix_parse(arg, &asked) == 0) {
		by_addr = true;
		peer = peer_by_addr(ctl, &asked);
		if (!peer) {
			snprintf(err, errlen, "no peer's allowed IPs contain %s", arg);
			return -ENOENT;
		}
	} else {
		snprintf(err, errlen, "'%s' is neither a base64 public key nor an IP address", arg);
		return -ENOENT;
	}
	struct mg_sockaddr ep;
	wg_key_to_base64(p->peer, peer->remote.remote_static);
	if (!mg_endpoint_read(&peer->endpoint, &ep)) {
		snprintf(err, errlen, "peer %s has no endpoint to send to", p->peer);
		return -EHOSTUNREACH;
	}
	uint64_t now = mg_mono_ns();
	p->slot = peer->slot;
	p->sent_ns = now;
	uint64_t data_rx;
	mg_peer_rx_times(&ctl->gw, peer, &p->base_rx_ns, &data_rx);
	p->base_hs_ns = peer->last_handshake_realtime_ns;
	if (!mg_hs_has_usable_keypair(peer, now)) {
		/* No session: the keepalive becomes a handshake, whose answer we time instead. */
		mg_hs_send_keepalive(ctl, peer, now);
		snprintf(p->probe, sizeof(p->probe), "handshake");
		return 0;
	}
	mg_hs_send_keepalive(ctl, peer, now);
	snprintf(p->probe, sizeof(p->probe), "keepalive");
	if (echo_target(ctl, peer, by_addr ? &asked : NULL, &dst, &src)) {
		uint8_t pkt[MG_ECHO_IP_HLEN_MAX + ECHO_LEN];
		size_t len = mg_echo_request_build(pkt, dst.family, src.addr, dst.addr,
		                                   (uint16_t)(0x4d47 ^ p->slot), ++h->echo_seq,
		                                   ECHO_PAYLOAD, sizeof(ECHO_PAYLOAD) - 1);
		if (mg_hs_send_data(ctl, peer, pkt, len, now) == 0)
			snprintf(p->probe, sizeof(p->probe), "keepalive+echo");
	}
	return 0;
}

static int health_ping_poll(void *vctx, struct mg_health_ping *p, uint64_t now_ns)
{
	struct mg_control_health *h = vctx;
	struct mg_peer *peer = mg_gateway_peer(&h->ctl->gw, p->slot);
	char key[WG_KEY_B64_SIZE];
	if (!peer)
		return -ENOENT;
	wg_key_to_base64(key, peer->remote.remote_static);
	if (strcmp(key, p->peer) != 0)
		return -ENOENT;
	uint64_t rx, data_rx;
	mg_peer_rx_times(&h->ctl->gw, peer, &rx, &data_rx);
	uint64_t now = mg_mono_ns();
	(void)now_ns; /* the health clock; the workers stamp packets with mg_mono_ns's */
	if (rx != p->base_rx_ns && rx > p->sent_ns) {
		p->rtt_ns = rx - p->sent_ns;
		snprintf(p->via, sizeof(p->via), "data");
		return 1;
	}
	if (peer->last_handshake_realtime_ns != p->base_hs_ns) {
		p->rtt_ns = now > p->sent_ns ? now - p->sent_ns : 0;
		snprintf(p->via, sizeof(p->via), "handshake");
		return 1;
	}
	return 0;
}

/* ---- life cycle ---- */

int mg_control_health_start(struct mg_control *ctl, const char *metrics_listen,
                            struct mg_control_health **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!ctl->cfg.health_socket[0])
		return 0;
	struct mg_control_health *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "health socket: out of memory");
		return -ENOMEM;
	}
	h->ctl = ctl;
	h->start_unix_ns = mg_wall_ns();
	const struct mg_health_ops ops = {
	    .ctx = h,
	    .snapshot = health_snapshot,
	    .filter = health_filter,
	    .netcheck = health_netcheck,
	    .ping_start = health_ping_start,
	    .ping_poll = health_ping_poll,
	};
	const struct mg_health_config hc = {
	    .socket_path = ctl->cfg.health_socket,
	    .metrics_listen = metrics_listen,
	};
	int rc = mg_health_start(&h->server, &hc, &ops, err, errlen);
	if (rc != 0) {
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

unsigned mg_control_health_poll(struct mg_control_health *h, int timeout_ms)
{
	return h ? mg_health_poll(h->server, timeout_ms) : 0;
}

void mg_control_health_stop(struct mg_control_health *h)
{
	if (!h)
		return;
	mg_health_stop(h->server);
	free(h);
}

void mg_control_health_set_coord(struct mg_control_health *h, const struct mg_status_coord *c)
{
	if (!h)
		return;
	h->coord = *c;
	h->has_coord = true;
}
