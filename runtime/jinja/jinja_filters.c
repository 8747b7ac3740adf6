/* jinja_filters.c: owns the Jinja filters (trim, tojson, length, items, join, default, map,
 * selectattr, sort, ...) with Jinja2's argument conventions. */
#include "jinja_internal.h"
#include "seer/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int oom(jctx *c) { return joom(c); }
/* Whether `name` is one of the NULL-terminated `names`. */
static bool one_of(const char *name, const char *const *names) {
  for (; *names; names++)
    if (!strcmp(name, *names)) return true;
  return false;
}

/* ---- filters ---- */

/* Every filter takes the same arguments (most use a few): the value, positional and keyword
 * arguments, the template line for errors, and where to put the result. `name` is how the template
 * spelled it, for filters with several names (upper/lower/title/capitalize, ...). */
#define FILTER_PARAMS                                                                              \
  jctx *c, const char *name, jv v, jv *args, size_t nargs, const char **kwn, jv *kwv, size_t nkw,  \
      int line, jv *out
typedef struct {
  const char *name;
  int (*fn)(FILTER_PARAMS);
} jfilter_entry;

static int64_t length_of(jv v) {
  switch (v.t) {
  case JV_STR: {
    int64_t n = 0;
    for (size_t i = 0; i < v.u.s.n; i++)
      n += ((unsigned char)v.u.s.p[i] & 0xC0) != 0x80;
    return n;
  }
  case JV_LIST: return (int64_t)v.u.l->n;
  case JV_DICT: return (int64_t)v.u.d->n;
  default: return 0;
  }
}

static int as_list(jctx *c, jv v, int line, jv *out) {
  jv l = jv_new_list(c->a);
  if (l.t != JV_LIST) return oom(c);
  if (v.t == JV_LIST) {
    for (size_t i = 0; i < v.u.l->n; i++)
      if (jv_list_push(c->a, l.u.l, v.u.l->v[i])) return oom(c);
  } else if (v.t == JV_DICT) {
    for (size_t i = 0; i < v.u.d->n; i++)
      if (jv_list_push(c->a, l.u.l, v.u.d->k[i])) return oom(c);
  } else if (v.t == JV_STR) {
    for (size_t i = 0; i < v.u.s.n;) {
      size_t k = seer_utf8_len((unsigned char)v.u.s.p[i]);
      if (jv_list_push(c->a, l.u.l, jv_str(v.u.s.p + i, k))) return oom(c);
      i += k;
    }
  } else if (v.t != JV_UNDEF) {
    return jerr(c, line, "'%s' object is not iterable", jv_type_name(v));
  }
  *out = l;
  return SEER_OK;
}

/* Sort key: an attribute (dotted) of each item, lowercased strings unless case_sensitive. */
typedef struct sort_ctx {
  jctx *c;
  jv attr;
  bool case_sensitive, reverse, bad;
} sort_ctx;

static jv sort_key(sort_ctx *s, jv v) {
  if (s->attr.t == JV_STR) jgetattr(s->c, v, s->attr.u.s.p, s->attr.u.s.n, &v);
  if (v.t == JV_STR && !s->case_sensitive) jb_change_case(s->c, v, JB_LOWER, &v);
  return v;
}

/* Whether the item keyed b goes before the one keyed a, which came first (stability). */
static bool sort_before(sort_ctx *s, jv a, jv b) {
  bool ok;
  int cmp = jv_cmp(a, b, &ok);
  if (!ok) s->bad = true;
  return s->reverse ? cmp < 0 : cmp > 0;
}

/* Bottom-up merge sort of items with their keys: stable like Python's sort, and O(n log n) on any
 * input (a template can sort range(1000000)). Charged up front: each of its log2(n) passes compares
 * every key at most twice. */
