// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: the gateway's YAML configuration (gateway/config.h mg_config_load_buffer, the
 * file loader's parser without the file: no write per input). Each seed is also written to a
 * file and loaded with mg_config_load, which must agree. The seeds are the annotated gateway
 * examples in conf/, with their key file paths pointed at real key files made at setup, plus a
 * minimal file; each must load.
 *
 * Invariants per input:
 *  - the loader answers 0 or -1; on -1 the message is "FILE:LINE: ..." with a line inside the
 *    file, and the same file loaded with a small error buffer gives the same verdict and a
 *    correctly cut, terminated prefix of the same message;
 *  - on 0 every field is within what conf/gateway-site-a.yaml documents: strings terminated,
 *    counts and ranges, distinct lcores and devices, peers' keys unique and not our own,
 *    allowed IPs unique with host bits cleared, the IPv6 MTU rule, socket path lengths; every
 *    warning names the file and a line;
 *  - mg_config_free leaves the struct all zero (the private key with it), after success or not.
 * Hostnames in endpoints are resolved numerically only (getaddrinfo in fuzz_yaml.c), so the fuzzer
 * never asks DNS: the loader's code paths are the real ones, its failures are "cannot resolve".
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config.h"
#include "crypto.h"
#include "fuzz_driver.h"
#include "fuzz_yaml.h"
#include "keys.h"
#include "test_rng.h"

static char config_path[300], key_path[300], psk_path[300];
static unsigned long cur_lines;
static const uint8_t *cur_data;
static size_t cur_len;
static uint64_t loads_ok;

/* All zero: libc's memcmp of the struct against itself one byte on. wg_is_zero is constant
 * time, a byte at a time, and on struct mg_config it cost a fifth of the target's time. */
static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	return n == 0 || (b[0] == 0 && memcmp(b, b + 1, n - 1) == 0);
}

static bool power_of_two_desc(uint16_t v)
{
	return v == 0 || (v >= 64 && v <= 32768 && (v & (v - 1)) == 0);
}

static void check_ports(const struct mg_config *cfg)
{
	for (int i = 0; i < MG_PORT_COUNT; i++) {
		const struct mg_port_config *pc = &cfg->ports[i];
		FUZZ_CHECK(fuzz_yaml_terminated(pc->devargs, sizeof(pc->devargs)) && pc->devargs[0],
		           "port %d devargs", i);
		FUZZ_CHECK(!pc->has_ipv4 ||
		               (pc->ipv4.family == 4 && fuzz_yaml_prefix_ok(&pc->ipv4)),
		           "port %d ipv4", i);
		FUZZ_CHECK(!pc->has_ipv6 ||
		               (pc->ipv6.family == 6 && fuzz_yaml_prefix_ok(&pc->ipv6)),
		           "port %d ipv6", i);
		FUZZ_CHECK(!pc->has_gateway4 || pc->has_ipv4, "port %d gateway4 without ipv4", i);
		FUZZ_CHECK(!pc->has_gateway6 || pc->has_ipv6, "port %d gateway6 without ipv6", i);
		FUZZ_CHECK(power_of_two_desc(pc->rx_desc) && power_of_two_desc(pc->tx_desc),
		           "port %d descriptors %u/%u", i, pc->rx_desc, pc->tx_desc);
	}
	FUZZ_CHECK(strcmp(cfg->ports[0].devargs, cfg->ports[1].devargs) != 0,
	           "one device for both ports");
}

static void check_lcores(const struct mg_config *cfg)
{
	bool used[MG_MAX_LCORE] = {false};

	FUZZ_CHECK(cfg->control_lcore < MG_MAX_LCORE, "control lcore %u", cfg->control_lcore);
	used[cfg->control_lcore] = true;
	FUZZ_CHECK(cfg->n_workers >= 1 && cfg->n_workers <= MG_MAX_WORKERS, "%zu workers",
	           cfg->n_workers);
	for (size_t i = 0; i < cfg->n_workers; i++) {
		unsigned w = cfg->worker_lcores[i];
		FUZZ_CHECK(w < MG_MAX_LCORE && !used[w], "worker lcore %u reused or out of range",
		           w);
		used[w] = true;
	}
}

