/* SPDX-License-Identifier: GPL-2.0-only */
/* Small helpers shared by the coordinator: keys, tokens, time, addresses. */
#ifndef MESHGATE_COORD_UTIL_H
#define MESHGATE_COORD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define COORD_HASH_LEN     32
#define TOKEN_PREFIX_LEN   12 /* hex characters that name a token in listings and lookups */
#define TOKEN_MAX_LEN      96
#define TOKEN_HASH_HEX_LEN 64

/*
 * Standard padded base64 of arbitrary length; returns decoded length or -1. WireGuard keys do
 * not come through here: they go through wg_key_from_base64 / wg_key_to_base64 (wg/keys.h).
 */
long b64_decode(const char *s, uint8_t *out, size_t outmax);
/* Writes NUL-terminated base64 of len bytes; out needs 4*((len+2)/3)+1 bytes. */
void b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen);

void hex_encode(const uint8_t *in, size_t len, char *out);

/*
 * Bearer tokens look like "mg<kind>_<12 hex prefix>_<43 base64url secret>". The prefix is the
 * lookup key (stored in clear, shown in listings); only BLAKE2b-256 of the whole token is stored.
 * token_new fills token, its prefix and the hex hash. Returns false on a bad kind or short buffer.
 */
bool token_new(const char *kind, char token[TOKEN_MAX_LEN], char prefix[TOKEN_PREFIX_LEN + 1],
               char hash_hex[TOKEN_HASH_HEX_LEN + 1]);
/* Checks the shape for kind and gives prefix and hex hash; false when it is not such a token. */
bool token_parse(const char *token, const char *kind, char prefix[TOKEN_PREFIX_LEN + 1],
                 char hash_hex[TOKEN_HASH_HEX_LEN + 1]);
/* Constant-time compare of two hex hashes of TOKEN_HASH_HEX_LEN characters. */
bool hash_hex_equal(const char *a, const char *b);

int64_t now_unix(void);
double now_mono(void);
/* "90d", "12h", "30m", "45s" or a plain number of seconds; -1 when malformed. */
int64_t parse_duration(const char *s);

/*
 * Parses "a.b.c.d/n" or "x::y/n" (the length is required) into the canonical form, host bits
 * cleared. Host bits must be zero unless allow_host_bits. err says what is wrong.
 */
bool prefix_parse(const char *s, struct mg_prefix *p, bool allow_host_bits, char *err,
                  size_t errlen);
/* Validates "ipv4:port" or "[ipv6]:port". */
bool endpoint_valid(const char *s);
/* The one spelling of a valid endpoint ("2001:db8::1", no leading zeros in the port). */
bool endpoint_canonical(const char *s, char *out, size_t outlen);
/* Lower-case DNS label: [a-z0-9-]{1,63}, no leading or trailing '-'. */
bool dns_label_valid(const char *s);
/* Turns a free-form hostname into a DNS label (at most 63 characters, never empty). */
void dns_label_sanitize(const char *in, char out[64]);

#endif
