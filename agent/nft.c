// SPDX-License-Identifier: GPL-2.0-only
/*
 * nftables enforcement of the packet filter (nft.h). The ruleset is generated as nft text and
 * loaded with nft_run_cmd_from_buffer: one buffer is one netlink batch, hence one transaction.
 * Rule lists come normalized from node/filter.c (no prefix inside another, port ranges merged),
 * so the anonymous interval sets never hold overlapping elements, which nft would refuse.
 */
#include "nft.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

struct mg_nft {
	struct nft_ctx *ctx;
	char table[32]; /* MG_NFT_TABLE_PREFIX and a 15-character interface name */
	char ifname[16];
	uint32_t exit_mark; /* 0: no exit-node chains */
};

/* ---- text ---- */

struct text {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (!p) {
			t->oom = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
}

static bool is_all(const struct mg_prefix *l, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].family == family && l[i].len == 0)
			return true;
	return false;
}

/* " ip saddr { a, b }" for the family's entries; nothing when one of them is /0. */
static void put_addrs(struct text *t, int family, const char *dir, const struct mg_prefix *l,
                      size_t n)
{
	bool first = true;

	if (is_all(l, n, family))
		return;
	put(t, " %s %s {", family == 4 ? "ip" : "ip6", dir);
	for (size_t i = 0; i < n; i++) {
		char text[MG_PREFIX_STRLEN];

		if (l[i].family != family)
			continue;
		mg_prefix_format(&l[i], text, sizeof(text));
		put(t, "%s %s", first ? "" : ",", text);
		first = false;
	}
	put(t, " }");
}

static void put_ports(struct text *t, const struct mg_filter_rule *r)
{
	put(t, " {");
	for (size_t i = 0; i < r->n_ports; i++) {
		if (r->ports[i].lo == r->ports[i].hi)
			put(t, "%s %u", i ? "," : "", r->ports[i].lo);
		else
			put(t, "%s %u-%u", i ? "," : "", r->ports[i].lo, r->ports[i].hi);
	}
	put(t, " }");
}

static bool has_family(const struct mg_prefix *l, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].family == family)
			return true;
	return false;
}

/*
 * One rule for one family, as up to two nft rules (ANY with ports: TCP and UDP on the ports,
 * plus ICMP, which has none; see mg_filter_match).
 */
static void put_rule(struct text *t, const struct mg_filter_rule *r, int family)
{
	const char *icmp = family == 4 ? "icmp" : "ipv6-icmp";
	bool all_ports = r->n_ports == 1 && r->ports[0].lo == 0 && r->ports[0].hi == 65535;
	const char *match[2] = {NULL, NULL};
	char buf[2][32];

	if (!has_family(r->src, r->n_src, family) || !has_family(r->dst, r->n_dst, family) ||
	    r->n_ports == 0)
		return;
	switch (r->proto) {
	case MG_FILTER_TCP:
	case MG_FILTER_UDP: {
		const char *name = r->proto == MG_FILTER_TCP ? "tcp" : "udp";

		if (all_ports) {
			snprintf(buf[0], sizeof(buf[0]), "meta l4proto %s", name);
		} else {
			snprintf(buf[0], sizeof(buf[0]), "%s dport", name);
		}
		match[0] = buf[0];
		break;
	}
	case MG_FILTER_ICMP:
		snprintf(buf[0], sizeof(buf[0]), "meta l4proto %s", icmp);
		match[0] = buf[0];
		all_ports = true; /* normalize() made sure; no port match follows */
		break;
	case MG_FILTER_ANY:
		if (all_ports) {
			match[0] = "";
		} else {
			match[0] = "meta l4proto { tcp, udp } th dport";
			snprintf(buf[1], sizeof(buf[1]), "meta l4proto %s", icmp);
			match[1] = buf[1];
		}
		break;
	}
	for (int k = 0; k < 2 && match[k]; k++) {
		put(t, "\t\tmeta nfproto %s", family == 4 ? "ipv4" : "ipv6");
		put_addrs(t, family, "saddr", r->src, r->n_src);
		put_addrs(t, family, "daddr", r->dst, r->n_dst);
		if (match[k][0])
			put(t, " %s", match[k]);
		if (k == 0 && !all_ports)
			put_ports(t, r);
		put(t, " accept\n");
	}
}

char *mg_nft_ruleset(const char *table, const char *ifname, const struct mg_filter *f,
                     uint64_t packets, uint64_t bytes)
{
	struct text t = {0};

	/* Adding first makes the delete valid when no table exists (nft 1.0.6 has no destroy). */
	put(&t, "add table inet %s\ndelete table inet %s\n", table, table);
	put(&t, "table inet %s {\n", table);
	put(&t, "\tcounter %s {\n\t\tpackets %" PRIu64 " bytes %" PRIu64 "\n\t}\n",
	    MG_NFT_DROP_COUNTER, packets, bytes);
	put(&t, "\tchain from_mesh {\n");
	put(&t, "\t\tct direction reply ct state established accept\n");
	put(&t, "\t\tct state related meta l4proto { icmp, ipv6-icmp } accept\n");
	for (size_t i = 0; i < f->n_rules; i++) {
		put_rule(&t, &f->rules[i], 4);
		put_rule(&t, &f->rules[i], 6);
	}
	put(&t, "\t\tcounter name \"%s\" drop\n\t}\n", MG_NFT_DROP_COUNTER);
	put(&t,
	    "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
	    "\t\tiifname \"%s\" jump from_mesh\n\t}\n",
	    ifname);
	put(&t,
	    "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
	    "\t\tiifname \"%s\" jump from_mesh\n\t}\n}\n",
	    ifname);
	if (t.oom) {
		free(t.p);
		return NULL;
	}
	return t.p;
}

