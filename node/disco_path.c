// SPDX-License-Identifier: GPL-2.0-only
/* Disco path selection for one peer; the rules are in disco_path.h. */
#include <string.h>

#include "disco_path.h"

void mg_disco_path_params_default(struct mg_disco_path_params *p)
{
	*p = (struct mg_disco_path_params){
	    .fast_relayed_us = 1000000,
	    .burst_us = 10000000,
	    .probe_relayed_us = 3000000,
	    .probe_direct_us = 5000000,
	    .heartbeat_us = 1500000,
	    .trust_us = 4000000,
	    .ping_timeout_us = 5000000,
	    .learned_ttl_us = 60000000,
	    .hysteresis_us = 1000,
	    .ping_relay = true,
	};
}

static bool ep_eq(const struct mg_sockaddr *a, const struct mg_sockaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       mg_addr_eq(a->family, a->addr, b->addr);
}

static bool ep_valid(const struct mg_sockaddr *e)
{
	return (e->family == 4 || e->family == 6) && e->port != 0;
}

static int find_cand(const struct mg_disco_path *p, const struct mg_sockaddr *ep)
{
	for (unsigned i = 0; i < p->n_cands; i++)
		if (ep_eq(&p->cands[i].ep, ep))
			return (int)i;
	return -1;
}

static void remove_cand(struct mg_disco_path *p, unsigned i)
{
	p->cands[i] = p->cands[--p->n_cands];
}

/* Adds ep (zeroed state) or returns -1 when full and nothing learned can make room. */
static int add_cand(struct mg_disco_path *p, const struct mg_sockaddr *ep)
{
	if (p->n_cands == MG_DISCO_PATH_MAX_CANDS) {
		/* The map's candidates outrank learned ones: evict the stalest learned one. */
		int victim = -1;
		for (unsigned i = 0; i < p->n_cands; i++) {
			const struct mg_disco_path_cand *c = &p->cands[i];
			if (c->from_map || ep_eq(&c->ep, &p->cur.ep))
				continue;
			if (victim < 0 || c->last_hint_us < p->cands[victim].last_hint_us)
				victim = (int)i;
		}
		if (victim < 0)
			return -1;
		remove_cand(p, (unsigned)victim);
	}
	p->cands[p->n_cands] = (struct mg_disco_path_cand){.ep = *ep};
	return (int)p->n_cands++;
}

static void send_ping(struct mg_disco_path *p, const struct mg_sockaddr *ep, uint64_t now)
{
	struct mg_disco_path_out *o = &p->out[p->out_next];

	p->out_next = (p->out_next + 1) % MG_DISCO_PATH_MAX_OUT;
	mg_disco_new_txid(o->txid);
	o->ep = ep ? *ep : (struct mg_sockaddr){0};
	o->sent_us = now;
	if (ep)
		p->stats.pings_sent++;
	else
		p->stats.pings_relay++;
	p->ops->send_ping(p->ops->ctx, p->peer, ep, o->txid);
}

static bool usable(const struct mg_disco_path *p, const struct mg_disco_path_cand *c, uint64_t now)
{
	return c->last_pong_us != 0 && now - c->last_pong_us < p->params->trust_us;
}

static void announce(struct mg_disco_path *p, const struct mg_disco_path_choice *c, uint64_t now)
{
	bool was_direct = p->announced && p->cur.kind == MG_DISCO_PATH_DIRECT;

	if (c->kind == MG_DISCO_PATH_DIRECT) {
		if (!was_direct) {
			p->stats.to_direct++;
			p->direct_since_us = now;
		} else {
			p->stats.direct_changes++;
		}
		p->next_heartbeat_us = now + p->params->heartbeat_us;
	} else {
		p->stats.to_relay += was_direct;
		p->direct_since_us = 0;
		if (was_direct) {
			/* Lost the direct path: probe hard to find it again. */
			p->burst_until_us = now + p->params->burst_us;
			p->next_probe_us = now;
		}
	}
	p->cur = *c;
	p->announced = true;
	p->ops->use_path(p->ops->ctx, p->peer, &p->cur);
}

