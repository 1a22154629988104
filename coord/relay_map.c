// SPDX-License-Identifier: GPL-2.0-only
#include "relay_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "keys.h"

#define MAX_REGIONS           64
#define MAX_RELAYS_PER_REGION 32

bool relay_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RELAY_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* A DNS name or numeric address a node can connect to; no ports, spaces or URL syntax. */
static bool host_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == ':'))
			return false;
	return true;
}

static int load_name(struct cfg_loader *ld, yaml_node_t *n, const char *path, char *dst)
{
	if (cfg_string(ld, n, path, "a name", dst, RELAY_NAME_MAX + 1) != 0)
		return -1;
	if (!relay_name_valid(dst))
		return cfg_fail(ld, n, path, "expected 1..63 of A-Z a-z 0-9 . _ -, got '%s'", dst);
	return 0;
}

static json_t *load_relay(struct cfg_loader *ld, yaml_node_t *node, const char *path, json_t *names)
{
	static const char *const keys[] = {"name",        "host",      "port",
	                                   "server_name", "stun_port", NULL};
	char p[CFG_PATH_LEN], name[RELAY_NAME_MAX + 1], host[254], sni[254];
	unsigned long port = 443, stun = 0;
	yaml_node_t *n;

	if (cfg_check_keys(ld, node, path, keys) != 0)
		return NULL;
	cfg_join(p, path, "name");
	if (!(n = cfg_lookup(ld, node, "name"))) {
		cfg_fail(ld, node, p, "required: the relay's name (its mesh name)");
		return NULL;
	}
	if (load_name(ld, n, p, name) != 0)
		return NULL;
	if (json_object_get(names, name)) {
		cfg_fail(ld, n, p, "relay name '%s' appears twice in the relay map", name);
		return NULL;
	}
	cfg_join(p, path, "host");
	if (!(n = cfg_lookup(ld, node, "host"))) {
		cfg_fail(ld, node, p, "required: the relay's DNS name or address");
		return NULL;
	}
	if (cfg_string(ld, n, p, "a host", host, sizeof(host)) != 0)
		return NULL;
	if (!host_valid(host)) {
		cfg_fail(ld, n, p, "expected a DNS name or a numeric address, got '%s'", host);
		return NULL;
	}
	snprintf(sni, sizeof(sni), "%s", host);
	cfg_join(p, path, "server_name");
	if ((n = cfg_lookup(ld, node, "server_name")) &&
	    cfg_string(ld, n, p, "the name on the relay's certificate", sni, sizeof(sni)) != 0)
		return NULL;
	cfg_join(p, path, "port");
	if ((n = cfg_lookup(ld, node, "port")) && cfg_uint(ld, n, p, 1, 65535, &port) != 0)
		return NULL;
	cfg_join(p, path, "stun_port");
	if ((n = cfg_lookup(ld, node, "stun_port")) && cfg_uint(ld, n, p, 0, 65535, &stun) != 0)
		return NULL;
	json_object_set_new(names, name, json_true());
	return json_pack("{ss ss sI ss sI}", "name", name, "host", host, "port", (json_int_t)port,
	                 "server_name", sni, "stun_port", (json_int_t)stun);
}

