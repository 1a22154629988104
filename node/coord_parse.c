// SPDX-License-Identifier: GPL-2.0-only
/*
 * The map stream's line parser (coord_client.h: mg_coord_parse_line). Strict: every field this
 * node uses is type-checked and a malformed line is refused as a whole, so the caller never
 * applies half a map; unknown keys are ignored so the server can add fields.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "errbuf.h"
#include "coord_client.h"
#include "filter.h"
#include "keys.h"

static int parse_key(json_t *v, const char *what, uint8_t key[WG_KEY_LEN], char *err, size_t errlen)
{
	const char *s = json_string_value(v);

	if (!s || wg_key_from_base64(key, s, strlen(s), NULL) != WG_KEY_OK)
		return mg_err(err, errlen, "%s: expected a base64 WireGuard key", what);
	return 0;
}

/* An array of at most max prefix strings (absent: empty). */
static int parse_prefixes(json_t *v, const char *what, size_t max, struct mg_prefix *fixed,
                          struct mg_prefix **out, size_t *n, char *err, size_t errlen)
{
	size_t i, count;
	json_t *e;

	*n = 0;
	if (out)
		*out = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v) || (count = json_array_size(v)) > max)
		return mg_err(err, errlen, "%s: expected an array of at most %zu prefixes", what,
		              max);
	if (count == 0)
		return 0;
	if (out) {
		*out = calloc(count, sizeof(**out));
		if (!*out)
			return mg_err(err, errlen, "%s: out of memory", what);
		fixed = *out;
	}
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);

		if (!s || mg_prefix_parse(s, &fixed[i]) != 0) {
			if (out) {
				free(*out);
				*out = NULL;
			}
			return mg_err(err, errlen, "%s[%zu]: expected a prefix like 10.0.0.0/8",
			              what, i);
		}
	}
	*n = count;
	return 0;
}

/* Common fields of a peer and of the self node. */
static int parse_node_fields(json_t *o, const char *what, uint8_t key[WG_KEY_LEN], int64_t *id,
                             char name[MG_NETMAP_NAME_LEN], struct mg_prefix *addrs,
                             size_t *n_addrs, int64_t *expiry, char *err, size_t errlen)
{
	json_t *v;
	char path[64];

	if (!json_is_object(o))
		return mg_err(err, errlen, "%s: expected an object", what);
	snprintf(path, sizeof(path), "%s.key", what);
	if (parse_key(json_object_get(o, "key"), path, key, err, errlen))
		return -1;
	if ((v = json_object_get(o, "id")) && !json_is_integer(v))
		return mg_err(err, errlen, "%s.id: expected an integer", what);
	*id = v ? json_integer_value(v) : 0;
	if ((v = json_object_get(o, "name"))) {
		if (!json_is_string(v))
			return mg_err(err, errlen, "%s.name: expected a string", what);
		snprintf(name, MG_NETMAP_NAME_LEN, "%s", json_string_value(v));
	}
	if ((v = json_object_get(o, "key_expiry")) &&
	    (!json_is_integer(v) || json_integer_value(v) < 0))
		return mg_err(err, errlen, "%s.key_expiry: expected unix seconds", what);
	*expiry = v ? json_integer_value(v) : 0;
	snprintf(path, sizeof(path), "%s.addresses", what);
	return parse_prefixes(json_object_get(o, "addresses"), path, MG_NETMAP_MAX_ADDRS, addrs,
	                      NULL, n_addrs, err, errlen);
}

/* A node may report endpoints we cannot use (a zone, a name): those are skipped. */
static int parse_endpoints(json_t *v, struct mg_sockaddr *out, size_t max, size_t *n)
{
	json_t *e;
	size_t i;

	if (v && !json_is_array(v))
		return -1;
	json_array_foreach(v, i, e)
	{
		struct mg_sockaddr sa;
		bool dup = false;

		if (!json_is_string(e))
			return -1;
		if (*n == max || mg_sockaddr_parse(json_string_value(e), &sa) != 0)
			continue;
		for (size_t k = 0; k < *n; k++)
			dup |= memcmp(&out[k], &sa, sizeof(sa)) == 0;
		if (!dup)
			out[(*n)++] = sa;
	}
	return 0;
}

