// SPDX-License-Identifier: GPL-2.0-only
/*
 * Keys as stock `wg` makes and reads them: generation, public keys, base64 both ways with every
 * error, key files, and agreement with /usr/bin/wg itself when it is installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "crypto.h"
#include "keys.h"

#define WG_BIN "/usr/bin/wg"

static const char alice_priv_hex[] =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
/* RFC 7748 6.1 Alice's keys, base64 by CPython's base64 module. */
static const char alice_priv_b64[] = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
static const char alice_pub_b64[] = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

static void test_generate(void)
{
	uint64_t seed1 = 1, seed2 = 2;
	uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN], c[WG_KEY_LEN], raw[WG_KEY_LEN];
	uint64_t seed_raw = 1;

	wg_key_generate_private(a, test_rng, &seed1);
	wg_key_generate_private(b, test_rng, &seed2);
	test_rng(&seed_raw, raw, sizeof(raw));
	CHECK((a[0] & 7) == 0 && (a[31] & 0x80) == 0 && (a[31] & 0x40) != 0, "clamped");
	CHECK(memcmp(a + 1, raw + 1, 30) == 0 && a[0] == (raw[0] & 0xf8) &&
	          a[31] == ((raw[31] & 0x7f) | 0x40),
	      "generated key is the RNG output, clamped");
	CHECK(!wg_memeq(a, b, WG_KEY_LEN), "different seeds, different keys");
	wg_key_generate_private(c, NULL, NULL);
	CHECK(!wg_key_is_zero(c) && (c[0] & 7) == 0 && (c[31] & 0xc0) == 0x40,
	      "default RNG key clamped");
	wg_key_generate_private(b, NULL, NULL);
	CHECK(!wg_memeq(b, c, WG_KEY_LEN), "default RNG keys differ");
}

static void test_public(void)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], pub2[WG_KEY_LEN], decoded[WG_KEY_LEN];
	char text[WG_KEY_B64_SIZE];

	CHECK(hex_decode_fixed(alice_priv_hex, priv, sizeof(priv)), "hex");
	CHECK(wg_key_public(pub, priv) == WG_OK, "public");
	wg_key_to_base64(text, pub);
	CHECK(strcmp(text, alice_pub_b64) == 0, "Alice's public key in base64: %s", text);
	wg_key_to_base64(text, priv);
	CHECK(strcmp(text, alice_priv_b64) == 0, "Alice's private key in base64: %s", text);
	CHECK(wg_key_from_base64(decoded, alice_priv_b64, WG_KEY_B64_LEN, NULL) == WG_KEY_OK &&
	          memcmp(decoded, priv, WG_KEY_LEN) == 0,
	      "decode Alice's private key");

	/* The public key ignores the bits clamping discards, as X25519 and wg do. */
	priv[0] |= 7;
	priv[31] |= 0x80;
	priv[31] &= (uint8_t)~0x40;
	CHECK(wg_key_public(pub2, priv) == WG_OK && memcmp(pub, pub2, WG_KEY_LEN) == 0,
	      "unclamped private key gives the same public key");
}

