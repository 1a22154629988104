// SPDX-License-Identifier: GPL-2.0-only
/* STUN Binding codec, blocking client and NAT mapping detection (stun.h). */
#include "stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>
#include <zlib.h>

#include "bytes.h"
#include "port_demux.h"

const char *mg_stun_result_str(enum mg_stun_result r)
{
	static const char *const n[MG_STUN_ERR_COUNT] = {"ok",
	                                                 "short",
	                                                 "not_stun",
	                                                 "bad_length",
	                                                 "bad_attribute",
	                                                 "bad_fingerprint",
	                                                 "not_binding_response",
	                                                 "wrong_transaction",
	                                                 "unknown_required",
	                                                 "no_address",
	                                                 "error_response",
	                                                 "too_long"};
	return (unsigned)r < MG_STUN_ERR_COUNT ? n[r] : "?";
}

uint32_t mg_stun_fingerprint(const uint8_t *buf, size_t len)
{
	/* CRC-32 is a checksum, not crypto: zlib's is the same polynomial as RFC 8489's. */
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)len) ^ MG_STUN_FINGERPRINT_XOR;
}

bool mg_stun_is_stun(const uint8_t *buf, size_t len)
{
	return mg_demux_is_stun(buf, len);
}

/*
 * An address attribute: reserved byte, family, port, address. xor: XOR-MAPPED-ADDRESS style,
 * with the cookie (and for IPv6 the transaction id) as the mask.
 */
static bool parse_address(const uint8_t *v, uint16_t vlen, const uint8_t *hdr, bool xor,
                          struct mg_sockaddr *out)
{
	uint8_t mask[16];
	size_t alen;

	if (vlen < 4)
		return false;
	if (v[1] == 0x01)
		alen = 4;
	else if (v[1] == 0x02)
		alen = 16;
	else
		return false;
	if (vlen != 4 + alen)
		return false;
	memcpy(mask, hdr + 4, 16); /* cookie || transaction id */
	memset(out, 0, sizeof(*out));
	out->family = alen == 4 ? 4 : 6;
	out->port = mg_get_be16(v + 2) ^ (xor? (uint16_t)(MG_STUN_MAGIC >> 16) : 0);
	for (size_t i = 0; i < alen; i++)
		out->addr[i] = v[4 + i] ^ (xor? mask[i] : 0);
	return true;
}

static bool known_attr(uint16_t t)
{
	switch (t) {
	case MG_STUN_ATTR_MAPPED_ADDRESS:
	case MG_STUN_ATTR_CHANGE_REQUEST:
	case MG_STUN_ATTR_USERNAME:
	case MG_STUN_ATTR_MESSAGE_INTEGRITY:
	case MG_STUN_ATTR_ERROR_CODE:
	case MG_STUN_ATTR_UNKNOWN_ATTRIBUTES:
	case MG_STUN_ATTR_REALM:
	case MG_STUN_ATTR_NONCE:
	case MG_STUN_ATTR_MI_SHA256:
	case MG_STUN_ATTR_USERHASH:
	case MG_STUN_ATTR_XOR_MAPPED_ADDRESS:
		return true;
	default:
		/* 0x8000..0xFFFF are comprehension-optional: ignoring them is always allowed. */
		return t >= 0x8000;
	}
}

