/*
 * qd -> connection index: open addressing with linear probing and no tombstones (deletion moves entries back),
 * because qds are large numbers and are given again to new connections after a close.
 */
#ifndef KV_QDMAP_H
#define KV_QDMAP_H

#include <stdint.h>

struct qdmap {
	uint32_t mask, bits;
	struct qdmap_slot {
		int qd;
		int idx; /* -1: empty */
	} *slot;
};

/* Room for at least n entries (kept at most half full). Returns 0 or -ENOMEM. */
int qdmap_init(struct qdmap *m, uint32_t n);
void qdmap_free(struct qdmap *m);
int qdmap_find(const struct qdmap *m, int qd); /* the index, or -1 */
void qdmap_put(struct qdmap *m, int qd, int idx);  /* qd not present; at most n entries */
void qdmap_del(struct qdmap *m, int qd);

#endif
