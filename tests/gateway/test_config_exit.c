// SPDX-License-Identifier: GPL-2.0-only
/* The config's exit section: every key read, and each error naming file:line:key. */
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

/* The base (lines 1-6) then the exit section from line 7. */
static int load(const char *exit_yaml, struct mg_config *cfg, char *err, size_t errlen)
{
	char text[2048];
	snprintf(text, sizeof(text),
	         "interface: {private_key_file: %s, listen_port: 51820}\n"
	         "ports:\n"
	         "  lan: {devargs: lan0, ipv4: 10.0.0.1/24}\n"
	         "  mesh: {devargs: mesh0, ipv4: 203.0.113.2/24, gateway4: 203.0.113.1,\n"
	         "         ipv6: \"2001:db8::2/64\"}\n"
	         "lcores: {control: 0, workers: [1, 2]}\n"
	         "%s",
	         key, exit_yaml);
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

static void every_key(void)
{
	struct mg_config cfg;
	char err[1024];
	int rc =
	    load("exit:\n"
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

	rc = load("", &cfg, err, sizeof(err));
	CHECK(rc == 0 && !cfg.exit.enabled, "no section: off");
	mg_config_free(&cfg);
	rc = load("exit: {uplink: lan, port_range: 2000-2001}\n", &cfg, err, sizeof(err));
	CHECK(rc == 0 && cfg.exit.uplink == MG_PORT_LAN, "%s", err);
	CHECK(strstr(cfg.warnings, "exit") != NULL, "a LAN uplink without a next hop is warned");
	mg_config_free(&cfg);
	rc = load("exit: {timeouts: {udp: 5}}\n", &cfg, err, sizeof(err));
	CHECK(rc == -1, "the default range holds listen_port 51820 on a mesh uplink");
	rc = load("exit: {port_range: 1024-50000, timeouts: {udp: 5}}\n", &cfg, err, sizeof(err));
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
	char text[WG_KEY_B64_SIZE + 2];
	uint8_t priv[WG_KEY_LEN];
	snprintf(dir, sizeof(dir), "/tmp/mg-config-exit-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(conf, sizeof(conf), "%s/conf.yaml", dir);
	snprintf(key, sizeof(key), "%s/private.key", dir);
	wg_key_generate_private(priv, NULL, NULL);
	wg_key_to_base64(text, priv);
	strcat(text, "\n");
	write_file(key, text, 0600);
	every_key();
	errors();
	unlink(conf);
	unlink(key);
	rmdir(dir);
	return check_done("config_exit");
}
