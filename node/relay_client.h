/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A node's connection to meshgate-relay (docs/relay-protocol.md): TLS to the relay, the HTTP
 * upgrade, proof of the node's WireGuard key, then packets addressed by public key.
 *
 * Connecting blocks (bounded by timeout_ms). After that the session is non-blocking and
 * poll-driven: wait on mg_relay_client_fd() for mg_relay_client_events(), then call
 * mg_relay_client_recv() until it returns 0 and mg_relay_client_flush() when output is pending.
 * One thread per client at a time; several clients may live on one thread (bench/relay_load.c).
 *
 * The packets are WireGuard messages exactly as sent over UDP; this library never looks inside.
 */
#ifndef MESHGATE_NODE_RELAY_CLIENT_H
#define MESHGATE_NODE_RELAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay_rtt.h"

#define MG_RELAY_MAX_PACKET 65535

struct mg_relay_client;

struct mg_relay_client_config {
	const char *host; /* address or DNS name of the relay */
	uint16_t port;
	const char *server_name; /* the name its certificate must carry; NULL: host */
	const char *ca_file;     /* PEM trust anchors; NULL: the system's (ignored with tls_ctx) */
	void *tls_ctx;           /* a shared SSL_CTX from mg_relay_tls_ctx_new, or NULL */
	const char *bind_addr;   /* numeric local source address, or NULL */
	const uint8_t *private_key; /* the node's WireGuard private key (32 bytes) */
	int timeout_ms;             /* connect, TLS, upgrade and proof; 0: 10 s */
	size_t queue_bytes;         /* bound of the outgoing queue; 0: 256 KiB */
	uint32_t fwmark; /* SO_MARK on the TCP socket, so policy routing keeps it out of a tunnel;
	                    0: none */
};

enum mg_relay_msg_type {
	MG_RELAY_MSG_PACKET = 1, /* key: the sender; data, len: its WireGuard message */
	MG_RELAY_MSG_PEER_GONE,  /* key: a destination the relay does not know */
	MG_RELAY_MSG_PONG,       /* data, len: the 8 bytes of our PING */
};

struct mg_relay_msg {
	enum mg_relay_msg_type type;
	uint8_t key[32];
	const uint8_t *data; /* valid until the next call on this client */
	size_t len;
	uint8_t reason; /* PEER_GONE */
};

struct mg_relay_client_stats {
	uint64_t sent, received, dropped_queue_full, bytes_sent, bytes_received;
};

/* An SSL_CTX (as void *) that many clients can share; NULL on failure (err says why). */
void *mg_relay_tls_ctx_new(const char *ca_file, char *err, size_t errlen);
void mg_relay_tls_ctx_free(void *ctx);

/*
 * Connects and authenticates. On failure returns NULL with err holding the reason, including
 * the relay's own reason when it refused ("relay refused the proof: bad_proof: ...").
 */
struct mg_relay_client *mg_relay_client_connect(const struct mg_relay_client_config *cfg, char *err,
                                                size_t errlen);
void mg_relay_client_close(struct mg_relay_client *c);

int mg_relay_client_fd(const struct mg_relay_client *c);
/* POLLIN, plus POLLOUT while output is pending or TLS needs to write. */
short mg_relay_client_events(const struct mg_relay_client *c);
/* The relay's public X25519 key (from its challenge) and keepalive interval. */
const uint8_t *mg_relay_client_relay_key(const struct mg_relay_client *c);
const uint8_t *mg_relay_client_public_key(const struct mg_relay_client *c);

/*
 * Queues a packet for dst. Returns 0 when queued, 1 when dropped because the queue is full
 * (counted), -1 when the client is broken or len is 0 or over MG_RELAY_MAX_PACKET.
 */
int mg_relay_client_send(struct mg_relay_client *c, const uint8_t dst[32], const void *pkt,
                         size_t len);
int mg_relay_client_ping(struct mg_relay_client *c, const uint8_t data[8]);
/* The round-trip measurement (relay_rtt.h): queues its PING when one is due (1), else 0. The
 * owner calls it now and then and flushes as usual; recv records the matching PONG (and still
 * returns it). */
int mg_relay_client_rtt_tick(struct mg_relay_client *c);
const struct mg_relay_rtt *mg_relay_client_rtt(const struct mg_relay_client *c);
/* Writes what it can. 0: all written, 1: output still pending, -1: broken. */
int mg_relay_client_flush(struct mg_relay_client *c);
/* 1: *m holds a message, 0: nothing more without waiting, -1: closed or broken (see error). */
int mg_relay_client_recv(struct mg_relay_client *c, struct mg_relay_msg *m);
/* recv, waiting up to timeout_ms (flushing meanwhile). 0 on timeout. */
int mg_relay_client_recv_wait(struct mg_relay_client *c, struct mg_relay_msg *m, int timeout_ms);
/* Bytes queued and not yet handed to TLS. */
size_t mg_relay_client_pending(const struct mg_relay_client *c);

/* Why the client broke (a relay ERROR frame's reason, or the I/O failure). */
const char *mg_relay_client_error(const struct mg_relay_client *c);
void mg_relay_client_get_stats(const struct mg_relay_client *c, struct mg_relay_client_stats *st);

#endif
