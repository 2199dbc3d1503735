/* gesta predict's output: the seed's line, top-k lines, windows and
 * segments in text, and one JSON object per video (or per camera window).
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict.h"

#if GESTA_HAVE_GSTREAMER

const char *predict_name(const predict_state *st, int video) {
  return st->opt->camera ? st->opt->camera : st->opt->videos[video];
}

/* Class indices by falling probability, the first k of them. */
static int predict_top(const float *p, int n, int k, int *out) {
  if (k > n)
    k = n;
  for (int i = 0; i < k; i++) {
    int best = -1;
    for (int j = 0; j < n; j++) {
      bool used = false;
      for (int u = 0; u < i; u++)
        used = used || out[u] == j;
      if (!used && (best < 0 || p[j] > p[best]))
        best = j;
    }
    out[i] = best;
  }
  return k;
}

static cJSON *predict_top_json(const predict_state *st, const float *p) {
  const gesta_model *m = st->model;
  int top[64],
      k = predict_top(p, m->n_classes,
                      (int)(st->opt->top_k < 64 ? st->opt->top_k : 64), top);
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; i < k; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "label", m->classes[top[i]]);
    cJSON_AddNumberToObject(o, "p", p[top[i]]);
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

static void predict_print_json(cJSON *root) {
  char *text = cJSON_PrintUnformatted(root);
  if (text)
    printf("%s\n", text);
  cJSON_free(text);
  cJSON_Delete(root);
}

static void predict_top_text(const predict_state *st, const float *p,
                             const char *indent) {
  int top[64], k;
  if (st->opt->top_k < 2)
    return;
  k = predict_top(p, st->model->n_classes,
                  (int)(st->opt->top_k < 64 ? st->opt->top_k : 64), top);
  for (int i = 0; i < k; i++)
    printf("%s%d. %s %.4f\n", indent, i + 1, st->model->classes[top[i]],
           p[top[i]]);
}

static cJSON *predict_timings(const gesta_clip_stats *s, double infer) {
  cJSON *t = cJSON_CreateObject();
  cJSON_AddNumberToObject(t, "decode", s->decode_ms);
  cJSON_AddNumberToObject(t, "preprocess", s->preprocess_ms);
  cJSON_AddNumberToObject(t, "inference", infer);
  return t;
}

void predict_uniform_result(predict_state *st, const predict_item *it,
                            const float *p, double infer_ms) {
  const gesta_model *m = st->model;
  int best = 0;
  predict_top(p, m->n_classes, 1, &best);
  if (st->opt->json) {
    cJSON *root = cJSON_CreateObject(), *used;
    cJSON_AddStringToObject(root, "file", predict_name(st, it->video));
    cJSON_AddStringToObject(root, "label", m->classes[best]);
    cJSON_AddNumberToObject(root, "confidence", p[best]);
    cJSON_AddItemToObject(root, "top_k", predict_top_json(st, p));
    used = cJSON_AddArrayToObject(root, "frames_used");
    for (int64_t i = 0; i < st->frames; i++)
      cJSON_AddItemToArray(used, cJSON_CreateNumber((double)it->indices[i]));
    cJSON_AddNumberToObject(root, "frame_count", (double)it->stats.frame_count);
    cJSON_AddNumberToObject(root, "width", it->stats.width);
    cJSON_AddNumberToObject(root, "height", it->stats.height);
    if (it->stats.damaged)
      cJSON_AddStringToObject(root, "warning", it->stats.warning);
    cJSON_AddItemToObject(root, "timings_ms",
                          predict_timings(&it->stats, infer_ms));
    predict_print_json(root);
    return;
  }
  if (st->opt->n_videos > 1)
    printf("%s: ", predict_name(st, it->video));
  printf("Action Predicted: %s Confidence: %.4f\n", m->classes[best], p[best]);
  predict_top_text(st, p, "  ");
}

/* A window's line: text as it comes, JSON per window only for a camera
 * (a file's windows go into its one object). */
void predict_window_result_print(predict_state *st, int video,
                                 const gesta_window *w, const float *p) {
  const gesta_model *m = st->model;
  int best = 0;
  predict_top(p, m->n_classes, 1, &best);
  if (st->opt->json) {
    cJSON *root;
    if (!st->opt->camera)
      return;
    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", predict_name(st, video));
    cJSON_AddNumberToObject(root, "start", w->start_s);
    cJSON_AddNumberToObject(root, "end", w->end_s);
    cJSON_AddNumberToObject(root, "first_frame", (double)w->first);
    cJSON_AddNumberToObject(root, "last_frame", (double)w->last);
    cJSON_AddStringToObject(root, "label", m->classes[best]);
    cJSON_AddNumberToObject(root, "confidence", p[best]);
    cJSON_AddItemToObject(root, "top_k", predict_top_json(st, p));
    predict_print_json(root);
  } else {
    printf("  %.2f-%.2f s  frames %" PRId64 "-%" PRId64
           "  Action Predicted: %s Confidence: %.4f\n",
           w->start_s, w->end_s, w->first, w->last, m->classes[best], p[best]);
    predict_top_text(st, p, "    ");
  }
  fflush(stdout);
}

