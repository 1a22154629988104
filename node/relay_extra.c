// SPDX-License-Identifier: GPL-2.0-only
#include "relay_extra.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

#define RETRY_MIN_S 1
#define RETRY_MAX_S 16

void mg_relay_extras_init(struct mg_relay_extras *ex, const struct mg_relay_home *home,
                          const uint8_t sk[32], uint32_t fwmark, int timeout_ms)
{
	memset(ex, 0, sizeof(*ex));
	ex->home = home;
	memcpy(ex->sk, sk, sizeof(ex->sk));
	ex->fwmark = fwmark;
	ex->timeout_ms = timeout_ms;
}

static void slot_close(struct mg_relay_extra *x)
{
	mg_relay_client_close(x->rc);
	x->rc = NULL;
}

/* Frees the slot; a dial still running is joined and its connection closed when it ends. */
static void slot_release(struct mg_relay_extra *x)
{
	slot_close(x);
	x->name[0] = '\0';
	x->idle = false;
}

void mg_relay_extras_free(struct mg_relay_extras *ex)
{
	for (size_t i = 0; i < MG_RELAY_EXTRA_MAX; i++) {
		struct mg_relay_extra *x = &ex->x[i];

		if (x->dial.active) {
			mg_relay_dial_join(&x->dial);
			mg_relay_client_close(x->dial.rc);
			x->dial.rc = NULL;
		}
		slot_release(x);
	}
	wg_memzero(ex->sk, sizeof(ex->sk));
}

void mg_relay_extras_set_key(struct mg_relay_extras *ex, const uint8_t sk[32])
{
	memcpy(ex->sk, sk, sizeof(ex->sk));
}

const struct mg_netmap_relay *mg_relay_extras_target(const struct mg_relay_extras *ex,
                                                     const char *peer_home)
{
	const struct mg_netmap_relay *ours = mg_relay_home_relay(ex->home), *r;

	if (!ours || !peer_home || !peer_home[0] || strcmp(peer_home, ours->name) == 0 ||
	    !(r = mg_relay_home_find(ex->home, peer_home)))
		return NULL;
	/* A relay of our own region reaches the peer through the relay mesh. */
	return strcmp(r->region, ours->region) == 0 ? NULL : r;
}

static struct mg_relay_extra *named(struct mg_relay_extras *ex, const char *name)
{
	for (size_t i = 0; i < MG_RELAY_EXTRA_MAX; i++)
		if (ex->x[i].name[0] && strcmp(ex->x[i].name, name) == 0)
			return &ex->x[i];
	return NULL;
}

const struct mg_relay_extra *mg_relay_extras_find(const struct mg_relay_extras *ex,
                                                  const char *peer_home)
{
	for (size_t i = 0; peer_home && peer_home[0] && i < MG_RELAY_EXTRA_MAX; i++)
		if (ex->x[i].rc && strcmp(ex->x[i].name, peer_home) == 0)
			return &ex->x[i];
	return NULL;
}

/* The slot for r, taken when none has it yet; NULL when all are busy (bounded: the peer's
 * packets then go through the home relay). */
static struct mg_relay_extra *slot_for(struct mg_relay_extras *ex, const struct mg_netmap_relay *r,
                                       int64_t now)
{
	struct mg_relay_extra *x = named(ex, r->name);

	for (size_t i = 0; i < MG_RELAY_EXTRA_MAX && !x; i++)
		if (!ex->x[i].name[0] && !ex->x[i].dial.active) {
			x = &ex->x[i];
			snprintf(x->name, sizeof(x->name), "%s", r->name);
			x->next_try = now;
			x->last_used = now;
			x->idle = false;
		}
	return x;
}

static void dial(struct mg_relay_extras *ex, struct mg_relay_extra *x,
                 const struct mg_netmap_relay *r, int64_t now)
{
	if (x->rc || x->dial.active || now < x->next_try)
		return;
	if (mg_relay_dial_start(&x->dial, r, mg_relay_home_tls(ex->home), ex->sk, ex->fwmark,
	                        ex->timeout_ms) != 0)
		x->next_try = now + RETRY_MAX_S;
}

void mg_relay_extras_begin(struct mg_relay_extras *ex)
{
	for (size_t i = 0; i < MG_RELAY_EXTRA_MAX; i++)
		ex->x[i].wanted = false;
}

