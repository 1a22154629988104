// SPDX-License-Identifier: GPL-2.0-only
#include "cookie.h"

#include <endian.h>
#include <string.h>

#include "crypto.h"

#define LABEL_MAC1   "mac1----"
#define LABEL_COOKIE "cookie--"
#define LABEL_LEN    8

/* mac1 covers the message up to itself, mac2 the message up to itself (mac1 included). */
#define MAC1_OFFSET(len) ((len) - sizeof(struct wg_msg_macs))
#define MAC2_OFFSET(len) ((len)-WG_COOKIE_LEN)

static const char *const state_names[] = {
    [WG_COOKIE_MAC_INVALID] = "invalid mac1",
    [WG_COOKIE_MAC_VALID] = "valid mac1",
    [WG_COOKIE_MAC_VALID_WITH_COOKIE] = "valid mac1 and mac2",
    [WG_COOKIE_NEEDS_COOKIE] = "valid mac1, mac2 missing or stale",
};

const char *wg_cookie_mac_state_str(enum wg_cookie_mac_state state)
{
	if ((unsigned)state >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown mac state";
	return state_names[state];
}

/* True for a handshake initiation or response of exactly its size. */
static bool is_handshake(const void *msg, size_t len)
{
	uint32_t type;

	if (!msg)
		return false;
	if (len == sizeof(struct wg_msg_initiation))
		type = WG_MSG_HANDSHAKE_INITIATION;
	else if (len == sizeof(struct wg_msg_response))
		type = WG_MSG_HANDSHAKE_RESPONSE;
	else
		return false;
	return ((const struct wg_msg_header *)msg)->type == htole32(type);
}

/* sender_index sits at the same offset in both handshake messages. */
static uint32_t sender_index(const void *msg)
{
	return ((const struct wg_msg_initiation *)msg)->sender_index;
}

static bool has_expired(uint64_t birth_ns, uint64_t now_ns, uint64_t max_age_s)
{
	/* A clock seen going backwards is treated as expiry: the safe direction. */
	return now_ns < birth_ns || now_ns - birth_ns > max_age_s * WG_NSEC_PER_SEC;
}

static enum wg_result derive_keys(uint8_t mac1_key[WG_HASH_LEN], uint8_t cookie_key[WG_KEY_LEN],
                                  const uint8_t public_key[WG_KEY_LEN])
{
	enum wg_result ret;

	ret = wg_blake2s_2(mac1_key, LABEL_MAC1, LABEL_LEN, public_key, WG_KEY_LEN);
	if (ret == WG_OK)
		ret = wg_blake2s_2(cookie_key, LABEL_COOKIE, LABEL_LEN, public_key, WG_KEY_LEN);
	return ret;
}

static void default_rand(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	wg_random_bytes(buf, len);
}

/* ---- checker ---- */

enum wg_result wg_cookie_checker_init(struct wg_cookie_checker *c,
                                      const uint8_t local_public[WG_KEY_LEN],
                                      void (*rand)(void *ctx, void *buf, size_t len),
                                      void *rand_ctx)
{
	enum wg_result ret;

	if (!c || !local_public)
		return WG_ERR_INVALID;
	wg_memzero(c, sizeof(*c));
	c->rand = rand ? rand : default_rand;
	c->rand_ctx = rand ? rand_ctx : NULL;
	ret = derive_keys(c->mac1_key, c->cookie_key, local_public);
	if (ret != WG_OK)
		wg_cookie_checker_clear(c);
	return ret;
}

void wg_cookie_checker_clear(struct wg_cookie_checker *c)
{
	if (c)
		wg_memzero(c, sizeof(*c));
}

/* The cookie for src: MAC(secret, address || port), the secret renewed once it is too old. */
static enum wg_result make_cookie(struct wg_cookie_checker *c, uint8_t cookie[WG_COOKIE_LEN],
                                  const struct wg_endpoint *src, uint64_t now_ns)
{
	uint8_t input[16 + 2];
	size_t addrlen;
	uint16_t port_be;
	enum wg_result ret;

	if (!src || (src->family != 4 && src->family != 6))
		return WG_ERR_INVALID;
	addrlen = src->family == 4 ? 4 : 16;
	if (!c->secret_set || has_expired(c->secret_birth_ns, now_ns, WG_COOKIE_SECRET_MAX_AGE_S)) {
		/* A cleared checker has no RNG; fall back rather than call NULL. */
		(c->rand ? c->rand : default_rand)(c->rand_ctx, c->secret, sizeof(c->secret));
		c->secret_birth_ns = now_ns;
		c->secret_set = true;
	}
	memcpy(input, src->addr, addrlen);
	/* Port in network order, as it is on the wire (and as the Linux module hashes it). */
	port_be = htobe16(src->port);
	memcpy(input + addrlen, &port_be, sizeof(port_be));
	ret = wg_blake2s_keyed(cookie, WG_COOKIE_LEN, c->secret, sizeof(c->secret), input,
	                       addrlen + sizeof(port_be));
	wg_memzero(input, sizeof(input));
	return ret;
}

enum wg_cookie_mac_state wg_cookie_validate(struct wg_cookie_checker *c, const void *msg,
                                            size_t len, const struct wg_endpoint *src,
                                            bool under_load, uint64_t now_ns)
{
	enum wg_cookie_mac_state state = WG_COOKIE_MAC_INVALID;
	const uint8_t *bytes = msg;
	uint8_t computed[WG_COOKIE_LEN], cookie[WG_COOKIE_LEN];

	if (!c || !is_handshake(msg, len))
		goto out;
	if (wg_blake2s_keyed(computed, WG_COOKIE_LEN, c->mac1_key, sizeof(c->mac1_key), bytes,
	                     MAC1_OFFSET(len)) != WG_OK)
		goto out;
	if (!wg_memeq(computed, bytes + MAC1_OFFSET(len), WG_COOKIE_LEN))
		goto out;
	if (!under_load) {
		state = WG_COOKIE_MAC_VALID;
		goto out;
	}
	if (make_cookie(c, cookie, src, now_ns) != WG_OK)
		goto out;
	if (wg_blake2s_keyed(computed, WG_COOKIE_LEN, cookie, sizeof(cookie), bytes,
	                     MAC2_OFFSET(len)) != WG_OK)
		goto out;
	state = wg_memeq(computed, bytes + MAC2_OFFSET(len), WG_COOKIE_LEN)
	            ? WG_COOKIE_MAC_VALID_WITH_COOKIE
	            : WG_COOKIE_NEEDS_COOKIE;
out:
	wg_memzero(computed, sizeof(computed));
	wg_memzero(cookie, sizeof(cookie));
	return state;
}

/* A random nonce for a cookie reply, from a pool the random source fills WG_COOKIE_NONCE_POOL at
 * a time: with libsodium's source each fill is one getrandom(2), and one per reply was a fifth of
 * the control lcore's time answering a flood of initiations with cookie replies. The nonces stay
 * random (the protocol's 24 random bytes); each is used once. */
static void take_nonce(struct wg_cookie_checker *c, uint8_t nonce[WG_XNONCE_LEN])
{
	if (c->nonces_left == 0) {
		(c->rand ? c->rand : default_rand)(c->rand_ctx, c->nonces, sizeof(c->nonces));
		c->nonces_left = WG_COOKIE_NONCE_POOL;
	}
	c->nonces_left--;
	memcpy(nonce, c->nonces[c->nonces_left], WG_XNONCE_LEN);
	wg_memzero(c->nonces[c->nonces_left], WG_XNONCE_LEN);
}

enum wg_result wg_cookie_reply_create(struct wg_cookie_checker *c, struct wg_msg_cookie *reply,
                                      const void *msg, size_t len, const struct wg_endpoint *src,
                                      uint64_t now_ns)
{
	const uint8_t *bytes = msg;
	uint8_t cookie[WG_COOKIE_LEN];
	enum wg_result ret;

	if (!c || !reply || !is_handshake(msg, len))
		return WG_ERR_INVALID;
	ret = make_cookie(c, cookie, src, now_ns);
	if (ret != WG_OK)
		goto out;
	memset(reply, 0, sizeof(*reply));
	reply->header.type = htole32(WG_MSG_HANDSHAKE_COOKIE);
	reply->receiver_index = sender_index(msg);
	take_nonce(c, reply->nonce);
	ret =
	    wg_xaead_seal(reply->encrypted_cookie, cookie, sizeof(cookie), bytes + MAC1_OFFSET(len),
	                  WG_COOKIE_LEN, reply->nonce, sizeof(reply->nonce), c->cookie_key);
out:
	wg_memzero(cookie, sizeof(cookie));
	if (ret != WG_OK && reply)
		wg_memzero(reply, sizeof(*reply));
	return ret;
}

/* ---- maker ---- */

enum wg_result wg_cookie_maker_init(struct wg_cookie_maker *m,
                                    const uint8_t remote_public[WG_KEY_LEN])
{
	enum wg_result ret;

	if (!m || !remote_public)
		return WG_ERR_INVALID;
	wg_memzero(m, sizeof(*m));
	ret = derive_keys(m->mac1_key, m->cookie_key, remote_public);
	if (ret != WG_OK)
		wg_cookie_maker_clear(m);
	return ret;
}

void wg_cookie_maker_clear(struct wg_cookie_maker *m)
{
	if (m)
		wg_memzero(m, sizeof(*m));
}

enum wg_result wg_cookie_add_macs(struct wg_cookie_maker *m, void *msg, size_t len, uint64_t now_ns)
{
	uint8_t *bytes = msg;
	enum wg_result ret;

	if (!m || !is_handshake(msg, len))
		return WG_ERR_INVALID;
	ret = wg_blake2s_keyed(bytes + MAC1_OFFSET(len), WG_COOKIE_LEN, m->mac1_key,
	                       sizeof(m->mac1_key), bytes, MAC1_OFFSET(len));
	if (ret != WG_OK)
		return ret;
	memcpy(m->last_mac1, bytes + MAC1_OFFSET(len), WG_COOKIE_LEN);
	m->last_sender_index = sender_index(msg);
	m->mac1_outstanding = true;

	if (m->cookie_set && !has_expired(m->cookie_birth_ns, now_ns,
	                                  WG_COOKIE_SECRET_MAX_AGE_S - WG_COOKIE_SECRET_LATENCY_S))
		return wg_blake2s_keyed(bytes + MAC2_OFFSET(len), WG_COOKIE_LEN, m->cookie,
		                        sizeof(m->cookie), bytes, MAC2_OFFSET(len));
	memset(bytes + MAC2_OFFSET(len), 0, WG_COOKIE_LEN);
	return WG_OK;
}

enum wg_result wg_cookie_consume_reply(struct wg_cookie_maker *m, const void *reply, size_t len,
                                       uint64_t now_ns)
{
	const struct wg_msg_cookie *msg = reply;
	uint8_t cookie[WG_COOKIE_LEN];
	enum wg_result ret;

	if (!m || !reply || len != sizeof(struct wg_msg_cookie) ||
	    msg->header.type != htole32(WG_MSG_HANDSHAKE_COOKIE))
		return WG_ERR_INVALID;
	if (!m->mac1_outstanding)
		return WG_ERR_STATE;
	if (msg->receiver_index != m->last_sender_index)
		return WG_ERR_UNKNOWN_PEER;
	ret = wg_xaead_open(cookie, msg->encrypted_cookie, sizeof(msg->encrypted_cookie),
	                    m->last_mac1, sizeof(m->last_mac1), msg->nonce, sizeof(msg->nonce),
	                    m->cookie_key);
	if (ret != WG_OK)
		goto out;
	memcpy(m->cookie, cookie, sizeof(cookie));
	m->cookie_birth_ns = now_ns;
	m->cookie_set = true;
	m->mac1_outstanding = false;
out:
	wg_memzero(cookie, sizeof(cookie));
	return ret;
}
