// SPDX-License-Identifier: GPL-2.0-only
#include "eal_test_env.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "acl.h"

/* "0,1,5": the CPUs in our affinity mask. */
static int allowed_cpus(char *out, size_t size)
{
	cpu_set_t set;
	size_t used = 0;

	out[0] = '\0';
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		int n = snprintf(out + used, size - used, "%s%d", used ? "," : "", cpu);
		if (n < 0 || (size_t)n >= size - used)
			return -1;
		used += (size_t)n;
	}
	return used ? 0 : -1;
}

/* EAL creates /var/run/dpdk/<prefix> even with --no-shconf and never removes it. */
static void remove_runtime_dir(void)
{
	const char *dir = rte_eal_get_runtime_dir();
	if (dir && *dir && strstr(dir, "mgtest-"))
		rmdir(dir);
}

int eal_test_init(const char *prog, unsigned nb_lcores, unsigned mem_mb)
{
	/* EAL may keep pointers into argv, so the strings live as long as the process. */
	static char prefix[64], mem[16], lcores[1200], cpus[1024];
	struct timespec ts;

	if (nb_lcores == 0 || nb_lcores > 64 || allowed_cpus(cpus, sizeof(cpus)) != 0) {
		fprintf(stderr, "eal_test_init: bad lcore count or no usable CPU\n");
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(prefix, sizeof(prefix), "--file-prefix=mgtest-%ld-%ld", (long)getpid(),
	         (long)(ts.tv_nsec % 1000000));
	snprintf(mem, sizeof(mem), "%u", mem_mb);
	if (nb_lcores == 1)
		snprintf(lcores, sizeof(lcores), "--lcores=0@(%s)", cpus);
	else
		snprintf(lcores, sizeof(lcores), "--lcores=(0-%u)@(%s)", nb_lcores - 1, cpus);

	char *argv[] = {
	    (char *)prog, "--no-huge", "--no-shconf", "--no-pci", "--no-telemetry",
	    prefix,       "-m",        mem,           lcores,     "--log-level=warning",
	};
	int argc = (int)(sizeof(argv) / sizeof(argv[0]));
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "rte_eal_init failed: %s; arguments:", rte_strerror(rte_errno));
		for (int i = 0; i < argc; i++)
			fprintf(stderr, " %s", argv[i]);
		fputc('\n', stderr);
		remove_runtime_dir();
		return -1;
	}
	/* Nothing lives in it with --no-shconf and --no-telemetry: remove it now, so a test that
	 * crashes or exits early leaves nothing behind. */
	remove_runtime_dir();
	/* The SIMD bitwidth mg_eal_init gives the gateway: the libraries' code paths tested are
	 * the ones it runs. */
	mg_acl_simd_setup();
	return 0;
}

void eal_test_cleanup(void)
{
	rte_eal_cleanup();
	remove_runtime_dir();
}
