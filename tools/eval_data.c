/* gesta eval's data sources (see eval.h). */
#include "eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if GESTA_HAVE_GSTREAMER
#include "gesta/video.h"
#endif

const char *eval_split_name(int split) {
  return split == EVAL_SPLIT_ALL ? "all" : gesta_split_name((gesta_split)split);
}

static gesta_status eval_select(eval_state *st, int64_t total,
                                const int *splits, gesta_error *err) {
  int64_t per_split[3] = {0, 0, 0};
  st->selected = malloc(sizeof *st->selected * (size_t)(total ? total : 1));
  if (!st->selected)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < total; i++) {
    if (splits[i] >= 0 && splits[i] < 3)
      per_split[splits[i]]++;
    if (st->opt->split == EVAL_SPLIT_ALL || splits[i] == st->opt->split)
      st->selected[st->n_selected++] = i;
  }
  if (st->n_selected == 0)
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "%s has no clips in the %s split (train %lld, val %lld, test %lld): "
        "choose another with --split",
        st->opt->data, eval_split_name(st->opt->split),
        (long long)per_split[GESTA_SPLIT_TRAIN],
        (long long)per_split[GESTA_SPLIT_VAL],
        (long long)per_split[GESTA_SPLIT_TEST]);
  return GESTA_STATUS_OK;
}

static gesta_status eval_open_cache(eval_state *st, gesta_error *err) {
  int64_t n;
  int *splits;
  gesta_status status = gesta_clipcache_open(st->opt->data, &st->cache, err);
  if (status == GESTA_STATUS_OK)
    status = gesta_clipcache_check_model(st->cache, st->model, err);
  if (status != GESTA_STATUS_OK)
    return status;
  n = gesta_clipcache_count(st->cache);
  splits = malloc(sizeof *splits * (size_t)(n ? n : 1));
  if (!splits)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < n; i++)
    splits[i] = (int)gesta_clipcache_split(st->cache, i);
  status = eval_select(st, n, splits, err);
  free(splits);
  snprintf(st->split_source, sizeof st->split_source, "clip cache");
  return status;
}

#if GESTA_HAVE_GSTREAMER
/* "A, B, C" into buf, shortened with "..." when long. */
static const char *eval_list(char *const *names, int n, char *buf,
                             size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && used + 8 < size; i++) {
    int len =
        snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
    if (len < 0 || used + (size_t)len >= size - 4) {
      snprintf(buf + used, size - used, ", ...");
      break;
    }
    used += (size_t)len;
  }
  return buf;
}

/* The model's classes must be the dataset's, names and order. */
static gesta_status eval_check_classes(const eval_state *st,
                                       char *const *classes, int n,
                                       gesta_error *err) {
  const gesta_model *m = st->model;
  char mine[400], theirs[400];
  bool same = n == m->n_classes;
  for (int i = 0; same && i < n; i++)
    same = strcmp(classes[i], m->classes[i]) == 0;
  if (same)
    return GESTA_STATUS_OK;
  return gesta_error_set(
      err, GESTA_STATUS_BAD_INPUT,
      "model '%s' (%s) has %d classes [%s] but %s has %d [%s]: evaluate a "
      "model trained on this dataset (the classes and their order must be "
      "the same)",
      m->name, m->path, m->n_classes,
      eval_list(m->classes, m->n_classes, mine, sizeof mine), st->opt->data, n,
      eval_list(classes, n, theirs, sizeof theirs));
}

static gesta_status eval_open_folder(eval_state *st, gesta_error *err) {
  int *splits;
  gesta_status status;
  if (st->opt->split == GESTA_SPLIT_VAL)
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "a dataset folder has no val split (gesta train draws it from the "
        "training clips): evaluate the clip cache it trained on with --split "
        "val, or use --split test, train or all");
  status =
      gesta_dataset_open(&st->common->ctx, st->opt->data, NULL, &st->ds, err);
  if (status == GESTA_STATUS_OK)
    status = eval_check_classes(st, st->ds->classes, st->ds->n_classes, err);
  if (status != GESTA_STATUS_OK)
    return status;
  splits = malloc(sizeof *splits * (size_t)(st->ds->n_videos + 1));
  if (!splits)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < st->ds->n_videos; i++)
    splits[i] = (int)st->ds->videos[i].split;
  status = eval_select(st, st->ds->n_videos, splits, err);
  free(splits);
  snprintf(st->split_source, sizeof st->split_source, "%s", st->ds->split_desc);
  return status;
}
#endif

gesta_status eval_open_data(eval_state *st, gesta_error *err) {
  struct stat sb;
  if (stat(st->opt->data, &sb) != 0)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s does not exist: DATA is a clip cache (gesta "
                           "dataset build) or a dataset folder",
                           st->opt->data);
  if (!S_ISDIR(sb.st_mode))
    return eval_open_cache(st, err);
#if GESTA_HAVE_GSTREAMER
  return eval_open_folder(st, err);
#else
  return gesta_error_set(
      err, GESTA_STATUS_UNSUPPORTED,
      "%s is a dataset folder, and reading its videos needs GStreamer: this "
      "gesta was built with GESTA_GSTREAMER=OFF. Evaluate a clip cache "
      "(gesta dataset build) instead",
      st->opt->data);
#endif
}

int eval_label(const eval_state *st, int64_t sample) {
#if GESTA_HAVE_GSTREAMER
  if (st->ds)
    return st->ds->videos[sample].label;
#endif
  return gesta_clipcache_label(st->cache, sample);
}

const char *eval_source(const eval_state *st, int64_t sample) {
#if GESTA_HAVE_GSTREAMER
  if (st->ds)
    return st->ds->videos[sample].path;
#endif
  return gesta_clipcache_source(st->cache, sample);
}

gesta_status eval_fill(eval_state *st, int64_t sample, float *slot, bool *skip,
                       gesta_error *err) {
  *skip = false;
#if GESTA_HAVE_GSTREAMER
  if (st->ds) {
    char path[GESTA_PATH_MAX * 2];
    gesta_video_options vo;
    gesta_clip_stats stats;
    int64_t *indices =
        malloc(sizeof *indices * (size_t)st->model->preprocess.frames);
    gesta_status status;
    if (!indices)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
    snprintf(path, sizeof path, "%s/%s", st->ds->root,
             st->ds->videos[sample].path);
    gesta_video_options_init(&vo);
    status = gesta_clip_read_uniform(&st->common->ctx, path, &vo,
                                     &st->model->preprocess, slot, indices,
                                     &stats, err);
    free(indices);
    if (status == GESTA_STATUS_OK || status == GESTA_STATUS_OUT_OF_MEMORY)
      return status;
    if (st->skipped++ < EVAL_MAX_WARNINGS)
      gesta_log(&st->common->ctx, GESTA_LOG_WARNING, "skipped: %s",
                err->message);
    gesta_error_clear(err);
    *skip = true;
    return GESTA_STATUS_OK;
  }
#endif
  return gesta_clipcache_read(st->cache, sample, slot, err);
}
