// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent: coordinator client -> map diff engine -> a sink that drives a stock WireGuard
 * interface through its UAPI socket and the kernel's addresses and routes through rtnetlink.
 * One thread of our own (the loop below) plus the coordinator client's; nothing here blocks
 * for long (UAPI and netlink calls have 5 s timeouts).
 */
#include "agent.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coord_client.h"
#include "crypto.h"
#include "disco_sock.h"
#include "exit_route.h"
#include "keys.h"
#include "log.h"
#include "netmap_apply.h"
#include "nft.h"
#include "peer_paths.h"
#include "relay_path.h"
#include "rtnl.h"
#include "status.h"
#include "uapi_client.h"

#define WG_GO_WAIT_MS   10000
#define REDISCOVER_SECS 30
#ifndef MG_AGENT_VERSION
#define MG_AGENT_VERSION "dev"
#endif

struct agent {
	struct mg_agent_config cfg;
	char sock[MG_PATH_MAX + 32];
	pid_t wg_pid; /* wireguard-go we started, or -1 */
	int ifindex;
	struct mg_rtnl rtnl;
	struct mg_nft *nft;
	struct mg_exit_route exit;
	size_t exit_peers[2]; /* peers carrying 0.0.0.0/0, ::/0 */
	int exit_granted;     /* last logged: -1 not yet, 0 no, 1 yes */
	struct mg_coord_client *cl;
	struct mg_netmap_state st;
	uint8_t public_key[WG_KEY_LEN];
	sigset_t old_mask;
	struct mg_relay_path *rp;       /* NULL without a relay: section */
	struct mg_nat_probe *np;        /* NULL without a stun: section */
	struct mg_nat_probe_result nat; /* the last probe's, for the log and the coordinator */
	struct mg_agent_disco *disco;   /* pongs on the probe's socket; NULL without it */
	struct mg_agent_paths *paths;   /* disco path selection: with stun: and relay: only */
	struct mg_sockaddr local_eps[MG_MAX_REPORTED_ENDPOINTS]; /* our addresses, last report */
	size_t n_local_eps;
};

static void log_key(enum mg_log_level lvl, const char *msg, const uint8_t key[WG_KEY_LEN],
                    const char *k2, const char *v2)
{
	char b64[WG_KEY_B64_SIZE];

	wg_key_to_base64(b64, key);
	mg_log(lvl, msg, "peer", b64, k2, v2, NULL);
}

/* ---- routes and addresses ---- */

/* A default route in main would carry the tunnel's own packets: an exit node's /0 goes into
 * a table of its own behind policy rules instead (exit_route.h). */
static bool routable(const struct mg_prefix *p)
{
	return p->len > 0;
}

static void route_change(struct agent *a, bool add, const struct mg_prefix *p, int *failures)
{
	char text[MG_PREFIX_STRLEN];
	int rc;

	if (!routable(p))
		return;
	rc = mg_rtnl_route(&a->rtnl, add, a->ifindex, p);
	if (rc == 0 || (!add && rc == -ESRCH))
		return;
	mg_prefix_format(p, text, sizeof(text));
	mg_log(MG_LOG_WARNING, add ? "route add failed" : "route delete failed", "prefix", text,
	       "error", strerror(-rc), NULL);
	(*failures)++;
}

static bool in_list(const struct mg_prefix *list, size_t n, const struct mg_prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (mg_prefix_cmp(&list[i], p) == 0)
			return true;
	return false;
}

/* Routes for what new_ips has and old_ips lacks, and away for the reverse. */
static int routes_sync(struct agent *a, const struct mg_prefix *old_ips, size_t n_old,
                       const struct mg_prefix *new_ips, size_t n_new)
{
	int failures = 0;

	for (size_t i = 0; i < n_old; i++)
		if (!in_list(new_ips, n_new, &old_ips[i]))
			route_change(a, false, &old_ips[i], &failures);
	for (size_t i = 0; i < n_new; i++)
		if (!in_list(old_ips, n_old, &new_ips[i]))
			route_change(a, true, &new_ips[i], &failures);
	return failures ? -EIO : 0;
}

/* ---- the exit node ---- */

static bool carries_default(const struct mg_netmap_peer *p, int family)
{
	for (size_t i = 0; p && i < p->n_allowed_ips; i++)
		if (p->allowed_ips[i].len == 0 && p->allowed_ips[i].family == family)
			return true;
	return false;
}

