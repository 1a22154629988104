// SPDX-License-Identifier: GPL-2.0-only
/*
 * The static peers of the config file. Beyond what wg(8) checks, a key or an allowed IP given
 * twice is an error here: wg would silently let the last one win, which in a file is a typo.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_peers.h"
#include "config_yaml.h"
#include "crypto.h"
#include "keys.h"

/* Where a peer or an allowed IP was written, for duplicate reports. */
struct origin {
	size_t peer, item;
	unsigned long line;
};

struct key_ref {
	const uint8_t *key;
	struct origin at;
};

struct prefix_ref {
	struct mg_prefix prefix;
	struct origin at;
};

static int load_key_text(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                         const char *what, uint8_t key[WG_KEY_LEN])
{
	const char *s = cfg_scalar(ld, node, path, what);
	struct wg_key_status st;
	char msg[WG_KEY_ERRBUF_SIZE];

	if (!s)
		return -1;
	if (wg_key_from_base64(key, s, strlen(s), &st) != WG_KEY_OK)
		return cfg_fail(ld, node, path, "expected %s: %s", what,
		                wg_key_error_format(&st, NULL, msg, sizeof(msg)));
	return 0;
}

static int load_psk(struct cfg_loader *ld, yaml_node_t *map, const char *path,
                    struct mg_peer_config *pc)
{
	yaml_node_t *inline_key = cfg_lookup(ld, map, "preshared_key");
	yaml_node_t *file = cfg_lookup(ld, map, "preshared_key_file");
	char kp[CFG_PATH_LEN], msg[WG_KEY_ERRBUF_SIZE];
	struct wg_key_status st;
	const char *name;

	if (inline_key && file) {
		cfg_join(kp, path, "preshared_key_file");
		return cfg_fail(ld, file, kp, "give preshared_key or preshared_key_file, not both");
	}
	if (inline_key) {
		cfg_join(kp, path, "preshared_key");
		if (load_key_text(ld, inline_key, kp, "a base64 key (wg genpsk)",
		                  pc->preshared_key) != 0)
			return -1;
		/* The document is freed without being cleared: do not leave the secret in it. */
		wg_memzero(inline_key->data.scalar.value, inline_key->data.scalar.length);
		pc->has_preshared_key = true;
	} else if (file) {
		cfg_join(kp, path, "preshared_key_file");
		name = cfg_scalar(ld, file, kp, "a file name");
		if (!name)
			return -1;
		if (wg_key_from_file(name, pc->preshared_key, &st) != WG_KEY_OK)
			return cfg_fail(ld, file, kp, "%s",
			                wg_key_error_format(&st, name, msg, sizeof(msg)));
		if (st.loose_permissions)
			cfg_warn(ld, file, kp, "%s is readable by group or others; chmod 600 it",
			         name);
		pc->has_preshared_key = true;
	}
	/* wg treats an all-zero preshared key as none. */
	if (pc->has_preshared_key && wg_key_is_zero(pc->preshared_key))
		pc->has_preshared_key = false;
	return 0;
}

static int load_allowed_ips(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                            struct mg_peer_config *pc)
{
	char ipath[CFG_PATH_LEN], before[MG_PREFIX_STRLEN], after[MG_PREFIX_STRLEN];
	yaml_node_item_t *items;
	size_t n;

	if (cfg_list(ld, node, path, "prefixes", &items, &n) != 0)
		return -1;
	if (n == 0)
		return 0;
	pc->allowed_ips = calloc(n, sizeof(*pc->allowed_ips));
	if (!pc->allowed_ips)
		return cfg_fail(ld, node, path, "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = cfg_item(ld, node, items, i);
		struct mg_prefix *p = &pc->allowed_ips[i];

		cfg_index(ipath, path, i);
		if (cfg_prefix(ld, item, ipath, 0, false, p) != 0)
			return -1;
		pc->n_allowed_ips = i + 1;
		if (mg_prefix_has_host_bits(p)) {
			mg_prefix_format(p, before, sizeof(before));
			mg_prefix_mask(p);
			mg_prefix_format(p, after, sizeof(after));
			cfg_warn(ld, item, ipath, "%s has host bits set; using %s (as wg does)",
			         before, after);
		}
	}
	return 0;
}

