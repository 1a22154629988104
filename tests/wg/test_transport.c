// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reference transport path over keypairs from a real handshake: round trips at every length,
 * padding, counters, the replay window checked only after the tag, index lookups, keypair age and
 * counter limits, wrong keys, truncation, and concurrent nonce reservation.
 */
#include <endian.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "fake_host.h"
#include "index_table.h"
#include "keypair_use.h"
#include "noise.h"
#include "tai64n.h"
#include "timers.h"
#include "transport.h"

static struct fake_host A, B;
static struct wg_noise_remote *A_peer, *B_peer; /* each one's view of the other */
static uint8_t msg[2048], plain[2048], input[2048];

/* A initiates to B; afterwards A's current and B's next are a matching pair. */
static bool pair_up(void)
{
	fake_host_tick(&A, WG_NSEC_PER_SEC);
	B.now_ns += WG_NSEC_PER_SEC;
	enum wg_result r = fake_host_handshake(&A, A_peer, &B);
	CHECK(r == WG_OK, "handshake: %s", wg_result_str(r));
	return r == WG_OK;
}

static void setup(uint64_t seed)
{
	CHECK(fake_host_init(&A, "A", seed) == WG_OK, "%s", __func__);
	CHECK(fake_host_init(&B, "B", seed + 1) == WG_OK, "%s", __func__);
	CHECK(!wg_is_zero(A.local.static_public, WG_KEY_LEN), "A has an identity");
	CHECK(!wg_is_zero(B.local.static_public, WG_KEY_LEN), "B has an identity");
	CHECK(fake_host_add(&A, B.local.static_public, &A_peer) == WG_OK, "%s", __func__);
	CHECK(fake_host_add(&B, A.local.static_public, &B_peer) == WG_OK, "%s", __func__);
	pair_up();
}

static void teardown(void)
{
	fake_host_destroy(&A);
	fake_host_destroy(&B);
}

static uint64_t msg_counter(const uint8_t *m)
{
	uint64_t c;
	memcpy(&c, m + 8, sizeof(c));
	return le64toh(c);
}

static uint32_t msg_type(const uint8_t *m)
{
	uint32_t t;
	memcpy(&t, m, sizeof(t));
	return le32toh(t);
}

static uint32_t msg_index(const uint8_t *m)
{
	uint32_t i;
	memcpy(&i, m + 4, sizeof(i));
	return le32toh(i);
}

