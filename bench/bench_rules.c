// SPDX-License-Identifier: GPL-2.0-only
#include "bench_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

struct mg_acl *bench_rules_build(unsigned n, uint32_t (*src4)(unsigned i), const char *dst4,
                                 struct mg_prefix *src)
{
	static struct mg_prefix dst[2];
	static const struct mg_acl_ports ports[] = {{22, 22}, {443, 443}, {8000, 8100}};
	struct mg_acl_rule *r = calloc(n, sizeof(*r));
	struct mg_acl *acl;
	char err[256];

	if (!r || mg_prefix_parse(dst4, &dst[0]) != 0 ||
	    mg_prefix_parse("fd10:1::/48", &dst[1]) != 0) {
		fprintf(stderr, "filter: cannot set up %u rules\n", n);
		free(r);
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t a4 = rte_cpu_to_be_32(src4(i));

		src[2 * i] = (struct mg_prefix){.family = 4, .len = 32};
		memcpy(src[2 * i].addr, &a4, 4);
		src[2 * i + 1] =
		    (struct mg_prefix){.family = 6,
		                       .len = 128,
		                       .addr = {0xfd, 0x7a, 0x11, 0x5c, 0xa1,
		                                0xe0, [14] = (uint8_t)(i >> 8), [15] = (uint8_t)i}};
		r[i] = (struct mg_acl_rule){.src = &src[2 * i],
		                            .n_src = 2,
		                            .dst = dst,
		                            .n_dst = 2,
		                            .proto = MG_ACL_TCP,
		                            .ports = ports,
		                            .n_ports = 3};
	}
	acl = mg_acl_build(r, n, -1, err, sizeof(err));
	if (!acl)
		fprintf(stderr, "filter: %s\n", err);
	free(r);
	return acl;
}
