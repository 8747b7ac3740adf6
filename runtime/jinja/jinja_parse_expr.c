/* jinja_parse_expr.c: owns parsing expressions with Jinja2's operator precedence: literals,
 * names, attributes, subscripts and slices, calls, filters and tests, arithmetic, comparisons and
 * boolean logic, conditional expressions; and the error helpers both parser files use. */
#include "jinja_parser.h"

#include <stdio.h>
#include <string.h>

int jp_fail(parser *p, const char *what) {
  const jtok *t = cur(p);
  char got[64];
  if (t->t == JT_NAME || t->t == JT_OP)
    snprintf(got, sizeof got, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->s);
  else if (t->t == JT_BLOCK_END)
    snprintf(got, sizeof got, "end of block");
  else if (t->t == JT_VAR_END)
    snprintf(got, sizeof got, "end of print statement");
  else if (t->t == JT_EOF)
    snprintf(got, sizeof got, "end of template");
  else
    snprintf(got, sizeof got, "a literal");
  return seer_errorf(p->err, SEER_EFORMAT, "template line %d: expected %s, got %s", t->line, what,
                     got);
}

/* A construct this engine does not implement: a load error naming it, never a silent mis-render. */
int jp_unsupported(parser *p, const jtok *t, const char *what) {
  return seer_errorf(p->err, SEER_ENOTSUP, "template line %d: unsupported %s '%.*s'", t->line, what,
                     (int)(t->n > 40 ? 40 : t->n), t->s);
}

/* A template from a download can nest (((...))) or {% if %} blocks a million deep; each level is a
 * few stack frames here and in the evaluator, so nesting is bounded (Jinja2 itself stops near the
 * Python recursion limit). The recursive entry points below go through enter/leave. */
int jp_too_deep(parser *p) {
  return seer_errorf(p->err, SEER_EFORMAT,
                     "template line %d: nested more than %d levels deep (expressions and blocks)",
                     cur(p)->line, JINJA_MAX_PARSE_NEST);
}

jnode *jp_node(parser *p, jnode_kind k) {
  jnode *n = ja_alloc(p->a, sizeof *n);
  if (n) {
    n->k = k;
    n->line = cur(p)->line;
  }
  return n;
}

int jp_nvec_push(parser *p, nvec *v, jnode *x) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    jnode **nv = ja_alloc(p->a, cap * sizeof *nv);
    if (!nv) return SEER_ENOMEM;
    if (v->n) memcpy(nv, v->v, v->n * sizeof *nv);
    v->v = nv;
    v->cap = cap;
  }
  v->v[v->n++] = x;
  return SEER_OK;
}

static int parse_or(parser *p, jnode **out);
static int parse_unary(parser *p, bool with_filter, jnode **out);
static int parse_not(parser *p, jnode **out);

int jp_call_args(parser *p, jnode *n) {
  /* cur is '(' */
  p->i++;
  nvec args = {0}, kwargs = {0};
  const char **names = NULL;
  size_t names_cap = 0;
  bool first = true;
  while (!accept_op(p, ")")) {
    if (!first && !accept_op(p, ",")) return jp_fail(p, "',' or ')'");
    first = false;
    if (accept_op(p, ")")) break;
    if (n->k == JN_CALL && (is_op(cur(p), "*") || is_op(cur(p), "**"))) {
      /* f(*list) / f(**dict): spread at call time */
      bool kw = is_op(cur(p), "**");
      p->i++;
      if (kw ? n->dyn_kwargs : n->dyn_args) return jp_fail(p, "one *args and one **kwargs at most");
      TRY(jp_expr(p, kw ? &n->dyn_kwargs : &n->dyn_args));
      continue;
    }
    if (cur(p)->t == JT_NAME && is_op(peek(p, 1), "=")) {
      const jtok *name = cur(p);
      p->i += 2;
      jnode *v;
      TRY(jp_expr(p, &v));
      if (kwargs.n == names_cap) {
        size_t cap = names_cap ? names_cap * 2 : 4;
        const char **nn = ja_alloc(p->a, cap * sizeof *nn);
        if (!nn) return SEER_ENOMEM;
        if (kwargs.n) memcpy(nn, names, kwargs.n * sizeof *nn);
        names = nn;
        names_cap = cap;
      }
      names[kwargs.n] = ja_strdup(p->a, name->s, name->n);
      TRY(jp_nvec_push(p, &kwargs, v));
    } else {
      jnode *v;
      TRY(jp_expr(p, &v));
      TRY(jp_nvec_push(p, &args, v));
    }
  }
  n->args = args.v;
  n->nargs = args.n;
  n->kwargs = kwargs.v;
  n->kwnames = names;
  n->nkw = kwargs.n;
  return SEER_OK;
}

