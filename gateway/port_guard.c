// SPDX-License-Identifier: GPL-2.0-only
/*
 * The port guard (port_guard.h): per-interface sysctls and an address check for the gateway's
 * af_packet and af_xdp ports.
 *
 * About af_xdp: without xdp_prog=, the DPDK 22.11 PMD lets libxdp (Debian's build links it)
 * load its default program, which redirects every frame arriving on a queue that has an XDP
 * socket bound (bpf_redirect_map(xsks_map, rx_queue_index, XDP_PASS)) and passes the rest to
 * the kernel. Frames on the bound queues never reach the kernel, so on a one-queue veth the
 * program alone keeps the kernel out of the receive path. On a NIC with more queues than
 * start_queue/queue_count cover, or with a custom xdp_prog= that returns XDP_PASS, the kernel
 * gets its share again; the guard therefore treats af_xdp ports as it treats af_packet ones.
 */
#include "port_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "errbuf.h"

static const char *const kernel_drivers[] = {"net_af_packet", "eth_af_packet", "net_af_xdp"};

/* The guard whose settings exit(3) restores (rte_exit and other exits that skip the caller's
 * own restore). */
static struct mg_port_guard *active;

/* What dev_valid_name() in the kernel accepts; anything else would also escape /proc/sys. */
static bool valid_ifname(const char *s, size_t len)
{
	if (len == 0 || len >= IF_NAMESIZE)
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

int mg_port_guard_ifname(const char *devargs, char *ifname, size_t len, char *err, size_t errlen)
{
	const char *comma = strchr(devargs, ',');
	size_t nlen = comma ? (size_t)(comma - devargs) : strlen(devargs);
	bool kernel = false, found = false;

	for (size_t i = 0; i < sizeof(kernel_drivers) / sizeof(kernel_drivers[0]); i++) {
		size_t dlen = strlen(kernel_drivers[i]);
		kernel |= nlen >= dlen && strncmp(devargs, kernel_drivers[i], dlen) == 0;
	}
	if (!kernel)
		return 0;
	for (const char *p = comma; p; p = strchr(p + 1, ',')) {
		const char *key = p + 1, *end = strchr(key, ',');
		size_t klen = end ? (size_t)(end - key) : strlen(key);

		if (klen < 6 || strncmp(key, "iface=", 6) != 0)
			continue;
		if (found)
			return mg_err(err, errlen, "devargs '%s' give iface= twice", devargs);
		found = true;
		if (!valid_ifname(key + 6, klen - 6))
			return mg_err(err, errlen,
			              "devargs '%s': iface= needs an interface name of 1 to %d "
			              "bytes without '/', ':' or spaces",
			              devargs, IF_NAMESIZE - 1);
		if (klen - 6 >= len)
			return mg_err(err, errlen, "devargs '%s': interface name too long",
			              devargs);
		memcpy(ifname, key + 6, klen - 6);
		ifname[klen - 6] = '\0';
	}
	if (!found)
		return mg_err(err, errlen,
		              "devargs '%s' name no kernel interface (add iface=NAME: the port "
		              "guard and the PMD both need it)",
		              devargs);
	return 1;
}

static const char *sysctl_dir(const struct mg_port_guard *g)
{
	return g->sysctl_dir ? g->sysctl_dir : "/proc/sys";
}

static void sysctl_path(const struct mg_port_guard *g, char *buf, size_t len, const char *family,
                        const char *ifname, const char *key)
{
	snprintf(buf, len, "%s/net/%s/conf/%s%s%s", sysctl_dir(g), family, ifname, key ? "/" : "",
	         key ? key : "");
}

/* The value of a 0/1 sysctl: 0 or 1, -1 with errno set. */
static int read_flag(const char *path)
{
	char buf[32];
	FILE *f = fopen(path, "r");
	int v = -1;

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		char *end;
		long l = strtol(buf, &end, 10);
		if (end != buf && (*end == '\n' || *end == '\0') && l >= 0 && l <= 2)
			v = (int)l;
		else
			errno = EINVAL;
	}
	fclose(f);
	return v;
}

