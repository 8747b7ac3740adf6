/* Chat templates: exact text and ids for every fixture conversation of the four tokenizers, the
 * clear error for a tokenizer without a template, and the Jinja features chat templates use. */
#include "check.h"
#include "seer/jinja.h"
#include "seer/tokenizer.h"
#include "test_tokenizer_util.h"

static void chat_cases(const char *name) {
  const char *dir = tt_tokenizer_dir(name);
  json_t *fx = tt_fixture(name);
  CHECK_MSG(dir && fx, "%s: files unavailable", name);
  if (!dir || !fx) return;
  seer_error err = {0};
  seer_tokenizer *tok = NULL;
  int rc = seer_tokenizer_load(dir, &tok, &err);
  CHECK_MSG(rc == 0, "%s: load: %s", name, err.msg);
  size_t i, ok = 0;
  json_t *c;
  json_array_foreach(json_object_get(fx, "chat"), i, c) {
    seer_chat_options o = {json_is_true(json_object_get(c, "add_generation_prompt")), NULL,
                           json_object_get(c, "kwargs"), NULL};
    seer_buf text = SEER_BUF_INIT;
    rc = seer_tokenizer_apply_chat_template(tok, json_object_get(c, "messages"), &o, &text, &err);
    json_t *want_err = json_object_get(c, "error");
    if (want_err) {
      /* transformers: "Cannot use chat template functions because tokenizer.chat_template is
       * not set ..."; ours must fail as clearly. */
      CHECK_MSG(rc == SEER_ENOTSUP, "%s chat %zu: expected an error, rc=%d", name, i, rc);
      CHECK_STR_CONTAINS(err.msg, "chat_template");
      ok += rc == SEER_ENOTSUP;
      seer_buf_free(&text);
      continue;
    }
    const char *want = json_string_value(json_object_get(c, "text"));
    int same = rc == 0 && text.len == strlen(want) && !memcmp(text.data, want, text.len);
    CHECK_MSG(same, "%s chat %zu text", name, i);
    if (!same)
      fprintf(stderr, "  rc=%d %s\n  got  [%.*s]\n  want [%s]\n", rc, err.msg, (int)text.len,
              text.data ? text.data : "", want);
    int32_t *ids = NULL;
    size_t n = 0;
    rc = seer_tokenizer_encode(tok, text.data ? text.data : "", text.len, 0, &ids, &n, &err);
    int same_ids = rc == 0 && tt_ids_equal(ids, n, json_object_get(c, "ids"));
    CHECK_MSG(same_ids, "%s chat %zu ids", name, i);
    if (!same_ids) tt_print_ids("chat", ids, n, json_object_get(c, "ids"));
    ok += same && same_ids;
    free(ids);
    seer_buf_free(&text);
  }
  printf("%s: %zu/%zu chat cases match\n", name, ok, json_array_size(json_object_get(fx, "chat")));
  seer_tokenizer_free(tok);
  json_decref(fx);
}

/* Renders src with trim_blocks/lstrip_blocks as transformers sets them; vars is JSON text. */
static char *render(const char *src, const char *vars_json, int *rc_out, seer_error *err) {
  seer_jinja_options o = {1, 1};
  seer_jinja_template *t = NULL;
  json_t *vars = json_loads(vars_json ? vars_json : "{}", 0, NULL);
  seer_buf out = SEER_BUF_INIT;
  int rc = seer_jinja_compile(src, strlen(src), &o, &t, err);
  if (!rc) rc = seer_jinja_render(t, vars, &out, err);
  seer_jinja_free(t);
  json_decref(vars);
  *rc_out = rc;
  if (rc) {
    seer_buf_free(&out);
    return NULL;
  }
  seer_buf_terminate(&out);
  return out.data;
}

#define RENDERS(src, vars, want)                                                                   \
  do {                                                                                             \
    seer_error e_ = {0};                                                                           \
    int rc_;                                                                                       \
    char *got_ = render(src, vars, &rc_, &e_);                                                     \
    CHECK_MSG(rc_ == 0 && got_ && !strcmp(got_, want), "%s\n  got  [%s] (%s)\n  want [%s]", src,   \
              got_ ? got_ : "(null)", e_.msg, want);                                               \
    free(got_);                                                                                    \
  } while (0)