static int load_peer(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                     struct mg_peer_config *pc, const uint8_t *own_pub)
{
	static const char *const keys[] = {"public_key", "preshared_key", "preshared_key_file",
	                                   "endpoint",   "allowed_ips",   "persistent_keepalive",
	                                   NULL};
	char kp[CFG_PATH_LEN], why[256];
	unsigned long v;
	yaml_node_t *n;
	const char *s;

	if (cfg_check_keys(ld, node, path, keys) != 0)
		return -1;
	cfg_join(kp, path, "public_key");
	if (!(n = cfg_lookup(ld, node, "public_key")))
		return cfg_fail(ld, node, kp, "required: the peer's base64 public key (wg pubkey)");
	if (load_key_text(ld, n, kp, "a base64 public key (wg pubkey)", pc->public_key) != 0)
		return -1;
	if (wg_memeq(pc->public_key, own_pub, WG_KEY_LEN))
		return cfg_fail(ld, n, kp, "expected another node's key, got this gateway's own");
	if (load_psk(ld, node, path, pc) != 0)
		return -1;
	cfg_join(kp, path, "endpoint");
	if ((n = cfg_lookup(ld, node, "endpoint"))) {
		s = cfg_scalar(ld, n, kp, "HOST:PORT");
		if (!s)
			return -1;
		if (mg_sockaddr_resolve(s, &pc->endpoint, why, sizeof(why)) != 0)
			return cfg_fail(ld, n, kp,
			                "expected HOST:PORT like 198.51.100.7:51820 or "
			                "[2001:db8::7]:51820, got '%s': %s",
			                s, why);
	}
	cfg_join(kp, path, "allowed_ips");
	if ((n = cfg_lookup(ld, node, "allowed_ips")) && load_allowed_ips(ld, n, kp, pc) != 0)
		return -1;
	cfg_join(kp, path, "persistent_keepalive");
	if ((n = cfg_lookup(ld, node, "persistent_keepalive"))) {
		/* wg accepts "off" for 0. */
		if (n->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)n->data.scalar.value, "off") == 0)
			v = 0;
		else if (cfg_uint(ld, n, kp, 0, 65535, &v) != 0)
			return -1;
		pc->persistent_keepalive = (uint16_t)v;
	}
	return 0;
}

static int origin_cmp(const struct origin *a, const struct origin *b)
{
	if (a->peer != b->peer)
		return a->peer < b->peer ? -1 : 1;
	return a->item < b->item ? -1 : a->item > b->item;
}

static int key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int c = memcmp(x->key, y->key, WG_KEY_LEN);

	return c ? c : origin_cmp(&x->at, &y->at);
}

static int prefix_ref_cmp(const void *a, const void *b)
{
	const struct prefix_ref *x = a, *y = b;

	if (x->prefix.family != y->prefix.family)
		return x->prefix.family < y->prefix.family ? -1 : 1;
	if (x->prefix.len != y->prefix.len)
		return x->prefix.len < y->prefix.len ? -1 : 1;
	int c = memcmp(x->prefix.addr, y->prefix.addr, sizeof(x->prefix.addr));

	return c ? c : origin_cmp(&x->at, &y->at);
}

/* Sorting brings equal keys next to each other, first-written first. */
static int check_duplicate_keys(struct cfg_loader *ld, yaml_node_t *list, yaml_node_item_t *items)
{
	struct mg_config *cfg = ld->owner;
	struct key_ref *refs = calloc(cfg->n_peers, sizeof(*refs));
	char kp[CFG_PATH_LEN];
	int ret = 0;

	if (!refs)
		return cfg_fail(ld, list, "peers", "out of memory");
	for (size_t i = 0; i < cfg->n_peers; i++) {
		refs[i].key = cfg->peers[i].public_key;
		refs[i].at.peer = i;
		refs[i].at.line =
		    cfg_line(cfg_lookup(ld, cfg_item(ld, list, items, i), "public_key"));
	}
	qsort(refs, cfg->n_peers, sizeof(*refs), key_ref_cmp);
	for (size_t i = 1; i < cfg->n_peers && ret == 0; i++) {
		if (memcmp(refs[i].key, refs[i - 1].key, WG_KEY_LEN) != 0)
			continue;
		snprintf(kp, sizeof(kp), "peers[%zu].public_key", refs[i].at.peer);
		ret = cfg_fail(
		    ld, cfg_lookup(ld, cfg_item(ld, list, items, refs[i].at.peer), "public_key"),
		    kp,
		    "expected a key not listed before, got the key of peers[%zu] "
		    "(line %lu) again",
		    refs[i - 1].at.peer, refs[i - 1].at.line);
	}
	free(refs);
	return ret;
}

