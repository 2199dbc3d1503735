/* The frame source: uridecodebin (or v4l2src ! decodebin for a camera)
 * -> videoconvert -> appsink, pulled one frame at a time.
 *
 * appsink holds at most two converted frames (drop=false, so none is lost,
 * sync=false, so decoding runs as fast as it can), which bounds memory to a
 * few frames whatever the video's length. A pad probe in front of
 * videoconvert numbers every decoded frame and drops those the caller's
 * filter does not keep, so only kept frames are colour-converted. Every
 * wait polls the bus, so errors, EOS and a stalled stream end the pull
 * instead of hanging it. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <string.h>
#include <sys/stat.h>

#include "gesta/video.h"
#include "video_internal.h"

#define SOURCE_DEFAULT_TIMEOUT_S 10.0

void gesta_video_options_init(gesta_video_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->format = GESTA_PIXEL_BGR;
  opt->timeout_s = SOURCE_DEFAULT_TIMEOUT_S;
}

/* Gray frames are made from BGR here, as OpenCV's cvtColor does, rather
 * than taken from GStreamer's GRAY8 (the decoder's limited-range luma). */
static const char *source_gst_format(gesta_pixel_format format) {
  return format == GESTA_PIXEL_RGB ? "RGB" : "BGR";
}

static bool source_is_media(const char *caps_name) {
  return g_str_has_prefix(caps_name, "audio/") ||
         g_str_has_prefix(caps_name, "text/") ||
         g_str_has_prefix(caps_name, "subpicture/") ||
         g_str_has_prefix(caps_name, "application/x-subtitle");
}

/* Streams that are not video are exposed undecoded (and then discarded):
 * decoding a soundtrack nobody listens to costs time. */
static gboolean source_autoplug_continue(GstElement *bin, GstPad *pad,
                                         GstCaps *caps, gpointer user) {
  const GstStructure *s;
  (void)bin, (void)pad, (void)user;
  if (gst_caps_get_size(caps) == 0)
    return TRUE;
  s = gst_caps_get_structure(caps, 0);
  return !source_is_media(gst_structure_get_name(s));
}

static void source_pad_added(GstElement *bin, GstPad *pad, gpointer user) {
  gesta_video *v = user;
  GstCaps *caps = gst_pad_get_current_caps(pad);
  const char *name = "";
  bool video;
  (void)bin;
  if (!caps)
    caps = gst_pad_query_caps(pad, NULL);
  if (caps && gst_caps_get_size(caps) > 0)
    name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
  video = g_str_has_prefix(name, "video/x-raw");
  g_mutex_lock(&v->lock);
  if (video && v->video_pads == 0) {
    GstPad *sinkpad = gst_element_get_static_pad(v->convert, "sink");
    if (gst_pad_link(pad, sinkpad) == GST_PAD_LINK_OK)
      v->video_pads++;
    gst_object_unref(sinkpad);
  } else {
    /* A second video stream or a non-video one: a fakesink keeps the
     * demuxer from stopping on a not-linked stream. */
    GstElement *fake = gst_element_factory_make("fakesink", NULL);
    if (!video && !v->other_caps[0])
      g_strlcpy(v->other_caps, name, sizeof v->other_caps);
    v->other_pads++;
    if (fake) {
      GstPad *sinkpad = gst_element_get_static_pad(fake, "sink");
      g_object_set(fake, "sync", FALSE, "async", FALSE, NULL);
      gst_bin_add(GST_BIN(v->pipeline), fake);
      gst_element_sync_state_with_parent(fake);
      gst_pad_link(pad, sinkpad);
      gst_object_unref(sinkpad);
    }
  }
  g_mutex_unlock(&v->lock);
  if (caps)
    gst_caps_unref(caps);
}

static void source_no_more_pads(GstElement *bin, gpointer user) {
  gesta_video *v = user;
  (void)bin;
  g_mutex_lock(&v->lock);
  v->no_more_pads = true;
  g_mutex_unlock(&v->lock);
}

/* A decoder drops a frame it cannot decode with only a debug message (up
 * to its max-errors); with a constant frame rate the gap in timestamps
 * shows it. Called with the lock held. */
static void source_note_gap(gesta_video *v, int64_t pts) {
  if (v->first_pts < 0)
    v->first_pts = pts;
  if (pts > v->max_pts)
    v->max_pts = pts;
  if (v->period_ns > 0 && v->last_pts >= 0 &&
      pts - v->last_pts > v->period_ns * 3 / 2) {
    if (!v->skipped)
      v->skipped_at = v->last_pts;
    v->skipped += (pts - v->last_pts + v->period_ns / 2) / v->period_ns - 1;
  }
  v->last_pts = pts;
}