static void features(void) {
  RENDERS("a {{ x }} b", "{\"x\": 1}", "a 1 b");
  RENDERS("{{ 'x' ~ 1 ~ none ~ true }}", NULL, "x1NoneTrue");
  RENDERS("{% if a %}A{% elif b %}B{% else %}C{% endif %}", "{\"b\": 1}", "B");
  RENDERS("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
          "{\"xs\": [\"a\", \"b\"]}", "1a,2b");
  RENDERS("{% for x in xs if x > 1 %}{{ loop.index0 }}:{{ x }}/{{ loop.length }} {% else %}none{% "
          "endfor %}",
          "{\"xs\": [1, 2, 3]}", "0:2/2 1:3/2 ");
  RENDERS("{% for x in [] %}x{% else %}empty{% endfor %}", NULL, "empty");
  RENDERS("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
          "{\"d\": {\"a\": 1, \"b\": [1]}}", "a=1;b=[1];");
  RENDERS("{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}", "{\"d\": {\"z\": 1, \"a\": 2}}",
          "z=1;a=2;");
  RENDERS("{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor "
          "%}{{ ns.n }}",
          NULL, "3");
  RENDERS("{% set x = 1 %}{% for i in range(2) %}{% set x = 5 %}{% endfor %}{{ x }}", NULL, "1");
  RENDERS("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break "
          "%}{% endif %}{{ i }}{% endfor %}",
          NULL, "02");
  RENDERS("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') "
          "}} {{ greet('b', punct='?') }}",
          NULL, "Hi a! Hi b?");
  RENDERS("{{ '  x  '|trim }}|{{ 'Hello'|upper }}|{{ 'Hello'|lower }}|{{ [1,2,3]|length }}|{{ "
          "'héllo'|length }}",
          NULL, "x|HELLO|hello|3|5");
  RENDERS("{{ ['a','b']|join(', ') }}|{{ x|default('d') }}|{{ ''|default('e', true) }}", NULL,
          "a, b|d|e");
  RENDERS("{{ {'a': [1, 'x', none, true, 1.5]}|tojson }}", NULL,
          "{\"a\": [1, \"x\", null, true, 1.5]}");
  RENDERS("{{ {'b': 1, 'a': {'c': 'é\"'}}|tojson(indent=2) }}", NULL,
          "{\n  \"b\": 1,\n  \"a\": {\n    \"c\": \"é\\\"\"\n  }\n}");
  RENDERS("{{ ' a b '.strip() }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|"
          "{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'xxaxx'.lstrip('x') }}|{{ "
          "'abc'.upper() }}",
          NULL, "a b|True|True|['a', 'b', '', 'c']|['a', 'b']|axx|ABC");
  RENDERS("{{ 'a</think>b'.split('</think>')[-1] }}|{{ 'hello'[1:3] }}|{{ [1,2,3][::-1] }}|{{ "
          "'ab'[-1] }}",
          NULL, "b|el|[3, 2, 1]|b");
  RENDERS("{{ x is defined }}{{ x is none }}{{ y is none }}{{ 's' is string }}{{ 1 is number }}"
          "{{ [1] is iterable }}{{ {} is mapping }}{{ 3 is odd }}{{ y is not none }}",
          "{\"y\": null}", "FalseFalseTrueTrueTrueTrueTrueTrueFalse");
  RENDERS("{{ 'b' in 'abc' }}{{ 2 in [1,2] }}{{ 'k' in {'k': 1} }}{{ 3 not in [1] }}", NULL,
          "TrueTrueTrueTrue");
  RENDERS("{{ 7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 ** 3 }} {{ -7 // 2 }} {{ 1 + 2 * 3 }}", NULL,
          "3 1 3.5 8 -4 7");
  RENDERS("{{ 'yes' if x else 'no' }}|{{ 'a' if true }}|{{ x or 'fallback' }}|{{ 1 and 2 }}", NULL,
          "no|a|fallback|2");
  RENDERS("{{ m.content }}|{{ m['role'] }}|{{ m.missing is defined }}|{{ m.get('role') }}|{{ "
          "m.get('x', 1) }}",
          "{\"m\": {\"role\": \"user\", \"content\": \"hi\"}}", "hi|user|False|user|1");
  RENDERS("{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='c')|join(',') }}",
          "{\"msgs\": [{\"role\": \"user\", \"c\": 1}, {\"role\": \"a\", \"c\": 2}, {\"role\": "
          "\"user\", \"c\": 3}]}",
          "1,3");
  RENDERS("{{ [3,1,2]|sort|list }}|{{ [1,1,2]|unique|list }}|{{ [1,2]|first }}{{ [1,2]|last }}|{{ "
          "'ab'|reverse }}",
          NULL, "[1, 2, 3]|[1, 2]|12|ba");
  RENDERS("{{ \"it's\" }}|{{ 'a\\nb' }}|{{ 'tab\\tx' }}|{{ [\"it's\"] }}", NULL,
          "it's|a\nb|tab\tx|[\"it's\"]");
  RENDERS("{% set s %}block {{ 1 }}{% endset %}[{{ s }}]", NULL, "[block 1]");
  RENDERS("{# comment #}x{#- trimmed -#}  y", NULL, "xy");
  RENDERS("{% raw %}{{ not rendered }}{% endraw %}", NULL, "{{ not rendered }}");
  RENDERS("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 10 / 4 }}", NULL,
          "1.0 0.30000000000000004 1e+20 2.5");
  /* whitespace control and trim_blocks / lstrip_blocks */
  RENDERS("<{{- ' a ' -}}>", NULL, "< a >");
  RENDERS("a  {{- 'b' }}  \n  {{- 'c' -}}  \n d", NULL, "abcd");
  RENDERS("{% if true %}\nline\n{% endif %}\nend", NULL, "line\nend");
  RENDERS("x\n    {% if true %}\n    y\n    {% endif %}\nz", NULL, "x\n    y\nz");
  RENDERS("{%- if true -%}\n  a  \n{%- endif -%}\n", NULL, "a");
  RENDERS("  {%+ if true %}k{% endif %}", NULL, "  k");
  /* raise_exception surfaces its message verbatim */
  seer_error e = {0};
  int rc;
  char *r = render("{{ raise_exception('Conversation roles must alternate') }}", NULL, &rc, &e);
  CHECK(r == NULL && rc == SEER_EINVAL);
  CHECK(!strcmp(e.msg, "Conversation roles must alternate"));
  r = render("{% if %}", NULL, &rc, &e);
  CHECK(r == NULL && rc == SEER_EFORMAT);
  CHECK_STR_CONTAINS(e.msg, "line 1");
  r = render("{% for x in y %}", NULL, &rc, &e);
  CHECK(r == NULL && rc != 0);
  CHECK_STR_CONTAINS(e.msg, "endfor");
  r = render("{{ x.y }}", NULL, &rc, &e);
  CHECK(r == NULL && rc == SEER_EINVAL);
  /* constructs the engine lacks fail at load, naming them */
  r = render("{{ x | nosuchfilter }}", NULL, &rc, &e);
  CHECK(r == NULL && rc == SEER_ENOTSUP);
  CHECK_STR_CONTAINS(e.msg, "unsupported filter 'nosuchfilter'");
  r = render("\n{% if x is nosuchtest %}{% endif %}", NULL, &rc, &e);
  CHECK(r == NULL && rc == SEER_ENOTSUP);
  CHECK_STR_CONTAINS(e.msg, "line 2: unsupported test 'nosuchtest'");
  r = render("{{ 1 ; 2 }}", NULL, &rc, &e);
  CHECK(r == NULL && rc == SEER_EFORMAT);
  CHECK_STR_CONTAINS(e.msg, "unexpected character ';' (0x3b)");
  r = render("{{ '%5y' % 1 }}", NULL, &rc, &e);
  CHECK(r == NULL && rc != 0);
  CHECK_STR_CONTAINS(e.msg, "unsupported format character 'y' (0x79)");
  r = render("{% include 'x' %}", NULL, &rc, &e);
  CHECK(r == NULL && rc == SEER_ENOTSUP);
  CHECK_STR_CONTAINS(e.msg, "unsupported tag 'include'");
  /* recursive loops, call blocks, tuples */
  RENDERS("{% for n in [1, [2, [3]]] recursive %}{% if n is iterable %}{{ loop(n) }}{% else %}"
          "{{ n }}@{{ loop.depth }}{% endif %}{% endfor %}",
          NULL, "1@12@23@3");
  RENDERS("{% macro m(x) %}<{{ x }}:{{ caller(x * 2) }}>{% endmacro %}"
          "{% call(v) m(2) %}{{ v }}{% endcall %}",
          NULL, "<2:4>");
  RENDERS("{{ {'b': 1, 'a': 2}.items()|list }}{{ (1,) }}", NULL, "[('b', 1), ('a', 2)](1,)");
  /* sources read as jinja2 reads them: newlines normalised, one trailing newline dropped */
  RENDERS("a\r\nb\rc\n\n", NULL, "a\nb\nc\n");
  RENDERS("{% if true %}x{% endif %}\n", NULL, "x");
}

