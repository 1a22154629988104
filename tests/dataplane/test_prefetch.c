// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane/prefetch.h: the PREFETCHW choice agrees with what the kernel read from CPUID
 * ("3dnowprefetch" in /proc/cpuinfo, the same bit), and the hint is harmless on any address the
 * data path hands it (unaligned, a buffer's last byte), and on none at all (NULL, the top of the
 * address space).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prefetch.h"

/* -1: no /proc/cpuinfo flags line to compare with. */
static int kernel_says_prefetchw(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return -1;
	char line[8192];
	int found = -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "flags", 5) != 0 || !colon)
			continue;
		found = 0;
		for (char *tok = strtok(colon + 1, " \n"); tok; tok = strtok(NULL, " \n"))
			if (!strcmp(tok, "3dnowprefetch"))
				found = 1;
	}
	fclose(f);
	return found;
}

static void test_detection(void)
{
	int kernel = kernel_says_prefetchw();
	bool ours = atomic_load(&mg_have_prefetchw);
#if defined(__x86_64__)
	if (kernel < 0)
		printf("  no flags line in /proc/cpuinfo: detection not compared\n");
	else
		CHECK(ours == (kernel == 1), "CPUID says %d, the kernel %d", ours, kernel);
#else
	CHECK(!ours, "PREFETCHW chosen on a CPU that is not x86-64");
#endif
	printf("  PREFETCHW %s\n", ours ? "in use" : "not available: read prefetches");
}

static void test_any_address(void)
{
	enum { LEN = 4096 };
	uint8_t *buf = malloc(LEN);
	CHECK(buf != NULL);
	if (!buf)
		return;
	for (unsigned off = 0; off < LEN; off += 7)
		mg_prefetch_w(buf + off);
	mg_prefetch_w(buf + LEN - 1);
	memset(buf, 0xa5, LEN);
	CHECK(buf[0] == 0xa5 && buf[LEN - 1] == 0xa5);
	free(buf);
	/* A hint never faults, whatever the address. */
	mg_prefetch_w(NULL);
	mg_prefetch_w((const void *)~(uintptr_t)0);
}

int main(void)
{
	test_detection();
	test_any_address();
	return check_done("prefetch");
}
