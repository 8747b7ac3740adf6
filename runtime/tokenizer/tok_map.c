/* tok_map.c: owns the hash tables behind vocabularies (string <-> id) and BPE merge ranks. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

/* Word-at-a-time multiply-mix: vocab strings are short and this sits on the encode hot path. */
uint64_t tok_hash(const void *p, size_t len) {
  const unsigned char *s = p;
  uint64_t h = 0x243F6A8885A308D3ull ^ (len * 0x9E3779B97F4A7C15ull);
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    s += 8;
    len -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, s, len);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 29;
  h *= 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 32);
}

static size_t pow2_at_least(size_t n) {
  size_t c = 16;
  while (c < n)
    c <<= 1;
  return c;
}

int tok_strtab_init(tok_strtab *t, size_t expected, size_t arena_bytes) {
  memset(t, 0, sizeof *t);
  size_t cap = pow2_at_least(expected * 2 + 2);
  t->slots = calloc(cap, sizeof *t->slots);
  t->mask = cap - 1;
  t->arena_cap = arena_bytes ? arena_bytes : 64;
  t->arena = malloc(t->arena_cap);
  t->ids_cap = expected ? expected : 16;
  t->off = malloc(t->ids_cap * sizeof *t->off);
  t->len = malloc(t->ids_cap * sizeof *t->len);
  if (!t->slots || !t->arena || !t->off || !t->len) {
    tok_strtab_free(t);
    return SEER_ENOMEM;
  }
  return SEER_OK;
}

void tok_strtab_free(tok_strtab *t) {
  free(t->slots);
  free(t->arena);
  free(t->off);
  free(t->len);
  memset(t, 0, sizeof *t);
}

static int strtab_grow_slots(tok_strtab *t) {
  size_t cap = (t->mask + 1) * 2;
  tok_strslot *slots = calloc(cap, sizeof *slots);
  if (!slots) return SEER_ENOMEM;
  for (size_t i = 0; i <= t->mask; i++) {
    tok_strslot e = t->slots[i];
    if (!e.id1) continue;
    size_t j = e.hash & (cap - 1);
    while (slots[j].id1)
      j = (j + 1) & (cap - 1);
    slots[j] = e;
  }
  free(t->slots);
  t->slots = slots;
  t->mask = cap - 1;
  return SEER_OK;
}

int32_t tok_strtab_get(const tok_strtab *t, const char *s, size_t len) {
  return tok_strtab_get_h(t, s, len, (uint32_t)tok_hash(s, len));
}

void tok_strtab_prefetch(const tok_strtab *t, uint32_t h, const char *s, size_t len) {
  const tok_strslot *e = &t->slots[h & t->mask];
  if (!s) {
    __builtin_prefetch(e);
    return;
  }
  /* Second stage: the slot is (likely) cached now; fetch the arena bytes it points to. */
  if (e->hash == h && e->len == len) __builtin_prefetch(t->arena + e->off);
}

int32_t tok_strtab_get_h(const tok_strtab *t, const char *s, size_t len, uint32_t h) {
  if (!t->slots) return -1;
  size_t i = h & t->mask;
  for (;;) {
    const tok_strslot *e = &t->slots[i];
    if (!e->id1) return -1;
    if (e->hash == h && e->len == len && memcmp(t->arena + e->off, s, len) == 0)
      return (int32_t)(e->id1 - 1);
    i = (i + 1) & t->mask;
  }
}

int tok_strtab_set(tok_strtab *t, const char *s, size_t len, uint32_t id) {
  return tok_strtab_set_h(t, s, len, id, (uint32_t)tok_hash(s, len));
}

