// SPDX-License-Identifier: GPL-2.0-only
/*
 * wg_udp_peer: a minimal WireGuard peer built on wg/ over one ordinary UDP socket, for interop
 * tests against stock wireguard-go. It either initiates a handshake and pings the peer's overlay
 * address with ICMP echo requests carried in transport messages, or waits for the peer's
 * initiation and answers its echo requests. Only the protocol core is under test here, so the
 * tool keeps no timers beyond the initiation retry and a deadline.
 *
 * Exit status: 0 success, 1 the exchange failed or timed out, 2 bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "constants.h"
#include "cookie.h"
#include "crypto.h"
#include "index_table.h"
#include "keys.h"
#include "messages.h"
#include "noise.h"
#include "result.h"
#include "transport.h"

#define EXIT_BAD_ARGS 2
/* wg's default interface MTU: the padding cap, as wireguard-go applies it. */
#define TOOL_MTU         1420
#define ECHO_PAYLOAD_LEN 56
#define INNER_TTL        64
#define MAX_DATAGRAM     65536

enum tool_mode { MODE_UNSET, MODE_INITIATE, MODE_RESPOND };

struct inner_addr {
	int family; /* AF_INET or AF_INET6; 0 when unset */
	uint8_t bytes[16];
};

struct options {
	const char *private_key_file;
	int listen_port; /* -1: unset */
	uint8_t peer_public[WG_KEY_LEN];
	bool have_peer_public;
	/* The socket is dual-stack IPv6, so an IPv4 endpoint is held v4-mapped. */
	struct sockaddr_in6 peer_endpoint;
	bool have_peer_endpoint;
	struct inner_addr inner, ping;
	enum tool_mode mode;
	unsigned long count, timeout_s;
	const char *stats_file;
};

/* What the test compares with wireguard-go's counters: UDP payloads, handshakes included. */
struct stats {
	uint64_t handshakes_completed;
	uint64_t udp_tx_packets, udp_tx_bytes;
	uint64_t udp_rx_packets, udp_rx_bytes;
	uint64_t echo_requests_sent, echo_replies_received;
	uint64_t echo_requests_received, echo_replies_sent;
	uint64_t keepalives_received;
	uint64_t dropped;
};

