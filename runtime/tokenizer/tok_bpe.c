/* tok_bpe.c: owns the BPE model: vocab and merge tables, word -> ids with HF's merge order,
 * byte_fallback, unk fusing, ignore_merges, and a word cache. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading ---- */

static int bad_json(seer_error *err, const char *what, const char *base, const char *p) {
  return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: model.%s is malformed near byte %zu", what,
                     (size_t)(p - base));
}

/* Upper bound on the strings in a JSON span: two quotes each (escaped quotes only overcount).
 * Sizing the hash tables from it avoids both rehashing and huge zeroed tables. */
static size_t count_strings(const char *s, size_t len) {
  size_t q = 0;
  for (const char *p = s, *end = s + len; (p = memchr(p, '"', (size_t)(end - p))); p++)
    q++;
  return q / 2;
}

/* Vocab entries are inserted in batches too, prefetching each key's slot before inserting. */
#define VOCAB_BATCH 64

typedef struct vocab_batch {
  seer_buf arena;
  size_t n;
  size_t off[VOCAB_BATCH], len[VOCAB_BATCH];
  uint32_t id[VOCAB_BATCH], h[VOCAB_BATCH];
} vocab_batch;

static int vocab_flush(vocab_batch *B, tok_strtab *t) {
  for (size_t i = 0; i < B->n; i++) {
    B->h[i] = (uint32_t)tok_hash(B->arena.data + B->off[i], B->len[i]);
    /* Growth may rehash below; prefetching the current table is still a harmless hint. */
    tok_strtab_prefetch(t, B->h[i], NULL, 0);
  }
  for (size_t i = 0; i < B->n; i++)
    if (tok_strtab_set_h(t, B->arena.data + B->off[i], B->len[i], B->id[i], B->h[i]))
      return SEER_ENOMEM;
  B->n = 0;
  B->arena.len = 0;
  return SEER_OK;
}

static int id_out_of_range(seer_error *err, uint64_t id, const char *key, size_t klen,
                           size_t limit) {
  return seer_errorf(err, SEER_EFORMAT,
                     "tokenizer.json: model.vocab id %llu of \"%.*s\" is out of range: ids must be "
                     "below %zu, the number of vocab entries plus added_tokens; the file is "
                     "corrupt or hostile",
                     (unsigned long long)id, (int)(klen > 100 ? 100 : klen), key, limit);
}

/* Ids index arrays, so a declared id must not size them: each id is checked against the entries
 * the file can hold (its strings, an upper bound) while parsing and against the distinct entries it
 * did hold afterwards, plus the added tokens, whose ids may follow the vocab. */
static int load_vocab(tok_bpe *m, const char *s, size_t len, size_t nadded, seer_error *err) {
  const char *p = s, *end = s + len;
  size_t most = count_strings(s, len) + nadded;
  seer_buf scratch = SEER_BUF_INIT;
  vocab_batch *batch = calloc(1, sizeof *batch);
  if (!batch) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  if (tok_strtab_init(&m->vocab, most + 16, len))
    return seer_errorf(err, SEER_ENOMEM, "tokenizer.json: out of memory for model.vocab");
  int rc = SEER_OK;
  p = tok_json_ws(p, end);
  if (p >= end || *p != '{') goto bad;
  p = tok_json_ws(p + 1, end);
  if (p < end && *p == '}') goto done;
  for (;;) {
    const char *key;
    size_t klen;
    p = tok_json_ws(p, end);
    if (tok_json_string(&p, end, &scratch, &key, &klen)) goto bad;
    p = tok_json_ws(p, end);
    if (p >= end || *p != ':') goto bad;
    p = tok_json_ws(p + 1, end);
    uint64_t id = 0;
    const char *d = p;
    while (p < end && *p >= '0' && *p <= '9' && id <= 0x7FFFFFFF)
      id = id * 10 + (uint64_t)(*p++ - '0');
    if (p == d || id > 0x7FFFFFFF) goto bad;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) goto bad;
    if (id >= most) {
      rc = id_out_of_range(err, id, key, klen, most);
      goto done;
    }
    batch->off[batch->n] = batch->arena.len;
    batch->len[batch->n] = klen;
    batch->id[batch->n++] = (uint32_t)id;
    if (seer_buf_append(&batch->arena, key, klen) ||
        (batch->n == VOCAB_BATCH && vocab_flush(batch, &m->vocab))) {
      rc = seer_errorf(err, SEER_ENOMEM, "tokenizer.json: out of memory for model.vocab");
      goto done;
    }
    p = tok_json_ws(p, end);
    if (p >= end) goto bad;
    if (*p == '}') break;
    if (*p != ',') goto bad;
    p++;
  }
  if (vocab_flush(batch, &m->vocab))
    rc = seer_errorf(err, SEER_ENOMEM, "tokenizer.json: out of memory for model.vocab");
  if (!rc && m->vocab.nids > m->vocab.count + nadded) {
    uint32_t last = (uint32_t)m->vocab.nids - 1;
    size_t klen = 0;
    const char *key = tok_strtab_str(&m->vocab, last, &klen);
    rc = id_out_of_range(err, last, key ? key : "", klen, m->vocab.count + nadded);
  }
  goto done;
