// SPDX-License-Identifier: GPL-2.0-only
#include "crypto_burst.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>
#include <rte_prefetch.h>

#include "crypto.h"

_Static_assert(MG_CRYPTO_NONCE_LEN == WG_NONCE_LEN, "wg_aead_nonce fills the library's IV");

/*
 * How many jobs are fed to the manager before it is flushed. The manager's queue holds
 * IMB_MAX_JOBS; a slice of half that can always be in flight at once, so every job of a slice
 * keeps its own nonce and tag scratch until its completion is seen.
 */
#define SLICE IMB_MAX_BURST_SIZE
/* The most payload lines a job's prefetch asks for: a 1420-byte packet and its tag are 23. */
#define PREFETCH_MAX_LINES 32u

struct mg_crypto {
	IMB_MGR *mgr;
	void *mgr_mem;
	size_t mgr_size;
	enum mg_crypto_isa isa;
	/* The plan packed (pack_plan): another thread may replace it while bursts run. */
	_Atomic uint32_t plan;
	/* In-flight accounting: which slots of the current slice still await completion. */
	unsigned inflight;
	uint8_t pending[SLICE];
	/* The library reads the nonce and writes the tag while the job is in flight. */
	uint8_t nonce[SLICE][16] __attribute__((aligned(16)));
	uint8_t computed_tag[SLICE][MG_CRYPTO_TAG_LEN] __attribute__((aligned(16)));
};

/* One slice of a burst as the completion path sees it. */
struct slice {
	const struct mg_crypto_job *jobs;
	enum mg_crypto_status *status;
	bool seal;
	unsigned ok;
};

static const char *const isa_names[] = {
    [MG_CRYPTO_ISA_AUTO] = "auto", [MG_CRYPTO_ISA_SSE] = "sse",       [MG_CRYPTO_ISA_AVX] = "avx",
    [MG_CRYPTO_ISA_AVX2] = "avx2", [MG_CRYPTO_ISA_AVX512] = "avx512",
};

static uint64_t isa_cpuflags(enum mg_crypto_isa isa)
{
	switch (isa) {
	case MG_CRYPTO_ISA_SSE:
		return IMB_CPUFLAGS_SSE;
	case MG_CRYPTO_ISA_AVX:
		return IMB_CPUFLAGS_AVX;
	case MG_CRYPTO_ISA_AVX2:
		return IMB_CPUFLAGS_AVX2;
	case MG_CRYPTO_ISA_AVX512:
		return IMB_CPUFLAGS_AVX512;
	default:
		return 0;
	}
}

const char *mg_crypto_isa_str(enum mg_crypto_isa isa)
{
	if ((unsigned)isa >= sizeof(isa_names) / sizeof(isa_names[0]))
		return "unknown";
	return isa_names[isa];
}

int mg_crypto_isa_parse(const char *s, enum mg_crypto_isa *isa)
{
	for (unsigned k = 0; k < sizeof(isa_names) / sizeof(isa_names[0]); k++)
		if (isa_names[k] && !strcmp(s, isa_names[k])) {
			*isa = (enum mg_crypto_isa)k;
			return 0;
		}
	return -1;
}

bool mg_crypto_isa_supported(enum mg_crypto_isa isa)
{
	if (isa == MG_CRYPTO_ISA_AUTO)
		return mg_crypto_best_isa() != MG_CRYPTO_ISA_AUTO;
	uint64_t need = isa_cpuflags(isa);
	return need && (imb_get_feature_flags() & need) == need;
}

enum mg_crypto_isa mg_crypto_best_isa(void)
{
	static const enum mg_crypto_isa order[] = {MG_CRYPTO_ISA_AVX512, MG_CRYPTO_ISA_AVX2,
	                                           MG_CRYPTO_ISA_AVX, MG_CRYPTO_ISA_SSE};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (mg_crypto_isa_supported(order[i]))
			return order[i];
	return MG_CRYPTO_ISA_AUTO;
}

