/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Neighbour table and ARP/ND handling against real ring-backed ports brought up by
 * mg_ports_setup: frames are handed to the input functions the way the punt ring delivers them
 * and whatever the gateway sends comes out of the control TX queue's ring.
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "check.h"
#include "dataplane.h"
#include "neigh.h"
#include "ports.h"

#define SEC 1000000000ull

static struct mg_dp_addrs addrs; /* gw.addrs: mutable here, no worker runs meanwhile */
static struct mg_gateway gw;
static struct rte_ring *tx_ring[MG_PORT_COUNT]; /* the control TX queue of each port */
static uint64_t rng_state = 42;

static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x10};
static const uint8_t host2_mac[6] = {0x02, 0, 0, 0, 0, 0x11};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero6[6];
static const uint8_t our_ip[4] = {192, 0, 2, 1};
static const uint8_t host_ip[4] = {192, 0, 2, 10};
static const uint8_t our_ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t host_ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x10};
static const uint8_t host_ll6[16] = {0xfe, 0x80, [14] = 0x12, [15] = 0x34};

/* Ones' complement sum over big-endian 16-bit words: written here from RFC 1071, not the
 * gateway's helper, so checksums are checked independently. */
static uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t ref_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* True when the ICMPv6 message in an IPv6 packet (no extension headers) has a valid checksum. */
static bool icmp6_ok(const uint8_t *ip)
{
	uint32_t len = (uint32_t)(ip[4] << 8 | ip[5]);
	uint8_t ph[8] = {0, 0, (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0, 58};
	uint32_t acc = ref_sum(ip + 8, 32, 0);

	acc = ref_sum(ph, 8, acc);
	acc = ref_sum(ip + 40, len, acc);
	return ref_fold(acc) == 0xffff;
}

static void icmp6_fill_checksum(uint8_t *ip)
{
	uint32_t len = (uint32_t)(ip[4] << 8 | ip[5]);
	uint8_t ph[8] = {0, 0, (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0, 58};
	uint32_t acc;
	uint16_t ck;

	ip[42] = ip[43] = 0;
	acc = ref_sum(ip + 8, 32, 0);
	acc = ref_sum(ph, 8, acc);
	acc = ref_sum(ip + 40, len, acc);
	ck = (uint16_t)~ref_fold(acc);
	ip[42] = (uint8_t)(ck >> 8);
	ip[43] = (uint8_t)ck;
}

static struct rte_mbuf *mk(const uint8_t *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(gw.ports[0].pool);

	if (m == NULL)
		abort();
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	return m;
}

/* Pops one frame the gateway sent on port p; returns its length (0: none). */
static size_t pop(unsigned p, uint8_t *out)
{
	struct rte_mbuf *m;
	size_t len;

	if (rte_ring_dequeue(tx_ring[p], (void **)&m) != 0)
		return 0;
	len = rte_pktmbuf_pkt_len(m);
	memcpy(out, rte_pktmbuf_read(m, 0, len, out), len);
	rte_pktmbuf_free(m);
	return len;
}

static size_t drain(unsigned p)
{
	uint8_t f[2048];
	size_t n = 0;

	while (pop(p, f))
		n++;
	return n;
}

static size_t build_arp(uint8_t *f, const uint8_t *eth_dst, const uint8_t *eth_src, uint16_t op,
                        const uint8_t *sha, const uint8_t *sip, const uint8_t *tha,
                        const uint8_t *tip)
{
	static const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 0};

	memcpy(f, eth_dst, 6);
	memcpy(f + 6, eth_src, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	memcpy(f + 14, hdr, 8);
	f[21] = (uint8_t)op;
	memcpy(f + 22, sha, 6);
	memcpy(f + 28, sip, 4);
	memcpy(f + 32, tha, 6);
	memcpy(f + 38, tip, 4);
	memset(f + 42, 0, 18); /* Ethernet minimum-frame padding */
	return 60;
}

/* NS (135) or NA (136) with an optional link-layer option (opt 1 or 2, 0 = none). */
static size_t build_nd(uint8_t *f, const uint8_t *eth_dst, const uint8_t *eth_src,
                       const uint8_t *src, const uint8_t *dst, uint8_t hop, uint8_t type,
                       uint8_t flags, const uint8_t *target, uint8_t opt, const uint8_t *opt_mac)
{
	uint8_t *ip = f + 14, *icmp = ip + 40;
	uint16_t plen = opt ? 32 : 24;

	memset(f, 0, 14 + 40 + plen);
	memcpy(f, eth_dst, 6);
	memcpy(f + 6, eth_src, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = (uint8_t)plen;
	ip[6] = 58;
	ip[7] = hop;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	icmp[0] = type;
	icmp[4] = flags;
	memcpy(icmp + 8, target, 16);
	if (opt) {
		icmp[24] = opt;
		icmp[25] = 1;
		memcpy(icmp + 26, opt_mac, 6);
	}
	icmp6_fill_checksum(ip);
	return 14 + 40 + plen;
}

static void solicited(const uint8_t *t, uint8_t *ip, uint8_t *mac)
{
	static const uint8_t p[13] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};

	memcpy(ip, p, 13);
	memcpy(ip + 13, t + 13, 3);
	mac[0] = mac[1] = 0x33;
	memcpy(mac + 2, ip + 12, 4);
}

static struct mg_neigh_stats stats(void)
{
	struct mg_neigh_stats s;

	mg_neigh_stats(gw.neigh, &s);
	return s;
}

/* Control and one worker on the first two CPUs we may use; no worker lcore with only one. */
static void pick_lcores(void)
{
	cpu_set_t set;
	int found = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE && found < 2; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (found++ == 0)
			gw.conf.control_lcore = (unsigned)c;
		else
			gw.conf.worker_lcores[0] = (unsigned)c;
	}
	gw.conf.n_workers = found >= 2 ? 1 : 0;
}

static void setup(void)
{
	char err[512];
	char prefix[64];
	static char *eal[8];
	struct rte_ring *rx[MG_PORT_COUNT], *tx[MG_PORT_COUNT][2];
	static const char *const names[MG_PORT_COUNT] = {"net_ring_lan", "net_ring_mesh"};

	snprintf(prefix, sizeof(prefix), "--file-prefix=mg_neigh_%d", (int)getpid());
	pick_lcores();
	eal[0] = (char *)"--no-huge";
	eal[1] = (char *)"--in-memory";
	eal[2] = (char *)"--no-pci";
	eal[3] = strdup(prefix);
	eal[4] = (char *)"-m";
	eal[5] = (char *)"256";
	eal[6] = (char *)"--log-level=error";
	gw.conf.n_eal_args = 7;
	for (size_t i = 0; i < gw.conf.n_eal_args; i++)
		gw.conf.eal_args[i] = eal[i];
	gw.conf.mtu = 1420;
	if (mg_eal_init(&gw.conf, "test_neigh", err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
		char rn[32];

		snprintf(rn, sizeof(rn), "rx%u", p);
		rx[p] = rte_ring_create(rn, 1024, SOCKET_ID_ANY, 0);
		for (unsigned q = 0; q < 2; q++) {
			snprintf(rn, sizeof(rn), "tx%u_%u", p, q);
			tx[p][q] = rte_ring_create(rn, 4096, SOCKET_ID_ANY, 0);
		}
		/* the ring PMD names the port "net_ring_" + the name given */
		if (rte_eth_from_rings(names[p] + strlen("net_ring_"), &rx[p], 1, tx[p], 2, 0) < 0)
			abort();
		snprintf(gw.conf.ports[p].devargs, sizeof(gw.conf.ports[p].devargs), "%s",
		         names[p]);
		tx_ring[p] = tx[p][1];
	}
	addrs.ports[0].ipv4 = (struct mg_prefix){.family = 4, .len = 24, .addr = {192, 0, 2, 1}};
	addrs.ports[0].has_ipv4 = true;
	addrs.ports[0].ipv6 = (struct mg_prefix){.family = 6, .len = 64};
	memcpy(addrs.ports[0].ipv6.addr, our_ip6, 16);
	addrs.ports[0].has_ipv6 = true;
	addrs.ports[1].ipv4 = (struct mg_prefix){.family = 4, .len = 24, .addr = {198, 51, 100, 1}};
	addrs.ports[1].has_ipv4 = true;
	gw.addrs = &addrs;
	gw.n_workers = 1;

	/* a missing device is refused with its name in the message */
	snprintf(gw.conf.ports[1].devargs, sizeof(gw.conf.ports[1].devargs),
	         "net_nosuchdriver0,x=1");
	CHECK(mg_ports_setup(&gw, err, sizeof(err)) != 0);
	CHECK(strstr(err, "mesh") && strstr(err, "net_nosuchdriver0,x=1"), "%s", err);
	CHECK(gw.ports[0].pool == NULL, "failed setup released the lan pool");
	snprintf(gw.conf.ports[1].devargs, sizeof(gw.conf.ports[1].devargs), "%s", names[1]);

	if (mg_ports_setup(&gw, err, sizeof(err)) != 0) {
		fprintf(stderr, "ports: %s\n", err);
		exit(1);
	}
	for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
		CHECK(gw.ports[p].n_rxq == 1 && gw.ports[p].n_txq == 2);
		CHECK(gw.ports[p].control_txq == 1);
		CHECK(gw.ports[p].pool != NULL);
		/* the ring PMD has no MAC of its own; give each port a distinct one */
		if (rte_is_zero_ether_addr(&gw.ports[p].mac))
			gw.ports[p].mac =
			    (struct rte_ether_addr){{0x02, 0xaa, 0, 0, 0, (uint8_t)p}};
	}
	gw.neigh = mg_neigh_create(64, SOCKET_ID_ANY);
	if (gw.neigh == NULL)
		abort();
}

static void test_arp(void)
{
	const uint8_t *our = gw.ports[0].mac.addr_bytes;
	uint8_t f[128], out[2048], exp[42];
	static const uint8_t other_ip[4] = {192, 0, 2, 99}, ip11[4] = {192, 0, 2, 11};
	static const uint8_t ip12[4] = {192, 0, 2, 12}, ip13[4] = {192, 0, 2, 13};
	struct rte_ether_addr mac;
	enum mg_neigh_state st;
	size_t len;

	/* request for our address: exact reply bytes */
	len = build_arp(f, bcast, host_mac, 1, host_mac, host_ip, zero6, our_ip);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 1 * SEC);
	memcpy(exp, host_mac, 6);
	memcpy(exp + 6, our, 6);
	memcpy(exp + 12, "\x08\x06\x00\x01\x08\x00\x06\x04\x00\x02", 10);
	memcpy(exp + 22, our, 6);
	memcpy(exp + 28, our_ip, 4);
	memcpy(exp + 32, host_mac, 6);
	memcpy(exp + 38, host_ip, 4);
	len = pop(MG_PORT_LAN, out);
	CHECK(len == 42, "reply length %zu", len);
	CHECK(memcmp(out, exp, 42) == 0, "ARP reply bytes");
	CHECK(pop(MG_PORT_LAN, out) == 0, "exactly one reply");
	CHECK(mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 4, host_ip, &mac) &&
	          memcmp(&mac, host_mac, 6) == 0,
	      "requester learned");
	CHECK(mg_neigh_state_of(gw.neigh, MG_PORT_LAN, 4, host_ip, &st) && st == MG_NEIGH_STALE);
	CHECK(!mg_neigh_lookup(gw.neigh, MG_PORT_MESH, 4, host_ip, &mac), "per port");
	CHECK(stats().replies_sent == 1);

	/* request for another address: no reply, nothing learned */
	len = build_arp(f, bcast, host2_mac, 1, host2_mac, ip11, zero6, other_ip);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 2 * SEC);
	CHECK(pop(MG_PORT_LAN, out) == 0, "no reply for another IP");
	CHECK(!mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 4, ip11, &mac), "not learned");
	CHECK(stats().ignored == 1);

	/* the same request on the mesh port, whose address differs: ignored too */
	len = build_arp(f, bcast, host2_mac, 1, host2_mac, ip11, zero6, our_ip);
	mg_neigh_input_arp(&gw, MG_PORT_MESH, mk(f, len), 2 * SEC);
	CHECK(pop(MG_PORT_MESH, out) == 0 && pop(MG_PORT_LAN, out) == 0);

	/* a reply addressed to us is learned as confirmed */
	len = build_arp(f, our, host2_mac, 2, host2_mac, ip12, our, our_ip);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 3 * SEC);
	CHECK(mg_neigh_state_of(gw.neigh, MG_PORT_LAN, 4, ip12, &st) && st == MG_NEIGH_REACHABLE);
	CHECK(pop(MG_PORT_LAN, out) == 0, "replies are not answered");

	/* gratuitous ARP moves a known address, never creates one */
	len = build_arp(f, bcast, host2_mac, 1, host2_mac, host_ip, zero6, host_ip);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 4 * SEC);
	CHECK(mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 4, host_ip, &mac) &&
	          memcmp(&mac, host2_mac, 6) == 0,
	      "gratuitous ARP updated the entry");
	len = build_arp(f, bcast, host2_mac, 1, host2_mac, ip13, zero6, ip13);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 4 * SEC);
	CHECK(!mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 4, ip13, &mac));

	/* unicast to another station, and our own frame looped back: ignored */
	len = build_arp(f, host2_mac, host_mac, 1, host_mac, host_ip, zero6, our_ip);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 5 * SEC);
	len = build_arp(f, bcast, our, 1, our, our_ip, zero6, our_ip);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 5 * SEC);
	CHECK(pop(MG_PORT_LAN, out) == 0);

	/* malformed: counted, no reply */
	uint64_t bad = stats().arp_malformed;
	len = build_arp(f, bcast, host_mac, 1, host_mac, host_ip, zero6, our_ip);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, 30), 5 * SEC); /* truncated */
	f[18] = 8;                                                /* hardware length 8 */
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 5 * SEC);
	len = build_arp(f, bcast, host_mac, 1, bcast, host_ip, zero6, our_ip); /* sender bcast */
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 5 * SEC);
	len = build_arp(f, bcast, host_mac, 3, host_mac, host_ip, zero6, our_ip); /* RARP op */
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 5 * SEC);
	CHECK(stats().arp_malformed == bad + 4, "malformed %lu", stats().arp_malformed - bad);
	CHECK(pop(MG_PORT_LAN, out) == 0);
	mg_neigh_delete(gw.neigh, MG_PORT_LAN, 4, host_ip);
	mg_neigh_delete(gw.neigh, MG_PORT_LAN, 4, ip12);
}