/* Counts old out and p in, then routes each family through the tunnel while some peer has its
 * /0. Only the exit node this host chose gets them from the coordinator. */
static void exit_sync(struct agent *a, const struct mg_netmap_peer *old,
                      const struct mg_netmap_peer *p)
{
	for (int f = 0; f < 2; f++) {
		int family = f == 0 ? 4 : 6;

		if (carries_default(old, family) && a->exit_peers[f] > 0)
			a->exit_peers[f]--;
		if (carries_default(p, family))
			a->exit_peers[f]++;
		mg_exit_route_set(&a->exit, family, a->exit_peers[f] > 0);
	}
}

/* Says once per change whether the coordinator granted the exit node this host asked for. */
static void exit_report(struct agent *a)
{
	int granted = a->exit_peers[0] + a->exit_peers[1] > 0;

	if (!a->cfg.coord.use_exit_node[0] || granted == a->exit_granted)
		return;
	a->exit_granted = granted;
	if (granted)
		mg_log(MG_LOG_NOTICE, "exit node granted", "exit_node", a->cfg.coord.use_exit_node,
		       NULL);
	else
		mg_log(MG_LOG_WARNING,
		       "exit node not granted: no peer of that name or key carries approved /0 "
		       "routes for us (offline, not approved, or the policy gives us no "
		       "autogroup:internet); internet traffic stays on the host's own route",
		       "exit_node", a->cfg.coord.use_exit_node, NULL);
}

/* ---- the sink ---- */

static int uapi_peer(struct agent *a, const struct mg_netmap_peer *p, bool remove,
                     bool set_endpoint)
{
	struct mg_uapi_peer_change pc;
	struct mg_uapi_set set;
	char err[200];
	int rc;

	memset(&pc, 0, sizeof(pc));
	memset(&set, 0, sizeof(set));
	memcpy(pc.public_key, p->public_key, WG_KEY_LEN);
	pc.remove = remove;
	if (!remove) {
		/* A relayed peer keeps its loopback proxy whatever the map says. */
		if (mg_relay_path_endpoint(a->rp, p->public_key, &pc.endpoint)) {
			pc.has_endpoint = true;
		} else if (set_endpoint && p->n_endpoints) {
			pc.has_endpoint = true;
			pc.endpoint = p->endpoints[0];
		}
		if (a->cfg.persistent_keepalive) {
			pc.has_persistent_keepalive = true;
			pc.persistent_keepalive = a->cfg.persistent_keepalive;
		}
		pc.replace_allowed_ips = true;
		pc.allowed_ips = (struct mg_prefix *)p->allowed_ips;
		pc.n_allowed_ips = p->n_allowed_ips;
	}
	set.peers = &pc;
	set.n_peers = 1;
	rc = mg_uapi_client_set(a->sock, &set, err, sizeof(err));
	if (rc)
		log_key(MG_LOG_WARNING, "uapi set failed", p->public_key, "error", err);
	return rc;
}

static int sink_add(void *ctx, const struct mg_netmap_peer *p)
{
	struct agent *a = ctx;
	int rc = uapi_peer(a, p, false, true);

	if (rc)
		return rc;
	log_key(MG_LOG_INFO, "peer added", p->public_key, "name", p->name);
	exit_sync(a, NULL, p);
	if (a->rp) {
		mg_relay_path_peer_seen(a->rp, p->public_key, p->name,
		                        p->n_endpoints ? &p->endpoints[0] : NULL,
		                        (int64_t)time(NULL));
		mg_relay_path_peer_home(a->rp, p->public_key, p->home_relay);
	}
	if (a->paths)
		mg_agent_paths_peer(a->paths, p);
	return routes_sync(a, NULL, 0, p->allowed_ips, p->n_allowed_ips);
}

