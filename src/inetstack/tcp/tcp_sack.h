/*
 * SACK (RFC 2018) on both sides of a connection.
 *
 * Sender: the scoreboard of RFC 6675 section 3: which bytes above SND.UNA
 * the peer has selectively acknowledged, and the RFC 6675 functions the
 * SACK-based loss recovery (tcp_rec_sack.c) needs (IsLost, SetPipe, NextSeg).
 * Pure sequence-number bookkeeping; it never touches buffers.
 *
 * Receiver: the out-of-order queue: segments that arrived above RCV.NXT,
 * kept sorted and without overlap, pulled once the hole before them fills,
 * and the SACK blocks to report (RFC 2018 section 4: the first block covers
 * the most recently received segment, then the most recently reported others).
 *
 * Both are bounded (no allocation on the datapath): a scoreboard full of
 * blocks forgets the highest ones (the peer repeats them), a full
 * out-of-order queue refuses a segment (the sender retransmits it).
 */
#ifndef DEMI_INETSTACK_TCP_SACK_H
#define DEMI_INETSTACK_TCP_SACK_H

#include <stdbool.h>
#include <stdint.h>

#include "../../net/netdev.h"
#include "tcp_opt.h"
#include "tcp_seq.h"

#define TCP_SB_MAX 32      /* disjoint SACKed ranges remembered by the sender */
#define TCP_DUPTHRESH 3    /* RFC 6675 section 2, DupThresh */
#define TCP_OOO_MAX 512    /* at most, out-of-order segments held by the receiver */
#define TCP_OOO_MIN 8      /* the out-of-order array's first size, at the first hole */

/* ---- sender: the scoreboard ---- */

struct tcp_scoreboard {
	uint32_t n;                               /* ranges held */
	struct tcp_sack_block blk[TCP_SB_MAX];    /* sorted, disjoint, not adjacent, all above snd_una */
	tcp_seq high_rxt;                         /* RFC 6675 HighRxt: highest sequence retransmitted in this recovery */
	tcp_seq rescue_rxt;                       /* RFC 6675 RescueRxt */
	uint32_t sacked_bytes;                    /* bytes covered by blk[] */
};

/* Forgets everything (a new connection, or after an RTO: RFC 6675 section 5.1 lets the sender keep or drop it; we drop). */
void tcp_sb_reset(struct tcp_scoreboard *sb, tcp_seq snd_una);

/*
 * Records the SACK blocks of an arriving ACK (n blocks, in the order
 * received). Blocks are validated against [snd_una, snd_max): a block
 * with start >= end, or reaching past snd_max, or wholly below snd_una is
 * ignored (RFC 2018 section 3 and RFC 6675 section 5: D-SACK and bogus
 * blocks do not count); parts below snd_una are trimmed. Returns the number
 * of bytes newly SACKed by this ACK (RFC 6675's definition of a duplicate
 * acknowledgment counts an ACK whose SACK information is new).
 */
uint32_t tcp_sb_update(struct tcp_scoreboard *sb, tcp_seq snd_una, tcp_seq snd_max,
		       const struct tcp_sack_block *b, uint32_t n);

/* SND.UNA advanced to snd_una: drops what is now cumulatively acknowledged (ranges, high_rxt below it). */
void tcp_sb_ack(struct tcp_scoreboard *sb, tcp_seq snd_una);

/* True when seq is inside a SACKed range. */
bool tcp_sb_is_sacked(const struct tcp_scoreboard *sb, tcp_seq seq);

/* The highest SACKed sequence + 1 (HighACK side of the scoreboard), or snd_una when nothing is SACKed. */
tcp_seq tcp_sb_high_sacked(const struct tcp_scoreboard *sb, tcp_seq snd_una);

/*
 * RFC 6675 section 4, IsLost(SeqNum): true when DupThresh discontiguous
 * SACKed ranges lie above seq, or more than (DupThresh - 1) * mss bytes above
 * it are SACKed.
 */
bool tcp_sb_is_lost(const struct tcp_scoreboard *sb, tcp_seq seq, uint32_t mss);