bad:
  rc = bad_json(err, "vocab", s, p);
done:
  seer_buf_free(&scratch);
  seer_buf_free(&batch->arena);
  free(batch);
  return rc;
}

/* Merges are resolved in batches: hashing every key first and prefetching its slot, then its
 * bytes, lets the cache misses of 500k+ random lookups overlap instead of queueing. */
#define MERGE_BATCH 64

typedef struct merge_batch {
  seer_buf arena; /* a, b and a+b (minus the continuing prefix) of each pending merge */
  size_t n;
  struct {
    size_t off[3], len[3];
    uint32_t h[3];
    uint32_t rank;
  } e[MERGE_BATCH];
} merge_batch;

static int batch_add(merge_batch *B, const tok_bpe *m, const char *a, size_t alen, const char *b,
                     size_t blen, uint32_t rank) {
  size_t skip = m->prefix_len <= blen ? m->prefix_len : 0;
  size_t i = B->n++;
  B->e[i].rank = rank;
  B->e[i].off[0] = B->arena.len;
  B->e[i].len[0] = alen;
  B->e[i].off[1] = B->arena.len + alen;
  B->e[i].len[1] = blen;
  B->e[i].off[2] = B->arena.len + alen + blen;
  B->e[i].len[2] = alen + blen - skip;
  if (seer_buf_append(&B->arena, a, alen) || seer_buf_append(&B->arena, b, blen) ||
      seer_buf_append(&B->arena, a, alen) || seer_buf_append(&B->arena, b + skip, blen - skip))
    return SEER_ENOMEM;
  return SEER_OK;
}

static int batch_flush(merge_batch *B, tok_bpe *m, seer_error *err) {
  const tok_strtab *v = &m->vocab;
  const char *base = B->arena.data;
  for (size_t i = 0; i < B->n; i++)
    for (int k = 0; k < 3; k++) {
      B->e[i].h[k] = (uint32_t)tok_hash(base + B->e[i].off[k], B->e[i].len[k]);
      tok_strtab_prefetch(v, B->e[i].h[k], NULL, 0);
    }
  for (size_t i = 0; i < B->n; i++)
    for (int k = 0; k < 3; k++)
      tok_strtab_prefetch(v, B->e[i].h[k], base + B->e[i].off[k], B->e[i].len[k]);
  int32_t ids[MERGE_BATCH][3];
  for (size_t i = 0; i < B->n; i++) {
    for (int k = 0; k < 3; k++) {
      ids[i][k] = tok_strtab_get_h(v, base + B->e[i].off[k], B->e[i].len[k], B->e[i].h[k]);
      if (ids[i][k] < 0) {
        size_t len = B->e[i].len[k];
        return seer_errorf(err, SEER_EFORMAT,
                           "tokenizer.json: model.merges[%u]: token \"%.*s\" is not in model.vocab",
                           B->e[i].rank, (int)(len > 100 ? 100 : len), base + B->e[i].off[k]);
      }
    }
    tok_mergemap_prefetch(&m->merges, (uint32_t)ids[i][0], (uint32_t)ids[i][1]);
  }
  for (size_t i = 0; i < B->n; i++)
    if (tok_mergemap_put(&m->merges, (uint32_t)ids[i][0], (uint32_t)ids[i][1], B->e[i].rank,
                         (uint32_t)ids[i][2]))
      return seer_errorf(err, SEER_ENOMEM, "tokenizer.json: out of memory for model.merges");
  B->n = 0;
  B->arena.len = 0;
  return SEER_OK;
}

