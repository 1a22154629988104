// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: the gateway's YAML configuration (gateway/config.h mg_config_load). Each input
 * is written to a file and loaded. The seeds are the annotated gateway examples in conf/, with
 * their key file paths pointed at real key files made at setup, plus a minimal file; each must
 * load.
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
 * Hostnames in endpoints are resolved numerically only (getaddrinfo below), so the fuzzer
 * never asks DNS: the loader's code paths are the real ones, its failures are "cannot resolve".
 */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "fuzz_driver.h"
#include "keys.h"
#include "test_rng.h"

#define SMALL_ERR     24
#define MAX_SEED_SIZE 65536

static char config_path[300], key_path[300], psk_path[300];
static uint64_t loads_ok;

/* ---- no DNS from a fuzzer ---- */

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *,
                              struct addrinfo **);

/* Interposes libc's: only numeric hosts resolve, so no input reaches a name server. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	static getaddrinfo_fn real;
	struct addrinfo h;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (!real)
		return EAI_FAIL;
	memset(&h, 0, sizeof(h));
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

/* ---- files ---- */

static int write_file(const char *path, const void *data, size_t len)
{
	int fd, ok;

	/* A new file each time: truncating one with data makes ext4 flush it to disk. */
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = (size_t)write(fd, data, len) == len;
	return close(fd) == 0 && ok ? 0 : -1;
}

/* ---- oracles ---- */

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool prefix_ok(const struct mg_prefix *p)
{
	return (p->family == 4 && p->len <= 32) || (p->family == 6 && p->len <= 128);
}

static bool same_prefix(const struct mg_prefix *a, const struct mg_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

/*
 * The last line an error may name: lines as libyaml counts them (LF, CR not before LF, NEL, LS,
 * PS), plus one when the file does not end in a line break, because libyaml puts the end of
 * the stream on a line of its own.
 */
static unsigned long count_lines(const uint8_t *d, size_t len)
{
	unsigned long n = len && (d[len - 1] == '\n' || d[len - 1] == '\r') ? 1 : 2;
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '\n' || (d[i] == '\r' && (i + 1 == len || d[i + 1] != '\n')))
			n++;
		else if (d[i] == 0xc2 && i + 1 < len && d[i + 1] == 0x85)
			n++;
		else if (d[i] == 0xe2 && i + 2 < len && d[i + 1] == 0x80 &&
		         (d[i + 2] == 0xa8 || d[i + 2] == 0xa9))
			n++;
	}
	return n;
}

/* "FILE:LINE: rest", with 1 <= LINE <= lines and something after it. */
static bool names_file_and_line(const char *msg, unsigned long lines)
{
	size_t plen = strlen(config_path);
	char *end;

	if (strncmp(msg, config_path, plen) != 0 || msg[plen] != ':' ||
	    !isdigit((unsigned char)msg[plen + 1]))
		return false;
	errno = 0;
	unsigned long line = strtoul(msg + plen + 1, &end, 10);
	return errno == 0 && line >= 1 && line <= lines && end[0] == ':' && end[1] == ' ' &&
	       end[2] != '\0';
}

static void check_warnings(const struct mg_config *cfg, unsigned long lines)
{
	char copy[sizeof(cfg->warnings)], *save = NULL;

	FUZZ_CHECK(terminated(cfg->warnings, sizeof(cfg->warnings)), "warnings not terminated");
	memcpy(copy, cfg->warnings, sizeof(copy));
	for (char *w = strtok_r(copy, "\n", &save); w; w = strtok_r(NULL, "\n", &save))
		FUZZ_CHECK(names_file_and_line(w, lines), "warning without file and line: %s", w);
}

static bool power_of_two_desc(uint16_t v)
{
	return v == 0 || (v >= 64 && v <= 32768 && (v & (v - 1)) == 0);
}

