/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Typed reads of libyaml document nodes, for every program's YAML config. Every reader reports
 * its first failure as "FILE:LINE: key.path: expected …, got '…'" and returns -1; later
 * failures do not overwrite the first.
 */
#ifndef MESHGATE_BASE_CONFIG_YAML_H
#define MESHGATE_BASE_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "addr.h"

/* Longest key path we build ("peers[16383].allowed_ips[99]" and the like). */
#define CFG_PATH_LEN 128

struct cfg_loader {
	const char *file;
	yaml_document_t *doc;
	void *owner;    /* the struct being filled, for the section readers */
	char *warnings; /* '\n'-separated "FILE:LINE: key: ..." lines; NULL: warnings dropped */
	size_t warnings_len;
	char *err;
	size_t errlen;
	bool failed;
};

/* Nesting deeper than this is refused before any reader recurses into it. */
#define CFG_MAX_DEPTH 32
/* The largest file read: a gateway with 100,000 static prefixes needs a few MiB. */
#define CFG_MAX_FILE      (64u << 20)
#define CFG_MAX_FILE_TEXT "64 MiB"

/*
 * Opens and parses ld->file, which must hold exactly one YAML document; sets ld->doc. The
 * caller deletes doc. Errors ("FILE:LINE: YAML syntax error: ...") go to ld->err. Anchors and
 * aliases are refused (a few lines could expand exponentially), and so is nesting deeper
 * than CFG_MAX_DEPTH.
 */
int cfg_load_file(struct cfg_loader *ld, yaml_document_t *doc);
/* The same for text in memory (an uploaded policy); ld->file names it in messages. */
int cfg_load_buffer(struct cfg_loader *ld, const char *text, size_t len, yaml_document_t *doc);

/* The 1-based line a node starts on. */
unsigned long cfg_line(const yaml_node_t *node);

int cfg_fail(struct cfg_loader *ld, const yaml_node_t *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cfg_warn(struct cfg_loader *ld, const yaml_node_t *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "parent.key" (or "key" at the top) and "parent[i]". */
void cfg_join(char out[CFG_PATH_LEN], const char *parent, const char *key);
void cfg_index(char out[CFG_PATH_LEN], const char *parent, size_t i);

/*
 * Checks that node is a mapping whose keys are scalars, each listed in known (NULL-terminated)
 * and none repeated. Unknown keys get a did-you-mean when one is close.
 */
int cfg_check_keys(struct cfg_loader *ld, const yaml_node_t *node, const char *path,
                   const char *const *known);
/* The value of key in an already checked mapping, or NULL. */
yaml_node_t *cfg_lookup(struct cfg_loader *ld, const yaml_node_t *map, const char *key);

/*
 * The items of a list; a lone scalar counts as a list of one. *items is an array of node ids
 * for cfg_item.
 */
int cfg_list(struct cfg_loader *ld, yaml_node_t *node, const char *path, const char *what,
             yaml_node_item_t **items, size_t *count);
yaml_node_t *cfg_item(struct cfg_loader *ld, yaml_node_t *list, yaml_node_item_t *items, size_t i);
/* cfg_list with a bound: more than max items is "expected at most <max> <what>, got <n>". */
int cfg_list_max(struct cfg_loader *ld, yaml_node_t *node, const char *path, const char *what,
                 size_t max, yaml_node_item_t **items, size_t *count);

/* A non-empty scalar's text, or NULL after reporting "expected <what>". */
const char *cfg_scalar(struct cfg_loader *ld, const yaml_node_t *node, const char *path,
                       const char *what);
int cfg_string(struct cfg_loader *ld, const yaml_node_t *node, const char *path, const char *what,
               char *dst, size_t dstlen);
int cfg_uint(struct cfg_loader *ld, const yaml_node_t *node, const char *path, unsigned long min,
             unsigned long max, unsigned long *out);
int cfg_bool(struct cfg_loader *ld, const yaml_node_t *node, const char *path, bool *out);
/* family 4 or 6, or 0 for either. need_len: the "/len" part is required. */
int cfg_prefix(struct cfg_loader *ld, const yaml_node_t *node, const char *path, uint8_t family,
               bool need_len, struct mg_prefix *out);
/* A bare address of one family (a next hop). */
int cfg_addr(struct cfg_loader *ld, const yaml_node_t *node, const char *path, uint8_t family,
             uint8_t *out);

#endif
