/* Internal types shared by the tokenizer files: string tables, piece lists and pipeline components.
 */
#ifndef SEER_TOK_INTERNAL_H
#define SEER_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>

#include "seer/buf.h"
#include "seer/error.h"
#include "seer/tokenizer.h"
#include "seer/utf8.h"

/* ---- string table: id -> bytes, bytes -> id (tok_map.c) ---- */

typedef struct tok_strslot {
  uint32_t hash, id1; /* id1 == 0: empty slot; otherwise id + 1 */
  uint32_t off, len;  /* the key, copied here so a probe touches one cache line, then the arena */
} tok_strslot;

typedef struct tok_strtab {
  char *arena;
  size_t arena_len, arena_cap;
  uint32_t *off, *len; /* by id; len == UINT32_MAX marks an unused id */
  size_t nids, ids_cap;
  tok_strslot *slots;
  size_t mask, count;
} tok_strtab;

uint64_t tok_hash(const void *p, size_t len);
int tok_strtab_init(tok_strtab *t, size_t expected, size_t arena_bytes);
void tok_strtab_free(tok_strtab *t);
/* Maps s <-> id. A string already present is re-pointed to the new id (last one wins, as serde
 * builds the vocab map); returns SEER_ENOMEM only. */
int tok_strtab_set(tok_strtab *t, const char *s, size_t len, uint32_t id);
int32_t tok_strtab_get(const tok_strtab *t, const char *s, size_t len);
/* The same with h = (uint32_t)tok_hash(s, len) computed by the caller, for batched loading that
 * prefetches slots (s == NULL) and then key bytes before probing. */
int32_t tok_strtab_get_h(const tok_strtab *t, const char *s, size_t len, uint32_t h);
int tok_strtab_set_h(tok_strtab *t, const char *s, size_t len, uint32_t id, uint32_t h);
void tok_strtab_prefetch(const tok_strtab *t, uint32_t h, const char *s, size_t len);
const char *tok_strtab_str(const tok_strtab *t, uint32_t id, size_t *len);

/* ---- merge ranks: (left id, right id) -> (rank, merged id) ---- */

typedef struct tok_merge_slot {
  uint64_t key; /* (a << 32) | b, UINT64_MAX when empty */
  uint32_t rank, id;
} tok_merge_slot;

typedef struct tok_mergemap {
  tok_merge_slot *slots;
  size_t mask, count;
} tok_mergemap;

int tok_mergemap_init(tok_mergemap *m, size_t expected);
void tok_mergemap_free(tok_mergemap *m);
int tok_mergemap_put(tok_mergemap *m, uint32_t a, uint32_t b, uint32_t rank, uint32_t id);
void tok_mergemap_prefetch(const tok_mergemap *m, uint32_t a, uint32_t b);
static inline const tok_merge_slot *tok_mergemap_get(const tok_mergemap *m, uint32_t a,
                                                     uint32_t b) {
  uint64_t key = ((uint64_t)a << 32) | b;
  uint64_t h = key * 0x9E3779B97F4A7C15ull;
  size_t i = (size_t)(h >> 29) & m->mask;
  for (;;) {
    const tok_merge_slot *s = &m->slots[i];
    if (s->key == key) return s;
    if (s->key == UINT64_MAX) return NULL;
    i = (i + 1) & m->mask;
  }
}

/* ---- pieces: a list of byte strings in one arena, each maybe already a token ---- */

typedef struct tok_piece {
  size_t off, len; /* into the list's arena */
  int32_t id;      /* >= 0: an added token already matched; -1: still text; -2: a decoded string */
  bool at_origin;  /* starts at offset 0 of the original input (Metaspace prepend_scheme=first) */
} tok_piece;

typedef struct tok_pieces {
  tok_piece *v;
  size_t n, cap;
  seer_buf arena;
} tok_pieces;

void tok_pieces_clear(tok_pieces *p);
void tok_pieces_free(tok_pieces *p);
/* Appends a piece holding a copy of s. Empty text pieces are dropped, as HF drops empty splits. */
int tok_pieces_push(tok_pieces *p, const char *s, size_t len, int32_t id, bool at_origin);
/* Starts a piece whose bytes the caller then appends to p->arena; finish with tok_pieces_end. */
static inline size_t tok_pieces_begin(tok_pieces *p) { return p->arena.len; }
int tok_pieces_end(tok_pieces *p, size_t start, int32_t id, bool at_origin);
/* "" for pieces whose arena was never allocated (all empty, as a Strip decoder can leave them). */
static inline const char *tok_piece_str(const tok_pieces *p, size_t i) {
  return p->arena.data ? p->arena.data + p->v[i].off : "";
}