/* ---- libnftables ---- */

/* nft's own error text, one line, for logs. */
static void copy_error(struct mg_nft *n, const char *what, char *err, size_t errlen)
{
	const char *e = nft_ctx_get_error_buffer(n->ctx);
	char line[256];
	size_t k = 0;

	for (; e && *e && k + 1 < sizeof(line); e++)
		line[k++] = *e == '\n' || *e == '\t' ? ' ' : *e;
	line[k] = '\0';
	snprintf(err, errlen, "%s: %s", what, k ? line : "nft failed");
}

static int run(struct mg_nft *n, const char *cmd)
{
	/* Reset the buffers so each command's text stands alone. */
	nft_ctx_unbuffer_output(n->ctx);
	nft_ctx_unbuffer_error(n->ctx);
	if (nft_ctx_buffer_output(n->ctx) != 0 || nft_ctx_buffer_error(n->ctx) != 0)
		return -1;
	return nft_run_cmd_from_buffer(n->ctx, cmd);
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

struct mg_nft *mg_nft_new(const char *ifname, char *err, size_t errlen)
{
	struct mg_nft *n;

	/* The name goes into nft text unquoted (the table) and quoted (iifname). */
	if (!name_ok(ifname) || strlen(ifname) >= sizeof(n->ifname)) {
		snprintf(err, errlen,
		         "interface name '%.32s' cannot name an nftables table (use letters, "
		         "digits, '_', '-', '.')",
		         ifname);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->ctx = nft_ctx_new(NFT_CTX_DEFAULT))) {
		free(n);
		snprintf(err, errlen, "cannot create an nftables context");
		return NULL;
	}
	snprintf(n->table, sizeof(n->table), "%s%s", MG_NFT_TABLE_PREFIX, ifname);
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifname);
	return n;
}

void mg_nft_free(struct mg_nft *n)
{
	if (!n)
		return;
	nft_ctx_free(n->ctx);
	free(n);
}

int mg_nft_drops(struct mg_nft *n, uint64_t *packets, uint64_t *bytes)
{
	char cmd[128];
	const char *out, *at;

	snprintf(cmd, sizeof(cmd), "list counter inet %s %s", n->table, MG_NFT_DROP_COUNTER);
	if (run(n, cmd) != 0)
		return -1;
	out = nft_ctx_get_output_buffer(n->ctx);
	at = out ? strstr(out, "packets ") : NULL;
	if (!at || sscanf(at, "packets %" SCNu64 " bytes %" SCNu64, packets, bytes) != 2)
		return -1;
	return 0;
}

/*
 * As wg-quick does: the mark of what this host sends marked (wireguard-go's socket, the
 * coordinator connections) goes into conntrack, and comes back onto the replies, so that with
 * src_valid_mark the reverse-path check of a reply looks up the main table, as its request
 * did, instead of the exit node's table, whose default route would make it look spoofed.
 */
static void put_exit_chains(struct text *t, const char *table, uint32_t mark)
{
	put(t,
	    "add chain inet %s exit_premangle { type filter hook prerouting priority mangle; "
	    "policy accept; }\n"
	    "add rule inet %s exit_premangle ct mark 0x%x meta mark set ct mark\n"
	    "add chain inet %s exit_postmangle { type filter hook postrouting priority mangle; "
	    "policy accept; }\n"
	    "add rule inet %s exit_postmangle meta mark 0x%x ct mark set meta mark\n",
	    table, table, mark, table, table, mark);
}

void mg_nft_set_exit_mark(struct mg_nft *n, uint32_t mark)
{
	n->exit_mark = mark;
}

int mg_nft_apply(struct mg_nft *n, const struct mg_filter *f, char *err, size_t errlen)
{
	uint64_t packets = 0, bytes = 0;
	char *rules;
	int rc;

	/* A table left by a killed run counts on too; none yet: from zero. */
	if (mg_nft_drops(n, &packets, &bytes) != 0)
		packets = bytes = 0;
	rules = mg_nft_ruleset(n->table, n->ifname, f, packets, bytes);
	if (!rules) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (n->exit_mark) {
		struct text t = {0};

		put(&t, "%s", rules);
		put_exit_chains(&t, n->table, n->exit_mark);
		free(rules);
		rules = t.p;
		if (t.oom || !rules) {
			free(rules);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	rc = run(n, rules);
	free(rules);
	if (rc != 0) {
		copy_error(n, "loading the nftables table", err, errlen);
		return -1;
	}
	return 0;
}

int mg_nft_remove(struct mg_nft *n, char *err, size_t errlen)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "add table inet %s\ndelete table inet %s\n", n->table, n->table);
	if (run(n, cmd) != 0) {
		copy_error(n, "deleting the nftables table", err, errlen);
		return -1;
	}
	return 0;
}
