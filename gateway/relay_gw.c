// SPDX-License-Identifier: GPL-2.0-only
#include "relay_gw.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "control.h"
#include "coord_client.h"
#include "device.h"
#include "handshake.h"
#include "keys.h"
#include "log.h"
#include "nat_gw.h"
#include "port_demux.h"
#include "relay_client.h"
#include "relay_extra.h"
#include "relay_home.h"
#include "relay_ring.h"
#include "transport.h"

#define RELAY_CONNECT_TIMEOUT_MS 3000
#define PATH_CHECK_NS            (100ull * 1000 * 1000)
#define RECV_BUDGET              256
/* A handshake sent this recently is still being retried (REKEY_TIMEOUT is 5 s). */
#define RECENT_ATTEMPT_NS (11ull * 1000 * 1000 * 1000)
/* The relay id of the home relay in pseudo addresses; other relays would get others. */
#define HOME_RELAY_ID 0

struct peer_path {
	uint64_t trying_since_ns; /* first direct attempt without a handshake since; 0: none */
	char home[64];            /* the peer's home relay as the map says, "" if none */
};

struct mg_relay_gw {
	struct mg_relay_config cfg;
	/* The choice of home relay and the connection, made on a thread of its own (node/). */
	struct mg_relay_home *home;
	/* Relayed peers' home relays outside our region, which our home relay's mesh cannot
	 * reach (node/relay_extra.h): dialled off the lcore too. */
	struct mg_relay_extras extras;
	char last_name[64]; /* the home relay last connected, for the status of relayed peers */
	uint64_t last_path_check_ns;
	uint64_t now_ns;         /* of the latest poll, for sends from elsewhere on the lcore */
	struct peer_path *paths; /* by slot */
	struct mg_relay_gw_stats st;
};

static struct mg_relay_gw *rg_of(const struct mg_control *ctl)
{
	return ctl->relay;
}

int mg_relay_gw_start(struct mg_control *ctl, char *err, size_t errlen)
{
	const struct mg_relay_config *cfg = &ctl->cfg.relay;
	if (!cfg->enabled)
		return 0;
	struct mg_relay_gw *rg = calloc(1, sizeof(*rg));
	if (rg)
		rg->paths = calloc(ctl->gw.max_peers, sizeof(*rg->paths));
	if (!rg || !rg->paths) {
		if (rg)
			free(rg);
		snprintf(err, errlen, "relay: no memory");
		return -1;
	}
	rg->cfg = *cfg;
	rg->home = mg_relay_home_new(
	    &(struct mg_relay_home_config){
	        .name = cfg->name,
	        .host = cfg->host,
	        .server_name = cfg->server_name,
	        .port = cfg->port,
	        .region = cfg->region,
	        .ca_file = cfg->ca_file,
	        .timeout_ms = RELAY_CONNECT_TIMEOUT_MS,
	    },
	    ctl->gw.local.static_private, err, errlen);
	if (!rg->home) {
		free(rg->paths);
		free(rg);
		return -1;
	}
	mg_relay_extras_init(&rg->extras, rg->home, ctl->gw.local.static_private, 0,
	                     RELAY_CONNECT_TIMEOUT_MS);
	if (mg_relay_rings_create(&ctl->gw) != 0) {
		mg_relay_home_free(rg->home);
		free(rg->paths);
		free(rg);
		snprintf(err, errlen, "relay: cannot create the relay rings");
		return -1;
	}
	ctl->relay = rg;
	return 0;
}

void mg_relay_gw_stop(struct mg_control *ctl)
{
	struct mg_relay_gw *rg = rg_of(ctl);
	if (!rg)
		return;
	/* Waits for dials under way (bounded by their timeout). */
	mg_relay_extras_free(&rg->extras);
	mg_relay_home_free(rg->home);
	mg_relay_rings_free(&ctl->gw);
	free(rg->paths);
	free(rg);
	ctl->relay = NULL;
}

/* ---- the connection ---- */

static struct mg_relay_client *client(const struct mg_relay_gw *rg)
{
	return mg_relay_home_client(rg->home);
}

