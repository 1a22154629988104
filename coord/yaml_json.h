/* SPDX-License-Identifier: GPL-2.0-only */
/* Policies may be written in YAML or JSON; YAML ones are turned into the JSON the policy reads. */
#ifndef MESHGATE_COORD_YAML_JSON_H
#define MESHGATE_COORD_YAML_JSON_H

#include <stddef.h>

#include <jansson.h>

/*
 * Parses one YAML document (base/config_yaml.h's loader: no anchors or aliases, bounded
 * nesting) and converts it: plain true, false, null, ~ and integers become those JSON types,
 * every other scalar a string. NULL with err set ("line N: what") on a syntax error, a key that
 * is not a scalar, a duplicate key, or text that is not UTF-8.
 */
json_t *yaml_text_to_json(const char *text, size_t len, char *err, size_t errlen);

#endif
