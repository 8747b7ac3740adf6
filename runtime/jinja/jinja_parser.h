/* jinja_parser.h: the parser state and token helpers shared by expression parsing
 * (jinja_parse_expr.c) and statement parsing (jinja_parse.c). Internal to the Jinja engine. */
#ifndef SEER_JINJA_PARSER_H
#define SEER_JINJA_PARSER_H

#include "jinja_internal.h"

#include <string.h>

typedef struct parser {
  jarena *a;
  const jtoks *t;
  size_t i;
  seer_error *err;
  int depth; /* expression and statement nesting, bounded: the parser recurses on it */
} parser;

static inline const jtok *cur(parser *p) { return &p->t->v[p->i]; }
static inline const jtok *peek(parser *p, size_t k) {
  size_t j = p->i + k < p->t->n ? p->i + k : p->t->n - 1;
  return &p->t->v[j];
}
static inline bool is_op(const jtok *t, const char *op) {
  return t->t == JT_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n);
}
static inline bool is_name(const jtok *t, const char *name) {
  return t->t == JT_NAME && t->n == strlen(name) && !memcmp(t->s, name, t->n);
}
static inline bool accept_op(parser *p, const char *op) {
  if (!is_op(cur(p), op)) return false;
  p->i++;
  return true;
}
static inline bool accept_name(parser *p, const char *name) {
  if (!is_name(cur(p), name)) return false;
  p->i++;
  return true;
}

/* "template line N: expected <what>, got <the current token>" */
int jp_fail(parser *p, const char *what);
/* A construct this engine does not implement: a load error naming it, never a silent mis-render. */
int jp_unsupported(parser *p, const jtok *t, const char *what);
/* Nesting past JINJA_MAX_PARSE_NEST (the recursive entry points check p->depth against it). */
int jp_too_deep(parser *p);
jnode *jp_node(parser *p, jnode_kind k);

/* A growable array of node pointers in the arena. */
typedef struct nvec {
  jnode **v;
  size_t n, cap;
} nvec;
int jp_nvec_push(parser *p, nvec *v, jnode *x);

/* An expression; allow_cond = false stops before `if` (for loops: `for x in xs if cond`). */
int jp_expr(parser *p, jnode **out);
int jp_condexpr(parser *p, bool allow_cond, jnode **out);
/* "(args, name=value, *list, **dict)" into n; cur is '('. */
int jp_call_args(parser *p, jnode *n);

#define TRY(x)                                                                                     \
  do {                                                                                             \
    int rc_ = (x);                                                                                 \
    if (rc_) return rc_;                                                                           \
  } while (0)
#define NEW(var, kind)                                                                             \
  jnode *var = jp_node(p, kind);                                                                   \
  if (!var) return seer_errorf(p->err, SEER_ENOMEM, "out of memory")

#endif
