// SPDX-License-Identifier: GPL-2.0-only
/* The NAT's mappings: per-worker hashes and slices, the inbound index, expiry. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "nat_internal.h"

#define NS 1000000000ull

static uint32_t timeout_or(uint32_t v, uint32_t def)
{
	return v ? v : def;
}

static void fail(char *err, size_t errlen, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", what);
}

/* The external addresses: the pool or the uplink's IPv4 address, then the uplink's IPv6. */
static int set_ext(struct mg_nat *nat, const struct mg_dp_addrs *addrs, char *err, size_t errlen)
{
	const struct mg_dp_exit_config *cfg = &nat->cfg;
	const struct mg_port_addrs *up = &addrs->ports[cfg->uplink];

	for (size_t i = 0; i < cfg->n_pool4 && i < MG_NAT_MAX_POOL; i++) {
		nat->ext[nat->n_ext].family = 4;
		memcpy(nat->ext[nat->n_ext++].addr, cfg->pool4[i], 4);
	}
	if (!cfg->n_pool4 && up->has_ipv4) {
		nat->ext[nat->n_ext].family = 4;
		memcpy(nat->ext[nat->n_ext++].addr, up->ipv4.addr, 4);
	}
	nat->n_ext4 = nat->n_ext;
	if (cfg->has_addr6 || up->has_ipv6) {
		nat->ext[nat->n_ext].family = 6;
		memcpy(nat->ext[nat->n_ext++].addr, cfg->has_addr6 ? cfg->addr6 : up->ipv6.addr,
		       16);
	}
	if (!nat->n_ext) {
		fail(err, errlen, "exit: the uplink port has no address to translate to");
		return -1;
	}
	return 0;
}

/* Deferred free: after the grace period nobody holds the mapping, so its slot, hash position
 * and port go back to the owner. Runs on the owner (the defer queue is the owner's). */
static void map_free(void *p, void *e, unsigned n)
{
	struct mg_nat *nat = p;
	const uint32_t *idx = e;
	for (unsigned i = 0; i < n; i++) {
		struct mg_nat_map *m = &nat->maps[idx[i]];
		struct mg_nat_worker *nw = &nat->w[m->owner];
		rte_hash_free_key_with_position(nw->h, m->hash_pos);
		unsigned stack = m->ext * MG_NAT_PROTO_COUNT + m->key.proto;
		nw->free_ports[stack * nw->n_ports + nw->n_free_ports[stack]++] =
		    (uint16_t)(rte_be_to_cpu_16(m->ext_port));
		nw->free_maps[nw->n_free_maps++] = idx[i];
	}
}

/* A cheap generator for the start-up shuffle: ports are handed out in a random order
 * (RFC 6056), so external ports do not reveal how many flows came before. */
static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

_Static_assert(sizeof(struct mg_nat_key) == 20, "key_hash reads 8 + 8 + 4 bytes");

/* CRC32 of the 20-byte key (SSE4.2, several times faster than jhash here); read with memcpy
 * because keys sit at 2-byte alignment and rte_hash_crc would load them as uint64_t. */
static uint32_t key_hash(const void *key, uint32_t len, uint32_t init)
{
	const uint8_t *p = key;
	uint64_t a, b;
	uint32_t c;
	(void)len;
	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	memcpy(&c, p + 16, 4);
	return rte_hash_crc_4byte(c, rte_hash_crc_8byte(b, rte_hash_crc_8byte(a, init)));
}

