// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bring-up and teardown of the gateway process. The order matters in both directions: tables the
 * workers read exist before any worker starts, and nothing a worker might still touch is freed
 * before every worker has returned (rte_eal_mp_wait_lcore).
 */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "allowedips.h"
#include "flow.h"
#include "nat.h"
#include "crypto.h"
#include "crypto_burst.h"
#include "device.h"
#include "handshake.h"
#include "handshake_lcores.h"
#include "nat_gw.h"
#include "health.h"
#include "index_table.h"
#include "log.h"
#include "neigh.h"
#include "ports.h"
#include "punt.h"
#include "relay_gw.h"

#define PUNT_RING_SIZE  4096
#define EVENT_RING_SIZE 1024
/* ARP/ND entries: both ports' next hops and LAN hosts. */
#define NEIGH_ENTRIES 4096

uint64_t mg_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mg_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mg_control_now(const struct mg_control *ctl)
{
	if (ctl->test && ctl->test->now)
		return ctl->test->now(ctl->test->ctx);
	return mg_mono_ns();
}

/* ---- deferred free ---- */

void mg_control_defer(struct mg_control *ctl, void (*fn)(struct mg_control *, void *), void *ptr)
{
	struct mg_gateway *gw = &ctl->gw;
	if (ctl->n_deferred == ctl->cap_deferred) {
		size_t cap = ctl->cap_deferred ? ctl->cap_deferred * 2 : 64;
		struct mg_deferred *d = realloc(ctl->deferred, cap * sizeof(*d));
		if (!d) {
			/* No room to remember it: wait for the readers here instead. */
			if (gw->rcu)
				rte_rcu_qsbr_synchronize(gw->rcu, RTE_QSBR_THRID_INVALID);
			fn(ctl, ptr);
			ctl->stats.deferred_freed++;
			return;
		}
		ctl->deferred = d;
		ctl->cap_deferred = cap;
	}
	struct mg_deferred *d = &ctl->deferred[ctl->n_deferred++];
	d->token = gw->rcu ? rte_rcu_qsbr_start(gw->rcu) : 0;
	d->fn = fn;
	d->ptr = ptr;
}

void mg_control_reclaim(struct mg_control *ctl, bool all)
{
	size_t done = 0;
	/* Tokens grow in queue order: stop at the first one still in its grace period. */
	while (done < ctl->n_deferred) {
		struct mg_deferred *d = &ctl->deferred[done];
		if (!all && ctl->gw.rcu && rte_rcu_qsbr_check(ctl->gw.rcu, d->token, false) != 1)
			break;
		d->fn(ctl, d->ptr);
		done++;
	}
	if (!done)
		return;
	ctl->stats.deferred_freed += done;
	memmove(ctl->deferred, ctl->deferred + done,
	        (ctl->n_deferred - done) * sizeof(*ctl->deferred));
	ctl->n_deferred -= done;
}

static void addrs_free(struct mg_control *ctl, void *ptr)
{
	(void)ctl;
	free(ptr);
}

int mg_control_set_addrs(struct mg_control *ctl, const struct mg_dp_addrs *next)
{
	struct mg_dp_addrs *old;
	int rc = mg_gateway_publish_addrs(&ctl->gw, next, &old);
	if (rc == 0)
		mg_control_defer(ctl, addrs_free, old);
	return rc;
}

/* ---- Noise upcalls ---- */

static uint64_t upcall_now(void *ctx)
{
	return mg_control_now(ctx);
}

static void upcall_tai64n(void *ctx, uint8_t out[WG_TIMESTAMP_LEN])
{
	const struct mg_control *ctl = ctx;
	ctl->test->tai64n(ctl->test->ctx, out);
}

/*
 * Consuming an initiation changes the peer's handshake state right after this lookup: the peer
 * comes back under its hs_lock, which the caller releases (mg_hs_take_found). Checked again
 * under the lock: a peer removed meanwhile is no longer in its slot.
 */
