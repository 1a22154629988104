// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway's YAML configuration (conf/gateway-*.yaml document every key). The file is read
 * whole with libyaml's document API, so each error can name the line of the offending node.
 * Every section is checked for unknown and repeated keys before any value is read.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config_exit.h"
#include "nat_probe.h"
#include "relay_config.h"
#include "config_filter.h"
#include "config_peers.h"
#include "config_yaml.h"
#include "paths.h"
#include "crypto.h"
#include "keys.h"

/* DEFAULT_MAX_PREFIXES: rule capacity costs ~186 B per prefix per family whether used or not
 * (bench/memory_bench); 262144 holds the netns scale load (50,000 per family) five times over. */
#define DEFAULT_IFNAME       "mg0"
#define DEFAULT_LISTEN_PORT  51820
#define DEFAULT_MTU          1420
#define DEFAULT_MAX_PEERS    16384
#define DEFAULT_MAX_PREFIXES 262144u
#define IPV6_MIN_MTU         1280

/* The config being filled by this loader. */
static struct mg_config *gw_cfg(const struct cfg_loader *ld)
{
	return ld->owner;
}

static void set_defaults(struct mg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->ifname, sizeof(cfg->ifname), "%s", DEFAULT_IFNAME);
	cfg->listen_port = DEFAULT_LISTEN_PORT;
	cfg->mtu = DEFAULT_MTU;
	cfg->control_lcore = 0;
	cfg->worker_lcores[0] = 1;
	cfg->n_workers = 1;
	cfg->idle_backoff = false;
	cfg->idle_max_sleep_us = 1000;
	cfg->rx_fanout = true;
	cfg->max_peers = DEFAULT_MAX_PEERS;
	cfg->max_prefixes = DEFAULT_MAX_PREFIXES;
	snprintf(cfg->uapi_dir, sizeof(cfg->uapi_dir), "%s", MG_UAPI_DEFAULT_DIR);
	snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
	cfg->test_timer_divisor = 1;
}

/* ---- interface ---- */

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("_-.=+", c)))
			return false;
	}
	return true;
}

/* iface is the interface mapping, for the line of a missing key. */
static int load_private_key(struct cfg_loader *ld, yaml_node_t *iface, yaml_node_t *node,
                            uint8_t own_pub[WG_KEY_LEN])
{
	struct mg_config *cfg = gw_cfg(ld);
	const char *path = "interface.private_key_file";

	if (cfg_private_key_file(ld, iface, node, "gateway", cfg->private_key_file,
	                         sizeof(cfg->private_key_file), cfg->private_key) != 0)
		return -1;
	if (wg_key_public(own_pub, cfg->private_key) != WG_OK)
		return cfg_fail(ld, node, path, "cannot derive the public key");
	return 0;
}

static int load_addresses(struct cfg_loader *ld, yaml_node_t *node)
{
	struct mg_config *cfg = gw_cfg(ld);
	const char *path = "interface.addresses";
	yaml_node_item_t *items;
	char ipath[CFG_PATH_LEN];
	size_t n;

	if (cfg_list_max(ld, node, path, "addresses", MG_MAX_ADDRESSES, &items, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cfg_index(ipath, path, i);
		if (cfg_prefix(ld, cfg_item(ld, node, items, i), ipath, 0, false,
		               &cfg->addresses[i]) != 0)
			return -1;
	}
	cfg->n_addresses = n;
	return 0;
}

static int load_interface(struct cfg_loader *ld, yaml_node_t *node, uint8_t own_pub[WG_KEY_LEN],
                          yaml_node_t **mtu_node)
{
	static const char *const keys[] = {"name", "private_key_file", "listen_port",
	                                   "mtu",  "addresses",        NULL};
	struct mg_config *cfg = gw_cfg(ld);
	unsigned long v;
	yaml_node_t *n;

	if (!node)
		return cfg_fail(ld, NULL, "interface",
		                "required: name, private_key_file, listen_port, mtu, addresses");
	if (cfg_check_keys(ld, node, "interface", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "name"))) {
		const char *s = cfg_scalar(ld, n, "interface.name", "an interface name");

		if (!s)
			return -1;
		if (!ifname_ok(s))
			return cfg_fail(
			    ld, n, "interface.name",
			    "expected 1..15 letters, digits, '_', '-', '.', '=' or '+', "
			    "got '%s'",
			    s);
		snprintf(cfg->ifname, sizeof(cfg->ifname), "%s", s);
	}
	if ((n = cfg_lookup(ld, node, "listen_port"))) {
		if (cfg_uint(ld, n, "interface.listen_port", 1, 65535, &v) != 0)
			return -1;
		cfg->listen_port = (uint16_t)v;
	}
	if ((n = cfg_lookup(ld, node, "mtu"))) {
		if (cfg_uint(ld, n, "interface.mtu", 576, 9000, &v) != 0)
			return -1;
		cfg->mtu = (uint16_t)v;
		*mtu_node = n;
	}
	if ((n = cfg_lookup(ld, node, "addresses")) && load_addresses(ld, n) != 0)
		return -1;
	/* Last: a missing key file should not hide a typo elsewhere in the section. */
	return load_private_key(ld, node, cfg_lookup(ld, node, "private_key_file"), own_pub);
}

