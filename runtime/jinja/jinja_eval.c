/* jinja_eval.c: owns evaluating expressions and rendering statements: scopes, loops with the
 * loop object, break/continue, set and namespaces, macros, and the public compile/render calls. */
#include "jinja_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JR_BREAK = 1, JR_CONTINUE = 2 };
#define MAX_DEPTH 200

static int oom(jctx *c) { return joom(c); }

int jwork(jctx *c, size_t units, int line) {
  /* past the bound is past it, however far: clamping keeps the sum from overflowing */
  c->work += units <= JINJA_MAX_WORK ? units : JINJA_MAX_WORK + 1;
  if (c->work > JINJA_MAX_WORK)
    return jerr(c, line,
                "rendering scans more than %zu MiB of text and items (comparing, searching, "
                "sorting); the template is hostile or does far more than a chat template needs",
                JINJA_MAX_WORK >> 20);
  return SEER_OK;
}

int jwork_on(jctx *c, jv v, int depth, int line) { return jwork_times(c, 1, v, depth, line); }

int jwork_times(jctx *c, size_t times, jv v, int depth, int line) {
  if (!times) return SEER_OK;
  size_t left = c->work < JINJA_MAX_WORK ? JINJA_MAX_WORK - c->work : 0;
  /* each is counted no further than the share of what is left, so times * each cannot overflow */
  size_t each = jv_cost(v, left / times + 1, depth);
  return jwork(c, each > left / times ? left + 1 : times * each, line);
}

/* A filter, method or global function walks its receiver and arguments once (what it builds is
 * bounded by the arena and the output budget). Those that compare items charge that themselves:
 * tests, sort, unique, min and max, list.index and count. */
static int work_on_call(jctx *c, const jv *self, const jv *args, size_t nargs, const jv *kwv,
                        size_t nkw, int line) {
  int rc = self ? jwork_on(c, *self, 1, line) : SEER_OK;
  for (size_t i = 0; i < nargs && !rc; i++)
    rc = jwork_on(c, args[i], 1, line);
  for (size_t i = 0; i < nkw && !rc; i++)
    rc = jwork_on(c, kwv[i], 1, line);
  return rc;
}

static bool lookup(jscope *s, const char *name, size_t n, jv *out) {
  for (; s; s = s->parent) {
    for (size_t i = 0; i < s->vars.n; i++) {
      jv k = s->vars.k[i];
      if (k.u.s.n == n && !memcmp(k.u.s.p, name, n)) {
        *out = s->vars.v[i];
        return true;
      }
    }
  }
  return false;
}

static int scope_set(jctx *c, jscope *s, const char *name, size_t n, jv v) {
  return jv_dict_set(c->a, &s->vars, jv_str(name, n), v) ? oom(c) : SEER_OK;
}

/* ---- expressions ---- */

static bool isnum(jv v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }
static int64_t inum(jv v) { return v.t == JV_INT ? v.u.i : (int64_t)v.u.b; }

static int eval_args(jctx *c, jscope *s, const jnode *n, jv **args, jv **kwv) {
  *args = ja_alloc(c->a, (n->nargs + 1) * sizeof **args);
  *kwv = ja_alloc(c->a, (n->nkw + 1) * sizeof **kwv);
  if (!*args || !*kwv) return oom(c);
  for (size_t i = 0; i < n->nargs; i++) {
    int rc = jeval(c, s, n->args[i], &(*args)[i]);
    if (rc) return rc;
  }
  for (size_t i = 0; i < n->nkw; i++) {
    int rc = jeval(c, s, n->kwargs[i], &(*kwv)[i]);
    if (rc) return rc;
  }
  return SEER_OK;
}

/* A call's arguments with f(*list, **dict) spread in. */
typedef struct call_args {
  jv *args, *kwv;
  const char **kwn;
  size_t nargs, nkw;
} call_args;

