/* gesta synth: drawing a planned clip with cairo, frame by frame, into
 * memory; the second class of each pair is the first one's frames
 * reversed. */
#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"

/* Per-frame state that follows a stationary random process. */
typedef struct synth_wobble {
  double jx, jy, sway;
} synth_wobble;

/* A mean-reverting random walk started from its stationary law is
 * time-reversible: played backwards it is the same process, so camera
 * shake never hints at the direction of time either. */
static double synth_ou(gesta_rng *rng, double prev, double sigma) {
  const double rho = 0.9;
  return rho * prev + sigma * sqrt(1 - rho * rho) * gesta_rng_normal(rng);
}

static double synth_smoothstep(double x) {
  x = synth_clamp(x, 0, 1);
  return x * x * (3 - 2 * x);
}

typedef struct synth_pen {
  cairo_t *cr;
  double cx, base_y, scale;
} synth_pen;

/* Figure coordinates: x to the right, y up, feet at 0, lengths in figure
 * heights. */
static void synth_line(const synth_pen *pen, double x0, double y0, double x1,
                       double y1) {
  cairo_move_to(pen->cr, pen->cx + x0 * pen->scale,
                pen->base_y - y0 * pen->scale);
  cairo_line_to(pen->cr, pen->cx + x1 * pen->scale,
                pen->base_y - y1 * pen->scale);
}

/* The knee of a leg from hip (hx, hy) to foot (fx, 0), bent outwards
 * (away from the body's centre line) when the leg is shorter than full. */
static void synth_knee(const synth_look *l, double hx, double hy, double fx,
                       double *kx, double *ky) {
  double dx = fx - hx, dy = -hy, d = sqrt(dx * dx + dy * dy), c, a, ux, uy;
  ux = dx / d;
  uy = dy / d;
  if (d >= l->thigh + l->shin - 1e-9) {
    *kx = hx + ux * l->thigh;
    *ky = hy + uy * l->thigh;
    return;
  }
  c = (l->thigh * l->thigh + d * d - l->shin * l->shin) / (2 * l->thigh * d);
  a = acos(synth_clamp(c, -1, 1)) * (hx >= 0 ? 1 : -1);
  *kx = hx + l->thigh * (ux * cos(a) - uy * sin(a));
  *ky = hy + l->thigh * (ux * sin(a) + uy * cos(a));
}

static void synth_head(const synth_pen *pen, const synth_look *l, double x,
                       double neck_y) {
  cairo_t *cr = pen->cr;
  double r = l->head_r * pen->scale;
  cairo_stroke(cr);
  cairo_new_sub_path(cr);
  cairo_arc(cr, pen->cx + x * pen->scale,
            pen->base_y - (neck_y + l->neck + l->head_r) * pen->scale, r, 0,
            2 * SYNTH_PI);
  cairo_set_source_rgb(cr, l->head.r, l->head.g, l->head.b);
  if (l->head_filled)
    cairo_fill(cr);
  else
    cairo_stroke(cr);
}

/* Facing the camera: arms and sit. Left-right mirror symmetric. */
static void synth_draw_frontal(const synth_plan *p, const synth_pen *pen,
                               double t) {
  const synth_look *l = &p->look;
  double k = synth_smoothstep((t - p->t0) / p->duration);
  double leg = l->thigh + l->shin, hip_y = leg, foot_x = l->hip_w, arm, elbow;
  if (p->pair == SYNTH_SIT) {
    double seat = l->shin * p->bend;
    hip_y = leg + (seat - leg) * k;
    foot_x = p->foot_x;
    arm = p->from + p->to * k;
    elbow = 0.3 * k;
    if (p->stool) {
      cairo_set_source_rgb(pen->cr, l->prop.r, l->prop.g, l->prop.b);
      synth_line(pen, -0.16, seat - 0.02, 0.16, seat - 0.02);
      synth_line(pen, -0.13, seat - 0.02, -0.15, 0);
      synth_line(pen, 0.13, seat - 0.02, 0.15, 0);
      cairo_stroke(pen->cr);
    }
  } else {
    arm = p->from + (p->to - p->from) * k;
    elbow = p->bend * sin(SYNTH_PI * k);
  }
  cairo_set_source_rgb(pen->cr, l->figure.r, l->figure.g, l->figure.b);
  double neck_y = hip_y + l->torso, sh_y = neck_y - 0.02;
  synth_line(pen, 0, hip_y, 0, neck_y);
  synth_line(pen, -l->hip_w, hip_y, l->hip_w, hip_y);
  synth_line(pen, -l->shoulder_w, sh_y, l->shoulder_w, sh_y);
  for (int side = -1; side <= 1; side += 2) {
    double kx, ky, hx = side * l->hip_w, fx = side * foot_x;
    double ex = side * (l->shoulder_w + l->upper_arm * sin(arm));
    double ey = sh_y - l->upper_arm * cos(arm);
    synth_knee(l, hx, hip_y, fx, &kx, &ky);
    synth_line(pen, hx, hip_y, kx, ky);
    synth_line(pen, kx, ky, fx, 0);
    synth_line(pen, side * l->shoulder_w, sh_y, ex, ey);
    synth_line(pen, ex, ey, ex + side * l->forearm * sin(arm + elbow),
               ey - l->forearm * cos(arm + elbow));
  }
  synth_head(pen, l, 0, neck_y);
}

