/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IPv4 and IPv6 addresses, prefixes and endpoints, and their text forms: one copy for every
 * program (config files, the UAPI, the coordinator protocol, the data plane's tables).
 */
#ifndef MESHGATE_BASE_ADDR_H
#define MESHGATE_BASE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Room for mg_prefix_format and mg_sockaddr_format output, NUL included. */
#define MG_PREFIX_STRLEN   (46 + 4)
#define MG_SOCKADDR_STRLEN (46 + 8)

/* An IPv4 or IPv6 prefix; also an address when len is the full width. */
struct mg_prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint8_t addr[16]; /* network byte order; IPv4 in the first 4 bytes */
};

struct mg_sockaddr {
	uint8_t family; /* 0 (unset), 4 or 6 */
	uint16_t port;  /* host byte order */
	uint8_t addr[16];
};

/* Equal addresses of family 4 or 6. Inline: it runs several times per packet, where a library
 * memcmp call costs more than the compare itself. */
static inline bool mg_addr_eq(uint8_t family, const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;
	uint32_t a4, b4;
	if (family == 4) {
		memcpy(&a4, a, 4);
		memcpy(&b4, b, 4);
		return a4 == b4;
	}
	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/*
 * Parsers shared with the UAPI and the coordinator client. Return 0 or -1.
 * mg_prefix_parse takes "192.0.2.1/24" or "2001:db8::/32" (inet_pton, decimal length) and keeps
 * the host bits; a bare address gets the full length. mg_sockaddr_parse takes numeric
 * "192.0.2.1:51820" or "[2001:db8::1]:51820" with a port 1..65535 (no hostnames, no zones).
 */
int mg_prefix_parse(const char *s, struct mg_prefix *out);
int mg_sockaddr_parse(const char *s, struct mg_sockaddr *out);
/* Clears the host bits (what wg does with allowed IPs such as 10.0.0.1/8). */
void mg_prefix_mask(struct mg_prefix *p);
/* True when addr (of family) lies inside prefix p (which must be of the same family). */
bool mg_prefix_has_addr(const struct mg_prefix *p, uint8_t family, const uint8_t *addr);
/* True when inner lies entirely within outer (same family, outer no longer, same leading bits). */
bool mg_prefix_contains(const struct mg_prefix *outer, const struct mg_prefix *inner);
/* True when the host bits are not all zero. */
bool mg_prefix_has_host_bits(const struct mg_prefix *p);
/*
 * mg_sockaddr_parse, falling back to resolving the host with getaddrinfo (first result), as wg
 * does for endpoints. Blocks on DNS: for configuration loading only. err gets the reason.
 */
int mg_sockaddr_resolve(const char *s, struct mg_sockaddr *out, char *err, size_t errlen);
/* "10.0.0.0/8", "fd00::/64"; buffers of MG_PREFIX_STRLEN / MG_SOCKADDR_STRLEN always fit. */
void mg_prefix_format(const struct mg_prefix *p, char *buf, size_t len);
/* "192.0.2.1:51820", "[2001:db8::1]:51820"; an unset address gives "(none)". */
void mg_sockaddr_format(const struct mg_sockaddr *a, char *buf, size_t len);

#endif
