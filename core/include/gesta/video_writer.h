/* gesta — video output: frames written to a file with a text overlay, as
 * `gesta annotate` writes them.
 *
 *   appsrc ! videoconvert ! cairooverlay ! videoconvert ! ENCODER ! MUXER
 *          ! filesink
 *
 * The container and codec follow the file name: .mp4 is H.264 in MP4,
 * .mkv H.264 in Matroska, .avi MPEG-4 part 2 in AVI (UCF101's format).
 * Frames are handed over one at a time and copied into GStreamer; at most a
 * few are queued, so memory does not grow with the video's length. The
 * writer writes to a temporary file next to the destination and renames it
 * into place only when the stream is complete, so a failed or abandoned
 * write leaves nothing behind under the destination's name.
 *
 * Available when gesta is built with GESTA_GSTREAMER (GESTA_HAVE_GSTREAMER
 * is then defined). */
#ifndef GESTA_VIDEO_WRITER_H
#define GESTA_VIDEO_WRITER_H

#include <stdint.h>

#include "gesta/context.h"
#include "gesta/error.h"
#include "gesta/video.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a file name's extension selects. */
typedef enum gesta_video_container {
  GESTA_CONTAINER_MP4 = 0, /* .mp4: H.264 (x264enc) in mp4mux */
  GESTA_CONTAINER_AVI,     /* .avi: MPEG-4 part 2 (avenc_mpeg4) in avimux */
  GESTA_CONTAINER_MKV      /* .mkv: H.264 (x264enc) in matroskamux */
} gesta_video_container;

/* The extensions the writer knows, for messages: ".mp4, .avi, .mkv". */
extern const char gesta_video_writer_extensions[];

/* The container for path's extension (case-insensitive). Any other
 * extension is GESTA_STATUS_BAD_INPUT listing the supported ones. */
gesta_status gesta_video_container_for(const char *path,
                                       gesta_video_container *out,
                                       gesta_error *err);

/* "H.264 in MP4", for messages. */
const char *gesta_video_container_describe(gesta_video_container container);

/* Checks that every GStreamer element the container needs is installed;
 * a missing one is GESTA_STATUS_UNSUPPORTED naming each element and its
 * Debian package. Also starts GStreamer (gst_init_check). */
gesta_status gesta_video_writer_check(gesta_video_container container,
                                      gesta_error *err);

/* Whether a video can be written at path: its folder exists and takes a
 * new file, and path is not a directory (checked by creating and removing
 * a temporary file beside it). An error is GESTA_STATUS_IO_ERROR or
 * GESTA_STATUS_BAD_INPUT naming path. */
gesta_status gesta_video_writer_check_path(const char *path, gesta_error *err);

typedef struct gesta_video_writer_options {
  int width, height; /* every frame's size */
  /* Frame rate of the output. 0/1: variable; the frames' own timestamps
   * are kept (an AVI, which has no timestamps, then needs a rate: the
   * writer fails without one). */
  int fps_num, fps_den;
  gesta_pixel_format format; /* of the frames handed to the writer */
} gesta_video_writer_options;

typedef struct gesta_video_writer gesta_video_writer;

/* Creates the temporary file beside path (failing here, before any frame,
 * when the folder cannot be written) and starts the pipeline. The
 * container comes from path's extension. H.264 needs even sizes for 4:2:0
 * colour: a video with an odd width or height is written as 4:4:4
 * (High 4:4:4 profile). (transfer full) finish with
 * gesta_video_writer_finish, then free with gesta_video_writer_free. ctx is
 * borrowed and must outlive the writer. */
gesta_status gesta_video_writer_open(const gesta_context *ctx, const char *path,
                                     const gesta_video_writer_options *opt,
                                     gesta_video_writer **out,
                                     gesta_error *err);

/* Writes one frame (copied; frame->data may change after the call) with
 * `text` drawn in its top-left corner on a dark box: lines separated by
 * '\n', NULL or "" for none. The frame's timestamp comes from its position
 * among the frames written and the frame rate, or, at a variable rate,
 * from its PTS relative to the first frame's. */
gesta_status gesta_video_writer_write(gesta_video_writer *w,
                                      const gesta_frame *frame,
                                      const char *text, gesta_error *err);

/* Frames written so far. */
int64_t gesta_video_writer_frames(const gesta_video_writer *w);

/* Ends the stream, waits for the encoder and muxer to finish the file and
 * renames it to the destination. */
gesta_status gesta_video_writer_finish(gesta_video_writer *w, gesta_error *err);

/* Stops the pipeline; an unfinished file is removed. NULL is allowed. */
void gesta_video_writer_free(gesta_video_writer *w);

#ifdef __cplusplus
}
#endif
#endif