static void check_ports(const struct mg_config *cfg)
{
	for (int i = 0; i < MG_PORT_COUNT; i++) {
		const struct mg_port_config *pc = &cfg->ports[i];
		FUZZ_CHECK(terminated(pc->devargs, sizeof(pc->devargs)) && pc->devargs[0],
		           "port %d devargs", i);
		FUZZ_CHECK(!pc->has_ipv4 || (pc->ipv4.family == 4 && prefix_ok(&pc->ipv4)),
		           "port %d ipv4", i);
		FUZZ_CHECK(!pc->has_ipv6 || (pc->ipv6.family == 6 && prefix_ok(&pc->ipv6)),
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
			FUZZ_CHECK(prefix_ok(a) && !mg_prefix_has_host_bits(a),
			           "peer %zu allowed IP %zu", p, i);
			v6 |= a->family == 6;
			for (size_t q = 0; q <= p; q++)
				for (size_t j = 0; j < (q == p ? i : cfg->peers[q].n_allowed_ips);
				     j++)
					FUZZ_CHECK(!same_prefix(&cfg->peers[q].allowed_ips[j], a),
					           "allowed IP twice (peers %zu and %zu)", q, p);
		}
	}
	FUZZ_CHECK(!v6 || cfg->mtu >= 1280, "IPv6 configured with MTU %u", cfg->mtu);
}

static void check_coord(const struct mg_coord_config *c)
{
	size_t n;

	FUZZ_CHECK(terminated(c->url, sizeof(c->url)) &&
	               terminated(c->authkey_file, sizeof(c->authkey_file)) &&
	               terminated(c->state_dir, sizeof(c->state_dir)) &&
	               terminated(c->hostname, sizeof(c->hostname)),
	           "a coordinator string is not terminated");
	n = strlen(c->url);
	FUZZ_CHECK(n == 0 || ((strncmp(c->url, "https://", 8) == 0 ||
	                       strncmp(c->url, "http://", 7) == 0) &&
	                      c->url[n - 1] != '/'),
	           "coordinator url '%s'", c->url);
	FUZZ_CHECK(c->n_advertise_routes <= MG_MAX_ADVERTISED_ROUTES &&
	               (c->advertise_routes_set || c->n_advertise_routes == 0),
	           "%zu advertised routes", c->n_advertise_routes);
	for (size_t i = 0; i < c->n_advertise_routes; i++)
		FUZZ_CHECK(prefix_ok(&c->advertise_routes[i]) &&
		               !mg_prefix_has_host_bits(&c->advertise_routes[i]),
		           "advertised route %zu", i);
	FUZZ_CHECK(c->n_endpoints <= MG_MAX_REPORTED_ENDPOINTS, "%zu endpoints", c->n_endpoints);
	for (size_t i = 0; i < c->n_endpoints; i++)
		FUZZ_CHECK(c->endpoints[i].family == 4 || c->endpoints[i].family == 6,
		           "reported endpoint %zu", i);
}

static void check_loaded(const struct mg_config *cfg, unsigned long lines)
{
	static const char *const levels[] = {"error", "warning", "notice", "info", "debug"};
	size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	uint8_t own_pub[WG_KEY_LEN];
	bool level_ok = false;

	FUZZ_CHECK(terminated(cfg->ifname, sizeof(cfg->ifname)) && cfg->ifname[0], "ifname");
	FUZZ_CHECK(terminated(cfg->private_key_file, sizeof(cfg->private_key_file)) &&
	               terminated(cfg->uapi_dir, sizeof(cfg->uapi_dir)) &&
	               terminated(cfg->health_socket, sizeof(cfg->health_socket)) &&
	               terminated(cfg->log_level, sizeof(cfg->log_level)),
	           "a string field is not terminated");
	FUZZ_CHECK(!wg_key_is_zero(cfg->private_key), "loaded without a private key");
	FUZZ_CHECK(wg_key_public(own_pub, cfg->private_key) == WG_OK, "public key");
	FUZZ_CHECK(cfg->listen_port >= 1, "listen port 0");
	FUZZ_CHECK(cfg->mtu >= 576 && cfg->mtu <= 9000, "mtu %u", cfg->mtu);
	FUZZ_CHECK(cfg->n_addresses <= MG_MAX_ADDRESSES, "%zu addresses", cfg->n_addresses);
	for (size_t i = 0; i < cfg->n_addresses; i++)
		FUZZ_CHECK(prefix_ok(&cfg->addresses[i]), "address %zu", i);
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
	check_coord(&cfg->coord);
	FUZZ_CHECK(strlen(cfg->uapi_dir) + 1 + strlen(cfg->ifname) + strlen(".sock") <= sun_max &&
	               strlen(cfg->health_socket) <= sun_max && cfg->health_socket[0],
	           "socket paths do not fit sun_path");
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		level_ok |= strcmp(cfg->log_level, levels[i]) == 0;
	FUZZ_CHECK(level_ok, "log level %s", cfg->log_level);
	FUZZ_CHECK(cfg->test_timer_divisor >= 1 && cfg->test_timer_divisor <= 1000000, "divisor");
	check_warnings(cfg, lines);
	wg_memzero(own_pub, sizeof(own_pub));
}

