// SPDX-License-Identifier: GPL-2.0-only
/*
 * Round trips to the relays the gateway is connected to (node/relay_rtt.h), for meshctl
 * netcheck and the metrics: the PINGs leave from the control lcore like every other relay
 * frame, and the connection's recv records the PONGs, so nothing here waits.
 */
#include <jansson.h>

#include "control.h"
#include "nat_gw.h"
#include "relay_client.h"
#include "relay_extra.h"
#include "relay_gw.h"

#define MAX_CONNS (1 + MG_RELAY_EXTRA_MAX)

unsigned mg_relay_rtt_gw_poll(struct mg_control *ctl)
{
	struct mg_relay_gw_conn c[MAX_CONNS];
	size_t n = ctl->relay ? mg_relay_gw_conns(ctl, c, MAX_CONNS) : 0;
	unsigned work = 0;

	for (size_t i = 0; i < n; i++)
		work += (unsigned)mg_relay_client_rtt_tick(c[i].client);
	return work;
}

int64_t mg_relay_rtt_gw_home_us(struct mg_control *ctl)
{
	struct mg_relay_gw_conn c[MAX_CONNS];
	size_t n = ctl->relay ? mg_relay_gw_conns(ctl, c, MAX_CONNS) : 0;

	return n && c[0].home ? mg_relay_client_rtt(c[0].client)->last_us : -1;
}

static json_t *ms_or_null(int64_t us)
{
	return us < 0 ? json_null() : json_real((double)us / 1000.0);
}

json_t *mg_relay_rtt_gw_json(struct mg_control *ctl)
{
	struct mg_relay_gw_conn c[MAX_CONNS];
	size_t n = ctl->relay ? mg_relay_gw_conns(ctl, c, MAX_CONNS) : 0;
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct mg_relay_rtt *r = mg_relay_client_rtt(c[i].client);
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(c[i].name));
		json_object_set_new(o, "home", json_boolean(c[i].home));
		json_object_set_new(o, "rtt_ms", ms_or_null(r->last_us));
		json_object_set_new(o, "rtt_min_ms", ms_or_null(r->min_us));
		json_object_set_new(o, "rtt_smoothed_ms", ms_or_null(r->smoothed_us));
		json_object_set_new(o, "pings", json_integer((json_int_t)r->pings));
		json_object_set_new(o, "pongs", json_integer((json_int_t)r->pongs));
		json_object_set_new(o, "lost", json_integer((json_int_t)r->lost));
		json_array_append_new(a, o);
	}
	return a;
}
