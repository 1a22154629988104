/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The store: a small vtable over SQL databases so that SQLite and PostgreSQL are interchangeable.
 * Queries are written once, in the dialect both accept, with text parameters $1..$n. Rows come
 * back as text (NULL for SQL NULL). The domain queries live in db_*.c, above this layer.
 */
#ifndef MESHGATE_COORD_STORE_H
#define MESHGATE_COORD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_status {
	STORE_OK = 0,
	STORE_CONFLICT, /* a UNIQUE or primary-key constraint refused the write */
	STORE_ERROR,
};

/* Called once per result row; returning non-zero stops the iteration (not an error). */
typedef int (*store_row_fn)(void *ctx, int ncols, const char *const *vals);
/* Called by a backend's listener thread for each change another replica announced. */
typedef void (*store_change_fn)(void *ctx, const char *payload);

struct store_migration {
	int version;
	const char *description;
	const char *sql; /* may hold several statements */
};

struct store;

struct store_ops {
	const char *name;
	enum store_status (*open)(struct store *s, const char *url);
	void (*close)(struct store *s);
	enum store_status (*exec)(struct store *s, const char *sql, const char *const *params,
	                          int nparams, store_row_fn fn, void *ctx);
	/* Several statements, no parameters, no rows (migrations). */
	enum store_status (*exec_script)(struct store *s, const char *sql);
	enum store_status (*begin)(struct store *s);
	enum store_status (*commit)(struct store *s);
	void (*rollback)(struct store *s);
	/* Serialises migrations between replicas that start together (inside a transaction). */
	enum store_status (*lock_migrations)(struct store *s);
	/* Broadcasts a change to the other replicas; NULL when the backend has only one server. */
	enum store_status (*notify)(struct store *s, const char *payload);
	/* Starts delivering other replicas' changes to fn; NULL when there are none. */
	enum store_status (*listen)(struct store *s, store_change_fn fn, void *ctx);
	const struct store_migration *migrations;
	size_t nmigrations;
};

struct store {
	const struct store_ops *ops;
	void *impl;
	int64_t changes; /* rows touched by the last exec */
	char err[512];   /* the last error, for logs and 5xx replies */
	bool sqlite_sync_full;
};

/* Opens "sqlite:PATH" or "postgres://..." / "postgresql://..." and runs pending migrations. */
struct store *store_open(const char *url, bool sqlite_sync_full, char *err, size_t errlen);
void store_close(struct store *s);

enum store_status store_exec(struct store *s, const char *sql, const char *const *params,
                             int nparams, store_row_fn fn, void *ctx);
enum store_status store_begin(struct store *s);
enum store_status store_commit(struct store *s);
void store_rollback(struct store *s);
void store_notify(struct store *s, const char *payload);
/* The highest applied schema version, or -1. */
int store_schema_version(struct store *s);

/* Row helpers for the common single-value case. */
int store_row_int64(void *ctx, int ncols, const char *const *vals);

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

#endif
