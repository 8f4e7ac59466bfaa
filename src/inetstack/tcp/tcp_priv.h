/*
 * TCP's private state: the connection (its transmission control block,
 * fields named after RFC 9293 section 3.3.1) and the functions the files of
 * src/inetstack/tcp share (the stack-wide state, struct tcp, is in tcp.h):
 *   tcp_stack.c   the stack-wide state: init, fini, draining at exit
 *   tcp_tcb.c     the control block's lifetime: creation, its rings, state changes, close, drop, free
 *   tcp_hash.c    the connection table (4-tuple lookup)
 *   tcp_port.c    the port table: bind, ephemeral ports, listener lookup
 *   tcp_wake.c    completing waiting pops, pushes and accepts
 *   tcp_in.c      segment arrival (RFC 9293 section 3.10.7) and ACK processing
 *   tcp_out.c     what to send and building a connection's segments, ACKs
 *   tcp_reply.c   segments without a connection: RSTs to closed ports, cookie SYN-ACKs
 *   tcp_sndq.c    the send queue (tcp_sndq.h), tcp_rcvq.c the receive queue (tcp_rcvq.h)
 *   tcp_rec*.c    loss recovery behind struct tcp_rec_ops (tcp_rec.h)
 *   tcp_timer.c   retransmission (RFC 6298), persist, delayed ACK, keepalive, 2MSL
 *   tcp_socket.c  the PDPIX queue operations
 *   tcp_listen.c  listeners: SYN queue, SYN cookies, the accept queue
 * A connection embeds its queue: the application's descriptor names it until
 * demi_close; the connection itself lives on until it reaches CLOSED.
 */
#ifndef DEMI_INETSTACK_TCP_PRIV_H
#define DEMI_INETSTACK_TCP_PRIV_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "../../runtime/list.h"
#include "../../runtime/queue.h"
#include "../../runtime/timer.h"
#include "../../net/netdev.h"
#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "../../net/prot/ipv4.h"
#include "../../net/prot/tcp.h"
#include "tcp.h"
#include "tcp_cc.h"
#include "tcp_isn.h"
#include "tcp_opt.h"
#include "tcp_rcvq.h"
#include "tcp_rec.h"
#include "tcp_sack.h"
#include "tcp_seq.h"
#include "tcp_sndq.h"

struct inet;
struct op;

enum tcp_state {
	TCPS_CLOSED,
	TCPS_LISTEN,
	TCPS_SYN_SENT,
	TCPS_SYN_RECEIVED,
	TCPS_ESTABLISHED,
	TCPS_CLOSE_WAIT,
	TCPS_FIN_WAIT_1,
	TCPS_CLOSING,
	TCPS_LAST_ACK,
	TCPS_FIN_WAIT_2,
	TCPS_TIME_WAIT,
};

/* States in which both ISNs are known (RFC 9293 section 3.10.7.4 "otherwise"). */
static inline bool tcps_synchronized(enum tcp_state s) { return s >= TCPS_ESTABLISHED; }
/* States in which we may still send data (no FIN queued). */
static inline bool tcps_can_send(enum tcp_state s) { return s == TCPS_ESTABLISHED || s == TCPS_CLOSE_WAIT; }
/* States in which the peer has not sent its FIN yet, so data may still arrive. */
static inline bool tcps_can_recv(enum tcp_state s)
{
	return s == TCPS_ESTABLISHED || s == TCPS_FIN_WAIT_1 || s == TCPS_FIN_WAIT_2 || s == TCPS_SYN_RECEIVED;
}

#define TCP_CONN_HASH 4096 /* connection buckets (power of two) */
#define TCP_PORT_HASH 256  /* bound-port buckets (power of two) */
#define TCP_EPHEMERAL_FIRST 49152 /* RFC 6335 section 6 */
#define TCP_EPHEMERAL_LAST 65535
#define TCP_MSL_TS_NS (24ull * 24 * 3600 * 1000000000ull) /* RFC 7323 section 5.5: PAWS idle limit, 24 days */
#define TCP_TRIM_PEAK 256 /* tcb_free trims the allocator after a peak of at least this many tcbs */
#define TCP_CHALLENGE_ACKS_PER_S 1000 /* RFC 5961 section 7: rate limit, per stack */

