/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WireGuard keys as stock `wg` handles them: clamped X25519 private keys, public keys derived
 * from them, and the 44-character padded base64 text of `wg genkey` / `wg pubkey`. Decoding is
 * as strict as wg's: exactly 44 characters, one trailing '=', canonical trailing bits.
 */
#ifndef MESHGATE_WG_KEYS_H
#define MESHGATE_WG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "constants.h"
#include "result.h"

/* Base64 text of a key, without and with the terminating NUL. */
#define WG_KEY_B64_LEN  44
#define WG_KEY_B64_SIZE (WG_KEY_B64_LEN + 1)

/* Room for any message wg_key_error_format writes (a path may be cut short to fit). */
#define WG_KEY_ERRBUF_SIZE 512

enum wg_key_error {
	WG_KEY_OK = 0,
	WG_KEY_ERR_LENGTH,        /* not 44 characters */
	WG_KEY_ERR_CHARACTER,     /* a character outside the base64 alphabet */
	WG_KEY_ERR_PADDING,       /* '=' missing at the end, or present before it */
	WG_KEY_ERR_NONCANONICAL,  /* the unused low bits of the last character are not zero */
	WG_KEY_ERR_FILE_OPEN,     /* the key file could not be opened (errno kept) */
	WG_KEY_ERR_FILE_READ,     /* reading failed (errno kept) */
	WG_KEY_ERR_FILE_EMPTY,    /* the file holds nothing but whitespace */
	WG_KEY_ERR_FILE_TOO_LONG, /* more than one key's worth of text */
	WG_KEY_ERR_INTERNAL,      /* the crypto library failed */
	WG_KEY_ERR_COUNT
};

/* Details of a failed (or, for loose_permissions, a successful) key operation. */
struct wg_key_status {
	enum wg_key_error code;
	size_t length;   /* WG_KEY_ERR_LENGTH: characters seen */
	size_t position; /* CHARACTER, PADDING: 0-based offset into the key text */
	int sys_errno;   /* FILE_OPEN, FILE_READ */
	/*
	 * The key file is accessible by group or others. The key is still accepted (stock wg
	 * accepts it too); the caller should warn.
	 */
	bool loose_permissions;
};

/* A fixed description of an error code ("invalid base64 character"). */
const char *wg_key_error_str(enum wg_key_error code);
/*
 * The full message, e.g. "key must be 44 base64 characters, got 43" or "invalid base64
 * character at position 7". path (may be NULL) names the file for file errors. Returns buf.
 */
char *wg_key_error_format(const struct wg_key_status *status, const char *path, char *buf,
                          size_t buflen);

/* 32 bytes from rand (NULL: wg_random_bytes), clamped: what `wg genkey` prints. */
void wg_key_generate_private(uint8_t priv[WG_KEY_LEN],
                             void (*rand)(void *ctx, void *buf, size_t len), void *rand_ctx);
/* The X25519 public key, as `wg pubkey` (the private key is clamped first, as wg does). */
enum wg_result wg_key_public(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN]);

/* Always 44 characters plus NUL. Constant time (libsodium). */
void wg_key_to_base64(char out[WG_KEY_B64_SIZE], const uint8_t key[WG_KEY_LEN]);
/*
 * Decodes exactly len characters (no whitespace allowed). status may be NULL. On failure key
 * is zeroed. Constant time for valid input; the diagnosis of invalid input is not.
 */
enum wg_key_error wg_key_from_base64(uint8_t key[WG_KEY_LEN], const char *text, size_t len,
                                     struct wg_key_status *status);
/*
 * Reads a key file such as wg's PrivateKey file: the base64 key with optional surrounding
 * whitespace. Check status->loose_permissions on success (status may be NULL, losing that
 * warning). The file contents are zeroed from memory after reading.
 */
enum wg_key_error wg_key_from_file(const char *path, uint8_t key[WG_KEY_LEN],
                                   struct wg_key_status *status);

/* All zero (constant time): an unset key. */
bool wg_key_is_zero(const uint8_t key[WG_KEY_LEN]);

#endif
