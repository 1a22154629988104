// SPDX-License-Identifier: GPL-2.0-only
/*
 * The WireGuard handshake between two real locals (own index tables, two remotes each), driven
 * through the public API with injected clocks and RNG. mac1/mac2 bytes are outside this layer
 * (the cookie layer checks them before a message reaches consume), so tampering here covers the
 * type field and the Noise-authenticated region; the sender index is covered only by mac1.
 */
#include <endian.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "fake_host.h"
#include "ikpsk2.h"
#include "index_table.h"
#include "noise.h"
#include "tai64n.h"
#include "transport.h"

/* A host with a key from seed; a failed set-up is a failed check. */
static void node_init(struct fake_host *n, const char *name, uint64_t seed)
{
	enum wg_result r = fake_host_init(n, name, seed);
	CHECK(r == WG_OK, "%s: %s", name, wg_result_str(r));
	CHECK(n->table != NULL, "index table for %s", name);
	CHECK(!wg_is_zero(n->local.static_public, WG_KEY_LEN), "%s has an identity", name);
}

static struct wg_noise_remote *node_add(struct fake_host *n, const uint8_t pub[WG_KEY_LEN])
{
	struct wg_noise_remote *remote;
	enum wg_result r = fake_host_add(n, pub, &remote);
	CHECK(r == WG_OK, "remote on %s: %s", n->name, wg_result_str(r));
	return remote;
}

static void node_destroy(struct fake_host *n)
{
	for (size_t i = 0; i < n->n_remotes; i++) {
		wg_noise_remote_destroy(&n->remotes[i]);
		wg_cookie_maker_clear(&n->makers[i]);
	}
	n->n_remotes = 0;
	CHECK(wg_index_table_count(n->table) == 0, "%s: index table empty after destroy", n->name);
	fake_host_destroy(n);
}

/* Time passes on both: enough for the timestamp to grow and the flood window to pass. */
static void tick(struct fake_host *a, struct fake_host *b, uint64_t ns)
{
	fake_host_tick(a, ns);
	fake_host_tick(b, ns);
}

static void random_pub(uint64_t seed, uint8_t pub[WG_KEY_LEN])
{
	uint8_t priv[WG_KEY_LEN];
	test_rng(&seed, priv, sizeof(priv));
	wg_x25519_clamp(priv);
	CHECK(wg_x25519_public(pub, priv) == WG_OK, "%s", __func__);
	wg_memzero(priv, sizeof(priv));
}

/* A full handshake, ini → res, through both messages and both begin_session calls. */
static bool handshake(struct fake_host *ini, struct wg_noise_remote *ini_peer,
                      struct fake_host *res, struct wg_noise_remote *res_peer)
{
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_noise_remote *got = NULL;
	enum wg_result r;

	tick(ini, res, WG_NSEC_PER_SEC);
	r = wg_noise_create_initiation(ini_peer, &init);
	CHECK(r == WG_OK, "create_initiation: %s", wg_result_str(r));
	r = wg_noise_consume_initiation(&res->local, &init, &got);
	CHECK(r == WG_OK && got == res_peer, "consume_initiation: %s", wg_result_str(r));
	if (r != WG_OK)
		return false;
	r = wg_noise_create_response(got, &resp);
	CHECK(r == WG_OK, "create_response: %s", wg_result_str(r));
	r = wg_noise_consume_response(&ini->local, &resp, &got);
	CHECK(r == WG_OK && got == ini_peer, "consume_response: %s", wg_result_str(r));
	if (r != WG_OK)
		return false;
	CHECK(wg_noise_begin_session(ini_peer) == WG_OK, "%s", __func__);
	CHECK(wg_noise_begin_session(res_peer) == WG_OK, "%s", __func__);
	return true;
}

/* Seals under the sender's current keypair and opens at the receiver. */
static enum wg_result send_packet(struct fake_host *from, struct wg_noise_remote *from_peer,
                                  struct fake_host *to, struct wg_noise_keypair **kp_out)
{
	static const uint8_t payload[] = {0x45, 0, 0,  20, 1, 2, 3,  4, 64, 17,
	                                  0,    0, 10, 0,  0, 1, 10, 0, 0,  2};
	uint8_t msg[128], plain[128];
	size_t msg_len = 0, plain_len = 0;
	struct wg_noise_keypair *kp = wg_noise_keypair_current(from_peer);
	enum wg_result r = wg_transport_seal(kp, payload, sizeof(payload), 1420, msg, sizeof(msg),
	                                     &msg_len, NULL, from->now_ns);
	if (r != WG_OK)
		return r;
	r = wg_transport_open(&to->local, msg, msg_len, plain, &plain_len, kp_out, NULL,
	                      to->now_ns);
	if (r == WG_OK)
		CHECK(plain_len == 32 && memcmp(plain, payload, sizeof(payload)) == 0, "%s",
		      __func__);
	return r;
}

/* ---- tests ---- */

