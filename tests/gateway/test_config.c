// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway's YAML config loader: defaults, every key, every class of error with its line
 * and key path, the annotated examples in conf/, and the prefix and endpoint parsers it shares
 * with the UAPI. argv[1] is the source root (for conf/).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "agent.h"
#include "config.h"
#include "crypto.h"
#include "keys.h"

static char dir[64];
static char conf_path[128];
static uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], psk[WG_KEY_LEN];
static char pub_b64[WG_KEY_B64_SIZE], psk_b64[WG_KEY_B64_SIZE];
static char peer1_b64[WG_KEY_B64_SIZE], peer2_b64[WG_KEY_B64_SIZE];

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fchmod(fd, mode);
	close(fd);
}

/* Copies text with every occurrence of from replaced by to; the result is malloc'd. */
static char *replace_all(const char *text, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to), n = 0;
	char *out, *o;

	for (const char *p = text; (p = strstr(p, from)); p += flen)
		n++;
	out = malloc(strlen(text) + n * (tlen + 1) + 1);
	if (!out)
		exit(1);
	o = out;
	for (const char *p = text;;) {
		const char *hit = strstr(p, from);

		if (!hit) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		memcpy(o, to, tlen);
		o += tlen;
		p = hit + flen;
	}
	return out;
}

/* Writes yaml (with @DIR@, @PEER1@, @PEER2@, @SELF@ and @PSK@ filled in) and loads it. */
static int load(const char *yaml, struct mg_config *cfg, char *err, size_t errlen)
{
	char *a = replace_all(yaml, "@DIR@", dir), *b = replace_all(a, "@PEER1@", peer1_b64);
	char *c = replace_all(b, "@PEER2@", peer2_b64), *d = replace_all(c, "@SELF@", pub_b64);
	char *e = replace_all(d, "@PSK@", psk_b64);
	int rc;

	write_file(conf_path, e, 0644);
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
	rc = mg_config_load(conf_path, cfg, err, errlen);
	return rc;
}

/* The smallest valid file: five lines, so cases that append start at line 6. */
#define BASE                                      \
	"interface:\n"                            \
	"  private_key_file: @DIR@/private.key\n" \
	"ports:\n"                                \
	"  lan: {devargs: lan0}\n"                \
	"  mesh: {devargs: mesh0}\n"

/* Loads yaml, which must fail at line with "<file>:<line>: <path>: " and contain want. */
static void expect_error(int src_line, const char *yaml, unsigned line, const char *path,
                         const char *want)
{
	struct mg_config cfg;
	char err[1024], prefix[256];
	int rc = load(yaml, &cfg, err, sizeof(err));

	snprintf(prefix, sizeof(prefix), "%s:%u: %s: ", conf_path, line, path);
	CHECK(rc == -1, "case at line %d: loaded, expected an error", src_line);
	CHECK(strncmp(err, prefix, strlen(prefix)) == 0,
	      "case at line %d: got '%s', expected '%s…'", src_line, err, prefix);
	CHECK(strstr(err, want) != NULL, "case at line %d: '%s' does not say '%s'", src_line, err,
	      want);
	CHECK(wg_key_is_zero(cfg.private_key) && cfg.peers == NULL && cfg.n_eal_args == 0,
	      "case at line %d: failed load left state behind", src_line);
}

#define EXPECT_ERROR(yaml, line, path, want) expect_error(__LINE__, yaml, line, path, want)

