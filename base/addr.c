// SPDX-License-Identifier: GPL-2.0-only
/*
 * Text forms of prefixes and endpoints, shared by the config loader, the UAPI and the
 * coordinator client. Parsing is strict (inet_pton, decimal lengths and ports with no sign or
 * spaces) because the same text arrives from untrusted UAPI clients.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Parses 1..max_digits decimal digits into a value no larger than max. */
static int parse_decimal(const char *s, size_t max_digits, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= max_digits)
			return -1;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	if (n == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* inet_pton for either family: an address with a ':' is IPv6. */
static int parse_addr(const char *s, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (strchr(s, ':')) {
		*family = 6;
		return inet_pton(AF_INET6, s, addr) == 1 ? 0 : -1;
	}
	*family = 4;
	return inet_pton(AF_INET, s, addr) == 1 ? 0 : -1;
}

int mg_prefix_parse(const char *s, struct mg_prefix *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash;
	unsigned long len;
	size_t alen;
	struct mg_prefix p;

	if (!s || !out)
		return -1;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	memset(&p, 0, sizeof(p));
	if (parse_addr(addr, &p.family, p.addr) != 0)
		return -1;
	len = p.family == 4 ? 32 : 128;
	if (slash && parse_decimal(slash + 1, 3, len, &len) != 0)
		return -1;
	p.len = (uint8_t)len;
	*out = p;
	return 0;
}

void mg_prefix_mask(struct mg_prefix *p)
{
	unsigned width = p->family == 4 ? 4 : 16;

	for (unsigned i = 0; i < width; i++) {
		unsigned keep = p->len >= (i + 1) * 8 ? 8 : (p->len > i * 8 ? p->len - i * 8 : 0);

		p->addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	if (width == 4)
		memset(p->addr + 4, 0, 12);
}

bool mg_prefix_has_host_bits(const struct mg_prefix *p)
{
	struct mg_prefix masked = *p;

	mg_prefix_mask(&masked);
	return memcmp(masked.addr, p->addr, sizeof(p->addr)) != 0;
}

/* Splits "host:port" or "[v6]:port" in place; the host loses its brackets. */
static int split_endpoint(char *s, char **host, char **port)
{
	char *colon;

	if (s[0] == '[') {
		char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		*close = '\0';
		*host = s + 1;
		*port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		*colon = '\0';
		*host = s;
		*port = colon + 1;
		/* An unbracketed IPv6 address would split at its last group. */
		if (strchr(*host, ':'))
			return -1;
	}
	return **host ? 0 : -1;
}

static int parse_port(const char *s, uint16_t *out)
{
	unsigned long v;

	if (parse_decimal(s, 5, 65535, &v) != 0 || v == 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Copies s into buf for in-place splitting; -1 when it does not fit. */
static int copy_endpoint(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s);

	if (n >= len)
		return -1;
	memcpy(buf, s, n + 1);
	return 0;
}

int mg_sockaddr_parse(const char *s, struct mg_sockaddr *out)
{
	char buf[INET6_ADDRSTRLEN + 16], *host, *port;
	struct mg_sockaddr a;

	if (!s || !out || copy_endpoint(s, buf, sizeof(buf)) != 0 ||
	    split_endpoint(buf, &host, &port) != 0)
		return -1;
	memset(&a, 0, sizeof(a));
	if (parse_addr(host, &a.family, a.addr) != 0 || parse_port(port, &a.port) != 0)
		return -1;
	/* "[192.0.2.1]:1" is not a form anyone writes; keep one spelling per family. */
	if ((s[0] == '[') != (a.family == 6))
		return -1;
	*out = a;
	return 0;
}

int mg_sockaddr_resolve(const char *s, struct mg_sockaddr *out, char *err, size_t errlen)
{
	char buf[1024], *host, *port;
	struct addrinfo hints, *res = NULL;
	struct mg_sockaddr a;
	int rc;

	if (mg_sockaddr_parse(s, out) == 0)
		return 0;
	if (copy_endpoint(s, buf, sizeof(buf)) != 0 || split_endpoint(buf, &host, &port) != 0) {
		snprintf(err, errlen, "expected HOST:PORT or [IPv6]:PORT");
		return -1;
	}
	memset(&a, 0, sizeof(a));
	if (parse_port(port, &a.port) != 0) {
		snprintf(err, errlen, "expected a port 1..65535 after the ':'");
		return -1;
	}
	if (parse_addr(host, &a.family, a.addr) == 0 || strchr(host, ':')) {
		snprintf(err, errlen, "invalid address '%s'", host);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	/* A transient failure is retried a few times, as wg does at startup. */
	for (int attempt = 0; attempt < 3; attempt++) {
		rc = getaddrinfo(host, NULL, &hints, &res);
		if (rc != EAI_AGAIN)
			break;
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	if (res->ai_family == AF_INET) {
		a.family = 4;
		memcpy(a.addr, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, 4);
	} else if (res->ai_family == AF_INET6) {
		a.family = 6;
		memcpy(a.addr, &((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr, 16);
	} else {
		freeaddrinfo(res);
		snprintf(err, errlen, "'%s' resolved to neither IPv4 nor IPv6", host);
		return -1;
	}
	freeaddrinfo(res);
	*out = a;
	return 0;
}

void mg_prefix_format(const struct mg_prefix *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if ((p->family != 4 && p->family != 6) ||
	    !inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, addr, sizeof(addr))) {
		snprintf(buf, len, "(invalid)");
		return;
	}
	snprintf(buf, len, "%s/%u", addr, p->len);
}

void mg_sockaddr_format(const struct mg_sockaddr *a, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (a->family != 4 && a->family != 6) {
		snprintf(buf, len, "(none)");
		return;
	}
	inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, addr, sizeof(addr));
	if (a->family == 6)
		snprintf(buf, len, "[%s]:%u", addr, a->port);
	else
		snprintf(buf, len, "%s:%u", addr, a->port);
}

bool mg_prefix_has_addr(const struct mg_prefix *p, uint8_t family, const uint8_t *addr)
{
	unsigned bits = p->len, width = (family == 4 ? 4u : family == 6 ? 16u : 0u) * 8;
	if (p->family != family || bits > width)
		return false;
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(p->addr, addr, whole) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((p->addr[whole] & mask) != (addr[whole] & mask))
			return false;
	}
	return true;
}

bool mg_prefix_contains(const struct mg_prefix *outer, const struct mg_prefix *inner)
{
	return inner->len >= outer->len && mg_prefix_has_addr(outer, inner->family, inner->addr);
}
