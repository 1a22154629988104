// SPDX-License-Identifier: GPL-2.0-only
/*
 * handshake_bench: handshakes per second on one core through the calls the gateway's control
 * thread makes (gateway/handshake.c, input_initiation and send_response): mac1 check
 * (wg_cookie_validate), wg_noise_consume_initiation, wg_noise_create_response,
 * wg_cookie_add_macs, wg_noise_begin_session, with N configured peers found by public key.
 * Initiations come from N real initiators (tests/support's fake Noise hosts) built before each
 * timed round, so the initiator's cost is not counted. Virtual clocks keep the replay and flood
 * checks (20 ms per peer) passing however fast the rounds go.
 *
 * Also measured: the under-load path (mac1 good, no mac2: a cookie reply per initiation, many
 * source addresses), the rate-limited path (valid mac2 from one source, refused by the rate
 * limiter after its burst), and one X25519 scalar multiplication, which bounds the rest: the
 * responder does four (DH with the initiator's ephemeral in consume; a new ephemeral and two
 * DHs in create_response; the static-static DH is precomputed per peer).
 *
 * Times are wall-clock for the rates, and also this thread's CPU time (handshake_cpu_us,
 * x25519_us and the per-primitive figures), which stays meaningful on a shared machine. The
 * other primitives are timed at the sizes a handshake uses them, and non_x25519_handshake_us
 * (CPU per handshake less four X25519) is what wg/crypto.c's wrappers and the protocol
 * bookkeeping cost together.
 *
 * Output: JSON on stdout ({"bench": "handshake", "figures": [...]}), a summary on stderr.
 * With --threads T (> 1), the same handshakes again on T sharded responders at once (see
 * bench_sharded): per core and total.
 *
 *   handshake_bench [--peers N] [--seconds S] [--threads T]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cookie.h"
#include "crypto.h"
#include "fake_host.h"
#include "index_table.h"
#include "keys.h"
#include "noise.h"
#include "ratelimiter.h"
#include "tai64n.h"

#define MAX_FIGS 32

struct figure {
	const char *name, *unit;
	double value;
};

static struct figure figs[MAX_FIGS];
static unsigned n_figs;

static void fig(const char *name, double value, const char *unit)
{
	if (n_figs < MAX_FIGS)
		figs[n_figs++] = (struct figure){name, unit, value};
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* This thread's CPU time: on a shared machine it keeps other processes out of the figures. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mono_ns(void)
{
	return (uint64_t)(mono_s() * 1e9);
}

/* The gateway side, as struct mg_control holds it. */
struct responder {
	struct wg_noise_local local;
	struct wg_index_table *index;
	struct wg_cookie_checker checker;
	struct wg_ratelimiter *rl;
	struct wg_noise_remote *peers;
	struct wg_cookie_maker *makers; /* struct mg_peer.cookie */
	uint32_t n_peers;
	uint32_t *by_key; /* open addressing on the key's first 4 bytes; UINT32_MAX = empty */
	uint32_t key_mask;
	uint64_t now_ns; /* virtual: advanced a second per round */
};

static uint64_t responder_now(void *ctx)
{
	return ((struct responder *)ctx)->now_ns;
}

static uint32_t key_slot(const uint8_t pub[WG_KEY_LEN])
{
	uint32_t h;
	memcpy(&h, pub, sizeof(h));
	return h * 2654435761u;
}

static struct wg_noise_remote *responder_lookup(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	struct responder *r = ctx;
	for (uint32_t s = key_slot(pub) & r->key_mask;; s = (s + 1) & r->key_mask) {
		uint32_t p = r->by_key[s];
		if (p == UINT32_MAX)
			return NULL;
		if (wg_memeq(r->peers[p].remote_static, pub, WG_KEY_LEN))
			return &r->peers[p];
	}
}

static void rng(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	wg_random_bytes(buf, len);
}

