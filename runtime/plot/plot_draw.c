/* plot_draw.c: what each chart looks like, in PLplot calls on an initialised stream: axes and
 * grid, lines, markers, grouped bars, heatmap image with colour bar, tick labels for categories
 * (tokens, layer names), titles and the legend. Sizes are worked out in character heights so that
 * charts read the same at any pixel size. */
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_internal.h"

enum { COL_BG = 0, COL_FG = 1, COL_GRID = 2, COL_SERIES = 3, N_SERIES_COLOURS = 10 };
#define MAX_TICK_LABELS 64 /* per axis; longer category lists label every k-th */
#define TICK_LABEL_CHARS 16
#define CHAR_WIDTH 0.8 /* a label character's width, in character heights (generous) */

void seer_plot_set_palette(void) {
  /* white, black, light grey, then matplotlib's tab10 (distinct, colour-blind tolerable). */
  static const PLINT r[] = {255, 0, 225, 31, 255, 44, 214, 148, 140, 227, 127, 188, 23};
  static const PLINT g[] = {255, 0, 225, 119, 127, 160, 39, 103, 86, 119, 127, 189, 190};
  static const PLINT b[] = {255, 0, 225, 180, 14, 44, 40, 189, 75, 194, 127, 34, 207};
  plscmap0(r, g, b, (PLINT)(sizeof r / sizeof r[0]));
}

/* PLplot treats '#' as its escape character and cannot draw control bytes: copy s into out with
 * '#' doubled, control bytes shown as \n, \t or \xNN, and at most max_chars code points (then
 * an ellipsis). */
static const char *plain_text(const char *s, char *out, size_t cap, size_t max_chars) {
  size_t o = 0, chars = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p && o + 8 < cap; p++) {
    if ((*p & 0xC0) != 0x80 && chars++ == max_chars) {
      memcpy(out + o, "\xE2\x80\xA6", 3); /* … */
      o += 3;
      break;
    }
    if (*p == '#') {
      out[o++] = '#';
      out[o++] = '#';
    } else if (*p == '\n') {
      o += (size_t)snprintf(out + o, cap - o, "\\n");
    } else if (*p == '\t') {
      o += (size_t)snprintf(out + o, cap - o, "\\t");
    } else if (*p < 0x20 || *p == 0x7F) {
      o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
    } else {
      out[o++] = (char)*p;
    }
  }
  out[o] = '\0';
  return out;
}

#define TEXT_CAP (SEER_PLOT_MAX_TEXT * 4 + 16)

/* Character height and page size in mm, to turn "n characters" into viewport fractions. */
typedef struct page_metrics {
  double char_mm, width_mm, height_mm;
} page_metrics;

static page_metrics metrics(void) {
  PLFLT def, ht, x0, x1, y0, y1;
  plgchr(&def, &ht);
  plgspa(&x0, &x1, &y0, &y1);
  page_metrics m = {ht, x1 - x0, y1 - y0};
  return m;
}

static size_t longest_label(const char *const *labels, size_t n) {
  size_t best = 0;
  for (size_t i = 0; labels && i < n; i++) {
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)labels[i]; *p; p++)
      if ((*p & 0xC0) != 0x80) chars++;
    if (chars > best) best = chars;
  }
  return best < TICK_LABEL_CHARS ? best : TICK_LABEL_CHARS + 1;
}

/* Category labels along the bottom ("b") or left ("l") edge, centred on positions 1..n of a window
 * that runs from 0.5 to n + 0.5; index labels (1, 2, ...) when labels is NULL. For the left edge
 * reversed = 1 puts label 1 at the top. Vertical bottom labels when they would not fit flat. When
 * more labels than fit side by side, every k-th is drawn. */