/* Seen from the side with straight limbs: a pose and its mirror image are
 * the same drawing, so no frame shows which way the figure faces. */
static void synth_draw_walker(const synth_plan *p, const synth_pen *pen,
                              double t) {
  const synth_look *l = &p->look;
  double leg = l->thigh + l->shin, arm_len = l->upper_arm + l->forearm;
  double a = p->amp * sin(p->phase + p->omega * t);
  double b = p->arm_amp * sin(p->phase + p->omega * t);
  double hip_y = leg * cos(a), neck_y = hip_y + l->torso, sh_y = neck_y - 0.02;
  cairo_set_source_rgb(pen->cr, l->figure.r, l->figure.g, l->figure.b);
  synth_line(pen, 0, hip_y, 0, neck_y);
  for (int side = -1; side <= 1; side += 2) {
    synth_line(pen, 0, hip_y, side * leg * sin(a), hip_y - leg * cos(a));
    synth_line(pen, 0, sh_y, side * arm_len * sin(b), sh_y - arm_len * cos(b));
  }
  synth_head(pen, l, 0, neck_y);
}

static void synth_set(cairo_t *cr, synth_rgb c) {
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

static void synth_draw_background(const synth_plan *p, cairo_t *cr,
                                  cairo_surface_t *texture, double t) {
  const synth_look *l = &p->look;
  /* Larger than the frame so camera shake never shows an edge. */
  cairo_rectangle(cr, -16, -16, SYNTH_W + 32, SYNTH_H + 32);
  if (l->background == SYNTH_BG_GRADIENT || l->background == SYNTH_BG_CLUTTER) {
    double dx = cos(p->gradient_angle) * 200, dy = sin(p->gradient_angle) * 200;
    cairo_pattern_t *g =
        cairo_pattern_create_linear(SYNTH_W / 2.0 - dx, SYNTH_H / 2.0 - dy,
                                    SYNTH_W / 2.0 + dx, SYNTH_H / 2.0 + dy);
    cairo_pattern_add_color_stop_rgb(g, 0, l->bg1.r, l->bg1.g, l->bg1.b);
    cairo_pattern_add_color_stop_rgb(g, 1, l->bg2.r, l->bg2.g, l->bg2.b);
    cairo_set_source(cr, g);
    cairo_fill(cr);
    cairo_pattern_destroy(g);
  } else if (l->background == SYNTH_BG_NOISE && texture) {
    /* Texture cell (0, 0) sits at (-16, -16), each cell noise_cell wide. */
    cairo_pattern_t *pat = cairo_pattern_create_for_surface(texture);
    cairo_matrix_t m;
    cairo_matrix_init_scale(&m, 1 / p->noise_cell, 1 / p->noise_cell);
    cairo_matrix_translate(&m, 16, 16);
    cairo_pattern_set_matrix(pat, &m);
    cairo_pattern_set_filter(pat, CAIRO_FILTER_BILINEAR);
    cairo_pattern_set_extend(pat, CAIRO_EXTEND_PAD);
    cairo_set_source(cr, pat);
    cairo_fill(cr);
    cairo_pattern_destroy(pat);
  } else {
    synth_set(cr, l->bg1);
    cairo_fill(cr);
  }
  for (int i = 0; i < p->clutter_count; i++) {
    const synth_clutter *c = &p->clutter[i];
    cairo_save(cr);
    cairo_translate(cr, c->x + c->vx * t, c->y + c->vy * t);
    cairo_rotate(cr, c->angle + c->spin * t);
    synth_set(cr, c->colour);
    if (c->kind == 0)
      cairo_arc(cr, 0, 0, c->size / 2, 0, 2 * SYNTH_PI);
    else if (c->kind == 1)
      cairo_rectangle(cr, -c->size / 2, -c->size / 2, c->size, c->size * 0.7);
    else
      cairo_rectangle(cr, -c->size, -2, 2 * c->size, 4);
    cairo_fill(cr);
    cairo_restore(cr);
  }
  if (l->has_ground) {
    synth_set(cr, l->ground);
    cairo_rectangle(cr, -16, p->base_y, SYNTH_W + 32, SYNTH_H + 16 - p->base_y);
    cairo_fill(cr);
  }
}

/* The noise background: a coarse grid of random blends of the two
 * background colours, scaled up bilinearly when drawn. */
static cairo_surface_t *synth_texture(const synth_plan *p, gesta_rng *rng) {
  int w = (int)((SYNTH_W + 32) / p->noise_cell) + 2;
  int h = (int)((SYNTH_H + 32) / p->noise_cell) + 2;
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  unsigned char *data;
  int stride;
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(s);
    return NULL;
  }
  cairo_surface_flush(s);
  data = cairo_image_surface_get_data(s);
  stride = cairo_image_surface_get_stride(s);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      synth_rgb c =
          synth_mix_rgb(p->look.bg1, p->look.bg2, gesta_rng_uniform(rng));
      uint32_t px = (uint32_t)(c.r * 255 + 0.5) << 16 |
                    (uint32_t)(c.g * 255 + 0.5) << 8 |
                    (uint32_t)(c.b * 255 + 0.5);
      memcpy(data + (size_t)y * stride + 4 * x, &px, 4);
    }
  cairo_surface_mark_dirty(s);
  return s;
}

