// SPDX-License-Identifier: GPL-2.0-only
/*
 * The coordinator benchmark's client: thousands of simulated nodes in one process. It registers
 * them (with proof of possession, as a real node does), opens one long-poll map stream per node,
 * then makes changes through a hub node and timestamps the arrival of the delta that carries
 * each change on every stream. libcurl multi drives all transfers from one epoll loop, so the
 * client costs little next to the server it measures.
 *
 *   coord_bench_client --url http://127.0.0.1:PORT --auth-key KEY --hubs FILE --nodes N
 *                      [--changes K] [--deadline SECONDS] [--server-pid PID] [--json OUT]
 *
 * FILE holds one hub node credential a line; a change is a new endpoint reported by one hub
 * (round robin), which every node sees. Prints one JSON object (also to OUT when given). With
 * COORD_BENCH_TRACE set in the environment, each change's spread (hub reply, 1/50/90/100 % of
 * the streams told) goes to stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#define PROOF_CONTEXT   "meshgate-register-v1"
#define REG_PARALLEL    16
#define OPEN_PARALLEL   256
#define CHANGE_TIMEOUT  60.0
#define MAX_LINE        (1 << 22)
#define STREAM_ENDPOINT "198.51.100.7:41641"

enum node_state { N_IDLE, N_CHALLENGE, N_REGISTER, N_REGISTERED, N_OPENING, N_STREAMING, N_DEAD };

struct node {
	int idx;
	enum node_state state;
	uint8_t sk[32], pk[32];
	char pk_b64[45];
	char cred[128];
	CURL *easy;
	struct curl_slist *hdrs;
	char *buf; /* response bytes not yet split into lines */
	size_t len, cap;
	double hit; /* arrival time of the armed change, 0 while waiting */
};

struct bench {
	const char *url, *auth_key, *json_out;
	char **hub_creds;
	size_t nhubs;
	int nodes, changes, server_pid;
	double deadline;
	uint8_t server_pk[32];
	struct node *n;
	CURLM *multi;
	int epfd;
	long timeout_ms;
	/* counters of the current phase */
	int inflight, registered, reg_failed, streaming, stream_failed, stream_ended;
	const char *armed; /* endpoint string of the change being timed */
	int hits;
	double armed_at;
	bool hub_done;
	long hub_status;
	double hub_at;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
	fprintf(stderr, "coord_bench_client: %s\n", msg);
	exit(1);
}

/* ---- the event loop: curl multi sockets on one epoll ---- */

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct bench *b = userp;
	(void)e;
	struct epoll_event ev = {.data.fd = fd};
	if (what == CURL_POLL_REMOVE) {
		if (sockp != NULL)
			epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
		curl_multi_assign(b->multi, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
	if (sockp == NULL) {
		if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
			perror("epoll_ctl add");
		curl_multi_assign(b->multi, fd, b); /* any non-NULL marks "registered" */
	} else if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, fd, &ev) != 0) {
		perror("epoll_ctl mod");
	}
	return 0;
}

static int on_timer(CURLM *m, long ms, void *userp)
{
	struct bench *b = userp;
	(void)m;
	b->timeout_ms = ms;
	return 0;
}

static void transfer_done(struct bench *b, CURL *e, CURLcode rc);

