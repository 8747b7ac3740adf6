/* jinja_value.c: owns the Jinja value model: arena allocation, lists and dicts, truthiness,
 * equality and ordering, and printing values as Python's str() and json.dumps() do. */
#include "jinja_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ja_block {
  ja_block *next;
  size_t used, cap;
  max_align_t data[];
};

void *ja_alloc(jarena *a, size_t n) {
  /* A compile is bounded by its source; a render by a->limit (a->bytes never exceeds it). */
  if (a->limit && (n > a->limit || ((n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1)) >
                                       a->limit - a->bytes)) {
    a->over = true;
    return NULL;
  }
  n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
  a->bytes += n;
  ja_block *b = a->head;
  if (!b || b->used + n > b->cap) {
    size_t cap = n > 32768 ? n : 32768;
    ja_block *nb = malloc(sizeof *nb + cap);
    if (!nb) return NULL;
    nb->used = 0;
    nb->cap = cap;
    /* A big allocation gets its own block behind the current one, which stays open. */
    if (b && n > 32768) {
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      a->head = nb;
    }
    b = nb;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *ja_strdup(jarena *a, const char *s, size_t n) {
  char *p = ja_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

void ja_free(jarena *a) {
  for (ja_block *b = a->head, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  a->head = NULL;
}

jv jv_cstr(const char *s) { return jv_str(s, strlen(s)); }

jv jv_new_list(jarena *a) {
  jlist *l = ja_alloc(a, sizeof *l);
  return l ? (jv){.t = JV_LIST, .u.l = l} : jv_undef();
}

jv jv_new_dict(jarena *a) {
  jdict *d = ja_alloc(a, sizeof *d);
  return d ? (jv){.t = JV_DICT, .u.d = d} : jv_undef();
}

jv jv_str_from_buf(jarena *a, const seer_buf *b) {
  char *p = ja_strdup(a, b->data ? b->data : "", b->len);
  return p ? jv_str(p, b->len) : jv_undef();
}

void jv_list_reverse(jlist *l) {
  for (size_t i = 0, j = l->n; i + 1 < j; i++, j--) {
    jv t = l->v[i];
    l->v[i] = l->v[j - 1];
    l->v[j - 1] = t;
  }
}

const void *jtable_find(const void *table, size_t stride, const char *name, size_t n) {
  for (const char *e = table;; e += stride) {
    const char *entry_name = *(const char *const *)(const void *)e;
    if (!entry_name) return NULL;
    if (strlen(entry_name) == n && !memcmp(entry_name, name, n)) return e;
  }
}

int jv_list_push(jarena *a, jlist *l, jv v) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    jv *nv = ja_alloc(a, cap * sizeof *nv);
    if (!nv) return SEER_ENOMEM;
    if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
    l->v = nv;
    l->cap = cap;
  }
  l->v[l->n++] = v;
  return SEER_OK;
}

static ptrdiff_t dict_find(const jdict *d, jv k) {
  for (size_t i = 0; i < d->n; i++)
    if (jv_eq(d->k[i], k)) return (ptrdiff_t)i;
  return -1;
}

int jv_dict_set(jarena *a, jdict *d, jv k, jv v) {
  ptrdiff_t i = dict_find(d, k);
  if (i >= 0) {
    d->v[i] = v;
    return SEER_OK;
  }
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    jv *nk = ja_alloc(a, cap * sizeof *nk), *nv = ja_alloc(a, cap * sizeof *nv);
    if (!nk || !nv) return SEER_ENOMEM;
    if (d->n) {
      memcpy(nk, d->k, d->n * sizeof *nk);
      memcpy(nv, d->v, d->n * sizeof *nv);
    }
    d->k = nk;
    d->v = nv;
    d->cap = cap;
  }
  d->k[d->n] = k;
  d->v[d->n++] = v;
  return SEER_OK;
}

bool jv_dict_get(const jdict *d, jv k, jv *out) {
  ptrdiff_t i = dict_find(d, k);
  if (i < 0) return false;
  *out = d->v[i];
  return true;
}

bool jv_dict_gets(const jdict *d, const char *k, jv *out) {
  size_t n = strlen(k);
  for (size_t i = 0; i < d->n; i++)
    if (d->k[i].t == JV_STR && d->k[i].u.s.n == n && !memcmp(d->k[i].u.s.p, k, n)) {
      *out = d->v[i];
      return true;
    }
  return false;
}

bool jv_truthy(jv v) {
  switch (v.t) {
  case JV_UNDEF:
  case JV_NONE: return false;
  case JV_BOOL: return v.u.b;
  case JV_INT: return v.u.i != 0;
  case JV_FLOAT: return v.u.f != 0.0;
  case JV_STR: return v.u.s.n != 0;
  case JV_LIST: return v.u.l->n != 0;
  case JV_DICT: return v.u.d->n != 0;
  default: return true;
  }
}

static bool is_num(jv v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }
static double num(jv v) {
  return v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : (double)v.u.b;
}
static int64_t inum(jv v) { return v.t == JV_INT ? v.u.i : (int64_t)v.u.b; }

/* Values a template builds can nest deeply or contain themselves ({% set ns.me = ns %}): the
 * recursive walks below stop at this depth instead of exhausting the C stack. */
#define VALUE_DEPTH 256

static bool eq_rec(jv a, jv b, int depth) {
  if (is_num(a) && is_num(b)) {
    if (a.t != JV_FLOAT && b.t != JV_FLOAT) return inum(a) == inum(b);
    return num(a) == num(b);
  }
  if (a.t != b.t) return false;
  switch (a.t) {
  case JV_UNDEF:
  case JV_NONE: return true;
  case JV_STR: return a.u.s.n == b.u.s.n && !memcmp(a.u.s.p, b.u.s.p, a.u.s.n);
  case JV_LIST:
    if (a.u.l == b.u.l) return true; /* Python compares container items by identity first */
    if (a.u.l->n != b.u.l->n || a.u.l->tuple != b.u.l->tuple || depth >= VALUE_DEPTH) return false;
    for (size_t i = 0; i < a.u.l->n; i++)
      if (!eq_rec(a.u.l->v[i], b.u.l->v[i], depth + 1)) return false;
    return true;
  case JV_DICT:
    if (a.u.d == b.u.d) return true;
    if (a.u.d->n != b.u.d->n || depth >= VALUE_DEPTH) return false;
    for (size_t i = 0; i < a.u.d->n; i++) {
      jv o;
      if (!jv_dict_get(b.u.d, a.u.d->k[i], &o) || !eq_rec(a.u.d->v[i], o, depth + 1)) return false;
    }
    return true;
  case JV_MACRO: return a.u.m == b.u.m;
  case JV_CALLER: return a.u.cl == b.u.cl;
  case JV_BUILTIN: return !strcmp(a.u.bi, b.u.bi);
  default: return false;
  }
}

bool jv_eq(jv a, jv b) { return eq_rec(a, b, 0); }

static size_t cost_rec(jv v, size_t cap, int depth) {
  size_t n = 1;
  switch (v.t) {
  case JV_STR: return n + v.u.s.n;
  case JV_LIST:
    n += v.u.l->n;
    for (size_t i = 0; i < v.u.l->n && n <= cap && depth > 0; i++)
      n += cost_rec(v.u.l->v[i], cap - n, depth - 1);
    return n;
  case JV_DICT:
    n += v.u.d->n * v.u.d->n; /* entries are bounded by the arena: no overflow */
    for (size_t i = 0; i < v.u.d->n && n <= cap && depth > 0; i++) {
      n += cost_rec(v.u.d->k[i], cap - n, depth - 1);
      if (n <= cap) n += cost_rec(v.u.d->v[i], cap - n, depth - 1);
    }
    return n;
  default: return n;
  }
}

size_t jv_cost(jv v, size_t cap, int depth) {
  return cost_rec(v, cap, depth < VALUE_DEPTH ? depth : VALUE_DEPTH);
}

static int cmp_rec(jv a, jv b, bool *ok, int depth) {
  *ok = true;
  if (is_num(a) && is_num(b)) {
    if (a.t != JV_FLOAT && b.t != JV_FLOAT) return (inum(a) > inum(b)) - (inum(a) < inum(b));
    return (num(a) > num(b)) - (num(a) < num(b));
  }
  if (a.t == JV_STR && b.t == JV_STR) {
    /* UTF-8 byte order is code point order, which is how Python orders str. */
    size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
    int c = memcmp(a.u.s.p, b.u.s.p, n);
    if (c) return c < 0 ? -1 : 1;
    return (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
  }
  if (a.t == JV_LIST && b.t == JV_LIST && depth < VALUE_DEPTH) {
    size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
    for (size_t i = 0; i < n; i++) {
      if (a.u.l->v[i].t == JV_LIST && a.u.l->v[i].u.l == b.u.l->v[i].u.l) continue;
      int c = cmp_rec(a.u.l->v[i], b.u.l->v[i], ok, depth + 1);
      if (!*ok || c) return c;
    }
    return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
  }
  *ok = false;
  return 0;
}

int jv_cmp(jv a, jv b, bool *ok) { return cmp_rec(a, b, ok, 0); }

const char *jv_type_name(jv v) {
  static const char *const names[] = {"undefined", "NoneType", "bool",   "int",
                                      "float",     "str",      "list",   "dict",
                                      "macro",     "function", "method", "macro"};
  return names[v.t];
}

/* Python's repr(float): the shortest digits that round-trip, fixed notation for exponents in
 * [-4, 16), otherwise d.ddde+XX. */
static int float_repr(double f, seer_buf *out) {
  if (isnan(f)) return seer_buf_appends(out, "nan");
  if (isinf(f)) return seer_buf_appends(out, f < 0 ? "-inf" : "inf");
  char buf[64];
  int prec;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
    if (strtod(buf, NULL) == f) break;
  }
  /* buf is [-]d[.ddd]e[+-]XX */
  char digits[32];
  size_t nd = 0;
  const char *p = buf;
  bool neg = *p == '-';
  if (neg) p++;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[nd++] = *p;
  int exp = atoi(p + 1);
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  seer_buf s = SEER_BUF_INIT;
  int rc = 0;
  if (neg) rc |= seer_buf_appendc(&s, '-');
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      rc |= seer_buf_appends(&s, "0.");
      for (int i = -1; i > exp; i--)
        rc |= seer_buf_appendc(&s, '0');
      rc |= seer_buf_append(&s, digits, nd);
    } else {
      for (int i = 0; i <= exp; i++)
        rc |= seer_buf_appendc(&s, i < (int)nd ? digits[i] : '0');
      rc |= seer_buf_appendc(&s, '.');
      if ((int)nd > exp + 1)
        rc |= seer_buf_append(&s, digits + exp + 1, nd - (size_t)exp - 1);
      else
        rc |= seer_buf_appendc(&s, '0');
    }
  } else {
    rc |= seer_buf_appendc(&s, digits[0]);
    if (nd > 1) {
      rc |= seer_buf_appendc(&s, '.');
      rc |= seer_buf_append(&s, digits + 1, nd - 1);
    }
    rc |= seer_buf_printf(&s, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  }
  if (!rc) rc = seer_buf_append(out, s.data, s.len);
  seer_buf_free(&s);
  return rc ? SEER_ENOMEM : SEER_OK;
}

