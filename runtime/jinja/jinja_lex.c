/* jinja_lex.c: owns turning template source into tokens, including Jinja2's whitespace control
 * ({%- -%}, {%+ +%}, trim_blocks, lstrip_blocks) and {% raw %} blocks. */
#include "jinja_internal.h"

#include <stdlib.h>
#include <string.h>

static int push(jarena *a, jtoks *t, jtok k) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    jtok *v = ja_alloc(a, cap * sizeof *v);
    if (!v) return SEER_ENOMEM;
    if (t->n) memcpy(v, t->v, t->n * sizeof *v);
    t->v = v;
    t->cap = cap;
  }
  t->v[t->n++] = k;
  return SEER_OK;
}

static bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int count_lines(const char *s, size_t n) {
  int k = 0;
  for (size_t i = 0; i < n; i++)
    k += s[i] == '\n';
  return k;
}

/* Python-style string escapes, as Jinja2 decodes string literals. */
static int unescape(jarena *a, const char *s, size_t n, jtok *out) {
  seer_buf b = SEER_BUF_INIT;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    char c = s[i];
    if (c != '\\' || i + 1 >= n) {
      rc = seer_buf_appendc(&b, c);
      continue;
    }
    char e = s[++i];
    int32_t cp = -1;
    size_t digits = 0;
    switch (e) {
    case 'n': rc = seer_buf_appendc(&b, '\n'); break;
    case 't': rc = seer_buf_appendc(&b, '\t'); break;
    case 'r': rc = seer_buf_appendc(&b, '\r'); break;
    case 'b': rc = seer_buf_appendc(&b, '\b'); break;
    case 'f': rc = seer_buf_appendc(&b, '\f'); break;
    case 'v': rc = seer_buf_appendc(&b, '\v'); break;
    case 'a': rc = seer_buf_appendc(&b, '\a'); break;
    case '0': rc = seer_buf_appendc(&b, '\0'); break;
    case '\\':
    case '\'':
    case '"': rc = seer_buf_appendc(&b, e); break;
    case '\n': break; /* line continuation */
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    default: rc = seer_buf_appendc(&b, '\\') || seer_buf_appendc(&b, e);
    }
    if (digits && i + digits >= n) {
      rc = seer_buf_appendc(&b, '\\') || seer_buf_appendc(&b, e);
    } else if (digits) {
      cp = 0;
      for (size_t k = 1; k <= digits && !rc; k++) {
        char h = s[i + k];
        int v = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (v < 0) {
          cp = -1;
          break;
        }
        if (cp <= 0x10FFFF) cp = cp * 16 + v; /* past it, \UFFFFFFFF would overflow int */
      }
      if (cp < 0 || cp > 0x10FFFF) {
        rc = seer_buf_appendc(&b, '\\') || seer_buf_appendc(&b, e);
      } else {
        char u[4];
        unsigned char *o = (unsigned char *)u;
        size_t len;
        if (cp < 0x80)
          o[0] = (unsigned char)cp, len = 1;
        else if (cp < 0x800)
          o[0] = (unsigned char)(0xC0 | (cp >> 6)), o[1] = (unsigned char)(0x80 | (cp & 0x3F)),
          len = 2;
        else if (cp < 0x10000)
          o[0] = (unsigned char)(0xE0 | (cp >> 12)),
          o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
          o[2] = (unsigned char)(0x80 | (cp & 0x3F)), len = 3;
        else
          o[0] = (unsigned char)(0xF0 | (cp >> 18)),
          o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)),
          o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
          o[3] = (unsigned char)(0x80 | (cp & 0x3F)), len = 4;
        rc = seer_buf_append(&b, u, len);
        i += digits;
      }
    }
  }
  if (!rc) {
    out->s = ja_strdup(a, b.data ? b.data : "", b.len);
    out->n = b.len;
    if (!out->s) rc = SEER_ENOMEM;
  }
  seer_buf_free(&b);
  return rc;
}

static const char *const OPS2[] = {"**", "//", "==", "!=", "<=", ">=", NULL};

/* Lexes the inside of a tag up to its end marker; returns the position after the marker and
 * reports whether the marker carried '-' (strip following whitespace) or '+'. */
