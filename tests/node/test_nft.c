// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's nftables enforcement, without packets: the generated ruleset for a known filter,
 * and (as root, in a network namespace of its own) that libnftables loads it, that every
 * normalized random filter loads (no overlapping set elements, no syntax nft refuses), that a
 * reload replaces the table with its counter carried over, and that remove leaves nothing.
 * Packets through the table are tests/netns/agent_policy.sh's part.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "check.h"
#include "coord_client.h"
#include "nft.h"

static int parse_filter(const char *filter, struct mg_netmap_update *u)
{
	char line[8192], err[256];

	snprintf(line, sizeof(line), "{\"type\":\"full\",\"seq\":1,\"peers\":[],\"filter\":%s}",
	         filter);
	int rc = mg_coord_parse_line(line, strlen(line), u, NULL, 0, err, sizeof(err));
	CHECK(rc == 1, "filter parses: %s", err);
	return rc == 1 ? 0 : -1;
}

static const char *sample =
    "[{\"src\":[\"100.64.0.2/32\",\"fd7a::2/128\"],\"dst\":[\"100.64.0.1/32\",\"fd7a::1/128\","
    "\"10.1.0.0/24\"],\"proto\":\"tcp\",\"ports\":[\"22\",\"8000-8100\"]},"
    "{\"src\":[\"*\"],\"dst\":[\"100.64.0.1/32\"],\"ports\":[\"53\"]},"
    "{\"src\":[\"*\"],\"dst\":[\"*\"],\"proto\":\"icmp\",\"ports\":[\"*\"]},"
    "{\"src\":[\"fd7a::5/128\"],\"dst\":[\"*\"],\"ports\":[\"*\"]}]";

static void test_text(void)
{
	struct mg_netmap_update u;

	if (parse_filter(sample, &u))
		return;
	char *t = mg_nft_ruleset("meshgate-mg0", "mg0", &u.filter, 7, 700);
	static const char *const want[] = {
	    "add table inet meshgate-mg0\ndelete table inet meshgate-mg0\n",
	    "packets 7 bytes 700",
	    "ct direction reply ct state established accept",
	    "ct state related meta l4proto { icmp, ipv6-icmp } accept",
	    "meta nfproto ipv4 ip saddr { 100.64.0.2/32 } ip daddr { 10.1.0.0/24, 100.64.0.1/32 } "
	    "tcp dport { 22, 8000-8100 } accept",
	    "meta nfproto ipv6 ip6 saddr { fd7a::2/128 } ip6 daddr { fd7a::1/128 } tcp dport { 22, "
	    "8000-8100 } accept",
	    "meta nfproto ipv4 ip daddr { 100.64.0.1/32 } meta l4proto { tcp, udp } th dport { 53 "
	    "} "
	    "accept",
	    "meta nfproto ipv4 ip daddr { 100.64.0.1/32 } meta l4proto icmp accept",
	    "meta nfproto ipv4 meta l4proto icmp accept",
	    "meta nfproto ipv6 meta l4proto ipv6-icmp accept",
	    "meta nfproto ipv6 ip6 saddr { fd7a::5/128 } accept",
	    "counter name \"policy_drops\" drop",
	    "iifname \"mg0\" jump from_mesh",
	};
	for (size_t i = 0; t && i < sizeof(want) / sizeof(want[0]); i++)
		CHECK(strstr(t, want[i]) != NULL, "ruleset has '%s':\n%s", want[i], t);
	/* The v6 DNS rule has no v6 destination: it must not become "any v6 destination". */
	CHECK(t && !strstr(t, "nfproto ipv6 meta l4proto { tcp, udp } th dport { 53 }"), "%s", t);
	free(t);
	mg_netmap_update_free(&u);
}

static unsigned long long rnd_state = 12345;

static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)((rnd_state >> 33) % n);
}

