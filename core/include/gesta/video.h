/* gesta — video input: a GStreamer frame source, the seed's frame sampling
 * and the preprocessing a model declares.
 *
 * A frame source decodes one file, URI or camera and hands out frames one
 * at a time, converted to the pixel format asked for and at the video's own
 * size: it never holds the whole video. The clip readers on top of it
 * (uniform sampling, sliding windows) keep only the frames they need.
 *
 * GStreamer is initialised on the first open (gst_init_check); it stays
 * initialised for the life of the process, as GStreamer requires. Nothing
 * else is global: every source carries its own pipeline and state, and no
 * source runs or needs a GLib main loop.
 *
 * Available when gesta is built with GESTA_GSTREAMER (GESTA_HAVE_GSTREAMER
 * is then defined); gesta_resize_u8 and the sampling arithmetic need no
 * GStreamer but are built with the rest of the video pipeline. */
#ifndef GESTA_VIDEO_H
#define GESTA_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gesta/context.h"
#include "gesta/error.h"
#include "gesta/executor.h"
#include "gesta/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pixel formats a source can deliver: 8 bits per channel, interleaved. */
typedef enum gesta_pixel_format {
  GESTA_PIXEL_BGR = 0, /* 3 bytes per pixel, as OpenCV reads frames */
  GESTA_PIXEL_RGB,
  GESTA_PIXEL_GRAY /* 1 byte per pixel (GStreamer's GRAY8: luma) */
} gesta_pixel_format;

int gesta_pixel_format_channels(gesta_pixel_format format);
/* The format a model's preprocess.channels asks for. */
gesta_pixel_format gesta_pixel_format_for(gesta_channel_order channels);

#define GESTA_PTS_NONE INT64_MIN

/* One decoded frame at the video's own size. */
typedef struct gesta_frame {
  const uint8_t *data; /* borrowed: valid until the next pull or close */
  int width, height;
  int stride; /* bytes from one row to the next (GStreamer pads rows) */
  gesta_pixel_format format;
  int channels;
  int64_t index;       /* 0-based position among the decoded frames */
  int64_t pts_ns;      /* presentation time, GESTA_PTS_NONE if unknown */
  int64_t duration_ns; /* 0 if unknown */
} gesta_frame;

/* Which decoded frames the source converts and hands out; the others are
 * counted and dropped before colour conversion. */
typedef bool (*gesta_frame_filter)(void *user, int64_t index);

typedef struct gesta_video_options {
  gesta_pixel_format format;
  /* The source names a V4L2 device ("/dev/video0") rather than a file or
   * URI. */
  bool camera;
  /* Seconds without a decoded frame before the source gives up; 0: 10. */
  double timeout_s;
  /* NULL: every frame. Called from a GStreamer streaming thread, once per
   * decoded frame, in order. */
  gesta_frame_filter keep;
  void *keep_user;
} gesta_video_options;

/* Defaults: BGR, file or URI, 10 s timeout, every frame. */
void gesta_video_options_init(gesta_video_options *opt);

typedef struct gesta_video gesta_video;

/* Opens a source: a local path (turned into a file:// URI), any URI
 * GStreamer handles (file://, http://, rtsp://, ...), or a V4L2 device when
 * opt->camera is set. A missing file, a directory or an empty file fail
 * here; problems only the decoder can see (not a video, no video stream, a
 * missing plugin) come from the first gesta_video_pull.
 * (transfer full) close with gesta_video_close. ctx is borrowed and must
 * outlive the source. */
gesta_status gesta_video_open(const gesta_context *ctx, const char *source,
                              const gesta_video_options *opt, gesta_video **out,
                              gesta_error *err);

/* The next frame the filter keeps. At the end of the stream returns OK with
 * *got false (and frame untouched). A decode error after at least one frame
 * also ends the stream this way, with gesta_video_warning() saying what
 * happened; before any frame it is an error. Errors name the source. */
gesta_status gesta_video_pull(gesta_video *video, gesta_frame *frame, bool *got,
                              gesta_error *err);

/* Frames decoded so far, kept or not (after the end: the video's number of
 * decodable frames). */
int64_t gesta_video_frames_decoded(const gesta_video *video);

/* Frame rate from the stream's caps, as a fraction; 0/1 when the stream
 * does not declare one (variable frame rate). Known after the first pull. */
void gesta_video_framerate(const gesta_video *video, int *num, int *den);

/* NULL, or why the stream ended early (truncated file, decode error): the
 * frames before it were delivered. Borrowed, valid until close. */
const char *gesta_video_warning(const gesta_video *video);

/* The source as given, for messages. */
const char *gesta_video_name(const gesta_video *video);

void gesta_video_close(gesta_video *video);

/* ---- Sampling ---- */

/* The seed's uniform sampling: frame k of `frames` is decoded frame
 * k * max(floor(frame_count / frames), 1). Returns that step. */
int64_t gesta_sampling_uniform_skip(int64_t frame_count, int64_t frames);

/* ---- Preprocessing ---- */

/* Resizes an 8-bit interleaved image exactly as OpenCV's
 * cv2.resize(src, (dst_w, dst_h), interpolation=INTER_LINEAR): half-pixel
 * centres, edge pixels repeated, no antialiasing, OpenCV's 11-bit
 * fixed-point weights and rounding, its copy for equal sizes and its 2x2
 * average for an exact halving. Strides are in bytes. */
