// SPDX-License-Identifier: GPL-2.0-only
/*
 * meshctl: reads a running gateway's health socket (protocol: gateway/health.h).
 *
 *   meshctl [-i IFNAME | -s PATH] [--json] status|peers|routes|metrics|filter|netcheck
 *   meshctl [-i IFNAME | -s PATH] [--json] [-t SECONDS] [-c COUNT] ping PEER
 *
 * The socket defaults to /var/run/meshgate/<IFNAME>.health, IFNAME to mg0. Output is a table
 * for people; --json prints the gateway's JSON reply unchanged, one document per line, for
 * scripts. `metrics` always prints the Prometheus text.
 *
 * Exit status: 0 success; 1 the request failed (the gateway's error, a ping timeout, an
 * unreadable reply); 2 usage error; 3 meshgate is not running (no socket, or nobody listening).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent_status.h"

#include "paths.h"

#ifndef MG_VERSION
#define MG_VERSION "unknown"
#endif

#define DEFAULT_IFNAME   "mg0"
#define REPLY_MAX        (64u << 20)
#define IO_TIMEOUT_MS    10000
#define EXIT_FAIL        1
#define EXIT_USAGE       2
#define EXIT_NOT_RUNNING 3

struct opts {
	const char *socket;
	bool json;
	unsigned ping_timeout_s;
	unsigned count;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: meshctl [options] COMMAND\n"
	    "commands:\n"
	    "  status        version, uptime, coordinator sync, ports, workers, drops, filter, "
	    "memory\n"
	    "  peers         each peer: endpoint, latest handshake, transfer, drops\n"
	    "  routes        allowed IPs and the peer each routes to\n"
	    "  metrics       Prometheus text metrics\n"
	    "  filter        the packet filter in force, flow tracking, policy drops per peer\n"
	    "  netcheck      public endpoints and NAT kind (STUN from the WireGuard port), STUN\n"
	    "                round trips, disco counters, the relays' round trips\n"
	    "  ping PEER     keepalive round trip to PEER (base64 public key or overlay IP)\n"
	    "  agent [FILE]  an agent host: home relay, NAT kind, relay round trips and each\n"
	    "                peer's path (direct or relay), from its status file\n"
	    "                (default /run/meshgate/agent-IFNAME.json)\n"
	    "options:\n"
	    "  -i, --interface IFNAME  socket " MG_HEALTH_DEFAULT_DIR
	    "/IFNAME.health (default " DEFAULT_IFNAME ")\n"
	    "  -s, --socket PATH       health socket path (overrides -i)\n"
	    "  -j, --json              print the gateway's JSON instead of a table\n"
	    "  -t, --timeout SECONDS   ping: wait this long for an answer (default 5)\n"
	    "  -c, --count N           ping: send N probes, one a second (default 1)\n"
	    "  -V, --version, -h, --help\n"
	    "exit status: 0 ok, 1 request failed, 2 usage error, 3 meshgate not running\n");
}

/* ---- transport ---- */

