// SPDX-License-Identifier: GPL-2.0-only
/* The config's filter section (static mode): rules read as the map's, each error naming
 * file:line:key, and refused next to a coordinator. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config_case.h"

/* The base (lines 1-4) then the section from line 5. */
static const char base[] = "interface: {private_key_file: %s, listen_port: 51820}\n"
                           "ports:\n"
                           "  lan: {devargs: lan0, ipv4: 10.1.0.1/24}\n"
                           "  mesh: {devargs: mesh0, ipv4: 203.0.113.2/24}\n";

static void rules(void)
{
	struct mg_config cfg;
	char err[1024], line[256];
	int rc = cfg_case_load("filter:\n"
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

	rc = cfg_case_load("", &cfg, err, sizeof(err));
	CHECK(rc == 0 && !cfg.has_filter, "no section: no policy");
	mg_config_free(&cfg);
	rc = cfg_case_load("filter: []\n", &cfg, err, sizeof(err));
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
	cfg_case_setup("filter", base);
	rules();
	errors();
	cfg_case_teardown();
	return check_done("config_filter");
}
