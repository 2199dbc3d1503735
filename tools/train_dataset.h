/* Building a clip cache from a dataset folder with progress output, shared
 * by gesta dataset build and gesta train DATA_DIR. */
#ifndef GESTA_TRAIN_DATASET_H
#define GESTA_TRAIN_DATASET_H

#include <stdbool.h>

#include "cli.h"
#include "gesta/clipcache.h"

typedef struct train_build_request {
  const char *dir, *cache;
  const gesta_model *model;
  int split;            /* gesta_split_mode */
  int split_index;      /* trainlist0N */
  double test_fraction; /* random split */
  double val_fraction;  /* validation clips set aside at build time */
  uint64_t seed;
  gesta_clip_dtype dtype;
  bool progress;
} train_build_request;

void train_build_request_init(train_build_request *req);

/* Lists the folder, decodes every video and writes the cache, printing a
 * progress bar on a terminal (plain lines otherwise) and a summary on
 * stdout. Without GStreamer: GESTA_STATUS_UNSUPPORTED saying so. */
gesta_status train_build_cache(cli_common *common,
                               const train_build_request *req,
                               gesta_error *err);

#endif
