// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pktgen-style set-up (issue #6): stock dpdk-testpmd in txonly mode feeds the worker over
 * memif, the pktgen-style set-up DPDK users know.
 *
 * The bench is the memif server of a second LAN port (net_memif_lan, socket in its runtime
 * directory); while these points run, the worker polls it instead of the ring LAN port. The
 * worker is the same as in every other point (real mg_worker_main on its own CPU, the gateway
 * holding all its peers, nothing switched off). testpmd is the memif client, spawned by the bench
 * once per size, with both its lcores on the generator CPU; it sends IPv4/UDP frames of
 * size + 14 bytes, to the LAN port's MAC, from the LAN host to peer 0's first prefix: the flow
 * of the built-in generator's one-peer encrypt point, with one destination address instead of
 * ten. The mesh port stays a ring port, drained by the bench's main lcore on the generator
 * CPU too; it sleeps when the ring is empty so that testpmd keeps most of that CPU, and testpmd
 * runs at nice TESTPMD_NICE so that the drain's wake-ups preempt it.
 *
 * Encrypt only, one peer: testpmd cannot build WireGuard transport messages (the decrypt path
 * needs valid sealed ones), its txonly destination is fixed (no 10,000-peer spread) and it has
 * no packet mix (no IMIX). Those stay with the built-in generator.
 *
 * Rates: the worker's, per CPU-second as the other points (summarize_point); testpmd's offered
 * rate is its TX-total (sent + refused by the full memif ring) per second of forwarding, both
 * from the statistics it prints on exit (--record-core-cycles). testpmd stops when its stdin
 * closes; it is killed (SIGINT, then SIGKILL) when it does not, on every error path, on
 * SIGINT/SIGTERM/SIGHUP of the bench, and by the kernel when the bench dies (PR_SET_PDEATHSIG).
 * Both runtime directories (/var/run/dpdk/mgbench-PID and mgbench-PID-testpmd) are removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "dataplane_bench.h"

#define TP_SIZES         6
#define TP_ARGS          24
#define LINK_TIMEOUT_S   10.0 /* testpmd start-up plus the memif handshake */
#define FIRST_PACKET_S   5.0
#define STOP_TIMEOUT_S   5.0
#define KILL_TIMEOUT_S   2.0
#define DRAIN_SLEEP_NS   20000
#define MIN_WARMUP_S     0.2
#define MEMIF_NAME       "net_memif_lan"
#define TESTPMD_MBUFS    "4096"
#define TESTPMD_MEMORY   "256"
#define TESTPMD_LOG_TAIL 2048
#define TESTPMD_NICE     5

static const unsigned tp_sizes[TP_SIZES] = {64, 128, 256, 512, 1024, 1420};

struct tp_point {
	struct point w;                     /* the worker, as in the built-in points */
	double offered_mpps, accepted_mpps; /* testpmd's TX-total, TX-packets per second */
	uint64_t offered, refused, sent;    /* TX-total; TX-dropped (ring full); TX-packets */
	double forwarding_s;                /* testpmd's forwarding time */
	bool from_cycles;                   /* forwarding_s from its cycle count (else our clock) */
	int status;                         /* testpmd's exit code, or -signal */
};

static struct tp_point tp_points[TP_SIZES];
static unsigned n_tp;
static uint16_t memif_port;
static int gen_cpu;
static char tp_exe[PATH_MAX], run_dir[200], tp_dir[PATH_MAX], tp_prefix[64];
static char sock_path[PATH_MAX], log_path[PATH_MAX];
static volatile pid_t tp_pid;
static int tp_stdin = -1;

/* ---- clean-up (also from signal handlers: no allocation, no stdio) ---- */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Empties and removes dir (flat: DPDK's runtime directories hold files and sockets only). */
static void remove_dir(const char *dir)
{
	char buf[4096];
	if (!dir[0])
		return;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	long n;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long at = 0; at < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + at);
			at += d->d_reclen;
			if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
				unlinkat(fd, d->d_name, 0);
		}
	close(fd);
	rmdir(dir);
}

static void kill_testpmd(void)
{
	pid_t pid = tp_pid;
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	tp_pid = 0;
}

