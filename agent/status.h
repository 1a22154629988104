/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agent's status file (status_file in its config): JSON, rewritten every second through a
 * temporary file and rename, so a reader never sees half of it. For every peer: its path
 * (direct, or relay and which), its own home relay, the last handshake and the bytes counted by
 * wireguard-go. With STUN configured, what the last probe found: the NAT kind, the public
 * endpoints, each server's round trip and the socket's port, and the disco counters.
 */
#ifndef MESHGATE_AGENT_STATUS_H
#define MESHGATE_AGENT_STATUS_H

#include "disco_sock.h"
#include "nat_probe.h"
#include "netmap_apply.h"
#include "peer_paths.h"
#include "relay_path.h"
#include "uapi_client.h"

/* dev may be NULL (wireguard-go did not answer); rp NULL without a relay; nat NULL without
 * a stun: section (its nat NULL before the first probe ends). 0 or -errno. */
int mg_agent_status_write(const char *path, const struct mg_netmap_state *st,
                          const struct mg_uapi_client_device *dev, const struct mg_relay_path *rp,
                          const char *coord_state, const struct mg_nat_probe_result *nat,
                          const struct mg_agent_disco *disco, const struct mg_agent_paths *paths,
                          const char *servers_from);

#endif
