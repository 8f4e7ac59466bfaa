/*
 * A latency histogram in fixed memory: log-linear buckets (HdrHistogram's layout), exact below 256 ns, then
 * 128 buckets per power of two, so that any value is reported within 1/128 (0.8%) of itself, from 1 ns to
 * 2^64 ns, in 7,424 counters (58 KiB). Recording is a shift and an increment: no allocation, no search.
 */
#ifndef KVBENCH_HIST_H
#define KVBENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_SUB_BITS 7u                          /* 128 buckets per power of two */
#define HIST_LINEAR (2u << HIST_SUB_BITS)         /* values below 256 have a bucket each */
#define HIST_BUCKETS (HIST_LINEAR + (64u - HIST_SUB_BITS - 1u) * (1u << HIST_SUB_BITS))

struct hist {
	uint64_t count, max, sum;
	uint64_t n[HIST_BUCKETS];
};

static inline unsigned hist_index(uint64_t v)
{
	if (v < HIST_LINEAR)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
	unsigned sub = (unsigned)(v >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1u);
	return HIST_LINEAR + (e - HIST_SUB_BITS - 1u) * (1u << HIST_SUB_BITS) + sub;
}

/* The lowest value of bucket i, and the lowest of the next: a bucket holds [low, high). */
static inline uint64_t hist_low(unsigned i)
{
	if (i < HIST_LINEAR)
		return i;
	unsigned e = (i - HIST_LINEAR) / (1u << HIST_SUB_BITS) + HIST_SUB_BITS + 1u;
	uint64_t sub = (i - HIST_LINEAR) % (1u << HIST_SUB_BITS);
	return ((1ull << HIST_SUB_BITS) + sub) << (e - HIST_SUB_BITS);
}

static inline uint64_t hist_high(unsigned i)
{
	return i + 1 < HIST_BUCKETS ? hist_low(i + 1) : UINT64_MAX;
}

static inline void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->n[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static inline void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->n[i] += h->n[i];
	into->count += h->count;
	into->sum += h->sum;
	if (h->max > into->max)
		into->max = h->max;
}

/*
 * The value at quantile q (0 < q <= 1): the upper edge of the bucket that holds the ceil(q * count)-th
 * smallest value (never above the largest value seen), so a reported percentile is never below the truth
 * and at most 0.8% above it. 0 when empty.
 */
static inline uint64_t hist_quantile(const struct hist *h, double q)
{
	if (h->count == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen >= rank) {
			uint64_t v = i < HIST_LINEAR ? i : hist_high(i) - 1;
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

#endif /* KVBENCH_HIST_H */
