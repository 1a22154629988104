/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A node's home relay, for the agent and the gateway alike: the relays it may home on (one
 * static relay from its config, or the coordinator's relay map), which one it tries next, and
 * the connection to it, made off the caller's thread (relay_dial.h) so that neither the agent's
 * loop nor the gateway's control lcore ever waits on TCP, TLS or the key proof.
 *
 * The choice: relays that failed recently last; then the preferred region's relays; then the
 * lowest measured connect time (TCP + TLS + proof); then the map's order. The home relay is kept
 * while it stays in the map. After a failure the next relay is tried at once; when every one
 * has failed, with a doubling back-off.
 *
 * Times are in seconds of a monotonic clock of the caller's choice. One thread only.
 */
#ifndef MESHGATE_NODE_RELAY_HOME_H
#define MESHGATE_NODE_RELAY_HOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netmap_apply.h"
#include "relay_client.h"

struct mg_relay_home_config {
	/* A static relay: host set (name, port, server_name with it); the map is then ignored.
	 * host "": the relays of the coordinator's relay map. */
	const char *name, *host, *server_name;
	uint16_t port;
	const char *region;  /* prefer the map's relays of this region; "" or NULL: none */
	const char *ca_file; /* trust anchors; "" or NULL: the system's */
	uint32_t fwmark;     /* SO_MARK of the relay's TCP socket; 0: none */
	int timeout_ms;      /* one connect (TCP, TLS, upgrade, proof); 0: 5 s */
};

struct mg_relay_home;

/* NULL with err on failure (TLS setup). */
struct mg_relay_home *mg_relay_home_new(const struct mg_relay_home_config *cfg,
                                        const uint8_t private_key[32], char *err, size_t errlen);
void mg_relay_home_free(struct mg_relay_home *h);
/* The node's key changed: later connects prove this one. */
void mg_relay_home_set_key(struct mg_relay_home *h, const uint8_t private_key[32]);

/* The relay map of the latest map that carried one. Ignored with a static relay. Returns true
 * when it closed the connection (the home relay left the map). */
bool mg_relay_home_set_map(struct mg_relay_home *h, const struct mg_netmap_relay *relays, size_t n,
                           int64_t now);

/* Starts a connect when none is up or under way and one is due. */
void mg_relay_home_tick(struct mg_relay_home *h, int64_t now);
/* The dial's descriptor to poll for POLLIN (-1 when none); or ask mg_relay_home_dial_over. */
int mg_relay_home_dial_fd(const struct mg_relay_home *h);
bool mg_relay_home_dial_over(const struct mg_relay_home *h);
/* After the dial is over: true when the connection is up (mg_relay_home_client). */
bool mg_relay_home_finish(struct mg_relay_home *h, int64_t now);
/* The caller saw the connection break: closes it; the next relay is tried at the next tick. */
void mg_relay_home_down(struct mg_relay_home *h, int64_t now, const char *why);

struct mg_relay_client *mg_relay_home_client(const struct mg_relay_home *h);
/* The connected relay, NULL while none. */
const struct mg_netmap_relay *mg_relay_home_relay(const struct mg_relay_home *h);
/* A relay of the candidates by name, NULL when none has it. */
const struct mg_netmap_relay *mg_relay_home_find(const struct mg_relay_home *h, const char *name);
/* The shared SSL_CTX, for connections to other relays. */
void *mg_relay_home_tls(const struct mg_relay_home *h);

struct mg_relay_home_info {
	const char *dialling; /* the relay being dialled, "" */
	const char *error;    /* the last failure, "" since a connect succeeded */
	size_t candidates;
	uint64_t connects;
	int connect_ms; /* of the connected relay, -1 */
};
void mg_relay_home_get_info(const struct mg_relay_home *h, struct mg_relay_home_info *info);

#endif
