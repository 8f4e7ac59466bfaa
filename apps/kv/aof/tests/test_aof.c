/* The append-only log (aof.h) on a real storage queue in a directory under /var/tmp: framing, group commit,
 * policies, replay, a torn tail cut at every byte of the last record, and damage in the middle. */
#include <criterion/criterion.h>
#include <demi/libos.h>
#include <demi/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aof.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	struct demi_args args = { 0 };
	cr_assert_eq(demi_init(&args), 0);
	strcpy(dir, "/var/tmp/demi-aof-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log.aof", dir);
}

static void teardown(void)
{
	unlink(path);
	char bak[160];
	snprintf(bak, sizeof(bak), "%s.orig", path);
	unlink(bak);
	rmdir(dir);
}

TestSuite(aof, .init = setup, .fini = teardown);

static struct aof *open_log(enum aof_fsync p)
{
	struct aof *a = NULL;
	int err = aof_open(&a, path, p);
	if (err == -ENOSYS || err == -EPERM)
		cr_skip_test("no io_uring here");
	cr_assert_eq(err, 0, "aof_open: %s", strerror(-err));
	return a;
}

/* Runs one flush to its end: 1 when a push went out. */
static int flush_wait(struct aof *a, uint64_t now)
{
	demi_qtoken_t qt;
	int r = aof_flush(a, now, &qt);
	cr_assert_geq(r, 0);
	if (r == 1) {
		demi_qresult_t qr;
		cr_assert_eq(demi_wait(&qr, qt, NULL), 0);
		cr_assert_eq(aof_complete(a, &qr), 0);
	}
	return r;
}

static size_t payload_of(int i, char *buf)
{
	return (size_t)sprintf(buf, "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$5\r\nv%04d\r\n", i < 10 ? 5 : i < 100 ? 6 : 7,
		i, i % 10000);
}

struct seen {
	int n;
	bool ok;
};

static int check_apply(void *ctx, const char *p, size_t len)
{
	struct seen *s = ctx;
	char want[128];
	size_t wl = payload_of(++s->n, want);
	if (wl != len || memcmp(want, p, len) != 0)
		s->ok = false;
	return 0;
}

static long replay_count(enum aof_fsync p, struct seen *s, struct aof **keep)
{
	struct aof *a = open_log(p);
	*s = (struct seen){ 0, true };
	long n = aof_replay(a, check_apply, s);
	if (keep)
		*keep = a;
	else
		aof_close(a);
	return n;
}

static off_t file_size(void)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	return st.st_size;
}

/* Writes records 1..n, one push each, durably. Returns the offset where the last one starts. */
static off_t write_records(int n)
{
	struct aof *a = open_log(AOF_FSYNC_ALWAYS);
	off_t last = 0;
	for (int i = 1; i <= n; i++) {
		char p[128];
		size_t len = payload_of(i, p);
		struct aof_stats st;
		aof_stats(a, &st);
		last = (off_t)st.size;
		cr_assert_eq(aof_append(a, p, len), i);
		cr_assert_eq(flush_wait(a, 0), 1);
		cr_assert_eq(aof_durable(a), i);
	}
	aof_close(a);
	return last;
}