static void test_base64_round_trip(void)
{
	uint64_t seed = 42;
	uint8_t key[WG_KEY_LEN], back[WG_KEY_LEN];
	char text[WG_KEY_B64_SIZE];

	for (int i = 0; i < 1000; i++) {
		test_rng(&seed, key, sizeof(key));
		wg_key_to_base64(text, key);
		CHECK(strlen(text) == WG_KEY_B64_LEN && text[43] == '=' && text[42] != '=',
		      "encoded form %s", text);
		CHECK(wg_key_from_base64(back, text, strlen(text), NULL) == WG_KEY_OK &&
		          memcmp(back, key, WG_KEY_LEN) == 0,
		      "round trip %d", i);
	}
	memset(key, 0, sizeof(key));
	wg_key_to_base64(text, key);
	CHECK(strcmp(text, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") == 0, "zero key");
	CHECK(wg_key_is_zero(key), "zero key is zero");
	memset(key, 0xff, sizeof(key));
	wg_key_to_base64(text, key);
	CHECK(strcmp(text, "//////////////////////////////////////////8=") == 0, "all ones");
	CHECK(!wg_key_is_zero(key), "all ones is not zero");
}

/* Decodes text and checks the error code, the detail field and the formatted message. */
static void expect_error(const char *text, size_t len, enum wg_key_error code, size_t detail,
                         const char *message)
{
	struct wg_key_status st;
	uint8_t key[WG_KEY_LEN];
	char buf[WG_KEY_ERRBUF_SIZE];

	memset(key, 0xaa, sizeof(key));
	enum wg_key_error e = wg_key_from_base64(key, text, len, &st);
	CHECK(e == code && st.code == code, "\"%.*s\": got %s, want %s", (int)len, text ? text : "",
	      wg_key_error_str(e), wg_key_error_str(code));
	CHECK(wg_key_is_zero(key), "\"%.*s\": key not zeroed on error", (int)len, text ? text : "");
	if (code == WG_KEY_ERR_LENGTH)
		CHECK(st.length == detail, "length %zu, want %zu", st.length, detail);
	if (code == WG_KEY_ERR_CHARACTER || code == WG_KEY_ERR_PADDING)
		CHECK(st.position == detail, "position %zu, want %zu", st.position, detail);
	wg_key_error_format(&st, NULL, buf, sizeof(buf));
	CHECK(strcmp(buf, message) == 0, "message \"%s\", want \"%s\"", buf, message);
}

static void test_base64_errors(void)
{
	char text[64];

	expect_error("", 0, WG_KEY_ERR_LENGTH, 0, "key must be 44 base64 characters, got 0");
	expect_error(NULL, 0, WG_KEY_ERR_LENGTH, 0, "key must be 44 base64 characters, got 0");
	expect_error(alice_pub_b64, 43, WG_KEY_ERR_LENGTH, 43,
	             "key must be 44 base64 characters, got 43");
	snprintf(text, sizeof(text), "%s\n", alice_pub_b64);
	expect_error(text, 45, WG_KEY_ERR_LENGTH, 45, "key must be 44 base64 characters, got 45");
	/* 43 characters without padding: the unpadded form is refused too. */
	expect_error("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", 43, WG_KEY_ERR_LENGTH, 43,
	             "key must be 44 base64 characters, got 43");

	static const struct {
		size_t pos;
		char c;
	} bad[] = {{0, '!'},
	           {7, '-'},
	           {20, '_'},
	           {30, ' '},
	           {41, '\n'},
	           {42, '\x80'},
	           {5, '\0'},
	           {43, '!'},
	           {12, '.'},
	           /* bytes libsodium 1.0.18 would decode as digits */
	           {3, '\xc3'},
	           {4, '\xa9'},
	           {0, '\xff'},
	           {40, '\x80'}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[80];
		memcpy(text, alice_pub_b64, WG_KEY_B64_SIZE);
		text[bad[i].pos] = bad[i].c;
		snprintf(want, sizeof(want), "invalid base64 character at position %zu",
		         bad[i].pos);
		expect_error(text, WG_KEY_B64_LEN, WG_KEY_ERR_CHARACTER, bad[i].pos, want);
	}

	/* '=' too early (the 31-byte "==" form included) or missing at the end. */
	memcpy(text, alice_pub_b64, WG_KEY_B64_SIZE);
	text[42] = '=';
	expect_error(text, WG_KEY_B64_LEN, WG_KEY_ERR_PADDING, 42,
	             "misplaced '=' at position 42: a key has one '=', at the end");
	memcpy(text, alice_pub_b64, WG_KEY_B64_SIZE);
	text[10] = '=';
	expect_error(text, WG_KEY_B64_LEN, WG_KEY_ERR_PADDING, 10,
	             "misplaced '=' at position 10: a key has one '=', at the end");
	memcpy(text, alice_pub_b64, WG_KEY_B64_SIZE);
	text[43] = 'A';
	expect_error(text, WG_KEY_B64_LEN, WG_KEY_ERR_PADDING, 43,
	             "key must end with '=' (position 43)");

	/* The last digit carries 4 bits of key and 2 spare bits that must be zero. */
	static const char spare[] = {'p', 'n', 'l', 'B', 'C', 'D', '/'};
	for (size_t i = 0; i < sizeof(spare); i++) {
		memcpy(text, alice_pub_b64, WG_KEY_B64_SIZE);
		text[42] = spare[i];
		expect_error(text, WG_KEY_B64_LEN, WG_KEY_ERR_NONCANONICAL, 0,
		             wg_key_error_str(WG_KEY_ERR_NONCANONICAL));
	}
	/* ... and digits with the spare bits clear decode. */
	memcpy(text, alice_pub_b64, WG_KEY_B64_SIZE);
	text[42] = 'A';
	uint8_t key[WG_KEY_LEN];
	CHECK(wg_key_from_base64(key, text, WG_KEY_B64_LEN, NULL) == WG_KEY_OK, "'A' is canonical");

	CHECK(strcmp(wg_key_error_str(WG_KEY_ERR_COUNT), "unknown key error") == 0, "unknown");
}

static char tmpdir[] = "/tmp/meshgate-test-keys-XXXXXX";

static const char *write_file(const char *name, const char *content, size_t len, mode_t mode)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0, "create %s", path);
	if (fd < 0)
		return path;
	CHECK(write(fd, content, len) == (ssize_t)len, "write %s", path);
	CHECK(fchmod(fd, mode) == 0, "chmod %s", path);
	close(fd);
	return path;
}

