/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The harness of the gateway config section tests: a temporary directory with a private key,
 * a base config that every case shares, and one section appended after it, so that each
 * error can be checked to name file:line:key exactly.
 */
#ifndef MG_TEST_CONFIG_CASE_H
#define MG_TEST_CONFIG_CASE_H

#include <stddef.h>

#include "config.h"

/* base: the config's first lines, with one %s where the private key's path goes. Exits the
 * test on failure: nothing can be checked without the directory. */
void cfg_case_setup(const char *name, const char *base);
void cfg_case_teardown(void);

/* The base, then section (which starts on the line after the base's last). */
int cfg_case_load(const char *section, struct mg_config *cfg, char *err, size_t errlen);

/* The load must fail with "<conf>:<line>: <path>: ...want...". src is the caller's line. */
void cfg_case_expect_error(int src, const char *section, unsigned line, const char *path,
                           const char *want);
#define EXPECT_ERROR(y, l, p, w) cfg_case_expect_error(__LINE__, y, l, p, w)

#endif