static void category_labels(const char *side, const char *const *labels, size_t n, int vertical,
                            int reversed) {
  PLFLT def, ht, vx0, vx1, vy0, vy1;
  plgchr(&def, &ht);
  plgvpd(&vx0, &vx1, &vy0, &vy1);
  PLFLT px0, px1, py0, py1;
  plgspa(&px0, &px1, &py0, &py1);
  double axis_mm = side[0] == 'b' ? (vx1 - vx0) * (px1 - px0) : (vy1 - vy0) * (py1 - py0);
  size_t longest = side[0] == 'b' && !vertical ? longest_label(labels, n) : 1;
  if (!labels && side[0] == 'b' && !vertical) longest = (size_t)snprintf(NULL, 0, "%zu", n);
  double per_label = ht * (side[0] == 'b' && !vertical ? CHAR_WIDTH * (double)longest + 1.0 : 1.4);
  size_t fit = (size_t)(axis_mm / per_label);
  if (fit < 1) fit = 1;
  if (fit > MAX_TICK_LABELS) fit = MAX_TICK_LABELS;
  size_t stride = (n + fit - 1) / fit;
  char text[TEXT_CAP], index[32];
  for (size_t i = 0; i < n; i += stride) {
    const char *s = labels ? labels[i] : (snprintf(index, sizeof index, "%zu", i + 1), index);
    plain_text(s, text, sizeof text, TICK_LABEL_CHARS);
    double pos = ((double)(reversed ? n - 1 - i : i) + 0.5) / (double)n;
    if (side[0] == 'b')
      plmtex(vertical ? "bv" : "b", vertical ? 0.6 : 1.4, pos, vertical ? 1.0 : 0.5, text);
    else
      plmtex("lv", 0.6, pos, 1.0, text);
  }
}

/* Title above the box and axis labels outside the tick labels (offsets in character heights). */
static void titles(const seer_plot_spec *s, double xlabel_disp, double ylabel_disp) {
  char text[TEXT_CAP];
  plcol0(COL_FG);
  if (s->title) {
    plschr(0, 1.25);
    plmtex("t", 1.2, 0.5, 0.5, plain_text(s->title, text, sizeof text, SEER_PLOT_MAX_TEXT));
    plschr(0, 1.0);
  }
  if (s->xlabel)
    plmtex("b", xlabel_disp, 0.5, 0.5,
           plain_text(s->xlabel, text, sizeof text, SEER_PLOT_MAX_TEXT));
  if (s->ylabel)
    plmtex("l", ylabel_disp, 0.5, 0.5,
           plain_text(s->ylabel, text, sizeof text, SEER_PLOT_MAX_TEXT));
}

/* The viewport with margins given in character heights. */
static void viewport(page_metrics m, double left, double right, double bottom, double top) {
  double fx = m.char_mm / m.width_mm, fy = m.char_mm / m.height_mm;
  double x0 = left * fx, x1 = 1 - right * fx, y0 = bottom * fy, y1 = 1 - top * fy;
  if (x1 - x0 < 0.2) x0 = 0.1, x1 = 0.9; /* tiny pages: give the data the room */
  if (y1 - y0 < 0.2) y0 = 0.1, y1 = 0.9;
  plvpor(x0, x1, y0, y1);
}

static void widen(double *lo, double *hi, double pad_fraction) {
  if (*hi - *lo <= 0) {
    double d = fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 0.5;
    *lo -= d;
    *hi += d;
    return;
  }
  double pad = (*hi - *lo) * pad_fraction;
  *lo -= pad;
  *hi += pad;
}

