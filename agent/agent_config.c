// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's YAML configuration (agent.h lists the keys). It uses the gateway loader's typed
 * readers and its coordinator section, so the two files report errors the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config_yaml.h"
#include "node_config.h"
#include "paths.h"
#include "crypto.h"
#include "keys.h"

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.=+",
		            s[i]))
			return false;
	return true;
}

static int load_key(struct cfg_loader *ld, yaml_node_t *iface, yaml_node_t *node,
                    struct mg_agent_config *cfg)
{
	return cfg_private_key_file(ld, iface, node, "host", cfg->private_key_file,
	                            sizeof(cfg->private_key_file), cfg->private_key);
}

static int load_interface(struct cfg_loader *ld, yaml_node_t *node, struct mg_agent_config *cfg)
{
	static const char *const keys[] = {"name", "private_key_file",     "listen_port",
	                                   "mtu",  "persistent_keepalive", NULL};
	unsigned long v;
	yaml_node_t *n;

	if (!node)
		return cfg_fail(ld, NULL, "interface",
		                "required: name, private_key_file, listen_port");
	if (cfg_check_keys(ld, node, "interface", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "name"))) {
		if (cfg_string(ld, n, "interface.name", "an interface name", cfg->ifname,
		               sizeof(cfg->ifname)) != 0)
			return -1;
		if (!ifname_ok(cfg->ifname))
			return cfg_fail(
			    ld, n, "interface.name",
			    "expected 1..15 letters, digits, '_', '-', '.', '=' or '+', "
			    "got '%s'",
			    cfg->ifname);
	}
	if ((n = cfg_lookup(ld, node, "listen_port"))) {
		if (cfg_uint(ld, n, "interface.listen_port", 1, 65535, &v) != 0)
			return -1;
		cfg->listen_port = (uint16_t)v;
	}
	if ((n = cfg_lookup(ld, node, "mtu"))) {
		if (cfg_uint(ld, n, "interface.mtu", 0, 9000, &v) != 0)
			return -1;
		if (v != 0 && v < 1280)
			return cfg_fail(ld, n, "interface.mtu",
			                "expected 0 (leave it) or 1280..9000, got %lu", v);
		cfg->mtu = (uint16_t)v;
	}
	if ((n = cfg_lookup(ld, node, "persistent_keepalive"))) {
		if (cfg_uint(ld, n, "interface.persistent_keepalive", 0, 65535, &v) != 0)
			return -1;
		cfg->persistent_keepalive = (uint16_t)v;
	}
	return load_key(ld, node, cfg_lookup(ld, node, "private_key_file"), cfg);
}

static int load_root(struct cfg_loader *ld, yaml_node_t *root, struct mg_agent_config *cfg)
{
	static const char *const keys[] = {
	    "interface", "wireguard_go",     "uapi_dir", "coordinator", "log_level",
	    "exit_node", "allow_lan_access", "relay",    "status_file", "stun",
	    NULL};
	static const char *const levels[] = {"error", "warning", "notice", "info", "debug", NULL};
	yaml_node_t *n;

	if (cfg_check_keys(ld, root, "(top level)", keys) != 0)
		return -1;
	if (load_interface(ld, cfg_lookup(ld, root, "interface"), cfg) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "wireguard_go")) &&
	    cfg_string(ld, n, "wireguard_go", "a program path", cfg->wireguard_go,
	               sizeof(cfg->wireguard_go)) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "uapi_dir")) &&
	    cfg_string(ld, n, "uapi_dir", "a directory", cfg->uapi_dir, sizeof(cfg->uapi_dir)) != 0)
		return -1;
	n = cfg_lookup(ld, root, "coordinator");
	if (!n)
		return cfg_fail(ld, root, "coordinator", "required: url and authkey_file");
	if (cfg_load_coordinator(ld, n, &cfg->coord) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "exit_node"))) {
		char name[sizeof(cfg->coord.use_exit_node)];

		if (cfg_string(ld, n, "exit_node", "a peer's name or key", name, sizeof(name)) != 0)
			return -1;
		if (cfg->coord.use_exit_node[0] && strcmp(cfg->coord.use_exit_node, name) != 0)
			return cfg_fail(ld, n, "exit_node",
			                "coordinator.use_exit_node already names '%s'",
			                cfg->coord.use_exit_node);
		memcpy(cfg->coord.use_exit_node, name, sizeof(name));
	}
	if ((n = cfg_lookup(ld, root, "allow_lan_access")) &&
	    cfg_bool(ld, n, "allow_lan_access", &cfg->allow_lan_access) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "relay")) && mg_relay_config_load(ld, n, &cfg->relay) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "stun")) && mg_nat_probe_config_load(ld, n, &cfg->stun) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "status_file")) &&
	    cfg_string(ld, n, "status_file", "a file name", cfg->status_file,
	               sizeof(cfg->status_file)) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "log_level"))) {
		const char *s = cfg_scalar(ld, n, "log_level", "a log level");

		if (!s)
			return -1;
		for (size_t i = 0; levels[i]; i++)
			if (strcmp(s, levels[i]) == 0)
				snprintf(cfg->log_level, sizeof(cfg->log_level), "%s", s);
		if (strcmp(cfg->log_level, s) != 0)
			return cfg_fail(ld, n, "log_level",
			                "expected error, warning, notice, info or debug, got '%s'",
			                s);
	}
	return 0;
}

/* text NULL: read the file at path; else parse text, with path naming it in messages. */
static int load_from(const char *path, const char *text, size_t len, struct mg_agent_config *cfg,
                     char *errbuf, size_t errlen)
{
	char dummy[1];
	struct cfg_loader ld = {
	    .file = path,
	    .owner = cfg,
	    .warnings = cfg->warnings,
	    .warnings_len = sizeof(cfg->warnings),
	    .err = errbuf && errlen ? errbuf : dummy,
	    .errlen = errbuf && errlen ? errlen : sizeof(dummy),
	};
	yaml_document_t doc;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ld.err[0] = '\0';
	snprintf(cfg->ifname, sizeof(cfg->ifname), "mg0");
	cfg->listen_port = 51820;
	snprintf(cfg->uapi_dir, sizeof(cfg->uapi_dir), MG_UAPI_DEFAULT_DIR);
	snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
	if ((text ? cfg_load_buffer(&ld, text, len, &doc) : cfg_load_file(&ld, &doc)) != 0)
		return -1;
	ret = load_root(&ld, yaml_document_get_root_node(&doc), cfg);
	yaml_document_delete(&doc);
	if (ret != 0)
		mg_agent_config_free(cfg);
	return ret;
}

int mg_agent_config_load(const char *path, struct mg_agent_config *cfg, char *errbuf, size_t errlen)
{
	return load_from(path, NULL, 0, cfg, errbuf, errlen);
}

int mg_agent_config_load_buffer(const char *name, const char *text, size_t len,
                                struct mg_agent_config *cfg, char *errbuf, size_t errlen)
{
	return text ? load_from(name, text, len, cfg, errbuf, errlen) : -1;
}

void mg_agent_config_free(struct mg_agent_config *cfg)
{
	wg_memzero(cfg->private_key, sizeof(cfg->private_key));
}