static void connected(struct mg_control *ctl, struct mg_relay_gw *rg)
{
	const struct mg_netmap_relay *r = mg_relay_home_relay(rg->home);

	snprintf(rg->last_name, sizeof(rg->last_name), "%s", r->name);
	rg->st.connects++;
	/* Peers see it in the map as our home relay. */
	if (ctl->coord)
		mg_coord_client_set_home_relay(ctl->coord, r->name);
}

static void lost(struct mg_control *ctl, struct mg_relay_gw *rg, uint64_t now_ns)
{
	if (ctl->coord)
		mg_coord_client_set_home_relay(ctl->coord, "");
	mg_relay_home_down(rg->home, (int64_t)(now_ns / NS_PER_S),
	                   mg_relay_client_error(client(rg)));
	rg->st.disconnects++;
}

/* A message the relay delivered from key: disco to the disco responder (which checks key
 * against the sender inside), data to a worker, handshakes to the driver. */
static void deliver(struct mg_control *ctl, struct mg_relay_gw *rg, const struct mg_relay_msg *msg,
                    uint64_t now_ns)
{
	if (ctl->nat && mg_demux_is_disco(msg->data, msg->len)) {
		mg_disco_gw_relay_input(ctl, msg->key, msg->data, msg->len, now_ns);
		return;
	}
	struct mg_peer *peer = mg_device_find(ctl, msg->key);
	if (!peer) {
		rg->st.dropped_unknown_key++;
		return;
	}
	const struct mg_sockaddr src = mg_relay_addr(HOME_RELAY_ID, peer->slot);
	enum wg_message_type type = wg_transport_classify(msg->data, msg->len);
	if (type == WG_MSG_DATA) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(ctl->gw.ports[MG_PORT_MESH].pool);
		char *p =
		    m && msg->len <= UINT16_MAX ? rte_pktmbuf_append(m, (uint16_t)msg->len) : NULL;
		if (!p) {
			rte_pktmbuf_free(m);
			rg->st.dropped_in_full++;
			return;
		}
		memcpy(p, msg->data, msg->len);
		if (!mg_relay_in_put(&ctl->gw, m, &src))
			rg->st.dropped_in_full++;
		return;
	}
	if (type == WG_MSG_HANDSHAKE_INITIATION || type == WG_MSG_HANDSHAKE_RESPONSE ||
	    type == WG_MSG_HANDSHAKE_COOKIE) {
		mg_hs_input_msg(ctl, msg->data, msg->len, &src, now_ns);
		return;
	}
	rg->st.dropped_malformed++;
}

/* Where a relayed peer's messages go: its home relay when that is outside our relay mesh,
 * else (and while that connection is still being made) our home relay. A connection to the
 * peer's home relay serves on while ours fails over. */
static struct mg_relay_client *out_for(struct mg_relay_gw *rg, uint32_t slot, uint64_t now_ns)
{
	struct mg_relay_client *c =
	    mg_relay_extras_use(&rg->extras, rg->paths[slot].home, (int64_t)(now_ns / NS_PER_S));
	return c ? c : client(rg);
}

/* What extra connection i delivered; a broken one is closed (dialled again when used). */
static unsigned extra_recv(struct mg_control *ctl, struct mg_relay_gw *rg, size_t i,
                           uint64_t now_ns)
{
	struct mg_relay_extra *x = &rg->extras.x[i];
	int64_t now_s = (int64_t)(now_ns / NS_PER_S);
	struct mg_relay_msg msg;
	unsigned work = 0;
	int rc = 0;

	for (unsigned k = 0; k < RECV_BUDGET; k++) {
		rc = mg_relay_client_recv(x->rc, &msg);
		if (rc <= 0)
			break;
		work++;
		x->last_used = now_s;
		if (msg.type != MG_RELAY_MSG_PACKET)
			continue;
		rg->st.received++;
		deliver(ctl, rg, &msg, now_ns);
	}
	if (rc >= 0 && mg_relay_client_pending(x->rc))
		rc = mg_relay_client_flush(x->rc) < 0 ? -1 : 0;
	if (rc < 0)
		mg_relay_extras_down(&rg->extras, i, now_s);
	return work;
}

/* The extra connections: dials that ended (seen without a system call), then one poll for all
 * connected ones. */
