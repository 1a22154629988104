// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: the agent's YAML configuration (agent/agent.h mg_agent_config_load). Each input
 * is loaded from memory (mg_agent_config_load_buffer: the file loader's parser, no write per
 * input); each seed is also written to a file and loaded with mg_agent_config_load. The seeds are
 * conf/agent.yaml, with its key file path pointed at a real key file made at setup, and a minimal
 * file; each must load.
 *
 * Invariants per input:
 *  - the loader answers 0 or -1; on -1 the message is "FILE:LINE: ..." with a line inside the
 *    file, and the same file loaded with a small error buffer gives the same verdict and a
 *    correctly cut, terminated prefix of the same message;
 *  - on 0 every field is within what agent.h and conf/agent.yaml document: an interface name of
 *    1..15 allowed characters, a private key, a listen port, mtu 0 or 1280..9000, terminated
 *    paths, a coordinator section with a url, the shared coordinator section rules
 *    (fuzz_yaml.c), a known log level, warnings that name the file and a line;
 *  - mg_agent_config_free zeroes the private key, after success or not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "crypto.h"
#include "fuzz_driver.h"
#include "fuzz_yaml.h"
#include "keys.h"

static char config_path[300], key_path[300];
static unsigned long cur_lines;
static const uint8_t *cur_data;
static size_t cur_len;
static uint64_t loads_ok;

static void check_loaded(const struct mg_agent_config *cfg)
{
	uint8_t own_pub[WG_KEY_LEN];
	size_t n = strnlen(cfg->ifname, sizeof(cfg->ifname));

	FUZZ_CHECK(n >= 1 && n <= 15, "ifname length %zu", n);
	FUZZ_CHECK(strspn(cfg->ifname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                               "0123456789_-.=+") == n &&
	               strcmp(cfg->ifname, ".") != 0 && strcmp(cfg->ifname, "..") != 0,
	           "ifname '%s'", cfg->ifname);
	FUZZ_CHECK(fuzz_yaml_terminated(cfg->private_key_file, sizeof(cfg->private_key_file)) &&
	               fuzz_yaml_terminated(cfg->uapi_dir, sizeof(cfg->uapi_dir)) &&
	               fuzz_yaml_terminated(cfg->wireguard_go, sizeof(cfg->wireguard_go)) &&
	               fuzz_yaml_terminated(cfg->log_level, sizeof(cfg->log_level)),
	           "a string field is not terminated");
	FUZZ_CHECK(cfg->private_key_file[0] && !wg_key_is_zero(cfg->private_key),
	           "loaded without a private key");
	FUZZ_CHECK(wg_key_public(own_pub, cfg->private_key) == WG_OK, "public key");
	FUZZ_CHECK(cfg->listen_port >= 1, "listen port 0");
	FUZZ_CHECK(cfg->mtu == 0 || (cfg->mtu >= 1280 && cfg->mtu <= 9000), "mtu %u", cfg->mtu);
	FUZZ_CHECK(cfg->coord.url[0], "loaded without a coordinator url");
	fuzz_yaml_check_coord(&cfg->coord);
	FUZZ_CHECK(fuzz_yaml_log_level_ok(cfg->log_level), "log level %s", cfg->log_level);
	fuzz_yaml_check_warnings(cfg->warnings, sizeof(cfg->warnings), config_path, cur_lines);
	wg_memzero(own_pub, sizeof(own_pub));
}

/* Loads the file and checks the verdict; returns it. */
static int load_checked(char *err, size_t errlen)
{
	struct mg_agent_config cfg;
	int rc;

	memset(err, 'Z', errlen);
	rc = mg_agent_config_load_buffer(config_path, (const char *)cur_data, cur_len, &cfg, err,
	                                 errlen);
	FUZZ_CHECK(rc == 0 || rc == -1, "mg_agent_config_load_buffer returned %d", rc);
	FUZZ_CHECK(fuzz_yaml_terminated(err, errlen), "error message not terminated");
	if (rc == 0) {
		FUZZ_CHECK(err[0] == '\0', "success with a message: %s", err);
		check_loaded(&cfg);
	}
	mg_agent_config_free(&cfg);
	FUZZ_CHECK(wg_key_is_zero(cfg.private_key), "mg_agent_config_free kept the private key");
	return rc;
}

int fuzz_one(const uint8_t *data, size_t len)
{
	static const char *const sections[] = {"YAML syntax error", "(top level)", "interface",
	                                       "wireguard_go",      "uapi_dir",    "coordinator",
	                                       "log_level"};
	static char labels[sizeof(sections) / sizeof(sections[0]) + 1][48];
	char err[512];

	cur_lines = fuzz_yaml_count_lines(data, len);
	cur_data = data;
	cur_len = len;
	if (load_checked(err, sizeof(err)) == 0) {
		loads_ok++;
		fuzz_outcome("agent_config: loaded");
		return 0;
	}
	FUZZ_CHECK(fuzz_yaml_names_file_and_line(err, config_path, cur_lines),
	           "error does not name FILE:LINE: %s", err);
	fuzz_yaml_check_short_message(load_checked, err);
	fuzz_yaml_refusal_outcome(err, config_path, "agent_config", sections, labels,
	                          sizeof(sections) / sizeof(sections[0]));
	return 0;
}

/* Adds a seed and proves it loads. */
static void seed(const char *name, const char *text)
{
	uint64_t n = loads_ok;
	struct mg_agent_config cfg;
	char err[512];
	fuzz_seed_add(name, text, strlen(text));
	fuzz_one((const uint8_t *)text, strlen(text));
	FUZZ_CHECK(loads_ok == n + 1, "seed %s does not load", name);
	/* The file loader reads into the same parser: it must agree. */
	FUZZ_CHECK(fuzz_yaml_write_file(config_path, text, strlen(text)) == 0 &&
	               mg_agent_config_load(config_path, &cfg, err, sizeof(err)) == 0,
	           "seed %s does not load from a file: %s", name, err);
	mg_agent_config_free(&cfg);
}

int fuzz_init(void)
{
	static const char *const tokens[] = {
	    "interface:\n",     "  name: ",   "private_key_file: ",
	    "listen_port: ",    "mtu: ",      "persistent_keepalive: ",
	    "wireguard_go: ",   "uapi_dir: ", "mg0",
	    "0123456789abcdef", "..",         "=+"};
	uint64_t rng = 52;
	char path[1024], minimal[1024], *text, *example;

	if (wg_crypto_init() != WG_OK)
		return -1;
	snprintf(config_path, sizeof(config_path), "%s/agent.yaml", fuzz_scratch_dir());
	snprintf(key_path, sizeof(key_path), "%s/agent.key", fuzz_scratch_dir());
	if (fuzz_yaml_write_key(key_path, &rng) != 0)
		return -1;

	snprintf(minimal, sizeof(minimal),
	         "interface:\n  private_key_file: %s\ncoordinator:\n  url: http://127.0.0.1:8080\n"
	         "  authkey_file: /nonexistent\n",
	         key_path);
	seed("minimal.yaml", minimal);
	snprintf(path, sizeof(path), "%s/conf/agent.yaml", fuzz_source_root());
	text = fuzz_yaml_read_text(path);
	example = text ? fuzz_yaml_replace_all(text, "/etc/meshgate/agent.key", key_path) : NULL;
	if (example == NULL) {
		fprintf(stderr, "fuzz_agent_config: cannot read %s\n", path);
		free(text);
		return -1;
	}
	seed("agent.yaml", example);
	free(text);
	free(example);
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add_str(tokens[i]);
	fuzz_yaml_add_common_tokens();
	fuzz_set_max_len(8192);
	return 0;
}
