// SPDX-License-Identifier: GPL-2.0-only
/*
 * OpenSSL 3 and libsodium behind the wg_* wrappers. Algorithms are fetched once.
 *
 * BLAKE2s, keyed BLAKE2s and HMAC-BLAKE2s run on per-thread contexts that are made once and
 * reused: in the KDF (eight calls a handshake) building the contexts afresh (allocations,
 * the digest chosen by name, parameter lookups) cost more than the hashing itself. Secret
 * hygiene on reuse:
 *  - a MAC context is never left holding a caller's key: when a call succeeds, the context
 *    is re-keyed with a fixed public key (park_key). EVP_MAC_init with a key replaces the
 *    whole key state (HMAC: the inner and outer pad states and the provider's copy of the key;
 *    BLAKE2s MAC: the key copy and the chaining state), so nothing derived from the caller's
 *    key survives. That costs about 0.25 us a call, a price worth paying to keep a handshake's
 *    chaining keys out of an idle control thread;
 *  - the digest context holds no data between calls: BLAKE2s's final step wipes its state;
 *  - a context whose call failed is freed (OpenSSL cleanses on free) and made afresh next time;
 *  - a thread's contexts are freed when it exits, through a pthread key destructor. exit()
 *    runs no such destructor, so the main thread's are never freed: they hold only park_key.
 * The ChaCha20-Poly1305 context stays per call: its key schedule and keystream buffer would
 * outlive the call, and it costs under a microsecond.
 */
#include "crypto.h"

#include <endian.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#define CHACHA_IV_LEN WG_NONCE_LEN

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static enum wg_result init_result = WG_ERR_CRYPTO;

static EVP_MD *md_blake2s;
static EVP_MAC *mac_blake2s;
static EVP_MAC *mac_hmac;
static EVP_CIPHER *cipher_chacha;
/* HMAC context with the digest already chosen and no key: duplicating it skips a name lookup. */
static EVP_MAC_CTX *hmac_template;
static pthread_key_t thread_key;

/* Public and constant: what an idle MAC context is keyed with. */
static const uint8_t park_key[WG_KEY_LEN];

/* One thread's reusable contexts, each made on first use. */
struct thread_ctxs {
	EVP_MD_CTX *hash;
	EVP_MAC_CTX *hmac;
	EVP_MAC_CTX *mac; /* keyed BLAKE2s */
	size_t mac_size;  /* output size mac is set up for; 0 before the first call */
};

static void thread_ctxs_free(void *p)
{
	struct thread_ctxs *t = p;

	if (!t)
		return;
	EVP_MD_CTX_free(t->hash);
	EVP_MAC_CTX_free(t->hmac);
	EVP_MAC_CTX_free(t->mac);
	free(t);
}

static bool hmac_choose_digest(EVP_MAC_CTX *ctx)
{
	char digest_name[] = "BLAKE2S-256";
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
	    OSSL_PARAM_END,
	};

	return ctx && EVP_MAC_CTX_set_params(ctx, params) == 1;
}

static void crypto_init_once(void)
{
	if (sodium_init() < 0)
		return;
	if (pthread_key_create(&thread_key, thread_ctxs_free) != 0)
		return;
	md_blake2s = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	mac_blake2s = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_BLAKE2SMAC, NULL);
	mac_hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	cipher_chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (!md_blake2s || !mac_blake2s || !mac_hmac || !cipher_chacha)
		goto fail;
	hmac_template = EVP_MAC_CTX_new(mac_hmac);
	if (!hmac_choose_digest(hmac_template))
		goto fail;
	init_result = WG_OK;
	return;
fail:
	EVP_MAC_CTX_free(hmac_template);
	EVP_MD_free(md_blake2s);
	EVP_MAC_free(mac_blake2s);
	EVP_MAC_free(mac_hmac);
	EVP_CIPHER_free(cipher_chacha);
	hmac_template = NULL;
	md_blake2s = NULL;
	mac_blake2s = NULL;
	mac_hmac = NULL;
	cipher_chacha = NULL;
	ERR_clear_error();
}

enum wg_result wg_crypto_init(void)
{
	if (pthread_once(&init_once, crypto_init_once) != 0)
		return WG_ERR_CRYPTO;
	return init_result;
}

#define ENSURE_INIT()                          \
	do {                                   \
		if (wg_crypto_init() != WG_OK) \
			return WG_ERR_CRYPTO;  \
	} while (0)

