/* gesta synth: writing a rendered clip as UCF101 does, MPEG-4 part 2 in
 * AVI, with its own small GStreamer pipeline:
 * appsrc ! videoconvert ! avenc_mpeg4 ! avimux ! filesink. */
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

#include "synth_internal.h"

/* An encoder that makes no progress for this long has stalled. */
#define SYNTH_ENCODE_TIMEOUT (60 * GST_SECOND)
/* Constant quantiser (2 best .. 31 worst) instead of rate control: about
 * UCF101's quality and bitrate on these clips. libav takes it from qmin
 * and qmax; the quantizer property alone is not honoured. */
#define SYNTH_QUANTIZER "4"

typedef struct synth_element {
  const char *name, *package;
} synth_element;

static const synth_element synth_elements[] = {
    {"appsrc", "gstreamer1.0-plugins-base"},
    {"videoconvert", "gstreamer1.0-plugins-base"},
    {"avenc_mpeg4", "gstreamer1.0-libav"},
    {"avimux", "gstreamer1.0-plugins-good"},
    {"filesink", "libgstreamer1.0-0"},
};

gesta_status gesta_synth_encoder_check(gesta_error *err) {
  GError *gerr = NULL;
  char missing[512] = "";
  size_t used = 0;
  int count = 0;
  if (!gst_init_check(NULL, NULL, &gerr)) {
    gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                    "GStreamer could not start: %s",
                    gerr ? gerr->message : "unknown reason");
    g_clear_error(&gerr);
    return GESTA_STATUS_UNSUPPORTED;
  }
  for (size_t i = 0; i < sizeof synth_elements / sizeof synth_elements[0];
       i++) {
    GstElementFactory *f = gst_element_factory_find(synth_elements[i].name);
    if (f) {
      gst_object_unref(f);
      continue;
    }
    used += (size_t)snprintf(missing + used, sizeof missing - used,
                             "%s'%s' (Debian package %s)", count ? ", " : "",
                             synth_elements[i].name, synth_elements[i].package);
    if (used >= sizeof missing)
      used = sizeof missing - 1;
    count++;
  }
  if (count)
    return gesta_error_set(
        err, GESTA_STATUS_UNSUPPORTED,
        "cannot write the synthetic videos: GStreamer element%s %s %s "
        "missing. Install the package%s (sudo apt-get install ...), or run "
        "tools/install-deps.sh",
        count > 1 ? "s" : "", missing, count > 1 ? "are" : "is",
        count > 1 ? "s" : "");
  return GESTA_STATUS_OK;
}

static GstElement *synth_make(GstElement *pipeline, const char *factory) {
  GstElement *e = gst_element_factory_make(factory, NULL);
  if (e && !gst_bin_add(GST_BIN(pipeline), e)) {
    gst_object_unref(e);
    e = NULL;
  }
  return e;
}

/* The first error or EOS on the bus; an error fills err. */
static gesta_status synth_wait(GstElement *pipeline, const char *path,
                               gesta_error *err) {
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered(
      bus, SYNTH_ENCODE_TIMEOUT, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gesta_status status = GESTA_STATUS_OK;
  if (!msg) {
    status = gesta_error_set(err, GESTA_STATUS_BACKEND_ERROR,
                             "%s: the video encoder stalled (no progress in "
                             "%d s)",
                             path, (int)(SYNTH_ENCODE_TIMEOUT / GST_SECOND));
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError *gerr = NULL;
    gchar *debug = NULL;
    gst_message_parse_error(msg, &gerr, &debug);
    status = gesta_error_set(
        err,
        /* A file that cannot be opened or a full disk is the file's
           fault, anything else the encoder's. */
        gerr && gerr->domain == GST_RESOURCE_ERROR ? GESTA_STATUS_IO_ERROR
                                                   : GESTA_STATUS_BACKEND_ERROR,
        "%s: writing the video failed: %s (from GStreamer element %s)", path,
        gerr ? gerr->message : "unknown error",
        GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)));
    if (debug)
      gesta_error_add_detail(err, "%s", debug);
    g_clear_error(&gerr);
    g_free(debug);
  }
  if (msg)
    gst_message_unref(msg);
  gst_object_unref(bus);
  return status;
}

