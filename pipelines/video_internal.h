/* The frame source's state, shared by video_source.c (building and
 * closing the pipeline) and video_pull.c (pulling frames, reading the
 * bus). Not installed. */
#ifndef GESTA_VIDEO_INTERNAL_H
#define GESTA_VIDEO_INTERNAL_H

#include <gst/gst.h>

#include "gesta/video.h"

struct gesta_video {
  const gesta_context *ctx; /* borrowed */
  char name[GESTA_PATH_MAX];
  gesta_video_options opt;
  GstElement *pipeline, *decode, *convert, *sink;
  GstBus *bus;
  GstSample *sample; /* the frame handed out last, mapped */
  GstMapInfo map;
  bool mapped, started, ended;
  bool local;             /* a local file (not a URI or camera) */
  bool failed_late;       /* an error came after frames: drain, then end */
  char missing[512];      /* descriptions from missing-plugin messages */
  char missing_caps[128]; /* the first missing decoder's caps */
  char warning[512];
  int fps_n, fps_d;
  uint8_t *gray; /* GESTA_PIXEL_GRAY: the frame converted from BGR */
  size_t gray_size;

  /* Written by GStreamer's streaming threads, read under the lock. */
  GMutex lock;
  int64_t decoded;
  int64_t end_ns;     /* PTS + duration of the last decoded frame; -1: none */
  int64_t frame_ns;   /* duration of the last decoded frame */
  int64_t last_pts;   /* of the last decoded frame; -1: none */
  int64_t first_pts;  /* of the first decoded frame; -1: none */
  int64_t max_pts;    /* the latest PTS seen; -1: none */
  int64_t period_ns;  /* from the caps' frame rate; 0: variable */
  int64_t skipped;    /* frames the timestamps say did not decode */
  int64_t skipped_at; /* PTS before the first gap */
  int video_pads, other_pads;
  bool no_more_pads;
  char other_caps[128]; /* the first stream that is not video */
  int64_t hint_frames;  /* the container's frame count; -1: unknown */
};

/* Unmaps and drops the frame handed out last. */
void video_source_release(gesta_video *v);
/* The state the streaming threads write, copied under the lock. */
typedef struct video_source_counts {
  int64_t decoded;
  int64_t end_ns;     /* PTS + duration of the last decoded frame; -1: none */
  int64_t frame_ns;   /* duration of the last decoded frame */
  int64_t last_pts;   /* of the last decoded frame; -1: none */
  int64_t period_ns;  /* from the caps' frame rate; 0: variable */
  int64_t skipped;    /* frames the timestamps say did not decode */
  int64_t skipped_at; /* PTS before the first gap */
  int video_pads, other_pads;
  bool no_more_pads;
} video_source_counts;
video_source_counts video_source_counts_get(gesta_video *v);
/* How many frames the container says the video stream has, asked of the
 * pipeline when the first frame arrives (so known from the first call of
 * the keep filter on): -1 when it does not say. Only a hint: frames that
 * do not decode, a truncated file or a rounded duration make it differ
 * from the count of decodable frames. */
int64_t video_source_frames_hint(gesta_video *v);

#endif