static void check_peers(const struct mg_config *cfg, const uint8_t own_pub[WG_KEY_LEN])
{
	bool v6 = false;

	FUZZ_CHECK(cfg->n_peers <= cfg->max_peers && (cfg->n_peers == 0) == (cfg->peers == NULL),
	           "%zu peers, max %u", cfg->n_peers, cfg->max_peers);
	for (size_t i = 0; i < cfg->n_addresses; i++)
		v6 |= cfg->addresses[i].family == 6;
	for (size_t p = 0; p < cfg->n_peers; p++) {
		const struct mg_peer_config *pc = &cfg->peers[p];
		FUZZ_CHECK(!wg_memeq(pc->public_key, own_pub, WG_KEY_LEN), "peer %zu is us", p);
		FUZZ_CHECK(!pc->has_preshared_key || !wg_key_is_zero(pc->preshared_key),
		           "peer %zu: all-zero preshared key kept", p);
		FUZZ_CHECK(pc->endpoint.family == 0 ||
		               ((pc->endpoint.family == 4 || pc->endpoint.family == 6) &&
		                pc->endpoint.port != 0),
		           "peer %zu endpoint", p);
		for (size_t q = 0; q < p; q++)
			FUZZ_CHECK(memcmp(cfg->peers[q].public_key, pc->public_key, WG_KEY_LEN) !=
			               0,
			           "peers %zu and %zu share a key", q, p);
		for (size_t i = 0; i < pc->n_allowed_ips; i++) {
			const struct mg_prefix *a = &pc->allowed_ips[i];
			FUZZ_CHECK(fuzz_yaml_prefix_ok(a) && !mg_prefix_has_host_bits(a),
			           "peer %zu allowed IP %zu", p, i);
			v6 |= a->family == 6;
			for (size_t q = 0; q <= p; q++)
				for (size_t j = 0; j < (q == p ? i : cfg->peers[q].n_allowed_ips);
				     j++)
					FUZZ_CHECK(!fuzz_yaml_same_prefix(
					               &cfg->peers[q].allowed_ips[j], a),
					           "allowed IP twice (peers %zu and %zu)", q, p);
		}
	}
	FUZZ_CHECK(!v6 || cfg->mtu >= 1280, "IPv6 configured with MTU %u", cfg->mtu);
}

static void check_loaded(const struct mg_config *cfg, unsigned long lines)
{
	size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	uint8_t own_pub[WG_KEY_LEN];

	FUZZ_CHECK(fuzz_yaml_terminated(cfg->ifname, sizeof(cfg->ifname)) && cfg->ifname[0],
	           "ifname");
	FUZZ_CHECK(fuzz_yaml_terminated(cfg->private_key_file, sizeof(cfg->private_key_file)) &&
	               fuzz_yaml_terminated(cfg->uapi_dir, sizeof(cfg->uapi_dir)) &&
	               fuzz_yaml_terminated(cfg->health_socket, sizeof(cfg->health_socket)) &&
	               fuzz_yaml_terminated(cfg->log_level, sizeof(cfg->log_level)),
	           "a string field is not terminated");
	FUZZ_CHECK(!wg_key_is_zero(cfg->private_key), "loaded without a private key");
	FUZZ_CHECK(wg_key_public(own_pub, cfg->private_key) == WG_OK, "public key");
	FUZZ_CHECK(cfg->listen_port >= 1, "listen port 0");
	FUZZ_CHECK(cfg->mtu >= 576 && cfg->mtu <= 9000, "mtu %u", cfg->mtu);
	FUZZ_CHECK(cfg->n_addresses <= MG_MAX_ADDRESSES, "%zu addresses", cfg->n_addresses);
	for (size_t i = 0; i < cfg->n_addresses; i++)
		FUZZ_CHECK(fuzz_yaml_prefix_ok(&cfg->addresses[i]), "address %zu", i);
	check_ports(cfg);
	check_lcores(cfg);
	FUZZ_CHECK(cfg->n_eal_args <= MG_MAX_EAL_ARGS, "%zu EAL arguments", cfg->n_eal_args);
	for (size_t i = 0; i < cfg->n_eal_args; i++)
		FUZZ_CHECK(cfg->eal_args[i] != NULL, "EAL argument %zu missing", i);
	FUZZ_CHECK(cfg->idle_max_sleep_us >= 1 && cfg->idle_max_sleep_us <= 1000000, "idle");
	FUZZ_CHECK(cfg->max_peers >= 1 && cfg->max_peers <= (1u << 20), "max_peers");
	FUZZ_CHECK(cfg->max_prefixes >= 1 && cfg->max_prefixes <= (1u << 24), "max_prefixes");
	FUZZ_CHECK(cfg->mbufs == 0 || (cfg->mbufs >= 1024 && cfg->mbufs <= (1u << 24)), "mbufs");
	check_peers(cfg, own_pub);
	fuzz_yaml_check_coord(&cfg->coord);
	FUZZ_CHECK(strlen(cfg->uapi_dir) + 1 + strlen(cfg->ifname) + strlen(".sock") <= sun_max &&
	               strlen(cfg->health_socket) <= sun_max && cfg->health_socket[0],
	           "socket paths do not fit sun_path");
	FUZZ_CHECK(fuzz_yaml_log_level_ok(cfg->log_level), "log level %s", cfg->log_level);
	FUZZ_CHECK(cfg->test_timer_divisor >= 1 && cfg->test_timer_divisor <= 1000000, "divisor");
	fuzz_yaml_check_warnings(cfg->warnings, sizeof(cfg->warnings), config_path, lines);
	wg_memzero(own_pub, sizeof(own_pub));
}

