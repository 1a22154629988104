// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: meshgate-relay's HTTP upgrade parsers (relay/upgrade.c), the request a relay
 * reads from anyone on the Internet and the response a relay reads from a peer relay. Seeds:
 * the request node/relay_client.c writes, the relay's 101 followed by a frame, and refusals.
 *
 * Invariants per input:
 *  - answers are 1, 0 or -1; 0 (need more) only when no blank line ends the header within
 *    RELAY_UPGRADE_MAX and the input is shorter than that;
 *  - an accepted request starts with "GET /relay HTTP/1.1\r\n", ends its consumed bytes with
 *    "\r\n\r\n", holds no NUL there, and every shorter prefix of it is "need more";
 *  - a refused request names an HTTP status the relay answers with (400, 404, 405, 426, 431)
 *    and a reason;
 *  - an accepted response has status 101 and consumed bytes ending in "\r\n\r\n".
 */
#include <string.h>

#include "fuzz_driver.h"
#include "upgrade.h"

int fuzz_init(void)
{
	char req[512];
	int n = relay_upgrade_request(req, sizeof(req), "relay.example.net");
	static const char resp[] = RELAY_UPGRADE_RESPONSE "\x01\x00\x00\x00\x42";

	if (n <= 0)
		return 1;
	fuzz_seed_add("request", req, (size_t)n);
	fuzz_seed_add("response", resp, sizeof(resp) - 1);
	fuzz_seed_add("refusal", "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 3\r\n\r\nno\n",
	              56);
	fuzz_token_add_str("\r\n");
	fuzz_token_add_str("Upgrade: meshgate-relay\r\n");
	fuzz_token_add_str("Connection: keep-alive, Upgrade\r\n");
	fuzz_token_add_str("Meshgate-Relay-Version: 2\r\n");
	fuzz_token_add_str("Transfer-Encoding: chunked\r\n");
	fuzz_token_add_str(" folded\r\n");
	fuzz_set_max_len(RELAY_UPGRADE_MAX + 64);
	return 0;
}

int fuzz_one(const uint8_t *data, size_t len)
{
	const char *buf = (const char *)data;
	struct relay_upgrade_result r;
	int rc = relay_upgrade_parse_request(buf, len, &r);
	bool has_end = false;
	size_t scan = len < RELAY_UPGRADE_MAX ? len : RELAY_UPGRADE_MAX;

	for (size_t i = 0; i + 3 < scan && !has_end; i++)
		has_end = memcmp(buf + i, "\r\n\r\n", 4) == 0;
	FUZZ_CHECK(rc >= -1 && rc <= 1, "%s", "rc >= -1 && rc <= 1");
	if (rc == 0)
		FUZZ_CHECK(!has_end && len < RELAY_UPGRADE_MAX, "need-more with a complete header");
	if (rc == 1) {
		struct relay_upgrade_result p;
		FUZZ_CHECK(r.consumed <= len && r.consumed >= 25, "%s",
		           "r.consumed <= len && r.consumed >= 25");
		FUZZ_CHECK(memcmp(buf, "GET /relay HTTP/1.1\r\n", 21) == 0, "%s",
		           "memcmp(buf, \"GET /relay HTTP/1.1\\r\\n\", 21) == 0");
		FUZZ_CHECK(memcmp(buf + r.consumed - 4, "\r\n\r\n", 4) == 0, "%s",
		           "memcmp(buf + r.consumed - 4, \"\\r\\n\\r\\n\", 4) == 0");
		FUZZ_CHECK(!memchr(buf, '\0', r.consumed), "%s", "!memchr(buf, '\\0', r.consumed)");
		FUZZ_CHECK(relay_upgrade_parse_request(buf, r.consumed - 1, &p) == 0,
		           "a prefix of an accepted request is not 'need more'");
		fuzz_outcome("request accepted");
	} else if (rc < 0) {
		FUZZ_CHECK(r.status == 400 || r.status == 404 || r.status == 405 ||
		               r.status == 426 || r.status == 431,
		           "status %d", r.status);
		FUZZ_CHECK(r.why && *r.why, "%s", "r.why && *r.why");
		fuzz_outcome(r.why);
	}

	rc = relay_upgrade_parse_response(buf, len, &r);
	FUZZ_CHECK(rc >= -1 && rc <= 1, "%s", "rc >= -1 && rc <= 1");
	if (rc == 1) {
		FUZZ_CHECK(r.status == 101 && r.consumed <= len, "%s",
		           "r.status == 101 && r.consumed <= len");
		FUZZ_CHECK(memcmp(buf + r.consumed - 4, "\r\n\r\n", 4) == 0, "%s",
		           "memcmp(buf + r.consumed - 4, \"\\r\\n\\r\\n\", 4) == 0");
		fuzz_outcome("response accepted");
	} else if (rc < 0) {
		FUZZ_CHECK(r.why && *r.why, "%s", "r.why && *r.why");
		fuzz_outcome(r.status == 0 ? r.why : "response refused with a status");
	}
	return 0;
}
