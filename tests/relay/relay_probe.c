// SPDX-License-Identifier: GPL-2.0-only
/*
 * relay_probe HOST PORT SERVER_NAME CA_FILE PRIVATE_KEY_FILE: logs in to a relay once with the
 * node key in the file and prints "admitted", or "refused: <the relay's reason>" (exit 1).
 * The Python tests that drive a real coordinator use it for the relay's side of the login.
 */
#include <stdio.h>
#include <stdlib.h>

#include "crypto.h"
#include "keys.h"
#include "relay_client.h"

int main(int argc, char **argv)
{
	uint8_t sk[32];
	char err[512];
	struct mg_relay_client *c;

	if (argc != 6) {
		fprintf(stderr, "usage: relay_probe HOST PORT SERVER_NAME CA_FILE KEY_FILE\n");
		return 2;
	}
	if (wg_key_from_file(argv[5], sk, NULL) != WG_KEY_OK) {
		fprintf(stderr, "relay_probe: cannot read the key in %s\n", argv[5]);
		return 2;
	}
	struct mg_relay_client_config cfg = {
	    .host = argv[1],
	    .port = (uint16_t)atoi(argv[2]),
	    .server_name = argv[3],
	    .ca_file = argv[4],
	    .private_key = sk,
	    .timeout_ms = 8000,
	};
	c = mg_relay_client_connect(&cfg, err, sizeof(err));
	wg_memzero(sk, sizeof(sk));
	if (!c) {
		printf("refused: %s\n", err);
		return 1;
	}
	printf("admitted\n");
	mg_relay_client_close(c);
	return 0;
}