void mg_relay_extras_want(struct mg_relay_extras *ex, const char *peer_home, int64_t now)
{
	const struct mg_netmap_relay *r = mg_relay_extras_target(ex, peer_home);
	struct mg_relay_extra *x;

	if (!r || !(x = slot_for(ex, r, now)))
		return;
	x->wanted = true;
	if (!x->idle)
		dial(ex, x, r, now);
}

void mg_relay_extras_end(struct mg_relay_extras *ex, int64_t now)
{
	/* While the home relay is being dialled again nothing is a target: the connections stay
	 * as they are (peers homed there keep their path through a failover of ours). */
	if (!mg_relay_home_relay(ex->home))
		return;
	for (size_t i = 0; i < MG_RELAY_EXTRA_MAX; i++) {
		struct mg_relay_extra *x = &ex->x[i];

		if (!x->name[0])
			continue;
		if (!x->wanted || !mg_relay_extras_target(ex, x->name)) {
			if (x->rc)
				mg_log(MG_LOG_INFO, "relay: closed a peer's home relay", "relay",
				       x->name, "why", "no relayed peer is homed there", NULL);
			slot_release(x);
		} else if (x->rc && now - x->last_used >= MG_RELAY_EXTRA_IDLE_S) {
			mg_log(MG_LOG_INFO, "relay: closed a peer's home relay", "relay", x->name,
			       "why", "idle", NULL);
			slot_close(x);
			x->idle = true;
			ex->idle_closes++;
		}
	}
}

struct mg_relay_client *mg_relay_extras_use(struct mg_relay_extras *ex, const char *peer_home,
                                            int64_t now)
{
	const struct mg_netmap_relay *r = mg_relay_extras_target(ex, peer_home);
	struct mg_relay_extra *x;

	if (!r && !mg_relay_home_relay(ex->home)) {
		/* Our home relay is down: a connection made before still serves its peers. */
		x = (struct mg_relay_extra *)mg_relay_extras_find(ex, peer_home);
		if (x)
			x->last_used = now;
		return x ? x->rc : NULL;
	}
	if (!r || !(x = slot_for(ex, r, now)))
		return NULL;
	x->last_used = now;
	if (x->idle) {
		x->idle = false;
		x->next_try = now;
	}
	dial(ex, x, r, now);
	return x->rc;
}

int mg_relay_extra_fd(const struct mg_relay_extra *x)
{
	return x->rc ? mg_relay_client_fd(x->rc) : mg_relay_dial_fd(&x->dial);
}

short mg_relay_extra_events(const struct mg_relay_extra *x)
{
	return x->rc ? mg_relay_client_events(x->rc) : POLLIN;
}

void mg_relay_extras_finish(struct mg_relay_extras *ex, size_t i, int64_t now)
{
	struct mg_relay_extra *x = &ex->x[i];

	mg_relay_dial_join(&x->dial);
	if (!x->dial.rc) {
		mg_log(MG_LOG_WARNING, "relay: cannot connect to a peer's home relay", "relay",
		       x->dial.name, "error", x->dial.err, NULL);
		ex->failures++;
		x->next_try = now + RETRY_MAX_S;
		return;
	}
	x->rc = x->dial.rc;
	x->dial.rc = NULL;
	if (!x->name[0] || strcmp(x->name, x->dial.name) != 0) { /* released while dialling */
		mg_relay_client_close(x->rc);
		x->rc = NULL;
		return;
	}
	ex->connects++;
	x->last_used = now;
	mg_log(MG_LOG_NOTICE, "relay: connected to a peer's home relay", "relay", x->name, NULL);
}

void mg_relay_extras_down(struct mg_relay_extras *ex, size_t i, int64_t now)
{
	struct mg_relay_extra *x = &ex->x[i];

	mg_log(MG_LOG_WARNING, "relay: lost a peer's home relay", "relay", x->name, "error",
	       x->rc ? mg_relay_client_error(x->rc) : "", NULL);
	slot_close(x);
	x->next_try = now + RETRY_MIN_S;
}

size_t mg_relay_extras_connected(const struct mg_relay_extras *ex)
{
	size_t n = 0;

	for (size_t i = 0; i < MG_RELAY_EXTRA_MAX; i++)
		n += ex->x[i].rc != NULL;
	return n;
}