/* pre + open * n + mid + close * n + post, NUL-terminated (caller frees). */
static char *repeat(const char *pre, const char *open, size_t n, const char *mid, const char *close,
                    const char *post) {
  seer_buf b = SEER_BUF_INIT;
  seer_buf_appends(&b, pre);
  for (size_t i = 0; i < n; i++)
    seer_buf_appends(&b, open);
  seer_buf_appends(&b, mid);
  for (size_t i = 0; i < n; i++)
    seer_buf_appends(&b, close);
  seer_buf_appends(&b, post);
  seer_buf_terminate(&b);
  return b.data;
}

/* Long operator chains parse in a loop but evaluate recursively; values a template builds can
 * contain themselves. Both end cleanly instead of overflowing the stack. */
static void self_containing_values(void) {
  struct {
    const char *pre, *open, *post;
  } chains[] = {{"{{ 1", " + 1", " }}"}, {"{{ x", ".a", " }}"}, {"{{ x", "|first", " }}"}};
  for (size_t k = 0; k < sizeof chains / sizeof *chains; k++) {
    char *src = repeat(chains[k].pre, chains[k].open, 50000, "", "", chains[k].post);
    seer_error e = {0};
    int rc;
    char *r = render(src, "{\"x\": {}}", &rc, &e);
    CHECK_MSG(r == NULL && rc != 0, "chain %zu rendered", k);
    CHECK_STR_CONTAINS(e.msg, "levels deep");
    free(r);
    free(src);
  }
  RENDERS("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }}|{{ ns == ns }}", NULL,
          "{'a': 1, 'me': {...}}|True");
  seer_error e = {0};
  int rc;
  char *r =
      render("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns|tojson }}", NULL, &rc, &e);
  CHECK(r == NULL && rc != 0);
  CHECK_STR_CONTAINS(e.msg, "contain itself");
  r = render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", NULL, &rc, &e);
  CHECK(r == NULL && rc != 0);
}

