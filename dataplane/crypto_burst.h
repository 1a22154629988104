/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Burst ChaCha20-Poly1305 for WireGuard transport messages through intel-ipsec-mb.
 *
 * Each worker lcore owns one struct mg_crypto (one multi-buffer manager plus the per-burst
 * scratch the library reads while a job is in flight). Nothing in it is shared, so no locking.
 * The instruction set is chosen at run time (AVX-512, then AVX2, then AVX, then SSE) and can be
 * forced lower for tests and benchmarks.
 *
 * Jobs carry the 32-byte key by pointer: intel-ipsec-mb needs no key schedule for ChaCha20, so
 * nothing secret is precomputed or cached here. The nonce is WireGuard's: 4 zero bytes then the
 * 64-bit counter little-endian; the additional data is empty.
 *
 * intel-ipsec-mb never checks a tag itself: on open it computes the tag into scratch and this
 * module compares it with the received one in constant time, then wipes the scratch.
 */
#ifndef MESHGATE_DATAPLANE_CRYPTO_BURST_H
#define MESHGATE_DATAPLANE_CRYPTO_BURST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MG_CRYPTO_KEY_LEN   32
#define MG_CRYPTO_TAG_LEN   16
#define MG_CRYPTO_NONCE_LEN 12
/* Longest message one job accepts: far above any MTU, well inside RFC 8439's limit. */
#define MG_CRYPTO_MAX_LEN (1u << 20)

enum mg_crypto_isa {
	MG_CRYPTO_ISA_AUTO = 0, /* the best the CPU supports */
	MG_CRYPTO_ISA_SSE,
	MG_CRYPTO_ISA_AVX,
	MG_CRYPTO_ISA_AVX2,
	MG_CRYPTO_ISA_AVX512,
};

enum mg_crypto_status {
	MG_CRYPTO_OK = 0,
	MG_CRYPTO_AUTH_FAILED, /* open only: tag mismatch; dst has been zeroed */
	MG_CRYPTO_INVALID,     /* bad job (NULL pointer, length) or refused by the library */
};

/*
 * One transport message. src and dst may be equal (in place) but must not otherwise overlap.
 * seal: writes len bytes of ciphertext to dst and the 16-byte tag to tag.
 * open: reads the received tag from tag (which must not overlap dst) and writes len bytes of
 *       plaintext to dst; on a mismatch dst is zeroed so no unauthenticated byte escapes.
 * len is the (already padded) plaintext length, without the tag.
 */
struct mg_crypto_job {
	const uint8_t *key;
	uint64_t counter;
	const uint8_t *src;
	uint8_t *dst;
	uint32_t len;
	uint8_t *tag;
};

struct mg_crypto;

/*
 * How a burst pulls the payloads (written by another core or a NIC) and keys into this core's
 * cache before the cipher reads them. The multi-buffer manager touches a job's data only when
 * enough jobs fill its lanes, so a job's lines are requested `ahead` submissions before its own.
 */
struct mg_crypto_prefetch {
	unsigned ahead; /* jobs ahead of the one submitted; 0: none; >= the burst: all up front */
	unsigned lines; /* payload lines per job from its start; 0: the whole message and tag */
	bool key;       /* the key's line too */
};

/* The ISA AUTO resolves to on this CPU (MG_CRYPTO_ISA_AUTO itself if none is usable). */
enum mg_crypto_isa mg_crypto_best_isa(void);
/* True when the CPU can run the given ISA (AUTO: when any is usable). */
bool mg_crypto_isa_supported(enum mg_crypto_isa isa);
const char *mg_crypto_isa_str(enum mg_crypto_isa isa);
/* The ISA named s (as mg_crypto_isa_str spells it) into *isa. Returns 0, or -1 for an unknown
 * name. Whether this CPU has it is mg_crypto_isa_supported's question. */
int mg_crypto_isa_parse(const char *s, enum mg_crypto_isa *isa);

/*
 * Creates a context on the calling thread (memory is first touched here, so it lands on the
 * caller's NUMA node). Returns NULL and sets *err (when err is not NULL) to -ENOTSUP when the
 * requested ISA is not available, -ENOMEM on allocation failure, -EIO when the library refuses.
 */
struct mg_crypto *mg_crypto_create(enum mg_crypto_isa isa, int *err);
/* Wipes and frees; NULL is a no-op. */
void mg_crypto_destroy(struct mg_crypto *c);

/* The plan every context starts with (the one the workers run). */
struct mg_crypto_prefetch mg_crypto_prefetch_default(void);
/* Replaces c's plan (benchmarks compare plans on one context). Any thread may call it while
 * another runs bursts on c: each burst (slice) runs the plan it read when it started. */
void mg_crypto_set_prefetch(struct mg_crypto *c, const struct mg_crypto_prefetch *p);
/* Parses "AHEAD:LINES[:key]" or "none" into *p. Returns 0, or -1 for a bad string. */
int mg_crypto_prefetch_parse(const char *s, struct mg_crypto_prefetch *p);

/* The ISA actually in use and its name ("avx512", "avx2", "avx", "sse"). */
enum mg_crypto_isa mg_crypto_isa(const struct mg_crypto *c);
const char *mg_crypto_isa_name(const struct mg_crypto *c);
/* Library version string, for reports. */
const char *mg_crypto_library_version(void);

/*
 * Seals or opens n jobs in one pass through the job API and fills status[i] for jobs[i].
 * Any n is accepted; the work is fed to the manager in slices it can hold in flight.
 * Returns the number of jobs with status MG_CRYPTO_OK.
 */
unsigned mg_crypto_seal_burst(struct mg_crypto *c, const struct mg_crypto_job *jobs,
                              enum mg_crypto_status *status, unsigned n);
unsigned mg_crypto_open_burst(struct mg_crypto *c, const struct mg_crypto_job *jobs,
                              enum mg_crypto_status *status, unsigned n);

/*
 * Generic RFC 8439 AEAD on one message with an explicit 12-byte nonce and additional data,
 * through the same manager and completion path as the bursts (for known-answer tests).
 * tag is written on seal and read on open.
 */
enum mg_crypto_status mg_crypto_aead_seal(struct mg_crypto *c, const uint8_t *key,
                                          const uint8_t nonce[MG_CRYPTO_NONCE_LEN],
                                          const uint8_t *ad, size_t adlen, const uint8_t *src,
                                          uint8_t *dst, size_t len, uint8_t tag[MG_CRYPTO_TAG_LEN]);
enum mg_crypto_status mg_crypto_aead_open(struct mg_crypto *c, const uint8_t *key,
                                          const uint8_t nonce[MG_CRYPTO_NONCE_LEN],
                                          const uint8_t *ad, size_t adlen, const uint8_t *src,
                                          uint8_t *dst, size_t len,
                                          const uint8_t tag[MG_CRYPTO_TAG_LEN]);

#endif
