// SPDX-License-Identifier: GPL-2.0-only
/*
 * The map diff engine's sink for the gateway (netmap_apply.h): each call is one change of one
 * peer, made live on the device while the workers forward. The engine already resolved
 * contested prefixes (allowed_ips, not map_allowed_ips) and orders the calls so a prefix that
 * moves is withdrawn from its old peer before the new one claims it.
 */
#include "device.h"

#include <errno.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "netmap_apply.h"

static void log_peer(enum mg_log_level level, const char *msg, const struct mg_netmap_peer *p,
                     const char *error)
{
	char key[WG_KEY_B64_SIZE];
	if (!mg_log_enabled(level))
		return;
	wg_key_to_base64(key, p->public_key);
	struct mg_log_line l;
	mg_log_begin(&l, level, msg);
	mg_log_str(&l, "peer", key);
	mg_log_str(&l, "name", p->name);
	mg_log_u64(&l, "allowed_ips", p->n_allowed_ips);
	if (p->n_endpoints) {
		char ep[MG_SOCKADDR_STRLEN];
		mg_sockaddr_format(&p->endpoints[0], ep, sizeof(ep));
		mg_log_str(&l, "endpoint", ep);
	}
	if (error)
		mg_log_str(&l, "error", error);
	mg_log_end(&l);
}

static int sink_add(void *ctx, const struct mg_netmap_peer *p)
{
	struct mg_control *ctl = ctx;
	struct mg_peer_config pc;
	char err[256] = "";

	memset(&pc, 0, sizeof(pc));
	memcpy(pc.public_key, p->public_key, WG_KEY_LEN);
	if (p->n_endpoints)
		pc.endpoint = p->endpoints[0];
	/* Read only: add_peer copies the list into the peer. */
	pc.allowed_ips = (struct mg_prefix *)p->allowed_ips;
	pc.n_allowed_ips = p->n_allowed_ips;
	int rc = mg_device_add_peer(ctl, &pc, NULL, err, sizeof(err));
	log_peer(rc ? MG_LOG_WARNING : MG_LOG_INFO, rc ? "map peer not added" : "map peer added", p,
	         rc ? err : NULL);
	return rc;
}

static int sink_update(void *ctx, const struct mg_netmap_peer *old, const struct mg_netmap_peer *p)
{
	struct mg_control *ctl = ctx;
	struct mg_peer *peer = mg_device_find(ctl, p->public_key);
	char err[256] = "";

	if (!peer) {
		log_peer(MG_LOG_WARNING, "map peer not updated", p, "no such peer on the device");
		return -ENOENT;
	}
	int rc = mg_device_sync_allowed_ips(ctl, peer, p->allowed_ips, p->n_allowed_ips, err,
	                                    sizeof(err));
	/* Peers roam to where authenticated packets come from: only a new first endpoint from
	 * the coordinator overrides that. */
	if (p->n_endpoints && (!old->n_endpoints || memcmp(&old->endpoints[0], &p->endpoints[0],
	                                                   sizeof(p->endpoints[0])) != 0))
		mg_device_set_endpoint(ctl, peer, &p->endpoints[0]);
	log_peer(rc ? MG_LOG_WARNING : MG_LOG_DEBUG,
	         rc ? "map peer not updated" : "map peer updated", p, rc ? err : NULL);
	return rc;
}

static int sink_remove(void *ctx, const struct mg_netmap_peer *p)
{
	struct mg_control *ctl = ctx;
	struct mg_peer *peer = mg_device_find(ctl, p->public_key);
	if (peer)
		mg_device_remove_peer(ctl, peer);
	log_peer(MG_LOG_INFO, "map peer removed", p, NULL);
	return 0;
}

static bool has_address(const struct mg_config *cfg, const struct mg_prefix *a)
{
	for (size_t i = 0; i < cfg->n_addresses; i++)
		if (cfg->addresses[i].family == a->family && cfg->addresses[i].len == a->len &&
		    memcmp(cfg->addresses[i].addr, a->addr, 16) == 0)
			return true;
	return false;
}

/* The node's overlay addresses follow the configured ones (cfg stays as the file said). */
static int sink_set_self(void *ctx, const struct mg_netmap_self *old,
                         const struct mg_netmap_self *s)
{
	struct mg_control *ctl = ctx;
	const struct mg_config *cfg = &ctl->cfg;
	struct mg_dp_addrs next = *mg_gateway_addrs(&ctl->gw);
	size_t n = cfg->n_addresses;
	(void)old;

	memcpy(next.addresses, cfg->addresses, n * sizeof(next.addresses[0]));
	for (size_t i = 0; i < s->n_addresses && n < MG_MAX_ADDRESSES; i++)
		if (!has_address(cfg, &s->addresses[i]))
			next.addresses[n++] = s->addresses[i];
	next.n_addresses = n;
	int rc = mg_control_set_addrs(ctl, &next);
	if (rc != 0) {
		mg_log(MG_LOG_WARNING, "overlay addresses from the coordinator not applied",
		       "error", strerror(-rc), NULL);
		return rc;
	}

	char key[WG_KEY_B64_SIZE];
	wg_key_to_base64(key, s->public_key);
	struct mg_log_line l;
	mg_log_begin(&l, MG_LOG_INFO, "overlay addresses from the coordinator");
	mg_log_str(&l, "node", s->name);
	mg_log_str(&l, "key", key);
	for (size_t i = cfg->n_addresses; i < n; i++) {
		char text[MG_PREFIX_STRLEN];
		mg_prefix_format(&next.addresses[i], text, sizeof(text));
		mg_log_str(&l, "address", text);
	}
	mg_log_end(&l);
	return 0;
}

/* The map's filter: compiled here, on the control thread, and swapped in whole. */
static int sink_set_filter(void *ctx, const struct mg_filter *old, const struct mg_filter *f)
{
	struct mg_control *ctl = ctx;
	char err[256];
	(void)old;
	return mg_control_set_filter(ctl, f, MG_FILTER_COORD, err, sizeof(err)) == 0 ? 0 : -EINVAL;
}

const struct mg_netmap_sink mg_device_netmap_sink = {
    .add_peer = sink_add,
    .update_peer = sink_update,
    .remove_peer = sink_remove,
    .set_self = sink_set_self,
    .set_filter = sink_set_filter,
};
