// SPDX-License-Identifier: GPL-2.0-only
/*
 * STUN Binding server (RFC 8489) on the relay's UDP sockets, so nodes learn their public
 * endpoints from the relay they already use (docs/nat-traversal.md).
 *
 * An open UDP responder is a reflection amplifier for spoofed sources, so: nothing is answered
 * before the whole request checks out; a response is at most 48 bytes longer than its request
 * (optional attributes are left out when they would not fit); and a token bucket per source
 * (per /64 for IPv6, since one host owns a whole /64) and one for the whole server bound the
 * rate. Everything not answered is a counted drop.
 *
 * No OTHER-ADDRESS: RFC 5780 clients read it as a promise to honour CHANGE-REQUEST, which this
 * server does not (a change request gets 420), and coturn's client then waits forever. Nodes
 * find their NAT's mapping behaviour by querying two listen addresses instead.
 *
 * The relay may not link node/ (docs/architecture.md), and a server needs only the header and
 * attribute walk, so the codec here is its own, small one; tests check both against coturn.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <sodium.h>
#include <zlib.h>

#include "bytes.h"
#include "log.h"
#include "relay.h"

#define HDR          20
#define MAGIC        0x2112A442u
#define MAX_REQ      1280 /* larger is not a Binding request anyone needs answered */
#define BUDGET       48   /* response length <= request length + BUDGET */
#define BURST_READS  64   /* datagrams per wake-up, so one socket cannot starve TLS */
#define BUCKETS      4096 /* per-source buckets; a colliding source takes the slot over */
#define ATTR_XMA     0x0020
#define ATTR_CHANGE  0x0003
#define ATTR_ERROR   0x0009
#define ATTR_UNKNOWN 0x000A
#define ATTR_FP      0x8028
#define ATTR_ORIGIN  0x802B

enum stun_drop {
	STUN_DROP_SHORT,
	STUN_DROP_TOO_LONG,
	STUN_DROP_NOT_STUN,
	STUN_DROP_BAD_LENGTH,
	STUN_DROP_NOT_REQUEST,    /* responses and indications: nothing to answer */
	STUN_DROP_UNKNOWN_METHOD, /* a request other than Binding */
	STUN_DROP_BAD_ATTRIBUTE,
	STUN_DROP_BAD_FINGERPRINT,
	STUN_DROP_RATE_SOURCE,
	STUN_DROP_RATE_TOTAL,
	STUN_DROP_NO_ROOM, /* an error response would exceed the budget */
	STUN_DROP_SEND_FAILED,
	STUN_DROP_COUNT
};

static const char *const drop_names[STUN_DROP_COUNT] = {
    "short",           "too_long",       "not_stun",      "bad_length",
    "not_request",     "unknown_method", "bad_attribute", "bad_fingerprint",
    "rate_per_source", "rate_total",     "no_room",       "send_failed"};

struct bucket {
	uint8_t key[9]; /* family, then 4 or 8 address bytes */
	uint64_t tokens_milli;
	uint64_t last_ms;
};

struct stun_sock {
	struct relay_stun *st;
	evutil_socket_t fd;
	struct event *ev;
	struct mg_sockaddr addr;
	bool wildcard;
};

struct relay_stun {
	struct relay_server *s;
	struct stun_sock socks[RELAY_STUN_MAX_LISTEN];
	size_t n;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	struct bucket buckets[BUCKETS];
	uint64_t total_tokens_milli;
	uint64_t total_last_ms;
	uint64_t datagrams, success, errors, bytes_in, bytes_out;
	uint64_t drops[STUN_DROP_COUNT];
};

static uint32_t fingerprint(const uint8_t *b, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)len) ^ 0x5354554Eu;
}

static void sa_from(const struct sockaddr_storage *ss, struct mg_sockaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;
		a->family = 4;
		a->port = ntohs(s->sin_port);
		memcpy(a->addr, &s->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		a->family = 6;
		a->port = ntohs(s6->sin6_port);
		memcpy(a->addr, &s6->sin6_addr, 16);
	}
}

