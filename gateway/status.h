/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A point-in-time picture of the gateway for the health socket, and its two renderings: JSON
 * (meshctl, scripts) and the Prometheus text exposition format (version 0.0.4).
 *
 * The snapshot is plain C with no DPDK types, so rendering, the socket server and their tests
 * build without DPDK. status_collect.c fills it from a running gateway (the control thread's
 * view of struct mg_gateway); tests fill it by hand.
 *
 * Metric names follow the Prometheus conventions: meshgate_ prefix, base units in the name
 * (_bytes, _seconds), _total for counters; labels worker, port, peer (base64 public key) and
 * reason (mg_drop_reason_name). docs: meshgate_* HELP lines are the reference.
 */
#ifndef MESHGATE_CONTROL_STATUS_H
#define MESHGATE_CONTROL_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"

/* Base64 of a 32-byte key, NUL included. */
#define MG_STATUS_KEY_B64          45
#define MG_STATUS_MAX_DROP_REASONS 32
#define MG_STATUS_MAX_EXTRA        48

struct mg_status_port {
	char name[8]; /* "lan", "mesh" */
	uint16_t port_id;
	char mac[18];
	char devargs[MG_PATH_MAX];
	bool link_up;
	uint32_t speed_mbps; /* 0: unknown */
	bool full_duplex;
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;  /* forwarded by the workers */
	uint64_t nic_rx_missed, nic_rx_errors, nic_tx_errors; /* rte_eth_stats */
	uint64_t mbufs_in_use, mbufs_total;                   /* the port's pool */
};

struct mg_status_worker {
	unsigned id, lcore;
	uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes; /* both ports */
	uint64_t encrypted, decrypted, punted, drops;
	uint64_t polls, empty_polls;
	double busy_seconds; /* cycles spent on non-empty polls, at the TSC rate */
	double load;         /* busy over total cycles, 0..1 */
	double idle_ratio;   /* empty polls over polls, 0..1 */
};

struct mg_status_peer {
	char public_key[MG_STATUS_KEY_B64];
	char endpoint[MG_SOCKADDR_STRLEN]; /* "" when none (or relayed) */
	char path[80];                     /* "direct", "relay:<relay name>", or "" (no endpoint) */
	uint64_t last_handshake_unix_ns;   /* wall clock; 0 = never */
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets, drops;
	uint64_t policy_drops; /* of drops: what the packet filter refused from the peer */
	uint16_t persistent_keepalive;
	struct mg_prefix *allowed_ips; /* owned by the snapshot */
	size_t n_allowed_ips;
};

/* The coordinator client's state, as it reports it (status_collect has no view of its own). */
enum mg_coord_state {
	MG_COORD_STANDALONE, /* no coordinator configured */
	MG_COORD_CONNECTING, /* registering or opening the map stream */
	MG_COORD_SYNCED,     /* map stream open, last map applied */
	MG_COORD_RETRYING,   /* stream lost; the last map stays in force */
	MG_COORD_ERROR,      /* gave up (registration refused, bad key…) */
};
const char *mg_coord_state_name(enum mg_coord_state s);

struct mg_status_coord {
	enum mg_coord_state state;
	uint64_t last_seq;          /* sequence number of the last map or delta applied */
	uint64_t last_sync_unix_ns; /* wall clock of that; 0 = never */
	char error[128];            /* last error, "" when none */
};

/* A named counter or gauge with no labels, from the control thread (handshakes and the like). */
struct mg_status_extra {
	const char *name; /* full metric name (meshgate_…); static storage */
	const char *help;
	bool counter;
	uint64_t value;
};

/* The exit NAT, summed over the workers (counters.h's struct mg_nat_counters). */
struct mg_status_nat {
	bool enabled;
	uint64_t flows[MG_NAT_PROTO_COUNT]; /* mappings in use: created minus expired */
	uint64_t created[MG_NAT_PROTO_COUNT];
	uint64_t out, in, icmp_errors, mss_clamped;
	uint64_t no_port, table_full, unsupported; /* drops (also in drops by reason) */
};

/* The packet filter in force and its flow tracking (dataplane/acl.h, flow.h). */
struct mg_status_filter {
	bool enabled;    /* false: no policy (static mode without a filter section) */
	char source[16]; /* "none", "config" or "coordinator" */
	uint64_t rules;  /* as the map or config states them */
	uint64_t acl_rules4, acl_rules6; /* rte_acl rules they expand to */
	uint64_t installed_unix_ns;
	uint64_t changes, errors;
	uint64_t flows; /* tracked now */
	uint64_t flows_created, flows_expired, flows_full;
	uint64_t replies, icmp_errors, fragments; /* passed by tracking, not by a rule */
	uint64_t refused;                         /* drops by reason policy */
};