static int sort_list(sort_ctx *s, jlist *l, int line) {
  size_t n = l->n, passes = 0;
  for (size_t w = 1; w < n; w *= 2)
    passes++;
  int rc = jwork_times(s->c, 2 * passes, (jv){.t = JV_LIST, .u.l = l}, JV_DEEP, line);
  if (rc) return rc;
  jv *keys = ja_alloc(s->c->a, (2 * n + 1) * sizeof *keys);
  jv *items = ja_alloc(s->c->a, (n + 1) * sizeof *items);
  if (!keys || !items) return oom(s->c);
  for (size_t i = 0; i < n; i++)
    keys[i] = sort_key(s, l->v[i]);
  jv *k_from = keys, *k_to = keys + n, *i_from = l->v, *i_to = items;
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      size_t a = lo, b = mid;
      for (size_t o = lo; o < hi; o++) {
        bool take_b = a >= mid || (b < hi && sort_before(s, k_from[a], k_from[b]));
        size_t from = take_b ? b++ : a++;
        k_to[o] = k_from[from];
        i_to[o] = i_from[from];
      }
    }
    jv *t = k_from;
    k_from = k_to;
    k_to = t;
    t = i_from;
    i_from = i_to;
    i_to = t;
  }
  if (i_from != l->v) memcpy(l->v, i_from, n * sizeof *l->v);
  return SEER_OK;
}

static int select_items(jctx *c, jv seq, jv *args, size_t nargs, bool by_attr, bool keep, int line,
                        jv *out) {
  jv l;
  int rc = as_list(c, seq, line, &l);
  if (rc) return rc;
  jv res = jv_new_list(c->a);
  if (res.t != JV_LIST) return oom(c);
  size_t first = by_attr ? 1 : 0;
  if (by_attr && (!nargs || args[0].t != JV_STR))
    return jerr(c, line, "selectattr needs an attribute");
  for (size_t i = 0; i < l.u.l->n; i++) {
    jv v = l.u.l->v[i], x = v;
    if (by_attr) jgetattr(c, v, args[0].u.s.p, args[0].u.s.n, &x);
    bool r;
    if (nargs > first) {
      if (args[first].t != JV_STR) return jerr(c, line, "test name must be a string");
      char tname[64];
      snprintf(tname, sizeof tname, "%.*s", (int)args[first].u.s.n, args[first].u.s.p);
      if ((rc = jtest(c, tname, x, args + first + 1, nargs - first - 1, line, &r))) return rc;
    } else {
      r = jv_truthy(x);
    }
    if (r == keep && jv_list_push(c->a, res.u.l, v)) return oom(c);
  }
  *out = res;
  return SEER_OK;
}