static int sink_update(void *ctx, const struct mg_netmap_peer *old, const struct mg_netmap_peer *p)
{
	struct agent *a = ctx;
	/* WireGuard roams to where authenticated packets come from: only a new first endpoint
	 * from the coordinator overrides that. */
	bool ep = p->n_endpoints &&
	          (old->n_endpoints == 0 ||
	           memcmp(&old->endpoints[0], &p->endpoints[0], sizeof(p->endpoints[0])) != 0);
	int rc;

	/* Routes first when shrinking, so no packet is routed into a peer that lost the prefix. */
	rc = routes_sync(a, old->allowed_ips, old->n_allowed_ips, p->allowed_ips, p->n_allowed_ips);
	if (uapi_peer(a, p, false, ep) != 0)
		return -EIO;
	exit_sync(a, old, p);
	if (a->rp) {
		mg_relay_path_peer_seen(a->rp, p->public_key, p->name,
		                        p->n_endpoints ? &p->endpoints[0] : NULL,
		                        (int64_t)time(NULL));
		mg_relay_path_peer_home(a->rp, p->public_key, p->home_relay);
	}
	if (a->paths)
		mg_agent_paths_peer(a->paths, p);
	log_key(MG_LOG_DEBUG, "peer updated", p->public_key, "name", p->name);
	return rc;
}

static int sink_remove(void *ctx, const struct mg_netmap_peer *p)
{
	struct agent *a = ctx;
	int rc = uapi_peer(a, p, true, false);

	if (rc)
		return rc;
	log_key(MG_LOG_INFO, "peer removed", p->public_key, "name", p->name);
	exit_sync(a, p, NULL);
	if (a->paths)
		mg_agent_paths_peer_gone(a->paths, p->public_key);
	if (a->rp)
		mg_relay_path_peer_gone(a->rp, p->public_key);
	return routes_sync(a, p->allowed_ips, p->n_allowed_ips, NULL, 0);
}

static int sink_self(void *ctx, const struct mg_netmap_self *old, const struct mg_netmap_self *s)
{
	struct agent *a = ctx;
	char text[MG_PREFIX_STRLEN];
	int failures = 0, rc;

	for (size_t i = 0; old && i < old->n_addresses; i++) {
		if (in_list(s->addresses, s->n_addresses, &old->addresses[i]))
			continue;
		rc = mg_rtnl_addr(&a->rtnl, false, a->ifindex, &old->addresses[i]);
		if (rc && rc != -EADDRNOTAVAIL)
			failures++;
	}
	for (size_t i = 0; i < s->n_addresses; i++) {
		mg_prefix_format(&s->addresses[i], text, sizeof(text));
		rc = mg_rtnl_addr(&a->rtnl, true, a->ifindex, &s->addresses[i]);
		if (rc && rc != -EEXIST) {
			mg_log(MG_LOG_WARNING, "address add failed", "address", text, "error",
			       strerror(-rc), NULL);
			failures++;
		} else {
			mg_log(MG_LOG_INFO, "overlay address", "address", text, "ifname",
			       a->cfg.ifname, NULL);
		}
	}
	return failures ? -EIO : 0;
}

/* The filter first reaches the kernel here; until it loads, the previous table stays. */
static int sink_filter(void *ctx, const struct mg_filter *old, const struct mg_filter *f)
{
	struct agent *a = ctx;
	char err[300], count[24];

	(void)old;
	if (mg_nft_apply(a->nft, f, err, sizeof(err)) != 0) {
		mg_log(MG_LOG_ERROR, "packet filter not applied; the previous one stays", "error",
		       err, NULL);
		return -EIO;
	}
	snprintf(count, sizeof(count), "%zu", f->n_rules);
	mg_log(MG_LOG_INFO, "packet filter applied", "rules", count, NULL);
	for (size_t i = 0; i < f->n_rules; i++) {
		char text[512];

		snprintf(count, sizeof(count), "%zu", i);
		mg_filter_rule_format(&f->rules[i], text, sizeof(text));
		mg_log(MG_LOG_DEBUG, "filter rule", "index", count, "rule", text, NULL);
	}
	return 0;
}

static const struct mg_netmap_sink agent_sink = {sink_add, sink_update, sink_remove, sink_self,
                                                 sink_filter};

/*
 * Before the first map: the empty filter, which admits nothing new. It also replaces whatever
 * table a killed earlier run left, so a stale policy never outlives the agent that set it.
 */
static int filter_init(struct agent *a)
{
	static const struct mg_filter none;
	char err[300];

	a->nft = mg_nft_new(a->cfg.ifname, err, sizeof(err));
	if (a->nft && a->cfg.coord.use_exit_node[0])
		mg_nft_set_exit_mark(a->nft, MG_EXIT_FWMARK);
	if (!a->nft || mg_nft_apply(a->nft, &none, err, sizeof(err)) != 0) {
		mg_log(MG_LOG_ERROR, "cannot enforce the packet filter", "error", err, NULL);
		return -1;
	}
	return 0;
}

