/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The UAPI socket, <dir>/<ifname>.sock, served from the control loop without threads: the
 * loop calls mg_uapi_server_poll, which accepts, reads and writes without ever blocking past its
 * timeout and handles complete requests one after another through struct mg_uapi_ops.
 * Like wireguard-go: the directory is created 0755, the socket is owner-only (umask 077), a
 * stale socket left by a dead process is replaced and a live one is refused.
 */
#ifndef MESHGATE_CONTROL_UAPI_SERVER_H
#define MESHGATE_CONTROL_UAPI_SERVER_H

#include <stddef.h>

#include "uapi.h"

struct mg_uapi_server_opts {
	size_t max_request;   /* bytes of one request; 0: 16 MiB (16k peers with some prefixes) */
	unsigned deadline_ms; /* per request, from its first byte to its reply sent; 0: 10 s */
	unsigned max_clients; /* connections held at once; more are closed at once; 0: 8 */
};

struct mg_uapi_server;

/*
 * Creates the socket. opts may be NULL. Returns NULL with a reason in err (for example
 * "/var/run/wireguard/mg0.sock is in use by another process").
 */
struct mg_uapi_server *mg_uapi_server_open(const char *dir, const char *ifname,
                                           const struct mg_uapi_ops *ops, void *ctx,
                                           const struct mg_uapi_server_opts *opts, char *err,
                                           size_t errlen);
/*
 * Waits up to timeout_ms (0: just look; -1: until something happens) and serves what is ready.
 * Returns the number of requests answered, or -1 when poll itself failed (errno set).
 * A client that sends garbage, too much, or too slowly is disconnected; the server carries on.
 */
int mg_uapi_server_poll(struct mg_uapi_server *srv, int timeout_ms);
/* The socket path. */
const char *mg_uapi_server_path(const struct mg_uapi_server *srv);
/* Closes every connection and removes the socket file if it is still ours. NULL is fine. */
void mg_uapi_server_close(struct mg_uapi_server *srv);

#endif
