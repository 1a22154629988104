// SPDX-License-Identifier: GPL-2.0-only
#include "agent_status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : "-";
}

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* One line per relay connection, its round trips over the connection itself (PING/PONG): the
 * same for a gateway's netcheck and an agent's status, label aside (each view aligns its own). */
void meshctl_print_relay_rtts(json_t *relays, const char *label)
{
	json_t *v;
	size_t i;

	json_array_foreach(relays, i, v)
	{
		json_t *last = json_object_get(v, "rtt_ms"),
		       *min = json_object_get(v, "rtt_min_ms");

		printf("%s%-20s %-6s", label, str(v, "name"),
		       json_is_true(json_object_get(v, "home")) ? "home" : "");
		if (json_is_number(last))
			printf(" %.3f ms (min %.3f ms)", json_number_value(last),
			       json_number_value(min));
		else
			printf(" no answer yet");
		printf(", %lld pings, %lld lost\n", num(v, "pings"), num(v, "lost"));
	}
}

/* What netcheck shows on a gateway: STUN's verdict and the relays' round trips. */
static void print_netcheck(json_t *d)
{
	json_t *nat = json_object_get(d, "nat"), *v;
	size_t i;

	if (json_is_object(nat)) {
		printf("nat:         %s, endpoints", str(nat, "kind"));
		json_array_foreach(json_object_get(nat, "endpoints"), i, v)
		    printf(" %s", json_string_value(v));
		printf(" (stun servers");
		json_array_foreach(json_object_get(nat, "servers"), i, v)
		    printf(" %s", json_string_value(v));
		printf(", from %s)\n", str(nat, "servers_from"));
	} else {
		printf("nat:         no stun: section\n");
	}
	meshctl_print_relay_rtts(json_object_get(json_object_get(d, "relay"), "relays"),
	                         "relay rtt:   ");
}

int meshctl_agent_status(const char *path, bool json)
{
	json_error_t jerr;
	json_t *d = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *r, *p;
	size_t i;

	if (!d || !json_is_object(d) || !json_is_array(json_object_get(d, "peers"))) {
		fprintf(stderr, "meshctl: %s: %s (is status_file set in agent.yaml?)\n", path,
		        d ? "not an agent status file" : jerr.text);
		json_decref(d);
		return 1;
	}
	if (json) {
		json_dumpf(d, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(d);
		return 0;
	}
	/* The agent rewrites the file every second: an old one means the agent is not running. */
	printf("written:     %lld s ago\n", (long long)time(NULL) - num(d, "time"));
	printf("coordinator: %s\n", str(d, "coordinator"));
	r = json_object_get(d, "relay");
	if (json_is_object(r)) {
		if (json_is_true(json_object_get(r, "connected")))
			printf("home relay:  %s (region %s, %s port %lld)\n", str(r, "name"),
			       str(r, "region"), str(r, "host"), num(r, "port"));
		else
			printf("home relay:  none (dialling %s; last error: %s)\n",
			       str(r, "dialling"), str(r, "error"));
	} else {
		printf("home relay:  no relay: section\n");
	}
	print_netcheck(d);
	printf("%-44s %-16s %-34s %-10s %-22s %10s %12s %12s\n", "PEER", "NAME", "PATH", "HOME",
	       "ENDPOINT", "HANDSHAKE", "RX", "TX");
	json_array_foreach(json_object_get(d, "peers"), i, p)
	{
		char pathbuf[96];
		long long hs = num(p, "last_handshake");

		json_t *dp = json_object_get(p, "disco");

		if (json_object_get(p, "relay"))
			snprintf(pathbuf, sizeof(pathbuf), "relay %s", str(p, "relay"));
		else
			snprintf(pathbuf, sizeof(pathbuf), "%s", str(p, "path"));
		/* With disco, the direct path is the endpoint that answered, and its round trip. */
		if (json_is_object(dp) && strcmp(str(dp, "kind"), "direct") == 0)
			snprintf(pathbuf, sizeof(pathbuf), "direct %s %.1fms", str(dp, "endpoint"),
			         json_number_value(json_object_get(dp, "rtt_ms")));
		printf("%-44s %-16s %-34s %-10s %-22s ", str(p, "key"), str(p, "name"), pathbuf,
		       str(p, "home_relay"), str(p, "endpoint"));
		if (hs)
			printf("%8llds ", (long long)time(NULL) - hs);
		else
			printf("%9s ", "never");
		printf("%12lld %12lld\n", num(p, "rx_bytes"), num(p, "tx_bytes"));
	}
	json_decref(d);
	return 0;
}
