/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Coordinator admission (docs/relay-protocol.md, "Admission"): after a node proves its key, the
 * relay asks meshgate-coord (POST /v1/relay/admit with the shared relay credential) whether the
 * key belongs to a node it knows, and caches the answer for the TTL the coordinator gives. While
 * the coordinator cannot be reached, a key it admitted within the last hour stays admitted.
 */
#ifndef MESHGATE_RELAY_ADMIT_H
#define MESHGATE_RELAY_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relay_server;
struct relay_conn;
struct relay_admit_req;

int relay_admit_init(struct relay_server *s, char *err, size_t errlen);
void relay_admit_free(struct relay_server *s);
/*
 * 1: admitted (cached); 0: refused, *why says why; 2: asked, relay_conn_admitted(c, ...) follows
 * later (unless relay_admit_forget was called first), and *pending is the request.
 */
int relay_admit_check(struct relay_server *s, const uint8_t key[32], struct relay_conn *c,
                      struct relay_admit_req **pending, const char **why);
/* The connection is going away: its answer is still cached but no longer delivered. */
void relay_admit_forget(struct relay_admit_req *r);

/* conn.c: the coordinator's answer for a connection waiting in admission. */
void relay_conn_admitted(struct relay_conn *c, bool ok, const char *why);

#endif