/* Checks an NA the gateway sent; returns false (with details) on any wrong field. */
static void check_na(const uint8_t *out, size_t len, const uint8_t *eth_dst, const uint8_t *src,
                     const uint8_t *dst, uint8_t flags)
{
	const uint8_t *ip = out + 14, *icmp = ip + 40;

	CHECK(len == 14 + 40 + 32, "NA length %zu", len);
	if (len != 14 + 40 + 32)
		return;
	CHECK(memcmp(out, eth_dst, 6) == 0, "NA Ethernet destination");
	CHECK(memcmp(out + 6, &gw.ports[0].mac, 6) == 0 && out[12] == 0x86 && out[13] == 0xdd);
	CHECK(ip[0] == 0x60 && ip[4] == 0 && ip[5] == 32 && ip[6] == 58 && ip[7] == 255);
	CHECK(memcmp(ip + 8, src, 16) == 0, "NA source is the target");
	CHECK(memcmp(ip + 24, dst, 16) == 0, "NA destination");
	CHECK(icmp[0] == 136 && icmp[1] == 0 && icmp[4] == flags, "flags %#x", icmp[4]);
	CHECK(icmp[5] == 0 && icmp[6] == 0 && icmp[7] == 0);
	CHECK(memcmp(icmp + 8, src, 16) == 0, "target");
	CHECK(icmp[24] == 2 && icmp[25] == 1 && memcmp(icmp + 26, &gw.ports[0].mac, 6) == 0,
	      "target link-layer option");
	CHECK(icmp6_ok(ip), "NA checksum");
}

