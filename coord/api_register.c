// SPDX-License-Identifier: GPL-2.0-only
/*
 * Registration with proof of possession. The server has an X25519 key pair (shared by all
 * replicas through the store). A node asks for a challenge: 8 bytes of time, 16 random bytes and
 * a keyed BLAKE2b tag over both, so any replica can check it without shared state. The node then
 * seals "meshgate-register-v1" || challenge || BLAKE2b(auth key) with crypto_box under its
 * WireGuard private key and the server's public key. Only the holder of the private key (or the
 * server) can produce a box that opens under the node's public key. Each challenge is accepted
 * once (recorded in the store) and only for challenge_ttl seconds, so a captured request cannot
 * be replayed, and the proof is bound to the auth key it was sent with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "db.h"
#include "http.h"
#include "keys.h"
#include "log.h"

#define CHALLENGE_LEN 40 /* 8 time + 16 random + 16 tag */
#define PROOF_CONTEXT "meshgate-register-v1"
#define PROOF_MSG_LEN (sizeof(PROOF_CONTEXT) - 1 + CHALLENGE_LEN + 32)

void api_server_key(struct http_req *r, struct http_reply *o)
{
	reply_json(o, 200,
	           json_pack("{ss si}", "public_key", r->c->server_pk_b64, "proof_version", 1));
}

static void challenge_tag(const struct coord *c, const uint8_t *body, uint8_t tag[16])
{
	crypto_generichash(tag, 16, body, 24, c->challenge_key, sizeof(c->challenge_key));
}

void api_challenge(struct http_req *r, struct http_reply *o)
{
	uint8_t ch[CHALLENGE_LEN];
	uint64_t now = (uint64_t)now_unix();
	for (int i = 0; i < 8; i++)
		ch[i] = (uint8_t)(now >> (56 - 8 * i));
	wg_random_bytes(ch + 8, 16);
	challenge_tag(r->c, ch, ch + 24);
	char b64[80];
	b64_encode(ch, sizeof(ch), b64, sizeof(b64));
	reply_json(o, 200,
	           json_pack("{ss sI ss}", "challenge", b64, "expires_at",
	                     (json_int_t)(now + (uint64_t)r->c->cfg.challenge_ttl), "server_key",
	                     r->c->server_pk_b64));
}

static bool x25519_pub_canonical(const uint8_t pk[32])
{
	if (pk[31] & 0x80)
		return false;
	/* Values from 2^255-19 to 2^255-1: 0x7f, thirty 0xff, then a low byte of at least 0xed. */
	if (pk[31] != 0x7f || pk[0] < 0xed)
		return true;
	for (int i = 1; i < 31; i++)
		if (pk[i] != 0xff)
			return true;
	return false;
}

/* Decodes a base64 field of exactly len bytes; on failure replies 400 naming the field. */
static bool b64_field(json_t *req, const char *field, uint8_t *out, size_t len,
                      struct http_reply *o)
{
	const char *s = json_string_value(json_object_get(req, field));
	if (s == NULL) {
		reply_error(o, 400, "missing_field", "'%s' is required (base64 string)", field);
		return false;
	}
	uint8_t tmp[256];
	long n = strlen(s) < 360 ? b64_decode(s, tmp, sizeof(tmp)) : -1;
	if (n != (long)len) {
		reply_error(o, 400, "bad_field", "'%s' must be standard base64 of %zu bytes", field,
		            len);
		wg_memzero(tmp, sizeof(tmp));
		return false;
	}
	memcpy(out, tmp, len);
	wg_memzero(tmp, sizeof(tmp));
	return true;
}

struct reg_ctx {
	struct coord *c;
	struct preauth_key key;
	uint8_t node_pub[32];
	char node_key[WG_KEY_B64_SIZE];
	char hostname[64];
	char challenge_hex[CHALLENGE_LEN * 2 + 1];
	int64_t challenge_exp;
};