static socklen_t sa_to(const struct mg_sockaddr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == 4) {
		struct sockaddr_in *s = (void *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(a->port);
		memcpy(&s->sin_addr, a->addr, 4);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (void *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(a->port);
	memcpy(&s6->sin6_addr, a->addr, 16);
	return sizeof(*s6);
}

/* Refills a bucket for the time passed, then takes one token if there is one. */
static bool take(uint64_t *tokens_milli, uint64_t *last_ms, uint64_t now, uint32_t rate,
                 uint32_t burst)
{
	uint64_t t = *tokens_milli + (now - *last_ms) * rate;
	uint64_t cap = (uint64_t)burst * 1000;

	*tokens_milli = t > cap ? cap : t;
	*last_ms = now;
	if (*tokens_milli < 1000)
		return false;
	*tokens_milli -= 1000;
	return true;
}

static enum stun_drop rate_check(struct relay_stun *st, const struct mg_sockaddr *from,
                                 uint64_t now)
{
	const struct relay_config *c = st->s->cfg;
	uint8_t key[9] = {from->family}, h[crypto_shorthash_BYTES];
	struct bucket *b;
	uint64_t idx;

	memcpy(key + 1, from->addr, from->family == 4 ? 4 : 8);
	/* Keyed hash: a sender cannot aim its sources at a victim's bucket. */
	crypto_shorthash(h, key, sizeof(key), st->hash_key);
	memcpy(&idx, h, sizeof(idx));
	b = &st->buckets[idx % BUCKETS];
	if (memcmp(b->key, key, sizeof(key)) != 0) {
		memcpy(b->key, key, sizeof(key));
		b->tokens_milli = (uint64_t)c->stun_burst_per_source * 1000;
		b->last_ms = now;
	}
	if (!take(&b->tokens_milli, &b->last_ms, now, c->stun_rate_per_source,
	          c->stun_burst_per_source))
		return STUN_DROP_RATE_SOURCE;
	/* The total allows one second's worth as burst. */
	if (!take(&st->total_tokens_milli, &st->total_last_ms, now, c->stun_rate_total,
	          c->stun_rate_total))
		return STUN_DROP_RATE_TOTAL;
	return STUN_DROP_COUNT;
}

/* Appends an address attribute if it fits in cap; xor masks with cookie || txid. */
static bool put_addr(uint8_t *out, size_t *len, size_t cap, uint16_t type,
                     const struct mg_sockaddr *a, bool xor)
{
	size_t alen = a->family == 4 ? 4 : 16;
	uint8_t *p = out + *len;

	if (*len + 8 + alen > cap)
		return false;
	mg_put_be16(p, type);
	mg_put_be16(p + 2, (uint16_t)(4 + alen));
	p[4] = 0;
	p[5] = a->family == 4 ? 1 : 2;
	mg_put_be16(p + 6, a->port ^ (xor? (uint16_t)(MAGIC >> 16) : 0));
	for (size_t i = 0; i < alen; i++)
		p[8 + i] = a->addr[i] ^ (xor? out[4 + i] : 0); /* header bytes 4..19 */
	*len += 8 + alen;
	return true;
}

static void finish(uint8_t *out, size_t *len)
{
	mg_put_be16(out + 2, (uint16_t)(*len + 8 - HDR));
	mg_put_be16(out + *len, ATTR_FP);
	mg_put_be16(out + *len + 2, 4);
	mg_put_be32(out + *len + 4, fingerprint(out, *len));
	*len += 8;
}

/*
 * Checks one datagram; on success writes the response to out and returns its length, else
 * returns 0 with *why set.
 */
static size_t answer(struct relay_stun *st, const struct stun_sock *sk, const uint8_t *req,
                     size_t n, const struct mg_sockaddr *from, uint64_t now, uint8_t *out,
                     enum stun_drop *why)
{
	size_t cap = n + BUDGET, len = HDR, off = HDR;
	uint16_t type, unknown = 0;

	if (n < HDR)
		return *why = STUN_DROP_SHORT, 0;
	if ((req[0] & 0xc0) || mg_get_be32(req + 4) != MAGIC)
		return *why = STUN_DROP_NOT_STUN, 0;
	if ((mg_get_be16(req + 2) & 3) || HDR + (size_t)mg_get_be16(req + 2) != n)
		return *why = STUN_DROP_BAD_LENGTH, 0;
	type = mg_get_be16(req);
	/* Class bits C1 C0 are bits 8 and 4: 00 is a request. */
	if (type & 0x0110)
		return *why = STUN_DROP_NOT_REQUEST, 0;
	if (type != 0x0001)
		return *why = STUN_DROP_UNKNOWN_METHOD, 0;
	/* Rate before the CRC and the walk: a flood costs as little as possible. */
	if ((*why = rate_check(st, from, now)) != STUN_DROP_COUNT)
		return 0;
	while (off < n) {
		uint16_t t, vlen;
		size_t padded;
		if (n - off < 4)
			return *why = STUN_DROP_BAD_ATTRIBUTE, 0;
		t = mg_get_be16(req + off);
		vlen = mg_get_be16(req + off + 2);
		padded = ((size_t)vlen + 3) & ~(size_t)3;
		if (padded > n - off - 4)
			return *why = STUN_DROP_BAD_ATTRIBUTE, 0;
		if (t == ATTR_FP) {
			if (vlen != 4 || off + 8 != n ||
			    mg_get_be32(req + off + 4) != fingerprint(req, off))
				return *why = STUN_DROP_BAD_FINGERPRINT, 0;
		} else if (t == ATTR_CHANGE) {
			/* Asking for no change is harmless; a change we cannot make is refused
			 * as RFC 5780 says for servers without an alternate address. */
			if (vlen != 4)
				return *why = STUN_DROP_BAD_ATTRIBUTE, 0;
			if ((mg_get_be32(req + off + 4) & 6) && !unknown)
				unknown = t;
		} else if (t < 0x8000 && !unknown) {
			/* Comprehension-required. Authentication attributes are ignored: a
			 * Binding without credentials is what this server offers. */
			switch (t) {
			case 0x0006: /* USERNAME */
			case 0x0008: /* MESSAGE-INTEGRITY */
			case 0x0014: /* REALM */
			case 0x0015: /* NONCE */
			case 0x001C: /* MESSAGE-INTEGRITY-SHA256 */
			case 0x001E: /* USERHASH */
				break;
			default:
				unknown = t;
			}
		}
		off += 4 + padded;
	}
	memcpy(out + 4, req + 4, 16); /* cookie and transaction id */
	if (unknown) {
		/* 420 with the first unknown attribute: 52 bytes, within budget for any
		 * request that can carry an attribute (28 bytes or more). */
		static const char reason[8] = "Unknown";
		if (len + 16 + 8 + 8 > cap)
			return *why = STUN_DROP_NO_ROOM, 0;
		mg_put_be16(out, 0x0111);
		mg_put_be16(out + len, ATTR_ERROR);
		mg_put_be16(out + len + 2, 4 + 7);
		mg_put_be32(out + len + 4, 4 << 8 | 20);
		memcpy(out + len + 8, reason, 8); /* 7 chars + padding */
		len += 16;
		mg_put_be16(out + len, ATTR_UNKNOWN);
		mg_put_be16(out + len + 2, 2);
		mg_put_be16(out + len + 4, unknown);
		mg_put_be16(out + len + 6, 0);
		len += 8;
		finish(out, &len);
		st->errors++;
		return len;
	}
	mg_put_be16(out, 0x0101);
	/* Room for FINGERPRINT is kept back from every attribute but the first, which always
	 * fits: 20 + 24 + 8 <= 20 + BUDGET. */
	put_addr(out, &len, cap - 8, ATTR_XMA, from, true);
	if (!sk->wildcard)
		put_addr(out, &len, cap - 8, ATTR_ORIGIN, &sk->addr, false);
	finish(out, &len);
	st->success++;
	return len;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stun_sock *sk = arg;
	struct relay_stun *st = sk->st;
	uint8_t req[MAX_REQ + 1], resp[MAX_REQ + BUDGET];
	uint64_t now = relay_now_ms();

	(void)what;
	for (int i = 0; i < BURST_READS; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct mg_sockaddr from;
		enum stun_drop why = STUN_DROP_COUNT;
		ssize_t n = recvfrom(fd, req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC,
		                     (struct sockaddr *)&ss, &sl);
		size_t rlen;

		if (n < 0)
			return;
		st->datagrams++;
		st->bytes_in += (uint64_t)n;
		if ((size_t)n > MAX_REQ) {
			st->drops[STUN_DROP_TOO_LONG]++;
			continue;
		}
		sa_from(&ss, &from);
		if (!from.family || !from.port) {
			st->drops[STUN_DROP_NOT_STUN]++;
			continue;
		}
		rlen = answer(st, sk, req, (size_t)n, &from, now, resp, &why);
		if (!rlen) {
			st->drops[why]++;
			continue;
		}
		sl = sa_to(&from, &ss);
		if (sendto(fd, resp, rlen, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
			st->drops[STUN_DROP_SEND_FAILED]++;
			continue;
		}
		st->bytes_out += rlen;
	}
}

static int open_sock(struct relay_stun *st, struct stun_sock *sk, const struct mg_sockaddr *a,
                     char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_to(a, &ss);
	char as[MG_SOCKADDR_STRLEN];
	int one = 1;

	sk->st = st;
	sk->addr = *a;
	sk->wildcard = true;
	for (int i = 0; i < (a->family == 4 ? 4 : 16); i++)
		if (a->addr[i])
			sk->wildcard = false;
	mg_sockaddr_format(a, as, sizeof(as));
	sk->fd = socket(a->family == 4 ? AF_INET : AF_INET6,
	                SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sk->fd < 0) {
		snprintf(err, errlen, "stun.listen %s: socket: %s", as, strerror(errno));
		return -1;
	}
	/* [::] answers IPv6 only: IPv4 has its own listen entry, so a mapped address is always
	 * reported in the family the client used. */
	if (a->family == 6)
		setsockopt(sk->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(sk->fd, (struct sockaddr *)&ss, sl) != 0) {
		snprintf(err, errlen, "cannot listen for STUN on %s: %s", as, strerror(errno));
		return -1;
	}
	sk->ev = event_new(st->s->base, sk->fd, EV_READ | EV_PERSIST, read_cb, sk);
	if (!sk->ev || event_add(sk->ev, NULL) != 0) {
		snprintf(err, errlen, "stun.listen %s: cannot watch the socket", as);
		return -1;
	}
	return 0;
}

int relay_stun_start(struct relay_server *s, char *err, size_t errlen)
{
	const struct relay_config *c = s->cfg;
	struct relay_stun *st;

	if (!c->n_stun)
		return 0;
	if (!(st = calloc(1, sizeof(*st)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->stun = st;
	st->s = s;
	crypto_shorthash_keygen(st->hash_key);
	st->total_tokens_milli = (uint64_t)c->stun_rate_total * 1000;
	st->total_last_ms = relay_now_ms();
	for (size_t i = 0; i < c->n_stun; i++) {
		st->socks[i].fd = -1;
		st->n = i + 1;
		if (open_sock(st, &st->socks[i], &c->stun_listen[i], err, errlen) != 0)
			return -1;
	}
	for (size_t i = 0; i < st->n; i++) {
		char as[MG_SOCKADDR_STRLEN];
		mg_sockaddr_format(&st->socks[i].addr, as, sizeof(as));
		mg_log(MG_LOG_NOTICE, "stun listening", "address", as, NULL);
	}
	return 0;
}

void relay_stun_stop(struct relay_server *s)
{
	struct relay_stun *st = s->stun;

	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		if (st->socks[i].ev)
			event_free(st->socks[i].ev);
		if (st->socks[i].fd >= 0)
			close(st->socks[i].fd);
	}
	free(st);
	s->stun = NULL;
}

void relay_stun_metrics(struct relay_server *s, struct evbuffer *b)
{
	const struct relay_stun *st = s->stun;

	if (!st)
		return;
	evbuffer_add_printf(
	    b,
	    "# HELP meshgate_relay_stun_datagrams_total UDP datagrams received on STUN sockets.\n"
	    "# TYPE meshgate_relay_stun_datagrams_total counter\n"
	    "meshgate_relay_stun_datagrams_total %llu\n"
	    "# HELP meshgate_relay_stun_responses_total STUN responses sent, by kind.\n"
	    "# TYPE meshgate_relay_stun_responses_total counter\n"
	    "meshgate_relay_stun_responses_total{kind=\"success\"} %llu\n"
	    "meshgate_relay_stun_responses_total{kind=\"error\"} %llu\n"
	    "# TYPE meshgate_relay_stun_bytes_in_total counter\n"
	    "meshgate_relay_stun_bytes_in_total %llu\n"
	    "# TYPE meshgate_relay_stun_bytes_out_total counter\n"
	    "meshgate_relay_stun_bytes_out_total %llu\n"
	    "# HELP meshgate_relay_stun_drops_total Datagrams not answered, by reason.\n"
	    "# TYPE meshgate_relay_stun_drops_total counter\n",
	    (unsigned long long)st->datagrams, (unsigned long long)st->success,
	    (unsigned long long)st->errors, (unsigned long long)st->bytes_in,
	    (unsigned long long)st->bytes_out);
	for (int i = 0; i < STUN_DROP_COUNT; i++)
		evbuffer_add_printf(b, "meshgate_relay_stun_drops_total{reason=\"%s\"} %llu\n",
		                    drop_names[i], (unsigned long long)st->drops[i]);
}
