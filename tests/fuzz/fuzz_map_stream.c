// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: the node's side of the map stream. Each input is split at '\n' into lines, as
 * the coordinator client reads them; every line goes through mg_coord_parse_line and each map
 * it yields through mg_netmap_apply, starting from an empty state, into a sink that keeps its
 * own copy of what it was told.
 *
 * Invariants per line:
 *  - the parser answers -1, 0 or 1; on -1 the error is a terminated, non-empty message, on 0
 *    the update is empty, on 1 every key is a valid public key, every list within its bound,
 *    every prefix of a known family with a length within its width;
 *  - the apply answers 0, -EPROTO, -EINVAL or -ENOMEM; -EPROTO only for a delta before a full
 *    map or out of sequence, and then nothing changed (same sequence number, same peer set);
 *  - after every apply the sink holds exactly the engine's applied peer set (keys and allowed
 *    IPs), the applied set is sorted by key, and no prefix is applied to two peers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_client.h"
#include "fuzz_driver.h"
#include "keys.h"
#include "netmap_apply.h"

#define MAX_MODEL 256

struct model_peer {
	uint8_t key[WG_KEY_LEN];
	struct mg_prefix *allowed;
	size_t n_allowed;
};

struct model {
	struct model_peer peers[MAX_MODEL];
	size_t n;
	bool overflow;
};

static struct model_peer *model_find(struct model *m, const uint8_t *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (memcmp(m->peers[i].key, key, WG_KEY_LEN) == 0)
			return &m->peers[i];
	return NULL;
}

static void model_set(struct model_peer *mp, const struct mg_netmap_peer *p)
{
	free(mp->allowed);
	memcpy(mp->key, p->public_key, WG_KEY_LEN);
	mp->n_allowed = p->n_allowed_ips;
	mp->allowed = p->n_allowed_ips ? malloc(p->n_allowed_ips * sizeof(*mp->allowed)) : NULL;
	if (mp->allowed)
		memcpy(mp->allowed, p->allowed_ips, p->n_allowed_ips * sizeof(*mp->allowed));
	else
		mp->n_allowed = 0;
}

static int sink_add(void *ctx, const struct mg_netmap_peer *p)
{
	struct model *m = ctx;

	FUZZ_CHECK(!model_find(m, p->public_key), "add of a peer the sink already has");
	;
	if (m->n == MAX_MODEL) {
		m->overflow = true;
		return -ENOSPC; /* a sink that is full: the engine must not count the peer applied
		                 */
	}
	m->peers[m->n].allowed = NULL;
	model_set(&m->peers[m->n++], p);
	return 0;
}

static int sink_update(void *ctx, const struct mg_netmap_peer *old_peer,
                       const struct mg_netmap_peer *new_peer)
{
	struct model *m = ctx;
	struct model_peer *mp = model_find(m, old_peer->public_key);

	FUZZ_CHECK(mp != NULL, "update of a peer the sink does not have");
	;
	FUZZ_CHECK(memcmp(old_peer->public_key, new_peer->public_key, WG_KEY_LEN) == 0,
	           "update changes the key");
	;
	model_set(mp, new_peer);
	return 0;
}

static int sink_remove(void *ctx, const struct mg_netmap_peer *p)
{
	struct model *m = ctx;
	struct model_peer *mp = model_find(m, p->public_key);

	FUZZ_CHECK(mp != NULL, "remove of a peer the sink does not have");
	;
	free(mp->allowed);
	*mp = m->peers[--m->n];
	return 0;
}

static const struct mg_netmap_sink sink = {
    .add_peer = sink_add,
    .update_peer = sink_update,
    .remove_peer = sink_remove,
};

static bool prefix_valid(const struct mg_prefix *p)
{
	return (p->family == 4 && p->len <= 32) || (p->family == 6 && p->len <= 128);
}

static bool is_own(const struct mg_netmap_peer *p, const struct mg_prefix *q)
{
	for (size_t a = 0; a < p->n_addresses; a++)
		if (mg_prefix_cmp(&p->addresses[a], q) == 0)
			return true;
	return false;
}