static struct wg_noise_remote *upcall_remote_by_pubkey(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	struct mg_control *ctl = ctx;
	struct mg_peer *peer = mg_device_find(ctl, pub);
	if (!peer)
		return NULL;
	rte_spinlock_lock(&peer->hs_lock);
	if (mg_gateway_peer(&ctl->gw, peer->slot) != peer) {
		rte_spinlock_unlock(&peer->hs_lock);
		return NULL;
	}
	mg_hs_found_peer(peer);
	return &peer->remote;
}

static void keypair_free(struct mg_control *ctl, void *ptr)
{
	(void)ctl;
	wg_noise_keypair_free(ptr);
}

void mg_control_release_keypair(struct mg_control *ctl, struct wg_noise_keypair *kp)
{
	mg_control_defer(ctl, keypair_free, kp);
}

static void upcall_keypair_release(void *ctx, struct wg_noise_keypair *kp)
{
	/* On a handshake lcore the keypair travels back with its result: the deferred list is
	 * the control thread's. */
	if (!mg_hs_keep_release(kp))
		mg_control_defer(ctx, keypair_free, kp);
}

static void rng(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	wg_random_bytes(buf, len);
}

/* ---- bring-up ---- */

/* What the data plane needs from the config file, in its own terms. */
static void dp_config_from(const struct mg_config *cfg, struct mg_dp_config *dc,
                           struct mg_dp_addrs *da)
{
	memset(dc, 0, sizeof(*dc));
	memset(da, 0, sizeof(*da));
	for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
		const struct mg_port_config *pc = &cfg->ports[p];
		struct mg_port_addrs *pa = &da->ports[p];
		memcpy(dc->ports[p].devargs, pc->devargs, sizeof(dc->ports[p].devargs));
		dc->ports[p].rx_desc = pc->rx_desc;
		dc->ports[p].tx_desc = pc->tx_desc;
		pa->ipv4 = pc->ipv4;
		pa->ipv6 = pc->ipv6;
		pa->has_ipv4 = pc->has_ipv4;
		pa->has_ipv6 = pc->has_ipv6;
		memcpy(pa->gateway4, pc->gateway4, sizeof(pa->gateway4));
		memcpy(pa->gateway6, pc->gateway6, sizeof(pa->gateway6));
		pa->has_gateway4 = pc->has_gateway4;
		pa->has_gateway6 = pc->has_gateway6;
	}
	memcpy(da->addresses, cfg->addresses, cfg->n_addresses * sizeof(da->addresses[0]));
	da->n_addresses = cfg->n_addresses;

	dc->control_lcore = cfg->control_lcore;
	memcpy(dc->worker_lcores, cfg->worker_lcores, sizeof(dc->worker_lcores));
	dc->n_workers = cfg->n_workers;
	memcpy(dc->handshake_lcores, cfg->handshake_lcores, sizeof(dc->handshake_lcores));
	dc->n_handshake_lcores = cfg->n_handshake_lcores;
	for (size_t i = 0; i < cfg->n_eal_args; i++)
		dc->eal_args[i] = cfg->eal_args[i];
	dc->n_eal_args = cfg->n_eal_args;
	dc->listen_port = cfg->listen_port;
	dc->mtu = cfg->mtu;
	dc->idle_backoff = cfg->idle_backoff;
	dc->idle_max_sleep_us = cfg->idle_max_sleep_us;
	dc->rx_fanout = cfg->rx_fanout;
	dc->mbufs = cfg->mbufs;
	dc->max_peers = cfg->max_peers;
	dc->max_prefixes = cfg->max_prefixes;
	dc->ipv4_tbl8_groups = cfg->ipv4_tbl8_groups;
	dc->ipv6_tbl8_groups = cfg->ipv6_tbl8_groups;
	dc->exit = cfg->exit;
	/* The routes this gateway advertises are its LANs: never translated. */
	for (size_t i = 0; cfg->coord.advertise_routes_set && i < cfg->coord.n_advertise_routes &&
	                   dc->exit.n_exclude < MG_NAT_MAX_EXCLUDE;
	     i++)
		if (cfg->coord.advertise_routes[i].len > 0)
			dc->exit.exclude[dc->exit.n_exclude++] = cfg->coord.advertise_routes[i];
}

