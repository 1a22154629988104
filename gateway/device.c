// SPDX-License-Identifier: GPL-2.0-only
/*
 * Peers and interface settings, changed live. Workers see a peer through one pointer
 * (gw.peers[slot]) and its prefixes through the allowed-IPs table; both are published after the
 * peer is complete and withdrawn before anything in it is torn down. A slot is reused only after
 * a grace period, so a worker that looked a prefix up just before a removal can never reach a
 * different peer through the old slot number.
 */
#include "device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "allowedips.h"
#include "crypto.h"
#include "handshake.h"
#include "handshake_lcores.h"
#include "keys.h"
#include "log.h"
#include "neigh.h"
#include "uapi.h"
#include "uapi_server.h"

static void rng(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	wg_random_bytes(buf, len);
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *detail)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, detail);
}

/* ---- set-up ---- */

int mg_device_init(struct mg_control *ctl, char *err, size_t errlen)
{
	uint32_t max = ctl->gw.max_peers;
	struct rte_hash_parameters hp = {
	    .name = "mg_peer_keys",
	    .entries = max < 8 ? 8 : max,
	    .key_len = WG_KEY_LEN,
	    .hash_func = rte_jhash,
	    .socket_id = SOCKET_ID_ANY,
	    /* Extendable buckets: every one of max_peers keys fits whatever they hash to. The
	     * handshake lcores look keys up while the control thread changes the table. */
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE | RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY,
	};
	ctl->peer_by_key = rte_hash_create(&hp);
	ctl->free_slots = malloc(max * sizeof(*ctl->free_slots));
	if (!ctl->peer_by_key || !ctl->free_slots) {
		set_err(err, errlen, "%s", "no memory for the peer key table");
		return -ENOMEM;
	}
	/* A stack: the lowest slots come out first. */
	for (uint32_t i = 0; i < max; i++)
		ctl->free_slots[i] = max - 1 - i;
	ctl->n_free_slots = max;
	return 0;
}

static void retire_peer(struct mg_control *ctl, struct mg_peer *peer, bool update_tables);

void mg_device_fini(struct mg_control *ctl)
{
	for (uint32_t slot = 0; ctl->gw.peers && slot < ctl->slot_high; slot++) {
		struct mg_peer *peer = mg_gateway_peer(&ctl->gw, slot);
		if (peer)
			retire_peer(ctl, peer, false);
	}
	/* The workers are gone: nothing can hold a removed peer any more. */
	mg_control_reclaim(ctl, true);
	rte_hash_free(ctl->peer_by_key);
	ctl->peer_by_key = NULL;
	free(ctl->free_slots);
	ctl->free_slots = NULL;
	ctl->n_free_slots = 0;
}

struct mg_peer *mg_device_find(struct mg_control *ctl, const uint8_t pub[WG_KEY_LEN])
{
	/* rte_jhash reads the key in 32-bit words, and keys come from inside messages at any
	 * offset (a relayed disco frame's sender sits at byte 6). */
	_Alignas(8) uint8_t key[WG_KEY_LEN];
	void *data;
	if (!ctl->peer_by_key)
		return NULL;
	memcpy(key, pub, sizeof(key));
	if (rte_hash_lookup_data(ctl->peer_by_key, key, &data) < 0)
		return NULL;
	return mg_gateway_peer(&ctl->gw, (uint32_t)(uintptr_t)data);
}

/* ---- slots and freeing ---- */

static void peer_free(struct mg_control *ctl, void *ptr)
{
	struct mg_peer *peer = ptr;
	uint32_t slot = peer->slot;
	/* Destroyed only now: a worker may have read remote.owner through a keypair until the
	 * grace period ended. */
	wg_noise_remote_destroy(&peer->remote);
	for (unsigned w = 0; w < MG_MAX_WORKERS; w++)
		if (ctl->gw.peer_counters[w])
			memset(&ctl->gw.peer_counters[w][slot], 0, sizeof(struct mg_peer_counters));
	if (ctl->ctl_counters)
		memset(&ctl->ctl_counters[slot], 0, sizeof(ctl->ctl_counters[slot]));
	/* Stale for the slot's next peer, whatever a worker stored before the grace period. */
	mg_peer_tx_invalidate(peer->tx);
	if (ctl->free_slots)
		ctl->free_slots[ctl->n_free_slots++] = slot;
	rte_free(peer);
}

