// SPDX-License-Identifier: GPL-2.0-only
/*
 * The keypair rule (wg/keypair_use.h) at its edges: REJECT_AFTER_TIME, REKEY_AFTER_TIME and the
 * receive-side rekey age for initiator and responder, REKEY_AFTER_MESSAGES and
 * REJECT_AFTER_MESSAGES, the protocol's durations and scaled ones, and the nonce reservation
 * agreeing with the rule about the nonces it takes.
 */
#include <string.h>

#include "check.h"
#include "constants.h"
#include "keypair_use.h"
#include "noise.h"
#include "timers.h"

#define SEC  WG_NSEC_PER_SEC
#define MSEC WG_NSEC_PER_MSEC
#define T0   (1000 * SEC)

#define OK      WG_KEYPAIR_OK
#define REKEY   WG_KEYPAIR_REKEY
#define EXPIRED WG_KEYPAIR_EXPIRED

/* Only the fields the rule reads; the keys are never used. */
static struct wg_noise_keypair initiator, responder;

static void keypair_init(struct wg_noise_keypair *kp, bool is_initiator)
{
	memset(kp, 0, sizeof(*kp));
	kp->birth_ns = T0;
	kp->is_initiator = is_initiator;
	atomic_init(&kp->valid, true);
	atomic_init(&kp->send_counter, 0);
}

static void protocol_durations(void)
{
	struct wg_timer_durations d;
	wg_timer_durations_default(&d);
	keypair_init(&initiator, true);
	keypair_init(&responder, false);
	const uint64_t born = T0;

	/* REKEY_AFTER_TIME: the initiator's send only. */
	CHECK(wg_keypair_may_seal(&initiator, &d, 0, born + 120 * SEC - 1) == OK, "119.9 s");
	CHECK(wg_keypair_may_seal(&initiator, &d, 0, born + 120 * SEC) == REKEY,
	      "initiator, 120 s");
	CHECK(wg_keypair_may_seal(&responder, &d, 0, born + 179 * SEC) == OK,
	      "the responder does not rekey by time");
	CHECK(wg_keypair_may_open(&initiator, &d, born + 120 * SEC) == OK,
	      "receiving does not rekey at 120 s");

	/* REKEY_AFTER_MESSAGES: both sides, from the 2^60th nonce. */
	CHECK(wg_keypair_may_seal(&responder, &d, WG_REKEY_AFTER_MESSAGES - 1, born) == OK,
	      "2^60 messages: not yet");
	CHECK(wg_keypair_may_seal(&responder, &d, WG_REKEY_AFTER_MESSAGES, born) == REKEY,
	      "past 2^60 messages: responder too");
	CHECK(wg_keypair_may_seal(&initiator, &d, WG_REKEY_AFTER_MESSAGES, born) == REKEY,
	      "past 2^60 messages: initiator");
	CHECK(wg_keypair_may_seal(&initiator, &d, 0, born - SEC) == OK,
	      "a clock before the birth is not an age");

	/* REJECT_AFTER_TIME: both directions, both roles, and it outranks a rekey. */
	CHECK(wg_keypair_may_seal(&responder, &d, 0, born + 180 * SEC - 1) == OK, "179.9 s");
	CHECK(wg_keypair_may_seal(&initiator, &d, 0, born + 180 * SEC - 1) == REKEY, "179.9 s");
	CHECK(wg_keypair_may_seal(&responder, &d, 0, born + 180 * SEC) == EXPIRED, "180 s");
	CHECK(wg_keypair_may_seal(&initiator, &d, 0, born + 180 * SEC) == EXPIRED, "180 s");
	CHECK(wg_keypair_may_open(&responder, &d, born + 180 * SEC - 1) == OK, "179.9 s");
	CHECK(wg_keypair_may_open(&initiator, &d, born + 180 * SEC - 1) == REKEY, "179.9 s");
	CHECK(wg_keypair_may_open(&responder, &d, born + 180 * SEC) == EXPIRED, "180 s");
	CHECK(wg_keypair_may_open(&initiator, &d, born + 180 * SEC) == EXPIRED, "180 s");

	/* REJECT_AFTER_MESSAGES: the last usable nonce, then none. */
	CHECK(wg_keypair_may_seal(&responder, &d, WG_REJECT_AFTER_MESSAGES - 1, born) == REKEY,
	      "counter");
	CHECK(wg_keypair_may_seal(&responder, &d, WG_REJECT_AFTER_MESSAGES, born) == EXPIRED,
	      "counter exhausted");
	CHECK(wg_keypair_may_seal(&initiator, &d, UINT64_MAX, born) == EXPIRED, "far past");

	/* The receive-side rekey: REJECT - KEEPALIVE - REKEY_TIMEOUT, initiator only. */
	CHECK(wg_keypair_may_open(&initiator, &d, born + 165 * SEC - 1) == OK, "164.9 s");
	CHECK(wg_keypair_may_open(&initiator, &d, born + 165 * SEC) == REKEY, "165 s");
	CHECK(wg_keypair_may_open(&responder, &d, born + 170 * SEC) == OK, "responder");
	CHECK(wg_keypair_may_open(&initiator, &d, born - SEC) == OK, "before the birth");

	/* Invalidated (key change, counter exhausted): no more sending, receiving goes on. */
	atomic_store(&initiator.valid, false);
	CHECK(wg_keypair_may_seal(&initiator, &d, 0, born) == EXPIRED, "invalid: no seal");
	CHECK(wg_keypair_may_open(&initiator, &d, born) == OK, "invalid: still opens");
}

