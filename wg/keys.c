// SPDX-License-Identifier: GPL-2.0-only
#include "keys.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "base64.h"
#include "crypto.h"

/* Enough for a key surrounded by generous whitespace; anything longer is not a key file. */
#define KEY_FILE_MAX 1024

static const char *const error_names[WG_KEY_ERR_COUNT] = {
    [WG_KEY_OK] = "ok",
    [WG_KEY_ERR_LENGTH] = "key has the wrong length",
    [WG_KEY_ERR_CHARACTER] = "invalid base64 character",
    [WG_KEY_ERR_PADDING] = "key must end with exactly one '=' of padding",
    [WG_KEY_ERR_NONCANONICAL] =
        "non-canonical base64: unused bits of the last character are not zero",
    [WG_KEY_ERR_FILE_OPEN] = "cannot open key file",
    [WG_KEY_ERR_FILE_READ] = "cannot read key file",
    [WG_KEY_ERR_FILE_EMPTY] = "key file is empty",
    [WG_KEY_ERR_FILE_TOO_LONG] = "key file holds more than one key",
    [WG_KEY_ERR_INTERNAL] = "crypto library failure",
};

const char *wg_key_error_str(enum wg_key_error code)
{
	if ((unsigned)code >= WG_KEY_ERR_COUNT)
		return "unknown key error";
	return error_names[code];
}

char *wg_key_error_format(const struct wg_key_status *status, const char *path, char *buf,
                          size_t buflen)
{
	const char *where = path ? path : "key file";

	if (!buf || !buflen)
		return buf;
	if (!status) {
		snprintf(buf, buflen, "%s", "no key status");
		return buf;
	}
	switch (status->code) {
	case WG_KEY_ERR_LENGTH:
		snprintf(buf, buflen, "key must be %d base64 characters, got %zu", WG_KEY_B64_LEN,
		         status->length);
		break;
	case WG_KEY_ERR_CHARACTER:
		snprintf(buf, buflen, "invalid base64 character at position %zu", status->position);
		break;
	case WG_KEY_ERR_PADDING:
		if (status->position == WG_KEY_B64_LEN - 1)
			snprintf(buf, buflen, "key must end with '=' (position %d)",
			         WG_KEY_B64_LEN - 1);
		else
			snprintf(buf, buflen,
			         "misplaced '=' at position %zu: a key has one '=', at the end",
			         status->position);
		break;
	case WG_KEY_ERR_FILE_OPEN:
	case WG_KEY_ERR_FILE_READ:
		snprintf(buf, buflen, "%s: %s: %s", where, wg_key_error_str(status->code),
		         strerror(status->sys_errno));
		break;
	case WG_KEY_ERR_FILE_EMPTY:
	case WG_KEY_ERR_FILE_TOO_LONG:
		snprintf(buf, buflen, "%s: %s", where, wg_key_error_str(status->code));
		break;
	default:
		snprintf(buf, buflen, "%s", wg_key_error_str(status->code));
		break;
	}
	return buf;
}

static void default_rand(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	wg_random_bytes(buf, len);
}

void wg_key_generate_private(uint8_t priv[WG_KEY_LEN],
                             void (*rand)(void *ctx, void *buf, size_t len), void *rand_ctx)
{
	if (!rand)
		rand = default_rand;
	rand(rand_ctx, priv, WG_KEY_LEN);
	wg_x25519_clamp(priv);
}

enum wg_result wg_key_public(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN])
{
	uint8_t clamped[WG_KEY_LEN];
	enum wg_result ret;

	memcpy(clamped, priv, sizeof(clamped));
	wg_x25519_clamp(clamped);
	ret = wg_x25519_public(pub, clamped);
	wg_memzero(clamped, sizeof(clamped));
	return ret;
}

void wg_key_to_base64(char out[WG_KEY_B64_SIZE], const uint8_t key[WG_KEY_LEN])
{
	sodium_bin2base64(out, WG_KEY_B64_SIZE, key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

enum wg_key_error wg_key_from_base64(uint8_t key[WG_KEY_LEN], const char *text, size_t len,
                                     struct wg_key_status *status)
{
	struct wg_key_status st = {.code = WG_KEY_OK};
	struct mg_b64_status b64;
	long n;

	if (!text || len != WG_KEY_B64_LEN) {
		st.code = WG_KEY_ERR_LENGTH;
		st.length = text ? len : 0;
		goto out;
	}
	if (wg_crypto_init() != WG_OK) {
		st.code = WG_KEY_ERR_INTERNAL;
		goto out;
	}
	n = mg_b64_decode(text, len, key, WG_KEY_LEN, &b64);
	if (b64.code == MG_B64_ERR_CHARACTER || b64.code == MG_B64_ERR_PADDING) {
		st.position = b64.position;
		st.code =
		    b64.code == MG_B64_ERR_CHARACTER ? WG_KEY_ERR_CHARACTER : WG_KEY_ERR_PADDING;
	} else if (text[WG_KEY_B64_LEN - 2] == '=' || text[WG_KEY_B64_LEN - 1] != '=') {
		/* 32 bytes always end in exactly one '=': anything else there is a padding error.
		 */
		st.position = WG_KEY_B64_LEN - (text[WG_KEY_B64_LEN - 2] == '=' ? 2 : 1);
		st.code = WG_KEY_ERR_PADDING;
	} else if (n != WG_KEY_LEN) {
		st.code = WG_KEY_ERR_NONCANONICAL;
	}
out:
	if (st.code != WG_KEY_OK)
		wg_memzero(key, WG_KEY_LEN);
	if (status)
		*status = st;
	return st.code;
}

/* Reads at most cap bytes; *len is what was read, and more than cap - 1 means "too long". */
static bool read_all(int fd, char *buf, size_t cap, size_t *len, int *err)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = errno;
			return false;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	return true;
}

enum wg_key_error wg_key_from_file(const char *path, uint8_t key[WG_KEY_LEN],
                                   struct wg_key_status *status)
{
	struct wg_key_status st = {.code = WG_KEY_OK};
	char buf[KEY_FILE_MAX + 1];
	size_t len = 0, start, stop;
	struct stat sb;
	int fd;

	wg_memzero(key, WG_KEY_LEN);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		st.code = WG_KEY_ERR_FILE_OPEN;
		st.sys_errno = errno;
		goto out;
	}
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & (S_IRWXG | S_IRWXO)))
		st.loose_permissions = true;
	if (!read_all(fd, buf, sizeof(buf), &len, &st.sys_errno)) {
		st.code = WG_KEY_ERR_FILE_READ;
		goto out;
	}
	if (len > KEY_FILE_MAX) {
		st.code = WG_KEY_ERR_FILE_TOO_LONG;
		goto out;
	}
	start = 0;
	while (start < len && isspace((unsigned char)buf[start]))
		start++;
	stop = len;
	while (stop > start && isspace((unsigned char)buf[stop - 1]))
		stop--;
	if (start == stop) {
		st.code = WG_KEY_ERR_FILE_EMPTY;
		goto out;
	}
	{
		bool loose = st.loose_permissions;
		wg_key_from_base64(key, buf + start, stop - start, &st);
		st.loose_permissions = loose;
	}
out:
	if (fd >= 0)
		close(fd);
	wg_memzero(buf, sizeof(buf));
	if (status)
		*status = st;
	return st.code;
}

bool wg_key_is_zero(const uint8_t key[WG_KEY_LEN])
{
	return wg_is_zero(key, WG_KEY_LEN);
}