/* True when a slot is free now, possibly after waiting for removed peers' grace periods. */
static bool have_slot(struct mg_control *ctl)
{
	if (ctl->n_free_slots)
		return true;
	if (!ctl->n_deferred)
		return false;
	if (ctl->gw.rcu)
		rte_rcu_qsbr_synchronize(ctl->gw.rcu, RTE_QSBR_THRID_INVALID);
	mg_control_reclaim(ctl, false);
	return ctl->n_free_slots > 0;
}

/* ---- allowed IPs ---- */

static int prefix_af(uint8_t family)
{
	return family == 4 ? AF_INET : AF_INET6;
}

static bool prefix_eq(const struct mg_prefix *a, const struct mg_prefix *b)
{
	return a->family == b->family && a->len == b->len && memcmp(a->addr, b->addr, 16) == 0;
}

static void list_remove(struct mg_peer *peer, const struct mg_prefix *p)
{
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		if (!prefix_eq(&peer->allowed_ips[i], p))
			continue;
		memmove(&peer->allowed_ips[i], &peer->allowed_ips[i + 1],
		        (peer->n_allowed_ips - i - 1) * sizeof(*p));
		peer->n_allowed_ips--;
		return;
	}
}

static int list_reserve(struct mg_peer *peer)
{
	if (peer->n_allowed_ips < peer->cap_allowed_ips)
		return 0;
	size_t cap = peer->cap_allowed_ips ? peer->cap_allowed_ips * 2 : 4;
	struct mg_prefix *p = realloc(peer->allowed_ips, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	peer->allowed_ips = p;
	peer->cap_allowed_ips = cap;
	return 0;
}

static int insert_prefix(struct mg_control *ctl, struct mg_peer *peer, const struct mg_prefix *in)
{
	struct mg_gateway *gw = &ctl->gw;
	struct mg_prefix p = *in;
	uint32_t old = MG_ALLOWEDIPS_NO_PEER;

	if ((p.family != 4 && p.family != 6) || p.len > (p.family == 4 ? 32 : 128))
		return -EINVAL;
	mg_prefix_mask(&p);
	if (mg_allowedips_get(gw->allowedips, prefix_af(p.family), p.addr, p.len, &old) == 0 &&
	    old == peer->slot)
		return 0;
	if (list_reserve(peer) != 0)
		return -ENOMEM;
	int rc =
	    mg_allowedips_insert(gw->allowedips, prefix_af(p.family), p.addr, p.len, peer->slot);
	if (rc != 0)
		return rc;
	/* The prefix moved: the previous holder no longer lists it. */
	struct mg_peer *prev = old == MG_ALLOWEDIPS_NO_PEER ? NULL : mg_gateway_peer(gw, old);
	if (prev)
		list_remove(prev, &p);
	peer->allowed_ips[peer->n_allowed_ips++] = p;
	return 0;
}

static void clear_prefixes(struct mg_control *ctl, struct mg_peer *peer)
{
	mg_allowedips_remove_peer(ctl->gw.allowedips, peer->slot);
	peer->n_allowed_ips = 0;
}

int mg_device_set_allowed_ips(struct mg_control *ctl, struct mg_peer *peer,
                              const struct mg_prefix *prefixes, size_t n, bool replace, char *err,
                              size_t errlen)
{
	int rc = 0;
	if (replace)
		clear_prefixes(ctl, peer);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = insert_prefix(ctl, peer, &prefixes[i]);
		if (rc != 0) {
			char text[MG_PREFIX_STRLEN], why[MG_PREFIX_STRLEN + 96];
			mg_prefix_format(&prefixes[i], text, sizeof(text));
			snprintf(why, sizeof(why), "allowed IP %s: %s", text,
			         rc == -ENOSPC
			             ? "the allowed-IPs table is full (limits.max_prefixes)"
			             : strerror(-rc));
			set_err(err, errlen, "%s", why);
		}
	}
	/* Publish what was inserted either way, so the table and the lists agree. */
	if (mg_allowedips_commit(ctl->gw.allowedips) != 0 && rc == 0) {
		set_err(err, errlen, "%s", "the IPv6 allowed-IPs table could not be rebuilt");
		rc = -EIO;
	}
	return rc;
}

