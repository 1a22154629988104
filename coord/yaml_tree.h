/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A YAML document loaded into a small tree with line numbers (libyaml), so that config and
 * policy errors can name the line. Anchors and aliases are refused: nothing here needs them and
 * they allow exponential documents.
 */
#ifndef MESHGATE_COORD_YAML_TREE_H
#define MESHGATE_COORD_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum ynode_type { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ynode_type type;
	int line; /* 1-based */
	char *scalar;
	bool quoted;
	size_t n;
	char **keys;          /* Y_MAP: n keys */
	int *key_lines;       /* Y_MAP: n lines */
	struct ynode **items; /* Y_SEQ and Y_MAP: n values */
};

/* Parses one document from memory; NULL with err set ("line N: what") on failure. */
struct ynode *ytree_parse(const char *text, size_t len, char *err, size_t errlen);
void ytree_free(struct ynode *n);
/* The value under key in a mapping, or NULL. */
struct ynode *ytree_get(const struct ynode *map, const char *key);
/* Converts to JSON: plain scalars true/false/null/integers become those types, others strings. */
json_t *ytree_to_json(const struct ynode *n);

#endif
