// SPDX-License-Identifier: GPL-2.0-only
/* The config's filter section (static mode): rules read as the map's, each error naming
 * file:line:key, and refused next to a coordinator. */
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

static void rules(void)
{
	struct mg_config cfg;
	char err[1024], line[256];
	int rc = load("filter:\n"
	              "  - src: [10.2.0.0/24, \"fd00:2::/64\"]\n"
	              "    dst: [10.1.0.0/24]\n"
	              "    proto: tcp\n"
	              "    ports: [\"22\", \"8000-8100\", \"8050-8200\"]\n"
	              "  - src: \"*\"\n"
	              "    dst: [10.1.0.5/32]\n"
	              "    proto: icmp\n"
	              "    ports: [\"*\"]\n"
	              "  - {src: [10.2.0.7/32], dst: [10.1.0.0/24], ports: [\"*\"]}\n",
	              &cfg, err, sizeof(err));
	CHECK(rc == 0, "%s", err);
	if (rc != 0)
		return;
	CHECK(cfg.has_filter && cfg.filter.n_rules == 3);
	mg_filter_rule_format(&cfg.filter.rules[0], line, sizeof(line));
	CHECK(strcmp(line, "src 10.2.0.0/24,fd00:2::/64 dst 10.1.0.0/24 tcp 22,8000-8200") == 0,
	      "%s", line);
	CHECK(cfg.filter.rules[1].n_src == 2, "\"*\" is both families");
	CHECK(cfg.filter.rules[2].proto == MG_FILTER_ANY, "proto defaults to any");
	mg_config_free(&cfg);

	rc = load("", &cfg, err, sizeof(err));
	CHECK(rc == 0 && !cfg.has_filter, "no section: no policy");
	mg_config_free(&cfg);
	rc = load("filter: []\n", &cfg, err, sizeof(err));
	CHECK(rc == 0 && cfg.has_filter && cfg.filter.n_rules == 0, "empty: admits nothing new");
	mg_config_free(&cfg);
}

static void errors(void)
{
	EXPECT_ERROR(
	    "filter:\n  - src: [10.2.0.0/24]\n    dst: [10.1.0.1/24]\n    ports: [\"22\"]\n", 7,
	    "filter[0].dst[0]", "host bits");
	EXPECT_ERROR("filter:\n  - src: [10.2.0.0/24]\n    dst: [10.1.0.0/24]\n"
	             "    ports: [\"22\", \"9-3\"]\n",
	             8, "filter[0].ports[1]", "'9-3' is not '*', N or N-M");
	EXPECT_ERROR("filter:\n  - src: [10.2.0.0/24]\n    dst: [10.1.0.0/24]\n    proto: gre\n"
	             "    ports: [\"*\"]\n",
	             8, "filter[0].proto", "gre");
	EXPECT_ERROR("filter:\n  - src: [10.2.0.0/24]\n    dst: [10.1.0.0/24]\n", 6,
	             "filter[0].ports", "required");
	EXPECT_ERROR(
	    "filter:\n  - src: [10.2.0.0/24]\n    dest: [10.1.0.0/24]\n    ports: [\"*\"]\n", 7,
	    "filter[0].dest", "did you mean 'dst'");
	EXPECT_ERROR("filter:\n  - src: [10.2.0.0/24]\n    dst: [10.1.0.0/24]\n    proto: icmp\n"
	             "    ports: [\"22\"]\n",
	             6, "filter[0]", "icmp has no ports");
	EXPECT_ERROR("coordinator: {url: \"https://coord.example:8443\", authkey_file: /k}\n"
	             "filter: []\n",
	             6, "filter", "only for static mode");
}

int main(void)
{
	char text[WG_KEY_B64_SIZE + 2];
	uint8_t priv[WG_KEY_LEN];
	snprintf(dir, sizeof(dir), "/tmp/mg-config-filter-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(conf, sizeof(conf), "%s/conf.yaml", dir);
	snprintf(key, sizeof(key), "%s/private.key", dir);
	wg_key_generate_private(priv, NULL, NULL);
	wg_key_to_base64(text, priv);
	strcat(text, "\n");
	write_file(key, text, 0600);
	rules();
	errors();
	unlink(conf);
	unlink(key);
	rmdir(dir);
	return check_done("config_filter");
}