static void test_basic(bool with_psk)
{
	struct fake_host a, b;
	uint8_t other[WG_KEY_LEN], psk[WG_KEY_LEN];
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_noise_remote *got = NULL;
	struct wg_noise_keypair *kp = NULL;

	node_init(&a, "a", 1);
	node_init(&b, "b", 2);
	random_pub(100, other);
	node_add(&a, other); /* b second, so a finds it by key, not by slot */
	struct wg_noise_remote *ab = node_add(&a, b.local.static_public);
	struct wg_noise_remote *ba = node_add(&b, a.local.static_public);
	random_pub(101, other);
	node_add(&b, other);
	if (with_psk) {
		test_rng(&(uint64_t){7}, psk, sizeof(psk));
		wg_noise_remote_set_psk(ab, psk);
		wg_noise_remote_set_psk(ba, psk);
	}

	tick(&a, &b, WG_NSEC_PER_SEC);
	CHECK(wg_noise_create_initiation(ab, &init) == WG_OK, "%s", __func__);
	CHECK(sizeof(init) == 148 && sizeof(resp) == 92, "%s", __func__);
	CHECK(le32toh(init.header.type) == WG_MSG_HANDSHAKE_INITIATION, "%s", __func__);
	CHECK(le32toh(init.sender_index) == ab->handshake.local_index, "%s", __func__);
	CHECK(wg_index_table_lookup(a.table, ab->handshake.local_index, WG_INDEX_HANDSHAKE) == ab,
	      "%s", __func__);
	CHECK(wg_is_zero(&init.macs, sizeof(init.macs)), "noise leaves the macs alone");
	CHECK(wg_noise_remote_handshake_state(ab) == WG_NOISE_HANDSHAKE_CREATED_INITIATION, "%s",
	      __func__);
	CHECK(wg_transport_classify((const uint8_t *)&init, sizeof(init)) ==
	          WG_MSG_HANDSHAKE_INITIATION,
	      "%s", __func__);

	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_OK && got == ba, "%s",
	      __func__);
	CHECK(wg_noise_remote_handshake_state(ba) == WG_NOISE_HANDSHAKE_CONSUMED_INITIATION, "%s",
	      __func__);
	CHECK(ba->handshake.remote_index == ab->handshake.local_index, "%s", __func__);
	CHECK(wg_noise_create_response(ba, &resp) == WG_OK, "%s", __func__);
	CHECK(le32toh(resp.header.type) == WG_MSG_HANDSHAKE_RESPONSE, "%s", __func__);
	CHECK(le32toh(resp.receiver_index) == le32toh(init.sender_index), "%s", __func__);
	CHECK(le32toh(resp.sender_index) == ba->handshake.local_index, "%s", __func__);
	CHECK(wg_is_zero(&resp.macs, sizeof(resp.macs)), "%s", __func__);
	CHECK(wg_transport_classify((const uint8_t *)&resp, sizeof(resp)) ==
	          WG_MSG_HANDSHAKE_RESPONSE,
	      "%s", __func__);
	CHECK(wg_noise_consume_response(&a.local, &resp, &got) == WG_OK && got == ab, "%s",
	      __func__);
	CHECK(wg_noise_remote_handshake_state(ab) == WG_NOISE_HANDSHAKE_CONSUMED_RESPONSE, "%s",
	      __func__);
	CHECK(memcmp(ab->handshake.hash, ba->handshake.hash, WG_HASH_LEN) == 0, "same hash");
	CHECK(wg_noise_begin_session(ab) == WG_OK, "%s", __func__);
	CHECK(wg_noise_begin_session(ba) == WG_OK, "%s", __func__);
	CHECK(wg_noise_remote_handshake_state(ab) == WG_NOISE_HANDSHAKE_ZEROED, "%s", __func__);
	CHECK(wg_noise_remote_handshake_state(ba) == WG_NOISE_HANDSHAKE_ZEROED, "%s", __func__);

	struct wg_noise_keypair *ka = wg_noise_keypair_current(ab);
	struct wg_noise_keypair *kb = wg_noise_keypair_next(ba);
	CHECK(ka && kb && ka->is_initiator && !kb->is_initiator, "%s", __func__);
	if (!ka || !kb)
		goto out;
	CHECK(memcmp(ka->send_key, kb->recv_key, WG_KEY_LEN) == 0,
	      "initiator send == responder recv");
	CHECK(memcmp(ka->recv_key, kb->send_key, WG_KEY_LEN) == 0,
	      "initiator recv == responder send");
	CHECK(memcmp(ka->send_key, ka->recv_key, WG_KEY_LEN) != 0, "%s", __func__);
	CHECK(ka->remote_index == kb->local_index && kb->remote_index == ka->local_index, "%s",
	      __func__);
	CHECK(ka->local_index == le32toh(init.sender_index), "%s", __func__);
	CHECK(kb->local_index == le32toh(resp.sender_index), "%s", __func__);
	CHECK(wg_index_table_lookup(a.table, ka->local_index, WG_INDEX_KEYPAIR) == ka, "%s",
	      __func__);
	CHECK(wg_index_table_lookup(a.table, ka->local_index, WG_INDEX_HANDSHAKE) == NULL, "%s",
	      __func__);
	CHECK(wg_index_table_lookup(b.table, kb->local_index, WG_INDEX_KEYPAIR) == kb, "%s",
	      __func__);
	CHECK(wg_index_table_count(a.table) == 1 && wg_index_table_count(b.table) == 1, "%s",
	      __func__);
	CHECK(ka->birth_ns == a.now_ns && kb->birth_ns == b.now_ns, "%s", __func__);
	CHECK(ka->remote == ab && kb->remote == ba, "%s", __func__);

	/* The responder may not send until the initiator's first packet confirms the keys. */
	CHECK(wg_noise_keypair_current(ba) == NULL, "%s", __func__);
	CHECK(send_packet(&b, ba, &a, &kp) == WG_ERR_NO_KEYPAIR, "%s", __func__);
	CHECK(wg_noise_keypair_awaits_confirmation(kb), "%s", __func__);
	CHECK(!wg_noise_keypair_awaits_confirmation(ka), "%s", __func__);
	CHECK(!wg_noise_received_with_keypair(ba, NULL), "%s", __func__);
	CHECK(send_packet(&a, ab, &b, &kp) == WG_OK && kp == kb, "%s", __func__);
	CHECK(wg_noise_received_with_keypair(ba, kp), "%s", __func__);
	CHECK(!wg_noise_received_with_keypair(ba, kp), "only the first packet rotates");
	CHECK(wg_noise_keypair_current(ba) == kb && wg_noise_keypair_next(ba) == NULL, "%s",
	      __func__);
	CHECK(!wg_noise_keypair_awaits_confirmation(kb), "%s", __func__);
	CHECK(send_packet(&b, ba, &a, &kp) == WG_OK && kp == ka, "%s", __func__);
	CHECK(!wg_noise_received_with_keypair(ab, kp), "initiator's keypair needs no confirmation");

	/* The other direction: b initiates; each side ends with two keypairs. */
	CHECK(handshake(&b, ba, &a, ab), "%s", __func__);
	CHECK(wg_noise_keypair_current(ba) != kb && wg_noise_keypair_previous(ba) == kb, "%s",
	      __func__);
	CHECK(wg_noise_keypair_next(ab) != NULL && wg_noise_keypair_current(ab) == ka, "%s",
	      __func__);
	CHECK(send_packet(&a, ab, &b, &kp) == WG_OK && kp == kb, "a still sends under the old key");
	CHECK(send_packet(&b, ba, &a, &kp) == WG_OK && kp == wg_noise_keypair_next(ab), "%s",
	      __func__);
	CHECK(wg_noise_received_with_keypair(ab, kp), "%s", __func__);
	CHECK(wg_noise_keypair_current(ab) == kp && wg_noise_keypair_previous(ab) == ka, "%s",
	      __func__);
	CHECK(a.releases == 0 && b.releases == 0, "%s", __func__);
	CHECK(wg_index_table_count(a.table) == 2 && wg_index_table_count(b.table) == 2, "%s",
	      __func__);