/* ---- the target ---- */

/* Loads the file and checks the verdict; returns it. */
static int load_checked(unsigned long lines, char *err, size_t errlen)
{
	struct mg_config cfg;
	int rc;

	memset(err, 'Z', errlen);
	rc = mg_config_load_buffer(config_path, (const char *)cur_data, cur_len, &cfg, err, errlen);
	FUZZ_CHECK(rc == 0 || rc == -1, "mg_config_load_buffer returned %d", rc);
	FUZZ_CHECK(fuzz_yaml_terminated(err, errlen), "error message not terminated");
	if (rc == 0) {
		FUZZ_CHECK(err[0] == '\0', "success with a message: %s", err);
		check_loaded(&cfg, lines);
	}
	mg_config_free(&cfg);
	FUZZ_CHECK(all_zero(&cfg, sizeof(cfg)), "mg_config_free left data behind");
	return rc;
}

static int load_short(char *err, size_t errlen)
{
	return load_checked(cur_lines, err, errlen);
}

int fuzz_one(const uint8_t *data, size_t len)
{
	static const char *const sections[] = {"YAML syntax error",
	                                       "(top level)",
	                                       "interface",
	                                       "ports",
	                                       "lcores",
	                                       "eal",
	                                       "idle",
	                                       "rx_fanout",
	                                       "limits",
	                                       "peers",
	                                       "coordinator",
	                                       "sockets",
	                                       "log_level",
	                                       "test"};
	static char labels[sizeof(sections) / sizeof(sections[0]) + 1][48];
	char err[512];
	int rc;

	cur_lines = fuzz_yaml_count_lines(data, len);
	cur_data = data;
	cur_len = len;
	rc = load_checked(cur_lines, err, sizeof(err));
	if (rc == 0) {
		loads_ok++;
		fuzz_outcome("config: loaded");
		return 0;
	}
	FUZZ_CHECK(fuzz_yaml_names_file_and_line(err, config_path, cur_lines),
	           "error does not name FILE:LINE: %s", err);
	fuzz_yaml_check_short_message(load_short, err);
	fuzz_yaml_refusal_outcome(err, config_path, "config", sections, labels,
	                          sizeof(sections) / sizeof(sections[0]));
	return 0;
}

/* ---- setup ---- */

/* Adds a seed and proves it loads. */
static void seed(const char *name, const char *text)
{
	uint64_t n = loads_ok;
	struct mg_config cfg;
	char err[512];
	fuzz_seed_add(name, text, strlen(text));
	fuzz_one((const uint8_t *)text, strlen(text));
	FUZZ_CHECK(loads_ok == n + 1, "seed %s does not load", name);
	/* The file loader reads into the same parser: it must agree. */
	FUZZ_CHECK(fuzz_yaml_write_file(config_path, text, strlen(text)) == 0 &&
	               mg_config_load(config_path, &cfg, err, sizeof(err)) == 0,
	           "seed %s does not load from a file: %s", name, err);
	mg_config_free(&cfg);
}

