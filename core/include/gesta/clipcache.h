/* gesta — clip caches: a dataset decoded once with a model's preprocessing
 * and stored as one memory-mappable file, so training and evaluation never
 * decode a video again.
 *
 * Every clip is `frames` frames of height x width x channels pixels, the
 * model's preprocess section (a per-frame model stores the same clips as a
 * clip model: its `frames` frames per video). Pixels are stored as uint8
 * (the resized frame before scaling) and multiplied by the cache's scale
 * when read, which gives exactly the floats gesta_preprocess_frame makes;
 * a cache may also store float32 (see docs/training.md for the measurements
 * behind the default).
 *
 * Reading needs no GStreamer: the reader is part of the core library.
 * Building a cache from videos (gesta_dataset_build in gesta/dataset.h)
 * needs the video pipeline; it writes through gesta_clipcache_writer. */
#ifndef GESTA_CLIPCACHE_H
#define GESTA_CLIPCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gesta/error.h"
#include "gesta/model.h"
#include "gesta/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GESTA_CLIPCACHE_VERSION 1

/* Which part of the dataset a clip belongs to. */
typedef enum gesta_split {
  GESTA_SPLIT_TRAIN = 0,
  GESTA_SPLIT_VAL, /* held out from the training part at build time */
  GESTA_SPLIT_TEST
} gesta_split;

/* "train", "val", "test". */
const char *gesta_split_name(gesta_split split);

typedef enum gesta_clip_dtype {
  GESTA_CLIP_U8 = 0, /* pixel values 0..255, times scale when read */
  GESTA_CLIP_F32     /* already scaled */
} gesta_clip_dtype;

typedef struct gesta_clipcache gesta_clipcache;

/* Maps a cache file read-only and validates its header, its tables and its
 * size against each other: a truncated file, another file type or a newer
 * version are GESTA_STATUS_BAD_INPUT naming the file and saying to rebuild
 * it with `gesta dataset build`. (transfer full) close with
 * gesta_clipcache_close. */
gesta_status gesta_clipcache_open(const char *path, gesta_clipcache **out,
                                  gesta_error *err);
void gesta_clipcache_close(gesta_clipcache *cache);

/* The file as given, for messages. */
const char *gesta_clipcache_path(const gesta_clipcache *cache);

/* Number of clips (all splits). */
int64_t gesta_clipcache_count(const gesta_clipcache *cache);
/* Clips in one split. */
int64_t gesta_clipcache_split_count(const gesta_clipcache *cache,
                                    gesta_split split);

/* One clip's shape: (frames, height, width, channels). */
gesta_shape gesta_clipcache_clip_shape(const gesta_clipcache *cache);
/* Floats in one clip (the count of the clip shape) and in one frame. */
int64_t gesta_clipcache_clip_floats(const gesta_clipcache *cache);
int64_t gesta_clipcache_frame_floats(const gesta_clipcache *cache);
int64_t gesta_clipcache_frames(const gesta_clipcache *cache);

/* The preprocessing the clips were made with (size, channel order, scale,
 * uniform sampling, frames). */
const gesta_preprocess *
gesta_clipcache_preprocess(const gesta_clipcache *cache);
gesta_clip_dtype gesta_clipcache_dtype(const gesta_clipcache *cache);

/* The name of the model whose preprocessing built the cache and that
 * model's per-sample input shape (informational: any model with the same
 * preprocessing can use the cache; see gesta_clipcache_check_model). */
const char *gesta_clipcache_model_name(const gesta_clipcache *cache);
gesta_shape gesta_clipcache_model_input(const gesta_clipcache *cache);

/* Classes in label order (classInd.txt's order, or sorted folder names). */
int gesta_clipcache_class_count(const gesta_clipcache *cache);
/* Borrowed, valid until close; NULL when i is out of range. */
const char *gesta_clipcache_class_name(const gesta_clipcache *cache, int i);

/* Per clip (i in 0..count-1; out of range gives -1 / NULL). */
int gesta_clipcache_label(const gesta_clipcache *cache, int64_t i);
gesta_split gesta_clipcache_split(const gesta_clipcache *cache, int64_t i);
/* The video the clip was decoded from, relative to the dataset folder
 * ("Walk/v_Walk_g01_c01.avi"). Borrowed, valid until close. */
const char *gesta_clipcache_source(const gesta_clipcache *cache, int64_t i);

/* Clip i as floats with the scale applied: clip_floats floats into out. */
gesta_status gesta_clipcache_read(const gesta_clipcache *cache, int64_t i,
                                  float *out, gesta_error *err);
/* Frame f of clip i: frame_floats floats into out. */
gesta_status gesta_clipcache_read_frame(const gesta_clipcache *cache, int64_t i,
                                        int64_t frame, float *out,
                                        gesta_error *err);

/* Whether a model can use the cache: a clip model's input must be the clip
 * shape; a per-frame model's input must be one frame. Its preprocess
 * section (when it has one) must match the cache's size, channel order and
 * scale, and its classes the cache's (same names, same order). The error
 * says what differs and what to do. */
gesta_status gesta_clipcache_check_model(const gesta_clipcache *cache,
                                         const gesta_model *model,
                                         gesta_error *err);

/* ---- writing ----------------------------------------------------------- */

typedef struct gesta_clipcache_writer gesta_clipcache_writer;

/* Starts a cache at path: the clips go to a temporary file next to it that
 * gesta_clipcache_writer_finish renames into place, so a failed or
 * interrupted build never leaves a cache that opens. classes are copied. */
gesta_status gesta_clipcache_writer_new(
    const char *path, const gesta_preprocess *pp, gesta_clip_dtype dtype,
    const char *model_name, gesta_shape model_input, const char *const *classes,
    int n_classes, gesta_clipcache_writer **out, gesta_error *err);
/* Appends one clip. pixels: frames x H x W x C values 0..255 (the resized
 * frames before scaling). */
gesta_status gesta_clipcache_writer_add(gesta_clipcache_writer *writer,
                                        const uint8_t *pixels, int label,
                                        gesta_split split, const char *source,
                                        gesta_error *err);
int64_t gesta_clipcache_writer_count(const gesta_clipcache_writer *writer);
/* Writes the tables, fsyncs and renames into place. Frees the writer
 * whatever happens. */
gesta_status gesta_clipcache_writer_finish(gesta_clipcache_writer *writer,
                                           gesta_error *err);
/* Drops the temporary file. NULL is fine. */
void gesta_clipcache_writer_abort(gesta_clipcache_writer *writer);

#ifdef __cplusplus
}
#endif
#endif
