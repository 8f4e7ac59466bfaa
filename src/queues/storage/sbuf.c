/* Storage buffers: 4 KiB-aligned size classes in mmap chunks, each chunk one registered io_uring buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/log.h"
#include "sbuf.h"

#define SBUF_CHUNK (4u << 20)

static void sbuf_release(struct buf_owner *o, struct buf *b);

int sbuf_pool_create(struct buf_pool *bufs, struct io_uring *ring, unsigned max_fixed, uint64_t max_bytes,
		     struct sbuf_pool **out)
{
	struct sbuf_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->bufs = bufs;
	p->ring = ring;
	p->max_fixed = max_fixed;
	p->max_bytes = max_bytes;
	*out = p;
	return 0;
}

static int class_of(size_t size)
{
	for (int i = 0; i < SBUF_NCLASSES; i++)
		if (size <= (size_t)SBUF_ALIGN << i)
			return i;
	return -1;
}

/*
 * Registers a chunk as one fixed buffer, so that READ_FIXED/WRITE_FIXED skip
 * pinning its pages on every I/O. Failure is not an error: the buffers then
 * go through plain READ/WRITE (RLIMIT_MEMLOCK is the usual reason).
 */
static int register_chunk(struct sbuf_pool *p, void *mem, size_t len)
{
	if (!p->ring || p->nfixed >= p->max_fixed)
		return -1;
	struct iovec iov = { .iov_base = mem, .iov_len = len };
	int err = io_uring_register_buffers_update_tag(p->ring, p->nfixed, &iov, NULL, 1);
	if (err < 0) {
		log_info("storage: cannot register a %zu-byte buffer chunk (%s): unregistered I/O", len, strerror(-err));
		p->max_fixed = 0; /* do not retry on every chunk */
		return -1;
	}
	return (int)p->nfixed++;
}

static int grow(struct sbuf_pool *p, int ci)
{
	size_t cls = (size_t)SBUF_ALIGN << ci;
	size_t len = cls > SBUF_CHUNK ? cls : SBUF_CHUNK;
	void *mem = buf_chunk_map(&p->chunks, &p->bytes, p->max_bytes, len);
	if (!mem)
		return -ENOMEM;
	p->carve[ci] = mem;
	p->carve_left[ci] = len;
	p->carve_fixed[ci] = register_chunk(p, mem, len);
	return 0;
}

static struct sbuf *take(struct sbuf_pool *p, int ci)
{
	struct sbuf *s = p->free[ci];
	if (s) {
		p->free[ci] = s->next_free;
		return s;
	}
	size_t cls = (size_t)SBUF_ALIGN << ci;
	if (p->carve_left[ci] < cls && grow(p, ci) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->owner.release = sbuf_release;
	s->pool = p;
	s->data = p->carve[ci];
	s->cap = (uint32_t)cls;
	s->fixed = p->carve_fixed[ci];
	s->cls = (uint8_t)ci;
	p->carve[ci] += cls;
	p->carve_left[ci] -= cls;
	return s;
}

struct buf *sbuf_alloc(struct sbuf_pool *p, size_t size)
{
	int ci = size ? class_of(size) : -1;
	if (ci < 0 || p->dead)
		return NULL;
	struct sbuf *s = take(p, ci);
	if (!s)
		return NULL;
	struct buf *b = buf_wrap(p->bufs, &s->owner, s->data, s->cap);
	if (!b) {
		s->next_free = p->free[ci];
		p->free[ci] = s;
		return NULL;
	}
	p->live++;
	return b;
}

struct sbuf *sbuf_of(const struct buf *b)
{
	if (!b->owner || b->owner->release != sbuf_release)
		return NULL;
	return container_of(b->owner, struct sbuf, owner);
}

static void pool_free(struct sbuf_pool *p)
{
	for (int i = 0; i < SBUF_NCLASSES; i++) {
		struct sbuf *s = p->free[i];
		while (s) {
			struct sbuf *next = s->next_free;
			free(s);
			s = next;
		}
	}
	buf_chunk_unmap_all(&p->chunks);
	free(p);
}

static void sbuf_release(struct buf_owner *o, struct buf *b)
{
	(void)b;
	struct sbuf *s = container_of(o, struct sbuf, owner);
	struct sbuf_pool *p = s->pool;
	s->next_free = p->free[s->cls];
	p->free[s->cls] = s;
	/* After the engine stopped, the application's last buffer takes the pool with it. */
	if (--p->live == 0 && p->dead)
		pool_free(p);
}

void sbuf_pool_stop(struct sbuf_pool *p)
{
	p->ring = NULL;
	p->dead = true;
	if (p->live == 0)
		pool_free(p);
}