/* ---- regex (tok_regex.c): Oniguruma-flavoured patterns run on PCRE2 ---- */

typedef struct tok_regex {
  pcre2_code *code;
  char *literal; /* non-NULL: a plain string pattern, matched with memmem */
  size_t literal_len;
} tok_regex;

/* A span [start, end) of a match or a gap, as HF's Pattern::find_matches yields them. */
typedef struct tok_span {
  size_t start, end;
  bool match;
} tok_span;

typedef struct tok_spans {
  tok_span *v;
  size_t n, cap;
} tok_spans;

/* Compiles a tokenizer.json pattern object {"String": s} or {"Regex": r}; `what` names the owner.
 */
int tok_regex_from_json(json_t *pattern, const char *what, tok_regex *out, seer_error *err);
int tok_regex_compile(const char *pat, size_t len, bool literal, const char *what, tok_regex *out,
                      seer_error *err);
void tok_regex_free(tok_regex *re);
/* Fills spans covering s (HF find_matches: an empty input yields one empty gap). */
int tok_regex_find(const tok_regex *re, const char *s, size_t len, tok_spans *out, seer_error *err);
/* Appends s with every match replaced by `rep`. */
int tok_regex_replace(const tok_regex *re, const char *s, size_t len, const char *rep,
                      size_t rep_len, seer_buf *out, seer_error *err);
void tok_spans_free(tok_spans *s);
int tok_spans_push(tok_spans *s, size_t start, size_t end, bool match);

/* ---- Unicode helpers (tok_unicode.c) ---- */

/* GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the others are moved
 * to U+0100.. in byte order. */
static inline int32_t tok_byte_to_char(unsigned b) {
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return (int32_t)b;
  return b <= 32 ? 256 + (int32_t)b : b <= 160 ? 162 + (int32_t)b : 323;
}
/* Inverse of tok_byte_to_char; -1 for characters outside the alphabet. */
static inline int tok_char_to_byte(int32_t c) {
  if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255)) return c;
  if (c >= 256 && c <= 288) return c - 256;
  if (c >= 289 && c <= 322) return c - 162;
  return c == 323 ? 173 : -1;
}
bool tok_is_word_char(int32_t cp);   /* Rust regex \w */
bool tok_is_numeric(int32_t cp);     /* Rust char::is_numeric */
bool tok_is_punctuation(int32_t cp); /* HF is_punc: ASCII punctuation or Unicode P* */

/* ---- components (each file parses its own JSON and owns its behaviour) ---- */

typedef struct tok_normalizer tok_normalizer;
typedef struct tok_pretok tok_pretok;
typedef struct tok_decoder tok_decoder;
typedef struct tok_postproc tok_postproc;

int tok_normalizer_parse(json_t *j, const char *path, tok_normalizer **out, seer_error *err);
void tok_normalizer_free(tok_normalizer *n);
/* Appends normalize(s) to out. */
int tok_normalize(const tok_normalizer *n, const char *s, size_t len, seer_buf *out,
                  seer_error *err);

int tok_pretok_parse(json_t *j, const char *path, tok_pretok **out, seer_error *err);
void tok_pretok_free(tok_pretok *p);
/* Splits the text pieces of in into out (token pieces pass through). in is consumed. */
int tok_pretokenize(const tok_pretok *p, tok_pieces *in, tok_pieces *out, seer_error *err);

int tok_decoder_parse(json_t *j, const char *path, tok_decoder **out, seer_error *err);
void tok_decoder_free(tok_decoder *d);
/* Runs the decode chain over the token strings in `tokens` (consumed) and appends the joined text.
 */
int tok_decode_chain(const tok_decoder *d, tok_pieces *tokens, seer_buf *out, seer_error *err);

struct seer_tokenizer;
int tok_postproc_parse(json_t *j, const char *path, const struct seer_tokenizer *tok,
                       tok_postproc **out, seer_error *err);
void tok_postproc_free(tok_postproc *p);
/* Adds special tokens around ids (only called when add_special_tokens). */
int tok_postprocess(const tok_postproc *p, int32_t **ids, size_t *n, size_t *cap, seer_error *err);