static void test_nd(void)
{
	const uint8_t *our = gw.ports[0].mac.addr_bytes;
	uint8_t f[256], out[2048], sn[16], sn_mac[6], ll[16] = {0xfe, 0x80};
	static const uint8_t all_nodes[16] = {0xff, 2, [15] = 1}, unspec[16];
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	static const uint8_t other6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x99};
	struct rte_ether_addr mac;
	size_t len;
	uint64_t bad;

	/* EUI-64 by hand: flip the U/L bit, insert ff:fe */
	ll[8] = our[0] ^ 2;
	ll[9] = our[1];
	ll[10] = our[2];
	ll[11] = 0xff;
	ll[12] = 0xfe;
	memcpy(ll + 13, our + 3, 3);
	uint8_t got_ll[16];
	mg_neigh_link_local(&gw.ports[0].mac, got_ll);
	CHECK(memcmp(ll, got_ll, 16) == 0, "EUI-64 link-local");

	/* NS for our global address, multicast to its solicited-node group */
	solicited(our_ip6, sn, sn_mac);
	len = build_nd(f, sn_mac, host_mac, host_ip6, sn, 255, 135, 0, our_ip6, 1, host_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 10 * SEC);
	len = pop(MG_PORT_LAN, out);
	check_na(out, len, host_mac, our_ip6, host_ip6, 0x60);
	CHECK(mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 6, host_ip6, &mac) &&
	          memcmp(&mac, host_mac, 6) == 0,
	      "NS source learned");

	/* NS for our link-local address, from a link-local address */
	solicited(ll, sn, sn_mac);
	len = build_nd(f, sn_mac, host2_mac, host_ll6, sn, 255, 135, 0, ll, 1, host2_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 10 * SEC);
	len = pop(MG_PORT_LAN, out);
	check_na(out, len, host2_mac, ll, host_ll6, 0x60);

	/* unicast NS (a reachability probe) without option: answered to the frame's source */
	len = build_nd(f, our, host2_mac, host_ll6, ll, 255, 135, 0, ll, 0, NULL);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 10 * SEC);
	len = pop(MG_PORT_LAN, out);
	check_na(out, len, host2_mac, ll, host_ll6, 0x60);

	/* DAD probe for our address: defended to all nodes, not solicited */
	solicited(our_ip6, sn, sn_mac);
	len = build_nd(f, sn_mac, host2_mac, unspec, sn, 255, 135, 0, our_ip6, 0, NULL);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 10 * SEC);
	len = pop(MG_PORT_LAN, out);
	check_na(out, len, all_nodes_mac, our_ip6, all_nodes, 0x20);

	/* NS for someone else: no answer */
	solicited(other6, sn, sn_mac);
	len = build_nd(f, sn_mac, host_mac, host_ip6, sn, 255, 135, 0, other6, 1, host_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 10 * SEC);
	CHECK(pop(MG_PORT_LAN, out) == 0);

	/* invalid: hop limit, checksum, DAD with option, zero-length option, truncation */
	bad = stats().nd_malformed;
	solicited(our_ip6, sn, sn_mac);
	len = build_nd(f, sn_mac, host_mac, host_ip6, sn, 64, 135, 0, our_ip6, 1, host_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 10 * SEC);
	len = build_nd(f, sn_mac, host_mac, host_ip6, sn, 255, 135, 0, our_ip6, 1, host_mac);
	f[14 + 40 + 2] ^= 1;
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 10 * SEC);
	len = build_nd(f, sn_mac, host_mac, unspec, sn, 255, 135, 0, our_ip6, 1, host_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 10 * SEC);
	len = build_nd(f, sn_mac, host_mac, host_ip6, sn, 255, 135, 0, our_ip6, 1, host_mac);
	f[14 + 40 + 25] = 0;
	icmp6_fill_checksum(f + 14);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 10 * SEC);
	len = build_nd(f, sn_mac, host_mac, host_ip6, sn, 255, 135, 0, our_ip6, 1, host_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len - 10), 10 * SEC);
	CHECK(stats().nd_malformed == bad + 5, "nd malformed %lu", stats().nd_malformed - bad);
	CHECK(pop(MG_PORT_LAN, out) == 0, "no answer to invalid NS");

	/* NA: updates only tracked entries; override rules */
	static const uint8_t new_mac[6] = {0x02, 0, 0, 0, 0, 0x77};
	len = build_nd(f, our, new_mac, other6, host_ip6, 255, 136, 0x40, other6, 2, new_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 11 * SEC);
	CHECK(!mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 6, other6, &mac), "untracked NA ignored");
	len = build_nd(f, our, new_mac, host_ip6, our_ip6, 255, 136, 0x40, host_ip6, 2, new_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 11 * SEC);
	CHECK(mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 6, host_ip6, &mac) &&
	          memcmp(&mac, host_mac, 6) == 0,
	      "NA without override keeps the MAC");
	len = build_nd(f, our, new_mac, host_ip6, our_ip6, 255, 136, 0x60, host_ip6, 2, new_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 11 * SEC);
	CHECK(mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 6, host_ip6, &mac) &&
	          memcmp(&mac, new_mac, 6) == 0,
	      "NA with override replaces the MAC");
	/* solicited flag on a multicast NA is invalid */
	bad = stats().nd_malformed;
	len = build_nd(f, all_nodes_mac, new_mac, host_ip6, all_nodes, 255, 136, 0x60, host_ip6, 2,
	               new_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 11 * SEC);
	CHECK(stats().nd_malformed == bad + 1);
	/* router advertisement: ignored, not malformed */
	len = build_nd(f, all_nodes_mac, new_mac, host_ll6, all_nodes, 255, 134, 0, host_ip6, 0,
	               NULL);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 11 * SEC);
	CHECK(stats().nd_malformed == bad + 1);
	mg_neigh_delete(gw.neigh, MG_PORT_LAN, 6, host_ip6);
	mg_neigh_delete(gw.neigh, MG_PORT_LAN, 6, host_ll6);
	drain(MG_PORT_LAN);
}

