// SPDX-License-Identifier: GPL-2.0-only
/*
 * The health socket server over real Unix and TCP sockets: JSON commands, HTTP GET, errors,
 * size limits, deadlines, the client limit, ping (answered, timed out, peer removed, client
 * gone), stale-socket handling, and the Prometheus text checked line by line against the
 * exposition format. The gateway behind the ops is a fixed snapshot (the collection from a
 * live gateway is tests/dataplane/test_status_collect.c) and a peer table whose "next
 * authenticated packet" the test controls.
 *
 *   test_health SRCDIR           run the checks
 *   test_health --serve PATH     serve the fixed snapshot on PATH until SIGTERM
 *                                (tests/gateway/test_meshctl.sh)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "health.h"
#include "status.h"

#define NPEERS 3
/* Fixed clock: the served documents are byte-for-byte reproducible. */
#define NOW_NS   1700000000000000000ull
#define START_NS (NOW_NS - 3723ull * 1000000000ull)

static const char *const keys[NPEERS] = {
    "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=",
    "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=",
    "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=",
};
static const char *const allowed[NPEERS][2] = {
    {"100.64.0.2/32", "10.1.0.0/16"}, {"100.64.0.3/32", "fd7a::3/128"}, {"100.64.0.4/32", NULL}};

/* ---- the gateway side ---- */

struct fake_peer {
	_Atomic bool present;
	_Atomic bool answers;   /* the next authenticated packet arrives on the next check */
	_Atomic unsigned pings; /* probes sent */
	_Atomic unsigned polls; /* ping_poll calls */
};
static struct fake_peer fake[NPEERS];
static _Atomic int snapshot_calls;

static void fill_snapshot(struct mg_status *st)
{
	snprintf(st->version, sizeof(st->version), "0.1.0-test");
	snprintf(st->ifname, sizeof(st->ifname), "mg0");
	snprintf(st->log_level, sizeof(st->log_level), "info");
	st->now_unix_ns = NOW_NS;
	st->start_unix_ns = START_NS;
	st->uptime_seconds = 3723.0;
	st->listen_port = 51820;
	snprintf(st->coordinator_url, sizeof(st->coordinator_url), "https://coord.example");
	st->coord = (struct mg_status_coord){
	    .state = MG_COORD_SYNCED, .last_seq = 42, .last_sync_unix_ns = NOW_NS - 5000000000ull};
	static const char *names[2] = {"lan", "mesh"};
	for (unsigned i = 0; i < 2; i++) {
		struct mg_status_port *p = &st->ports[i];
		snprintf(p->name, sizeof(p->name), "%s", names[i]);
		p->port_id = (uint16_t)i;
		snprintf(p->mac, sizeof(p->mac), "02:00:00:00:0%u:01", i + 1);
		snprintf(p->devargs, sizeof(p->devargs), "net_ring%u", i);
		p->link_up = i == 0;
		p->speed_mbps = i == 0 ? 10000 : 0;
		p->full_duplex = true;
		p->rx_packets = 1000 + i;
		p->rx_bytes = 64000 + i;
		p->tx_packets = 900 + i;
		p->tx_bytes = 57600 + i;
		p->mbufs_in_use = 100 * (i + 1);
		p->mbufs_total = 8191;
	}
	st->n_ports = 2;
	for (unsigned w = 0; w < 2; w++) {
		struct mg_status_worker *o = &st->workers[st->n_workers++];
		o->id = w;
		o->lcore = w + 1;
		o->rx_packets = 700 + w;
		o->tx_packets = 600 + w;
		o->encrypted = 300;
		o->decrypted = 290;
		o->drops = 11 + w;
		o->polls = 1000;
		o->empty_polls = 250 * (w + 1);
		o->busy_seconds = 1.5;
		o->load = 0.25 * (w + 1);
		o->idle_ratio = 0.25 * (w + 1);
	}
	mg_status_add_drop(st, "no_route", 7);
	mg_status_add_drop(st, "auth", 16);
	mg_status_add_drop(st, "replay", 0);
	mg_status_add_drop(st, "no_route", 3); /* sums */
	mg_status_add_extra(st, "meshgate_handshake_initiations_sent_total", "Initiations sent.",
	                    true, 5);
	mg_status_add_extra(st, "meshgate_peer_slots", "Peer slots.", false, 16384);
	for (unsigned i = 0; i < NPEERS; i++) {
		if (!atomic_load(&fake[i].present))
			continue;
		struct mg_status_peer *p = mg_status_add_peer(st);
		snprintf(p->public_key, sizeof(p->public_key), "%s", keys[i]);
		if (i < 2)
			snprintf(p->endpoint, sizeof(p->endpoint), "192.0.2.%u:51820", 10 + i);
		p->last_handshake_unix_ns = i == 0 ? NOW_NS - 65000000000ull : 0;
		p->rx_bytes = 1234 + i;
		p->tx_bytes = 4321 + i;
		p->rx_packets = 10 + i;
		p->tx_packets = 20 + i;
		p->drops = i;
		p->persistent_keepalive = i == 0 ? 25 : 0;
		struct mg_prefix ips[2];
		size_t n = 0;
		for (unsigned j = 0; j < 2 && allowed[i][j]; j++)
			if (mg_prefix_parse(allowed[i][j], &ips[n]) == 0)
				n++;
		mg_status_peer_set_allowed_ips(p, ips, n);
	}
	st->rss_bytes = 50u << 20;
	st->heap_allocated_bytes = 30u << 20;
	st->heap_free_bytes = 200u << 20;
}