/*
 * RFC 6675 section 4, SetPipe(): the bytes the sender believes are in the
 * network, for every octet in [snd_una, snd_max) not SACKed: counted once
 * if not lost, once more if retransmitted (below high_rxt). Exactly the
 * RFC's per-octet definition, computed per hole between SACKed ranges (every
 * octet of a hole has the same ranges above it, so the same IsLost): O(n).
 */
uint32_t tcp_sb_pipe(const struct tcp_scoreboard *sb, tcp_seq snd_una, tcp_seq snd_max, uint32_t mss);

/*
 * RFC 6675 section 4, NextSeg() rules 1 and 3 (rule 2, new data, and rule
 * 4, the rescue retransmission, are the caller's, which knows what is
 * unsent): the first range of at most mss bytes at or above high_rxt
 * (and above snd_una) that is not SACKed and, for rule 1, IsLost; for rule
 * 3 (only when rule1_only is false) any unSACKed range below the highest
 * SACKed byte. Returns true with *seq and *len (ending before the next
 * SACKed range or snd_max), false when there is none.
 */
bool tcp_sb_next_seg(const struct tcp_scoreboard *sb, tcp_seq snd_una, tcp_seq snd_max, uint32_t mss,
		     bool rule1_only, tcp_seq *seq, uint32_t *len);

/* ---- receiver: the out-of-order queue ---- */

struct tcp_ooo_seg {
	tcp_seq seq;    /* sequence number of pkt.data[0] */
	struct pkt pkt; /* the payload only (headers stripped); a buffer reference */
};

struct tcp_ooo {
	uint32_t n;                           /* segments held, sorted by seq, disjoint */
	uint32_t bytes;                       /* payload bytes held */
	uint32_t cap;                         /* entries of seg: 0 (none yet) or a power of two up to TCP_OOO_MAX */
	struct tcp_ooo_seg *seg;              /* allocated at the first insert, doubled as needed, freed by purge */
	/* SACK blocks to report, most recent first (RFC 2018 section 4); recomputed on insert and pull. */
	uint32_t nrecent;
	struct tcp_sack_block recent[TCP_SACK_MAX_BLOCKS];
};

/* An empty queue without an array (the first insert allocates it). */
void tcp_ooo_init(struct tcp_ooo *o);

/*
 * Stores a segment that starts above rcv_nxt (seq > rcv_nxt; the caller
 * trimmed it to the receive window). Parts already held are trimmed off
 * (the segment may be split in two around a held one, needing a second
 * buffer reference: buf_ref). Consumes p: what is not stored is unreferenced
 * in pool. Returns the bytes newly stored (0: all duplicate, or the queue
 * is full, which the caller counts). The array grows first (doubling, up to
 * TCP_OOO_MAX) when the pieces might not fit. When the queue fills midway through a
 * split, the lowest pieces are kept and the rest dropped. p->buf is NULL
 * afterwards. O(n): one pass over the segments above seq.
 */
uint32_t tcp_ooo_insert(struct tcp_ooo *o, struct buf_pool *pool, tcp_seq seq, struct pkt *p);

/*
 * Takes the segment that continues the stream at *rcv_nxt, if held: trims
 * what lies below *rcv_nxt (dropping segments wholly below it), moves the
 * first one that covers *rcv_nxt into *out (reference passes to the caller)
 * and advances *rcv_nxt past it. Returns true when it filled *out; call it
 * again until it returns false. Each call shifts the remaining segments down
 * (a memmove of up to the n entries held).
 */
bool tcp_ooo_pull(struct tcp_ooo *o, struct buf_pool *pool, tcp_seq *rcv_nxt, struct pkt *out);

/*
 * The SACK blocks to send (at most max, RFC 2018 section 4 order: the
 * block holding the most recently received segment first), all above
 * rcv_nxt. Returns the count.
 */
uint32_t tcp_ooo_sack_blocks(const struct tcp_ooo *o, tcp_seq rcv_nxt, struct tcp_sack_block *out, uint32_t max);

/* Unreferences everything held (connection closed or reset) and frees the array. */
void tcp_ooo_purge(struct tcp_ooo *o, struct buf_pool *pool);

#endif