/* The calling thread's contexts (wg_crypto_init must have succeeded); NULL when out of memory. */
static struct thread_ctxs *thread_ctxs(void)
{
	struct thread_ctxs *t = pthread_getspecific(thread_key);

	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (t && pthread_setspecific(thread_key, t) != 0) {
		free(t);
		t = NULL;
	}
	return t;
}

void wg_memzero(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

bool wg_memeq(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool wg_is_zero(const void *p, size_t len)
{
	return sodium_is_zero(p, len) == 1;
}

void wg_random_bytes(void *buf, size_t len)
{
	/* randombytes_buf works before sodium_init; init only picks the implementation. */
	(void)wg_crypto_init();
	randombytes_buf(buf, len);
}

/* ---- BLAKE2s ---- */

static enum wg_result blake2s_parts(uint8_t out[WG_HASH_LEN], const void *a, size_t alen,
                                    const void *b, size_t blen)
{
	enum wg_result ret = WG_ERR_CRYPTO;
	unsigned int outlen = 0;
	struct thread_ctxs *t;
	EVP_MD_CTX *ctx;

	ENSURE_INIT();
	t = thread_ctxs();
	if (t && !t->hash)
		t->hash = EVP_MD_CTX_new();
	if (!t || !t->hash) {
		ret = WG_ERR_NOMEM;
		goto out;
	}
	ctx = t->hash;
	if (EVP_DigestInit_ex2(ctx, md_blake2s, NULL) != 1)
		goto out;
	if (alen && EVP_DigestUpdate(ctx, a, alen) != 1)
		goto out;
	if (blen && EVP_DigestUpdate(ctx, b, blen) != 1)
		goto out;
	if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != WG_HASH_LEN)
		goto out;
	ret = WG_OK;
out:
	if (ret != WG_OK) {
		/* A failed context may still hold input: free it (cleansed), a new one comes next.
		 */
		if (t) {
			EVP_MD_CTX_free(t->hash);
			t->hash = NULL;
		}
		wg_memzero(out, WG_HASH_LEN);
		ERR_clear_error();
	}
	return ret;
}

/*
 * OpenSSL 3.0 fixes the unkeyed digest at 32 bytes (the digest length is part of BLAKE2's
 * parameter block, so a shorter output is not a truncation and cannot be produced from it).
 */
enum wg_result wg_blake2s(uint8_t *out, size_t outlen, const void *in, size_t inlen)
{
	if (!out || outlen != WG_HASH_LEN || (!in && inlen))
		return WG_ERR_INVALID;
	return blake2s_parts(out, in, inlen, NULL, 0);
}

enum wg_result wg_blake2s_2(uint8_t out[WG_HASH_LEN], const void *a, size_t alen, const void *b,
                            size_t blen)
{
	if (!out || (!a && alen) || (!b && blen))
		return WG_ERR_INVALID;
	return blake2s_parts(out, a, alen, b, blen);
}

/*
 * Ends a call on a reused MAC context: re-keyed with park_key, which replaces every trace of
 * the caller's key, or freed (cleansed) when that fails or the call itself failed.
 */
static void mac_park(EVP_MAC_CTX **ctx, bool call_ok)
{
	if (!*ctx)
		return;
	if (call_ok && EVP_MAC_init(*ctx, park_key, sizeof(park_key), NULL) == 1)
		return;
	EVP_MAC_CTX_free(*ctx);
	*ctx = NULL;
}

enum wg_result wg_blake2s_keyed(uint8_t *out, size_t outlen, const void *key, size_t keylen,
                                const void *in, size_t inlen)
{
	enum wg_result ret = WG_ERR_CRYPTO;
	size_t size = outlen, produced = 0;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
	    OSSL_PARAM_END,
	};
	struct thread_ctxs *t;
	EVP_MAC_CTX *ctx;

	if (!out || outlen < 1 || outlen > WG_HASH_LEN || !key || keylen < 1 ||
	    keylen > WG_KEY_LEN || (!in && inlen))
		return WG_ERR_INVALID;
	ENSURE_INIT();
	t = thread_ctxs();
	if (t && !t->mac) {
		t->mac = EVP_MAC_CTX_new(mac_blake2s);
		t->mac_size = 0;
	}
	if (!t || !t->mac) {
		ret = WG_ERR_NOMEM;
		goto out;
	}
	ctx = t->mac;
	/* The output size is a parameter looked up by name: set it only when it changes. */
	if (EVP_MAC_init(ctx, key, keylen, t->mac_size == outlen ? NULL : params) != 1)
		goto out;
	t->mac_size = outlen;
	if (inlen && EVP_MAC_update(ctx, in, inlen) != 1)
		goto out;
	if (EVP_MAC_final(ctx, out, &produced, outlen) != 1 || produced != outlen)
		goto out;
	ret = WG_OK;
out:
	if (t)
		mac_park(&t->mac, ret == WG_OK);
	if (ret != WG_OK) {
		wg_memzero(out, outlen);
		ERR_clear_error();
	}
	return ret;
}

