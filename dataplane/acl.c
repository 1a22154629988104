// SPDX-License-Identifier: GPL-2.0-only
/*
 * The filter's rte_acl compile (acl.h). rte_acl does the matching; this file only lays out the
 * fields and expands the filter model's rules into rte_acl's one-range-per-field rules.
 */
#include "acl.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cpuflags.h>
#include <rte_errno.h>
#include <rte_vect.h>

#include "errbuf.h"
#include "flow.h"

/* rte_acl reads struct mg_flow_key in place. The last group holds the destination port and
 * the key's two zero padding bytes: rte_acl consumes every input group as 4 bytes, so a group
 * with a lone 2-byte field mismatches (found by test_acl: a port range in one rule hid an ICMP
 * rule); the filler is a 0-65535 range. Only TCP and UDP rules look at the port (ICMP and
 * protocol-wildcard terms take 0-65535), so the ICMP identifier the key carries in sport, or
 * any port of another protocol, cannot change a verdict. */
enum { F4_PROTO, F4_SRC, F4_DST, F4_DPORT, F4_FILL, F4_COUNT };
enum { F6_PROTO, F6_SRC0, F6_DST0 = F6_SRC0 + 4, F6_DPORT = F6_DST0 + 4, F6_FILL, F6_COUNT };

RTE_ACL_RULE_DEF(acl_rule4, F4_COUNT);
RTE_ACL_RULE_DEF(acl_rule6, F6_COUNT);

#define KEY_OFF(f) ((uint32_t)offsetof(struct mg_flow_key, f))
_Static_assert(offsetof(struct mg_flow_key, pad) == offsetof(struct mg_flow_key, dport) + 2,
               "the port group's filler must follow dport");

static void def(struct rte_acl_field_def *d, uint8_t type, uint8_t size, uint8_t index,
                uint8_t input, uint32_t offset)
{
	d->type = type;
	d->size = size;
	d->field_index = index;
	d->input_index = input;
	d->offset = offset;
}

static void defs4(struct rte_acl_config *cfg)
{
	def(&cfg->defs[F4_PROTO], RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_PROTO, 0, KEY_OFF(proto));
	def(&cfg->defs[F4_SRC], RTE_ACL_FIELD_TYPE_MASK, 4, F4_SRC, 1, KEY_OFF(src));
	def(&cfg->defs[F4_DST], RTE_ACL_FIELD_TYPE_MASK, 4, F4_DST, 2, KEY_OFF(dst));
	def(&cfg->defs[F4_DPORT], RTE_ACL_FIELD_TYPE_RANGE, 2, F4_DPORT, 3, KEY_OFF(dport));
	def(&cfg->defs[F4_FILL], RTE_ACL_FIELD_TYPE_RANGE, 2, F4_FILL, 3, KEY_OFF(pad));
	cfg->num_fields = F4_COUNT;
}

static void defs6(struct rte_acl_config *cfg)
{
	def(&cfg->defs[F6_PROTO], RTE_ACL_FIELD_TYPE_BITMASK, 1, F6_PROTO, 0, KEY_OFF(proto));
	for (uint8_t i = 0; i < 4; i++) {
		def(&cfg->defs[F6_SRC0 + i], RTE_ACL_FIELD_TYPE_MASK, 4, (uint8_t)(F6_SRC0 + i),
		    (uint8_t)(1 + i), KEY_OFF(src) + 4u * i);
		def(&cfg->defs[F6_DST0 + i], RTE_ACL_FIELD_TYPE_MASK, 4, (uint8_t)(F6_DST0 + i),
		    (uint8_t)(5 + i), KEY_OFF(dst) + 4u * i);
	}
	def(&cfg->defs[F6_DPORT], RTE_ACL_FIELD_TYPE_RANGE, 2, F6_DPORT, 9, KEY_OFF(dport));
	def(&cfg->defs[F6_FILL], RTE_ACL_FIELD_TYPE_RANGE, 2, F6_FILL, 9, KEY_OFF(pad));
	cfg->num_fields = F6_COUNT;
}

/* One protocol value and port range of an expanded rule. */
struct term {
	uint8_t proto, proto_mask;
	uint16_t lo, hi;
};

static uint8_t icmp_proto(uint8_t family)
{
	return family == 4 ? MG_IPPROTO_ICMP : MG_IPPROTO_ICMPV6;
}

