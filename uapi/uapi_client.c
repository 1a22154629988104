// SPDX-License-Identifier: GPL-2.0-only
/* UAPI client: connect, write one request, read the reply up to its blank line, parse. */
#include "uapi_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "keys.h"

#define IO_TIMEOUT_SEC 5
#define REPLY_MAX      (64u << 20)

static int fail(char *err, size_t errlen, int rc, const char *fmt, const char *arg)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, arg);
	return rc;
}

int mg_uapi_socket_path(const char *dir, const char *ifname, char *buf, size_t len)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n = snprintf(buf, len, "%s/%s.sock", dir, ifname);

	if (n < 0 || (size_t)n >= len || (size_t)n >= max)
		return -ENAMETOOLONG;
	return 0;
}

static int uapi_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = IO_TIMEOUT_SEC};
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(err, errlen, -ENAMETOOLONG, "socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, errlen, -errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		e = errno;
		close(fd);
		return fail(err, errlen, -e, "cannot connect to %s", path);
	}
	return fd;
}

/* Writes req and reads the reply into out until it ends with "\n\n". */
static int transact(const char *path, const char *req, size_t len, struct mg_uapi_buf *out,
                    char *err, size_t errlen)
{
	char chunk[4096];
	int fd = uapi_connect(path, err, errlen), rc = 0;

	if (fd < 0)
		return fd;
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = fail(err, errlen, errno == EAGAIN ? -ETIMEDOUT : -EIO,
			          "writing to %s failed", path);
			goto out;
		}
		off += (size_t)n;
	}
	out->max = REPLY_MAX;
	for (;;) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(err, errlen, errno == EAGAIN ? -ETIMEDOUT : -EIO,
			          "reading from %s failed", path);
			goto out;
		}
		if (n == 0) {
			rc = fail(err, errlen, -EPROTO, "%s closed before the reply ended", path);
			goto out;
		}
		mg_uapi_buf_append(out, chunk, (size_t)n);
		if (out->failed) {
			rc = fail(err, errlen, -EPROTO, "reply from %s too large", path);
			goto out;
		}
		if (out->len >= 2 && out->data[out->len - 2] == '\n' &&
		    out->data[out->len - 1] == '\n')
			break;
	}
out:
	wg_memzero(chunk, sizeof(chunk));
	close(fd);
	return rc;
}

/* "errno=N" as the last line of a reply body; -EPROTO when absent or malformed. */
static int reply_errno(const char *line, size_t n)
{
	char buf[24], *end;
	long v;

	if (n < 7 || n - 6 >= sizeof(buf) || memcmp(line, "errno=", 6) != 0)
		return -EPROTO;
	memcpy(buf, line + 6, n - 6);
	buf[n - 6] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (*end || errno || end == buf || v > 0 || v < -4095)
		return -EPROTO;
	return (int)v;
}

int mg_uapi_client_set(const char *sock_path, const struct mg_uapi_set *set, char *err,
                       size_t errlen)
{
	struct mg_uapi_buf req = {0}, rep = {0};
	int rc;

	mg_uapi_set_format(set, &req);
	if (req.failed) {
		mg_uapi_buf_free(&req);
		return fail(err, errlen, -ENOMEM, "%s", "cannot format the set request");
	}
	rc = transact(sock_path, req.data, req.len, &rep, err, errlen);
	if (rc == 0) {
		rc = rep.len >= 2 ? reply_errno(rep.data, rep.len - 2) : -EPROTO;
		if (rc == -EPROTO)
			fail(err, errlen, rc, "malformed reply from %s", sock_path);
		else if (rc && err && errlen)
			snprintf(err, errlen, "%s refused the set request: errno=%d", sock_path,
			         rc);
	}
	mg_uapi_buf_free(&req);
	mg_uapi_buf_free(&rep);
	return rc;
}

void mg_uapi_client_device_free(struct mg_uapi_client_device *dev)
{
	for (size_t i = 0; i < dev->n_peers; i++)
		free(dev->peers[i].allowed_ips);
	free(dev->peers);
	memset(dev, 0, sizeof(*dev));
}

static bool hex_key(const char *v, size_t n, uint8_t key[WG_KEY_LEN])
{
	size_t bin_len = 0;
	const char *end = NULL;

	if (n != 2 * WG_KEY_LEN ||
	    sodium_hex2bin(key, WG_KEY_LEN, v, n, NULL, &bin_len, &end) != 0 ||
	    bin_len != WG_KEY_LEN || end != v + n) {
		wg_memzero(key, WG_KEY_LEN);
		return false;
	}
	return true;
}

static bool dec_u64(const char *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > max)
		return false;
	*out = x;
	return true;
}

