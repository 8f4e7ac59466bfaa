/* Conformance of the <demi/userdata.h> extension: demi_qtoken_set_ud and demi_wait_next_n_ud. */
#include "conformance.h"

#include <demi/userdata.h>

/* Three pushes on a memory queue, two with values: each result comes back with its token's value. */
LIBOS_TEST(userdata, returned_with_result, .timeout = 30)
{
	lp_init(p);
	int qd;
	EXPECT_OK(demi_queue(&qd));
	demi_sgarray_t s = sga_pattern(10, 1);
	demi_qtoken_t qts[3];
	for (int i = 0; i < 3; i++)
		EXPECT_OK(demi_push(&qts[i], qd, &s));
	EXPECT_OK(demi_qtoken_set_ud(qts[0], 0x1111));
	EXPECT_OK(demi_qtoken_set_ud(qts[2], 0xdeadbeefcafef00dull));
	EXPECT_OK(demi_qtoken_set_ud(qts[2], UINT64_MAX)); /* a second call replaces the value */
	demi_qresult_t qr[4];
	uint64_t ud[4] = { 7, 7, 7, 7 };
	int n = 0;
	struct timespec t = ms_ts(1000);
	EXPECT_OK(demi_wait_next_n_ud(qr, ud, 4, &n, &t));
	cr_assert_eq(n, 3);
	for (int i = 0; i < n; i++) {
		uint64_t want = qr[i].qr_qt == qts[0] ? 0x1111 : qr[i].qr_qt == qts[2] ? UINT64_MAX : 0;
		cr_assert_eq(ud[i], want, "result %d (token %#llx): ud %#llx, want %#llx", i,
			     (unsigned long long)qr[i].qr_qt, (unsigned long long)ud[i], (unsigned long long)want);
	}
	cr_assert_eq(ud[3], 7, "only n values are written");
	/* A pending pop's value too, and a reused slot starts at 0 again. */
	demi_qtoken_t pqt;
	EXPECT_OK(demi_pop(&pqt, qd));
	EXPECT_OK(demi_qtoken_set_ud(pqt, 42));
	EXPECT_OK(demi_wait_next_n_ud(qr, ud, 1, &n, &t));
	cr_assert_eq(n, 1);
	cr_assert_eq(qr[0].qr_qt, pqt);
	cr_assert_eq(ud[0], 42);
	demi_sgafree(&qr[0].qr_value.sga);
	EXPECT_OK(demi_pop(&pqt, qd));
	EXPECT_OK(demi_wait_next_n_ud(qr, ud, 1, &n, &t));
	cr_assert_eq(ud[0], 0, "a token without a value has 0");
	demi_sgafree(&qr[0].qr_value.sga);
	EXPECT_OK(demi_sgafree(&s));
}

LIBOS_TEST(userdata, bad_token_einval, .timeout = 30)
{
	lp_init(p);
	EXPECT_ERR(EINVAL, demi_qtoken_set_ud(0, 1));
	EXPECT_ERR(EINVAL, demi_qtoken_set_ud(0xffffffff00000001ull, 1));
	int qd;
	EXPECT_OK(demi_queue(&qd));
	demi_sgarray_t s = sga_pattern(10, 1);
	demi_qtoken_t qt;
	EXPECT_OK(demi_push(&qt, qd, &s));
	wait_op(qt, DEMI_OPC_PUSH, 1000);
	EXPECT_ERR(EINVAL, demi_qtoken_set_ud(qt, 1)); /* spent */
	EXPECT_OK(demi_sgafree(&s));
}

LIBOS_TEST(userdata, null_einval, .timeout = 30)
{
	lp_init(p);
	demi_qresult_t qr;
	uint64_t ud;
	int n;
	EXPECT_ERR(EINVAL, demi_wait_next_n_ud(&qr, VNULL(uint64_t *), 1, &n, NULL));
	EXPECT_ERR(EINVAL, demi_wait_next_n_ud(VNULL(demi_qresult_t *), &ud, 1, &n, NULL));
	EXPECT_ERR(EINVAL, demi_wait_next_n_ud(&qr, &ud, 1, VNULL(int *), NULL));
	EXPECT_ERR(EINVAL, demi_wait_next_n_ud(&qr, &ud, 0, &n, NULL));
	struct timespec bad = { .tv_sec = 0, .tv_nsec = -1 };
	EXPECT_ERR(EINVAL, demi_wait_next_n_ud(&qr, &ud, 1, &n, &bad));
}

/* Nothing completes: ETIMEDOUT, as demi_wait_next_n. */
LIBOS_TEST(userdata, timeout_etimedout, .timeout = 30)
{
	lp_init(p);
	demi_qresult_t qr;
	uint64_t ud;
	int n = -1;
	struct timespec t = ms_ts(10);
	EXPECT_ERR(ETIMEDOUT, demi_wait_next_n_ud(&qr, &ud, 1, &n, &t));
	cr_assert_eq(n, 0);
}
