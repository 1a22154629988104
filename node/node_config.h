/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The config sections every mesh node has, gateway or agent: the interface's private key file
 * and the coordinator. Read with the typed readers of config_yaml.h, so errors name the line.
 */
#ifndef MESHGATE_NODE_NODE_CONFIG_H
#define MESHGATE_NODE_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config_yaml.h"
#include "constants.h"

#define MG_PATH_MAX 256

#define MG_MAX_ADVERTISED_ROUTES  64
#define MG_MAX_REPORTED_ENDPOINTS 8

/* The coordinator section, shared by the gateway and the agent configurations. */
struct mg_coord_config {
	char url[MG_PATH_MAX];          /* http:// or https://, no trailing '/' */
	char authkey_file[MG_PATH_MAX]; /* the pre-auth key, used only while not registered */
	/*
	 * Where the node credential is kept (node.json, mode 0600), so a restart reuses the
	 * registration instead of spending the pre-auth key again. Empty: not persisted.
	 */
	char state_dir[MG_PATH_MAX];
	char hostname[64]; /* empty: gethostname() */
	/* Routes offered to the mesh. advertise_routes_set false: the caller's default (the
	 * gateway: its LAN port's prefixes; the agent: none). Host bits are cleared. */
	struct mg_prefix advertise_routes[MG_MAX_ADVERTISED_ROUTES];
	size_t n_advertise_routes;
	bool advertise_routes_set;
	bool exit_node; /* also advertise 0.0.0.0/0 and ::/0 */
	/* The peer (name or key) this node asks to use as exit node; "": none. The coordinator
	 * sends that peer's /0 routes only to nodes that asked and that the policy allows. */
	char use_exit_node[64];
	/* SO_MARK on the coordinator connections, so they bypass a default route through the
	 * tunnel (the agent's exit-node policy routing); 0: none. Set by the program, not YAML. */
	uint32_t fwmark;
	/* Endpoints reported to the coordinator; none: derived (mesh port or local addresses). */
	struct mg_sockaddr endpoints[MG_MAX_REPORTED_ENDPOINTS];
	size_t n_endpoints;
};

/*
 * interface.private_key_file of the gateway and the agent: the file name into file, the key it
 * holds into key (wg/keys.h rules, warning on loose permissions, refusing an all-zero key).
 * iface is the interface mapping, for the line of a missing key; who names the host in the
 * "required" message ("gateway", "host").
 */
int cfg_private_key_file(struct cfg_loader *ld, const yaml_node_t *iface, const yaml_node_t *node,
                         const char *who, char *file, size_t filelen, uint8_t key[WG_KEY_LEN]);

/* The coordinator section. */
int cfg_load_coordinator(struct cfg_loader *ld, yaml_node_t *node, struct mg_coord_config *cc);

#endif