static int parse_primary(parser *p, jnode **out) {
  const jtok *t = cur(p);
  if (t->t == JT_NAME) {
    NEW(n, JN_LIT);
    if (is_name(t, "true") || is_name(t, "True"))
      n->lit = jv_bool(true);
    else if (is_name(t, "false") || is_name(t, "False"))
      n->lit = jv_bool(false);
    else if (is_name(t, "none") || is_name(t, "None"))
      n->lit = jv_none();
    else {
      n->k = JN_NAME;
      n->name = ja_strdup(p->a, t->s, t->n);
      n->name_len = t->n;
    }
    p->i++;
    *out = n;
    return SEER_OK;
  }
  if (t->t == JT_STRING) {
    /* Adjacent string literals concatenate. */
    seer_buf b = SEER_BUF_INIT;
    int rc = 0;
    while (cur(p)->t == JT_STRING) {
      rc |= seer_buf_append(&b, cur(p)->s, cur(p)->n);
      p->i++;
    }
    NEW(n, JN_LIT);
    n->lit = rc ? jv_undef() : jv_str_from_buf(p->a, &b);
    seer_buf_free(&b);
    *out = n;
    return SEER_OK;
  }
  if (t->t == JT_INT || t->t == JT_FLOAT) {
    NEW(n, JN_LIT);
    n->lit = t->t == JT_INT ? jv_int(t->i) : jv_float(t->f);
    p->i++;
    *out = n;
    return SEER_OK;
  }
  if (is_op(t, "(")) {
    p->i++;
    if (accept_op(p, ")")) {
      NEW(n, JN_TUPLE);
      *out = n;
      return SEER_OK;
    }
    jnode *e;
    TRY(jp_expr(p, &e));
    if (is_op(cur(p), ",")) {
      NEW(n, JN_TUPLE);
      nvec items = {0};
      TRY(jp_nvec_push(p, &items, e));
      while (accept_op(p, ",")) {
        if (is_op(cur(p), ")")) break;
        TRY(jp_expr(p, &e));
        TRY(jp_nvec_push(p, &items, e));
      }
      n->args = items.v;
      n->nargs = items.n;
      e = n;
    }
    if (!accept_op(p, ")")) return jp_fail(p, "')'");
    *out = e;
    return SEER_OK;
  }
  if (is_op(t, "[")) {
    p->i++;
    NEW(n, JN_LIST);
    nvec items = {0};
    while (!accept_op(p, "]")) {
      if (items.n && !accept_op(p, ",")) return jp_fail(p, "',' or ']'");
      if (accept_op(p, "]")) break;
      jnode *e;
      TRY(jp_expr(p, &e));
      TRY(jp_nvec_push(p, &items, e));
    }
    n->args = items.v;
    n->nargs = items.n;
    *out = n;
    return SEER_OK;
  }
  if (is_op(t, "{")) {
    p->i++;
    NEW(n, JN_DICT);
    nvec items = {0};
    while (!accept_op(p, "}")) {
      if (items.n && !accept_op(p, ",")) return jp_fail(p, "',' or '}'");
      if (accept_op(p, "}")) break;
      jnode *k, *v;
      TRY(jp_expr(p, &k));
      if (!accept_op(p, ":")) return jp_fail(p, "':'");
      TRY(jp_expr(p, &v));
      TRY(jp_nvec_push(p, &items, k));
      TRY(jp_nvec_push(p, &items, v));
    }
    n->args = items.v;
    n->nargs = items.n;
    *out = n;
    return SEER_OK;
  }
  return jp_fail(p, "an expression");
}

