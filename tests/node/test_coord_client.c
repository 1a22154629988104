// SPDX-License-Identifier: GPL-2.0-only
/*
 * The coordinator client against a real meshgate-coord (argv[1]) on 127.0.0.1 with a temporary
 * SQLite store: registration with proof, the full map and deltas applied through the diff
 * engine, the last map kept while the server is down, resynchronisation after it comes back,
 * credential reuse across a client restart, a deleted peer leaving within 2 s, a server shutdown
 * (SIGTERM: its final "shutdown" line, then a prompt reconnect), two clients sharing one key
 * (the replaced one waits the longest back-off and says why), and the stream parser's handling
 * of malformed lines. A tiny fake HTTP responder serves what the real server never sends: a
 * server key or a challenge with bytes outside the base64 alphabet.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "check.h"
#include "coord_client.h"
#include "keys.h"
#include "log.h"
#include "netmap_apply.h"

static char dir[64], coord_bin[512], conf_path[128], api_key[256], log_path[128];
static int port;
static pid_t server_pid = -1;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

struct buf {
	char data[65536];
	size_t len;
};

static size_t buf_write(char *p, size_t s, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t k = s * n;

	if (b->len + k >= sizeof(b->data))
		return 0;
	memcpy(b->data + b->len, p, k);
	b->len += k;
	b->data[b->len] = '\0';
	return k;
}

/* An admin request; returns the HTTP status and the parsed reply in *out (may be NULL). */
static long admin(const char *method, const char *path, const char *body, json_t **out)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct buf b = {.len = 0};
	char url[256], auth[300];
	long st = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
	if (out)
		*out = json_loads(b.data, 0, NULL);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return st;
}

