/* jinja_ops.c: owns the operators on values: arithmetic with Python's rules (overflow is an
 * error), concatenation, `in`, and indexing and slicing (strings by code point). */
#include "jinja_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int oom(jctx *c) { return joom(c); }

/* ---- arithmetic ---- */

static bool isnum(jv v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }
static double fnum(jv v) {
  return v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : (double)v.u.b;
}
static int64_t inum(jv v) { return v.t == JV_INT ? v.u.i : (int64_t)v.u.b; }

static int concat(jctx *c, jv a, jv b, jv *out) {
  seer_buf buf = SEER_BUF_INIT;
  int rc = jv_to_str(a, &buf) || jv_to_str(b, &buf);
  if (!rc) *out = jv_str_from_buf(c->a, &buf);
  seer_buf_free(&buf);
  return rc || out->t != JV_STR ? oom(c) : SEER_OK;
}

int jop_binary(jctx *c, int op, jv a, jv b, int line, jv *out) {
  if (op == '~') return concat(c, a, b, out);
  if (op == '+' && a.t == JV_STR && b.t == JV_STR) return concat(c, a, b, out);
  if (op == '+' && a.t == JV_LIST && b.t == JV_LIST) {
    jv l = jv_new_list(c->a);
    if (l.t != JV_LIST) return oom(c);
    for (size_t i = 0; i < a.u.l->n; i++)
      if (jv_list_push(c->a, l.u.l, a.u.l->v[i])) return oom(c);
    for (size_t i = 0; i < b.u.l->n; i++)
      if (jv_list_push(c->a, l.u.l, b.u.l->v[i])) return oom(c);
    *out = l;
    return SEER_OK;
  }
  if (op == '%' && a.t == JV_STR) return jb_percent_format(c, a, b, line, out);
  if (op == '*' && ((a.t == JV_STR && b.t == JV_INT) || (a.t == JV_INT && b.t == JV_STR))) {
    jv s = a.t == JV_STR ? a : b;
    int64_t k = a.t == JV_INT ? a.u.i : b.u.i;
    if (k > 0 && s.u.s.n > 0 && (uint64_t)k > JINJA_MAX_BYTES / s.u.s.n) {
      c->a->over = true;
      return oom(c);
    }
    size_t total = k > 0 ? (size_t)k * s.u.s.n : 0;
    char *p = ja_alloc(c->a, total + 1);
    if (!p) return oom(c);
    /* Copy once, then double what is there: 1e7 one-byte appends took seconds. */
    if (total) memcpy(p, s.u.s.p, s.u.s.n);
    for (size_t have = s.u.s.n; have < total; have *= 2)
      memcpy(p + have, p, have < total - have ? have : total - have);
    *out = jv_str(p, total);
    return SEER_OK;
  }
  if (!isnum(a) || !isnum(b))
    return jerr(c, line, "unsupported operand types for operator: %s and %s", jv_type_name(a),
                jv_type_name(b));
  bool ints = a.t != JV_FLOAT && b.t != JV_FLOAT;
  double x = fnum(a), y = fnum(b);
  int64_t i = ints ? inum(a) : 0, j = ints ? inum(b) : 0;
  /* Python's ints do not overflow; 64-bit ones do, and that is an error here, not a wrap. */
  int64_t r;
  if (ints && ((op == '+' && __builtin_add_overflow(i, j, &r)) ||
               (op == '-' && __builtin_sub_overflow(i, j, &r)) ||
               (op == '*' && __builtin_mul_overflow(i, j, &r)) ||
               ((op == JOP_FLOORDIV || op == '%') && i == INT64_MIN && j == -1)))
    return jerr(c, line, "integer overflow");
  switch (op) {
  case '+': *out = ints ? jv_int(i + j) : jv_float(x + y); return SEER_OK;
  case '-': *out = ints ? jv_int(i - j) : jv_float(x - y); return SEER_OK;
  case '*': *out = ints ? jv_int(i * j) : jv_float(x * y); return SEER_OK;
  case '/':
    if (y == 0) return jerr(c, line, "division by zero");
    *out = jv_float(x / y);
    return SEER_OK;
  case JOP_FLOORDIV:
    if (y == 0) return jerr(c, line, "integer division or modulo by zero");
    if (ints) {
      int64_t q = i / j;
      if ((i % j != 0) && ((i < 0) != (j < 0))) q--;
      *out = jv_int(q);
    } else {
      *out = jv_float(floor(x / y));
    }
    return SEER_OK;
  case '%':
    if (y == 0) return jerr(c, line, "integer division or modulo by zero");
    if (ints) {
      int64_t r = i % j;
      if (r != 0 && ((r < 0) != (j < 0))) r += j;
      *out = jv_int(r);
    } else {
      double r = fmod(x, y);
      if (r != 0 && ((r < 0) != (y < 0))) r += y;
      *out = jv_float(r);
    }
    return SEER_OK;
  case JOP_POW:
    if (ints && j >= 0) {
      /* By squaring, overflow-checked: a loop of j multiplications ran 2 ** 9223372036854775807
       * for ever. Once the base has been squared past int64, so has any result still to come. */
      int64_t r = 1, base = i;
      bool over = false;
      for (uint64_t e = (uint64_t)j; e; e >>= 1) {
        if (e & 1) over |= __builtin_mul_overflow(r, base, &r);
        if (e > 1) over |= __builtin_mul_overflow(base, base, &base);
      }
      if (over) return jerr(c, line, "integer overflow");
      *out = jv_int(r);
    } else {
      *out = jv_float(pow(x, y));
    }
    return SEER_OK;
  default: return jerr(c, line, "unknown operator");
  }
}

