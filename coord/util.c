// SPDX-License-Identifier: GPL-2.0-only
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "base64.h"
#include "crypto.h"

long b64_decode(const char *s, uint8_t *out, size_t outmax)
{
	return mg_b64_decode(s, strlen(s), out, outmax, NULL);
}

void b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	mg_b64_encode(in, len, out, outlen);
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static void token_hash(const char *token, char hash_hex[TOKEN_HASH_HEX_LEN + 1])
{
	uint8_t h[COORD_HASH_LEN];
	crypto_generichash(h, sizeof(h), (const uint8_t *)token, strlen(token), NULL, 0);
	hex_encode(h, sizeof(h), hash_hex);
}

static bool kind_valid(const char *kind)
{
	size_t n = strlen(kind);
	if (n == 0 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)kind[i]))
			return false;
	return true;
}

bool token_new(const char *kind, char token[TOKEN_MAX_LEN], char prefix[TOKEN_PREFIX_LEN + 1],
               char hash_hex[TOKEN_HASH_HEX_LEN + 1])
{
	if (!kind_valid(kind))
		return false;
	uint8_t rnd[TOKEN_PREFIX_LEN / 2 + 32];
	wg_random_bytes(rnd, sizeof(rnd));
	hex_encode(rnd, TOKEN_PREFIX_LEN / 2, prefix);
	char secret[64];
	sodium_bin2base64(secret, sizeof(secret), rnd + TOKEN_PREFIX_LEN / 2, 32,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(token, TOKEN_MAX_LEN, "mg%s_%s_%s", kind, prefix, secret);
	token_hash(token, hash_hex);
	wg_memzero(rnd, sizeof(rnd));
	wg_memzero(secret, sizeof(secret));
	return true;
}

bool token_parse(const char *token, const char *kind, char prefix[TOKEN_PREFIX_LEN + 1],
                 char hash_hex[TOKEN_HASH_HEX_LEN + 1])
{
	if (token == NULL || !kind_valid(kind))
		return false;
	size_t klen = strlen(kind), tlen = strlen(token);
	/* "mg" kind "_" prefix "_" 43 secret characters. */
	if (tlen != 2 + klen + 1 + TOKEN_PREFIX_LEN + 1 + 43)
		return false;
	if (strncmp(token, "mg", 2) != 0 || strncmp(token + 2, kind, klen) != 0 ||
	    token[2 + klen] != '_' || token[2 + klen + 1 + TOKEN_PREFIX_LEN] != '_')
		return false;
	const char *p = token + 2 + klen + 1;
	for (int i = 0; i < TOKEN_PREFIX_LEN; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			return false;
	const char *s = p + TOKEN_PREFIX_LEN + 1;
	for (int i = 0; i < 43; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	memcpy(prefix, p, TOKEN_PREFIX_LEN);
	prefix[TOKEN_PREFIX_LEN] = '\0';
	token_hash(token, hash_hex);
	return true;
}

bool hash_hex_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL || strlen(a) != TOKEN_HASH_HEX_LEN ||
	    strlen(b) != TOKEN_HASH_HEX_LEN)
		return false;
	return wg_memeq(a, b, TOKEN_HASH_HEX_LEN);
}

int64_t now_unix(void)
{
	return (int64_t)time(NULL);
}

double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t parse_duration(const char *s)
{
	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || v < 0 || v > 100LL * 365 * 86400)
		return -1;
	long long mult = 1;
	if (*end == 'd')
		mult = 86400;
	else if (*end == 'h')
		mult = 3600;
	else if (*end == 'm')
		mult = 60;
	else if (*end == 's')
		mult = 1;
	else if (*end != '\0')
		return -1;
	if (*end != '\0' && end[1] != '\0')
		return -1;
	return (int64_t)(v * mult);
}

bool prefix_parse(const char *s, struct mg_prefix *p, bool allow_host_bits, char *err,
                  size_t errlen)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	struct mg_prefix addr;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(buf)) {
		snprintf(err, errlen, "'%.64s' is not a prefix (expected address/length)", s);
		return false;
	}
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (mg_prefix_parse(buf, &addr) != 0) {
		snprintf(err, errlen, "'%.64s': '%s' is not an IPv4 or IPv6 address", s, buf);
		return false;
	}
	if (mg_prefix_parse(s, p) != 0) {
		snprintf(err, errlen, "'%.64s': prefix length must be 0..%d", s,
		         addr.family == 4 ? 32 : 128);
		return false;
	}
	if (mg_prefix_has_host_bits(p) && !allow_host_bits) {
		snprintf(err, errlen, "'%.64s' has host bits set", s);
		return false;
	}
	mg_prefix_mask(p);
	return true;
}

bool endpoint_valid(const char *s)
{
	char host[64];
	const char *colon;
	uint8_t a[16];
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return false;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (inet_pton(AF_INET6, host, a) != 1)
			return false;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return false;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (inet_pton(AF_INET, host, a) != 1)
			return false;
	}
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	return colon[1] != '\0' && *end == '\0' && errno == 0 && port > 0 && port < 65536;
}

bool endpoint_canonical(const char *s, char *out, size_t outlen)
{
	if (!endpoint_valid(s))
		return false;
	/* endpoint_valid has checked every piece; this only spells them one way. */
	const char *colon = s[0] == '[' ? strchr(s, ']') + 1 : strrchr(s, ':');
	char host[64], txt[INET6_ADDRSTRLEN];
	uint8_t a[16];
	bool v6 = s[0] == '[';
	size_t hl = v6 ? (size_t)(colon - s - 2) : (size_t)(colon - s);
	memcpy(host, v6 ? s + 1 : s, hl);
	host[hl] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, a) != 1 ||
	    inet_ntop(v6 ? AF_INET6 : AF_INET, a, txt, sizeof(txt)) == NULL)
		return false;
	int n = snprintf(out, outlen, v6 ? "[%s]:%ld" : "%s:%ld", txt, strtol(colon + 1, NULL, 10));
	return n > 0 && (size_t)n < outlen;
}

bool dns_label_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

void dns_label_sanitize(const char *in, char out[64])
{
	size_t o = 0;
	for (size_t i = 0; in != NULL && in[i] != '\0' && o < 63; i++) {
		unsigned char c = (unsigned char)in[i];
		if (isalnum(c))
			out[o++] = (char)tolower(c);
		else if ((c == '-' || c == '.' || c == '_' || c == ' ') && o > 0 &&
		         out[o - 1] != '-')
			out[o++] = '-';
	}
	while (o > 0 && out[o - 1] == '-')
		o--;
	if (o == 0) {
		memcpy(out, "node", 4);
		o = 4;
	}
	out[o] = '\0';
}
