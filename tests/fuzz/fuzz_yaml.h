/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the YAML configuration targets share (the gateway's fuzz_config, the agent's
 * fuzz_agent_config): both loaders use node/'s typed readers, so they report errors, warnings
 * and the coordinator section the same way and one set of oracles checks both.
 *
 * Linking this file also interposes getaddrinfo: only numeric hosts resolve, so a fuzzed
 * endpoint never reaches a name server.
 */
#ifndef MESHGATE_TESTS_FUZZ_YAML_H
#define MESHGATE_TESTS_FUZZ_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "node_config.h"

/* Writes a new file (truncating one with data makes ext4 flush it to disk). */
int fuzz_yaml_write_file(const char *path, const void *data, size_t len);
/* At most 64 KiB of a file, NUL-terminated; NULL when unreadable. Caller frees. */
char *fuzz_yaml_read_text(const char *path);
/* text with every occurrence of from replaced by to; NULL on overflow. Caller frees. */
char *fuzz_yaml_replace_all(const char *text, const char *from, const char *to);
/* Writes a fresh private key as `wg genkey` prints it; 0 or -1. */
int fuzz_yaml_write_key(const char *path, uint64_t *rng);

bool fuzz_yaml_terminated(const char *s, size_t cap);
bool fuzz_yaml_prefix_ok(const struct mg_prefix *p);
bool fuzz_yaml_same_prefix(const struct mg_prefix *a, const struct mg_prefix *b);
/*
 * The last line an error may name: lines as libyaml counts them (LF, CR not before LF, NEL, LS,
 * PS), plus one when the file does not end in a line break, because libyaml puts the end of
 * the stream on a line of its own.
 */
unsigned long fuzz_yaml_count_lines(const uint8_t *d, size_t len);
/* "FILE:LINE: rest", with 1 <= LINE <= lines and something after it. */
bool fuzz_yaml_names_file_and_line(const char *msg, const char *file, unsigned long lines);
/* Every warning line names the file and a line inside it. */
void fuzz_yaml_check_warnings(const char *warnings, size_t cap, const char *file,
                              unsigned long lines);
/* The coordinator section, as conf/gateway-site-a.yaml documents it. */
void fuzz_yaml_check_coord(const struct mg_coord_config *c);
/* One of error, warning, notice, info, debug. */
bool fuzz_yaml_log_level_ok(const char *level);

/*
 * A refused file's message, checked against a second load into a buffer of small bytes:
 * load(small, cap) must refuse again with a correctly cut, terminated prefix of err.
 */
typedef int (*fuzz_yaml_load_fn)(char *err, size_t errlen);
void fuzz_yaml_check_short_message(fuzz_yaml_load_fn load, const char *err);
/*
 * Counts the outcome under the section the message names after "FILE:LINE: " (one of
 * sections, else "other"), so reaching a new section keeps the input. labels holds room for
 * n + 1 labels of 48 bytes (the last for "other"), all zero at first and filled on first use.
 */
void fuzz_yaml_refusal_outcome(const char *err, const char *file, const char *prefix,
                               const char *const *sections, char (*labels)[48], size_t n);
/* The YAML syntax and number tokens both targets insert, on top of their own keys. */
void fuzz_yaml_add_common_tokens(void);

#endif
