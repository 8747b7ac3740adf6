/* plot.c: owns checking a chart spec and producing its bytes: a cairo image (PNG) or SVG surface
 * writing to memory, a fresh PLplot stream on the "extcairo" driver drawing onto it, and PLplot's
 * error hooks. What is drawn for each kind of chart is in plot_draw.c. */
#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <plplot.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include "plot_internal.h"

/* ---- checking the spec ---- */

static int check_text(const char *what, const char *s, seer_error *err) {
  if (s && strlen(s) > SEER_PLOT_MAX_TEXT)
    return seer_errorf(err, SEER_EINVAL, "plot: the %s is longer than %d bytes", what,
                       SEER_PLOT_MAX_TEXT);
  return SEER_OK;
}

static int check_values(const char *what, const double *v, size_t n, seer_error *err) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return seer_errorf(err, SEER_EINVAL,
                         "plot: %s[%zu] is %g; every value must be a finite number (drop or "
                         "replace NaN and inf first)",
                         what, i + 1, v[i]);
  return SEER_OK;
}

static int check_labels(const char *what, const char *const *labels, size_t n, seer_error *err) {
  if (!labels) return SEER_OK;
  for (size_t i = 0; i < n; i++) {
    if (!labels[i]) return seer_errorf(err, SEER_EINVAL, "plot: %s %zu is missing", what, i + 1);
    if (check_text(what, labels[i], err)) return err ? err->code : SEER_EINVAL;
  }
  return SEER_OK;
}

int seer_plot_check(const seer_plot_spec *s, seer_error *err) {
  if (s->width < SEER_PLOT_MIN_SIDE || s->width > SEER_PLOT_MAX_SIDE ||
      s->height < SEER_PLOT_MIN_SIDE || s->height > SEER_PLOT_MAX_SIDE)
    return seer_errorf(err, SEER_EINVAL, "plot: the size %dx%d is outside %d..%d on each side",
                       s->width, s->height, SEER_PLOT_MIN_SIDE, SEER_PLOT_MAX_SIDE);
  if (check_text("title", s->title, err) || check_text("x label", s->xlabel, err) ||
      check_text("y label", s->ylabel, err))
    return SEER_EINVAL;
  if ((!isnan(s->ymin) && !isfinite(s->ymin)) || (!isnan(s->ymax) && !isfinite(s->ymax)) ||
      (isfinite(s->ymin) && isfinite(s->ymax) && !(s->ymin < s->ymax)))
    return seer_errorf(err, SEER_EINVAL, "plot: ymin must be below ymax");
  if (s->kind == SEER_PLOT_HEATMAP) {
    if (s->rows == 0 || s->cols == 0 || !s->z)
      return seer_errorf(err, SEER_EINVAL, "plot.heatmap: the matrix is empty");
    if (s->rows > SEER_PLOT_MAX_POINTS / s->cols)
      return seer_errorf(err, SEER_EINVAL, "plot.heatmap: %zux%zu cells is more than %u", s->rows,
                         s->cols, SEER_PLOT_MAX_POINTS);
    if ((!isnan(s->zmin) && !isfinite(s->zmin)) || (!isnan(s->zmax) && !isfinite(s->zmax)) ||
        (isfinite(s->zmin) && isfinite(s->zmax) && !(s->zmin < s->zmax)))
      return seer_errorf(err, SEER_EINVAL, "plot.heatmap: zmin must be below zmax");
    if (check_values("z", s->z, s->rows * s->cols, err) ||
        check_labels("row label", s->row_labels, s->rows, err) ||
        check_labels("column label", s->col_labels, s->cols, err))
      return SEER_EINVAL;
    return SEER_OK;
  }
  if (s->kind != SEER_PLOT_LINE && s->kind != SEER_PLOT_SCATTER && s->kind != SEER_PLOT_BAR)
    return seer_errorf(err, SEER_EINVAL, "plot: unknown chart kind %d", (int)s->kind);
  if (s->nseries == 0 || !s->series)
    return seer_errorf(err, SEER_EINVAL, "plot: there is no data series to draw");
  if (s->nseries > SEER_PLOT_MAX_SERIES)
    return seer_errorf(err, SEER_EINVAL, "plot: %zu series is more than %d", s->nseries,
                       SEER_PLOT_MAX_SERIES);
  size_t total = 0;
  for (size_t i = 0; i < s->nseries; i++) {
    const seer_plot_series *se = &s->series[i];
    if (se->n == 0 || !se->y)
      return seer_errorf(err, SEER_EINVAL, "plot: series %zu has no values", i + 1);
    if (se->n > SEER_PLOT_MAX_POINTS - total)
      return seer_errorf(err, SEER_EINVAL, "plot: more than %u points in all",
                         SEER_PLOT_MAX_POINTS);
    total += se->n;
    if (check_values("y", se->y, se->n, err) || (se->x && check_values("x", se->x, se->n, err)) ||
        check_text("legend label", se->label, err))
      return SEER_EINVAL;
    if (s->kind == SEER_PLOT_BAR && se->n != s->series[0].n)
      return seer_errorf(err, SEER_EINVAL,
                         "plot.bar: series %zu has %zu values and series 1 has %zu; grouped "
                         "bars need the same count",
                         i + 1, se->n, s->series[0].n);
  }
  if (s->kind == SEER_PLOT_BAR && s->categories) {
    if (s->ncategories != s->series[0].n)
      return seer_errorf(err, SEER_EINVAL, "plot.bar: %zu labels for %zu bars", s->ncategories,
                         s->series[0].n);
    if (s->ncategories > SEER_PLOT_MAX_CATEGORIES)
      return seer_errorf(err, SEER_EINVAL, "plot.bar: %zu bars is more than %d", s->ncategories,
                         SEER_PLOT_MAX_CATEGORIES);
    if (check_labels("bar label", s->categories, s->ncategories, err)) return SEER_EINVAL;
  }
  return SEER_OK;
}

