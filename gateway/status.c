// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rendering of a status snapshot as JSON and as Prometheus text. No DPDK here: the snapshot is
 * plain data, so the socket server and its tests need none either.
 */
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *mg_coord_state_name(enum mg_coord_state s)
{
	switch (s) {
	case MG_COORD_STANDALONE:
		return "standalone";
	case MG_COORD_CONNECTING:
		return "connecting";
	case MG_COORD_SYNCED:
		return "synced";
	case MG_COORD_RETRYING:
		return "retrying";
	case MG_COORD_ERROR:
		return "error";
	}
	return "unknown";
}
#define COORD_STATE_COUNT 5

void mg_status_init(struct mg_status *st)
{
	memset(st, 0, sizeof(*st));
}

void mg_status_free(struct mg_status *st)
{
	for (size_t i = 0; i < st->n_peers; i++)
		free(st->peers[i].allowed_ips);
	free(st->peers);
	memset(st, 0, sizeof(*st));
}

struct mg_status_peer *mg_status_add_peer(struct mg_status *st)
{
	/* Grows by doubling: the array's capacity is the next power of two of n_peers. */
	size_t n = st->n_peers;
	if (n == 0 || (n & (n - 1)) == 0) {
		size_t cap = n ? n * 2 : 8;
		struct mg_status_peer *p = realloc(st->peers, cap * sizeof(*p));
		if (!p)
			return NULL;
		st->peers = p;
	}
	struct mg_status_peer *p = &st->peers[st->n_peers++];
	memset(p, 0, sizeof(*p));
	return p;
}

int mg_status_peer_set_allowed_ips(struct mg_status_peer *p, const struct mg_prefix *ips, size_t n)
{
	free(p->allowed_ips);
	p->allowed_ips = NULL;
	p->n_allowed_ips = 0;
	if (!n)
		return 0;
	p->allowed_ips = malloc(n * sizeof(*ips));
	if (!p->allowed_ips)
		return -ENOMEM;
	memcpy(p->allowed_ips, ips, n * sizeof(*ips));
	p->n_allowed_ips = n;
	return 0;
}

void mg_status_add_drop(struct mg_status *st, const char *reason, uint64_t count)
{
	for (unsigned i = 0; i < st->n_drop_reasons; i++)
		if (strcmp(st->drop_names[i], reason) == 0) {
			st->drops[i] += count;
			return;
		}
	if (st->n_drop_reasons == MG_STATUS_MAX_DROP_REASONS)
		return;
	st->drop_names[st->n_drop_reasons] = reason;
	st->drops[st->n_drop_reasons++] = count;
}

void mg_status_add_extra(struct mg_status *st, const char *name, const char *help, bool counter,
                         uint64_t value)
{
	if (st->n_extra == MG_STATUS_MAX_EXTRA)
		return;
	st->extra[st->n_extra++] = (struct mg_status_extra){
	    .name = name, .help = help, .counter = counter, .value = value};
}

uint64_t mg_status_read_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size, resident;
	if (!f)
		return 0;
	int n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	if (n != 2 || page <= 0)
		return 0;
	return (uint64_t)resident * (uint64_t)page;
}

/* ---- JSON ---- */

static double ns_to_s(uint64_t ns)
{
	return (double)ns / 1e9;
}

