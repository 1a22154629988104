// SPDX-License-Identifier: GPL-2.0-only
/* Disco pings answered on the agent's socket (disco_sock.h). */
#include "disco_sock.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

struct disco_entry {
	struct mg_disco_peer p;
};

struct mg_agent_disco {
	struct mg_disco_node self;
	struct disco_entry *e;
	size_t n, cap;
	uint64_t pongs, unknown_sender, not_disco, relay_mismatch;
	mg_agent_disco_msg_fn fn;
	void *ctx;
	mg_agent_disco_relay_tx_fn relay_tx;
	void *relay_ctx;
};

void mg_agent_disco_set_relay_tx(struct mg_agent_disco *d, mg_agent_disco_relay_tx_fn fn, void *ctx)
{
	d->relay_tx = fn;
	d->relay_ctx = ctx;
}

struct mg_agent_disco *mg_agent_disco_new(const uint8_t private_key[32])
{
	struct mg_agent_disco *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (mg_disco_node_init(&d->self, private_key) != 0) {
		free(d);
		return NULL;
	}
	d->self.max_skew_ms = MG_DISCO_DEFAULT_SKEW_MS;
	return d;
}

void mg_agent_disco_free(struct mg_agent_disco *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		mg_disco_peer_clear(&d->e[i].p);
	free(d->e);
	mg_disco_node_clear(&d->self);
	free(d);
}

static struct mg_disco_peer *peer_for(struct mg_agent_disco *d, const uint8_t key[32])
{
	for (size_t i = 0; i < d->n; i++)
		if (memcmp(d->e[i].p.pk, key, 32) == 0)
			return &d->e[i].p;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct disco_entry *e = realloc(d->e, cap * sizeof(*e));

		if (!e)
			return NULL;
		d->e = e;
		d->cap = cap;
	}
	if (mg_disco_peer_init(&d->e[d->n].p, &d->self, key) != 0)
		return NULL;
	return &d->e[d->n++].p;
}

void mg_agent_disco_set_handler(struct mg_agent_disco *d, mg_agent_disco_msg_fn fn, void *ctx)
{
	d->fn = fn;
	d->ctx = ctx;
}

size_t mg_agent_disco_seal(struct mg_agent_disco *d, const struct mg_netmap_state *st,
                           const uint8_t key[32], struct mg_disco_msg *m, uint64_t now_unix_ms,
                           uint8_t *out, size_t cap)
{
	struct mg_disco_peer *p;

	if (!mg_netmap_find(st, key) || !(p = peer_for(d, key)))
		return 0;
	return mg_disco_seal(&d->self, p, m, now_unix_ms, out, cap);
}

void mg_agent_disco_input(struct mg_agent_disco *d, const struct mg_netmap_state *st,
                          struct mg_nat_probe *np, const uint8_t *buf, size_t len,
                          const struct mg_sockaddr *from, const uint8_t *relay_key,
                          uint64_t now_unix_ms)
{
	const uint8_t *sender = mg_disco_sender(buf, len);
	struct mg_disco_peer *p;
	struct mg_disco_msg m, pong;
	uint8_t out[MG_DISCO_MAX_LEN];
	size_t n;

	if (!sender) {
		d->not_disco++;
		return;
	}
	/* Only the map's peers get a window: a stranger's key costs nothing here. */
	if (!mg_netmap_find(st, sender) || !(p = peer_for(d, sender))) {
		d->unknown_sender++;
		return;
	}
	/* The relay vouches for who sent the frame; a key inside that differs is someone
	 * replaying another node's message through their own connection. */
	if (!from && (!relay_key || memcmp(relay_key, sender, 32) != 0)) {
		d->relay_mismatch++;
		return;
	}
	if (mg_disco_open(&d->self, p, buf, len, now_unix_ms, &m) != MG_DISCO_OK)
		return;
	if (m.type != MG_DISCO_PING || (!from && !d->relay_tx)) {
		if (d->fn)
			d->fn(d->ctx, sender, &m, from);
		return;
	}
	memset(&pong, 0, sizeof(pong));
	pong.type = MG_DISCO_PONG;
	memcpy(pong.txid, m.txid, sizeof(pong.txid));
	if (from)
		pong.src = *from;
	else
		mg_sockaddr_parse(MG_AGENT_DISCO_RELAY_SRC, &pong.src);
	n = mg_disco_seal(&d->self, p, &pong, now_unix_ms, out, sizeof(out));
	if (n && (from ? mg_nat_probe_sendto(np, out, n, from)
	               : d->relay_tx(d->relay_ctx, sender, out, n)) == 0)
		d->pongs++;
	if (d->fn)
		d->fn(d->ctx, sender, &m, from);
}

void mg_agent_disco_prune(struct mg_agent_disco *d, const struct mg_netmap_state *st)
{
	for (size_t i = 0; i < d->n;) {
		if (mg_netmap_find(st, d->e[i].p.pk)) {
			i++;
			continue;
		}
		mg_disco_peer_clear(&d->e[i].p);
		d->e[i] = d->e[--d->n];
	}
}

void mg_agent_disco_status(const struct mg_agent_disco *d, FILE *f)
{
	const struct mg_disco_stats *s = &d->self.stats;

	fprintf(f,
	        "{\"pongs\":%llu,\"opened\":%llu,\"refused\":{\"unknown_sender\":%llu,"
	        "\"not_disco\":%llu,\"relay_mismatch\":%llu",
	        (unsigned long long)d->pongs, (unsigned long long)s->opened,
	        (unsigned long long)d->unknown_sender, (unsigned long long)d->not_disco,
	        (unsigned long long)d->relay_mismatch);
	for (int r = 1; r < MG_DISCO_ERR_COUNT; r++)
		fprintf(f, ",\"%s\":%llu", mg_disco_result_str((enum mg_disco_result)r),
		        (unsigned long long)s->refused[r]);
	fputs("}}", f);
}
