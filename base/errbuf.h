/* SPDX-License-Identifier: GPL-2.0-only */
/* Error messages into a caller's buffer, for functions that return -1 with a reason. */
#ifndef MESHGATE_BASE_ERRBUF_H
#define MESHGATE_BASE_ERRBUF_H

#include <stddef.h>

/* Formats into err (nothing when err is NULL or errlen 0) and returns -1. */
int mg_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
