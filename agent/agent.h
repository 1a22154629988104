/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * meshgate agent: joins a stock WireGuard host (wireguard-go here, anything with a UAPI socket)
 * to the mesh. It runs the same coordinator client and map diff engine as the gateway, but its
 * sink drives the interface through /var/run/wireguard/<ifname>.sock, sets the overlay
 * addresses and the routes to peers' allowed IPs through rtnetlink, and enforces the map's
 * packet filter with an nftables table of its own (nft.h), removed when the agent stops (a
 * wireguard-go it did not start, and which outlives it, loses its peers first).
 *
 * Configuration (one YAML file; conf/agent.yaml is an annotated example):
 *
 *   interface:
 *     name: mg0                       # 1..15 characters
 *     private_key_file: /etc/meshgate/agent.key
 *     listen_port: 51820
 *     mtu: 1420                       # optional; 0 or absent: leave the interface's
 *     persistent_keepalive: 25        # optional, seconds, for peers behind NAT
 *   wireguard_go: /usr/bin/wireguard-go   # optional: started when the socket is absent
 *   uapi_dir: /var/run/wireguard          # optional
 *   coordinator:                          # as in the gateway configuration
 *     url: http://coord.example:8080
 *     authkey_file: /etc/meshgate/authkey
 *     state_dir: /var/lib/meshgate        # keeps the node credential across restarts
 *     advertise_routes: [192.168.10.0/24] # optional
 *     exit_node: false
 *     endpoints: [192.0.2.10:51820]       # optional; default: global addresses:listen_port
 *   exit_node: dc-gw1                     # optional: send the internet through this peer
 *   allow_lan_access: false               # with exit_node: keep the LAN off the tunnel
 *   log_level: info
 *   relay: ...                            # optional: relay_path.h
 *   stun: ...                             # optional: nat_probe.h
 *   status_file: /run/meshgate/agent.json # optional: every peer's path, handshake, bytes
 */
#ifndef MESHGATE_CONTROL_AGENT_H
#define MESHGATE_CONTROL_AGENT_H

#include <stdint.h>

#include "node_config.h"
#include "constants.h"
#include "nat_probe.h"
#include "relay_path.h"

struct mg_agent_config {
	char ifname[16];
	char private_key_file[MG_PATH_MAX];
	uint8_t private_key[WG_KEY_LEN];
	uint16_t listen_port;
	uint16_t mtu; /* 0: leave it */
	uint16_t persistent_keepalive;
	char uapi_dir[MG_PATH_MAX];
	char wireguard_go[MG_PATH_MAX]; /* empty: attach only */
	struct mg_coord_config coord;   /* coord.use_exit_node is the top-level exit_node */
	bool allow_lan_access;
	struct mg_relay_config relay;    /* relay: (relay_path.h); enabled false: none */
	struct mg_nat_probe_config stun; /* stun: (nat_probe.h); enabled false: none */
	char status_file[MG_PATH_MAX];   /* empty: none */
	char log_level[16];
	char warnings[1024];
};

/* errbuf gets "FILE:LINE: key.path: expected …". Returns 0 or -1. */
int mg_agent_config_load(const char *path, struct mg_agent_config *cfg, char *errbuf,
                         size_t errlen);
/* The same for text in memory (the fuzz target: no file per input); name stands for FILE. */
int mg_agent_config_load_buffer(const char *name, const char *text, size_t len,
                                struct mg_agent_config *cfg, char *errbuf, size_t errlen);
/* Zeroes the private key. */
void mg_agent_config_free(struct mg_agent_config *cfg);

/*
 * `meshgate agent --config FILE` (argv[0] is "agent" or the program name). Runs until SIGINT
 * or SIGTERM; returns the process exit status.
 */
int mg_agent_main(int argc, char **argv);

#endif