static unsigned pump_extras(struct mg_control *ctl, struct mg_relay_gw *rg, uint64_t now_ns)
{
	struct pollfd pfd[MG_RELAY_EXTRA_MAX];
	size_t idx[MG_RELAY_EXTRA_MAX], n = 0;
	unsigned work = 0;

	for (size_t i = 0; i < MG_RELAY_EXTRA_MAX; i++) {
		struct mg_relay_extra *x = &rg->extras.x[i];

		if (mg_relay_dial_over(&x->dial))
			mg_relay_extras_finish(&rg->extras, i, (int64_t)(now_ns / NS_PER_S));
		if (!x->rc)
			continue;
		pfd[n] = (struct pollfd){.fd = mg_relay_client_fd(x->rc),
		                         .events = mg_relay_client_events(x->rc)};
		idx[n++] = i;
	}
	if (n == 0 || poll(pfd, n, 0) <= 0)
		return 0;
	for (size_t k = 0; k < n; k++)
		if (pfd[k].revents & (POLLIN | POLLOUT | POLLERR | POLLHUP))
			work += extra_recv(ctl, rg, idx[k], now_ns);
	return work;
}

static unsigned pump(struct mg_control *ctl, struct mg_relay_gw *rg, uint64_t now_ns)
{
	struct mg_relay_item items[MG_RELAY_BURST];
	struct mg_relay_msg msg;
	unsigned work = 0, n;
	int rc = 0;

	/* The workers' sealed messages: drained even while down, so the ring never clogs; a
	 * budget per pass, so a flood leaves the timers and the UAPI their turn. */
	while (work < RECV_BUDGET && (n = mg_relay_out_take(&ctl->gw, items, MG_RELAY_BURST)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = items[i].m;
			struct mg_peer *peer = mg_gateway_peer(&ctl->gw, items[i].slot);
			struct mg_relay_client *out =
			    peer ? out_for(rg, items[i].slot, now_ns) : NULL;
			if (!out) {
				rg->st.dropped_down++;
			} else {
				int s = mg_relay_client_send(out, peer->remote.remote_static,
				                             rte_pktmbuf_mtod(m, const void *),
				                             rte_pktmbuf_data_len(m));
				if (s == 0)
					rg->st.sent++;
				else
					rg->st.dropped_queue_full++;
			}
			rte_pktmbuf_free(m);
		}
		work += n;
	}
	work += pump_extras(ctl, rg, now_ns);
	if (!client(rg))
		return work;
	struct mg_relay_client *c = client(rg);
	struct pollfd pfd = {.fd = mg_relay_client_fd(c), .events = mg_relay_client_events(c)};
	if (poll(&pfd, 1, 0) < 0)
		return work;
	if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
		for (unsigned i = 0; i < RECV_BUDGET; i++) {
			rc = mg_relay_client_recv(client(rg), &msg);
			if (rc <= 0)
				break;
			work++;
			if (msg.type != MG_RELAY_MSG_PACKET)
				continue;
			rg->st.received++;
			deliver(ctl, rg, &msg, now_ns);
		}
	}
	if (rc >= 0 && mg_relay_client_pending(client(rg)))
		rc = mg_relay_client_flush(client(rg)) < 0 ? -1 : 0;
	if (rc < 0)
		lost(ctl, rg, now_ns);
	return work;
}

int mg_relay_gw_send(struct mg_control *ctl, const struct mg_sockaddr *dst, const void *payload,
                     uint16_t len)
{
	return mg_relay_gw_send_slot(ctl, mg_relay_addr_slot(dst), payload, len);
}

int mg_relay_gw_send_slot(struct mg_control *ctl, uint32_t slot, const void *payload, size_t len)
{
	struct mg_relay_gw *rg = rg_of(ctl);
	struct mg_peer *peer = mg_gateway_peer(&ctl->gw, slot);
	struct mg_relay_client *out = rg && peer ? out_for(rg, slot, rg->now_ns) : NULL;
	if (!out) {
		if (rg)
			rg->st.dropped_down++;
		return -ENETUNREACH;
	}
	if (mg_relay_client_send(out, peer->remote.remote_static, payload, len) != 0) {
		rg->st.dropped_queue_full++;
		return -ENOBUFS;
	}
	rg->st.sent++;
	return 0;
}

