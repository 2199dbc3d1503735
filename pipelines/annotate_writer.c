/* The video writer: appsrc ! videoconvert ! cairooverlay ! videoconvert
 * [! capsfilter] ! encoder ! muxer ! filesink, into a temporary file that
 * is renamed into place when the stream is complete.
 *
 * appsrc never holds more than a few frames: each write waits, polling the
 * bus, until the queue is short again, so memory stays bounded and an
 * encoder or disk error ends the write instead of blocking it. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "annotate_internal.h"
#include "gesta/model.h"
#include "gesta/video_writer.h"

/* Frames queued in appsrc before a write waits. */
#define WRITER_QUEUE 4
/* A pipeline that takes no frame (or does not finish) for this long has
 * stalled. */
#define WRITER_TIMEOUT (60 * GST_SECOND)
/* Between bus polls while waiting for the queue to drain. */
#define WRITER_POLL (2 * GST_MSECOND)
/* x264's constant-quality factor (0 lossless .. 51 worst; 23 is x264's
 * default, lower is better). Labelled footage is looked at: a bit better
 * than the default. */
#define WRITER_H264_QUALITY "20"
/* MPEG-4 part 2 constant quantiser (2 best .. 31 worst), as gesta synth
 * uses; libav honours it through qmin and qmax. */
#define WRITER_MPEG4_QUANTIZER "4"

const char gesta_video_writer_extensions[] = ".mp4, .avi, .mkv";

typedef struct writer_element {
  const char *name, *package;
} writer_element;

static const writer_element writer_common[] = {
    {"appsrc", "gstreamer1.0-plugins-base"},
    {"videoconvert", "gstreamer1.0-plugins-base"},
    {"cairooverlay", "gstreamer1.0-plugins-good"},
    {"capsfilter", "libgstreamer1.0-0"},
    {"filesink", "libgstreamer1.0-0"},
};
static const writer_element writer_h264 = {"x264enc",
                                           "gstreamer1.0-plugins-ugly"};
static const writer_element writer_mpeg4 = {"avenc_mpeg4",
                                            "gstreamer1.0-libav"};
static const writer_element writer_muxers[] = {
    [GESTA_CONTAINER_MP4] = {"mp4mux", "gstreamer1.0-plugins-good"},
    [GESTA_CONTAINER_AVI] = {"avimux", "gstreamer1.0-plugins-good"},
    [GESTA_CONTAINER_MKV] = {"matroskamux", "gstreamer1.0-plugins-good"},
};

struct gesta_video_writer {
  const gesta_context *ctx; /* borrowed */
  char path[GESTA_PATH_MAX], tmp[GESTA_PATH_MAX];
  bool tmp_exists;
  gesta_video_writer_options opt;
  gesta_video_container container;
  GstElement *pipeline, *src;
  GstBus *bus;
  GstVideoInfo info;
  int64_t frames;
  int64_t first_pts;    /* variable rate: the first frame's PTS */
  GstClockTime next_ts; /* variable rate: the earliest next timestamp */
  bool failed;
  annotate_overlay overlay;
  bool overlay_ready;
};

gesta_status gesta_video_container_for(const char *path,
                                       gesta_video_container *out,
                                       gesta_error *err) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (dot && (!slash || dot > slash)) {
    if (strcasecmp(dot, ".mp4") == 0) {
      *out = GESTA_CONTAINER_MP4;
      return GESTA_STATUS_OK;
    }
    if (strcasecmp(dot, ".avi") == 0) {
      *out = GESTA_CONTAINER_AVI;
      return GESTA_STATUS_OK;
    }
    if (strcasecmp(dot, ".mkv") == 0) {
      *out = GESTA_CONTAINER_MKV;
      return GESTA_STATUS_OK;
    }
  }
  return gesta_error_set(
      err, GESTA_STATUS_BAD_INPUT,
      "%s: cannot tell which video format to write from the file name; end "
      "it in one of %s (.mp4: H.264 in MP4, .avi: MPEG-4 part 2 in AVI, "
      ".mkv: H.264 in Matroska)",
      path, gesta_video_writer_extensions);
}

const char *gesta_video_container_describe(gesta_video_container container) {
  switch (container) {
  case GESTA_CONTAINER_MP4:
    return "H.264 in MP4";
  case GESTA_CONTAINER_AVI:
    return "MPEG-4 part 2 in AVI";
  case GESTA_CONTAINER_MKV:
    return "H.264 in Matroska";
  }
  return "unknown";
}