static void clean_up(void)
{
	kill_testpmd();
	remove_dir(tp_dir);
	remove_dir(run_dir);
}

static void on_signal(int sig)
{
	clean_up();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- testpmd ---- */

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static void sleep_ns(long ns)
{
	struct timespec ts = {0, ns};
	nanosleep(&ts, NULL);
}

/* opt.testpmd, or the first executable of that name in PATH. */
static int find_testpmd(void)
{
	if (strchr(opt.testpmd, '/')) {
		snprintf(tp_exe, sizeof(tp_exe), "%s", opt.testpmd);
		return access(tp_exe, X_OK);
	}
	const char *path = getenv("PATH");
	char dirs[4096], *save = NULL;
	snprintf(dirs, sizeof(dirs), "%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(tp_exe, sizeof(tp_exe), "%s/%s", d, opt.testpmd);
		if (access(tp_exe, X_OK) == 0)
			return 0;
	}
	return -1;
}

struct tp_argv {
	char *v[TP_ARGS + 1];
	char lcores[48], prefix[96], vdev[PATH_MAX + 64], txpkts[32], peer[48], txip[48];
};

/* The built-in generator's one-peer encrypt frame of size bytes (Ethernet header first). */
static const uint8_t *encrypt_frame(unsigned size)
{
	static struct traffic t;
	memset(&t, 0, sizeof(t));
	t.dir = ENCRYPT;
	t.n_peers = 1;
	t.size = size;
	build_encrypt(&t);
	return t.lan[0];
}

/* testpmd's command line for one size: txonly, the flow of that frame. */
static void testpmd_argv(struct tp_argv *a, unsigned size)
{
	const uint8_t *f = encrypt_frame(size), *src = f + 14 + 12, *dst = f + 14 + 16;
	snprintf(a->lcores, sizeof(a->lcores), "--lcores=0@%d,1@%d", gen_cpu, gen_cpu);
	snprintf(a->prefix, sizeof(a->prefix), "--file-prefix=%s", tp_prefix);
	snprintf(a->vdev, sizeof(a->vdev),
	         "--vdev=net_memif0,role=client,socket=%s,socket-abstract=no", sock_path);
	snprintf(a->txpkts, sizeof(a->txpkts), "--txpkts=%u", size + 14);
	snprintf(a->peer, sizeof(a->peer), "--eth-peer=0,%02X:%02X:%02X:%02X:%02X:%02X", f[0], f[1],
	         f[2], f[3], f[4], f[5]);
	snprintf(a->txip, sizeof(a->txip), "--tx-ip=%u.%u.%u.%u,%u.%u.%u.%u", src[0], src[1],
	         src[2], src[3], dst[0], dst[1], dst[2], dst[3]);
	char *v[] = {tp_exe,
	             a->lcores,
	             "--no-huge",
	             "-m",
	             TESTPMD_MEMORY,
	             "--no-pci",
	             "--no-telemetry",
	             a->prefix,
	             a->vdev,
	             "--",
	             "--forward-mode=txonly",
	             a->txpkts,
	             a->peer,
	             a->txip,
	             "--auto-start",
	             "--total-num-mbufs=" TESTPMD_MBUFS,
	             "--record-core-cycles",
	             NULL};
	_Static_assert(sizeof(v) / sizeof(v[0]) <= TP_ARGS + 1, "TP_ARGS too small");
	memcpy(a->v, v, sizeof(v));
}

static int spawn_testpmd(unsigned size)
{
	struct tp_argv a;
	int in[2];
	testpmd_argv(&a, size);
	int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log < 0 || pipe2(in, O_CLOEXEC) != 0) {
		fprintf(stderr, "testpmd: %s: %s\n", log < 0 ? log_path : "pipe", strerror(errno));
		if (log >= 0)
			close(log);
		return -1;
	}
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec (DPDK has threads). */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0); /* a terminal's ^C goes to the bench, which stops testpmd */
		/* Below the bench's mesh-ring drain on the shared CPU: its wake-ups must preempt
		 * testpmd's busy loop before the worker's TX ring fills (~2 ms at 64 bytes). */
		setpriority(PRIO_PROCESS, 0, TESTPMD_NICE);
		if (dup2(in[0], 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
			_exit(127);
		close_range(3, ~0u, 0); /* the EAL's sockets (memif server, mp) stay ours */
		execv(tp_exe, a.v);
		_exit(127);
	}
	close(in[0]);
	close(log);
	if (pid < 0) {
		close(in[1]);
		fprintf(stderr, "testpmd: fork: %s\n", strerror(errno));
		return -1;
	}
	tp_pid = pid;
	tp_stdin = in[1];
	return 0;
}

