// SPDX-License-Identifier: GPL-2.0-only
/* The NAT's packet side: translation both ways, ICMP errors, the MSS clamp, worker hooks. */
#include "nat.h"

#include <string.h>

#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "nat_cksum.h"
#include "nat_internal.h"
#include "neigh.h"
#include "worker.h"

#define ICMP4_ECHO_REPLY 0
#define ICMP4_UNREACH    3
#define ICMP4_ECHO       8
#define ICMP4_TIME       11
#define ICMP4_PARAM      12
#define ICMP6_UNREACH    1
#define ICMP6_PARAM      4 /* 1..4: unreachable, too big, time exceeded, parameter problem */
#define ICMP6_ECHO       128
#define ICMP6_ECHO_REPLY 129
#define TCP_FIN          0x01
#define TCP_SYN          0x02
#define TCP_RST          0x04
#define IPV4_OFF_MASK    0x1fff

static unsigned src_off(uint8_t family)
{
	return family == 4 ? 12 : 8;
}

static unsigned dst_off(uint8_t family)
{
	return family == 4 ? 16 : 24;
}

static int proto_of(uint8_t family, uint8_t ipproto)
{
	if (ipproto == MG_IPPROTO_TCP)
		return MG_NAT_TCP;
	if (ipproto == MG_IPPROTO_UDP)
		return MG_NAT_UDP;
	if (ipproto == (family == 4 ? MG_IPPROTO_ICMP : MG_IPPROTO_ICMPV6))
		return MG_NAT_ICMP;
	return -1;
}

static unsigned l4_min(int proto)
{
	return proto == MG_NAT_TCP ? 20 : 8;
}

static unsigned cksum_off(int proto)
{
	return proto == MG_NAT_TCP ? 16 : proto == MG_NAT_UDP ? 6 : 2;
}

/* Whether the L4 checksum covers the addresses: ICMPv4's alone does not. */
static bool pseudo(uint8_t family, int proto)
{
	return proto != MG_NAT_ICMP || family == 6;
}

static bool icmp_is_error(uint8_t family, uint8_t type)
{
	if (family == 4)
		return type == ICMP4_UNREACH || type == ICMP4_TIME || type == ICMP4_PARAM;
	return type >= ICMP6_UNREACH && type <= ICMP6_PARAM;
}

static uint8_t icmp_echo(uint8_t family, bool reply)
{
	if (family == 4)
		return reply ? ICMP4_ECHO_REPLY : ICMP4_ECHO;
	return reply ? ICMP6_ECHO_REPLY : ICMP6_ECHO;
}

/* A SYN's MSS must leave room for the tunnel: a peer never sees a segment encap must drop. */
static void clamp_mss(const struct mg_nat *nat, uint8_t family, uint8_t *tcp, unsigned len,
                      struct mg_worker_counters *c)
{
	unsigned doff = (tcp[12] >> 4) * 4u;
	uint16_t max = family == 4 ? nat->mss4 : nat->mss6;
	if (!(tcp[13] & TCP_SYN) || doff < 20 || doff > len)
		return;
	for (unsigned o = 20; o < doff;) {
		uint8_t kind = tcp[o];
		if (kind == 0)
			return;
		if (kind == 1) {
			o++;
			continue;
		}
		if (o + 1 >= doff || tcp[o + 1] < 2 || o + tcp[o + 1] > doff)
			return;
		if (kind == 2 && tcp[o + 1] == 4) {
			if ((unsigned)(tcp[o + 2] << 8 | tcp[o + 3]) <= max)
				return;
			/* The checksum sums aligned words: at an odd offset the value straddles
			 * two of them, which both lie inside the option. */
			unsigned al = (o + 2) & ~1u, n = (o + 2) % 2 ? 4 : 2;
			uint8_t old[4], cur[4];
			memcpy(old, tcp + al, n);
			tcp[o + 2] = (uint8_t)(max >> 8);
			tcp[o + 3] = (uint8_t)max;
			memcpy(cur, tcp + al, n);
			mg_nat_cksum_adjust(tcp + 16, old, cur, n);
			c->nat.mss_clamped++;
			return;
		}
		o += tcp[o + 1];
	}
}

static void tcp_track(struct mg_nat_map *m, const uint8_t *tcp, bool in)
{
	uint8_t want = (uint8_t)((in ? MG_NAT_SEEN_IN : 0) |
	                         (tcp[13] & (TCP_FIN | TCP_RST) ? MG_NAT_CLOSING : 0));
	uint8_t st = atomic_load_explicit(&m->tcp, memory_order_relaxed);
	if ((st & want) != want)
		atomic_fetch_or_explicit(&m->tcp, want, memory_order_relaxed);
}

