/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WireGuard's per-peer timers (paper section 6, the Linux module's timers.c) as a pure state
 * machine: no threads, no sockets, no clock of its own. The owner (the control thread) reports
 * events with the "call after ..." functions, calls wg_timers_tick() at or after
 * wg_timers_next_deadline(), and acts on the returned WG_TIMER_* bits. Times are monotonic
 * nanoseconds; a deadline of 0 means unarmed. Not thread-safe: one owner per peer.
 */
#ifndef MESHGATE_WG_TIMERS_H
#define MESHGATE_WG_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "constants.h"

/*
 * The protocol durations, in the struct so tests (and a test-only knob) can shorten them. The
 * keypair rule (wg/keypair_use.h) takes the same struct, so timers and key use scale together.
 */
struct wg_timer_durations {
	uint64_t rekey_after_time_ns;    /* 120 s: initiator rekeys a keypair this old */
	uint64_t reject_after_time_ns;   /* 180 s: keypair unusable; 3x: zero all key material */
	uint64_t rekey_timeout_ns;       /* 5 s: handshake retransmit; initiation spacing */
	uint64_t keepalive_timeout_ns;   /* 10 s: passive keepalive */
	uint64_t rekey_jitter_max_ns;    /* 333 ms: jitter is drawn from [0, this) */
	uint32_t max_handshake_attempts; /* 18 (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT) */
	uint64_t persistent_keepalive_unit_ns; /* 1 s: the unit of the persistent interval */
};

/* Fills in the protocol values. */
void wg_timer_durations_default(struct wg_timer_durations *d);
/* Divides every duration by divisor (>= 1; results of at least 1 ns). For tests only. */
void wg_timer_durations_scale(struct wg_timer_durations *d, uint64_t divisor);

enum wg_timer_action {
	WG_TIMER_SEND_INITIATION = 1u << 0, /* build and send a handshake initiation now */
	WG_TIMER_SEND_KEEPALIVE = 1u << 1,  /* send an empty data packet (or the staged ones) */
	WG_TIMER_ZERO_KEYS = 1u << 2,       /* clear the handshake and every keypair */
	WG_TIMER_CLEAR_ENDPOINT_SOURCE = 1u << 3, /* forget the cached local source address */
	WG_TIMER_GIVE_UP = 1u << 4,               /* handshake abandoned: drop the staged packets */
};

struct wg_timers {
	struct wg_timer_durations d;
	uint16_t persistent_keepalive_s; /* 0: off */
	/* deadlines, monotonic ns; 0: unarmed */
	uint64_t retransmit_handshake_at;
	uint64_t send_keepalive_at;
	uint64_t new_handshake_at;
	uint64_t zero_key_material_at;
	uint64_t persistent_keepalive_at;
	uint32_t handshake_attempts; /* retransmissions of the current handshake */
	bool need_another_keepalive;
	bool sent_lastminute_handshake;
	bool sent_handshake; /* last_sent_handshake_ns is meaningful */
	uint64_t last_sent_handshake_ns;
	uint64_t last_handshake_wall_ns; /* realtime of the last completed handshake; 0: never */
	bool stopped;                    /* events arm nothing until wg_timers_reset */
	void (*rand)(void *ctx, void *buf, size_t len); /* jitter source; NULL: no jitter */
	void *rand_ctx;
};

/* d NULL: protocol defaults. Starts with nothing armed and persistent keepalive off. */
void wg_timers_init(struct wg_timers *t, const struct wg_timer_durations *d,
                    void (*rand)(void *ctx, void *buf, size_t len), void *rand_ctx);
/* Disarms everything; later events arm nothing (peer removed or interface down). */
void wg_timers_stop(struct wg_timers *t);
/* Back to the state of init, keeping durations, RNG and persistent keepalive interval. */
void wg_timers_reset(struct wg_timers *t);
/* Sets the interval (0 = off). True when it was off and is now on: send a keepalive now. */
bool wg_timers_set_persistent_keepalive(struct wg_timers *t, uint16_t seconds);

/* Call after an authenticated data packet (not a keepalive) is sent. */
void wg_timers_data_sent(struct wg_timers *t, uint64_t now_ns);
/* Call after an authenticated data packet (not a keepalive) is received. */
void wg_timers_data_received(struct wg_timers *t, uint64_t now_ns);
/* Call after any authenticated packet is sent: keepalive, data or handshake. */
void wg_timers_any_authenticated_packet_sent(struct wg_timers *t);
/* Call after any authenticated packet is received: keepalive, data or handshake. */
void wg_timers_any_authenticated_packet_received(struct wg_timers *t);
/* Call before any authenticated packet is sent and after one is received. */
void wg_timers_any_authenticated_packet_traversal(struct wg_timers *t, uint64_t now_ns);
/* Call after a handshake initiation was sent. */
void wg_timers_handshake_initiated(struct wg_timers *t, uint64_t now_ns);
/* Call after a handshake response was sent (it counts against the initiation spacing). */
void wg_timers_handshake_response_sent(struct wg_timers *t, uint64_t now_ns);
/* Call after a response was processed, or the first data packet confirmed the keys. */
void wg_timers_handshake_complete(struct wg_timers *t, uint64_t wall_ns);
/* Call after a session key was derived: before sending a response, after receiving one. */
void wg_timers_session_derived(struct wg_timers *t, uint64_t now_ns);

/*
 * Fires every deadline <= now_ns, earliest first, and returns the WG_TIMER_* bits to act on.
 * A SEND_INITIATION returned here has passed the initiation spacing already; after sending it,
 * report wg_timers_handshake_initiated as usual.
 */
uint32_t wg_timers_tick(struct wg_timers *t, uint64_t now_ns);
/* Earliest armed deadline, 0 when nothing is armed. */
uint64_t wg_timers_next_deadline(const struct wg_timers *t);

/*
 * For initiations not triggered by the timers (no usable keypair, a key due for rekey): true when
 * one may be sent now, at most once per REKEY_TIMEOUT. A true answer is recorded as the send time.
 * A non-retry request also restarts the attempt count, so retries go on while traffic waits.
 */
bool wg_timers_may_send_initiation(struct wg_timers *t, uint64_t now_ns, bool is_retry);

/*
 * The kernel's last-minute handshake: true once per handshake when rekey_due, which is
 * wg_keypair_may_open (wg/keypair_use.h) answering WG_KEYPAIR_REKEY for a received packet.
 * Whether a keypair may be used at all is decided there, from these durations.
 */
bool wg_timers_lastminute_handshake(struct wg_timers *t, bool rekey_due);

#endif
