/* Internal types of the Jinja engine: arena, values, lexer tokens and AST nodes. */
#ifndef SEER_JINJA_INTERNAL_H
#define SEER_JINJA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "seer/buf.h"
#include "seer/error.h"
#include "seer/jinja.h"

/* ---- arena: everything a compile or a render allocates is freed at once ---- */

typedef struct ja_block ja_block;
/* Templates come with downloaded tokenizers, so one compile or render is bounded: the memory its
 * arena hands out and the text it writes (JINJA_MAX_BYTES each), the steps it evaluates, the work
 * those steps do (JINJA_MAX_WORK: one step can compare or search megabytes), and how deep it nests
 * while parsing and rendering. Past a bound it fails naming the bound. Fuzz builds set smaller
 * byte and work bounds (CMakeLists.txt). */
#ifndef JINJA_MAX_BYTES
#define JINJA_MAX_BYTES ((size_t)64 << 20)
#endif
#ifndef JINJA_MAX_WORK /* string bytes, list items and dict entries scanned, summed over a render  \
                        */
#define JINJA_MAX_WORK ((size_t)1 << 30)
#endif
#define JINJA_MAX_STEPS 1000000L
#define JINJA_MAX_PARSE_NEST 100
#define JINJA_MAX_RENDER_NEST 400

typedef struct jarena {
  ja_block *head;
  size_t bytes; /* handed out so far */
  size_t limit; /* 0, or the most it may hand out (JINJA_MAX_BYTES for a render) */
  bool over;    /* an allocation failed because of the limit */
} jarena;

void *ja_alloc(jarena *a, size_t n); /* zeroed; NULL when out of memory */
char *ja_strdup(jarena *a, const char *s, size_t n);
void ja_free(jarena *a);

/* ---- values ---- */

typedef enum {
  JV_UNDEF,
  JV_NONE,
  JV_BOOL,
  JV_INT,
  JV_FLOAT,
  JV_STR,
  JV_LIST,
  JV_DICT,
  JV_MACRO,   /* a {% macro %} */
  JV_BUILTIN, /* a global function: range, namespace, raise_exception, ... */
  JV_METHOD,  /* a method bound to a receiver: "abc".upper, d.items, loop.cycle */
  JV_CALLER,  /* the body of a {% call %} block, callable as caller() inside the macro */
} jv_type;

struct jlist;
struct jdict;
struct jnode;
struct jbound;
struct jclosure;

typedef struct jv {
  jv_type t;
  union {
    bool b;
    int64_t i;
    double f;
    struct {
      const char *p;
      size_t n;
    } s;
    struct jlist *l;
    struct jdict *d;
    const struct jnode *m;
    const char *bi; /* builtin name */
    struct jbound *bm;
    struct jclosure *cl;
  } u;
} jv;

typedef struct jlist {
  jv *v;
  size_t n, cap;
  bool tuple; /* a Python tuple (items() pairs, (a, b) literals): prints as (a, b) */
} jlist;

typedef struct jdict {
  jv *k, *v;
  size_t n, cap;
  bool ns; /* a namespace(): attributes may be assigned with {% set ns.x = ... %} */
  /* A loop object: its for node and the scope the loop runs in, so that loop(items) can render
   * the body again one level deeper in a recursive loop. */
  const struct jnode *loop;
  struct jscope *loop_scope;
  int64_t loop_depth;
  struct jv *loop_changed; /* loop.changed(): the last values it saw, shared by the iterations */
} jdict;

/* A {% call %} body with the scope it appears in (it sees that scope's variables). */
typedef struct jclosure {
  const struct jnode *node;
  struct jscope *scope;
} jclosure;

typedef struct jbound {
  jv self;
  const char *name;
} jbound;

