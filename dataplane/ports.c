/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * EAL and port bring-up. One gateway per process: the devices this module probed are remembered
 * here so that mg_ports_stop removes exactly those.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pci.h>
#include <rte_ring.h>

#include "acl.h"
#include "dataplane.h"
#include "neigh.h"
#include "ports.h"

#define DEFAULT_DESC 1024
#define POOL_BURST   32 /* per worker, per direction in flight besides the descriptors */
#define MC_ADDRS     3

struct port_state {
	bool configured;   /* rte_eth_dev_configure succeeded: stop/close on teardown */
	bool probed_by_us; /* remove the device on teardown */
	char name[RTE_DEV_NAME_MAX_LEN];
};

static struct port_state states[MG_PORT_COUNT];

static const char *const port_label[MG_PORT_COUNT] = {"lan", "mesh"};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * The EAL creates its runtime directory even when it keeps nothing there (no-huge, no-shconf or
 * in-memory) and never removes it; the telemetry socket inside is unlinked only by an exit
 * handler. This handler, registered before the EAL's own, runs after it and removes the then
 * empty directory; rmdir leaves a directory that still holds anything untouched.
 */
static char runtime_dir[PATH_MAX];

static void remove_runtime_dir(void)
{
	if (runtime_dir[0] != '\0')
		rmdir(runtime_dir);
}

static bool arg_chooses_lcores(const char *a)
{
	return strcmp(a, "-l") == 0 || strncmp(a, "-l", 2) == 0 || strcmp(a, "-c") == 0 ||
	       strncmp(a, "--lcores", 8) == 0;
}

int mg_eal_init(const struct mg_dp_config *cfg, const char *prog, char *err, size_t errlen)
{
	/* the EAL may keep pointers into argv, so it lives as long as the process */
	static char *argv[MG_MAX_EAL_ARGS + 6];
	static char lcores[MG_MAX_WORKERS * 12 + 16], main_lcore[16];
	static bool atexit_done;
	bool has_lcores = false, has_main = false, no_huge = false;
	int argc = 0, rc;
	size_t used;

	if (cfg->n_eal_args > MG_MAX_EAL_ARGS || cfg->n_workers > MG_MAX_WORKERS) {
		set_err(err, errlen, "too many EAL arguments or workers");
		return -1;
	}
	argv[argc++] = (char *)(prog ? prog : "meshgate");
	for (size_t i = 0; i < cfg->n_eal_args; i++)
		no_huge |= strcmp(cfg->eal_args[i], "--no-huge") == 0;
	for (size_t i = 0; i < cfg->n_eal_args; i++) {
		const char *a = cfg->eal_args[i];

		has_lcores |= arg_chooses_lcores(a);
		has_main |= strncmp(a, "--main-lcore", 12) == 0;
		/* 22.11 treats --no-huge as legacy memory and refuses --in-memory beside it; what
		 * both ask for (no files) is what --no-shconf gives without hugepages */
		if (no_huge && strcmp(a, "--in-memory") == 0)
			a = "--no-shconf";
		argv[argc++] = (char *)a;
	}
	if (!has_lcores) {
		used = (size_t)snprintf(lcores, sizeof(lcores), "%u", cfg->control_lcore);
		for (size_t i = 0; i < cfg->n_workers; i++) {
			unsigned w = cfg->worker_lcores[i];

			if (w == cfg->control_lcore) {
				set_err(
				    err, errlen,
				    "worker lcore %u is also the control lcore; each needs its own",
				    w);
				return -1;
			}
			for (size_t j = 0; j < i; j++) {
				if (cfg->worker_lcores[j] == w) {
					set_err(err, errlen, "worker lcore %u is listed twice", w);
					return -1;
				}
			}
			used += (size_t)snprintf(lcores + used, sizeof(lcores) - used, ",%u", w);
		}
		/* Distinct from the others: the config loader checked. */
		for (size_t i = 0; i < cfg->n_handshake_lcores; i++)
			used += (size_t)snprintf(lcores + used, sizeof(lcores) - used, ",%u",
			                         cfg->handshake_lcores[i]);
		argv[argc++] = (char *)"-l";
		argv[argc++] = lcores;
	}
	if (!has_main) {
		snprintf(main_lcore, sizeof(main_lcore), "%u", cfg->control_lcore);
		argv[argc++] = (char *)"--main-lcore";
		argv[argc++] = main_lcore;
	}
	argv[argc] = NULL;
	if (!atexit_done) {
		atexit(remove_runtime_dir);
		atexit_done = true;
	}
	rc = rte_eal_init(argc, argv);
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	if (rc < 0) {
		remove_runtime_dir();
		set_err(err, errlen, "EAL initialisation failed: %s (EAL arguments and lcores %s)",
		        rte_strerror(rte_errno), has_lcores ? "as configured" : lcores);
		return -1;
	}
	mg_acl_simd_setup();
	return 0;
}