static int eval_call_args(jctx *c, jscope *s, const jnode *n, call_args *ca) {
  int rc = eval_args(c, s, n, &ca->args, &ca->kwv);
  if (rc) return rc;
  ca->kwn = n->kwnames;
  ca->nargs = n->nargs;
  ca->nkw = n->nkw;
  jv extra = jv_undef(), kw = jv_undef();
  if (n->dyn_args && (rc = jeval(c, s, n->dyn_args, &extra))) return rc;
  if (n->dyn_kwargs && (rc = jeval(c, s, n->dyn_kwargs, &kw))) return rc;
  if (n->dyn_args && extra.t != JV_LIST)
    return jerr(c, n->line, "*args must be a list, got %s", jv_type_name(extra));
  if (n->dyn_kwargs && kw.t != JV_DICT)
    return jerr(c, n->line, "**kwargs must be a mapping, got %s", jv_type_name(kw));
  if (extra.t == JV_LIST && extra.u.l->n) {
    jv *all = ja_alloc(c->a, (ca->nargs + extra.u.l->n + 1) * sizeof *all);
    if (!all) return oom(c);
    memcpy(all, ca->args, ca->nargs * sizeof *all);
    memcpy(all + ca->nargs, extra.u.l->v, extra.u.l->n * sizeof *all);
    ca->args = all;
    ca->nargs += extra.u.l->n;
  }
  if (kw.t == JV_DICT && kw.u.d->n) {
    size_t m = ca->nkw + kw.u.d->n;
    jv *v = ja_alloc(c->a, (m + 1) * sizeof *v);
    const char **names = ja_alloc(c->a, (m + 1) * sizeof *names);
    if (!v || !names) return oom(c);
    memcpy(v, ca->kwv, ca->nkw * sizeof *v);
    if (ca->nkw) memcpy(names, ca->kwn, ca->nkw * sizeof *names);
    for (size_t i = 0; i < kw.u.d->n; i++) {
      jv k = kw.u.d->k[i];
      if (k.t != JV_STR) return jerr(c, n->line, "**kwargs keys must be strings");
      names[ca->nkw + i] = ja_strdup(c->a, k.u.s.p, k.u.s.n);
      if (!names[ca->nkw + i]) return oom(c);
      v[ca->nkw + i] = kw.u.d->v[i];
    }
    ca->kwv = v;
    ca->kwn = names;
    ca->nkw = m;
  }
  return SEER_OK;
}

/* What v[i] and v[a:b] may scan: a string's bytes (indexes count code points), a dict's entries
 * (lookups are linear); a list indexes in constant time and a slice's copy is bounded by the arena.
 */
static size_t shallow_cost(jv v) { return v.t == JV_STR ? v.u.s.n : v.t == JV_DICT ? v.u.d->n : 1; }

static int eval_compare(jctx *c, jscope *s, const jnode *n, jv *out) {
  jv left;
  int rc = jeval(c, s, n->args[0], &left);
  if (rc) return rc;
  for (size_t i = 1; i < n->nargs; i++) {
    jv right;
    if ((rc = jeval(c, s, n->args[i], &right))) return rc;
    if ((rc = jwork_on(c, left, JV_DEEP, n->line)) || (rc = jwork_on(c, right, JV_DEEP, n->line)))
      return rc;
    int op = n->ops[i - 1];
    bool r, ok = true;
    switch (op) {
    case JOP_EQ: r = jv_eq(left, right); break;
    case JOP_NE: r = !jv_eq(left, right); break;
    case JOP_IN: r = jop_contains(right, left); break;
    case JOP_NOTIN: r = !jop_contains(right, left); break;
    default: {
      int k = jv_cmp(left, right, &ok);
      if (!ok)
        return jerr(c, n->line, "cannot compare %s with %s", jv_type_name(left),
                    jv_type_name(right));
      r = op == '<' ? k < 0 : op == '>' ? k > 0 : op == JOP_LE ? k <= 0 : k >= 0;
    }
    }
    if (!r) {
      *out = jv_bool(false);
      return SEER_OK;
    }
    left = right;
  }
  *out = jv_bool(true);
  return SEER_OK;
}