int mg_device_sync_allowed_ips(struct mg_control *ctl, struct mg_peer *peer,
                               const struct mg_prefix *prefixes, size_t n, char *err, size_t errlen)
{
	/* Withdraw only what the new list lacks, then add: a kept prefix never leaves the table,
	 * so its traffic sees no gap. */
	for (size_t i = peer->n_allowed_ips; i-- > 0;) {
		struct mg_prefix p = peer->allowed_ips[i];
		bool keep = false;
		for (size_t j = 0; j < n && !keep; j++) {
			struct mg_prefix q = prefixes[j];
			mg_prefix_mask(&q);
			keep = prefix_eq(&p, &q);
		}
		if (!keep && mg_allowedips_remove(ctl->gw.allowedips, prefix_af(p.family), p.addr,
		                                  p.len) == 0)
			list_remove(peer, &p);
	}
	return mg_device_set_allowed_ips(ctl, peer, prefixes, n, false, err, errlen);
}

/* ---- peers ---- */

int mg_device_add_peer(struct mg_control *ctl, const struct mg_peer_config *pc,
                       struct mg_peer **out, char *err, size_t errlen)
{
	struct mg_gateway *gw = &ctl->gw;
	char key[WG_KEY_B64_SIZE];

	wg_key_to_base64(key, pc->public_key);
	if (gw->local.has_identity &&
	    wg_memeq(pc->public_key, gw->local.static_public, WG_KEY_LEN)) {
		set_err(err, errlen, "public key %s is this gateway's own", key);
		return -EEXIST;
	}
	if (mg_device_find(ctl, pc->public_key)) {
		set_err(err, errlen, "peer %s exists already", key);
		return -EEXIST;
	}
	if (!have_slot(ctl)) {
		set_err(err, errlen, "no room for peer %s: limits.max_peers are in use", key);
		return -ENOSPC;
	}
	struct mg_peer *peer = rte_zmalloc("mg_peer", sizeof(*peer), RTE_CACHE_LINE_SIZE);
	if (!peer) {
		set_err(err, errlen, "no memory for peer %s", key);
		return -ENOMEM;
	}
	uint32_t slot = ctl->free_slots[--ctl->n_free_slots];
	peer->slot = slot;
	peer->tx = mg_gateway_peer_tx(gw, slot); /* stale since its last peer left */
	/* A low-order key is kept, as wg keeps it: every handshake with it simply fails. */
	enum wg_result r = wg_noise_remote_init(&peer->remote, &gw->local, pc->public_key, peer);
	if (r != WG_OK && r != WG_ERR_LOW_ORDER) {
		ctl->free_slots[ctl->n_free_slots++] = slot;
		rte_free(peer);
		set_err(err, errlen, "peer %s: cannot set up its handshake state", key);
		return -EINVAL;
	}
	if (pc->has_preshared_key)
		wg_noise_remote_set_psk(&peer->remote, pc->preshared_key);
	wg_cookie_maker_init(&peer->cookie, pc->public_key);
	mg_peer_timers_init(peer, &ctl->durations, rng, NULL);
	if (pc->endpoint.family)
		mg_endpoint_write(&peer->endpoint, &pc->endpoint);
	int rc = rte_hash_add_key_data(ctl->peer_by_key, pc->public_key, (void *)(uintptr_t)slot);
	if (rc < 0) {
		wg_noise_remote_destroy(&peer->remote);
		ctl->free_slots[ctl->n_free_slots++] = slot;
		rte_free(peer);
		set_err(err, errlen, "peer %s: the key table is full", key);
		return -ENOSPC;
	}
	atomic_store_explicit(&gw->peers[slot], peer, memory_order_release);
	gw->n_peers++;
	if (slot >= ctl->slot_high)
		ctl->slot_high = slot + 1;

	rc = mg_device_set_allowed_ips(ctl, peer, pc->allowed_ips, pc->n_allowed_ips, false, err,
	                               errlen);
	if (rc != 0) {
		mg_device_remove_peer(ctl, peer);
		return rc;
	}
	mg_device_set_keepalive(ctl, peer, pc->persistent_keepalive);
	if (mg_log_enabled(MG_LOG_DEBUG)) {
		char ep[MG_SOCKADDR_STRLEN];
		mg_sockaddr_format(&pc->endpoint, ep, sizeof(ep));
		struct mg_log_line l;
		mg_log_begin(&l, MG_LOG_DEBUG, "peer added");
		mg_log_str(&l, "peer", key);
		mg_log_u64(&l, "slot", slot);
		mg_log_str(&l, "endpoint", ep);
		mg_log_u64(&l, "allowed_ips", peer->n_allowed_ips);
		mg_log_end(&l);
	}
	if (out)
		*out = peer;
	return 0;
}

void mg_device_drop_staged(struct mg_control *ctl, struct mg_peer *peer)
{
	if (!peer->n_staged)
		return;
	rte_pktmbuf_free_bulk(peer->staged, peer->n_staged);
	ctl->stats.staged_dropped += peer->n_staged;
	peer->n_staged = 0;
}

