// SPDX-License-Identifier: GPL-2.0-only
/*
 * `meshctl netcheck` on the gateway: what its STUN client, disco responder and relay round trips
 * (relay_rtt_gw.c) know, as one JSON object built on the control thread (the health socket's
 * ops run there, so ctl->nat is read where it is written).
 */
#include <jansson.h>

#include "control.h"
#include "nat_gw.h"
#include "relay_gw.h"

static json_t *ep_json(const struct mg_sockaddr *a)
{
	char s[MG_SOCKADDR_STRLEN];
	mg_sockaddr_format(a, s, sizeof(s));
	return json_string(s);
}

static json_t *stun_json(const struct mg_nat_gw *ng, uint64_t now_ns)
{
	const struct mg_stun_gw_result *r = &ng->last;
	json_t *o = json_object(), *servers = json_array(), *eps = json_array();
	json_object_set_new(o, "enabled", json_boolean(ng->cfg.enabled));
	json_object_set_new(o, "servers_from", json_string(ng->map ? "relay_map" : "config"));
	for (size_t i = 0; i < ng->cfg.n_servers; i++) {
		json_t *s = json_object();
		json_object_set_new(s, "server", ep_json(&ng->cfg.servers[i]));
		json_object_set_new(s, "rtt_ms",
		                    r->valid && r->rtt_ms[i] >= 0 ? json_integer(r->rtt_ms[i])
		                                                  : json_null());
		json_array_append_new(servers, s);
	}
	json_object_set_new(o, "servers", servers);
	for (size_t i = 0; r->valid && i < r->n_mapped; i++)
		json_array_append_new(eps, ep_json(&r->mapped[i]));
	json_object_set_new(o, "endpoints", eps);
	json_object_set_new(o, "nat", r->valid ? json_string(r->nat) : json_null());
	json_object_set_new(o, "last_round_age_seconds",
	                    r->valid ? json_real((double)(now_ns - r->at_ns) / 1e9) : json_null());
	json_object_set_new(o, "rounds", json_integer((json_int_t)ng->stun.rounds));
	json_object_set_new(o, "changes", json_integer((json_int_t)ng->stun.changes));
	json_object_set_new(o, "requests_sent", json_integer((json_int_t)ng->stun.requests_sent));
	json_object_set_new(o, "send_failed", json_integer((json_int_t)ng->stun.send_failed));
	json_object_set_new(o, "answers", json_integer((json_int_t)ng->stun.answers));
	json_object_set_new(o, "refused", json_integer((json_int_t)ng->stun.refused));
	return o;
}

static json_t *disco_json(const struct mg_nat_gw *ng)
{
	const struct mg_disco_gw_stats *d = &ng->disco;
	json_t *o = json_object(), *refused = json_object();
	json_object_set_new(o, "received", json_integer((json_int_t)d->received));
	json_object_set_new(o, "opened", json_integer((json_int_t)ng->self.stats.opened));
	json_object_set_new(o, "pings", json_integer((json_int_t)d->pings));
	json_object_set_new(o, "pongs_sent", json_integer((json_int_t)d->pongs_sent));
	json_object_set_new(o, "pongs_received", json_integer((json_int_t)d->pongs_received));
	json_object_set_new(o, "call_me_maybe", json_integer((json_int_t)d->call_me_maybe));
	json_object_set_new(o, "pings_sent", json_integer((json_int_t)d->pings_sent));
	json_object_set_new(o, "paths_direct", json_integer((json_int_t)d->paths_direct));
	json_object_set_new(o, "paths_lost", json_integer((json_int_t)d->paths_lost));
	json_object_set_new(o, "paths_relayed", json_integer((json_int_t)d->paths_relayed));
	json_object_set_new(o, "send_failed", json_integer((json_int_t)d->send_failed));
	json_t *rl = json_object();
	json_object_set_new(rl, "received", json_integer((json_int_t)d->relay_received));
	json_object_set_new(rl, "pings_sent", json_integer((json_int_t)d->relay_pings_sent));
	json_object_set_new(rl, "pongs_sent", json_integer((json_int_t)d->relay_pongs_sent));
	json_object_set_new(rl, "call_me_maybe_sent",
	                    json_integer((json_int_t)d->call_me_maybe_sent));
	json_object_set_new(o, "relay", rl);
	json_object_set_new(refused, "unknown_sender", json_integer((json_int_t)d->unknown_sender));
	json_object_set_new(refused, "relay_mismatch", json_integer((json_int_t)d->relay_mismatch));
	json_object_set_new(refused, "no_memory", json_integer((json_int_t)d->no_memory));
	for (int r = 1; r < MG_DISCO_ERR_COUNT; r++)
		json_object_set_new(refused, mg_disco_result_str((enum mg_disco_result)r),
		                    json_integer((json_int_t)ng->self.stats.refused[r]));
	json_object_set_new(o, "refused", refused);
	return o;
}

json_t *mg_nat_gw_json(struct mg_control *ctl)
{
	const struct mg_nat_gw *ng = ctl->nat;
	if (!ng)
		return NULL;
	json_t *o = json_object();
	json_object_set_new(o, "listen_port",
	                    json_integer(__atomic_load_n(&ctl->gw.listen_port, __ATOMIC_RELAXED)));
	json_object_set_new(o, "stun", stun_json(ng, mg_control_now(ctl)));
	json_object_set_new(o, "disco", disco_json(ng));
	const char *relay = mg_relay_gw_relay(ctl), *home = mg_relay_gw_home(ctl);
	json_t *rl = json_object();
	json_object_set_new(rl, "relay", relay ? json_string(relay) : json_null());
	json_object_set_new(rl, "connected", json_boolean(home != NULL));
	/* From the last pong through the relay: disco pings it only for peers it relays. */
	json_object_set_new(rl, "rtt_ms",
	                    ng->relay_rtt_at_ns ? json_real((double)ng->relay_rtt_us / 1000.0)
	                                        : json_null());
	json_object_set_new(rl, "relays", mg_relay_rtt_gw_json(ctl));
	json_object_set_new(o, "relay", rl);
	return o;
}
