// SPDX-License-Identifier: GPL-2.0-only
/*
 * 1,000 simulated nodes on one relay (bench/relay_load, one process), 500 pairs exchanging
 * packets both ways; every packet must arrive intact and in order, and the relay's counters
 * must agree.
 */
#include <string.h>
#include <sys/wait.h>

#include "relay_fixture.h"

int main(int argc, char **argv)
{
	struct rf_relay r;
	char cmd[1024];
	int st;
	const int clients = 1000, frames = 20;

	rf_init(argc, argv);
	CHECK(argc >= 3, "usage: test_relay_load MESHGATE_RELAY RELAY_LOAD");
	rf_relay_start(
	    &r, "load", 0,
	    "log_level: warning\nlimits:\n  max_clients: 4000\n  max_clients_per_ip: 200\n");
	/* Sources spread over 10 loopback addresses, 100 clients each, under the per-IP limit. */
	snprintf(cmd, sizeof(cmd),
	         "'%s' --port %u --ca '%s' --clients %d --mode pairs --frames %d --window 4 "
	         "--size 200 --seconds 90 --bind-spread 10",
	         argv[2], r.port, rf_ca_file(), clients, frames);
	st = system(cmd);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "relay_load failed (status %d)", st);
	CHECK(rf_metric(&r, "meshgate_relay_auth_ok_total") == clients);
	CHECK(rf_metric(&r, "meshgate_relay_frames_forwarded_total{path=\"local\"}") ==
	      clients * frames);
	CHECK(rf_metric(&r, "meshgate_relay_drops_total{reason=\"queue_full\"}") == 0);
	CHECK(rf_metric(&r, "meshgate_relay_drops_total{reason=\"unknown_dst\"}") == 0);
	printf("ok: %d clients, %d packets forwarded intact and in order\n", clients,
	       clients * frames);
	rf_relay_stop(&r);
	return 0;
}
