/* Clip readers: the seed's uniform sampling and sliding windows, both on
 * top of the frame source, both keeping only what they need in memory. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gesta/video.h"
#include "video_internal.h"

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

typedef struct clip_pick {
  int64_t skip, frames;
} clip_pick;

static bool clip_keep_uniform(void *user, int64_t index) {
  const clip_pick *p = user;
  return index % p->skip == 0 && index / p->skip < p->frames;
}

/* The one-pass read keeps the frames of every step the container's frame
 * count could give, allowing for a count that is off by a little (a
 * duration rounded to the millisecond, a frame that does not decode). More
 * candidates than this and the read takes two passes instead. */
#define CLIP_MAX_GUESSES 3

typedef struct clip_guess {
  int n;
  int64_t skip[CLIP_MAX_GUESSES];
} clip_guess;

static clip_guess clip_guess_from(int64_t hint, int64_t frames) {
  clip_guess g = {0};
  int64_t slack = 1 + hint / 100, lo, hi;
  if (hint <= 0)
    return g;
  lo = hint > slack ? hint - slack : 1;
  hi = hint + slack;
  for (int64_t s = gesta_sampling_uniform_skip(lo, frames);
       s <= gesta_sampling_uniform_skip(hi, frames); s++) {
    if (g.n == CLIP_MAX_GUESSES)
      return (clip_guess){0};
    g.skip[g.n++] = s;
  }
  return g;
}

/* The keep filter of the one-pass read. It runs on GStreamer's streaming
 * thread; the reading thread works out the same guess from the same hint
 * rather than reading this one. */
typedef struct clip_one_pass {
  gesta_video *video;
  int64_t frames;
  bool asked;
  clip_guess guess;
} clip_one_pass;

static bool clip_keep_guess(void *user, int64_t index) {
  clip_one_pass *o = user;
  if (!o->asked) {
    o->asked = true;
    o->guess = clip_guess_from(video_source_frames_hint(o->video), o->frames);
  }
  for (int i = 0; i < o->guess.n; i++)
    if (index % o->guess.skip[i] == 0 && index / o->guess.skip[i] < o->frames)
      return true;
  return false;
}

/* What the one pass gathered: the chosen frames of each guessed step. */
typedef struct clip_gathered {
  clip_guess guess;
  float *buf[CLIP_MAX_GUESSES]; /* buf[0] is the caller's out */
  int64_t got[CLIP_MAX_GUESSES];
} clip_gathered;

static gesta_status clip_gather(const char *source, clip_gathered *g,
                                const gesta_frame *frame,
                                const gesta_preprocess *pp, uint8_t *scratch,
                                size_t per, gesta_error *err) {
  float *first = NULL;
  for (int i = 0; i < g->guess.n; i++) {
    int64_t s = g->guess.skip[i], k = frame->index / s;
    float *dst;
    if (frame->index % s != 0 || k >= pp->frames)
      continue;
    if (!g->buf[i] &&
        !(g->buf[i] = malloc(sizeof(float) * per * (size_t)pp->frames)))
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory preprocessing %s", source);
    dst = g->buf[i] + (size_t)k * per;
    if (first) {
      memcpy(dst, first, sizeof *dst * per);
    } else {
      gesta_status status =
          gesta_preprocess_frame(pp, frame, scratch, dst, err);
      if (status != GESTA_STATUS_OK)
        return status;
      first = dst;
    }
    /* Frames come in order, so a complete set has k = 0 .. T-1. */
    if (g->got[i] == k)
      g->got[i]++;
  }
  return GESTA_STATUS_OK;
}

/* One decoding pass that counts every frame and converts only the frames
 * the container's frame count says will be chosen. Sets *done when the
 * count that decoded picks those frames; otherwise the caller reads the
 * chosen frames in a second pass (stats->frame_count is then known). */
