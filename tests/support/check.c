// SPDX-License-Identifier: GPL-2.0-only
#include "check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

unsigned check_failures;
unsigned check_count;

void check_record(bool ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
	check_count++;
	if (ok)
		return;
	check_failures++;
	fprintf(stderr, "FAIL %s:%d: %s", file, line, expr);
	if (fmt[0]) {
		va_list ap;
		va_start(ap, fmt);
		fputs(": ", stderr);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

int check_done(const char *name)
{
	printf("%s: %u checks, %u failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool hex_decode(const char *hex, uint8_t **out, size_t *outlen)
{
	size_t n = strlen(hex);
	if (n % 2)
		return false;
	uint8_t *buf = malloc(n / 2 + 1);
	if (!buf)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(buf);
			return false;
		}
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	*out = buf;
	*outlen = n / 2;
	return true;
}

bool hex_decode_fixed(const char *hex, uint8_t *out, size_t len)
{
	uint8_t *buf;
	size_t n;
	if (!hex_decode(hex, &buf, &n))
		return false;
	bool ok = n == len;
	if (ok)
		memcpy(out, buf, len);
	free(buf);
	return ok;
}

json_t *vectors_load(int argc, char **argv, const char *file)
{
	char path[4096];
	json_error_t err;
	if (argc < 2) {
		fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", argv[1], file);
	json_t *root = json_load_file(path, 0, &err);
	if (!root) {
		fprintf(stderr, "%s: %s (line %d)\n", path, err.text, err.line);
		exit(1);
	}
	return root;
}
