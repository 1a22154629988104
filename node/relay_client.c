// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node side of docs/relay-protocol.md. The relay's own implementation is relay/; the two
 * share no code on purpose (node/ may not depend on relay/), and the protocol document is the
 * contract both follow.
 */
#include "relay_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <sodium.h>

#define HDR_LEN        5
#define F_CHALLENGE    0x01
#define F_PROOF        0x02
#define F_WELCOME      0x04
#define F_SEND         0x10
#define F_RECV         0x11
#define F_PEER_GONE    0x12
#define F_PING         0x20
#define F_PONG         0x21
#define F_ERROR        0x30
#define CHALLENGE_BODY 66
#define PROOF_CONTEXT  "meshgate-relay-v1"
#define EXPORTER_LABEL "EXPORTER-meshgate-relay-v1"
#define PROOF_MSG_LEN  (sizeof(PROOF_CONTEXT) - 1 + 32 + 32)
#define PROOF_BODY     (32 + crypto_box_NONCEBYTES + PROOF_MSG_LEN + crypto_box_MACBYTES)
#define MAX_BODY       (32 + MG_RELAY_MAX_PACKET)
#define IN_CAP         (2 * (HDR_LEN + MAX_BODY))
#define READ_CHUNK     16384

struct mg_relay_client {
	int fd;
	SSL *ssl;
	SSL_CTX *own_ctx;
	bool broken, want_write;
	uint8_t pub[32], relay_pk[32];
	uint32_t keepalive_s;
	struct mg_relay_rtt rtt;
	uint8_t *in;
	size_t in_off, in_len, in_cap; /* unread bytes: in[in_off .. in_len) */
	uint8_t *out;
	size_t out_off, out_len, out_cap, queue_bytes;
	char err[256];
	struct mg_relay_client_stats st;
};

static int fail(struct mg_relay_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(struct mg_relay_client *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->broken) {
		va_start(ap, fmt);
		vsnprintf(c->err, sizeof(c->err), fmt, ap);
		va_end(ap);
	}
	c->broken = true;
	return -1;
}

static const char *tls_err(void)
{
	static __thread char buf[160];
	unsigned long e = ERR_get_error();

	if (!e)
		return "connection closed";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	uint64_t now = now_ms();
	int rc;

	if (now >= deadline)
		return 0;
	do {
		rc = poll(&p, 1, (int)(deadline - now));
	} while (rc < 0 && errno == EINTR);
	return rc;
}

void *mg_relay_tls_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
	            : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "cannot load trust anchors %s: %s", ca_file ? ca_file : "",
		         tls_err());
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void mg_relay_tls_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

static int tcp_connect(struct mg_relay_client *c, const struct mg_relay_client_config *cfg,
                       uint64_t deadline)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *a;
	char port[8];
	int rc, soerr = 0;
	socklen_t sl = sizeof(soerr);

	snprintf(port, sizeof(port), "%u", cfg->port);
	rc = getaddrinfo(cfg->host, port, &hints, &ai);
	if (rc != 0)
		return fail(c, "cannot resolve %s: %s", cfg->host, gai_strerror(rc));
	for (a = ai; a; a = a->ai_next) {
		c->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			continue;
		if (cfg->bind_addr) {
			struct addrinfo bh = {.ai_family = a->ai_family,
			                      .ai_flags = AI_NUMERICHOST},
			                *b;
			if (getaddrinfo(cfg->bind_addr, NULL, &bh, &b) != 0) {
				close(c->fd);
				c->fd = -1;
				continue;
			}
			rc = bind(c->fd, b->ai_addr, b->ai_addrlen);
			freeaddrinfo(b);
			if (rc != 0) {
				close(c->fd);
				c->fd = -1;
				continue;
			}
		}
		if (cfg->fwmark && setsockopt(c->fd, SOL_SOCKET, SO_MARK, &cfg->fwmark,
		                              sizeof(cfg->fwmark)) != 0) {
			freeaddrinfo(ai);
			close(c->fd);
			c->fd = -1;
			return fail(c, "cannot mark the relay connection (SO_MARK): %s",
			            strerror(errno));
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
		if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_fd(c->fd, POLLOUT, deadline) > 0 &&
		     getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0))
			break;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(ai);
	if (c->fd < 0)
		return fail(c, "cannot connect to %s port %u: %s", cfg->host, cfg->port,
		            soerr ? strerror(soerr) : "timed out or refused");
	return 0;
}