/* key: the responder's private key, or NULL for a new one. */
static int setup(struct responder *r, struct fake_host *ins, uint32_t n, const uint8_t *key)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	int rc = -1;

	r->n_peers = n;
	r->now_ns = 1000000000ull;
	r->index = wg_index_table_new(4 * n);
	r->rl = wg_ratelimiter_new(WG_RATELIMITER_DEFAULT_CAPACITY, rng, NULL);
	r->peers = calloc(n, sizeof(*r->peers));
	r->makers = calloc(n, sizeof(*r->makers));
	for (r->key_mask = 1; r->key_mask < 2 * n; r->key_mask <<= 1)
		;
	r->by_key = malloc(r->key_mask * sizeof(*r->by_key));
	r->key_mask--;
	if (!r->index || !r->peers || !r->makers || !r->by_key)
		goto out;
	memset(r->by_key, 0xff, ((size_t)r->key_mask + 1) * sizeof(*r->by_key));
	const struct wg_noise_upcalls rup = {
	    .ctx = r, .now = responder_now, .remote_by_pubkey = responder_lookup};
	if (key)
		memcpy(priv, key, WG_KEY_LEN);
	else
		wg_key_generate_private(priv, NULL, NULL);
	if (wg_noise_local_init(&r->local, r->index, &rup) != WG_OK ||
	    wg_noise_local_set_private(&r->local, priv) != WG_OK ||
	    wg_cookie_checker_init(&r->checker, r->local.static_public, NULL, NULL) != WG_OK)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		struct fake_host *in = &ins[i];
		if (fake_host_init(in, "initiator", 1 + i) != WG_OK ||
		    fake_host_add(in, r->local.static_public, NULL) != WG_OK)
			goto out;
		memcpy(pub, in->local.static_public, WG_KEY_LEN);
		if (wg_noise_remote_init(&r->peers[i], &r->local, pub, NULL) != WG_OK ||
		    wg_noise_remote_precompute(&r->peers[i]) != WG_OK ||
		    wg_cookie_maker_init(&r->makers[i], pub) != WG_OK)
			goto out;
		uint32_t s = key_slot(pub) & r->key_mask;
		while (r->by_key[s] != UINT32_MAX)
			s = (s + 1) & r->key_mask;
		r->by_key[s] = i;
	}
	rc = r->rl ? 0 : -1;
out:
	wg_memzero(priv, sizeof(priv));
	return rc;
}

static void teardown(struct responder *r, struct fake_host *ins, uint32_t n)
{
	for (uint32_t i = 0; ins && r->peers && i < n; i++) {
		if (ins[i].table)
			fake_host_destroy(&ins[i]);
		wg_noise_remote_destroy(&r->peers[i]);
	}
	wg_noise_local_destroy(&r->local);
	wg_cookie_checker_clear(&r->checker);
	wg_ratelimiter_free(r->rl);
	wg_index_table_free(r->index);
	free(r->peers);
	free(r->makers);
	free(r->by_key);
}

/* Builds one initiation per initiator; returns the seconds it took. */
static double make_initiations(struct fake_host *ins, uint32_t n, struct wg_msg_initiation *msgs)
{
	double t0 = mono_s();
	for (uint32_t i = 0; i < n; i++) {
		/* A second on the initiator's clock: each timestamp newer than the last. */
		fake_host_tick(&ins[i], WG_NSEC_PER_SEC);
		if (fake_host_initiation(&ins[i], &ins[i].remotes[0], &msgs[i]) != WG_OK)
			return -1;
	}
	return mono_s() - t0;
}

/* The responder's work for one initiation, in gateway/handshake.c's order. */
static bool respond(struct responder *r, const struct wg_msg_initiation *msg)
{
	struct wg_noise_remote *remote;
	struct wg_msg_response resp;

	if (wg_cookie_validate(&r->checker, msg, sizeof(*msg), NULL, false, r->now_ns) !=
	        WG_COOKIE_MAC_VALID ||
	    wg_noise_consume_initiation(&r->local, msg, &remote) != WG_OK ||
	    wg_noise_create_response(remote, &resp) != WG_OK)
		return false;
	wg_cookie_add_macs(&r->makers[remote - r->peers], &resp, sizeof(resp), r->now_ns);
	bool ok = wg_noise_begin_session(remote) == WG_OK;
	wg_memzero(&resp, sizeof(resp));
	return ok;
}

struct rounds {
	uint64_t done, built;
	double spent, made, cpu; /* responder wall and CPU seconds; initiator wall seconds */
};