static void test_fuzz(void)
{
	uint8_t base[2][128], f[128], sn[16], sn_mac[6];
	size_t blen[2];
	struct mg_neigh_stats before = stats(), after;
	unsigned avail = rte_mempool_avail_count(gw.ports[0].pool);
	const unsigned iters = 20000;

	blen[0] = build_arp(base[0], bcast, host_mac, 1, host_mac, host_ip, zero6, our_ip);
	solicited(our_ip6, sn, sn_mac);
	blen[1] =
	    build_nd(base[1], sn_mac, host_mac, host_ip6, sn, 255, 135, 0, our_ip6, 1, host_mac);
	for (unsigned i = 0; i < iters; i++) {
		uint32_t r[4];
		unsigned k = i & 1;
		size_t len = blen[k];

		test_rng(&rng_state, r, sizeof(r));
		memcpy(f, base[k], len);
		for (unsigned j = 0; j < 1 + r[0] % 4; j++)
			f[(r[1] >> (j * 8)) % len] ^= (uint8_t)(1u << (r[2] >> (j * 3) & 7));
		if (r[3] % 3 == 0)
			len = r[3] % (len + 1);
		if (k == 0)
			mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), 20 * SEC);
		else
			mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), 20 * SEC);
		/* whatever goes out must be well formed */
		uint8_t out[2048];
		size_t olen;
		while ((olen = pop(MG_PORT_LAN, out)) != 0) {
			if (out[12] == 0x86)
				CHECK(olen == 86 && icmp6_ok(out + 14), "fuzz NA valid");
			else
				CHECK(olen == 42 && out[21] == 2, "fuzz ARP reply valid");
		}
	}
	after = stats();
	CHECK(after.arp_rx - before.arp_rx == iters / 2 && after.nd_rx - before.nd_rx == iters / 2);
	CHECK(after.arp_malformed > before.arp_malformed + iters / 20, "arp malformed %lu",
	      after.arp_malformed - before.arp_malformed);
	CHECK(after.nd_malformed > before.nd_malformed + iters / 4, "nd malformed %lu",
	      after.nd_malformed - before.nd_malformed);
	CHECK(after.entries <= 64, "bounded table");
	CHECK(rte_mempool_avail_count(gw.ports[0].pool) == avail, "no mbuf leaked (%u vs %u)",
	      rte_mempool_avail_count(gw.ports[0].pool), avail);
	/* mutated source addresses were learned: start the next tests from an empty table */
	mg_neigh_free(gw.neigh);
	gw.neigh = mg_neigh_create(64, SOCKET_ID_ANY);
	if (gw.neigh == NULL)
		abort();
}