static enum mg_stun_result parse_attr(const uint8_t *buf, uint16_t t, const uint8_t *v,
                                      uint16_t vlen, struct mg_stun_msg *m)
{
	switch (t) {
	case MG_STUN_ATTR_XOR_MAPPED_ADDRESS:
		if (!m->has_xor_mapped) {
			if (!parse_address(v, vlen, buf, true, &m->xor_mapped))
				return MG_STUN_ERR_ATTR;
			m->has_xor_mapped = true;
		}
		break;
	case MG_STUN_ATTR_MAPPED_ADDRESS:
		if (!m->has_mapped) {
			if (!parse_address(v, vlen, buf, false, &m->mapped))
				return MG_STUN_ERR_ATTR;
			m->has_mapped = true;
		}
		break;
	case MG_STUN_ATTR_RESPONSE_ORIGIN:
	case MG_STUN_ATTR_OTHER_ADDRESS: {
		/* Informational only: a malformed one is ignored, as any optional attribute. */
		bool origin = t == MG_STUN_ATTR_RESPONSE_ORIGIN;
		bool *has = origin ? &m->has_origin : &m->has_other;
		if (!*has)
			*has = parse_address(v, vlen, buf, false, origin ? &m->origin : &m->other);
		break;
	}
	case MG_STUN_ATTR_ERROR_CODE:
		/* reserved (21 bits), class (3 bits), number (8 bits), reason phrase */
		if (vlen < 4 || (v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
			return MG_STUN_ERR_ATTR;
		if (!m->error_code)
			m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
		break;
	case MG_STUN_ATTR_CHANGE_REQUEST:
		if (vlen != 4)
			return MG_STUN_ERR_ATTR;
		if (mg_get_be32(v) & 0x6)
			m->change_request = true;
		break;
	default:
		if (!known_attr(t) && !m->unknown_required)
			m->unknown_required = t;
		break;
	}
	return MG_STUN_OK;
}

enum mg_stun_result mg_stun_parse(const uint8_t *buf, size_t len, struct mg_stun_msg *m)
{
	size_t off = MG_STUN_HDR_LEN, end;

	memset(m, 0, sizeof(*m));
	if (len < MG_STUN_HDR_LEN)
		return MG_STUN_ERR_SHORT;
	if (len > MG_STUN_MAX_LEN)
		return MG_STUN_ERR_TOO_LONG;
	if ((buf[0] & 0xc0) != 0 || mg_get_be32(buf + 4) != MG_STUN_MAGIC)
		return MG_STUN_ERR_NOT_STUN;
	m->type = mg_get_be16(buf);
	m->length = mg_get_be16(buf + 2);
	memcpy(m->txid, buf + 8, MG_STUN_TXID_LEN);
	if (m->length & 3)
		return MG_STUN_ERR_LENGTH;
	if (MG_STUN_HDR_LEN + (size_t)m->length > len)
		return MG_STUN_ERR_SHORT;
	/* A datagram is one message: trailing bytes mean something is not what it claims. */
	if (MG_STUN_HDR_LEN + (size_t)m->length != len)
		return MG_STUN_ERR_LENGTH;
	end = len;
	while (off < end) {
		uint16_t t, vlen;
		size_t padded;

		if (end - off < 4)
			return MG_STUN_ERR_ATTR;
		t = mg_get_be16(buf + off);
		vlen = mg_get_be16(buf + off + 2);
		padded = ((size_t)vlen + 3) & ~(size_t)3;
		if (padded > end - off - 4)
			return MG_STUN_ERR_ATTR;
		m->n_attrs++;
		if (t == MG_STUN_ATTR_FINGERPRINT) {
			if (vlen != 4 || off + 8 != end)
				return MG_STUN_ERR_FINGERPRINT;
			/* The CRC covers the header with the length as sent (through the
			 * fingerprint), which is the datagram as received. */
			if (mg_get_be32(buf + off + 4) != mg_stun_fingerprint(buf, off))
				return MG_STUN_ERR_FINGERPRINT;
			m->has_fingerprint = true;
		} else {
			enum mg_stun_result r = parse_attr(buf, t, buf + off + 4, vlen, m);
			if (r != MG_STUN_OK)
				return r;
		}
		off += 4 + padded;
	}
	return MG_STUN_OK;
}

enum mg_stun_result mg_stun_parse_response(const uint8_t *buf, size_t len,
                                           const uint8_t txid[MG_STUN_TXID_LEN],
                                           struct mg_stun_msg *m, struct mg_sockaddr *mapped)
{
	enum mg_stun_result r = mg_stun_parse(buf, len, m);

	if (r != MG_STUN_OK)
		return r;
	if (m->type != MG_STUN_BINDING_SUCCESS && m->type != MG_STUN_BINDING_ERROR)
		return MG_STUN_ERR_TYPE;
	/* A constant-time compare is not needed: the id is a nonce against blind spoofing, and
	 * an on-path attacker sees it anyway. */
	if (txid && memcmp(txid, m->txid, MG_STUN_TXID_LEN) != 0)
		return MG_STUN_ERR_TXID;
	if (m->type == MG_STUN_BINDING_ERROR)
		return MG_STUN_ERR_ERROR_RESPONSE;
	if (m->unknown_required)
		return MG_STUN_ERR_UNKNOWN_REQUIRED;
	if (m->has_xor_mapped)
		*mapped = m->xor_mapped;
	else if (m->has_mapped)
		*mapped = m->mapped;
	else
		return MG_STUN_ERR_NO_ADDRESS;
	if (mapped->port == 0)
		return MG_STUN_ERR_NO_ADDRESS;
	return MG_STUN_OK;
}

size_t mg_stun_build_request(uint8_t *out, size_t cap, uint8_t txid[MG_STUN_TXID_LEN])
{
	if (cap < MG_STUN_REQUEST_LEN)
		return 0;
	mg_put_be16(out, MG_STUN_BINDING_REQUEST);
	mg_put_be16(out + 2, 8);
	mg_put_be32(out + 4, MG_STUN_MAGIC);
	randombytes_buf(out + 8, MG_STUN_TXID_LEN);
	memcpy(txid, out + 8, MG_STUN_TXID_LEN);
	mg_put_be16(out + 20, MG_STUN_ATTR_FINGERPRINT);
	mg_put_be16(out + 22, 4);
	mg_put_be32(out + 24, mg_stun_fingerprint(out, 20));
	return MG_STUN_REQUEST_LEN;
}

/* ---- the blocking client ---- */

socklen_t mg_sockaddr_to_ss(const struct mg_sockaddr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == 4) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(a->port);
		memcpy(&s->sin_addr, a->addr, 4);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(a->port);
	memcpy(&s6->sin6_addr, a->addr, 16);
	return sizeof(*s6);
}

void mg_sockaddr_from_ss(const struct sockaddr_storage *ss, struct mg_sockaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		a->family = 4;
		a->port = ntohs(s->sin_port);
		memcpy(a->addr, &s->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(&s6->sin6_addr, v4mapped, 12) == 0) {
			a->family = 4;
			memcpy(a->addr, (const uint8_t *)&s6->sin6_addr + 12, 4);
		} else {
			a->family = 6;
			memcpy(a->addr, &s6->sin6_addr, 16);
		}
		a->port = ntohs(s6->sin6_port);
	}
}