static int eval_node(jctx *c, jscope *s, const jnode *n, jv *out) {
  int rc;
  jv a, b;
  switch (n->k) {
  case JN_LIT: *out = n->lit; return SEER_OK;
  case JN_NAME: {
    if (lookup(s, n->name, n->name_len, out)) return SEER_OK;
    const char *canon;
    if (jis_builtin(n->name, n->name_len, &canon)) {
      *out = (jv){.t = JV_BUILTIN, .u.bi = canon};
      return SEER_OK;
    }
    *out = jv_undef();
    return SEER_OK;
  }
  case JN_LIST:
  case JN_TUPLE: {
    jv l = jv_new_list(c->a);
    if (l.t != JV_LIST) return oom(c);
    l.u.l->tuple = n->k == JN_TUPLE;
    for (size_t i = 0; i < n->nargs; i++) {
      if ((rc = jeval(c, s, n->args[i], &a))) return rc;
      if (jv_list_push(c->a, l.u.l, a)) return oom(c);
    }
    *out = l;
    return SEER_OK;
  }
  case JN_DICT: {
    jv d = jv_new_dict(c->a);
    if (d.t != JV_DICT) return oom(c);
    for (size_t i = 0; i + 1 < n->nargs; i += 2) {
      if ((rc = jeval(c, s, n->args[i], &a)) || (rc = jeval(c, s, n->args[i + 1], &b))) return rc;
      if (jv_dict_set(c->a, d.u.d, a, b)) return oom(c);
    }
    *out = d;
    return SEER_OK;
  }
  case JN_ATTR:
    if ((rc = jeval(c, s, n->a, &a))) return rc;
    if (a.t == JV_UNDEF)
      return jerr(c, n->line, "cannot read attribute '%s' of an undefined value", n->name);
    if (a.t == JV_DICT && (rc = jwork(c, a.u.d->n, n->line))) return rc;
    if (!jgetattr(c, a, n->name, n->name_len, out)) *out = jv_undef();
    return SEER_OK;
  case JN_ITEM:
    if ((rc = jeval(c, s, n->a, &a)) || (rc = jeval(c, s, n->b, &b))) return rc;
    if ((rc = jwork(c, shallow_cost(a), n->line))) return rc;
    return jop_item(c, a, b, n->line, out);
  case JN_SLICE: {
    jv parts[3] = {jv_none(), jv_none(), jv_none()};
    if ((rc = jeval(c, s, n->a, &a))) return rc;
    const jnode *pn[3] = {n->b, n->c, n->d};
    for (int i = 0; i < 3; i++)
      if (pn[i] && (rc = jeval(c, s, pn[i], &parts[i]))) return rc;
    if ((rc = jwork(c, shallow_cost(a), n->line))) return rc;
    return jop_slice(c, a, parts, n->line, out);
  }
  case JN_CALL: {
    jv fn;
    call_args ca;
    if ((rc = jeval(c, s, n->a, &fn)) || (rc = eval_call_args(c, s, n, &ca))) return rc;
    if (fn.t == JV_UNDEF && (n->a->k == JN_ATTR || n->a->k == JN_NAME))
      return jerr(c, n->line, "'%s' is undefined, or a method this engine does not support",
                  n->a->name);
    return jcall_value(c, s, fn, ca.args, ca.nargs, ca.kwn, ca.kwv, ca.nkw, n->line, out);
  }
  case JN_FILTER: {
    jv *args, *kwv;
    if ((rc = jeval(c, s, n->a, &a)) || (rc = eval_args(c, s, n, &args, &kwv)) ||
        (rc = work_on_call(c, &a, args, n->nargs, kwv, n->nkw, n->line)))
      return rc;
    return jfilter(c, n->name, a, args, n->nargs, n->kwnames, kwv, n->nkw, n->line, out);
  }
  case JN_TEST: {
    jv *args, *kwv;
    bool r;
    if ((rc = jeval(c, s, n->a, &a)) || (rc = eval_args(c, s, n, &args, &kwv))) return rc;
    if ((rc = jtest(c, n->name, a, args, n->nargs, n->line, &r))) return rc;
    *out = jv_bool(r != n->negated);
    return SEER_OK;
  }
  case JN_UNARY:
    if ((rc = jeval(c, s, n->a, &a))) return rc;
    if (!isnum(a))
      return jerr(c, n->line, "bad operand type for unary %c: %s", n->op, jv_type_name(a));
    if (n->op == '-' && a.t == JV_INT && a.u.i == INT64_MIN) /* -INT64_MIN is not an int64 */
      return jerr(c, n->line, "integer overflow");
    *out = n->op == '+'      ? (a.t == JV_BOOL ? jv_int(a.u.b) : a)
           : a.t == JV_FLOAT ? jv_float(-a.u.f)
                             : jv_int(-inum(a));
    return SEER_OK;
  case JN_BINARY:
    if ((rc = jeval(c, s, n->a, &a)) || (rc = jeval(c, s, n->b, &b))) return rc;
    return jop_binary(c, n->op, a, b, n->line, out);
  case JN_AND:
    if ((rc = jeval(c, s, n->a, &a))) return rc;
    if (!jv_truthy(a)) {
      *out = a;
      return SEER_OK;
    }
    return jeval(c, s, n->b, out);
  case JN_OR:
    if ((rc = jeval(c, s, n->a, &a))) return rc;
    if (jv_truthy(a)) {
      *out = a;
      return SEER_OK;
    }
    return jeval(c, s, n->b, out);
  case JN_NOT:
    if ((rc = jeval(c, s, n->a, &a))) return rc;
    *out = jv_bool(!jv_truthy(a));
    return SEER_OK;
  case JN_COND:
    if ((rc = jeval(c, s, n->b, &b))) return rc;
    if (jv_truthy(b)) return jeval(c, s, n->a, out);
    if (n->c) return jeval(c, s, n->c, out);
    *out = jv_undef();
    return SEER_OK;
  case JN_COMPARE: return eval_compare(c, s, n, out);
  default: return jerr(c, n->line, "not an expression");
  }
}

