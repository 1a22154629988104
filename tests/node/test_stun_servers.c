// SPDX-License-Identifier: GPL-2.0-only
/*
 * STUN servers from the relay map (node/stun_servers.c): the map stream's stun_port, the pick
 * (two servers of one family with different addresses, the family with more, IPv4 on a tie,
 * only families the caller can send from), and the resolver's order (the preferred region's
 * relays first, relays without STUN left out), a map that did not change resolving nothing
 * again, and a map without STUN relays leaving none. Numeric hosts only: no DNS in a test.
 */
#include <string.h>
#include <time.h>

#include "check.h"
#include "coord_client.h"
#include "stun_servers.h"

static struct mg_sockaddr ep(const char *s)
{
	struct mg_sockaddr a;

	CHECK(mg_sockaddr_parse(s, &a) == 0, "%s parses", s);
	return a;
}

static bool is(const struct mg_sockaddr *a, const char *s)
{
	char buf[MG_SOCKADDR_STRLEN];

	mg_sockaddr_format(a, buf, sizeof(buf));
	return strcmp(buf, s) == 0;
}

static int parse(const char *relays, struct mg_netmap_update *u, char *err, size_t errlen)
{
	char line[2048];

	snprintf(line, sizeof(line),
	         "{\"type\":\"full\",\"seq\":1,\"peers\":[],\"relay_map\":{\"regions\":[{\"code\":"
	         "\"fra\",\"relays\":[%s]}]}}",
	         relays);
	memset(u, 0, sizeof(*u));
	return mg_coord_parse_line(line, strlen(line), u, NULL, 0, err, errlen);
}

static void test_parse(void)
{
	struct mg_netmap_update u;
	char err[256] = "";
	static const char *const bad[] = {"-1", "65536", "\"3478\"", "3478.5", "null"};

	CHECK(parse("{\"name\":\"a\",\"host\":\"192.0.2.1\",\"stun_port\":3478},"
	            "{\"name\":\"b\",\"host\":\"192.0.2.2\",\"stun_port\":0},"
	            "{\"name\":\"c\",\"host\":\"192.0.2.3\"}",
	            &u, err, sizeof(err)) == 1,
	      "%s", err);
	CHECK(u.has_relay_map && u.n_relays == 3);
	CHECK(u.n_relays == 3 && u.relays[0].stun_port == 3478 && u.relays[1].stun_port == 0 &&
	          u.relays[2].stun_port == 0,
	      "absent: no STUN there");
	mg_netmap_update_free(&u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char r[128];

		snprintf(r, sizeof(r), "{\"name\":\"a\",\"host\":\"h\",\"stun_port\":%s}", bad[i]);
		err[0] = '\0';
		CHECK(parse(r, &u, err, sizeof(err)) == -1, "stun_port %s refused", bad[i]);
		CHECK(strstr(err, "relays[0].stun_port: expected 0..65535") != NULL, "%s", err);
		mg_netmap_update_free(&u);
	}
	printf("ok: stun_port parsed, bad values refused with the field's path\n");
}

static void test_pick(void)
{
	const unsigned both = MG_STUN_FAMILY_4 | MG_STUN_FAMILY_6;
	struct mg_sockaddr out[2];
	struct mg_sockaddr c1[] = {ep("192.0.2.1:3478"), ep("192.0.2.1:3479"),
	                           ep("192.0.2.2:3478")};
	struct mg_sockaddr c2[] = {ep("[2001:db8::1]:3478"), ep("192.0.2.1:3478"),
	                           ep("[2001:db8::2]:3478"), ep("192.0.2.2:3478")};
	struct mg_sockaddr c3[] = {ep("[2001:db8::1]:3478"), ep("192.0.2.1:3478"),
	                           ep("[2001:db8::2]:3478")};

	/* One address with two ports says nothing about mapping by address: skipped. */
	CHECK(mg_stun_servers_pick(c1, 3, both, out) == 2);
	CHECK(is(&out[0], "192.0.2.1:3478") && is(&out[1], "192.0.2.2:3478"));
	CHECK(mg_stun_servers_pick(c1, 2, both, out) == 1 && is(&out[0], "192.0.2.1:3478"));
	/* A tie: IPv4. */
	CHECK(mg_stun_servers_pick(c2, 4, both, out) == 2);
	CHECK(is(&out[0], "192.0.2.1:3478") && is(&out[1], "192.0.2.2:3478"));
	/* More IPv6 addresses: IPv6, in the given order. */
	CHECK(mg_stun_servers_pick(c3, 3, both, out) == 2);
	CHECK(is(&out[0], "[2001:db8::1]:3478") && is(&out[1], "[2001:db8::2]:3478"));
	/* Only the families the caller sends from. */
	CHECK(mg_stun_servers_pick(c3, 3, MG_STUN_FAMILY_4, out) == 1 &&
	      is(&out[0], "192.0.2.1:3478"));
	CHECK(mg_stun_servers_pick(c2, 4, MG_STUN_FAMILY_6, out) == 2 &&
	      is(&out[0], "[2001:db8::1]:3478"));
	CHECK(mg_stun_servers_pick(c1, 3, MG_STUN_FAMILY_6, out) == 0);
	CHECK(mg_stun_servers_pick(c1, 0, both, out) == 0);
	printf("ok: the pick\n");
}

