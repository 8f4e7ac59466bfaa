/* PDPIX conformance: demi_sgaalloc and demi_sgafree. */
#include "conformance.h"

#include <stdint.h>

static void assert_null_sga(demi_sgarray_t sga, const char *what)
{
	cr_assert_null(sga.sga_buf, "%s: sga_buf must be NULL", what);
	cr_assert_eq(sga.sga_numsegs, 0, "%s: sga_numsegs must be 0", what);
}

LIBOS_TEST(sgaalloc, zero_gives_null, .timeout = 10)
{
	lp_init(p);
	assert_null_sga(demi_sgaalloc(0), "demi_sgaalloc(0)");
}

LIBOS_TEST(sgaalloc, too_large_gives_null, .timeout = 10)
{
	lp_init(p);
	assert_null_sga(demi_sgaalloc(SIZE_MAX), "demi_sgaalloc(SIZE_MAX)");
	/* Beyond what a segment length (u32) can describe. */
	assert_null_sga(demi_sgaalloc((size_t)UINT32_MAX + 1), "demi_sgaalloc(4 GiB)");
	assert_null_sga(demi_sgaalloc((size_t)1 << 40), "demi_sgaalloc(1 TiB)");
	/* The failures cost nothing: allocation still works. */
	demi_sgarray_t sga = demi_sgaalloc(64);
	cr_assert_not_null(sga.sga_buf);
	EXPECT_OK(demi_sgafree(&sga));
}

LIBOS_TEST(sgaalloc, sizes_and_usable_memory, .timeout = 10)
{
	lp_init(p);
	const size_t sizes[] = { 1, 63, 64, 255, 256, 257, 1500, 2048, 2049, 9000, 65536, 65537, 1u << 20 };
	demi_sgarray_t sgas[sizeof(sizes) / sizeof(sizes[0])];
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sgas[i] = sga_pattern(sizes[i], (unsigned)i); /* writes every byte */
		cr_assert_neq(sgas[i].sga_segs[0].sgaseg_buf, NULL);
		for (size_t j = 0; j < i; j++)
			cr_assert_neq(sgas[i].sga_buf, sgas[j].sga_buf, "two live sgas share a buffer token");
	}
	/* No allocation overlapped another: every pattern is intact. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const uint8_t *d = sgas[i].sga_segs[0].sgaseg_buf;
		for (size_t k = 0; k < sizes[i]; k++)
			if (d[k] != pattern_byte((unsigned)i, k))
				cr_assert_fail("sga %zu byte %zu overwritten", i, k);
		EXPECT_OK(demi_sgafree(&sgas[i]));
	}
}

LIBOS_TEST(sgafree, null_einval, .timeout = 10)
{
	lp_init(p);
	EXPECT_ERR(EINVAL, demi_sgafree(VNULL(demi_sgarray_t *)));
}

LIBOS_TEST(sgafree, malformed_einval, .timeout = 10)
{
	lp_init(p);
	demi_sgarray_t s;
	memset(&s, 0, sizeof(s));
	EXPECT_ERR(EINVAL, demi_sgafree(&s)); /* the NULL sga sgaalloc returns on failure */
	s = demi_sgaalloc(0);
	EXPECT_ERR(EINVAL, demi_sgafree(&s));
	s.sga_buf = (void *)0xdead0000beefull;
	s.sga_numsegs = 1;
	EXPECT_ERR(EINVAL, demi_sgafree(&s));
	s.sga_buf = (void *)(uintptr_t)1;
	EXPECT_ERR(EINVAL, demi_sgafree(&s));
	s.sga_buf = (void *)UINTPTR_MAX;
	EXPECT_ERR(EINVAL, demi_sgafree(&s));
	/* A real buffer's address is not its token. */
	demi_sgarray_t good = demi_sgaalloc(100);
	cr_assert_not_null(good.sga_buf);
	s = good;
	s.sga_buf = good.sga_segs[0].sgaseg_buf;
	if (s.sga_buf != good.sga_buf)
		EXPECT_ERR(EINVAL, demi_sgafree(&s));
	EXPECT_OK(demi_sgafree(&good));
}

LIBOS_TEST(sgafree, double_free_einval, .timeout = 10)
{
	lp_init(p);
	demi_sgarray_t a = sga_pattern(100, 1);
	demi_sgarray_t copy = a;
	EXPECT_OK(demi_sgafree(&a));
	EXPECT_ERR(EINVAL, demi_sgafree(&a));
	EXPECT_ERR(EINVAL, demi_sgafree(&copy));
}

/*
 * A stale sga whose buffer went to a new allocation must not free the new
 * one: the double free is detected, never performed.
 */
LIBOS_TEST(sgafree, stale_after_reuse_einval, .timeout = 10)
{
	lp_init(p);
	demi_sgarray_t old = sga_pattern(100, 1);
	EXPECT_OK(demi_sgafree(&old));
	demi_sgarray_t fresh[8];
	for (int i = 0; i < 8; i++)
		fresh[i] = sga_pattern(100, 2);
	EXPECT_ERR(EINVAL, demi_sgafree(&old));
	EXPECT_ERR(EINVAL, demi_sgafree(&old));
	for (int i = 0; i < 8; i++) {
		const uint8_t *d = fresh[i].sga_segs[0].sgaseg_buf;
		for (size_t k = 0; k < 100; k++)
			cr_assert_eq(d[k], pattern_byte(2, k));
		EXPECT_OK(demi_sgafree(&fresh[i]));
	}
}

/* After push + free, the app's sga is spent even though the stack still holds the buffer. */
LIBOS_TEST(sgafree, free_after_push_then_again_einval, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra;
	bound_socket(p, SOCK_DGRAM, &ra);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_sgarray_t sga = sga_pattern(500, 3);
	demi_qtoken_t qt;
	EXPECT_OK(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_OK(demi_sgafree(&sga));
	EXPECT_ERR(EINVAL, demi_sgafree(&sga));
	wait_op(qt, DEMI_OPC_PUSH, 2000);
	EXPECT_ERR(EINVAL, demi_sgafree(&sga));
}

/* Allocating and freeing many times does not exhaust the pools. */
LIBOS_TEST(sgafree, alloc_free_cycles, .timeout = 20)
{
	lp_init(p);
	for (int i = 0; i < 300000; i++) {
		demi_sgarray_t sga = demi_sgaalloc((size_t)(i % 9000) + 1);
		cr_assert_not_null(sga.sga_buf, "allocation %d failed", i);
		EXPECT_OK(demi_sgafree(&sga));
	}
	for (int i = 0; i < 64; i++) {
		demi_sgarray_t sga = demi_sgaalloc(4u << 20);
		cr_assert_not_null(sga.sga_buf, "4 MiB allocation %d failed", i);
		EXPECT_OK(demi_sgafree(&sga));
	}
}
