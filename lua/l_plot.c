/* l_plot.c: the seer._plot binding: render(spec, format) turns a chart spec table (built by
 * stdlib/seer/plot.lua) into a seer_plot_spec and returns the PNG or SVG bytes. Data arrays may be
 * Lua lists of numbers or Tensors (1-D for series, 2-D for a heatmap). */
#include <math.h>
#include <string.h>

#include "bindings.h"
#include "l_tensor.h"
#include "seer/plot.h"

#define FN "seer.plot"

/* Scratch memory as userdata left on the stack, so a raise part-way frees everything. */
static void *scratch(lua_State *L, size_t bytes) {
  luaL_checkstack(L, 2, FN);
  return lua_newuserdata(L, bytes ? bytes : 1);
}

static double opt_number(lua_State *L, int t, const char *key) {
  lua_getfield(L, t, key);
  double v = NAN;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, FN ": %s must be a number", key);
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* A string field, or NULL; the string stays referenced by the spec table (argument 1). */
static const char *opt_string(lua_State *L, int t, const char *key) {
  lua_getfield(L, t, key);
  const char *s = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, FN ": %s must be a string", key);
    s = lua_tostring(L, -1);
  }
  lua_pop(L, 1);
  return s;
}

/* The numbers of a list or a 1-D / 2-D Tensor at idx, as a new scratch array (left on the stack).
 * *n is the count; rows/cols (when not NULL) receive a 2-D shape. */
static double *numbers(lua_State *L, int idx, const char *what, size_t *n, size_t *rows,
                       size_t *cols) {
  if (idx < 0) idx = lua_gettop(L) + idx + 1; /* absolute: scratch is pushed below */
  seer_tensor *t = seer_lua_to_tensor(L, idx);
  if (t) {
    if (seer_tensor_device(t) != SEER_DEVICE_CPU)
      luaL_error(L, FN ": %s is a CUDA tensor; pass t:to('cpu')", what);
    int want = rows ? 2 : 1;
    if (t->ndim != want)
      luaL_error(L, FN ": %s must be a %d-D tensor, got %d-D", what, want, t->ndim);
    int64_t count = seer_tensor_numel(t);
    if (count > (int64_t)SEER_PLOT_MAX_POINTS)
      luaL_error(L, FN ": %s has more than %d values", what, (int)SEER_PLOT_MAX_POINTS);
    double *v = scratch(L, sizeof *v * (size_t)count);
    for (int64_t i = 0; i < count; i++)
      v[i] = seer_tensor_get_flat(t, i);
    *n = (size_t)count;
    if (rows) *rows = (size_t)t->shape[0], *cols = (size_t)t->shape[1];
    return v;
  }
  if (!lua_istable(L, idx)) luaL_error(L, FN ": %s must be a list of numbers or a Tensor", what);
  size_t len = seer_rawlen(L, idx);
  if (!rows) {
    if (len > SEER_PLOT_MAX_POINTS)
      luaL_error(L, FN ": %s has more than %d values", what, (int)SEER_PLOT_MAX_POINTS);
    double *v = scratch(L, sizeof *v * len);
    for (size_t i = 0; i < len; i++) {
      lua_rawgeti(L, idx, (int)i + 1);
      if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, FN ": %s[%d] is a %s, not a number", what, (int)i + 1, luaL_typename(L, -1));
      v[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    *n = len;
    return v;
  }
  /* A list of rows, each a list of numbers of the same length. */
  size_t ncols = 0;
  if (len > 0) {
    lua_rawgeti(L, idx, 1);
    if (!lua_istable(L, -1))
      luaL_error(L, FN ": %s must be a list of rows (lists of numbers)", what);
    ncols = seer_rawlen(L, -1);
    lua_pop(L, 1);
  }
  if (ncols && len > SEER_PLOT_MAX_POINTS / ncols)
    luaL_error(L, FN ": %s has more than %d values", what, (int)SEER_PLOT_MAX_POINTS);
  double *v = scratch(L, sizeof *v * len * ncols);
  for (size_t r = 0; r < len; r++) {
    lua_rawgeti(L, idx, (int)r + 1);
    if (!lua_istable(L, -1) || seer_rawlen(L, -1) != ncols)
      luaL_error(L, FN ": row %d of %s is not a list of %d numbers", (int)r + 1, what, (int)ncols);
    for (size_t c = 0; c < ncols; c++) {
      lua_rawgeti(L, -1, (int)c + 1);
      if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, FN ": %s[%d][%d] is a %s, not a number", what, (int)r + 1, (int)c + 1,
                   luaL_typename(L, -1));
      v[r * ncols + c] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  *n = len * ncols;
  *rows = len, *cols = ncols;
  return v;
}

/* A list of strings at field key (NULL when absent) as a scratch array; *n is its length. */
static const char **strings(lua_State *L, int t, const char *key, size_t *n) {
  lua_getfield(L, t, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    *n = 0;
    return NULL;
  }
  if (!lua_istable(L, -1)) luaL_error(L, FN ": %s must be a list of strings", key);
  int list = lua_gettop(L);
  size_t len = seer_rawlen(L, list);
  if (len > SEER_PLOT_MAX_POINTS) luaL_error(L, FN ": %s has too many entries", key);
  const char **out = scratch(L, sizeof *out * len);
  for (size_t i = 0; i < len; i++) {
    lua_rawgeti(L, list, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, FN ": %s[%d] is a %s, not a string", key, (int)i + 1, luaL_typename(L, -1));
    out[i] = lua_tostring(L, -1); /* the list (kept on the stack) keeps it alive */
    lua_pop(L, 1);
  }
  *n = len;
  return out;
}

static const struct {
  const char *name;
  seer_plot_kind kind;
} kinds[] = {{"line", SEER_PLOT_LINE},
             {"scatter", SEER_PLOT_SCATTER},
             {"bar", SEER_PLOT_BAR},
             {"heatmap", SEER_PLOT_HEATMAP}};

/* Fills *s from the spec table at index 1; the arrays it points to are left on the stack. */
static void build_spec(lua_State *L, seer_plot_spec *s_out) {
  luaL_checktype(L, 1, LUA_TTABLE);
  seer_plot_spec s;
  memset(&s, 0, sizeof s);
  const char *kind = opt_string(L, 1, "kind");
  size_t k = 0;
  while (k < sizeof kinds / sizeof kinds[0] && (!kind || strcmp(kinds[k].name, kind) != 0))
    k++;
  if (k == sizeof kinds / sizeof kinds[0])
    luaL_error(L, FN ": unknown chart kind '%s'", kind ? kind : "nil");
  s.kind = kinds[k].kind;
  s.title = opt_string(L, 1, "title");
  s.xlabel = opt_string(L, 1, "xlabel");
  s.ylabel = opt_string(L, 1, "ylabel");
  double w = opt_number(L, 1, "width"), h = opt_number(L, 1, "height");
  s.width = isfinite(w) && w > 0 && w < 1e6 ? (int)w : 0;
  s.height = isfinite(h) && h > 0 && h < 1e6 ? (int)h : 0;
  s.ymin = opt_number(L, 1, "ymin");
  s.ymax = opt_number(L, 1, "ymax");
  s.zmin = opt_number(L, 1, "zmin");
  s.zmax = opt_number(L, 1, "zmax");
  const char *cmap = opt_string(L, 1, "cmap");
  s.cmap =
      cmap && strcmp(cmap, "diverging") == 0 ? SEER_PLOT_CMAP_DIVERGING : SEER_PLOT_CMAP_VIRIDIS;
  if (s.kind == SEER_PLOT_HEATMAP) {
    lua_getfield(L, 1, "z");
    size_t n = 0;
    s.z = numbers(L, -1, "z", &n, &s.rows, &s.cols);
    size_t nr, nc;
    s.row_labels = strings(L, 1, "row_labels", &nr);
    s.col_labels = strings(L, 1, "col_labels", &nc);
    if (s.row_labels && nr != s.rows)
      luaL_error(L, FN ": %d row labels for %d rows", (int)nr, (int)s.rows);
    if (s.col_labels && nc != s.cols)
      luaL_error(L, FN ": %d column labels for %d columns", (int)nc, (int)s.cols);
  } else {
    lua_getfield(L, 1, "series");
    int list = lua_gettop(L);
    if (!lua_istable(L, list)) luaL_error(L, FN ": spec.series must be a list");
    size_t n = seer_rawlen(L, list);
    if (n > SEER_PLOT_MAX_SERIES)
      luaL_error(L, FN ": %d series is more than %d", (int)n, SEER_PLOT_MAX_SERIES);
    seer_plot_series *series = scratch(L, sizeof *series * n);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, list, (int)i + 1);
      int item = lua_gettop(L);
      if (!lua_istable(L, item)) luaL_error(L, FN ": series %d is not a table", (int)i + 1);
      memset(&series[i], 0, sizeof series[i]);
      lua_getfield(L, item, "y");
      series[i].y = numbers(L, -1, "y", &series[i].n, NULL, NULL);
      lua_getfield(L, item, "x");
      if (!lua_isnil(L, -1)) {
        size_t nx;
        series[i].x = numbers(L, -1, "x", &nx, NULL, NULL);
        if (nx != series[i].n)
          luaL_error(L, FN ": series %d has %d x values and %d y values", (int)i + 1, (int)nx,
                     (int)series[i].n);
      }
      series[i].label = opt_string(L, item, "label");
      /* item, y, its scratch, x, its scratch stay on the stack until rendering is done. */
    }
    s.series = series;
    s.nseries = n;
    s.categories = strings(L, 1, "categories", &s.ncategories);
  }
  *s_out = s;
}

