// SPDX-License-Identifier: GPL-2.0-only
/*
 * The two engines a fuzz target links with.
 *
 * Default: a bounded, deterministic mutation loop for CI. It runs every seed once as is, then
 * mutates seeds (and inputs that reached an outcome not seen before) with a seeded PRNG until a
 * time budget (MESHGATE_FUZZ_SECONDS, default 20) or an iteration count
 * (MESHGATE_FUZZ_ITERATIONS) runs out, and prints the rate and the outcome histogram. The same
 * seed gives the same sequence of inputs, so iteration N can be regenerated; a failing input is
 * also saved to a file and can be replayed by passing the file as an argument.
 *
 * With MESHGATE_FUZZ_LIBFUZZER: libFuzzer's entry points around the same target.
 *
 * Both accept --write-seeds=DIR, which writes the generated seed corpus and exits; the
 * libFuzzer build also takes --seed-corpus=DIR, which writes it and goes on fuzzing.
 */
#include "fuzz_driver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_mutate.h"

#ifndef MESHGATE_FUZZ_TARGET
#define MESHGATE_FUZZ_TARGET "fuzz"
#endif
#ifndef MESHGATE_FUZZ_SOURCE_ROOT
#define MESHGATE_FUZZ_SOURCE_ROOT "."
#endif

#define DEFAULT_MAX_LEN   4096
#define DEFAULT_SECONDS   20
#define DEFAULT_SEED      0x6d65736867617465ULL /* "meshgate" */
#define MAX_CORPUS        4096
#define MAX_TOKENS        256
#define MAX_LABELS        256
#define MAX_STACKED_MUTS  8
#define TIME_CHECK_PERIOD 32

static struct fuzz_blob corpus[MAX_CORPUS];
static size_t corpus_len;
static size_t seed_count;
static struct fuzz_blob tokens[MAX_TOKENS];
static size_t token_count;
static size_t max_len = DEFAULT_MAX_LEN;

struct label_count {
	const char *label;
	uint64_t count;
};

static struct label_count labels[MAX_LABELS];
static size_t label_count;
static bool new_label_this_input;

/* The input being run, for the failure report and the crash artifact. */
static const uint8_t *current_data;
static size_t current_len;
static uint64_t current_iteration;

static char scratch_dir[256];

/* ---- helpers shared by both engines ---- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("fuzz: out of memory\n", stderr);
		abort();
	}
	return p;
}

static struct fuzz_blob blob_copy(const void *data, size_t len, const char *name)
{
	struct fuzz_blob b = {.data = xmalloc(len), .len = len, .name = NULL};
	if (len)
		memcpy(b.data, data, len);
	if (name) {
		b.name = xmalloc(strlen(name) + 1);
		strcpy(b.name, name);
	}
	return b;
}

void fuzz_seed_add(const char *name, const void *data, size_t len)
{
	if (corpus_len >= MAX_CORPUS)
		return;
	corpus[corpus_len++] = blob_copy(data, len, name);
	seed_count = corpus_len;
	if (len > max_len)
		max_len = len;
}

void fuzz_token_add(const void *token, size_t len)
{
	if (token_count < MAX_TOKENS && len)
		tokens[token_count++] = blob_copy(token, len, NULL);
}

void fuzz_token_add_str(const char *token)
{
	fuzz_token_add(token, strlen(token));
}

void fuzz_set_max_len(size_t len)
{
	if (len)
		max_len = len;
}

void fuzz_outcome(const char *label)
{
	for (size_t i = 0; i < label_count; i++) {
		if (labels[i].label == label || strcmp(labels[i].label, label) == 0) {
			labels[i].count++;
			return;
		}
	}
	if (label_count < MAX_LABELS) {
		labels[label_count].label = label;
		labels[label_count].count = 1;
		label_count++;
	}
	new_label_this_input = true;
}

const char *fuzz_source_root(void)
{
	const char *env = getenv("MESHGATE_SOURCE_ROOT");
	return env && env[0] ? env : MESHGATE_FUZZ_SOURCE_ROOT;
}

static void scratch_remove(void)
{
	DIR *d;
	struct dirent *e;
	char path[512];

	if (!scratch_dir[0] || !(d = opendir(scratch_dir)))
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", scratch_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(scratch_dir);
	scratch_dir[0] = '\0';
}

const char *fuzz_scratch_dir(void)
{
	if (!scratch_dir[0]) {
		const char *tmp = getenv("TMPDIR");
		/* tmpfs when there is one: rewriting a file on ext4 flushes it to the disk, which
		 * cost the key and config targets most of their time. */
		if (!tmp || !tmp[0])
			tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(scratch_dir, sizeof(scratch_dir), "%s/meshgate-%s-XXXXXX", tmp,
		         MESHGATE_FUZZ_TARGET);
		if (!mkdtemp(scratch_dir)) {
			fprintf(stderr, "fuzz: mkdtemp %s: %s\n", scratch_dir, strerror(errno));
			abort();
		}
		atexit(scratch_remove);
	}
	return scratch_dir;
}

