/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Neighbour table and the ARP / ND protocol handling of the control thread. See neigh.h for the
 * concurrency model: a linear-probing array of slots, each guarded by a sequence counter, written
 * by one thread and read lock-free by the workers. Deleted slots become tombstones, and a
 * tombstone followed by an empty slot is turned back into an empty one, which is safe because an
 * empty slot can never lie inside a probe chain that leads to a live key.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ethdev.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_random.h>

#include "dataplane.h"
#include "neigh.h"
#include "pkt.h"
#include "ports.h"

#define PROBE_WINDOW 32 /* a key lives at most this many slots past its home slot */
#define READ_RETRIES 64 /* a reader gives up (transient miss) if a write lasts longer */
#define FRAME_MAX    1518

#define KEY_EMPTY 0u
#define KEY_LIVE  1u
#define KEY_TOMB  2u
#define MAC_VALID (1ull << 48)

#define ETH_HLEN          14
#define ARP_LEN           28
#define IP6_HLEN          40
#define ND_HLEN           24 /* ICMPv6 header + reserved/flags + target */
#define ND_OPT_SLLA       1
#define ND_OPT_TLLA       2
#define NA_FLAG_ROUTER    0x80
#define NA_FLAG_SOLICITED 0x40
#define NA_FLAG_OVERRIDE  0x20

/* Shared with readers: every field under seq. */
struct neigh_slot {
	_Atomic uint32_t seq;
	_Atomic uint64_t key;     /* tag << 16 | family << 8 | port */
	_Atomic uint64_t addr[2]; /* the address, zero padded for IPv4 */
	_Atomic uint64_t mac;     /* 48-bit MAC | MAC_VALID */
} __rte_cache_aligned;

/* Control thread only. */
struct neigh_ctl {
	uint8_t state; /* enum mg_neigh_state */
	uint8_t probes;
	uint8_t port, family;
	uint8_t addr[16];
	struct rte_ether_addr mac;
	uint64_t confirmed_ns;
	uint64_t last_probe_ns;
};

struct mg_neigh {
	struct neigh_slot *slots;
	struct neigh_ctl *ctl;
	uint32_t mask;
	uint32_t max;
	uint32_t seed;
	struct mg_neigh_stats stats;
};

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