bool jop_contains(jv hay, jv needle) {
  if (hay.t == JV_STR && needle.t == JV_STR) {
    /* memmem is linear (two-way); a byte-by-byte memcmp search is O(n·m) on 'aaa…ab' */
    return needle.u.s.n == 0 || memmem(hay.u.s.p, hay.u.s.n, needle.u.s.p, needle.u.s.n);
  }
  if (hay.t == JV_LIST) {
    for (size_t i = 0; i < hay.u.l->n; i++)
      if (jv_eq(hay.u.l->v[i], needle)) return true;
    return false;
  }
  if (hay.t == JV_DICT) {
    jv v;
    return jv_dict_get(hay.u.d, needle, &v);
  }
  return false;
}

/* ---- strings as code points, for indexing and slicing ---- */

static size_t cp_count(jv s) {
  size_t n = 0;
  for (size_t i = 0; i < s.u.s.n; i++)
    n += ((unsigned char)s.u.s.p[i] & 0xC0) != 0x80;
  return n;
}

static size_t cp_offset(jv s, size_t k) {
  for (size_t i = 0; i < s.u.s.n; i++)
    if (((unsigned char)s.u.s.p[i] & 0xC0) != 0x80 && k-- == 0) return i;
  return s.u.s.n;
}

int jop_slice(jctx *c, jv v, jv *parts, int line, jv *out) {
  bool is_str = v.t == JV_STR;
  if (!is_str && v.t != JV_LIST) return jerr(c, line, "cannot slice a %s", jv_type_name(v));
  int64_t len = is_str ? (int64_t)cp_count(v) : (int64_t)v.u.l->n;
  int64_t step = parts[2].t == JV_INT ? parts[2].u.i : 1;
  if (step == 0) return jerr(c, line, "slice step cannot be zero");
  int64_t start, stop;
  if (parts[0].t == JV_INT) {
    start = parts[0].u.i < 0 ? parts[0].u.i + len : parts[0].u.i;
    start = step > 0 ? (start < 0     ? 0
                        : start > len ? len
                                      : start)
                     : (start < -1     ? -1
                        : start >= len ? len - 1
                                       : start);
  } else {
    start = step > 0 ? 0 : len - 1;
  }
  if (parts[1].t == JV_INT) {
    stop = parts[1].u.i < 0 ? parts[1].u.i + len : parts[1].u.i;
    stop = step > 0 ? (stop < 0     ? 0
                       : stop > len ? len
                                    : stop)
                    : (stop < -1     ? -1
                       : stop >= len ? len - 1
                                     : stop);
  } else {
    stop = step > 0 ? len : -1;
  }
  /* Gather element indices, then build the result. */
  jv res = is_str ? jv_undef() : jv_new_list(c->a);
  seer_buf buf = SEER_BUF_INIT;
  size_t *offs = NULL;
  if (is_str) {
    offs = malloc(((size_t)len + 1) * sizeof *offs);
    if (!offs) return oom(c);
    size_t k = 0;
    for (size_t i = 0; i < v.u.s.n; i++)
      if (((unsigned char)v.u.s.p[i] & 0xC0) != 0x80) offs[k++] = i;
    offs[k] = v.u.s.n;
  }
  int rc = 0;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (is_str)
      rc |= seer_buf_append(&buf, v.u.s.p + offs[i], offs[i + 1] - offs[i]);
    else
      rc |= jv_list_push(c->a, res.u.l, v.u.l->v[i]);
  }
  if (is_str) res = jv_str_from_buf(c->a, &buf);
  free(offs);
  seer_buf_free(&buf);
  if (rc) return oom(c);
  *out = res;
  return SEER_OK;
}

int jop_item(jctx *c, jv v, jv key, int line, jv *out) {
  *out = jv_undef();
  if (v.t == JV_UNDEF) return jerr(c, line, "cannot index an undefined value");
  if (v.t == JV_DICT) {
    if (!jv_dict_get(v.u.d, key, out) && key.t == JV_STR) jgetattr(c, v, key.u.s.p, key.u.s.n, out);
    return SEER_OK;
  }
  if ((v.t == JV_LIST || v.t == JV_STR) && (key.t == JV_INT || key.t == JV_BOOL)) {
    int64_t len = v.t == JV_LIST ? (int64_t)v.u.l->n : (int64_t)cp_count(v);
    int64_t k = inum(key);
    if (k < 0) k += len;
    if (k < 0 || k >= len) return SEER_OK;
    if (v.t == JV_LIST) {
      *out = v.u.l->v[k];
    } else {
      size_t a = cp_offset(v, (size_t)k), b = cp_offset(v, (size_t)k + 1);
      *out = jv_str(v.u.s.p + a, b - a);
    }
    return SEER_OK;
  }
  if (key.t == JV_STR) jgetattr(c, v, key.u.s.p, key.u.s.n, out);
  return SEER_OK;
}
