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

#endif
