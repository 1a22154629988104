// SPDX-License-Identifier: GPL-2.0-only
/*
 * The crypto ceiling: raw ChaCha20-Poly1305 seal and open rates on one core through
 * crypto_burst, the same API and burst shape the workers use. Data-plane benchmarks report
 * their throughput as a ratio to this.
 *
 * Side by side with the job manager's seal, the same seals through intel-ipsec-mb's direct
 * ChaCha20-Poly1305 API (init, update, finalize per message, same ISA and buffers, output checked
 * byte for byte against the job manager's first): what the job manager's per-job cost is.
 *
 * Output: JSON on stdout, a human table on stderr.
 *   crypto_ceiling [--seconds S] [--isa auto|avx512|avx2|avx|sse] [--burst N] [--sizes a,b,..]
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <intel-ipsec-mb.h>

#include "crypto_burst.h"

#define MAX_SIZES 16
#define MAX_BURST 128

struct result {
	unsigned size;
	double enc_mpps, enc_gbps, dec_mpps, dec_gbps;
	double direct_enc_mpps; /* the direct API's seal */
	double cpu_share;       /* CPU time we got / wall time: below ~0.9 the machine was busy */
};

struct options {
	double seconds;
	enum mg_crypto_isa isa;
	unsigned burst;
	unsigned sizes[MAX_SIZES], nsizes;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void cpu_model(char *out, size_t size)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, size, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) != 0 || !colon)
			continue;
		colon += 2;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, size, "%s", colon);
		for (char *p = out; *p; p++) /* it goes into JSON verbatim */
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
				*p = ' ';
		break;
	}
	if (f)
		fclose(f);
}

