// SPDX-License-Identifier: GPL-2.0-only
/*
 * gen_peers: many static peers for the gateway scale test, fast. `wg genkey` in a shell loop
 * takes minutes for 10,000 keys; deriving them here takes about a second.
 *
 *   gen_peers --count N --prefixes P --yaml FILE --summary FILE --key-dir DIR
 *             [--keep SLOT]... [--endpoint SLOT=HOST:PORT]... [--wg-conf FILE]
 *
 * Peer SLOT (0 .. N-1) gets P allowed IPs: its overlay addresses 100.64.0.0 + SLOT + 1 (/32) and
 * fd7a:115c:a1e0::SLOT+1 (/128), then routes alternating between 10.A.B.0/24 and
 * fd5c:SLOT:K::/64. --yaml writes the gateway's `peers:` section, --wg-conf the same peers as
 * `wg setconf` input (for the reference gateway). For each --keep slot the private key goes to
 * DIR/peer-SLOT.key (mode 600) and a summary line "SLOT PUBKEY V4 V6 ROUTE4 ROUTE6" (the first
 * address of each route) to --summary. Every other private key is zeroed once its public key
 * is known.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "keys.h"

#define MAX_KEEP      16
#define MAX_ENDPOINTS 16
#define MAX_SLOTS     65535 /* the slot is one 16-bit group of the IPv6 routes */
#define MAX_PREFIXES  64

struct slot_endpoint {
	unsigned long slot;
	const char *hostport;
};

struct options {
	unsigned long count, prefixes;
	const char *yaml, *wg_conf, *summary, *key_dir;
	unsigned long keep[MAX_KEEP];
	size_t n_keep;
	struct slot_endpoint endpoints[MAX_ENDPOINTS];
	size_t n_endpoints;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: gen_peers --count N --prefixes P --yaml FILE --summary FILE "
	             "--key-dir DIR [--keep SLOT]... [--endpoint SLOT=HOST:PORT]... "
	             "[--wg-conf FILE]\n");
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *out > max) {
		fprintf(stderr, "gen_peers: expected a number 0..%lu, got '%s'\n", max, s);
		return -1;
	}
	return 0;
}

static int parse_endpoint(struct options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char slot[16];

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(slot) || !eq[1]) {
		fprintf(stderr, "gen_peers: --endpoint expects SLOT=HOST:PORT, got '%s'\n", arg);
		return -1;
	}
	if (o->n_endpoints == MAX_ENDPOINTS) {
		fprintf(stderr, "gen_peers: at most %d --endpoint options\n", MAX_ENDPOINTS);
		return -1;
	}
	memcpy(slot, arg, (size_t)(eq - arg));
	slot[eq - arg] = '\0';
	if (parse_ulong(slot, MAX_SLOTS - 1, &o->endpoints[o->n_endpoints].slot) != 0)
		return -1;
	o->endpoints[o->n_endpoints++].hostport = eq + 1;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(opt, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!val) {
			fprintf(stderr, "gen_peers: %s needs a value\n", opt);
			return -1;
		}
		i++;
		if (!strcmp(opt, "--count")) {
			if (parse_ulong(val, MAX_SLOTS, &o->count) != 0)
				return -1;
		} else if (!strcmp(opt, "--prefixes")) {
			if (parse_ulong(val, MAX_PREFIXES, &o->prefixes) != 0)
				return -1;
		} else if (!strcmp(opt, "--yaml")) {
			o->yaml = val;
		} else if (!strcmp(opt, "--wg-conf")) {
			o->wg_conf = val;
		} else if (!strcmp(opt, "--summary")) {
			o->summary = val;
		} else if (!strcmp(opt, "--key-dir")) {
			o->key_dir = val;
		} else if (!strcmp(opt, "--keep")) {
			if (o->n_keep == MAX_KEEP) {
				fprintf(stderr, "gen_peers: at most %d --keep options\n", MAX_KEEP);
				return -1;
			}
			if (parse_ulong(val, MAX_SLOTS - 1, &o->keep[o->n_keep++]) != 0)
				return -1;
		} else if (!strcmp(opt, "--endpoint")) {
			if (parse_endpoint(o, val) != 0)
				return -1;
		} else {
			fprintf(stderr, "gen_peers: unknown option %s\n", opt);
			usage(stderr);
			return -1;
		}
	}
	if (!o->count || o->prefixes < 2 || !o->yaml || !o->summary || !o->key_dir) {
		fprintf(stderr,
		        "gen_peers: --count (1..%d), --prefixes (2..%d), --yaml, --summary "
		        "and --key-dir are required\n",
		        MAX_SLOTS, MAX_PREFIXES);
		return -1;
	}
	/* The IPv4 routes are /24s of 10.0.0.0/8: 65536 of them. */
	if (o->count * ((o->prefixes - 2 + 1) / 2) > 65536) {
		fprintf(stderr,
		        "gen_peers: %lu peers x %lu prefixes need more than the 65536 /24s "
		        "of 10.0.0.0/8\n",
		        o->count, o->prefixes);
		return -1;
	}
	for (size_t i = 0; i < o->n_keep; i++)
		if (o->keep[i] >= o->count) {
			fprintf(stderr, "gen_peers: --keep %lu is not below --count %lu\n",
			        o->keep[i], o->count);
			return -1;
		}
	for (size_t i = 0; i < o->n_endpoints; i++)
		if (o->endpoints[i].slot >= o->count) {
			fprintf(stderr, "gen_peers: --endpoint slot %lu is not below --count %lu\n",
			        o->endpoints[i].slot, o->count);
			return -1;
		}
	return 0;
}

