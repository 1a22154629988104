// SPDX-License-Identifier: GPL-2.0-only
/* Serialisation of map entries and the per-session output queues. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netmap_internal.h"

void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->oom = true;
		return;
	}
	sb_add(b, tmp, (size_t)n);
}

uint64_t nm_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void netmap_addresses(const struct netmap *nm, int64_t index, char v4[16], char v6[48])
{
	uint8_t a[16];
	memcpy(a, nm->cfg.prefix_v4.addr, 4);
	uint32_t base =
	    ((uint32_t)a[0] << 24) | ((uint32_t)a[1] << 16) | ((uint32_t)a[2] << 8) | a[3];
	uint32_t ip = base + (uint32_t)index;
	uint8_t b4[4] = {(uint8_t)(ip >> 24), (uint8_t)(ip >> 16), (uint8_t)(ip >> 8), (uint8_t)ip};
	inet_ntop(AF_INET, b4, v4, 16);
	memcpy(a, nm->cfg.prefix_v6.addr, 16);
	/* The index goes into the low 32 bits; the v6 prefix is at most /96 wide of host space. */
	for (int i = 0; i < 4; i++)
		a[15 - i] |= (uint8_t)((uint64_t)index >> (8 * i));
	inet_ntop(AF_INET6, a, v6, 48);
}

/* The routes a node may carry: approved by an admin or policy, and currently advertised. */
json_t *nm_effective_routes(const struct node_info *n)
{
	json_t *out = json_array();
	size_t i, j;
	json_t *a, *b;
	json_array_foreach(n->routes_approved, i, a)
	{
		json_array_foreach(n->routes_advertised, j, b)
		{
			if (json_equal(a, b)) {
				json_array_append(out, a);
				break;
			}
		}
	}
	return out;
}

/*
 * with_exit: keep the /0 routes. Without them, "exit_node": true still tells the viewer that the
 * node offers them, so it can be chosen.
 */
static json_t *node_common(const struct netmap *nm, const struct node_info *n, bool with_exit,
                           bool *offers_exit)
{
	char v4[16], v6[48], a4[24], a6[56];
	netmap_addresses(nm, n->addr_index, v4, v6);
	snprintf(a4, sizeof(a4), "%s/32", v4);
	snprintf(a6, sizeof(a6), "%s/128", v6);
	json_t *all = nm_effective_routes(n), *routes = json_array();
	bool exit = false;
	size_t i;
	json_t *r;
	json_array_foreach(all, i, r)
	{
		bool dflt = nm_route_is_default(json_string_value(r));
		exit |= dflt;
		if (with_exit || !dflt)
			json_array_append(routes, r);
	}
	json_decref(all);
	if (offers_exit != NULL)
		*offers_exit = exit;
	json_t *allowed = json_pack("[ss]", a4, a6);
	json_array_extend(allowed, routes);
	return json_pack("{sI ss ss ss s[ss] so so sO sb sI sb}", "id", (json_int_t)n->id, "name",
	                 n->name, "user", n->user, "key", n->node_key, "addresses", a4, a6,
	                 "allowed_ips", allowed, "routes", routes, "tags", n->tags, "online",
	                 n->online, "key_expiry", (json_int_t)n->key_expiry, "exit_node", exit);
}

/* Only what the node reported: an older node's map shows neither, and older nodes parsing a
 * peer ignore both. */
static void nm_set_nat_fields(json_t *o, const struct node_info *n)
{
	if (n->stun_endpoints != NULL && json_array_size(n->stun_endpoints) > 0)
		json_object_set(o, "stun_endpoints", n->stun_endpoints);
	if (n->nat[0] != '\0' && strcmp(n->nat, "unknown") != 0)
		json_object_set_new(o, "nat", json_string(n->nat));
}

