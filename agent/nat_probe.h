/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agent's own UDP socket and what STUN says about it. wireguard-go owns its port, so the
 * agent learns its public endpoint from a socket of its own (the one disco will share, see
 * docs/nat-traversal.md). Every few seconds it sends a Binding request to each of two STUN
 * servers (two relays, or one relay's two addresses) from that socket and compares the mapped
 * endpoints: one endpoint for both is an "easy" NAT (or "none" when the address is ours), two
 * are a "hard" one that maps by destination. The result goes to the coordinator through
 * mg_coord_client_set_stun, which reopens the map stream at once when it changed, so a NAT that
 * forgets or moves its mapping is re-reported within one probe interval.
 *
 * Config (agent.yaml):
 *   stun:
 *     servers: [192.0.2.10:3478, 192.0.2.11:3478]   # one or two numeric addresses, one family
 *     interval: 3                                   # seconds between probes, 1..300
 *
 * Without servers (`stun: {}`) the servers are the relays' STUN ports from the coordinator's
 * relay map (node/stun_servers.h), given with mg_nat_probe_set_relays; the socket is then
 * dual-stack (IPv6 with IPv4-mapped addresses, IPv4 alone where IPv6 is off), since the map
 * decides the family only later and the socket's port must last.
 */
#ifndef MESHGATE_AGENT_NAT_PROBE_H
#define MESHGATE_AGENT_NAT_PROBE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config_yaml.h"
#include "stun.h"

struct mg_nat_probe_config {
	bool enabled;
	struct mg_sockaddr servers[2];
	size_t n_servers;
	bool from_map; /* no servers listed: the relay map's (node/stun_servers.h) */
	unsigned interval_s;
	uint32_t fwmark; /* not from YAML: set while an exit node routes into the tunnel */
	char region[64]; /* not from YAML: relay.region, whose relays are asked first */
};

int mg_nat_probe_config_load(struct cfg_loader *ld, yaml_node_t *node,
                             struct mg_nat_probe_config *cfg);

/* What the last complete probe found. */
struct mg_nat_probe_result {
	struct mg_sockaddr mapped[2]; /* distinct mapped endpoints, n_mapped of them */
	size_t n_mapped;
	const char *nat;               /* "none", "easy", "hard" or "unknown" */
	int rtt_ms[2];                 /* per server, -1 when it did not answer */
	struct mg_sockaddr servers[2]; /* the servers asked, n_servers of them */
	size_t n_servers;
	uint16_t local_port; /* the socket's own port (disco's too) */
};

/* Called after each probe round with what it found (changed or not). */
typedef void (*mg_nat_probe_fn)(void *ctx, const struct mg_nat_probe_result *r);

struct mg_nat_probe;

struct mg_nat_probe *mg_nat_probe_new(const struct mg_nat_probe_config *cfg, mg_nat_probe_fn fn,
                                      void *ctx, char *err, size_t errlen);
void mg_nat_probe_free(struct mg_nat_probe *np);
/* The socket to poll for reading. */
int mg_nat_probe_fd(const struct mg_nat_probe *np);
/* Reads what arrived (when readable) and sends the next round when due; now in milliseconds. */
void mg_nat_probe_run(struct mg_nat_probe *np, int64_t now_ms);
/* Datagrams on the socket that are not STUN (disco) go to fn from now on. */
typedef void (*mg_nat_probe_other_fn)(void *ctx, const uint8_t *buf, size_t len,
                                      const struct mg_sockaddr *from);
void mg_nat_probe_set_other(struct mg_nat_probe *np, mg_nat_probe_other_fn fn, void *ctx);
/* Sends from the probe's socket (a disco reply). 0 or -errno. */
int mg_nat_probe_sendto(struct mg_nat_probe *np, const uint8_t *buf, size_t len,
                        const struct mg_sockaddr *to);
/* The socket's own port. */
uint16_t mg_nat_probe_local_port(const struct mg_nat_probe *np);
/* With from_map: the relay map of the latest map that carried one. */
struct mg_netmap_relay;
void mg_nat_probe_set_relays(struct mg_nat_probe *np, const struct mg_netmap_relay *relays,
                             size_t n);
/* Datagrams refused: not STUN, another source, another transaction, a bad response. */
uint64_t mg_nat_probe_refused(const struct mg_nat_probe *np);

#endif