static void test_resolve_and_age(void)
{
	const uint8_t *our = gw.ports[0].mac.addr_bytes;
	static const uint8_t ip20[4] = {192, 0, 2, 20}, ip21[4] = {192, 0, 2, 21};
	static const uint8_t t6[16] = {0x20, 0x01, 0x0d, 0xb8, [13] = 0xab, 0xcd, 0xef};
	uint8_t f[256], out[2048], sn[16], sn_mac[6];
	struct rte_ether_addr mac;
	enum mg_neigh_state st;
	uint64_t t = 100 * SEC, rl;
	size_t len;

	CHECK(mg_neigh_resolve(&gw, MG_PORT_LAN, 4, ip20, t) == 0);
	len = pop(MG_PORT_LAN, out);
	CHECK(len == 42 && memcmp(out, bcast, 6) == 0 && memcmp(out + 6, our, 6) == 0);
	CHECK(out[21] == 1 && memcmp(out + 22, our, 6) == 0 && memcmp(out + 28, our_ip, 4) == 0 &&
	          memcmp(out + 32, zero6, 6) == 0 && memcmp(out + 38, ip20, 4) == 0,
	      "ARP request");
	CHECK(!mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 4, ip20, &mac), "incomplete misses");
	CHECK(mg_neigh_state_of(gw.neigh, MG_PORT_LAN, 4, ip20, &st) && st == MG_NEIGH_INCOMPLETE);
	rl = stats().rate_limited;
	for (int i = 0; i < 10; i++)
		mg_neigh_resolve(&gw, MG_PORT_LAN, 4, ip20, t + SEC / 2);
	CHECK(pop(MG_PORT_LAN, out) == 0, "rate limited");
	CHECK(stats().rate_limited == rl + 10);
	mg_neigh_resolve(&gw, MG_PORT_LAN, 4, ip20, t + SEC);
	CHECK(pop(MG_PORT_LAN, out) == 42, "retry after the interval");

	/* the answer completes it */
	len = build_arp(f, our, host_mac, 2, host_mac, ip20, our, our_ip);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), t + SEC);
	CHECK(mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 4, ip20, &mac) &&
	      memcmp(&mac, host_mac, 6) == 0);
	CHECK(mg_neigh_resolve(&gw, MG_PORT_LAN, 4, ip20, t + 2 * SEC) == 0);
	CHECK(pop(MG_PORT_LAN, out) == 0, "resolved entries send nothing");

	/* IPv6: NS to the solicited-node group with our link-layer option */
	CHECK(mg_neigh_resolve(&gw, MG_PORT_LAN, 6, t6, t) == 0);
	len = pop(MG_PORT_LAN, out);
	solicited(t6, sn, sn_mac);
	CHECK(len == 86 && memcmp(out, sn_mac, 6) == 0, "NS to 33:33:ff:ab:cd:ef");
	CHECK(memcmp(out + 14 + 8, our_ip6, 16) == 0 && memcmp(out + 14 + 24, sn, 16) == 0);
	CHECK(out[14 + 7] == 255 && out[54] == 135 && out[54 + 24] == 1 &&
	      memcmp(out + 54 + 26, our, 6) == 0 && memcmp(out + 54 + 8, t6, 16) == 0);
	CHECK(icmp6_ok(out + 14), "NS checksum");
	len = build_nd(f, our, host_mac, t6, our_ip6, 255, 136, 0x60, t6, 2, host_mac);
	mg_neigh_input_nd(&gw, MG_PORT_LAN, mk(f, len), t);
	CHECK(mg_neigh_state_of(gw.neigh, MG_PORT_LAN, 6, t6, &st) && st == MG_NEIGH_REACHABLE);
	CHECK(mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 6, t6, &mac));
	mg_neigh_delete(gw.neigh, MG_PORT_LAN, 6, t6);

	/* unanswered resolution is forgotten */
	mg_neigh_resolve(&gw, MG_PORT_LAN, 4, ip21, t);
	drain(MG_PORT_LAN);
	mg_neigh_age(&gw, t + 2 * SEC);
	CHECK(mg_neigh_state_of(gw.neigh, MG_PORT_LAN, 4, ip21, &st));
	mg_neigh_age(&gw, t + 4 * SEC);
	CHECK(!mg_neigh_state_of(gw.neigh, MG_PORT_LAN, 4, ip21, &st), "incomplete expired");

	/* aging: confirmed at t+1 s; re-probed unicast after 30 s, then deleted */
	uint64_t c = t + SEC;
	mg_neigh_age(&gw, c + 29 * SEC);
	CHECK(pop(MG_PORT_LAN, out) == 0, "still reachable");
	mg_neigh_age(&gw, c + 30 * SEC);
	len = pop(MG_PORT_LAN, out);
	CHECK(len == 42 && memcmp(out, host_mac, 6) == 0 && out[21] == 1 &&
	          memcmp(out + 38, ip20, 4) == 0,
	      "unicast probe");
	CHECK(mg_neigh_state_of(gw.neigh, MG_PORT_LAN, 4, ip20, &st) && st == MG_NEIGH_PROBE);
	CHECK(mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 4, ip20, &mac), "usable while probing");
	mg_neigh_age(&gw, c + 30 * SEC + SEC / 2);
	CHECK(pop(MG_PORT_LAN, out) == 0, "one probe per interval");
	mg_neigh_age(&gw, c + 31 * SEC);
	mg_neigh_age(&gw, c + 32 * SEC);
	CHECK(drain(MG_PORT_LAN) == 2);
	uint64_t expired = stats().expired;
	mg_neigh_age(&gw, c + 33 * SEC);
	CHECK(!mg_neigh_lookup(gw.neigh, MG_PORT_LAN, 4, ip20, &mac), "expired");
	CHECK(stats().expired == expired + 1);

	/* an answer to a probe makes it reachable again */
	mg_neigh_update(gw.neigh, MG_PORT_LAN, 4, ip20, (const void *)host_mac, c);
	mg_neigh_age(&gw, c + 30 * SEC);
	drain(MG_PORT_LAN);
	len = build_arp(f, our, host_mac, 2, host_mac, ip20, our, our_ip);
	mg_neigh_input_arp(&gw, MG_PORT_LAN, mk(f, len), c + 30 * SEC);
	CHECK(mg_neigh_state_of(gw.neigh, MG_PORT_LAN, 4, ip20, &st) && st == MG_NEIGH_REACHABLE);
	mg_neigh_age(&gw, c + 45 * SEC);
	CHECK(pop(MG_PORT_LAN, out) == 0);
	mg_neigh_delete(gw.neigh, MG_PORT_LAN, 4, ip20);

	/* no IPv4 address on the port: cannot resolve IPv4 there */
	addrs.ports[0].has_ipv4 = false;
	CHECK(mg_neigh_resolve(&gw, MG_PORT_LAN, 4, ip21, t) == -1);
	addrs.ports[0].has_ipv4 = true;
}

