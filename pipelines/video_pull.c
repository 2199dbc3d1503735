/* Pulling frames from the source: appsink samples, bus messages and the
 * errors a user can act on.
 *
 * A stream that fails after some frames decoded (a truncated file, a
 * demuxer giving up) ends like a normal one, with a warning: the frames
 * before the failure are delivered, and the source waits for the pipeline
 * to settle first so that two passes over the same file see the same
 * frames. Before any frame, every failure is an error naming the file. */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <string.h>

#include "video_internal.h"

#define PULL_POLL_MS 50
/* After an error mid-stream: how long without a new frame counts as
 * settled. */
#define PULL_SETTLE_MS 300
/* A local file whose demuxer has exposed no stream after this long is
 * broken: decodebin can swallow a demuxer's error while it is still
 * setting the demuxer up, and then nothing more happens. */
#define PULL_NO_STREAM_S 3.0

/* The Debian package that carries a decoder or demuxer, by the caps it
 * would handle. */
static const char *pull_package_for(const char *caps) {
  static const struct {
    const char *prefix, *package;
  } table[] = {
      {"video/x-h264", "gstreamer1.0-libav"},
      {"video/x-h265", "gstreamer1.0-libav"},
      {"video/mpeg", "gstreamer1.0-libav"},
      {"video/x-divx", "gstreamer1.0-libav"},
      {"video/x-xvid", "gstreamer1.0-libav"},
      {"video/x-msmpeg", "gstreamer1.0-libav"},
      {"video/x-wmv", "gstreamer1.0-libav"},
      {"video/x-h263", "gstreamer1.0-libav"},
      {"video/x-flash-video", "gstreamer1.0-libav"},
      {"video/x-prores", "gstreamer1.0-libav"},
      {"video/x-vp8", "gstreamer1.0-plugins-good"},
      {"video/x-vp9", "gstreamer1.0-plugins-good"},
      {"image/jpeg", "gstreamer1.0-plugins-good"},
      {"video/x-dv", "gstreamer1.0-plugins-good"},
      {"video/quicktime", "gstreamer1.0-plugins-good"},
      {"video/x-msvideo", "gstreamer1.0-plugins-good"},
      {"video/x-matroska", "gstreamer1.0-plugins-good"},
      {"video/webm", "gstreamer1.0-plugins-good"},
      {"video/x-av1", "gstreamer1.0-plugins-bad"},
      {"video/mpegts", "gstreamer1.0-plugins-bad"},
      {"video/x-theora", "gstreamer1.0-plugins-base"},
      {"application/ogg", "gstreamer1.0-plugins-base"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (g_str_has_prefix(caps, table[i].prefix))
      return table[i].package;
  return "gstreamer1.0-libav, gstreamer1.0-plugins-bad or "
         "gstreamer1.0-plugins-ugly";
}

/* decodebin's missing-plugin element message: "name" is the readable
 * description (what pbutils' get_description returns), "detail" the caps
 * of a missing decoder or the name of a missing element. */
static void pull_note_missing(gesta_video *v, const GstStructure *s) {
  const char *name = gst_structure_get_string(s, "name");
  const GValue *detail = gst_structure_get_value(s, "detail");
  size_t used = strlen(v->missing);
  if (!v->missing_caps[0] && detail) {
    if (G_VALUE_HOLDS(detail, GST_TYPE_CAPS)) {
      const GstCaps *caps = gst_value_get_caps(detail);
      if (caps && gst_caps_get_size(caps) > 0)
        g_strlcpy(v->missing_caps,
                  gst_structure_get_name(gst_caps_get_structure(caps, 0)),
                  sizeof v->missing_caps);
    } else if (G_VALUE_HOLDS_STRING(detail)) {
      g_strlcpy(v->missing_caps, g_value_get_string(detail),
                sizeof v->missing_caps);
    }
  }
  if (name && used + 3 < sizeof v->missing)
    g_snprintf(v->missing + used, sizeof v->missing - used, "%s%s",
               used ? ", " : "", name);
}

static gesta_status pull_missing_error(gesta_video *v, gesta_error *err) {
  return gesta_error_set(
      err, GESTA_STATUS_UNSUPPORTED,
      "%s: cannot decode it: GStreamer has no plugin for %s (%s); install "
      "the Debian package %s",
      v->name, v->missing[0] ? v->missing : "its video format",
      v->missing_caps[0] ? v->missing_caps : "unknown caps",
      pull_package_for(v->missing_caps));
}

static gesta_status pull_no_video_error(gesta_video *v, gesta_error *err) {
  g_mutex_lock(&v->lock);
  gesta_status status =
      gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                      "%s: has no video stream (%s%s); give a video file",
                      v->name, v->other_caps[0] ? "only " : "no streams at all",
                      v->other_caps[0] ? v->other_caps : "");
  g_mutex_unlock(&v->lock);
  return status;
}

/* A GStreamer error before any frame, in the user's words. */
static gesta_status pull_error(gesta_video *v, GError *gerr, const char *debug,
                               const char *element, gesta_error *err) {
  gesta_status status;
  video_source_counts c = video_source_counts_get(v);
  if (v->missing[0] && c.video_pads == 0)
    status = pull_missing_error(v, err);
  else if (c.no_more_pads && c.video_pads == 0 && c.other_pads > 0)
    status = pull_no_video_error(v, err);
  else if (gerr->domain == GST_STREAM_ERROR &&
           gerr->code == GST_STREAM_ERROR_TYPE_NOT_FOUND)
    status = gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "%s: not a video: GStreamer does not recognise the format of its "
        "data (%s)",
        v->name, gerr->message);
  else if (gerr->domain == GST_RESOURCE_ERROR && v->opt.camera)
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                             "cannot open camera %s: %s (is it connected and "
                             "free? v4l2-ctl --list-devices lists cameras)",
                             v->name, gerr->message);
  else if (gerr->domain == GST_STREAM_ERROR &&
           gerr->code == GST_STREAM_ERROR_FAILED && !v->local &&
           !v->opt.camera && element && strcmp(element, "source") == 0)
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                             "%s: cannot read from it (%s); is the address "
                             "right and reachable?",
                             v->name, gerr->message);
  else if (gerr->domain == GST_RESOURCE_ERROR)
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR, "%s: cannot read: %s",
                             v->name, gerr->message);
  else if (gerr->domain == GST_STREAM_ERROR || gerr->domain == GST_CORE_ERROR)
    status =
        gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                        "%s: no frame could be decoded (not a valid video, or "
                        "damaged or truncated): %s",
                        v->name, gerr->message);
  else
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: GStreamer error: %s", v->name, gerr->message);
  gesta_error_add_detail(err, "GStreamer %s error %d from %s: %s",
                         g_quark_to_string(gerr->domain), gerr->code,
                         element ? element : "?", debug ? debug : "");
  return status;
}