/* Sends req and reads the whole reply into *out. Returns 0 or an exit status (message given). */
static int request(const struct opts *o, const char *req, unsigned timeout_ms, char **out,
                   size_t *outlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(o->socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "meshctl: socket path too long: %s\n", o->socket);
		return EXIT_USAGE;
	}
	memcpy(sa.sun_path, o->socket, strlen(o->socket) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("meshctl: socket");
		return EXIT_FAIL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(fd);
		if (e == ENOENT || e == ENOTDIR) {
			fprintf(stderr, "meshctl: meshgate is not running (no socket at %s)\n",
			        o->socket);
			return EXIT_NOT_RUNNING;
		}
		if (e == ECONNREFUSED) {
			fprintf(stderr,
			        "meshctl: meshgate is not running (nothing listens on %s)\n",
			        o->socket);
			return EXIT_NOT_RUNNING;
		}
		fprintf(stderr, "meshctl: %s: %s%s\n", o->socket, strerror(e),
		        e == EACCES ? " (run as root or a member of the socket's group)" : "");
		return EXIT_FAIL;
	}
	size_t len = strlen(req), off = 0;
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "meshctl: %s: send: %s\n", o->socket, strerror(errno));
			close(fd);
			return EXIT_FAIL;
		}
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);

	size_t cap = 65536, got = 0;
	char *buf = malloc(cap);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int rc = 0;
	while (buf) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= (long)timeout_ms) {
			fprintf(stderr, "meshctl: %s: no complete reply within %u ms\n", o->socket,
			        timeout_ms);
			rc = EXIT_FAIL;
			break;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)(timeout_ms - (unsigned)elapsed)) <= 0)
			continue;
		if (got + 1 >= cap) {
			if (cap >= REPLY_MAX) {
				fprintf(stderr, "meshctl: reply larger than %u bytes\n", REPLY_MAX);
				rc = EXIT_FAIL;
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + got, cap - got - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "meshctl: %s: read: %s\n", o->socket, strerror(errno));
			rc = EXIT_FAIL;
			break;
		}
		if (n == 0) {
			buf[got] = '\0';
			close(fd);
			if (got == 0) {
				fprintf(stderr, "meshctl: %s: the gateway closed without a reply\n",
				        o->socket);
				free(buf);
				return EXIT_FAIL;
			}
			*out = buf;
			*outlen = got;
			return 0;
		}
		got += (size_t)n;
	}
	if (!buf) {
		fprintf(stderr, "meshctl: out of memory\n");
		rc = EXIT_FAIL;
	}
	free(buf);
	close(fd);
	return rc;
}

/* A JSON request; *doc gets the parsed reply. The raw text goes to stdout with --json. */
static int request_json(const struct opts *o, json_t *req, unsigned timeout_ms, json_t **doc)
{
	char *line = json_dumps(req, JSON_COMPACT), *reply = NULL;
	size_t len = 0;
	if (!line) {
		fprintf(stderr, "meshctl: out of memory\n");
		return EXIT_FAIL;
	}
	size_t n = strlen(line);
	char *withnl = malloc(n + 2);
	if (!withnl) {
		free(line);
		return EXIT_FAIL;
	}
	memcpy(withnl, line, n);
	memcpy(withnl + n, "\n", 2);
	free(line);
	int rc = request(o, withnl, timeout_ms, &reply, &len);
	free(withnl);
	if (rc != 0)
		return rc;
	json_error_t err;
	*doc = json_loadb(reply, len, 0, &err);
	if (!json_is_object(*doc)) {
		fprintf(stderr, "meshctl: unreadable reply from the gateway: %s\n",
		        *doc ? "not an object" : err.text);
		json_decref(*doc);
		*doc = NULL;
		free(reply);
		return EXIT_FAIL;
	}
	if (o->json)
		fwrite(reply, 1, len, stdout);
	free(reply);
	const char *error = json_string_value(json_object_get(*doc, "error"));
	if (error) {
		fprintf(stderr, "meshctl: %s\n", error);
		return EXIT_FAIL;
	}
	return 0;
}

/* ---- tables ---- */

