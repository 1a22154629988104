// SPDX-License-Identifier: GPL-2.0-only
/*
 * The logfmt logger: every line is read back with an independent logfmt parser written here,
 * so quoting, escaping, key cleaning, truncation, level filtering and the SIGUSR1/SIGUSR2 level
 * steps are checked against what a log shipper would see.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

#define MAX_FIELDS 32

struct field {
	char key[64];
	char value[MG_LOG_LINE_MAX];
};

/* Parses one logfmt line (no newline). Returns the number of fields, -1 if malformed. */
static int parse_logfmt(const char *line, struct field *f, int max)
{
	int n = 0;
	const char *p = line;
	while (*p) {
		if (n == max)
			return -1;
		size_t k = 0;
		while (*p && *p != '=' && *p != ' ') {
			if (k + 1 >= sizeof(f[n].key))
				return -1;
			f[n].key[k++] = *p++;
		}
		f[n].key[k] = '\0';
		if (*p != '=' || k == 0)
			return -1;
		p++;
		size_t v = 0;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				char c = *p++;
				if (c == '\\') {
					c = *p++;
					if (c == 'n')
						c = '\n';
					else if (c == 't')
						c = '\t';
					else if (c == 'x') {
						char hex[3] = {p[0], p[1], 0};
						if (!p[0] || !p[1])
							return -1;
						c = (char)strtol(hex, NULL, 16);
						p += 2;
					} else if (c != '"' && c != '\\')
						return -1;
				} else if ((unsigned char)c < ' ') {
					return -1;
				}
				f[n].value[v++] = c;
			}
			if (*p != '"')
				return -1;
			p++;
		} else {
			while (*p && *p != ' ') {
				if (*p == '"' || *p == '=' || (unsigned char)*p < ' ')
					return -1;
				f[n].value[v++] = *p++;
			}
		}
		f[n].value[v] = '\0';
		n++;
		if (*p == ' ')
			p++;
		else if (*p)
			return -1;
	}
	return n;
}

static const char *get(const struct field *f, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return f[i].value;
	return NULL;
}

static FILE *out;