/* One round of waiting and dispatching, at most max_ms long. */
static void loop_once(struct bench *b, int max_ms)
{
	struct epoll_event evs[1024];
	int wait = max_ms;
	if (b->timeout_ms >= 0 && b->timeout_ms < wait)
		wait = (int)b->timeout_ms;
	int n = epoll_wait(b->epfd, evs, 1024, wait);
	int running;
	if (n <= 0) {
		b->timeout_ms = -1;
		curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	for (int i = 0; i < n; i++) {
		int ev = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
		         (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
		         (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(b->multi, evs[i].data.fd, ev, &running);
	}
	if (b->timeout_ms == 0) {
		b->timeout_ms = -1;
		curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(b->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			transfer_done(b, msg->easy_handle, msg->data.result);
}

/* ---- transfers ---- */

static void buf_add(struct node *n, const char *p, size_t len)
{
	if (n->len + len + 1 > n->cap) {
		size_t cap = n->cap ? n->cap : 4096;
		while (cap < n->len + len + 1)
			cap *= 2;
		char *q = realloc(n->buf, cap);
		if (q == NULL)
			die("out of memory");
		n->buf = q;
		n->cap = cap;
	}
	memcpy(n->buf + n->len, p, len);
	n->len += len;
	n->buf[n->len] = '\0';
}

static struct bench *g_bench; /* for the write callbacks of stream lines */

static void stream_line(struct node *n, const char *line, size_t len)
{
	struct bench *b = g_bench;
	if (n->state == N_OPENING && len > 14 && memcmp(line, "{\"type\":\"full\"", 14) == 0) {
		n->state = N_STREAMING;
		b->streaming++;
		b->inflight--;
	}
	if (b->armed != NULL && n->hit == 0 && memmem(line, len, b->armed, strlen(b->armed))) {
		n->hit = now_s();
		b->hits++;
	}
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *userp)
{
	struct node *n = userp;
	size_t len = size * nmemb;
	if (n->state != N_OPENING && n->state != N_STREAMING) {
		buf_add(n, p, len);
		return len;
	}
	/* Split into lines; only a partial last line is kept. */
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (n->len > 0) {
			buf_add(n, p + start, i - start);
			stream_line(n, n->buf, n->len);
			n->len = 0;
		} else {
			stream_line(n, p + start, i - start);
		}
		start = i + 1;
	}
	if (start < len) {
		if (n->len + len - start > MAX_LINE)
			return 0;
		buf_add(n, p + start, len - start);
	}
	return len;
}

static size_t on_discard(char *p, size_t size, size_t nmemb, void *userp)
{
	(void)p;
	(void)userp;
	return size * nmemb;
}

static CURL *new_request(struct bench *b, const char *path, const char *body, const char *token,
                         struct curl_slist **hdrs, void *wdata)
{
	char url[512], auth[256];
	CURL *e = curl_easy_init();
	if (e == NULL)
		die("curl_easy_init failed");
	snprintf(url, sizeof(url), "%s%s", b->url, path);
	*hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		*hdrs = curl_slist_append(*hdrs, auth);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body ? body : "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wdata ? on_data : on_discard);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, wdata);
	curl_easy_setopt(e, CURLOPT_PRIVATE, wdata);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 16384L);
	curl_multi_add_handle(b->multi, e);
	return e;
}

static void end_request(struct bench *b, struct node *n)
{
	curl_multi_remove_handle(b->multi, n->easy);
	curl_easy_cleanup(n->easy);
	curl_slist_free_all(n->hdrs);
	n->easy = NULL;
	n->hdrs = NULL;
}

static void start_challenge(struct bench *b, struct node *n)
{
	n->state = N_CHALLENGE;
	n->len = 0;
	n->easy = new_request(b, "/v1/register/challenge", "", NULL, &n->hdrs, n);
	b->inflight++;
}

/* Builds the registration request from the challenge reply; NULL when it is malformed. */
static char *register_body(struct bench *b, struct node *n)
{
	json_t *j = json_loadb(n->buf, n->len, 0, NULL);
	const char *ch = json_string_value(json_object_get(j, "challenge"));
	uint8_t chal[64], nonce[crypto_box_NONCEBYTES];
	size_t chlen = 0, ctx = sizeof(PROOF_CONTEXT) - 1;
	char *out = NULL;
	if (ch == NULL || sodium_base642bin(chal, sizeof(chal), ch, strlen(ch), NULL, &chlen, NULL,
	                                    sodium_base64_VARIANT_ORIGINAL) != 0) {
		json_decref(j);
		return NULL;
	}
	uint8_t msg[sizeof(PROOF_CONTEXT) - 1 + 64 + 32], box[sizeof(msg) + crypto_box_MACBYTES];
	memcpy(msg, PROOF_CONTEXT, ctx);
	memcpy(msg + ctx, chal, chlen);
	crypto_generichash(msg + ctx + chlen, 32, (const uint8_t *)b->auth_key, strlen(b->auth_key),
	                   NULL, 0);
	size_t mlen = ctx + chlen + 32;
	randombytes_buf(nonce, sizeof(nonce));
	if (crypto_box_easy(box, msg, mlen, nonce, b->server_pk, n->sk) == 0) {
		char bnonce[64], bproof[256], host[32];
		sodium_bin2base64(bnonce, sizeof(bnonce), nonce, sizeof(nonce),
		                  sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(bproof, sizeof(bproof), box, mlen + crypto_box_MACBYTES,
		                  sodium_base64_VARIANT_ORIGINAL);
		snprintf(host, sizeof(host), "c%d", n->idx);
		json_t *req =
		    json_pack("{ss ss ss ss ss ss}", "auth_key", b->auth_key, "node_key", n->pk_b64,
		              "hostname", host, "challenge", ch, "nonce", bnonce, "proof", bproof);
		out = json_dumps(req, JSON_COMPACT);
		json_decref(req);
	}
	json_decref(j);
	return out;
}

static void start_stream(struct bench *b, struct node *n)
{
	n->state = N_OPENING;
	n->len = 0;
	n->easy = new_request(b, "/v1/map",
	                      "{\"endpoints\":[\"" STREAM_ENDPOINT
	                      "\"],\"routes\":[],\"version\":\"bench\"}",
	                      n->cred, &n->hdrs, n);
	b->inflight++;
}

static void transfer_done(struct bench *b, CURL *e, CURLcode rc)
{
	char *priv = NULL;
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
	struct node *n = (struct node *)priv;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (n == NULL) { /* the hub's change request */
		b->hub_done = true;
		b->hub_at = now_s();
		b->hub_status = rc == CURLE_OK ? status : -1;
		curl_multi_remove_handle(b->multi, e);
		curl_easy_cleanup(e);
		return;
	}
	enum node_state st = n->state;
	end_request(b, n);
	if (st == N_CHALLENGE && rc == CURLE_OK && status == 200) {
		char *body = register_body(b, n);
		if (body != NULL) {
			n->state = N_REGISTER;
			n->len = 0;
			n->easy = new_request(b, "/v1/register", body, NULL, &n->hdrs, n);
			free(body);
			return;
		}
	} else if (st == N_REGISTER && rc == CURLE_OK && status == 200) {
		json_t *j = json_loadb(n->buf, n->len, 0, NULL);
		const char *cred = json_string_value(json_object_get(j, "credential"));
		if (cred != NULL && strlen(cred) < sizeof(n->cred)) {
			snprintf(n->cred, sizeof(n->cred), "%s", cred);
			n->state = N_REGISTERED;
			b->registered++;
			b->inflight--;
			json_decref(j);
			return;
		}
		json_decref(j);
	}
	if (st == N_STREAMING) {
		b->stream_ended++;
		b->streaming--;
	} else {
		if (st == N_OPENING)
			b->stream_failed++;
		else
			b->reg_failed++;
		if (b->reg_failed + b->stream_failed <= 5)
			fprintf(stderr, "coord_bench_client: node %d: %s, HTTP %ld: %.200s\n",
			        n->idx, curl_easy_strerror(rc), status, n->buf ? n->buf : "");
		b->inflight--;
	}
	n->state = N_DEAD;
}

/* ---- phases ---- */

static bool past(const struct bench *b, double t0)
{
	return now_s() - t0 > b->deadline;
}

static void fetch_server_key(struct bench *b)
{
	struct node tmp = {0};
	CURL *e = curl_easy_init();
	char url[512];
	snprintf(url, sizeof(url), "%s/v1/key", b->url);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &tmp);
	tmp.state = N_IDLE;
	if (curl_easy_perform(e) != CURLE_OK || tmp.buf == NULL)
		die("cannot fetch the server key");
	curl_easy_cleanup(e);
	json_t *j = json_loads(tmp.buf, 0, NULL);
	const char *k = json_string_value(json_object_get(j, "public_key"));
	size_t len = 0;
	if (k == NULL ||
	    sodium_base642bin(b->server_pk, 32, k, strlen(k), NULL, &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != 32)
		die("malformed server key");
	json_decref(j);
	free(tmp.buf);
}

static double register_all(struct bench *b, double t0)
{
	double start = now_s();
	int next = 0;
	while (b->registered + b->reg_failed < b->nodes && !past(b, t0)) {
		while (next < b->nodes && b->inflight < REG_PARALLEL)
			start_challenge(b, &b->n[next++]);
		loop_once(b, 100);
	}
	return now_s() - start;
}

static double open_all(struct bench *b, double t0)
{
	double start = now_s();
	int next = 0;
	while (b->streaming + b->stream_failed + b->stream_ended < b->registered && !past(b, t0)) {
		while (next < b->nodes && b->inflight < OPEN_PARALLEL) {
			if (b->n[next].state == N_REGISTERED)
				start_stream(b, &b->n[next]);
			next++;
		}
		loop_once(b, 100);
	}
	return now_s() - start;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;
	return a < c ? -1 : a > c;
}

static double pct(double *v, size_t n, double p)
{
	if (n == 0)
		return -1;
	qsort(v, n, sizeof(double), cmp_double);
	size_t k = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[k < n ? k : n - 1];
}

/* One change: a hub reports a new endpoint; returns the time until the last stream had it. */
static double one_change(struct bench *b, int i, double *deliveries, size_t *ndel)
{
	char ep[64], body[160];
	snprintf(ep, sizeof(ep), "203.0.113.%d:%d", i % 250 + 1, 20000 + i);
	snprintf(body, sizeof(body), "{\"endpoints\":[\"%s\"],\"routes\":[],\"stream\":false}", ep);
	for (int k = 0; k < b->nodes; k++)
		b->n[k].hit = 0;
	b->hits = 0;
	b->hub_done = false;
	b->armed = ep;
	struct curl_slist *hdrs = NULL;
	b->armed_at = now_s();
	CURL *e = new_request(b, "/v1/map", body, b->hub_creds[(size_t)i % b->nhubs], &hdrs, NULL);
	while ((b->hits < b->streaming || !b->hub_done) && now_s() - b->armed_at < CHANGE_TIMEOUT)
		loop_once(b, 50);
	if (!b->hub_done) {
		curl_multi_remove_handle(b->multi, e);
		curl_easy_cleanup(e);
		b->hub_status = -1;
	}
	curl_slist_free_all(hdrs);
	b->armed = NULL;
	double last = 0;
	size_t first = *ndel;
	for (int k = 0; k < b->nodes; k++) {
		if (b->n[k].hit == 0)
			continue;
		double d = b->n[k].hit - b->armed_at;
		deliveries[(*ndel)++] = d;
		if (d > last)
			last = d;
	}
	if (getenv("COORD_BENCH_TRACE") != NULL && *ndel > first) {
		double *v = deliveries + first;
		size_t m = *ndel - first;
		double hub = b->hub_at - b->armed_at;
		fprintf(stderr,
		        "change %d: hub reply %.0f ms; told 1%% %.0f 50%% %.0f 90%% %.0f 100%% "
		        "%.0f ms\n",
		        i, hub * 1000, pct(v, m, 1) * 1000, pct(v, m, 50) * 1000,
		        pct(v, m, 90) * 1000, pct(v, m, 100) * 1000);
	}
	if (b->hub_status != 200 || b->hits < b->streaming)
		return -1;
	return last;
}

static long proc_kib(int pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	size_t fl = strlen(field);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, fl) == 0 && line[fl] == ':')
			v = strtol(line + fl + 1, NULL, 10);
	if (f != NULL)
		fclose(f);
	return v;
}

static char **read_lines(const char *path, size_t *count)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("cannot open the hubs file");
	char **out = NULL, line[256];
	*count = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		char **p = realloc(out, (*count + 1) * sizeof(*p));
		if (p == NULL || (p[*count] = strdup(line)) == NULL)
			die("out of memory");
		out = p;
		(*count)++;
	}
	fclose(f);
	return out;
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	const char *hubs = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			die("every option takes a value");
		if (strcmp(a, "--url") == 0)
			b->url = v;
		else if (strcmp(a, "--auth-key") == 0)
			b->auth_key = v;
		else if (strcmp(a, "--hubs") == 0)
			hubs = v;
		else if (strcmp(a, "--nodes") == 0)
			b->nodes = atoi(v);
		else if (strcmp(a, "--changes") == 0)
			b->changes = atoi(v);
		else if (strcmp(a, "--deadline") == 0)
			b->deadline = atof(v);
		else if (strcmp(a, "--server-pid") == 0)
			b->server_pid = atoi(v);
		else if (strcmp(a, "--json") == 0)
			b->json_out = v;
		else
			die("unknown option (see the comment at the top of coord_bench_client.c)");
		i++;
	}
	if (b->url == NULL || b->auth_key == NULL || hubs == NULL || b->nodes <= 0 ||
	    b->changes <= 0 || b->deadline <= 0)
		die("need --url, --auth-key, --hubs and positive --nodes, --changes, --deadline");
	b->hub_creds = read_lines(hubs, &b->nhubs);
	if (b->nhubs == 0)
		die("the hubs file is empty");
}

