// SPDX-License-Identifier: GPL-2.0-only
/* Oracles and file helpers of the YAML configuration targets (fuzz_yaml.h). */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "fuzz_driver.h"
#include "fuzz_yaml.h"
#include "keys.h"
#include "test_rng.h"

#define MAX_TEXT  65536
#define SMALL_ERR 24

/* ---- no DNS from a fuzzer ---- */

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *,
                              struct addrinfo **);

/* Interposes libc's: only numeric hosts resolve, so no input reaches a name server. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	static getaddrinfo_fn real;
	struct addrinfo h;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (!real)
		return EAI_FAIL;
	memset(&h, 0, sizeof(h));
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

/* ---- files ---- */

int fuzz_yaml_write_file(const char *path, const void *data, size_t len)
{
	int fd, ok;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = (size_t)write(fd, data, len) == len;
	return close(fd) == 0 && ok ? 0 : -1;
}

char *fuzz_yaml_read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = f ? malloc(MAX_TEXT + 1) : NULL;
	size_t n = 0;

	if (buf) {
		n = fread(buf, 1, MAX_TEXT, f);
		buf[n] = '\0';
	}
	if (f)
		fclose(f);
	return buf;
}

char *fuzz_yaml_replace_all(const char *text, const char *from, const char *to)
{
	size_t cap = strlen(text) * 2 + 4096, n = 0, fl = strlen(from), tl = strlen(to);
	char *out = malloc(cap);

	if (!out)
		return NULL;
	while (*text) {
		if (strncmp(text, from, fl) == 0) {
			if (n + tl + 1 > cap)
				goto fail;
			memcpy(out + n, to, tl);
			n += tl;
			text += fl;
		} else {
			if (n + 2 > cap)
				goto fail;
			out[n++] = *text++;
		}
	}
	out[n] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

int fuzz_yaml_write_key(const char *path, uint64_t *rng)
{
	uint8_t key[WG_KEY_LEN];
	char b64[WG_KEY_B64_SIZE + 1];
	int rc;

	wg_key_generate_private(key, test_rng, rng);
	wg_key_to_base64(b64, key);
	strcat(b64, "\n");
	rc = fuzz_yaml_write_file(path, b64, strlen(b64));
	wg_memzero(key, sizeof(key));
	wg_memzero(b64, sizeof(b64));
	return rc;
}

/* ---- oracles ---- */

bool fuzz_yaml_terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

bool fuzz_yaml_prefix_ok(const struct mg_prefix *p)
{
	return (p->family == 4 && p->len <= 32) || (p->family == 6 && p->len <= 128);
}

bool fuzz_yaml_same_prefix(const struct mg_prefix *a, const struct mg_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

unsigned long fuzz_yaml_count_lines(const uint8_t *d, size_t len)
{
	unsigned long n = len && (d[len - 1] == '\n' || d[len - 1] == '\r') ? 1 : 2;
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '\n' || (d[i] == '\r' && (i + 1 == len || d[i + 1] != '\n')))
			n++;
		else if (d[i] == 0xc2 && i + 1 < len && d[i + 1] == 0x85)
			n++;
		else if (d[i] == 0xe2 && i + 2 < len && d[i + 1] == 0x80 &&
		         (d[i + 2] == 0xa8 || d[i + 2] == 0xa9))
			n++;
	}
	return n;
}

bool fuzz_yaml_names_file_and_line(const char *msg, const char *file, unsigned long lines)
{
	size_t plen = strlen(file);
	char *end;

	if (strncmp(msg, file, plen) != 0 || msg[plen] != ':' ||
	    !isdigit((unsigned char)msg[plen + 1]))
		return false;
	errno = 0;
	unsigned long line = strtoul(msg + plen + 1, &end, 10);
	return errno == 0 && line >= 1 && line <= lines && end[0] == ':' && end[1] == ' ' &&
	       end[2] != '\0';
}

void fuzz_yaml_check_warnings(const char *warnings, size_t cap, const char *file,
                              unsigned long lines)
{
	char *copy, *save = NULL;

	FUZZ_CHECK(fuzz_yaml_terminated(warnings, cap), "warnings not terminated");
	copy = strdup(warnings);
	FUZZ_CHECK(copy != NULL, "out of memory");
	for (char *w = strtok_r(copy, "\n", &save); w; w = strtok_r(NULL, "\n", &save))
		FUZZ_CHECK(fuzz_yaml_names_file_and_line(w, file, lines),
		           "warning without file and line: %s", w);
	free(copy);
}