static bool same_endpoint(const struct mg_sockaddr *a, const struct mg_sockaddr *b)
{
	return a->family == b->family && a->port == b->port && a->family &&
	       mg_addr_eq(a->family, a->addr, b->addr);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mg_stun_query(int fd, const struct mg_sockaddr *server, struct mg_stun_query *q, char *err,
                  size_t errlen)
{
	uint8_t req[MG_STUN_REQUEST_LEN], txid[MG_STUN_TXID_LEN], buf[MG_STUN_MAX_LEN + 1];
	struct sockaddr_storage dst;
	socklen_t dlen = mg_sockaddr_to_ss(server, &dst);
	int timeout = q->timeout_ms > 0 ? q->timeout_ms : 3000;
	int64_t start = now_ms(), deadline = start + timeout, next_tx = start, last_tx = start;
	int rto = 250;
	char dummy[1];

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	q->sent = q->refused = 0;
	q->why = MG_STUN_OK;
	q->rtt_ms = -1;
	/* One transaction id for every retransmission (RFC 8489 §6.2.1). */
	mg_stun_build_request(req, sizeof(req), txid);
	for (;;) {
		int64_t now = now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int wait, n;

		if (now >= deadline) {
			snprintf(err, errlen, "no STUN answer within %d ms (%u sent%s%s)", timeout,
			         q->sent, q->refused ? ", last refused: " : "",
			         q->refused ? mg_stun_result_str(q->why) : "");
			return -1;
		}
		if (now >= next_tx) {
			if (sendto(fd, req, sizeof(req), 0, (struct sockaddr *)&dst, dlen) < 0 &&
			    errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
				snprintf(err, errlen, "sendto: %s", strerror(errno));
				return -1;
			}
			q->sent++;
			last_tx = now;
			next_tx = now + rto;
			rto = rto < 4000 ? rto * 2 : rto;
		}
		wait = (int)((next_tx < deadline ? next_tx : deadline) - now);
		n = poll(&pfd, 1, wait > 0 ? wait : 0);
		if (n < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (n <= 0)
			continue;
		for (;;) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			struct mg_sockaddr src;
			enum mg_stun_result r;
			ssize_t got = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			                       (struct sockaddr *)&from, &flen);

			if (got < 0)
				break;
			mg_sockaddr_from_ss(&from, &src);
			if (!same_endpoint(&src, server) || !mg_stun_is_stun(buf, (size_t)got)) {
				if (q->other)
					q->other(q->other_arg, buf, (size_t)got, &src);
				continue;
			}
			r = mg_stun_parse_response(buf, (size_t)got, txid, &q->msg, &q->mapped);
			if (r == MG_STUN_OK) {
				/* From the last transmission: a late answer to an earlier one
				 * overstates nothing worse than one RTO. */
				q->rtt_ms = (int)(now_ms() - last_tx);
				return 0;
			}
			if (r == MG_STUN_ERR_TXID) {
				if (q->other)
					q->other(q->other_arg, buf, (size_t)got, &src);
				continue;
			}
			q->refused++;
			q->why = r;
			if (r == MG_STUN_ERR_ERROR_RESPONSE) {
				snprintf(err, errlen, "STUN error response %u", q->msg.error_code);
				return -1;
			}
		}
	}
}