static void test_round_trip(void)
{
	setup(1);
	struct wg_noise_keypair *ka = wg_noise_keypair_current(A_peer);
	struct wg_noise_keypair *kb = wg_noise_keypair_next(B_peer), *kp;
	size_t len_out, plain_len;
	test_rng(&(uint64_t){3}, input, sizeof(input));

	for (size_t len = 0; len <= 1500; len++) {
		size_t padded = wg_padded_len(len, 1500);
		enum wg_result r = wg_transport_seal(ka, input, len, 1500, msg, sizeof(msg),
		                                     &len_out, NULL, A.now_ns);
		CHECK(r == WG_OK, "seal %zu: %s", len, wg_result_str(r));
		CHECK(padded >= len && (padded % 16 == 0 || padded == 1500) && padded - len < 16,
		      "%s", __func__);
		CHECK(len_out == 16 + padded + 16 && len_out == wg_transport_sealed_len(len, 1500),
		      "sealed length for %zu", len);
		CHECK(msg_type(msg) == WG_MSG_DATA, "%s", __func__);
		CHECK(msg_index(msg) == ka->remote_index && msg_index(msg) == kb->local_index, "%s",
		      __func__);
		CHECK(msg_counter(msg) == len, "counter %llu for packet %zu",
		      (unsigned long long)msg_counter(msg), len);
		CHECK(wg_transport_classify(msg, len_out) == WG_MSG_DATA, "%s", __func__);
		r = wg_transport_open(&B.local, msg, len_out, plain, &plain_len, &kp, NULL,
		                      B.now_ns);
		CHECK(r == WG_OK && kp == kb, "open %zu: %s", len, wg_result_str(r));
		CHECK(plain_len == padded && memcmp(plain, input, len) == 0, "payload %zu", len);
		CHECK(wg_is_zero(plain + len, padded - len), "zero padding at %zu", len);
	}
	CHECK(atomic_load(&ka->send_counter) == 1501, "%s", __func__);

	/* The MTU caps the padding; without one (0) it always rounds up. */
	CHECK(wg_transport_seal(ka, input, 1419, 1420, msg, sizeof(msg), &len_out, NULL,
	                        A.now_ns) == WG_OK,
	      "%s", __func__);
	CHECK(len_out == 16 + 1420 + 16, "%s", __func__);
	CHECK(wg_transport_seal(ka, input, 1419, 0, msg, sizeof(msg), &len_out, NULL, A.now_ns) ==
	          WG_OK,
	      "%s", __func__);
	CHECK(len_out == 16 + 1424 + 16, "%s", __func__);

	/* Keepalive: 32 bytes on the wire, nothing inside. */
	CHECK(wg_transport_seal(ka, NULL, 0, 1420, msg, sizeof(msg), &len_out, NULL, A.now_ns) ==
	          WG_OK,
	      "%s", __func__);
	CHECK(len_out == WG_DATA_MIN_LEN, "%s", __func__);
	CHECK(wg_transport_open(&B.local, msg, len_out, plain, &plain_len, &kp, NULL, B.now_ns) ==
	          WG_OK,
	      "%s", __func__);
	size_t inner = 99;
	CHECK(plain_len == 0 && wg_transport_inner_len(plain, plain_len, &inner) == WG_OK &&
	          inner == 0,
	      "%s", __func__);

	/* In place: seal from the body slot, open into the body. */
	memcpy(msg + 16, input, 100);
	CHECK(wg_transport_seal(ka, msg + 16, 100, 1420, msg, sizeof(msg), &len_out, NULL,
	                        A.now_ns) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_open(&B.local, msg, len_out, msg + 16, &plain_len, &kp, NULL,
	                        B.now_ns) == WG_OK,
	      "%s", __func__);
	CHECK(plain_len == 112 && memcmp(msg + 16, input, 100) == 0, "in place");

	/* The other direction once b is confirmed. */
	CHECK(wg_transport_seal(wg_noise_keypair_current(B_peer), input, 10, 1420, msg, sizeof(msg),
	                        &len_out, NULL, B.now_ns) == WG_ERR_NO_KEYPAIR,
	      "%s", __func__);
	CHECK(wg_noise_received_with_keypair(B_peer, kb), "%s", __func__);
	CHECK(wg_transport_seal(wg_noise_keypair_current(B_peer), input, 10, 1420, msg, sizeof(msg),
	                        &len_out, NULL, B.now_ns) == WG_OK,
	      "%s", __func__);
	CHECK(msg_counter(msg) == 0 && msg_index(msg) == ka->local_index, "%s", __func__);
	CHECK(wg_transport_open(&A.local, msg, len_out, plain, &plain_len, &kp, NULL, A.now_ns) ==
	              WG_OK &&
	          kp == ka && plain_len == 16 && memcmp(plain, input, 10) == 0,
	      "%s", __func__);

	/* Output buffer too small, no keypair. */
	CHECK(wg_transport_seal(ka, input, 100, 1420, msg, 16 + 112 + 15, &len_out, NULL,
	                        A.now_ns) == WG_ERR_INVALID,
	      "%s", __func__);
	CHECK(wg_transport_seal(NULL, input, 100, 1420, msg, sizeof(msg), &len_out, NULL,
	                        A.now_ns) == WG_ERR_NO_KEYPAIR,
	      "%s", __func__);
	teardown();
}

