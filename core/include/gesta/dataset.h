/* gesta — video datasets laid out like UCF101, and building clip caches
 * from them.
 *
 * A dataset folder holds one folder per class with that class's videos
 * (`<Class>/<video>`, any container GStreamer decodes; hidden files and
 * sub-folders are ignored) and optionally UCF101's lists, as `gesta synth`
 * writes them too:
 *   classInd.txt       "1 ApplyEyeMakeup" per line: the classes' order
 *   trainlist0N.txt    "ApplyEyeMakeup/v_..._g08_c01.avi 1" per line
 *   testlist0N.txt     "ApplyEyeMakeup/v_..._g01_c01.avi" per line
 * Without classInd.txt the classes are the folder names, sorted.
 *
 * Available when gesta is built with GESTA_GSTREAMER; reading the caches it
 * builds needs no GStreamer (gesta/clipcache.h). */
#ifndef GESTA_DATASET_H
#define GESTA_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/clipcache.h"
#include "gesta/context.h"
#include "gesta/error.h"
#include "gesta/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gesta_split_mode {
  GESTA_SPLIT_AUTO = 0, /* the official lists when present, else random */
  GESTA_SPLIT_OFFICIAL, /* trainlist0N -> train, testlist0N -> test */
  GESTA_SPLIT_RANDOM    /* the seed's shuffled split, per video */
} gesta_split_mode;

typedef struct gesta_dataset_options {
  gesta_split_mode split;
  int split_index;      /* N of trainlist0N/testlist0N; default 1 */
  double test_fraction; /* random split: default 0.25 */
  double val_fraction;  /* of the training part, seeded; default 0 */
  uint64_t seed;        /* random and validation splits */
} gesta_dataset_options;

/* AUTO, split 1, 25 % test, no validation, seed 0. */
void gesta_dataset_options_init(gesta_dataset_options *opt);

typedef struct gesta_dataset_video {
  char *path; /* relative to the dataset folder: "Walk/v_Walk_g01_c01.avi" */
  int label;  /* index into classes */
  gesta_split split;
} gesta_dataset_video;

typedef struct gesta_dataset {
  char *root;
  char **classes;
  int n_classes;
  gesta_dataset_video *videos; /* sorted by class, then path */
  int64_t n_videos;
  bool official;        /* the split came from the lists */
  char split_desc[128]; /* "trainlist01.txt/testlist01.txt", "random 75/25
                           (seed 0)" */
} gesta_dataset;

/* Lists a dataset folder and assigns every video a split. An empty or
 * missing folder, a folder without class folders, classInd.txt or list
 * lines that do not parse or name missing classes or videos are
 * GESTA_STATUS_BAD_INPUT with the file and line. Videos in no list of an
 * official split are left out with a warning through ctx. (transfer full)
 * free with gesta_dataset_free. */
gesta_status gesta_dataset_open(const gesta_context *ctx, const char *dir,
                                const gesta_dataset_options *opt,
                                gesta_dataset **out, gesta_error *err);
void gesta_dataset_free(gesta_dataset *ds);

/* Clips per split. */
int64_t gesta_dataset_split_count(const gesta_dataset *ds, gesta_split split);

/* Called after each video: done of total, the video, and NULL or why it
 * was skipped. */
typedef void (*gesta_dataset_progress)(void *user, int64_t done, int64_t total,
                                       const char *video, const char *skipped);

typedef struct gesta_dataset_build_options {
  gesta_clip_dtype dtype;          /* default GESTA_CLIP_U8 */
  gesta_dataset_progress progress; /* NULL: none */
  void *progress_user;
  /* Polled between videos: true stops the build (GESTA_STATUS_IO_ERROR
   * "interrupted"; no cache is left behind). NULL: never. */
  bool (*cancelled)(void *user);
  void *cancel_user;
} gesta_dataset_build_options;

void gesta_dataset_build_options_init(gesta_dataset_build_options *opt);

typedef struct gesta_dataset_summary {
  int64_t videos, clips, skipped;
  int64_t per_split[3];
  double seconds;
  uint64_t bytes; /* the cache's size */
} gesta_dataset_summary;

/* Decodes every video once with the model's preprocess section (uniform
 * sampling of preprocess.frames frames; a per-frame model gets the same
 * clips) and writes the clips to a cache at cache_path (atomically: a
 * failed build leaves no cache). Videos that cannot be read or have fewer
 * frames than needed are skipped with a warning through ctx and counted;
 * a class left with no clip at all, or no clip at all, is
 * GESTA_STATUS_BAD_INPUT naming it. The model's classes must be the
 * dataset's (names and order). summary may be NULL. */
gesta_status
gesta_dataset_build(const gesta_context *ctx, const gesta_dataset *ds,
                    const gesta_model *model, const char *cache_path,
                    const gesta_dataset_build_options *opt,
                    gesta_dataset_summary *summary, gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
