// SPDX-License-Identifier: GPL-2.0-only
/* Disco messages: seal, open, replay window (disco.h, docs/nat-traversal.md). */
#include "disco.h"

#include <string.h>

#include <sodium.h>

#include "port_demux.h"

const char *mg_disco_result_str(enum mg_disco_result r)
{
	static const char *const n[MG_DISCO_ERR_COUNT] = {
	    "ok",     "short",    "too_long", "bad_magic", "bad_version", "wrong_peer",
	    "forged", "bad_type", "bad_body", "replay",    "stale",       "clock_skew"};
	return (unsigned)r < MG_DISCO_ERR_COUNT ? n[r] : "?";
}

int mg_disco_node_init(struct mg_disco_node *n, const uint8_t sk[32])
{
	memset(n, 0, sizeof(*n));
	memcpy(n->sk, sk, 32);
	n->max_skew_ms = MG_DISCO_DEFAULT_SKEW_MS;
	/* The WireGuard private key is the X25519 secret crypto_box uses: no conversion. */
	return crypto_scalarmult_base(n->pk, n->sk) == 0 ? 0 : -1;
}

void mg_disco_node_clear(struct mg_disco_node *n)
{
	sodium_memzero(n, sizeof(*n));
}

int mg_disco_peer_init(struct mg_disco_peer *p, const struct mg_disco_node *self,
                       const uint8_t peer_pk[32])
{
	memset(p, 0, sizeof(*p));
	memcpy(p->pk, peer_pk, 32);
	/* Talking to ourselves would let a reflected message be accepted as the peer's. */
	if (sodium_memcmp(peer_pk, self->pk, 32) == 0)
		return -1;
	return crypto_box_beforenm(p->shared, peer_pk, self->sk) == 0 ? 0 : -1;
}

void mg_disco_peer_clear(struct mg_disco_peer *p)
{
	sodium_memzero(p, sizeof(*p));
}

bool mg_disco_is_disco(const uint8_t *buf, size_t len)
{
	return mg_demux_is_disco(buf, len);
}

const uint8_t *mg_disco_sender(const uint8_t *buf, size_t len)
{
	if (len < MG_DISCO_HDR_LEN || !mg_disco_is_disco(buf, len))
		return NULL;
	return buf + MG_DISCO_MAGIC_LEN + 1;
}

void mg_disco_new_txid(uint8_t txid[MG_DISCO_TXID_LEN])
{
	randombytes_buf(txid, MG_DISCO_TXID_LEN);
}

static void put_ep(uint8_t *p, const struct mg_sockaddr *a)
{
	memset(p, 0, MG_DISCO_EP_LEN);
	p[0] = a->family;
	p[2] = (uint8_t)(a->port >> 8);
	p[3] = (uint8_t)a->port;
	memcpy(p + 4, a->addr, a->family == 4 ? 4 : 16);
}

static bool get_ep(const uint8_t *p, struct mg_sockaddr *a)
{
	size_t alen = p[0] == 4 ? 4 : 16;

	if ((p[0] != 4 && p[0] != 6) || p[1] != 0)
		return false;
	/* One encoding per endpoint: an IPv4 address leaves the rest zero. */
	for (size_t i = 4 + alen; i < MG_DISCO_EP_LEN; i++)
		if (p[i])
			return false;
	memset(a, 0, sizeof(*a));
	a->family = p[0];
	a->port = (uint16_t)(p[2] << 8 | p[3]);
	memcpy(a->addr, p + 4, alen);
	return a->port != 0;
}

static size_t encode_plain(const struct mg_disco_msg *m, uint8_t *p)
{
	size_t len = MG_DISCO_PLAIN_HDR;

	p[0] = (uint8_t)m->type;
	p[1] = 0;
	memcpy(p + 2, m->txid, MG_DISCO_TXID_LEN);
	for (int i = 0; i < 8; i++)
		p[14 + i] = (uint8_t)(m->sent_ms >> (56 - 8 * i));
	switch (m->type) {
	case MG_DISCO_PING:
		break;
	case MG_DISCO_PONG:
		if (m->src.family != 4 && m->src.family != 6)
			return 0;
		put_ep(p + len, &m->src);
		len += MG_DISCO_EP_LEN;
		break;
	case MG_DISCO_CALL_ME_MAYBE:
		if (m->n_eps > MG_DISCO_MAX_EPS)
			return 0;
		p[len++] = (uint8_t)m->n_eps;
		for (unsigned i = 0; i < m->n_eps; i++, len += MG_DISCO_EP_LEN) {
			if (m->eps[i].family != 4 && m->eps[i].family != 6)
				return 0;
			put_ep(p + len, &m->eps[i]);
		}
		break;
	default:
		return 0;
	}
	return len;
}

size_t mg_disco_seal(struct mg_disco_node *self, const struct mg_disco_peer *peer,
                     struct mg_disco_msg *m, uint64_t now_ms, uint8_t *out, size_t cap)
{
	uint8_t plain[MG_DISCO_MAX_PLAIN];
	size_t plen, total;
	uint8_t *nonce = out + MG_DISCO_MAGIC_LEN + 1 + 32;

	m->sent_ms = now_ms;
	plen = encode_plain(m, plain);
	total = MG_DISCO_HDR_LEN + MG_DISCO_MAC_LEN + plen;
	if (!plen || cap < total)
		return 0;
	memcpy(out, MG_DISCO_MAGIC, MG_DISCO_MAGIC_LEN);
	out[MG_DISCO_MAGIC_LEN] = MG_DISCO_VERSION;
	memcpy(out + MG_DISCO_MAGIC_LEN + 1, self->pk, 32);
	/* Random 24-byte nonces never repeat in practice, and need no state across restarts. */
	randombytes_buf(nonce, MG_DISCO_NONCE_LEN);
	if (crypto_box_easy_afternm(out + MG_DISCO_HDR_LEN, plain, plen, nonce, peer->shared) != 0)
		return 0;
	self->stats.sealed++;
	return total;
}