/* Gemma's template raises on roles that do not alternate; the message must reach the caller. */
static void gemma_raise(void) {
  const char *dir = tt_tokenizer_dir("gemma3");
  if (!dir) return;
  seer_error err = {0};
  seer_tokenizer *tok = NULL;
  if (seer_tokenizer_load(dir, &tok, &err)) return;
  json_t *msgs = json_loads(
      "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]", 0, NULL);
  seer_buf out = SEER_BUF_INIT;
  seer_chat_options o = {1, NULL, NULL, NULL};
  int rc = seer_tokenizer_apply_chat_template(tok, msgs, &o, &out, &err);
  CHECK(rc == SEER_EINVAL);
  CHECK_STR_CONTAINS(err.msg, "Conversation roles must alternate user/assistant/user/assistant");
  seer_buf_free(&out);
  json_decref(msgs);
  seer_tokenizer_free(tok);
}

/* Renders src and checks that it fails with code and a message containing needle. */
static void fails_with(const char *src, int code, const char *needle) {
  seer_error e = {0};
  int rc;
  char *r = render(src, NULL, &rc, &e);
  CHECK_MSG(r == NULL && rc == code, "%.60s...: rc=%d, expected %d", src, rc, code);
  CHECK_STR_CONTAINS(e.msg, needle);
  free(r);
}