out:
	node_destroy(&a);
	node_destroy(&b);
	CHECK(a.releases == 2 && b.releases == 2, "destroy releases both keypairs (%u, %u)",
	      a.releases, b.releases);
	CHECK(!a.release_index_still_mapped && !b.release_index_still_mapped, "%s", __func__);
}

static void test_wrong_psk(void)
{
	struct fake_host a, b;
	uint8_t psk[WG_KEY_LEN];
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_noise_remote *got;

	node_init(&a, "a", 3);
	node_init(&b, "b", 4);
	struct wg_noise_remote *ab = node_add(&a, b.local.static_public);
	struct wg_noise_remote *ba = node_add(&b, a.local.static_public);
	memset(psk, 0x11, sizeof(psk));
	wg_noise_remote_set_psk(ab, psk);
	psk[31] ^= 1;
	wg_noise_remote_set_psk(ba, psk);

	tick(&a, &b, WG_NSEC_PER_SEC);
	CHECK(wg_noise_create_initiation(ab, &init) == WG_OK, "%s", __func__);
	/* The psk enters only in message 2, so the responder cannot tell yet. */
	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_OK, "%s", __func__);
	CHECK(wg_noise_create_response(ba, &resp) == WG_OK, "%s", __func__);
	CHECK(wg_noise_consume_response(&a.local, &resp, &got) == WG_ERR_AUTH, "%s", __func__);
	CHECK(wg_noise_remote_handshake_state(ab) == WG_NOISE_HANDSHAKE_CREATED_INITIATION, "%s",
	      __func__);

	/* psk on one side only also fails. */
	wg_noise_remote_set_psk(ba, NULL);
	tick(&a, &b, WG_NSEC_PER_SEC);
	CHECK(wg_noise_create_initiation(ab, &init) == WG_OK, "%s", __func__);
	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_OK, "%s", __func__);
	CHECK(wg_noise_create_response(ba, &resp) == WG_OK, "%s", __func__);
	CHECK(wg_noise_consume_response(&a.local, &resp, &got) == WG_ERR_AUTH, "%s", __func__);
	CHECK(wg_noise_keypair_current(ab) == NULL, "%s", __func__);
	node_destroy(&a);
	node_destroy(&b);
}

