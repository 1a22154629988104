// SPDX-License-Identifier: GPL-2.0-only
/*
 * The data plane's state that is not a table: its configuration, copied once, and the address
 * set, which is immutable once published so a worker never sees one half-changed.
 */
#include "dataplane.h"

#include <errno.h>
#include <stdlib.h>

#include "neigh.h"

static struct mg_dp_addrs *addrs_dup(const struct mg_dp_addrs *a)
{
	struct mg_dp_addrs *copy = malloc(sizeof(*copy));
	if (copy)
		*copy = *a;
	return copy;
}

int mg_gateway_init(struct mg_gateway *gw, const struct mg_dp_config *conf,
                    const struct mg_dp_addrs *addrs)
{
	struct mg_dp_addrs *a = addrs_dup(addrs);
	if (!a)
		return -ENOMEM;
	gw->conf = *conf;
	gw->n_workers = (unsigned)conf->n_workers;
	gw->max_peers = conf->max_peers;
	gw->listen_port = conf->listen_port;
	gw->mtu = conf->mtu;
	atomic_store_explicit(&gw->addrs, a, memory_order_release);
	return 0;
}

void mg_gateway_fini(struct mg_gateway *gw)
{
	free(atomic_exchange_explicit(&gw->addrs, NULL, memory_order_acq_rel));
}

int mg_gateway_publish_addrs(struct mg_gateway *gw, const struct mg_dp_addrs *next,
                             struct mg_dp_addrs **old)
{
	struct mg_dp_addrs *a = addrs_dup(next);
	if (!a)
		return -ENOMEM;
	*old = atomic_exchange_explicit(&gw->addrs, a, memory_order_acq_rel);
	/* Next hops may move with the addresses: stale every peer's resolved MAC. */
	if (gw->neigh)
		mg_neigh_touch(gw->neigh);
	return 0;
}

struct mg_acl *mg_gateway_publish_acl(struct mg_gateway *gw, struct mg_acl *next)
{
	return atomic_exchange_explicit(&gw->acl, next, memory_order_acq_rel);
}