static void test_defaults(void)
{
	struct mg_config cfg;
	char err[1024];

	CHECK(load(BASE, &cfg, err, sizeof(err)) == 0, "minimal config: %s", err);
	CHECK(strcmp(cfg.ifname, "mg0") == 0, "default name %s", cfg.ifname);
	CHECK(memcmp(cfg.private_key, priv, WG_KEY_LEN) == 0, "private key read from the file");
	CHECK(cfg.listen_port == 51820 && cfg.mtu == 1420 && cfg.n_addresses == 0, "port, mtu");
	CHECK(strcmp(cfg.ports[MG_PORT_LAN].devargs, "lan0") == 0 &&
	          strcmp(cfg.ports[MG_PORT_MESH].devargs, "mesh0") == 0,
	      "devargs");
	CHECK(!cfg.ports[0].has_ipv4 && !cfg.ports[0].has_ipv6 && !cfg.ports[1].has_gateway4 &&
	          cfg.ports[0].rx_desc == 0 && cfg.ports[1].tx_desc == 0,
	      "port defaults");
	CHECK(cfg.control_lcore == 0 && cfg.n_workers == 1 && cfg.worker_lcores[0] == 1, "lcores");
	CHECK(cfg.n_eal_args == 0 && !cfg.idle_backoff && cfg.idle_max_sleep_us == 1000 &&
	          cfg.rx_fanout,
	      "eal, idle, fan-out");
	CHECK(cfg.max_peers == 16384 && cfg.max_prefixes == 262144 && cfg.mbufs == 0 &&
	          cfg.ipv4_tbl8_groups == 0 && cfg.ipv6_tbl8_groups == 0,
	      "limits: %u %u %u %u %u", cfg.max_peers, cfg.max_prefixes, cfg.mbufs,
	      cfg.ipv4_tbl8_groups, cfg.ipv6_tbl8_groups);
	CHECK(cfg.metrics_listen[0] == '\0', "metrics off by default: '%s'", cfg.metrics_listen);
	CHECK(cfg.n_peers == 0 && cfg.peers == NULL && cfg.coord.url[0] == '\0', "no peers");
	CHECK(strcmp(cfg.uapi_dir, "/var/run/wireguard") == 0 &&
	          strcmp(cfg.health_socket, "/var/run/meshgate/mg0.health") == 0,
	      "sockets %s %s", cfg.uapi_dir, cfg.health_socket);
	CHECK(strcmp(cfg.log_level, "info") == 0 && cfg.test_timer_divisor == 1, "log, test");
	CHECK(cfg.warnings[0] == '\0', "no warnings: %s", cfg.warnings);
	mg_config_free(&cfg);
	CHECK(wg_key_is_zero(cfg.private_key), "free zeroes the private key");

	/* A key file others can read is accepted with a warning, as wg does. */
	char loose[160];

	snprintf(loose, sizeof(loose), "%s/private.key", dir);
	chmod(loose, 0644);
	CHECK(load(BASE, &cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK(strstr(cfg.warnings, ":2: interface.private_key_file: ") &&
	          strstr(cfg.warnings, "readable by group or others"),
	      "loose key warning: %s", cfg.warnings);
	mg_config_free(&cfg);
	chmod(loose, 0600);

	/* A configured control lcore 1 moves the default worker out of its way. */
	CHECK(load(BASE "lcores: {control: 1}\n", &cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK(cfg.control_lcore == 1 && cfg.n_workers == 1 && cfg.worker_lcores[0] == 0,
	      "default worker next to control 1");
	CHECK(cfg.n_handshake_lcores == 0, "no handshake lcores unless configured");
	mg_config_free(&cfg);
	CHECK(load(BASE "lcores: {handshake: [3, 2]}\n", &cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK(cfg.n_handshake_lcores == 2 && cfg.handshake_lcores[0] == 3 &&
	          cfg.handshake_lcores[1] == 2 && cfg.worker_lcores[0] == 1,
	      "handshake lcores 3 and 2 beside the default worker");
	mg_config_free(&cfg);
}

static const char full_yaml[] =
    "interface:\n"
    "  name: wg-test.1\n"
    "  private_key_file: @DIR@/private.key\n"
    "  listen_port: 40000\n"
    "  mtu: 1380\n"
    "  addresses: [100.64.0.7/10, \"fd7a::7\"]\n"
    "ports:\n"
    "  lan:\n"
    "    devargs: \"net_af_packet0,iface=lan0\"\n"
    "    ipv4: 192.168.10.1/24\n"
    "    ipv6: \"fd00:10::1/64\"\n"
    "    gateway4: 192.168.10.254\n"
    "    gateway6: \"fd00:10::fe\"\n"
    "    rx_desc: 512\n"
    "    tx_desc: 2048\n"
    "  mesh: {devargs: \"0000:3b:00.0\", ipv4: 203.0.113.2/24, gateway4: 203.0.113.1,\n"
    "         ipv6: \"2001:db8::2/64\", gateway6: \"fe80::1\"}\n"
    "lcores: {control: 3, workers: [0, 1, 2, 127]}\n"
    "eal: [\"--no-huge\", \"--in-memory\", \"--file-prefix=mg-t\"]\n"
    "idle: {backoff: yes, max_sleep_us: 250}\n"
    "rx_fanout: false\n"
    "limits: {max_peers: 100, max_prefixes: 1000, mbufs: 8192, ipv4_tbl8_groups: 16,\n"
    "         ipv6_tbl8_groups: 2097152}\n"
    "peers:\n"
    "  - public_key: @PEER1@\n"
    "    preshared_key_file: @DIR@/peer.psk\n"
    "    endpoint: 198.51.100.7:51820\n"
    "    allowed_ips: [10.20.0.0/16, \"fd00:20::/64\", 10.21.0.1]\n"
    "    persistent_keepalive: 25\n"
    "  - public_key: @PEER2@\n"
    "    preshared_key: @PSK@\n"
    "    endpoint: \"[2001:db8::7]:51821\"\n"
    "    allowed_ips: 10.30.0.1/16\n"
    "    persistent_keepalive: off\n"
    "coordinator: {url: \"https://coord.example:8443\", authkey_file: /etc/mg/authkey}\n"
    "sockets: {uapi_dir: /tmp/uapi, health: /tmp/h.sock}\n"
    "metrics: {listen: \"[::1]:9586\"}\n"
    "log_level: debug\n"
    "test: {timer_divisor: 60}\n";

static void prefix_is(const struct mg_prefix *p, const char *want, const char *what)
{
	char text[MG_PREFIX_STRLEN];

	mg_prefix_format(p, text, sizeof(text));
	CHECK(strcmp(text, want) == 0, "%s: %s, expected %s", what, text, want);
}

static void test_every_key(void)
{
	struct mg_config cfg;
	char err[1024], text[MG_SOCKADDR_STRLEN];
	const struct mg_port_config *lan = &cfg.ports[MG_PORT_LAN],
	                            *mesh = &cfg.ports[MG_PORT_MESH];

	CHECK(load(full_yaml, &cfg, err, sizeof(err)) == 0, "full config: %s", err);
	if (check_failures)
		return;
	CHECK(strcmp(cfg.ifname, "wg-test.1") == 0 && cfg.listen_port == 40000 && cfg.mtu == 1380,
	      "interface");
	CHECK(cfg.n_addresses == 2, "addresses");
	prefix_is(&cfg.addresses[0], "100.64.0.7/10", "address 0 keeps host bits");
	prefix_is(&cfg.addresses[1], "fd7a::7/128", "bare address 1 is a /128");
	CHECK(strcmp(lan->devargs, "net_af_packet0,iface=lan0") == 0 && lan->has_ipv4 &&
	          lan->has_ipv6 && lan->has_gateway4 && lan->has_gateway6 && lan->rx_desc == 512 &&
	          lan->tx_desc == 2048,
	      "lan");
	prefix_is(&lan->ipv4, "192.168.10.1/24", "lan ipv4");
	prefix_is(&lan->ipv6, "fd00:10::1/64", "lan ipv6");
	CHECK(memcmp(lan->gateway4, "\xc0\xa8\x0a\xfe", 4) == 0 && lan->gateway6[15] == 0xfe,
	      "lan gateways");
	CHECK(strcmp(mesh->devargs, "0000:3b:00.0") == 0 && mesh->has_gateway6 &&
	          mesh->gateway6[0] == 0xfe && mesh->gateway6[15] == 1 && mesh->rx_desc == 0,
	      "mesh with a link-local IPv6 gateway");
	CHECK(cfg.control_lcore == 3 && cfg.n_workers == 4 && cfg.worker_lcores[0] == 0 &&
	          cfg.worker_lcores[3] == 127,
	      "lcores");
	CHECK(cfg.n_eal_args == 3 && strcmp(cfg.eal_args[2], "--file-prefix=mg-t") == 0, "eal");
	CHECK(cfg.idle_backoff && cfg.idle_max_sleep_us == 250 && !cfg.rx_fanout, "idle");
	CHECK(cfg.max_peers == 100 && cfg.max_prefixes == 1000 && cfg.mbufs == 8192, "limits");
	CHECK(cfg.ipv4_tbl8_groups == 16 && cfg.ipv6_tbl8_groups == (1u << 21),
	      "tbl8 groups at their bounds: %u %u", cfg.ipv4_tbl8_groups, cfg.ipv6_tbl8_groups);
	CHECK(cfg.n_peers == 2, "peers %zu", cfg.n_peers);
	CHECK(cfg.peers[0].has_preshared_key &&
	          memcmp(cfg.peers[0].preshared_key, psk, WG_KEY_LEN) == 0 &&
	          cfg.peers[1].has_preshared_key &&
	          memcmp(cfg.peers[1].preshared_key, psk, WG_KEY_LEN) == 0,
	      "preshared keys from a file and inline");
	mg_sockaddr_format(&cfg.peers[0].endpoint, text, sizeof(text));
	CHECK(strcmp(text, "198.51.100.7:51820") == 0, "endpoint 0 %s", text);
	mg_sockaddr_format(&cfg.peers[1].endpoint, text, sizeof(text));
	CHECK(strcmp(text, "[2001:db8::7]:51821") == 0, "endpoint 1 %s", text);
	CHECK(cfg.peers[0].n_allowed_ips == 3 && cfg.peers[1].n_allowed_ips == 1, "allowed IPs");
	prefix_is(&cfg.peers[0].allowed_ips[1], "fd00:20::/64", "allowed v6");
	prefix_is(&cfg.peers[0].allowed_ips[2], "10.21.0.1/32", "bare allowed IP is a /32");
	prefix_is(&cfg.peers[1].allowed_ips[0], "10.30.0.0/16", "host bits cleared");
	CHECK(cfg.peers[0].persistent_keepalive == 25 && cfg.peers[1].persistent_keepalive == 0,
	      "keepalive");
	CHECK(strcmp(cfg.coord.url, "https://coord.example:8443") == 0 &&
	          strcmp(cfg.coord.authkey_file, "/etc/mg/authkey") == 0,
	      "coordinator");
	CHECK(strcmp(cfg.uapi_dir, "/tmp/uapi") == 0 &&
	          strcmp(cfg.health_socket, "/tmp/h.sock") == 0,
	      "sockets");
	CHECK(strcmp(cfg.metrics_listen, "[::1]:9586") == 0, "metrics %s", cfg.metrics_listen);
	CHECK(strcmp(cfg.log_level, "debug") == 0 && cfg.test_timer_divisor == 60, "log, test");
	CHECK(strstr(cfg.warnings, ":33: peers[1].allowed_ips[0]: 10.30.0.1/16 has host bits set; "
	                           "using 10.30.0.0/16") != NULL,
	      "host-bits warning with its line: %s", cfg.warnings);
	CHECK(strstr(cfg.warnings, ":39: test.timer_divisor: ") != NULL, "divisor warning: %s",
	      cfg.warnings);
	mg_config_free(&cfg);
	CHECK(cfg.peers == NULL && cfg.n_peers == 0 && wg_key_is_zero(cfg.private_key), "freed");
}

static void test_syntax_errors(void)
{
	struct mg_config cfg;
	char err[1024], want[256];

	EXPECT_ERROR("", 1, "(top level)", "expected a mapping of keys, got an empty file");
	EXPECT_ERROR("- a\n- b\n", 1, "(top level)", "expected a mapping of keys, got a list");
	EXPECT_ERROR(BASE "intreface: {}\n", 6, "intreface",
	             "unknown key (did you mean 'interface'?)");
	EXPECT_ERROR(BASE "colour: red\n", 6, "colour", "unknown key; expected one of: interface");
	EXPECT_ERROR(BASE "log_level: info\nlog_level: debug\n", 7, "log_level",
	             "duplicate key (first given on line 6)");
	EXPECT_ERROR(BASE "idle: {backof: true}\n", 6, "idle.backof", "did you mean 'backoff'?");

	/* libyaml's own errors carry the line too. */
	CHECK(load(BASE "peers: [\n", &cfg, err, sizeof(err)) == -1, "unterminated list");
	snprintf(want, sizeof(want), "%s:", conf_path);
	CHECK(strncmp(err, want, strlen(want)) == 0 && strstr(err, ": YAML syntax error: "),
	      "syntax error: %s", err);
	CHECK(load(BASE "---\nfoo: 1\n", &cfg, err, sizeof(err)) == -1, "second document");
	snprintf(want, sizeof(want), "%s:6: (top level): expected one YAML document", conf_path);
	CHECK(strncmp(err, want, strlen(want)) == 0, "two documents: %s", err);
	CHECK(mg_config_load("/nonexistent/mg.yaml", &cfg, err, sizeof(err)) == -1 &&
	          strcmp(err, "/nonexistent/mg.yaml: cannot open: No such file or directory") == 0,
	      "missing file: %s", err);
}

static void test_interface_errors(void)
{
	struct mg_config cfg;
	char err[1024];

	EXPECT_ERROR("ports:\n  lan: {devargs: a}\n  mesh: {devargs: b}\n", 1, "interface",
	             "required");
	/* A missing key is reported where its mapping starts. */
	EXPECT_ERROR("interface:\n  name: mg0\nports: {}\n", 2, "interface.private_key_file",
	             "required");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/missing.key\n", 2,
	             "interface.private_key_file", "missing.key");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/short.key\n", 2,
	             "interface.private_key_file", "key must be 44 base64 characters, got 43");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/zero.key\n", 2,
	             "interface.private_key_file", "all-zero key");
	EXPECT_ERROR("interface:\n  private_key_file: [a]\n", 2, "interface.private_key_file",
	             "expected a file name, got a list");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/private.key\n  name: a/b\n", 3,
	             "interface.name", "got 'a/b'");
	EXPECT_ERROR(
	    "interface:\n  private_key_file: @DIR@/private.key\n  name: abcdefghijklmnop\n", 3,
	    "interface.name", "expected 1..15 letters");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/private.key\n  listen_port: 0\n", 3,
	             "interface.listen_port", "expected an integer 1..65535, got '0'");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/private.key\n  listen_port: 65536\n", 3,
	             "interface.listen_port", "expected an integer 1..65535, got '65536'");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/private.key\n  listen_port: -1\n", 3,
	             "interface.listen_port", "got '-1'");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/private.key\n  listen_port:\n", 3,
	             "interface.listen_port", "expected an integer 1..65535, got nothing");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/private.key\n  mtu: 575\n", 3,
	             "interface.mtu", "expected an integer 576..9000, got '575'");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/private.key\n  mtu: 9001\n", 3,
	             "interface.mtu", "got '9001'");
	EXPECT_ERROR(
	    "interface:\n  private_key_file: @DIR@/private.key\n  addresses: [10.0.0.1/33]\n", 3,
	    "interface.addresses[0]", "got '10.0.0.1/33'");
	EXPECT_ERROR(
	    "interface:\n  private_key_file: @DIR@/private.key\n"
	    "  addresses: [1.0.0.1, 1.0.0.2, 1.0.0.3, 1.0.0.4, 1.0.0.5, 1.0.0.6, 1.0.0.7,\n"
	    "              1.0.0.8, 1.0.0.9]\n",
	    3, "interface.addresses", "expected at most 8 addresses, got 9");
	/* IPv6 inner traffic needs 1280; IPv4 alone may go lower. */
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/private.key\n  mtu: 1200\n"
	             "  addresses: [10.0.0.1, \"fd00::1\"]\n"
	             "ports: {lan: {devargs: a}, mesh: {devargs: b}}\n",
	             3, "interface.mtu", "expected at least 1280 because IPv6");
	EXPECT_ERROR("interface:\n  private_key_file: @DIR@/private.key\n  mtu: 1000\n"
	             "ports: {lan: {devargs: a}, mesh: {devargs: b}}\n"
	             "peers: [{public_key: @PEER1@, allowed_ips: [\"fd00::/64\"]}]\n",
	             3, "interface.mtu", "got 1000");

	CHECK(load("interface:\n  private_key_file: @DIR@/private.key\n  mtu: 576\n"
	           "  addresses: [10.0.0.1]\n"
	           "ports: {lan: {devargs: a}, mesh: {devargs: b}}\n",
	           &cfg, err, sizeof(err)) == 0 &&
	          cfg.mtu == 576,
	      "IPv4-only MTU 576: %s", err);
	mg_config_free(&cfg);
}