static void source_note_caps(gesta_video *v, GstEvent *event) {
  GstCaps *caps;
  gint num = 0, den = 1;
  gst_event_parse_caps(event, &caps);
  if (caps && gst_caps_get_size(caps) > 0)
    gst_structure_get_fraction(gst_caps_get_structure(caps, 0), "framerate",
                               &num, &den);
  g_mutex_lock(&v->lock);
  v->period_ns = num > 0 && den > 0
                     ? (int64_t)gst_util_uint64_scale_int(GST_SECOND, den, num)
                     : 0;
  g_mutex_unlock(&v->lock);
}

/* The container's frame count: demuxers that index their frames (AVI,
 * MP4) answer in frames; others give a duration, which the frame rate
 * turns into frames. Asked from the streaming thread at the first frame,
 * when the demuxer has read its headers. */
static int64_t source_ask_frames(gesta_video *v, GstPad *pad) {
  gint64 n = -1, duration = -1, period;
  if (gst_pad_peer_query_duration(pad, GST_FORMAT_DEFAULT, &n) && n > 0)
    return n;
  g_mutex_lock(&v->lock);
  period = v->period_ns;
  g_mutex_unlock(&v->lock);
  if (period > 0 &&
      gst_pad_peer_query_duration(pad, GST_FORMAT_TIME, &duration) &&
      duration > 0)
    return (duration + period / 2) / period;
  return -1;
}

static GstPadProbeReturn source_probe(GstPad *pad, GstPadProbeInfo *info,
                                      gpointer user) {
  gesta_video *v = user;
  GstBuffer *buf;
  int64_t index, hint = 0;
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS)
      source_note_caps(v, event);
    return GST_PAD_PROBE_OK;
  }
  buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (v->decoded == 0 && !v->opt.camera)
    hint = source_ask_frames(v, pad);
  g_mutex_lock(&v->lock);
  if (hint)
    v->hint_frames = hint;
  index = v->decoded++;
  if (GST_BUFFER_PTS_IS_VALID(buf)) {
    source_note_gap(v, (int64_t)GST_BUFFER_PTS(buf));
    v->frame_ns = GST_BUFFER_DURATION_IS_VALID(buf)
                      ? (int64_t)GST_BUFFER_DURATION(buf)
                      : 0;
    v->end_ns = (int64_t)GST_BUFFER_PTS(buf) + v->frame_ns;
  }
  g_mutex_unlock(&v->lock);
  if (v->opt.keep && !v->opt.keep(v->opt.keep_user, index))
    return GST_PAD_PROBE_DROP;
  /* The index travels in the buffer's offset field, which videoconvert
   * copies to its output with the timestamps. */
  buf = gst_buffer_make_writable(buf);
  GST_BUFFER_OFFSET(buf) = (guint64)index;
  GST_PAD_PROBE_INFO_DATA(info) = buf;
  return GST_PAD_PROBE_OK;
}

static gesta_status source_check_file(const char *path, gesta_error *err) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT)
      return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "%s: no such file",
                             path);
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "%s: cannot read: %s",
                           path, strerror(errno));
  }
  if (S_ISDIR(st.st_mode))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: is a directory, not a video file", path);
  if (S_ISREG(st.st_mode) && st.st_size == 0)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: is empty (0 bytes), not a video", path);
  return GESTA_STATUS_OK;
}

static GstElement *source_make(const char *factory, const char *name,
                               gesta_error *err) {
  GstElement *e = gst_element_factory_make(factory, name);
  if (!e)
    gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                    "GStreamer element '%s' is missing; install the Debian "
                    "package %s",
                    factory,
                    strcmp(factory, "v4l2src") == 0
                        ? "gstreamer1.0-plugins-good"
                        : "gstreamer1.0-plugins-base");
  return e;
}

static gesta_status source_build(gesta_video *v, const char *uri,
                                 gesta_error *err) {
  GstElement *src = NULL;
  GstCaps *caps;
  GstPad *pad;

  v->pipeline = gst_pipeline_new("gesta-video");
  if (v->opt.camera) {
    if (!(src = source_make("v4l2src", NULL, err)))
      return err ? err->status : GESTA_STATUS_UNSUPPORTED;
    g_object_set(src, "device", v->name, NULL);
    gst_bin_add(GST_BIN(v->pipeline), src);
    if (!(v->decode = source_make("decodebin", NULL, err)))
      return err ? err->status : GESTA_STATUS_UNSUPPORTED;
  } else {
    if (!(v->decode = source_make("uridecodebin", NULL, err)))
      return err ? err->status : GESTA_STATUS_UNSUPPORTED;
    g_object_set(v->decode, "uri", uri, NULL);
  }
  gst_bin_add(GST_BIN(v->pipeline), v->decode);
  if (src && !gst_element_link(src, v->decode))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "cannot link v4l2src to decodebin");
  if (!(v->convert = source_make("videoconvert", NULL, err)) ||
      !(v->sink = source_make("appsink", NULL, err)))
    return err ? err->status : GESTA_STATUS_UNSUPPORTED;
  gst_bin_add_many(GST_BIN(v->pipeline), v->convert, v->sink, NULL);
  caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING,
                             source_gst_format(v->opt.format), NULL);
  g_object_set(v->sink, "caps", caps, "max-buffers", 2, "drop", FALSE, "sync",
               FALSE, "emit-signals", FALSE, NULL);
  gst_caps_unref(caps);
  if (!gst_element_link(v->convert, v->sink))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "cannot link videoconvert to appsink");
  g_signal_connect(v->decode, "pad-added", G_CALLBACK(source_pad_added), v);
  g_signal_connect(v->decode, "no-more-pads", G_CALLBACK(source_no_more_pads),
                   v);
  g_signal_connect(v->decode, "autoplug-continue",
                   G_CALLBACK(source_autoplug_continue), v);
  pad = gst_element_get_static_pad(v->convert, "sink");
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      source_probe, v, NULL);
  gst_object_unref(pad);
  v->bus = gst_element_get_bus(v->pipeline);
  return GESTA_STATUS_OK;
}

