/* gesta train's data: training and validation clips from a clip cache,
 * samples (clips, or single frames for a per-frame model) and evaluation
 * per clip. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_run.h"

static gesta_status td_oom(gesta_error *err) {
  return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                         "out of memory preparing the training data");
}

/* The group of a UCF101-style name ("Walk/v_Walk_g07_c02.avi": 7), or -1. */
static int64_t td_group(const char *source) {
  const char *base = strrchr(source, '/');
  const char *g = strstr(base ? base : source, "_g");
  int64_t n = 0;
  if (!g || g[2] < '0' || g[2] > '9')
    return -1;
  for (g += 2; *g >= '0' && *g <= '9' && n < 1000000; g++)
    n = n * 10 + (*g - '0');
  return *g == '_' ? n : -1;
}

/* The validation part as whole groups: a seeded shuffle of the training
 * clips' groups, the first round(split x groups) of them validating, so
 * validation clips show looks that training never sees. False (nothing
 * changed) when a clip has no group in its name or there are fewer than
 * two groups. */
static bool td_split_groups(train_data *d, double split, gesta_rng *rng) {
  int64_t *groups = malloc((size_t)d->n_train * sizeof *groups), n = 0;
  bool ok = groups != NULL;
  for (int64_t i = 0; ok && i < d->n_train; i++) {
    int64_t g = td_group(gesta_clipcache_source(d->cache, d->train[i]));
    bool seen = false;
    if (g < 0)
      ok = false;
    for (int64_t j = 0; ok && j < n && !seen; j++)
      seen = groups[j] == g;
    if (ok && !seen)
      groups[n++] = g;
  }
  if (ok && n >= 2) {
    for (int64_t i = n - 1; i > 0; i--) {
      int64_t j = (int64_t)(gesta_rng_next(rng) % (uint64_t)(i + 1));
      int64_t t = groups[i];
      groups[i] = groups[j];
      groups[j] = t;
    }
    int64_t k = (int64_t)(split * (double)n + 0.5);
    k = k < 1 ? 1 : k >= n ? n - 1 : k;
    int64_t kept = 0;
    for (int64_t i = 0; i < d->n_train; i++) {
      int64_t g = td_group(gesta_clipcache_source(d->cache, d->train[i]));
      bool val = false;
      for (int64_t j = 0; j < k && !val; j++)
        val = groups[j] == g;
      if (val)
        d->val[d->n_val++] = d->train[i];
      else
        d->train[kept++] = d->train[i];
    }
    d->n_train = kept;
  }
  free(groups);
  return ok && n >= 2;
}

gesta_status train_data_init(train_data *d, gesta_clipcache *cache,
                             const gesta_model *model, double validation_split,
                             bool by_group, uint64_t seed, gesta_error *err) {
  int64_t n = gesta_clipcache_count(cache);
  memset(d, 0, sizeof *d);
  d->cache = cache;
  d->seed = seed;
  d->per_frame = model->input_shape.rank == 3;
  d->frames = gesta_clipcache_frames(cache);
  d->n_classes = gesta_clipcache_class_count(cache);
  d->sample_floats = d->per_frame ? gesta_clipcache_frame_floats(cache)
                                  : gesta_clipcache_clip_floats(cache);
  d->train = malloc((size_t)(n ? n : 1) * sizeof *d->train);
  d->val = malloc((size_t)(n ? n : 1) * sizeof *d->val);
  d->scratch =
      malloc((size_t)gesta_clipcache_frame_floats(cache) * sizeof *d->scratch);
  if (!d->train || !d->val || !d->scratch) {
    train_data_free(d);
    return td_oom(err);
  }
  bool cache_val = gesta_clipcache_split_count(cache, GESTA_SPLIT_VAL) > 0;
  for (int64_t i = 0; i < n; i++) {
    gesta_split s = gesta_clipcache_split(cache, i);
    if (s == GESTA_SPLIT_TRAIN)
      d->train[d->n_train++] = i;
    else if (s == GESTA_SPLIT_VAL)
      d->val[d->n_val++] = i;
  }
  if (!cache_val && validation_split > 0 && d->n_train > 1) {
    gesta_rng rng;
    gesta_rng_seed(&rng, seed ^ 0x76616c6964617465ull);
    d->val_by_group = by_group && td_split_groups(d, validation_split, &rng);
    if (d->val_by_group)
      return GESTA_STATUS_OK;
    /* A seeded shuffle of the training clips; the first part validates.
     * Whole clips move, so no video is in both parts. */
    for (int64_t i = d->n_train - 1; i > 0; i--) {
      int64_t j = (int64_t)(gesta_rng_next(&rng) % (uint64_t)(i + 1));
      int64_t t = d->train[i];
      d->train[i] = d->train[j];
      d->train[j] = t;
    }
    int64_t k = (int64_t)(validation_split * (double)d->n_train + 0.5);
    if (k >= d->n_train)
      k = d->n_train - 1;
    memcpy(d->val, d->train, (size_t)k * sizeof *d->val);
    d->n_val = k;
    memmove(d->train, d->train + k,
            (size_t)(d->n_train - k) * sizeof *d->train);
    d->n_train -= k;
  }
  if (d->n_train == 0) {
    train_data_free(d);
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s has no training clips (%lld clips, all in the "
                           "test or validation split)",
                           gesta_clipcache_path(cache), (long long)n);
  }
  return GESTA_STATUS_OK;
}

