/*
 * catmem's shared region: pipe names, the sealed memfd that holds a pipe, the
 * /dev/shm link that names it, and claiming an end.
 *
 * The region is a memfd sealed against shrinking, so that no one can
 * truncate it under the other process's mapping (which would kill it with
 * SIGBUS on its next access). A memfd has no name, so the creator publishes
 * one: /dev/shm/demi-pipe.NAME is a symbolic link to /proc/PID/fd/FD, its
 * own descriptor of the memfd. The link dangles as soon as the creator is
 * gone, so a dead creator's name reads as missing and is reclaimed by the
 * next create. The memory itself comes from the platform layer (os_shm_*);
 * the naming through /proc and /dev/shm is Linux's and stays here: a port to
 * another OS names its regions its own way (named file mappings on Windows).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../os/os.h"
#include "pipe.h"

#define PIPE_DIR "/dev/shm/demi-pipe."
#define PATH_BYTES 128

int pipe_name_check(const char *name)
{
	size_t n = strnlen(name, DEMI_PIPE_NAME_MAX + 1);
	if (n == 0 || n > DEMI_PIPE_NAME_MAX || name[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			  c == '_' || c == '-';
		if (!ok)
			return -EINVAL;
	}
	return 0;
}

static void link_path(char *out, const char *name)
{
	snprintf(out, PATH_BYTES, PIPE_DIR "%s", name);
}

/* What the link of our memfd points at. */
static void link_target(char *out, int fd)
{
	snprintf(out, PATH_BYTES, "/proc/%d/fd/%d", (int)getpid(), fd);
}

/* Sizes this build uses; a region made by another build is refused rather than trusted. */
static bool header_ok(const struct pipe_imm *h, const char *name)
{
	return h->magic == PIPE_MAGIC && h->version == PIPE_VERSION && h->hdr_bytes == PIPE_HDR_BYTES &&
	       h->region_bytes == PIPE_REGION_BYTES && h->ring_bytes == PIPE_RING_BYTES &&
	       h->block_bytes == PIPE_BLOCK_BYTES && h->nblocks == PIPE_NBLOCKS && h->inline_max == PIPE_INLINE_MAX &&
	       (h->key[0] & 1) && (h->key[1] & 1) && strncmp(h->name, name, sizeof(h->name)) == 0 &&
	       h->name[DEMI_PIPE_NAME_MAX] == '\0';
}

/*
 * Opens what the name leads to, without side effects if it is not a pipe
 * (O_NONBLOCK, O_NOCTTY: a recycled pid's descriptor could be a FIFO or a
 * terminal). -ENOENT when missing or dangling.
 */
static int open_link(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != PIPE_REGION_BYTES) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

/* Is the link at path what a dead or closed creator left behind? */
static bool link_is_stale(const char *path, const char *name)
{
	int fd = open_link(path);
	if (fd == -ENOENT || fd == -EPROTO)
		return true; /* dangling, or a recycled descriptor that is not a pipe */
	if (fd < 0)
		return false; /* cannot tell (EACCES...): leave it alone */
	struct pipe_shared h;
	bool live = pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && header_ok(&h.imm, name) &&
		    pipe_word_state(atomic_load_explicit(&h.end[0].word, memory_order_relaxed)) == PIPE_END_OPEN;
	close(fd);
	return !live;
}

/* Unlinks the name at path if it still leads to target (a stale-name reclaim may have replaced it). */
static void unlink_if_ours(const char *path, const char *target)
{
	char seen[PATH_BYTES];
	ssize_t n = readlink(path, seen, sizeof(seen) - 1);
	if (n > 0) {
		seen[n] = '\0';
		if (strcmp(seen, target) == 0)
			unlink(path);
	}
}

/*
 * The names this process published and has not unlinked yet. exit() runs no
 * thread-exit teardown for the main thread, so an application that ends
 * without demi_close would leave its names dangling in /dev/shm; at exit they
 * are unlinked here (a process killed outright still leaves them: harmless,
 * doc/catmem.md). Create and close only, never the datapath: a mutex is fine.
 */
