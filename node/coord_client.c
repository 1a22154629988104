// SPDX-License-Identifier: GPL-2.0-only
/*
 * The coordinator client thread (see coord_client.h for the protocol). libcurl's easy API runs
 * on a thread of its own, so nothing here ever blocks the caller; the caller only takes the
 * queue lock for a moment to pop an event.
 */
#include "coord_client.h"
#include "coord_client_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "crypto.h"
#include "keys.h"
#include "log.h"

#define LINE_MAX_BYTES (64u << 20)
#define BODY_MAX       (1u << 20)
#define QUEUE_MAX      4096
#define HTTP_TIMEOUT_S 15L

const char *mg_coord_client_state_name(enum mg_coord_client_state s)
{
	static const char *const names[] = {"idle", "registering", "connecting", "streaming",
	                                    "backoff"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

/* Sets the status's last_error without logging it (the caller logs a line of its own). */
static void set_last_error(struct mg_coord_client *c, const char *msg)
{
	pthread_mutex_lock(&c->lock);
	snprintf(c->status.last_error, sizeof(c->status.last_error), "%s", msg);
	pthread_mutex_unlock(&c->lock);
}

void mg_cc_set_error(struct mg_coord_client *c, const char *fmt, ...)
{
	va_list ap;
	char buf[sizeof(c->status.last_error)];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	set_last_error(c, buf);
	mg_log(MG_LOG_WARNING, "coordinator", "url", c->cfg.coord.url, "error", buf, NULL);
}

static void set_state(struct mg_coord_client *c, enum mg_coord_client_state s)
{
	pthread_mutex_lock(&c->lock);
	c->status.state = s;
	pthread_mutex_unlock(&c->lock);
}

/* ---- the event queue ---- */

void mg_coord_event_free(struct mg_coord_event *ev)
{
	if (!ev)
		return;
	mg_netmap_update_free(&ev->update);
	free(ev);
}

/* Takes ownership of ev. A full queue (the caller stopped draining) is dropped: the map
 * resynchronises from a fresh full map once the caller catches up. */
static bool push_event(struct mg_coord_client *c, struct mg_coord_event *ev)
{
	uint64_t one = 1;
	bool ok = true;

	pthread_mutex_lock(&c->lock);
	if (c->qlen >= QUEUE_MAX) {
		while (c->head) {
			struct mg_coord_event *e = c->head;

			c->head = e->next;
			mg_coord_event_free(e);
		}
		c->tail = NULL;
		c->qlen = 0;
		c->status.queue_drops++;
		mg_coord_event_free(ev);
		ok = false;
	} else {
		ev->next = NULL;
		if (c->tail)
			c->tail->next = ev;
		else
			c->head = ev;
		c->tail = ev;
		c->qlen++;
		/* A failure means the counter is saturated: it is readable anyway. */
		(void)!write(c->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

struct mg_coord_event *mg_coord_client_next(struct mg_coord_client *c)
{
	struct mg_coord_event *ev;
	uint64_t v;

	pthread_mutex_lock(&c->lock);
	ev = c->head;
	if (ev) {
		c->head = ev->next;
		if (!c->head)
			c->tail = NULL;
		c->qlen--;
		ev->next = NULL;
	}
	/* Reset the eventfd once the queue is empty (a failure: it was zero already). */
	if (!c->head)
		(void)!read(c->efd, &v, sizeof(v));
	pthread_mutex_unlock(&c->lock);
	return ev;
}

int mg_coord_client_fd(const struct mg_coord_client *c)
{
	return c->efd;
}

/* ---- HTTP ---- */

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct mg_coord_client *c = ud;
	size_t n = size * nmemb;
	char *grown;

	if (c->body_len + n + 1 > BODY_MAX)
		return 0;
	grown = realloc(c->body, c->body_len + n + 1);
	if (!grown)
		return 0;
	c->body = grown;
	memcpy(c->body + c->body_len, ptr, n);
	c->body_len += n;
	c->body[c->body_len] = '\0';
	return n;
}

static int xferinfo(void *ud, curl_off_t a, curl_off_t b, curl_off_t d, curl_off_t e)
{
	struct mg_coord_client *c = ud;

	(void)a, (void)b, (void)d, (void)e;
	return atomic_load(&c->stop) || atomic_load(&c->kick);
}

static void body_reset(struct mg_coord_client *c)
{
	if (c->body)
		wg_memzero(c->body, c->body_len);
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
}

/* Marks the coordinator connection so policy routing keeps it out of the tunnel. */
static int sockopt_mark(void *ctx, curl_socket_t fd, curlsocktype purpose)
{
	struct mg_coord_client *c = ctx;
	uint32_t mark = c->cfg.coord.fwmark;

	(void)purpose;
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
		mg_log(MG_LOG_WARNING, "cannot mark the coordinator connection", "error",
		       strerror(errno), NULL);
		return CURL_SOCKOPT_ERROR;
	}
	return CURL_SOCKOPT_OK;
}

static void mark_connections(struct mg_coord_client *c)
{
	if (c->cfg.coord.fwmark) {
		curl_easy_setopt(c->curl, CURLOPT_SOCKOPTFUNCTION, sockopt_mark);
		curl_easy_setopt(c->curl, CURLOPT_SOCKOPTDATA, c);
	}
}

long mg_cc_http_json(struct mg_coord_client *c, const char *method, const char *path, json_t *req,
                     json_t **reply)
{
	char url[MG_PATH_MAX + 64], *body = NULL;
	struct curl_slist *hdr = NULL;
	long status = 0;
	CURLcode rc;

	*reply = NULL;
	body_reset(c);
	snprintf(url, sizeof(url), "%s%s", c->cfg.coord.url, path);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, xferinfo);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	mark_connections(c);
	if (strcmp(method, "POST") == 0) {
		body = req ? json_dumps(req, JSON_COMPACT) : strdup("{}");
		if (!body)
			return 0;
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	}
	rc = curl_easy_perform(c->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	else
		mg_cc_set_error(c, "%s %s: %s", method, path, curl_easy_strerror(rc));
	if (status && c->body)
		*reply = json_loadb(c->body, c->body_len, 0, NULL);
	if (body) {
		wg_memzero(body, strlen(body));
		free(body);
	}
	curl_slist_free_all(hdr);
	body_reset(c);
	return status;
}

/* ---- the map stream ---- */

/* One complete line. Returns false to cut the stream (resync or re-register). */
static bool handle_line(struct mg_coord_client *c, const char *line, size_t len)
{
	struct mg_coord_event *ev;
	char type[24], err[200];
	int rc;

	if (len == 0)
		return true;
	ev = calloc(1, sizeof(*ev));
	if (!ev) {
		c->resync = true;
		return false;
	}
	rc = mg_coord_parse_line(line, len, &ev->update, type, sizeof(type), err, sizeof(err));
	pthread_mutex_lock(&c->lock);
	c->status.lines++;
	c->status.last_line_unix = wall_now();
	if (rc < 0)
		c->status.bad_lines++;
	pthread_mutex_unlock(&c->lock);
	if (rc < 0) {
		/* The map in force stays; a fresh stream starts over with a full map. */
		mg_cc_set_error(c, "malformed map line ignored: %s", err);
		mg_coord_event_free(ev);
		c->resync = true;
		return false;
	}
	if (rc == 0) {
		mg_coord_event_free(ev);
		if (strcmp(type, "expired") == 0 || strcmp(type, "deleted") == 0) {
			mg_cc_set_error(c, "the coordinator %s this node", type);
			ev = calloc(1, sizeof(*ev));
			if (ev) {
				ev->kind = MG_COORD_EV_LOGGED_OUT;
				push_event(c, ev);
			}
		} else if (strcmp(type, "replaced") == 0) {
			c->final_line = END_REPLACED;
		} else if (strcmp(type, "shutdown") == 0) {
			c->final_line = END_SHUTDOWN;
		} else if (strcmp(type, "reconnect") == 0) {
			atomic_store(&c->kick, true);
		} else if (strcmp(type, "heartbeat") != 0) {
			mg_log(MG_LOG_DEBUG, "unknown map line ignored", "type", type, NULL);
		}
		return true;
	}
	if (ev->update.kind == MG_NETMAP_DELTA && (!c->got_full || ev->update.seq != c->seq + 1)) {
		mg_cc_set_error(c, "map delta out of sequence (%llu after %llu): resynchronising",
		                (unsigned long long)ev->update.seq, (unsigned long long)c->seq);
		mg_coord_event_free(ev);
		c->resync = true;
		return false;
	}
	c->seq = ev->update.seq;
	ev->kind = MG_COORD_EV_MAP;
	if (ev->update.kind == MG_NETMAP_FULL) {
		c->got_full = true;
		c->attempt = 0;
		pthread_mutex_lock(&c->lock);
		c->status.state = MG_COORD_CLIENT_STREAMING;
		c->status.last_error[0] = '\0';
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_lock(&c->lock);
	c->status.seq = c->seq;
	pthread_mutex_unlock(&c->lock);
	if (!push_event(c, ev)) {
		c->resync = true;
		return false;
	}
	return true;
}

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct mg_coord_client *c = ud;
	size_t n = size * nmemb, off = 0;

	if (c->http_status == 0)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->http_status);
	if (c->http_status != 200)
		return body_write(ptr, size, nmemb, ud);
	while (off < n) {
		const char *nl = memchr(ptr + off, '\n', n - off);
		size_t take = nl ? (size_t)(nl - (ptr + off)) : n - off;

		if (c->line_len + take + 1 > LINE_MAX_BYTES) {
			mg_cc_set_error(c, "map line longer than %u bytes", LINE_MAX_BYTES);
			c->resync = true;
			return 0;
		}
		if (c->line_len + take + 1 > c->line_cap) {
			size_t cap = c->line_cap ? c->line_cap : 65536;
			char *grown;

			while (cap < c->line_len + take + 1)
				cap *= 2;
			grown = realloc(c->line, cap);
			if (!grown)
				return 0;
			c->line = grown;
			c->line_cap = cap;
		}
		memcpy(c->line + c->line_len, ptr + off, take);
		c->line_len += take;
		off += take;
		if (nl) {
			off++;
			if (!handle_line(c, c->line, c->line_len))
				return 0;
			c->line_len = 0;
		}
	}
	return n;
}

static json_t *report_json(struct mg_coord_client *c)
{
	json_t *eps = json_array(), *routes = json_array();
	char buf[MG_SOCKADDR_STRLEN];

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->cfg.n_endpoints; i++) {
		mg_sockaddr_format(&c->cfg.endpoints[i], buf, sizeof(buf));
		json_array_append_new(eps, json_string(buf));
	}
	for (size_t i = 0; i < c->cfg.n_routes; i++) {
		struct mg_prefix p = c->cfg.routes[i];

		mg_prefix_mask(&p);
		mg_prefix_format(&p, buf, sizeof(buf));
		json_array_append_new(routes, json_string(buf));
	}
	json_t *body =
	    json_pack("{so so ss}", "endpoints", eps, "routes", routes, "version", c->version);
	if (body && c->has_stun) {
		json_t *st = json_array();
		for (size_t i = 0; i < c->n_stun_eps; i++) {
			mg_sockaddr_format(&c->stun_eps[i], buf, sizeof(buf));
			json_array_append_new(st, json_string(buf));
		}
		json_object_set_new(body, "stun_endpoints", st);
		json_object_set_new(body, "nat", json_string(c->nat));
	}
	/* Only a node that uses a relay says so: older coordinators refuse unknown fields. */
	if (body && c->has_home_relay)
		json_object_set_new(body, "home_relay", json_string(c->home_relay));
	if (body && c->cfg.coord.use_exit_node[0])
		json_object_set_new(body, "exit_node", json_string(c->cfg.coord.use_exit_node));
	pthread_mutex_unlock(&c->lock);
	return body;
}

static enum stream_end run_stream(struct mg_coord_client *c)
{
	char url[MG_PATH_MAX + 16], auth[CRED_MAX + 32];
	struct curl_slist *hdr = NULL;
	json_t *req = report_json(c);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	enum stream_end end = END_ERROR;
	unsigned timeout = c->cfg.read_timeout_s ? c->cfg.read_timeout_s : 60;
	CURLcode rc;

	json_decref(req);
	if (!body)
		return END_ERROR;
	c->http_status = 0;
	c->line_len = 0;
	c->seq = 0;
	c->got_full = c->resync = false;
	c->final_line = END_ERROR;
	body_reset(c);
	snprintf(url, sizeof(url), "%s/v1/map", c->cfg.coord.url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->cred);
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	wg_memzero(auth, sizeof(auth));
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	/* A stream that carries nothing (not even a heartbeat) for this long is dead. */
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, (long)timeout);
	curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	mark_connections(c);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, xferinfo);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	set_state(c, MG_COORD_CLIENT_CONNECTING);
	rc = curl_easy_perform(c->curl);
	if (c->http_status == 0)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->http_status);
	if (atomic_load(&c->stop)) {
		end = END_STOP;
	} else if (atomic_exchange(&c->kick, false)) {
		end = END_KICK;
	} else if (c->http_status == 401 || c->http_status == 403) {
		json_t *r = c->body ? json_loadb(c->body, c->body_len, 0, NULL) : NULL;

		mg_cc_set_error(c, "map refused: HTTP %ld: %s", c->http_status,
		                mg_cc_reply_error(r));
		json_decref(r);
		end = END_REREGISTER;
	} else if (c->http_status != 200 && c->http_status != 0) {
		mg_cc_set_error(c, "map refused: HTTP %ld", c->http_status);
	} else if (c->final_line == END_REPLACED) {
		/* Each reconnect would take the stream back, so the two would swap forever. */
		set_last_error(c,
		               "map stream replaced by another one for this node: is this node's "
		               "key in use on another machine?");
		mg_log(MG_LOG_WARNING,
		       "coordinator map stream replaced by another stream for this node", "url",
		       c->cfg.coord.url, "key", c->public_b64, "likely_cause",
		       "the same node key (and state_dir) is in use on another machine: give each "
		       "machine its own key",
		       "action", "waiting the longest back-off before reconnecting", NULL);
		end = END_REPLACED;
	} else if (c->final_line == END_SHUTDOWN) {
		set_last_error(c, "the coordinator shut down the map stream: reconnecting");
		mg_log(MG_LOG_NOTICE, "coordinator shutting down: reconnecting at once", "url",
		       c->cfg.coord.url, NULL);
		end = END_SHUTDOWN;
	} else if (!c->resync) {
		mg_cc_set_error(c, "map stream ended: %s",
		                rc == CURLE_OK ? "closed by the server" : curl_easy_strerror(rc));
	}
	curl_slist_free_all(hdr);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	body_reset(c);
	free(body);
	return end;
}