/* ---- HMAC-BLAKE2s and the KDF ---- */

/* The thread's HMAC context, keyed with key and ready for a first hmac_run. */
static EVP_MAC_CTX *hmac_keyed(struct thread_ctxs *t, const void *key, size_t keylen)
{
	if (!t->hmac) {
		t->hmac = EVP_MAC_CTX_dup(hmac_template);
		/* Older 3.0 releases cannot copy a context that has no key yet: set the digest. */
		if (!t->hmac) {
			ERR_clear_error();
			t->hmac = EVP_MAC_CTX_new(mac_hmac);
			if (t->hmac && !hmac_choose_digest(t->hmac)) {
				EVP_MAC_CTX_free(t->hmac);
				t->hmac = NULL;
			}
		}
	}
	/* OpenSSL refuses a NULL key pointer even with length 0. */
	if (t->hmac && EVP_MAC_init(t->hmac, keylen ? key : park_key, keylen, NULL) != 1)
		return NULL;
	return t->hmac;
}

/*
 * One HMAC over up to two parts with a keyed context. rearm re-initialises it with the key
 * already set (a NULL key: the pads are not recomputed), needed after a previous hmac_run;
 * keying it leaves it armed already.
 */
static bool hmac_run(EVP_MAC_CTX *ctx, bool rearm, uint8_t out[WG_HASH_LEN], const void *a,
                     size_t alen, const void *b, size_t blen)
{
	size_t produced = 0;

	if (rearm && EVP_MAC_init(ctx, NULL, 0, NULL) != 1)
		return false;
	if (alen && EVP_MAC_update(ctx, a, alen) != 1)
		return false;
	if (blen && EVP_MAC_update(ctx, b, blen) != 1)
		return false;
	return EVP_MAC_final(ctx, out, &produced, WG_HASH_LEN) == 1 && produced == WG_HASH_LEN;
}

enum wg_result wg_hmac_blake2s(uint8_t out[WG_HASH_LEN], const void *key, size_t keylen,
                               const void *in, size_t inlen)
{
	enum wg_result ret = WG_ERR_CRYPTO;
	uint8_t result[WG_HASH_LEN];
	struct thread_ctxs *t;
	EVP_MAC_CTX *ctx;

	if (!out || (!key && keylen) || (!in && inlen))
		return WG_ERR_INVALID;
	ENSURE_INIT();
	t = thread_ctxs();
	if (!t) {
		ret = WG_ERR_NOMEM;
		goto out;
	}
	ctx = hmac_keyed(t, key, keylen);
	if (!ctx || !hmac_run(ctx, false, result, in, inlen, NULL, 0))
		goto out;
	memcpy(out, result, WG_HASH_LEN);
	ret = WG_OK;
out:
	if (t)
		mac_park(&t->hmac, ret == WG_OK);
	wg_memzero(result, sizeof(result));
	if (ret != WG_OK)
		ERR_clear_error();
	return ret;
}