/* update_tables false: the allowed-IPs table is about to be freed whole (shutdown), so taking
 * the peer's prefixes out one by one, each with a commit, would only delay the exit. */
static void retire_peer(struct mg_control *ctl, struct mg_peer *peer, bool update_tables)
{
	struct mg_gateway *gw = &ctl->gw;
	uint32_t slot = peer->slot;

	if (mg_log_enabled(MG_LOG_DEBUG)) {
		char key[WG_KEY_B64_SIZE];
		wg_key_to_base64(key, peer->remote.remote_static);
		mg_log(MG_LOG_DEBUG, "peer removed", "peer", key, NULL);
	}
	atomic_store_explicit(&gw->peers[slot], NULL, memory_order_release);
	/* The slot's send state (its keypair, its endpoint) is no longer this peer's to use. */
	mg_peer_tx_invalidate(peer->tx);
	gw->n_peers--;
	rte_hash_del_key(ctl->peer_by_key, peer->remote.remote_static);
	if (update_tables) {
		clear_prefixes(ctl, peer);
		mg_allowedips_commit(gw->allowedips);
	}
	free(peer->allowed_ips);
	peer->allowed_ips = NULL;
	peer->cap_allowed_ips = 0;
	mg_device_drop_staged(ctl, peer);
	for (unsigned i = 0; i < ctl->n_pending; i++)
		if (ctl->pending[i].peer_slot == slot)
			ctl->pending[i].peer_slot = MG_PUNT_NO_PEER;
	wg_timers_stop(&peer->timers);
	/* Keys out of every slot and the index table now; the rest after the grace period. A
	 * handshake lcore that found the peer before it left its slot finishes first. */
	rte_spinlock_lock(&peer->hs_lock);
	wg_noise_remote_clear(&peer->remote);
	wg_cookie_maker_clear(&peer->cookie);
	rte_spinlock_unlock(&peer->hs_lock);
	mg_control_defer(ctl, peer_free, peer);
}

void mg_device_remove_peer(struct mg_control *ctl, struct mg_peer *peer)
{
	retire_peer(ctl, peer, true);
}

void mg_device_remove_all_peers(struct mg_control *ctl)
{
	for (uint32_t slot = 0; slot < ctl->slot_high; slot++) {
		struct mg_peer *peer = mg_gateway_peer(&ctl->gw, slot);
		if (peer)
			mg_device_remove_peer(ctl, peer);
	}
}

void mg_device_set_endpoint(struct mg_control *ctl, struct mg_peer *peer,
                            const struct mg_sockaddr *ep)
{
	(void)ctl;
	mg_endpoint_write(&peer->endpoint, ep);
}

void mg_device_set_psk(struct mg_control *ctl, struct mg_peer *peer, const uint8_t *psk)
{
	(void)ctl;
	rte_spinlock_lock(&peer->hs_lock);
	wg_noise_remote_set_psk(&peer->remote, psk);
	rte_spinlock_unlock(&peer->hs_lock);
}

void mg_device_set_keepalive(struct mg_control *ctl, struct mg_peer *peer, uint16_t seconds)
{
	peer->persistent_keepalive = seconds;
	if (wg_timers_set_persistent_keepalive(&peer->timers, seconds))
		mg_hs_send_keepalive(ctl, peer, mg_control_now(ctl));
}

int mg_device_set_private_key(struct mg_control *ctl, const uint8_t *priv, char *err, size_t errlen)
{
	struct mg_gateway *gw = &ctl->gw;
	uint8_t pub[WG_KEY_LEN];
	int rc = 0;

	if (priv && wg_is_zero(priv, WG_KEY_LEN))
		priv = NULL;
	if (priv && gw->local.has_identity && wg_memeq(priv, gw->local.static_private, WG_KEY_LEN))
		return 0; /* unchanged: sessions stay up, as with wireguard-go */
	/* Every handshake lcore reads the static key and its own cookie checker: held meanwhile. */
	mg_hs_lcores_pause(ctl);
	if (wg_noise_local_set_private(&gw->local, priv) != WG_OK) {
		set_err(err, errlen, "%s", "the private key is unusable");
		rc = -EINVAL;
		goto out;
	}
	if (gw->local.has_identity) {
		memcpy(pub, gw->local.static_public, WG_KEY_LEN);
		struct mg_peer *self = mg_device_find(ctl, pub);
		if (self)
			mg_device_remove_peer(ctl, self);
		wg_cookie_checker_init(&ctl->cookie_checker, pub, rng, NULL);
		for (unsigned i = 0; i < ctl->n_hs_lcores; i++)
			wg_cookie_checker_init(&ctl->hs_lcores[i]->checker, pub, rng, NULL);
	} else {
		wg_cookie_checker_clear(&ctl->cookie_checker);
		for (unsigned i = 0; i < ctl->n_hs_lcores; i++)
			wg_cookie_checker_clear(&ctl->hs_lcores[i]->checker);
	}
	for (uint32_t slot = 0; slot < ctl->slot_high; slot++) {
		struct mg_peer *peer = mg_gateway_peer(gw, slot);
		if (peer) {
			wg_noise_remote_precompute(&peer->remote);
			wg_noise_remote_expire_current(&peer->remote);
		}
	}
out:
	mg_hs_lcores_resume(ctl);
	wg_memzero(pub, sizeof(pub));
	return rc;
}