/* Reads every pending bus message. Sets v->failed_late when an error came
 * after frames had decoded (the caller then drains and ends). */
static gesta_status pull_bus(gesta_video *v, gesta_error *err) {
  GstMessage *msg;
  gesta_status status = GESTA_STATUS_OK;
  while (status == GESTA_STATUS_OK &&
         (msg = gst_bus_pop_filtered(v->bus, GST_MESSAGE_ERROR |
                                                 GST_MESSAGE_WARNING |
                                                 GST_MESSAGE_ELEMENT))) {
    GError *gerr = NULL;
    gchar *debug = NULL;
    const char *element = GST_MESSAGE_SRC_NAME(msg);
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure(msg);
      if (s && gst_structure_has_name(s, "missing-plugin"))
        pull_note_missing(v, s);
      break;
    }
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning(msg, &gerr, &debug);
      gesta_log(v->ctx, GESTA_LOG_DEBUG, "%s: GStreamer warning from %s: %s",
                v->name, element ? element : "?", gerr->message);
      if (gerr->domain == GST_STREAM_ERROR && !v->warning[0])
        g_snprintf(v->warning, sizeof v->warning,
                   "%s: decode error after frame %lld (%s); frames that did "
                   "not decode are skipped",
                   v->name, (long long)video_source_counts_get(v).decoded - 1,
                   gerr->message);
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error(msg, &gerr, &debug);
      if (video_source_counts_get(v).decoded > 0) {
        if (!v->failed_late)
          g_snprintf(v->warning, sizeof v->warning,
                     "%s: decoding stopped after %lld frames (%s); using the "
                     "frames that decoded",
                     v->name, (long long)video_source_counts_get(v).decoded,
                     gerr->message);
        v->failed_late = true;
      } else {
        status = pull_error(v, gerr, debug, element, err);
      }
      break;
    default:
      break;
    }
    g_clear_error(&gerr);
    g_free(debug);
    gst_message_unref(msg);
  }
  return status;
}

