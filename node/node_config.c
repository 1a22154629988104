// SPDX-License-Identifier: GPL-2.0-only
#include "node_config.h"

#include <string.h>

#include "keys.h"

int cfg_private_key_file(struct cfg_loader *ld, const yaml_node_t *iface, const yaml_node_t *node,
                         const char *who, char *file, size_t filelen, uint8_t key[WG_KEY_LEN])
{
	const char *path = "interface.private_key_file";
	struct wg_key_status st;
	char msg[WG_KEY_ERRBUF_SIZE];

	if (!node)
		return cfg_fail(
		    ld, iface, path,
		    "required: the file with this %s's private key (as written by wg genkey)", who);
	if (cfg_string(ld, node, path, "a file name", file, filelen) != 0)
		return -1;
	if (wg_key_from_file(file, key, &st) != WG_KEY_OK)
		return cfg_fail(ld, node, path, "%s",
		                wg_key_error_format(&st, file, msg, sizeof(msg)));
	if (st.loose_permissions)
		cfg_warn(ld, node, path, "%s is readable by group or others; chmod 600 it", file);
	if (wg_key_is_zero(key))
		return cfg_fail(ld, node, path, "%s holds an all-zero key", file);
	return 0;
}

static int load_routes(struct cfg_loader *ld, yaml_node_t *node, struct mg_coord_config *cc)
{
	const char *path = "coordinator.advertise_routes";
	yaml_node_item_t *items;
	char ipath[CFG_PATH_LEN];
	size_t n;

	if (cfg_list_max(ld, node, path, "prefixes", MG_MAX_ADVERTISED_ROUTES, &items, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = cfg_item(ld, node, items, i);
		struct mg_prefix *p = &cc->advertise_routes[i];

		cfg_index(ipath, path, i);
		if (cfg_prefix(ld, item, ipath, 0, true, p) != 0)
			return -1;
		/* The coordinator refuses routes with host bits; say so here, not at run time. */
		if (mg_prefix_has_host_bits(p))
			return cfg_fail(ld, item, ipath,
			                "expected a network prefix without host bits (such as "
			                "192.168.10.0/24)");
	}
	cc->n_advertise_routes = n;
	cc->advertise_routes_set = true;
	return 0;
}

static int load_endpoints(struct cfg_loader *ld, yaml_node_t *node, struct mg_coord_config *cc)
{
	const char *path = "coordinator.endpoints";
	yaml_node_item_t *items;
	char ipath[CFG_PATH_LEN];
	size_t n;

	if (cfg_list(ld, node, path, "ip:port endpoints", &items, &n) != 0)
		return -1;
	if (n > MG_MAX_REPORTED_ENDPOINTS)
		return cfg_fail(ld, node, path, "expected at most %d endpoints, got %zu",
		                MG_MAX_REPORTED_ENDPOINTS, n);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = cfg_item(ld, node, items, i);
		const char *s;

		cfg_index(ipath, path, i);
		s = cfg_scalar(ld, item, ipath, "an endpoint like 192.0.2.1:51820");
		if (!s)
			return -1;
		if (mg_sockaddr_parse(s, &cc->endpoints[i]) != 0)
			return cfg_fail(ld, item, ipath,
			                "expected a numeric ipv4:port or [ipv6]:port, got '%s'", s);
	}
	cc->n_endpoints = n;
	return 0;
}

int cfg_load_coordinator(struct cfg_loader *ld, yaml_node_t *node, struct mg_coord_config *cc)
{
	static const char *const keys[] = {"url",       "authkey_file",     "state_dir",
	                                   "hostname",  "advertise_routes", "exit_node",
	                                   "endpoints", "use_exit_node",    NULL};
	yaml_node_t *url, *key, *n;
	size_t len;

	if (cfg_check_keys(ld, node, "coordinator", keys) != 0)
		return -1;
	url = cfg_lookup(ld, node, "url");
	key = cfg_lookup(ld, node, "authkey_file");
	if (!url)
		return cfg_fail(
		    ld, node, "coordinator.url",
		    "required: the coordination server, like https://coord.example:8443");
	if (cfg_string(ld, url, "coordinator.url", "a URL", cc->url, sizeof(cc->url)) != 0)
		return -1;
	if (strncmp(cc->url, "https://", 8) != 0 && strncmp(cc->url, "http://", 7) != 0)
		return cfg_fail(ld, url, "coordinator.url",
		                "expected an http:// or https:// URL, got '%s'", cc->url);
	len = strlen(cc->url);
	while (len > 0 && cc->url[len - 1] == '/')
		cc->url[--len] = '\0';
	/* "http://" alone, or slashes only after the scheme, name no server. */
	if (len <= strlen(cc->url[4] == 's' ? "https://" : "http://"))
		return cfg_fail(
		    ld, url, "coordinator.url",
		    "expected a host after the scheme, like https://coord.example:8443");
	if (!key)
		return cfg_fail(ld, node, "coordinator.authkey_file",
		                "required: the file holding the pre-auth key");
	if (cfg_string(ld, key, "coordinator.authkey_file", "a file name", cc->authkey_file,
	               sizeof(cc->authkey_file)) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "state_dir")) &&
	    cfg_string(ld, n, "coordinator.state_dir", "a directory", cc->state_dir,
	               sizeof(cc->state_dir)) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "hostname"))) {
		if (cfg_string(ld, n, "coordinator.hostname", "a host name", cc->hostname,
		               sizeof(cc->hostname)) != 0)
			return -1;
	}
	if ((n = cfg_lookup(ld, node, "advertise_routes")) && load_routes(ld, n, cc) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "exit_node")) &&
	    cfg_bool(ld, n, "coordinator.exit_node", &cc->exit_node) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "endpoints")) && load_endpoints(ld, n, cc) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "use_exit_node")) &&
	    cfg_string(ld, n, "coordinator.use_exit_node", "a peer's name or key",
	               cc->use_exit_node, sizeof(cc->use_exit_node)) != 0)
		return -1;
	return 0;
}
