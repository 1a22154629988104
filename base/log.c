// SPDX-License-Identifier: GPL-2.0-only
/*
 * logfmt lines (see log.h). The level is one atomic int so the SIGUSR1/SIGUSR2 handlers may
 * change it; they only set it and raise a flag, and the next line logged reports the change,
 * since nothing in a signal handler may write through stdio.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* Room kept at the end of every line for " truncated=true\n". */
#define LINE_RESERVE 24

static _Atomic int current_level = MG_LOG_INFO;
static _Atomic int level_changed;
static FILE *log_out;

static const char *const level_names[MG_LOG_LEVEL_COUNT] = {"error", "warning", "notice", "info",
                                                            "debug"};

const char *mg_log_level_name(enum mg_log_level level)
{
	return (unsigned)level < MG_LOG_LEVEL_COUNT ? level_names[level] : "?";
}

int mg_log_level_parse(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < MG_LOG_LEVEL_COUNT; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	if (strcmp(name, "warn") == 0)
		return MG_LOG_WARNING;
	return -1;
}

void mg_log_set_level(enum mg_log_level level)
{
	if ((unsigned)level < MG_LOG_LEVEL_COUNT)
		atomic_store(&current_level, (int)level);
}

enum mg_log_level mg_log_get_level(void)
{
	return (enum mg_log_level)atomic_load_explicit(&current_level, memory_order_relaxed);
}

bool mg_log_enabled(enum mg_log_level level)
{
	return (int)level <= atomic_load_explicit(&current_level, memory_order_relaxed);
}

void mg_log_set_output(FILE *out)
{
	log_out = out;
}

void mg_log_step_level(int delta)
{
	int cur = atomic_load(&current_level), next;
	do {
		next = cur + (delta > 0 ? 1 : -1);
		if (next < MG_LOG_ERROR || next > MG_LOG_DEBUG)
			return;
	} while (!atomic_compare_exchange_weak(&current_level, &cur, next));
	atomic_store(&level_changed, 1);
}

static void on_level_signal(int sig)
{
	int saved = errno;
	mg_log_step_level(sig == SIGUSR1 ? 1 : -1);
	errno = saved;
}

int mg_log_install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_level_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGUSR2, &sa, NULL) != 0)
		return -1;
	return 0;
}

/* ---- formatting ---- */

static bool needs_quotes(const char *v)
{
	if (!*v)
		return true;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == 0x7f)
			return true;
	return false;
}

size_t mg_log_format_value(char *buf, size_t len, const char *value)
{
	size_t n = 0;
#define PUT(c)                              \
	do {                                \
		if (n + 1 < len)            \
			buf[n] = (char)(c); \
		n++;                        \
	} while (0)
	if (!value)
		value = "";
	bool quote = needs_quotes(value);
	if (quote)
		PUT('"');
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		unsigned char c = *p;
		if (!quote) {
			PUT(c);
		} else if (c == '"' || c == '\\') {
			PUT('\\');
			PUT(c);
		} else if (c == '\n') {
			PUT('\\');
			PUT('n');
		} else if (c == '\t') {
			PUT('\\');
			PUT('t');
		} else if (c < ' ' || c == 0x7f) {
			static const char hex[] = "0123456789abcdef";
			PUT('\\');
			PUT('x');
			PUT(hex[c >> 4]);
			PUT(hex[c & 15]);
		} else {
			PUT(c);
		}
	}
	if (quote)
		PUT('"');
#undef PUT
	if (len)
		buf[n < len ? n : len - 1] = '\0';
	return n;
}

