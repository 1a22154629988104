// SPDX-License-Identifier: GPL-2.0-only
/* Start-up, the timer (expiry, heartbeats, ephemeral clean-up) and change propagation. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "coord.h"
#include "addr_guard.h"
#include "crypto.h"
#include "db.h"
#include "keys.h"
#include "log.h"
#include "policy.h"
#include "relay_map.h"
#include "server_key.h"

bool coord_user_exists(void *ctx, const char *name)
{
	struct coord *c = ctx;
	int64_t id;
	return db_user_find(c->store, name, &id);
}

static void announce(struct coord *c, const char *what, int64_t id)
{
	char payload[96];
	snprintf(payload, sizeof(payload), "%s %s %lld", c->replica_id, what, (long long)id);
	store_notify(c->store, payload);
}

/*
 * A stream lives only as long as the credential that opened it: after a re-registration (on this
 * replica or another) a stolen old credential must stop receiving peer keys and endpoints.
 */
static void end_stale_stream(struct coord *c, int64_t id)
{
	struct map_session *s = netmap_session(c->nm, id);
	if (s == NULL || s->cred_prefix[0] == '\0')
		return;
	int64_t owner = 0;
	char hash[TOKEN_HASH_HEX_LEN + 1];
	if (db_node_find_by_cred(c->store, s->cred_prefix, &owner, hash) && owner == id)
		return;
	mg_logf(MG_LOG_INFO, "node %lld: ending the stream opened with a replaced credential %s", (long long)id,
	         s->cred_prefix);
	netmap_close_node(c->nm, id, "{\"type\":\"reconnect\"}\n");
}

static void apply_node(struct coord *c, int64_t id)
{
	struct node_info n;
	if (db_node_load(c->store, id, &n)) {
		if (!netmap_upsert(c->nm, &n))
			mg_logf(MG_LOG_ERROR, "out of memory updating node %lld", (long long)id);
		node_info_clear(&n);
		end_stale_stream(c, id);
	} else {
		netmap_remove(c->nm, id);
	}
}

void coord_node_changed(struct coord *c, int64_t id)
{
	apply_node(c, id);
	announce(c, "node", id);
}

void coord_node_deleted(struct coord *c, int64_t id)
{
	netmap_remove(c->nm, id);
	coord_ephemeral_cancel(c, id);
	announce(c, "node", id);
}

/* Identity of a node for policy matching; tags points into n->tags (valid while n is). */
static void node_identity(const struct node_info *n, struct identity *id, const char **buf,
                          size_t max)
{
	size_t k = json_array_size(n->tags);
	if (k > max)
		k = max;
	for (size_t i = 0; i < k; i++)
		buf[i] = json_string_value(json_array_get(n->tags, i));
	id->user = k > 0 ? NULL : n->user;
	id->tags = (char *const *)buf;
	id->ntags = k;
}

bool coord_route_hits_overlay(const struct coord *c, const char *route)
{
	struct mg_prefix p;
	char err[128];
	return route == NULL || !prefix_parse(route, &p, false, err, sizeof(err)) ||
	       route_hits_overlay(&p, &c->cfg.prefix_v4, &c->cfg.prefix_v6);
}

static bool json_list_has(json_t *list, json_t *v)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		if (json_equal(e, v))
			return true;
	}
	return false;
}

json_t *coord_approved_routes(struct coord *c, const struct node_info *n, json_t *advertised,
                              json_t **autos)
{
	const char *tags[64];
	struct identity id;
	node_identity(n, &id, tags, 64);
	json_t *old_auto = db_node_get_auto(c->store, n->id), *out = json_array();
	*autos = json_array();
	size_t i;
	json_t *r;
	/* Manual approvals stay; an older version could have approved an overlay route. */
	json_array_foreach(n->routes_approved, i, r)
	{
		if (!json_list_has(old_auto, r) &&
		    !coord_route_hits_overlay(c, json_string_value(r)))
			json_array_append(out, r);
	}
	json_array_foreach(advertised, i, r)
	{
		struct mg_prefix p;
		char err[128];
		if (coord_route_hits_overlay(c, json_string_value(r)) || json_list_has(out, r) ||
		    !prefix_parse(json_string_value(r), &p, false, err, sizeof(err)))
			continue;
		if (policy_route_auto_approved(netmap_policy(c->nm), &p, &id)) {
			json_array_append(out, r);
			json_array_append(*autos, r);
		}
	}
	json_decref(old_auto);
	return out;
}

struct id_list {
	int64_t *ids;
	size_t n, cap;
};

