// SPDX-License-Identifier: GPL-2.0-only
#include "fake_host.h"

#include <string.h>

#include "constants.h"
#include "crypto.h"
#include "tai64n.h"
#include "test_rng.h"
#include "transport.h"

/* ---- upcalls ---- */

static void host_random(void *ctx, void *buf, size_t len)
{
	test_rng(&((struct fake_host *)ctx)->rng, buf, len);
}

static uint64_t host_now(void *ctx)
{
	return fake_host_now(ctx);
}

static void host_tai64n(void *ctx, uint8_t out[WG_TIMESTAMP_LEN])
{
	fake_host_tai64n(ctx, out);
}

void fake_host_tai64n(const struct fake_host *h, uint8_t out[WG_TIMESTAMP_LEN])
{
	uint64_t wall = h->clock ? FAKE_HOST_EPOCH_S * WG_NSEC_PER_SEC + *h->clock : h->wall_ns;
	wg_tai64n_encode(out, wall / WG_NSEC_PER_SEC, (uint32_t)(wall % WG_NSEC_PER_SEC));
}

static struct wg_noise_remote *host_by_pubkey(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	return fake_host_find(ctx, pub);
}

/* Nothing reads keypairs concurrently here, so freeing at once is safe; the count and the
 * index check are what tests of Noise's bookkeeping assert on. */
static void host_release(void *ctx, struct wg_noise_keypair *kp)
{
	struct fake_host *h = ctx;
	h->releases++;
	if (wg_index_table_lookup(h->table, kp->local_index, WG_INDEX_KEYPAIR) == kp)
		h->release_index_still_mapped = true;
	wg_noise_keypair_free(kp);
}

/* ---- set-up ---- */

enum wg_result fake_host_init(struct fake_host *h, const char *name, uint64_t seed)
{
	const struct wg_noise_upcalls up = {
	    .ctx = h,
	    .random = host_random,
	    .now = host_now,
	    .tai64n = host_tai64n,
	    .remote_by_pubkey = host_by_pubkey,
	    .keypair_release = host_release,
	};
	enum wg_result r;

	memset(h, 0, sizeof(*h));
	h->name = name;
	h->rng = seed;
	h->now_ns = FAKE_HOST_START_NS;
	h->wall_ns = FAKE_HOST_EPOCH_S * WG_NSEC_PER_SEC;
	h->table = wg_index_table_new(16); /* a handshake, three keypairs, and room */
	if (!h->table)
		return WG_ERR_NOMEM;
	if ((r = wg_noise_local_init(&h->local, h->table, &up)) != WG_OK)
		return r;
	test_rng(&h->rng, h->priv, WG_KEY_LEN);
	if ((r = wg_noise_local_set_private(&h->local, h->priv)) != WG_OK)
		return r;
	return wg_cookie_checker_init(&h->checker, h->local.static_public, host_random, h);
}

void fake_host_destroy(struct fake_host *h)
{
	for (size_t i = 0; i < h->n_remotes; i++) {
		wg_noise_remote_destroy(&h->remotes[i]);
		wg_cookie_maker_clear(&h->makers[i]);
	}
	h->n_remotes = 0;
	wg_cookie_checker_clear(&h->checker);
	wg_noise_local_destroy(&h->local);
	wg_index_table_free(h->table);
	h->table = NULL;
	wg_memzero(h->priv, sizeof(h->priv));
}

enum wg_result fake_host_add(struct fake_host *h, const uint8_t pub[WG_KEY_LEN],
                             struct wg_noise_remote **out)
{
	size_t k = h->n_remotes;
	enum wg_result r;

	if (out)
		*out = NULL;
	if (k >= FAKE_HOST_MAX_REMOTES)
		return WG_ERR_NOMEM;
	r = wg_noise_remote_init(&h->remotes[k], &h->local, pub, h);
	if (r != WG_OK && r != WG_ERR_LOW_ORDER)
		return r;
	enum wg_result m = wg_cookie_maker_init(&h->makers[k], pub);
	h->n_remotes++;
	if (out)
		*out = &h->remotes[k];
	return r != WG_OK ? r : m;
}

struct wg_noise_remote *fake_host_find(struct fake_host *h, const uint8_t pub[WG_KEY_LEN])
{
	for (size_t i = 0; i < h->n_remotes; i++)
		if (memcmp(h->remotes[i].remote_static, pub, WG_KEY_LEN) == 0)
			return &h->remotes[i];
	return NULL;
}

struct wg_cookie_maker *fake_host_maker(struct fake_host *h, const struct wg_noise_remote *r)
{
	return &h->makers[r - h->remotes];
}

enum wg_result fake_host_relearn(struct fake_host *h, struct wg_noise_remote *r,
                                 const uint8_t pub[WG_KEY_LEN])
{
	struct wg_cookie_maker *m = fake_host_maker(h, r);
	wg_noise_remote_destroy(r);
	wg_cookie_maker_clear(m);
	enum wg_result res = wg_noise_remote_init(r, &h->local, pub, h);
	enum wg_result mres = wg_cookie_maker_init(m, pub);
	return res != WG_OK ? res : mres;
}