static json_t *u64(uint64_t v)
{
	/* jansson integers are signed 64-bit; counters never get near the limit. */
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *coord_json(const struct mg_status *st)
{
	const struct mg_status_coord *c = &st->coord;
	json_t *o = json_object();
	json_object_set_new(o, "state", json_string(mg_coord_state_name(c->state)));
	json_object_set_new(o, "url", json_string(st->coordinator_url));
	json_object_set_new(o, "last_seq", u64(c->last_seq));
	if (c->last_sync_unix_ns) {
		json_object_set_new(o, "last_sync_unix", u64(c->last_sync_unix_ns / 1000000000ull));
		json_object_set_new(o, "last_sync_age_seconds",
		                    json_real(st->now_unix_ns > c->last_sync_unix_ns
		                                  ? ns_to_s(st->now_unix_ns - c->last_sync_unix_ns)
		                                  : 0.0));
	} else {
		json_object_set_new(o, "last_sync_unix", json_null());
		json_object_set_new(o, "last_sync_age_seconds", json_null());
	}
	json_object_set_new(o, "error", json_string(c->error));
	return o;
}

static json_t *port_json(const struct mg_status_port *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "port_id", json_integer(p->port_id));
	json_object_set_new(o, "mac", json_string(p->mac));
	json_object_set_new(o, "devargs", json_string(p->devargs));
	json_object_set_new(o, "link_up", json_boolean(p->link_up));
	json_object_set_new(o, "speed_mbps", json_integer(p->speed_mbps));
	json_object_set_new(o, "duplex", json_string(p->full_duplex ? "full" : "half"));
	json_object_set_new(o, "rx_packets", u64(p->rx_packets));
	json_object_set_new(o, "rx_bytes", u64(p->rx_bytes));
	json_object_set_new(o, "tx_packets", u64(p->tx_packets));
	json_object_set_new(o, "tx_bytes", u64(p->tx_bytes));
	json_object_set_new(o, "nic_rx_missed", u64(p->nic_rx_missed));
	json_object_set_new(o, "nic_rx_errors", u64(p->nic_rx_errors));
	json_object_set_new(o, "nic_tx_errors", u64(p->nic_tx_errors));
	json_object_set_new(o, "mbufs_in_use", u64(p->mbufs_in_use));
	json_object_set_new(o, "mbufs_total", u64(p->mbufs_total));
	return o;
}

static json_t *worker_json(const struct mg_status_worker *w)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(w->id));
	json_object_set_new(o, "lcore", json_integer(w->lcore));
	json_object_set_new(o, "rx_packets", u64(w->rx_packets));
	json_object_set_new(o, "tx_packets", u64(w->tx_packets));
	json_object_set_new(o, "rx_bytes", u64(w->rx_bytes));
	json_object_set_new(o, "tx_bytes", u64(w->tx_bytes));
	json_object_set_new(o, "encrypted", u64(w->encrypted));
	json_object_set_new(o, "decrypted", u64(w->decrypted));
	json_object_set_new(o, "punted", u64(w->punted));
	json_object_set_new(o, "drops", u64(w->drops));
	json_object_set_new(o, "polls", u64(w->polls));
	json_object_set_new(o, "empty_polls", u64(w->empty_polls));
	json_object_set_new(o, "busy_seconds", json_real(w->busy_seconds));
	json_object_set_new(o, "load", json_real(w->load));
	json_object_set_new(o, "idle_ratio", json_real(w->idle_ratio));
	return o;
}

static json_t *nat_json(const struct mg_status_nat *n)
{
	static const char *const protos[MG_NAT_PROTO_COUNT] = {"tcp", "udp", "icmp"};
	json_t *o = json_object(), *flows = json_object(), *created = json_object();
	for (unsigned p = 0; p < MG_NAT_PROTO_COUNT; p++) {
		json_object_set_new(flows, protos[p], u64(n->flows[p]));
		json_object_set_new(created, protos[p], u64(n->created[p]));
	}
	json_object_set_new(o, "flows", flows);
	json_object_set_new(o, "created", created);
	json_object_set_new(o, "translated_out", u64(n->out));
	json_object_set_new(o, "translated_in", u64(n->in));
	json_object_set_new(o, "icmp_errors", u64(n->icmp_errors));
	json_object_set_new(o, "mss_clamped", u64(n->mss_clamped));
	json_t *fail = json_object();
	json_object_set_new(fail, "no_port", u64(n->no_port));
	json_object_set_new(fail, "table_full", u64(n->table_full));
	json_object_set_new(o, "allocation_failures", fail);
	json_object_set_new(o, "unsupported", u64(n->unsupported));
	return o;
}

