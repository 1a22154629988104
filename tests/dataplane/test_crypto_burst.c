// SPDX-License-Identifier: GPL-2.0-only
/*
 * crypto_burst against Wycheproof and against the OpenSSL reference path (wg_aead_seal/open),
 * on every instruction set this CPU can run, with bursts of mixed keys, counters and lengths.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "crypto_burst.h"

#define MAX_MSG 1500

static uint64_t rng_state = 0x6d657368676174ULL;

static uint64_t rnd(void)
{
	uint64_t v;
	test_rng(&rng_state, &v, sizeof(v));
	return v;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

struct wy_case {
	uint8_t *key, *iv, *aad, *msg, *ct, *tag;
	size_t keylen, ivlen, aadlen, msglen, ctlen, taglen;
};

static void wy_free(struct wy_case *w)
{
	free(w->key);
	free(w->iv);
	free(w->aad);
	free(w->msg);
	free(w->ct);
	free(w->tag);
	memset(w, 0, sizeof(*w));
}

static bool wy_decode(json_t *t, struct wy_case *w)
{
	memset(w, 0, sizeof(*w));
	return hex_decode(json_string_value(json_object_get(t, "key")), &w->key, &w->keylen) &&
	       hex_decode(json_string_value(json_object_get(t, "iv")), &w->iv, &w->ivlen) &&
	       hex_decode(json_string_value(json_object_get(t, "aad")), &w->aad, &w->aadlen) &&
	       hex_decode(json_string_value(json_object_get(t, "msg")), &w->msg, &w->msglen) &&
	       hex_decode(json_string_value(json_object_get(t, "ct")), &w->ct, &w->ctlen) &&
	       hex_decode(json_string_value(json_object_get(t, "tag")), &w->tag, &w->taglen);
}

/* (a) Every 12-byte-nonce case through the generic entry, out of place and in place. */
static void wycheproof(struct mg_crypto *c, json_t *root)
{
	unsigned valid = 0, invalid = 0, skipped = 0;
	size_t gi, ti;
	json_t *group, *t;

	json_array_foreach(json_object_get(root, "testGroups"), gi, group)
	{
		json_array_foreach(json_object_get(group, "tests"), ti, t)
		{
			struct wy_case w;
			int id = (int)json_integer_value(json_object_get(t, "tcId"));
			bool expect_ok =
			    !strcmp(json_string_value(json_object_get(t, "result")), "valid");
			if (!wy_decode(t, &w)) {
				CHECK(false, "tcId %d: bad hex", id);
				wy_free(&w);
				continue;
			}
			if (w.ivlen != MG_CRYPTO_NONCE_LEN || w.keylen != MG_CRYPTO_KEY_LEN ||
			    w.taglen != MG_CRYPTO_TAG_LEN || w.ctlen != w.msglen) {
				skipped++;
				wy_free(&w);
				continue;
			}
			size_t n = w.msglen;
			uint8_t *out = malloc(n + 1), *buf = malloc(n + 1), tag[16];

			enum mg_crypto_status st = mg_crypto_aead_seal(
			    c, w.key, w.iv, w.aad, w.aadlen, w.msg, out, n, tag);
			CHECK(st == MG_CRYPTO_OK, "%s tcId %d: seal status %d",
			      mg_crypto_isa_name(c), id, st);
			bool same = !memcmp(out, w.ct, n) && !memcmp(tag, w.tag, 16);
			CHECK(same == expect_ok, "%s tcId %d: seal output %s the vector",
			      mg_crypto_isa_name(c), id, same ? "matches" : "differs from");

			st = mg_crypto_aead_open(c, w.key, w.iv, w.aad, w.aadlen, w.ct, out, n,
			                         w.tag);
			CHECK(st == (expect_ok ? MG_CRYPTO_OK : MG_CRYPTO_AUTH_FAILED),
			      "%s tcId %d: open status %d", mg_crypto_isa_name(c), id, st);
			if (expect_ok)
				CHECK(!memcmp(out, w.msg, n), "%s tcId %d: plaintext",
				      mg_crypto_isa_name(c), id);
			else
				CHECK(all_zero(out, n), "%s tcId %d: refused plaintext not wiped",
				      mg_crypto_isa_name(c), id);

			/* In place: dst == src. */
			if (n)
				memcpy(buf, w.ct, n);
			st = mg_crypto_aead_open(c, w.key, w.iv, w.aad, w.aadlen, buf, buf, n,
			                         w.tag);
			CHECK(st == (expect_ok ? MG_CRYPTO_OK : MG_CRYPTO_AUTH_FAILED) &&
			          (!expect_ok || !memcmp(buf, w.msg, n)),
			      "%s tcId %d: in-place open", mg_crypto_isa_name(c), id);
			expect_ok ? valid++ : invalid++;
			free(out);
			free(buf);
			wy_free(&w);
		}
	}
	CHECK(valid >= 200 && invalid >= 60, "%s: only %u valid / %u invalid cases ran",
	      mg_crypto_isa_name(c), valid, invalid);
	printf("  %s: wycheproof %u valid, %u invalid, %u skipped (nonce not 12 bytes)\n",
	       mg_crypto_isa_name(c), valid, invalid, skipped);
}