int main(int argc, char **argv)
{
	struct bench b = {.changes = 10, .deadline = 600, .timeout_ms = -1};
	parse_args(&b, argc, argv);
	g_bench = &b;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		die("library initialisation failed");
	double t0 = now_s();
	b.n = calloc((size_t)b.nodes, sizeof(*b.n));
	b.multi = curl_multi_init();
	b.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b.n == NULL || b.multi == NULL || b.epfd < 0)
		die("set-up failed");
	curl_multi_setopt(b.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(b.multi, CURLMOPT_SOCKETDATA, &b);
	curl_multi_setopt(b.multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(b.multi, CURLMOPT_TIMERDATA, &b);
	curl_multi_setopt(b.multi, CURLMOPT_MAXCONNECTS, (long)b.nodes + 64);
	for (int i = 0; i < b.nodes; i++) {
		struct node *n = &b.n[i];
		n->idx = i;
		randombytes_buf(n->sk, 32);
		crypto_scalarmult_base(n->pk, n->sk);
		sodium_bin2base64(n->pk_b64, sizeof(n->pk_b64), n->pk, 32,
		                  sodium_base64_VARIANT_ORIGINAL);
	}
	fetch_server_key(&b);
	double reg_s = register_all(&b, t0);
	double open_s = open_all(&b, t0);
	fprintf(stderr, "coord_bench_client: %d registered in %.1fs, %d streams open in %.1fs\n",
	        b.registered, reg_s, b.streaming, open_s);
	size_t cap = (size_t)b.nodes * (size_t)b.changes, ndel = 0;
	double *del = malloc((cap ? cap : 1) * sizeof(double));
	double *last = malloc((size_t)b.changes * sizeof(double));
	int done = 0, failed_changes = 0;
	long rss_max = 0;
	for (int i = 0; del && last && i < b.changes && !past(&b, t0); i++) {
		double l = one_change(&b, i, del, &ndel);
		if (l < 0)
			failed_changes++;
		else
			last[done++] = l;
		long rss = b.server_pid ? proc_kib(b.server_pid, "VmRSS") : -1;
		if (rss > rss_max)
			rss_max = rss;
	}
	bool complete = done == b.changes && b.registered == b.nodes && b.streaming == b.nodes;
	json_t *o =
	    json_pack("{si si si si si si sb sf sf sf sf sf sf sf sf sI sI sf}", "nodes", b.nodes,
	              "registered", b.registered, "streams", b.streaming, "streams_failed",
	              b.stream_failed + b.stream_ended, "changes", done, "changes_failed",
	              failed_changes, "complete", complete, "registrations_per_s",
	              reg_s > 0 ? b.registered / reg_s : 0.0, "streams_open_s", open_s,
	              "change_to_last_told_p50_ms", pct(last, (size_t)done, 50) * 1000,
	              "change_to_last_told_p99_ms", pct(last, (size_t)done, 99) * 1000,
	              "change_to_last_told_max_ms", pct(last, (size_t)done, 100) * 1000,
	              "delivery_p50_ms", pct(del, ndel, 50) * 1000, "delivery_p99_ms",
	              pct(del, ndel, 99) * 1000, "delivery_max_ms", pct(del, ndel, 100) * 1000,
	              "server_rss_kib", (json_int_t)rss_max, "server_peak_rss_kib",
	              (json_int_t)(b.server_pid ? proc_kib(b.server_pid, "VmHWM") : -1),
	              "elapsed_s", now_s() - t0);
	char *s = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
	printf("%s\n", s);
	if (b.json_out != NULL) {
		FILE *f = fopen(b.json_out, "w");
		if (f == NULL || fprintf(f, "%s\n", s) < 0 || fclose(f) != 0)
			die("cannot write the JSON file");
	}
	free(s);
	json_decref(o);
	for (int i = 0; i < b.nodes; i++) {
		if (b.n[i].easy != NULL)
			end_request(&b, &b.n[i]);
		free(b.n[i].buf);
		sodium_memzero(b.n[i].sk, 32);
	}
	for (size_t i = 0; i < b.nhubs; i++)
		free(b.hub_creds[i]);
	free(b.hub_creds);
	free(del);
	free(last);
	free(b.n);
	curl_multi_cleanup(b.multi);
	curl_global_cleanup();
	return complete ? 0 : 1;
}