/* Checks challenge, proof and auth key; nothing is written. */
static bool reg_verify(struct reg_ctx *x, json_t *req, struct http_reply *o)
{
	struct coord *c = x->c;
	uint8_t ch[CHALLENGE_LEN], nonce[crypto_box_NONCEBYTES];
	uint8_t proof[PROOF_MSG_LEN + crypto_box_MACBYTES], msg[PROOF_MSG_LEN], want[PROOF_MSG_LEN],
	    tag[16], shared[crypto_box_BEFORENMBYTES];
	bool ok = false;
	const char *node_key = json_string_value(json_object_get(req, "node_key"));
	if (node_key == NULL) {
		reply_error(o, 400, "bad_key",
		            "'node_key' must be a WireGuard public key (44 characters of base64)");
		goto out;
	}
	struct wg_key_status kst;
	if (wg_key_from_base64(x->node_pub, node_key, strlen(node_key), &kst) != WG_KEY_OK) {
		char why[WG_KEY_ERRBUF_SIZE];
		reply_error(o, 400, "bad_key", "'node_key' is not a WireGuard public key: %s",
		            wg_key_error_format(&kst, NULL, why, sizeof(why)));
		goto out;
	}
	/*
	 * X25519 ignores bit 255 and reduces mod p, so one private key has several encodings of its
	 * public key. Only the canonical one is accepted: the store compares keys as strings.
	 */
	if (!x25519_pub_canonical(x->node_pub)) {
		reply_error(o, 400, "bad_key",
		            "'node_key' is not canonical (bit 255 set or not below 2^255-19)");
		goto out;
	}
	wg_key_to_base64(x->node_key, x->node_pub);
	if (crypto_box_beforenm(shared, x->node_pub, c->server_sk) != 0) {
		reply_error(o, 400, "bad_key", "'node_key' is a low-order point");
		goto out;
	}
	if (!b64_field(req, "challenge", ch, sizeof(ch), o) ||
	    !b64_field(req, "nonce", nonce, sizeof(nonce), o) ||
	    !b64_field(req, "proof", proof, sizeof(proof), o))
		goto out;
	challenge_tag(c, ch, tag);
	if (!wg_memeq(tag, ch + 24, 16)) {
		reply_error(o, 401, "bad_challenge", "the challenge was not issued by this server");
		goto out;
	}
	int64_t issued = 0;
	for (int i = 0; i < 8; i++)
		issued = (issued << 8) | ch[i];
	int64_t now = now_unix();
	if (issued > now + 5 || now > issued + c->cfg.challenge_ttl) {
		reply_error(o, 401, "challenge_expired",
		            "the challenge is older than %llds; ask for a new one",
		            (long long)c->cfg.challenge_ttl);
		goto out;
	}
	x->challenge_exp = issued + c->cfg.challenge_ttl;
	hex_encode(ch, sizeof(ch), x->challenge_hex);
	if (crypto_box_open_easy_afternm(msg, proof, sizeof(proof), nonce, shared) != 0) {
		reply_error(o, 401, "bad_proof",
		            "the proof does not open under node_key: the sender does not hold its "
		            "private key");
		goto out;
	}
	const char *auth = json_string_value(json_object_get(req, "auth_key"));
	char prefix[TOKEN_PREFIX_LEN + 1], hash[TOKEN_HASH_HEX_LEN + 1];
	if (auth == NULL || !token_parse(auth, "pre", prefix, hash)) {
		reply_error(o, 401, "bad_auth_key", "'auth_key' is not a pre-auth key");
		goto out;
	}
	memcpy(want, PROOF_CONTEXT, sizeof(PROOF_CONTEXT) - 1);
	memcpy(want + sizeof(PROOF_CONTEXT) - 1, ch, CHALLENGE_LEN);
	crypto_generichash(want + sizeof(PROOF_CONTEXT) - 1 + CHALLENGE_LEN, 32,
	                   (const uint8_t *)auth, strlen(auth), NULL, 0);
	if (!wg_memeq(msg, want, sizeof(want))) {
		reply_error(o, 401, "bad_proof",
		            "the proof does not cover this challenge and auth key");
		goto out;
	}
	if (!db_preauth_get(c->store, prefix, &x->key) || !hash_hex_equal(x->key.hash, hash)) {
		reply_error(o, 401, "bad_auth_key", "unknown pre-auth key");
		goto out;
	}
	if (x->key.expires_at <= now) {
		reply_error(o, 401, "auth_key_expired", "the pre-auth key has expired");
		goto out;
	}
	if (!x->key.reusable && x->key.used) {
		reply_error(o, 401, "auth_key_used",
		            "the single-use pre-auth key was already used");
		goto out;
	}
	ok = true;
out:
	wg_memzero(shared, sizeof(shared));
	wg_memzero(msg, sizeof(msg));
	wg_memzero(want, sizeof(want));
	return ok;
}

/* A DNS label for the node that no other node uses. */
static bool unique_name(struct coord *c, const char *want, int64_t self, char out[64])
{
	snprintf(out, 64, "%s", want);
	for (int i = 2; i < 10000; i++) {
		if (!db_node_name_taken(c->store, out, self))
			return true;
		char base[52];
		snprintf(base, sizeof(base), "%.51s", want);
		snprintf(out, 64, "%s-%d", base, i);
	}
	return false;
}

static int64_t max_index(const struct coord *c)
{
	int bits4 = 32 - c->cfg.prefix_v4.len, bits6 = 128 - c->cfg.prefix_v6.len;
	int64_t max4 = (1ll << bits4) - 2; /* neither the network nor the broadcast address */
	int64_t max6 = bits6 >= 32 ? 0xffffffffll : (1ll << bits6) - 1;
	return max4 < max6 ? max4 : max6;
}

