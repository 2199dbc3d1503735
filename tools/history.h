/* A training run's history as `gesta train` writes it (history.csv or
 * history.json in the run folder), read back for `gesta plot`. */
#ifndef GESTA_HISTORY_H
#define GESTA_HISTORY_H

#include <stdint.h>

#include "gesta/gesta.h"

/* The per-epoch columns, in history.csv's order. */
enum {
  HISTORY_EPOCH = 0,
  HISTORY_LOSS,
  HISTORY_ACCURACY,
  HISTORY_VAL_LOSS,
  HISTORY_VAL_ACCURACY,
  HISTORY_TIME_S,
  HISTORY_LR,
  HISTORY_COLUMNS
};

/* Column names: "epoch", "loss", ... */
extern const char *const history_column_names[HISTORY_COLUMNS];

typedef struct history {
  char source[GESTA_PATH_MAX]; /* the file read */
  char model[GESTA_NAME_MAX];  /* "" when the file does not say */
  char monitor[32];            /* what chose the best epoch */
  int64_t n;                   /* epochs */
  /* column[c][i]: NaN where the value is missing, "nan" or empty (a run
   * without validation has no val_ values) */
  double *column[HISTORY_COLUMNS];
  int64_t best_epoch; /* an epoch number; 0 when there is none */
} history;

/* Reads PATH: a run folder (its history.csv, else its history.json) or one
 * of those files. Unknown CSV columns are ignored; epoch and loss are
 * required. A missing file, an empty one, a header without epochs, a value
 * that is not a number or epochs that do not ascend are BAD_INPUT or
 * IO_ERROR naming the file and line. best_epoch and monitor come from
 * history.json when there is one (also next to history.csv); otherwise
 * the epoch of the lowest val_loss, else of the lowest loss. Free with
 * history_free, also after a failure. */
gesta_status history_load(const char *path, history *h, gesta_error *err);
void history_free(history *h);

/* Whether column c holds at least one finite value. */
int history_has_values(const history *h, int c);

#endif
