// SPDX-License-Identifier: GPL-2.0-only
/*
 * The UAPI socket server, driven from this one thread the way the control loop drives it:
 * socket and directory modes, stale and live sockets, partial and pipelined requests, garbage,
 * oversized and truncated requests, slow clients and the client limit. Then stock `wg` against
 * it (root only: wg looks only in /var/run/wireguard): show, dump, showconf, set and remove.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "crypto.h"
#include "keys.h"
#include "uapi_server.h"
#include "uapi_test_device.h"

#define WG_BIN "/usr/bin/wg"

static char tmp[32];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int client(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("connect");
		exit(1);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	if (send(fd, s, n, MSG_NOSIGNAL) != (ssize_t)n) {
		perror("send");
		exit(1);
	}
}

/*
 * Polls the server and reads from fd until `replies` replies ("errno=N\n\n") have arrived, the
 * server closed the connection, or timeout_ms passed. Returns the bytes read; *closed says
 * whether the server hung up.
 */
static size_t pump(struct mg_uapi_server *srv, int fd, char *buf, size_t cap, int replies,
                   int timeout_ms, bool *closed)
{
	long long end = now_ms() + timeout_ms;
	size_t len = 0;

	*closed = false;
	buf[0] = '\0';
	while (now_ms() < end) {
		ssize_t n;
		int seen = 0;

		mg_uapi_server_poll(srv, 5);
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n == 0) {
			*closed = true;
			break;
		}
		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
		}
		for (const char *p = buf; (p = strstr(p, "errno=")); p++)
			if (strstr(p, "\n\n"))
				seen++;
		if (replies && seen >= replies)
			break;
	}
	return len;
}

static void test_open(struct tdev *d)
{
	char dir[64], err[256], path[100];
	struct mg_uapi_server *srv, *again;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/run/wireguard", tmp);
	srv = mg_uapi_server_open(dir, "mgx0", &tdev_ops, d, NULL, err, sizeof(err));
	CHECK(srv != NULL, "open: %s", err);
	if (!srv)
		return;
	snprintf(path, sizeof(path), "%s/mgx0.sock", dir);
	CHECK(strcmp(mg_uapi_server_path(srv), path) == 0, "path %s", mg_uapi_server_path(srv));
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0755, "dir mode %o", st.st_mode);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 077) == 0,
	      "socket is owner-only: %o", st.st_mode);
	again = mg_uapi_server_open(dir, "mgx0", &tdev_ops, d, NULL, err, sizeof(err));
	CHECK(again == NULL && strstr(err, "in use by another process"), "live socket kept: %s",
	      err);
	mg_uapi_server_close(again);
	mg_uapi_server_close(srv);
	CHECK(stat(path, &st) == -1 && errno == ENOENT, "close removes the socket");

	/* A socket file nobody listens on (a crashed gateway) is replaced. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "stale socket made");
	close(fd);
	srv = mg_uapi_server_open(dir, "mgx0", &tdev_ops, d, NULL, err, sizeof(err));
	CHECK(srv != NULL, "stale socket replaced: %s", err);
	/* A socket that another instance put in our place is not ours to remove. */
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	mg_uapi_server_close(srv);
	CHECK(stat(path, &st) == 0, "someone else's socket left alone");
	close(fd);
	unlink(path);

	CHECK(mg_uapi_server_open(dir, "a/b", &tdev_ops, d, NULL, err, sizeof(err)) == NULL,
	      "slash in name");
	char longname[120];

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(mg_uapi_server_open(dir, longname, &tdev_ops, d, NULL, err, sizeof(err)) == NULL &&
	          strstr(err, "longer than"),
	      "long path: %s", err);
}

