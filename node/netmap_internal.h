/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the diff engine's files (netmap_apply.c, netmap_types.c); not for its users. */
#ifndef MESHGATE_NODE_NETMAP_INTERNAL_H
#define MESHGATE_NODE_NETMAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "netmap_apply.h"

bool mg_nm_prefix_in(const struct mg_prefix *list, size_t n, const struct mg_prefix *p);
bool mg_nm_prefix_lists_equal(const struct mg_prefix *a, size_t na, const struct mg_prefix *b,
                              size_t nb);
/* Frees n peers and the array. */
void mg_nm_peers_free(struct mg_netmap_peer *peers, size_t n);

#endif
