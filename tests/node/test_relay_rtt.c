// SPDX-License-Identifier: GPL-2.0-only
/*
 * node/relay_rtt.c on a fake clock: the first PING at once, one at a time, the PONG that
 * echoes it recorded (last, minimum, smoothed), PONGs with other bytes or none outstanding
 * ignored and counted, a PING unanswered by the next one counted lost, a PING that could not
 * be queued lost at once. (tests/relay/test_forward.c measures one through a real relay.)
 */
#include <string.h>

#include "check.h"
#include "relay_rtt.h"

#define S 1000000ull

int main(void)
{
	struct mg_relay_rtt r;
	uint8_t d[8], other[8];
	uint64_t t = 1000 * S;

	mg_relay_rtt_init(&r, t);
	CHECK(r.last_us == -1 && r.min_us == -1 && r.smoothed_us == -1);
	CHECK(mg_relay_rtt_due(&r, t, d));
	CHECK(r.pings == 1 && r.waiting);
	CHECK(!mg_relay_rtt_due(&r, t + 1, d), "one at a time, on the interval");

	memcpy(other, d, 8);
	other[0] ^= 1;
	CHECK(!mg_relay_rtt_pong(&r, other, t + 100), "someone else's bytes");
	CHECK(r.unmatched == 1 && r.pongs == 0 && r.waiting);
	CHECK(mg_relay_rtt_pong(&r, d, t + 4000));
	CHECK(r.last_us == 4000 && r.min_us == 4000 && r.smoothed_us == 4000 && r.pongs == 1);
	CHECK(r.last_at_us == t + 4000);
	CHECK(!mg_relay_rtt_pong(&r, d, t + 5000), "the same PONG twice");
	CHECK(r.unmatched == 2 && r.pongs == 1);

	/* The next one: smaller, so the minimum follows; smoothed 7/8 old + 1/8 new. */
	CHECK(!mg_relay_rtt_due(&r, t + MG_RELAY_RTT_INTERVAL_US - 1, d));
	t += MG_RELAY_RTT_INTERVAL_US;
	CHECK(mg_relay_rtt_due(&r, t, d));
	CHECK(mg_relay_rtt_pong(&r, d, t + 800));
	CHECK(r.last_us == 800 && r.min_us == 800 && r.smoothed_us == (7 * 4000 + 800) / 8);

	/* Unanswered: lost when the next is due; its late PONG then matches nothing. */
	t += MG_RELAY_RTT_INTERVAL_US;
	CHECK(mg_relay_rtt_due(&r, t, d));
	memcpy(other, d, 8);
	t += MG_RELAY_RTT_INTERVAL_US;
	CHECK(mg_relay_rtt_due(&r, t, d));
	CHECK(r.lost == 1 && r.pings == 4);
	CHECK(!mg_relay_rtt_pong(&r, other, t + 10), "a late PONG");
	CHECK(r.last_us == 800, "a late PONG changes nothing");
	CHECK(mg_relay_rtt_pong(&r, d, t + 20000));
	CHECK(r.last_us == 20000 && r.min_us == 800);

	/* Not queued: lost, not waited for. */
	t += MG_RELAY_RTT_INTERVAL_US;
	CHECK(mg_relay_rtt_due(&r, t, d));
	mg_relay_rtt_unsent(&r);
	CHECK(!r.waiting && r.lost == 2);
	CHECK(!mg_relay_rtt_pong(&r, d, t + 10));
	CHECK(r.pings - r.pongs == r.lost, "every PING answered or lost");

	/* A clock that went backwards (never with CLOCK_MONOTONIC) is no answer. */
	t += MG_RELAY_RTT_INTERVAL_US;
	CHECK(mg_relay_rtt_due(&r, t, d));
	CHECK(!mg_relay_rtt_pong(&r, d, t - 1));
	return check_done("relay_rtt");
}
