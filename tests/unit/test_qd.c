/* Unit tests for the queue-descriptor table: qds from QD_BASE, lowest-first reuse, limits, lookups. */
#include "runtime/queue.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#define CAP 16

static struct qd_table T;
static struct queue Q[CAP + 1];
static const struct queue_ops OPS = { .kind = "test" };

static void setup(void)
{
	cr_assert_eq(qd_table_init(&T, CAP), 0);
	memset(Q, 0, sizeof(Q));
}
static void teardown(void) { qd_table_fini(&T); }

TestSuite(qd, .init = setup, .fini = teardown);

/* The qd of slot i: the table hands out QD_BASE, QD_BASE + 1, ... */
#define D(i) (QD_BASE + (i))

static int install(int i)
{
	int err = qd_install(&T, &Q[i], &OPS);
	return err ? err : Q[i].qd;
}

Test(qd, install_counts_up_from_base)
{
	for (int i = 0; i < CAP; i++) {
		cr_assert_eq(install(i), D(i));
		cr_assert_eq(Q[i].ops, &OPS);
		cr_assert(list_empty(&Q[i].pending));
		cr_assert_eq(qd_get(&T, D(i)), &Q[i]);
		cr_assert_null(qd_get(&T, i), "slot numbers are not qds: they would collide with kernel descriptors");
	}
	cr_assert_eq(T.used, CAP);
}

Test(qd, base_is_apart_from_kernel_descriptors)
{
	/* Above any descriptor under the default fs.nr_open (2^20), and every qd of a full table fits in an int. */
	cr_assert_geq(QD_BASE, 1 << 20);
	cr_assert_eq((int64_t)QD_BASE + QD_MAX_COUNT - 1, INT32_MAX);
	struct qd_table big;
	cr_assert_eq(qd_table_init(&big, QD_MAX_COUNT + 1), -EINVAL);
}

Test(qd, full_table_is_emfile)
{
	for (int i = 0; i < CAP; i++)
		cr_assert_eq(install(i), D(i));
	Q[CAP].qd = -123;
	cr_assert_eq(qd_install(&T, &Q[CAP], &OPS), -EMFILE);
	cr_assert_eq(Q[CAP].qd, -123, "a failed install must not touch the queue");
	cr_assert_eq(T.used, CAP);
	qd_remove(&T, D(9));
	cr_assert_eq(install(CAP), D(9));
	cr_assert_eq(qd_install(&T, &Q[0], &OPS), -EMFILE);
}

Test(qd, reuse_is_lowest_first)
{
	for (int i = 0; i < 10; i++)
		cr_assert_eq(install(i), D(i));
	/* Freed in an order other than ascending: reuse must still take the lowest. */
	qd_remove(&T, D(2));
	qd_remove(&T, D(7));
	qd_remove(&T, D(5));
	qd_remove(&T, D(0));
	cr_assert_eq(T.used, 6);
	static const int expect[] = { D(0), D(2), D(5), D(7), D(10), D(11) };
	for (int i = 0; i < 6; i++) {
		int got = qd_install(&T, &Q[10], &OPS) ? -1 : Q[10].qd;
		cr_assert_eq(got, expect[i], "install %d got qd %d, expected %d", i, got, expect[i]);
	}
}

Test(qd, reuse_lowest_first_random)
{
	/* Against a reference bitmap: every install takes the lowest free descriptor. */
	bool used[CAP] = { false };
	srand(3);
	for (int step = 0; step < 5000; step++) {
		int qd = rand() % CAP;
		if (used[qd]) {
			qd_remove(&T, D(qd));
			used[qd] = false;
			cr_assert_null(qd_get(&T, D(qd)));
		} else {
			int lowest = 0;
			while (used[lowest])
				lowest++;
			cr_assert_eq(install(qd), D(lowest), "step %d", step);
			used[lowest] = true;
		}
	}
}

Test(qd, get_of_bad_descriptors)
{
	cr_assert_eq(install(0), D(0));
	cr_assert_eq(install(1), D(1));
	cr_assert_null(qd_get(&T, -1));
	cr_assert_null(qd_get(&T, INT_MIN));
	cr_assert_null(qd_get(&T, 0), "a slot number, not a qd");
	cr_assert_null(qd_get(&T, 1), "a slot number, not a qd");
	cr_assert_null(qd_get(&T, CAP));
	cr_assert_null(qd_get(&T, D(-1)), "just below the base");
	cr_assert_null(qd_get(&T, D(CAP)));
	cr_assert_null(qd_get(&T, INT_MAX));
	cr_assert_null(qd_get(&T, D(2)), "never installed");
	qd_remove(&T, D(1));
	cr_assert_null(qd_get(&T, D(1)), "removed");
	cr_assert_eq(qd_get(&T, D(0)), &Q[0]);
	/* Removing a bad or already-free descriptor is harmless and does not free a slot twice. */
	qd_remove(&T, D(1));
	qd_remove(&T, -5);
	qd_remove(&T, 0);
	qd_remove(&T, CAP + 3);
	qd_remove(&T, D(CAP + 3));
	cr_assert_eq(T.used, 1);
	for (int i = 1; i < CAP; i++)
		cr_assert_eq(install(i), D(i));
	cr_assert_eq(qd_install(&T, &Q[CAP], &OPS), -EMFILE);
}
