/* TCP (RFC 9293 and the RFCs doc/tcp.md lists) as the stack sees it: its state in struct inet and its entry points. */
#ifndef DEMI_INETSTACK_TCP_H
#define DEMI_INETSTACK_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "../../net/netdev.h"
#include "../../runtime/list.h"
#include "../../net/prot/ipv4.h"
#include "tcp_isn.h"

struct inet;
struct queue;
struct queue_ops;
struct demi_config;
struct tcb;
struct tcp_cc_ops;
struct tcp_rec_ops;

/* Stack-wide TCP state, one per struct inet. */
struct tcp {
	struct tcb **conn_hash;  /* TCP_CONN_HASH buckets: synchronized and SYN-RECEIVED connections by 4-tuple */
	struct tcb **port_hash;  /* TCP_PORT_HASH buckets: bound sockets and listeners by local port */
	struct list_node conns;  /* every tcb */
	uint32_t nconns;
	uint32_t nconns_peak;    /* most tcbs since the allocator was last trimmed (tcb_free) */
	uint32_t next_ephemeral;
	struct tcp_isn_secret secret;
	const struct tcp_cc_ops *cc;
	const struct tcp_rec_ops *rec; /* loss recovery of connections with SACK (tcp.recovery) */
	uint64_t challenge_window; /* clock_now() / 1 s of the current rate-limit window */
	uint32_t challenge_count;
	/* From the config, in clock_now() units where they are times. */
	uint64_t rto_min, rto_max, rto_initial, delack, time_wait, fin_timeout;
	uint64_t keep_idle, keep_intvl;
	uint32_t keep_probes, retries, syn_retries, syn_backlog;
	uint32_t rcvbuf, sndbuf;
	bool wscale_ok, ts_ok, sack_ok, syncookies, nodelay, keepalive;
	int linger_s;
};

/* Sets up the stack's TCP state from cfg. -errno (-EINVAL: unknown congestion control). */
int tcp_init(struct inet *in, const struct demi_config *cfg);
/* Closes every socket queue still open, through the runtime (pending ops cancelled; FINs go out). */
void tcp_close_all(struct inet *in);
/* Whether a connection still has data or a FIN the peer has not acknowledged (teardown polls until none). */
bool tcp_unfinished(struct inet *in);
/* Resets every connection left (RST to synchronized peers) and frees all TCP state. */
void tcp_fini(struct inet *in);
/* Handles a received segment (p at the TCP header, ih its IPv4 header); consumes p. */
void tcp_input(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih, bool trusted);
/* A new TCP socket queue. -ENOMEM. */
int tcp_socket(struct inet *in, struct queue **out, const struct queue_ops **ops);

#endif