/* Flags of struct tcb.flags. */
enum {
	TF_ACKNOW = 1u << 0,     /* send an ACK at the next output */
	TF_DELACK = 1u << 1,     /* an ACK is being delayed */
	TF_NODELAY = 1u << 2,    /* TCP_NODELAY: Nagle off */
	TF_KEEPALIVE = 1u << 3,  /* SO_KEEPALIVE */
	TF_FIN_QUEUED = 1u << 4, /* the application closed: a FIN follows the queued data */
	TF_FIN_SENT = 1u << 5,   /* our FIN has been sent (snd_max counts it) */
	TF_RCVD_FIN = 1u << 6,   /* the peer's FIN has been received (in order) */
	TF_WSCALE = 1u << 7,     /* window scaling in use (both sides offered it) */
	TF_TS = 1u << 8,         /* timestamps in use */
	TF_SACK = 1u << 9,       /* SACK in use */
	TF_INRECOVERY = 1u << 10,/* in fast recovery (RFC 6675 / RFC 6582) */
	TF_ORPHAN = 1u << 11,    /* the application's descriptor is gone */
	TF_COOKIE = 1u << 12,    /* created from a SYN cookie */
	TF_ACCEPTQ = 1u << 13,   /* on its listener's accept queue */
	TF_PERSIST = 1u << 14,   /* the retransmission timer is running as the persist timer */
	TF_EOF_DELIVERED = 1u << 15, /* a pop returned the end of the stream */
	TF_HASHED = 1u << 16,    /* in the connection hash */
	TF_BOUND = 1u << 17,     /* in the port hash (bound by the application or at connect) */
	TF_NEEDOUT = 1u << 18,   /* run tcp_output at the end of this input burst */
	TF_FORCE = 1u << 19,     /* the persist timer overrides sender SWS avoidance */
	TF_SHUT_WR = 1u << 20,   /* demi_shutdown(SHUT_WR) or demi_close_flush: new pushes fail, the FIN follows the pushes made before */
	TF_SHUT_RD = 1u << 21,   /* demi_shutdown(SHUT_RD): pops end with EOF instead of waiting */
	TF_OOO_FIN = 1u << 22,   /* the peer's FIN arrived beyond a hole: taken once RCV.NXT reaches ooo_fin */
	TF_LOSS = 1u << 23,      /* after a timeout, the recovery algorithm resends from its scoreboard (RACK) */
	TF_SACKED = 1u << 24,    /* SACKed data is out: the recovery algorithm sends within cwnd - pipe (RACK, as Linux) */
};

/* The transmission control block (RFC 9293 section 3.3.1). */
struct tcb {
	struct queue q;          /* the application's queue (while not TF_ORPHAN) */
	struct inet *in;
	enum tcp_state state;
	uint32_t flags;          /* TF_* */
	int so_error;            /* why the connection failed (ECONNRESET, ETIMEDOUT, ...), 0 */

	/* Addresses and ports, network order. */
	uint32_t laddr, faddr;
	uint16_t lport, fport;
	struct tcb *hnext;       /* connection hash bucket */
	struct tcb *pnext;       /* port hash bucket */
	struct list_node link;   /* every connection of the stack (tcp.conns) */

	/* Send sequence variables (RFC 9293 section 3.3.1, figure 4). */
	tcp_seq iss;
	tcp_seq snd_una;
	tcp_seq snd_nxt;         /* next new or retransmitted sequence number to send */
	tcp_seq snd_max;         /* highest sequence number sent + 1 (BSD's snd_max; RFC 6675 HighData) */
	uint32_t snd_wnd;        /* the peer's window, bytes (scaled) */
	tcp_seq snd_wl1, snd_wl2;
	uint32_t max_sndwnd;     /* largest window the peer offered (RFC 9293 section 3.8.6.2.1) */
	uint8_t snd_wscale;      /* shift for the windows the peer sends us */
	uint8_t rcv_wscale;      /* shift for the windows we send */
	uint16_t mss;            /* payload bytes of a full-sized segment we send (Eff.snd.MSS minus options) */
	uint16_t peer_mss;       /* the peer's MSS option (TCP_DEFAULT_MSS when none) */
	uint16_t our_mss;        /* the MSS we advertise */