/* Sleeps up to ms, waking early on stop or kick. Returns false on stop. */
static bool pause_ms(struct mg_coord_client *c, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!atomic_load(&c->stop) && !atomic_load(&c->kick))
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&c->lock);
	atomic_store(&c->kick, false);
	return !atomic_load(&c->stop);
}

enum backoff_kind {
	BACKOFF_NEXT,     /* one more failure: the next step of the exponential back-off */
	BACKOFF_SHORTEST, /* start the back-off over at its minimum */
	BACKOFF_LONGEST,  /* the cap, without jitter */
};

/* Exponential back-off from min to max, with "equal jitter": half fixed, half random. */
static bool back_off(struct mg_coord_client *c, enum backoff_kind kind)
{
	unsigned lo = c->cfg.backoff_min_ms ? c->cfg.backoff_min_ms : 500;
	unsigned hi = c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : 30000;
	unsigned d = lo;

	if (kind == BACKOFF_SHORTEST)
		c->attempt = 0;
	for (unsigned i = 0; i < c->attempt && d < hi; i++)
		d *= 2;
	if (d > hi)
		d = hi;
	if (c->attempt < 32)
		c->attempt++;
	if (kind == BACKOFF_LONGEST)
		d = hi;
	else
		d = d / 2 + randombytes_uniform(d / 2 + 1);
	pthread_mutex_lock(&c->lock);
	c->status.state = MG_COORD_CLIENT_BACKOFF;
	c->status.reconnects++;
	pthread_mutex_unlock(&c->lock);
	return pause_ms(c, d);
}

