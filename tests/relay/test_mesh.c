// SPDX-License-Identifier: GPL-2.0-only
/*
 * Two relays of one region meshed: nodes homed on different relays meet; presence follows
 * connects and disconnects; when one relay dies its nodes move to the other and traffic
 * resumes; a relay without the mesh key is refused.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "relay_fixture.h"

static void write_key(const char *path)
{
	uint8_t k[32];
	char b64[64];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	randombytes_buf(k, sizeof(k));
	sodium_bin2base64(b64, sizeof(b64), k, sizeof(k), sodium_base64_VARIANT_ORIGINAL);
	CHECK(write(fd, b64, strlen(b64)) == (ssize_t)strlen(b64));
	close(fd);
}

static void mesh_yaml(char *buf, size_t len, const char *keyfile, const char *peer, uint16_t port)
{
	snprintf(buf, len,
	         "region: test\nmesh:\n  key_file: %s\n  ca_file: %s\n  peers:\n"
	         "    - name: %s\n      address: 127.0.0.1:%u\n      server_name: localhost\n"
	         "limits:\n  keepalive_seconds: 1\n  idle_timeout_seconds: 3\n",
	         keyfile, rf_ca_file(), peer, port);
}

static void exchange(struct mg_relay_client *from, const uint8_t from_pk[32],
                     struct mg_relay_client *to, const uint8_t to_pk[32], const char *what)
{
	uint8_t pkt[1420];
	struct mg_relay_msg m;

	randombytes_buf(pkt, sizeof(pkt));
	pkt[0] = 4;
	CHECK(mg_relay_client_send(from, to_pk, pkt, sizeof(pkt)) == 0);
	CHECK(mg_relay_client_flush(from) >= 0);
	do {
		CHECK(mg_relay_client_recv_wait(to, &m, 5000) == 1, "%s: nothing arrived (%s)",
		      what, mg_relay_client_error(to));
	} while (m.type != MG_RELAY_MSG_PACKET);
	CHECK(memcmp(m.key, from_pk, 32) == 0 && m.len == sizeof(pkt) &&
	          memcmp(m.data, pkt, sizeof(pkt)) == 0,
	      "%s: wrong packet", what);
}

int main(int argc, char **argv)
{
	struct rf_relay r1, r2, r3;
	char key[300], bad[300], y1[1024], y2[1024], y3[1024], err[256];
	uint16_t p1, p2;
	uint8_t ska[32], pka[32], skb[32], pkb[32];
	struct mg_relay_client *a, *b;
	uint64_t t0;

	rf_init(argc, argv);
	snprintf(key, sizeof(key), "%s/mesh.key", rf_dir());
	snprintf(bad, sizeof(bad), "%s/other.key", rf_dir());
	write_key(key);
	write_key(bad);
	p1 = rf_free_port();
	p2 = rf_free_port();
	mesh_yaml(y1, sizeof(y1), key, "r2", p2);
	mesh_yaml(y2, sizeof(y2), key, "r1", p1);
	rf_relay_start(&r1, "r1", p1, y1);
	rf_relay_start(&r2, "r2", p2, y2);
	CHECK(rf_metric_wait(&r1, "meshgate_relay_mesh_links_up", 1, 10000) == 1,
	      "r1 -> r2 not up");
	CHECK(rf_metric_wait(&r2, "meshgate_relay_mesh_links_up", 1, 10000) == 1,
	      "r2 -> r1 not up");
	printf("ok: two relays meshed both ways\n");

	rf_keypair(ska, pka);
	rf_keypair(skb, pkb);
	a = rf_client(&r1, ska, err, sizeof(err));
	CHECK(a, "%s", err);
	b = rf_client(&r2, skb, err, sizeof(err));
	CHECK(b, "%s", err);
	CHECK(rf_metric_wait(&r1, "meshgate_relay_remote_keys", 1, 5000) == 1);
	CHECK(rf_metric_wait(&r2, "meshgate_relay_remote_keys", 1, 5000) == 1);
	exchange(a, pka, b, pkb, "r1 -> r2");
	exchange(b, pkb, a, pka, "r2 -> r1");
	CHECK(rf_metric(&r1, "meshgate_relay_frames_forwarded_total{path=\"mesh_out\"}") == 1);
	CHECK(rf_metric(&r2, "meshgate_relay_frames_forwarded_total{path=\"mesh_in\"}") == 1);
	printf("ok: nodes on different relays meet through the mesh\n");

	/* r2 dies; b moves to r1 and the traffic resumes. */
	t0 = rf_now_ms();
	rf_relay_stop(&r2);
	mg_relay_client_close(b);
	b = rf_client(&r1, skb, err, sizeof(err));
	CHECK(b, "%s", err);
	exchange(a, pka, b, pkb, "after failover");
	CHECK(rf_now_ms() - t0 < 5000, "failover took %llu ms",
	      (unsigned long long)(rf_now_ms() - t0));
	CHECK(rf_metric_wait(&r1, "meshgate_relay_mesh_links_up", 0, 100) >= 0);
	printf("ok: relay killed, node moved to the other, traffic resumed in %llu ms\n",
	       (unsigned long long)(rf_now_ms() - t0));
	{
		uint64_t dl = rf_now_ms() + 5000;
		while (rf_metric(&r1, "meshgate_relay_remote_keys") != 0 && rf_now_ms() < dl)
			usleep(50000);
		CHECK(rf_metric(&r1, "meshgate_relay_remote_keys") == 0,
		      "keys of the dead relay still routed");
	}

	/* A relay with another mesh key is refused. */
	mesh_yaml(y3, sizeof(y3), bad, "r1", p1);
	rf_relay_start(&r3, "r3", 0, y3);
	CHECK(rf_metric_wait(&r1, "meshgate_relay_closed_total{reason=\"bad_mesh_proof\"}", 1,
	                     10000) >= 1);
	CHECK(rf_metric(&r3, "meshgate_relay_mesh_links_up") == 0);
	printf("ok: a relay without the mesh key is refused\n");
	mg_relay_client_close(a);
	mg_relay_client_close(b);
	rf_relay_stop(&r3);
	rf_relay_stop(&r1);
	return 0;
}