static void test_tamper(void)
{
	struct fake_host a, b;
	struct wg_msg_initiation init, bad_init;
	struct wg_msg_response resp, bad_resp;
	struct wg_noise_remote *got;
	struct wg_noise_remote snap;
	enum wg_result r;

	node_init(&a, "a", 5);
	node_init(&b, "b", 6);
	struct wg_noise_remote *ab = node_add(&a, b.local.static_public);
	struct wg_noise_remote *ba = node_add(&b, a.local.static_public);
	/* Give b an earlier session so "unchanged" covers the timestamp and flood fields too. */
	CHECK(handshake(&a, ab, &b, ba), "%s", __func__);

	tick(&a, &b, WG_NSEC_PER_SEC);
	CHECK(wg_noise_create_initiation(ab, &init) == WG_OK, "%s", __func__);
	uint32_t b_count = wg_index_table_count(b.table);
	memcpy(&snap, ba, sizeof(snap));
	for (size_t i = 0; i < offsetof(struct wg_msg_initiation, macs); i++) {
		if (i >= offsetof(struct wg_msg_initiation, sender_index) &&
		    i < offsetof(struct wg_msg_initiation, unencrypted_ephemeral))
			continue; /* authenticated by mac1 only */
		for (int bit = 0; bit < 8; bit += 7) {
			memcpy(&bad_init, &init, sizeof(init));
			((uint8_t *)&bad_init)[i] ^= (uint8_t)(1u << bit);
			r = wg_noise_consume_initiation(&b.local, &bad_init, &got);
			CHECK(r != WG_OK && got == NULL, "initiation byte %zu bit %d: %s", i, bit,
			      wg_result_str(r));
			if (i < sizeof(struct wg_msg_header))
				CHECK(r == WG_ERR_INVALID, "type byte %zu: %s", i,
				      wg_result_str(r));
			else
				CHECK(r == WG_ERR_AUTH || r == WG_ERR_LOW_ORDER, "byte %zu: %s", i,
				      wg_result_str(r));
			CHECK(memcmp(&snap, ba, sizeof(snap)) == 0, "responder changed (byte %zu)",
			      i);
		}
	}
	CHECK(wg_index_table_count(b.table) == b_count, "%s", __func__);
	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_OK && got == ba,
	      "the untouched initiation still works");
	CHECK(wg_noise_create_response(ba, &resp) == WG_OK, "%s", __func__);

	memcpy(&snap, ab, sizeof(snap));
	for (size_t i = 0; i < offsetof(struct wg_msg_response, macs); i++) {
		if (i >= offsetof(struct wg_msg_response, sender_index) &&
		    i < offsetof(struct wg_msg_response, receiver_index))
			continue; /* authenticated by mac1 only */
		memcpy(&bad_resp, &resp, sizeof(resp));
		((uint8_t *)&bad_resp)[i] ^= 0x80;
		r = wg_noise_consume_response(&a.local, &bad_resp, &got);
		CHECK(r != WG_OK && got == NULL, "response byte %zu: %s", i, wg_result_str(r));
		if (i < sizeof(struct wg_msg_header))
			CHECK(r == WG_ERR_INVALID, "type byte %zu: %s", i, wg_result_str(r));
		else if (i < offsetof(struct wg_msg_response, unencrypted_ephemeral))
			CHECK(r == WG_ERR_UNKNOWN_PEER, "receiver byte %zu: %s", i,
			      wg_result_str(r));
		else
			CHECK(r == WG_ERR_AUTH || r == WG_ERR_LOW_ORDER, "byte %zu: %s", i,
			      wg_result_str(r));
		CHECK(memcmp(&snap, ab, sizeof(snap)) == 0, "initiator changed (byte %zu)", i);
	}
	CHECK(wg_noise_consume_response(&a.local, &resp, &got) == WG_OK && got == ab, "%s",
	      __func__);
	/* Once consumed, the same response names a keypair index, not a handshake. */
	CHECK(wg_noise_begin_session(ab) == WG_OK, "%s", __func__);
	CHECK(wg_noise_consume_response(&a.local, &resp, &got) == WG_ERR_UNKNOWN_PEER, "%s",
	      __func__);
	node_destroy(&a);
	node_destroy(&b);
}