/* ---- ports ---- */

static bool is_link_local6(const uint8_t a[16])
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static bool on_subnet(const struct mg_prefix *net, const uint8_t *addr)
{
	struct mg_prefix a = *net, b = *net;

	memcpy(b.addr, addr, net->family == 4 ? 4 : 16);
	mg_prefix_mask(&a);
	mg_prefix_mask(&b);
	return memcmp(a.addr, b.addr, sizeof(a.addr)) == 0;
}

static int load_desc(struct cfg_loader *ld, yaml_node_t *node, const char *path, uint16_t *out)
{
	unsigned long v;

	if (!node)
		return 0;
	if (cfg_uint(ld, node, path, 0, 32768, &v) != 0)
		return -1;
	if (v != 0 && (v < 64 || (v & (v - 1)) != 0))
		return cfg_fail(ld, node, path,
		                "expected 0 (driver default) or a power of two 64..32768, got %lu",
		                v);
	*out = (uint16_t)v;
	return 0;
}

static int load_port(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                     struct mg_port_config *pc)
{
	static const char *const keys[] = {"devargs",  "ipv4",    "ipv6",    "gateway4",
	                                   "gateway6", "rx_desc", "tx_desc", NULL};
	char kp[CFG_PATH_LEN];
	yaml_node_t *n, *g4, *g6;

	if (cfg_check_keys(ld, node, path, keys) != 0)
		return -1;
	cfg_join(kp, path, "devargs");
	n = cfg_lookup(ld, node, "devargs");
	if (!n)
		return cfg_fail(ld, node, kp,
		                "required: a PCI address (0000:3b:00.0) or a vdev such as "
		                "net_af_packet0,iface=eth0");
	if (cfg_string(ld, n, kp, "a PCI address or vdev string", pc->devargs,
	               sizeof(pc->devargs)) != 0)
		return -1;
	cfg_join(kp, path, "ipv4");
	if ((n = cfg_lookup(ld, node, "ipv4"))) {
		if (cfg_prefix(ld, n, kp, 4, true, &pc->ipv4) != 0)
			return -1;
		pc->has_ipv4 = true;
	}
	cfg_join(kp, path, "ipv6");
	if ((n = cfg_lookup(ld, node, "ipv6"))) {
		if (cfg_prefix(ld, n, kp, 6, true, &pc->ipv6) != 0)
			return -1;
		pc->has_ipv6 = true;
	}
	cfg_join(kp, path, "gateway4");
	if ((g4 = cfg_lookup(ld, node, "gateway4"))) {
		if (cfg_addr(ld, g4, kp, 4, pc->gateway4) != 0)
			return -1;
		if (!pc->has_ipv4)
			return cfg_fail(ld, g4, kp, "needs %s.ipv4 (the subnet it is on)", path);
		if (!on_subnet(&pc->ipv4, pc->gateway4))
			return cfg_fail(ld, g4, kp, "expected an address inside %s.ipv4's subnet",
			                path);
		pc->has_gateway4 = true;
	}
	cfg_join(kp, path, "gateway6");
	if ((g6 = cfg_lookup(ld, node, "gateway6"))) {
		if (cfg_addr(ld, g6, kp, 6, pc->gateway6) != 0)
			return -1;
		if (!pc->has_ipv6)
			return cfg_fail(ld, g6, kp, "needs %s.ipv6 (the subnet it is on)", path);
		if (!is_link_local6(pc->gateway6) && !on_subnet(&pc->ipv6, pc->gateway6))
			return cfg_fail(
			    ld, g6, kp,
			    "expected a link-local address or one inside %s.ipv6's subnet", path);
		pc->has_gateway6 = true;
	}
	cfg_join(kp, path, "rx_desc");
	if (load_desc(ld, cfg_lookup(ld, node, "rx_desc"), kp, &pc->rx_desc) != 0)
		return -1;
	cfg_join(kp, path, "tx_desc");
	return load_desc(ld, cfg_lookup(ld, node, "tx_desc"), kp, &pc->tx_desc);
}