static void choose(struct mg_disco_path *p, uint64_t now)
{
	const struct mg_disco_path_cand *best = NULL, *cur = NULL;

	for (unsigned i = 0; i < p->n_cands; i++) {
		const struct mg_disco_path_cand *c = &p->cands[i];
		if (!usable(p, c, now))
			continue;
		if (!best || c->rtt_us < best->rtt_us)
			best = c;
		if (p->cur.kind == MG_DISCO_PATH_DIRECT && ep_eq(&c->ep, &p->cur.ep))
			cur = c;
	}
	if (!best) {
		if (!p->announced || p->cur.kind == MG_DISCO_PATH_DIRECT)
			announce(p,
			         &(struct mg_disco_path_choice){.kind = MG_DISCO_PATH_RELAY,
			                                        .rtt_us = p->relay_rtt_us},
			         now);
		else
			p->cur.rtt_us = p->relay_rtt_us;
		return;
	}
	if (cur) {
		uint64_t margin = p->params->hysteresis_us + cur->rtt_us / 8;
		if (best == cur || best->rtt_us + margin >= cur->rtt_us) {
			p->cur.rtt_us = cur->rtt_us;
			return;
		}
	}
	announce(p,
	         &(struct mg_disco_path_choice){
	             .kind = MG_DISCO_PATH_DIRECT, .ep = best->ep, .rtt_us = best->rtt_us},
	         now);
}

/* Pings every candidate (and the relay). A round we start ourselves while relayed also asks the
 * peer, through the relay, to ping us back now: both NATs then see outgoing packets at once. */
static void probe_round(struct mg_disco_path *p, uint64_t now, bool answers_cmm)
{
	const struct mg_disco_path_params *pp = p->params;

	for (unsigned i = 0; i < p->n_cands; i++)
		send_ping(p, &p->cands[i].ep, now);
	if (pp->ping_relay)
		send_ping(p, NULL, now);
	if (p->cur.kind == MG_DISCO_PATH_RELAY && !answers_cmm && p->ops->send_call_me_maybe) {
		p->stats.cmm_sent++;
		p->ops->send_call_me_maybe(p->ops->ctx, p->peer);
	}
	if (p->cur.kind == MG_DISCO_PATH_DIRECT)
		p->next_probe_us = now + pp->probe_direct_us;
	else if (now < p->burst_until_us)
		p->next_probe_us = now + pp->fast_relayed_us;
	else
		p->next_probe_us = now + pp->probe_relayed_us;
	p->next_heartbeat_us = now + pp->heartbeat_us;
}

void mg_disco_path_init(struct mg_disco_path *p, const struct mg_disco_path_ops *ops,
                        const struct mg_disco_path_params *params, void *peer, uint64_t now_us)
{
	*p = (struct mg_disco_path){
	    .ops = ops,
	    .params = params,
	    .peer = peer,
	    .cur = {.kind = MG_DISCO_PATH_RELAY},
	    .next_probe_us = now_us,
	    .burst_until_us = now_us + params->burst_us,
	};
}

void mg_disco_path_set_map(struct mg_disco_path *p, const struct mg_sockaddr *eps, unsigned n,
                           uint64_t now_us)
{
	bool added = false;

	for (unsigned i = 0; i < p->n_cands; i++)
		p->cands[i].from_map = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!ep_valid(&eps[i]))
			continue;
		int k = find_cand(p, &eps[i]);
		if (k < 0) {
			k = add_cand(p, &eps[i]);
			if (k < 0)
				continue;
			added = true;
		}
		p->cands[k].from_map = 1;
	}
	for (unsigned i = p->n_cands; i-- > 0;)
		if (!p->cands[i].from_map && !p->cands[i].learned)
			remove_cand(p, i);
	if (added) {
		p->burst_until_us = now_us + p->params->burst_us;
		p->next_probe_us = now_us;
	}
	/* The current direct path may just have left the map. */
	choose(p, now_us);
}

/* A candidate named by the peer itself (a ping's source, call-me-maybe). */
static int learn(struct mg_disco_path *p, const struct mg_sockaddr *ep, uint64_t now, bool *added)
{
	int k = find_cand(p, ep);

	*added = false;
	if (k < 0) {
		k = add_cand(p, ep);
		if (k < 0)
			return -1;
		p->stats.learned++;
		*added = true;
	}
	p->cands[k].learned = 1;
	p->cands[k].last_hint_us = now;
	return k;
}

