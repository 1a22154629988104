// SPDX-License-Identifier: GPL-2.0-only
/*
 * SQLite backend. WAL mode; synchronous=FULL by default, so a commit has reached the disk
 * before the reply that acknowledges it is sent (NORMAL would survive SIGKILL too, because the
 * WAL write is in the kernel's page cache, but not a power cut). Prepared statements are cached
 * by SQL text; callers serialise access (the coordinator's big lock).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "schema.h"
#include "store.h"

#define STMT_BUCKETS 128

struct stmt_entry {
	char *sql;
	sqlite3_stmt *stmt;
	struct stmt_entry *next;
};

struct sqlite_impl {
	sqlite3 *db;
	struct stmt_entry *buckets[STMT_BUCKETS];
};

static unsigned sql_hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % STMT_BUCKETS;
}

static void set_err(struct store *s, sqlite3 *db, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
}

static enum store_status sqlite_exec_script(struct store *s, const char *sql)
{
	struct sqlite_impl *im = s->impl;
	char *msg = NULL;
	if (sqlite3_exec(im->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(s->err, sizeof(s->err), "%s", msg ? msg : "error");
		sqlite3_free(msg);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/*
 * The database holds node credentials' hashes, keys' owners and the policy: nobody else may read
 * it. New files are 0600 through the process umask (main.c); files an older version created
 * 0644 are tightened here, the WAL and shared-memory files included.
 */
static void tighten_files(const char *path)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char p[4096];
	/* A missing directory is created for the store alone. */
	snprintf(p, sizeof(p), "%s", path);
	char *slash = strrchr(p, '/');
	if (slash != NULL && slash != p) {
		*slash = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			fprintf(stderr, "meshgate-coord: cannot create %s: %s\n", p,
			        strerror(errno));
	}
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		struct stat st;
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
		    chmod(p, st.st_mode & 0700) != 0)
			fprintf(stderr, "meshgate-coord: cannot chmod 600 %s: %s\n", p,
			        strerror(errno));
	}
}

static enum store_status sqlite_open(struct store *s, const char *url)
{
	const char *path = url + strlen("sqlite:");
	if (*path == '\0') {
		snprintf(s->err, sizeof(s->err), "empty path in '%s'", url);
		return STORE_ERROR;
	}
	struct sqlite_impl *im = calloc(1, sizeof(*im));
	if (im == NULL) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		return STORE_ERROR;
	}
	s->impl = im;
	tighten_files(path);
	if (sqlite3_open_v2(path, &im->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		set_err(s, im->db, path);
		goto fail;
	}
	sqlite3_busy_timeout(im->db, 5000);
	char pragmas[256];
	snprintf(pragmas, sizeof(pragmas),
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;",
	         s->sqlite_sync_full ? "FULL" : "NORMAL");
	if (sqlite_exec_script(s, pragmas) != STORE_OK)
		goto fail;
	return STORE_OK;
fail:
	sqlite3_close(im->db);
	free(im);
	s->impl = NULL;
	return STORE_ERROR;
}

static void sqlite_close(struct store *s)
{
	struct sqlite_impl *im = s->impl;
	if (im == NULL)
		return;
	for (int i = 0; i < STMT_BUCKETS; i++) {
		struct stmt_entry *e = im->buckets[i];
		while (e != NULL) {
			struct stmt_entry *next = e->next;
			sqlite3_finalize(e->stmt);
			free(e->sql);
			free(e);
			e = next;
		}
	}
	sqlite3_close(im->db);
	free(im);
	s->impl = NULL;
}

static sqlite3_stmt *stmt_get(struct store *s, const char *sql)
{
	struct sqlite_impl *im = s->impl;
	unsigned b = sql_hash(sql);
	for (struct stmt_entry *e = im->buckets[b]; e != NULL; e = e->next)
		if (strcmp(e->sql, sql) == 0)
			return e->stmt;
	sqlite3_stmt *stmt = NULL;
	if (sqlite3_prepare_v2(im->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		set_err(s, im->db, "prepare");
		return NULL;
	}
	struct stmt_entry *e = calloc(1, sizeof(*e));
	if (e == NULL || (e->sql = strdup(sql)) == NULL) {
		free(e);
		sqlite3_finalize(stmt);
		snprintf(s->err, sizeof(s->err), "out of memory");
		return NULL;
	}
	e->stmt = stmt;
	e->next = im->buckets[b];
	im->buckets[b] = e;
	return stmt;
}

static enum store_status sqlite_exec(struct store *s, const char *sql, const char *const *params,
                                     int nparams, store_row_fn fn, void *ctx)
{
	struct sqlite_impl *im = s->impl;
	sqlite3_stmt *stmt = stmt_get(s, sql);
	if (stmt == NULL)
		return STORE_ERROR;
	enum store_status st = STORE_OK;
	for (int i = 0; i < nparams; i++) {
		char name[16];
		snprintf(name, sizeof(name), "$%d", i + 1);
		int idx = sqlite3_bind_parameter_index(stmt, name);
		if (idx == 0)
			continue;
		int rc = params[i] ? sqlite3_bind_text(stmt, idx, params[i], -1, SQLITE_TRANSIENT)
		                   : sqlite3_bind_null(stmt, idx);
		if (rc != SQLITE_OK) {
			set_err(s, im->db, "bind");
			st = STORE_ERROR;
			goto out;
		}
	}
	int ncols = sqlite3_column_count(stmt);
	const char *vals[32];
	if (ncols > 32)
		ncols = 32;
	bool stopped = false;
	for (;;) {
		int rc = sqlite3_step(stmt);
		if (rc == SQLITE_DONE)
			break;
		if (rc == SQLITE_ROW) {
			if (stopped || fn == NULL)
				continue;
			for (int c = 0; c < ncols; c++)
				vals[c] = (const char *)sqlite3_column_text(stmt, c);
			if (fn(ctx, ncols, vals) != 0)
				stopped = true;
			continue;
		}
		set_err(s, im->db, "step");
		st = (sqlite3_extended_errcode(im->db) == SQLITE_CONSTRAINT_UNIQUE ||
		      sqlite3_extended_errcode(im->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
		         ? STORE_CONFLICT
		         : STORE_ERROR;
		goto out;
	}
	s->changes = sqlite3_changes(im->db);
out:
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return st;
}

static enum store_status sqlite_begin(struct store *s)
{
	return sqlite_exec_script(s, "BEGIN IMMEDIATE");
}

static enum store_status sqlite_commit(struct store *s)
{
	return sqlite_exec_script(s, "COMMIT");
}

static void sqlite_rollback(struct store *s)
{
	struct sqlite_impl *im = s->impl;
	if (!sqlite3_get_autocommit(im->db))
		sqlite3_exec(im->db, "ROLLBACK", NULL, NULL, NULL);
}

static const struct store_migration sqlite_migrations[] = {
    COORD_MIGRATIONS("INTEGER PRIMARY KEY AUTOINCREMENT")};

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .exec_script = sqlite_exec_script,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .lock_migrations = NULL,
    .notify = NULL,
    .listen = NULL,
    .migrations = sqlite_migrations,
    .nmigrations = sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]),
};