/* ---- path choice ---- */

static void use_relay(struct mg_control *ctl, struct mg_relay_gw *rg, struct mg_peer *peer,
                      const char *why, uint64_t now_ns)
{
	char key[WG_KEY_B64_SIZE];
	const struct mg_sockaddr ep = mg_relay_addr(HOME_RELAY_ID, peer->slot);
	mg_endpoint_write(&peer->endpoint, &ep);
	rg->st.switched_to_relay++;
	wg_key_to_base64(key, peer->remote.remote_static);
	mg_log(MG_LOG_INFO, "relay: peer relayed", "peer", key, "relay", rg->last_name, "why", why,
	       NULL);
	/* Retry the handshake at once through the relay instead of at the next retransmit. */
	if (!mg_hs_has_usable_keypair(peer, now_ns))
		mg_hs_send_initiation(ctl, peer, now_ns);
}

bool mg_relay_gw_relay_peer(struct mg_control *ctl, struct mg_peer *peer, const char *why,
                            uint64_t now_ns)
{
	struct mg_relay_gw *rg = rg_of(ctl);
	struct mg_sockaddr ep;
	if (!rg || !client(rg))
		return false;
	if (mg_endpoint_read(&peer->endpoint, &ep) && ep.family == MG_FAMILY_RELAY)
		return false;
	rg->paths[peer->slot].trying_since_ns = 0;
	use_relay(ctl, rg, peer, why, now_ns);
	return true;
}

static void choose_paths(struct mg_control *ctl, struct mg_relay_gw *rg, uint64_t now_ns)
{
	uint64_t timeout = (uint64_t)rg->cfg.direct_timeout_s * 1000000000ull;
	mg_relay_extras_begin(&rg->extras);
	for (uint32_t slot = 0; slot < ctl->slot_high; slot++) {
		struct mg_peer *peer = mg_gateway_peer(&ctl->gw, slot);
		struct peer_path *pp = &rg->paths[slot];
		struct mg_sockaddr ep;
		if (!peer) {
			pp->trying_since_ns = 0;
			pp->home[0] = '\0';
			continue;
		}
		const struct mg_netmap_peer *np =
		    mg_netmap_find(&ctl->netmap, peer->remote.remote_static);
		snprintf(pp->home, sizeof(pp->home), "%s", np ? np->home_relay : "");
		bool have = mg_endpoint_read(&peer->endpoint, &ep);
		if (have && ep.family == MG_FAMILY_RELAY) {
			pp->trying_since_ns = 0;
			mg_relay_extras_want(&rg->extras, pp->home, (int64_t)(now_ns / NS_PER_S));
			continue;
		}
		if (rg->cfg.force) {
			use_relay(ctl, rg, peer, "force", now_ns);
			continue;
		}
		/* Waiting on a direct handshake: one sent and no keypair from it yet. */
		bool waiting = have && peer->timers.sent_handshake &&
		               now_ns - peer->timers.last_sent_handshake_ns < RECENT_ATTEMPT_NS &&
		               !mg_hs_has_usable_keypair(peer, now_ns);
		if (!waiting) {
			pp->trying_since_ns = 0;
			continue;
		}
		if (!pp->trying_since_ns)
			pp->trying_since_ns = now_ns;
		else if (now_ns - pp->trying_since_ns >= timeout && client(rg))
			use_relay(ctl, rg, peer, "direct_timeout", now_ns);
	}
	mg_relay_extras_end(&rg->extras, (int64_t)(now_ns / NS_PER_S));
}

/* A relay with coordinator admission refuses (and may cache the refusal of) a key the
 * coordinator does not know yet: the first connection waits for the map stream, as the
 * agent's does. */
static bool registered(struct mg_control *ctl, const struct mg_relay_gw *rg)
{
	struct mg_coord_status cs;
	if (!ctl->coord || rg->st.connects)
		return true;
	mg_coord_client_status(ctl->coord, &cs);
	return cs.state == MG_COORD_CLIENT_STREAMING;
}