static void test_table(void)
{
	struct mg_neigh *n = mg_neigh_create(64, SOCKET_ID_ANY);
	struct rte_ether_addr mac, m = {{0x02, 1, 2, 3, 4, 5}};
	struct mg_neigh_stats s;
	uint8_t a[16] = {10, 0, 0, 1};

	CHECK(n != NULL);
	CHECK(mg_neigh_create(0, SOCKET_ID_ANY) == NULL);
	CHECK(mg_neigh_update(n, 0, 4, a, &m, 1) == 0);
	CHECK(mg_neigh_lookup(n, 0, 4, a, &mac) && rte_is_same_ether_addr(&mac, &m));
	CHECK(!mg_neigh_lookup(n, 0, 6, a, &mac), "family is part of the key");
	CHECK(!mg_neigh_lookup(n, 1, 4, a, &mac), "port is part of the key");
	CHECK(!mg_neigh_lookup(n, 0, 5, a, &mac) && !mg_neigh_lookup(n, 9, 4, a, &mac));
	struct rte_ether_addr mcast = {{0x01, 0, 0x5e, 0, 0, 1}};
	CHECK(mg_neigh_update(n, 0, 4, a, &mcast, 1) == -1, "multicast MAC refused");
	/* bounded: 1000 distinct addresses keep at most 64; the newest are all present */
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t b[4] = {10, 1, (uint8_t)(i >> 8), (uint8_t)i};
		m.addr_bytes[5] = (uint8_t)i;
		mg_neigh_update(n, 0, 4, b, &m, 1000 + i);
	}
	mg_neigh_stats(n, &s);
	CHECK(s.entries == 64 && s.evicted == 1000 + 1 - 64, "entries %lu evicted %lu", s.entries,
	      s.evicted);
	unsigned found = 0;
	for (uint32_t i = 1000 - 32; i < 1000; i++) {
		uint8_t b[4] = {10, 1, (uint8_t)(i >> 8), (uint8_t)i};
		found += mg_neigh_lookup(n, 0, 4, b, &mac) && mac.addr_bytes[5] == (uint8_t)i;
	}
	CHECK(found == 32, "newest kept: %u", found);
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t b[4] = {10, 1, (uint8_t)(i >> 8), (uint8_t)i};
		mg_neigh_delete(n, 0, 4, b);
	}
	mg_neigh_stats(n, &s);
	CHECK(s.entries == 0);
	mg_neigh_free(n);

	/* next hops */
	uint8_t nh[16], d[4] = {192, 0, 2, 77}, off[4] = {8, 8, 8, 8};
	CHECK(mg_neigh_next_hop(&addrs.ports[0], 4, d, nh) && memcmp(nh, d, 4) == 0, "on-link");
	CHECK(!mg_neigh_next_hop(&addrs.ports[0], 4, off, nh), "off-link without gateway");
	addrs.ports[0].has_gateway4 = true;
	memcpy(addrs.ports[0].gateway4, (uint8_t[]){192, 0, 2, 254}, 4);
	CHECK(mg_neigh_next_hop(&addrs.ports[0], 4, off, nh) && nh[3] == 254, "via gateway");
	addrs.ports[0].has_gateway4 = false;
	CHECK(mg_neigh_next_hop(&addrs.ports[0], 6, host_ll6, nh) && memcmp(nh, host_ll6, 16) == 0);
}

