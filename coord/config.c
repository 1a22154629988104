// SPDX-License-Identifier: GPL-2.0-only
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "yaml_tree.h"

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

struct cfg_ctx {
	const char *path;
	char *err;
	size_t errlen;
};

static bool fail(struct cfg_ctx *x, int line, const char *key, const char *expected,
                 const struct ynode *got)
{
	snprintf(x->err, x->errlen, "%s:%d: key '%s': expected %s%s%s%s", x->path, line, key,
	         expected, got && got->type == Y_SCALAR ? ", got '" : "",
	         got && got->type == Y_SCALAR ? got->scalar : "",
	         got && got->type == Y_SCALAR ? "'" : "");
	return false;
}

static bool get_string(struct cfg_ctx *x, const struct ynode *v, const char *key, char **out)
{
	if (v->type != Y_SCALAR || v->scalar[0] == '\0')
		return fail(x, v->line, key, "a non-empty string", NULL);
	char *s = strdup(v->scalar);
	if (s == NULL)
		return fail(x, v->line, key, "memory", NULL);
	free(*out);
	*out = s;
	return true;
}

static bool get_int(struct cfg_ctx *x, const struct ynode *v, const char *key, long long min,
                    long long max, long long *out)
{
	if (v->type != Y_SCALAR)
		return fail(x, v->line, key, "an integer", NULL);
	char *end;
	errno = 0;
	long long n = strtoll(v->scalar, &end, 10);
	if (errno != 0 || *end != '\0' || end == v->scalar || n < min || n > max) {
		char what[96];
		snprintf(what, sizeof(what), "an integer in %lld..%lld", min, max);
		return fail(x, v->line, key, what, v);
	}
	*out = n;
	return true;
}

static bool get_duration(struct cfg_ctx *x, const struct ynode *v, const char *key, int64_t *out)
{
	int64_t d = v->type == Y_SCALAR ? parse_duration(v->scalar) : -1;
	if (d < 0)
		return fail(x, v->line, key, "a duration such as 30s, 15m, 12h or 90d", v);
	*out = d;
	return true;
}

static bool get_bool(struct cfg_ctx *x, const struct ynode *v, const char *key, bool *out)
{
	if (v->type == Y_SCALAR && strcmp(v->scalar, "true") == 0)
		*out = true;
	else if (v->type == Y_SCALAR && strcmp(v->scalar, "false") == 0)
		*out = false;
	else
		return fail(x, v->line, key, "true or false", v);
	return true;
}

static bool parse_listen(struct cfg_ctx *x, const struct ynode *v, struct coord_config *c)
{
	if (v->type != Y_SCALAR)
		return fail(x, v->line, "listen", "host:port", NULL);
	const char *s = v->scalar, *colon;
	char host[64];
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return fail(x, v->line, "listen", "host:port or [v6]:port", v);
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return fail(x, v->line, "listen", "host:port", v);
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	uint8_t a[16];
	if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
		return fail(x, v->line, "listen", "a numeric IPv4 or IPv6 address and a port", v);
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 0 || port > 65535 || colon[1] == '\0')
		return fail(x, v->line, "listen", "a port in 0..65535", v);
	snprintf(c->listen_host, sizeof(c->listen_host), "%s", host);
	c->listen_port = (int)port;
	return true;
}

static bool parse_prefix(struct cfg_ctx *x, const struct ynode *v, const char *key, int family,
                         struct mg_prefix *out)
{
	char perr[160];
	struct mg_prefix p;
	if (v->type != Y_SCALAR || !prefix_parse(v->scalar, &p, false, perr, sizeof(perr)) ||
	    p.family != family)
		return fail(x, v->line, key,
		            family == 4 ? "an IPv4 prefix inside 100.64.0.0/10"
		                        : "an IPv6 ULA prefix inside fc00::/7",
		            v);
	struct mg_prefix cgnat, ula;
	prefix_parse("100.64.0.0/10", &cgnat, false, perr, sizeof(perr));
	prefix_parse("fc00::/7", &ula, false, perr, sizeof(perr));
	if (family == 4 && (!mg_prefix_contains(&cgnat, &p) || p.len > 24))
		return fail(x, v->line, key, "an IPv4 prefix inside 100.64.0.0/10, /10 to /24", v);
	if (family == 6 && (!mg_prefix_contains(&ula, &p) || p.len > 112))
		return fail(x, v->line, key, "an IPv6 prefix inside fc00::/7, at most /112", v);
	*out = p;
	return true;
}