json_t *mg_status_filter_json(const struct mg_status *st)
{
	const struct mg_status_filter *f = &st->filter;
	json_t *o = json_object(), *fl = json_object();
	json_object_set_new(o, "enabled", json_boolean(f->enabled));
	json_object_set_new(o, "source", json_string(f->source));
	json_object_set_new(o, "rules", u64(f->rules));
	json_object_set_new(o, "acl_rules_ipv4", u64(f->acl_rules4));
	json_object_set_new(o, "acl_rules_ipv6", u64(f->acl_rules6));
	json_object_set_new(o, "installed_unix", u64(f->installed_unix_ns / 1000000000ull));
	json_object_set_new(o, "changes", u64(f->changes));
	json_object_set_new(o, "errors", u64(f->errors));
	json_object_set_new(o, "refused", u64(f->refused));
	json_object_set_new(fl, "tracked", u64(f->flows));
	json_object_set_new(fl, "created", u64(f->flows_created));
	json_object_set_new(fl, "expired", u64(f->flows_expired));
	json_object_set_new(fl, "table_full", u64(f->flows_full));
	json_object_set_new(fl, "replies", u64(f->replies));
	json_object_set_new(fl, "icmp_errors", u64(f->icmp_errors));
	json_object_set_new(fl, "fragments", u64(f->fragments));
	json_object_set_new(o, "flows", fl);
	return o;
}

json_t *mg_status_json(const struct mg_status *st)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "version", json_string(st->version));
	json_object_set_new(o, "ifname", json_string(st->ifname));
	json_object_set_new(o, "log_level", json_string(st->log_level));
	json_object_set_new(o, "listen_port", json_integer(st->listen_port));
	json_object_set_new(o, "now_unix", u64(st->now_unix_ns / 1000000000ull));
	json_object_set_new(o, "start_unix", u64(st->start_unix_ns / 1000000000ull));
	json_object_set_new(o, "uptime_seconds", json_real(st->uptime_seconds));
	json_object_set_new(o, "coordinator", coord_json(st));

	json_t *ports = json_array();
	for (unsigned i = 0; i < st->n_ports; i++)
		json_array_append_new(ports, port_json(&st->ports[i]));
	json_object_set_new(o, "ports", ports);

	json_t *workers = json_array();
	for (unsigned i = 0; i < st->n_workers; i++)
		json_array_append_new(workers, worker_json(&st->workers[i]));
	json_object_set_new(o, "workers", workers);

	size_t handshaken = 0;
	for (size_t i = 0; i < st->n_peers; i++)
		handshaken += st->peers[i].last_handshake_unix_ns != 0;
	json_t *peers = json_object();
	json_object_set_new(peers, "configured", u64(st->n_peers));
	json_object_set_new(peers, "with_handshake", u64(handshaken));
	json_object_set_new(o, "peers", peers);

	json_t *drops = json_object();
	uint64_t total = 0;
	for (unsigned i = 0; i < st->n_drop_reasons; i++) {
		json_object_set_new(drops, st->drop_names[i], u64(st->drops[i]));
		total += st->drops[i];
	}
	json_object_set_new(o, "drops", drops);
	json_object_set_new(o, "drops_total", u64(total));

	if (st->nat.enabled)
		json_object_set_new(o, "nat", nat_json(&st->nat));
	json_object_set_new(o, "filter", mg_status_filter_json(st));

	json_t *control = json_object();
	for (unsigned i = 0; i < st->n_extra; i++) {
		const char *name = st->extra[i].name;
		if (strncmp(name, "meshgate_", 9) == 0)
			name += 9;
		json_object_set_new(control, name, u64(st->extra[i].value));
	}
	json_object_set_new(o, "control", control);

	uint64_t in_use = 0, total_mbufs = 0;
	for (unsigned i = 0; i < st->n_ports; i++) {
		in_use += st->ports[i].mbufs_in_use;
		total_mbufs += st->ports[i].mbufs_total;
	}
	json_t *mem = json_object();
	json_object_set_new(mem, "rss_bytes", u64(st->rss_bytes));
	json_object_set_new(mem, "heap_allocated_bytes", u64(st->heap_allocated_bytes));
	json_object_set_new(mem, "heap_free_bytes", u64(st->heap_free_bytes));
	json_object_set_new(mem, "mbufs_in_use", u64(in_use));
	json_object_set_new(mem, "mbufs_total", u64(total_mbufs));
	json_object_set_new(o, "memory", mem);
	return o;
}