/* ---- macros and calls ---- */

/* Runs a macro (or a {% call %} body) with its parameters bound in a new scope under parent. */
static int call_macro(jctx *c, const jnode *m, jscope *parent, jv *args, size_t nargs,
                      const char **kwn, jv *kwv, size_t nkw, int line, jv *out) {
  jv caller = c->pending_caller;
  c->pending_caller = jv_undef();
  if (c->depth >= MAX_DEPTH) return jerr(c, line, "macro recursion is too deep");
  if (nargs > m->ntargets)
    return jerr(c, line, "macro '%s' takes %zu arguments, got %zu", m->name, m->ntargets, nargs);
  jscope *ms = ja_alloc(c->a, sizeof *ms);
  if (!ms) return oom(c);
  ms->parent = parent;
  for (size_t k = 0; k < nkw; k++) {
    bool known = false;
    for (size_t i = 0; i < m->ntargets && !known; i++)
      known = !strcmp(kwn[k], m->targets[i]);
    if (!known) return jerr(c, line, "macro '%s' has no parameter '%s'", m->name, kwn[k]);
  }
  int rc;
  if (caller.t != JV_UNDEF && (rc = scope_set(c, ms, "caller", 6, caller))) return rc;
  for (size_t i = 0; i < m->ntargets; i++) {
    const char *p = m->targets[i];
    jv v = jv_undef();
    bool found = i < nargs;
    if (found) v = args[i];
    for (size_t k = 0; !found && k < nkw; k++)
      if (!strcmp(kwn[k], p)) v = kwv[k], found = true;
    if (!found && m->defaults[i] && (rc = jeval(c, ms, m->defaults[i], &v))) return rc;
    if ((rc = scope_set(c, ms, p, strlen(p), v))) return rc;
  }
  seer_buf buf = SEER_BUF_INIT;
  c->depth++;
  rc = jrender_body(c, ms, m->body, m->nbody, &buf);
  c->depth--;
  if (rc < 0) {
    seer_buf_free(&buf);
    return rc;
  }
  *out = jv_str_from_buf(c->a, &buf);
  seer_buf_free(&buf);
  return SEER_OK;
}

static int render_loop(jctx *c, jscope *s, const jnode *n, jv seq, int64_t depth, seer_buf *out);

