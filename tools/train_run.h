/* gesta train's run: the data (a clip cache split into training and
 * validation samples), the epoch loop with its progress output, and the
 * files a run folder holds. */
#ifndef GESTA_TRAIN_RUN_H
#define GESTA_TRAIN_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "gesta/checkpoint.h"
#include "gesta/clipcache.h"

/* Exit status after Ctrl-C, as a shell reports it. */
#define TRAIN_EXIT_INTERRUPTED 130

typedef struct train_data {
  gesta_clipcache *cache;
  bool per_frame; /* the model classifies single frames */
  int64_t frames; /* per clip */
  int n_classes;
  int64_t *train, n_train; /* clip indices */
  int64_t *val, n_val;
  int64_t sample_floats;   /* one model input */
  uint64_t seed;           /* the run's */
  int64_t frames_per_clip; /* per-frame model: frames a clip gives per
                              epoch (0: all) */
  bool augment;            /* draw each training sample with a random look */
  double aug_zoom;         /* with augment: figure size in [1/(1+z), 1+z] */
  double aug_noise;        /* with augment: grain up to this x the range */
  int64_t aug_time;        /* with augment: frames moved by up to this */
  /* With augment: half the samples mirrored left-right, their class c
   * becoming mirror_label[c] (n_classes entries, owned; NULL: kept). */
  bool aug_mirror;
  int *mirror_label;
  bool val_by_group; /* validation took whole groups (looks) */
  float *scratch;    /* one frame, for augmentation */
} train_data;

/* Picks the training and validation clips: the cache's validation clips
 * when it has any, otherwise a seeded validation_split of its training
 * clips, drawn as whole groups (UCF101's _gNN_ in the file names) when
 * by_group is set and every clip has one. Test clips are never used. */
gesta_status train_data_init(train_data *d, gesta_clipcache *cache,
                             const gesta_model *model, double validation_split,
                             bool by_group, uint64_t seed, gesta_error *err);
void train_data_free(train_data *d);
/* Samples a clip gives per epoch: 1, or for a per-frame model its frames
 * (at most frames_per_clip of them). */
int64_t train_data_frames_per_clip(const train_data *d);
/* Training samples per epoch: clips x train_data_frames_per_clip. */
int64_t train_data_samples(const train_data *d);
/* Sample s of epoch `epoch` (1-based), drawn at `position` of its order,
 * into input (sample_floats floats) and its one-hot target; with
 * d->augment, with the random look that epoch and position draw. */
gesta_status train_data_fill(const train_data *d, int64_t s, int64_t epoch,
                             int64_t position, float *input, float *target,
                             gesta_error *err);

/* --augment (train_augment.c): the seed of the sample at `position` of
 * epoch `epoch`'s order, and the transform it draws applied to one sample
 * (every frame of a clip alike) in place; true when it mirrored it. */
uint64_t train_augment_seed(uint64_t run_seed, int64_t epoch, int64_t position);
bool train_augment_sample(const train_data *d, float *x, uint64_t seed);
/* --mirror-swap's "A:B,C:D" against the model's classes: map[c] is the
 * class a mirrored sample of class c becomes (c itself unless named). */
gesta_status train_mirror_labels(const char *spec, const gesta_model *model,
                                 int *map, gesta_error *err);

typedef struct train_eval {
  double loss, accuracy; /* NAN when there are no clips */
  int64_t clips;
} train_eval;

/* Inference-mode loss and accuracy per clip (a per-frame model: the mean
 * of its frames' probabilities), in batches of the trainer's size. */
gesta_status train_evaluate(gesta_trainer *trainer, const train_data *d,
                            const int64_t *clips, int64_t n, train_eval *out,
                            gesta_error *err);

typedef struct train_run {
  cli_common *common;
  gesta_model *model;
  gesta_trainer *trainer;
  train_data data;
  gesta_train_state state;
  const char *run_dir;
  char *checkpoint_path, *best_path;
  bool tty;          /* progress bar redrawn in place */
  int64_t log_every; /* plain progress line every N batches */
} train_run;

/* Runs epochs state.epoch + 1 .. state.epochs (continuing a partly done
 * epoch from state.batch_done), with a checkpoint after each, until the
 * limit, early stopping, an error or Ctrl-C (GESTA_STATUS_OK with
 * *interrupted set, after a checkpoint at the end of the current batch). */
gesta_status train_run_epochs(train_run *run, bool *interrupted,
                              gesta_error *err);

/* history.csv and history.json from the state. */
gesta_status train_write_history(const train_run *run, gesta_error *err);

/* gesta train's command line. */
typedef struct train_cli {
  const char *model, *data, *output, *resume;
  int64_t epochs, batch, patience, threads, log_every, frames_per_clip,
      lr_patience, aug_time, warmup;
  double validation_split, lr, momentum, lr_factor, min_lr, aug_zoom, aug_noise;
  uint64_t seed;
  const char *optimizer, *monitor;
  const char *mirror_swap; /* NULL: not given */
  bool early_stopping, force, augment, val_by_group, aug_mirror;
  /* Which options the command line gave (a resume checks them). */
  bool frames_given, epochs_given, batch_given, val_given, seed_given, lr_given,
      optimizer_given, momentum_given, threads_given, monitor_given,
      aug_zoom_given, aug_noise_given, aug_time_given, warmup_given;
} train_cli;

/* The command after parsing: a new run or a resumed one. Returns the exit
 * code. */
int train_command(cli_common *common, const train_cli *cli);

#endif
