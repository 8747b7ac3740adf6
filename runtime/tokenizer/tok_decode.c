/* tok_decode.c: owns the decoders (ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace,
 * Sequence): token strings -> text, with HF's decode_chain semantics. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D_BYTELEVEL, D_BYTEFALLBACK, D_FUSE, D_REPLACE, D_STRIP, D_METASPACE, D_SEQ };

struct tok_decoder {
  int type;
  tok_regex pattern; /* Replace */
  char *content;     /* Replace */
  size_t content_len;
  int32_t strip_cp; /* Strip */
  size_t start, stop;
  int32_t repl_cp; /* Metaspace */
  bool prepend;    /* Metaspace: prepend_scheme != never */
  tok_decoder **kids;
  size_t nkids;
};

void tok_decoder_free(tok_decoder *d) {
  if (!d) return;
  tok_regex_free(&d->pattern);
  free(d->content);
  for (size_t i = 0; i < d->nkids; i++)
    tok_decoder_free(d->kids[i]);
  free(d->kids);
  free(d);
}

static int one_char(json_t *j, const char *key, const char *path, int32_t *cp, seer_error *err) {
  const char *s = json_string_value(json_object_get(j, key));
  if (!s || !*s || strlen(s) != seer_utf8_len((unsigned char)*s) ||
      seer_utf8_valid_prefix(s, strlen(s)) != strlen(s))
    return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.%s must be one character", path, key);
  seer_utf8_decode((const unsigned char *)s, cp);
  return SEER_OK;
}

int tok_decoder_parse(json_t *j, const char *path, tok_decoder **out, seer_error *err) {
  *out = NULL;
  if (!j || json_is_null(j)) return SEER_OK;
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s has no \"type\"", path);
  tok_decoder *d = calloc(1, sizeof *d);
  if (!d) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  int rc = SEER_OK;
  char sub[256];
  if (!strcmp(type, "ByteLevel"))
    d->type = D_BYTELEVEL;
  else if (!strcmp(type, "ByteFallback"))
    d->type = D_BYTEFALLBACK;
  else if (!strcmp(type, "Fuse"))
    d->type = D_FUSE;
  else if (!strcmp(type, "Replace")) {
    d->type = D_REPLACE;
    json_t *c = json_object_get(j, "content");
    snprintf(sub, sizeof sub, "tokenizer.json: %s (Replace)", path);
    if (!json_is_string(c)) {
      rc = seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.content must be a string", path);
    } else if (!(d->content = strdup(json_string_value(c)))) {
      rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
    } else {
      d->content_len = json_string_length(c);
      rc = tok_regex_from_json(json_object_get(j, "pattern"), sub, &d->pattern, err);
    }
  } else if (!strcmp(type, "Strip")) {
    d->type = D_STRIP;
    json_t *st = json_object_get(j, "start"), *sp = json_object_get(j, "stop");
    if (!json_is_integer(st) || !json_is_integer(sp) || json_integer_value(st) < 0 ||
        json_integer_value(sp) < 0)
      rc = seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.start/stop must be integers", path);
    else {
      d->start = (size_t)json_integer_value(st);
      d->stop = (size_t)json_integer_value(sp);
      rc = one_char(j, "content", path, &d->strip_cp, err);
    }
  } else if (!strcmp(type, "Metaspace")) {
    d->type = D_METASPACE;
    rc = one_char(j, "replacement", path, &d->repl_cp, err);
    const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
    d->prepend = !(scheme && !strcmp(scheme, "never")) &&
                 !json_is_false(json_object_get(j, "add_prefix_space"));
  } else if (!strcmp(type, "Sequence")) {
    d->type = D_SEQ;
    json_t *arr = json_object_get(j, "decoders");
    if (!json_is_array(arr)) {
      rc = seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.decoders must be an array", path);
    } else {
      d->kids = calloc(json_array_size(arr) + 1, sizeof *d->kids);
      if (!d->kids) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
      for (size_t i = 0; !rc && i < json_array_size(arr); i++) {
        snprintf(sub, sizeof sub, "%s.decoders[%zu]", path, i);
        rc = tok_decoder_parse(json_array_get(arr, i), sub, &d->kids[d->nkids], err);
        if (!rc && d->kids[d->nkids]) d->nkids++;
      }
    }
  } else {
    rc = seer_errorf(err, SEER_ENOTSUP, "tokenizer.json: %s: decoder type \"%s\" is not supported",
                     path, type);
  }
  if (rc) {
    tok_decoder_free(d);
    return rc;
  }
  *out = d;
  return SEER_OK;
}