static void test_replay_and_flood(void)
{
	struct fake_host a, b;
	struct wg_msg_initiation init, init2, init3;
	struct wg_msg_response resp;
	struct wg_noise_remote *got;
	struct wg_noise_remote snap;

	node_init(&a, "a", 7);
	node_init(&b, "b", 8);
	struct wg_noise_remote *ab = node_add(&a, b.local.static_public);
	struct wg_noise_remote *ba = node_add(&b, a.local.static_public);

	/* The responder moves on to CREATED_RESPONSE, so a refused message that touched the
	 * state at all would show in the snapshot. */
	tick(&a, &b, WG_NSEC_PER_SEC);
	CHECK(wg_noise_create_initiation(ab, &init) == WG_OK, "first initiation");
	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_OK, "first consume");
	CHECK(wg_noise_create_response(ba, &resp) == WG_OK, "first response");
	tick(&a, &b, 10 * WG_NSEC_PER_SEC);
	memcpy(&snap, ba, sizeof(snap));
	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_ERR_REPLAY && !got,
	      "replayed initiation");
	CHECK(memcmp(&snap, ba, sizeof(snap)) == 0, "a refused replay changes nothing");

	/* A newer timestamp 10 s later is fine; another one 10 ms after that is a flood. */
	a.wall_ns += WG_NSEC_PER_SEC;
	CHECK(wg_noise_create_initiation(ab, &init2) == WG_OK, "second initiation");
	CHECK(wg_noise_consume_initiation(&b.local, &init2, &got) == WG_OK, "10 s later is fine");
	CHECK(wg_noise_create_response(ba, &resp) == WG_OK, "second response");
	a.wall_ns += WG_NSEC_PER_SEC;
	CHECK(wg_noise_create_initiation(ab, &init3) == WG_OK, "third initiation");
	b.now_ns += 10 * WG_NSEC_PER_MSEC;
	memcpy(&snap, ba, sizeof(snap));
	CHECK(wg_noise_consume_initiation(&b.local, &init3, &got) == WG_ERR_FLOOD && !got, "10 ms");
	CHECK(memcmp(&snap, ba, sizeof(snap)) == 0, "a refused flood changes nothing");
	b.now_ns += 9 * WG_NSEC_PER_MSEC;
	CHECK(wg_noise_consume_initiation(&b.local, &init3, &got) == WG_ERR_FLOOD, "19 ms");
	b.now_ns += 1 * WG_NSEC_PER_MSEC;
	CHECK(wg_noise_consume_initiation(&b.local, &init3, &got) == WG_OK && got == ba, "20 ms");
	CHECK(wg_noise_remote_handshake_state(ba) == WG_NOISE_HANDSHAKE_CONSUMED_INITIATION,
	      "accepted after the interval");
	/* The earlier accepted initiation is stale now, however long we wait. */
	tick(&a, &b, 60 * WG_NSEC_PER_SEC);
	CHECK(wg_noise_consume_initiation(&b.local, &init2, &got) == WG_ERR_REPLAY, "stale");
	node_destroy(&a);
	node_destroy(&b);
}