static int indent(jctx *c, jv s, jv width, bool first, bool blank, jv *out) {
  seer_buf pad = SEER_BUF_INIT, b = SEER_BUF_INIT;
  if (width.t == JV_STR)
    seer_buf_append(&pad, width.u.s.p, width.u.s.n);
  else
    for (int64_t i = 0; i < (width.t == JV_INT ? width.u.i : 4); i++)
      seer_buf_appendc(&pad, ' ');
  const char *p = s.u.s.p, *end = p + s.u.s.n;
  bool line0 = true;
  while (p <= end) {
    const char *e = memchr(p, '\n', (size_t)(end - p));
    if (!e) e = end;
    bool empty = e == p;
    if ((!line0 || first) && (!empty || blank) && !(e == end && empty && !line0))
      seer_buf_append(&b, pad.data, pad.len);
    seer_buf_append(&b, p, (size_t)(e - p));
    if (e == end) break;
    seer_buf_appendc(&b, '\n');
    p = e + 1;
    line0 = false;
  }
  seer_buf_free(&pad);
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

static int f_trim(FILTER_PARAMS) {
  int rc;
  if ((rc = jb_to_text(c, v, &v))) return rc;
  *out = jb_strip(v, jb_kwarg(kwn, kwv, nkw, "chars", args, nargs, 0, jv_none()), true, true);
  return SEER_OK;
}

static int f_tojson(FILTER_PARAMS) {
  /* transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
   * sort_keys=False), positional in that order. */
  jjson_opts o;
  if (!jv_json_opts(
          &o, jb_kwarg(kwn, kwv, nkw, "indent", args, nargs, 1, jv_none()),
          jb_kwarg(kwn, kwv, nkw, "separators", args, nargs, 2, jv_none()),
          jv_truthy(jb_kwarg(kwn, kwv, nkw, "sort_keys", args, nargs, 3, jv_bool(false))),
          jv_truthy(jb_kwarg(kwn, kwv, nkw, "ensure_ascii", args, nargs, 0, jv_bool(false)))))
    return jerr(c, line,
                "tojson: indent must be an integer or a string, separators a pair of "
                "strings");
  static const char *const known[] = {"indent", "separators", "sort_keys", "ensure_ascii", NULL};
  for (size_t i = 0; i < nkw; i++)
    if (!one_of(kwn[i], known)) return jerr(c, line, "tojson: unexpected argument '%s'", kwn[i]);
  seer_buf b = SEER_BUF_INIT;
  if (jv_to_json(v, &o, &b)) {
    seer_buf_free(&b);
    return jerr(
        c, line,
        "tojson: cannot serialise a %s (a macro, or nested too deeply: does it contain itself?)",
        jv_type_name(v));
  }
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

/* length, count */
static int f_length(FILTER_PARAMS) {
  *out = jv_int(length_of(v));
  return SEER_OK;
}

static int f_string(FILTER_PARAMS) { return jb_to_text(c, v, out); }

/* default, d */
static int f_default(FILTER_PARAMS) {
  jv a0 = nargs ? args[0] : jv_undef();
  jv boolean = jb_kwarg(kwn, kwv, nkw, "boolean", args, nargs, 1, jv_bool(false));
  bool use = v.t == JV_UNDEF || (jv_truthy(boolean) && !jv_truthy(v));
  *out = use ? (nargs ? a0 : jv_str("", 0)) : v;
  return SEER_OK;
}

/* upper, lower, title, capitalize */
static int f_change_case(FILTER_PARAMS) {
  int rc;
  if ((rc = jb_to_text(c, v, &v))) return rc;
  return jb_change_case(c, v,
                        name[0] == 'u'   ? JB_UPPER
                        : name[0] == 'l' ? JB_LOWER
                        : name[0] == 't' ? JB_TITLE
                                         : JB_CAPITALIZE,
                        out);
}

static int f_items(FILTER_PARAMS) {
  if (v.t == JV_UNDEF) return as_list(c, v, line, out);
  if (v.t != JV_DICT) return jerr(c, line, "items filter needs a mapping, got %s", jv_type_name(v));
  jbound b = {v, "items"};
  return jcall_method(c, &b, NULL, 0, NULL, NULL, 0, line, out);
}

static int f_dictsort(FILTER_PARAMS) {
  int rc;
  if (v.t != JV_DICT) return jerr(c, line, "dictsort needs a mapping");
  jbound b = {v, "items"};
  if ((rc = jcall_method(c, &b, NULL, 0, NULL, NULL, 0, line, out))) return rc;
  jv cs = jb_kwarg(kwn, kwv, nkw, "case_sensitive", args, nargs, 0, jv_bool(false));
  jv by = jb_kwarg(kwn, kwv, nkw, "by", args, nargs, 1, jv_cstr("key"));
  jv rev = jb_kwarg(kwn, kwv, nkw, "reverse", args, nargs, 2, jv_bool(false));
  sort_ctx s = {c, jv_int(0), jv_truthy(cs), jv_truthy(rev), false};
  s.attr = jv_undef();
  /* sort by pair element: key index 0 or value index 1 */
  jv *keys = ja_alloc(c->a, (out->u.l->n + 1) * sizeof *keys);
  if (!keys) return oom(c);
  size_t idx = by.t == JV_STR && by.u.s.n == 5 && !memcmp(by.u.s.p, "value", 5);
  jlist *l = out->u.l;
  /* an insertion sort (mappings in templates are small): n passes over the pairs at most */
  if ((rc = jwork_times(c, 2 * l->n, *out, JV_DEEP, line))) return rc;
  for (size_t i = 1; i < l->n; i++)
    for (size_t j = i; j > 0; j--) {
      bool ok;
      jv x = sort_key(&s, l->v[j - 1].u.l->v[idx]), y = sort_key(&s, l->v[j].u.l->v[idx]);
      int cmp = jv_cmp(x, y, &ok);
      if (s.reverse ? cmp >= 0 : cmp <= 0) break;
      jv t = l->v[j];
      l->v[j] = l->v[j - 1];
      l->v[j - 1] = t;
    }
  return SEER_OK;
}

static int f_join(FILTER_PARAMS) {
  jv sep = jb_kwarg(kwn, kwv, nkw, "d", args, nargs, 0, jv_str("", 0));
  return jb_join(c, v, sep, jb_kwarg(kwn, kwv, nkw, "attribute", args, nargs, 1, jv_none()), out);
}

static int f_list(FILTER_PARAMS) { return as_list(c, v, line, out); }

/* first, last */
static int f_first_last(FILTER_PARAMS) {
  int rc;
  jv l;
  if ((rc = as_list(c, v, line, &l))) return rc;
  *out = l.u.l->n ? l.u.l->v[name[0] == 'f' ? 0 : l.u.l->n - 1] : jv_undef();
  return SEER_OK;
}

static int f_reverse(FILTER_PARAMS) {
  int rc;
  if (v.t == JV_STR) {
    seer_buf b = SEER_BUF_INIT;
    for (size_t i = v.u.s.n; i > 0;) {
      size_t k = i - 1;
      while (k > 0 && ((unsigned char)v.u.s.p[k] & 0xC0) == 0x80)
        k--;
      seer_buf_append(&b, v.u.s.p + k, i - k);
      i = k;
    }
    *out = jb_mkstr(c, &b);
    return SEER_OK;
  }
  jv l;
  if ((rc = as_list(c, v, line, &l))) return rc;
  jv_list_reverse(l.u.l);
  *out = l;
  return SEER_OK;
}

static int f_sort(FILTER_PARAMS) {
  int rc;
  jv l;
  if ((rc = as_list(c, v, line, &l))) return rc;
  sort_ctx s = {
      c, jb_kwarg(kwn, kwv, nkw, "attribute", args, nargs, 2, jv_none()),
      jv_truthy(jb_kwarg(kwn, kwv, nkw, "case_sensitive", args, nargs, 1, jv_bool(false))),
      jv_truthy(jb_kwarg(kwn, kwv, nkw, "reverse", args, nargs, 0, jv_bool(false))), false};
  if ((rc = sort_list(&s, l.u.l, line))) return rc;
  if (s.bad) return jerr(c, line, "sort: items cannot be compared");
  *out = l;
  return SEER_OK;
}

static int f_unique(FILTER_PARAMS) {
  int rc;
  jv l, res = jv_new_list(c->a);
  if ((rc = as_list(c, v, line, &l))) return rc;
  /* each item is compared with those kept before it: n passes over the list at most */
  if ((rc = jwork_times(c, 2 * l.u.l->n, l, JV_DEEP, line))) return rc;
  for (size_t i = 0; i < l.u.l->n; i++) {
    bool seen = false;
    for (size_t j = 0; j < res.u.l->n && !seen; j++)
      seen = jv_eq(res.u.l->v[j], l.u.l->v[i]);
    if (!seen && jv_list_push(c->a, res.u.l, l.u.l->v[i])) return oom(c);
  }
  *out = res;
  return SEER_OK;
}

static int f_map(FILTER_PARAMS) {
  jv a0 = nargs ? args[0] : jv_undef();
  int rc;
  jv l, res = jv_new_list(c->a);
  if ((rc = as_list(c, v, line, &l))) return rc;
  jv attr = jb_kwarg(kwn, kwv, nkw, "attribute", NULL, 0, 0, jv_undef());
  jv dflt = jb_kwarg(kwn, kwv, nkw, "default", NULL, 0, 0, jv_undef());
  for (size_t i = 0; i < l.u.l->n; i++) {
    jv x = l.u.l->v[i];
    if (attr.t == JV_STR) {
      jgetattr(c, x, attr.u.s.p, attr.u.s.n, &x);
      if (x.t == JV_UNDEF && dflt.t != JV_UNDEF) x = dflt;
    } else if (a0.t == JV_STR) {
      char fname[64];
      snprintf(fname, sizeof fname, "%.*s", (int)a0.u.s.n, a0.u.s.p);
      if ((rc = jfilter(c, fname, x, args + 1, nargs - 1, kwn, kwv, nkw, line, &x))) return rc;
    }
    if (jv_list_push(c->a, res.u.l, x)) return oom(c);
  }
  *out = res;
  return SEER_OK;
}

/* selectattr, rejectattr */
static int f_selectattr_rejectattr(FILTER_PARAMS) {
  return select_items(c, v, args, nargs, true, name[0] == 's', line, out);
}

/* select, reject */
static int f_select_reject(FILTER_PARAMS) {
  return select_items(c, v, args, nargs, false, name[0] == 's', line, out);
}

static int f_replace(FILTER_PARAMS) {
  jv a0 = nargs ? args[0] : jv_undef();
  int rc;
  if ((rc = jb_to_text(c, v, &v))) return rc;
  jv cnt = nargs > 2 ? args[2] : jv_none();
  return jb_replace(c, v, a0, nargs > 1 ? args[1] : jv_undef(), cnt.t == JV_INT ? cnt.u.i : -1,
                    out);
}

static int f_int(FILTER_PARAMS) {
  jv a0 = nargs ? args[0] : jv_undef();
  if (v.t == JV_INT)
    *out = v;
  else if (v.t == JV_FLOAT)
    *out = jv_int((int64_t)v.u.f);
  else if (v.t == JV_BOOL)
    *out = jv_int(v.u.b);
  else if (v.t == JV_STR) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)v.u.s.n, v.u.s.p);
    char *end;
    long long x = strtoll(buf, &end, 10);
    *out = *end || end == buf ? (nargs ? a0 : jv_int(0)) : jv_int(x);
  } else
    *out = nargs ? a0 : jv_int(0);
  return SEER_OK;
}

