/*
 * catmem's shared region: the bytes two processes map for one pipe. Anything
 * here may be written by the other process (or by anyone who can open the
 * memfd) at any moment, so a reader loads each field once, into a local, and
 * checks it before use; the sizes it trusts are its own compile-time ones.
 */
#ifndef DEMI_QUEUES_CATMEM_PIPE_SHM_H
#define DEMI_QUEUES_CATMEM_PIPE_SHM_H

#include <demi/pipe.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PIPE_MAGIC 0x3145504950494d45ull /* "EMIPIPE1" */
#define PIPE_VERSION 2u
#define PIPE_LINE 64u                /* cache line: the unit the two cores exchange */
#define PIPE_HDR_BYTES 4096u         /* control lines and return slots */
#define PIPE_RING_BYTES (256u << 10) /* message ring, per direction; a power of two */
#define PIPE_BLOCK_BYTES 65536u      /* one pool block carries one message up to DEMI_PIPE_MSG_MAX */
#define PIPE_NBLOCKS 32u             /* pool blocks per direction */
#define PIPE_INLINE_MAX 2048u        /* messages up to this size travel inside the ring */
#define PIPE_REC_HDR 16u
#define PIPE_RING_OFF(d) ((uint64_t)PIPE_HDR_BYTES + (uint64_t)(d) * PIPE_RING_BYTES)
#define PIPE_POOL_OFF(d) (PIPE_RING_OFF(2) + (uint64_t)(d) * PIPE_NBLOCKS * PIPE_BLOCK_BYTES)
#define PIPE_REGION_BYTES PIPE_POOL_OFF(2)

_Static_assert(PIPE_BLOCK_BYTES == DEMI_PIPE_MSG_MAX, "a block holds the largest message");
_Static_assert((PIPE_RING_BYTES & (PIPE_RING_BYTES - 1)) == 0, "ring size is a power of two");
_Static_assert(PIPE_INLINE_MAX + PIPE_REC_HDR <= PIPE_RING_BYTES / 2, "an inline record always fits an empty ring");

/* An end's state, in the low byte of its word. */
enum { PIPE_END_FREE = 0, PIPE_END_OPEN = 1, PIPE_END_CLOSED = 2 };
/* Flags, in the second byte: the end's thread may sleep on its bell, so the peer must ring it. */
#define PIPE_END_MAY_SLEEP 1u
/*
 * The end's process publishes without a fence before it looks at the peer's
 * `sleeping` (it registered for membarrier's global expedited barrier): a
 * peer going to sleep must issue MEMBARRIER_CMD_GLOBAL_EXPEDITED between
 * raising `sleeping` and its last look at the rings (doc/catmem.md).
 */
#define PIPE_END_ASYM 2u

static inline uint64_t pipe_end_word(uint32_t pid, uint32_t flags, uint32_t state)
{
	return (uint64_t)pid << 32 | (uint64_t)(flags & 0xff) << 8 | (state & 0xff);
}
static inline uint32_t pipe_word_state(uint64_t w) { return (uint32_t)(w & 0xff); }
static inline uint32_t pipe_word_flags(uint64_t w) { return (uint32_t)((w >> 8) & 0xff); }
static inline uint32_t pipe_word_pid(uint64_t w) { return (uint32_t)(w >> 32); }
/* Bits a valid word never sets. */
#define PIPE_WORD_RESERVED 0xffff0000ull

/*
 * One end's line. `word` (pid, flags, state) is written by the owner in one
 * atomic store, so the peer never sees a state without its pid; `sleeping`
 * by the owner around a sleep; `bell` by the peer when it wakes the owner.
 */
struct pipe_end_sh {
	_Alignas(PIPE_LINE) _Atomic uint64_t word;
	_Atomic uint32_t sleeping;
	_Atomic uint32_t bell; /* futex word */
};

/* An index alone on its line, so that the two cores never write the same line. */
struct pipe_idx_sh {
	_Alignas(PIPE_LINE) _Atomic uint64_t v;
};

/*
 * The header page. Direction d carries messages from end d to end 1 - d
 * (end 0 created the pipe, end 1 opened it): ring d holds its records, pool d
 * its large messages, and the return slots of d carry pool d's blocks back
 * from the receiver once its application freed them.
 */
/* Written by the creator before the pipe is published, then never again. */
struct pipe_imm {
	uint64_t magic;
	uint32_t version, hdr_bytes;
	uint64_t region_bytes;
	uint32_t ring_bytes, block_bytes, nblocks, inline_max;
	uint64_t key[2]; /* ring d stamps each record with its position ^ key[d] */
	char name[DEMI_PIPE_NAME_MAX + 1];
};

struct pipe_shared {
	struct pipe_imm imm;
	struct pipe_end_sh end[2];
	/*
	 * Ring d's release position, written by its consumer (end 1 - d). The
	 * producer's write position is not shared at all: each record carries
	 * its own stamp, so the consumer never reads a line the producer keeps
	 * writing, and the producer reads this one only when it runs out of room.
	 */
	struct pipe_idx_sh ring_head[2];
	struct pipe_idx_sh ret_tail[2]; /* returns of pool d: written by the receiver, end 1 - d */
	struct pipe_idx_sh ret_head[2]; /* returns of pool d: written by the sender, end d */
	_Atomic uint32_t ret_slot[2][PIPE_NBLOCKS];
};

_Static_assert(sizeof(struct pipe_shared) <= PIPE_HDR_BYTES, "the header fits its page");

/* Record types. */
enum { PIPE_REC_PAD = 1, PIPE_REC_INLINE = 2, PIPE_REC_BLOCK = 3 };

/*
 * A record in a ring, 64-byte aligned. `stamp` is stored last, with release:
 * a consumer that loads the stamp it expects (its read position ^ key) with
 * acquire sees the rest of the record. Stale bytes from an earlier lap cannot
 * pass for a record: a stale header carries another position, and payload
 * bytes would have to guess the pipe's 64-bit random key.
 */
struct pipe_rec {
	_Atomic uint64_t stamp;
	uint32_t len;  /* payload bytes */
	uint32_t info; /* type (bits 0-3); BLOCK: block index (bits 4-15) and offset in it (bits 16-31) */
};

static inline uint32_t pipe_rec_info(uint32_t type, uint32_t block, uint32_t off)
{
	return type | block << 4 | off << 16;
}

#endif
