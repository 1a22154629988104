// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy filter's flow table: an outbound packet lets its replies in (TCP, UDP, ICMP echo
 * by identifier), not other ports or a request posing as a reply; ICMP errors quoting a
 * tracked flow are recognised; flows expire after their idle timeout and not before; a full
 * owner still counts; replies are found whichever owner tracked the flow.
 */
#include <string.h>

#include "check.h"
#include "eal_test_env.h"
#include "flow.h"
#include "pkt.h"

#define NS 1000000000ull

static const uint8_t LAN[4] = {192, 168, 1, 10}, PEER[4] = {100, 64, 0, 2};

/* An IPv4 packet of proto from s to d with ports (ICMP: type and code, identifier). */
static unsigned build4(uint8_t *b, uint8_t proto, const uint8_t *s, const uint8_t *d, uint16_t sp,
                       uint16_t dp, unsigned extra)
{
	unsigned len = 20 + (proto == MG_IPPROTO_TCP ? 20 : 8) + extra;
	memset(b, 0, len);
	b[0] = 0x45;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	b[8] = 64;
	b[9] = proto;
	memcpy(b + 12, s, 4);
	memcpy(b + 16, d, 4);
	b[20] = (uint8_t)(sp >> 8);
	b[21] = (uint8_t)sp;
	b[22] = (uint8_t)(dp >> 8);
	b[23] = (uint8_t)dp;
	if (proto == MG_IPPROTO_TCP)
		b[33] = 0x02;           /* SYN */
	if (proto == MG_IPPROTO_ICMP) { /* type and code in sp; dp is the echo identifier */
		b[22] = b[23] = 0;
		b[24] = (uint8_t)(dp >> 8);
		b[25] = (uint8_t)dp;
	}
	return len;
}

static void tuple_of(const uint8_t *b, struct mg_l3 *l3, struct mg_pkt_tuple *t)
{
	CHECK(mg_pkt_parse_ip(b, (uint32_t)(b[2] << 8 | b[3]), l3) == 0);
	CHECK(mg_pkt_tuple(b, l3, t) == 0);
}

static bool reply_passes(struct mg_flows *f, uint8_t proto, uint16_t sp, uint16_t dp, uint64_t now)
{
	uint8_t b[64];
	struct mg_l3 l3;
	struct mg_pkt_tuple t;
	build4(b, proto, PEER, LAN, sp, dp, 0);
	tuple_of(b, &l3, &t);
	return mg_flows_lookup(f, &t.key, now);
}

static void track(struct mg_flows *f, unsigned owner, uint8_t proto, uint16_t sp, uint16_t dp,
                  uint64_t now, struct mg_flow_counters *c)
{
	uint8_t b[64];
	struct mg_l3 l3;
	struct mg_pkt_tuple t;
	build4(b, proto, LAN, PEER, sp, dp, 0);
	tuple_of(b, &l3, &t);
	mg_flows_track(f, owner, &t, now, c);
}

static void replies(void)
{
	struct mg_flow_counters c = {0};
	char err[128];
	struct mg_flows *f = mg_flows_create(3, 1024, NULL, err, sizeof(err));
	CHECK(f != NULL, "%s", err);
	uint64_t now = 10 * NS;

	track(f, 0, MG_IPPROTO_TCP, 40000, 22, now, &c);
	CHECK(c.created == 1);
	CHECK(reply_passes(f, MG_IPPROTO_TCP, 22, 40000, now));
	CHECK(!reply_passes(f, MG_IPPROTO_TCP, 23, 40000, now));
	CHECK(!reply_passes(f, MG_IPPROTO_UDP, 22, 40000, now));
	/* A new connection from the peer to the LAN host's port is not a reply. */
	CHECK(!reply_passes(f, MG_IPPROTO_TCP, 40001, 22, now));

	/* A segment after the SYN opens nothing: a connection the peer opened, answered from
	 * here, is not tracked as this side's. */
	uint8_t seg[64];
	struct mg_l3 sl3;
	struct mg_pkt_tuple st;
	build4(seg, MG_IPPROTO_TCP, LAN, PEER, 22, 50000, 0);
	seg[33] = 0x12; /* SYN+ACK */
	tuple_of(seg, &sl3, &st);
	CHECK(!st.tcp_syn);
	mg_flows_track(f, 0, &st, now, &c);
	CHECK(c.created == 1);
	CHECK(!reply_passes(f, MG_IPPROTO_TCP, 50000, 22, now));

	/* The same flow seen by another owner is refreshed, not duplicated. */
	track(f, 1, MG_IPPROTO_TCP, 40000, 22, now + NS, &c);
	CHECK(c.created == 1);
	CHECK(mg_flows_count(f) == 1);

	/* ICMP echo: the reply with the identifier passes; an echo request with it does not. */
	track(f, 2, MG_IPPROTO_ICMP, 8 << 8, 0x1234, now, &c); /* type 8 code 0, id 0x1234 */
	CHECK(reply_passes(f, MG_IPPROTO_ICMP, 0, 0x1234, now));
	CHECK(!reply_passes(f, MG_IPPROTO_ICMP, 8 << 8, 0x1234, now));
	CHECK(!reply_passes(f, MG_IPPROTO_ICMP, 0, 0x1235, now));

	/* An ICMP error about the TCP flow, from a router on the way, quoting the SYN. */
	uint8_t b[128];
	const uint8_t router[4] = {100, 64, 0, 9};
	unsigned len = build4(b, MG_IPPROTO_ICMP, router, LAN, 3 << 8 | 1, 0, 28);
	build4(b + 28, MG_IPPROTO_TCP, LAN, PEER, 40000, 22, 0);
	b[28 + 3] = 48; /* the quote: the IP header and 8 bytes, as RFC 792 asks */
	struct mg_l3 l3;
	struct mg_pkt_tuple t;
	struct mg_flow_key k;
	CHECK(len == 56);
	tuple_of(b, &l3, &t);
	CHECK(t.icmp_error);
	CHECK(!mg_flows_lookup(f, &t.key, now));
	CHECK(mg_flow_key_of_icmp_error(b, &l3, &t, &k) == 0);
	CHECK(mg_flows_lookup(f, &k, now));
	/* The same error quoting another port is not about a tracked flow. */
	b[28 + 22 + 1] = 23;
	tuple_of(b, &l3, &t);
	CHECK(mg_flow_key_of_icmp_error(b, &l3, &t, &k) == 0);
	CHECK(!mg_flows_lookup(f, &k, now));

	/* Expiry: ICMP after 60 s idle, TCP after 7440 s; UDP 300 s. */
	track(f, 0, MG_IPPROTO_UDP, 5000, 53, now, &c);
	uint64_t later = now + (MG_FLOW_ICMP_TIMEOUT_S + 1) * NS;
	CHECK(!reply_passes(f, MG_IPPROTO_ICMP, 0, 0x1234, later));
	CHECK(reply_passes(f, MG_IPPROTO_UDP, 53, 5000, later));
	for (unsigned o = 0; o < 3; o++)
		mg_flows_expire(f, o, later, 2048, &c);
	CHECK(c.expired == 1, "expired %lu", (unsigned long)c.expired);
	/* The reply above refreshed the UDP flow. */
	later += (MG_FLOW_UDP_TIMEOUT_S + 2) * NS;
	CHECK(!reply_passes(f, MG_IPPROTO_UDP, 53, 5000, later));
	CHECK(reply_passes(f, MG_IPPROTO_TCP, 22, 40000, later));
	for (unsigned o = 0; o < 3; o++)
		mg_flows_expire(f, o, later, 2048, &c);
	CHECK(c.expired == 2);
	CHECK(mg_flows_count(f) == 1);
	mg_flows_free(f);
}

