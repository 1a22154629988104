/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Access policy: groups of users, declared tags with their owners, ACL rules "src may reach dst
 * on ports", and route auto-approvers. Written in JSON or YAML (same structure), validated in
 * full before it is accepted. Identities: an untagged node is its user; a tagged node is its
 * tags only (it no longer speaks for the user who registered it).
 */
#ifndef MESHGATE_COORD_POLICY_H
#define MESHGATE_COORD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util.h"

/*
 * SEL_INTERNET is "autogroup:internet", a destination only: the addresses outside the mesh,
 * reached through an exit node. It matches no node, so it never makes nodes visible to each other.
 */
enum sel_kind { SEL_ALL, SEL_USER, SEL_GROUP, SEL_TAG, SEL_INTERNET };

struct policy_sel {
	enum sel_kind kind;
	char *name; /* "alice", "group:eng", "tag:server"; NULL for SEL_ALL */
};

struct policy_dst {
	struct policy_sel sel;
	char *ports; /* "*" or "22,443,8000-8100", validated */
};

struct policy_rule {
	struct policy_sel *src;
	size_t nsrc;
	struct policy_dst *dst;
	size_t ndst;
	int proto; /* enum filter_proto (filter.h); absent: any */
};

struct policy_group {
	char *name;
	char **users;
	size_t nusers;
};

struct policy_approver {
	struct mg_prefix prefix;
	bool exit_only; /* from exitNode: approves the /0 routes only, nothing inside them */
	struct policy_sel *sel;
	size_t nsel;
};

struct policy {
	struct policy_rule *rules;
	size_t nrules;
	struct policy_group *groups;
	size_t ngroups;
	char **tags; /* declared in tagOwners */
	size_t ntags;
	struct policy_approver *approvers;
	size_t napprovers;
	char *source; /* the text as uploaded */
	char format[8];
	int64_t version;
};

/* Who a node is, for matching. user is NULL for a tagged node. */
struct identity {
	const char *user;
	char *const *tags;
	size_t ntags;
};

typedef bool (*user_exists_fn)(void *ctx, const char *name);

/*
 * Parses and validates. format is "json", "yaml" or NULL (guess: JSON when the first
 * non-blank character is '{'). Every user named must satisfy user_exists. On failure returns
 * NULL and err says where and what ("acls[1].dst[0]: unknown tag 'tag:db'").
 */
struct policy *policy_parse(const char *text, size_t len, const char *format,
                            user_exists_fn user_exists, void *ctx, char *err, size_t errlen);
/* Everyone may reach everyone on every port: the policy in force until one is set. */
struct policy *policy_default(void);
void policy_free(struct policy *p);

bool policy_sel_matches(const struct policy *p, const struct policy_sel *s,
                        const struct identity *id);
bool policy_rule_src_matches(const struct policy *p, size_t rule, const struct identity *id);
bool policy_rule_dst_matches(const struct policy *p, size_t rule, const struct identity *id);
/* True when the rule's destinations include the internet: autogroup:internet or '*'. */
bool policy_rule_dst_internet(const struct policy *p, size_t rule);
/* True when some rule lets id reach the internet, i.e. use an exit node. */
bool policy_exit_allowed(const struct policy *p, const struct identity *id);
/* True when some auto-approver covering route lists a selector that id matches. */
bool policy_route_auto_approved(const struct policy *p, const struct mg_prefix *route,
                                const struct identity *id);
/* True when any part of the policy names this user (a user it names may not be deleted). */
bool policy_mentions_user(const struct policy *p, const char *user);
bool policy_has_tag(const struct policy *p, const char *tag);

#endif