/* A wireguard-go we only attached to keeps running: leave it unmarked, as we found it. */
static void exit_fwmark_clear(struct agent *a)
{
	struct mg_uapi_set set = {.has_fwmark = true, .fwmark = 0};
	char err[200];

	if (a->wg_pid > 0 || !a->cfg.coord.use_exit_node[0] || a->ifindex <= 0)
		return;
	if (mg_uapi_client_set(a->sock, &set, err, sizeof(err)) != 0)
		mg_log(MG_LOG_WARNING, "fwmark not cleared", "error", err, NULL);
}

static void filter_remove(struct agent *a)
{
	uint64_t packets, bytes;
	char err[300], text[24];

	if (!a->nft)
		return;
	/* A wireguard-go we only attached to outlives us: without the table its peers would be
	 * reachable unfiltered, so they go first (a restarted agent adds them back). */
	if (a->wg_pid <= 0) {
		struct mg_uapi_set set = {.replace_peers = true};

		if (mg_uapi_client_set(a->sock, &set, err, sizeof(err)) != 0)
			mg_log(MG_LOG_WARNING, "peers not removed before the filter", "error", err,
			       NULL);
	}
	if (mg_nft_drops(a->nft, &packets, &bytes) == 0) {
		snprintf(text, sizeof(text), "%" PRIu64, packets);
		mg_log(MG_LOG_INFO, "packet filter removed", "policy_drops", text, NULL);
	}
	if (mg_nft_remove(a->nft, err, sizeof(err)) != 0)
		mg_log(MG_LOG_WARNING, "packet filter not removed", "error", err, NULL);
	mg_nft_free(a->nft);
	a->nft = NULL;
}

/* ---- the interface ---- */

static bool uapi_alive(struct agent *a)
{
	struct mg_uapi_client_device dev;
	char err[160];

	if (mg_uapi_client_get(a->sock, &dev, err, sizeof(err)) != 0)
		return false;
	mg_uapi_client_device_free(&dev);
	return true;
}

static int start_wireguard_go(struct agent *a)
{
	pid_t pid;

	if (!a->cfg.wireguard_go[0]) {
		mg_log(MG_LOG_ERROR, "no UAPI socket and no wireguard_go to start", "socket",
		       a->sock, NULL);
		return -1;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &a->old_mask, NULL);
		setenv("WG_PROCESS_FOREGROUND", "1", 1);
		execl(a->cfg.wireguard_go, a->cfg.wireguard_go, "-f", a->cfg.ifname, (char *)NULL);
		_exit(127);
	}
	a->wg_pid = pid;
	for (int waited = 0; waited < WG_GO_WAIT_MS; waited += 50) {
		if (uapi_alive(a)) {
			mg_log(MG_LOG_NOTICE, "started wireguard-go", "ifname", a->cfg.ifname,
			       NULL);
			return 0;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			a->wg_pid = -1;
			break;
		}
		usleep(50000);
	}
	mg_log(MG_LOG_ERROR, "wireguard-go did not come up", "program", a->cfg.wireguard_go,
	       "ifname", a->cfg.ifname, NULL);
	return -1;
}

static int collect_route(void *ctx, const struct mg_prefix *dst)
{
	struct mg_prefix **list = ctx;
	size_t n = 0;

	while ((*list)[n].family)
		n++;
	struct mg_prefix *grown = realloc(*list, (n + 2) * sizeof(**list));

	if (!grown)
		return 1;
	grown[n] = *dst;
	memset(&grown[n + 1], 0, sizeof(grown[n + 1]));
	*list = grown;
	return 0;
}

