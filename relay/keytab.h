/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A hash table from 32-byte keys (WireGuard public keys, or padded IP addresses) to pointers.
 * Keys come from the network, and anyone can make as many public keys as they like, so the hash
 * is SipHash (libsodium crypto_shorthash) under a random per-table key: colliding keys cannot be
 * chosen offline.
 */
#ifndef MESHGATE_RELAY_KEYTAB_H
#define MESHGATE_RELAY_KEYTAB_H

#include <stddef.h>
#include <stdint.h>

struct keytab_entry {
	uint8_t key[32];
	void *val;
	struct keytab_entry *next;
};

struct keytab {
	struct keytab_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	uint8_t hkey[16];
};

int keytab_init(struct keytab *t);
void keytab_free(struct keytab *t);
void *keytab_get(const struct keytab *t, const uint8_t key[32]);
/* Sets key to val; returns the value replaced (NULL if none). *err set on allocation failure. */
void *keytab_put(struct keytab *t, const uint8_t key[32], void *val, int *err);
/* Removes key; returns its value or NULL. */
void *keytab_del(struct keytab *t, const uint8_t key[32]);
/* Calls fn for every entry; when fn returns non-zero the entry is removed. */
void keytab_sweep(struct keytab *t, int (*fn)(const uint8_t key[32], void *val, void *ctx),
                  void *ctx);

#endif
