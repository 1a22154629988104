// SPDX-License-Identifier: GPL-2.0-only
/* Typed, error-reporting reads of libyaml document nodes. */
#include "config_yaml.h"

#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

unsigned long cfg_line(const yaml_node_t *node)
{
	return node ? (unsigned long)node->start_mark.line + 1 : 1;
}

int cfg_fail(struct cfg_loader *ld, const yaml_node_t *at, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ld->failed || !ld->err || !ld->errlen)
		goto out;
	n = snprintf(ld->err, ld->errlen, "%s:%lu: %s: ", ld->file, cfg_line(at), path);
	if (n >= 0 && (size_t)n < ld->errlen) {
		va_start(ap, fmt);
		vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
out:
	ld->failed = true;
	return -1;
}

void cfg_warn(struct cfg_loader *ld, const yaml_node_t *at, const char *path, const char *fmt, ...)
{
	char *w = ld->warnings;
	size_t used, room;
	va_list ap;
	int n;

	if (!w || !ld->warnings_len)
		return;
	used = strlen(w);
	room = ld->warnings_len - used;

	/* Warnings that do not fit are dropped whole rather than cut. */
	n = snprintf(w + used, room, "%s%s:%lu: %s: ", used ? "\n" : "", ld->file, cfg_line(at),
	             path);
	if (n < 0 || (size_t)n >= room) {
		w[used] = '\0';
		return;
	}
	va_start(ap, fmt);
	int m = vsnprintf(w + used + n, room - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= room - (size_t)n)
		w[used] = '\0';
}

void cfg_join(char out[CFG_PATH_LEN], const char *parent, const char *key)
{
	snprintf(out, CFG_PATH_LEN, "%s%s%s", parent, *parent ? "." : "", key);
}

void cfg_index(char out[CFG_PATH_LEN], const char *parent, size_t i)
{
	snprintf(out, CFG_PATH_LEN, "%s[%zu]", parent, i);
}

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a value";
	}
}

/* Levenshtein distance, capped: only small distances matter for a suggestion. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33], prev, tmp;

	if (la > 32 || lb > 32)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

static void list_known(const char *const *known, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; known[i] && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", known[i]);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

int cfg_check_keys(struct cfg_loader *ld, const yaml_node_t *node, const char *path,
                   const char *const *known)
{
	yaml_node_pair_t *start, *pair;

	if (node->type != YAML_MAPPING_NODE)
		return cfg_fail(ld, node, *path ? path : "(top level)",
		                "expected a mapping of keys, got %s", node_kind(node));
	start = node->data.mapping.pairs.start;
	for (pair = start; pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
		const char *name, *best = NULL;
		size_t best_d = 3;
		char full[CFG_PATH_LEN], names[512];
		bool found = false;

		if (!key || key->type != YAML_SCALAR_NODE)
			return cfg_fail(ld, key, *path ? path : "(top level)",
			                "expected plain key names, got %s",
			                key ? node_kind(key) : "nothing");
		name = (const char *)key->data.scalar.value;
		cfg_join(full, path, name);
		for (size_t i = 0; known[i]; i++) {
			size_t d = edit_distance(name, known[i]);

			if (d == 0)
				found = true;
			if (d < best_d) {
				best_d = d;
				best = known[i];
			}
		}
		if (!found) {
			list_known(known, names, sizeof(names));
			if (best)
				return cfg_fail(
				    ld, key, full,
				    "unknown key (did you mean '%s'?); expected one of: %s", best,
				    names);
			return cfg_fail(ld, key, full, "unknown key; expected one of: %s", names);
		}
		for (yaml_node_pair_t *earlier = start; earlier < pair; earlier++) {
			yaml_node_t *ek = yaml_document_get_node(ld->doc, earlier->key);

			if (ek && ek->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)ek->data.scalar.value, name) == 0)
				return cfg_fail(ld, key, full,
				                "duplicate key (first given on line %lu)",
				                cfg_line(ek));
		}
	}
	return 0;
}

yaml_node_t *cfg_lookup(struct cfg_loader *ld, const yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(ld->doc, p->value);
	}
	return NULL;
}

static bool is_null(const yaml_node_t *node)
{
	return node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0 &&
	       node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

int cfg_list(struct cfg_loader *ld, yaml_node_t *node, const char *path, const char *what,
             yaml_node_item_t **items, size_t *count)
{
	static yaml_node_item_t none;

	if (node->type == YAML_SEQUENCE_NODE) {
		*items = node->data.sequence.items.start;
		*count = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
		return 0;
	}
	if (is_null(node)) {
		*items = &none;
		*count = 0;
		return 0;
	}
	if (node->type == YAML_SCALAR_NODE) {
		*items = NULL; /* cfg_item returns the scalar itself */
		*count = 1;
		return 0;
	}
	return cfg_fail(ld, node, path, "expected a list of %s, got %s", what, node_kind(node));
}

