// SPDX-License-Identifier: GPL-2.0-only
/*
 * The server key file. Its life: created at the first start (or moved out of an older store),
 * then only read. A file readable by others is refused rather than fixed silently, so the
 * operator learns that the key may have leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "keys.h"
#include "log.h"
#include "server_key.h"

struct key_row {
	char priv[WG_KEY_B64_SIZE + 8], pub[WG_KEY_B64_SIZE + 8];
	uint8_t *ck;
	bool found, ck_ok;
};

static int row_key(void *ctx, int ncols, const char *const *v)
{
	struct key_row *r = ctx;
	(void)ncols;
	r->found = true;
	snprintf(r->priv, sizeof(r->priv), "%s", v[0] ? v[0] : "");
	snprintf(r->pub, sizeof(r->pub), "%s", v[1] ? v[1] : "");
	r->ck_ok = v[2] && wg_key_from_base64(r->ck, v[2], strlen(v[2]), NULL) == WG_KEY_OK;
	return 1;
}

static bool sync_dir_of(const char *path)
{
	char *copy = strdup(path);
	if (copy == NULL)
		return false;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	free(copy);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

bool secret_file_write(const char *path, const char *text, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	bool ok = off == len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || !sync_dir_of(path)) {
		int e = errno != 0 ? errno : EIO;
		snprintf(err, errlen, "%s: cannot write (errno %d)", path, e);
		unlink(path);
		return false;
	}
	return true;
}

/* 1: read; 0: no such file; -1: error (err set). */
static int read_key_file(const char *path, uint8_t sk[32], char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "server_key_file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		         "server_key_file %s: mode %04o lets others read the server key; "
		         "chmod 600 it (and consider the key leaked if others did read it)",
		         path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	char buf[128];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	bool ok = wg_key_from_base64(sk, buf, (size_t)n, NULL) == WG_KEY_OK;
	wg_memzero(buf, sizeof(buf));
	if (!ok) {
		snprintf(err, errlen, "server_key_file %s: expected one base64 X25519 private key",
		         path);
		return -1;
	}
	return 1;
}

static bool store_pub(struct store *s, const char *pub, char *err, size_t errlen)
{
	const char *p[] = {pub};
	if (store_exec(s,
	               "UPDATE server_keys SET private_key = '', public_key = $1 "
	               "WHERE id = 1 AND (public_key = '' OR public_key = $1)",
	               p, 1, NULL, NULL) != STORE_OK) {
		snprintf(err, errlen, "cannot record the server public key: %s", s->err);
		return false;
	}
	return true;
}

bool server_key_load(struct store *s, const char *path, uint8_t sk[32], uint8_t challenge_key[32],
                     char *err, size_t errlen)
{
	uint8_t nck[32];
	char bck[WG_KEY_B64_SIZE];
	wg_random_bytes(nck, sizeof(nck));
	wg_key_to_base64(bck, nck);
	wg_memzero(nck, sizeof(nck));
	const char *p[] = {bck};
	/* The first replica to start creates the row; every later one reads it. */
	enum store_status st =
	    store_exec(s,
	               "INSERT INTO server_keys (id, private_key, challenge_key, public_key) "
	               "VALUES (1, '', $1, '') ON CONFLICT (id) DO NOTHING",
	               p, 1, NULL, NULL);
	wg_memzero(bck, sizeof(bck));
	struct key_row r = {.ck = challenge_key};
	if (st != STORE_OK ||
	    store_exec(
	        s, "SELECT private_key, public_key, challenge_key FROM server_keys WHERE id = 1",
	        NULL, 0, row_key, &r) != STORE_OK ||
	    !r.found || !r.ck_ok) {
		snprintf(err, errlen, "cannot read the server keys from the store: %s", s->err);
		return false;
	}
	uint8_t stored[32], pk[32];
	bool have_stored = r.priv[0] != '\0' &&
	                   wg_key_from_base64(stored, r.priv, strlen(r.priv), NULL) == WG_KEY_OK;
	bool ok = false;
	char pub[WG_KEY_B64_SIZE], text[WG_KEY_B64_SIZE + 1];
	int got = read_key_file(path, sk, err, errlen);
	if (got < 0)
		goto out;
	if (got == 0) {
		if (have_stored) {
			memcpy(sk, stored, 32);
			mg_logf(MG_LOG_INFO, "moving the server private key out of the store into %s", path);
		} else if (r.pub[0] != '\0') {
			snprintf(
			    err, errlen,
			    "server_key_file %s is missing, and the store belongs to the server "
			    "key with public key %s: restore the file, or copy it from another "
			    "replica",
			    path, r.pub);
			goto out;
		} else {
			wg_random_bytes(sk, 32);
			sk[0] &= 248;
			sk[31] = (uint8_t)((sk[31] & 127) | 64);
			mg_logf(MG_LOG_INFO, "created the server key in %s", path);
		}
		wg_key_to_base64(text, sk);
		size_t n = strlen(text);
		text[n] = '\n';
		text[n + 1] = '\0';
		/* On disk and synced before the store forgets it: a crash here loses nothing. */
		if (!secret_file_write(path, text, err, errlen))
			goto out;
	} else if (have_stored && !wg_memeq(stored, sk, 32)) {
		snprintf(err, errlen,
		         "server_key_file %s and the store hold different server keys; refusing to "
		         "guess which one the nodes know",
		         path);
		goto out;
	}
	crypto_scalarmult_base(pk, sk);
	wg_key_to_base64(pub, pk);
	if (r.pub[0] != '\0' && strcmp(r.pub, pub) != 0) {
		snprintf(
		    err, errlen,
		    "server_key_file %s holds the key with public key %s, but the store belongs "
		    "to %s",
		    path, pub, r.pub);
		goto out;
	}
	if ((have_stored || r.pub[0] == '\0') && !store_pub(s, pub, err, errlen))
		goto out;
	/* Two replicas creating keys at once: the store keeps one, the other must stop. */
	struct key_row again = {.ck = nck};
	if (store_exec(
	        s, "SELECT private_key, public_key, challenge_key FROM server_keys WHERE id = 1",
	        NULL, 0, row_key, &again) != STORE_OK ||
	    strcmp(again.pub, pub) != 0) {
		snprintf(
		    err, errlen,
		    "another replica recorded a different server key (%s); copy its key file to "
		    "%s",
		    again.pub, path);
		if (got == 0 && !have_stored)
			unlink(path);
		wg_memzero(&again, sizeof(again));
		goto out;
	}
	wg_memzero(&again, sizeof(again));
	ok = true;
out:
	wg_memzero(nck, sizeof(nck));
	wg_memzero(stored, sizeof(stored));
	wg_memzero(text, sizeof(text));
	wg_memzero(&r, sizeof(r));
	if (!ok)
		wg_memzero(sk, 32);
	return ok;
}