static long long jint(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static const char *jstr(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static void format_age(char *buf, size_t len, json_t *seconds)
{
	if (!json_is_number(seconds)) {
		snprintf(buf, len, "never");
		return;
	}
	long long s = (long long)json_number_value(seconds);
	if (s < 60)
		snprintf(buf, len, "%llds ago", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds ago", s / 60, s % 60);
	else
		snprintf(buf, len, "%lldh%02lldm ago", s / 3600, s / 60 % 60);
}

static void format_duration(char *buf, size_t len, double secs)
{
	long long s = (long long)secs;
	if (s >= 86400)
		snprintf(buf, len, "%lldd%02lldh%02lldm", s / 86400, s / 3600 % 24, s / 60 % 60);
	else
		snprintf(buf, len, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
}

static double mib(long long bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

static void print_status(json_t *d)
{
	char up[48];
	format_duration(up, sizeof(up), json_number_value(json_object_get(d, "uptime_seconds")));
	printf("interface:    %s (meshgate %s), up %s, log level %s\n", jstr(d, "ifname", "?"),
	       jstr(d, "version", "?"), up, jstr(d, "log_level", "?"));
	printf("listening:    UDP %lld\n", jint(d, "listen_port"));

	json_t *c = json_object_get(d, "coordinator");
	const char *state = jstr(c, "state", "?");
	printf("coordinator:  %s", state);
	if (strcmp(state, "standalone") != 0) {
		char age[48];
		format_age(age, sizeof(age), json_object_get(c, "last_sync_age_seconds"));
		printf(", %s, seq %lld, last sync %s", jstr(c, "url", ""), jint(c, "last_seq"),
		       age);
		if (*jstr(c, "error", ""))
			printf(", error: %s", jstr(c, "error", ""));
	}
	printf("\n");

	size_t i;
	json_t *v;
	printf("ports:\n  %-5s %-4s %-17s %-4s %-10s %12s %12s %12s %12s\n", "NAME", "ID", "MAC",
	       "LINK", "SPEED", "RX PACKETS", "TX PACKETS", "MBUFS USED", "MBUFS");
	json_array_foreach(json_object_get(d, "ports"), i, v)
	{
		char speed[24];
		long long mbps = jint(v, "speed_mbps");
		if (mbps)
			snprintf(speed, sizeof(speed), "%lldMb/s", mbps);
		else
			snprintf(speed, sizeof(speed), "-");
		printf("  %-5s %-4lld %-17s %-4s %-10s %12lld %12lld %12lld %12lld\n",
		       jstr(v, "name", "?"), jint(v, "port_id"), jstr(v, "mac", "?"),
		       json_is_true(json_object_get(v, "link_up")) ? "up" : "down", speed,
		       jint(v, "rx_packets"), jint(v, "tx_packets"), jint(v, "mbufs_in_use"),
		       jint(v, "mbufs_total"));
	}
	printf("workers:\n  %-3s %-5s %12s %12s %12s %6s %6s\n", "ID", "LCORE", "RX PACKETS",
	       "TX PACKETS", "DROPS", "LOAD", "IDLE");
	json_array_foreach(json_object_get(d, "workers"), i, v)
	{
		printf("  %-3lld %-5lld %12lld %12lld %12lld %5.1f%% %5.1f%%\n", jint(v, "id"),
		       jint(v, "lcore"), jint(v, "rx_packets"), jint(v, "tx_packets"),
		       jint(v, "drops"), 100.0 * json_number_value(json_object_get(v, "load")),
		       100.0 * json_number_value(json_object_get(v, "idle_ratio")));
	}
	json_t *peers = json_object_get(d, "peers");
	printf("peers:        %lld configured, %lld with a handshake\n", jint(peers, "configured"),
	       jint(peers, "with_handshake"));
	printf("drops:        %lld total", jint(d, "drops_total"));
	const char *reason;
	const char *sep = ": ";
	json_object_foreach(json_object_get(d, "drops"), reason, v)
	{
		if (json_integer_value(v)) {
			printf("%s%s %lld", sep, reason, (long long)json_integer_value(v));
			sep = ", ";
		}
	}
	printf("\n");
	json_t *flt = json_object_get(d, "filter");
	if (flt && json_is_true(json_object_get(flt, "enabled")))
		printf("filter:       %lld rules from %s, %lld flows tracked, %lld refused\n",
		       jint(flt, "rules"), jstr(flt, "source", "?"),
		       jint(json_object_get(flt, "flows"), "tracked"), jint(flt, "refused"));
	else if (flt)
		printf("filter:       none (everything the peers' allowed IPs permit passes)\n");
	json_t *nat = json_object_get(d, "nat");
	if (nat) {
		json_t *f = json_object_get(nat, "flows"),
		       *af = json_object_get(nat, "allocation_failures");
		printf("exit nat:     flows tcp %lld, udp %lld, icmp %lld; translated %lld out, "
		       "%lld in; "
		       "allocation failures %lld (ports %lld, table %lld); unsupported %lld\n",
		       jint(f, "tcp"), jint(f, "udp"), jint(f, "icmp"), jint(nat, "translated_out"),
		       jint(nat, "translated_in"), jint(af, "no_port") + jint(af, "table_full"),
		       jint(af, "no_port"), jint(af, "table_full"), jint(nat, "unsupported"));
	}
	json_t *m = json_object_get(d, "memory");
	printf("memory:       rss %.1f MiB, DPDK heap %.1f MiB used, %.1f MiB free, mbufs %lld of "
	       "%lld in use\n",
	       mib(jint(m, "rss_bytes")), mib(jint(m, "heap_allocated_bytes")),
	       mib(jint(m, "heap_free_bytes")), jint(m, "mbufs_in_use"), jint(m, "mbufs_total"));
}

static void print_peers(json_t *d)
{
	size_t i, j;
	json_t *p, *ip;
	printf("%-44s  %-24s  %-14s  %-14s %12s %12s %8s %8s  %s\n", "PEER", "ENDPOINT", "PATH",
	       "HANDSHAKE", "RX BYTES", "TX BYTES", "DROPS", "POLICY", "ALLOWED IPS");
	json_array_foreach(json_object_get(d, "peers"), i, p)
	{
		char age[48], ips[512] = "";
		size_t off = 0;
		format_age(age, sizeof(age), json_object_get(p, "latest_handshake_age_seconds"));
		json_array_foreach(json_object_get(p, "allowed_ips"), j, ip)
		{
			int n = snprintf(ips + off, sizeof(ips) - off, "%s%s", j ? "," : "",
			                 json_string_value(ip));
			if (n < 0 || (size_t)n >= sizeof(ips) - off)
				break;
			off += (size_t)n;
		}
		printf("%-44s  %-24s  %-14s  %-14s %12lld %12lld %8lld %8lld  %s\n",
		       jstr(p, "public_key", "?"), jstr(p, "endpoint", "(none)"),
		       jstr(p, "path", "(none)"), age, jint(p, "rx_bytes"), jint(p, "tx_bytes"),
		       jint(p, "drops"), jint(p, "policy_drops"), off ? ips : "(none)");
	}
}

static void print_routes(json_t *d)
{
	size_t i;
	json_t *r;
	printf("%-43s  %-44s  %s\n", "PREFIX", "PEER", "ENDPOINT");
	json_array_foreach(json_object_get(d, "routes"), i, r)
	{
		printf("%-43s  %-44s  %s\n", jstr(r, "prefix", "?"), jstr(r, "peer", "?"),
		       jstr(r, "endpoint", "(none)"));
	}
}

static void print_filter(json_t *d)
{
	size_t i;
	json_t *v, *fl = json_object_get(d, "flows");
	if (!json_is_true(json_object_get(d, "enabled"))) {
		printf("filter:   none (static mode without a filter: everything passes)\n");
	} else {
		printf("filter:   %lld rules from %s (rte_acl: %lld IPv4, %lld IPv6), %lld "
		       "changes, %lld errors\n",
		       jint(d, "rules"), jstr(d, "source", "?"), jint(d, "acl_rules_ipv4"),
		       jint(d, "acl_rules_ipv6"), jint(d, "changes"), jint(d, "errors"));
		if (!jint(d, "rules"))
			printf("          (empty: admits nothing new; replies to flows opened here "
			       "pass)\n");
	}
	json_array_foreach(json_object_get(d, "rule_text"), i, v)
	    printf("  %3zu  %s\n", i, json_string_value(v));
	printf("flows:    %lld tracked, %lld created, %lld expired, %lld not tracked (table "
	       "full)\n",
	       jint(fl, "tracked"), jint(fl, "created"), jint(fl, "expired"),
	       jint(fl, "table_full"));
	printf("passed:   %lld replies (of which %lld ICMP errors), %lld later fragments\n",
	       jint(fl, "replies"), jint(fl, "icmp_errors"), jint(fl, "fragments"));
	printf("refused:  %lld packets (reason policy)\n", jint(d, "refused"));
	json_array_foreach(json_object_get(d, "peers"), i, v)
	{
		if (jint(v, "policy_drops"))
			printf("  %-44s %12lld\n", jstr(v, "public_key", "?"),
			       jint(v, "policy_drops"));
	}
}

static void print_netcheck(json_t *d)
{
	size_t i;
	json_t *v, *st = json_object_get(d, "stun"), *di = json_object_get(d, "disco");
	json_t *rl = json_object_get(d, "relay");
	if (!json_is_true(json_object_get(st, "enabled"))) {
		printf("stun:       not configured (no stun: section)\n");
	} else {
		printf("nat:        %s\n", jstr(st, "nat", "(no round finished yet)"));
		printf("servers:    from the %s\n",
		       strcmp(jstr(st, "servers_from", "config"), "relay_map") == 0 ? "relay map"
		                                                                    : "config");
		printf("endpoints: ");
		json_array_foreach(json_object_get(st, "endpoints"), i, v)
		    printf(" %s", json_string_value(v));
		printf("%s\n", json_array_size(json_object_get(st, "endpoints")) ? "" : " (none)");
		json_array_foreach(json_object_get(st, "servers"), i, v)
		{
			json_t *rtt = json_object_get(v, "rtt_ms");
			if (json_is_integer(rtt))
				printf("stun %-6zu %-46s rtt %lld ms\n", i, jstr(v, "server", "?"),
				       (long long)json_integer_value(rtt));
			else
				printf("stun %-6zu %-46s no answer\n", i, jstr(v, "server", "?"));
		}
		printf("rounds:     %lld, %lld changes, %lld refused replies, %lld send failures\n",
		       jint(st, "rounds"), jint(st, "changes"), jint(st, "refused"),
		       jint(st, "send_failed"));
	}
	printf("disco:      %lld received, %lld pings answered, %lld pongs received, %lld pings "
	       "sent, %lld direct paths chosen\n",
	       jint(di, "received"), jint(di, "pongs_sent"), jint(di, "pongs_received"),
	       jint(di, "pings_sent"), jint(di, "paths_direct"));
	json_t *dr = json_object_get(di, "relay");
	printf("disco relay: %lld received, %lld pings, %lld pongs, %lld call-me-maybe sent\n",
	       jint(dr, "received"), jint(dr, "pings_sent"), jint(dr, "pongs_sent"),
	       jint(dr, "call_me_maybe_sent"));
	printf("refused:   ");
	const char *k;
	json_object_foreach(json_object_get(di, "refused"), k, v)
	{
		if (json_integer_value(v))
			printf(" %s=%lld", k, (long long)json_integer_value(v));
	}
	printf("\n");
	if (json_is_string(json_object_get(rl, "relay"))) {
		printf("relay:      %s (%s)", jstr(rl, "relay", "?"),
		       json_is_true(json_object_get(rl, "connected")) ? "connected"
		                                                      : "not connected");
		json_t *rtt = json_object_get(rl, "rtt_ms");
		if (json_is_number(rtt))
			printf(", rtt %.1f ms", json_number_value(rtt));
		printf("\n");
	} else
		printf("relay:      none\n");
	/* Each connected relay's round trips over its TLS connection (PING/PONG). */
	meshctl_print_relay_rtts(json_object_get(rl, "relays"), "relay rtt:  ");
}

/* ---- commands ---- */

static int cmd_doc(const struct opts *o, const char *cmd)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd), *doc = NULL;
	int rc = request_json(o, req, IO_TIMEOUT_MS, &doc);
	json_decref(req);
	if (rc == 0 && !o->json) {
		if (strcmp(cmd, "status") == 0)
			print_status(doc);
		else if (strcmp(cmd, "peers") == 0)
			print_peers(doc);
		else if (strcmp(cmd, "filter") == 0)
			print_filter(doc);
		else if (strcmp(cmd, "netcheck") == 0)
			print_netcheck(doc);
		else
			print_routes(doc);
	}
	json_decref(doc);
	return rc;
}

static int cmd_metrics(const struct opts *o)
{
	char *reply = NULL;
	size_t len = 0;
	int rc = request(o, "{\"cmd\":\"metrics\"}\n", IO_TIMEOUT_MS, &reply, &len);
	if (rc != 0)
		return rc;
	/* An error comes back as JSON; metrics never start with '{'. */
	if (reply[0] == '{') {
		json_t *doc = json_loadb(reply, len, 0, NULL);
		const char *e = json_string_value(json_object_get(doc, "error"));
		fprintf(stderr, "meshctl: %s\n", e ? e : "unreadable reply from the gateway");
		json_decref(doc);
		free(reply);
		return EXIT_FAIL;
	}
	fwrite(reply, 1, len, stdout);
	free(reply);
	return 0;
}

static int cmd_ping(const struct opts *o, const char *peer)
{
	unsigned ok = 0;
	int rc = 0;
	for (unsigned i = 0; i < o->count; i++) {
		if (i)
			sleep(1);
		json_t *req = json_pack("{s:s,s:s,s:I}", "cmd", "ping", "peer", peer, "timeout_ms",
		                        (json_int_t)o->ping_timeout_s * 1000),
		       *doc = NULL;
		rc = request_json(o, req, o->ping_timeout_s * 1000 + IO_TIMEOUT_MS, &doc);
		json_decref(req);
		if (rc == 0) {
			ok++;
			if (!o->json)
				printf("reply from %s: time=%.3f ms via %s (sent %s)\n",
				       jstr(doc, "peer", peer),
				       json_number_value(json_object_get(doc, "rtt_ms")),
				       jstr(doc, "via", "?"), jstr(doc, "probe", "?"));
		}
		json_decref(doc);
		if (rc == EXIT_NOT_RUNNING || rc == EXIT_USAGE)
			return rc;
		fflush(stdout);
	}
	if (o->count > 1 && !o->json)
		printf("%u probes, %u answered\n", o->count, ok);
	return ok == o->count ? 0 : EXIT_FAIL;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max || *s == '-')
		return false;
	*out = (unsigned)v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"interface", required_argument, NULL, 'i'},
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"count", required_argument, NULL, 'c'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {.ping_timeout_s = 5, .count = 1};
	const char *ifname = DEFAULT_IFNAME;
	char path[256];
	int c;

	while ((c = getopt_long(argc, argv, "i:s:jt:c:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!*optarg || strchr(optarg, '/') || strlen(optarg) > 15) {
				fprintf(stderr, "meshctl: bad interface name '%s'\n", optarg);
				return EXIT_USAGE;
			}
			ifname = optarg;
			break;
		case 's':
			o.socket = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 't':
			if (!parse_uint(optarg, 60, &o.ping_timeout_s)) {
				fprintf(stderr,
				        "meshctl: --timeout takes 1 to 60 seconds, not '%s'\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			if (!parse_uint(optarg, 1000, &o.count)) {
				fprintf(stderr, "meshctl: --count takes 1 to 1000, not '%s'\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 'V':
			printf("meshctl %s\n", MG_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!o.socket) {
		snprintf(path, sizeof(path), "%s/%s.health", MG_HEALTH_DEFAULT_DIR, ifname);
		o.socket = path;
	}
	if (optind >= argc) {
		fprintf(stderr, "meshctl: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind++];
	static const char *const commands[] = {"status", "peers",  "routes", "metrics",
	                                       "ping",   "filter", "agent",  "netcheck"};
	bool known = false;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		known |= strcmp(cmd, commands[i]) == 0;
	if (!known) {
		fprintf(stderr, "meshctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "agent") == 0) {
		char file[64];

		if (argc - optind > 1) {
			fprintf(stderr, "meshctl: agent takes at most one status file\n");
			return EXIT_USAGE;
		}
		snprintf(file, sizeof(file), "/run/meshgate/agent-%s.json", ifname);
		return meshctl_agent_status(argc > optind ? argv[optind] : file, o.json);
	}
	int want_args = strcmp(cmd, "ping") == 0 ? 1 : 0;
	if (argc - optind != want_args) {
		if (want_args)
			fprintf(stderr,
			        "meshctl: ping needs one PEER (public key or overlay IP)\n");
		else
			fprintf(stderr, "meshctl: '%s' takes no arguments\n", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "peers") == 0 || strcmp(cmd, "routes") == 0 ||
	    strcmp(cmd, "filter") == 0 || strcmp(cmd, "netcheck") == 0)
		return cmd_doc(&o, cmd);
	if (strcmp(cmd, "metrics") == 0)
		return cmd_metrics(&o);
	return cmd_ping(&o, argv[optind]);
}
