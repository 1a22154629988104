/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * meshctl agent: an agent host's view, read from the agent's status file (agent.yaml's
 * status_file, rewritten every second): the coordinator's state, the home relay, and each
 * peer's path (direct, or relay and which), home relay, endpoint, handshake and bytes.
 */
#ifndef MESHGATE_CLI_AGENT_STATUS_H
#define MESHGATE_CLI_AGENT_STATUS_H

#include <stdbool.h>

#include <jansson.h>

/* 0 printed, 1 unreadable or malformed (a message on stderr). */
int meshctl_agent_status(const char *path, bool json);

/* The relay connections' round trips (a netcheck's or a status file's "relays" array), one
 * line each after label. */
void meshctl_print_relay_rtts(json_t *relays, const char *label);

#endif