/* Everything written since the last call, as lines (static storage, '\n' kept). */
static char *drain(void)
{
	static char buf[1 << 16];
	long len = ftell(out);
	rewind(out);
	size_t n = fread(buf, 1, len > 0 && (size_t)len < sizeof(buf) ? (size_t)len : 0, out);
	buf[n] = '\0';
	rewind(out);
	if (ftruncate(fileno(out), 0) != 0)
		buf[0] = '\0';
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Takes the single line in s (newline stripped) into line. */
static bool one_line(const char *s, char *line, size_t len)
{
	if (count_lines(s) != 1 || strlen(s) >= len)
		return false;
	snprintf(line, len, "%s", s);
	line[strcspn(line, "\n")] = '\0';
	return true;
}

static bool ts_ok(const char *ts)
{
	/* 2024-05-01T12:00:00.123Z */
	if (!ts || strlen(ts) != 24)
		return false;
	const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
	for (int i = 0; i < 24; i++)
		if (shape[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != shape[i])
			return false;
	return true;
}

static void test_levels(void)
{
	static const char *names[] = {"error", "warning", "notice", "info", "debug"};
	for (int i = 0; i < MG_LOG_LEVEL_COUNT; i++) {
		CHECK(mg_log_level_parse(names[i]) == i, "%s", names[i]);
		CHECK(strcmp(mg_log_level_name((enum mg_log_level)i), names[i]) == 0);
	}
	CHECK(mg_log_level_parse("warn") == MG_LOG_WARNING);
	CHECK(mg_log_level_parse("verbose") == -1);
	CHECK(mg_log_level_parse("") == -1);
	CHECK(mg_log_level_parse(NULL) == -1);
	CHECK(mg_log_level_parse("INFO") == -1, "level names are lower case");
	CHECK(strcmp(mg_log_level_name((enum mg_log_level)9), "?") == 0);
}

static void test_line_format(void)
{
	struct field f[MAX_FIELDS];
	char line[MG_LOG_LINE_MAX + 2];
	mg_log_set_level(MG_LOG_INFO);
	drain();

	mg_log(MG_LOG_INFO, "peer added", "peer",
	       "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "endpoint", "[2001:db8::1]:51820",
	       NULL);
	CHECK(one_line(drain(), line, sizeof(line)));
	int n = parse_logfmt(line, f, MAX_FIELDS);
	CHECK(n == 5, "fields %d in %s", n, line);
	CHECK(n > 0 && strcmp(f[0].key, "ts") == 0 && ts_ok(f[0].value), "%s", line);
	CHECK(n > 1 && strcmp(f[1].key, "level") == 0 && strcmp(f[1].value, "info") == 0);
	CHECK(n > 2 && strcmp(f[2].key, "msg") == 0 && strcmp(f[2].value, "peer added") == 0);
	CHECK(strstr(line, "msg=\"peer added\"") != NULL, "%s", line);
	/* '=' in base64 padding forces quotes; the value still reads back exactly. */
	const char *peer = get(f, n, "peer");
	CHECK(peer && strcmp(peer, "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=") == 0);
	CHECK(strstr(line, "endpoint=[2001:db8::1]:51820") != NULL, "plain value unquoted: %s",
	      line);

	/* Awkward values round-trip through quoting and escapes. */
	static const char *values[] = {
	    "",          "two words", "say \"hi\"", "back\\slash", "line1\nline2",
	    "tab\there", "bell\a",    "a=b",        "del\x7f",     "ünïcödé",
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		mg_log(MG_LOG_WARNING, "odd value", "v", values[i], NULL);
		CHECK(one_line(drain(), line, sizeof(line)), "value %zu", i);
		n = parse_logfmt(line, f, MAX_FIELDS);
		const char *v = get(f, n, "v");
		CHECK(n == 4 && v && strcmp(v, values[i]) == 0, "value %zu: %s", i, line);
		CHECK(strcmp(get(f, n, "level") ? get(f, n, "level") : "", "warning") == 0);
	}
	/* A NULL value is an empty string; keys lose characters logfmt cannot carry. */
	mg_log(MG_LOG_ERROR, "x", "bad key!", "1", "k", NULL, NULL);
	CHECK(one_line(drain(), line, sizeof(line)));
	n = parse_logfmt(line, f, MAX_FIELDS);
	CHECK(n == 5 && get(f, n, "bad_key_") && strcmp(get(f, n, "bad_key_"), "1") == 0, "%s",
	      line);
	CHECK(get(f, n, "k") && strcmp(get(f, n, "k"), "") == 0, "%s", line);

	/* The builder's typed fields. */
	struct mg_log_line l;
	mg_log_begin(&l, MG_LOG_NOTICE, "typed");
	mg_log_u64(&l, "u", UINT64_MAX);
	mg_log_i64(&l, "i", INT64_MIN);
	mg_log_bool(&l, "b", true);
	mg_log_fmt(&l, "f", "%d-%s", 7, "x y");
	mg_log_end(&l);
	CHECK(one_line(drain(), line, sizeof(line)));
	n = parse_logfmt(line, f, MAX_FIELDS);
	CHECK(n == 7, "%s", line);
	CHECK(get(f, n, "u") && strcmp(get(f, n, "u"), "18446744073709551615") == 0);
	CHECK(get(f, n, "i") && strcmp(get(f, n, "i"), "-9223372036854775808") == 0);
	CHECK(get(f, n, "b") && strcmp(get(f, n, "b"), "true") == 0);
	CHECK(get(f, n, "f") && strcmp(get(f, n, "f"), "7-x y") == 0);
}

static void test_truncation(void)
{
	struct field f[MAX_FIELDS];
	char line[MG_LOG_LINE_MAX + 2];
	char *big = malloc(3000);
	memset(big, 'a', 2999);
	big[2999] = '\0';
	mg_log(MG_LOG_ERROR, "big", "small", "1", "huge", big, "after", "2", NULL);
	const char *s = drain();
	CHECK(one_line(s, line, sizeof(line)), "len %zu", strlen(s));
	CHECK(strlen(s) <= MG_LOG_LINE_MAX, "line of %zu bytes", strlen(s));
	int n = parse_logfmt(line, f, MAX_FIELDS);
	CHECK(n == 5, "%d", n);
	CHECK(get(f, n, "small") && !get(f, n, "huge") && !get(f, n, "after"), "whole fields only");
	CHECK(get(f, n, "truncated") && strcmp(get(f, n, "truncated"), "true") == 0);
	free(big);

	/* mg_log_format_value reports the length it needs and never overruns. */
	char small[6];
	size_t need = mg_log_format_value(small, sizeof(small), "two words");
	CHECK(need == 11, "need %zu", need);
	CHECK(strlen(small) == 5 && memcmp(small, "\"two ", 5) == 0, "%s", small);
	CHECK(mg_log_format_value(NULL, 0, "abc") == 3);
}

static void test_filter_and_signals(void)
{
	struct field f[MAX_FIELDS];
	char line[MG_LOG_LINE_MAX + 2];
	mg_log_set_level(MG_LOG_NOTICE);
	drain();
	mg_log(MG_LOG_INFO, "hidden", NULL);
	mg_log(MG_LOG_DEBUG, "hidden", NULL);
	CHECK(count_lines(drain()) == 0);
	CHECK(mg_log_enabled(MG_LOG_NOTICE) && !mg_log_enabled(MG_LOG_INFO));
	struct mg_log_line l;
	mg_log_begin(&l, MG_LOG_INFO, "hidden");
	mg_log_u64(&l, "x", 1);
	mg_log_end(&l);
	CHECK(count_lines(drain()) == 0, "a disabled builder writes nothing");

	CHECK(mg_log_install_signals() == 0);
	raise(SIGUSR1);
	CHECK(mg_log_get_level() == MG_LOG_INFO, "SIGUSR1: one step more verbose");
	mg_log(MG_LOG_INFO, "now visible", NULL);
	char *s = drain();
	CHECK(count_lines(s) == 2, "change notice, then the line: %s", s);
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		int n = parse_logfmt(s, f, MAX_FIELDS);
		CHECK(n > 0 && get(f, n, "msg") &&
		      strcmp(get(f, n, "msg"), "log level changed") == 0);
		CHECK(get(f, n, "log_level") && strcmp(get(f, n, "log_level"), "info") == 0);
		CHECK(get(f, n, "level") && strcmp(get(f, n, "level"), "notice") == 0);
		CHECK(strstr(nl + 1, "msg=\"now visible\"") != NULL);
	}
	raise(SIGUSR1);
	raise(SIGUSR1);
	raise(SIGUSR1);
	CHECK(mg_log_get_level() == MG_LOG_DEBUG, "saturates at debug");
	for (int i = 0; i < 6; i++)
		raise(SIGUSR2);
	CHECK(mg_log_get_level() == MG_LOG_ERROR, "saturates at error");
	/* The change is reported even though notice lines are now filtered. */
	mg_log(MG_LOG_ERROR, "still shown", NULL);
	s = drain();
	CHECK(count_lines(s) == 2 && strstr(s, "log_level=error") && strstr(s, "still shown"), "%s",
	      s);
	mg_log(MG_LOG_WARNING, "hidden", NULL);
	CHECK(count_lines(drain()) == 0);
	mg_log_step_level(+1);
	CHECK(mg_log_get_level() == MG_LOG_WARNING);
	mg_log(MG_LOG_WARNING, "shown", NULL);
	CHECK(one_line(drain(), line, sizeof(line)) == false, "notice line plus the line");
	mg_log_set_level(MG_LOG_INFO);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	out = tmpfile();
	if (!out) {
		perror("tmpfile");
		return 1;
	}
	mg_log_set_output(out);
	test_levels();
	test_line_format();
	test_truncation();
	test_filter_and_signals();
	mg_log_set_output(NULL);
	fclose(out);
	return check_done("log");
}