static void check_update(const struct mg_netmap_update *u)
{
	FUZZ_CHECK(u->kind == MG_NETMAP_FULL || u->kind == MG_NETMAP_DELTA, "invariant");
	FUZZ_CHECK(u->n_removed == 0 || u->kind == MG_NETMAP_DELTA, "removals in a full map");
	;
	for (size_t i = 0; i < u->n_peers; i++) {
		const struct mg_netmap_peer *p = &u->peers[i];

		FUZZ_CHECK(p->n_addresses <= MG_NETMAP_MAX_ADDRS, "invariant");
		FUZZ_CHECK(p->n_endpoints <= MG_NETMAP_MAX_ENDPOINTS, "invariant");
		FUZZ_CHECK(memchr(p->name, '\0', sizeof(p->name)) != NULL, "name not terminated");
		;
		for (size_t j = 0; j < p->n_addresses; j++)
			FUZZ_CHECK(prefix_valid(&p->addresses[j]), "invariant");
		for (size_t j = 0; j < p->n_map_allowed_ips; j++)
			FUZZ_CHECK(prefix_valid(&p->map_allowed_ips[j]), "invariant");
		for (size_t j = 0; j < p->n_endpoints; j++)
			FUZZ_CHECK(p->endpoints[j].family == 4 || p->endpoints[j].family == 6,
			           "invariant");
	}
	if (u->has_self)
		for (size_t j = 0; j < u->self.n_routes; j++)
			FUZZ_CHECK(prefix_valid(&u->self.routes[j]), "invariant");
	/* A parsed filter is in normal form: valid prefixes without host bits, none inside the
	 * one before it, port ranges ascending and apart; and the matcher takes it. */
	FUZZ_CHECK(u->has_filter || u->filter.n_rules == 0, "a filter without has_filter");
	for (size_t i = 0; i < u->filter.n_rules; i++) {
		const struct mg_filter_rule *r = &u->filter.rules[i];
		const struct mg_prefix *lists[2] = {r->src, r->dst};
		size_t counts[2] = {r->n_src, r->n_dst};

		FUZZ_CHECK(r->proto <= MG_FILTER_ICMP, "invariant");
		for (int l = 0; l < 2; l++)
			for (size_t j = 0; j < counts[l]; j++) {
				FUZZ_CHECK(prefix_valid(&lists[l][j]) &&
				               !mg_prefix_has_host_bits(&lists[l][j]),
				           "filter prefix not normal");
				FUZZ_CHECK(j == 0 ||
				               mg_prefix_cmp(&lists[l][j - 1], &lists[l][j]) < 0,
				           "filter prefixes not sorted");
			}
		for (size_t j = 1; j < r->n_ports; j++)
			FUZZ_CHECK(r->ports[j - 1].hi + 1 < r->ports[j].lo, "ports not merged");
		for (size_t j = 0; j < r->n_ports; j++)
			FUZZ_CHECK(r->ports[j].lo <= r->ports[j].hi, "invariant");
	}
	struct mg_filter_packet pk = {.family = 4, .proto = 6, .dport = 22};
	(void)mg_filter_match(&u->filter, &pk);
	pk.family = 6;
	pk.proto = 58;
	(void)mg_filter_match(&u->filter, &pk);
}