static const writer_element *writer_encoder(gesta_video_container c) {
  return c == GESTA_CONTAINER_AVI ? &writer_mpeg4 : &writer_h264;
}

gesta_status gesta_video_writer_check(gesta_video_container container,
                                      gesta_error *err) {
  const size_t n_common = sizeof writer_common / sizeof writer_common[0];
  const writer_element *need[8];
  size_t n = 0, used = 0;
  char missing[512] = "";
  int count = 0;
  GError *gerr = NULL;

  if (!gst_is_initialized() && !gst_init_check(NULL, NULL, &gerr)) {
    gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                    "cannot initialise GStreamer: %s",
                    gerr ? gerr->message : "unknown reason");
    g_clear_error(&gerr);
    return GESTA_STATUS_UNSUPPORTED;
  }
  for (size_t i = 0; i < n_common; i++)
    need[n++] = &writer_common[i];
  need[n++] = writer_encoder(container);
  need[n++] = &writer_muxers[container];
  for (size_t i = 0; i < n; i++) {
    GstElementFactory *f = gst_element_factory_find(need[i]->name);
    if (f) {
      gst_object_unref(f);
      continue;
    }
    used += (size_t)snprintf(missing + used, sizeof missing - used,
                             "%s'%s' (Debian package %s)", count ? ", " : "",
                             need[i]->name, need[i]->package);
    if (used >= sizeof missing)
      used = sizeof missing - 1;
    count++;
  }
  if (count)
    return gesta_error_set(
        err, GESTA_STATUS_UNSUPPORTED,
        "cannot write %s: GStreamer element%s %s %s missing; install the "
        "package%s (sudo apt-get install ...) or run tools/install-deps.sh",
        gesta_video_container_describe(container), count > 1 ? "s" : "",
        missing, count > 1 ? "are" : "is", count > 1 ? "s" : "");
  return GESTA_STATUS_OK;
}

/* Reserves a temporary name beside the destination (tmp, GESTA_PATH_MAX
 * bytes), created with the permissions a new file normally gets. */
static gesta_status writer_create_tmp(const char *path, char *tmp,
                                      gesta_error *err) {
  struct stat st;
  int fd = -1;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: is a directory; name the video file to write",
                           path);
  for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
    int n = snprintf(tmp, GESTA_PATH_MAX, "%s.%ld-%d.part", path,
                     (long)getpid(), attempt);
    if (n < 0 || n >= GESTA_PATH_MAX)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: the path is too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0)
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s%s",
                           path, strerror(errno),
                           errno == EACCES || errno == EROFS
                               ? " (its folder is not writable)"
                           : errno == ENOENT ? " (its folder does not exist)"
                                             : "");
  close(fd);
  return GESTA_STATUS_OK;
}

gesta_status gesta_video_writer_check_path(const char *path, gesta_error *err) {
  char tmp[GESTA_PATH_MAX];
  gesta_status status = writer_create_tmp(path, tmp, err);
  if (status == GESTA_STATUS_OK)
    unlink(tmp);
  return status;
}

static GstElement *writer_add(gesta_video_writer *w, const char *factory) {
  GstElement *e = gst_element_factory_make(factory, NULL);
  if (e && !gst_bin_add(GST_BIN(w->pipeline), e)) {
    gst_object_unref(e);
    e = NULL;
  }
  return e;
}

static GstVideoFormat writer_gst_format(gesta_pixel_format f) {
  return f == GESTA_PIXEL_RGB    ? GST_VIDEO_FORMAT_RGB
         : f == GESTA_PIXEL_GRAY ? GST_VIDEO_FORMAT_GRAY8
                                 : GST_VIDEO_FORMAT_BGR;
}

static void writer_set_encoder(gesta_video_writer *w, GstElement *enc,
                               GstElement *filter) {
  GstCaps *caps;
  if (w->container == GESTA_CONTAINER_AVI) {
    gst_util_set_object_arg(G_OBJECT(enc), "pass", "quant");
    gst_util_set_object_arg(G_OBJECT(enc), "quantizer", WRITER_MPEG4_QUANTIZER);
    gst_util_set_object_arg(G_OBJECT(enc), "qmin", WRITER_MPEG4_QUANTIZER);
    gst_util_set_object_arg(G_OBJECT(enc), "qmax", WRITER_MPEG4_QUANTIZER);
    caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420",
                               NULL);
  } else {
    gst_util_set_object_arg(G_OBJECT(enc), "pass", "qual");
    gst_util_set_object_arg(G_OBJECT(enc), "quantizer", WRITER_H264_QUALITY);
    gst_util_set_object_arg(G_OBJECT(enc), "speed-preset", "faster");
    /* x264 cannot subsample an odd size to 4:2:0. */
    caps = gst_caps_new_simple(
        "video/x-raw", "format", G_TYPE_STRING,
        (w->opt.width % 2 || w->opt.height % 2) ? "Y444" : "I420", NULL);
  }
  g_object_set(filter, "caps", caps, NULL);
  gst_caps_unref(caps);
}

