/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Strict padded standard base64 (RFC 4648 section 4), the one decoder every program uses for
 * keys, challenges and proofs. Text arrives from untrusted peers, so anything but the canonical
 * encoding of some bytes is refused: libsodium 1.0.18 alone would take every byte from 0x80 up
 * as a digit and ignore set spare bits, so two texts could name one key.
 */
#ifndef MESHGATE_BASE_BASE64_H
#define MESHGATE_BASE_BASE64_H

#include <stddef.h>
#include <stdint.h>

enum mg_b64_error {
	MG_B64_OK = 0,
	MG_B64_ERR_LENGTH,       /* not a multiple of 4, or not the length the caller wants */
	MG_B64_ERR_CHARACTER,    /* a character outside the alphabet (position set) */
	MG_B64_ERR_PADDING,      /* '=' before the last quad's end, or missing (position set) */
	MG_B64_ERR_NONCANONICAL, /* the spare bits of the last digit are not zero */
	MG_B64_ERR_SPACE,        /* the decoded bytes do not fit the output */
};

struct mg_b64_status {
	enum mg_b64_error code;
	size_t position; /* CHARACTER, PADDING: 0-based offset into the text */
};

/* Characters of the encoding of n bytes, terminating NUL included. */
#define MG_B64_ENCODED_SIZE(n) (4 * (((n) + 2) / 3) + 1)

/*
 * Decodes len characters of text into out (at most outmax bytes). Returns the number of bytes,
 * or -1 with st (may be NULL) saying why; out is zeroed on failure, as it may hold secrets.
 */
long mg_b64_decode(const char *text, size_t len, uint8_t *out, size_t outmax,
                   struct mg_b64_status *st);
/* Writes the NUL-terminated encoding; outlen must be at least MG_B64_ENCODED_SIZE(len). */
void mg_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
/* "invalid base64 character at position 7" and the like, for error messages. Returns buf. */
const char *mg_b64_error_format(const struct mg_b64_status *st, char *buf, size_t buflen);

#endif