static int fail(char *err, size_t errlen, const char *fmt, const char *detail)
{
	snprintf(err, errlen, fmt, detail);
	return -1;
}

static int check_lcores(const struct mg_config *cfg, char *err, size_t errlen)
{
	char what[64];
	unsigned main_lcore = rte_get_main_lcore();
	for (size_t i = 0; i < cfg->n_workers; i++) {
		unsigned l = cfg->worker_lcores[i];
		snprintf(what, sizeof(what), "%u", l);
		if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l))
			return fail(
			    err, errlen,
			    "worker lcore %s is not enabled in the EAL (check lcores and eal)",
			    what);
		if (l == main_lcore)
			return fail(err, errlen,
			            "worker lcore %s is the EAL main lcore, which runs the control "
			            "thread",
			            what);
	}
	if (cfg->n_workers == 0 || cfg->n_workers > MG_MAX_WORKERS)
		return fail(err, errlen, "%s", "between 1 and 16 worker lcores are needed");
	for (size_t i = 0; i < cfg->n_handshake_lcores; i++) {
		unsigned l = cfg->handshake_lcores[i];
		snprintf(what, sizeof(what), "%u", l);
		if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l))
			return fail(err, errlen,
			            "handshake lcore %s is not enabled in the EAL (add it to the "
			            "EAL's lcore list, or take it out of lcores.handshake)",
			            what);
		if (l == main_lcore)
			return fail(
			    err, errlen,
			    "handshake lcore %s is the EAL main lcore, which runs the control "
			    "thread",
			    what);
	}
	return 0;
}

static int create_rings(struct mg_control *ctl, char *err, size_t errlen)
{
	struct mg_gateway *gw = &ctl->gw;
	int socket = (int)rte_socket_id();

	gw->punt_ring = rte_ring_create("mg_punt", PUNT_RING_SIZE, socket, RING_F_SC_DEQ);
	if (!gw->punt_ring)
		return fail(err, errlen, "cannot create the punt ring: %s",
		            rte_strerror(rte_errno));
	gw->event_ring = rte_ring_create_elem("mg_event", sizeof(struct mg_event), EVENT_RING_SIZE,
	                                      socket, RING_F_SC_DEQ);
	if (!gw->event_ring)
		return fail(err, errlen, "cannot create the event ring: %s",
		            rte_strerror(rte_errno));
	/* Readers: the workers, then the handshake lcores (they hold peers). */
	unsigned readers = gw->n_workers + (unsigned)ctl->cfg.n_handshake_lcores;
	size_t rcu_size = rte_rcu_qsbr_get_memsize(readers);
	gw->rcu = rte_zmalloc("mg_rcu", rcu_size, RTE_CACHE_LINE_SIZE);
	if (!gw->rcu || rte_rcu_qsbr_init(gw->rcu, readers) != 0)
		return fail(err, errlen, "%s", "cannot create the RCU variable: out of memory");
	return 0;
}

/* The memory the sizing keys cost, once, so an operator tuning limits: sees the effect. */
static void log_table_sizes(const struct mg_gateway *gw, const struct mg_config *cfg)
{
	struct mg_allowedips_stats st;
	struct mg_log_line l;

	mg_allowedips_get_stats(gw->allowedips, &st);
	mg_log_begin(&l, MG_LOG_INFO, "allowed-IPs table");
	mg_log_u64(&l, "max_prefixes", cfg->max_prefixes);
	mg_log_u64(&l, "ipv4_tbl8_groups", st.v4_tbl8s);
	mg_log_u64(&l, "ipv6_tbl8_groups", st.v6_tbl8s);
	mg_log_u64(&l, "dpdk_mib", st.dpdk_bytes >> 20);
	mg_log_end(&l);
}

