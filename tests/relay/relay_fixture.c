// SPDX-License-Identifier: GPL-2.0-only
#include "relay_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <sodium.h>

#define MAX_RELAYS 8

static const char *relay_bin;
static char dir[256], ca[300];
static pid_t pids[MAX_RELAYS];
static SSL_CTX *raw_ctx;

uint64_t rf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *rf_dir(void)
{
	return dir;
}

const char *rf_ca_file(void)
{
	return ca;
}

void rf_cleanup(void)
{
	char cmd[300];

	for (int i = 0; i < MAX_RELAYS; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
	if (dir[0] && !getenv("RELAY_TEST_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	dir[0] = '\0';
}

void rf_init(int argc, char **argv)
{
	char cmd[1024];

	if (argc < 2) {
		fprintf(stderr, "usage: %s MESHGATE_RELAY\n", argv[0]);
		exit(2);
	}
	relay_bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		exit(1);
	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "SKIP: the openssl tool is needed for a test certificate\n");
		exit(77);
	}
	snprintf(dir, sizeof(dir), "/tmp/relay-test-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(rf_cleanup);
	snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-keyout '%s/key.pem' -out '%s' -days 2 -subj /CN=localhost "
	         "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
	         dir, ca);
	CHECK(system(cmd) == 0, "cannot make a test certificate");
	raw_ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(raw_ctx, ca, NULL);
	SSL_CTX_set_verify(raw_ctx, SSL_VERIFY_PEER, NULL);
}

uint16_t rf_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	          getsockname(fd, (struct sockaddr *)&a, &l) == 0,
	      "no free port");
	close(fd);
	return ntohs(a.sin_port);
}