static inline jv jv_undef(void) { return (jv){.t = JV_UNDEF}; }
static inline jv jv_none(void) { return (jv){.t = JV_NONE}; }
static inline jv jv_bool(bool b) { return (jv){.t = JV_BOOL, .u.b = b}; }
static inline jv jv_int(int64_t i) { return (jv){.t = JV_INT, .u.i = i}; }
static inline jv jv_float(double f) { return (jv){.t = JV_FLOAT, .u.f = f}; }
static inline jv jv_str(const char *p, size_t n) { return (jv){.t = JV_STR, .u.s = {p, n}}; }

jv jv_cstr(const char *s);
jv jv_new_list(jarena *a);
jv jv_new_dict(jarena *a);
int jv_list_push(jarena *a, jlist *l, jv v);
void jv_list_reverse(jlist *l); /* in place */
/* The entry named name[0..n) in a table of structs whose first member is `const char *name`,
 * ended by a NULL name (the filter, test, global and method tables), or NULL. */
const void *jtable_find(const void *table, size_t stride, const char *name, size_t n);
/* Inserts or replaces key k. */
int jv_dict_set(jarena *a, jdict *d, jv k, jv v);
bool jv_dict_get(const jdict *d, jv k, jv *out);
bool jv_dict_gets(const jdict *d, const char *k, jv *out);
bool jv_truthy(jv v);
bool jv_eq(jv a, jv b);
/* Three-way compare for <, sort, min/max; *ok = false when the types do not order. */
int jv_cmp(jv a, jv b, bool *ok);
/* An upper bound on the work of scanning v to depth levels (JV_DEEP: as far as jv_eq and jv_cmp
 * go): string bytes, list items, dict entries squared (lookups are linear). Counted no further
 * than past cap, so the count costs at most cap. */
#define JV_DEEP 256
size_t jv_cost(jv v, size_t cap, int depth);
const char *jv_type_name(jv v);
/* str(v) as Python prints it (None, True, 1.5, ['a'], {'k': 1}). */
int jv_to_str(jv v, seer_buf *out);
/* json.dumps options, as transformers' tojson filter passes them through. */
typedef struct jjson_opts {
  bool pretty;       /* indent given: newlines, then `indent` repeated per level */
  jv indent;         /* the indent unit (a string) */
  jv item_sep;       /* separators[0]; default ", " (",": pretty) */
  jv key_sep;        /* separators[1]; default ": " */
  bool sort_keys;    /* keys sorted instead of in insertion order */
  bool ensure_ascii; /* non-ASCII as \uXXXX escapes (surrogate pairs past U+FFFF) */
} jjson_opts;
/* Fills the defaults json.dumps uses for indent (JV_NONE, an int or a string); separators may be
 * JV_NONE or a two-item list. Returns false when they have the wrong type. */
bool jv_json_opts(jjson_opts *o, jv indent, jv separators, bool sort_keys, bool ensure_ascii);
/* json.dumps(v, **o). SEER_EINVAL for values JSON cannot hold (macros, functions). */
int jv_to_json(jv v, const jjson_opts *o, seer_buf *out);
jv jv_from_json(jarena *a, const json_t *j);
/* Arena-owned copy of a buffer's contents as a string value. */
jv jv_str_from_buf(jarena *a, const seer_buf *b);

/* ---- lexer ---- */

typedef enum {
  JT_TEXT,      /* template text between tags */
  JT_VAR_BEGIN, /* {{ */
  JT_VAR_END,   /* }} */
  JT_BLOCK_BEGIN,
  JT_BLOCK_END,
  JT_NAME,
  JT_STRING, /* value already unescaped */
  JT_INT,
  JT_FLOAT,
  JT_OP, /* operator or punctuation; text in s */
  JT_EOF,
} jtok_type;

typedef struct jtok {
  jtok_type t;
  const char *s;
  size_t n;
  int64_t i;
  double f;
  int line;
} jtok;

typedef struct jtoks {
  jtok *v;
  size_t n, cap;
} jtoks;

int seer_jinja_lex(jarena *a, const char *src, size_t len, const seer_jinja_options *opts,
                   jtoks *out, seer_error *err);

