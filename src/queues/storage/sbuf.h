/* Storage buffers: aligned memory, registered with the engine's io_uring ring, lent to the runtime's buffers. */
#ifndef DEMI_QUEUES_STORAGE_SBUF_H
#define DEMI_QUEUES_STORAGE_SBUF_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/buf.h"
#include "../../runtime/list.h"

#define SBUF_ALIGN 4096u
#define SBUF_NCLASSES 14 /* 4 KiB to 32 MiB: an unaligned 16 MiB read needs a little more than 16 MiB */
#define SBUF_MAX_SIZE (4096u << (SBUF_NCLASSES - 1))

struct sbuf_pool;

/* One storage buffer's memory; its buf_owner is how buf_unref gives it back. */
struct sbuf {
	struct buf_owner owner;
	struct sbuf_pool *pool;
	uint8_t *data;
	uint32_t cap;
	int fixed; /* registered-buffer index of its chunk, -1 when not registered */
	uint8_t cls;
	struct sbuf *next_free;
};

struct sbuf_pool {
	struct buf_pool *bufs;   /* the runtime's pool: descriptors and tokens for the app */
	struct io_uring *ring;   /* registers new chunks; NULL once the engine stopped */
	struct sbuf *free[SBUF_NCLASSES];
	uint8_t *carve[SBUF_NCLASSES]; /* unused tail of the newest chunk of each class */
	size_t carve_left[SBUF_NCLASSES];
	int carve_fixed[SBUF_NCLASSES];
	struct buf_chunk *chunks;
	uint64_t bytes, max_bytes;
	uint32_t live;           /* sbufs held through a struct buf */
	unsigned nfixed, max_fixed; /* registered slots used, and how many the ring has (0: none) */
	bool dead;               /* the engine stopped: the pool frees itself when live reaches 0 */
};

/* A pool that registers up to max_fixed chunks with ring (0: none). -ENOMEM. */
int sbuf_pool_create(struct buf_pool *bufs, struct io_uring *ring, unsigned max_fixed, uint64_t max_bytes,
		     struct sbuf_pool **out);
/* A buffer of at least size bytes at a 4 KiB boundary, refcnt 1 (the caller's). NULL: -ENOMEM or too big. */
struct buf *sbuf_alloc(struct sbuf_pool *p, size_t size);
/* The storage buffer behind b, or NULL when b is not one. */
struct sbuf *sbuf_of(const struct buf *b);
/* The ring is going away: registers nothing more, frees the pool once every buffer came back. */
void sbuf_pool_stop(struct sbuf_pool *p);

#endif
