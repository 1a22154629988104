// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: key text (wg/keys.h wg_key_from_base64, wg_key_from_file, wg_key_error_format).
 * Each input is decoded as base64 key text as is, and written to a key file (mode 0600) that is
 * then read back. The seeds are real keys as `wg genkey` prints them, bare, with a newline, in
 * whitespace, at the 1024-byte file limit, and a few well-known wrong ones.
 *
 * Invariants:
 *  - the verdict, and the position or length it reports, equal those of an independent reading
 *    of the rules (exactly 44 characters, 43 base64 digits, one '=', the last digit's two
 *    spare bits zero; the first offending character is the one named);
 *  - an accepted key re-encodes to exactly the text given (decoding is canonical) and has a
 *    public key; a refused one leaves the output key all zero;
 *  - the key file gives the same verdict as the text with surrounding whitespace removed, or
 *    "empty" / "too long" exactly when the file is blank / over 1024 bytes, and never claims
 *    loose permissions on a 0600 file;
 *  - every error formats into any buffer size without overrunning it, NUL-terminated.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "fuzz_driver.h"
#include "fuzz_oracles.h"
#include "keys.h"
#include "test_rng.h"

#define KEY_FILE_MAX 1024 /* wg/keys.c's limit, as its header describes "one key's worth" */
#define FILL_BYTE    0xaa

static char key_path[300];
static int key_fd = -1; /* the key file, kept open to rewrite in place */
static const char *labels[WG_KEY_ERR_COUNT];
static char label_text[WG_KEY_ERR_COUNT][80], label_file[WG_KEY_ERR_COUNT][80];

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* The rules, read independently of wg/keys.c. *where gets the length or the position. */
static enum wg_key_error expected_verdict(const uint8_t *t, size_t len, size_t *where)
{
	*where = len;
	if (len != WG_KEY_B64_LEN)
		return WG_KEY_ERR_LENGTH;
	for (size_t i = 0; i < WG_KEY_B64_LEN - 1; i++) {
		*where = i;
		if (t[i] == '=')
			return WG_KEY_ERR_PADDING;
		if (b64_value(t[i]) < 0)
			return WG_KEY_ERR_CHARACTER;
	}
	*where = WG_KEY_B64_LEN - 1;
	if (t[WG_KEY_B64_LEN - 1] != '=')
		return b64_value(t[WG_KEY_B64_LEN - 1]) < 0 ? WG_KEY_ERR_CHARACTER
		                                            : WG_KEY_ERR_PADDING;
	/* 43 digits carry 258 bits: the last digit's low two bits are left over. */
	if (b64_value(t[WG_KEY_B64_LEN - 2]) & 3)
		return WG_KEY_ERR_NONCANONICAL;
	return WG_KEY_OK;
}

static void check_format(const struct wg_key_status *st)
{
	static const size_t sizes[] = {1, 2, 17, 64, WG_KEY_ERRBUF_SIZE};
	char buf[WG_KEY_ERRBUF_SIZE + 8];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(buf, 'Z', sizeof(buf));
		char *ret = wg_key_error_format(st, key_path, buf, sizes[i]);
		FUZZ_CHECK(ret == buf, "format returned another buffer");
		FUZZ_CHECK(memchr(buf, '\0', sizes[i]) != NULL,
		           "message not terminated in %zu bytes", sizes[i]);
		FUZZ_CHECK(fuzz_all_bytes((uint8_t *)buf + sizes[i], sizeof(buf) - sizes[i], 'Z'),
		           "format wrote past %zu bytes", sizes[i]);
	}
	FUZZ_CHECK(strlen(wg_key_error_str(st->code)) > 0, "empty error text");
}

/* Checks one decode of text against the rules; returns the verdict. */
static enum wg_key_error check_text(const uint8_t *t, size_t len)
{
	uint8_t key[WG_KEY_LEN];
	struct wg_key_status st;
	size_t where;
	enum wg_key_error want = expected_verdict(t, len, &where), got;

	memset(key, FILL_BYTE, sizeof(key));
	memset(&st, 0x5a, sizeof(st));
	got = wg_key_from_base64(key, (const char *)t, len, &st);
	FUZZ_CHECK(got == want, "verdict %d (%s), the rules say %d (%s)", (int)got,
	           wg_key_error_str(got), (int)want, wg_key_error_str(want));
	FUZZ_CHECK(st.code == got, "status code %d differs from the return %d", (int)st.code,
	           (int)got);
	if (got == WG_KEY_ERR_LENGTH)
		FUZZ_CHECK(st.length == len, "length %zu reported for %zu", st.length, len);
	if (got == WG_KEY_ERR_CHARACTER || got == WG_KEY_ERR_PADDING)
		FUZZ_CHECK(st.position == where, "position %zu reported, the rules say %zu",
		           st.position, where);
	if (got == WG_KEY_OK) {
		char again[WG_KEY_B64_SIZE];
		uint8_t pub[WG_KEY_LEN];
		wg_key_to_base64(again, key);
		FUZZ_CHECK(memcmp(again, t, WG_KEY_B64_LEN) == 0 && again[WG_KEY_B64_LEN] == '\0',
		           "accepted key does not re-encode to its text");
		FUZZ_CHECK(wg_key_public(pub, key) == WG_OK, "no public key for an accepted key");
	} else {
		FUZZ_CHECK(wg_key_is_zero(key), "refused key (%s) left bytes in the output",
		           wg_key_error_str(got));
	}
	check_format(&st);
	wg_memzero(key, sizeof(key));
	return got;
}