static int parse_peer(json_t *o, size_t idx, struct mg_netmap_peer *p, char *err, size_t errlen)
{
	char what[48];
	json_t *v;

	memset(p, 0, sizeof(*p));
	snprintf(what, sizeof(what), "peers[%zu]", idx);
	if (parse_node_fields(o, what, p->public_key, &p->id, p->name, p->addresses,
	                      &p->n_addresses, &p->key_expiry, err, errlen))
		return -1;
	if ((v = json_object_get(o, "online")) && !json_is_boolean(v))
		return mg_err(err, errlen, "%s.online: expected true or false", what);
	p->online = v ? json_is_true(v) : true;
	if ((v = json_object_get(o, "home_relay"))) {
		if (!json_is_string(v) || json_string_length(v) >= sizeof(p->home_relay))
			return mg_err(err, errlen, "%s.home_relay: expected a relay name", what);
		snprintf(p->home_relay, sizeof(p->home_relay), "%s", json_string_value(v));
	}
	v = json_object_get(o, "allowed_ips");
	if (!v)
		return mg_err(err, errlen, "%s.allowed_ips: required", what);
	if (parse_prefixes(v, "allowed_ips", 4096, NULL, &p->map_allowed_ips, &p->n_map_allowed_ips,
	                   err, errlen))
		return -1;
	if ((v = json_object_get(o, "nat")) && !json_is_string(v))
		return mg_err(err, errlen, "%s.nat: expected a string", what);
	/* Kinds this node does not know yet count as not hard: probing costs a few pings. */
	p->nat_hard = v && strcmp(json_string_value(v), "hard") == 0;
	if (parse_endpoints(json_object_get(o, "endpoints"), p->endpoints, MG_NETMAP_MAX_ENDPOINTS,
	                    &p->n_endpoints) ||
	    parse_endpoints(json_object_get(o, "stun_endpoints"), p->stun_endpoints,
	                    MG_NETMAP_MAX_STUN_ENDPOINTS, &p->n_stun_endpoints)) {
		mg_netmap_peer_free(p);
		return mg_err(err, errlen,
		              "%s.endpoints/stun_endpoints: expected an array of strings", what);
	}
	return 0;
}

static int parse_self(json_t *o, struct mg_netmap_self *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (parse_node_fields(o, "self", s->public_key, &s->id, s->name, s->addresses,
	                      &s->n_addresses, &s->key_expiry, err, errlen))
		return -1;
	return parse_prefixes(json_object_get(o, "routes"), "self.routes", 4096, NULL, &s->routes,
	                      &s->n_routes, err, errlen);
}

static int parse_peer_array(json_t *arr, const char *what, struct mg_netmap_update *u, char *err,
                            size_t errlen)
{
	size_t i, n;
	json_t *e;

	if (!json_is_array(arr))
		return mg_err(err, errlen, "%s: expected an array", what);
	n = json_array_size(arr);
	u->peers = calloc(n + 1, sizeof(*u->peers));
	if (!u->peers)
		return mg_err(err, errlen, "%s: out of memory", what);
	json_array_foreach(arr, i, e)
	{
		if (parse_peer(e, i, &u->peers[i], err, errlen))
			return -1;
		u->n_peers++;
	}
	return 0;
}

static int parse_seq(json_t *o, uint64_t *seq, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, "seq");

	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return mg_err(err, errlen, "seq: expected a positive integer");
	*seq = (uint64_t)json_integer_value(v);
	return 0;
}

/* An array of strings, each parsed by one (prefix, ports) parser into a growing list. */
static int parse_rule_prefixes(json_t *v, const char *what, bool required, struct mg_filter_rule *r,
                               bool dst, char *err, size_t errlen)
{
	struct mg_prefix **list = dst ? &r->dst : &r->src;
	size_t *n = dst ? &r->n_dst : &r->n_src, i, cap;
	json_t *e;
	char why[128];

	if (!v && !required) /* an older coordinator: "to this node" */
		v = json_pack("[s]", "*");
	else if (!v)
		return mg_err(err, errlen, "%s: required", what);
	else
		json_incref(v);
	if (!v || !json_is_array(v) || json_array_size(v) > MG_FILTER_MAX_PREFIXES) {
		json_decref(v);
		return mg_err(err, errlen, "%s: expected an array of at most %d prefixes", what,
		              MG_FILTER_MAX_PREFIXES);
	}
	cap = 2 * json_array_size(v);
	*list = calloc(cap + 1, sizeof(**list));
	if (!*list) {
		json_decref(v);
		return mg_err(err, errlen, "%s: out of memory", what);
	}
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		size_t got;

		if (!s || mg_filter_parse_prefix(s, *list + *n, &got, why, sizeof(why))) {
			json_decref(v);
			return mg_err(err, errlen, "%s[%zu]: %s", what, i,
			              s ? why : "expected a string");
		}
		*n += got;
	}
	json_decref(v);
	return 0;
}