/* Waits up to seconds for testpmd to end; its status (exit code or -signal), or INT_MIN. */
static int reap_testpmd(double seconds)
{
	int st;
	for (double end = now_s() + seconds;;) {
		pid_t r = waitpid(tp_pid, &st, WNOHANG);
		if (r == tp_pid) {
			tp_pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
		}
		if (r < 0 || now_s() > end)
			return INT_MIN;
		sleep_ns(10 * 1000 * 1000);
	}
}

/*
 * Closing its stdin ends non-interactive testpmd ("Press enter to exit"): it stops forwarding,
 * prints its statistics and closes its port. It has segfaulted on exit when its memif peer was
 * gone, so any status is taken; one that hangs gets SIGINT, then SIGKILL.
 */
static int stop_testpmd(void)
{
	if (tp_stdin >= 0) {
		close(tp_stdin);
		tp_stdin = -1;
	}
	if (tp_pid <= 0)
		return INT_MIN;
	int st = reap_testpmd(STOP_TIMEOUT_S);
	if (st == INT_MIN && tp_pid > 0) {
		fprintf(stderr, "testpmd did not stop: SIGINT\n");
		kill(tp_pid, SIGINT);
		st = reap_testpmd(KILL_TIMEOUT_S);
	}
	if (st == INT_MIN && tp_pid > 0) {
		fprintf(stderr, "testpmd did not stop: SIGKILL\n");
		kill_testpmd();
		st = -SIGKILL;
	}
	return st;
}

/* The end of testpmd's output on stderr, to say why it failed. */
static void show_log_tail(void)
{
	char buf[TESTPMD_LOG_TAIL + 1];
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	lseek(fd, end > TESTPMD_LOG_TAIL ? end - TESTPMD_LOG_TAIL : 0, SEEK_SET);
	ssize_t n = read(fd, buf, TESTPMD_LOG_TAIL);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		fprintf(stderr, "---- end of testpmd's output (%s) ----\n%s\n----\n", log_path,
		        buf);
	}
}

/* testpmd's exit statistics: forward stats of port 0 and the forwarding core's cycles. */
static int parse_log(struct tp_point *tp)
{
	char line[512];
	uint64_t sent = 0, dropped = 0, total = 0, cycles = 0, mhz = 0;
	bool in_port = false, have_tx = false;
	FILE *f = fopen(log_path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *c;
		if (strstr(line, "Forward statistics for port"))
			in_port = true;
		else if (in_port && !have_tx && (c = strstr(line, "TX-packets:")) &&
		         sscanf(c,
		                "TX-packets: %" SCNu64 " TX-dropped: %" SCNu64
		                " TX-total: %" SCNu64,
		                &sent, &dropped, &total) == 3)
			have_tx = true;
		else if ((c = strstr(line, "total cycles=")) &&
		         sscanf(c, "total cycles=%" SCNu64, &cycles) == 1 &&
		         (c = strstr(c, ") at ")))
			sscanf(c, ") at %" SCNu64 " MHz", &mhz);
	}
	fclose(f);
	if (!have_tx)
		return -1;
	tp->offered = total;
	tp->refused = dropped;
	tp->sent = sent;
	if (cycles && mhz) {
		tp->forwarding_s = (double)cycles / ((double)mhz * 1e6);
		tp->from_cycles = true;
	}
	return 0;
}

