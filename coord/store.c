// SPDX-License-Identifier: GPL-2.0-only
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

int store_row_int64(void *ctx, int ncols, const char *const *vals)
{
	int64_t *out = ctx;
	if (ncols > 0 && vals[0] != NULL)
		*out = strtoll(vals[0], NULL, 10);
	return 1;
}

enum store_status store_exec(struct store *s, const char *sql, const char *const *params,
                             int nparams, store_row_fn fn, void *ctx)
{
	enum store_status st = s->ops->exec(s, sql, params, nparams, fn, ctx);
	if (st == STORE_ERROR)
		mg_logf(MG_LOG_ERROR, "store: %s", s->err);
	return st;
}

enum store_status store_begin(struct store *s)
{
	return s->ops->begin(s);
}

enum store_status store_commit(struct store *s)
{
	return s->ops->commit(s);
}

void store_rollback(struct store *s)
{
	s->ops->rollback(s);
}

void store_notify(struct store *s, const char *payload)
{
	if (s->ops->notify != NULL && s->ops->notify(s, payload) != STORE_OK)
		mg_logf(MG_LOG_WARNING, "store: notify '%s' failed: %s", payload, s->err);
}

int store_schema_version(struct store *s)
{
	int64_t v = -1;
	if (s->ops->exec(s, "SELECT MAX(version) FROM schema_migrations", NULL, 0, store_row_int64,
	                 &v) != STORE_OK)
		return -1;
	return (int)v;
}

/*
 * Applies every migration above the recorded version, all in one transaction that holds the
 * migration lock, so a crash leaves the schema at the old version and two replicas starting at
 * once apply each migration exactly once. Running it again changes nothing.
 */
static enum store_status store_migrate(struct store *s)
{
	const struct store_ops *ops = s->ops;
	if (ops->begin(s) != STORE_OK)
		return STORE_ERROR;
	if (ops->lock_migrations != NULL && ops->lock_migrations(s) != STORE_OK)
		goto fail;
	if (ops->exec_script(s, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
	                        "applied_at BIGINT NOT NULL)") != STORE_OK)
		goto fail;
	int current = store_schema_version(s);
	if (current < 0)
		current = 0;
	for (size_t i = 0; i < ops->nmigrations; i++) {
		const struct store_migration *m = &ops->migrations[i];
		if (m->version <= current)
			continue;
		mg_logf(MG_LOG_INFO, "store: applying migration %d (%s)", m->version, m->description);
		if (ops->exec_script(s, m->sql) != STORE_OK)
			goto fail;
		char ver[16], at[24];
		snprintf(ver, sizeof(ver), "%d", m->version);
		snprintf(at, sizeof(at), "%lld", (long long)time(NULL));
		const char *p[] = {ver, m->description, at};
		if (ops->exec(s,
		              "INSERT INTO schema_migrations (version, description, applied_at) "
		              "VALUES ($1, $2, $3)",
		              p, 3, NULL, NULL) != STORE_OK)
			goto fail;
	}
	return ops->commit(s);
fail:
	ops->rollback(s);
	return STORE_ERROR;
}

struct store *store_open(const char *url, bool sqlite_sync_full, char *err, size_t errlen)
{
	const struct store_ops *ops;
	if (strncmp(url, "sqlite:", 7) == 0)
		ops = &store_sqlite_ops;
	else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
		ops = &store_pg_ops;
	else {
		snprintf(err, errlen,
		         "store URL must start with 'sqlite:' or 'postgres://' (got '%.64s')", url);
		return NULL;
	}
	struct store *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->ops = ops;
	s->sqlite_sync_full = sqlite_sync_full;
	if (ops->open(s, url) != STORE_OK) {
		snprintf(err, errlen, "%s: %s", ops->name, s->err);
		free(s);
		return NULL;
	}
	if (store_migrate(s) != STORE_OK) {
		snprintf(err, errlen, "%s: migration failed: %s", ops->name, s->err);
		ops->close(s);
		free(s);
		return NULL;
	}
	return s;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s);
	free(s);
}
