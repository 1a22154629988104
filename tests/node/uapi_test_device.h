/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An in-memory WireGuard device behind struct mg_uapi_ops, for the UAPI tests. It stands in for
 * the gateway only; the protocol code, the socket server and stock wg under test are real. It
 * applies a set request with the semantics uapi.h documents, all or nothing.
 */
#ifndef MESHGATE_TESTS_UAPI_TEST_DEVICE_H
#define MESHGATE_TESTS_UAPI_TEST_DEVICE_H

#include "uapi.h"

#define TDEV_MAX_PEERS 16
#define TDEV_MAX_IPS   16

struct tdev_peer {
	uint8_t public_key[WG_KEY_LEN], preshared_key[WG_KEY_LEN];
	struct mg_sockaddr endpoint;
	uint16_t keepalive;
	struct mg_prefix ips[TDEV_MAX_IPS];
	size_t n_ips;
	/* Traffic figures the test sets, to see them come back through get. */
	uint64_t rx, tx, handshake_sec;
	uint32_t handshake_nsec;
};

struct tdev {
	uint8_t private_key[WG_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct tdev_peer peers[TDEV_MAX_PEERS];
	size_t n_peers;
	uint16_t busy_port;  /* setting this listen port fails with -EADDRINUSE */
	unsigned sets, gets; /* calls that reached the device */
};

extern const struct mg_uapi_ops tdev_ops;

struct tdev_peer *tdev_find(struct tdev *d, const uint8_t key[WG_KEY_LEN]);

#endif
