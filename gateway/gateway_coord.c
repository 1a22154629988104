// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway in coordinated mode: the coordinator client (coord_client.c) runs its own thread
 * and queues each map update; the control loop takes them here, between bursts of its other
 * work, and the diff engine (netmap_apply.c) turns each into peer operations on the device
 * (device.c's mg_device_netmap_sink). Nothing here blocks: while the coordinator is unreachable
 * the last map simply stays in force, apart from keys that expire on our own clock.
 */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coord_client.h"
#include "crypto.h"
#include "device.h"
#include "health.h"
#include "log.h"
#include "nat_gw.h"
#include "relay_gw.h"
#include "status.h"

#ifndef MG_VERSION
#define MG_VERSION "unknown"
#endif

#define TICK_NS (1000ull * 1000 * 1000)

size_t mg_control_self_endpoints(const struct mg_config *cfg, struct mg_sockaddr *out)
{
	const struct mg_port_config *mesh = &cfg->ports[MG_PORT_MESH];
	size_t n = 0;
	if (cfg->coord.n_endpoints) {
		memcpy(out, cfg->coord.endpoints, cfg->coord.n_endpoints * sizeof(*out));
		return cfg->coord.n_endpoints;
	}
	if (mesh->has_ipv4) {
		out[n] = (struct mg_sockaddr){.family = 4, .port = cfg->listen_port};
		memcpy(out[n++].addr, mesh->ipv4.addr, 4);
	}
	if (mesh->has_ipv6) {
		out[n] = (struct mg_sockaddr){.family = 6, .port = cfg->listen_port};
		memcpy(out[n++].addr, mesh->ipv6.addr, 16);
	}
	return n;
}

/* The routes offered: the configured ones, else the LAN port's subnets; default routes too
 * for an exit node. */
static size_t report_routes(const struct mg_config *cfg, struct mg_prefix *out)
{
	const struct mg_port_config *lan = &cfg->ports[MG_PORT_LAN];
	size_t n = 0;
	if (cfg->coord.advertise_routes_set) {
		memcpy(out, cfg->coord.advertise_routes,
		       cfg->coord.n_advertise_routes * sizeof(*out));
		n = cfg->coord.n_advertise_routes;
	} else {
		if (lan->has_ipv4)
			out[n++] = lan->ipv4;
		if (lan->has_ipv6)
			out[n++] = lan->ipv6;
	}
	for (size_t i = 0; i < n; i++)
		mg_prefix_mask(&out[i]);
	if (cfg->coord.exit_node && n + 2 <= MG_MAX_ADVERTISED_ROUTES) {
		out[n++] = (struct mg_prefix){.family = 4, .len = 0};
		out[n++] = (struct mg_prefix){.family = 6, .len = 0};
	}
	return n;
}

int mg_control_coord_start(struct mg_control *ctl, char *err, size_t errlen)
{
	const struct mg_config *cfg = &ctl->cfg;
	struct mg_coord_client_config cc;

	if (!cfg->coord.url[0])
		return 0;
	memset(&cc, 0, sizeof(cc));
	cc.coord = cfg->coord;
	memcpy(cc.private_key, cfg->private_key, WG_KEY_LEN);
	cc.version = "meshgate " MG_VERSION;
	cc.n_endpoints = mg_control_self_endpoints(cfg, cc.endpoints);
	cc.n_routes = report_routes(cfg, cc.routes);
	ctl->coord = mg_coord_client_new(&cc, err, errlen);
	wg_memzero(cc.private_key, sizeof(cc.private_key));
	if (!ctl->coord)
		return -1;
	if (mg_coord_client_start(ctl->coord) != 0) {
		snprintf(err, errlen, "cannot start the coordinator client thread");
		return -1;
	}
	mg_log(MG_LOG_NOTICE, "coordinated mode", "url", cfg->coord.url, NULL);
	return 0;
}

/* The client's state in the health socket's terms. */
static void report_status(struct mg_control *ctl)
{
	struct mg_coord_status cs;
	mg_coord_client_status(ctl->coord, &cs);
	struct mg_status_coord hc = {
	    .state = cs.state == MG_COORD_CLIENT_STREAMING ? MG_COORD_SYNCED
	             : cs.state == MG_COORD_CLIENT_BACKOFF ? MG_COORD_RETRYING
	                                                   : MG_COORD_CONNECTING,
	    .last_seq = cs.seq,
	    .last_sync_unix_ns =
	        cs.last_line_unix > 0 ? (uint64_t)cs.last_line_unix * 1000000000ull : 0,
	};
	/* The client's message may be longer than the status keeps: cut it. */
	snprintf(hc.error, sizeof(hc.error), "%.*s", (int)sizeof(hc.error) - 1, cs.last_error);
	mg_control_health_set_coord(ctl->health, &hc);
}

unsigned mg_control_coord_poll(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_coord_event *ev;
	unsigned n = 0;

	if (!ctl->coord)
		return 0;
	while ((ev = mg_coord_client_next(ctl->coord))) {
		if (ev->kind == MG_COORD_EV_MAP && ev->update.has_relay_map) {
			mg_relay_gw_set_map(ctl, ev->update.relays, ev->update.n_relays, now_ns);
			mg_stun_gw_set_map(ctl, ev->update.relays, ev->update.n_relays);
		}
		int rc = ev->kind == MG_COORD_EV_MAP
		             ? mg_netmap_apply(&ctl->netmap, &ev->update, (int64_t)time(NULL),
		                               &mg_device_netmap_sink, ctl)
		             : mg_netmap_clear(&ctl->netmap, &mg_device_netmap_sink, ctl);
		if (rc == -EPROTO || rc == -EINVAL)
			mg_coord_client_resync(ctl->coord);
		if (rc != 0)
			mg_log(MG_LOG_WARNING, "map update not applied", "error", strerror(-rc),
			       NULL);
		else if (ev->kind == MG_COORD_EV_LOGGED_OUT)
			mg_log(MG_LOG_WARNING, "logged out by the coordinator: peers dropped",
			       NULL);
		mg_coord_event_free(ev);
		n++;
	}
	if (n || now_ns - ctl->last_coord_tick_ns >= TICK_NS) {
		if (now_ns - ctl->last_coord_tick_ns >= TICK_NS) {
			ctl->last_coord_tick_ns = now_ns;
			/* Keys expire on our clock too, coordinator reachable or not. */
			mg_netmap_expire(&ctl->netmap, (int64_t)time(NULL), &mg_device_netmap_sink,
			                 ctl);
		}
		report_status(ctl);
	}
	return n;
}

void mg_control_coord_stop(struct mg_control *ctl)
{
	mg_coord_client_free(ctl->coord);
	ctl->coord = NULL;
	mg_netmap_state_free(&ctl->netmap);
}
