// SPDX-License-Identifier: GPL-2.0-only
#include "config_case.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "keys.h"

static char dir[64], conf[96], key[96];
static const char *base_fmt;

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	chmod(path, mode);
}

void cfg_case_setup(const char *name, const char *base)
{
	char text[WG_KEY_B64_SIZE + 2];
	uint8_t priv[WG_KEY_LEN];
	snprintf(dir, sizeof(dir), "/tmp/mg-config-%s-XXXXXX", name);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(conf, sizeof(conf), "%s/conf.yaml", dir);
	snprintf(key, sizeof(key), "%s/private.key", dir);
	wg_key_generate_private(priv, NULL, NULL);
	wg_key_to_base64(text, priv);
	strcat(text, "\n");
	write_file(key, text, 0600);
	base_fmt = base;
}

void cfg_case_teardown(void)
{
	unlink(conf);
	unlink(key);
	rmdir(dir);
}

int cfg_case_load(const char *section, struct mg_config *cfg, char *err, size_t errlen)
{
	char head[1024], text[4096];
	snprintf(head, sizeof(head), base_fmt, key);
	snprintf(text, sizeof(text), "%s%s", head, section);
	write_file(conf, text, 0644);
	return mg_config_load(conf, cfg, err, errlen);
}

void cfg_case_expect_error(int src, const char *section, unsigned line, const char *path,
                           const char *want)
{
	struct mg_config cfg;
	char err[1024], prefix[256];
	CHECK(cfg_case_load(section, &cfg, err, sizeof(err)) == -1, "case at line %d loaded", src);
	snprintf(prefix, sizeof(prefix), "%s:%u: %s: ", conf, line, path);
	CHECK(strncmp(err, prefix, strlen(prefix)) == 0, "case at line %d: got '%s', expected '%s'",
	      src, err, prefix);
	CHECK(strstr(err, want) != NULL, "case at line %d: '%s' lacks '%s'", src, err, want);
}