/* Appends " key=value" whole, or marks the line truncated and appends nothing. */
static void append_field(struct mg_log_line *l, const char *key, const char *value)
{
	if (!l->enabled || l->truncated)
		return;
	char *start = l->buf + l->len;
	size_t room = sizeof(l->buf) - LINE_RESERVE - l->len, n = 0;
	if (room < 3) {
		l->truncated = true;
		return;
	}
	start[n++] = ' ';
	for (const char *k = key && *key ? key : "_"; *k && n < room; k++) {
		char c = *k;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
		start[n++] = ok ? c : '_';
	}
	if (n + 1 >= room) {
		l->truncated = true;
		return;
	}
	start[n++] = '=';
	size_t need = mg_log_format_value(start + n, room - n, value);
	if (n + need >= room) {
		l->truncated = true;
		return;
	}
	l->len += n + need;
	l->buf[l->len] = '\0';
}

static void line_start(struct mg_log_line *l, const char *level_name, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	l->len = 0;
	l->truncated = false;
	l->buf[0] = '\0';
	l->enabled = true;
	/* ts and level never need quotes: written without the field helper's leading space. */
	l->len = (size_t)snprintf(l->buf, sizeof(l->buf), "ts=%s level=%s", stamp, level_name);
	append_field(l, "msg", msg);
}

static void line_write(struct mg_log_line *l)
{
	if (l->truncated) {
		memcpy(l->buf + l->len, " truncated=true", 15);
		l->len += 15;
	}
	l->buf[l->len++] = '\n';
	FILE *out = log_out ? log_out : stderr;
	flockfile(out);
	fwrite(l->buf, 1, l->len, out);
	fflush(out);
	funlockfile(out);
	l->enabled = false;
	l->len = 0;
}

static void report_level_change(void)
{
	if (!atomic_exchange(&level_changed, 0))
		return;
	/* Always written: a change to a quieter level must still be visible. */
	struct mg_log_line l;
	line_start(&l, "notice", "log level changed");
	append_field(&l, "log_level", mg_log_level_name(mg_log_get_level()));
	line_write(&l);
}

void mg_log_begin(struct mg_log_line *l, enum mg_log_level level, const char *msg)
{
	report_level_change();
	l->enabled = false;
	l->truncated = false;
	l->len = 0;
	if (!mg_log_enabled(level))
		return;
	line_start(l, mg_log_level_name(level), msg);
}

void mg_log_begin_always(struct mg_log_line *l, enum mg_log_level level, const char *msg)
{
	report_level_change();
	l->truncated = false;
	l->len = 0;
	line_start(l, mg_log_level_name(level), msg);
}

void mg_log_str(struct mg_log_line *l, const char *key, const char *value)
{
	append_field(l, key, value);
}

void mg_log_u64(struct mg_log_line *l, const char *key, uint64_t value)
{
	char v[24];
	if (!l->enabled)
		return;
	snprintf(v, sizeof(v), "%" PRIu64, value);
	append_field(l, key, v);
}

void mg_log_i64(struct mg_log_line *l, const char *key, int64_t value)
{
	char v[24];
	if (!l->enabled)
		return;
	snprintf(v, sizeof(v), "%" PRId64, value);
	append_field(l, key, v);
}

void mg_log_bool(struct mg_log_line *l, const char *key, bool value)
{
	append_field(l, key, value ? "true" : "false");
}

void mg_log_fmt(struct mg_log_line *l, const char *key, const char *fmt, ...)
{
	char v[MG_LOG_LINE_MAX];
	if (!l->enabled)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	append_field(l, key, v);
}

void mg_log_end(struct mg_log_line *l)
{
	if (l->enabled)
		line_write(l);
}

void mg_logv(enum mg_log_level level, const char *msg, va_list kv)
{
	struct mg_log_line l;
	mg_log_begin(&l, level, msg);
	if (!l.enabled)
		return;
	for (const char *key; (key = va_arg(kv, const char *)) != NULL;)
		append_field(&l, key, va_arg(kv, const char *));
	line_write(&l);
}

void mg_log(enum mg_log_level level, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	mg_logv(level, msg, ap);
	va_end(ap);
}

void mg_logf(enum mg_log_level level, const char *fmt, ...)
{
	struct mg_log_line l;
	char msg[MG_LOG_LINE_MAX / 2];
	va_list ap;

	if (!mg_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mg_log_begin(&l, level, msg);
	mg_log_end(&l);
}
