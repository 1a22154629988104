/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Domain queries over the store, written once in SQL that SQLite and PostgreSQL both accept.
 * Secrets never reach this layer: tokens arrive as their prefix and hex BLAKE2b hash.
 */
#ifndef MESHGATE_COORD_DB_H
#define MESHGATE_COORD_DB_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "netmap.h"
#include "store.h"

struct preauth_key {
	int64_t id;
	char hash[TOKEN_HASH_HEX_LEN + 1];
	int64_t user_id;
	char user[64];
	bool reusable, ephemeral, used;
	int64_t expires_at;
	json_t *tags;
};

/* users */
enum store_status db_user_create(struct store *s, const char *name, int64_t *id);
bool db_user_find(struct store *s, const char *name, int64_t *id);
enum store_status db_user_delete(struct store *s, int64_t id);
json_t *db_user_list(struct store *s);
int64_t db_user_node_count(struct store *s, int64_t user_id);

/* API keys */
enum store_status db_apikey_create(struct store *s, const char *prefix, const char *hash,
                                   int64_t expires_at);
/* True when prefix names a live key whose hash matches (constant-time compare). */
bool db_apikey_check(struct store *s, const char *prefix, const char *hash, int64_t now);
json_t *db_apikey_list(struct store *s);
enum store_status db_apikey_delete(struct store *s, const char *prefix);

/* pre-auth keys */
enum store_status db_preauth_create(struct store *s, const char *prefix, const char *hash,
                                    int64_t user_id, bool reusable, bool ephemeral,
                                    int64_t expires_at, const char *tags_json);
bool db_preauth_get(struct store *s, const char *prefix, struct preauth_key *k);
void db_preauth_clear(struct preauth_key *k);
/* Marks a single-use key used; false when another registration used it first. */
bool db_preauth_consume(struct store *s, int64_t id);
enum store_status db_preauth_expire(struct store *s, const char *prefix, int64_t now);
json_t *db_preauth_list(struct store *s, int64_t user_id);

/* nodes */
bool db_node_load(struct store *s, int64_t id, struct node_info *n);
/* Calls fn for every node; false on a store error. */
bool db_node_load_all(struct store *s, void (*fn)(void *ctx, struct node_info *n), void *ctx);
bool db_node_find_by_key(struct store *s, const char *node_key, int64_t *id, int64_t *user_id);
bool db_node_find_by_cred(struct store *s, const char *prefix, int64_t *id, char hash[65]);
bool db_node_name_taken(struct store *s, const char *name, int64_t except_id);
/* The lowest free address index above the highest in use, or a gap below; -1 when full. */
int64_t db_node_free_index(struct store *s, int64_t max_index);
enum store_status db_node_insert(struct store *s, const struct node_info *n,
                                 const char *cred_prefix, const char *cred_hash, int64_t *id);
enum store_status db_node_reregister(struct store *s, int64_t id, const char *name,
                                     const char *tags_json, bool ephemeral, int64_t key_expiry,
                                     const char *cred_prefix, const char *cred_hash);
/* What a map request stores; the lists are compact JSON arrays. */
struct db_map_report {
	const char *endpoints, *stun_endpoints, *nat;
	const char *advertised, *approved, *version, *home_relay;
	int online;
};
enum store_status db_node_update_map(struct store *s, int64_t id, const struct db_map_report *r,
                                     int64_t now);
enum store_status db_node_set_online(struct store *s, int64_t id, bool online, int64_t now);
enum store_status db_node_rename(struct store *s, int64_t id, const char *name);
enum store_status db_node_set_expiry(struct store *s, int64_t id, int64_t expiry);
enum store_status db_node_set_approved(struct store *s, int64_t id, const char *approved);
/* The approved routes that an auto-approver (not an admin) approved; a new reference. */
json_t *db_node_get_auto(struct store *s, int64_t id);
enum store_status db_node_set_auto(struct store *s, int64_t id, const char *routes);
enum store_status db_node_delete(struct store *s, int64_t id);

/* policy */
/* Loads the stored policy text; false when none has been stored. Caller frees body. */
bool db_policy_get(struct store *s, char **body, char format[8], int64_t *version);
enum store_status db_policy_set(struct store *s, const char *body, const char *format,
                                int64_t *version);

/* one-time registration challenges (the server key: server_key.h) */
/* Records a challenge as used; STORE_CONFLICT when it was used before. */
enum store_status db_challenge_use(struct store *s, const char *challenge_hex, int64_t expires_at,
                                   int64_t now);

#endif
