/* Buffer pools: size classes carved from mmap chunks, O(1) alloc and free from per-class free lists. */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../os/os.h"

#define CHUNK_BYTES (2u << 20)

static const uint32_t class_caps[BUF_NCLASSES] = {
	256, 2048, 16384, 65536, 262144, 1u << 20, 4u << 20, BUF_MAX_SIZE,
};

int buf_pool_init(struct buf_pool *p, uint32_t max_buffers, uint64_t max_bytes)
{
	memset(p, 0, sizeof(*p));
	/* Descriptors live apart from data so that an overrun of data cannot corrupt them. */
	p->descs = calloc(max_buffers, sizeof(*p->descs));
	if (!p->descs)
		return -ENOMEM;
	p->max_descs = max_buffers;
	p->max_bytes = max_bytes;
	for (int i = 0; i < BUF_NCLASSES; i++) {
		p->classes[i].cap = class_caps[i];
		/* 64-byte slots keep every buffer on its own cache lines. */
		p->classes[i].slot = (class_caps[i] + BUF_HEADROOM + 63u) & ~63u;
	}
	return 0;
}

void buf_pool_fini(struct buf_pool *p)
{
	/* Wrapped memory has an owner waiting for its buffers back (to unmap it). */
	for (uint32_t i = 0; p->descs && i < p->ndescs; i++) {
		struct buf *b = &p->descs[i];
		if (b->owner && b->refcnt) {
			b->refcnt = 0;
			b->owner->release(b->owner, b);
		}
	}
	buf_chunk_unmap_all(&p->chunks);
	free(p->descs);
	memset(p, 0, sizeof(*p));
}

static int class_of(size_t size)
{
	for (int i = 0; i < BUF_NCLASSES; i++)
		if (size <= class_caps[i])
			return i;
	return -1;
}

void *buf_chunk_map(struct buf_chunk **list, uint64_t *bytes, uint64_t max, size_t len)
{
	if (*bytes + len > max)
		return NULL;
	struct buf_chunk *ch = malloc(sizeof(*ch));
	if (!ch)
		return NULL;
	void *mem = os_mem_map(len);
	if (!mem) {
		free(ch);
		return NULL;
	}
	*ch = (struct buf_chunk){ .mem = mem, .len = len, .next = *list };
	*list = ch;
	*bytes += len;
	return mem;
}

void buf_chunk_unmap_all(struct buf_chunk **list)
{
	while (*list) {
		struct buf_chunk *c = *list;
		*list = c->next;
		os_mem_unmap(c->mem, c->len);
		free(c);
	}
}

/* os_mem_map maps whole pages: a watcher registers all of them. */
static size_t page_round(size_t len)
{
	size_t pg = os_page_size();
	return (len + pg - 1) / pg * pg;
}

void buf_pool_watch(struct buf_pool *p, void (*fn)(void *arg, void *mem, size_t len), void *arg)
{
	p->on_map = fn;
	p->on_map_arg = arg;
	for (struct buf_chunk *c = p->chunks; fn && c; c = c->next)
		fn(arg, c->mem, page_round(c->len));
}

/* Maps a new chunk for class c: the only place buffers get memory. */
static int grow(struct buf_pool *p, struct buf_class *c)
{
	size_t len = c->slot >= CHUNK_BYTES ? c->slot : (CHUNK_BYTES / c->slot) * c->slot;
	if (p->bytes + len > p->max_bytes)
		len = c->slot; /* near the cap: one buffer at a time */
	void *mem = buf_chunk_map(&p->chunks, &p->bytes, p->max_bytes, len);
	if (!mem)
		return -ENOMEM;
	if (p->on_map)
		p->on_map(p->on_map_arg, mem, page_round(len));
	c->carve = mem;
	c->carve_left = len;
	return 0;
}

struct buf *buf_alloc(struct buf_pool *p, size_t size)
{
	int ci = size ? class_of(size) : -1;
	if (ci < 0)
		return NULL;
	struct buf_class *c = &p->classes[ci];
	struct buf *b;
	if (c->free_head) {
		b = &p->descs[c->free_head - 1];
		c->free_head = b->next_free;
	} else {
		if (p->ndescs == p->max_descs)
			return NULL;
		if (c->carve_left < c->slot && grow(p, c) < 0)
			return NULL;
		b = &p->descs[p->ndescs++];
		b->base = c->carve;
		b->cap = c->cap;
		b->cls = (uint8_t)ci;
		b->gen = 1;
		c->carve += c->slot;
		c->carve_left -= c->slot;
	}
	b->refcnt = 1;
	b->app_refs = 0;
	b->next_free = 0;
	p->in_use++;
	return b;
}