static int add_allowed(struct mg_uapi_client_peer *p, const char *v, size_t n)
{
	char buf[64];
	struct mg_prefix *grown;

	if (n >= sizeof(buf))
		return -EPROTO;
	memcpy(buf, v, n);
	buf[n] = '\0';
	grown = realloc(p->allowed_ips, (p->n_allowed_ips + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->allowed_ips = grown;
	if (mg_prefix_parse(buf, &p->allowed_ips[p->n_allowed_ips]) != 0)
		return -EPROTO;
	p->n_allowed_ips++;
	return 0;
}

/* One key=value line of a get reply. */
static int parse_line(struct mg_uapi_client_device *d, const char *k, size_t kn, const char *v,
                      size_t vn)
{
	struct mg_uapi_client_peer *p = d->n_peers ? &d->peers[d->n_peers - 1] : NULL;
	uint8_t key[WG_KEY_LEN];
	uint64_t x;
	char buf[64];

#define IS(name) (kn == sizeof(name) - 1 && memcmp(k, name, kn) == 0)
	if (IS("private_key")) {
		bool ok = hex_key(v, vn, key);

		if (ok)
			ok = wg_key_public(d->public_key, key) == WG_OK;
		wg_memzero(key, sizeof(key));
		d->has_private_key = ok;
		return ok ? 0 : -EPROTO;
	}
	if (IS("listen_port"))
		return dec_u64(v, vn, 65535, &x) ? (d->listen_port = (uint16_t)x, 0) : -EPROTO;
	if (IS("fwmark"))
		return dec_u64(v, vn, UINT32_MAX, &x) ? (d->fwmark = (uint32_t)x, 0) : -EPROTO;
	if (IS("public_key")) {
		struct mg_uapi_client_peer *grown =
		    realloc(d->peers, (d->n_peers + 1) * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		d->peers = grown;
		p = &d->peers[d->n_peers++];
		memset(p, 0, sizeof(*p));
		return hex_key(v, vn, p->public_key) ? 0 : -EPROTO;
	}
	if (!p)
		return IS("protocol_version") ? 0 : -EPROTO;
	if (IS("preshared_key")) {
		bool ok = hex_key(v, vn, key);

		p->has_preshared_key = ok && !wg_key_is_zero(key);
		wg_memzero(key, sizeof(key));
		return ok ? 0 : -EPROTO;
	}
	if (IS("endpoint")) {
		if (vn >= sizeof(buf))
			return -EPROTO;
		memcpy(buf, v, vn);
		buf[vn] = '\0';
		return mg_sockaddr_parse(buf, &p->endpoint) == 0 ? 0 : -EPROTO;
	}
	if (IS("allowed_ip"))
		return add_allowed(p, v, vn);
	if (IS("last_handshake_time_sec"))
		return dec_u64(v, vn, UINT64_MAX, &p->last_handshake_sec) ? 0 : -EPROTO;
	if (IS("last_handshake_time_nsec"))
		return dec_u64(v, vn, 999999999, &x) ? (p->last_handshake_nsec = (uint32_t)x, 0)
		                                     : -EPROTO;
	if (IS("rx_bytes"))
		return dec_u64(v, vn, UINT64_MAX, &p->rx_bytes) ? 0 : -EPROTO;
	if (IS("tx_bytes"))
		return dec_u64(v, vn, UINT64_MAX, &p->tx_bytes) ? 0 : -EPROTO;
	if (IS("persistent_keepalive_interval"))
		return dec_u64(v, vn, 65535, &x) ? (p->persistent_keepalive = (uint16_t)x, 0)
		                                 : -EPROTO;
	/* protocol_version and keys newer implementations add are not needed here. */
	return 0;
#undef IS
}

int mg_uapi_client_parse_get(const char *reply, size_t len, struct mg_uapi_client_device *out,
                             char *err, size_t errlen)
{
	size_t off = 0;
	int rc = -EPROTO;

	memset(out, 0, sizeof(*out));
	while (off < len) {
		const char *line = reply + off, *nl = memchr(line, '\n', len - off), *eq;
		size_t n = nl ? (size_t)(nl - line) : len - off;

		off += n + 1;
		if (n == 0)
			break;
		if (n >= 6 && memcmp(line, "errno=", 6) == 0) {
			rc = reply_errno(line, n);
			/* errno= must end the reply. */
			if (off < len && !(off + 1 == len && reply[off] == '\n'))
				rc = -EPROTO;
			goto out;
		}
		eq = memchr(line, '=', n);
		if (!eq) {
			fail(err, errlen, -EPROTO, "%s", "get reply line without '='");
			goto bad;
		}
		rc =
		    parse_line(out, line, (size_t)(eq - line), eq + 1, n - (size_t)(eq - line) - 1);
		if (rc) {
			if (err && errlen)
				snprintf(err, errlen, "bad get reply line: %.*s",
				         (int)(eq - line) > 40 ? 40 : (int)(eq - line), line);
			goto bad;
		}
		rc = -EPROTO;
	}
	fail(err, errlen, -EPROTO, "%s", "get reply without errno=");
bad:
	rc = rc ? rc : -EPROTO;
out:
	if (rc)
		mg_uapi_client_device_free(out);
	return rc;
}

int mg_uapi_client_get(const char *sock_path, struct mg_uapi_client_device *out, char *err,
                       size_t errlen)
{
	static const char req[] = "get=1\n\n";
	struct mg_uapi_buf rep = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = transact(sock_path, req, sizeof(req) - 1, &rep, err, errlen);
	if (rc == 0)
		rc = mg_uapi_client_parse_get(rep.data, rep.len, out, err, errlen);
	mg_uapi_buf_free(&rep);
	return rc;
}