static json_t *peer_json(const struct mg_status *st, const struct mg_status_peer *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "public_key", json_string(p->public_key));
	json_object_set_new(o, "endpoint", p->endpoint[0] ? json_string(p->endpoint) : json_null());
	json_object_set_new(o, "path", p->path[0] ? json_string(p->path) : json_null());
	json_object_set_new(o, "latest_handshake_unix",
	                    u64(p->last_handshake_unix_ns / 1000000000ull));
	if (p->last_handshake_unix_ns)
		json_object_set_new(
		    o, "latest_handshake_age_seconds",
		    json_real(st->now_unix_ns > p->last_handshake_unix_ns
		                  ? ns_to_s(st->now_unix_ns - p->last_handshake_unix_ns)
		                  : 0.0));
	else
		json_object_set_new(o, "latest_handshake_age_seconds", json_null());
	json_object_set_new(o, "rx_bytes", u64(p->rx_bytes));
	json_object_set_new(o, "tx_bytes", u64(p->tx_bytes));
	json_object_set_new(o, "rx_packets", u64(p->rx_packets));
	json_object_set_new(o, "tx_packets", u64(p->tx_packets));
	json_object_set_new(o, "drops", u64(p->drops));
	json_object_set_new(o, "policy_drops", u64(p->policy_drops));
	json_object_set_new(o, "persistent_keepalive", json_integer(p->persistent_keepalive));
	json_t *ips = json_array();
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		char buf[MG_PREFIX_STRLEN];
		mg_prefix_format(&p->allowed_ips[i], buf, sizeof(buf));
		json_array_append_new(ips, json_string(buf));
	}
	json_object_set_new(o, "allowed_ips", ips);
	return o;
}

json_t *mg_status_peers_json(const struct mg_status *st)
{
	json_t *o = json_object(), *peers = json_array();
	if (!o || !peers) {
		json_decref(o);
		json_decref(peers);
		return NULL;
	}
	for (size_t i = 0; i < st->n_peers; i++)
		json_array_append_new(peers, peer_json(st, &st->peers[i]));
	json_object_set_new(o, "peers", peers);
	return o;
}

json_t *mg_status_routes_json(const struct mg_status *st)
{
	json_t *o = json_object(), *routes = json_array();
	if (!o || !routes) {
		json_decref(o);
		json_decref(routes);
		return NULL;
	}
	for (size_t i = 0; i < st->n_peers; i++) {
		const struct mg_status_peer *p = &st->peers[i];
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			char buf[MG_PREFIX_STRLEN];
			mg_prefix_format(&p->allowed_ips[j], buf, sizeof(buf));
			json_t *r = json_object();
			json_object_set_new(r, "prefix", json_string(buf));
			json_object_set_new(r, "family", json_integer(p->allowed_ips[j].family));
			json_object_set_new(r, "peer", json_string(p->public_key));
			json_object_set_new(
			    r, "endpoint", p->endpoint[0] ? json_string(p->endpoint) : json_null());
			json_array_append_new(routes, r);
		}
	}
	json_object_set_new(o, "routes", routes);
	return o;
}