static int load_ports(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"lan", "mesh", NULL};
	struct mg_config *cfg = gw_cfg(ld);
	yaml_node_t *lan, *mesh;

	if (!node)
		return cfg_fail(ld, NULL, "ports", "required: lan and mesh, each with devargs");
	if (cfg_check_keys(ld, node, "ports", keys) != 0)
		return -1;
	lan = cfg_lookup(ld, node, "lan");
	mesh = cfg_lookup(ld, node, "mesh");
	if (!lan)
		return cfg_fail(ld, node, "ports.lan",
		                "required: the LAN-side port (devargs, ...)");
	if (!mesh)
		return cfg_fail(ld, node, "ports.mesh",
		                "required: the port WireGuard traffic uses (devargs, ...)");
	if (load_port(ld, lan, "ports.lan", &cfg->ports[MG_PORT_LAN]) != 0 ||
	    load_port(ld, mesh, "ports.mesh", &cfg->ports[MG_PORT_MESH]) != 0)
		return -1;
	if (strcmp(cfg->ports[MG_PORT_LAN].devargs, cfg->ports[MG_PORT_MESH].devargs) == 0)
		return cfg_fail(
		    ld, mesh, "ports.mesh.devargs",
		    "expected a different device than ports.lan.devargs, got '%s' twice",
		    cfg->ports[MG_PORT_MESH].devargs);
	return 0;
}

/* ---- lcores, eal, idle, limits ---- */

/* lcores.handshake: a list of lcores of their own (none of the control's or the workers'). */
static int load_handshake_lcores(struct cfg_loader *ld, yaml_node_t *node, const char **owner)
{
	char names[MG_MAX_HS_LCORES][CFG_PATH_LEN];
	struct mg_config *cfg = gw_cfg(ld);
	yaml_node_item_t *items;
	unsigned long v;
	yaml_node_t *n;
	size_t count;

	if (!(n = cfg_lookup(ld, node, "handshake")))
		return 0;
	if (cfg_list(ld, n, "lcores.handshake", "lcore ids", &items, &count) != 0)
		return -1;
	if (count < 1 || count > MG_MAX_HS_LCORES)
		return cfg_fail(
		    ld, n, "lcores.handshake",
		    "expected 1..%d handshake lcores (leave the key out for none), got %zu",
		    MG_MAX_HS_LCORES, count);
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = cfg_item(ld, n, items, i);

		cfg_index(names[i], "lcores.handshake", i);
		if (cfg_uint(ld, item, names[i], 0, MG_MAX_LCORE - 1, &v) != 0)
			return -1;
		if (owner[v])
			return cfg_fail(ld, item, names[i], "lcore %lu is already %s", v, owner[v]);
		owner[v] = names[i];
		cfg->handshake_lcores[i] = (unsigned)v;
	}
	cfg->n_handshake_lcores = count;
	return 0;
}