/* Runs an SSL call that may need the socket, until it completes or the deadline passes. */
static int ssl_wait(struct mg_relay_client *c, int rc, uint64_t deadline)
{
	int e = SSL_get_error(c->ssl, rc);

	if (e == SSL_ERROR_WANT_READ)
		return wait_fd(c->fd, POLLIN, deadline) > 0 ? 0 : fail(c, "timed out");
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_fd(c->fd, POLLOUT, deadline) > 0 ? 0 : fail(c, "timed out");
	if (e == SSL_ERROR_ZERO_RETURN)
		return fail(c, "the relay closed the connection");
	return fail(c, "TLS: %s", tls_err());
}

static int write_all(struct mg_relay_client *c, const void *buf, size_t len, uint64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		int rc = SSL_write(c->ssl, (const uint8_t *)buf + done, (int)(len - done));
		if (rc > 0)
			done += (size_t)rc;
		else if (ssl_wait(c, rc, deadline) != 0)
			return -1;
	}
	return 0;
}

static int grow_in(struct mg_relay_client *c, size_t need)
{
	size_t cap = c->in_cap ? c->in_cap : 4096;
	uint8_t *p;

	if (c->in_off && c->in_len + need > c->in_cap) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	while (cap < c->in_len + need && cap < IN_CAP)
		cap *= 2;
	if (cap > IN_CAP)
		cap = IN_CAP;
	if (cap != c->in_cap) {
		p = realloc(c->in, cap);
		if (!p)
			return fail(c, "out of memory");
		c->in = p;
		c->in_cap = cap;
	}
	return 0;
}

/* Reads what TLS has. 1: read something, 0: nothing now (would block), -1: broken. */
static int read_some(struct mg_relay_client *c)
{
	int rc;

	if (grow_in(c, READ_CHUNK) != 0)
		return -1;
	if (c->in_len >= c->in_cap)
		return fail(c, "input buffer full (protocol violation by the relay)");
	rc = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
	if (rc > 0) {
		c->in_len += (size_t)rc;
		return 1;
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		return fail(c, "the relay closed the connection");
	case SSL_ERROR_SYSCALL:
		return fail(c, "the relay closed the connection (%s)",
		            ERR_peek_error() ? tls_err()
		            : errno          ? strerror(errno)
		                             : "EOF");
	default:
		return fail(c, "TLS: %s", tls_err());
	}
}

/* The body length of the complete frame at in_off, or -1 when incomplete. */
static long frame_ready(struct mg_relay_client *c, uint8_t *type)
{
	size_t avail = c->in_len - c->in_off;
	const uint8_t *h = c->in + c->in_off;
	uint32_t len;

	if (avail < HDR_LEN)
		return -1;
	len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
	*type = h[0];
	if (len > MAX_BODY) {
		fail(c, "the relay sent a frame of %u bytes (protocol maximum %u)", len, MAX_BODY);
		return -2;
	}
	if (avail < HDR_LEN + (size_t)len)
		return -1;
	return (long)len;
}

