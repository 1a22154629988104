// SPDX-License-Identifier: GPL-2.0-only
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "yaml_json.h"

#define POLICY_MAX_ITEMS 100000

struct pctx {
	struct policy *p;
	user_exists_fn user_exists;
	void *ctx;
	char *err;
	size_t errlen;
	bool allow_internet; /* parsing a dst selector */
};

static bool perr(struct pctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool perr(struct pctx *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err, x->errlen, fmt, ap);
	va_end(ap);
	return false;
}

static void sel_free(struct policy_sel *s)
{
	free(s->name);
}

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		struct policy_rule *r = &p->rules[i];
		for (size_t j = 0; j < r->nsrc; j++)
			sel_free(&r->src[j]);
		for (size_t j = 0; j < r->ndst; j++) {
			sel_free(&r->dst[j].sel);
			free(r->dst[j].ports);
		}
		free(r->src);
		free(r->dst);
	}
	free(p->rules);
	for (size_t i = 0; i < p->ngroups; i++) {
		free(p->groups[i].name);
		for (size_t j = 0; j < p->groups[i].nusers; j++)
			free(p->groups[i].users[j]);
		free(p->groups[i].users);
	}
	free(p->groups);
	for (size_t i = 0; i < p->ntags; i++)
		free(p->tags[i]);
	free(p->tags);
	for (size_t i = 0; i < p->napprovers; i++) {
		for (size_t j = 0; j < p->approvers[i].nsel; j++)
			sel_free(&p->approvers[i].sel[j]);
		free(p->approvers[i].sel);
	}
	free(p->approvers);
	free(p->source);
	free(p);
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static const struct policy_group *group_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->ngroups; i++)
		if (strcmp(p->groups[i].name, name) == 0)
			return &p->groups[i];
	return NULL;
}

bool policy_has_tag(const struct policy *p, const char *tag)
{
	for (size_t i = 0; i < p->ntags; i++)
		if (strcmp(p->tags[i], tag) == 0)
			return true;
	return false;
}

/* Parses one selector; where names the element for errors. */
static bool sel_parse(struct pctx *x, const char *s, const char *where, bool allow_all,
                      struct policy_sel *out)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(s, "autogroup:", 10) == 0) {
		/* Only dst selectors come here with allow_internet; see parse_rule. */
		if (strcmp(s, "autogroup:internet") != 0)
			return perr(x, "%s: unknown autogroup '%.64s' (only autogroup:internet)",
			            where, s);
		if (!x->allow_internet)
			return perr(x, "%s: autogroup:internet is only a destination", where);
		out->kind = SEL_INTERNET;
		return true;
	}
	if (strcmp(s, "*") == 0) {
		if (!allow_all)
			return perr(x, "%s: '*' is not allowed here", where);
		out->kind = SEL_ALL;
		return true;
	}
	if (strncmp(s, "group:", 6) == 0) {
		if (group_find(x->p, s) == NULL)
			return perr(x, "%s: unknown group '%s' (define it under groups)", where, s);
		out->kind = SEL_GROUP;
	} else if (strncmp(s, "tag:", 4) == 0) {
		if (!policy_has_tag(x->p, s))
			return perr(x, "%s: unknown tag '%s' (declare it under tagOwners)", where,
			            s);
		out->kind = SEL_TAG;
	} else {
		if (!name_valid(s))
			return perr(x, "%s: '%s' is not a user, group:NAME, tag:NAME or '*'", where,
			            s);
		if (!x->user_exists(x->ctx, s))
			return perr(x, "%s: unknown user '%s'", where, s);
		out->kind = SEL_USER;
	}
	out->name = strdup(s);
	return out->name != NULL || perr(x, "out of memory");
}

static bool ports_valid(const char *s)
{
	if (strcmp(s, "*") == 0)
		return true;
	const char *p = s;
	for (;;) {
		char *end;
		errno = 0;
		long a = strtol(p, &end, 10), b = a;
		if (end == p || !isdigit((unsigned char)*p) || errno != 0 || a < 1 || a > 65535)
			return false;
		if (*end == '-') {
			p = end + 1;
			if (!isdigit((unsigned char)*p))
				return false;
			b = strtol(p, &end, 10);
			if (errno != 0 || b < a || b > 65535)
				return false;
		}
		if (*end == '\0')
			return true;
		if (*end != ',')
			return false;
		p = end + 1;
	}
}