static void test_port_errors(void)
{
	EXPECT_ERROR("interface: {private_key_file: @DIR@/private.key}\n", 1, "ports", "required");
	EXPECT_ERROR("interface: {private_key_file: @DIR@/private.key}\nports: 5\n", 2, "ports",
	             "expected a mapping of keys, got a value");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a}\n", 3,
	    "ports.mesh", "required");
	EXPECT_ERROR("interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {ipv4: "
	             "10.0.0.1/8}\n  mesh: {devargs: b}\n",
	             3, "ports.lan.devargs", "required");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a}\n"
	    "  mesh: {devargs: a}\n",
	    4, "ports.mesh.devargs", "got 'a' twice");
	/* The brief's own example message, in full. */
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan:\n"
	    "    devargs: a\n    ipv4: 192.0.2.300/24\n  mesh: {devargs: b}\n",
	    5, "ports.lan.ipv4",
	    "ports.lan.ipv4: expected an IPv4 address with prefix length like 192.0.2.1/24, "
	    "got '192.0.2.300/24'");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a, "
	    "ipv4: 192.0.2.1}\n  mesh: {devargs: b}\n",
	    3, "ports.lan.ipv4", "got '192.0.2.1'");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a, "
	    "ipv6: 10.0.0.1/8}\n  mesh: {devargs: b}\n",
	    3, "ports.lan.ipv6", "expected an IPv6 address with prefix length");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a}\n"
	    "  mesh: {devargs: b, gateway4: 10.0.0.1}\n",
	    4, "ports.mesh.gateway4", "needs ports.mesh.ipv4");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a}\n"
	    "  mesh: {devargs: b, ipv4: 10.0.0.2/24,\n         gateway4: 10.0.1.1}\n",
	    5, "ports.mesh.gateway4", "inside ports.mesh.ipv4's subnet");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a}\n"
	    "  mesh: {devargs: b, ipv6: \"fd00::2/64\", gateway6: \"fd01::1\"}\n",
	    4, "ports.mesh.gateway6", "link-local");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a}\n"
	    "  mesh: {devargs: b, ipv4: 10.0.0.2/24, gateway4: 10.0.0.1/24}\n",
	    4, "ports.mesh.gateway4", "expected an IPv4 address like 192.0.2.1");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a}\n"
	    "  mesh: {devargs: b, rx_desc: 1000}\n",
	    4, "ports.mesh.rx_desc", "power of two 64..32768, got 1000");
	EXPECT_ERROR(
	    "interface: {private_key_file: @DIR@/private.key}\nports:\n  lan: {devargs: a}\n"
	    "  mesh: {devargs: b, tx_desc: 65536}\n",
	    4, "ports.mesh.tx_desc", "0..32768");
}