/* One burst's worth of messages with their own keys, counters and buffers. */
struct burst {
	unsigned n;
	uint8_t (*key)[32];
	uint8_t (*pt)[MAX_MSG];
	uint8_t (*ct)[MAX_MSG + 16]; /* ours: ciphertext then tag, as on the wire */
	uint8_t (*ref)[MAX_MSG + 16];
	uint8_t (*out)[MAX_MSG];
	uint32_t *len;
	uint64_t *counter;
	struct mg_crypto_job *jobs;
	enum mg_crypto_status *status;
};

static uint32_t random_len(void)
{
	switch (rnd() % 4) {
	case 0:
		return (uint32_t)(rnd() % (MAX_MSG / 16 + 1)) * 16; /* padded, as WireGuard sends */
	case 1:
		return (uint32_t)(rnd() % 17);
	default:
		return (uint32_t)(rnd() % (MAX_MSG + 1));
	}
}

static uint64_t random_counter(void)
{
	static const uint64_t edges[] = {
	    0, 1, 0xffffffffULL, 0x100000000ULL, UINT64_MAX - 1, UINT64_MAX};
	return rnd() % 3 == 0 ? edges[rnd() % 6] : rnd();
}

static bool burst_alloc(struct burst *b, unsigned n)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	b->key = calloc(n, sizeof(*b->key));
	b->pt = calloc(n, sizeof(*b->pt));
	b->ct = calloc(n, sizeof(*b->ct));
	b->ref = calloc(n, sizeof(*b->ref));
	b->out = calloc(n, sizeof(*b->out));
	b->len = calloc(n, sizeof(*b->len));
	b->counter = calloc(n, sizeof(*b->counter));
	b->jobs = calloc(n, sizeof(*b->jobs));
	b->status = calloc(n, sizeof(*b->status));
	return b->key && b->pt && b->ct && b->ref && b->out && b->len && b->counter && b->jobs &&
	       b->status;
}

static void burst_free(struct burst *b)
{
	free(b->key);
	free(b->pt);
	free(b->ct);
	free(b->ref);
	free(b->out);
	free(b->len);
	free(b->counter);
	free(b->jobs);
	free(b->status);
}

static void burst_fill(struct burst *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		/* Some jobs share a key (one peer, several packets); most do not. */
		if (i > 0 && rnd() % 4 == 0)
			memcpy(b->key[i], b->key[i - 1], 32);
		else
			test_rng(&rng_state, b->key[i], 32);
		b->len[i] = random_len();
		b->counter[i] = random_counter();
		test_rng(&rng_state, b->pt[i], b->len[i]);
	}
}

static void jobs_for(struct burst *b, bool seal)
{
	for (unsigned i = 0; i < b->n; i++) {
		b->jobs[i] = (struct mg_crypto_job){
		    .key = b->key[i],
		    .counter = b->counter[i],
		    .src = seal ? b->pt[i] : b->ct[i],
		    .dst = seal ? b->ct[i] : b->out[i],
		    .len = b->len[i],
		    .tag = b->ct[i] + b->len[i],
		};
		b->status[i] = (enum mg_crypto_status)99;
	}
}