/* Lookups pass over owners whose table is empty: a flow only the last owner (the control
 * thread) holds is still found, one at a time and in bulk among misses. */
static void empty_owners(void)
{
	struct mg_flow_counters c = {0};
	char err[128];
	struct mg_flows *f = mg_flows_create(3, 1024, NULL, err, sizeof(err));
	CHECK(f != NULL, "%s", err);
	uint64_t now = 10 * NS;
	for (uint16_t i = 0; i < 8; i++)
		track(f, 2, MG_IPPROTO_TCP, (uint16_t)(30000 + 2 * i), 443, now, &c);
	CHECK(c.created == 8 && mg_flows_count(f) == 8);
	struct mg_pkt_tuple t[16];
	const struct mg_flow_key *keys[16];
	bool hit[16];
	for (uint16_t i = 0; i < 16; i++) {
		uint8_t b[64];
		struct mg_l3 l3;
		build4(b, MG_IPPROTO_TCP, PEER, LAN, 443, (uint16_t)(30000 + i), 0);
		tuple_of(b, &l3, &t[i]);
		keys[i] = &t[i].key;
	}
	mg_flows_lookup_bulk(f, keys, 16, now, hit);
	for (unsigned i = 0; i < 16; i++) {
		CHECK(hit[i] == (i % 2 == 0), "reply %u", i);
		CHECK(mg_flows_lookup(f, keys[i], now) == (i % 2 == 0), "reply %u", i);
	}
	/* Once the owner has expired them all, nothing is found. */
	mg_flows_expire(f, 2, now + 8000 * NS, 1024, &c);
	CHECK(mg_flows_count(f) == 0 && c.expired == 8);
	mg_flows_lookup_bulk(f, keys, 16, now + 8000 * NS, hit);
	for (unsigned i = 0; i < 16; i++)
		CHECK(!hit[i] && !mg_flows_lookup(f, keys[i], now + 8000 * NS), "reply %u", i);
	mg_flows_free(f);
}

static void bounded(void)
{
	struct mg_flow_counters c = {0};
	char err[128];
	struct mg_flows *f = mg_flows_create(1, 64, NULL, err, sizeof(err));
	CHECK(f != NULL, "%s", err);
	for (unsigned i = 0; i < 200; i++)
		track(f, 0, MG_IPPROTO_UDP, (uint16_t)(10000 + i), 53, NS, &c);
	CHECK(c.created + c.full == 200);
	CHECK(c.full >= 200 - 64 - 8, "full %lu", (unsigned long)c.full);
	CHECK(mg_flows_count(f) == c.created);
	/* Expired flows make room again. */
	mg_flows_expire(f, 0, 1000 * NS, 1000, &c);
	CHECK(mg_flows_count(f) == 0);
	track(f, 0, MG_IPPROTO_UDP, 9999, 53, 1000 * NS, &c);
	CHECK(reply_passes(f, MG_IPPROTO_UDP, 53, 9999, 1000 * NS));
	mg_flows_free(f);
	CHECK(mg_flows_create(1, 8, NULL, err, sizeof(err)) == NULL);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (eal_test_init(argv[0], 1, 256) != 0)
		return 1;
	replies();
	empty_owners();
	bounded();
	eal_test_cleanup();
	return check_done("flow");
}
