// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: meshgate-coord's YAML configuration (coord/config.h config_load_buffer, the file
 * loader's parser without a file write per input), loaded over the defaults. The seeds are the
 * coordinator examples in conf/ and a minimal file; each must load, from a file too.
 *
 * Invariants per input:
 *  - on failure the message names the file ("FILE:LINE: ..." or "FILE: ...") and is terminated;
 *  - on success every field is within what docs/coord-admin.md documents: the port, the overlay
 *    prefixes inside 100.64.0.0/10 (/10 to /24) and fc00::/7 (at most /112) with no host bits,
 *    the body and budget limits, the durations, the connection limits, TLS cert and key both
 *    or neither, and a server key file;
 *  - config_free leaves the struct all zero, after success or not.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_driver.h"

#define MAX_SEED_SIZE 65536

static char config_path[300];
static uint64_t loads_ok;

static bool write_input(const uint8_t *data, size_t len)
{
	FILE *f = fopen(config_path, "wb");
	if (f == NULL)
		return false;
	bool ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool prefix_clean(const struct mg_prefix *p)
{
	int bytes = p->family == 4 ? 4 : 16;
	for (int i = 0; i < bytes; i++) {
		int keep = p->len - i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
		if (p->addr[i] & (uint8_t)~mask)
			return false;
	}
	return true;
}

#define FIELD_CHECK(cond) FUZZ_CHECK(cond, "a loaded field is out of range")

static void check_loaded(const struct coord_config *c)
{
	FIELD_CHECK(memchr(c->listen_host, '\0', sizeof(c->listen_host)) != NULL);
	FIELD_CHECK(c->listen_port >= 0 && c->listen_port <= 65535);
	FIELD_CHECK(c->prefix_v4.family == 4 && c->prefix_v4.len >= 10 && c->prefix_v4.len <= 24 &&
	            c->prefix_v4.addr[0] == 100 && (c->prefix_v4.addr[1] & 0xc0) == 64 &&
	            prefix_clean(&c->prefix_v4));
	FIELD_CHECK(c->prefix_v6.family == 6 && c->prefix_v6.len >= 7 && c->prefix_v6.len <= 112 &&
	            (c->prefix_v6.addr[0] & 0xfe) == 0xfc && prefix_clean(&c->prefix_v6));
	FIELD_CHECK(c->max_body >= 1024 && c->max_policy_body >= 1024);
	FIELD_CHECK(c->max_buffered_bytes >= 65536);
	FIELD_CHECK(c->heartbeat >= 1 && c->connection_timeout >= 1 && c->request_timeout >= 1);
	FIELD_CHECK(c->node_key_expiry >= 0 && c->ephemeral_grace >= 0 && c->challenge_ttl >= 0);
	FIELD_CHECK(c->max_connections >= 16 && c->max_connections_per_ip >= -1);
	FIELD_CHECK(c->threads >= 1 && c->threads <= 64);
	FIELD_CHECK(c->stream_queue_limit >= 65536);
	FIELD_CHECK((c->tls_cert == NULL) == (c->tls_key == NULL));
	FIELD_CHECK(c->store_url != NULL && c->store_url[0] != '\0');
	FIELD_CHECK(c->server_key_file != NULL && c->server_key_file[0] != '\0');
	FIELD_CHECK(c->log_level >= 0 && c->log_level <= 4); /* error .. debug */
}

int fuzz_one(const uint8_t *data, size_t len)
{
	struct coord_config c;
	char err[512];
	config_defaults(&c);
	memset(err, 0x55, sizeof(err));
	bool ok = config_load_buffer(&c, config_path, (const char *)data, len, err, sizeof(err));
	if (ok) {
		check_loaded(&c);
		loads_ok++;
		fuzz_outcome("loaded");
	} else {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "the message is terminated");
		FUZZ_CHECK(strncmp(err, config_path, strlen(config_path)) == 0 &&
		               err[strlen(config_path)] == ':',
		           "the message names the file: %s", err);
		/* The kind of refusal, up to the first quote, as the outcome label. */
		static char labels[64][48];
		static size_t nlabels;
		const char *rest = err + strlen(config_path) + 1;
		const char *q = strchr(rest, '\'');
		const char *e = strstr(rest, "expected");
		char label[48];
		snprintf(label, sizeof(label), "%.*s",
		         e   ? 20
		         : q ? (int)(q - rest)
		             : 20,
		         e ? e : rest);
		const char *keep = "refused";
		for (size_t i = 0; i < nlabels; i++)
			if (strcmp(labels[i], label) == 0)
				keep = labels[i];
		if (keep[0] == 'r' && strcmp(keep, "refused") == 0 && nlabels < 64) {
			snprintf(labels[nlabels], sizeof(labels[nlabels]), "%s", label);
			keep = labels[nlabels++];
		}
		fuzz_outcome(keep);
	}
	config_free(&c);
	FUZZ_CHECK(all_zero(&c, sizeof(c)), "config_free clears everything");
	return 0;
}

static void add_file_seed(const char *path, const char *name)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return;
	static char buf[MAX_SEED_SIZE];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	struct coord_config c;
	char err[512];
	config_defaults(&c);
	/* A seed must load as it is (paths it names are only read when the server starts), from
	 * a file as from memory. */
	if (!write_input((const uint8_t *)buf, n) ||
	    !config_load(&c, config_path, err, sizeof(err)))
		fprintf(stderr, "fuzz_coord_config: seed %s does not load: %s\n", name, err);
	config_free(&c);
	config_defaults(&c);
	if (!config_load_buffer(&c, config_path, buf, n, err, sizeof(err)))
		fprintf(stderr, "fuzz_coord_config: seed %s does not load from memory: %s\n", name,
		        err);
	config_free(&c);
	fuzz_seed_add(name, buf, n);
}

int fuzz_init(void)
{
	snprintf(config_path, sizeof(config_path), "%s/coord.yaml", fuzz_scratch_dir());
	char dir[300], path[600];
	snprintf(dir, sizeof(dir), "%s/conf", fuzz_source_root());
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "coord", 5) != 0 || strstr(e->d_name, ".yaml") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		add_file_seed(path, e->d_name);
	}
	if (d != NULL)
		closedir(d);
	static const char minimal[] = "listen: 127.0.0.1:8080\nstore: sqlite:/tmp/x.db\n"
	                              "prefixes:\n  v4: 100.64.0.0/16\n  v6: fd7a:115c:a1e0::/48\n"
	                              "max_buffered_bytes: 1048576\nrequest_timeout: 5s\n"
	                              "max_connections_per_ip: 8\nserver_key_file: /k\n";
	fuzz_seed_add("minimal", minimal, sizeof(minimal) - 1);
	static const char *const tokens[] = {
	    "listen: ",
	    "store: ",
	    "prefixes:\n  v4: ",
	    "  v6: ",
	    "tls:\n  cert: ",
	    "  key: ",
	    "max_body: ",
	    "max_buffered_bytes: ",
	    "request_timeout: ",
	    "heartbeat: ",
	    "threads: ",
	    "max_connections_per_ip: ",
	    "server_key_file: ",
	    "log_level: debug",
	    "100.64.0.0/10",
	    "fc00::/7",
	    "0s",
	    "90d",
	    "-1",
	    "99999999999999999999",
	    "[::1]:0",
	    "\n",
	    ": ",
	    "- ",
	};
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add_str(tokens[i]);
	return 0;
}
