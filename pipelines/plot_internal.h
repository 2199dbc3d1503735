/* Helpers shared by the cairo figures (plot.c, plot_heatmap.c). */
#ifndef GESTA_PLOT_INTERNAL_H
#define GESTA_PLOT_INTERNAL_H

#include <cairo.h>
#include <stdint.h>

#include "gesta/error.h"

/* A white RGB surface of w x h and a context on it with the figures'
 * font; BACKEND_ERROR or OUT_OF_MEMORY when cairo cannot make them. On
 * failure nothing is left to free. */
gesta_status plot_canvas_new(int w, int h, cairo_surface_t **surface,
                             cairo_t **cr, gesta_error *err);

/* Writes the surface as PNG and frees both (also on failure). */
gesta_status plot_canvas_finish(cairo_surface_t *surface, cairo_t *cr,
                                const char *path, gesta_error *err);

void plot_set_rgb(cairo_t *cr, uint32_t rgb);

/* Text placed relative to (x, y): ax, ay in [0, 1] pick the anchor within
 * the text's box (0, 0 top left; 0.5, 0.5 centre; 1, 1 bottom right),
 * rotated by angle radians around the anchor. */
void plot_text(cairo_t *cr, const char *text, double x, double y, double ax,
               double ay, double angle);

/* Width of text in the current font. */
double plot_text_width(cairo_t *cr, const char *text);

#endif