/*
 * An ICMP error either way: the quoted packet is one the mapping translated (in: our external
 * endpoint as its source; out: the peer's internal endpoint as its destination). Its address,
 * port and checksums are rewritten as the packet's were, the outer address too, and the ICMP
 * checksum, which covers all of it, is recomputed over the whole message: errors are rare.
 */
static int icmp_error(struct mg_nat *nat, unsigned worker, bool in, int ext, uint8_t *ip,
                      const struct mg_l3 *l3, uint8_t *icmp, unsigned len,
                      struct mg_worker_counters *c, enum mg_drop_reason *why)
{
	uint8_t fam = l3->family;
	unsigned alen = mg_addr_len(fam), ihl;
	uint8_t *q = icmp + 8;
	unsigned qlen = len - 8;

	if (qlen < (fam == 4 ? MG_IPV4_HLEN : MG_IPV6_HLEN) + 8u || (q[0] >> 4) != fam)
		goto unsupported;
	ihl = fam == 4 ? (q[0] & 0x0fu) * 4 : MG_IPV6_HLEN;
	if (ihl < MG_IPV4_HLEN || ihl + 8 > qlen ||
	    (fam == 4 && ((q[6] << 8 | q[7]) & IPV4_OFF_MASK) != 0))
		goto unsupported;
	int proto = proto_of(fam, fam == 4 ? q[9] : q[6]);
	uint8_t *ql4 = q + ihl;
	unsigned ql4len = qlen - ihl;
	if (proto < 0 || (proto == MG_NAT_ICMP && ql4[0] != icmp_echo(fam, false)))
		goto unsupported;
	/* in: the quote is what we sent, its source ours; out: what we delivered, its
	 * destination the peer's. */
	uint8_t *qaddr = q + (in ? src_off(fam) : dst_off(fam));
	uint8_t *qport = ql4 + (proto == MG_NAT_ICMP ? 4 : in ? 0 : 2);
	struct mg_nat_map *m;
	if (in) {
		if (memcmp(qaddr, nat->ext[ext].addr, alen) != 0)
			return 0;
		uint16_t p;
		memcpy(&p, qport, 2);
		m = mg_nat_find_in(nat, (unsigned)ext, (unsigned)proto, p);
	} else {
		struct mg_nat_key key = {.family = fam, .proto = (uint8_t)proto};
		memcpy(&key.port, qport, 2);
		memcpy(key.addr, qaddr, alen);
		m = mg_nat_find(nat, worker, &key);
		if (m && memcmp(ip + src_off(fam), qaddr, alen) != 0)
			m = NULL; /* an error about the flow must come from its endpoint */
	}
	if (!m) {
		if (in)
			return 0;
		goto unsupported;
	}
	const uint8_t *new_addr = in ? m->key.addr : nat->ext[m->ext].addr;
	uint16_t new_port = in ? m->key.port : m->ext_port;
	unsigned qck_off = cksum_off(proto);
	uint8_t *qck = qck_off + 2 <= ql4len ? ql4 + qck_off : NULL;
	bool qudp = proto == MG_NAT_UDP;
	mg_nat_rewrite(qaddr, new_addr, alen, fam == 4 ? q + 10 : NULL,
	               pseudo(fam, proto) ? qck : NULL, qudp);
	mg_nat_rewrite(qport, &new_port, 2, NULL, qck, qudp);
	mg_nat_rewrite(ip + (in ? dst_off(fam) : src_off(fam)), new_addr, alen,
	               fam == 4 ? ip + 10 : NULL, NULL, false);
	uint16_t ck = 0;
	memcpy(icmp + 2, &ck, 2);
	if (fam == 4)
		ck = (uint16_t)~rte_raw_cksum(icmp, len);
	else
		ck = mg_icmp6_cksum(ip + 8, ip + 24, icmp, len);
	memcpy(icmp + 2, &ck, 2);
	c->nat.icmp_errors++;
	if (in)
		c->nat.in++;
	else
		c->nat.out++;
	return 1;
unsupported:
	*why = MG_DROP_NAT_UNSUPPORTED;
	return -1;
}

/*
 * The first half of an outbound translation: the packet's key, or a verdict without one.
 * Returns 1 with *key and *port_off set (a mapping is needed), 0 done (an ICMP error, already
 * translated), -1 drop with *why.
 */
