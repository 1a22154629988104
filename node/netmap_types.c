// SPDX-License-Identifier: GPL-2.0-only
/* The map's types: prefix lists kept sorted and unique, deep copies and frees. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netmap_apply.h"
#include "netmap_internal.h"

/* ---- prefixes ---- */

int mg_prefix_cmp(const struct mg_prefix *a, const struct mg_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16);
	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int prefix_qcmp(const void *a, const void *b)
{
	return mg_prefix_cmp(a, b);
}

size_t mg_prefix_list_normalize(struct mg_prefix *list, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		mg_prefix_mask(&list[i]);
	qsort(list, n, sizeof(*list), prefix_qcmp);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || mg_prefix_cmp(&list[out - 1], &list[i]) != 0)
			list[out++] = list[i];
	return out;
}

bool mg_nm_prefix_in(const struct mg_prefix *list, size_t n, const struct mg_prefix *p)
{
	return n > 0 && bsearch(p, list, n, sizeof(*list), prefix_qcmp) != NULL;
}

bool mg_nm_prefix_lists_equal(const struct mg_prefix *a, size_t na, const struct mg_prefix *b,
                              size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (mg_prefix_cmp(&a[i], &b[i]) != 0)
			return false;
	return true;
}

static int prefix_dup(struct mg_prefix **dst, const struct mg_prefix *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	*dst = malloc(n * sizeof(**dst));
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, n * sizeof(**dst));
	return 0;
}

/* ---- copies ---- */

void mg_netmap_peer_free(struct mg_netmap_peer *p)
{
	free(p->map_allowed_ips);
	free(p->allowed_ips);
	memset(p, 0, sizeof(*p));
}

int mg_netmap_peer_copy(struct mg_netmap_peer *dst, const struct mg_netmap_peer *src)
{
	*dst = *src;
	dst->map_allowed_ips = NULL;
	dst->allowed_ips = NULL;
	if (prefix_dup(&dst->map_allowed_ips, src->map_allowed_ips, src->n_map_allowed_ips) ||
	    prefix_dup(&dst->allowed_ips, src->allowed_ips, src->n_allowed_ips)) {
		mg_netmap_peer_free(dst);
		return -ENOMEM;
	}
	return 0;
}

void mg_netmap_self_free(struct mg_netmap_self *s)
{
	free(s->routes);
	memset(s, 0, sizeof(*s));
}

int mg_netmap_self_copy(struct mg_netmap_self *dst, const struct mg_netmap_self *src)
{
	*dst = *src;
	if (prefix_dup(&dst->routes, src->routes, src->n_routes)) {
		memset(dst, 0, sizeof(*dst));
		return -ENOMEM;
	}
	return 0;
}

void mg_netmap_update_free(struct mg_netmap_update *u)
{
	for (size_t i = 0; i < u->n_peers; i++)
		mg_netmap_peer_free(&u->peers[i]);
	free(u->peers);
	free(u->removed);
	mg_netmap_self_free(&u->self);
	mg_filter_free(&u->filter);
	free(u->relays);
	memset(u, 0, sizeof(*u));
}

void mg_nm_peers_free(struct mg_netmap_peer *peers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mg_netmap_peer_free(&peers[i]);
	free(peers);
}

/* ---- state ---- */

void mg_netmap_state_init(struct mg_netmap_state *st)
{
	memset(st, 0, sizeof(*st));
}

void mg_netmap_state_free(struct mg_netmap_state *st)
{
	mg_nm_peers_free(st->map_peers, st->n_map_peers);
	mg_nm_peers_free(st->peers, st->n_peers);
	mg_netmap_self_free(&st->map_self);
	mg_netmap_self_free(&st->self);
	mg_filter_free(&st->map_filter);
	mg_filter_free(&st->filter);
	memset(st, 0, sizeof(*st));
}
