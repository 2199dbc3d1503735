/* gesta train --augment: each training sample drawn with a random "look".
 *
 * A clip's frames all get the same transform, so motion and its direction
 * survive: only what a new actor, room or camera would change is varied
 * (colours, contrast, brightness, framing, and with --augment-zoom and
 * --augment-noise the figure's size and the camera's grain), and with
 * --augment-time when in the clip the action happens. Mirroring only on
 * request (--augment-mirror): a mirrored walker walks the other way, so
 * the classes it turns into each other must be named (--mirror-swap).
 *
 * The transform of a sample depends only on the run's seed, the epoch and
 * the sample's place in that epoch's order, so a resumed run draws exactly
 * what an uninterrupted one would. */
#include <math.h>
#include <string.h>

#include "train_run.h"

/* Framing moves by up to an eighth of the frame. */
#define AUG_SHIFT_FRACTION 8
#define AUG_CONTRAST 0.25  /* factor in 1 +- this */
#define AUG_BRIGHTNESS 0.1 /* offset in +- this of the value range */

typedef struct aug_transform {
  int perm[4];    /* output channel c takes input channel perm[c] */
  bool invert;    /* v -> range - v */
  float contrast; /* around mid-range */
  float offset;
  int64_t dy, dx; /* the picture moves by (dy, dx); edges repeat */
  float zoom;     /* 1: none; else sampled bilinearly around the centre */
  float noise;    /* standard deviation of the grain added to each value */
  uint64_t noise_seed;
  int64_t shift; /* frame f shows what frame f - shift showed */
  bool mirror;   /* left and right exchanged */
} aug_transform;