static int f_float(FILTER_PARAMS) {
  jv a0 = nargs ? args[0] : jv_undef();
  if (v.t == JV_INT || v.t == JV_BOOL || v.t == JV_FLOAT)
    *out = jv_float(v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : v.u.b);
  else if (v.t == JV_STR) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)v.u.s.n, v.u.s.p);
    char *end;
    double x = strtod(buf, &end);
    *out = *end || end == buf ? (nargs ? a0 : jv_float(0)) : jv_float(x);
  } else
    *out = nargs ? a0 : jv_float(0);
  return SEER_OK;
}

static int f_abs(FILTER_PARAMS) {
  *out = v.t == JV_INT     ? jv_int(v.u.i < 0 ? -v.u.i : v.u.i)
         : v.t == JV_FLOAT ? jv_float(fabs(v.u.f))
                           : v;
  return SEER_OK;
}

static int f_round(FILTER_PARAMS) {
  jv a0 = nargs ? args[0] : jv_undef();
  int64_t prec = a0.t == JV_INT ? a0.u.i : 0;
  double x = v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : 0, m = pow(10, (double)prec);
  *out = jv_float(round(x * m) / m);
  return SEER_OK;
}

/* sum, min, max: `name` picks which (the second letter differs). */
static int f_sum_min_max(FILTER_PARAMS) {
  int rc;
  jv l;
  if ((rc = as_list(c, v, line, &l))) return rc;
  if (name[1] != 'u' && (rc = jwork_times(c, 2, l, JV_DEEP, line))) return rc;
  jv acc = name[1] == 'u' ? jv_int(0) : jv_undef();
  for (size_t i = 0; i < l.u.l->n; i++) {
    jv x = l.u.l->v[i];
    bool ok;
    if (name[1] == 'u') {
      if (x.t == JV_FLOAT || acc.t == JV_FLOAT)
        acc = jv_float((acc.t == JV_FLOAT ? acc.u.f : (double)acc.u.i) +
                       (x.t == JV_FLOAT ? x.u.f : (double)x.u.i));
      else
        acc = jv_int(acc.u.i + (x.t == JV_INT ? x.u.i : 0));
    } else if (acc.t == JV_UNDEF || (jv_cmp(x, acc, &ok) < 0) == (name[1] == 'i')) {
      if (acc.t == JV_UNDEF || ok) acc = x;
    }
  }
  *out = acc;
  return SEER_OK;
}