static int parse_rule(json_t *o, size_t idx, struct mg_filter_rule *r, char *err, size_t errlen)
{
	char what[64], why[128];
	json_t *v, *e;
	size_t i;

	snprintf(what, sizeof(what), "filter[%zu]", idx);
	if (!json_is_object(o))
		return mg_err(err, errlen, "%s: expected an object with src, dst, proto, ports",
		              what);
	snprintf(what, sizeof(what), "filter[%zu].src", idx);
	if (parse_rule_prefixes(json_object_get(o, "src"), what, true, r, false, err, errlen))
		return -1;
	snprintf(what, sizeof(what), "filter[%zu].dst", idx);
	if (parse_rule_prefixes(json_object_get(o, "dst"), what, false, r, true, err, errlen))
		return -1;
	snprintf(what, sizeof(what), "filter[%zu].proto", idx);
	if ((v = json_object_get(o, "proto")) &&
	    (!json_is_string(v) ||
	     mg_filter_parse_proto(json_string_value(v), &r->proto, why, sizeof(why))))
		return mg_err(err, errlen, "%s: %s", what,
		              json_is_string(v) ? why : "expected a string");
	snprintf(what, sizeof(what), "filter[%zu].ports", idx);
	v = json_object_get(o, "ports");
	if (!json_is_array(v) || json_array_size(v) > MG_FILTER_MAX_PORTS)
		return mg_err(err, errlen, "%s: expected an array of at most %d port ranges", what,
		              MG_FILTER_MAX_PORTS);
	r->ports = calloc(json_array_size(v) + 1, sizeof(*r->ports));
	if (!r->ports)
		return mg_err(err, errlen, "%s: out of memory", what);
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);

		if (!s || mg_filter_parse_ports(s, &r->ports[r->n_ports], why, sizeof(why)))
			return mg_err(err, errlen, "%s[%zu]: %s", what, i,
			              s ? why : "expected a string");
		r->n_ports++;
	}
	snprintf(what, sizeof(what), "filter[%zu]", idx);
	if (mg_filter_rule_normalize(r, why, sizeof(why)))
		return mg_err(err, errlen, "%s: %s", what, why);
	return 0;
}

/* The whole filter or nothing: a rule that does not parse refuses the line. */
static int parse_filter(json_t *v, struct mg_netmap_update *u, char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > MG_FILTER_MAX_RULES)
		return mg_err(err, errlen, "filter: expected an array of at most %d rules",
		              MG_FILTER_MAX_RULES);
	u->has_filter = true;
	u->filter.rules = calloc(json_array_size(v) + 1, sizeof(*u->filter.rules));
	if (!u->filter.rules)
		return mg_err(err, errlen, "filter: out of memory");
	json_array_foreach(v, i, e)
	{
		/* Counted before parsing, so a half-parsed rule is freed with the update. */
		u->filter.n_rules++;
		if (parse_rule(e, i, &u->filter.rules[i], err, errlen))
			return -1;
	}
	return 0;
}

static int relay_str(json_t *o, const char *k, bool required, char *dst, size_t len,
                     const char *what, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, k);

	if (!v && !required)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= len)
		return mg_err(err, errlen, "%s.%s: expected a string of 1..%zu characters", what, k,
		              len - 1);
	snprintf(dst, len, "%s", json_string_value(v));
	return 0;
}

/* relay_map: {"regions":[{"code","name","relays":[{"name","host","port","server_name",
 * "stun_port"}]}]} */