static int create_tables(struct mg_control *ctl, char *err, size_t errlen)
{
	struct mg_gateway *gw = &ctl->gw;
	const struct mg_config *cfg = &ctl->cfg;

	gw->index = wg_index_table_new(gw->max_peers * 4);
	if (!gw->index)
		return fail(err, errlen, "%s", "cannot create the session index table: no memory");
	const struct wg_noise_upcalls up = {
	    .ctx = ctl,
	    .now = upcall_now,
	    .remote_by_pubkey = upcall_remote_by_pubkey,
	    .keypair_release = upcall_keypair_release,
	    .current_changed = mg_peer_current_changed,
	    .tai64n = ctl->test && ctl->test->tai64n ? upcall_tai64n : NULL,
	};
	if (wg_noise_local_init(&gw->local, gw->index, &up) != WG_OK)
		return fail(err, errlen, "%s", "cannot initialise the crypto library");
	if (wg_noise_local_set_private(&gw->local, cfg->private_key) != WG_OK)
		return fail(err, errlen, "%s", "the private key is unusable");
	if (wg_cookie_checker_init(&ctl->cookie_checker, gw->local.static_public, rng, NULL) !=
	    WG_OK)
		return fail(err, errlen, "%s", "cannot initialise the cookie checker");
	ctl->ratelimiter = wg_ratelimiter_new(WG_RATELIMITER_DEFAULT_CAPACITY, rng, NULL);
	if (!ctl->ratelimiter)
		return fail(err, errlen, "%s",
		            "cannot create the handshake rate limiter: no memory");

	const struct mg_allowedips_options opt = {.rcu = gw->rcu,
	                                          .socket_id = SOCKET_ID_ANY,
	                                          .v4_tbl8s = cfg->ipv4_tbl8_groups,
	                                          .v6_tbl8s = cfg->ipv6_tbl8_groups};
	gw->allowedips = mg_allowedips_create(cfg->max_prefixes, cfg->max_prefixes, &opt);
	if (!gw->allowedips)
		return fail(err, errlen,
		            "cannot create the allowed-IPs table (%s); lower limits.max_prefixes "
		            "or limits.ipv4_tbl8_groups / ipv6_tbl8_groups, or give the EAL more "
		            "memory",
		            rte_strerror(rte_errno));
	log_table_sizes(gw, cfg);
	gw->neigh = mg_neigh_create(NEIGH_ENTRIES, SOCKET_ID_ANY);
	if (!gw->neigh)
		return fail(err, errlen, "%s", "cannot create the neighbour table: no memory");
	if (gw->conf.exit.enabled) {
		char why[160];
		gw->nat = mg_nat_create(&gw->conf.exit, mg_gateway_addrs(gw), gw->n_workers,
		                        gw->mtu, gw->rcu, why, sizeof(why));
		if (!gw->nat)
			return fail(err, errlen, "%s", why);
		struct mg_log_line l;
		mg_log_begin(&l, MG_LOG_INFO, "exit NAT");
		mg_log_str(&l, "uplink", gw->conf.exit.uplink == MG_PORT_LAN ? "lan" : "mesh");
		mg_log_u64(&l, "max_flows",
		           gw->conf.exit.max_flows ? gw->conf.exit.max_flows : 65536);
		mg_log_u64(&l, "dpdk_mib", mg_nat_memory(gw->nat) >> 20);
		mg_log_end(&l);
	}

	char why[160];
	/* One owner per worker, and the control thread's own packets as the last. */
	gw->flows = mg_flows_create(gw->n_workers + 1, 0, gw->rcu, why, sizeof(why));
	if (!gw->flows)
		return fail(err, errlen, "%s", why);

	gw->peers =
	    rte_zmalloc("mg_peers", gw->max_peers * sizeof(*gw->peers), RTE_CACHE_LINE_SIZE);
	gw->peer_tx =
	    rte_zmalloc("mg_peer_tx", gw->max_peers * sizeof(*gw->peer_tx), RTE_CACHE_LINE_SIZE);
	/* Rows are cache-line aligned (counters.h): calloc's alignment is not enough. */
	ctl->ctl_counters = aligned_alloc(64, gw->max_peers * sizeof(*ctl->ctl_counters));
	if (ctl->ctl_counters)
		memset(ctl->ctl_counters, 0, gw->max_peers * sizeof(*ctl->ctl_counters));
	if (!gw->peers || !gw->peer_tx || !ctl->ctl_counters)
		return fail(err, errlen, "%s", "no memory for the peer table");
	for (unsigned w = 0; w < gw->n_workers; w++) {
		unsigned lcore = cfg->worker_lcores[w];
		gw->peer_counters[w] = rte_zmalloc_socket(
		    "mg_peer_counters", gw->max_peers * sizeof(struct mg_peer_counters),
		    RTE_CACHE_LINE_SIZE, (int)rte_lcore_to_socket_id(lcore));
		if (!gw->peer_counters[w])
			return fail(err, errlen, "%s", "no memory for the per-peer counters");
	}
	wg_timer_durations_default(&ctl->durations);
	wg_timer_durations_scale(&ctl->durations,
	                         cfg->test_timer_divisor ? cfg->test_timer_divisor : 1);
	return mg_device_init(ctl, err, errlen);
}