/* Rounds of one initiation per peer until the responder has spent `seconds` on them. */
static int run_rounds(struct responder *r, struct fake_host *ins, struct wg_msg_initiation *msgs,
                      double seconds, struct rounds *o)
{
	memset(o, 0, sizeof(*o));
	while (o->spent < seconds) {
		double t = make_initiations(ins, r->n_peers, msgs);
		if (t < 0) {
			fprintf(stderr, "an initiator could not create its initiation\n");
			return -1;
		}
		o->made += t;
		o->built += r->n_peers;
		r->now_ns += 1000000000ull;
		double t0 = mono_s(), c0 = cpu_s();
		for (uint32_t i = 0; i < r->n_peers; i++) {
			if (!respond(r, &msgs[i])) {
				fprintf(stderr, "handshake %u was refused\n", i);
				return -1;
			}
		}
		o->spent += mono_s() - t0;
		o->cpu += cpu_s() - c0;
		o->done += r->n_peers;
	}
	return 0;
}

static int bench_handshakes(struct responder *r, struct fake_host *ins,
                            struct wg_msg_initiation *msgs, double seconds, double *cpu_us)
{
	struct rounds o;

	if (run_rounds(r, ins, msgs, seconds, &o) != 0)
		return -1;
	fig("handshakes_per_s", (double)o.done / o.spent, "1/s");
	fig("handshake_us", o.spent / (double)o.done * 1e6, "us");
	fig("handshake_cpu_us", o.cpu / (double)o.done * 1e6, "us");
	fig("initiations_created_per_s", (double)o.built / o.made, "1/s");
	fprintf(stderr,
	        "responder: %.0f handshakes/s (%.1f us each, %.1f us of CPU: mac1, "
	        "consume_initiation, create_response, macs, begin_session; %u peers); initiator "
	        "side %.0f/s\n",
	        (double)o.done / o.spent, o.spent / (double)o.done * 1e6,
	        o.cpu / (double)o.done * 1e6, r->n_peers, (double)o.built / o.made);
	*cpu_us = o.cpu / (double)o.done * 1e6;
	return 0;
}

static int bench_x25519(double seconds, double *us)
{
	uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN], out[WG_KEY_LEN];
	uint64_t n = 0;
	double t0 = cpu_s(), t;

	wg_key_generate_private(a, NULL, NULL);
	wg_key_generate_private(b, NULL, NULL);
	wg_x25519_public(b, b);
	do {
		for (int i = 0; i < 64; i++, n++)
			if (wg_x25519(out, a, b) != WG_OK)
				return -1;
		t = cpu_s() - t0;
	} while (t < seconds);
	wg_memzero(a, sizeof(a));
	wg_memzero(out, sizeof(out));
	*us = t / (double)n * 1e6;
	fig("x25519_us", *us, "us");
	fig("x25519_bound_handshakes_per_s", (double)n / t / 4.0, "1/s");
	fprintf(stderr,
	        "X25519 (libsodium): %.1f us of CPU each; 4 per responder handshake bound it to "
	        "%.0f/s\n",
	        *us, (double)n / t / 4.0);
	return 0;
}

/*
 * The other primitives at the sizes a handshake uses them (CPU time per call), to show where
 * the part of a handshake that is not X25519 goes. The keys are random and thrown away.
 */
enum prim { P_HASH, P_MAC1, P_KDF1, P_KDF3, P_SEAL, P_OPEN, P_COUNT };

static const char *const prim_names[P_COUNT] = {
    "blake2s_64B_us", "mac1_116B_us", "kdf1_us", "kdf3_us", "aead_seal_32B_us", "aead_open_48B_us"};

static bool prim_run(enum prim p, uint8_t *key, uint8_t *buf)
{
	switch (p) {
	case P_HASH:
		return wg_blake2s_2(buf, buf, WG_HASH_LEN, key, WG_KEY_LEN) == WG_OK;
	case P_MAC1:
		return wg_blake2s_keyed(buf + 128, WG_COOKIE_LEN, key, WG_KEY_LEN, buf, 116) ==
		       WG_OK;
	case P_KDF1:
		return wg_kdf(key, NULL, NULL, key, buf, WG_KEY_LEN) == WG_OK;
	case P_KDF3:
		return wg_kdf(key, buf + 64, buf + 96, key, buf, WG_KEY_LEN) == WG_OK;
	case P_SEAL:
		return wg_aead_seal(buf + 64, buf, 32, buf + 128, WG_HASH_LEN, 0, key) == WG_OK;
	case P_OPEN:
		/* Sealed by P_SEAL just before. */
		return wg_aead_open(buf + 192, buf + 64, 48, buf + 128, WG_HASH_LEN, 0, key) ==
		       WG_OK;
	case P_COUNT:
		break;
	}
	return false;
}

