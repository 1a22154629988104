/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay server's shared state: one libevent loop on one thread. Connections (conn.c) are
 * TLS bufferevents; authenticated nodes are found by public key in `local`, keys connected to a
 * peer relay of the mesh in `remote` (mesh.c). Nothing here holds a key that opens a payload.
 */
#ifndef MESHGATE_RELAY_RELAY_H
#define MESHGATE_RELAY_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "keytab.h"
#include "metrics.h"

struct relay_conn;
struct relay_mesh_link;
struct relay_stun;
struct evbuffer;

struct relay_server {
	struct event_base *base;
	const struct relay_config *cfg;
	SSL_CTX *tls;      /* accepting */
	SSL_CTX *mesh_tls; /* dialling peer relays */
	struct evconnlistener *listener;
	struct event *tick;
	struct event *sigs[2];
	uint8_t relay_sk[32], relay_pk[32];

	struct keytab local;  /* node key -> struct relay_conn */
	struct keytab remote; /* node key -> struct relay_mesh_link (connected to a peer relay) */
	struct keytab per_ip; /* padded address -> (uintptr_t) connection count */
	struct relay_conn *conns;      /* every connection, for the 1 s sweep */
	struct relay_conn *mesh_in;    /* peer relays that dialled us (presence goes to them) */
	struct relay_mesh_link *links; /* the peer relays we dial */
	size_t n_links;

	struct relay_metrics m;
	struct evhttp *http;
	struct relay_stun *stun;   /* NULL: no stun section */
	struct relay_admit *admit; /* NULL: every node that proves its key is served */
	FILE *tap;
	bool stopping;
};

/* OpenSSL's read buffer with read-ahead: four full TLS records per read(2). */
#define RELAY_TLS_READ_BUF (4 * (16384 + 512))

uint64_t relay_now_ms(void);

/* server.c */
int relay_server_init(struct relay_server *s, struct event_base *base,
                      const struct relay_config *cfg, char *err, size_t errlen);
void relay_server_free(struct relay_server *s);
/* The TLS exporter that proofs are bound to; 0 or -1. */
int relay_tls_exporter(SSL *ssl, uint8_t out[32]);

/* conn.c */
void relay_conn_accept(struct relay_server *s, int fd, const struct sockaddr *sa, int salen);
/* The 1 s sweep: deadlines, keepalives. */
void relay_conns_tick(struct relay_server *s, uint64_t now);
void relay_conns_close_all(struct relay_server *s);
/*
 * Delivers one packet to a local node, moving plen bytes from src_buf (an evbuffer) to its
 * queue. Returns false (counted) when the queue is full; the bytes are drained either way.
 */
bool relay_conn_deliver(struct relay_server *s, struct relay_conn *to, const uint8_t src[32],
                        struct evbuffer *src_buf, uint32_t plen);
/* Sends a presence frame to every peer relay that dialled us. */
void relay_conns_announce(struct relay_server *s, uint8_t type, const uint8_t key[32]);

/* mesh.c */
int relay_mesh_start(struct relay_server *s);
void relay_mesh_stop(struct relay_server *s);
/* Forwards a packet to the peer relay holding dst; false (counted) when its queue is full. */
bool relay_mesh_forward(struct relay_server *s, struct relay_mesh_link *l, const uint8_t src[32],
                        const uint8_t dst[32], struct evbuffer *src_buf, uint32_t plen);
/* Mesh links that are authenticated and up. */
unsigned relay_mesh_links_up(const struct relay_server *s);
void relay_mesh_tick(struct relay_server *s, uint64_t now);

/* stun_server.c: STUN Binding on the stun.listen UDP sockets. */
int relay_stun_start(struct relay_server *s, char *err, size_t errlen);
void relay_stun_stop(struct relay_server *s);
void relay_stun_metrics(struct relay_server *s, struct evbuffer *b);

/* tap.c (test.tap_file) */
void relay_tap(struct relay_server *s, const uint8_t src[32], const uint8_t dst[32],
               struct evbuffer *buf, uint32_t plen);

#endif
