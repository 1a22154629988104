// SPDX-License-Identifier: GPL-2.0-only
/* The ring-port fixture (ring_gateway.h). */
#include "ring_gateway.h"

#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "ports.h"

int mg_ring_port_create(struct mg_ring_port *rp, const char *name, unsigned n_txq,
                        unsigned ring_size)
{
	char rn[RTE_RING_NAMESIZE];

	memset(rp, 0, sizeof(*rp));
	if (n_txq == 0 || n_txq > MG_RING_PORT_MAX_TXQ) {
		rte_errno = EINVAL;
		return -1;
	}
	snprintf(rn, sizeof(rn), "%s_rx", name);
	rp->rx = rte_ring_create(rn, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!rp->rx)
		return -1;
	for (unsigned q = 0; q < n_txq; q++) {
		snprintf(rn, sizeof(rn), "%s_tx%u", name, q);
		rp->tx[q] =
		    rte_ring_create(rn, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!rp->tx[q])
			return -1;
	}
	rp->n_txq = n_txq;
	int id = rte_eth_from_rings(name, &rp->rx, 1, rp->tx, (unsigned)n_txq, SOCKET_ID_ANY);
	if (id < 0)
		return -1;
	rp->port_id = (uint16_t)id;
	return 0;
}

void mg_ring_port_free(struct mg_ring_port *rp)
{
	rte_ring_free(rp->rx);
	for (unsigned q = 0; q < MG_RING_PORT_MAX_TXQ; q++)
		rte_ring_free(rp->tx[q]);
	memset(rp, 0, sizeof(*rp));
}

int mg_ring_port_attach(struct mg_ring_port *rp, struct mg_gateway *gw, enum mg_port_id p,
                        struct rte_mempool *pool, uint16_t desc, const struct rte_ether_addr *mac)
{
	struct rte_eth_conf conf;
	uint16_t id = rp->port_id;

	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(id, 1, (uint16_t)rp->n_txq, &conf) != 0 ||
	    rte_eth_rx_queue_setup(id, 0, desc, SOCKET_ID_ANY, NULL, pool) != 0)
		return -1;
	for (uint16_t q = 0; q < rp->n_txq; q++)
		if (rte_eth_tx_queue_setup(id, q, desc, SOCKET_ID_ANY, NULL) != 0)
			return -1;
	if (rte_eth_dev_start(id) != 0)
		return -1;
	struct mg_port *port = &gw->ports[p];
	port->port_id = id;
	if (mac)
		port->mac = *mac;
	else
		rte_eth_macaddr_get(id, &port->mac);
	port->pool = pool;
	port->n_rxq = 1;
	port->n_txq = (uint16_t)rp->n_txq;
	port->control_txq = rp->n_txq > 1 ? (uint16_t)(rp->n_txq - 1) : MG_NO_CONTROL_TXQ;
	return 0;
}