static struct mg_netmap_relay relay(const char *region, const char *name, const char *host,
                                    uint16_t stun)
{
	struct mg_netmap_relay r;

	memset(&r, 0, sizeof(r));
	snprintf(r.region, sizeof(r.region), "%s", region);
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.host, sizeof(r.host), "%s", host);
	r.port = 443;
	r.stun_port = stun;
	return r;
}

/* Polls until the resolver delivers a change (bounded). */
static bool poll_change(struct mg_stun_servers *s, unsigned fam, int64_t now)
{
	for (int i = 0; i < 2000; i++) {
		if (mg_stun_servers_poll(s, now, fam))
			return true;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	return false;
}

static void test_resolve(void)
{
	const unsigned both = MG_STUN_FAMILY_4 | MG_STUN_FAMILY_6;
	struct mg_stun_servers *s = malloc(sizeof(*s));
	struct mg_netmap_relay m[] = {
	    relay("fra", "fra-1", "192.0.2.1", 3478), relay("ams", "ams-1", "198.51.100.1", 3479),
	    relay("ams", "ams-2", "198.51.100.2", 0), relay("ams", "ams-3", "2001:db8::3", 3478),
	    relay("fra", "fra-2", "192.0.2.2", 3478),
	};

	mg_stun_servers_init(s, "ams", false);
	CHECK(!mg_stun_servers_poll(s, 1, both) && s->n_servers == 0, "no map, nothing");
	mg_stun_servers_set_map(s, m, 5);
	CHECK(s->n_hosts == 4, "ams-2 has no STUN");
	CHECK(strcmp(s->hosts[0].host, "198.51.100.1") == 0 && s->hosts[0].port == 3479 &&
	          strcmp(s->hosts[1].host, "2001:db8::3") == 0 &&
	          strcmp(s->hosts[2].host, "192.0.2.1") == 0,
	      "region ams first, then map order");
	CHECK(poll_change(s, both, 1));
	CHECK(s->n_servers == 2 && is(&s->servers[0], "198.51.100.1:3479") &&
	      is(&s->servers[1], "192.0.2.1:3478"));
	CHECK(s->n_addrs == 4 && s->resolves == 1 && s->host_failures == 0);
	/* The same map again: nothing to resolve. */
	mg_stun_servers_set_map(s, m, 5);
	CHECK(!mg_stun_servers_poll(s, 2, both) && !s->active && s->resolves == 1);
	/* A caller that sends IPv6 only: the one IPv6 server, from what was resolved. */
	CHECK(mg_stun_servers_poll(s, 3, MG_STUN_FAMILY_6));
	CHECK(s->n_servers == 1 && is(&s->servers[0], "[2001:db8::3]:3478"));
	/* Refreshed after MG_STUN_SERVERS_REFRESH_S, same answer: no change. */
	CHECK(!mg_stun_servers_poll(s, 1 + MG_STUN_SERVERS_REFRESH_S, MG_STUN_FAMILY_6));
	CHECK(s->active || s->resolves == 2);
	for (int i = 0; i < 2000 && s->active; i++) {
		CHECK(!mg_stun_servers_poll(s, 2 + MG_STUN_SERVERS_REFRESH_S, MG_STUN_FAMILY_6));
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	CHECK(s->resolves == 2);
	/* No relay with STUN any more: no servers. */
	mg_stun_servers_set_map(s, &m[2], 1);
	CHECK(s->n_hosts == 0);
	CHECK(poll_change(s, MG_STUN_FAMILY_6, 1000) && s->n_servers == 0);
	mg_stun_servers_free(s);
	free(s);

	/* The agent keeps only addresses it has a route to: loopback has one. */
	s = malloc(sizeof(*s));
	mg_stun_servers_init(s, "", true);
	struct mg_netmap_relay lo[] = {relay("x", "a", "127.0.0.1", 3478),
	                               relay("x", "b", "127.0.0.2", 3478)};
	mg_stun_servers_set_map(s, lo, 2);
	CHECK(poll_change(s, both, 1) && s->n_servers == 2 && is(&s->servers[1], "127.0.0.2:3478"));
	mg_stun_servers_free(s);
	free(s);
	printf("ok: resolve, order, refresh, routes\n");
}

int main(void)
{
	test_parse();
	test_pick();
	test_resolve();
	return check_done("stun_servers");
}