static void hexdump(FILE *f, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x%s", data[i], (i % 32 == 31 || i + 1 == len) ? "\n" : "");
}

/* Async-signal-safe: only open/write/close on a fixed buffer. */
static void save_artifact(void)
{
	static char path[320];
	const char *dir = getenv("MESHGATE_FUZZ_ARTIFACT_DIR");
	int fd;

	if (!current_data)
		return;
	snprintf(path, sizeof(path), "%s/crash-%s.bin", dir && dir[0] ? dir : ".",
	         MESHGATE_FUZZ_TARGET);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	size_t off = 0;
	while (off < current_len) {
		ssize_t n = write(fd, current_data + off, current_len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	static const char msg[] = "fuzz: input saved to ";
	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, path, strlen(path)) < 0 ||
	    write(2, "\n", 1) < 0)
		return;
}

_Noreturn void fuzz_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	fprintf(stderr, "\nFUZZ FAILURE in %s at %s:%d: %s", MESHGATE_FUZZ_TARGET, file, line,
	        expr);
	if (fmt[0]) {
		va_list ap;
		va_start(ap, fmt);
		fputs(": ", stderr);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	if (current_data) {
		fprintf(stderr, "iteration %" PRIu64 ", input (%zu bytes):\n", current_iteration,
		        current_len);
		hexdump(stderr, current_data, current_len);
	}
	fflush(stderr);
	save_artifact();
	current_data = NULL; /* the crash handler must not save it twice */
	scratch_remove();    /* abort skips atexit */
	abort();
}

/* Halt on the first UBSan report instead of printing it and carrying on. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static int write_seeds(const char *dir)
{
	char path[512];

	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "fuzz: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < seed_count; i++) {
		snprintf(path, sizeof(path), "%s/seed-%03zu-%s", dir, i,
		         corpus[i].name ? corpus[i].name : "input");
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(corpus[i].data, 1, corpus[i].len, f) != corpus[i].len) {
			fprintf(stderr, "fuzz: writing %s: %s\n", path, strerror(errno));
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
	}
	printf("%s: wrote %zu seeds to %s\n", MESHGATE_FUZZ_TARGET, seed_count, dir);
	return 0;
}

static void free_all(void)
{
	for (size_t i = 0; i < corpus_len; i++) {
		free(corpus[i].data);
		free(corpus[i].name);
	}
	for (size_t i = 0; i < token_count; i++)
		free(tokens[i].data);
	corpus_len = seed_count = token_count = 0;
}

#ifdef MESHGATE_FUZZ_LIBFUZZER

/* ---- libFuzzer engine ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (fuzz_init() != 0) {
		fprintf(stderr, "%s: setup failed\n", MESHGATE_FUZZ_TARGET);
		exit(1);
	}
	/*
	 * libFuzzer ignores flags that start with "--", so these are ours. It reads its corpus
	 * directories only after this returns, so --seed-corpus=DIR DIR starts from the seeds.
	 */
	for (int i = 1; i < *argc; i++) {
		if (strncmp((*argv)[i], "--write-seeds=", 14) == 0)
			exit(write_seeds((*argv)[i] + 14));
		if (strncmp((*argv)[i], "--seed-corpus=", 14) == 0 &&
		    write_seeds((*argv)[i] + 14) != 0)
			exit(1);
	}
	atexit(free_all);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	current_data = data;
	current_len = len;
	fuzz_one(data, len);
	current_data = NULL;
	return 0;
}

#else