/* A random filter with overlapping, nested and adjacent prefixes and ports. */
static char *random_filter(int rules)
{
	static const char *const protos[] = {"any", "tcp", "udp", "icmp"};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "[");
	for (int r = 0; r < rules; r++) {
		const char *proto = protos[rnd(4)];

		fprintf(f, "%s{\"src\":[", r ? "," : "");
		for (int i = 0, n = 1 + (int)rnd(8); i < n; i++) {
			if (rnd(2))
				fprintf(f, "%s\"10.%u.%u.0/%u\"", i ? "," : "", rnd(4), rnd(4) * 64,
				        rnd(2) ? 24 : 26);
			else
				fprintf(f, "%s\"fd7a:%x::/%u\"", i ? "," : "", rnd(4),
				        32 + 16 * rnd(3));
		}
		fprintf(f, "],\"dst\":[\"100.64.0.1/32\",\"fd7a::1/128\",\"10.9.0.0/%u\"],",
		        16 + rnd(9));
		fprintf(f, "\"proto\":\"%s\",\"ports\":[", proto);
		if (strcmp(proto, "icmp") == 0 || rnd(5) == 0) {
			fprintf(f, "\"*\"");
		} else {
			for (int i = 0, n = 1 + (int)rnd(6); i < n; i++) {
				unsigned lo = rnd(3) ? rnd(100) : 65535 - rnd(3);
				fprintf(f, "%s\"%u-%u\"", i ? "," : "", lo,
				        lo + (lo > 65500 ? 0 : rnd(30)));
			}
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]");
	fclose(f);
	return buf;
}

/* The chain as `nft list chain` prints it, or NULL when it does not exist. */
static char *list_chain(const char *table, const char *chain)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	char cmd[160], *out = NULL;

	if (!ctx)
		return NULL;
	snprintf(cmd, sizeof(cmd), "list chain inet %s %s", table, chain);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, cmd) == 0)
		out = strdup(nft_ctx_get_output_buffer(ctx));
	nft_ctx_free(ctx);
	return out;
}

static void test_load(void)
{
	struct mg_netmap_update u;
	struct mg_filter none = {0};
	uint64_t packets = 1, bytes = 1;
	char err[300] = "";
	struct mg_nft *n = mg_nft_new("mgtest0", err, sizeof(err));

	CHECK(mg_nft_new("bad name", err, sizeof(err)) == NULL && strstr(err, "cannot name"));
	CHECK(n != NULL, "%s", err);
	if (!n || parse_filter(sample, &u))
		return;
	CHECK(mg_nft_drops(n, &packets, &bytes) == -1, "no table yet");
	CHECK(mg_nft_apply(n, &u.filter, err, sizeof(err)) == 0, "sample loads: %s", err);
	CHECK(mg_nft_drops(n, &packets, &bytes) == 0 && packets == 0 && bytes == 0);
	CHECK(mg_nft_apply(n, &none, err, sizeof(err)) == 0, "empty filter loads: %s", err);
	CHECK(mg_nft_apply(n, &none, err, sizeof(err)) == 0, "and again (replaced): %s", err);
	mg_netmap_update_free(&u);
	for (int i = 0; i < 40; i++) {
		char *text = random_filter(1 + (int)rnd(20));

		if (parse_filter(text, &u) == 0) {
			CHECK(mg_nft_apply(n, &u.filter, err, sizeof(err)) == 0,
			      "random filter %d: %s\n%s", i, err, text);
			mg_netmap_update_free(&u);
		}
		free(text);
	}
	/* With an exit node: the mark's chains come with every load, and go with the mark. */
	mg_nft_set_exit_mark(n, 0xce54);
	CHECK(mg_nft_apply(n, &none, err, sizeof(err)) == 0, "with the exit chains: %s", err);
	char *listed = list_chain("meshgate-mgtest0", "exit_premangle");
	CHECK(listed && strstr(listed, "ct mark 0x0000ce54 meta mark set ct mark"),
	      "replies get the mark back: %s", listed ? listed : "(no chain)");
	free(listed);
	listed = list_chain("meshgate-mgtest0", "exit_postmangle");
	CHECK(listed && strstr(listed, "meta mark 0x0000ce54 ct mark set meta mark"),
	      "marked packets save it: %s", listed ? listed : "(no chain)");
	free(listed);
	mg_nft_set_exit_mark(n, 0);
	CHECK(mg_nft_apply(n, &none, err, sizeof(err)) == 0, "without: %s", err);
	listed = list_chain("meshgate-mgtest0", "exit_premangle");
	CHECK(listed == NULL, "the exit chains are gone with the mark");
	free(listed);
	CHECK(mg_nft_remove(n, err, sizeof(err)) == 0, "%s", err);
	CHECK(mg_nft_drops(n, &packets, &bytes) == -1, "the table is gone");
	CHECK(mg_nft_remove(n, err, sizeof(err)) == 0, "removing twice is fine: %s", err);
	mg_nft_free(n);
}

int main(void)
{
	test_text();
	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		printf("nft: not root or no network namespace; loading skipped\n");
		return check_done("nft");
	}
	test_load();
	return check_done("nft");
}
