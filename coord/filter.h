/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The packet filter a node enforces, compiled from the policy (docs/coord-protocol.md, "The
 * packet filter"). Each rule names its sources, its destinations (the receiving node's own
 * addresses and the routes it carries), a protocol and destination port ranges.
 */
#ifndef MESHGATE_COORD_FILTER_H
#define MESHGATE_COORD_FILTER_H

#include <stdbool.h>

/* A policy rule's protocol. ANY is 0 so that a rule without "proto" (and calloc) means any. */
enum filter_proto { FILTER_PROTO_ANY = 0, FILTER_PROTO_TCP, FILTER_PROTO_UDP, FILTER_PROTO_ICMP };

/* "tcp", "udp", "icmp" or "any"; false for anything else. */
bool filter_proto_parse(const char *s, int *out);
const char *filter_proto_name(int proto);
/* Whether a protocol has ports (a rule with one that does not may only say "*"). */
bool filter_proto_has_ports(int proto);

#endif
