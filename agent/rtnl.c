// SPDX-License-Identifier: GPL-2.0-only
/* rtnetlink requests: build a message with attributes, send, read until the ack or dump end. */
#include "rtnl.h"

#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define REQ_SIZE 512
#define RX_SIZE  32768

/* One request: the header and its payload in a buffer that attributes are appended to. */
struct nl_req {
	union {
		struct nlmsghdr h;
		char raw[REQ_SIZE];
	};
};

int mg_rtnl_open(struct mg_rtnl *r)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = 5};

	r->seq = 1;
	r->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (r->fd < 0)
		return -errno;
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(r->fd);
		r->fd = -1;
		return -e;
	}
	return 0;
}

void mg_rtnl_close(struct mg_rtnl *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

static void *req_tail(struct nl_req *q)
{
	return q->raw + NLMSG_ALIGN(q->h.nlmsg_len);
}

static void req_attr(struct nl_req *q, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = req_tail(q);

	/* Sizes here are fixed and far below REQ_SIZE. */
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	q->h.nlmsg_len = NLMSG_ALIGN(q->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static void *req_init(struct mg_rtnl *r, struct nl_req *q, uint16_t type, uint16_t flags,
                      size_t fixed)
{
	memset(q, 0, sizeof(*q));
	q->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(fixed);
	q->h.nlmsg_type = type;
	q->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	q->h.nlmsg_seq = ++r->seq;
	return NLMSG_DATA(&q->h);
}

typedef int (*msg_fn)(void *ctx, const struct nlmsghdr *h);

/* Sends q and reads replies until the ack (or NLMSG_DONE for a dump); fn sees data messages. */
static int transact(struct mg_rtnl *r, struct nl_req *q, msg_fn fn, void *ctx)
{
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	char *buf;
	int rc = 0, stop = 0;

	if (sendto(r->fd, q, q->h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	buf = malloc(RX_SIZE);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = recv(r->fd, buf, RX_SIZE, 0);
		struct nlmsghdr *h;
		size_t left;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		left = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_seq != q->h.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					rc = -EPROTO;
				else if (rc == 0)
					rc = e->error;
				goto out;
			}
			if (fn && !stop && rc == 0)
				stop = fn(ctx, h);
		}
	}
out:
	free(buf);
	return rc;
}

int mg_rtnl_link_set(struct mg_rtnl *r, int ifindex, bool up, uint32_t mtu)
{
	struct nl_req q;
	struct ifinfomsg *ifi = req_init(r, &q, RTM_NEWLINK, NLM_F_ACK, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (mtu)
		req_attr(&q, IFLA_MTU, &mtu, sizeof(mtu));
	return transact(r, &q, NULL, NULL);
}

static unsigned char af_of(const struct mg_prefix *p)
{
	return p->family == 4 ? AF_INET : AF_INET6;
}

int mg_rtnl_addr(struct mg_rtnl *r, bool add, int ifindex, const struct mg_prefix *addr)
{
	struct nl_req q;
	struct ifaddrmsg *ifa =
	    req_init(r, &q, add ? RTM_NEWADDR : RTM_DELADDR,
	             NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0), sizeof(*ifa));
	size_t alen = addr->family == 4 ? 4 : 16;
	uint32_t flags = addr->family == 6 ? IFA_F_NODAD : 0;

	ifa->ifa_family = af_of(addr);
	ifa->ifa_prefixlen = addr->len;
	ifa->ifa_index = (unsigned)ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	req_attr(&q, IFA_LOCAL, addr->addr, alen);
	req_attr(&q, IFA_ADDRESS, addr->addr, alen);
	if (flags)
		req_attr(&q, IFA_FLAGS, &flags, sizeof(flags));
	return transact(r, &q, NULL, NULL);
}

int mg_rtnl_route(struct mg_rtnl *r, bool add, int ifindex, const struct mg_prefix *dst)
{
	return mg_rtnl_route_table(r, add, ifindex, dst, RT_TABLE_MAIN);
}

int mg_rtnl_route_table(struct mg_rtnl *r, bool add, int ifindex, const struct mg_prefix *dst,
                        uint32_t table)
{
	struct nl_req q;
	struct rtmsg *rtm =
	    req_init(r, &q, add ? RTM_NEWROUTE : RTM_DELROUTE,
	             NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0), sizeof(*rtm));
	uint32_t oif = (uint32_t)ifindex;

	rtm->rtm_family = af_of(dst);
	rtm->rtm_dst_len = dst->len;
	/* Tables above 255 exist only as the attribute. */
	rtm->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = MG_RTPROT;
	rtm->rtm_scope = dst->family == 4 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	if (dst->len)
		req_attr(&q, RTA_DST, dst->addr, dst->family == 4 ? 4 : 16);
	req_attr(&q, RTA_OIF, &oif, sizeof(oif));
	req_attr(&q, RTA_TABLE, &table, sizeof(table));
	return transact(r, &q, NULL, NULL);
}

int mg_rtnl_rule(struct mg_rtnl *r, bool add, const struct mg_rtnl_rule *rule)
{
	struct nl_req q;
	struct fib_rule_hdr *frh =
	    req_init(r, &q, add ? RTM_NEWRULE : RTM_DELRULE,
	             NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), sizeof(*frh));
	uint8_t proto = MG_RTPROT;

	frh->family = rule->family == 4 ? AF_INET : AF_INET6;
	frh->action = FR_ACT_TO_TBL;
	frh->table = rule->table < 256 ? (uint8_t)rule->table : RT_TABLE_UNSPEC;
	if (rule->not_fwmark)
		frh->flags |= FIB_RULE_INVERT;
	req_attr(&q, FRA_PRIORITY, &rule->priority, sizeof(rule->priority));
	req_attr(&q, FRA_TABLE, &rule->table, sizeof(rule->table));
	req_attr(&q, FRA_PROTOCOL, &proto, sizeof(proto));
	if (rule->fwmark) {
		uint32_t mask = 0xffffffffu;

		req_attr(&q, FRA_FWMARK, &rule->fwmark, sizeof(rule->fwmark));
		req_attr(&q, FRA_FWMASK, &mask, sizeof(mask));
	}
	if (rule->suppress_prefixlen >= 0) {
		uint32_t v = (uint32_t)rule->suppress_prefixlen;

		req_attr(&q, FRA_SUPPRESS_PREFIXLEN, &v, sizeof(v));
	}
	return transact(r, &q, NULL, NULL);
}

