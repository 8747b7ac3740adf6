/* tok_encode.c: owns the encode and decode pipelines (added tokens -> normalizer -> pre-tokenizer
 * -> BPE -> post-processor, and ids -> tokens -> decoder) and the vocabulary accessors. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

static void swap(tok_pieces *a, tok_pieces *b) {
  tok_pieces t = *a;
  *a = *b;
  *b = t;
}

static int normalize_pieces(const seer_tokenizer *tok, tok_pieces *in, tok_pieces *out,
                            seer_error *err) {
  tok_pieces_clear(out);
  for (size_t i = 0; i < in->n; i++) {
    tok_piece pc = in->v[i];
    const char *s = tok_piece_str(in, i);
    if (pc.id >= 0) {
      if (tok_pieces_push(out, s, pc.len, pc.id, pc.at_origin)) return SEER_ENOMEM;
      continue;
    }
    size_t start = tok_pieces_begin(out);
    int rc = tok_normalize(tok->normalizer, s, pc.len, &out->arena, err);
    if (rc) return rc;
    if (tok_pieces_end(out, start, -1, pc.at_origin)) return SEER_ENOMEM;
  }
  return SEER_OK;
}

static int encode_pieces(const seer_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                         size_t *n, size_t *cap, seer_error *err) {
  tok_pieces a = {0}, b = {0};
  int rc = tok_pieces_push(&a, text, len, -1, true);
  if (!rc && tok->has_raw && !(rc = tok_added_split(tok, &tok->trie_raw, &a, &b, err)))
    swap(&a, &b);
  if (!rc && tok->normalizer && !(rc = normalize_pieces(tok, &a, &b, err))) swap(&a, &b);
  if (!rc && tok->has_norm && !(rc = tok_added_split(tok, &tok->trie_norm, &a, &b, err)))
    swap(&a, &b);
  if (!rc && tok->pretok && !(rc = tok_pretokenize(tok->pretok, &a, &b, err))) swap(&a, &b);
  for (size_t i = 0; !rc && i < a.n; i++) {
    tok_piece pc = a.v[i];
    if (pc.id >= 0) {
      if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        int32_t *v = realloc(*ids, c * sizeof *v);
        if (!v) {
          rc = SEER_ENOMEM;
          break;
        }
        *ids = v;
        *cap = c;
      }
      (*ids)[(*n)++] = pc.id;
      continue;
    }
    rc = tok_bpe_tokenize(&tok->bpe, tok_piece_str(&a, i), pc.len, ids, n, cap, err);
  }
  tok_pieces_free(&a);
  tok_pieces_free(&b);
  return rc;
}

int seer_tokenizer_encode(const seer_tokenizer *tok, const char *text, size_t len,
                          int add_special_tokens, int32_t **ids, size_t *n, seer_error *err) {
  *ids = NULL;
  *n = 0;
  size_t valid = seer_utf8_valid_prefix(text, len);
  if (valid != len)
    return seer_errorf(err, SEER_EINVAL, "tokenizer encode: text is not valid UTF-8 (byte %zu)",
                       valid);
  size_t cap = 0;
  if (err) err->msg[0] = 0;
  int rc = encode_pieces(tok, text, len, ids, n, &cap, err);
  if (!rc && add_special_tokens && tok->post) rc = tok_postprocess(tok->post, ids, n, &cap, err);
  if (rc) {
    if (rc == SEER_ENOMEM && err && !err->msg[0])
      seer_errorf(err, rc, "tokenizer encode: out of memory");
    free(*ids);
    *ids = NULL;
    *n = 0;
  }
  return rc;
}

static bool is_special_text(const seer_tokenizer *tok, const char *s, size_t len) {
  int32_t k = tok_strtab_get(&tok->added_map, s, len);
  return k >= 0 && tok->added[k].special;
}

int seer_tokenizer_decode(const seer_tokenizer *tok, const int32_t *ids, size_t n,
                          int skip_special_tokens, seer_buf *out, seer_error *err) {
  tok_pieces toks = {0};
  int rc = SEER_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    size_t len;
    const char *s = seer_tokenizer_id_to_token(tok, ids[i], &len);
    if (!s) continue; /* HF skips ids it does not know */
    if (skip_special_tokens && is_special_text(tok, s, len)) continue;
    rc = tok_pieces_push(&toks, s, len, -2, false);
  }
  if (rc) rc = seer_errorf(err, SEER_ENOMEM, "tokenizer decode: out of memory");
  if (!rc) rc = tok_decode_chain(tok->decoder, &toks, out, err);
  if (!rc && seer_buf_terminate(out)) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
  tok_pieces_free(&toks);
  return rc;
}

int32_t tok_token_to_id(const seer_tokenizer *tok, const char *s, size_t len) {
  int32_t k = tok_strtab_get(&tok->added_map, s, len);
  if (k >= 0) return tok->added[k].id;
  return tok_strtab_get(&tok->bpe.vocab, s, len);
}

int32_t seer_tokenizer_token_to_id(const seer_tokenizer *tok, const char *s, size_t len) {
  return tok_token_to_id(tok, s, len);
}

const char *seer_tokenizer_id_to_token(const seer_tokenizer *tok, int32_t id, size_t *len) {
  if (id < 0 || (size_t)id >= tok->id_space) return NULL;
  int32_t k = tok->added_by_id[id];
  if (k >= 0) {
    if (len) *len = tok->added[k].len;
    return tok->added[k].content;
  }
  return tok_strtab_str(&tok->bpe.vocab, (uint32_t)id, len);
}

size_t seer_tokenizer_vocab_size(const seer_tokenizer *tok) { return tok->id_space; }

int seer_tokenizer_is_special(const seer_tokenizer *tok, int32_t id) {
  if (id < 0 || (size_t)id >= tok->id_space) return 0;
  int32_t k = tok->added_by_id[id];
  return k >= 0 && tok->added[k].special;
}

const char *seer_tokenizer_bos_token(const seer_tokenizer *tok) { return tok->bos_token; }
const char *seer_tokenizer_eos_token(const seer_tokenizer *tok) { return tok->eos_token; }
int32_t seer_tokenizer_bos_id(const seer_tokenizer *tok) { return tok->bos_id; }
int32_t seer_tokenizer_eos_id(const seer_tokenizer *tok) { return tok->eos_id; }
const char *seer_tokenizer_chat_template(const seer_tokenizer *tok) { return tok->chat_template; }
