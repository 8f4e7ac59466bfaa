/* Opening a storage queue: the file, its O_DIRECT twin and the alignment direct I/O needs there. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/log.h"
#include "storage.h"

#define DEFAULT_READ_SIZE 4096u

/*
 * Opens the O_DIRECT descriptor of the file bfd names and finds its
 * alignment. Returns the descriptor, or -1 when the file cannot do direct
 * I/O (the queue then uses the page cache only; logged).
 */
static int open_direct(int bfd, const char *path, int acc, bool blkdev, uint32_t *align, uint32_t *mem_align)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", bfd);
	/* Through /proc: the same inode as bfd even if path was renamed or replaced since. */
	int fd = open(proc, acc | O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		fd = open(path, acc | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		log_info("storage: %s: no O_DIRECT here (%s): page cache", path, strerror(errno));
		return -1;
	}
	uint32_t off_al = 0, mem_al = 0;
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
		if (sx.stx_dio_offset_align == 0) {
			log_info("storage: %s: the file system does no direct I/O for this file: page cache", path);
			close(fd);
			return -1;
		}
		off_al = sx.stx_dio_offset_align;
		mem_al = sx.stx_dio_mem_align;
	} else if (blkdev) {
		int ss;
		if (ioctl(fd, BLKSSZGET, &ss) == 0 && ss > 0)
			off_al = mem_al = (uint32_t)ss;
	}
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
	/* Unknown: a page is what every Linux file system with O_DIRECT accepts. */
	if (!off_al)
		off_al = page;
	if (!mem_al)
		mem_al = page;
	/*
	 * Never below a page: a direct write and a buffered one must not share a
	 * page, or the page cache could hold stale bytes of the direct one.
	 */
	*align = off_al > page ? off_al : page;
	*mem_align = mem_al;
	return fd;
}

int squeue_open(struct rt *rt, const char *path, int flags, mode_t mode, struct squeue **out)
{
	const int allowed = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECT | O_CLOEXEC | O_NOFOLLOW;
	int acc = flags & O_ACCMODE;
	if ((flags & ~allowed) || acc == O_ACCMODE)
		return -EINVAL;
	struct stg_engine *e;
	int err = stg_engine_get(rt, &e);
	if (err)
		return err;
	/* No O_APPEND: with it Linux ignores the offset of every write, and appends in flight could swap places. */
	int bfd = open(path, acc | (flags & (O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW)) | O_CLOEXEC, mode);
	if (bfd < 0)
		return -errno;
	struct stat st;
	if (fstat(bfd, &st) < 0)
		err = -errno;
	else if (S_ISDIR(st.st_mode))
		err = -EISDIR;
	else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		err = -EINVAL;
	struct squeue *sq = err ? NULL : calloc(1, sizeof(*sq));
	if (!sq) {
		close(bfd);
		return err ? err : -ENOMEM;
	}
	sq->eng = e;
	sq->bfd = bfd;
	sq->regular = S_ISREG(st.st_mode);
	sq->readable = acc != O_WRONLY;
	sq->writable = acc != O_RDONLY;
	sq->dfd = e->use_direct ? open_direct(bfd, path, acc, S_ISBLK(st.st_mode), &sq->align, &sq->mem_align) : -1;
	sq->direct = sq->dfd >= 0;
	/* A file is a log that grows at its end; a block device is written from its start. */
	sq->write_pos = sq->durable_pos = sq->regular ? (uint64_t)st.st_size : 0;
	sq->read_size = DEFAULT_READ_SIZE;
	sq->durability = e->durability;
	list_init(&sq->pushes);
	list_init(&sq->held);
	list_init(&sq->pops);
	*out = sq;
	return 0;
}