static void collect_id(void *ctx, const struct node_info *n)
{
	struct id_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		int64_t *p = realloc(l->ids, cap * sizeof(*p));
		if (p == NULL)
			return;
		l->ids = p;
		l->cap = cap;
	}
	l->ids[l->n++] = n->id;
}

void coord_auto_approve_all(struct coord *c)
{
	struct id_list l = {0};
	netmap_foreach(c->nm, collect_id, &l);
	for (size_t i = 0; i < l.n; i++) {
		const struct node_info *n = netmap_node(c->nm, l.ids[i]);
		if (n == NULL || (json_array_size(n->routes_advertised) == 0 &&
		                  json_array_size(n->routes_approved) == 0))
			continue;
		json_t *autos = NULL;
		json_t *approved = coord_approved_routes(c, n, n->routes_advertised, &autos);
		if (approved != NULL && !json_equal(approved, n->routes_approved)) {
			char *s = json_dumps(approved, JSON_COMPACT);
			char *a = json_dumps(autos, JSON_COMPACT);
			if (s != NULL && a != NULL &&
			    db_node_set_approved(c->store, l.ids[i], s) == STORE_OK &&
			    db_node_set_auto(c->store, l.ids[i], a) == STORE_OK)
				coord_node_changed(c, l.ids[i]);
			free(s);
			free(a);
		}
		json_decref(approved);
		json_decref(autos);
	}
	free(l.ids);
}

bool coord_policy_reload(struct coord *c, bool announce_it)
{
	char *body = NULL, format[8];
	int64_t version = 0;
	if (!db_policy_get(c->store, &body, format, &version))
		return true; /* none stored: the default stays */
	char err[512];
	struct policy *p =
	    policy_parse(body, strlen(body), format, coord_user_exists, c, err, sizeof(err));
	free(body);
	if (p == NULL) {
		mg_logf(MG_LOG_ERROR, "stored policy version %lld does not validate: %s; keeping the old one",
		          (long long)version, err);
		return false;
	}
	p->version = version;
	c->policy_version = version;
	netmap_set_policy(c->nm, p);
	coord_auto_approve_all(c);
	if (announce_it)
		announce(c, "policy", version);
	return true;
}

void coord_ephemeral_cancel(struct coord *c, int64_t id)
{
	for (size_t i = 0; i < c->neph; i++)
		if (c->eph[i].id == id) {
			c->eph[i] = c->eph[--c->neph];
			return;
		}
}

static void ephemeral_queue(struct coord *c, int64_t id, int64_t since)
{
	coord_ephemeral_cancel(c, id);
	if (c->neph == c->eph_cap) {
		size_t cap = c->eph_cap ? c->eph_cap * 2 : 16;
		struct eph_entry *e = realloc(c->eph, cap * sizeof(*e));
		if (e == NULL)
			return;
		c->eph = e;
		c->eph_cap = cap;
	}
	c->eph[c->neph++] = (struct eph_entry){id, since};
}

void coord_node_offline(struct coord *c, int64_t id)
{
	int64_t now = now_unix();
	if (db_node_set_online(c->store, id, false, now) == STORE_OK)
		coord_node_changed(c, id);
	const struct node_info *n = netmap_node(c->nm, id);
	if (n != NULL && n->ephemeral)
		ephemeral_queue(c, id, now);
}

static void ephemeral_sweep(struct coord *c, int64_t now)
{
	for (size_t i = 0; i < c->neph;) {
		struct eph_entry e = c->eph[i];
		if (now - e.offline_since < c->cfg.ephemeral_grace) {
			i++;
			continue;
		}
		c->eph[i] = c->eph[--c->neph];
		const struct node_info *n = netmap_node(c->nm, e.id);
		if (n == NULL || n->online)
			continue;
		mg_logf(MG_LOG_INFO, "removing ephemeral node %lld (%s), offline for %llds", (long long)e.id,
		         n->name, (long long)(now - e.offline_since));
		if (db_node_delete(c->store, e.id) == STORE_OK)
			coord_node_deleted(c, e.id);
	}
}

