// SPDX-License-Identifier: GPL-2.0-only
/*
 * The filter's part of the map diff engine (netmap_apply.h). The filter is one value, replaced
 * whole: the engine keeps what the coordinator sent and what the sink enforces, and calls the
 * sink only when they differ, so a delta that repeats the filter, or a heartbeat, costs nothing.
 */
#include <errno.h>

#include "netmap_apply.h"

int mg_netmap_take_filter(struct mg_netmap_state *st, const struct mg_netmap_update *u)
{
	struct mg_filter copy = {0};

	if (u->kind == MG_NETMAP_DELTA && !u->has_filter)
		return 0;
	/* A full map without a filter is the empty filter: no policy is not an option when a
	 * coordinator is in charge. */
	if (u->has_filter && mg_filter_copy(&copy, &u->filter) != 0)
		return -ENOMEM;
	mg_filter_free(&st->map_filter);
	st->map_filter = copy;
	st->has_map_filter = true;
	return 0;
}

int mg_netmap_reconcile_filter(struct mg_netmap_state *st, const struct mg_netmap_sink *sink,
                               void *ctx)
{
	struct mg_filter copy;

	if (!st->has_map_filter ||
	    (st->has_filter && mg_filter_equal(&st->filter, &st->map_filter)))
		return 0;
	if (mg_filter_copy(&copy, &st->map_filter) != 0)
		return -ENOMEM;
	if (sink->set_filter &&
	    sink->set_filter(ctx, st->has_filter ? &st->filter : NULL, &copy) != 0) {
		st->stats.sink_errors++;
		mg_filter_free(&copy);
		return 0;
	}
	mg_filter_free(&st->filter);
	st->filter = copy;
	st->has_filter = true;
	st->stats.filter_changes++;
	return 0;
}