static void check_file(const uint8_t *data, size_t len)
{
	uint8_t key[WG_KEY_LEN], direct[WG_KEY_LEN];
	struct wg_key_status st;
	size_t start = 0, stop = len, where;
	enum wg_key_error want, got;

	/* Rewritten in place; the scratch directory is on tmpfs where there is one, so no disk. */
	FUZZ_CHECK(ftruncate(key_fd, 0) == 0 &&
	               (len == 0 || pwrite(key_fd, data, len, 0) == (ssize_t)len),
	           "cannot write %s: %s", key_path, strerror(errno));

	while (start < len && isspace(data[start]))
		start++;
	while (stop > start && isspace(data[stop - 1]))
		stop--;
	if (len > KEY_FILE_MAX)
		want = WG_KEY_ERR_FILE_TOO_LONG;
	else if (start == stop)
		want = WG_KEY_ERR_FILE_EMPTY;
	else
		want = expected_verdict(data + start, stop - start, &where);

	memset(key, FILL_BYTE, sizeof(key));
	got = wg_key_from_file(key_path, key, &st);
	FUZZ_CHECK(got == want, "key file verdict %d (%s), the rules say %d (%s)", (int)got,
	           wg_key_error_str(got), (int)want, wg_key_error_str(want));
	FUZZ_CHECK(st.code == got && !st.loose_permissions, "file status");
	if (got == WG_KEY_OK) {
		FUZZ_CHECK(wg_key_from_base64(direct, (const char *)data + start, stop - start,
		                              NULL) == WG_KEY_OK &&
		               memcmp(direct, key, WG_KEY_LEN) == 0,
		           "key file and key text decode differently");
	} else {
		FUZZ_CHECK(wg_key_is_zero(key), "refused key file left bytes in the output");
	}
	check_format(&st);
	fuzz_outcome(label_file[got]);
	wg_memzero(key, sizeof(key));
	wg_memzero(direct, sizeof(direct));
}

int fuzz_one(const uint8_t *data, size_t len)
{
	enum wg_key_error verdict = check_text(data, len);
	fuzz_outcome(label_text[verdict]);
	check_file(data, len);
	return 0;
}

static void seed_text(const char *name, const char *text, size_t len)
{
	fuzz_seed_add(name, text, len);
}

int fuzz_init(void)
{
	uint64_t rng = 31;
	uint8_t priv[WG_KEY_LEN];
	char b64[WG_KEY_B64_SIZE], buf[KEY_FILE_MAX + 2];

	if (wg_crypto_init() != WG_OK)
		return -1;
	for (int c = 0; c < WG_KEY_ERR_COUNT; c++) {
		labels[c] = wg_key_error_str((enum wg_key_error)c);
		snprintf(label_text[c], sizeof(label_text[c]), "text: %s", labels[c]);
		snprintf(label_file[c], sizeof(label_file[c]), "file: %s", labels[c]);
	}
	snprintf(key_path, sizeof(key_path), "%s/key", fuzz_scratch_dir());
	key_fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (key_fd < 0 || fchmod(key_fd, 0600) != 0) {
		fprintf(stderr, "fuzz_keys: cannot create %s: %s\n", key_path, strerror(errno));
		return -1;
	}

	for (int i = 0; i < 4; i++) {
		wg_key_generate_private(priv, test_rng, &rng);
		wg_key_to_base64(b64, priv);
		seed_text("key", b64, WG_KEY_B64_LEN);
		snprintf(buf, sizeof(buf), "%s\n", b64);
		seed_text("key-newline", buf, strlen(buf));
		FUZZ_CHECK(check_text((const uint8_t *)b64, WG_KEY_B64_LEN) == WG_KEY_OK,
		           "a generated key was refused");
	}
	snprintf(buf, sizeof(buf), " \t\r\n%s \r\n\v\f", b64);
	seed_text("key-whitespace", buf, strlen(buf));
	/* At the file limit and one past it. */
	memset(buf, ' ', sizeof(buf));
	memcpy(buf + 100, b64, WG_KEY_B64_LEN);
	seed_text("key-at-limit", buf, KEY_FILE_MAX);
	seed_text("key-past-limit", buf, KEY_FILE_MAX + 1);
	seed_text("empty", "", 0);
	seed_text("blank", " \n\t\n", 4);
	seed_text("noncanonical", "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=", 44);
	seed_text("no-padding", "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCoA", 44);
	seed_text("double-padding", "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC==", 44);
	seed_text("urlsafe", "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L-_=", 44);
	seed_text("two-keys",
	          "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n"
	          "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n",
	          90);

	static const char *const tokens[] = {"=", "==", "\n", "\r\n", " ", "\t", "\v", "\f",
	                                     "+", "/",  "-",  "_",    "A", "o=", "p=", "\0"};
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add(tokens[i], tokens[i][0] ? strlen(tokens[i]) : 1);
	fuzz_set_max_len(KEY_FILE_MAX + 64);
	wg_memzero(priv, sizeof(priv));
	wg_memzero(b64, sizeof(b64));
	wg_memzero(buf, sizeof(buf));
	return 0;
}