/* Sensor noise comes from a per-clip table of normal samples, already in
 * 8-bit levels, read from a random offset on each row: one generator call
 * per row instead of three per pixel, and the rows never line up. */
#define SYNTH_NOISE_TABLE 65536
#define SYNTH_ROW_BYTES (SYNTH_W * 3)

static void synth_noise_table(gesta_rng *rng, double sigma, int8_t *table) {
  for (int i = 0; i < SYNTH_NOISE_TABLE; i++) {
    double v = gesta_rng_normal(rng) * sigma;
    table[i] = (int8_t)synth_clamp(v < 0 ? v - 0.5 : v + 0.5, -127, 127);
  }
}

/* Cairo's native-endian xRGB words to packed RGB bytes, plus the noise
 * when there is a table. */
static void synth_store(cairo_surface_t *surface, const int8_t *table,
                        gesta_rng *rng, uint8_t *out) {
  const unsigned char *data = cairo_image_surface_get_data(surface);
  int stride = cairo_image_surface_get_stride(surface);
  for (int y = 0; y < SYNTH_H; y++, out += SYNTH_ROW_BYTES) {
    const uint32_t *row = (const uint32_t *)(data + (size_t)y * stride);
    for (int x = 0; x < SYNTH_W; x++) {
      out[3 * x] = (uint8_t)(row[x] >> 16);
      out[3 * x + 1] = (uint8_t)(row[x] >> 8);
      out[3 * x + 2] = (uint8_t)row[x];
    }
    if (table) {
      const int8_t *n = table + gesta_rng_next(rng) %
                                    (SYNTH_NOISE_TABLE - SYNTH_ROW_BYTES + 1);
      for (int i = 0; i < SYNTH_ROW_BYTES; i++) {
        int v = out[i] + n[i];
        out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
  }
}

static gesta_status synth_render_plan(const synth_plan *p, uint64_t seed,
                                      gesta_synth_clip *out, gesta_error *err) {
  size_t frame_bytes = (size_t)SYNTH_W * SYNTH_H * 3;
  cairo_surface_t *surface = NULL, *texture = NULL;
  cairo_t *cr = NULL;
  int8_t *noise = NULL;
  synth_wobble w;
  gesta_rng rng;
  gesta_status status = GESTA_STATUS_OK;

  memset(out, 0, sizeof *out);
  gesta_rng_seed(&rng, seed);
  out->rgb = malloc(frame_bytes * p->frames);
  surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, SYNTH_W, SYNTH_H);
  if (!out->rgb || cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory rendering a %d-frame clip "
                             "(%zu bytes)",
                             p->frames, frame_bytes * p->frames);
    goto fail;
  }
  if (p->look.background == SYNTH_BG_NOISE &&
      !(texture = synth_texture(p, &rng))) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory making a background texture");
    goto fail;
  }
  /* Below a quarter level the noise would round away to nothing. */
  if (p->sensor_noise >= 0.25) {
    if (!(noise = malloc(SYNTH_NOISE_TABLE))) {
      status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory making sensor noise");
      goto fail;
    }
    synth_noise_table(&rng, p->sensor_noise, noise);
  }
  cr = cairo_create(surface);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  w.jx = p->jitter * gesta_rng_normal(&rng);
  w.jy = p->jitter * gesta_rng_normal(&rng);
  w.sway = p->sway * gesta_rng_normal(&rng);
  for (int f = 0; f < p->frames; f++) {
    double t = f;
    synth_pen pen = {cr, p->cx + w.sway, p->base_y, p->scale};
    if (p->pair == SYNTH_WALK)
      pen.cx = p->cx + p->speed * t;
    cairo_save(cr);
    cairo_translate(cr, w.jx, w.jy);
    synth_draw_background(p, cr, texture, t);
    cairo_set_line_width(cr, p->look.line_width * p->scale);
    if (p->pair == SYNTH_WALK)
      synth_draw_walker(p, &pen, t);
    else
      synth_draw_frontal(p, &pen, t);
    cairo_restore(cr);
    cairo_surface_flush(surface);
    synth_store(surface, noise, &rng, out->rgb + frame_bytes * f);
    w.jx = synth_ou(&rng, w.jx, p->jitter);
    w.jy = synth_ou(&rng, w.jy, p->jitter);
    w.sway = synth_ou(&rng, w.sway, p->sway);
  }
  if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
    status = gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "cairo failed drawing a synthetic clip: %s",
                             cairo_status_to_string(cairo_status(cr)));
    goto fail;
  }
  out->width = SYNTH_W;
  out->height = SYNTH_H;
  out->frame_count = p->frames;
  goto done;