static bool string_array(struct pctx *x, json_t *v, const char *where, bool nonempty)
{
	if (!json_is_array(v))
		return perr(x, "%s: expected an array of strings", where);
	if (nonempty && json_array_size(v) == 0)
		return perr(x, "%s: must not be empty", where);
	if (json_array_size(v) > POLICY_MAX_ITEMS)
		return perr(x, "%s: more than %d entries", where, POLICY_MAX_ITEMS);
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return perr(x, "%s[%zu]: expected a string", where, i);
	}
	return true;
}

static bool parse_groups(struct pctx *x, json_t *groups)
{
	if (groups == NULL)
		return true;
	if (!json_is_object(groups))
		return perr(x, "groups: expected an object of group:NAME -> [users]");
	x->p->groups = calloc(json_object_size(groups) + 1, sizeof(*x->p->groups));
	if (x->p->groups == NULL)
		return perr(x, "out of memory");
	const char *name;
	json_t *members;
	json_object_foreach(groups, name, members)
	{
		char where[128];
		snprintf(where, sizeof(where), "groups.%.64s", name);
		if (strncmp(name, "group:", 6) != 0 || !name_valid(name + 6))
			return perr(x, "%s: group names look like group:NAME (lower case)", where);
		if (!string_array(x, members, where, false))
			return false;
		struct policy_group *g = &x->p->groups[x->p->ngroups++];
		g->name = strdup(name);
		g->users = calloc(json_array_size(members) + 1, sizeof(char *));
		if (g->name == NULL || g->users == NULL)
			return perr(x, "out of memory");
		size_t i;
		json_t *m;
		json_array_foreach(members, i, m)
		{
			const char *u = json_string_value(m);
			if (!name_valid(u) || !x->user_exists(x->ctx, u))
				return perr(x, "%s[%zu]: unknown user '%.64s'", where, i, u);
			if ((g->users[g->nusers++] = strdup(u)) == NULL)
				return perr(x, "out of memory");
		}
	}
	return true;
}

static bool parse_tags(struct pctx *x, json_t *owners)
{
	if (owners == NULL)
		return true;
	if (!json_is_object(owners))
		return perr(x, "tagOwners: expected an object of tag:NAME -> [owners]");
	x->p->tags = calloc(json_object_size(owners) + 1, sizeof(char *));
	if (x->p->tags == NULL)
		return perr(x, "out of memory");
	const char *name;
	json_t *v;
	/* Declare every tag first so owners may be checked against users and groups only. */
	json_object_foreach(owners, name, v)
	{
		if (strncmp(name, "tag:", 4) != 0 || !name_valid(name + 4))
			return perr(x, "tagOwners.%.64s: tag names look like tag:NAME (lower case)",
			            name);
		if ((x->p->tags[x->p->ntags++] = strdup(name)) == NULL)
			return perr(x, "out of memory");
	}
	json_object_foreach(owners, name, v)
	{
		char where[128];
		snprintf(where, sizeof(where), "tagOwners.%.64s", name);
		if (!string_array(x, v, where, false))
			return false;
		size_t i;
		json_t *o;
		json_array_foreach(v, i, o)
		{
			char w2[160];
			snprintf(w2, sizeof(w2), "%s[%zu]", where, i);
			struct policy_sel s;
			if (!sel_parse(x, json_string_value(o), w2, false, &s))
				return false;
			sel_free(&s);
		}
	}
	return true;
}