struct tool {
	struct options opt;
	int fd;
	struct wg_index_table *table;
	struct wg_noise_local local;
	struct wg_noise_remote remote;
	struct wg_cookie_checker checker;
	struct wg_cookie_maker maker;
	bool have_endpoint;
	struct sockaddr_in6 endpoint;
	bool session; /* a keypair we may send with */
	struct stats st;
	/* initiate mode: the one echo request in flight */
	uint16_t echo_id, echo_seq;
	bool echo_outstanding;
	uint64_t echo_sent_ns;
	uint8_t echo_payload[ECHO_PAYLOAD_LEN];
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Prints "wg_udp_peer: <message>"; returns false so callers can `return errorf(...)`. */
static bool errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool errorf(const char *fmt, ...)
{
	va_list ap;
	fputs("wg_udp_peer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

/* A message from the peer we cannot use: say why, count it and carry on (evaluates to true). */
#define dropf(t, ...) ((t)->st.dropped++, !errorf("dropped " __VA_ARGS__))

static bool print_usage(void)
{
	fputs("usage: wg_udp_peer --private-key FILE --listen-port N --peer-public-key B64\n"
	      "         [--peer-endpoint ADDR:PORT] --inner-address ADDR [--ping ADDR]\n"
	      "         --mode initiate|respond [--count N] [--timeout SECONDS] [--stats FILE]\n",
	      stderr);
	return false;
}

/* A bad argument: the message, then the usage; evaluates to false. */
#define usage_error(...) (errorf(__VA_ARGS__), print_usage())

/* ---- argument parsing ---- */

static bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* ADDR:PORT or [ADDR]:PORT, numeric (the test namespaces have no resolver). */
static bool parse_endpoint(const char *text, struct sockaddr_in6 *sin6)
{
	char host[INET6_ADDRSTRLEN];
	const char *port, *start = text, *end;
	unsigned long p;

	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	if (text[0] == '[') {
		start = text + 1;
		end = strchr(start, ']');
		if (!end || end[1] != ':')
			return usage_error("--peer-endpoint '%s': expected [IPV6]:PORT", text);
		port = end + 2;
	} else {
		end = strrchr(text, ':');
		if (!end)
			return usage_error("--peer-endpoint '%s': missing ':PORT'", text);
		if (memchr(text, ':', (size_t)(end - text)))
			return usage_error("--peer-endpoint '%s': an IPv6 address needs brackets, "
			                   "[ADDR]:PORT",
			                   text);
		port = end + 1;
	}
	if (end == start || (size_t)(end - start) >= sizeof(host))
		return usage_error("--peer-endpoint '%s': address is empty or too long", text);
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	if (!parse_ulong(port, 1, 65535, &p))
		return usage_error("--peer-endpoint '%s': '%s' is not a port number (1-65535)",
		                   text, port);
	sin6->sin6_port = htons((uint16_t)p);
	if (text[0] != '[' && inet_pton(AF_INET, host, sin6->sin6_addr.s6_addr + 12) == 1) {
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		return true;
	}
	if (text[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1)
		return true;
	return usage_error("--peer-endpoint '%s': '%s' is not a numeric %s address", text, host,
	                   text[0] == '[' ? "IPv6" : "IPv4");
}

static const char *const option_names[] = {
    "--private-key", "--listen-port", "--peer-public-key", "--peer-endpoint", "--inner-address",
    "--ping",        "--mode",        "--count",           "--timeout",       "--stats",
};
#define OPTION_COUNT (sizeof(option_names) / sizeof(option_names[0]))

static bool parse_option(struct options *o, size_t k, const char *val)
{
	unsigned long v;
	struct wg_key_status ks;
	char err[WG_KEY_ERRBUF_SIZE];

	switch (k) {
	case 0:
		o->private_key_file = val;
		return *val || usage_error("--private-key: empty file name");
	case 1:
		if (!parse_ulong(val, 1, 65535, &v))
			return usage_error("--listen-port: '%s' is not a port number (1-65535)",
			                   val);
		o->listen_port = (int)v;
		return true;
	case 2:
		if (wg_key_from_base64(o->peer_public, val, strlen(val), &ks) != WG_KEY_OK)
			return usage_error("--peer-public-key: %s",
			                   wg_key_error_format(&ks, NULL, err, sizeof(err)));
		o->have_peer_public = true;
		return true;
	case 3:
		o->have_peer_endpoint = true;
		return parse_endpoint(val, &o->peer_endpoint);
	case 4:
	case 5: {
		struct inner_addr *a = k == 4 ? &o->inner : &o->ping;
		a->family = inet_pton(AF_INET, val, a->bytes) == 1    ? AF_INET
		            : inet_pton(AF_INET6, val, a->bytes) == 1 ? AF_INET6
		                                                      : 0;
		return a->family ||
		       usage_error("%s: '%s' is not an IPv4 or IPv6 address", option_names[k], val);
	}
	case 6:
		o->mode = !strcmp(val, "initiate")  ? MODE_INITIATE
		          : !strcmp(val, "respond") ? MODE_RESPOND
		                                    : MODE_UNSET;
		return o->mode != MODE_UNSET ||
		       usage_error("--mode: '%s' is neither 'initiate' nor 'respond'", val);
	case 7:
		return parse_ulong(val, 1, 65535, &o->count) ||
		       usage_error("--count: '%s' is not a number from 1 to 65535", val);
	case 8:
		return parse_ulong(val, 1, 3600, &o->timeout_s) ||
		       usage_error("--timeout: '%s' is not a number of seconds from 1 to 3600",
		                   val);
	default:
		o->stats_file = val;
		return *val || usage_error("--stats: empty file name");
	}
}

static bool parse_args(int argc, char **argv, struct options *o)
{
	bool seen[OPTION_COUNT] = {false};

	memset(o, 0, sizeof(*o));
	o->listen_port = -1;
	o->count = 3;
	o->timeout_s = 30;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val, *eq = strchr(arg, '=');
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg), k;
		for (k = 0; k < OPTION_COUNT; k++) {
			if (strlen(option_names[k]) == nlen && !strncmp(arg, option_names[k], nlen))
				break;
		}
		if (k == OPTION_COUNT)
			return usage_error("unknown option '%s'", arg);
		if (seen[k])
			return usage_error("%s given twice", option_names[k]);
		seen[k] = true;
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return usage_error("%s needs a value", option_names[k]);
		if (!parse_option(o, k, val))
			return false;
	}
	for (size_t k = 0; k < OPTION_COUNT; k++) {
		/* Required: all but --peer-endpoint, --ping, --count, --timeout and --stats. */
		if (!seen[k] && (k <= 2 || k == 4 || k == 6))
			return usage_error("missing %s", option_names[k]);
	}
	if (o->mode == MODE_INITIATE && !o->have_peer_endpoint)
		return usage_error("--mode initiate needs --peer-endpoint");
	if (o->mode == MODE_INITIATE && !o->ping.family)
		return usage_error("--mode initiate needs --ping");
	if (o->mode == MODE_RESPOND && o->ping.family)
		return usage_error("--ping is for --mode initiate; in respond mode the peer pings");
	if (o->ping.family && o->ping.family != o->inner.family)
		return usage_error("--ping and --inner-address must both be IPv4 or both IPv6");
	return true;
}

/* ---- ICMP echo over IPv4 and IPv6 ---- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The ICMPv6 checksum covers a pseudo-header: addresses, upper-layer length, next header. */
static uint32_t csum_ipv6_pseudo(const uint8_t *src, const uint8_t *dst, uint32_t len)
{
	uint8_t tail[8] = {
	    (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0,
	    IPPROTO_ICMPV6};
	return csum_add(csum_add(csum_add(0, src, 16), dst, 16), tail, 8);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t echo_type(int family, bool reply)
{
	return family == AF_INET ? (reply ? 0 : 8) : (reply ? 129 : 128);
}

/*
 * Writes an IP packet carrying one ICMP(v6) echo message; returns its length. buf must hold
 * 40 + 8 + payload_len bytes.
 */
static size_t build_echo(uint8_t *buf, int family, const uint8_t *src, const uint8_t *dst,
                         bool reply, uint16_t id, uint16_t seq, const uint8_t *payload,
                         size_t payload_len, uint16_t ip_id)
{
	size_t icmp_len = 8 + payload_len, hlen = family == AF_INET ? 20 : 40;
	uint8_t *icmp = buf + hlen;
	uint32_t sum;

	memset(buf, 0, hlen + 8);
	icmp[0] = echo_type(family, reply);
	put16(icmp + 4, id);
	put16(icmp + 6, seq);
	memcpy(icmp + 8, payload, payload_len);
	if (family == AF_INET) {
		buf[0] = 0x45;
		put16(buf + 2, (uint16_t)(hlen + icmp_len));
		put16(buf + 4, ip_id);
		buf[6] = 0x40; /* don't fragment */
		buf[8] = INNER_TTL;
		buf[9] = IPPROTO_ICMP;
		memcpy(buf + 12, src, 4);
		memcpy(buf + 16, dst, 4);
		put16(buf + 10, csum_fold(csum_add(0, buf, 20)));
		sum = 0;
	} else {
		buf[0] = 0x60;
		put16(buf + 4, (uint16_t)icmp_len);
		buf[6] = IPPROTO_ICMPV6;
		buf[7] = INNER_TTL;
		memcpy(buf + 8, src, 16);
		memcpy(buf + 24, dst, 16);
		sum = csum_ipv6_pseudo(src, dst, (uint32_t)icmp_len);
	}
	put16(icmp + 2, csum_fold(csum_add(sum, icmp, icmp_len)));
	return hlen + icmp_len;
}

struct echo_msg {
	int family;
	const uint8_t *src, *dst;
	uint8_t type;
	uint8_t ttl;
	uint16_t id, seq;
	size_t icmp_len;
	const uint8_t *payload;
	size_t payload_len;
};

/*
 * Parses an inner packet (padding already trimmed) as an ICMP(v6) echo message with valid
 * checksums. Returns NULL on success or what is wrong with it.
 */
static const char *parse_echo(const uint8_t *p, size_t len, struct echo_msg *m)
{
	size_t hlen;
	uint32_t sum;

	memset(m, 0, sizeof(*m));
	if (len >= 20 && p[0] >> 4 == 4) {
		hlen = (size_t)(p[0] & 0xf) * 4;
		if (hlen < 20 || hlen > len || get16(p + 2) != len)
			return "bad IPv4 header length";
		if (csum_fold(csum_add(0, p, hlen)) != 0)
			return "bad IPv4 header checksum";
		if (get16(p + 6) & 0x3fff)
			return "IPv4 fragment";
		if (p[9] != IPPROTO_ICMP)
			return "not ICMP";
		m->family = AF_INET;
		m->ttl = p[8];
		m->src = p + 12;
		m->dst = p + 16;
		sum = 0;
	} else if (len >= 40 && p[0] >> 4 == 6) {
		hlen = 40;
		if ((size_t)get16(p + 4) + 40 != len)
			return "bad IPv6 payload length";
		if (p[6] != IPPROTO_ICMPV6)
			return "not ICMPv6 (or has extension headers)";
		m->family = AF_INET6;
		m->ttl = p[7];
		m->src = p + 8;
		m->dst = p + 24;
		sum = csum_ipv6_pseudo(m->src, m->dst, (uint32_t)(len - 40));
	} else {
		return "not an IPv4 or IPv6 packet";
	}
	m->icmp_len = len - hlen;
	if (m->icmp_len < 8)
		return "ICMP message too short";
	if (csum_fold(csum_add(sum, p + hlen, m->icmp_len)) != 0)
		return "bad ICMP checksum";
	if (p[hlen + 1] != 0)
		return "ICMP code is not 0";
	m->type = p[hlen];
	m->id = get16(p + hlen + 4);
	m->seq = get16(p + hlen + 6);
	m->payload = p + hlen + 8;
	m->payload_len = m->icmp_len - 8;
	return NULL;
}

/* ---- UDP ---- */

/* The source of a handshake as the cookie code wants it: a v4-mapped peer is an IPv4 one. */
static void sockaddr_to_endpoint(const struct sockaddr_in6 *sin6, struct wg_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	bool v4 = IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
	ep->port = ntohs(sin6->sin6_port);
	ep->family = v4 ? 4 : 6;
	memcpy(ep->addr, sin6->sin6_addr.s6_addr + (v4 ? 12 : 0), v4 ? 4 : 16);
}

/* One dual-stack socket serves IPv4 and IPv6 peers, as wireguard-go's does. */
static int open_socket(int port)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
	                            .sin6_port = htons((uint16_t)port),
	                            .sin6_addr = IN6ADDR_ANY_INIT};
	int off = 0, fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0 &&
	    bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0)
		return fd;
	errorf("dual-stack UDP socket on port %d: %s", port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static bool udp_send(struct tool *t, const void *buf, size_t len, const char *what)
{
	ssize_t n;
	if (!t->have_endpoint)
		return errorf("no endpoint to send the %s to", what);
	n = sendto(t->fd, buf, len, 0, (struct sockaddr *)&t->endpoint, sizeof(t->endpoint));
	if (n < 0 || (size_t)n != len)
		return errorf("sending the %s: %s", what, n < 0 ? strerror(errno) : "short write");
	t->st.udp_tx_packets++;
	t->st.udp_tx_bytes += len;
	return true;
}

/* ---- WireGuard ---- */

static struct wg_noise_remote *remote_by_pubkey(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	struct tool *t = ctx;
	return wg_memeq(pub, t->opt.peer_public, WG_KEY_LEN) ? &t->remote : NULL;
}

static bool send_initiation(struct tool *t)
{
	struct wg_msg_initiation msg;
	enum wg_result r = wg_noise_create_initiation(&t->remote, &msg);
	if (r == WG_OK)
		r = wg_cookie_add_macs(&t->maker, &msg, sizeof(msg), now_ns());
	if (r != WG_OK)
		return errorf("creating the initiation: %s", wg_result_str(r));
	printf("sent handshake initiation\n");
	return udp_send(t, &msg, sizeof(msg), "handshake initiation");
}

/* Seals one inner packet (len 0: a keepalive) under the current keypair and sends it. */
static bool send_data(struct tool *t, const uint8_t *inner, size_t len, const char *what)
{
	uint8_t out[WG_DATA_OVERHEAD + TOOL_MTU + WG_PADDING_MULTIPLE];
	size_t out_len;
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&t->remote);
	enum wg_result r =
	    wg_transport_seal(kp, inner, len, TOOL_MTU, out, sizeof(out), &out_len, NULL, now_ns());
	if (r != WG_OK && r != WG_OK_REKEY)
		return errorf("sealing the %s: %s", what, wg_result_str(r));
	return udp_send(t, out, out_len, what);
}

static bool send_echo_request(struct tool *t)
{
	uint8_t pkt[40 + 8 + ECHO_PAYLOAD_LEN];
	size_t len;

	t->echo_seq++;
	t->echo_sent_ns = now_ns();
	/* Sender time, then bytes that change with every sequence number. */
	for (size_t i = 0; i < 8; i++)
		t->echo_payload[i] = (uint8_t)(t->echo_sent_ns >> (56 - 8 * i));
	for (size_t i = 8; i < ECHO_PAYLOAD_LEN; i++)
		t->echo_payload[i] = (uint8_t)(i + t->echo_seq * 7);
	len = build_echo(pkt, t->opt.inner.family, t->opt.inner.bytes, t->opt.ping.bytes, false,
	                 t->echo_id, t->echo_seq, t->echo_payload, ECHO_PAYLOAD_LEN, t->echo_seq);
	if (!send_data(t, pkt, len, "echo request"))
		return false;
	t->echo_outstanding = true;
	t->st.echo_requests_sent++;
	return true;
}

/* Initiate mode: an echo reply to our outstanding request, checked field by field. */
static bool handle_echo_reply(struct tool *t, const struct echo_msg *m)
{
	int fam = t->opt.inner.family;
	size_t alen = fam == AF_INET ? 4 : 16;
	char a[INET6_ADDRSTRLEN];

	if (m->family != fam || m->type != echo_type(fam, true))
		return dropf(t, "inner packet: not an echo reply");
	if (memcmp(m->src, t->opt.ping.bytes, alen) || memcmp(m->dst, t->opt.inner.bytes, alen))
		return dropf(t, "echo reply: addresses do not match the request");
	if (!t->echo_outstanding || m->id != t->echo_id || m->seq != t->echo_seq)
		return dropf(t,
		             "echo reply: id %u seq %u, but the request in flight is id %u seq %u",
		             m->id, m->seq, t->echo_id, t->echo_seq);
	if (m->payload_len != ECHO_PAYLOAD_LEN ||
	    memcmp(m->payload, t->echo_payload, ECHO_PAYLOAD_LEN))
		return dropf(t, "echo reply: payload differs from the request's");
	t->echo_outstanding = false;
	t->st.echo_replies_received++;
	printf("%zu bytes from %s: icmp_seq=%u ttl=%u time=%.3f ms\n", m->icmp_len,
	       inet_ntop(fam, m->src, a, sizeof(a)), m->seq, m->ttl,
	       (double)(now_ns() - t->echo_sent_ns) / 1e6);
	return true;
}

/* Respond mode: answer an echo request addressed to our inner address. */
static bool handle_echo_request(struct tool *t, const struct echo_msg *m)
{
	int fam = t->opt.inner.family;
	uint8_t pkt[40 + 8 + TOOL_MTU];
	char a[INET6_ADDRSTRLEN];
	size_t len;

	if (m->family != fam || m->type != echo_type(fam, false))
		return dropf(t, "inner packet: not an echo request");
	if (memcmp(m->dst, t->opt.inner.bytes, fam == AF_INET ? 4 : 16))
		return dropf(t, "echo request: not addressed to --inner-address");
	if (m->payload_len > TOOL_MTU - 48)
		return dropf(t, "echo request: %zu-byte payload is too large", m->payload_len);
	t->st.echo_requests_received++;
	len = build_echo(pkt, fam, t->opt.inner.bytes, m->src, true, m->id, m->seq, m->payload,
	                 m->payload_len, (uint16_t)t->st.echo_replies_sent);
	if (!send_data(t, pkt, len, "echo reply"))
		return false;
	t->st.echo_replies_sent++;
	printf("answered echo request from %s: %zu bytes icmp_seq=%u id=%u ttl=%u\n",
	       inet_ntop(fam, m->src, a, sizeof(a)), m->icmp_len, m->seq, m->id, m->ttl);
	return true;
}

static bool handle_data(struct tool *t, uint8_t *msg, size_t len, const struct sockaddr_in6 *from)
{
	uint8_t *plain = msg + sizeof(struct wg_msg_data);
	size_t plain_len, inner_len;
	struct wg_noise_keypair *kp = NULL;
	struct echo_msg m;
	const char *bad;
	enum wg_result r =
	    wg_transport_open(&t->local, msg, len, plain, &plain_len, &kp, NULL, now_ns());

	if (r != WG_OK && r != WG_OK_REKEY)
		return dropf(t, "data message: %s", wg_result_str(r));
	if (wg_noise_keypair_awaits_confirmation(kp) &&
	    wg_noise_received_with_keypair(&t->remote, kp)) {
		t->session = true;
		t->st.handshakes_completed++;
		printf("handshake complete (responder; confirmed by the first data message)\n");
	}
	/* Authenticated: the peer may have roamed. */
	t->endpoint = *from;
	t->have_endpoint = true;
	if (wg_transport_inner_len(plain, plain_len, &inner_len) != WG_OK)
		return dropf(t, "data message: no IP packet inside");
	if (inner_len == 0) {
		/* Keepalives need no answer and are no echo traffic. */
		t->st.keepalives_received++;
		printf("received keepalive\n");
		return true;
	}
	bad = parse_echo(plain, inner_len, &m);
	if (bad)
		return dropf(t, "inner packet: %s", bad);
	if (t->opt.mode == MODE_INITIATE)
		return handle_echo_reply(t, &m);
	return handle_echo_request(t, &m);
}

/* mac1 must be valid; we are never under load, so mac2 is not required. */
static bool check_macs(struct tool *t, const uint8_t *msg, size_t len,
                       const struct sockaddr_in6 *from, const char *what)
{
	struct wg_endpoint src;
	enum wg_cookie_mac_state ms;

	sockaddr_to_endpoint(from, &src);
	ms = wg_cookie_validate(&t->checker, msg, len, &src, false, now_ns());
	if (ms == WG_COOKIE_MAC_VALID)
		return true;
	dropf(t, "%s: %s", what, wg_cookie_mac_state_str(ms));
	return false;
}

static bool handle_initiation(struct tool *t, const uint8_t *msg, size_t len,
                              const struct sockaddr_in6 *from)
{
	struct wg_noise_remote *remote = NULL;
	struct wg_msg_response resp;
	enum wg_result r;

	if (!check_macs(t, msg, len, from, "initiation"))
		return true;
	r = wg_noise_consume_initiation(&t->local, (const struct wg_msg_initiation *)msg, &remote);
	if (r != WG_OK)
		return dropf(t, "initiation: %s", wg_result_str(r));
	t->endpoint = *from;
	t->have_endpoint = true;
	r = wg_noise_create_response(remote, &resp);
	if (r == WG_OK)
		r = wg_cookie_add_macs(&t->maker, &resp, sizeof(resp), now_ns());
	if (r == WG_OK)
		r = wg_noise_begin_session(remote);
	if (r != WG_OK)
		return errorf("answering the initiation: %s", wg_result_str(r));
	printf("received handshake initiation, sending response\n");
	return udp_send(t, &resp, sizeof(resp), "handshake response");
}

static bool handle_response(struct tool *t, const uint8_t *msg, size_t len,
                            const struct sockaddr_in6 *from)
{
	struct wg_noise_remote *remote = NULL;
	enum wg_result r;

	if (!check_macs(t, msg, len, from, "response"))
		return true;
	r = wg_noise_consume_response(&t->local, (const struct wg_msg_response *)msg, &remote);
	if (r == WG_OK)
		r = wg_noise_begin_session(remote);
	if (r != WG_OK)
		return dropf(t, "response: %s", wg_result_str(r));
	t->session = true;
	t->st.handshakes_completed++;
	printf("handshake complete (initiator)\n");
	return true;
}

/* One datagram. Returns false on a local failure that ends the run. */
static bool handle_datagram(struct tool *t, uint8_t *buf, size_t len,
                            const struct sockaddr_in6 *from)
{
	enum wg_result r;

	t->st.udp_rx_packets++;
	t->st.udp_rx_bytes += len;
	switch (wg_transport_classify(buf, len)) {
	case WG_MSG_HANDSHAKE_INITIATION:
		if (t->opt.mode == MODE_RESPOND)
			return handle_initiation(t, buf, len, from);
		return dropf(t, "initiation: we are the initiator");
	case WG_MSG_HANDSHAKE_RESPONSE:
		if (t->opt.mode == MODE_INITIATE && !t->session)
			return handle_response(t, buf, len, from);
		return dropf(t, "handshake response: none expected");
	case WG_MSG_HANDSHAKE_COOKIE:
		r = wg_cookie_consume_reply(&t->maker, buf, len, now_ns());
		if (r != WG_OK)
			return dropf(t, "cookie reply: %s", wg_result_str(r));
		printf("received cookie reply\n");
		/* The peer is under load: retry at once, now with mac2. */
		if (t->opt.mode == MODE_INITIATE && !t->session)
			return send_initiation(t);
		return true;
	case WG_MSG_DATA:
		return handle_data(t, buf, len, from);
	default:
		return dropf(t, "%zu-byte datagram: not a WireGuard message", len);
	}
}

static bool write_stats(const struct tool *t)
{
	const struct stats *s = &t->st;
	FILE *f = fopen(t->opt.stats_file, "w");
	if (!f)
		return errorf("--stats %s: %s", t->opt.stats_file, strerror(errno));
	fprintf(f,
	        "{\"handshakes_completed\": %" PRIu64 ", \"udp_tx_packets\": %" PRIu64
	        ", \"udp_tx_bytes\": %" PRIu64 ", \"udp_rx_packets\": %" PRIu64
	        ", \"udp_rx_bytes\": %" PRIu64 ", \"echo_requests_sent\": %" PRIu64
	        ", \"echo_replies_received\": %" PRIu64 ", \"echo_requests_received\": %" PRIu64
	        ", \"echo_replies_sent\": %" PRIu64 ", \"keepalives_received\": %" PRIu64
	        ", \"dropped\": %" PRIu64 "}\n",
	        s->handshakes_completed, s->udp_tx_packets, s->udp_tx_bytes, s->udp_rx_packets,
	        s->udp_rx_bytes, s->echo_requests_sent, s->echo_replies_received,
	        s->echo_requests_received, s->echo_replies_sent, s->keepalives_received,
	        s->dropped);
	if (fclose(f) != 0)
		return errorf("writing --stats %s: %s", t->opt.stats_file, strerror(errno));
	return true;
}

static bool done(const struct tool *t)
{
	return t->opt.mode == MODE_INITIATE ? t->st.echo_replies_received >= t->opt.count
	                                    : t->st.echo_replies_sent >= t->opt.count;
}

/* Says what was missing when the deadline (or a signal) ended the run. */
static bool report_unfinished(const struct tool *t, uint64_t elapsed_ns)
{
	bool initiator = t->opt.mode == MODE_INITIATE;
	const char *hs = t->session         ? "handshake complete"
	                 : initiator        ? "no valid handshake response received"
	                 : t->have_endpoint ? "handshake answered but no data message confirmed it"
	                                    : "no valid handshake initiation received";
	return errorf("%s after %.1fs: %s; %" PRIu64 " of %lu echo %s",
	              stop_signal ? "interrupted" : "timed out", (double)elapsed_ns / 1e9, hs,
	              initiator ? t->st.echo_replies_received : t->st.echo_replies_sent,
	              t->opt.count, initiator ? "replies received" : "requests answered");
}

/* The event loop: returns true when the exchange completed. */
static bool run(struct tool *t)
{
	static uint8_t buf[MAX_DATAGRAM];
	uint64_t start = now_ns(), deadline = start + t->opt.timeout_s * WG_NSEC_PER_SEC;
	uint64_t next_initiation = start;

	while (!done(t)) {
		uint64_t now = now_ns(), wake = deadline;
		if (stop_signal || now >= deadline)
			return report_unfinished(t, now - start);
		if (t->opt.mode == MODE_INITIATE && !t->session) {
			/* REKEY_TIMEOUT between attempts, as a stock initiator. */
			if (now >= next_initiation) {
				if (!send_initiation(t))
					return false;
				next_initiation = now + WG_REKEY_TIMEOUT_S * WG_NSEC_PER_SEC;
			}
			wake = next_initiation < deadline ? next_initiation : deadline;
		} else if (t->opt.mode == MODE_INITIATE && !t->echo_outstanding) {
			if (!send_echo_request(t))
				return false;
		}
		struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
		uint64_t wait_ms = (wake - now + WG_NSEC_PER_MSEC - 1) / WG_NSEC_PER_MSEC;
		int n = poll(&pfd, 1, wait_ms > 1000 ? 1000 : (int)wait_ms);
		if (n < 0 && errno != EINTR)
			return errorf("poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		struct sockaddr_in6 from;
		socklen_t from_len = sizeof(from);
		ssize_t len = recvfrom(t->fd, buf, sizeof(buf), MSG_DONTWAIT,
		                       (struct sockaddr *)&from, &from_len);
		if (len < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (len < 0)
			return errorf("recvfrom: %s", strerror(errno));
		if (!handle_datagram(t, buf, (size_t)len, &from))
			return false;
	}
	return true;
}

/*
 * Keys, Noise state and cookies; the private key is zeroed by the caller. Returns 0, or the exit
 * status: an unusable key is a bad argument.
 */
static int setup(struct tool *t, const uint8_t priv[WG_KEY_LEN], bool *remote_ready)
{
	struct wg_noise_upcalls upcalls = {.ctx = t, .remote_by_pubkey = remote_by_pubkey};
	enum wg_result r;

	t->table = wg_index_table_new(16);
	if (!t->table)
		return errorf("out of memory") + 1;
	r = wg_noise_local_init(&t->local, t->table, &upcalls);
	if (r == WG_OK)
		r = wg_noise_local_set_private(&t->local, priv);
	if (r != WG_OK)
		return errorf("--private-key unusable: %s", wg_result_str(r)) + EXIT_BAD_ARGS;
	r = wg_noise_remote_init(&t->remote, &t->local, t->opt.peer_public, t);
	*remote_ready = true; /* even a refused key is stored and needs destroying */
	if (r != WG_OK)
		return errorf("--peer-public-key unusable: %s", wg_result_str(r)) + EXIT_BAD_ARGS;
	if (wg_cookie_checker_init(&t->checker, t->local.static_public, NULL, NULL) != WG_OK ||
	    wg_cookie_maker_init(&t->maker, t->opt.peer_public) != WG_OK)
		return errorf("cookie state initialisation failed") + 1;
	wg_random_bytes(&t->echo_id, sizeof(t->echo_id));
	t->endpoint = t->opt.peer_endpoint;
	t->have_endpoint = t->opt.have_peer_endpoint;
	return 0;
}

int main(int argc, char **argv)
{
	static struct tool t; /* large (replay windows): not on the stack */
	uint8_t priv[WG_KEY_LEN] = {0};
	struct wg_key_status ks;
	char err[WG_KEY_ERRBUF_SIZE];
	struct sigaction sa = {.sa_handler = on_signal};
	bool remote_ready = false;
	int rc = EXIT_BAD_ARGS;

	t.fd = -1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (wg_crypto_init() != WG_OK) {
		errorf("crypto library initialisation failed");
		return 1;
	}
	if (!parse_args(argc, argv, &t.opt))
		goto out;
	if (wg_key_from_file(t.opt.private_key_file, priv, &ks) != WG_KEY_OK) {
		usage_error("--private-key: %s",
		            wg_key_error_format(&ks, t.opt.private_key_file, err, sizeof(err)));
		goto out;
	}
	if (ks.loose_permissions)
		errorf("warning: %s is accessible by others", t.opt.private_key_file);
	rc = setup(&t, priv, &remote_ready);
	if (rc)
		goto out;
	rc = 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	t.fd = open_socket(t.opt.listen_port);
	if (t.fd < 0)
		goto out;
	printf("listening on UDP port %d (%s)\n", t.opt.listen_port,
	       t.opt.mode == MODE_INITIATE ? "initiate" : "respond");
	if (run(&t)) {
		rc = 0;
		printf("done: %" PRIu64 " handshake(s)\n", t.st.handshakes_completed);
	}
	if (t.opt.stats_file && !write_stats(&t))
		rc = 1;
out:
	if (t.fd >= 0)
		close(t.fd);
	if (remote_ready)
		wg_noise_remote_destroy(&t.remote);
	if (t.table) {
		wg_noise_local_destroy(&t.local);
		wg_index_table_free(t.table);
	}
	wg_cookie_checker_clear(&t.checker);
	wg_cookie_maker_clear(&t.maker);
	wg_memzero(priv, sizeof(priv));
	return rc;
}