/* Takes a descriptor for wrapped memory: a recycled one, or a new one at the end of the table. */
struct buf *buf_wrap(struct buf_pool *p, struct buf_owner *o, void *data, uint32_t cap)
{
	struct buf *b;
	if (p->wrap_free) {
		b = &p->descs[p->wrap_free - 1];
		p->wrap_free = b->next_free;
	} else {
		if (p->ndescs == p->max_descs)
			return NULL;
		b = &p->descs[p->ndescs++];
		b->gen = 1;
	}
	/* buf_data() adds the headroom back: data itself is the first byte. */
	b->base = (uint8_t *)((uintptr_t)data - BUF_HEADROOM);
	b->cap = cap;
	b->owner = o;
	b->refcnt = 1;
	b->app_refs = 0;
	b->next_free = 0;
	p->in_use++;
	return b;
}

void buf_unref(struct buf_pool *p, struct buf *b)
{
	if (--b->refcnt)
		return;
	b->app_refs = 0;
	if (++b->gen == 0)
		b->gen = 1;
	if (b->owner) {
		struct buf_owner *o = b->owner;
		o->release(o, b);
		b->owner = NULL;
		b->next_free = p->wrap_free;
		p->wrap_free = (uint32_t)(b - p->descs) + 1;
		p->in_use--;
		return;
	}
	struct buf_class *c = &p->classes[b->cls];
	b->next_free = c->free_head;
	c->free_head = (uint32_t)(b - p->descs) + 1;
	p->in_use--;
}

void *buf_token(const struct buf_pool *p, const struct buf *b)
{
	uint64_t idx = (uint64_t)(b - p->descs) + 1;
	return (void *)(uintptr_t)(((uint64_t)b->gen << 32) | idx);
}

struct buf *buf_lookup(const struct buf_pool *p, const void *token)
{
	uint64_t v = (uint64_t)(uintptr_t)token;
	uint32_t idx = (uint32_t)v, gen = (uint32_t)(v >> 32);
	if (idx == 0 || idx > p->ndescs)
		return NULL;
	struct buf *b = &p->descs[idx - 1];
	if (b->gen != gen || b->refcnt == 0)
		return NULL;
	return b;
}

int buf_check_sga(const struct buf_pool *p, const demi_sgarray_t *sga, struct buf **out)
{
	if (!sga || sga->sga_numsegs != 1 || !sga->sga_buf)
		return -EINVAL;
	struct buf *b = buf_lookup(p, sga->sga_buf);
	if (!b || b->app_refs == 0)
		return -EINVAL;
	uintptr_t seg = (uintptr_t)sga->sga_segs[0].sgaseg_buf;
	uint32_t len = sga->sga_segs[0].sgaseg_len;
	/* Wrapped memory has no headroom of its own: what precedes it is not the buffer's. */
	uintptr_t lo = b->owner ? (uintptr_t)buf_data(b) : (uintptr_t)b->base, hi = (uintptr_t)buf_data(b) + b->cap;
	if (len == 0 || seg < lo || seg > hi || len > hi - seg)
		return -EINVAL;
	*out = b;
	return 0;
}

void buf_give_app(struct buf_pool *p, struct buf *b, void *data, uint32_t len, demi_sgarray_t *out)
{
	b->app_refs++;
	out->sga_buf = buf_token(p, b);
	out->sga_numsegs = 1;
	out->sga_segs[0].sgaseg_buf = data;
	out->sga_segs[0].sgaseg_len = len;
	memset(&out->sga_addr, 0, sizeof(out->sga_addr));
}

int buf_app_free(struct buf_pool *p, const demi_sgarray_t *sga)
{
	if (!sga || !sga->sga_buf)
		return -EINVAL;
	struct buf *b = buf_lookup(p, sga->sga_buf);
	if (!b || b->app_refs == 0)
		return -EINVAL;
	b->app_refs--;
	buf_unref(p, b);
	return 0;
}