static gesta_status writer_build(gesta_video_writer *w, gesta_error *err) {
  GstElement *convert, *overlay, *convert2, *filter, *enc, *mux, *sink;
  GstCaps *caps;

  w->pipeline = gst_pipeline_new("gesta-writer");
  if (!w->pipeline)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  w->src = writer_add(w, "appsrc");
  convert = writer_add(w, "videoconvert");
  overlay = writer_add(w, "cairooverlay");
  convert2 = writer_add(w, "videoconvert");
  filter = writer_add(w, "capsfilter");
  enc = writer_add(w, writer_encoder(w->container)->name);
  mux = writer_add(w, writer_muxers[w->container].name);
  sink = writer_add(w, "filesink");
  if (!w->src || !convert || !overlay || !convert2 || !filter || !enc || !mux ||
      !sink) {
    gesta_status status = gesta_video_writer_check(w->container, err);
    return status != GESTA_STATUS_OK
               ? status
               : gesta_error_set(err, GESTA_STATUS_INTERNAL,
                                 "cannot create the video writer's GStreamer "
                                 "elements");
  }
  writer_set_encoder(w, enc, filter);
  gst_video_info_set_format(&w->info, writer_gst_format(w->opt.format),
                            (guint)w->opt.width, (guint)w->opt.height);
  w->info.fps_n = w->opt.fps_num;
  w->info.fps_d = w->opt.fps_num > 0 ? w->opt.fps_den : 1;
  caps = gst_video_info_to_caps(&w->info);
  g_object_set(w->src, "caps", caps, "format", GST_FORMAT_TIME, "block", FALSE,
               NULL);
  gst_caps_unref(caps);
  g_object_set(sink, "location", w->tmp, NULL);
  annotate_overlay_init(&w->overlay, w->opt.width, w->opt.height);
  w->overlay_ready = true;
  g_signal_connect(overlay, "draw", G_CALLBACK(annotate_overlay_draw),
                   &w->overlay);
  if (!gst_element_link_many(w->src, convert, overlay, convert2, filter, enc,
                             mux, sink, NULL))
    return gesta_error_set(
        err, GESTA_STATUS_UNSUPPORTED,
        "%s: cannot build the pipeline appsrc ! videoconvert ! cairooverlay "
        "! videoconvert ! %s ! %s ! filesink for %dx%d frames",
        w->path, writer_encoder(w->container)->name,
        writer_muxers[w->container].name, w->opt.width, w->opt.height);
  w->bus = gst_element_get_bus(w->pipeline);
  return GESTA_STATUS_OK;
}

/* An error message on the bus as a gesta error. */
static gesta_status writer_bus_error(gesta_video_writer *w, GstMessage *msg,
                                     gesta_error *err) {
  GError *gerr = NULL;
  gchar *debug = NULL;
  gesta_status status;
  gst_message_parse_error(msg, &gerr, &debug);
  status = gesta_error_set(
      err,
      /* A file that cannot be written or a full disk is the output's
       * fault, anything else the encoder's. */
      gerr && gerr->domain == GST_RESOURCE_ERROR ? GESTA_STATUS_IO_ERROR
                                                 : GESTA_STATUS_BACKEND_ERROR,
      "%s: writing the video failed: %s (GStreamer element %s)", w->path,
      gerr ? gerr->message : "unknown error",
      GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)));
  if (debug)
    gesta_error_add_detail(err, "%s", debug);
  g_clear_error(&gerr);
  g_free(debug);
  w->failed = true;
  return status;
}

/* Waits up to `timeout` for an error (always) or the end of the stream
 * (when eos is set). *done tells whether either came. */
