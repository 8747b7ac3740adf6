/* tok_pretok.c: owns the pre-tokenizers (Split, ByteLevel, Metaspace, Whitespace, WhitespaceSplit,
 * Digits, Punctuation, Sequence) and HF's split-delimiter behaviours. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P_SPLIT, P_BYTELEVEL, P_METASPACE, P_WHITESPACE, P_WSSPLIT, P_DIGITS, P_PUNCT, P_SEQ };
enum { B_REMOVED, B_ISOLATED, B_MERGED_PREV, B_MERGED_NEXT, B_CONTIGUOUS };
enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

struct tok_pretok {
  int type;
  tok_regex re;           /* Split */
  int behavior;           /* Split, Punctuation */
  bool invert;            /* Split */
  bool add_prefix_space;  /* ByteLevel */
  bool use_regex;         /* ByteLevel */
  bool individual_digits; /* Digits */
  char repl[8];           /* Metaspace replacement character, UTF-8 */
  size_t repl_len;
  int32_t repl_cp;
  int prepend_scheme; /* Metaspace */
  bool split;         /* Metaspace */
  tok_pretok **kids;  /* Sequence */
  size_t nkids;
};

/* GPT-2's pattern, which ByteLevel uses when use_regex is true. */
static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

void tok_pretok_free(tok_pretok *p) {
  if (!p) return;
  tok_regex_free(&p->re);
  for (size_t i = 0; i < p->nkids; i++)
    tok_pretok_free(p->kids[i]);
  free(p->kids);
  free(p);
}

static int parse_behavior(json_t *j, const char *path, int *out, seer_error *err) {
  const char *b = json_string_value(json_object_get(j, "behavior"));
  if (!b) return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.behavior is missing", path);
  if (!strcmp(b, "Removed"))
    *out = B_REMOVED;
  else if (!strcmp(b, "Isolated"))
    *out = B_ISOLATED;
  else if (!strcmp(b, "MergedWithPrevious"))
    *out = B_MERGED_PREV;
  else if (!strcmp(b, "MergedWithNext"))
    *out = B_MERGED_NEXT;
  else if (!strcmp(b, "Contiguous"))
    *out = B_CONTIGUOUS;
  else
    return seer_errorf(err, SEER_ENOTSUP, "tokenizer.json: %s.behavior \"%s\" is not supported",
                       path, b);
  return SEER_OK;
}

static bool opt_bool(json_t *j, const char *key, bool dflt) {
  json_t *v = json_object_get(j, key);
  return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int parse_metaspace(json_t *j, const char *path, tok_pretok *p, seer_error *err) {
  const char *r = json_string_value(json_object_get(j, "replacement"));
  if (!r || !*r || strlen(r) != seer_utf8_len((unsigned char)*r) ||
      seer_utf8_valid_prefix(r, strlen(r)) != strlen(r))
    return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.replacement must be one character",
                       path);
  p->repl_len = strlen(r);
  memcpy(p->repl, r, p->repl_len);
  seer_utf8_decode((const unsigned char *)r, &p->repl_cp);
  p->prepend_scheme = PREPEND_ALWAYS;
  const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
  if (scheme) {
    if (!strcmp(scheme, "always"))
      p->prepend_scheme = PREPEND_ALWAYS;
    else if (!strcmp(scheme, "first"))
      p->prepend_scheme = PREPEND_FIRST;
    else if (!strcmp(scheme, "never"))
      p->prepend_scheme = PREPEND_NEVER;
    else
      return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.prepend_scheme \"%s\" is unknown",
                         path, scheme);
  }
  json_t *aps = json_object_get(j, "add_prefix_space");
  if (json_is_false(aps)) {
    if (p->prepend_scheme != PREPEND_NEVER && scheme)
      return seer_errorf(err, SEER_EFORMAT,
                         "tokenizer.json: %s: add_prefix_space does not match "
                         "declared prepend_scheme",
                         path);
    p->prepend_scheme = PREPEND_NEVER;
  }
  p->split = opt_bool(j, "split", true);
  return SEER_OK;
}

