/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A fake Noise host: a far WireGuard peer built from wg/ alone (Noise, a cookie maker per remote
 * and a checker for itself, the reference transport) that a unit test, a fuzz target, the
 * control-thread harness or a benchmark drives by hand. Its static key and ephemerals come from
 * a seeded test_rng stream and its clocks are plain counters (or one counter the caller shares),
 * so every run sends the same bytes at the same instants.
 *
 * It answers the Noise upcalls itself: a remote is found by public key among its own, and every
 * keypair Noise releases is counted (tests assert on that) and then freed.
 *
 * Functions return wg results rather than checking anything, so both CHECK and FUZZ_CHECK
 * callers can use them; a result names the first step that failed.
 */
#ifndef MESHGATE_TESTS_FAKE_HOST_H
#define MESHGATE_TESTS_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cookie.h"
#include "index_table.h"
#include "messages.h"
#include "noise.h"
#include "result.h"

#define FAKE_HOST_MAX_REMOTES 2 /* enough for every user; benchmarks hold thousands */
/* Where the clocks of a fresh host start: the monotonic one, and the wall clock's Unix time. */
#define FAKE_HOST_START_NS (1000 * WG_NSEC_PER_SEC)
#define FAKE_HOST_EPOCH_S  1700000000ULL

struct fake_host {
	const char *name;
	struct wg_index_table *table;
	struct wg_noise_local local;
	struct wg_noise_remote remotes[FAKE_HOST_MAX_REMOTES];
	struct wg_cookie_maker makers[FAKE_HOST_MAX_REMOTES]; /* macs of what goes to remotes[i] */
	struct wg_cookie_checker checker;                     /* mac1 of what is sent to it */
	size_t n_remotes;
	uint8_t priv[WG_KEY_LEN];
	uint64_t rng;     /* test_rng state: ephemerals, indexes, cookie secrets */
	uint64_t now_ns;  /* monotonic */
	uint64_t wall_ns; /* since the Unix epoch, for TAI64N */
	/* When set, the host reads its time here instead, and its wall clock is
	 * FAKE_HOST_EPOCH_S later: a harness that moves one clock moves the host's too. */
	const uint64_t *clock;
	unsigned releases;               /* keypairs Noise handed back */
	bool release_index_still_mapped; /* one of them was still in the index table */
};

/*
 * A host with a static key drawn from test_rng seeded with seed; its stream then goes on from
 * there. Returns WG_OK, or the failing step's result (the host must still be destroyed).
 */
enum wg_result fake_host_init(struct fake_host *h, const char *name, uint64_t seed);
/* Destroys every remote, the local and the index table; the struct may be reused after. */
void fake_host_destroy(struct fake_host *h);

/*
 * Adds pub as the next remote (with a cookie maker for it); *out gets it, or NULL when there is
 * no room. WG_ERR_LOW_ORDER keeps the remote, as Noise does: stored but never usable.
 */
enum wg_result fake_host_add(struct fake_host *h, const uint8_t pub[WG_KEY_LEN],
                             struct wg_noise_remote **out);
/* The remote whose key is pub, or NULL. */
struct wg_noise_remote *fake_host_find(struct fake_host *h, const uint8_t pub[WG_KEY_LEN]);
/* The cookie maker that goes with remote r. */
struct wg_cookie_maker *fake_host_maker(struct fake_host *h, const struct wg_noise_remote *r);
/* The remote r changed its static key: forget its sessions and start over with pub. */
enum wg_result fake_host_relearn(struct fake_host *h, struct wg_noise_remote *r,
                                 const uint8_t pub[WG_KEY_LEN]);

/* The host's monotonic time. */
uint64_t fake_host_now(const struct fake_host *h);
/* The TAI64N timestamp its next initiation carries. */
void fake_host_tai64n(const struct fake_host *h, uint8_t out[WG_TIMESTAMP_LEN]);
/* Moves both of its own clocks (not a shared one) by ns. */
void fake_host_tick(struct fake_host *h, uint64_t ns);

/*
 * A whole handshake in memory between any two Noise locals: ini's initiation, consumed by
 * res_local, which must find res; res's response, consumed by ini_local, which must find ini;
 * then both sessions begin. WG_ERR_UNKNOWN_PEER when a side found another remote.
 */
enum wg_result fake_noise_handshake(struct wg_noise_remote *ini, struct wg_noise_local *res_local,
                                    struct wg_noise_remote *res, struct wg_noise_local *ini_local);
/* The same between two hosts that know each other: ini starts towards its remote to_res. */
enum wg_result fake_host_handshake(struct fake_host *ini, struct wg_noise_remote *to_res,
                                   struct fake_host *res);

/* ---- on the wire, macs included ---- */

/* An initiation to r with mac1 (and mac2 when its maker holds a cookie). */
enum wg_result fake_host_initiation(struct fake_host *h, struct wg_noise_remote *r,
                                    struct wg_msg_initiation *msg);
/*
 * Answers an initiation (len bytes): mac1 checked, consumed, the response built with macs and
 * the session begun. *from (may be NULL) gets the remote it came from.
 */
enum wg_result fake_host_respond(struct fake_host *h, const void *msg, size_t len,
                                 struct wg_msg_response *resp, struct wg_noise_remote **from);
/* Takes a response (len bytes): mac1 checked, consumed, the session begun. */
enum wg_result fake_host_take_response(struct fake_host *h, const void *msg, size_t len,
                                       struct wg_noise_remote **from);

/* Seals plain under r's current keypair (mtu 0: no padding limit) into out. */
enum wg_result fake_host_seal(struct fake_host *h, struct wg_noise_remote *r, const void *plain,
                              size_t len, size_t mtu, uint8_t *out, size_t cap, size_t *out_len);
/*
 * Opens a data message as a WireGuard host does: the first message under a keypair that awaits
 * confirmation confirms it. *plain_len gets the padded length; *kp (may be NULL) the keypair.
 * WG_OK_REKEY is passed through.
 */
enum wg_result fake_host_open(struct fake_host *h, const uint8_t *msg, size_t len, uint8_t *plain,
                              size_t *plain_len, struct wg_noise_keypair **kp);

#endif