/* ---- AST ---- */

typedef enum {
  /* statements */
  JN_TEXT,
  JN_OUTPUT,
  JN_IF,
  JN_FOR,
  JN_SET,       /* {% set target = expr %} or {% set ns.attr = expr %} */
  JN_SET_BLOCK, /* {% set x %}...{% endset %} */
  JN_MACRO,
  JN_BREAK,
  JN_CONTINUE,
  JN_BLOCK, /* a body rendered in place ({% generation %}, {% filter %} without filter) */
  JN_FILTER_BLOCK,
  JN_CALL_BLOCK, /* {% call(params) macro(args) %}body{% endcall %} */
  JN_WITH,       /* {% with a = x, b = y %}body{% endwith %}: targets, args */
  /* expressions */
  JN_LIT,
  JN_NAME,
  JN_LIST,
  JN_TUPLE,
  JN_DICT,
  JN_ATTR,  /* a.name */
  JN_ITEM,  /* a[b] */
  JN_SLICE, /* a[b:c:d]; missing parts NULL */
  JN_CALL,
  JN_FILTER,
  JN_TEST,
  JN_UNARY,
  JN_BINARY,
  JN_AND,
  JN_OR,
  JN_NOT,
  JN_COND, /* a if b else c */
  JN_COMPARE,
} jnode_kind;

typedef struct jnode {
  jnode_kind k;
  int line;
  int op;           /* operator token (first char, or a code for two-char operators) */
  bool negated;     /* is not / not in */
  jv lit;           /* JN_LIT, JN_TEXT */
  const char *name; /* JN_NAME, JN_ATTR, JN_FILTER, JN_TEST, JN_MACRO, JN_SET target */
  size_t name_len;
  struct jnode *a, *b, *c, *d;
  struct jnode **args; /* call/filter/test args, list items, dict k,v pairs, compare operands */
  size_t nargs;
  const char **kwnames;
  struct jnode **kwargs;
  size_t nkw;
  struct jnode **body, **else_body; /* statements */
  size_t nbody, nelse;
  const char **targets; /* for loop variables, macro parameters */
  size_t ntargets;
  struct jnode **defaults;             /* macro parameter defaults, NULL entries when none */
  int *ops;                            /* JN_COMPARE operators */
  struct jnode *filter;                /* for ... if filter */
  bool recursive;                      /* for ... recursive */
  bool unpack;                         /* {% set a, b = ... %}: targets are the names */
  struct jnode *dyn_args, *dyn_kwargs; /* f(*args, **kwargs) */
} jnode;

struct seer_jinja_template {
  jarena arena;
  jnode **body;
  size_t nbody;
};

int seer_jinja_parse(jarena *a, const jtoks *toks, jnode ***body, size_t *nbody, seer_error *err);

/* Two-character operator codes stored in jnode.op. */
enum { JOP_EQ = 256, JOP_NE, JOP_LE, JOP_GE, JOP_FLOORDIV, JOP_POW, JOP_IN, JOP_NOTIN };

/* ---- evaluation ---- */

typedef struct jscope {
  jdict vars;
  struct jscope *parent;
} jscope;

typedef struct jctx {
  jarena *a; /* render arena */
  seer_error *err;
  jscope *globals;
  int depth;
  jv pending_caller; /* set by {% call %} for the macro call it makes; the macro takes it */
  int nest;          /* jeval and jrender_body frames on the stack */
  long steps;        /* expressions and statements evaluated */
  size_t work;       /* charged against JINJA_MAX_WORK (jwork) */
} jctx;

/* Charges units of work (bytes, items) to the render; fails past JINJA_MAX_WORK. */
int jwork(jctx *c, size_t units, int line);
/* Charges what scanning v to depth levels may cost (jv_cost), counted no further than the bound:
 * JV_DEEP for comparisons, which recurse; 1 for a builtin's arguments, which it walks once. */