struct published {
	struct published *next;
	pid_t pid; /* a forked child inherits the list, not the names */
	char path[PATH_BYTES], target[PATH_BYTES];
};
static pthread_mutex_t published_lock = PTHREAD_MUTEX_INITIALIZER;
static struct published *published_list;
static pthread_once_t published_once = PTHREAD_ONCE_INIT;

static void published_at_exit(void)
{
	if (pthread_mutex_trylock(&published_lock) != 0)
		return; /* held by a thread that a fork left behind: leave the names */
	for (struct published *e = published_list; e; e = e->next)
		if (e->pid == getpid())
			unlink_if_ours(e->path, e->target);
	pthread_mutex_unlock(&published_lock);
}

static void published_init(void) { atexit(published_at_exit); }

/* Without memory the name is simply not unlinked at exit. */
static void published_add(const char *path, const char *target)
{
	pthread_once(&published_once, published_init);
	struct published *e = malloc(sizeof(*e));
	if (!e)
		return;
	e->pid = getpid();
	snprintf(e->path, sizeof(e->path), "%s", path);
	snprintf(e->target, sizeof(e->target), "%s", target);
	pthread_mutex_lock(&published_lock);
	e->next = published_list;
	published_list = e;
	pthread_mutex_unlock(&published_lock);
}

static void published_del(const char *path)
{
	pthread_mutex_lock(&published_lock);
	for (struct published **pe = &published_list; *pe; pe = &(*pe)->next)
		if ((*pe)->pid == getpid() && strcmp((*pe)->path, path) == 0) {
			struct published *e = *pe;
			*pe = e->next;
			free(e);
			break;
		}
	pthread_mutex_unlock(&published_lock);
}

