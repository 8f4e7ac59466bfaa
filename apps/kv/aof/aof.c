/*
 * The append-only log (aof.h) on a Demi storage queue. doc/apps/kv-aof.md describes the format and the policies.
 *
 * A record is an 8-byte header, then the payload:
 *   u32 len   payload bytes, little endian
 *   u32 crc   CRC32C (Castagnoli) of the 4 length bytes and the payload, little endian
 * A record of length 0 is a sync marker (everysec's device flush when nothing else waits): replay skips it.
 *
 * Group commit: records are framed into the collecting buffer (a storage buffer, so that the push needs no
 * copy of ours); aof_flush pushes it as one append when no push is in flight, and the other buffer collects
 * meanwhile. Two buffers, swapped at each push: no allocation per record once they have grown to the load.
 */
#include "aof.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/storage.h>
#include <demi/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AOF_HDR AOF_RECORD_HDR
#define AOF_BUF_MIN (64u * 1024u)
#define AOF_BUF_MAX (16u * 1024u * 1024u) /* the largest storage buffer (demi_storage_sgaalloc) */
#define AOF_READ_SIZE (1u << 20)
#define AOF_EVERYSEC_MS 1000u
#define AOF_CLOSE_WAIT_S 10

struct aof_buf {
	demi_sgarray_t sga; /* sga_buf NULL: not allocated yet */
	uint32_t cap, len;
	int64_t last_seq; /* the last record framed into it (0: only markers, or none) */
};

struct aof {
	int qd;
	enum aof_fsync policy;
	char *path;
	struct aof_buf bufs[2];
	int collect;        /* index of the collecting buffer; the other one is in flight while inflight */
	bool inflight;
	demi_qtoken_t inflight_qt;
	bool inflight_sync; /* the push in flight is flushed to the device */
	uint64_t inflight_start_ms;
	int64_t next_seq;   /* the sequence number of the next record */
	int64_t durable;    /* aof_durable */
	uint64_t unsynced;  /* bytes written since the last device flush (everysec) */
	uint64_t last_sync_ms;
	bool replayed;
	int err;            /* a failed write: every later append fails with it */
	struct aof_stats st;
};

/* ---- CRC32C ---- */