static bool same_prefix(const struct mg_prefix *a, const struct mg_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The YAML node of peers[peer].allowed_ips[item], which loading has already validated. */
static yaml_node_t *allowed_ip_node(struct cfg_loader *ld, yaml_node_t *list,
                                    yaml_node_item_t *items, size_t peer, size_t item)
{
	yaml_node_t *ips = cfg_lookup(ld, cfg_item(ld, list, items, peer), "allowed_ips");
	yaml_node_item_t *ip_items;
	size_t n;

	if (!ips || cfg_list(ld, ips, "", "", &ip_items, &n) != 0 || item >= n)
		return list;
	return cfg_item(ld, ips, ip_items, item);
}

static int check_prefixes(struct cfg_loader *ld, yaml_node_t *list, yaml_node_item_t *items)
{
	struct mg_config *cfg = ld->owner;
	size_t total = 0, per_family[2] = {0, 0}, k = 0;
	char kp[CFG_PATH_LEN], text[MG_PREFIX_STRLEN];
	struct prefix_ref *refs;
	int ret = 0;

	for (size_t p = 0; p < cfg->n_peers; p++) {
		total += cfg->peers[p].n_allowed_ips;
		for (size_t i = 0; i < cfg->peers[p].n_allowed_ips; i++)
			per_family[cfg->peers[p].allowed_ips[i].family == 6]++;
	}
	for (int f = 0; f < 2; f++)
		if (per_family[f] > cfg->max_prefixes)
			return cfg_fail(
			    ld, list, "peers",
			    "expected at most limits.max_prefixes (%u) IPv%d allowed IPs, "
			    "got %zu",
			    cfg->max_prefixes, f ? 6 : 4, per_family[f]);
	if (total < 2)
		return 0;
	refs = calloc(total, sizeof(*refs));
	if (!refs)
		return cfg_fail(ld, list, "peers", "out of memory");
	for (size_t p = 0; p < cfg->n_peers; p++) {
		for (size_t i = 0; i < cfg->peers[p].n_allowed_ips; i++, k++) {
			refs[k].prefix = cfg->peers[p].allowed_ips[i];
			refs[k].at.peer = p;
			refs[k].at.item = i;
		}
	}
	qsort(refs, total, sizeof(*refs), prefix_ref_cmp);
	for (size_t i = 1; i < total && ret == 0; i++) {
		if (!same_prefix(&refs[i].prefix, &refs[i - 1].prefix))
			continue;
		mg_prefix_format(&refs[i].prefix, text, sizeof(text));
		snprintf(kp, sizeof(kp), "peers[%zu].allowed_ips[%zu]", refs[i].at.peer,
		         refs[i].at.item);
		ret = cfg_fail(
		    ld, allowed_ip_node(ld, list, items, refs[i].at.peer, refs[i].at.item), kp,
		    "expected each allowed IP once, got %s again (first in "
		    "peers[%zu].allowed_ips[%zu])",
		    text, refs[i - 1].at.peer, refs[i - 1].at.item);
	}
	free(refs);
	return ret;
}

int cfg_load_peers(struct cfg_loader *ld, yaml_node_t *node, const uint8_t *own_public_key)
{
	struct mg_config *cfg = ld->owner;
	yaml_node_item_t *items;
	char kp[CFG_PATH_LEN];
	size_t n;

	if (cfg_list(ld, node, "peers", "peer mappings", &items, &n) != 0)
		return -1;
	if (n > cfg->max_peers)
		return cfg_fail(ld, node, "peers",
		                "expected at most limits.max_peers (%u) peers, got %zu",
		                cfg->max_peers, n);
	if (n == 0)
		return 0;
	cfg->peers = calloc(n, sizeof(*cfg->peers));
	if (!cfg->peers)
		return cfg_fail(ld, node, "peers", "out of memory");
	cfg->n_peers = n;
	for (size_t i = 0; i < n; i++) {
		cfg_index(kp, "peers", i);
		if (load_peer(ld, cfg_item(ld, node, items, i), kp, &cfg->peers[i],
		              own_public_key) != 0)
			return -1;
	}
	if (check_duplicate_keys(ld, node, items) != 0)
		return -1;
	return check_prefixes(ld, node, items);
}