static enum mg_crypto_isa isa_of_arch(uint32_t arch)
{
	switch (arch) {
	case IMB_ARCH_SSE:
		return MG_CRYPTO_ISA_SSE;
	case IMB_ARCH_AVX:
		return MG_CRYPTO_ISA_AVX;
	case IMB_ARCH_AVX2:
		return MG_CRYPTO_ISA_AVX2;
	case IMB_ARCH_AVX512:
		return MG_CRYPTO_ISA_AVX512;
	default:
		return MG_CRYPTO_ISA_AUTO;
	}
}

static void init_manager(IMB_MGR *mgr, enum mg_crypto_isa isa)
{
	switch (isa) {
	case MG_CRYPTO_ISA_AVX512:
		init_mb_mgr_avx512(mgr);
		break;
	case MG_CRYPTO_ISA_AVX2:
		init_mb_mgr_avx2(mgr);
		break;
	case MG_CRYPTO_ISA_AVX:
		init_mb_mgr_avx(mgr);
		break;
	default:
		init_mb_mgr_sse(mgr);
		break;
	}
}

struct mg_crypto *mg_crypto_create(enum mg_crypto_isa isa, int *err)
{
	struct mg_crypto *c = NULL;
	int rc = 0;

	if (isa == MG_CRYPTO_ISA_AUTO)
		isa = mg_crypto_best_isa();
	if (!mg_crypto_isa_supported(isa)) {
		rc = -ENOTSUP;
		goto out;
	}
	c = aligned_alloc(64, (sizeof(*c) + 63) & ~(size_t)63);
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	memset(c, 0, sizeof(*c));
	/* Our own allocation of the manager, so destroy can wipe it before freeing. */
	c->mgr_size = (imb_get_mb_mgr_size() + 63) & ~(size_t)63;
	c->mgr_mem = aligned_alloc(64, c->mgr_size);
	if (!c->mgr_mem) {
		rc = -ENOMEM;
		goto out;
	}
	c->mgr = imb_set_pointers_mb_mgr(c->mgr_mem, 0, 1);
	if (!c->mgr) {
		rc = -EIO;
		goto out;
	}
	init_manager(c->mgr, isa);
	if (imb_get_errno(c->mgr) != 0 || isa_of_arch(c->mgr->used_arch) != isa) {
		rc = -EIO;
		goto out;
	}
	c->isa = isa;
	struct mg_crypto_prefetch pf = mg_crypto_prefetch_default();
	mg_crypto_set_prefetch(c, &pf);
out:
	if (rc) {
		mg_crypto_destroy(c);
		c = NULL;
	}
	if (err)
		*err = rc;
	return c;
}

void mg_crypto_destroy(struct mg_crypto *c)
{
	if (!c)
		return;
	if (c->mgr_mem) {
		explicit_bzero(c->mgr_mem, c->mgr_size);
		free(c->mgr_mem);
	}
	explicit_bzero(c, sizeof(*c));
	free(c);
}

enum mg_crypto_isa mg_crypto_isa(const struct mg_crypto *c)
{
	return c->isa;
}

const char *mg_crypto_isa_name(const struct mg_crypto *c)
{
	return mg_crypto_isa_str(c->isa);
}

struct mg_crypto_prefetch mg_crypto_prefetch_default(void)
{
	/* Four jobs ahead, payload, tag and key. The whole burst up front (32) did as well in
	 * crypto_cold, but on the worker its 700-odd requests at 1420 bytes fill the core's miss
	 * queue and stall the prefetch loop itself before the first job runs: four ahead was 6 to
	 * 27 % faster there at 1420 bytes in paired passes, and no slower at 64 (bench/README.md,
	 * "Prefetch plans on the worker"). */
	return (struct mg_crypto_prefetch){.ahead = 4, .lines = 0, .key = true};
}

