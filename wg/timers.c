// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's five per-peer timers become five deadlines; its expiry handlers become the branches
 * of wg_timers_tick, which reports what to send instead of sending it. Where the kernel arms a
 * timer only while the interface is up and the peer alive, `stopped` plays that part.
 */
#include "timers.h"

#include <string.h>

void wg_timer_durations_default(struct wg_timer_durations *d)
{
	d->rekey_after_time_ns = WG_REKEY_AFTER_TIME_S * WG_NSEC_PER_SEC;
	d->reject_after_time_ns = WG_REJECT_AFTER_TIME_S * WG_NSEC_PER_SEC;
	d->rekey_timeout_ns = WG_REKEY_TIMEOUT_S * WG_NSEC_PER_SEC;
	d->keepalive_timeout_ns = WG_KEEPALIVE_TIMEOUT_S * WG_NSEC_PER_SEC;
	d->rekey_jitter_max_ns = WG_REKEY_TIMEOUT_JITTER_MAX_MS * WG_NSEC_PER_MSEC;
	d->max_handshake_attempts = WG_MAX_TIMER_HANDSHAKES;
	d->persistent_keepalive_unit_ns = WG_NSEC_PER_SEC;
}

static uint64_t scaled(uint64_t ns, uint64_t divisor)
{
	uint64_t v = ns / divisor;
	return v ? v : 1;
}

void wg_timer_durations_scale(struct wg_timer_durations *d, uint64_t divisor)
{
	if (divisor <= 1)
		return;
	d->rekey_after_time_ns = scaled(d->rekey_after_time_ns, divisor);
	d->reject_after_time_ns = scaled(d->reject_after_time_ns, divisor);
	d->rekey_timeout_ns = scaled(d->rekey_timeout_ns, divisor);
	d->keepalive_timeout_ns = scaled(d->keepalive_timeout_ns, divisor);
	d->rekey_jitter_max_ns = d->rekey_jitter_max_ns / divisor; /* 0 is fine: no jitter */
	d->persistent_keepalive_unit_ns = scaled(d->persistent_keepalive_unit_ns, divisor);
}

void wg_timers_init(struct wg_timers *t, const struct wg_timer_durations *d,
                    void (*rand)(void *ctx, void *buf, size_t len), void *rand_ctx)
{
	memset(t, 0, sizeof(*t));
	if (d)
		t->d = *d;
	else
		wg_timer_durations_default(&t->d);
	t->rand = rand;
	t->rand_ctx = rand_ctx;
}

void wg_timers_stop(struct wg_timers *t)
{
	t->retransmit_handshake_at = 0;
	t->send_keepalive_at = 0;
	t->new_handshake_at = 0;
	t->zero_key_material_at = 0;
	t->persistent_keepalive_at = 0;
	t->stopped = true;
}

void wg_timers_reset(struct wg_timers *t)
{
	struct wg_timer_durations d = t->d;
	uint16_t persistent = t->persistent_keepalive_s;
	wg_timers_init(t, &d, t->rand, t->rand_ctx);
	t->persistent_keepalive_s = persistent;
}

/* Saturating: a deadline never wraps, and never reads as "unarmed". */
static uint64_t deadline(uint64_t now_ns, uint64_t after_ns)
{
	uint64_t at = now_ns + after_ns < now_ns ? UINT64_MAX : now_ns + after_ns;
	return at ? at : 1;
}

static void arm(struct wg_timers *t, uint64_t *timer, uint64_t now_ns, uint64_t after_ns)
{
	if (!t->stopped)
		*timer = deadline(now_ns, after_ns);
}

static uint64_t jitter(const struct wg_timers *t)
{
	uint64_t r = 0;
	if (!t->rand || t->d.rekey_jitter_max_ns == 0)
		return 0;
	t->rand(t->rand_ctx, &r, sizeof(r));
	return r % t->d.rekey_jitter_max_ns;
}

bool wg_timers_set_persistent_keepalive(struct wg_timers *t, uint16_t seconds)
{
	bool was_off = t->persistent_keepalive_s == 0;
	t->persistent_keepalive_s = seconds;
	if (!seconds)
		t->persistent_keepalive_at = 0;
	return was_off && seconds && !t->stopped;
}

void wg_timers_data_sent(struct wg_timers *t, uint64_t now_ns)
{
	if (!t->new_handshake_at)
		arm(t, &t->new_handshake_at, now_ns,
		    t->d.keepalive_timeout_ns + t->d.rekey_timeout_ns + jitter(t));
}

void wg_timers_data_received(struct wg_timers *t, uint64_t now_ns)
{
	if (t->stopped)
		return;
	if (!t->send_keepalive_at)
		arm(t, &t->send_keepalive_at, now_ns, t->d.keepalive_timeout_ns);
	else
		t->need_another_keepalive = true;
}

void wg_timers_any_authenticated_packet_sent(struct wg_timers *t)
{
	t->send_keepalive_at = 0;
}

void wg_timers_any_authenticated_packet_received(struct wg_timers *t)
{
	t->new_handshake_at = 0;
}

void wg_timers_any_authenticated_packet_traversal(struct wg_timers *t, uint64_t now_ns)
{
	if (t->persistent_keepalive_s)
		arm(t, &t->persistent_keepalive_at, now_ns,
		    t->persistent_keepalive_s * t->d.persistent_keepalive_unit_ns);
}