static int write_flag(const char *path, int v)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	/* The kernel reports a refused value when the file is flushed, not at fprintf. */
	if (fprintf(f, "%d\n", v) < 0) {
		int e = errno;
		fclose(f);
		errno = e;
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static bool link_local6(const struct in6_addr *a)
{
	return a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80;
}

/* ifa_name is the interface, or "iface:label" for an IPv4 alias. */
static bool same_iface(const char *ifa_name, const char *name)
{
	size_t n = strlen(name);
	return strncmp(ifa_name, name, n) == 0 && (ifa_name[n] == '\0' || ifa_name[n] == ':');
}

static int check_addresses(const struct mg_port_guard *g, const struct mg_port_guard_iface *it,
                           char *err, size_t errlen)
{
	struct ifaddrs *own = NULL;
	const struct ifaddrs *list = g->addrs;
	int rc = 0;

	if (!g->fake_addrs) {
		if (getifaddrs(&own) != 0)
			return mg_err(err, errlen, "port %s: cannot list the addresses of %s: %s",
			              it->port, it->name, strerror(errno));
		list = own;
	}
	for (const struct ifaddrs *a = list; a && rc == 0; a = a->ifa_next) {
		char text[INET6_ADDRSTRLEN] = "";

		if (!a->ifa_addr || !a->ifa_name || !same_iface(a->ifa_name, it->name))
			continue;
		if (a->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *s = (const void *)a->ifa_addr;
			inet_ntop(AF_INET, &s->sin_addr, text, sizeof(text));
		} else if (a->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s = (const void *)a->ifa_addr;
			/* Comes with IPv6, goes with it, and comes back when it is restored. */
			if (link_local6(&s->sin6_addr))
				continue;
			inet_ntop(AF_INET6, &s->sin6_addr, text, sizeof(text));
		} else {
			continue;
		}
		rc =
		    mg_err(err, errlen,
		           "port %s: interface %s holds the address %s, but a gateway port's "
		           "interface must hold none: the PMD uses the interface's MAC, so the "
		           "kernel would answer ARP and traffic for %s beside the gateway. Remove "
		           "it (ip addr flush dev %s) and give the kernel an interface of its own, "
		           "as a management port",
		           it->port, it->name, text, text, it->name);
	}
	freeifaddrs(own);
	return rc;
}

/* Reads what the interface has now; fails when the namespace has no such interface. */
static int inspect(const struct mg_port_guard *g, struct mg_port_guard_iface *it, char *err,
                   size_t errlen)
{
	char path[512];
	struct stat st;

	sysctl_path(g, path, sizeof(path), "ipv4", it->name, NULL);
	if (stat(path, &st) != 0)
		return mg_err(err, errlen,
		              "port %s: no interface %s in the gateway's network namespace (%s: "
		              "%s)",
		              it->port, it->name, path, strerror(errno));
	sysctl_path(g, path, sizeof(path), "ipv4", it->name, "forwarding");
	it->forwarding = read_flag(path);
	if (it->forwarding < 0)
		return mg_err(err, errlen, "port %s: cannot read %s: %s", it->port, path,
		              strerror(errno));
	/* No net/ipv6 at all: the kernel was booted with ipv6.disable=1, nothing to turn off. */
	sysctl_path(g, path, sizeof(path), "ipv6", it->name, "disable_ipv6");
	it->disable_ipv6 = read_flag(path);
	if (it->disable_ipv6 < 0 && errno != ENOENT)
		return mg_err(err, errlen, "port %s: cannot read %s: %s", it->port, path,
		              strerror(errno));
	return 0;
}

static int change(const struct mg_port_guard *g, struct mg_port_guard_iface *it, char *err,
                  size_t errlen)
{
	char path[512];

	if (it->forwarding != 0) {
		sysctl_path(g, path, sizeof(path), "ipv4", it->name, "forwarding");
		if (write_flag(path, 0) != 0)
			return mg_err(err, errlen,
			              "port %s: cannot turn off IPv4 forwarding on %s (%s: %s); "
			              "the kernel would route every frame sent to the port back "
			              "out. Set it to 0 before starting the gateway",
			              it->port, it->name, path, strerror(errno));
		it->set_forwarding = true;
	}
	if (it->disable_ipv6 == 0) {
		sysctl_path(g, path, sizeof(path), "ipv6", it->name, "disable_ipv6");
		if (write_flag(path, 1) != 0)
			return mg_err(err, errlen,
			              "port %s: cannot turn off IPv6 on %s (%s: %s); the kernel "
			              "would claim the gateway's link-local address. Set it to 1 "
			              "before starting the gateway",
			              it->port, it->name, path, strerror(errno));
		it->set_disable_ipv6 = true;
	}
	return 0;
}

static void restore_at_exit(void)
{
	if (active)
		mg_port_guard_restore(active);
}

/* Appends to a fixed buffer, keeping it terminated; what does not fit is cut. */
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= size - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used = *used + (size_t)n < size ? *used + (size_t)n : size - 1;
}