static int lex_tag(jarena *a, const char *src, size_t len, size_t *pos, int *line, bool var,
                   jtoks *out, bool *strip_after, bool *plus_after, seer_error *err) {
  size_t i = *pos;
  const char *close = var ? "}}" : "%}";
  int depth = 0; /* brackets open inside the tag: "}}" closing a nested dict is not the end */
  for (;;) {
    while (i < len && is_ws(src[i])) {
      if (src[i] == '\n') (*line)++;
      i++;
    }
    if (i >= len)
      return seer_errorf(err, SEER_EFORMAT, "template line %d: missing '%s'", *line, close);
    if (depth == 0 && (src[i] == '-' || src[i] == '+') && i + 2 < len &&
        !strncmp(src + i + 1, close, 2)) {
      *strip_after = src[i] == '-';
      *plus_after = src[i] == '+';
      *pos = i + 3;
      return SEER_OK;
    }
    if (depth == 0 && i + 1 < len && !strncmp(src + i, close, 2)) {
      *strip_after = *plus_after = false;
      *pos = i + 2;
      return SEER_OK;
    }
    jtok t = {.line = *line};
    char c = src[i];
    if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      size_t s = i;
      while (i < len && (src[i] == '_' || (src[i] >= 'a' && src[i] <= 'z') ||
                         (src[i] >= 'A' && src[i] <= 'Z') || (src[i] >= '0' && src[i] <= '9')))
        i++;
      t.t = JT_NAME;
      t.s = src + s;
      t.n = i - s;
    } else if (c >= '0' && c <= '9') {
      size_t s = i;
      bool is_float = false;
      while (i < len && ((src[i] >= '0' && src[i] <= '9') || src[i] == '_'))
        i++;
      if (i + 1 < len && src[i] == '.' && src[i + 1] >= '0' && src[i + 1] <= '9') {
        is_float = true;
        i++;
        while (i < len && src[i] >= '0' && src[i] <= '9')
          i++;
      }
      if (i < len && (src[i] == 'e' || src[i] == 'E')) {
        size_t k = i + 1;
        if (k < len && (src[k] == '+' || src[k] == '-')) k++;
        if (k < len && src[k] >= '0' && src[k] <= '9') {
          is_float = true;
          i = k;
          while (i < len && src[i] >= '0' && src[i] <= '9')
            i++;
        }
      }
      char num[64];
      size_t nn = 0;
      for (size_t k = s; k < i && nn < sizeof num - 1; k++)
        if (src[k] != '_') num[nn++] = src[k];
      num[nn] = 0;
      if (is_float) {
        t.t = JT_FLOAT;
        t.f = strtod(num, NULL);
      } else {
        t.t = JT_INT;
        t.i = strtoll(num, NULL, 10);
      }
    } else if (c == '\'' || c == '"') {
      size_t s = ++i;
      while (i < len && src[i] != c) {
        if (src[i] == '\\')
          i++;
        else if (src[i] == '\n')
          (*line)++;
        i++;
      }
      if (i >= len)
        return seer_errorf(err, SEER_EFORMAT, "template line %d: unterminated string", t.line);
      t.t = JT_STRING;
      if (unescape(a, src + s, i - s, &t)) return seer_errorf(err, SEER_ENOMEM, "out of memory");
      i++;
    } else {
      t.t = JT_OP;
      t.s = src + i;
      t.n = 1;
      for (int k = 0; OPS2[k]; k++)
        if (i + 1 < len && !strncmp(src + i, OPS2[k], 2)) t.n = 2;
      if (!c || !strchr("+-*/%~<>=()[]{},.:|!", c)) /* strchr would find a NUL */
        return seer_errorf(err, SEER_EFORMAT,
                           "template line %d: unexpected character '%c' (0x%02x)", *line,
                           c > ' ' && c < 0x7f ? c : '?', (unsigned char)c);
      i += t.n;
      if (t.n == 1 && strchr("([{", c)) depth++;
      if (t.n == 1 && strchr(")]}", c) && depth > 0) depth--;
    }
    if (push(a, out, t)) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  }
}

