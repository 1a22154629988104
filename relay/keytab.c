// SPDX-License-Identifier: GPL-2.0-only
#include "keytab.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static size_t slot(const struct keytab *t, const uint8_t key[32])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, 32, t->hkey);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (t->nbuckets - 1);
}

int keytab_init(struct keytab *t)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = 64;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	randombytes_buf(t->hkey, sizeof(t->hkey));
	return t->buckets ? 0 : -1;
}

void keytab_free(struct keytab *t)
{
	for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
		struct keytab_entry *e = t->buckets[i], *n;
		for (; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static void grow(struct keytab *t)
{
	size_t nb = t->nbuckets * 2;
	struct keytab_entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct keytab_entry *e = t->buckets[i], *n;
		for (; e; e = n) {
			n = e->next;
			t->nbuckets = nb;
			size_t s = slot(t, e->key);
			t->nbuckets = nb / 2;
			e->next = b[s];
			b[s] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

void *keytab_get(const struct keytab *t, const uint8_t key[32])
{
	for (struct keytab_entry *e = t->buckets[slot(t, key)]; e; e = e->next)
		if (memcmp(e->key, key, 32) == 0)
			return e->val;
	return NULL;
}

void *keytab_put(struct keytab *t, const uint8_t key[32], void *val, int *err)
{
	size_t s = slot(t, key);
	struct keytab_entry *e;

	*err = 0;
	for (e = t->buckets[s]; e; e = e->next)
		if (memcmp(e->key, key, 32) == 0) {
			void *old = e->val;
			e->val = val;
			return old;
		}
	e = malloc(sizeof(*e));
	if (!e) {
		*err = -1;
		return NULL;
	}
	memcpy(e->key, key, 32);
	e->val = val;
	e->next = t->buckets[s];
	t->buckets[s] = e;
	if (++t->count > t->nbuckets)
		grow(t);
	return NULL;
}

void *keytab_del(struct keytab *t, const uint8_t key[32])
{
	struct keytab_entry **pp = &t->buckets[slot(t, key)], *e;

	for (; (e = *pp); pp = &e->next)
		if (memcmp(e->key, key, 32) == 0) {
			void *v = e->val;
			*pp = e->next;
			free(e);
			t->count--;
			return v;
		}
	return NULL;
}

void keytab_sweep(struct keytab *t, int (*fn)(const uint8_t key[32], void *val, void *ctx),
                  void *ctx)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct keytab_entry **pp = &t->buckets[i], *e;
		while ((e = *pp)) {
			if (fn(e->key, e->val, ctx)) {
				*pp = e->next;
				free(e);
				t->count--;
			} else {
				pp = &e->next;
			}
		}
	}
}