Test(aof, framing)
{
	cr_assert_eq(aof_crc32c(0, "123456789", 9), 0xE3069283u); /* the CRC32C check value */
	cr_assert_eq(aof_crc32c(aof_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	/* long input: the 8-byte loop and the byte tail agree with a byte-at-a-time chain */
	char big[1001];
	for (int i = 0; i < 1001; i++)
		big[i] = (char)(i * 7);
	uint32_t c = 0;
	for (int i = 0; i < 1001; i++)
		c = aof_crc32c(c, big + i, 1);
	cr_assert_eq(aof_crc32c(0, big, 1001), c);

	uint8_t rec[64];
	size_t n = aof_frame(rec, "hello", 5);
	cr_assert_eq(n, AOF_RECORD_HDR + 5);
	cr_assert_eq(rec[0], 5);
	const void *pl;
	size_t len;
	cr_assert_eq(aof_parse(rec, n, &pl, &len), (long)n);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(pl, "hello", 5), 0);
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(aof_parse(rec, k, &pl, &len), 0, "a part of %zu bytes is incomplete", k);
	for (size_t bit = 0; bit < n * 8; bit++) {
		rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		long r = aof_parse(rec, n, &pl, &len);
		/* a flipped length bit may make it look incomplete; it must never parse as valid */
		cr_assert(r <= 0, "bit %zu flipped still parses", bit);
		rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* a length beyond the limit is corrupt, not incomplete */
	uint8_t huge[8] = { 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0 };
	cr_assert_eq(aof_parse(huge, 8, &pl, &len), -1);
	/* the sync marker: an empty payload */
	cr_assert_eq(aof_frame(rec, NULL, 0), AOF_RECORD_HDR);
	cr_assert_eq(aof_parse(rec, 8, &pl, &len), 8);
	cr_assert_eq(len, 0);
}

Test(aof, group_commit)
{
	struct aof *a = open_log(AOF_FSYNC_ALWAYS);
	char p[128];
	size_t len = payload_of(1, p);
	cr_assert_eq(aof_append(a, p, len), 1);
	cr_assert(aof_busy(a));
	demi_qtoken_t qt1, qt2;
	cr_assert_eq(aof_flush(a, 0, &qt1), 1);
	/* 200 records of many connections arrive while the flush is in flight: none goes out on its own */
	for (int i = 2; i <= 201; i++) {
		len = payload_of(i, p);
		cr_assert_eq(aof_append(a, p, len), i);
		cr_assert_eq(aof_flush(a, 0, &qt2), 0, "a second push while one is in flight");
	}
	cr_assert_eq(aof_durable(a), 0);
	demi_qresult_t qr;
	cr_assert_eq(demi_wait(&qr, qt1, NULL), 0);
	cr_assert_eq(aof_complete(a, &qr), 0);
	cr_assert_eq(aof_durable(a), 1, "only the first record was in that push");
	cr_assert(aof_busy(a));
	cr_assert_eq(aof_flush(a, 0, &qt2), 1);
	cr_assert_eq(demi_wait(&qr, qt2, NULL), 0);
	cr_assert_eq(aof_complete(a, &qr), 0);
	cr_assert_eq(aof_durable(a), 201);
	cr_assert_not(aof_busy(a));
	cr_assert_eq(aof_flush(a, 0, &qt2), 0, "nothing left to write");
	struct aof_stats st;
	aof_stats(a, &st);
	cr_assert_eq(st.flushes, 2, "200 records in one push: %llu pushes", (unsigned long long)st.flushes);
	cr_assert_eq(st.fsyncs, 2);
	cr_assert_eq(st.records, 201);
	cr_assert_eq((off_t)st.size, file_size());
	aof_close(a);

	struct seen s;
	cr_assert_eq(replay_count(AOF_FSYNC_ALWAYS, &s, NULL), 201);
	cr_assert(s.ok, "records replay in order, intact");
	cr_assert_eq(s.n, 201);
}

Test(aof, replay_then_append)
{
	write_records(10);
	struct seen s;
	struct aof *a;
	cr_assert_eq(replay_count(AOF_FSYNC_ALWAYS, &s, &a), 10);
	cr_assert(s.ok);
	char p[128];
	size_t len = payload_of(11, p);
	cr_assert_eq(aof_append(a, p, len), 1, "sequence numbers count from open");
	cr_assert_eq(flush_wait(a, 0), 1);
	aof_close(a);
	cr_assert_eq(replay_count(AOF_FSYNC_ALWAYS, &s, NULL), 11);
	cr_assert(s.ok);
	/* an empty log replays nothing */
	unlink(path);
	cr_assert_eq(replay_count(AOF_FSYNC_NO, &s, NULL), 0);
}

static void copy_file(const char *from, const char *to, off_t len)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(in >= 0 && out >= 0);
	char buf[65536];
	off_t done = 0;
	while (done < len) {
		ssize_t n = read(in, buf, sizeof(buf));
		cr_assert_gt(n, 0);
		if (n > len - done)
			n = (ssize_t)(len - done);
		cr_assert_eq(write(out, buf, (size_t)n), n);
		done += n;
	}
	close(in);
	close(out);
}

Test(aof, torn_tail_every_byte)
{
	off_t last = write_records(5);
	off_t end = file_size();
	char orig[160];
	snprintf(orig, sizeof(orig), "%s.orig", path);
	copy_file(path, orig, end);
	for (off_t cut = last + 1; cut < end; cut++) {
		copy_file(orig, path, cut);
		struct seen s;
		struct aof *a;
		cr_assert_eq(replay_count(AOF_FSYNC_ALWAYS, &s, &a), 4, "cut at %lld of %lld", (long long)cut,
			(long long)end);
		cr_assert(s.ok);
		cr_assert_eq(file_size(), last, "the torn record is cut off");
		struct aof_stats st;
		aof_stats(a, &st);
		cr_assert_eq((off_t)st.size, last);
		/* the log goes on after the cut: the fifth record again, then replay sees all five */
		char p[128];
		size_t len = payload_of(5, p);
		cr_assert_eq(aof_append(a, p, len), 1);
		cr_assert_eq(flush_wait(a, 0), 1);
		aof_close(a);
		cr_assert_eq(replay_count(AOF_FSYNC_ALWAYS, &s, NULL), 5, "cut at %lld", (long long)cut);
		cr_assert(s.ok);
		cr_assert_eq(file_size(), end);
	}
	/* garbage after the last whole record is a torn tail too */
	copy_file(orig, path, end);
	int fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "\x13\x00\x00\x00garbage", 11), 11);
	close(fd);
	struct seen s;
	cr_assert_eq(replay_count(AOF_FSYNC_ALWAYS, &s, NULL), 5);
	cr_assert_eq(file_size(), end);
}