static bool apply_key(struct cfg_ctx *x, struct coord_config *c, const char *key, int key_line,
                      const struct ynode *v)
{
	long long n;
	if (strcmp(key, "listen") == 0)
		return parse_listen(x, v, c);
	if (strcmp(key, "store") == 0)
		return get_string(x, v, key, &c->store_url);
	if (strcmp(key, "policy_file") == 0)
		return get_string(x, v, key, &c->policy_file);
	if (strcmp(key, "server_key_file") == 0)
		return get_string(x, v, key, &c->server_key_file);
	if (strcmp(key, "replica_name") == 0)
		return get_string(x, v, key, &c->replica_name);
	if (strcmp(key, "allow_plain_http") == 0)
		return get_bool(x, v, key, &c->allow_plain_http);
	if (strcmp(key, "log_level") == 0) {
		int lvl = v->type == Y_SCALAR ? mg_log_level_parse(v->scalar) : -1;
		if (lvl < 0)
			return fail(x, v->line, key, "error, warning, notice, info or debug", v);
		c->log_level = lvl;
		return true;
	}
	if (strcmp(key, "sqlite_synchronous") == 0) {
		if (v->type == Y_SCALAR && strcmp(v->scalar, "full") == 0)
			c->sqlite_sync_full = true;
		else if (v->type == Y_SCALAR && strcmp(v->scalar, "normal") == 0)
			c->sqlite_sync_full = false;
		else
			return fail(x, v->line, key, "full or normal", v);
		return true;
	}
	if (strcmp(key, "node_key_expiry") == 0)
		return get_duration(x, v, key, &c->node_key_expiry);
	if (strcmp(key, "ephemeral_grace") == 0)
		return get_duration(x, v, key, &c->ephemeral_grace);
	if (strcmp(key, "heartbeat") == 0) {
		if (!get_duration(x, v, key, &c->heartbeat))
			return false;
		if (c->heartbeat < 1)
			return fail(x, v->line, key, "at least 1s", v);
		return true;
	}
	if (strcmp(key, "challenge_ttl") == 0)
		return get_duration(x, v, key, &c->challenge_ttl);
	if (strcmp(key, "connection_timeout") == 0) {
		if (!get_duration(x, v, key, &c->connection_timeout))
			return false;
		if (c->connection_timeout < 1)
			return fail(x, v->line, key, "at least 1s", v);
		return true;
	}
	if (strcmp(key, "threads") == 0) {
		if (!get_int(x, v, key, 1, 64, &n))
			return false;
		c->threads = (unsigned)n;
		return true;
	}
	if (strcmp(key, "max_connections") == 0) {
		if (!get_int(x, v, key, 16, 1000000, &n))
			return false;
		c->max_connections = (unsigned)n;
		return true;
	}
	if (strcmp(key, "max_connections_per_ip") == 0) {
		if (!get_int(x, v, key, 0, 1000000, &n))
			return false;
		c->max_connections_per_ip = (int)n;
		return true;
	}
	if (strcmp(key, "max_buffered_bytes") == 0) {
		if (!get_int(x, v, key, 65536, 1LL << 34, &n))
			return false;
		c->max_buffered_bytes = (size_t)n;
		return true;
	}
	if (strcmp(key, "request_timeout") == 0) {
		if (!get_duration(x, v, key, &c->request_timeout))
			return false;
		if (c->request_timeout < 1)
			return fail(x, v->line, key, "at least 1s", v);
		return true;
	}
	if (strcmp(key, "max_body") == 0) {
		if (!get_int(x, v, key, 1024, 64 * 1024 * 1024, &n))
			return false;
		c->max_body = (size_t)n;
		return true;
	}
	if (strcmp(key, "max_policy_body") == 0) {
		if (!get_int(x, v, key, 1024, 64 * 1024 * 1024, &n))
			return false;
		c->max_policy_body = (size_t)n;
		return true;
	}
	if (strcmp(key, "stream_queue_limit") == 0) {
		if (!get_int(x, v, key, 65536, 1LL << 32, &n))
			return false;
		c->stream_queue_limit = (size_t)n;
		return true;
	}
	if (strcmp(key, "tls") == 0) {
		if (v->type != Y_MAP)
			return fail(x, v->line, key, "a mapping with cert and key", v);
		for (size_t i = 0; i < v->n; i++) {
			if (strcmp(v->keys[i], "cert") == 0) {
				if (!get_string(x, v->items[i], "tls.cert", &c->tls_cert))
					return false;
			} else if (strcmp(v->keys[i], "key") == 0) {
				if (!get_string(x, v->items[i], "tls.key", &c->tls_key))
					return false;
			} else {
				return fail(x, v->key_lines[i], v->keys[i], "one of cert, key",
				            NULL);
			}
		}
		return true;
	}
	if (strcmp(key, "prefixes") == 0) {
		if (v->type != Y_MAP)
			return fail(x, v->line, key, "a mapping with v4 and v6", v);
		for (size_t i = 0; i < v->n; i++) {
			if (strcmp(v->keys[i], "v4") == 0) {
				if (!parse_prefix(x, v->items[i], "prefixes.v4", 4, &c->prefix_v4))
					return false;
			} else if (strcmp(v->keys[i], "v6") == 0) {
				if (!parse_prefix(x, v->items[i], "prefixes.v6", 6, &c->prefix_v6))
					return false;
			} else {
				return fail(x, v->key_lines[i], v->keys[i], "one of v4, v6", NULL);
			}
		}
		return true;
	}
	return fail(x, key_line, key,
	            "a known key (listen, tls, allow_plain_http, store, sqlite_synchronous, "
	            "prefixes, policy_file, log_level, replica_name, node_key_expiry, "
	            "ephemeral_grace, heartbeat, challenge_ttl, connection_timeout, threads, "
	            "max_connections, max_connections_per_ip, max_buffered_bytes, "
	            "request_timeout, max_body, max_policy_body, stream_queue_limit, "
	            "server_key_file)",
	            NULL);
}

