/* The hash table with incremental rehashing (kv_dict.h). */
#include "kv_dict.h"

#include <stdlib.h>
#include <string.h>

#define DICT_MIN 4        /* buckets of a fresh table */
#define DICT_EMPTY_VISITS 10 /* empty buckets a rehash step may skip per bucket it should move */

static uint64_t hash_seed = 0x9e3779b97f4a7c15ull;

void kv_hash_seed(uint64_t seed) { hash_seed = seed | 1; }

static inline uint64_t rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A wyhash-style hash: 64x64->128 multiplies over 16 bytes a round; the seed is random per process so that
 * clients cannot choose colliding keys offline. */
uint64_t kv_hash(const void *key, size_t len)
{
	const uint64_t k1 = 0xa0761d6478bd642full, k2 = 0xe7037ed1a0b428dbull, k3 = 0x8ebc6af09c88c6e3ull;
	const unsigned char *p = key;
	uint64_t h = hash_seed ^ mix(len ^ k1, k2);
	size_t n = len;
	while (n >= 16) {
		h = mix(rd64(p) ^ k2, rd64(p + 8) ^ h);
		p += 16, n -= 16;
	}
	uint64_t a = 0, b = 0;
	if (n >= 8) {
		a = rd64(p);
		b = rd64(p + n - 8);
	} else if (n >= 4) {
		uint32_t x, y;
		memcpy(&x, p, 4), memcpy(&y, p + n - 4, 4);
		a = x, b = y;
	} else if (n > 0) {
		a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
	}
	return mix(mix(a ^ k2, b ^ h ^ k3), len ^ k1);
}

void kv_dict_init(struct kv_dict *d) { memset(d, 0, sizeof(*d)); }

static inline bool rehashing(const struct kv_dict *d) { return d->t[1] != NULL; }

static void start_resize(struct kv_dict *d, size_t want)
{
	size_t size = DICT_MIN;
	while (size < want)
		size <<= 1;
	if (d->t[0] != NULL && size == d->mask[0] + 1)
		return;
	struct kv_dent **t = calloc(size, sizeof(*t));
	if (t == NULL)
		return; /* keep the table as it is: longer chains, still correct */
	if (d->t[0] == NULL) {
		d->t[0] = t, d->mask[0] = size - 1;
		return;
	}
	d->t[1] = t, d->mask[1] = size - 1, d->used[1] = 0, d->rehash = 0;
}

bool kv_dict_rehash_step(struct kv_dict *d, size_t n)
{
	if (!rehashing(d))
		return false;
	size_t empty = n * DICT_EMPTY_VISITS;
	while (n-- > 0 && d->used[0] > 0) {
		while (d->t[0][d->rehash] == NULL) {
			d->rehash++;
			if (--empty == 0)
				return true;
		}
		struct kv_dent *e = d->t[0][d->rehash];
		while (e != NULL) {
			struct kv_dent *next = e->next;
			size_t i = e->hash & d->mask[1];
			e->next = d->t[1][i];
			d->t[1][i] = e;
			d->used[0]--, d->used[1]++;
			e = next;
		}
		d->t[0][d->rehash++] = NULL;
	}
	if (d->used[0] > 0)
		return true;
	free(d->t[0]);
	d->t[0] = d->t[1], d->mask[0] = d->mask[1], d->used[0] = d->used[1];
	d->t[1] = NULL, d->mask[1] = 0, d->used[1] = 0, d->rehash = 0;
	return false;
}

static struct kv_dent **find_link(struct kv_dict *d, const void *key, size_t len, uint64_t h, int *table)
{
	for (int t = 0; t < 2; t++) {
		if (d->t[t] == NULL)
			break;
		struct kv_dent **link = &d->t[t][h & d->mask[t]];
		for (; *link != NULL; link = &(*link)->next) {
			struct kv_dent *e = *link;
			if (e->hash == h && e->klen == len && memcmp(e->key, key, len) == 0) {
				*table = t;
				return link;
			}
		}
	}
	return NULL;
}

struct kv_dent *kv_dict_find(struct kv_dict *d, const void *key, size_t len)
{
	if (kv_dict_size(d) == 0)
		return NULL;
	if (rehashing(d))
		kv_dict_rehash_step(d, 1);
	int t;
	struct kv_dent **link = find_link(d, key, len, kv_hash(key, len), &t);
	return link != NULL ? *link : NULL;
}

