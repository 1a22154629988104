// SPDX-License-Identifier: GPL-2.0-only
/*
 * The peer's send state (dataplane/peer.h) through its life: built, read back whole, and made
 * stale by every change of an input it caches. The keypair changes come from real handshakes
 * between two noise hosts with the gateway's upcall registered; the neighbour generation from
 * the real table. A build that read its inputs before a change must not be stored after it.
 * encap_decap shows the same changes taking effect on the next burst.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_malloc.h>

#include "check.h"
#include "dataplane.h"
#include "eal_test_env.h"
#include "index_table.h"
#include "neigh.h"
#include "noise.h"
#include "peer.h"
#include "test_rng.h"

struct host {
	uint64_t rng; /* first: the upcall context doubles as test_rng's state */
	struct wg_index_table *table;
	struct wg_noise_local local;
};

static struct host gw_host = {.rng = 1}, far_host = {.rng = 2};
static struct wg_noise_remote far_view; /* the far host's view of the gateway */
static struct mg_peer *peer;
static uint64_t clock_ns = 1000000000ull;

static uint64_t now_fn(void *ctx)
{
	(void)ctx;
	return clock_ns;
}

/* Strictly growing, as the initiation replay check wants, however fast the handshakes run. */
static void tai64n_fn(void *ctx, uint8_t out[WG_TIMESTAMP_LEN])
{
	(void)ctx;
	static uint64_t t = 1;
	memset(out, 0, WG_TIMESTAMP_LEN);
	for (unsigned i = 0; i < 8; i++)
		out[7 - i] = (uint8_t)((t >> (8 * i)) & 0xff);
	t++;
}

static struct wg_noise_remote *gw_by_pub(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	(void)ctx;
	return memcmp(pub, peer->remote.remote_static, WG_KEY_LEN) ? NULL : &peer->remote;
}

static struct wg_noise_remote *far_by_pub(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	(void)ctx;
	return memcmp(pub, far_view.remote_static, WG_KEY_LEN) ? NULL : &far_view;
}

static void host_init(struct host *h, struct wg_noise_remote *(*by_pub)(void *, const uint8_t *),
                      bool gateway)
{
	uint8_t priv[WG_KEY_LEN];
	struct wg_noise_upcalls up = {.ctx = h,
	                              .random = test_rng,
	                              .now = now_fn,
	                              .tai64n = tai64n_fn,
	                              .remote_by_pubkey = by_pub,
	                              .current_changed = gateway ? mg_peer_current_changed : NULL};
	h->table = wg_index_table_new(16);
	CHECK(h->table && wg_noise_local_init(&h->local, h->table, &up) == WG_OK, "local");
	test_rng(&h->rng, priv, sizeof(priv));
	CHECK(wg_noise_local_set_private(&h->local, priv) == WG_OK, "key");
}

/* One full handshake; ini's keypair is current at once, resp's waits in next. */
static void handshake(struct wg_noise_remote *ini, struct wg_noise_local *ini_local,
                      struct wg_noise_remote *resp, struct wg_noise_local *resp_local)
{
	struct wg_msg_initiation m1;
	struct wg_msg_response m2;
	struct wg_noise_remote *got = NULL;
	clock_ns += 10000000000ull; /* past the initiation rate limit */
	CHECK(wg_noise_create_initiation(ini, &m1) == WG_OK, "initiation");
	CHECK(wg_noise_consume_initiation(resp_local, &m1, &got) == WG_OK && got == resp,
	      "consume");
	CHECK(wg_noise_create_response(resp, &m2) == WG_OK, "response");
	CHECK(wg_noise_consume_response(ini_local, &m2, &got) == WG_OK && got == ini, "consume r");
	CHECK(wg_noise_begin_session(ini) == WG_OK && wg_noise_begin_session(resp) == WG_OK,
	      "sessions");
}

/* What a worker would build now: the current keypair and fixed other inputs. */
static void build(struct mg_peer_tx *st)
{
	memset(st, 0, sizeof(*st));
	st->kp = wg_noise_keypair_current(&peer->remote);
	st->rekey_after_time_ns = 120;
	st->reject_after_time_ns = 180;
	const struct rte_ether_addr mac = {{2, 0, 0, 0, 2, 1}}, own = {{2, 0, 0, 0, 1, 1}};
	const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
	struct mg_udp_tuple t = {
	    .family = 4, .ttl = 64, .src = src, .dst = dst, .sport = 51820, .dport = 51821};
	mg_outer_tmpl_init(&st->tmpl, &mac, &own, &t, true, MG_UDP_CKSUM_ZERO, 7);
}

static bool fresh(void)
{
	struct mg_peer_tx out;
	return mg_peer_tx_read(peer->tx, &out);
}

/* Builds and stores; true when the line now reads back as built. */
static bool rebuild(void)
{
	struct mg_peer_tx st, out;
	uint32_t begin = mg_peer_tx_begin(peer->tx);
	build(&st);
	mg_peer_tx_store(peer->tx, begin, &st);
	return mg_peer_tx_read(peer->tx, &out) && out.kp == st.kp &&
	       out.rekey_after_time_ns == 120 && out.reject_after_time_ns == 180 &&
	       !memcmp(&out.tmpl, &st.tmpl, sizeof(st.tmpl)) && !out.relayed;
}

