// SPDX-License-Identifier: GPL-2.0-only
/*
 * PostgreSQL backend (libpq). Several coordinator replicas share one database; each change is
 * announced with NOTIFY on channel "meshgate" and every replica LISTENs on a second connection
 * in its own thread. A lost connection is re-established; after a listener reconnect the
 * coordinator is asked to resynchronise, because notices sent meanwhile are lost.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "log.h"
#include "schema.h"
#include "store.h"

struct pg_impl {
	PGconn *conn;
	char *url;
	bool in_tx;
	pthread_t listener;
	bool listening;
	atomic_bool stop;
	store_change_fn fn;
	void *ctx;
};

static void pg_set_err(struct store *s, PGconn *conn, PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
	snprintf(s->err, sizeof(s->err), "%s", msg && *msg ? msg : "unknown PostgreSQL error");
	size_t n = strlen(s->err);
	while (n > 0 && (s->err[n - 1] == '\n' || s->err[n - 1] == ' '))
		s->err[--n] = '\0';
}

static PGconn *pg_connect(const char *url, char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(url);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", c ? PQerrorMessage(c) : "out of memory");
		PQfinish(c);
		return NULL;
	}
	PGresult *r = PQexec(c, "SET client_min_messages TO warning");
	PQclear(r);
	return c;
}

static enum store_status pg_open(struct store *s, const char *url)
{
	struct pg_impl *im = calloc(1, sizeof(*im));
	if (im == NULL || (im->url = strdup(url)) == NULL) {
		free(im);
		snprintf(s->err, sizeof(s->err), "out of memory");
		return STORE_ERROR;
	}
	im->conn = pg_connect(url, s->err, sizeof(s->err));
	if (im->conn == NULL) {
		free(im->url);
		free(im);
		return STORE_ERROR;
	}
	s->impl = im;
	return STORE_OK;
}

static void pg_close(struct store *s)
{
	struct pg_impl *im = s->impl;
	if (im == NULL)
		return;
	if (im->listening) {
		atomic_store(&im->stop, true);
		pthread_join(im->listener, NULL);
	}
	PQfinish(im->conn);
	free(im->url);
	free(im);
	s->impl = NULL;
}

/* Outside a transaction a broken connection is re-established once. */
static bool pg_usable(struct store *s)
{
	struct pg_impl *im = s->impl;
	if (PQstatus(im->conn) == CONNECTION_OK)
		return true;
	if (im->in_tx)
		return false;
	PQreset(im->conn);
	if (PQstatus(im->conn) == CONNECTION_OK) {
		mg_logf(MG_LOG_WARNING, "postgres: reconnected");
		return true;
	}
	pg_set_err(s, im->conn, NULL);
	return false;
}