static int error_frame(struct mg_relay_client *c, const uint8_t *b, long len, const char *when)
{
	static const char *const names[] = {"?",
	                                    "bad_frame",
	                                    "too_large",
	                                    "bad_proof",
	                                    "handshake_timeout",
	                                    "idle_timeout",
	                                    "replaced",
	                                    "shutting_down",
	                                    "not_admitted",
	                                    "bad_mesh_proof",
	                                    "unexpected_frame",
	                                    "server_full"};
	const char *name = len > 0 && b[0] < sizeof(names) / sizeof(names[0]) ? names[b[0]] : "?";
	int tl = len > 1 ? (int)(len - 1) : 0;

	for (int i = 0; i < tl; i++)
		if (b[1 + i] < 0x20 || b[1 + i] >= 0x7f)
			tl = i; /* show only the printable prefix */
	return fail(c, "%s: %s: %.*s", when, name, tl, (const char *)b + 1);
}

/* Reads until one whole frame is buffered; returns its body length and type. */
static long read_frame(struct mg_relay_client *c, uint8_t *type, uint64_t deadline)
{
	for (;;) {
		long n = frame_ready(c, type);
		int rc;

		if (n >= 0)
			return n;
		if (n == -2)
			return -1;
		rc = read_some(c);
		if (rc < 0)
			return -1;
		if (rc == 0 && wait_fd(c->fd, c->want_write ? POLLOUT : POLLIN, deadline) <= 0)
			return fail(c, "timed out waiting for the relay");
		c->want_write = false;
	}
}

static int upgrade(struct mg_relay_client *c, const char *host, uint64_t deadline)
{
	char req[512];
	int n = snprintf(req, sizeof(req),
	                 "GET /relay HTTP/1.1\r\nHost: %s\r\nUpgrade: meshgate-relay\r\n"
	                 "Connection: Upgrade\r\nMeshgate-Relay-Version: 1\r\n\r\n",
	                 host);
	uint8_t *end = NULL;

	if (n < 0 || (size_t)n >= sizeof(req))
		return fail(c, "server name too long");
	if (write_all(c, req, (size_t)n, deadline) != 0)
		return -1;
	while (!end) {
		int rc;
		if (c->in_len >= 4)
			end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
		if (end)
			break;
		if (c->in_len >= 4096)
			return fail(c, "the relay's HTTP response is too long");
		rc = read_some(c);
		if (rc < 0)
			return -1;
		if (rc == 0 && wait_fd(c->fd, POLLIN, deadline) <= 0)
			return fail(c, "timed out waiting for the upgrade response");
	}
	if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
		/* Show the status line and the body, which says why. */
		size_t hl = (size_t)(end - c->in), sl = strcspn((const char *)c->in, "\r");
		int bl;

		while (c->in_len - hl - 4 < 200 && read_some(c) > 0)
			;
		end = c->in + hl;
		bl = (int)(c->in_len - hl - 4);
		if (bl > 200)
			bl = 200;
		while (bl > 0 && (end[4 + bl - 1] == '\n' || end[4 + bl - 1] == '\r'))
			bl--;
		c->broken = false;
		return fail(c, "relay refused the upgrade: %.*s: %.*s", (int)(sl < 64 ? sl : 64),
		            (const char *)c->in, bl, (const char *)end + 4);
	}
	{
		/* Upgrade: meshgate-relay must be in the headers. */
		char hdrs[4097];
		size_t hl = (size_t)(end - c->in);
		memcpy(hdrs, c->in, hl);
		hdrs[hl] = '\0';
		if (!strcasestr(hdrs, "\r\nUpgrade: meshgate-relay"))
			return fail(c, "the relay's 101 response lacks 'Upgrade: meshgate-relay'");
	}
	c->in_off = (size_t)(end - c->in) + 4;
	return 0;
}

