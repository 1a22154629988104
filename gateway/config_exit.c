// SPDX-License-Identifier: GPL-2.0-only
#include "config_exit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static struct mg_config *gw_cfg(const struct cfg_loader *ld)
{
	return ld->owner;
}

static bool on_subnet(const struct mg_prefix *net, const uint8_t *addr)
{
	struct mg_prefix a = *net, b = *net;
	memcpy(b.addr, addr, net->family == 4 ? 4 : 16);
	mg_prefix_mask(&a);
	mg_prefix_mask(&b);
	return memcmp(a.addr, b.addr, sizeof(a.addr)) == 0;
}

/* "1024-65535" or a single port. */
static int load_port_range(struct cfg_loader *ld, yaml_node_t *node, struct mg_dp_exit_config *e)
{
	const char *path = "exit.port_range";
	const char *s = cfg_scalar(ld, node, path, "a port range such as 20000-29999");
	char *end;
	if (!s)
		return -1;
	unsigned long lo = strtoul(s, &end, 10), hi = lo;
	if (end != s && *end == '-') {
		const char *h = end + 1;
		hi = strtoul(h, &end, 10);
		if (end == h)
			end = (char *)"x";
	}
	if (end == s || *end || lo < 1 || hi > 65535 || lo > hi)
		return cfg_fail(ld, node, path,
		                "expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535, got '%s'", s);
	e->port_min = (uint16_t)lo;
	e->port_max = (uint16_t)hi;
	if (hi - lo + 1 < gw_cfg(ld)->n_workers)
		return cfg_fail(ld, node, path,
		                "expected at least one port per worker lcore (%zu), got %lu",
		                gw_cfg(ld)->n_workers, hi - lo + 1);
	return 0;
}

static int load_timeouts(struct cfg_loader *ld, yaml_node_t *node, struct mg_dp_exit_config *e)
{
	static const char *const keys[] = {"udp", "tcp_established", "tcp_transitory", "icmp",
	                                   NULL};
	/* the RFC minima: shorter breaks applications, so it is only for tests */
	static const unsigned long rfc_min[] = {120, 7440, 240, 60};
	uint32_t *dst[] = {&e->udp_timeout, &e->tcp_established_timeout, &e->tcp_transitory_timeout,
	                   &e->icmp_timeout};
	char kp[CFG_PATH_LEN];
	if (cfg_check_keys(ld, node, "exit.timeouts", keys) != 0)
		return -1;
	for (unsigned i = 0; keys[i]; i++) {
		yaml_node_t *n = cfg_lookup(ld, node, keys[i]);
		unsigned long v;
		cfg_join(kp, "exit.timeouts", keys[i]);
		if (!n)
			continue;
		if (cfg_uint(ld, n, kp, 1, 86400 * 7, &v) != 0)
			return -1;
		*dst[i] = (uint32_t)v;
		if (v < rfc_min[i])
			cfg_warn(
			    ld, n, kp,
			    "%lu s is below the RFC 4787/5382/5508 minimum of %lu s: for tests "
			    "only",
			    v, rfc_min[i]);
	}
	return 0;
}

static int load_pool(struct cfg_loader *ld, yaml_node_t *node, struct mg_dp_exit_config *e)
{
	const char *path = "exit.ipv4_pool";
	yaml_node_item_t *items;
	char ip[CFG_PATH_LEN];
	size_t n;
	if (cfg_list(ld, node, path, "IPv4 addresses", &items, &n) != 0)
		return -1;
	if (n == 0 || n > MG_NAT_MAX_POOL)
		return cfg_fail(ld, node, path, "expected 1 to %d IPv4 addresses, got %zu",
		                MG_NAT_MAX_POOL, n);
	for (size_t i = 0; i < n; i++) {
		cfg_index(ip, path, i);
		if (cfg_addr(ld, cfg_item(ld, node, items, i), ip, 4, e->pool4[i]) != 0)
			return -1;
	}
	e->n_pool4 = n;
	return 0;
}

