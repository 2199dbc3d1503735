/* Line charts as PNG with cairo: the training curves `gesta plot` draws,
 * in the seed's matplotlib style (one colour per series, a legend, a
 * title), with nice ticks and the best epoch marked. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gesta/plot.h"
#include "plot_internal.h"

#define PLOT_FONT_SIZE 13.0
#define PLOT_MAX_SIDE 8000
#define PLOT_PI 3.14159265358979323846

gesta_status plot_canvas_new(int w, int h, cairo_surface_t **surface,
                             cairo_t **cr, gesta_error *err) {
  *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  if (cairo_surface_status(*surface) != CAIRO_STATUS_SUCCESS) {
    gesta_status status = gesta_error_set(
        err, GESTA_STATUS_OUT_OF_MEMORY, "cannot make a %dx%d image: %s", w, h,
        cairo_status_to_string(cairo_surface_status(*surface)));
    cairo_surface_destroy(*surface);
    *surface = NULL;
    return status;
  }
  *cr = cairo_create(*surface);
  if (cairo_status(*cr) != CAIRO_STATUS_SUCCESS) {
    gesta_status status = gesta_error_set(
        err, GESTA_STATUS_OUT_OF_MEMORY, "cannot draw on a %dx%d image: %s", w,
        h, cairo_status_to_string(cairo_status(*cr)));
    cairo_destroy(*cr);
    cairo_surface_destroy(*surface);
    *cr = NULL;
    *surface = NULL;
    return status;
  }
  cairo_set_source_rgb(*cr, 1, 1, 1);
  cairo_paint(*cr);
  cairo_select_font_face(*cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(*cr, PLOT_FONT_SIZE);
  return GESTA_STATUS_OK;
}

gesta_status plot_canvas_finish(cairo_surface_t *surface, cairo_t *cr,
                                const char *path, gesta_error *err) {
  cairo_status_t cs = cairo_status(cr);
  gesta_status status = GESTA_STATUS_OK;
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  if (cs != CAIRO_STATUS_SUCCESS)
    status = gesta_error_set(err, GESTA_STATUS_BACKEND_ERROR,
                             "drawing %s failed in cairo: %s", path,
                             cairo_status_to_string(cs));
  else if ((cs = cairo_surface_write_to_png(surface, path)) !=
           CAIRO_STATUS_SUCCESS)
    status = gesta_error_set(
        err, GESTA_STATUS_IO_ERROR,
        "cannot write %s (%s): check that its folder exists and is writable",
        path, cairo_status_to_string(cs));
  cairo_surface_destroy(surface);
  return status;
}

void plot_set_rgb(cairo_t *cr, uint32_t rgb) {
  cairo_set_source_rgb(cr, ((rgb >> 16) & 0xff) / 255.0,
                       ((rgb >> 8) & 0xff) / 255.0, (rgb & 0xff) / 255.0);
}

void plot_text(cairo_t *cr, const char *text, double x, double y, double ax,
               double ay, double angle) {
  cairo_font_extents_t fe;
  cairo_text_extents_t te;
  cairo_font_extents(cr, &fe);
  cairo_text_extents(cr, text, &te);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -ax * te.x_advance,
                -ay * (fe.ascent + fe.descent) + fe.ascent);
  cairo_show_text(cr, text);
  cairo_restore(cr);
}

double plot_text_width(cairo_t *cr, const char *text) {
  cairo_text_extents_t te;
  cairo_text_extents(cr, text, &te);
  return te.x_advance;
}

void gesta_line_chart_init(gesta_line_chart *chart) {
  memset(chart, 0, sizeof *chart);
  chart->mark_x = NAN;
}

/* ---- scales ------------------------------------------------------------- */

typedef struct plot_axis {
  double lo, hi, step; /* data range shown and the tick spacing */
  int decimals;        /* for tick labels */
} plot_axis;

/* A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks. */
static double plot_nice_step(double span, int ticks) {
  double raw = span / ticks, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
}

