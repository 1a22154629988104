// SPDX-License-Identifier: GPL-2.0-only
/*
 * node/disco_path.c against a simulated network and clock: the first announcement (relay), an
 * upgrade on the first direct pong, lowest RTT with hysteresis, a dead path falling back to the
 * relay within the trust time and coming back, pongs that prove nothing (unknown txid, wrong
 * source, too late), learned candidates from pings and call-me-maybe (and its rate limit), the
 * map dropping the current path, the probe schedule, and the candidate cap.
 */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "disco_path.h"

#define MS 1000ull
#define S  1000000ull

/* The simulated network: which endpoints answer, with what RTT; the relay always answers. */
#define N_EPS 4
static struct mg_sockaddr eps[N_EPS];
static bool reachable[N_EPS];
static uint64_t rtt[N_EPS];
static uint64_t relay_rtt = 40 * MS;

struct pending {
	uint8_t txid[MG_DISCO_TXID_LEN];
	struct mg_sockaddr src;
	bool relay;
	uint64_t due;
};
static struct pending pend[256];
static unsigned n_pend;

static uint64_t now;
static unsigned pings_to[N_EPS + 1]; /* [N_EPS]: through the relay */
static unsigned pings_other, cmm_calls, use_calls;
static struct mg_disco_path_choice last_use;
static uint8_t last_txid[MG_DISCO_TXID_LEN];
static struct mg_sockaddr last_ping_ep;

static int ep_index(const struct mg_sockaddr *e)
{
	for (int i = 0; i < N_EPS; i++)
		if (e->family == eps[i].family && e->port == eps[i].port &&
		    memcmp(e->addr, eps[i].addr, 16) == 0)
			return i;
	return -1;
}

static void sim_send_ping(void *ctx, void *peer, const struct mg_sockaddr *ep,
                          const uint8_t txid[MG_DISCO_TXID_LEN])
{
	(void)ctx;
	CHECK(peer == (void *)&pend, "the peer cookie is passed back");
	memcpy(last_txid, txid, MG_DISCO_TXID_LEN);
	last_ping_ep = ep ? *ep : (struct mg_sockaddr){0};
	int i = ep ? ep_index(ep) : N_EPS;
	if (i < 0) {
		pings_other++;
		return;
	}
	pings_to[i]++;
	if (i < N_EPS && !reachable[i])
		return;
	if (n_pend == 256)
		return;
	struct pending *p = &pend[n_pend++];
	memcpy(p->txid, txid, MG_DISCO_TXID_LEN);
	p->relay = i == N_EPS;
	if (!p->relay)
		p->src = eps[i];
	p->due = now + (p->relay ? relay_rtt : rtt[i]);
}

static void sim_cmm(void *ctx, void *peer)
{
	(void)ctx;
	(void)peer;
	cmm_calls++;
}

static void sim_use(void *ctx, void *peer, const struct mg_disco_path_choice *c)
{
	(void)ctx;
	(void)peer;
	use_calls++;
	last_use = *c;
}

static const struct mg_disco_path_ops ops = {
    .send_ping = sim_send_ping, .send_call_me_maybe = sim_cmm, .use_path = sim_use};
static struct mg_disco_path_params params;
static struct mg_disco_path path;

static void reset(void)
{
	n_pend = 0;
	memset(pings_to, 0, sizeof(pings_to));
	pings_other = cmm_calls = use_calls = 0;
	memset(&last_use, 0, sizeof(last_use));
	now = 1000 * S;
	for (int i = 0; i < N_EPS; i++) {
		reachable[i] = false;
		rtt[i] = (10 + 10 * (uint64_t)i) * MS;
	}
	mg_disco_path_init(&path, &ops, &params, &pend, now);
}

/* Runs the clock to `until` in 1 ms steps, delivering pongs when due and ticking when asked. */
static void run_until(uint64_t until)
{
	while (now < until) {
		now += MS;
		for (unsigned i = 0; i < n_pend;) {
			if (pend[i].due <= now) {
				struct pending p = pend[i];
				pend[i] = pend[--n_pend];
				mg_disco_path_on_pong(&path, p.txid, p.relay ? NULL : &p.src, now);
			} else {
				i++;
			}
		}
		if (mg_disco_path_next_us(&path) <= now)
			mg_disco_path_tick(&path, now);
	}
}

