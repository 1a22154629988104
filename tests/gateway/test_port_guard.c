// SPDX-License-Identifier: GPL-2.0-only
/*
 * The port guard (control/port_guard.h) against a sysctl tree in a temporary directory and
 * made-up address lists: which devargs it guards, what it refuses before changing anything,
 * what it changes, what it logs and what it restores. No root, no namespace, no DPDK; the
 * e2e test test_forwarding_on.sh checks the same against the kernel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "port_guard.h"

static char root[256];

static void put(const char *family, const char *ifname, const char *key, const char *value)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/net/%s/conf/%s", root, family, ifname);
	mkdir(path, 0755); /* the parents exist; EEXIST is fine */
	snprintf(path, sizeof(path), "%s/net/%s/conf/%s/%s", root, family, ifname, key);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fprintf(f, "%s\n", value);
	fclose(f);
}

static int get(const char *family, const char *ifname, const char *key)
{
	char path[512], buf[16] = "";

	snprintf(path, sizeof(path), "%s/net/%s/conf/%s/%s", root, family, ifname, key);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] ? atoi(buf) : -1;
}

/* gm0: forwarding on, IPv6 on (a Docker host); gl0: both already off. */
static void reset_tree(void)
{
	put("ipv4", "gm0", "forwarding", "1");
	put("ipv6", "gm0", "disable_ipv6", "0");
	put("ipv4", "gl0", "forwarding", "0");
	put("ipv6", "gl0", "disable_ipv6", "1");
}

