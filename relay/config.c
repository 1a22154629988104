// SPDX-License-Identifier: GPL-2.0-only
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "config_yaml.h"
#include "keys.h"
#include "log.h"

static struct relay_config *rcfg(struct cfg_loader *ld)
{
	return ld->owner;
}

static void set_defaults(struct relay_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->log_level, sizeof(c->log_level), "info");
	snprintf(c->name, sizeof(c->name), "relay");
	c->max_clients = 20000;
	c->max_clients_per_ip = 64;
	c->handshake_timeout_ms = 10000;
	c->keepalive_s = 30;
	c->idle_timeout_s = 75;
	c->queue_bytes = 256 * 1024;
	c->mesh_queue_bytes = 4 * 1024 * 1024;
	c->stun_rate_per_source = 10;
	c->stun_burst_per_source = 20;
	c->stun_rate_total = 20000;
}

static int load_endpoint(struct cfg_loader *ld, yaml_node_t *n, const char *path,
                         struct mg_sockaddr *out)
{
	const char *s = cfg_scalar(ld, n, path, "an address like 0.0.0.0:443 or [::]:443");

	if (!s)
		return -1;
	if (mg_sockaddr_parse(s, out) != 0 || out->port == 0)
		return cfg_fail(ld, n, path,
		                "expected a numeric ipv4:port or [ipv6]:port, got '%s'", s);
	return 0;
}

/* A 32-byte secret in wg genkey format, in a file nobody else may read. */
static int load_secret_file(struct cfg_loader *ld, yaml_node_t *n, const char *path, char *file,
                            size_t filelen, uint8_t key[32])
{
	struct wg_key_status st;
	char msg[WG_KEY_ERRBUF_SIZE];

	if (cfg_string(ld, n, path, "a file name", file, filelen) != 0)
		return -1;
	if (wg_key_from_file(file, key, &st) != WG_KEY_OK)
		return cfg_fail(ld, n, path, "%s",
		                wg_key_error_format(&st, file, msg, sizeof(msg)));
	if (st.loose_permissions) {
		sodium_memzero(key, 32);
		return cfg_fail(ld, n, path, "%s is readable by group or others; chmod 600 it",
		                file);
	}
	if (sodium_is_zero(key, 32))
		return cfg_fail(ld, n, path, "%s holds an all-zero key", file);
	return 0;
}

static int load_tls(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"cert_file", "key_file", NULL};
	struct relay_config *c = rcfg(ld);
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, "tls", keys) != 0)
		return -1;
	if (!(n = cfg_lookup(ld, node, "cert_file")))
		return cfg_fail(ld, node, "tls.cert_file", "required: the PEM certificate chain");
	if (cfg_string(ld, n, "tls.cert_file", "a file name", c->cert_file, sizeof(c->cert_file)) !=
	    0)
		return -1;
	if (!(n = cfg_lookup(ld, node, "key_file")))
		return cfg_fail(ld, node, "tls.key_file", "required: the PEM private key");
	return cfg_string(ld, n, "tls.key_file", "a file name", c->key_file, sizeof(c->key_file));
}

