/* A confusion matrix as a PNG heatmap with cairo, laid out like
 * scikit-learn's ConfusionMatrixDisplay: true classes down the left,
 * predicted classes along the bottom, the count in each cell, and a
 * colour bar. A cell's shade is its share of its row, so a class with few
 * samples is as readable as a large one. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "gesta/plot.h"
#include "plot_internal.h"

#define HEATMAP_PI 3.14159265358979323846
/* The matrix itself never grows past this many pixels a side. */
#define HEATMAP_MAX_GRID 4000.0

/* matplotlib's "Blues" colour map, its nine stops. */
static const uint32_t heatmap_blues[9] = {0xf7fbff, 0xdeebf7, 0xc6dbef,
                                          0x9ecae1, 0x6baed6, 0x4292c6,
                                          0x2171b5, 0x08519c, 0x08306b};

static void heatmap_colour(cairo_t *cr, double t) {
  double pos = fmin(fmax(t, 0.0), 1.0) * 8.0, rgb[3];
  int i = (int)floor(pos);
  double f;
  if (i >= 8)
    i = 7;
  f = pos - i;
  for (int k = 0; k < 3; k++) {
    int shift = 16 - 8 * k;
    double a = (heatmap_blues[i] >> shift) & 0xff;
    double b = (heatmap_blues[i + 1] >> shift) & 0xff;
    rgb[k] = (a + (b - a) * f) / 255.0;
  }
  cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
}

typedef struct heatmap_layout {
  int n;
  double cell, font;
  bool names, counts, rotate_columns;
  double row_names_w, column_names_h;
  double grid_x, grid_y; /* top left of the matrix */
  int width, height;
} heatmap_layout;

static void heatmap_measure(cairo_t *cr, const gesta_confusion *cm,
                            const char *const *names, const char *title,
                            heatmap_layout *l) {
  double widest = 0, count_w;
  char text[32];
  int64_t largest = 0;
  l->n = cm->n_classes;
  /* 56 px cells up to 12 classes, then the matrix stays about 720 px
   * until cells reach 16 px, then grows up to its limit */
  l->cell = fmax(16.0, fmin(56.0, 720.0 / l->n));
  if (l->cell * l->n > HEATMAP_MAX_GRID)
    l->cell = HEATMAP_MAX_GRID / l->n;
  l->font = fmin(13.0, l->cell * 0.5);
  l->names = l->cell >= 8.0;
  cairo_set_font_size(cr, l->font);
  for (int64_t i = 0; i < (int64_t)l->n * l->n; i++)
    largest = cm->counts[i] > largest ? cm->counts[i] : largest;
  snprintf(text, sizeof text, "%lld", (long long)largest);
  count_w = plot_text_width(cr, text);
  l->counts = count_w + 6 <= l->cell && l->font >= 7.0;
  for (int c = 0; l->names && c < l->n; c++)
    widest = fmax(widest, plot_text_width(cr, names[c]));
  l->rotate_columns = widest > l->cell - 6;
  l->row_names_w = l->names ? widest + 10 : 0;
  l->column_names_h =
      l->names ? (l->rotate_columns ? widest + 10 : l->font * 1.6) : 0;
  l->grid_x = 34 + l->row_names_w;
  l->grid_y = title ? 50 : 20;
  /* matrix, gap, colour bar with its labels ("100%"), margin */
  l->width = (int)ceil(l->grid_x + l->n * l->cell + 24 + 16 + 50);
  l->height = (int)ceil(l->grid_y + l->n * l->cell + l->column_names_h + 40);
  if (l->width < 320)
    l->width = 320;
}

static void heatmap_cells(cairo_t *cr, const gesta_confusion *cm,
                          const heatmap_layout *l) {
  char text[32];
  cairo_set_font_size(cr, l->font);
  for (int t = 0; t < l->n; t++) {
    int64_t row = 0;
    for (int p = 0; p < l->n; p++)
      row += gesta_confusion_at(cm, t, p);
    for (int p = 0; p < l->n; p++) {
      int64_t count = gesta_confusion_at(cm, t, p);
      double share = row > 0 ? (double)count / (double)row : 0.0;
      double x = l->grid_x + p * l->cell, y = l->grid_y + t * l->cell;
      heatmap_colour(cr, share);
      cairo_rectangle(cr, x, y, l->cell, l->cell);
      cairo_fill(cr);
      if (!l->counts)
        continue;
      snprintf(text, sizeof text, "%lld", (long long)count);
      if (share > 0.5)
        cairo_set_source_rgb(cr, 1, 1, 1);
      else
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      plot_text(cr, text, x + l->cell / 2, y + l->cell / 2, 0.5, 0.5, 0);
    }
  }
  plot_set_rgb(cr, 0x000000);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, round(l->grid_x) + 0.5, round(l->grid_y) + 0.5,
                  round(l->n * l->cell), round(l->n * l->cell));
  cairo_stroke(cr);
}

