/* gesta — the synthetic human-activity dataset (`gesta synth`): stick
 * figures drawn with cairo acting out six classes in three time-reversed
 * pairs, written like UCF101 (320x240, 25 fps, MPEG-4 part 2 in AVI, class
 * folders, classInd.txt and a train/test split by group).
 *
 * Within a pair one class is rendered and the other is the very same frame
 * sequence played backwards, so the two classes have the same frames and
 * differ only in their order: a per-frame model cannot tell them apart, a
 * temporal one can. docs/synth.md describes the classes and what is
 * randomised.
 *
 * Available when gesta is built with GESTA_GSTREAMER (it needs cairo and,
 * for gesta_synth_build, GStreamer); GESTA_HAVE_GSTREAMER says so. */
#ifndef GESTA_SYNTH_H
#define GESTA_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/context.h"
#include "gesta/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Classes in alphabetical order, as classInd.txt numbers them (from 1). */
typedef enum gesta_synth_class {
  GESTA_SYNTH_LOWER_ARMS = 0,
  GESTA_SYNTH_RAISE_ARMS,
  GESTA_SYNTH_SIT_DOWN,
  GESTA_SYNTH_STAND_UP,
  GESTA_SYNTH_WALK_LEFT,
  GESTA_SYNTH_WALK_RIGHT,
  GESTA_SYNTH_CLASS_COUNT
} gesta_synth_class;

#define GESTA_SYNTH_WIDTH 320
#define GESTA_SYNTH_HEIGHT 240
#define GESTA_SYNTH_FPS 25
#define GESTA_SYNTH_MIN_FRAMES 40
#define GESTA_SYNTH_MAX_FRAMES 150
/* File names carry two-digit group and clip numbers, as UCF101's do. */
#define GESTA_SYNTH_MAX_GROUPS 99
#define GESTA_SYNTH_MAX_CLIPS_PER_GROUP 99

/* "LowerArms", ...; NULL for a value out of range. (transfer none) */
const char *gesta_synth_class_name(gesta_synth_class cls);
/* The other class of cls' pair (SitDown <-> StandUp, ...). */
gesta_synth_class gesta_synth_class_partner(gesta_synth_class cls);
/* True for the class that is drawn (RaiseArms, SitDown, WalkRight); its
 * partner is the same clip reversed. */
bool gesta_synth_class_is_drawn(gesta_synth_class cls);

/* One clip in memory: frame_count frames of height x width pixels, RGB,
 * 3 bytes per pixel, rows packed, frames one after the other. */
typedef struct gesta_synth_clip {
  int width, height, frame_count;
  uint8_t *rgb; /* (transfer full) free with gesta_synth_clip_free */
} gesta_synth_clip;

/* Renders clip `clip` of group `group` (both from 1, as in the file name
 * v_<Class>_gGG_cCC.avi) of class cls for a dataset seed, without
 * encoding: exactly the frames gesta_synth_build encodes. A group's look
 * (background style, colours, proportions) depends on (seed, group) only;
 * the clip's motion and randomness on (seed, group, pair, clip), so the
 * two classes of a pair give each other's frames in reverse order. */
gesta_status gesta_synth_render(uint64_t seed, int group, int clip,
                                gesta_synth_class cls, gesta_synth_clip *out,
                                gesta_error *err);
void gesta_synth_clip_free(gesta_synth_clip *clip);

/* Called after each video is written (and once with done == 0 before the
 * first): path relative to the output folder. */
typedef void (*gesta_synth_progress_fn)(void *user, int done, int total,
                                        const char *path);

typedef struct gesta_synth_options {
  int videos_per_class; /* default 20 */
  int groups;           /* default 10; videos are spread evenly over them */
  int test_groups;      /* groups 1..test_groups go to testlist01.txt, as in
                           UCF101's split 1; -1 (default): 7 in 25, rounded,
                           at least 1 when there are 2 groups or more */
  uint64_t seed;        /* default 0 */
  bool force;           /* write into a folder that is not empty */
  gesta_synth_progress_fn progress; /* may be NULL */
  void *progress_user;
} gesta_synth_options;

void gesta_synth_options_init(gesta_synth_options *opt);

/* The number of test groups opt asks for, with the default resolved. */
int gesta_synth_test_groups(const gesta_synth_options *opt);

/* Writes the dataset into out_dir (created when missing): one folder per
 * class, classInd.txt, trainlist01.txt, testlist01.txt. Refuses a folder
 * that is not empty unless opt->force. Each video is written to
 * "<name>.part" and renamed when complete, so an interrupted run never
 * leaves a partial video under its final name. Same seed and options give
 * byte-identical files on the same machine. */
gesta_status gesta_synth_build(const gesta_context *ctx, const char *out_dir,
                               const gesta_synth_options *opt,
                               gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
