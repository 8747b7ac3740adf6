/* jinja_builtins.c: owns the built-in library apart from filters: tests, string/dict methods, the
 * globals chat templates call (range, namespace, raise_exception, strftime_now, dict). */
#include "jinja_internal.h"
#include "seer/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

static int oom(jctx *c) { return joom(c); }

bool jb_py_space(int32_t cp) {
  return seer_unicode_is_whitespace(cp) || (cp >= 0x1C && cp <= 0x1F);
}

jv jb_kwarg(const char **kwn, jv *kwv, size_t nkw, const char *name, jv *args, size_t nargs,
            size_t pos, jv dflt) {
  for (size_t i = 0; i < nkw; i++)
    if (!strcmp(kwn[i], name)) return kwv[i];
  return pos < nargs ? args[pos] : dflt;
}

/* Out of memory with a buffer in hand: free it, so that a render stopped by its byte budget (a
 * template can reach the budget on purpose) loses nothing. */
int jb_buf_oom(jctx *c, seer_buf *b) {
  seer_buf_free(b);
  return oom(c);
}

jv jb_mkstr(jctx *c, seer_buf *b) {
  jv v = jv_str_from_buf(c->a, b);
  seer_buf_free(b);
  return v;
}

int jb_to_text(jctx *c, jv v, jv *out) {
  if (v.t == JV_STR) {
    *out = v;
    return SEER_OK;
  }
  seer_buf b = SEER_BUF_INIT;
  if (jv_to_str(v, &b)) return jb_buf_oom(c, &b);
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

/* ---- string helpers ---- */

static bool in_chars(jv chars, int32_t cp) {
  for (size_t i = 0; i < chars.u.s.n;) {
    int32_t x;
    i += seer_utf8_decode((const unsigned char *)chars.u.s.p + i, &x);
    if (x == cp) return true;
  }
  return false;
}

jv jb_strip(jv s, jv chars, bool left, bool right) {
  bool custom = chars.t == JV_STR;
  size_t a = 0, b = s.u.s.n;
  const unsigned char *p = (const unsigned char *)s.u.s.p;
  while (left && a < b) {
    int32_t cp;
    size_t l = seer_utf8_decode(p + a, &cp);
    if (custom ? !in_chars(chars, cp) : !jb_py_space(cp)) break;
    a += l;
  }
  while (right && b > a) {
    size_t k = b - 1;
    while (k > a && (p[k] & 0xC0) == 0x80)
      k--;
    int32_t cp;
    seer_utf8_decode(p + k, &cp);
    if (custom ? !in_chars(chars, cp) : !jb_py_space(cp)) break;
    b = k;
  }
  return jv_str(s.u.s.p + a, b - a);
}

int jb_change_case(jctx *c, jv s, int mode, jv *out) {
  seer_buf b = SEER_BUF_INIT;
  bool prev_cased = false, first = true;
  const unsigned char *p = (const unsigned char *)s.u.s.p;
  for (size_t i = 0; i < s.u.s.n;) {
    int32_t cp, r;
    i += seer_utf8_decode(p + i, &cp);
    switch (mode) {
    case JB_UPPER: r = utf8proc_toupper(cp); break;
    case JB_LOWER: r = utf8proc_tolower(cp); break;
    case JB_TITLE: r = prev_cased ? utf8proc_tolower(cp) : utf8proc_totitle(cp); break;
    default: r = first ? utf8proc_totitle(cp) : utf8proc_tolower(cp); break;
    }
    int cat = utf8proc_category(cp);
    prev_cased =
        cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
    first = false;
    char u[4];
    if (seer_buf_append(&b, u, seer_utf8_encode(r, u))) return jb_buf_oom(c, &b);
  }
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

bool jb_starts_with(jv s, jv pre) {
  return pre.t == JV_STR && pre.u.s.n <= s.u.s.n && !memcmp(s.u.s.p, pre.u.s.p, pre.u.s.n);
}
bool jb_ends_with(jv s, jv suf) {
  return suf.t == JV_STR && suf.u.s.n <= s.u.s.n &&
         !memcmp(s.u.s.p + s.u.s.n - suf.u.s.n, suf.u.s.p, suf.u.s.n);
}

const char *jb_find_sub(jv s, jv sub, size_t from) {
  if (sub.u.s.n == 0) return s.u.s.p + from;
  if (from > s.u.s.n) return NULL;
  return memmem(s.u.s.p + from, s.u.s.n - from, sub.u.s.p, sub.u.s.n); /* linear: two-way */
}

int jb_split(jctx *c, jv s, jv sep, int64_t maxsplit, jv *out) {
  jv l = jv_new_list(c->a);
  if (l.t != JV_LIST) return oom(c);
  const char *p = s.u.s.p, *end = p + s.u.s.n;
  if (sep.t != JV_STR) {
    /* Whitespace split: runs of whitespace separate, no empty strings. */
    while (p < end) {
      int32_t cp;
      size_t k;
      while (p < end && (k = seer_utf8_decode((const unsigned char *)p, &cp), jb_py_space(cp)))
        p += k;
      if (p >= end) break;
      const char *w = p;
      if (maxsplit == 0) {
        const char *e = end;
        while (e > w) {
          const char *q = e - 1;
          while (q > w && ((unsigned char)*q & 0xC0) == 0x80)
            q--;
          seer_utf8_decode((const unsigned char *)q, &cp);
          if (!jb_py_space(cp)) break;
          e = q;
        }
        if (jv_list_push(c->a, l.u.l, jv_str(w, (size_t)(e - w)))) return oom(c);
        break;
      }
      while (p < end && (k = seer_utf8_decode((const unsigned char *)p, &cp), !jb_py_space(cp)))
        p += k;
      if (jv_list_push(c->a, l.u.l, jv_str(w, (size_t)(p - w)))) return oom(c);
      if (maxsplit > 0) maxsplit--;
    }
    *out = l;
    return SEER_OK;
  }
  if (sep.u.s.n == 0) return jerr(c, 0, "empty separator");
  for (;;) {
    const char *f = maxsplit == 0 ? NULL : jb_find_sub(s, sep, (size_t)(p - s.u.s.p));
    if (!f) {
      if (jv_list_push(c->a, l.u.l, jv_str(p, (size_t)(end - p)))) return oom(c);
      break;
    }
    if (jv_list_push(c->a, l.u.l, jv_str(p, (size_t)(f - p)))) return oom(c);
    p = f + sep.u.s.n;
    if (maxsplit > 0) maxsplit--;
  }
  *out = l;
  return SEER_OK;
}

int jb_replace(jctx *c, jv s, jv old, jv new_, int64_t count, jv *out) {
  if (old.t != JV_STR || new_.t != JV_STR)
    return jerr(c, 0, "jb_replace() arguments must be strings");
  seer_buf b = SEER_BUF_INIT;
  size_t i = 0;
  int rc = 0;
  while (i <= s.u.s.n && count != 0) {
    const char *f = jb_find_sub(s, old, i);
    if (!f) break;
    size_t at = (size_t)(f - s.u.s.p);
    rc |= seer_buf_append(&b, s.u.s.p + i, at - i) || seer_buf_append(&b, new_.u.s.p, new_.u.s.n);
    if (old.u.s.n == 0) {
      if (at < s.u.s.n) {
        size_t l = seer_utf8_len((unsigned char)s.u.s.p[at]);
        rc |= seer_buf_append(&b, s.u.s.p + at, l);
        i = at + l;
      } else {
        i = at + 1;
      }
    } else {
      i = at + old.u.s.n;
    }
    if (count > 0) count--;
  }
  if (i < s.u.s.n) rc |= seer_buf_append(&b, s.u.s.p + i, s.u.s.n - i);
  if (rc) return jb_buf_oom(c, &b);
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

int jb_join(jctx *c, jv seq, jv sep, jv attr, jv *out) {
  seer_buf b = SEER_BUF_INIT;
  if (seq.t == JV_DICT || seq.t == JV_STR) {
    /* iterate keys or characters */
    jv l = jv_new_list(c->a);
    if (seq.t == JV_DICT)
      for (size_t i = 0; i < seq.u.d->n; i++)
        jv_list_push(c->a, l.u.l, seq.u.d->k[i]);
    else
      for (size_t i = 0; i < seq.u.s.n;) {
        size_t k = seer_utf8_len((unsigned char)seq.u.s.p[i]);
        jv_list_push(c->a, l.u.l, jv_str(seq.u.s.p + i, k));
        i += k;
      }
    seq = l;
  }
  if (seq.t != JV_LIST) {
    *out = jv_str("", 0);
    return SEER_OK;
  }
  for (size_t i = 0; i < seq.u.l->n; i++) {
    jv v = seq.u.l->v[i];
    if (attr.t == JV_STR) jgetattr(c, v, attr.u.s.p, attr.u.s.n, &v);
    if ((i && sep.t == JV_STR && seer_buf_append(&b, sep.u.s.p, sep.u.s.n)) || jv_to_str(v, &b))
      return jb_buf_oom(c, &b);
  }
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

/* Python's printf-style formatting: %s %r %d %i %f %x %% with flags, width and precision. */
int jb_percent_format(jctx *c, jv fmt, jv args, int line, jv *out) {
  jv one[1] = {args};
  jv *vals = one;
  size_t nvals = 1, next = 0;
  if (args.t == JV_LIST && args.u.l->tuple) vals = args.u.l->v, nvals = args.u.l->n;
  seer_buf b = SEER_BUF_INIT;
  const char *p = fmt.u.s.p, *end = p + fmt.u.s.n;
  int rc = 0;
  while (p < end && !rc) {
    if (*p != '%') { /* the text up to the next '%' in one copy (a format can be 64 MiB long) */
      const char *q = memchr(p, '%', (size_t)(end - p));
      if (!q) q = end;
      rc = seer_buf_append(&b, p, (size_t)(q - p));
      p = q;
      continue;
    }
    const char *spec = p++;
    while (p < end && *p && strchr("-+ #0", *p)) /* strchr finds a NUL too: exclude it */
      p++;
    while (p < end && ((*p >= '0' && *p <= '9') || *p == '.'))
      p++;
    if (p >= end) break;
    /* Width and precision come from the (downloaded) template: keep them small. */
    for (const char *q = spec + 1; q < p; q++)
      if (*q >= '0' && *q <= '9' && strtol(q, NULL, 10) > 1000) {
        seer_buf_free(&b);
        return jerr(c, line, "format width or precision over 1000");
      }
    char conv = *p++;
    if (conv == '%') {
      rc = seer_buf_appendc(&b, '%');
      continue;
    }
    if (next >= nvals) {
      seer_buf_free(&b);
      return jerr(c, line, "not enough arguments for format string");
    }
    jv v = vals[next++];
    char cfmt[32];
    size_t flen = (size_t)(p - spec) - 1;
    if (flen > 20) flen = 20;
    memcpy(cfmt, spec, flen);
    if (conv == 's' || conv == 'r') {
      seer_buf t = SEER_BUF_INIT;
      if (conv == 'r' && v.t == JV_STR) {
        jv l = jv_new_list(c->a); /* repr via a one-item list, minus the brackets */
        if (l.t != JV_LIST || jv_list_push(c->a, l.u.l, v) || jv_to_str(l, &t)) {
          seer_buf_free(&t);
          return jb_buf_oom(c, &b);
        }
        memmove(t.data, t.data + 1, t.len - 2);
        t.len -= 2;
      } else if (jv_to_str(v, &t)) {
        seer_buf_free(&t);
        return jb_buf_oom(c, &b);
      }
      seer_buf_terminate(&t);
      memcpy(cfmt + flen, "s", 2);
      rc = seer_buf_printf(&b, cfmt, t.data ? t.data : "");
      seer_buf_free(&t);
    } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
      if (v.t != JV_INT && v.t != JV_BOOL && v.t != JV_FLOAT) {
        seer_buf_free(&b);
        return jerr(c, line, "%%%c format: a number is required, not %s", conv, jv_type_name(v));
      }
      long long x = v.t == JV_INT ? v.u.i : v.t == JV_BOOL ? v.u.b : (long long)v.u.f;
      snprintf(cfmt + flen, sizeof cfmt - flen, "ll%c", conv == 'i' ? 'd' : conv);
      rc = seer_buf_printf(&b, cfmt, x);
    } else if (conv && strchr("feEgG", conv)) {
      if (v.t != JV_INT && v.t != JV_BOOL && v.t != JV_FLOAT) {
        seer_buf_free(&b);
        return jerr(c, line, "%%%c format: a number is required, not %s", conv, jv_type_name(v));
      }
      double x = v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : v.u.b;
      snprintf(cfmt + flen, sizeof cfmt - flen, "%c", conv);
      rc = seer_buf_printf(&b, cfmt, x);
    } else {
      seer_buf_free(&b);
      return jerr(c, line, "unsupported format character '%c' (0x%02x)",
                  conv > ' ' && conv < 0x7f ? conv : '?', (unsigned char)conv);
    }
  }
  if (rc) return jb_buf_oom(c, &b);
  if (next < nvals && vals != one) {
    seer_buf_free(&b);
    return jerr(c, line, "not all arguments converted during string formatting");
  }
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

/* ---- globals ---- */

/* Every global function takes the positional and keyword arguments of the call, the template
 * line for errors, and where to put the result; `name` serves namespace/dict. */
#define GLOBAL_PARAMS                                                                              \
  jctx *c, const char *name, jv *args, size_t nargs, const char **kwn, jv *kwv, size_t nkw,        \
      int line, jv *out
typedef struct {
  const char *name;
  int (*fn)(GLOBAL_PARAMS);
} jglobal_entry;

static int g_raise_exception(GLOBAL_PARAMS) {
  (void)name, (void)kwn, (void)kwv, (void)nkw, (void)line, (void)out;
  seer_buf b = SEER_BUF_INIT;
  if (nargs) jv_to_str(args[0], &b);
  seer_buf_terminate(&b);
  /* The template's own message, verbatim: it is what the user needs to read. */
  seer_errorf(c->err, SEER_EINVAL, "%s", b.data ? b.data : "raise_exception() called");
  seer_buf_free(&b);
  return SEER_EINVAL;
}

static int g_range(GLOBAL_PARAMS) {
  (void)name, (void)kwn, (void)kwv, (void)nkw;
  int64_t a = 0, b, step = 1;
  for (size_t i = 0; i < nargs; i++)
    if (args[i].t != JV_INT) return jerr(c, line, "range() arguments must be integers");
  if (nargs == 1)
    b = args[0].u.i;
  else if (nargs >= 2)
    a = args[0].u.i, b = args[1].u.i;
  else
    return jerr(c, line, "range() expects 1 to 3 arguments");
  if (nargs == 3) step = args[2].u.i;
  if (step == 0) return jerr(c, line, "range() step must not be zero");
  /* The list is built in full, so its length is bounded like the steps that would walk it. */
  __int128 span = step > 0 ? (__int128)b - a : (__int128)a - b,
           st = step > 0 ? step : -(__int128)step;
  __int128 count = span > 0 ? (span + st - 1) / st : 0;
  if (count > JINJA_MAX_STEPS)
    return jerr(c, line, "range() of %lld items is more than the %ld steps a render may take",
                (long long)(count > INT64_MAX ? INT64_MAX : count), JINJA_MAX_STEPS);
  jv l = jv_new_list(c->a);
  if (l.t != JV_LIST) return oom(c);
  for (int64_t k = 0; k < (int64_t)count; k++) /* each element lies between a and b */
    if (jv_list_push(c->a, l.u.l, jv_int((int64_t)(a + (__int128)k * step)))) return oom(c);
  *out = l;
  return SEER_OK;
}

/* namespace(...) and dict(...): a mapping from a dict argument and keyword arguments. */
static int g_namespace_dict(GLOBAL_PARAMS) {
  (void)line;
  jv d = jv_new_dict(c->a);
  if (d.t != JV_DICT) return oom(c);
  d.u.d->ns = name[0] == 'n';
  if (nargs && args[0].t == JV_DICT)
    for (size_t i = 0; i < args[0].u.d->n; i++)
      if (jv_dict_set(c->a, d.u.d, args[0].u.d->k[i], args[0].u.d->v[i])) return oom(c);
  for (size_t i = 0; i < nkw; i++)
    if (jv_dict_set(c->a, d.u.d, jv_cstr(kwn[i]), kwv[i])) return oom(c);
  *out = d;
  return SEER_OK;
}

static int g_strftime_now(GLOBAL_PARAMS) {
  (void)name, (void)kwn, (void)kwv, (void)nkw;
  if (!nargs || args[0].t != JV_STR) return jerr(c, line, "strftime_now() expects a format");
  char fmt[256], buf[512];
  snprintf(fmt, sizeof fmt, "%.*s", (int)args[0].u.s.n, args[0].u.s.p);
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  size_t n = strftime(buf, sizeof buf, fmt, &tm);
  char *p = ja_strdup(c->a, buf, n);
  if (!p) return oom(c);
  *out = jv_str(p, n);
  return SEER_OK;
}

static const jglobal_entry GLOBALS[] = {{"range", g_range},
                                        {"namespace", g_namespace_dict},
                                        {"dict", g_namespace_dict},
                                        {"raise_exception", g_raise_exception},
                                        {"strftime_now", g_strftime_now},
                                        {NULL, NULL}};

static const jglobal_entry *find_global(const char *name, size_t n) {
  return jtable_find(GLOBALS, sizeof *GLOBALS, name, n);
}

bool jis_builtin(const char *name, size_t n, const char **canonical) {
  const jglobal_entry *g = find_global(name, n);
  if (g) *canonical = g->name;
  return g != NULL;
}

int jcall_builtin(jctx *c, const char *name, jv *args, size_t nargs, const char **kwn, jv *kwv,
                  size_t nkw, int line, jv *out) {
  const jglobal_entry *g = find_global(name, strlen(name));
  if (!g) return jerr(c, line, "unknown function '%s'", name);
  return g->fn(c, g->name, args, nargs, kwn, kwv, nkw, line, out);
}

/* ---- tests ---- */

/* Every test takes the value, its first argument (undefined when absent), the template line for
 * errors, and where to put the verdict; `name` serves tests with several names. */
#define TEST_PARAMS jctx *c, const char *name, jv v, jv a0, int line, bool *out
typedef struct {
  const char *name;
  int (*fn)(TEST_PARAMS);
} jtest_entry;

/* Tests that look only at the value's type need none of the other arguments. */
#define TYPE_TEST(fname, expr)                                                                     \
  static int fname(TEST_PARAMS) {                                                                  \
    (void)c, (void)name, (void)a0, (void)line;                                                     \
    *out = (expr);                                                                                 \
    return SEER_OK;                                                                                \
  }
TYPE_TEST(t_defined, v.t != JV_UNDEF)
TYPE_TEST(t_undefined, v.t == JV_UNDEF)
TYPE_TEST(t_none, v.t == JV_NONE)
TYPE_TEST(t_boolean, v.t == JV_BOOL)
TYPE_TEST(t_true, v.t == JV_BOOL && v.u.b)
TYPE_TEST(t_false, v.t == JV_BOOL && !v.u.b)
TYPE_TEST(t_integer, v.t == JV_INT)
TYPE_TEST(t_float, v.t == JV_FLOAT)
TYPE_TEST(t_number, v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL)
TYPE_TEST(t_string, v.t == JV_STR)
TYPE_TEST(t_mapping, v.t == JV_DICT)
TYPE_TEST(t_iterable, v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT)
TYPE_TEST(t_callable, v.t == JV_MACRO || v.t == JV_BUILTIN || v.t == JV_METHOD ||
                          v.t == JV_CALLER ||
                          (v.t == JV_DICT && v.u.d->loop && v.u.d->loop->recursive))

static int t_odd_even(TEST_PARAMS) {
  (void)a0;
  if (v.t != JV_INT) return jerr(c, line, "'%s' test needs an integer", name);
  *out = (v.u.i % 2 != 0) == (name[0] == 'o');
  return SEER_OK;
}

static int t_divisibleby(TEST_PARAMS) {
  (void)name;
  if (v.t != JV_INT || a0.t != JV_INT || !a0.u.i) return jerr(c, line, "bad divisibleby test");
  *out = v.u.i % a0.u.i == 0;
  return SEER_OK;
}

static int t_eq(TEST_PARAMS) {
  (void)c, (void)name, (void)line;
  *out = jv_eq(v, a0);
  return SEER_OK;
}
static int t_sameas(TEST_PARAMS) {
  (void)c, (void)name, (void)line;
  *out = jv_eq(v, a0) && v.t == a0.t;
  return SEER_OK;
}
static int t_ne(TEST_PARAMS) {
  (void)c, (void)name, (void)line;
  *out = !jv_eq(v, a0);
  return SEER_OK;
}

/* Ordered comparisons: false, not an error, when the values do not compare. */
#define CMP_TEST(fname, op)                                                                        \
  static int fname(TEST_PARAMS) {                                                                  \
    (void)c, (void)name, (void)line;                                                               \
    bool ok;                                                                                       \
    *out = jv_cmp(v, a0, &ok) op 0 && ok;                                                          \
    return SEER_OK;                                                                                \
  }
CMP_TEST(t_lt, <)
CMP_TEST(t_gt, >)
CMP_TEST(t_le, <=)
CMP_TEST(t_ge, >=)

static int t_in(TEST_PARAMS) {
  (void)c, (void)name, (void)line;
  jv r;
  if (a0.t == JV_STR && v.t == JV_STR)
    *out = jb_find_sub(a0, v, 0) != NULL;
  else if (a0.t == JV_DICT)
    *out = jv_dict_get(a0.u.d, v, &r);
  else {
    *out = false;
    for (size_t i = 0; a0.t == JV_LIST && i < a0.u.l->n && !*out; i++)
      *out = jv_eq(a0.u.l->v[i], v);
  }
  return SEER_OK;
}

/* `is lower` / `is upper`: the string methods islower/isupper; false for non-strings. */
static int t_lower_upper(TEST_PARAMS) {
  (void)a0;
  if (v.t != JV_STR) {
    *out = false;
    return SEER_OK;
  }
  jv r;
  jbound b = {v, name[0] == 'l' ? "islower" : "isupper"};
  int rc = jcall_method(c, &b, NULL, 0, NULL, NULL, 0, line, &r);
  if (rc) return rc;
  *out = r.u.b;
  return SEER_OK;
}

static const jtest_entry TESTS[] = {{"defined", t_defined},
                                    {"undefined", t_undefined},
                                    {"none", t_none},
                                    {"boolean", t_boolean},
                                    {"true", t_true},
                                    {"false", t_false},
                                    {"integer", t_integer},
                                    {"float", t_float},
                                    {"number", t_number},
                                    {"string", t_string},
                                    {"mapping", t_mapping},
                                    {"sequence", t_iterable},
                                    {"iterable", t_iterable},
                                    {"callable", t_callable},
                                    {"odd", t_odd_even},
                                    {"even", t_odd_even},
                                    {"divisibleby", t_divisibleby},
                                    {"eq", t_eq},
                                    {"equalto", t_eq},
                                    {"==", t_eq},
                                    {"sameas", t_sameas},
                                    {"ne", t_ne},
                                    {"!=", t_ne},
                                    {"lt", t_lt},
                                    {"lessthan", t_lt},
                                    {"<", t_lt},
                                    {"gt", t_gt},
                                    {"greaterthan", t_gt},
                                    {">", t_gt},
                                    {"le", t_le},
                                    {"ge", t_ge},
                                    {"in", t_in},
                                    {"lower", t_lower_upper},
                                    {"upper", t_lower_upper},
                                    {NULL, NULL}};

static const jtest_entry *find_test(const char *name, size_t n) {
  return jtable_find(TESTS, sizeof *TESTS, name, n);
}

bool jis_test(const char *name, size_t n) { return find_test(name, n) != NULL; }

int jtest(jctx *c, const char *name, jv v, jv *args, size_t nargs, int line, bool *out) {
  const jtest_entry *t = find_test(name, strlen(name));
  if (!t) return jerr(c, line, "unknown test '%s'", name);
  /* tests compare: charged as deep as jv_eq goes */
  int rc = jwork_on(c, v, JV_DEEP, line);
  if (!rc && nargs) rc = jwork_on(c, args[0], JV_DEEP, line);
  if (rc) return rc;
  return t->fn(c, t->name, v, nargs ? args[0] : jv_undef(), line, out);
}