static void test_files(void)
{
	struct wg_key_status st;
	uint8_t key[WG_KEY_LEN], want[WG_KEY_LEN];
	char content[2100], msg[WG_KEY_ERRBUF_SIZE];
	const char *path;

	CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
	CHECK(hex_decode_fixed(alice_priv_hex, want, sizeof(want)), "hex");

	snprintf(content, sizeof(content), "%s\n", alice_priv_b64);
	path = write_file("private.key", content, strlen(content), 0600);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_OK && memcmp(key, want, 32) == 0 &&
	          !st.loose_permissions,
	      "key file with newline, mode 0600");

	snprintf(content, sizeof(content), " \t%s \r\n\n", alice_priv_b64);
	path = write_file("spaced.key", content, strlen(content), 0600);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_OK && memcmp(key, want, 32) == 0,
	      "key file with surrounding whitespace");

	path = write_file("bare.key", alice_priv_b64, WG_KEY_B64_LEN, 0400);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_OK && !st.loose_permissions,
	      "key file without newline");

	path = write_file("open.key", alice_priv_b64, WG_KEY_B64_LEN, 0644);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_OK && memcmp(key, want, 32) == 0 &&
	          st.loose_permissions,
	      "world-readable key: accepted and flagged");
	path = write_file("group.key", alice_priv_b64, WG_KEY_B64_LEN, 0640);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_OK && st.loose_permissions,
	      "group-readable key flagged");

	path = write_file("empty.key", "", 0, 0600);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_ERR_FILE_EMPTY, "empty file");
	wg_key_error_format(&st, path, msg, sizeof(msg));
	CHECK(strstr(msg, path) && strstr(msg, "key file is empty"), "message: %s", msg);
	path = write_file("blank.key", " \n\n\t", 4, 0600);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_ERR_FILE_EMPTY, "whitespace only");

	snprintf(content, sizeof(content), "%s\n%s\n", alice_priv_b64, alice_pub_b64);
	path = write_file("two.key", content, strlen(content), 0600);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_ERR_LENGTH && st.length == 89 &&
	          wg_key_is_zero(key),
	      "two keys in one file (length %zu)", st.length);

	memset(content, ' ', 2000);
	memcpy(content + 1000, alice_priv_b64, WG_KEY_B64_LEN);
	path = write_file("huge.key", content, 2000, 0600);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_ERR_FILE_TOO_LONG, "oversized file");

	snprintf(content, sizeof(content), "%s\n", alice_priv_b64);
	content[3] = '$';
	path = write_file("bad.key", content, strlen(content), 0600);
	CHECK(wg_key_from_file(path, key, &st) == WG_KEY_ERR_CHARACTER && st.position == 3,
	      "bad character in file");

	snprintf(msg, sizeof(msg), "%s/absent.key", tmpdir);
	CHECK(wg_key_from_file(msg, key, &st) == WG_KEY_ERR_FILE_OPEN && st.sys_errno == ENOENT,
	      "missing file");
	char text[WG_KEY_ERRBUF_SIZE];
	wg_key_error_format(&st, msg, text, sizeof(text));
	CHECK(strstr(text, "absent.key") && strstr(text, strerror(ENOENT)), "message: %s", text);

	CHECK(wg_key_from_file(tmpdir, key, &st) == WG_KEY_ERR_FILE_READ && st.sys_errno == EISDIR,
	      "directory (%s)", wg_key_error_str(st.code));

	static const char *const names[] = {"private.key", "spaced.key", "bare.key",  "open.key",
	                                    "group.key",   "empty.key",  "blank.key", "two.key",
	                                    "huge.key",    "bad.key"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(msg, sizeof(msg), "%s/%s", tmpdir, names[i]);
		unlink(msg);
	}
	CHECK(rmdir(tmpdir) == 0, "rmdir %s", tmpdir);
}