static void heatmap_names(cairo_t *cr, const char *const *names,
                          const heatmap_layout *l) {
  double bottom = l->grid_y + l->n * l->cell;
  cairo_set_font_size(cr, l->font);
  plot_set_rgb(cr, 0x000000);
  for (int c = 0; l->names && c < l->n; c++) {
    double mid = (c + 0.5) * l->cell;
    plot_text(cr, names[c], l->grid_x - 6, l->grid_y + mid, 1.0, 0.5, 0);
    if (l->rotate_columns)
      plot_text(cr, names[c], l->grid_x + mid, bottom + 6, 1.0, 0.5,
                -HEATMAP_PI / 2);
    else
      plot_text(cr, names[c], l->grid_x + mid, bottom + 4, 0.5, 0.0, 0);
  }
  cairo_set_font_size(cr, 13.0);
  plot_text(cr, "Predicted label", l->grid_x + l->n * l->cell / 2,
            bottom + l->column_names_h + 10, 0.5, 0.0, 0);
  plot_text(cr, "True label", 8, l->grid_y + l->n * l->cell / 2, 0.5, 0.0,
            -HEATMAP_PI / 2);
}

static void heatmap_colour_bar(cairo_t *cr, const heatmap_layout *l) {
  double x = l->grid_x + l->n * l->cell + 24, top = l->grid_y;
  double h = l->n * l->cell, w = 16;
  int steps = (int)fmax(2, h);
  char text[16];
  for (int i = 0; i < steps; i++) {
    heatmap_colour(cr, 1.0 - (double)i / (steps - 1));
    cairo_rectangle(cr, x, top + h * i / steps, w, h / steps + 1);
    cairo_fill(cr);
  }
  plot_set_rgb(cr, 0x000000);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, round(x) + 0.5, round(top) + 0.5, w, round(h));
  cairo_stroke(cr);
  cairo_set_font_size(cr, 11.0);
  for (int k = 0; k <= 4; k++) {
    double y = top + h - h * k / 4.0;
    if (h < 60 && k % 2)
      continue;
    cairo_move_to(cr, x + w, round(y) + 0.5);
    cairo_line_to(cr, x + w + 4, round(y) + 0.5);
    cairo_stroke(cr);
    snprintf(text, sizeof text, "%d%%", k * 25);
    plot_text(cr, text, x + w + 6, y, 0.0, 0.5, 0);
  }
}

gesta_status gesta_plot_confusion_png(const gesta_confusion *cm,
                                      const char *const *class_names,
                                      const char *title, const char *path,
                                      gesta_error *err) {
  cairo_surface_t *probe, *surface;
  cairo_t *cr;
  heatmap_layout l;
  gesta_status status;

  if (cm->n_classes < 1 || !cm->counts)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: the confusion matrix is empty", path);
  /* Text sizes decide the image size: measure on a scratch surface. */
  status = plot_canvas_new(1, 1, &probe, &cr, err);
  if (status != GESTA_STATUS_OK)
    return status;
  heatmap_measure(cr, cm, class_names, title, &l);
  cairo_destroy(cr);
  cairo_surface_destroy(probe);

  status = plot_canvas_new(l.width, l.height, &surface, &cr, err);
  if (status != GESTA_STATUS_OK)
    return status;
  if (title) {
    cairo_set_font_size(cr, 16.0);
    plot_set_rgb(cr, 0x000000);
    plot_text(cr, title, l.grid_x + l.n * l.cell / 2, l.grid_y - 14, 0.5, 1.0,
              0);
  }
  heatmap_cells(cr, cm, &l);
  heatmap_names(cr, class_names, &l);
  heatmap_colour_bar(cr, &l);
  return plot_canvas_finish(surface, cr, path, err);
}