static int load_merges(tok_bpe *m, const char *s, size_t len, seer_error *err) {
  const char *p = s, *end = s + len;
  seer_buf s1 = SEER_BUF_INIT, s2 = SEER_BUF_INIT;
  merge_batch *batch = calloc(1, sizeof *batch);
  if (!batch) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  /* Merges are "a b" (one string) or ["a", "b"] (two). */
  const char *first = tok_json_ws(s, s + len);
  first = first < s + len ? tok_json_ws(first + 1, s + len) : first;
  size_t strings = count_strings(s, len);
  if (tok_mergemap_init(&m->merges,
                        (first < s + len && *first == '[' ? strings / 2 : strings) + 16))
    return seer_errorf(err, SEER_ENOMEM, "tokenizer.json: out of memory for model.merges");
  int rc = SEER_OK;
  uint32_t rank = 0;
  p = tok_json_ws(p, end);
  if (p >= end || *p != '[') goto bad;
  p = tok_json_ws(p + 1, end);
  if (p < end && *p == ']') goto done;
  for (;; rank++) {
    const char *a, *b;
    size_t alen, blen;
    p = tok_json_ws(p, end);
    if (p >= end) goto bad;
    if (*p == '"') {
      /* Legacy "a b": exactly one space separates the halves. */
      const char *str;
      size_t slen;
      if (tok_json_string(&p, end, &s1, &str, &slen)) goto bad;
      const char *sp = memchr(str, ' ', slen);
      if (!sp || memchr(sp + 1, ' ', slen - (size_t)(sp - str) - 1)) {
        rc = seer_errorf(err, SEER_EFORMAT,
                         "tokenizer.json: model.merges[%u] \"%.*s\" is not two tokens separated "
                         "by one space",
                         rank, (int)(slen > 100 ? 100 : slen), str);
        goto done;
      }
      a = str, alen = (size_t)(sp - str), b = sp + 1, blen = slen - alen - 1;
    } else if (*p == '[') {
      p = tok_json_ws(p + 1, end);
      if (tok_json_string(&p, end, &s1, &a, &alen)) goto bad;
      p = tok_json_ws(p, end);
      if (p >= end || *p != ',') goto bad;
      p = tok_json_ws(p + 1, end);
      if (tok_json_string(&p, end, &s2, &b, &blen)) goto bad;
      p = tok_json_ws(p, end);
      if (p >= end || *p != ']') goto bad;
      p++;
    } else {
      goto bad;
    }
    if (batch_add(batch, m, a, alen, b, blen, rank)) {
      rc = seer_errorf(err, SEER_ENOMEM, "tokenizer.json: out of memory for model.merges");
      goto done;
    }
    if (batch->n == MERGE_BATCH && (rc = batch_flush(batch, m, err))) goto done;
    p = tok_json_ws(p, end);
    if (p >= end) goto bad;
    if (*p == ']') break;
    if (*p != ',') goto bad;
    p++;
  }
  rc = batch_flush(batch, m, err);
  goto done;
bad:
  rc = bad_json(err, "merges", s, p);
done:
  seer_buf_free(&s1);
  seer_buf_free(&s2);
  seer_buf_free(&batch->arena);
  free(batch);
  return rc;
}

int tok_bpe_load_vocab_merges(tok_bpe *m, const char *vocab_json, size_t vocab_len,
                              const char *merges_json, size_t merges_len, size_t nadded,
                              seer_error *err) {
  int rc = load_vocab(m, vocab_json, vocab_len, nadded, err);
  if (rc) return rc;
  if (!merges_json) {
    if (tok_mergemap_init(&m->merges, 16)) return seer_errorf(err, SEER_ENOMEM, "out of memory");
    return SEER_OK;
  }
  return load_merges(m, merges_json, merges_len, err);
}

/* ---- word cache ---- */

#define CACHE_SLOTS 16384
#define CACHE_MAX_WORD 64

typedef struct cache_entry {
  uint64_t hash;
  uint32_t len, nids;
  char *data; /* key bytes, then nids int32 ids (aligned) */
} cache_entry;