static gesta_status clip_one_pass_read(const gesta_context *ctx,
                                       const char *source,
                                       const gesta_video_options *opt,
                                       const gesta_preprocess *pp, float *out,
                                       int64_t *indices, uint8_t *scratch,
                                       gesta_clip_stats *stats, double *pre,
                                       bool *done, gesta_error *err) {
  gesta_video_options o = *opt;
  clip_one_pass keep = {.frames = pp->frames};
  clip_gathered g;
  gesta_video *v = NULL;
  size_t per = clip_frame_floats(pp);
  bool got = true, asked = false;
  gesta_status status;

  *done = false;
  memset(&g, 0, sizeof g);
  g.buf[0] = out;
  o.keep = clip_keep_guess;
  o.keep_user = &keep;
  status = gesta_video_open(ctx, source, &o, &v, err);
  /* The pipeline starts on the first pull, so the filter sees this. */
  if (status == GESTA_STATUS_OK)
    keep.video = v;
  while (status == GESTA_STATUS_OK) {
    gesta_frame frame;
    double t1;
    status = gesta_video_pull(v, &frame, &got, err);
    if (status != GESTA_STATUS_OK || !got)
      break;
    if (!asked) {
      asked = true;
      g.guess = clip_guess_from(video_source_frames_hint(v), pp->frames);
    }
    stats->width = frame.width;
    stats->height = frame.height;
    t1 = clip_now_ms();
    status = clip_gather(source, &g, &frame, pp, scratch, per, err);
    *pre += clip_now_ms() - t1;
  }
  if (status == GESTA_STATUS_OK) {
    int64_t skip;
    stats->frame_count = gesta_video_frames_decoded(v);
    clip_note_warning(stats, v);
    skip = gesta_sampling_uniform_skip(stats->frame_count, pp->frames);
    for (int i = 0; i < g.guess.n && stats->frame_count >= pp->frames; i++) {
      if (g.guess.skip[i] != skip || g.got[i] != pp->frames)
        continue;
      if (g.buf[i] != out)
        memcpy(out, g.buf[i], sizeof *out * per * (size_t)pp->frames);
      for (int64_t k = 0; k < pp->frames; k++)
        indices[k] = k * skip;
      *done = true;
    }
    if (!*done)
      gesta_log(ctx, GESTA_LOG_DEBUG,
                "%s: the container says %" PRId64 " frames, %" PRId64
                " decode: reading the chosen frames in a second pass",
                source, video_source_frames_hint(v), stats->frame_count);
  }
  for (int i = 1; i < CLIP_MAX_GUESSES; i++)
    free(g.buf[i]);
  gesta_video_close(v);
  return status;
}

/* The second pass: only the chosen frames are converted, and decoding stops
 * after the last of them. */
static gesta_status clip_pick_pass(const gesta_context *ctx, const char *source,
                                   const gesta_video_options *opt,
                                   const gesta_preprocess *pp, float *out,
                                   int64_t *indices, uint8_t *scratch,
                                   gesta_clip_stats *stats, double *pre,
                                   gesta_error *err) {
  gesta_video_options o = *opt;
  size_t per = clip_frame_floats(pp);
  gesta_video *v = NULL;
  clip_pick pick;
  int64_t k = 0;
  gesta_status status;

  pick.frames = pp->frames;
  pick.skip = gesta_sampling_uniform_skip(stats->frame_count, pp->frames);
  o.keep = clip_keep_uniform;
  o.keep_user = &pick;
  status = gesta_video_open(ctx, source, &o, &v, err);
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
    *pre += clip_now_ms() - t1;
    indices[k++] = frame.index;
  }
  gesta_video_close(v);
  return status;
}

/* The frame count is counted, not read from the container: it can be
 * missing, estimated from the duration, or count frames that do not
 * decode. The container's count only guesses which frames to convert
 * during the counting pass; a wrong guess costs a second pass, never a
 * different clip. */
gesta_status gesta_clip_read_uniform(const gesta_context *ctx,
                                     const char *source,
                                     const gesta_video_options *opt,
                                     const gesta_preprocess *pp, float *out,
                                     int64_t *indices, gesta_clip_stats *stats,
                                     gesta_error *err) {
  gesta_video_options o = *opt;
  uint8_t *scratch = NULL;
  double t0 = clip_now_ms(), pre = 0;
  bool done = false;
  gesta_status status;

  memset(stats, 0, sizeof *stats);
  o.format = gesta_pixel_format_for(pp->channels);
  if (!(scratch = malloc(clip_frame_floats(pp)))) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory preprocessing %s", source);
    goto done;
  }
  status = clip_one_pass_read(ctx, source, &o, pp, out, indices, scratch, stats,
                              &pre, &done, err);
  if (status != GESTA_STATUS_OK || done)
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
  status = clip_pick_pass(ctx, source, &o, pp, out, indices, scratch, stats,
                          &pre, err);
done:
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
