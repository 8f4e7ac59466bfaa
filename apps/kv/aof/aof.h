/*
 * The append-only log on a Demi storage queue (<demi/storage.h>): each record is one payload (the RESP bytes
 * of one or more write commands, as kv_exec logged them) framed with its length and a checksum, so that a torn
 * tail left by a crash is found on replay and cut off. Appends are batched: while one flush (a push) is in
 * flight the records of every connection collect, and the next flush commits them together (group commit).
 */
#ifndef KV_AOF_H
#define KV_AOF_H

#include <demi/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum aof_fsync {
	AOF_FSYNC_NO,       /* written when the kernel has it; the kernel flushes when it likes */
	AOF_FSYNC_EVERYSEC, /* written at once, flushed to the device about once a second */
	AOF_FSYNC_ALWAYS,   /* a record is durable (on the device) before aof_durable() covers it */
};

struct aof;

struct aof_stats {
	uint64_t size;      /* bytes in the log */
	uint64_t records;   /* records appended since open (replayed ones not counted) */
	uint64_t flushes;   /* pushes issued */
	uint64_t fsyncs;    /* device flushes */
	long long last_fsync_ms;
};

/* Opens (creating it if absent) the log at path as a storage queue of the calling thread (after demi_init).
 * Returns 0 or -errno. */
int aof_open(struct aof **out, const char *path, enum aof_fsync policy);

/* Replays every whole record from the start of the log, calling apply(ctx, payload, len) for each in order; a
 * torn or corrupt tail is cut off (the file is truncated to the end of the last good record) with a warning on
 * stderr. Blocks (demi_wait). Call once, before the first append. Returns the number of records replayed, or
 * -errno (an apply that returns non-zero stops the replay with that value). */
long aof_replay(struct aof *a, int (*apply)(void *ctx, const char *payload, size_t len), void *ctx);

/* Adds payload (copied) as one record to the batch; returns its sequence number (1, 2, ... since open) or
 * -errno. Nothing is written until aof_flush. */
int64_t aof_append(struct aof *a, const void *payload, size_t len);

/* Starts writing the batch if there is one and no flush is in flight (everysec: and also starts the once a
 * second device flush when it is due, at now_ms). Returns 1 with *qt set when a push was started: the caller
 * waits on qt with its other tokens and gives the result to aof_complete; 0 when there was nothing to start;
 * -errno on failure. Call it once per turn of the server's wait loop, after running the turn's requests. */
int aof_flush(struct aof *a, uint64_t now_ms, demi_qtoken_t *qt);

/* Takes the result of a token from aof_flush. Returns 0, or -errno when the write failed (the server then
 * stops accepting writes: it answers them with an error, as Redis does on a failed fsync). */
int aof_complete(struct aof *a, const demi_qresult_t *qr);

/* Every record with a sequence number <= this is written and, under AOF_FSYNC_ALWAYS, durable: the server
 * sends the reply of a write command once this covers its record. */
int64_t aof_durable(const struct aof *a);

/* Whether a flush is in flight or records wait (the server keeps polling while true). */
bool aof_busy(const struct aof *a);

void aof_stats(const struct aof *a, struct aof_stats *st);

/* Writes and flushes what is pending (blocking, bounded), then closes the queue and frees a. */
void aof_close(struct aof *a);

/* ---- added by kvlog (the interface above is unchanged) ---- */

/* A record on disk: u32 payload length, u32 CRC32C of those 4 length bytes and the payload (both little
 * endian), then the payload. Length 0: a sync marker that replay skips. */
#define AOF_RECORD_HDR 8u
#define AOF_MAX_RECORD ((16u << 20) - 64u) /* a record (and a batch) fits one storage buffer */

/* How long the server's wait may sleep before aof_flush has work: 0 (records wait and no push is in flight),
 * -1 (nothing is due: a push in flight completes through its token, which wakes the wait; or nothing was
 * written), or the milliseconds until everysec's device flush of what was written is due. Storage completions
 * wake demi_wait under catnap and catpowder (doc/storage.md), so a server need not poll while aof_busy: this is
 * the timeout to use. */
int64_t aof_next_flush_ms(const struct aof *a, uint64_t now_ms);

/* CRC32C (Castagnoli), chained: aof_crc32c(aof_crc32c(0, a, n), b, m) is the CRC of a then b. */
uint32_t aof_crc32c(uint32_t crc, const void *data, size_t len);
/* Frames payload as one record at dst (AOF_RECORD_HDR + len bytes); returns that size. */
size_t aof_frame(void *dst, const void *payload, size_t len);
/* Parses the record at data: its size (> 0) with *payload and *len set, 0 when avail holds only part of it, -1
 * when it is corrupt (bad checksum, or a length above AOF_MAX_RECORD). */
long aof_parse(const void *data, size_t avail, const void **payload, size_t *len);

#endif