static int add_config_peers(struct mg_control *ctl, char *err, size_t errlen)
{
	char why[256];
	for (size_t i = 0; i < ctl->cfg.n_peers; i++) {
		if (mg_device_add_peer(ctl, &ctl->cfg.peers[i], NULL, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "peers[%zu]: %s", i, why);
			return -1;
		}
	}
	return 0;
}

/* Before any peer: a coordinated node admits nothing new until its first map says otherwise;
 * a static one enforces its config's filter, or none. */
static int initial_filter(struct mg_control *ctl, char *err, size_t errlen)
{
	static const struct mg_filter empty;
	char why[256];
	const struct mg_filter *f = ctl->cfg.coord.url[0] ? &empty
	                            : ctl->cfg.has_filter ? &ctl->cfg.filter
	                                                  : NULL;
	if (!f)
		return 0;
	if (mg_control_set_filter(ctl, f,
	                          ctl->cfg.coord.url[0] ? MG_FILTER_COORD : MG_FILTER_CONFIG, why,
	                          sizeof(why)) != 0)
		return fail(err, errlen, "%s", why);
	return 0;
}

static int start_workers(struct mg_control *ctl, char *err, size_t errlen)
{
	struct mg_gateway *gw = &ctl->gw;
	char what[96];

	for (unsigned i = 0; i < gw->n_workers; i++) {
		unsigned lcore = ctl->cfg.worker_lcores[i];
		struct mg_worker *w =
		    rte_zmalloc_socket("mg_worker", sizeof(*w), RTE_CACHE_LINE_SIZE,
		                       (int)rte_lcore_to_socket_id(lcore));
		if (!w)
			return fail(err, errlen, "%s", "no memory for a worker");
		ctl->worker_mem[i] = w;
		int rc = mg_worker_init(w, gw, i, lcore);
		if (rc != 0) {
			snprintf(what, sizeof(what), "worker %u on lcore %u: %s", i, lcore,
			         strerror(-rc));
			return fail(err, errlen, "cannot set up %s", what);
		}
		gw->workers[i] = w;
	}
	if (ctl->test && ctl->test->no_launch) {
		/* The caller runs the bursts on its own thread: it needs the crypto contexts the
		 * workers would otherwise make for themselves. */
		for (unsigned i = 0; i < gw->n_workers; i++) {
			int rc = 0;
			gw->workers[i]->crypto = mg_crypto_create(MG_CRYPTO_ISA_AUTO, &rc);
			if (!gw->workers[i]->crypto)
				return fail(err, errlen, "%s",
				            "cannot create a worker's crypto context");
		}
		return 0;
	}
	for (unsigned i = 0; i < gw->n_workers; i++) {
		int rc = rte_eal_remote_launch(mg_worker_main, gw->workers[i],
		                               ctl->cfg.worker_lcores[i]);
		if (rc != 0) {
			atomic_store(&gw->stop, true);
			rte_eal_mp_wait_lcore();
			snprintf(what, sizeof(what), "%u: %s", ctl->cfg.worker_lcores[i],
			         strerror(-rc));
			return fail(err, errlen, "cannot launch the worker on lcore %s", what);
		}
		ctl->workers_launched = true;
	}
	return 0;
}