static void log_applied(const struct mg_port_guard *g)
{
	char changed[512] = "", kept[512] = "";
	size_t c = 0, k = 0;

	for (size_t i = 0; i < g->n; i++) {
		const struct mg_port_guard_iface *it = &g->ifaces[i];
		const char *v6 = it->disable_ipv6 < 0 ? " (no IPv6 in the kernel)" : "";

		if (it->set_forwarding || it->set_disable_ipv6)
			append(changed, sizeof(changed), &c, "%s%s %s:%s%s%s", c ? "; " : "",
			       it->port, it->name,
			       it->set_forwarding ? " ipv4 forwarding on->off" : "",
			       it->set_disable_ipv6 ? " ipv6 on->off" : "", v6);
		else
			append(kept, sizeof(kept), &k, "%s%s %s%s", k ? "; " : "", it->port,
			       it->name, v6);
	}
	struct mg_log_line l;
	mg_log_begin(&l, MG_LOG_NOTICE, "port guard");
	mg_log_str(&l, "changed", c ? changed : "nothing");
	mg_log_str(&l, "already_off", k ? kept : "none");
	mg_log_str(&l, "restore", c ? "on exit" : "nothing");
	mg_log_end(&l);
}

int mg_port_guard_apply(struct mg_port_guard *g, const char *const labels[],
                        const char *const devargs[], size_t n, char *err, size_t errlen)
{
	static bool atexit_done;

	memset(g->ifaces, 0, sizeof(g->ifaces));
	g->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct mg_port_guard_iface *it = &g->ifaces[g->n];
		char e[256];
		int rc;

		if (g->n == MG_PORT_GUARD_MAX)
			return mg_err(err, errlen, "port guard: more than %d ports",
			              MG_PORT_GUARD_MAX);
		rc = mg_port_guard_ifname(devargs[i], it->name, sizeof(it->name), e, sizeof(e));
		if (rc < 0)
			return mg_err(err, errlen, "port %s: %s", labels[i], e);
		if (rc == 0)
			continue;
		snprintf(it->port, sizeof(it->port), "%s", labels[i]);
		for (size_t j = 0; j < g->n; j++)
			if (strcmp(g->ifaces[j].name, it->name) == 0)
				return mg_err(err, errlen,
				              "ports %s and %s both use interface %s; each port "
				              "needs its own",
				              g->ifaces[j].port, it->port, it->name);
		g->n++;
	}
	/* Everything is checked before anything is changed. */
	for (size_t i = 0; i < g->n; i++)
		if (inspect(g, &g->ifaces[i], err, errlen) != 0 ||
		    check_addresses(g, &g->ifaces[i], err, errlen) != 0)
			return -1;
	if (!atexit_done) {
		atexit(restore_at_exit);
		atexit_done = true;
	}
	active = g;
	for (size_t i = 0; i < g->n; i++) {
		if (change(g, &g->ifaces[i], err, errlen) != 0) {
			mg_port_guard_restore(g);
			return -1;
		}
	}
	if (g->n)
		log_applied(g);
	return 0;
}

/* Puts back one value the guard wrote, unless someone changed it since. */
static void put_back(const struct mg_port_guard *g, const struct mg_port_guard_iface *it,
                     const char *family, const char *key, int set, int old)
{
	char path[512], now[16];
	int cur;

	sysctl_path(g, path, sizeof(path), family, it->name, key);
	cur = read_flag(path);
	if (cur < 0 && errno == ENOENT)
		return; /* the interface is gone, and its settings with it */
	if (cur != set) {
		snprintf(now, sizeof(now), "%d", cur);
		mg_log(MG_LOG_WARNING, "port guard: left a setting changed since start-up", "port",
		       it->port, "path", path, "value", cur < 0 ? "unreadable" : now, NULL);
		return;
	}
	if (write_flag(path, old) != 0)
		mg_log(MG_LOG_WARNING, "port guard: cannot restore a setting", "port", it->port,
		       "path", path, "error", strerror(errno), NULL);
}

void mg_port_guard_restore(struct mg_port_guard *g)
{
	bool any = false;

	for (size_t i = 0; i < g->n; i++) {
		struct mg_port_guard_iface *it = &g->ifaces[i];

		if (it->set_forwarding)
			put_back(g, it, "ipv4", "forwarding", 0, it->forwarding);
		if (it->set_disable_ipv6)
			put_back(g, it, "ipv6", "disable_ipv6", 1, it->disable_ipv6);
		any |= it->set_forwarding || it->set_disable_ipv6;
		it->set_forwarding = it->set_disable_ipv6 = false;
	}
	if (any)
		mg_log(MG_LOG_NOTICE, "port guard: settings restored", NULL);
	if (active == g)
		active = NULL;
}