/* ---- the target ---- */

/* Loads the file and checks the verdict; returns it. */
static int load_checked(unsigned long lines, char *err, size_t errlen)
{
	struct mg_config cfg;
	int rc;

	memset(err, 'Z', errlen);
	rc = mg_config_load(config_path, &cfg, err, errlen);
	FUZZ_CHECK(rc == 0 || rc == -1, "mg_config_load returned %d", rc);
	FUZZ_CHECK(terminated(err, errlen), "error message not terminated");
	if (rc == 0) {
		FUZZ_CHECK(err[0] == '\0', "success with a message: %s", err);
		check_loaded(&cfg, lines);
	}
	mg_config_free(&cfg);
	FUZZ_CHECK(wg_is_zero(&cfg, sizeof(cfg)), "mg_config_free left data behind");
	return rc;
}

int fuzz_one(const uint8_t *data, size_t len)
{
	char err[512], small[SMALL_ERR + 8];
	unsigned long lines = count_lines(data, len);
	int rc, rc2;

	FUZZ_CHECK(write_file(config_path, data, len) == 0, "cannot write %s", config_path);
	rc = load_checked(lines, err, sizeof(err));
	if (rc == 0) {
		loads_ok++;
		fuzz_outcome("config: loaded");
		return 0;
	}
	FUZZ_CHECK(names_file_and_line(err, lines), "error does not name FILE:LINE: %s", err);

	/* Again, with little room for the message: same verdict, same message cut short. */
	memset(small, 'Y', sizeof(small));
	rc2 = load_checked(lines, small, SMALL_ERR);
	FUZZ_CHECK(rc2 == rc, "second load gave %d", rc2);
	FUZZ_CHECK(strncmp(small, err, SMALL_ERR - 1) == 0 &&
	               strlen(small) == strnlen(err, SMALL_ERR - 1),
	           "short message '%s' is not a prefix of '%s'", small, err);
	for (size_t i = SMALL_ERR; i < sizeof(small); i++)
		FUZZ_CHECK(small[i] == 'Y', "message written past its %d bytes", SMALL_ERR);

	/* Outcomes by the section the message names, so reaching a new section keeps the input. */
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
	static char labels[sizeof(sections) / sizeof(sections[0])][48];
	const char *at = strchr(err + strlen(config_path) + 1, ' ');
	for (size_t i = 0; at && i < sizeof(sections) / sizeof(sections[0]); i++) {
		size_t n = strlen(sections[i]);
		if (strncmp(at + 1, sections[i], n) == 0 && strchr(".:[", at[1 + n])) {
			if (!labels[i][0])
				snprintf(labels[i], sizeof(labels[i]), "config: refused (%s)",
				         sections[i]);
			fuzz_outcome(labels[i]);
			return 0;
		}
	}
	fuzz_outcome("config: refused (other)");
	return 0;
}

/* ---- setup ---- */

/* Copies text with every occurrence of from replaced by to; NULL on overflow. */
static char *replace_all(const char *text, const char *from, const char *to)
{
	size_t cap = strlen(text) * 2 + 4096, n = 0, fl = strlen(from), tl = strlen(to);
	char *out = malloc(cap);

	if (!out)
		return NULL;
	while (*text) {
		if (strncmp(text, from, fl) == 0) {
			if (n + tl + 1 > cap)
				goto fail;
			memcpy(out + n, to, tl);
			n += tl;
			text += fl;
		} else {
			if (n + 2 > cap)
				goto fail;
			out[n++] = *text++;
		}
	}
	out[n] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = f ? malloc(MAX_SEED_SIZE + 1) : NULL;
	size_t n = 0;

	if (buf) {
		n = fread(buf, 1, MAX_SEED_SIZE, f);
		buf[n] = '\0';
	}
	if (f)
		fclose(f);
	return buf;
}

