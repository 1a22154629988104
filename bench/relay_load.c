// SPDX-License-Identifier: GPL-2.0-only
/*
 * relay_load: N simulated nodes on one meshgate-relay (node/relay_client.c, one thread, poll).
 * Clients 2i and 2i+1 are partners.
 *
 *   --mode pairs  each client sends --frames packets of --size bytes to its partner, at most
 *                 --window in flight; every packet is checked (sender, sequence, content).
 *                 Exit 0 only when every packet arrived intact and in order.
 *   --mode flood  every client sends to its partner as fast as the relay takes it for
 *                 --seconds; prints what was received (frames/s, Gbit/s).
 *   --mode idle   connects, prints "ready N", then holds the connections (answering the
 *                 relay's pings) for --seconds: for measuring the relay's memory per client.
 *
 * Output: one JSON object on stdout.
 */
#include <getopt.h>
#include <poll.h>
#include <sys/resource.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "relay_client.h"

struct node {
	struct mg_relay_client *c;
	uint8_t sk[32], pk[32];
	uint64_t sent, received, expect_seq;
	bool bad;
};

static struct {
	const char *host, *server_name, *ca, *mode;
	int port, clients, size, window, bind_spread;
	long frames;
	double seconds;
} opt = {"127.0.0.1", "localhost", NULL, "pairs", 0, 100, 64, 32, 0, 100, 5};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: relay_load --port P --ca CERT [--host H] [--server-name N] [--clients N]\n"
	        "       [--mode pairs|flood|idle] [--size B] [--frames F] [--window W]\n"
	        "       [--seconds S] [--bind-spread K]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option o[] = {
	    {"host", 1, NULL, 'h'},    {"port", 1, NULL, 'p'},        {"server-name", 1, NULL, 'n'},
	    {"ca", 1, NULL, 'a'},      {"clients", 1, NULL, 'c'},     {"mode", 1, NULL, 'm'},
	    {"size", 1, NULL, 's'},    {"frames", 1, NULL, 'f'},      {"window", 1, NULL, 'w'},
	    {"seconds", 1, NULL, 'S'}, {"bind-spread", 1, NULL, 'b'}, {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 'h':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = atoi(optarg);
			break;
		case 'n':
			opt.server_name = optarg;
			break;
		case 'a':
			opt.ca = optarg;
			break;
		case 'c':
			opt.clients = atoi(optarg);
			break;
		case 'm':
			opt.mode = optarg;
			break;
		case 's':
			opt.size = atoi(optarg);
			break;
		case 'f':
			opt.frames = atol(optarg);
			break;
		case 'w':
			opt.window = atoi(optarg);
			break;
		case 'S':
			opt.seconds = atof(optarg);
			break;
		case 'b':
			opt.bind_spread = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!opt.port || !opt.ca || opt.clients < 2 || opt.clients % 2 || opt.size < 16 ||
	    opt.size > MG_RELAY_MAX_PACKET || opt.window < 1)
		usage();
}

/* Packet i from sender s: [s u32][i u64] then bytes derived from both. */
static void fill(uint8_t *p, size_t len, uint32_t s, uint64_t i)
{
	memcpy(p, &s, 4);
	memcpy(p + 4, &i, 8);
	for (size_t k = 12; k < len; k++)
		p[k] = (uint8_t)(s * 31 + i * 7 + k);
}

