/* Batched classification of clips: one forward pass for several videos or
 * windows. A clip (T, H, W, C) and T frames (H, W, C) have the same
 * layout, so a per-frame model reads the same batch buffer as T times as
 * many frames. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gesta/video.h"

struct gesta_classifier {
  const gesta_model *model;
  gesta_backend *backend;
  gesta_plan_options options;
  int64_t batch, frames, pending;
  bool per_frame;
  size_t clip_floats;
  float *input;        /* batch clips */
  float *output;       /* batch * frames rows for a per-frame model */
  gesta_plan *plan;    /* for `batch` clips */
  gesta_plan *partial; /* for the last, smaller batch */
  int64_t partial_batch;
};

gesta_status gesta_classifier_new(const gesta_model *model,
                                  gesta_backend *backend, int64_t batch,
                                  const gesta_plan_options *options,
                                  gesta_classifier **out, gesta_error *err) {
  gesta_classifier *c;
  int rank = model->input_shape.rank;
  size_t rows;

  *out = NULL;
  if (!model->has_preprocess)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: model '%s' has no preprocess section, so gesta "
                           "does not know how to feed it video frames; add "
                           "one (see docs/model-format.md)",
                           model->path, model->name);
  if (rank != 3 && rank != 4)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: model '%s' takes input of rank %d; video "
                           "needs frames [H, W, C] or clips [T, H, W, C]",
                           model->path, model->name, rank);
  if (model->n_classes < 1)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: model '%s' lists no classes to predict",
                           model->path, model->name);
  if (model->nodes[model->output_node].output_shape.rank != 1 ||
      model->nodes[model->output_node].output_shape.dims[0] != model->n_classes)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: model '%s' does not end in one probability "
                           "per class (%d classes)",
                           model->path, model->name, model->n_classes);
  c = calloc(1, sizeof *c);
  if (!c)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  c->model = model;
  c->backend = backend;
  if (options)
    c->options = *options;
  c->batch = batch;
  c->per_frame = rank == 3;
  c->frames =
      c->per_frame ? model->preprocess.frames : model->input_shape.dims[0];
  c->clip_floats = (size_t)gesta_shape_count(&model->input_shape) *
                   (size_t)(c->per_frame ? c->frames : 1);
  rows = (size_t)batch * (size_t)(c->per_frame ? c->frames : 1);
  c->input = malloc(sizeof *c->input * c->clip_floats * (size_t)batch);
  c->output = malloc(sizeof *c->output * rows * (size_t)model->n_classes);
  if (!c->input || !c->output) {
    gesta_classifier_free(c);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for a batch of %" PRId64
                           " clips; try a smaller --batch",
                           batch);
  }
  *out = c;
  return GESTA_STATUS_OK;
}

int64_t gesta_classifier_frames(const gesta_classifier *c) {
  return c->frames;
}

float *gesta_classifier_next_slot(gesta_classifier *c) {
  if (c->pending >= c->batch)
    return NULL;
  return c->input + c->clip_floats * (size_t)c->pending++;
}

void gesta_classifier_drop_slot(gesta_classifier *c) {
  if (c->pending > 0)
    c->pending--;
}

int64_t gesta_classifier_pending(const gesta_classifier *c) {
  return c->pending;
}

/* A plan per batch size used: the full batch, and one more for a smaller
 * last batch (rebuilt only when that size changes). */
static gesta_status classify_plan(gesta_classifier *c, gesta_plan **plan,
                                  gesta_error *err) {
  int64_t n = c->pending * (c->per_frame ? c->frames : 1);
  gesta_plan **slot = c->pending == c->batch ? &c->plan : &c->partial;
  if (slot == &c->partial && c->partial && c->partial_batch != c->pending) {
    gesta_plan_free(c->partial);
    c->partial = NULL;
  }
  if (!*slot) {
    gesta_status status = gesta_plan_new_with_options(c->model, c->backend, n,
                                                      &c->options, slot, err);
    if (status != GESTA_STATUS_OK)
      return status;
    if (slot == &c->partial)
      c->partial_batch = c->pending;
  }
  *plan = *slot;
  return GESTA_STATUS_OK;
}

static double classify_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

gesta_status gesta_classifier_run(gesta_classifier *c, float *probs, double *ms,
                                  gesta_error *err) {
  int k = c->model->n_classes;
  gesta_plan *plan;
  gesta_status status;
  double t0 = classify_now_ms();

  *ms = 0;
  if (c->pending == 0)
    return GESTA_STATUS_OK;
  status = classify_plan(c, &plan, err);
  if (status == GESTA_STATUS_OK)
    status = gesta_plan_run(plan, c->input, c->output, err);
  if (status != GESTA_STATUS_OK) {
    c->pending = 0;
    return status;
  }
  if (!c->per_frame) {
    memcpy(probs, c->output, sizeof *probs * (size_t)(c->pending * k));
  } else {
    for (int64_t i = 0; i < c->pending; i++)
      for (int j = 0; j < k; j++) {
        double sum = 0;
        for (int64_t f = 0; f < c->frames; f++)
          sum += c->output[(size_t)((i * c->frames + f) * k + j)];
        probs[i * k + j] = (float)(sum / (double)c->frames);
      }
  }
  c->pending = 0;
  *ms = classify_now_ms() - t0;
  return GESTA_STATUS_OK;
}

void gesta_classifier_free(gesta_classifier *c) {
  if (!c)
    return;
  gesta_plan_free(c->plan);
  gesta_plan_free(c->partial);
  free(c->input);
  free(c->output);
  free(c);
}
