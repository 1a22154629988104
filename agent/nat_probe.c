// SPDX-License-Identifier: GPL-2.0-only
/* STUN from the agent's own socket, and the NAT kind it implies (nat_probe.h). */
#include "nat_probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stun_servers.h"

/* A server that has not answered within this much of a round counts as silent. */
#define ROUND_WAIT_MS 1500

struct mg_nat_probe {
	struct mg_nat_probe_config cfg;
	mg_nat_probe_fn fn;
	void *ctx;
	int fd;
	struct mg_sockaddr local;
	int64_t round_start, next_round;
	bool in_round;
	uint8_t txid[2][MG_STUN_TXID_LEN];
	bool answered[2];
	struct mg_sockaddr mapped[2];
	int rtt_ms[2];
	uint64_t refused;
	mg_nat_probe_other_fn other;
	void *other_ctx;
	struct mg_stun_servers *map; /* with cfg.from_map */
	bool dual;                   /* an IPv6 socket that also carries IPv4 (mapped) */
};

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) from the dual-stack socket, as plain IPv4. */
static void unmap(struct mg_sockaddr *a)
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (a->family != 6 || memcmp(a->addr, pfx, sizeof(pfx)) != 0)
		return;
	a->family = 4;
	memmove(a->addr, a->addr + 12, 4);
	memset(a->addr + 4, 0, 12);
}

static socklen_t to_ss(const struct mg_nat_probe *np, const struct mg_sockaddr *a,
                       struct sockaddr_storage *ss)
{
	struct mg_sockaddr m = *a;

	if (np->dual && a->family == 4) {
		m.family = 6;
		memset(m.addr, 0, 10);
		m.addr[10] = m.addr[11] = 0xff;
		memcpy(m.addr + 12, a->addr, 4);
	}
	return mg_sockaddr_to_ss(&m, ss);
}

int mg_nat_probe_config_load(struct cfg_loader *ld, yaml_node_t *node,
                             struct mg_nat_probe_config *cfg)
{
	static const char *const keys[] = {"servers", "interval", NULL};
	yaml_node_item_t *items;
	yaml_node_t *n;
	char ipath[CFG_PATH_LEN];
	unsigned long v;

	memset(cfg, 0, sizeof(*cfg));
	cfg->interval_s = 3;
	if (cfg_check_keys(ld, node, "stun", keys) != 0)
		return -1;
	/* Without servers: the relays' STUN ports from the coordinator's relay map. */
	n = cfg_lookup(ld, node, "servers");
	if (n && cfg_list_max(ld, n, "stun.servers", "servers", 2, &items, &cfg->n_servers) != 0)
		return -1;
	for (size_t i = 0; i < cfg->n_servers; i++) {
		yaml_node_t *it = cfg_item(ld, n, items, i);
		const char *s;

		cfg_index(ipath, "stun.servers", i);
		s = cfg_scalar(ld, it, ipath, "ip:port");
		if (!s)
			return -1;
		if (mg_sockaddr_parse(s, &cfg->servers[i]) != 0)
			return cfg_fail(ld, it, ipath, "expected a numeric ip:port or [ipv6]:port");
		if (cfg->servers[i].family != cfg->servers[0].family)
			return cfg_fail(
			    ld, it, ipath,
			    "both servers must be of one family (one socket asks both)");
	}
	cfg->from_map = cfg->n_servers == 0;
	if ((n = cfg_lookup(ld, node, "interval"))) {
		if (cfg_uint(ld, n, "stun.interval", 1, 300, &v) != 0)
			return -1;
		cfg->interval_s = (unsigned)v;
	}
	cfg->enabled = true;
	return 0;
}

