/* The video pipeline: OpenCV-exact resize against goldens, the seed's
 * sampling on generated videos whose pixels carry their frame index,
 * sliding windows and their timestamps, containers and codecs, unusual
 * sizes, and every kind of bad input. Videos are made here with GStreamer
 * (appsrc -> encoder -> muxer), none is stored. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <math.h>

#include "gesta/video.h"

#define TMP GESTA_TEST_TMP "/video"

static gesta_context test_ctx;

/* ---- Resize goldens (tools/make-resize-goldens.py) ---- */

static uint8_t golden_source(int x, int y, int c, int w, int kind) {
  if (kind == 1)
    return (uint8_t)((x * 255 / (w > 1 ? w - 1 : 1) + y * 3 + c * 40) % 256);
  uint64_t v = ((uint64_t)x * 73856093u) ^ ((uint64_t)y * 19349663u) ^
               ((uint64_t)c * 83492791u);
  v &= 0xFFFFFFFFu;
  v ^= v >> 13;
  v = (v * 0x5BD1E995u) & 0xFFFFFFFFu;
  v ^= v >> 15;
  return (uint8_t)(v & 255);
}

static int32_t read_i32(const uint8_t *p) {
  return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                   (uint32_t)p[3] << 24);
}

static void test_resize_goldens(void **state) {
  FILE *f = fopen(GESTA_SOURCE_DIR "/tests/data/resize-goldens.bin", "rb");
  uint8_t *blob, *p;
  long size;
  int cases;
  (void)state;
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  blob = malloc((size_t)size);
  assert_int_equal(fread(blob, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  assert_memory_equal(blob, "GRSZGLD1", 8);
  cases = read_i32(blob + 8);
  assert_true(cases >= 10);
  p = blob + 12;
  for (int i = 0; i < cases; i++) {
    int sw = read_i32(p), sh = read_i32(p + 4), cn = read_i32(p + 8);
    int dw = read_i32(p + 12), dh = read_i32(p + 16), kind = read_i32(p + 20);
    size_t n = (size_t)dw * dh * cn, stride = (size_t)sw * cn + 5;
    uint8_t *src = malloc(stride * sh), *dst = malloc(n);
    gesta_preprocess pp = {dh, dw, GESTA_CHANNELS_BGR, 1.0 / 255, 0, 1};
    gesta_frame frame = {0};
    float *out = malloc(n * sizeof *out);
    int bad = 0;
    p += 24;
    /* A padded stride, as GStreamer hands frames over. */
    for (int y = 0; y < sh; y++)
      for (int x = 0; x < sw; x++)
        for (int c = 0; c < cn; c++)
          src[(size_t)y * stride + (size_t)x * cn + c] =
              golden_source(x, y, c, sw, kind);
    assert_int_equal(gesta_resize_u8(src, sw, sh, stride, cn, dst, dw, dh,
                                     (size_t)dw * cn, NULL),
                     GESTA_STATUS_OK);
    for (size_t j = 0; j < n; j++)
      bad += dst[j] != p[j];
    if (bad)
      fail_msg("resize %dx%dx%d -> %dx%d (pattern %d): %d of %zu values "
               "differ from OpenCV",
               sw, sh, cn, dw, dh, kind, bad, n);
    /* Through preprocess too: float values within 1e-6 of OpenCV / 255. */
    pp.channels = cn == 1 ? GESTA_CHANNELS_GRAY : GESTA_CHANNELS_BGR;
    frame =
        (gesta_frame){.data = src,
                      .width = sw,
                      .height = sh,
                      .stride = (int)stride,
                      .format = cn == 1 ? GESTA_PIXEL_GRAY : GESTA_PIXEL_BGR,
                      .channels = cn};
    assert_int_equal(gesta_preprocess_frame(&pp, &frame, dst, out, NULL),
                     GESTA_STATUS_OK);
    for (size_t j = 0; j < n; j++)
      assert_true(fabsf(out[j] - (float)(p[j] / 255.0)) <= 1e-6f);
    p += n;
    free(src);
    free(dst);
    free(out);
  }
  assert_true(p == blob + size);
  free(blob);
}

static void test_uniform_skip(void **state) {
  (void)state;
  assert_int_equal(gesta_sampling_uniform_skip(20, 20), 1);
  assert_int_equal(gesta_sampling_uniform_skip(39, 20), 1);
  assert_int_equal(gesta_sampling_uniform_skip(40, 20), 2);
  assert_int_equal(gesta_sampling_uniform_skip(41, 20), 2);
  assert_int_equal(gesta_sampling_uniform_skip(164, 20), 8);
  assert_int_equal(gesta_sampling_uniform_skip(5, 20), 1);
}

/* ---- Generated videos ---- */

/* Frame i shows its index as three vertical stripes, one octal digit each
 * (grey level digit * 32 + 16): lossy codecs keep it readable. */
static int stripe_level(int64_t index, int stripe) {
  return (int)((index >> (3 * stripe)) & 7) * 32 + 16;
}

static int read_index(const uint8_t *data, int width, int height, int stride,
                      int channels) {
  int index = 0;
  for (int s = 0; s < 3; s++) {
    int x = (2 * s + 1) * width / 6, y = height / 2;
    int v = data[(size_t)y * stride + (size_t)x * channels];
    int digit = (v - 16 + 16) / 32;
    index |= (digit < 0 ? 0 : digit > 7 ? 7 : digit) << (3 * s);
  }
  return index;
}

/* Writes `frames` frames through `encoder` (a gst-launch fragment ending in
 * a muxer) to path. pts_ms: NULL for 25 fps, else each frame's time. */
static void make_video(const char *path, const char *encoder, int width,
                       int height, int frames, const char *format,
                       const int *pts_ms) {
  char desc[1024];
  GstElement *pipe, *src;
  GstMessage *msg;
  GError *gerr = NULL;
  bool gray = strcmp(format, "GRAY8") == 0;
  int cn = gray ? 1 : 3;
  GstCaps *caps;
  GstBus *bus;

  snprintf(desc, sizeof desc,
           "appsrc name=src format=time ! videoconvert ! %s ! filesink "
           "location=%s",
           encoder, path);
  pipe = gst_parse_launch(desc, &gerr);
  if (!pipe || gerr)
    fail_msg("cannot build '%s': %s", desc, gerr ? gerr->message : "?");
  src = gst_bin_get_by_name(GST_BIN(pipe), "src");
  caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, format,
                             "width", G_TYPE_INT, width, "height", G_TYPE_INT,
                             height, "framerate", GST_TYPE_FRACTION,
                             pts_ms ? 0 : 25, 1, NULL);
  g_object_set(src, "caps", caps, NULL);
  gst_caps_unref(caps);
  gst_element_set_state(pipe, GST_STATE_PLAYING);
  for (int i = 0; i < frames; i++) {
    int stride = gray ? (width + 3) & ~3 : (width * 3 + 3) & ~3;
    GstBuffer *buf =
        gst_buffer_new_allocate(NULL, (size_t)stride * height, NULL);
    GstMapInfo map;
    gst_buffer_map(buf, &map, GST_MAP_WRITE);
    for (int y = 0; y < height; y++)
      for (int x = 0; x < width; x++)
        for (int c = 0; c < cn; c++)
          map.data[(size_t)y * stride + (size_t)x * cn + c] =
              (uint8_t)stripe_level(i, x * 3 / width);
    gst_buffer_unmap(buf, &map);
    GST_BUFFER_PTS(buf) =
        (pts_ms ? pts_ms[i] : i * 40) * (GstClockTime)GST_MSECOND;
    GST_BUFFER_DURATION(buf) =
        (pts_ms ? (i + 1 < frames ? pts_ms[i + 1] - pts_ms[i] : 40) : 40) *
        (GstClockTime)GST_MSECOND;
    gst_app_src_push_buffer(GST_APP_SRC(src), buf);
  }
  gst_app_src_end_of_stream(GST_APP_SRC(src));
  bus = gst_element_get_bus(pipe);
  msg = gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND,
                                   GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_object_unref(bus);
  if (!msg || GST_MESSAGE_TYPE(msg) != GST_MESSAGE_EOS)
    fail_msg("writing %s with '%s' failed", path, encoder);
  gst_message_unref(msg);
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(pipe);
}

static bool have_elements(const char *names) {
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", names);
  for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
    GstElementFactory *f = gst_element_factory_find(t);
    if (!f)
      return false;
    gst_object_unref(f);
  }
  return true;
}

