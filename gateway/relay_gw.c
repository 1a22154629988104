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
#include "relay_client.h"
#include "relay_ring.h"
#include "transport.h"

#define RELAY_CONNECT_TIMEOUT_MS 3000
#define BACKOFF_MIN_NS           (1000ull * 1000 * 1000)
#define BACKOFF_MAX_NS           (30ull * 1000 * 1000 * 1000)
#define PATH_CHECK_NS            (100ull * 1000 * 1000)
#define RECV_BUDGET              256
/* A handshake sent this recently is still being retried (REKEY_TIMEOUT is 5 s). */
#define RECENT_ATTEMPT_NS (11ull * 1000 * 1000 * 1000)
/* The relay id of the home relay in pseudo addresses; other relays would get others. */
#define HOME_RELAY_ID 0

struct peer_path {
	uint64_t trying_since_ns; /* first direct attempt without a handshake since; 0: none */
};

struct mg_relay_gw {
	struct mg_gw_relay_config cfg;
	void *tls;
	struct mg_relay_client *client;
	uint64_t next_connect_ns, backoff_ns, last_path_check_ns;
	struct peer_path *paths; /* by slot */
	struct mg_relay_gw_stats st;
};

static struct mg_relay_gw *rg_of(const struct mg_control *ctl)
{
	return ctl->relay;
}