static int load_lcores(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"control", "workers", "handshake", NULL};
	struct mg_config *cfg = gw_cfg(ld);
	const char *owner[MG_MAX_LCORE] = {0};
	char names[MG_MAX_WORKERS][CFG_PATH_LEN];
	yaml_node_item_t *items;
	unsigned long v;
	yaml_node_t *n;
	size_t count;

	if (cfg_check_keys(ld, node, "lcores", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "control"))) {
		if (cfg_uint(ld, n, "lcores.control", 0, MG_MAX_LCORE - 1, &v) != 0)
			return -1;
		cfg->control_lcore = (unsigned)v;
	}
	owner[cfg->control_lcore] = "lcores.control";
	if (!(n = cfg_lookup(ld, node, "workers"))) {
		/* The default worker must not collide with a configured control lcore. */
		cfg->worker_lcores[0] = cfg->control_lcore == 1 ? 0 : 1;
		owner[cfg->worker_lcores[0]] = "lcores.workers[0]";
		return load_handshake_lcores(ld, node, owner);
	}
	if (cfg_list(ld, n, "lcores.workers", "lcore ids", &items, &count) != 0)
		return -1;
	if (count < 1 || count > MG_MAX_WORKERS)
		return cfg_fail(ld, n, "lcores.workers", "expected 1..%d worker lcores, got %zu",
		                MG_MAX_WORKERS, count);
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = cfg_item(ld, n, items, i);

		cfg_index(names[i], "lcores.workers", i);
		if (cfg_uint(ld, item, names[i], 0, MG_MAX_LCORE - 1, &v) != 0)
			return -1;
		if (owner[v])
			return cfg_fail(ld, item, names[i], "lcore %lu is already %s", v, owner[v]);
		owner[v] = names[i];
		cfg->worker_lcores[i] = (unsigned)v;
	}
	cfg->n_workers = count;
	return load_handshake_lcores(ld, node, owner);
}

static bool is_lcore_option(const char *arg)
{
	static const char *const opts[] = {"-l", "-c", "--lcores", "--main-lcore",
	                                   "--master-lcore"};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		size_t n = strlen(opts[i]);

		/* "-l1-3", "--lcores=1,2" and the bare option all count. */
		if (strncmp(arg, opts[i], n) == 0 &&
		    (arg[n] == '\0' || arg[n] == '=' || (opts[i][1] != '-' && arg[n] != '-')))
			return true;
	}
	return false;
}

static int load_eal(struct cfg_loader *ld, yaml_node_t *node)
{
	struct mg_config *cfg = gw_cfg(ld);
	yaml_node_item_t *items;
	char kp[CFG_PATH_LEN];
	size_t count;

	if (cfg_list(ld, node, "eal", "EAL arguments", &items, &count) != 0)
		return -1;
	if (count > MG_MAX_EAL_ARGS)
		return cfg_fail(ld, node, "eal", "expected at most %d arguments, got %zu",
		                MG_MAX_EAL_ARGS, count);
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = cfg_item(ld, node, items, i);
		const char *s;

		cfg_index(kp, "eal", i);
		s = cfg_scalar(ld, item, kp, "an EAL argument such as --no-huge");
		if (!s)
			return -1;
		if (is_lcore_option(s))
			return cfg_fail(ld, item, kp,
			                "'%s' is derived from lcores: set lcores.control and "
			                "lcores.workers instead",
			                s);
		cfg->eal_args[i] = strdup(s);
		if (!cfg->eal_args[i])
			return cfg_fail(ld, item, kp, "out of memory");
		cfg->n_eal_args = i + 1;
	}
	return 0;
}

static int load_idle(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"backoff", "max_sleep_us", NULL};
	unsigned long v;
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, "idle", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "backoff")) &&
	    cfg_bool(ld, n, "idle.backoff", &gw_cfg(ld)->idle_backoff) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "max_sleep_us"))) {
		if (cfg_uint(ld, n, "idle.max_sleep_us", 1, 1000000, &v) != 0)
			return -1;
		gw_cfg(ld)->idle_max_sleep_us = (uint32_t)v;
	}
	return 0;
}