static void server_start(void)
{
	char log[128];

	snprintf(log, sizeof(log), "%s/coord.log", dir);
	pid_t parent = getpid();
	server_pid = fork();
	if (server_pid == 0) {
		/* A test that crashes (a sanitizer's abort) must not leave its server running. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(127);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(coord_bin, coord_bin, "--config", conf_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		if (admin("GET", "/health", NULL, NULL) == 200)
			return;
		usleep(50000);
	}
	fprintf(stderr, "meshgate-coord did not come up (see %s)\n", log);
}

static void server_kill(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
	server_pid = -1;
}

static bool setup_server(void)
{
	char cmd[1024];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/mg-coordclient-XXXXXX");
	if (!mkdtemp(dir))
		return false;
	port = free_port();
	snprintf(conf_path, sizeof(conf_path), "%s/coord.yaml", dir);
	f = fopen(conf_path, "w");
	fprintf(f,
	        "listen: 127.0.0.1:%d\nstore: sqlite:%s/coord.db\nlog_level: info\nheartbeat: 1s\n",
	        port, dir);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' apikey create", coord_bin, conf_path);
	f = popen(cmd, "r");
	if (!f || !fgets(api_key, sizeof(api_key), f)) {
		if (f)
			pclose(f);
		return false;
	}
	pclose(f);
	api_key[strcspn(api_key, "\r\n")] = '\0';
	server_start();
	return admin("POST", "/v1/admin/users", "{\"name\":\"alice\"}", NULL) == 201;
}

/* A reusable pre-auth key for alice, written to path. */
static bool make_authkey(const char *path)
{
	json_t *r = NULL;
	long st = admin("POST", "/v1/admin/preauthkeys",
	                "{\"user\":\"alice\",\"reusable\":true,\"expiration\":\"1h\"}", &r);
	const char *k = json_string_value(json_object_get(r, "key"));
	FILE *f;

	if (st != 201 || !k) {
		json_decref(r);
		return false;
	}
	f = fopen(path, "w");
	fprintf(f, "%s\n", k);
	fclose(f);
	json_decref(r);
	return true;
}

/* ---- a sink that records peers ---- */

struct rec {
	int adds, updates, removes, selfs;
	struct mg_netmap_self self;
};

static int rec_add(void *ctx, const struct mg_netmap_peer *p)
{
	(void)p;
	((struct rec *)ctx)->adds++;
	return 0;
}

static int rec_update(void *ctx, const struct mg_netmap_peer *o, const struct mg_netmap_peer *p)
{
	(void)o, (void)p;
	((struct rec *)ctx)->updates++;
	return 0;
}

static int rec_remove(void *ctx, const struct mg_netmap_peer *p)
{
	(void)p;
	((struct rec *)ctx)->removes++;
	return 0;
}

static int rec_self(void *ctx, const struct mg_netmap_self *o, const struct mg_netmap_self *s)
{
	struct rec *r = ctx;

	(void)o;
	r->selfs++;
	r->self.n_addresses = s->n_addresses;
	memcpy(r->self.addresses, s->addresses, sizeof(s->addresses));
	return 0;
}

static const struct mg_netmap_sink rec_sink = {rec_add, rec_update, rec_remove, rec_self, NULL};

struct node {
	struct mg_coord_client *cl;
	struct mg_netmap_state st;
	struct rec rec;
	int logged_out, maps, fulls;
	uint8_t pub[WG_KEY_LEN];
};

/* Drains events into the node's map for up to secs, or until done(node) holds. */
static bool pump(struct node *n, double secs, bool (*done)(struct node *, const void *),
                 const void *arg)
{
	double end = now_s() + secs;

	do {
		struct pollfd pfd = {.fd = mg_coord_client_fd(n->cl), .events = POLLIN};
		struct mg_coord_event *ev;

		if (done && done(n, arg))
			return true;
		poll(&pfd, 1, 50);
		while ((ev = mg_coord_client_next(n->cl))) {
			if (ev->kind == MG_COORD_EV_MAP) {
				n->maps++;
				n->fulls += ev->update.kind == MG_NETMAP_FULL;
				CHECK(mg_netmap_apply(&n->st, &ev->update, time(NULL), &rec_sink,
				                      &n->rec) == 0,
				      "apply");
			} else {
				n->logged_out++;
				mg_netmap_clear(&n->st, &rec_sink, &n->rec);
			}
			mg_coord_event_free(ev);
		}
	} while (now_s() < end);
	return done ? done(n, arg) : true;
}

static bool has_peer(struct node *n, const void *key)
{
	return mg_netmap_find(&n->st, key) != NULL;
}

/* The peer is there with the endpoint it reported (registration comes before its report). */
static bool peer_reported(struct node *n, const void *key)
{
	const struct mg_netmap_peer *p = mg_netmap_find(&n->st, key);

	return p && p->n_endpoints > 0;
}

static bool peer_nat_reported(struct node *n, const void *key)
{
	const struct mg_netmap_peer *p = mg_netmap_find(&n->st, key);

	return p && p->n_stun_endpoints == 1 && p->stun_endpoints[0].port == 40000 && p->nat_hard;
}

static bool lacks_peer(struct node *n, const void *key)
{
	return mg_netmap_find(&n->st, key) == NULL;
}

static bool got_full(struct node *n, const void *min)
{
	return n->fulls >= *(const int *)min;
}

static void node_start(struct node *n, const char *state_dir, const char *authkey,
                       const uint8_t sk[WG_KEY_LEN], const char *endpoint, unsigned backoff_max_ms)
{
	struct mg_coord_client_config cfg;
	char err[200];

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.coord.url, sizeof(cfg.coord.url), "http://127.0.0.1:%d", port);
	snprintf(cfg.coord.authkey_file, sizeof(cfg.coord.authkey_file), "%s", authkey);
	snprintf(cfg.coord.state_dir, sizeof(cfg.coord.state_dir), "%s", state_dir);
	memcpy(cfg.private_key, sk, WG_KEY_LEN);
	cfg.version = "test-coord-client";
	mg_sockaddr_parse(endpoint, &cfg.endpoints[0]);
	cfg.n_endpoints = 1;
	mg_prefix_parse("10.77.0.0/24", &cfg.routes[0]);
	cfg.n_routes = 1;
	cfg.backoff_min_ms = 100;
	cfg.backoff_max_ms = backoff_max_ms;
	wg_key_public(n->pub, sk);
	n->cl = mg_coord_client_new(&cfg, err, sizeof(err));
	CHECK(n->cl != NULL, "client: %s", err);
	if (n->cl)
		CHECK(mg_coord_client_start(n->cl) == 0);
}

static void test_parser(void)
{
	static const char *const bad[] = {
	    "not json",
	    "[1,2]",
	    "{\"seq\":1}",
	    "{\"type\":\"full\",\"seq\":0,\"peers\":[]}",
	    "{\"type\":\"full\",\"seq\":1}",
	    "{\"type\":\"full\",\"seq\":1,\"peers\":[{\"key\":\"short\",\"allowed_ips\":[]}]}",
	    "{\"type\":\"full\",\"seq\":1,\"peers\":[{\"key\":"
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]}",
	    "{\"type\":\"full\",\"seq\":1,\"peers\":[{\"key\":"
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
	    "\"allowed_ips\":[\"10.0.0.0/33\"]}]}",
	    "{\"type\":\"delta\",\"seq\":2,\"peers_removed\":[\"x\"]}",
	    "{\"type\":\"delta\",\"seq\":2,\"peers_changed\":{}}",
	    "{\"type\":\"full\",\"type\":\"delta\",\"seq\":1,\"peers\":[]}",
	    "{\"type\":\"full\",\"seq\":1,\"peers\":[],\"self\":{\"key\":1}}",
	};
	struct mg_netmap_update u;
	char type[16], err[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(mg_coord_parse_line(bad[i], strlen(bad[i]), &u, type, sizeof(type), err,
		                          sizeof(err)) == -1,
		      "malformed line %zu accepted", i);
		CHECK(err[0] != '\0' && u.n_peers == 0 && u.peers == NULL, "line %zu: error set",
		      i);
	}
	const char *hb = "{\"type\":\"heartbeat\",\"seq\":3,\"time\":5}";
	CHECK(mg_coord_parse_line(hb, strlen(hb), &u, type, sizeof(type), err, sizeof(err)) == 0 &&
	      strcmp(type, "heartbeat") == 0);
	static const char *const finals[] = {"shutdown", "replaced", "reconnect", "expired",
	                                     "deleted"};
	for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "{\"type\":\"%s\"}", finals[i]);

		CHECK(mg_coord_parse_line(line, (size_t)n, &u, type, sizeof(type), err,
		                          sizeof(err)) == 0 &&
		          strcmp(type, finals[i]) == 0,
		      "final line %s: no map, its type reported", finals[i]);
	}
	const char *ok =
	    "{\"type\":\"full\",\"seq\":1,\"self\":null,\"filter\":[],\"peers\":[{\"key\":"
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"allowed_ips\":["
	    "\"100.64.0.2/32\",\"10.1.0.0/24\"],\"endpoints\":[\"192.0.2.1:51820\","
	    "\"fe80::1%eth0:1\",\"192.0.2.1:51820\"],\"online\":true,\"extra\":1}]}";
	CHECK(mg_coord_parse_line(ok, strlen(ok), &u, type, sizeof(type), err, sizeof(err)) == 1,
	      "%s", err);
	CHECK(u.kind == MG_NETMAP_FULL && u.n_peers == 1 && u.peers[0].n_map_allowed_ips == 2 &&
	          u.peers[0].n_endpoints == 1 && !u.has_self,
	      "unusable and duplicate endpoints skipped, unknown keys ignored");
	mg_netmap_update_free(&u);
}