int tok_pretok_parse(json_t *j, const char *path, tok_pretok **out, seer_error *err) {
  *out = NULL;
  if (!j || json_is_null(j)) return SEER_OK;
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s has no \"type\"", path);
  tok_pretok *p = calloc(1, sizeof *p);
  if (!p) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  int rc = SEER_OK;
  char sub[256];
  if (!strcmp(type, "Split")) {
    p->type = P_SPLIT;
    snprintf(sub, sizeof sub, "tokenizer.json: %s (Split)", path);
    p->invert = opt_bool(j, "invert", false);
    if (!(rc = parse_behavior(j, path, &p->behavior, err)))
      rc = tok_regex_from_json(json_object_get(j, "pattern"), sub, &p->re, err);
  } else if (!strcmp(type, "ByteLevel")) {
    p->type = P_BYTELEVEL;
    p->add_prefix_space = opt_bool(j, "add_prefix_space", true);
    p->use_regex = opt_bool(j, "use_regex", true);
    if (p->use_regex)
      rc = tok_regex_compile(GPT2_RE, sizeof GPT2_RE - 1, false, "ByteLevel", &p->re, err);
  } else if (!strcmp(type, "Metaspace")) {
    p->type = P_METASPACE;
    rc = parse_metaspace(j, path, p, err);
  } else if (!strcmp(type, "Whitespace")) {
    p->type = P_WHITESPACE;
  } else if (!strcmp(type, "WhitespaceSplit")) {
    p->type = P_WSSPLIT;
  } else if (!strcmp(type, "Digits")) {
    p->type = P_DIGITS;
    p->individual_digits = opt_bool(j, "individual_digits", false);
  } else if (!strcmp(type, "Punctuation")) {
    p->type = P_PUNCT;
    p->behavior = B_ISOLATED;
    if (json_object_get(j, "behavior")) rc = parse_behavior(j, path, &p->behavior, err);
  } else if (!strcmp(type, "Sequence")) {
    p->type = P_SEQ;
    json_t *arr = json_object_get(j, "pretokenizers");
    if (!json_is_array(arr)) {
      rc =
          seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.pretokenizers must be an array", path);
    } else {
      p->kids = calloc(json_array_size(arr) + 1, sizeof *p->kids);
      if (!p->kids) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
      for (size_t i = 0; !rc && i < json_array_size(arr); i++) {
        snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", path, i);
        rc = tok_pretok_parse(json_array_get(arr, i), sub, &p->kids[p->nkids], err);
        if (!rc && p->kids[p->nkids]) p->nkids++;
      }
    }
  } else {
    rc = seer_errorf(err, SEER_ENOTSUP,
                     "tokenizer.json: %s: pre-tokenizer type \"%s\" is not supported", path, type);
  }
  if (rc) {
    tok_pretok_free(p);
    return rc;
  }
  *out = p;
  return SEER_OK;
}

/* ---- behaviours: spans -> kept ranges (NormalizedString::split) ---- */

static int emit_range(const char *s, size_t a, size_t b, bool at_origin, tok_pieces *out) {
  if (b <= a) return SEER_OK;
  return tok_pieces_push(out, s + a, b - a, -1, at_origin && a == 0);
}

static int apply_behavior(const char *s, tok_spans *sp, int behavior, bool invert, bool at_origin,
                          tok_pieces *out) {
  if (invert)
    for (size_t i = 0; i < sp->n; i++)
      sp->v[i].match = !sp->v[i].match;
  tok_span *v = sp->v;
  size_t n = sp->n;
  switch (behavior) {
  case B_ISOLATED:
    for (size_t i = 0; i < n; i++)
      if (emit_range(s, v[i].start, v[i].end, at_origin, out)) return SEER_ENOMEM;
    return SEER_OK;
  case B_REMOVED:
    for (size_t i = 0; i < n; i++)
      if (!v[i].match && emit_range(s, v[i].start, v[i].end, at_origin, out)) return SEER_ENOMEM;
    return SEER_OK;
  default: break;
  }
  /* The merging behaviours fold spans in place into v[0..k). */
  size_t k = 0;
  bool prev = false;
  if (behavior == B_MERGED_NEXT) {
    /* Fold from the right, then the kept ranges are v[n-k..n) in order. */
    size_t w = n;
    for (size_t i = n; i-- > 0;) {
      bool m = v[i].match;
      if (m && !prev && w < n)
        v[w].start = v[i].start;
      else
        v[--w] = (tok_span){v[i].start, v[i].end, false};
      prev = m;
    }
    for (size_t i = w; i < n; i++)
      if (emit_range(s, v[i].start, v[i].end, at_origin, out)) return SEER_ENOMEM;
    return SEER_OK;
  }
  for (size_t i = 0; i < n; i++) {
    bool m = v[i].match;
    bool merge = behavior == B_CONTIGUOUS ? (m == prev) : (m && !prev);
    if (merge && k > 0)
      v[k - 1].end = v[i].end;
    else
      v[k++] = (tok_span){v[i].start, v[i].end, false};
    prev = m;
  }
  for (size_t i = 0; i < k; i++)
    if (emit_range(s, v[i].start, v[i].end, at_origin, out)) return SEER_ENOMEM;
  return SEER_OK;
}