/* ---- PLplot's error hooks ----
 * PLplot calls exit() after a fatal error unless the exit handler does not return; the spec is
 * checked so that this cannot happen, and if it still does the handler jumps back to render. */
static jmp_buf *plplot_escape;
static char plplot_message[256];

static int on_plplot_exit(const char *msg) {
  snprintf(plplot_message, sizeof plplot_message, "%s", msg ? msg : "fatal error");
  if (plplot_escape) longjmp(*plplot_escape, 1);
  return 1;
}

static void on_plplot_abort(const char *msg) {
  if (!plplot_message[0]) snprintf(plplot_message, sizeof plplot_message, "%s", msg ? msg : "");
}

/* Whether PLplot has its extcairo driver, asked once: when the driver is missing, plsdev falls back
 * to asking on stdin which device to use, so PLplot is never asked to draw without it. */
static int driver_state; /* 0: not asked yet, 1: present, -1: missing (plplot_message says why) */
static char driver_message[256];

static int have_driver(seer_error *err) {
  if (driver_state == 0) {
    const char *menu[128], *names[128];
    const char **pmenu = menu, **pnames = names;
    int n = (int)(sizeof names / sizeof names[0]);
    jmp_buf escape;
    plplot_message[0] = '\0';
    plsexit(on_plplot_exit);
    plsabort(on_plplot_abort);
    if (setjmp(escape)) {
      driver_state = -1;
      snprintf(driver_message, sizeof driver_message, "%s", plplot_message);
    } else {
      plplot_escape = &escape;
      plgDevs(&pmenu, &pnames, &n);
      driver_state = -1;
      snprintf(driver_message, sizeof driver_message, "no extcairo device among %d", n);
      for (int i = 0; i < n; i++)
        if (pnames[i] && strcmp(pnames[i], "extcairo") == 0) driver_state = 1;
    }
    plplot_escape = NULL;
  }
  if (driver_state > 0) return SEER_OK;
  return seer_errorf(err, SEER_ENOTSUP,
                     "plot: PLplot's cairo driver is not available (%s); install it "
                     "(Debian: apt-get install plplot-driver-cairo) or set PLPLOT_DRV_DIR",
                     driver_message);
}

/* ---- output ---- */

static cairo_status_t append_bytes(void *closure, const unsigned char *data, unsigned int len) {
  return seer_buf_append(closure, data, len) == 0 ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static int cairo_failed(cairo_status_t st, const char *what, seer_error *err) {
  return seer_errorf(err, st == CAIRO_STATUS_NO_MEMORY ? SEER_ENOMEM : SEER_EIO,
                     "plot: cairo could not %s: %s", what, cairo_status_to_string(st));
}

/* Draws spec on a new PLplot stream bound to cr; the caller's stream is restored after. */
static int draw_on(cairo_t *cr, const seer_plot_spec *spec, seer_error *err) {
  PLINT previous, stream;
  plgstrm(&previous);
  plmkstrm(&stream);
  if (stream < 0) {
    plsstrm(previous);
    return seer_errorf(err, SEER_ENOMEM, "plot: PLplot has no free stream");
  }
  jmp_buf escape;
  plplot_message[0] = '\0';
  plsexit(on_plplot_exit);
  plsabort(on_plplot_abort);
  if (setjmp(escape)) {
    plplot_escape = NULL;
    plsstrm(previous);
    return seer_errorf(err, SEER_EINVAL, "plot: PLplot failed: %s", plplot_message);
  }
  plplot_escape = &escape;
  plsdev("extcairo");
  plspage(0, 0, spec->width, spec->height, 0, 0);
  seer_plot_set_palette();
  plinit();
  pl_cmd(PLESC_DEVINIT, cr);
  int rc = seer_plot_draw(spec, err);
  plend1();
  plplot_escape = NULL;
  plsstrm(previous);
  if (rc == SEER_OK && plplot_message[0])
    rc = seer_errorf(err, SEER_EINVAL, "plot: PLplot refused the chart: %s", plplot_message);
  return rc;
}

int seer_plot_render(const seer_plot_spec *spec, seer_plot_format format, seer_buf *out,
                     seer_error *err) {
  int rc = seer_plot_check(spec, err);
  if (rc) return rc;
  rc = have_driver(err);
  if (rc) return rc;
  size_t start = out->len;
  cairo_surface_t *surface =
      format == SEER_PLOT_SVG
          ? cairo_svg_surface_create_for_stream(append_bytes, out, spec->width, spec->height)
          : cairo_image_surface_create(CAIRO_FORMAT_RGB24, spec->width, spec->height);
  cairo_status_t st = cairo_surface_status(surface);
  if (st != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface);
    return cairo_failed(st, "create a surface", err);
  }
  cairo_t *cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  rc = draw_on(cr, spec, err);
  st = cairo_status(cr);
  cairo_destroy(cr);
  if (rc == SEER_OK && st != CAIRO_STATUS_SUCCESS) rc = cairo_failed(st, "draw", err);
  if (rc == SEER_OK && format == SEER_PLOT_PNG) {
    st = cairo_surface_write_to_png_stream(surface, append_bytes, out);
    if (st != CAIRO_STATUS_SUCCESS) rc = cairo_failed(st, "encode the PNG", err);
  }
  cairo_surface_finish(surface); /* an SVG surface writes its document here */
  st = cairo_surface_status(surface);
  if (rc == SEER_OK && st != CAIRO_STATUS_SUCCESS) rc = cairo_failed(st, "write the SVG", err);
  cairo_surface_destroy(surface);
  if (rc != SEER_OK) out->len = start;
  return rc;
}
