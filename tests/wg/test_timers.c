// SPDX-License-Identifier: GPL-2.0-only
/*
 * The timer state machine, driven by an injected clock through every transition of the Linux
 * module's timers.c, and the keypair rule (wg/keypair_use.h) reading the timers' durations.
 */
#include <string.h>

#include "check.h"
#include "constants.h"
#include "keypair_use.h"
#include "timers.h"

#define SEC        WG_NSEC_PER_SEC
#define MSEC       WG_NSEC_PER_MSEC
#define JITTER_MAX (WG_REKEY_TIMEOUT_JITTER_MAX_MS * MSEC)
#define T0         (1000 * SEC)

static uint64_t rng_state = 77;

/* Always draws the same value, for exact deadlines. */
static void fixed_rand(void *ctx, void *buf, size_t len)
{
	uint64_t v = *(uint64_t *)ctx;
	memset(buf, 0, len);
	memcpy(buf, &v, len < sizeof(v) ? len : sizeof(v));
}

static bool in_range(uint64_t v, uint64_t lo, uint64_t hi_exclusive)
{
	return v >= lo && v < hi_exclusive;
}

/*
 * An unanswered initiation is retried every REKEY_TIMEOUT + jitter. Like the kernel, which counts
 * retries before it checks the limit, the handshake is abandoned at the retry after
 * MAX_TIMER_HANDSHAKES + 1 of them (MAX + 2 initiations in all); key material is zeroed 3 *
 * REJECT_AFTER_TIME after that.
 */
static void retransmit_until_give_up(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, test_rng, &rng_state);
	uint64_t now = T0;
	CHECK(wg_timers_may_send_initiation(&t, now, false), "first initiation");
	wg_timers_handshake_initiated(&t, now);
	unsigned initiations = 1, bad_gap = 0, distinct_gaps = 0;
	uint64_t last_gap = 0;
	for (unsigned retry = 1; retry <= WG_MAX_TIMER_HANDSHAKES + 1; retry++) {
		uint64_t at = wg_timers_next_deadline(&t);
		uint64_t gap = at - now;
		bad_gap +=
		    !in_range(gap, WG_REKEY_TIMEOUT_S * SEC, WG_REKEY_TIMEOUT_S * SEC + JITTER_MAX);
		distinct_gaps += gap != last_gap;
		last_gap = gap;
		CHECK(wg_timers_tick(&t, at - 1) == 0, "retry %u: nothing before the deadline",
		      retry);
		now = at;
		if (retry == WG_MAX_TIMER_HANDSHAKES + 1)
			wg_timers_data_received(&t, now); /* a keepalive the give-up must cancel */
		uint32_t actions = wg_timers_tick(&t, now);
		CHECK(actions == (WG_TIMER_SEND_INITIATION | WG_TIMER_CLEAR_ENDPOINT_SOURCE),
		      "retry %u: actions %#x", retry, actions);
		CHECK(t.handshake_attempts == retry, "retry %u: attempts %u", retry,
		      t.handshake_attempts);
		if (actions & WG_TIMER_SEND_INITIATION) {
			initiations++;
			wg_timers_handshake_initiated(&t, now);
		}
	}
	CHECK(bad_gap == 0, "%u retransmit gaps outside [5 s, 5.333 s)", bad_gap);
	CHECK(distinct_gaps > 10, "jitter varies: %u distinct gaps", distinct_gaps);
	CHECK(initiations == WG_MAX_TIMER_HANDSHAKES + 2, "%u initiations", initiations);

	uint64_t at = wg_timers_next_deadline(&t);
	CHECK(at == t.retransmit_handshake_at, "the retransmit comes before the keepalive");
	now = at;
	uint32_t actions = wg_timers_tick(&t, now);
	CHECK(actions == WG_TIMER_GIVE_UP, "give up: actions %#x", actions);
	CHECK(t.send_keepalive_at == 0, "give-up cancels the pending keepalive");
	CHECK(t.retransmit_handshake_at == 0, "no more retries");
	CHECK(t.zero_key_material_at == now + 3 * WG_REJECT_AFTER_TIME_S * SEC,
	      "key material zeroed 540 s after giving up");
	CHECK(wg_timers_next_deadline(&t) == t.zero_key_material_at, "only that is left");
	CHECK(wg_timers_tick(&t, now + 540 * SEC - 1) == 0, "not before 540 s");
	CHECK(wg_timers_tick(&t, now + 540 * SEC) == WG_TIMER_ZERO_KEYS, "zero at 540 s");
	CHECK(wg_timers_next_deadline(&t) == 0, "nothing armed at the end");

	/* New traffic wanting a key restarts the attempts (a non-retry request). */
	CHECK(wg_timers_may_send_initiation(&t, now + 600 * SEC, false), "fresh start");
	CHECK(t.handshake_attempts == 0, "attempts restarted");
}