static int out_key(struct mg_nat *nat, unsigned worker, uint8_t *ip, const struct mg_l3 *l3,
                   struct mg_nat_key *key, unsigned *port_off, struct mg_worker_counters *c,
                   enum mg_drop_reason *why)
{
	uint8_t fam = l3->family;
	int proto = proto_of(fam, l3->proto);
	uint8_t *l4 = ip + l3->hdr_len;
	unsigned len = l3->total_len - l3->hdr_len;

	/* Only the first fragment carries ports; the kernel reassembles, a fast path cannot. */
	if (proto < 0 || l3->fragment) {
		*why = MG_DROP_NAT_UNSUPPORTED;
		return -1;
	}
	if (len < l4_min(proto)) {
		*why = MG_DROP_MALFORMED;
		return -1;
	}
	*port_off = 0;
	if (proto == MG_NAT_ICMP) {
		if (icmp_is_error(fam, l4[0]))
			return icmp_error(nat, worker, false, -1, ip, l3, l4, len, c, why) == 1
			           ? 0
			           : -1;
		if (l4[0] != icmp_echo(fam, false)) {
			*why = MG_DROP_NAT_UNSUPPORTED;
			return -1;
		}
		*port_off = 4;
	}
	memset(key, 0, sizeof(*key));
	key->family = fam;
	key->proto = (uint8_t)proto;
	memcpy(&key->port, l4 + *port_off, 2);
	memcpy(key->addr, l3->src, mg_addr_len(fam));
	return 1;
}

/* The second half: the source rewritten to mapping m's external endpoint. */
static void out_apply(struct mg_nat *nat, struct mg_nat_map *m, uint8_t *ip, const struct mg_l3 *l3,
                      unsigned port_off, uint64_t now_ns, struct mg_worker_counters *c)
{
	uint8_t fam = l3->family;
	int proto = m->key.proto;
	uint8_t *l4 = ip + l3->hdr_len;
	uint8_t *ck = l4 + cksum_off(proto);
	bool udp = proto == MG_NAT_UDP;

	mg_nat_touch(m, now_ns);
	if (proto == MG_NAT_TCP) {
		tcp_track(m, l4, false);
		clamp_mss(nat, fam, l4, l3->total_len - l3->hdr_len, c);
	}
	mg_nat_rewrite(ip + src_off(fam), nat->ext[m->ext].addr, mg_addr_len(fam),
	               fam == 4 ? ip + 10 : NULL, pseudo(fam, proto) ? ck : NULL, udp);
	mg_nat_rewrite(l4 + port_off, &m->ext_port, 2, NULL, ck, udp);
	c->nat.out++;
}

/* The mapping for key, created (owned by worker) when none exists. */
static struct mg_nat_map *find_or_create(struct mg_nat *nat, unsigned worker,
                                         const struct mg_nat_key *key, uint64_t now_ns,
                                         struct mg_worker_counters *c, enum mg_drop_reason *why)
{
	struct mg_nat_map *m = mg_nat_find(nat, worker, key);
	return m ? m : mg_nat_create_map(nat, worker, key, now_ns, c, why);
}

int mg_nat_translate_out(struct mg_nat *nat, unsigned worker, uint8_t *ip, const struct mg_l3 *l3,
                         uint64_t now_ns, struct mg_worker_counters *c, enum mg_drop_reason *why)
{
	struct mg_nat_key key;
	unsigned port_off;
	int r = out_key(nat, worker, ip, l3, &key, &port_off, c, why);
	if (r <= 0)
		return r;
	struct mg_nat_map *m = find_or_create(nat, worker, &key, now_ns, c, why);
	if (!m)
		return -1;
	out_apply(nat, m, ip, l3, port_off, now_ns, c);
	return 0;
}

void mg_nat_translate_out_burst(struct mg_nat *nat, unsigned worker, uint8_t *const ip[],
                                const struct mg_l3 l3[], unsigned n, uint64_t now_ns,
                                struct mg_worker_counters *c, int rc[], enum mg_drop_reason why[])
{
	struct mg_nat_key keys[MG_NAT_BURST];
	const void *kp[MG_NAT_BURST];
	void *data[MG_NAT_BURST];
	unsigned port_off[MG_NAT_BURST], pos[MG_NAT_BURST], k = 0;
	unsigned new_of[MG_NAT_BURST], n_new = 0; /* keys[] this burst created a mapping for */
	uint64_t hits = 0;