void mg_disco_path_on_ping(struct mg_disco_path *p, const struct mg_sockaddr *src, uint64_t now_us)
{
	bool added;

	if (!src || !ep_valid(src))
		return;
	/* A ping from where we have not pinged: its NAT just opened a mapping towards us, so a ping
	 * back along it is the quickest way to a direct path. */
	if (learn(p, src, now_us, &added) >= 0 && added)
		send_ping(p, src, now_us);
}

void mg_disco_path_on_pong(struct mg_disco_path *p, const uint8_t txid[MG_DISCO_TXID_LEN],
                           const struct mg_sockaddr *src, uint64_t now_us)
{
	struct mg_disco_path_out *o = NULL;

	for (unsigned i = 0; i < MG_DISCO_PATH_MAX_OUT; i++)
		if (p->out[i].sent_us != 0 &&
		    memcmp(p->out[i].txid, txid, MG_DISCO_TXID_LEN) == 0) {
			o = &p->out[i];
			break;
		}
	if (!o || now_us < o->sent_us || now_us - o->sent_us > p->params->ping_timeout_us) {
		p->stats.pongs_unmatched++;
		return;
	}
	/* A pong proves the path it came back on, and only if that is where the ping went. */
	bool relay = o->ep.family == 0;
	if (relay ? src != NULL : (!src || !ep_eq(src, &o->ep))) {
		p->stats.pongs_wrong_src++;
		return;
	}
	uint64_t rtt = now_us - o->sent_us;
	o->sent_us = 0;
	p->stats.pongs_matched++;
	if (relay) {
		p->relay_rtt_us = rtt;
		if (p->cur.kind == MG_DISCO_PATH_RELAY)
			p->cur.rtt_us = rtt;
		return;
	}
	int k = find_cand(p, src);
	if (k < 0)
		return;
	p->cands[k].last_pong_us = now_us;
	p->cands[k].rtt_us = rtt;
	choose(p, now_us);
}

void mg_disco_path_on_call_me_maybe(struct mg_disco_path *p, const struct mg_sockaddr *eps,
                                    unsigned n, uint64_t now_us)
{
	bool added;

	for (unsigned i = 0; i < n; i++)
		if (ep_valid(&eps[i]))
			learn(p, &eps[i], now_us, &added);
	/* The peer may send them as often as it likes; we answer with one round a second at most,
	 * since each round pings every candidate (addresses the peer chose). */
	if (p->last_cmm_round_us != 0 && now_us - p->last_cmm_round_us < p->params->fast_relayed_us)
		return;
	p->last_cmm_round_us = now_us;
	probe_round(p, now_us, true);
}

void mg_disco_path_tick(struct mg_disco_path *p, uint64_t now_us)
{
	const struct mg_disco_path_params *pp = p->params;

	for (unsigned i = p->n_cands; i-- > 0;) {
		struct mg_disco_path_cand *c = &p->cands[i];
		uint64_t last =
		    c->last_hint_us > c->last_pong_us ? c->last_hint_us : c->last_pong_us;
		if (!c->from_map && now_us - last > pp->learned_ttl_us)
			remove_cand(p, i);
	}
	choose(p, now_us);
	if (now_us >= p->next_probe_us) {
		probe_round(p, now_us, false);
	} else if (p->cur.kind == MG_DISCO_PATH_DIRECT && now_us >= p->next_heartbeat_us) {
		send_ping(p, &p->cur.ep, now_us);
		p->next_heartbeat_us = now_us + pp->heartbeat_us;
	}
}

uint64_t mg_disco_path_next_us(const struct mg_disco_path *p)
{
	uint64_t next = p->next_probe_us;

	if (!p->announced)
		return 0;
	if (p->cur.kind == MG_DISCO_PATH_DIRECT) {
		int k = find_cand(p, &p->cur.ep);
		if (p->next_heartbeat_us < next)
			next = p->next_heartbeat_us;
		if (k >= 0 && p->cands[k].last_pong_us + p->params->trust_us < next)
			next = p->cands[k].last_pong_us + p->params->trust_us;
	}
	return next;
}

const struct mg_disco_path_choice *mg_disco_path_current(const struct mg_disco_path *p)
{
	return &p->cur;
}
