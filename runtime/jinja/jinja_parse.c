/* jinja_parse.c: owns parsing tokens into the AST's statements (if/for/set/macro/call/filter/
 * with/...) and the template body; expressions are parsed in jinja_parse_expr.c. */
#include "jinja_parser.h"

#include <stdio.h>
#include <string.h>

/* ---- statements ---- */

static int parse_body(parser *p, const char *const *ends, nvec *body, const char **ended);

static int expect_block_end(parser *p) {
  if (cur(p)->t != JT_BLOCK_END) return jp_fail(p, "'%}'");
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
    if (cur(p)->t != JT_NAME || k == 8) return jp_fail(p, "a variable name");
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
  TRY(jp_expr(p, &n->a));
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
  if (!accept_name(p, "in")) return jp_fail(p, "'in'");
  TRY(jp_condexpr(p, false, &n->a));
  if (accept_name(p, "if")) TRY(jp_expr(p, &n->filter));
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
  if (t->t != JT_NAME) return jp_fail(p, what);
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
    if (!accept_op(p, "=")) return jp_fail(p, "'='");
    TRY(jp_expr(p, &n->a));
    TRY(expect_block_end(p));
    *out = n;
    return SEER_OK;
  }
  TRY(take_name(p, n, "a variable name"));
  if (accept_op(p, ".")) {
    const jtok *attr = cur(p);
    if (attr->t != JT_NAME) return jp_fail(p, "an attribute name");
    n->targets = ja_alloc(p->a, sizeof *n->targets);
    if (!n->targets) return SEER_ENOMEM;
    n->targets[0] = ja_strdup(p->a, attr->s, attr->n);
    n->ntargets = 1;
    p->i++;
  }
  if (accept_op(p, "=")) {
    TRY(jp_expr(p, &n->a));
    TRY(expect_block_end(p));
    *out = n;
    return SEER_OK;
  }
  if (n->ntargets) return jp_fail(p, "'='");
  /* {% set x %}...{% endset %} */
  n->k = JN_SET_BLOCK;
  TRY(expect_block_end(p));
  TRY(parse_closed_body(p, "endset", &n->body, &n->nbody));
  *out = n;
  return SEER_OK;
}

/* A parameter list "(a, b=default, ...)" into n->targets / n->defaults; cur is '('. */
static int parse_params(parser *p, jnode *n) {
  if (!accept_op(p, "(")) return jp_fail(p, "'('");
  const char *names[32];
  jnode *defs[32];
  size_t k = 0;
  while (!accept_op(p, ")")) {
    if (k && !accept_op(p, ",")) return jp_fail(p, "',' or ')'");
    if (cur(p)->t != JT_NAME || k == 32) return jp_fail(p, "a parameter name");
    names[k] = ja_strdup(p->a, cur(p)->s, cur(p)->n);
    defs[k] = NULL;
    p->i++;
    if (accept_op(p, "=")) TRY(jp_expr(p, &defs[k]));
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
  TRY(jp_expr(p, &n->a));
  if (n->a->k != JN_CALL) return jp_fail(p, "a macro call after {% call %}");
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
    if (k && !accept_op(p, ",")) return jp_fail(p, "',' or '%}'");
    if (cur(p)->t != JT_NAME || k == 16) return jp_fail(p, "a variable name");
    names[k++] = ja_strdup(p->a, cur(p)->s, cur(p)->n);
    p->i++;
    if (!accept_op(p, "=")) return jp_fail(p, "'='");
    jnode *v;
    TRY(jp_expr(p, &v));
    TRY(jp_nvec_push(p, &vals, v));
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
  if (t->t != JT_NAME) return jp_fail(p, "a statement name");
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
      if (f->t != JT_NAME) return jp_fail(p, "a filter name");
      if (!jis_filter(f->s, f->n)) return jp_unsupported(p, f, "filter");
      n->name = ja_strdup(p->a, f->s, f->n);
      n->name_len = f->n;
      p->i++;
      if (is_op(cur(p), "(")) TRY(jp_call_args(p, n));
    }
    TRY(expect_block_end(p));
    TRY(parse_closed_body(p, filter ? "endfilter" : "endgeneration", &n->body, &n->nbody));
    *out = n;
    return SEER_OK;
  }
  return jp_unsupported(p, t, "tag");
}

/* Parses statements until one of `ends` (left positioned after its name) or EOF when ends is
 * NULL. */
static int parse_statement(parser *p, jnode **out) {
  if (p->depth >= JINJA_MAX_PARSE_NEST) return jp_too_deep(p);
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
      n = jp_node(p, JN_TEXT);
      if (!n) return SEER_ENOMEM;
      n->lit = jv_str(t->s, t->n);
      p->i++;
    } else if (t->t == JT_VAR_BEGIN) {
      p->i++;
      n = jp_node(p, JN_OUTPUT);
      if (!n) return SEER_ENOMEM;
      TRY(jp_expr(p, &n->a));
      if (cur(p)->t != JT_VAR_END) return jp_fail(p, "'}}'");
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
      return jp_fail(p, "template text or a tag");
    }
    TRY(jp_nvec_push(p, body, n));
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