int cfg_list_max(struct cfg_loader *ld, yaml_node_t *node, const char *path, const char *what,
                 size_t max, yaml_node_item_t **items, size_t *count)
{
	if (cfg_list(ld, node, path, what, items, count) != 0)
		return -1;
	if (*count > max)
		return cfg_fail(ld, node, path, "expected at most %zu %s, got %zu", max, what,
		                *count);
	return 0;
}

yaml_node_t *cfg_item(struct cfg_loader *ld, yaml_node_t *list, yaml_node_item_t *items, size_t i)
{
	return items ? yaml_document_get_node(ld->doc, items[i]) : list;
}

const char *cfg_scalar(struct cfg_loader *ld, const yaml_node_t *node, const char *path,
                       const char *what)
{
	if (node->type != YAML_SCALAR_NODE) {
		cfg_fail(ld, node, path, "expected %s, got %s", what, node_kind(node));
		return NULL;
	}
	if (node->data.scalar.length == 0) {
		cfg_fail(ld, node, path, "expected %s, got nothing", what);
		return NULL;
	}
	if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length) {
		cfg_fail(ld, node, path, "expected %s, got a value with a NUL character", what);
		return NULL;
	}
	return (const char *)node->data.scalar.value;
}

int cfg_string(struct cfg_loader *ld, const yaml_node_t *node, const char *path, const char *what,
               char *dst, size_t dstlen)
{
	const char *s = cfg_scalar(ld, node, path, what);
	size_t n;

	if (!s)
		return -1;
	n = strlen(s);
	if (n >= dstlen)
		return cfg_fail(ld, node, path, "expected %s of at most %zu characters, got %zu",
		                what, dstlen - 1, n);
	memcpy(dst, s, n + 1);
	return 0;
}

int cfg_uint(struct cfg_loader *ld, const yaml_node_t *node, const char *path, unsigned long min,
             unsigned long max, unsigned long *out)
{
	char what[64];
	const char *s;
	unsigned long v = 0;

	snprintf(what, sizeof(what), "an integer %lu..%lu", min, max);
	s = cfg_scalar(ld, node, path, what);
	if (!s)
		return -1;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return cfg_fail(ld, node, path, "expected %s, got '%s'", what, s);
		v = v * 10 + (unsigned long)(*c - '0');
		/* Stopping as soon as v passes max also rules out overflow (max is small). */
		if (v > max)
			return cfg_fail(ld, node, path, "expected %s, got '%s'", what, s);
	}
	if (v < min || v > max)
		return cfg_fail(ld, node, path, "expected %s, got '%s'", what, s);
	*out = v;
	return 0;
}

int cfg_bool(struct cfg_loader *ld, const yaml_node_t *node, const char *path, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
	                                                                       "off"};
	const char *s = cfg_scalar(ld, node, path, "true or false");

	if (!s)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return cfg_fail(ld, node, path, "expected true or false, got '%s'", s);
}

int cfg_prefix(struct cfg_loader *ld, const yaml_node_t *node, const char *path, uint8_t family,
               bool need_len, struct mg_prefix *out)
{
	const char *what;
	const char *s;

	if (family == 4)
		what = need_len ? "an IPv4 address with prefix length like 192.0.2.1/24"
		                : "an IPv4 address or prefix like 192.0.2.1 or 192.0.2.0/24";
	else if (family == 6)
		what = need_len ? "an IPv6 address with prefix length like 2001:db8::1/64"
		                : "an IPv6 address or prefix like 2001:db8::1 or 2001:db8::/64";
	else
		what = need_len ? "an IPv4 or IPv6 address with prefix length like 10.0.0.1/24 or "
		                  "fd00::1/64"
		                : "an IPv4 or IPv6 prefix like 10.0.0.0/8 or fd00::/64";
	s = cfg_scalar(ld, node, path, what);
	if (!s)
		return -1;
	if (mg_prefix_parse(s, out) != 0 || (need_len && !strchr(s, '/')) ||
	    (family && out->family != family))
		return cfg_fail(ld, node, path, "expected %s, got '%s'", what, s);
	return 0;
}

int cfg_addr(struct cfg_loader *ld, const yaml_node_t *node, const char *path, uint8_t family,
             uint8_t *out)
{
	const char *what =
	    family == 4 ? "an IPv4 address like 192.0.2.1" : "an IPv6 address like fe80::1";
	const char *s = cfg_scalar(ld, node, path, what);
	struct mg_prefix p;

	if (!s)
		return -1;
	if (strchr(s, '/') || mg_prefix_parse(s, &p) != 0 || p.family != family)
		return cfg_fail(ld, node, path, "expected %s, got '%s'", what, s);
	memcpy(out, p.addr, family == 4 ? 4 : 16);
	return 0;
}