static void plot_axis_fit(plot_axis *a, double lo, double hi, int ticks,
                          bool integer) {
  if (hi - lo < 1e-12 * fmax(1.0, fabs(hi))) {
    double pad = integer ? 1.0 : fmax(fabs(lo) * 0.1, 0.05);
    lo -= pad;
    hi += pad;
  }
  if (!integer) {
    /* a margin, so extreme values do not sit on the frame */
    double margin = 0.04 * (hi - lo);
    lo -= margin;
    hi += margin;
  }
  a->step = plot_nice_step(hi - lo, ticks);
  if (integer && a->step < 1.0)
    a->step = 1.0;
  if (integer) {
    /* matplotlib's margins, so the first and last epoch are off the frame */
    double margin = 0.04 * (hi - lo);
    a->lo = lo - margin;
    a->hi = hi + margin;
  } else {
    a->lo = floor(lo / a->step) * a->step;
    a->hi = ceil(hi / a->step) * a->step;
  }
  a->decimals = a->step >= 1.0 ? 0 : (int)ceil(-log10(a->step) - 1e-9);
}

typedef struct plot_frame {
  double left, top, right, bottom; /* the plot area in pixels */
  plot_axis x, y;
  double mark_box[4]; /* the mark's label (x0, y0, x1, y1); x1 < x0: none */
} plot_frame;

static double plot_px(const plot_frame *f, double x) {
  return f->left + (x - f->x.lo) / (f->x.hi - f->x.lo) * (f->right - f->left);
}

static double plot_py(const plot_frame *f, double y) {
  return f->bottom - (y - f->y.lo) / (f->y.hi - f->y.lo) * (f->bottom - f->top);
}

/* ---- drawing ------------------------------------------------------------ */

static void plot_axes(cairo_t *cr, const plot_frame *f,
                      const gesta_line_chart *c) {
  char label[64];
  double first;
  /* light grid and tick labels */
  cairo_set_line_width(cr, 1.0);
  first = ceil(f->y.lo / f->y.step - 1e-9) * f->y.step;
  for (double v = first; v <= f->y.hi + f->y.step * 1e-6; v += f->y.step) {
    double py = round(plot_py(f, v)) + 0.5;
    plot_set_rgb(cr, 0xe6e6e6);
    cairo_move_to(cr, f->left, py);
    cairo_line_to(cr, f->right, py);
    cairo_stroke(cr);
    plot_set_rgb(cr, 0x000000);
    cairo_move_to(cr, f->left - 5, py);
    cairo_line_to(cr, f->left, py);
    cairo_stroke(cr);
    snprintf(label, sizeof label, "%.*f", f->y.decimals,
             fabs(v) < f->y.step * 1e-6 ? 0.0 : v);
    plot_text(cr, label, f->left - 8, py, 1.0, 0.5, 0);
  }
  first = ceil(f->x.lo / f->x.step - 1e-9) * f->x.step;
  for (double v = first; v <= f->x.hi + f->x.step * 1e-6; v += f->x.step) {
    double px = round(plot_px(f, v)) + 0.5;
    plot_set_rgb(cr, 0xe6e6e6);
    cairo_move_to(cr, px, f->top);
    cairo_line_to(cr, px, f->bottom);
    cairo_stroke(cr);
    plot_set_rgb(cr, 0x000000);
    cairo_move_to(cr, px, f->bottom);
    cairo_line_to(cr, px, f->bottom + 5);
    cairo_stroke(cr);
    snprintf(label, sizeof label, "%.*f", f->x.decimals,
             fabs(v) < f->x.step * 1e-6 ? 0.0 : v);
    plot_text(cr, label, px, f->bottom + 8, 0.5, 0.0, 0);
  }
  plot_set_rgb(cr, 0x000000);
  cairo_rectangle(cr, round(f->left) + 0.5, round(f->top) + 0.5,
                  round(f->right - f->left), round(f->bottom - f->top));
  cairo_stroke(cr);
  if (c->x_label)
    plot_text(cr, c->x_label, (f->left + f->right) / 2, f->bottom + 30, 0.5,
              0.0, 0);
  if (c->y_label)
    plot_text(cr, c->y_label, f->left - 58, (f->top + f->bottom) / 2, 0.5, 1.0,
              -PLOT_PI / 2);
  if (c->title) {
    cairo_save(cr);
    cairo_set_font_size(cr, PLOT_FONT_SIZE * 1.25);
    plot_text(cr, c->title, (f->left + f->right) / 2, f->top - 12, 0.5, 1.0, 0);
    cairo_restore(cr);
  }
}