static int prove(struct mg_relay_client *c, const uint8_t sk[32], uint64_t deadline)
{
	uint8_t type, exporter[32], m[PROOF_MSG_LEN], frame[HDR_LEN + PROOF_BODY];
	uint8_t *body = frame + HDR_LEN, *nonce = body + 32;
	long n = read_frame(c, &type, deadline);
	const uint8_t *b;

	if (n < 0)
		return -1;
	b = c->in + c->in_off + HDR_LEN;
	if (type == F_ERROR)
		return error_frame(c, b, n, "relay refused the connection");
	if (type != F_CHALLENGE || n != CHALLENGE_BODY)
		return fail(c, "expected CHALLENGE from the relay, got frame type 0x%02x", type);
	if (b[0] != 1)
		return fail(c, "the relay speaks protocol version %u, this client 1", b[0]);
	memcpy(c->relay_pk, b + 2, 32);
	if (SSL_export_keying_material(c->ssl, exporter, 32, EXPORTER_LABEL, strlen(EXPORTER_LABEL),
	                               NULL, 0, 0) != 1)
		return fail(c, "TLS exporter: %s", tls_err());
	memcpy(m, PROOF_CONTEXT, sizeof(PROOF_CONTEXT) - 1);
	memcpy(m + sizeof(PROOF_CONTEXT) - 1, b + 2 + 32, 32);
	memcpy(m + sizeof(PROOF_CONTEXT) - 1 + 32, exporter, 32);
	c->in_off += HDR_LEN + (size_t)n;
	frame[0] = F_PROOF;
	frame[1] = frame[2] = 0;
	frame[3] = (uint8_t)(PROOF_BODY >> 8);
	frame[4] = (uint8_t)PROOF_BODY;
	memcpy(body, c->pub, 32);
	randombytes_buf(nonce, crypto_box_NONCEBYTES);
	if (crypto_box_easy(nonce + crypto_box_NONCEBYTES, m, sizeof(m), nonce, c->relay_pk, sk) !=
	    0) {
		sodium_memzero(m, sizeof(m));
		return fail(c, "the relay's key is not a usable X25519 key");
	}
	sodium_memzero(m, sizeof(m));
	if (write_all(c, frame, sizeof(frame), deadline) != 0)
		return -1;
	n = read_frame(c, &type, deadline);
	if (n < 0)
		return -1;
	b = c->in + c->in_off + HDR_LEN;
	if (type == F_ERROR)
		return error_frame(c, b, n, "relay refused the proof");
	if (type != F_WELCOME || n != 12)
		return fail(c, "expected WELCOME from the relay, got frame type 0x%02x", type);
	c->keepalive_s = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	c->in_off += HDR_LEN + (size_t)n;
	return 0;
}

struct mg_relay_client *mg_relay_client_connect(const struct mg_relay_client_config *cfg, char *err,
                                                size_t errlen)
{
	struct mg_relay_client *c = calloc(1, sizeof(*c));
	uint64_t deadline = now_ms() + (uint64_t)(cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000);
	const char *name = cfg->server_name ? cfg->server_name : cfg->host;
	SSL_CTX *ctx = cfg->tls_ctx;
	unsigned char ipbuf[16];
	int rc;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->queue_bytes = cfg->queue_bytes ? cfg->queue_bytes : 256 * 1024;
	if (!cfg->private_key || crypto_scalarmult_base(c->pub, cfg->private_key) != 0) {
		fail(c, "no usable private key");
		goto out;
	}
	if (!ctx &&
	    !(ctx = c->own_ctx = mg_relay_tls_ctx_new(cfg->ca_file, c->err, sizeof(c->err))))
		goto out;
	if (tcp_connect(c, cfg, deadline) != 0)
		goto out;
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		fail(c, "SSL_new: %s", tls_err());
		goto out;
	}
	if (inet_pton(AF_INET, name, ipbuf) == 1 || inet_pton(AF_INET6, name, ipbuf) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
	} else {
		SSL_set_tlsext_host_name(c->ssl, name);
		SSL_set1_host(c->ssl, name);
	}
	while ((rc = SSL_connect(c->ssl)) != 1) {
		if (SSL_get_error(c->ssl, rc) == SSL_ERROR_SSL) {
			long v = SSL_get_verify_result(c->ssl);
			if (v != X509_V_OK)
				fail(c, "the relay's certificate does not verify for %s: %s", name,
				     X509_verify_cert_error_string(v));
			else
				fail(c, "TLS handshake with %s failed: %s", name, tls_err());
			goto out;
		}
		if (ssl_wait(c, rc, deadline) != 0)
			goto out;
	}
	if (upgrade(c, name, deadline) != 0 || prove(c, cfg->private_key, deadline) != 0)
		goto out;
	mg_relay_rtt_init(&c->rtt, now_us());
	return c;
