/* SPDX-License-Identifier: GPL-2.0-only */
/* The admin CLI: subcommands of meshgate-coord that drive the admin API over HTTP(S). */
#ifndef MESHGATE_COORD_CLI_H
#define MESHGATE_COORD_CLI_H

#include "config.h"

struct cli_opts {
	const char *server;  /* base URL */
	const char *api_key; /* token */
	const char *cacert;  /* CA file for https */
	bool insecure;       /* skip TLS verification (tests) */
	bool json;           /* print JSON instead of tables */
};

/* Runs "users|keys|nodes|routes|policy|apikeys ..." (argv[0] is the area); exit status. */
int cli_main(const struct cli_opts *o, int argc, char **argv);
void cli_usage(void);

#endif
