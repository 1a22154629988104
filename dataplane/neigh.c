/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The neighbour table, resolution and aging. See neigh.h for the concurrency model: a
 * linear-probing array of slots, each guarded by a sequence counter, written by one thread and
 * read lock-free by the workers. Deleted slots become tombstones, and a tombstone followed by an
 * empty slot is turned back into an empty one, which is safe because an empty slot can never lie
 * inside a probe chain that leads to a live key. The protocols that fill it are arp.c and nd.c.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_random.h>

#include "dataplane.h"
#include "neigh_internal.h"
#include "ports.h"

#define PROBE_WINDOW 32 /* a key lives at most this many slots past its home slot */
#define READ_RETRIES 64 /* a reader gives up (transient miss) if a write lasts longer */

#define KEY_EMPTY 0u
#define KEY_LIVE  1u
#define KEY_TOMB  2u
#define MAC_VALID (1ull << 48)

/* ---- the table ---- */

static uint64_t pack_key(uint8_t tag, uint8_t port, uint8_t family)
{
	return (uint64_t)tag << 16 | (uint64_t)family << 8 | port;
}

static void pack_addr(uint8_t family, const uint8_t *addr, uint64_t out[2])
{
	uint8_t a[16] = {0};

	memcpy(a, addr, family == 4 ? 4 : 16);
	memcpy(out, a, 16);
}