/* ---- Prometheus text ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n + 1;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
}

/* A label value with \, " and newline escaped, as the exposition format requires. */
static void sb_label(struct sbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			sb_printf(b, "\\\\");
		else if (*v == '"')
			sb_printf(b, "\\\"");
		else if (*v == '\n')
			sb_printf(b, "\\n");
		else
			sb_printf(b, "%c", *v);
	}
}

static void family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(struct sbuf *b, const char *name, const char *label, const char *value,
                       uint64_t v)
{
	sb_printf(b, "%s", name);
	if (label) {
		sb_printf(b, "{%s=\"", label);
		sb_label(b, value);
		sb_printf(b, "\"}");
	}
	sb_printf(b, " %" PRIu64 "\n", v);
}

static void sample_double(struct sbuf *b, const char *name, const char *label, const char *value,
                          double v)
{
	sb_printf(b, "%s", name);
	if (label) {
		sb_printf(b, "{%s=\"", label);
		sb_label(b, value);
		sb_printf(b, "\"}");
	}
	/* 15 significant digits: timestamps keep their milliseconds, ratios stay short. */
	sb_printf(b, " %.15g\n", v);
}

/* Port and worker series: one family, one sample per port or worker. */
#define PORT_FAMILY(b, st, metric, type, help, field)                       \
	do {                                                                \
		family(b, metric, type, help);                              \
		for (unsigned i_ = 0; i_ < (st)->n_ports; i_++)             \
			sample_u64(b, metric, "port", (st)->ports[i_].name, \
			           (uint64_t)(st)->ports[i_].field);        \
	} while (0)

#define WORKER_FAMILY(b, st, metric, type, help, field, sample)                    \
	do {                                                                       \
		family(b, metric, type, help);                                     \
		for (unsigned i_ = 0; i_ < (st)->n_workers; i_++) {                \
			char id_[12];                                              \
			snprintf(id_, sizeof(id_), "%u", (st)->workers[i_].id);    \
			sample(b, metric, "worker", id_, (st)->workers[i_].field); \
		}                                                                  \
	} while (0)

#define PEER_FAMILY(b, st, metric, type, help, expr)                                     \
	do {                                                                             \
		family(b, metric, type, help);                                           \
		for (size_t i_ = 0; i_ < (st)->n_peers; i_++) {                          \
			const struct mg_status_peer *p_ = &(st)->peers[i_];              \
			sample_u64(b, metric, "peer", p_->public_key, (uint64_t)(expr)); \
		}                                                                        \
	} while (0)

static void prom_global(struct sbuf *b, const struct mg_status *st)
{
	family(b, "meshgate_build_info", "gauge", "Version of the running gateway (always 1).");
	sb_printf(b, "meshgate_build_info{version=\"");
	sb_label(b, st->version);
	sb_printf(b, "\",ifname=\"");
	sb_label(b, st->ifname);
	sb_printf(b, "\"} 1\n");
	family(b, "meshgate_start_time_seconds", "gauge", "Unix time the gateway started.");
	sample_double(b, "meshgate_start_time_seconds", NULL, NULL, ns_to_s(st->start_unix_ns));
	family(b, "meshgate_uptime_seconds", "gauge", "Seconds since the gateway started.");
	sample_double(b, "meshgate_uptime_seconds", NULL, NULL, st->uptime_seconds);

	family(b, "meshgate_coordinator_state", "gauge",
	       "Coordinator sync state: 1 for the current state, 0 for the others.");
	for (int s = 0; s < COORD_STATE_COUNT; s++)
		sample_u64(b, "meshgate_coordinator_state", "state",
		           mg_coord_state_name((enum mg_coord_state)s), (int)st->coord.state == s);
	family(b, "meshgate_coordinator_sequence", "gauge",
	       "Sequence number of the last network map or delta applied.");
	sample_u64(b, "meshgate_coordinator_sequence", NULL, NULL, st->coord.last_seq);
	family(b, "meshgate_coordinator_last_sync_timestamp_seconds", "gauge",
	       "Unix time the last network map or delta was applied (0: never).");
	sample_double(b, "meshgate_coordinator_last_sync_timestamp_seconds", NULL, NULL,
	              ns_to_s(st->coord.last_sync_unix_ns));
}

