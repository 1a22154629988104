// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake load judgement (gateway/hs_load.h) on its own, with made-up clocks and queue
 * depths: the kernel's queue rule, the budget of initiations given a DH without a cookie per
 * window, the window rolling over, and the second of stickiness after either trigger. The
 * control_thread and hs_lcores tests check the same through the gateway's handshake path.
 */
#include <string.h>

#include "check.h"
#include "hs_load.h"

#define MS  (1000ull * 1000)
#define CAP 4095u

static bool under(struct mg_hs_load *l, unsigned queued, uint64_t now)
{
	return mg_hs_load_under(l, queued, CAP, now);
}

static void test_queue_rule(void)
{
	struct mg_hs_load l;
	memset(&l, 0, sizeof(l));
	uint64_t t = 5000 * MS;
	CHECK(!under(&l, 0, t), "idle: not under load");
	CHECK(!under(&l, CAP / 8 - 1, t), "just below 1/8 of the queue: not under load");
	CHECK(under(&l, CAP / 8, t), "1/8 of the queue: under load");
	CHECK(under(&l, 0, t + 999 * MS), "sticky for a second after the queue drained");
	CHECK(!under(&l, 0, t + 1000 * MS), "a second after: not under load");
	CHECK(!under(&l, 0, t + 1001 * MS), "and stays so");
	/* Every moment the queue is deep restarts the second. */
	CHECK(under(&l, CAP, t + 2000 * MS) && under(&l, CAP, t + 2900 * MS), "deep again");
	CHECK(under(&l, 0, t + 3899 * MS), "a second from the last deep moment, not the first");
	CHECK(!under(&l, 0, t + 3900 * MS), "then over");
}

/* A lcore that keeps pace: the queue never backs up, the DH budget trips the load. */
static void test_unproven_budget(void)
{
	struct mg_hs_load l;
	memset(&l, 0, sizeof(l));
	uint64_t t = 7000 * MS;
	unsigned given = 0;
	/* 1 µs apart, all within one window. */
	for (unsigned i = 0; i < 2 * MG_HS_UNPROVEN_PER_WINDOW; i++) {
		uint64_t now = t + i * 1000;
		if (under(&l, 1, now))
			break;
		mg_hs_load_unproven(&l, now);
		given++;
	}
	CHECK(given == MG_HS_UNPROVEN_PER_WINDOW, "%u initiations given a DH in a window, want %u",
	      given, MG_HS_UNPROVEN_PER_WINDOW);
	uint64_t tripped = t + given * 1000ull;
	CHECK(under(&l, 0, tripped + 999 * MS), "sticky for a second after the budget tripped");
	CHECK(!under(&l, 0, tripped + 1000 * MS), "a second after: not under load");

	/* The same number spread so that no window holds the whole budget: never under load. */
	memset(&l, 0, sizeof(l));
	t = 20000 * MS;
	bool ever = false;
	for (unsigned i = 0; i < 4 * MG_HS_UNPROVEN_PER_WINDOW; i++) {
		/* A little under the budget's rate: 5 % fewer than the budget per window. */
		uint64_t now =
		    t + i * (MG_HS_LOAD_WINDOW_NS / (MG_HS_UNPROVEN_PER_WINDOW * 95 / 100));
		ever |= under(&l, 0, now);
		mg_hs_load_unproven(&l, now);
	}
	CHECK(!ever, "below the budget's rate: never under load");
}

/* The count belongs to its window. */
static void test_window_rolls(void)
{
	struct mg_hs_load l;
	memset(&l, 0, sizeof(l));
	uint64_t t = 30000 * MS;
	for (unsigned i = 0; i < MG_HS_UNPROVEN_PER_WINDOW - 1; i++)
		mg_hs_load_unproven(&l, t);
	CHECK(!under(&l, 0, t), "one short of the budget: not under load");
	CHECK(!under(&l, 0, t + MG_HS_LOAD_WINDOW_NS), "a new window");
	mg_hs_load_unproven(&l, t + MG_HS_LOAD_WINDOW_NS);
	CHECK(!under(&l, 0, t + MG_HS_LOAD_WINDOW_NS), "the old window's count is gone");
}

int main(void)
{
	test_queue_rule();
	test_unproven_budget();
	test_window_rolls();
	return check_done("hs_load");
}