static char *read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (buf == NULL || n > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

bool config_load(struct coord_config *c, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = read_file(path, 1024 * 1024, &len, err, errlen);
	if (text == NULL)
		return false;
	char perr[256];
	struct ynode *root = ytree_parse(text, len, perr, sizeof(perr));
	free(text);
	if (root == NULL) {
		snprintf(err, errlen, "%s:%s", path, perr + (strncmp(perr, "line ", 5) ? 0 : 5));
		return false;
	}
	struct cfg_ctx x = {.path = path, .err = err, .errlen = errlen};
	bool ok = true;
	/* Unless the file names it, the key file sits next to the config, not in the cwd. */
	free(c->server_key_file);
	c->server_key_file = NULL;
	if (root->type != Y_MAP) {
		snprintf(err, errlen, "%s:%d: expected a mapping at the top level", path,
		         root->line);
		ok = false;
	}
	for (size_t i = 0; ok && i < root->n; i++)
		ok = apply_key(&x, c, root->keys[i], root->key_lines[i], root->items[i]);
	ytree_free(root);
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
	if (ok && (c->tls_cert == NULL) != (c->tls_key == NULL)) {
		snprintf(err, errlen, "%s: key 'tls': expected both cert and key", path);
		ok = false;
	}
	return ok;
}
