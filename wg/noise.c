// SPDX-License-Identifier: GPL-2.0-only
/*
 * WireGuard's handshake (paper section 5.4) as Noise_IKpsk2, built on the token sequences of
 * noise_symmetric.c: the local identity, the remotes and their handshake state, the WireGuard
 * messages, and the keypairs a handshake produces with the slots workers read them from.
 *
 * WireGuard's prologue is its identifier string; its message 1 payload is a TAI64N timestamp and
 * its message 2 payload is empty.
 */
#include "noise.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "index_table.h"
#include "keypair_use.h"
#include "noise_symmetric.h"
#include "tai64n.h"

/* The WireGuard prologue, then "<- s". */
static enum wg_result wg_begin(struct wg_noise_symmetric *s,
                               const uint8_t responder_static[WG_KEY_LEN])
{
	return wg_ik_begin(s, (const uint8_t *)WG_NOISE_IDENTIFIER, sizeof(WG_NOISE_IDENTIFIER) - 1,
	                   responder_static);
}

/* ---- upcall defaults ---- */

static void default_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	wg_random_bytes(buf, len);
}

static uint64_t default_now(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void default_tai64n(void *ctx, uint8_t out[WG_TIMESTAMP_LEN])
{
	(void)ctx;
	wg_tai64n_now(out);
}

static void new_ephemeral(struct wg_noise_local *local, uint8_t e_priv[WG_KEY_LEN])
{
	local->upcalls.random(local->upcalls.ctx, e_priv, WG_KEY_LEN);
	wg_x25519_clamp(e_priv);
}

/* ---- local ---- */

enum wg_result wg_noise_local_init(struct wg_noise_local *local, struct wg_index_table *table,
                                   const struct wg_noise_upcalls *upcalls)
{
	memset(local, 0, sizeof(*local));
	if (!table)
		return WG_ERR_INVALID;
	local->index_table = table;
	if (upcalls)
		local->upcalls = *upcalls;
	if (!local->upcalls.random)
		local->upcalls.random = default_random;
	if (!local->upcalls.now)
		local->upcalls.now = default_now;
	if (!local->upcalls.tai64n)
		local->upcalls.tai64n = default_tai64n;
	return wg_crypto_init();
}

enum wg_result wg_noise_local_set_private(struct wg_noise_local *local,
                                          const uint8_t priv[WG_KEY_LEN])
{
	uint8_t clamped[WG_KEY_LEN], pub[WG_KEY_LEN];
	enum wg_result r = WG_OK;

	if (!priv) {
		wg_memzero(local->static_private, WG_KEY_LEN);
		memset(local->static_public, 0, WG_KEY_LEN);
		local->has_identity = false;
		local->key_generation++;
		goto out;
	}
	/* Stored clamped, as the kernel does, so what is shown back is what is used. */
	memcpy(clamped, priv, WG_KEY_LEN);
	wg_x25519_clamp(clamped);
	r = wg_x25519_public(pub, clamped);
	if (r != WG_OK)
		goto out;
	memcpy(local->static_private, clamped, WG_KEY_LEN);
	memcpy(local->static_public, pub, WG_KEY_LEN);
	local->has_identity = true;
	local->key_generation++;
out:
	wg_memzero(clamped, sizeof(clamped));
	return r;
}

void wg_noise_local_destroy(struct wg_noise_local *local)
{
	wg_memzero(local, sizeof(*local));
}

/* ---- keypair slots ---- */

static struct wg_noise_keypair *slot_load(struct wg_noise_keypair *_Atomic const *slot)
{
	return atomic_load_explicit((struct wg_noise_keypair * _Atomic *)slot,
	                            memory_order_acquire);
}

static void slot_store(struct wg_noise_keypair *_Atomic *slot, struct wg_noise_keypair *kp)
{
	atomic_store_explicit(slot, kp, memory_order_release);
}

static void current_changed(struct wg_noise_remote *remote)
{
	const struct wg_noise_upcalls *up = remote->local ? &remote->local->upcalls : NULL;
	if (up && up->current_changed)
		up->current_changed(up->ctx, remote);
}

/* Takes kp out of service: no new lookup finds it; readers holding it finish first. */
static void keypair_release(struct wg_noise_local *local, struct wg_noise_keypair *kp)
{
	if (!kp)
		return;
	atomic_store_explicit(&kp->valid, false, memory_order_relaxed);
	wg_index_table_remove(local->index_table, kp->local_index);
	if (local->upcalls.keypair_release)
		local->upcalls.keypair_release(local->upcalls.ctx, kp);
	else
		wg_noise_keypair_free(kp);
}

void wg_noise_keypair_free(struct wg_noise_keypair *kp)
{
	if (!kp)
		return;
	wg_memzero(kp, sizeof(*kp));
	free(kp);
}

struct wg_noise_keypair *wg_noise_keypair_current(const struct wg_noise_remote *remote)
{
	return slot_load(&remote->current);
}

struct wg_noise_keypair *wg_noise_keypair_next(const struct wg_noise_remote *remote)
{
	return slot_load(&remote->next);
}

struct wg_noise_keypair *wg_noise_keypair_previous(const struct wg_noise_remote *remote)
{
	return slot_load(&remote->previous);
}

bool wg_noise_keypair_awaits_confirmation(const struct wg_noise_keypair *kp)
{
	return kp && kp->remote && slot_load(&kp->remote->next) == kp;
}

enum wg_result wg_noise_keypair_reserve(struct wg_noise_keypair *kp, uint32_t n, uint64_t *first)
{
	if (n == 0 || n > WG_NOISE_MAX_RESERVE)
		return WG_ERR_INVALID;
	if (!atomic_load_explicit(&kp->valid, memory_order_relaxed))
		return WG_ERR_EXPIRED;
	/* Relaxed is enough: the add alone makes each nonce unique. The valid check above bounds
	 * how far concurrent failing callers push the counter past the limit (far from wrapping).
	 */
	uint64_t f = atomic_fetch_add_explicit(&kp->send_counter, n, memory_order_relaxed);
	enum wg_keypair_use use =
	    f > UINT64_MAX - (n - 1) ? WG_KEYPAIR_EXPIRED : wg_keypair_nonce_use(f + n - 1);
	if (use == WG_KEYPAIR_EXPIRED) {
		atomic_store_explicit(&kp->valid, false, memory_order_relaxed);
		return WG_ERR_EXPIRED;
	}
	*first = f;
	return use == WG_KEYPAIR_REKEY ? WG_OK_REKEY : WG_OK;
}

/* ---- remote ---- */

static void handshake_zero(struct wg_noise_remote *remote)
{
	struct wg_noise_handshake *hs = &remote->handshake;
	if (hs->index_live)
		wg_index_table_remove(remote->local->index_table, hs->local_index);
	wg_memzero(hs, sizeof(*hs));
	hs->state = WG_NOISE_HANDSHAKE_ZEROED;
}

/* A fresh local index for the handshake. The old one is dropped only once the new one exists. */
static enum wg_result handshake_take_index(struct wg_noise_remote *remote, uint32_t *index)
{
	struct wg_noise_local *local = remote->local;
	struct wg_noise_handshake *hs = &remote->handshake;
	enum wg_result r = wg_index_table_insert(local->index_table, WG_INDEX_HANDSHAKE, remote,
	                                         local->upcalls.random, local->upcalls.ctx, index);
	if (r != WG_OK)
		return r;
	if (hs->index_live)
		wg_index_table_remove(local->index_table, hs->local_index);
	hs->local_index = *index;
	hs->index_live = true;
	return WG_OK;
}

/* The "ss" DH depends on the two static keys alone, so it is computed once per key pair. */
enum wg_result wg_noise_remote_precompute(struct wg_noise_remote *remote)
{
	struct wg_noise_local *local = remote->local;
	enum wg_result r = WG_OK;

	remote->precomputed_gen = local->key_generation;
	if (!local->has_identity) {
		wg_memzero(remote->precomputed_static_static, WG_KEY_LEN);
		remote->precomputed_valid = true; /* nothing to compute until a key is set */
		return WG_OK;
	}
	r = wg_x25519(remote->precomputed_static_static, local->static_private,
	              remote->remote_static);
	if (r == WG_OK && wg_is_zero(remote->precomputed_static_static, WG_KEY_LEN))
		r = WG_ERR_LOW_ORDER;
	if (r != WG_OK)
		wg_memzero(remote->precomputed_static_static, WG_KEY_LEN);
	/* A low-order key is a settled answer (the peer is unusable); other errors retry. */
	remote->precomputed_valid = r == WG_OK || r == WG_ERR_LOW_ORDER;
	return r;
}

/* DH(s_local, s_remote) for the "ss" token, recomputed if the local key changed since. */
static enum wg_result remote_static_static(struct wg_noise_remote *remote, const uint8_t **ss)
{
	struct wg_noise_local *local = remote->local;
	if (!local->has_identity)
		return WG_ERR_STATE;
	if (!remote->precomputed_valid || remote->precomputed_gen != local->key_generation) {
		enum wg_result r = wg_noise_remote_precompute(remote);
		if (r != WG_OK)
			return r;
	}
	if (wg_is_zero(remote->precomputed_static_static, WG_KEY_LEN))
		return WG_ERR_LOW_ORDER;
	*ss = remote->precomputed_static_static;
	return WG_OK;
}

enum wg_result wg_noise_remote_init(struct wg_noise_remote *remote, struct wg_noise_local *local,
                                    const uint8_t pub[WG_KEY_LEN], void *owner)
{
	memset(remote, 0, sizeof(*remote));
	remote->local = local;
	remote->owner = owner;
	memcpy(remote->remote_static, pub, WG_KEY_LEN);
	atomic_init(&remote->next, NULL);
	atomic_init(&remote->current, NULL);
	atomic_init(&remote->previous, NULL);
	return wg_noise_remote_precompute(remote);
}

void wg_noise_remote_set_psk(struct wg_noise_remote *remote, const uint8_t psk[WG_KEY_LEN])
{
	if (psk)
		memcpy(remote->psk, psk, WG_KEY_LEN);
	else
		wg_memzero(remote->psk, WG_KEY_LEN);
}

void wg_noise_remote_clear(struct wg_noise_remote *remote)
{
	struct wg_noise_local *local = remote->local;
	struct wg_noise_keypair *next = slot_load(&remote->next);
	struct wg_noise_keypair *current = slot_load(&remote->current);
	struct wg_noise_keypair *previous = slot_load(&remote->previous);

	handshake_zero(remote);
	slot_store(&remote->next, NULL);
	slot_store(&remote->current, NULL);
	slot_store(&remote->previous, NULL);
	current_changed(remote);
	keypair_release(local, next);
	keypair_release(local, current);
	keypair_release(local, previous);
}

void wg_noise_remote_expire_current(struct wg_noise_remote *remote)
{
	struct wg_noise_keypair *next = slot_load(&remote->next);
	struct wg_noise_keypair *current = slot_load(&remote->current);
	if (next)
		atomic_store_explicit(&next->valid, false, memory_order_relaxed);
	if (current)
		atomic_store_explicit(&current->valid, false, memory_order_relaxed);
}

void wg_noise_remote_destroy(struct wg_noise_remote *remote)
{
	if (!remote->local)
		return;
	wg_noise_remote_clear(remote);
	wg_memzero(remote, sizeof(*remote));
}

enum wg_noise_handshake_state wg_noise_remote_handshake_state(const struct wg_noise_remote *remote)
{
	return remote->handshake.state;
}

/*
 * ---- WireGuard handshake messages ----
 *
 * Message 1 is "-> e, es, s, ss" with the timestamp as payload, message 2 "<- e, ee, se, psk"
 * with an empty payload; each side keeps hash and chaining key between the two.
 */

enum wg_result wg_noise_create_initiation(struct wg_noise_remote *remote,
                                          struct wg_msg_initiation *out)
{
	struct wg_noise_local *local = remote->local;
	struct wg_noise_handshake *hs = &remote->handshake;
	struct wg_noise_symmetric s = {0};
	uint8_t e_priv[WG_KEY_LEN] = {0}, timestamp[WG_TIMESTAMP_LEN];
	const uint8_t *ss = NULL;
	uint32_t index;

	memset(out, 0, sizeof(*out));
	enum wg_result r = remote_static_static(remote, &ss);
	if (r != WG_OK)
		goto out;
	new_ephemeral(local, e_priv);
	local->upcalls.tai64n(local->upcalls.ctx, timestamp);
	r = wg_begin(&s, remote->remote_static);
	/* e, es, s */
	if (r == WG_OK)
		r = wg_ik_write_e_es_s(&s, e_priv, remote->remote_static, local->static_public,
		                       out->unencrypted_ephemeral, out->encrypted_static);
	/* ss */
	if (r == WG_OK)
		r = wg_sym_mix_key(&s, ss, WG_KEY_LEN);
	/* payload: {timestamp} */
	if (r == WG_OK)
		r = wg_sym_encrypt_and_hash(&s, out->encrypted_timestamp, timestamp,
		                            WG_TIMESTAMP_LEN);
	if (r == WG_OK)
		r = handshake_take_index(remote, &index);
	if (r != WG_OK)
		goto out;
	out->header.type = htole32(WG_MSG_HANDSHAKE_INITIATION);
	out->sender_index = htole32(index);

	hs->state = WG_NOISE_HANDSHAKE_CREATED_INITIATION;
	memcpy(hs->hash, s.h, WG_HASH_LEN);
	memcpy(hs->chaining_key, s.ck, WG_HASH_LEN);
	memcpy(hs->ephemeral_private, e_priv, WG_KEY_LEN);
	memset(hs->remote_ephemeral, 0, WG_KEY_LEN);
	hs->remote_index = 0;
out:
	if (r != WG_OK)
		memset(out, 0, sizeof(*out));
	wg_memzero(&s, sizeof(s));
	wg_memzero(e_priv, sizeof(e_priv));
	return r;
}

enum wg_result wg_noise_consume_initiation(struct wg_noise_local *local,
                                           const struct wg_msg_initiation *in,
                                           struct wg_noise_remote **out_remote)
{
	struct wg_noise_symmetric s = {0};
	struct wg_noise_remote *remote = NULL;
	struct wg_noise_handshake *hs;
	uint8_t initiator_static[WG_KEY_LEN] = {0}, timestamp[WG_TIMESTAMP_LEN];
	const uint8_t *ss = NULL;
	uint64_t now;
	enum wg_result r;

	*out_remote = NULL;
	if (in->header.type != htole32(WG_MSG_HANDSHAKE_INITIATION))
		return WG_ERR_INVALID;
	if (!local->has_identity)
		return WG_ERR_STATE;

	r = wg_begin(&s, local->static_public);
	/* e, es, s */
	if (r == WG_OK)
		r = wg_ik_read_e_es_s(&s, local->static_private, in->unencrypted_ephemeral,
		                      in->encrypted_static, initiator_static);
	if (r != WG_OK)
		goto out;
	if (local->upcalls.remote_by_pubkey)
		remote = local->upcalls.remote_by_pubkey(local->upcalls.ctx, initiator_static);
	if (!remote || remote->local != local) {
		r = WG_ERR_UNKNOWN_PEER;
		goto out;
	}
	/* ss */
	r = remote_static_static(remote, &ss);
	if (r == WG_OK)
		r = wg_sym_mix_key(&s, ss, WG_KEY_LEN);
	/* payload: {timestamp} */
	if (r == WG_OK)
		r = wg_sym_decrypt_and_hash(&s, timestamp, in->encrypted_timestamp,
		                            WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN);
	if (r != WG_OK)
		goto out;

	if (!wg_tai64n_after(timestamp, remote->latest_timestamp)) {
		r = WG_ERR_REPLAY;
		goto out;
	}
	now = local->upcalls.now(local->upcalls.ctx);
	if (remote->has_last_initiation &&
	    now < remote->last_initiation_ns + WG_HANDSHAKE_MIN_INTERVAL_NS) {
		r = WG_ERR_FLOOD;
		goto out;
	}

	/* Every check passed: only now does the remote change. A handshake index we still hold
	 * from our own initiation stays until create_response replaces it. */
	hs = &remote->handshake;
	hs->state = WG_NOISE_HANDSHAKE_CONSUMED_INITIATION;
	memcpy(hs->hash, s.h, WG_HASH_LEN);
	memcpy(hs->chaining_key, s.ck, WG_HASH_LEN);
	wg_memzero(hs->ephemeral_private, WG_KEY_LEN);
	memcpy(hs->remote_ephemeral, in->unencrypted_ephemeral, WG_KEY_LEN);
	hs->remote_index = le32toh(in->sender_index);
	memcpy(remote->latest_timestamp, timestamp, WG_TIMESTAMP_LEN);
	remote->last_initiation_ns = now;
	remote->has_last_initiation = true;
	*out_remote = remote;
out:
	wg_memzero(&s, sizeof(s));
	wg_memzero(initiator_static, sizeof(initiator_static));
	return r;
}

enum wg_result wg_noise_create_response(struct wg_noise_remote *remote, struct wg_msg_response *out)
{
	struct wg_noise_local *local = remote->local;
	struct wg_noise_handshake *hs = &remote->handshake;
	struct wg_noise_symmetric s = {0};
	uint8_t e_priv[WG_KEY_LEN] = {0};
	uint32_t index;
	enum wg_result r;

	memset(out, 0, sizeof(*out));
	if (hs->state != WG_NOISE_HANDSHAKE_CONSUMED_INITIATION) {
		r = WG_ERR_STATE;
		goto out;
	}
	new_ephemeral(local, e_priv);
	memcpy(s.h, hs->hash, WG_HASH_LEN);
	memcpy(s.ck, hs->chaining_key, WG_HASH_LEN);

	/* e, ee, se, psk */
	r = wg_ik_write_e_ee_se_psk(&s, e_priv, hs->remote_ephemeral, remote->remote_static,
	                            remote->psk, out->unencrypted_ephemeral);
	/* payload: {} */
	if (r == WG_OK)
		r = wg_sym_encrypt_and_hash(&s, out->encrypted_nothing, NULL, 0);
	if (r == WG_OK)
		r = handshake_take_index(remote, &index);
	if (r != WG_OK)
		goto out;
	out->header.type = htole32(WG_MSG_HANDSHAKE_RESPONSE);
	out->sender_index = htole32(index);
	out->receiver_index = htole32(hs->remote_index);

	hs->state = WG_NOISE_HANDSHAKE_CREATED_RESPONSE;
	memcpy(hs->hash, s.h, WG_HASH_LEN);
	memcpy(hs->chaining_key, s.ck, WG_HASH_LEN);
out:
	if (r != WG_OK)
		memset(out, 0, sizeof(*out));
	wg_memzero(&s, sizeof(s));
	wg_memzero(e_priv, sizeof(e_priv));
	return r;
}

enum wg_result wg_noise_consume_response(struct wg_noise_local *local,
                                         const struct wg_msg_response *in,
                                         struct wg_noise_remote **out_remote)
{
	struct wg_noise_symmetric s = {0};
	struct wg_noise_remote *remote;
	struct wg_noise_handshake *hs;
	uint8_t nothing[1];
	enum wg_result r;

	*out_remote = NULL;
	if (in->header.type != htole32(WG_MSG_HANDSHAKE_RESPONSE))
		return WG_ERR_INVALID;
	remote = wg_index_table_lookup(local->index_table, le32toh(in->receiver_index),
	                               WG_INDEX_HANDSHAKE);
	if (!remote || remote->local != local)
		return WG_ERR_UNKNOWN_PEER;
	hs = &remote->handshake;
	if (hs->state != WG_NOISE_HANDSHAKE_CREATED_INITIATION || !local->has_identity)
		return WG_ERR_STATE;

	memcpy(s.h, hs->hash, WG_HASH_LEN);
	memcpy(s.ck, hs->chaining_key, WG_HASH_LEN);
	/* e, ee, se, psk */
	r = wg_ik_read_e_ee_se_psk(&s, hs->ephemeral_private, local->static_private,
	                           in->unencrypted_ephemeral, remote->psk);
	/* payload: {} */
	if (r == WG_OK)
		r = wg_sym_decrypt_and_hash(&s, nothing, in->encrypted_nothing, WG_AEAD_TAG_LEN);
	if (r != WG_OK)
		goto out;

	hs->state = WG_NOISE_HANDSHAKE_CONSUMED_RESPONSE;
	memcpy(hs->hash, s.h, WG_HASH_LEN);
	memcpy(hs->chaining_key, s.ck, WG_HASH_LEN);
	wg_memzero(hs->ephemeral_private, WG_KEY_LEN);
	memcpy(hs->remote_ephemeral, in->unencrypted_ephemeral, WG_KEY_LEN);
	hs->remote_index = le32toh(in->sender_index);
	*out_remote = remote;
out:
	wg_memzero(&s, sizeof(s));
	return r;
}

/* ---- sessions ---- */

enum wg_result wg_noise_begin_session(struct wg_noise_remote *remote)
{
	struct wg_noise_local *local = remote->local;
	struct wg_noise_handshake *hs = &remote->handshake;
	struct wg_noise_keypair *kp = NULL;
	uint8_t k1[WG_KEY_LEN] = {0}, k2[WG_KEY_LEN] = {0};
	bool initiator;
	enum wg_result r;

	if (hs->state == WG_NOISE_HANDSHAKE_CONSUMED_RESPONSE)
		initiator = true;
	else if (hs->state == WG_NOISE_HANDSHAKE_CREATED_RESPONSE)
		initiator = false;
	else
		return WG_ERR_STATE;
	if (!hs->index_live)
		return WG_ERR_STATE;

	/* The send counter and the replay window each get their own cache lines. */
	size_t size = (sizeof(*kp) + 63) & ~(size_t)63;
	kp = aligned_alloc(64, size);
	if (!kp) {
		r = WG_ERR_NOMEM;
		goto out;
	}
	memset(kp, 0, size);
	/* Split() */
	r = wg_sym_split(hs->chaining_key, k1, k2);
	if (r != WG_OK)
		goto out;
	memcpy(kp->send_key, initiator ? k1 : k2, WG_KEY_LEN);
	memcpy(kp->recv_key, initiator ? k2 : k1, WG_KEY_LEN);
	atomic_init(&kp->send_counter, 0);
	wg_replay_init(&kp->recv_replay);
	kp->birth_ns = local->upcalls.now(local->upcalls.ctx);
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	kp->is_initiator = initiator;
	kp->remote = remote;
	atomic_init(&kp->valid, true);

	r = wg_index_table_replace(local->index_table, hs->local_index, WG_INDEX_KEYPAIR, kp);
	if (r != WG_OK)
		goto out;
	hs->index_live = false; /* the keypair owns the index now */
	handshake_zero(remote);

	struct wg_noise_keypair *old_next = slot_load(&remote->next);
	struct wg_noise_keypair *old_current = slot_load(&remote->current);
	struct wg_noise_keypair *old_previous = slot_load(&remote->previous);
	if (initiator) {
		/* The response confirmed the keys: use them at once. An unconfirmed next from a
		 * crossing handshake is dropped rather than kept. */
		slot_store(&remote->next, NULL);
		slot_store(&remote->previous, old_current);
		slot_store(&remote->current, kp);
		current_changed(remote);
		keypair_release(local, old_next);
	} else {
		/* Not confirmed until the initiator sends under it; keep sending under current. */
		slot_store(&remote->next, kp);
		slot_store(&remote->previous, NULL);
		keypair_release(local, old_next);
	}
	keypair_release(local, old_previous);
	kp = NULL;
out:
	if (kp)
		wg_noise_keypair_free(kp);
	wg_memzero(k1, sizeof(k1));
	wg_memzero(k2, sizeof(k2));
	return r;
}

bool wg_noise_received_with_keypair(struct wg_noise_remote *remote, struct wg_noise_keypair *kp)
{
	if (!kp || slot_load(&remote->next) != kp)
		return false;
	struct wg_noise_keypair *old_previous = slot_load(&remote->previous);
	slot_store(&remote->previous, slot_load(&remote->current));
	slot_store(&remote->current, kp);
	slot_store(&remote->next, NULL);
	current_changed(remote);
	keypair_release(remote->local, old_previous);
	return true;
}