/* ---- a fake coordinator, for replies the real one never sends ---- */

#define FAKE_MAPS 8

struct fake {
	int fd, port;
	const char *key_body, *challenge_body; /* the JSON replies to serve */
	/* The streams POST /v1/map gets, in order (then empty ones); each ends with a close. */
	const char *map_bodies[FAKE_MAPS];
	double map_times[FAKE_MAPS]; /* when each map request arrived */
	atomic_int registers, maps;  /* requests seen */
	atomic_bool stop;
	pthread_t thread;
};

static void fake_reply(int fd, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                 body ? "200 OK" : "404 Not Found", body ? strlen(body) : 2);

	(void)!write(fd, head, (size_t)n);
	(void)!write(fd, body ? body : "{}", body ? strlen(body) : 2);
}

/* Reads one request (headers and a Content-Length body) into req; false on a short read. */
static bool fake_read(int fd, char *req, size_t cap)
{
	size_t len = 0, want = 0;
	char *hdr_end = NULL;

	while (len + 1 < cap) {
		ssize_t k = read(fd, req + len, cap - 1 - len);

		if (k <= 0)
			return false;
		len += (size_t)k;
		req[len] = '\0';
		if (!hdr_end && (hdr_end = strstr(req, "\r\n\r\n"))) {
			const char *cl = strcasestr(req, "\r\nContent-Length:");

			want = (size_t)(hdr_end + 4 - req) +
			       (cl && cl < hdr_end ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (hdr_end && len >= want)
			return true;
	}
	return false;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct timeval tv = {.tv_sec = 2};

	while (!atomic_load(&f->stop)) {
		struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
		char req[8192];
		int cfd;

		if (poll(&pfd, 1, 50) <= 0 || (cfd = accept(f->fd, NULL, NULL)) < 0)
			continue;
		setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (fake_read(cfd, req, sizeof(req))) {
			if (strncmp(req, "GET /v1/key ", 12) == 0) {
				fake_reply(cfd, f->key_body);
			} else if (strncmp(req, "POST /v1/register/challenge ", 28) == 0) {
				fake_reply(cfd, f->challenge_body);
			} else if (strncmp(req, "POST /v1/map ", 13) == 0) {
				int i = atomic_load(&f->maps);
				const char *body =
				    i < FAKE_MAPS && f->map_bodies[i] ? f->map_bodies[i] : "";
				static const char head[] =
				    "HTTP/1.1 200 OK\r\nContent-Type: "
				    "application/x-ndjson\r\nConnection: close\r\n\r\n";

				if (i < FAKE_MAPS)
					f->map_times[i] = now_s();
				atomic_store(&f->maps, i + 1);
				(void)!write(cfd, head, sizeof(head) - 1);
				(void)!write(cfd, body, strlen(body));
			} else {
				if (strncmp(req, "POST /v1/register ", 18) == 0)
					atomic_fetch_add(&f->registers, 1);
				fake_reply(cfd, NULL);
			}
		}
		close(cfd);
	}
	return NULL;
}

static bool fake_start(struct fake *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(f->fd, 8) != 0 || getsockname(f->fd, (struct sockaddr *)&sa, &len) != 0)
		return false;
	f->port = ntohs(sa.sin_port);
	atomic_store(&f->stop, false);
	atomic_store(&f->registers, 0);
	atomic_store(&f->maps, 0);
	return pthread_create(&f->thread, NULL, fake_main, f) == 0;
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	close(f->fd);
}

/*
 * The client against a fake server whose key or challenge breaks the base64 rules: it must
 * refuse the reply with an error naming the field and the position, and never register.
 */
static void bad_register_reply(const char *name, const char *key_body, const char *challenge_body,
                               const char *authkey, const char *want_error)
{
	struct mg_coord_client_config cfg;
	struct mg_coord_client *cl;
	struct mg_coord_status s;
	struct fake f = {.key_body = key_body, .challenge_body = challenge_body};
	char err[200];
	double end;

	if (!fake_start(&f)) {
		CHECK(false, "%s: fake server: %s", name, strerror(errno));
		return;
	}
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.coord.url, sizeof(cfg.coord.url), "http://127.0.0.1:%d", f.port);
	snprintf(cfg.coord.authkey_file, sizeof(cfg.coord.authkey_file), "%s", authkey);
	wg_key_generate_private(cfg.private_key, NULL, NULL);
	cfg.backoff_min_ms = 100;
	cfg.backoff_max_ms = 400;
	cl = mg_coord_client_new(&cfg, err, sizeof(err));
	CHECK(cl != NULL && mg_coord_client_start(cl) == 0, "%s: client: %s", name, err);
	if (cl) {
		end = now_s() + 5;
		do {
			usleep(20000);
			mg_coord_client_status(cl, &s);
		} while (!strstr(s.last_error, want_error) && now_s() < end);
		CHECK(strstr(s.last_error, want_error) != NULL, "%s: error '%s', want '%s'", name,
		      s.last_error, want_error);
		CHECK(!s.registered && s.registrations == 0 && s.reconnects >= 1,
		      "%s: not registered, retried", name);
		mg_coord_client_free(cl);
	}
	fake_stop(&f);
	CHECK(atomic_load(&f.registers) == 0, "%s: no registration attempted", name);
}

