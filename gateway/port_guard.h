/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The port guard keeps the kernel out of the path of the gateway's af_packet and af_xdp ports
 * (issue 18).
 *
 * Both PMDs drive an interface the kernel still owns and use that interface's own MAC, so the
 * kernel in the gateway's network namespace receives the frames sent to the port as well: with
 * af_packet every one of them, with af_xdp those that arrive on a queue the PMD has not bound.
 * On a host that forwards IPv4 (every Docker host, every router; a new namespace copies the
 * host's IPv4 settings) the kernel routes each of those frames back out, usually onto the same
 * segment, and the copies loop until their TTL runs out: about 55 per packet in the demo mesh,
 * which then ran at a twentieth of its speed. With IPv6 on, the kernel also claims the
 * link-local address the gateway derives from the same MAC, and sends router solicitations,
 * DAD and MLD from it.
 *
 * So at start-up, for each such port's interface, the guard
 *   - refuses the interface when it holds an IPv4 address or an IPv6 address other than
 *     link-local: the kernel would then be a second host behind the gateway's MAC, answering
 *     ARP and the traffic for that address beside the gateway, and turning IPv6 off would
 *     delete IPv6 addresses that turning it back on does not restore;
 *   - turns off IPv4 forwarding (net/ipv4/conf/IFACE/forwarding = 0): the kernel decides by the
 *     receiving interface, so the namespace's other interfaces keep forwarding;
 *   - turns off IPv6 (net/ipv6/conf/IFACE/disable_ipv6 = 1);
 * logs one line saying what it changed, and restores exactly what it changed on exit. A value
 * that is already right is not written, so a read-only /proc/sys is only an error when a value
 * must change. Settings are left as the guard set them after SIGKILL or a crash: the safe
 * state for a port, and a restart finds nothing to change.
 *
 * A later write to net.ipv4.ip_forward or net.ipv4.conf.all.forwarding (dockerd starting after
 * the gateway) sets every interface again, the port's included; the guard does not watch.
 *
 * Plain C on /proc/sys and getifaddrs(3), without DPDK: the devargs are parsed here, and tests
 * point the guard at a directory tree and an address list of their own.
 */
#ifndef MESHGATE_CONTROL_PORT_GUARD_H
#define MESHGATE_CONTROL_PORT_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include <ifaddrs.h>
#include <net/if.h>

#define MG_PORT_GUARD_MAX 4

struct mg_port_guard_iface {
	char port[16];          /* the config's name for the port: "lan", "mesh" */
	char name[IF_NAMESIZE]; /* the kernel interface */
	int forwarding;         /* found at start-up */
	int disable_ipv6;       /* found at start-up; -1: the kernel has no IPv6 */
	bool set_forwarding;    /* changed by the guard: restored on exit */
	bool set_disable_ipv6;
};

struct mg_port_guard {
	/* Set before mg_port_guard_apply, for tests: the sysctl tree ("/proc/sys" when NULL) and,
	 * with fake_addrs, the address list to check instead of getifaddrs(3)'s. */
	const char *sysctl_dir;
	bool fake_addrs;
	const struct ifaddrs *addrs;

	struct mg_port_guard_iface ifaces[MG_PORT_GUARD_MAX];
	size_t n;
};

/*
 * The kernel interface behind devargs: 1 with ifname filled for an af_packet or af_xdp port
 * (net_af_packet*, eth_af_packet*, net_af_xdp*, as DPDK matches vdev names by prefix), 0 for
 * any other port (PCI, memif, ring, tap: no kernel interface shares their MAC), -1 with err
 * when such a port names no interface, names one twice, or names one Linux would refuse.
 */
int mg_port_guard_ifname(const char *devargs, char *ifname, size_t len, char *err, size_t errlen);

/*
 * Guards the kernel-backed ports among n (labels[i], devargs[i]) pairs, as described above,
 * and logs what it changed. Returns 0, or -1 with err filled and nothing left changed. Call
 * mg_port_guard_restore either way; it is also run at exit(3) while the guard is applied.
 */
int mg_port_guard_apply(struct mg_port_guard *g, const char *const labels[],
                        const char *const devargs[], size_t n, char *err, size_t errlen);

/* Puts back what apply changed (unless something else changed it since). Idempotent. */
void mg_port_guard_restore(struct mg_port_guard *g);

#endif