static int str_repr(jv v, seer_buf *out) {
  const char *p = v.u.s.p;
  size_t n = v.u.s.n;
  bool has_sq = memchr(p, '\'', n) != NULL, has_dq = memchr(p, '"', n) != NULL;
  char q = has_sq && !has_dq ? '"' : '\'';
  int rc = seer_buf_appendc(out, q);
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == (unsigned char)q || c == '\\')
      rc = seer_buf_appendc(out, '\\') || seer_buf_appendc(out, (char)c);
    else if (c == '\n')
      rc = seer_buf_appends(out, "\\n");
    else if (c == '\r')
      rc = seer_buf_appends(out, "\\r");
    else if (c == '\t')
      rc = seer_buf_appends(out, "\\t");
    else if (c < 0x20 || c == 0x7F)
      rc = seer_buf_printf(out, "\\x%02x", c);
    else
      rc = seer_buf_appendc(out, (char)c);
  }
  return rc || seer_buf_appendc(out, q) ? SEER_ENOMEM : SEER_OK;
}

/* str() of containers prints their items' repr(). `open` holds the containers being printed, so
 * that one containing itself prints [...] / {...} as Python does. */
typedef struct print_stack {
  const void *open[VALUE_DEPTH];
  int n;
} print_stack;

static int to_str_rec(jv v, bool as_repr, print_stack *ps, seer_buf *out) {
  int rc = 0;
  if (as_repr && v.t == JV_STR) return str_repr(v, out);
  if (v.t == JV_LIST || v.t == JV_DICT) {
    const void *self = v.t == JV_LIST ? (const void *)v.u.l : (const void *)v.u.d;
    bool seen = ps->n >= VALUE_DEPTH;
    for (int i = 0; i < ps->n && !seen; i++)
      seen = ps->open[i] == self;
    if (seen)
      return seer_buf_appends(out, v.t == JV_DICT ? "{...}" : v.u.l->tuple ? "(...)" : "[...]");
    ps->open[ps->n++] = self;
  }
  switch (v.t) {
  case JV_UNDEF: return SEER_OK;
  case JV_NONE: return seer_buf_appends(out, "None");
  case JV_BOOL: return seer_buf_appends(out, v.u.b ? "True" : "False");
  case JV_INT: return seer_buf_printf(out, "%lld", (long long)v.u.i);
  case JV_FLOAT: return float_repr(v.u.f, out);
  case JV_STR: return seer_buf_append(out, v.u.s.p, v.u.s.n);
  case JV_LIST:
    rc = seer_buf_appendc(out, v.u.l->tuple ? '(' : '[');
    for (size_t i = 0; i < v.u.l->n && !rc; i++)
      rc = (i && seer_buf_appends(out, ", ")) || to_str_rec(v.u.l->v[i], true, ps, out);
    if (!rc && v.u.l->tuple && v.u.l->n == 1) rc = seer_buf_appendc(out, ','); /* (x,) */
    ps->n--;
    return rc || seer_buf_appendc(out, v.u.l->tuple ? ')' : ']') ? SEER_ENOMEM : SEER_OK;
  case JV_DICT:
    rc = seer_buf_appendc(out, '{');
    for (size_t i = 0; i < v.u.d->n && !rc; i++)
      rc = (i && seer_buf_appends(out, ", ")) || to_str_rec(v.u.d->k[i], true, ps, out) ||
           seer_buf_appends(out, ": ") || to_str_rec(v.u.d->v[i], true, ps, out);
    ps->n--;
    return rc || seer_buf_appendc(out, '}') ? SEER_ENOMEM : SEER_OK;
  case JV_MACRO:
  case JV_CALLER: return seer_buf_appends(out, "<macro>");
  default: return seer_buf_appends(out, "<function>");
  }
}