int tok_strtab_set_h(tok_strtab *t, const char *s, size_t len, uint32_t id, uint32_t h) {
  if (id >= t->ids_cap) {
    size_t cap = t->ids_cap;
    while (cap <= id)
      cap *= 2;
    uint32_t *off = realloc(t->off, cap * sizeof *off);
    if (!off) return SEER_ENOMEM;
    t->off = off;
    uint32_t *ln = realloc(t->len, cap * sizeof *ln);
    if (!ln) return SEER_ENOMEM;
    t->len = ln;
    t->ids_cap = cap;
  }
  while (t->nids <= id)
    t->len[t->nids++] = UINT32_MAX;
  if (t->arena_len + len + 1 > t->arena_cap) {
    size_t cap = t->arena_cap;
    while (t->arena_len + len + 1 > cap)
      cap *= 2;
    char *a = realloc(t->arena, cap);
    if (!a) return SEER_ENOMEM;
    t->arena = a;
    t->arena_cap = cap;
  }
  if ((t->count + 1) * 2 > t->mask + 1 && strtab_grow_slots(t)) return SEER_ENOMEM;
  size_t i = h & t->mask;
  for (;;) {
    tok_strslot *e = &t->slots[i];
    if (!e->id1) {
      t->count++;
      break;
    }
    if (e->hash == h && e->len == len && memcmp(t->arena + e->off, s, len) == 0) {
      /* Same string again: the later id wins and the old id loses its string. */
      t->len[e->id1 - 1] = UINT32_MAX;
      break;
    }
    i = (i + 1) & t->mask;
  }
  memcpy(t->arena + t->arena_len, s, len);
  t->arena[t->arena_len + len] = 0;
  t->off[id] = (uint32_t)t->arena_len;
  t->len[id] = (uint32_t)len;
  t->slots[i] = (tok_strslot){h, id + 1u, (uint32_t)t->arena_len, (uint32_t)len};
  t->arena_len += len + 1;
  return SEER_OK;
}

const char *tok_strtab_str(const tok_strtab *t, uint32_t id, size_t *len) {
  if (id >= t->nids || t->len[id] == UINT32_MAX) return NULL;
  if (len) *len = t->len[id];
  return t->arena + t->off[id];
}

int tok_mergemap_init(tok_mergemap *m, size_t expected) {
  size_t cap = pow2_at_least(expected * 2 + 2);
  m->slots = malloc(cap * sizeof *m->slots);
  if (!m->slots) return SEER_ENOMEM;
  memset(m->slots, 0xFF, cap * sizeof *m->slots);
  m->mask = cap - 1;
  m->count = 0;
  return SEER_OK;
}

void tok_mergemap_free(tok_mergemap *m) {
  free(m->slots);
  memset(m, 0, sizeof *m);
}

void tok_mergemap_prefetch(const tok_mergemap *m, uint32_t a, uint32_t b) {
  uint64_t key = ((uint64_t)a << 32) | b;
  __builtin_prefetch(&m->slots[(size_t)((key * 0x9E3779B97F4A7C15ull) >> 29) & m->mask], 1);
}

int tok_mergemap_put(tok_mergemap *m, uint32_t a, uint32_t b, uint32_t rank, uint32_t id) {
  if ((m->count + 1) * 2 > m->mask + 1) {
    size_t cap = (m->mask + 1) * 2;
    tok_merge_slot *slots = malloc(cap * sizeof *slots);
    if (!slots) return SEER_ENOMEM;
    memset(slots, 0xFF, cap * sizeof *slots);
    for (size_t i = 0; i <= m->mask; i++) {
      tok_merge_slot *s = &m->slots[i];
      if (s->key == UINT64_MAX) continue;
      size_t j = (size_t)((s->key * 0x9E3779B97F4A7C15ull) >> 29) & (cap - 1);
      while (slots[j].key != UINT64_MAX)
        j = (j + 1) & (cap - 1);
      slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
  }
  uint64_t key = ((uint64_t)a << 32) | b;
  size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 29) & m->mask;
  while (m->slots[i].key != UINT64_MAX && m->slots[i].key != key)
    i = (i + 1) & m->mask;
  if (m->slots[i].key == UINT64_MAX) m->count++;
  /* A repeated pair keeps the later rank, as collecting into a HashMap does. */
  m->slots[i].key = key;
  m->slots[i].rank = rank;
  m->slots[i].id = id;
  return SEER_OK;
}