	/* Receive sequence variables. */
	tcp_seq irs;
	tcp_seq rcv_nxt;
	uint32_t rcv_wnd;        /* the window last advertised, bytes */
	tcp_seq rcv_adv;         /* rcv_nxt + rcv_wnd when last advertised: the right edge never moves left */
	uint32_t rcvbuf, sndbuf; /* SO_RCVBUF, SO_SNDBUF */

	/* Timestamps (RFC 7323). */
	uint32_t ts_recent;      /* TS.Recent */
	uint64_t ts_recent_age;  /* clock_now() when TS.Recent was set */
	tcp_seq last_ack_sent;   /* Last.ACK.sent (RFC 7323 section 4.3) */
	uint32_t ts_offset;      /* added to our clock, so TSvals say nothing of uptime */

	/* Retransmission (RFC 6298). */
	uint64_t srtt_ns, rttvar_ns, rto_ns;
	uint32_t rxtshift;       /* consecutive timeouts (backoff exponent) */
	tcp_seq rtt_seq;         /* segment being timed without timestamps (Karn) */
	uint64_t rtt_start;      /* 0: none being timed */
	uint32_t dupacks;
	tcp_seq recover;         /* RFC 6582 / RFC 6675 RecoveryPoint */
	struct tcp_scoreboard sb;
	struct tcp_cc cc;
	const struct tcp_rec_ops *rec; /* loss recovery: RACK-TLP, SACK-based or NewReno (tcp_rec.h), from TF_SACK */
	struct tcp_rack rack;    /* RACK-TLP and PRR (tcp_rec_rack.c) */
	tcp_seq ooo_fin;         /* where the peer's FIN beyond a hole lies (TF_OOO_FIN) */
	struct tcp_sack_block dsack; /* RFC 2883: the duplicate to report first in the next ACK (dsack_pending) */
	bool dsack_pending;
	uint64_t last_send;      /* clock_now() of the last data sent (idle restart) */
	uint64_t last_recv;      /* clock_now() of the last segment received (keepalive) */
	uint32_t keep_probes;    /* keepalive probes unanswered */
	uint32_t persist_probes; /* zero-window probes unanswered */

	/* Timers. */
	struct timer t_rexmt;    /* retransmission, SYN retry and persist */
	uint64_t rexmt_at;       /* when t_rexmt is due; 0: stopped (the heap entry may lag: see tcp_timer.c) */
	struct timer t_delack;
	uint64_t delack_at;
	struct timer t_keep;     /* keepalive, and the connection-establishment limit of SYN-RECEIVED */
	struct timer t_2msl;     /* TIME-WAIT and the FIN-WAIT-2 limit */

	/* The queues; their rings are allocated apart, only for connections (tcb_alloc_rings). */
	struct tcp_sndq sq;      /* pushed buffers from snd_una on (SYN and FIN are not in it), sent ranges */
	uint32_t wq_queued;      /* ops at the head of writers whose bytes are queued */
	struct tcp_rcvq rq;      /* in-order data not yet popped, out-of-order data */

	/* Waiting operations (op->wnode), oldest first. */
	struct list_node readers;   /* pops */
	struct list_node writers;   /* pushes not yet complete, oldest first (see tcp_wake_writers) */
	struct op *conn_op;         /* the pending connect */
	struct op *close_op;        /* demi_close_flush: its coroutine waits for our FIN's ACK */

	/* Listener (state LISTEN). */
	struct tcb *listener;       /* for a connection from a listener, until accepted */
	struct list_node lnode;     /* in the listener's synq or acceptq */
	struct list_node synq;      /* SYN-RECEIVED children */
	struct list_node acceptq;   /* established children not yet accepted */
	struct list_node acceptors; /* pending accepts */
	uint32_t nsynq, nacceptq, backlog;

	/* Socket options. */
	int reuseaddr;
	struct linger linger;
};

static inline struct tcb *tcb_of(struct queue *q) { return container_of(q, struct tcb, q); }