/* ---- deterministic engine ---- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	if (!s || !s[0])
		return def;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "fuzz: %s=%s is not a number; using %" PRIu64 "\n", name, s, def);
		return def;
	}
	return v;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void crash_handler(int sig)
{
	save_artifact();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Called by ASan and UBSan before they end the process. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static void run_one(const uint8_t *data, size_t len)
{
	current_data = data;
	current_len = len;
	new_label_this_input = false;
	fuzz_one(data, len);
	current_data = NULL;
}

static int replay_files(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf;
		long size;
		if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET) != 0) {
			fprintf(stderr, "fuzz: cannot read %s: %s\n", argv[i], strerror(errno));
			if (f)
				fclose(f);
			return 1;
		}
		buf = xmalloc((size_t)size);
		if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
			fprintf(stderr, "fuzz: short read on %s\n", argv[i]);
			fclose(f);
			free(buf);
			return 1;
		}
		fclose(f);
		run_one(buf, (size_t)size);
		printf("%s: %s (%ld bytes): ok\n", MESHGATE_FUZZ_TARGET, argv[i], size);
		free(buf);
	}
	return 0;
}

static int label_cmp(const void *a, const void *b)
{
	const struct label_count *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->label, y->label);
}

int main(int argc, char **argv)
{
	uint64_t seconds = env_u64("MESHGATE_FUZZ_SECONDS", DEFAULT_SECONDS);
	uint64_t max_iter = env_u64("MESHGATE_FUZZ_ITERATIONS", 0);
	uint64_t seed = env_u64("MESHGATE_FUZZ_SEED", DEFAULT_SEED);
	uint64_t iter = 0;
	uint8_t *buf;
	double start, elapsed;
	int rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(save_artifact);
	signal(SIGSEGV, crash_handler);
	signal(SIGBUS, crash_handler);
	signal(SIGFPE, crash_handler);
	signal(SIGILL, crash_handler);
	signal(SIGABRT, crash_handler);

	if (fuzz_init() != 0) {
		fprintf(stderr, "%s: setup failed\n", MESHGATE_FUZZ_TARGET);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--write-seeds=", 14) == 0) {
			rc = write_seeds(argv[i] + 14);
			free_all();
			return rc;
		}
	}
	if (argc > 1) {
		rc = replay_files(argc, argv);
		free_all();
		return rc;
	}
	if (!seed_count) {
		fprintf(stderr, "%s: the target added no seeds\n", MESHGATE_FUZZ_TARGET);
		return 1;
	}

	printf("%s: %zu seeds, %zu tokens, max length %zu, seed 0x%016" PRIx64 ", budget %" PRIu64
	       " s%s\n",
	       MESHGATE_FUZZ_TARGET, seed_count, token_count, max_len, seed, seconds,
	       max_iter ? " (or the iteration limit)" : "");
	fuzz_mutate_seed(seed);
	/* A seed may be longer than the target's usual inputs (an annotated example config):
	 * the buffer holds the longest, and mutations may grow inputs that far. */
	for (size_t i = 0; i < seed_count; i++)
		if (corpus[i].len > max_len)
			max_len = corpus[i].len;
	buf = xmalloc(max_len);
	for (size_t i = 0; i < seed_count; i++, iter++) {
		current_iteration = iter;
		run_one(corpus[i].data, corpus[i].len);
	}
	start = now_s();
	for (;;) {
		if (max_iter && iter - seed_count >= max_iter)
			break;
		if (iter % TIME_CHECK_PERIOD == 0 && seconds && now_s() - start >= (double)seconds)
			break;
		current_iteration = iter++;
		const struct fuzz_blob *base = &corpus[fuzz_rnd(corpus_len)];
		size_t len = base->len;
		memcpy(buf, base->data, len);
		size_t stack = 1;
		while (stack < MAX_STACKED_MUTS && fuzz_rnd(2))
			stack++;
		for (size_t k = 0; k < stack; k++)
			len =
			    fuzz_mutate(buf, len, max_len, corpus, corpus_len, tokens, token_count);
		run_one(buf, len);
		if (new_label_this_input && corpus_len < MAX_CORPUS)
			corpus[corpus_len++] = blob_copy(buf, len, NULL);
	}
	elapsed = now_s() - start;
	free(buf);

	iter -= seed_count;
	printf("%s: %" PRIu64 " mutated inputs in %.1f s (%.0f/s), corpus %zu (%zu seeds)\n",
	       MESHGATE_FUZZ_TARGET, iter, elapsed, elapsed > 0 ? (double)iter / elapsed : 0.0,
	       corpus_len, seed_count);
	qsort(labels, label_count, sizeof(labels[0]), label_cmp);
	printf("%s: outcomes:\n", MESHGATE_FUZZ_TARGET);
	for (size_t i = 0; i < label_count; i++)
		printf("  %12" PRIu64 "  %s\n", labels[i].count, labels[i].label);
	free_all();
	printf("%s: no invariant violated\n", MESHGATE_FUZZ_TARGET);
	return 0;
}

#endif
