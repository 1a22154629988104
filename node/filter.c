// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet filter model (filter.h). The matcher is a plain loop over rules: it is the
 * reference the enforcers are checked against, so it favours being obviously right over speed.
 */
#include "filter.h"
#include "errbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- matching ---- */

static bool prefix_has(const struct mg_prefix *pf, uint8_t family, const uint8_t *addr)
{
	unsigned full = pf->len / 8, rest = pf->len % 8;

	if (pf->family != family)
		return false;
	if (memcmp(pf->addr, addr, full) != 0)
		return false;
	return rest == 0 || ((pf->addr[full] ^ addr[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

static bool list_has(const struct mg_prefix *list, size_t n, uint8_t family, const uint8_t *addr)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_has(&list[i], family, addr))
			return true;
	return false;
}

static bool is_icmp(uint8_t family, uint8_t proto)
{
	return (family == 4 && proto == MG_IPPROTO_ICMP) ||
	       (family == 6 && proto == MG_IPPROTO_ICMPV6);
}

static bool proto_fits(enum mg_filter_proto rp, const struct mg_filter_packet *p)
{
	switch (rp) {
	case MG_FILTER_ANY:
		return true;
	case MG_FILTER_TCP:
		return p->proto == MG_IPPROTO_TCP;
	case MG_FILTER_UDP:
		return p->proto == MG_IPPROTO_UDP;
	case MG_FILTER_ICMP:
		return is_icmp(p->family, p->proto);
	}
	return false;
}

static bool ports_fit(const struct mg_filter_rule *r, const struct mg_filter_packet *p)
{
	if (r->n_ports == 0)
		return false;
	if (p->proto == MG_IPPROTO_TCP || p->proto == MG_IPPROTO_UDP) {
		for (size_t i = 0; i < r->n_ports; i++)
			if (p->dport >= r->ports[i].lo && p->dport <= r->ports[i].hi)
				return true;
		return false;
	}
	if (is_icmp(p->family, p->proto))
		return true;
	return r->n_ports == 1 && r->ports[0].lo == 0 && r->ports[0].hi == 65535;
}

bool mg_filter_match(const struct mg_filter *f, const struct mg_filter_packet *p)
{
	for (size_t i = 0; i < f->n_rules; i++) {
		const struct mg_filter_rule *r = &f->rules[i];

		if (proto_fits(r->proto, p) && ports_fit(r, p) &&
		    list_has(r->src, r->n_src, p->family, p->src) &&
		    list_has(r->dst, r->n_dst, p->family, p->dst))
			return true;
	}
	return false;
}

/* ---- text ---- */

int mg_filter_parse_prefix(const char *s, struct mg_prefix out[2], size_t *n, char *err,
                           size_t errlen)
{
	if (strcmp(s, "*") == 0) {
		mg_prefix_parse("0.0.0.0/0", &out[0]);
		mg_prefix_parse("::/0", &out[1]);
		*n = 2;
		return 0;
	}
	if (mg_prefix_parse(s, &out[0]) != 0 || !strchr(s, '/'))
		return mg_err(err, errlen, "'%.64s' is not '*' or a prefix like 10.1.0.0/24", s);
	if (mg_prefix_has_host_bits(&out[0]))
		return mg_err(err, errlen, "'%.64s' has host bits set", s);
	*n = 1;
	return 0;
}

/* A decimal port: digits only, at most 65535. */
static const char *parse_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9' && p - s < 5)
		v = v * 10 + (unsigned long)(*p++ - '0');
	if (p == s || (*p >= '0' && *p <= '9') || v > 65535)
		return NULL;
	*out = (uint16_t)v;
	return p;
}

int mg_filter_parse_ports(const char *s, struct mg_port_range *out, char *err, size_t errlen)
{
	const char *p;

	if (strcmp(s, "*") == 0) {
		out->lo = 0;
		out->hi = 65535;
		return 0;
	}
	p = parse_port(s, &out->lo);
	out->hi = out->lo;
	if (p && *p == '-')
		p = parse_port(p + 1, &out->hi);
	if (!p || *p != '\0' || out->hi < out->lo)
		return mg_err(err, errlen, "'%.32s' is not '*', N or N-M with N <= M <= 65535", s);
	return 0;
}

static const char *const proto_names[] = {
    [MG_FILTER_ANY] = "any",
    [MG_FILTER_TCP] = "tcp",
    [MG_FILTER_UDP] = "udp",
    [MG_FILTER_ICMP] = "icmp",
};

int mg_filter_parse_proto(const char *s, enum mg_filter_proto *out, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (strcmp(s, proto_names[i]) == 0) {
			*out = (enum mg_filter_proto)i;
			return 0;
		}
	return mg_err(err, errlen, "'%.32s' is not tcp, udp, icmp or any", s);
}

const char *mg_filter_proto_name(enum mg_filter_proto p)
{
	return (unsigned)p < sizeof(proto_names) / sizeof(proto_names[0]) ? proto_names[p] : "?";
}

/* ---- normal form ---- */

static int prefix_order(const void *a, const void *b)
{
	const struct mg_prefix *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, 16);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/*
 * Sorted by address, then length, a prefix that contains others comes before them, and the
 * last one kept contains any later prefix that an earlier kept one does (prefixes nest or are
 * disjoint): one sweep drops every covered prefix.
 */
static size_t prefixes_normalize(struct mg_prefix *list, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++)
		mg_prefix_mask(&list[i]);
	if (n > 1)
		qsort(list, n, sizeof(*list), prefix_order);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && list[out - 1].len <= list[i].len &&
		    prefix_has(&list[out - 1], list[i].family, list[i].addr))
			continue;
		list[out++] = list[i];
	}
	return out;
}

