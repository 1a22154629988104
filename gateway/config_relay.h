/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The gateway config's relay section: the home relay of the gateway's relay path
 * (gateway/relay_gw.c). The keys are the agent's (agent/relay_path.h), so one relay section
 * reads the same on every node:
 *
 *   relay:
 *     region: fra                 # prefer the coordinator's relay map's relays of this region
 *     ca_file: /etc/meshgate/relay-ca.pem  # default: the system's trust store
 *     direct_timeout: 5           # seconds without a direct handshake before relaying, 1..300
 *     force: false                # true: every peer through the relay
 *     # or a static relay instead of the map's (required without a coordinator):
 *     name: fra-1                 # the relay's name in the relay map (reported as home relay)
 *     host: fra-1.relay.example   # address or DNS name
 *     port: 443
 *     server_name: fra-1.relay.example   # default: host
 *     ca_file: /etc/meshgate/relay-ca.pem  # default: the system's trust store
 *     direct_timeout: 5           # seconds without a direct handshake before relaying, 1..300
 *     force: false                # true: every peer through the relay
 */
#ifndef MESHGATE_GATEWAY_CONFIG_RELAY_H
#define MESHGATE_GATEWAY_CONFIG_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "config_yaml.h"

struct mg_gw_relay_config {
	bool enabled;    /* a relay section is present */
	char name[64];   /* with host only */
	char host[256];  /* "": the relays of the coordinator's relay map */
	char region[64]; /* map relays of this region first; "": every region alike */
	uint16_t port;
	char server_name[256];
	char ca_file[256];
	unsigned direct_timeout_s;
	bool force;
};

int cfg_load_relay(struct cfg_loader *ld, yaml_node_t *node, struct mg_gw_relay_config *cfg);

#endif
