/* tok_json.c: owns the fast path over tokenizer.json's two big values (model.vocab and
 * model.merges): locating them without a DOM and decoding their strings. jansson parses the rest;
 * building a DOM of gemma3's 260k-entry vocab and 500k merges alone takes over a second. */
#include "tok_internal.h"

#include <string.h>

const char *tok_json_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  return p;
}

/* p at the opening quote; returns the byte after the closing quote, or NULL. memchr finds the
 * candidate quote; it closes the string when an even number of backslashes precedes it. */
static const char *skip_string(const char *p, const char *end) {
  const char *q = p + 1;
  for (;;) {
    q = memchr(q, '"', (size_t)(end - q));
    if (!q) return NULL;
    const char *b = q;
    while (b > p + 1 && b[-1] == '\\')
      b--;
    if (((q - b) & 1) == 0) return q + 1;
    q++;
  }
}

static const char *skip_value(const char *p, const char *end) {
  p = tok_json_ws(p, end);
  if (p >= end) return NULL;
  if (*p == '"') return skip_string(p, end);
  if (*p == '{' || *p == '[') {
    /* Structural bytes only; everything else (mostly indentation) is skipped in a tight loop. */
    static const unsigned char cls[256] = {['"'] = 1, ['{'] = 2, ['['] = 2, ['}'] = 3, [']'] = 3};
    int depth = 0;
    while (p < end) {
      while (p < end && !cls[(unsigned char)*p])
        p++;
      if (p >= end) break;
      unsigned char k = cls[(unsigned char)*p];
      if (k == 1) {
        p = skip_string(p, end);
        if (!p) return NULL;
        continue;
      }
      if (k == 2)
        depth++;
      else if (--depth == 0)
        return p + 1;
      p++;
    }
    return NULL;
  }
  const char *q = p;
  while (q < end && !strchr(",}] \t\r\n", *q))
    q++;
  return q > p ? q : NULL;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_hex4(const char *p, const char *end, int32_t *v) {
  if (end - p < 4) return -1;
  int32_t x = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0) return -1;
    x = x * 16 + h;
  }
  *v = x;
  return 0;
}

int tok_json_string(const char **pp, const char *end, seer_buf *scratch, const char **out,
                    size_t *out_len) {
  const char *p = *pp;
  if (p >= end || *p != '"') return SEER_EFORMAT;
  const char *start = ++p;
  while (p < end && *p != '"' && *p != '\\')
    p++;
  if (p >= end) return SEER_EFORMAT;
  if (*p == '"') {
    *out = start;
    *out_len = (size_t)(p - start);
    *pp = p + 1;
    return SEER_OK;
  }
  scratch->len = 0;
  if (seer_buf_append(scratch, start, (size_t)(p - start))) return SEER_ENOMEM;
  while (p < end && *p != '"') {
    if (*p != '\\') {
      const char *q = p;
      while (q < end && *q != '"' && *q != '\\')
        q++;
      if (seer_buf_append(scratch, p, (size_t)(q - p))) return SEER_ENOMEM;
      p = q;
      continue;
    }
    if (p + 1 >= end) return SEER_EFORMAT;
    char e = p[1], c;
    p += 2;
    switch (e) {
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case '/': c = '/'; break;
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u': {
      int32_t cp;
      if (read_hex4(p, end, &cp)) return SEER_EFORMAT;
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        int32_t lo;
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || read_hex4(p + 2, end, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
          return SEER_EFORMAT; /* lone surrogate: not a Unicode scalar, serde rejects it too */
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return SEER_EFORMAT;
      }
      char u[4];
      size_t n = seer_utf8_encode(cp, u);
      if (seer_buf_append(scratch, u, n)) return SEER_ENOMEM;
      continue;
    }
    default: return SEER_EFORMAT;
    }
    if (seer_buf_appendc(scratch, c)) return SEER_ENOMEM;
  }
  if (p >= end) return SEER_EFORMAT;
  *pp = p + 1;
  *out = scratch->data ? scratch->data : "";
  *out_len = scratch->len;
  return SEER_OK;
}

/* Walks the members of the object at *p, calling back for each key with the value's position. */
typedef int (*member_fn)(void *ctx, const char *key, size_t klen, const char *value,
                         const char **value_end);

static int walk_object(const char *p, const char *end, void *ctx, member_fn fn,
                       const char **after) {
  seer_buf scratch = SEER_BUF_INIT;
  int rc = SEER_EFORMAT;
  p = tok_json_ws(p, end);
  if (p >= end || *p != '{') goto done;
  p = tok_json_ws(p + 1, end);
  if (p < end && *p == '}') {
    *after = p + 1;
    rc = SEER_OK;
    goto done;
  }
  for (;;) {
    const char *key;
    size_t klen;
    p = tok_json_ws(p, end);
    if (tok_json_string(&p, end, &scratch, &key, &klen)) goto done;
    p = tok_json_ws(p, end);
    if (p >= end || *p != ':') goto done;
    p = tok_json_ws(p + 1, end);
    if (p >= end) goto done; /* a key with no value: the callbacks read *p */
    const char *vend = NULL;
    if (fn(ctx, key, klen, p, &vend)) goto done;
    p = tok_json_ws(vend, end);
    if (p >= end) goto done;
    if (*p == '}') {
      *after = p + 1;
      rc = SEER_OK;
      goto done;
    }
    if (*p != ',') goto done;
    p++;
  }
done:
  seer_buf_free(&scratch);
  return rc;
}

typedef struct span_ctx {
  const char *base, *end;
  tok_jspan *vocab, *merges;
} span_ctx;

static int model_member(void *vctx, const char *key, size_t klen, const char *value,
                        const char **value_end) {
  span_ctx *c = vctx;
  const char *e = skip_value(value, c->end);
  if (!e) return SEER_EFORMAT;
  tok_jspan *dst = NULL;
  if (klen == 5 && !memcmp(key, "vocab", 5)) dst = c->vocab;
  if (klen == 6 && !memcmp(key, "merges", 6)) dst = c->merges;
  if (dst) {
    dst->start = (size_t)(value - c->base);
    dst->end = (size_t)(e - c->base);
  }
  *value_end = e;
  return SEER_OK;
}

static int top_member(void *vctx, const char *key, size_t klen, const char *value,
                      const char **value_end) {
  span_ctx *c = vctx;
  if (klen == 5 && !memcmp(key, "model", 5) && *value == '{')
    return walk_object(value, c->end, c, model_member, value_end);
  *value_end = skip_value(value, c->end);
  return *value_end ? SEER_OK : SEER_EFORMAT;
}

int tok_json_find_model_spans(const char *s, size_t len, tok_jspan *vocab, tok_jspan *merges,
                              seer_error *err) {
  memset(vocab, 0, sizeof *vocab);
  memset(merges, 0, sizeof *merges);
  span_ctx c = {s, s + len, vocab, merges};
  const char *after;
  if (walk_object(s, s + len, &c, top_member, &after))
    return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: not a well-formed JSON object");
  return SEER_OK;
}
