// SPDX-License-Identifier: GPL-2.0-only
/* The config's exit section: every key read, and each error naming file:line:key. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config_case.h"

/* The base (lines 1-6) then the exit section from line 7. */
static const char base[] = "interface: {private_key_file: %s, listen_port: 51820}\n"
                           "ports:\n"
                           "  lan: {devargs: lan0, ipv4: 10.0.0.1/24}\n"
                           "  mesh: {devargs: mesh0, ipv4: 203.0.113.2/24, gateway4: 203.0.113.1,\n"
                           "         ipv6: \"2001:db8::2/64\"}\n"
                           "lcores: {control: 0, workers: [1, 2]}\n";

static void every_key(void)
{
	struct mg_config cfg;
	char err[1024];
	int rc = cfg_case_load(
	    "exit:\n"
	    "  uplink: mesh\n"
	    "  next_hop4: 203.0.113.254\n"
	    "  next_hop6: \"2001:db8::1\"\n"
	    "  ipv4_pool: [198.51.100.1, 198.51.100.2]\n"
	    "  ipv6_address: \"2001:db8:1::5\"\n"
	    "  port_range: 1024-50000\n"
	    "  max_flows: 1000\n"
	    "  timeouts: {udp: 200, tcp_established: 8000, tcp_transitory: 300, icmp: 90}\n"
	    "  exclude: [172.16.0.0/12]\n",
	    &cfg, err, sizeof(err));
	CHECK(rc == 0, "%s", err);
	if (rc != 0)
		return;
	const struct mg_dp_exit_config *e = &cfg.exit;
	CHECK(e->enabled && e->uplink == MG_PORT_MESH && e->has_next_hop4 && e->has_next_hop6);
	CHECK(e->n_pool4 == 2 && e->pool4[1][3] == 2 && e->has_addr6 && e->addr6[5] == 1);
	CHECK(e->port_min == 1024 && e->port_max == 50000 && e->max_flows == 1000);
	CHECK(e->udp_timeout == 200 && e->tcp_established_timeout == 8000 &&
	      e->tcp_transitory_timeout == 300 && e->icmp_timeout == 90);
	CHECK(e->n_exclude == 1 && e->exclude[0].len == 12);
	mg_config_free(&cfg);

	rc = cfg_case_load("", &cfg, err, sizeof(err));
	CHECK(rc == 0 && !cfg.exit.enabled, "no section: off");
	mg_config_free(&cfg);
	rc = cfg_case_load("exit: {uplink: lan, port_range: 2000-2001}\n", &cfg, err, sizeof(err));
	CHECK(rc == 0 && cfg.exit.uplink == MG_PORT_LAN, "%s", err);
	CHECK(strstr(cfg.warnings, "exit") != NULL, "a LAN uplink without a next hop is warned");
	mg_config_free(&cfg);
	rc = cfg_case_load("exit: {timeouts: {udp: 5}}\n", &cfg, err, sizeof(err));
	CHECK(rc == -1, "the default range holds listen_port 51820 on a mesh uplink");
	rc = cfg_case_load("exit: {port_range: 1024-50000, timeouts: {udp: 5}}\n", &cfg, err,
	                   sizeof(err));
	CHECK(rc == 0 && strstr(cfg.warnings, "exit.timeouts.udp") != NULL, "short timeout warned");
	mg_config_free(&cfg);
}

static void errors(void)
{
	EXPECT_ERROR("exit:\n  uplink: wan\n", 8, "exit.uplink", "expected lan or mesh, got 'wan'");
	EXPECT_ERROR("exit:\n  uplnk: mesh\n", 8, "exit.uplnk", "did you mean 'uplink'");
	EXPECT_ERROR("exit:\n  port_range: 30000-20000\n", 8, "exit.port_range", "LOW-HIGH");
	EXPECT_ERROR("exit:\n  port_range: 2000-2000\n", 8, "exit.port_range",
	             "at least one port per worker lcore (2)");
	EXPECT_ERROR("exit:\n  port_range: 50000-60000\n", 8, "exit.port_range",
	             "leaves out interface.listen_port (51820)");
	EXPECT_ERROR("exit:\n  port_range: 1024-9999\n  next_hop4: 10.0.0.9\n", 9, "exit.next_hop4",
	             "inside ports.mesh.ipv4's subnet");
	EXPECT_ERROR("exit:\n  port_range: 1024-9999\n  ipv4_pool: [1.2.3.4, fd00::1]\n", 9,
	             "exit.ipv4_pool[1]", "IPv4");
	EXPECT_ERROR("exit:\n  port_range: 1024-9999\n  max_flows: 10\n", 9, "exit.max_flows",
	             "64");
	EXPECT_ERROR("exit:\n  port_range: 1024-9999\n  timeouts: {udp: 0}\n", 9,
	             "exit.timeouts.udp", "");
	EXPECT_ERROR("exit:\n  port_range: 1024-9999\n  timeouts: {tcp: 5}\n", 9,
	             "exit.timeouts.tcp", "tcp");
	EXPECT_ERROR("exit:\n  port_range: 1024-9999\n  exclude: [10.0.0.0]\n", 9,
	             "exit.exclude[0]", "");
}

int main(void)
{
	cfg_case_setup("exit", base);
	every_key();
	errors();
	cfg_case_teardown();
	return check_done("config_exit");
}