/* Keeps the measurement on the core it started on. */
static void pin_here(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;
	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

struct buffers {
	uint8_t *pt, *ct, *out, *tag, keys[4][MG_CRYPTO_KEY_LEN];
	struct mg_crypto_job seal[MAX_BURST], open[MAX_BURST];
	enum mg_crypto_status status[MAX_BURST];
};

static int buffers_init(struct buffers *b, unsigned size, unsigned burst)
{
	size_t stride = ((size_t)size + 63) & ~(size_t)63;

	memset(b, 0, sizeof(*b));
	b->pt = aligned_alloc(64, stride * burst);
	b->ct = aligned_alloc(64, stride * burst);
	b->out = aligned_alloc(64, stride * burst);
	b->tag = aligned_alloc(64, (size_t)64 * burst);
	if (!b->pt || !b->ct || !b->out || !b->tag)
		return -ENOMEM;
	for (size_t i = 0; i < stride * burst; i++)
		b->pt[i] = (uint8_t)(i * 131 + 7);
	for (unsigned k = 0; k < 4; k++)
		for (unsigned i = 0; i < MG_CRYPTO_KEY_LEN; i++)
			b->keys[k][i] = (uint8_t)(k * 37 + i * 11 + 1);
	for (unsigned j = 0; j < burst; j++) {
		/* A few peers' keys interleaved, as a real burst mixes flows. */
		b->seal[j] = (struct mg_crypto_job){.key = b->keys[j % 4],
		                                    .counter = j,
		                                    .src = b->pt + j * stride,
		                                    .dst = b->ct + j * stride,
		                                    .len = size,
		                                    .tag = b->tag + j * 64};
		b->open[j] = b->seal[j];
		b->open[j].src = b->ct + j * stride;
		b->open[j].dst = b->out + j * stride;
	}
	return 0;
}

static void buffers_free(struct buffers *b)
{
	free(b->pt);
	free(b->ct);
	free(b->out);
	free(b->tag);
}

/*
 * Runs bursts for the given wall time; returns messages per second of this thread's CPU time
 * (so a shared machine lowers cpu_share, not the rate), or -1 if any job failed.
 */
static double measure(struct mg_crypto *c, struct buffers *b, unsigned burst, bool seal,
                      double seconds, double *cpu_share)
{
	unsigned long long msgs = 0;
	double start = clock_s(CLOCK_MONOTONIC), cpu_start = clock_s(CLOCK_THREAD_CPUTIME_ID);
	double elapsed;

	do {
		for (unsigned r = 0; r < 64; r++) {
			unsigned ok = seal ? mg_crypto_seal_burst(c, b->seal, b->status, burst)
			                   : mg_crypto_open_burst(c, b->open, b->status, burst);
			if (ok != burst)
				return -1;
			msgs += burst;
			if (seal)
				for (unsigned j = 0; j < burst; j++)
					b->seal[j].counter += burst;
		}
		elapsed = clock_s(CLOCK_MONOTONIC) - start;
	} while (elapsed < seconds);
	double cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
	if (cpu_share)
		*cpu_share = cpu / elapsed;
	return (double)msgs / cpu;
}

/* A manager for the direct API on the ISA c resolved to. */
static IMB_MGR *direct_mgr(const struct mg_crypto *c)
{
	IMB_MGR *m = alloc_mb_mgr(0);
	if (!m)
		return NULL;
	switch (mg_crypto_isa(c)) {
	case MG_CRYPTO_ISA_AVX512:
		init_mb_mgr_avx512(m);
		break;
	case MG_CRYPTO_ISA_AVX2:
		init_mb_mgr_avx2(m);
		break;
	case MG_CRYPTO_ISA_AVX:
		init_mb_mgr_avx(m);
		break;
	default:
		init_mb_mgr_sse(m);
		break;
	}
	if (imb_get_errno(m) != 0) {
		free_mb_mgr(m);
		return NULL;
	}
	return m;
}

/* One seal through the direct API: WireGuard's nonce (32 zero bits, the counter little-endian). */
static void direct_seal(IMB_MGR *m, const struct mg_crypto_job *j, uint8_t *dst, uint8_t *tag)
{
	struct chacha20_poly1305_context_data ctx;
	uint8_t iv[12] = {0};
	for (unsigned i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(j->counter >> (8 * i));
	IMB_CHACHA20_POLY1305_INIT(m, j->key, &ctx, iv, NULL, 0);
	IMB_CHACHA20_POLY1305_ENC_UPDATE(m, j->key, &ctx, dst, j->src, j->len);
	IMB_CHACHA20_POLY1305_ENC_FINALIZE(m, &ctx, tag, MG_CRYPTO_TAG_LEN);
}

/* The direct API agrees with the job manager on the burst just sealed (b->seal's outputs). */
static bool direct_agrees(IMB_MGR *m, const struct buffers *b, unsigned burst)
{
	uint8_t *ct = malloc(b->seal[0].len ? b->seal[0].len : 1), tag[MG_CRYPTO_TAG_LEN];
	bool same = ct != NULL;
	for (unsigned j = 0; j < burst && same; j++) {
		direct_seal(m, &b->seal[j], ct, tag);
		same = memcmp(ct, b->seal[j].dst, b->seal[j].len) == 0 &&
		       memcmp(tag, b->seal[j].tag, MG_CRYPTO_TAG_LEN) == 0;
	}
	free(ct);
	return same;
}

/* measure()'s seal loop through the direct API: messages per CPU-second. */
static double measure_direct(IMB_MGR *m, struct buffers *b, unsigned burst, double seconds)
{
	unsigned long long msgs = 0;
	double start = clock_s(CLOCK_MONOTONIC), cpu_start = clock_s(CLOCK_THREAD_CPUTIME_ID);

	do {
		for (unsigned r = 0; r < 64; r++) {
			for (unsigned j = 0; j < burst; j++) {
				direct_seal(m, &b->seal[j], b->seal[j].dst, b->seal[j].tag);
				b->seal[j].counter += burst;
			}
			msgs += burst;
		}
	} while (clock_s(CLOCK_MONOTONIC) - start < seconds);
	return (double)msgs / (clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu_start);
}

static int run_size(struct mg_crypto *c, IMB_MGR *m, const struct options *o, unsigned size,
                    struct result *res)
{
	struct buffers b;
	int rc = buffers_init(&b, size, o->burst);
	if (rc)
		goto out;
	/* Valid ciphertexts for the open pass, sealed with the counters the open jobs carry. */
	if (mg_crypto_seal_burst(c, b.seal, b.status, o->burst) != o->burst ||
	    !direct_agrees(m, &b, o->burst)) {
		rc = -EIO;
		goto out;
	}
	double share_dec, share_enc;
	measure(c, &b, o->burst, false, o->seconds / 10, NULL); /* warm up */
	double dec = measure(c, &b, o->burst, false, o->seconds, &share_dec);
	double enc = measure(c, &b, o->burst, true, o->seconds, &share_enc);
	double direct = measure_direct(m, &b, o->burst, o->seconds);
	if (dec < 0 || enc < 0) {
		rc = -EIO;
		goto out;
	}
	res->size = size;
	res->enc_mpps = enc / 1e6;
	res->direct_enc_mpps = direct / 1e6;
	res->dec_mpps = dec / 1e6;
	res->enc_gbps = enc * size * 8 / 1e9;
	res->dec_gbps = dec * size * 8 / 1e9;
	res->cpu_share = share_dec < share_enc ? share_dec : share_enc;
out:
	buffers_free(&b);
	return rc;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const unsigned defaults[] = {64, 128, 256, 512, 1024, 1420};

	*o = (struct options){.seconds = 1.0, .isa = MG_CRYPTO_ISA_AUTO, .burst = 32};
	memcpy(o->sizes, defaults, sizeof(defaults));
	o->nsizes = sizeof(defaults) / sizeof(defaults[0]);
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--seconds") && v) {
			o->seconds = atof(v);
		} else if (!strcmp(argv[i], "--burst") && v) {
			o->burst = (unsigned)atoi(v);
		} else if (!strcmp(argv[i], "--isa") && v) {
			static const enum mg_crypto_isa all[] = {
			    MG_CRYPTO_ISA_AUTO, MG_CRYPTO_ISA_SSE, MG_CRYPTO_ISA_AVX,
			    MG_CRYPTO_ISA_AVX2, MG_CRYPTO_ISA_AVX512};
			unsigned k = 0;
			while (k < 5 && strcmp(v, mg_crypto_isa_str(all[k])))
				k++;
			if (k == 5) {
				fprintf(stderr, "--isa: expected auto, sse, avx, avx2 or avx512\n");
				return -1;
			}
			o->isa = all[k];
		} else if (!strcmp(argv[i], "--sizes") && v) {
			char *copy = strdup(v), *save = NULL;
			o->nsizes = 0;
			for (char *tok = strtok_r(copy, ",", &save); tok && o->nsizes < MAX_SIZES;
			     tok = strtok_r(NULL, ",", &save))
				o->sizes[o->nsizes++] = (unsigned)atoi(tok);
			free(copy);
		} else {
			fprintf(stderr,
			        "usage: %s [--seconds S] [--isa auto|avx512|avx2|avx|sse] "
			        "[--burst N] [--sizes a,b,...]\n",
			        argv[0]);
			return -1;
		}
		i++;
	}
	if (o->seconds <= 0 || o->burst == 0 || o->burst > MAX_BURST || o->nsizes == 0) {
		fprintf(stderr, "bad --seconds, --burst (1..%d) or --sizes\n", MAX_BURST);
		return -1;
	}
	for (unsigned i = 0; i < o->nsizes; i++)
		if (o->sizes[i] == 0 || o->sizes[i] > 9000) {
			fprintf(stderr, "--sizes: each size must be 1..9000\n");
			return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct result res[MAX_SIZES];
	char cpu[256];
	int err = 0;

	if (parse_args(argc, argv, &o) != 0)
		return 2;
	struct mg_crypto *c = mg_crypto_create(o.isa, &err);
	if (!c) {
		fprintf(stderr, "crypto context (%s): %s\n", mg_crypto_isa_str(o.isa),
		        strerror(-err));
		return 1;
	}
	IMB_MGR *m = direct_mgr(c);
	if (!m) {
		fprintf(stderr, "intel-ipsec-mb: no manager for the direct API\n");
		mg_crypto_destroy(c);
		return 1;
	}
	pin_here();
	cpu_model(cpu, sizeof(cpu));
	for (unsigned i = 0; i < o.nsizes; i++) {
		if (run_size(c, m, &o, o.sizes[i], &res[i]) != 0) {
			fprintf(stderr,
			        "size %u: a job failed, the direct API disagreed with the job "
			        "manager, or out of memory\n",
			        o.sizes[i]);
			free_mb_mgr(m);
			mg_crypto_destroy(c);
			return 1;
		}
	}
	free_mb_mgr(m);

	fprintf(stderr,
	        "ChaCha20-Poly1305 ceiling: %s, isa %s, intel-ipsec-mb %s, burst %u, %.2f s each, "
	        "rates per CPU-second of one core\n",
	        cpu, mg_crypto_isa_name(c), mg_crypto_library_version(), o.burst, o.seconds);
	fprintf(stderr, "%6s %10s %10s %10s %10s %10s %14s\n", "bytes", "enc Mpps", "enc Gbps",
	        "dec Mpps", "dec Gbps", "cpu share", "direct enc");
	double min_share = 1.0;
	for (unsigned i = 0; i < o.nsizes; i++) {
		fprintf(stderr, "%6u %10.3f %10.2f %10.3f %10.2f %10.2f %7.3f (%3.0f%%)\n",
		        res[i].size, res[i].enc_mpps, res[i].enc_gbps, res[i].dec_mpps,
		        res[i].dec_gbps, res[i].cpu_share, res[i].direct_enc_mpps,
		        100.0 * res[i].direct_enc_mpps / res[i].enc_mpps);
		min_share = res[i].cpu_share < min_share ? res[i].cpu_share : min_share;
	}
	if (min_share < 0.9)
		fprintf(stderr,
		        "warning: this thread got only %.0f%% of a core at times: other load "
		        "(shared caches, SMT sibling) may lower the rates\n",
		        min_share * 100);

	printf("{\"bench\": \"crypto_ceiling\", \"cpu\": \"%s\", \"isa\": \"%s\", "
	       "\"library\": \"intel-ipsec-mb %s\", \"burst\": %u, \"seconds\": %.3f, "
	       "\"size_is\": \"AEAD plaintext bytes per message\", "
	       "\"rate_is\": \"per CPU-second of the measuring thread\", \"sizes\": [",
	       cpu, mg_crypto_isa_name(c), mg_crypto_library_version(), o.burst, o.seconds);
	for (unsigned i = 0; i < o.nsizes; i++)
		printf("%s{\"size\": %u, \"enc_mpps\": %.4f, \"enc_gbps\": %.3f, \"dec_mpps\": "
		       "%.4f, \"dec_gbps\": %.3f, \"cpu_share\": %.3f, \"direct_enc_mpps\": %.4f}",
		       i ? ", " : "", res[i].size, res[i].enc_mpps, res[i].enc_gbps,
		       res[i].dec_mpps, res[i].dec_gbps, res[i].cpu_share, res[i].direct_enc_mpps);
	printf("]}\n");
	mg_crypto_destroy(c);
	return 0;
}