	for (unsigned i = 0; i < n; i++) {
		rc[i] = out_key(nat, worker, ip[i], &l3[i], &keys[k], &port_off[k], c, &why[i]);
		if (rc[i] == 1) {
			kp[k] = &keys[k];
			pos[k++] = i;
		}
	}
	/* One pass over the worker's own hash for the whole burst: its bucket reads overlap
	 * instead of each packet waiting on its own. */
	if (k)
		rte_hash_lookup_bulk_data(nat->w[worker].h, kp, k, &hits, data);
	for (unsigned j = 0; j < k; j++)
		if (hits & (1ull << j))
			rte_prefetch0(data[j]);
	for (unsigned j = 0; j < k; j++) {
		unsigned i = pos[j];
		struct mg_nat_map *m = data[j];
		if (!(hits & (1ull << j))) {
			/* Only this worker writes its hash, so the bulk lookup missed nothing but
			 * what this burst created: an earlier packet of the same new flow. */
			m = NULL;
			for (unsigned e = 0; e < n_new && !m; e++)
				if (memcmp(&keys[new_of[e]], &keys[j], sizeof(keys[j])) == 0)
					m = data[new_of[e]];
			if (!m)
				m = mg_nat_find_others(nat, worker, &keys[j]);
			if (!m) {
				m = mg_nat_create_map(nat, worker, &keys[j], now_ns, c, &why[i]);
				if (!m) {
					rc[i] = -1;
					continue;
				}
				data[j] = m;
				new_of[n_new++] = j;
			}
		}
		out_apply(nat, m, ip[i], &l3[i], port_off[j], now_ns, c);
		rc[i] = 0;
	}
}

int mg_nat_translate_in(struct mg_nat *nat, uint8_t *ip, const struct mg_l3 *l3, uint64_t now_ns,
                        struct mg_worker_counters *c, enum mg_drop_reason *why)
{
	uint8_t fam = l3->family;
	int ext = mg_nat_ext_index(nat, fam, l3->dst);
	int proto = proto_of(fam, l3->proto);
	uint8_t *l4 = ip + l3->hdr_len;
	unsigned len = l3->total_len - l3->hdr_len, port_off = 2;

	if (ext < 0 || proto < 0 || l3->fragment || len < l4_min(proto))
		return 0;
	if (proto == MG_NAT_ICMP) {
		if (icmp_is_error(fam, l4[0]))
			return icmp_error(nat, 0, true, ext, ip, l3, l4, len, c, why);
		if (l4[0] != icmp_echo(fam, true))
			return 0;
		port_off = 4;
	}
	uint16_t port;
	memcpy(&port, l4 + port_off, 2);
	struct mg_nat_map *m = mg_nat_find_in(nat, (unsigned)ext, (unsigned)proto, port);
	if (!m)
		return 0;
	mg_nat_touch(m, now_ns);
	if (proto == MG_NAT_TCP) {
		tcp_track(m, l4, true);
		clamp_mss(nat, fam, l4, len, c);
	}
	uint8_t *ck = l4 + cksum_off(proto);
	bool udp = proto == MG_NAT_UDP;
	mg_nat_rewrite(ip + dst_off(fam), m->key.addr, mg_addr_len(fam), fam == 4 ? ip + 10 : NULL,
	               pseudo(fam, proto) ? ck : NULL, udp);
	mg_nat_rewrite(l4 + port_off, &m->key.port, 2, NULL, ck, udp);
	c->nat.in++;
	return 1;
}

static bool in_any(const struct mg_prefix *p, size_t n, uint8_t family, const uint8_t *addr)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].family == family && mg_prefix_has_addr(&p[i], family, addr))
			return true;
	return false;
}

bool mg_nat_wants(const struct mg_nat *nat, const struct mg_dp_addrs *addrs, const struct mg_l3 *l3)
{
	uint8_t fam = l3->family;
	const struct mg_port_addrs *lan = &addrs->ports[MG_PORT_LAN];
	if (fam == 4 ? nat->n_ext4 == 0 : nat->n_ext == nat->n_ext4)
		return false;
	if (fam == 6 && mg_addr_is_link_local6(l3->dst))
		return false;
	if (fam == 4 ? lan->has_ipv4 && mg_prefix_has_addr(&lan->ipv4, 4, l3->dst)
	             : lan->has_ipv6 && mg_prefix_has_addr(&lan->ipv6, 6, l3->dst))
		return false;
	return !in_any(addrs->addresses, addrs->n_addresses, fam, l3->dst) &&
	       !in_any(nat->cfg.exclude, nat->cfg.n_exclude, fam, l3->dst);
}

