// SPDX-License-Identifier: GPL-2.0-only
/*
 * The static-mode packet filter: a list of rules in the coordinator's shape
 * (docs/coord-protocol.md, "The packet filter"), parsed with the same text parsers as the map
 * (node/filter.h) so that both say the same thing about the same rule:
 *
 *   filter:
 *     - src: [10.2.0.0/24]
 *       dst: [10.1.0.0/24]
 *       proto: tcp
 *       ports: ["22", "8000-8100"]
 */
#include "config_filter.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "filter.h"

static struct mg_config *gw_cfg(const struct cfg_loader *ld)
{
	return ld->owner;
}

static int load_prefixes(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                         struct mg_prefix **out, size_t *n)
{
	yaml_node_item_t *items;
	size_t count;
	char kp[CFG_PATH_LEN], why[128];

	if (cfg_list_max(ld, node, path, "prefixes", MG_FILTER_MAX_PREFIXES, &items, &count) != 0)
		return -1;
	*out = calloc(2 * count + 1, sizeof(**out));
	if (!*out)
		return cfg_fail(ld, node, path, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *it = cfg_item(ld, node, items, i);
		size_t got;
		cfg_index(kp, path, i);
		const char *s = cfg_scalar(ld, it, kp, "a prefix such as 10.1.0.0/24, or \"*\"");
		if (!s)
			return -1;
		if (mg_filter_parse_prefix(s, *out + *n, &got, why, sizeof(why)) != 0)
			return cfg_fail(ld, it, kp, "%s", why);
		*n += got;
	}
	return 0;
}

static int load_ports(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                      struct mg_filter_rule *r)
{
	yaml_node_item_t *items;
	size_t count;
	char kp[CFG_PATH_LEN], why[128];

	if (cfg_list_max(ld, node, path, "port ranges", MG_FILTER_MAX_PORTS, &items, &count) != 0)
		return -1;
	r->ports = calloc(count + 1, sizeof(*r->ports));
	if (!r->ports)
		return cfg_fail(ld, node, path, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *it = cfg_item(ld, node, items, i);
		cfg_index(kp, path, i);
		const char *s = cfg_scalar(ld, it, kp, "a port, a range N-M or \"*\"");
		if (!s)
			return -1;
		if (mg_filter_parse_ports(s, &r->ports[r->n_ports], why, sizeof(why)) != 0)
			return cfg_fail(ld, it, kp, "%s", why);
		r->n_ports++;
	}
	return 0;
}

static int load_rule(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                     struct mg_filter_rule *r)
{
	static const char *const keys[] = {"src", "dst", "proto", "ports", NULL};
	char kp[CFG_PATH_LEN], why[128];
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, path, keys) != 0)
		return -1;
	static const char *const required[] = {"src", "dst", "ports"};
	for (unsigned i = 0; i < 3; i++)
		if (!cfg_lookup(ld, node, required[i])) {
			cfg_join(kp, path, required[i]);
			return cfg_fail(ld, node, kp, "required (the rule's %s)",
			                i == 2 ? "destination ports" : "prefixes");
		}
	cfg_join(kp, path, "src");
	if (load_prefixes(ld, cfg_lookup(ld, node, "src"), kp, &r->src, &r->n_src) != 0)
		return -1;
	cfg_join(kp, path, "dst");
	if (load_prefixes(ld, cfg_lookup(ld, node, "dst"), kp, &r->dst, &r->n_dst) != 0)
		return -1;
	if ((n = cfg_lookup(ld, node, "proto"))) {
		cfg_join(kp, path, "proto");
		const char *s = cfg_scalar(ld, n, kp, "tcp, udp, icmp or any");
		if (!s)
			return -1;
		if (mg_filter_parse_proto(s, &r->proto, why, sizeof(why)) != 0)
			return cfg_fail(ld, n, kp, "%s", why);
	}
	cfg_join(kp, path, "ports");
	if (load_ports(ld, cfg_lookup(ld, node, "ports"), kp, r) != 0)
		return -1;
	if (mg_filter_rule_normalize(r, why, sizeof(why)) != 0)
		return cfg_fail(ld, node, path, "%s", why);
	return 0;
}

int cfg_load_filter(struct cfg_loader *ld, yaml_node_t *node)
{
	struct mg_config *cfg = gw_cfg(ld);
	yaml_node_item_t *items;
	size_t count;
	char kp[CFG_PATH_LEN];

	if (cfg->coord.url[0])
		return cfg_fail(
		    ld, node, "filter",
		    "only for static mode: with a coordinator, the filter is the map's");
	if (cfg_list_max(ld, node, "filter", "rules", MG_FILTER_MAX_RULES, &items, &count) != 0)
		return -1;
	cfg->filter.rules = calloc(count + 1, sizeof(*cfg->filter.rules));
	if (!cfg->filter.rules)
		return cfg_fail(ld, node, "filter", "out of memory");
	cfg->has_filter = true;
	for (size_t i = 0; i < count; i++) {
		cfg_index(kp, "filter", i);
		cfg->filter.n_rules++;
		if (load_rule(ld, cfg_item(ld, node, items, i), kp, &cfg->filter.rules[i]) != 0)
			return -1;
	}
	return 0;
}