void fuzz_yaml_check_coord(const struct mg_coord_config *c)
{
	size_t n;

	FUZZ_CHECK(fuzz_yaml_terminated(c->url, sizeof(c->url)) &&
	               fuzz_yaml_terminated(c->authkey_file, sizeof(c->authkey_file)) &&
	               fuzz_yaml_terminated(c->state_dir, sizeof(c->state_dir)) &&
	               fuzz_yaml_terminated(c->hostname, sizeof(c->hostname)),
	           "a coordinator string is not terminated");
	n = strlen(c->url);
	FUZZ_CHECK(n == 0 || ((strncmp(c->url, "https://", 8) == 0 ||
	                       strncmp(c->url, "http://", 7) == 0) &&
	                      c->url[n - 1] != '/'),
	           "coordinator url '%s'", c->url);
	FUZZ_CHECK(c->n_advertise_routes <= MG_MAX_ADVERTISED_ROUTES &&
	               (c->advertise_routes_set || c->n_advertise_routes == 0),
	           "%zu advertised routes", c->n_advertise_routes);
	for (size_t i = 0; i < c->n_advertise_routes; i++)
		FUZZ_CHECK(fuzz_yaml_prefix_ok(&c->advertise_routes[i]) &&
		               !mg_prefix_has_host_bits(&c->advertise_routes[i]),
		           "advertised route %zu", i);
	FUZZ_CHECK(c->n_endpoints <= MG_MAX_REPORTED_ENDPOINTS, "%zu endpoints", c->n_endpoints);
	for (size_t i = 0; i < c->n_endpoints; i++)
		FUZZ_CHECK(c->endpoints[i].family == 4 || c->endpoints[i].family == 6,
		           "reported endpoint %zu", i);
}

bool fuzz_yaml_log_level_ok(const char *level)
{
	static const char *const levels[] = {"error", "warning", "notice", "info", "debug"};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(level, levels[i]) == 0)
			return true;
	return false;
}

void fuzz_yaml_check_short_message(fuzz_yaml_load_fn load, const char *err)
{
	char small[SMALL_ERR + 8];
	int rc;

	memset(small, 'Y', sizeof(small));
	rc = load(small, SMALL_ERR);
	FUZZ_CHECK(rc == -1, "second load gave %d", rc);
	FUZZ_CHECK(strncmp(small, err, SMALL_ERR - 1) == 0 &&
	               strlen(small) == strnlen(err, SMALL_ERR - 1),
	           "short message '%s' is not a prefix of '%s'", small, err);
	for (size_t i = SMALL_ERR; i < sizeof(small); i++)
		FUZZ_CHECK(small[i] == 'Y', "message written past its %d bytes", SMALL_ERR);
}

void fuzz_yaml_refusal_outcome(const char *err, const char *file, const char *prefix,
                               const char *const *sections, char (*labels)[48], size_t n)
{
	const char *at = strchr(err + strlen(file) + 1, ' ');
	size_t i = 0;

	while (at && i < n) {
		size_t len = strlen(sections[i]);
		if (strncmp(at + 1, sections[i], len) == 0 && strchr(".:[", at[1 + len]))
			break;
		i++;
	}
	if (!at)
		i = n;
	if (!labels[i][0])
		snprintf(labels[i], sizeof(labels[i]), "%s: refused (%s)", prefix,
		         i < n ? sections[i] : "other");
	fuzz_outcome(labels[i]);
}

void fuzz_yaml_add_common_tokens(void)
{
	static const char *const tokens[] = {"&a ",
	                                     "*a",
	                                     "!!str ",
	                                     "---\n",
	                                     "...\n",
	                                     "? ",
	                                     "{",
	                                     "}",
	                                     "[",
	                                     "]",
	                                     ", ",
	                                     "\"",
	                                     "'",
	                                     "#",
	                                     "|\n",
	                                     ">\n",
	                                     "\t",
	                                     "\r\n",
	                                     "0x10",
	                                     "-1",
	                                     "65536",
	                                     "4294967296",
	                                     "18446744073709551616",
	                                     "1e3",
	                                     "::",
	                                     "/",
	                                     "/33",
	                                     "/129",
	                                     "::ffff:1.2.3.4",
	                                     "[::1]:1",
	                                     "0.0.0.0",
	                                     "off",
	                                     "true",
	                                     "no",
	                                     "~",
	                                     "null",
	                                     "\xc2\x85",
	                                     "\xe2\x80\xa8",
	                                     "\xef\xbb\xbf",
	                                     "coordinator:\n",
	                                     "url: ",
	                                     "authkey_file: ",
	                                     "state_dir: ",
	                                     "hostname: ",
	                                     "advertise_routes: ",
	                                     "exit_node: ",
	                                     "endpoints: ",
	                                     "log_level: ",
	                                     "  - "};
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add_str(tokens[i]);
}