const char *mg_nat_mapping_str(enum mg_nat_mapping m)
{
	static const char *const n[] = {"unknown", "none", "endpoint_independent",
	                                "endpoint_dependent"};
	return (unsigned)m < sizeof(n) / sizeof(n[0]) ? n[m] : "?";
}

int mg_nat_detect(int fd, const struct mg_sockaddr servers[2], int timeout_ms,
                  struct mg_nat_report *out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char e[200], sa[MG_SOCKADDR_STRLEN];
	bool wildcard = true;

	memset(out, 0, sizeof(*out));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		mg_sockaddr_from_ss(&ss, &out->local);
	for (size_t i = 0; i < 16; i++)
		if (out->local.addr[i])
			wildcard = false;
	for (int i = 0; i < 2; i++) {
		struct mg_stun_query q = {.timeout_ms = timeout_ms};
		if (mg_stun_query(fd, &servers[i], &q, e, sizeof(e)) != 0) {
			mg_sockaddr_format(&servers[i], sa, sizeof(sa));
			if (err && errlen)
				snprintf(err, errlen, "STUN server %s: %s", sa, e);
			out->mapping = MG_NAT_UNKNOWN;
			return -1;
		}
		out->mapped[i] = q.mapped;
		out->answered[i] = true;
		out->rtt_ms[i] = q.rtt_ms;
	}
	if (!same_endpoint(&out->mapped[0], &out->mapped[1]))
		out->mapping = MG_NAT_ENDPOINT_DEPENDENT;
	else if (!wildcard && same_endpoint(&out->mapped[0], &out->local))
		out->mapping = MG_NAT_NONE;
	else
		out->mapping = MG_NAT_ENDPOINT_INDEPENDENT;
	out->hard = out->mapping == MG_NAT_ENDPOINT_DEPENDENT;
	return 0;
}