static void plot_series(cairo_t *cr, const plot_frame *f,
                        const gesta_line_chart *c, const gesta_plot_series *s) {
  bool pen = false;
  /* Dots only while the points are far apart, so few epochs stay legible
   * and many do not turn into a smear. */
  bool dots = (f->right - f->left) / (double)(c->n > 1 ? c->n - 1 : 1) >= 12.0;
  plot_set_rgb(cr, s->rgb);
  cairo_set_line_width(cr, 2.0);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (int64_t i = 0; i < c->n; i++) {
    if (!isfinite(s->y[i])) {
      pen = false;
      continue;
    }
    if (pen)
      cairo_line_to(cr, plot_px(f, c->x[i]), plot_py(f, s->y[i]));
    else
      cairo_move_to(cr, plot_px(f, c->x[i]), plot_py(f, s->y[i]));
    pen = true;
  }
  cairo_stroke(cr);
  for (int64_t i = 0; i < c->n; i++) {
    bool alone = (i == 0 || !isfinite(s->y[i - 1])) &&
                 (i == c->n - 1 || !isfinite(s->y[i + 1]));
    if (!isfinite(s->y[i]) || (!dots && !alone))
      continue;
    cairo_arc(cr, plot_px(f, c->x[i]), plot_py(f, s->y[i]), 3.0, 0,
              2 * PLOT_PI);
    cairo_fill(cr);
  }
}

static void plot_mark(cairo_t *cr, plot_frame *f, const gesta_line_chart *c) {
  static const double dash[] = {6.0, 4.0};
  double px;
  if (!isfinite(c->mark_x) || c->mark_x < f->x.lo || c->mark_x > f->x.hi)
    return;
  px = round(plot_px(f, c->mark_x)) + 0.5;
  cairo_save(cr);
  plot_set_rgb(cr, 0x2ca02c);
  cairo_set_line_width(cr, 1.5);
  cairo_set_dash(cr, dash, 2, 0);
  cairo_move_to(cr, px, f->top);
  cairo_line_to(cr, px, f->bottom);
  cairo_stroke(cr);
  cairo_restore(cr);
  if (c->mark_label) {
    /* inside the plot, on whichever side of the line has room */
    double tw = plot_text_width(cr, c->mark_label);
    bool right = px + 6 + tw < f->right - 4;
    f->mark_box[0] = right ? px + 6 : px - 6 - tw;
    f->mark_box[1] = f->top + 6;
    f->mark_box[2] = f->mark_box[0] + tw;
    f->mark_box[3] = f->top + 6 + PLOT_FONT_SIZE * 1.3;
    plot_set_rgb(cr, 0x2ca02c);
    plot_text(cr, c->mark_label, right ? px + 6 : px - 6, f->top + 6,
              right ? 0.0 : 1.0, 0.0, 0);
  }
}

/* Points of the chart inside a box, to choose where the legend goes. */
static int64_t plot_points_in(const plot_frame *f, const gesta_line_chart *c,
                              double x0, double y0, double x1, double y1) {
  int64_t count = 0;
  for (int s = 0; s < c->n_series; s++)
    for (int64_t i = 0; i < c->n; i++) {
      double px, py;
      if (!isfinite(c->series[s].y[i]))
        continue;
      px = plot_px(f, c->x[i]);
      py = plot_py(f, c->series[s].y[i]);
      count += px >= x0 - 4 && px <= x1 + 4 && py >= y0 - 4 && py <= y1 + 4;
    }
  return count;
}

