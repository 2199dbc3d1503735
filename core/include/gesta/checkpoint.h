/* gesta — training checkpoints: everything a run needs to continue exactly
 * where it stopped, in one safetensors file written atomically (temporary
 * file, fsync, rename): a crash leaves the previous checkpoint whole.
 *
 * Tensors: every parameter under its model name ("conv1.kernel", moving
 * statistics included) and the optimiser's state
 * ("optimizer.m.conv1.kernel", see gesta_trainer_state_name). __metadata__:
 *   gesta.checkpoint  format version
 *   gesta.model       the model's name
 *   gesta.fingerprint the model's fingerprint (16 hex digits)
 *   gesta.train       JSON: options, epoch, step, position in the epoch,
 *                     RNG state, early-stopping state
 *   gesta.history     JSON: one object per finished epoch */
#ifndef GESTA_CHECKPOINT_H
#define GESTA_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/error.h"
#include "gesta/model.h"
#include "gesta/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GESTA_CHECKPOINT_VERSION 1

/* A hash of what makes weights fit a model: its input shape and, per layer
 * in order, the name, op, attributes, time distribution, output shape and
 * parameters' names and shapes. Not the classes' names, the preprocessing
 * or the weights file. */
uint64_t gesta_model_fingerprint(const gesta_model *model);

/* One finished epoch; NAN for a value the run does not have (no
 * validation data). */
typedef struct gesta_history_row {
  int64_t epoch; /* 1-based */
  double loss, accuracy, val_loss, val_accuracy;
  double time_s, lr;
} gesta_history_row;

/* A run's options and progress. */
typedef struct gesta_train_state {
  /* Fixed for the run (a resume checks or keeps them). */
  char model_name[GESTA_NAME_MAX];
  uint64_t fingerprint;
  int64_t batch;
  uint64_t seed;
  double validation_split;
  bool validation_by_group; /* the split takes whole groups (looks) */
  gesta_optim_config optim;
  int threads; /* OpenBLAS threads: part of bit-exact reproducibility */
  char data[GESTA_PATH_MAX]; /* the clip cache trained on */
  bool augment;              /* training samples drawn with random looks */
  double augment_zoom;       /* and sizes in [1/(1+z), 1+z] (0: none) */
  double augment_noise;      /* and grain up to this x the value range */
  int64_t augment_time;      /* and the frames moved by up to this many */
  bool augment_mirror;       /* and half of them mirrored left-right */
  /* Classes a mirror turns into each other, "A:B,C:D" ("" : none). */
  char mirror_swap[256];
  int64_t frames_per_clip; /* per-frame model: frames per clip and epoch
                              (0: all) */
  /* Where it trains ("auto", "cpu", "opencl") and the --device asked for
   * ("" = the default): a resume goes on there unless told otherwise. */
  char backend[16];
  char device[GESTA_NAME_MAX];
  /* May change on a resume. */
  int64_t epochs; /* to run in all */
  bool early_stopping;
  char monitor[32]; /* "val_loss", "val_accuracy", "loss", "accuracy" */
  int64_t patience;
  /* Keras' ReduceLROnPlateau on the monitor: after lr_patience epochs
   * without improvement the learning rate (optim.learning_rate, the
   * current one) is multiplied by lr_factor, not below min_lr. 0: off. */
  double lr_factor, min_lr;
  int64_t lr_patience;
  /* The learning rate rises linearly over the first warmup epochs' steps
   * to optim.learning_rate, and plateaus do not lower it before. 0: off. */
  int64_t warmup;

  /* Progress. A checkpoint taken at the end of epoch e has epoch = e and
   * batch_done = 0; one taken mid-epoch (Ctrl-C) has the batches of epoch
   * e + 1 done so far and their running sums. */
  int64_t epoch, batch_done;
  double sum_loss, sum_time_s;
  int64_t sum_correct, sum_rows;
  int64_t step;       /* optimiser updates (gesta_trainer_step_count) */
  uint64_t rng[4];    /* the run's generator after the last epoch began */
  double best;        /* monitored value of best_epoch */
  int64_t best_epoch; /* 0: none yet */
  int64_t wait;       /* epochs without improvement */
  int64_t lr_wait;    /* the same, since the last learning rate change */
  bool finished;      /* early stopping or the epoch limit ended the run */

  gesta_history_row *history; /* epoch rows, owned */
  int64_t n_history;
} gesta_train_state;

void gesta_train_state_init(gesta_train_state *state);
/* Frees the history; the state can be reused after init. */
void gesta_train_state_free(gesta_train_state *state);
/* Appends a row (copies it). */
gesta_status gesta_train_state_add_history(gesta_train_state *state,
                                           const gesta_history_row *row,
                                           gesta_error *err);

/* Writes a checkpoint: the model's host weights (download them from the
 * trainer first), the trainer's optimiser state (trainer may be NULL: no
 * state) and the run's state. Atomic; on failure the previous file at path
 * is untouched and the error names the file and the reason. */
gesta_status gesta_checkpoint_save(const char *path, const gesta_model *model,
                                   gesta_trainer *trainer,
                                   const gesta_train_state *state,
                                   gesta_error *err);

/* Reads only the run's state (history included) from a checkpoint, e.g. to
 * learn the batch size before making the trainer. *state is overwritten
 * (free a previous history first). */
gesta_status gesta_checkpoint_read_state(const char *path,
                                         gesta_train_state *state,
                                         gesta_error *err);

/* Checks the checkpoint was made for this model (same fingerprint: an
 * error names both models otherwise), then reads its weights into the
 * model's host copies (the model must have weights allocated), uploads
 * them and the optimiser's state to the trainer (when not NULL) and sets
 * its step count, and fills state (when not NULL; overwritten, as by
 * gesta_checkpoint_read_state). */
gesta_status gesta_checkpoint_load(const char *path, gesta_model *model,
                                   gesta_trainer *trainer,
                                   gesta_train_state *state, gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