/* Spans for a per-character predicate: each matching character is its own match. */
static int char_spans(const char *s, size_t len, bool (*pred)(int32_t), tok_spans *sp) {
  sp->n = 0;
  size_t last = 0;
  for (size_t i = 0; i < len;) {
    int32_t cp;
    size_t l = seer_utf8_decode((const unsigned char *)s + i, &cp);
    if (pred(cp)) {
      if (last < i && tok_spans_push(sp, last, i, false)) return SEER_ENOMEM;
      if (tok_spans_push(sp, i, i + l, true)) return SEER_ENOMEM;
      last = i + l;
    }
    i += l;
  }
  if (last < len && tok_spans_push(sp, last, len, false)) return SEER_ENOMEM;
  return SEER_OK;
}

static bool is_ascii_digit_or_numeric(int32_t c) { return tok_is_numeric(c); }

/* Whitespace: runs of word characters or of other non-space characters; spaces dropped. */
static int whitespace_split(const char *s, size_t len, bool at_origin, tok_pieces *out) {
  size_t i = 0;
  while (i < len) {
    int32_t cp;
    size_t l = seer_utf8_decode((const unsigned char *)s + i, &cp);
    if (seer_unicode_is_whitespace(cp)) {
      i += l;
      continue;
    }
    bool word = tok_is_word_char(cp);
    size_t start = i;
    i += l;
    while (i < len) {
      l = seer_utf8_decode((const unsigned char *)s + i, &cp);
      if (seer_unicode_is_whitespace(cp) || tok_is_word_char(cp) != word) break;
      i += l;
    }
    if (emit_range(s, start, i, at_origin, out)) return SEER_ENOMEM;
  }
  return SEER_OK;
}

static int byte_level_emit(const char *s, size_t a, size_t b, bool at_origin, tok_pieces *out) {
  if (b <= a) return SEER_OK;
  size_t start = tok_pieces_begin(out);
  if (seer_buf_reserve(&out->arena, (b - a) * 2)) return SEER_ENOMEM;
  char *o = out->arena.data + out->arena.len;
  for (size_t i = a; i < b; i++)
    o += seer_utf8_encode(tok_byte_to_char((unsigned char)s[i]), o);
  out->arena.len = (size_t)(o - out->arena.data);
  return tok_pieces_end(out, start, -1, at_origin && a == 0);
}

static int byte_level(const tok_pretok *p, const char *s, size_t len, bool at_origin,
                      tok_pieces *out, tok_spans *sp, seer_buf *tmp, seer_error *err) {
  if (p->add_prefix_space && (len == 0 || s[0] != ' ')) {
    tmp->len = 0;
    if (seer_buf_appendc(tmp, ' ') || seer_buf_append(tmp, s, len)) return SEER_ENOMEM;
    s = tmp->data;
    len = tmp->len;
  }
  if (!p->use_regex) return byte_level_emit(s, 0, len, at_origin, out);
  int rc = tok_regex_find(&p->re, s, len, sp, err);
  if (rc) return rc;
  for (size_t i = 0; i < sp->n; i++)
    if (byte_level_emit(s, sp->v[i].start, sp->v[i].end, at_origin, out)) return SEER_ENOMEM;
  return SEER_OK;
}