static void prom_ports(struct sbuf *b, const struct mg_status *st)
{
	PORT_FAMILY(b, st, "meshgate_port_link_up", "gauge", "1 when the port's link is up.",
	            link_up);
	PORT_FAMILY(b, st, "meshgate_port_received_packets_total", "counter",
	            "Packets the workers received on the port.", rx_packets);
	PORT_FAMILY(b, st, "meshgate_port_received_bytes_total", "counter",
	            "Bytes the workers received on the port.", rx_bytes);
	PORT_FAMILY(b, st, "meshgate_port_transmitted_packets_total", "counter",
	            "Packets the workers transmitted on the port.", tx_packets);
	PORT_FAMILY(b, st, "meshgate_port_transmitted_bytes_total", "counter",
	            "Bytes the workers transmitted on the port.", tx_bytes);
	PORT_FAMILY(b, st, "meshgate_port_missed_packets_total", "counter",
	            "Packets the NIC dropped for want of a free descriptor.", nic_rx_missed);
	PORT_FAMILY(b, st, "meshgate_port_receive_errors_total", "counter",
	            "Receive errors the NIC reported.", nic_rx_errors);
	PORT_FAMILY(b, st, "meshgate_port_transmit_errors_total", "counter",
	            "Transmit errors the NIC reported.", nic_tx_errors);
	PORT_FAMILY(b, st, "meshgate_port_mbufs_in_use", "gauge",
	            "Packet buffers of the port's pool in use.", mbufs_in_use);
	PORT_FAMILY(b, st, "meshgate_port_mbufs", "gauge", "Packet buffers in the port's pool.",
	            mbufs_total);
}

static void prom_workers(struct sbuf *b, const struct mg_status *st)
{
	WORKER_FAMILY(b, st, "meshgate_worker_received_packets_total", "counter",
	              "Packets the worker received (both ports).", rx_packets, sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_transmitted_packets_total", "counter",
	              "Packets the worker transmitted (both ports).", tx_packets, sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_received_bytes_total", "counter",
	              "Bytes the worker received (both ports).", rx_bytes, sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_transmitted_bytes_total", "counter",
	              "Bytes the worker transmitted (both ports).", tx_bytes, sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_encrypted_packets_total", "counter",
	              "Packets the worker encrypted.", encrypted, sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_decrypted_packets_total", "counter",
	              "Packets the worker decrypted and authenticated.", decrypted, sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_punted_packets_total", "counter",
	              "Packets the worker handed to the control thread.", punted, sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_dropped_packets_total", "counter",
	              "Packets the worker dropped, all reasons.", drops, sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_polls_total", "counter", "Receive polls.", polls,
	              sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_empty_polls_total", "counter",
	              "Receive polls that found no packet.", empty_polls, sample_u64);
	WORKER_FAMILY(b, st, "meshgate_worker_busy_seconds_total", "counter",
	              "Time spent on polls that found packets.", busy_seconds, sample_double);
	WORKER_FAMILY(b, st, "meshgate_worker_load_ratio", "gauge",
	              "Busy share of the worker's cycles since start (0 to 1).", load,
	              sample_double);
	WORKER_FAMILY(b, st, "meshgate_worker_idle_ratio", "gauge",
	              "Share of receive polls that found nothing since start (0 to 1).", idle_ratio,
	              sample_double);

	family(b, "meshgate_dropped_packets_total", "counter",
	       "Packets not forwarded, by reason, summed over the workers.");
	for (unsigned i = 0; i < st->n_drop_reasons; i++)
		sample_u64(b, "meshgate_dropped_packets_total", "reason", st->drop_names[i],
		           st->drops[i]);
}

