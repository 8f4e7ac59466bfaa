/*
 * Storage queues, data path: appends read back with hashes, small, aligned and
 * large sizes in flight together, random read positions, many queues, the read
 * cursor, and close with I/O in flight. Usage: storage_io CASE (exits 77
 * without io_uring).
 */
#include "storage_test.h"

#define QD 32

/* Prints how long the phase since the last call took: where a slow run spends its time. */
static void phase(const char *what)
{
	static uint64_t last;
	uint64_t now = st_now_ns();
	if (last)
		fprintf(stderr, "  %-28s %6.2f s\n", what, (double)(now - last) / 1e9);
	last = now;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A size from each family: tiny, sub-block, whole blocks, large. */
static size_t pick_size(void)
{
	switch (rnd() % 8) {
	case 0:
		return 1 + rnd() % 16;
	case 1:
	case 2:
		return 1 + rnd() % 4000;
	case 3:
	case 4:
		return 4096 * (1 + rnd() % 16);
	case 5:
		return 4096 * (1 + rnd() % 16) + 1 + rnd() % 4095;
	case 6:
		return (size_t)(1 + rnd() % 4) << 20;
	default:
		return 65536 + rnd() % 65536;
	}
}

/* Pops at (off, size) and checks every byte against the pattern; returns the length read. */
static uint32_t read_check(int qd, uint64_t seed, uint64_t off, uint32_t size)
{
	OK(demi_storage_seek(qd, off, size));
	demi_qtoken_t qt;
	OK(demi_pop(&qt, qd));
	demi_qresult_t qr = st_wait(qt);
	CHECK(qr.qr_opcode == DEMI_OPC_POP, "pop at %llu: opcode %d ret %lld", (unsigned long long)off, qr.qr_opcode,
	      (long long)qr.qr_ret);
	demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
	long bad = st_mismatch(seg->sgaseg_buf, seg->sgaseg_len, seed, off);
	CHECK(bad < 0, "pop at %llu+%u: byte %ld differs", (unsigned long long)off, size, bad);
	uint32_t n = seg->sgaseg_len;
	OK(demi_sgafree(&qr.qr_value.sga));
	return n;
}

/*
 * Appends `total` bytes in random sizes with up to QD pushes in flight,
 * storage and plain sgas alternating; checks that pushes complete in call
 * order at the offsets they were given. Returns the file size.
 */
static uint64_t append_stream(int qd, uint64_t seed, uint64_t total)
{
	uint64_t off = 0, next_done = 0;
	int inflight = 0;
	bool storage_sga = true;
	while (off < total || inflight) {
		while (off < total && inflight < QD) {
			size_t len = pick_size();
			if (len > total - off)
				len = (size_t)(total - off);
			demi_sgarray_t sga = storage_sga ? demi_storage_sgaalloc(len) : demi_sgaalloc(len);
			storage_sga = !storage_sga;
			CHECK(sga.sga_buf, "sgaalloc %zu", len);
			st_fill(sga.sga_segs[0].sgaseg_buf, len, seed, off);
			demi_qtoken_t qt;
			OK(demi_push(&qt, qd, &sga));
			OK(demi_sgafree(&sga)); /* the queue keeps the buffer alive */
			off += len;
			inflight++;
		}
		demi_qresult_t qrs[QD];
		int n;
		struct timespec t = st_secs(30);
		OK(demi_wait_next_n(qrs, QD, &n, &t));
		for (int i = 0; i < n; i++) {
			CHECK(qrs[i].qr_opcode == DEMI_OPC_PUSH, "push failed: %s", strerror((int)qrs[i].qr_ret));
			/* In call order: each completion is the append right after the one before. */
			CHECK((uint64_t)qrs[i].qr_ret == next_done, "push landed at %lld, expected %llu",
			      (long long)qrs[i].qr_ret, (unsigned long long)next_done);
			next_done += qrs[i].qr_value.sga.sga_segs[0].sgaseg_len;
			inflight--;
		}
	}
	struct demi_storage_stat st;
	OK(demi_storage_stat(qd, &st));
	CHECK(st.write_pos == total && st.durable_pos == total, "write_pos %llu durable_pos %llu total %llu",
	      (unsigned long long)st.write_pos, (unsigned long long)st.durable_pos, (unsigned long long)total);
	return total;
}

/* Reads the file (up to about `limit` bytes) through the queue in chunks of `size`, in order, hashing it. */
static uint64_t read_hash(int qd, uint32_t size, uint64_t limit, uint64_t *len)
{
	OK(demi_storage_seek(qd, 0, size));
	uint64_t h = ST_HASH0, total = 0;
	while (total < limit) {
		demi_qtoken_t qt;
		OK(demi_pop(&qt, qd));
		demi_qresult_t qr = st_wait(qt);
		CHECK(qr.qr_opcode == DEMI_OPC_POP, "pop failed: %s", strerror((int)qr.qr_ret));
		demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
		h = st_hash(h, seg->sgaseg_buf, seg->sgaseg_len);
		total += seg->sgaseg_len;
		uint32_t n = seg->sgaseg_len;
		OK(demi_sgafree(&qr.qr_value.sga));
		if (n == 0)
			break;
	}
	*len = total;
	return h;
}

static uint64_t read_all_hash(int qd, uint32_t size, uint64_t *len)
{
	return read_hash(qd, size, UINT64_MAX, len);
}

/* Random (position, size) reads, QD in flight, each checked against the pattern. */
static void random_reads(int qd, uint64_t seed, uint64_t size, int count)
{
	demi_qtoken_t qts[QD];
	uint64_t offs[QD];
	uint32_t lens[QD];
	int n = 0, issued = 0;
	while (issued < count || n) {
		while (issued < count && n < QD) {
			uint64_t off = rnd() % size;
			uint32_t len = rnd() % 3 == 0 ? 4096 : (uint32_t)(1 + rnd() % 200000);
			if (rnd() % 4 == 0)
				off &= ~4095ull;
			OK(demi_storage_seek(qd, off, len));
			OK(demi_pop(&qts[n], qd));
			offs[n] = off;
			lens[n] = len;
			n++;
			issued++;
		}
		demi_qresult_t qr;
		int i;
		struct timespec t = st_secs(30);
		OK(demi_wait_any(&qr, &i, qts, n, &t));
		CHECK(qr.qr_opcode == DEMI_OPC_POP, "pop failed: %s", strerror((int)qr.qr_ret));
		demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
		uint64_t want = offs[i] + lens[i] <= size ? lens[i] : size - offs[i];
		CHECK(seg->sgaseg_len == want, "pop at %llu+%u: %u bytes, want %llu", (unsigned long long)offs[i],
		      lens[i], seg->sgaseg_len, (unsigned long long)want);
		long bad = st_mismatch(seg->sgaseg_buf, seg->sgaseg_len, seed, offs[i]);
		CHECK(bad < 0, "pop at %llu: byte %ld differs", (unsigned long long)offs[i], bad);
		OK(demi_sgafree(&qr.qr_value.sga));
		qts[i] = qts[n - 1];
		offs[i] = offs[n - 1];
		lens[i] = lens[n - 1];
		n--;
	}
}

/* Small, unaligned, aligned and large appends in flight together; read back sequentially and at random. */
static int case_appends(void)
{
	st_start("appends");
	char p[512];
	int qd;
	OK(demi_open_file(&qd, st_path(p, sizeof(p), "log"), O_RDWR | O_CREAT | O_TRUNC, 0644));
	struct demi_storage_stat st;
	OK(demi_storage_stat(qd, &st));
	fprintf(stderr, "align %u flags %#x durability %u\n", st.align, st.flags, st.durability);
	const uint64_t seed = 11, total = 48u << 20;
	phase("start");
	append_stream(qd, seed, total);
	phase("appends");
	uint64_t size, want = st_expected_hash(seed, total);
	CHECK(st_file_hash(p, &size) == want && size == total, "file hash differs (size %llu)", (unsigned long long)size);
	phase("hashes");
	uint64_t len;
	CHECK(read_all_hash(qd, 1u << 20, &len) == want && len == total, "read-back hash differs (1 MiB pops)");
	phase("1 MiB pops");
	/* Small unaligned pops at QD1 are slow (one device read each): 6 MiB of them. */
	CHECK(read_hash(qd, 777, 6u << 20, &len) == st_expected_hash(seed, len) && len >= (6u << 20),
	      "read-back hash differs (777-byte pops, %llu read)", (unsigned long long)len);
	phase("777-byte pops");
	random_reads(qd, seed, total, 3000);
	phase("random reads");
	/* Appending to an existing file continues at its end. */
	OK(demi_close(qd));
	OK(demi_open_file(&qd, p, O_RDWR, 0));
	OK(demi_storage_stat(qd, &st));
	CHECK(st.write_pos == total, "reopened write_pos %llu", (unsigned long long)st.write_pos);
	demi_qresult_t qr = st_push_wait(qd, seed, total, 5000, true);
	CHECK(qr.qr_opcode == DEMI_OPC_PUSH && qr.qr_ret == (int64_t)total, "append after reopen");
	CHECK(read_check(qd, seed, total - 100, 10000) == 5100, "tail read");
	OK(demi_close(qd));
	return 0;
}

/* Many queues with appends in flight on all of them at once, then each read back. */
static int case_many(void)
{
	st_start("many");
	enum { NQ = 64, PER = 24 };
	int qds[NQ];
	uint64_t sizes[NQ] = { 0 };
	char p[512], name[32];
	for (int i = 0; i < NQ; i++) {
		snprintf(name, sizeof(name), "q%d", i);
		OK(demi_open_file(&qds[i], st_path(p, sizeof(p), name), O_RDWR | O_CREAT | O_TRUNC, 0600));
	}
	static demi_qtoken_t qts[NQ * PER];
	int n = 0;
	for (int k = 0; k < PER; k++) {
		for (int i = 0; i < NQ; i++) {
			size_t len = rnd() % 2 ? 4096 * (1 + rnd() % 4) : 1 + rnd() % 20000;
			demi_sgarray_t sga = demi_storage_sgaalloc(len);
			CHECK(sga.sga_buf, "sgaalloc");
			st_fill(sga.sga_segs[0].sgaseg_buf, len, 1000 + (uint64_t)i, sizes[i]);
			OK(demi_push(&qts[n++], qds[i], &sga));
			OK(demi_sgafree(&sga));
			sizes[i] += len;
		}
	}
	while (n) {
		demi_qresult_t qr;
		int i;
		struct timespec t = st_secs(30);
		OK(demi_wait_any(&qr, &i, qts, n, &t));
		CHECK(qr.qr_opcode == DEMI_OPC_PUSH, "push failed: %s", strerror((int)qr.qr_ret));
		qts[i] = qts[--n];
	}
	for (int i = 0; i < NQ; i++) {
		uint64_t len;
		CHECK(read_all_hash(qds[i], 65536, &len) == st_expected_hash(1000 + (uint64_t)i, sizes[i]) &&
			      len == sizes[i],
		      "queue %d: hash differs", i);
		OK(demi_close(qds[i]));
	}
	return 0;
}

/* The read cursor: default size, seek, short read at the end, zero-length past it, a reader at the tail. */
static int case_cursor(void)
{
	st_start("cursor");
	char p[512];
	int w, r;
	OK(demi_open_file(&w, st_path(p, sizeof(p), "log"), O_WRONLY | O_CREAT | O_TRUNC, 0644));
	OK(demi_open_file(&r, p, O_RDONLY, 0));
	const uint64_t seed = 5;
	struct demi_storage_stat st;
	OK(demi_storage_stat(r, &st));
	CHECK(st.read_pos == 0 && st.read_size == 4096, "defaults: pos %llu size %u", (unsigned long long)st.read_pos,
	      st.read_size);
	/* Empty file: zero-length pops, and the cursor stays at 0. */
	CHECK(read_check(r, seed, 0, 100) == 0, "pop of an empty file");
	CHECK(st_push_wait(w, seed, 0, 10000, true).qr_opcode == DEMI_OPC_PUSH, "push");
	/* Sequential pops of the default size: 4096, 4096, 1808, then 0, with the cursor following. */
	OK(demi_storage_seek(r, 0, 4096));
	uint32_t want[] = { 4096, 4096, 1808, 0, 0 };
	uint64_t off = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		demi_qtoken_t qt;
		OK(demi_pop(&qt, r));
		demi_qresult_t qr = st_wait(qt);
		CHECK(qr.qr_opcode == DEMI_OPC_POP, "pop");
		CHECK(qr.qr_value.sga.sga_segs[0].sgaseg_len == want[i], "pop %zu: %u bytes", i,
		      qr.qr_value.sga.sga_segs[0].sgaseg_len);
		CHECK(st_mismatch(qr.qr_value.sga.sga_segs[0].sgaseg_buf, want[i], seed, off) < 0, "data");
		off += want[i];
		OK(demi_sgafree(&qr.qr_value.sga));
		OK(demi_storage_stat(r, &st));
		CHECK(st.read_pos == off, "cursor %llu after pop %zu, want %llu", (unsigned long long)st.read_pos, i,
		      (unsigned long long)off);
	}
	/* The tail reader sees the next append where the previous data ended. */
	CHECK(st_push_wait(w, seed, 10000, 3000, false).qr_opcode == DEMI_OPC_PUSH, "push");
	demi_qtoken_t qt;
	OK(demi_pop(&qt, r));
	demi_qresult_t qr = st_wait(qt);
	CHECK(qr.qr_value.sga.sga_segs[0].sgaseg_len == 3000, "tail pop: %u", qr.qr_value.sga.sga_segs[0].sgaseg_len);
	CHECK(st_mismatch(qr.qr_value.sga.sga_segs[0].sgaseg_buf, 3000, seed, 10000) < 0, "tail data");
	OK(demi_sgafree(&qr.qr_value.sga));
	/* Far past the end. */
	CHECK(read_check(r, seed, 1u << 30, 4096) == 0, "pop past the end");
	/* Unaligned position and size inside the file: the sga points into an aligned read. */
	CHECK(read_check(r, seed, 4097, 5000) == 5000, "unaligned read");
	ERR(EINVAL, demi_storage_seek(r, 0, (16u << 20) + 1));
	OK(demi_storage_seek(r, 0, 16u << 20));
	ERR(EINVAL, demi_storage_set_durability(w, 7));
	OK(demi_storage_set_durability(w, DEMI_STORAGE_NONE));
	OK(demi_storage_stat(w, &st));
	CHECK(st.durability == DEMI_STORAGE_NONE, "durability");
	OK(demi_close(w));
	OK(demi_close(r));
	return 0;
}

