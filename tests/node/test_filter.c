// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet filter's model, parser and delivery: the text forms and their errors, the normal
 * form, the semantics at their edges (ports of port-less protocols, ICMP per family, empty
 * lists), and the diff engine handing filters to the sink: only on change, before peers, the
 * previous one kept when the sink refuses, a malformed rule refusing the whole line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "coord_client.h"
#include "filter.h"
#include "netmap_apply.h"

#define KEY_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static int parse(const char *line, struct mg_netmap_update *u, char *err, size_t errlen)
{
	return mg_coord_parse_line(line, strlen(line), u, NULL, 0, err, errlen);
}

/* A full map line whose filter is the given JSON array text. */
static int parse_filter(const char *filter, struct mg_netmap_update *u, char *err, size_t errlen)
{
	char line[4096];

	snprintf(line, sizeof(line), "{\"type\":\"full\",\"seq\":1,\"peers\":[],\"filter\":%s}",
	         filter);
	return parse(line, u, err, errlen);
}

static struct mg_filter_packet pkt(const char *src, const char *dst, uint8_t proto, uint16_t dport)
{
	struct mg_filter_packet p = {0};
	struct mg_prefix a, b;

	mg_prefix_parse(src, &a);
	mg_prefix_parse(dst, &b);
	p.family = a.family;
	p.proto = proto;
	p.dport = dport;
	p.sport = 40000;
	memcpy(p.src, a.addr, 16);
	memcpy(p.dst, b.addr, 16);
	return p;
}

