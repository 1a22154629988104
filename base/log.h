/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Structured logging for every program (gateway, agent, coordinator, relay): one line per event,
 * logfmt style, so grep, awk and log shippers read it without a parser of their own:
 *
 *   ts=2024-05-01T12:00:00.123Z level=info msg="peer added" peer=Xb4…= endpoint=192.0.2.1:51820
 *
 * A value is quoted ("…") when it is empty or holds a space, '"', '=' or a control character;
 * inside quotes '"' and '\' are escaped and control characters are written as \n, \t or \xNN.
 * Keys keep only [A-Za-z0-9_.-] (others become '_'). Each line leaves in one write, so lines
 * from several threads never interleave.
 *
 * Levels, from quiet to verbose: error, warning, notice, info, debug (the config's log_level).
 * With mg_log_install_signals, SIGUSR1 raises verbosity one step (towards debug) and SIGUSR2
 * lowers it one step (towards error); the next line logged reports the change.
 *
 * Never log key material: public keys are fine, private and preshared keys never.
 */
#ifndef MESHGATE_BASE_LOG_H
#define MESHGATE_BASE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum mg_log_level {
	MG_LOG_ERROR = 0,
	MG_LOG_WARNING,
	MG_LOG_NOTICE,
	MG_LOG_INFO,
	MG_LOG_DEBUG,
};
#define MG_LOG_LEVEL_COUNT 5

/* The longest line written; longer ones end with truncated=true. */
#define MG_LOG_LINE_MAX 2048

/* "error", "warning", "notice", "info", "debug"; "?" out of range. */
const char *mg_log_level_name(enum mg_log_level level);
/* The names above ("warn" is accepted too); -1 for anything else. */
int mg_log_level_parse(const char *name);

void mg_log_set_level(enum mg_log_level level);
enum mg_log_level mg_log_get_level(void);
/* True when a line at level would be written (to skip building costly values). */
bool mg_log_enabled(enum mg_log_level level);
/* Where lines go: stderr unless set (NULL: back to stderr). Not thread-safe against logging. */
void mg_log_set_output(FILE *out);

/* SIGUSR1: one step more verbose, SIGUSR2: one step quieter. Returns 0 or -1 (errno set). */
int mg_log_install_signals(void);
/* What the handlers do, callable directly (async-signal-safe): delta +1 or -1, saturating. */
void mg_log_step_level(int delta);

/*
 * A line under construction: begin, add fields, end. Fields added to a line that is not
 * enabled are ignored, so call sites need no check of their own:
 *
 *   struct mg_log_line l;
 *   mg_log_begin(&l, MG_LOG_INFO, "handshake complete");
 *   mg_log_str(&l, "peer", b64);
 *   mg_log_u64(&l, "slot", slot);
 *   mg_log_end(&l);
 */
struct mg_log_line {
	bool enabled;
	bool truncated;
	size_t len;
	char buf[MG_LOG_LINE_MAX];
};

void mg_log_begin(struct mg_log_line *l, enum mg_log_level level, const char *msg);
/* A line written whatever the level (an audit trail must not depend on verbosity). */
void mg_log_begin_always(struct mg_log_line *l, enum mg_log_level level, const char *msg);
void mg_log_str(struct mg_log_line *l, const char *key, const char *value);
void mg_log_u64(struct mg_log_line *l, const char *key, uint64_t value);
void mg_log_i64(struct mg_log_line *l, const char *key, int64_t value);
void mg_log_bool(struct mg_log_line *l, const char *key, bool value);
void mg_log_fmt(struct mg_log_line *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the line (with its newline) and resets l. */
void mg_log_end(struct mg_log_line *l);

/*
 * One line with string fields: key, value pairs ending with a NULL key. A NULL value is
 * written as an empty quoted string.
 *   mg_log(MG_LOG_WARNING, "endpoint unreachable", "peer", b64, "error", strerror(e), NULL);
 */
void mg_log(enum mg_log_level level, const char *msg, ...) __attribute__((sentinel));
void mg_logv(enum mg_log_level level, const char *msg, va_list kv);

/*
 * One line whose msg is formatted printf-style, for messages that read as a sentence and carry
 * no field worth filtering on: mg_logf(MG_LOG_INFO, "store %s ready", name).
 */
void mg_logf(enum mg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes value to buf (len bytes, NUL-terminated when len > 0), quoted as described above;
 * returns the length the result needs, as snprintf does. */
size_t mg_log_format_value(char *buf, size_t len, const char *value);

#endif