/* Runs until the path is direct (or relayed) or the limit; returns the time it took. */
static uint64_t run_until_kind(enum mg_disco_path_kind kind, uint64_t limit)
{
	uint64_t start = now;
	while (now - start < limit && !(use_calls && last_use.kind == kind))
		run_until(now + MS);
	return now - start;
}

static void test_first_tick_and_upgrade(void)
{
	reset();
	mg_disco_path_tick(&path, now);
	CHECK(use_calls == 1 && last_use.kind == MG_DISCO_PATH_RELAY, "starts relayed");
	CHECK(cmm_calls == 1, "a round of our own while relayed asks for call-me-maybe");
	CHECK(pings_to[N_EPS] == 1, "the relay is pinged too");

	reachable[1] = true;
	mg_disco_path_set_map(&path, eps, 3, now);
	uint64_t t = run_until_kind(MG_DISCO_PATH_DIRECT, 5 * S);
	CHECK(last_use.kind == MG_DISCO_PATH_DIRECT && ep_index(&last_use.ep) == 1);
	CHECK(t <= rtt[1] + 2 * MS, "direct on the first pong: %llu us", (unsigned long long)t);
	CHECK(last_use.rtt_us == rtt[1]);
	CHECK(pings_to[0] == 1 && pings_to[2] == 1, "every candidate pinged at once");
	CHECK(path.stats.to_direct == 1 && path.stats.pongs_matched >= 1);
	CHECK(pings_to[3] == 0, "not in the map, not pinged");
}

static void test_lowest_rtt_hysteresis(void)
{
	reset();
	reachable[0] = reachable[1] = true;
	rtt[0] = 20 * MS;
	rtt[1] = 19 * MS; /* better by less than 1 ms + 1/8 */
	mg_disco_path_set_map(&path, eps, 2, now);
	run_until(now + 100 * MS);
	CHECK(last_use.kind == MG_DISCO_PATH_DIRECT);
	int first = ep_index(&last_use.ep);
	unsigned calls = use_calls;
	run_until(now + 20 * S);
	CHECK(use_calls == calls && ep_index(&last_use.ep) == first, "no flapping: %u -> %u", calls,
	      use_calls);

	/* The other path becomes clearly better: switched after the next full probe (5 s). */
	rtt[1 - first] = 5 * MS;
	uint64_t start = now;
	while (now - start < 6 * S && ep_index(&last_use.ep) == first)
		run_until(now + MS);
	CHECK(ep_index(&last_use.ep) == 1 - first && last_use.rtt_us == 5 * MS);
	CHECK(path.stats.direct_changes == 1);
}

static void test_dead_path_and_back(void)
{
	reset();
	reachable[2] = true;
	mg_disco_path_set_map(&path, eps, 4, now);
	run_until_kind(MG_DISCO_PATH_DIRECT, 2 * S);
	CHECK(last_use.kind == MG_DISCO_PATH_DIRECT && ep_index(&last_use.ep) == 2);
	run_until(now + 7 * S);
	unsigned hb = pings_to[2];
	run_until(now + 3 * S);
	CHECK(pings_to[2] - hb >= 2, "heartbeats to the direct path: %u", pings_to[2] - hb);
	CHECK(pings_to[0] - 0 <= 4, "others only at full probes");

	reachable[2] = false;
	uint64_t t = run_until_kind(MG_DISCO_PATH_RELAY, 10 * S);
	CHECK(last_use.kind == MG_DISCO_PATH_RELAY);
	CHECK(t >= 2 * S && t <= params.trust_us, "fell back in %llu ms",
	      (unsigned long long)t / MS);
	CHECK(last_use.rtt_us == relay_rtt, "relay RTT known: %llu",
	      (unsigned long long)last_use.rtt_us);
	CHECK(path.stats.to_relay == 1);

	/* Falling back started a burst: a round at once (with call-me-maybe), then every second. */
	unsigned c = cmm_calls, p0 = pings_to[0];
	run_until(now + 3 * S + 500 * MS);
	CHECK(pings_to[0] - p0 == 3, "burst: %u pings in 3.5 s", pings_to[0] - p0);
	CHECK(cmm_calls - c == 3);

	reachable[2] = true;
	t = run_until_kind(MG_DISCO_PATH_DIRECT, 5 * S);
	CHECK(last_use.kind == MG_DISCO_PATH_DIRECT, "back to direct");
	CHECK(t <= params.fast_relayed_us + rtt[2] + MS, "in %llu ms", (unsigned long long)t / MS);
}

