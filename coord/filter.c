// SPDX-License-Identifier: GPL-2.0-only
/*
 * Packet filter compilation. A class's members share every part of their filter but the
 * destinations, which are each member's own addresses and routes; so the class caches a
 * template whose destination lists are a placeholder byte, and each member's filter is the
 * template with its own list put in. Sources change with class membership and with the routes
 * of the members (netmap.c marks the templates stale), destinations with the node's routes.
 */
#include "filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmap_internal.h"

/* Cannot occur in the template otherwise: everything else in it is addresses and digits. */
#define DST_SLOT '\x01'

static const char *const proto_names[] = {
    [FILTER_PROTO_ANY] = "any",
    [FILTER_PROTO_TCP] = "tcp",
    [FILTER_PROTO_UDP] = "udp",
    [FILTER_PROTO_ICMP] = "icmp",
};

bool filter_proto_parse(const char *s, int *out)
{
	for (int i = 0; i < (int)(sizeof(proto_names) / sizeof(proto_names[0])); i++)
		if (strcmp(s, proto_names[i]) == 0) {
			*out = i;
			return true;
		}
	return false;
}

const char *filter_proto_name(int proto)
{
	if (proto < 0 || proto >= (int)(sizeof(proto_names) / sizeof(proto_names[0])))
		return "any";
	return proto_names[proto];
}

bool filter_proto_has_ports(int proto)
{
	return proto != FILTER_PROTO_ICMP;
}

static void add_ports(struct sbuf *b, const char *ports, bool *first)
{
	const char *p = ports;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		sb_str(b, *first ? "\"" : ",\"");
		sb_add(b, p, n);
		sb_str(b, "\"");
		*first = false;
		p += n;
		if (*p == ',')
			p++;
	}
}

/*
 * A source node's addresses and the routes it carries but the default routes: hosts behind a
 * subnet router open connections as themselves, while an exit node's /0 would admit anyone.
 */
static void node_srcs(const struct netmap *nm, const struct nm_node *n, bool first, struct sbuf *b)
{
	char v4[16], v6[48];
	netmap_addresses(nm, n->info.addr_index, v4, v6);
	sb_fmt(b, "%s\"%s/32\",\"%s/128\"", first ? "" : ",", v4, v6);
	json_t *routes = nm_effective_routes(&n->info);
	size_t i;
	json_t *r;
	json_array_foreach(routes, i, r)
	{
		const char *p = json_string_value(r);
		if (strcmp(p, "0.0.0.0/0") == 0 || strcmp(p, "::/0") == 0)
			continue;
		sb_str(b, ",\"");
		sb_str(b, p);
		sb_str(b, "\"");
	}
	json_decref(routes);
}

/* The sources of rule r: "*", or the addresses and routes of every node its src matches. */
static void rule_srcs(const struct netmap *nm, size_t r, struct sbuf *b)
{
	const struct policy_rule *rule = &nm->pol->rules[r];
	bool all = false;
	for (size_t i = 0; i < rule->nsrc; i++)
		all |= rule->src[i].kind == SEL_ALL;
	if (all) {
		sb_str(b, "\"*\"");
		return;
	}
	bool first = true;
	for (size_t k = 0; k < nm->ncls; k++) {
		const struct nm_class *sc = &nm->classes[k];
		if (!((sc->srcmask[r / 64] >> (r % 64)) & 1))
			continue;
		for (size_t m = 0; m < sc->n; m++) {
			node_srcs(nm, sc->members[m], first, b);
			first = false;
		}
	}
}

/*
 * One entry per rule whose dst matches class c: the sources' addresses and routes ("*" for
 * everyone), the
 * placeholder for the member's destinations, the protocol, and the ports of the dst selectors
 * that match c.
 */
