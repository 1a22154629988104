// SPDX-License-Identifier: GPL-2.0-only
/* The config's relay section: defaults, every key, and errors naming file:line:key. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config_case.h"

/* The base (lines 1-4) then the section from line 5. */
static const char base[] = "interface: {private_key_file: %s, listen_port: 51820}\n"
                           "ports:\n"
                           "  lan: {devargs: lan0, ipv4: 10.1.0.1/24}\n"
                           "  mesh: {devargs: mesh0, ipv4: 203.0.113.2/24}\n";

static void loads(void)
{
	struct mg_config cfg;
	char err[1024];
	CHECK(cfg_case_load("", &cfg, err, sizeof(err)) == 0, "no relay: %s", err);
	CHECK(!cfg.relay.enabled, "relay on without a section");
	mg_config_free(&cfg);

	CHECK(cfg_case_load("relay: {name: r1, host: 10.0.0.1}\n", &cfg, err, sizeof(err)) == 0,
	      "%s", err);
	CHECK(cfg.relay.enabled && strcmp(cfg.relay.name, "r1") == 0 &&
	          strcmp(cfg.relay.host, "10.0.0.1") == 0 && cfg.relay.port == 443 &&
	          cfg.relay.direct_timeout_s == 5 && !cfg.relay.force &&
	          cfg.relay.server_name[0] == 0 && cfg.relay.ca_file[0] == 0,
	      "relay defaults");
	mg_config_free(&cfg);

	CHECK(cfg_case_load(
	          "relay:\n  name: fra-1.a_b\n  host: \"fd99::1\"\n  port: 8443\n"
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
	CHECK(cfg_case_load("coordinator: {url: \"http://coord:8080\", authkey_file: /k}\n"
	                    "relay: {region: fra, ca_file: /etc/ca.pem}\n",
	                    &cfg, err, sizeof(err)) == 0,
	      "%s", err);
	CHECK(cfg.relay.enabled && cfg.relay.host[0] == 0 && cfg.relay.name[0] == 0 &&
	          strcmp(cfg.relay.region, "fra") == 0,
	      "relay from the map");
	mg_config_free(&cfg);
	/* stun: without servers: the relay map's STUN ports, the relay section's region first. */
	CHECK(cfg_case_load("coordinator: {url: \"http://coord:8080\", authkey_file: /k}\n"
	                    "relay: {region: fra}\nstun: {interval: 2}\n",
	                    &cfg, err, sizeof(err)) == 0,
	      "%s", err);
	CHECK(cfg.stun.enabled && cfg.stun.from_map && cfg.stun.n_servers == 0 &&
	          cfg.stun.interval_s == 2 && strcmp(cfg.stun.region, "fra") == 0,
	      "stun from the map");
	mg_config_free(&cfg);
	CHECK(cfg_case_load("coordinator: {url: \"http://coord:8080\", authkey_file: /k}\n"
	                    "stun: {servers: [192.0.2.1:3478]}\n",
	                    &cfg, err, sizeof(err)) == 0,
	      "%s", err);
	CHECK(cfg.stun.enabled && !cfg.stun.from_map && cfg.stun.n_servers == 1,
	      "a config list wins");
	mg_config_free(&cfg);
}

static void errors(void)
{
	EXPECT_ERROR("relay: {host: a}\n", 5, "relay.name", "required");
	EXPECT_ERROR("relay: {name: r1}\n", 5, "relay.name", "only with relay.host");
	EXPECT_ERROR("relay: {region: fra}\n", 5, "relay.host", "required without a coordinator");
	EXPECT_ERROR("relay: {region: f r}\n", 5, "relay.region", "got 'f r'");
	EXPECT_ERROR("stun: {interval: 3}\n", 5, "stun.servers", "required without a coordinator");
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
	cfg_case_setup("relay", base);
	loads();
	errors();
	cfg_case_teardown();
	return check_done("config_relay");
}