static void *client_main(void *arg)
{
	struct mg_coord_client *c = arg;

	while (!atomic_load(&c->stop)) {
		enum stream_end end;

		if (!c->have_cred) {
			set_state(c, MG_COORD_CLIENT_REGISTERING);
			if (mg_cc_register(c) != 0) {
				if (!back_off(c, BACKOFF_NEXT))
					break;
				continue;
			}
		}
		end = run_stream(c);
		if (end == END_STOP)
			break;
		if (end == END_REREGISTER) {
			struct mg_coord_event *ev = calloc(1, sizeof(*ev));

			/* Expired or deleted: this node is out of the mesh until it rejoins. */
			if (ev) {
				ev->kind = MG_COORD_EV_LOGGED_OUT;
				push_event(c, ev);
			}
			mg_cc_drop_credential(c);
		}
		if (end == END_KICK)
			continue;
		if (!back_off(c, end == END_SHUTDOWN   ? BACKOFF_SHORTEST
		                 : end == END_REPLACED ? BACKOFF_LONGEST
		                                       : BACKOFF_NEXT))
			break;
	}
	set_state(c, MG_COORD_CLIENT_IDLE);
	return NULL;
}

/* ---- the public API ---- */

static void errmsg(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

struct mg_coord_client *mg_coord_client_new(const struct mg_coord_client_config *cfg, char *err,
                                            size_t errlen)
{
	struct mg_coord_client *c;

	if (!cfg->coord.url[0] || !cfg->coord.authkey_file[0]) {
		errmsg(err, errlen, "coordinator url and authkey_file are required");
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init() < 0) {
		errmsg(err, errlen, "cannot initialise libcurl or libsodium");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		errmsg(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->curl = curl_easy_init();
	pthread_mutex_init(&c->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	snprintf(c->version, sizeof(c->version), "%s", cfg->version ? cfg->version : "meshgate");
	if (cfg->coord.hostname[0])
		snprintf(c->hostname, sizeof(c->hostname), "%s", cfg->coord.hostname);
	else if (gethostname(c->hostname, sizeof(c->hostname) - 1) != 0)
		snprintf(c->hostname, sizeof(c->hostname), "meshgate");
	if (c->efd < 0 || !c->curl || wg_key_public(c->public_key, cfg->private_key) != WG_OK) {
		errmsg(err, errlen, "cannot set up the coordinator client (eventfd, curl or key)");
		mg_coord_client_free(c);
		return NULL;
	}
	wg_key_to_base64(c->public_b64, c->public_key);
	mg_cc_load_credential(c);
	return c;
}

int mg_coord_client_start(struct mg_coord_client *c)
{
	int rc = pthread_create(&c->thread, NULL, client_main, c);

	if (rc)
		return -rc;
	c->started = true;
	return 0;
}

void mg_coord_client_free(struct mg_coord_client *c)
{
	if (!c)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->lock);
		atomic_store(&c->stop, true);
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	while (c->head) {
		struct mg_coord_event *e = c->head;

		c->head = e->next;
		mg_coord_event_free(e);
	}
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->efd >= 0)
		close(c->efd);
	free(c->line);
	body_reset(c);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	wg_memzero(c, sizeof(*c));
	free(c);
}

static void kick(struct mg_coord_client *c)
{
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->kick, true);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void mg_coord_client_set_report(struct mg_coord_client *c, const struct mg_sockaddr *endpoints,
                                size_t n_endpoints, const struct mg_prefix *routes, size_t n_routes)
{
	bool changed;

	if (n_endpoints > MG_MAX_REPORTED_ENDPOINTS)
		n_endpoints = MG_MAX_REPORTED_ENDPOINTS;
	if (n_routes > MG_MAX_ADVERTISED_ROUTES)
		n_routes = MG_MAX_ADVERTISED_ROUTES;
	pthread_mutex_lock(&c->lock);
	changed = n_endpoints != c->cfg.n_endpoints || n_routes != c->cfg.n_routes ||
	          memcmp(endpoints, c->cfg.endpoints, n_endpoints * sizeof(*endpoints)) != 0 ||
	          memcmp(routes, c->cfg.routes, n_routes * sizeof(*routes)) != 0;
	if (changed) {
		memcpy(c->cfg.endpoints, endpoints, n_endpoints * sizeof(*endpoints));
		c->cfg.n_endpoints = n_endpoints;
		memcpy(c->cfg.routes, routes, n_routes * sizeof(*routes));
		c->cfg.n_routes = n_routes;
	}
	pthread_mutex_unlock(&c->lock);
	if (changed && c->started)
		kick(c);
}

void mg_coord_client_set_home_relay(struct mg_coord_client *c, const char *name)
{
	bool changed;

	pthread_mutex_lock(&c->lock);
	changed = !c->has_home_relay || strcmp(c->home_relay, name ? name : "") != 0;
	snprintf(c->home_relay, sizeof(c->home_relay), "%s", name ? name : "");
	c->has_home_relay = true;
	pthread_mutex_unlock(&c->lock);
	if (changed && c->started)
		kick(c);
}

void mg_coord_client_set_stun(struct mg_coord_client *c, const struct mg_sockaddr *eps, size_t n,
                              const char *nat)
{
	bool changed;

	if (n > MG_NETMAP_MAX_STUN_ENDPOINTS)
		n = MG_NETMAP_MAX_STUN_ENDPOINTS;
	if (nat == NULL ||
	    (strcmp(nat, "none") != 0 && strcmp(nat, "easy") != 0 && strcmp(nat, "hard") != 0))
		nat = "unknown";
	pthread_mutex_lock(&c->lock);
	changed = !c->has_stun || n != c->n_stun_eps || strcmp(nat, c->nat) != 0 ||
	          memcmp(eps, c->stun_eps, n * sizeof(*eps)) != 0;
	if (changed) {
		memcpy(c->stun_eps, eps, n * sizeof(*eps));
		c->n_stun_eps = n;
		snprintf(c->nat, sizeof(c->nat), "%s", nat);
		c->has_stun = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (changed && c->started)
		kick(c);
}

void mg_coord_client_resync(struct mg_coord_client *c)
{
	kick(c);
}

void mg_coord_client_status(struct mg_coord_client *c, struct mg_coord_status *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->status;
	pthread_mutex_unlock(&c->lock);
}
