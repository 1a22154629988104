/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One connect to a relay off the caller's thread. mg_relay_client_connect blocks (TCP, TLS,
 * upgrade, key proof; up to the timeout), and neither the agent's loop nor the gateway's control
 * lcore may stall on it, so it runs on a thread of its own. The thread sets an atomic flag and
 * writes a byte to a pipe when it is over: a busy-polling caller reads the flag, a poll()ing
 * one waits on mg_relay_dial_fd. The client is handed over only after the join, so it is never
 * used by two threads at once.
 */
#ifndef MESHGATE_NODE_RELAY_DIAL_H
#define MESHGATE_NODE_RELAY_DIAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "netmap_apply.h"
#include "relay_client.h"

struct mg_relay_dial {
	bool active; /* started and not yet joined */
	atomic_bool over;
	pthread_t th;
	int done[2];
	char name[64];
	uint8_t sk[32];
	struct mg_relay_client_config cc;
	struct mg_netmap_relay r; /* cc points into it */
	struct mg_relay_client *rc;
	char err[256];
	int64_t t0_ms;
};

/* Starts connecting to r with the node's key sk; -1 (logged) when no thread could start. */
int mg_relay_dial_start(struct mg_relay_dial *d, const struct mg_netmap_relay *r, void *tls_ctx,
                        const uint8_t sk[32], uint32_t fwmark, int timeout_ms);
/* The descriptor that turns readable when the dial is over; -1 when none is active. */
int mg_relay_dial_fd(const struct mg_relay_dial *d);
/* True once the dial is over (without a system call). */
bool mg_relay_dial_over(const struct mg_relay_dial *d);
/* Waits for the thread (at once when over) and ends the dial: the client, or NULL with d->err,
 * stays in d->rc for the caller to take. */
void mg_relay_dial_join(struct mg_relay_dial *d);
/* Milliseconds since the dial started. */
int mg_relay_dial_elapsed_ms(const struct mg_relay_dial *d);

#endif