static enum mg_disco_result decode_plain(const uint8_t *p, size_t len, struct mg_disco_msg *m)
{
	size_t body = len - MG_DISCO_PLAIN_HDR;
	const uint8_t *b = p + MG_DISCO_PLAIN_HDR;

	memset(m, 0, sizeof(*m));
	if (p[1] != 0)
		return MG_DISCO_ERR_TYPE;
	m->type = p[0];
	memcpy(m->txid, p + 2, MG_DISCO_TXID_LEN);
	for (int i = 0; i < 8; i++)
		m->sent_ms = m->sent_ms << 8 | p[14 + i];
	switch (p[0]) {
	case MG_DISCO_PING:
		/* No body: a ping that asked for more would be a reflection amplifier. */
		return body == 0 ? MG_DISCO_OK : MG_DISCO_ERR_BODY;
	case MG_DISCO_PONG:
		if (body != MG_DISCO_EP_LEN || !get_ep(b, &m->src))
			return MG_DISCO_ERR_BODY;
		return MG_DISCO_OK;
	case MG_DISCO_CALL_ME_MAYBE:
		if (body < 1 || b[0] > MG_DISCO_MAX_EPS ||
		    body != 1 + (size_t)b[0] * MG_DISCO_EP_LEN)
			return MG_DISCO_ERR_BODY;
		m->n_eps = b[0];
		for (unsigned i = 0; i < m->n_eps; i++)
			if (!get_ep(b + 1 + i * MG_DISCO_EP_LEN, &m->eps[i]))
				return MG_DISCO_ERR_BODY;
		return MG_DISCO_OK;
	default:
		return MG_DISCO_ERR_TYPE;
	}
}

static enum mg_disco_result window_check(const struct mg_disco_node *self,
                                         const struct mg_disco_peer *p, const uint8_t *nonce,
                                         uint64_t sent_ms, uint64_t now_ms, unsigned *oldest)
{
	uint64_t diff = sent_ms > now_ms ? sent_ms - now_ms : now_ms - sent_ms;

	*oldest = 0;
	for (unsigned i = 0; i < p->n_seen; i++) {
		if (memcmp(p->seen[i].nonce_tag, nonce, 8) == 0)
			return MG_DISCO_ERR_REPLAY;
		if (p->seen[i].sent_ms < p->seen[*oldest].sent_ms)
			*oldest = i;
	}
	if (p->n_seen == MG_DISCO_WINDOW && sent_ms <= p->seen[*oldest].sent_ms)
		return MG_DISCO_ERR_STALE;
	if (self->max_skew_ms && diff > self->max_skew_ms)
		return MG_DISCO_ERR_SKEW;
	return MG_DISCO_OK;
}

static enum mg_disco_result do_open(struct mg_disco_node *self, struct mg_disco_peer *peer,
                                    const uint8_t *buf, size_t len, uint64_t now_ms,
                                    struct mg_disco_msg *out)
{
	uint8_t plain[MG_DISCO_MAX_PLAIN];
	const uint8_t *nonce = buf + MG_DISCO_MAGIC_LEN + 1 + 32;
	size_t clen = len - MG_DISCO_HDR_LEN, plen = clen - MG_DISCO_MAC_LEN;
	enum mg_disco_result r;
	unsigned slot;

	if (len < MG_DISCO_MAGIC_LEN || !mg_disco_is_disco(buf, len))
		return MG_DISCO_ERR_MAGIC;
	if (len < MG_DISCO_HDR_LEN + MG_DISCO_MAC_LEN + MG_DISCO_PLAIN_HDR)
		return MG_DISCO_ERR_SHORT;
	if (len > MG_DISCO_MAX_LEN)
		return MG_DISCO_ERR_TOO_LONG;
	if (buf[MG_DISCO_MAGIC_LEN] != MG_DISCO_VERSION)
		return MG_DISCO_ERR_VERSION;
	if (sodium_memcmp(buf + MG_DISCO_MAGIC_LEN + 1, peer->pk, 32) != 0)
		return MG_DISCO_ERR_WRONG_PEER;
	if (crypto_box_open_easy_afternm(plain, buf + MG_DISCO_HDR_LEN, clen, nonce,
	                                 peer->shared) != 0)
		return MG_DISCO_ERR_FORGED;
	r = decode_plain(plain, plen, out);
	sodium_memzero(plain, sizeof(plain));
	if (r != MG_DISCO_OK)
		return r;
	r = window_check(self, peer, nonce, out->sent_ms, now_ms, &slot);
	if (r != MG_DISCO_OK)
		return r;
	/* Only an authentic, well-formed, fresh message takes a slot: forgeries cannot flush
	 * the window. A full window gives up its oldest entry. */
	if (peer->n_seen < MG_DISCO_WINDOW)
		slot = peer->n_seen++;
	memcpy(peer->seen[slot].nonce_tag, nonce, 8);
	peer->seen[slot].sent_ms = out->sent_ms;
	return MG_DISCO_OK;
}

enum mg_disco_result mg_disco_open(struct mg_disco_node *self, struct mg_disco_peer *peer,
                                   const uint8_t *buf, size_t len, uint64_t now_ms,
                                   struct mg_disco_msg *out)
{
	enum mg_disco_result r = do_open(self, peer, buf, len, now_ms, out);

	if (r == MG_DISCO_OK)
		self->stats.opened++;
	else
		self->stats.refused[r]++;
	return r;
}