static void test_requests(struct tdev *d)
{
	char dir[128], err[256], buf[8192];
	struct mg_uapi_server *srv;
	bool closed;
	size_t n;
	int fd;

	snprintf(dir, sizeof(dir), "%s/req", tmp);
	srv = mg_uapi_server_open(dir, "mgr0", &tdev_ops, d, NULL, err, sizeof(err));
	CHECK(srv != NULL, "open: %s", err);
	if (!srv)
		return;

	/* A request split over several writes, answered once complete. */
	fd = client(mg_uapi_server_path(srv));
	send_all(fd, "set=1\nlisten_");
	n = pump(srv, fd, buf, sizeof(buf), 1, 50, &closed);
	CHECK(n == 0 && !closed, "no reply to half a request");
	send_all(fd, "port=7000\n\n");
	n = pump(srv, fd, buf, sizeof(buf), 1, 2000, &closed);
	CHECK(strcmp(buf, "errno=0\n\n") == 0 && d->listen_port == 7000, "split set: '%s'", buf);

	/* Two requests in one write on the same connection, answered in order. */
	send_all(fd, "get=1\n\nset=1\nlisten_port=7001\n\n");
	n = pump(srv, fd, buf, sizeof(buf), 2, 2000, &closed);
	CHECK(strcmp(buf, "listen_port=7000\nerrno=0\n\nerrno=0\n\n") == 0 &&
	          d->listen_port == 7001,
	      "pipelined: '%s'", buf);

	/* Not get=1 or set=1: dropped without a reply, as wireguard-go does. */
	send_all(fd, "hello\n\n");
	n = pump(srv, fd, buf, sizeof(buf), 1, 2000, &closed);
	CHECK(closed && n == 0, "garbage operation closes the connection");
	close(fd);

	/* Cut short by the client: answered, never applied. */
	fd = client(mg_uapi_server_path(srv));
	send_all(fd, "set=1\nlisten_port=9\n");
	shutdown(fd, SHUT_WR);
	n = pump(srv, fd, buf, sizeof(buf), 1, 2000, &closed);
	pump(srv, fd, buf + n, sizeof(buf) - n, 0, 100, &closed);
	CHECK(strcmp(buf, "errno=-71\n\n") == 0 && closed && d->listen_port == 7001,
	      "truncated request: '%s'", buf);
	close(fd);

	/* A client that connects and leaves without a word costs nothing. */
	fd = client(mg_uapi_server_path(srv));
	close(fd);
	for (int i = 0; i < 5; i++)
		mg_uapi_server_poll(srv, 1);
	fd = client(mg_uapi_server_path(srv));
	send_all(fd, "get=1\n\n");
	pump(srv, fd, buf, sizeof(buf), 1, 2000, &closed);
	CHECK(strcmp(buf, "listen_port=7001\nerrno=0\n\n") == 0, "still serving: '%s'", buf);
	close(fd);
	mg_uapi_server_close(srv);
}

static void test_limits(struct tdev *d)
{
	struct mg_uapi_server_opts opts = {
	    .max_request = 256, .deadline_ms = 300, .max_clients = 2};
	char dir[128], err[256], buf[8192], big[400];
	struct mg_uapi_server *srv;
	bool closed;
	int slow, fd, third;
	long long t0;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/lim", tmp);
	srv = mg_uapi_server_open(dir, "mgl0", &tdev_ops, d, &opts, err, sizeof(err));
	CHECK(srv != NULL, "open: %s", err);
	if (!srv)
		return;

	/* Oversized: refused with EMSGSIZE, nothing applied, connection closed. */
	fd = client(mg_uapi_server_path(srv));
	n = (size_t)snprintf(big, sizeof(big), "set=1\n");
	while (n < 300)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "listen_port=5\n");
	send_all(fd, big);
	n = pump(srv, fd, buf, sizeof(buf), 1, 2000, &closed);
	pump(srv, fd, buf + n, sizeof(buf) - n, 0, 100, &closed);
	CHECK(strcmp(buf, "errno=-90\n\n") == 0 && closed && d->listen_port == 7001,
	      "oversized: '%s'", buf);
	close(fd);

	/* A stalled client does not hold up another, and is dropped at its deadline. */
	slow = client(mg_uapi_server_path(srv));
	send_all(slow, "set=1\nlisten_port=6\n");
	fd = client(mg_uapi_server_path(srv));
	t0 = now_ms();
	send_all(fd, "get=1\n\n");
	pump(srv, fd, buf, sizeof(buf), 1, 2000, &closed);
	CHECK(strcmp(buf, "listen_port=7001\nerrno=0\n\n") == 0 && now_ms() - t0 < 250,
	      "served beside a stalled client in %lld ms: '%s'", now_ms() - t0, buf);

	/* The client limit: a third connection is closed at once. */
	third = client(mg_uapi_server_path(srv));
	n = pump(srv, third, buf, sizeof(buf), 0, 100, &closed);
	CHECK(closed && n == 0, "third client refused");
	close(third);
	close(fd);

	n = pump(srv, slow, buf, sizeof(buf), 0, 1000, &closed);
	CHECK(closed && n == 0 && d->listen_port == 7001,
	      "stalled client dropped, nothing applied");
	close(slow);
	mg_uapi_server_close(srv);
}