static void test_schedule(void)
{
	reset();
	mg_disco_path_set_map(&path, eps, 1, now);
	run_until(now + params.burst_us + 100 * MS);
	unsigned p0 = pings_to[0];
	run_until(now + 30 * S);
	CHECK(pings_to[0] - p0 == 10, "every 3 s after the burst: %u", pings_to[0] - p0);
	CHECK(path.stats.to_direct == 0 && last_use.kind == MG_DISCO_PATH_RELAY);

	reachable[0] = true;
	run_until(now + 3 * S + 100 * MS);
	CHECK(last_use.kind == MG_DISCO_PATH_DIRECT);
	/* Direct: heartbeats every 1.5 s, full probes every 5 s, no call-me-maybe. */
	unsigned c = cmm_calls, r = pings_to[N_EPS];
	p0 = pings_to[0];
	run_until(now + 30 * S);
	CHECK(cmm_calls == c, "no call-me-maybe while direct");
	CHECK(pings_to[N_EPS] - r == 6, "relay pinged at full probes: %u", pings_to[N_EPS] - r);
	/* Each 5 s: the full probe and heartbeats at +1.5, +3, +4.5. */
	CHECK(pings_to[0] - p0 >= 22 && pings_to[0] - p0 <= 24, "%u", pings_to[0] - p0);
}

static void test_bad_pongs(void)
{
	reset();
	mg_disco_path_set_map(&path, eps, 2, now);
	mg_disco_path_tick(&path, now); /* pings ep 0, ep 1, the relay; last: the relay */
	uint8_t txid[MG_DISCO_TXID_LEN];
	memcpy(txid, last_txid, sizeof(txid));

	/* The relay ping's pong, claiming to come directly from a candidate: refused. */
	mg_disco_path_on_pong(&path, txid, &eps[0], now + 5 * MS);
	CHECK(path.stats.pongs_wrong_src == 1 && last_use.kind == MG_DISCO_PATH_RELAY);

	/* Unknown txid. */
	uint8_t junk[MG_DISCO_TXID_LEN] = {1, 2, 3};
	mg_disco_path_on_pong(&path, junk, &eps[0], now + 5 * MS);
	CHECK(path.stats.pongs_unmatched == 1 && last_use.kind == MG_DISCO_PATH_RELAY);

	/* A direct ping's pong from somewhere else (a NAT rewrote it, or a forwarder): refused. */
	now += 1 * S;
	mg_disco_path_tick(&path, now); /* the next round of the burst */
	uint8_t t1[MG_DISCO_TXID_LEN];
	bool got = false;
	for (unsigned i = 0; i < MG_DISCO_PATH_MAX_OUT; i++)
		if (path.out[i].sent_us == now && ep_index(&path.out[i].ep) == 1) {
			memcpy(t1, path.out[i].txid, sizeof(t1));
			got = true;
		}
	CHECK(got);
	if (!got)
		return;
	mg_disco_path_on_pong(&path, t1, &eps[3], now + 5 * MS);
	CHECK(path.stats.pongs_wrong_src == 2 && last_use.kind == MG_DISCO_PATH_RELAY);
	/* Too late (after ping_timeout): refused. */
	mg_disco_path_on_pong(&path, t1, &eps[1], now + params.ping_timeout_us + MS);
	CHECK(path.stats.pongs_unmatched == 2 && last_use.kind == MG_DISCO_PATH_RELAY);
	/* In time and from the right place: direct. A second pong with the same txid is unmatched.
	 */
	mg_disco_path_on_pong(&path, t1, &eps[1], now + 7 * MS);
	CHECK(last_use.kind == MG_DISCO_PATH_DIRECT && ep_index(&last_use.ep) == 1);
	CHECK(last_use.rtt_us == 7 * MS);
	mg_disco_path_on_pong(&path, t1, &eps[1], now + 8 * MS);
	CHECK(path.stats.pongs_unmatched == 3);
}

