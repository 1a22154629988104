/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by the coordinator client's files only: the client object, which the client thread
 * (coord_client.c) and registration with the saved credential (coord_register.c) both work on.
 * Everything here runs on the client thread except where c->lock is taken.
 */
#ifndef MESHGATE_CONTROL_COORD_CLIENT_INTERNAL_H
#define MESHGATE_CONTROL_COORD_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "coord_client.h"
#include "keys.h"

#define CRED_MAX 128

enum stream_end {
	END_ERROR = 0, /* transport or protocol failure: back off, reconnect */
	END_KICK,      /* new report or resync asked for: reconnect at once */
	END_STOP,
	END_REREGISTER, /* 401/403: the credential is no good, register again */
	END_SHUTDOWN,   /* the server is stopping: reconnect soon, maybe to another replica */
	END_REPLACED,   /* another stream took this node's place: wait long before taking it back */
};

struct mg_coord_client {
	struct mg_coord_client_config cfg;
	char version[65];
	char hostname[64];
	uint8_t public_key[WG_KEY_LEN];
	char public_b64[WG_KEY_B64_SIZE];
	char cred[CRED_MAX]; /* the node credential; a secret */
	char home_relay[64]; /* reported in map requests once set (under lock) */
	bool has_home_relay;
	/* STUN's view of this node, reported once set (under lock). */
	struct mg_sockaddr stun_eps[MG_NETMAP_MAX_STUN_ENDPOINTS];
	size_t n_stun_eps;
	char nat[8];
	bool has_stun;
	bool have_cred;

	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool stop, kick;
	int efd;
	struct mg_coord_event *head, *tail;
	size_t qlen;
	struct mg_coord_status status;
	unsigned attempt; /* failures since the last full map, for the back-off */

	/* Stream state, used by the thread only. */
	CURL *curl;
	long http_status;
	char *line;
	size_t line_len, line_cap;
	uint64_t seq;
	bool got_full, resync, reregister;
	enum stream_end final_line; /* what a recognised final line asks for, else END_ERROR */
	char *body;
	size_t body_len;
};

/* Sets the status's last_error and logs it as a warning. */
void mg_cc_set_error(struct mg_coord_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One request/reply with a JSON body; *reply is the parsed reply (any status) or NULL. Returns
 * the HTTP status, 0 when there was none (the transport error is set). */
long mg_cc_http_json(struct mg_coord_client *c, const char *method, const char *path, json_t *req,
                     json_t **reply);

/* The server's message in an error reply, for logs. */
const char *mg_cc_reply_error(json_t *reply);
/* Registers with the pre-auth key and saves the credential; -1 with the error set. */
int mg_cc_register(struct mg_coord_client *c);
/* Takes the saved credential when it belongs to this key and server. */
void mg_cc_load_credential(struct mg_coord_client *c);
/* Forgets the credential (expired or deleted) so the next attempt registers again. */
void mg_cc_drop_credential(struct mg_coord_client *c);

#endif