/* ---- one writer, lock-free readers ---- */

#define CONC_KEYS 48

static struct mg_neigh *conc;
static atomic_bool conc_stop;
static atomic_ulong conc_hits, conc_wrong;

/* Every MAC the writer publishes for key k carries k in byte 1: a reader that ever sees a MAC
 * with another key's mark, or a torn one, has read across an update. */
static void conc_mac(uint32_t k, uint32_t gen, struct rte_ether_addr *m)
{
	*m = (struct rte_ether_addr){
	    {0x02, (uint8_t)k, (uint8_t)gen, (uint8_t)(gen >> 8), (uint8_t)k, (uint8_t)(k ^ gen)}};
}

static void *conc_reader(void *arg)
{
	unsigned long hits = 0, wrong = 0;

	(void)arg;
	while (!atomic_load(&conc_stop)) {
		for (uint32_t k = 0; k < CONC_KEYS; k++) {
			uint8_t a[16] = {0xfd, 0, [14] = (uint8_t)(k >> 8), (uint8_t)k};
			struct rte_ether_addr m;

			if (!mg_neigh_lookup(conc, 1, 6, a, &m))
				continue;
			hits++;
			if (m.addr_bytes[0] != 2 || m.addr_bytes[1] != k || m.addr_bytes[4] != k ||
			    m.addr_bytes[5] != (uint8_t)(k ^ m.addr_bytes[2]))
				wrong++;
		}
	}
	atomic_fetch_add(&conc_hits, hits);
	atomic_fetch_add(&conc_wrong, wrong);
	return NULL;
}

