// SPDX-License-Identifier: GPL-2.0-only
/*
 * POST /v1/relay/admit: a meshgate-relay asks whether a node key belongs to a node of this
 * deployment before it serves that node. The relay authenticates with the shared relay
 * credential (relay_credential_file in both configs), checked on the headers before any body.
 */
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "db.h"
#include "http.h"
#include "keys.h"

/* How long a relay may keep an answer: known nodes longer, unknown ones briefly so that a
 * node registering right now is admitted soon. */
#define ADMIT_TTL_KNOWN   60
#define ADMIT_TTL_UNKNOWN 5

bool api_relay_preauth(struct http_req *r, struct http_reply *o)
{
	const struct coord *c = r->c;
	const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	uint8_t cred[32];
	bool ok;

	if (!c->cfg.has_relay_credential) {
		reply_error(
		    o, 403, "relay_admission_off",
		    "this coordinator has no relay_credential_file: relay admission is off");
		return false;
	}
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0 ||
	    wg_key_from_base64(cred, h + 7, strlen(h + 7), NULL) != WG_KEY_OK) {
		reply_error(o, 401, "bad_relay_credential",
		            "'Authorization: Bearer <relay credential>' is missing or malformed");
		return false;
	}
	ok = sodium_memcmp(cred, c->cfg.relay_credential, sizeof(cred)) == 0;
	sodium_memzero(cred, sizeof(cred));
	if (!ok)
		reply_error(o, 401, "bad_relay_credential",
		            "the relay credential does not match relay_credential_file");
	return ok;
}

void api_relay_admit(struct http_req *r, struct http_reply *o)
{
	static const char *const known[] = {"node_key", NULL};
	struct coord *c = r->c;
	uint8_t key[32];
	int64_t id = 0, uid = 0;
	const char *reason = NULL;
	json_t *req = req_json(r, o);

	if (req == NULL || !req_keys_known(req, known, o))
		goto out;
	const char *k = json_string_value(json_object_get(req, "node_key"));
	if (k == NULL || wg_key_from_base64(key, k, strlen(k), NULL) != WG_KEY_OK) {
		reply_error(o, 400, "bad_key", "'node_key' must be a base64 WireGuard public key");
		goto out;
	}
	const struct node_info *n = NULL;
	if (db_node_find_by_key(c->store, k, &id, &uid))
		n = netmap_node(c->nm, id);
	if (n == NULL)
		reason = "unknown_node";
	else if (n->key_expiry != 0 && n->key_expiry <= now_unix())
		reason = "node_expired";
	if (reason == NULL)
		reply_json(o, 200,
		           json_pack("{sb sI sI}", "admitted", 1, "node_id", (json_int_t)id, "ttl",
		                     (json_int_t)ADMIT_TTL_KNOWN));
	else
		reply_json(o, 200,
		           json_pack("{sb ss sI}", "admitted", 0, "reason", reason, "ttl",
		                     (json_int_t)ADMIT_TTL_UNKNOWN));
out:
	json_decref(req);
}