struct tok_bpe_cache {
  pthread_mutex_t mu;
  cache_entry slots[CACHE_SLOTS];
};

static size_t ids_offset(size_t len) { return (len + 3) & ~(size_t)3; }

static bool cache_get(tok_bpe_cache *c, uint64_t h, const char *s, size_t len, int32_t **ids,
                      size_t *n, size_t *cap, int *rc) {
  if (!c || pthread_mutex_trylock(&c->mu)) return false;
  cache_entry *e = &c->slots[h & (CACHE_SLOTS - 1)];
  bool hit = e->data && e->hash == h && e->len == len && !memcmp(e->data, s, len);
  if (hit) {
    if (*n + e->nids > *cap) {
      size_t nc = *cap ? *cap * 2 : 64;
      while (nc < *n + e->nids)
        nc *= 2;
      int32_t *v = realloc(*ids, nc * sizeof *v);
      if (!v) {
        *rc = SEER_ENOMEM;
        pthread_mutex_unlock(&c->mu);
        return true;
      }
      *ids = v;
      *cap = nc;
    }
    memcpy(*ids + *n, e->data + ids_offset(len), e->nids * sizeof(int32_t));
    *n += e->nids;
  }
  pthread_mutex_unlock(&c->mu);
  return hit;
}

static void cache_put(tok_bpe_cache *c, uint64_t h, const char *s, size_t len, const int32_t *ids,
                      size_t nids) {
  if (!c || nids > 255) return;
  char *data = malloc(ids_offset(len) + nids * sizeof(int32_t));
  if (!data) return; /* the cache is an optimisation; a failed insert only costs speed */
  memcpy(data, s, len);
  memcpy(data + ids_offset(len), ids, nids * sizeof(int32_t));
  if (pthread_mutex_trylock(&c->mu)) {
    free(data);
    return;
  }
  cache_entry *e = &c->slots[h & (CACHE_SLOTS - 1)];
  free(e->data);
  *e = (cache_entry){h, (uint32_t)len, (uint32_t)nids, data};
  pthread_mutex_unlock(&c->mu);
}

/* ---- configuration ---- */

static int opt_string(json_t *model, const char *key, char **out, size_t *len, seer_error *err) {
  json_t *v = json_object_get(model, key);
  *out = NULL;
  if (len) *len = 0;
  if (!v || json_is_null(v)) return SEER_OK;
  if (!json_is_string(v))
    return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: model.%s must be a string or null", key);
  *out = strdup(json_string_value(v));
  if (!*out) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  if (len) *len = json_string_length(v);
  return SEER_OK;
}

int tok_bpe_configure(tok_bpe *m, json_t *model, seer_error *err) {
  json_t *dropout = json_object_get(model, "dropout");
  if (dropout && !json_is_null(dropout) &&
      !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
    return seer_errorf(err, SEER_ENOTSUP,
                       "tokenizer.json: model.dropout must be null (BPE dropout is random and "
                       "not supported)");
  m->byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
  m->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
  m->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
  int rc;
  if ((rc = opt_string(model, "unk_token", &m->unk_token, NULL, err)) ||
      (rc = opt_string(model, "continuing_subword_prefix", &m->prefix, &m->prefix_len, err)) ||
      (rc = opt_string(model, "end_of_word_suffix", &m->suffix, &m->suffix_len, err)))
    return rc;
  m->unk_id = m->unk_token ? tok_strtab_get(&m->vocab, m->unk_token, strlen(m->unk_token)) : -1;
  for (int b = 0; b < 256; b++) {
    char code[8];
    snprintf(code, sizeof code, "<0x%02X>", b);
    m->byte_ids[b] = tok_strtab_get(&m->vocab, code, 6);
  }
  m->cache = calloc(1, sizeof *m->cache);
  if (!m->cache) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  pthread_mutex_init(&m->cache->mu, NULL);
  return SEER_OK;
}

void tok_bpe_free(tok_bpe *m) {
  tok_strtab_free(&m->vocab);
  tok_mergemap_free(&m->merges);
  free(m->unk_token);
  free(m->prefix);
  free(m->suffix);
  if (m->cache) {
    for (size_t i = 0; i < CACHE_SLOTS; i++)
      free(m->cache->slots[i].data);
    pthread_mutex_destroy(&m->cache->mu);
    free(m->cache);
  }
  memset(m, 0, sizeof *m);
}

/* ---- tokenize ---- */

typedef struct sym {
  int32_t id;
  int32_t prev, next;
  uint32_t len; /* bytes covered; 0 once merged into its left neighbour */
} sym;

typedef struct heap_item {
  uint32_t rank, pos;
  int32_t id;
} heap_item;

static inline bool heap_less(heap_item a, heap_item b) {
  return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void heap_push(heap_item *h, size_t *n, heap_item x) {
  size_t i = (*n)++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!heap_less(x, h[parent])) break;
    h[i] = h[parent];
    i = parent;
  }
  h[i] = x;
}

