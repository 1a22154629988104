// SPDX-License-Identifier: GPL-2.0-only
/* The config's relay section: defaults, every key, and errors naming file:line:key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "keys.h"

static char dir[64], conf[96], key[96];

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		exit(1);
	chmod(path, mode);
}

/* The base (lines 1-4) then the section from line 5. */
static int load(const char *yaml, struct mg_config *cfg, char *err, size_t errlen)
{
	char text[2048];
	snprintf(text, sizeof(text),
	         "interface: {private_key_file: %s, listen_port: 51820}\n"
	         "ports:\n"
	         "  lan: {devargs: lan0, ipv4: 10.1.0.1/24}\n"
	         "  mesh: {devargs: mesh0, ipv4: 203.0.113.2/24}\n"
	         "%s",
	         key, yaml);
	write_file(conf, text, 0644);
	return mg_config_load(conf, cfg, err, errlen);
}

static void expect_error(int src, const char *yaml, unsigned line, const char *path,
                         const char *want)
{
	struct mg_config cfg;
	char err[1024], prefix[256];
	CHECK(load(yaml, &cfg, err, sizeof(err)) == -1, "case at line %d loaded", src);
	snprintf(prefix, sizeof(prefix), "%s:%u: %s: ", conf, line, path);
	CHECK(strncmp(err, prefix, strlen(prefix)) == 0, "case at line %d: got '%s', expected '%s'",
	      src, err, prefix);
	CHECK(strstr(err, want) != NULL, "case at line %d: '%s' lacks '%s'", src, err, want);
}
#define EXPECT_ERROR(y, l, p, w) expect_error(__LINE__, y, l, p, w)

static void loads(void)
{
	struct mg_config cfg;
	char err[1024];
	CHECK(load("", &cfg, err, sizeof(err)) == 0, "no relay: %s", err);
	CHECK(!cfg.relay.enabled, "relay on without a section");
	mg_config_free(&cfg);

	CHECK(load("relay: {name: r1, host: 10.0.0.1}\n", &cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK(cfg.relay.enabled && strcmp(cfg.relay.name, "r1") == 0 &&
	          strcmp(cfg.relay.host, "10.0.0.1") == 0 && cfg.relay.port == 443 &&
	          cfg.relay.direct_timeout_s == 5 && !cfg.relay.force &&
	          cfg.relay.server_name[0] == 0 && cfg.relay.ca_file[0] == 0,
	      "relay defaults");
	mg_config_free(&cfg);

	CHECK(load("relay:\n  name: fra-1.a_b\n  host: \"fd99::1\"\n  port: 8443\n"
	           "  server_name: relay.test\n  ca_file: /etc/ca.pem\n  direct_timeout: 300\n"
	           "  force: true\n",
	           &cfg, err, sizeof(err)) == 0,
	      "%s", err);
	CHECK(strcmp(cfg.relay.name, "fra-1.a_b") == 0 && strcmp(cfg.relay.host, "fd99::1") == 0 &&
	          cfg.relay.port == 8443 && strcmp(cfg.relay.server_name, "relay.test") == 0 &&
	          strcmp(cfg.relay.ca_file, "/etc/ca.pem") == 0 &&
	          cfg.relay.direct_timeout_s == 300 && cfg.relay.force,
	      "every relay key");
	mg_config_free(&cfg);

	/* Coordinated: no host, the relays come from the coordinator's relay map. */
	CHECK(load("coordinator: {url: \"http://coord:8080\", authkey_file: /k}\n"
	           "relay: {region: fra, ca_file: /etc/ca.pem}\n",
	           &cfg, err, sizeof(err)) == 0,
	      "%s", err);
	CHECK(cfg.relay.enabled && cfg.relay.host[0] == 0 && cfg.relay.name[0] == 0 &&
	          strcmp(cfg.relay.region, "fra") == 0,
	      "relay from the map");
	mg_config_free(&cfg);
}

static void errors(void)
{
	EXPECT_ERROR("relay: {host: a}\n", 5, "relay.name", "required");
	EXPECT_ERROR("relay: {name: r1}\n", 5, "relay.name", "only with relay.host");
	EXPECT_ERROR("relay: {region: fra}\n", 5, "relay.host", "required without a coordinator");
	EXPECT_ERROR("relay: {region: f r}\n", 5, "relay.region", "got 'f r'");
	EXPECT_ERROR("relay:\n  name: r 1\n  host: a\n", 6, "relay.name", "got 'r 1'");
	EXPECT_ERROR("relay:\n  name: r1\n  host: a\n  port: 0\n", 8, "relay.port", "");
	EXPECT_ERROR("relay:\n  name: r1\n  host: a\n  direct_timeout: 301\n", 8,
	             "relay.direct_timeout", "");
	EXPECT_ERROR("relay:\n  name: r1\n  host: a\n  force: maybe\n", 8, "relay.force", "");
	EXPECT_ERROR("relay:\n  name: r1\n  host: a\n  forse: true\n", 8, "relay.forse",
	             "unknown key");
}

int main(void)
{
	char text[WG_KEY_B64_SIZE + 2];
	uint8_t priv[WG_KEY_LEN];
	snprintf(dir, sizeof(dir), "/tmp/mg-config-relay-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(conf, sizeof(conf), "%s/conf.yaml", dir);
	snprintf(key, sizeof(key), "%s/private.key", dir);
	wg_key_generate_private(priv, NULL, NULL);
	wg_key_to_base64(text, priv);
	strcat(text, "\n");
	write_file(key, text, 0600);
	loads();
	errors();
	unlink(conf);
	unlink(key);
	rmdir(dir);
	return check_done("config_relay");
}