static const char *const low_order_points[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

/*
 * An initiation built with the generic IKpsk2 core and the WireGuard prologue: the same bytes
 * a WireGuard peer would send. static_pub_claim replaces the static key the message carries.
 */
static void generic_initiation(const uint8_t init_priv[WG_KEY_LEN],
                               const uint8_t static_pub_claim[WG_KEY_LEN],
                               const uint8_t resp_pub[WG_KEY_LEN], uint64_t seed, uint64_t unix_sec,
                               struct wg_msg_initiation *out)
{
	struct ikpsk2 hs;
	uint8_t e[WG_KEY_LEN], ts[WG_TIMESTAMP_LEN], body[256];
	size_t len = 0;
	memset(out, 0, sizeof(*out));
	test_rng(&seed, e, sizeof(e));
	wg_tai64n_encode(ts, unix_sec, 0);
	CHECK(ikpsk2_init(&hs, true, (const uint8_t *)WG_NOISE_IDENTIFIER,
	                  strlen(WG_NOISE_IDENTIFIER), init_priv, resp_pub, NULL) == WG_OK,
	      "%s", __func__);
	if (static_pub_claim)
		memcpy(hs.s_pub, static_pub_claim, WG_KEY_LEN);
	CHECK(ikpsk2_write_msg1(&hs, e, ts, sizeof(ts), body, sizeof(body), &len) == WG_OK, "%s",
	      __func__);
	CHECK(len == 108, "%s", __func__);
	out->header.type = htole32(WG_MSG_HANDSHAKE_INITIATION);
	out->sender_index = htole32(0x01020304);
	memcpy(out->unencrypted_ephemeral, body, len);
	ikpsk2_destroy(&hs);
}

static void test_low_order_and_unknown(void)
{
	struct fake_host a, b, e;
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_noise_remote *got;
	uint8_t lo[WG_KEY_LEN];
	enum wg_result r;

	node_init(&a, "a", 9);
	node_init(&b, "b", 10);
	node_init(&e, "e", 11);
	struct wg_noise_remote *ab = node_add(&a, b.local.static_public);
	struct wg_noise_remote *ba = node_add(&b, a.local.static_public);
	struct wg_noise_remote *eb = node_add(&e, b.local.static_public);

	/* The generic core with WireGuard's prologue speaks the same protocol. */
	tick(&a, &b, WG_NSEC_PER_SEC);
	generic_initiation(a.priv, NULL, b.local.static_public, 50, a.wall_ns / WG_NSEC_PER_SEC,
	                   &init);
	r = wg_noise_consume_initiation(&b.local, &init, &got);
	CHECK(r == WG_OK && got == ba, "generic-core initiation: %s", wg_result_str(r));

	/* e is not one of b's peers. */
	tick(&e, &b, WG_NSEC_PER_SEC);
	CHECK(wg_noise_create_initiation(eb, &init) == WG_OK, "%s", __func__);
	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_ERR_UNKNOWN_PEER && !got,
	      "%s", __func__);

	for (size_t i = 0; i < sizeof(low_order_points) / sizeof(low_order_points[0]); i++) {
		struct wg_noise_remote lr;
		CHECK(hex_decode_fixed(low_order_points[i], lo, sizeof(lo)), "%s", __func__);
		CHECK(wg_noise_remote_init(&lr, &a.local, lo, NULL) == WG_ERR_LOW_ORDER,
		      "low-order point %zu", i);
		CHECK(wg_noise_create_initiation(&lr, &init) == WG_ERR_LOW_ORDER, "%s", __func__);
		CHECK(wg_noise_remote_handshake_state(&lr) == WG_NOISE_HANDSHAKE_ZEROED, "%s",
		      __func__);
		wg_noise_remote_destroy(&lr);

		/* A low-order ephemeral in a real initiation. */
		tick(&a, &b, WG_NSEC_PER_SEC);
		CHECK(wg_noise_create_initiation(ab, &init) == WG_OK, "%s", __func__);
		memcpy(init.unencrypted_ephemeral, lo, WG_KEY_LEN);
		CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_ERR_LOW_ORDER, "%s",
		      __func__);
	}

	/* A peer b knows under a low-order key: the initiation claiming it fails at "ss". */
	CHECK(hex_decode_fixed(low_order_points[2], lo, sizeof(lo)), "%s", __func__);
	CHECK(fake_host_add(&b, lo, NULL) == WG_ERR_LOW_ORDER, "%s", __func__);
	generic_initiation(e.priv, lo, b.local.static_public, 51, 1900000000ULL, &init);
	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_ERR_LOW_ORDER && !got, "%s",
	      __func__);

	/* A low-order ephemeral in a response leaves the initiator waiting. */
	tick(&a, &b, WG_NSEC_PER_SEC);
	CHECK(wg_noise_create_initiation(ab, &init) == WG_OK, "%s", __func__);
	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_OK, "%s", __func__);
	CHECK(wg_noise_create_response(ba, &resp) == WG_OK, "%s", __func__);
	memcpy(resp.unencrypted_ephemeral, lo, WG_KEY_LEN);
	CHECK(wg_noise_consume_response(&a.local, &resp, &got) == WG_ERR_LOW_ORDER, "%s", __func__);
	CHECK(wg_noise_remote_handshake_state(ab) == WG_NOISE_HANDSHAKE_CREATED_INITIATION, "%s",
	      __func__);
	node_destroy(&a);
	node_destroy(&b);
	node_destroy(&e);
}