static void test_concurrent(void)
{
	pthread_t th;
	struct rte_ether_addr m;

	/* small table so deletes, tombstones and slot reuse happen all the time */
	conc = mg_neigh_create(CONC_KEYS / 2, SOCKET_ID_ANY);
	CHECK(pthread_create(&th, NULL, conc_reader, NULL) == 0);
	for (uint32_t gen = 0; gen < 200000; gen++) {
		uint32_t k = (gen * 7) % CONC_KEYS;
		uint8_t a[16] = {0xfd, 0, [14] = (uint8_t)(k >> 8), (uint8_t)k};

		if (gen % 5 == 0) {
			mg_neigh_delete(conc, 1, 6, a);
			continue;
		}
		conc_mac(k, gen, &m);
		mg_neigh_update(conc, 1, 6, a, &m, gen);
	}
	atomic_store(&conc_stop, true);
	pthread_join(th, NULL);
	CHECK(atomic_load(&conc_hits) > 1000, "reader hits %lu", atomic_load(&conc_hits));
	CHECK(atomic_load(&conc_wrong) == 0, "torn or foreign MACs: %lu", atomic_load(&conc_wrong));
	mg_neigh_free(conc);
}

/* The EAL's runtime directory must be gone once the process has exited. */
static int check_no_runtime_files(pid_t child)
{
	char path[512];
	DIR *d;

	snprintf(path, sizeof(path), "/var/run/dpdk/mg_neigh_%d", (int)child);
	if (getuid() != 0) {
		const char *xdg = getenv("XDG_RUNTIME_DIR");

		snprintf(path, sizeof(path), "%s/dpdk/mg_neigh_%d", xdg ? xdg : "/tmp", (int)child);
	}
	d = opendir(path);
	CHECK(d == NULL, "runtime dir %s left behind", path);
	if (d)
		closedir(d);
	return check_done("neigh (runtime files)");
}

static int run(void)
{
	setup();
	test_arp();
	test_nd();
	test_fuzz();
	test_resolve_and_age();
	test_table();
	test_concurrent();
	CHECK(drain(MG_PORT_LAN) == 0 && drain(MG_PORT_MESH) == 0, "no stray frames");
	mg_neigh_free(gw.neigh);
	mg_ports_stop(&gw);
	CHECK(gw.ports[0].pool == NULL && gw.ports[1].pool == NULL);
	mg_ports_stop(&gw); /* idempotent */
	mg_eal_fini();
	return check_done("neigh");
}

int main(int argc, char **argv)
{
	pid_t child;
	int status;

	(void)argc;
	(void)argv;
	/* the tests run in a child so that its exit handlers have run when the parent looks for
	 * leftovers, as after a gateway's SIGTERM */
	child = fork();
	if (child == 0)
		exit(run());
	if (child < 0 || waitpid(child, &status, 0) != child) {
		perror("fork");
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "neigh: tests failed (status %#x)\n", status);
		check_no_runtime_files(child);
		return 1;
	}
	return check_no_runtime_files(child);
}