static bool kept(const struct options *o, unsigned long slot)
{
	for (size_t i = 0; i < o->n_keep; i++)
		if (o->keep[i] == slot)
			return true;
	return false;
}

static const char *endpoint_of(const struct options *o, unsigned long slot)
{
	for (size_t i = 0; i < o->n_endpoints; i++)
		if (o->endpoints[i].slot == slot)
			return o->endpoints[i].hostport;
	return NULL;
}

/* Allowed IP number k of slot, as text. host: the first address instead of the prefix. */
static void prefix_text(char *buf, size_t len, const struct options *o, unsigned long slot,
                        unsigned long k, bool host)
{
	unsigned long v4_routes = (o->prefixes - 2 + 1) / 2;

	if (k == 0) {
		unsigned long a = slot + 1;

		snprintf(buf, len, "100.64.%lu.%lu%s", a >> 8, a & 255, host ? "" : "/32");
	} else if (k == 1) {
		snprintf(buf, len, "fd7a:115c:a1e0::%lx%s", slot + 1, host ? "" : "/128");
	} else if ((k - 2) % 2 == 0) {
		unsigned long j = slot * v4_routes + (k - 2) / 2;

		snprintf(buf, len, "10.%lu.%lu.%s", j >> 8, j & 255, host ? "1" : "0/24");
	} else {
		snprintf(buf, len, "fd5c:%lx:%lx::%s", slot, (k - 2) / 2, host ? "1" : "/64");
	}
}

/* Writes the private key of a kept slot: DIR/peer-SLOT.key, created 0600. */
static int write_private_key(const char *dir, unsigned long slot, const uint8_t priv[WG_KEY_LEN])
{
	char path[4096], b64[WG_KEY_B64_SIZE];
	int fd, ret = -1;
	size_t n;

	snprintf(path, sizeof(path), "%s/peer-%lu.key", dir, slot);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "gen_peers: %s: %s\n", path, strerror(errno));
		return -1;
	}
	wg_key_to_base64(b64, priv);
	b64[WG_KEY_B64_LEN] = '\n';
	n = WG_KEY_B64_LEN + 1;
	if (write(fd, b64, n) != (ssize_t)n) {
		fprintf(stderr, "gen_peers: writing %s failed\n", path);
		goto out;
	}
	ret = 0;
