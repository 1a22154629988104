/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WireGuard's cross-platform userspace API (https://www.wireguard.com/xplatform/), the protocol
 * stock `wg` speaks to wireguard-go over /var/run/wireguard/<ifname>.sock. This half has no
 * sockets and no DPDK: it frames requests, parses a whole set request into struct mg_uapi_set
 * and validates it before anything is applied, and serialises get replies. The device side is a
 * two-call vtable (struct mg_uapi_ops) that the gateway implements. uapi_server.h serves it.
 *
 * Error numbers are wireguard-go's: negative errno values ("errno=-22"), which is also what
 * stock wg turns back into its "Invalid argument" message.
 */
#ifndef MESHGATE_CONTROL_UAPI_H
#define MESHGATE_CONTROL_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "constants.h"

/* One public_key= block of a set request, already validated. */
struct mg_uapi_peer_change {
	uint8_t public_key[WG_KEY_LEN];
	/* remove=true: drop the peer (if present); every other field is then empty. */
	bool remove;
	/* update_only=true: change the peer only if it exists; never create it. */
	bool update_only;
	bool has_preshared_key; /* all zero: no preshared key */
	uint8_t preshared_key[WG_KEY_LEN];
	bool has_endpoint;
	struct mg_sockaddr endpoint;
	bool has_persistent_keepalive;
	uint16_t persistent_keepalive; /* seconds, 0 = off */
	/* replace_allowed_ips=true: drop the peer's allowed IPs before adding allowed_ips. */
	bool replace_allowed_ips;
	struct mg_prefix *allowed_ips; /* host bits cleared, as wireguard-go inserts them */
	size_t n_allowed_ips, cap_allowed_ips;
};

/* A parsed set request. Fields without has_ were absent. */
struct mg_uapi_set {
	bool has_private_key; /* all zero: remove the key */
	uint8_t private_key[WG_KEY_LEN];
	bool has_listen_port;
	uint16_t listen_port; /* 0: the device picks one */
	bool has_fwmark;
	uint32_t fwmark;
	bool replace_peers;                /* remove every peer before the changes below */
	struct mg_uapi_peer_change *peers; /* in request order; a key may appear more than once */
	size_t n_peers, cap_peers;
};

/*
 * Parses the lines of a set request that follow "set=1\n", up to but excluding the blank line
 * (len bytes, not NUL-terminated). Returns 0, or a negative errno: -EPROTO for a line without
 * '=', -EINVAL for an unknown key or a bad value, -ENOMEM. err (may be NULL) gets the reason,
 * without key material. On failure *out is left empty.
 */
int mg_uapi_set_parse(const char *body, size_t len, struct mg_uapi_set *out, char *err,
                      size_t errlen);
/* Frees and zeroes (the keys are secrets). Safe on a zeroed or already freed set. */
void mg_uapi_set_free(struct mg_uapi_set *set);

/* A growable output buffer; secrets may pass through it, so freeing zeroes it. */
struct mg_uapi_buf {
	char *data;
	size_t len, cap;
	size_t max;  /* growth limit; 0: 64 MiB */
	bool failed; /* an append did not fit or allocation failed; contents are incomplete */
};

void mg_uapi_buf_free(struct mg_uapi_buf *b);
void mg_uapi_buf_append(struct mg_uapi_buf *b, const void *data, size_t len);

/*
 * The full set request (from "set=1\n" through the blank line) that carries set, in the order
 * wg sends keys. For clients, and to check round trips. Fails only by setting out->failed.
 */
void mg_uapi_set_format(const struct mg_uapi_set *set, struct mg_uapi_buf *out);

/* The device part of a get reply. Zero values are left out of the reply, as wireguard-go does. */
struct mg_uapi_device_info {
	uint8_t private_key[WG_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
};

struct mg_uapi_peer_info {
	uint8_t public_key[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN]; /* all zero when none */
	struct mg_sockaddr endpoint;       /* family 0: none */
	uint64_t last_handshake_sec;       /* wall clock; 0: never */
	uint32_t last_handshake_nsec;
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive;
	const struct mg_prefix *allowed_ips;
	size_t n_allowed_ips;
};

/* Get reply lines; the ops' get calls the first once, then the second once per peer. */
void mg_uapi_emit_device(struct mg_uapi_buf *out, const struct mg_uapi_device_info *dev);
void mg_uapi_emit_peer(struct mg_uapi_buf *out, const struct mg_uapi_peer_info *peer);

/*
 * What the device (the gateway, or a test double) provides. Both run on the thread that polls
 * the server, one request at a time. Return 0 or a negative errno, which becomes the reply.
 *
 * get: write the current state with mg_uapi_emit_device and mg_uapi_emit_peer.
 *
 * set: apply a validated request all or nothing, in wireguard-go's order:
 *   1. has_private_key: replace the key (all zero removes it); a peer whose public key is the
 *      new public key is removed;
 *   2. has_listen_port, has_fwmark (-EADDRINUSE when the port cannot be had);
 *   3. replace_peers: remove every peer;
 *   4. each peer change in order: ignore it if its key is the device's own public key; remove:
 *      remove the peer; update_only and no such peer: ignore it; otherwise create the peer if
 *      needed, then set the preshared key, endpoint and keepalive given, drop its allowed IPs if
 *      replace_allowed_ips, and add allowed_ips (a prefix moves from whichever peer had it).
 */
struct mg_uapi_ops {
	int (*get)(void *ctx, struct mg_uapi_buf *out);
	int (*set)(void *ctx, const struct mg_uapi_set *set);
};

/*
 * Length of the first complete request in buf, including its terminating blank line; 0 while it
 * is incomplete; -1 when buf cannot start a request (the first line is not get=1 or set=1:
 * wireguard-go closes such a connection without a reply).
 */
ssize_t mg_uapi_request_length(const char *buf, size_t len);

/*
 * Handles one complete request as framed above and appends the reply, ending in "errno=N\n\n",
 * to out. err (may be NULL) gets the reason of a failure, for the log. Returns the errno sent.
 */
int mg_uapi_handle(const struct mg_uapi_ops *ops, void *ctx, const char *req, size_t len,
                   struct mg_uapi_buf *out, char *err, size_t errlen);

#endif