const char *nm_class_filter(struct netmap *nm, struct nm_class *c)
{
	if (!c->filter_stale && c->filter != NULL)
		return c->filter;
	const struct policy *pol = nm->pol;
	struct identity id = {.user = c->user, .tags = c->tags, .ntags = c->ntags};
	struct sbuf b = {0};
	sb_str(&b, "[");
	bool first_rule = true;
	for (size_t r = 0; r < pol->nrules; r++) {
		if (!((c->dstmask[r / 64] >> (r % 64)) & 1))
			continue;
		const struct policy_rule *rule = &pol->rules[r];
		sb_str(&b, first_rule ? "{\"src\":[" : ",{\"src\":[");
		first_rule = false;
		rule_srcs(nm, r, &b);
		sb_fmt(&b, "],\"dst\":[%c],\"proto\":\"%s\",\"ports\":[", DST_SLOT,
		       filter_proto_name(rule->proto));
		bool first = true;
		for (size_t d = 0; d < rule->ndst; d++)
			if (policy_sel_matches(pol, &rule->dst[d].sel, &id))
				add_ports(&b, rule->dst[d].ports, &first);
		sb_str(&b, "]}");
	}
	sb_str(&b, "]");
	if (b.oom) {
		free(b.p);
		return c->filter ? c->filter : "[]";
	}
	free(c->filter);
	c->filter = b.p;
	c->filter_stale = false;
	return c->filter;
}

/*
 * The node's own addresses and the routes it carries (approved and advertised), but its exit
 * routes: who may reach the internet through it is a matter of the autogroup:internet rules.
 */
static void node_dsts(const struct netmap *nm, const struct nm_node *n, struct sbuf *b)
{
	char v4[16], v6[48];
	netmap_addresses(nm, n->info.addr_index, v4, v6);
	sb_fmt(b, "\"%s/32\",\"%s/128\"", v4, v6);
	json_t *routes = nm_effective_routes(&n->info);
	size_t i;
	json_t *r;
	json_array_foreach(routes, i, r)
	{
		if (nm_route_is_default(json_string_value(r)))
			continue;
		sb_str(b, ",\"");
		sb_str(b, json_string_value(r));
		sb_str(b, "\"");
	}
	json_decref(routes);
}

/*
 * On an exit node, one entry per rule that reaches the internet (autogroup:internet or '*'):
 * its sources may send through the node's /0 routes, on the ports of those dst selectors. The
 * nodes that use the exit are few, so these are built per call rather than cached.
 */
static void exit_entries(const struct netmap *nm, const struct nm_node *n, bool first_rule,
                         struct sbuf *b)
{
	json_t *routes = nm_effective_routes(&n->info);
	struct sbuf dst = {0};
	size_t i;
	json_t *rt;
	json_array_foreach(routes, i, rt)
	{
		if (!nm_route_is_default(json_string_value(rt)))
			continue;
		sb_str(&dst, dst.len ? ",\"" : "\"");
		sb_str(&dst, json_string_value(rt));
		sb_str(&dst, "\"");
	}
	json_decref(routes);
	const struct policy *pol = nm->pol;
	for (size_t r = 0; dst.len > 0 && r < pol->nrules; r++) {
		if (!policy_rule_dst_internet(pol, r))
			continue;
		const struct policy_rule *rule = &pol->rules[r];
		sb_str(b, first_rule ? "{\"src\":[" : ",{\"src\":[");
		first_rule = false;
		rule_srcs(nm, r, b);
		sb_fmt(b, "],\"dst\":[%s],\"proto\":\"%s\",\"ports\":[", dst.p,
		       filter_proto_name(rule->proto));
		bool first = true;
		for (size_t d = 0; d < rule->ndst; d++)
			if (rule->dst[d].sel.kind == SEL_INTERNET ||
			    rule->dst[d].sel.kind == SEL_ALL)
				add_ports(b, rule->dst[d].ports, &first);
		sb_str(b, "]}");
	}
	if (dst.oom)
		b->oom = true;
	free(dst.p);
}

char *nm_node_filter(struct netmap *nm, struct nm_node *n)
{
	const char *tmpl = n->cls >= 0 ? nm_class_filter(nm, &nm->classes[n->cls]) : "[]";
	struct sbuf dst = {0}, out = {0};
	node_dsts(nm, n, &dst);
	for (const char *p = tmpl, *slot; *p; p = slot + 1) {
		slot = strchr(p, DST_SLOT);
		if (slot == NULL) {
			/* The template ends with its closing bracket. */
			size_t tail = strlen(p);
			sb_add(&out, p, tail - 1);
			exit_entries(nm, n, strcmp(tmpl, "[]") == 0, &out);
			sb_str(&out, "]");
			break;
		}
		sb_add(&out, p, (size_t)(slot - p));
		sb_str(&out, dst.p ? dst.p : "");
	}
	bool oom = dst.oom || out.oom || out.p == NULL;
	free(dst.p);
	if (oom) {
		free(out.p);
		return NULL;
	}
	return out.p;
}
