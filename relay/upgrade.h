/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The HTTP/1.1 upgrade that opens a relay connection (GET /relay, Upgrade: meshgate-relay), as
 * DERP does, so the connection looks like HTTPS to firewalls and proxies. Strict: one request,
 * CRLF line ends, no folding, no body, bounded size; anything ambiguous is refused.
 */
#ifndef MESHGATE_RELAY_UPGRADE_H
#define MESHGATE_RELAY_UPGRADE_H

#include <stddef.h>

#include "proto.h"

#define RELAY_UPGRADE_MAX_HEADERS 32

struct relay_upgrade_result {
	int status;      /* HTTP status to answer with on failure (400, 404, 405, 426, 431, ...) */
	const char *why; /* fixed text for the reply body and the log */
	size_t consumed; /* bytes of the request, the final CRLFCRLF included */
};

/*
 * Parses a request from buf. Returns 1 when a complete, acceptable request is there, 0 when
 * more bytes are needed (and len < RELAY_UPGRADE_MAX), -1 when the request is refused.
 */
int relay_upgrade_parse_request(const char *buf, size_t len, struct relay_upgrade_result *res);

/*
 * Parses the server's answer (the dialling side). Returns 1 on "101" with the right Upgrade
 * header, 0 when more bytes are needed, -1 otherwise; res->status holds the status seen (0 when
 * the status line was malformed).
 */
int relay_upgrade_parse_response(const char *buf, size_t len, struct relay_upgrade_result *res);

/* The request a client sends; host is the server name. Returns the length, or -1. */
int relay_upgrade_request(char *buf, size_t len, const char *host);

#define RELAY_UPGRADE_RESPONSE                                                                   \
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: meshgate-relay\r\nConnection: Upgrade\r\n" \
	"Meshgate-Relay-Version: 1\r\n\r\n"

#endif