static void prom_peers(struct sbuf *b, const struct mg_status *st)
{
	family(b, "meshgate_peers", "gauge", "Peers configured.");
	sample_u64(b, "meshgate_peers", NULL, NULL, st->n_peers);
	PEER_FAMILY(b, st, "meshgate_peer_received_bytes_total", "counter",
	            "WireGuard message bytes received from the peer.", p_->rx_bytes);
	PEER_FAMILY(b, st, "meshgate_peer_transmitted_bytes_total", "counter",
	            "WireGuard message bytes sent to the peer.", p_->tx_bytes);
	PEER_FAMILY(b, st, "meshgate_peer_received_packets_total", "counter",
	            "Data packets received from the peer.", p_->rx_packets);
	PEER_FAMILY(b, st, "meshgate_peer_transmitted_packets_total", "counter",
	            "Data packets sent to the peer.", p_->tx_packets);
	PEER_FAMILY(b, st, "meshgate_peer_dropped_packets_total", "counter",
	            "Packets to or from the peer that were dropped.", p_->drops);
	PEER_FAMILY(b, st, "meshgate_peer_policy_dropped_packets_total", "counter",
	            "Packets from the peer the packet filter refused (reason policy).",
	            p_->policy_drops);
	PEER_FAMILY(b, st, "meshgate_peer_allowed_ips", "gauge", "Allowed-IP prefixes of the peer.",
	            p_->n_allowed_ips);
	family(b, "meshgate_peer_last_handshake_timestamp_seconds", "gauge",
	       "Unix time of the peer's latest completed handshake (0: never).");
	for (size_t i = 0; i < st->n_peers; i++)
		sample_double(b, "meshgate_peer_last_handshake_timestamp_seconds", "peer",
		              st->peers[i].public_key,
		              ns_to_s(st->peers[i].last_handshake_unix_ns));
}

static void prom_memory(struct sbuf *b, const struct mg_status *st)
{
	family(b, "meshgate_memory_resident_bytes", "gauge", "Resident set size of the process.");
	sample_u64(b, "meshgate_memory_resident_bytes", NULL, NULL, st->rss_bytes);
	family(b, "meshgate_memory_heap_allocated_bytes", "gauge",
	       "DPDK heap memory allocated, all sockets.");
	sample_u64(b, "meshgate_memory_heap_allocated_bytes", NULL, NULL, st->heap_allocated_bytes);
	family(b, "meshgate_memory_heap_free_bytes", "gauge",
	       "DPDK heap memory free, all sockets.");
	sample_u64(b, "meshgate_memory_heap_free_bytes", NULL, NULL, st->heap_free_bytes);
	for (unsigned i = 0; i < st->n_extra; i++) {
		const struct mg_status_extra *e = &st->extra[i];
		family(b, e->name, e->counter ? "counter" : "gauge", e->help);
		sample_u64(b, e->name, NULL, NULL, e->value);
	}
}