static int http_get(uint16_t port, const char *path, char *buf, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {2, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	char req[128];
	ssize_t n;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return strstr(buf, " 200 ") ? 0 : -1;
}

void rf_relay_start(struct rf_relay *r, const char *name, uint16_t port, const char *extra)
{
	char cfg[512], log[512];
	FILE *f;
	int slot = -1;
	uint64_t deadline;
	static char buf[65536];

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->port = port ? port : rf_free_port();
	r->mport = rf_free_port();
	snprintf(cfg, sizeof(cfg), "%s/%s.yaml", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	f = fopen(cfg, "w");
	CHECK(f, "cannot write %s", cfg);
	fprintf(f,
	        "listen: 127.0.0.1:%u\nmetrics_listen: 127.0.0.1:%u\nname: %s\n"
	        "tls:\n  cert_file: %s/cert.pem\n  key_file: %s/key.pem\n%s",
	        r->port, r->mport, name, dir, dir, extra ? extra : "");
	fclose(f);
	for (int i = 0; i < MAX_RELAYS; i++)
		if (pids[i] <= 0) {
			slot = i;
			break;
		}
	CHECK(slot >= 0, "too many relays");
	pid_t parent = getpid();
	r->pid = fork();
	CHECK(r->pid >= 0, "fork");
	if (r->pid == 0) {
		/* A test that crashes (a sanitizer's abort) must not leave its server running. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(127);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execl(relay_bin, relay_bin, "-c", cfg, (char *)NULL);
		_exit(127);
	}
	pids[slot] = r->pid;
	deadline = rf_now_ms() + 10000;
	while (http_get(r->mport, "/health", buf, sizeof(buf)) != 0) {
		int st;
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			pids[slot] = 0;
			snprintf(buf, sizeof(buf), "cat '%s' >&2", log);
			CHECK(system(buf) >= 0);
			CHECK(0, "meshgate-relay %s exited (status %d)", name, st);
		}
		CHECK(rf_now_ms() < deadline, "meshgate-relay %s did not come up", name);
		usleep(20000);
	}
}

void rf_relay_stop(struct rf_relay *r)
{
	int st;
	uint64_t deadline = rf_now_ms() + 5000;

	if (r->pid <= 0)
		return;
	kill(r->pid, SIGTERM);
	while (waitpid(r->pid, &st, WNOHANG) != r->pid) {
		if (rf_now_ms() > deadline) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &st, 0);
			break;
		}
		usleep(10000);
	}
	for (int i = 0; i < MAX_RELAYS; i++)
		if (pids[i] == r->pid)
			pids[i] = 0;
	r->pid = 0;
}

double rf_metric(const struct rf_relay *r, const char *name)
{
	static char buf[65536];
	size_t nl = strlen(name);
	const char *p;

	if (http_get(r->mport, "/metrics", buf, sizeof(buf)) != 0)
		return -1;
	for (p = buf; (p = strstr(p, name)); p += nl)
		if ((p == buf || p[-1] == '\n') && p[nl] == ' ')
			return strtod(p + nl + 1, NULL);
	return -1;
}

double rf_metric_wait(const struct rf_relay *r, const char *name, double want, int timeout_ms)
{
	uint64_t deadline = rf_now_ms() + (uint64_t)timeout_ms;
	double v;

	while ((v = rf_metric(r, name)) < want && rf_now_ms() < deadline)
		usleep(20000);
	return v;
}

long rf_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

void rf_keypair(uint8_t sk[32], uint8_t pk[32])
{
	randombytes_buf(sk, 32);
	sk[0] &= 248;
	sk[31] = (sk[31] & 127) | 64;
	crypto_scalarmult_base(pk, sk);
}

struct mg_relay_client *rf_client(const struct rf_relay *r, const uint8_t sk[32], char *err,
                                  size_t errlen)
{
	struct mg_relay_client_config cfg = {
	    .host = "127.0.0.1",
	    .port = r->port,
	    .server_name = "localhost",
	    .ca_file = ca,
	    .private_key = sk,
	    .timeout_ms = 5000,
	};

	return mg_relay_client_connect(&cfg, err, errlen);
}

int rf_raw_connect(const struct rf_relay *r, struct rf_raw *raw)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(r->port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	raw->ssl = NULL;
	raw->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (raw->fd < 0 || connect(raw->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	raw->ssl = SSL_new(raw_ctx);
	SSL_set_fd(raw->ssl, raw->fd);
	SSL_set_tlsext_host_name(raw->ssl, "localhost");
	SSL_set1_host(raw->ssl, "localhost");
	return SSL_connect(raw->ssl) == 1 ? 0 : -1;
}

int rf_raw_write(struct rf_raw *raw, const void *buf, size_t len)
{
	return SSL_write(raw->ssl, buf, (int)len) == (int)len ? 0 : -1;
}

static int raw_read(struct rf_raw *raw, uint8_t *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = raw->fd, .events = POLLIN};
		int n;

		if (!SSL_pending(raw->ssl)) {
			uint64_t now = rf_now_ms();
			if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
				return -1;
		}
		n = SSL_read(raw->ssl, buf + got, (int)(len - got));
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

long rf_raw_frame(struct rf_raw *raw, uint8_t *type, uint8_t *body, size_t cap, int timeout_ms)
{
	uint64_t deadline = rf_now_ms() + (uint64_t)timeout_ms;
	uint8_t h[5];
	uint32_t len;

	if (raw_read(raw, h, 5, deadline) != 0)
		return -1;
	*type = h[0];
	len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
	if (len > cap || raw_read(raw, body, len, deadline) != 0)
		return -1;
	return (long)len;
}

long rf_raw_until_close(struct rf_raw *raw, uint8_t *buf, size_t cap, int timeout_ms)
{
	uint64_t deadline = rf_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;
	uint8_t sink[4096];

	for (;;) {
		struct pollfd p = {.fd = raw->fd, .events = POLLIN};
		uint64_t now = rf_now_ms();
		int n;

		if (!SSL_pending(raw->ssl) &&
		    (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0))
			return -1;
		n = got < cap ? SSL_read(raw->ssl, buf + got, (int)(cap - got))
		              : SSL_read(raw->ssl, sink, sizeof(sink));
		if (n <= 0)
			return (long)got;
		if (got < cap)
			got += (size_t)n;
	}
}

int rf_raw_upgrade(struct rf_raw *raw, uint8_t challenge_body[66])
{
	static const char req[] =
	    "GET /relay HTTP/1.1\r\nHost: localhost\r\nUpgrade: meshgate-relay"
	    "\r\nConnection: Upgrade\r\n\r\n";
	uint64_t deadline = rf_now_ms() + 5000;
	char resp[512];
	size_t got = 0;
	uint8_t type;

	if (rf_raw_write(raw, req, sizeof(req) - 1) != 0)
		return -1;
	while (got < sizeof(resp) - 1) {
		if (raw_read(raw, (uint8_t *)resp + got, 1, deadline) != 0)
			return -1;
		got++;
		resp[got] = '\0';
		if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	if (strncmp(resp, "HTTP/1.1 101", 12) != 0)
		return -1;
	return rf_raw_frame(raw, &type, challenge_body, 66, 5000) == 66 && type == 0x01 ? 0 : -1;
}

int rf_raw_exporter(struct rf_raw *raw, uint8_t out[32])
{
	static const char label[] = "EXPORTER-meshgate-relay-v1";

	return SSL_export_keying_material(raw->ssl, out, 32, label, sizeof(label) - 1, NULL, 0,
	                                  0) == 1
	           ? 0
	           : -1;
}

void rf_raw_close(struct rf_raw *raw)
{
	if (raw->ssl)
		SSL_free(raw->ssl);
	if (raw->fd >= 0)
		close(raw->fd);
	raw->ssl = NULL;
	raw->fd = -1;
}