static int byte_level(tok_pieces *in, tok_pieces *out) {
  seer_buf bytes = SEER_BUF_INIT;
  int rc = SEER_OK;
  for (size_t i = 0; i < in->n && !rc; i++) {
    const char *t = tok_piece_str(in, i);
    size_t len = in->v[i].len, mark = bytes.len;
    bool all = true;
    for (size_t k = 0; k < len && all;) {
      int32_t cp;
      k += seer_utf8_decode((const unsigned char *)t + k, &cp);
      int b = tok_char_to_byte(cp);
      if (b < 0)
        all = false;
      else
        rc = seer_buf_appendc(&bytes, (char)b);
    }
    if (!all) {
      /* A token outside the byte alphabet (an added token) passes through as its own bytes. */
      bytes.len = mark;
      rc = seer_buf_append(&bytes, t, len);
    }
  }
  size_t start = tok_pieces_begin(out);
  if (!rc) rc = seer_utf8_lossy(bytes.data ? bytes.data : "", bytes.len, &out->arena);
  if (!rc) rc = tok_pieces_end(out, start, -2, false);
  seer_buf_free(&bytes);
  return rc;
}

static int parse_byte_token(const char *t, size_t len) {
  if (len != 6 || memcmp(t, "<0x", 3) || t[5] != '>') return -1;
  int v = 0;
  for (int k = 3; k < 5; k++) {
    char c = t[k];
    int h = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static int flush_bytes(seer_buf *pending, tok_pieces *out) {
  if (!pending->len) return SEER_OK;
  int rc = SEER_OK;
  if (seer_utf8_valid_prefix(pending->data, pending->len) == pending->len) {
    rc = tok_pieces_push(out, pending->data, pending->len, -2, false);
  } else {
    /* Invalid UTF-8: one replacement character per byte token. */
    for (size_t k = 0; k < pending->len && !rc; k++)
      rc = tok_pieces_push(out, "\xEF\xBF\xBD", 3, -2, false);
  }
  pending->len = 0;
  return rc;
}

static int byte_fallback(tok_pieces *in, tok_pieces *out) {
  seer_buf pending = SEER_BUF_INIT;
  int rc = SEER_OK;
  for (size_t i = 0; i < in->n && !rc; i++) {
    const char *t = tok_piece_str(in, i);
    int b = parse_byte_token(t, in->v[i].len);
    if (b >= 0) {
      rc = seer_buf_appendc(&pending, (char)b);
      continue;
    }
    rc = flush_bytes(&pending, out);
    if (!rc) rc = tok_pieces_push(out, t, in->v[i].len, -2, false);
  }
  if (!rc) rc = flush_bytes(&pending, out);
  seer_buf_free(&pending);
  return rc;
}

/* Decodes t into code points, for the per-character decoders. */
static int32_t *to_cps(const char *t, size_t len, size_t *n) {
  int32_t *cps = malloc((len + 1) * sizeof *cps);
  if (!cps) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < len;)
    i += seer_utf8_decode((const unsigned char *)t + i, &cps[k++]);
  *n = k;
  return cps;
}

static int push_cps(tok_pieces *out, const int32_t *cps, size_t a, size_t b) {
  size_t start = tok_pieces_begin(out);
  if (seer_buf_reserve(&out->arena, (b - a) * 4)) return SEER_ENOMEM;
  for (size_t i = a; i < b; i++)
    out->arena.len += seer_utf8_encode(cps[i], out->arena.data + out->arena.len);
  /* Empty tokens are kept: Strip and Metaspace map token to token. */
  return tok_pieces_end(out, start, -2, false);
}

static int strip_tokens(const tok_decoder *d, tok_pieces *in, tok_pieces *out) {
  for (size_t i = 0; i < in->n; i++) {
    size_t n;
    int32_t *cps = to_cps(tok_piece_str(in, i), in->v[i].len, &n);
    if (!cps) return SEER_ENOMEM;
    size_t a = 0, b = n;
    for (size_t k = 0; k < d->start && k < n && cps[k] == d->strip_cp; k++)
      a = k + 1;
    for (size_t k = 0; k < d->stop && k < n; k++) {
      size_t idx = n - k - 1;
      if (cps[idx] != d->strip_cp) break;
      b = idx;
    }
    int rc = push_cps(out, cps, a, b < a ? a : b);
    free(cps);
    if (rc) return rc;
  }
  return SEER_OK;
}

static int metaspace(const tok_decoder *d, tok_pieces *in, tok_pieces *out) {
  for (size_t i = 0; i < in->n; i++) {
    size_t n, k = 0;
    int32_t *cps = to_cps(tok_piece_str(in, i), in->v[i].len, &n);
    if (!cps) return SEER_ENOMEM;
    for (size_t j = 0; j < n; j++) {
      if (cps[j] != d->repl_cp)
        cps[k++] = cps[j];
      else if (!(i == 0 && d->prepend))
        cps[k++] = ' ';
    }
    int rc = push_cps(out, cps, 0, k);
    free(cps);
    if (rc) return rc;
  }
  return SEER_OK;
}

static int decode_step(const tok_decoder *d, tok_pieces *in, tok_pieces *out, seer_error *err) {
  tok_pieces_clear(out);
  int rc = SEER_OK;
  switch (d->type) {
  case D_BYTELEVEL: return byte_level(in, out);
  case D_BYTEFALLBACK: return byte_fallback(in, out);
  case D_FUSE: {
    size_t start = tok_pieces_begin(out);
    for (size_t i = 0; i < in->n && !rc; i++)
      rc = seer_buf_append(&out->arena, tok_piece_str(in, i), in->v[i].len);
    return rc ? rc : tok_pieces_end(out, start, -2, false);
  }
  case D_REPLACE:
    for (size_t i = 0; i < in->n && !rc; i++) {
      size_t start = tok_pieces_begin(out);
      rc = tok_regex_replace(&d->pattern, tok_piece_str(in, i), in->v[i].len, d->content,
                             d->content_len, &out->arena, err);
      if (!rc) rc = tok_pieces_end(out, start, -2, false);
    }
    return rc;
  case D_STRIP: return strip_tokens(d, in, out);
  case D_METASPACE: return metaspace(d, in, out);
  default: break;
  }
  /* Sequence */
  tok_pieces scratch = {0};
  tok_pieces *src = in;
  for (size_t i = 0; i < d->nkids && !rc; i++) {
    tok_pieces *dst = i + 1 == d->nkids ? out : (src == in ? &scratch : in);
    rc = decode_step(d->kids[i], src, dst, err);
    src = dst;
  }
  if (!rc && d->nkids == 0) {
    tok_pieces t = *in;
    *in = *out;
    *out = t;
  }
  tok_pieces_free(&scratch);
  return rc;
}

int tok_decode_chain(const tok_decoder *d, tok_pieces *tokens, seer_buf *out, seer_error *err) {
  int rc = SEER_OK;
  if (!d) {
    /* No decoder: tokens joined by spaces. */
    for (size_t i = 0; i < tokens->n && !rc; i++)
      rc = (i && seer_buf_appendc(out, ' ')) ||
           seer_buf_append(out, tok_piece_str(tokens, i), tokens->v[i].len);
    return rc ? seer_errorf(err, SEER_ENOMEM, "decode: out of memory") : SEER_OK;
  }
  tok_pieces res = {0};
  rc = decode_step(d, tokens, &res, err);
  for (size_t i = 0; i < res.n && !rc; i++)
    rc = seer_buf_append(out, tok_piece_str(&res, i), res.v[i].len);
  tok_pieces_free(&res);
  if (rc == SEER_ENOMEM) return seer_errorf(err, rc, "decode: out of memory");
  return rc;
}
