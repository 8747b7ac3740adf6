/* tok_added.c: owns added-token matching (HF AddedVocabulary::find_matches): leftmost-longest
 * matches with single_word, lstrip and rstrip, splitting text before the model sees it. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

static int32_t new_node(tok_trie *t) {
  if (t->nnodes == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    int32_t *v = realloc(t->value, cap * sizeof *v);
    if (!v) return -1;
    t->value = v;
    t->cap = cap;
  }
  t->value[t->nnodes] = -1;
  return (int32_t)t->nnodes++;
}

int tok_trie_build(tok_trie *t, const tok_added *added, size_t n, bool want_normalized,
                   char **patterns, size_t *pattern_len, seer_error *err) {
  memset(t, 0, sizeof *t);
  t->empty = true;
  if (tok_mergemap_init(&t->edges, 64) || new_node(t) < 0) goto oom;
  for (size_t i = 0; i < n; i++) {
    if (added[i].normalized != want_normalized || pattern_len[i] == 0) continue;
    const unsigned char *p = (const unsigned char *)patterns[i];
    uint32_t node = 0;
    for (size_t k = 0; k < pattern_len[i]; k++) {
      const tok_merge_slot *e = tok_mergemap_get(&t->edges, node, p[k]);
      if (e) {
        node = e->id;
        continue;
      }
      int32_t child = new_node(t);
      if (child < 0 || tok_mergemap_put(&t->edges, node, p[k], 0, (uint32_t)child)) goto oom;
      node = (uint32_t)child;
    }
    /* Two added tokens with the same text: the trie keeps the first, as a map keyed by it would
     * keep one id; HF builds its pattern list in id order too. */
    if (t->value[node] < 0) t->value[node] = (int32_t)i;
    t->first[p[0]] = true;
    t->empty = false;
  }
  return SEER_OK;
oom:
  tok_trie_free(t);
  return seer_errorf(err, SEER_ENOMEM, "out of memory building the added-token trie");
}

void tok_trie_free(tok_trie *t) {
  tok_mergemap_free(&t->edges);
  free(t->value);
  memset(t, 0, sizeof *t);
}

/* Longest match starting at s[i]: its end, with *which set; or 0. */
static size_t longest_at(const tok_trie *t, const unsigned char *s, size_t len, size_t i,
                         int32_t *which) {
  uint32_t node = 0;
  size_t best = 0;
  for (size_t k = i; k < len; k++) {
    const tok_merge_slot *e = tok_mergemap_get(&t->edges, node, s[k]);
    if (!e) break;
    node = e->id;
    if (t->value[node] >= 0) {
      best = k + 1;
      *which = t->value[node];
    }
  }
  return best;
}

static int32_t last_char(const char *s, size_t end) {
  if (end == 0) return -1;
  size_t k = end - 1;
  while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
    k--;
  int32_t cp;
  seer_utf8_decode((const unsigned char *)s + k, &cp);
  return cp;
}

static int split_piece(const struct seer_tokenizer *tok, const tok_trie *t, const char *s,
                       size_t len, bool at_origin, tok_pieces *out) {
  const unsigned char *u = (const unsigned char *)s;
  size_t start_offset = 0;
  for (size_t i = 0; i < len;) {
    if (!t->first[u[i]]) {
      i++;
      continue;
    }
    int32_t which = -1;
    size_t end = longest_at(t, u, len, i, &which);
    if (!end) {
      i++;
      continue;
    }
    size_t start = i, stop = end;
    i = end; /* matching resumes after the match, whatever stripping does below */
    const tok_added *a = &tok->added[which];
    if (a->single_word) {
      int32_t before = last_char(s, start), after = -1;
      if (stop < len) seer_utf8_decode(u + stop, &after);
      bool start_space = start == 0 || !tok_is_word_char(before);
      bool stop_space = stop == len || !tok_is_word_char(after);
      if (!start_space || !stop_space) continue;
    }
    if (a->lstrip) {
      size_t ns = start;
      while (ns > 0) {
        size_t k = ns - 1;
        while (k > 0 && (u[k] & 0xC0) == 0x80)
          k--;
        int32_t cp;
        seer_utf8_decode(u + k, &cp);
        if (!seer_unicode_is_whitespace(cp)) break;
        ns = k;
      }
      start = ns > start_offset ? ns : start_offset;
    }
    if (a->rstrip) {
      while (stop < len) {
        int32_t cp;
        size_t l = seer_utf8_decode(u + stop, &cp);
        if (!seer_unicode_is_whitespace(cp)) break;
        stop += l;
      }
    }
    if (start_offset < start && tok_pieces_push(out, s + start_offset, start - start_offset, -1,
                                                at_origin && !start_offset))
      return SEER_ENOMEM;
    if (tok_pieces_push(out, s + start, stop - start, a->id, at_origin && !start))
      return SEER_ENOMEM;
    start_offset = stop;
  }
  if (start_offset < len &&
      tok_pieces_push(out, s + start_offset, len - start_offset, -1, at_origin && !start_offset))
    return SEER_ENOMEM;
  return SEER_OK;
}

int tok_added_split(const struct seer_tokenizer *tok, const tok_trie *trie, tok_pieces *in,
                    tok_pieces *out, seer_error *err) {
  tok_pieces_clear(out);
  for (size_t i = 0; i < in->n; i++) {
    tok_piece pc = in->v[i];
    const char *s = tok_piece_str(in, i);
    int rc = pc.id >= 0 || trie->empty ? tok_pieces_push(out, s, pc.len, pc.id, pc.at_origin)
                                       : split_piece(tok, trie, s, pc.len, pc.at_origin, out);
    if (rc) return seer_errorf(err, SEER_ENOMEM, "out of memory splitting added tokens");
  }
  return SEER_OK;
}