static int yaml_error(struct cfg_loader *ld, const yaml_parser_t *parser)
{
	const yaml_mark_t *mark = parser->problem ? &parser->problem_mark : &parser->context_mark;

	snprintf(ld->err, ld->errlen, "%s:%lu: YAML syntax error: %s%s%s", ld->file,
	         (unsigned long)mark->line + 1, parser->problem ? parser->problem : "unknown",
	         parser->context ? " " : "", parser->context ? parser->context : "");
	ld->failed = true;
	return -1;
}

/*
 * Refuses what no meshgate file needs and what makes a small file expensive to read: anchors
 * and aliases (a few lines can expand exponentially in whoever walks the tree), and nesting
 * deeper than CFG_MAX_DEPTH (recursive readers). One pass over the events, before the loader.
 */
static int prescan(struct cfg_loader *ld, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, ret = -1;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(ld->err, ld->errlen, "%s: out of memory", ld->file);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev)) {
			yaml_error(ld, &parser);
			goto out;
		}
		yaml_event_type_t t = ev.type;
		unsigned long line = (unsigned long)ev.start_mark.line + 1;
		const yaml_char_t *anchor =
		    t == YAML_SCALAR_EVENT           ? ev.data.scalar.anchor
		    : t == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
		    : t == YAML_MAPPING_START_EVENT  ? ev.data.mapping_start.anchor
		                                     : NULL;
		yaml_event_delete(&ev);
		if (t == YAML_ALIAS_EVENT || anchor) {
			snprintf(
			    ld->err, ld->errlen,
			    "%s:%lu: YAML anchors and aliases are not accepted here; write the "
			    "value out",
			    ld->file, line);
			goto out;
		}
		if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
			if (++depth > CFG_MAX_DEPTH) {
				snprintf(ld->err, ld->errlen,
				         "%s:%lu: nested deeper than %d levels", ld->file, line,
				         CFG_MAX_DEPTH);
				goto out;
			}
		} else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
			depth--;
		} else if (t == YAML_STREAM_END_EVENT) {
			ret = 0;
			goto out;
		}
	}
out:
	yaml_parser_delete(&parser);
	if (ret)
		ld->failed = true;
	return ret;
}

int cfg_load_buffer(struct cfg_loader *ld, const char *text, size_t len, yaml_document_t *doc)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int ret = -1;

	if (prescan(ld, text, len) != 0)
		return -1;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(ld->err, ld->errlen, "%s: out of memory", ld->file);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, doc)) {
		yaml_error(ld, &parser);
		goto out;
	}
	if (!yaml_document_get_root_node(doc)) {
		snprintf(ld->err, ld->errlen,
		         "%s:1: (top level): expected a mapping of keys, got "
		         "an empty file",
		         ld->file);
		yaml_document_delete(doc);
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		yaml_error(ld, &parser);
		yaml_document_delete(doc);
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		snprintf(ld->err, ld->errlen,
		         "%s:%lu: (top level): expected one YAML document, got "
		         "a second one",
		         ld->file, (unsigned long)extra.start_mark.line + 1);
		yaml_document_delete(&extra);
		yaml_document_delete(doc);
		goto out;
	}
	yaml_document_delete(&extra);
	ld->doc = doc;
	ret = 0;
out:
	yaml_parser_delete(&parser);
	return ret;
}

/* Reads the whole file, growing the buffer as it goes (a config is small; the cap is not). */
static char *read_all(FILE *f, size_t *len, const char **why)
{
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap), *grown;

	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (ferror(f)) {
			*why = "cannot read";
			break;
		}
		if (n < cap) {
			*len = n;
			return buf;
		}
		if (cap >= CFG_MAX_FILE) {
			*why = "larger than " CFG_MAX_FILE_TEXT;
			break;
		}
		grown = realloc(buf, cap * 2);
		if (!grown)
			break;
		buf = grown;
		cap *= 2;
	}
	free(buf);
	if (!*why)
		*why = "out of memory";
	return NULL;
}

int cfg_load_file(struct cfg_loader *ld, yaml_document_t *doc)
{
	FILE *f = fopen(ld->file, "rb");
	const char *why = NULL;
	char *text;
	size_t n = 0;
	int ret;

	if (!f) {
		snprintf(ld->err, ld->errlen, "%s: cannot open: %s", ld->file, strerror(errno));
		return -1;
	}
	text = read_all(f, &n, &why);
	fclose(f);
	if (!text) {
		snprintf(ld->err, ld->errlen, "%s: %s", ld->file, why);
		return -1;
	}
	ret = cfg_load_buffer(ld, text, n, doc);
	free(text);
	return ret;
}