int seer_jinja_lex(jarena *a, const char *src, size_t len, const seer_jinja_options *opts,
                   jtoks *out, seer_error *err) {
  /* As jinja2 reads a source: \r\n and \r become \n, and one trailing newline is dropped
   * (keep_trailing_newline is off). The copy lives in the template's arena: tokens point into it.
   */
  if (memchr(src, '\r', len) || (len && src[len - 1] == '\n')) {
    char *norm = ja_alloc(a, len + 1);
    if (!norm) return seer_errorf(err, SEER_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
      if (src[i] == '\r') {
        norm[n++] = '\n';
        if (i + 1 < len && src[i + 1] == '\n') i++;
      } else {
        norm[n++] = src[i];
      }
    }
    if (n && norm[n - 1] == '\n') n--;
    src = norm;
    len = n;
  }
  bool trim_blocks = opts && opts->trim_blocks, lstrip = opts && opts->lstrip_blocks;
  size_t pos = 0;
  int line = 1;
  bool strip_next = false, trim_nl = false, line_start = true;
  for (;;) {
    /* Next tag start. */
    size_t t = pos;
    char kind = 0;
    while (t + 1 < len) {
      if (src[t] == '{' && (src[t + 1] == '{' || src[t + 1] == '%' || src[t + 1] == '#')) {
        kind = src[t + 1];
        break;
      }
      t++;
    }
    if (!kind) t = len;
    size_t ts = pos, te = t;
    if (strip_next) {
      while (ts < te && is_ws(src[ts]))
        ts++;
    } else if (trim_nl && ts < te && src[ts] == '\n') {
      ts++;
    }
    char mod = kind && t + 2 < len ? src[t + 2] : 0;
    if (kind && mod == '-') {
      while (te > ts && is_ws(src[te - 1]))
        te--;
    } else if (kind && kind != '{' && lstrip && mod != '+') {
      size_t l = te;
      while (l > ts && (src[l - 1] == ' ' || src[l - 1] == '\t'))
        l--;
      bool at_line = (l > ts && src[l - 1] == '\n') ||
                     (l == ts && (ts > pos ? src[ts - 1] == '\n' : line_start));
      if (at_line) te = l;
    }
    if (te > ts) {
      jtok tt = {.t = JT_TEXT, .s = src + ts, .n = te - ts, .line = line};
      if (push(a, out, tt)) return seer_errorf(err, SEER_ENOMEM, "out of memory");
    }
    line += count_lines(src + pos, t - pos);
    if (!kind) break;
    size_t body = t + 2 + (mod == '-' || mod == '+');
    bool strip_after = false, plus_after = false;
    if (kind == '#') {
      const char *end = NULL;
      for (size_t k = body; k + 1 < len; k++)
        if (src[k] == '#' && src[k + 1] == '}') {
          end = src + k;
          break;
        }
      if (!end) return seer_errorf(err, SEER_EFORMAT, "template line %d: unclosed comment", line);
      strip_after = end > src + body && end[-1] == '-';
      line += count_lines(src + body, (size_t)(end - src) - body);
      pos = (size_t)(end - src) + 2;
      trim_nl = trim_blocks && !(end > src + body && end[-1] == '+');
    } else {
      jtok open = {.t = kind == '{' ? JT_VAR_BEGIN : JT_BLOCK_BEGIN, .line = line};
      if (push(a, out, open)) return seer_errorf(err, SEER_ENOMEM, "out of memory");
      size_t first = out->n;
      pos = body;
      int rc = lex_tag(a, src, len, &pos, &line, kind == '{', out, &strip_after, &plus_after, err);
      if (rc) return rc;
      jtok close = {.t = kind == '{' ? JT_VAR_END : JT_BLOCK_END, .line = line};
      if (push(a, out, close)) return seer_errorf(err, SEER_ENOMEM, "out of memory");
      trim_nl = kind == '%' && trim_blocks && !plus_after;
      if (kind == '%' && out->n == first + 2 && out->v[first].t == JT_NAME &&
          out->v[first].n == 3 && !memcmp(out->v[first].s, "raw", 3)) {
        /* {% raw %}: everything up to {% endraw %} is text. */
        out->n = first - 1;
        size_t k = pos;
        const char *found = NULL;
        size_t after = 0;
        for (; k + 1 < len; k++) {
          if (src[k] != '{' || src[k + 1] != '%') continue;
          size_t j = k + 2;
          if (j < len && (src[j] == '-' || src[j] == '+')) j++;
          while (j < len && is_ws(src[j]))
            j++;
          if (len - j >= 6 && !memcmp(src + j, "endraw", 6)) {
            j += 6;
            while (j < len && is_ws(src[j]))
              j++;
            bool m = j < len && (src[j] == '-' || src[j] == '+');
            if (j + m + 1 < len && src[j + m] == '%' && src[j + m + 1] == '}') {
              found = src + k;
              strip_after = m && src[j] == '-';
              after = j + m + 2;
              break;
            }
          }
        }
        if (!found)
          return seer_errorf(err, SEER_EFORMAT,
                             "template line %d: {%% raw %%} without {%% endraw %%}", line);
        size_t rs = pos, re = (size_t)(found - src);
        if (trim_nl && rs < re && src[rs] == '\n') rs++;
        if (found[2] == '-')
          while (re > rs && is_ws(src[re - 1]))
            re--;
        if (re > rs) {
          jtok tt = {.t = JT_TEXT, .s = src + rs, .n = re - rs, .line = line};
          if (push(a, out, tt)) return seer_errorf(err, SEER_ENOMEM, "out of memory");
        }
        line += count_lines(src + pos, after - pos);
        pos = after;
        trim_nl = trim_blocks;
      }
    }
    strip_next = strip_after;
    line_start = false; /* text after a tag starts a line only via a newline it contains */
  }
  jtok eof = {.t = JT_EOF, .line = line};
  return push(a, out, eof) ? seer_errorf(err, SEER_ENOMEM, "out of memory") : SEER_OK;
}