/* OpenCV's COLOR_BGR2GRAY on 8 bits: 14-bit fixed-point BT.601 weights,
 * rounded. */
static void pull_bgr_to_gray(const uint8_t *src, int stride, int w, int h,
                             uint8_t *dst) {
  for (int y = 0; y < h; y++) {
    const uint8_t *s = src + (size_t)y * (size_t)stride;
    for (int x = 0; x < w; x++, s += 3)
      *dst++ =
          (uint8_t)((s[0] * 1868 + s[1] * 9617 + s[2] * 4899 + 8192) >> 14);
  }
}

static gesta_status pull_fill(gesta_video *v, GstSample *sample,
                              gesta_frame *frame, gesta_error *err) {
  GstBuffer *buf = gst_sample_get_buffer(sample);
  GstCaps *caps = gst_sample_get_caps(sample);
  GstVideoInfo info;

  v->sample = sample;
  if (!buf || !caps || !gst_video_info_from_caps(&info, caps))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "%s: appsink gave a frame without video caps",
                           v->name);
  if (!gst_buffer_map(buf, &v->map, GST_MAP_READ))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "%s: cannot map a decoded frame", v->name);
  v->mapped = true;
  if (v->opt.format == GESTA_PIXEL_GRAY) {
    int w = GST_VIDEO_INFO_WIDTH(&info), h = GST_VIDEO_INFO_HEIGHT(&info);
    size_t need = (size_t)w * (size_t)h;
    if (need > v->gray_size) {
      g_free(v->gray);
      v->gray = g_try_malloc(need);
      v->gray_size = v->gray ? need : 0;
      if (!v->gray)
        return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "%s: out of memory for a %dx%d frame", v->name,
                               w, h);
    }
    pull_bgr_to_gray(v->map.data + GST_VIDEO_INFO_PLANE_OFFSET(&info, 0),
                     GST_VIDEO_INFO_PLANE_STRIDE(&info, 0), w, h, v->gray);
  }
  v->fps_n = GST_VIDEO_INFO_FPS_N(&info);
  v->fps_d = GST_VIDEO_INFO_FPS_D(&info);
  frame->data = v->map.data + GST_VIDEO_INFO_PLANE_OFFSET(&info, 0);
  frame->width = GST_VIDEO_INFO_WIDTH(&info);
  frame->height = GST_VIDEO_INFO_HEIGHT(&info);
  frame->stride = GST_VIDEO_INFO_PLANE_STRIDE(&info, 0);
  if (v->opt.format == GESTA_PIXEL_GRAY) {
    frame->data = v->gray;
    frame->stride = frame->width;
  }
  frame->format = v->opt.format;
  frame->channels = gesta_pixel_format_channels(v->opt.format);
  frame->index = (int64_t)GST_BUFFER_OFFSET(buf);
  frame->pts_ns = GST_BUFFER_PTS_IS_VALID(buf) ? (int64_t)GST_BUFFER_PTS(buf)
                                               : GESTA_PTS_NONE;
  frame->duration_ns =
      GST_BUFFER_DURATION_IS_VALID(buf) ? (int64_t)GST_BUFFER_DURATION(buf) : 0;
  return GESTA_STATUS_OK;
}

/* Frames a decoder skipped (see source_note_gap), and a stream that ends
 * well before the duration its container declares was
 * cut short (a truncated download): the frames are fine, but say so. The
 * duration is asked of the video stream, so a longer soundtrack does not
 * count. */
