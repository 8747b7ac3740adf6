/* seer/plot.h: line, scatter, bar and heatmap charts, drawn by PLplot through its cairo
 * "extcairo" driver onto a cairo surface and returned as PNG or SVG bytes in memory (no files).
 * PLplot keeps global state: render from one thread at a time. */
#ifndef SEER_PLOT_H
#define SEER_PLOT_H

#include <stddef.h>

#include "seer/buf.h"
#include "seer/error.h"

typedef enum {
  SEER_PLOT_LINE,
  SEER_PLOT_SCATTER,
  SEER_PLOT_BAR,
  SEER_PLOT_HEATMAP,
} seer_plot_kind;

typedef enum { SEER_PLOT_PNG, SEER_PLOT_SVG } seer_plot_format;

typedef enum {
  SEER_PLOT_CMAP_VIRIDIS,   /* sequential: probabilities, attention weights */
  SEER_PLOT_CMAP_DIVERGING, /* blue-white-red, centred on 0: logit differences, signed scores */
} seer_plot_cmap;

/* Limits on what one chart may hold; larger inputs are refused with an error naming the limit. */
#define SEER_PLOT_MIN_SIDE 64
#define SEER_PLOT_MAX_SIDE 8192
#define SEER_PLOT_MAX_SERIES 64
#define SEER_PLOT_MAX_POINTS (1u << 22) /* over all series, or heatmap cells */
#define SEER_PLOT_MAX_CATEGORIES 4096
#define SEER_PLOT_MAX_TEXT 512 /* bytes of a title, axis label, legend entry or tick label */

typedef struct seer_plot_series {
  const double *x; /* line/scatter: NULL means 1..n; bar: unused */
  const double *y;
  size_t n;
  const char *label; /* legend entry, or NULL */
} seer_plot_series;

typedef struct seer_plot_spec {
  seer_plot_kind kind;
  const char *title, *xlabel, *ylabel; /* NULL: none */
  int width, height;                   /* pixels for PNG, points for SVG */
  /* line, scatter, bar */
  const seer_plot_series *series;
  size_t nseries;
  const char *const *categories; /* bar: a label per bar position (NULL: 1..n) */
  size_t ncategories;
  double ymin, ymax; /* NAN: from the data */
  /* heatmap: rows x cols values, row-major, row 1 drawn at the top (as a matrix is printed) */
  const double *z;
  size_t rows, cols;
  const char *const *row_labels; /* NULL or rows entries */
  const char *const *col_labels; /* NULL or cols entries */
  seer_plot_cmap cmap;
  double zmin, zmax; /* colour range; NAN: from the data (diverging: symmetric about 0) */
} seer_plot_spec;

/* Checks spec without drawing: SEER_OK, or SEER_EINVAL naming what is wrong or too large. */
int seer_plot_check(const seer_plot_spec *spec, seer_error *err);
/* Renders spec as PNG or SVG into out (appended). Returns SEER_OK, or SEER_EINVAL (bad or too large
 * input, named in err) / SEER_ENOMEM / SEER_ENOTSUP (PLplot's cairo driver is missing). */
int seer_plot_render(const seer_plot_spec *spec, seer_plot_format format, seer_buf *out,
                     seer_error *err);

#endif
