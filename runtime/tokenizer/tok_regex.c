/* tok_regex.c: owns pattern matching for Split/Replace: tokenizer.json patterns are Oniguruma
 * (Ruby syntax) in HF; they run here on PCRE2 (UTF, UCP, JIT) after a small translation. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

void tok_spans_free(tok_spans *s) {
  free(s->v);
  memset(s, 0, sizeof *s);
}

int tok_spans_push(tok_spans *s, size_t start, size_t end, bool match) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 32;
    tok_span *v = realloc(s->v, cap * sizeof *v);
    if (!v) return SEER_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = (tok_span){start, end, match};
  return SEER_OK;
}

/* Oniguruma's \s is the White_Space property, which includes U+0085; PCRE2's UCP \s does not.
 * Rewrite \s and \S so the two engines agree on that one code point. */
static int translate(const char *p, size_t len, seer_buf *out) {
  int depth = 0;
  for (size_t i = 0; i < len; i++) {
    char c = p[i];
    if (c == '\\' && i + 1 < len) {
      char e = p[i + 1];
      i++;
      int rc = 0;
      if (e == 's')
        rc = seer_buf_appends(out, depth ? "\\s\\x{85}" : "[\\s\\x{85}]");
      else if (e == 'S' && !depth)
        rc = seer_buf_appends(out, "[^\\s\\x{85}]");
      else
        rc = seer_buf_appendc(out, '\\') || seer_buf_appendc(out, e);
      if (rc) return SEER_ENOMEM;
      continue;
    }
    if (seer_buf_appendc(out, c)) return SEER_ENOMEM;
    if (c == '[') {
      if (depth && i + 1 < len && p[i + 1] == ':') {
        /* POSIX class [:name:] inside a class: copy through to its closing ":]". */
        const char *close = memmem(p + i, len - i, ":]", 2);
        if (close) {
          size_t n = (size_t)(close - (p + i)) + 2;
          if (seer_buf_append(out, p + i + 1, n - 1)) return SEER_ENOMEM;
          i += n - 1;
          continue;
        }
      }
      depth++;
      /* A ']' right after '[' or '[^' is a literal member. */
      if (i + 1 < len && p[i + 1] == '^') {
        if (seer_buf_appendc(out, '^')) return SEER_ENOMEM;
        i++;
      }
      if (i + 1 < len && p[i + 1] == ']') {
        if (seer_buf_appends(out, "\\]")) return SEER_ENOMEM;
        i++;
      }
    } else if (c == ']' && depth) {
      depth--;
    }
  }
  return SEER_OK;
}

int tok_regex_compile(const char *pat, size_t len, bool literal, const char *what, tok_regex *out,
                      seer_error *err) {
  memset(out, 0, sizeof *out);
  if (literal) {
    out->literal = malloc(len + 1);
    if (!out->literal) return seer_errorf(err, SEER_ENOMEM, "%s: out of memory", what);
    memcpy(out->literal, pat, len);
    out->literal[len] = 0;
    out->literal_len = len;
    return SEER_OK;
  }
  seer_buf tr = SEER_BUF_INIT;
  if (translate(pat, len, &tr)) {
    seer_buf_free(&tr);
    return seer_errorf(err, SEER_ENOMEM, "%s: out of memory", what);
  }
  int ec;
  PCRE2_SIZE eo;
  out->code = pcre2_compile((PCRE2_SPTR)(tr.data ? tr.data : ""), tr.len,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &ec, &eo, NULL);
  seer_buf_free(&tr);
  if (!out->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ec, msg, sizeof msg);
    return seer_errorf(err, SEER_EFORMAT, "%s: regex /%.*s/ does not compile: %s", what,
                       (int)(len > 200 ? 200 : len), pat, (char *)msg);
  }
  /* JIT is an optimisation only; the interpreter gives the same matches if it is unavailable. */
  pcre2_jit_compile(out->code, PCRE2_JIT_COMPLETE);
  return SEER_OK;
}

