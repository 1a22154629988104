// SPDX-License-Identifier: GPL-2.0-only
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "config_yaml.h"
#include "relay_map.h"
#include <sodium.h>

void config_defaults(struct coord_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	c->listen_port = 8080;
	c->store_url = strdup("sqlite:meshgate-coord.db");
	c->server_key_file = strdup("meshgate-coord-server.key");
	c->sqlite_sync_full = true;
	char err[128];
	prefix_parse("100.64.0.0/10", &c->prefix_v4, false, err, sizeof(err));
	prefix_parse("fd7a:115c:a1e0::/48", &c->prefix_v6, false, err, sizeof(err));
	c->log_level = MG_LOG_INFO;
	c->node_key_expiry = 180 * 86400;
	c->ephemeral_grace = 30;
	c->heartbeat = 15;
	c->challenge_ttl = 60;
	c->max_body = 64 * 1024;
	c->max_policy_body = 1024 * 1024;
	c->connection_timeout = 30;
	c->max_connections = 20000;
	c->max_connections_per_ip = -1;
	c->max_buffered_bytes = 64 * 1024 * 1024;
	c->request_timeout = 30;
	c->stream_queue_limit = 32 * 1024 * 1024;
	c->threads = 1;
}

void config_free(struct coord_config *c)
{
	free(c->tls_cert);
	free(c->tls_key);
	free(c->server_key_file);
	free(c->store_url);
	free(c->policy_file);
	free(c->replica_name);
	free(c->relay_map_json);
	free(c->relay_credential_file);
	sodium_memzero(c->relay_credential, sizeof(c->relay_credential));
	memset(c, 0, sizeof(*c));
}

bool host_is_loopback(const char *host)
{
	uint8_t a[16];
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	static const uint8_t v6_loop[16] = {[15] = 1};
	return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, v6_loop, 16) == 0;
}

static struct coord_config *cc(const struct cfg_loader *ld)
{
	return ld->owner;
}

/* A non-empty string, copied into *out (replacing what was there). */
static int get_string(struct cfg_loader *ld, const yaml_node_t *v, const char *key, char **out)
{
	const char *s = cfg_scalar(ld, v, key, "a non-empty string");
	char *copy;

	if (!s)
		return -1;
	if (!(copy = strdup(s)))
		return cfg_fail(ld, v, key, "out of memory");
	free(*out);
	*out = copy;
	return 0;
}

static int get_duration(struct cfg_loader *ld, const yaml_node_t *v, const char *key, int64_t min,
                        int64_t *out)
{
	const char *s = cfg_scalar(ld, v, key, "a duration such as 30s, 15m, 12h or 90d");
	int64_t d = s ? parse_duration(s) : -1;

	if (!s)
		return -1;
	if (d < 0)
		return cfg_fail(ld, v, key,
		                "expected a duration such as 30s, 15m, 12h or 90d, got '%s'", s);
	if (d < min)
		return cfg_fail(ld, v, key, "expected at least %llds, got '%s'", (long long)min, s);
	*out = d;
	return 0;
}

static int get_size(struct cfg_loader *ld, const yaml_node_t *v, const char *key, unsigned long min,
                    unsigned long max, size_t *out)
{
	unsigned long n;

	if (cfg_uint(ld, v, key, min, max, &n) != 0)
		return -1;
	*out = (size_t)n;
	return 0;
}

/* "host:port" or "[v6]:port"; a bare IPv6 host before the last ':' is accepted too (":::80"). */
static int parse_listen(struct cfg_loader *ld, const yaml_node_t *v)
{
	const char *s = cfg_scalar(ld, v, "listen", "host:port"), *colon;
	char host[64], *end;
	uint8_t a[16];
	long port;

	if (!s)
		return -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return cfg_fail(ld, v, "listen",
			                "expected host:port or [v6]:port, got '%s'", s);
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return cfg_fail(ld, v, "listen", "expected host:port, got '%s'", s);
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
		return cfg_fail(ld, v, "listen",
		                "expected a numeric IPv4 or IPv6 address and a port, got '%s'", s);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 0 || port > 65535 || colon[1] == '\0' ||
	    colon[1] == '+' || colon[1] == '-' || colon[1] == ' ')
		return cfg_fail(ld, v, "listen", "expected a port in 0..65535, got '%s'", s);
	snprintf(cc(ld)->listen_host, sizeof(cc(ld)->listen_host), "%s", host);
	cc(ld)->listen_port = (int)port;
	return 0;
}

static int parse_prefix(struct cfg_loader *ld, const yaml_node_t *v, const char *key, int family,
                        struct mg_prefix *out)
{
	char perr[160];
	struct mg_prefix p, cgnat, ula;
	const char *s = cfg_scalar(ld, v, key, "a prefix");