static void check_consistent(const struct mg_netmap_state *st, const struct model *m)
{
	if (m->overflow)
		return;
	FUZZ_CHECK(st->n_peers == m->n, "engine applied %zu peers, sink has %zu", st->n_peers,
	           m->n);
	;
	for (size_t i = 0; i < st->n_peers; i++) {
		const struct mg_netmap_peer *p = &st->peers[i];
		const struct model_peer *mp = model_find((struct model *)m, p->public_key);

		if (i > 0)
			FUZZ_CHECK(memcmp(st->peers[i - 1].public_key, p->public_key, WG_KEY_LEN) <
			               0,
			           "applied peers not sorted by key");
		;
		FUZZ_CHECK(mp != NULL, "applied peer missing from the sink");
		;
		FUZZ_CHECK(mp->n_allowed == p->n_allowed_ips, "allowed IPs differ from the sink's");
		;
		FUZZ_CHECK(p->n_allowed_ips == 0 ||
		               memcmp(mp->allowed, p->allowed_ips,
		                      p->n_allowed_ips * sizeof(*mp->allowed)) == 0,
		           "allowed IPs differ from the sink's");
		;
		/*
		 * A peer's own overlay address, applied as an exact prefix, stays with that peer
		 * (unless the other claims the same address as its own too), and this node's own
		 * addresses go to no peer: a route must not capture them. Broader routes may
		 * cover them; the longest match then still picks the exact prefix.
		 */
		for (size_t b = 0; b < p->n_allowed_ips; b++) {
			for (size_t j = 0; j < st->n_peers; j++)
				for (size_t a = 0; j != i && a < st->peers[j].n_addresses; a++)
					FUZZ_CHECK(
					    mg_prefix_cmp(&p->allowed_ips[b],
					                  &st->peers[j].addresses[a]) != 0 ||
					        is_own(p, &p->allowed_ips[b]),
					    "another peer's own address routed to this peer");
			for (size_t a = 0; st->has_self && a < st->self.n_addresses; a++)
				FUZZ_CHECK(
				    mg_prefix_cmp(&p->allowed_ips[b], &st->self.addresses[a]) != 0,
				    "this node's own address routed to a peer");
		}
		/* No prefix routes to two peers: a second claimant must lose it. */
		for (size_t j = 0; j < i; j++)
			for (size_t a = 0; a < p->n_allowed_ips; a++)
				for (size_t b = 0; b < st->peers[j].n_allowed_ips; b++)
					FUZZ_CHECK(mg_prefix_cmp(&p->allowed_ips[a],
					                         &st->peers[j].allowed_ips[b]) != 0,
					           "one prefix applied to two peers");
		;
	}
}

static void one_line(struct mg_netmap_state *st, struct model *m, const char *line, size_t len)
{
	struct mg_netmap_update u;
	char type[32], err[256];
	uint64_t seq = st->seq;
	size_t n_before = st->n_peers;
	int rc, arc;

	err[0] = '\0';
	rc = mg_coord_parse_line(line, len, &u, type, sizeof(type), err, sizeof(err));
	FUZZ_CHECK(rc >= -1 && rc <= 1, "invariant");
	if (rc < 0) {
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)), "no error message");
		;
		fuzz_outcome("parse-error");
		return;
	}
	if (rc == 0) {
		FUZZ_CHECK(u.n_peers == 0 && u.n_removed == 0 && !u.has_self, "invariant");
		fuzz_outcome("no-map");
		return;
	}
	check_update(&u);
	arc = mg_netmap_apply(st, &u, 1700000000, &sink, m);
	FUZZ_CHECK(arc == 0 || arc == -EPROTO || arc == -EINVAL || arc == -ENOMEM, "apply: %d",
	           arc);
	;
	if (arc == -EPROTO) {
		FUZZ_CHECK(u.kind == MG_NETMAP_DELTA, "a full map refused as out of sequence");
		;
		FUZZ_CHECK(st->seq == seq && st->n_peers == n_before,
		           "a refused delta changed state");
		;
	}
	fuzz_outcome(arc == 0         ? (u.kind == MG_NETMAP_FULL ? "full" : "delta")
	             : arc == -EPROTO ? "out-of-sequence"
	                              : "apply-refused");
	check_consistent(st, m);
	mg_netmap_update_free(&u);
}

int fuzz_one(const uint8_t *data, size_t len)
{
	struct mg_netmap_state st;
	struct model m = {.n = 0};
	size_t start = 0;

	mg_netmap_state_init(&st);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && data[i] != '\n')
			continue;
		if (i > start)
			one_line(&st, &m, (const char *)data + start, i - start);
		start = i + 1;
	}
	mg_netmap_state_free(&st);
	for (size_t i = 0; i < m.n; i++)
		free(m.peers[i].allowed);
	return 0;
}

static void key_b64(char out[WG_KEY_B64_SIZE], uint8_t fill)
{
	uint8_t k[WG_KEY_LEN];

	memset(k, fill, sizeof(k));
	k[31] &= 0x7f;
	wg_key_to_base64(out, k);
}

