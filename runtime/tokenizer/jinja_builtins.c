/* jinja_builtins.c: owns the built-in library apart from filters: tests, string/dict methods, the
 * globals chat templates call (range, namespace, raise_exception, strftime_now, dict). */
#include "jinja_internal.h"
#include "tok_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

static int oom(jctx *c) { return joom(c); }

static bool streq(const char *a, const char *b) { return !strcmp(a, b); }

static bool py_space(int32_t cp) { return tok_is_whitespace(cp) || (cp >= 0x1C && cp <= 0x1F); }

jv jb_kwarg(const char **kwn, jv *kwv, size_t nkw, const char *name, jv *args, size_t nargs,
            size_t pos, jv dflt) {
  for (size_t i = 0; i < nkw; i++)
    if (streq(kwn[i], name)) return kwv[i];
  return pos < nargs ? args[pos] : dflt;
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
  if (jv_to_str(v, &b)) return oom(c);
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

/* ---- string helpers ---- */

static bool in_chars(jv chars, int32_t cp) {
  for (size_t i = 0; i < chars.u.s.n;) {
    int32_t x;
    i += tok_utf8_decode((const unsigned char *)chars.u.s.p + i, &x);
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
    size_t l = tok_utf8_decode(p + a, &cp);
    if (custom ? !in_chars(chars, cp) : !py_space(cp)) break;
    a += l;
  }
  while (right && b > a) {
    size_t k = b - 1;
    while (k > a && (p[k] & 0xC0) == 0x80)
      k--;
    int32_t cp;
    tok_utf8_decode(p + k, &cp);
    if (custom ? !in_chars(chars, cp) : !py_space(cp)) break;
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
    i += tok_utf8_decode(p + i, &cp);
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
    if (seer_buf_append(&b, u, tok_utf8_encode(r, u))) return oom(c);
  }
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

static bool starts_with(jv s, jv pre) {
  return pre.t == JV_STR && pre.u.s.n <= s.u.s.n && !memcmp(s.u.s.p, pre.u.s.p, pre.u.s.n);
}
static bool ends_with(jv s, jv suf) {
  return suf.t == JV_STR && suf.u.s.n <= s.u.s.n &&
         !memcmp(s.u.s.p + s.u.s.n - suf.u.s.n, suf.u.s.p, suf.u.s.n);
}

static const char *find_sub(jv s, jv sub, size_t from) {
  if (sub.u.s.n == 0) return s.u.s.p + from;
  for (size_t i = from; i + sub.u.s.n <= s.u.s.n; i++)
    if (!memcmp(s.u.s.p + i, sub.u.s.p, sub.u.s.n)) return s.u.s.p + i;
  return NULL;
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
      while (p < end && (k = tok_utf8_decode((const unsigned char *)p, &cp), py_space(cp)))
        p += k;
      if (p >= end) break;
      const char *w = p;
      if (maxsplit == 0) {
        const char *e = end;
        while (e > w) {
          const char *q = e - 1;
          while (q > w && ((unsigned char)*q & 0xC0) == 0x80)
            q--;
          tok_utf8_decode((const unsigned char *)q, &cp);
          if (!py_space(cp)) break;
          e = q;
        }
        if (jv_list_push(c->a, l.u.l, jv_str(w, (size_t)(e - w)))) return oom(c);
        break;
      }
      while (p < end && (k = tok_utf8_decode((const unsigned char *)p, &cp), !py_space(cp)))
        p += k;
      if (jv_list_push(c->a, l.u.l, jv_str(w, (size_t)(p - w)))) return oom(c);
      if (maxsplit > 0) maxsplit--;
    }
    *out = l;
    return SEER_OK;
  }
  if (sep.u.s.n == 0) return jerr(c, 0, "empty separator");
  for (;;) {
    const char *f = maxsplit == 0 ? NULL : find_sub(s, sep, (size_t)(p - s.u.s.p));
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
    const char *f = find_sub(s, old, i);
    if (!f) break;
    size_t at = (size_t)(f - s.u.s.p);
    rc |= seer_buf_append(&b, s.u.s.p + i, at - i) || seer_buf_append(&b, new_.u.s.p, new_.u.s.n);
    if (old.u.s.n == 0) {
      if (at < s.u.s.n) {
        size_t l = tok_utf8_len((unsigned char)s.u.s.p[at]);
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
  if (rc) return oom(c);
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
        size_t k = tok_utf8_len((unsigned char)seq.u.s.p[i]);
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
      return oom(c);
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
    if (*p != '%') {
      rc = seer_buf_appendc(&b, *p++);
      continue;
    }
    const char *spec = p++;
    while (p < end && strchr("-+ #0", *p))
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
        if (l.t != JV_LIST || jv_list_push(c->a, l.u.l, v) || jv_to_str(l, &t)) return oom(c);
        memmove(t.data, t.data + 1, t.len - 2);
        t.len -= 2;
      } else if (jv_to_str(v, &t)) {
        return oom(c);
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
    } else if (strchr("feEgG", conv)) {
      if (v.t != JV_INT && v.t != JV_BOOL && v.t != JV_FLOAT) {
        seer_buf_free(&b);
        return jerr(c, line, "%%%c format: a number is required, not %s", conv, jv_type_name(v));
      }
      double x = v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : v.u.b;
      snprintf(cfmt + flen, sizeof cfmt - flen, "%c", conv);
      rc = seer_buf_printf(&b, cfmt, x);
    } else {
      seer_buf_free(&b);
      return jerr(c, line, "unsupported format character '%c'", conv);
    }
  }
  if (rc) return oom(c);
  if (next < nvals && vals != one) {
    seer_buf_free(&b);
    return jerr(c, line, "not all arguments converted during string formatting");
  }
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

/* ---- attributes and methods ---- */

static const char *const DICT_METHODS[] = {"items", "keys", "values", "get", NULL};
static const char *const STR_METHODS[] = {
    "strip",   "lstrip",     "rstrip",  "startswith", "endswith", "split",   "rsplit",
    "upper",   "lower",      "title",   "capitalize", "replace",  "find",    "rfind",
    "count",   "join",       "isdigit", "isalpha",    "isalnum",  "isspace", "islower",
    "isupper", "splitlines", "index",   NULL};
static const char *const LIST_METHODS[] = {"index", "count", NULL};

static const char *method_name(const char *const *names, const char *n, size_t len) {
  for (size_t i = 0; names[i]; i++)
    if (strlen(names[i]) == len && !memcmp(names[i], n, len)) return names[i];
  return NULL;
}

static bool bind(jctx *c, jv self, const char *name, jv *out) {
  jbound *b = ja_alloc(c->a, sizeof *b);
  if (!b) return false;
  b->self = self;
  b->name = name;
  *out = (jv){.t = JV_METHOD, .u.bm = b};
  return true;
}

bool jgetattr(jctx *c, jv obj, const char *name, size_t n, jv *out) {
  const char *m;
  if (obj.t == JV_DICT) {
    /* Python's getattr comes first in Jinja2: d.items is the method, d.role the key. Namespaces
     * and loop objects have no methods. */
    jv v;
    jv key = jv_str(name, n);
    if (!obj.u.d->ns && (m = method_name(DICT_METHODS, name, n))) {
      jv probe;
      if (!jv_dict_gets(obj.u.d, "index0", &probe) || !jv_dict_gets(obj.u.d, "length", &probe))
        return bind(c, obj, m, out);
    }
    if (n == 5 && !memcmp(name, "cycle", 5) && jv_dict_gets(obj.u.d, "index0", &v))
      return bind(c, obj, "cycle", out);
    if (n == 7 && !memcmp(name, "changed", 7) && obj.u.d->loop_changed)
      return bind(c, obj, "changed", out);
    if (jv_dict_get(obj.u.d, key, &v)) {
      *out = v;
      return true;
    }
    *out = jv_undef();
    return true;
  }
  if (obj.t == JV_STR && (m = method_name(STR_METHODS, name, n))) return bind(c, obj, m, out);
  if (obj.t == JV_LIST && (m = method_name(LIST_METHODS, name, n))) return bind(c, obj, m, out);
  *out = jv_undef();
  return true;
}

int jcall_method(jctx *c, const jbound *m, jv *args, size_t nargs, const char **kwn, jv *kwv,
                 size_t nkw, int line, jv *out) {
  jv self = m->self;
  const char *name = m->name;
  jv a0 = nargs > 0 ? args[0] : jv_undef(), a1 = nargs > 1 ? args[1] : jv_undef();
  if (self.t == JV_DICT) {
    if (streq(name, "cycle")) {
      jv idx;
      jv_dict_gets(self.u.d, "index0", &idx);
      *out = nargs ? args[idx.u.i % (int64_t)nargs] : jv_undef();
      return SEER_OK;
    }
    if (streq(name, "changed")) {
      /* True when the arguments differ from the previous call's (and on the first call). */
      jv now = jv_new_list(c->a);
      if (now.t != JV_LIST) return oom(c);
      for (size_t i = 0; i < nargs; i++)
        if (jv_list_push(c->a, now.u.l, args[i])) return oom(c);
      jv *last = self.u.d->loop_changed;
      *out = jv_bool(last->t == JV_UNDEF || !jv_eq(*last, now));
      *last = now;
      return SEER_OK;
    }
    if (streq(name, "get")) {
      if (!jv_dict_get(self.u.d, a0, out)) *out = nargs > 1 ? a1 : jv_none();
      return SEER_OK;
    }
    jv l = jv_new_list(c->a);
    if (l.t != JV_LIST) return oom(c);
    for (size_t i = 0; i < self.u.d->n; i++) {
      jv v = streq(name, "keys") ? self.u.d->k[i] : self.u.d->v[i];
      if (streq(name, "items")) {
        v = jv_new_list(c->a);
        if (v.t != JV_LIST || jv_list_push(c->a, v.u.l, self.u.d->k[i]) ||
            jv_list_push(c->a, v.u.l, self.u.d->v[i]))
          return oom(c);
        v.u.l->tuple = true;
      }
      if (jv_list_push(c->a, l.u.l, v)) return oom(c);
    }
    *out = l;
    return SEER_OK;
  }
  if (self.t == JV_LIST) {
    int64_t k = 0;
    for (size_t i = 0; i < self.u.l->n; i++)
      if (jv_eq(self.u.l->v[i], a0)) {
        if (streq(name, "index")) {
          *out = jv_int((int64_t)i);
          return SEER_OK;
        }
        k++;
      }
    if (streq(name, "index")) return jerr(c, line, "value is not in list");
    *out = jv_int(k);
    return SEER_OK;
  }
  /* string methods */
  if (streq(name, "strip") || streq(name, "lstrip") || streq(name, "rstrip")) {
    *out = jb_strip(self, a0, name[0] != 'r', name[0] != 'l');
    return SEER_OK;
  }
  if (streq(name, "startswith") || streq(name, "endswith")) {
    bool (*f)(jv, jv) = name[0] == 's' ? starts_with : ends_with;
    bool r = false;
    if (a0.t == JV_LIST)
      for (size_t i = 0; i < a0.u.l->n && !r; i++)
        r = f(self, a0.u.l->v[i]);
    else
      r = f(self, a0);
    *out = jv_bool(r);
    return SEER_OK;
  }
  if (streq(name, "split") || streq(name, "rsplit")) {
    jv sep = jb_kwarg(kwn, kwv, nkw, "sep", args, nargs, 0, jv_none());
    jv max = jb_kwarg(kwn, kwv, nkw, "maxsplit", args, nargs, 1, jv_int(-1));
    if (streq(name, "rsplit") && max.t == JV_INT && max.u.i >= 0) {
      if (sep.t != JV_STR || !sep.u.s.n)
        return jerr(c, line, "rsplit with maxsplit needs a separator");
      /* Split from the right at most maxsplit times, then reverse the pieces. */
      jv l = jv_new_list(c->a);
      if (l.t != JV_LIST) return oom(c);
      size_t end = self.u.s.n;
      int64_t left = max.u.i;
      for (;;) {
        const char *f = NULL;
        for (size_t i = end; left && i >= sep.u.s.n; i--)
          if (!memcmp(self.u.s.p + i - sep.u.s.n, sep.u.s.p, sep.u.s.n)) {
            f = self.u.s.p + i - sep.u.s.n;
            break;
          }
        size_t from = f ? (size_t)(f - self.u.s.p) + sep.u.s.n : 0;
        if (jv_list_push(c->a, l.u.l, jv_str(self.u.s.p + from, end - from))) return oom(c);
        if (!f) break;
        end = (size_t)(f - self.u.s.p);
        left--;
      }
      for (size_t i = 0, j = l.u.l->n; i + 1 < j; i++, j--) {
        jv t = l.u.l->v[i];
        l.u.l->v[i] = l.u.l->v[j - 1];
        l.u.l->v[j - 1] = t;
      }
      *out = l;
      return SEER_OK;
    }
    return jb_split(c, self, sep, max.t == JV_INT ? max.u.i : -1, out);
  }
  if (streq(name, "splitlines")) {
    jv l = jv_new_list(c->a);
    const char *p = self.u.s.p, *end = p + self.u.s.n;
    while (p < end) {
      const char *e = p;
      while (e < end && *e != '\n' && *e != '\r')
        e++;
      if (jv_list_push(c->a, l.u.l, jv_str(p, (size_t)(e - p)))) return oom(c);
      if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n') e++;
      p = e + 1;
    }
    *out = l;
    return SEER_OK;
  }
  if (streq(name, "upper")) return jb_change_case(c, self, JB_UPPER, out);
  if (streq(name, "lower")) return jb_change_case(c, self, JB_LOWER, out);
  if (streq(name, "title")) return jb_change_case(c, self, JB_TITLE, out);
  if (streq(name, "capitalize")) return jb_change_case(c, self, JB_CAPITALIZE, out);
  if (streq(name, "replace"))
    return jb_replace(c, self, a0, a1, nargs > 2 && args[2].t == JV_INT ? args[2].u.i : -1, out);
  if (streq(name, "join")) return jb_join(c, a0, self, jv_undef(), out);
  if (streq(name, "find") || streq(name, "rfind") || streq(name, "index") || streq(name, "count")) {
    if (a0.t != JV_STR) return jerr(c, line, "%s() argument must be a string", name);
    int64_t found = -1, count = 0;
    for (const char *f = find_sub(self, a0, 0); f;
         f = find_sub(self, a0, (size_t)(f - self.u.s.p) + (a0.u.s.n ? a0.u.s.n : 1))) {
      if (found < 0 || name[0] == 'r') found = (int64_t)(f - self.u.s.p);
      count++;
      if ((size_t)(f - self.u.s.p) >= self.u.s.n) break;
    }
    if (streq(name, "count")) {
      *out = jv_int(count);
      return SEER_OK;
    }
    if (found < 0 && streq(name, "index")) return jerr(c, line, "substring not found");
    /* byte offsets equal code point offsets only for ASCII; convert */
    int64_t cps = 0;
    for (int64_t i = 0; i < found; i++)
      cps += ((unsigned char)self.u.s.p[i] & 0xC0) != 0x80;
    *out = jv_int(found < 0 ? -1 : cps);
    return SEER_OK;
  }
  /* is* predicates */
  bool any = false, all = true, cased = false;
  for (size_t i = 0; i < self.u.s.n;) {
    int32_t cp;
    i += tok_utf8_decode((const unsigned char *)self.u.s.p + i, &cp);
    int cat = utf8proc_category(cp);
    bool letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
    bool digit = cat == UTF8PROC_CATEGORY_ND;
    bool ok = streq(name, "isdigit")   ? digit
              : streq(name, "isalpha") ? letter
              : streq(name, "isalnum")
                  ? letter || digit || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO
              : streq(name, "isspace") ? py_space(cp)
              : streq(name, "islower") ? cat != UTF8PROC_CATEGORY_LU && cat != UTF8PROC_CATEGORY_LT
                                       : cat != UTF8PROC_CATEGORY_LL && cat != UTF8PROC_CATEGORY_LT;
    if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT)
      cased = true;
    any = true;
    all = all && ok;
  }
  if (streq(name, "islower") || streq(name, "isupper"))
    *out = jv_bool(all && cased);
  else
    *out = jv_bool(any && all);
  return SEER_OK;
}

/* ---- globals ---- */

static const char *const BUILTINS[] = {"range",        "namespace", "raise_exception",
                                       "strftime_now", "dict",      NULL};

bool jis_builtin(const char *name, size_t n, const char **canonical) {
  const char *m = method_name(BUILTINS, name, n);
  if (m) *canonical = m;
  return m != NULL;
}

int jcall_builtin(jctx *c, const char *name, jv *args, size_t nargs, const char **kwn, jv *kwv,
                  size_t nkw, int line, jv *out) {
  if (streq(name, "raise_exception")) {
    seer_buf b = SEER_BUF_INIT;
    if (nargs) jv_to_str(args[0], &b);
    seer_buf_terminate(&b);
    /* The template's own message, verbatim: it is what the user needs to read. */
    seer_errorf(c->err, SEER_EINVAL, "%s", b.data ? b.data : "raise_exception() called");
    seer_buf_free(&b);
    return SEER_EINVAL;
  }
  if (streq(name, "range")) {
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
  if (streq(name, "namespace") || streq(name, "dict")) {
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
  if (streq(name, "strftime_now")) {
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
  return jerr(c, line, "unknown function '%s'", name);
}

/* ---- tests ---- */

static const char *const TESTS[] = {
    "defined", "undefined", "none",        "boolean",  "true",     "false",    "integer",
    "float",   "number",    "string",      "mapping",  "sequence", "iterable", "callable",
    "odd",     "even",      "divisibleby", "eq",       "equalto",  "==",       "sameas",
    "ne",      "!=",        "lt",          "lessthan", "<",        "gt",       "greaterthan",
    ">",       "le",        "ge",          "in",       "lower",    "upper",    NULL};

bool jis_test(const char *name, size_t n) { return method_name(TESTS, name, n) != NULL; }

int jtest(jctx *c, const char *name, jv v, jv *args, size_t nargs, int line, bool *out) {
  jv a0 = nargs ? args[0] : jv_undef();
  bool ok;
  if (streq(name, "defined"))
    *out = v.t != JV_UNDEF;
  else if (streq(name, "undefined"))
    *out = v.t == JV_UNDEF;
  else if (streq(name, "none"))
    *out = v.t == JV_NONE;
  else if (streq(name, "boolean"))
    *out = v.t == JV_BOOL;
  else if (streq(name, "true"))
    *out = v.t == JV_BOOL && v.u.b;
  else if (streq(name, "false"))
    *out = v.t == JV_BOOL && !v.u.b;
  else if (streq(name, "integer"))
    *out = v.t == JV_INT;
  else if (streq(name, "float"))
    *out = v.t == JV_FLOAT;
  else if (streq(name, "number"))
    *out = v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL;
  else if (streq(name, "string"))
    *out = v.t == JV_STR;
  else if (streq(name, "mapping"))
    *out = v.t == JV_DICT;
  else if (streq(name, "sequence"))
    *out = v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT;
  else if (streq(name, "iterable"))
    *out = v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT;
  else if (streq(name, "callable"))
    *out = v.t == JV_MACRO || v.t == JV_BUILTIN || v.t == JV_METHOD || v.t == JV_CALLER ||
           (v.t == JV_DICT && v.u.d->loop && v.u.d->loop->recursive);
  else if (streq(name, "odd") || streq(name, "even")) {
    if (v.t != JV_INT) return jerr(c, line, "'%s' test needs an integer", name);
    *out = (v.u.i % 2 != 0) == (name[0] == 'o');
  } else if (streq(name, "divisibleby")) {
    if (v.t != JV_INT || a0.t != JV_INT || !a0.u.i) return jerr(c, line, "bad divisibleby test");
    *out = v.u.i % a0.u.i == 0;
  } else if (streq(name, "eq") || streq(name, "equalto") || streq(name, "==") ||
             streq(name, "sameas"))
    *out = jv_eq(v, a0) && (!streq(name, "sameas") || v.t == a0.t);
  else if (streq(name, "ne") || streq(name, "!="))
    *out = !jv_eq(v, a0);
  else if (streq(name, "lt") || streq(name, "lessthan") || streq(name, "<"))
    *out = jv_cmp(v, a0, &ok) < 0 && ok;
  else if (streq(name, "gt") || streq(name, "greaterthan") || streq(name, ">"))
    *out = jv_cmp(v, a0, &ok) > 0 && ok;
  else if (streq(name, "le"))
    *out = jv_cmp(v, a0, &ok) <= 0 && ok;
  else if (streq(name, "ge"))
    *out = jv_cmp(v, a0, &ok) >= 0 && ok;
  else if (streq(name, "in")) {
    jv r;
    if (a0.t == JV_STR && v.t == JV_STR)
      *out = find_sub(a0, v, 0) != NULL;
    else if (a0.t == JV_DICT)
      *out = jv_dict_get(a0.u.d, v, &r);
    else {
      *out = false;
      for (size_t i = 0; a0.t == JV_LIST && i < a0.u.l->n && !*out; i++)
        *out = jv_eq(a0.u.l->v[i], v);
    }
  } else if (streq(name, "lower") || streq(name, "upper")) {
    if (v.t != JV_STR) {
      *out = false;
      return SEER_OK;
    }
    jv r;
    jbound b = {v, name[0] == 'l' ? "islower" : "isupper"};
    int rc = jcall_method(c, &b, NULL, 0, NULL, NULL, 0, line, &r);
    if (rc) return rc;
    *out = r.u.b;
  } else {
    return jerr(c, line, "unknown test '%s'", name);
  }
  return SEER_OK;
}