/* The coordinator section's optional keys (issue 5). */
static void test_coordinator_keys(void)
{
	struct mg_config cfg;
	char err[1024], text[MG_PREFIX_STRLEN];
	int rc = load(BASE "coordinator:\n  url: http://coord:8080//\n  authkey_file: /k\n"
	                   "  state_dir: /var/lib/mg\n  hostname: gw1\n"
	                   "  advertise_routes: [192.168.10.0/24, \"fd00:10::/64\"]\n"
	                   "  exit_node: true\n  endpoints: [\"192.0.2.1:51820\"]\n"
	                   "  use_exit_node: dc1-exit\n",
	              &cfg, err, sizeof(err));

	CHECK(rc == 0, "%s", err);
	if (rc != 0)
		return;
	CHECK(strcmp(cfg.coord.url, "http://coord:8080") == 0, "trailing '/' dropped: %s",
	      cfg.coord.url);
	CHECK(strcmp(cfg.coord.state_dir, "/var/lib/mg") == 0 &&
	          strcmp(cfg.coord.hostname, "gw1") == 0 && cfg.coord.exit_node,
	      "state_dir, hostname, exit_node");
	CHECK(cfg.coord.advertise_routes_set && cfg.coord.n_advertise_routes == 2, "routes");
	mg_prefix_format(&cfg.coord.advertise_routes[1], text, sizeof(text));
	CHECK(strcmp(text, "fd00:10::/64") == 0, "route %s", text);
	CHECK(cfg.coord.n_endpoints == 1 && cfg.coord.endpoints[0].port == 51820, "endpoints");
	CHECK(strcmp(cfg.coord.use_exit_node, "dc1-exit") == 0, "use_exit_node '%s'",
	      cfg.coord.use_exit_node);
	mg_config_free(&cfg);
	rc = load(BASE "coordinator: {url: http://c, authkey_file: k}\n", &cfg, err, sizeof(err));
	CHECK(rc == 0 && !cfg.coord.advertise_routes_set && !cfg.coord.exit_node &&
	          cfg.coord.state_dir[0] == '\0' && cfg.coord.use_exit_node[0] == '\0',
	      "defaults: routes unset (the LAN prefixes), no state dir");
	if (rc == 0)
		mg_config_free(&cfg);
}

