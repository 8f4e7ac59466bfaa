/*
 * Storage next to the network in one demi_wait_any loop: a TCP echo on
 * loopback whose server also appends every popped sga (the same buffer, no
 * copy) to a storage log, while a second storage queue reads the log behind
 * it. Checks the echoed stream, every append offset, and the log against the
 * stream. Usage: storage_mixed (exits 77 without io_uring).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "storage_test.h"

#define STREAM (16u << 20)
#define MAXT 256

enum kind { C_PUSH, C_POP, S_POP, S_ECHO, LOG_PUSH, R_POP };

static demi_qtoken_t qts[MAXT];
static enum kind kinds[MAXT];
static uint64_t auxs[MAXT]; /* LOG_PUSH: the offset the append must land at */
static int nt;

static void add(demi_qtoken_t qt, enum kind k, uint64_t aux)
{
	CHECK(nt < MAXT, "too many tokens");
	qts[nt] = qt;
	auxs[nt] = aux;
	kinds[nt++] = k;
}

int main(void)
{
	st_start("mixed");
	const uint64_t seed = 31;
	int lq, cq, sq, wq, rq;
	OK(demi_socket(&lq, AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	OK(demi_bind(lq, (struct sockaddr *)&a, sizeof(a)));
	OK(demi_listen(lq, 4));
	socklen_t alen = sizeof(a);
	OK(demi_getsockname(lq, (struct sockaddr *)&a, &alen));
	OK(demi_socket(&cq, AF_INET, SOCK_STREAM, 0));
	demi_qtoken_t at, ct;
	OK(demi_accept(&at, lq));
	OK(demi_connect(&ct, cq, (struct sockaddr *)&a, sizeof(a)));
	demi_qresult_t qr = st_wait(ct);
	CHECK(qr.qr_opcode == DEMI_OPC_CONNECT, "connect: %lld", (long long)qr.qr_ret);
	qr = st_wait(at);
	CHECK(qr.qr_opcode == DEMI_OPC_ACCEPT, "accept: %lld", (long long)qr.qr_ret);
	sq = qr.qr_value.ares.qd;

	char p[512];
	OK(demi_open_file(&wq, st_path(p, sizeof(p), "log"), O_WRONLY | O_CREAT | O_TRUNC, 0644));
	OK(demi_open_file(&rq, p, O_RDONLY, 0));
	OK(demi_storage_seek(rq, 0, 65536));

	uint64_t c_sent = 0, c_recv = 0, s_recv = 0, logged = 0, r_read = 0, rng = 1;
	bool c_push = false, c_pop = false, s_pop = false, r_pop = false;
	int storage_ops = 0, net_ops = 0, log_inflight = 0;
	while (c_recv < STREAM || r_read < STREAM) {
		if (!c_push && c_sent < STREAM) {
			rng = st_mix(rng);
			size_t len = 1 + rng % 65536;
			if (len > STREAM - c_sent)
				len = STREAM - c_sent;
			demi_sgarray_t sga = demi_sgaalloc(len);
			CHECK(sga.sga_buf, "sgaalloc");
			st_fill(sga.sga_segs[0].sgaseg_buf, len, seed, c_sent);
			demi_qtoken_t qt;
			OK(demi_push(&qt, cq, &sga));
			OK(demi_sgafree(&sga));
			add(qt, C_PUSH, 0);
			c_sent += len;
			c_push = true;
		}
		if (!c_pop && c_recv < STREAM) {
			demi_qtoken_t qt;
			OK(demi_pop(&qt, cq));
			add(qt, C_POP, 0);
			c_pop = true;
		}
		/* Flow control: the log may fall behind the network, by at most 64 appends. */
		if (!s_pop && s_recv < STREAM && log_inflight < 64) {
			demi_qtoken_t qt;
			OK(demi_pop(&qt, sq));
			add(qt, S_POP, 0);
			s_pop = true;
		}
		/* Read only what completed: a pop at the end would come back empty at once. */
		if (!r_pop && r_read < logged) {
			demi_qtoken_t qt;
			OK(demi_pop(&qt, rq));
			add(qt, R_POP, 0);
			r_pop = true;
		}
		int i;
		struct timespec t = st_secs(30);
		OK(demi_wait_any(&qr, &i, qts, nt, &t));
		enum kind k = kinds[i];
		uint64_t aux = auxs[i];
		qts[i] = qts[nt - 1];
		auxs[i] = auxs[nt - 1];
		kinds[i] = kinds[--nt];
		CHECK(qr.qr_opcode != DEMI_OPC_FAILED, "op kind %d failed: %s", k, strerror((int)qr.qr_ret));
		demi_sgarray_t *sga = &qr.qr_value.sga;
		uint32_t len = sga->sga_segs[0].sgaseg_len;
		switch (k) {
		case C_PUSH:
			c_push = false;
			net_ops++;
			break;
		case C_POP:
			CHECK(len > 0 && st_mismatch(sga->sga_segs[0].sgaseg_buf, len, seed, c_recv) < 0, "echo at %llu",
			      (unsigned long long)c_recv);
			c_recv += len;
			OK(demi_sgafree(sga));
			c_pop = false;
			net_ops++;
			break;
		case S_POP: {
			CHECK(len > 0, "server: peer closed early");
			/* The popped buffer goes back to the client and into the log: two pushes, one buffer. */
			demi_qtoken_t qt;
			OK(demi_push(&qt, sq, sga));
			add(qt, S_ECHO, 0);
			OK(demi_push(&qt, wq, sga));
			add(qt, LOG_PUSH, s_recv);
			log_inflight++;
			OK(demi_sgafree(sga));
			s_recv += len;
			s_pop = false;
			net_ops++;
			break;
		}
		case S_ECHO:
			net_ops++;
			break;
		case LOG_PUSH: {
			/* The log is the stream: each append lands where the stream had got to. */
			CHECK((uint64_t)qr.qr_ret == aux, "append at %lld, want %llu", (long long)qr.qr_ret,
			      (unsigned long long)aux);
			struct demi_storage_stat st;
			OK(demi_storage_stat(wq, &st));
			logged = st.durable_pos;
			log_inflight--;
			storage_ops++;
			break;
		}
		case R_POP:
			CHECK(len > 0 && st_mismatch(sga->sga_segs[0].sgaseg_buf, len, seed, r_read) < 0, "log at %llu",
			      (unsigned long long)r_read);
			r_read += len;
			OK(demi_sgafree(sga));
			r_pop = false;
			storage_ops++;
			break;
		}
	}
	while (nt) {
		int i;
		struct timespec t = st_secs(30);
		OK(demi_wait_any(&qr, &i, qts, nt, &t));
		qts[i] = qts[--nt];
	}
	uint64_t size;
	CHECK(st_file_hash(p, &size) == st_expected_hash(seed, STREAM) && size == STREAM, "log differs from the stream");
	fprintf(stderr, "%d network and %d storage completions in one loop\n", net_ops, storage_ops);
	OK(demi_close(rq));
	OK(demi_close(wq));
	OK(demi_close(sq));
	OK(demi_close(cq));
	OK(demi_close(lq));
	return 0;
}
