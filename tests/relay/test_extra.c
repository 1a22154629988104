// SPDX-License-Identifier: GPL-2.0-only
/*
 * The connections to peers' home relays outside the node's region (node/relay_extra.c), against
 * real relays: which relays are targets (another region's, not ours, not our region's), that a
 * packet sent on one reaches a node homed there and its answer comes back on it, that at most
 * MG_RELAY_EXTRA_MAX are opened, that one no peer wants is closed, that they outlive a failure
 * of the home relay, and that an idle one is
 * closed, stays closed while only wanted, and is dialled again by the next use. Times are the
 * caller's clock, so idleness needs no waiting.
 */
#include <poll.h>
#include <string.h>

#include <sodium.h>

#include "relay_extra.h"
#include "relay_fixture.h"

static struct mg_netmap_relay entry(const char *region, const char *name, uint16_t port)
{
	struct mg_netmap_relay r;

	memset(&r, 0, sizeof(r));
	snprintf(r.region, sizeof(r.region), "%s", region);
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.host, sizeof(r.host), "127.0.0.1");
	snprintf(r.server_name, sizeof(r.server_name), "localhost");
	r.port = port;
	return r;
}

/* Waits for every dial under way to end and finishes it. */
static void settle(struct mg_relay_extras *ex, int64_t now)
{
	uint64_t t0 = rf_now_ms();

	for (;;) {
		bool busy = false;

		for (size_t i = 0; i < MG_RELAY_EXTRA_MAX; i++) {
			if (mg_relay_dial_over(&ex->x[i].dial))
				mg_relay_extras_finish(ex, i, now);
			busy |= ex->x[i].dial.active;
		}
		if (!busy)
			return;
		CHECK(rf_now_ms() - t0 < 10000, "a dial did not end within 10 s");
		poll(NULL, 0, 10);
	}
}

static void want_only(struct mg_relay_extras *ex, const char *const *homes, size_t n, int64_t now)
{
	mg_relay_extras_begin(ex);
	for (size_t i = 0; i < n; i++)
		mg_relay_extras_want(ex, homes[i], now);
	mg_relay_extras_end(ex, now);
}

