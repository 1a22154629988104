/* SPDX-License-Identifier: GPL-2.0-only */
/* The gateway config's exit section (exit-node NAT), read by config.c's loader. */
#ifndef MESHGATE_GATEWAY_CONFIG_EXIT_H
#define MESHGATE_GATEWAY_CONFIG_EXIT_H

#include "config_yaml.h"

/* Fills the loader's mg_config.exit; ports, interface and lcores must be loaded already. */
int cfg_load_exit(struct cfg_loader *ld, yaml_node_t *node);

#endif
