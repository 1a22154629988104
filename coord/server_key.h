/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The server's X25519 key lives in a file of its own (server_key_file, mode 0600), apart from the
 * data: anyone who can read the database must not be able to open registration proofs or forge
 * them. The store keeps only the public half, so replicas that share a store can tell whether
 * they hold the same key.
 */
#ifndef MESHGATE_COORD_SERVER_KEY_H
#define MESHGATE_COORD_SERVER_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * Loads the server key from path, creating it on the first start, or moving it there from a
 * store written by an older version (the key is on disk and synced before the store forgets
 * it). Also reads the challenge key, which stays in the store. False with err set.
 */
bool server_key_load(struct store *s, const char *path, uint8_t sk[32], uint8_t challenge_key[32],
                     char *err, size_t errlen);
/*
 * Writes text to a new file of mode 0600 (never over an existing one) and syncs it and its
 * directory. False with err set.
 */
bool secret_file_write(const char *path, const char *text, char *err, size_t errlen);

#endif