out:
	wg_memzero(b64, sizeof(b64));
	if (close(fd) != 0 && ret == 0) {
		fprintf(stderr, "gen_peers: closing %s: %s\n", path, strerror(errno));
		ret = -1;
	}
	return ret;
}

static void write_peer(const struct options *o, FILE *yaml, FILE *conf, unsigned long slot,
                       const char *pub)
{
	const char *ep = endpoint_of(o, slot);
	char p[64];

	fprintf(yaml, "  - public_key: \"%s\"\n", pub);
	if (ep)
		fprintf(yaml, "    endpoint: \"%s\"\n", ep);
	fputs("    allowed_ips: [", yaml);
	if (conf) {
		fprintf(conf, "[Peer]\nPublicKey = %s\n", pub);
		if (ep)
			fprintf(conf, "Endpoint = %s\n", ep);
		fputs("AllowedIPs = ", conf);
	}
	for (unsigned long k = 0; k < o->prefixes; k++) {
		prefix_text(p, sizeof(p), o, slot, k, false);
		fprintf(yaml, "%s\"%s\"", k ? ", " : "", p);
		if (conf)
			fprintf(conf, "%s%s", k ? ", " : "", p);
	}
	fputs("]\n", yaml);
	if (conf)
		fputs("\n", conf);
}

static int write_summary(const struct options *o, FILE *sum, unsigned long slot, const char *pub)
{
	char v4[64], v6[64], r4[64], r6[64];

	prefix_text(v4, sizeof(v4), o, slot, 0, true);
	prefix_text(v6, sizeof(v6), o, slot, 1, true);
	prefix_text(r4, sizeof(r4), o, slot, 2, true);
	if (o->prefixes > 3)
		prefix_text(r6, sizeof(r6), o, slot, 3, true);
	else
		snprintf(r6, sizeof(r6), "-");
	return fprintf(sum, "%lu %s %s %s %s %s\n", slot, pub, v4, v6, r4, r6) < 0 ? -1 : 0;
}

static int close_checked(FILE *f, const char *path)
{
	if (!f)
		return 0;
	if (ferror(f) | (fclose(f) != 0)) {
		fprintf(stderr, "gen_peers: writing %s failed\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	char pub_b64[WG_KEY_B64_SIZE];
	FILE *yaml = NULL, *conf = NULL, *sum = NULL;
	int ret = 1;

	if (parse_args(argc, argv, &o) != 0)
		return 2;
	if (wg_crypto_init() != WG_OK) {
		fprintf(stderr, "gen_peers: crypto initialisation failed\n");
		return 1;
	}
	yaml = fopen(o.yaml, "w");
	sum = fopen(o.summary, "w");
	conf = o.wg_conf ? fopen(o.wg_conf, "w") : NULL;
	if (!yaml || !sum || (o.wg_conf && !conf)) {
		fprintf(stderr, "gen_peers: cannot create the output files: %s\n", strerror(errno));
		goto out;
	}
	fputs("peers:\n", yaml);
	for (unsigned long slot = 0; slot < o.count; slot++) {
		wg_key_generate_private(priv, NULL, NULL);
		if (wg_key_public(pub, priv) != WG_OK) {
			fprintf(stderr, "gen_peers: deriving the public key of slot %lu failed\n",
			        slot);
			goto out;
		}
		wg_key_to_base64(pub_b64, pub);
		if (kept(&o, slot) && (write_private_key(o.key_dir, slot, priv) != 0 ||
		                       write_summary(&o, sum, slot, pub_b64) != 0))
			goto out;
		wg_memzero(priv, sizeof(priv));
		write_peer(&o, yaml, conf, slot, pub_b64);
	}
	ret = 0;
out:
	wg_memzero(priv, sizeof(priv));
	/* Close all three whatever happens, so no error hides another. */
	if (close_checked(yaml, o.yaml) != 0)
		ret = 1;
	if (close_checked(sum, o.summary) != 0)
		ret = 1;
	if (close_checked(conf, o.wg_conf ? o.wg_conf : "") != 0)
		ret = 1;
	return ret;
}