uint64_t fake_host_now(const struct fake_host *h)
{
	return h->clock ? *h->clock : h->now_ns;
}

void fake_host_tick(struct fake_host *h, uint64_t ns)
{
	h->now_ns += ns;
	h->wall_ns += ns;
}

/* ---- handshakes ---- */

enum wg_result fake_noise_handshake(struct wg_noise_remote *ini, struct wg_noise_local *res_local,
                                    struct wg_noise_remote *res, struct wg_noise_local *ini_local)
{
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_noise_remote *got = NULL;
	enum wg_result r;

	if ((r = wg_noise_create_initiation(ini, &init)) != WG_OK ||
	    (r = wg_noise_consume_initiation(res_local, &init, &got)) != WG_OK)
		return r;
	if (got != res)
		return WG_ERR_UNKNOWN_PEER;
	if ((r = wg_noise_create_response(res, &resp)) != WG_OK ||
	    (r = wg_noise_consume_response(ini_local, &resp, &got)) != WG_OK)
		return r;
	if (got != ini)
		return WG_ERR_UNKNOWN_PEER;
	if ((r = wg_noise_begin_session(ini)) != WG_OK)
		return r;
	return wg_noise_begin_session(res);
}

enum wg_result fake_host_handshake(struct fake_host *ini, struct wg_noise_remote *to_res,
                                   struct fake_host *res)
{
	struct wg_noise_remote *from_ini = fake_host_find(res, ini->local.static_public);
	if (!from_ini)
		return WG_ERR_UNKNOWN_PEER;
	return fake_noise_handshake(to_res, &res->local, from_ini, &ini->local);
}

/* ---- on the wire ---- */

enum wg_result fake_host_initiation(struct fake_host *h, struct wg_noise_remote *r,
                                    struct wg_msg_initiation *msg)
{
	enum wg_result res = wg_noise_create_initiation(r, msg);
	if (res != WG_OK)
		return res;
	return wg_cookie_add_macs(fake_host_maker(h, r), msg, sizeof(*msg), fake_host_now(h));
}

enum wg_result fake_host_respond(struct fake_host *h, const void *msg, size_t len,
                                 struct wg_msg_response *resp, struct wg_noise_remote **from)
{
	struct wg_noise_remote *got = NULL;
	enum wg_result r;

	if (from)
		*from = NULL;
	if (len != sizeof(struct wg_msg_initiation))
		return WG_ERR_INVALID;
	if (wg_cookie_validate(&h->checker, msg, len, NULL, false, fake_host_now(h)) !=
	    WG_COOKIE_MAC_VALID)
		return WG_ERR_AUTH;
	if ((r = wg_noise_consume_initiation(&h->local, msg, &got)) != WG_OK ||
	    (r = wg_noise_create_response(got, resp)) != WG_OK ||
	    (r = wg_cookie_add_macs(fake_host_maker(h, got), resp, sizeof(*resp),
	                            fake_host_now(h))) != WG_OK ||
	    (r = wg_noise_begin_session(got)) != WG_OK)
		return r;
	if (from)
		*from = got;
	return WG_OK;
}

enum wg_result fake_host_take_response(struct fake_host *h, const void *msg, size_t len,
                                       struct wg_noise_remote **from)
{
	struct wg_noise_remote *got = NULL;
	enum wg_result r;

	if (from)
		*from = NULL;
	if (len != sizeof(struct wg_msg_response))
		return WG_ERR_INVALID;
	if (wg_cookie_validate(&h->checker, msg, len, NULL, false, fake_host_now(h)) !=
	    WG_COOKIE_MAC_VALID)
		return WG_ERR_AUTH;
	if ((r = wg_noise_consume_response(&h->local, msg, &got)) != WG_OK ||
	    (r = wg_noise_begin_session(got)) != WG_OK)
		return r;
	if (from)
		*from = got;
	return WG_OK;
}

/* ---- transport ---- */

enum wg_result fake_host_seal(struct fake_host *h, struct wg_noise_remote *r, const void *plain,
                              size_t len, size_t mtu, uint8_t *out, size_t cap, size_t *out_len)
{
	struct wg_noise_keypair *kp = wg_noise_keypair_current(r);
	if (!kp)
		return WG_ERR_NO_KEYPAIR;
	return wg_transport_seal(kp, plain, len, mtu, out, cap, out_len, NULL, fake_host_now(h));
}

enum wg_result fake_host_open(struct fake_host *h, const uint8_t *msg, size_t len, uint8_t *plain,
                              size_t *plain_len, struct wg_noise_keypair **kp_out)
{
	struct wg_noise_keypair *kp = NULL;
	enum wg_result r =
	    wg_transport_open(&h->local, msg, len, plain, plain_len, &kp, NULL, fake_host_now(h));
	if (kp_out)
		*kp_out = kp;
	if (r != WG_OK && r != WG_OK_REKEY)
		return r;
	if (wg_noise_keypair_awaits_confirmation(kp))
		wg_noise_received_with_keypair(kp->remote, kp);
	return r;
}