int mg_device_set_listen_port(struct mg_control *ctl, uint16_t port, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	/* 0 asks the device to choose, as wireguard-go binds port 0: take an ephemeral one. */
	while (port == 0) {
		uint16_t r;
		wg_random_bytes(&r, sizeof(r));
		port = (uint16_t)(49152 + r % 16384);
	}
	__atomic_store_n(&ctl->gw.listen_port, port, __ATOMIC_RELEASE);
	/* The source port is in every peer's cached outer headers (peer.h): stale them all. */
	if (ctl->gw.neigh)
		mg_neigh_touch(ctl->gw.neigh);
	ctl->cfg.listen_port = port;
	return 0;
}

void mg_device_peer_transfer(const struct mg_control *ctl, const struct mg_peer *peer,
                             uint64_t *rx_bytes, uint64_t *tx_bytes)
{
	uint64_t rx = 0, tx = 0;
	for (unsigned w = 0; w < MG_MAX_WORKERS; w++) {
		const struct mg_peer_counters *c = ctl->gw.peer_counters[w];
		if (!c)
			continue;
		rx += __atomic_load_n(&c[peer->slot].rx_bytes, __ATOMIC_RELAXED);
		tx += __atomic_load_n(&c[peer->slot].tx_bytes, __ATOMIC_RELAXED);
	}
	if (ctl->ctl_counters) {
		rx += ctl->ctl_counters[peer->slot].rx_bytes;
		tx += ctl->ctl_counters[peer->slot].tx_bytes;
	}
	*rx_bytes = rx;
	*tx_bytes = tx;
}

/* ---- UAPI ---- */

static int uapi_get(void *ctx, struct mg_uapi_buf *out)
{
	struct mg_control *ctl = ctx;
	struct mg_gateway *gw = &ctl->gw;
	struct mg_uapi_device_info dev = {
	    .listen_port = gw->listen_port,
	    .fwmark = ctl->fwmark,
	};

	if (gw->local.has_identity)
		memcpy(dev.private_key, gw->local.static_private, WG_KEY_LEN);
	mg_uapi_emit_device(out, &dev);
	wg_memzero(&dev, sizeof(dev));
	for (uint32_t slot = 0; slot < ctl->slot_high; slot++) {
		struct mg_peer *peer = mg_gateway_peer(gw, slot);
		if (!peer)
			continue;
		struct mg_uapi_peer_info info = {
		    .persistent_keepalive = peer->persistent_keepalive,
		    .last_handshake_sec = peer->last_handshake_realtime_ns / 1000000000ull,
		    .last_handshake_nsec =
		        (uint32_t)(peer->last_handshake_realtime_ns % 1000000000ull),
		    .allowed_ips = peer->allowed_ips,
		    .n_allowed_ips = peer->n_allowed_ips,
		};
		memcpy(info.public_key, peer->remote.remote_static, WG_KEY_LEN);
		memcpy(info.preshared_key, peer->remote.psk, WG_KEY_LEN);
		if (!mg_endpoint_read(&peer->endpoint, &info.endpoint))
			info.endpoint.family = 0;
		mg_device_peer_transfer(ctl, peer, &info.rx_bytes, &info.tx_bytes);
		mg_uapi_emit_peer(out, &info);
		wg_memzero(info.preshared_key, sizeof(info.preshared_key));
	}
	return out->failed ? -ENOMEM : 0;
}