struct mg_status {
	char version[32];
	char ifname[16];
	char log_level[16];
	uint64_t now_unix_ns;
	uint64_t start_unix_ns;
	double uptime_seconds;
	uint16_t listen_port;

	struct mg_status_coord coord;
	char coordinator_url[MG_PATH_MAX];

	struct mg_status_port ports[MG_PORT_COUNT];
	unsigned n_ports;

	struct mg_status_worker workers[MG_MAX_WORKERS];
	unsigned n_workers;

	struct mg_status_peer *peers; /* owned */
	size_t n_peers;

	/* drops summed over workers, by reason; names point at static strings */
	const char *drop_names[MG_STATUS_MAX_DROP_REASONS];
	uint64_t drops[MG_STATUS_MAX_DROP_REASONS];
	unsigned n_drop_reasons;

	struct mg_status_nat nat;
	struct mg_status_filter filter;

	struct mg_status_extra extra[MG_STATUS_MAX_EXTRA];
	unsigned n_extra;

	/* memory */
	uint64_t rss_bytes;                             /* /proc/self/statm resident pages */
	uint64_t heap_allocated_bytes, heap_free_bytes; /* DPDK heap, all sockets */
};

/* Zeroes st. */
void mg_status_init(struct mg_status *st);
/* Frees what the snapshot owns and zeroes it. */
void mg_status_free(struct mg_status *st);
/* Adds a peer row (zeroed) and returns it; NULL when out of memory. */
struct mg_status_peer *mg_status_add_peer(struct mg_status *st);
/* Copies n prefixes into the peer. Returns 0 or -ENOMEM. */
int mg_status_peer_set_allowed_ips(struct mg_status_peer *p, const struct mg_prefix *ips, size_t n);
/* Adds a drop reason (or adds to it when the name is already there). */
void mg_status_add_drop(struct mg_status *st, const char *reason, uint64_t count);
void mg_status_add_extra(struct mg_status *st, const char *name, const char *help, bool counter,
                         uint64_t value);

/* Reads the resident set size of this process; 0 when /proc is not there. */
uint64_t mg_status_read_rss(void);

/*
 * JSON documents (new references; NULL on out of memory):
 *   status: version, ifname, uptime, coordinator, ports, workers, drops, memory, peer count
 *   peers:  {"peers": [{public_key, endpoint, latest_handshake…, rx/tx, drops, allowed_ips}]}
 *   routes: {"routes": [{"prefix", "peer"}]}, one per allowed IP
 */
json_t *mg_status_json(const struct mg_status *st);
json_t *mg_status_peers_json(const struct mg_status *st);
json_t *mg_status_routes_json(const struct mg_status *st);

/* The Prometheus exposition in a malloc'd, NUL-terminated buffer; NULL on out of memory. */
char *mg_status_prometheus(const struct mg_status *st, size_t *len);

/*
 * Gateway side (status_collect.c, needs DPDK): fills st from gw. Everything read is either
 * written by this thread or read the way the workers publish it (per-worker counters may be one
 * burst old). Returns 0 or -ENOMEM (st is then partly filled; free it either way).
 */
struct mg_gateway;
struct mg_peer_counters;
struct mg_status_sources {
	const char *version;
	const char *ifname;          /* NULL: none */
	const char *coordinator_url; /* NULL or "": standalone */
	uint64_t start_unix_ns;
	const struct mg_status_coord *coord; /* NULL: standalone, or not started */
	/* Per-slot counters the control thread keeps itself (handshake bytes); NULL: none. */
	const struct mg_peer_counters *ctl_counters;
	uint32_t slot_high; /* slots >= this are free; 0: scan max_peers */
	/* The filter's control-side facts (its rules live on the control thread). */
	const char *filter_source; /* NULL: "none" */
	size_t filter_rules;
	uint64_t filter_installed_unix_ns, filter_changes, filter_errors;
	const struct mg_flow_counters *ctl_flows; /* the control thread's own; NULL: none */
	const char *relay_name; /* the relay behind relayed peers' endpoints; NULL: no relay path */
	const char *relay_home; /* that relay while connected, NULL otherwise */
	/* The relay a relayed peer's messages go to when not relay_name; NULL: relay_name. */
	const char *(*relay_via)(const void *ctx, uint32_t slot);
	const void *relay_ctx;
};
/* The filter section of the status document (also meshctl filter's base). */
json_t *mg_status_filter_json(const struct mg_status *st);
int mg_status_collect(const struct mg_gateway *gw, const struct mg_status_sources *src,
                      struct mg_status *st);

#endif