static bool testpmd_gone(void)
{
	int st;
	if (tp_pid > 0 && waitpid(tp_pid, &st, WNOHANG) == tp_pid) {
		tp_pid = 0;
		fprintf(stderr, "testpmd exited early (%s %d)\n",
		        WIFEXITED(st) ? "status" : "signal",
		        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return true;
	}
	return tp_pid <= 0;
}

static bool link_up(void)
{
	struct rte_eth_link link;
	return rte_eth_link_get_nowait(memif_port, &link) == 0 &&
	       link.link_status == RTE_ETH_LINK_UP;
}

static unsigned drain_mesh(void)
{
	unsigned n = 0, got;
	while ((got = drain(output_ring(ENCRYPT))) > 0)
		n += got;
	return n;
}

/*
 * Link up, first packet through the worker, then warm-up and the windows. Returns 0, or -1
 * with the reason said.
 */
static int measure(struct snap *snaps, unsigned windows, double *started)
{
	double t0 = now_s();
	while (!link_up()) {
		if (testpmd_gone())
			return -1;
		if (now_s() - t0 > LINK_TIMEOUT_S) {
			fprintf(stderr, "memif link to testpmd not up after %.0f s\n",
			        LINK_TIMEOUT_S);
			return -1;
		}
		sleep_ns(1000 * 1000);
	}
	struct snap s;
	for (t0 = now_s();; sleep_ns(DRAIN_SLEEP_NS)) {
		drain_mesh();
		snapshot(&s, ENCRYPT);
		if (s.done > 0)
			break;
		if (testpmd_gone())
			return -1;
		if (now_s() - t0 > FIRST_PACKET_S) {
			fprintf(stderr, "memif link up but nothing encrypted after %.0f s\n",
			        FIRST_PACKET_S);
			return -1;
		}
	}
	double start = *started = now_s(),
	       warmup = opt.warmup > MIN_WARMUP_S ? opt.warmup : MIN_WARMUP_S;
	unsigned taken = 0, loops = 0;
	while (taken <= windows) {
		if (!drain_mesh())
			sleep_ns(DRAIN_SLEEP_NS);
		if (now_s() - start >= warmup + opt.seconds * taken / windows)
			snapshot(&snaps[taken++], ENCRYPT);
		if (++loops % 256 == 0 && testpmd_gone())
			return -1;
	}
	return 0;
}

static int run_size(unsigned size, struct tp_point *tp)
{
	static struct traffic t;
	struct snap snaps[MAX_WINDOWS + 1];
	unsigned windows = opt.quick ? 3 : 8;
	double started = 0;

	memset(&t, 0, sizeof(t));
	memset(tp, 0, sizeof(*tp));
	t.dir = ENCRYPT;
	t.n_peers = 1;
	t.size = size;
	restart_traffic(&t);
	if (worker_start() != 0)
		return -1;
	int rc = spawn_testpmd(size);
	if (rc == 0)
		rc = measure(snaps, windows, &started);
	double stopped = now_s();
	/* Worker first: memif unmaps its regions on the interrupt thread when the client goes,
	 * under the feet of a worker still polling the port. */
	if (worker_stop() != 0)
		rc = -1;
	tp->status = stop_testpmd();
	if (rc == 0 && parse_log(tp) != 0) {
		fprintf(stderr, "no forward statistics in testpmd's output\n");
		rc = -1;
	}
	if (rc != 0) {
		show_log_tail();
		return -1;
	}
	if (!tp->from_cycles) /* no cycle count: from the first frame to the stop */
		tp->forwarding_s = stopped - started;
	tp->offered_mpps = (double)tp->offered / tp->forwarding_s / 1e6;
	tp->accepted_mpps = (double)tp->sent / tp->forwarding_s / 1e6;
	if (tp->status != 0)
		fprintf(stderr,
		        "note: testpmd exited with %s %d (taken: its statistics were out)\n",
		        tp->status > 0 ? "status" : "signal",
		        tp->status > 0 ? tp->status : -tp->status);
	tp->w.dir = ENCRYPT;
	tp->w.peers = 1;
	tp->w.size = size;
	summarize_point(&tp->w, snaps, windows);
	tp->w.gen_mpps = tp->offered_mpps;
	/* The next testpmd may only connect once the server has dropped this one. */
	for (double t0 = now_s(); link_up() && now_s() - t0 < KILL_TIMEOUT_S;)
		sleep_ns(1000 * 1000);
	return 0;
}

/* ---- the part dataplane_bench.c calls ---- */

int testpmd_prepare(void)
{
	const char *dir = rte_eal_get_runtime_dir();
	if (!dir || !strstr(dir, "mgbench-") || strlen(dir) >= sizeof(run_dir)) {
		fprintf(stderr, "unexpected DPDK runtime directory %s\n", dir ? dir : "(none)");
		return -1;
	}
	snprintf(run_dir, sizeof(run_dir), "%s", dir);
	snprintf(tp_prefix, sizeof(tp_prefix), "%.40s-testpmd", strrchr(run_dir, '/') + 1);
	snprintf(tp_dir, sizeof(tp_dir), "%.*s/%s", (int)(strrchr(run_dir, '/') - run_dir), run_dir,
	         tp_prefix);
	snprintf(sock_path, sizeof(sock_path), "%s/memif.sock", run_dir);
	snprintf(log_path, sizeof(log_path), "%s/testpmd.log", run_dir);
	atexit(clean_up);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (find_testpmd() != 0) {
		fprintf(stderr,
		        "%s: not found or not executable (Debian: package dpdk-dev; or give "
		        "--testpmd PATH)\n",
		        opt.testpmd);
		return -1;
	}
	/* testpmd shares the generator's CPU (the main lcore's); the worker keeps its own. */
	rte_cpuset_t set = rte_lcore_cpuset(rte_get_main_lcore());
	for (gen_cpu = 0; gen_cpu < CPU_SETSIZE && !CPU_ISSET(gen_cpu, &set); gen_cpu++)
		;
	if (gen_cpu == CPU_SETSIZE)
		gen_cpu = 0;
	return 0;
}

/* The memif server port (needs the bench's mbuf pool: after set-up). */
static int make_memif_port(void)
{
	char devargs[PATH_MAX + 128];
	const uint8_t *mac = encrypt_frame(64); /* destination: the LAN port's */
	/* It answers to the LAN port's MAC, like the ring port it stands in for. */
	snprintf(devargs, sizeof(devargs),
	         MEMIF_NAME ",role=server,socket=%s,socket-abstract=no,mac=%02x:%02x:%02x:%02x:"
	                    "%02x:%02x",
	         sock_path, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	if (rte_dev_probe(devargs) != 0 ||
	    rte_eth_dev_get_port_by_name(MEMIF_NAME, &memif_port) != 0 ||
	    start_port(memif_port) != 0) {
		fprintf(stderr, "memif server port (%s): %s\n", devargs, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

int testpmd_points(void)
{
	if (make_memif_port() != 0)
		return -1;
	uint16_t ring_lan = set_lan_port(memif_port);
	int rc = 0;
	for (unsigned k = 0; k < TP_SIZES && rc == 0; k++) {
		unsigned s = tp_sizes[k], i;
		for (i = 0; i < N_SIZES && bench_sizes[i] != s; i++)
			;
		bool want = opt.sizes_given || !opt.quick ? opt.size_on[i] : s == 64 || s == 1420;
		if (!want)
			continue;
		rc = run_size(s, &tp_points[n_tp]);
		if (rc == 0)
			n_tp++;
	}
	set_lan_port(ring_lan);
	rte_eth_dev_stop(memif_port);
	rte_eth_dev_close(memif_port);
	if (rc == 0 && n_tp == 0) {
		fprintf(stderr, "testpmd: none of the sizes 64..1420 selected (no IMIX there)\n");
		rc = -1;
	}
	return rc;
}

/* ---- output ---- */

static const struct point *builtin_point(const struct point *pts, unsigned n, unsigned size)
{
	for (unsigned i = 0; i < n; i++)
		if (pts[i].dir == ENCRYPT && pts[i].peers == 1 && pts[i].size == size)
			return &pts[i];
	return NULL;
}

static void print_command(FILE *f, unsigned size)
{
	struct tp_argv a;
	testpmd_argv(&a, size);
	fprintf(f, "nice -n %d", TESTPMD_NICE);
	for (char **v = a.v; *v; v++)
		fprintf(f, " %s", *v);
}

void write_testpmd_json(FILE *f, const struct point *pts, unsigned n)
{
	if (!opt.gen_testpmd)
		return;
	fprintf(f, " \"testpmd_note\": \"stock dpdk-testpmd, txonly over memif (the bench is the "
	           "memif server of the LAN port): encrypt path, 1 peer, one destination address "
	           "only. testpmd cannot build WireGuard transport messages, so decrypt stays with "
	           "the built-in generator; its txonly destination is fixed and it has no packet "
	           "mix, so 10,000 peers and IMIX do too. mpps/ratio: the worker, as in points[]; "
	           "generator_mpps: testpmd's TX-total (sent + refused) per second of forwarding; "
	           "refused: frames the full memif ring refused (testpmd's TX-dropped)\",\n");
	fprintf(f, " \"testpmd_command\": \"");
	print_command(f, n_tp ? tp_points[0].w.size : 64);
	fprintf(f, "\",\n \"testpmd\": [");
	for (unsigned i = 0; i < n_tp; i++) {
		const struct tp_point *tp = &tp_points[i];
		const struct point *p = &tp->w, *b = builtin_point(pts, n, p->size);
		fprintf(
		    f,
		    "%s\n  {\"size\": %u, \"frame_bytes\": %u, \"mpps\": %.4f, \"median_mpps\": "
		    "%.4f, \"gbps\": %.3f, \"ceiling_mpps\": %.4f, \"ratio\": %.3f, "
		    "\"median_ratio\": %.3f, \"cpu_share\": %.3f, \"worker_idle\": %.4f, "
		    "\"wall_mpps\": %.4f, \"generator_mpps\": %.4f, \"accepted_mpps\": %.4f, "
		    "\"forwarding_s\": %.3f, \"offered\": %lu, \"refused\": %lu, "
		    "\"packets\": %lu, \"drops\": %lu, \"testpmd_exit\": %d, ",
		    i ? "," : "", p->size, p->size + 14, p->mpps, p->median_mpps, p->gbps,
		    p->ceiling_mpps, p->ratio, p->median_ratio, p->cpu_share, p->idle_frac,
		    p->wall_mpps, tp->offered_mpps, tp->accepted_mpps, tp->forwarding_s,
		    (unsigned long)tp->offered, (unsigned long)tp->refused,
		    (unsigned long)p->packets, (unsigned long)p->drops, tp->status);
		if (b)
			fprintf(f, "\"builtin_mpps\": %.4f, \"builtin_ratio\": %.3f}", b->mpps,
			        b->ratio);
		else
			fprintf(f, "\"builtin_mpps\": null, \"builtin_ratio\": null}");
	}
	fprintf(f, "\n ],\n");
}

void print_testpmd_table(const struct point *pts, unsigned n)
{
	if (!n_tp)
		return;
	printf("dpdk-testpmd txonly over memif (encrypt, 1 peer; builtin: the built-in generator's "
	       "point)\n");
	printf("%5s %8s %8s %9s %6s %6s %9s %9s %8s %6s %9s %7s\n", "size", "Mpps", "Gbit/s",
	       "ceil Mpps", "ratio", "median", "offer Mpps", "refused", "idle", "drops", "builtin",
	       "ratio");
	for (unsigned i = 0; i < n_tp; i++) {
		const struct tp_point *tp = &tp_points[i];
		const struct point *p = &tp->w, *b = builtin_point(pts, n, p->size);
		printf("%5u %8.3f %8.2f %9.3f %5.0f%% %5.0f%% %9.2f %9lu %7.1f%% %6lu", p->size,
		       p->mpps, p->gbps, p->ceiling_mpps, p->ratio * 100, p->median_ratio * 100,
		       tp->offered_mpps, (unsigned long)tp->refused, p->idle_frac * 100,
		       (unsigned long)p->drops);
		if (b)
			printf(" %9.3f %6.0f%%\n", b->mpps, b->ratio * 100);
		else
			printf(" %9s %7s\n", "-", "-");
	}
	printf("testpmd command (%u bytes): ", n_tp ? tp_points[0].w.size : 64);
	print_command(stdout, n_tp ? tp_points[0].w.size : 64);
	printf("\n");
}
