// SPDX-License-Identifier: GPL-2.0-only
/*
 * The key proof: a node that holds its key gets in; one that does not, or that replays a proof,
 * or that sends garbage, is refused with a reason it can read, and the refusal is counted.
 */
#include <string.h>

#include <sodium.h>

#include "auth.h"
#include "relay_fixture.h"

static struct rf_relay relay;

/* Upgrades, sends a PROOF body, and returns the ERROR text (or "WELCOME"). */
static const char *answer(struct rf_raw *raw, const uint8_t *proof, size_t len, uint8_t *code)
{
	static char text[256];
	uint8_t hdr[5] = {0x02, 0, 0, (uint8_t)(len >> 8), (uint8_t)len}, type, body[256];
	long n;

	CHECK(rf_raw_write(raw, hdr, 5) == 0 && rf_raw_write(raw, proof, len) == 0);
	n = rf_raw_frame(raw, &type, body, sizeof(body), 5000);
	CHECK(n >= 1, "no answer to the proof");
	if (type == 0x04)
		return "WELCOME";
	CHECK(type == 0x30, "expected ERROR, got 0x%02x", type);
	*code = body[0];
	snprintf(text, sizeof(text), "%.*s", (int)n - 1, (const char *)body + 1);
	return text;
}

static void test_good(void)
{
	uint8_t sk[32], pk[32];
	char err[256];
	struct mg_relay_client *c;

	rf_keypair(sk, pk);
	c = rf_client(&relay, sk, err, sizeof(err));
	CHECK(c, "a node holding its key is refused: %s", err);
	CHECK(memcmp(mg_relay_client_public_key(c), pk, 32) == 0);
	CHECK(rf_metric_wait(&relay, "meshgate_relay_clients", 1, 2000) == 1);
	mg_relay_client_close(c);
	CHECK(rf_metric_wait(&relay, "meshgate_relay_auth_ok_total", 1, 2000) >= 1);
	printf("ok: a node that holds its key is admitted\n");
}

static void test_wrong_key(void)
{
	uint8_t sk[32], pk[32], sk2[32], pk2[32], ch[66], exp[32], proof[RELAY_PROOF_BODY_LEN],
	    code;
	struct rf_raw raw;
	const char *why;

	rf_keypair(sk, pk);
	rf_keypair(sk2, pk2);
	CHECK(rf_raw_connect(&relay, &raw) == 0 && rf_raw_upgrade(&raw, ch) == 0);
	CHECK(rf_raw_exporter(&raw, exp) == 0);
	/* Signed with sk, claims pk2: the box does not open under pk2. */
	CHECK(relay_proof_make(sk, ch + 2, ch + 34, exp, proof) == 0);
	memcpy(proof, pk2, 32);
	why = answer(&raw, proof, sizeof(proof), &code);
	CHECK(code == RELAY_E_BAD_PROOF && strstr(why, "does not hold its private key"), "got '%s'",
	      why);
	rf_raw_close(&raw);
	printf("ok: wrong key refused: %s\n", why);
}

static void test_replay(void)
{
	uint8_t sk[32], pk[32], ch[66], exp[32], proof[RELAY_PROOF_BODY_LEN], code;
	struct rf_raw raw;
	const char *why;

	rf_keypair(sk, pk);
	CHECK(rf_raw_connect(&relay, &raw) == 0 && rf_raw_upgrade(&raw, ch) == 0);
	CHECK(rf_raw_exporter(&raw, exp) == 0);
	CHECK(relay_proof_make(sk, ch + 2, ch + 34, exp, proof) == 0);
	why = answer(&raw, proof, sizeof(proof), &code);
	CHECK(strcmp(why, "WELCOME") == 0, "a good raw proof is refused: %s", why);
	rf_raw_close(&raw);

	/* The same proof on a new connection answers the old challenge. */
	CHECK(rf_raw_connect(&relay, &raw) == 0 && rf_raw_upgrade(&raw, ch) == 0);
	why = answer(&raw, proof, sizeof(proof), &code);
	CHECK(code == RELAY_E_BAD_PROOF && strstr(why, "replayed"), "got '%s'", why);
	rf_raw_close(&raw);
	printf("ok: replayed proof refused: %s\n", why);

	/* The right challenge, bound to another TLS session (a relay in the middle). */
	CHECK(rf_raw_connect(&relay, &raw) == 0 && rf_raw_upgrade(&raw, ch) == 0);
	randombytes_buf(exp, sizeof(exp));
	CHECK(relay_proof_make(sk, ch + 2, ch + 34, exp, proof) == 0);
	why = answer(&raw, proof, sizeof(proof), &code);
	CHECK(code == RELAY_E_BAD_PROOF && strstr(why, "another TLS session"), "got '%s'", why);
	rf_raw_close(&raw);
	printf("ok: proof from another TLS session refused: %s\n", why);
}