static void aug_draw(const train_data *d, uint64_t seed, int64_t h, int64_t w,
                     int64_t c, float range, aug_transform *t) {
  static const int perms3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                   {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  gesta_rng rng;
  gesta_rng_seed(&rng, seed);
  int p = (int)(gesta_rng_next(&rng) % 6);
  for (int i = 0; i < 4; i++)
    t->perm[i] = c == 3 ? perms3[p][i < 3 ? i : 0] : i;
  t->invert = gesta_rng_next(&rng) & 1;
  t->contrast =
      (float)(1.0 + AUG_CONTRAST * (2.0 * gesta_rng_uniform(&rng) - 1.0));
  t->offset =
      (float)(range * AUG_BRIGHTNESS * (2.0 * gesta_rng_uniform(&rng) - 1.0));
  int64_t my = h / AUG_SHIFT_FRACTION, mx = w / AUG_SHIFT_FRACTION;
  t->dy = (int64_t)(gesta_rng_next(&rng) % (uint64_t)(2 * my + 1)) - my;
  t->dx = (int64_t)(gesta_rng_next(&rng) % (uint64_t)(2 * mx + 1)) - mx;
  /* Zoom and grain come from a stream of their own, so runs without them
   * draw the looks they always drew. Zoom is log-uniform: as likely to
   * halve the figure as to double it. */
  gesta_rng_seed(&rng, seed ^ 0x7a6f6f6d6e6f6973ull);
  double z = log1p(d->aug_zoom);
  t->zoom = (float)exp(z * (2.0 * gesta_rng_uniform(&rng) - 1.0));
  if (d->aug_zoom <= 0)
    t->zoom = 1;
  t->noise = (float)(range * d->aug_noise * gesta_rng_uniform(&rng));
  t->noise_seed = gesta_rng_next(&rng);
  t->shift = 0;
  if (d->aug_time > 0)
    t->shift =
        (int64_t)(gesta_rng_next(&rng) % (uint64_t)(2 * d->aug_time + 1)) -
        d->aug_time;
  /* Its own stream again, so that adding it keeps every other draw. */
  gesta_rng_seed(&rng, seed ^ 0x6d6972726f72ull);
  t->mirror = d->aug_mirror && (gesta_rng_next(&rng) & 1);
}

static void aug_mirror_frame(float *x, int64_t h, int64_t w, int64_t c) {
  for (int64_t y = 0; y < h; y++) {
    float *row = x + y * w * c;
    for (int64_t a = 0, b = w - 1; a < b; a++, b--)
      for (int64_t ch = 0; ch < c; ch++) {
        float v = row[a * c + ch];
        row[a * c + ch] = row[b * c + ch];
        row[b * c + ch] = v;
      }
  }
}

/* Moves a clip's frames by t->shift in place, repeating the first or last
 * frame into the gap: the action starts earlier or later in the clip.
 * Each frame is copied from one not yet overwritten (going down for a
 * move to later frames, up for earlier ones). */
static void aug_shift_frames(const aug_transform *t, float *x, int64_t frames,
                             int64_t frame_floats) {
  size_t bytes = (size_t)frame_floats * sizeof *x;
  if (t->shift > 0)
    for (int64_t f = frames - 1; f >= 0; f--) {
      int64_t from = f - t->shift < 0 ? 0 : f - t->shift;
      if (from != f)
        memcpy(x + f * frame_floats, x + from * frame_floats, bytes);
    }
  else if (t->shift < 0)
    for (int64_t f = 0; f < frames; f++) {
      int64_t from = f - t->shift >= frames ? frames - 1 : f - t->shift;
      if (from != f)
        memcpy(x + f * frame_floats, x + from * frame_floats, bytes);
    }
}

static int64_t aug_clamp(int64_t v, int64_t n) {
  return v < 0 ? 0 : v >= n ? n - 1 : v;
}

/* Input channel ch of the zoomed picture at output pixel (y, x): bilinear
 * between the four source pixels around the point that lands there. */
static float aug_zoomed(const aug_transform *t, const float *src, int64_t y,
                        int64_t x, int64_t ch, int64_t h, int64_t w,
                        int64_t c) {
  float sy = ((float)(y - t->dy) - 0.5f * (float)(h - 1)) / t->zoom +
             0.5f * (float)(h - 1);
  float sx = ((float)(x - t->dx) - 0.5f * (float)(w - 1)) / t->zoom +
             0.5f * (float)(w - 1);
  float fy = floorf(sy), fx = floorf(sx);
  float ay = sy - fy, ax = sx - fx;
  int64_t y0 = aug_clamp((int64_t)fy, h), y1 = aug_clamp((int64_t)fy + 1, h);
  int64_t x0 = aug_clamp((int64_t)fx, w), x1 = aug_clamp((int64_t)fx + 1, w);
  float top =
      src[(y0 * w + x0) * c + ch] * (1 - ax) + src[(y0 * w + x1) * c + ch] * ax;
  float bottom =
      src[(y1 * w + x0) * c + ch] * (1 - ax) + src[(y1 * w + x1) * c + ch] * ax;
  return top * (1 - ay) + bottom * ay;
}

/* One HWC frame (number `frame` of its clip) through t, using scratch
 * (h * w * c floats). */
static void aug_frame(const aug_transform *t, int64_t frame, float *x,
                      float *scratch, int64_t h, int64_t w, int64_t c,
                      float range) {
  float mid = range / 2;
  gesta_rng grain;
  gesta_rng_seed(&grain, t->noise_seed + (uint64_t)frame);
  memcpy(scratch, x, (size_t)(h * w * c) * sizeof *x);
  for (int64_t y = 0; y < h; y++) {
    int64_t sy = aug_clamp(y - t->dy, h);
    for (int64_t xx = 0; xx < w; xx++) {
      const float *src = scratch + (sy * w + aug_clamp(xx - t->dx, w)) * c;
      float *dst = x + (y * w + xx) * c;
      for (int64_t ch = 0; ch < c; ch++) {
        int64_t from = ch < 4 ? t->perm[ch] : ch;
        float v = t->zoom == 1 ? src[from]
                               : aug_zoomed(t, scratch, y, xx, from, h, w, c);
        if (t->invert)
          v = range - v;
        v = (v - mid) * t->contrast + mid + t->offset;
        if (t->noise > 0)
          v += t->noise * (float)gesta_rng_normal(&grain);
        dst[ch] = v < 0 ? 0 : v > range ? range : v;
      }
    }
  }
}

uint64_t train_augment_seed(uint64_t run_seed, int64_t epoch,
                            int64_t position) {
  /* splitmix64 steps keep neighbouring samples' seeds unrelated. */
  uint64_t z = run_seed ^ 0x6175676d656e74ull;
  z += 0x9e3779b97f4a7c15ull * (uint64_t)(epoch + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z += 0x9e3779b97f4a7c15ull * (uint64_t)(position + 1);
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool train_augment_sample(const train_data *d, float *x, uint64_t seed) {
  gesta_shape frame = gesta_clipcache_clip_shape(d->cache);
  int64_t h = frame.dims[frame.rank - 3], w = frame.dims[frame.rank - 2],
          c = frame.dims[frame.rank - 1];
  int64_t frames = d->per_frame ? 1 : d->frames;
  float range = (float)(255.0 * gesta_clipcache_preprocess(d->cache)->scale);
  aug_transform t;
  aug_draw(d, seed, h, w, c, range, &t);
  for (int64_t f = 0; f < frames; f++) {
    aug_frame(&t, f, x + f * h * w * c, d->scratch, h, w, c, range);
    if (t.mirror)
      aug_mirror_frame(x + f * h * w * c, h, w, c);
  }
  aug_shift_frames(&t, x, frames, h * w * c);
  return t.mirror;
}

static int aug_class_index(const gesta_model *model, const char *name,
                           size_t len) {
  for (int c = 0; c < model->n_classes; c++)
    if (strlen(model->classes[c]) == len &&
        strncmp(model->classes[c], name, len) == 0)
      return c;
  return -1;
}

gesta_status train_mirror_labels(const char *spec, const gesta_model *model,
                                 int *map, gesta_error *err) {
  for (int c = 0; c < model->n_classes; c++)
    map[c] = c;
  const char *p = spec;
  while (*p) {
    const char *colon = strchr(p, ':');
    const char *end = strchr(p, ',');
    if (!end)
      end = p + strlen(p);
    if (!colon || colon > end)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "--mirror-swap '%s': '%.*s' is not a pair "
                             "CLASS:CLASS",
                             spec, (int)(end - p), p);
    int a = aug_class_index(model, p, (size_t)(colon - p));
    int b = aug_class_index(model, colon + 1, (size_t)(end - colon - 1));
    if (a < 0 || b < 0)
      return gesta_error_set(
          err, GESTA_STATUS_BAD_INPUT,
          "--mirror-swap '%s': '%.*s' is not one of %s's classes", spec,
          a < 0 ? (int)(colon - p) : (int)(end - colon - 1),
          a < 0 ? p : colon + 1, model->name);
    if (a == b || map[a] != a || map[b] != b)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "--mirror-swap '%s': each class may be in one "
                             "pair of two different classes",
                             spec);
    map[a] = b;
    map[b] = a;
    p = *end ? end + 1 : end;
  }
  return GESTA_STATUS_OK;
}