/* check(spec): raises what render would refuse, without drawing. */
static int l_check(lua_State *L) {
  seer_plot_spec s;
  build_spec(L, &s);
  seer_error err;
  if (seer_plot_check(&s, &err) != SEER_OK) return luaL_error(L, "seer.%s", err.msg);
  return 0;
}

/* render(spec, "png" | "svg") -> bytes */
static int l_render(lua_State *L) {
  static const char *const formats[] = {"png", "svg", NULL};
  seer_plot_format format = luaL_checkoption(L, 2, NULL, formats) ? SEER_PLOT_SVG : SEER_PLOT_PNG;
  seer_plot_spec s;
  build_spec(L, &s);
  seer_buf out = SEER_BUF_INIT;
  seer_error err;
  if (seer_plot_render(&s, format, &out, &err) != SEER_OK) {
    seer_buf_free(&out);
    return luaL_error(L, "seer.%s", err.msg); /* the message starts with "plot" */
  }
  lua_pushlstring(L, out.data ? out.data : "", out.len);
  seer_buf_free(&out);
  return 1;
}

int luaopen_seer__plot(lua_State *L) {
  static const luaL_Reg fns[] = {{"render", l_render}, {"check", l_check}, {NULL, NULL}};
  lua_newtable(L);
  luaL_setfuncs(L, fns, 0);
  lua_pushinteger(L, SEER_PLOT_MAX_POINTS);
  lua_setfield(L, -2, "MAX_POINTS");
  return 1;
}