int mg_control_up(struct mg_control *ctl, struct mg_config *cfg, const char *prog, char *err,
                  size_t errlen)
{
	struct mg_gateway *gw = &ctl->gw;

	struct mg_dp_config dc;
	struct mg_dp_addrs da;

	ctl->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	mg_netmap_state_init(&ctl->netmap);
	int level = mg_log_level_parse(ctl->cfg.log_level);
	mg_log_set_level(level < 0 ? MG_LOG_INFO : (enum mg_log_level)level);
	/* The eal_args pointers stay valid: ctl->cfg owns the strings until mg_control_down. */
	dp_config_from(&ctl->cfg, &dc, &da);
	if (mg_gateway_init(gw, &dc, &da) != 0)
		return fail(err, errlen, "%s", "no memory for the data plane's state");

	if (wg_crypto_init() != WG_OK)
		return fail(err, errlen, "%s", "cannot initialise the crypto libraries");
	if (gw->max_peers == 0 || gw->max_peers > MG_ALLOWEDIPS_MAX_PEER)
		return fail(err, errlen, "%s", "limits.max_peers out of range");
	if (!ctl->test || !ctl->test->eal_ready) {
		if (mg_eal_init(&gw->conf, prog, err, errlen) != 0)
			return -1;
		ctl->eal_up = true;
	}
	gw->tsc_hz = rte_get_tsc_hz();
	if (check_lcores(&ctl->cfg, err, errlen) != 0)
		return -1;
	if (mg_ports_setup(gw, err, errlen) != 0)
		return -1;
	ctl->ports_up = true;
	if (create_rings(ctl, err, errlen) != 0 || create_tables(ctl, err, errlen) != 0 ||
	    initial_filter(ctl, err, errlen) != 0 || add_config_peers(ctl, err, errlen) != 0)
		return -1;
	if (mg_control_uapi_start(ctl, err, errlen) != 0)
		return -1;
	if (mg_control_health_start(ctl, ctl->cfg.metrics_listen, &ctl->health, err, errlen) != 0)
		return -1;
	if (mg_control_coord_start(ctl, err, errlen) != 0)
		return -1;
	/* Before the workers: they hand relayed peers' packets to its rings. */
	if (mg_relay_gw_start(ctl, err, errlen) != 0)
		return -1;
	if (mg_hs_lcores_init(ctl, err, errlen) != 0)
		return -1;
	/* Before the workers too: they hand STUN and disco to its ring. */
	if (mg_nat_gw_start(ctl, err, errlen) != 0)
		return -1;
	if (start_workers(ctl, err, errlen) != 0)
		return -1;
	if (ctl->test && ctl->test->no_launch)
		return 0;
	return mg_hs_lcores_launch(ctl, err, errlen);
}

/* ---- teardown ---- */

static void drain_rings(struct mg_gateway *gw)
{
	struct rte_mbuf *m;
	struct mg_event ev;
	if (gw->punt_ring)
		while (rte_ring_sc_dequeue(gw->punt_ring, (void **)&m) == 0)
			rte_pktmbuf_free(m);
	if (gw->event_ring)
		while (rte_ring_sc_dequeue_elem(gw->event_ring, &ev, sizeof(ev)) == 0)
			;
}