gesta_status gesta_synth_encoder_write(const gesta_synth_clip *clip,
                                       bool reversed, const char *path,
                                       gesta_error *err) {
  GstElement *pipeline = gst_pipeline_new("gesta-synth");
  GstElement *src, *convert, *enc, *mux, *sink;
  GstCaps *caps = NULL;
  size_t bytes = (size_t)clip->width * clip->height * 3;
  gesta_status status = GESTA_STATUS_OK;

  src = pipeline ? synth_make(pipeline, "appsrc") : NULL;
  convert = src ? synth_make(pipeline, "videoconvert") : NULL;
  enc = convert ? synth_make(pipeline, "avenc_mpeg4") : NULL;
  mux = enc ? synth_make(pipeline, "avimux") : NULL;
  sink = mux ? synth_make(pipeline, "filesink") : NULL;
  if (!sink || !gst_element_link_many(src, convert, enc, mux, sink, NULL)) {
    status = gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                             "cannot build the video encoder pipeline "
                             "(appsrc ! videoconvert ! avenc_mpeg4 ! avimux ! "
                             "filesink); check the GStreamer installation "
                             "(gst-inspect-1.0 avenc_mpeg4)");
    goto done;
  }
  caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB",
                             "width", G_TYPE_INT, clip->width, "height",
                             G_TYPE_INT, clip->height, "framerate",
                             GST_TYPE_FRACTION, GESTA_SYNTH_FPS, 1, NULL);
  /* Frames are wrapped, not copied, so queueing the whole clip is free. */
  g_object_set(src, "caps", caps, "format", GST_FORMAT_TIME, "max-bytes",
               (guint64)0, "block", FALSE, NULL);
  g_object_set(convert, "n-threads", 1, NULL);
  /* One thread and bit-exact code paths: the same frames always give the
   * same bytes. */
  g_object_set(enc, "threads", 1, NULL);
  gst_util_set_object_arg(G_OBJECT(enc), "flags", "bitexact");
  gst_util_set_object_arg(G_OBJECT(enc), "pass", "quant");
  gst_util_set_object_arg(G_OBJECT(enc), "quantizer", SYNTH_QUANTIZER);
  gst_util_set_object_arg(G_OBJECT(enc), "qmin", SYNTH_QUANTIZER);
  gst_util_set_object_arg(G_OBJECT(enc), "qmax", SYNTH_QUANTIZER);
  g_object_set(sink, "location", path, NULL);

  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    status = synth_wait(pipeline, path, err);
    if (status == GESTA_STATUS_OK)
      status = gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                               "%s: the video encoder did not start", path);
    goto done;
  }
  for (int i = 0; i < clip->frame_count; i++) {
    int f = reversed ? clip->frame_count - 1 - i : i;
    GstBuffer *buf = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY,
                                                 clip->rgb + bytes * f, bytes,
                                                 0, bytes, NULL, NULL);
    GstClockTime pts = gst_util_uint64_scale(i, GST_SECOND, GESTA_SYNTH_FPS);
    GST_BUFFER_PTS(buf) = pts;
    GST_BUFFER_DTS(buf) = pts;
    GST_BUFFER_DURATION(buf) =
        gst_util_uint64_scale(i + 1, GST_SECOND, GESTA_SYNTH_FPS) - pts;
    GST_BUFFER_OFFSET(buf) = (guint64)i;
    if (gst_app_src_push_buffer(GST_APP_SRC(src), buf) != GST_FLOW_OK)
      break; /* the bus says why */
  }
  gst_app_src_end_of_stream(GST_APP_SRC(src));
  status = synth_wait(pipeline, path, err);

done:
  if (caps)
    gst_caps_unref(caps);
  if (pipeline) {
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
  }
  return status;
}