/* 0 keeps the allowed-IPs table's own default; anything else is used as given. */
static int load_tbl8_groups(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                            uint32_t max, uint32_t *out)
{
	unsigned long v;

	if (!node)
		return 0;
	if (cfg_uint(ld, node, path, 0, max, &v) != 0)
		return -1;
	if (v != 0 && v < MG_MIN_TBL8_GROUPS)
		return cfg_fail(ld, node, path, "expected 0 (default) or %u..%u, got %lu",
		                MG_MIN_TBL8_GROUPS, max, v);
	*out = (uint32_t)v;
	return 0;
}

static int load_limits(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"max_peers",        "max_prefixes",     "mbufs",
	                                   "ipv4_tbl8_groups", "ipv6_tbl8_groups", NULL};
	struct mg_config *cfg = gw_cfg(ld);
	unsigned long v;
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, "limits", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "max_peers"))) {
		if (cfg_uint(ld, n, "limits.max_peers", 1, 1u << 20, &v) != 0)
			return -1;
		cfg->max_peers = (uint32_t)v;
	}
	if ((n = cfg_lookup(ld, node, "max_prefixes"))) {
		if (cfg_uint(ld, n, "limits.max_prefixes", 1, 1u << 24, &v) != 0)
			return -1;
		cfg->max_prefixes = (uint32_t)v;
	}
	if ((n = cfg_lookup(ld, node, "mbufs"))) {
		if (cfg_uint(ld, n, "limits.mbufs", 0, 1u << 24, &v) != 0)
			return -1;
		if (v != 0 && v < 1024)
			return cfg_fail(ld, n, "limits.mbufs",
			                "expected 0 (derived) or 1024..16777216, got %lu", v);
		cfg->mbufs = (uint32_t)v;
	}
	if (load_tbl8_groups(ld, cfg_lookup(ld, node, "ipv4_tbl8_groups"),
	                     "limits.ipv4_tbl8_groups", MG_MAX_V4_TBL8_GROUPS,
	                     &cfg->ipv4_tbl8_groups) != 0)
		return -1;
	return load_tbl8_groups(ld, cfg_lookup(ld, node, "ipv6_tbl8_groups"),
	                        "limits.ipv6_tbl8_groups", MG_MAX_V6_TBL8_GROUPS,
	                        &cfg->ipv6_tbl8_groups);
}

/* ---- coordinator, sockets, logging, test ---- */

static int load_sockets(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"uapi_dir", "health", NULL};
	struct mg_config *cfg = gw_cfg(ld);
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, "sockets", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "uapi_dir")) &&
	    cfg_string(ld, n, "sockets.uapi_dir", "a directory", cfg->uapi_dir,
	               sizeof(cfg->uapi_dir)) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "health")) &&
	    cfg_string(ld, n, "sockets.health", "a socket path", cfg->health_socket,
	               sizeof(cfg->health_socket)) != 0)
		return -1;
	return 0;
}

/* Unix socket paths are limited by sun_path; say so now rather than at bind time. */
static int check_socket_paths(struct cfg_loader *ld, yaml_node_t *sockets)
{
	yaml_node_t *dir = sockets ? cfg_lookup(ld, sockets, "uapi_dir") : NULL;
	yaml_node_t *health = sockets ? cfg_lookup(ld, sockets, "health") : NULL;
	struct mg_config *cfg = gw_cfg(ld);
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	size_t uapi = strlen(cfg->uapi_dir) + 1 + strlen(cfg->ifname) + strlen(".sock");

	if (!cfg->health_socket[0])
		snprintf(cfg->health_socket, sizeof(cfg->health_socket), "%s/%s.health",
		         MG_HEALTH_DEFAULT_DIR, cfg->ifname);
	if (uapi > max)
		return cfg_fail(
		    ld, dir, "sockets.uapi_dir",
		    "expected a directory short enough for %s/%s.sock (%zu characters at "
		    "most), got %zu",
		    cfg->uapi_dir, cfg->ifname, max, uapi);
	if (strlen(cfg->health_socket) > max)
		return cfg_fail(ld, health, "sockets.health",
		                "expected a socket path of at most %zu characters, got %zu", max,
		                strlen(cfg->health_socket));
	return 0;
}

