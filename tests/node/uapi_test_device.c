// SPDX-License-Identifier: GPL-2.0-only
/* The UAPI tests' in-memory device: the apply order of uapi.h, on a copy that is kept only if
 * every step succeeds. */
#include "uapi_test_device.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "keys.h"

struct tdev_peer *tdev_find(struct tdev *d, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (memcmp(d->peers[i].public_key, key, WG_KEY_LEN) == 0)
			return &d->peers[i];
	return NULL;
}

static void remove_peer(struct tdev *d, struct tdev_peer *p)
{
	*p = d->peers[--d->n_peers];
}

static bool same_prefix(const struct mg_prefix *a, const struct mg_prefix *b)
{
	return a->family == b->family && a->len == b->len && memcmp(a->addr, b->addr, 16) == 0;
}

/* A prefix belongs to one peer: adding it elsewhere takes it away from its old owner. */
static int add_ip(struct tdev *d, struct tdev_peer *owner, const struct mg_prefix *p)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct tdev_peer *q = &d->peers[i];

		for (size_t j = 0; j < q->n_ips; j++) {
			if (!same_prefix(&q->ips[j], p))
				continue;
			if (q == owner)
				return 0;
			q->ips[j] = q->ips[--q->n_ips];
			break;
		}
	}
	if (owner->n_ips == TDEV_MAX_IPS)
		return -ENOSPC;
	owner->ips[owner->n_ips++] = *p;
	return 0;
}

static int apply_peer(struct tdev *d, const struct mg_uapi_peer_change *c, const uint8_t *own_pub)
{
	struct tdev_peer *p = tdev_find(d, c->public_key);

	if (own_pub && memcmp(c->public_key, own_pub, WG_KEY_LEN) == 0)
		return 0;
	if (c->remove) {
		if (p)
			remove_peer(d, p);
		return 0;
	}
	if (!p) {
		if (c->update_only)
			return 0;
		if (d->n_peers == TDEV_MAX_PEERS)
			return -ENOSPC;
		p = &d->peers[d->n_peers++];
		memset(p, 0, sizeof(*p));
		memcpy(p->public_key, c->public_key, WG_KEY_LEN);
	}
	if (c->has_preshared_key)
		memcpy(p->preshared_key, c->preshared_key, WG_KEY_LEN);
	if (c->has_endpoint)
		p->endpoint = c->endpoint;
	if (c->has_persistent_keepalive)
		p->keepalive = c->persistent_keepalive;
	if (c->replace_allowed_ips)
		p->n_ips = 0;
	for (size_t i = 0; i < c->n_allowed_ips; i++) {
		int rc = add_ip(d, p, &c->allowed_ips[i]);

		if (rc)
			return rc;
	}
	return 0;
}

static int tdev_set(void *ctx, const struct mg_uapi_set *set)
{
	struct tdev *d = ctx, next = *d;
	uint8_t own_pub[WG_KEY_LEN];
	bool have_pub = false;
	int rc = 0;

	d->sets++;
	next.sets = d->sets;
	if (set->has_private_key)
		memcpy(next.private_key, set->private_key, WG_KEY_LEN);
	if (!wg_key_is_zero(next.private_key) && wg_key_public(own_pub, next.private_key) == WG_OK)
		have_pub = true;
	if (set->has_private_key && have_pub) {
		struct tdev_peer *self = tdev_find(&next, own_pub);

		if (self)
			remove_peer(&next, self);
	}
	if (set->has_listen_port) {
		if (set->listen_port && set->listen_port == d->busy_port)
			return -EADDRINUSE;
		next.listen_port = set->listen_port;
	}
	if (set->has_fwmark)
		next.fwmark = set->fwmark;
	if (set->replace_peers)
		next.n_peers = 0;
	for (size_t i = 0; i < set->n_peers && rc == 0; i++)
		rc = apply_peer(&next, &set->peers[i], have_pub ? own_pub : NULL);
	if (rc == 0)
		*d = next;
	wg_memzero(&next, sizeof(next));
	return rc;
}

static int tdev_get(void *ctx, struct mg_uapi_buf *out)
{
	struct tdev *d = ctx;
	struct mg_uapi_device_info info;

	d->gets++;
	memcpy(info.private_key, d->private_key, WG_KEY_LEN);
	info.listen_port = d->listen_port;
	info.fwmark = d->fwmark;
	mg_uapi_emit_device(out, &info);
	wg_memzero(&info, sizeof(info));
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct tdev_peer *p = &d->peers[i];
		struct mg_uapi_peer_info pi = {
		    .endpoint = p->endpoint,
		    .last_handshake_sec = p->handshake_sec,
		    .last_handshake_nsec = p->handshake_nsec,
		    .rx_bytes = p->rx,
		    .tx_bytes = p->tx,
		    .persistent_keepalive = p->keepalive,
		    .allowed_ips = p->ips,
		    .n_allowed_ips = p->n_ips,
		};

		memcpy(pi.public_key, p->public_key, WG_KEY_LEN);
		memcpy(pi.preshared_key, p->preshared_key, WG_KEY_LEN);
		mg_uapi_emit_peer(out, &pi);
	}
	return 0;
}

const struct mg_uapi_ops tdev_ops = {.get = tdev_get, .set = tdev_set};