static int parse_postfix(parser *p, jnode **io) {
  for (;;) {
    if (is_op(cur(p), ".")) {
      p->i++;
      const jtok *t = cur(p);
      if (t->t == JT_NAME) {
        NEW(n, JN_ATTR);
        n->a = *io;
        n->name = ja_strdup(p->a, t->s, t->n);
        n->name_len = t->n;
        p->i++;
        *io = n;
      } else if (t->t == JT_INT) {
        NEW(n, JN_ITEM);
        NEW(idx, JN_LIT);
        idx->lit = jv_int(t->i);
        n->a = *io;
        n->b = idx;
        p->i++;
        *io = n;
      } else {
        return jp_fail(p, "an attribute name");
      }
    } else if (is_op(cur(p), "[")) {
      p->i++;
      jnode *parts[3] = {NULL, NULL, NULL};
      int np = 0;
      bool slice = false;
      for (;;) {
        if (is_op(cur(p), ":")) {
          slice = true;
          p->i++;
          if (++np > 2) return jp_fail(p, "']'");
          continue;
        }
        if (is_op(cur(p), "]")) break;
        if (parts[np]) return jp_fail(p, "':' or ']'");
        TRY(jp_expr(p, &parts[np]));
      }
      p->i++;
      NEW(n, slice ? JN_SLICE : JN_ITEM);
      n->a = *io;
      n->b = parts[0];
      n->c = parts[1];
      n->d = parts[2];
      if (!slice && !parts[0]) return jp_fail(p, "a subscript");
      *io = n;
    } else if (is_op(cur(p), "(")) {
      NEW(n, JN_CALL);
      n->a = *io;
      TRY(jp_call_args(p, n));
      *io = n;
    } else {
      return SEER_OK;
    }
  }
}

static int parse_filters(parser *p, jnode **io) {
  for (;;) {
    if (accept_op(p, "|")) {
      const jtok *t = cur(p);
      if (t->t != JT_NAME) return jp_fail(p, "a filter name");
      if (!jis_filter(t->s, t->n)) return jp_unsupported(p, t, "filter");
      NEW(n, JN_FILTER);
      n->a = *io;
      /* dotted filter names are not used by chat templates; take the first name */
      n->name = ja_strdup(p->a, t->s, t->n);
      n->name_len = t->n;
      p->i++;
      if (is_op(cur(p), "(")) TRY(jp_call_args(p, n));
      *io = n;
    } else if (is_name(cur(p), "is")) {
      p->i++;
      NEW(n, JN_TEST);
      n->negated = accept_name(p, "not");
      const jtok *t = cur(p);
      if (t->t != JT_NAME && !is_op(t, "==") && !is_op(t, "!=") && !is_op(t, "<") && !is_op(t, ">"))
        return jp_fail(p, "a test name");
      if (!jis_test(t->s, t->n)) return jp_unsupported(p, t, "test");
      n->a = *io;
      n->name = ja_strdup(p->a, t->s, t->n);
      n->name_len = t->n;
      p->i++;
      const jtok *c = cur(p);
      if (is_op(c, "(")) {
        TRY(jp_call_args(p, n));
      } else if ((c->t == JT_NAME || c->t == JT_STRING || c->t == JT_INT || c->t == JT_FLOAT ||
                  is_op(c, "[") || is_op(c, "{")) &&
                 !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and") &&
                 !is_name(c, "if") && !is_name(c, "is") && !is_name(c, "in") &&
                 !is_name(c, "not")) {
        jnode *arg;
        TRY(parse_primary(p, &arg));
        TRY(parse_postfix(p, &arg));
        jnode **args = ja_alloc(p->a, sizeof *args);
        if (!args) return SEER_ENOMEM;
        args[0] = arg;
        n->args = args;
        n->nargs = 1;
      }
      *io = n;
    } else if (is_op(cur(p), "(")) {
      NEW(n, JN_CALL);
      n->a = *io;
      TRY(jp_call_args(p, n));
      *io = n;
    } else {
      return SEER_OK;
    }
  }
}

static int parse_unary_at(parser *p, bool with_filter, jnode **out) {
  jnode *n;
  if (is_op(cur(p), "-") || is_op(cur(p), "+")) {
    NEW(u, JN_UNARY);
    u->op = cur(p)->s[0];
    p->i++;
    TRY(parse_unary(p, false, &u->a));
    n = u;
  } else {
    TRY(parse_primary(p, &n));
    TRY(parse_postfix(p, &n));
  }
  if (with_filter) TRY(parse_filters(p, &n));
  *out = n;
  return SEER_OK;
}

static int parse_unary(parser *p, bool with_filter, jnode **out) {
  if (p->depth >= JINJA_MAX_PARSE_NEST) return jp_too_deep(p);
  p->depth++;
  int rc = parse_unary_at(p, with_filter, out);
  p->depth--;
  return rc;
}

static int binary(parser *p, jnode **io, int op, jnode *rhs) {
  NEW(n, JN_BINARY);
  n->op = op;
  n->a = *io;
  n->b = rhs;
  *io = n;
  return SEER_OK;
}

static int parse_pow(parser *p, jnode **out) {
  TRY(parse_unary(p, true, out));
  while (is_op(cur(p), "**")) {
    p->i++;
    jnode *r;
    TRY(parse_unary(p, true, &r));
    TRY(binary(p, out, JOP_POW, r));
  }
  return SEER_OK;
}