void mg_eal_fini(void)
{
	rte_eal_cleanup();
	remove_runtime_dir(); /* succeeds now without telemetry, else at exit */
}

/* Finds the ethdev for devargs, probing the device if nobody did yet. */
static int find_or_probe(unsigned p, const char *devargs, uint16_t *pid, char *err, size_t errlen)
{
	struct port_state *st = &states[p];
	const char *comma = strchr(devargs, ',');
	size_t nlen = comma ? (size_t)(comma - devargs) : strlen(devargs);
	struct rte_pci_addr pci;
	bool is_pci;
	int rc;

	if (nlen == 0 || nlen >= sizeof(st->name)) {
		set_err(err, errlen, "port %s: devargs '%s' do not start with a device name",
		        port_label[p], devargs);
		return -1;
	}
	memcpy(st->name, devargs, nlen);
	st->name[nlen] = '\0';
	is_pci = rte_pci_addr_parse(st->name, &pci) == 0;
	if (is_pci)
		rte_pci_device_name(&pci, st->name, sizeof(st->name));
	if (rte_eth_dev_get_port_by_name(st->name, pid) == 0)
		return 0;
	rc = rte_dev_probe(devargs); /* the bus (PCI or vdev) is told apart by the name */
	if (rc != 0) {
		set_err(err, errlen, "port %s: probing '%s' failed: %s%s", port_label[p], devargs,
		        rte_strerror(rc < 0 ? -rc : rc),
		        is_pci ? " (is the NIC bound to vfio-pci and not excluded by -b / -a?)"
		               : " (is the driver name right and the interface present?)");
		return -1;
	}
	st->probed_by_us = true;
	if (rte_eth_dev_get_port_by_name(st->name, pid) != 0) {
		set_err(err, errlen, "port %s: '%s' probed but no Ethernet port is named %s",
		        port_label[p], devargs, st->name);
		return -1;
	}
	return 0;
}

static uint32_t pool_size(const struct mg_dp_config *cfg, unsigned nw, uint16_t n_rxq,
                          uint16_t n_txq, uint16_t nb_rxd, uint16_t nb_txd)
{
	uint64_t n;

	if (cfg->mbufs)
		return cfg->mbufs;
	n = (uint64_t)n_rxq * nb_rxd + (uint64_t)n_txq * nb_txd + (uint64_t)nw * POOL_BURST * 4 +
	    (uint64_t)(nw + 1) * MG_POOL_CACHE + MG_POOL_STAGING;
	/* a mempool is most compact at 2^k - 1 elements */
	return rte_align32pow2((uint32_t)n + 1) - 1;
}

/* IPv6 all-nodes and the solicited-node groups of our addresses; the rest is filtered by NIC. */
static void accept_multicast(struct mg_gateway *gw, unsigned p)
{
	const struct mg_port_addrs *pc = &mg_gateway_addrs(gw)->ports[p];
	struct rte_ether_addr mc[MC_ADDRS] = {{{0x33, 0x33, 0, 0, 0, 1}}};
	uint8_t ll[16];
	uint32_t n = 1;

	mg_neigh_link_local(&gw->ports[p].mac, ll);
	mc[n++] = (struct rte_ether_addr){{0x33, 0x33, 0xff, ll[13], ll[14], ll[15]}};
	if (pc->has_ipv6)
		mc[n++] = (struct rte_ether_addr){
		    {0x33, 0x33, 0xff, pc->ipv6.addr[13], pc->ipv6.addr[14], pc->ipv6.addr[15]}};
	if (rte_eth_dev_set_mc_addr_list(gw->ports[p].port_id, mc, n) != 0)
		rte_eth_allmulticast_enable(
		    gw->ports[p].port_id); /* best effort: vdevs filter nothing */
}