/* The (protocol, port range) terms of r for a family; out may be NULL to count. */
static size_t terms(const struct mg_acl_rule *r, uint8_t family, struct term *out)
{
	size_t n = 0;
#define PUT(p, m, l, h)                                             \
	do {                                                        \
		if (out)                                            \
			out[n] = (struct term){(p), (m), (l), (h)}; \
		n++;                                                \
	} while (0)
	if (r->n_ports == 0)
		return 0;
	switch (r->proto) {
	case MG_ACL_TCP:
	case MG_ACL_UDP:
		for (size_t i = 0; i < r->n_ports; i++)
			PUT(r->proto == MG_ACL_TCP ? MG_IPPROTO_TCP : MG_IPPROTO_UDP, 0xff,
			    r->ports[i].lo, r->ports[i].hi);
		break;
	case MG_ACL_ICMP:
		PUT(icmp_proto(family), 0xff, 0, 65535);
		break;
	case MG_ACL_ANY:
		if (r->n_ports == 1 && r->ports[0].lo == 0 && r->ports[0].hi == 65535) {
			PUT(0, 0, 0, 65535);
			break;
		}
		for (size_t i = 0; i < r->n_ports; i++) {
			PUT(MG_IPPROTO_TCP, 0xff, r->ports[i].lo, r->ports[i].hi);
			PUT(MG_IPPROTO_UDP, 0xff, r->ports[i].lo, r->ports[i].hi);
		}
		PUT(icmp_proto(family), 0xff, 0, 65535);
		break;
	}
#undef PUT
	return n;
}

static uint32_t word(const uint8_t *a, unsigned i)
{
	uint32_t be;
	memcpy(&be, a + 4 * i, 4);
	return rte_be_to_cpu_32(be);
}

static uint32_t word_len(uint8_t len, unsigned i)
{
	int bits = (int)len - 32 * (int)i;
	return bits <= 0 ? 0 : bits >= 32 ? 32 : (uint32_t)bits;
}

static void fill_data(struct rte_acl_rule_data *d)
{
	d->category_mask = 1;
	d->priority = 1;
	d->userdata = 1; /* any match admits: which rule does not matter */
}

static void fill4(struct acl_rule4 *r, const struct mg_prefix *s, const struct mg_prefix *d,
                  const struct term *t)
{
	memset(r, 0, sizeof(*r));
	fill_data(&r->data);
	r->field[F4_PROTO].value.u8 = t->proto;
	r->field[F4_PROTO].mask_range.u8 = t->proto_mask;
	r->field[F4_SRC].value.u32 = word(s->addr, 0);
	r->field[F4_SRC].mask_range.u32 = s->len;
	r->field[F4_DST].value.u32 = word(d->addr, 0);
	r->field[F4_DST].mask_range.u32 = d->len;
	r->field[F4_DPORT].value.u16 = t->lo;
	r->field[F4_DPORT].mask_range.u16 = t->hi;
	r->field[F4_FILL].mask_range.u16 = 65535;
}

static void fill6(struct acl_rule6 *r, const struct mg_prefix *s, const struct mg_prefix *d,
                  const struct term *t)
{
	memset(r, 0, sizeof(*r));
	fill_data(&r->data);
	r->field[F6_PROTO].value.u8 = t->proto;
	r->field[F6_PROTO].mask_range.u8 = t->proto_mask;
	for (unsigned i = 0; i < 4; i++) {
		uint32_t sl = word_len(s->len, i), dl = word_len(d->len, i);
		/* rte_acl compares only the masked bits, but a clean value keeps dumps legible */
		r->field[F6_SRC0 + i].value.u32 = sl ? word(s->addr, i) : 0;
		r->field[F6_SRC0 + i].mask_range.u32 = sl;
		r->field[F6_DST0 + i].value.u32 = dl ? word(d->addr, i) : 0;
		r->field[F6_DST0 + i].mask_range.u32 = dl;
	}
	r->field[F6_DPORT].value.u16 = t->lo;
	r->field[F6_DPORT].mask_range.u16 = t->hi;
	r->field[F6_FILL].mask_range.u16 = 65535;
}

/* Expanded rule count of one family; stops counting past the limit. */
static size_t count(const struct mg_acl_rule *rules, size_t n, uint8_t family)
{
	size_t total = 0;
	for (size_t i = 0; i < n && total <= MG_ACL_MAX_RULES; i++) {
		size_t ns = 0, nd = 0;
		for (size_t j = 0; j < rules[i].n_src; j++)
			ns += rules[i].src[j].family == family;
		for (size_t j = 0; j < rules[i].n_dst; j++)
			nd += rules[i].dst[j].family == family;
		size_t nt = terms(&rules[i], family, NULL);
		if (ns && nd && nt && ns * nd > (MG_ACL_MAX_RULES + 1) / nt)
			return MG_ACL_MAX_RULES + 1;
		total += ns * nd * nt;
	}
	return total;
}

static void set_bits(uint64_t *map, unsigned lo, unsigned hi)
{
	for (unsigned b = lo; b <= hi; b++)
		map[b / 64] |= 1ull << (b % 64);
}

/* acl's protocol and port summary gets what term t of a rule with some source and destination
 * of the family admits. */