static int bench_primitives(double seconds, double x25519_us, double handshake_cpu_us)
{
	uint8_t key[WG_KEY_LEN], buf[256];
	double per = seconds / P_COUNT;
	int rc = -1;

	wg_random_bytes(key, sizeof(key));
	wg_random_bytes(buf, sizeof(buf));
	fprintf(stderr, "primitives (us of CPU per call):");
	for (int p = 0; p < P_COUNT; p++) {
		uint64_t n = 0;
		double t0 = cpu_s(), t;
		if (p == P_OPEN && !prim_run(P_SEAL, key, buf))
			goto out;
		do {
			for (int i = 0; i < 64; i++, n++)
				if (!prim_run((enum prim)p, key, buf))
					goto out;
			t = cpu_s() - t0;
		} while (t < per);
		fig(prim_names[p], t / (double)n * 1e6, "us");
		fprintf(stderr, " %s %.2f", prim_names[p], t / (double)n * 1e6);
	}
	/* A difference of two separately timed loops: on a loaded machine it can come out
	 * negative, so it carries its own unit and the schema check asks only that it be finite. */
	fig("non_x25519_handshake_us", handshake_cpu_us - 4 * x25519_us, "us (derived)");
	fprintf(stderr, "\nper handshake: %.1f us of X25519 (4), %.1f us of the rest\n",
	        4 * x25519_us, handshake_cpu_us - 4 * x25519_us);
	rc = 0;
out:
	wg_memzero(key, sizeof(key));
	wg_memzero(buf, sizeof(buf));
	if (rc)
		fprintf(stderr, "\na primitive failed\n");
	return rc;
}

static void source_of(uint64_t i, struct wg_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = 4;
	ep->port = (uint16_t)(1024 + i % 60000);
	ep->addr[0] = 10;
	ep->addr[1] = (uint8_t)(i >> 16);
	ep->addr[2] = (uint8_t)(i >> 8);
	ep->addr[3] = (uint8_t)i;
}

/* Under load, no mac2: each initiation gets a cookie reply (handshake.c send_cookie_reply). */
static int bench_cookie_replies(struct responder *r, const struct wg_msg_initiation *msgs,
                                double seconds)
{
	struct wg_msg_cookie reply;
	struct wg_endpoint src;
	uint64_t n = 0;
	double t0 = mono_s(), t;

	do {
		for (uint32_t k = 0; k < 256; k++, n++) {
			const struct wg_msg_initiation *m = &msgs[n % r->n_peers];
			source_of(n, &src);
			if (wg_cookie_validate(&r->checker, m, sizeof(*m), &src, true, r->now_ns) !=
			        WG_COOKIE_NEEDS_COOKIE ||
			    wg_cookie_reply_create(&r->checker, &reply, m, sizeof(*m), &src,
			                           r->now_ns) != WG_OK) {
				fprintf(stderr, "under load: no cookie reply\n");
				return -1;
			}
		}
		t = mono_s() - t0;
	} while (t < seconds);
	fig("cookie_replies_per_s", (double)n / t, "1/s");
	fprintf(stderr, "under load: %.0f cookie replies/s (mac1 check + reply)\n", (double)n / t);
	return 0;
}

/* Under load with a valid cookie from one source: the rate limiter lets its burst through
 * and refuses the rest (those refusals are what a cookie-holding flooder costs). */
