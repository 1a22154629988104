/* SPDX-License-Identifier: GPL-2.0-only */
/* The gateway config's filter section (static mode's packet filter), read by config.c. */
#ifndef MESHGATE_GATEWAY_CONFIG_FILTER_H
#define MESHGATE_GATEWAY_CONFIG_FILTER_H

#include "config_yaml.h"

/* Fills the loader's mg_config.filter; the coordinator section must be loaded already. */
int cfg_load_filter(struct cfg_loader *ld, yaml_node_t *node);

#endif