int jv_to_str(jv v, seer_buf *out) {
  print_stack ps;
  ps.n = 0;
  return to_str_rec(v, false, &ps, out);
}

static int json_str(const char *p, size_t n, bool ascii, seer_buf *out) {
  int rc = seer_buf_appendc(out, '"');
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char c = (unsigned char)p[i];
    switch (c) {
    case '"': rc = seer_buf_appends(out, "\\\""); break;
    case '\\': rc = seer_buf_appends(out, "\\\\"); break;
    case '\n': rc = seer_buf_appends(out, "\\n"); break;
    case '\r': rc = seer_buf_appends(out, "\\r"); break;
    case '\t': rc = seer_buf_appends(out, "\\t"); break;
    case '\b': rc = seer_buf_appends(out, "\\b"); break;
    case '\f': rc = seer_buf_appends(out, "\\f"); break;
    default:
      if (c < 0x20) {
        rc = seer_buf_printf(out, "\\u%04x", c);
      } else if (c >= 0x80 && ascii) {
        /* Decode one UTF-8 sequence (values are valid UTF-8: they come from JSON or literals). */
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
        for (size_t k = 1; k < len && i + k < n; k++)
          cp = (cp << 6) | ((unsigned char)p[i + k] & 0x3F);
        i += len - 1;
        if (cp >= 0x10000) {
          cp -= 0x10000;
          rc = seer_buf_printf(out, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else {
          rc = seer_buf_printf(out, "\\u%04x", cp);
        }
      } else {
        rc = seer_buf_appendc(out, (char)c);
      }
    }
  }
  return rc || seer_buf_appendc(out, '"') ? SEER_ENOMEM : SEER_OK;
}

bool jv_json_opts(jjson_opts *o, jv indent, jv separators, bool sort_keys, bool ensure_ascii) {
  static char spaces[64];
  if (!spaces[0]) memset(spaces, ' ', sizeof spaces);
  memset(o, 0, sizeof *o);
  o->sort_keys = sort_keys;
  o->ensure_ascii = ensure_ascii;
  o->pretty = indent.t != JV_NONE && indent.t != JV_UNDEF;
  if (indent.t == JV_INT || indent.t == JV_BOOL) {
    int64_t k = indent.t == JV_INT ? indent.u.i : indent.u.b;
    if (k > (int64_t)sizeof spaces) return false;
    o->indent = jv_str(spaces, k > 0 ? (size_t)k : 0); /* Python: " " * indent */
  } else if (indent.t == JV_STR) {
    o->indent = indent;
  } else if (o->pretty) {
    return false;
  }
  o->item_sep = o->pretty ? jv_cstr(",") : jv_cstr(", ");
  o->key_sep = jv_cstr(": ");
  if (separators.t == JV_LIST) {
    if (separators.u.l->n != 2 || separators.u.l->v[0].t != JV_STR ||
        separators.u.l->v[1].t != JV_STR)
      return false;
    o->item_sep = separators.u.l->v[0];
    o->key_sep = separators.u.l->v[1];
  } else if (separators.t != JV_NONE && separators.t != JV_UNDEF) {
    return false;
  }
  return true;
}

static int newline_indent(const jjson_opts *o, int level, seer_buf *out) {
  if (seer_buf_appendc(out, '\n')) return SEER_ENOMEM;
  for (int i = 0; i < level; i++)
    if (seer_buf_append(out, o->indent.u.s.p, o->indent.u.s.n)) return SEER_ENOMEM;
  return SEER_OK;
}

static int sep(jv s, seer_buf *out) { return seer_buf_append(out, s.u.s.p, s.u.s.n); }

static int json_rec(jv v, const jjson_opts *o, int level, seer_buf *out) {
  int rc = 0;
  if (level > VALUE_DEPTH) return SEER_EINVAL; /* too deep, or a value containing itself */
  switch (v.t) {
  case JV_UNDEF:
  case JV_NONE: return seer_buf_appends(out, "null");
  case JV_BOOL: return seer_buf_appends(out, v.u.b ? "true" : "false");
  case JV_INT: return seer_buf_printf(out, "%lld", (long long)v.u.i);
  case JV_FLOAT:
    if (isnan(v.u.f)) return seer_buf_appends(out, "NaN");
    if (isinf(v.u.f)) return seer_buf_appends(out, v.u.f < 0 ? "-Infinity" : "Infinity");
    return float_repr(v.u.f, out);
  case JV_STR: return json_str(v.u.s.p, v.u.s.n, o->ensure_ascii, out);
  case JV_LIST:
    if (v.u.l->n == 0) return seer_buf_appends(out, "[]");
    rc = seer_buf_appendc(out, '[');
    for (size_t i = 0; i < v.u.l->n && !rc; i++) {
      if (i) rc = sep(o->item_sep, out);
      if (!rc && o->pretty) rc = newline_indent(o, level + 1, out);
      if (!rc) rc = json_rec(v.u.l->v[i], o, level + 1, out);
    }
    if (!rc && o->pretty) rc = newline_indent(o, level, out);
    return rc || seer_buf_appendc(out, ']') ? (rc ? rc : SEER_ENOMEM) : SEER_OK;
  case JV_DICT: {
    if (v.u.d->n == 0) return seer_buf_appends(out, "{}");
    size_t n = v.u.d->n, *order = malloc(n * sizeof *order);
    if (!order) return SEER_ENOMEM;
    for (size_t i = 0; i < n; i++)
      order[i] = i;
    if (o->sort_keys) /* insertion sort: stable, and dicts in templates are small */
      for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
          bool ok;
          if (jv_cmp(v.u.d->k[order[j - 1]], v.u.d->k[order[j]], &ok) <= 0) break;
          size_t t = order[j];
          order[j] = order[j - 1];
          order[j - 1] = t;
        }
    rc = seer_buf_appendc(out, '{');
    for (size_t i = 0; i < n && !rc; i++) {
      jv k = v.u.d->k[order[i]];
      if (i) rc = sep(o->item_sep, out);
      if (!rc && o->pretty) rc = newline_indent(o, level + 1, out);
      if (!rc) {
        if (k.t == JV_STR)
          rc = json_str(k.u.s.p, k.u.s.n, o->ensure_ascii, out);
        else {
          /* json.dumps turns non-string keys into strings */
          seer_buf t = SEER_BUF_INIT;
          jjson_opts flat = *o;
          flat.pretty = false;
          rc = json_rec(k, &flat, 0, &t);
          if (!rc) rc = json_str(t.data, t.len, o->ensure_ascii, out);
          seer_buf_free(&t);
        }
      }
      if (!rc) rc = sep(o->key_sep, out);
      if (!rc) rc = json_rec(v.u.d->v[order[i]], o, level + 1, out);
    }
    free(order);
    if (!rc && o->pretty) rc = newline_indent(o, level, out);
    return rc || seer_buf_appendc(out, '}') ? (rc ? rc : SEER_ENOMEM) : SEER_OK;
  }
  default: return SEER_EINVAL;
  }
}