static int bench_ratelimited(struct responder *r, struct fake_host *in, double seconds)
{
	struct wg_msg_initiation msg;
	struct wg_msg_cookie reply;
	struct wg_endpoint src;
	uint64_t n = 0, refused = 0;

	source_of(7, &src);
	fake_host_tick(in, WG_NSEC_PER_SEC);
	if (fake_host_initiation(in, &in->remotes[0], &msg) != WG_OK ||
	    wg_cookie_reply_create(&r->checker, &reply, &msg, sizeof(msg), &src, r->now_ns) !=
	        WG_OK ||
	    wg_cookie_consume_reply(&in->makers[0], &reply, sizeof(reply), fake_host_now(in)) !=
	        WG_OK)
		return -1;
	fake_host_tick(in, WG_NSEC_PER_SEC);
	if (fake_host_initiation(in, &in->remotes[0], &msg) != WG_OK)
		return -1;
	double t0 = mono_s(), t;
	do {
		for (int k = 0; k < 256; k++, n++) {
			if (wg_cookie_validate(&r->checker, &msg, sizeof(msg), &src, true,
			                       r->now_ns) != WG_COOKIE_MAC_VALID_WITH_COOKIE) {
				fprintf(stderr, "under load: the cookie was not accepted\n");
				return -1;
			}
			refused += !wg_ratelimiter_allow(r->rl, &src, mono_ns());
		}
		t = mono_s() - t0;
	} while (t < seconds);
	if (refused == 0 || refused == n) {
		fprintf(stderr, "rate limiter: %lu of %lu refused (expected most but not all)\n",
		        (unsigned long)refused, (unsigned long)n);
		return -1;
	}
	fig("ratelimited_refusals_per_s", (double)refused / t, "1/s");
	fprintf(stderr,
	        "under load with a cookie: %.0f initiations/s refused by the rate limiter "
	        "(%lu of %lu let through)\n",
	        (double)refused / t, (unsigned long)(n - refused), (unsigned long)n);
	return 0;
}

/*
 * Sharded responders (issue #16): peers split by index over `threads` threads, each pinned to
 * a CPU of its own and holding everything a handshake touches (index table, peer lookup,
 * cookie checker, rate limiter, the local static key's precomputation) for its shard only, so
 * nothing is shared and nothing is locked. All shards share the gateway's one private key.
 * They set up, wait at a barrier, then run their rounds at the same time; the total is the sum
 * of the shards' rates. A shard's CPU share (CPU time over wall time while it responds) shows
 * when the machine did not give it a core of its own.
 */
#define MAX_SHARDS 8

struct shard {
	pthread_t thread;
	int cpu;
	uint32_t n;
	double seconds;
	const uint8_t *key;
	pthread_barrier_t *start;
	struct responder r;
	struct fake_host *ins;
	struct wg_msg_initiation *msgs;
	struct rounds o;
	int rc;
};

static void *shard_main(void *arg)
{
	struct shard *s = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	s->ins = calloc(s->n, sizeof(*s->ins));
	s->msgs = calloc(s->n, sizeof(*s->msgs));
	s->rc = !s->ins || !s->msgs || setup(&s->r, s->ins, s->n, s->key) != 0 ? -1 : 0;
	pthread_barrier_wait(s->start);
	if (s->rc == 0)
		s->rc = run_rounds(&s->r, s->ins, s->msgs, s->seconds, &s->o);
	teardown(&s->r, s->ins, s->n);
	free(s->ins);
	free(s->msgs);
	return NULL;
}