static int add_example_seeds(void)
{
	char dir[512], path[1024];
	struct dirent *e;
	DIR *d;
	int count = 0;

	snprintf(dir, sizeof(dir), "%s/conf", fuzz_source_root());
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		/* The gateway's files; conf/ also holds the coordinator's and the agent's. */
		if (n < 6 || strncmp(e->d_name, "gateway", 7) != 0 ||
		    strcmp(e->d_name + n - 5, ".yaml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		char *text = fuzz_yaml_read_text(path), *a = NULL, *b = NULL;
		if (text)
			a = fuzz_yaml_replace_all(text, "/etc/meshgate/private.key", key_path);
		if (a)
			b = fuzz_yaml_replace_all(a, "/etc/meshgate/site-b.psk", psk_path);
		if (b) {
			seed(e->d_name, b);
			count++;
		}
		free(text);
		free(a);
		free(b);
	}
	closedir(d);
	return count;
}

int fuzz_init(void)
{
	static const char *const tokens[] = {"interface:\n",
	                                     "  name: ",
	                                     "private_key_file: ",
	                                     "listen_port: ",
	                                     "mtu: ",
	                                     "addresses: ",
	                                     "ports:\n",
	                                     "lan:\n",
	                                     "mesh:\n",
	                                     "devargs: ",
	                                     "ipv4: ",
	                                     "ipv6: ",
	                                     "gateway4: ",
	                                     "gateway6: ",
	                                     "rx_desc: ",
	                                     "tx_desc: ",
	                                     "lcores:\n",
	                                     "control: ",
	                                     "workers: ",
	                                     "eal: ",
	                                     "idle:\n",
	                                     "backoff: ",
	                                     "max_sleep_us: ",
	                                     "rx_fanout: ",
	                                     "limits:\n",
	                                     "max_peers: ",
	                                     "mbufs: ",
	                                     "max_prefixes: ",
	                                     "peers:\n",
	                                     "public_key: ",
	                                     "endpoint: ",
	                                     "allowed_ips: ",
	                                     "preshared_key: ",
	                                     "sockets:\n",
	                                     "uapi_dir: ",
	                                     "health: ",
	                                     "test:\n",
	                                     "timer_divisor: ",
	                                     "persistent_keepalive: ",
	                                     "preshared_key_file: ",
	                                     "filter:\n",
	                                     "src: ",
	                                     "dst: ",
	                                     "proto: ",
	                                     "\"8000-8100\""};
	uint64_t rng = 51;
	uint8_t key[WG_KEY_LEN];
	char b64[WG_KEY_B64_SIZE + 1], minimal[1024];
	int examples;

	if (wg_crypto_init() != WG_OK)
		return -1;
	snprintf(config_path, sizeof(config_path), "%s/gateway.yaml", fuzz_scratch_dir());
	snprintf(key_path, sizeof(key_path), "%s/private.key", fuzz_scratch_dir());
	snprintf(psk_path, sizeof(psk_path), "%s/site-b.psk", fuzz_scratch_dir());
	if (fuzz_yaml_write_key(key_path, &rng) != 0)
		return -1;
	test_rng(&rng, key, sizeof(key));
	wg_key_to_base64(b64, key);
	strcat(b64, "\n");
	if (fuzz_yaml_write_file(psk_path, b64, strlen(b64)) != 0)
		return -1;
	wg_memzero(key, sizeof(key));
	wg_memzero(b64, sizeof(b64));

	snprintf(minimal, sizeof(minimal),
	         "interface:\n  private_key_file: %s\nports:\n  lan: {devargs: net_ring0}\n"
	         "  mesh: {devargs: net_ring1}\n",
	         key_path);
	seed("minimal.yaml", minimal);
	/* The static filter section (gateway-site-a.yaml only documents it, commented out). */
	char with_filter[2048];
	snprintf(with_filter, sizeof(with_filter),
	         "%sfilter:\n  - src: [10.2.0.0/24, \"fd00:2::/64\"]\n    dst: [\"*\"]\n"
	         "    proto: tcp\n    ports: [\"22\", \"8000-8100\"]\n"
	         "  - {src: [\"*\"], dst: [10.1.0.5/32], proto: icmp, ports: [\"*\"]}\n",
	         minimal);
	seed("filter.yaml", with_filter);
	examples = add_example_seeds();
	printf("fuzz_config: %d example configurations from %s/conf\n", examples,
	       fuzz_source_root());
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add_str(tokens[i]);
	fuzz_yaml_add_common_tokens();
	fuzz_set_max_len(8192);
	return 0;
}