/* ---- added tokens (tok_added.c) ---- */

typedef struct tok_added {
  int32_t id;
  char *content;
  size_t len;
  bool special, lstrip, rstrip, normalized, single_word;
} tok_added;

/* A byte trie for leftmost-longest matching of added tokens; edges live in a hash keyed by
 * (node, byte), which keeps building trivial and lookups one probe per byte. */
typedef struct tok_trie {
  tok_mergemap edges; /* (node, byte) -> child node in .id */
  int32_t *value;     /* per node: index into added[] or -1 */
  size_t nnodes, cap;
  bool first[256]; /* bytes that can start a match */
  bool empty;
} tok_trie;

/* Builds the trie over added[i] for which normalized == want_normalized; patterns[i] (length
 * pattern_len[i]) is the text to match. */
int tok_trie_build(tok_trie *t, const tok_added *added, size_t n, bool want_normalized,
                   char **patterns, size_t *pattern_len, seer_error *err);
void tok_trie_free(tok_trie *t);
/* Splits the text pieces of in by added-token matches into out (HF find_matches). */
int tok_added_split(const struct seer_tokenizer *tok, const tok_trie *trie, tok_pieces *in,
                    tok_pieces *out, seer_error *err);

/* ---- BPE model (tok_bpe.c) ---- */

typedef struct tok_bpe_cache tok_bpe_cache;

typedef struct tok_bpe {
  tok_strtab vocab;
  tok_mergemap merges;
  bool byte_fallback, fuse_unk, ignore_merges;
  int32_t unk_id; /* -1: no unk_token */
  char *unk_token;
  char *prefix, *suffix; /* continuing_subword_prefix / end_of_word_suffix, NULL when null */
  size_t prefix_len, suffix_len;
  int32_t byte_ids[256]; /* <0xXX> tokens for byte_fallback, -1 when missing */
  tok_bpe_cache *cache;
} tok_bpe;

/* Ids are bounded by the file itself: every vocab id must be below the number of vocab entries plus
 * `nadded` (the added_tokens given), so tables sized by ids stay proportional to the file. */
int tok_bpe_load_vocab_merges(tok_bpe *m, const char *vocab_json, size_t vocab_len,
                              const char *merges_json, size_t merges_len, size_t nadded,
                              seer_error *err);
int tok_bpe_configure(tok_bpe *m, json_t *model, seer_error *err);
void tok_bpe_free(tok_bpe *m);
/* Appends the ids of one word to *ids. */
int tok_bpe_tokenize(const tok_bpe *m, const char *s, size_t len, int32_t **ids, size_t *n,
                     size_t *cap, seer_error *err);

/* ---- JSON scanning for the big vocab/merges values (tok_json.c) ---- */

typedef struct tok_jspan {
  size_t start, end; /* byte range of a value, end exclusive; start == end when absent */
} tok_jspan;

/* Finds model.vocab and model.merges in tokenizer.json text without building a DOM. */
int tok_json_find_model_spans(const char *s, size_t len, tok_jspan *vocab, tok_jspan *merges,
                              seer_error *err);
/* Parses a JSON string at *p (pointing at the opening quote). Sets *out and *out_len to the decoded
 * bytes: either a pointer into the source (no escapes) or into scratch. Advances *p. */
int tok_json_string(const char **p, const char *end, seer_buf *scratch, const char **out,
                    size_t *out_len);
const char *tok_json_ws(const char *p, const char *end);

/* ---- the tokenizer ---- */

struct seer_tokenizer {
  tok_bpe bpe;
  tok_added *added;
  size_t nadded;
  tok_strtab added_map; /* content -> index into added[] */
  int32_t *added_by_id; /* id -> index into added[], -1; sized id_space */
  size_t id_space;
  tok_trie trie_raw, trie_norm;
  bool has_raw, has_norm;
  tok_normalizer *normalizer;
  tok_pretok *pretok;
  tok_postproc *post;
  tok_decoder *decoder;
  /* tokenizer_config.json */
  char *bos_token, *eos_token, *chat_template;
  int32_t bos_id, eos_id;
  json_t *special_vars; /* *_token string variables handed to the chat template */
};

int32_t tok_token_to_id(const struct seer_tokenizer *tok, const char *s, size_t len);
int tok_config_load(struct seer_tokenizer *tok, const char *text, size_t len, seer_error *err);

#endif