static void legend(const seer_plot_spec *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->nseries; i++)
    if (s->series[i].label) n++;
  if (n == 0) return;
  PLINT opt[SEER_PLOT_MAX_SERIES], colours[SEER_PLOT_MAX_SERIES], styles[SEER_PLOT_MAX_SERIES];
  PLINT patterns[SEER_PLOT_MAX_SERIES], numbers[SEER_PLOT_MAX_SERIES];
  PLFLT widths[SEER_PLOT_MAX_SERIES], scales[SEER_PLOT_MAX_SERIES];
  PLFLT box_widths[SEER_PLOT_MAX_SERIES];
  const char *texts[SEER_PLOT_MAX_SERIES], *symbols[SEER_PLOT_MAX_SERIES];
  static char storage[SEER_PLOT_MAX_SERIES][TEXT_CAP / 4];
  PLINT text_colours[SEER_PLOT_MAX_SERIES];
  size_t k = 0;
  for (size_t i = 0; i < s->nseries; i++) {
    if (!s->series[i].label) continue;
    opt[k] = s->kind == SEER_PLOT_LINE      ? PL_LEGEND_LINE
             : s->kind == SEER_PLOT_SCATTER ? PL_LEGEND_SYMBOL
                                            : PL_LEGEND_COLOR_BOX;
    colours[k] = COL_SERIES + (PLINT)(i % N_SERIES_COLOURS);
    text_colours[k] = COL_FG;
    styles[k] = 1;
    patterns[k] = 0;
    numbers[k] = 3;
    widths[k] = 2.0;
    scales[k] = 1.0;
    box_widths[k] = 0.0;
    symbols[k] = "#(840)"; /* a filled circle */
    texts[k] = plain_text(s->series[i].label, storage[k], sizeof storage[k], 40);
    k++;
  }
  PLFLT w, h;
  pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE, 0.02, 0.02, 0.08, COL_BG,
           COL_FG, 1, 0, 0, (PLINT)k, opt, 1.0, 0.9, 2.0, 0.0, text_colours, texts, colours,
           patterns, scales, box_widths, colours, styles, widths, colours, scales, numbers,
           symbols);
}

static int draw_xy(const seer_plot_spec *s, seer_error *err) {
  int bar = s->kind == SEER_PLOT_BAR;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  size_t nmax = 0;
  for (size_t i = 0; i < s->nseries; i++) {
    const seer_plot_series *se = &s->series[i];
    if (se->n > nmax) nmax = se->n;
    for (size_t j = 0; j < se->n; j++) {
      double x = se->x && !bar ? se->x[j] : (double)(j + 1);
      if (x < xlo) xlo = x;
      if (x > xhi) xhi = x;
      if (se->y[j] < ylo) ylo = se->y[j];
      if (se->y[j] > yhi) yhi = se->y[j];
    }
  }
  if (bar) { /* bars grow from 0: the axis starts there when every bar is on one side */
    double data_lo = ylo, data_hi = yhi;
    xlo = 0.5, xhi = (double)nmax + 0.5;
    if (ylo > 0) ylo = 0;
    if (yhi < 0) yhi = 0;
    widen(&ylo, &yhi, 0.05);
    if (data_lo >= 0) ylo = 0;
    if (data_hi <= 0) yhi = 0;
  } else {
    widen(&xlo, &xhi, s->kind == SEER_PLOT_SCATTER ? 0.04 : 0.0);
    widen(&ylo, &yhi, 0.05);
  }
  if (!isnan(s->ymin)) ylo = s->ymin;
  if (!isnan(s->ymax)) yhi = s->ymax;
  if (!(ylo < yhi)) widen(&ylo, &yhi, 0);

  page_metrics m = metrics();
  int categorical = bar;
  size_t longest = bar ? longest_label(s->categories, s->ncategories) : 0;
  if (bar && !s->categories) longest = (size_t)snprintf(NULL, 0, "%zu", nmax);
  int vertical =
      bar && (longest > 8 ||
              (double)nmax * ((double)longest + 1) * CHAR_WIDTH * m.char_mm > m.width_mm * 0.8);
  double bottom_labels = vertical ? (double)longest * CHAR_WIDTH + 1.0 : 2.4;
  double bottom = bottom_labels + (s->xlabel ? 2.2 : 0.8);
  viewport(m, s->ylabel ? 7.5 : 6.0, 2.0, bottom, s->title ? 3.0 : 1.5);
  plwind(xlo, xhi, ylo, yhi);
  plcol0(COL_GRID);
  plwidth(1);
  plbox(categorical ? "" : "g", 0, 0, "g", 0, 0);
  plcol0(COL_FG);
  plbox(categorical ? "bc" : "bcnst", 0, 0, "bcnstv", 0, 0);
  if (categorical) category_labels("b", s->categories, nmax, vertical, 0);

  for (size_t i = 0; i < s->nseries; i++) {
    const seer_plot_series *se = &s->series[i];
    plcol0(COL_SERIES + (PLINT)(i % N_SERIES_COLOURS));
    PLFLT *xs = malloc(sizeof *xs * se->n);
    if (!xs) return seer_errorf(err, SEER_ENOMEM, "plot: out of memory");
    for (size_t j = 0; j < se->n; j++)
      xs[j] = se->x && !bar ? se->x[j] : (double)(j + 1);
    if (s->kind == SEER_PLOT_LINE) {
      plwidth(2.0);
      plline((PLINT)se->n, xs, se->y);
    } else if (s->kind == SEER_PLOT_SCATTER) {
      plssym(0, 0.9);
      plstring((PLINT)se->n, xs, se->y, "#(840)");
    } else {
      double group = 0.8, w = group / (double)s->nseries;
      double base = ylo > 0 ? ylo : (yhi < 0 ? yhi : 0);
      for (size_t j = 0; j < se->n; j++) {
        double x0 = xs[j] - group / 2 + w * (double)i, x1 = x0 + w * 0.92;
        PLFLT px[4] = {x0, x1, x1, x0}, py[4] = {base, base, se->y[j], se->y[j]};
        plfill(4, px, py);
      }
    }
    plwidth(1);
    free(xs);
  }
  titles(s, bottom_labels + 1.2, s->ylabel ? 5.6 : 4.0);
  legend(s);
  return SEER_OK;
}