static void summarize(struct mg_acl *acl, const struct term *t)
{
	if (!t->proto_mask)
		acl->every_proto = true;
	else if (t->lo == 0 && t->hi == 65535)
		acl->proto_all[t->proto / 64] |= 1ull << (t->proto % 64);
	else if (t->proto == MG_IPPROTO_TCP)
		set_bits(acl->tcp_ports, t->lo, t->hi);
	else if (t->proto == MG_IPPROTO_UDP)
		set_bits(acl->udp_ports, t->lo, t->hi);
	else
		acl->every_proto = true; /* no such term today: stay exact by asking rte_acl */
}

/* Builds one family's context into *out (NULL when it has no rule). */
static int build_family(struct mg_acl *acl, const struct mg_acl_rule *rules, size_t n,
                        uint8_t family, size_t total, int socket_id, struct rte_acl_ctx **out,
                        char *err, size_t errlen)
{
	static _Atomic unsigned instances;
	struct rte_acl_config cfg;
	size_t rsize = family == 4 ? sizeof(struct acl_rule4) : sizeof(struct acl_rule6);
	char name[RTE_ACL_NAMESIZE];

	*out = NULL;
	if (total == 0)
		return 0;
	size_t max_terms = 1;
	for (size_t i = 0; i < n; i++) {
		size_t nt = terms(&rules[i], family, NULL);
		max_terms = nt > max_terms ? nt : max_terms;
	}
	uint8_t *buf = malloc(total * rsize);
	struct term *tv = malloc(max_terms * sizeof(*tv));
	if (!buf || !tv) {
		free(buf);
		free(tv);
		return mg_err(err, errlen, "filter: no memory to compile %zu IPv%u rules", total,
		              family);
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct mg_acl_rule *r = &rules[i];
		size_t nt = terms(r, family, tv);
		for (size_t a = 0; a < r->n_src; a++) {
			if (r->src[a].family != family)
				continue;
			for (size_t b = 0; b < r->n_dst; b++) {
				if (r->dst[b].family != family)
					continue;
				for (size_t t = 0; t < nt; t++, k++) {
					summarize(acl, &tv[t]);
					if (family == 4)
						fill4((struct acl_rule4 *)(buf + k * rsize),
						      &r->src[a], &r->dst[b], &tv[t]);
					else
						fill6((struct acl_rule6 *)(buf + k * rsize),
						      &r->src[a], &r->dst[b], &tv[t]);
				}
			}
		}
	}
	free(tv);
	snprintf(name, sizeof(name), "mgacl%u_%u", atomic_fetch_add(&instances, 1), family);
	struct rte_acl_param p = {
	    .name = name,
	    .socket_id = socket_id,
	    .rule_size = (uint32_t)RTE_ACL_RULE_SZ(family == 4 ? F4_COUNT : F6_COUNT),
	    .max_rule_num = (uint32_t)total,
	};
	struct rte_acl_ctx *ctx = rte_acl_create(&p);
	int rc = ctx ? rte_acl_add_rules(ctx, (const struct rte_acl_rule *)buf, (uint32_t)total)
	             : -rte_errno;
	free(buf);
	if (rc == 0) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.num_categories = 1;
		/* Past this rte_acl splits the rules over more tries instead of growing one: a
		 * pathological filter costs classification speed, not unbounded memory. */
		cfg.max_size = MG_ACL_MAX_BYTES;
		if (family == 4)
			defs4(&cfg);
		else
			defs6(&cfg);
		rc = rte_acl_build(ctx, &cfg);
	}
	if (rc != 0) {
		rte_acl_free(ctx);
		return mg_err(err, errlen, "filter: rte_acl could not build %zu IPv%u rules: %s",
		              total, family, strerror(rc < 0 ? -rc : rc));
	}
	*out = ctx;
	return 0;
}

/* rte_acl's x86 methods, best first: the order its own default choice follows. */
static const struct {
	enum rte_acl_classify_alg alg;
	const char *name;
} methods[] = {
    {RTE_ACL_CLASSIFY_AVX512X32, "avx512x32"}, {RTE_ACL_CLASSIFY_AVX512X16, "avx512x16"},
    {RTE_ACL_CLASSIFY_AVX2, "avx2"},           {RTE_ACL_CLASSIFY_SSE, "sse"},
    {RTE_ACL_CLASSIFY_SCALAR, "scalar"},
};

static int set_alg(struct mg_acl *acl, enum rte_acl_classify_alg alg)
{
	if ((acl->ctx4 && rte_acl_set_ctx_classify(acl->ctx4, alg) != 0) ||
	    (acl->ctx6 && rte_acl_set_ctx_classify(acl->ctx6, alg) != 0))
		return -1;
	acl->method = (int)alg;
	return 0;
}

