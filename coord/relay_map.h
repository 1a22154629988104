/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay map (regions of meshgate-relay servers, from the config, sent in every full map)
 * and relay admission: a relay holding the shared relay credential asks whether a node key
 * belongs to a node this coordinator knows (docs/coord-protocol.md, "Relays").
 */
#ifndef MESHGATE_COORD_RELAY_MAP_H
#define MESHGATE_COORD_RELAY_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "config_yaml.h"

#define RELAY_NAME_MAX 63

/* `relay_map:` -> the JSON object sent as the map's "relay_map" (caller frees *out). */
int relay_map_load(struct cfg_loader *ld, yaml_node_t *v, char **out);
/* Reads relay_credential_file: 32 bytes in wg genkey format, mode 0600. 0, or -1 with err. */
int relay_credential_read(const char *file, uint8_t out[32], char *err, size_t errlen);
/* A home relay name as a node may report it: 1..63 of [A-Za-z0-9._-]. */
bool relay_name_valid(const char *s);

#endif
