/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the relay tests share: a throwaway TLS certificate, a meshgate-relay child process on
 * loopback with its config, its Prometheus counters, its memory, and a raw TLS connection for
 * speaking the protocol wrongly on purpose.
 */
#ifndef MESHGATE_TESTS_RELAY_FIXTURE_H
#define MESHGATE_TESTS_RELAY_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "relay_client.h"

#define CHECK(cond, ...)                                                                         \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, " " __VA_ARGS__);                                        \
			fprintf(stderr, "\n");                                                   \
			rf_cleanup();                                                            \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

struct rf_relay {
	pid_t pid;
	uint16_t port, mport;
	char dir[256];
	char name[32];
};

/* Sets up a private directory with a certificate for localhost/127.0.0.1; argv[1] is the
 * meshgate-relay binary. Exits 77 (skip) when the openssl tool is missing. */
void rf_init(int argc, char **argv);
const char *rf_dir(void);
const char *rf_ca_file(void);
/* Kills every relay started and removes the directory. Called by CHECK too. */
void rf_cleanup(void);

uint16_t rf_free_port(void);
/* Writes the config (listen, tls, metrics, name, plus extra YAML lines) and starts the relay;
 * waits until /health answers. port 0: a free one. */
void rf_relay_start(struct rf_relay *r, const char *name, uint16_t port, const char *extra);
void rf_relay_stop(struct rf_relay *r);
/* The value of one metric line ("meshgate_relay_drops_total{reason=\"unknown_dst\"}"), -1 when
 * absent. */
double rf_metric(const struct rf_relay *r, const char *name);
/* Polls until the metric reaches at least want or timeout_ms passes; returns the last value. */
double rf_metric_wait(const struct rf_relay *r, const char *name, double want, int timeout_ms);
long rf_rss_kib(pid_t pid);

void rf_keypair(uint8_t sk[32], uint8_t pk[32]);
struct mg_relay_client *rf_client(const struct rf_relay *r, const uint8_t sk[32], char *err,
                                  size_t errlen);

/* A TLS connection that speaks whatever the test writes. */
struct rf_raw {
	int fd;
	SSL *ssl;
};
int rf_raw_connect(const struct rf_relay *r, struct rf_raw *raw);
/* Upgrade and read the challenge body (66 bytes). Returns 0. */
int rf_raw_upgrade(struct rf_raw *raw, uint8_t challenge_body[66]);
int rf_raw_write(struct rf_raw *raw, const void *buf, size_t len);
/* Reads one frame (body up to cap); returns its body length, -1 on close or timeout. */
long rf_raw_frame(struct rf_raw *raw, uint8_t *type, uint8_t *body, size_t cap, int timeout_ms);
/* Reads until the relay closes; returns the bytes read (up to cap) or -1 on timeout. */
long rf_raw_until_close(struct rf_raw *raw, uint8_t *buf, size_t cap, int timeout_ms);
int rf_raw_exporter(struct rf_raw *raw, uint8_t out[32]);
void rf_raw_close(struct rf_raw *raw);

uint64_t rf_now_ms(void);

#endif
