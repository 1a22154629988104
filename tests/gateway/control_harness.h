/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A test bench for the control thread: the real struct mg_control brought up over two ring
 * ports, its one worker initialised but driven by hand on the test's thread, every clock (the
 * gateway's, its worker's and the far peers') an injected counter, and far WireGuard peers
 * (tests/support's fake Noise hosts) that the test runs itself. Nothing sleeps: time moves only
 * through h_step/h_run, which poll the control loop once per step, so results do not depend on how
 * loaded the machine is.
 *
 * Frames the gateway sends on either port are copied into the wire log (H.wire), in order,
 * stamped with the injected time; tests look for them by destination and message type.
 */
#ifndef MESHGATE_TESTS_CONTROL_HARNESS_H
#define MESHGATE_TESTS_CONTROL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>

#include "cookie.h"
#include "device.h" /* gateway/control.h: struct mg_control */
#include "fake_host.h"
#include "handshake.h"
#include "index_table.h"
#include "noise.h"

#define H_LISTEN    51820
#define H_MTU       1420
#define H_DIVISOR   100 /* protocol timers divided by this (cfg.test_timer_divisor) */
#define H_FRAME_MAX 1600
#define H_WIRE_MAX  8192
#define H_MS        1000000ull
#define H_US        1000ull

/* The far peers. A-D are in the start-up configuration; E is added live. */
enum { FAR_A, FAR_B, FAR_C, FAR_D, FAR_E, FAR_COUNT };
#define FAR_CONFIGURED 4

struct far {
	const char *name;
	uint8_t ep[4]; /* its outer address on the mesh subnet */
	uint16_t port;
	struct rte_ether_addr mac;
	struct mg_prefix prefix; /* its allowed IPs at the gateway */
	uint8_t inner[4];        /* a host inside prefix */
	struct fake_host host;   /* on H.now; its checker checks mac1 of what the gateway sends */
	struct wg_noise_remote *remote; /* its view of the gateway */
	struct wg_cookie_maker *maker;  /* macs of what it sends to the gateway */
};

struct frame {
	uint64_t at;
	uint8_t port;
	uint16_t len;
	uint8_t b[H_FRAME_MAX];
};

struct harness {
	struct mg_control *ctl;
	struct mg_worker *w;
	uint64_t now;
	struct far far[FAR_COUNT];
	struct frame *wire;
	unsigned n_wire, wire_lost;
	char uapi_dir[64];
};

extern struct harness H;

/* Set before h_setup: handshake lcores (lcores.handshake) the gateway gets, and whether they
 * run on threads of their own (true) or are polled by h_pump on the test's thread. */
extern unsigned h_hs_lcores;
extern bool h_hs_threads;

/* The gateway's addresses (its ports' MACs as the ring devices have them) and the LAN host. */
extern const uint8_t h_lan4[4], h_mesh4[4], h_host4[4];
extern struct rte_ether_addr h_lan_mac, h_mesh_mac;
extern const struct rte_ether_addr h_host_mac;

/* Called by h_setup on the start-up configuration, when set, before the gateway comes up. */
extern void (*h_config_hook)(struct mg_config *cfg);
/* 0, or -1 after printing why. */
int h_setup(const char *prog);
void h_teardown(void);

/* Pushes the worker's buffers, polls the control loop until it is idle, logs what went out. */
void h_pump(void);
/* Moves the clock by ns and pumps. */
void h_step(uint64_t ns);
/* h_step(step) until total ns have passed. */
void h_run(uint64_t total, uint64_t step);
/* h_step(step) until the clock reaches at (no-op when it has). */
void h_run_until(uint64_t at, uint64_t step);

/* A frame as received on port, from the port's pool. */
struct rte_mbuf *h_mbuf(int port, const uint8_t *bytes, size_t len);
/* Hands frames to the worker as one receive burst (no pump). */
void h_rx(struct rte_mbuf **m, unsigned n);
/* One frame in, then pump. */
void h_inject(int port, const uint8_t *bytes, size_t len);
/* Puts a frame on the punt ring directly, as a worker would, with the given metadata. */
void h_punt(struct rte_mbuf *m, int kind, uint16_t l3_offset, const struct mg_sockaddr *src);

/* The peer the gateway holds for far x (NULL when it has none). */
struct mg_peer *h_peer(const struct far *x);
/* A peer configuration for far x (allowed IPs malloc'd: the gateway frees them). */
int h_peer_config(const struct far *x, struct mg_peer_config *pc);
/* Static ARP entries for every far peer and the LAN host, as if they had answered. */
void h_neigh_refresh(void);

/* ---- frames ---- */

struct udp_view {
	const uint8_t *eth;
	uint8_t src[4], dst[4];
	uint16_t sport, dport;
	uint8_t ttl;
	const uint8_t *payload;
	uint16_t len;
};

/* An IPv4/UDP frame with valid IP and UDP checksums; false otherwise. */
bool h_udp4(const struct frame *f, struct udp_view *v);
/* Mesh frames from index from on that went to x's endpoint holding a WireGuard message of
 * type (0: any); the indexes of the first max go to idx. Returns how many there were. */
unsigned h_find(unsigned from, const struct far *x, int type, unsigned *idx, unsigned max);
/* Mesh frames from index from on, any destination, of the WireGuard type (0: any). */
unsigned h_count_mesh(unsigned from, int type);
/* LAN frames from index from on. */
unsigned h_count_lan(unsigned from);

/* An inner IPv4 packet (protocol 253) carrying seq right after its header. Returns its
 * length, which varies with seq. */
size_t h_inner(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint32_t seq, uint8_t ttl);
/* Reads an inner packet back: false unless it is one of h_inner's with a valid header. */
bool h_inner_parse(const uint8_t *p, size_t len, uint8_t *src, uint8_t *dst, uint32_t *seq,
                   uint8_t *ttl);
/* Ethernet + IPv4 + UDP around msg from x's endpoint to the gateway's listen port. */
size_t h_mesh_frame(uint8_t *out, const struct far *x, const uint8_t src[4], uint16_t sport,
                    const void *msg, size_t len);
/* A LAN frame from the host to dst carrying seq. */
size_t h_lan_frame(uint8_t *out, const uint8_t dst[4], uint32_t seq);
/* The LAN host sends seq to dst (then pump). */
void h_lan_send(const uint8_t dst[4], uint32_t seq);

/* ---- far peers ---- */

/* Builds an initiation to the gateway with mac1 (and mac2 when x holds a cookie). */
void far_initiation(struct far *x, struct wg_msg_initiation *msg);
/* Sends a WireGuard message from x's endpoint (then pump). */
void far_send(struct far *x, const void *msg, size_t len);
/* Seals an inner packet carrying seq under x's current keypair and sends it. */
bool far_send_data(struct far *x, uint32_t seq);
bool far_send_keepalive(struct far *x);
/*
 * Opens a data message the gateway sent to x; confirms x's next keypair on first use. Returns
 * the wg result; *inner_len gets the unpadded length (0: keepalive), *counter the nonce.
 */
int far_open(struct far *x, const uint8_t *msg, size_t len, uint8_t *plain, size_t *inner_len,
             uint64_t *counter);
/* Re-keys x's view of the gateway after the gateway's static key changed. */
void far_learn_gateway_key(struct far *x, const uint8_t pub[WG_KEY_LEN]);
/* x consumes the gateway's last initiation logged from index from on (mac1 checked) and builds
 * its response, macs included, starting its session. */
bool far_build_response(struct far *x, unsigned from, struct wg_msg_response *resp);
/*
 * x answers the gateway's last initiation logged from index from on: checks its mac1, consumes
 * it, sends the response (then pump). False when there was none or it did not verify.
 */
bool far_answer_initiation(struct far *x, unsigned from);
/* x takes the gateway's last response logged from index from on: mac1, consume, session. */
bool far_take_response(struct far *x, unsigned from);
/*
 * A whole handshake x starts: initiation, the gateway's response, then data packet seq, which
 * confirms the gateway's new keypair and must come out on the LAN. Waits out the gateway's
 * 20 ms initiation flood limit first.
 */
bool far_handshake(struct far *x, uint32_t seq);

/* ---- the sections (test_control.c, test_control_sections.c) ---- */

void test_far_initiates(void);
void test_staged(void);
void test_rekey_after_time(void);
void test_keepalives(void);
void test_retransmit_and_give_up(void);
void test_zero_keys(void);
void test_under_load(void);
void test_unproven_budget(void);
void test_device_changes(void);
void test_private_key_change(void);
void test_netmap_sink(void);
void test_bad_handshakes(void);
void test_filter_enforced(void);

#endif