/* Key, port, no peers; link up; our stale routes from an earlier run gone. */
static int device_init(struct agent *a)
{
	struct mg_uapi_set set;
	struct mg_prefix *stale = calloc(1, sizeof(*stale));
	char err[200];
	int rc, dummy = 0;

	memset(&set, 0, sizeof(set));
	set.has_private_key = true;
	memcpy(set.private_key, a->cfg.private_key, WG_KEY_LEN);
	set.has_listen_port = true;
	set.listen_port = a->cfg.listen_port;
	/* Only with an exit node: the mark keeps the tunnel's own packets out of its table. */
	set.has_fwmark = a->cfg.coord.use_exit_node[0] != '\0';
	set.fwmark = MG_EXIT_FWMARK;
	set.replace_peers = true;
	rc = mg_uapi_client_set(a->sock, &set, err, sizeof(err));
	wg_memzero(set.private_key, sizeof(set.private_key));
	if (rc) {
		mg_log(MG_LOG_ERROR, "cannot configure the interface", "error", err, NULL);
		free(stale);
		return -1;
	}
	a->ifindex = (int)if_nametoindex(a->cfg.ifname);
	if (a->ifindex <= 0 ||
	    (rc = mg_rtnl_link_set(&a->rtnl, a->ifindex, true, a->cfg.mtu)) != 0) {
		mg_log(MG_LOG_ERROR, "cannot bring the interface up", "ifname", a->cfg.ifname,
		       "error", a->ifindex <= 0 ? "no such interface" : strerror(-rc), NULL);
		free(stale);
		return -1;
	}
	if (stale && mg_rtnl_list_routes(&a->rtnl, a->ifindex, collect_route, &stale) == 0)
		for (size_t i = 0; stale[i].family; i++)
			route_change(a, false, &stale[i], &dummy);
	free(stale);
	/* No peer yet, so no exit route; also clears what a killed earlier run left. */
	mg_exit_route_init(&a->exit, &a->rtnl, a->ifindex, a->cfg.allow_lan_access);
	mg_exit_route_reset(&a->exit);
	a->exit_peers[0] = a->exit_peers[1] = 0;
	return 0;
}

/* ---- endpoints and routes to report ---- */

struct ep_walk {
	struct agent *a;
	struct mg_sockaddr eps[MG_MAX_REPORTED_ENDPOINTS];
	size_t n;
};

static int collect_endpoint(void *ctx, int ifindex, const struct mg_prefix *p, uint8_t scope)
{
	struct ep_walk *w = ctx;

	/* Global addresses of other interfaces only: not the tunnel, loopback or link-local. */
	if (scope != 0 || ifindex == w->a->ifindex || w->n == MG_MAX_REPORTED_ENDPOINTS)
		return 0;
	if (p->family == 4 && p->addr[0] == 127)
		return 0;
	for (size_t i = 0; i < w->a->st.self.n_addresses; i++)
		if (memcmp(w->a->st.self.addresses[i].addr, p->addr, 16) == 0)
			return 0;
	w->eps[w->n].family = p->family;
	w->eps[w->n].port = w->a->cfg.listen_port;
	memcpy(w->eps[w->n].addr, p->addr, 16);
	w->n++;
	return 0;
}

/* Our disco candidates for call-me-maybe: where STUN saw the socket, and this host's addresses
 * with the socket's port (a peer on the same network reaches those without any NAT). */
static void paths_self(struct agent *a)
{
	struct mg_sockaddr eps[MG_DISCO_MAX_EPS];
	size_t n = 0;

	if (!a->paths)
		return;
	for (size_t i = 0; a->nat.nat && i < a->nat.n_mapped && n < MG_DISCO_MAX_EPS; i++)
		eps[n++] = a->nat.mapped[i];
	for (size_t i = 0; i < a->n_local_eps && n < MG_DISCO_MAX_EPS; i++) {
		eps[n] = a->local_eps[i];
		eps[n++].port = mg_nat_probe_local_port(a->np);
	}
	mg_agent_paths_set_self(a->paths, eps, n);
}

static void report(struct agent *a)
{
	struct mg_prefix routes[MG_MAX_ADVERTISED_ROUTES];
	struct ep_walk w = {.a = a};
	size_t nr = 0;

	if (a->cfg.coord.n_endpoints) {
		memcpy(w.eps, a->cfg.coord.endpoints, sizeof(w.eps));
		w.n = a->cfg.coord.n_endpoints;
	} else {
		mg_rtnl_list_addrs(&a->rtnl, collect_endpoint, &w);
	}
	for (size_t i = 0; i < a->cfg.coord.n_advertise_routes; i++)
		routes[nr++] = a->cfg.coord.advertise_routes[i];
	if (a->cfg.coord.exit_node && nr + 2 <= MG_MAX_ADVERTISED_ROUTES) {
		mg_prefix_parse("0.0.0.0/0", &routes[nr++]);
		mg_prefix_parse("::/0", &routes[nr++]);
	}
	mg_coord_client_set_report(a->cl, w.eps, w.n, routes, nr);
	memcpy(a->local_eps, w.eps, w.n * sizeof(w.eps[0]));
	a->n_local_eps = w.n;
	paths_self(a);
}