static void test_replay(void)
{
	uint8_t first[64], copy[64];
	size_t first_len, len_out, plain_len;
	struct wg_noise_keypair *kp;
	setup(10);
	struct wg_noise_keypair *ka = wg_noise_keypair_current(A_peer);

	CHECK(wg_transport_seal(ka, input, 20, 1420, first, sizeof(first), &first_len, NULL,
	                        A.now_ns) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_open(&B.local, first, first_len, plain, &plain_len, &kp, NULL,
	                        B.now_ns) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_open(&B.local, first, first_len, plain, &plain_len, &kp, NULL,
	                        B.now_ns) == WG_ERR_REPLAY &&
	          kp == NULL,
	      "%s", __func__);
	/* A tampered replay never reaches the window: the tag fails first. */
	for (size_t i = 8; i < first_len; i++) {
		memcpy(copy, first, first_len);
		copy[i] ^= 0x04;
		CHECK(wg_transport_open(&B.local, copy, first_len, plain, &plain_len, &kp, NULL,
		                        B.now_ns) == WG_ERR_AUTH,
		      "tampered byte %zu", i);
	}

	/* Out of order inside the window is fine; each only once. */
	uint8_t held[3][64];
	size_t held_len[3];
	for (int i = 0; i < 3; i++)
		CHECK(wg_transport_seal(ka, input, 20, 1420, held[i], sizeof(held[i]), &held_len[i],
		                        NULL, A.now_ns) == WG_OK,
		      "%s", __func__);
	for (int i = 2; i >= 0; i--)
		CHECK(wg_transport_open(&B.local, held[i], held_len[i], plain, &plain_len, &kp,
		                        NULL, B.now_ns) == WG_OK,
		      "out of order %d", i);
	CHECK(wg_transport_open(&B.local, held[1], held_len[1], plain, &plain_len, &kp, NULL,
	                        B.now_ns) == WG_ERR_REPLAY,
	      "%s", __func__);

	/* Hold one back, move the window past it, and it is refused as too old. */
	CHECK(wg_transport_seal(ka, input, 20, 1420, held[0], sizeof(held[0]), &held_len[0], NULL,
	                        A.now_ns) == WG_OK,
	      "%s", __func__);
	for (int i = 0; i < WG_REPLAY_BITS_TOTAL + 10; i++) {
		CHECK(wg_transport_seal(ka, input, 0, 1420, msg, sizeof(msg), &len_out, NULL,
		                        A.now_ns) == WG_OK,
		      "%s", __func__);
		if (wg_transport_open(&B.local, msg, len_out, plain, &plain_len, &kp, NULL,
		                      B.now_ns) != WG_OK)
			CHECK(0, "keepalive %d refused", i);
	}
	CHECK(wg_transport_open(&B.local, held[0], held_len[0], plain, &plain_len, &kp, NULL,
	                        B.now_ns) == WG_ERR_REPLAY,
	      "%s", __func__);
	teardown();
}

static void test_lookup_and_truncation(void)
{
	size_t len_out, plain_len;
	struct wg_noise_keypair *kp;
	uint8_t copy[128];
	setup(20);
	struct wg_noise_keypair *ka = wg_noise_keypair_current(A_peer);

	CHECK(wg_transport_seal(ka, input, 40, 1420, msg, sizeof(msg), &len_out, NULL, A.now_ns) ==
	          WG_OK,
	      "%s", __func__);
	for (size_t n = 0; n < WG_DATA_MIN_LEN; n++) {
		CHECK(wg_transport_open(&B.local, msg, n, plain, &plain_len, &kp, NULL, B.now_ns) ==
		          WG_ERR_INVALID,
		      "truncated to %zu", n);
		CHECK(wg_transport_classify(msg, n) == WG_MSG_INVALID, "%s", __func__);
	}
	for (size_t n = WG_DATA_MIN_LEN; n < len_out; n++)
		CHECK(wg_transport_open(&B.local, msg, n, plain, &plain_len, &kp, NULL, B.now_ns) ==
		          WG_ERR_AUTH,
		      "cut to %zu", n);

	/* Type field: wrong type or a non-zero reserved byte. */
	for (int i = 0; i < 4; i++) {
		memcpy(copy, msg, len_out);
		copy[i] ^= i ? 0x01 : 0x05;
		CHECK(wg_transport_open(&B.local, copy, len_out, plain, &plain_len, &kp, NULL,
		                        B.now_ns) == WG_ERR_INVALID,
		      "type byte %d", i);
		CHECK(wg_transport_classify(copy, len_out) != WG_MSG_DATA, "%s", __func__);
	}

	/* Unknown receiver index, and one that names a handshake rather than a keypair. */
	memcpy(copy, msg, len_out);
	uint32_t idx = htole32(msg_index(msg) ^ 0x00010000);
	memcpy(copy + 4, &idx, 4);
	CHECK(wg_transport_open(&B.local, copy, len_out, plain, &plain_len, &kp, NULL, B.now_ns) ==
	          WG_ERR_UNKNOWN_PEER,
	      "%s", __func__);
	struct wg_msg_initiation init;
	CHECK(wg_noise_create_initiation(B_peer, &init) == WG_OK, "%s", __func__);
	idx = init.sender_index;
	memcpy(copy + 4, &idx, 4);
	CHECK(wg_transport_open(&B.local, copy, len_out, plain, &plain_len, &kp, NULL, B.now_ns) ==
	          WG_ERR_UNKNOWN_PEER,
	      "handshake index is not a keypair");
	/* The wrong side's table. */
	CHECK(wg_transport_open(&A.local, msg, len_out, plain, &plain_len, &kp, NULL, A.now_ns) ==
	          WG_ERR_UNKNOWN_PEER,
	      "%s", __func__);

	/* Right index, wrong key. */
	uint8_t key[WG_KEY_LEN];
	test_rng(&(uint64_t){5}, key, sizeof(key));
	memcpy(copy, msg, 16);
	CHECK(wg_aead_seal(copy + 16, input, 48, NULL, 0, msg_counter(msg), key) == WG_OK, "%s",
	      __func__);
	CHECK(wg_transport_open(&B.local, copy, len_out, plain, &plain_len, &kp, NULL, B.now_ns) ==
	          WG_ERR_AUTH,
	      "%s", __func__);
	/* The real message was not consumed by any of that. */
	CHECK(wg_transport_open(&B.local, msg, len_out, plain, &plain_len, &kp, NULL, B.now_ns) ==
	          WG_OK,
	      "%s", __func__);

	/* Classification of the other types is by exact length. */
	memset(copy, 0, sizeof(copy));
	copy[0] = WG_MSG_HANDSHAKE_INITIATION;
	CHECK(wg_transport_classify(copy, 148) == WG_MSG_HANDSHAKE_INITIATION, "%s", __func__);
	CHECK(wg_transport_classify(copy, 147) == WG_MSG_INVALID, "%s", __func__);
	copy[0] = WG_MSG_HANDSHAKE_RESPONSE;
	CHECK(wg_transport_classify(copy, 92) == WG_MSG_HANDSHAKE_RESPONSE, "%s", __func__);
	CHECK(wg_transport_classify(copy, 93) == WG_MSG_INVALID, "%s", __func__);
	copy[0] = WG_MSG_HANDSHAKE_COOKIE;
	CHECK(wg_transport_classify(copy, 64) == WG_MSG_HANDSHAKE_COOKIE, "%s", __func__);
	copy[0] = 5;
	CHECK(wg_transport_classify(copy, 64) == WG_MSG_INVALID, "%s", __func__);
	teardown();
}