gesta_status predict_keep_window(predict_state *st, const gesta_window *w,
                                 const float *p, gesta_error *err) {
  predict_window_result *r;
  if (st->opt->camera)
    return GESTA_STATUS_OK;
  if (st->n_wins == st->cap_wins) {
    int64_t cap = st->cap_wins ? 2 * st->cap_wins : 64;
    predict_window_result *grown = realloc(st->wins, sizeof *grown * cap);
    if (!grown)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory keeping window results");
    st->wins = grown;
    st->cap_wins = cap;
  }
  r = &st->wins[st->n_wins];
  r->window = *w;
  predict_top(p, st->model->n_classes, 1, &r->label);
  r->probs = malloc(sizeof *r->probs * (size_t)st->model->n_classes);
  if (!r->probs)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory keeping window results");
  memcpy(r->probs, p, sizeof *r->probs * (size_t)st->model->n_classes);
  st->n_wins++;
  return GESTA_STATUS_OK;
}

void predict_clear_windows(predict_state *st) {
  for (int64_t i = 0; i < st->n_wins; i++)
    free(st->wins[i].probs);
  st->n_wins = 0;
}

static cJSON *predict_segments_json(const predict_state *st, bool print) {
  cJSON *arr = print ? NULL : cJSON_CreateArray();
  int64_t i = 0;
  if (print)
    printf("segments:\n");
  while (i < st->n_wins) {
    int64_t j = i;
    double conf = 0;
    int label = st->wins[i].label;
    while (j < st->n_wins && st->wins[j].label == label)
      conf += st->wins[j++].probs[label];
    conf /= (double)(j - i);
    if (print) {
      printf("  %.2f-%.2f s  %s (%" PRId64 " window%s, mean confidence "
             "%.4f)\n",
             st->wins[i].window.start_s, st->wins[j - 1].window.end_s,
             st->model->classes[label], j - i, j - i == 1 ? "" : "s", conf);
    } else {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "start", st->wins[i].window.start_s);
      cJSON_AddNumberToObject(o, "end", st->wins[j - 1].window.end_s);
      cJSON_AddStringToObject(o, "label", st->model->classes[label]);
      cJSON_AddNumberToObject(o, "windows", (double)(j - i));
      cJSON_AddNumberToObject(o, "confidence", conf);
      cJSON_AddItemToArray(arr, o);
    }
    i = j;
  }
  return arr;
}

void predict_windows_done(predict_state *st, int video,
                          const gesta_clip_stats *s, int64_t frames,
                          int64_t stride) {
  cJSON *root, *wins;
  if (!st->opt->json) {
    predict_segments_json(st, true);
    return;
  }
  root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "file", predict_name(st, video));
  cJSON_AddNumberToObject(root, "window", (double)frames);
  cJSON_AddNumberToObject(root, "stride", (double)stride);
  cJSON_AddNumberToObject(root, "frame_count", (double)s->frame_count);
  cJSON_AddNumberToObject(root, "width", s->width);
  cJSON_AddNumberToObject(root, "height", s->height);
  wins = cJSON_AddArrayToObject(root, "windows");
  for (int64_t i = 0; i < st->n_wins; i++) {
    const predict_window_result *r = &st->wins[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "start", r->window.start_s);
    cJSON_AddNumberToObject(o, "end", r->window.end_s);
    cJSON_AddNumberToObject(o, "first_frame", (double)r->window.first);
    cJSON_AddNumberToObject(o, "last_frame", (double)r->window.last);
    cJSON_AddStringToObject(o, "label", st->model->classes[r->label]);
    cJSON_AddNumberToObject(o, "confidence", r->probs[r->label]);
    cJSON_AddItemToObject(o, "top_k", predict_top_json(st, r->probs));
    cJSON_AddItemToArray(wins, o);
  }
  cJSON_AddItemToObject(root, "segments", predict_segments_json(st, false));
  if (s->damaged)
    cJSON_AddStringToObject(root, "warning", s->warning);
  cJSON_AddItemToObject(root, "timings_ms", predict_timings(s, st->infer_ms));
  predict_print_json(root);
}

#endif