int fuzz_init(void)
{
	char a[WG_KEY_B64_SIZE], b[WG_KEY_B64_SIZE], c[WG_KEY_B64_SIZE], buf[2048];
	static const char *const tokens[] = {
	    "\"type\"",
	    "\"full\"",
	    "\"delta\"",
	    "\"seq\"",
	    "\"self\"",
	    "\"peers\"",
	    "\"peers_changed\"",
	    "\"peers_removed\"",
	    "\"filter\"",
	    "\"key\"",
	    "\"addresses\"",
	    "\"allowed_ips\"",
	    "\"endpoints\"",
	    "\"online\"",
	    "\"key_expiry\"",
	    "\"0.0.0.0/0\"",
	    "\"::/0\"",
	    "\"100.64.0.1/32\"",
	    "\"10.1.0.0/16\"",
	    "\"heartbeat\"",
	    "\"src\"",
	    "\"dst\"",
	    "\"proto\"",
	    "\"ports\"",
	    "\"tcp\"",
	    "\"icmp\"",
	    "\"*\"",
	    "\"1-65535\"",
	    "true",
	    "null",
	    "18446744073709551615",
	};
	struct mg_netmap_state st;
	struct model m = {.n = 0};
	int n;

	key_b64(a, 0x11);
	key_b64(b, 0x22);
	key_b64(c, 0x33);
	n = snprintf(
	    buf, sizeof(buf),
	    "{\"type\":\"full\",\"seq\":1,\"self\":{\"key\":\"%s\",\"id\":1,\"name\":\"gw\","
	    "\"addresses\":[\"100.64.0.1/32\"],\"routes\":[\"10.1.0.0/16\"]},"
	    "\"peers\":[{\"key\":\"%s\",\"id\":2,\"name\":\"b\",\"addresses\":"
	    "[\"100.64.0.2/32\",\"fd7a:115c:a1e0::2/128\"],\"allowed_ips\":"
	    "[\"100.64.0.2/32\",\"fd7a:115c:a1e0::2/128\",\"10.2.0.0/16\"],\"endpoints\":"
	    "[\"192.0.2.2:51820\"],\"online\":true,\"key_expiry\":0}],\"filter\":[]}\n"
	    "{\"type\":\"delta\",\"seq\":2,\"peers_changed\":[{\"key\":\"%s\",\"id\":3,"
	    "\"name\":\"c\",\"addresses\":[\"100.64.0.3/32\"],\"allowed_ips\":"
	    "[\"100.64.0.3/32\",\"10.2.0.0/16\"],\"endpoints\":[\"[2001:db8::3]:51820\"],"
	    "\"online\":false,\"key_expiry\":0}],\"filter\":[{\"src\":[\"100.64.0.2/32\","
	    "\"10.2.0.0/16\"],\"dst\":[\"100.64.0.1/32\",\"10.1.0.0/16\"],\"proto\":\"tcp\","
	    "\"ports\":[\"22\",\"8000-8100\"]},{\"src\":[\"*\"],\"proto\":\"icmp\","
	    "\"ports\":[\"*\"]}]}\n"
	    "{\"type\":\"heartbeat\"}\n"
	    "{\"type\":\"delta\",\"seq\":3,\"peers_removed\":[\"%s\"]}\n",
	    a, b, c, b);
	if (n <= 0 || (size_t)n >= sizeof(buf))
		return 1;
	/* The seed must take the accepting path: both peers applied, then one removed. */
	mg_netmap_state_init(&st);
	for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		struct mg_netmap_update u;
		char type[32], err[256];

		if (mg_coord_parse_line(line, (size_t)(nl - line), &u, type, sizeof(type), err,
		                        sizeof(err)) == 1) {
			if (mg_netmap_apply(&st, &u, 1700000000, &sink, &m) != 0) {
				fprintf(stderr, "fuzz_map_stream: seed refused\n");
				return 1;
			}
			mg_netmap_update_free(&u);
		}
	}
	if (st.n_peers != 1 || st.seq != 3) {
		fprintf(stderr, "fuzz_map_stream: seed gave %zu peers at seq %llu\n", st.n_peers,
		        (unsigned long long)st.seq);
		return 1;
	}
	mg_netmap_state_free(&st);
	for (size_t i = 0; i < m.n; i++)
		free(m.peers[i].allowed);
	fuzz_seed_add("stream", buf, (size_t)n);
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add_str(tokens[i]);
	fuzz_token_add_str(a);
	fuzz_token_add_str(b);
	fuzz_set_max_len(8192);
	return 0;
}
