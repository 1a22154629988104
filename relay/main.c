// SPDX-License-Identifier: GPL-2.0-only
/* meshgate-relay: forwards WireGuard packets between nodes by public key, over TLS. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "log.h"
#include "relay.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: meshgate-relay -c CONFIG [--check]\n"
	           "  -c, --config FILE  the YAML config (see conf/relay.yaml)\n"
	           "      --check        load and check the config, then exit\n"
	           "      --version      print the version\n");
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct relay_server *s = arg;

	(void)what;
	mg_log(MG_LOG_NOTICE, "stopping", "signal", sig == SIGINT ? "INT" : "TERM", NULL);
	s->stopping = true;
	event_base_loopexit(s->base, NULL);
}

static void print_warnings(const char *w)
{
	while (w && *w) {
		const char *nl = strchr(w, '\n');
		size_t n = nl ? (size_t)(nl - w) : strlen(w);
		fprintf(stderr, "meshgate-relay: warning: %.*s\n", (int)n, w);
		w += n + (nl ? 1 : 0);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"check", no_argument, NULL, 'k'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	static struct relay_config cfg;
	static struct relay_server srv;
	const char *path = NULL;
	bool check = false;
	char err[1024];
	struct event_base *base;
	int o, ret = 1;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'V':
			printf("meshgate-relay %s\n", MG_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "meshgate-relay: libsodium failed to initialise\n");
		return 1;
	}
	if (relay_config_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "meshgate-relay: %s\n", err);
		return 1;
	}
	print_warnings(cfg.warnings);
	if (check) {
		printf("%s: OK\n", path);
		relay_config_free(&cfg);
		return 0;
	}
	mg_log_set_level((enum mg_log_level)mg_log_level_parse(cfg.log_level));
	mg_log_install_signals();
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "meshgate-relay: event_base_new failed\n");
		return 1;
	}
	if (relay_server_init(&srv, base, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "meshgate-relay: %s\n", err);
		goto out;
	}
	srv.sigs[0] = evsignal_new(base, SIGINT, stop_cb, &srv);
	srv.sigs[1] = evsignal_new(base, SIGTERM, stop_cb, &srv);
	for (int i = 0; i < 2; i++)
		if (srv.sigs[i])
			event_add(srv.sigs[i], NULL);
	{
		char la[MG_SOCKADDR_STRLEN], ma[MG_SOCKADDR_STRLEN] = "off";
		mg_sockaddr_format(&cfg.listen, la, sizeof(la));
		if (cfg.metrics.family)
			mg_sockaddr_format(&cfg.metrics, ma, sizeof(ma));
		mg_log(MG_LOG_NOTICE, "relay started", "name", cfg.name, "region", cfg.region,
		       "listen", la, "metrics", ma, "mesh_peers", cfg.mesh ? "yes" : "no", NULL);
	}
	ret = event_base_dispatch(base) < 0 ? 1 : 0;
out:
	for (int i = 0; i < 2; i++)
		if (srv.sigs[i])
			event_free(srv.sigs[i]);
	relay_server_free(&srv);
	event_base_free(base);
	relay_config_free(&cfg);
	return ret;
}