static heap_item heap_pop(heap_item *h, size_t *n) {
  heap_item top = h[0], x = h[--*n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    heap_item best = x;
    if (l < *n && heap_less(h[l], best)) m = l, best = h[l];
    if (r < *n && heap_less(h[r], best)) m = r;
    if (m == i) break;
    h[i] = h[m];
    i = m;
  }
  if (*n) h[i] = x;
  return top;
}

/* HF Word::merge_all: repeatedly merge the lowest-ranked adjacent pair, leftmost first. */
static int merge_all(const tok_bpe *m, sym *s, size_t n) {
  /* Each merge pops one entry and pushes at most two, and there are fewer than n merges. */
  heap_item *h = malloc((2 * n + 2) * sizeof *h);
  if (!h) return SEER_ENOMEM;
  size_t hn = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    const tok_merge_slot *mg =
        tok_mergemap_get(&m->merges, (uint32_t)s[i].id, (uint32_t)s[i + 1].id);
    if (mg) heap_push(h, &hn, (heap_item){mg->rank, (uint32_t)i, (int32_t)mg->id});
  }
  while (hn) {
    heap_item top = heap_pop(h, &hn);
    sym *cur = &s[top.pos];
    if (cur->len == 0 || cur->next < 0) continue;
    sym *right = &s[cur->next];
    const tok_merge_slot *mg = tok_mergemap_get(&m->merges, (uint32_t)cur->id, (uint32_t)right->id);
    if (!mg || (int32_t)mg->id != top.id) continue; /* stale entry */
    cur->id = top.id;
    cur->len += right->len;
    right->len = 0;
    cur->next = right->next;
    if (right->next >= 0) s[right->next].prev = (int32_t)top.pos;
    if (cur->prev >= 0) {
      mg = tok_mergemap_get(&m->merges, (uint32_t)s[cur->prev].id, (uint32_t)cur->id);
      if (mg) heap_push(h, &hn, (heap_item){mg->rank, (uint32_t)cur->prev, (int32_t)mg->id});
    }
    if (cur->next >= 0) {
      mg = tok_mergemap_get(&m->merges, (uint32_t)cur->id, (uint32_t)s[cur->next].id);
      if (mg) heap_push(h, &hn, (heap_item){mg->rank, top.pos, (int32_t)mg->id});
    }
  }
  free(h);
  return SEER_OK;
}

static int push_sym(sym **s, size_t *n, size_t *cap, int32_t id, size_t len) {
  if (*n == *cap) {
    size_t c = *cap * 2;
    sym *v = realloc(*s, c * sizeof *v);
    if (!v) return SEER_ENOMEM;
    *s = v;
    *cap = c;
  }
  (*s)[*n] = (sym){id, (int32_t)*n - 1, -1, (uint32_t)len};
  if (*n) (*s)[*n - 1].next = (int32_t)*n;
  (*n)++;
  return SEER_OK;
}

static int emit(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 64;
    int32_t *v = realloc(*ids, c * sizeof *v);
    if (!v) return SEER_ENOMEM;
    *ids = v;
    *cap = c;
  }
  (*ids)[(*n)++] = id;
  return SEER_OK;
}

