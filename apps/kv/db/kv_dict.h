/*
 * A chained hash table with binary-safe keys and incremental rehashing (as Redis's dict): a resize allocates the
 * new table and moves a few buckets per operation, so that no single command pays for the whole table. Entries
 * carry their key and never move, so a pointer to an entry (or to its key bytes) stays valid until it is
 * deleted. Used for the key space, sets, hashes and the member index of sorted sets.
 */
#ifndef KV_DICT_H
#define KV_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kv_dent {
	struct kv_dent *next;
	uint64_t hash;
	union {
		void *ptr;
		double d;
	} v;
	uint32_t klen;
	char key[]; /* klen bytes, then a NUL (so that keys print as C strings in a debugger) */
};

struct kv_dict {
	struct kv_dent **t[2];
	size_t mask[2]; /* size - 1; size is a power of two, 0 when the table is absent */
	size_t used[2];
	size_t rehash; /* next bucket of t[0] to move while t[1] exists */
};

uint64_t kv_hash(const void *key, size_t len);
void kv_hash_seed(uint64_t seed);

void kv_dict_init(struct kv_dict *d);
/* Frees every entry (calling free_val(entry) first when given) and the tables; d is empty and reusable. */
void kv_dict_clear(struct kv_dict *d, void (*free_val)(struct kv_dent *e));
static inline size_t kv_dict_size(const struct kv_dict *d) { return d->used[0] + d->used[1]; }

struct kv_dent *kv_dict_find(struct kv_dict *d, const void *key, size_t len);
/* Finds key or adds it (v zeroed); *added says which. NULL only when memory runs out. */
struct kv_dent *kv_dict_add(struct kv_dict *d, const void *key, size_t len, bool *added);
/* Unlinks key's entry and returns it (the caller frees it with free()), or NULL when absent. */
struct kv_dent *kv_dict_unlink(struct kv_dict *d, const void *key, size_t len);
/* A random entry (not uniform across chains of different lengths, as Redis's dictGetRandomKey), NULL if empty.
 * rnd is a source of random bits. */
struct kv_dent *kv_dict_random(struct kv_dict *d, uint64_t (*rnd)(void *), void *rctx);
/* Moves up to n buckets of an ongoing rehash; returns whether a rehash is still in progress. */
bool kv_dict_rehash_step(struct kv_dict *d, size_t n);

/* Iteration over every entry; the dict must not change meanwhile. */
struct kv_dict_iter {
	struct kv_dict *d;
	int table;
	size_t bucket;
	struct kv_dent *e;
};
void kv_dict_iter_init(struct kv_dict_iter *it, struct kv_dict *d);
struct kv_dent *kv_dict_next(struct kv_dict_iter *it);

#endif
