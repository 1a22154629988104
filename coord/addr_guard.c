// SPDX-License-Identifier: GPL-2.0-only
/*
 * Address checks for what nodes report. An endpoint a node reports is handed to every peer that
 * may see it, so a node could otherwise aim its peers' WireGuard traffic at their own loopback
 * services or at a multicast group. Peers still verify a path with disco before trusting it; this
 * only refuses addresses that are never a valid path between two hosts.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addr_guard.h"

static bool v4_bad(const uint8_t a[4], char *why, size_t whylen)
{
	const char *w = NULL;
	uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	if (x == 0)
		w = "unspecified";
	else if (a[0] == 0)
		w = "in 0.0.0.0/8 (this network)";
	else if (a[0] == 127)
		w = "loopback";
	else if (a[0] == 169 && a[1] == 254)
		w = "link-local";
	else if (a[0] >= 224 && a[0] <= 239)
		w = "multicast";
	else if (x == 0xffffffffu)
		w = "broadcast";
	if (w != NULL)
		snprintf(why, whylen, "a %s address", w);
	return w != NULL;
}

bool endpoint_routable(const char *s, char *why, size_t whylen)
{
	char host[64];
	uint8_t a[16];
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		size_t n = close ? (size_t)(close - s - 1) : sizeof(host);
		if (n >= sizeof(host))
			return false;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, a) != 1)
			return false;
		static const uint8_t zero[16],
		    mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		const char *w = NULL;
		if (memcmp(a, zero, 16) == 0)
			w = "unspecified";
		else if (memcmp(a, zero, 15) == 0 && a[15] == 1)
			w = "loopback";
		else if (a[0] == 0xff)
			w = "multicast";
		else if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
			w = "link-local";
		if (w != NULL) {
			snprintf(why, whylen, "a %s address", w);
			return false;
		}
		/* ::ffff:127.0.0.1 reaches the same socket as 127.0.0.1 on a dual-stack host. */
		return !(memcmp(a, mapped, 12) == 0 && v4_bad(a + 12, why, whylen));
	}
	const char *colon = strrchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : sizeof(host);
	if (n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, a) != 1)
		return false;
	return !v4_bad(a, why, whylen);
}

bool prefix_overlaps(const struct mg_prefix *a, const struct mg_prefix *b)
{
	return mg_prefix_contains(a, b) || mg_prefix_contains(b, a);
}

bool route_hits_overlay(const struct mg_prefix *route, const struct mg_prefix *v4,
                        const struct mg_prefix *v6)
{
	return route->len != 0 && (prefix_overlaps(route, v4) || prefix_overlaps(route, v6));
}