void mg_control_down(struct mg_control *ctl)
{
	struct mg_gateway *gw = &ctl->gw;

	atomic_store(&gw->stop, true);
	if (ctl->workers_launched) {
		rte_eal_mp_wait_lcore();
		ctl->workers_launched = false;
	}
	mg_control_uapi_stop(ctl);
	/* The health snapshot reads the tables: stop it before any is freed. */
	mg_control_health_stop(ctl->health);
	ctl->health = NULL;
	mg_control_coord_stop(ctl);
	for (unsigned i = 0; i < MG_MAX_WORKERS; i++) {
		if (ctl->worker_mem[i]) {
			if (gw->workers[i])
				mg_worker_fini(ctl->worker_mem[i]);
			rte_free(ctl->worker_mem[i]);
			ctl->worker_mem[i] = NULL;
		}
		gw->workers[i] = NULL;
	}
	/* Every lcore has returned: what they left for us is keypairs to retire. */
	mg_hs_lcores_fini(ctl);
	mg_hs_pending_clear(ctl);
	mg_relay_gw_stop(ctl);
	mg_nat_gw_stop(ctl);
	mg_device_fini(ctl); /* removes the peers: their keypairs go to the deferred list */
	mg_control_reclaim(ctl, true);
	mg_control_filter_fini(ctl);
	free(ctl->deferred);
	ctl->deferred = NULL;
	ctl->n_deferred = ctl->cap_deferred = 0;

	drain_rings(gw);
	mg_allowedips_free(gw->allowedips);
	gw->allowedips = NULL;
	mg_neigh_free(gw->neigh);
	mg_nat_free(gw->nat);
	gw->nat = NULL;
	gw->neigh = NULL;
	if (gw->index) {
		wg_noise_local_destroy(&gw->local);
		wg_index_table_free(gw->index);
		gw->index = NULL;
	}
	wg_cookie_checker_clear(&ctl->cookie_checker);
	wg_ratelimiter_free(ctl->ratelimiter);
	ctl->ratelimiter = NULL;
	rte_ring_free(gw->punt_ring);
	gw->punt_ring = NULL;
	rte_ring_free(gw->event_ring);
	gw->event_ring = NULL;
	rte_free(gw->rcu);
	gw->rcu = NULL;
	rte_free(gw->peers);
	gw->peers = NULL;
	rte_free(gw->peer_tx);
	gw->peer_tx = NULL;
	for (unsigned w = 0; w < MG_MAX_WORKERS; w++) {
		rte_free(gw->peer_counters[w]);
		gw->peer_counters[w] = NULL;
	}
	free(ctl->ctl_counters);
	ctl->ctl_counters = NULL;

	if (ctl->ports_up) {
		mg_ports_stop(gw);
		ctl->ports_up = false;
	}
	if (ctl->eal_up) {
		mg_eal_fini();
		ctl->eal_up = false;
	}
	mg_gateway_fini(gw);
	mg_config_free(&ctl->cfg);
}

