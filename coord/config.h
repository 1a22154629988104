/* SPDX-License-Identifier: GPL-2.0-only */
/* meshgate-coord's YAML configuration. See conf/coord-sqlite.yaml for an annotated example. */
#ifndef MESHGATE_COORD_CONFIG_H
#define MESHGATE_COORD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct coord_config {
	char listen_host[64];
	int listen_port;
	char *tls_cert;
	char *tls_key;
	bool allow_plain_http; /* plain HTTP on a non-loopback address */
	char *store_url;
	bool sqlite_sync_full;
	struct mg_prefix prefix_v4;
	struct mg_prefix prefix_v6;
	char *policy_file;
	char *server_key_file; /* default: meshgate-coord-server.key next to the config file */
	int log_level;
	char *replica_name;
	int64_t node_key_expiry; /* seconds; 0: keys never expire */
	int64_t ephemeral_grace; /* seconds offline before an ephemeral node is removed */
	int64_t heartbeat;       /* seconds between heartbeat lines on a map stream */
	int64_t challenge_ttl;   /* seconds a registration challenge stays valid */
	size_t max_body;         /* request body cap, bytes */
	size_t max_policy_body;  /* the policy upload may be larger */
	int64_t connection_timeout;
	unsigned max_connections;
	int max_connections_per_ip; /* 0: no limit; -1: decided by the listen address */
	size_t max_buffered_bytes;  /* request bodies held at once, all connections together */
	int64_t request_timeout;    /* seconds from the headers to the end of the body */
	size_t stream_queue_limit;  /* bytes queued for one slow map stream before it is dropped */
	unsigned threads;
	char *relay_map_json;        /* relay_map: as sent in maps; NULL: no relays */
	char *relay_credential_file; /* read at start (coord_init), like server_key_file */
	bool has_relay_credential;   /* read: relays may ask about node keys */
	uint8_t relay_credential[32];
};

/* Defaults for every field; the store is "sqlite:meshgate-coord.db" in the working directory. */
void config_defaults(struct coord_config *c);
/* Loads path over the defaults. On failure err says "FILE:LINE: key 'k': expected ...". */
bool config_load(struct coord_config *c, const char *path, char *err, size_t errlen);
/* The same for text in memory (the fuzz target: no file per input); name stands for FILE and
 * places the default key file as the path would. */
bool config_load_buffer(struct coord_config *c, const char *name, const char *text, size_t len,
                        char *err, size_t errlen);
void config_free(struct coord_config *c);
/* True when host is a loopback address (127.0.0.0/8, ::1) or "localhost". */
bool host_is_loopback(const char *host);

#endif