static int parse_relay_map(json_t *v, struct mg_netmap_update *u, char *err, size_t errlen)
{
	json_t *regions = json_object_get(v, "regions"), *r, *relays, *e, *port;
	size_t i, j;
	char what[96];

	if (!json_is_array(regions))
		return mg_err(err, errlen, "relay_map.regions: expected an array");
	u->has_relay_map = true;
	u->relays = calloc(MG_NETMAP_MAX_RELAYS, sizeof(*u->relays));
	if (!u->relays)
		return mg_err(err, errlen, "relay_map: out of memory");
	json_array_foreach(regions, i, r)
	{
		char code[64];

		snprintf(what, sizeof(what), "relay_map.regions[%zu]", i);
		if (relay_str(r, "code", true, code, sizeof(code), what, err, errlen))
			return -1;
		relays = json_object_get(r, "relays");
		if (!json_is_array(relays))
			return mg_err(err, errlen, "%s.relays: expected an array", what);
		json_array_foreach(relays, j, e)
		{
			struct mg_netmap_relay *x = &u->relays[u->n_relays];
			json_int_t pv;

			if (u->n_relays == MG_NETMAP_MAX_RELAYS)
				return mg_err(err, errlen, "relay_map: more than %d relays",
				              MG_NETMAP_MAX_RELAYS);
			snprintf(what, sizeof(what), "relay_map.regions[%zu].relays[%zu]", i, j);
			if (relay_str(e, "name", true, x->name, sizeof(x->name), what, err,
			              errlen) ||
			    relay_str(e, "host", true, x->host, sizeof(x->host), what, err,
			              errlen) ||
			    relay_str(e, "server_name", false, x->server_name,
			              sizeof(x->server_name), what, err, errlen))
				return -1;
			port = json_object_get(e, "port");
			pv = port ? json_integer_value(port) : 443;
			if ((port && !json_is_integer(port)) || pv < 1 || pv > 65535)
				return mg_err(err, errlen, "%s.port: expected 1..65535", what);
			x->port = (uint16_t)pv;
			/* Absent (an older coordinator): no STUN there. */
			port = json_object_get(e, "stun_port");
			pv = port ? json_integer_value(port) : 0;
			if ((port && !json_is_integer(port)) || pv < 0 || pv > 65535)
				return mg_err(err, errlen, "%s.stun_port: expected 0..65535", what);
			x->stun_port = (uint16_t)pv;
			snprintf(x->region, sizeof(x->region), "%s", code);
			u->n_relays++;
		}
	}
	return 0;
}

static int parse_map(json_t *o, bool full, struct mg_netmap_update *u, char *err, size_t errlen)
{
	json_t *v, *e;
	size_t i;

	u->kind = full ? MG_NETMAP_FULL : MG_NETMAP_DELTA;
	if (parse_seq(o, &u->seq, err, errlen))
		return -1;
	v = json_object_get(o, "self");
	if (v && !json_is_null(v)) {
		if (parse_self(v, &u->self, err, errlen))
			return -1;
		u->has_self = true;
	}
	if ((v = json_object_get(o, "filter")) && parse_filter(v, u, err, errlen))
		return -1;
	if ((v = json_object_get(o, "relay_map")) && !json_is_null(v) &&
	    parse_relay_map(v, u, err, errlen))
		return -1;
	if (full)
		return parse_peer_array(json_object_get(o, "peers"), "peers", u, err, errlen);
	if ((v = json_object_get(o, "peers_changed")) &&
	    parse_peer_array(v, "peers_changed", u, err, errlen))
		return -1;
	v = json_object_get(o, "peers_removed");
	if (!v)
		return 0;
	if (!json_is_array(v))
		return mg_err(err, errlen, "peers_removed: expected an array of keys");
	u->removed = calloc(json_array_size(v) + 1, WG_KEY_LEN);
	if (!u->removed)
		return mg_err(err, errlen, "peers_removed: out of memory");
	json_array_foreach(v, i, e)
	{
		if (parse_key(e, "peers_removed[]", u->removed[i], err, errlen))
			return -1;
		u->n_removed++;
	}
	return 0;
}

int mg_coord_parse_line(const char *line, size_t len, struct mg_netmap_update *out, char *type_out,
                        size_t type_len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *type;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (type_out && type_len)
		type_out[0] = '\0';
	if (!o)
		return mg_err(err, errlen, "not JSON: %s at column %d", jerr.text, jerr.column);
	type = json_string_value(json_object_get(o, "type"));
	if (!json_is_object(o) || !type) {
		json_decref(o);
		return mg_err(err, errlen, "expected an object with a string 'type'");
	}
	if (type_out && type_len)
		snprintf(type_out, type_len, "%s", type);
	if (strcmp(type, "full") == 0 || strcmp(type, "delta") == 0) {
		rc = parse_map(o, type[0] == 'f', out, err, errlen) == 0 ? 1 : -1;
		if (rc < 0)
			mg_netmap_update_free(out);
	}
	json_decref(o);
	return rc;
}