fail:
  free(out->rgb);
  memset(out, 0, sizeof *out);
done:
  free(noise);
  if (cr)
    cairo_destroy(cr);
  if (texture)
    cairo_surface_destroy(texture);
  if (surface)
    cairo_surface_destroy(surface);
  return status;
}

/* Swaps whole frames end for end. */
static void synth_reverse(gesta_synth_clip *clip) {
  size_t bytes = (size_t)clip->width * clip->height * 3;
  uint8_t *tmp = malloc(bytes);
  if (tmp) {
    for (int a = 0, b = clip->frame_count - 1; a < b; a++, b--) {
      memcpy(tmp, clip->rgb + bytes * a, bytes);
      memcpy(clip->rgb + bytes * a, clip->rgb + bytes * b, bytes);
      memcpy(clip->rgb + bytes * b, tmp, bytes);
    }
    free(tmp);
    return;
  }
  /* No room for a spare frame: swap byte by byte. */
  for (int a = 0, b = clip->frame_count - 1; a < b; a++, b--)
    for (size_t i = 0; i < bytes; i++) {
      uint8_t x = clip->rgb[bytes * a + i];
      clip->rgb[bytes * a + i] = clip->rgb[bytes * b + i];
      clip->rgb[bytes * b + i] = x;
    }
}

gesta_status gesta_synth_render(uint64_t seed, int group, int clip,
                                gesta_synth_class cls, gesta_synth_clip *out,
                                gesta_error *err) {
  synth_plan plan;
  synth_pair pair;
  gesta_status status;
  if (!out)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "gesta_synth_render: no output clip");
  memset(out, 0, sizeof *out);
  if (!gesta_synth_class_name(cls))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "synthetic class %d does not exist (0 to %d)",
                           (int)cls, GESTA_SYNTH_CLASS_COUNT - 1);
  if (group < 1 || group > GESTA_SYNTH_MAX_GROUPS || clip < 1 ||
      clip > GESTA_SYNTH_MAX_CLIPS_PER_GROUP)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "synthetic clip g%d c%d is out of range: groups "
                           "and clips count from 1 to %d",
                           group, clip, GESTA_SYNTH_MAX_GROUPS);
  pair = gesta_synth_pair_of(cls);
  gesta_synth_plan_make(seed, group, clip, pair, &plan);
  status = synth_render_plan(
      &plan,
      gesta_synth_mix(
          gesta_synth_mix(
              gesta_synth_mix(gesta_synth_mix(seed, 0x4652414d), group), pair),
          clip),
      out, err);
  if (status == GESTA_STATUS_OK && !gesta_synth_class_is_drawn(cls))
    synth_reverse(out);
  return status;
}

void gesta_synth_clip_free(gesta_synth_clip *clip) {
  if (!clip)
    return;
  free(clip->rgb);
  memset(clip, 0, sizeof *clip);
}
