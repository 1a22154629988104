/* SPDX-License-Identifier: GPL-2.0-only */
/* A minimal test harness: CHECK() records a failure with its location and carries on. */
#ifndef MESHGATE_TESTS_CHECK_H
#define MESHGATE_TESTS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "test_rng.h" /* most tests seed their keys from it */

extern unsigned check_failures;
extern unsigned check_count;

/* The message is optional: CHECK(x) and CHECK(x, "got %d", v) both work. */
#define CHECK(cond, ...) check_record(!!(cond), __FILE__, __LINE__, #cond, "" __VA_ARGS__)

void check_record(bool ok, const char *file, int line, const char *expr, const char *fmt, ...);

/* Prints a summary and returns the process exit code. */
int check_done(const char *name);

/* Decodes hex into a fresh malloc'd buffer (NULL-safe free). Returns false on bad hex. */
bool hex_decode(const char *hex, uint8_t **out, size_t *outlen);
/* Decodes exactly len bytes of hex into out. */
bool hex_decode_fixed(const char *hex, uint8_t *out, size_t len);

/* Loads a JSON file from the vectors directory given as argv[1]; exits 1 with a message if absent.
 */
json_t *vectors_load(int argc, char **argv, const char *file);

#endif