/* Giving up leaves an already scheduled zeroing alone. */
static void give_up_keeps_earlier_zeroing(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, NULL, NULL);
	wg_timers_session_derived(&t, T0);
	wg_timers_handshake_initiated(&t, T0 + SEC);
	t.handshake_attempts = WG_MAX_TIMER_HANDSHAKES + 1;
	CHECK(wg_timers_tick(&t, T0 + 6 * SEC) == WG_TIMER_GIVE_UP, "give up");
	CHECK(t.zero_key_material_at == T0 + 540 * SEC, "existing zeroing deadline kept");
}

static void handshake_complete_stops_retries(void)
{
	struct wg_timers t;
	uint64_t fixed = 100 * MSEC;
	wg_timers_init(&t, NULL, fixed_rand, &fixed);
	wg_timers_handshake_initiated(&t, T0);
	CHECK(t.retransmit_handshake_at == T0 + 5 * SEC + 100 * MSEC, "exact jitter applied");
	CHECK(wg_timers_tick(&t, T0 + 5 * SEC + 100 * MSEC) & WG_TIMER_SEND_INITIATION, "retry");
	wg_timers_handshake_initiated(&t, T0 + 5 * SEC + 100 * MSEC);
	CHECK(t.handshake_attempts == 1, "one retry");
	wg_timers_handshake_complete(&t, 1700000000 * SEC);
	CHECK(t.retransmit_handshake_at == 0 && t.handshake_attempts == 0, "retries stopped");
	CHECK(t.last_handshake_wall_ns == 1700000000 * SEC, "wall time recorded");
	CHECK(wg_timers_tick(&t, T0 + 60 * SEC) == 0, "nothing fires");
}

static void keepalive_after_receive(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, test_rng, &rng_state);
	wg_timers_data_received(&t, T0);
	CHECK(t.send_keepalive_at == T0 + 10 * SEC, "keepalive due 10 s after data received");
	wg_timers_data_received(&t, T0 + 2 * SEC);
	CHECK(t.send_keepalive_at == T0 + 10 * SEC, "a second receive does not push it back");
	CHECK(t.need_another_keepalive, "but asks for another keepalive");
	CHECK(wg_timers_tick(&t, T0 + 10 * SEC - 1) == 0, "not yet");
	CHECK(wg_timers_tick(&t, T0 + 10 * SEC) == WG_TIMER_SEND_KEEPALIVE, "keepalive");
	CHECK(t.send_keepalive_at == T0 + 20 * SEC && !t.need_another_keepalive,
	      "the other keepalive is scheduled once");
	CHECK(wg_timers_tick(&t, T0 + 20 * SEC) == WG_TIMER_SEND_KEEPALIVE, "second keepalive");
	CHECK(wg_timers_next_deadline(&t) == 0, "and no third");

	/* Anything we send carries the acknowledgement: no keepalive needed. */
	wg_timers_data_received(&t, T0 + 30 * SEC);
	wg_timers_any_authenticated_packet_sent(&t);
	CHECK(wg_timers_tick(&t, T0 + 45 * SEC) == 0, "sending cancels the keepalive");
}