out:
	snprintf(err, errlen, "%s", c->err[0] ? c->err : "connection failed");
	mg_relay_client_close(c);
	return NULL;
}

void mg_relay_client_close(struct mg_relay_client *c)
{
	if (!c)
		return;
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	SSL_CTX_free(c->own_ctx);
	free(c->in);
	free(c->out);
	free(c);
}

int mg_relay_client_fd(const struct mg_relay_client *c)
{
	return c->fd;
}

short mg_relay_client_events(const struct mg_relay_client *c)
{
	return (short)(POLLIN | (c->want_write || c->out_len > c->out_off ? POLLOUT : 0));
}

const uint8_t *mg_relay_client_relay_key(const struct mg_relay_client *c)
{
	return c->relay_pk;
}

const uint8_t *mg_relay_client_public_key(const struct mg_relay_client *c)
{
	return c->pub;
}

size_t mg_relay_client_pending(const struct mg_relay_client *c)
{
	return c->out_len - c->out_off;
}

const char *mg_relay_client_error(const struct mg_relay_client *c)
{
	return c->err[0] ? c->err : "no error";
}

void mg_relay_client_get_stats(const struct mg_relay_client *c, struct mg_relay_client_stats *st)
{
	*st = c->st;
}

/* Room for n more bytes of output, or -1 when the queue bound forbids it. */
static int out_reserve(struct mg_relay_client *c, size_t n)
{
	size_t pending = c->out_len - c->out_off, cap;
	uint8_t *p;

	if (pending + n > c->queue_bytes)
		return -1;
	if (c->out_off && c->out_len + n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_len = pending;
		c->out_off = 0;
	}
	if (c->out_len + n <= c->out_cap)
		return 0;
	cap = c->out_cap ? c->out_cap : 4096;
	while (cap < c->out_len + n)
		cap *= 2;
	p = realloc(c->out, cap);
	if (!p)
		return -1;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

static void put_hdr(uint8_t *h, uint8_t type, uint32_t len)
{
	h[0] = type;
	h[1] = (uint8_t)(len >> 24);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 8);
	h[4] = (uint8_t)len;
}

int mg_relay_client_send(struct mg_relay_client *c, const uint8_t dst[32], const void *pkt,
                         size_t len)
{
	uint8_t *p;

	if (c->broken || len == 0 || len > MG_RELAY_MAX_PACKET)
		return -1;
	if (out_reserve(c, HDR_LEN + 32 + len) != 0) {
		c->st.dropped_queue_full++;
		return 1;
	}
	p = c->out + c->out_len;
	put_hdr(p, F_SEND, (uint32_t)(32 + len));
	memcpy(p + HDR_LEN, dst, 32);
	memcpy(p + HDR_LEN + 32, pkt, len);
	c->out_len += HDR_LEN + 32 + len;
	c->st.sent++;
	c->st.bytes_sent += len;
	/* Keep big batches moving without a flush call per packet. */
	if (c->out_len - c->out_off >= 64 * 1024)
		return mg_relay_client_flush(c) < 0 ? -1 : 0;
	return 0;
}

static int queue_small(struct mg_relay_client *c, uint8_t type, const uint8_t data[8])
{
	if (out_reserve(c, HDR_LEN + 8) != 0)
		return 1;
	put_hdr(c->out + c->out_len, type, 8);
	memcpy(c->out + c->out_len + HDR_LEN, data, 8);
	c->out_len += HDR_LEN + 8;
	return 0;
}

