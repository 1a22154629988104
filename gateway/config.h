/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The gateway's configuration: one YAML file (conf/gateway-site-a.yaml and conf/gateway-nic.yaml
 * document every key). Parsing never exits the process; errors carry the key path, the line
 * and what was expected.
 */
#ifndef MESHGATE_GATEWAY_CONFIG_H
#define MESHGATE_GATEWAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "constants.h"
/* The data plane's limits (workers, addresses, EAL arguments, tbl8 groups) and port ids; no
 * DPDK behind it, so the loader still builds without DPDK. */
#include "dp_config.h"
#include "filter.h"
#include "nat_probe.h"
#include "relay_config.h"
#include "node_config.h"

struct mg_port_config {
	char devargs[MG_DEVARGS_MAX]; /* PCI address or vdev string (net_af_packet0,iface=veth0) */
	struct mg_prefix ipv4;        /* our address on this port, with its subnet length */
	struct mg_prefix ipv6;
	bool has_ipv4, has_ipv6;
	uint8_t gateway4[4]; /* default next hop for off-subnet destinations */
	uint8_t gateway6[16];
	bool has_gateway4, has_gateway6;
	uint16_t rx_desc, tx_desc; /* 0: PMD default */
};

struct mg_peer_config {
	uint8_t public_key[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN];
	bool has_preshared_key;
	struct mg_sockaddr endpoint;
	struct mg_prefix *allowed_ips;
	size_t n_allowed_ips;
	uint16_t persistent_keepalive; /* seconds, 0 = off */
};

struct mg_config {
	/* interface */
	char ifname[16];
	char private_key_file[MG_PATH_MAX];
	uint8_t private_key[WG_KEY_LEN];
	uint16_t listen_port;
	uint16_t mtu; /* inner MTU, 1420 by default */
	struct mg_prefix addresses[MG_MAX_ADDRESSES];
	size_t n_addresses;

	struct mg_port_config ports[MG_PORT_COUNT];

	/* lcores and EAL */
	unsigned control_lcore;
	unsigned worker_lcores[MG_MAX_WORKERS];
	size_t n_workers;
	/* lcores.handshake: lcores that answer initiations besides the control lcore (none: the
	 * control lcore answers them all, as before; gateway/handshake_lcores.h) */
	unsigned handshake_lcores[MG_MAX_HS_LCORES];
	size_t n_handshake_lcores;
	char *eal_args[MG_MAX_EAL_ARGS];
	size_t n_eal_args;
	bool idle_backoff;          /* adaptive sleep after empty polls; busy poll when false */
	uint32_t idle_max_sleep_us; /* upper bound of one back-off sleep */
	bool rx_fanout;             /* spread one RX queue's bursts over every worker */

	/* sizing */
	uint32_t mbufs;        /* per port; 0: derived from descriptors and workers */
	uint32_t max_peers;    /* 16384 unless configured (load never leaves 0) */
	uint32_t max_prefixes; /* allowed-IPs prefixes per family; 262144 unless configured */
	/* limits.ipv4_tbl8_groups / ipv6_tbl8_groups: the allowed-IPs table's tbl8 groups (IPv6:
	 * per copy); 0 = the table's default for max_prefixes (dataplane/allowedips.h). */
	uint32_t ipv4_tbl8_groups;
	uint32_t ipv6_tbl8_groups;

	struct mg_peer_config *peers;
	size_t n_peers;

	/* coordinated mode (issue 5): coord.url[0] != 0 */
	struct mg_coord_config coord;
	/* relay: the home relay of the relay path (enabled false when absent) */
	struct mg_relay_config relay;
	/* stun: STUN servers asked from the WireGuard port (enabled false when absent) */
	struct mg_nat_probe_config stun;

	/* exit: the exit-node NAT, in the data plane's own terms (enabled false when absent) */
	struct mg_dp_exit_config exit;

	/* filter: static mode's packet filter (has_filter false: no policy, everything passes).
	 * Refused with a coordinator, whose map carries the filter. */
	bool has_filter;
	struct mg_filter filter;

	/* local sockets */
	char uapi_dir[MG_PATH_MAX]; /* default /var/run/wireguard */
	char health_socket[MG_PATH_MAX];
	/* metrics.listen: loopback IP:PORT for Prometheus (GET /metrics); "" = off */
	char metrics_listen[MG_SOCKADDR_STRLEN];

	char log_level[16]; /* error, warning, notice, info or debug */

	/* test-only: divides every protocol timer (REKEY_AFTER_TIME…) by this factor; 1 in
	 * production */
	uint32_t test_timer_divisor;

	/* Non-fatal findings for the caller to log ("FILE:LINE: key: …" lines, '\n'-separated). */
	char warnings[1024];
};

/* errbuf gets "FILE:LINE: key.path: expected …, got …". Returns 0 or -1. */
int mg_config_load(const char *path, struct mg_config *cfg, char *errbuf, size_t errlen);
/* The same for text in memory (the fuzz target: no file per input); name stands for FILE. */
int mg_config_load_buffer(const char *name, const char *text, size_t len, struct mg_config *cfg,
                          char *errbuf, size_t errlen);
/* Zeroes the private key and frees what load allocated. */
void mg_config_free(struct mg_config *cfg);

#endif