static int f_indent(FILTER_PARAMS) {
  int rc;
  if ((rc = jb_to_text(c, v, &v))) return rc;
  return indent(c, v, jb_kwarg(kwn, kwv, nkw, "width", args, nargs, 0, jv_int(4)),
                jv_truthy(jb_kwarg(kwn, kwv, nkw, "first", args, nargs, 1, jv_bool(false))),
                jv_truthy(jb_kwarg(kwn, kwv, nkw, "blank", args, nargs, 2, jv_bool(false))), out);
}

static int f_safe(FILTER_PARAMS) {
  *out = v;
  return SEER_OK;
}

/* e, escape */
static int f_escape(FILTER_PARAMS) {
  int rc;
  if ((rc = jb_to_text(c, v, &v))) return rc;
  seer_buf b = SEER_BUF_INIT;
  for (size_t i = 0; i < v.u.s.n; i++) {
    char ch = v.u.s.p[i];
    const char *r = ch == '&'    ? "&amp;"
                    : ch == '<'  ? "&lt;"
                    : ch == '>'  ? "&gt;"
                    : ch == '"'  ? "&#34;"
                    : ch == '\'' ? "&#39;"
                                 : NULL;
    if (r ? seer_buf_appends(&b, r) : seer_buf_appendc(&b, ch)) return jb_buf_oom(c, &b);
  }
  *out = jb_mkstr(c, &b);
  return SEER_OK;
}