/* Publishes the name of a new pipe. -EEXIST while a live pipe has it. */
static int publish(int fd, const char *name)
{
	char target[PATH_BYTES], path[PATH_BYTES];
	link_target(target, fd);
	link_path(path, name);
	for (int tries = 0; tries < 2; tries++) {
		if (symlink(target, path) == 0) {
			published_add(path, target);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
		/* Not atomic against a concurrent create of the same stale name: one of the two may find EEXIST. */
		if (!link_is_stale(path, name))
			return -EEXIST;
		unlink(path);
	}
	return -EEXIST;
}

/* Two random keys with the low bit set: zeroed memory (stamp 0) never matches a position (multiple of 64). */
static void make_keys(uint64_t key[2])
{
	if (os_random(key, 2 * sizeof(key[0]), false) != 0) {
		uint64_t x = os_mono_ns() % 1000000000ull * 0x9e3779b97f4a7c15ull ^ (uint64_t)os_pid() << 32 ^
			     (uintptr_t)key;
		key[0] = x;
		key[1] = x * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
	}
	key[0] |= 1;
	key[1] |= 1;
}

int pipe_region_create(struct pipe *p, const char *name)
{
	char memname[PATH_BYTES];
	snprintf(memname, sizeof(memname), "demi-pipe:%s", name);
	int fd = os_shm_create(memname, PIPE_REGION_BYTES);
	if (fd < 0)
		return fd;
	int err = 0;
	void *m = os_shm_map(fd, PIPE_REGION_BYTES, &err);
	if (!m) {
		close(fd);
		return err;
	}
	/* A fresh memfd reads as zeroes: only the header needs writing, before the name makes it reachable. */
	struct pipe_shared *sh = m;
	struct pipe_imm *h = &p->imm;
	memset(h, 0, sizeof(*h));
	h->magic = PIPE_MAGIC;
	h->version = PIPE_VERSION;
	h->hdr_bytes = PIPE_HDR_BYTES;
	h->region_bytes = PIPE_REGION_BYTES;
	h->ring_bytes = PIPE_RING_BYTES;
	h->block_bytes = PIPE_BLOCK_BYTES;
	h->nblocks = PIPE_NBLOCKS;
	h->inline_max = PIPE_INLINE_MAX;
	make_keys(h->key);
	strcpy(h->name, name);
	sh->imm = *h;
	atomic_store_explicit(&sh->end[0].word, pipe_end_word(os_pid(), p->own_flags, PIPE_END_OPEN),
			      memory_order_relaxed);
	p->sh = sh;
	p->memfd = fd;
	p->end = 0;
	/* The symlink system call orders every store above before any opener can find the region. */
	err = publish(fd, name);
	if (err) {
		os_shm_unmap(m, PIPE_REGION_BYTES);
		close(fd);
		p->sh = NULL;
		p->memfd = -1;
	}
	return err;
}

int pipe_region_open(struct pipe *p, const char *name)
{
	char path[PATH_BYTES];
	link_path(path, name);
	int fd = open_link(path);
	if (fd < 0)
		return fd == -ELOOP ? -ENOENT : fd;
	/* One that could be truncated under our mapping is not a region Demi made. */
	if (os_shm_check(fd) < 0) {
		close(fd);
		return -EPROTO;
	}
	int err = 0;
	void *m = os_shm_map(fd, PIPE_REGION_BYTES, &err);
	close(fd); /* the mapping keeps the memfd alive */
	if (!m)
		return err;
	struct pipe_shared *sh = m;
	/* Copied once, then checked: the copy is what we compare against from now on. */
	memcpy(&p->imm, &sh->imm, sizeof(p->imm));
	if (!header_ok(&p->imm, name)) {
		os_shm_unmap(m, PIPE_REGION_BYTES);
		return -EPROTO;
	}
	uint64_t creator = atomic_load_explicit(&sh->end[0].word, memory_order_acquire);
	if (pipe_word_state(creator) != PIPE_END_OPEN) {
		os_shm_unmap(m, PIPE_REGION_BYTES);
		return pipe_word_state(creator) == PIPE_END_CLOSED ? -ENOENT : -EPROTO;
	}
	/* One atomic claim of the second end: whoever loses finds it taken (EBUSY), so each ring has one producer. */
	uint64_t expect = 0;
	uint64_t mine = pipe_end_word(os_pid(), p->own_flags, PIPE_END_OPEN);
	if (!atomic_compare_exchange_strong_explicit(&sh->end[1].word, &expect, mine, memory_order_acq_rel,
						     memory_order_acquire)) {
		os_shm_unmap(m, PIPE_REGION_BYTES);
		uint32_t st = pipe_word_state(expect);
		return (st == PIPE_END_OPEN || st == PIPE_END_CLOSED) && !(expect & PIPE_WORD_RESERVED) ? -EBUSY
													   : -EPROTO;
	}
	p->sh = sh;
	p->memfd = -1;
	p->end = 1;
	return 0;
}

void pipe_region_close(struct pipe *p)
{
	_Atomic uint64_t *word = &p->sh->end[p->end].word;
	uint64_t w = atomic_load_explicit(word, memory_order_relaxed);
	/*
	 * Release: every record we published is visible to a peer that loads
	 * CLOSED with acquire, so it drains them before it reports end of stream.
	 */
	atomic_store_explicit(word, (w & ~0xffull) | PIPE_END_CLOSED, memory_order_release);
	if (p->end != 0)
		return;
	char path[PATH_BYTES], target[PATH_BYTES];
	link_path(path, p->imm.name);
	link_target(target, p->memfd);
	published_del(path);
	unlink_if_ours(path, target);
}

void pipe_region_unmap(struct pipe *p)
{
	if (p->sh)
		os_shm_unmap(p->sh, PIPE_REGION_BYTES);
	if (p->memfd >= 0)
		close(p->memfd);
	p->sh = NULL;
	p->memfd = -1;
}

int pipe_region_check(struct pipe *p)
{
	if (memcmp(&p->sh->imm, &p->imm, sizeof(p->imm)) != 0)
		return -EPROTO;
	/* Our own word is written by us alone: anything else in it came from outside. */
	uint64_t w = atomic_load_explicit(&p->sh->end[p->end].word, memory_order_relaxed);
	if (pipe_word_pid(w) != os_pid() || pipe_word_state(w) != PIPE_END_OPEN)
		return -EPROTO;
	return 0;
}