/* Writes the node in one transaction. Returns its id, or 0 after filling o. */
static int64_t reg_store(struct reg_ctx *x, char cred[TOKEN_MAX_LEN], struct http_reply *o)
{
	struct coord *c = x->c;
	struct store *s = c->store;
	char cprefix[TOKEN_PREFIX_LEN + 1], chash[TOKEN_HASH_HEX_LEN + 1];
	token_new("node", cred, cprefix, chash);
	char *tags = json_dumps(x->key.tags, JSON_COMPACT | JSON_SORT_KEYS);
	int64_t now = now_unix(), id = 0,
	        expiry = c->cfg.node_key_expiry ? now + c->cfg.node_key_expiry : 0;
	for (int attempt = 0; tags != NULL && attempt < 8 && id == 0; attempt++) {
		if (store_begin(s) != STORE_OK)
			break;
		enum store_status st = db_challenge_use(s, x->challenge_hex, x->challenge_exp, now);
		if (st == STORE_CONFLICT) {
			store_rollback(s);
			reply_error(o, 401, "challenge_reused",
			            "this challenge was already used; ask for a new one");
			break;
		}
		if (st != STORE_OK)
			goto fail;
		int64_t existing = 0, owner = 0;
		char name[64];
		if (db_node_find_by_key(s, x->node_key, &existing, &owner)) {
			if (owner != x->key.user_id) {
				store_rollback(s);
				reply_error(o, 409, "key_in_use",
				            "this node key is registered to another user");
				break;
			}
			struct node_info old;
			if (!db_node_load(s, existing, &old))
				goto fail;
			snprintf(name, sizeof(name), "%s", old.name);
			node_info_clear(&old);
			if (db_node_reregister(s, existing, name, tags, x->key.ephemeral, expiry,
			                       cprefix, chash) != STORE_OK)
				goto fail;
			id = existing;
		} else {
			struct node_info n = {0};
			if (!unique_name(c, x->hostname, 0, n.name))
				goto fail;
			n.user_id = x->key.user_id;
			snprintf(n.node_key, sizeof(n.node_key), "%s", x->node_key);
			n.addr_index = db_node_free_index(s, max_index(c));
			if (n.addr_index < 0) {
				store_rollback(s);
				reply_error(o, 507, "address_space_full",
				            "no overlay address is free");
				break;
			}
			n.tags = x->key.tags;
			n.ephemeral = x->key.ephemeral;
			n.key_expiry = expiry;
			n.created_at = now;
			st = db_node_insert(s, &n, cprefix, chash, &id);
			if (st == STORE_CONFLICT) {
				/* Another replica took the address or name: try again. */
				store_rollback(s);
				id = 0;
				continue;
			}
			if (st != STORE_OK)
				goto fail;
		}
		if (!x->key.reusable && !db_preauth_consume(s, x->key.id)) {
			store_rollback(s);
			reply_error(o, 401, "auth_key_used",
			            "the single-use pre-auth key was already used");
			id = 0;
			break;
		}
		if (store_commit(s) != STORE_OK)
			goto fail;
		break;
	fail:
		store_rollback(s);
		reply_error(o, 500, "store_error", "the store refused the registration");
		id = 0;
		break;
	}
	free(tags);
	wg_memzero(chash, sizeof(chash));
	return id;
}

void api_register(struct http_req *r, struct http_reply *o)
{
	static const char *const known[] = {"auth_key", "node_key", "hostname", "challenge",
	                                    "nonce",    "proof",    NULL};
	struct reg_ctx x = {.c = r->c};
	char cred[TOKEN_MAX_LEN] = "";
	json_t *req = req_json(r, o);
	if (req == NULL || !req_keys_known(req, known, o))
		goto out;
	json_t *host = json_object_get(req, "hostname");
	if (host != NULL && (!json_is_string(host) || strlen(json_string_value(host)) > 255)) {
		reply_error(o, 400, "bad_field",
		            "'hostname' must be a string of at most 255 bytes");
		goto out;
	}
	dns_label_sanitize(host ? json_string_value(host) : "node", x.hostname);
	if (!reg_verify(&x, req, o))
		goto out;
	int64_t id = reg_store(&x, cred, o);
	if (id == 0)
		goto out;
	coord_node_changed(r->c, id);
	const struct node_info *n = netmap_node(r->c->nm, id);
	if (n == NULL) {
		reply_error(o, 500, "internal", "the node vanished after registration");
		goto out;
	}
	char v4[16], v6[48];
	netmap_addresses(r->c->nm, n->addr_index, v4, v6);
	mg_logf(MG_LOG_INFO, "registered node %lld (%s) for user %s", (long long)id, n->name, n->user);
	reply_json(o, 200,
	           json_pack("{sI ss ss ss s{ss ss} ss sI sO sb ss}", "node_id", (json_int_t)id,
	                     "name", n->name, "user", n->user, "node_key", n->node_key, "addresses",
	                     "ipv4", v4, "ipv6", v6, "credential", cred, "key_expiry",
	                     (json_int_t)n->key_expiry, "tags", n->tags, "ephemeral", n->ephemeral,
	                     "server_key", r->c->server_pk_b64));
out:
	wg_memzero(cred, sizeof(cred));
	db_preauth_clear(&x.key);
	json_decref(req);
}
