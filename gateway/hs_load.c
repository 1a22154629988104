// SPDX-License-Identifier: GPL-2.0-only
#include "hs_load.h"

static void roll_window(struct mg_hs_load *l, uint64_t now_ns)
{
	if (now_ns - l->window_start_ns >= MG_HS_LOAD_WINDOW_NS) {
		l->window_start_ns = now_ns;
		l->unproven = 0;
	}
}

bool mg_hs_load_under(struct mg_hs_load *l, unsigned queued, unsigned capacity, uint64_t now_ns)
{
	roll_window(l, now_ns);
	if (queued >= capacity / 8 || l->unproven >= MG_HS_UNPROVEN_PER_WINDOW) {
		l->loaded = true;
		l->last_loaded_ns = now_ns;
	} else if (l->loaded && now_ns - l->last_loaded_ns >= MG_HS_LOAD_STICKY_NS) {
		l->loaded = false;
	}
	return l->loaded;
}

void mg_hs_load_unproven(struct mg_hs_load *l, uint64_t now_ns)
{
	roll_window(l, now_ns);
	l->unproven++;
}
