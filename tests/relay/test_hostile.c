// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile input and slow peers, with the relay's memory watched: a slow reader loses frames
 * (counted) and never stalls anyone else; huge declared lengths are refused from the header
 * alone; a trickled upgrade is cut at the handshake deadline; 2,000 connections that never speak
 * TLS are bounded by the connection limit and the deadline.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"

/* ASan keeps freed memory in quarantine, so RSS says nothing about the relay's own bounds. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED 0
#else
#define RSS_CHECKED 1
#endif
#include "relay_fixture.h"

static struct rf_relay relay;

static void test_slow_reader(void)
{
	uint8_t ska[32], pka[32], skb[32], pkb[32], skc[32], pkc[32], pkt[1420];
	char err[256];
	struct mg_relay_client *a, *b, *c;
	struct mg_relay_msg m;
	long rss0, rss1;
	int sent = 0;

	rf_keypair(ska, pka);
	rf_keypair(skb, pkb);
	rf_keypair(skc, pkc);
	a = rf_client(&relay, ska, err, sizeof(err));
	b = rf_client(&relay, skb, err, sizeof(err)); /* never reads */
	c = rf_client(&relay, skc, err, sizeof(err));
	CHECK(a && b && c, "%s", err);
	randombytes_buf(pkt, sizeof(pkt));
	rss0 = rf_rss_kib(relay.pid);
	/* 40 MB towards b, which reads nothing. */
	for (int i = 0; i < 28000; i++) {
		int rc = mg_relay_client_send(a, pkb, pkt, sizeof(pkt));
		CHECK(rc >= 0);
		if (rc == 0)
			sent++;
		while (mg_relay_client_pending(a) > 128 * 1024) {
			CHECK(mg_relay_client_flush(a) >= 0);
			while (mg_relay_client_recv(a, &m) == 1)
				;
			usleep(200);
		}
	}
	while (mg_relay_client_flush(a) == 1)
		usleep(1000);
	CHECK(rf_metric_wait(&relay, "meshgate_relay_drops_total{reason=\"queue_full\"}", 1000,
	                     5000) >= 1000,
	      "the slow reader's frames were not dropped");
	/* Meanwhile a to c is as quick as ever. */
	CHECK(mg_relay_client_send(a, pkc, pkt, 100) == 0 && mg_relay_client_flush(a) >= 0);
	CHECK(mg_relay_client_recv_wait(c, &m, 2000) == 1 && m.len == 100,
	      "a fast reader stalled behind a slow one");
	rss1 = rf_rss_kib(relay.pid);
	printf("ok: slow reader: %d frames sent, %.0f dropped (queue_full), relay RSS %ld -> %ld "
	       "KiB\n",
	       sent, rf_metric(&relay, "meshgate_relay_drops_total{reason=\"queue_full\"}"), rss0,
	       rss1);
	CHECK(!RSS_CHECKED || rss1 - rss0 < 16 * 1024, "relay grew %ld KiB for one slow reader",
	      rss1 - rss0);
	mg_relay_client_close(a);
	mg_relay_client_close(b);
	mg_relay_client_close(c);
}

static void test_huge_length(void)
{
	uint8_t sk[32], pk[32], ch[66], exp[32], type, body[256];
	static const uint8_t huge[] = {0x10, 0xff, 0xff, 0xff, 0xf0};
	struct rf_raw raw;
	long n;

	/* Before authentication. */
	CHECK(rf_raw_connect(&relay, &raw) == 0 && rf_raw_upgrade(&raw, ch) == 0);
	CHECK(rf_raw_write(&raw, "\x02\x7f\xff\xff\xff", 5) == 0);
	n = rf_raw_frame(&raw, &type, body, sizeof(body), 3000);
	CHECK(n > 0 && type == 0x30 && body[0] == 2, "huge PROOF length not refused");
	rf_raw_close(&raw);
	/* After authentication (a raw session with a real proof). */
	rf_keypair(sk, pk);
	CHECK(rf_raw_connect(&relay, &raw) == 0 && rf_raw_upgrade(&raw, ch) == 0);
	CHECK(rf_raw_exporter(&raw, exp) == 0);
	{
		uint8_t proof[5 + 153] = {0x02, 0, 0, 0, 153};
		CHECK(relay_proof_make(sk, ch + 2, ch + 34, exp, proof + 5) == 0);
		CHECK(rf_raw_write(&raw, proof, sizeof(proof)) == 0);
		CHECK(rf_raw_frame(&raw, &type, body, sizeof(body), 3000) == 12 && type == 0x04);
	}
	CHECK(rf_raw_write(&raw, huge, sizeof(huge)) == 0);
	n = rf_raw_frame(&raw, &type, body, sizeof(body), 3000);
	CHECK(n > 0 && type == 0x30 && body[0] == 2 &&
	          memmem(body + 1, (size_t)n - 1, "protocol maximum", 16),
	      "huge SEND length not refused");
	rf_raw_close(&raw);
	printf("ok: 2 GiB and 4 GiB declared lengths refused from the header\n");
}

