// SPDX-License-Identifier: GPL-2.0-only
/* Round trips to a relay from PING and PONG (relay_rtt.h). */
#include "relay_rtt.h"

#include <string.h>

#include <sodium.h>

void mg_relay_rtt_init(struct mg_relay_rtt *r, uint64_t now_us)
{
	memset(r, 0, sizeof(*r));
	r->next_us = now_us;
	r->last_us = r->min_us = r->smoothed_us = -1;
}

bool mg_relay_rtt_due(struct mg_relay_rtt *r, uint64_t now_us, uint8_t data[8])
{
	if (now_us < r->next_us)
		return false;
	if (r->waiting)
		r->lost++;
	/* Random, so an answer to an earlier PING (or to another client's) never matches. */
	randombytes_buf(r->data, sizeof(r->data));
	memcpy(data, r->data, sizeof(r->data));
	r->waiting = true;
	r->sent_us = now_us;
	r->next_us = now_us + MG_RELAY_RTT_INTERVAL_US;
	r->pings++;
	return true;
}

void mg_relay_rtt_unsent(struct mg_relay_rtt *r)
{
	r->waiting = false;
	r->lost++;
}

bool mg_relay_rtt_pong(struct mg_relay_rtt *r, const uint8_t data[8], uint64_t now_us)
{
	if (!r->waiting || now_us < r->sent_us || sodium_memcmp(data, r->data, 8) != 0) {
		r->unmatched++;
		return false;
	}
	int64_t rtt = (int64_t)(now_us - r->sent_us);
	r->waiting = false;
	r->pongs++;
	r->last_us = rtt;
	r->last_at_us = now_us;
	if (r->min_us < 0 || rtt < r->min_us)
		r->min_us = rtt;
	r->smoothed_us = r->smoothed_us < 0 ? rtt : (7 * r->smoothed_us + rtt) / 8;
	return true;
}