/* loop(items) inside a recursive loop: the loop's body over items, one level deeper. */
static int call_loop(jctx *c, const jdict *loop, jv *args, size_t nargs, int line, jv *out) {
  if (!loop->loop->recursive) return jerr(c, line, "loop() needs a loop marked 'recursive'");
  if (nargs != 1) return jerr(c, line, "loop() takes one argument, the items to loop over");
  if (c->depth >= MAX_DEPTH) return jerr(c, line, "recursive loop is too deep");
  seer_buf buf = SEER_BUF_INIT;
  c->depth++;
  int rc = render_loop(c, loop->loop_scope, loop->loop, args[0], loop->loop_depth + 1, &buf);
  c->depth--;
  if (rc < 0) {
    seer_buf_free(&buf);
    return rc;
  }
  *out = jv_str_from_buf(c->a, &buf);
  seer_buf_free(&buf);
  return out->t == JV_STR ? SEER_OK : oom(c);
}

int jcall_value(jctx *c, jscope *s, jv fn, jv *args, size_t nargs, const char **kwn, jv *kwv,
                size_t nkw, int line, jv *out) {
  (void)s;
  int rc;
  if (fn.t != JV_MACRO) c->pending_caller = jv_undef();
  switch (fn.t) {
  case JV_MACRO: return call_macro(c, fn.u.m, c->globals, args, nargs, kwn, kwv, nkw, line, out);
  case JV_CALLER:
    return call_macro(c, fn.u.cl->node, fn.u.cl->scope, args, nargs, kwn, kwv, nkw, line, out);
  case JV_BUILTIN:
    if ((rc = work_on_call(c, NULL, args, nargs, kwv, nkw, line))) return rc;
    return jcall_builtin(c, fn.u.bi, args, nargs, kwn, kwv, nkw, line, out);
  case JV_METHOD:
    if ((rc = work_on_call(c, &fn.u.bm->self, args, nargs, kwv, nkw, line))) return rc;
    return jcall_method(c, fn.u.bm, args, nargs, kwn, kwv, nkw, line, out);
  case JV_UNDEF: return jerr(c, line, "call of an undefined value");
  case JV_DICT:
    if (fn.u.d->loop) return call_loop(c, fn.u.d, args, nargs, line, out);
    /* fall through */
  default: return jerr(c, line, "'%s' object is not callable", jv_type_name(fn));
  }
}

/* ---- statements ---- */

static int iter_items(jctx *c, jv v, int line, jlist **out) {
  jv l = jv_new_list(c->a);
  if (l.t != JV_LIST) return oom(c);
  switch (v.t) {
  case JV_UNDEF: break;
  case JV_LIST: *out = v.u.l; return SEER_OK;
  case JV_DICT:
    for (size_t i = 0; i < v.u.d->n; i++)
      if (jv_list_push(c->a, l.u.l, v.u.d->k[i])) return oom(c);
    break;
  case JV_STR:
    for (size_t i = 0; i < v.u.s.n;) {
      size_t k = i + 1;
      while (k < v.u.s.n && ((unsigned char)v.u.s.p[k] & 0xC0) == 0x80)
        k++;
      if (jv_list_push(c->a, l.u.l, jv_str(v.u.s.p + i, k - i))) return oom(c);
      i = k;
    }
    break;
  default: return jerr(c, line, "'%s' object is not iterable", jv_type_name(v));
  }
  *out = l.u.l;
  return SEER_OK;
}

/* a, b = item: any iterable with exactly as many items as names, as in Python. */
static int unpack(jctx *c, jscope *s, const jnode *n, jv item) {
  jlist *l = NULL;
  int rc = item.t == JV_UNDEF ? SEER_OK : iter_items(c, item, n->line, &l);
  if (rc) return rc;
  if (!l || l->n != n->ntargets)
    return jerr(c, n->line, "cannot unpack %s into %zu variables", jv_type_name(item), n->ntargets);
  for (size_t i = 0; i < n->ntargets; i++)
    if ((rc = scope_set(c, s, n->targets[i], strlen(n->targets[i]), l->v[i]))) return rc;
  return SEER_OK;
}