static void prom_nat(struct sbuf *b, const struct mg_status *st)
{
	static const char *const protos[MG_NAT_PROTO_COUNT] = {"tcp", "udp", "icmp"};
	const struct mg_status_nat *n = &st->nat;
	if (!n->enabled)
		return;
	family(b, "meshgate_nat_flows", "gauge", "Exit NAT mappings in use, by protocol.");
	for (unsigned p = 0; p < MG_NAT_PROTO_COUNT; p++)
		sample_u64(b, "meshgate_nat_flows", "proto", protos[p], n->flows[p]);
	family(b, "meshgate_nat_flows_created_total", "counter",
	       "Exit NAT mappings created, by protocol.");
	for (unsigned p = 0; p < MG_NAT_PROTO_COUNT; p++)
		sample_u64(b, "meshgate_nat_flows_created_total", "proto", protos[p],
		           n->created[p]);
	family(b, "meshgate_nat_translated_packets_total", "counter",
	       "Packets the exit NAT translated, by direction.");
	sample_u64(b, "meshgate_nat_translated_packets_total", "direction", "out", n->out);
	sample_u64(b, "meshgate_nat_translated_packets_total", "direction", "in", n->in);
	family(b, "meshgate_nat_allocation_failures_total", "counter",
	       "New flows the exit NAT could not map (dropped), by reason.");
	sample_u64(b, "meshgate_nat_allocation_failures_total", "reason", "no_port", n->no_port);
	sample_u64(b, "meshgate_nat_allocation_failures_total", "reason", "table_full",
	           n->table_full);
	family(b, "meshgate_nat_icmp_errors_total", "counter",
	       "ICMP errors translated, quoted header included.");
	sample_u64(b, "meshgate_nat_icmp_errors_total", NULL, NULL, n->icmp_errors);
	family(b, "meshgate_nat_mss_clamped_total", "counter", "TCP SYNs whose MSS was lowered.");
	sample_u64(b, "meshgate_nat_mss_clamped_total", NULL, NULL, n->mss_clamped);
}

static void prom_filter(struct sbuf *b, const struct mg_status *st)
{
	const struct mg_status_filter *f = &st->filter;
	family(b, "meshgate_filter_enabled", "gauge",
	       "1 when a packet filter is in force (0: no policy, everything passes).");
	sample_u64(b, "meshgate_filter_enabled", NULL, NULL, f->enabled);
	family(b, "meshgate_filter_rules", "gauge", "Rules of the filter in force.");
	sample_u64(b, "meshgate_filter_rules", NULL, NULL, f->rules);
	family(b, "meshgate_filter_acl_rules", "gauge", "rte_acl rules they expand to, by family.");
	sample_u64(b, "meshgate_filter_acl_rules", "family", "ipv4", f->acl_rules4);
	sample_u64(b, "meshgate_filter_acl_rules", "family", "ipv6", f->acl_rules6);
	family(b, "meshgate_filter_changes_total", "counter", "Packet filters installed.");
	sample_u64(b, "meshgate_filter_changes_total", NULL, NULL, f->changes);
	family(b, "meshgate_filter_errors_total", "counter",
	       "Filters that could not be compiled (the old one stayed).");
	sample_u64(b, "meshgate_filter_errors_total", NULL, NULL, f->errors);
	family(b, "meshgate_filter_flows", "gauge", "Flows tracked for return traffic.");
	sample_u64(b, "meshgate_filter_flows", NULL, NULL, f->flows);
	family(b, "meshgate_filter_flows_created_total", "counter", "Flows this side opened.");
	sample_u64(b, "meshgate_filter_flows_created_total", NULL, NULL, f->flows_created);
	family(b, "meshgate_filter_flows_table_full_total", "counter",
	       "Flows not tracked because the table was full.");
	sample_u64(b, "meshgate_filter_flows_table_full_total", NULL, NULL, f->flows_full);
	family(b, "meshgate_filter_tracked_packets_total", "counter",
	       "Packets no rule admits that passed as part of a tracked flow, by kind.");
	sample_u64(b, "meshgate_filter_tracked_packets_total", "kind", "reply",
	           f->replies - f->icmp_errors);
	sample_u64(b, "meshgate_filter_tracked_packets_total", "kind", "icmp_error",
	           f->icmp_errors);
	sample_u64(b, "meshgate_filter_tracked_packets_total", "kind", "fragment", f->fragments);
}

char *mg_status_prometheus(const struct mg_status *st, size_t *len)
{
	struct sbuf b = {.cap = 16384};
	b.p = malloc(b.cap);
	if (!b.p)
		return NULL;
	b.p[0] = '\0';
	prom_global(&b, st);
	prom_ports(&b, st);
	prom_workers(&b, st);
	prom_peers(&b, st);
	prom_nat(&b, st);
	prom_filter(&b, st);
	prom_memory(&b, st);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.p;
}