/* HF BPE::merge_word: one symbol per character (with prefix/suffix), byte fallback, unk fusing. */
static int build_symbols(const tok_bpe *m, const char *w, size_t len, sym **out, size_t *nout,
                         seer_error *err) {
  size_t cap = len + 4, n = 0;
  sym *s = malloc(cap * sizeof *s);
  seer_buf tmp = SEER_BUF_INIT;
  int rc = SEER_OK;
  if (!s) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  int32_t unk = -1;
  size_t unk_len = 0;
  bool affix = (m->prefix && m->prefix_len) || (m->suffix && m->suffix_len);
  for (size_t i = 0; i < len;) {
    size_t cl = seer_utf8_len((unsigned char)w[i]);
    if (i + cl > len) cl = len - i;
    const char *c = w + i;
    size_t clen = cl;
    if (affix) {
      tmp.len = 0;
      if ((i > 0 && m->prefix && seer_buf_append(&tmp, m->prefix, m->prefix_len)) ||
          seer_buf_append(&tmp, w + i, cl) ||
          (i + cl == len && m->suffix && seer_buf_append(&tmp, m->suffix, m->suffix_len)))
        goto oom;
      c = tmp.data;
      clen = tmp.len;
    }
    int32_t id = tok_strtab_get(&m->vocab, c, clen);
    i += cl;
    if (id >= 0) {
      if (unk >= 0) {
        if (push_sym(&s, &n, &cap, unk, unk_len)) goto oom;
        unk = -1;
      }
      if (push_sym(&s, &n, &cap, id, cl)) goto oom;
      continue;
    }
    if (m->byte_fallback) {
      bool all = true;
      for (size_t k = 0; k < clen && all; k++)
        all = m->byte_ids[(unsigned char)c[k]] >= 0;
      if (all) {
        for (size_t k = 0; k < clen; k++)
          if (push_sym(&s, &n, &cap, m->byte_ids[(unsigned char)c[k]], 1)) goto oom;
        continue;
      }
    }
    if (m->unk_token) {
      if (m->unk_id < 0) {
        rc = seer_errorf(err, SEER_EFORMAT,
                         "tokenizer.json: model.unk_token \"%s\" is not in "
                         "model.vocab",
                         m->unk_token);
        goto done;
      }
      if (unk >= 0 && m->fuse_unk) {
        unk_len += cl;
      } else {
        if (unk >= 0 && push_sym(&s, &n, &cap, unk, unk_len)) goto oom;
        unk = m->unk_id;
        unk_len = cl;
      }
    }
    /* No unk_token: HF drops the character silently. */
  }
  if (unk >= 0 && push_sym(&s, &n, &cap, unk, unk_len)) goto oom;
  goto done;
oom:
  rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
done:
  seer_buf_free(&tmp);
  if (rc) {
    free(s);
    return rc;
  }
  *out = s;
  *nout = n;
  return SEER_OK;
}

int tok_bpe_tokenize(const tok_bpe *m, const char *w, size_t len, int32_t **ids, size_t *n,
                     size_t *cap, seer_error *err) {
  if (len == 0) return SEER_OK;
  if (m->ignore_merges) {
    int32_t id = tok_strtab_get(&m->vocab, w, len);
    if (id >= 0) return emit(ids, n, cap, id) ? seer_errorf(err, SEER_ENOMEM, "out of memory") : 0;
  }
  uint64_t h = 0;
  bool cacheable = len <= CACHE_MAX_WORD;
  if (cacheable) {
    int rc = SEER_OK;
    h = tok_hash(w, len);
    if (cache_get(m->cache, h, w, len, ids, n, cap, &rc))
      return rc ? seer_errorf(err, rc, "out of memory") : SEER_OK;
  }
  sym *s = NULL;
  size_t ns = 0;
  int rc = build_symbols(m, w, len, &s, &ns, err);
  if (rc) return rc;
  if (ns > 1 && merge_all(m, s, ns)) {
    free(s);
    return seer_errorf(err, SEER_ENOMEM, "out of memory");
  }
  size_t first = *n;
  for (size_t i = 0; i < ns; i++) {
    if (s[i].len == 0) continue;
    if (emit(ids, n, cap, s[i].id)) {
      free(s);
      return seer_errorf(err, SEER_ENOMEM, "out of memory");
    }
  }
  free(s);
  /* A word with no ids (unknown pieces, no unk token) is not cached: *ids may still be NULL. */
  if (cacheable && *n > first) cache_put(m->cache, h, w, len, *ids + first, *n - first);
  return SEER_OK;
}