/* ---- the loop ---- */

static void drain(struct agent *a)
{
	struct mg_coord_event *ev;

	while ((ev = mg_coord_client_next(a->cl))) {
		int rc = 0;

		if (ev->kind == MG_COORD_EV_MAP) {
			if (a->rp && ev->update.has_relay_map)
				mg_relay_path_set_map(a->rp, ev->update.relays, ev->update.n_relays,
				                      (int64_t)time(NULL));
			if (a->np && ev->update.has_relay_map)
				mg_nat_probe_set_relays(a->np, ev->update.relays,
				                        ev->update.n_relays);
			rc = mg_netmap_apply(&a->st, &ev->update, (int64_t)time(NULL), &agent_sink,
			                     a);
			exit_report(a);
		} else {
			rc = mg_netmap_clear(&a->st, &agent_sink, a);
		}
		if (rc == -EPROTO || rc == -EINVAL)
			mg_coord_client_resync(a->cl);
		if (rc)
			mg_log(MG_LOG_WARNING, "map update not applied", "error", strerror(-rc),
			       NULL);
		mg_coord_event_free(ev);
	}
}

/* wireguard-go we own died: start it again and re-add everything. */
static void check_child(struct agent *a)
{
	if (a->wg_pid <= 0 || waitpid(a->wg_pid, NULL, WNOHANG) != a->wg_pid)
		return;
	a->wg_pid = -1;
	mg_log(MG_LOG_ERROR, "wireguard-go exited; restarting it", "ifname", a->cfg.ifname, NULL);
	if (start_wireguard_go(a) != 0 || device_init(a) != 0)
		return;
	mg_netmap_forget_applied(&a->st);
	mg_netmap_expire(&a->st, (int64_t)time(NULL), &agent_sink, a);
}

/* The relay path moved a peer: point wireguard-go at its proxy (only the endpoint changes). */
static void relay_switch(void *ctx, const uint8_t key[32], const struct mg_sockaddr *ep)
{
	struct agent *a = ctx;
	struct mg_uapi_peer_change pc = {.update_only = true, .has_endpoint = true};
	struct mg_uapi_set set = {.peers = &pc, .n_peers = 1};
	char err[200];

	memcpy(pc.public_key, key, WG_KEY_LEN);
	pc.endpoint = *ep;
	if (mg_uapi_client_set(a->sock, &set, err, sizeof(err)) != 0)
		log_key(MG_LOG_WARNING, "uapi set failed", key, "error", err);
}

/* Once a second: the relay connection, what wireguard-go says of each peer, the status file. */
static void relay_status_tick(struct agent *a, time_t now)
{
	struct mg_uapi_client_device dev;
	struct mg_coord_status cs;
	char err[160];
	bool have_dev;

	if (!a->rp && !a->cfg.status_file[0])
		return;
	/* A relay with admission on knows us only once we are registered: connect after the
	 * first map. */
	if (a->rp && a->st.has_map) {
		mg_relay_path_tick(a->rp, (int64_t)now);
		mg_coord_client_set_home_relay(
		    a->cl, mg_relay_path_home(a->rp) ? mg_relay_path_home(a->rp) : "");
	}
	have_dev = mg_uapi_client_get(a->sock, &dev, err, sizeof(err)) == 0;
	for (size_t i = 0; have_dev && a->rp && i < dev.n_peers; i++)
		mg_relay_path_observe(a->rp, dev.peers[i].public_key,
		                      dev.peers[i].last_handshake_sec, (int64_t)now);
	if (a->cfg.status_file[0]) {
		int rc;

		mg_coord_client_status(a->cl, &cs);
		rc = mg_agent_status_write(a->cfg.status_file, &a->st, have_dev ? &dev : NULL,
		                           a->rp, mg_coord_client_state_name(cs.state),
		                           a->np ? &a->nat : NULL, a->disco, a->paths,
		                           a->cfg.stun.from_map ? "relay_map" : "config");
		if (rc)
			mg_log(MG_LOG_WARNING, "status file not written", "path",
			       a->cfg.status_file, "error", strerror(-rc), NULL);
	}
	if (have_dev)
		mg_uapi_client_device_free(&dev);
}