/* With the durations divided (test.timer_divisor) every edge moves with them. */
static void scaled_durations(void)
{
	struct wg_timer_durations d;
	wg_timer_durations_default(&d);
	wg_timer_durations_scale(&d, 1000);
	keypair_init(&initiator, true);
	keypair_init(&responder, false);
	const uint64_t born = T0;

	CHECK(wg_keypair_may_seal(&initiator, &d, 0, born + 120 * MSEC - 1) == OK, "scaled");
	CHECK(wg_keypair_may_seal(&initiator, &d, 0, born + 120 * MSEC) == REKEY, "scaled rekey");
	CHECK(wg_keypair_may_seal(&responder, &d, 0, born + 120 * MSEC) == OK, "scaled responder");
	CHECK(wg_keypair_may_open(&initiator, &d, born + 165 * MSEC - 1) == OK, "scaled");
	CHECK(wg_keypair_may_open(&initiator, &d, born + 165 * MSEC) == REKEY, "scaled receive");
	CHECK(wg_keypair_may_seal(&responder, &d, 0, born + 180 * MSEC - 1) == OK, "scaled");
	CHECK(wg_keypair_may_seal(&responder, &d, 0, born + 180 * MSEC) == EXPIRED,
	      "scaled expiry");
	CHECK(wg_keypair_may_open(&responder, &d, born + 180 * MSEC) == EXPIRED, "scaled expiry");
	/* The message limits are not durations: the divisor leaves them alone. */
	CHECK(wg_keypair_may_seal(&responder, &d, WG_REKEY_AFTER_MESSAGES - 1, born) == OK,
	      "scaled: 2^60 still");
	CHECK(wg_keypair_may_seal(&responder, &d, WG_REJECT_AFTER_MESSAGES - 1, born) == REKEY,
	      "scaled: limit still");

	/* Durations this short that the margin reaches past REJECT_AFTER_TIME: rekey at once. */
	d.reject_after_time_ns = 10;
	d.keepalive_timeout_ns = 10;
	d.rekey_timeout_ns = 10;
	CHECK(wg_keypair_may_open(&initiator, &d, born) == REKEY, "no underflow");
	CHECK(wg_keypair_may_open(&initiator, &d, born + 10) == EXPIRED, "no underflow");
}

static void nonce_limits(void)
{
	CHECK(wg_keypair_nonce_use(0) == OK, "first nonce");
	CHECK(wg_keypair_nonce_use(WG_REKEY_AFTER_MESSAGES - 1) == OK, "before 2^60");
	CHECK(wg_keypair_nonce_use(WG_REKEY_AFTER_MESSAGES) == REKEY, "2^60");
	CHECK(wg_keypair_nonce_use(WG_REJECT_AFTER_MESSAGES - 1) == REKEY, "last");
	CHECK(wg_keypair_nonce_use(WG_REJECT_AFTER_MESSAGES) == EXPIRED, "limit");
	CHECK(wg_keypair_nonce_use(UINT64_MAX) == EXPIRED, "top");
}

/* A reservation is OK_REKEY or EXPIRED exactly when the rule says so for its last nonce. */
static void reserve_follows_rule(void)
{
	static const uint64_t starts[] = {
	    0,
	    WG_REKEY_AFTER_MESSAGES - WG_NOISE_MAX_RESERVE,
	    WG_REKEY_AFTER_MESSAGES - 1,
	    WG_REKEY_AFTER_MESSAGES,
	    WG_REJECT_AFTER_MESSAGES - WG_NOISE_MAX_RESERVE,
	    WG_REJECT_AFTER_MESSAGES - 1,
	    WG_REJECT_AFTER_MESSAGES,
	    UINT64_MAX - 100,
	};
	static const uint32_t counts[] = {1, 2, 32, WG_NOISE_MAX_RESERVE};
	unsigned differ = 0;
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		for (size_t j = 0; j < sizeof(counts) / sizeof(counts[0]); j++) {
			struct wg_noise_keypair *kp = &responder;
			keypair_init(kp, false);
			atomic_store(&kp->send_counter, starts[i]);
			uint64_t first = 0, last = starts[i] + counts[j] - 1;
			enum wg_keypair_use want =
			    last < starts[i] ? EXPIRED : wg_keypair_nonce_use(last);
			enum wg_result r = wg_noise_keypair_reserve(kp, counts[j], &first);
			enum wg_keypair_use got = r == WG_OK         ? OK
			                          : r == WG_OK_REKEY ? REKEY
			                          : r == WG_ERR_EXPIRED && !atomic_load(&kp->valid)
			                              ? EXPIRED
			                              : (enum wg_keypair_use)99;
			if (got != want || (got != EXPIRED && first != starts[i])) {
				differ++;
				CHECK(false, "start %llu n %u: reserve %d, rule %d",
				      (unsigned long long)starts[i], counts[j], (int)got,
				      (int)want);
			}
		}
	}
	CHECK(differ == 0, "reserve and the rule agree");
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	protocol_durations();
	scaled_durations();
	nonce_limits();
	reserve_follows_rule();
	return check_done("keypair_use");
}
