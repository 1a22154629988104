// SPDX-License-Identifier: GPL-2.0-only
#include "yaml_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define YTREE_MAX_DEPTH 32

struct yparse {
	yaml_parser_t parser;
	char *err;
	size_t errlen;
};

static void ynode_free_items(struct ynode *n)
{
	for (size_t i = 0; i < n->n; i++) {
		ytree_free(n->items[i]);
		if (n->keys)
			free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->key_lines);
}

void ytree_free(struct ynode *n)
{
	if (n == NULL)
		return;
	ynode_free_items(n);
	free(n->scalar);
	free(n);
}

static bool next_event(struct yparse *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&p->parser, ev)) {
		snprintf(p->err, p->errlen, "line %zu: %s", p->parser.problem_mark.line + 1,
		         p->parser.problem ? p->parser.problem : "YAML syntax error");
		return false;
	}
	return true;
}

static bool append(struct ynode *parent, struct ynode *child, char *key, int key_line)
{
	struct ynode **items = realloc(parent->items, (parent->n + 1) * sizeof(*items));
	if (items == NULL)
		return false;
	parent->items = items;
	if (parent->type == Y_MAP) {
		char **keys = realloc(parent->keys, (parent->n + 1) * sizeof(*keys));
		if (keys == NULL)
			return false;
		parent->keys = keys;
		int *lines = realloc(parent->key_lines, (parent->n + 1) * sizeof(*lines));
		if (lines == NULL)
			return false;
		parent->key_lines = lines;
		keys[parent->n] = key;
		lines[parent->n] = key_line;
	}
	items[parent->n++] = child;
	return true;
}

/* Builds the node that starts with ev (already consumed). */
static struct ynode *build(struct yparse *p, yaml_event_t *ev, int depth)
{
	if (depth > YTREE_MAX_DEPTH) {
		snprintf(p->err, p->errlen, "line %zu: nesting deeper than %d",
		         ev->start_mark.line + 1, YTREE_MAX_DEPTH);
		return NULL;
	}
	struct ynode *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->line = (int)ev->start_mark.line + 1;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n->type = Y_SCALAR;
		n->scalar = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		if (n->scalar == NULL)
			goto fail;
		return n;
	case YAML_ALIAS_EVENT:
		snprintf(p->err, p->errlen, "line %d: aliases are not supported", n->line);
		goto fail;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool is_map = ev->type == YAML_MAPPING_START_EVENT;
		n->type = is_map ? Y_MAP : Y_SEQ;
		if ((is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor) !=
		    NULL) {
			snprintf(p->err, p->errlen, "line %d: anchors are not supported", n->line);
			goto fail;
		}
		for (;;) {
			yaml_event_t cev;
			if (!next_event(p, &cev))
				goto fail;
			if (cev.type == YAML_SEQUENCE_END_EVENT ||
			    cev.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&cev);
				return n;
			}
			char *key = NULL;
			int key_line = 0;
			if (is_map) {
				if (cev.type != YAML_SCALAR_EVENT) {
					snprintf(p->err, p->errlen,
					         "line %zu: mapping keys must be plain scalars",
					         cev.start_mark.line + 1);
					yaml_event_delete(&cev);
					goto fail;
				}
				key = strndup((const char *)cev.data.scalar.value,
				              cev.data.scalar.length);
				key_line = (int)cev.start_mark.line + 1;
				yaml_event_delete(&cev);
				if (key == NULL)
					goto fail;
				for (size_t i = 0; i < n->n; i++)
					if (strcmp(n->keys[i], key) == 0) {
						snprintf(p->err, p->errlen,
						         "line %d: duplicate key '%s'", key_line,
						         key);
						free(key);
						goto fail;
					}
				if (!next_event(p, &cev)) {
					free(key);
					goto fail;
				}
			}
			struct ynode *child = build(p, &cev, depth + 1);
			yaml_event_delete(&cev);
			if (child == NULL || !append(n, child, key, key_line)) {
				ytree_free(child);
				free(key);
				goto fail;
			}
		}
	}
	default:
		snprintf(p->err, p->errlen, "line %d: unexpected YAML event", n->line);
		goto fail;
	}
fail:
	ytree_free(n);
	return NULL;
}

struct ynode *ytree_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct yparse p = {.err = err, .errlen = errlen};
	snprintf(err, errlen, "out of memory");
	if (!yaml_parser_initialize(&p.parser))
		return NULL;
	yaml_parser_set_input_string(&p.parser, (const unsigned char *)text, len);
	struct ynode *root = NULL;
	yaml_event_t ev;
	/* Stream start, document start, then the root node. */
	for (;;) {
		if (!next_event(&p, &ev))
			goto out;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			snprintf(err, errlen, "line 1: the document is empty");
			goto out;
		}
		root = build(&p, &ev, 0);
		yaml_event_delete(&ev);
		break;
	}
out:
	yaml_parser_delete(&p.parser);
	return root;
}

struct ynode *ytree_get(const struct ynode *map, const char *key)
{
	if (map == NULL || map->type != Y_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return map->items[i];
	return NULL;
}

static json_t *scalar_to_json(const struct ynode *n)
{
	const char *s = n->scalar;
	if (!n->quoted) {
		if (strcmp(s, "true") == 0)
			return json_true();
		if (strcmp(s, "false") == 0)
			return json_false();
		if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || *s == '\0')
			return json_null();
		char *end;
		errno = 0;
		long long v = strtoll(s, &end, 10);
		if (*end == '\0' && errno == 0 && end != s)
			return json_integer(v);
	}
	return json_string(s);
}

json_t *ytree_to_json(const struct ynode *n)
{
	if (n->type == Y_SCALAR)
		return scalar_to_json(n);
	json_t *out = n->type == Y_SEQ ? json_array() : json_object();
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n->n; i++) {
		json_t *v = ytree_to_json(n->items[i]);
		if (v == NULL ||
		    (n->type == Y_SEQ ? json_array_append_new(out, v)
		                      : json_object_set_new(out, n->keys[i], v)) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}