static bool nat_same(const struct mg_nat_probe_result *x, const struct mg_nat_probe_result *y)
{
	return x->nat != NULL && y->nat != NULL && strcmp(x->nat, y->nat) == 0 &&
	       x->n_mapped == y->n_mapped &&
	       memcmp(x->mapped, y->mapped, x->n_mapped * sizeof(x->mapped[0])) == 0;
}

/* A probe round ended: a new mapping or NAT kind goes to the coordinator at once. */
static void nat_probed(void *ctx, const struct mg_nat_probe_result *r)
{
	struct agent *a = ctx;
	char e0[MG_SOCKADDR_STRLEN] = "", e1[MG_SOCKADDR_STRLEN] = "";

	bool same = nat_same(&a->nat, r);

	/* The status shows the last round's servers and round trips, changed or not. */
	a->nat = *r;
	if (same)
		return;
	if (r->n_mapped > 0)
		mg_sockaddr_format(&r->mapped[0], e0, sizeof(e0));
	if (r->n_mapped > 1)
		mg_sockaddr_format(&r->mapped[1], e1, sizeof(e1));
	mg_log(MG_LOG_NOTICE, "stun mapping", "nat", r->nat, "endpoint", e0, "endpoint2", e1, NULL);
	mg_coord_client_set_stun(a->cl, r->mapped, r->n_mapped, r->nat);
	paths_self(a);
}