/* The window shift a receive buffer of buf bytes needs (RFC 7323 section 2.3): the least s with buf >> s <= 65535. */
static inline uint8_t tcp_wscale_for(uint32_t buf)
{
	uint8_t s = 0;
	while (s < TCP_MAX_WINSHIFT && (buf >> s) > 65535)
		s++;
	return s;
}

/* The receive window last advertised, from RCV.NXT to its right edge. */
static inline uint32_t tcp_adv_window(const struct tcb *tp)
{
	return SEQ_GT(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
}

/* Our timestamp clock (RFC 7323 section 5.4), milliseconds: at time now (clock_now() units), or at the current time. */
static inline uint32_t tcp_ts_at(const struct tcb *tp, uint64_t now)
{
	return (uint32_t)(now / NSEC_PER_MSEC) + tp->ts_offset;
}
static inline uint32_t tcp_ts_now(const struct tcb *tp) { return tcp_ts_at(tp, inet_now(tp->in)); }

/* The room to offer now (bytes, before scaling; tcp_out.c keeps the right edge from moving left). */
static inline uint32_t tcp_rcv_window(const struct tcb *tp)
{
	uint32_t win = tcp_rcvq_space(&tp->rq, tp->rcvbuf, tp->mss);
	uint32_t max = 65535u << tp->rcv_wscale;
	return win < max ? win : max;
}

/* ---- tcp_tcb.c ---- */

/* A new tcb in CLOSED with the stack's defaults, without rings. NULL: -ENOMEM. */
struct tcb *tcb_new(struct inet *in);
/* Gives tp its send and receive rings, once it is to carry data (connect, a listener's child at ESTABLISHED). 0 or -ENOMEM. */
int tcb_alloc_rings(struct tcb *tp);
/* Bytes of memory tp takes: the tcb and its rings as they are sized now. */
static inline uint32_t tcb_mem(const struct tcb *tp)
{
	return (uint32_t)sizeof(*tp) + tcp_sndq_mem(&tp->sq) + tcp_rcvq_mem(&tp->rq);
}
/* Bytes of memory every tcb of the stack takes (tcb_mem summed: what connections cost, for tests and stats). */
uint64_t tcp_mem(const struct inet *in);
/*
 * Frees a tcb that is in no table and has no queue: drops every buffer,
 * disarms every timer. When the stack holds a quarter of the tcbs it held
 * at its peak (of at least TCP_TRIM_PEAK), the allocator gives its free
 * pages back to the system (malloc_trim), so RSS falls after many closes.
 */
void tcb_free(struct tcb *tp);
/* Moves tp to state s (counting and timers that depend only on the state). */
void tcb_set_state(struct tcb *tp, enum tcp_state s);
/*
 * The connection is over (CLOSED): removes it from the tables, fails its
 * pending operations with err (0: the application's own close), and frees
 * it if the application no longer holds it (else it stays, CLOSED, for the
 * application to see so_error and close).
 */
void tcb_close(struct tcb *tp, int err);
/* Sends RST (if synchronized) and closes with err. */
void tcb_drop(struct tcb *tp, int err);
/* Sets the variables that follow the ISS (recover, the timed segment, the scoreboard) once tp->iss is chosen. */
void tcp_seq_init(struct tcb *tp);

/* ---- tcp_hash.c ---- */

uint32_t tcp_conn_bucket(uint32_t faddr, uint16_t lport, uint16_t fport);
struct tcb *tcp_conn_lookup(struct inet *in, uint32_t laddr, uint16_t lport, uint32_t faddr, uint16_t fport);
void tcp_conn_insert(struct inet *in, struct tcb *tp);
void tcp_conn_remove(struct inet *in, struct tcb *tp);

/* ---- tcp_port.c ---- */

/* The listener on lport (accepting laddr), or NULL. */
struct tcb *tcp_listener_lookup(struct inet *in, uint32_t laddr, uint16_t lport);
/* Binds tp to laddr:lport (lport 0: ephemeral). -EADDRINUSE, -EADDRNOTAVAIL. */
int tcp_bind(struct tcb *tp, uint32_t laddr, uint16_t lport);
void tcp_port_remove(struct inet *in, struct tcb *tp);

/* ---- tcp_wake.c ---- */

/* Wakes or completes the operations waiting on tp now that something changed. */
void tcp_wake_readers(struct tcb *tp);
void tcp_wake_writers(struct tcb *tp);
/* Fails every pending operation of tp (readers, writers, connect, accepts) with err. */
void tcp_fail_ops(struct tcb *tp, int err);
/* Completes a pop from the receive queue, or with the end of the stream or the error; false: nothing yet. */
bool tcp_pop_one(struct tcb *tp, struct op *op);
/* Drops the queued bytes of pushes that never completed and never left (their ops were cancelled). */
void tcp_writes_cancelled(struct tcb *tp);

/* ---- tcp_in.c ---- */

/* What a SYN's options and our config agree on (RFC 9293 section 3.7.1, RFC 7323, RFC 2018). */
struct tcp_syn_nego {
	uint32_t tf;          /* TF_WSCALE, TF_TS, TF_SACK: in use */
	uint16_t our_mss;     /* the MSS we advertise */
	uint16_t peer_mss;    /* the peer's (TCP_DEFAULT_MSS when none) */
	uint16_t mss;         /* Eff.snd.MSS less the timestamp option every segment carries */
	uint8_t snd_wscale;   /* the peer's shift */
	uint8_t rcv_wscale;   /* ours, for a receive buffer of the rcvbuf given */
};
/* Negotiates the options of a SYN (o) for a receive buffer of rcvbuf bytes; no connection needed. */
void tcp_syn_negotiate(const struct inet *in, const struct tcp_opts *o, uint32_t rcvbuf, struct tcp_syn_nego *n);

/* Handles a segment (p at the TCP header) for our address; consumes p. */
void tcp_input(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih, bool trusted);

/* ---- tcp_out.c ---- */

/*
 * Fills in the TCP header in front of p's payload (p->data at the header,
 * TCP_HDR_LEN + olen bytes of it, then the payload) and its checksum, or
 * the pseudo-header sum for a device that completes it. win: the window
 * field as sent (network order).
 */
static inline void tcp_hdr_fill(const struct inet *in, struct pkt *p, uint16_t sport, uint16_t dport, uint32_t faddr,
				tcp_seq seq, tcp_seq ack, uint8_t flags, uint16_t win, const uint8_t *opts, uint32_t olen)
{
	struct tcp_hdr *th = (struct tcp_hdr *)p->data;
	th->sport = sport;
	th->dport = dport;
	th->seq = htonl(seq);
	th->ack = (flags & TH_ACK) ? htonl(ack) : 0;
	th->off = tcp_off(TCP_HDR_LEN + olen);
	th->flags = flags;
	th->win = win;
	th->sum = 0;
	th->urp = 0;
	memcpy(th + 1, opts, olen);
	uint64_t pseudo = cksum_pseudo(in->addr, faddr, IPV4_PROTO_TCP, (uint16_t)p->len);
	if (((in->caps & NETDEV_TX_TCP_CSUM) || (p->flags & PKT_TX_TSO)) && faddr != in->addr)
		th->sum = cksum_fold(pseudo); /* the device completes it (see udp_out.c), per segment for TSO */
	else
		th->sum = cksum_finish(cksum_add(pseudo, p->data, p->len));
}

/* Sends whatever the state, windows and queues allow (SYN, data, FIN, an ACK that is due). 0 or -errno. */
int tcp_output(struct tcb *tp);
/* Sends one segment: flags, sequence number seq, len bytes of queued data from seq on (SYN/FIN counted by flags). */
int tcp_send_seg(struct tcb *tp, uint8_t flags, tcp_seq seq, uint32_t len);
/* An ACK now (pure, with current options), bypassing the delayed-ACK logic. */
void tcp_send_ack(struct tcb *tp);
/* A challenge ACK (RFC 5961), rate limited. */
void tcp_send_challenge_ack(struct tcb *tp);
/* A bare segment from tp's addresses with explicit numbers (RSTs, keepalive probes). */
int tcp_send_raw(struct tcb *tp, uint8_t flags, tcp_seq seq, tcp_seq ack, bool with_opts);
/* Bytes of queued data at or beyond snd_nxt not yet sent. */
uint32_t tcp_unsent(const struct tcb *tp);

/* ---- tcp_reply.c: segments sent without a connection, built from the segment they answer ---- */

/*
 * A RST answering a segment that has no connection or hit a bad state
 * (RFC 9293 section 3.10.7.1): seq/ack chosen from the offending segment.
 * Never in answer to a RST, a broadcast or a multicast.
 */
void tcp_respond_rst(struct inet *in, const struct ipv4_hdr *ih, const struct tcp_hdr *th, uint32_t seglen);
/*
 * A SYN cookie's SYN-ACK to the SYN ih/th (RFC 4987 section 3.6): ISN
 * cookie, the options n agreed (ts_val our timestamp, echoing the SYN's),
 * the window a receive buffer of rcvbuf bytes offers. 0 or -errno.
 */
int tcp_reply_synack(struct inet *in, const struct ipv4_hdr *ih, const struct tcp_hdr *th, tcp_seq cookie,
		     const struct tcp_syn_nego *n, uint32_t ts_val, uint32_t ts_ecr, uint32_t rcvbuf);

/* ---- tcp_timer.c ---- */

/* Arms the retransmission timer with the current RTO (backed off) if data or SYN/FIN is outstanding. */
void tcp_timer_rexmt_arm(struct tcb *tp);
/* The same, counting from now (the time a segment just left). */
void tcp_timer_rexmt_arm_at(struct tcb *tp, uint64_t now);
void tcp_timer_rexmt_stop(struct tcb *tp);
static inline bool tcp_timer_rexmt_running(const struct tcb *tp) { return tp->rexmt_at != 0; }
/* Starts the persist timer (zero window with data waiting). */
void tcp_timer_persist_arm(struct tcb *tp);
void tcp_timer_delack_arm(struct tcb *tp);
void tcp_timer_keep_arm(struct tcb *tp);
void tcp_timer_2msl_arm(struct tcb *tp, uint64_t ns);
void tcp_timers_stop(struct tcb *tp);
/* Folds an RTT sample (ns) into srtt/rttvar/rto (RFC 6298 section 2). */
void tcp_rtt_sample(struct tcb *tp, uint64_t rtt_ns);
/* The current RTO with backoff, clamped to [rto_min, rto_max]. */
uint64_t tcp_rto(const struct tcb *tp);

/* ---- tcp_listen.c ---- */

/* A SYN for a listener (no connection matched): SYN queue, cookie, or drop. Consumes nothing. */
void tcp_listen_syn(struct tcb *lp, const struct ipv4_hdr *ih, const struct tcp_hdr *th, const struct tcp_opts *o);
/* An ACK for a listener with no connection: maybe a SYN cookie's. True when it made a connection (then *out;
 * NULL when the accept it was handed to had no descriptor left and reset it). */
bool tcp_listen_cookie_ack(struct tcb *lp, const struct ipv4_hdr *ih, const struct tcp_hdr *th,
			   const struct tcp_opts *o, struct tcb **out);
/* A child reached ESTABLISHED: moves from the SYN queue to the accept queue, completing a pending accept. */
/* tp (a listener's child) is established: handed to a waiting accept or queued. False when the accept found no
 * descriptor left: tp was then reset and may be freed, and the caller must not touch it again. */
bool tcp_listen_established(struct tcb *tp);
/* Completes an accept from the accept queue; false when it is empty. */
bool tcp_listen_take(struct tcb *lp, struct op *op);
/* A child is gone before being accepted: unlinks it from its listener. */
void tcp_listen_unlink(struct tcb *tp);
/* Closes a listener: resets and frees every child not accepted. */
void tcp_listen_close(struct tcb *lp);

/* ---- tcp_socket.c ---- */

extern const struct queue_ops tcp_queue_ops;
/* Applies the negotiated options of a SYN (ours sent in tp, theirs in o) to tp: MSS, scaling, timestamps, SACK. */
void tcp_apply_syn_opts(struct tcb *tp, const struct tcp_opts *o);

#endif
