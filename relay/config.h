/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * meshgate-relay's YAML config (docs/relay-protocol.md shows an annotated one). Errors name the
 * file, the line, the key and what was expected.
 */
#ifndef MESHGATE_RELAY_CONFIG_H
#define MESHGATE_RELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "proto.h"

#define RELAY_PATH_MAX        256
#define RELAY_HOST_MAX        256
#define RELAY_MAX_MESH_PEERS  32
#define RELAY_STUN_MAX_LISTEN 4

struct relay_mesh_peer {
	char name[RELAY_MESH_NAME_MAX + 1];
	char address[RELAY_HOST_MAX]; /* as written, for logs */
	struct mg_sockaddr addr;
	char server_name[RELAY_HOST_MAX]; /* TLS name checked on its certificate */
};

struct relay_config {
	struct mg_sockaddr listen;
	char cert_file[RELAY_PATH_MAX];
	char key_file[RELAY_PATH_MAX];
	char relay_key_file[RELAY_PATH_MAX]; /* empty: a fresh X25519 key per start */
	struct mg_sockaddr metrics;          /* family 0: no metrics endpoint */
	char log_level[16];
	char region[64];
	char name[RELAY_MESH_NAME_MAX + 1];

	uint32_t max_clients;
	uint32_t max_clients_per_ip;
	uint32_t handshake_timeout_ms;
	uint32_t keepalive_s;
	uint32_t idle_timeout_s;
	uint32_t queue_bytes;
	uint32_t mesh_queue_bytes;

	bool mesh;
	uint8_t mesh_key[32];
	char mesh_ca_file[RELAY_PATH_MAX];
	struct relay_mesh_peer peers[RELAY_MAX_MESH_PEERS];
	size_t n_peers;

	/* STUN Binding on UDP (stun_server.c); n_stun 0: off. */
	struct mg_sockaddr stun_listen[RELAY_STUN_MAX_LISTEN];
	size_t n_stun;
	uint32_t stun_rate_per_source, stun_burst_per_source, stun_rate_total;

	/* admission: ask meshgate-coord whether a node key is known (admit.c). */
	bool admission;
	char admit_url[RELAY_HOST_MAX];
	uint8_t admit_credential[32];
	char admit_ca_file[RELAY_PATH_MAX];

	char tap_file[RELAY_PATH_MAX]; /* test.tap_file: every forwarded payload, for inspection */
	char warnings[1024];
};

int relay_config_load(const char *path, struct relay_config *cfg, char *err, size_t errlen);
/* Zeroes the secrets. */
void relay_config_free(struct relay_config *cfg);

#endif
