// SPDX-License-Identifier: GPL-2.0-only
/*
 * Disco from the command line, for the NAT scripts:
 *   disco_probe KEYFILE PEER_PUBLIC_KEY TARGET ping|forged|replay|stranger
 * KEYFILE holds this side's WireGuard private key (base64, as `wg genkey` writes it). ping
 * sends one sealed ping and waits (2 s) for the pong: prints "pong rtt_ms=N src=ADDR" and exits
 * 0. forged flips a byte of the sealed box, replay sends an answered ping again, stranger seals
 * with a fresh key the peer does not know: each expects no answer within 1 s (exit 0 on
 * silence, 1 when anything came back).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "disco.h"
#include "keys.h"
#include "stun.h"

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The answer within ms, opened; 1 pong, 0 silence, -1 something that is not our pong. An
 * authentic ping from the peer is not an answer: a node with disco paths pings back a source
 * it just learned, which says nothing about whether our message was accepted.
 */
static int wait_pong(int fd, struct mg_disco_node *self, struct mg_disco_peer *peer,
                     const uint8_t txid[MG_DISCO_TXID_LEN], int ms, struct mg_disco_msg *m)
{
	uint64_t end = unix_ms() + (uint64_t)ms;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = unix_ms();
		uint8_t buf[2048];
		ssize_t n;

		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			return 0;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return 0;
		if (mg_disco_open(self, peer, buf, (size_t)n, unix_ms(), m) != MG_DISCO_OK)
			return -1;
		if (m->type == MG_DISCO_PING)
			continue;
		if (m->type != MG_DISCO_PONG || memcmp(m->txid, txid, MG_DISCO_TXID_LEN) != 0)
			return -1;
		return 1;
	}
}

int main(int argc, char **argv)
{
	uint8_t sk[32], peer_pk[32], out[MG_DISCO_MAX_LEN];
	struct mg_disco_node self;
	struct mg_disco_peer peer;
	struct mg_disco_msg ping = {.type = MG_DISCO_PING}, m;
	struct mg_sockaddr target;
	struct sockaddr_storage ss;
	char src[MG_SOCKADDR_STRLEN];
	size_t n;
	int fd, rc;

	if (argc != 5 || sodium_init() < 0) {
		fprintf(stderr, "usage: disco_probe KEYFILE PEER_PUBLIC_KEY TARGET "
		                "ping|forged|replay|stranger\n");
		return 2;
	}
	if (wg_key_from_file(argv[1], sk, NULL) != WG_KEY_OK ||
	    wg_key_from_base64(peer_pk, argv[2], strlen(argv[2]), NULL) != WG_KEY_OK ||
	    mg_sockaddr_parse(argv[3], &target) != 0) {
		fprintf(stderr, "bad key file, peer key or target\n");
		return 2;
	}
	if (strcmp(argv[4], "stranger") == 0)
		randombytes_buf(sk, sizeof(sk));
	if (mg_disco_node_init(&self, sk) != 0 || mg_disco_peer_init(&peer, &self, peer_pk) != 0) {
		fprintf(stderr, "disco keys refused\n");
		return 2;
	}
	fd = socket(target.family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	socklen_t sl = mg_sockaddr_to_ss(&target, &ss);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		fprintf(stderr, "socket: %s\n", strerror(errno));
		return 2;
	}
	mg_disco_new_txid(ping.txid);
	n = mg_disco_seal(&self, &peer, &ping, unix_ms(), out, sizeof(out));
	if (strcmp(argv[4], "forged") == 0)
		out[n - 1] ^= 1;
	uint64_t t0 = unix_ms();
	if (send(fd, out, n, 0) < 0) {
		fprintf(stderr, "send: %s\n", strerror(errno));
		return 2;
	}
	if (strcmp(argv[4], "ping") == 0) {
		rc = wait_pong(fd, &self, &peer, ping.txid, 2000, &m);
		if (rc != 1) {
			fprintf(stderr, rc == 0 ? "no pong\n" : "not our pong\n");
			return 1;
		}
		mg_sockaddr_format(&m.src, src, sizeof(src));
		printf("pong rtt_ms=%llu src=%s\n", (unsigned long long)(unix_ms() - t0), src);
		return 0;
	}
	if (strcmp(argv[4], "replay") == 0) {
		/* The first copy is answered; the same bytes again must not be. */
		if (wait_pong(fd, &self, &peer, ping.txid, 2000, &m) != 1) {
			fprintf(stderr, "the original ping got no pong\n");
			return 1;
		}
		if (send(fd, out, n, 0) < 0)
			return 2;
	}
	rc = wait_pong(fd, &self, &peer, ping.txid, 1000, &m);
	printf("%s: %s\n", argv[4], rc == 0 ? "no answer" : "answered");
	return rc == 0 ? 0 : 1;
}