int jwork_on(jctx *c, jv v, int depth, int line);
/* The same for an operation that scans v `times` times (a sort's passes, a quadratic unique). */
int jwork_times(jctx *c, size_t times, jv v, int depth, int line);

int jeval(jctx *c, jscope *s, const jnode *n, jv *out);
int jrender_body(jctx *c, jscope *s, jnode *const *body, size_t n, seer_buf *out);
int jcall_value(jctx *c, jscope *s, jv fn, jv *args, size_t nargs, const char **kwn, jv *kwv,
                size_t nkw, int line, jv *out);

/* operators (jinja_ops.c) */
int jop_binary(jctx *c, int op, jv a, jv b, int line, jv *out); /* + - * / // % ** ~ */
bool jop_contains(jv hay, jv needle);                           /* needle in hay */
int jop_slice(jctx *c, jv v, jv *parts, int line, jv *out);     /* v[a:b:c], parts NONE if absent */
int jop_item(jctx *c, jv v, jv key, int line, jv *out);         /* v[key], undefined if missing */

/* builtins (jinja_builtins.c: globals, tests; jinja_filters.c; jinja_methods.c: attributes) */
int jfilter(jctx *c, const char *name, jv self, jv *args, size_t nargs, const char **kwn, jv *kwv,
            size_t nkw, int line, jv *out);
int jtest(jctx *c, const char *name, jv v, jv *args, size_t nargs, int line, bool *out);
/* Attribute lookup: dict methods first for dicts, then items; string and list methods. */
bool jgetattr(jctx *c, jv obj, const char *name, size_t n, jv *out);
int jcall_method(jctx *c, const jbound *m, jv *args, size_t nargs, const char **kwn, jv *kwv,
                 size_t nkw, int line, jv *out);
int jcall_builtin(jctx *c, const char *name, jv *args, size_t nargs, const char **kwn, jv *kwv,
                  size_t nkw, int line, jv *out);
bool jis_builtin(const char *name, size_t n, const char **canonical);
/* Whether a filter / test of that name exists, so that templates using others fail to load. */
bool jis_filter(const char *name, size_t n);
bool jis_test(const char *name, size_t n);

/* String helpers shared by jinja_builtins.c and jinja_filters.c. */
enum { JB_UPPER, JB_LOWER, JB_TITLE, JB_CAPITALIZE };
jv jb_kwarg(const char **kwn, jv *kwv, size_t nkw, const char *name, jv *args, size_t nargs,
            size_t pos, jv dflt);
jv jb_mkstr(jctx *c, seer_buf *b);      /* arena string from b, which it frees */
int jb_to_text(jctx *c, jv v, jv *out); /* str(v) */
jv jb_strip(jv s, jv chars, bool left, bool right);
bool jb_py_space(int32_t cp); /* Python's str.isspace for one code point */
bool jb_starts_with(jv s, jv prefix);
bool jb_ends_with(jv s, jv suffix);
const char *jb_find_sub(jv s, jv sub, size_t from); /* first occurrence at or after byte `from` */
int jb_change_case(jctx *c, jv s, int mode, jv *out);
int jb_split(jctx *c, jv s, jv sep, int64_t maxsplit, jv *out);
int jb_replace(jctx *c, jv s, jv old, jv new_, int64_t count, jv *out);
int jb_join(jctx *c, jv seq, jv sep, jv attr, jv *out);
/* Python's "fmt" % args (args: a tuple/list of values, or one value). */
int jb_percent_format(jctx *c, jv fmt, jv args, int line, jv *out);
int jb_buf_oom(jctx *c, seer_buf *b); /* frees b, then reports out of memory */

/* A runtime error at `line`; raise_exception messages bypass this to stay verbatim
 * (jinja_error.c). */
int jerr(jctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Out of memory; names JINJA_MAX_BYTES when that bound is what failed. */
int joom(jctx *c);

#endif