/* The sizing keys and the metrics listener, valid forms (errors are in test_runtime_errors). */
static void test_limits_and_metrics(void)
{
	static const struct {
		const char *yaml;
		uint32_t v4, v6;
		const char *metrics;
	} cases[] = {
	    {BASE "limits: {ipv4_tbl8_groups: 0, ipv6_tbl8_groups: 0}\n", 0, 0, ""},
	    {BASE "limits: {ipv4_tbl8_groups: 16777216, ipv6_tbl8_groups: 16}\n", 1u << 24, 16, ""},
	    {BASE "limits: {ipv6_tbl8_groups: 4096}\nmetrics: {listen: 127.0.0.1:9586}\n", 0, 4096,
	     "127.0.0.1:9586"},
	    {BASE "metrics: {listen: 127.3.2.1:1}\n", 0, 0, "127.3.2.1:1"},
	    {BASE "metrics: {listen: \"\"}\n", 0, 0, ""},
	    {BASE "metrics: {}\n", 0, 0, ""},
	};
	struct mg_config cfg;
	char err[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (load(cases[i].yaml, &cfg, err, sizeof(err)) != 0) {
			CHECK(false, "case %zu: %s", i, err);
			continue;
		}
		CHECK(cfg.ipv4_tbl8_groups == cases[i].v4 && cfg.ipv6_tbl8_groups == cases[i].v6,
		      "case %zu: tbl8 groups %u %u, want %u %u", i, cfg.ipv4_tbl8_groups,
		      cfg.ipv6_tbl8_groups, cases[i].v4, cases[i].v6);
		CHECK(strcmp(cfg.metrics_listen, cases[i].metrics) == 0,
		      "case %zu: metrics '%s', want '%s'", i, cfg.metrics_listen, cases[i].metrics);
		CHECK(cfg.max_prefixes == 262144, "case %zu: max_prefixes %u", i, cfg.max_prefixes);
		mg_config_free(&cfg);
	}
}

