/* gesta predict's parts: the command (cmd_predict.c), its output in text
 * and JSON (predict_output.c) and the decoding threads that read the next
 * videos while the model runs (predict_prefetch.c). */
#ifndef GESTA_TOOLS_PREDICT_H
#define GESTA_TOOLS_PREDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

typedef struct predict_options {
  const char *model, *weights, *camera;
  char **videos;
  int n_videos;
  int64_t top_k, window, stride, batch, decoders;
  bool json;
} predict_options;

#if GESTA_HAVE_GSTREAMER
#include "gesta/video.h"

typedef struct predict_item {
  int video;
  bool is_window;
  gesta_window window;
  int64_t *indices; /* uniform: the clip's frame indices */
  gesta_clip_stats stats;
} predict_item;

typedef struct predict_window_result {
  gesta_window window;
  int label;
  float *probs; /* n_classes */
} predict_window_result;

typedef struct predict_state {
  cli_common *common;
  const predict_options *opt;
  gesta_model *model;
  gesta_backend *backend;
  gesta_classifier *cls;
  const char *weights;
  int64_t frames, batch;
  predict_item *items;
  float *probs;
  double infer_ms; /* the current video's share of forward passes */
  predict_window_result *wins;
  int64_t n_wins, cap_wins;
  int rc; /* worst exit code so far */
} predict_state;

/* ---- predict_output.c ---- */

const char *predict_name(const predict_state *st, int video);
/* A uniform clip's result: the seed's line (with top-k) or its JSON
 * object. */
void predict_uniform_result(predict_state *st, const predict_item *it,
                            const float *p, double infer_ms);
/* A window's line as it comes (JSON per window only for a camera). */
void predict_window_result_print(predict_state *st, int video,
                                 const gesta_window *w, const float *p);
/* Keeps a file's window result for its segments and JSON object. */
gesta_status predict_keep_window(predict_state *st, const gesta_window *w,
                                 const float *p, gesta_error *err);
void predict_clear_windows(predict_state *st);
/* After a file's last window: its segments, or its JSON object. */
void predict_windows_done(predict_state *st, int video,
                          const gesta_clip_stats *s, int64_t frames,
                          int64_t stride);

/* ---- predict_prefetch.c ---- */

/* One video's uniform clip, read by a decoding thread. */
typedef struct predict_clip {
  gesta_status status;
  gesta_error err;
  float *data;      /* frames * H * W * C floats */
  int64_t *indices; /* frames */
  gesta_clip_stats stats;
} predict_clip;

/* Threads that read the videos' clips in order, ahead of the model: a
 * video is decoded while the clips before it are classified, and several
 * videos are decoded at once (most decoders use one core per video).
 * At most 2 * threads clips wait to be taken. */
typedef struct predict_prefetch predict_prefetch;

/* videos, pp and ctx are borrowed and must outlive the prefetcher.
 * (transfer full) free with predict_prefetch_free. */
gesta_status predict_prefetch_start(const gesta_context *ctx, char **videos,
                                    int n_videos, const gesta_preprocess *pp,
                                    int threads, predict_prefetch **out,
                                    gesta_error *err);
/* Video `video`'s clip, waiting for it; videos are taken in order, each
 * once. Borrowed until predict_prefetch_done. */
const predict_clip *predict_prefetch_take(predict_prefetch *p, int video);
/* Gives the clip's memory back for a later video. */
void predict_prefetch_done(predict_prefetch *p, int video);
/* Stops the threads (each finishes the video it is reading) and frees
 * everything. */
void predict_prefetch_free(predict_prefetch *p);
/* The default thread count: one per core this process may use, at most 4,
 * at most one per video. */
int predict_prefetch_threads(int n_videos);

#endif
#endif
