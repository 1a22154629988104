// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fan-out timing, kept inside the server so that it measures the server alone: how long from a
 * change reaching the map until the last affected stream's line was handed to the HTTP layer
 * (libmicrohttpd sends it to the socket in the same call). Callers hold the coordinator lock.
 */
#include <string.h>

#include "netmap_internal.h"

static struct netmap_batch *slot(struct netmap *nm, uint64_t id)
{
	struct netmap_batch *b = &nm->trace[id % NETMAP_TRACE_BATCHES];
	return b->id == id ? b : NULL;
}

struct netmap_batch *nm_trace_begin(struct netmap *nm)
{
	uint64_t id = ++nm->trace_next;
	struct netmap_batch *b = &nm->trace[id % NETMAP_TRACE_BATCHES];
	memset(b, 0, sizeof(*b));
	b->id = id;
	b->start = b->built = b->last_write = now_mono();
	return b;
}

void nm_trace_queued(struct netmap *nm, struct netmap_batch *b, struct map_session *s)
{
	/* A line of an older batch still waits in the queue: that batch loses this session. */
	if (s->trace_batch != 0)
		nm_trace_written(nm, s, false);
	s->trace_batch = b->id;
	b->sessions++;
	b->left++;
}

void nm_trace_written(struct netmap *nm, struct map_session *s, bool delivered)
{
	if (s->trace_batch == 0)
		return;
	struct netmap_batch *b = slot(nm, s->trace_batch);
	s->trace_batch = 0;
	if (b == NULL || b->left == 0)
		return;
	b->left--;
	if (delivered)
		b->last_write = now_mono();
	else
		b->dropped++;
}

size_t netmap_trace_batches(const struct netmap *nm, struct netmap_batch *out, size_t max)
{
	size_t n = 0;
	uint64_t first =
	    nm->trace_next >= NETMAP_TRACE_BATCHES ? nm->trace_next - NETMAP_TRACE_BATCHES + 1 : 1;
	for (uint64_t id = first; id <= nm->trace_next && n < max; id++) {
		const struct netmap_batch *b = &nm->trace[id % NETMAP_TRACE_BATCHES];
		if (b->id == id && b->sessions > 0)
			out[n++] = *b;
	}
	return n;
}

size_t netmap_stream_count(const struct netmap *nm)
{
	return nm->streams;
}
