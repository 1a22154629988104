// SPDX-License-Identifier: GPL-2.0-only
#include "base64.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

static bool is_digit64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

static long fail(struct mg_b64_status *st, enum mg_b64_error code, size_t pos, uint8_t *out,
                 size_t outmax)
{
	if (out && outmax)
		sodium_memzero(out, outmax);
	if (st) {
		st->code = code;
		st->position = pos;
	}
	return -1;
}

long mg_b64_decode(const char *text, size_t len, uint8_t *out, size_t outmax,
                   struct mg_b64_status *st)
{
	size_t digits = len, binlen = 0;
	const char *end = NULL;

	if (!text || len % 4 != 0)
		return fail(st, MG_B64_ERR_LENGTH, 0, out, outmax);
	while (digits > 0 && len - digits < 2 && text[digits - 1] == '=')
		digits--;
	for (size_t i = 0; i < digits; i++) {
		if (text[i] == '=')
			return fail(st, MG_B64_ERR_PADDING, i, out, outmax);
		if (!is_digit64(text[i]))
			return fail(st, MG_B64_ERR_CHARACTER, i, out, outmax);
	}
	if (len / 4 * 3 - (len - digits) > outmax) {
		/* The exact length for outmax bytes with digits where its '=' belong: say so. */
		size_t pad = (3 - outmax % 3) % 3;

		if (pad && len == 4 * ((outmax + 2) / 3))
			return fail(st, MG_B64_ERR_PADDING, len - pad, out, outmax);
		return fail(st, MG_B64_ERR_SPACE, 0, out, outmax);
	}
	/* Well-formed text that libsodium still refuses has spare bits set in its last digit. */
	if (sodium_base642bin(out, outmax, text, len, NULL, &binlen, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != text + len)
		return fail(st, MG_B64_ERR_NONCANONICAL, 0, out, outmax);
	if (st) {
		st->code = MG_B64_OK;
		st->position = 0;
	}
	return (long)binlen;
}

void mg_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, in, len, sodium_base64_VARIANT_ORIGINAL);
}

const char *mg_b64_error_format(const struct mg_b64_status *st, char *buf, size_t buflen)
{
	switch (st->code) {
	case MG_B64_OK:
		snprintf(buf, buflen, "valid base64");
		break;
	case MG_B64_ERR_LENGTH:
		snprintf(buf, buflen, "base64 length is not a multiple of 4");
		break;
	case MG_B64_ERR_CHARACTER:
		snprintf(buf, buflen, "invalid base64 character at position %zu", st->position);
		break;
	case MG_B64_ERR_PADDING:
		snprintf(buf, buflen, "invalid base64 padding at position %zu", st->position);
		break;
	case MG_B64_ERR_NONCANONICAL:
		snprintf(buf, buflen,
		         "non-canonical base64: unused bits of the last character are "
		         "not zero");
		break;
	case MG_B64_ERR_SPACE:
		snprintf(buf, buflen, "base64 text decodes to more bytes than expected");
		break;
	}
	return buf;
}