struct addr_walk {
	mg_rtnl_addr_fn fn;
	void *ctx;
};

static int addr_msg(void *ctx, const struct nlmsghdr *h)
{
	struct addr_walk *w = ctx;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	const struct rtattr *a;
	const void *local = NULL, *address = NULL;
	int len;

	if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return 0;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifa)));
	for (a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		size_t want = ifa->ifa_family == AF_INET ? 4 : 16;

		if (RTA_PAYLOAD(a) != want)
			continue;
		if (a->rta_type == IFA_LOCAL)
			local = RTA_DATA(a);
		else if (a->rta_type == IFA_ADDRESS)
			address = RTA_DATA(a);
	}
	if (!local)
		local = address;
	if (!local)
		return 0;
	struct mg_prefix p = {.family = ifa->ifa_family == AF_INET ? 4 : 6,
	                      .len = ifa->ifa_prefixlen};

	memcpy(p.addr, local, p.family == 4 ? 4 : 16);
	return w->fn(w->ctx, (int)ifa->ifa_index, &p, ifa->ifa_scope);
}

int mg_rtnl_list_addrs(struct mg_rtnl *r, mg_rtnl_addr_fn fn, void *ctx)
{
	struct nl_req q;
	struct ifaddrmsg *ifa = req_init(r, &q, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));
	struct addr_walk w = {fn, ctx};

	ifa->ifa_family = AF_UNSPEC;
	return transact(r, &q, addr_msg, &w);
}

struct route_walk {
	int ifindex;
	mg_rtnl_route_fn fn;
	void *ctx;
};

static int route_msg(void *ctx, const struct nlmsghdr *h)
{
	struct route_walk *w = ctx;
	const struct rtmsg *rtm = NLMSG_DATA(h);
	const struct rtattr *a;
	struct mg_prefix p;
	uint32_t table;
	int len, oif = 0;

	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return 0;
	if (rtm->rtm_protocol != MG_RTPROT ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return 0;
	memset(&p, 0, sizeof(p));
	p.family = rtm->rtm_family == AF_INET ? 4 : 6;
	p.len = rtm->rtm_dst_len;
	table = rtm->rtm_table;
	len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*rtm)));
	for (a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) == (p.family == 4 ? 4u : 16u))
			memcpy(p.addr, RTA_DATA(a), RTA_PAYLOAD(a));
		else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
			memcpy(&oif, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) == 4)
			memcpy(&table, RTA_DATA(a), 4);
	}
	if (oif != w->ifindex || table != RT_TABLE_MAIN)
		return 0;
	return w->fn(w->ctx, &p);
}

int mg_rtnl_list_routes(struct mg_rtnl *r, int ifindex, mg_rtnl_route_fn fn, void *ctx)
{
	struct nl_req q;
	struct rtmsg *rtm = req_init(r, &q, RTM_GETROUTE, NLM_F_DUMP, sizeof(*rtm));
	struct route_walk w = {ifindex, fn, ctx};

	rtm->rtm_family = AF_UNSPEC;
	return transact(r, &q, route_msg, &w);
}