static gesta_preprocess test_pp(int size, gesta_channel_order channels,
                                int64_t frames) {
  gesta_preprocess pp = {size,  size, channels, 1.0, GESTA_SAMPLING_UNIFORM,
                         frames};
  return pp;
}

/* Reads every frame; checks indices run 0..n-1 and the pixels agree. */
static int64_t pull_all(const char *path, gesta_pixel_format format,
                        bool check_pixels, int64_t *pts_ms) {
  gesta_video_options opt;
  gesta_video *v = NULL;
  gesta_error err;
  gesta_frame frame;
  bool got = true;
  int64_t n = 0;
  gesta_video_options_init(&opt);
  opt.format = format;
  if (gesta_video_open(&test_ctx, path, &opt, &v, &err) != GESTA_STATUS_OK)
    fail_msg("%s", err.message);
  for (;;) {
    if (gesta_video_pull(v, &frame, &got, &err) != GESTA_STATUS_OK)
      fail_msg("%s", err.message);
    if (!got)
      break;
    assert_int_equal(frame.index, n);
    assert_int_equal(frame.channels, format == GESTA_PIXEL_GRAY ? 1 : 3);
    if (check_pixels && frame.width >= 6)
      assert_int_equal(read_index(frame.data, frame.width, frame.height,
                                  frame.stride, frame.channels),
                       n & 511);
    if (pts_ms)
      pts_ms[n] = frame.pts_ns / 1000000;
    n++;
  }
  assert_int_equal(gesta_video_frames_decoded(v), n);
  gesta_video_close(v);
  return n;
}

