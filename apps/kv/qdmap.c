/* qd -> connection index (qdmap.h). */
#include "qdmap.h"

#include <errno.h>
#include <stdlib.h>

static uint32_t home(const struct qdmap *m, int qd)
{
	return ((uint32_t)qd * 2654435761u) >> (32 - m->bits);
}

int qdmap_init(struct qdmap *m, uint32_t n)
{
	m->bits = 4;
	while ((1u << m->bits) < 2 * (uint64_t)n && m->bits < 30)
		m->bits++;
	m->mask = (1u << m->bits) - 1;
	m->slot = malloc(((size_t)m->mask + 1) * sizeof(*m->slot));
	if (!m->slot)
		return -ENOMEM;
	for (uint32_t s = 0; s <= m->mask; s++)
		m->slot[s].idx = -1;
	return 0;
}

void qdmap_free(struct qdmap *m)
{
	free(m->slot);
	m->slot = NULL;
}

int qdmap_find(const struct qdmap *m, int qd)
{
	for (uint32_t s = home(m, qd);; s = (s + 1) & m->mask) {
		if (m->slot[s].idx < 0)
			return -1;
		if (m->slot[s].qd == qd)
			return m->slot[s].idx;
	}
}

void qdmap_put(struct qdmap *m, int qd, int idx)
{
	uint32_t s = home(m, qd);
	while (m->slot[s].idx >= 0)
		s = (s + 1) & m->mask;
	m->slot[s].qd = qd;
	m->slot[s].idx = idx;
}

void qdmap_del(struct qdmap *m, int qd)
{
	uint32_t i = home(m, qd);
	while (m->slot[i].idx >= 0 && m->slot[i].qd != qd)
		i = (i + 1) & m->mask;
	if (m->slot[i].idx < 0)
		return;
	for (uint32_t j = (i + 1) & m->mask; m->slot[j].idx >= 0; j = (j + 1) & m->mask) {
		uint32_t h = home(m, m->slot[j].qd);
		if (((j - h) & m->mask) >= ((j - i) & m->mask)) {
			m->slot[i] = m->slot[j];
			i = j;
		}
	}
	m->slot[i].idx = -1;
}