	if (!s)
		return -1;
	if (!prefix_parse(s, &p, false, perr, sizeof(perr)) || p.family != family)
		return cfg_fail(ld, v, key, "expected %s, got '%s'",
		                family == 4 ? "an IPv4 prefix inside 100.64.0.0/10"
		                            : "an IPv6 ULA prefix inside fc00::/7",
		                s);
	prefix_parse("100.64.0.0/10", &cgnat, false, perr, sizeof(perr));
	prefix_parse("fc00::/7", &ula, false, perr, sizeof(perr));
	if (family == 4 && (!mg_prefix_contains(&cgnat, &p) || p.len > 24))
		return cfg_fail(
		    ld, v, key,
		    "expected an IPv4 prefix inside 100.64.0.0/10, /10 to /24, got '%s'", s);
	if (family == 6 && (!mg_prefix_contains(&ula, &p) || p.len > 112))
		return cfg_fail(ld, v, key,
		                "expected an IPv6 prefix inside fc00::/7, at most /112, got '%s'",
		                s);
	*out = p;
	return 0;
}

static int load_tls(struct cfg_loader *ld, const yaml_node_t *v)
{
	static const char *const keys[] = {"cert", "key", NULL};
	yaml_node_t *n;

	if (cfg_check_keys(ld, v, "tls", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, v, "cert")) && get_string(ld, n, "tls.cert", &cc(ld)->tls_cert))
		return -1;
	if ((n = cfg_lookup(ld, v, "key")) && get_string(ld, n, "tls.key", &cc(ld)->tls_key))
		return -1;
	if ((cc(ld)->tls_cert == NULL) != (cc(ld)->tls_key == NULL))
		return cfg_fail(ld, v, "tls", "expected both cert and key");
	return 0;
}

static int load_prefixes(struct cfg_loader *ld, const yaml_node_t *v)
{
	static const char *const keys[] = {"v4", "v6", NULL};
	yaml_node_t *n;

	if (cfg_check_keys(ld, v, "prefixes", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, v, "v4")) &&
	    parse_prefix(ld, n, "prefixes.v4", 4, &cc(ld)->prefix_v4) != 0)
		return -1;
	if ((n = cfg_lookup(ld, v, "v6")) &&
	    parse_prefix(ld, n, "prefixes.v6", 6, &cc(ld)->prefix_v6) != 0)
		return -1;
	return 0;
}

static int load_choice(struct cfg_loader *ld, const yaml_node_t *v, const char *key)
{
	struct coord_config *c = cc(ld);
	const char *s;

	if (strcmp(key, "log_level") == 0) {
		int lvl;

		if (!(s = cfg_scalar(ld, v, key, "a log level")))
			return -1;
		if ((lvl = mg_log_level_parse(s)) < 0)
			return cfg_fail(ld, v, key,
			                "expected error, warning, notice, info or debug, got '%s'",
			                s);
		c->log_level = lvl;
		return 0;
	}
	if (!(s = cfg_scalar(ld, v, key, "full or normal")))
		return -1;
	if (strcmp(s, "full") != 0 && strcmp(s, "normal") != 0)
		return cfg_fail(ld, v, key, "expected full or normal, got '%s'", s);
	c->sqlite_sync_full = s[0] == 'f';
	return 0;
}

