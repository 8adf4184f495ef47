#include <stdlib.h>

#include "idmap.h"
#include "rx.h"

void idmap_init(struct idmap *m)
{
	m->cap = 64;
	m->count = 0;
	m->keys = rx_xcalloc(m->cap, sizeof(*m->keys));
	m->vals = rx_xcalloc(m->cap, sizeof(*m->vals));
}

void idmap_free(struct idmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
}

static size_t probe(const struct idmap *m, uint64_t id)
{
	size_t i = (size_t)(((id ^ id >> 32) * UINT64_C(0x9E3779B97F4A7C15)) >> 7 & (m->cap - 1));
	while (m->keys[i] && m->keys[i] != id)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void grow(struct idmap *m)
{
	struct idmap old = *m;
	m->cap *= 2;
	m->keys = rx_xcalloc(m->cap, sizeof(*m->keys));
	m->vals = rx_xcalloc(m->cap, sizeof(*m->vals));
	IDMAP_FOREACH(&old, i) {
		size_t j = probe(m, old.keys[i]);
		m->keys[j] = old.keys[i];
		m->vals[j] = old.vals[i];
	}
	idmap_free(&old);
}

void **idmap_slot(struct idmap *m, uint64_t id, int create)
{
	if (id == 0)
		return NULL;
	size_t i = probe(m, id);
	if (m->keys[i])
		return &m->vals[i];
	if (!create)
		return NULL;
	if ((m->count + 1) * 4 > m->cap * 3) {
		grow(m);
		i = probe(m, id);
	}
	m->keys[i] = id;
	m->vals[i] = NULL;
	m->count++;
	return &m->vals[i];
}