unsigned mg_relay_gw_poll(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_relay_gw *rg = rg_of(ctl);
	if (!rg)
		return 0;
	rg->now_ns = now_ns;
	/* The connect runs on a thread of its own: here only its start and, without a system
	 * call, its end, so the control lcore never waits on TCP, TLS or the key proof. */
	if (!client(rg)) {
		int64_t now_s = (int64_t)(now_ns / NS_PER_S);

		if (mg_relay_home_dial_over(rg->home)) {
			if (mg_relay_home_finish(rg->home, now_s))
				connected(ctl, rg);
		} else if (registered(ctl, rg)) {
			mg_relay_home_set_key(rg->home, ctl->gw.local.static_private);
			mg_relay_extras_set_key(&rg->extras, ctl->gw.local.static_private);
			mg_relay_home_tick(rg->home, now_s);
		}
	}
	unsigned work = pump(ctl, rg, now_ns);
	if (client(rg) && now_ns - rg->last_path_check_ns >= PATH_CHECK_NS) {
		rg->last_path_check_ns = now_ns;
		choose_paths(ctl, rg, now_ns);
	}
	return work;
}

void mg_relay_gw_set_map(struct mg_control *ctl, const struct mg_netmap_relay *relays, size_t n,
                         uint64_t now_ns)
{
	struct mg_relay_gw *rg = rg_of(ctl);
	if (!rg || !mg_relay_home_set_map(rg->home, relays, n, (int64_t)(now_ns / NS_PER_S)))
		return;
	rg->st.disconnects++;
	if (ctl->coord)
		mg_coord_client_set_home_relay(ctl->coord, "");
}

const char *mg_relay_gw_name(const struct mg_control *ctl, const struct mg_sockaddr *ep)
{
	const struct mg_relay_gw *rg = rg_of(ctl);
	if (!rg || ep->family != MG_FAMILY_RELAY || ep->port != HOME_RELAY_ID)
		return "";
	return rg->last_name;
}

const char *mg_relay_gw_via(const struct mg_control *ctl, uint32_t slot)
{
	const struct mg_relay_gw *rg = rg_of(ctl);
	const struct mg_relay_extra *x;

	if (!rg)
		return NULL;
	x = slot < ctl->gw.max_peers ? mg_relay_extras_find(&rg->extras, rg->paths[slot].home)
	                             : NULL;
	return x ? x->name : rg->last_name;
}

const char *mg_relay_gw_relay(const struct mg_control *ctl)
{
	const struct mg_relay_gw *rg = rg_of(ctl);
	return rg ? rg->last_name : NULL;
}

const char *mg_relay_gw_home(const struct mg_control *ctl)
{
	const struct mg_relay_gw *rg = rg_of(ctl);
	const struct mg_netmap_relay *r = rg ? mg_relay_home_relay(rg->home) : NULL;
	return r ? r->name : NULL;
}

void mg_relay_gw_get_stats(const struct mg_control *ctl, struct mg_relay_gw_stats *st)
{
	const struct mg_relay_gw *rg = rg_of(ctl);
	memset(st, 0, sizeof(*st));
	if (!rg)
		return;
	*st = rg->st;
	st->connected = client(rg) != NULL;
	st->extra_connected = mg_relay_extras_connected(&rg->extras);
	st->extra_connects = rg->extras.connects;
	st->extra_failures = rg->extras.failures;
	st->extra_idle_closes = rg->extras.idle_closes;
}

size_t mg_relay_gw_conns(const struct mg_control *ctl, struct mg_relay_gw_conn *out, size_t max)
{
	const struct mg_relay_gw *rg = rg_of(ctl);
	const struct mg_netmap_relay *r = rg ? mg_relay_home_relay(rg->home) : NULL;
	size_t n = 0;

	if (!rg)
		return 0;
	if (r && client(rg) && n < max)
		out[n++] = (struct mg_relay_gw_conn){r->name, client(rg), true};
	for (size_t i = 0; i < MG_RELAY_EXTRA_MAX && n < max; i++)
		if (rg->extras.x[i].rc)
			out[n++] = (struct mg_relay_gw_conn){rg->extras.x[i].name,
			                                     rg->extras.x[i].rc, false};
	return n;
}
