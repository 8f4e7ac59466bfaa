/*
 * The lock-free single-producer single-consumer rings of a pipe: the message
 * ring of one direction, and the return ring that carries pool blocks back.
 * Each side keeps its cursors in private memory; only what the other side
 * must see is in the shared region. Nothing here trusts a shared value: a bad
 * one is -EPROTO, never an access outside the ring.
 */
#ifndef DEMI_QUEUES_CATMEM_PIPE_RING_H
#define DEMI_QUEUES_CATMEM_PIPE_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "pipe_shm.h"

/* Producer of a message ring. */
struct ring_tx {
	uint8_t *ring;          /* PIPE_RING_BYTES of records */
	_Atomic uint64_t *head; /* the consumer's release position */
	uint64_t key;
	uint64_t tail;      /* next position to write */
	uint64_t head_seen; /* last head loaded: there is room up to head_seen + PIPE_RING_BYTES */
};

/* Consumer of a message ring. Records are released as soon as they are consumed. */
struct ring_rx {
	const uint8_t *ring;
	_Atomic uint64_t *head;
	uint64_t key;
	uint64_t rd; /* next position to read */
};

/* A record as the consumer found it, checked. */
struct ring_msg {
	uint32_t type; /* PIPE_REC_INLINE or PIPE_REC_BLOCK */
	uint32_t len;
	uint32_t block, off;   /* BLOCK: where the payload is in the sender's pool */
	const uint8_t *data;   /* INLINE: the payload, inside the ring */
	uint64_t span;         /* bytes the record takes: consume() moves past them */
};

void ring_tx_init(struct ring_tx *t, uint8_t *ring, _Atomic uint64_t *head, uint64_t key);
void ring_rx_init(struct ring_rx *r, const uint8_t *ring, _Atomic uint64_t *head, uint64_t key);

/* Is there room now for a record of `payload` inline bytes? 0, -EAGAIN, -EPROTO (head out of range). */
int ring_tx_room(struct ring_tx *t, uint32_t payload);
/* Appends an inline record (len <= PIPE_INLINE_MAX). 0, -EAGAIN (no room yet), -EPROTO. */
int ring_put_inline(struct ring_tx *t, const void *src, uint32_t len);
/* Appends a record that names `len` bytes at `off` in block `block` of the sender's pool. As above. */
int ring_put_block(struct ring_tx *t, uint32_t block, uint32_t off, uint32_t len);

/*
 * The next record, skipping padding: 0 with *m filled (it stays in the ring
 * until ring_consume), -EAGAIN when there is none yet, -EPROTO when the
 * record at the read position is malformed.
 */
int ring_get(struct ring_rx *r, struct ring_msg *m);
/* Moves past the record that ring_get returned and hands its bytes back to the producer. */
void ring_consume(struct ring_rx *r, const struct ring_msg *m);
/* True when a record (or padding) is waiting: one load, for the sleep check. */
bool ring_ready(const struct ring_rx *r);

/* Receiver side of a pool's return ring: gives blocks back to the sender. */
struct ret_tx {
	_Atomic uint32_t *slot;
	_Atomic uint64_t *tail, *head;
	uint64_t tail_priv;
};

/* Sender side: takes returned blocks. */
struct ret_rx {
	_Atomic uint32_t *slot;
	_Atomic uint64_t *tail, *head;
	uint64_t head_priv;
};

void ret_tx_init(struct ret_tx *t, _Atomic uint32_t *slot, _Atomic uint64_t *tail, _Atomic uint64_t *head);
void ret_rx_init(struct ret_rx *r, _Atomic uint32_t *slot, _Atomic uint64_t *tail, _Atomic uint64_t *head);
/* Returns a block. 0, or -EPROTO: the ring is full, which only a corrupt index or a duplicate can cause. */
int ret_put(struct ret_tx *t, uint32_t block);
/* Takes one returned block into *block: 0, -EAGAIN (none), -EPROTO (tail out of range). Not checked against the pool. */
int ret_get(struct ret_rx *r, uint32_t *block);

#endif