static int load_exclude(struct cfg_loader *ld, yaml_node_t *node, struct mg_dp_exit_config *e)
{
	const char *path = "exit.exclude";
	yaml_node_item_t *items;
	char ip[CFG_PATH_LEN];
	size_t n;
	if (cfg_list_max(ld, node, path, "prefixes", MG_NAT_MAX_EXCLUDE, &items, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cfg_index(ip, path, i);
		if (cfg_prefix(ld, cfg_item(ld, node, items, i), ip, 0, true, &e->exclude[i]) != 0)
			return -1;
		mg_prefix_mask(&e->exclude[i]);
	}
	e->n_exclude = n;
	return 0;
}

/* Return traffic to the WireGuard port would be taken for WireGuard: keep them apart. */
static int check_listen_port(struct cfg_loader *ld, yaml_node_t *node, yaml_node_t *range)
{
	const struct mg_config *cfg = gw_cfg(ld);
	const struct mg_dp_exit_config *e = &cfg->exit;
	uint16_t lo = e->port_min ? e->port_min : 1024, hi = e->port_max ? e->port_max : 65535;
	if (e->uplink != MG_PORT_MESH || cfg->listen_port < lo || cfg->listen_port > hi)
		return 0;
	return cfg_fail(ld, range ? range : node, "exit.port_range",
	                "expected a range that leaves out interface.listen_port (%u) when the "
	                "uplink is the mesh port, got %u-%u",
	                cfg->listen_port, lo, hi);
}

int cfg_load_exit(struct cfg_loader *ld, yaml_node_t *node)
{
	static const char *const keys[] = {"enabled",   "uplink",       "next_hop4",  "next_hop6",
	                                   "ipv4_pool", "ipv6_address", "port_range", "max_flows",
	                                   "timeouts",  "exclude",      NULL};
	struct mg_config *cfg = gw_cfg(ld);
	struct mg_dp_exit_config *e = &cfg->exit;
	yaml_node_t *n, *range;
	unsigned long v;
	const char *s;

	if (cfg_check_keys(ld, node, "exit", keys) != 0)
		return -1;
	e->enabled = true;
	if ((n = cfg_lookup(ld, node, "enabled")) && cfg_bool(ld, n, "exit.enabled", &e->enabled))
		return -1;
	e->uplink = MG_PORT_MESH;
	if ((n = cfg_lookup(ld, node, "uplink"))) {
		if (!(s = cfg_scalar(ld, n, "exit.uplink", "lan or mesh")))
			return -1;
		if (strcmp(s, "lan") == 0)
			e->uplink = MG_PORT_LAN;
		else if (strcmp(s, "mesh") != 0)
			return cfg_fail(ld, n, "exit.uplink", "expected lan or mesh, got '%s'", s);
	}
	const struct mg_port_config *up = &cfg->ports[e->uplink];
	const char *upname = e->uplink == MG_PORT_LAN ? "ports.lan" : "ports.mesh";
	if ((n = cfg_lookup(ld, node, "next_hop4"))) {
		if (cfg_addr(ld, n, "exit.next_hop4", 4, e->next_hop4) != 0)
			return -1;
		if (!up->has_ipv4 || !on_subnet(&up->ipv4, e->next_hop4))
			return cfg_fail(ld, n, "exit.next_hop4",
			                "expected an address inside %s.ipv4's subnet", upname);
		e->has_next_hop4 = true;
	}
	if ((n = cfg_lookup(ld, node, "next_hop6"))) {
		if (cfg_addr(ld, n, "exit.next_hop6", 6, e->next_hop6) != 0)
			return -1;
		if (!up->has_ipv6)
			return cfg_fail(ld, n, "exit.next_hop6", "needs %s.ipv6", upname);
		e->has_next_hop6 = true;
	}
	if ((n = cfg_lookup(ld, node, "ipv4_pool")) && load_pool(ld, n, e) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "ipv6_address"))) {
		if (cfg_addr(ld, n, "exit.ipv6_address", 6, e->addr6) != 0)
			return -1;
		e->has_addr6 = true;
	}
	if (!e->n_pool4 && !up->has_ipv4 && !e->has_addr6 && !up->has_ipv6)
		return cfg_fail(ld, node, "exit",
		                "the uplink (%s) has no address to translate to: give it ipv4 or "
		                "ipv6, or set exit.ipv4_pool",
		                upname);
	if ((range = cfg_lookup(ld, node, "port_range")) && load_port_range(ld, range, e) != 0)
		return -1;
	if (e->n_pool4 == 0 && check_listen_port(ld, node, range) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "max_flows"))) {
		if (cfg_uint(ld, n, "exit.max_flows", MG_NAT_MIN_FLOWS, MG_NAT_MAX_FLOWS, &v) != 0)
			return -1;
		e->max_flows = (uint32_t)v;
	}
	if ((n = cfg_lookup(ld, node, "timeouts")) && load_timeouts(ld, n, e) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "exclude")) && load_exclude(ld, n, e) != 0)
		return -1;
	if (e->enabled && (e->n_pool4 || up->has_ipv4) && !e->has_next_hop4 && !up->has_gateway4)
		cfg_warn(ld, node, "exit",
		         "no exit.next_hop4 nor %s.gateway4: IPv4 exit traffic reaches only the "
		         "uplink's own subnet",
		         upname);
	return 0;
}