/* ahead in bits 0-10, lines in 11-16, key in 17 (the parser's bounds fit). */
static uint32_t pack_plan(const struct mg_crypto_prefetch *p)
{
	unsigned ahead = p->ahead > 1024 ? 1024 : p->ahead;
	unsigned lines = p->lines > PREFETCH_MAX_LINES ? PREFETCH_MAX_LINES : p->lines;
	return (uint32_t)ahead | (uint32_t)lines << 11 | (uint32_t)p->key << 17;
}

static struct mg_crypto_prefetch unpack_plan(uint32_t v)
{
	return (struct mg_crypto_prefetch){
	    .ahead = v & 0x7ff, .lines = (v >> 11) & 0x3f, .key = (v >> 17) & 1};
}

void mg_crypto_set_prefetch(struct mg_crypto *c, const struct mg_crypto_prefetch *p)
{
	atomic_store_explicit(&c->plan, pack_plan(p), memory_order_relaxed);
}

int mg_crypto_prefetch_parse(const char *s, struct mg_crypto_prefetch *p)
{
	char *end;

	if (!strcmp(s, "none")) {
		*p = (struct mg_crypto_prefetch){0};
		return 0;
	}
	unsigned long ahead = strtoul(s, &end, 10);
	if (end == s || *end != ':' || ahead > 1024)
		return -1;
	s = end + 1;
	unsigned long lines = strtoul(s, &end, 10);
	if (end == s || lines > PREFETCH_MAX_LINES)
		return -1;
	bool key = false;
	if (*end == ':' && !strcmp(end + 1, "key"))
		key = true;
	else if (*end)
		return -1;
	*p = (struct mg_crypto_prefetch){
	    .ahead = (unsigned)ahead, .lines = (unsigned)lines, .key = key};
	return 0;
}

const char *mg_crypto_library_version(void)
{
	return imb_get_version_str();
}

/*
 * Everything the library's checked submit would verify for these jobs: the rest of each job
 * (algorithm, key and nonce lengths, offsets, tag length) is constant in fill_job. Jobs are
 * therefore submitted unchecked, which was 6 % faster sealing 64-byte messages (bench/README.md).
 */
static bool job_acceptable(const struct mg_crypto_job *j, bool seal)
{
	if (!j->key || !j->tag || j->len > MG_CRYPTO_MAX_LEN)
		return false;
	if (j->len && (!j->src || !j->dst))
		return false;
	/* On open the received tag must survive until it is compared. */
	uintptr_t tag = (uintptr_t)j->tag, dst = (uintptr_t)j->dst;
	if (!seal && j->len && tag + MG_CRYPTO_TAG_LEN > dst && tag < dst + j->len)
		return false;
	return true;
}

static void complete(struct mg_crypto *c, struct slice *s, const IMB_JOB *job)
{
	uintptr_t i = (uintptr_t)job->user_data;
	enum mg_crypto_status st;

	/* A job that is not one of ours in flight is never attributed to a request. */
	if (job->user_data2 != c || i >= SLICE || !c->pending[i])
		return;
	c->pending[i] = 0;
	c->inflight--;

	const struct mg_crypto_job *j = &s->jobs[i];
	if (job->status != IMB_STATUS_COMPLETED)
		st = MG_CRYPTO_INVALID;
	else if (s->seal)
		st = MG_CRYPTO_OK;
	else if (CRYPTO_memcmp(c->computed_tag[i], j->tag, MG_CRYPTO_TAG_LEN) == 0)
		st = MG_CRYPTO_OK;
	else
		st = MG_CRYPTO_AUTH_FAILED;

	if (!s->seal && st != MG_CRYPTO_OK) {
		/* The right tag for a forged message is itself a forgery aid: never keep it (an
		 * authentic message's is the tag it carries, so that one is left). */
		explicit_bzero(c->computed_tag[i], MG_CRYPTO_TAG_LEN);
		if (j->len)
			memset(j->dst, 0, j->len);
	}
	s->status[i] = st;
	if (st == MG_CRYPTO_OK)
		s->ok++;
}

