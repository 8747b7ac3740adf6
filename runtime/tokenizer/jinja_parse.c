/* jinja_parse.c: owns parsing tokens into the AST: statements (if/for/set/macro/filter/...) and
 * expressions with Jinja2's operator precedence, filters and tests. */
#include "jinja_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct parser {
  jarena *a;
  const jtoks *t;
  size_t i;
  seer_error *err;
  int depth; /* expression and statement nesting, bounded: the parser recurses on it */
} parser;

static const jtok *cur(parser *p) { return &p->t->v[p->i]; }
static const jtok *peek(parser *p, size_t k) {
  size_t j = p->i + k < p->t->n ? p->i + k : p->t->n - 1;
  return &p->t->v[j];
}
static bool is_op(const jtok *t, const char *op) {
  return t->t == JT_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n);
}
static bool is_name(const jtok *t, const char *name) {
  return t->t == JT_NAME && t->n == strlen(name) && !memcmp(t->s, name, t->n);
}
static bool accept_op(parser *p, const char *op) {
  if (!is_op(cur(p), op)) return false;
  p->i++;
  return true;
}
static bool accept_name(parser *p, const char *name) {
  if (!is_name(cur(p), name)) return false;
  p->i++;
  return true;
}

static int fail(parser *p, const char *what) {
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
static int unsupported(parser *p, const jtok *t, const char *what) {
  return seer_errorf(p->err, SEER_ENOTSUP, "template line %d: unsupported %s '%.*s'", t->line, what,
                     (int)(t->n > 40 ? 40 : t->n), t->s);
}

/* A template from a download can nest (((...))) or {% if %} blocks a million deep; each level is a
 * few stack frames here and in the evaluator, so nesting is bounded (Jinja2 itself stops near the
 * Python recursion limit). The recursive entry points below go through enter/leave. */
static int too_deep(parser *p) {
  return seer_errorf(p->err, SEER_EFORMAT,
                     "template line %d: nested more than %d levels deep (expressions and blocks)",
                     cur(p)->line, JINJA_MAX_PARSE_NEST);
}

static jnode *node(parser *p, jnode_kind k) {
  jnode *n = ja_alloc(p->a, sizeof *n);
  if (n) {
    n->k = k;
    n->line = cur(p)->line;
  }
  return n;
}

/* A growable array of node pointers in the arena. */
typedef struct nvec {
  jnode **v;
  size_t n, cap;
} nvec;

static int nvec_push(parser *p, nvec *v, jnode *x) {
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

#define TRY(x)                                                                                     \
  do {                                                                                             \
    int rc_ = (x);                                                                                 \
    if (rc_) return rc_;                                                                           \
  } while (0)
#define NEW(var, kind)                                                                             \
  jnode *var = node(p, kind);                                                                      \
  if (!var) return seer_errorf(p->err, SEER_ENOMEM, "out of memory")

static int parse_expr(parser *p, jnode **out);
static int parse_or(parser *p, jnode **out);
static int parse_unary(parser *p, bool with_filter, jnode **out);
static int parse_not(parser *p, jnode **out);
static int parse_condexpr(parser *p, bool allow_cond, jnode **out);

static int parse_call_args(parser *p, jnode *n) {
  /* cur is '(' */
  p->i++;
  nvec args = {0}, kwargs = {0};
  const char **names = NULL;
  size_t names_cap = 0;
  bool first = true;
  while (!accept_op(p, ")")) {
    if (!first && !accept_op(p, ",")) return fail(p, "',' or ')'");
    first = false;
    if (accept_op(p, ")")) break;
    if (n->k == JN_CALL && (is_op(cur(p), "*") || is_op(cur(p), "**"))) {
      /* f(*list) / f(**dict): spread at call time */
      bool kw = is_op(cur(p), "**");
      p->i++;
      if (kw ? n->dyn_kwargs : n->dyn_args) return fail(p, "one *args and one **kwargs at most");
      TRY(parse_expr(p, kw ? &n->dyn_kwargs : &n->dyn_args));
      continue;
    }
    if (cur(p)->t == JT_NAME && is_op(peek(p, 1), "=")) {
      const jtok *name = cur(p);
      p->i += 2;
      jnode *v;
      TRY(parse_expr(p, &v));
      if (kwargs.n == names_cap) {
        size_t cap = names_cap ? names_cap * 2 : 4;
        const char **nn = ja_alloc(p->a, cap * sizeof *nn);
        if (!nn) return SEER_ENOMEM;
        if (kwargs.n) memcpy(nn, names, kwargs.n * sizeof *nn);
        names = nn;
        names_cap = cap;
      }
      names[kwargs.n] = ja_strdup(p->a, name->s, name->n);
      TRY(nvec_push(p, &kwargs, v));
    } else {
      jnode *v;
      TRY(parse_expr(p, &v));
      TRY(nvec_push(p, &args, v));
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
    TRY(parse_expr(p, &e));
    if (is_op(cur(p), ",")) {
      NEW(n, JN_TUPLE);
      nvec items = {0};
      TRY(nvec_push(p, &items, e));
      while (accept_op(p, ",")) {
        if (is_op(cur(p), ")")) break;
        TRY(parse_expr(p, &e));
        TRY(nvec_push(p, &items, e));
      }
      n->args = items.v;
      n->nargs = items.n;
      e = n;
    }
    if (!accept_op(p, ")")) return fail(p, "')'");
    *out = e;
    return SEER_OK;
  }
  if (is_op(t, "[")) {
    p->i++;
    NEW(n, JN_LIST);
    nvec items = {0};
    while (!accept_op(p, "]")) {
      if (items.n && !accept_op(p, ",")) return fail(p, "',' or ']'");
      if (accept_op(p, "]")) break;
      jnode *e;
      TRY(parse_expr(p, &e));
      TRY(nvec_push(p, &items, e));
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
      if (items.n && !accept_op(p, ",")) return fail(p, "',' or '}'");
      if (accept_op(p, "}")) break;
      jnode *k, *v;
      TRY(parse_expr(p, &k));
      if (!accept_op(p, ":")) return fail(p, "':'");
      TRY(parse_expr(p, &v));
      TRY(nvec_push(p, &items, k));
      TRY(nvec_push(p, &items, v));
    }
    n->args = items.v;
    n->nargs = items.n;
    *out = n;
    return SEER_OK;
  }
  return fail(p, "an expression");
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
        return fail(p, "an attribute name");
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
          if (++np > 2) return fail(p, "']'");
          continue;
        }
        if (is_op(cur(p), "]")) break;
        if (parts[np]) return fail(p, "':' or ']'");
        TRY(parse_expr(p, &parts[np]));
      }
      p->i++;
      NEW(n, slice ? JN_SLICE : JN_ITEM);
      n->a = *io;
      n->b = parts[0];
      n->c = parts[1];
      n->d = parts[2];
      if (!slice && !parts[0]) return fail(p, "a subscript");
      *io = n;
    } else if (is_op(cur(p), "(")) {
      NEW(n, JN_CALL);
      n->a = *io;
      TRY(parse_call_args(p, n));
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
      if (t->t != JT_NAME) return fail(p, "a filter name");
      if (!jis_filter(t->s, t->n)) return unsupported(p, t, "filter");
      NEW(n, JN_FILTER);
      n->a = *io;
      /* dotted filter names are not used by chat templates; take the first name */
      n->name = ja_strdup(p->a, t->s, t->n);
      n->name_len = t->n;
      p->i++;
      if (is_op(cur(p), "(")) TRY(parse_call_args(p, n));
      *io = n;
    } else if (is_name(cur(p), "is")) {
      p->i++;
      NEW(n, JN_TEST);
      n->negated = accept_name(p, "not");
      const jtok *t = cur(p);
      if (t->t != JT_NAME && !is_op(t, "==") && !is_op(t, "!=") && !is_op(t, "<") && !is_op(t, ">"))
        return fail(p, "a test name");
      if (!jis_test(t->s, t->n)) return unsupported(p, t, "test");
      n->a = *io;
      n->name = ja_strdup(p->a, t->s, t->n);
      n->name_len = t->n;
      p->i++;
      const jtok *c = cur(p);
      if (is_op(c, "(")) {
        TRY(parse_call_args(p, n));
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
      TRY(parse_call_args(p, n));
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
  if (p->depth >= JINJA_MAX_PARSE_NEST) return too_deep(p);
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
    if (!operands.n) TRY(nvec_push(p, &operands, first));
    TRY(nvec_push(p, &operands, r));
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
  if (p->depth >= JINJA_MAX_PARSE_NEST) return too_deep(p);
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

static int parse_condexpr(parser *p, bool allow_cond, jnode **out) {
  TRY(parse_or(p, out));
  while (allow_cond && accept_name(p, "if")) {
    NEW(n, JN_COND);
    n->a = *out;
    TRY(parse_or(p, &n->b));
    if (accept_name(p, "else")) {
      if (p->depth >= JINJA_MAX_PARSE_NEST) return too_deep(p);
      p->depth++;
      int rc = parse_condexpr(p, true, &n->c);
      p->depth--;
      TRY(rc);
    }
    *out = n;
  }
  return SEER_OK;
}

static int parse_expr(parser *p, jnode **out) { return parse_condexpr(p, true, out); }

/* ---- statements ---- */

static int parse_body(parser *p, const char *const *ends, nvec *body, const char **ended);

static int expect_block_end(parser *p) {
  if (cur(p)->t != JT_BLOCK_END) return fail(p, "'%}'");
  p->i++;
  return SEER_OK;
}

/* A body that only `end` closes (endfor, endset, endmacro, ...), through the closing tag's "%}". */
static int parse_closed_body(parser *p, const char *end, jnode ***body, size_t *nbody) {
  const char *const ends[] = {end, NULL};
  nvec v = {0};
  const char *ended;
  TRY(parse_body(p, ends, &v, &ended));
  *body = v.v;
  *nbody = v.n;
  return expect_block_end(p);
}

static int names_list(parser *p, jnode *n) {
  const char *names[8];
  size_t k = 0;
  do {
    if (cur(p)->t != JT_NAME || k == 8) return fail(p, "a variable name");
    names[k++] = ja_strdup(p->a, cur(p)->s, cur(p)->n);
    p->i++;
  } while (accept_op(p, ","));
  n->targets = ja_alloc(p->a, k * sizeof *n->targets);
  if (!n->targets) return SEER_ENOMEM;
  memcpy(n->targets, names, k * sizeof *names);
  n->ntargets = k;
  return SEER_OK;
}

static int parse_if(parser *p, jnode **out) {
  NEW(n, JN_IF);
  TRY(parse_expr(p, &n->a));
  TRY(expect_block_end(p));
  static const char *const ends[] = {"elif", "else", "endif", NULL};
  nvec body = {0};
  const char *ended;
  TRY(parse_body(p, ends, &body, &ended));
  n->body = body.v;
  n->nbody = body.n;
  if (!strcmp(ended, "elif")) {
    jnode *e;
    TRY(parse_if(p, &e));
    n->else_body = ja_alloc(p->a, sizeof *n->else_body);
    if (!n->else_body) return SEER_ENOMEM;
    n->else_body[0] = e;
    n->nelse = 1;
  } else if (!strcmp(ended, "else")) {
    TRY(expect_block_end(p));
    TRY(parse_closed_body(p, "endif", &n->else_body, &n->nelse));
  } else {
    TRY(expect_block_end(p));
  }
  *out = n;
  return SEER_OK;
}

static int parse_for(parser *p, jnode **out) {
  NEW(n, JN_FOR);
  TRY(names_list(p, n));
  if (!accept_name(p, "in")) return fail(p, "'in'");
  TRY(parse_condexpr(p, false, &n->a));
  if (accept_name(p, "if")) TRY(parse_expr(p, &n->filter));
  n->recursive = accept_name(p, "recursive");
  TRY(expect_block_end(p));
  static const char *const ends[] = {"else", "endfor", NULL};
  nvec body = {0};
  const char *ended;
  TRY(parse_body(p, ends, &body, &ended));
  n->body = body.v;
  n->nbody = body.n;
  TRY(expect_block_end(p));
  if (!strcmp(ended, "else")) TRY(parse_closed_body(p, "endfor", &n->else_body, &n->nelse));
  *out = n;
  return SEER_OK;
}

/* The statement's name token (a variable or macro name) into n->name. */
static int take_name(parser *p, jnode *n, const char *what) {
  const jtok *t = cur(p);
  if (t->t != JT_NAME) return fail(p, what);
  n->name = ja_strdup(p->a, t->s, t->n);
  n->name_len = t->n;
  p->i++;
  return SEER_OK;
}

static int parse_set(parser *p, jnode **out) {
  NEW(n, JN_SET);
  if (cur(p)->t == JT_NAME && is_op(peek(p, 1), ",")) {
    /* {% set a, b = pair %} */
    TRY(names_list(p, n));
    n->unpack = true;
    if (!accept_op(p, "=")) return fail(p, "'='");
    TRY(parse_expr(p, &n->a));
    TRY(expect_block_end(p));
    *out = n;
    return SEER_OK;
  }
  TRY(take_name(p, n, "a variable name"));
  if (accept_op(p, ".")) {
    const jtok *attr = cur(p);
    if (attr->t != JT_NAME) return fail(p, "an attribute name");
    n->targets = ja_alloc(p->a, sizeof *n->targets);
    if (!n->targets) return SEER_ENOMEM;
    n->targets[0] = ja_strdup(p->a, attr->s, attr->n);
    n->ntargets = 1;
    p->i++;
  }
  if (accept_op(p, "=")) {
    TRY(parse_expr(p, &n->a));
    TRY(expect_block_end(p));
    *out = n;
    return SEER_OK;
  }
  if (n->ntargets) return fail(p, "'='");
  /* {% set x %}...{% endset %} */
  n->k = JN_SET_BLOCK;
  TRY(expect_block_end(p));
  TRY(parse_closed_body(p, "endset", &n->body, &n->nbody));
  *out = n;
  return SEER_OK;
}

/* A parameter list "(a, b=default, ...)" into n->targets / n->defaults; cur is '('. */
static int parse_params(parser *p, jnode *n) {
  if (!accept_op(p, "(")) return fail(p, "'('");
  const char *names[32];
  jnode *defs[32];
  size_t k = 0;
  while (!accept_op(p, ")")) {
    if (k && !accept_op(p, ",")) return fail(p, "',' or ')'");
    if (cur(p)->t != JT_NAME || k == 32) return fail(p, "a parameter name");
    names[k] = ja_strdup(p->a, cur(p)->s, cur(p)->n);
    defs[k] = NULL;
    p->i++;
    if (accept_op(p, "=")) TRY(parse_expr(p, &defs[k]));
    k++;
  }
  n->targets = ja_alloc(p->a, (k + 1) * sizeof *n->targets);
  n->defaults = ja_alloc(p->a, (k + 1) * sizeof *n->defaults);
  if (!n->targets || !n->defaults) return SEER_ENOMEM;
  memcpy(n->targets, names, k * sizeof *names);
  memcpy(n->defaults, defs, k * sizeof *defs);
  n->ntargets = k;
  return SEER_OK;
}

static int parse_macro(parser *p, jnode **out) {
  NEW(n, JN_MACRO);
  TRY(take_name(p, n, "a macro name"));
  TRY(parse_params(p, n));
  TRY(expect_block_end(p));
  TRY(parse_closed_body(p, "endmacro", &n->body, &n->nbody));
  *out = n;
  return SEER_OK;
}

/* {% call [(params)] macro(args) %}body{% endcall %}: the body becomes caller(params). */
static int parse_call_block(parser *p, jnode **out) {
  NEW(n, JN_CALL_BLOCK);
  n->name = "caller";
  n->name_len = 6;
  if (is_op(cur(p), "(")) TRY(parse_params(p, n));
  TRY(parse_expr(p, &n->a));
  if (n->a->k != JN_CALL) return fail(p, "a macro call after {% call %}");
  TRY(expect_block_end(p));
  TRY(parse_closed_body(p, "endcall", &n->body, &n->nbody));
  *out = n;
  return SEER_OK;
}

/* {% with a = x, b = y %}...{% endwith %} */
static int parse_with(parser *p, jnode **out) {
  NEW(n, JN_WITH);
  const char *names[16];
  nvec vals = {0};
  size_t k = 0;
  while (cur(p)->t != JT_BLOCK_END) {
    if (k && !accept_op(p, ",")) return fail(p, "',' or '%}'");
    if (cur(p)->t != JT_NAME || k == 16) return fail(p, "a variable name");
    names[k++] = ja_strdup(p->a, cur(p)->s, cur(p)->n);
    p->i++;
    if (!accept_op(p, "=")) return fail(p, "'='");
    jnode *v;
    TRY(parse_expr(p, &v));
    TRY(nvec_push(p, &vals, v));
  }
  n->targets = ja_alloc(p->a, (k + 1) * sizeof *n->targets);
  if (!n->targets) return SEER_ENOMEM;
  memcpy(n->targets, names, k * sizeof *names);
  n->ntargets = k;
  n->args = vals.v;
  n->nargs = vals.n;
  TRY(expect_block_end(p));
  TRY(parse_closed_body(p, "endwith", &n->body, &n->nbody));
  *out = n;
  return SEER_OK;
}

static int parse_statement_at(parser *p, jnode **out) {
  const jtok *t = cur(p);
  if (t->t != JT_NAME) return fail(p, "a statement name");
  p->i++;
  if (is_name(t, "if")) return parse_if(p, out);
  if (is_name(t, "for")) return parse_for(p, out);
  if (is_name(t, "set")) return parse_set(p, out);
  if (is_name(t, "macro")) return parse_macro(p, out);
  if (is_name(t, "call")) return parse_call_block(p, out);
  if (is_name(t, "with")) return parse_with(p, out);
  if (is_name(t, "break") || is_name(t, "continue")) {
    NEW(n, is_name(t, "break") ? JN_BREAK : JN_CONTINUE);
    TRY(expect_block_end(p));
    *out = n;
    return SEER_OK;
  }
  if (is_name(t, "generation") || is_name(t, "filter")) {
    /* {% generation %} is transformers' assistant-mask marker: its body renders as is. */
    bool filter = is_name(t, "filter");
    NEW(n, filter ? JN_FILTER_BLOCK : JN_BLOCK);
    if (filter) {
      const jtok *f = cur(p);
      if (f->t != JT_NAME) return fail(p, "a filter name");
      if (!jis_filter(f->s, f->n)) return unsupported(p, f, "filter");
      n->name = ja_strdup(p->a, f->s, f->n);
      n->name_len = f->n;
      p->i++;
      if (is_op(cur(p), "(")) TRY(parse_call_args(p, n));
    }
    TRY(expect_block_end(p));
    TRY(parse_closed_body(p, filter ? "endfilter" : "endgeneration", &n->body, &n->nbody));
    *out = n;
    return SEER_OK;
  }
  return unsupported(p, t, "tag");
}

/* Parses statements until one of `ends` (left positioned after its name) or EOF when ends is
 * NULL. */
static int parse_statement(parser *p, jnode **out) {
  if (p->depth >= JINJA_MAX_PARSE_NEST) return too_deep(p);
  p->depth++;
  int rc = parse_statement_at(p, out);
  p->depth--;
  return rc;
}

static int parse_body(parser *p, const char *const *ends, nvec *body, const char **ended) {
  for (;;) {
    const jtok *t = cur(p);
    if (t->t == JT_EOF) {
      if (!ends) return SEER_OK;
      {
        size_t last = 0;
        while (ends[last + 1])
          last++;
        return seer_errorf(p->err, SEER_EFORMAT, "template line %d: missing {%% %s %%}", t->line,
                           ends[last]);
      }
    }
    jnode *n = NULL;
    if (t->t == JT_TEXT) {
      n = node(p, JN_TEXT);
      if (!n) return SEER_ENOMEM;
      n->lit = jv_str(t->s, t->n);
      p->i++;
    } else if (t->t == JT_VAR_BEGIN) {
      p->i++;
      n = node(p, JN_OUTPUT);
      if (!n) return SEER_ENOMEM;
      TRY(parse_expr(p, &n->a));
      if (cur(p)->t != JT_VAR_END) return fail(p, "'}}'");
      p->i++;
    } else if (t->t == JT_BLOCK_BEGIN) {
      const jtok *name = peek(p, 1);
      for (size_t k = 0; ends && ends[k]; k++)
        if (is_name(name, ends[k])) {
          p->i += 2;
          *ended = ends[k];
          return SEER_OK;
        }
      if (name->t == JT_NAME && ((name->n > 3 && !memcmp(name->s, "end", 3)) ||
                                 is_name(name, "elif") || is_name(name, "else")))
        return seer_errorf(p->err, SEER_EFORMAT, "template line %d: unexpected {%% %.*s %%}",
                           name->line, (int)name->n, name->s);
      p->i++;
      TRY(parse_statement(p, &n));
    } else {
      return fail(p, "template text or a tag");
    }
    TRY(nvec_push(p, body, n));
  }
}

int seer_jinja_parse(jarena *a, const jtoks *toks, jnode ***body, size_t *nbody, seer_error *err) {
  parser p = {a, toks, 0, err, 0};
  nvec b = {0};
  const char *ended;
  int rc = parse_body(&p, NULL, &b, &ended);
  if (rc == SEER_ENOMEM) return seer_errorf(err, rc, "out of memory parsing template");
  *body = b.v;
  *nbody = b.n;
  return rc;
}
