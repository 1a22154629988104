// SPDX-License-Identifier: GPL-2.0-only
/*
 * Forwarding: a real WireGuard data message goes from one node to another through the relay
 * and arrives byte for byte; the relay's own record of what it forwarded (test.tap_file) holds
 * exactly those bytes and never the plaintext; the relay binary has no WireGuard handshake or
 * transport code, so it can never derive a key to open them. Unknown keys: dropped, counted,
 * PEER_GONE. Keepalive PING/PONG; a second connection with the same key replaces the first.
 */
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "noise.h"
#include "relay_fixture.h"
#include "transport.h"

static struct rf_relay relay;
static const char marker[] = "MESHGATE-PLAINTEXT-MARKER-7f3a";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct mg_relay_client *connect_node(uint8_t sk[32], uint8_t pk[32])
{
	char err[256];
	struct mg_relay_client *c;

	rf_keypair(sk, pk);
	c = rf_client(&relay, sk, err, sizeof(err));
	CHECK(c, "connect: %s", err);
	return c;
}

static void recv_one(struct mg_relay_client *c, struct mg_relay_msg *m)
{
	int rc = mg_relay_client_recv_wait(c, m, 5000);

	CHECK(rc == 1, "no message (%d: %s)", rc, mg_relay_client_error(c));
}

/* A WireGuard data message whose plaintext is an IPv4 packet carrying the marker. */
static size_t seal_wireguard(uint8_t key[32], uint8_t *out, size_t cap)
{
	static struct wg_noise_keypair kp;
	uint8_t plain[128] = {0x45, 0, 0, 128};
	size_t len;
	uint64_t now = now_ns();

	memset(&kp, 0, sizeof(kp));
	randombytes_buf(kp.send_key, 32);
	memcpy(key, kp.send_key, 32);
	kp.remote_index = 0x11223344;
	kp.birth_ns = now;
	kp.is_initiator = true;
	atomic_store(&kp.valid, true);
	memcpy(plain + 28, marker, sizeof(marker));
	CHECK(wg_transport_seal(&kp, plain, sizeof(plain), 0, out, cap, &len, NULL, now) == WG_OK);
	return len;
}

static void test_wireguard_payload(void)
{
	uint8_t ska[32], pka[32], skb[32], pkb[32], key[32], msg[256], plain[256];
	struct mg_relay_client *a = connect_node(ska, pka), *b = connect_node(skb, pkb);
	struct mg_relay_msg m;
	size_t len = seal_wireguard(key, msg, sizeof(msg)), tlen;
	uint64_t counter = 0;
	uint8_t *tap;
	char path[300];
	FILE *f;

	CHECK(!memmem(msg, len, marker, sizeof(marker) - 1),
	      "the marker leaked into the sealed message");
	CHECK(mg_relay_client_send(a, pkb, msg, len) == 0 && mg_relay_client_flush(a) >= 0);
	recv_one(b, &m);
	CHECK(m.type == MG_RELAY_MSG_PACKET && memcmp(m.key, pka, 32) == 0, "wrong sender");
	CHECK(m.len == len && memcmp(m.data, msg, len) == 0, "payload changed in transit");
	/* Only the key holder can read it. */
	for (int i = 0; i < 8; i++)
		counter |= (uint64_t)m.data[8 + i] << (8 * i);
	CHECK(wg_aead_open(plain, m.data + 16, m.len - 16, NULL, 0, counter, key) == WG_OK);
	CHECK(memcmp(plain + 28, marker, sizeof(marker)) == 0);
	printf("ok: a %zu-byte WireGuard data message arrived byte-identical, decryptable only "
	       "with the test's key\n",
	       len);

	/* The relay's own view. */
	rf_metric_wait(&relay, "meshgate_relay_frames_forwarded_total{path=\"local\"}", 1, 2000);
	usleep(400000); /* the relay flushes the tap on its 250 ms tick */
	snprintf(path, sizeof(path), "%s/tap.bin", rf_dir());
	f = fopen(path, "rb");
	CHECK(f, "no tap file");
	tap = malloc(1 << 20);
	tlen = fread(tap, 1, 1 << 20, f);
	fclose(f);
	CHECK(tlen == 68 + len, "tap holds %zu bytes, expected one record of %zu", tlen, 68 + len);
	CHECK(memcmp(tap, pka, 32) == 0 && memcmp(tap + 32, pkb, 32) == 0);
	CHECK(memcmp(tap + 68, msg, len) == 0, "the relay held other bytes than the node sent");
	CHECK(!memmem(tap, tlen, marker, sizeof(marker) - 1), "the relay saw plaintext");
	free(tap);
	printf("ok: the relay held exactly the node's ciphertext, never the plaintext marker\n");
	mg_relay_client_close(a);
	mg_relay_client_close(b);
}