static void test_limits(void)
{
	size_t len_out, plain_len;
	struct wg_noise_keypair *kp;
	uint64_t first;
	setup(30);
	struct wg_noise_keypair *ka = wg_noise_keypair_current(A_peer);
	struct wg_noise_keypair *kb = wg_noise_keypair_next(B_peer);
	uint64_t birth = ka->birth_ns;
	const uint64_t s = WG_NSEC_PER_SEC;

	/* Age: rekey at 120 s for the initiator, receive-side rekey at 165 s, dead at 180 s. */
	CHECK(wg_transport_seal(ka, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        birth + 119 * s) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_open(&B.local, msg, len_out, plain, &plain_len, &kp, NULL,
	                        kb->birth_ns) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_seal(ka, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        birth + 120 * s) == WG_OK_REKEY,
	      "%s", __func__);
	CHECK(wg_transport_open(&B.local, msg, len_out, plain, &plain_len, &kp, NULL,
	                        kb->birth_ns + 179 * s) == WG_OK,
	      "responder does not rekey on rx");
	CHECK(wg_transport_seal(ka, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        birth + 10 * s) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_open(&B.local, msg, len_out, plain, &plain_len, &kp, NULL,
	                        kb->birth_ns + 180 * s) == WG_ERR_EXPIRED,
	      "%s", __func__);
	CHECK(wg_noise_received_with_keypair(B_peer, kb), "%s", __func__);
	CHECK(wg_transport_seal(kb, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        kb->birth_ns + 120 * s) == WG_OK,
	      "only the initiator rekeys on age");
	CHECK(wg_transport_open(&A.local, msg, len_out, plain, &plain_len, &kp, NULL,
	                        birth + 164 * s) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_seal(kb, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        kb->birth_ns) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_open(&A.local, msg, len_out, plain, &plain_len, &kp, NULL,
	                        birth + 165 * s) == WG_OK_REKEY &&
	          kp == ka,
	      "%s", __func__);
	CHECK(wg_transport_seal(ka, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        birth + 180 * s) == WG_ERR_EXPIRED,
	      "%s", __func__);
	CHECK(!atomic_load(&ka->valid), "%s", __func__);
	CHECK(wg_transport_seal(ka, input, 8, 1420, msg, sizeof(msg), &len_out, NULL, birth) ==
	          WG_ERR_EXPIRED,
	      "stays expired");

	/* Counters: rekey at 2^60, refuse from REJECT_AFTER_MESSAGES. */
	atomic_store(&kb->send_counter, WG_REKEY_AFTER_MESSAGES - 1);
	CHECK(wg_transport_seal(kb, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        kb->birth_ns) == WG_OK,
	      "%s", __func__);
	CHECK(msg_counter(msg) == WG_REKEY_AFTER_MESSAGES - 1, "%s", __func__);
	CHECK(wg_transport_seal(kb, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        kb->birth_ns) == WG_OK_REKEY,
	      "%s", __func__);
	CHECK(msg_counter(msg) == WG_REKEY_AFTER_MESSAGES, "%s", __func__);
	CHECK(wg_transport_open(&A.local, msg, len_out, plain, &plain_len, &kp, NULL, birth) ==
	          WG_OK,
	      "%s", __func__);

	atomic_store(&kb->send_counter, WG_REJECT_AFTER_MESSAGES - 1);
	CHECK(wg_transport_seal(kb, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        kb->birth_ns) == WG_OK_REKEY,
	      "%s", __func__);
	CHECK(msg_counter(msg) == WG_REJECT_AFTER_MESSAGES - 1, "%s", __func__);
	CHECK(wg_transport_open(&A.local, msg, len_out, plain, &plain_len, &kp, NULL, birth) ==
	          WG_OK,
	      "last nonce is usable");
	CHECK(wg_transport_seal(kb, input, 8, 1420, msg, sizeof(msg), &len_out, NULL,
	                        kb->birth_ns) == WG_ERR_EXPIRED,
	      "%s", __func__);
	CHECK(!atomic_load(&kb->valid), "%s", __func__);

	/* A receiver refuses a counter at the limit even with a valid tag. */
	uint8_t forged[64];
	memcpy(forged, msg, 16);
	uint64_t c = htole64(WG_REJECT_AFTER_MESSAGES);
	memcpy(forged + 8, &c, 8);
	CHECK(wg_aead_seal(forged + 16, input, 16, NULL, 0, WG_REJECT_AFTER_MESSAGES,
	                   kb->send_key) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_open(&A.local, forged, 48, plain, &plain_len, &kp, NULL, birth) ==
	          WG_ERR_REPLAY,
	      "%s", __func__);

	/* Bursts. */
	struct wg_noise_keypair *k2;
	pair_up();
	k2 = wg_noise_keypair_current(A_peer);
	CHECK(wg_noise_keypair_reserve(k2, 0, &first) == WG_ERR_INVALID, "%s", __func__);
	CHECK(wg_noise_keypair_reserve(k2, WG_NOISE_MAX_RESERVE + 1, &first) == WG_ERR_INVALID,
	      "%s", __func__);
	CHECK(wg_noise_keypair_reserve(k2, 32, &first) == WG_OK && first == 0, "%s", __func__);
	CHECK(wg_noise_keypair_reserve(k2, 32, &first) == WG_OK && first == 32, "%s", __func__);
	atomic_store(&k2->send_counter, WG_REKEY_AFTER_MESSAGES - 10);
	CHECK(wg_noise_keypair_reserve(k2, 10, &first) == WG_OK, "%s", __func__);
	atomic_store(&k2->send_counter, WG_REKEY_AFTER_MESSAGES - 10);
	CHECK(wg_noise_keypair_reserve(k2, 11, &first) == WG_OK_REKEY, "%s", __func__);
	atomic_store(&k2->send_counter, WG_REJECT_AFTER_MESSAGES - 10);
	CHECK(wg_noise_keypair_reserve(k2, 10, &first) == WG_OK_REKEY &&
	          first == WG_REJECT_AFTER_MESSAGES - 10,
	      "%s", __func__);
	atomic_store(&k2->send_counter, WG_REJECT_AFTER_MESSAGES - 10);
	CHECK(wg_noise_keypair_reserve(k2, 11, &first) == WG_ERR_EXPIRED, "%s", __func__);
	CHECK(wg_noise_keypair_reserve(k2, 1, &first) == WG_ERR_EXPIRED, "%s", __func__);

	/* Key change expiry stops sending; receiving continues. */
	pair_up();
	struct wg_noise_keypair *k3 = wg_noise_keypair_current(A_peer);
	CHECK(wg_transport_seal(k3, input, 8, 1420, msg, sizeof(msg), &len_out, NULL, A.now_ns) ==
	          WG_OK,
	      "%s", __func__);
	wg_noise_remote_expire_current(A_peer);
	CHECK(wg_transport_seal(k3, input, 8, 1420, msg + 64, sizeof(msg) - 64, &len_out, NULL,
	                        A.now_ns) == WG_ERR_EXPIRED,
	      "%s", __func__);
	CHECK(wg_transport_open(&B.local, msg, 48, plain, &plain_len, &kp, NULL, B.now_ns) == WG_OK,
	      "%s", __func__);
	teardown();
}

