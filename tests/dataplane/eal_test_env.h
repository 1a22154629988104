/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * EAL for tests and benchmarks: no hugepages, no PCI, no shared config, no telemetry, a file
 * prefix unique to this process, and the empty runtime directory EAL creates removed again.
 * Lcores 0..nb_lcores-1 all float over the CPUs this process may use, so a two-lcore test also
 * runs on a one-CPU machine or under taskset.
 *
 * DPDK 22.11 refuses --no-huge together with --in-memory (--no-huge implies legacy memory, which
 * --in-memory rejects); --no-huge --no-shconf is the working equivalent: nothing is shared or
 * written to disk.
 */
#ifndef MESHGATE_TESTS_EAL_TEST_ENV_H
#define MESHGATE_TESTS_EAL_TEST_ENV_H

/* Returns 0, or -1 after printing why (rte_errno and the arguments used). mem_mb: EAL heap. */
int eal_test_init(const char *prog, unsigned nb_lcores, unsigned mem_mb);
void eal_test_cleanup(void);

#endif
