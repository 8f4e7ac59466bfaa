/*
 * Storage queues on io_uring, inside the library: the queue kind (push, pop,
 * ordering, repair, close) over the per-thread engine of engine.h, and the
 * calls beside push and pop that the public layer makes.
 */
#ifndef DEMI_QUEUES_STORAGE_STORAGE_H
#define DEMI_QUEUES_STORAGE_STORAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"

/* ---- squeue.c: the storage queue kind ---- */

struct squeue {
	struct queue q;
	struct stg_engine *eng;
	int dfd;                 /* O_DIRECT descriptor, -1 when the file cannot do direct I/O */
	int bfd;                 /* buffered descriptor: unaligned appends, fdatasync, truncation */
	uint32_t align;          /* offset and length granule of direct I/O (>= the page size) */
	uint32_t mem_align;      /* memory granule of direct I/O */
	bool direct;             /* O_DIRECT in use: dfd open and not refused since */
	bool readable, writable, regular, closed;
	int durability;
	uint64_t read_pos, write_pos, durable_pos;
	uint32_t read_size;
	int fail_err;            /* a push failed: the ones behind it fail too, then the file is cut back */
	uint64_t fail_off;       /* where the failed push began */
	uint32_t inflight;       /* requests in the kernel: the descriptors stay open until 0 */
	struct list_node pushes; /* started pushes in append order, until they complete */
	struct list_node held;   /* pushes that came while a failure drained: started after the repair */
	struct list_node pops;   /* pops in flight */
};

extern const struct queue_ops storage_queue_ops;

/* Opens path as a storage queue (not yet installed under a qd). -errno. */
int squeue_open(struct rt *rt, const char *path, int flags, mode_t mode, struct squeue **out);
/* Frees a closed queue whose last request came back. */
void squeue_free(struct squeue *sq);

/* ---- sctl.c: the calls beside push and pop, for the public layer (src/api/storage.c) ---- */

struct demi_storage_stat;

/* demi_open_file: opens path and installs it under a new qd. -errno (open(2)'s, -ENOSYS/-EPERM, -EMFILE, -ENOMEM). */
int storage_open(struct rt *rt, const char *path, int flags, mode_t mode, int *qd_out);
/* The storage queue qd names: 0, -EBADF (no queue) or -ENOTSUP (another kind). */
int storage_queue_get(struct rt *rt, int qd, struct squeue **out);
/* Moves the read position to offset; size (<= BUF_MAX_SIZE, checked by the caller) 0 keeps the pop size. */
void squeue_seek(struct squeue *sq, uint64_t offset, uint32_t size);
/* durability: a checked enum demi_storage_durability, for the later pushes. */
void squeue_set_durability(struct squeue *sq, int durability);
void squeue_stat(const struct squeue *sq, struct demi_storage_stat *out);
/* A storage buffer of size bytes (1..BUF_MAX_SIZE, checked) handed to the application in out. -errno. */
int storage_sgaalloc(struct rt *rt, size_t size, demi_sgarray_t *out);

#endif