static int parse_math2(parser *p, jnode **out) {
  TRY(parse_pow(p, out));
  for (;;) {
    int op = is_op(cur(p), "*")    ? '*'
             : is_op(cur(p), "/")  ? '/'
             : is_op(cur(p), "//") ? JOP_FLOORDIV
             : is_op(cur(p), "%")  ? '%'
                                   : 0;
    if (!op) return SEER_OK;
    p->i++;
    jnode *r;
    TRY(parse_pow(p, &r));
    TRY(binary(p, out, op, r));
  }
}

static int parse_concat(parser *p, jnode **out) {
  TRY(parse_math2(p, out));
  while (is_op(cur(p), "~")) {
    p->i++;
    jnode *r;
    TRY(parse_math2(p, &r));
    TRY(binary(p, out, '~', r));
  }
  return SEER_OK;
}

static int parse_math1(parser *p, jnode **out) {
  TRY(parse_concat(p, out));
  for (;;) {
    int op = is_op(cur(p), "+") ? '+' : is_op(cur(p), "-") ? '-' : 0;
    if (!op) return SEER_OK;
    p->i++;
    jnode *r;
    TRY(parse_concat(p, &r));
    TRY(binary(p, out, op, r));
  }
}

static int parse_compare(parser *p, jnode **out) {
  jnode *first;
  TRY(parse_math1(p, &first));
  nvec operands = {0};
  int ops[16];
  size_t nops = 0;
  for (;;) {
    const jtok *t = cur(p);
    int op = is_op(t, "==")     ? JOP_EQ
             : is_op(t, "!=")   ? JOP_NE
             : is_op(t, "<")    ? '<'
             : is_op(t, "<=")   ? JOP_LE
             : is_op(t, ">")    ? '>'
             : is_op(t, ">=")   ? JOP_GE
             : is_name(t, "in") ? JOP_IN
                                : 0;
    if (!op && is_name(t, "not") && is_name(peek(p, 1), "in")) {
      op = JOP_NOTIN;
      p->i++;
    }
    if (!op || nops == 16) break;
    p->i++;
    jnode *r;
    TRY(parse_math1(p, &r));
    if (!operands.n) TRY(jp_nvec_push(p, &operands, first));
    TRY(jp_nvec_push(p, &operands, r));
    ops[nops++] = op;
  }
  if (!nops) {
    *out = first;
    return SEER_OK;
  }
  NEW(n, JN_COMPARE);
  n->args = operands.v;
  n->nargs = operands.n;
  n->ops = ja_alloc(p->a, nops * sizeof *n->ops);
  if (!n->ops) return SEER_ENOMEM;
  memcpy(n->ops, ops, nops * sizeof *ops);
  *out = n;
  return SEER_OK;
}

static int parse_not(parser *p, jnode **out) {
  if (!accept_name(p, "not")) return parse_compare(p, out);
  if (p->depth >= JINJA_MAX_PARSE_NEST) return jp_too_deep(p);
  NEW(n, JN_NOT);
  p->depth++;
  int rc = parse_not(p, &n->a);
  p->depth--;
  *out = n;
  return rc;
}

static int parse_and(parser *p, jnode **out) {
  TRY(parse_not(p, out));
  while (accept_name(p, "and")) {
    NEW(n, JN_AND);
    n->a = *out;
    TRY(parse_not(p, &n->b));
    *out = n;
  }
  return SEER_OK;
}

static int parse_or(parser *p, jnode **out) {
  TRY(parse_and(p, out));
  while (accept_name(p, "or")) {
    NEW(n, JN_OR);
    n->a = *out;
    TRY(parse_and(p, &n->b));
    *out = n;
  }
  return SEER_OK;
}

int jp_condexpr(parser *p, bool allow_cond, jnode **out) {
  TRY(parse_or(p, out));
  while (allow_cond && accept_name(p, "if")) {
    NEW(n, JN_COND);
    n->a = *out;
    TRY(parse_or(p, &n->b));
    if (accept_name(p, "else")) {
      if (p->depth >= JINJA_MAX_PARSE_NEST) return jp_too_deep(p);
      p->depth++;
      int rc = jp_condexpr(p, true, &n->c);
      p->depth--;
      TRY(rc);
    }
    *out = n;
  }
  return SEER_OK;
}

int jp_expr(parser *p, jnode **out) { return jp_condexpr(p, true, out); }