/* (b) + (d): seal a burst, compare with OpenSSL, open it back, open OpenSSL's output too. */
static void burst_vs_reference(struct mg_crypto *c, unsigned n)
{
	struct burst b;
	if (!burst_alloc(&b, n)) {
		CHECK(false, "out of memory");
		burst_free(&b);
		return;
	}
	burst_fill(&b);

	jobs_for(&b, true);
	unsigned ok = mg_crypto_seal_burst(c, b.jobs, b.status, n);
	CHECK(ok == n, "%s burst %u: %u sealed", mg_crypto_isa_name(c), n, ok);
	for (unsigned i = 0; i < n; i++) {
		CHECK(b.status[i] == MG_CRYPTO_OK, "burst %u job %u: status %d", n, i, b.status[i]);
		enum wg_result r =
		    wg_aead_seal(b.ref[i], b.pt[i], b.len[i], NULL, 0, b.counter[i], b.key[i]);
		CHECK(r == WG_OK, "reference seal failed");
		CHECK(!memcmp(b.ct[i], b.ref[i], b.len[i] + 16),
		      "%s burst %u job %u (len %u, counter %llu): differs from OpenSSL",
		      mg_crypto_isa_name(c), n, i, b.len[i], (unsigned long long)b.counter[i]);
	}

	jobs_for(&b, false);
	ok = mg_crypto_open_burst(c, b.jobs, b.status, n);
	CHECK(ok == n, "%s burst %u: %u opened", mg_crypto_isa_name(c), n, ok);
	for (unsigned i = 0; i < n; i++)
		CHECK(b.status[i] == MG_CRYPTO_OK && !memcmp(b.out[i], b.pt[i], b.len[i]),
		      "burst %u job %u: open round trip", n, i);

	/* The reference opens what we sealed (and vice versa above, since the bytes match). */
	for (unsigned i = 0; i < n; i++) {
		uint8_t plain[MAX_MSG];
		CHECK(wg_aead_open(plain, b.ct[i], b.len[i] + 16, NULL, 0, b.counter[i],
		                   b.key[i]) == WG_OK &&
		          !memcmp(plain, b.pt[i], b.len[i]),
		      "burst %u job %u: OpenSSL refuses our message", n, i);
	}
	burst_free(&b);
}

/* (c) One tampered tag and one tampered ciphertext byte fail only their own jobs. */
static void tamper(struct mg_crypto *c, unsigned n)
{
	struct burst b;
	if (!burst_alloc(&b, n)) {
		CHECK(false, "out of memory");
		burst_free(&b);
		return;
	}
	burst_fill(&b);
	jobs_for(&b, true);
	mg_crypto_seal_burst(c, b.jobs, b.status, n);

	unsigned bad_tag = (unsigned)(rnd() % n), bad_ct = (unsigned)(rnd() % n);
	b.ct[bad_tag][b.len[bad_tag] + rnd() % 16] ^= (uint8_t)(1u << (rnd() % 8));
	if (b.len[bad_ct])
		b.ct[bad_ct][rnd() % b.len[bad_ct]] ^= 0x80;

	jobs_for(&b, false);
	memset(b.out, 0xaa, (size_t)n * sizeof(*b.out));
	unsigned ok = mg_crypto_open_burst(c, b.jobs, b.status, n);
	unsigned expected_bad = 1 + (bad_ct != bad_tag && b.len[bad_ct] > 0);
	CHECK(ok == n - expected_bad, "%s tamper burst %u: %u ok, expected %u",
	      mg_crypto_isa_name(c), n, ok, n - expected_bad);
	for (unsigned i = 0; i < n; i++) {
		bool bad = i == bad_tag || (i == bad_ct && b.len[bad_ct] > 0);
		if (bad) {
			CHECK(b.status[i] == MG_CRYPTO_AUTH_FAILED, "job %u: status %d", i,
			      b.status[i]);
			CHECK(all_zero(b.out[i], b.len[i]), "job %u: forged plaintext not wiped",
			      i);
		} else {
			CHECK(b.status[i] == MG_CRYPTO_OK && !memcmp(b.out[i], b.pt[i], b.len[i]),
			      "job %u: collateral failure (status %d)", i, b.status[i]);
		}
	}
	burst_free(&b);
}

/* Bad jobs are refused one by one; their neighbours still go through. */
static void invalid_jobs(struct mg_crypto *c)
{
	struct burst b;
	if (!burst_alloc(&b, 8)) {
		CHECK(false, "out of memory");
		burst_free(&b);
		return;
	}
	burst_fill(&b);
	for (unsigned i = 0; i < 8; i++)
		b.len[i] = 64;
	jobs_for(&b, true);
	b.jobs[2].key = NULL;
	b.jobs[5].len = MG_CRYPTO_MAX_LEN + 1;
	unsigned ok = mg_crypto_seal_burst(c, b.jobs, b.status, 8);
	CHECK(ok == 6 && b.status[2] == MG_CRYPTO_INVALID && b.status[5] == MG_CRYPTO_INVALID,
	      "invalid seal jobs: ok %u, status %d %d", ok, b.status[2], b.status[5]);

	jobs_for(&b, false);
	b.jobs[3].tag = b.jobs[3].dst + 8; /* the tag would be overwritten before the compare */
	b.jobs[6].dst = NULL;
	ok = mg_crypto_open_burst(c, b.jobs, b.status, 8);
	CHECK(ok == 4 && b.status[3] == MG_CRYPTO_INVALID && b.status[6] == MG_CRYPTO_INVALID &&
	          b.status[2] != MG_CRYPTO_OK && b.status[5] != MG_CRYPTO_OK,
	      "invalid open jobs: ok %u, status %d %d", ok, b.status[3], b.status[6]);
	CHECK(mg_crypto_seal_burst(c, b.jobs, b.status, 0) == 0, "empty burst");
	burst_free(&b);
}