struct kv_dent *kv_dict_add(struct kv_dict *d, const void *key, size_t len, bool *added)
{
	*added = false;
	if (rehashing(d))
		kv_dict_rehash_step(d, 1);
	uint64_t h = kv_hash(key, len);
	int t;
	struct kv_dent **link = find_link(d, key, len, h, &t);
	if (link != NULL)
		return *link;
	if (len > UINT32_MAX)
		return NULL;
	if (d->t[0] == NULL)
		start_resize(d, DICT_MIN);
	else if (!rehashing(d) && d->used[0] > d->mask[0])
		start_resize(d, (d->mask[0] + 1) * 2);
	if (d->t[0] == NULL)
		return NULL;
	struct kv_dent *e = malloc(sizeof(*e) + len + 1);
	if (e == NULL)
		return NULL;
	e->hash = h, e->v.ptr = NULL, e->klen = (uint32_t)len;
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	t = rehashing(d) ? 1 : 0;
	size_t i = h & d->mask[t];
	e->next = d->t[t][i];
	d->t[t][i] = e;
	d->used[t]++;
	*added = true;
	return e;
}

struct kv_dent *kv_dict_unlink(struct kv_dict *d, const void *key, size_t len)
{
	if (kv_dict_size(d) == 0)
		return NULL;
	if (rehashing(d))
		kv_dict_rehash_step(d, 1);
	int t;
	struct kv_dent **link = find_link(d, key, len, kv_hash(key, len), &t);
	if (link == NULL)
		return NULL;
	struct kv_dent *e = *link;
	*link = e->next;
	d->used[t]--;
	size_t n = kv_dict_size(d);
	if (!rehashing(d) && d->mask[0] + 1 > DICT_MIN && n * 8 < d->mask[0] + 1)
		start_resize(d, n * 2);
	return e;
}

struct kv_dent *kv_dict_random(struct kv_dict *d, uint64_t (*rnd)(void *), void *rctx)
{
	if (kv_dict_size(d) == 0)
		return NULL;
	if (rehashing(d))
		kv_dict_rehash_step(d, 1);
	struct kv_dent *e;
	do {
		if (rehashing(d)) {
			/* buckets of t[0] below rehash are empty: draw from the rest of t[0] and all of t[1] */
			size_t s0 = d->mask[0] + 1, span = s0 + d->mask[1] + 1 - d->rehash;
			size_t i = d->rehash + rnd(rctx) % span;
			e = i >= s0 ? d->t[1][i - s0] : d->t[0][i];
		} else {
			e = d->t[0][rnd(rctx) & d->mask[0]];
		}
	} while (e == NULL);
	size_t len = 0;
	for (struct kv_dent *x = e; x != NULL; x = x->next)
		len++;
	for (size_t k = rnd(rctx) % len; k > 0; k--)
		e = e->next;
	return e;
}

void kv_dict_clear(struct kv_dict *d, void (*free_val)(struct kv_dent *e))
{
	for (int t = 0; t < 2; t++) {
		if (d->t[t] == NULL)
			continue;
		for (size_t i = 0; i <= d->mask[t]; i++) {
			struct kv_dent *e = d->t[t][i];
			while (e != NULL) {
				struct kv_dent *next = e->next;
				if (free_val != NULL)
					free_val(e);
				free(e);
				e = next;
			}
		}
		free(d->t[t]);
	}
	kv_dict_init(d);
}

void kv_dict_iter_init(struct kv_dict_iter *it, struct kv_dict *d)
{
	it->d = d, it->table = 0, it->bucket = 0, it->e = NULL;
}

struct kv_dent *kv_dict_next(struct kv_dict_iter *it)
{
	if (it->e != NULL && it->e->next != NULL)
		return it->e = it->e->next;
	for (; it->table < 2; it->table++, it->bucket = 0) {
		struct kv_dict *d = it->d;
		if (d->t[it->table] == NULL)
			continue;
		while (it->bucket <= d->mask[it->table]) {
			struct kv_dent *e = d->t[it->table][it->bucket++];
			if (e != NULL)
				return it->e = e;
		}
	}
	return it->e = NULL;
}