int tok_regex_from_json(json_t *pattern, const char *what, tok_regex *out, seer_error *err) {
  json_t *s = json_object_get(pattern, "String");
  json_t *r = json_object_get(pattern, "Regex");
  if (json_is_string(s))
    return tok_regex_compile(json_string_value(s), json_string_length(s), true, what, out, err);
  if (json_is_string(r))
    return tok_regex_compile(json_string_value(r), json_string_length(r), false, what, out, err);
  return seer_errorf(err, SEER_EFORMAT, "%s: pattern must be {\"String\": ...} or {\"Regex\": ...}",
                     what);
}

void tok_regex_free(tok_regex *re) {
  if (re->code) pcre2_code_free(re->code);
  free(re->literal);
  memset(re, 0, sizeof *re);
}

/* One match data per thread: encode may run on several threads, and allocating per call shows up
 * in profiles for short inputs. A key destructor frees it when the thread exits. */
static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *p) { pcre2_match_data_free(p); }
static void md_init(void) { pthread_key_create(&md_key, md_free); }

static pcre2_match_data *thread_match_data(void) {
  pthread_once(&md_once, md_init);
  pcre2_match_data *md = pthread_getspecific(md_key);
  if (!md && (md = pcre2_match_data_create(1, NULL))) pthread_setspecific(md_key, md);
  return md;
}

typedef struct match_iter {
  const tok_regex *re;
  const char *s;
  size_t len, pos;
} match_iter;

/* Next match at or after it->pos: 1 with [*ms, *me), 0 at the end, or a negative error. */
static int next_match(match_iter *it, size_t *ms, size_t *me, seer_error *err) {
  const tok_regex *re = it->re;
  if (re->literal) {
    if (!re->literal_len || it->pos > it->len) return 0;
    const char *f = memmem(it->s + it->pos, it->len - it->pos, re->literal, re->literal_len);
    if (!f) return 0;
    *ms = (size_t)(f - it->s);
    *me = *ms + re->literal_len;
    it->pos = *me;
    return 1;
  }
  pcre2_match_data *md = thread_match_data();
  if (!md) return seer_errorf(err, SEER_ENOMEM, "regex: out of memory");
  if (it->pos > it->len) return 0;
  int rc = pcre2_match(re->code, (PCRE2_SPTR)it->s, it->len, it->pos, PCRE2_NO_UTF_CHECK, md, NULL);
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return seer_errorf(err, SEER_EINVAL, "regex match failed: %s", (char *)msg);
  }
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
  *ms = ov[0];
  *me = ov[1];
  if (*me == *ms) {
    /* Empty match: step over one character so the scan always advances. */
    it->pos = *ms < it->len ? *ms + seer_utf8_len((unsigned char)it->s[*ms]) : it->len + 1;
  } else {
    it->pos = *me;
  }
  return 1;
}

int tok_regex_find(const tok_regex *re, const char *s, size_t len, tok_spans *out,
                   seer_error *err) {
  out->n = 0;
  if (len == 0) return tok_spans_push(out, 0, 0, false);
  match_iter it = {re, s, len, 0};
  size_t prev = 0, ms, me;
  int rc;
  while ((rc = next_match(&it, &ms, &me, err)) == 1) {
    if (prev != ms && tok_spans_push(out, prev, ms, false)) return SEER_ENOMEM;
    if (tok_spans_push(out, ms, me, true)) return SEER_ENOMEM;
    prev = me;
  }
  if (rc < 0) return rc;
  if (prev != len && tok_spans_push(out, prev, len, false)) return SEER_ENOMEM;
  return SEER_OK;
}

int tok_regex_replace(const tok_regex *re, const char *s, size_t len, const char *rep,
                      size_t rep_len, seer_buf *out, seer_error *err) {
  match_iter it = {re, s, len, 0};
  size_t prev = 0, ms, me;
  int rc;
  while ((rc = next_match(&it, &ms, &me, err)) == 1) {
    if (ms < prev) continue;
    if (seer_buf_append(out, s + prev, ms - prev) || seer_buf_append(out, rep, rep_len))
      return SEER_ENOMEM;
    prev = me;
  }
  if (rc < 0) return rc;
  return seer_buf_append(out, s + prev, len - prev) ? SEER_ENOMEM : SEER_OK;
}
