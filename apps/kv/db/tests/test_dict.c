/* The hash table: binary keys, growth and shrink with incremental rehashing, random picks, iteration. */
#include "kvt.h"

static uint64_t rnd(void *ctx)
{
	uint64_t *s = ctx;
	*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
	return *s;
}

static size_t count_all(struct kv_dict *d)
{
	struct kv_dict_iter it;
	size_t n = 0;
	kv_dict_iter_init(&it, d);
	while (kv_dict_next(&it) != NULL)
		n++;
	return n;
}

Test(dict, grow_find_delete_shrink)
{
	struct kv_dict d;
	kv_dict_init(&d);
	char key[32];
	bool added;
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		key[0] = '\0'; /* binary: a NUL inside every key */
		struct kv_dent *e = kv_dict_add(&d, key, (size_t)n, &added);
		cr_assert(e != NULL && added);
		e->v.d = i;
		if (i % 1000 == 0)
			cr_assert_eq(count_all(&d), kv_dict_size(&d), "iteration sees every entry mid-rehash");
	}
	cr_expect_eq(kv_dict_size(&d), 100000);
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		key[0] = '\0';
		struct kv_dent *e = kv_dict_find(&d, key, (size_t)n);
		cr_assert(e != NULL && e->v.d == i, "%d", i);
		cr_assert(kv_dict_add(&d, key, (size_t)n, &added) == e && !added);
		key[0] = 'x';
		cr_assert_null(kv_dict_find(&d, key, (size_t)n));
	}
	for (int i = 0; i < 99990; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		key[0] = '\0';
		struct kv_dent *e = kv_dict_unlink(&d, key, (size_t)n);
		cr_assert(e != NULL && e->v.d == i);
		free(e);
		cr_assert_null(kv_dict_unlink(&d, key, (size_t)n));
	}
	while (kv_dict_rehash_step(&d, 1000))
		;
	cr_expect_leq(d.mask[0] + 1, 64, "the table shrank with its entries (%zu buckets)", d.mask[0] + 1);
	cr_expect_eq(count_all(&d), 10);
	uint64_t s = 88172645463325252ull;
	for (int i = 0; i < 1000; i++) {
		struct kv_dent *e = kv_dict_random(&d, rnd, &s);
		cr_assert(e != NULL && e->v.d >= 99990);
	}
	kv_dict_clear(&d, NULL);
	cr_expect_eq(kv_dict_size(&d), 0);
	cr_expect_null(kv_dict_random(&d, rnd, &s));
}

/* Random picks reach every entry, also while a rehash is in progress. */
Test(dict, random_covers)
{
	struct kv_dict d;
	kv_dict_init(&d);
	bool added, seen[100] = {false};
	for (int i = 0; i < 100; i++)
		kv_dict_add(&d, &i, sizeof(i), &added)->v.d = i;
	uint64_t s = 1234567;
	for (int i = 0; i < 10000; i++)
		seen[(int)kv_dict_random(&d, rnd, &s)->v.d] = true;
	for (int i = 0; i < 100; i++)
		cr_expect(seen[i], "entry %d never picked", i);
	kv_dict_clear(&d, NULL);
}