static void slot_write(struct neigh_slot *s, uint64_t key, const uint64_t a[2], uint64_t mac)
{
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&s->key, key, memory_order_relaxed);
	atomic_store_explicit(&s->addr[0], a[0], memory_order_relaxed);
	atomic_store_explicit(&s->addr[1], a[1], memory_order_relaxed);
	atomic_store_explicit(&s->mac, mac, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

static uint32_t slot_tag(const struct mg_neigh *n, uint32_t i)
{
	return (uint32_t)(atomic_load_explicit(&n->slots[i].key, memory_order_relaxed) >> 16);
}

/* Writer-side search: the slot index of the key, or -1. */
static int64_t find(const struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr)
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

	slot_write(&n->slots[i], pack_key(KEY_TOMB, 0, 0), zero, 0);
	memset(&n->ctl[i], 0, sizeof(n->ctl[i]));
	n->stats.entries--;
	while (slot_tag(n, i) == KEY_TOMB && slot_tag(n, (i + 1) & n->mask) == KEY_EMPTY) {
		slot_write(&n->slots[i], pack_key(KEY_EMPTY, 0, 0), zero, 0);
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
				slot_write(&n->slots[i], key, a, 0);
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
	slot_write(&n->slots[i], pack_key(KEY_LIVE, c->port, c->family), a, pack_mac(mac, true));
}

int mg_neigh_update(struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                    const struct rte_ether_addr *mac, uint64_t now_ns)
{
	int64_t i;

	if (n == NULL || !valid_family(family, port) || addr == NULL || mac == NULL ||
	    !rte_is_valid_assigned_ether_addr(mac))
		return -1;
	i = find(n, port, family, addr);
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
	int64_t i = find(n, port, family, addr);

	if (i < 0)
		return false;
	remove_slot(n, (uint32_t)i);
	return true;
}

bool mg_neigh_state_of(const struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                       enum mg_neigh_state *state)
{
	int64_t i = find(n, port, family, addr);

	if (i < 0)
		return false;
	*state = n->ctl[i].state;
	return true;
}

void mg_neigh_stats(const struct mg_neigh *n, struct mg_neigh_stats *out)
{
	*out = n->stats;
}

/*
 * Learns addr -> mac from the wire. answer: the frame answers our request (ARP reply, solicited
 * NA), which confirms reachability; otherwise the entry is usable but unconfirmed (STALE).
 * create: make an entry if none exists.
 */
static void learn(struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                  const struct rte_ether_addr *mac, uint64_t now_ns, bool answer, bool create)
{
	int64_t i = find(n, port, family, addr);
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

/* ---- frames ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t icmp6_checksum(const uint8_t *src, const uint8_t *dst, const uint8_t *l4,
                               uint32_t len)
{
	uint8_t ph[8] = {
	    (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0,
	    IPPROTO_ICMPV6};
	uint32_t sum = __rte_raw_cksum(src, 16, 0);

	sum = __rte_raw_cksum(dst, 16, sum);
	sum = __rte_raw_cksum(ph, sizeof(ph), sum);
	sum = __rte_raw_cksum(l4, len, sum);
	return (uint16_t)~__rte_raw_cksum_reduce(sum);
}

static void eth_header(uint8_t *f, const struct rte_ether_addr *dst,
                       const struct rte_ether_addr *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

/* Copies a built frame into a fresh mbuf and queues it on the control TX queue. */
static int send_frame(struct mg_gateway *gw, uint8_t port, const uint8_t *frame, uint16_t len)
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

/* Copies the first len bytes of the frame (any segmentation) into buf. */
static bool copy_frame(const struct rte_mbuf *m, uint8_t *buf, uint32_t len)
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

static bool is_v4_unusable(const uint8_t *a)
{
	/* 0.0.0.0, multicast, class E and limited broadcast never name a neighbour */
	return (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) || a[0] >= 224;
}

static const struct rte_ether_addr bcast_mac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

/* ARP request (who-has target) to dst_mac; broadcast when resolving, unicast when probing. */
static int send_arp(struct mg_gateway *gw, uint8_t port, uint16_t op,
                    const struct rte_ether_addr *eth_dst, const struct rte_ether_addr *tha,
                    const uint8_t *tip)
{
	const struct mg_port_addrs *pc = &mg_gateway_addrs(gw)->ports[port];
	const struct rte_ether_addr *our = &gw->ports[port].mac;
	uint8_t f[ETH_HLEN + ARP_LEN];
	uint8_t *a = f + ETH_HLEN;

	eth_header(f, eth_dst, our, RTE_ETHER_TYPE_ARP);
	put16(a, RTE_ARP_HRD_ETHER);
	put16(a + 2, RTE_ETHER_TYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, our, 6);
	memcpy(a + 14, pc->ipv4.addr, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, tip, 4);
	return send_frame(gw, port, f, sizeof(f));
}

void mg_neigh_input_arp(struct mg_gateway *gw, uint8_t port, struct rte_mbuf *m, uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;
	uint8_t f[ETH_HLEN + ARP_LEN];
	const uint8_t *a = f + ETH_HLEN;
	struct rte_ether_addr sha, our;
	const struct mg_port_addrs *pc;
	const uint8_t *sip, *tip;
	uint16_t op;
	bool for_us;

	n->stats.arp_rx++;
	if (port >= MG_PORT_COUNT || !copy_frame(m, f, sizeof(f))) {
		n->stats.arp_malformed++;
		goto out;
	}
	pc = &mg_gateway_addrs(gw)->ports[port];
	our = gw->ports[port].mac;
	op = get16(a + 6);
	memcpy(&sha, a + 8, 6);
	sip = a + 14;
	tip = a + 24;
	if (get16(f + 12) != RTE_ETHER_TYPE_ARP || get16(a) != RTE_ARP_HRD_ETHER ||
	    get16(a + 2) != RTE_ETHER_TYPE_IPV4 || a[4] != 6 || a[5] != 4 ||
	    (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) ||
	    !rte_is_valid_assigned_ether_addr(&sha) ||
	    (is_v4_unusable(sip) &&
	     !(op == RTE_ARP_OP_REQUEST && memcmp(sip, "\0\0\0\0", 4) == 0))) {
		n->stats.arp_malformed++;
		goto out;
	}
	/* frames we sent ourselves, or unicast to another station (promiscuous ports) */
	if (rte_is_same_ether_addr(&sha, &our) ||
	    (!rte_is_multicast_ether_addr((const struct rte_ether_addr *)f) &&
	     !rte_is_same_ether_addr((const struct rte_ether_addr *)f, &our))) {
		n->stats.ignored++;
		goto out;
	}
	for_us = pc->has_ipv4 && memcmp(tip, pc->ipv4.addr, 4) == 0;
	if (!for_us) {
		/* gratuitous ARP refreshes an entry we already have, never creates one */
		if (memcmp(sip, tip, 4) == 0)
			learn(n, port, 4, sip, &sha, now_ns, false, false);
		else
			n->stats.ignored++;
		goto out;
	}
	if (op == RTE_ARP_OP_REQUEST) {
		uint8_t sip_copy[4];

		memcpy(sip_copy, sip, 4);
		if (!is_v4_unusable(sip))
			learn(n, port, 4, sip, &sha, now_ns, false, true);
		if (send_arp(gw, port, RTE_ARP_OP_REPLY, &sha, &sha, sip_copy) == 0)
			n->stats.replies_sent++;
	} else {
		learn(n, port, 4, sip, &sha, now_ns, true, true);
	}
out:
	rte_pktmbuf_free(m);
}

/* ---- IPv6 neighbour discovery ---- */

static bool v6_is_unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

static bool v6_is_link_local(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static void solicited_node(const uint8_t *target, uint8_t out[16])
{
	static const uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};

	memcpy(out, prefix, sizeof(prefix));
	memcpy(out + 13, target + 13, 3);
}

static void v6_multicast_mac(const uint8_t *dst, struct rte_ether_addr *mac)
{
	mac->addr_bytes[0] = 0x33;
	mac->addr_bytes[1] = 0x33;
	memcpy(&mac->addr_bytes[2], dst + 12, 4);
}

static bool v6_is_ours(const struct mg_gateway *gw, uint8_t port, const uint8_t *a)
{
	const struct mg_port_addrs *pc = &mg_gateway_addrs(gw)->ports[port];
	uint8_t ll[16];

	if (pc->has_ipv6 && memcmp(a, pc->ipv6.addr, 16) == 0)
		return true;
	mg_neigh_link_local(&gw->ports[port].mac, ll);
	return memcmp(a, ll, 16) == 0;
}

/* A neighbour solicitation (type 135) or advertisement (136) with one link-layer option. */
static int send_nd(struct mg_gateway *gw, uint8_t port, uint8_t type, uint8_t flags,
                   const struct rte_ether_addr *eth_dst, const uint8_t *src, const uint8_t *dst,
                   const uint8_t *target)
{
	const struct rte_ether_addr *our = &gw->ports[port].mac;
	uint8_t f[ETH_HLEN + IP6_HLEN + ND_HLEN + 8] = {0};
	uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP6_HLEN;
	const uint16_t plen = ND_HLEN + 8;
	uint16_t ck;

	eth_header(f, eth_dst, our, RTE_ETHER_TYPE_IPV6);
	ip[0] = 0x60;
	put16(ip + 4, plen);
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = 255;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	icmp[0] = type;
	icmp[4] = flags;
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == 135 ? ND_OPT_SLLA : ND_OPT_TLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, our, 6);
	ck = icmp6_checksum(src, dst, icmp, plen);
	memcpy(icmp + 2, &ck, 2); /* the ones' complement sum is already in memory order */
	return send_frame(gw, port, f, sizeof(f));
}

/* Sends a request for addr: to everyone (broadcast / solicited-node) or unicast to a known MAC. */
static int solicit(struct mg_gateway *gw, uint8_t port, uint8_t family, const uint8_t *addr,
                   const struct rte_ether_addr *unicast)
{
	static const struct rte_ether_addr zero_mac;
	const struct mg_port_addrs *pc = &mg_gateway_addrs(gw)->ports[port];
	int rc;

	if (family == 4) {
		rc = send_arp(gw, port, RTE_ARP_OP_REQUEST, unicast ? unicast : &bcast_mac,
		              &zero_mac, addr);
	} else {
		uint8_t src[16], dst[16];
		struct rte_ether_addr eth_dst;

		if (v6_is_link_local(addr) || !pc->has_ipv6)
			mg_neigh_link_local(&gw->ports[port].mac, src);
		else
			memcpy(src, pc->ipv6.addr, 16);
		if (unicast) {
			memcpy(dst, addr, 16);
			eth_dst = *unicast;
		} else {
			solicited_node(addr, dst);
			v6_multicast_mac(dst, &eth_dst);
		}
		rc = send_nd(gw, port, 135, 0, &eth_dst, src, dst, addr);
	}
	if (rc == 0)
		gw->neigh->stats.requests_sent++;
	return rc;
}

struct nd_msg {
	const uint8_t *src, *dst, *target;
	uint8_t type, flags;
	const uint8_t *lladdr; /* SLLA of an NS or TLLA of an NA, NULL if absent */
};

/* RFC 4861 7.1.1 / 7.1.2 validity checks. Returns false for a malformed message. */
static bool nd_parse(const uint8_t *ip, const uint8_t *icmp, uint16_t plen, struct nd_msg *msg)
{
	msg->src = ip + 8;
	msg->dst = ip + 24;
	msg->type = icmp[0];
	msg->flags = icmp[4];
	msg->target = icmp + 8;
	msg->lladdr = NULL;
	if (ip[7] != 255 || icmp[1] != 0 || plen < ND_HLEN)
		return false;
	if (icmp6_checksum(msg->src, msg->dst, icmp, plen) != 0)
		return false;
	if (msg->target[0] == 0xff || msg->src[0] == 0xff)
		return false;
	for (uint32_t off = ND_HLEN; off < plen;) {
		const uint8_t *o = icmp + off;
		uint32_t olen;

		if (plen - off < 2 || o[1] == 0)
			return false;
		olen = o[1] * 8u;
		if (olen > plen - off)
			return false;
		if (olen == 8 && ((msg->type == 135 && o[0] == ND_OPT_SLLA) ||
		                  (msg->type == 136 && o[0] == ND_OPT_TLLA)))
			msg->lladdr = o + 2;
		off += olen;
	}
	if (msg->lladdr && !rte_is_valid_assigned_ether_addr((const void *)msg->lladdr))
		return false;
	if (msg->type == 135 && v6_is_unspecified(msg->src)) {
		uint8_t sn[16];

		solicited_node(msg->target, sn);
		if (memcmp(msg->dst, sn, 16) != 0 || msg->lladdr != NULL)
			return false;
	}
	if (msg->type == 136 && msg->dst[0] == 0xff && (msg->flags & NA_FLAG_SOLICITED))
		return false;
	return true;
}

static void nd_solicitation(struct mg_gateway *gw, uint8_t port, const struct nd_msg *msg,
                            const struct rte_ether_addr *eth_src, uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;
	struct rte_ether_addr eth_dst;
	uint8_t dst[16], target[16];
	uint8_t flags = NA_FLAG_OVERRIDE;

	if (!v6_is_ours(gw, port, msg->target)) {
		n->stats.ignored++;
		return;
	}
	memcpy(target, msg->target, 16);
	if (v6_is_unspecified(msg->src)) {
		/* someone's DAD probe for our address: defend it to all nodes (RFC 4861 7.2.4) */
		static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};

		memcpy(dst, all_nodes, 16);
		v6_multicast_mac(dst, &eth_dst);
	} else {
		memcpy(dst, msg->src, 16);
		if (msg->lladdr) {
			memcpy(&eth_dst, msg->lladdr, 6);
			learn(n, port, 6, msg->src, &eth_dst, now_ns, false, true);
		} else {
			eth_dst = *eth_src; /* a unicast probe carries no option */
		}
		flags |= NA_FLAG_SOLICITED;
	}
	if (send_nd(gw, port, 136, flags, &eth_dst, target, dst, target) == 0)
		n->stats.replies_sent++;
}