static _Atomic bool snapshot_fail;

static int op_snapshot(void *ctx, struct mg_status *st)
{
	(void)ctx;
	atomic_fetch_add(&snapshot_calls, 1);
	if (atomic_load(&snapshot_fail))
		return -EIO;
	fill_snapshot(st);
	return 0;
}

static int find_peer(const char *arg)
{
	for (int i = 0; i < NPEERS; i++) {
		if (!atomic_load(&fake[i].present))
			continue;
		if (strcmp(arg, keys[i]) == 0)
			return i;
		for (int j = 0; j < 2 && allowed[i][j]; j++)
			if (strncmp(allowed[i][j], arg, strcspn(allowed[i][j], "/")) == 0 &&
			    strlen(arg) == strcspn(allowed[i][j], "/"))
				return i;
	}
	return -1;
}

static int op_ping_start(void *ctx, const char *peer, struct mg_health_ping *p, char *err,
                         size_t errlen)
{
	(void)ctx;
	int i = find_peer(peer);
	if (i < 0) {
		snprintf(err, errlen, "no peer %s", peer);
		return -ENOENT;
	}
	snprintf(p->peer, sizeof(p->peer), "%s", keys[i]);
	p->slot = (uint32_t)i;
	p->sent_ns = mg_health_now_ns();
	snprintf(p->probe, sizeof(p->probe), "keepalive");
	atomic_fetch_add(&fake[i].pings, 1);
	return 0;
}

static int op_ping_poll(void *ctx, struct mg_health_ping *p, uint64_t now_ns)
{
	(void)ctx;
	struct fake_peer *f = &fake[p->slot];
	atomic_fetch_add(&f->polls, 1);
	if (!atomic_load(&f->present))
		return -ENOENT;
	if (!atomic_load(&f->answers))
		return 0;
	p->rtt_ns = now_ns - p->sent_ns;
	snprintf(p->via, sizeof(p->via), "data");
	return 1;
}

static const struct mg_health_ops ops = {
    .snapshot = op_snapshot, .ping_start = op_ping_start, .ping_poll = op_ping_poll};

static void fake_reset(void)
{
	for (int i = 0; i < NPEERS; i++) {
		atomic_store(&fake[i].present, true);
		atomic_store(&fake[i].answers, i == 0);
		atomic_store(&fake[i].pings, 0);
		atomic_store(&fake[i].polls, 0);
	}
}

/* ---- the server thread ---- */

static struct mg_health_server *server;
static _Atomic bool stop_serving;
static pthread_t server_thread;

static void *serve(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_serving))
		mg_health_poll(server, 5);
	return NULL;
}

static void server_run(void)
{
	atomic_store(&stop_serving, false);
	pthread_create(&server_thread, NULL, serve, NULL);
}

static void server_halt(void)
{
	atomic_store(&stop_serving, true);
	pthread_join(server_thread, NULL);
}

/* ---- clients ---- */

static char sock_path[256];

static uint64_t ms_now(void)
{
	return mg_health_now_ns() / 1000000ull;
}