static void test_states(void)
{
	struct fake_host a, b;
	struct wg_msg_initiation ia, ib;
	struct wg_msg_response resp;
	struct wg_noise_remote *got;

	node_init(&a, "a", 12);
	node_init(&b, "b", 13);
	struct wg_noise_remote *ab = node_add(&a, b.local.static_public);
	struct wg_noise_remote *ba = node_add(&b, a.local.static_public);

	CHECK(wg_noise_create_response(ab, &resp) == WG_ERR_STATE, "%s", __func__);
	CHECK(wg_noise_begin_session(ab) == WG_ERR_STATE, "%s", __func__);
	tick(&a, &b, WG_NSEC_PER_SEC);
	CHECK(wg_noise_create_initiation(ab, &ia) == WG_OK, "%s", __func__);
	CHECK(wg_noise_begin_session(ab) == WG_ERR_STATE, "no session from an initiation alone");
	CHECK(wg_noise_create_response(ab, &resp) == WG_ERR_STATE, "%s", __func__);

	/* Crossing initiations: a consumes b's, so its own is no longer CREATED_INITIATION. */
	CHECK(wg_noise_create_initiation(ba, &ib) == WG_OK, "%s", __func__);
	CHECK(wg_noise_consume_initiation(&b.local, &ia, &got) == WG_OK, "%s", __func__);
	CHECK(wg_noise_create_response(ba, &resp) == WG_OK, "%s", __func__);
	CHECK(wg_noise_consume_initiation(&a.local, &ib, &got) == WG_OK && got == ab, "%s",
	      __func__);
	CHECK(wg_noise_consume_response(&a.local, &resp, &got) == WG_ERR_STATE, "%s", __func__);
	CHECK(wg_noise_remote_handshake_state(ab) == WG_NOISE_HANDSHAKE_CONSUMED_INITIATION, "%s",
	      __func__);

	/* A second initiation replaces the first index; the old one is gone from the table. */
	tick(&a, &b, WG_NSEC_PER_SEC);
	uint32_t old_index = ab->handshake.local_index;
	CHECK(wg_noise_create_initiation(ab, &ia) == WG_OK, "%s", __func__);
	CHECK(wg_index_table_lookup(a.table, old_index, WG_INDEX_HANDSHAKE) == NULL, "%s",
	      __func__);
	CHECK(wg_index_table_lookup(a.table, ab->handshake.local_index, WG_INDEX_HANDSHAKE) == ab,
	      "%s", __func__);
	CHECK(wg_index_table_count(a.table) == 1, "%s", __func__);

	/* ZERO_KEYS: clear drops the handshake and its index. */
	wg_noise_remote_clear(ab);
	CHECK(wg_noise_remote_handshake_state(ab) == WG_NOISE_HANDSHAKE_ZEROED, "%s", __func__);
	CHECK(wg_index_table_count(a.table) == 0, "%s", __func__);
	CHECK(wg_noise_consume_response(&a.local, &resp, &got) == WG_ERR_UNKNOWN_PEER, "%s",
	      __func__);

	/* No identity: nothing works. */
	CHECK(wg_noise_local_set_private(&a.local, NULL) == WG_OK, "%s", __func__);
	CHECK(wg_noise_create_initiation(ab, &ia) == WG_ERR_STATE, "%s", __func__);
	CHECK(wg_noise_consume_initiation(&a.local, &ib, &got) == WG_ERR_STATE, "%s", __func__);
	node_destroy(&a);
	node_destroy(&b);
}

static void test_rotation(void)
{
	struct fake_host a, b;
	struct wg_noise_keypair *kp, *a_keys[4], *b_keys[4];

	node_init(&a, "a", 14);
	node_init(&b, "b", 15);
	struct wg_noise_remote *ab = node_add(&a, b.local.static_public);
	struct wg_noise_remote *ba = node_add(&b, a.local.static_public);

	for (int i = 0; i < 4; i++) {
		CHECK(handshake(&a, ab, &b, ba), "handshake %d", i);
		a_keys[i] = wg_noise_keypair_current(ab);
		b_keys[i] = wg_noise_keypair_next(ba);
		CHECK(wg_noise_keypair_previous(ab) == (i ? a_keys[i - 1] : NULL), "a previous %d",
		      i);
		CHECK(wg_noise_keypair_current(ba) == (i ? b_keys[i - 1] : NULL), "b current %d",
		      i);
		CHECK(wg_noise_keypair_previous(ba) == NULL, "responder drops previous at %d", i);
		if (i > 0) {
			/* Until confirmation b sends under the old key; a still opens it. */
			CHECK(send_packet(&b, ba, &a, &kp) == WG_OK && kp == a_keys[i - 1], "%s",
			      __func__);
		}
		CHECK(send_packet(&a, ab, &b, &kp) == WG_OK && kp == b_keys[i], "%s", __func__);
		CHECK(wg_noise_received_with_keypair(ba, kp), "%s", __func__);
		CHECK(wg_noise_keypair_previous(ba) == (i ? b_keys[i - 1] : NULL), "%s", __func__);
		CHECK(send_packet(&b, ba, &a, &kp) == WG_OK && kp == a_keys[i], "%s", __func__);
		unsigned expect = i >= 2 ? (unsigned)i - 1 : 0;
		CHECK(a.releases == expect && b.releases == expect, "releases after %d: %u %u", i,
		      a.releases, b.releases);
		CHECK(wg_index_table_count(a.table) == (i ? 2u : 1u), "%s", __func__);
		CHECK(wg_index_table_count(b.table) == (i ? 2u : 1u), "%s", __func__);
	}
	CHECK(!a.release_index_still_mapped && !b.release_index_still_mapped, "%s", __func__);

	/* A responder's unconfirmed next is replaced by a newer handshake and released. */
	CHECK(handshake(&a, ab, &b, ba), "%s", __func__);
	struct wg_noise_keypair *unconfirmed = wg_noise_keypair_next(ba);
	unsigned before = b.releases;
	CHECK(handshake(&a, ab, &b, ba), "%s", __func__);
	CHECK(wg_noise_keypair_next(ba) != unconfirmed && wg_noise_keypair_next(ba) != NULL, "%s",
	      __func__);
	CHECK(b.releases == before + 1, "old next released (%u -> %u)", before, b.releases);
	CHECK(wg_index_table_count(b.table) == 2, "b holds current and next");

	/* ZERO_KEYS on a releases everything and empties its table. */
	before = a.releases;
	wg_noise_remote_clear(ab);
	CHECK(a.releases == before + 2 && wg_index_table_count(a.table) == 0, "%s", __func__);
	CHECK(wg_noise_keypair_current(ab) == NULL && wg_noise_keypair_previous(ab) == NULL, "%s",
	      __func__);
	CHECK(send_packet(&a, ab, &b, &kp) == WG_ERR_NO_KEYPAIR, "%s", __func__);
	node_destroy(&a);
	node_destroy(&b);
}