static uint32_t crc_table[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* Software slicing-by-8; the SSE4.2 instruction where the CPU has it. */
static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		v ^= crc;
		crc = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^ crc_table[5][(v >> 16) & 0xff] ^
		      crc_table[4][(v >> 24) & 0xff] ^ crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
		      crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (n--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return c32;
}
#endif

static uint32_t (*crc_fn)(uint32_t, const uint8_t *, size_t);

uint32_t aof_crc32c(uint32_t crc, const void *data, size_t len)
{
	if (!crc_fn) {
		crc_init();
#if defined(__x86_64__)
		__builtin_cpu_init();
		crc_fn = __builtin_cpu_supports("sse4.2") ? crc_hw : crc_sw;
#else
		crc_fn = crc_sw;
#endif
	}
	return ~crc_fn(~crc, data, len);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t record_crc(const uint8_t *hdr, const void *payload, size_t len)
{
	return aof_crc32c(aof_crc32c(0, hdr, 4), payload, len);
}

size_t aof_frame(void *dst, const void *payload, size_t len)
{
	uint8_t *d = dst;
	put32(d, (uint32_t)len);
	if (len)
		memcpy(d + AOF_HDR, payload, len);
	put32(d + 4, record_crc(d, payload, len));
	return AOF_HDR + len;
}

long aof_parse(const void *data, size_t avail, const void **payload, size_t *len)
{
	const uint8_t *d = data;
	if (avail < AOF_HDR)
		return 0;
	uint32_t n = get32(d);
	if (n > AOF_MAX_RECORD)
		return -1;
	if (avail - AOF_HDR < n)
		return 0;
	if (record_crc(d, d + AOF_HDR, n) != get32(d + 4))
		return -1;
	*payload = d + AOF_HDR;
	*len = n;
	return (long)(AOF_HDR + n);
}

/* ---- the log ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static long long wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Makes b hold at least need bytes (keeping what it has). -ENOBUFS past the largest storage buffer. */
static int buf_reserve(struct aof_buf *b, uint64_t need)
{
	if (need <= b->cap)
		return 0;
	if (need > AOF_BUF_MAX)
		return -ENOBUFS;
	uint32_t cap = b->cap ? b->cap : AOF_BUF_MIN;
	while (cap < need)
		cap *= 2;
	demi_sgarray_t sga = demi_storage_sgaalloc(cap);
	if (!sga.sga_buf)
		return -ENOMEM;
	if (b->len)
		memcpy(sga.sga_segs[0].sgaseg_buf, b->sga.sga_segs[0].sgaseg_buf, b->len);
	if (b->sga.sga_buf)
		demi_sgafree(&b->sga);
	b->sga = sga;
	b->cap = cap;
	return 0;
}

static int open_queue(struct aof *a)
{
	int qd;
	int err = demi_open_file(&qd, a->path, O_RDWR | O_CREAT, 0644);
	if (err)
		return -err;
	struct demi_storage_stat st;
	if ((err = demi_storage_stat(qd, &st))) {
		demi_close(qd);
		return -err;
	}
	a->qd = qd;
	a->st.size = st.write_pos;
	return 0;
}

int aof_open(struct aof **out, const char *path, enum aof_fsync policy)
{
	if (!out || !path || (policy != AOF_FSYNC_NO && policy != AOF_FSYNC_EVERYSEC && policy != AOF_FSYNC_ALWAYS))
		return -EINVAL;
	struct aof *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->qd = -1;
	a->path = strdup(path);
	a->policy = policy;
	a->next_seq = 1;
	a->last_sync_ms = UINT64_MAX; /* set by the first aof_flush, on the caller's clock */
	int err = a->path ? open_queue(a) : -ENOMEM;
	if (!err)
		err = buf_reserve(&a->bufs[0], AOF_BUF_MIN);
	if (!err)
		err = buf_reserve(&a->bufs[1], AOF_BUF_MIN);
	if (err) {
		if (a->qd >= 0)
			demi_close(a->qd);
		for (int i = 0; i < 2; i++)
			if (a->bufs[i].sga.sga_buf)
				demi_sgafree(&a->bufs[i].sga);
		free(a->path);
		free(a);
		return err;
	}
	*out = a;
	return 0;
}

/* Waits for qt (at most AOF_CLOSE_WAIT_S seconds when bounded). */
static int wait_one(demi_qtoken_t qt, demi_qresult_t *qr, bool bounded)
{
	struct timespec ts = { .tv_sec = AOF_CLOSE_WAIT_S };
	int err = demi_wait(qr, qt, bounded ? &ts : NULL);
	return err ? -err : 0;
}

/* Is there a whole, valid record anywhere in d[from, n)? (A corrupt record with good ones after it is damage in
 * the middle of the log, not a torn tail.) */
static bool valid_record_after(const uint8_t *d, size_t from, size_t n)
{
	for (size_t p = from; p + AOF_HDR <= n; p++) {
		const void *pl;
		size_t len;
		if (aof_parse(d + p, n - p, &pl, &len) > 0)
			return true;
	}
	return false;
}

/* Cuts the file at off (durably) and reopens the queue so that its write position is there. */
static int cut_tail(struct aof *a, uint64_t off)
{
	demi_close(a->qd);
	a->qd = -1;
	int fd = open(a->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = ftruncate(fd, (off_t)off) || fdatasync(fd) ? -errno : 0;
	close(fd);
	if (err)
		return err;
	return open_queue(a);
}

long aof_replay(struct aof *a, int (*apply)(void *ctx, const char *payload, size_t len), void *ctx)
{
	if (!a || !apply || a->replayed || a->next_seq != 1)
		return -EINVAL;
	a->replayed = true;
	int err = demi_storage_seek(a->qd, 0, AOF_READ_SIZE);
	if (err)
		return -err;
	uint8_t *data = NULL; /* the bytes read and not parsed yet, from file offset `base` */
	size_t have = 0, cap = 0;
	uint64_t base = 0;
	long records = 0;
	long ret = 0;
	bool eof = false, bad = false;
	while (!eof) {
		demi_qtoken_t qt;
		demi_qresult_t qr;
		if ((err = demi_pop(&qt, a->qd))) {
			ret = -err;
			goto out;
		}
		if ((err = wait_one(qt, &qr, false))) {
			ret = err;
			goto out;
		}
		if (qr.qr_opcode != DEMI_OPC_POP) {
			ret = qr.qr_ret > 0 ? -qr.qr_ret : -EIO;
			goto out;
		}
		demi_sgarray_t *sga = &qr.qr_value.sga;
		size_t got = sga->sga_numsegs ? sga->sga_segs[0].sgaseg_len : 0;
		eof = got == 0;
		if (have + got > cap) {
			size_t ncap = cap ? cap : AOF_READ_SIZE;
			while (ncap < have + got)
				ncap *= 2;
			uint8_t *n = realloc(data, ncap);
			if (!n) {
				demi_sgafree(sga);
				ret = -ENOMEM;
				goto out;
			}
			data = n;
			cap = ncap;
		}
		if (got)
			memcpy(data + have, sga->sga_segs[0].sgaseg_buf, got);
		demi_sgafree(sga);
		have += got;
		if (bad)
			continue; /* read the rest to tell a torn tail from damage in the middle */
		size_t used = 0;
		for (;;) {
			const void *pl;
			size_t len;
			long r = aof_parse(data + used, have - used, &pl, &len);
			if (r == 0 && !eof)
				break; /* incomplete: read on */
			if (r <= 0) {
				bad = have > used;
				break;
			}
			if (len) {
				int ar = apply(ctx, pl, len);
				if (ar) {
					ret = ar;
					goto out;
				}
				records++;
			}
			used += (size_t)r;
		}
		if (used && have > used)
			memmove(data, data + used, have - used);
		have -= used;
		base += used;
	}
	if (bad) {
		/* data[0] is the first bad record, at file offset base; everything after it is in data. */
		if (valid_record_after(data, 1, have)) {
			fprintf(stderr,
				"aof: %s: corrupt record at offset %llu with valid records after it: not a torn tail, "
				"refusing to drop them; inspect the file, keep a copy, and cut it there if the data after "
				"may go (truncate -s %llu %s)\n",
				a->path, (unsigned long long)base, (unsigned long long)base, a->path);
			ret = -EBADMSG;
			goto out;
		}
		fprintf(stderr, "aof: %s: torn or corrupt tail of %zu bytes at offset %llu (a crash mid-write): cut off, "
				"%ld records replayed\n",
			a->path, have, (unsigned long long)base, records);
		if ((err = cut_tail(a, base))) {
			ret = err;
			goto out;
		}
	}
	a->st.size = base;
	ret = records;
out:
	free(data);
	return ret;
}

int64_t aof_append(struct aof *a, const void *payload, size_t len)
{
	if (a->err)
		return a->err;
	if (len == 0 || len > AOF_MAX_RECORD)
		return len ? -EMSGSIZE : -EINVAL;
	struct aof_buf *b = &a->bufs[a->collect];
	int err = buf_reserve(b, (uint64_t)b->len + AOF_HDR + len);
	if (err)
		return err;
	b->len += (uint32_t)aof_frame((uint8_t *)b->sga.sga_segs[0].sgaseg_buf + b->len, payload, len);
	b->last_seq = a->next_seq;
	a->st.records++;
	return a->next_seq++;
}

int aof_flush(struct aof *a, uint64_t now, demi_qtoken_t *qt)
{
	if (a->err)
		return a->err;
	if (a->inflight)
		return 0;
	struct aof_buf *b = &a->bufs[a->collect];
	bool sync = a->policy == AOF_FSYNC_ALWAYS;
	if (a->last_sync_ms == UINT64_MAX)
		a->last_sync_ms = now;
	if (a->policy == AOF_FSYNC_EVERYSEC && now >= a->last_sync_ms + AOF_EVERYSEC_MS) {
		if (b->len == 0 && a->unsynced) {
			/* Nothing waits, but what was written is not on the device yet: a sync marker carries the flush. */
			b->len = (uint32_t)aof_frame(b->sga.sga_segs[0].sgaseg_buf, NULL, 0);
			b->last_seq = 0;
		}
		sync = b->len != 0;
	}
	if (b->len == 0)
		return 0;
	int err = demi_storage_set_durability(a->qd, sync ? DEMI_STORAGE_FLUSH : DEMI_STORAGE_NONE);
	if (err)
		return -err;
	demi_sgarray_t sga = b->sga;
	sga.sga_segs[0].sgaseg_len = b->len;
	if ((err = demi_push(qt, a->qd, &sga)))
		return -err;
	a->inflight = true;
	a->inflight_qt = *qt;
	a->inflight_sync = sync;
	a->inflight_start_ms = now;
	a->collect ^= 1;
	a->st.flushes++;
	return 1;
}

int aof_complete(struct aof *a, const demi_qresult_t *qr)
{
	struct aof_buf *b = &a->bufs[a->collect ^ 1];
	a->inflight = false;
	if (qr->qr_opcode != DEMI_OPC_PUSH) {
		int err = qr->qr_opcode == DEMI_OPC_FAILED && qr->qr_ret > 0 ? -(int)qr->qr_ret : -EIO;
		if (!a->err) {
			a->err = err;
			fprintf(stderr, "aof: %s: write failed (%s): writes are refused from now on\n", a->path,
				strerror(-err));
		}
		b->len = 0;
		return err;
	}
	a->st.size = (uint64_t)qr->qr_ret + b->len;
	if (a->inflight_sync) {
		a->st.fsyncs++;
		a->st.last_fsync_ms = wall_ms();
		a->last_sync_ms = a->inflight_start_ms;
		a->unsynced = 0;
	} else {
		a->unsynced += b->len;
	}
	if (b->last_seq)
		a->durable = b->last_seq;
	b->len = 0;
	b->last_seq = 0;
	return 0;
}

int64_t aof_durable(const struct aof *a)
{
	return a->durable;
}

bool aof_busy(const struct aof *a)
{
	return a->inflight || a->bufs[a->collect].len != 0;
}

int64_t aof_next_flush_ms(const struct aof *a, uint64_t now)
{
	if (a->err || a->inflight)
		return -1; /* the push's completion ends the wait; aof_flush runs after it */
	if (a->bufs[a->collect].len)
		return 0;
	if (a->policy != AOF_FSYNC_EVERYSEC || !a->unsynced)
		return -1;
	uint64_t due = a->last_sync_ms + AOF_EVERYSEC_MS;
	return due > now ? (int64_t)(due - now) : 0;
}

void aof_stats(const struct aof *a, struct aof_stats *st)
{
	*st = a->st;
}

void aof_close(struct aof *a)
{
	if (!a)
		return;
	/* What is pending goes out, durably whatever the policy (as Redis flushes its log on shutdown). */
	for (int round = 0; round < 4 && a->qd >= 0 && !a->err; round++) {
		demi_qresult_t qr;
		if (a->inflight) {
			/* The token aof_flush gave the caller, which has not collected it (it stops waiting now). */
			if (wait_one(a->inflight_qt, &qr, true) || aof_complete(a, &qr))
				break;
			continue;
		}
		if (a->policy != AOF_FSYNC_ALWAYS && (a->unsynced || a->bufs[a->collect].len))
			a->policy = AOF_FSYNC_ALWAYS; /* the last push flushes everything before it */
		if (!a->bufs[a->collect].len) {
			if (!a->unsynced)
				break;
			a->bufs[a->collect].len = (uint32_t)aof_frame(a->bufs[a->collect].sga.sga_segs[0].sgaseg_buf,
				NULL, 0);
		}
		demi_qtoken_t qt;
		if (aof_flush(a, now_ms(), &qt) != 1)
			break;
		if (wait_one(qt, &qr, true) || aof_complete(a, &qr))
			break;
	}
	if (a->qd >= 0)
		demi_close(a->qd);
	for (int i = 0; i < 2; i++)
		if (a->bufs[i].sga.sga_buf)
			demi_sgafree(&a->bufs[i].sga);
	free(a->path);
	free(a);
}