static bool check(const uint8_t *p, size_t len, uint32_t s, uint64_t i)
{
	uint32_t gs;
	uint64_t gi;

	if (len != (size_t)opt.size)
		return false;
	memcpy(&gs, p, 4);
	memcpy(&gi, p + 4, 8);
	if (gs != s || gi != i)
		return false;
	for (size_t k = 12; k < len; k++)
		if (p[k] != (uint8_t)(s * 31 + i * 7 + k))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	struct node *n;
	struct pollfd *pf;
	char err[256];
	void *ctx;
	uint8_t *buf;
	bool pairs, flood, idle;
	double t0, t_conn, deadline;
	uint64_t total_rx = 0, total_bytes = 0, want, bad = 0, dropped = 0;
	int connected = 0;

	parse(argc, argv);
	{
		/* --mode idle opens 10,000 connections: a login shell's 1024 descriptors are not
		 * enough, the hard limit usually is. */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	pairs = strcmp(opt.mode, "pairs") == 0;
	flood = strcmp(opt.mode, "flood") == 0;
	idle = strcmp(opt.mode, "idle") == 0;
	if (!pairs && !flood && !idle)
		usage();
	if (sodium_init() < 0)
		return 1;
	ctx = mg_relay_tls_ctx_new(opt.ca, err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, "relay_load: %s\n", err);
		return 1;
	}
	n = calloc((size_t)opt.clients, sizeof(*n));
	pf = calloc((size_t)opt.clients, sizeof(*pf));
	buf = malloc(MG_RELAY_MAX_PACKET);
	t0 = now_s();
	for (int i = 0; i < opt.clients; i++) {
		char bind[32];
		struct mg_relay_client_config cfg = {
		    .host = opt.host,
		    .port = (uint16_t)opt.port,
		    .server_name = opt.server_name,
		    .tls_ctx = ctx,
		    .private_key = n[i].sk,
		    .timeout_ms = 10000,
		    .queue_bytes = flood ? 1 << 20 : 0,
		};
		if (opt.bind_spread > 0) {
			snprintf(bind, sizeof(bind), "127.0.%d.%d", 1 + (i % opt.bind_spread) / 250,
			         1 + (i % opt.bind_spread) % 250);
			cfg.bind_addr = bind;
		}
		randombytes_buf(n[i].sk, 32);
		n[i].sk[0] &= 248;
		n[i].sk[31] = (n[i].sk[31] & 127) | 64;
		crypto_scalarmult_base(n[i].pk, n[i].sk);
		n[i].c = mg_relay_client_connect(&cfg, err, sizeof(err));
		if (!n[i].c) {
			fprintf(stderr, "relay_load: client %d: %s\n", i, err);
			printf("{\"mode\":\"%s\",\"clients\":%d,\"connected\":%d,\"ok\":false}\n",
			       opt.mode, opt.clients, connected);
			return 1;
		}
		connected++;
		pf[i].fd = mg_relay_client_fd(n[i].c);
	}
	t_conn = now_s() - t0;
	if (idle) {
		printf("ready %d\n", connected);
		fflush(stdout);
	}
	want = pairs ? (uint64_t)opt.frames * (uint64_t)opt.clients : 0;
	t0 = now_s();
	deadline = t0 + opt.seconds;
	for (;;) {
		double now = now_s();

		if (pairs && (total_rx == want || now > deadline))
			break;
		if (!pairs && now > deadline)
			break;
		for (int i = 0; !idle && i < opt.clients; i++) {
			struct node *me = &n[i], *peer = &n[i ^ 1];
			uint64_t limit = pairs ? (uint64_t)opt.frames : UINT64_MAX;

			while (me->sent < limit &&
			       (flood || me->sent - peer->received < (uint64_t)opt.window)) {
				int rc;
				fill(buf, (size_t)opt.size, (uint32_t)i, me->sent);
				rc = mg_relay_client_send(me->c, peer->pk, buf, (size_t)opt.size);
				if (rc == 1) {
					dropped++;
					break; /* queue full: let it drain */
				}
				if (rc < 0) {
					fprintf(stderr, "client %d: %s\n", i,
					        mg_relay_client_error(me->c));
					return 1;
				}
				me->sent++;
				if (flood && mg_relay_client_pending(me->c) > 256 * 1024)
					break;
			}
			if (mg_relay_client_flush(me->c) < 0) {
				fprintf(stderr, "client %d: %s\n", i, mg_relay_client_error(me->c));
				return 1;
			}
		}
		for (int i = 0; i < opt.clients; i++)
			pf[i].events = mg_relay_client_events(n[i].c);
		if (poll(pf, (nfds_t)opt.clients, 100) < 0)
			continue;
		for (int i = 0; i < opt.clients; i++) {
			struct mg_relay_msg m;
			int rc;

			if (!pf[i].revents)
				continue;
			while ((rc = mg_relay_client_recv(n[i].c, &m)) == 1) {
				if (m.type != MG_RELAY_MSG_PACKET)
					continue;
				if (pairs &&
				    (memcmp(m.key, n[i ^ 1].pk, 32) != 0 ||
				     !check(m.data, m.len, (uint32_t)(i ^ 1), n[i].expect_seq))) {
					if (!n[i].bad)
						fprintf(stderr, "client %d: packet %llu wrong\n", i,
						        (unsigned long long)n[i].expect_seq);
					n[i].bad = true;
					bad++;
				}
				n[i].expect_seq++;
				n[i].received++;
				total_rx++;
				total_bytes += m.len;
			}
			if (rc < 0) {
				fprintf(stderr, "client %d: %s\n", i,
				        mg_relay_client_error(n[i].c));
				return 1;
			}
			if (pf[i].revents & POLLOUT)
				mg_relay_client_flush(n[i].c);
		}
	}
	{
		double el = now_s() - t0;
		bool ok = pairs ? total_rx == want && bad == 0 : true;

		printf(
		    "{\"mode\":\"%s\",\"clients\":%d,\"connected\":%d,\"connect_seconds\":%.3f,"
		    "\"size\":%d,\"seconds\":%.3f,\"frames_received\":%llu,\"bytes_received\":%llu,"
		    "\"frames_per_second\":%.0f,\"gbit_per_second\":%.3f,\"expected\":%llu,"
		    "\"bad\":%llu,\"client_queue_full\":%llu,\"ok\":%s}\n",
		    opt.mode, opt.clients, connected, t_conn, opt.size, el,
		    (unsigned long long)total_rx, (unsigned long long)total_bytes,
		    el > 0 ? (double)total_rx / el : 0, el > 0 ? total_bytes * 8.0 / el / 1e9 : 0,
		    (unsigned long long)want, (unsigned long long)bad, (unsigned long long)dropped,
		    ok ? "true" : "false");
		for (int i = 0; i < opt.clients; i++)
			mg_relay_client_close(n[i].c);
		mg_relay_tls_ctx_free(ctx);
		free(n);
		free(pf);
		free(buf);
		return ok ? 0 : 1;
	}
}