static void test_ifname(void)
{
	char name[IF_NAMESIZE], err[256];

	CHECK(mg_port_guard_ifname("net_af_packet0,iface=veth0,qpairs=2", name, sizeof(name), err,
	                           sizeof(err)) == 1 &&
	      strcmp(name, "veth0") == 0);
	CHECK(mg_port_guard_ifname("net_af_xdp1,start_queue=0,iface=gm0,queue_count=1", name,
	                           sizeof(name), err, sizeof(err)) == 1 &&
	      strcmp(name, "gm0") == 0);
	/* DPDK matches vdev drivers by prefix, and af_packet has an old alias. */
	CHECK(mg_port_guard_ifname("eth_af_packet_wan,iface=eth1.100", name, sizeof(name), err,
	                           sizeof(err)) == 1 &&
	      strcmp(name, "eth1.100") == 0);
	CHECK(mg_port_guard_ifname("net_af_packet", name, sizeof(name), err, sizeof(err)) == -1 &&
	      strstr(err, "iface=NAME"));
	/* No kernel interface shares these ports' MAC. */
	CHECK(mg_port_guard_ifname("0000:01:00.0", name, sizeof(name), err, sizeof(err)) == 0);
	CHECK(mg_port_guard_ifname("net_memif0,role=server,socket=/run/m.sock", name, sizeof(name),
	                           err, sizeof(err)) == 0);
	CHECK(mg_port_guard_ifname("net_ring0", name, sizeof(name), err, sizeof(err)) == 0);
	CHECK(mg_port_guard_ifname("net_tap0,iface=dtap0", name, sizeof(name), err, sizeof(err)) ==
	      0);
	/* Bad input: each a clear error. */
	CHECK(mg_port_guard_ifname("net_af_packet0,qpairs=2", name, sizeof(name), err,
	                           sizeof(err)) == -1 &&
	      strstr(err, "net_af_packet0,qpairs=2") && strstr(err, "iface="));
	CHECK(mg_port_guard_ifname("net_af_packet0,iface=a,iface=b", name, sizeof(name), err,
	                           sizeof(err)) == -1 &&
	      strstr(err, "twice"));
	const char *bad[] = {"net_af_packet0,iface=",    "net_af_packet0,iface=../../kernel",
	                     "net_af_packet0,iface=..",  "net_af_xdp0,iface=a b",
	                     "net_af_xdp0,iface=eth0:1", "net_af_packet0,iface=sixteen_bytes_xx"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(mg_port_guard_ifname(bad[i], name, sizeof(name), err, sizeof(err)) == -1 &&
		          strstr(err, "interface name"),
		      "%s: %s", bad[i], err);
	/* Empty arguments are skipped, not looped on. */
	CHECK(mg_port_guard_ifname("net_af_packet0,,iface=x,", name, sizeof(name), err,
	                           sizeof(err)) == 1 &&
	      strcmp(name, "x") == 0);
}

static const char *labels[] = {"lan", "mesh"};
static const char *devargs[] = {"net_af_packet0,iface=gl0,qpairs=2",
                                "net_af_xdp0,iface=gm0,start_queue=0,queue_count=1"};

static void test_apply_restore(FILE *logf)
{
	struct mg_port_guard g = {.sysctl_dir = root, .fake_addrs = true, .addrs = NULL};
	char err[512] = "";

	reset_tree();
	CHECK(mg_port_guard_apply(&g, labels, devargs, 2, err, sizeof(err)) == 0, "%s", err);
	CHECK(get("ipv4", "gm0", "forwarding") == 0);
	CHECK(get("ipv6", "gm0", "disable_ipv6") == 1);
	CHECK(get("ipv4", "gl0", "forwarding") == 0);
	CHECK(get("ipv6", "gl0", "disable_ipv6") == 1);

	/* One line, naming what changed and what was already right. */
	char line[MG_LOG_LINE_MAX] = "";
	fflush(logf);
	rewind(logf);
	while (fgets(line, sizeof(line), logf) && !strstr(line, "msg=\"port guard\""))
		;
	CHECK(strstr(line, "msg=\"port guard\"") &&
	          strstr(line, "changed=\"mesh gm0: ipv4 forwarding on->off ipv6 on->off\"") &&
	          strstr(line, "already_off=\"lan gl0\""),
	      "%s", line);

	mg_port_guard_restore(&g);
	CHECK(get("ipv4", "gm0", "forwarding") == 1);
	CHECK(get("ipv6", "gm0", "disable_ipv6") == 0);
	CHECK(get("ipv4", "gl0", "forwarding") == 0, "never touched: stays off");
	CHECK(get("ipv6", "gl0", "disable_ipv6") == 1);
	mg_port_guard_restore(&g); /* idempotent */
	CHECK(get("ipv4", "gm0", "forwarding") == 1);

	/* A value someone else changed while the gateway ran is theirs: left alone. */
	reset_tree();
	CHECK(mg_port_guard_apply(&g, labels, devargs, 2, err, sizeof(err)) == 0, "%s", err);
	put("ipv6", "gm0", "disable_ipv6", "0");
	mg_port_guard_restore(&g);
	CHECK(get("ipv4", "gm0", "forwarding") == 1);
	CHECK(get("ipv6", "gm0", "disable_ipv6") == 0);

	/* Only the kernel-backed ports are guarded. */
	const char *memif[] = {"net_memif0,role=server", "net_af_packet1,iface=gm0"};
	reset_tree();
	CHECK(mg_port_guard_apply(&g, labels, memif, 2, err, sizeof(err)) == 0, "%s", err);
	CHECK(g.n == 1 && strcmp(g.ifaces[0].port, "mesh") == 0);
	mg_port_guard_restore(&g);

	/* A kernel without IPv6 (ipv6.disable=1 has no net/ipv6): IPv4 alone is guarded. */
	char path[512];
	snprintf(path, sizeof(path), "%s/net/ipv6/conf/gm0/disable_ipv6", root);
	unlink(path);
	CHECK(mg_port_guard_apply(&g, labels, devargs, 2, err, sizeof(err)) == 0, "%s", err);
	CHECK(get("ipv4", "gm0", "forwarding") == 0);
	CHECK(g.ifaces[1].disable_ipv6 == -1 && !g.ifaces[1].set_disable_ipv6);
	mg_port_guard_restore(&g);
	CHECK(get("ipv4", "gm0", "forwarding") == 1);
}

static struct sockaddr_in sa4(const char *text)
{
	struct sockaddr_in s = {.sin_family = AF_INET};
	inet_pton(AF_INET, text, &s.sin_addr);
	return s;
}

static struct sockaddr_in6 sa6(const char *text)
{
	struct sockaddr_in6 s = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, text, &s.sin6_addr);
	return s;
}