static void drain(struct mg_crypto *c, struct slice *s, IMB_JOB *job)
{
	while (job) {
		complete(c, s, job);
		job = IMB_GET_COMPLETED_JOB(c->mgr);
	}
}

static void fill_job(struct mg_crypto *c, IMB_JOB *job, const struct mg_crypto_job *j, unsigned i,
                     bool seal, const uint8_t *nonce, const uint8_t *ad, size_t adlen)
{
	job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
	job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
	job->cipher_direction = seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
	job->chain_order = seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
	job->enc_keys = j->key;
	job->dec_keys = j->key;
	job->key_len_in_bytes = MG_CRYPTO_KEY_LEN;
	job->src = j->src;
	job->dst = j->dst;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = j->len;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = j->len;
	job->iv = nonce;
	job->iv_len_in_bytes = MG_CRYPTO_NONCE_LEN;
	job->u.CHACHA20_POLY1305.aad = ad;
	job->u.CHACHA20_POLY1305.aad_len_in_bytes = adlen;
	job->auth_tag_output = seal ? j->tag : c->computed_tag[i];
	job->auth_tag_output_len_in_bytes = MG_CRYPTO_TAG_LEN;
	job->user_data = (void *)(uintptr_t)i;
	job->user_data2 = c;
}

/*
 * rte_prefetch0 is an asm volatile: GCC 12 at -O2 found this function free of side effects
 * with __builtin_prefetch in it, and dropped every call (the binary had no prefetch at all).
 */
static inline void prefetch_job(const struct mg_crypto_prefetch *pf, const struct mg_crypto_job *j)
{
	const uint8_t *p = j->src;
	if (pf->key && j->key)
		rte_prefetch0(j->key);
	if (!p || j->len > MG_CRYPTO_MAX_LEN)
		return;
	/* A long message's tail is left to the hardware prefetcher, which follows the stream once
	 * the cipher starts on it. The walk steps from p, not from p's line: when p is not
	 * line-aligned the last line (the received tag's end, on open) is not asked for: decap asks
	 * for it when it builds the job. Walking whole lines here instead was 1-8 % slower at
	 * every point (bench/README.md, third pass). */
	uint32_t end = j->len + MG_CRYPTO_TAG_LEN;
	uint32_t cap = (pf->lines ? pf->lines : PREFETCH_MAX_LINES) * 64u;
	if (end > cap)
		end = cap;
	for (uint32_t off = 0; off < end; off += 64)
		rte_prefetch0(p + off);
}

/* explicit_nonce is NULL for WireGuard bursts (nonce from each job's counter). */
static unsigned run_slice(struct mg_crypto *c, bool seal, const struct mg_crypto_job *jobs,
                          enum mg_crypto_status *status, unsigned n, const uint8_t *explicit_nonce,
                          const uint8_t *ad, size_t adlen)
{
	struct slice s = {.jobs = jobs, .status = status, .seal = seal, .ok = 0};
	IMB_JOB *job;
	const struct mg_crypto_prefetch pf =
	    unpack_plan(atomic_load_explicit(&c->plan, memory_order_relaxed));
	unsigned ahead = pf.ahead < n ? pf.ahead : n;

	for (unsigned i = 0; i < ahead; i++)
		prefetch_job(&pf, &jobs[i]);
	for (unsigned i = 0; i < n; i++) {
		/* Payloads arrive cold, written by another core (or a NIC): their lines are asked
		 * for while the jobs before them are filled and run. */
		if (ahead && i + ahead < n)
			prefetch_job(&pf, &jobs[i + ahead]);
		if (!job_acceptable(&jobs[i], seal)) {
			status[i] = MG_CRYPTO_INVALID;
			continue;
		}
		const uint8_t *nonce = explicit_nonce;
		if (!nonce) {
			wg_aead_nonce(c->nonce[i], jobs[i].counter);
			nonce = c->nonce[i];
		}
		job = IMB_GET_NEXT_JOB(c->mgr);
		fill_job(c, job, &jobs[i], i, seal, nonce, ad, adlen);
		c->pending[i] = 1;
		c->inflight++;
		drain(c, &s, IMB_SUBMIT_JOB_NOCHECK(c->mgr));
	}
	while (c->inflight && (job = IMB_FLUSH_JOB(c->mgr)) != NULL)
		drain(c, &s, job);

	/* Defensive: a job the library never handed back is a failure, never a success. */
	for (unsigned i = 0; c->inflight && i < n; i++) {
		if (!c->pending[i])
			continue;
		c->pending[i] = 0;
		c->inflight--;
		explicit_bzero(c->computed_tag[i], MG_CRYPTO_TAG_LEN);
		if (!seal && jobs[i].len)
			memset(jobs[i].dst, 0, jobs[i].len);
		status[i] = MG_CRYPTO_INVALID;
	}
	return s.ok;
}