static bool parse_rule(struct pctx *x, json_t *r, size_t idx, struct policy_rule *out)
{
	char where[64];
	snprintf(where, sizeof(where), "acls[%zu]", idx);
	if (!json_is_object(r))
		return perr(x, "%s: expected an object with action, src and dst", where);
	const char *key;
	json_t *v;
	json_object_foreach(r, key, v)
	{
		if (strcmp(key, "action") && strcmp(key, "src") && strcmp(key, "dst") &&
		    strcmp(key, "proto"))
			return perr(x, "%s: unknown key '%.64s' (expected action, src, proto, dst)",
			            where, key);
	}
	json_t *proto = json_object_get(r, "proto");
	if (proto != NULL &&
	    (!json_is_string(proto) || !filter_proto_parse(json_string_value(proto), &out->proto)))
		return perr(x, "%s.proto: expected \"tcp\", \"udp\", \"icmp\" or \"any\"", where);
	json_t *action = json_object_get(r, "action");
	if (!json_is_string(action) || strcmp(json_string_value(action), "accept") != 0)
		return perr(x, "%s.action: expected \"accept\"", where);
	json_t *src = json_object_get(r, "src"), *dst = json_object_get(r, "dst");
	char w[96];
	snprintf(w, sizeof(w), "%s.src", where);
	if (!string_array(x, src, w, true))
		return false;
	snprintf(w, sizeof(w), "%s.dst", where);
	if (!string_array(x, dst, w, true))
		return false;
	out->src = calloc(json_array_size(src), sizeof(*out->src));
	out->dst = calloc(json_array_size(dst), sizeof(*out->dst));
	if (out->src == NULL || out->dst == NULL)
		return perr(x, "out of memory");
	size_t i;
	json_t *e;
	json_array_foreach(src, i, e)
	{
		snprintf(w, sizeof(w), "%s.src[%zu]", where, i);
		if (!sel_parse(x, json_string_value(e), w, true, &out->src[out->nsrc]))
			return false;
		out->nsrc++;
	}
	json_array_foreach(dst, i, e)
	{
		snprintf(w, sizeof(w), "%s.dst[%zu]", where, i);
		const char *s = json_string_value(e);
		const char *colon = strrchr(s, ':');
		if (colon == NULL || colon == s)
			return perr(x, "%s: '%.64s' must be SELECTOR:PORTS, e.g. tag:web:80,443", w,
			            s);
		char sel[128];
		if ((size_t)(colon - s) >= sizeof(sel))
			return perr(x, "%s: selector too long", w);
		memcpy(sel, s, (size_t)(colon - s));
		sel[colon - s] = '\0';
		if (!ports_valid(colon + 1))
			return perr(x,
			            "%s: ports '%.64s' must be '*' or a list of N or N-M in "
			            "1..65535",
			            w, colon + 1);
		if (!filter_proto_has_ports(out->proto) && strcmp(colon + 1, "*") != 0)
			return perr(x, "%s: proto %s has no ports: write '%.64s:*'", w,
			            filter_proto_name(out->proto), sel);
		struct policy_dst *d = &out->dst[out->ndst];
		x->allow_internet = true;
		bool ok = sel_parse(x, sel, w, true, &d->sel);
		x->allow_internet = false;
		if (!ok)
			return false;
		out->ndst++;
		if ((d->ports = strdup(colon + 1)) == NULL)
			return perr(x, "out of memory");
	}
	return true;
}

static bool parse_approvers(struct pctx *x, json_t *aa)
{
	if (aa == NULL)
		return true;
	if (!json_is_object(aa))
		return perr(x, "autoApprovers: expected an object with routes and exitNode");
	json_t *routes = json_object_get(aa, "routes"), *exit = json_object_get(aa, "exitNode");
	const char *key;
	json_t *v;
	json_object_foreach(aa, key, v)
	{
		if (strcmp(key, "routes") && strcmp(key, "exitNode"))
			return perr(x, "autoApprovers: unknown key '%.64s'", key);
	}
	if (routes != NULL && !json_is_object(routes))
		return perr(x, "autoApprovers.routes: expected an object of prefix -> [selectors]");
	size_t n = (routes ? json_object_size(routes) : 0) + (exit ? 2 : 0);
	x->p->approvers = calloc(n + 1, sizeof(*x->p->approvers));
	if (x->p->approvers == NULL)
		return perr(x, "out of memory");
	for (int pass = 0; pass < 3; pass++) {
		json_t *list;
		const char *pfx;
		char where[128];
		void *iter = NULL;
		if (pass == 0) {
			if (routes == NULL || (iter = json_object_iter(routes)) == NULL)
				continue;
		} else if (exit == NULL) {
			break;
		}
		while (pass > 0 || iter != NULL) {
			if (pass == 0) {
				pfx = json_object_iter_key(iter);
				list = json_object_iter_value(iter);
				snprintf(where, sizeof(where), "autoApprovers.routes.%.64s", pfx);
			} else {
				pfx = pass == 1 ? "0.0.0.0/0" : "::/0";
				list = exit;
				snprintf(where, sizeof(where), "autoApprovers.exitNode");
			}
			struct policy_approver *a = &x->p->approvers[x->p->napprovers];
			a->exit_only = pass > 0;
			char e2[160];
			if (!prefix_parse(pfx, &a->prefix, false, e2, sizeof(e2)))
				return perr(x, "%s: %s", where, e2);
			if (!string_array(x, list, where, true))
				return false;
			a->sel = calloc(json_array_size(list), sizeof(*a->sel));
			if (a->sel == NULL)
				return perr(x, "out of memory");
			x->p->napprovers++;
			size_t i;
			json_t *e;
			json_array_foreach(list, i, e)
			{
				char w[192];
				snprintf(w, sizeof(w), "%s[%zu]", where, i);
				if (!sel_parse(x, json_string_value(e), w, true, &a->sel[a->nsel]))
					return false;
				a->nsel++;
			}
			if (pass > 0)
				break;
			iter = json_object_iter_next(routes, iter);
		}
	}
	return true;
}