static void test_uniform_indices(void **state) {
  static const int counts[] = {20, 39, 41, 64};
  (void)state;
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    char path[256];
    gesta_preprocess pp = test_pp(48, GESTA_CHANNELS_BGR, 20);
    gesta_video_options opt;
    float *out = malloc(sizeof *out * 20 * 48 * 48 * 3);
    int64_t indices[20], skip = gesta_sampling_uniform_skip(counts[i], 20);
    gesta_clip_stats stats;
    gesta_error err;
    uint8_t frame[48 * 48 * 3];
    snprintf(path, sizeof path, TMP "/uniform%d.avi", counts[i]);
    make_video(path, "avenc_mpeg4 ! avimux", 96, 64, counts[i], "BGR", NULL);
    gesta_video_options_init(&opt);
    if (gesta_clip_read_uniform(&test_ctx, path, &opt, &pp, out, indices,
                                &stats, &err) != GESTA_STATUS_OK)
      fail_msg("%s", err.message);
    assert_int_equal(stats.frame_count, counts[i]);
    assert_int_equal(stats.width, 96);
    assert_int_equal(stats.height, 64);
    assert_false(stats.damaged);
    for (int k = 0; k < 20; k++) {
      const float *f = out + (size_t)k * 48 * 48 * 3;
      assert_int_equal(indices[k], k * skip);
      for (int j = 0; j < 48 * 48 * 3; j++)
        frame[j] = (uint8_t)f[j];
      assert_int_equal(read_index(frame, 48, 48, 48 * 3, 3), k * skip);
    }
    free(out);
  }
}

static void test_too_few_frames(void **state) {
  gesta_preprocess pp = test_pp(32, GESTA_CHANNELS_BGR, 20);
  gesta_video_options opt;
  float *out = malloc(sizeof *out * 20 * 32 * 32 * 3);
  int64_t indices[20];
  gesta_clip_stats stats;
  gesta_error err;
  (void)state;
  make_video(TMP "/five.avi", "avenc_mpeg4 ! avimux", 64, 48, 5, "BGR", NULL);
  gesta_video_options_init(&opt);
  assert_int_equal(gesta_clip_read_uniform(&test_ctx, TMP "/five.avi", &opt,
                                           &pp, out, indices, &stats, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "only 5 decodable frames"));
  assert_non_null(strstr(err.message, "20 frames"));
  free(out);
}