static void test_keypairs(void)
{
	CHECK(!fresh(), "a new peer's state is stale");
	CHECK(rebuild() && fresh(), "built without a keypair");

	/* The gateway initiates: its new keypair is current at once. */
	handshake(&peer->remote, &gw_host.local, &far_view, &far_host.local);
	struct wg_noise_keypair *first = wg_noise_keypair_current(&peer->remote);
	CHECK(first && !fresh(), "a first keypair stales the state");
	CHECK(rebuild(), "rebuilt on the first keypair");

	/* A rekey the gateway starts: rotated at once, the old one becomes previous. */
	handshake(&peer->remote, &gw_host.local, &far_view, &far_host.local);
	struct wg_noise_keypair *second = wg_noise_keypair_current(&peer->remote);
	CHECK(second && second != first && !fresh(), "rotation stales the state");
	CHECK(rebuild(), "rebuilt on the rotated keypair");

	/* The far side initiates: nothing changes until its first packet confirms the keys. */
	handshake(&far_view, &far_host.local, &peer->remote, &gw_host.local);
	struct wg_noise_keypair *next = wg_noise_keypair_next(&peer->remote);
	CHECK(next && wg_noise_keypair_current(&peer->remote) == second && fresh(),
	      "an unconfirmed keypair leaves the state alone");
	CHECK(wg_noise_received_with_keypair(&peer->remote, next) && !fresh(),
	      "confirmation stales the state");
	CHECK(rebuild(), "rebuilt on the confirmed keypair");

	/* Expiring keeps the slot (the keypair's valid flag says it all): still fresh. */
	wg_noise_remote_expire_current(&peer->remote);
	CHECK(fresh(), "expiry is read from the keypair, not cached");
	wg_noise_remote_clear(&peer->remote);
	CHECK(!fresh() && wg_noise_keypair_current(&peer->remote) == NULL,
	      "zeroed keys stale the state");
}

static void test_race(void)
{
	struct mg_peer_tx st;
	CHECK(rebuild(), "built");
	uint32_t begin = mg_peer_tx_begin(peer->tx);
	build(&st);
	mg_peer_tx_invalidate(peer->tx); /* an input changed after the build read it */
	mg_peer_tx_store(peer->tx, begin, &st);
	CHECK(!fresh(), "a build older than a change is not stored");
	CHECK(rebuild(), "the next build is");
	begin = mg_peer_tx_begin(peer->tx);
	CHECK(rebuild(), "another build");
	mg_peer_tx_store(peer->tx, begin, &st);
	CHECK(fresh(), "a build that lost to another build leaves the winner");
}

static void test_endpoint(void)
{
	struct mg_sockaddr a = {.family = 6, .port = 1, .addr = {0xfd, [15] = 9}};
	CHECK(rebuild(), "built");
	mg_endpoint_write(&peer->endpoint, &a);
	CHECK(!fresh(), "an endpoint written by the control thread stales the state");
	CHECK(rebuild(), "rebuilt");
	a.port = 2;
	CHECK(mg_endpoint_try_write(&peer->endpoint, &a) && !fresh(),
	      "a roaming worker's write stales the state");
}

static void test_neigh_gen(void)
{
	struct mg_neigh *n = mg_neigh_create(16, SOCKET_ID_ANY);
	const uint8_t ip[4] = {10, 0, 0, 2};
	const struct rte_ether_addr mac = {{2, 0, 0, 0, 2, 1}}, mac2 = {{2, 0, 0, 0, 2, 2}};
	CHECK(n != NULL, "table");
	if (!n)
		return;
	uint32_t g0 = mg_neigh_gen(n);
	CHECK(mg_neigh_update(n, MG_PORT_MESH, 4, ip, &mac, clock_ns) == 0, "update");
	uint32_t g1 = mg_neigh_gen(n);
	CHECK(g1 != g0, "a new entry moves the generation");
	CHECK(mg_neigh_update(n, MG_PORT_MESH, 4, ip, &mac, clock_ns) == 0 && mg_neigh_gen(n) == g1,
	      "the same MAC again does not");
	CHECK(mg_neigh_update(n, MG_PORT_MESH, 4, ip, &mac2, clock_ns) == 0 &&
	          mg_neigh_gen(n) != g1,
	      "a new MAC does");
	g1 = mg_neigh_gen(n);
	CHECK(mg_neigh_delete(n, MG_PORT_MESH, 4, ip) && mg_neigh_gen(n) != g1, "a delete does");

	/* New mesh addresses move it too: next hops may have changed. */
	struct mg_gateway gw = {0};
	struct mg_dp_addrs addrs = {0}, *old = NULL;
	CHECK(mg_gateway_init(&gw, &gw.conf, &addrs) == 0, "gateway");
	gw.neigh = n;
	g1 = mg_neigh_gen(n);
	CHECK(mg_gateway_publish_addrs(&gw, &addrs, &old) == 0 && mg_neigh_gen(n) != g1,
	      "published addresses move the generation");
	free(old);
	mg_gateway_fini(&gw);
	mg_neigh_free(n);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (eal_test_init(argv[0], 1, 64) != 0)
		return 1;
	host_init(&gw_host, gw_by_pub, true);
	host_init(&far_host, far_by_pub, false);
	peer = rte_zmalloc("peer", sizeof(*peer), 64);
	struct mg_peer_tx *tx = rte_zmalloc("peer_tx", sizeof(*tx), 64);
	CHECK(peer != NULL && tx != NULL, "peer");
	if (!peer || !tx)
		return 1;
	peer->tx = tx; /* its slot's, as the gateway sets it */
	CHECK(wg_noise_remote_init(&peer->remote, &gw_host.local, far_host.local.static_public,
	                           peer) == WG_OK &&
	          wg_noise_remote_init(&far_view, &far_host.local, gw_host.local.static_public,
	                               NULL) == WG_OK,
	      "remotes");
	test_keypairs();
	test_race();
	test_endpoint();
	test_neigh_gen();
	wg_noise_remote_destroy(&peer->remote);
	wg_noise_remote_destroy(&far_view);
	rte_free(peer);
	rte_free(tx);
	wg_index_table_free(gw_host.table);
	wg_index_table_free(far_host.table);
	return check_done("peer_tx");
}