static void *timer_main(void *arg)
{
	struct coord *c = arg;
	int64_t last_beat = now_unix(), last_expire = 0;
	while (!atomic_load(&c->stop)) {
		usleep(100 * 1000);
		int64_t now = now_unix();
		pthread_mutex_lock(&c->lock);
		if (now != last_expire) {
			netmap_expire(c->nm, now);
			ephemeral_sweep(c, now);
			last_expire = now;
		}
		if (now - last_beat >= c->cfg.heartbeat) {
			netmap_heartbeat(c->nm, now);
			last_beat = now;
		}
		netmap_flush(c->nm);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

struct resync_ctx {
	struct coord *c;
	struct id_list seen;
};

static void resync_node(void *ctx, struct node_info *n)
{
	struct resync_ctx *r = ctx;
	netmap_upsert(r->c->nm, n);
	collect_id(&r->seen, n);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Reloads every node and the policy; nodes gone from the store leave the map. */
static void resync(struct coord *c)
{
	struct resync_ctx r = {.c = c};
	if (!db_node_load_all(c->store, resync_node, &r)) {
		free(r.seen.ids);
		return;
	}
	struct id_list mine = {0};
	netmap_foreach(c->nm, collect_id, &mine);
	if (r.seen.n > 1)
		qsort(r.seen.ids, r.seen.n, sizeof(int64_t), cmp_i64);
	for (size_t i = 0; i < mine.n; i++)
		if (r.seen.n == 0 ||
		    bsearch(&mine.ids[i], r.seen.ids, r.seen.n, sizeof(int64_t), cmp_i64) == NULL)
			netmap_remove(c->nm, mine.ids[i]);
	free(mine.ids);
	free(r.seen.ids);
	coord_policy_reload(c, false);
}

static void apply_remote(void *ctx, const char *payload)
{
	struct coord *c = ctx;
	char replica[32], what[16];
	long long id;
	if (sscanf(payload, "%31s %15s %lld", replica, what, &id) != 3) {
		mg_logf(MG_LOG_WARNING, "ignoring malformed change notice '%.64s'", payload);
		return;
	}
	if (strcmp(replica, c->replica_id) == 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (strcmp(what, "resync") == 0)
		resync(c);
	else if (strcmp(what, "node") == 0)
		apply_node(c, id);
	else if (strcmp(what, "policy") == 0)
		coord_policy_reload(c, false);
	netmap_flush(c->nm);
	pthread_mutex_unlock(&c->lock);
}

static void load_node(void *ctx, struct node_info *n)
{
	struct coord *c = ctx;
	if (!netmap_upsert(c->nm, n))
		mg_logf(MG_LOG_ERROR, "out of memory loading node %lld", (long long)n->id);
	if (n->ephemeral && !n->online)
		ephemeral_queue(c, n->id, now_unix());
}

static bool load_policy_file(struct coord *c, char *err, size_t errlen)
{
	FILE *f = fopen(c->cfg.policy_file, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "policy_file %s: %s", c->cfg.policy_file, strerror(errno));
		return false;
	}
	size_t cap = c->cfg.max_policy_body;
	char *text = malloc(cap + 1);
	size_t n = text ? fread(text, 1, cap + 1, f) : 0;
	fclose(f);
	if (text == NULL || n > cap) {
		snprintf(err, errlen, "policy_file %s: larger than %zu bytes", c->cfg.policy_file,
		         cap);
		free(text);
		return false;
	}
	text[n] = '\0';
	const char *dot = strrchr(c->cfg.policy_file, '.');
	const char *format = dot && strcmp(dot, ".json") == 0 ? "json" : NULL;
	char perr[512];
	struct policy *p = policy_parse(text, n, format, coord_user_exists, c, perr, sizeof(perr));
	if (p == NULL) {
		snprintf(err, errlen, "policy_file %s: %s", c->cfg.policy_file, perr);
		free(text);
		return false;
	}
	char *stored = NULL, fmt[8];
	int64_t version;
	bool same = db_policy_get(c->store, &stored, fmt, &version) && strcmp(stored, text) == 0;
	free(stored);
	int64_t v;
	bool ok = same || db_policy_set(c->store, text, p->format, &v) == STORE_OK;
	if (!ok)
		snprintf(err, errlen, "cannot store the policy: %s", c->store->err);
	policy_free(p);
	free(text);
	return ok;
}

bool coord_init(struct coord *c, const struct coord_config *cfg, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	pthread_mutex_init(&c->lock, NULL);
	mg_log_set_level((enum mg_log_level)cfg->log_level);
	if (wg_crypto_init() != WG_OK || sodium_init() < 0) {
		snprintf(err, errlen, "crypto initialisation failed");
		return false;
	}
	/* The replica id tags change notices so a replica skips its own; random per start. */
	uint8_t rid[4];
	char hex[9];
	wg_random_bytes(rid, sizeof(rid));
	hex_encode(rid, sizeof(rid), hex);
	char label[64];
	dns_label_sanitize(cfg->replica_name ? cfg->replica_name : "coord", label);
	snprintf(c->replica_id, sizeof(c->replica_id), "%.14s-%s", label, hex);
	c->store = store_open(cfg->store_url, cfg->sqlite_sync_full, err, errlen);
	if (c->store == NULL)
		return false;
	if (!server_key_load(c->store, cfg->server_key_file, c->server_sk, c->challenge_key, err,
	                     errlen))
		return false;
	crypto_scalarmult_base(c->server_pk, c->server_sk);
	wg_key_to_base64(c->server_pk_b64, c->server_pk);
	if (cfg->relay_credential_file != NULL) {
		if (relay_credential_read(cfg->relay_credential_file, c->cfg.relay_credential, err,
		                          errlen) != 0)
			return false;
		c->cfg.has_relay_credential = true;
	}
	if (cfg->policy_file != NULL && !load_policy_file(c, err, errlen))
		return false;
	struct netmap_config nc = {.prefix_v4 = cfg->prefix_v4,
	                           .prefix_v6 = cfg->prefix_v6,
	                           .queue_limit = cfg->stream_queue_limit,
	                           .wake = http_session_wake,
	                           .relay_map_json = cfg->relay_map_json};
	struct policy *def = policy_default();
	c->nm = def ? netmap_new(&nc, def) : NULL;
	if (c->nm == NULL) {
		policy_free(def);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	/* With one server and no stream open yet, nobody is online. */
	if (c->store->ops->listen == NULL)
		store_exec(c->store, "UPDATE nodes SET online = 0 WHERE online <> 0", NULL, 0, NULL,
		           NULL);
	if (!db_node_load_all(c->store, load_node, c)) {
		snprintf(err, errlen, "cannot load nodes: %s", c->store->err);
		return false;
	}
	if (!coord_policy_reload(c, false)) {
		snprintf(err, errlen, "the stored policy does not validate");
		return false;
	}
	netmap_flush(c->nm);
	if (c->store->ops->listen != NULL &&
	    c->store->ops->listen(c->store, apply_remote, c) != STORE_OK) {
		snprintf(err, errlen, "cannot listen for other replicas: %s", c->store->err);
		return false;
	}
	mg_logf(MG_LOG_INFO, "store %s ready, %zu nodes, replica %s", c->store->ops->name,
	         netmap_node_count(c->nm), c->replica_id);
	return true;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int coord_run(struct coord *c)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	char err[256];
	if (!http_start(c, err, sizeof(err))) {
		mg_logf(MG_LOG_ERROR, "%s", err);
		return 1;
	}
	if (pthread_create(&c->timer_thread, NULL, timer_main, c) != 0) {
		mg_logf(MG_LOG_ERROR, "cannot start the timer thread");
		return 1;
	}
	c->timer_started = true;
	int sig = 0;
	sigwait(&set, &sig);
	mg_logf(MG_LOG_INFO, "signal %d: shutting down", sig);
	return 0;
}

/* How long open map streams get to write their final line before the sockets close. */
#define SHUTDOWN_DRAIN_SECONDS 1.5

/*
 * Ends every map stream with a "shutdown" line and waits, bounded, until the HTTP layer has
 * written them: stopping the daemon at once closes the sockets with the line still queued, and
 * libmicrohttpd refuses to stop while connections are parked anyway. New connections are refused
 * meanwhile; a stream opened on a kept-alive connection during the wait is ended too. Returns the
 * quiesced listen socket, which may only be closed once the daemon has stopped.
 */
static MHD_socket end_streams(struct coord *c)
{
	MHD_socket listen_fd = c->httpd != NULL ? MHD_quiesce_daemon(c->httpd) : MHD_INVALID_SOCKET;
	double deadline = now_mono() + SHUTDOWN_DRAIN_SECONDS;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		netmap_close_all(c->nm, "{\"type\":\"shutdown\"}\n");
		size_t open = netmap_stream_count(c->nm);
		pthread_mutex_unlock(&c->lock);
		if (open == 0 || c->httpd == NULL)
			break;
		if (now_mono() >= deadline) {
			mg_logf(MG_LOG_WARNING, "%zu map streams did not finish within %.1f s; closing them", open,
			         SHUTDOWN_DRAIN_SECONDS);
			break;
		}
		usleep(10 * 1000);
	}
	return listen_fd;
}

void coord_shutdown(struct coord *c)
{
	atomic_store(&c->stop, true);
	if (c->timer_started)
		pthread_join(c->timer_thread, NULL);
	MHD_socket listen_fd = MHD_INVALID_SOCKET;
	if (c->nm != NULL)
		listen_fd = end_streams(c);
	http_stop(c);
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	/* The store first: it stops the replica listener, which uses the map. */
	store_close(c->store);
	netmap_free(c->nm);
	free(c->eph);
	wg_memzero(c->server_sk, sizeof(c->server_sk));
	wg_memzero(c->challenge_key, sizeof(c->challenge_key));
	config_free(&c->cfg);
	pthread_mutex_destroy(&c->lock);
}
