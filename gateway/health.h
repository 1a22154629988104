/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The health socket: a Unix stream socket (cfg->health_socket) served from the control thread,
 * and optionally a loopback TCP listener for Prometheus scraping.
 *
 * Protocol on the Unix socket: one request per connection, one JSON object on one line
 * (at most MG_HEALTH_REQUEST_MAX bytes, newline or end of stream ends it):
 *
 *   {"cmd":"status"}   -> the status document (status.h: mg_status_json)
 *   {"cmd":"peers"}    -> {"peers":[…]}
 *   {"cmd":"routes"}   -> {"routes":[…]}
 *   {"cmd":"metrics"}  -> Prometheus text (not JSON)
 *   {"cmd":"ping","peer":"<base64 public key or overlay IP>","timeout_ms":5000}
 *                      -> {"peer":…,"rtt_ms":…,"via":"data"|"handshake","probe":…}
 *
 * The reply is one document followed by a newline, then the server closes the connection.
 * Errors are {"error":"<sentence>","code":"<bad_request|unknown_command|unknown_peer|timeout|
 * unavailable|too_large>"}. A plain HTTP/1.x GET on the same socket is answered too:
 * /metrics (text/plain; version=0.0.4), /status, /peers and /routes (application/json), so
 * `curl --unix-socket PATH http://x/metrics` works. The TCP listener serves GET /metrics only.
 *
 * Ping: the gateway sends a keepalive (and, when the peer has a host route and the gateway an
 * overlay address of that family, an ICMP echo request through the tunnel, which a stock peer
 * answers), then reports the time until the peer's next authenticated packet arrives. With no
 * session yet the keepalive starts a handshake, and the handshake's round trip is reported.
 *
 * Every connection has a deadline (MG_HEALTH_IO_TIMEOUT_MS to send its request and to take its
 * reply; a ping adds its own timeout); a client past it is dropped. Nothing here blocks.
 */
#ifndef MESHGATE_CONTROL_HEALTH_H
#define MESHGATE_CONTROL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "status.h"

#define MG_HEALTH_REQUEST_MAX     4096
#define MG_HEALTH_MAX_CLIENTS     32
#define MG_HEALTH_IO_TIMEOUT_MS   2000
#define MG_HEALTH_PING_DEFAULT_MS 5000
#define MG_HEALTH_PING_MAX_MS     60000

/* One ping in flight. ping_start fills everything but the result fields. */
struct mg_health_ping {
	char peer[MG_STATUS_KEY_B64]; /* the peer's public key, base64 */
	uint32_t slot;
	uint64_t sent_ns;    /* monotonic, just before the probe left */
	uint64_t base_rx_ns; /* the peer's last authenticated receive when the probe left */
	uint64_t base_hs_ns; /* its last handshake (wall clock) then */
	char probe[32];      /* what was sent: "keepalive", "keepalive+echo", "handshake" */
	/* result, from ping_poll */
	uint64_t rtt_ns;
	char via[16]; /* "data" (an authenticated packet) or "handshake" */
};

/* What the server asks of the gateway. Called on the thread that calls mg_health_poll. */
struct mg_health_ops {
	void *ctx;
	/* Fills st (initialised by the caller, freed by the caller). 0 or a negative errno. */
	int (*snapshot)(void *ctx, struct mg_status *st);
	/* Resolves peer, sends the probe and fills p. 0, or a negative errno (-ENOENT: no such
	 * peer) with err set to a sentence. NULL: pings are answered "unavailable". */
	int (*ping_start)(void *ctx, const char *peer, struct mg_health_ping *p, char *err,
	                  size_t errlen);
	/* 1 when the answer came (p->rtt_ns, p->via set), 0 while waiting, a negative errno when
	 * it never will (the peer was removed). */
	int (*ping_poll)(void *ctx, struct mg_health_ping *p, uint64_t now_ns);
	/* The packet filter in force, rules and counters, as a new JSON object (meshctl filter).
	 * NULL: answered "unavailable". */
	json_t *(*filter)(void *ctx);
	/* STUN, NAT kind, disco and relay facts as a new JSON object (meshctl netcheck). NULL:
	 * answered "unavailable". */
	json_t *(*netcheck)(void *ctx);
};

struct mg_health_config {
	const char *socket_path;    /* required; its directory is created (0755) when missing */
	const char *metrics_listen; /* "127.0.0.1:9586", "[::1]:9586"; NULL or "": no TCP */
};

struct mg_health_server;

/*
 * Binds the socket (mode 0660). A stale socket file nobody listens on is replaced; a live one
 * is -EADDRINUSE. Returns 0 or a negative errno with err set.
 */
int mg_health_start(struct mg_health_server **out, const struct mg_health_config *cfg,
                    const struct mg_health_ops *ops, char *err, size_t errlen);
/*
 * Accepts, reads, answers and times out clients, waiting up to timeout_ms for something to do
 * (0: do not wait). Returns how many clients it made progress with.
 */
unsigned mg_health_poll(struct mg_health_server *s, int timeout_ms);
/* Closes every client and listener and removes the socket file. NULL is fine. */
void mg_health_stop(struct mg_health_server *s);

/* Monotonic nanoseconds (the clock of mg_health_ping.sent_ns). */
uint64_t mg_health_now_ns(void);

/*
 * Gateway side (health_gateway.c, needs DPDK and the control thread): the server with ops over
 * a struct mg_control. Uptime counts from this start (done during bring-up). metrics_listen is
 * the config's metrics.listen (NULL or "": off). The coordinator client reports its state with
 * mg_control_health_set_coord; until then the status says standalone or connecting.
 */
struct mg_control;
struct mg_control_health;
int mg_control_health_start(struct mg_control *ctl, const char *metrics_listen,
                            struct mg_control_health **out, char *err, size_t errlen);
unsigned mg_control_health_poll(struct mg_control_health *h, int timeout_ms);
void mg_control_health_stop(struct mg_control_health *h);
void mg_control_health_set_coord(struct mg_control_health *h, const struct mg_status_coord *c);

#endif