gesta_status gesta_video_open(const gesta_context *ctx, const char *source,
                              const gesta_video_options *opt, gesta_video **out,
                              gesta_error *err) {
  gesta_video *v = NULL;
  GError *gerr = NULL;
  char *uri = NULL;
  gesta_status status;

  *out = NULL;
  if (!gst_is_initialized() && !gst_init_check(NULL, NULL, &gerr)) {
    status = gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                             "cannot initialise GStreamer: %s",
                             gerr ? gerr->message : "unknown reason");
    g_clear_error(&gerr);
    return status;
  }
  if (!opt->camera && !gst_uri_is_valid(source)) {
    status = source_check_file(source, err);
    if (status != GESTA_STATUS_OK)
      return status;
    uri = gst_filename_to_uri(source, &gerr);
    if (!uri) {
      status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                               "%s: not a usable file name: %s", source,
                               gerr ? gerr->message : "unknown reason");
      g_clear_error(&gerr);
      return status;
    }
  } else if (!opt->camera) {
    uri = g_strdup(source);
  }
  v = g_new0(gesta_video, 1);
  g_mutex_init(&v->lock);
  v->end_ns = -1;
  v->last_pts = -1;
  v->first_pts = -1;
  v->max_pts = -1;
  v->hint_frames = -1;
  v->ctx = ctx;
  v->opt = *opt;
  if (v->opt.timeout_s <= 0)
    v->opt.timeout_s = SOURCE_DEFAULT_TIMEOUT_S;
  g_strlcpy(v->name, source, sizeof v->name);
  v->local = !opt->camera && !gst_uri_is_valid(source);
  status = source_build(v, uri, err);
  g_free(uri);
  if (status != GESTA_STATUS_OK) {
    gesta_error_prefix(err, "%s: ", source);
    gesta_video_close(v);
    return status;
  }
  *out = v;
  return GESTA_STATUS_OK;
}

void gesta_video_close(gesta_video *v) {
  if (!v)
    return;
  video_source_release(v);
  if (v->pipeline) {
    gst_element_set_state(v->pipeline, GST_STATE_NULL);
    gst_object_unref(v->pipeline);
  }
  if (v->bus)
    gst_object_unref(v->bus);
  g_mutex_clear(&v->lock);
  g_free(v->gray);
  g_free(v);
}

void video_source_release(gesta_video *v) {
  if (v->mapped)
    gst_buffer_unmap(gst_sample_get_buffer(v->sample), &v->map);
  v->mapped = false;
  if (v->sample)
    gst_sample_unref(v->sample);
  v->sample = NULL;
}

video_source_counts video_source_counts_get(gesta_video *v) {
  video_source_counts c;
  g_mutex_lock(&v->lock);
  c.decoded = v->decoded;
  c.video_pads = v->video_pads;
  c.other_pads = v->other_pads;
  c.no_more_pads = v->no_more_pads;
  g_mutex_unlock(&v->lock);
  return c;
}

int64_t video_source_frames_hint(gesta_video *v) {
  int64_t n;
  g_mutex_lock(&v->lock);
  n = v->hint_frames;
  g_mutex_unlock(&v->lock);
  return n;
}

int64_t gesta_video_frames_decoded(const gesta_video *video) {
  return video_source_counts_get((gesta_video *)video).decoded;
}

void gesta_video_framerate(const gesta_video *v, int *num, int *den) {
  *num = v->fps_d ? v->fps_n : 0;
  *den = v->fps_d ? v->fps_d : 1;
}

const char *gesta_video_warning(const gesta_video *v) {
  return v->warning[0] ? v->warning : NULL;
}

const char *gesta_video_name(const gesta_video *v) {
  return v->name;
}
