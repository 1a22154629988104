// SPDX-License-Identifier: GPL-2.0-only
#include "relay_home.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "relay_dial.h"

#define RECONNECT_MIN_S    1
#define RECONNECT_MAX_S    16
#define DEFAULT_TIMEOUT_MS 5000

/* A relay the node may home on: the static one, or one of the map. */
struct cand {
	struct mg_netmap_relay r;
	int connect_ms;     /* last TCP + TLS + proof time; -1: never connected */
	int64_t skip_until; /* failed: tried again only when no other is left */
};

struct mg_relay_home {
	bool is_static;
	char region[64];
	uint32_t fwmark;
	int timeout_ms;
	uint8_t sk[32];
	void *tls;
	struct mg_relay_dial dial;
	struct cand cands[MG_NETMAP_MAX_RELAYS];
	size_t n_cands;
	int home; /* index in cands of the connected relay, -1 */
	struct mg_relay_client *rc;
	int64_t next_connect;
	unsigned backoff;
	char error[400];
	uint64_t connects;
};

struct mg_relay_home *mg_relay_home_new(const struct mg_relay_home_config *cfg,
                                        const uint8_t private_key[32], char *err, size_t errlen)
{
	struct mg_relay_home *h = calloc(1, sizeof(*h));

	if (!h) {
		snprintf(err, errlen, "relay: no memory");
		return NULL;
	}
	h->tls = mg_relay_tls_ctx_new(cfg->ca_file && cfg->ca_file[0] ? cfg->ca_file : NULL, err,
	                              errlen);
	if (!h->tls) {
		free(h);
		return NULL;
	}
	memcpy(h->sk, private_key, 32);
	snprintf(h->region, sizeof(h->region), "%s", cfg->region ? cfg->region : "");
	h->fwmark = cfg->fwmark;
	h->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	h->backoff = RECONNECT_MIN_S;
	h->home = -1;
	if (cfg->host && cfg->host[0]) {
		struct cand *c = &h->cands[h->n_cands++];

		h->is_static = true;
		snprintf(c->r.name, sizeof(c->r.name), "%s", cfg->name ? cfg->name : "");
		snprintf(c->r.host, sizeof(c->r.host), "%s", cfg->host);
		snprintf(c->r.server_name, sizeof(c->r.server_name), "%s",
		         cfg->server_name ? cfg->server_name : "");
		c->r.port = cfg->port;
		c->connect_ms = -1;
	}
	return h;
}

void mg_relay_home_free(struct mg_relay_home *h)
{
	if (!h)
		return;
	if (h->dial.active) {
		mg_relay_dial_join(&h->dial);
		mg_relay_client_close(h->dial.rc);
	}
	mg_relay_client_close(h->rc);
	mg_relay_tls_ctx_free(h->tls);
	wg_memzero(h->sk, sizeof(h->sk));
	free(h);
}

void mg_relay_home_set_key(struct mg_relay_home *h, const uint8_t private_key[32])
{
	memcpy(h->sk, private_key, 32);
}

bool mg_relay_home_set_map(struct mg_relay_home *h, const struct mg_netmap_relay *relays, size_t n,
                           int64_t now)
{
	struct cand next[MG_NETMAP_MAX_RELAYS];
	int home = -1;
	bool closed = false;

	if (h->is_static)
		return false;
	if (n > MG_NETMAP_MAX_RELAYS)
		n = MG_NETMAP_MAX_RELAYS;
	for (size_t i = 0; i < n; i++) {
		next[i] = (struct cand){.r = relays[i], .connect_ms = -1};
		if (!next[i].r.server_name[0])
			snprintf(next[i].r.server_name, sizeof(next[i].r.server_name), "%s",
			         relays[i].host);
		/* What was learnt of a relay survives a new map that still lists it. */
		for (size_t j = 0; j < h->n_cands; j++) {
			const struct cand *o = &h->cands[j];

			if (strcmp(o->r.name, relays[i].name) != 0)
				continue;
			next[i].connect_ms = o->connect_ms;
			next[i].skip_until = o->skip_until;
			if ((int)j == h->home && strcmp(o->r.host, relays[i].host) == 0 &&
			    o->r.port == relays[i].port)
				home = (int)i;
		}
	}
	if (h->rc && home < 0) {
		mg_log(MG_LOG_NOTICE, "relay: the home relay left the relay map", "relay",
		       h->cands[h->home].r.name, NULL);
		mg_relay_client_close(h->rc);
		h->rc = NULL;
		h->next_connect = now;
		closed = true;
	}
	memcpy(h->cands, next, n * sizeof(*next));
	h->n_cands = n;
	h->home = home;
	return closed;
}

/* The relay to try next: not recently failed, preferred region, fastest, map order. With all
 * of them failed, the one whose pause ends first. */