static void run_isa(enum mg_crypto_isa isa, json_t *root)
{
	int err = 0;
	struct mg_crypto *c = mg_crypto_create(isa, &err);
	CHECK(c != NULL, "create %s: %d", mg_crypto_isa_str(isa), err);
	if (!c)
		return;
	CHECK(mg_crypto_isa(c) == isa, "asked %s, got %s", mg_crypto_isa_str(isa),
	      mg_crypto_isa_name(c));
	wycheproof(c, root);
	static const unsigned sizes[] = {1, 7, 32, 64, 128, 300};
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (int rep = 0; rep < 4; rep++)
			burst_vs_reference(c, sizes[s]);
		tamper(c, sizes[s] < 2 ? 2 : sizes[s]);
	}
	tamper(c, 1 + (unsigned)(rnd() % 64));
	invalid_jobs(c);
	/* A prefetch plan only moves cache lines: every plan seals and opens the same bytes, and
	 * bursts longer than a slice or than the plan's distance keep their jobs apart. */
	static const char *const plans[] = {"none", "2:0:key", "8:4", "32:0:key", "1024:0:key"};
	for (unsigned p = 0; p < sizeof(plans) / sizeof(plans[0]); p++) {
		struct mg_crypto_prefetch pf;
		CHECK(mg_crypto_prefetch_parse(plans[p], &pf) == 0, "plan %s refused", plans[p]);
		mg_crypto_set_prefetch(c, &pf);
		burst_vs_reference(c, 32);
		burst_vs_reference(c, 300);
		tamper(c, 33);
		invalid_jobs(c);
	}
	mg_crypto_destroy(c);
}

int main(int argc, char **argv)
{
	json_t *root = vectors_load(argc, argv, "wycheproof_chacha20_poly1305.json");

	CHECK(wg_crypto_init() == WG_OK, "wg_crypto_init");
	enum mg_crypto_isa best = mg_crypto_best_isa();
	CHECK(best != MG_CRYPTO_ISA_AUTO, "no usable ISA on this CPU");
	printf("crypto_burst: intel-ipsec-mb %s, auto selects %s\n", mg_crypto_library_version(),
	       mg_crypto_isa_str(best));

	struct mg_crypto *c = mg_crypto_create(MG_CRYPTO_ISA_AUTO, NULL);
	CHECK(c && mg_crypto_isa(c) == best, "auto context");
	static const char *const bad_plans[] = {"",     "4",      "x:1",      "4:",  "4:1:keys",
	                                        "4:33", "2000:0", "4:1:key:", "-1:0"};
	for (unsigned i = 0; i < sizeof(bad_plans) / sizeof(bad_plans[0]); i++) {
		struct mg_crypto_prefetch pf;
		CHECK(mg_crypto_prefetch_parse(bad_plans[i], &pf) == -1, "plan \"%s\" accepted",
		      bad_plans[i]);
	}
	struct mg_crypto_prefetch pf;
	CHECK(mg_crypto_prefetch_parse("16:4:key", &pf) == 0 && pf.ahead == 16 && pf.lines == 4 &&
	          pf.key,
	      "plan 16:4:key");
	mg_crypto_destroy(c);

	static const enum mg_crypto_isa all[] = {MG_CRYPTO_ISA_AVX512, MG_CRYPTO_ISA_AVX2,
	                                         MG_CRYPTO_ISA_AVX, MG_CRYPTO_ISA_SSE};
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!mg_crypto_isa_supported(all[i])) {
			int err = 0;
			CHECK(mg_crypto_create(all[i], &err) == NULL && err < 0,
			      "unsupported %s accepted", mg_crypto_isa_str(all[i]));
			printf("  %s: not supported by this CPU, refused\n",
			       mg_crypto_isa_str(all[i]));
			continue;
		}
		run_isa(all[i], root);
	}
	json_decref(root);
	return check_done("crypto_burst");
}