static void test_learned(void)
{
	reset();
	mg_disco_path_tick(&path, now);
	/* A ping from an endpoint the map does not list: pinged back at once; its pong upgrades. */
	reachable[3] = true;
	unsigned before = pings_to[3];
	mg_disco_path_on_ping(&path, &eps[3], now);
	CHECK(pings_to[3] == before + 1 && path.stats.learned == 1);
	mg_disco_path_on_ping(&path, &eps[3], now); /* known now: no extra ping */
	CHECK(pings_to[3] == before + 1);
	mg_disco_path_on_ping(&path, NULL, now); /* through the relay: nothing to learn */
	CHECK(path.n_cands == 1);
	run_until(now + 100 * MS);
	CHECK(last_use.kind == MG_DISCO_PATH_DIRECT && ep_index(&last_use.ep) == 3);

	/* A learned candidate survives a map that does not list it. */
	mg_disco_path_set_map(&path, eps, 1, now);
	CHECK(path.n_cands == 2 && last_use.kind == MG_DISCO_PATH_DIRECT);

	/* Once it stops answering and nothing names it, it is forgotten after learned_ttl. */
	reachable[3] = false;
	run_until(now + params.learned_ttl_us + 2 * S);
	CHECK(last_use.kind == MG_DISCO_PATH_RELAY && path.n_cands == 1);
}

static void test_call_me_maybe(void)
{
	reset();
	mg_disco_path_tick(&path, now);
	run_until(now + params.burst_us + S); /* out of the burst: rounds every 3 s */
	unsigned c = cmm_calls;
	reachable[2] = true;
	mg_disco_path_on_call_me_maybe(&path, &eps[1], 2, now);
	CHECK(pings_to[1] == 1 && pings_to[2] == 1, "pinged at once");
	CHECK(cmm_calls == c, "call-me-maybe is not answered with call-me-maybe");
	mg_disco_path_on_call_me_maybe(&path, &eps[1], 2, now + 10 * MS);
	CHECK(pings_to[1] == 1, "at most one round a second");
	run_until(now + 100 * MS);
	CHECK(last_use.kind == MG_DISCO_PATH_DIRECT && ep_index(&last_use.ep) == 2);
	mg_disco_path_on_call_me_maybe(&path, &eps[1], 2, now + 2 * S);
	CHECK(pings_to[1] == 2);
}

static void test_map_drops_current(void)
{
	reset();
	reachable[0] = true;
	mg_disco_path_set_map(&path, eps, 2, now);
	run_until(now + 100 * MS);
	CHECK(last_use.kind == MG_DISCO_PATH_DIRECT && ep_index(&last_use.ep) == 0);
	mg_disco_path_set_map(&path, &eps[1], 1, now);
	CHECK(last_use.kind == MG_DISCO_PATH_RELAY, "the map dropped it: relay at once");
	CHECK(path.n_cands == 1);
}

static void test_cap_and_invalid(void)
{
	static struct mg_sockaddr many[MG_DISCO_PATH_MAX_CANDS + 20];

	reset();
	for (unsigned i = 0; i < MG_DISCO_PATH_MAX_CANDS + 20; i++) {
		many[i] = (struct mg_sockaddr){.family = 4, .port = (uint16_t)(2000 + i)};
		many[i].addr[0] = 198;
		many[i].addr[1] = 51;
		many[i].addr[2] = 100;
		many[i].addr[3] = 9;
	}
	many[0].port = 0;   /* invalid */
	many[1].family = 5; /* invalid */
	many[3] = many[2];  /* duplicate */
	mg_disco_path_set_map(&path, many, MG_DISCO_PATH_MAX_CANDS + 20, now);
	CHECK(path.n_cands == MG_DISCO_PATH_MAX_CANDS);
	for (unsigned i = 0; i < path.n_cands; i++)
		CHECK(path.cands[i].ep.port != 0 && path.cands[i].ep.family == 4);
	/* Full of map candidates: a learned one finds no room, and nothing breaks. */
	mg_disco_path_on_ping(&path, &eps[0], now);
	CHECK(path.n_cands == MG_DISCO_PATH_MAX_CANDS && path.stats.learned == 0);
	mg_disco_path_tick(&path, now);
	CHECK(pings_other == MG_DISCO_PATH_MAX_CANDS);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	mg_disco_path_params_default(&params);
	for (int i = 0; i < N_EPS; i++) {
		char s[64];
		snprintf(s, sizeof(s), "203.0.113.%d:%d", 10 + i, 41000 + i);
		CHECK(mg_sockaddr_parse(s, &eps[i]) == 0);
	}
	test_first_tick_and_upgrade();
	test_lowest_rtt_hysteresis();
	test_dead_path_and_back();
	test_schedule();
	test_bad_pongs();
	test_learned();
	test_call_me_maybe();
	test_map_drops_current();
	test_cap_and_invalid();
	return check_done("disco_path");
}