static void test_bad_base64_replies(void)
{
	uint8_t sk[WG_KEY_LEN], pk[WG_KEY_LEN], out[40];
	char authkey[128], good_key[WG_KEY_B64_SIZE], key_body[128], ch_body[128], *key_text,
	    *ch_text;
	size_t n = 0;
	FILE *f;

	snprintf(authkey, sizeof(authkey), "%s/authkey-fake", dir);
	f = fopen(authkey, "w");
	fprintf(f, "not-a-real-key\n");
	fclose(f);
	wg_key_generate_private(sk, NULL, NULL);
	wg_key_public(pk, sk);
	wg_key_to_base64(good_key, pk);
	/* "\xc3\xa9" (U+00E9) is valid JSON text, and two bytes libsodium 1.0.18 decodes. */
	snprintf(key_body, sizeof(key_body),
	         "{\"public_key\":\"AAAAAAAAAA\xc3\xa9"
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}");
	key_text = strchr(key_body + 14, '"') + 1;
	printf("libsodium %s alone %s the key with a high byte\n", sodium_version_string(),
	       sodium_base642bin(out, WG_KEY_LEN, key_text, 44, NULL, &n, NULL,
	                         sodium_base64_VARIANT_ORIGINAL) == 0
	           ? "accepts"
	           : "refuses");
	bad_register_reply("server key", key_body, NULL, authkey,
	                   "public_key: invalid base64 character at position 10");

	snprintf(key_body, sizeof(key_body), "{\"public_key\":\"%s\"}", good_key);
	snprintf(ch_body, sizeof(ch_body),
	         "{\"challenge\":\"AAAAAAAAAA\xc3\xa9"
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}");
	ch_text = strchr(ch_body + 13, '"') + 1;
	printf("libsodium alone %s the challenge with a high byte\n",
	       sodium_base642bin(out, sizeof(out), ch_text, 56, NULL, &n, NULL,
	                         sodium_base64_VARIANT_ORIGINAL) == 0
	           ? "accepts"
	           : "refuses");
	bad_register_reply("challenge", key_body, ch_body, authkey,
	                   "challenge: invalid base64 character at position 10");
	/* 40 bytes need two '=': one, after a digit too many, is refused too. */
	snprintf(ch_body, sizeof(ch_body), "{\"challenge\":\"%.55s=\"}",
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	bad_register_reply("challenge padding", key_body, ch_body, authkey,
	                   "challenge: invalid base64 padding at position 54");
	snprintf(ch_body, sizeof(ch_body), "{\"challenge\":\"QUJD\"}");
	bad_register_reply("challenge length", key_body, ch_body, authkey,
	                   "challenge: expected 56 base64 characters, got 4");
}

/* How many lines of the client's log hold needle. */
static int log_count(const char *needle)
{
	char line[4096];
	int n = 0;
	FILE *f = fopen(log_path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* a2, then a3 (besides the fake server's stream) */
static bool replaced_twice(struct node *n, const void *unused)
{
	(void)n, (void)unused;
	return log_count("replaced by another stream") >= 3;
}

/*
 * How the client waits after each kind of stream end, against a fake server whose streams are
 * scripted: three that just close (the exponential back-off grows: 50-100, 100-200, 200-400
 * ms), then one ending with "shutdown" (back to the shortest, 50-100 ms, where the next step
 * would be 400-800), then one ending with "replaced" (the whole 2 s cap). The client starts
 * with a saved credential, so it goes straight to the map request.
 */
static void test_final_lines(void)
{
	static const char full[] = "{\"type\":\"full\",\"seq\":1,\"peers\":[]}\n";
	struct fake f = {.map_bodies = {"", "", "", "{\"type\":\"shutdown\"}\n",
	                                "{\"type\":\"heartbeat\",\"seq\":0,\"time\":1}\n"
	                                "{\"type\":\"replaced\"}\n",
	                                full}};
	struct mg_coord_client_config cfg;
	struct mg_coord_client *cl = NULL;
	struct mg_coord_status s;
	char pub_b64[WG_KEY_B64_SIZE], path[MG_PATH_MAX + 16], err[200];
	uint8_t pub[WG_KEY_LEN];
	double end;
	FILE *fp;

	if (!fake_start(&f)) {
		CHECK(false, "fake server: %s", strerror(errno));
		return;
	}
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.coord.url, sizeof(cfg.coord.url), "http://127.0.0.1:%d", f.port);
	snprintf(cfg.coord.authkey_file, sizeof(cfg.coord.authkey_file), "%s/authkey-fake", dir);
	snprintf(cfg.coord.state_dir, sizeof(cfg.coord.state_dir), "%s/state-fake", dir);
	wg_key_generate_private(cfg.private_key, NULL, NULL);
	wg_key_public(pub, cfg.private_key);
	wg_key_to_base64(pub_b64, pub);
	mkdir(cfg.coord.state_dir, 0700);
	snprintf(path, sizeof(path), "%s/node.json", cfg.coord.state_dir);
	fp = fopen(path, "w");
	fprintf(fp, "{\"url\":\"%s\",\"node_key\":\"%s\",\"credential\":\"fake\",\"node_id\":7}",
	        cfg.coord.url, pub_b64);
	fclose(fp);
	cfg.backoff_min_ms = 100;
	cfg.backoff_max_ms = 2000;
	cl = mg_coord_client_new(&cfg, err, sizeof(err));
	CHECK(cl != NULL && mg_coord_client_start(cl) == 0, "client: %s", err);
	end = now_s() + 8;
	while (cl && atomic_load(&f.maps) < 6 && now_s() < end)
		usleep(10000);
	if (cl) {
		mg_coord_client_status(cl, &s);
		mg_coord_client_free(cl);
	}
	fake_stop(&f);
	CHECK(atomic_load(&f.maps) >= 6, "six map requests: %d", atomic_load(&f.maps));
	if (atomic_load(&f.maps) < 6)
		return;
	CHECK(s.registrations == 0, "the saved credential was used");
	CHECK(log_count("coordinator shutting down") == 1, "the shutdown line logged");
	CHECK(log_count("unknown map line") == 0, "no final line taken for an unknown one");
	CHECK(log_count("replaced by another stream") == 1 && log_count("same node key") == 1,
	      "the replaced stream logged with its likely cause");
	double gap[5];
	for (int i = 0; i < 5; i++)
		gap[i] = (f.map_times[i + 1] - f.map_times[i]) * 1000;
	printf("waits after close, close, close, shutdown, replaced: %.0f %.0f %.0f %.0f %.0f ms\n",
	       gap[0], gap[1], gap[2], gap[3], gap[4]);
	CHECK(gap[2] >= 200, "the back-off grew before the shutdown: %.0f ms", gap[2]);
	CHECK(gap[3] >= 50 && gap[3] < 300, "shortest back-off after shutdown: %.0f ms", gap[3]);
	CHECK(gap[4] >= 1990 && gap[4] < 2600, "the whole cap after replaced: %.0f ms", gap[4]);
}

/* Waits until the client is (or is no longer) backing off; the time it happened, or -1. */
static double wait_backoff(struct mg_coord_client *cl, bool in_backoff, double secs,
                           struct mg_coord_status *s)
{
	double end = now_s() + secs;

	do {
		mg_coord_client_status(cl, s);
		if ((s->state == MG_COORD_CLIENT_BACKOFF) == in_backoff)
			return now_s();
		usleep(5000);
	} while (now_s() < end);
	return -1;
}

int main(int argc, char **argv)
{
	uint8_t ska[WG_KEY_LEN], skb[WG_KEY_LEN];
	char key_a[128], key_b[128], st_a[128], st_b[128];
	struct node a = {0}, b = {0}, a2 = {0}, a3 = {0};
	FILE *log_file;
	struct mg_coord_status s;
	json_t *r = NULL;
	int two = 2, one = 1;
	double t0;

	if (argc < 2) {
		fprintf(stderr, "usage: test_coord_client MESHGATE_COORD\n");
		return 2;
	}
	snprintf(coord_bin, sizeof(coord_bin), "%s", argv[1]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_parser();
	if (!setup_server()) {
		fprintf(stderr, "cannot start meshgate-coord\n");
		server_kill();
		return 1;
	}
	/* The clients' log, to check what they say about a shutdown and a replaced stream. */
	snprintf(log_path, sizeof(log_path), "%s/client.log", dir);
	log_file = fopen(log_path, "w");
	CHECK(log_file != NULL, "%s: %s", log_path, strerror(errno));
	mg_log_set_output(log_file);
	mg_log_set_level(MG_LOG_INFO);
	test_bad_base64_replies();
	test_final_lines();
	snprintf(key_a, sizeof(key_a), "%s/authkey-a", dir);
	snprintf(key_b, sizeof(key_b), "%s/authkey-b", dir);
	snprintf(st_a, sizeof(st_a), "%s/state-a", dir);
	snprintf(st_b, sizeof(st_b), "%s/state-b", dir);
	CHECK(make_authkey(key_a) && make_authkey(key_b));
	wg_key_generate_private(ska, NULL, NULL);
	wg_key_generate_private(skb, NULL, NULL);

	/* Register and receive the first full map. */
	mg_netmap_state_init(&a.st);
	mg_netmap_state_init(&b.st);
	node_start(&a, st_a, key_a, ska, "192.0.2.10:51820", 800);
	CHECK(pump(&a, 10, got_full, &one), "a's full map");
	mg_coord_client_status(a.cl, &s);
	CHECK(s.registered && s.registrations == 1 && s.state == MG_COORD_CLIENT_STREAMING,
	      "a registered and streaming: state %s, %s", mg_coord_client_state_name(s.state),
	      s.last_error);
	CHECK(a.rec.selfs == 1 && a.rec.self.n_addresses == 2 &&
	          a.rec.self.addresses[0].family == 4,
	      "self addresses from the map");
	CHECK(a.st.n_peers == 0);
	struct stat sb;
	char path[200];
	snprintf(path, sizeof(path), "%s/node.json", st_a);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0, "credential saved, mode 0600");

	/* A second node joins: a gets a delta adding it, with b's endpoint. */
	node_start(&b, st_b, key_b, skb, "192.0.2.20:51820", 800);
	CHECK(pump(&a, 10, peer_reported, b.pub), "b appears in a's map with its endpoint");
	CHECK(a.rec.adds == 1 && a.fulls == 1 && a.rec.removes == 0, "by deltas, adds %d fulls %d",
	      a.rec.adds, a.fulls);
	if (mg_netmap_find(&a.st, b.pub)) {
		const struct mg_netmap_peer *p = mg_netmap_find(&a.st, b.pub);
		CHECK(p->n_endpoints == 1 && p->endpoints[0].port == 51820 && p->n_allowed_ips == 2,
		      "b: endpoint reported, overlay /32 and /128 (no route approved)");
	}
	pump(&b, 5, has_peer, a.pub);
	CHECK(has_peer(&b, a.pub), "a in b's map");

	/* b learns its mapping with STUN: a sees it within a stream reconnect. */
	struct mg_sockaddr stun_ep;
	mg_sockaddr_parse("198.51.100.20:40000", &stun_ep);
	mg_coord_client_set_stun(b.cl, &stun_ep, 1, "hard");
	CHECK(pump(&a, 5, peer_nat_reported, b.pub),
	      "b's STUN endpoint and hard NAT reach a's map");

	/* The server dies: the last map stays, the client backs off. */
	server_kill();
	pump(&a, 2.5, NULL, NULL);
	mg_coord_client_status(a.cl, &s);
	CHECK(has_peer(&a, b.pub) && a.logged_out == 0, "last map kept while the server is down");
	CHECK(s.state == MG_COORD_CLIENT_BACKOFF || s.state == MG_COORD_CLIENT_CONNECTING,
	      "state while down: %s", mg_coord_client_state_name(s.state));
	CHECK(s.reconnects >= 2, "retried with back-off: %llu", (unsigned long long)s.reconnects);

	/* It comes back: a fresh full map, diffed against what a has: nothing to add or remove. */
	int adds = a.rec.adds, removes = a.rec.removes;
	server_start();
	CHECK(pump(&a, 10, got_full, &two), "a resynchronised with a full map");
	CHECK(has_peer(&a, b.pub) && a.rec.adds == adds && a.rec.removes == removes,
	      "resync changed no membership: adds %d->%d removes %d->%d", adds, a.rec.adds, removes,
	      a.rec.removes);
	mg_coord_client_status(a.cl, &s);
	CHECK(s.registrations == 1, "no new registration after the restart");

	/* A client restart reuses the saved credential. */
	mg_coord_client_free(a.cl);
	a.cl = NULL;
	mg_netmap_state_init(&a2.st);
	/* A long cap: the replaced test below measures a2's back-off. */
	node_start(&a2, st_a, key_a, ska, "192.0.2.10:51820", 3000);
	CHECK(pump(&a2, 10, got_full, &one), "restarted client streams");
	mg_coord_client_status(a2.cl, &s);
	CHECK(s.registered && s.registrations == 0, "credential reused: %llu registrations",
	      (unsigned long long)s.registrations);
	CHECK(admin("GET", "/v1/admin/nodes", NULL, &r) == 200 &&
	          json_array_size(json_object_get(r, "nodes")) == 2,
	      "still two nodes on the server");
	json_decref(r);

	/*
	 * SIGTERM: the server's last line is "shutdown"; a2 says so and starts over at its
	 * shortest back-off (100 ms here), not its cap (3 s), so it would land on another replica
	 * at once. Its second back-off begins once the first retry (refused: nothing listens) is
	 * over.
	 */
	mg_coord_client_status(a2.cl, &s);
	uint64_t reconnects = s.reconnects;
	int fulls = a2.fulls + 1;
	kill(server_pid, SIGTERM);
	waitpid(server_pid, NULL, 0);
	server_pid = -1;
	t0 = now_s();
	do {
		usleep(5000);
		mg_coord_client_status(a2.cl, &s);
	} while (s.reconnects < reconnects + 2 && now_s() < t0 + 5);
	printf("after the shutdown a2 retried within %.0f ms\n", (now_s() - t0) * 1000);
	CHECK(s.reconnects >= reconnects + 2 && now_s() - t0 < 0.6,
	      "a2 retried promptly after the shutdown: %.0f ms", (now_s() - t0) * 1000);
	/* The server may close the socket before its last line goes out (reported). */
	printf("the real server's shutdown line %s\n",
	       log_count("coordinator shutting down") >= 2 ? "arrived" : "was lost");
	CHECK(log_count("unknown map line") == 0, "no final line taken for an unknown one");
	server_start();
	CHECK(pump(&a2, 5, got_full, &fulls), "a2 back with a full map after the restart");
	mg_coord_client_status(a2.cl, &s);
	CHECK(s.registrations == 0 && s.state == MG_COORD_CLIENT_STREAMING, "a2 streaming: %s",
	      mg_coord_client_state_name(s.state));

	/* b is deleted by the admin: gone from a2's map within 2 s; b is logged out. */
	pump(&a2, 10, has_peer, b.pub);
	mg_coord_client_status(b.cl, &s);
	char del[64];
	snprintf(del, sizeof(del), "/v1/admin/nodes/%lld", (long long)s.node_id);
	t0 = now_s();
	CHECK(admin("DELETE", del, NULL, NULL) == 200);
	CHECK(pump(&a2, 2, lacks_peer, b.pub), "deleted peer removed within 2 s");
	printf("deleted peer left the map after %.0f ms\n", (now_s() - t0) * 1000);
	CHECK(a2.rec.removes == 1);
	CHECK(pump(&b, 5, lacks_peer, a.pub), "deleted node dropped its peers");
	CHECK(b.logged_out >= 1, "deleted node saw itself logged out");

	/*
	 * A second machine with a2's key and state: a3's stream replaces a2's. a2 warns that the
	 * key is likely in use elsewhere and waits its whole cap (3 s) before taking the stream
	 * back; a3 then waits its own cap (800 ms).
	 */
	pump(&a2, 0.2, NULL, NULL);
	CHECK(log_count("replaced by another stream") == 1, "nothing replaced since the fake");
	mg_netmap_state_init(&a3.st);
	node_start(&a3, st_a, key_a, ska, "192.0.2.11:51820", 800);
	double t_rep = wait_backoff(a2.cl, true, 5, &s);
	CHECK(t_rep > 0 && strstr(s.last_error, "key in use on another machine"), "a2 replaced: %s",
	      s.last_error);
	double t_back = wait_backoff(a2.cl, false, 6, &s);
	printf("a2 waited %.0f ms after being replaced\n", (t_back - t_rep) * 1000);
	CHECK(t_rep > 0 && t_back > 0 && t_back - t_rep >= 2.8 && t_back - t_rep < 4.5,
	      "a2 waited its cap after being replaced: %.0f ms", (t_back - t_rep) * 1000);
	CHECK(pump(&a3, 5, replaced_twice, NULL), "a3 replaced in turn by a2");
	CHECK(log_count("same node key") >= 3, "the warning names the likely cause");
	mg_coord_client_free(a3.cl);
	mg_netmap_state_free(&a3.st);

	mg_coord_client_free(a2.cl);
	mg_coord_client_free(b.cl);
	mg_netmap_state_free(&a.st);
	mg_netmap_state_free(&a2.st);
	mg_netmap_state_free(&b.st);
	server_kill();
	mg_log_set_output(NULL);
	if (log_file)
		fclose(log_file);
	if (check_failures == 0) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)!system(cmd);
	} else {
		fprintf(stderr, "logs kept in %s\n", dir);
	}
	curl_global_cleanup();
	return check_done("coord_client");
}