static void pull_check_duration(gesta_video *v) {
  GstPad *pad = gst_element_get_static_pad(v->convert, "sink");
  gint64 duration = -1, end, frame, skipped, skipped_at;
  if (!pad)
    return;
  if (!gst_pad_peer_query_duration(pad, GST_FORMAT_TIME, &duration))
    duration = -1;
  gst_object_unref(pad);
  g_mutex_lock(&v->lock);
  end = v->end_ns;
  frame = v->frame_ns;
  skipped = v->skipped;
  skipped_at = v->skipped_at;
  /* Some files repeat a timestamp and then leave a gap (all frames there,
   * stamped oddly): only frames missing from the whole span count. */
  if (skipped > 0 && v->period_ns > 0 && v->first_pts >= 0) {
    gint64 span =
        (v->max_pts - v->first_pts + v->period_ns / 2) / v->period_ns + 1;
    skipped = span - v->decoded > 0 ? span - v->decoded : 0;
  }
  g_mutex_unlock(&v->lock);
  if (skipped > 0 && !v->warning[0])
    g_snprintf(v->warning, sizeof v->warning,
               "%s: %lld frame%s did not decode (the first after %.2f s); "
               "using the %lld that did",
               v->name, (long long)skipped, skipped == 1 ? "" : "s",
               (double)skipped_at / GST_SECOND,
               (long long)video_source_counts_get(v).decoded);
  if (duration <= 0 || end < 0 || v->warning[0])
    return;
  /* Slack for containers that round their duration or count a last
   * frame's display time differently. */
  if (duration - end > 3 * frame && duration - end > duration / 25 &&
      duration - end > 100 * GST_MSECOND)
    g_snprintf(v->warning, sizeof v->warning,
               "%s: the video stops at %.2f s but the file says it lasts "
               "%.2f s: it looks truncated; using the %lld frames that "
               "decoded",
               v->name, (double)end / GST_SECOND, (double)duration / GST_SECOND,
               (long long)video_source_counts_get(v).decoded);
}

static gesta_status pull_start(gesta_video *v, gesta_error *err) {
  v->started = true;
  if (gst_element_set_state(v->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE)
    return GESTA_STATUS_OK;
  if (pull_bus(v, err) != GESTA_STATUS_OK)
    return err ? err->status : GESTA_STATUS_BAD_INPUT;
  return gesta_error_set(
      err, v->opt.camera ? GESTA_STATUS_IO_ERROR : GESTA_STATUS_BAD_INPUT,
      "%s: GStreamer cannot start reading it", v->name);
}

gesta_status gesta_video_pull(gesta_video *v, gesta_frame *frame, bool *got,
                              gesta_error *err) {
  gint64 timeout_us = (gint64)(v->opt.timeout_s * 1e6);
  gint64 last_progress = g_get_monotonic_time();
  int64_t last_decoded = -1;
  gesta_status status;

  *got = false;
  video_source_release(v);
  if (v->ended)
    return GESTA_STATUS_OK;
  if (!v->started && (status = pull_start(v, err)) != GESTA_STATUS_OK)
    return status;
  for (;;) {
    GstSample *sample;
    video_source_counts c;
    gint64 now;

    status = pull_bus(v, err);
    if (status != GESTA_STATUS_OK)
      return status;
    sample = gst_app_sink_try_pull_sample(GST_APP_SINK(v->sink),
                                          PULL_POLL_MS * GST_MSECOND);
    if (sample) {
      status = pull_fill(v, sample, frame, err);
      *got = status == GESTA_STATUS_OK;
      return status;
    }
    c = video_source_counts_get(v);
    if (gst_app_sink_is_eos(GST_APP_SINK(v->sink))) {
      if (c.decoded == 0 && v->missing[0])
        return pull_missing_error(v, err);
      pull_check_duration(v);
      v->ended = true;
      return GESTA_STATUS_OK;
    }
    if (c.no_more_pads && c.video_pads == 0) {
      if (v->missing[0])
        return pull_missing_error(v, err);
      return pull_no_video_error(v, err);
    }
    now = g_get_monotonic_time();
    if (c.decoded != last_decoded) {
      last_decoded = c.decoded;
      last_progress = now;
    } else if (v->failed_late && now - last_progress > PULL_SETTLE_MS * 1000) {
      v->ended = true;
      return GESTA_STATUS_OK;
    } else if (c.decoded == 0 && c.video_pads == 0 && !c.no_more_pads &&
               v->local && now - last_progress > PULL_NO_STREAM_S * 1e6) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: GStreamer found no stream in it: not a "
                             "video, or damaged or truncated",
                             v->name);
    } else if (now - last_progress > timeout_us) {
      if (c.decoded > 0) {
        g_snprintf(v->warning, sizeof v->warning,
                   "%s: no new frame for %.0f s after %lld frames; stopping "
                   "there",
                   v->name, v->opt.timeout_s, (long long)c.decoded);
        v->ended = true;
        return GESTA_STATUS_OK;
      }
      return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                             "%s: no frame decoded in %.0f s: not a video "
                             "GStreamer can play, damaged, or a stalled "
                             "stream",
                             v->name, v->opt.timeout_s);
    }
  }
}