static int metaspace(const tok_pretok *p, const char *s, size_t len, bool at_origin,
                     tok_pieces *out, tok_spans *sp, seer_buf *tmp) {
  tmp->len = 0;
  bool starts = len >= p->repl_len && !memcmp(s, p->repl, p->repl_len);
  bool lead_space = len > 0 && s[0] == ' ';
  /* After replacement the text starts with the replacement iff it started with it or a space. */
  if (!starts && !lead_space &&
      (p->prepend_scheme == PREPEND_ALWAYS || (p->prepend_scheme == PREPEND_FIRST && at_origin)))
    if (seer_buf_append(tmp, p->repl, p->repl_len)) return SEER_ENOMEM;
  for (size_t i = 0; i < len; i++) {
    int rc = s[i] == ' ' ? seer_buf_append(tmp, p->repl, p->repl_len) : seer_buf_appendc(tmp, s[i]);
    if (rc) return SEER_ENOMEM;
  }
  if (!p->split) return emit_range(tmp->data, 0, tmp->len, at_origin, out);
  /* Each replacement character is its own match, merged into the text that follows it. */
  sp->n = 0;
  size_t last = 0;
  const char *t = tmp->data;
  for (size_t i = 0; i + p->repl_len <= tmp->len;) {
    if (!memcmp(t + i, p->repl, p->repl_len)) {
      if (last < i && tok_spans_push(sp, last, i, false)) return SEER_ENOMEM;
      if (tok_spans_push(sp, i, i + p->repl_len, true)) return SEER_ENOMEM;
      i += p->repl_len;
      last = i;
    } else {
      i += seer_utf8_len((unsigned char)t[i]);
    }
  }
  if (last < tmp->len && tok_spans_push(sp, last, tmp->len, false)) return SEER_ENOMEM;
  return apply_behavior(t, sp, B_MERGED_NEXT, false, at_origin, out);
}

static int pretok_one(const tok_pretok *p, const char *s, size_t len, bool at_origin,
                      tok_pieces *out, tok_spans *sp, seer_buf *tmp, seer_error *err) {
  int rc;
  switch (p->type) {
  case P_SPLIT:
    if ((rc = tok_regex_find(&p->re, s, len, sp, err))) return rc;
    return apply_behavior(s, sp, p->behavior, p->invert, at_origin, out);
  case P_BYTELEVEL: return byte_level(p, s, len, at_origin, out, sp, tmp, err);
  case P_METASPACE: return metaspace(p, s, len, at_origin, out, sp, tmp);
  case P_WHITESPACE: return whitespace_split(s, len, at_origin, out);
  case P_WSSPLIT:
    if (char_spans(s, len, seer_unicode_is_whitespace, sp)) return SEER_ENOMEM;
    return apply_behavior(s, sp, B_REMOVED, false, at_origin, out);
  case P_DIGITS:
    if (char_spans(s, len, is_ascii_digit_or_numeric, sp)) return SEER_ENOMEM;
    return apply_behavior(s, sp, p->individual_digits ? B_ISOLATED : B_CONTIGUOUS, false, at_origin,
                          out);
  case P_PUNCT:
    if (char_spans(s, len, tok_is_punctuation, sp)) return SEER_ENOMEM;
    return apply_behavior(s, sp, p->behavior, false, at_origin, out);
  default: return SEER_EINVAL;
  }
}

int tok_pretokenize(const tok_pretok *p, tok_pieces *in, tok_pieces *out, seer_error *err) {
  tok_pieces_clear(out);
  if (p->type == P_SEQ) {
    if (p->nkids == 0) {
      tok_pieces tmp = *in;
      *in = *out;
      *out = tmp;
      return SEER_OK;
    }
    tok_pieces scratch = {0};
    tok_pieces *src = in;
    int rc = SEER_OK;
    for (size_t i = 0; i < p->nkids && !rc; i++) {
      /* The last stage writes into out; earlier ones alternate between scratch and in. */
      tok_pieces *dst = i + 1 == p->nkids ? out : (src == in ? &scratch : in);
      rc = tok_pretokenize(p->kids[i], src, dst, err);
      src = dst;
    }
    tok_pieces_free(&scratch);
    return rc;
  }
  tok_spans sp = {0};
  seer_buf tmp = SEER_BUF_INIT;
  int rc = SEER_OK;
  for (size_t i = 0; i < in->n && !rc; i++) {
    tok_piece pc = in->v[i];
    if (pc.id >= 0) {
      rc = tok_pieces_push(out, tok_piece_str(in, i), pc.len, pc.id, pc.at_origin);
      continue;
    }
    rc = pretok_one(p, tok_piece_str(in, i), pc.len, pc.at_origin, out, &sp, &tmp, err);
  }
  tok_spans_free(&sp);
  seer_buf_free(&tmp);
  if (rc == SEER_ENOMEM) return seer_errorf(err, rc, "pre-tokenizer: out of memory");
  return rc;
}
