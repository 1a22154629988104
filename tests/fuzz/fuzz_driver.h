/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The contract between a fuzz target and its two engines.
 *
 * A target is one file that defines fuzz_init (build its state, add seeds made from genuine
 * messages, prove the seeds take the accepting path) and fuzz_one (feed one input, check the
 * invariants with FUZZ_CHECK, label what happened with fuzz_outcome). It is linked either with
 * libFuzzer (-Dfuzz_engine=libfuzzer, long coverage-guided runs) or with fuzz_driver.c's own
 * bounded, deterministic mutation loop (the default; the meson suite 'fuzz').
 *
 * fuzz_one must give the same answer for the same bytes whatever ran before: a target that
 * changes state on an accepted input restores it before returning.
 */
#ifndef MESHGATE_TESTS_FUZZ_DRIVER_H
#define MESHGATE_TESTS_FUZZ_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- implemented by each target ---- */

/* Called once before any input. Returns 0, or non-zero when the target cannot run. */
int fuzz_init(void);
int fuzz_one(const uint8_t *data, size_t len);

/* libFuzzer's entry points (defined by the driver in libFuzzer builds). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- provided by the driver ---- */

/* Copies a seed into the corpus. name is used by --write-seeds for the file name. */
void fuzz_seed_add(const char *name, const void *data, size_t len);
/* A dictionary token the mutator inserts or overwrites with (copied; may hold zero bytes). */
void fuzz_token_add(const void *token, size_t len);
/* The same for a NUL-terminated string. */
void fuzz_token_add_str(const char *token);
/* Longest input the driver generates (default 4096). */
void fuzz_set_max_len(size_t len);
/*
 * Counts one outcome of the current input under label (a string that outlives the run, usually
 * a literal or wg_result_str). An input that produces a label never seen before joins the
 * corpus, so the loop keeps what reached new behaviour.
 */
void fuzz_outcome(const char *label);
/* Prints the failure and the input (hex), saves the input as an artifact, aborts. */
_Noreturn void fuzz_fail(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define FUZZ_CHECK(cond, ...)                                                 \
	do {                                                                  \
		if (!(cond))                                                  \
			fuzz_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__); \
	} while (0)

/* The source tree (for conf/ examples): $MESHGATE_SOURCE_ROOT, else the configured root. */
const char *fuzz_source_root(void);
/* A private directory for scratch files, removed with its contents at exit. */
const char *fuzz_scratch_dir(void);

#endif
