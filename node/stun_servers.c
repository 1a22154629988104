// SPDX-License-Identifier: GPL-2.0-only
/* STUN servers from the relay map (stun_servers.h). */
#include "stun_servers.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stun.h"

static bool same_ep(const struct mg_sockaddr *a, const struct mg_sockaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       mg_addr_eq(a->family, a->addr, b->addr);
}

/* The first two candidates of family with different addresses. */
static size_t pick_family(const struct mg_sockaddr *cands, size_t n, uint8_t family,
                          struct mg_sockaddr out[2])
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < 2; i++) {
		if (cands[i].family != family ||
		    (k == 1 && mg_addr_eq(family, cands[i].addr, out[0].addr)))
			continue;
		out[k++] = cands[i];
	}
	return k;
}

size_t mg_stun_servers_pick(const struct mg_sockaddr *cands, size_t n, unsigned families,
                            struct mg_sockaddr out[2])
{
	struct mg_sockaddr v4[2], v6[2];
	size_t n4 = families & MG_STUN_FAMILY_4 ? pick_family(cands, n, 4, v4) : 0;
	size_t n6 = families & MG_STUN_FAMILY_6 ? pick_family(cands, n, 6, v6) : 0;
	bool six = n6 > n4;
	size_t k = six ? n6 : n4;

	memcpy(out, six ? v6 : v4, k * sizeof(out[0]));
	return k;
}

void mg_stun_servers_init(struct mg_stun_servers *s, const char *region, bool check_route)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->region, sizeof(s->region), "%s", region ? region : "");
	s->check_route = check_route;
	atomic_init(&s->over, false);
}

static void join(struct mg_stun_servers *s)
{
	if (!s->active)
		return;
	pthread_join(s->th, NULL);
	s->active = false;
}

void mg_stun_servers_free(struct mg_stun_servers *s)
{
	join(s);
}

static void add_host(struct mg_stun_servers_host *h, size_t *n, const struct mg_netmap_relay *r)
{
	snprintf(h[*n].host, sizeof(h[*n].host), "%s", r->host);
	h[*n].port = r->stun_port;
	(*n)++;
}

void mg_stun_servers_set_map(struct mg_stun_servers *s, const struct mg_netmap_relay *relays,
                             size_t n)
{
	struct mg_stun_servers_host h[MG_NETMAP_MAX_RELAYS];
	size_t k = 0;

	/* Zeroed: the arrays are compared whole. */
	memset(h, 0, sizeof(h));
	if (n > MG_NETMAP_MAX_RELAYS)
		n = MG_NETMAP_MAX_RELAYS;
	/* The preferred region's relays are likely the nearest: asked first. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			bool ours = s->region[0] && strcmp(relays[i].region, s->region) == 0;
			if (relays[i].stun_port && ours == (pass == 0))
				add_host(h, &k, &relays[i]);
		}
	if (k == s->n_hosts && memcmp(h, s->hosts, k * sizeof(h[0])) == 0)
		return;
	memcpy(s->hosts, h, k * sizeof(h[0]));
	s->n_hosts = k;
	s->changed = true;
}

/* The kernel would send to a (a UDP connect sends nothing). */
static bool routable(const struct mg_sockaddr *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = mg_sockaddr_to_ss(a, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&ss, sl) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void resolve_one(struct mg_stun_servers *s, const struct mg_stun_servers_host *h)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP}, *res, *ai;
	size_t got = 0;

	if (getaddrinfo(h->host, NULL, &hints, &res) != 0) {
		s->failed++;
		return;
	}
	for (ai = res; ai && got < MG_STUN_SERVERS_PER_HOST; ai = ai->ai_next) {
		struct sockaddr_storage ss = {0};
		struct mg_sockaddr a;
		bool dup = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(ss))
			continue;
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		mg_sockaddr_from_ss(&ss, &a);
		a.port = h->port;
		for (size_t i = 0; i < s->n_found && !dup; i++)
			dup = same_ep(&s->found[i], &a);
		if (dup || (s->check_route && !routable(&a)))
			continue;
		s->found[s->n_found++] = a;
		got++;
	}
	freeaddrinfo(res);
}

static void *resolve_thread(void *arg)
{
	struct mg_stun_servers *s = arg;

	for (size_t i = 0; i < s->n_work; i++)
		resolve_one(s, &s->work[i]);
	atomic_store_explicit(&s->over, true, memory_order_release);
	return NULL;
}

static void start(struct mg_stun_servers *s, int64_t now)
{
	memcpy(s->work, s->hosts, s->n_hosts * sizeof(s->hosts[0]));
	s->n_work = s->n_hosts;
	s->n_found = 0;
	s->failed = 0;
	s->changed = false;
	s->next_resolve = now + MG_STUN_SERVERS_REFRESH_S;
	atomic_store(&s->over, false);
	if (pthread_create(&s->th, NULL, resolve_thread, s) != 0) {
		mg_log(MG_LOG_WARNING, "stun: cannot start the resolver", NULL);
		s->next_resolve = now + 5;
		return;
	}
	s->active = true;
}

static bool repick(struct mg_stun_servers *s, unsigned families)
{
	struct mg_sockaddr out[2];
	size_t k = mg_stun_servers_pick(s->addrs, s->n_addrs, families, out);
	bool same = k == s->n_servers;

	for (size_t i = 0; same && i < k; i++)
		same = same_ep(&out[i], &s->servers[i]);
	s->picked_families = families;
	if (same)
		return false;
	memcpy(s->servers, out, k * sizeof(out[0]));
	s->n_servers = k;
	return true;
}

static void log_servers(const struct mg_stun_servers *s)
{
	char a[2][MG_SOCKADDR_STRLEN] = {"", ""};
	char n[16];

	for (size_t i = 0; i < s->n_servers; i++)
		mg_sockaddr_format(&s->servers[i], a[i], sizeof(a[i]));
	snprintf(n, sizeof(n), "%zu", s->n_addrs);
	mg_log(MG_LOG_INFO, "stun servers from the relay map", "server", a[0], "server2", a[1],
	       "addresses", n, NULL);
}

bool mg_stun_servers_poll(struct mg_stun_servers *s, int64_t now, unsigned families)
{
	bool changed = false;

	if (s->active && atomic_load_explicit(&s->over, memory_order_acquire)) {
		join(s);
		s->resolves++;
		s->host_failures += s->failed;
		memcpy(s->addrs, s->found, s->n_found * sizeof(s->found[0]));
		s->n_addrs = s->n_found;
		changed = repick(s, families);
		if (changed)
			log_servers(s);
	} else if (!s->active && families != s->picked_families) {
		changed = repick(s, families);
	}
	if (!s->active && (s->changed || (s->n_hosts && now >= s->next_resolve)))
		start(s, now);
	return changed;
}