static int configure(struct mg_gateway *gw, unsigned p, char *err, size_t errlen)
{
	const struct mg_dp_config *cfg = &gw->conf;
	const struct mg_dp_port_config *pc = &cfg->ports[p];
	struct mg_port *port = &gw->ports[p];
	const char *devargs = pc->devargs;
	unsigned nw = gw->n_workers ? gw->n_workers : 1;
	uint16_t pid = port->port_id, nb_rxd, nb_txd, mtu;
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_eth_link link;
	char name[RTE_MEMPOOL_NAMESIZE];
	int socket, rc;

	rc = rte_eth_dev_info_get(pid, &info);
	if (rc != 0) {
		set_err(err, errlen, "port %s (%s): no device info: %s", port_label[p], devargs,
		        rte_strerror(-rc));
		return -1;
	}
	if (info.max_tx_queues < nw) {
		char fix[32] = "";
		if (strcmp(info.driver_name, "net_af_packet") == 0)
			snprintf(fix, sizeof(fix), "; add qpairs=%u", nw + 1);
		set_err(
		    err, errlen,
		    "port %s (%s): the %s driver offers %u TX queues, the gateway needs one per "
		    "worker (%u)%s",
		    port_label[p], devargs, info.driver_name, info.max_tx_queues, nw, fix);
		return -1;
	}
	if (info.max_rx_queues == 0) {
		set_err(err, errlen, "port %s (%s): the driver offers no RX queue", port_label[p],
		        devargs);
		return -1;
	}

	memset(&conf, 0, sizeof(conf));
	port->n_rxq = (uint16_t)RTE_MIN(nw, (unsigned)info.max_rx_queues);
	port->n_txq = (uint16_t)(nw + 1);
	port->control_txq = (uint16_t)nw;
	port->control_tx_ring = NULL;
	if (info.max_tx_queues < nw + 1) {
		/* Single-queue NICs (many vNICs, af_xdp on veth, af_packet without qpairs): the
		 * control thread's few packets go through worker 0, which owns queue 0. */
		port->n_txq = (uint16_t)nw;
		port->control_txq = MG_NO_CONTROL_TXQ;
		snprintf(name, sizeof(name), "mg_ctl_tx_%s", port_label[p]);
		port->control_tx_ring =
		    rte_ring_create(name, MG_CONTROL_TX_RING, rte_socket_id(), RING_F_SC_DEQ);
		if (port->control_tx_ring == NULL) {
			set_err(err, errlen, "port %s (%s): no memory for the control TX ring: %s",
			        port_label[p], devargs, rte_strerror(rte_errno));
			return -1;
		}
	}
	if (strcmp(info.driver_name, "net_af_packet") == 0) {
		/* af_packet opened one socket per queue pair at probe time and the kernel hashes
		 * flows over all of them (PACKET_FANOUT_HASH): a queue left unconfigured would
		 * swallow its share of flows. All are set up; n_rxq > n_workers means workers poll
		 * every queue q with q % n_workers == their id. */
		port->n_rxq = info.max_rx_queues;
	} else if (port->n_rxq > 1) {
		uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;

		if (hf) {
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			conf.rx_adv_conf.rss_conf.rss_hf = hf;
		} else {
			port->n_rxq = 1; /* no hashing: one queue, the workers fan out */
		}
	}
	conf.txmode.offloads =
	    info.tx_offload_capa & (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
	                            RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
	mtu = (uint16_t)((cfg->mtu ? cfg->mtu : 1420) + MG_OUTER_OVERHEAD);
	if (info.max_mtu < mtu) {
		set_err(err, errlen,
		        "port %s (%s): the device's largest MTU is %u, the outer packets need %u "
		        "(lower the interface mtu to %u)",
		        port_label[p], devargs, info.max_mtu, mtu,
		        info.max_mtu - MG_OUTER_OVERHEAD);
		return -1;
	}
	if (mtu >= info.min_mtu)
		conf.rxmode.mtu = mtu;

	rc = rte_eth_dev_configure(pid, port->n_rxq, port->n_txq, &conf);
	if (rc != 0) {
		set_err(err, errlen, "port %s (%s): configuring %u RX / %u TX queues failed: %s",
		        port_label[p], devargs, port->n_rxq, port->n_txq, rte_strerror(-rc));
		return -1;
	}
	states[p].configured = true;
	nb_rxd = pc->rx_desc ? pc->rx_desc : DEFAULT_DESC;
	nb_txd = pc->tx_desc ? pc->tx_desc : DEFAULT_DESC;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nb_rxd, &nb_txd);
	if (rc != 0) {
		set_err(err, errlen, "port %s (%s): descriptor counts rejected: %s", port_label[p],
		        devargs, rte_strerror(-rc));
		return -1;
	}

	socket = rte_eth_dev_socket_id(pid);
	if (socket < 0)
		socket = (int)rte_socket_id();
	snprintf(name, sizeof(name), "mg_pool_%s", port_label[p]);
	port->pool = rte_pktmbuf_pool_create(
	    name, pool_size(cfg, nw, port->n_rxq, port->n_txq, nb_rxd, nb_txd), MG_POOL_CACHE, 0,
	    RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (port->pool == NULL) {
		set_err(err, errlen,
		        "port %s (%s): no memory for %u mbufs on socket %d: %s (set mbufs or give "
		        "the EAL more memory)",
		        port_label[p], devargs,
		        pool_size(cfg, nw, port->n_rxq, port->n_txq, nb_rxd, nb_txd), socket,
		        rte_strerror(rte_errno));
		return -1;
	}

	for (uint16_t q = 0; q < port->n_rxq; q++) {
		struct rte_eth_rxconf rxconf = info.default_rxconf;

		rxconf.offloads = conf.rxmode.offloads;
		rc = rte_eth_rx_queue_setup(pid, q, nb_rxd, (unsigned)socket, &rxconf, port->pool);
		if (rc != 0) {
			set_err(err, errlen, "port %s (%s): RX queue %u setup failed: %s",
			        port_label[p], devargs, q, rte_strerror(-rc));
			return -1;
		}
	}
	for (uint16_t q = 0; q < port->n_txq; q++) {
		struct rte_eth_txconf txconf = info.default_txconf;

		txconf.offloads = conf.txmode.offloads;
		rc = rte_eth_tx_queue_setup(pid, q, nb_txd, (unsigned)socket, &txconf);
		if (rc != 0) {
			set_err(err, errlen, "port %s (%s): TX queue %u setup failed: %s",
			        port_label[p], devargs, q, rte_strerror(-rc));
			return -1;
		}
	}

	rc = rte_eth_dev_set_mtu(pid, mtu);
	if (rc != 0 && rc != -ENOTSUP) {
		set_err(err, errlen, "port %s (%s): setting MTU %u failed: %s", port_label[p],
		        devargs, mtu, rte_strerror(-rc));
		return -1;
	}
	rc = rte_eth_promiscuous_disable(pid);
	(void)rc; /* -ENOTSUP: the PMD has no filter to switch */
	rc = rte_eth_macaddr_get(pid, &port->mac);
	if (rc != 0) {
		set_err(err, errlen, "port %s (%s): reading the MAC address failed: %s",
		        port_label[p], devargs, rte_strerror(-rc));
		return -1;
	}
	accept_multicast(gw, p);

	rc = rte_eth_dev_start(pid);
	if (rc != 0) {
		set_err(err, errlen, "port %s (%s): start failed: %s", port_label[p], devargs,
		        rte_strerror(-rc));
		return -1;
	}
	memset(&link, 0, sizeof(link));
	port->link_up = rte_eth_link_get_nowait(pid, &link) == 0 && link.link_status;
	return 0;
}

/*
 * close_all: final teardown. Otherwise (a failed setup) ports this module did not create are only
 * stopped: closing would release them for good, and the caller may fix the config and retry.
 */
static void teardown(struct mg_gateway *gw, bool close_all)
{
	for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
		struct port_state *st = &states[p];
		struct mg_port *port = &gw->ports[p];
		struct rte_device *dev = NULL;
		struct rte_eth_dev_info info;

		/* the device handle must be read before close releases the port */
		if (st->probed_by_us && rte_eth_dev_info_get(port->port_id, &info) == 0)
			dev = info.device;
		if (st->configured) {
			rte_eth_dev_stop(port->port_id);
			if (close_all || st->probed_by_us)
				rte_eth_dev_close(port->port_id);
			st->configured = false;
		}
		if (dev != NULL)
			rte_dev_remove(dev);
		st->probed_by_us = false;
		rte_mempool_free(port->pool);
		port->pool = NULL;
		if (port->control_tx_ring) {
			struct rte_mbuf *m;
			while (rte_ring_dequeue(port->control_tx_ring, (void **)&m) == 0)
				rte_pktmbuf_free(m);
			rte_ring_free(port->control_tx_ring);
			port->control_tx_ring = NULL;
		}
		port->link_up = false;
	}
}

void mg_ports_stop(struct mg_gateway *gw)
{
	teardown(gw, true);
}

int mg_ports_setup(struct mg_gateway *gw, char *err, size_t errlen)
{
	memset(states, 0, sizeof(states));
	for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
		const char *devargs = gw->conf.ports[p].devargs;

		if (devargs[0] == '\0') {
			set_err(err, errlen, "port %s: no devargs configured", port_label[p]);
			goto fail;
		}
		if (find_or_probe(p, devargs, &gw->ports[p].port_id, err, errlen) != 0)
			goto fail;
		if (p == 1 && gw->ports[0].port_id == gw->ports[1].port_id) {
			set_err(err, errlen, "ports lan and mesh are the same device (%s)",
			        devargs);
			goto fail;
		}
		if (configure(gw, p, err, errlen) != 0)
			goto fail;
	}
	return 0;
fail:
	teardown(gw, false);
	return -1;
}

bool mg_port_control_tx(const struct mg_port *port, struct rte_mbuf *m)
{
	if (port->control_tx_ring)
		return rte_ring_mp_enqueue(port->control_tx_ring, m) == 0;
	return rte_eth_tx_burst(port->port_id, port->control_txq, &m, 1) == 1;
}
