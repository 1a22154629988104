/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data plane's own description of itself: what it was started with (struct mg_dp_config,
 * fixed for the life of the gateway) and the addresses it answers for (struct mg_dp_addrs,
 * replaced as a whole and republished under RCU when the coordinator assigns new ones).
 *
 * The gateway builds both from its YAML config; tests and the benchmark fill them directly. The
 * limits here are the data plane's, so the config loader range-checks against them. No DPDK
 * header on purpose: the config loader includes this one and builds without DPDK (fuzz suite).
 */
#ifndef MESHGATE_DATAPLANE_DP_CONFIG_H
#define MESHGATE_DATAPLANE_DP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define MG_MAX_WORKERS 16
/* Handshake lcores (gateway/handshake_lcores.h): each has its own ring from the workers. */
#define MG_MAX_HS_LCORES 8
#define MG_MAX_ADDRESSES 8
#define MG_MAX_EAL_ARGS  32
/* DPDK's default RTE_MAX_LCORE: lcore ids are below it. */
#define MG_MAX_LCORE 128
/* A PCI address or a vdev string with its arguments. */
#define MG_DEVARGS_MAX 256
/*
 * tbl8 groups of the allowed-IPs table (allowedips.h): the maxima are rte_lpm's and rte_lpm6's;
 * below the minimum a table cannot hold even a few long prefixes.
 */
#define MG_MIN_TBL8_GROUPS    16u
#define MG_MAX_V4_TBL8_GROUPS (1u << 24)
#define MG_MAX_V6_TBL8_GROUPS (1u << 21)

enum mg_port_id { MG_PORT_LAN = 0, MG_PORT_MESH = 1, MG_PORT_COUNT };

/* Exit-node NAT (nat.h). */
#define MG_NAT_MAX_POOL    16 /* translated IPv4 addresses */
#define MG_NAT_MAX_EXCLUDE 32 /* destinations never translated: the gateway's own LANs */
#define MG_NAT_MIN_FLOWS   64u
#define MG_NAT_MAX_FLOWS   (1u << 24)
/* RFC 4787 REQ-5 (UDP >= 2 min, 5 min recommended), RFC 5382 REQ-5 (established TCP >= 2 h 4
 * min, transitory 4 min), RFC 5508 REQ-1 (ICMP query >= 60 s). */
#define MG_NAT_UDP_TIMEOUT_S       300u
#define MG_NAT_TCP_EST_TIMEOUT_S   7440u
#define MG_NAT_TCP_TRANS_TIMEOUT_S 240u
#define MG_NAT_ICMP_TIMEOUT_S      60u

/* Mapping protocols of the exit NAT, for counters and status by protocol. */
enum mg_nat_proto { MG_NAT_TCP, MG_NAT_UDP, MG_NAT_ICMP, MG_NAT_PROTO_COUNT };

struct mg_dp_exit_config {
	bool enabled;
	uint8_t uplink; /* enum mg_port_id the translated traffic leaves and returns by */
	/* next hop on the uplink for off-link destinations; unset: the port's gateway */
	uint8_t next_hop4[4], next_hop6[16];
	bool has_next_hop4, has_next_hop6;
	/* translated sources; none: the uplink port's own address of that family */
	uint8_t pool4[MG_NAT_MAX_POOL][4];
	size_t n_pool4;
	uint8_t addr6[16];
	bool has_addr6;
	uint16_t port_min, port_max; /* external ports and ICMP identifiers; 0: 1024..65535 */
	uint32_t max_flows;          /* mappings, all protocols; 0: 65536 */
	/* seconds; 0: the RFC defaults above */
	uint32_t udp_timeout, tcp_established_timeout, tcp_transitory_timeout, icmp_timeout;
	struct mg_prefix exclude[MG_NAT_MAX_EXCLUDE];
	size_t n_exclude;
};

/* A port's own addresses and default next hops: read per packet, so part of struct mg_dp_addrs. */
struct mg_port_addrs {
	struct mg_prefix ipv4; /* our address on this port, with its subnet length */
	struct mg_prefix ipv6;
	bool has_ipv4, has_ipv6;
	uint8_t gateway4[4]; /* default next hop for off-subnet destinations */
	uint8_t gateway6[16];
	bool has_gateway4, has_gateway6;
};

/* Every address the gateway owns. Immutable once published (mg_gateway_addrs in dataplane.h). */
struct mg_dp_addrs {
	struct mg_port_addrs ports[MG_PORT_COUNT];
	/* interface (overlay) addresses: configured ones first, then the coordinator's */
	struct mg_prefix addresses[MG_MAX_ADDRESSES];
	size_t n_addresses;
};

struct mg_dp_port_config {
	char devargs[MG_DEVARGS_MAX]; /* PCI address or vdev string (net_af_packet0,iface=veth0) */
	uint16_t rx_desc, tx_desc;    /* 0: PMD default */
};

struct mg_dp_config {
	struct mg_dp_port_config ports[MG_PORT_COUNT];

	/* lcores and EAL; eal_args point at the caller's strings, read only by mg_eal_init */
	unsigned control_lcore;
	unsigned worker_lcores[MG_MAX_WORKERS];
	size_t n_workers;
	unsigned handshake_lcores[MG_MAX_HS_LCORES]; /* in the EAL's lcore list too */
	size_t n_handshake_lcores;
	const char *eal_args[MG_MAX_EAL_ARGS];
	size_t n_eal_args;

	uint16_t listen_port;       /* at start; the live one is struct mg_gateway.listen_port */
	uint16_t mtu;               /* inner MTU; 0: 1420 */
	bool idle_backoff;          /* adaptive sleep after empty polls; busy poll when false */
	uint32_t idle_max_sleep_us; /* upper bound of one back-off sleep; 0: 1000 */
	bool rx_fanout;             /* spread one RX queue's bursts over every worker */

	/* sizing */
	uint32_t mbufs;            /* per port; 0: derived from descriptors and workers */
	uint32_t max_peers;        /* peer slots */
	uint32_t max_prefixes;     /* allowed-IPs prefixes per family */
	uint32_t ipv4_tbl8_groups; /* 0: the allowed-IPs table's default for max_prefixes */
	uint32_t ipv6_tbl8_groups;

	struct mg_dp_exit_config exit;
};

#endif