static void test_runtime_errors(void)
{
	EXPECT_ERROR(BASE "lcores: {control: 0, workers: [1, 2, 1]}\n", 6, "lcores.workers[2]",
	             "lcore 1 is already lcores.workers[0]");
	EXPECT_ERROR(BASE "lcores: {control: 2, workers: [1, 2]}\n", 6, "lcores.workers[1]",
	             "lcore 2 is already lcores.control");
	EXPECT_ERROR(BASE "lcores: {control: 0, workers: [1], handshake: [2, 1]}\n", 6,
	             "lcores.handshake[1]", "lcore 1 is already lcores.workers[0]");
	EXPECT_ERROR(BASE "lcores: {handshake: [0]}\n", 6, "lcores.handshake[0]",
	             "lcore 0 is already lcores.control");
	EXPECT_ERROR(BASE "lcores: {handshake: [2, 3, 2]}\n", 6, "lcores.handshake[2]",
	             "lcore 2 is already lcores.handshake[0]");
	EXPECT_ERROR(BASE "lcores: {handshake: []}\n", 6, "lcores.handshake",
	             "expected 1..8 handshake lcores");
	EXPECT_ERROR(BASE "lcores: {handshake: [2, 128]}\n", 6, "lcores.handshake[1]",
	             "0..127, got '128'");
	EXPECT_ERROR(BASE "lcores: {workers: []}\n", 6, "lcores.workers",
	             "expected 1..16 worker lcores, got 0");
	EXPECT_ERROR(BASE "lcores: {workers: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}\n", 6,
	             "lcores.workers", "got 17");
	EXPECT_ERROR(BASE "lcores:\n  control: 128\n", 7, "lcores.control", "0..127, got '128'");
	EXPECT_ERROR(BASE "eal: [\"--no-huge\", \"-l\", \"1-3\"]\n", 6, "eal[1]",
	             "'-l' is derived from lcores");
	EXPECT_ERROR(BASE "eal: [\"--lcores=1@2\"]\n", 6, "eal[0]", "derived from lcores");
	EXPECT_ERROR(BASE
	             "eal: [a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a]\n",
	             6, "eal", "at most 32 arguments, got 33");
	EXPECT_ERROR(BASE "eal: [{a: 1}]\n", 6, "eal[0]", "got a mapping");
	EXPECT_ERROR(BASE "idle: {backoff: maybe}\n", 6, "idle.backoff",
	             "expected true or false, got 'maybe'");
	EXPECT_ERROR(BASE "idle: {max_sleep_us: 0}\n", 6, "idle.max_sleep_us", "1..1000000");
	EXPECT_ERROR(BASE "rx_fanout: 2\n", 6, "rx_fanout", "expected true or false, got '2'");
	EXPECT_ERROR(BASE "limits: {mbufs: 10}\n", 6, "limits.mbufs", "1024..16777216, got 10");
	EXPECT_ERROR(BASE "limits: {max_peers: 0}\n", 6, "limits.max_peers", "1..1048576");
	EXPECT_ERROR(BASE "limits: {ipv4_tbl8_groups: 15}\n", 6, "limits.ipv4_tbl8_groups",
	             "expected 0 (default) or 16..16777216, got 15");
	EXPECT_ERROR(BASE "limits:\n  ipv4_tbl8_groups: 16777217\n", 7, "limits.ipv4_tbl8_groups",
	             "0..16777216, got '16777217'");
	EXPECT_ERROR(BASE "limits: {ipv6_tbl8_groups: 1}\n", 6, "limits.ipv6_tbl8_groups",
	             "expected 0 (default) or 16..2097152, got 1");
	EXPECT_ERROR(BASE "limits:\n  mbufs: 0\n  ipv6_tbl8_groups: 2097153\n", 8,
	             "limits.ipv6_tbl8_groups", "0..2097152, got '2097153'");
	EXPECT_ERROR(BASE "limits: {ipv6_tbl8_groups: -1}\n", 6, "limits.ipv6_tbl8_groups",
	             "got '-1'");
	EXPECT_ERROR(BASE "limits: {ipv4_tbl8s: 64}\n", 6, "limits.ipv4_tbl8s", "unknown key");
	EXPECT_ERROR(BASE "metrics:\n  listen: 0.0.0.0:9586\n", 7, "metrics.listen",
	             "expected a loopback IP:PORT such as 127.0.0.1:9586, got '0.0.0.0:9586'");
	EXPECT_ERROR(BASE "metrics: {listen: \"[2001:db8::1]:9586\"}\n", 6, "metrics.listen",
	             "loopback");
	EXPECT_ERROR(BASE "metrics: {listen: \"127.0.0.1\"}\n", 6, "metrics.listen",
	             "got '127.0.0.1'");
	EXPECT_ERROR(BASE "metrics: {listen: \"127.0.0.1:0\"}\n", 6, "metrics.listen",
	             "got '127.0.0.1:0'");
	EXPECT_ERROR(BASE "metrics: {port: 9586}\n", 6, "metrics.port", "unknown key");
	EXPECT_ERROR(BASE "coordinator: {url: ftp://x, authkey_file: k}\n", 6, "coordinator.url",
	             "expected an http:// or https:// URL, got 'ftp://x'");
	EXPECT_ERROR(BASE "coordinator: {url: 'http:///', authkey_file: k}\n", 6, "coordinator.url",
	             "expected a host after the scheme");
	EXPECT_ERROR(BASE "coordinator:\n  url: https://c\n", 7, "coordinator.authkey_file",
	             "required");
	EXPECT_ERROR(BASE "coordinator: {url: http://c, authkey_file: k,\n"
	                  "  advertise_routes: [10.0.0.0/8, 192.168.10.1/24]}\n",
	             7, "coordinator.advertise_routes[1]", "without host bits");
	EXPECT_ERROR(BASE "coordinator: {url: http://c, authkey_file: k, endpoints: [host:1]}\n", 6,
	             "coordinator.endpoints[0]", "numeric ipv4:port");
	EXPECT_ERROR(BASE "coordinator: {url: http://c, authkey_file: k, exit_node: 1}\n", 6,
	             "coordinator.exit_node", "expected true or false");
	EXPECT_ERROR(BASE "coordinator: {url: http://c, authkey_file: k, statedir: /x}\n", 6,
	             "coordinator.statedir", "did you mean 'state_dir'");
	EXPECT_ERROR(BASE
	             "sockets:\n  uapi_dir: /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	             7, "sockets.uapi_dir", "short enough");
	EXPECT_ERROR(BASE "log_level: verbose\n", 6, "log_level",
	             "expected error, warning, notice, info or debug, got 'verbose'");
	EXPECT_ERROR(BASE "test: {timer_divisor: 0}\n", 6, "test.timer_divisor", "1..1000000");
}

static void test_peer_errors(void)
{
	EXPECT_ERROR(BASE "peers:\n  - {endpoint: 1.2.3.4:5}\n", 7, "peers[0].public_key",
	             "required");
	EXPECT_ERROR(BASE "peers:\n  - public_key: abc\n", 7, "peers[0].public_key",
	             "expected a base64 public key (wg pubkey): key must be 44 base64 characters, "
	             "got 3");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @SELF@\n", 7, "peers[0].public_key",
	             "this gateway's own");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n  - public_key: @PEER2@\n"
	                  "  - public_key: @PEER1@\n",
	             9, "peers[2].public_key", "the key of peers[0] (line 7) again");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    preshared_key: @PSK@\n"
	                  "    preshared_key_file: @DIR@/peer.psk\n",
	             9, "peers[0].preshared_key_file", "not both");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    preshared_key_file: @DIR@/none\n",
	             8, "peers[0].preshared_key_file", "No such file or directory");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    endpoint: 1.2.3.4\n", 8,
	             "peers[0].endpoint", "got '1.2.3.4': expected HOST:PORT");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    endpoint: 1.2.3.4:0\n", 8,
	             "peers[0].endpoint", "port 1..65535");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    endpoint: \"2001:db8::1:51820\"\n",
	             8, "peers[0].endpoint", "[2001:db8::7]:51820");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    endpoint: no-such-host.invalid:1\n",
	             8, "peers[0].endpoint", "cannot resolve 'no-such-host.invalid'");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    allowed_ips: [10.0.0.0/8, x]\n", 8,
	             "peers[0].allowed_ips[1]", "got 'x'");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    allowed_ips: [10.0.0.0/8]\n"
	                  "  - public_key: @PEER2@\n    allowed_ips:\n      - 10.1.0.0/16\n"
	                  "      - 10.0.0.1/8\n",
	             12, "peers[1].allowed_ips[1]",
	             "got 10.0.0.0/8 again (first in peers[0].allowed_ips[0])");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    persistent_keepalive: 70000\n", 8,
	             "peers[0].persistent_keepalive", "0..65535");
	EXPECT_ERROR(BASE "limits: {max_peers: 1}\npeers:\n  - public_key: @PEER1@\n"
	                  "  - public_key: @PEER2@\n",
	             8, "peers", "at most limits.max_peers (1) peers, got 2");
	EXPECT_ERROR(BASE "limits: {max_prefixes: 1}\npeers:\n  - public_key: @PEER1@\n"
	                  "    allowed_ips: [10.0.0.0/8, 11.0.0.0/8, \"fd00::/8\"]\n",
	             8, "peers", "at most limits.max_prefixes (1) IPv4 allowed IPs, got 2");
	EXPECT_ERROR(BASE "peers:\n  - public_key: @PEER1@\n    colour: red\n", 8,
	             "peers[0].colour", "unknown key");
	EXPECT_ERROR(BASE "peers: {public_key: x}\n", 6, "peers",
	             "expected a list of peer mappings, got a mapping");

	/* wg resolves host names in endpoints; so does the loader (localhost needs no DNS). */
	struct mg_config cfg;
	char err[1024];

	CHECK(load(BASE "peers:\n  - public_key: @PEER1@\n    endpoint: localhost:4242\n", &cfg,
	           err, sizeof(err)) == 0,
	      "localhost endpoint: %s", err);
	CHECK(cfg.n_peers == 1 && cfg.peers[0].endpoint.port == 4242 &&
	          (cfg.peers[0].endpoint.family == 4 || cfg.peers[0].endpoint.family == 6),
	      "resolved endpoint");
	mg_config_free(&cfg);
}

/* Copies conf/NAME to conf_path with /etc/meshgate/ pointed at the temp dir; false if absent. */
static bool write_example(const char *srcroot, const char *name)
{
	char path[512], etc[128];
	char *text, *fixed;
	FILE *f;
	long len;

	snprintf(etc, sizeof(etc), "%s/", dir);
	snprintf(path, sizeof(path), "%s/conf/%s", srcroot, name);
	f = fopen(path, "r");
	CHECK(f != NULL, "%s: %s", path, strerror(errno));
	if (!f)
		return false;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	if (!text || fread(text, 1, (size_t)len, f) != (size_t)len)
		exit(1);
	fclose(f);
	fixed = replace_all(text, "/etc/meshgate/", etc);
	write_file(conf_path, fixed, 0644);
	free(text);
	free(fixed);
	return true;
}