static enum wg_result result_of(enum wg_keypair_use use)
{
	return use == WG_KEYPAIR_OK      ? WG_OK
	       : use == WG_KEYPAIR_REKEY ? WG_OK_REKEY
	                                 : WG_ERR_EXPIRED;
}

/*
 * With the durations scaled as test.timer_divisor scales them, the transport answers what
 * wg_keypair_may_seal / may_open answer for the peer's timers, at every probe. It used to keep
 * the fixed 120/165/180 s while the timers and the data plane used the scaled ones, so the
 * handshake driver, which asks both about one packet, got two answers.
 */
static void test_scaled_durations(void)
{
	size_t len_out, plain_len;
	struct wg_noise_keypair *kp;
	struct wg_timer_durations d;
	struct wg_timers t;
	const uint64_t ms = WG_NSEC_PER_MSEC;

	wg_timer_durations_default(&d);
	wg_timer_durations_scale(&d, 1000);
	wg_timers_init(&t, &d, NULL, NULL);
	setup(50);
	struct wg_noise_keypair *ka = wg_noise_keypair_current(A_peer);
	struct wg_noise_keypair *kb = wg_noise_keypair_next(B_peer);
	const uint64_t birth = ka->birth_ns;

	CHECK(wg_transport_seal(ka, input, 8, 1420, msg, sizeof(msg), &len_out, &t.d,
	                        birth + 120 * ms - 1) == WG_OK,
	      "scaled: no rekey before 120 ms");
	CHECK(wg_transport_seal(ka, input, 8, 1420, msg, sizeof(msg), &len_out, &t.d,
	                        birth + 120 * ms) == WG_OK_REKEY,
	      "scaled: the initiator's send asks for a rekey at 120 ms, as the timers do");
	CHECK(wg_transport_seal(kb, input, 8, 1420, msg, sizeof(msg), &len_out, &t.d,
	                        kb->birth_ns) == WG_OK,
	      "%s", __func__);
	CHECK(wg_transport_open(&A.local, msg, len_out, plain, &plain_len, &kp, &t.d,
	                        birth + 165 * ms) == WG_OK_REKEY,
	      "scaled: the initiator's receive asks for a rekey at 165 ms");
	CHECK(wg_transport_seal(ka, input, 8, 1420, msg, sizeof(msg), &len_out, &t.d,
	                        birth + 170 * ms) == WG_OK_REKEY,
	      "%s", __func__);
	CHECK(wg_transport_open(&B.local, msg, len_out, plain, &plain_len, &kp, &t.d,
	                        kb->birth_ns + 180 * ms) == WG_ERR_EXPIRED,
	      "scaled: nothing opens at 180 ms");

	static const uint64_t probes[] = {
	    0,        1,
	    119 * ms, 120 * ms - 1,
	    120 * ms, 120 * ms + 1,
	    164 * ms, 165 * ms - 1,
	    165 * ms, 165 * ms + 1,
	    179 * ms, 180 * ms - 1,
	    180 * ms, 181 * ms,
	};
	unsigned seal_differs = 0, open_differs = 0;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t now = birth + probes[i];
		CHECK(wg_transport_seal(kb, input, 8, 1420, msg, sizeof(msg), &len_out, &t.d,
		                        kb->birth_ns) == WG_OK,
		      "%s", __func__);
		enum wg_result want = result_of(wg_keypair_may_open(ka, &t.d, now));
		open_differs += wg_transport_open(&A.local, msg, len_out, plain, &plain_len, &kp,
		                                  &t.d, now) != want;
		want = result_of(wg_keypair_may_seal(
		    ka, &t.d, atomic_load_explicit(&ka->send_counter, memory_order_relaxed), now));
		seal_differs += wg_transport_seal(ka, input, 8, 1420, msg, sizeof(msg), &len_out,
		                                  &t.d, now) != want;
	}
	CHECK(seal_differs == 0 && open_differs == 0,
	      "the transport follows the keypair rule: %u seals, %u opens differ", seal_differs,
	      open_differs);
	CHECK(!atomic_load(&ka->valid), "expired by the scaled age");
	teardown();
}