static void disco_in(void *ctx, const uint8_t *buf, size_t len, const struct mg_sockaddr *from)
{
	struct agent *a = ctx;
	struct timespec ts;

	if (a->paths) {
		mg_agent_paths_input(a->paths, buf, len, from);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	mg_agent_disco_input(a->disco, &a->st, a->np, buf, len, from, NULL,
	                     (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run(struct agent *a, int sfd)
{
	time_t last_tick = 0, last_report = time(NULL);
	static struct pollfd pfd[3 + MG_RELAY_PATH_MAX_POLLFDS];

	for (;;) {
		size_t nrp = 0;
		time_t now;

		pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = mg_coord_client_fd(a->cl), .events = POLLIN};
		if (a->rp)
			nrp = mg_relay_path_pollfds(a->rp, pfd + 2, MG_RELAY_PATH_MAX_POLLFDS);
		if (a->np)
			pfd[2 + nrp] =
			    (struct pollfd){.fd = mg_nat_probe_fd(a->np), .events = POLLIN};
		/* Disco's timers (heartbeats every 1.5 s, a dead path after 4 s) want finer
		 * steps than the once-a-second work below. */
		if (poll(pfd, 2 + nrp + (a->np != NULL), a->paths ? 100 : 250) < 0 &&
		    errno != EINTR)
			return 1;
		if (a->rp)
			mg_relay_path_io(a->rp, pfd + 2, nrp);
		if (a->np)
			mg_nat_probe_run(a->np, now_ms());
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				mg_log(MG_LOG_NOTICE, "stopping", "signal",
				       strsignal((int)si.ssi_signo), NULL);
			return 0;
		}
		drain(a);
		if (a->paths)
			mg_agent_paths_tick(a->paths);
		now = time(NULL);
		if (now != last_tick) {
			last_tick = now;
			/* Keys expire on our clock too, coordinator or not. */
			mg_netmap_expire(&a->st, (int64_t)now, &agent_sink, a);
			check_child(a);
			relay_status_tick(a, now);
			if (a->disco)
				mg_agent_disco_prune(a->disco, &a->st);
		}
		if (now - last_report >= REDISCOVER_SECS) {
			last_report = now;
			report(a);
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: meshgate agent --config FILE\n");
}

int mg_agent_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct agent a;
	struct mg_coord_client_config cc;
	const char *path = NULL;
	char err[512];
	sigset_t mask;
	int opt, sfd = -1, rc = 1, level;

	memset(&a, 0, sizeof(a));
	a.wg_pid = -1;
	a.exit_granted = -1;
	a.rtnl.fd = -1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (opt == 'c') {
			path = optarg;
		} else {
			usage(opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (mg_agent_config_load(path, &a.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "meshgate agent: %s\n", err);
		return 1;
	}
	level = mg_log_level_parse(a.cfg.log_level);
	mg_log_set_level(level < 0 ? MG_LOG_INFO : (enum mg_log_level)level);
	if (a.cfg.warnings[0])
		mg_log(MG_LOG_WARNING, "configuration", "warnings", a.cfg.warnings, NULL);
	mg_netmap_state_init(&a.st);
	if (mg_uapi_socket_path(a.cfg.uapi_dir, a.cfg.ifname, a.sock, sizeof(a.sock)) != 0 ||
	    mg_rtnl_open(&a.rtnl) != 0) {
		mg_log(MG_LOG_ERROR, "cannot open the UAPI path or a netlink socket", NULL);
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &a.old_mask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (uapi_alive(&a))
		mg_log(MG_LOG_NOTICE, "attached to the WireGuard interface", "socket", a.sock,
		       NULL);
	else if (start_wireguard_go(&a) != 0)
		goto out;
	if (device_init(&a) != 0 || filter_init(&a) != 0)
		goto out;
	memset(&cc, 0, sizeof(cc));
	cc.coord = a.cfg.coord;
	if (a.cfg.coord.use_exit_node[0]) {
		cc.coord.fwmark = MG_EXIT_FWMARK;
		mg_log(MG_LOG_NOTICE, "asking for an exit node", "exit_node",
		       a.cfg.coord.use_exit_node, "lan_access",
		       a.cfg.allow_lan_access ? "yes" : "no", NULL);
	}
	memcpy(cc.private_key, a.cfg.private_key, WG_KEY_LEN);
	cc.version = "meshgate-agent " MG_AGENT_VERSION;
	a.cl = mg_coord_client_new(&cc, err, sizeof(err));
	wg_memzero(cc.private_key, sizeof(cc.private_key));
	if (!a.cl) {
		mg_log(MG_LOG_ERROR, "coordinator client", "error", err, NULL);
		goto out;
	}
	if (a.cfg.relay.enabled) {
		/* Like the coordinator's, the relay's connection must not loop into an exit node.
		 */
		if (a.cfg.coord.use_exit_node[0])
			a.cfg.relay.fwmark = MG_EXIT_FWMARK;
		a.rp = mg_relay_path_new(&a.cfg.relay, a.cfg.private_key, relay_switch, &a);
		if (!a.rp)
			goto out;
		mg_relay_path_set_wg_port(a.rp, a.cfg.listen_port);
	}
	if (a.cfg.stun.enabled) {
		if (a.cfg.coord.use_exit_node[0])
			a.cfg.stun.fwmark = MG_EXIT_FWMARK;
		snprintf(a.cfg.stun.region, sizeof(a.cfg.stun.region), "%s", a.cfg.relay.region);
		a.np = mg_nat_probe_new(&a.cfg.stun, nat_probed, &a, err, sizeof(err));
		if (!a.np) {
			mg_log(MG_LOG_ERROR, "stun socket", "error", err, NULL);
			goto out;
		}
		a.disco = mg_agent_disco_new(a.cfg.private_key);
		if (!a.disco) {
			mg_log(MG_LOG_ERROR, "disco", "error", "out of memory", NULL);
			goto out;
		}
		mg_nat_probe_set_other(a.np, disco_in, &a);
		if (a.rp && !a.cfg.relay.force &&
		    !(a.paths = mg_agent_paths_new(&a.st, a.np, a.disco, a.rp))) {
			mg_log(MG_LOG_ERROR, "disco paths", "error", "out of memory", NULL);
			goto out;
		}
	}
	report(&a);
	if (mg_coord_client_start(a.cl) != 0)
		goto out;
	rc = run(&a, sfd);
out:
	mg_coord_client_free(a.cl);
	/* The host's own default route is back before the tunnel's peers and filter go. */
	if (a.exit.rtnl)
		mg_exit_route_reset(&a.exit);
	exit_fwmark_clear(&a);
	mg_agent_paths_free(a.paths);
	mg_relay_path_free(a.rp);
	mg_nat_probe_free(a.np);
	mg_agent_disco_free(a.disco);
	filter_remove(&a);
	if (a.wg_pid > 0) {
		/* Our wireguard-go takes its interface, peers and routes with it. */
		kill(a.wg_pid, SIGTERM);
		waitpid(a.wg_pid, NULL, 0);
	}
	mg_netmap_state_free(&a.st);
	mg_rtnl_close(&a.rtnl);
	if (sfd >= 0)
		close(sfd);
	mg_agent_config_free(&a.cfg);
	wg_memzero(&a, sizeof(a));
	return rc;
}