static int bind_targets(jctx *c, jscope *s, const jnode *n, jv item) {
  if (n->ntargets == 1) return scope_set(c, s, n->targets[0], strlen(n->targets[0]), item);
  return unpack(c, s, n, item);
}

/* Renders a for loop over seq at depth (1 for the outer loop; recursive calls go deeper). */
static int render_loop(jctx *c, jscope *s, const jnode *n, jv seq, int64_t depth, seer_buf *out) {
  jlist *items = NULL;
  int rc = iter_items(c, seq, n->line, &items);
  if (rc) return rc;
  jscope *ls = ja_alloc(c->a, sizeof *ls);
  if (!ls) return oom(c);
  ls->parent = s;
  if (n->filter) {
    /* `for x in xs if cond`: filter first, so loop.index and loop.length count kept items. */
    jv kept = jv_new_list(c->a);
    if (kept.t != JV_LIST) return oom(c);
    for (size_t i = 0; i < items->n; i++) {
      jv ok;
      if ((rc = bind_targets(c, ls, n, items->v[i])) || (rc = jeval(c, ls, n->filter, &ok)))
        return rc;
      if (jv_truthy(ok) && jv_list_push(c->a, kept.u.l, items->v[i])) return oom(c);
    }
    items = kept.u.l;
  }
  if (items->n == 0) return jrender_body(c, s, n->else_body, n->nelse, out);
  size_t len = items->n;
  jv *changed = ja_alloc(c->a, sizeof *changed); /* zeroed: JV_UNDEF, nothing seen yet */
  if (!changed) return oom(c);
  for (size_t i = 0; i < len; i++) {
    jv loop = jv_new_dict(c->a);
    if (loop.t != JV_DICT) return oom(c);
    jdict *d = loop.u.d;
    d->loop = n;
    d->loop_scope = s;
    d->loop_depth = depth;
    d->loop_changed = changed;
    int64_t k = (int64_t)i, L = (int64_t)len;
    if (jv_dict_set(c->a, d, jv_cstr("index"), jv_int(k + 1)) ||
        jv_dict_set(c->a, d, jv_cstr("index0"), jv_int(k)) ||
        jv_dict_set(c->a, d, jv_cstr("revindex"), jv_int(L - k)) ||
        jv_dict_set(c->a, d, jv_cstr("revindex0"), jv_int(L - k - 1)) ||
        jv_dict_set(c->a, d, jv_cstr("first"), jv_bool(i == 0)) ||
        jv_dict_set(c->a, d, jv_cstr("last"), jv_bool(i + 1 == len)) ||
        jv_dict_set(c->a, d, jv_cstr("length"), jv_int(L)) ||
        jv_dict_set(c->a, d, jv_cstr("depth"), jv_int(depth)) ||
        jv_dict_set(c->a, d, jv_cstr("depth0"), jv_int(depth - 1)) ||
        jv_dict_set(c->a, d, jv_cstr("previtem"), i ? items->v[i - 1] : jv_undef()) ||
        jv_dict_set(c->a, d, jv_cstr("nextitem"), i + 1 < len ? items->v[i + 1] : jv_undef()))
      return oom(c);
    /* Each iteration gets its own scope, as in jinja2: a {% set %} in one iteration is gone in the
     * next, and the outer variable shows through again. */
    jscope *is = ja_alloc(c->a, sizeof *is);
    if (!is) return oom(c);
    is->parent = s;
    if ((rc = scope_set(c, is, "loop", 4, loop)) || (rc = bind_targets(c, is, n, items->v[i])))
      return rc;
    rc = jrender_body(c, is, n->body, n->nbody, out);
    if (rc < 0) return rc;
    if (rc == JR_BREAK) break;
  }
  return SEER_OK;
}

static int render_for(jctx *c, jscope *s, const jnode *n, seer_buf *out) {
  jv seq;
  int rc = jeval(c, s, n->a, &seq);
  return rc ? rc : render_loop(c, s, n, seq, 1, out);
}