static void test_errors(void)
{
	static const struct {
		const char *filter, *want;
	} bad[] = {
	    {"{}", "filter: expected an array"},
	    {"[3]", "filter[0]: expected an object"},
	    {"[{\"ports\":[\"*\"]}]", "filter[0].src: required"},
	    {"[{\"src\":\"*\",\"ports\":[\"*\"]}]", "filter[0].src: expected an array"},
	    {"[{\"src\":[\"10.0.0.1/8\"],\"ports\":[\"*\"]}]",
	     "filter[0].src[0]: '10.0.0.1/8' has host bits"},
	    {"[{\"src\":[\"*\"],\"dst\":[\"banana\"],\"ports\":[\"*\"]}]",
	     "filter[0].dst[0]: 'banana' is not"},
	    {"[{\"src\":[\"*\"],\"dst\":[\"10.0.0.1\"],\"ports\":[\"*\"]}]", "filter[0].dst[0]:"},
	    {"[{\"src\":[\"*\"],\"dst\":[7],\"ports\":[\"*\"]}]",
	     "filter[0].dst[0]: expected a string"},
	    {"[{\"src\":[\"*\"],\"proto\":\"sctp\",\"ports\":[\"*\"]}]",
	     "filter[0].proto: 'sctp' is not tcp, udp, icmp or any"},
	    {"[{\"src\":[\"*\"],\"proto\":6,\"ports\":[\"*\"]}]",
	     "filter[0].proto: expected a string"},
	    {"[{\"src\":[\"*\"]}]", "filter[0].ports: expected an array"},
	    {"[{\"src\":[\"*\"],\"ports\":[\"70000\"]}]", "filter[0].ports[0]: '70000' is not"},
	    {"[{\"src\":[\"*\"],\"ports\":[\"22\",\"9-3\"]}]", "filter[0].ports[1]: '9-3'"},
	    {"[{\"src\":[\"*\"],\"ports\":[\"-1\"]}]", "filter[0].ports[0]"},
	    {"[{\"src\":[\"*\"],\"ports\":[\"22 \"]}]", "filter[0].ports[0]"},
	    {"[{\"src\":[\"*\"],\"ports\":[\"+22\"]}]", "filter[0].ports[0]"},
	    {"[{\"src\":[\"*\"],\"ports\":[\"000022\"]}]", "filter[0].ports[0]"},
	    {"[{\"src\":[\"*\"],\"proto\":\"icmp\",\"ports\":[\"22\"]}]",
	     "filter[0]: proto icmp has no ports"},
	    {"[{\"src\":[\"*\"],\"ports\":[\"*\"]},{\"src\":[\"*\"],\"ports\":[\"1-\"]}]",
	     "filter[1].ports[0]"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mg_netmap_update u;
		char err[256] = "";
		int rc = parse_filter(bad[i].filter, &u, err, sizeof(err));

		CHECK(rc == -1 && strstr(err, bad[i].want), "%s: got %d '%s', want '%s'",
		      bad[i].filter, rc, err, bad[i].want);
		CHECK(u.filter.rules == NULL && u.peers == NULL, "a refused line leaves nothing");
	}
}

static void test_shape(void)
{
	struct mg_netmap_update u;
	char err[256] = "", text[512];
	int rc = parse_filter(
	    "[{\"src\":[\"10.1.0.0/16\",\"10.1.2.0/24\",\"100.64.0.2/32\",\"fd7a::2/128\"],"
	    "\"dst\":[\"100.64.0.1/32\",\"fd7a::1/128\",\"192.168.0.0/24\"],\"proto\":\"tcp\","
	    "\"ports\":[\"443\",\"22\",\"80-90\",\"85-100\",\"101\"]},"
	    "{\"src\":[\"*\"],\"ports\":[\"*\"]}]",
	    &u, err, sizeof(err));

	CHECK(rc == 1 && u.has_filter && u.filter.n_rules == 2, "parsed: %s", err);
	if (rc != 1)
		return;
	const struct mg_filter_rule *r = &u.filter.rules[0];
	CHECK(r->proto == MG_FILTER_TCP);
	CHECK(r->n_src == 3, "10.1.2.0/24 inside 10.1.0.0/16 is dropped: %zu", r->n_src);
	CHECK(r->n_ports == 3 && r->ports[0].lo == 22 && r->ports[1].lo == 80 &&
	          r->ports[1].hi == 101 && r->ports[2].lo == 443,
	      "ports merged, touching ranges too");
	mg_filter_rule_format(r, text, sizeof(text));
	CHECK(strcmp(text, "src 10.1.0.0/16,100.64.0.2/32,fd7a::2/128 dst "
	                   "100.64.0.1/32,192.168.0.0/24,fd7a::1/128 tcp 22,80-101,443") == 0,
	      "%s", text);
	/* No dst (an older coordinator) and no proto: any protocol to any address. */
	r = &u.filter.rules[1];
	CHECK(r->proto == MG_FILTER_ANY && r->n_src == 2 && r->n_dst == 2 && r->dst[0].len == 0);
	mg_netmap_update_free(&u);

	rc = parse("{\"type\":\"full\",\"seq\":1,\"peers\":[]}", &u, err, sizeof(err));
	CHECK(rc == 1 && !u.has_filter, "a map without a filter says so");
	mg_netmap_update_free(&u);
	rc = parse("{\"type\":\"delta\",\"seq\":2,\"filter\":[]}", &u, err, sizeof(err));
	CHECK(rc == 1 && u.has_filter && u.filter.n_rules == 0, "an empty filter in a delta");
	mg_netmap_update_free(&u);
}

static void test_semantics(void)
{
	struct mg_netmap_update u;
	char err[256];
	int rc = parse_filter(
	    "[{\"src\":[\"100.64.0.2/32\",\"fd7a::2/128\"],\"dst\":[\"100.64.0.1/32\","
	    "\"fd7a::1/128\",\"10.1.0.0/24\"],\"proto\":\"tcp\",\"ports\":[\"22\"]},"
	    "{\"src\":[\"100.64.0.3/32\"],\"dst\":[\"100.64.0.1/32\"],\"ports\":[\"53\"]},"
	    "{\"src\":[\"100.64.0.4/32\",\"fd7a::4/128\"],\"dst\":[\"*\"],\"proto\":\"icmp\","
	    "\"ports\":[\"*\"]},"
	    "{\"src\":[\"100.64.0.5/32\"],\"dst\":[\"100.64.0.1/32\"],\"ports\":[\"*\"]},"
	    "{\"src\":[\"*\"],\"dst\":[],\"ports\":[\"*\"]},"
	    "{\"src\":[\"*\"],\"dst\":[\"*\"],\"ports\":[]}]",
	    &u, err, sizeof(err));
	const struct mg_filter *f = &u.filter;

	CHECK(rc == 1, "%s", err);
	if (rc != 1)
		return;
	struct {
		const char *src, *dst;
		uint8_t proto;
		uint16_t dport;
		bool want;
	} cases[] = {
	    {"100.64.0.2", "100.64.0.1", 6, 22, true},
	    {"100.64.0.2", "10.1.0.77", 6, 22, true}, /* a route this node carries */
	    {"100.64.0.2", "10.1.1.77", 6, 22, false},
	    {"100.64.0.2", "100.64.0.1", 6, 23, false},
	    {"100.64.0.2", "100.64.0.1", 17, 22, false}, /* tcp only */
	    {"100.64.0.2", "100.64.0.1", 1, 0, false},
	    {"fd7a::2", "fd7a::1", 6, 22, true},
	    {"fd7a::2", "100.64.0.1", 6, 22, false},    /* never across families */
	    {"100.64.0.1", "100.64.0.2", 6, 22, false}, /* the other direction */
	    {"100.64.0.3", "100.64.0.1", 17, 53, true}, /* no proto: any */
	    {"100.64.0.3", "100.64.0.1", 6, 53, true},
	    {"100.64.0.3", "100.64.0.1", 1, 0, true},   /* ICMP, whatever the ports */
	    {"100.64.0.3", "100.64.0.1", 58, 0, false}, /* ICMPv6 on IPv4 is not ICMP */
	    {"100.64.0.3", "100.64.0.1", 47, 0, false}, /* GRE needs every port */
	    {"100.64.0.5", "100.64.0.1", 47, 0, true},
	    {"100.64.0.5", "100.64.0.1", 132, 0, true},
	    {"100.64.0.4", "100.64.0.1", 1, 0, true},
	    {"fd7a::4", "fd7a::1", 58, 0, true},
	    {"fd7a::4", "fd7a::1", 1, 0, false}, /* ICMP on IPv6 is not ICMPv6 */
	    {"100.64.0.4", "100.64.0.1", 6, 22, false},
	    {"100.64.0.9", "100.64.0.1", 6, 22, false}, /* empty lists match nothing */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mg_filter_packet p =
		    pkt(cases[i].src, cases[i].dst, cases[i].proto, cases[i].dport);

		CHECK(mg_filter_match(f, &p) == cases[i].want, "%s -> %s proto %u port %u: want %s",
		      cases[i].src, cases[i].dst, cases[i].proto, cases[i].dport,
		      cases[i].want ? "accept" : "deny");
	}
	struct mg_filter none = {0};
	struct mg_filter_packet p = pkt("100.64.0.2", "100.64.0.1", 6, 22);
	CHECK(!mg_filter_match(&none, &p), "the empty filter admits nothing");
	mg_netmap_update_free(&u);
}

/* ---- delivery through the engine ---- */

struct rec {
	int calls, fail;
	bool had_old;
	size_t rules;
	int order; /* calls to set_filter before any peer call in the same apply: 1 */
	int peer_calls;
};

static int rec_add(void *ctx, const struct mg_netmap_peer *p)
{
	(void)p;
	((struct rec *)ctx)->peer_calls++;
	return 0;
}

static int rec_update(void *ctx, const struct mg_netmap_peer *o, const struct mg_netmap_peer *p)
{
	(void)o;
	(void)p;
	((struct rec *)ctx)->peer_calls++;
	return 0;
}

static int rec_filter(void *ctx, const struct mg_filter *old, const struct mg_filter *f)
{
	struct rec *r = ctx;

	if (r->fail)
		return -EIO;
	r->calls++;
	r->had_old = old != NULL;
	r->rules = f->n_rules;
	r->order = r->peer_calls == 0;
	return 0;
}

static const struct mg_netmap_sink sink = {.add_peer = rec_add,
                                           .update_peer = rec_update,
                                           .remove_peer = rec_add,
                                           .set_filter = rec_filter};

static int apply(struct mg_netmap_state *st, struct rec *r, const char *line)
{
	struct mg_netmap_update u;
	char err[256];
	int rc = parse(line, &u, err, sizeof(err));

	if (rc != 1)
		return -1000;
	r->peer_calls = 0;
	rc = mg_netmap_apply(st, &u, 0, &sink, r);
	mg_netmap_update_free(&u);
	return rc;
}

static void test_engine(void)
{
	struct mg_netmap_state st;
	struct rec r = {0};
	const char *one = "[{\"src\":[\"*\"],\"proto\":\"tcp\",\"ports\":[\"22\"]}]";
	char line[1024];

	mg_netmap_state_init(&st);
	snprintf(line, sizeof(line),
	         "{\"type\":\"full\",\"seq\":1,\"peers\":[{\"key\":\"%s\",\"allowed_ips\":"
	         "[\"100.64.0.9/32\"]}],\"filter\":%s}",
	         KEY_A, one);
	CHECK(apply(&st, &r, line) == 0 && r.calls == 1 && !r.had_old && r.rules == 1);
	CHECK(r.order == 1 && r.peer_calls == 1, "the filter before the peers");
	CHECK(apply(&st, &r, "{\"type\":\"delta\",\"seq\":2,\"peers_removed\":[]}") == 0 &&
	          r.calls == 1,
	      "a delta without a filter leaves it");
	snprintf(line, sizeof(line), "{\"type\":\"delta\",\"seq\":3,\"filter\":%s}", one);
	CHECK(apply(&st, &r, line) == 0 && r.calls == 1, "the same filter again: no call");
	/* A malformed rule refuses the line: the engine never sees it, the filter stays. */
	CHECK(apply(&st, &r,
	            "{\"type\":\"delta\",\"seq\":4,\"filter\":[{\"src\":[\"*\"],\"ports\":[\"x\"]}]"
	            "}") == -1000 &&
	      r.calls == 1 && st.filter.n_rules == 1);
	/* The sink refuses: the old filter stays in force and the next pass retries. */
	r.fail = 1;
	CHECK(apply(&st, &r, "{\"type\":\"delta\",\"seq\":4,\"filter\":[]}") == 0 && r.calls == 1 &&
	      st.has_filter && st.filter.n_rules == 1 && st.stats.sink_errors == 1);
	r.fail = 0;
	CHECK(mg_netmap_expire(&st, 0, &sink, &r) == 0 && r.calls == 2 && r.had_old &&
	          r.rules == 0 && st.filter.n_rules == 0,
	      "retried on the next pass");
	snprintf(line, sizeof(line), "{\"type\":\"delta\",\"seq\":5,\"filter\":%s}", one);
	CHECK(apply(&st, &r, line) == 0 && r.calls == 3 && r.rules == 1);
	/* A full map without a filter: a coordinated node admits nothing new. */
	CHECK(apply(&st, &r, "{\"type\":\"full\",\"seq\":1,\"peers\":[]}") == 0 && r.calls == 4 &&
	      r.rules == 0);
	snprintf(line, sizeof(line), "{\"type\":\"full\",\"seq\":1,\"peers\":[],\"filter\":%s}",
	         one);
	CHECK(apply(&st, &r, line) == 0 && r.calls == 5 && r.rules == 1);
	CHECK(mg_netmap_clear(&st, &sink, &r) == 0 && r.calls == 6 && r.rules == 0,
	      "logged out: the empty filter");
	/* The sink lost its state (wireguard-go restarted): the filter is handed over again. */
	mg_netmap_forget_applied(&st);
	CHECK(mg_netmap_expire(&st, 0, &sink, &r) == 0 && r.calls == 7 && !r.had_old);
	mg_netmap_state_free(&st);
}

int main(void)
{
	test_errors();
	test_shape();
	test_semantics();
	test_engine();
	return check_done("filter");
}