static int range_order(const void *a, const void *b)
{
	const struct mg_port_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

static size_t ports_normalize(struct mg_port_range *r, size_t n)
{
	size_t out = 0;

	if (n > 1)
		qsort(r, n, sizeof(*r), range_order);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && (unsigned)r[i].lo <= (unsigned)r[out - 1].hi + 1) {
			if (r[i].hi > r[out - 1].hi)
				r[out - 1].hi = r[i].hi;
			continue;
		}
		r[out++] = r[i];
	}
	return out;
}

int mg_filter_rule_normalize(struct mg_filter_rule *r, char *err, size_t errlen)
{
	r->n_src = prefixes_normalize(r->src, r->n_src);
	r->n_dst = prefixes_normalize(r->dst, r->n_dst);
	r->n_ports = ports_normalize(r->ports, r->n_ports);
	if (r->proto == MG_FILTER_ICMP &&
	    !(r->n_ports == 1 && r->ports[0].lo == 0 && r->ports[0].hi == 65535))
		return mg_err(err, errlen, "proto icmp has no ports: expected ports [\"*\"]");
	return 0;
}

/* ---- lifetime ---- */

void mg_filter_rule_free(struct mg_filter_rule *r)
{
	free(r->src);
	free(r->dst);
	free(r->ports);
	memset(r, 0, sizeof(*r));
}

void mg_filter_free(struct mg_filter *f)
{
	for (size_t i = 0; i < f->n_rules; i++)
		mg_filter_rule_free(&f->rules[i]);
	free(f->rules);
	memset(f, 0, sizeof(*f));
}

static void *dup_array(const void *src, size_t n, size_t size, bool *oom)
{
	void *p;

	if (n == 0)
		return NULL;
	p = malloc(n * size);
	if (!p) {
		*oom = true;
		return NULL;
	}
	memcpy(p, src, n * size);
	return p;
}

int mg_filter_copy(struct mg_filter *dst, const struct mg_filter *src)
{
	bool oom = false;

	memset(dst, 0, sizeof(*dst));
	if (src->n_rules == 0)
		return 0;
	dst->rules = calloc(src->n_rules, sizeof(*dst->rules));
	if (!dst->rules)
		return -ENOMEM;
	for (size_t i = 0; i < src->n_rules; i++) {
		const struct mg_filter_rule *s = &src->rules[i];
		struct mg_filter_rule *d = &dst->rules[i];

		*d = *s;
		d->src = dup_array(s->src, s->n_src, sizeof(*s->src), &oom);
		d->dst = dup_array(s->dst, s->n_dst, sizeof(*s->dst), &oom);
		d->ports = dup_array(s->ports, s->n_ports, sizeof(*s->ports), &oom);
		dst->n_rules++;
		if (oom) {
			mg_filter_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

bool mg_filter_equal(const struct mg_filter *a, const struct mg_filter *b)
{
	if (a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++) {
		const struct mg_filter_rule *x = &a->rules[i], *y = &b->rules[i];

		if (x->proto != y->proto || x->n_src != y->n_src || x->n_dst != y->n_dst ||
		    x->n_ports != y->n_ports)
			return false;
		if ((x->n_src && memcmp(x->src, y->src, x->n_src * sizeof(*x->src))) ||
		    (x->n_dst && memcmp(x->dst, y->dst, x->n_dst * sizeof(*x->dst))) ||
		    (x->n_ports && memcmp(x->ports, y->ports, x->n_ports * sizeof(*x->ports))))
			return false;
	}
	return true;
}

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off = *off + (size_t)n < len ? *off + (size_t)n : len;
}

static void format_prefixes(const char *what, const struct mg_prefix *l, size_t n, char *buf,
                            size_t len, size_t *off)
{
	append(buf, len, off, "%s%s", *off ? " " : "", what);
	if (n == 0)
		append(buf, len, off, " (none)");
	for (size_t i = 0; i < n; i++) {
		char text[MG_PREFIX_STRLEN];

		mg_prefix_format(&l[i], text, sizeof(text));
		append(buf, len, off, "%s%s", i ? "," : " ", text);
	}
}

void mg_filter_rule_format(const struct mg_filter_rule *r, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	format_prefixes("src", r->src, r->n_src, buf, len, &off);
	format_prefixes("dst", r->dst, r->n_dst, buf, len, &off);
	append(buf, len, &off, " %s", mg_filter_proto_name(r->proto));
	if (r->n_ports == 0)
		append(buf, len, &off, " (no ports)");
	for (size_t i = 0; i < r->n_ports; i++) {
		if (r->ports[i].lo == 0 && r->ports[i].hi == 65535)
			append(buf, len, &off, "%s*", i ? "," : " ");
		else if (r->ports[i].lo == r->ports[i].hi)
			append(buf, len, &off, "%s%u", i ? "," : " ", r->ports[i].lo);
		else
			append(buf, len, &off, "%s%u-%u", i ? "," : " ", r->ports[i].lo,
			       r->ports[i].hi);
	}
}
