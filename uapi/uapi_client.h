/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The client side of the WireGuard UAPI (what `wg` does): one request per connection to
 * <dir>/<ifname>.sock, a set built from struct mg_uapi_set (uapi.h) or a get parsed into the
 * structures below. Used by the agent to drive wireguard-go (or anything that speaks UAPI).
 * Blocking, with a timeout on every socket operation.
 */
#ifndef MESHGATE_CONTROL_UAPI_CLIENT_H
#define MESHGATE_CONTROL_UAPI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "constants.h"
#include "uapi.h"

struct mg_uapi_client_peer {
	uint8_t public_key[WG_KEY_LEN];
	bool has_preshared_key; /* the key itself is not kept */
	struct mg_sockaddr endpoint;
	uint64_t last_handshake_sec;
	uint32_t last_handshake_nsec;
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive;
	struct mg_prefix *allowed_ips;
	size_t n_allowed_ips;
};

struct mg_uapi_client_device {
	bool has_private_key; /* the private key is not kept; public_key is derived from it */
	uint8_t public_key[WG_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct mg_uapi_client_peer *peers;
	size_t n_peers;
};

/* "<dir>/<ifname>.sock" into buf; -ENAMETOOLONG when it does not fit a sun_path. */
int mg_uapi_socket_path(const char *dir, const char *ifname, char *buf, size_t len);

/*
 * Sends set (formatted by mg_uapi_set_format) and waits for the reply. Returns 0, the device's
 * negative errno from "errno=N", or a negative errno of the transport (-ENOENT: no socket,
 * -ECONNREFUSED, -ETIMEDOUT, -EPROTO: a malformed reply). err gets a reason.
 */
int mg_uapi_client_set(const char *sock_path, const struct mg_uapi_set *set, char *err,
                       size_t errlen);
/* A get request; on success *out is filled (free with mg_uapi_client_device_free). */
int mg_uapi_client_get(const char *sock_path, struct mg_uapi_client_device *out, char *err,
                       size_t errlen);
void mg_uapi_client_device_free(struct mg_uapi_client_device *dev);

/*
 * Parses the body of a get reply (the lines before "errno=N", which must be present and the
 * last line). Returns the errno of the reply (0 or negative), or -EPROTO for malformed input.
 * Exposed for tests.
 */
int mg_uapi_client_parse_get(const char *reply, size_t len, struct mg_uapi_client_device *out,
                             char *err, size_t errlen);

#endif
