/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internal to the config loader: typed reads of libyaml document nodes. Every reader reports
 * its first failure as "FILE:LINE: key.path: expected …, got '…'" and returns -1; later
 * failures do not overwrite the first.
 */
#ifndef MESHGATE_CONTROL_CONFIG_YAML_H
#define MESHGATE_CONTROL_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "config.h"

/* Longest key path we build ("peers[16383].allowed_ips[99]" and the like). */
#define CFG_PATH_LEN 128

struct cfg_loader {
	const char *file;
	yaml_document_t *doc;
	struct mg_config *cfg;
	char *err;
	size_t errlen;
	bool failed;
};

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

/* A non-empty scalar's text, or NULL after reporting "expected <what>". */
const char *cfg_scalar(struct cfg_loader *ld, const yaml_node_t *node, const char *path,
                       const char *what);
int cfg_string(struct cfg_loader *ld, const yaml_node_t *node, const char *path, const char *what,
               char *dst, size_t dstlen);
int cfg_uint(struct cfg_loader *ld, const yaml_node_t *node, const char *path, unsigned long min,
             unsigned long max, unsigned long *out);
int cfg_bool(struct cfg_loader *ld, const yaml_node_t *node, const char *path, bool *out);
/*
 * interface.private_key_file of the gateway and the agent: the file name into file, the key it
 * holds into key (wg/keys.h rules, warning on loose permissions, refusing an all-zero key).
 * iface is the interface mapping, for the line of a missing key; who names the host in the
 * "required" message ("gateway", "host").
 */
int cfg_private_key_file(struct cfg_loader *ld, const yaml_node_t *iface, const yaml_node_t *node,
                         const char *who, char *file, size_t filelen, uint8_t key[WG_KEY_LEN]);

/* family 4 or 6, or 0 for either. need_len: the "/len" part is required. */
int cfg_prefix(struct cfg_loader *ld, const yaml_node_t *node, const char *path, uint8_t family,
               bool need_len, struct mg_prefix *out);
/* A bare address of one family (a next hop). */
int cfg_addr(struct cfg_loader *ld, const yaml_node_t *node, const char *path, uint8_t family,
             uint8_t *out);

/* The peers list (config_peers.c); own_public_key: this gateway's, which no peer may have. */
int cfg_load_peers(struct cfg_loader *ld, yaml_node_t *node, const uint8_t *own_public_key);
/* The coordinator section (config.c), shared with the agent's configuration. */
int cfg_load_coordinator(struct cfg_loader *ld, yaml_node_t *node, struct mg_coord_config *cc);

#endif