static void nd_advertisement(struct mg_gateway *gw, uint8_t port, const struct nd_msg *msg,
                             uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;
	int64_t i;
	struct neigh_ctl *c;
	struct rte_ether_addr mac;

	i = v6_is_ours(gw, port, msg->target) ? -1 : find(n, port, 6, msg->target);
	if (i < 0) {
		/* RFC 4861 7.2.5: an advertisement for an address we do not track is dropped */
		n->stats.ignored++;
		return;
	}
	c = &n->ctl[i];
	if (msg->lladdr)
		memcpy(&mac, msg->lladdr, 6);
	if (c->state == MG_NEIGH_INCOMPLETE
	        ? msg->lladdr == NULL
	        : (msg->lladdr && !rte_is_same_ether_addr(&mac, &c->mac) &&
	           !(msg->flags & NA_FLAG_OVERRIDE))) {
		n->stats.ignored++;
		return;
	}
	if (msg->lladdr == NULL)
		mac = c->mac;
	learn(n, port, 6, msg->target, &mac, now_ns, msg->flags & NA_FLAG_SOLICITED, false);
}

void mg_neigh_input_nd(struct mg_gateway *gw, uint8_t port, struct rte_mbuf *m, uint64_t now_ns)
{
	struct mg_neigh *n = gw->neigh;
	uint8_t f[FRAME_MAX];
	const uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP6_HLEN;
	uint32_t len = rte_pktmbuf_pkt_len(m) < FRAME_MAX ? rte_pktmbuf_pkt_len(m) : FRAME_MAX;
	struct rte_ether_addr eth_src;
	const struct rte_ether_addr *our;
	struct nd_msg msg;
	uint16_t plen;

	n->stats.nd_rx++;
	if (port >= MG_PORT_COUNT || len < ETH_HLEN + IP6_HLEN + 4 || !copy_frame(m, f, len) ||
	    get16(f + 12) != RTE_ETHER_TYPE_IPV6 || ip[0] >> 4 != 6 || ip[6] != IPPROTO_ICMPV6) {
		n->stats.nd_malformed++;
		goto out;
	}
	plen = get16(ip + 4);
	if (plen < 4 || ETH_HLEN + IP6_HLEN + (uint32_t)plen > len) {
		n->stats.nd_malformed++;
		goto out;
	}
	if (icmp[0] != 135 && icmp[0] != 136) {
		n->stats.ignored++; /* router solicitations, advertisements, redirects */
		goto out;
	}
	if (!nd_parse(ip, icmp, plen, &msg)) {
		n->stats.nd_malformed++;
		goto out;
	}
	our = &gw->ports[port].mac;
	memcpy(&eth_src, f + 6, 6);
	if (rte_is_same_ether_addr(&eth_src, our) || !rte_is_valid_assigned_ether_addr(&eth_src) ||
	    (!rte_is_multicast_ether_addr((const struct rte_ether_addr *)f) &&
	     !rte_is_same_ether_addr((const struct rte_ether_addr *)f, our))) {
		n->stats.ignored++;
		goto out;
	}
	if (msg.type == 135)
		nd_solicitation(gw, port, &msg, &eth_src, now_ns);
	else
		nd_advertisement(gw, port, &msg, now_ns);
out:
	rte_pktmbuf_free(m);
}

/* ---- resolution and aging ---- */

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
	if (family == 4 ? (!mg_gateway_addrs(gw)->ports[port].has_ipv4 || is_v4_unusable(addr))
	                : (addr[0] == 0xff || v6_is_unspecified(addr)))
		return -1;
	i = find(n, port, family, addr);
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