/* ---- stock wg ---- */

/* Runs wg with args while serving srv; out gets stdout then stderr. Returns the exit status. */
static int run_wg(struct mg_uapi_server *srv, char *const argv[], char *out, size_t cap)
{
	int pipes[2], status = -1;
	size_t len = 0;
	long long end = now_ms() + 10000;
	pid_t pid;

	if (pipe(pipes) != 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		dup2(pipes[1], 1);
		dup2(pipes[1], 2);
		close(pipes[0]);
		execv(WG_BIN, argv);
		_exit(127);
	}
	close(pipes[1]);
	fcntl(pipes[0], F_SETFL, O_NONBLOCK);
	out[0] = '\0';
	for (;;) {
		ssize_t n;

		mg_uapi_server_poll(srv, 2);
		while ((n = read(pipes[0], out + len, cap - 1 - len)) > 0)
			len += (size_t)n;
		out[len] = '\0';
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			CHECK(0, "wg %s timed out", argv[1]);
			break;
		}
	}
	while (len < cap - 1 && read(pipes[0], out + len, 1) == 1)
		len++;
	out[len] = '\0';
	close(pipes[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_key_file(const char *path, const uint8_t key[WG_KEY_LEN])
{
	char text[WG_KEY_B64_SIZE + 1];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	wg_key_to_base64(text, key);
	strcat(text, "\n");
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(1);
	close(fd);
}

#define WG(...) run_wg(srv, (char *const[]){"wg", __VA_ARGS__, NULL}, out, sizeof(out))

static void test_stock_wg(void)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], peer[WG_KEY_LEN], psk[WG_KEY_LEN];
	char ifname[16], err[256], out[8192], want[1024], keyfile[128], pskfile[128];
	char priv_b64[WG_KEY_B64_SIZE], pub_b64[WG_KEY_B64_SIZE], peer_b64[WG_KEY_B64_SIZE];
	char psk_b64[WG_KEY_B64_SIZE];
	struct tdev d = {.busy_port = 1};
	struct mg_uapi_server *srv;
	struct tdev_peer *p;
	int rc;

	if (geteuid() != 0 || access(WG_BIN, X_OK) != 0) {
		printf("SKIP stock wg part: needs root and %s (wg only looks in "
		       "/var/run/wireguard)\n",
		       WG_BIN);
		return;
	}
	snprintf(ifname, sizeof(ifname), "mgt%d", (int)getpid());
	srv = mg_uapi_server_open("/var/run/wireguard", ifname, &tdev_ops, &d, NULL, err,
	                          sizeof(err));
	CHECK(srv != NULL, "open: %s", err);
	if (!srv)
		return;
	wg_key_generate_private(priv, NULL, NULL);
	wg_key_public(pub, priv);
	wg_key_generate_private(peer, NULL, NULL);
	wg_key_public(peer, peer);
	wg_random_bytes(psk, sizeof(psk));
	wg_key_to_base64(priv_b64, priv);
	wg_key_to_base64(pub_b64, pub);
	wg_key_to_base64(peer_b64, peer);
	wg_key_to_base64(psk_b64, psk);
	snprintf(keyfile, sizeof(keyfile), "%s/wg.key", tmp);
	snprintf(pskfile, sizeof(pskfile), "%s/wg.psk", tmp);
	write_key_file(keyfile, priv);
	write_key_file(pskfile, psk);

	rc = WG("set", ifname, "private-key", keyfile, "listen-port", "51999");
	CHECK(rc == 0 && memcmp(d.private_key, priv, WG_KEY_LEN) == 0 && d.listen_port == 51999,
	      "wg set private-key, listen-port: %d %s", rc, out);
	rc = WG("set", ifname, "peer", peer_b64, "allowed-ips", "10.9.0.0/16,fd00:9::1/64",
	        "endpoint", "192.0.2.9:51820", "persistent-keepalive", "25", "preshared-key",
	        pskfile);
	p = tdev_find(&d, peer);
	CHECK(rc == 0 && p && p->n_ips == 2 && p->keepalive == 25 && p->endpoint.port == 51820 &&
	          memcmp(p->preshared_key, psk, WG_KEY_LEN) == 0,
	      "wg set peer: %d %s", rc, out);
	if (!p)
		goto out;
	p->rx = 1240;
	p->tx = 5670;
	p->handshake_sec = 1700000000;

	rc = WG("show", ifname, "dump");
	snprintf(
	    want, sizeof(want),
	    "%s\t%s\t51999\toff\n%s\t%s\t192.0.2.9:51820\t10.9.0.0/16,fd00:9::/64\t1700000000\t"
	    "1240\t5670\t25\n",
	    priv_b64, pub_b64, peer_b64, psk_b64);
	CHECK(rc == 0 && strcmp(out, want) == 0, "wg show dump:\n%s\nexpected:\n%s", out, want);

	rc = WG("show", ifname);
	snprintf(want, sizeof(want),
	         "interface: %s\n  public key: %s\n  private key: (hidden)\n"
	         "  listening port: 51999\n\npeer: %s\n  preshared key: (hidden)\n"
	         "  endpoint: 192.0.2.9:51820\n"
	         "  allowed ips: 10.9.0.0/16, fd00:9::/64\n",
	         ifname, pub_b64, peer_b64);
	CHECK(rc == 0 && strncmp(out, want, strlen(want)) == 0 &&
	          strstr(out, "  transfer: 1.21 KiB received, 5.54 KiB sent\n") &&
	          strstr(out, "  persistent keepalive: every 25 seconds\n"),
	      "wg show:\n%s", out);

	rc = WG("showconf", ifname);
	snprintf(want, sizeof(want),
	         "[Interface]\nListenPort = 51999\nPrivateKey = %s\n\n[Peer]\nPublicKey = %s\n"
	         "PresharedKey = %s\nAllowedIPs = 10.9.0.0/16, fd00:9::/64\n"
	         "Endpoint = 192.0.2.9:51820\nPersistentKeepalive = 25\n",
	         priv_b64, peer_b64, psk_b64);
	CHECK(rc == 0 && strcmp(out, want) == 0, "wg showconf:\n%s\nexpected:\n%s", out, want);

	rc = WG("show", "interfaces");
	CHECK(rc == 0 && strstr(out, ifname), "wg show interfaces: %s", out);

	/* wg sends replace_allowed_ips with allowed-ips: the old set goes. */
	rc = WG("set", ifname, "peer", peer_b64, "allowed-ips", "10.8.0.0/16", "endpoint",
	        "[2001:db8::9]:4000");
	p = tdev_find(&d, peer);
	CHECK(rc == 0 && p && p->n_ips == 1 && p->ips[0].addr[1] == 8 && p->endpoint.family == 6 &&
	          p->endpoint.port == 4000,
	      "wg set replaces allowed IPs: %d %s", rc, out);
	rc = WG("show", ifname, "endpoints");
	snprintf(want, sizeof(want), "%s\t[2001:db8::9]:4000\n", peer_b64);
	CHECK(rc == 0 && strcmp(out, want) == 0, "wg show endpoints: %s", out);

	/* The device's refusal reaches the user as wg's usual message; nothing changes. */
	rc = WG("set", ifname, "listen-port", "1");
	CHECK(rc != 0 && strstr(out, "Address already in use") && d.listen_port == 51999,
	      "busy port: %d %s", rc, out);

	rc = WG("set", ifname, "peer", peer_b64, "remove");
	CHECK(rc == 0 && d.n_peers == 0, "wg set peer remove: %d %s", rc, out);
	rc = WG("show", ifname, "peers");
	CHECK(rc == 0 && out[0] == '\0', "no peers left: '%s'", out);
out:
	mg_uapi_server_close(srv);
	snprintf(want, sizeof(want), "/var/run/wireguard/%s.sock", ifname);
	CHECK(access(want, F_OK) != 0, "socket removed");
	unlink(keyfile);
	unlink(pskfile);
	wg_memzero(priv, sizeof(priv));
	wg_memzero(priv_b64, sizeof(priv_b64));
}

static void cleanup(void)
{
	static const char *const dirs[] = {"run/wireguard", "run", "req", "lim"};
	char path[160];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp, dirs[i]);
		rmdir(path);
	}
	rmdir(tmp);
}

int main(void)
{
	struct tdev d = {.busy_port = 1};

	signal(SIGPIPE, SIG_IGN);
	if (wg_crypto_init() != WG_OK)
		return 1;
	snprintf(tmp, sizeof(tmp), "/tmp/mg-uapi-XXXXXX");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	test_open(&d);
	test_requests(&d);
	test_limits(&d);
	test_stock_wg();
	cleanup();
	return check_done("uapi_server");
}