/*
 * Close with I/O in flight: every op completes FAILED/ECANCELED at once; a
 * queue opened right after (which may get the same descriptor numbers) sees
 * none of the old queue's I/O.
 */
static int case_close(void)
{
	st_start("close");
	char p[512], p2[512];
	int qd;
	OK(demi_open_file(&qd, st_path(p, sizeof(p), "a"), O_RDWR | O_CREAT | O_TRUNC, 0644));
	/* Data for the pops to read: with appends in flight they see only completed ones. */
	for (int i = 0; i < 4; i++)
		CHECK(st_push_wait(qd, 3, (uint64_t)i << 20, 1u << 20, true).qr_opcode == DEMI_OPC_PUSH, "push");
	OK(demi_storage_seek(qd, 0, 256u << 10)); /* QD / 2 pops inside those 4 MiB */
	demi_qtoken_t qts[QD];
	for (int i = 0; i < QD; i++) {
		demi_sgarray_t sga = demi_storage_sgaalloc(1u << 20);
		CHECK(sga.sga_buf, "sgaalloc");
		memset(sga.sga_segs[0].sgaseg_buf, 0xaa, 1u << 20);
		OK(i % 2 ? demi_pop(&qts[i], qd) : demi_push(&qts[i], qd, &sga));
		OK(demi_sgafree(&sga));
	}
	OK(demi_close(qd));
	for (int i = 0; i < QD; i++) {
		demi_qresult_t qr = st_wait(qts[i]);
		CHECK(qr.qr_opcode == DEMI_OPC_FAILED && qr.qr_ret == ECANCELED, "op %d: opcode %d ret %lld", i,
		      qr.qr_opcode, (long long)qr.qr_ret);
	}
	ERR(EBADF, demi_close(qd));
	OK(demi_open_file(&qd, st_path(p2, sizeof(p2), "b"), O_RDWR | O_CREAT | O_TRUNC, 0644));
	const uint64_t seed = 9;
	for (int i = 0; i < 8; i++)
		CHECK(st_push_wait(qd, seed, (uint64_t)i * 65536, 65536, true).qr_opcode == DEMI_OPC_PUSH, "push");
	uint64_t size;
	CHECK(st_file_hash(p2, &size) == st_expected_hash(seed, 8 * 65536) && size == 8 * 65536,
	      "the new file holds only its own appends");
	/* Exit with I/O in flight: the runtime's teardown waits for it. */
	for (int i = 0; i < 8; i++) {
		demi_sgarray_t sga = demi_storage_sgaalloc(1u << 20);
		demi_qtoken_t qt;
		OK(demi_push(&qt, qd, &sga));
		OK(demi_sgafree(&sga));
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} cases[] = {
		{ "appends", case_appends }, { "many", case_many }, { "cursor", case_cursor }, { "close", case_close },
	};
	if (argc == 2)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			if (strcmp(argv[1], cases[i].name) == 0)
				return cases[i].fn();
	fprintf(stderr, "usage: %s appends|many|cursor|close\n", argv[0]);
	return 2;
}