static void set_sun_path(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);
	if (n >= sizeof(sa->sun_path))
		n = sizeof(sa->sun_path) - 1;
	memcpy(sa->sun_path, path, n);
	sa->sun_path[n] = '\0';
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	set_sun_path(&sa, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until EOF; returns a malloc'd string (NULL on timeout or error). */
static char *read_all(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* One exchange on a fresh connection: sends raw (as is), returns the whole reply. */
static char *exchange_fd(int fd, const char *raw, size_t len, bool half_close)
{
	if (fd < 0)
		return NULL;
	if (len && write(fd, raw, len) != (ssize_t)len) {
		close(fd);
		return NULL;
	}
	if (half_close)
		shutdown(fd, SHUT_WR);
	char *r = read_all(fd);
	close(fd);
	return r;
}

static char *exchange(const char *raw)
{
	return exchange_fd(connect_unix(sock_path), raw, strlen(raw), false);
}

static json_t *request(const char *raw)
{
	char *r = exchange(raw);
	if (!r)
		return NULL;
	size_t len = strlen(r);
	CHECK(len > 0 && r[len - 1] == '\n' && strchr(r, '\n') == r + len - 1,
	      "one document, one newline: %s", r);
	json_t *doc = json_loads(r, 0, NULL);
	free(r);
	return doc;
}

static const char *error_code(json_t *doc)
{
	const char *c = json_string_value(json_object_get(doc, "code"));
	return c ? c : "";
}

/* ---- the Prometheus format ---- */

static bool metric_name_ok(const char *s, size_t n)
{
	if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_' ||
	            s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

/*
 * Exposition format 0.0.4, strictly: HELP then TYPE once per family before its samples, names
 * valid, meshgate_ prefix, counters end in _total, labels name="escaped", a float value.
 * Returns the number of samples, -1 on the first violation (reported).
 */
static int check_prometheus(const char *text)
{
	char family[128] = "", type[16] = "";
	int samples = 0;
	const char *line = text;
	if (!*text || text[strlen(text) - 1] != '\n') {
		CHECK(0, "exposition must end with a newline");
		return -1;
	}
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = (size_t)(end - line);
		char buf[1024];
		if (len >= sizeof(buf)) {
			CHECK(0, "line too long");
			return -1;
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = end + 1;
		char name[128], rest[128];
		if (strncmp(buf, "# HELP ", 7) == 0) {
			if (sscanf(buf + 7, "%127s %127[^\n]", name, rest) != 2 ||
			    strcmp(name, family) == 0) {
				CHECK(0, "bad or repeated HELP: %s", buf);
				return -1;
			}
			snprintf(family, sizeof(family), "%s", name);
			type[0] = '\0';
			continue;
		}
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			if (sscanf(buf + 7, "%127s %15s", name, type) != 2 ||
			    strcmp(name, family) != 0 ||
			    (strcmp(type, "counter") && strcmp(type, "gauge"))) {
				CHECK(0, "bad TYPE: %s", buf);
				return -1;
			}
			if (strncmp(family, "meshgate_", 9) != 0 ||
			    (strcmp(type, "counter") == 0) !=
			        (strlen(family) > 6 &&
			         strcmp(family + strlen(family) - 6, "_total") == 0)) {
				CHECK(0, "naming: %s is a %s", family, type);
				return -1;
			}
			continue;
		}
		size_t n = strcspn(buf, "{ ");
		if (!metric_name_ok(buf, n) || strncmp(buf, family, n) != 0 || family[n] != '\0' ||
		    !type[0]) {
			CHECK(0, "sample outside its family: %s (family %s)", buf, family);
			return -1;
		}
		const char *p = buf + n;
		if (*p == '{') {
			p++;
			for (;;) {
				size_t ln = strcspn(p, "=");
				if (!metric_name_ok(p, ln) || p[ln] != '=' || p[ln + 1] != '"') {
					CHECK(0, "bad label: %s", buf);
					return -1;
				}
				p += ln + 2;
				while (*p && *p != '"')
					p += *p == '\\' ? 2 : 1;
				if (*p != '"') {
					CHECK(0, "unterminated label: %s", buf);
					return -1;
				}
				p++;
				if (*p == ',') {
					p++;
					continue;
				}
				if (*p != '}') {
					CHECK(0, "bad label list: %s", buf);
					return -1;
				}
				p++;
				break;
			}
		}
		char *vend;
		if (*p != ' ' || (strtod(p + 1, &vend), *vend != '\0') || vend == p + 1) {
			CHECK(0, "bad value: %s", buf);
			return -1;
		}
		samples++;
	}
	return samples;
}

/* The value of the sample whose line starts with prefix ("name{labels}"); -1 when absent. */
static double sample_value(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* ---- cases ---- */

static void test_start_errors(const char *dir)
{
	struct mg_health_server *s = NULL;
	char err[256], path[300];
	struct mg_health_config hc = {.socket_path = path};

	snprintf(path, sizeof(path), "%s/plain-file", dir);
	FILE *f = fopen(path, "w");
	if (f)
		fclose(f);
	CHECK(mg_health_start(&s, &hc, &ops, err, sizeof(err)) == -EEXIST && !s, "%s", err);
	CHECK(strstr(err, "not a socket") != NULL, "%s", err);
	unlink(path);

	snprintf(path, sizeof(path), "%s/x.health", dir);
	hc.metrics_listen = "192.0.2.1:9586";
	CHECK(mg_health_start(&s, &hc, &ops, err, sizeof(err)) == -EINVAL, "%s", err);
	CHECK(strstr(err, "loopback") != NULL, "%s", err);
	CHECK(access(path, F_OK) != 0, "no socket file left behind");
	hc.metrics_listen = "localhost:9586";
	CHECK(mg_health_start(&s, &hc, &ops, err, sizeof(err)) == -EINVAL, "%s", err);
	CHECK(strstr(err, "IP:PORT") != NULL, "%s", err);
	hc.metrics_listen = NULL;

	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	hc.socket_path = longp;
	CHECK(mg_health_start(&s, &hc, &ops, err, sizeof(err)) == -ENAMETOOLONG, "%s", err);

	/* A socket file nobody listens on (a crashed gateway's) is replaced. */
	snprintf(path, sizeof(path), "%s/stale.health", dir);
	hc.socket_path = path;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	set_sun_path(&sa, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
	CHECK(access(path, F_OK) == 0);
	CHECK(mg_health_start(&s, &hc, &ops, err, sizeof(err)) == 0 && s, "%s", err);
	mg_health_stop(s);
	CHECK(access(path, F_OK) != 0, "stop removes the socket file");
}

static void test_documents(void)
{
	json_t *st = request("{\"cmd\":\"status\"}\n");
	CHECK(json_is_object(st));
	CHECK(strcmp(json_string_value(json_object_get(st, "version")), "0.1.0-test") == 0);
	CHECK(json_real_value(json_object_get(st, "uptime_seconds")) == 3723.0);
	json_t *c = json_object_get(st, "coordinator");
	CHECK(strcmp(json_string_value(json_object_get(c, "state")), "synced") == 0);
	CHECK(json_integer_value(json_object_get(c, "last_seq")) == 42);
	CHECK(json_real_value(json_object_get(c, "last_sync_age_seconds")) == 5.0);
	json_t *ports = json_object_get(st, "ports");
	CHECK(json_array_size(ports) == 2);
	CHECK(json_is_true(json_object_get(json_array_get(ports, 0), "link_up")));
	CHECK(json_is_false(json_object_get(json_array_get(ports, 1), "link_up")));
	CHECK(json_integer_value(json_object_get(json_array_get(ports, 0), "speed_mbps")) == 10000);
	json_t *workers = json_object_get(st, "workers");
	CHECK(json_array_size(workers) == 2);
	CHECK(json_real_value(json_object_get(json_array_get(workers, 1), "load")) == 0.5);
	CHECK(json_integer_value(json_object_get(json_array_get(workers, 1), "rx_packets")) == 701);
	json_t *drops = json_object_get(st, "drops");
	CHECK(json_integer_value(json_object_get(drops, "no_route")) == 10, "same reason summed");
	CHECK(json_integer_value(json_object_get(drops, "auth")) == 16);
	CHECK(json_integer_value(json_object_get(st, "drops_total")) == 26);
	CHECK(json_integer_value(json_object_get(json_object_get(st, "peers"), "configured")) == 3);
	CHECK(json_integer_value(json_object_get(json_object_get(st, "peers"), "with_handshake")) ==
	      1);
	json_t *mem = json_object_get(st, "memory");
	CHECK(json_integer_value(json_object_get(mem, "rss_bytes")) == 50 << 20);
	CHECK(json_integer_value(json_object_get(mem, "mbufs_in_use")) == 300);
	CHECK(json_integer_value(json_object_get(json_object_get(st, "control"),
	                                         "handshake_initiations_sent_total")) == 5);
	json_decref(st);

	json_t *pd = request("{\"cmd\":\"peers\"}\n"), *peers = json_object_get(pd, "peers");
	CHECK(json_array_size(peers) == NPEERS);
	for (size_t i = 0; i < json_array_size(peers) && i < NPEERS; i++) {
		json_t *p = json_array_get(peers, i);
		CHECK(strcmp(json_string_value(json_object_get(p, "public_key")), keys[i]) == 0);
		CHECK(json_integer_value(json_object_get(p, "rx_bytes")) == 1234 + (json_int_t)i);
		CHECK(json_integer_value(json_object_get(p, "tx_bytes")) == 4321 + (json_int_t)i);
		CHECK(json_integer_value(json_object_get(p, "drops")) == (json_int_t)i);
		CHECK(json_array_size(json_object_get(p, "allowed_ips")) == (i < 2 ? 2u : 1u));
		CHECK(
		    strcmp(json_string_value(json_array_get(json_object_get(p, "allowed_ips"), 0)),
		           allowed[i][0]) == 0);
	}
	json_t *p0 = json_array_get(peers, 0), *p2 = json_array_get(peers, 2);
	CHECK(strcmp(json_string_value(json_object_get(p0, "endpoint")), "192.0.2.10:51820") == 0);
	CHECK(json_is_null(json_object_get(p2, "endpoint")), "no endpoint is null");
	CHECK(json_real_value(json_object_get(p0, "latest_handshake_age_seconds")) == 65.0);
	CHECK(json_integer_value(json_object_get(p0, "latest_handshake_unix")) ==
	      (json_int_t)((NOW_NS - 65000000000ull) / 1000000000ull));
	CHECK(json_is_null(json_object_get(p2, "latest_handshake_age_seconds")));
	json_decref(pd);

	json_t *rd = request("{\"cmd\":\"routes\"}\n"), *routes = json_object_get(rd, "routes");
	CHECK(json_array_size(routes) == 5);
	json_t *r = json_array_get(routes, 3);
	CHECK(strcmp(json_string_value(json_object_get(r, "prefix")), "fd7a::3/128") == 0);
	CHECK(strcmp(json_string_value(json_object_get(r, "peer")), keys[1]) == 0);
	CHECK(json_integer_value(json_object_get(r, "family")) == 6);
	json_decref(rd);
}

static void test_metrics(void)
{
	char *text = exchange("{\"cmd\":\"metrics\"}\n");
	CHECK(text && check_prometheus(text) > 40, "strict exposition parse");
	if (!text)
		return;
	char sel[160];
	snprintf(sel, sizeof(sel), "meshgate_peer_received_bytes_total{peer=\"%s\"}", keys[1]);
	CHECK(sample_value(text, sel) == 1235);
	snprintf(sel, sizeof(sel), "meshgate_peer_last_handshake_timestamp_seconds{peer=\"%s\"}",
	         keys[0]);
	CHECK(sample_value(text, sel) == (double)((NOW_NS - 65000000000ull) / 1000000000ull));
	CHECK(sample_value(text, "meshgate_dropped_packets_total{reason=\"no_route\"}") == 10);
	CHECK(sample_value(text, "meshgate_dropped_packets_total{reason=\"replay\"}") == 0);
	CHECK(sample_value(text, "meshgate_worker_idle_ratio{worker=\"1\"}") == 0.5);
	CHECK(sample_value(text, "meshgate_port_link_up{port=\"mesh\"}") == 0);
	CHECK(sample_value(text, "meshgate_coordinator_state{state=\"synced\"}") == 1);
	CHECK(sample_value(text, "meshgate_coordinator_state{state=\"retrying\"}") == 0);
	CHECK(sample_value(text, "meshgate_coordinator_sequence") == 42);
	CHECK(sample_value(text, "meshgate_uptime_seconds") == 3723);
	CHECK(sample_value(text, "meshgate_peers") == 3);
	CHECK(sample_value(text, "meshgate_handshake_initiations_sent_total") == 5);
	CHECK(sample_value(text, "meshgate_build_info{version=\"0.1.0-test\",ifname=\"mg0\"}") ==
	      1);

	/* The same exposition through HTTP on the Unix socket. */
	char *http = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK(http && strncmp(http, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK(http && strstr(http, "Content-Type: text/plain; version=0.0.4") != NULL);
	const char *body = http ? strstr(http, "\r\n\r\n") : NULL;
	CHECK(body && strcmp(body + 4, text) == 0, "HTTP body equals the JSON-socket text");
	char cl[64];
	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", strlen(text));
	CHECK(http && strstr(http, cl) != NULL);
	free(http);
	http = exchange("HEAD /metrics HTTP/1.0\r\n\r\n");
	CHECK(http && strstr(http, cl) && strlen(strstr(http, "\r\n\r\n")) == 4, "HEAD: no body");
	free(http);
	free(text);
}

static void test_http(void)
{
	json_t *direct = request("{\"cmd\":\"peers\"}\n");
	char *http = exchange("GET /peers?x=1 HTTP/1.1\n\n");
	const char *body = http ? strstr(http, "\r\n\r\n") : NULL;
	json_t *via_http = body ? json_loads(body + 4, 0, NULL) : NULL;
	CHECK(http && strstr(http, "Content-Type: application/json"));
	CHECK(via_http && json_equal(direct, via_http), "GET /peers equals {\"cmd\":\"peers\"}");
	json_decref(direct);
	json_decref(via_http);
	free(http);

	static const struct {
		const char *req;
		const char *status;
	} cases[] = {
	    {"GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "},
	    {"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "},
	    {"GARBAGE\r\n\r\n", "HTTP/1.1 400 "},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http = exchange(cases[i].req);
		CHECK(http && strncmp(http, cases[i].status, strlen(cases[i].status)) == 0, "%s",
		      http ? http : "(none)");
		free(http);
	}
	atomic_store(&snapshot_fail, true);
	http = exchange("GET /status HTTP/1.1\r\n\r\n");
	CHECK(http && strncmp(http, "HTTP/1.1 503 ", 13) == 0);
	free(http);
	json_t *e = request("{\"cmd\":\"status\"}\n");
	CHECK(strcmp(error_code(e), "unavailable") == 0);
	json_decref(e);
	atomic_store(&snapshot_fail, false);
}

static int connect_tcp(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_tcp(uint16_t port)
{
	const char *get = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	char *r = exchange_fd(connect_tcp(port), get, strlen(get), false);
	CHECK(r && strncmp(r, "HTTP/1.1 200 OK", 15) == 0 && strstr(r, "meshgate_peers 3\n"));
	free(r);
	get = "GET /status HTTP/1.1\r\n\r\n";
	r = exchange_fd(connect_tcp(port), get, strlen(get), false);
	CHECK(r && strncmp(r, "HTTP/1.1 404", 12) == 0, "TCP serves /metrics only");
	free(r);
	const char *js = "{\"cmd\":\"ping\",\"peer\":\"100.64.0.2\"}\n";
	r = exchange_fd(connect_tcp(port), js, strlen(js), false);
	CHECK(r && r[0] == '\0', "no JSON commands over TCP");
	free(r);
}

static void test_bad_requests(void)
{
	static const struct {
		const char *req;
		const char *code;
	} cases[] = {
	    {"not json\n", "bad_request"},
	    {"[1,2]\n", "bad_request"},
	    {"{}\n", "bad_request"},
	    {"{\"cmd\":7}\n", "bad_request"},
	    {"{\"cmd\":\"status\",\"cmd\":\"peers\"}\n", "bad_request"},
	    {"{\"cmd\":\"reboot\"}\n", "unknown_command"},
	    {"{\"cmd\":\"ping\"}\n", "bad_request"},
	    {"{\"cmd\":\"ping\",\"peer\":\"\"}\n", "bad_request"},
	    {"{\"cmd\":\"ping\",\"peer\":\"100.64.0.2\",\"timeout_ms\":0}\n", "bad_request"},
	    {"{\"cmd\":\"ping\",\"peer\":\"100.64.0.2\",\"timeout_ms\":\"5\"}\n", "bad_request"},
	    {"{\"cmd\":\"ping\",\"peer\":\"100.64.0.2\",\"timeout_ms\":60001}\n", "bad_request"},
	    {"{\"cmd\":\"ping\",\"peer\":\"203.0.113.9\"}\n", "unknown_peer"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *r = request(cases[i].req);
		CHECK(strcmp(error_code(r), cases[i].code) == 0, "%s -> %s", cases[i].req,
		      error_code(r));
		CHECK(json_string_value(json_object_get(r, "error")) != NULL);
		json_decref(r);
	}
	/* Too large: the limit, no newline. */
	size_t big = MG_HEALTH_REQUEST_MAX + 100;
	char *junk = malloc(big);
	memset(junk, ' ', big);
	junk[0] = '{';
	char *r = exchange_fd(connect_unix(sock_path), junk, big, false);
	json_t *doc = r ? json_loads(r, 0, NULL) : NULL;
	CHECK(strcmp(error_code(doc), "too_large") == 0, "%s", r ? r : "(none)");
	json_decref(doc);
	free(r);
	free(junk);
	/* No newline, but the client half-closes: the request still counts. */
	const char *req = "{\"cmd\":\"routes\"}";
	r = exchange_fd(connect_unix(sock_path), req, strlen(req), true);
	doc = r ? json_loads(r, 0, NULL) : NULL;
	CHECK(json_array_size(json_object_get(doc, "routes")) == 5);
	json_decref(doc);
	free(r);
}

static void test_ping(void)
{
	fake_reset();
	char req[256];
	snprintf(req, sizeof(req), "{\"cmd\":\"ping\",\"peer\":\"%s\"}\n", keys[0]);
	json_t *r = request(req);
	CHECK(strcmp(json_string_value(json_object_get(r, "peer")), keys[0]) == 0);
	CHECK(json_real_value(json_object_get(r, "rtt_ms")) >= 0.0);
	CHECK(strcmp(json_string_value(json_object_get(r, "via")), "data") == 0);
	CHECK(strcmp(json_string_value(json_object_get(r, "probe")), "keepalive") == 0);
	CHECK(atomic_load(&fake[0].pings) == 1);
	json_decref(r);

	/* By overlay address; the answer comes 150 ms later. */
	int fd = connect_unix(sock_path);
	const char *by_ip = "{\"cmd\":\"ping\",\"peer\":\"fd7a::3\",\"timeout_ms\":3000}\n";
	CHECK(write(fd, by_ip, strlen(by_ip)) == (ssize_t)strlen(by_ip));
	/* 150 ms from the probe, not from the request: the server may take the request a few
	 * milliseconds after it was written, and times the probe from its own send. */
	const struct timespec ms1 = {.tv_nsec = 1000000};
	for (int i = 0; i < 3000 && atomic_load(&fake[1].pings) == 0; i++)
		nanosleep(&ms1, NULL);
	struct timespec ms150 = {.tv_nsec = 150000000};
	nanosleep(&ms150, NULL);
	CHECK(atomic_load(&fake[1].pings) == 1 && atomic_load(&fake[1].polls) > 0,
	      "probe sent, answer polled while waiting");
	atomic_store(&fake[1].answers, true);
	char *s = exchange_fd(fd, "", 0, false);
	r = s ? json_loads(s, 0, NULL) : NULL;
	CHECK(strcmp(json_string_value(json_object_get(r, "peer")), keys[1]) == 0, "%s", s);
	CHECK(json_real_value(json_object_get(r, "rtt_ms")) >= 150.0, "%s", s);
	json_decref(r);
	free(s);

	/* No answer: a timeout error after timeout_ms. */
	uint64_t t0 = ms_now();
	snprintf(req, sizeof(req), "{\"cmd\":\"ping\",\"peer\":\"%s\",\"timeout_ms\":300}\n",
	         keys[2]);
	r = request(req);
	uint64_t took = ms_now() - t0;
	CHECK(strcmp(error_code(r), "timeout") == 0);
	CHECK(took >= 300 && took < 2000, "took %llu ms", (unsigned long long)took);
	CHECK(strstr(json_string_value(json_object_get(r, "error")), keys[2]) != NULL);
	json_decref(r);

	/* The peer is removed while the ping waits. */
	fd = connect_unix(sock_path);
	CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	struct timespec ms50 = {.tv_nsec = 50000000};
	nanosleep(&ms50, NULL);
	atomic_store(&fake[2].present, false);
	s = exchange_fd(fd, "", 0, false);
	r = s ? json_loads(s, 0, NULL) : NULL;
	CHECK(strcmp(error_code(r), "unknown_peer") == 0, "%s", s);
	json_decref(r);
	free(s);

	/* The client hangs up while waiting: the server stops polling for it. */
	atomic_store(&fake[2].present, true);
	fd = connect_unix(sock_path);
	snprintf(req, sizeof(req), "{\"cmd\":\"ping\",\"peer\":\"%s\",\"timeout_ms\":60000}\n",
	         keys[2]);
	CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	nanosleep(&ms50, NULL);
	close(fd);
	nanosleep(&ms150, NULL);
	unsigned polls = atomic_load(&fake[2].polls);
	nanosleep(&ms150, NULL);
	CHECK(polls > 0 && atomic_load(&fake[2].polls) == polls, "polls %u then %u", polls,
	      atomic_load(&fake[2].polls));
	fake_reset();
}

static void test_deadlines_and_limits(void)
{
	/* An idle client is dropped after MG_HEALTH_IO_TIMEOUT_MS; others are served meanwhile. */
	int idle = connect_unix(sock_path);
	uint64_t t0 = ms_now();
	json_t *r = request("{\"cmd\":\"status\"}\n");
	CHECK(json_is_object(r) && ms_now() - t0 < 1000, "served while a client idles");
	json_decref(r);
	char *s = exchange_fd(idle, "", 0, false);
	uint64_t took = ms_now() - t0;
	CHECK(s && s[0] == '\0', "idle client closed without a reply");
	CHECK(took >= MG_HEALTH_IO_TIMEOUT_MS - 100 && took < MG_HEALTH_IO_TIMEOUT_MS + 1500,
	      "dropped after %llu ms", (unsigned long long)took);
	free(s);

	/* Past MG_HEALTH_MAX_CLIENTS, a new client is closed at once. */
	int fds[MG_HEALTH_MAX_CLIENTS];
	for (int i = 0; i < MG_HEALTH_MAX_CLIENTS; i++)
		fds[i] = connect_unix(sock_path);
	struct timespec ms100 = {.tv_nsec = 100000000};
	nanosleep(&ms100, NULL);
	t0 = ms_now();
	s = exchange("{\"cmd\":\"status\"}\n");
	/* Closed at once (the kernel may report the unread request as a reset): no document. */
	CHECK((!s || !strstr(s, "version")) && ms_now() - t0 < 1000, "refused when full");
	free(s);
	for (int i = 0; i < MG_HEALTH_MAX_CLIENTS; i++)
		close(fds[i]);
	nanosleep(&ms100, NULL);
	r = request("{\"cmd\":\"status\"}\n");
	CHECK(json_is_object(r) && json_object_get(r, "version"), "served again once freed");
	json_decref(r);
}

static volatile sig_atomic_t got_term;
static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/* For test_meshctl.sh: peers 0 and 1 answer pings, peer 2 never does. */
static int serve_until_signal(const char *path)
{
	char err[256];
	fake_reset();
	atomic_store(&fake[1].answers, true);
	struct mg_health_config hc = {.socket_path = path};
	if (mg_health_start(&server, &hc, &ops, err, sizeof(err)) != 0) {
		fprintf(stderr, "test_health: %s\n", err);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!got_term)
		mg_health_poll(server, 100);
	mg_health_stop(server);
	return 0;
}

static void run_all(void)
{
	char dir[] = "/tmp/test_health.XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	fake_reset();
	test_start_errors(dir);

	char err[256], listen_at[32];
	snprintf(sock_path, sizeof(sock_path), "%s/run/sub/mg0.health", dir);
	struct mg_health_config hc = {.socket_path = sock_path, .metrics_listen = listen_at};
	int rc = -1;
	uint16_t port = 0;
	/* A free loopback port: try a few from a pid-derived start. */
	for (int i = 0; i < 20 && rc != 0; i++) {
		port = (uint16_t)(20000 + (getpid() * 7 + i * 97) % 40000);
		snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%u", port);
		rc = mg_health_start(&server, &hc, &ops, err, sizeof(err));
	}
	CHECK(rc == 0, "%s", err);
	if (rc != 0)
		return;
	struct stat sb;
	CHECK(stat(sock_path, &sb) == 0 && S_ISSOCK(sb.st_mode) && (sb.st_mode & 0777) == 0660,
	      "mode %o", sb.st_mode & 0777);
	struct mg_health_server *second = NULL;
	hc.metrics_listen = NULL;
	CHECK(mg_health_start(&second, &hc, &ops, err, sizeof(err)) == -EADDRINUSE && !second, "%s",
	      err);

	server_run();
	test_documents();
	test_metrics();
	test_http();
	test_tcp(port);
	test_bad_requests();
	test_ping();
	test_deadlines_and_limits();
	server_halt();
	mg_health_stop(server);
	CHECK(access(sock_path, F_OK) != 0);
	CHECK(atomic_load(&snapshot_calls) > 10);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "--serve") == 0)
		return serve_until_signal(argv[2]);
	run_all();
	return check_done("health");
}