/* Slots the request needs beyond those it frees, for the all-or-nothing check. */
static bool uapi_set_fits(struct mg_control *ctl, const struct mg_uapi_set *set)
{
	size_t needed = 0;
	size_t available = ctl->n_free_slots + ctl->n_deferred; /* deferred: may be peers */
	if (set->replace_peers)
		available += ctl->gw.n_peers;
	for (size_t i = 0; i < set->n_peers; i++) {
		const struct mg_uapi_peer_change *pc = &set->peers[i];
		bool exists = mg_device_find(ctl, pc->public_key) != NULL && !set->replace_peers;
		bool earlier = false;
		for (size_t j = 0; j < i && !earlier; j++)
			earlier = wg_memeq(set->peers[j].public_key, pc->public_key, WG_KEY_LEN);
		if (pc->remove && exists)
			available++;
		else if (!pc->remove && !pc->update_only && !exists && !earlier)
			needed++;
	}
	return needed <= available;
}

static int uapi_apply_peer(struct mg_control *ctl, const struct mg_uapi_peer_change *pc)
{
	struct mg_gateway *gw = &ctl->gw;
	char err[256];

	if (gw->local.has_identity && wg_memeq(pc->public_key, gw->local.static_public, WG_KEY_LEN))
		return 0;
	struct mg_peer *peer = mg_device_find(ctl, pc->public_key);
	if (pc->remove) {
		if (peer)
			mg_device_remove_peer(ctl, peer);
		return 0;
	}
	if (!peer && pc->update_only)
		return 0;
	if (!peer) {
		struct mg_peer_config fresh = {0};
		memcpy(fresh.public_key, pc->public_key, WG_KEY_LEN);
		int rc = mg_device_add_peer(ctl, &fresh, &peer, err, sizeof(err));
		if (rc != 0) {
			mg_log(MG_LOG_WARNING, "uapi set refused", "error", err, NULL);
			return rc;
		}
	}
	if (pc->has_preshared_key)
		mg_device_set_psk(ctl, peer, pc->preshared_key);
	if (pc->has_endpoint)
		mg_device_set_endpoint(ctl, peer, &pc->endpoint);
	if (pc->replace_allowed_ips || pc->n_allowed_ips) {
		int rc = mg_device_set_allowed_ips(ctl, peer, pc->allowed_ips, pc->n_allowed_ips,
		                                   pc->replace_allowed_ips, err, sizeof(err));
		if (rc != 0) {
			mg_log(MG_LOG_WARNING, "uapi set refused", "error", err, NULL);
			return rc;
		}
	}
	/* Last, as wireguard-go does: a keepalive sent now goes to the endpoint just set. */
	if (pc->has_persistent_keepalive)
		mg_device_set_keepalive(ctl, peer, pc->persistent_keepalive);
	return 0;
}

static int uapi_set(void *ctx, const struct mg_uapi_set *set)
{
	struct mg_control *ctl = ctx;
	char err[256];
	int rc;

	if (!uapi_set_fits(ctl, set))
		return -ENOSPC;
	if (set->has_private_key) {
		rc = mg_device_set_private_key(ctl, set->private_key, err, sizeof(err));
		if (rc != 0)
			return rc;
	}
	if (set->has_listen_port) {
		rc = mg_device_set_listen_port(ctl, set->listen_port, err, sizeof(err));
		if (rc != 0)
			return rc;
	}
	if (set->has_fwmark)
		ctl->fwmark = set->fwmark; /* no sockets to mark; kept so wg show echoes it */
	if (set->replace_peers)
		mg_device_remove_all_peers(ctl);
	for (size_t i = 0; i < set->n_peers; i++) {
		rc = uapi_apply_peer(ctl, &set->peers[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static const struct mg_uapi_ops uapi_ops = {
    .get = uapi_get,
    .set = uapi_set,
};

int mg_control_uapi_start(struct mg_control *ctl, char *err, size_t errlen)
{
	ctl->uapi = mg_uapi_server_open(ctl->cfg.uapi_dir, ctl->cfg.ifname, &uapi_ops, ctl, NULL,
	                                err, errlen);
	return ctl->uapi ? 0 : -1;
}

void mg_control_uapi_stop(struct mg_control *ctl)
{
	mg_uapi_server_close(ctl->uapi);
	ctl->uapi = NULL;
}

unsigned mg_control_uapi_poll(struct mg_control *ctl, int timeout_ms)
{
	if (!ctl->uapi)
		return 0;
	int n = mg_uapi_server_poll(ctl->uapi, timeout_ms);
	return n > 0 ? (unsigned)n : 0;
}
