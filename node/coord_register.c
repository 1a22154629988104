// SPDX-License-Identifier: GPL-2.0-only
/*
 * Registration with proof of key possession (coord_client.h describes the exchange) and the node
 * credential it earns, kept in <state_dir>/node.json (0600) so a restart reuses it. Runs on the
 * coordinator client's thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "coord_client_internal.h"
#include "base64.h"
#include "crypto.h"
#include "log.h"

#define PROOF_CONTEXT "meshgate-register-v1"
#define CHALLENGE_LEN 40
#define AUTHKEY_MAX   256

static int read_authkey(struct mg_coord_client *c, char key[AUTHKEY_MAX])
{
	FILE *f = fopen(c->cfg.coord.authkey_file, "r");
	size_t n, a = 0;

	if (!f) {
		mg_cc_set_error(c, "cannot read the auth key file %s: %s",
		                c->cfg.coord.authkey_file, strerror(errno));
		return -1;
	}
	n = fread(key, 1, AUTHKEY_MAX - 1, f);
	fclose(f);
	key[n] = '\0';
	while (a < n && strchr(" \t\r\n", key[a]))
		a++;
	while (n > a && strchr(" \t\r\n", key[n - 1]))
		key[--n] = '\0';
	memmove(key, key + a, n - a + 1);
	if (key[0] == '\0' || n == AUTHKEY_MAX - 1) {
		mg_cc_set_error(c, "the auth key file %s is empty or too long",
		                c->cfg.coord.authkey_file);
		return -1;
	}
	return 0;
}

/* Exactly len bytes of strict base64; what names the field in the error. */
static int b64_decode_exact(const char *what, const char *s, uint8_t *out, size_t len, char *err,
                            size_t errlen)
{
	struct mg_b64_status st;
	char why[96];
	size_t want = (len + 2) / 3 * 4, slen;

	if (!s) {
		snprintf(err, errlen, "%s: missing or not a string", what);
		return -1;
	}
	slen = strlen(s);
	if (slen != want) {
		snprintf(err, errlen, "%s: expected %zu base64 characters, got %zu", what, want,
		         slen);
		return -1;
	}
	if (mg_b64_decode(s, slen, out, len, &st) != (long)len) {
		if (st.code == MG_B64_OK)
			st.code = MG_B64_ERR_LENGTH;
		snprintf(err, errlen, "%s: %s", what, mg_b64_error_format(&st, why, sizeof(why)));
		return -1;
	}
	return 0;
}

const char *mg_cc_reply_error(json_t *reply)
{
	const char *m = json_string_value(json_object_get(reply, "message"));

	if (!m)
		m = json_string_value(json_object_get(reply, "error"));
	return m ? m : "(no message)";
}

static void state_path(const struct mg_coord_client *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s/node.json", c->cfg.coord.state_dir);
}

static void save_state(struct mg_coord_client *c, int64_t node_id)
{
	char path[MG_PATH_MAX + 16], tmp[MG_PATH_MAX + 32], *text;
	json_t *o;
	int fd;

	if (!c->cfg.coord.state_dir[0])
		return;
	mkdir(c->cfg.coord.state_dir, 0700);
	state_path(c, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	o = json_pack("{ss ss ss sI}", "url", c->cfg.coord.url, "node_key", c->public_b64,
	              "credential", c->cred, "node_id", (json_int_t)node_id);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o); /* jansson keeps no copy we could zero; the file is 0600 */
	fd = text ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd) != 0 ||
	    rename(tmp, path) != 0)
		mg_cc_set_error(c, "cannot save the node credential in %s", path);
	if (fd >= 0)
		close(fd);
	if (text) {
		wg_memzero(text, strlen(text));
		free(text);
	}
}

void mg_cc_load_credential(struct mg_coord_client *c)
{
	char path[MG_PATH_MAX + 16];
	json_t *o;
	const char *cred;

	if (!c->cfg.coord.state_dir[0])
		return;
	state_path(c, path, sizeof(path));
	o = json_load_file(path, 0, NULL);
	if (!o)
		return;
	cred = json_string_value(json_object_get(o, "credential"));
	/* A credential belongs to one key at one server. */
	if (cred && strlen(cred) < sizeof(c->cred) &&
	    strcmp(json_string_value(json_object_get(o, "node_key")) ?: "", c->public_b64) == 0 &&
	    strcmp(json_string_value(json_object_get(o, "url")) ?: "", c->cfg.coord.url) == 0) {
		snprintf(c->cred, sizeof(c->cred), "%s", cred);
		c->have_cred = true;
		c->status.registered = true;
		c->status.node_id = json_integer_value(json_object_get(o, "node_id"));
	}
	json_decref(o);
}

void mg_cc_drop_credential(struct mg_coord_client *c)
{
	char path[MG_PATH_MAX + 16];

	wg_memzero(c->cred, sizeof(c->cred));
	c->have_cred = false;
	if (c->cfg.coord.state_dir[0]) {
		state_path(c, path, sizeof(path));
		unlink(path);
	}
	pthread_mutex_lock(&c->lock);
	c->status.registered = false;
	pthread_mutex_unlock(&c->lock);
}

