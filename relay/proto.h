/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay protocol's constants (docs/relay-protocol.md is the contract; node/relay_client.c
 * keeps its own copy of the few it needs, as the coordinator protocol's two sides do).
 */
#ifndef MESHGATE_RELAY_PROTO_H
#define MESHGATE_RELAY_PROTO_H

#define RELAY_PROTO_VERSION 1
#define RELAY_HDR_LEN       5 /* type u8, body length u32 big-endian */
#define RELAY_KEY_LEN       32
#define RELAY_CHALLENGE_LEN 32
#define RELAY_EXPORTER_LEN  32
/* The largest UDP payload: a WireGuard message never exceeds it. */
#define RELAY_MAX_PACKET 65535
/* The largest body of any frame (MESH_FORWARD: two keys and a packet). */
#define RELAY_MAX_BODY (2 * RELAY_KEY_LEN + RELAY_MAX_PACKET)
/* The HTTP upgrade request and response, headers included. */
#define RELAY_UPGRADE_MAX    4096
#define RELAY_MESH_NAME_MAX  63
#define RELAY_ERROR_TEXT_MAX 200
/* Keys per MESH_PRESENT / MESH_ABSENT frame. */
#define RELAY_MESH_KEYS_MAX 1024

#define RELAY_EXPORTER_LABEL "EXPORTER-meshgate-relay-v1"
#define RELAY_PROOF_CONTEXT  "meshgate-relay-v1"
#define RELAY_MESH_CONTEXT   "meshgate-relay-mesh-v1"
/* context || challenge || TLS exporter */
#define RELAY_PROOF_MSG_LEN \
	(sizeof(RELAY_PROOF_CONTEXT) - 1 + RELAY_CHALLENGE_LEN + RELAY_EXPORTER_LEN)
/* node key || nonce || crypto_box(M) */
#define RELAY_PROOF_BODY_LEN     (RELAY_KEY_LEN + 24 + RELAY_PROOF_MSG_LEN + 16)
#define RELAY_CHALLENGE_BODY_LEN (2 + RELAY_KEY_LEN + RELAY_CHALLENGE_LEN)
#define RELAY_WELCOME_BODY_LEN   12

enum relay_frame_type {
	RELAY_F_CHALLENGE = 0x01,  /* s->c: version, flags, relay key, challenge */
	RELAY_F_PROOF = 0x02,      /* c->s: node key, nonce, box */
	RELAY_F_MESH_PROOF = 0x03, /* c->s (a relay): mac, name */
	RELAY_F_WELCOME = 0x04,    /* s->c: keepalive s, max packet, queue bytes */
	RELAY_F_SEND = 0x10,       /* c->s: destination key, packet */
	RELAY_F_RECV = 0x11,       /* s->c: source key, packet */
	RELAY_F_PEER_GONE = 0x12,  /* s->c: key, reason */
	RELAY_F_PING = 0x20,       /* either way: 8 bytes, answered by PONG with the same bytes */
	RELAY_F_PONG = 0x21,
	RELAY_F_ERROR = 0x30,        /* s->c, then close: code, text */
	RELAY_F_MESH_PRESENT = 0x40, /* acceptor -> dialing relay: keys connected here */
	RELAY_F_MESH_ABSENT = 0x41,  /* acceptor -> dialing relay: keys gone from here */
	RELAY_F_MESH_FORWARD = 0x42, /* dialing relay -> acceptor: source, destination, packet */
};

/* ERROR frame codes. */
enum relay_error_code {
	RELAY_E_BAD_FRAME = 1,
	RELAY_E_TOO_LARGE = 2,
	RELAY_E_BAD_PROOF = 3,
	RELAY_E_HANDSHAKE_TIMEOUT = 4,
	RELAY_E_IDLE_TIMEOUT = 5,
	RELAY_E_REPLACED = 6,
	RELAY_E_SHUTTING_DOWN = 7,
	RELAY_E_NOT_ADMITTED = 8,
	RELAY_E_BAD_MESH_PROOF = 9,
	RELAY_E_UNEXPECTED = 10,
	RELAY_E_SERVER_FULL = 11,
};

/* PEER_GONE reasons. */
enum relay_gone_reason {
	RELAY_GONE_NOT_HERE = 1, /* no such key on this relay or its mesh */
};

const char *relay_error_name(unsigned code);

#endif