/* "x" + open * n + "1" + close * n + "y" */
static char *nested(const char *x, const char *open, const char *close, const char *y, int n) {
  size_t lo = strlen(open), lc = strlen(close);
  char *s = malloc(strlen(x) + (lo + lc) * (size_t)n + strlen(y) + 2), *p = s;
  p += sprintf(p, "%s", x);
  for (int i = 0; i < n; i++)
    p += sprintf(p, "%s", open);
  p += sprintf(p, "1");
  for (int i = 0; i < n; i++)
    p += sprintf(p, "%s", close);
  sprintf(p, "%s", y);
  return s;
}

/* Hostile templates (they come with downloaded tokenizers): nesting that overflowed the stack,
 * loops and strings that ran for minutes or took gigabytes, 64-bit overflow (and a SIGFPE). */
static void hostile(void) {
  const struct {
    const char *x, *open, *close, *y;
  } deep[] = {{"{{ ", "(", ")", " }}"},
              {"{{ ", "[", "]", " }}"},
              {"{{ ", "-", "", " }}"},
              {"{{ ", "not ", "", " }}"},
              {"{{ ", "1 if 0 else ", "", " }}"},
              {"", "{% if 1 %}", "{% endif %}", ""}};
  for (size_t i = 0; i < sizeof deep / sizeof *deep; i++) {
    char *s = nested(deep[i].x, deep[i].open, deep[i].close, deep[i].y, 100000);
    fails_with(s, SEER_EFORMAT, "nested more than 100 levels deep");
    free(s);
    /* Ordinary depths still work. */
    s = nested(deep[i].x, deep[i].open, deep[i].close, deep[i].y, 40);
    int rc;
    seer_error e = {0};
    char *r = render(s, NULL, &rc, &e);
    CHECK_MSG(rc == 0, "depth 40 of %s: %s", deep[i].open, e.msg);
    free(r);
    free(s);
  }
  fails_with("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", SEER_EINVAL,
             "rendering nests more than 400 levels deep");
  fails_with("{% for i in range(1000000000) %}{% endfor %}", SEER_EINVAL,
             "range() of 1000000000 items is more than the 1000000 steps a render may take");
  fails_with("{% for i in range(9223372036854775807) %}{% endfor %}", SEER_EINVAL,
             "range() of 9223372036854775807 items");
  /* Each iteration keeps its loop variables until the render ends: 256k of them pass 64 MiB. */
  fails_with("{% for a in range(2000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
             SEER_ENOMEM, "needs more than 64 MiB");
  RENDERS(
      "{{ range(9223372036854775805, 9223372036854775807) | list }} {{ range(5, -5, -4) | list }}",
      NULL, "[9223372036854775805, 9223372036854775806] [5, 1, -3]");
  fails_with("{{ 'x' * 2000000000 }}", SEER_ENOMEM, "needs more than 64 MiB");
  fails_with("{% set s = 'x' * 10000000 %}{% for i in range(100) %}{{ s }}{% endfor %}",
             SEER_EINVAL, "output exceeds 64 MiB");
  fails_with("{{ 9223372036854775807 + 1 }}", SEER_EINVAL, "integer overflow");
  fails_with("{{ 4294967296 * 4294967296 }}", SEER_EINVAL, "integer overflow");
  fails_with("{{ (-9223372036854775807 - 1) // -1 }}", SEER_EINVAL, "integer overflow");
  fails_with("{{ (-9223372036854775807 - 1) % -1 }}", SEER_EINVAL, "integer overflow");
  fails_with("{{ 2 ** 9223372036854775807 }}", SEER_EINVAL, "integer overflow");
  fails_with("{{ 92233720368 ** 2 }}", SEER_EINVAL, "integer overflow");
  fails_with("{{ -(-9223372036854775807 - 1) }}", SEER_EINVAL, "integer overflow");
  /* an escape past U+10FFFF stays as written, even one whose value overflows an int */
  RENDERS("{{ '\\U00110000' }} {{ '\\UFFFFFFFF' }}", NULL, "\\U00110000 \\UFFFFFFFF");
  fails_with("{{ -+(-9223372036854775807 - 1) % -1 }}", SEER_EINVAL, "integer overflow");
  RENDERS("{{ -(-9223372036854775807) }}", NULL, "9223372036854775807");
  /* One step can compare or search megabytes, so a render's work is bounded too (1 GiB), and the
   * searches are linear: a byte-by-byte search for 'aaa…ab' in 'aaa…a' takes ~10^12 comparisons. */
  fails_with("{% set s = 'a' * 20000000 %}{% for i in range(100) %}{% if 'b' in s %}{% endif %}{% "
             "endfor %}",
             SEER_EINVAL, "rendering scans more than 1024 MiB of text and items");
  fails_with("{{ range(100000) | unique | length }}", SEER_EINVAL, "rendering scans more than");
  fails_with(
      "{% set s = 'a' * 10000000 %}{% for i in range(200) %}{{ s is equalto s }}{% endfor %}",
      SEER_EINVAL, "rendering scans more than");
  fails_with("{% set s = 'a' * 10000000 %}{% set l = [s, s, s, s, s, s, s, s] %}{% for i in "
             "range(20) %}{{ l | max | length }}{{ l.count(s) }}{% endfor %}",
             SEER_EINVAL, "rendering scans more than");
  /* a builtin's arguments are charged one level deep: length in a loop over a long chat is cheap */
  RENDERS(
      "{% set m = {'role': 'user', 'content': 'x' * 100000} %}{% set ms = [m, m, m, m, m, m, m, "
      "m, m, m] %}{% for i in range(20000) %}{% if ms | length != 10 %}!{% endif %}{% endfor "
      "%}ok",
      NULL, "ok");
  RENDERS("{% set s = 'a' * 4000000 %}{% set n = 'a' * 1000000 ~ 'b' %}{{ n in s }} {{ s.find(n) "
          "}} {{ s.rsplit(n, 1) | length }} {{ s.split(n) | length }} {{ (s ~ 'ba').rsplit(n, 1) | "
          "map('length') | join(',') }}",
          NULL, "False -1 1 1 3000000,1");
  RENDERS("{{ 'a,b,,c'.rsplit(',', 2) }} {{ 'aaa'.rsplit('aa', 1) }} {{ 'abc'.rsplit('x', 1) }}",
          NULL, "['a,b', '', 'c'] ['a', ''] ['abc']");
  /* without maxsplit too, as Python: from the right, so overlapping separators give other pieces */
  RENDERS("{{ 'aaa'.rsplit('aa') }} {{ 'aaa'.split('aa') }} {{ 'a,b,,c'.rsplit(',') }} {{ "
          "'aaaaa'.rsplit('aa', -1) }} {{ ' a  b '.rsplit() }}",
          NULL, "['a', ''] ['', 'a'] ['a', 'b', '', 'c'] ['a', '', ''] ['a', 'b']");
  /* sort is a merge sort now: stable, either way round, and fine on long lists */
  RENDERS(
      "{{ range(50000) | reverse | sort | first }} {{ range(50000) | sort(reverse=true) | first "
      "}} {{ ['b', 'A', 'a', 'B'] | sort }} {{ ['b', 'A', 'a', 'B'] | sort(case_sensitive=true) "
      "}}",
      NULL, "0 49999 ['A', 'a', 'b', 'B'] ['A', 'B', 'a', 'b']");
  RENDERS("{% set xs = [{'k': 1, 'n': 'a'}, {'k': 0, 'n': 'b'}, {'k': 1, 'n': 'c'}, {'k': 0, 'n': "
          "'d'}] %}{{ xs | sort(attribute='k') | map(attribute='n') | join }} {{ xs | "
          "sort(attribute='k', reverse=true) | map(attribute='n') | join }}",
          NULL, "bdac acbd");
  RENDERS(
      "{{ 1 ** 9223372036854775807 }} {{ (-1) ** 9223372036854775807 }} {{ 2 ** 62 }} {{ 0 ** 0 }} "
      "{{ (-3) ** 3 }}",
      NULL, "1 -1 4611686018427387904 1 -27");
  RENDERS("{{ 9223372036854775806 + 1 }} {{ -7 // 2 }} {{ -7 % 2 }}", NULL,
          "9223372036854775807 -4 1");
}

int main(void) {
  features();
  hostile();
  self_containing_values();
  const char *names[] = {"llama3", "qwen3", "llama2", "gemma3"};
  for (size_t i = 0; i < 4; i++)
    chat_cases(names[i]);
  gemma_raise();
  return check_summary();
}