static void test_containers_and_codecs(void **state) {
  static const struct {
    const char *elements, *encoder, *ext;
  } cases[] = {
      {"avenc_mpeg4 avimux", "avenc_mpeg4 ! avimux", "avi"},
      {"x264enc mp4mux", "x264enc ! mp4mux", "mp4"},
      {"x264enc matroskamux", "x264enc ! matroskamux", "mkv"},
      {"vp8enc webmmux", "vp8enc ! webmmux", "webm"},
      {"jpegenc avimux", "jpegenc ! avimux", "mjpeg.avi"},
      {"avenc_mpeg4 qtmux", "avenc_mpeg4 ! qtmux", "mov"},
      {"theoraenc oggmux", "theoraenc ! oggmux", "ogv"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[256];
    if (!have_elements(cases[i].elements)) {
      print_message("skipped %s: GStreamer lacks %s\n", cases[i].ext,
                    cases[i].elements);
      continue;
    }
    snprintf(path, sizeof path, TMP "/codec.%s", cases[i].ext);
    make_video(path, cases[i].encoder, 96, 64, 30, "BGR", NULL);
    assert_int_equal(pull_all(path, GESTA_PIXEL_BGR, true, NULL), 30);
    assert_int_equal(pull_all(path, GESTA_PIXEL_RGB, true, NULL), 30);
  }
}

static void test_unusual_sizes(void **state) {
  (void)state;
  /* 1x1 needs a codec without macroblock limits: MJPEG. */
  make_video(TMP "/one.mkv", "jpegenc ! matroskamux", 1, 1, 25, "BGR", NULL);
  assert_int_equal(pull_all(TMP "/one.mkv", GESTA_PIXEL_BGR, false, NULL), 25);
  make_video(TMP "/odd.mkv", "jpegenc ! matroskamux", 33, 17, 25, "BGR", NULL);
  assert_int_equal(pull_all(TMP "/odd.mkv", GESTA_PIXEL_BGR, true, NULL), 25);
  make_video(TMP "/odd.avi", "avenc_mpeg4 ! avimux", 66, 34, 21, "BGR", NULL);
  assert_int_equal(pull_all(TMP "/odd.avi", GESTA_PIXEL_BGR, true, NULL), 21);
  make_video(TMP "/hd.mkv", "jpegenc ! matroskamux", 1920, 1080, 3, "BGR",
             NULL);
  assert_int_equal(pull_all(TMP "/hd.mkv", GESTA_PIXEL_BGR, true, NULL), 3);

  /* The uniform reader on a 1x1 video: every value the pixel's. */
  {
    gesta_preprocess pp = test_pp(8, GESTA_CHANNELS_BGR, 20);
    gesta_video_options opt;
    float out[20 * 8 * 8 * 3];
    int64_t indices[20];
    gesta_clip_stats stats;
    gesta_error err;
    gesta_video_options_init(&opt);
    if (gesta_clip_read_uniform(&test_ctx, TMP "/one.mkv", &opt, &pp, out,
                                indices, &stats, &err) != GESTA_STATUS_OK)
      fail_msg("%s", err.message);
    assert_int_equal(stats.width, 1);
    for (int j = 3; j < 8 * 8 * 3; j++)
      assert_true(out[j] == out[j % 3]);
  }
}

static void test_grayscale(void **state) {
  gesta_preprocess pp = test_pp(24, GESTA_CHANNELS_GRAY, 20);
  gesta_video_options opt;
  float out[20 * 24 * 24];
  int64_t indices[20];
  gesta_clip_stats stats;
  gesta_error err;
  (void)state;
  make_video(TMP "/gray.mkv", "jpegenc ! matroskamux", 48, 32, 40, "GRAY8",
             NULL);
  assert_int_equal(pull_all(TMP "/gray.mkv", GESTA_PIXEL_GRAY, true, NULL), 40);
  /* A colour video read as gray, for a gray model. */
  assert_int_equal(pull_all(TMP "/uniform41.avi", GESTA_PIXEL_GRAY, true, NULL),
                   41);
  gesta_video_options_init(&opt);
  if (gesta_clip_read_uniform(&test_ctx, TMP "/gray.mkv", &opt, &pp, out,
                              indices, &stats, &err) != GESTA_STATUS_OK)
    fail_msg("%s", err.message);
  for (int k = 0; k < 20; k++) {
    uint8_t f[24 * 24];
    for (int j = 0; j < 24 * 24; j++)
      f[j] = (uint8_t)out[k * 24 * 24 + j];
    assert_int_equal(read_index(f, 24, 24, 24, 1), 2 * k);
  }
}

static void check_windows(const char *path, int64_t frames, int64_t stride,
                          const int64_t *firsts, int n, const double *starts,
                          const double *ends) {
  gesta_preprocess pp = test_pp(16, GESTA_CHANNELS_BGR, frames);
  gesta_video_options opt;
  gesta_window_reader *r = NULL;
  float *out = malloc(sizeof *out * (size_t)frames * 16 * 16 * 3);
  gesta_window w;
  gesta_error err;
  bool got;
  int count = 0;
  gesta_video_options_init(&opt);
  if (gesta_window_reader_open(&test_ctx, path, &opt, &pp, frames, stride, &r,
                               &err) != GESTA_STATUS_OK)
    fail_msg("%s", err.message);
  for (;;) {
    if (gesta_window_reader_next(r, out, &w, &got, &err) != GESTA_STATUS_OK)
      fail_msg("%s", err.message);
    if (!got)
      break;
    assert_true(count < n);
    assert_int_equal(w.first, firsts[count]);
    assert_int_equal(w.last, firsts[count] + frames - 1);
    if (fabs(w.start_s - starts[count]) > 1.5e-3 ||
        fabs(w.end_s - ends[count]) > 1.5e-3)
      fail_msg("%s: window %d is %.4f-%.4f s, want %.4f-%.4f s", path, count,
               w.start_s, w.end_s, starts[count], ends[count]);
    /* The window's first frame is the frame it says. */
    {
      uint8_t f[16 * 16 * 3];
      for (int j = 0; j < 16 * 16 * 3; j++)
        f[j] = (uint8_t)out[j];
      assert_int_equal(read_index(f, 16, 16, 48, 3), w.first);
    }
    count++;
  }
  assert_int_equal(count, n);
  gesta_window_reader_free(r);
  free(out);
}

static void test_windows(void **state) {
  static const int64_t firsts[] = {0, 10, 20, 25};
  static const double starts[] = {0, 0.4, 0.8, 1.0};
  static const double ends[] = {0.8, 1.2, 1.6, 1.8};
  (void)state;
  make_video(TMP "/win45.mkv", "jpegenc ! matroskamux", 48, 32, 45, "BGR",
             NULL);
  check_windows(TMP "/win45.mkv", 20, 10, firsts, 4, starts, ends);
  /* Two runs, same windows. */
  check_windows(TMP "/win45.mkv", 20, 10, firsts, 4, starts, ends);
  {
    static const int64_t f2[] = {0, 20, 25};
    static const double s2[] = {0, 0.8, 1.0}, e2[] = {0.8, 1.6, 1.8};
    check_windows(TMP "/win45.mkv", 20, 20, f2, 3, s2, e2);
  }
}

static void test_variable_frame_rate(void **state) {
  static const int pts[] = {0,   40,  80,  200, 240, 400, 420,
                            440, 460, 700, 740, 780, 820, 1000};
  static const int64_t firsts[] = {0, 4, 8, 10};
  /* end = the last frame's PTS + its duration (the gap to the next). */
  static const double starts[] = {0, 0.24, 0.46, 0.74};
  static const double ends[] = {0.24, 0.46, 0.82, 1.04};
  int64_t got[14];
  (void)state;
  make_video(TMP "/vfr.mkv", "jpegenc ! matroskamux", 48, 32, 14, "BGR", pts);
  assert_int_equal(pull_all(TMP "/vfr.mkv", GESTA_PIXEL_BGR, true, got), 14);
  for (int i = 0; i < 14; i++)
    assert_int_equal(got[i], pts[i]);
  check_windows(TMP "/vfr.mkv", 4, 4, firsts, 4, starts, ends);
}

static bool keep_even(void *user, int64_t index) {
  (*(int *)user)++;
  return index % 2 == 0;
}

static void test_keep_filter(void **state) {
  gesta_video_options opt;
  gesta_video *v = NULL;
  gesta_frame frame;
  gesta_error err;
  bool got = true;
  int calls = 0;
  int64_t n = 0;
  (void)state;
  gesta_video_options_init(&opt);
  opt.keep = keep_even;
  opt.keep_user = &calls;
  assert_int_equal(
      gesta_video_open(&test_ctx, TMP "/win45.mkv", &opt, &v, &err),
      GESTA_STATUS_OK);
  for (;;) {
    assert_int_equal(gesta_video_pull(v, &frame, &got, &err), GESTA_STATUS_OK);
    if (!got)
      break;
    assert_int_equal(frame.index, 2 * n);
    assert_int_equal(
        read_index(frame.data, frame.width, frame.height, frame.stride, 3),
        2 * n);
    n++;
  }
  assert_int_equal(n, 23);
  assert_int_equal(calls, 45);
  assert_int_equal(gesta_video_frames_decoded(v), 45);
  gesta_video_close(v);

  /* Closing an unstarted source, and one mid-stream with frames queued. */
  opt.keep = NULL;
  assert_int_equal(
      gesta_video_open(&test_ctx, TMP "/win45.mkv", &opt, &v, &err),
      GESTA_STATUS_OK);
  gesta_video_close(v);
  assert_int_equal(
      gesta_video_open(&test_ctx, TMP "/win45.mkv", &opt, &v, &err),
      GESTA_STATUS_OK);
  assert_int_equal(gesta_video_pull(v, &frame, &got, &err), GESTA_STATUS_OK);
  assert_true(got);
  gesta_video_close(v);
}

/* ---- Bad input ---- */

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  fclose(f);
}

