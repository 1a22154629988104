// SPDX-License-Identifier: GPL-2.0-only
/* Policy routing for an exit node (see exit_route.h). */
#include "exit_route.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define SRC_VALID_MARK "/proc/sys/net/ipv4/conf/all/src_valid_mark"

static int sysctl_get(const char *path)
{
	char buf[16] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC), v = -1;

	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) > 0 && sscanf(buf, "%d", &v) != 1)
		v = -1;
	close(fd);
	return v;
}

static int sysctl_set(const char *path, int v)
{
	char buf[16];
	int fd = open(path, O_WRONLY | O_CLOEXEC), n = snprintf(buf, sizeof(buf), "%d\n", v),
	    rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)n) != n)
		rc = -errno;
	close(fd);
	return rc;
}

void mg_exit_route_init(struct mg_exit_route *e, struct mg_rtnl *rtnl, int ifindex, bool allow_lan)
{
	memset(e, 0, sizeof(*e));
	e->rtnl = rtnl;
	e->ifindex = ifindex;
	e->allow_lan = allow_lan;
	e->src_valid_mark_old = -1;
}

static struct mg_prefix default_route(int family)
{
	struct mg_prefix p;

	memset(&p, 0, sizeof(p));
	p.family = (uint8_t)family;
	return p;
}

static void rules(int family, struct mg_rtnl_rule *lan, struct mg_rtnl_rule *tunnel)
{
	*lan = (struct mg_rtnl_rule){.family = family,
	                             .priority = MG_EXIT_PRIO_LAN,
	                             .table = 254 /* main */,
	                             .suppress_prefixlen = 0};
	*tunnel = (struct mg_rtnl_rule){.family = family,
	                                .priority = MG_EXIT_PRIO_TUNNEL,
	                                .table = MG_EXIT_TABLE,
	                                .fwmark = MG_EXIT_FWMARK,
	                                .not_fwmark = true,
	                                .suppress_prefixlen = -1};
}

/* Everything off for one family; errors only mean it was not there. */
static void family_off(struct mg_exit_route *e, int family)
{
	struct mg_rtnl_rule lan, tunnel;
	struct mg_prefix dflt = default_route(family);

	rules(family, &lan, &tunnel);
	/* The tunnel rule goes first: from then on nothing is routed into the table. */
	for (int i = 0; i < 16 && mg_rtnl_rule(e->rtnl, false, &tunnel) == 0; i++)
		;
	for (int i = 0; i < 16 && mg_rtnl_rule(e->rtnl, false, &lan) == 0; i++)
		;
	mg_rtnl_route_table(e->rtnl, false, e->ifindex, &dflt, MG_EXIT_TABLE);
	e->on[family == 4 ? 0 : 1] = false;
	if (family == 4 && e->src_valid_mark_old >= 0) {
		sysctl_set(SRC_VALID_MARK, e->src_valid_mark_old);
		e->src_valid_mark_old = -1;
	}
}

void mg_exit_route_reset(struct mg_exit_route *e)
{
	family_off(e, 4);
	family_off(e, 6);
}

int mg_exit_route_set(struct mg_exit_route *e, int family, bool on)
{
	const char *fam = family == 4 ? "ipv4" : "ipv6";
	struct mg_rtnl_rule lan, tunnel;
	struct mg_prefix dflt = default_route(family);
	int rc;

	if (e->on[family == 4 ? 0 : 1] == on)
		return 0;
	if (!on) {
		family_off(e, family);
		mg_log(MG_LOG_NOTICE, "exit node off: the host's own default route again", "family",
		       fam, NULL);
		return 0;
	}
	rules(family, &lan, &tunnel);
	if (family == 4) {
		/* Replies to marked packets must pass the reverse-path check (wg-quick does so). */
		int old = sysctl_get(SRC_VALID_MARK);

		if (old == 0 && sysctl_set(SRC_VALID_MARK, 1) == 0)
			e->src_valid_mark_old = old;
	}
	rc = mg_rtnl_route_table(e->rtnl, true, e->ifindex, &dflt, MG_EXIT_TABLE);
	if (rc == 0 && e->allow_lan)
		rc = mg_rtnl_rule(e->rtnl, true, &lan);
	if (rc == 0)
		rc = mg_rtnl_rule(e->rtnl, true, &tunnel);
	if (rc != 0) {
		mg_log(MG_LOG_ERROR, "exit node routing not set up", "family", fam, "error",
		       strerror(-rc), NULL);
		family_off(e, family);
		return rc;
	}
	e->on[family == 4 ? 0 : 1] = true;
	mg_log(MG_LOG_NOTICE, "exit node on: default route through the tunnel", "family", fam,
	       "lan_access", e->allow_lan ? "yes" : "no", NULL);
	return 0;
}