int mg_relay_client_ping(struct mg_relay_client *c, const uint8_t data[8])
{
	return c->broken ? -1 : queue_small(c, F_PING, data);
}

int mg_relay_client_rtt_tick(struct mg_relay_client *c)
{
	uint8_t data[8];

	if (c->broken || !mg_relay_rtt_due(&c->rtt, now_us(), data))
		return 0;
	if (queue_small(c, F_PING, data) != 0) {
		mg_relay_rtt_unsent(&c->rtt);
		return 0;
	}
	return 1;
}

const struct mg_relay_rtt *mg_relay_client_rtt(const struct mg_relay_client *c)
{
	return &c->rtt;
}

int mg_relay_client_flush(struct mg_relay_client *c)
{
	if (c->broken)
		return -1;
	c->want_write = false;
	while (c->out_len > c->out_off) {
		size_t n = c->out_len - c->out_off;
		int rc = SSL_write(c->ssl, c->out + c->out_off, (int)(n > 65536 ? 65536 : n));

		if (rc > 0) {
			c->out_off += (size_t)rc;
			continue;
		}
		switch (SSL_get_error(c->ssl, rc)) {
		case SSL_ERROR_WANT_WRITE:
			c->want_write = true;
			return 1;
		case SSL_ERROR_WANT_READ:
			return 1;
		default:
			return fail(c, "write to the relay failed: %s", tls_err());
		}
	}
	c->out_off = c->out_len = 0;
	return 0;
}

int mg_relay_client_recv(struct mg_relay_client *c, struct mg_relay_msg *m)
{
	for (;;) {
		uint8_t type;
		long n;
		const uint8_t *b;
		int rc;

		if (c->broken)
			return -1;
		n = frame_ready(c, &type);
		if (n == -2)
			return -1;
		if (n < 0) {
			rc = read_some(c);
			if (rc <= 0)
				return rc;
			continue;
		}
		b = c->in + c->in_off + HDR_LEN;
		c->in_off += HDR_LEN + (size_t)n;
		switch (type) {
		case F_RECV:
			if (n < 33)
				return fail(c, "short RECV frame");
			m->type = MG_RELAY_MSG_PACKET;
			memcpy(m->key, b, 32);
			m->data = b + 32;
			m->len = (size_t)n - 32;
			c->st.received++;
			c->st.bytes_received += m->len;
			return 1;
		case F_PEER_GONE:
			if (n != 33)
				return fail(c, "malformed PEER_GONE frame");
			m->type = MG_RELAY_MSG_PEER_GONE;
			memcpy(m->key, b, 32);
			m->reason = b[32];
			m->data = NULL;
			m->len = 0;
			return 1;
		case F_PING:
			if (n != 8)
				return fail(c, "malformed PING frame");
			queue_small(c, F_PONG,
			            b); /* a full queue loses the PONG, not the session */
			continue;
		case F_PONG:
			if (n != 8)
				return fail(c, "malformed PONG frame");
			mg_relay_rtt_pong(&c->rtt, b, now_us());
			m->type = MG_RELAY_MSG_PONG;
			m->data = b;
			m->len = 8;
			return 1;
		case F_ERROR:
			return error_frame(c, b, n, "relay closed the session");
		default:
			return fail(c, "unexpected frame type 0x%02x from the relay", type);
		}
	}
}

int mg_relay_client_recv_wait(struct mg_relay_client *c, struct mg_relay_msg *m, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		int rc = mg_relay_client_recv(c, m);

		if (rc != 0)
			return rc;
		if (mg_relay_client_flush(c) < 0)
			return -1;
		if (wait_fd(c->fd, mg_relay_client_events(c), deadline) <= 0)
			return now_ms() >= deadline ? 0 : -1;
	}
}
