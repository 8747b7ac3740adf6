/* jinja_methods.c: owns attribute lookup and the Python methods templates call on values: dict,
 * loop, string and list methods. Each type has a name -> function table (like luaL_Reg); binding
 * an attribute finds the entry, calling the bound method runs its function. */
#include "jinja_internal.h"
#include "seer/utf8.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static int oom(jctx *c) { return joom(c); }

/* Every method takes the same arguments: the bound value, positional and keyword arguments, the
 * template line for errors, and where to put the result. `name` is the method's own name, for the
 * few functions that serve two names (strip/lstrip/rstrip, find/rfind, ...). */
#define METHOD_PARAMS                                                                              \
  jctx *c, const char *name, jv self, jv *args, size_t nargs, const char **kwn, jv *kwv,           \
      size_t nkw, int line, jv *out
typedef struct {
  const char *name;
  int (*fn)(METHOD_PARAMS);
} jmethod_entry;

static jv arg(jv *args, size_t nargs, size_t i) { return i < nargs ? args[i] : jv_undef(); }

/* ---- dict methods ---- */

static int dict_list(jctx *c, jv self, bool keys, bool values, jv *out) {
  jv l = jv_new_list(c->a);
  if (l.t != JV_LIST) return oom(c);
  for (size_t i = 0; i < self.u.d->n; i++) {
    jv v = keys ? self.u.d->k[i] : self.u.d->v[i];
    if (keys && values) {
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

static int m_items(METHOD_PARAMS) { return dict_list(c, self, true, true, out); }
static int m_keys(METHOD_PARAMS) { return dict_list(c, self, true, false, out); }
static int m_values(METHOD_PARAMS) { return dict_list(c, self, false, true, out); }

static int m_get(METHOD_PARAMS) {
  if (!jv_dict_get(self.u.d, arg(args, nargs, 0), out)) *out = nargs > 1 ? args[1] : jv_none();
  return SEER_OK;
}

/* ---- loop methods (the loop object is a dict with a loop record) ---- */

static int m_cycle(METHOD_PARAMS) {
  jv idx;
  jv_dict_gets(self.u.d, "index0", &idx);
  *out = nargs ? args[idx.u.i % (int64_t)nargs] : jv_undef();
  return SEER_OK;
}

/* True when the arguments differ from the previous call's (and on the first call). */
static int m_changed(METHOD_PARAMS) {
  jv now = jv_new_list(c->a);
  if (now.t != JV_LIST) return oom(c);
  for (size_t i = 0; i < nargs; i++)
    if (jv_list_push(c->a, now.u.l, args[i])) return oom(c);
  jv *last = self.u.d->loop_changed;
  int rc = jwork_on(c, *last, JV_DEEP, line);
  if (rc || (rc = jwork_on(c, now, JV_DEEP, line))) return rc;
  *out = jv_bool(last->t == JV_UNDEF || !jv_eq(*last, now));
  *last = now;
  return SEER_OK;
}

/* ---- list methods ---- */

/* list.index(x) (the first position, an error when absent) and list.count(x) */
static int m_list_index_count(METHOD_PARAMS) {
  jv a0 = arg(args, nargs, 0);
  bool index = name[0] == 'i';
  int64_t k = 0;
  /* n comparisons: each item once, the argument n times */
  int rc = jwork_on(c, self, JV_DEEP, line);
  if (rc || (rc = jwork_times(c, self.u.l->n, a0, JV_DEEP, line))) return rc;
  for (size_t i = 0; i < self.u.l->n; i++)
    if (jv_eq(self.u.l->v[i], a0)) {
      if (index) {
        *out = jv_int((int64_t)i);
        return SEER_OK;
      }
      k++;
    }
  if (index) return jerr(c, line, "value is not in list");
  *out = jv_int(k);
  return SEER_OK;
}

/* ---- string methods ---- */

static int m_strip(METHOD_PARAMS) {
  *out = jb_strip(self, arg(args, nargs, 0), name[0] != 'r', name[0] != 'l');
  return SEER_OK;
}

/* startswith/endswith accept one prefix or a tuple of them, as Python's do. */
static int m_starts_ends(METHOD_PARAMS) {
  bool (*f)(jv, jv) = name[0] == 's' ? jb_starts_with : jb_ends_with;
  jv a0 = arg(args, nargs, 0);
  bool r = false;
  if (a0.t == JV_LIST)
    for (size_t i = 0; i < a0.u.l->n && !r; i++)
      r = f(self, a0.u.l->v[i]);
  else
    r = f(self, a0);
  *out = jv_bool(r);
  return SEER_OK;
}

/* Split from the right at most maxsplit times, then reverse the pieces. The search runs forward
 * (memmem, linear) over reversed copies, where the first match is the last one here: a backward
 * byte-by-byte search is O(n·m) on 'aaa…a' split at 'baa…a'. */
static int rsplit(jctx *c, jv self, jv sep, int64_t left, jv *out) {
  jv l = jv_new_list(c->a);
  if (l.t != JV_LIST) return oom(c);
  size_t n = self.u.s.n, m = sep.u.s.n;
  char *rs = malloc(n + 1), *rsep = malloc(m + 1);
  if (!rs || !rsep) {
    free(rs);
    free(rsep);
    return oom(c);
  }
  for (size_t i = 0; i < n; i++)
    rs[i] = self.u.s.p[n - 1 - i];
  for (size_t i = 0; i < m; i++)
    rsep[i] = sep.u.s.p[m - 1 - i];
  int rc = SEER_OK;
  size_t end = n; /* the pieces so far cover self[end:] */
  for (;;) {
    /* a match at rs[r, r + m) is self[n - r - m, n - r) */
    const char *f = left ? memmem(rs + (n - end), end, rsep, m) : NULL;
    size_t from = f ? n - (size_t)(f - rs) : 0;
    if (jv_list_push(c->a, l.u.l, jv_str(self.u.s.p + from, end - from))) {
      rc = oom(c);
      break;
    }
    if (!f) break;
    end = from - m;
    left--;
  }
  free(rs);
  free(rsep);
  if (rc) return rc;
  jv_list_reverse(l.u.l);
  *out = l;
  return SEER_OK;
}

static int m_split(METHOD_PARAMS) {
  jv sep = jb_kwarg(kwn, kwv, nkw, "sep", args, nargs, 0, jv_none());
  jv max = jb_kwarg(kwn, kwv, nkw, "maxsplit", args, nargs, 1, jv_int(-1));
  /* rsplit with a separator splits from the right even without maxsplit: overlapping matches
   * give other pieces ('aaa'.rsplit('aa') is ['a', ''], 'aaa'.split('aa') is ['', 'a']). Split
   * at whitespace without maxsplit is the same from either end. */
  if (name[0] == 'r' && sep.t == JV_STR && sep.u.s.n && max.t == JV_INT)
    return rsplit(c, self, sep, max.u.i >= 0 ? max.u.i : INT64_MAX, out);
  if (name[0] == 'r' && max.t == JV_INT && max.u.i >= 0)
    return jerr(c, line, "rsplit with maxsplit needs a separator");
  return jb_split(c, self, sep, max.t == JV_INT ? max.u.i : -1, out);
}

static int m_splitlines(METHOD_PARAMS) {
  jv l = jv_new_list(c->a);
  if (l.t != JV_LIST) return oom(c);
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

static int m_upper(METHOD_PARAMS) { return jb_change_case(c, self, JB_UPPER, out); }
static int m_lower(METHOD_PARAMS) { return jb_change_case(c, self, JB_LOWER, out); }
static int m_title(METHOD_PARAMS) { return jb_change_case(c, self, JB_TITLE, out); }
static int m_capitalize(METHOD_PARAMS) { return jb_change_case(c, self, JB_CAPITALIZE, out); }

static int m_replace(METHOD_PARAMS) {
  return jb_replace(c, self, arg(args, nargs, 0), arg(args, nargs, 1),
                    nargs > 2 && args[2].t == JV_INT ? args[2].u.i : -1, out);
}

static int m_join(METHOD_PARAMS) { return jb_join(c, arg(args, nargs, 0), self, jv_undef(), out); }

/* find/rfind/index (code point offsets, as Python's) and count */
static int m_find(METHOD_PARAMS) {
  jv a0 = arg(args, nargs, 0);
  if (a0.t != JV_STR) return jerr(c, line, "%s() argument must be a string", name);
  int64_t found = -1, count = 0;
  for (const char *f = jb_find_sub(self, a0, 0); f;
       f = jb_find_sub(self, a0, (size_t)(f - self.u.s.p) + (a0.u.s.n ? a0.u.s.n : 1))) {
    if (found < 0 || name[0] == 'r') found = (int64_t)(f - self.u.s.p);
    count++;
    if ((size_t)(f - self.u.s.p) >= self.u.s.n) break;
  }
  if (name[0] == 'c') {
    *out = jv_int(count);
    return SEER_OK;
  }
  if (found < 0 && name[0] == 'i') return jerr(c, line, "substring not found");
  /* byte offsets equal code point offsets only for ASCII; convert */
  int64_t cps = 0;
  for (int64_t i = 0; i < found; i++)
    cps += ((unsigned char)self.u.s.p[i] & 0xC0) != 0x80;
  *out = jv_int(found < 0 ? -1 : cps);
  return SEER_OK;
}

/* The is* predicates: whether every code point passes `ok`. isdigit/isalpha/isalnum/isspace
 * need a non-empty string; islower/isupper need a cased character instead. */
static bool is_letter(int cat) {
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}
static bool cp_digit(int32_t cp, int cat) { return (void)cp, cat == UTF8PROC_CATEGORY_ND; }
static bool cp_alpha(int32_t cp, int cat) { return (void)cp, is_letter(cat); }
static bool cp_alnum(int32_t cp, int cat) {
  (void)cp;
  return is_letter(cat) || cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL ||
         cat == UTF8PROC_CATEGORY_NO;
}
static bool cp_space(int32_t cp, int cat) { return (void)cat, jb_py_space(cp); }
static bool cp_not_upper(int32_t cp, int cat) {
  return (void)cp, cat != UTF8PROC_CATEGORY_LU && cat != UTF8PROC_CATEGORY_LT;
}
static bool cp_not_lower(int32_t cp, int cat) {
  return (void)cp, cat != UTF8PROC_CATEGORY_LL && cat != UTF8PROC_CATEGORY_LT;
}

static jv str_all(jv self, bool (*ok)(int32_t, int), bool need_cased) {
  bool any = false, all = true, cased = false;
  for (size_t i = 0; i < self.u.s.n;) {
    int32_t cp;
    i += seer_utf8_decode((const unsigned char *)self.u.s.p + i, &cp);
    int cat = utf8proc_category(cp);
    if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT)
      cased = true;
    any = true;
    all = all && ok(cp, cat);
  }
  return jv_bool(all && (need_cased ? cased : any));
}

static int m_isdigit(METHOD_PARAMS) { return *out = str_all(self, cp_digit, false), SEER_OK; }
static int m_isalpha(METHOD_PARAMS) { return *out = str_all(self, cp_alpha, false), SEER_OK; }
static int m_isalnum(METHOD_PARAMS) { return *out = str_all(self, cp_alnum, false), SEER_OK; }
static int m_isspace(METHOD_PARAMS) { return *out = str_all(self, cp_space, false), SEER_OK; }
static int m_islower(METHOD_PARAMS) { return *out = str_all(self, cp_not_upper, true), SEER_OK; }
static int m_isupper(METHOD_PARAMS) { return *out = str_all(self, cp_not_lower, true), SEER_OK; }

/* ---- the tables ---- */

static const jmethod_entry DICT_METHODS[] = {
    {"items", m_items}, {"keys", m_keys}, {"values", m_values}, {"get", m_get}, {NULL, NULL}};
static const jmethod_entry LOOP_METHODS[] = {
    {"cycle", m_cycle}, {"changed", m_changed}, {NULL, NULL}};
static const jmethod_entry LIST_METHODS[] = {
    {"index", m_list_index_count}, {"count", m_list_index_count}, {NULL, NULL}};
static const jmethod_entry STR_METHODS[] = {{"strip", m_strip},
                                            {"lstrip", m_strip},
                                            {"rstrip", m_strip},
                                            {"startswith", m_starts_ends},
                                            {"endswith", m_starts_ends},
                                            {"split", m_split},
                                            {"rsplit", m_split},
                                            {"splitlines", m_splitlines},
                                            {"upper", m_upper},
                                            {"lower", m_lower},
                                            {"title", m_title},
                                            {"capitalize", m_capitalize},
                                            {"replace", m_replace},
                                            {"join", m_join},
                                            {"find", m_find},
                                            {"rfind", m_find},
                                            {"index", m_find},
                                            {"count", m_find},
                                            {"isdigit", m_isdigit},
                                            {"isalpha", m_isalpha},
                                            {"isalnum", m_isalnum},
                                            {"isspace", m_isspace},
                                            {"islower", m_islower},
                                            {"isupper", m_isupper},
                                            {NULL, NULL}};

static const jmethod_entry *find_method(const jmethod_entry *t, const char *n, size_t len) {
  return jtable_find(t, sizeof *t, n, len);
}

/* The table a value's methods live in; a loop object's cycle/changed come from LOOP_METHODS. */
static const jmethod_entry *methods_of(jv self, const char *name) {
  if (self.t == JV_STR) return STR_METHODS;
  if (self.t == JV_LIST) return LIST_METHODS;
  if (self.t == JV_DICT)
    return find_method(LOOP_METHODS, name, strlen(name)) ? LOOP_METHODS : DICT_METHODS;
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
  const jmethod_entry *m;
  if (obj.t == JV_DICT) {
    /* Python's getattr comes first in Jinja2: d.items is the method, d.role the key. Namespaces
     * and loop objects have no dict methods; loop objects have cycle (and changed when the loop
     * records it). */
    jv v, probe;
    bool loop = jv_dict_gets(obj.u.d, "index0", &probe);
    if (!obj.u.d->ns && (m = find_method(DICT_METHODS, name, n)) &&
        (!loop || !jv_dict_gets(obj.u.d, "length", &probe)))
      return bind(c, obj, m->name, out);
    if ((m = find_method(LOOP_METHODS, name, n)) &&
        (m->fn == m_cycle ? loop : obj.u.d->loop_changed != NULL))
      return bind(c, obj, m->name, out);
    if (jv_dict_get(obj.u.d, jv_str(name, n), &v)) {
      *out = v;
      return true;
    }
    *out = jv_undef();
    return true;
  }
  const jmethod_entry *t = obj.t == JV_STR || obj.t == JV_LIST ? methods_of(obj, "") : NULL;
  if (t && (m = find_method(t, name, n))) return bind(c, obj, m->name, out);
  *out = jv_undef();
  return true;
}

int jcall_method(jctx *c, const jbound *b, jv *args, size_t nargs, const char **kwn, jv *kwv,
                 size_t nkw, int line, jv *out) {
  const jmethod_entry *t = methods_of(b->self, b->name);
  const jmethod_entry *m = t ? find_method(t, b->name, strlen(b->name)) : NULL;
  if (!m) return jerr(c, line, "no method '%s'", b->name);
  return m->fn(c, m->name, b->self, args, nargs, kwn, kwv, nkw, line, out);
}