static void *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  void *data;
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  data = malloc(*n);
  assert_int_equal(fread(data, 1, *n, f), *n);
  fclose(f);
  return data;
}

/* Pulls to the end; returns the status and, when OK, the frame count. */
static gesta_status open_and_pull(const char *path, int64_t *frames,
                                  gesta_error *err, char *warning,
                                  size_t warning_size) {
  gesta_video_options opt;
  gesta_video *v = NULL;
  gesta_frame frame;
  bool got = true;
  gesta_status status;
  gesta_video_options_init(&opt);
  opt.timeout_s = 5;
  *frames = 0;
  warning[0] = '\0';
  status = gesta_video_open(&test_ctx, path, &opt, &v, err);
  while (status == GESTA_STATUS_OK && got) {
    status = gesta_video_pull(v, &frame, &got, err);
    *frames += status == GESTA_STATUS_OK && got;
  }
  if (v && gesta_video_warning(v))
    snprintf(warning, warning_size, "%s", gesta_video_warning(v));
  gesta_video_close(v);
  return status;
}

static void expect_error(const char *path, gesta_status want,
                         const char *text) {
  gesta_error err;
  char warning[512];
  int64_t frames;
  gesta_status status =
      open_and_pull(path, &frames, &err, warning, sizeof warning);
  if (status != want || !strstr(err.message, text) ||
      !strstr(err.message, path))
    fail_msg("%s: got status %d '%s', want %d with '%s'", path, status,
             status ? err.message : "", want, text);
}

