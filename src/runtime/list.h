/* Intrusive doubly-linked lists: O(1) insert and remove, no allocation. */
#ifndef DEMI_RUNTIME_LIST_H
#define DEMI_RUNTIME_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
	struct list_node *next, *prev;
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void list_init(struct list_node *h) { h->next = h->prev = h; }
static inline bool list_empty(const struct list_node *h) { return h->next == h; }
/* A node that is in no list points at itself (after list_node_init or list_del). */
static inline void list_node_init(struct list_node *n) { n->next = n->prev = n; }
static inline bool list_linked(const struct list_node *n) { return n->next != n; }

static inline void list_insert_between(struct list_node *n, struct list_node *p, struct list_node *q)
{
	n->prev = p;
	n->next = q;
	p->next = n;
	q->prev = n;
}
static inline void list_push_back(struct list_node *h, struct list_node *n) { list_insert_between(n, h->prev, h); }
static inline void list_push_front(struct list_node *h, struct list_node *n) { list_insert_between(n, h, h->next); }
static inline void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_node_init(n);
}
static inline struct list_node *list_pop_front(struct list_node *h)
{
	if (list_empty(h))
		return NULL;
	struct list_node *n = h->next;
	list_del(n);
	return n;
}
/* Moves every node of `from` to the end of `to`. */
static inline void list_splice_back(struct list_node *to, struct list_node *from)
{
	if (list_empty(from))
		return;
	struct list_node *first = from->next, *last = from->prev;
	first->prev = to->prev;
	to->prev->next = first;
	last->next = to;
	to->prev = last;
	list_init(from);
}

#define list_for_each_safe(pos, tmp, head)                                     \
	for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

#endif