static void test_key_change(void)
{
	struct fake_host a, b;
	struct wg_noise_keypair *kp;
	struct wg_msg_initiation init;
	struct wg_noise_remote *got;
	uint8_t old_ss[WG_KEY_LEN], new_priv[WG_KEY_LEN];

	node_init(&a, "a", 16);
	node_init(&b, "b", 17);
	struct wg_noise_remote *ab = node_add(&a, b.local.static_public);
	struct wg_noise_remote *ba = node_add(&b, a.local.static_public);
	CHECK(handshake(&a, ab, &b, ba), "%s", __func__);
	CHECK(send_packet(&a, ab, &b, &kp) == WG_OK, "%s", __func__);
	memcpy(old_ss, ab->precomputed_static_static, WG_KEY_LEN);

	test_rng(&(uint64_t){99}, new_priv, sizeof(new_priv));
	CHECK(wg_noise_local_set_private(&a.local, new_priv) == WG_OK, "%s", __func__);
	wg_noise_remote_expire_current(ab);
	CHECK(send_packet(&a, ab, &b, &kp) == WG_ERR_EXPIRED, "current expired by key change");

	/* b still knows a's old key: the new static decrypts but is unknown. */
	tick(&a, &b, WG_NSEC_PER_SEC);
	CHECK(wg_noise_create_initiation(ab, &init) == WG_OK, "%s", __func__);
	CHECK(memcmp(ab->precomputed_static_static, old_ss, WG_KEY_LEN) != 0, "recomputed");
	CHECK(wg_noise_consume_initiation(&b.local, &init, &got) == WG_ERR_UNKNOWN_PEER, "%s",
	      __func__);

	/* Once b learns the new key, the handshake works: a's "ss" used the new key. */
	CHECK(fake_host_relearn(&b, ba, a.local.static_public) == WG_OK, "%s", __func__);
	CHECK(handshake(&a, ab, &b, ba), "%s", __func__);
	CHECK(send_packet(&a, ab, &b, &kp) == WG_OK, "%s", __func__);

	/* b changes its key: b's precomputation for a is stale and refreshed lazily. */
	CHECK(wg_noise_local_set_private(&b.local, a.priv) == WG_OK, "%s", __func__);
	CHECK(ba->precomputed_gen != b.local.key_generation, "%s", __func__);
	CHECK(wg_noise_remote_precompute(ba) == WG_OK, "%s", __func__);
	CHECK(ba->precomputed_gen == b.local.key_generation, "%s", __func__);
	node_destroy(&a);
	node_destroy(&b);
}

static void test_tai64n(void)
{
	uint8_t t[WG_TIMESTAMP_LEN], u[WG_TIMESTAMP_LEN], want[WG_TIMESTAMP_LEN];
	/* The epoch is TAI64 label 2^62 + 10; fields are big-endian. */
	CHECK(hex_decode_fixed("400000000000000a00000000", want, sizeof(want)), "hex");
	wg_tai64n_encode(t, 0, 0);
	CHECK(memcmp(t, want, sizeof(t)) == 0, "epoch");
	CHECK(hex_decode_fixed("400000006553f10a3b9ac9ff", want, sizeof(want)), "hex");
	wg_tai64n_encode(t, 1700000000ULL, 999999999U);
	CHECK(memcmp(t, want, sizeof(t)) == 0, "2023-11-14 with nanoseconds");
	wg_tai64n_encode(u, 1700000001ULL, 0);
	CHECK(wg_tai64n_after(u, t) && !wg_tai64n_after(t, u) && !wg_tai64n_after(t, t), "order");
	for (int i = 0; i < 5; i++) {
		wg_tai64n_now(t);
		uint32_t ns =
		    (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 | (uint32_t)t[10] << 8 | t[11];
		CHECK(ns % WG_TAI64N_GRANULARITY_NS == 0 && ns < WG_NSEC_PER_SEC, "rounded: %u",
		      ns);
		CHECK(t[0] == 0x40, "label in the 2^62 range");
	}
}

int main(void)
{
	CHECK(wg_crypto_init() == WG_OK, "crypto init");
	test_tai64n();
	test_basic(false);
	test_basic(true);
	test_wrong_psk();
	test_tamper();
	test_replay_and_flood();
	test_low_order_and_unknown();
	test_states();
	test_rotation();
	test_key_change();
	return check_done("handshake");
}