static int load_u32(struct cfg_loader *ld, yaml_node_t *map, const char *key, unsigned long min,
                    unsigned long max, uint32_t *out)
{
	yaml_node_t *n = cfg_lookup(ld, map, key);
	char path[CFG_PATH_LEN];
	unsigned long v;

	if (!n)
		return 0;
	cfg_join(path, "limits", key);
	if (cfg_uint(ld, n, path, min, max, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int load_limits(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"max_clients",          "max_clients_per_ip",
	                                   "handshake_timeout_ms", "keepalive_seconds",
	                                   "idle_timeout_seconds", "queue_bytes",
	                                   "mesh_queue_bytes",     NULL};
	struct relay_config *c = rcfg(ld);

	if (cfg_check_keys(ld, node, "limits", keys) != 0)
		return -1;
	if (load_u32(ld, node, "max_clients", 1, 1000000, &c->max_clients) ||
	    load_u32(ld, node, "max_clients_per_ip", 1, 1000000, &c->max_clients_per_ip) ||
	    load_u32(ld, node, "handshake_timeout_ms", 100, 120000, &c->handshake_timeout_ms) ||
	    load_u32(ld, node, "keepalive_seconds", 1, 3600, &c->keepalive_s) ||
	    load_u32(ld, node, "idle_timeout_seconds", 2, 7200, &c->idle_timeout_s) ||
	    /* At least one largest frame must fit, or big packets could never pass. */
	    load_u32(ld, node, "queue_bytes", 2 * (RELAY_HDR_LEN + RELAY_MAX_BODY), 1u << 30,
	             &c->queue_bytes) ||
	    load_u32(ld, node, "mesh_queue_bytes", 2 * (RELAY_HDR_LEN + RELAY_MAX_BODY), 1u << 30,
	             &c->mesh_queue_bytes))
		return -1;
	if (c->idle_timeout_s <= c->keepalive_s)
		return cfg_fail(ld, node, "limits.idle_timeout_seconds",
		                "expected more than keepalive_seconds (%u), got %u", c->keepalive_s,
		                c->idle_timeout_s);
	return 0;
}

static int load_peer(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                     struct relay_mesh_peer *p)
{
	static const char *const keys[] = {"name", "address", "server_name", NULL};
	char kp[CFG_PATH_LEN], err[256];
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, path, keys) != 0)
		return -1;
	cfg_join(kp, path, "name");
	if (!(n = cfg_lookup(ld, node, "name")))
		return cfg_fail(ld, node, kp, "required: the peer relay's name (as in its config)");
	if (cfg_string(ld, n, kp, "a name", p->name, sizeof(p->name)) != 0)
		return -1;
	cfg_join(kp, path, "address");
	if (!(n = cfg_lookup(ld, node, "address")))
		return cfg_fail(ld, node, kp, "required: host:port of the peer relay");
	if (cfg_string(ld, n, kp, "host:port", p->address, sizeof(p->address)) != 0)
		return -1;
	if (mg_sockaddr_resolve(p->address, &p->addr, err, sizeof(err)) != 0 || p->addr.port == 0)
		return cfg_fail(ld, n, kp, "expected a reachable host:port, got '%s' (%s)",
		                p->address, err);
	cfg_join(kp, path, "server_name");
	if ((n = cfg_lookup(ld, node, "server_name"))) {
		if (cfg_string(ld, n, kp, "a TLS server name", p->server_name,
		               sizeof(p->server_name)) != 0)
			return -1;
	} else {
		/* The host part of the address. */
		snprintf(p->server_name, sizeof(p->server_name), "%s", p->address);
		char *colon = strrchr(p->server_name, ':');
		if (colon)
			*colon = '\0';
		if (p->server_name[0] == '[') {
			memmove(p->server_name, p->server_name + 1, strlen(p->server_name));
			p->server_name[strcspn(p->server_name, "]")] = '\0';
		}
	}
	return 0;
}

static int load_mesh(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"key_file", "ca_file", "peers", NULL};
	struct relay_config *c = rcfg(ld);
	char kfile[RELAY_PATH_MAX], ipath[CFG_PATH_LEN];
	yaml_node_item_t *items;
	yaml_node_t *n;
	size_t cnt;

	if (cfg_check_keys(ld, node, "mesh", keys) != 0)
		return -1;
	if (!(n = cfg_lookup(ld, node, "key_file")))
		return cfg_fail(
		    ld, node, "mesh.key_file",
		    "required: the region's shared mesh key (wg genkey format, mode 0600)");
	if (load_secret_file(ld, n, "mesh.key_file", kfile, sizeof(kfile), c->mesh_key) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "ca_file")) &&
	    cfg_string(ld, n, "mesh.ca_file", "a file name", c->mesh_ca_file,
	               sizeof(c->mesh_ca_file)) != 0)
		return -1;
	c->mesh = true;
	if (!(n = cfg_lookup(ld, node, "peers")))
		return 0;
	if (cfg_list(ld, n, "mesh.peers", "peer relays", &items, &cnt) != 0)
		return -1;
	if (cnt > RELAY_MAX_MESH_PEERS)
		return cfg_fail(ld, n, "mesh.peers", "expected at most %d peers, got %zu",
		                RELAY_MAX_MESH_PEERS, cnt);
	for (size_t i = 0; i < cnt; i++) {
		cfg_index(ipath, "mesh.peers", i);
		if (load_peer(ld, cfg_item(ld, n, items, i), ipath, &c->peers[i]) != 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->peers[j].name, c->peers[i].name) == 0)
				return cfg_fail(ld, cfg_item(ld, n, items, i), ipath,
				                "peer name '%s' appears twice", c->peers[i].name);
	}
	c->n_peers = cnt;
	return 0;
}