static void new_handshake_after_unanswered_send(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, test_rng, &rng_state);
	wg_timers_data_sent(&t, T0);
	uint64_t at = t.new_handshake_at;
	CHECK(in_range(at, T0 + 15 * SEC, T0 + 15 * SEC + JITTER_MAX),
	      "new handshake 15 s (+jitter) after data sent: %llu", (unsigned long long)(at - T0));
	wg_timers_data_sent(&t, T0 + SEC);
	CHECK(t.new_handshake_at == at, "more data does not push it back");
	t.handshake_attempts = 4;
	CHECK(wg_timers_tick(&t, at - 1) == 0, "not yet");
	CHECK(wg_timers_tick(&t, at) == (WG_TIMER_SEND_INITIATION | WG_TIMER_CLEAR_ENDPOINT_SOURCE),
	      "initiation when nothing came back");
	CHECK(t.handshake_attempts == 0, "a fresh handshake, not a retry");

	/* Anything received in time cancels it. */
	wg_timers_data_sent(&t, T0 + 100 * SEC);
	wg_timers_any_authenticated_packet_received(&t);
	CHECK(wg_timers_tick(&t, T0 + 200 * SEC) == 0, "a reply cancels the new handshake");
}

static void persistent_keepalive(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, NULL, NULL);
	wg_timers_any_authenticated_packet_traversal(&t, T0);
	CHECK(t.persistent_keepalive_at == 0, "off by default");
	CHECK(wg_timers_set_persistent_keepalive(&t, 25), "turning it on sends one now");
	CHECK(!wg_timers_set_persistent_keepalive(&t, 25), "setting it again does not");
	wg_timers_any_authenticated_packet_traversal(&t, T0);
	CHECK(t.persistent_keepalive_at == T0 + 25 * SEC, "armed by traversal");
	wg_timers_any_authenticated_packet_traversal(&t, T0 + 10 * SEC);
	CHECK(t.persistent_keepalive_at == T0 + 35 * SEC, "re-armed by the next traversal");
	CHECK(wg_timers_tick(&t, T0 + 25 * SEC) == 0, "the old deadline is gone");
	CHECK(wg_timers_tick(&t, T0 + 35 * SEC) == WG_TIMER_SEND_KEEPALIVE, "keepalive");
	CHECK(wg_timers_next_deadline(&t) == 0, "only the next packet re-arms it");
	wg_timers_any_authenticated_packet_traversal(&t, T0 + 40 * SEC);
	CHECK(!wg_timers_set_persistent_keepalive(&t, 0), "turning it off");
	CHECK(t.persistent_keepalive_at == 0, "off disarms");
	CHECK(wg_timers_tick(&t, T0 + 100 * SEC) == 0, "and nothing fires");
}

static void zero_keys_after_session(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, NULL, NULL);
	wg_timers_session_derived(&t, T0);
	CHECK(t.zero_key_material_at == T0 + 540 * SEC, "540 s after the session");
	wg_timers_session_derived(&t, T0 + 100 * SEC);
	CHECK(t.zero_key_material_at == T0 + 640 * SEC, "a new session pushes it back");
	CHECK(wg_timers_tick(&t, T0 + 540 * SEC) == 0, "not at the old deadline");
	CHECK(wg_timers_tick(&t, T0 + 640 * SEC) == WG_TIMER_ZERO_KEYS, "zero keys");
}

/* Whether a keypair may be used is tests/wg/test_keypair_use.c; the timers keep the last minute. */
static void lastminute_handshake(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, NULL, NULL);
	struct wg_noise_keypair kp = {.birth_ns = T0, .is_initiator = true};
	atomic_init(&kp.valid, true);
	const uint64_t born = T0;

	CHECK(!wg_timers_lastminute_handshake(
	          &t, wg_keypair_may_open(&kp, &t.d, born + 160 * SEC) == WG_KEYPAIR_REKEY),
	      "too early");
	CHECK(wg_timers_lastminute_handshake(&t, wg_keypair_may_open(&kp, &t.d, born + 166 * SEC) ==
	                                             WG_KEYPAIR_REKEY),
	      "last minute");
	CHECK(!wg_timers_lastminute_handshake(
	          &t, wg_keypair_may_open(&kp, &t.d, born + 167 * SEC) == WG_KEYPAIR_REKEY),
	      "only once");
	wg_timers_handshake_complete(&t, 1);
	CHECK(wg_timers_lastminute_handshake(&t, wg_keypair_may_open(&kp, &t.d, born + 168 * SEC) ==
	                                             WG_KEYPAIR_REKEY),
	      "again after a completed handshake");
}

