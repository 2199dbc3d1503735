/* gesta eval's state and its data sources: a clip cache, or a dataset
 * folder whose videos are decoded on the fly. */
#ifndef GESTA_EVAL_H
#define GESTA_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "gesta/clipcache.h"
#include "gesta/metrics.h"
#if GESTA_HAVE_GSTREAMER
#include "gesta/dataset.h"
#endif

#define EVAL_SPLIT_ALL (-1)
#define EVAL_MAX_WARNINGS 5

typedef struct eval_options {
  const char *model, *data, *weights, *heatmap;
  int split; /* a gesta_split or EVAL_SPLIT_ALL */
  int64_t batch;
  bool json;
} eval_options;

typedef struct eval_state {
  cli_common *common;
  const eval_options *opt;
  gesta_model *model;
  const char *weights;
  gesta_backend *backend;
  gesta_plan *plan, *partial; /* for `batch` clips, and a smaller last one */
  int64_t partial_n, frames, n_pending;
  bool per_frame;
  size_t clip_floats;
  float *input, *output; /* the batch's clips, and its rows of outputs */
  gesta_clipcache *cache;
#if GESTA_HAVE_GSTREAMER
  gesta_dataset *ds;
#endif
  char split_source[160];
  int64_t *selected; /* sample indices in the cache or dataset */
  int64_t n_selected;
  int64_t *pending; /* the sample in each clip of the batch */
  float *probs, *targets;
  gesta_confusion cm;
  double loss_sum, seconds;
  int64_t skipped;
  bool progress;
} eval_state;

/* "test", "val", "train" or "all". */
const char *eval_split_name(int split);

/* Opens opt->data (a clip cache file or a dataset folder), checks its
 * classes against the model's and selects the clips of opt->split. */
gesta_status eval_open_data(eval_state *st, gesta_error *err);

/* A sample's label and its video (for messages). */
int eval_label(const eval_state *st, int64_t sample);
const char *eval_source(const eval_state *st, int64_t sample);

/* Fills a batch slot with a sample's clip. A video that cannot be read is
 * skipped with a warning (*skip), as gesta dataset build skips it. */
gesta_status eval_fill(eval_state *st, int64_t sample, float *slot, bool *skip,
                       gesta_error *err);

#endif