/* The annotated examples load once their /etc/meshgate files exist (here, in the temp dir). */
static void test_examples(const char *srcroot)
{
	static const char *const names[] = {"gateway-site-a.yaml", "gateway-nic.yaml"};
	char err[1024];
	struct mg_config cfg;
	struct mg_agent_config acfg;
	char yaml[512];

	for (size_t i = 0; i < 2; i++) {
		if (!write_example(srcroot, names[i]))
			continue;
		CHECK(mg_config_load(conf_path, &cfg, err, sizeof(err)) == 0, "%s: %s", names[i],
		      err);
		if (i == 0)
			CHECK(cfg.n_peers == 2 && cfg.n_addresses == 2 && cfg.idle_backoff &&
			          cfg.peers[1].endpoint.family == 6 && cfg.ports[0].has_gateway6 &&
			          cfg.max_prefixes == 262144 && cfg.ipv4_tbl8_groups == 0 &&
			          strcmp(cfg.metrics_listen, "127.0.0.1:9586") == 0,
			      "site-a contents");
		else
			CHECK(cfg.n_peers == 0 && cfg.n_workers == 4 && cfg.listen_port == 41641 &&
			          strcmp(cfg.coord.url, "https://coord.example:8443") == 0 &&
			          cfg.ipv4_tbl8_groups == 262144 &&
			          cfg.ipv6_tbl8_groups == 524288 &&
			          strcmp(cfg.metrics_listen, "127.0.0.1:9586") == 0,
			      "nic contents");
		CHECK(cfg.warnings[0] == '\0', "%s warns: %s", names[i], cfg.warnings);
		mg_config_free(&cfg);
	}

	/* The agent's example goes through the agent's loader. */
	if (!write_example(srcroot, "agent.yaml"))
		return;
	CHECK(mg_agent_config_load(conf_path, &acfg, err, sizeof(err)) == 0, "agent.yaml: %s", err);
	CHECK(strcmp(acfg.ifname, "mg0") == 0 && acfg.persistent_keepalive == 25 &&
	          strcmp(acfg.coord.url, "https://coord.example:8443") == 0,
	      "agent contents");
	CHECK(acfg.stun.enabled && acfg.stun.from_map && acfg.stun.n_servers == 0 &&
	          acfg.stun.interval_s == 3,
	      "agent stun servers from the relay map");
	CHECK(strcmp(acfg.coord.use_exit_node, "dc1-exit") == 0 && !acfg.allow_lan_access &&
	          !acfg.coord.exit_node,
	      "agent exit_node '%s' (the top-level key, not coordinator.exit_node)",
	      acfg.coord.use_exit_node);
	/* The example's relays come from the coordinator's map, preferring one region. */
	CHECK(acfg.relay.enabled && strcmp(acfg.relay.region, "fra") == 0 && !acfg.relay.host[0],
	      "agent relay: region '%s', host '%s'", acfg.relay.region, acfg.relay.host);
	mg_agent_config_free(&acfg);
	/* Two different choices are refused, with the line of the second. */
	snprintf(yaml, sizeof(yaml),
	         "interface: {private_key_file: %s/agent.key}\n"
	         "coordinator: {url: http://c, authkey_file: k, use_exit_node: a}\n"
	         "exit_node: b\nallow_lan_access: true\n",
	         dir);
	write_file(conf_path, yaml, 0600);
	CHECK(mg_agent_config_load(conf_path, &acfg, err, sizeof(err)) != 0 && strstr(err, ":3:") &&
	          strstr(err, "use_exit_node already names 'a'"),
	      "conflicting exit node choices: %s", err);
	snprintf(yaml, sizeof(yaml),
	         "interface: {private_key_file: %s/agent.key}\n"
	         "coordinator: {url: http://c, authkey_file: k}\nexit_node: B\n"
	         "allow_lan_access: true\n",
	         dir);
	write_file(conf_path, yaml, 0600);
	CHECK(mg_agent_config_load(conf_path, &acfg, err, sizeof(err)) == 0 &&
	          strcmp(acfg.coord.use_exit_node, "B") == 0 && acfg.allow_lan_access,
	      "exit_node and allow_lan_access: %s", err);
	mg_agent_config_free(&acfg);
	/* The STUN servers: one socket asks both, so one family. */
	static const char *const bad_stun[][2] = {
	    {"{servers: [192.0.2.1:3478, \"[2001:db8::1]:3478\"]}", "one family"},
	    {"{servers: [192.0.2.1:3478, 192.0.2.2:3478, 192.0.2.3:3478]}", "at most 2"},
	    {"{servers: [stun.example:3478]}", "numeric ip:port"},
	    {"{servers: [192.0.2.1:3478], interval: 0}", "stun.interval"},
	};
	for (size_t i = 0; i < sizeof(bad_stun) / sizeof(bad_stun[0]); i++) {
		snprintf(yaml, sizeof(yaml),
		         "interface: {private_key_file: %s/agent.key}\n"
		         "coordinator: {url: http://c, authkey_file: k}\nstun: %s\n",
		         dir, bad_stun[i][0]);
		write_file(conf_path, yaml, 0600);
		CHECK(mg_agent_config_load(conf_path, &acfg, err, sizeof(err)) != 0 &&
		          strstr(err, ":3:") && strstr(err, bad_stun[i][1]),
		      "stun %s refused: %s", bad_stun[i][0], err);
	}
	/* No servers: the relay map's (the agent always has a coordinator). */
	snprintf(yaml, sizeof(yaml),
	         "interface: {private_key_file: %s/agent.key}\n"
	         "coordinator: {url: http://c, authkey_file: k}\nstun: {interval: 3}\n",
	         dir);
	write_file(conf_path, yaml, 0600);
	CHECK(mg_agent_config_load(conf_path, &acfg, err, sizeof(err)) == 0 && acfg.stun.enabled &&
	          acfg.stun.from_map && acfg.stun.n_servers == 0,
	      "stun from the relay map: %s", err);
	mg_agent_config_free(&acfg);
}