static int bench_sharded(unsigned threads, uint32_t peers, double seconds)
{
	static const char *const rate_names[MAX_SHARDS] = {
	    "sharded_core0_handshakes_per_s", "sharded_core1_handshakes_per_s",
	    "sharded_core2_handshakes_per_s", "sharded_core3_handshakes_per_s",
	    "sharded_core4_handshakes_per_s", "sharded_core5_handshakes_per_s",
	    "sharded_core6_handshakes_per_s", "sharded_core7_handshakes_per_s"};
	struct shard sh[MAX_SHARDS] = {0};
	pthread_barrier_t start;
	uint8_t key[WG_KEY_LEN];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned started = 0;
	int rc = 0;

	if (threads > (unsigned)(ncpu > 0 ? ncpu : 1))
		fprintf(stderr, "sharded: %u threads on %ld CPUs: they will share cores\n", threads,
		        ncpu);
	wg_key_generate_private(key, NULL, NULL);
	if (pthread_barrier_init(&start, NULL, threads) != 0)
		return -1;
	for (unsigned i = 0; i < threads; i++) {
		sh[i] = (struct shard){.cpu = (int)(i % (unsigned)(ncpu > 0 ? ncpu : 1)),
		                       .n = peers / threads + (i < peers % threads),
		                       .seconds = seconds,
		                       .key = key,
		                       .start = &start};
		if (pthread_create(&sh[i].thread, NULL, shard_main, &sh[i]) != 0)
			break;
		started++;
	}
	if (started < threads) {
		/* The barrier waits for all of them: the bench cannot go on. */
		fprintf(stderr, "sharded: could not start thread %u\n", started);
		exit(1);
	}
	double total = 0, total_cpu = 0;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(sh[i].thread, NULL);
		if (sh[i].rc != 0) {
			rc = -1;
			continue;
		}
		double rate = (double)sh[i].o.done / sh[i].o.spent;
		double by_cpu = (double)sh[i].o.done / sh[i].o.cpu;
		total += rate;
		total_cpu += by_cpu;
		fig(rate_names[i], rate, "1/s");
		fprintf(stderr,
		        "sharded: core %d: %.0f handshakes/s (%u peers; %.0f/s per CPU second, CPU "
		        "share %.0f %%)\n",
		        sh[i].cpu, rate, sh[i].n, by_cpu, 100.0 * sh[i].o.cpu / sh[i].o.spent);
	}
	pthread_barrier_destroy(&start);
	wg_memzero(key, sizeof(key));
	if (rc != 0)
		return rc;
	fig("sharded_threads", threads, "threads");
	fig("sharded_handshakes_per_s", total, "1/s");
	fig("sharded_handshakes_per_cpu_s", total_cpu, "1/s");
	fprintf(stderr,
	        "sharded: %u threads, %.0f handshakes/s in total (%.0f/s counting CPU time only)\n",
	        threads, total, total_cpu);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t n = 1024;
	double seconds = 3;
	unsigned threads = 1;
	int rc = 1;

	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v && !strcmp(argv[i], "--peers"))
			n = (uint32_t)strtoul(v, NULL, 10);
		else if (v && !strcmp(argv[i], "--seconds"))
			seconds = strtod(v, NULL);
		else if (v && !strcmp(argv[i], "--threads"))
			threads = (unsigned)strtoul(v, NULL, 10);
		else
			n = 0;
		if (n < 16 || n > 65536 || !(seconds > 0 && seconds < 600) || threads < 1 ||
		    threads > MAX_SHARDS) {
			fprintf(stderr,
			        "usage: %s [--peers 16..65536] [--seconds S] [--threads 1..%d]\n",
			        argv[0], MAX_SHARDS);
			return 2;
		}
	}
	if (wg_crypto_init() != WG_OK)
		return 1;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &set);
	sched_setaffinity(0, sizeof(set), &set);

	struct responder r = {0};
	struct fake_host *ins = calloc(n, sizeof(*ins));
	struct wg_msg_initiation *msgs = calloc(n, sizeof(*msgs));
	if (!ins || !msgs || setup(&r, ins, n, NULL) != 0) {
		fprintf(stderr, "set-up failed (memory or crypto)\n");
		goto out;
	}
	double x25519_us = 0, handshake_cpu_us = 0;
	if (bench_x25519(seconds / 4, &x25519_us) ||
	    bench_handshakes(&r, ins, msgs, seconds, &handshake_cpu_us) ||
	    bench_primitives(seconds / 4, x25519_us, handshake_cpu_us) ||
	    bench_cookie_replies(&r, msgs, seconds / 2) ||
	    bench_ratelimited(&r, &ins[0], seconds / 2) ||
	    (threads > 1 && bench_sharded(threads, n, seconds)))
		goto out;
	printf("{\"bench\": \"handshake\", \"peers\": %u, \"seconds\": %.3f, \"figures\": [", n,
	       seconds);
	for (unsigned i = 0; i < n_figs; i++)
		printf("%s{\"name\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}", i ? ", " : "",
		       figs[i].name, figs[i].value, figs[i].unit);
	printf("]}\n");
	rc = 0;
out:
	teardown(&r, ins, n);
	free(ins);
	free(msgs);
	return rc;
}
