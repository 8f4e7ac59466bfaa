/*
 * Storage queue benchmark (bench/storage_run runs it next to fio):
 *   randread: random aligned reads of --bs bytes over the whole --file at
 *             queue depth --qd, for --seconds: IOPS and per-read latency;
 *   append:   sequential appends of --bs bytes to a fresh --file at depth
 *             --qd, with --durability flush|fua|none, for --seconds or
 *             --max-mb: bandwidth and per-append latency.
 * Latency runs from demi_pop/demi_push to the completion seen by demi_wait_any,
 * as fio's "lat" (submission to completion).
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/storage.h>
#include <demi/wait.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "bench.h"

#define MAX_QD 256

struct opts {
	const char *file, *mode, *durability;
	int qd;
	uint32_t bs;
	double seconds;
	uint64_t max_bytes;
};

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --file PATH --mode randread|append [--qd N] [--bs BYTES] [--seconds S]\n"
		"          [--durability flush|fua|none] [--max-mb MB]\n"
		"  defaults: --qd 1 --bs 4096 --seconds 5 --durability flush --max-mb 1024\n",
		prog);
	exit(2);
}

static struct opts parse(int argc, char **argv)
{
	struct opts o = { .mode = "randread", .durability = "flush", .qd = 1, .bs = 4096, .seconds = 5,
			  .max_bytes = 1024ull << 20 };
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--file"))
			o.file = v;
		else if (!strcmp(a, "--mode"))
			o.mode = v;
		else if (!strcmp(a, "--qd"))
			o.qd = atoi(v);
		else if (!strcmp(a, "--bs"))
			o.bs = (uint32_t)atol(v);
		else if (!strcmp(a, "--seconds"))
			o.seconds = atof(v);
		else if (!strcmp(a, "--durability"))
			o.durability = v;
		else if (!strcmp(a, "--max-mb"))
			o.max_bytes = (uint64_t)atol(v) << 20;
		else
			usage(argv[0]);
	}
	if (argc % 2 == 0 || !o.file || o.qd < 1 || o.qd > MAX_QD || o.bs == 0 || o.bs > (16u << 20) ||
	    o.seconds <= 0)
		usage(argv[0]);
	return o;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Latency samples: one per completed op. */
static uint64_t *lat;
static size_t nlat, caplat;