static uint64_t pack_mac(const struct rte_ether_addr *mac, bool valid)
{
	uint64_t v = 0;

	for (int i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		v |= (uint64_t)mac->addr_bytes[i] << (8 * i);
	return v | (valid ? MAC_VALID : 0);
}

static uint32_t home_slot(const struct mg_neigh *n, uint64_t key, const uint64_t a[2])
{
	uint32_t h = rte_hash_crc_8byte(key, n->seed);

	h = rte_hash_crc_8byte(a[0], h);
	h = rte_hash_crc_8byte(a[1], h);
	return h & n->mask;
}

static bool valid_family(uint8_t family, uint8_t port)
{
	return (family == 4 || family == 6) && port < MG_PORT_COUNT;
}

struct mg_neigh *mg_neigh_create(uint32_t max, int socket)
{
	struct mg_neigh *n;
	uint32_t cap;

	if (max == 0 || max > (1u << 24))
		return NULL;
	cap = rte_align32pow2(max * 2 < PROBE_WINDOW ? PROBE_WINDOW : max * 2);
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->slots = rte_zmalloc_socket("mg_neigh", (size_t)cap * sizeof(*n->slots),
	                              RTE_CACHE_LINE_SIZE, socket);
	n->ctl = calloc(cap, sizeof(*n->ctl));
	if (n->slots == NULL || n->ctl == NULL) {
		mg_neigh_free(n);
		return NULL;
	}
	n->mask = cap - 1;
	n->max = max;
	n->seed = (uint32_t)rte_rand();
	return n;
}

void mg_neigh_free(struct mg_neigh *n)
{
	if (n == NULL)
		return;
	rte_free(n->slots);
	free(n->ctl);
	free(n);
}

bool mg_neigh_lookup(const struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                     struct rte_ether_addr *mac_out)
{
	uint64_t a[2], want;
	uint32_t i;

	if (!valid_family(family, port))
		return false;
	pack_addr(family, addr, a);
	want = pack_key(KEY_LIVE, port, family);
	i = home_slot(n, want, a);
	for (uint32_t step = 0; step < PROBE_WINDOW; step++, i = (i + 1) & n->mask) {
		struct neigh_slot *s = &n->slots[i];
		uint64_t key, a0, a1, mac;
		uint32_t s1, s2, tries = 0;

		do {
			if (tries++ == READ_RETRIES)
				return false;
			s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
			if (s1 & 1) {
				rte_pause();
				continue;
			}
			key = atomic_load_explicit(&s->key, memory_order_relaxed);
			a0 = atomic_load_explicit(&s->addr[0], memory_order_relaxed);
			a1 = atomic_load_explicit(&s->addr[1], memory_order_relaxed);
			mac = atomic_load_explicit(&s->mac, memory_order_relaxed);
			atomic_thread_fence(memory_order_acquire);
			s2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
		} while ((s1 & 1) || s1 != s2);

		if (key >> 16 == KEY_EMPTY)
			return false;
		if (key != want || a0 != a[0] || a1 != a[1])
			continue;
		if (!(mac & MAC_VALID))
			return false;
		for (int b = 0; b < RTE_ETHER_ADDR_LEN; b++)
			mac_out->addr_bytes[b] = (uint8_t)(mac >> (8 * b));
		return true;
	}
	return false;
}

static void slot_write(struct mg_neigh *n, struct neigh_slot *s, uint64_t key, const uint64_t a[2],
                       uint64_t mac)
{
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&s->key, key, memory_order_relaxed);
	atomic_store_explicit(&s->addr[0], a[0], memory_order_relaxed);
	atomic_store_explicit(&s->addr[1], a[1], memory_order_relaxed);
	atomic_store_explicit(&s->mac, mac, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
	mg_neigh_touch(n);
}

void mg_neigh_touch(struct mg_neigh *n)
{
	atomic_fetch_add_explicit(&n->gen, 1, memory_order_release);
}

uint32_t mg_neigh_gen(const struct mg_neigh *n)
{
	return n ? atomic_load_explicit(&((struct mg_neigh *)n)->gen, memory_order_acquire) : 0;
}

static uint32_t slot_tag(const struct mg_neigh *n, uint32_t i)
{
	return (uint32_t)(atomic_load_explicit(&n->slots[i].key, memory_order_relaxed) >> 16);
}

/* Writer-side search: the slot index of the key, or -1. */
int64_t mg_neigh_find(const struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr)
{
	uint64_t a[2], key;
	uint32_t i;

	if (!valid_family(family, port))
		return -1;
	pack_addr(family, addr, a);
	key = pack_key(KEY_LIVE, port, family);
	i = home_slot(n, key, a);
	for (uint32_t step = 0; step < PROBE_WINDOW; step++, i = (i + 1) & n->mask) {
		uint32_t tag = slot_tag(n, i);
		const struct neigh_ctl *c = &n->ctl[i];

		if (tag == KEY_EMPTY)
			return -1;
		if (tag == KEY_LIVE && c->port == port && c->family == family &&
		    mg_addr_eq(family, c->addr, addr))
			return i;
	}
	return -1;
}

static void remove_slot(struct mg_neigh *n, uint32_t i)
{
	static const uint64_t zero[2];

	slot_write(n, &n->slots[i], pack_key(KEY_TOMB, 0, 0), zero, 0);
	memset(&n->ctl[i], 0, sizeof(n->ctl[i]));
	n->stats.entries--;
	while (slot_tag(n, i) == KEY_TOMB && slot_tag(n, (i + 1) & n->mask) == KEY_EMPTY) {
		slot_write(n, &n->slots[i], pack_key(KEY_EMPTY, 0, 0), zero, 0);
		i = (i - 1) & n->mask;
	}
}

/* Lower is evicted first: unresolved, then learned unsolicited, then confirmed; oldest first. */
static bool less_useful(const struct neigh_ctl *a, const struct neigh_ctl *b)
{
	static const uint8_t rank[] = {
	    [MG_NEIGH_FREE] = 0,  [MG_NEIGH_INCOMPLETE] = 1, [MG_NEIGH_STALE] = 2,
	    [MG_NEIGH_PROBE] = 3, [MG_NEIGH_REACHABLE] = 4,
	};

	if (rank[a->state] != rank[b->state])
		return rank[a->state] < rank[b->state];
	return a->confirmed_ns < b->confirmed_ns;
}

static void evict_from(struct mg_neigh *n, uint32_t start, uint32_t count)
{
	int64_t victim = -1;

	for (uint32_t k = 0, i = start; k < count; k++, i = (i + 1) & n->mask) {
		if (slot_tag(n, i) != KEY_LIVE)
			continue;
		if (victim < 0 || less_useful(&n->ctl[i], &n->ctl[victim]))
			victim = i;
	}
	if (victim >= 0) {
		remove_slot(n, (uint32_t)victim);
		n->stats.evicted++;
	}
}

/* Inserts a new entry (the key must be absent). Returns the slot index, or -1. */
static int64_t insert(struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr)
{
	uint64_t a[2], key = pack_key(KEY_LIVE, port, family);
	uint32_t home, i;

	pack_addr(family, addr, a);
	home = home_slot(n, key, a);
	if (n->stats.entries >= n->max)
		evict_from(n, 0, n->mask + 1);
	for (int round = 0; round < 2; round++) {
		i = home;
		for (uint32_t step = 0; step < PROBE_WINDOW; step++, i = (i + 1) & n->mask) {
			if (slot_tag(n, i) != KEY_LIVE) {
				struct neigh_ctl *c = &n->ctl[i];

				memset(c, 0, sizeof(*c));
				c->port = port;
				c->family = family;
				memcpy(c->addr, addr, family == 4 ? 4 : 16);
				slot_write(n, &n->slots[i], key, a, 0);
				n->stats.entries++;
				return i;
			}
		}
		/* the whole window is live: push out its least useful entry and retry */
		evict_from(n, home, PROBE_WINDOW);
	}
	return -1; /* not reached: the eviction freed a slot inside the window */
}

static void publish_mac(struct mg_neigh *n, uint32_t i, const struct rte_ether_addr *mac)
{
	struct neigh_ctl *c = &n->ctl[i];
	uint64_t a[2];

	if (c->state != MG_NEIGH_INCOMPLETE && rte_is_same_ether_addr(&c->mac, mac))
		return; /* readers see no write when nothing they use changed */
	c->mac = *mac;
	pack_addr(c->family, c->addr, a);
	slot_write(n, &n->slots[i], pack_key(KEY_LIVE, c->port, c->family), a, pack_mac(mac, true));
}

int mg_neigh_update(struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                    const struct rte_ether_addr *mac, uint64_t now_ns)
{
	int64_t i;

	if (n == NULL || !valid_family(family, port) || addr == NULL || mac == NULL ||
	    !rte_is_valid_assigned_ether_addr(mac))
		return -1;
	i = mg_neigh_find(n, port, family, addr);
	if (i < 0 && (i = insert(n, port, family, addr)) < 0)
		return -1;
	publish_mac(n, (uint32_t)i, mac);
	n->ctl[i].state = MG_NEIGH_REACHABLE;
	n->ctl[i].confirmed_ns = now_ns;
	n->ctl[i].probes = 0;
	return 0;
}

bool mg_neigh_delete(struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr)
{
	int64_t i = mg_neigh_find(n, port, family, addr);

	if (i < 0)
		return false;
	remove_slot(n, (uint32_t)i);
	return true;
}

bool mg_neigh_state_of(const struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                       enum mg_neigh_state *state)
{
	int64_t i = mg_neigh_find(n, port, family, addr);

	if (i < 0)
		return false;
	*state = n->ctl[i].state;
	return true;
}

void mg_neigh_stats(const struct mg_neigh *n, struct mg_neigh_stats *out)
{
	*out = n->stats;
}

void mg_neigh_learn(struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                    const struct rte_ether_addr *mac, uint64_t now_ns, bool answer, bool create)
{
	int64_t i = mg_neigh_find(n, port, family, addr);
	struct neigh_ctl *c;

	if (i < 0) {
		if (!create || (i = insert(n, port, family, addr)) < 0)
			return;
		n->ctl[i].state = MG_NEIGH_INCOMPLETE;
	}
	c = &n->ctl[i];
	publish_mac(n, (uint32_t)i, mac);
	c->state = answer ? MG_NEIGH_REACHABLE
	                  : (c->state == MG_NEIGH_REACHABLE ? MG_NEIGH_REACHABLE : MG_NEIGH_STALE);
	c->confirmed_ns = now_ns;
	c->probes = 0;
	n->stats.learned++;
}

/* ---- frames both protocols send ---- */

void mg_neigh_eth_header(uint8_t *f, const struct rte_ether_addr *dst,
                         const struct rte_ether_addr *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	mg_neigh_put16(f + 12, type);
}

int mg_neigh_send_frame(struct mg_gateway *gw, uint8_t port, const uint8_t *frame, uint16_t len)
{
	struct mg_neigh *n = gw->neigh;
	struct mg_port *p = &gw->ports[port];
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	uint8_t *d;

	if (m == NULL) {
		n->stats.nomem++;
		return -1;
	}
	d = (uint8_t *)rte_pktmbuf_append(m, len);
	if (d == NULL) {
		rte_pktmbuf_free(m);
		n->stats.nomem++;
		return -1;
	}
	memcpy(d, frame, len);
	if (!mg_port_control_tx(p, m)) {
		rte_pktmbuf_free(m);
		n->stats.tx_failed++;
		return -1;
	}
	return 0;
}

bool mg_neigh_copy_frame(const struct rte_mbuf *m, uint8_t *buf, uint32_t len)
{
	const uint8_t *p;

	if (rte_pktmbuf_pkt_len(m) < len)
		return false;
	p = rte_pktmbuf_read(m, 0, len, buf);
	if (p == NULL)
		return false;
	if (p != buf)
		memcpy(buf, p, len);
	return true;
}

/* ---- resolution and aging ---- */

/* Sends a request for addr: to everyone (broadcast / solicited-node) or unicast to a known MAC. */
static int solicit(struct mg_gateway *gw, uint8_t port, uint8_t family, const uint8_t *addr,
                   const struct rte_ether_addr *unicast)
{
	int rc = family == 4 ? mg_arp_solicit(gw, port, addr, unicast)
	                     : mg_nd_solicit(gw, port, addr, unicast);
	if (rc == 0)
		gw->neigh->stats.requests_sent++;
	return rc;
}

static uint64_t elapsed(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

int mg_neigh_resolve(struct mg_gateway *gw, uint8_t port, uint8_t family, const uint8_t *addr,
                     uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;
	struct neigh_ctl *c;
	int64_t i;

	if (!valid_family(family, port) || addr == NULL)
		return -1;
	if (family == 4
	        ? (!mg_gateway_addrs(gw)->ports[port].has_ipv4 || mg_neigh_v4_unusable(addr))
	        : (addr[0] == 0xff || mg_neigh_v6_unspecified(addr)))
		return -1;
	i = mg_neigh_find(n, port, family, addr);
	if (i >= 0) {
		c = &n->ctl[i];
		if (c->state != MG_NEIGH_INCOMPLETE)
			return 0;
		if (elapsed(now_ns, c->last_probe_ns) < MG_NEIGH_PROBE_INTERVAL_NS) {
			n->stats.rate_limited++;
			return 0;
		}
	} else {
		if ((i = insert(n, port, family, addr)) < 0)
			return -1;
		c = &n->ctl[i];
		c->state = MG_NEIGH_INCOMPLETE;
	}
	c->last_probe_ns = now_ns;
	if (c->probes < UINT8_MAX)
		c->probes++;
	return solicit(gw, port, family, addr, NULL);
}

void mg_neigh_age(struct mg_gateway *gw, uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;

	for (uint32_t i = 0; i <= n->mask; i++) {
		struct neigh_ctl *c = &n->ctl[i];

		if (slot_tag(n, i) != KEY_LIVE)
			continue;
		if (c->state == MG_NEIGH_INCOMPLETE) {
			if (elapsed(now_ns, c->last_probe_ns) > MG_NEIGH_INCOMPLETE_NS) {
				remove_slot(n, i);
				n->stats.expired++;
			}
			continue;
		}
		if (c->state != MG_NEIGH_PROBE) {
			if (elapsed(now_ns, c->confirmed_ns) < MG_NEIGH_REACHABLE_NS)
				continue;
			c->state = MG_NEIGH_PROBE;
			c->probes = 0;
		}
		if (c->probes > 0 && elapsed(now_ns, c->last_probe_ns) < MG_NEIGH_PROBE_INTERVAL_NS)
			continue;
		if (c->probes >= MG_NEIGH_MAX_PROBES) {
			remove_slot(n, i);
			n->stats.expired++;
			continue;
		}
		c->probes++;
		c->last_probe_ns = now_ns;
		solicit(gw, c->port, c->family, c->addr, &c->mac);
	}
}