/* Adds a seed and proves it loads. */
static void seed(const char *name, const char *text)
{
	uint64_t n = loads_ok;
	fuzz_seed_add(name, text, strlen(text));
	fuzz_one((const uint8_t *)text, strlen(text));
	FUZZ_CHECK(loads_ok == n + 1, "seed %s does not load", name);
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
		char *text = read_text(path), *a = NULL, *b = NULL;
		if (text)
			a = replace_all(text, "/etc/meshgate/private.key", key_path);
		if (a)
			b = replace_all(a, "/etc/meshgate/site-b.psk", psk_path);
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
	                                     "  - ",
	                                     "public_key: ",
	                                     "endpoint: ",
	                                     "allowed_ips: ",
	                                     "preshared_key: ",
	                                     "coordinator:\n",
	                                     "url: ",
	                                     "authkey_file: ",
	                                     "sockets:\n",
	                                     "uapi_dir: ",
	                                     "health: ",
	                                     "log_level: ",
	                                     "test:\n",
	                                     "timer_divisor: ",
	                                     "persistent_keepalive: ",
	                                     "preshared_key_file: ",
	                                     "&a ",
	                                     "*a",
	                                     "!!str ",
	                                     "---\n",
	                                     "...\n",
	                                     "? ",
	                                     "{",
	                                     "}",
	                                     "[",
	                                     "]",
	                                     ", ",
	                                     "\"",
	                                     "'",
	                                     "#",
	                                     "|\n",
	                                     ">\n",
	                                     "\t",
	                                     "\r\n",
	                                     "0x10",
	                                     "-1",
	                                     "65536",
	                                     "4294967296",
	                                     "18446744073709551616",
	                                     "1e3",
	                                     "::",
	                                     "/",
	                                     "/33",
	                                     "/129",
	                                     "::ffff:1.2.3.4",
	                                     "[::1]:1",
	                                     "0.0.0.0",
	                                     "off",
	                                     "true",
	                                     "no",
	                                     "~",
	                                     "null",
	                                     "\xc2\x85",
	                                     "\xe2\x80\xa8",
	                                     "\xef\xbb\xbf"};
	uint64_t rng = 51;
	uint8_t key[WG_KEY_LEN];
	char b64[WG_KEY_B64_SIZE + 1], minimal[1024];
	int examples;

	if (wg_crypto_init() != WG_OK)
		return -1;
	snprintf(config_path, sizeof(config_path), "%s/gateway.yaml", fuzz_scratch_dir());
	snprintf(key_path, sizeof(key_path), "%s/private.key", fuzz_scratch_dir());
	snprintf(psk_path, sizeof(psk_path), "%s/site-b.psk", fuzz_scratch_dir());
	wg_key_generate_private(key, test_rng, &rng);
	wg_key_to_base64(b64, key);
	strcat(b64, "\n");
	if (write_file(key_path, b64, strlen(b64)) != 0)
		return -1;
	test_rng(&rng, key, sizeof(key));
	wg_key_to_base64(b64, key);
	strcat(b64, "\n");
	if (write_file(psk_path, b64, strlen(b64)) != 0)
		return -1;
	wg_memzero(key, sizeof(key));
	wg_memzero(b64, sizeof(b64));

	snprintf(minimal, sizeof(minimal),
	         "interface:\n  private_key_file: %s\nports:\n  lan: {devargs: net_ring0}\n"
	         "  mesh: {devargs: net_ring1}\n",
	         key_path);
	seed("minimal.yaml", minimal);
	examples = add_example_seeds();
	printf("fuzz_config: %d example configurations from %s/conf\n", examples,
	       fuzz_source_root());
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add_str(tokens[i]);
	fuzz_set_max_len(8192);
	return 0;
}