static void flip_bit_at(off_t off)
{
	int fd = open(path, O_RDWR);
	cr_assert(fd >= 0);
	uint8_t b;
	cr_assert_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

Test(aof, flipped_bit_in_the_middle)
{
	write_records(5);
	off_t end = file_size();
	/* record 3's payload: damage with whole records after it is refused, and the file is left alone */
	flip_bit_at(end / 2);
	struct seen s;
	cr_assert_eq(replay_count(AOF_FSYNC_ALWAYS, &s, NULL), -EBADMSG);
	cr_assert_eq(file_size(), end, "nothing is cut");
	flip_bit_at(end / 2);
	cr_assert_eq(replay_count(AOF_FSYNC_ALWAYS, &s, NULL), 5, "restored, it replays whole");
	/* a flipped bit in the last record is a torn tail: cut */
	flip_bit_at(end - 3);
	long r = replay_count(AOF_FSYNC_ALWAYS, &s, NULL);
	cr_assert_eq(r, 4, "replay gave %ld", r);
	cr_assert(s.ok);
	cr_assert_lt(file_size(), end);
}

static int stop_at_3(void *ctx, const char *p, size_t len)
{
	(void)p;
	(void)len;
	return ++*(int *)ctx == 3 ? -ECANCELED : 0;
}

Test(aof, apply_error_stops)
{
	write_records(5);
	struct aof *a = open_log(AOF_FSYNC_ALWAYS);
	int n = 0;
	cr_assert_eq(aof_replay(a, stop_at_3, &n), -ECANCELED);
	cr_assert_eq(n, 3);
	aof_close(a);
}

Test(aof, everysec)
{
	struct aof *a = open_log(AOF_FSYNC_EVERYSEC);
	char p[128];
	size_t len = payload_of(1, p);
	cr_assert_eq(aof_next_flush_ms(a, 0), -1);
	cr_assert_eq(aof_append(a, p, len), 1);
	cr_assert_eq(aof_next_flush_ms(a, 0), 0);
	demi_qtoken_t qt;
	cr_assert_eq(aof_flush(a, 1000, &qt), 1);
	cr_assert_eq(aof_next_flush_ms(a, 1000), -1, "a push in flight wakes the wait through its token");
	demi_qresult_t qr;
	cr_assert_eq(demi_wait(&qr, qt, NULL), 0);
	cr_assert_eq(aof_complete(a, &qr), 0);
	cr_assert_eq(aof_durable(a), 1, "written: covered at once under everysec");
	struct aof_stats st;
	aof_stats(a, &st);
	cr_assert_eq(st.fsyncs, 0, "the first second has not passed");
	cr_assert_eq(aof_next_flush_ms(a, 1400), 600);
	cr_assert_eq(flush_wait(a, 1500), 0, "not due");
	/* due: nothing new to write, so a sync marker carries the device flush */
	cr_assert_eq(flush_wait(a, 2000), 1);
	aof_stats(a, &st);
	cr_assert_eq(st.fsyncs, 1);
	cr_assert_neq(st.last_fsync_ms, 0);
	cr_assert_eq(aof_next_flush_ms(a, 2100), -1, "all flushed: nothing due");
	cr_assert_eq(flush_wait(a, 5000), 0, "no write, no flush");
	/* a batch that is due goes out flushed itself */
	cr_assert_eq(aof_append(a, p, len), 2);
	cr_assert_eq(flush_wait(a, 5000), 1);
	aof_stats(a, &st);
	cr_assert_eq(st.fsyncs, 2);
	cr_assert_eq(st.flushes, 3);
	aof_close(a);
	struct seen s;
	cr_assert_eq(replay_count(AOF_FSYNC_EVERYSEC, &s, NULL), 2, "the marker is not a record");
}

Test(aof, policy_no_and_close_flushes)
{
	struct aof *a = open_log(AOF_FSYNC_NO);
	char p[128];
	for (int i = 1; i <= 3; i++) {
		size_t len = payload_of(i, p);
		cr_assert_eq(aof_append(a, p, len), i);
	}
	demi_qtoken_t qt;
	cr_assert_eq(aof_flush(a, 0, &qt), 1);
	size_t len = payload_of(4, p);
	cr_assert_eq(aof_append(a, p, len), 4);
	/* closed with a push in flight and a record waiting: both reach the file */
	aof_close(a);
	struct seen s;
	cr_assert_eq(replay_count(AOF_FSYNC_NO, &s, NULL), 4);
	cr_assert(s.ok);
}

Test(aof, bad_arguments)
{
	struct aof *a;
	cr_assert_eq(aof_open(&a, path, (enum aof_fsync)7), -EINVAL);
	cr_assert_eq(aof_open(&a, "/nonexistent-dir/x.aof", AOF_FSYNC_NO), -ENOENT);
	a = open_log(AOF_FSYNC_NO);
	cr_assert_eq(aof_append(a, "x", 0), -EINVAL);
	cr_assert_eq(aof_append(a, "x", AOF_MAX_RECORD + 1), -EMSGSIZE);
	aof_close(a);
}