static void test_no_wireguard_code(const char *bin)
{
	char cmd[600], line[512];
	FILE *p;
	int symbols = 0, bad = 0;

	if (system("command -v nm >/dev/null 2>&1") != 0) {
		printf("skip: nm missing, binary inspection not done\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "nm '%s' 2>/dev/null", bin);
	p = popen(cmd, "r");
	CHECK(p);
	while (fgets(line, sizeof(line), p)) {
		symbols++;
		if (strstr(line, " wg_noise_") || strstr(line, " wg_transport_") ||
		    strstr(line, " wg_cookie_") || strstr(line, " wg_handshake")) {
			fprintf(stderr, "relay binary has %s", line);
			bad++;
		}
	}
	pclose(p);
	CHECK(symbols > 100, "nm read no symbols");
	CHECK(bad == 0, "the relay links WireGuard session code");
	printf("ok: meshgate-relay links no WireGuard handshake, cookie or transport code\n");
}

static void test_unknown_and_ping(void)
{
	uint8_t sk[32], pk[32], nobody[32], data[8] = "pingpong", pkt[64] = {4};
	struct mg_relay_client *a = connect_node(sk, pk);
	struct mg_relay_msg m;
	double before = rf_metric(&relay, "meshgate_relay_drops_total{reason=\"unknown_dst\"}");

	randombytes_buf(nobody, 32);
	CHECK(mg_relay_client_send(a, nobody, pkt, sizeof(pkt)) == 0);
	recv_one(a, &m);
	CHECK(m.type == MG_RELAY_MSG_PEER_GONE && memcmp(m.key, nobody, 32) == 0);
	CHECK(rf_metric(&relay, "meshgate_relay_drops_total{reason=\"unknown_dst\"}") ==
	      before + 1);
	printf("ok: frame for an unknown key dropped, counted, PEER_GONE sent\n");
	CHECK(mg_relay_client_ping(a, data) == 0);
	recv_one(a, &m);
	CHECK(m.type == MG_RELAY_MSG_PONG && m.len == 8 && memcmp(m.data, data, 8) == 0);
	printf("ok: PING answered with PONG\n");
	/* The round-trip measurement: its PING is due at once, the PONG that echoes it is
	 * recorded (the one above, someone else's bytes, was not), the next is not due yet. */
	const struct mg_relay_rtt *r = mg_relay_client_rtt(a);
	CHECK(r->pongs == 0 && r->unmatched == 1 && r->last_us == -1);
	CHECK(mg_relay_client_rtt_tick(a) == 1);
	CHECK(mg_relay_client_rtt_tick(a) == 0);
	recv_one(a, &m);
	CHECK(m.type == MG_RELAY_MSG_PONG);
	CHECK(r->pings == 1 && r->pongs == 1 && r->lost == 0);
	CHECK(r->last_us > 0 && r->last_us < 5000000 && r->min_us == r->last_us, "rtt %lld us",
	      (long long)r->last_us);
	printf("ok: relay round trip measured: %lld us\n", (long long)r->last_us);
	mg_relay_client_close(a);
}

static void test_sizes_and_replace(void)
{
	uint8_t ska[32], pka[32], skb[32], pkb[32];
	struct mg_relay_client *a = connect_node(ska, pka), *b = connect_node(skb, pkb), *b2;
	static uint8_t big[MG_RELAY_MAX_PACKET];
	size_t sizes[] = {1, 64, 1420, 9000, MG_RELAY_MAX_PACKET};
	struct mg_relay_msg m;
	char err[256];

	randombytes_buf(big, sizeof(big));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CHECK(mg_relay_client_send(a, pkb, big, sizes[i]) == 0);
		CHECK(mg_relay_client_flush(a) >= 0);
		recv_one(b, &m);
		CHECK(m.type == MG_RELAY_MSG_PACKET && m.len == sizes[i] &&
		          memcmp(m.data, big, sizes[i]) == 0,
		      "size %zu", sizes[i]);
	}
	CHECK(mg_relay_client_send(a, pkb, big, MG_RELAY_MAX_PACKET + 1) == -1);
	printf("ok: 1 to 65535-byte packets forwarded intact\n");

	b2 = rf_client(&relay, skb, err, sizeof(err));
	CHECK(b2, "%s", err);
	CHECK(mg_relay_client_recv_wait(b, &m, 5000) == -1 &&
	          strstr(mg_relay_client_error(b), "replaced"),
	      "old connection: %s", mg_relay_client_error(b));
	CHECK(mg_relay_client_send(a, pkb, big, 100) == 0 && mg_relay_client_flush(a) >= 0);
	recv_one(b2, &m);
	CHECK(m.len == 100);
	printf("ok: a new connection of a key replaces the old (%s)\n", mg_relay_client_error(b));
	mg_relay_client_close(a);
	mg_relay_client_close(b);
	mg_relay_client_close(b2);
}

int main(int argc, char **argv)
{
	char extra[400];

	rf_init(argc, argv);
	snprintf(extra, sizeof(extra), "test:\n  tap_file: %s/tap.bin\n", rf_dir());
	rf_relay_start(&relay, "fwd", 0, extra);
	test_wireguard_payload();
	test_no_wireguard_code(argv[1]);
	test_unknown_and_ping();
	test_sizes_and_replace();
	rf_relay_stop(&relay);
	return 0;
}