/* {% call %}: the macro call, with the block's body as its caller(). */
static int render_call_block(jctx *c, jscope *s, const jnode *n, seer_buf *out) {
  const jnode *call = n->a;
  jv fn, r;
  call_args ca;
  int rc;
  if ((rc = jeval(c, s, call->a, &fn)) || (rc = eval_call_args(c, s, call, &ca))) return rc;
  if (fn.t != JV_MACRO)
    return jerr(c, n->line, "{%% call %%} needs a macro, got %s", jv_type_name(fn));
  jclosure *cl = ja_alloc(c->a, sizeof *cl);
  if (!cl) return oom(c);
  cl->node = n;
  cl->scope = s;
  c->pending_caller = (jv){.t = JV_CALLER, .u.cl = cl};
  if ((rc = jcall_value(c, s, fn, ca.args, ca.nargs, ca.kwn, ca.kwv, ca.nkw, n->line, &r)))
    return rc;
  return jv_to_str(r, out) ? oom(c) : SEER_OK;
}

static int render_set(jctx *c, jscope *s, const jnode *n) {
  jv v;
  int rc = jeval(c, s, n->a, &v);
  if (rc) return rc;
  if (n->unpack) return unpack(c, s, n, v);
  if (!n->ntargets) return scope_set(c, s, n->name, n->name_len, v);
  jv ns;
  if (!lookup(s, n->name, n->name_len, &ns) || ns.t != JV_DICT || !ns.u.d->ns)
    return jerr(c, n->line, "cannot assign attribute '%s' on '%s', which is not a namespace()",
                n->targets[0], n->name);
  return jv_dict_set(c->a, ns.u.d, jv_cstr(n->targets[0]), v) ? oom(c) : SEER_OK;
}

/* Every expression and statement passes here: the step and nesting bounds of jinja_internal.h. */
static int enter(jctx *c, int line) {
  if (++c->steps > JINJA_MAX_STEPS)
    return jerr(
        c, line,
        "rendering takes more than %ld steps; the template is hostile or loops without bound",
        JINJA_MAX_STEPS);
  if (c->nest >= JINJA_MAX_RENDER_NEST)
    return jerr(c, line, "rendering nests more than %d levels deep", JINJA_MAX_RENDER_NEST);
  c->nest++;
  return SEER_OK;
}

int jeval(jctx *c, jscope *s, const jnode *n, jv *out) {
  int rc = enter(c, n->line);
  if (rc) return rc;
  rc = eval_node(c, s, n, out);
  c->nest--;
  return rc;
}

static int render_statements(jctx *c, jscope *s, jnode *const *body, size_t nbody, seer_buf *out);

int jrender_body(jctx *c, jscope *s, jnode *const *body, size_t nbody, seer_buf *out) {
  int rc = enter(c, nbody ? body[0]->line : 0);
  if (rc) return rc;
  rc = render_statements(c, s, body, nbody, out);
  c->nest--;
  return rc;
}