static int f_wordcount(FILTER_PARAMS) {
  int rc;
  jv parts;
  if ((rc = jb_to_text(c, v, &v)) || (rc = jb_split(c, v, jv_none(), -1, &parts))) return rc;
  *out = jv_int((int64_t)parts.u.l->n);
  return SEER_OK;
}

static int f_format(FILTER_PARAMS) {
  /* "fmt"|format(a, b) is "fmt" % (a, b) */
  if (v.t != JV_STR) return jerr(c, line, "format filter needs a string");
  jv t = jv_new_list(c->a);
  if (t.t != JV_LIST) return oom(c);
  t.u.l->tuple = true;
  for (size_t i = 0; i < nargs; i++)
    if (jv_list_push(c->a, t.u.l, args[i])) return oom(c);
  return jb_percent_format(c, v, t, line, out);
}

static int f_attr(FILTER_PARAMS) {
  jv a0 = nargs ? args[0] : jv_undef();
  if (a0.t != JV_STR) return jerr(c, line, "attr filter needs a name");
  jgetattr(c, v, a0.u.s.p, a0.u.s.n, out);
  return SEER_OK;
}

static const jfilter_entry FILTERS[] = {{"trim", f_trim},
                                        {"tojson", f_tojson},
                                        {"length", f_length},
                                        {"count", f_length},
                                        {"string", f_string},
                                        {"default", f_default},
                                        {"d", f_default},
                                        {"upper", f_change_case},
                                        {"lower", f_change_case},
                                        {"title", f_change_case},
                                        {"capitalize", f_change_case},
                                        {"items", f_items},
                                        {"dictsort", f_dictsort},
                                        {"join", f_join},
                                        {"list", f_list},
                                        {"first", f_first_last},
                                        {"last", f_first_last},
                                        {"reverse", f_reverse},
                                        {"sort", f_sort},
                                        {"unique", f_unique},
                                        {"map", f_map},
                                        {"selectattr", f_selectattr_rejectattr},
                                        {"rejectattr", f_selectattr_rejectattr},
                                        {"select", f_select_reject},
                                        {"reject", f_select_reject},
                                        {"replace", f_replace},
                                        {"int", f_int},
                                        {"float", f_float},
                                        {"abs", f_abs},
                                        {"round", f_round},
                                        {"sum", f_sum_min_max},
                                        {"min", f_sum_min_max},
                                        {"max", f_sum_min_max},
                                        {"indent", f_indent},
                                        {"safe", f_safe},
                                        {"e", f_escape},
                                        {"escape", f_escape},
                                        {"wordcount", f_wordcount},
                                        {"format", f_format},
                                        {"attr", f_attr},
                                        {NULL, NULL}};

static const jfilter_entry *find_filter(const char *name, size_t n) {
  return jtable_find(FILTERS, sizeof *FILTERS, name, n);
}

bool jis_filter(const char *name, size_t n) { return find_filter(name, n) != NULL; }

int jfilter(jctx *c, const char *name, jv v, jv *args, size_t nargs, const char **kwn, jv *kwv,
            size_t nkw, int line, jv *out) {
  const jfilter_entry *f = find_filter(name, strlen(name));
  if (!f) return jerr(c, line, "unknown filter '%s'", name);
  return f->fn(c, name, v, args, nargs, kwn, kwv, nkw, line, out);
}