enum wg_result wg_kdf(uint8_t t1[WG_HASH_LEN], uint8_t t2[WG_HASH_LEN], uint8_t t3[WG_HASH_LEN],
                      const uint8_t ck[WG_HASH_LEN], const void *data, size_t datalen)
{
	enum wg_result ret = WG_ERR_CRYPTO;
	uint8_t prk[WG_HASH_LEN], out1[WG_HASH_LEN], out2[WG_HASH_LEN], out3[WG_HASH_LEN];
	uint8_t counter;
	struct thread_ctxs *t;
	EVP_MAC_CTX *ctx;

	if (!t1 || !ck || (!data && datalen) || (t3 && !t2))
		return WG_ERR_INVALID;
	ENSURE_INIT();
	t = thread_ctxs();
	if (!t) {
		ret = WG_ERR_NOMEM;
		goto out;
	}
	/* One context: keyed with ck to extract, then with the PRK to expand. */
	ctx = hmac_keyed(t, ck, WG_HASH_LEN);
	if (!ctx || !hmac_run(ctx, false, prk, data, datalen, NULL, 0))
		goto out;
	if (!hmac_keyed(t, prk, sizeof(prk)))
		goto out;
	counter = 1;
	if (!hmac_run(ctx, false, out1, &counter, 1, NULL, 0))
		goto out;
	if (t2) {
		counter = 2;
		if (!hmac_run(ctx, true, out2, out1, sizeof(out1), &counter, 1))
			goto out;
	}
	if (t3) {
		counter = 3;
		if (!hmac_run(ctx, true, out3, out2, sizeof(out2), &counter, 1))
			goto out;
	}
	/* Written only now: an output may alias ck, which the extract step still needed. */
	memcpy(t1, out1, WG_HASH_LEN);
	if (t2)
		memcpy(t2, out2, WG_HASH_LEN);
	if (t3)
		memcpy(t3, out3, WG_HASH_LEN);
	ret = WG_OK;
out:
	if (t)
		mac_park(&t->hmac, ret == WG_OK);
	wg_memzero(prk, sizeof(prk));
	wg_memzero(out1, sizeof(out1));
	wg_memzero(out2, sizeof(out2));
	wg_memzero(out3, sizeof(out3));
	if (ret != WG_OK)
		ERR_clear_error();
	return ret;
}

/* ---- X25519 ---- */

void wg_x25519_clamp(uint8_t key[WG_KEY_LEN])
{
	key[0] &= 248;
	key[31] &= 127;
	key[31] |= 64;
}

/*
 * libsodium rather than OpenSSL: loading a raw X25519 private key into OpenSSL recomputes its
 * public key, which doubles the cost of every DH (about 100 us against 48 us measured here).
 */
enum wg_result wg_x25519_public(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN])
{
	if (!pub || !priv)
		return WG_ERR_INVALID;
	ENSURE_INIT();
	if (crypto_scalarmult_base(pub, priv) != 0) {
		wg_memzero(pub, WG_KEY_LEN);
		return WG_ERR_CRYPTO;
	}
	return WG_OK;
}

enum wg_result wg_x25519(uint8_t out[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN],
                         const uint8_t pub[WG_KEY_LEN])
{
	enum wg_result ret = WG_ERR_LOW_ORDER;
	uint8_t shared[WG_KEY_LEN];

	if (!out || !priv || !pub)
		return WG_ERR_INVALID;
	ENSURE_INIT();
	/* libsodium fails only on an all-zero result; the second check keeps that refusal ours. */
	if (crypto_scalarmult(shared, priv, pub) != 0 || wg_is_zero(shared, sizeof(shared)))
		goto out;
	memcpy(out, shared, WG_KEY_LEN);
	ret = WG_OK;
out:
	wg_memzero(shared, sizeof(shared));
	if (ret != WG_OK)
		wg_memzero(out, WG_KEY_LEN);
	return ret;
}

/* ---- ChaCha20-Poly1305 (OpenSSL) ---- */

/*
 * Encrypts (tag written to tag) or decrypts (tag checked against tag) len bytes. On any
 * failure of a decryption dst is zeroed, so unauthenticated plaintext never escapes.
 */
static enum wg_result chacha_crypt(bool encrypt, uint8_t *dst, const uint8_t *src, size_t len,
                                   const uint8_t *ad, size_t adlen, const uint8_t iv[CHACHA_IV_LEN],
                                   const uint8_t key[WG_KEY_LEN], uint8_t tag[WG_AEAD_TAG_LEN])
{
	enum wg_result ret = WG_ERR_CRYPTO;
	/* A stream AEAD finishes without output; the scratch also avoids dst + 0 with dst NULL. */
	uint8_t final_out[WG_AEAD_TAG_LEN];
	EVP_CIPHER_CTX *ctx;
	int n = 0;

	ENSURE_INIT();
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		ret = WG_ERR_NOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex2(ctx, cipher_chacha, key, iv, encrypt ? 1 : 0, NULL) != 1)
		goto out;
	if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, WG_AEAD_TAG_LEN, tag) != 1)
		goto out;
	if (adlen && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)adlen) != 1)
		goto out;
	if (len && (EVP_CipherUpdate(ctx, dst, &n, src, (int)len) != 1 || (size_t)n != len))
		goto out;
	if (EVP_CipherFinal_ex(ctx, final_out, &n) != 1) {
		/* On decryption the only input-dependent failure is the tag. */
		if (!encrypt)
			ret = WG_ERR_AUTH;
		goto out;
	}
	if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, WG_AEAD_TAG_LEN, tag) != 1)
		goto out;
	ret = WG_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (ret != WG_OK) {
		if (len)
			wg_memzero(dst, len);
		ERR_clear_error();
	}
	return ret;
}