static int load_root(struct cfg_loader *ld, const yaml_node_t *root)
{
	static const char *const keys[] = {"listen",
	                                   "tls",
	                                   "allow_plain_http",
	                                   "store",
	                                   "sqlite_synchronous",
	                                   "prefixes",
	                                   "policy_file",
	                                   "log_level",
	                                   "replica_name",
	                                   "node_key_expiry",
	                                   "ephemeral_grace",
	                                   "heartbeat",
	                                   "challenge_ttl",
	                                   "connection_timeout",
	                                   "threads",
	                                   "max_connections",
	                                   "max_connections_per_ip",
	                                   "max_buffered_bytes",
	                                   "request_timeout",
	                                   "max_body",
	                                   "max_policy_body",
	                                   "stream_queue_limit",
	                                   "server_key_file",
	                                   "relay_map",
	                                   "relay_credential_file",
	                                   NULL};
	struct coord_config *c = cc(ld);
	unsigned long n;
	yaml_node_t *v;

	if (cfg_check_keys(ld, root, "", keys) != 0)
		return -1;
	if ((v = cfg_lookup(ld, root, "listen")) && parse_listen(ld, v) != 0)
		return -1;
	if ((v = cfg_lookup(ld, root, "tls")) && load_tls(ld, v) != 0)
		return -1;
	if ((v = cfg_lookup(ld, root, "allow_plain_http")) &&
	    cfg_bool(ld, v, "allow_plain_http", &c->allow_plain_http) != 0)
		return -1;
	if ((v = cfg_lookup(ld, root, "store")) && get_string(ld, v, "store", &c->store_url))
		return -1;
	if ((v = cfg_lookup(ld, root, "sqlite_synchronous")) &&
	    load_choice(ld, v, "sqlite_synchronous") != 0)
		return -1;
	if ((v = cfg_lookup(ld, root, "prefixes")) && load_prefixes(ld, v) != 0)
		return -1;
	if ((v = cfg_lookup(ld, root, "policy_file")) &&
	    get_string(ld, v, "policy_file", &c->policy_file))
		return -1;
	if ((v = cfg_lookup(ld, root, "server_key_file")) &&
	    get_string(ld, v, "server_key_file", &c->server_key_file))
		return -1;
	if ((v = cfg_lookup(ld, root, "log_level")) && load_choice(ld, v, "log_level") != 0)
		return -1;
	if ((v = cfg_lookup(ld, root, "replica_name")) &&
	    get_string(ld, v, "replica_name", &c->replica_name))
		return -1;
	if (((v = cfg_lookup(ld, root, "node_key_expiry")) &&
	     get_duration(ld, v, "node_key_expiry", 0, &c->node_key_expiry)) ||
	    ((v = cfg_lookup(ld, root, "ephemeral_grace")) &&
	     get_duration(ld, v, "ephemeral_grace", 0, &c->ephemeral_grace)) ||
	    ((v = cfg_lookup(ld, root, "heartbeat")) &&
	     get_duration(ld, v, "heartbeat", 1, &c->heartbeat)) ||
	    ((v = cfg_lookup(ld, root, "challenge_ttl")) &&
	     get_duration(ld, v, "challenge_ttl", 0, &c->challenge_ttl)) ||
	    ((v = cfg_lookup(ld, root, "connection_timeout")) &&
	     get_duration(ld, v, "connection_timeout", 1, &c->connection_timeout)) ||
	    ((v = cfg_lookup(ld, root, "request_timeout")) &&
	     get_duration(ld, v, "request_timeout", 1, &c->request_timeout)))
		return -1;
	if ((v = cfg_lookup(ld, root, "threads"))) {
		if (cfg_uint(ld, v, "threads", 1, 64, &n) != 0)
			return -1;
		c->threads = (unsigned)n;
	}
	if ((v = cfg_lookup(ld, root, "max_connections"))) {
		if (cfg_uint(ld, v, "max_connections", 16, 1000000, &n) != 0)
			return -1;
		c->max_connections = (unsigned)n;
	}
	if ((v = cfg_lookup(ld, root, "max_connections_per_ip"))) {
		if (cfg_uint(ld, v, "max_connections_per_ip", 0, 1000000, &n) != 0)
			return -1;
		c->max_connections_per_ip = (int)n;
	}
	if (((v = cfg_lookup(ld, root, "max_buffered_bytes")) &&
	     get_size(ld, v, "max_buffered_bytes", 65536, 1UL << 34, &c->max_buffered_bytes)) ||
	    ((v = cfg_lookup(ld, root, "max_body")) &&
	     get_size(ld, v, "max_body", 1024, 64UL << 20, &c->max_body)) ||
	    ((v = cfg_lookup(ld, root, "max_policy_body")) &&
	     get_size(ld, v, "max_policy_body", 1024, 64UL << 20, &c->max_policy_body)) ||
	    ((v = cfg_lookup(ld, root, "stream_queue_limit")) &&
	     get_size(ld, v, "stream_queue_limit", 65536, 1UL << 32, &c->stream_queue_limit)))
		return -1;
	if ((v = cfg_lookup(ld, root, "relay_map")) &&
	    relay_map_load(ld, v, &c->relay_map_json) != 0)
		return -1;
	if ((v = cfg_lookup(ld, root, "relay_credential_file")) &&
	    get_string(ld, v, "relay_credential_file", &c->relay_credential_file))
		return -1;
	return 0;
}

/* text NULL: read the file at path; else parse text, with path naming it in messages. */
static bool load_from(struct coord_config *c, const char *path, const char *text, size_t len,
                      char *err, size_t errlen)
{
	char dummy[1];
	struct cfg_loader ld = {
	    .file = path,
	    .owner = c,
	    .err = err && errlen ? err : dummy,
	    .errlen = err && errlen ? errlen : sizeof(dummy),
	};
	yaml_document_t doc;
	bool ok;

	ld.err[0] = '\0';
	/* Unless the file names it, the key file sits next to the config, not in the cwd. */
	free(c->server_key_file);
	c->server_key_file = NULL;
	if ((text ? cfg_load_buffer(&ld, text, len, &doc) : cfg_load_file(&ld, &doc)) != 0)
		return false;
	ok = load_root(&ld, yaml_document_get_root_node(&doc)) == 0;
	yaml_document_delete(&doc);
	if (ok && c->server_key_file == NULL) {
		const char *slash = strrchr(path, '/');
		int dirlen = slash ? (int)(slash - path) : 1;
		size_t n = (size_t)dirlen + 32;
		c->server_key_file = malloc(n);
		if (c->server_key_file != NULL)
			snprintf(c->server_key_file, n, "%.*s/meshgate-coord-server.key", dirlen,
			         slash ? path : ".");
		ok = c->server_key_file != NULL;
	}
	return ok;
}

bool config_load(struct coord_config *c, const char *path, char *err, size_t errlen)
{
	return load_from(c, path, NULL, 0, err, errlen);
}

bool config_load_buffer(struct coord_config *c, const char *name, const char *text, size_t len,
                        char *err, size_t errlen)
{
	return text && load_from(c, name, text, len, err, errlen);
}