static bool is_loopback(const struct mg_sockaddr *a)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};
	return a->family == 4 ? a->addr[0] == 127 : memcmp(a->addr, v6_loopback, 16) == 0;
}

static int load_metrics(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"listen", NULL};
	struct mg_sockaddr sa;
	yaml_node_t *n;
	const char *s;

	if (cfg_check_keys(ld, node, "metrics", keys) != 0)
		return -1;
	/* Absent or empty: no listener. */
	if (!(n = cfg_lookup(ld, node, "listen")) ||
	    (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0))
		return 0;
	if (!(s = cfg_scalar(ld, n, "metrics.listen", "a loopback IP:PORT")))
		return -1;
	if (mg_sockaddr_parse(s, &sa) != 0 || !is_loopback(&sa) ||
	    strlen(s) >= sizeof(gw_cfg(ld)->metrics_listen))
		return cfg_fail(ld, n, "metrics.listen",
		                "expected a loopback IP:PORT such as 127.0.0.1:9586, got '%s'", s);
	snprintf(gw_cfg(ld)->metrics_listen, sizeof(gw_cfg(ld)->metrics_listen), "%s", s);
	return 0;
}

static int load_log_level(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const levels[] = {"error", "warning", "notice", "info", "debug", NULL};
	const char *s = cfg_scalar(ld, node, "log_level", "a log level");

	if (!s)
		return -1;
	for (size_t i = 0; levels[i]; i++) {
		if (strcmp(s, levels[i]) == 0) {
			snprintf(gw_cfg(ld)->log_level, sizeof(gw_cfg(ld)->log_level), "%s", s);
			return 0;
		}
	}
	return cfg_fail(ld, node, "log_level",
	                "expected error, warning, notice, info or debug, got '%s'", s);
}

static int load_test(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"timer_divisor", NULL};
	unsigned long v;
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, "test", keys) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "timer_divisor"))) {
		if (cfg_uint(ld, n, "test.timer_divisor", 1, 1000000, &v) != 0)
			return -1;
		gw_cfg(ld)->test_timer_divisor = (uint32_t)v;
		if (v != 1)
			cfg_warn(ld, n, "test.timer_divisor",
			         "protocol timers are divided by %lu: for tests only", v);
	}
	return 0;
}

/* IPv6 inner traffic needs the IPv6 minimum MTU. */
static int check_mtu(struct cfg_loader *ld, yaml_node_t *mtu_node)
{
	const struct mg_config *cfg = gw_cfg(ld);
	bool v6 = false;

	if (cfg->mtu >= IPV6_MIN_MTU)
		return 0;
	for (size_t i = 0; i < cfg->n_addresses; i++)
		v6 |= cfg->addresses[i].family == 6;
	for (size_t p = 0; p < cfg->n_peers; p++)
		for (size_t i = 0; i < cfg->peers[p].n_allowed_ips; i++)
			v6 |= cfg->peers[p].allowed_ips[i].family == 6;
	if (!v6)
		return 0;
	return cfg_fail(ld, mtu_node, "interface.mtu",
	                "expected at least %d because IPv6 addresses or allowed IPs are "
	                "configured, got %u",
	                IPV6_MIN_MTU, cfg->mtu);
}

/* ---- the document ---- */

