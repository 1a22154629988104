/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Thin wrappers over OpenSSL 3 libcrypto and libsodium: the only primitives the protocol core
 * uses. Nothing here is a hand-written primitive. Every function that can fail returns an
 * enum wg_result; none logs key material.
 */
#ifndef MESHGATE_WG_CRYPTO_H
#define MESHGATE_WG_CRYPTO_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "constants.h"
#include "result.h"

/* A transport message's ChaCha20-Poly1305 nonce: four zero bytes, then the counter
 * little-endian. Inline for the data plane's batched seal and open, which build one per message:
 * written byte by byte, GCC 12 left a loop there (a quarter of run_slice's samples at 64 B). */
static inline void wg_aead_nonce(uint8_t nonce[WG_NONCE_LEN], uint64_t counter)
{
	const uint32_t zero = 0;
	const uint64_t le = htole64(counter);

	memcpy(nonce, &zero, sizeof(zero));
	memcpy(nonce + sizeof(zero), &le, sizeof(le));
}

/* Fetches and caches the OpenSSL algorithms and initialises libsodium. Idempotent, thread-safe. */
enum wg_result wg_crypto_init(void);

void wg_memzero(void *p, size_t len);
/* Constant time; true when equal. */
bool wg_memeq(const void *a, const void *b, size_t len);
/* Constant time; true when all len bytes are zero. */
bool wg_is_zero(const void *p, size_t len);

/* Unkeyed BLAKE2s-256; outlen must be 32 (OpenSSL 3.0 offers no shorter unkeyed digest). */
enum wg_result wg_blake2s(uint8_t *out, size_t outlen, const void *in, size_t inlen);
/* HASH(a || b) without a temporary copy. */
enum wg_result wg_blake2s_2(uint8_t out[WG_HASH_LEN], const void *a, size_t alen, const void *b,
                            size_t blen);
/* Keyed BLAKE2s (the MAC of the paper): key 1..32 bytes, outlen 1..32 bytes. */
enum wg_result wg_blake2s_keyed(uint8_t *out, size_t outlen, const void *key, size_t keylen,
                                const void *in, size_t inlen);
/* HMAC with BLAKE2s-256. */
enum wg_result wg_hmac_blake2s(uint8_t out[WG_HASH_LEN], const void *key, size_t keylen,
                               const void *in, size_t inlen);
/*
 * The paper's KDF_n: T0 = HMAC(ck, data), T1 = HMAC(T0, 0x1), Ti = HMAC(T0, T(i-1) || i).
 * Outputs that are NULL are not produced; t1 must not be NULL. Outputs may alias ck.
 */
enum wg_result wg_kdf(uint8_t t1[WG_HASH_LEN], uint8_t t2[WG_HASH_LEN], uint8_t t3[WG_HASH_LEN],
                      const uint8_t ck[WG_HASH_LEN], const void *data, size_t datalen);

/* Clamps 32 random bytes into an X25519 private key. */
void wg_x25519_clamp(uint8_t key[WG_KEY_LEN]);
enum wg_result wg_x25519_public(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN]);
/* WG_ERR_LOW_ORDER when the shared secret is all zero (low-order or degenerate public key). */
enum wg_result wg_x25519(uint8_t out[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN],
                         const uint8_t pub[WG_KEY_LEN]);

/*
 * ChaCha20-Poly1305 (RFC 8439) through OpenSSL: the reference path. dst receives len bytes of
 * ciphertext then the 16-byte tag; src and dst may be equal. The open call takes the
 * ciphertext length including the tag and returns WG_ERR_AUTH on a bad tag (dst is then zeroed).
 */
enum wg_result wg_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
                            size_t adlen, uint64_t counter, const uint8_t key[WG_KEY_LEN]);
enum wg_result wg_aead_open(uint8_t *dst, const uint8_t *src, size_t len_with_tag,
                            const uint8_t *ad, size_t adlen, uint64_t counter,
                            const uint8_t key[WG_KEY_LEN]);
/* The same with an explicit nonce: ivlen must be 12 (WG_ERR_INVALID otherwise). For vectors. */
enum wg_result wg_chacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len,
                                        const uint8_t *ad, size_t adlen, const uint8_t *iv,
                                        size_t ivlen, const uint8_t key[WG_KEY_LEN]);
enum wg_result wg_chacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t len_with_tag,
                                        const uint8_t *ad, size_t adlen, const uint8_t *iv,
                                        size_t ivlen, const uint8_t key[WG_KEY_LEN]);

/* XChaCha20-Poly1305 through libsodium (cookie replies). Same conventions; ivlen must be 24. */
enum wg_result wg_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
                             size_t adlen, const uint8_t *iv, size_t ivlen,
                             const uint8_t key[WG_KEY_LEN]);
enum wg_result wg_xaead_open(uint8_t *dst, const uint8_t *src, size_t len_with_tag,
                             const uint8_t *ad, size_t adlen, const uint8_t *iv, size_t ivlen,
                             const uint8_t key[WG_KEY_LEN]);

/* Cryptographically secure random bytes (libsodium); the default RNG for the upcalls. */
void wg_random_bytes(void *buf, size_t len);

#endif
