/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Disco: the path discovery messages nodes exchange directly and through the relay (ping, pong,
 * call-me-maybe), sealed with libsodium's crypto_box between the two nodes' WireGuard keys, so
 * neither a relay nor an on-path host can read or forge them. docs/nat-traversal.md has the
 * wire format.
 *
 *   "MGdsc" | version (1) | sender public key (32) | nonce (24) | crypto_box (16 + plaintext)
 *   plaintext: type (1) | flags (1, 0) | txid (12) | sender time, unix ms (8, BE) | body
 *
 * Replays are refused by a per-peer window of the last MG_DISCO_WINDOW messages' nonces and
 * sender times: a message must be new to the window and, once the window is full, newer than
 * its oldest entry (so what was pushed out cannot come back). Every refusal has a reason and is
 * counted in the receiving node's stats.
 */
#ifndef MESHGATE_NODE_DISCO_H
#define MESHGATE_NODE_DISCO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define MG_DISCO_MAGIC     "MGdsc"
#define MG_DISCO_MAGIC_LEN 5
#define MG_DISCO_VERSION   1
#define MG_DISCO_TXID_LEN  12
#define MG_DISCO_NONCE_LEN 24
#define MG_DISCO_HDR_LEN   (MG_DISCO_MAGIC_LEN + 1 + 32 + MG_DISCO_NONCE_LEN) /* 62 */
#define MG_DISCO_MAC_LEN   16
#define MG_DISCO_PLAIN_HDR 22
#define MG_DISCO_EP_LEN    20 /* family (1), zero (1), port (2, BE), address (16) */
#define MG_DISCO_MAX_EPS   16
#define MG_DISCO_MAX_PLAIN (MG_DISCO_PLAIN_HDR + 1 + MG_DISCO_MAX_EPS * MG_DISCO_EP_LEN)
#define MG_DISCO_MAX_LEN   (MG_DISCO_HDR_LEN + MG_DISCO_MAC_LEN + MG_DISCO_MAX_PLAIN)
#define MG_DISCO_WINDOW    64
/* Default for mg_disco_node.max_skew_ms: how far a sender's clock may be from ours. */
#define MG_DISCO_DEFAULT_SKEW_MS (10ull * 60 * 1000)
/* The source a pong through the relay carries: the relay hides the real one, and a pong that
 * came that way proves nothing about an endpoint (only the relay's round trip). Loopback, so the
 * coordinator would never accept it as anyone's endpoint. */
#define MG_DISCO_RELAY_SRC "127.3.3.40:1"

enum mg_disco_type {
	MG_DISCO_PING = 1,
	MG_DISCO_PONG = 2,          /* txid: the ping's; body: the ping's source as seen */
	MG_DISCO_CALL_ME_MAYBE = 3, /* body: the sender's candidate endpoints */
};

enum mg_disco_result {
	MG_DISCO_OK = 0,
	MG_DISCO_ERR_SHORT,      /* shorter than header + MAC + plaintext header */
	MG_DISCO_ERR_TOO_LONG,   /* over MG_DISCO_MAX_LEN */
	MG_DISCO_ERR_MAGIC,      /* not disco */
	MG_DISCO_ERR_VERSION,    /* a version we do not speak */
	MG_DISCO_ERR_WRONG_PEER, /* sender key is not the peer's we were given */
	MG_DISCO_ERR_FORGED,     /* the box does not open: forged, corrupted, or not for us */
	MG_DISCO_ERR_TYPE,       /* unknown message type or non-zero flags */
	MG_DISCO_ERR_BODY,       /* body size or endpoint encoding wrong for the type */
	MG_DISCO_ERR_REPLAY,     /* nonce already in the window */
	MG_DISCO_ERR_STALE,      /* older than everything the full window remembers */
	MG_DISCO_ERR_SKEW,       /* sender time further than max_skew_ms from ours */
	MG_DISCO_ERR_COUNT
};

const char *mg_disco_result_str(enum mg_disco_result r);

struct mg_disco_msg {
	enum mg_disco_type type;
	uint8_t txid[MG_DISCO_TXID_LEN];
	uint64_t sent_ms;       /* sender's clock, unix ms */
	struct mg_sockaddr src; /* PONG */
	struct mg_sockaddr eps[MG_DISCO_MAX_EPS];
	unsigned n_eps; /* CALL_ME_MAYBE */
};

struct mg_disco_stats {
	uint64_t sealed, opened;
	uint64_t refused[MG_DISCO_ERR_COUNT];
};

/* This node: its WireGuard key pair and what it refused. */
struct mg_disco_node {
	uint8_t sk[32], pk[32];
	uint64_t max_skew_ms; /* 0: no clock check (the window alone still refuses replays) */
	struct mg_disco_stats stats;
};

struct mg_disco_seen {
	uint8_t nonce_tag[8]; /* nonces are random: 64 bits tell them apart */
	uint64_t sent_ms;
};

/* One peer: its key, the shared box key, and the replay window for what it sends us. */
struct mg_disco_peer {
	uint8_t pk[32];
	uint8_t shared[32]; /* crypto_box_beforenm */
	struct mg_disco_seen seen[MG_DISCO_WINDOW];
	unsigned n_seen;
};

/* Sets up the node from its private key (derives the public one). Returns 0 or -1. */
int mg_disco_node_init(struct mg_disco_node *n, const uint8_t sk[32]);
void mg_disco_node_clear(struct mg_disco_node *n);

/* Precomputes the shared key. -1 for a key crypto_box refuses (low order, ours). */
int mg_disco_peer_init(struct mg_disco_peer *p, const struct mg_disco_node *self,
                       const uint8_t peer_pk[32]);
void mg_disco_peer_clear(struct mg_disco_peer *p);

/* True when buf starts with the disco magic: the demultiplexer's test, before any crypto. */
bool mg_disco_is_disco(const uint8_t *buf, size_t len);
/* The claimed sender key (to find the peer), or NULL when not disco. */
const uint8_t *mg_disco_sender(const uint8_t *buf, size_t len);

/*
 * Seals m (type, txid, src or eps; sent_ms is set to now_ms) for peer into out. A fresh random
 * nonce per message. Returns the length, or 0 when cap is too small or m is invalid.
 */
size_t mg_disco_seal(struct mg_disco_node *self, const struct mg_disco_peer *peer,
                     struct mg_disco_msg *m, uint64_t now_ms, uint8_t *out, size_t cap);

/*
 * Opens a message from peer (found by mg_disco_sender): checks, decrypts, parses, and checks
 * the replay window and clock; only then records it in the window. now_ms is this node's unix
 * time in ms. Counts the outcome in self->stats.
 */
enum mg_disco_result mg_disco_open(struct mg_disco_node *self, struct mg_disco_peer *peer,
                                   const uint8_t *buf, size_t len, uint64_t now_ms,
                                   struct mg_disco_msg *out);

/* A random transaction id for a new ping. */
void mg_disco_new_txid(uint8_t txid[MG_DISCO_TXID_LEN]);

#endif
