// SPDX-License-Identifier: GPL-2.0-only
/*
 * meshgate: the DPDK WireGuard gateway.
 *
 *   meshgate --config FILE         run until SIGINT or SIGTERM
 *   meshgate --check-config FILE   validate FILE and exit 0, or 1 with the error
 *   meshgate agent --config FILE   the mesh agent for a stock WireGuard host (agent.h)
 *   meshgate --version | --help
 *
 * While running, SIGUSR1 makes the log one level more verbose and SIGUSR2 one level quieter.
 *
 * Exit status: 0 after a clean stop or a valid file, 1 on a configuration or start-up error,
 * 2 on bad arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "port_guard.h"

#ifndef MG_VERSION
#define MG_VERSION "unknown"
#endif

/* The gateway the signal handler stops; an atomic store is async-signal-safe. */
static struct mg_gateway *volatile signal_target;

static void on_signal(int sig)
{
	(void)sig;
	struct mg_gateway *gw = signal_target;
	if (gw)
		atomic_store(&gw->stop, true);
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
	        "usage: %s --config FILE        run the gateway (stop with SIGINT or SIGTERM)\n"
	        "       %s --check-config FILE  validate FILE: exit 0, or 1 with the error\n"
	        "       %s agent --config FILE  run the mesh agent for a WireGuard host\n"
	        "       %s --version            print the version\n"
	        "       %s --help               print this help\n"
	        "signals: SIGUSR1 one log level more verbose, SIGUSR2 one level quieter\n",
	        prog, prog, prog, prog, prog);
}

static void print_warnings(const char *path, const struct mg_config *cfg)
{
	const char *w = cfg->warnings;
	while (*w) {
		const char *nl = strchr(w, '\n');
		size_t len = nl ? (size_t)(nl - w) : strlen(w);
		char line[sizeof(cfg->warnings)];
		if (len > 0) {
			snprintf(line, sizeof(line), "%.*s", (int)len, w);
			mg_log(MG_LOG_WARNING, "configuration warning", "file", path, "detail",
			       line, NULL);
		}
		w += len + (nl ? 1 : 0);
	}
}

static int check_config(const char *path)
{
	struct mg_config cfg;
	char err[1024];
	if (mg_config_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "meshgate: %s\n", err);
		return 1;
	}
	print_warnings(path, &cfg);
	char filter[48] = "";
	if (cfg.has_filter)
		snprintf(filter, sizeof(filter), ", filter of %zu rule%s", cfg.filter.n_rules,
		         cfg.filter.n_rules == 1 ? "" : "s");
	printf("%s: ok (%zu peer%s, %zu worker%s%s)\n", path, cfg.n_peers,
	       cfg.n_peers == 1 ? "" : "s", cfg.n_workers, cfg.n_workers == 1 ? "" : "s", filter);
	mg_config_free(&cfg);
	return 0;
}

static int install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
	    mg_log_install_signals() != 0)
		return -1;
	/* A UAPI client that hangs up mid-reply must not kill the gateway. */
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

static int run(const char *prog, const char *path)
{
	struct mg_config cfg;
	struct mg_port_guard guard = {.sysctl_dir = NULL};
	char err[1024];
	int rc = 1;

	if (mg_config_load(path, &cfg, err, sizeof(err)) != 0) {
		mg_log(MG_LOG_ERROR, "configuration refused", "error", err, NULL);
		return 1;
	}
	print_warnings(path, &cfg);
	struct mg_control *ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		mg_log(MG_LOG_ERROR, "out of memory", NULL);
		mg_config_free(&cfg);
		return 1;
	}
	signal_target = &ctl->gw;
	if (install_signals() != 0) {
		mg_log(MG_LOG_ERROR, "cannot install signal handlers", "error", strerror(errno),
		       NULL);
		mg_config_free(&cfg);
		goto out;
	}
	/* Before the ports open: the kernel must not route the first frames either. After the
	 * signal handlers: a SIGINT during start-up still ends at out, which restores. */
	const char *labels[MG_PORT_COUNT] = {"lan", "mesh"};
	const char *devargs[MG_PORT_COUNT] = {cfg.ports[MG_PORT_LAN].devargs,
	                                      cfg.ports[MG_PORT_MESH].devargs};
	if (mg_port_guard_apply(&guard, labels, devargs, MG_PORT_COUNT, err, sizeof(err)) != 0) {
		mg_log(MG_LOG_ERROR, "start-up failed", "error", err, NULL);
		mg_config_free(&cfg);
		goto out;
	}
	if (mg_control_up(ctl, &cfg, prog, err, sizeof(err)) != 0) {
		mg_log(MG_LOG_ERROR, "start-up failed", "error", err, NULL);
		goto out;
	}
	struct mg_log_line l;
	mg_log_begin(&l, MG_LOG_NOTICE, "gateway up");
	mg_log_str(&l, "ifname", ctl->cfg.ifname);
	mg_log_str(&l, "version", MG_VERSION);
	mg_log_u64(&l, "peers", ctl->gw.n_peers);
	mg_log_u64(&l, "workers", ctl->gw.n_workers);
	mg_log_u64(&l, "port", ctl->gw.listen_port);
	mg_log_bool(&l, "coordinated", ctl->coord != NULL);
	/* Single-queue ports: the control thread's packets go out through worker 0. */
	mg_log_str(&l, "control_tx",
	           ctl->gw.ports[MG_PORT_LAN].control_tx_ring ||
	                   ctl->gw.ports[MG_PORT_MESH].control_tx_ring
	               ? "via-worker"
	               : "own-queue");
	mg_log_end(&l);
	mg_control_run(ctl);
	mg_log(MG_LOG_NOTICE, "gateway stopping", "ifname", ctl->cfg.ifname, NULL);
	if (atomic_load(&ctl->gw.stop))
		mg_control_log_stats(ctl);
	rc = 0;
out:
	mg_control_down(ctl);
	mg_port_guard_restore(&guard);
	signal_target = NULL;
	free(ctl);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", required_argument, NULL, 'k'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *prog = argc > 0 && argv[0] ? argv[0] : "meshgate";
	const char *config = NULL, *check = NULL;
	int c, actions = 0;

	/* Before anything DPDK: the agent runs on hosts without it. */
	if (argc > 1 && strcmp(argv[1], "agent") == 0)
		return mg_agent_main(argc - 1, argv + 1);

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			actions++;
			break;
		case 'k':
			check = optarg;
			actions++;
			break;
		case 'V':
			printf("meshgate %s\n", MG_VERSION);
			return 0;
		case 'h':
			usage(stdout, prog);
			return 0;
		default:
			if (optopt)
				fprintf(stderr, "meshgate: option '%s' needs a file\n",
				        argv[optind - 1]);
			else
				fprintf(stderr, "meshgate: unknown option '%s'\n",
				        argv[optind - 1]);
			usage(stderr, prog);
			return 2;
		}
	}
	if (optind < argc || actions != 1) {
		if (optind < argc)
			fprintf(stderr, "meshgate: unexpected argument '%s'\n", argv[optind]);
		else
			fprintf(stderr,
			        "meshgate: give exactly one of --config or --check-config\n");
		usage(stderr, prog);
		return 2;
	}
	return check ? check_config(check) : run(prog, config);
}