static int worker_init(struct mg_nat *nat, unsigned id, uint32_t per_worker, uint64_t seed)
{
	struct mg_nat_worker *nw = &nat->w[id];
	uint32_t slice = nat->range / nat->n_workers;
	char name[RTE_HASH_NAMESIZE];

	nw->first = id * per_worker;
	nw->count = per_worker;
	nw->port_lo = (uint16_t)(nat->port_min + id * slice);
	nw->n_ports = (uint16_t)(id + 1 == nat->n_workers ? nat->range - id * slice : slice);

	snprintf(name, sizeof(name), "mg_nat%u_%u", nat->instance, id);
	struct rte_hash_parameters hp = {
	    .name = name,
	    .entries = per_worker,
	    .key_len = sizeof(struct mg_nat_key),
	    .hash_func = key_hash,
	    .socket_id = SOCKET_ID_ANY,
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	nw->h = rte_hash_create(&hp);
	if (!nw->h)
		return -1;
	if (nat->rcu) {
		snprintf(name, sizeof(name), "mg_natdq%u_%u", nat->instance, id);
		struct rte_rcu_qsbr_dq_parameters dp = {
		    .name = name,
		    .flags = RTE_RCU_QSBR_DQ_MT_UNSAFE,
		    .size = per_worker,
		    .esize = sizeof(uint32_t),
		    .trigger_reclaim_limit = 64,
		    .max_reclaim_size = 256,
		    .free_fn = map_free,
		    .p = nat,
		    .v = nat->rcu,
		};
		nw->dq = rte_rcu_qsbr_dq_create(&dp);
		if (!nw->dq)
			return -1;
	}
	size_t stacks = (size_t)nat->n_ext * MG_NAT_PROTO_COUNT;
	nw->free_maps = rte_malloc("mg_nat_free", per_worker * sizeof(uint32_t), 0);
	nw->free_ports = rte_malloc("mg_nat_ports", stacks * nw->n_ports * sizeof(uint16_t), 0);
	nw->n_free_ports = rte_malloc("mg_nat_nports", stacks * sizeof(uint32_t), 0);
	if (!nw->free_maps || !nw->free_ports || !nw->n_free_ports)
		return -1;
	nat->bytes += per_worker * sizeof(uint32_t) + stacks * nw->n_ports * sizeof(uint16_t);
	/* Popped from the end: the lowest indices first, so a small table stays compact. */
	for (uint32_t i = 0; i < per_worker; i++)
		nw->free_maps[i] = nw->first + per_worker - 1 - i;
	nw->n_free_maps = per_worker;
	for (size_t s = 0; s < stacks; s++) {
		uint16_t *st = nw->free_ports + s * nw->n_ports;
		for (uint32_t i = 0; i < nw->n_ports; i++)
			st[i] = (uint16_t)(nw->port_lo + i);
		for (uint32_t i = nw->n_ports; i > 1; i--) {
			uint32_t j = (uint32_t)(splitmix(&seed) % i);
			uint16_t t = st[i - 1];
			st[i - 1] = st[j];
			st[j] = t;
		}
		nw->n_free_ports[s] = nw->n_ports;
	}
	return 0;
}

struct mg_nat *mg_nat_create(const struct mg_dp_exit_config *cfg, const struct mg_dp_addrs *addrs,
                             unsigned n_workers, uint16_t mtu, struct rte_rcu_qsbr *rcu, char *err,
                             size_t errlen)
{
	if (!cfg->enabled || cfg->uplink >= MG_PORT_COUNT || n_workers == 0 ||
	    n_workers > MG_MAX_WORKERS) {
		fail(err, errlen, "exit: bad arguments");
		return NULL;
	}
	struct mg_nat *nat = rte_zmalloc("mg_nat", sizeof(*nat), RTE_CACHE_LINE_SIZE);
	if (!nat) {
		fail(err, errlen, "exit: no memory for the NAT");
		return NULL;
	}
	static _Atomic unsigned instances;
	nat->instance = atomic_fetch_add(&instances, 1); /* DPDK object names are global */
	nat->cfg = *cfg;
	nat->n_workers = n_workers;
	nat->rcu = rcu;
	nat->bytes = sizeof(*nat);
	if (set_ext(nat, addrs, err, errlen) != 0)
		goto out;
	nat->port_min = cfg->port_min ? cfg->port_min : 1024;
	uint16_t port_max = cfg->port_max ? cfg->port_max : 65535;
	if (port_max < nat->port_min || (uint32_t)(port_max - nat->port_min + 1) < n_workers) {
		fail(err, errlen, "exit: the port range must hold at least one port per worker");
		goto out;
	}
	nat->range = (uint32_t)port_max - nat->port_min + 1;
	uint32_t flows = cfg->max_flows ? cfg->max_flows : 65536;
	if (flows < MG_NAT_MIN_FLOWS)
		flows = MG_NAT_MIN_FLOWS;
	uint32_t per_worker = flows / n_workers;
	nat->timeout_ns[MG_NAT_UDP] = timeout_or(cfg->udp_timeout, MG_NAT_UDP_TIMEOUT_S) * NS;
	nat->timeout_ns[MG_NAT_ICMP] = timeout_or(cfg->icmp_timeout, MG_NAT_ICMP_TIMEOUT_S) * NS;
	nat->timeout_ns[MG_NAT_TCP] =
	    timeout_or(cfg->tcp_established_timeout, MG_NAT_TCP_EST_TIMEOUT_S) * NS;
	nat->timeout_ns[MG_NAT_TIMEOUT_TCP_TRANS] =
	    timeout_or(cfg->tcp_transitory_timeout, MG_NAT_TCP_TRANS_TIMEOUT_S) * NS;
	uint16_t m = mtu ? mtu : 1420;
	nat->mss4 = (uint16_t)(m - 40);
	nat->mss6 = (uint16_t)(m - 60);

	size_t maps = (size_t)per_worker * n_workers;
	size_t inbound = (size_t)nat->n_ext * MG_NAT_PROTO_COUNT * nat->range;
	nat->maps = rte_zmalloc("mg_nat_maps", maps * sizeof(*nat->maps), RTE_CACHE_LINE_SIZE);
	nat->inbound =
	    rte_zmalloc("mg_nat_in", inbound * sizeof(*nat->inbound), RTE_CACHE_LINE_SIZE);
	if (!nat->maps || !nat->inbound) {
		fail(err, errlen, "exit: no memory for the NAT table (lower exit.max_flows)");
		goto out;
	}
	nat->bytes += maps * sizeof(*nat->maps) + inbound * sizeof(*nat->inbound);
	uint64_t seed = rte_rdtsc();
	for (unsigned i = 0; i < n_workers; i++) {
		if (worker_init(nat, i, per_worker, seed + i) != 0) {
			snprintf(err, errlen, "exit: cannot create the NAT table: %s",
			         rte_strerror(rte_errno));
			goto out;
		}
		ssize_t hb = rte_hash_max_key_id(nat->w[i].h);
		/* keys and buckets, as rte_hash lays them out: an estimate for the log */
		nat->bytes += (size_t)(hb + 1) * (sizeof(struct mg_nat_key) + 8 + 16);
	}
	return nat;
out:
	mg_nat_free(nat);
	return NULL;
}

void mg_nat_free(struct mg_nat *nat)
{
	if (!nat)
		return;
	for (unsigned i = 0; i < MG_MAX_WORKERS; i++) {
		struct mg_nat_worker *nw = &nat->w[i];
		if (nw->dq)
			rte_rcu_qsbr_dq_delete(nw->dq);
		rte_hash_free(nw->h);
		rte_free(nw->free_maps);
		rte_free(nw->free_ports);
		rte_free(nw->n_free_ports);
	}
	rte_free(nat->maps);
	rte_free((void *)nat->inbound);
	rte_free(nat);
}

uint8_t mg_nat_uplink(const struct mg_nat *nat)
{
	return nat->cfg.uplink;
}

size_t mg_nat_memory(const struct mg_nat *nat)
{
	return nat->bytes;
}

int mg_nat_ext_index(const struct mg_nat *nat, uint8_t family, const uint8_t *addr)
{
	unsigned from = family == 4 ? 0 : nat->n_ext4, to = family == 4 ? nat->n_ext4 : nat->n_ext;
	unsigned len = family == 4 ? 4 : 16;
	for (unsigned i = from; i < to; i++)
		if (memcmp(nat->ext[i].addr, addr, len) == 0)
			return (int)i;
	return -1;
}

struct mg_nat_map *mg_nat_find_others(struct mg_nat *nat, unsigned worker,
                                      const struct mg_nat_key *key)
{
	void *data;
	if (nat->n_workers == 1)
		return NULL;
	hash_sig_t sig = rte_hash_hash(nat->w[0].h, key);
	for (unsigned i = 0; i < nat->n_workers; i++)
		if (i != worker &&
		    rte_hash_lookup_with_hash_data(nat->w[i].h, key, sig, &data) >= 0)
			return data;
	return NULL;
}

struct mg_nat_map *mg_nat_find(struct mg_nat *nat, unsigned worker, const struct mg_nat_key *key)
{
	void *data;
	if (rte_hash_lookup_data(nat->w[worker].h, key, &data) >= 0)
		return data;
	return mg_nat_find_others(nat, worker, key);
}

static _Atomic uint32_t *inbound_slot(struct mg_nat *nat, unsigned ext, unsigned proto,
                                      uint16_t port_host)
{
	return &nat->inbound[((size_t)ext * MG_NAT_PROTO_COUNT + proto) * nat->range + port_host -
	                     nat->port_min];
}

struct mg_nat_map *mg_nat_find_in(struct mg_nat *nat, unsigned ext, unsigned proto,
                                  uint16_t ext_port)
{
	uint16_t p = rte_be_to_cpu_16(ext_port);
	if (p < nat->port_min || (uint32_t)(p - nat->port_min) >= nat->range)
		return NULL;
	uint32_t v = atomic_load_explicit(inbound_slot(nat, ext, proto, p), memory_order_acquire);
	return v ? &nat->maps[v - 1] : NULL;
}

/* RFC 4787 REQ-2 (paired pooling): one internal address always gets the same external one. */
static unsigned pick_ext(const struct mg_nat *nat, const struct mg_nat_key *key)
{
	if (key->family == 6)
		return nat->n_ext4;
	return nat->n_ext4 == 1 ? 0 : rte_jhash(key->addr, 4, 0) % nat->n_ext4;
}

struct mg_nat_map *mg_nat_create_map(struct mg_nat *nat, unsigned worker,
                                     const struct mg_nat_key *key, uint64_t now_ns,
                                     struct mg_worker_counters *c, enum mg_drop_reason *why)
{
	struct mg_nat_worker *nw = &nat->w[worker];
	unsigned ext = pick_ext(nat, key);
	if (ext >= nat->n_ext || nat->ext[ext].family != key->family) {
		*why = MG_DROP_NAT_UNSUPPORTED;
		return NULL;
	}
	unsigned stack = ext * MG_NAT_PROTO_COUNT + key->proto;
	if (!nw->n_free_maps) {
		*why = MG_DROP_NAT_TABLE_FULL;
		return NULL;
	}
	if (!nw->n_free_ports[stack]) {
		*why = MG_DROP_NAT_NO_PORT;
		return NULL;
	}
	uint32_t idx = nw->free_maps[nw->n_free_maps - 1];
	uint16_t port = nw->free_ports[stack * nw->n_ports + nw->n_free_ports[stack] - 1];
	struct mg_nat_map *m = &nat->maps[idx];
	m->key = *key;
	m->ext = (uint8_t)ext;
	m->owner = (uint8_t)worker;
	m->ext_port = rte_cpu_to_be_16(port);
	atomic_store_explicit(&m->last_ns, now_ns, memory_order_relaxed);
	atomic_store_explicit(&m->tcp, 0, memory_order_relaxed);
	int32_t pos = rte_hash_add_key_data(nw->h, key, m);
	if (pos < 0) {
		*why = MG_DROP_NAT_TABLE_FULL;
		return NULL;
	}
	m->hash_pos = pos;
	m->live = true;
	nw->n_free_maps--;
	nw->n_free_ports[stack]--;
	atomic_store_explicit(inbound_slot(nat, ext, key->proto, port), idx + 1,
	                      memory_order_release);
	c->nat.created[key->proto]++;
	return m;
}

static uint64_t timeout_of(const struct mg_nat *nat, const struct mg_nat_map *m)
{
	if (m->key.proto != MG_NAT_TCP)
		return nat->timeout_ns[m->key.proto];
	uint8_t st = atomic_load_explicit(&m->tcp, memory_order_relaxed);
	return st == MG_NAT_SEEN_IN ? nat->timeout_ns[MG_NAT_TCP]
	                            : nat->timeout_ns[MG_NAT_TIMEOUT_TCP_TRANS];
}

void mg_nat_expire(struct mg_nat *nat, unsigned worker, uint64_t now_ns, unsigned budget,
                   struct mg_worker_counters *c)
{
	struct mg_nat_worker *nw = &nat->w[worker];
	if (nw->dq)
		rte_rcu_qsbr_dq_reclaim(nw->dq, budget, NULL, NULL, NULL);
	if (budget > nw->count)
		budget = nw->count;
	for (unsigned i = 0; i < budget; i++) {
		uint32_t idx = nw->first + nw->hand;
		nw->hand = nw->hand + 1 == nw->count ? 0 : nw->hand + 1;
		struct mg_nat_map *m = &nat->maps[idx];
		if (!m->live)
			continue;
		uint64_t last = atomic_load_explicit(&m->last_ns, memory_order_relaxed);
		if (now_ns < last || now_ns - last < timeout_of(nat, m))
			continue;
		/* Unpublish, then recycle once no reader can still hold it. */
		rte_hash_del_key(nw->h, &m->key);
		atomic_store_explicit(
		    inbound_slot(nat, m->ext, m->key.proto, rte_be_to_cpu_16(m->ext_port)), 0,
		    memory_order_release);
		m->live = false;
		c->nat.expired[m->key.proto]++;
		if (!nw->dq || rte_rcu_qsbr_dq_enqueue(nw->dq, &idx) != 0) {
			/* No defer queue (tests) or it is full, which it cannot be: it holds one
			 * element per mapping of this worker. */
			if (nw->dq)
				rte_rcu_qsbr_synchronize(nat->rcu, worker);
			map_free(nat, &idx, 1);
		}
	}
}
