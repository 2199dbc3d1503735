/* gesta_dataset_build: every video decoded once with the model's
 * preprocessing, its clip appended to a clip cache. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gesta/dataset.h"
#include "gesta/video.h"

void gesta_dataset_build_options_init(gesta_dataset_build_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->dtype = GESTA_CLIP_U8;
}

static double dsb_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The preprocessed floats back to the 0..255 values they were made from:
 * the cache stores those and multiplies by the same scale when read, which
 * gives back exactly these floats (checked). */
static bool dsb_to_u8(const float *in, int64_t n, const float *lut,
                      double scale, uint8_t *out) {
  for (int64_t k = 0; k < n; k++) {
    long v = lround((double)in[k] / scale);
    if (v < 0 || v > 255 || lut[v] != in[k])
      return false;
    out[k] = (uint8_t)v;
  }
  return true;
}

static gesta_status dsb_check_model(const gesta_dataset *ds,
                                    const gesta_model *m, gesta_error *err) {
  if (!m->has_preprocess)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "model '%s' (%s) has no preprocess section: it "
                           "does not say how to turn a video into clips",
                           m->name, m->path);
  if (m->preprocess.sampling != GESTA_SAMPLING_UNIFORM)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "model '%s' (%s) samples frames in sliding windows; "
                           "a clip cache holds the seed's uniformly sampled "
                           "clips: set preprocess.sampling to uniform",
                           m->name, m->path);
  bool same = m->n_classes == ds->n_classes;
  for (int i = 0; same && i < ds->n_classes; i++)
    same = strcmp(m->classes[i], ds->classes[i]) == 0;
  if (!same) {
    char a[400] = "", b[400] = "";
    size_t la = 0, lb = 0;
    for (int i = 0; i < m->n_classes && la + 8 < sizeof a; i++)
      la += (size_t)snprintf(a + la, sizeof a - la, "%s%s", i ? " " : "",
                             m->classes[i]);
    for (int i = 0; i < ds->n_classes && lb + 8 < sizeof b; i++)
      lb += (size_t)snprintf(b + lb, sizeof b - lb, "%s%s", i ? " " : "",
                             ds->classes[i]);
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "model '%s' (%s) has classes [%s] but dataset %s "
                           "has [%s]: set the model's `classes:` (and its "
                           "output layer's units) to the dataset's, in "
                           "order",
                           m->name, m->path, a, ds->root, b);
  }
  return GESTA_STATUS_OK;
}

gesta_status
gesta_dataset_build(const gesta_context *ctx, const gesta_dataset *ds,
                    const gesta_model *model, const char *cache_path,
                    const gesta_dataset_build_options *opt,
                    gesta_dataset_summary *summary, gesta_error *err) {
  gesta_dataset_build_options defaults;
  gesta_dataset_summary sum;
  gesta_clipcache_writer *w = NULL;
  float *clip = NULL;
  uint8_t *pixels = NULL;
  int64_t *indices = NULL, *per_class = NULL, *skipped_class = NULL;
  char *path = NULL;
  float lut[256];
  gesta_status status;
  memset(&sum, 0, sizeof sum);
  if (!opt) {
    gesta_dataset_build_options_init(&defaults);
    opt = &defaults;
  }
  status = dsb_check_model(ds, model, err);
  if (status != GESTA_STATUS_OK)
    return status;
  const gesta_preprocess *pp = &model->preprocess;
  int channels =
      gesta_pixel_format_channels(gesta_pixel_format_for(pp->channels));
  int64_t n = pp->frames * pp->height * pp->width * channels;
  double t0 = dsb_now_s();
  for (int v = 0; v < 256; v++)
    lut[v] = (float)((double)v * pp->scale);
  clip = malloc((size_t)n * sizeof *clip);
  pixels = malloc((size_t)n);
  indices = malloc((size_t)pp->frames * sizeof *indices);
  per_class = calloc((size_t)ds->n_classes, sizeof *per_class);
  skipped_class = calloc((size_t)ds->n_classes, sizeof *skipped_class);
  path = malloc(strlen(ds->root) + 4096 + 2);
  if (!clip || !pixels || !indices || !per_class || !skipped_class || !path) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory building %s", cache_path);
    goto done;
  }
  status = gesta_clipcache_writer_new(
      cache_path, pp, opt->dtype, model->name, model->input_shape,
      (const char *const *)ds->classes, ds->n_classes, &w, err);
  if (status != GESTA_STATUS_OK)
    goto done;

  gesta_video_options vopt;
  gesta_video_options_init(&vopt);
  for (int64_t i = 0; i < ds->n_videos; i++) {
    const gesta_dataset_video *v = &ds->videos[i];
    gesta_clip_stats stats;
    gesta_error verr;
    const char *skipped = NULL;
    if (opt->cancelled && opt->cancelled(opt->cancel_user)) {
      status =
          gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                          "interrupted: no cache written to %s", cache_path);
      goto done;
    }
    snprintf(path, strlen(ds->root) + 4096 + 2, "%s/%s", ds->root, v->path);
    gesta_error_clear(&verr);
    memset(&stats, 0, sizeof stats);
    status = gesta_clip_read_uniform(ctx, path, &vopt, pp, clip, indices,
                                     &stats, &verr);
    if (status == GESTA_STATUS_OK &&
        !dsb_to_u8(clip, n, lut, pp->scale, pixels))
      status = gesta_error_set(&verr, GESTA_STATUS_INTERNAL,
                               "%s: preprocessed values are not pixel values "
                               "times the scale",
                               path);
    if (status == GESTA_STATUS_INTERNAL) {
      *err = verr;
      goto done;
    }
    if (status == GESTA_STATUS_OK) {
      status = gesta_clipcache_writer_add(w, pixels, v->label, v->split,
                                          v->path, err);
      if (status != GESTA_STATUS_OK)
        goto done;
      per_class[v->label]++;
      sum.per_split[v->split]++;
      sum.clips++;
    } else {
      /* The reader's message names the file and says what is wrong with
       * it (not a video, too short, a missing plugin). */
      skipped = verr.message;
      skipped_class[v->label]++;
      sum.skipped++;
      if (!opt->progress)
        gesta_log(ctx, GESTA_LOG_WARNING, "skipped: %s", verr.message);
      status = GESTA_STATUS_OK;
    }
    sum.videos++;
    if (opt->progress)
      opt->progress(opt->progress_user, i + 1, ds->n_videos, v->path, skipped);
  }
  for (int c = 0; c < ds->n_classes; c++) {
    if (per_class[c] == 0) {
      status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                               "class %s has no readable video (%lld "
                               "skipped) in %s/%s: every class needs at "
                               "least one video with %lld or more frames",
                               ds->classes[c], (long long)skipped_class[c],
                               ds->root, ds->classes[c], (long long)pp->frames);
      goto done;
    }
  }
  status = gesta_clipcache_writer_finish(w, err);
  w = NULL;
  if (status != GESTA_STATUS_OK)
    goto done;
  struct stat st;
  if (stat(cache_path, &st) == 0)
    sum.bytes = (uint64_t)st.st_size;
  sum.seconds = dsb_now_s() - t0;
  if (summary)
    *summary = sum;
done:
  gesta_clipcache_writer_abort(w);
  free(clip);
  free(pixels);
  free(indices);
  free(per_class);
  free(skipped_class);
  free(path);
  return status;
}