static void initiation_spacing(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, NULL, NULL);
	CHECK(wg_timers_may_send_initiation(&t, T0, false), "first");
	CHECK(!wg_timers_may_send_initiation(&t, T0, false), "not twice at once");
	t.handshake_attempts = 3;
	CHECK(!wg_timers_may_send_initiation(&t, T0 + 5 * SEC - 1, true), "retry too soon");
	CHECK(t.handshake_attempts == 3, "a retry keeps the attempt count");
	CHECK(!wg_timers_may_send_initiation(&t, T0 + 5 * SEC - 1, false), "too soon");
	CHECK(t.handshake_attempts == 0, "a new request restarts the count even when spaced out");
	CHECK(wg_timers_may_send_initiation(&t, T0 + 5 * SEC, false), "5 s later");

	/* A response we sent counts too, and then holds back even a timer retry (as the kernel). */
	wg_timers_init(&t, NULL, NULL, NULL);
	wg_timers_handshake_initiated(&t, T0);
	wg_timers_handshake_response_sent(&t, T0 + 3 * SEC);
	CHECK(wg_timers_tick(&t, T0 + 5 * SEC) == WG_TIMER_CLEAR_ENDPOINT_SOURCE,
	      "the retry is held back");
	CHECK(!wg_timers_may_send_initiation(&t, T0 + 7 * SEC, false), "response 4 s ago");
	CHECK(wg_timers_may_send_initiation(&t, T0 + 8 * SEC, false), "response 5 s ago");
}

static void expiry_order_within_one_tick(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, NULL, NULL);
	/* Keepalive due before the give-up: it is sent, then the give-up happens. */
	wg_timers_data_received(&t, T0);                 /* keepalive at T0 + 10 s */
	wg_timers_handshake_initiated(&t, T0 + 6 * SEC); /* retransmit at T0 + 11 s */
	t.handshake_attempts = WG_MAX_TIMER_HANDSHAKES + 1;
	CHECK(wg_timers_tick(&t, T0 + 20 * SEC) == (WG_TIMER_SEND_KEEPALIVE | WG_TIMER_GIVE_UP),
	      "both, in deadline order");

	/* Give-up due first: the later keepalive is cancelled before its time. */
	wg_timers_init(&t, NULL, NULL, NULL);
	wg_timers_handshake_initiated(&t, T0); /* retransmit at T0 + 5 s */
	wg_timers_data_received(&t, T0 + SEC); /* keepalive at T0 + 11 s */
	t.handshake_attempts = WG_MAX_TIMER_HANDSHAKES + 1;
	CHECK(wg_timers_tick(&t, T0 + 20 * SEC) == WG_TIMER_GIVE_UP, "keepalive cancelled");

	/* next_deadline is the earliest of everything armed. */
	wg_timers_init(&t, NULL, NULL, NULL);
	wg_timers_set_persistent_keepalive(&t, 3);
	wg_timers_session_derived(&t, T0);
	wg_timers_data_received(&t, T0);
	wg_timers_any_authenticated_packet_traversal(&t, T0);
	CHECK(wg_timers_next_deadline(&t) == T0 + 3 * SEC, "persistent keepalive first");
}

static void stop_and_reset(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, NULL, NULL);
	wg_timers_set_persistent_keepalive(&t, 5);
	wg_timers_data_sent(&t, T0);
	wg_timers_session_derived(&t, T0);
	wg_timers_stop(&t);
	CHECK(wg_timers_next_deadline(&t) == 0, "stop disarms everything");
	wg_timers_data_received(&t, T0);
	wg_timers_handshake_initiated(&t, T0);
	wg_timers_any_authenticated_packet_traversal(&t, T0);
	CHECK(wg_timers_next_deadline(&t) == 0, "a stopped peer arms nothing");
	CHECK(!wg_timers_may_send_initiation(&t, T0 + 100 * SEC, false), "nor initiates");
	CHECK(wg_timers_tick(&t, T0 + 1000 * SEC) == 0, "nothing fires");
	wg_timers_reset(&t);
	CHECK(t.persistent_keepalive_s == 5, "reset keeps the persistent interval");
	wg_timers_any_authenticated_packet_traversal(&t, T0);
	CHECK(wg_timers_next_deadline(&t) == T0 + 5 * SEC, "and arms again");
}