void wg_timers_handshake_initiated(struct wg_timers *t, uint64_t now_ns)
{
	arm(t, &t->retransmit_handshake_at, now_ns, t->d.rekey_timeout_ns + jitter(t));
	t->sent_handshake = true;
	t->last_sent_handshake_ns = now_ns;
}

void wg_timers_handshake_response_sent(struct wg_timers *t, uint64_t now_ns)
{
	t->sent_handshake = true;
	t->last_sent_handshake_ns = now_ns;
}

void wg_timers_handshake_complete(struct wg_timers *t, uint64_t wall_ns)
{
	t->retransmit_handshake_at = 0;
	t->handshake_attempts = 0;
	t->sent_lastminute_handshake = false;
	t->last_handshake_wall_ns = wall_ns;
}

void wg_timers_session_derived(struct wg_timers *t, uint64_t now_ns)
{
	arm(t, &t->zero_key_material_at, now_ns, 3 * t->d.reject_after_time_ns);
}

/* The kernel's spacing test: at most one initiation (or response) per REKEY_TIMEOUT. */
static bool initiation_spaced(const struct wg_timers *t, uint64_t now_ns)
{
	if (!t->sent_handshake)
		return true;
	return now_ns >= t->last_sent_handshake_ns &&
	       now_ns - t->last_sent_handshake_ns >= t->d.rekey_timeout_ns;
}

bool wg_timers_may_send_initiation(struct wg_timers *t, uint64_t now_ns, bool is_retry)
{
	if (!is_retry)
		t->handshake_attempts = 0;
	if (t->stopped || !initiation_spaced(t, now_ns))
		return false;
	/* Stamped before the message is built, as the kernel does, so a burst asks only once. */
	t->sent_handshake = true;
	t->last_sent_handshake_ns = now_ns;
	return true;
}

static uint32_t expired_retransmit_handshake(struct wg_timers *t, uint64_t now_ns)
{
	if (t->handshake_attempts > t->d.max_handshake_attempts) {
		/* Out of attempts: drop what waits for a key, and clean up what a partial
		 * exchange left behind unless that is already scheduled. */
		t->send_keepalive_at = 0;
		if (!t->zero_key_material_at)
			arm(t, &t->zero_key_material_at, now_ns, 3 * t->d.reject_after_time_ns);
		return WG_TIMER_GIVE_UP;
	}
	t->handshake_attempts++;
	/* A stale source address may be why no answer came. */
	uint32_t actions = WG_TIMER_CLEAR_ENDPOINT_SOURCE;
	if (wg_timers_may_send_initiation(t, now_ns, true))
		actions |= WG_TIMER_SEND_INITIATION;
	return actions;
}

static uint32_t expired_send_keepalive(struct wg_timers *t, uint64_t now_ns)
{
	if (t->need_another_keepalive) {
		t->need_another_keepalive = false;
		arm(t, &t->send_keepalive_at, now_ns, t->d.keepalive_timeout_ns);
	}
	return WG_TIMER_SEND_KEEPALIVE;
}

static uint32_t expired_new_handshake(struct wg_timers *t, uint64_t now_ns)
{
	uint32_t actions = WG_TIMER_CLEAR_ENDPOINT_SOURCE;
	if (wg_timers_may_send_initiation(t, now_ns, false))
		actions |= WG_TIMER_SEND_INITIATION;
	return actions;
}

static uint32_t expired_persistent_keepalive(struct wg_timers *t)
{
	return t->persistent_keepalive_s ? WG_TIMER_SEND_KEEPALIVE : 0;
}

uint64_t wg_timers_next_deadline(const struct wg_timers *t)
{
	const uint64_t all[] = {t->retransmit_handshake_at, t->send_keepalive_at,
	                        t->new_handshake_at, t->zero_key_material_at,
	                        t->persistent_keepalive_at};
	uint64_t next = 0;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] && (!next || all[i] < next))
			next = all[i];
	return next;
}

uint32_t wg_timers_tick(struct wg_timers *t, uint64_t now_ns)
{
	uint32_t actions = 0;
	/* Earliest first, as real timers would fire: one expiry can disarm or arm another. */
	for (;;) {
		uint64_t *timers[] = {&t->retransmit_handshake_at, &t->send_keepalive_at,
		                      &t->new_handshake_at, &t->zero_key_material_at,
		                      &t->persistent_keepalive_at};
		uint64_t *due = NULL;
		for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
			if (*timers[i] && *timers[i] <= now_ns && (!due || *timers[i] < *due))
				due = timers[i];
		if (!due)
			return actions;
		*due = 0;
		if (due == &t->retransmit_handshake_at)
			actions |= expired_retransmit_handshake(t, now_ns);
		else if (due == &t->send_keepalive_at)
			actions |= expired_send_keepalive(t, now_ns);
		else if (due == &t->new_handshake_at)
			actions |= expired_new_handshake(t, now_ns);
		else if (due == &t->zero_key_material_at)
			actions |= WG_TIMER_ZERO_KEYS;
		else
			actions |= expired_persistent_keepalive(t);
	}
}

bool wg_timers_lastminute_handshake(struct wg_timers *t, bool rekey_due)
{
	if (t->sent_lastminute_handshake || !rekey_due)
		return false;
	t->sent_lastminute_handshake = true;
	return true;
}