/* cmap1: viridis (sequential) or blue-white-red (diverging), as RGB control points. */
static void colour_map(seer_plot_cmap cmap) {
  static const PLFLT vpos[] = {0.0, 0.25, 0.5, 0.75, 1.0};
  static const PLFLT vr[] = {0.267, 0.231, 0.128, 0.369, 0.993};
  static const PLFLT vg[] = {0.005, 0.322, 0.567, 0.789, 0.906};
  static const PLFLT vb[] = {0.329, 0.546, 0.551, 0.383, 0.144};
  static const PLFLT dpos[] = {0.0, 0.5, 1.0};
  static const PLFLT dr[] = {0.230, 0.970, 0.706};
  static const PLFLT dg[] = {0.299, 0.970, 0.016};
  static const PLFLT db[] = {0.754, 0.970, 0.150};
  plscmap1n(256);
  if (cmap == SEER_PLOT_CMAP_DIVERGING)
    plscmap1l(1, 3, dpos, dr, dg, db, NULL);
  else
    plscmap1l(1, 5, vpos, vr, vg, vb, NULL);
}

static int draw_heatmap(const seer_plot_spec *s, seer_error *err) {
  size_t rows = s->rows, cols = s->cols, n = rows * cols;
  double lo = s->z[0], hi = s->z[0];
  for (size_t i = 1; i < n; i++) {
    if (s->z[i] < lo) lo = s->z[i];
    if (s->z[i] > hi) hi = s->z[i];
  }
  if (s->cmap == SEER_PLOT_CMAP_DIVERGING) {
    double a = fmax(fabs(lo), fabs(hi));
    lo = -a, hi = a;
  }
  if (!isnan(s->zmin)) lo = s->zmin;
  if (!isnan(s->zmax)) hi = s->zmax;
  if (!(lo < hi)) widen(&lo, &hi, 0);

  /* PLplot wants idata[x][y] with y growing upwards; row 1 goes at the top. Values outside a
   * given colour range take the end colours (PLplot would leave them out). The cell edges are
   * the grids xg (cols + 1) and yg (rows + 1), so each value fills a whole cell. */
  PLFLT **idata = malloc(sizeof *idata * cols);
  PLFLT *cells = malloc(sizeof *cells * n);
  PLFLT *xg = malloc(sizeof *xg * (cols + 1)), *yg = malloc(sizeof *yg * (rows + 1));
  if (!idata || !cells || !xg || !yg) {
    free(idata);
    free(cells);
    free(xg);
    free(yg);
    return seer_errorf(err, SEER_ENOMEM, "plot.heatmap: out of memory for %zu cells", n);
  }
  for (size_t c = 0; c < cols; c++) {
    idata[c] = cells + c * rows;
    for (size_t r = 0; r < rows; r++)
      idata[c][rows - 1 - r] = fmin(hi, fmax(lo, s->z[r * cols + c]));
  }
  for (size_t c = 0; c <= cols; c++)
    xg[c] = 0.5 + (double)c;
  for (size_t r = 0; r <= rows; r++)
    yg[r] = 0.5 + (double)r;
  PLcGrid grid = {xg, yg, NULL, (PLINT)cols + 1, (PLINT)rows + 1, 0};

  page_metrics m = metrics();
  size_t col_longest =
      s->col_labels ? longest_label(s->col_labels, cols) : (size_t)snprintf(NULL, 0, "%zu", cols);
  size_t row_longest =
      s->row_labels ? longest_label(s->row_labels, rows) : (size_t)snprintf(NULL, 0, "%zu", rows);
  int vertical =
      col_longest > 3 ||
      (double)cols * ((double)col_longest + 1) * CHAR_WIDTH * m.char_mm > m.width_mm * 0.7;
  double bottom_labels = vertical ? (double)col_longest * CHAR_WIDTH + 1.0 : 2.4;
  double left_labels = (double)row_longest * CHAR_WIDTH + 1.2;
  viewport(m, left_labels + (s->ylabel ? 2.2 : 0.8), 9.0, bottom_labels + (s->xlabel ? 2.2 : 0.8),
           s->title ? 3.0 : 1.5);
  plwind(0.5, (double)cols + 0.5, 0.5, (double)rows + 0.5);
  colour_map(s->cmap);
  plimagefr((PLFLT_MATRIX)idata, (PLINT)cols, (PLINT)rows, 0.5, (double)cols + 0.5, 0.5,
            (double)rows + 0.5, lo, hi, lo, hi, pltr1, &grid);
  free(idata);
  free(cells);
  free(xg);
  free(yg);
  plcol0(COL_FG);
  plbox("bc", 0, 0, "bc", 0, 0);
  category_labels("b", s->col_labels, cols, vertical, 0);
  category_labels("l", s->row_labels, rows, 0, 1);

  /* The colour bar, to the right of the box. */
  const char *axis_opts[] = {"bcvtm"};
  PLINT sub_ticks[] = {0}, n_values[] = {2}, label_opts[] = {PL_COLORBAR_LABEL_BOTTOM};
  PLFLT ticks[] = {0.0}, range[] = {lo, hi};
  const PLFLT *values[] = {range};
  const char *labels[] = {""};
  PLFLT w, h;
  plcolorbar(&w, &h, PL_COLORBAR_IMAGE,
             PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 0.02, 0.0, 0.03, 1.0,
             COL_BG, COL_FG, 1, 0.0, 0.0, 0, 0.0, 0, label_opts, labels, 1, axis_opts, ticks,
             sub_ticks, n_values, (PLFLT_MATRIX)values);
  titles(s, bottom_labels + 1.2, left_labels + 1.0);
  return SEER_OK;
}

int seer_plot_draw(const seer_plot_spec *spec, seer_error *err) {
  pladv(0);
  plschr(0, 1.0);
  return spec->kind == SEER_PLOT_HEATMAP ? draw_heatmap(spec, err) : draw_xy(spec, err);
}