/* With every duration divided by 1000 the same machine runs in milliseconds. */
static void shortened_durations(void)
{
	struct wg_timer_durations d;
	wg_timer_durations_default(&d);
	wg_timer_durations_scale(&d, 1000);
	CHECK(d.rekey_timeout_ns == 5 * MSEC && d.keepalive_timeout_ns == 10 * MSEC &&
	          d.rekey_after_time_ns == 120 * MSEC && d.reject_after_time_ns == 180 * MSEC &&
	          d.rekey_jitter_max_ns == 333 * 1000 && d.max_handshake_attempts == 18,
	      "scaled durations");
	struct wg_timers t;
	wg_timers_init(&t, &d, test_rng, &rng_state);
	uint64_t now = T0;
	wg_timers_may_send_initiation(&t, now, false);
	wg_timers_handshake_initiated(&t, now);
	unsigned sends = 1, bad_gap = 0;
	uint32_t actions = 0;
	while (!(actions & WG_TIMER_GIVE_UP) && sends < 100) {
		uint64_t at = wg_timers_next_deadline(&t);
		bad_gap += !in_range(at - now, 5 * MSEC, 5 * MSEC + 333 * 1000);
		now = at;
		actions = wg_timers_tick(&t, now);
		if (actions & WG_TIMER_SEND_INITIATION) {
			sends++;
			wg_timers_handshake_initiated(&t, now);
		}
	}
	CHECK(sends == WG_MAX_TIMER_HANDSHAKES + 2 && bad_gap == 0,
	      "scaled: %u initiations, %u bad gaps", sends, bad_gap);
	CHECK(t.zero_key_material_at == now + 540 * MSEC, "scaled: zero keys at 540 ms");
	/* The keypair rule reads the same durations. */
	struct wg_noise_keypair kp = {.birth_ns = T0, .is_initiator = true};
	atomic_init(&kp.valid, true);
	CHECK(wg_keypair_may_seal(&kp, &t.d, 0, T0 + 120 * MSEC) == WG_KEYPAIR_REKEY,
	      "scaled rekey");
	CHECK(wg_keypair_may_open(&kp, &t.d, T0 + 165 * MSEC) == WG_KEYPAIR_REKEY,
	      "scaled receive");
	CHECK(wg_keypair_may_seal(&kp, &t.d, 0, T0 + 180 * MSEC) == WG_KEYPAIR_EXPIRED &&
	          wg_keypair_may_open(&kp, &t.d, T0 + 180 * MSEC) == WG_KEYPAIR_EXPIRED,
	      "scaled expiry");
	CHECK(wg_timers_set_persistent_keepalive(&t, 2), "persistent on");
	wg_timers_any_authenticated_packet_traversal(&t, T0);
	CHECK(t.persistent_keepalive_at == T0 + 2 * MSEC, "scaled persistent unit");

	/* Or set individual durations. */
	wg_timer_durations_default(&d);
	d.rekey_after_time_ns = 2 * SEC;
	d.keepalive_timeout_ns = 300 * MSEC;
	wg_timers_init(&t, &d, NULL, NULL);
	wg_timers_data_received(&t, T0);
	CHECK(t.send_keepalive_at == T0 + 300 * MSEC, "custom keepalive timeout");
	CHECK(wg_keypair_may_seal(&kp, &t.d, 0, T0 + 2 * SEC) == WG_KEYPAIR_REKEY,
	      "custom rekey time");
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	retransmit_until_give_up();
	give_up_keeps_earlier_zeroing();
	handshake_complete_stops_retries();
	keepalive_after_receive();
	new_handshake_after_unanswered_send();
	persistent_keepalive();
	zero_keys_after_session();
	lastminute_handshake();
	initiation_spacing();
	expiry_order_within_one_tick();
	stop_and_reset();
	shortened_durations();
	return check_done("timers");
}