/* Refusals leave every setting as it was. */
static void expect_refused(struct mg_port_guard *g, const char *const *args, const char *want)
{
	char err[512] = "";

	reset_tree();
	CHECK(mg_port_guard_apply(g, labels, args, 2, err, sizeof(err)) == -1 && strstr(err, want),
	      "want '%s', got '%s'", want, err);
	CHECK(get("ipv4", "gm0", "forwarding") == 1 && get("ipv6", "gm0", "disable_ipv6") == 0,
	      "changed before refusing: %s", err);
	mg_port_guard_restore(g);
}

static void test_refusals(void)
{
	struct sockaddr_in mgmt = sa4("192.0.2.21"), own = sa4("192.0.2.1");
	struct sockaddr_in6 ll = sa6("fe80::1"), ula = sa6("fd10:a::1");
	/* mgmt0 holds an address (fine: not a port); gm0 a link-local one (comes and goes with
	 * IPv6). */
	struct ifaddrs a_ll = {.ifa_name = (char *)"gm0", .ifa_addr = (struct sockaddr *)&ll};
	struct ifaddrs a_mgmt = {
	    .ifa_next = &a_ll, .ifa_name = (char *)"mgmt0", .ifa_addr = (struct sockaddr *)&mgmt};
	struct mg_port_guard g = {.sysctl_dir = root, .fake_addrs = true, .addrs = &a_mgmt};
	char err[512] = "";

	reset_tree();
	CHECK(mg_port_guard_apply(&g, labels, devargs, 2, err, sizeof(err)) == 0, "%s", err);
	mg_port_guard_restore(&g);

	struct ifaddrs a_own = {.ifa_name = (char *)"gm0", .ifa_addr = (struct sockaddr *)&own};
	g.addrs = &a_own;
	expect_refused(&g, devargs, "interface gm0 holds the address 192.0.2.1");
	expect_refused(&g, devargs, "ip addr flush dev gm0");
	struct ifaddrs a_alias = {.ifa_name = (char *)"gm0:1", .ifa_addr = (struct sockaddr *)&own};
	g.addrs = &a_alias;
	expect_refused(&g, devargs, "holds the address 192.0.2.1");
	/* gm01 is another interface. */
	struct ifaddrs a_other = {.ifa_name = (char *)"gm01", .ifa_addr = (struct sockaddr *)&own};
	g.addrs = &a_other;
	reset_tree();
	CHECK(mg_port_guard_apply(&g, labels, devargs, 2, err, sizeof(err)) == 0, "%s", err);
	mg_port_guard_restore(&g);
	/* Turning IPv6 off would delete this one for good. */
	struct ifaddrs a_ula = {.ifa_name = (char *)"gl0", .ifa_addr = (struct sockaddr *)&ula};
	g.addrs = &a_ula;
	expect_refused(&g, devargs, "port lan: interface gl0 holds the address fd10:a::1");

	g.addrs = NULL;
	const char *missing[] = {"net_af_packet0,iface=nosuch0", devargs[1]};
	expect_refused(&g, missing, "port lan: no interface nosuch0");
	const char *twice[] = {"net_af_packet0,iface=gm0", devargs[1]};
	expect_refused(&g, twice, "ports lan and mesh both use interface gm0");
	const char *noiface[] = {devargs[0], "net_af_xdp0,queue_count=1"};
	expect_refused(&g, noiface, "port mesh: devargs 'net_af_xdp0,queue_count=1'");
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/mg-port-guard.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	char path[512];
	const char *dirs[] = {"net", "net/ipv4", "net/ipv4/conf", "net/ipv6", "net/ipv6/conf"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		mkdir(path, 0755);
	}
	FILE *logf = tmpfile();
	if (!logf) {
		perror("tmpfile");
		return 1;
	}
	mg_log_set_output(logf);

	test_ifname();
	test_apply_restore(logf);
	test_refusals();

	mg_log_set_output(NULL);
	fclose(logf);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_done("port_guard");
}