static gesta_status writer_poll(gesta_video_writer *w, GstClockTime timeout,
                                bool eos, bool *done, gesta_error *err) {
  GstMessage *msg = gst_bus_timed_pop_filtered(
      w->bus, timeout,
      GST_MESSAGE_ERROR | (eos ? GST_MESSAGE_EOS : GST_MESSAGE_UNKNOWN));
  gesta_status status = GESTA_STATUS_OK;
  *done = msg != NULL;
  if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR)
    status = writer_bus_error(w, msg, err);
  if (msg)
    gst_message_unref(msg);
  return status;
}

gesta_status gesta_video_writer_open(const gesta_context *ctx, const char *path,
                                     const gesta_video_writer_options *opt,
                                     gesta_video_writer **out,
                                     gesta_error *err) {
  gesta_video_writer *w;
  gesta_status status;
  bool done;

  *out = NULL;
  if (opt->width < 1 || opt->height < 1 || opt->fps_num < 0 ||
      (opt->fps_num > 0 && opt->fps_den < 1))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: cannot write %dx%d frames at %d/%d fps", path,
                           opt->width, opt->height, opt->fps_num, opt->fps_den);
  w = g_new0(gesta_video_writer, 1);
  w->ctx = ctx;
  w->opt = *opt;
  w->first_pts = GESTA_PTS_NONE;
  if ((size_t)snprintf(w->path, sizeof w->path, "%s", path) >= sizeof w->path) {
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: the path is too long", path);
    goto fail;
  }
  status = gesta_video_container_for(path, &w->container, err);
  if (status == GESTA_STATUS_OK && w->container == GESTA_CONTAINER_AVI &&
      opt->fps_num == 0)
    status = gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "%s: the input has a variable frame rate, which AVI cannot store; "
        "write .mp4 or .mkv instead",
        path);
  if (status == GESTA_STATUS_OK)
    status = gesta_video_writer_check(w->container, err);
  if (status == GESTA_STATUS_OK)
    status = writer_create_tmp(w->path, w->tmp, err);
  w->tmp_exists = status == GESTA_STATUS_OK;
  if (status == GESTA_STATUS_OK)
    status = writer_build(w, err);
  if (status != GESTA_STATUS_OK)
    goto fail;
  if (gst_element_set_state(w->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    status = writer_poll(w, 0, false, &done, err);
    if (status == GESTA_STATUS_OK)
      status = gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                               "%s: the video writer did not start", path);
    goto fail;
  }
  gesta_log(ctx, GESTA_LOG_DEBUG, "writing %s (%s, %dx%d, %d/%d fps) via %s",
            path, gesta_video_container_describe(w->container), opt->width,
            opt->height, opt->fps_num, w->info.fps_d, w->tmp);
  *out = w;
  return GESTA_STATUS_OK;

fail:
  gesta_video_writer_free(w);
  return status;
}

/* Output timestamps: regular from the frame rate, or the source's own
 * (from 0, never going backwards) at a variable rate. */
static void writer_timestamps(gesta_video_writer *w, const gesta_frame *f,
                              GstClockTime *pts, GstClockTime *duration) {
  if (w->opt.fps_num > 0) {
    guint64 scale = (guint64)w->opt.fps_den * GST_SECOND;
    *pts = gst_util_uint64_scale((guint64)w->frames, scale,
                                 (guint64)w->opt.fps_num);
    *duration = gst_util_uint64_scale((guint64)w->frames + 1, scale,
                                      (guint64)w->opt.fps_num) -
                *pts;
    return;
  }
  if (f->pts_ns != GESTA_PTS_NONE && w->first_pts == GESTA_PTS_NONE)
    w->first_pts = f->pts_ns;
  *pts = f->pts_ns != GESTA_PTS_NONE && f->pts_ns >= w->first_pts
             ? (GstClockTime)(f->pts_ns - w->first_pts)
             : w->next_ts;
  if (*pts < w->next_ts)
    *pts = w->next_ts;
  *duration =
      f->duration_ns > 0 ? (GstClockTime)f->duration_ns : GST_SECOND / 25;
  w->next_ts = *pts + GST_MSECOND;
}

/* Waits until appsrc's queue is short, so memory stays bounded. */
static gesta_status writer_drain(gesta_video_writer *w, gesta_error *err) {
  GstClockTime waited = 0;
  guint64 level = gst_app_src_get_current_level_buffers(GST_APP_SRC(w->src));
  while (level >= WRITER_QUEUE) {
    bool done;
    guint64 now;
    gesta_status status = writer_poll(w, WRITER_POLL, false, &done, err);
    if (status != GESTA_STATUS_OK)
      return status;
    now = gst_app_src_get_current_level_buffers(GST_APP_SRC(w->src));
    waited = now < level ? 0 : waited + WRITER_POLL;
    if (waited >= WRITER_TIMEOUT) {
      w->failed = true;
      return gesta_error_set(err, GESTA_STATUS_BACKEND_ERROR,
                             "%s: the video encoder stalled (no frame taken "
                             "in %d s)",
                             w->path, (int)(WRITER_TIMEOUT / GST_SECOND));
    }
    level = now;
  }
  return GESTA_STATUS_OK;
}