/* stun: listen (one address or a list), and its rate limits (docs/nat-traversal.md). */
static int load_stun(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"listen", "rate_per_source", "burst_per_source",
	                                   "rate_total", NULL};
	static const struct {
		const char *key;
		unsigned long min, max;
		size_t off;
	} lim[] = {
	    {"rate_per_source", 1, 100000, offsetof(struct relay_config, stun_rate_per_source)},
	    {"burst_per_source", 1, 100000, offsetof(struct relay_config, stun_burst_per_source)},
	    {"rate_total", 1, 10000000, offsetof(struct relay_config, stun_rate_total)},
	};
	struct relay_config *c = rcfg(ld);
	char ipath[CFG_PATH_LEN];
	yaml_node_item_t *items;
	yaml_node_t *n;
	size_t cnt;

	if (cfg_check_keys(ld, node, "stun", keys) != 0)
		return -1;
	if (!(n = cfg_lookup(ld, node, "listen")))
		return cfg_fail(ld, node, "stun.listen",
		                "required: the UDP address, like 0.0.0.0:3478, or a list of them");
	if (n->type != YAML_SEQUENCE_NODE) {
		if (load_endpoint(ld, n, "stun.listen", &c->stun_listen[0]) != 0)
			return -1;
		c->n_stun = 1;
	} else {
		if (cfg_list(ld, n, "stun.listen", "UDP addresses", &items, &cnt) != 0)
			return -1;
		if (cnt < 1 || cnt > RELAY_STUN_MAX_LISTEN)
			return cfg_fail(ld, n, "stun.listen", "expected 1 to %d addresses, got %zu",
			                RELAY_STUN_MAX_LISTEN, cnt);
		for (size_t i = 0; i < cnt; i++) {
			cfg_index(ipath, "stun.listen", i);
			if (load_endpoint(ld, cfg_item(ld, n, items, i), ipath,
			                  &c->stun_listen[i]) != 0)
				return -1;
		}
		c->n_stun = cnt;
	}
	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		unsigned long v;
		if (!(n = cfg_lookup(ld, node, lim[i].key)))
			continue;
		cfg_join(ipath, "stun", lim[i].key);
		if (cfg_uint(ld, n, ipath, lim[i].min, lim[i].max, &v) != 0)
			return -1;
		*(uint32_t *)((char *)c + lim[i].off) = (uint32_t)v;
	}
	return 0;
}

static int load_log_level(struct cfg_loader *ld, yaml_node_t *node)
{
	const char *s = cfg_scalar(ld, node, "log_level", "a log level");

	if (!s)
		return -1;
	if (mg_log_level_parse(s) < 0)
		return cfg_fail(ld, node, "log_level",
		                "expected error, warning, notice, info or debug, got '%s'", s);
	snprintf(rcfg(ld)->log_level, sizeof(rcfg(ld)->log_level), "%s", s);
	return 0;
}

static int load_test(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"tap_file", NULL};
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, "test", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "tap_file")))
		return cfg_string(ld, n, "test.tap_file", "a file name", rcfg(ld)->tap_file,
		                  sizeof(rcfg(ld)->tap_file));
	return 0;
}

/* admission: on by default once a coordinator URL is given. */
static int load_admission(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"coordinator", "credential_file", "ca_file", "enabled",
	                                   NULL};
	struct relay_config *c = rcfg(ld);
	char kfile[RELAY_PATH_MAX];
	bool enabled = true;
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, "admission", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "enabled")) &&
	    cfg_bool(ld, n, "admission.enabled", &enabled) != 0)
		return -1;
	if (!(n = cfg_lookup(ld, node, "coordinator")))
		return cfg_fail(ld, node, "admission.coordinator",
		                "required: meshgate-coord's URL, like https://coord.example:8443");
	if (cfg_string(ld, n, "admission.coordinator", "a URL", c->admit_url,
	               sizeof(c->admit_url)) != 0)
		return -1;
	if (strncmp(c->admit_url, "http://", 7) != 0 && strncmp(c->admit_url, "https://", 8) != 0)
		return cfg_fail(ld, n, "admission.coordinator",
		                "expected an http:// or https:// URL, got '%s'", c->admit_url);
	if (!(n = cfg_lookup(ld, node, "credential_file")))
		return cfg_fail(ld, node, "admission.credential_file",
		                "required: the relay credential shared with meshgate-coord "
		                "(its relay_credential_file; wg genkey format, mode 0600)");
	if (load_secret_file(ld, n, "admission.credential_file", kfile, sizeof(kfile),
	                     c->admit_credential) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "ca_file")) &&
	    cfg_string(ld, n, "admission.ca_file", "a file name", c->admit_ca_file,
	               sizeof(c->admit_ca_file)) != 0)
		return -1;
	c->admission = enabled;
	return 0;
}

