// SPDX-License-Identifier: GPL-2.0-only
#include "relay_config.h"

#include <string.h>

static int check_name(struct cfg_loader *ld, yaml_node_t *n, const char *path, const char *v)
{
	if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
	    strlen(v))
		return cfg_fail(ld, n, path, "expected 1..63 of A-Z a-z 0-9 . _ -, got '%s'", v);
	return 0;
}

int mg_relay_config_load(struct cfg_loader *ld, yaml_node_t *node, struct mg_relay_config *cfg)
{
	static const char *const keys[] = {"name",        "host",    "port",
	                                   "server_name", "ca_file", "direct_timeout",
	                                   "force",       "region",  NULL};
	unsigned long v;
	yaml_node_t *n;

	memset(cfg, 0, sizeof(*cfg));
	cfg->port = 443;
	cfg->direct_timeout_s = 5;
	if (cfg_check_keys(ld, node, "relay", keys) != 0)
		return -1;
	/* Without host the relays come from the coordinator's relay map; with it, this one
	 * relay is used whatever the map says (a static override). */
	if ((n = cfg_lookup(ld, node, "host")) &&
	    cfg_string(ld, n, "relay.host", "a host", cfg->host, sizeof(cfg->host)) != 0)
		return -1;
	n = cfg_lookup(ld, node, "name");
	if (!n && cfg->host[0])
		return cfg_fail(ld, node, "relay.name",
		                "required with relay.host: the relay's name in the relay map");
	if (n &&
	    (cfg_string(ld, n, "relay.name", "a relay name", cfg->name, sizeof(cfg->name)) != 0 ||
	     check_name(ld, n, "relay.name", cfg->name) != 0))
		return -1;
	if (n && !cfg->host[0])
		return cfg_fail(
		    ld, n, "relay.name",
		    "only with relay.host; to prefer relays of the map, use relay.region");
	if ((n = cfg_lookup(ld, node, "region")) &&
	    (cfg_string(ld, n, "relay.region", "a region code", cfg->region, sizeof(cfg->region)) !=
	         0 ||
	     check_name(ld, n, "relay.region", cfg->region) != 0))
		return -1;
	if ((n = cfg_lookup(ld, node, "port"))) {
		if (cfg_uint(ld, n, "relay.port", 1, 65535, &v) != 0)
			return -1;
		cfg->port = (uint16_t)v;
	}
	if ((n = cfg_lookup(ld, node, "server_name")) &&
	    cfg_string(ld, n, "relay.server_name", "a TLS name", cfg->server_name,
	               sizeof(cfg->server_name)) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "ca_file")) &&
	    cfg_string(ld, n, "relay.ca_file", "a file name", cfg->ca_file, sizeof(cfg->ca_file)) !=
	        0)
		return -1;
	if ((n = cfg_lookup(ld, node, "direct_timeout"))) {
		if (cfg_uint(ld, n, "relay.direct_timeout", 1, 300, &v) != 0)
			return -1;
		cfg->direct_timeout_s = (unsigned)v;
	}
	if ((n = cfg_lookup(ld, node, "force")) && cfg_bool(ld, n, "relay.force", &cfg->force) != 0)
		return -1;
	cfg->enabled = true;
	return 0;
}