static bool parse_root(struct pctx *x, json_t *root)
{
	if (!json_is_object(root))
		return perr(x, "the policy must be an object with groups, tagOwners, acls, "
		               "autoApprovers");
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "groups") && strcmp(key, "tagOwners") && strcmp(key, "acls") &&
		    strcmp(key, "autoApprovers"))
			return perr(x,
			            "unknown key '%.64s' (expected groups, tagOwners, acls, "
			            "autoApprovers)",
			            key);
	}
	if (!parse_groups(x, json_object_get(root, "groups")) ||
	    !parse_tags(x, json_object_get(root, "tagOwners")))
		return false;
	json_t *acls = json_object_get(root, "acls");
	if (!json_is_array(acls))
		return perr(x, "acls: expected an array of rules");
	if (json_array_size(acls) > POLICY_MAX_ITEMS)
		return perr(x, "acls: more than %d rules", POLICY_MAX_ITEMS);
	x->p->rules = calloc(json_array_size(acls) + 1, sizeof(*x->p->rules));
	if (x->p->rules == NULL)
		return perr(x, "out of memory");
	size_t i;
	json_t *r;
	json_array_foreach(acls, i, r)
	{
		bool ok = parse_rule(x, r, i, &x->p->rules[i]);
		x->p->nrules = i + 1;
		if (!ok)
			return false;
	}
	return parse_approvers(x, json_object_get(root, "autoApprovers"));
}

struct policy *policy_parse(const char *text, size_t len, const char *format,
                            user_exists_fn user_exists, void *ctx, char *err, size_t errlen)
{
	bool is_json;
	if (format != NULL && strcmp(format, "json") == 0)
		is_json = true;
	else if (format != NULL && strcmp(format, "yaml") == 0)
		is_json = false;
	else {
		size_t i = 0;
		while (i < len && isspace((unsigned char)text[i]))
			i++;
		is_json = i < len && text[i] == '{';
	}
	json_t *root = NULL;
	if (is_json) {
		json_error_t jerr;
		root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		if (root == NULL) {
			snprintf(err, errlen, "JSON line %d column %d: %s", jerr.line, jerr.column,
			         jerr.text);
			return NULL;
		}
	} else {
		char yerr[256];
		root = yaml_text_to_json(text, len, yerr, sizeof(yerr));
		if (root == NULL) {
			snprintf(err, errlen, "YAML %s", yerr);
			return NULL;
		}
	}
	struct policy *p = calloc(1, sizeof(*p));
	struct pctx x = {
	    .p = p, .user_exists = user_exists, .ctx = ctx, .err = err, .errlen = errlen};
	bool ok = p != NULL && parse_root(&x, root);
	json_decref(root);
	if (ok && (p->source = strndup(text, len)) == NULL)
		ok = perr(&x, "out of memory");
	if (!ok) {
		if (p == NULL)
			snprintf(err, errlen, "out of memory");
		policy_free(p);
		return NULL;
	}
	snprintf(p->format, sizeof(p->format), "%s", is_json ? "json" : "yaml");
	return p;
}

