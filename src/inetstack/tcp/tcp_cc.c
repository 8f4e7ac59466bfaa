/* Congestion control: lookup by name, the initial window, helpers shared by NewReno and CUBIC. */
#include "tcp_cc.h"

#include <string.h>

const struct tcp_cc_ops *tcp_cc_find(const char *name)
{
	if (!name)
		return NULL;
	if (!strcmp(name, "newreno") || !strcmp(name, "reno"))
		return &tcp_cc_newreno;
	if (!strcmp(name, "cubic"))
		return &tcp_cc_cubic;
	return NULL;
}

uint32_t tcp_cc_initial_window(uint32_t mss)
{
	/* 64-bit so that an absurd MSS cannot wrap 10 * MSS. */
	uint64_t iw = (uint64_t)mss * 2 > 14600 ? (uint64_t)mss * 2 : 14600;
	if (iw > (uint64_t)mss * 10)
		iw = (uint64_t)mss * 10;
	return iw > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)iw;
}

void tcp_cc_slow_start(struct tcp_cc *c, uint32_t acked)
{
	/* RFC 5681 section 3.1: at most SMSS per ACK, so that ACK division or a stretch ACK cannot burst. */
	uint64_t cwnd = (uint64_t)c->cwnd + (acked < c->mss ? acked : c->mss);
	c->cwnd = cwnd > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)cwnd;
}

uint32_t tcp_cc_rescale(uint32_t v, uint32_t old_mss, uint32_t new_mss, uint32_t min)
{
	uint64_t r = old_mss ? (uint64_t)v * new_mss / old_mss : v;
	if (r > TCP_CC_CWND_MAX)
		r = TCP_CC_CWND_MAX;
	return r < min ? min : (uint32_t)r;
}
