/* plot_internal.h: what plot.c (spec checks, surfaces, PLplot stream) and plot_draw.c (the charts)
 * share. */
#ifndef SEER_PLOT_INTERNAL_H
#define SEER_PLOT_INTERNAL_H

#include "seer/plot.h"

/* Sets cmap0 (white background, black axes, grey grid, then the series colours); call before
 * plinit. */
void seer_plot_set_palette(void);
/* Draws a checked spec on the current, initialised PLplot stream. */
int seer_plot_draw(const seer_plot_spec *spec, seer_error *err);

#endif
