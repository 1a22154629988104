/* SPDX-License-Identifier: GPL-2.0-only */
/* The gateway config's static peers list, read by config.c's loader. */
#ifndef MESHGATE_GATEWAY_CONFIG_PEERS_H
#define MESHGATE_GATEWAY_CONFIG_PEERS_H

#include <stdint.h>

#include "config_yaml.h"

/* own_public_key: this gateway's, which no peer may have. Fills the loader's mg_config. */
int cfg_load_peers(struct cfg_loader *ld, yaml_node_t *node, const uint8_t *own_public_key);

#endif