struct mg_acl *mg_acl_build(const struct mg_acl_rule *rules, size_t n, int socket_id, char *err,
                            size_t errlen)
{
	size_t n4 = count(rules, n, 4), n6 = count(rules, n, 6);

	if (n4 > MG_ACL_MAX_RULES || n6 > MG_ACL_MAX_RULES || n4 + n6 > MG_ACL_MAX_RULES) {
		mg_err(err, errlen, "filter: expands to more than %u rte_acl rules (limit)",
		       MG_ACL_MAX_RULES);
		return NULL;
	}
	struct mg_acl *acl = calloc(1, sizeof(*acl));
	if (!acl) {
		mg_err(err, errlen, "filter: no memory");
		return NULL;
	}
	acl->n_filter_rules = n;
	acl->n_rules4 = (uint32_t)n4;
	acl->n_rules6 = (uint32_t)n6;
	if (build_family(acl, rules, n, 4, n4, socket_id, &acl->ctx4, err, errlen) != 0 ||
	    build_family(acl, rules, n, 6, n6, socket_id, &acl->ctx6, err, errlen) != 0) {
		mg_acl_free(acl);
		return NULL;
	}
	/* rte_acl_create chose the same way; asking again tells which one it is. */
	for (size_t i = 0; (acl->ctx4 || acl->ctx6) && i < RTE_DIM(methods); i++)
		if (set_alg(acl, methods[i].alg) == 0)
			break;
	return acl;
}

unsigned mg_acl_simd_setup(void)
{
#ifdef RTE_ARCH_X86
	if (rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512F) > 0 &&
	    rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512VL) > 0 &&
	    rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512CD) > 0 &&
	    rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512BW) > 0)
		(void)rte_vect_set_max_simd_bitwidth(RTE_VECT_SIMD_512); /* -EPERM: forced */
#endif
	return rte_vect_get_max_simd_bitwidth();
}

const char *mg_acl_method(const struct mg_acl *acl)
{
	for (size_t i = 0; i < RTE_DIM(methods); i++)
		if (acl->method == (int)methods[i].alg)
			return methods[i].name;
	return "none";
}

int mg_acl_set_method(struct mg_acl *acl, const char *name)
{
	for (size_t i = 0; i < RTE_DIM(methods); i++)
		if (strcmp(name, methods[i].name) == 0) {
			enum rte_acl_classify_alg was = (enum rte_acl_classify_alg)acl->method;
			if (set_alg(acl, methods[i].alg) == 0)
				return 0;
			if (acl->method)
				(void)set_alg(acl, was); /* ctx4 took it, ctx6 did not */
			return -1;
		}
	return -1;
}

void mg_acl_free(struct mg_acl *acl)
{
	if (!acl)
		return;
	rte_acl_free(acl->ctx4);
	rte_acl_free(acl->ctx6);
	free(acl);
}

/* False when no rule takes k's protocol and destination port: then no rule admits k (the summary
 * is a superset of what the rules take, both families together). */
static bool may_match(const struct mg_acl *acl, const struct mg_flow_key *k)
{
	if (acl->every_proto || acl->proto_all[k->proto / 64] & 1ull << (k->proto % 64))
		return true;
	const uint64_t *ports = k->proto == MG_IPPROTO_TCP   ? acl->tcp_ports
	                        : k->proto == MG_IPPROTO_UDP ? acl->udp_ports
	                                                     : NULL;
	unsigned port = rte_be_to_cpu_16(k->dport);
	return ports && ports[port / 64] & 1ull << (port % 64);
}

void mg_acl_classify(const struct mg_acl *acl, uint8_t family,
                     const struct mg_flow_key *const *keys, bool *match, unsigned n)
{
	const struct rte_acl_ctx *ctx = family == 4 ? acl->ctx4 : acl->ctx6;
	const struct mg_flow_key *ask[64];
	unsigned at[64];
	uint32_t res[64];

	for (unsigned i = 0; i < n; i++)
		match[i] = false;
	if (!ctx)
		return;
	/* Replies to flows this side opened usually go to a port no rule takes: only the rest
	 * walk the trie, and rte_acl's cost goes with the keys it is given. */
	for (unsigned base = 0; base < n; base += RTE_DIM(ask)) {
		unsigned m = 0, end = n - base < RTE_DIM(ask) ? n : base + (unsigned)RTE_DIM(ask);
		for (unsigned i = base; i < end; i++)
			if (may_match(acl, keys[i])) {
				ask[m] = keys[i];
				at[m++] = i;
			}
		if (!m)
			continue;
		rte_acl_classify(ctx, (const uint8_t **)ask, res, m, 1);
		for (unsigned j = 0; j < m; j++)
			match[at[j]] = res[j] != 0;
	}
}