static void sample(uint64_t ns)
{
	if (nlat == caplat) {
		caplat = caplat ? 2 * caplat : 1 << 20;
		lat = realloc(lat, caplat * sizeof(*lat));
		if (!lat) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	lat[nlat++] = ns;
}

static void flags_line(int qd)
{
	struct demi_storage_stat st;
	CHECK(demi_storage_stat(qd, &st));
	printf("# queue: align %u, direct %s, sqpoll %s, registered buffers %s\n", st.align,
	       st.flags & DEMI_STORAGE_DIRECT ? "yes" : "no", st.flags & DEMI_STORAGE_SQPOLL ? "yes" : "no",
	       st.flags & DEMI_STORAGE_REGISTERED ? "yes" : "no");
}

static void randread(const struct opts *o)
{
	int qd;
	CHECK(demi_open_file(&qd, o->file, O_RDONLY, 0));
	flags_line(qd);
	struct stat sb;
	CHECK_SYS(stat(o->file, &sb));
	uint64_t blocks = (uint64_t)sb.st_size / o->bs;
	if (blocks == 0) {
		fprintf(stderr, "%s: smaller than one block\n", o->file);
		exit(1);
	}
	demi_qtoken_t qts[MAX_QD];
	uint64_t t0[MAX_QD];
	int n = 0;
	uint64_t ops = 0, start = now_ns(), end = start + (uint64_t)(o->seconds * 1e9), now = start;
	while (now < end || n) {
		while (n < o->qd && now < end) {
			CHECK(demi_storage_seek(qd, (next_rand() % blocks) * o->bs, o->bs));
			t0[n] = now_ns();
			CHECK(demi_pop(&qts[n], qd));
			n++;
		}
		demi_qresult_t qr;
		int i;
		CHECK(demi_wait_any(&qr, &i, qts, n, NULL));
		now = now_ns();
		if (qr.qr_opcode != DEMI_OPC_POP || qr.qr_value.sga.sga_segs[0].sgaseg_len != o->bs) {
			fprintf(stderr, "read failed: opcode %d ret %lld\n", qr.qr_opcode, (long long)qr.qr_ret);
			exit(1);
		}
		sample(now - t0[i]);
		CHECK(demi_sgafree(&qr.qr_value.sga));
		ops++;
		qts[i] = qts[--n];
		t0[i] = t0[n];
	}
	uint64_t ns = now - start;
	struct lat_stats s = lat_summarise(lat, nlat);
	double iops = (double)ops * 1e9 / (double)ns;
	printf("demi randread: qd %d, %u B: %llu reads in %.2f s: %.0f IOPS, lat mean %.1f us p50 %.1f us p99 %.1f us\n",
	       o->qd, o->bs, (unsigned long long)ops, (double)ns / 1e9, iops, s.mean / 1e3, s.p50 / 1e3, s.p99 / 1e3);
	printf("RESULT kind=randread impl=demi qd=%d bs=%u ops=%llu ns=%llu iops=%.0f mean_ns=%.0f p50_ns=%.0f "
	       "p99_ns=%.0f\n",
	       o->qd, o->bs, (unsigned long long)ops, (unsigned long long)ns, iops, s.mean, s.p50, s.p99);
	CHECK(demi_close(qd));
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void append(const struct opts *o)
{
	int durability = !strcmp(o->durability, "none") ? DEMI_STORAGE_NONE
			 : !strcmp(o->durability, "fua") ? DEMI_STORAGE_FUA
							 : DEMI_STORAGE_FLUSH;
	int qd;
	CHECK(demi_open_file(&qd, o->file, O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK(demi_storage_set_durability(qd, durability));
	flags_line(qd);
	/* The same few buffers go out again and again, as fio's do: allocation is not what is measured. */
	demi_sgarray_t bufs[MAX_QD];
	for (int i = 0; i < o->qd; i++) {
		bufs[i] = demi_storage_sgaalloc(o->bs);
		if (!bufs[i].sga_buf) {
			fprintf(stderr, "demi_storage_sgaalloc(%u) failed\n", o->bs);
			exit(1);
		}
		memset(bufs[i].sga_segs[0].sgaseg_buf, 0x5a ^ i, o->bs);
	}
	demi_qtoken_t qts[MAX_QD];
	uint64_t t0[MAX_QD];
	int slot[MAX_QD], n = 0, free_slots[MAX_QD], nfree = o->qd;
	for (int i = 0; i < o->qd; i++)
		free_slots[i] = i;
	uint64_t cpu0 = thread_cpu_ns();
	uint64_t bytes = 0, issued = 0, start = now_ns(), end = start + (uint64_t)(o->seconds * 1e9), now = start;
	while ((now < end && issued < o->max_bytes) || n) {
		while (nfree && now < end && issued < o->max_bytes) {
			slot[n] = free_slots[--nfree];
			t0[n] = now_ns();
			CHECK(demi_push(&qts[n], qd, &bufs[slot[n]]));
			issued += o->bs;
			n++;
		}
		demi_qresult_t qr;
		int i;
		CHECK(demi_wait_any(&qr, &i, qts, n, NULL));
		now = now_ns();
		if (qr.qr_opcode != DEMI_OPC_PUSH) {
			fprintf(stderr, "append failed: %s\n", strerror((int)qr.qr_ret));
			exit(1);
		}
		sample(now - t0[i]);
		bytes += o->bs;
		free_slots[nfree++] = slot[i];
		qts[i] = qts[--n];
		t0[i] = t0[n];
		slot[i] = slot[n];
	}
	uint64_t ns = now - start;
	/* the thread's CPU time over the run: what waiting on the device costs (1.0: a whole core) */
	double cpu = (double)(thread_cpu_ns() - cpu0) / (double)ns;
	struct lat_stats s = lat_summarise(lat, nlat);
	double mbps = (double)bytes * 1e3 / (double)ns;
	printf("demi append: qd %d, %u B, %s: %.1f MB in %.2f s: %.1f MB/s, lat p50 %.1f us p99 %.1f us, cpu %.2f\n",
	       o->qd, o->bs, o->durability, (double)bytes / 1e6, (double)ns / 1e9, mbps, s.p50 / 1e3, s.p99 / 1e3, cpu);
	printf("RESULT kind=append impl=demi qd=%d bs=%u durability=%s bytes=%llu ns=%llu mbps=%.1f p50_ns=%.0f "
	       "p99_ns=%.0f cpu=%.3f\n",
	       o->qd, o->bs, o->durability, (unsigned long long)bytes, (unsigned long long)ns, mbps, s.p50, s.p99,
	       cpu);
	for (int i = 0; i < o->qd; i++)
		CHECK(demi_sgafree(&bufs[i]));
	CHECK(demi_close(qd));
}

int main(int argc, char **argv)
{
	struct opts o = parse(argc, argv);
	struct demi_args args = { 0 };
	CHECK(demi_init(&args));
	if (!strcmp(o.mode, "randread"))
		randread(&o);
	else if (!strcmp(o.mode, "append"))
		append(&o);
	else
		usage(argv[0]);
	return 0;
}