static void plot_legend(cairo_t *cr, const plot_frame *f,
                        const gesta_line_chart *c) {
  const double pad = 8, line = 20, swatch = 24;
  double w = 0, h = pad * 2 + line * c->n_series, x, y;
  double best_x = 0, best_y = 0;
  int64_t best = -1;
  for (int s = 0; s < c->n_series; s++)
    w = fmax(w, plot_text_width(cr, c->series[s].label));
  w += swatch + pad * 3;
  /* matplotlib's loc="best", over the four corners: upper right first */
  for (int corner = 0; corner < 4; corner++) {
    double cx = corner % 2 == 0 ? f->right - 10 - w : f->left + 10;
    double cy = corner < 2 ? f->top + 10 : f->bottom - 10 - h;
    int64_t n = plot_points_in(f, c, cx, cy, cx + w, cy + h);
    /* never over the mark's label */
    if (f->mark_box[2] > f->mark_box[0] && cx < f->mark_box[2] &&
        cx + w > f->mark_box[0] && cy < f->mark_box[3] &&
        cy + h > f->mark_box[1])
      n += 1000000;
    if (best < 0 || n < best) {
      best = n;
      best_x = cx;
      best_y = cy;
    }
  }
  x = best_x;
  y = best_y;
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_rectangle(cr, x, y, w, h);
  cairo_fill_preserve(cr);
  plot_set_rgb(cr, 0xcccccc);
  cairo_set_line_width(cr, 1.0);
  cairo_stroke(cr);
  for (int s = 0; s < c->n_series; s++) {
    double ly = y + pad + line * (s + 0.5);
    plot_set_rgb(cr, c->series[s].rgb);
    cairo_set_line_width(cr, 2.0);
    cairo_move_to(cr, x + pad, ly);
    cairo_line_to(cr, x + pad + swatch, ly);
    cairo_stroke(cr);
    plot_set_rgb(cr, 0x000000);
    plot_text(cr, c->series[s].label, x + pad * 2 + swatch, ly, 0.0, 0.5, 0);
  }
}

gesta_status gesta_plot_lines_png(const gesta_line_chart *chart,
                                  const char *path, gesta_error *err) {
  int w = chart->width ? chart->width : 800;
  int h = chart->height ? chart->height : 500;
  double ylo = INFINITY, yhi = -INFINITY;
  cairo_surface_t *surface;
  cairo_t *cr;
  plot_frame f;
  gesta_status status;

  if (w < 200 || h < 150 || w > PLOT_MAX_SIDE || h > PLOT_MAX_SIDE)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "a chart must be 200x150 to %dx%d pixels, not %dx%d",
                           PLOT_MAX_SIDE, PLOT_MAX_SIDE, w, h);
  for (int64_t i = 0; i < chart->n; i++) {
    if (!isfinite(chart->x[i]) || (i > 0 && chart->x[i] < chart->x[i - 1]))
      return gesta_error_set(
          err, GESTA_STATUS_BAD_INPUT,
          "%s: the x values must be finite and ascending (value %lld is %g)",
          chart->title ? chart->title : path, (long long)i + 1, chart->x[i]);
    for (int s = 0; s < chart->n_series; s++)
      if (isfinite(chart->series[s].y[i])) {
        ylo = fmin(ylo, chart->series[s].y[i]);
        yhi = fmax(yhi, chart->series[s].y[i]);
      }
  }
  if (!(ylo <= yhi))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: no finite value to plot",
                           chart->title ? chart->title : path);
  status = plot_canvas_new(w, h, &surface, &cr, err);
  if (status != GESTA_STATUS_OK)
    return status;
  f.mark_box[0] = 1;
  f.mark_box[2] = 0;
  f.left = 80;
  f.right = w - 20;
  f.top = chart->title ? 50 : 20;
  f.bottom = h - (chart->x_label ? 60 : 35);
  plot_axis_fit(&f.x, chart->x[0], chart->x[chart->n - 1],
                (int)fmax(2, (f.right - f.left) / 80), chart->x_integer);
  plot_axis_fit(&f.y, ylo, yhi, (int)fmax(2, (f.bottom - f.top) / 60), false);
  plot_axes(cr, &f, chart);
  cairo_save(cr);
  cairo_rectangle(cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
  cairo_clip(cr);
  plot_mark(cr, &f, chart);
  for (int s = 0; s < chart->n_series; s++)
    plot_series(cr, &f, chart, &chart->series[s]);
  cairo_restore(cr);
  if (chart->n_series > 0)
    plot_legend(cr, &f, chart);
  return plot_canvas_finish(surface, cr, path, err);
}