void train_data_free(train_data *d) {
  free(d->train);
  free(d->val);
  free(d->scratch);
  free(d->mirror_label);
  d->train = d->val = NULL;
  d->scratch = NULL;
  d->mirror_label = NULL;
  d->n_train = d->n_val = 0;
}

int64_t train_data_frames_per_clip(const train_data *d) {
  if (!d->per_frame)
    return 1;
  return d->frames_per_clip > 0 && d->frames_per_clip < d->frames
             ? d->frames_per_clip
             : d->frames;
}

int64_t train_data_samples(const train_data *d) {
  return d->n_train * train_data_frames_per_clip(d);
}

/* The j-th of k frames a clip gives in an epoch: k evenly spaced frames
 * from an offset drawn per epoch and clip, so every frame takes turns and
 * each epoch still spans the whole clip. */
static int64_t td_frame(const train_data *d, int64_t clip, int64_t j, int64_t k,
                        int64_t epoch) {
  if (k == d->frames)
    return j;
  uint64_t off = train_augment_seed(d->seed ^ 0x6672616d65ull, epoch, clip);
  return (j * d->frames / k + (int64_t)(off % (uint64_t)d->frames)) % d->frames;
}

gesta_status train_data_fill(const train_data *d, int64_t s, int64_t epoch,
                             int64_t position, float *input, float *target,
                             gesta_error *err) {
  int64_t k = train_data_frames_per_clip(d);
  int64_t clip = d->train[s / k];
  gesta_status st =
      d->per_frame
          ? gesta_clipcache_read_frame(
                d->cache, clip, td_frame(d, clip, s % k, k, epoch), input, err)
          : gesta_clipcache_read(d->cache, clip, input, err);
  if (st != GESTA_STATUS_OK)
    return st;
  bool mirrored =
      d->augment && train_augment_sample(
                        d, input, train_augment_seed(d->seed, epoch, position));
  int label = gesta_clipcache_label(d->cache, clip);
  if (mirrored && d->mirror_label)
    label = d->mirror_label[label];
  memset(target, 0, (size_t)d->n_classes * sizeof *target);
  target[label] = 1;
  return GESTA_STATUS_OK;
}

gesta_status train_evaluate(gesta_trainer *trainer, const train_data *d,
                            const int64_t *clips, int64_t n, train_eval *out,
                            gesta_error *err) {
  gesta_shape in_shape = gesta_trainer_input_shape(trainer);
  int64_t batch = in_shape.dims[0], k = d->n_classes;
  int64_t per_clip = d->per_frame ? d->frames : 1, total = n * per_clip;
  float *input = malloc((size_t)(batch * d->sample_floats) * sizeof(float));
  float *output = malloc((size_t)(batch * k) * sizeof(float));
  double *sums = calloc((size_t)(n ? n * k : 1), sizeof *sums);
  float *probs = malloc((size_t)k * sizeof(float));
  float *onehot = calloc((size_t)k, sizeof(float));
  gesta_status st = GESTA_STATUS_OK;
  out->loss = out->accuracy = NAN;
  out->clips = n;
  if (!input || !output || !sums || !probs || !onehot) {
    st = td_oom(err);
    goto done;
  }
  for (int64_t first = 0; first < total && st == GESTA_STATUS_OK;
       first += batch) {
    int64_t rows = total - first < batch ? total - first : batch;
    for (int64_t r = 0; r < rows && st == GESTA_STATUS_OK; r++) {
      int64_t s = first + r;
      float *dst = input + r * d->sample_floats;
      st = d->per_frame
               ? gesta_clipcache_read_frame(d->cache, clips[s / per_clip],
                                            s % per_clip, dst, err)
               : gesta_clipcache_read(d->cache, clips[s], dst, err);
    }
    /* The rest of a last, partial batch keeps the previous samples: the
     * model runs on them and their outputs are ignored. */
    if (st == GESTA_STATUS_OK)
      st = gesta_trainer_evaluate(trainer, input, NULL, output, NULL, err);
    for (int64_t r = 0; r < rows && st == GESTA_STATUS_OK; r++)
      for (int64_t j = 0; j < k; j++)
        sums[(first + r) / per_clip * k + j] += output[r * k + j];
  }
  if (st != GESTA_STATUS_OK || n == 0)
    goto done;
  double loss = 0;
  int64_t correct = 0;
  for (int64_t c = 0; c < n; c++) {
    int label = gesta_clipcache_label(d->cache, clips[c]);
    for (int64_t j = 0; j < k; j++)
      probs[j] = (float)(sums[c * k + j] / (double)per_clip);
    onehot[label] = 1;
    loss += gesta_loss_cross_entropy(probs, onehot, 1, k, NULL);
    correct += gesta_loss_count_correct(probs, onehot, 1, k);
    onehot[label] = 0;
  }
  out->loss = loss / (double)n;
  out->accuracy = (double)correct / (double)n;
done:
  free(input);
  free(output);
  free(sums);
  free(probs);
  free(onehot);
  return st;
}