static int pick(const struct mg_relay_home *h, int64_t now)
{
	int best = -1;

	for (size_t i = 0; i < h->n_cands; i++) {
		const struct cand *c = &h->cands[i], *b = best >= 0 ? &h->cands[best] : NULL;
		bool c_ok = c->skip_until <= now, b_ok;
		bool c_pref = h->region[0] && strcmp(c->r.region, h->region) == 0, b_pref;
		unsigned c_ms = (unsigned)c->connect_ms, b_ms; /* -1: unmeasured, after all */

		if (!b) {
			best = (int)i;
			continue;
		}
		b_ok = b->skip_until <= now;
		b_pref = h->region[0] && strcmp(b->r.region, h->region) == 0;
		b_ms = (unsigned)b->connect_ms;
		if (c_ok != b_ok) {
			if (c_ok)
				best = (int)i;
		} else if (!c_ok) {
			if (c->skip_until < b->skip_until)
				best = (int)i;
		} else if (c_pref != b_pref) {
			if (c_pref)
				best = (int)i;
		} else if (c_ms < b_ms) {
			best = (int)i;
		}
	}
	return best;
}

void mg_relay_home_tick(struct mg_relay_home *h, int64_t now)
{
	int i;

	if (h->rc || h->dial.active || now < h->next_connect || (i = pick(h, now)) < 0)
		return;
	if (mg_relay_dial_start(&h->dial, &h->cands[i].r, h->tls, h->sk, h->fwmark,
	                        h->timeout_ms) != 0)
		h->next_connect = now + RECONNECT_MIN_S;
}

int mg_relay_home_dial_fd(const struct mg_relay_home *h)
{
	return mg_relay_dial_fd(&h->dial);
}

bool mg_relay_home_dial_over(const struct mg_relay_home *h)
{
	return mg_relay_dial_over(&h->dial);
}

bool mg_relay_home_finish(struct mg_relay_home *h, int64_t now)
{
	struct mg_relay_dial *d = &h->dial;
	struct cand *c = NULL;
	char ms[16];
	int i;

	if (!d->active)
		return h->rc != NULL;
	mg_relay_dial_join(d);
	for (size_t k = 0; k < h->n_cands; k++)
		if (strcmp(h->cands[k].r.name, d->name) == 0)
			c = &h->cands[k];
	if (d->rc && !c) {
		/* The map dropped it while we dialled. */
		mg_relay_client_close(d->rc);
		d->rc = NULL;
		h->next_connect = now;
		return false;
	}
	if (!d->rc) {
		snprintf(h->error, sizeof(h->error), "%s: %s", d->name, d->err);
		mg_log(MG_LOG_WARNING, "relay: cannot connect", "relay", d->name, "error", d->err,
		       NULL);
		if (c)
			c->skip_until = now + RECONNECT_MAX_S;
		/* Straight on to the next relay when there is one; back off when all failed. */
		i = pick(h, now);
		if (i >= 0 && h->cands[i].skip_until <= now) {
			h->next_connect = now;
		} else {
			h->next_connect = now + h->backoff;
			h->backoff =
			    h->backoff * 2 > RECONNECT_MAX_S ? RECONNECT_MAX_S : h->backoff * 2;
		}
		return false;
	}
	h->rc = d->rc;
	d->rc = NULL;
	c->connect_ms = mg_relay_dial_elapsed_ms(d);
	c->skip_until = 0;
	h->home = (int)(c - h->cands);
	h->error[0] = '\0';
	h->backoff = RECONNECT_MIN_S;
	h->connects++;
	snprintf(ms, sizeof(ms), "%d", c->connect_ms);
	mg_log(MG_LOG_NOTICE, "relay: connected", "relay", c->r.name, "host", c->r.host,
	       "connect_ms", ms, NULL);
	return true;
}

void mg_relay_home_down(struct mg_relay_home *h, int64_t now, const char *why)
{
	if (!h->rc)
		return;
	snprintf(h->error, sizeof(h->error), "%s", why ? why : "closed");
	mg_log(MG_LOG_WARNING, "relay: connection lost", "relay", h->cands[h->home].r.name, "error",
	       h->error, NULL);
	mg_relay_client_close(h->rc);
	h->rc = NULL;
	/* Another relay of the map at the next tick; this one only when none other is left. */
	h->cands[h->home].skip_until = now + RECONNECT_MAX_S;
	h->home = -1;
	h->next_connect = now;
	h->backoff = RECONNECT_MIN_S;
}

struct mg_relay_client *mg_relay_home_client(const struct mg_relay_home *h)
{
	return h ? h->rc : NULL;
}

const struct mg_netmap_relay *mg_relay_home_relay(const struct mg_relay_home *h)
{
	return h && h->rc && h->home >= 0 ? &h->cands[h->home].r : NULL;
}

const struct mg_netmap_relay *mg_relay_home_find(const struct mg_relay_home *h, const char *name)
{
	for (size_t i = 0; i < h->n_cands; i++)
		if (strcmp(h->cands[i].r.name, name) == 0)
			return &h->cands[i].r;
	return NULL;
}

void *mg_relay_home_tls(const struct mg_relay_home *h)
{
	return h->tls;
}

void mg_relay_home_get_info(const struct mg_relay_home *h, struct mg_relay_home_info *info)
{
	info->dialling = h->dial.active ? h->dial.name : "";
	info->error = h->error;
	info->candidates = h->n_cands;
	info->connects = h->connects;
	info->connect_ms = h->rc && h->home >= 0 ? h->cands[h->home].connect_ms : -1;
}