gesta_status gesta_resize_u8(const uint8_t *src, int src_w, int src_h,
                             size_t src_stride, int channels, uint8_t *dst,
                             int dst_w, int dst_h, size_t dst_stride,
                             gesta_error *err);

/* A frame to model input: resized to pp's size (gesta_resize_u8), then
 * each value times pp->scale as float32 (H, W, C). The frame must already
 * be in the model's channel order (gesta_pixel_format_for). scratch holds
 * pp->height * pp->width * channels bytes. */
gesta_status gesta_preprocess_frame(const gesta_preprocess *pp,
                                    const gesta_frame *frame, uint8_t *scratch,
                                    float *out, gesta_error *err);

/* ---- Clip readers ---- */

/* What reading a clip cost and found. */
typedef struct gesta_clip_stats {
  int64_t frame_count; /* decodable frames (uniform: the whole video) */
  int width, height;   /* the video's frame size */
  double decode_ms;    /* decoding, conversion and waiting on GStreamer */
  double preprocess_ms;
  bool damaged; /* the stream ended early; see warning */
  char warning[512];
} gesta_clip_stats;

/* The seed's clip: pp->frames frames sampled uniformly, preprocessed into
 * out (frames * H * W * C floats), their indices into indices (frames
 * entries). Counts the decodable frames in a first pass that decodes
 * without converting, then decodes again and converts only the chosen
 * frames, stopping after the last. Fewer decodable frames than
 * pp->frames is GESTA_STATUS_BAD_INPUT saying how many there are.
 * opt->format and opt->keep are set by the reader. */
gesta_status gesta_clip_read_uniform(const gesta_context *ctx,
                                     const char *source,
                                     const gesta_video_options *opt,
                                     const gesta_preprocess *pp, float *out,
                                     int64_t *indices, gesta_clip_stats *stats,
                                     gesta_error *err);

/* One window of a sliding-window reader. */
typedef struct gesta_window {
  int64_t first, last;   /* frame indices, inclusive */
  double start_s, end_s; /* from the first frame's PTS; end = last
                            frame's PTS + its duration */
} gesta_window;

typedef struct gesta_window_reader gesta_window_reader;

/* Sliding windows of `frames` consecutive frames, a new one every `stride`
 * frames: windows start at 0, stride, 2*stride, ... while they fit, and
 * when the last of those does not end on the last frame one more window
 * covers the final `frames` frames, so the windows cover the whole video.
 * Deterministic: the same video gives the same windows. Memory: `frames`
 * preprocessed frames. (transfer full) free with
 * gesta_window_reader_free; ctx and pp are borrowed. */
gesta_status gesta_window_reader_open(
    const gesta_context *ctx, const char *source,
    const gesta_video_options *opt, const gesta_preprocess *pp, int64_t frames,
    int64_t stride, gesta_window_reader **out, gesta_error *err);
/* The next window into out (frames * H * W * C floats). *got false at the
 * end. A video shorter than one window is GESTA_STATUS_BAD_INPUT. */
gesta_status gesta_window_reader_next(gesta_window_reader *reader, float *out,
                                      gesta_window *window, bool *got,
                                      gesta_error *err);
/* Totals so far (frame_count: frames decoded so far). */
const gesta_clip_stats *
gesta_window_reader_stats(const gesta_window_reader *reader);
void gesta_window_reader_free(gesta_window_reader *reader);

/* ---- Classifying clips in batches ---- */

/* Collects clips and runs them through a model several at a time. A clip
 * model (input [T, H, W, C]) gets a batch of clips; a per-frame model
 * (input [H, W, C]) gets the clips' frames as one batch of frames and a
 * clip's probabilities are the mean of its frames'. */
typedef struct gesta_classifier gesta_classifier;

/* batch: clips per forward pass. The model must have weights and a
 * preprocess section; model and backend are borrowed. (transfer full)
 * free with gesta_classifier_free. */
gesta_status gesta_classifier_new(const gesta_model *model,
                                  gesta_backend *backend, int64_t batch,
                                  const gesta_plan_options *options,
                                  gesta_classifier **out, gesta_error *err);
/* Frames per clip: the input's T, or preprocess.frames for a per-frame
 * model. */
int64_t gesta_classifier_frames(const gesta_classifier *c);
/* Where the next clip goes (frames * H * W * C floats, to be filled by
 * the caller), or NULL when the batch is full: run it first. */
float *gesta_classifier_next_slot(gesta_classifier *c);
/* Gives back the slot gesta_classifier_next_slot handed out last (a clip
 * that failed to read). */
void gesta_classifier_drop_slot(gesta_classifier *c);
/* Clips waiting to run. */
int64_t gesta_classifier_pending(const gesta_classifier *c);
/* Runs the pending clips; probs receives pending * n_classes floats, in
 * the order the slots were handed out, and *ms the forward pass's time. */
gesta_status gesta_classifier_run(gesta_classifier *c, float *probs, double *ms,
                                  gesta_error *err);
void gesta_classifier_free(gesta_classifier *c);

#ifdef __cplusplus
}
#endif
#endif
