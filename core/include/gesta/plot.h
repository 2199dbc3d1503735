/* gesta — figures as PNG files, drawn with cairo: line charts (training
 * curves against epochs) and a confusion-matrix heatmap.
 *
 * Built with the video pipeline (GESTA_GSTREAMER, which brings cairo):
 * GESTA_HAVE_GSTREAMER is then defined. Nothing here is global; every call
 * makes its own surface and writes one file with
 * cairo_surface_write_to_png. */
#ifndef GESTA_PLOT_H
#define GESTA_PLOT_H

#include <stdint.h>

#include "gesta/error.h"
#include "gesta/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One line of a chart: y has the chart's n values; a value that is NaN or
 * infinite is no point (the line breaks there). */
typedef struct gesta_plot_series {
  const char *label; /* legend text (borrowed) */
  const double *y;   /* borrowed */
  uint32_t rgb;      /* 0xRRGGBB */
} gesta_plot_series;

typedef struct gesta_line_chart {
  const char *title, *x_label, *y_label; /* borrowed; NULL: none */
  const double *x;                       /* n values, finite, ascending */
  int64_t n;
  const gesta_plot_series *series;
  int n_series;
  /* Ticks on whole numbers only (epochs). */
  int x_integer;
  /* A dashed vertical line at this x with mark_label next to it (the best
   * epoch); NaN: none. */
  double mark_x;
  const char *mark_label;
  int width, height; /* pixels; 0: 800 x 500 */
} gesta_line_chart;

/* Sets every field to its default: no titles, no mark, 800 x 500. */
void gesta_line_chart_init(gesta_line_chart *chart);

/* Draws the chart with axes, ticks, a legend (in the corner with the
 * fewest points) and the mark, and writes it as PNG to path. A chart with
 * no finite point at all is BAD_INPUT; a file that cannot be written is
 * IO_ERROR naming it. */
gesta_status gesta_plot_lines_png(const gesta_line_chart *chart,
                                  const char *path, gesta_error *err);

/* A confusion matrix as a heatmap: rows the true classes, columns the
 * predicted ones, the count in each cell and its shade the cell's share of
 * its row (the class's recall on the diagonal). class_names has
 * cm->n_classes entries; title may be NULL. The size follows the number of
 * classes and the length of their names; counts are left out of cells too
 * small to hold them. */
gesta_status gesta_plot_confusion_png(const gesta_confusion *cm,
                                      const char *const *class_names,
                                      const char *title, const char *path,
                                      gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