int jv_to_json(jv v, const jjson_opts *o, seer_buf *out) { return json_rec(v, o, 0, out); }

jv jv_from_json(jarena *a, const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    jv d = jv_new_dict(a);
    const char *k;
    json_t *v;
    if (d.t != JV_DICT) return d;
    json_object_foreach((json_t *)j, k, v) {
      char *key = ja_strdup(a, k, strlen(k));
      if (!key || jv_dict_set(a, d.u.d, jv_str(key, strlen(k)), jv_from_json(a, v)))
        return jv_undef();
    }
    return d;
  }
  case JSON_ARRAY: {
    jv l = jv_new_list(a);
    size_t i;
    json_t *v;
    if (l.t != JV_LIST) return l;
    json_array_foreach(j, i, v) {
      if (jv_list_push(a, l.u.l, jv_from_json(a, v))) return jv_undef();
    }
    return l;
  }
  case JSON_STRING: {
    char *s = ja_strdup(a, json_string_value(j), json_string_length(j));
    return s ? jv_str(s, json_string_length(j)) : jv_undef();
  }
  case JSON_INTEGER: return jv_int(json_integer_value(j));
  case JSON_REAL: return jv_float(json_real_value(j));
  case JSON_TRUE: return jv_bool(true);
  case JSON_FALSE: return jv_bool(false);
  default: return jv_none();
  }
}