int main(int argc, char **argv)
{
	struct rf_relay west1, west2, east;
	uint8_t sk[32], pk[32], sk_b[32], pk_b[32], pkt[1420];
	struct mg_relay_msg m;
	char err[256];
	int64_t now = 1000;

	rf_init(argc, argv);
	CHECK(sodium_init() >= 0);
	rf_relay_start(&west1, "w1", 0, "region: west\n");
	rf_relay_start(&west2, "w2", 0, "region: west\n");
	rf_relay_start(&east, "e1", 0, "region: east\n");
	/* e2..e4 are the east relay again under other names: four targets of another region. */
	struct mg_netmap_relay map[] = {
	    entry("west", "w1", west1.port), entry("west", "w2", west2.port),
	    entry("east", "e1", east.port),  entry("east", "e2", east.port),
	    entry("east", "e3", east.port),  entry("east", "e4", east.port),
	};
	rf_keypair(sk, pk);
	rf_keypair(sk_b, pk_b);

	/* Our home relay: w1, the first of our region. */
	struct mg_relay_home *home = mg_relay_home_new(
	    &(struct mg_relay_home_config){
	        .region = "west", .ca_file = rf_ca_file(), .timeout_ms = 5000},
	    sk, err, sizeof(err));
	CHECK(home, "%s", err);
	mg_relay_home_set_map(home, map, sizeof(map) / sizeof(map[0]), now);
	mg_relay_home_tick(home, now);
	for (uint64_t t0 = rf_now_ms(); !mg_relay_home_dial_over(home); poll(NULL, 0, 10))
		CHECK(rf_now_ms() - t0 < 10000, "the home relay's dial did not end");
	CHECK(mg_relay_home_finish(home, now), "no home relay");
	CHECK(strcmp(mg_relay_home_relay(home)->name, "w1") == 0);

	struct mg_relay_extras ex;
	mg_relay_extras_init(&ex, home, sk, 0, 5000);
	CHECK(mg_relay_extras_target(&ex, "e1") &&
	          strcmp(mg_relay_extras_target(&ex, "e1")->name, "e1") == 0,
	      "another region's relay is a target");
	CHECK(!mg_relay_extras_target(&ex, "w1"), "our home relay is no target");
	CHECK(!mg_relay_extras_target(&ex, "w2"), "our region's relay is reached by its mesh");
	CHECK(!mg_relay_extras_target(&ex, "nowhere"), "a relay outside the map is no target");
	CHECK(!mg_relay_extras_target(&ex, ""), "no home relay, no target");
	CHECK(!mg_relay_extras_use(&ex, "w2", now), "nothing opened for our region");

	/* A peer homed on e1: opened, and a packet both ways on it. */
	const char *const e1[] = {"e1"};
	want_only(&ex, e1, 1, now);
	settle(&ex, now);
	CHECK(mg_relay_extras_connected(&ex) == 1, "one connection to e1");
	struct mg_relay_client *b = rf_client(&east, sk_b, err, sizeof(err));
	CHECK(b, "%s", err);
	struct mg_relay_client *x = mg_relay_extras_use(&ex, "e1", now);
	CHECK(x, "the connection to e1 is used for its peer");
	randombytes_buf(pkt, sizeof(pkt));
	pkt[0] = 4;
	CHECK(mg_relay_client_send(x, pk_b, pkt, sizeof(pkt)) == 0);
	CHECK(mg_relay_client_flush(x) >= 0);
	do
		CHECK(mg_relay_client_recv_wait(b, &m, 5000) == 1, "nothing reached e1's node");
	while (m.type != MG_RELAY_MSG_PACKET);
	CHECK(memcmp(m.key, pk, 32) == 0 && m.len == sizeof(pkt) &&
	      memcmp(m.data, pkt, sizeof(pkt)) == 0);
	CHECK(mg_relay_client_send(b, pk, pkt, 100) == 0);
	CHECK(mg_relay_client_flush(b) >= 0);
	do
		CHECK(mg_relay_client_recv_wait(x, &m, 5000) == 1, "no answer on the connection");
	while (m.type != MG_RELAY_MSG_PACKET);
	CHECK(memcmp(m.key, pk_b, 32) == 0 && m.len == 100);

	/* Four relays of another region wanted: three connections, no more. */
	const char *const four[] = {"e1", "e2", "e3", "e4"};
	want_only(&ex, four, 4, now);
	settle(&ex, now);
	CHECK(mg_relay_extras_connected(&ex) == MG_RELAY_EXTRA_MAX, "%zu connections, want %d",
	      mg_relay_extras_connected(&ex), MG_RELAY_EXTRA_MAX);
	CHECK(!mg_relay_extras_use(&ex, "e4", now), "the fourth goes through the home relay");

	/* Only e1 wanted any more: the others are closed. */
	want_only(&ex, e1, 1, now);
	CHECK(mg_relay_extras_connected(&ex) == 1 && mg_relay_extras_find(&ex, "e1"));

	/* Our home relay fails: e1's connection stays and still serves its peer while the home
	 * relay is dialled again. */
	mg_relay_home_down(home, now, "test");
	CHECK(!mg_relay_home_relay(home));
	want_only(&ex, e1, 1, now);
	CHECK(mg_relay_extras_connected(&ex) == 1, "the home relay's failure closed e1");
	CHECK(mg_relay_extras_use(&ex, "e1", now), "e1 unused while the home relay is down");
	mg_relay_home_tick(home, now);
	for (uint64_t t0 = rf_now_ms(); !mg_relay_home_dial_over(home); poll(NULL, 0, 10))
		CHECK(rf_now_ms() - t0 < 10000, "the home relay's dial did not end");
	CHECK(mg_relay_home_finish(home, now), "no home relay again");

	/* Idle: no packet for MG_RELAY_EXTRA_IDLE_S closes it even while wanted; wanting does not
	 * reopen it, using it does. */
	now += MG_RELAY_EXTRA_IDLE_S - 1;
	want_only(&ex, e1, 1, now);
	CHECK(mg_relay_extras_connected(&ex) == 1, "closed before its idle time");
	now += 2;
	want_only(&ex, e1, 1, now);
	CHECK(mg_relay_extras_connected(&ex) == 0 && ex.idle_closes == 1, "not closed when idle");
	want_only(&ex, e1, 1, now + 5);
	settle(&ex, now + 5);
	CHECK(mg_relay_extras_connected(&ex) == 0, "an idle connection reopened without a packet");
	CHECK(!mg_relay_extras_use(&ex, "e1", now + 6), "dialled, not yet connected");
	settle(&ex, now + 6);
	CHECK(mg_relay_extras_use(&ex, "e1", now + 6), "the next packet did not reopen it");

	mg_relay_client_close(b);
	mg_relay_extras_free(&ex);
	mg_relay_home_free(home);
	rf_relay_stop(&east);
	rf_relay_stop(&west2);
	rf_relay_stop(&west1);
	rf_cleanup();
	printf("ok: targets, a packet both ways, at most %d connections, unwanted and idle ones "
	       "closed, an idle one reopened by use\n",
	       MG_RELAY_EXTRA_MAX);
	return 0;
}