/* Runs a shell command and returns its first output line (without newline) and exit status. */
static int run(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	out[0] = 0;
	if (!p)
		return -1;
	if (fgets(out, (int)outlen, p))
		out[strcspn(out, "\n")] = 0;
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_stock_wg(void)
{
	char wg_priv[128], wg_pub[128], cmd[512], ours[WG_KEY_B64_SIZE];
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct wg_key_status st;

	if (access(WG_BIN, X_OK) != 0) {
		printf("stock wg interop skipped: %s not found (install wireguard-tools)\n",
		       WG_BIN);
		return;
	}
	for (int i = 0; i < 5; i++) {
		/* wg's key, our public key. */
		CHECK(run(WG_BIN " genkey", wg_priv, sizeof(wg_priv)) == 0, "wg genkey");
		snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | " WG_BIN " pubkey", wg_priv);
		CHECK(run(cmd, wg_pub, sizeof(wg_pub)) == 0, "wg pubkey");
		CHECK(wg_key_from_base64(priv, wg_priv, strlen(wg_priv), &st) == WG_KEY_OK,
		      "decode wg genkey output %s", wg_priv);
		CHECK((priv[0] & 7) == 0 && (priv[31] & 0xc0) == 0x40, "wg genkey clamps too");
		CHECK(wg_key_public(pub, priv) == WG_OK, "public");
		wg_key_to_base64(ours, pub);
		CHECK(strcmp(ours, wg_pub) == 0, "public of wg's key: ours %s, wg %s", ours,
		      wg_pub);

		/* Our key, wg's public key. */
		wg_key_generate_private(priv, NULL, NULL);
		wg_key_to_base64(ours, priv);
		snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | " WG_BIN " pubkey", ours);
		CHECK(run(cmd, wg_pub, sizeof(wg_pub)) == 0, "wg pubkey accepts our key %s", ours);
		CHECK(wg_key_public(pub, priv) == WG_OK, "public");
		wg_key_to_base64(ours, pub);
		CHECK(strcmp(ours, wg_pub) == 0, "public of our key: ours %s, wg %s", ours, wg_pub);
	}

	/* What wg pubkey refuses, we refuse; what it accepts, we accept. */
	char bad[6][WG_KEY_B64_SIZE + 2];
	for (int i = 0; i < 6; i++)
		memcpy(bad[i], alice_priv_b64, WG_KEY_B64_SIZE);
	bad[0][42] = 'p';  /* spare bits set */
	bad[1][43] = 'A';  /* no padding */
	bad[2][42] = '=';  /* "==" */
	bad[3][5] = '-';   /* URL-safe alphabet */
	bad[4][43] = '\0'; /* 43 characters */
	bad[5][17] = '*';
	for (int i = 0; i < 6; i++) {
		uint8_t key[WG_KEY_LEN];
		snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | " WG_BIN " pubkey 2>/dev/null",
		         bad[i]);
		CHECK(run(cmd, wg_pub, sizeof(wg_pub)) != 0, "wg accepted %s", bad[i]);
		CHECK(wg_key_from_base64(key, bad[i], strlen(bad[i]), NULL) != WG_KEY_OK,
		      "we accepted %s", bad[i]);
	}
	snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | " WG_BIN " pubkey", alice_priv_b64);
	CHECK(run(cmd, wg_pub, sizeof(wg_pub)) == 0 && strcmp(wg_pub, alice_pub_b64) == 0,
	      "wg agrees on RFC 7748 Alice: %s", wg_pub);
}

int main(void)
{
	test_generate();
	test_public();
	test_base64_round_trip();
	test_base64_errors();
	test_files();
	test_stock_wg();
	return check_done("keys");
}