static bool aead_args_ok(const uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
                         size_t adlen, const uint8_t *key)
{
	return key && (dst || !len) && (src || !len) && (ad || !adlen) && len <= INT_MAX - 64 &&
	       adlen <= INT_MAX;
}

enum wg_result wg_chacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len,
                                        const uint8_t *ad, size_t adlen, const uint8_t *iv,
                                        size_t ivlen, const uint8_t key[WG_KEY_LEN])
{
	if (!dst || !iv || ivlen != CHACHA_IV_LEN || !aead_args_ok(dst, src, len, ad, adlen, key))
		return WG_ERR_INVALID;
	return chacha_crypt(true, dst, src, len, ad, adlen, iv, key, dst + len);
}

enum wg_result wg_chacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t len_with_tag,
                                        const uint8_t *ad, size_t adlen, const uint8_t *iv,
                                        size_t ivlen, const uint8_t key[WG_KEY_LEN])
{
	uint8_t tag[WG_AEAD_TAG_LEN];
	size_t len;

	if (len_with_tag < WG_AEAD_TAG_LEN || !src)
		return WG_ERR_INVALID;
	len = len_with_tag - WG_AEAD_TAG_LEN;
	if (!iv || ivlen != CHACHA_IV_LEN || !aead_args_ok(dst, src, len, ad, adlen, key)) {
		if (dst && len)
			wg_memzero(dst, len);
		return WG_ERR_INVALID;
	}
	memcpy(tag, src + len, WG_AEAD_TAG_LEN);
	return chacha_crypt(false, dst, src, len, ad, adlen, iv, key, tag);
}

enum wg_result wg_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
                            size_t adlen, uint64_t counter, const uint8_t key[WG_KEY_LEN])
{
	uint8_t iv[CHACHA_IV_LEN];

	wg_aead_nonce(iv, counter);
	return wg_chacha20poly1305_seal(dst, src, len, ad, adlen, iv, sizeof(iv), key);
}

enum wg_result wg_aead_open(uint8_t *dst, const uint8_t *src, size_t len_with_tag,
                            const uint8_t *ad, size_t adlen, uint64_t counter,
                            const uint8_t key[WG_KEY_LEN])
{
	uint8_t iv[CHACHA_IV_LEN];

	wg_aead_nonce(iv, counter);
	return wg_chacha20poly1305_open(dst, src, len_with_tag, ad, adlen, iv, sizeof(iv), key);
}

/* ---- XChaCha20-Poly1305 (libsodium) ---- */

enum wg_result wg_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
                             size_t adlen, const uint8_t *iv, size_t ivlen,
                             const uint8_t key[WG_KEY_LEN])
{
	unsigned long long clen = 0;

	if (!dst || !iv || ivlen != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES || !key ||
	    (!src && len) || (!ad && adlen) ||
	    len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX)
		return WG_ERR_INVALID;
	ENSURE_INIT();
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(dst, &clen, src, len, ad, adlen, NULL, iv,
	                                               key) != 0 ||
	    clen != len + WG_AEAD_TAG_LEN) {
		wg_memzero(dst, len + WG_AEAD_TAG_LEN);
		return WG_ERR_CRYPTO;
	}
	return WG_OK;
}

enum wg_result wg_xaead_open(uint8_t *dst, const uint8_t *src, size_t len_with_tag,
                             const uint8_t *ad, size_t adlen, const uint8_t *iv, size_t ivlen,
                             const uint8_t key[WG_KEY_LEN])
{
	unsigned long long mlen = 0;
	size_t len;

	if (len_with_tag < WG_AEAD_TAG_LEN || !src)
		return WG_ERR_INVALID;
	len = len_with_tag - WG_AEAD_TAG_LEN;
	if ((!dst && len) || !iv || ivlen != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES || !key ||
	    (!ad && adlen)) {
		if (dst && len)
			wg_memzero(dst, len);
		return WG_ERR_INVALID;
	}
	ENSURE_INIT();
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &mlen, NULL, src, len_with_tag, ad,
	                                               adlen, iv, key) != 0 ||
	    mlen != len) {
		if (len)
			wg_memzero(dst, len);
		return WG_ERR_AUTH;
	}
	return WG_OK;
}
