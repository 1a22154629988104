// SPDX-License-Identifier: GPL-2.0-only
/*
 * hs_lcores_bench: handshakes per second on the gateway's handshake lcores, through the real
 * code path: the real struct mg_control over ring ports (tests/gateway's control harness), its
 * worker classifying each initiation and putting it on a handshake lcore's ring, the lcores on
 * threads of their own (mac1, consume, response, keypair, under the peer's lock), and the
 * control thread sending the responses. Far peers (tests/support's fake Noise hosts) initiate
 * in rounds, one initiation each per round; the injected clock moves 25 ms between rounds so
 * the 20 ms per-peer flood limit never refuses one.
 *
 * The figure per lcore is handshakes per second of that lcore's own CPU time while it had work
 * (CLOCK_THREAD_CPUTIME_ID around each non-empty burst), so a machine shared with other jobs,
 * or with this process's initiators, does not lower it; the total is their sum. The wall-clock
 * rate is printed too and, with the initiators on the same cores, is no capacity figure.
 *
 *   hs_lcores_bench [--lcores 1..8] [--seconds S]
 *
 * Output: JSON on stdout ({"bench": "hs_lcores_<lcores>", "figures": [...]}), a summary on
 * stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_mbuf.h>

#include "control_harness.h"
#include "handshake_lcores.h"

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void round_of_initiations(void)
{
	struct rte_mbuf *m[FAR_CONFIGURED];
	uint8_t f[H_FRAME_MAX];
	for (unsigned i = 0; i < FAR_CONFIGURED; i++) {
		struct far *x = &H.far[i];
		struct wg_msg_initiation init;
		far_initiation(x, &init);
		m[i] = h_mbuf(MG_PORT_MESH, f,
		              h_mesh_frame(f, x, x->ep, x->port, &init, sizeof(init)));
	}
	h_rx(m, FAR_CONFIGURED);
	h_pump();
}

int main(int argc, char **argv)
{
	unsigned lcores = 2;
	double seconds = 3;
	int rc = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--lcores"))
			lcores = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = strtod(argv[i + 1], NULL);
	}
	if (lcores < 1 || lcores > MG_MAX_HS_LCORES || !(seconds > 0 && seconds < 600)) {
		fprintf(stderr, "usage: %s [--lcores 1..%d] [--seconds S]\n", argv[0],
		        MG_MAX_HS_LCORES);
		return 2;
	}
	h_hs_lcores = lcores;
	h_hs_threads = true;
	if (h_setup(argv[0]) != 0) {
		fprintf(stderr, "set-up failed\n");
		goto out;
	}
	struct mg_hs_lcore_stats sum;
	double t0 = mono_s();
	uint64_t rounds = 0;
	do {
		h_step(25 * H_MS);
		round_of_initiations();
		rounds++;
		mg_hs_lcores_stats(H.ctl, &sum);
	} while ((double)sum.busy_cpu_ns * 1e-9 < seconds * lcores);
	double wall = mono_s() - t0;

	if (sum.handshakes != rounds * FAR_CONFIGURED || sum.rejected || sum.bad_mac) {
		fprintf(stderr, "%lu handshakes from %lu initiations (%lu rejected, %lu bad mac)\n",
		        (unsigned long)sum.handshakes, (unsigned long)(rounds * FAR_CONFIGURED),
		        (unsigned long)sum.rejected, (unsigned long)sum.bad_mac);
		goto out;
	}
	double total = 0;
	printf("{\"bench\": \"hs_lcores_%u\", \"lcores\": %u, \"peers\": %u, \"figures\": [",
	       lcores, lcores, FAR_CONFIGURED);
	for (unsigned i = 0; i < H.ctl->n_hs_lcores; i++) {
		const struct mg_hs_lcore_stats *s = &H.ctl->hs_lcores[i]->stats;
		double cpu = (double)s->busy_cpu_ns * 1e-9;
		double rate = cpu > 0 ? (double)s->handshakes / cpu : 0;
		total += rate;
		printf("{\"name\": \"lcore%u_handshakes_per_cpu_s\", \"value\": %.6g, \"unit\": "
		       "\"1/s\"}, ",
		       i, rate);
		fprintf(stderr,
		        "handshake lcore %u: %lu handshakes in %.3f s of its CPU: %.0f/s per CPU "
		        "second (%.1f us each)\n",
		        i, (unsigned long)s->handshakes, cpu, rate,
		        s->handshakes ? cpu / (double)s->handshakes * 1e6 : 0);
	}
	printf("{\"name\": \"handshakes_per_cpu_s\", \"value\": %.6g, \"unit\": \"1/s\"}, "
	       "{\"name\": \"wall_handshakes_per_s\", \"value\": %.6g, \"unit\": \"1/s\"}]}\n",
	       total, (double)sum.handshakes / wall);
	fprintf(stderr,
	        "%u handshake lcores: %.0f handshakes/s per CPU second in total; %.0f/s wall clock "
	        "with the initiators on the same machine (%lu handshakes, %.1f s)\n",
	        lcores, total, (double)sum.handshakes / wall, (unsigned long)sum.handshakes, wall);
	rc = 0;
out:
	h_teardown();
	return rc;
}