/* ---- worker hooks ---- */

static bool next_hop(const struct mg_nat *nat, const struct mg_port_addrs *pa, uint8_t fam,
                     const uint8_t *dst, uint8_t *nh)
{
	const struct mg_dp_exit_config *cfg = &nat->cfg;
	bool on_link = fam == 4 ? pa->has_ipv4 && mg_prefix_has_addr(&pa->ipv4, 4, dst)
	                        : pa->has_ipv6 && mg_prefix_has_addr(&pa->ipv6, 6, dst);
	if (!on_link && fam == 4 && cfg->has_next_hop4) {
		memcpy(nh, cfg->next_hop4, 4);
		return true;
	}
	if (!on_link && fam == 6 && cfg->has_next_hop6) {
		memcpy(nh, cfg->next_hop6, 16);
		return true;
	}
	return mg_neigh_next_hop(pa, fam, dst, nh);
}

/* A translated packet to the uplink's next hop. */
static void send_up(struct mg_worker *w, struct rte_mbuf *m, const struct mg_l3 *l3)
{
	struct mg_gateway *gw = w->gw;
	struct mg_nat *nat = gw->nat;
	uint8_t fam = l3->family, up = nat->cfg.uplink, nh[16];
	struct rte_ether_addr mac;

	if (!next_hop(nat, &mg_gateway_addrs(gw)->ports[up], fam, l3->dst, nh)) {
		mg_worker_drop(w, m, MG_DROP_NO_ROUTE);
		return;
	}
	if (!mg_neigh_lookup(gw->neigh, up, fam, nh, &mac)) {
		mg_event_resolve(gw, &w->resolve, up, fam, nh, w->now_tsc,
		                 &w->counters.events_lost);
		mg_worker_drop(w, m, MG_DROP_NO_NEIGHBOUR);
		return;
	}
	uint8_t *eth = (uint8_t *)rte_pktmbuf_prepend(m, MG_ETH_HLEN);
	if (!eth) {
		mg_worker_drop(w, m, MG_DROP_NOMEM);
		return;
	}
	mg_eth_write(eth, &mac, &gw->ports[up].mac,
	             fam == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	m->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;
	mg_worker_tx(w, (enum mg_port_id)up, m);
}

void mg_nat_forward_burst(struct mg_worker *w, struct rte_mbuf *const m[], const struct mg_l3 l3[],
                          unsigned n)
{
	uint8_t *ip[MG_NAT_BURST] = {0}; /* GCC cannot tell n <= MG_NAT_BURST */
	int rc[MG_NAT_BURST];
	enum mg_drop_reason why[MG_NAT_BURST];

	for (unsigned i = 0; i < n; i++)
		ip[i] = rte_pktmbuf_mtod(m[i], uint8_t *);
	mg_nat_translate_out_burst(w->gw->nat, w->id, ip, l3, n, w->now_ns, &w->counters, rc, why);
	for (unsigned i = 0; i < n; i++) {
		if (rc[i] != 0)
			mg_worker_drop(w, m[i], why[i]);
		else
			send_up(w, m[i], &l3[i]);
	}
}

enum mg_nat_rx mg_nat_rx(struct mg_worker *w, struct rte_mbuf *m, const struct mg_l3 *l3)
{
	enum mg_drop_reason why;
	uint8_t *ip = rte_pktmbuf_mtod_offset(m, uint8_t *, MG_ETH_HLEN);
	int r = mg_nat_translate_in(w->gw->nat, ip, l3, w->now_ns, &w->counters, &why);
	if (r == 0)
		return MG_NAT_RX_PASS;
	if (r < 0) {
		mg_worker_drop(w, m, why);
		return MG_NAT_RX_DROPPED;
	}
	return MG_NAT_RX_ENCAP;
}

void mg_nat_tick(struct mg_worker *w)
{
	const struct wg_noise_upcalls *u = &w->gw->local.upcalls;
	struct mg_nat *nat = w->gw->nat;
	struct mg_nat_worker *nw = &nat->w[w->id];
	uint64_t now = u->now(u->ctx);
	/* Time-based, so an idle worker polling slowly still sweeps its slice once a second. */
	uint64_t due = now > nw->last_tick_ns
	                   ? (uint64_t)nw->count * (now - nw->last_tick_ns) / 1000000000ull
	                   : 0;
	nw->last_tick_ns = now;
	if (due < 64)
		due = 64;
	mg_nat_expire(nat, w->id, now, due > 8192 ? 8192 : (unsigned)due, &w->counters);
}
