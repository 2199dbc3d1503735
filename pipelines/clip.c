/* Clip readers: the seed's uniform sampling and sliding windows, both on
 * top of the frame source, both keeping only what they need in memory. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gesta/video.h"

static double clip_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t clip_frame_floats(const gesta_preprocess *pp) {
  return (size_t)(pp->height * pp->width *
                  gesta_pixel_format_channels(
                      gesta_pixel_format_for(pp->channels)));
}

static void clip_note_warning(gesta_clip_stats *stats, const gesta_video *v) {
  const char *w = gesta_video_warning(v);
  if (w && !stats->damaged) {
    stats->damaged = true;
    snprintf(stats->warning, sizeof stats->warning, "%s", w);
  }
}

static bool clip_keep_none(void *user, int64_t index) {
  (void)user, (void)index;
  return false;
}

typedef struct clip_pick {
  int64_t skip, frames;
} clip_pick;

static bool clip_keep_uniform(void *user, int64_t index) {
  const clip_pick *p = user;
  return index % p->skip == 0 && index / p->skip < p->frames;
}

/* Pass one: decode without converting, to count the decodable frames. The
 * container's frame count is not used: it can be missing, estimated from
 * the duration, or count frames that do not decode. */
static gesta_status clip_count(const gesta_context *ctx, const char *source,
                               const gesta_video_options *opt,
                               gesta_clip_stats *stats, gesta_error *err) {
  gesta_video_options o = *opt;
  gesta_video *v = NULL;
  gesta_frame frame;
  bool got = true;
  gesta_status status;

  o.keep = clip_keep_none;
  o.keep_user = NULL;
  status = gesta_video_open(ctx, source, &o, &v, err);
  while (status == GESTA_STATUS_OK && got)
    status = gesta_video_pull(v, &frame, &got, err);
  if (status == GESTA_STATUS_OK) {
    stats->frame_count = gesta_video_frames_decoded(v);
    clip_note_warning(stats, v);
  }
  gesta_video_close(v);
  return status;
}

gesta_status gesta_clip_read_uniform(const gesta_context *ctx,
                                     const char *source,
                                     const gesta_video_options *opt,
                                     const gesta_preprocess *pp, float *out,
                                     int64_t *indices, gesta_clip_stats *stats,
                                     gesta_error *err) {
  gesta_video_options o = *opt;
  size_t per = clip_frame_floats(pp);
  uint8_t *scratch = NULL;
  gesta_video *v = NULL;
  clip_pick pick;
  double t0 = clip_now_ms(), pre = 0;
  int64_t k = 0;
  gesta_status status;

  memset(stats, 0, sizeof *stats);
  o.format = gesta_pixel_format_for(pp->channels);
  status = clip_count(ctx, source, &o, stats, err);
  if (status != GESTA_STATUS_OK)
    goto done;
  if (stats->frame_count < pp->frames) {
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: only %" PRId64
                             " decodable frame%s, fewer than the %" PRId64
                             " frames the model samples from a video",
                             source, stats->frame_count,
                             stats->frame_count == 1 ? "" : "s", pp->frames);
    goto done;
  }
  pick.frames = pp->frames;
  pick.skip = gesta_sampling_uniform_skip(stats->frame_count, pp->frames);
  o.keep = clip_keep_uniform;
  o.keep_user = &pick;
  if (!(scratch = malloc(per))) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory preprocessing %s", source);
    goto done;
  }
  status = gesta_video_open(ctx, source, &o, &v, err);
  /* Stops after the last chosen frame: no need to decode the rest. */
  while (status == GESTA_STATUS_OK && k < pp->frames) {
    gesta_frame frame;
    bool got;
    double t1;
    status = gesta_video_pull(v, &frame, &got, err);
    if (status != GESTA_STATUS_OK)
      break;
    if (!got || frame.index != k * pick.skip) {
      status = gesta_error_set(
          err, GESTA_STATUS_BAD_INPUT,
          "%s: decoded differently the second time (frame %" PRId64
          " of %" PRId64 " missing); the file may be changing",
          source, k * pick.skip, stats->frame_count);
      break;
    }
    stats->width = frame.width;
    stats->height = frame.height;
    t1 = clip_now_ms();
    status =
        gesta_preprocess_frame(pp, &frame, scratch, out + (size_t)k * per, err);
    pre += clip_now_ms() - t1;
    indices[k++] = frame.index;
  }
done:
  gesta_video_close(v);
  free(scratch);
  stats->preprocess_ms = pre;
  stats->decode_ms = clip_now_ms() - t0 - pre;
  return status;
}

struct gesta_window_reader {
  const gesta_context *ctx;
  const gesta_preprocess *pp;
  gesta_video *video;
  int64_t frames, stride;
  size_t per;
  float *ring; /* the last `frames` preprocessed frames, slot index % frames */
  int64_t *pts, *dur;
  uint8_t *scratch;
  int64_t seen;       /* frames pulled */
  int64_t next_start; /* first frame of the next regular window */
  int64_t last_end;   /* last frame of the last window given, -1: none */
  int64_t first_pts;
  bool ended, tail_done;
  gesta_clip_stats stats;
};

