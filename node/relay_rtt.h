/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Round trips to a relay, measured with the relay protocol's PING and PONG
 * (docs/relay-protocol.md) on a node's connection: a PING with 8 random bytes every
 * MG_RELAY_RTT_INTERVAL_US, one at a time, and the PONG that echoes them. A PING unanswered
 * when the next is due counts as lost; a PONG with other bytes (an answer to someone else's
 * PING, or a late one) changes nothing. Pure bookkeeping on the caller's clock (microseconds);
 * node/relay_client.c keeps one per connection, so a new connection starts afresh.
 */
#ifndef MESHGATE_NODE_RELAY_RTT_H
#define MESHGATE_NODE_RELAY_RTT_H

#include <stdbool.h>
#include <stdint.h>

#define MG_RELAY_RTT_INTERVAL_US (5ull * 1000 * 1000)

struct mg_relay_rtt {
	uint64_t next_us; /* when the next PING is due */
	bool waiting;     /* a PING is out */
	uint8_t data[8];
	uint64_t sent_us;
	/* -1 until the first PONG */
	int64_t last_us, min_us, smoothed_us; /* smoothed: 7/8 old + 1/8 new, as TCP's SRTT */
	uint64_t last_at_us;                  /* when the last PONG came */
	uint64_t pings, pongs, lost, unmatched;
};

/* The first PING is due at once. */
void mg_relay_rtt_init(struct mg_relay_rtt *r, uint64_t now_us);
/* True when a PING is due: data holds its bytes, and it counts as sent. */
bool mg_relay_rtt_due(struct mg_relay_rtt *r, uint64_t now_us, uint8_t data[8]);
/* The PING of the last mg_relay_rtt_due could not be queued: lost, not waited for. */
void mg_relay_rtt_unsent(struct mg_relay_rtt *r);
/* A PONG carrying data arrived: true when it answered our PING (the round trip recorded). */
bool mg_relay_rtt_pong(struct mg_relay_rtt *r, const uint8_t data[8], uint64_t now_us);

#endif
