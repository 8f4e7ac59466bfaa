/*
 * Buffers: reference-counted, from per-size-class pools, with headroom so a
 * stack can prepend headers in place. The application sees a buffer through
 * an sga whose sga_buf is an opaque token (index and generation), so a stale,
 * forged or double-freed sga is detected, never dereferenced.
 */
#ifndef DEMI_RUNTIME_BUF_H
#define DEMI_RUNTIME_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <demi/types.h>

#define BUF_HEADROOM 128u   /* room for Ethernet + IPv4 + TCP headers with options */
#define BUF_NCLASSES 8
#define BUF_MAX_SIZE (16u << 20) /* largest demi_sgaalloc */

struct buf;

/*
 * Owner of memory that a buffer wraps instead of pool memory (a catmem pipe's
 * shared region): told when the buffer's last reference goes.
 */
struct buf_owner {
	void (*release)(struct buf_owner *o, struct buf *b);
};

struct buf {
	uint8_t *base;     /* headroom starts here; data at base + BUF_HEADROOM */
	uint32_t cap;      /* data bytes after the headroom */
	uint32_t refcnt;   /* every holder: the application's sgas, queues, pending pushes */
	uint32_t app_refs; /* references held by the application through sgas */
	uint32_t gen;      /* bumped when the buffer returns to its pool: stale tokens miss */
	uint32_t next_free;
	uint8_t cls;
	struct buf_owner *owner; /* NULL: pool memory; else wrapped memory (no headroom), see buf_wrap */
};

struct buf_class {
	uint32_t cap;       /* data capacity */
	uint32_t slot;      /* bytes per buffer, headroom included */
	uint32_t free_head; /* index + 1 of the first free buffer with memory, 0 if none */
	uint8_t *carve;     /* unused tail of the newest chunk */
	size_t carve_left;
};

struct buf_chunk {
	void *mem;
	size_t len;
	struct buf_chunk *next;
};

/*
 * Maps len bytes of anonymous memory, records it on *list and adds len to
 * *bytes, unless that would pass max: NULL (-ENOMEM). Shared by every pool
 * that carves buffers from chunks (this one, storage's aligned one).
 */
void *buf_chunk_map(struct buf_chunk **list, uint64_t *bytes, uint64_t max, size_t len);
/* Unmaps every chunk on *list. */
void buf_chunk_unmap_all(struct buf_chunk **list);

struct buf_pool {
	struct buf *descs;
	uint32_t ndescs, max_descs;
	struct buf_class classes[BUF_NCLASSES];
	struct buf_chunk *chunks;
	uint64_t bytes, max_bytes;
	uint32_t in_use; /* buffers with refcnt > 0 */
	uint32_t wrap_free; /* index + 1 of the first free wrapping descriptor, 0 if none */
	void (*on_map)(void *arg, void *mem, size_t len); /* see buf_pool_watch */
	void *on_map_arg;
};

int buf_pool_init(struct buf_pool *p, uint32_t max_buffers, uint64_t max_bytes);
/* Unmaps all memory; every token becomes invalid. */
void buf_pool_fini(struct buf_pool *p);
/*
 * Calls fn(arg, mem, len) for every chunk of buffer memory the pool has
 * mapped, now and whenever it maps another (len rounded up to whole pages),
 * so that a device can register the memory it transmits from (DPDK's
 * rte_extmem_register). The pool stays device-agnostic. fn NULL: stop.
 */
void buf_pool_watch(struct buf_pool *p, void (*fn)(void *arg, void *mem, size_t len), void *arg);

/* A buffer whose data holds at least `size` bytes, refcnt 1 (the caller's). NULL: -ENOMEM, or size 0 or > BUF_MAX_SIZE. */
struct buf *buf_alloc(struct buf_pool *p, size_t size);
/*
 * A buffer for `cap` bytes at `data` that the pool does not own (no
 * headroom), refcnt 1 (the caller's). When the last reference goes,
 * o->release(o, b) runs, then the descriptor is recycled; buf_pool_fini
 * releases the ones still held. NULL when no descriptor is left (-ENOMEM).
 */
struct buf *buf_wrap(struct buf_pool *p, struct buf_owner *o, void *data, uint32_t cap);
static inline void buf_ref(struct buf *b) { b->refcnt++; }
/* Drops one reference; the last returns the buffer to its pool. */
void buf_unref(struct buf_pool *p, struct buf *b);
static inline uint8_t *buf_data(const struct buf *b) { return b->base + BUF_HEADROOM; }

/* Opaque token for sga_buf; never NULL. */
void *buf_token(const struct buf_pool *p, const struct buf *b);
/* The live buffer a token names, or NULL (forged, stale, freed). */
struct buf *buf_lookup(const struct buf_pool *p, const void *token);

/*
 * Checks an sga from the application: one segment, a live token for which the
 * application still holds a reference, non-zero length, segment inside the
 * buffer (headroom included). Returns 0 with *out set, or -EINVAL.
 */
int buf_check_sga(const struct buf_pool *p, const demi_sgarray_t *sga, struct buf **out);

/*
 * Copies an sga field by field. A struct copy of this packed type loads it
 * in 16-byte pieces that straddle the fields' own stores; when the source
 * was written just before (a result the application is about to push, a
 * result waiting to be collected), every such load waits for those stores
 * to reach the cache (failed store forwarding): tens of cycles on a round
 * trip's critical path. Field-sized loads of field-sized stores forward.
 */
static inline void sga_copy(demi_sgarray_t *dst, const demi_sgarray_t *src)
{
	dst->sga_buf = src->sga_buf;
	dst->sga_numsegs = src->sga_numsegs;
	dst->sga_segs[0].sgaseg_buf = src->sga_segs[0].sgaseg_buf;
	dst->sga_segs[0].sgaseg_len = src->sga_segs[0].sgaseg_len;
	memcpy(&dst->sga_addr, &src->sga_addr, sizeof(dst->sga_addr));
}

/*
 * Hands one reference the caller holds on b to the application: *out becomes
 * an sga of `len` bytes at `data`, its sga_addr zeroed. Written in place,
 * field by field (see sga_copy).
 */
void buf_give_app(struct buf_pool *p, struct buf *b, void *data, uint32_t len, demi_sgarray_t *out);

/* demi_sgafree: drops the application's reference named by sga. 0 or -EINVAL. */
int buf_app_free(struct buf_pool *p, const demi_sgarray_t *sga);

#endif