static char *peer_dump(const struct netmap *nm, const struct nm_node *n, bool with_exit,
                       bool *offers_exit)
{
	json_t *o = node_common(nm, &n->info, with_exit, offers_exit);
	if (o == NULL)
		return NULL;
	json_object_set(o, "endpoints", n->info.endpoints);
	nm_set_nat_fields(o, &n->info);
	if (n->info.home_relay[0])
		json_object_set_new(o, "home_relay", json_string(n->info.home_relay));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

bool nm_build_peer_json(const struct netmap *nm, struct nm_node *n)
{
	bool exit = false;
	char *s = peer_dump(nm, n, false, &exit);
	char *x = exit ? peer_dump(nm, n, true, NULL) : NULL;
	if (s == NULL || (exit && x == NULL)) {
		free(s);
		free(x);
		return false;
	}
	free(n->peer_json);
	free(n->peer_json_exit);
	n->peer_json = s;
	n->peer_json_exit = x;
	return true;
}

bool nm_uses_exit(const struct netmap *nm, const struct nm_node *viewer, const struct nm_node *p)
{
	if (viewer->exit_choice[0] == '\0' || viewer->cls < 0 ||
	    (strcasecmp(viewer->exit_choice, p->info.name) != 0 &&
	     strcmp(viewer->exit_choice, p->info.node_key) != 0))
		return false;
	const struct nm_class *c = &nm->classes[viewer->cls];
	struct identity id = {.user = c->user, .tags = c->tags, .ntags = c->ntags};
	return policy_exit_allowed(nm->pol, &id);
}

const char *nm_peer_json_for(const struct netmap *nm, const struct nm_node *viewer,
                             const struct nm_node *p)
{
	if (p->peer_json_exit != NULL && nm_uses_exit(nm, viewer, p))
		return p->peer_json_exit;
	return p->peer_json;
}

char *nm_self_json(const struct netmap *nm, const struct nm_node *n)
{
	json_t *o = node_common(nm, &n->info, true, NULL);
	if (o == NULL)
		return NULL;
	if (n->exit_choice[0] != '\0') {
		const struct nm_class *c = n->cls >= 0 ? &nm->classes[n->cls] : NULL;
		struct identity id = {.user = c ? c->user : NULL,
		                      .tags = c ? c->tags : NULL,
		                      .ntags = c ? c->ntags : 0};
		json_object_set_new(o, "exit_node_chosen", json_string(n->exit_choice));
		json_object_set_new(o, "exit_node_allowed",
		                    json_boolean(c != NULL && policy_exit_allowed(nm->pol, &id)));
	}
	json_object_set(o, "endpoints", n->info.endpoints);
	nm_set_nat_fields(o, &n->info);
	json_object_set(o, "routes_advertised", n->info.routes_advertised);
	json_object_set(o, "routes_approved", n->info.routes_approved);
	json_object_set_new(o, "ephemeral", json_boolean(n->info.ephemeral));
	if (n->info.home_relay[0])
		json_object_set_new(o, "home_relay", json_string(n->info.home_relay));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

void nm_session_push(struct netmap *nm, struct map_session *s, const char *data, size_t len)
{
	if (s->closed || s->overflow)
		return;
	size_t queued = s->out_len - s->out_off;
	if (queued + len > nm->cfg.queue_limit) {
		/* The client is not reading: cut the stream rather than grow without bound. */
		s->overflow = true;
		s->closed = true;
		free(s->out);
		s->out = NULL;
		s->out_len = s->out_off = s->out_cap = 0;
		nm->cfg.wake(s, s->conn);
		return;
	}
	if (s->out_off > 0 && s->out_off * 2 >= s->out_len) {
		memmove(s->out, s->out + s->out_off, queued);
		s->out_len = queued;
		s->out_off = 0;
	}
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 4096;
		while (cap < s->out_len + len)
			cap *= 2;
		char *p = realloc(s->out, cap);
		if (p == NULL) {
			s->overflow = true;
			s->closed = true;
			nm->cfg.wake(s, s->conn);
			return;
		}
		s->out = p;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
	nm->cfg.wake(s, s->conn);
}

size_t session_read(struct map_session *s, char *buf, size_t max)
{
	size_t n = s->out_len - s->out_off;
	/*
	 * The HTTP layer asks again only once the previous chunk is on the socket, so an empty
	 * queue here means the traced line has been written.
	 */
	if (n == 0)
		nm_trace_written(s->nm, s, true);
	if (n > max)
		n = max;
	if (n > 0) {
		memcpy(buf, s->out + s->out_off, n);
		s->out_off += n;
		if (s->out_off == s->out_len)
			s->out_off = s->out_len = 0;
	}
	/* Give back the memory of a large full map once it has been sent. */
	if (s->out_len == 0 && s->out_cap > 65536) {
		free(s->out);
		s->out = NULL;
		s->out_cap = 0;
	}
	return n;
}

void nm_session_free(struct map_session *s)
{
	nm_trace_written(s->nm, s, false);
	s->nm->streams--;
	free(s->out);
	for (size_t i = 0; i < s->nremoved; i++)
		free(s->removed[i]);
	free(s->removed);
	free(s->changed);
	free(s);
}

/* The full map of node n: self, every visible active peer, the filter. */
static void full_map(struct netmap *nm, struct nm_node *n, uint64_t seq, struct sbuf *b)
{
	char *self = nm_self_json(nm, n);
	sb_fmt(b, "{\"type\":\"full\",\"seq\":%llu,\"self\":", (unsigned long long)seq);
	sb_str(b, self ? self : "null");
	free(self);
	sb_str(b, ",\"peers\":[");
	bool first = true;
	if (n->cls >= 0) {
		for (size_t k = 0; k < nm->ncls; k++) {
			if (!nm_vis(nm, n->cls, (int)k))
				continue;
			struct nm_class *c = &nm->classes[k];
			for (size_t m = 0; m < c->n; m++) {
				struct nm_node *p = c->members[m];
				if (p == n || p->peer_json == NULL)
					continue;
				if (!first)
					sb_str(b, ",");
				sb_str(b, nm_peer_json_for(nm, n, p));
				first = false;
			}
		}
	}
	sb_str(b, "],\"filter\":");
	char *filter = nm_node_filter(nm, n);
	if (filter == NULL) {
		b->oom = true;
		return;
	}
	sb_str(b, filter);
	n->filter_sent = nm_hash_str(filter);
	free(filter);
	if (nm->cfg.relay_map_json) {
		sb_str(b, ",\"relay_map\":");
		sb_str(b, nm->cfg.relay_map_json);
	}
	sb_str(b, "}\n");
}

char *netmap_full_map(struct netmap *nm, int64_t node_id, size_t *len)
{
	struct nm_node *n = nm_find(nm, node_id);
	if (n == NULL)
		return NULL;
	struct sbuf b = {0};
	full_map(nm, n, 1, &b);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

struct map_session *netmap_attach(struct netmap *nm, int64_t node_id, void *conn)
{
	struct nm_node *n = nm_find(nm, node_id);
	if (n == NULL)
		return NULL;
	struct map_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->nm = nm;
	s->node_id = node_id;
	s->conn = conn;
	nm->streams++;
	if (n->sess != NULL)
		netmap_close_node(nm, node_id, "{\"type\":\"replaced\"}\n");
	n->sess = s;
	struct sbuf b = {0};
	full_map(nm, n, ++s->seq, &b);
	if (b.oom) {
		free(b.p);
		n->sess = NULL;
		nm->streams--;
		free(s);
		return NULL;
	}
	nm_session_push(nm, s, b.p, b.len);
	free(b.p);
	return s;
}

struct map_session *netmap_session(const struct netmap *nm, int64_t node_id)
{
	struct nm_node *n = nm_find(nm, node_id);
	return n ? n->sess : NULL;
}

void netmap_close_node(struct netmap *nm, int64_t node_id, const char *final_line)
{
	struct nm_node *n = nm_find(nm, node_id);
	if (n == NULL || n->sess == NULL)
		return;
	struct map_session *s = n->sess;
	if (final_line != NULL)
		nm_session_push(nm, s, final_line, strlen(final_line));
	s->closed = true;
	n->sess = NULL;
	nm->cfg.wake(s, s->conn);
}

void netmap_heartbeat(struct netmap *nm, int64_t now)
{
	for (size_t i = 0; i < nm->nslots; i++) {
		struct nm_node *n = nm->slots[i];
		if (n == NULL || n->sess == NULL)
			continue;
		char line[96];
		int len = snprintf(line, sizeof(line),
		                   "{\"type\":\"heartbeat\",\"seq\":%llu,\"time\":%lld}\n",
		                   (unsigned long long)n->sess->seq, (long long)now);
		nm_session_push(nm, n->sess, line, (size_t)len);
	}
}

void netmap_close_all(struct netmap *nm, const char *final_line)
{
	for (size_t i = 0; i < nm->nslots; i++) {
		struct nm_node *n = nm->slots[i];
		if (n != NULL && n->sess != NULL)
			netmap_close_node(nm, n->info.id, final_line);
	}
}
