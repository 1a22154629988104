// SPDX-License-Identifier: GPL-2.0-only
/*
 * Whether a lcore that answers handshakes (the control lcore or a handshake lcore) is under
 * load, so that an initiation must carry a cookie (a valid mac2) before it is given a DH.
 *
 * Two triggers, each making the state sticky for MG_HS_LOAD_STICKY_NS, as the kernel's is:
 * - the queue of handshake messages waiting for the lcore is 1/8 full (the kernel's rule);
 * - more than MG_HS_UNPROVEN_PER_WINDOW initiations without a cookie reached the DH within
 *   MG_HS_LOAD_WINDOW_NS. A lcore that keeps pace with a flood of initiations from spoofed
 *   addresses never lets its queue back up, but spends its CPU, shared with a worker or the
 *   control loop, on DH for senders that never proved their address; the queue alone let a
 *   20,000/s flood take about a tenth of a core that way (bench/README.md, "Handshake flood").
 *
 * One per lcore, owned by it: no locking.
 */
#ifndef MESHGATE_GATEWAY_HS_LOAD_H
#define MESHGATE_GATEWAY_HS_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#define MG_HS_LOAD_STICKY_NS (1000ull * 1000 * 1000)
#define MG_HS_LOAD_WINDOW_NS (100ull * 1000 * 1000)
/* 5,000 a second: about four fifths of a core at the ~160 µs a responder handshake takes here
 * (bench/README.md, "Handshake lcores"), so a legitimate burst below that rate is not asked for
 * cookies. */
#define MG_HS_UNPROVEN_PER_WINDOW 500u

struct mg_hs_load {
	bool loaded;
	uint64_t last_loaded_ns; /* when a trigger last held */
	uint64_t window_start_ns;
	uint32_t unproven; /* initiations given a DH without a cookie in this window */
};

/* Judges the load before a handshake message is checked; queued and capacity describe the
 * lcore's queue of waiting messages at that moment. */
bool mg_hs_load_under(struct mg_hs_load *l, unsigned queued, unsigned capacity, uint64_t now_ns);

/* Call after an initiation passed mac1 without being asked for mac2 (so it goes on to the DH). */
void mg_hs_load_unproven(struct mg_hs_load *l, uint64_t now_ns);

#endif
