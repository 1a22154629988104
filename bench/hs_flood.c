// SPDX-License-Identifier: GPL-2.0-only
/*
 * hs_flood: floods a gateway's WireGuard port with valid-looking handshake initiations from
 * many IPv4 source addresses, for bench/e2e_bench.sh (data-plane throughput during a handshake
 * flood). Each initiation is a real one (a fake Noise host, tests/support) from an identity the
 * gateway does not know, with a correct mac1 for the gateway's public key, so the gateway must do
 * the work of a handshake (one DH, two AEADs) before it can refuse it, or, under load, answer with
 * a cookie reply. A pool of such messages is built once and sent round-robin through a raw socket,
 * each time from the next source address of --src-net (a /16).
 *
 * Bounded: stops after --seconds or --count, whichever comes first, paced to --pps. Refuses to
 * run outside a network namespace made by `ip netns add`: it is only for test namespaces.
 *
 * Output: one JSON line on stdout: {"sent": N, "seconds": S, "pps": R}.
 *   hs_flood --gw-pubkey B64 --dst A.B.C.D [--port 51820] --src-net A.B.0.0 [--pps 20000]
 *            [--seconds 10] [--count 1000000]
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "fake_host.h"
#include "keys.h"

#define POOL    64
#define IP_HLEN 20
#define UDP_LEN 8
#define BATCH   32

struct options {
	uint8_t gw_pub[WG_KEY_LEN];
	struct in_addr dst, src_net;
	unsigned port;
	double pps, seconds;
	unsigned long count;
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* True only when this process's network namespace is one made with `ip netns add` (bound
 * under /var/run/netns): the flood never leaves a test namespace. */
static bool in_named_netns(void)
{
	struct stat self, ns;
	char path[512];
	bool found = false;

	DIR *d = opendir("/var/run/netns");
	if (!d || stat("/proc/self/ns/net", &self) != 0) {
		if (d)
			closedir(d);
		return false;
	}
	for (struct dirent *e; !found && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/var/run/netns/%s", e->d_name);
		found =
		    stat(path, &ns) == 0 && ns.st_ino == self.st_ino && ns.st_dev == self.st_dev;
	}
	closedir(d);
	return found;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* IPv4 + UDP + the initiation; the kernel fills the IP checksum and ID (IP_HDRINCL). */
static size_t build_frame(uint8_t *f, const struct options *o, uint32_t src_host,
                          const struct wg_msg_initiation *msg, uint16_t sport)
{
	size_t payload = sizeof(*msg), total = IP_HLEN + UDP_LEN + payload;
	uint32_t src = htonl(src_host);
	memset(f, 0, IP_HLEN + UDP_LEN);
	f[0] = 0x45;
	f[2] = (uint8_t)(total >> 8);
	f[3] = (uint8_t)total;
	f[8] = 64;
	f[9] = IPPROTO_UDP;
	memcpy(f + 12, &src, 4);
	memcpy(f + 16, &o->dst, 4);
	uint8_t *u = f + IP_HLEN;
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(o->port >> 8);
	u[3] = (uint8_t)o->port;
	u[4] = (uint8_t)((UDP_LEN + payload) >> 8);
	u[5] = (uint8_t)(UDP_LEN + payload);
	memcpy(u + UDP_LEN, msg, payload);
	uint32_t sum = csum_add(0, f + 12, 8) + IPPROTO_UDP + (uint32_t)(UDP_LEN + payload);
	uint16_t c = csum_fold(csum_add(sum, u, UDP_LEN + payload));
	c = c ? c : 0xffff;
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	return total;
}

/* Initiations from POOL identities the gateway does not know, each with a correct mac1 for it. */
static int build_pool(const struct options *o, struct wg_msg_initiation *pool)
{
	for (unsigned i = 0; i < POOL; i++) {
		struct fake_host h;
		struct wg_noise_remote *gw;
		bool ok = fake_host_init(&h, "flooder", 1 + i) == WG_OK &&
		          fake_host_add(&h, o->gw_pub, &gw) == WG_OK &&
		          fake_host_initiation(&h, gw, &pool[i]) == WG_OK;
		fake_host_destroy(&h);
		if (!ok)
			return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	bool have_key = false, have_dst = false, have_net = false;

	*o = (struct options){.port = 51820, .pps = 20000, .seconds = 10, .count = 1000000};
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--gw-pubkey"))
			have_key = wg_key_from_base64(o->gw_pub, v, strlen(v), NULL) == WG_KEY_OK;
		else if (!strcmp(k, "--dst"))
			have_dst = inet_pton(AF_INET, v, &o->dst) == 1;
		else if (!strcmp(k, "--src-net"))
			have_net = inet_pton(AF_INET, v, &o->src_net) == 1;
		else if (!strcmp(k, "--port"))
			o->port = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--pps"))
			o->pps = strtod(v, NULL);
		else if (!strcmp(k, "--seconds"))
			o->seconds = strtod(v, NULL);
		else if (!strcmp(k, "--count"))
			o->count = strtoul(v, NULL, 10);
		else
			return -1;
	}
	if (argc % 2 == 0 || !have_key || !have_dst || !have_net || o->port == 0 ||
	    o->port > 65535 || !(o->pps >= 1 && o->pps <= 1e6) ||
	    !(o->seconds > 0 && o->seconds <= 600) || o->count == 0 || o->count > 100000000)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct wg_msg_initiation pool[POOL];
	struct options o;
	uint8_t frame[IP_HLEN + UDP_LEN + sizeof(struct wg_msg_initiation)];

	if (parse_args(argc, argv, &o) != 0) {
		fprintf(stderr,
		        "usage: %s --gw-pubkey B64 --dst A.B.C.D [--port P] --src-net A.B.0.0 "
		        "[--pps 1..1000000] [--seconds 1..600] [--count N]\n",
		        argv[0]);
		return 2;
	}
	if (!in_named_netns()) {
		fprintf(stderr, "hs_flood: refusing to run outside a named test namespace "
		                "(run it with ip netns exec)\n");
		return 2;
	}
	if (wg_crypto_init() != WG_OK || build_pool(&o, pool) != 0) {
		fprintf(stderr, "hs_flood: could not build the initiations\n");
		return 1;
	}
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		fprintf(stderr, "hs_flood: raw socket: %s\n", strerror(errno));
		return 1;
	}
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = o.dst};
	uint32_t net = ntohl(o.src_net.s_addr) & 0xffff0000u;
	unsigned long sent = 0, failed = 0;
	double t0 = mono_s(), t = 0;

	while (sent < o.count && t < o.seconds) {
		/* Pace: never ahead of pps * elapsed. */
		if ((double)sent > o.pps * t) {
			struct timespec nap = {0, 200000};
			nanosleep(&nap, NULL);
		} else {
			for (unsigned b = 0; b < BATCH && sent < o.count; b++, sent++) {
				uint32_t host = 1 + (uint32_t)(sent % 65533);
				size_t len = build_frame(frame, &o, net | host, &pool[sent % POOL],
				                         (uint16_t)(1024 + sent % 60000));
				if (sendto(fd, frame, len, 0, (struct sockaddr *)&to, sizeof(to)) <
				    0)
					failed++;
			}
		}
		t = mono_s() - t0;
	}
	close(fd);
	printf("{\"sent\": %lu, \"failed\": %lu, \"seconds\": %.3f, \"pps\": %.1f}\n",
	       sent - failed, failed, t, (double)(sent - failed) / t);
	return sent > failed ? 0 : 1;
}
