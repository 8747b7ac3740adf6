/* tok_normalize.c: owns the normalizers (NFC/NFD/NFKC/NFKD, Lowercase, Replace, Prepend, Strip,
 * Sequence) with HF semantics. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { N_NFC, N_NFD, N_NFKC, N_NFKD, N_LOWER, N_REPLACE, N_PREPEND, N_STRIP, N_SEQ };

struct tok_normalizer {
  int type;
  tok_regex pattern; /* Replace */
  char *text;        /* Replace content, Prepend prepend */
  size_t text_len;
  bool left, right;      /* Strip */
  tok_normalizer **kids; /* Sequence */
  size_t nkids;
};

void tok_normalizer_free(tok_normalizer *n) {
  if (!n) return;
  tok_regex_free(&n->pattern);
  free(n->text);
  for (size_t i = 0; i < n->nkids; i++)
    tok_normalizer_free(n->kids[i]);
  free(n->kids);
  free(n);
}

static int need_string(json_t *j, const char *key, const char *path, char **out, size_t *len,
                       seer_error *err) {
  json_t *v = json_object_get(j, key);
  if (!json_is_string(v))
    return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.%s must be a string", path, key);
  *out = malloc(json_string_length(v) + 1);
  if (!*out) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  memcpy(*out, json_string_value(v), json_string_length(v) + 1);
  *len = json_string_length(v);
  return SEER_OK;
}

int tok_normalizer_parse(json_t *j, const char *path, tok_normalizer **out, seer_error *err) {
  *out = NULL;
  if (!j || json_is_null(j)) return SEER_OK;
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s has no \"type\"", path);
  tok_normalizer *n = calloc(1, sizeof *n);
  if (!n) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  int rc = SEER_OK;
  char sub[256];
  if (!strcmp(type, "NFC"))
    n->type = N_NFC;
  else if (!strcmp(type, "NFD"))
    n->type = N_NFD;
  else if (!strcmp(type, "NFKC"))
    n->type = N_NFKC;
  else if (!strcmp(type, "NFKD"))
    n->type = N_NFKD;
  else if (!strcmp(type, "Lowercase"))
    n->type = N_LOWER;
  else if (!strcmp(type, "Replace")) {
    n->type = N_REPLACE;
    snprintf(sub, sizeof sub, "tokenizer.json: %s (Replace)", path);
    if (!(rc = need_string(j, "content", path, &n->text, &n->text_len, err)))
      rc = tok_regex_from_json(json_object_get(j, "pattern"), sub, &n->pattern, err);
  } else if (!strcmp(type, "Prepend")) {
    n->type = N_PREPEND;
    rc = need_string(j, "prepend", path, &n->text, &n->text_len, err);
  } else if (!strcmp(type, "Strip")) {
    n->type = N_STRIP;
    n->left = json_is_true(json_object_get(j, "strip_left"));
    n->right = json_is_true(json_object_get(j, "strip_right"));
  } else if (!strcmp(type, "Sequence")) {
    n->type = N_SEQ;
    json_t *arr = json_object_get(j, "normalizers");
    if (!json_is_array(arr)) {
      rc = seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.normalizers must be an array", path);
    } else {
      n->kids = calloc(json_array_size(arr) + 1, sizeof *n->kids);
      if (!n->kids) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
      for (size_t i = 0; !rc && i < json_array_size(arr); i++) {
        snprintf(sub, sizeof sub, "%s.normalizers[%zu]", path, i);
        rc = tok_normalizer_parse(json_array_get(arr, i), sub, &n->kids[n->nkids], err);
        if (!rc && n->kids[n->nkids]) n->nkids++;
      }
    }
  } else {
    rc = seer_errorf(err, SEER_ENOTSUP,
                     "tokenizer.json: %s: normalizer type \"%s\" is not "
                     "supported",
                     path, type);
  }
  if (rc) {
    tok_normalizer_free(n);
    return rc;
  }
  *out = n;
  return SEER_OK;
}

static bool is_ascii(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] >= 0x80) return false;
  return true;
}