int mg_cc_register(struct mg_coord_client *c)
{
	uint8_t server_pk[WG_KEY_LEN], challenge[CHALLENGE_LEN], nonce[crypto_box_NONCEBYTES];
	uint8_t msg[sizeof(PROOF_CONTEXT) - 1 + CHALLENGE_LEN + 32];
	uint8_t proof[sizeof(msg) + crypto_box_MACBYTES];
	char authkey[AUTHKEY_MAX], nonce_b64[64], proof_b64[256], err[WG_KEY_ERRBUF_SIZE];
	json_t *reply = NULL, *req = NULL;
	const char *key_b64, *ch_b64, *cred;
	struct wg_key_status key_status;
	long st;
	int rc = -1;

	if (read_authkey(c, authkey))
		goto out;
	st = mg_cc_http_json(c, "GET", "/v1/key", NULL, &reply);
	if (st != 200) {
		if (st)
			mg_cc_set_error(c, "GET /v1/key: HTTP %ld", st);
		goto out;
	}
	/* The server's X25519 key is held to a WireGuard key's rules. */
	key_b64 = json_string_value(json_object_get(reply, "public_key"));
	if (!key_b64 ||
	    wg_key_from_base64(server_pk, key_b64, strlen(key_b64), &key_status) != WG_KEY_OK) {
		mg_cc_set_error(c, "GET /v1/key: refused the server's reply: public_key: %s",
		                key_b64 ? wg_key_error_format(&key_status, NULL, err, sizeof(err))
		                        : "missing or not a string");
		goto out;
	}
	json_decref(reply);
	st = mg_cc_http_json(c, "POST", "/v1/register/challenge", NULL, &reply);
	if (st != 200) {
		if (st)
			mg_cc_set_error(c, "POST /v1/register/challenge: HTTP %ld", st);
		goto out;
	}
	ch_b64 = json_string_value(json_object_get(reply, "challenge"));
	if (b64_decode_exact("challenge", ch_b64, challenge, sizeof(challenge), err, sizeof(err))) {
		mg_cc_set_error(c, "POST /v1/register/challenge: refused the server's reply: %s",
		                err);
		goto out;
	}
	memcpy(msg, PROOF_CONTEXT, sizeof(PROOF_CONTEXT) - 1);
	memcpy(msg + sizeof(PROOF_CONTEXT) - 1, challenge, CHALLENGE_LEN);
	crypto_generichash(msg + sizeof(PROOF_CONTEXT) - 1 + CHALLENGE_LEN, 32,
	                   (const uint8_t *)authkey, strlen(authkey), NULL, 0);
	randombytes_buf(nonce, sizeof(nonce));
	/* crypto_box clamps the scalar as X25519 does, so the WireGuard key is the box key. */
	if (crypto_box_easy(proof, msg, sizeof(msg), nonce, server_pk, c->cfg.private_key) != 0) {
		mg_cc_set_error(c, "cannot build the registration proof (server key is low-order)");
		goto out;
	}
	mg_b64_encode(nonce, sizeof(nonce), nonce_b64, sizeof(nonce_b64));
	mg_b64_encode(proof, sizeof(proof), proof_b64, sizeof(proof_b64));
	req = json_pack("{ss ss ss ss ss ss}", "auth_key", authkey, "node_key", c->public_b64,
	                "hostname", c->hostname, "challenge", ch_b64, "nonce", nonce_b64, "proof",
	                proof_b64);
	json_t *ch_reply = reply;
	reply = NULL;
	st = req ? mg_cc_http_json(c, "POST", "/v1/register", req, &reply) : 0;
	json_decref(ch_reply);
	cred = json_string_value(json_object_get(reply, "credential"));
	if (st != 200 || !cred || strlen(cred) >= sizeof(c->cred)) {
		if (st)
			mg_cc_set_error(c, "registration refused: HTTP %ld: %s", st,
			                mg_cc_reply_error(reply));
		goto out;
	}
	snprintf(c->cred, sizeof(c->cred), "%s", cred);
	c->have_cred = true;
	int64_t id = json_integer_value(json_object_get(reply, "node_id"));
	save_state(c, id);
	pthread_mutex_lock(&c->lock);
	c->status.registered = true;
	c->status.node_id = id;
	c->status.registrations++;
	pthread_mutex_unlock(&c->lock);
	mg_log(MG_LOG_NOTICE, "registered with the coordinator", "url", c->cfg.coord.url, "key",
	       c->public_b64, "name", json_string_value(json_object_get(reply, "name")), "ipv4",
	       json_string_value(json_object_get(json_object_get(reply, "addresses"), "ipv4")),
	       NULL);
	rc = 0;
out:
	if (req) {
		/* The request object holds the auth key: scrub its string before freeing. */
		json_t *k = json_object_get(req, "auth_key");
		const char *ks = json_string_value(k);

		if (ks)
			wg_memzero((char *)ks, strlen(ks));
	}
	json_decref(req);
	json_decref(reply);
	wg_memzero(authkey, sizeof(authkey));
	wg_memzero(msg, sizeof(msg));
	return rc;
}