static enum store_status pg_result(struct store *s, PGresult *res, store_row_fn fn, void *ctx)
{
	struct pg_impl *im = s->impl;
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_set_err(s, im->conn, res);
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		bool unique = state != NULL && strcmp(state, "23505") == 0;
		PQclear(res);
		return unique ? STORE_CONFLICT : STORE_ERROR;
	}
	const char *ct = PQcmdTuples(res);
	s->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
	if (st == PGRES_TUPLES_OK && fn != NULL) {
		int rows = PQntuples(res), cols = PQnfields(res);
		const char *vals[32];
		if (cols > 32)
			cols = 32;
		for (int r = 0; r < rows; r++) {
			for (int c = 0; c < cols; c++)
				vals[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
			if (fn(ctx, cols, vals) != 0)
				break;
		}
	}
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_exec(struct store *s, const char *sql, const char *const *params,
                                 int nparams, store_row_fn fn, void *ctx)
{
	struct pg_impl *im = s->impl;
	if (!pg_usable(s))
		return STORE_ERROR;
	PGresult *res = PQexecParams(im->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (res == NULL) {
		pg_set_err(s, im->conn, NULL);
		return STORE_ERROR;
	}
	return pg_result(s, res, fn, ctx);
}

static enum store_status pg_exec_script(struct store *s, const char *sql)
{
	struct pg_impl *im = s->impl;
	if (!pg_usable(s))
		return STORE_ERROR;
	PGresult *res = PQexec(im->conn, sql);
	if (res == NULL) {
		pg_set_err(s, im->conn, NULL);
		return STORE_ERROR;
	}
	return pg_result(s, res, NULL, NULL);
}

static enum store_status pg_begin(struct store *s)
{
	struct pg_impl *im = s->impl;
	enum store_status st = pg_exec_script(s, "BEGIN");
	im->in_tx = st == STORE_OK;
	return st;
}

static enum store_status pg_commit(struct store *s)
{
	struct pg_impl *im = s->impl;
	enum store_status st = pg_exec_script(s, "COMMIT");
	im->in_tx = false;
	return st;
}

static void pg_rollback(struct store *s)
{
	struct pg_impl *im = s->impl;
	if (im->in_tx) {
		PGresult *res = PQexec(im->conn, "ROLLBACK");
		PQclear(res);
	}
	im->in_tx = false;
}

static enum store_status pg_lock_migrations(struct store *s)
{
	return pg_exec_script(s, "SELECT pg_advisory_xact_lock(7268541)");
}

static enum store_status pg_notify(struct store *s, const char *payload)
{
	const char *p[] = {payload};
	return pg_exec(s, "SELECT pg_notify('meshgate', $1)", p, 1, NULL, NULL);
}

static void *listener_main(void *arg)
{
	struct store *s = arg;
	struct pg_impl *im = s->impl;
	PGconn *conn = NULL;
	bool first = true;
	while (!atomic_load(&im->stop)) {
		if (conn == NULL) {
			char err[256];
			conn = pg_connect(im->url, err, sizeof(err));
			PGresult *r = conn ? PQexec(conn, "LISTEN meshgate") : NULL;
			bool ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
			PQclear(r);
			if (!ok) {
				mg_logf(MG_LOG_WARNING, "postgres listener: cannot listen: %s",
				        conn ? PQerrorMessage(conn) : err);
				PQfinish(conn);
				conn = NULL;
				sleep(1);
				continue;
			}
			/* Anything announced while nobody listened is picked up by a full reload.
			 */
			if (!first)
				mg_logf(MG_LOG_WARNING,
				        "postgres listener: reconnected, resynchronising");
			im->fn(im->ctx, "* resync 0");
			first = false;
		}
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
		int n = poll(&pfd, 1, 200);
		if (n < 0)
			continue;
		if (!PQconsumeInput(conn)) {
			mg_logf(MG_LOG_WARNING, "postgres listener: connection lost: %s",
			        PQerrorMessage(conn));
			PQfinish(conn);
			conn = NULL;
			continue;
		}
		PGnotify *note;
		while ((note = PQnotifies(conn)) != NULL) {
			im->fn(im->ctx, note->extra);
			PQfreemem(note);
		}
	}
	PQfinish(conn);
	return NULL;
}

static enum store_status pg_listen(struct store *s, store_change_fn fn, void *ctx)
{
	struct pg_impl *im = s->impl;
	im->fn = fn;
	im->ctx = ctx;
	if (pthread_create(&im->listener, NULL, listener_main, s) != 0) {
		snprintf(s->err, sizeof(s->err), "cannot start the listener thread");
		return STORE_ERROR;
	}
	im->listening = true;
	return STORE_OK;
}

static const struct store_migration pg_migrations[] = {COORD_MIGRATIONS("BIGSERIAL PRIMARY KEY")};

const struct store_ops store_pg_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock_migrations = pg_lock_migrations,
    .notify = pg_notify,
    .listen = pg_listen,
    .migrations = pg_migrations,
    .nmigrations = sizeof(pg_migrations) / sizeof(pg_migrations[0]),
};