int mg_relay_gw_start(struct mg_control *ctl, char *err, size_t errlen)
{
	const struct mg_gw_relay_config *cfg = &ctl->cfg.relay;
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
	rg->backoff_ns = BACKOFF_MIN_NS;
	rg->tls = mg_relay_tls_ctx_new(cfg->ca_file[0] ? cfg->ca_file : NULL, err, errlen);
	if (!rg->tls) {
		free(rg->paths);
		free(rg);
		return -1;
	}
	if (mg_relay_rings_create(&ctl->gw) != 0) {
		mg_relay_tls_ctx_free(rg->tls);
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
	if (rg->client)
		mg_relay_client_close(rg->client);
	mg_relay_tls_ctx_free(rg->tls);
	mg_relay_rings_free(&ctl->gw);
	free(rg->paths);
	free(rg);
	ctl->relay = NULL;
}

/* ---- the connection ---- */

static void connect_relay(struct mg_control *ctl, struct mg_relay_gw *rg, uint64_t now_ns)
{
	char err[256];
	const struct mg_relay_client_config cc = {
	    .host = rg->cfg.host,
	    .port = rg->cfg.port,
	    .server_name = rg->cfg.server_name[0] ? rg->cfg.server_name : NULL,
	    .tls_ctx = rg->tls,
	    .private_key = ctl->gw.local.static_private,
	    .timeout_ms = RELAY_CONNECT_TIMEOUT_MS,
	};
	rg->client = mg_relay_client_connect(&cc, err, sizeof(err));
	if (!rg->client) {
		mg_log(MG_LOG_WARNING, "relay: connect failed", "relay", rg->cfg.name, "error", err,
		       NULL);
		rg->next_connect_ns = now_ns + rg->backoff_ns;
		rg->backoff_ns =
		    rg->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : rg->backoff_ns * 2;
		return;
	}
	rg->backoff_ns = BACKOFF_MIN_NS;
	rg->st.connects++;
	mg_log(MG_LOG_INFO, "relay: connected", "relay", rg->cfg.name, NULL);
	/* Peers see it in the map as our home relay. */
	if (ctl->coord)
		mg_coord_client_set_home_relay(ctl->coord, rg->cfg.name);
}

static void lost(struct mg_control *ctl, struct mg_relay_gw *rg, uint64_t now_ns)
{
	if (ctl->coord)
		mg_coord_client_set_home_relay(ctl->coord, "");
	mg_log(MG_LOG_WARNING, "relay: connection lost", "relay", rg->cfg.name, "error",
	       mg_relay_client_error(rg->client), NULL);
	mg_relay_client_close(rg->client);
	rg->client = NULL;
	rg->st.disconnects++;
	rg->next_connect_ns = now_ns + rg->backoff_ns;
}

/* A message the relay delivered from key: data to a worker, handshakes to the driver. */
static void deliver(struct mg_control *ctl, struct mg_relay_gw *rg, const struct mg_relay_msg *msg,
                    uint64_t now_ns)
{
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
			if (!rg->client || !peer) {
				rg->st.dropped_down++;
			} else {
				int s = mg_relay_client_send(rg->client, peer->remote.remote_static,
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
	if (!rg->client)
		return work;
	struct pollfd pfd = {.fd = mg_relay_client_fd(rg->client),
	                     .events = mg_relay_client_events(rg->client)};
	if (poll(&pfd, 1, 0) < 0)
		return work;
	if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
		for (unsigned i = 0; i < RECV_BUDGET; i++) {
			rc = mg_relay_client_recv(rg->client, &msg);
			if (rc <= 0)
				break;
			work++;
			if (msg.type != MG_RELAY_MSG_PACKET)
				continue;
			rg->st.received++;
			deliver(ctl, rg, &msg, now_ns);
		}
	}
	if (rc >= 0 && mg_relay_client_pending(rg->client))
		rc = mg_relay_client_flush(rg->client) < 0 ? -1 : 0;
	if (rc < 0)
		lost(ctl, rg, now_ns);
	return work;
}

int mg_relay_gw_send(struct mg_control *ctl, const struct mg_sockaddr *dst, const void *payload,
                     uint16_t len)
{
	struct mg_relay_gw *rg = rg_of(ctl);
	struct mg_peer *peer = mg_gateway_peer(&ctl->gw, mg_relay_addr_slot(dst));
	if (!rg || !rg->client || !peer) {
		if (rg)
			rg->st.dropped_down++;
		return -ENETUNREACH;
	}
	if (mg_relay_client_send(rg->client, peer->remote.remote_static, payload, len) != 0) {
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
	mg_log(MG_LOG_INFO, "relay: peer relayed", "peer", key, "relay", rg->cfg.name, "why", why,
	       NULL);
	/* Retry the handshake at once through the relay instead of at the next retransmit. */
	if (!mg_hs_has_usable_keypair(peer, now_ns))
		mg_hs_send_initiation(ctl, peer, now_ns);
}

static void choose_paths(struct mg_control *ctl, struct mg_relay_gw *rg, uint64_t now_ns)
{
	uint64_t timeout = (uint64_t)rg->cfg.direct_timeout_s * 1000000000ull;
	for (uint32_t slot = 0; slot < ctl->slot_high; slot++) {
		struct mg_peer *peer = mg_gateway_peer(&ctl->gw, slot);
		struct peer_path *pp = &rg->paths[slot];
		struct mg_sockaddr ep;
		if (!peer) {
			pp->trying_since_ns = 0;
			continue;
		}
		bool have = mg_endpoint_read(&peer->endpoint, &ep);
		if (have && ep.family == MG_FAMILY_RELAY) {
			pp->trying_since_ns = 0;
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
		else if (now_ns - pp->trying_since_ns >= timeout && rg->client)
			use_relay(ctl, rg, peer, "direct_timeout", now_ns);
	}
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
	if (!rg->client && now_ns >= rg->next_connect_ns && registered(ctl, rg))
		connect_relay(ctl, rg, now_ns);
	unsigned work = pump(ctl, rg, now_ns);
	if (rg->client && now_ns - rg->last_path_check_ns >= PATH_CHECK_NS) {
		rg->last_path_check_ns = now_ns;
		choose_paths(ctl, rg, now_ns);
	}
	return work;
}

const char *mg_relay_gw_name(const struct mg_control *ctl, const struct mg_sockaddr *ep)
{
	const struct mg_relay_gw *rg = rg_of(ctl);
	if (!rg || ep->family != MG_FAMILY_RELAY || ep->port != HOME_RELAY_ID)
		return "";
	return rg->cfg.name;
}

const char *mg_relay_gw_home(const struct mg_control *ctl)
{
	const struct mg_relay_gw *rg = rg_of(ctl);
	return rg && rg->client ? rg->cfg.name : NULL;
}

void mg_relay_gw_get_stats(const struct mg_control *ctl, struct mg_relay_gw_stats *st)
{
	const struct mg_relay_gw *rg = rg_of(ctl);
	memset(st, 0, sizeof(*st));
	if (!rg)
		return;
	*st = rg->st;
	st->connected = rg->client != NULL;
}