static int load_root(struct cfg_loader *ld, yaml_node_t *root)
{
	static const char *const keys[] = {
	    "listen", "tls",  "relay_key_file", "metrics_listen", "log_level", "region", "name",
	    "limits", "mesh", "admission",      "test",           "stun",      NULL};
	struct relay_config *c = rcfg(ld);
	char kfile[RELAY_PATH_MAX];
	uint8_t scratch[32];
	yaml_node_t *n;

	if (cfg_check_keys(ld, root, "", keys) != 0)
		return -1;
	if (!(n = cfg_lookup(ld, root, "listen")))
		return cfg_fail(ld, root, "listen", "required: the TLS address, like 0.0.0.0:443");
	if (load_endpoint(ld, n, "listen", &c->listen) != 0)
		return -1;
	if (!(n = cfg_lookup(ld, root, "tls")))
		return cfg_fail(ld, root, "tls", "required: cert_file and key_file");
	if (load_tls(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "relay_key_file"))) {
		if (load_secret_file(ld, n, "relay_key_file", kfile, sizeof(kfile), scratch) != 0)
			return -1;
		sodium_memzero(scratch, sizeof(scratch));
		snprintf(c->relay_key_file, sizeof(c->relay_key_file), "%s", kfile);
	}
	if ((n = cfg_lookup(ld, root, "metrics_listen"))) {
		if (load_endpoint(ld, n, "metrics_listen", &c->metrics) != 0)
			return -1;
		/* Metrics carry no secrets but reveal who is connected: loopback only. */
		if (!(c->metrics.family == 4 && c->metrics.addr[0] == 127) &&
		    !(c->metrics.family == 6 &&
		      memcmp(c->metrics.addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0))
			return cfg_fail(ld, n, "metrics_listen",
			                "expected a loopback address (127.0.0.0/8 or [::1])");
	}
	if ((n = cfg_lookup(ld, root, "log_level")) && load_log_level(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "region")) &&
	    cfg_string(ld, n, "region", "a region name", c->region, sizeof(c->region)) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "name")) &&
	    cfg_string(ld, n, "name", "this relay's name", c->name, sizeof(c->name)) != 0)
		return -1;
	for (const char *p = c->name; n && *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return cfg_fail(ld, n, "name", "expected printable ASCII without spaces");
	if ((n = cfg_lookup(ld, root, "limits")) && load_limits(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "mesh")) && load_mesh(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "admission")) && load_admission(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "stun")) && load_stun(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "test")) && load_test(ld, n) != 0)
		return -1;
	return 0;
}

int relay_config_load(const char *path, struct relay_config *cfg, char *err, size_t errlen)
{
	char dummy[1];
	struct cfg_loader ld = {
	    .file = path,
	    .owner = cfg,
	    .err = err && errlen ? err : dummy,
	    .errlen = err && errlen ? errlen : sizeof(dummy),
	};
	yaml_document_t doc;
	int ret;

	ld.err[0] = '\0';
	set_defaults(cfg);
	ld.warnings = cfg->warnings;
	ld.warnings_len = sizeof(cfg->warnings);
	if (cfg_load_file(&ld, &doc) != 0)
		return -1;
	ret = load_root(&ld, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	if (ret != 0)
		relay_config_free(cfg);
	return ret;
}

void relay_config_free(struct relay_config *cfg)
{
	sodium_memzero(cfg->mesh_key, sizeof(cfg->mesh_key));
	sodium_memzero(cfg->admit_credential, sizeof(cfg->admit_credential));
}
