/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The schema, written once for both backends. ID stands for the auto-increment key column
 * type, which is the one piece of DDL the two dialects spell differently.
 */
#ifndef MESHGATE_COORD_SCHEMA_H
#define MESHGATE_COORD_SCHEMA_H

#define COORD_SCHEMA_V1(ID)                                                                      \
	"CREATE TABLE users (id " ID ", name TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL);" \
	"CREATE TABLE api_keys (id " ID ", prefix TEXT NOT NULL UNIQUE, hash TEXT NOT NULL,"     \
	" created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL DEFAULT 0,"                     \
	" last_used BIGINT NOT NULL DEFAULT 0);"                                                 \
	"CREATE TABLE preauth_keys (id " ID ", prefix TEXT NOT NULL UNIQUE, hash TEXT NOT NULL," \
	" user_id BIGINT NOT NULL REFERENCES users(id), reusable INTEGER NOT NULL,"              \
	" ephemeral INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0,"                          \
	" expires_at BIGINT NOT NULL, tags TEXT NOT NULL DEFAULT '[]',"                          \
	" created_at BIGINT NOT NULL);"                                                          \
	"CREATE TABLE nodes (id " ID ", name TEXT NOT NULL UNIQUE,"                              \
	" user_id BIGINT NOT NULL REFERENCES users(id), node_key TEXT NOT NULL UNIQUE,"          \
	" addr_index BIGINT NOT NULL UNIQUE, tags TEXT NOT NULL DEFAULT '[]',"                   \
	" ephemeral INTEGER NOT NULL DEFAULT 0, key_expiry BIGINT NOT NULL DEFAULT 0,"           \
	" cred_prefix TEXT NOT NULL UNIQUE, cred_hash TEXT NOT NULL,"                            \
	" endpoints TEXT NOT NULL DEFAULT '[]', routes_advertised TEXT NOT NULL DEFAULT '[]',"   \
	" routes_approved TEXT NOT NULL DEFAULT '[]', version TEXT NOT NULL DEFAULT '',"         \
	" online INTEGER NOT NULL DEFAULT 0, last_seen BIGINT NOT NULL DEFAULT 0,"               \
	" created_at BIGINT NOT NULL);"                                                          \
	"CREATE INDEX nodes_user ON nodes(user_id);"                                             \
	"CREATE INDEX preauth_keys_user ON preauth_keys(user_id);"                               \
	"CREATE TABLE policy (id INTEGER PRIMARY KEY, body TEXT NOT NULL, format TEXT NOT NULL," \
	" version BIGINT NOT NULL, updated_at BIGINT NOT NULL);"                                 \
	"CREATE TABLE server_keys (id INTEGER PRIMARY KEY, private_key TEXT NOT NULL,"           \
	" challenge_key TEXT NOT NULL);"                                                         \
	"CREATE TABLE used_challenges (challenge TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);"

/* Every migration, in order, for both backends: a store must never miss one the other has. */
/* clang-format off */
#define COORD_MIGRATIONS(ID)                                                                     \
	{1, "users, keys, nodes, policy", COORD_SCHEMA_V1(ID)},                                  \
	{2, "server public key; the private key moves to server_key_file",                       \
	 "ALTER TABLE server_keys ADD COLUMN public_key TEXT NOT NULL DEFAULT ''"},               \
	{3, "routes approved by an auto-approver, kept apart from manual approvals",             \
	 "ALTER TABLE nodes ADD COLUMN routes_auto TEXT NOT NULL DEFAULT '[]'"},                  \
	{4, "the relay each node reports as its home",                                           \
	 "ALTER TABLE nodes ADD COLUMN home_relay TEXT NOT NULL DEFAULT ''"},                     \
	{5, "the endpoints each node learned with STUN",                                         \
	 "ALTER TABLE nodes ADD COLUMN stun_endpoints TEXT NOT NULL DEFAULT '[]'"},               \
	{6, "the NAT mapping each node reports (none, easy, hard, unknown)",                     \
	 "ALTER TABLE nodes ADD COLUMN nat TEXT NOT NULL DEFAULT 'unknown'"},
/* clang-format on */

#endif