struct reserver {
	struct wg_noise_keypair *kp;
	uint64_t *firsts;
	int n;
};

static void *reserve_loop(void *arg)
{
	struct reserver *r = arg;
	for (int i = 0; i < r->n; i++)
		if (wg_noise_keypair_reserve(r->kp, 16, &r->firsts[i]) != WG_OK)
			r->firsts[i] = UINT64_MAX;
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_concurrent_reserve(void)
{
	enum { THREADS = 4, PER = 20000 };
	pthread_t th[THREADS];
	struct reserver rs[THREADS];
	uint64_t *all = calloc(THREADS * PER, sizeof(*all));
	setup(40);
	struct wg_noise_keypair *ka = wg_noise_keypair_current(A_peer);
	for (int t = 0; t < THREADS; t++) {
		rs[t] = (struct reserver){ka, all + t * PER, PER};
		CHECK(pthread_create(&th[t], NULL, reserve_loop, &rs[t]) == 0, "%s", __func__);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	qsort(all, THREADS * PER, sizeof(*all), cmp_u64);
	bool disjoint = true;
	for (int i = 0; i < THREADS * PER; i++)
		disjoint &= all[i] == (uint64_t)i * 16;
	CHECK(disjoint, "bursts are disjoint and cover every nonce once");
	CHECK(atomic_load(&ka->send_counter) == (uint64_t)THREADS * PER * 16, "%s", __func__);
	free(all);
	teardown();
}

static void test_inner_len(void)
{
	uint8_t p[64];
	size_t n;
	memset(p, 0, sizeof(p));
	CHECK(wg_transport_inner_len(p, 0, &n) == WG_OK && n == 0, "keepalive");
	p[0] = 0x45;
	p[3] = 40;
	CHECK(wg_transport_inner_len(p, 48, &n) == WG_OK && n == 40, "IPv4");
	CHECK(wg_transport_inner_len(p, 39, &n) == WG_ERR_INVALID, "IPv4 longer than the payload");
	CHECK(wg_transport_inner_len(p, 16, &n) == WG_ERR_INVALID, "short IPv4 header");
	p[3] = 19;
	CHECK(wg_transport_inner_len(p, 48, &n) == WG_ERR_INVALID, "IPv4 total below header");
	p[0] = 0x44;
	p[3] = 40;
	CHECK(wg_transport_inner_len(p, 48, &n) == WG_ERR_INVALID, "IHL 4");
	p[0] = 0x4f;
	p[3] = 40;
	CHECK(wg_transport_inner_len(p, 48, &n) == WG_ERR_INVALID, "IHL 15 past total");
	memset(p, 0, sizeof(p));
	p[0] = 0x60;
	p[5] = 8;
	CHECK(wg_transport_inner_len(p, 48, &n) == WG_OK && n == 48, "IPv6");
	CHECK(wg_transport_inner_len(p, 47, &n) == WG_ERR_INVALID, "IPv6 longer than payload");
	CHECK(wg_transport_inner_len(p, 32, &n) == WG_ERR_INVALID, "short IPv6 header");
	p[0] = 0x50;
	CHECK(wg_transport_inner_len(p, 48, &n) == WG_ERR_INVALID, "version 5");
	p[0] = 0x00;
	CHECK(wg_transport_inner_len(p, 48, &n) == WG_ERR_INVALID, "zero bytes");
}

int main(void)
{
	CHECK(wg_crypto_init() == WG_OK, "%s", __func__);
	test_round_trip();
	test_replay();
	test_lookup_and_truncation();
	test_limits();
	test_scaled_durations();
	test_concurrent_reserve();
	test_inner_len();
	return check_done("transport");
}
