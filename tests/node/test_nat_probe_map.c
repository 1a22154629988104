// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's STUN probe with its servers from the relay map (agent/nat_probe.c, from_map) on
 * loopback, against small STUN responders in this process: no servers before the map; the map's
 * two IPv4 relays asked from the dual-stack socket, their answers read as plain IPv4 (no NAT:
 * "none"); a map whose only STUN relay is IPv6 (::1) asked from the same socket and port; a
 * datagram that is not STUN handed on with a plain IPv4 source, and mg_nat_probe_sendto to an
 * IPv4 address (disco's path) arriving. The resolve itself runs on its thread, as in the agent.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "check.h"
#include "nat_probe.h"
#include "netmap_apply.h"

static atomic_bool stop;
static int srv[3] = {-1, -1, -1};

/* Binds a UDP socket to addr:0; returns it and its port, or -1. */
static int udp_on(const char *addr, uint16_t *port)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
	int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fam == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(fam == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                              : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A Binding success with XOR-MAPPED-ADDRESS for the request's source. */
static void answer(int fd, const uint8_t *req, size_t n, const struct sockaddr_storage *from,
                   socklen_t fl)
{
	uint8_t out[64];
	size_t alen;

	if (n < 20)
		return;
	mg_put_be16(out, MG_STUN_BINDING_SUCCESS);
	mg_put_be32(out + 4, MG_STUN_MAGIC);
	memcpy(out + 8, req + 8, 12);
	mg_put_be16(out + 20, MG_STUN_ATTR_XOR_MAPPED_ADDRESS);
	out[24] = 0;
	if (from->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;
		alen = 20;
		out[25] = 2;
		mg_put_be16(out + 26, ntohs(s6->sin6_port) ^ 0x2112);
		memcpy(out + 28, &s6->sin6_addr, 16);
		for (int i = 0; i < 16; i++)
			out[28 + i] ^= out[4 + i]; /* the cookie, then the transaction id */
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)from;
		alen = 8;
		out[25] = 1;
		mg_put_be16(out + 26, ntohs(s4->sin_port) ^ 0x2112);
		mg_put_be32(out + 28, ntohl(s4->sin_addr.s_addr) ^ MG_STUN_MAGIC);
	}
	mg_put_be16(out + 22, (uint16_t)alen);
	mg_put_be16(out + 2, (uint16_t)(4 + alen));
	sendto(fd, out, 24 + alen, 0, (const struct sockaddr *)from, fl);
}

static void *servers(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		struct pollfd p[3];

		for (int i = 0; i < 3; i++)
			p[i] = (struct pollfd){.fd = srv[i], .events = POLLIN};
		if (poll(p, 3, 50) <= 0)
			continue;
		for (int i = 0; i < 3; i++) {
			uint8_t b[1500];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n;

			if (!(p[i].revents & POLLIN))
				continue;
			n = recvfrom(srv[i], b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
			if (n > 0)
				answer(srv[i], b, (size_t)n, &from, fl);
		}
	}
	return NULL;
}

static struct mg_nat_probe_result last;
static unsigned rounds;

static void probed(void *ctx, const struct mg_nat_probe_result *r)
{
	(void)ctx;
	last = *r;
	rounds++;
}

static struct mg_sockaddr other_from;
static unsigned others;

static void other(void *ctx, const uint8_t *buf, size_t len, const struct mg_sockaddr *from)
{
	(void)ctx;
	(void)buf;
	(void)len;
	other_from = *from;
	others++;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the probe until a round with n_servers servers ended (bounded: 5 s). */
static bool run_until_round(struct mg_nat_probe *np, size_t n_servers)
{
	unsigned start = rounds;

	for (int64_t end = now_ms() + 5000; now_ms() < end;) {
		struct pollfd p = {.fd = mg_nat_probe_fd(np), .events = POLLIN};

		poll(&p, 1, 20);
		mg_nat_probe_run(np, now_ms());
		if (rounds != start && last.n_servers == n_servers)
			return true;
	}
	return false;
}

static struct mg_netmap_relay relay(const char *name, const char *host, uint16_t stun)
{
	struct mg_netmap_relay r;

	memset(&r, 0, sizeof(r));
	snprintf(r.region, sizeof(r.region), "test");
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.host, sizeof(r.host), "%s", host);
	r.port = 443;
	r.stun_port = stun;
	return r;
}

int main(void)
{
	struct mg_nat_probe_config cfg = {.enabled = true, .from_map = true, .interval_s = 1};
	uint16_t p[3] = {0, 0, 0}, cport;
	struct mg_nat_probe *np;
	pthread_t th;
	char err[200];

	srv[0] = udp_on("127.0.0.1", &p[0]);
	srv[1] = udp_on("127.0.0.2", &p[1]);
	srv[2] = udp_on("::1", &p[2]); /* -1 without IPv6: that part is skipped */
	CHECK(srv[0] >= 0 && srv[1] >= 0, "loopback sockets");
	pthread_create(&th, NULL, servers, NULL);
	np = mg_nat_probe_new(&cfg, probed, NULL, err, sizeof(err));
	CHECK(np != NULL, "%s", err);
	if (!np)
		return check_done("nat_probe_map");
	mg_nat_probe_set_other(np, other, NULL);

	/* No map yet: no server, no round. */
	for (int i = 0; i < 10; i++)
		mg_nat_probe_run(np, now_ms());
	CHECK(rounds == 0);

	/* Two IPv4 relays with STUN, one without. */
	struct mg_netmap_relay m[] = {relay("a", "127.0.0.1", p[0]), relay("b", "127.0.0.3", 0),
	                              relay("c", "127.0.0.2", p[1])};
	mg_nat_probe_set_relays(np, m, 3);
	CHECK(run_until_round(np, 2), "a round with the map's two servers");
	CHECK(last.servers[0].family == 4 && last.servers[0].port == p[0] &&
	      last.servers[1].port == p[1]);
	CHECK(strcmp(last.nat, "none") == 0 && last.n_mapped == 1, "nat %s, %zu mapped", last.nat,
	      last.n_mapped);
	CHECK(last.mapped[0].family == 4 && last.mapped[0].addr[0] == 127 &&
	          last.mapped[0].port == mg_nat_probe_local_port(np),
	      "the mapped endpoint as plain IPv4, our port");
	CHECK(last.rtt_ms[0] >= 0 && last.rtt_ms[1] >= 0);
	cport = mg_nat_probe_local_port(np);
	printf("ok: servers from the relay map (IPv4 on the dual-stack socket): %s\n", last.nat);

	/* Not STUN, from a plain IPv4 socket: handed on with a plain IPv4 source; and back. */
	{
		uint16_t qport;
		int q = udp_on("127.0.0.1", &qport);
		struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(cport)};
		struct mg_sockaddr qa = {.family = 4, .port = qport, .addr = {127, 0, 0, 1}};
		uint8_t b[16];

		inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
		sendto(q, "MGdsc-not-stun", 14, 0, (struct sockaddr *)&to, sizeof(to));
		for (int i = 0; i < 50 && others == 0; i++) {
			struct pollfd pf = {.fd = mg_nat_probe_fd(np), .events = POLLIN};
			poll(&pf, 1, 20);
			mg_nat_probe_run(np, now_ms());
		}
		CHECK(others == 1 && other_from.family == 4 && other_from.port == qport &&
		      other_from.addr[0] == 127 && other_from.addr[3] == 1);
		CHECK(mg_nat_probe_sendto(np, (const uint8_t *)"pong", 4, &qa) == 0);
		struct pollfd pq = {.fd = q, .events = POLLIN};
		CHECK(poll(&pq, 1, 1000) == 1 && recv(q, b, sizeof(b), 0) == 4 &&
		      memcmp(b, "pong", 4) == 0);
		close(q);
		printf("ok: other datagrams in and out over IPv4\n");
	}

	/* The map now has one STUN relay, IPv6 only: the same socket and port ask it. */
	if (srv[2] >= 0) {
		struct mg_netmap_relay m6[] = {relay("a", "127.0.0.1", 0), relay("d", "::1", p[2])};

		mg_nat_probe_set_relays(np, m6, 2);
		CHECK(run_until_round(np, 1), "a round with the IPv6 server");
		CHECK(last.servers[0].family == 6 && last.servers[0].port == p[2]);
		CHECK(strcmp(last.nat, "unknown") == 0 && last.n_mapped == 1 &&
		          last.mapped[0].family == 6 && last.mapped[0].addr[15] == 1 &&
		          last.mapped[0].port == cport,
		      "one server: the endpoint, not the NAT kind");
		printf("ok: an IPv6 server from the map, same socket\n");
	} else {
		printf("skip: no IPv6 on loopback\n");
	}

	mg_nat_probe_free(np);
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	for (int i = 0; i < 3; i++)
		if (srv[i] >= 0)
			close(srv[i]);
	return check_done("nat_probe_map");
}