static int load_root(struct cfg_loader *ld, yaml_node_t *root)
{
	static const char *const keys[] = {
	    "interface", "ports", "lcores",      "eal",     "idle",    "rx_fanout",
	    "limits",    "peers", "coordinator", "sockets", "metrics", "log_level",
	    "test",      "exit",  "filter",      "relay",   "stun",    NULL};
	uint8_t own_pub[WG_KEY_LEN];
	yaml_node_t *n, *mtu_node = NULL;

	if (cfg_check_keys(ld, root, "", keys) != 0)
		return -1;
	if (load_interface(ld, cfg_lookup(ld, root, "interface"), own_pub, &mtu_node) != 0 ||
	    load_ports(ld, cfg_lookup(ld, root, "ports")) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "lcores")) && load_lcores(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "eal")) && load_eal(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "idle")) && load_idle(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "rx_fanout")) &&
	    cfg_bool(ld, n, "rx_fanout", &gw_cfg(ld)->rx_fanout) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "limits")) && load_limits(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "peers")) && cfg_load_peers(ld, n, own_pub) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "coordinator")) &&
	    cfg_load_coordinator(ld, n, &gw_cfg(ld)->coord) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "exit")) && cfg_load_exit(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "filter")) && cfg_load_filter(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "relay")) &&
	    mg_relay_config_load(ld, n, &gw_cfg(ld)->relay) != 0)
		return -1;
	if (n && !gw_cfg(ld)->relay.host[0] && !gw_cfg(ld)->coord.url[0])
		return cfg_fail(
		    ld, n, "relay.host",
		    "required without a coordinator (whose relay map names the relays)");
	/* The agent's stun: section, loaded by the agent's loader: one shape for both. */
	if ((n = cfg_lookup(ld, root, "stun")) &&
	    mg_nat_probe_config_load(ld, n, &gw_cfg(ld)->stun) != 0)
		return -1;
	if (n && gw_cfg(ld)->stun.from_map && !gw_cfg(ld)->coord.url[0])
		return cfg_fail(
		    ld, n, "stun.servers",
		    "required without a coordinator (whose relay map names the STUN servers)");
	snprintf(gw_cfg(ld)->stun.region, sizeof(gw_cfg(ld)->stun.region), "%s",
	         gw_cfg(ld)->relay.region);
	if ((n = cfg_lookup(ld, root, "sockets")) && load_sockets(ld, n) != 0)
		return -1;
	if (check_socket_paths(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "metrics")) && load_metrics(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "log_level")) && load_log_level(ld, n) != 0)
		return -1;
	if ((n = cfg_lookup(ld, root, "test")) && load_test(ld, n) != 0)
		return -1;
	return check_mtu(ld, mtu_node);
}

/* text NULL: read the file at path; else parse text, with path naming it in messages. */
static int load_from(const char *path, const char *text, size_t len, struct mg_config *cfg,
                     char *errbuf, size_t errlen)
{
	char dummy[1];
	struct cfg_loader ld = {
	    .file = path,
	    .owner = cfg,
	    .err = errbuf && errlen ? errbuf : dummy,
	    .errlen = errbuf && errlen ? errlen : sizeof(dummy),
	};
	yaml_document_t doc;
	int ret;

	if (!path || !cfg)
		return -1;
	ld.err[0] = '\0';
	set_defaults(cfg);
	ld.warnings = cfg->warnings;
	ld.warnings_len = sizeof(cfg->warnings);
	if ((text ? cfg_load_buffer(&ld, text, len, &doc) : cfg_load_file(&ld, &doc)) != 0)
		return -1;
	ret = load_root(&ld, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	if (ret != 0) {
		mg_config_free(cfg);
		return -1;
	}
	return 0;
}

int mg_config_load(const char *path, struct mg_config *cfg, char *errbuf, size_t errlen)
{
	return load_from(path, NULL, 0, cfg, errbuf, errlen);
}

int mg_config_load_buffer(const char *name, const char *text, size_t len, struct mg_config *cfg,
                          char *errbuf, size_t errlen)
{
	return text ? load_from(name, text, len, cfg, errbuf, errlen) : -1;
}

void mg_config_free(struct mg_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		free(cfg->peers[i].allowed_ips);
		wg_memzero(cfg->peers[i].preshared_key, WG_KEY_LEN);
	}
	free(cfg->peers);
	mg_filter_free(&cfg->filter);
	for (size_t i = 0; i < cfg->n_eal_args; i++)
		free(cfg->eal_args[i]);
	wg_memzero(cfg->private_key, sizeof(cfg->private_key));
	memset(cfg, 0, sizeof(*cfg));
}