static json_t *load_region(struct cfg_loader *ld, yaml_node_t *node, const char *path,
                           json_t *names, json_t *codes)
{
	static const char *const keys[] = {"code", "name", "relays", NULL};
	char p[CFG_PATH_LEN], ip[CFG_PATH_LEN], code[RELAY_NAME_MAX + 1], desc[128] = "";
	yaml_node_item_t *items;
	yaml_node_t *n, *list;
	json_t *relays, *r;
	size_t cnt;

	if (cfg_check_keys(ld, node, path, keys) != 0)
		return NULL;
	cfg_join(p, path, "code");
	if (!(n = cfg_lookup(ld, node, "code"))) {
		cfg_fail(ld, node, p, "required: a short region code such as fra");
		return NULL;
	}
	if (load_name(ld, n, p, code) != 0)
		return NULL;
	if (json_object_get(codes, code)) {
		cfg_fail(ld, n, p, "region code '%s' appears twice", code);
		return NULL;
	}
	json_object_set_new(codes, code, json_true());
	cfg_join(p, path, "name");
	if ((n = cfg_lookup(ld, node, "name")) &&
	    cfg_string(ld, n, p, "a description", desc, sizeof(desc)) != 0)
		return NULL;
	cfg_join(p, path, "relays");
	if (!(list = cfg_lookup(ld, node, "relays"))) {
		cfg_fail(ld, node, p, "required: the region's relays");
		return NULL;
	}
	if (cfg_list(ld, list, p, "relays", &items, &cnt) != 0)
		return NULL;
	if (cnt == 0 || cnt > MAX_RELAYS_PER_REGION) {
		cfg_fail(ld, list, p, "expected 1..%d relays, got %zu", MAX_RELAYS_PER_REGION, cnt);
		return NULL;
	}
	relays = json_array();
	for (size_t i = 0; i < cnt; i++) {
		cfg_index(ip, p, i);
		if (!(r = load_relay(ld, cfg_item(ld, list, items, i), ip, names))) {
			json_decref(relays);
			return NULL;
		}
		json_array_append_new(relays, r);
	}
	return json_pack("{ss ss so}", "code", code, "name", desc[0] ? desc : code, "relays",
	                 relays);
}

int relay_map_load(struct cfg_loader *ld, yaml_node_t *v, char **out)
{
	static const char *const keys[] = {"regions", NULL};
	char ip[CFG_PATH_LEN];
	yaml_node_item_t *items;
	yaml_node_t *list;
	json_t *names = json_object(), *codes = json_object(), *regions = json_array(), *r;
	size_t cnt;
	int ret = -1;

	if (!names || !codes || !regions)
		goto out;
	if (cfg_check_keys(ld, v, "relay_map", keys) != 0)
		goto out;
	if (!(list = cfg_lookup(ld, v, "regions"))) {
		cfg_fail(ld, v, "relay_map.regions", "required: a list of regions");
		goto out;
	}
	if (cfg_list(ld, list, "relay_map.regions", "regions", &items, &cnt) != 0)
		goto out;
	if (cnt == 0 || cnt > MAX_REGIONS) {
		cfg_fail(ld, list, "relay_map.regions", "expected 1..%d regions, got %zu",
		         MAX_REGIONS, cnt);
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		cfg_index(ip, "relay_map.regions", i);
		if (!(r = load_region(ld, cfg_item(ld, list, items, i), ip, names, codes)))
			goto out;
		json_array_append_new(regions, r);
	}
	free(*out);
	r = json_pack("{sO}", "regions", regions);
	*out = r ? json_dumps(r, JSON_COMPACT) : NULL;
	json_decref(r);
	ret = *out ? 0 : cfg_fail(ld, v, "relay_map", "out of memory");
out:
	json_decref(names);
	json_decref(codes);
	json_decref(regions);
	return ret;
}

int relay_credential_read(const char *file, uint8_t out[32], char *err, size_t errlen)
{
	struct wg_key_status st;
	char msg[WG_KEY_ERRBUF_SIZE];

	if (wg_key_from_file(file, out, &st) != WG_KEY_OK) {
		snprintf(err, errlen, "relay_credential_file: %s",
		         wg_key_error_format(&st, file, msg, sizeof(msg)));
		return -1;
	}
	if (st.loose_permissions || sodium_is_zero(out, 32)) {
		snprintf(err, errlen, "relay_credential_file: %s %s", file,
		         st.loose_permissions ? "is readable by group or others; chmod 600 it"
		                              : "holds an all-zero key");
		sodium_memzero(out, 32);
		return -1;
	}
	return 0;
}