struct mg_nat_probe *mg_nat_probe_new(const struct mg_nat_probe_config *cfg, mg_nat_probe_fn fn,
                                      void *ctx, char *err, size_t errlen)
{
	struct mg_nat_probe *np = calloc(1, sizeof(*np));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fam = cfg->servers[0].family == 6 || cfg->from_map ? AF_INET6 : AF_INET;

	if (!np) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	np->cfg = *cfg;
	np->fn = fn;
	np->ctx = ctx;
	if (cfg->from_map && !(np->map = malloc(sizeof(*np->map)))) {
		snprintf(err, errlen, "out of memory");
		free(np);
		return NULL;
	}
	if (np->map)
		mg_stun_servers_init(np->map, cfg->region, true);
	np->fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cfg->from_map) {
		int off = 0;

		np->dual = np->fd >= 0 &&
		           setsockopt(np->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0;
		if (!np->dual) {
			/* IPv6 is off on this host: IPv4 only. */
			if (np->fd >= 0)
				close(np->fd);
			fam = AF_INET;
			np->fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		}
	}
	if (np->fd < 0 || getsockname(np->fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(err, errlen, "udp socket: %s", strerror(errno));
		mg_nat_probe_free(np);
		return NULL;
	}
	/* STUN must see the host's own NAT, not the exit node's. */
	if (cfg->fwmark &&
	    setsockopt(np->fd, SOL_SOCKET, SO_MARK, &cfg->fwmark, sizeof(cfg->fwmark)) != 0) {
		snprintf(err, errlen, "SO_MARK: %s", strerror(errno));
		mg_nat_probe_free(np);
		return NULL;
	}
	/* Bind to an ephemeral port now: the mapping must belong to one port for its lifetime. */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)fam;
	sl = fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (bind(np->fd, (struct sockaddr *)&ss, sl) != 0 ||
	    getsockname(np->fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(err, errlen, "udp bind: %s", strerror(errno));
		mg_nat_probe_free(np);
		return NULL;
	}
	mg_sockaddr_from_ss(&ss, &np->local);
	return np;
}

void mg_nat_probe_free(struct mg_nat_probe *np)
{
	if (!np)
		return;
	if (np->fd >= 0)
		close(np->fd);
	if (np->map)
		mg_stun_servers_free(np->map);
	free(np->map);
	free(np);
}

int mg_nat_probe_fd(const struct mg_nat_probe *np)
{
	return np->fd;
}

uint64_t mg_nat_probe_refused(const struct mg_nat_probe *np)
{
	return np->refused;
}

/* The mapped address is one of this host's when a socket can bind to it: then there is no NAT. */
static bool address_is_ours(const struct mg_sockaddr *a)
{
	struct mg_sockaddr probe = *a;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = socket(a->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ours;

	if (fd < 0)
		return false;
	probe.port = 0;
	sl = mg_sockaddr_to_ss(&probe, &ss);
	ours = bind(fd, (struct sockaddr *)&ss, sl) == 0;
	close(fd);
	return ours;
}

static void finish_round(struct mg_nat_probe *np)
{
	struct mg_nat_probe_result r = {.nat = "unknown",
	                                .rtt_ms = {-1, -1},
	                                .local_port = np->local.port,
	                                .n_servers = np->cfg.n_servers};

	memcpy(r.servers, np->cfg.servers, sizeof(r.servers));
	size_t answers = 0;

	for (size_t i = 0; i < np->cfg.n_servers; i++) {
		r.rtt_ms[i] = np->answered[i] ? np->rtt_ms[i] : -1;
		if (!np->answered[i])
			continue;
		answers++;
		if (r.n_mapped == 0 ||
		    memcmp(&r.mapped[0], &np->mapped[i], sizeof(np->mapped[i])) != 0)
			r.mapped[r.n_mapped++] = np->mapped[i];
	}
	if (r.n_mapped == 2)
		r.nat = "hard";
	else if (answers == np->cfg.n_servers && np->cfg.n_servers == 2)
		r.nat = r.mapped[0].port == np->local.port && address_is_ours(&r.mapped[0])
		            ? "none"
		            : "easy";
	/* With one server (or one answer) the mapping is known but not how the NAT maps. */
	np->in_round = false;
	np->fn(np->ctx, &r);
}

static void send_round(struct mg_nat_probe *np, int64_t now_ms)
{
	for (size_t i = 0; i < np->cfg.n_servers; i++) {
		uint8_t req[MG_STUN_REQUEST_LEN];
		struct sockaddr_storage ss;
		socklen_t sl = to_ss(np, &np->cfg.servers[i], &ss);
		size_t len = mg_stun_build_request(req, sizeof(req), np->txid[i]);

		np->answered[i] = false;
		if (sendto(np->fd, req, len, 0, (struct sockaddr *)&ss, sl) < 0)
			mg_log(MG_LOG_DEBUG, "stun send failed", "error", strerror(errno), NULL);
	}
	np->round_start = now_ms;
	np->next_round = now_ms + (int64_t)np->cfg.interval_s * 1000;
	np->in_round = true;
}

static void receive(struct mg_nat_probe *np, int64_t now_ms)
{
	/* Room for any datagram: with disco paths the socket also carries WireGuard packets of
	 * direct peers, as large as the tunnel's MTU allows. One loop thread: static is safe. */
	static uint8_t buf[65536];

	for (int budget = 64; budget > 0; budget--) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct mg_sockaddr src, mapped;
		struct mg_stun_msg msg;
		ssize_t n = recvfrom(np->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		bool used = false;

		if (n < 0)
			return;
		mg_sockaddr_from_ss(&from, &src);
		unmap(&src);
		for (size_t i = 0; np->in_round && i < np->cfg.n_servers && !used; i++) {
			if (memcmp(&src, &np->cfg.servers[i], sizeof(src)) != 0 ||
			    np->answered[i] ||
			    mg_stun_parse_response(buf, (size_t)n, np->txid[i], &msg, &mapped) !=
			        MG_STUN_OK)
				continue;
			np->answered[i] = true;
			unmap(&mapped);
			np->mapped[i] = mapped;
			np->rtt_ms[i] = (int)(now_ms - np->round_start);
			used = true;
		}
		if (!used && np->other && !mg_stun_is_stun(buf, (size_t)n))
			np->other(np->other_ctx, buf, (size_t)n, &src);
		else
			np->refused += !used;
	}
}

/* A new set of servers from the relay map: the round under way is void, a new one starts. */
static void map_poll(struct mg_nat_probe *np, int64_t now_ms)
{
	unsigned fam = np->dual                ? MG_STUN_FAMILY_4 | MG_STUN_FAMILY_6
	               : np->local.family == 6 ? MG_STUN_FAMILY_6
	                                       : MG_STUN_FAMILY_4;

	if (!mg_stun_servers_poll(np->map, now_ms / 1000, fam))
		return;
	memcpy(np->cfg.servers, np->map->servers, sizeof(np->cfg.servers));
	np->cfg.n_servers = np->map->n_servers;
	np->in_round = false;
	np->next_round = now_ms;
	np->answered[0] = np->answered[1] = false;
}

void mg_nat_probe_set_relays(struct mg_nat_probe *np, const struct mg_netmap_relay *relays,
                             size_t n)
{
	if (np->map)
		mg_stun_servers_set_map(np->map, relays, n);
}

void mg_nat_probe_run(struct mg_nat_probe *np, int64_t now_ms)
{
	bool all = true;

	if (np->map)
		map_poll(np, now_ms);
	receive(np, now_ms);
	for (size_t i = 0; i < np->cfg.n_servers; i++)
		all &= np->answered[i];
	if (np->in_round && (all || now_ms - np->round_start >= ROUND_WAIT_MS))
		finish_round(np);
	if (!np->in_round && now_ms >= np->next_round && np->cfg.n_servers > 0)
		send_round(np, now_ms);
}

void mg_nat_probe_set_other(struct mg_nat_probe *np, mg_nat_probe_other_fn fn, void *ctx)
{
	np->other = fn;
	np->other_ctx = ctx;
}

int mg_nat_probe_sendto(struct mg_nat_probe *np, const uint8_t *buf, size_t len,
                        const struct mg_sockaddr *to)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_ss(np, to, &ss);

	return sendto(np->fd, buf, len, 0, (struct sockaddr *)&ss, sl) < 0 ? -errno : 0;
}

uint16_t mg_nat_probe_local_port(const struct mg_nat_probe *np)
{
	return np->local.port;
}