void mg_control_log_stats(const struct mg_control *ctl)
{
	const struct mg_ctl_stats *s = &ctl->stats;
	const struct mg_gateway *gw = &ctl->gw;
	struct mg_log_line l;

	mg_log_begin(&l, MG_LOG_NOTICE, "control counters");
	mg_log_u64(&l, "init_rx", s->hs_rx[1]);
	mg_log_u64(&l, "resp_rx", s->hs_rx[2]);
	mg_log_u64(&l, "cookie_rx", s->hs_rx[3]);
	mg_log_u64(&l, "malformed", s->hs_malformed);
	mg_log_u64(&l, "bad_mac", s->hs_bad_mac);
	mg_log_u64(&l, "rejected", s->hs_rejected);
	mg_log_u64(&l, "ratelimited", s->hs_ratelimited);
	mg_log_u64(&l, "init_tx", s->initiations_sent);
	mg_log_u64(&l, "resp_tx", s->responses_sent);
	mg_log_u64(&l, "cookie_tx", s->cookies_sent);
	mg_log_u64(&l, "keepalive_tx", s->keepalives_sent);
	mg_log_u64(&l, "staged_tx", s->staged_sent);
	mg_log_u64(&l, "staged_dropped", s->staged_dropped);
	mg_log_u64(&l, "tx_failed", s->tx_failed);
	mg_log_u64(&l, "no_neighbour", s->tx_no_neighbour);
	mg_log_u64(&l, "local_dropped", s->local_dropped);
	mg_log_u64(&l, "echo_tx", s->echo_replies);
	mg_log_u64(&l, "echo_rx", s->echo_replies_rx);
	mg_log_u64(&l, "events", s->events);
	mg_log_end(&l);
	for (unsigned i = 0; i < ctl->n_hs_lcores; i++) {
		const struct mg_hs_lcore_stats *h = &ctl->hs_lcores[i]->stats;
		mg_log_begin(&l, MG_LOG_NOTICE, "handshake lcore counters");
		mg_log_u64(&l, "lcore", ctl->hs_lcores[i]->lcore);
		mg_log_u64(&l, "init_rx", h->initiations);
		mg_log_u64(&l, "handshakes", h->handshakes);
		mg_log_u64(&l, "resp_rx_done", h->responses);
		mg_log_u64(&l, "cookies_taken", h->cookies_taken);
		mg_log_u64(&l, "cookie_tx", h->cookies);
		mg_log_u64(&l, "malformed", h->malformed);
		mg_log_u64(&l, "bad_mac", h->bad_mac);
		mg_log_u64(&l, "rejected", h->rejected);
		mg_log_u64(&l, "ratelimited", h->ratelimited);
		mg_log_u64(&l, "busy_cpu_us", h->busy_cpu_ns / 1000);
		mg_log_end(&l);
	}
	if (gw->neigh) {
		struct mg_neigh_stats ns;
		mg_neigh_stats(gw->neigh, &ns);
		mg_log_begin(&l, MG_LOG_NOTICE, "neighbour counters");
		mg_log_u64(&l, "entries", ns.entries);
		mg_log_u64(&l, "arp_rx", ns.arp_rx);
		mg_log_u64(&l, "nd_rx", ns.nd_rx);
		mg_log_u64(&l, "replies", ns.replies_sent);
		mg_log_u64(&l, "requests", ns.requests_sent);
		mg_log_u64(&l, "learned", ns.learned);
		mg_log_u64(&l, "tx_failed", ns.tx_failed);
		mg_log_u64(&l, "malformed", ns.arp_malformed + ns.nd_malformed);
		mg_log_u64(&l, "ignored", ns.ignored);
		mg_log_end(&l);
	}
	for (unsigned i = 0; i < gw->n_workers; i++) {
		const struct mg_worker *w = gw->workers[i];
		if (!w)
			continue;
		const struct mg_worker_counters *c = &w->counters;
		mg_log_begin(&l, MG_LOG_NOTICE, "worker counters");
		mg_log_u64(&l, "worker", i);
		mg_log_u64(&l, "rx_lan", c->rx_packets[0]);
		mg_log_u64(&l, "rx_mesh", c->rx_packets[1]);
		mg_log_u64(&l, "tx_lan", c->tx_packets[0]);
		mg_log_u64(&l, "tx_mesh", c->tx_packets[1]);
		mg_log_u64(&l, "encrypted", c->encrypted);
		mg_log_u64(&l, "decrypted", c->decrypted);
		mg_log_u64(&l, "punted", c->punted);
		for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++) {
			char key[48];
			if (!c->drops[r])
				continue;
			snprintf(key, sizeof(key), "drop_%s", mg_drop_reason_name(r));
			mg_log_u64(&l, key, c->drops[r]);
		}
		mg_log_end(&l);
	}
}