static int unicode_form(int type, const char *s, size_t len, seer_buf *out, seer_error *err) {
  /* Every normal form maps ASCII to itself. */
  if (is_ascii(s, len)) return seer_buf_append(out, s, len) ? SEER_ENOMEM : SEER_OK;
  utf8proc_option_t opt = UTF8PROC_STABLE;
  switch (type) {
  case N_NFC: opt |= UTF8PROC_COMPOSE; break;
  case N_NFD: opt |= UTF8PROC_DECOMPOSE; break;
  case N_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
  default: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t *res = NULL;
  utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &res, opt);
  if (n < 0) return seer_errorf(err, SEER_EINVAL, "normalizer: %s", utf8proc_errmsg(n));
  int rc = seer_buf_append(out, res, (size_t)n) ? SEER_ENOMEM : SEER_OK;
  free(res);
  return rc;
}

static int lowercase(const char *s, size_t len, seer_buf *out) {
  if (seer_buf_reserve(out, len + 8)) return SEER_ENOMEM;
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      if (seer_buf_appendc(out, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c))) return SEER_ENOMEM;
      i++;
      continue;
    }
    int32_t cp;
    i += seer_utf8_decode((const unsigned char *)s + i, &cp);
    char u[8];
    size_t n;
    if (cp == 0x130) {
      /* The one unconditional multi-character lowercase mapping (Rust's char::to_lowercase). */
      memcpy(u, "i\xCC\x87", 3);
      n = 3;
    } else {
      n = seer_utf8_encode(utf8proc_tolower(cp), u);
    }
    if (seer_buf_append(out, u, n)) return SEER_ENOMEM;
  }
  return SEER_OK;
}

static int strip(const tok_normalizer *n, const char *s, size_t len, seer_buf *out) {
  size_t a = 0, b = len;
  if (n->left) {
    while (a < b) {
      int32_t cp;
      size_t l = seer_utf8_decode((const unsigned char *)s + a, &cp);
      if (!seer_unicode_is_whitespace(cp)) break;
      a += l;
    }
  }
  if (n->right) {
    while (b > a) {
      size_t k = b - 1;
      while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
      int32_t cp;
      seer_utf8_decode((const unsigned char *)s + k, &cp);
      if (!seer_unicode_is_whitespace(cp)) break;
      b = k;
    }
  }
  return seer_buf_append(out, s + a, b - a) ? SEER_ENOMEM : SEER_OK;
}

int tok_normalize(const tok_normalizer *n, const char *s, size_t len, seer_buf *out,
                  seer_error *err) {
  if (!n) return seer_buf_append(out, s, len) ? SEER_ENOMEM : SEER_OK;
  switch (n->type) {
  case N_NFC:
  case N_NFD:
  case N_NFKC:
  case N_NFKD: return unicode_form(n->type, s, len, out, err);
  case N_LOWER: return lowercase(s, len, out);
  case N_REPLACE: return tok_regex_replace(&n->pattern, s, len, n->text, n->text_len, out, err);
  case N_PREPEND:
    if (len && seer_buf_append(out, n->text, n->text_len)) return SEER_ENOMEM;
    return seer_buf_append(out, s, len) ? SEER_ENOMEM : SEER_OK;
  case N_STRIP: return strip(n, s, len, out);
  default: break;
  }
  /* Sequence: ping-pong between two scratch buffers, the last step writing into out. */
  if (n->nkids == 0) return seer_buf_append(out, s, len) ? SEER_ENOMEM : SEER_OK;
  seer_buf a = SEER_BUF_INIT, b = SEER_BUF_INIT;
  const char *cur = s;
  size_t cur_len = len;
  int rc = SEER_OK;
  for (size_t i = 0; i < n->nkids && !rc; i++) {
    seer_buf *dst = i + 1 == n->nkids ? out : (i % 2 ? &b : &a);
    if (dst != out) dst->len = 0;
    rc = tok_normalize(n->kids[i], cur, cur_len, dst, err);
    cur = dst->data;
    cur_len = dst->len;
  }
  seer_buf_free(&a);
  seer_buf_free(&b);
  return rc;
}
