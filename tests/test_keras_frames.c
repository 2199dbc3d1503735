/* Preprocessing parity with the seed: the clip gesta_clip_read_uniform makes
 * from a video against the frames the seed's own frames_extraction reads
 * with OpenCV (tools/make-frame-goldens, Debian python3-opencv), for videos
 * made here with GStreamer's videotestsrc (a moving SMPTE pattern, so every
 * frame differs).
 *
 * The frame indices must be identical. Pixels: for uncompressed BGR video
 * both sides see the same bytes and resize them the same way, so they must
 * match exactly (within float32 rounding of v / 255). For Motion-JPEG the
 * two decoders differ (GStreamer's jpegdec + videoconvert vs FFmpeg's
 * decoder + swscale: IDCT and YUV->BGR rounding), documented as at most
 * KF_JPEG_MAX_DIFF on any value and KF_JPEG_MEAN_DIFF on average (measured:
 * 5/255 and 0.9/255 at quality 90).
 *
 * Usage: test_keras_frames (needs gst-launch-1.0 and /usr/bin/python3 with
 * cv2; GStreamer support in gesta) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gesta/gesta.h"
#if GESTA_HAVE_GSTREAMER
#include "gesta/video.h"
#endif

extern char **environ;

#define KF_JPEG_MAX_DIFF (8.0 / 255.0)
#define KF_JPEG_MEAN_DIFF (1.5 / 255.0)

#if GESTA_HAVE_GSTREAMER
typedef struct kf_case {
  const char *name;
  const char *encoder; /* between the caps and avimux */
  const char *format;  /* raw caps format */
  int frames_in_video, frames, size;
  bool exact;
} kf_case;

static const kf_case kf_cases[] = {
    {"raw-bgr-47", "", "BGR", 47, 20, 32, true},
    {"raw-bgr-20", "", "BGR", 20, 20, 16, true},
    {"mjpeg-61", "! jpegenc quality=90 ", "I420", 61, 20, 64, false},
};

static int kf_spawn(char *const argv[]) {
  pid_t pid;
  int status = 0;
  if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0 ||
      waitpid(pid, &status, 0) < 0)
    return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool kf_case_run(const gesta_context *ctx, const kf_case *c) {
  char video[512], golden[512], pipeline[1024], tool[512], n[16], sz[16];
  snprintf(video, sizeof video, "%s/frames-%s.avi", GESTA_TEST_TMP, c->name);
  snprintf(golden, sizeof golden, "%s/frames-%s.safetensors", GESTA_TEST_TMP,
           c->name);
  snprintf(pipeline, sizeof pipeline,
           "gst-launch-1.0 -q videotestsrc num-buffers=%d pattern=smpte "
           "horizontal-speed=4 ! video/x-raw,format=%s,width=96,height=72,"
           "framerate=25/1 %s! avimux ! filesink location='%s'",
           c->frames_in_video, c->format, c->encoder, video);
  char *sh[] = {"/bin/sh", "-c", pipeline, NULL};
  if (kf_spawn(sh) != 0) {
    printf("FAIL %s: %s failed\n", c->name, pipeline);
    return false;
  }
  snprintf(tool, sizeof tool, "%s/tools/make-frame-goldens", GESTA_SOURCE_DIR);
  snprintf(n, sizeof n, "%d", c->frames);
  snprintf(sz, sizeof sz, "%d", c->size);
  char *py[] = {"/usr/bin/python3", tool, video, golden, "--frames", n,
                "--size",           sz,   NULL};
  if (kf_spawn(py) != 0) {
    printf("FAIL %s: tools/make-frame-goldens failed\n", c->name);
    return false;
  }
  gesta_error err;
  gesta_error_clear(&err);
  gesta_safetensors *g = NULL;
  float *got = NULL, *want = NULL, want_idx[64];
  int64_t idx[64];
  bool ok = false;
  gesta_preprocess pp = {.height = c->size,
                         .width = c->size,
                         .channels = GESTA_CHANNELS_BGR,
                         .scale = 1.0 / 255.0,
                         .sampling = GESTA_SAMPLING_UNIFORM,
                         .frames = c->frames};
  gesta_video_options opt;
  gesta_video_options_init(&opt);
  gesta_clip_stats stats;
  size_t count = (size_t)c->frames * c->size * c->size * 3;
  got = malloc(count * sizeof *got);
  want = malloc(count * sizeof *want);
  if (!got || !want || c->frames > 64)
    goto done;
  if (gesta_safetensors_open(golden, &g, &err) != GESTA_STATUS_OK ||
      gesta_clip_read_uniform(ctx, video, &opt, &pp, got, idx, &stats, &err) !=
          GESTA_STATUS_OK) {
    printf("FAIL %s: %s\n", c->name, err.message);
    goto done;
  }
  const gesta_safetensors_entry *ef = gesta_safetensors_find(g, "frames");
  const gesta_safetensors_entry *ei = gesta_safetensors_find(g, "indices");
  if (!ef || !ei || ef->bytes != count * sizeof(float) ||
      ei->bytes != (size_t)c->frames * sizeof(float)) {
    printf("FAIL %s: the seed's code read a different number of frames\n",
           c->name);
    goto done;
  }
  gesta_safetensors_read(ef, want);
  gesta_safetensors_read(ei, want_idx);
  for (int k = 0; k < c->frames; k++) {
    if ((float)idx[k] != want_idx[k]) {
      printf("FAIL %s: frame %d is video frame %lld, the seed's %g\n", c->name,
             k, (long long)idx[k], want_idx[k]);
      goto done;
    }
  }
  double max_diff = 0, sum = 0;
  for (size_t i = 0; i < count; i++) {
    double d = fabs((double)got[i] - want[i]);
    max_diff = fmax(max_diff, d);
    sum += d;
  }
  double mean = sum / (double)count;
  if (c->exact)
    ok = max_diff <= 1e-6;
  else
    ok = max_diff <= KF_JPEG_MAX_DIFF && mean <= KF_JPEG_MEAN_DIFF;
  printf("%s %s: %d frames of %lld, indices as the seed's; pixels max "
         "|diff| %.2f/255, mean %.3f/255 (%s)\n",
         ok ? "ok" : "FAIL", c->name, c->frames, (long long)stats.frame_count,
         max_diff * 255, mean * 255,
         c->exact ? "must be exact" : "decoders differ");
done:
  gesta_safetensors_close(g);
  free(got);
  free(want);
  return ok;
}
#endif

int main(void) {
#if GESTA_HAVE_GSTREAMER
  gesta_context ctx;
  gesta_context_init(&ctx);
  int passed = 0, failed = 0;
  for (size_t i = 0; i < sizeof kf_cases / sizeof kf_cases[0]; i++) {
    if (kf_case_run(&ctx, &kf_cases[i]))
      passed++;
    else
      failed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
#else
  printf("this gesta was built without GStreamer (GESTA_GSTREAMER=OFF): no "
         "video to compare\n0 passed, 0 failed, 1 skipped\n");
  return 0;
#endif
}