static void test_trickle(void)
{
	static const char req[] =
	    "GET /relay HTTP/1.1\r\nHost: localhost\r\nUpgrade: meshgate-relay"
	    "\r\nConnection: Upgrade\r\n\r\n";
	struct rf_raw raw;
	uint64_t t0 = rf_now_ms();
	size_t i;
	uint8_t buf[64];

	CHECK(rf_raw_connect(&relay, &raw) == 0);
	/* One byte every 100 ms: the whole request would take 8 s; the deadline is 2 s. */
	for (i = 0; i < sizeof(req) - 1; i++) {
		if (rf_raw_write(&raw, req + i, 1) != 0)
			break;
		usleep(100000);
		if (rf_now_ms() - t0 > 4000)
			break;
	}
	CHECK(rf_raw_until_close(&raw, buf, sizeof(buf), 3000) >= 0, "trickled upgrade not cut");
	CHECK(rf_now_ms() - t0 < 4000, "cut after %llu ms", (unsigned long long)(rf_now_ms() - t0));
	CHECK(rf_metric(&relay, "meshgate_relay_closed_total{reason=\"handshake_timeout\"}") >= 1);
	rf_raw_close(&raw);
	printf("ok: trickled upgrade cut at the handshake deadline after %llu ms\n",
	       (unsigned long long)(rf_now_ms() - t0));
}

static void test_slow_flood(void)
{
	enum { N = 2000 };
	static int fds[N];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(relay.port)};
	long rss0 = rf_rss_kib(relay.pid), rss1;
	int opened = 0;
	double full;

	for (int i = 0; i < N; i++) {
		/* 20 source addresses, 100 connections each (the per-IP limit is 100). */
		struct sockaddr_in src = {.sin_family = AF_INET};
		char ip[32];
		snprintf(ip, sizeof(ip), "127.0.2.%d", 1 + i % 20);
		inet_pton(AF_INET, ip, &src.sin_addr);
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(fds[i] >= 0);
		if (bind(fds[i], (struct sockaddr *)&src, sizeof(src)) == 0 &&
		    connect(fds[i], (struct sockaddr *)&a, sizeof(a)) == 0) {
			opened++;
			/* Half a TLS record header, then nothing. */
			if (write(fds[i], "\x16\x03", 2) != 2)
				break;
		}
	}
	usleep(500000);
	rss1 = rf_rss_kib(relay.pid);
	/* The metrics listener can miss one read while the relay sheds 2,000 connections. */
	full = rf_metric_wait(&relay, "meshgate_relay_connections", 0, 3000);
	CHECK(full >= 0, "the metrics endpoint did not answer within 3 s");
	printf("ok: %d silent connections: relay holds %.0f, RSS %ld -> %ld KiB\n", opened, full,
	       rss0, rss1);
	CHECK(full <= 1500, "max_clients 1500 not enforced (%.0f)", full);
	CHECK(rf_metric(&relay, "meshgate_relay_closed_total{reason=\"server_full\"}") >= 400);
	/* Bounded by max_clients times what a stalled TLS accept holds (72 KiB measured when every
	 * one has read its two bytes, less on a loaded machine where some have not: the SSL object,
	 * the bufferevent and a one-record read buffer, all touched under meson's MALLOC_PERTURB_).
	 * The 4-record read-ahead buffer (66 KiB) is for proven clients only; given before the
	 * proof, it made this 106 KiB. */
	/* On a loaded machine the first connections can reach their handshake deadline before
	 * the loop above has opened the last ones: the RSS keeps their peak, the gauge does not.
	 * So count those closed at the deadline too. */
	double timed_out =
	    rf_metric(&relay, "meshgate_relay_closed_total{reason=\"handshake_timeout\"}");
	double held = full + (timed_out > 0 ? timed_out : 0);
	CHECK(!RSS_CHECKED || (rss1 - rss0) / (held > 0 ? held : 1) < 88,
	      "relay grew %ld KiB for %.0f silent connections (%.0f held, %.0f timed out)",
	      rss1 - rss0, held, full, timed_out);
	/* The deadline frees them all. */
	CHECK(rf_metric_wait(&relay, "meshgate_relay_closed_total{reason=\"handshake_timeout\"}",
	                     1400, 6000) >= 1400,
	      "silent connections not closed at the deadline");
	for (int i = 0; i < N; i++)
		close(fds[i]);
	{
		uint64_t dl = rf_now_ms() + 5000;
		while (rf_metric(&relay, "meshgate_relay_connections") > 0 && rf_now_ms() < dl)
			usleep(50000);
	}
	CHECK(rf_metric(&relay, "meshgate_relay_connections") == 0);
	printf("ok: all silent connections freed at the handshake deadline\n");
}

int main(int argc, char **argv)
{
	rf_init(argc, argv);
	rf_relay_start(&relay, "hostile", 0,
	               "log_level: warning\nlimits:\n  max_clients: 1500\n"
	               "  max_clients_per_ip: 100\n  handshake_timeout_ms: 2000\n"
	               "  queue_bytes: 262144\n");
	test_slow_reader();
	test_huge_length();
	test_trickle();
	test_slow_flood();
	rf_relay_stop(&relay);
	return 0;
}
