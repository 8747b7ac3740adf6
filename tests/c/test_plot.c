/* runtime/plot: every chart kind renders to a well-formed PNG (signature, IHDR size, IEND) and SVG
 * (root element with the size), many renders in a row leave PLplot usable, and bad specs are
 * refused with a message naming the problem, before PLplot sees them. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "seer/plot.h"

static uint32_t be32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) | ((uint32_t)u[2] << 8) | u[3];
}

static void check_png(const seer_plot_spec *s, const char *what) {
  seer_buf out = SEER_BUF_INIT;
  seer_error err = {0};
  int rc = seer_plot_render(s, SEER_PLOT_PNG, &out, &err);
  CHECK_MSG(rc == SEER_OK, "%s png: %s", what, err.msg);
  if (rc == SEER_OK) {
    CHECK_MSG(out.len > 33 && memcmp(out.data, "\x89PNG\r\n\x1a\n", 8) == 0, "%s: signature", what);
    CHECK_MSG(memcmp(out.data + 12, "IHDR", 4) == 0, "%s: IHDR", what);
    CHECK_MSG(be32(out.data + 16) == (uint32_t)s->width, "%s: width %u", what, be32(out.data + 16));
    CHECK_MSG(be32(out.data + 20) == (uint32_t)s->height, "%s: height", what);
    CHECK_MSG(memcmp(out.data + out.len - 8, "IEND", 4) == 0, "%s: IEND", what);
  }
  seer_buf_free(&out);
}

static void check_svg(const seer_plot_spec *s, const char *what) {
  seer_buf out = SEER_BUF_INIT;
  seer_error err = {0};
  int rc = seer_plot_render(s, SEER_PLOT_SVG, &out, &err);
  CHECK_MSG(rc == SEER_OK, "%s svg: %s", what, err.msg);
  if (rc == SEER_OK) {
    seer_buf_terminate(&out);
    char size[64];
    snprintf(size, sizeof size, "width=\"%dpt\" height=\"%dpt\"", s->width, s->height);
    CHECK_MSG(strncmp(out.data, "<?xml", 5) == 0, "%s: xml", what);
    CHECK_STR_CONTAINS(out.data, size);
    CHECK_STR_CONTAINS(out.data, "</svg>");
  }
  seer_buf_free(&out);
}

static void check_refused(const seer_plot_spec *s, const char *needle) {
  seer_buf out = SEER_BUF_INIT;
  seer_error err = {0};
  CHECK_MSG(seer_plot_render(s, SEER_PLOT_PNG, &out, &err) == SEER_EINVAL, "expected %s", needle);
  CHECK_STR_CONTAINS(err.msg, needle);
  CHECK(out.len == 0);
  seer_buf_free(&out);
}

static seer_plot_spec base(seer_plot_kind kind) {
  seer_plot_spec s;
  memset(&s, 0, sizeof s);
  s.kind = kind;
  s.width = 400;
  s.height = 300;
  s.ymin = s.ymax = s.zmin = s.zmax = NAN;
  return s;
}

int main(void) {
  double y1[] = {0.2, 0.5, 0.45, 0.9}, y2[] = {0.1, 0.3, 0.6, 0.4}, x[] = {1, 2, 4, 8};
  seer_plot_series two[] = {{x, y1, 4, "clean"}, {NULL, y2, 4, "patched #2"}};
  seer_plot_spec line = base(SEER_PLOT_LINE);
  line.series = two;
  line.nseries = 2;
  line.title = "Logit lens";
  line.xlabel = "layer";
  line.ylabel = "p(answer)";
  check_png(&line, "line");
  check_svg(&line, "line");

  seer_plot_spec scatter = line;
  scatter.kind = SEER_PLOT_SCATTER;
  check_png(&scatter, "scatter");

  const char *cats[] = {"L4", "L8", "L12", "a much longer category name"};
  seer_plot_spec bar = base(SEER_PLOT_BAR);
  bar.series = two;
  bar.nseries = 2;
  bar.categories = cats;
  bar.ncategories = 4;
  check_png(&bar, "bar");
  check_svg(&bar, "bar");

  double z[12];
  for (int i = 0; i < 12; i++)
    z[i] = sin(i) * 3;
  const char *rows[] = {"<s>", "The", "#cat"}, *cols[] = {"a", "b\n", "c", "d"};
  seer_plot_spec heat = base(SEER_PLOT_HEATMAP);
  heat.z = z;
  heat.rows = 3;
  heat.cols = 4;
  heat.row_labels = rows;
  heat.col_labels = cols;
  heat.cmap = SEER_PLOT_CMAP_DIVERGING;
  heat.title = "Attention";
  check_png(&heat, "heatmap");
  check_svg(&heat, "heatmap");
  heat.zmin = -1; /* values beyond the range take the end colours */
  heat.zmax = 1;
  heat.row_labels = heat.col_labels = NULL;
  check_png(&heat, "heatmap with a fixed range");

  /* PLplot streams are made and ended per chart: many in a row keep working. */
  for (int i = 0; i < 50; i++) {
    seer_buf out = SEER_BUF_INIT;
    seer_error err;
    if (seer_plot_render(&line, SEER_PLOT_SVG, &out, &err) != SEER_OK) {
      CHECK_MSG(0, "render %d: %s", i, err.msg);
      seer_buf_free(&out);
      break;
    }
    seer_buf_free(&out);
  }
  check_png(&line, "line after many renders");

  double bad[] = {1, NAN, 2};
  seer_plot_series nan_series[] = {{NULL, bad, 3, NULL}};
  seer_plot_spec s = base(SEER_PLOT_LINE);
  s.series = nan_series;
  s.nseries = 1;
  check_refused(&s, "y[2] is nan");
  s = line;
  s.width = 10;
  check_refused(&s, "outside 64..8192");
  s = line;
  s.nseries = 0;
  check_refused(&s, "no data series");
  s = bar;
  s.ncategories = 3;
  check_refused(&s, "3 labels for 4 bars");
  s = heat;
  s.rows = SEER_PLOT_MAX_POINTS;
  check_refused(&s, "cells is more than");
  s = heat;
  s.zmin = 2;
  s.zmax = 1;
  check_refused(&s, "zmin must be below zmax");
  char long_title[SEER_PLOT_MAX_TEXT + 2];
  memset(long_title, 'x', sizeof long_title - 1);
  long_title[sizeof long_title - 1] = '\0';
  s = line;
  s.title = long_title;
  check_refused(&s, "title is longer than");
  return check_summary();
}
