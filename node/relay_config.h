/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay section of a node's YAML, read the same by the agent (agent/relay_path.c) and the
 * gateway (gateway/relay_gw.c), so one section means one thing on every node:
 *
 *   relay:
 *     region: fra                 # prefer the coordinator's relay map's relays of this region
 *     ca_file: /etc/meshgate/relay-ca.pem  # default: the system's trust store
 *     direct_timeout: 5           # seconds without a direct handshake before relaying, 1..300
 *     force: false                # true: every peer through the relay
 *     # or a static relay instead of the map's (no failover; required without a coordinator):
 *     name: fra-1                 # the relay's name in the relay map (reported as home relay)
 *     host: fra-1.relay.example   # address or DNS name
 *     port: 443
 *     server_name: fra-1.relay.example   # default: host
 */
#ifndef MESHGATE_NODE_RELAY_CONFIG_H
#define MESHGATE_NODE_RELAY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "config_yaml.h"

struct mg_relay_config {
	bool enabled;    /* a relay section is present */
	char name[64];   /* with host only */
	char host[256];  /* "": the relays of the coordinator's relay map */
	char region[64]; /* map relays of this region first; "": every region alike */
	uint16_t port;
	char server_name[256];
	char ca_file[256];
	unsigned direct_timeout_s;
	bool force;
	uint32_t fwmark; /* not from YAML: the agent sets it while it routes into the tunnel */
};

/* Loads the relay section at node into cfg (zeroed first); -1 with the loader's
 * file:line:key error. */
int mg_relay_config_load(struct cfg_loader *ld, yaml_node_t *node, struct mg_relay_config *cfg);

#endif