static int render_statements(jctx *c, jscope *s, jnode *const *body, size_t nbody, seer_buf *out) {
  for (size_t i = 0; i < nbody; i++) {
    const jnode *n = body[i];
    int rc = SEER_OK;
    jv v;
    if (out->len > JINJA_MAX_BYTES)
      return jerr(c, n->line, "the output exceeds %zu MiB", JINJA_MAX_BYTES >> 20);
    switch (n->k) {
    case JN_TEXT:
      if (seer_buf_append(out, n->lit.u.s.p, n->lit.u.s.n)) return oom(c);
      break;
    case JN_OUTPUT:
      if ((rc = jeval(c, s, n->a, &v))) return rc;
      if (jv_to_str(v, out)) return oom(c);
      break;
    case JN_IF:
      if ((rc = jeval(c, s, n->a, &v))) return rc;
      rc = jv_truthy(v) ? jrender_body(c, s, n->body, n->nbody, out)
                        : jrender_body(c, s, n->else_body, n->nelse, out);
      if (rc) return rc;
      break;
    case JN_FOR:
      if ((rc = render_for(c, s, n, out))) return rc;
      break;
    case JN_SET:
      if ((rc = render_set(c, s, n))) return rc;
      break;
    case JN_SET_BLOCK:
    case JN_FILTER_BLOCK: {
      seer_buf tmp = SEER_BUF_INIT;
      rc = jrender_body(c, s, n->body, n->nbody, &tmp);
      v = jv_str_from_buf(c->a, &tmp);
      seer_buf_free(&tmp);
      if (rc < 0) return rc;
      if (n->k == JN_SET_BLOCK) {
        if ((rc = scope_set(c, s, n->name, n->name_len, v))) return rc;
      } else {
        jv *args, *kwv, r;
        if ((rc = eval_args(c, s, n, &args, &kwv)) ||
            (rc = jfilter(c, n->name, v, args, n->nargs, n->kwnames, kwv, n->nkw, n->line, &r)))
          return rc;
        if (jv_to_str(r, out)) return oom(c);
      }
      break;
    }
    case JN_MACRO:
      if ((rc = scope_set(c, s, n->name, n->name_len, (jv){.t = JV_MACRO, .u.m = n}))) return rc;
      break;
    case JN_BLOCK:
      if ((rc = jrender_body(c, s, n->body, n->nbody, out))) return rc;
      break;
    case JN_CALL_BLOCK:
      if ((rc = render_call_block(c, s, n, out))) return rc;
      break;
    case JN_WITH: {
      /* The values are read in the outer scope, then bound in a scope of the block's own. */
      jscope *ws = ja_alloc(c->a, sizeof *ws);
      if (!ws) return oom(c);
      ws->parent = s;
      for (size_t k = 0; k < n->ntargets; k++) {
        if ((rc = jeval(c, s, n->args[k], &v))) return rc;
        if ((rc = scope_set(c, ws, n->targets[k], strlen(n->targets[k]), v))) return rc;
      }
      if ((rc = jrender_body(c, ws, n->body, n->nbody, out))) return rc;
      break;
    }
    case JN_BREAK: return JR_BREAK;
    case JN_CONTINUE: return JR_CONTINUE;
    default: return jerr(c, n->line, "not a statement");
    }
  }
  return SEER_OK;
}

/* ---- public API ---- */

int seer_jinja_compile(const char *src, size_t len, const seer_jinja_options *opts,
                       seer_jinja_template **out, seer_error *err) {
  *out = NULL;
  seer_jinja_template *t = calloc(1, sizeof *t);
  if (!t) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  jtoks toks = {0};
  int rc = seer_jinja_lex(&t->arena, src, len, opts, &toks, err);
  if (!rc) rc = seer_jinja_parse(&t->arena, &toks, &t->body, &t->nbody, err);
  if (rc) {
    seer_jinja_free(t);
    return rc;
  }
  *out = t;
  return SEER_OK;
}

int seer_jinja_render(const seer_jinja_template *t, const json_t *vars, seer_buf *out,
                      seer_error *err) {
  jarena arena = {.limit = JINJA_MAX_BYTES};
  jctx c = {.a = &arena, .err = err, .pending_caller = {.t = JV_UNDEF}};
  jscope *root = ja_alloc(&arena, sizeof *root);
  int rc = SEER_OK;
  if (!root) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
  c.globals = root;
  const char *k;
  json_t *v;
  if (!rc && json_is_object(vars)) {
    json_object_foreach((json_t *)vars, k, v) {
      char *key = ja_strdup(&arena, k, strlen(k));
      if (!key ||
          jv_dict_set(&arena, &root->vars, jv_str(key, strlen(k)), jv_from_json(&arena, v))) {
        rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
        break;
      }
    }
  }
  if (!rc) {
    rc = jrender_body(&c, root, t->body, t->nbody, out);
    if (rc > 0)
      rc = SEER_OK; /* break/continue outside a loop: ignored, as Jinja2 rejects them at
                       parse time and this never happens in valid templates */
  }
  if (!rc && seer_buf_terminate(out)) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
  ja_free(&arena);
  return rc;
}

void seer_jinja_free(seer_jinja_template *t) {
  if (!t) return;
  ja_free(&t->arena);
  free(t);
}
