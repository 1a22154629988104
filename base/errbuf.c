// SPDX-License-Identifier: GPL-2.0-only
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>

int mg_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}
