/* gesta bench --train: how fast training steps run on a backend. */
#ifndef GESTA_BENCH_TRAIN_H
#define GESTA_BENCH_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

typedef struct bench_train_options {
  int64_t batch, iterations, warmup;
  uint64_t seed;
  bool json;
  const char *weights; /* what the model's weights came from, for the report */
} bench_train_options;

/* Times training steps (forward in training mode, loss, backward, Adam
 * with Keras' defaults) of model, which must have weights, on the backend
 * common names, with a seeded random input and random one-hot targets, and
 * prints the figures. Returns an exit code. */
int bench_train_run(cli_common *common, gesta_model *model,
                    const bench_train_options *opt);

#endif