static void expect_error(const void *frame, size_t len, uint8_t want_code, const char *want)
{
	uint8_t ch[66], type, body[256];
	struct rf_raw raw;
	long n;

	CHECK(rf_raw_connect(&relay, &raw) == 0 && rf_raw_upgrade(&raw, ch) == 0);
	CHECK(rf_raw_write(&raw, frame, len) == 0);
	n = rf_raw_frame(&raw, &type, body, sizeof(body), 5000);
	CHECK(n >= 1 && type == 0x30 && body[0] == want_code &&
	          memmem(body + 1, (size_t)n - 1, want, strlen(want)),
	      "expected ERROR %u '%s', got type 0x%02x code %u '%.*s'", want_code, want, type,
	      n > 0 ? body[0] : 0, n > 1 ? (int)n - 1 : 0, (const char *)body + 1);
	CHECK(rf_raw_until_close(&raw, body, sizeof(body), 3000) >= 0, "not closed");
	rf_raw_close(&raw);
	printf("ok: refused: %s\n", want);
}

static void expect_http(const char *req, const char *status, const char *reason)
{
	struct rf_raw raw;
	char buf[1024];
	long n;

	CHECK(rf_raw_connect(&relay, &raw) == 0);
	CHECK(rf_raw_write(&raw, req, strlen(req)) == 0);
	n = rf_raw_until_close(&raw, (uint8_t *)buf, sizeof(buf) - 1, 3000);
	CHECK(n > 0, "no HTTP answer");
	buf[n] = '\0';
	CHECK(strncmp(buf, status, strlen(status)) == 0 && strstr(buf, reason), "got '%s'", buf);
	rf_raw_close(&raw);
	printf("ok: %s -> %.*s\n", reason, (int)strcspn(buf, "\r"), buf);
}

static void test_garbage(void)
{
	static const uint8_t unknown[] = {0x77, 0, 0, 0, 1, 0};
	static const uint8_t send_first[] = {0x10, 0, 0, 0, 33};
	static const uint8_t short_proof[] = {0x02, 0, 0, 0, 3, 1, 2, 3};
	uint8_t junk[RELAY_PROOF_BODY_LEN + 5];

	expect_error(unknown, sizeof(unknown), RELAY_E_BAD_FRAME, "unknown frame type");
	expect_error(send_first, sizeof(send_first), RELAY_E_UNEXPECTED, "must be PROOF");
	expect_error(short_proof, sizeof(short_proof), RELAY_E_BAD_FRAME, "shorter");
	/* A PROOF of the right size made of random bytes. */
	junk[0] = 0x02;
	junk[1] = junk[2] = 0;
	junk[3] = 0;
	junk[4] = RELAY_PROOF_BODY_LEN;
	randombytes_buf(junk + 5, RELAY_PROOF_BODY_LEN);
	junk[5 + 31] &= 0x7f; /* a canonical key, so the box itself is what fails */
	expect_error(junk, sizeof(junk), RELAY_E_BAD_PROOF, "does not open");

	expect_http("GET /other HTTP/1.1\r\n\r\n", "HTTP/1.1 404", "GET /relay");
	expect_http("POST /relay HTTP/1.1\r\n\r\n", "HTTP/1.1 405", "only GET");
	expect_http("GET /relay HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 426", "Upgrade");
	expect_http("GET /relay HTTP/1.1\r\nUpgrade: meshgate-relay\r\nConnection: upgrade\r\n"
	            "Content-Length: 5\r\n\r\n",
	            "HTTP/1.1 400", "no body");
	expect_http("GET /relay HTTP/1.1\r\nUpgrade: meshgate-relay\r\n x\r\n\r\n", "HTTP/1.1 400",
	            "folded");
	CHECK(rf_metric(&relay, "meshgate_relay_closed_total{reason=\"bad_proof\"}") >= 4);
	CHECK(rf_metric(&relay, "meshgate_relay_closed_total{reason=\"bad_frame\"}") >= 3);
	CHECK(rf_metric(&relay, "meshgate_relay_closed_total{reason=\"bad_upgrade\"}") >= 5);
}

static void test_library_reason(void)
{
	/* The library shows the relay's reason when the upgrade is refused: port of a relay that
	 * is full (max_clients 1, the slot taken by a raw connection). */
	struct rf_relay full;
	struct rf_raw raw;
	uint8_t sk[32], pk[32];
	char err[256];

	rf_relay_start(&full, "full", 0, "limits:\n  max_clients_per_ip: 1\n");
	CHECK(rf_raw_connect(&full, &raw) == 0);
	rf_keypair(sk, pk);
	CHECK(!rf_client(&full, sk, err, sizeof(err)), "a second connection from one IP got in");
	CHECK(rf_metric_wait(&full, "meshgate_relay_closed_total{reason=\"per_ip_limit\"}", 1,
	                     2000) == 1);
	rf_raw_close(&raw);
	printf("ok: per-IP limit refuses before TLS (client saw: %s)\n", err);
	rf_relay_stop(&full);
}

int main(int argc, char **argv)
{
	rf_init(argc, argv);
	rf_relay_start(&relay, "auth", 0, NULL);
	test_good();
	test_wrong_key();
	test_replay();
	test_garbage();
	test_library_reason();
	rf_relay_stop(&relay);
	return 0;
}