gesta_status gesta_video_writer_write(gesta_video_writer *w,
                                      const gesta_frame *frame,
                                      const char *text, gesta_error *err) {
  GstClockTime pts, duration;
  GstBuffer *buf;
  GstMapInfo map;
  size_t row = (size_t)frame->width * (size_t)frame->channels;
  int stride = GST_VIDEO_INFO_PLANE_STRIDE(&w->info, 0);
  bool done;
  gesta_status status;

  if (w->failed)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "%s: writing after a failed write", w->path);
  if (frame->width != w->opt.width || frame->height != w->opt.height ||
      frame->format != w->opt.format)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: frame %lld is %dx%d, but the video is %dx%d "
                           "(the size changed mid-stream)",
                           w->path, (long long)frame->index, frame->width,
                           frame->height, w->opt.width, w->opt.height);
  status = writer_poll(w, 0, false, &done, err);
  if (status != GESTA_STATUS_OK)
    return status;
  buf = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&w->info), NULL);
  if (!buf || !gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
    if (buf)
      gst_buffer_unref(buf);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for a %dx%d frame", frame->width,
                           frame->height);
  }
  for (int y = 0; y < frame->height; y++)
    memcpy(map.data + (size_t)y * (size_t)stride,
           frame->data + (size_t)y * (size_t)frame->stride, row);
  gst_buffer_unmap(buf, &map);
  writer_timestamps(w, frame, &pts, &duration);
  GST_BUFFER_PTS(buf) = pts;
  GST_BUFFER_DTS(buf) = pts;
  GST_BUFFER_DURATION(buf) = duration;
  GST_BUFFER_OFFSET(buf) = (guint64)w->frames;
  annotate_overlay_push(&w->overlay, pts, text);
  if (gst_app_src_push_buffer(GST_APP_SRC(w->src), buf) != GST_FLOW_OK) {
    status = writer_poll(w, GST_SECOND, false, &done, err);
    w->failed = true;
    return status != GESTA_STATUS_OK
               ? status
               : gesta_error_set(err, GESTA_STATUS_BACKEND_ERROR,
                                 "%s: the video writer stopped taking frames",
                                 w->path);
  }
  w->frames++;
  return writer_drain(w, err);
}

int64_t gesta_video_writer_frames(const gesta_video_writer *w) {
  return w->frames;
}

gesta_status gesta_video_writer_finish(gesta_video_writer *w,
                                       gesta_error *err) {
  gesta_status status;
  bool done;
  if (w->failed)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "%s: finishing after a failed write", w->path);
  if (w->frames == 0)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT, "%s: no frame to write",
                           w->path);
  gst_app_src_end_of_stream(GST_APP_SRC(w->src));
  status = writer_poll(w, WRITER_TIMEOUT, true, &done, err);
  if (status != GESTA_STATUS_OK)
    return status;
  if (!done) {
    w->failed = true;
    return gesta_error_set(err, GESTA_STATUS_BACKEND_ERROR,
                           "%s: the video encoder did not finish in %d s",
                           w->path, (int)(WRITER_TIMEOUT / GST_SECOND));
  }
  /* The file is complete once the pipeline has closed it. */
  gst_element_set_state(w->pipeline, GST_STATE_NULL);
  if (rename(w->tmp, w->path) != 0) {
    w->failed = true;
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                           "cannot move the finished video %s to %s: %s",
                           w->tmp, w->path, strerror(errno));
  }
  w->tmp_exists = false;
  return GESTA_STATUS_OK;
}

void gesta_video_writer_free(gesta_video_writer *w) {
  if (!w)
    return;
  if (w->pipeline) {
    gst_element_set_state(w->pipeline, GST_STATE_NULL);
    gst_object_unref(w->pipeline);
  }
  if (w->bus)
    gst_object_unref(w->bus);
  if (w->overlay_ready)
    annotate_overlay_clear(&w->overlay);
  if (w->tmp_exists)
    unlink(w->tmp);
  g_free(w);
}
