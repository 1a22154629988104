// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet filter on the gateway: the model's rules (node/filter.h), from the coordinator's
 * map or the static config, compiled by the control thread into the data plane's rte_acl
 * contexts (dataplane/acl.h) and swapped in whole; the workers never wait for a build.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_memory.h>

#include "acl.h"
#include "control.h"
#include "errbuf.h"
#include "log.h"

static void acl_free_deferred(struct mg_control *ctl, void *ptr)
{
	(void)ctl;
	mg_acl_free(ptr);
}

static enum mg_acl_proto acl_proto(enum mg_filter_proto p)
{
	switch (p) {
	case MG_FILTER_TCP:
		return MG_ACL_TCP;
	case MG_FILTER_UDP:
		return MG_ACL_UDP;
	case MG_FILTER_ICMP:
		return MG_ACL_ICMP;
	case MG_FILTER_ANY:
		break;
	}
	return MG_ACL_ANY;
}

/* The model's rules in the data plane's terms (its port ranges are its own type). */
static struct mg_acl *compile(const struct mg_filter *f, char *err, size_t errlen)
{
	struct mg_acl_rule *rules = calloc(f->n_rules + 1, sizeof(*rules));
	struct mg_acl_ports **ports = calloc(f->n_rules + 1, sizeof(*ports));
	struct mg_acl *acl = NULL;
	size_t i;

	if (!rules || !ports) {
		mg_err(err, errlen, "filter: no memory");
		goto out;
	}
	for (i = 0; i < f->n_rules; i++) {
		const struct mg_filter_rule *r = &f->rules[i];
		ports[i] = calloc(r->n_ports + 1, sizeof(**ports));
		if (!ports[i]) {
			mg_err(err, errlen, "filter: no memory");
			goto out;
		}
		for (size_t j = 0; j < r->n_ports; j++)
			ports[i][j] = (struct mg_acl_ports){r->ports[j].lo, r->ports[j].hi};
		rules[i] = (struct mg_acl_rule){.src = r->src,
		                                .n_src = r->n_src,
		                                .dst = r->dst,
		                                .n_dst = r->n_dst,
		                                .proto = acl_proto(r->proto),
		                                .ports = ports[i],
		                                .n_ports = r->n_ports};
	}
	acl = mg_acl_build(rules, f->n_rules, SOCKET_ID_ANY, err, errlen);
out:
	for (i = 0; ports && i < f->n_rules; i++)
		free(ports[i]);
	free(ports);
	free(rules);
	return acl;
}

static const char *source_name(enum mg_filter_source s)
{
	return s == MG_FILTER_COORD ? "coordinator" : s == MG_FILTER_CONFIG ? "config" : "none";
}

int mg_control_set_filter(struct mg_control *ctl, const struct mg_filter *f,
                          enum mg_filter_source source, char *err, size_t errlen)
{
	struct mg_filter copy = {0};
	struct mg_acl *acl = NULL;
	uint64_t t0 = mg_mono_ns();

	if (f) {
		acl = compile(f, err, errlen);
		if (!acl || mg_filter_copy(&copy, f) != 0) {
			if (acl)
				mg_err(err, errlen, "filter: no memory");
			mg_acl_free(acl);
			ctl->stats.filter_errors++;
			mg_log(MG_LOG_WARNING, "packet filter not installed; the old one stays",
			       "error", err, NULL);
			return -1;
		}
	}
	struct mg_acl *old = mg_gateway_publish_acl(&ctl->gw, acl);
	if (old)
		mg_control_defer(ctl, acl_free_deferred, old);
	mg_filter_free(&ctl->filter);
	ctl->filter = copy;
	ctl->filter_source = f ? source : MG_FILTER_NONE;
	ctl->filter_installed_ns = mg_wall_ns();
	ctl->stats.filter_changes++;

	struct mg_log_line l;
	mg_log_begin(&l, MG_LOG_INFO, f ? "packet filter installed" : "no packet filter");
	mg_log_str(&l, "source", source_name(ctl->filter_source));
	if (acl) {
		mg_log_u64(&l, "rules", f->n_rules);
		mg_log_u64(&l, "acl_rules_v4", acl->n_rules4);
		mg_log_u64(&l, "acl_rules_v6", acl->n_rules6);
		mg_log_str(&l, "acl_method", mg_acl_method(acl));
		mg_log_u64(&l, "build_us", (mg_mono_ns() - t0) / 1000);
	}
	mg_log_end(&l);
	return 0;
}

void mg_control_filter_fini(struct mg_control *ctl)
{
	mg_acl_free(mg_gateway_publish_acl(&ctl->gw, NULL));
	mg_filter_free(&ctl->filter);
	mg_flows_free(ctl->gw.flows);
	ctl->gw.flows = NULL;
}