static void test_bad_inputs(void **state) {
  static const char text[] = "this is not a video\n";
  (void)state;
  expect_error(TMP "/missing.mp4", GESTA_STATUS_IO_ERROR, "no such file");
  expect_error(TMP, GESTA_STATUS_BAD_INPUT, "is a directory");
  write_file(TMP "/text.mp4", text, sizeof text - 1);
  expect_error(TMP "/text.mp4", GESTA_STATUS_BAD_INPUT, "not a video");
  write_file(TMP "/empty.mp4", "", 0);
  expect_error(TMP "/empty.mp4", GESTA_STATUS_BAD_INPUT, "empty");
}

static void test_audio_only(void **state) {
  GError *gerr = NULL;
  GstElement *p;
  GstBus *bus;
  GstMessage *msg;
  (void)state;
  p = gst_parse_launch("audiotestsrc num-buffers=20 ! wavenc ! filesink "
                       "location=" TMP "/audio.wav",
                       &gerr);
  assert_non_null(p);
  gst_element_set_state(p, GST_STATE_PLAYING);
  bus = gst_element_get_bus(p);
  msg = gst_bus_timed_pop_filtered(bus, 30 * GST_SECOND,
                                   GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  assert_non_null(msg);
  gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
  expect_error(TMP "/audio.wav", GESTA_STATUS_BAD_INPUT, "no video stream");
}

static void test_truncated(void **state) {
  gesta_error err;
  char warning[512];
  int64_t frames;
  size_t n;
  uint8_t *data;
  (void)state;
  /* Matroska declares its duration: a cut file decodes up to the cut and
   * says it looks truncated. */
  make_video(TMP "/full.mkv", "x264enc ! matroskamux", 64, 48, 50, "BGR", NULL);
  data = read_file(TMP "/full.mkv", &n);
  write_file(TMP "/half.mkv", data, n / 2);
  free(data);
  assert_int_equal(
      open_and_pull(TMP "/half.mkv", &frames, &err, warning, sizeof warning),
      GESTA_STATUS_OK);
  assert_true(frames > 5 && frames < 50);
  assert_non_null(strstr(warning, "truncated"));
  /* MP4 keeps its index at the end: cut, nothing can be decoded. */
  make_video(TMP "/full.mp4", "x264enc ! mp4mux", 64, 48, 50, "BGR", NULL);
  data = read_file(TMP "/full.mp4", &n);
  write_file(TMP "/half.mp4", data, n / 2);
  free(data);
  expect_error(TMP "/half.mp4", GESTA_STATUS_BAD_INPUT, "damaged");
}

static void test_decode_error(void **state) {
  gesta_error err;
  char warning[512];
  int64_t frames;
  size_t n;
  uint8_t *data;
  (void)state;
  /* Garbage over the middle of an MJPEG AVI: the decoder skips the frame it
   * cannot decode and the source says so. */
  make_video(TMP "/mjpeg.avi", "jpegenc ! avimux", 64, 48, 40, "BGR", NULL);
  data = read_file(TMP "/mjpeg.avi", &n);
  for (size_t i = n / 2; i < n / 2 + 1500 && i < n; i++)
    data[i] = (uint8_t)(i * 7919 % 251);
  write_file(TMP "/damaged.avi", data, n);
  free(data);
  assert_int_equal(
      open_and_pull(TMP "/damaged.avi", &frames, &err, warning, sizeof warning),
      GESTA_STATUS_OK);
  assert_true(frames >= 30 && frames < 40);
  assert_non_null(strstr(warning, "did not decode"));
}

/* The clip reader guesses its frames from the container's frame count and
 * reads again when the guess was wrong: whichever way, the clip is the
 * frames k * skip of the frames that decode. half.mkv says 50 frames and
 * decodes fewer (a second pass); damaged.avi's index is off by a frame or
 * two (one of the neighbouring guesses). */
static void check_uniform_as_decoded(const char *path, int64_t frames) {
  gesta_preprocess pp = test_pp(48, GESTA_CHANNELS_BGR, frames);
  gesta_video_options opt;
  gesta_video *v = NULL;
  gesta_frame frame;
  gesta_clip_stats stats;
  gesta_error err;
  bool got = true;
  int shown[64];
  int64_t n = 0, indices[8], skip;
  float *out = malloc(sizeof *out * (size_t)frames * 48 * 48 * 3);
  uint8_t pixels[48 * 48 * 3];
  gesta_video_options_init(&opt);
  opt.timeout_s = 5;
  assert_int_equal(gesta_video_open(&test_ctx, path, &opt, &v, &err),
                   GESTA_STATUS_OK);
  while (gesta_video_pull(v, &frame, &got, &err) == GESTA_STATUS_OK && got &&
         n < 64)
    shown[n++] =
        read_index(frame.data, frame.width, frame.height, frame.stride, 3);
  gesta_video_close(v);
  if (gesta_clip_read_uniform(&test_ctx, path, &opt, &pp, out, indices, &stats,
                              &err) != GESTA_STATUS_OK)
    fail_msg("%s", err.message);
  assert_int_equal(stats.frame_count, n);
  skip = gesta_sampling_uniform_skip(n, frames);
  for (int64_t k = 0; k < frames; k++) {
    assert_int_equal(indices[k], k * skip);
    for (int j = 0; j < 48 * 48 * 3; j++)
      pixels[j] = (uint8_t)out[(size_t)k * 48 * 48 * 3 + (size_t)j];
    assert_int_equal(read_index(pixels, 48, 48, 48 * 3, 3), shown[k * skip]);
  }
  free(out);
}

static void test_uniform_wrong_count(void **state) {
  (void)state;
  check_uniform_as_decoded(TMP "/half.mkv", 5);
  check_uniform_as_decoded(TMP "/damaged.avi", 5);
}

static int setup(void **state) {
  (void)state;
  gesta_context_init(&test_ctx);
  mkdir(GESTA_TEST_TMP, 0755);
  mkdir(TMP, 0755);
  if (!gst_is_initialized())
    gst_init(NULL, NULL);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resize_goldens),
      cmocka_unit_test(test_uniform_skip),
      cmocka_unit_test(test_uniform_indices),
      cmocka_unit_test(test_too_few_frames),
      cmocka_unit_test(test_containers_and_codecs),
      cmocka_unit_test(test_unusual_sizes),
      cmocka_unit_test(test_grayscale),
      cmocka_unit_test(test_windows),
      cmocka_unit_test(test_variable_frame_rate),
      cmocka_unit_test(test_keep_filter),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_audio_only),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_decode_error),
      cmocka_unit_test(test_uniform_wrong_count),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