struct policy *policy_default(void)
{
	struct policy *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->rules = calloc(1, sizeof(*p->rules));
	struct policy_rule *r = p->rules;
	if (r == NULL || (r->src = calloc(1, sizeof(*r->src))) == NULL ||
	    (r->dst = calloc(1, sizeof(*r->dst))) == NULL ||
	    (r->dst[0].ports = strdup("*")) == NULL ||
	    (p->source = strdup("{\"acls\":[{\"action\":\"accept\",\"src\":[\"*\"],"
	                        "\"dst\":[\"*:*\"]}]}")) == NULL) {
		if (r != NULL) {
			p->nrules = 1;
			r->nsrc = r->src ? 1 : 0;
			r->ndst = r->dst ? 1 : 0;
		}
		policy_free(p);
		return NULL;
	}
	p->nrules = 1;
	r->nsrc = r->ndst = 1;
	r->src[0].kind = SEL_ALL;
	r->dst[0].sel.kind = SEL_ALL;
	snprintf(p->format, sizeof(p->format), "json");
	return p;
}

bool policy_sel_matches(const struct policy *p, const struct policy_sel *s,
                        const struct identity *id)
{
	switch (s->kind) {
	case SEL_ALL:
		return true;
	case SEL_USER:
		return id->user != NULL && strcmp(id->user, s->name) == 0;
	case SEL_GROUP: {
		const struct policy_group *g = group_find(p, s->name);
		if (g == NULL || id->user == NULL)
			return false;
		for (size_t i = 0; i < g->nusers; i++)
			if (strcmp(g->users[i], id->user) == 0)
				return true;
		return false;
	}
	case SEL_TAG:
		for (size_t i = 0; i < id->ntags; i++)
			if (strcmp(id->tags[i], s->name) == 0)
				return true;
		return false;
	case SEL_INTERNET:
		return false;
	}
	return false;
}

bool policy_rule_src_matches(const struct policy *p, size_t rule, const struct identity *id)
{
	const struct policy_rule *r = &p->rules[rule];
	for (size_t i = 0; i < r->nsrc; i++)
		if (policy_sel_matches(p, &r->src[i], id))
			return true;
	return false;
}

bool policy_rule_dst_matches(const struct policy *p, size_t rule, const struct identity *id)
{
	const struct policy_rule *r = &p->rules[rule];
	for (size_t i = 0; i < r->ndst; i++)
		if (policy_sel_matches(p, &r->dst[i].sel, id))
			return true;
	return false;
}

bool policy_rule_dst_internet(const struct policy *p, size_t rule)
{
	const struct policy_rule *r = &p->rules[rule];
	for (size_t i = 0; i < r->ndst; i++)
		if (r->dst[i].sel.kind == SEL_INTERNET || r->dst[i].sel.kind == SEL_ALL)
			return true;
	return false;
}

bool policy_exit_allowed(const struct policy *p, const struct identity *id)
{
	for (size_t r = 0; r < p->nrules; r++)
		if (policy_rule_dst_internet(p, r) && policy_rule_src_matches(p, r, id))
			return true;
	return false;
}

bool policy_route_auto_approved(const struct policy *p, const struct mg_prefix *route,
                                const struct identity *id)
{
	for (size_t i = 0; i < p->napprovers; i++) {
		const struct policy_approver *a = &p->approvers[i];
		if (!mg_prefix_contains(&a->prefix, route) || (a->exit_only && route->len != 0))
			continue;
		for (size_t j = 0; j < a->nsel; j++)
			if (policy_sel_matches(p, &a->sel[j], id))
				return true;
	}
	return false;
}

static bool sels_mention(const struct policy_sel *s, size_t n, const char *user)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].kind == SEL_USER && strcmp(s[i].name, user) == 0)
			return true;
	return false;
}

bool policy_mentions_user(const struct policy *p, const char *user)
{
	for (size_t i = 0; i < p->ngroups; i++)
		for (size_t j = 0; j < p->groups[i].nusers; j++)
			if (strcmp(p->groups[i].users[j], user) == 0)
				return true;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		if (sels_mention(r->src, r->nsrc, user))
			return true;
		for (size_t j = 0; j < r->ndst; j++)
			if (sels_mention(&r->dst[j].sel, 1, user))
				return true;
	}
	for (size_t i = 0; i < p->napprovers; i++)
		if (sels_mention(p->approvers[i].sel, p->approvers[i].nsel, user))
			return true;
	return false;
}