static void test_prefix_parser(void)
{
	static const struct {
		const char *in, *out; /* out NULL: rejected */
	} cases[] = {
	    {"10.0.0.0/8", "10.0.0.0/8"},
	    {"10.1.2.3/8", "10.1.2.3/8"},
	    {"0.0.0.0/0", "0.0.0.0/0"},
	    {"192.0.2.1", "192.0.2.1/32"},
	    {"::/0", "::/0"},
	    {"2001:DB8::1/64", "2001:db8::1/64"},
	    {"::ffff:1.2.3.4/128", "::ffff:1.2.3.4/128"},
	    {"10.0.0.0/33", NULL},
	    {"::/129", NULL},
	    {"10.0.0.0/", NULL},
	    {"10.0.0.0/+8", NULL},
	    {"10.0.0.0/ 8", NULL},
	    {"10.0.0.0/0008", NULL},
	    {"10.0.0/8", NULL},
	    {"010.0.0.1/8", NULL},
	    {"fe80::1%eth0/64", NULL},
	    {"", NULL},
	    {"/8", NULL},
	    {"host/8", NULL},
	};
	char text[MG_PREFIX_STRLEN];
	struct mg_prefix p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = mg_prefix_parse(cases[i].in, &p);

		if (!cases[i].out) {
			CHECK(rc == -1, "'%s' accepted", cases[i].in);
			continue;
		}
		CHECK(rc == 0, "'%s' rejected", cases[i].in);
		mg_prefix_format(&p, text, sizeof(text));
		CHECK(strcmp(text, cases[i].out) == 0, "'%s' formats as %s", cases[i].in, text);
	}
	CHECK(mg_prefix_parse("10.1.2.3/12", &p) == 0 && mg_prefix_has_host_bits(&p), "host bits");
	mg_prefix_mask(&p);
	mg_prefix_format(&p, text, sizeof(text));
	CHECK(strcmp(text, "10.0.0.0/12") == 0 && !mg_prefix_has_host_bits(&p), "masked %s", text);
	CHECK(mg_prefix_parse("2001:db8:ffff::1/33", &p) == 0, "v6");
	mg_prefix_mask(&p);
	mg_prefix_format(&p, text, sizeof(text));
	CHECK(strcmp(text, "2001:db8:8000::/33") == 0, "v6 masked %s", text);
}

static void test_sockaddr_parser(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"192.0.2.1:51820", "192.0.2.1:51820"},
	    {"[2001:db8::7]:1", "[2001:db8::7]:1"},
	    {"[::ffff:192.0.2.1]:65535", "[::ffff:192.0.2.1]:65535"},
	    {"192.0.2.1:0", NULL},
	    {"192.0.2.1:65536", NULL},
	    {"192.0.2.1:", NULL},
	    {"192.0.2.1", NULL},
	    {"2001:db8::7:51820", NULL},
	    {"[2001:db8::7]", NULL},
	    {"[2001:db8::7]51820", NULL},
	    {"[192.0.2.1]:5", NULL},
	    {"[fe80::1%eth0]:5", NULL},
	    {"localhost:5", NULL},
	    {"192.0.2.1:+5", NULL},
	    {":5", NULL},
	};
	char text[MG_SOCKADDR_STRLEN], why[256];
	struct mg_sockaddr a;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = mg_sockaddr_parse(cases[i].in, &a);

		if (!cases[i].out) {
			CHECK(rc == -1, "'%s' accepted", cases[i].in);
			continue;
		}
		CHECK(rc == 0, "'%s' rejected", cases[i].in);
		mg_sockaddr_format(&a, text, sizeof(text));
		CHECK(strcmp(text, cases[i].out) == 0, "'%s' formats as %s", cases[i].in, text);
	}
	memset(&a, 0, sizeof(a));
	mg_sockaddr_format(&a, text, sizeof(text));
	CHECK(strcmp(text, "(none)") == 0, "unset endpoint formats as %s", text);
	CHECK(mg_sockaddr_resolve("localhost:9", &a, why, sizeof(why)) == 0 && a.port == 9,
	      "resolve localhost: %s", why);
	CHECK(mg_sockaddr_resolve("localhost", &a, why, sizeof(why)) == -1 &&
	          strstr(why, "HOST:PORT"),
	      "no port: %s", why);
}

static void setup(void)
{
	char path[160], text[WG_KEY_B64_SIZE + 2];
	uint8_t k[WG_KEY_LEN];

	snprintf(dir, sizeof(dir), "/tmp/mg-config-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(conf_path, sizeof(conf_path), "%s/conf.yaml", dir);
	wg_key_generate_private(priv, NULL, NULL);
	if (wg_key_public(pub, priv) != WG_OK)
		exit(1);
	wg_key_to_base64(pub_b64, pub);
	wg_key_to_base64(text, priv);
	strcat(text, "\n");
	snprintf(path, sizeof(path), "%s/private.key", dir);
	write_file(path, text, 0600);
	snprintf(path, sizeof(path), "%s/agent.key", dir);
	write_file(path, text, 0600);
	wg_random_bytes(psk, sizeof(psk));
	wg_key_to_base64(psk_b64, psk);
	snprintf(path, sizeof(path), "%s/peer.psk", dir);
	write_file(path, psk_b64, 0600);
	snprintf(path, sizeof(path), "%s/site-b.psk", dir);
	write_file(path, psk_b64, 0600);
	snprintf(path, sizeof(path), "%s/authkey", dir);
	write_file(path, "mgauth-test\n", 0600);
	snprintf(path, sizeof(path), "%s/short.key", dir);
	write_file(path, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0600);
	snprintf(path, sizeof(path), "%s/zero.key", dir);
	write_file(path, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0600);
	wg_key_generate_private(k, NULL, NULL);
	wg_key_public(k, k);
	wg_key_to_base64(peer1_b64, k);
	wg_key_generate_private(k, NULL, NULL);
	wg_key_public(k, k);
	wg_key_to_base64(peer2_b64, k);
}

static void cleanup(void)
{
	static const char *const files[] = {"conf.yaml",  "private.key", "agent.key", "peer.psk",
	                                    "site-b.psk", "authkey",     "short.key", "zero.key"};
	char path[160];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
		return 2;
	}
	setup();
	test_defaults();
	test_every_key();
	test_syntax_errors();
	test_interface_errors();
	test_port_errors();
	test_limits_and_metrics();
	test_runtime_errors();
	test_coordinator_keys();
	test_peer_errors();
	test_examples(argv[1]);
	test_prefix_parser();
	test_sockaddr_parser();
	cleanup();
	return check_done("config");
}