static unsigned run(struct mg_crypto *c, bool seal, const struct mg_crypto_job *jobs,
                    enum mg_crypto_status *status, unsigned n, const uint8_t *explicit_nonce,
                    const uint8_t *ad, size_t adlen)
{
	unsigned ok = 0;

	for (unsigned base = 0; base < n; base += SLICE) {
		unsigned count = n - base < SLICE ? n - base : SLICE;
		ok += run_slice(c, seal, jobs + base, status + base, count, explicit_nonce, ad,
		                adlen);
	}
	return ok;
}

unsigned mg_crypto_seal_burst(struct mg_crypto *c, const struct mg_crypto_job *jobs,
                              enum mg_crypto_status *status, unsigned n)
{
	return run(c, true, jobs, status, n, NULL, NULL, 0);
}

unsigned mg_crypto_open_burst(struct mg_crypto *c, const struct mg_crypto_job *jobs,
                              enum mg_crypto_status *status, unsigned n)
{
	return run(c, false, jobs, status, n, NULL, NULL, 0);
}

static enum mg_crypto_status aead_one(struct mg_crypto *c, bool seal, const uint8_t *key,
                                      const uint8_t *nonce, const uint8_t *ad, size_t adlen,
                                      const uint8_t *src, uint8_t *dst, size_t len, uint8_t *tag)
{
	enum mg_crypto_status st = MG_CRYPTO_INVALID;

	if (!nonce || (adlen && !ad) || len > MG_CRYPTO_MAX_LEN)
		return MG_CRYPTO_INVALID;
	struct mg_crypto_job job = {
	    .key = key, .src = src, .dst = dst, .len = (uint32_t)len, .tag = tag};
	run(c, seal, &job, &st, 1, nonce, ad, adlen);
	return st;
}

enum mg_crypto_status mg_crypto_aead_seal(struct mg_crypto *c, const uint8_t *key,
                                          const uint8_t nonce[MG_CRYPTO_NONCE_LEN],
                                          const uint8_t *ad, size_t adlen, const uint8_t *src,
                                          uint8_t *dst, size_t len, uint8_t tag[MG_CRYPTO_TAG_LEN])
{
	return aead_one(c, true, key, nonce, ad, adlen, src, dst, len, tag);
}

enum mg_crypto_status mg_crypto_aead_open(struct mg_crypto *c, const uint8_t *key,
                                          const uint8_t nonce[MG_CRYPTO_NONCE_LEN],
                                          const uint8_t *ad, size_t adlen, const uint8_t *src,
                                          uint8_t *dst, size_t len,
                                          const uint8_t tag[MG_CRYPTO_TAG_LEN])
{
	/* The open path only reads the tag; the job struct is shared with seal. */
	return aead_one(c, false, key, nonce, ad, adlen, src, dst, len, (uint8_t *)(uintptr_t)tag);
}