gesta_status gesta_window_reader_open(
    const gesta_context *ctx, const char *source,
    const gesta_video_options *opt, const gesta_preprocess *pp, int64_t frames,
    int64_t stride, gesta_window_reader **out, gesta_error *err) {
  gesta_window_reader *r;
  gesta_video_options o = *opt;
  gesta_status status;

  *out = NULL;
  if (frames < 1 || stride < 1)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "a window needs at least 1 frame and a stride of "
                           "at least 1 (got %" PRId64 " and %" PRId64 ")",
                           frames, stride);
  r = calloc(1, sizeof *r);
  if (!r)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory opening %s", source);
  r->ctx = ctx;
  r->pp = pp;
  r->frames = frames;
  r->stride = stride;
  r->per = clip_frame_floats(pp);
  r->last_end = -1;
  r->first_pts = GESTA_PTS_NONE;
  r->ring = malloc(sizeof *r->ring * r->per * (size_t)frames);
  r->pts = malloc(sizeof *r->pts * (size_t)frames);
  r->dur = malloc(sizeof *r->dur * (size_t)frames);
  r->scratch = malloc(r->per);
  if (!r->ring || !r->pts || !r->dur || !r->scratch) {
    gesta_window_reader_free(r);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for a window of %" PRId64
                           " frames of %s",
                           frames, source);
  }
  o.format = gesta_pixel_format_for(pp->channels);
  o.keep = NULL;
  o.keep_user = NULL;
  status = gesta_video_open(ctx, source, &o, &r->video, err);
  if (status != GESTA_STATUS_OK) {
    gesta_window_reader_free(r);
    return status;
  }
  *out = r;
  return GESTA_STATUS_OK;
}

/* Seconds from the first frame's PTS; frame index / frame rate for a
 * stream without timestamps. */
static double window_time(const gesta_window_reader *r, int64_t index,
                          bool end) {
  int64_t slot = index % r->frames;
  int num, den;
  double t;
  gesta_video_framerate(r->video, &num, &den);
  if (r->pts[slot] != GESTA_PTS_NONE && r->first_pts != GESTA_PTS_NONE) {
    t = (double)(r->pts[slot] - r->first_pts) / 1e9;
    if (end && r->dur[slot] > 0)
      t += (double)r->dur[slot] / 1e9;
    else if (end && num > 0)
      t += (double)den / num;
    return t;
  }
  return num > 0 ? (double)(index + (end ? 1 : 0)) * den / num : 0.0;
}

static void window_emit(gesta_window_reader *r, int64_t first, float *out,
                        gesta_window *w) {
  for (int64_t i = 0; i < r->frames; i++)
    memcpy(out + (size_t)i * r->per,
           r->ring + (size_t)((first + i) % r->frames) * r->per,
           r->per * sizeof *out);
  w->first = first;
  w->last = first + r->frames - 1;
  w->start_s = window_time(r, w->first, false);
  w->end_s = window_time(r, w->last, true);
  r->last_end = w->last;
}

gesta_status gesta_window_reader_next(gesta_window_reader *r, float *out,
                                      gesta_window *w, bool *got,
                                      gesta_error *err) {
  *got = false;
  while (!r->ended) {
    gesta_frame frame;
    bool have;
    double t0 = clip_now_ms(), t1;
    size_t slot;
    gesta_status status = gesta_video_pull(r->video, &frame, &have, err);
    t1 = clip_now_ms();
    r->stats.decode_ms += t1 - t0;
    if (status != GESTA_STATUS_OK)
      return status;
    if (!have) {
      r->ended = true;
      clip_note_warning(&r->stats, r->video);
      break;
    }
    slot = (size_t)(r->seen % r->frames);
    if (r->first_pts == GESTA_PTS_NONE)
      r->first_pts = frame.pts_ns;
    r->pts[slot] = frame.pts_ns;
    r->dur[slot] = frame.duration_ns;
    r->stats.width = frame.width;
    r->stats.height = frame.height;
    status = gesta_preprocess_frame(r->pp, &frame, r->scratch,
                                    r->ring + slot * r->per, err);
    r->stats.preprocess_ms += clip_now_ms() - t1;
    if (status != GESTA_STATUS_OK)
      return status;
    r->seen++;
    r->stats.frame_count = r->seen;
    if (r->seen == r->next_start + r->frames) {
      window_emit(r, r->next_start, out, w);
      r->next_start += r->stride;
      *got = true;
      return GESTA_STATUS_OK;
    }
  }
  if (r->tail_done)
    return GESTA_STATUS_OK;
  r->tail_done = true;
  if (r->seen < r->frames)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: only %" PRId64 " decodable frame%s, fewer "
                           "than the %" PRId64 " frames of one window",
                           gesta_video_name(r->video), r->seen,
                           r->seen == 1 ? "" : "s", r->frames);
  /* The regular windows stop short of the end when the stride does not
   * divide it: one more window covers the final frames. */
  if (r->last_end != r->seen - 1) {
    window_emit(r, r->seen - r->frames, out, w);
    *got = true;
  }
  return GESTA_STATUS_OK;
}

const gesta_clip_stats *
gesta_window_reader_stats(const gesta_window_reader *r) {
  return &r->stats;
}

void gesta_window_reader_free(gesta_window_reader *r) {
  if (!r)
    return;
  gesta_video_close(r->video);
  free(r->ring);
  free(r->pts);
  free(r->dur);
  free(r->scratch);
  free(r);
}
