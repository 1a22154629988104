// SPDX-License-Identifier: GPL-2.0-only
/*
 * meshgate-coord: the coordination server, its admin CLI, and the local bootstrap
 * "apikey create" that writes the first API key straight into the store.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cli.h"
#include "coord.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "server_key.h"

static int bootstrap_apikey(const struct coord_config *cfg, const char *expiration,
                            const char *out_file)
{
	int64_t d = parse_duration(expiration ? expiration : "90d");
	if (d <= 0) {
		fprintf(stderr, "meshgate-coord: --expiration: expected a duration such as 90d\n");
		return 2;
	}
	char err[512];
	if (wg_crypto_init() != WG_OK || sodium_init() < 0) {
		fprintf(stderr, "meshgate-coord: crypto initialisation failed\n");
		return 1;
	}
	struct store *s = store_open(cfg->store_url, cfg->sqlite_sync_full, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "meshgate-coord: %s\n", err);
		return 1;
	}
	char tok[TOKEN_MAX_LEN], pfx[TOKEN_PREFIX_LEN + 1], hash[TOKEN_HASH_HEX_LEN + 1];
	token_new("api", tok, pfx, hash);
	int rc = 0;
	if (db_apikey_create(s, pfx, hash, now_unix() + d) != STORE_OK) {
		fprintf(stderr, "meshgate-coord: cannot store the key: %s\n", s->err);
		rc = 1;
	} else if (out_file != NULL) {
		char line[TOKEN_MAX_LEN + 2];
		snprintf(line, sizeof(line), "%s\n", tok);
		if (!secret_file_write(out_file, line, err, sizeof(err))) {
			fprintf(stderr,
			        "meshgate-coord: --out: %s (the key was stored; revoke it "
			        "with 'apikeys delete %s')\n",
			        err, pfx);
			rc = 1;
		} else {
			printf("wrote API key %s to %s\n", pfx, out_file);
		}
		wg_memzero(line, sizeof(line));
	} else {
		printf("%s\n", tok);
	}
	wg_memzero(tok, sizeof(tok));
	store_close(s);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: meshgate-coord --config FILE                  run the server\n"
	        "       meshgate-coord --config FILE apikey create [--expiration 90d] "
	        "[--out FILE]\n"
	        "                                                     first API key, local store\n"
	        "       meshgate-coord [OPTIONS] AREA COMMAND ...     admin CLI\n"
	        "options: --server URL (or MESHGATE_COORD_URL; default from --config listen)\n"
	        "         --api-key-file FILE (or MESHGATE_COORD_API_KEY, "
	        "MESHGATE_COORD_API_KEY_FILE)\n"
	        "         --json  --cacert FILE  --insecure\n");
	cli_usage();
}

static char *read_key_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char buf[TOKEN_MAX_LEN + 2] = "";
	char *line = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (line == NULL)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	char *k = strdup(buf);
	wg_memzero(buf, sizeof(buf));
	return k;
}

int main(int argc, char **argv)
{
	/* Everything this program creates holds secrets or their hashes: the store, its WAL and
	 * shared-memory files, the server key, API key files. */
	umask(077);
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"server", required_argument, NULL, 's'},
	    {"api-key-file", required_argument, NULL, 'k'},
	    {"cacert", required_argument, NULL, 'a'},
	    {"insecure", no_argument, NULL, 'i'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *key_file = NULL;
	struct cli_opts co = {0};
	int opt;
	/* '+': stop at the first non-option so subcommands keep their own flags. */
	while ((opt = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 's':
			co.server = optarg;
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'a':
			co.cacert = optarg;
			break;
		case 'i':
			co.insecure = true;
			break;
		case 'j':
			co.json = true;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	struct coord_config cfg;
	config_defaults(&cfg);
	char err[512];
	if (config != NULL && !config_load(&cfg, config, err, sizeof(err))) {
		fprintf(stderr, "meshgate-coord: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	int rc;
	if (optind >= argc) {
		if (config == NULL) {
			usage();
			config_free(&cfg);
			return 2;
		}
		static struct coord c;
		if (!coord_init(&c, &cfg, err, sizeof(err))) {
			fprintf(stderr, "meshgate-coord: %s\n", err);
			coord_shutdown(&c);
			return 1;
		}
		rc = coord_run(&c);
		coord_shutdown(&c);
		return rc;
	}
	if (strcmp(argv[optind], "apikey") == 0) {
		const char *exp = NULL, *out = NULL;
		if (optind + 1 >= argc || strcmp(argv[optind + 1], "create") != 0) {
			fprintf(stderr, "meshgate-coord: expected 'apikey create'\n");
			config_free(&cfg);
			return 2;
		}
		for (int i = optind + 2; i < argc; i++) {
			if (strcmp(argv[i], "--expiration") == 0 && i + 1 < argc)
				exp = argv[++i];
			else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
				out = argv[++i];
			else {
				fprintf(stderr, "meshgate-coord: apikey create: unknown '%s'\n",
				        argv[i]);
				config_free(&cfg);
				return 2;
			}
		}
		rc = bootstrap_apikey(&cfg, exp, out);
		config_free(&cfg);
		return rc;
	}
	char url[128];
	if (co.server == NULL)
		co.server = getenv("MESHGATE_COORD_URL");
	if (co.server == NULL) {
		bool v6 = strchr(cfg.listen_host, ':') != NULL;
		snprintf(url, sizeof(url), "%s://%s%s%s:%d", cfg.tls_cert ? "https" : "http",
		         v6 ? "[" : "", cfg.listen_host, v6 ? "]" : "", cfg.listen_port);
		co.server = url;
	}
	char *key = NULL;
	if (key_file == NULL)
		key_file = getenv("MESHGATE_COORD_API_KEY_FILE");
	if (key_file != NULL) {
		key = read_key_file(key_file);
		if (key == NULL) {
			fprintf(stderr, "meshgate-coord: cannot read the API key from %s\n",
			        key_file);
			config_free(&cfg);
			return 2;
		}
	} else if (getenv("MESHGATE_COORD_API_KEY") != NULL) {
		key = strdup(getenv("MESHGATE_COORD_API_KEY"));
	}
	co.api_key = key;
	rc = cli_main(&co, argc - optind, argv + optind);
	if (key != NULL) {
		wg_memzero(key, strlen(key));
		free(key);
	}
	config_free(&cfg);
	return rc;
}
