/* Clip caches and dataset folders: a written cache reads back the clips,
 * labels, splits, sources and classes it was given, its floats are exactly
 * pixel * scale (gesta_preprocess_frame's values); every truncation, a
 * wrong magic, a newer version and damaged tables are refused with a
 * message; a model is checked against the cache. With GStreamer: listing
 * folders, classInd.txt and the lists, and the seeded random split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdio.h>
#include <sys/stat.h>

#include "gesta/clipcache.h"
#include "gesta/gesta.h"
#if GESTA_HAVE_GSTREAMER
#include "gesta/dataset.h"
#endif

#define DT_FRAMES 3
#define DT_H 4
#define DT_W 5
#define DT_CLIP (DT_FRAMES * DT_H * DT_W * 3)

static const char *const dt_classes[] = {"Walk", "Run", "Jump"};

/* A fresh path under the test folder: what an earlier run left there is
 * removed first, so every run starts from the same state. */
static void dt_path(char *buf, size_t n, const char *name) {
  char command[1100];
  mkdir(GESTA_TEST_TMP, 0777);
  snprintf(buf, n, "%s/dataset-%s", GESTA_TEST_TMP, name);
  snprintf(command, sizeof command, "rm -rf '%s'", buf);
  assert_int_equal(system(command), 0);
}

static gesta_preprocess dt_pp(void) {
  gesta_preprocess pp = {
      DT_H,     DT_W, GESTA_CHANNELS_BGR, 1.0 / 255.0, GESTA_SAMPLING_UNIFORM,
      DT_FRAMES};
  return pp;
}

static void dt_write(const char *path, gesta_clip_dtype dtype, int clips) {
  gesta_preprocess pp = dt_pp();
  gesta_clipcache_writer *w = NULL;
  gesta_error err;
  int64_t in[4] = {DT_FRAMES, DT_H, DT_W, 3};
  uint8_t px[DT_CLIP];
  char src[64];
  assert_int_equal(gesta_clipcache_writer_new(path, &pp, dtype, "m",
                                              gesta_shape_make(4, in),
                                              dt_classes, 3, &w, &err),
                   GESTA_STATUS_OK);
  for (int c = 0; c < clips; c++) {
    for (int i = 0; i < DT_CLIP; i++)
      px[i] = (uint8_t)(i * 7 + c * 31);
    snprintf(src, sizeof src, "%s/v_%d.avi", dt_classes[c % 3], c);
    assert_int_equal(gesta_clipcache_writer_add(
                         w, px, c % 3, (gesta_split)(c % 3), src, &err),
                     GESTA_STATUS_OK);
  }
  assert_int_equal(gesta_clipcache_writer_finish(w, &err), GESTA_STATUS_OK);
}

static void dt_round_trip(gesta_clip_dtype dtype) {
  char path[512];
  gesta_clipcache *c = NULL;
  gesta_error err;
  float clip[DT_CLIP], frame[DT_H * DT_W * 3];
  dt_path(path, sizeof path, dtype == GESTA_CLIP_U8 ? "u8.clips" : "f.clips");
  dt_write(path, dtype, 5);
  assert_int_equal(gesta_clipcache_open(path, &c, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_clipcache_count(c), 5);
  assert_int_equal(gesta_clipcache_split_count(c, GESTA_SPLIT_TRAIN), 2);
  assert_int_equal(gesta_clipcache_split_count(c, GESTA_SPLIT_VAL), 2);
  assert_int_equal(gesta_clipcache_split_count(c, GESTA_SPLIT_TEST), 1);
  assert_int_equal(gesta_clipcache_class_count(c), 3);
  assert_string_equal(gesta_clipcache_class_name(c, 1), "Run");
  assert_null(gesta_clipcache_class_name(c, 3));
  assert_string_equal(gesta_clipcache_model_name(c), "m");
  gesta_shape s = gesta_clipcache_clip_shape(c);
  assert_int_equal(s.rank, 4);
  assert_int_equal(s.dims[0], DT_FRAMES);
  assert_int_equal(s.dims[3], 3);
  assert_int_equal(gesta_clipcache_clip_floats(c), DT_CLIP);
  for (int i = 0; i < 5; i++) {
    char src[64];
    snprintf(src, sizeof src, "%s/v_%d.avi", dt_classes[i % 3], i);
    assert_int_equal(gesta_clipcache_label(c, i), i % 3);
    assert_int_equal(gesta_clipcache_split(c, i), i % 3);
    assert_string_equal(gesta_clipcache_source(c, i), src);
    assert_int_equal(gesta_clipcache_read(c, i, clip, &err), GESTA_STATUS_OK);
    for (int k = 0; k < DT_CLIP; k++) {
      uint8_t v = (uint8_t)(k * 7 + i * 31);
      assert_true(clip[k] == (float)((double)v * (1.0 / 255.0)));
    }
    assert_int_equal(gesta_clipcache_read_frame(c, i, 2, frame, &err),
                     GESTA_STATUS_OK);
    assert_memory_equal(frame, clip + 2 * DT_H * DT_W * 3, sizeof frame);
  }
  assert_int_equal(gesta_clipcache_read(c, 5, clip, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_int_equal(gesta_clipcache_label(c, -1), -1);
  assert_null(gesta_clipcache_source(c, 9));
  gesta_clipcache_close(c);
}

static void test_round_trip_u8(void **state) {
  (void)state;
  dt_round_trip(GESTA_CLIP_U8);
}

static void test_round_trip_f32(void **state) {
  (void)state;
  dt_round_trip(GESTA_CLIP_F32);
}

static unsigned char *dt_slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc(*n);
  assert_int_equal(fread(p, 1, *n, f), *n);
  fclose(f);
  return p;
}

static void dt_spit(const char *path, const unsigned char *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

static void dt_expect_refused(const char *path, const char *words) {
  gesta_clipcache *c = NULL;
  gesta_error err;
  gesta_error_clear(&err);
  assert_int_equal(gesta_clipcache_open(path, &c, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_null(c);
  if (words && !strstr(err.message, words))
    fail_msg("'%s' not in: %s", words, err.message);
}

static void test_every_truncation_refused(void **state) {
  (void)state;
  char path[512], cut[512];
  size_t n;
  dt_path(path, sizeof path, "whole.clips");
  dt_path(cut, sizeof cut, "cut.clips");
  dt_write(path, GESTA_CLIP_U8, 4);
  unsigned char *p = dt_slurp(path, &n);
  for (size_t len = 0; len < n; len++) {
    dt_spit(cut, p, len);
    dt_expect_refused(cut, "rebuild it");
  }
  /* Trailing bytes too. */
  unsigned char *q = malloc(n + 1);
  memcpy(q, p, n);
  q[n] = 0;
  dt_spit(cut, q, n + 1);
  dt_expect_refused(cut, "trailing bytes");
  free(q);
  free(p);
}

static void test_damaged_headers_refused(void **state) {
  (void)state;
  char path[512], bad[512];
  size_t n;
  dt_path(path, sizeof path, "whole2.clips");
  dt_path(bad, sizeof bad, "bad.clips");
  dt_write(path, GESTA_CLIP_U8, 3);
  unsigned char *p = dt_slurp(path, &n);
  unsigned char *q = malloc(n);

  memcpy(q, p, n);
  q[0] = 'X';
  dt_spit(bad, q, n);
  dt_expect_refused(bad, "wrong magic");

  memcpy(q, p, n);
  q[8] = 2; /* version */
  dt_spit(bad, q, n);
  dt_expect_refused(bad, "format version 2");

  /* Every single header byte flipped: refused or still consistent, never
   * a crash (ASan watches the reads). */
  for (size_t i = 8; i < 256; i++) {
    gesta_clipcache *c = NULL;
    gesta_error err;
    memcpy(q, p, n);
    q[i] ^= 0x5a;
    dt_spit(bad, q, n);
    if (gesta_clipcache_open(bad, &c, &err) == GESTA_STATUS_OK) {
      float clip[4096];
      if (gesta_clipcache_clip_floats(c) <= 4096)
        for (int64_t k = 0; k < gesta_clipcache_count(c); k++)
          gesta_clipcache_read(c, k, clip, &err);
      gesta_clipcache_close(c);
    }
  }
  /* A label beyond the classes, in the table after the clips. */
  memcpy(q, p, n);
  q[256 + 3 * DT_CLIP] = 9;
  dt_spit(bad, q, n);
  dt_expect_refused(bad, "bad record for clip 0");
  free(q);
  free(p);
}

static void test_check_model(void **state) {
  (void)state;
  char path[512];
  gesta_context ctx;
  gesta_model *m = NULL;
  gesta_clipcache *c = NULL;
  gesta_error err;
  static const char clip_model[] =
      "gesta: 1\nname: t\nclasses: [Walk, Run, Jump]\n"
      "input: {name: x, shape: [3, 4, 5, 3]}\n"
      "preprocess: {size: [4, 5], channels: bgr, scale: %s, sampling: "
      "uniform, frames: 3}\n"
      "layers:\n  - {name: f, op: flatten}\n"
      "  - {name: out, op: dense, units: 3, activation: softmax}\n";
  char text[1024];
  gesta_context_init(&ctx);
  dt_path(path, sizeof path, "check.clips");
  dt_write(path, GESTA_CLIP_U8, 3);
  assert_int_equal(gesta_clipcache_open(path, &c, &err), GESTA_STATUS_OK);

  int len = snprintf(text, sizeof text, clip_model, "0.00392156862745098");
  assert_int_equal(gesta_model_load_string(&ctx, text, (size_t)len, "t.yaml",
                                           NULL, &m, &err),
                   0);
  assert_int_equal(gesta_clipcache_check_model(c, m, &err), GESTA_STATUS_OK);
  gesta_model_free(m);

  len = snprintf(text, sizeof text, clip_model, "1.0");
  assert_int_equal(gesta_model_load_string(&ctx, text, (size_t)len, "t.yaml",
                                           NULL, &m, &err),
                   0);
  assert_int_equal(gesta_clipcache_check_model(c, m, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "rebuild the cache"));
  gesta_model_free(m);

  /* Same shapes, classes in another order. */
  len = snprintf(text, sizeof text, clip_model, "0.00392156862745098");
  char *r = strstr(text, "[Walk, Run, Jump]");
  memcpy(r, "[Run, Walk, Jump]", 17);
  assert_int_equal(gesta_model_load_string(&ctx, text, (size_t)len, "t.yaml",
                                           NULL, &m, &err),
                   0);
  assert_int_equal(gesta_clipcache_check_model(c, m, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "has classes [Run, Walk, Jump]"));
  gesta_model_free(m);
  gesta_clipcache_close(c);
}

#if GESTA_HAVE_GSTREAMER
static void dt_touch(const char *dir, const char *name, const char *text) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void dt_make_folder(const char *root) {
  char p[1024];
  mkdir(root, 0777);
  for (int c = 0; c < 3; c++) {
    snprintf(p, sizeof p, "%s/%s", root, dt_classes[c]);
    mkdir(p, 0777);
    for (int v = 0; v < 4; v++) {
      char name[64];
      snprintf(name, sizeof name, "%s/v_%d.avi", dt_classes[c], v);
      dt_touch(root, name, "x");
    }
  }
  dt_touch(root, "Walk/.hidden", "x");
}

static void test_folder_listing_and_splits(void **state) {
  (void)state;
  char root[512];
  gesta_context ctx;
  gesta_dataset *ds = NULL;
  gesta_dataset_options opt;
  gesta_error err;
  gesta_context_init(&ctx);
  ctx.log_level = GESTA_LOG_ERROR;
  dt_path(root, sizeof root, "ds-folder");
  dt_make_folder(root);
  gesta_dataset_options_init(&opt);
  opt.seed = 5;
  assert_int_equal(gesta_dataset_open(&ctx, root, &opt, &ds, &err), 0);
  /* Sorted folder names, hidden files ignored, 3 of 12 for testing. */
  assert_int_equal(ds->n_classes, 3);
  assert_string_equal(ds->classes[0], "Jump");
  assert_int_equal(ds->n_videos, 12);
  assert_false(ds->official);
  assert_int_equal(gesta_dataset_split_count(ds, GESTA_SPLIT_TEST), 3);
  gesta_dataset_free(ds);

  /* classInd.txt orders the classes; the lists give the split. */
  dt_touch(root, "classInd.txt", "1 Walk\n2 Run\n3 Jump\n");
  dt_touch(root, "trainlist01.txt",
           "Walk/v_0.avi 1\nWalk/v_1.avi 1\nRun/v_0.avi 2\nJump/v_0.avi 3\n");
  dt_touch(root, "testlist01.txt", "Walk/v_2.avi\nRun/v_1.avi\n");
  assert_int_equal(gesta_dataset_open(&ctx, root, &opt, &ds, &err), 0);
  assert_true(ds->official);
  assert_string_equal(ds->classes[0], "Walk");
  assert_int_equal(ds->n_videos, 6); /* the others are in no list */
  assert_int_equal(gesta_dataset_split_count(ds, GESTA_SPLIT_TEST), 2);
  gesta_dataset_free(ds);

  /* A list line naming a video that is not there. */
  dt_touch(root, "testlist01.txt", "Walk/v_9.avi\n");
  assert_int_equal(gesta_dataset_open(&ctx, root, &opt, &ds, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "testlist01.txt:1"));
  /* A class index that contradicts the folder. */
  dt_touch(root, "testlist01.txt", "Walk/v_2.avi\n");
  dt_touch(root, "trainlist01.txt", "Walk/v_0.avi 2\n");
  assert_int_equal(gesta_dataset_open(&ctx, root, &opt, &ds, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "class 2 (Run)"));
  /* classInd.txt out of order. */
  dt_touch(root, "classInd.txt", "2 Walk\n");
  assert_int_equal(gesta_dataset_open(&ctx, root, &opt, &ds, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "classInd.txt:1"));
}

static void test_random_split_seeded(void **state) {
  (void)state;
  char root[512];
  gesta_context ctx;
  gesta_dataset *a = NULL, *b = NULL, *c = NULL;
  gesta_dataset_options opt;
  gesta_error err;
  gesta_context_init(&ctx);
  dt_path(root, sizeof root, "ds-random");
  dt_make_folder(root);
  gesta_dataset_options_init(&opt);
  opt.split = GESTA_SPLIT_RANDOM;
  opt.val_fraction = 0.25;
  opt.seed = 1;
  assert_int_equal(gesta_dataset_open(&ctx, root, &opt, &a, &err), 0);
  assert_int_equal(gesta_dataset_open(&ctx, root, &opt, &b, &err), 0);
  opt.seed = 2;
  assert_int_equal(gesta_dataset_open(&ctx, root, &opt, &c, &err), 0);
  bool same_ab = true, same_ac = true;
  for (int64_t i = 0; i < a->n_videos; i++) {
    same_ab &= a->videos[i].split == b->videos[i].split;
    same_ac &= a->videos[i].split == c->videos[i].split;
  }
  assert_true(same_ab);
  assert_false(same_ac);
  assert_int_equal(gesta_dataset_split_count(a, GESTA_SPLIT_TEST), 3);
  assert_int_equal(gesta_dataset_split_count(a, GESTA_SPLIT_VAL), 2);
  gesta_dataset_free(a);
  gesta_dataset_free(b);
  gesta_dataset_free(c);
}

static void test_empty_folder(void **state) {
  (void)state;
  char root[512];
  gesta_context ctx;
  gesta_dataset *ds = NULL;
  gesta_error err;
  gesta_context_init(&ctx);
  dt_path(root, sizeof root, "ds-empty");
  mkdir(root, 0777);
  assert_int_equal(gesta_dataset_open(&ctx, root, NULL, &ds, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "no class folders"));
  char sub[600];
  snprintf(sub, sizeof sub, "%s/Walk", root);
  mkdir(sub, 0777);
  assert_int_equal(gesta_dataset_open(&ctx, root, NULL, &ds, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "no videos"));
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip_u8),
    cmocka_unit_test(test_round_trip_f32),
    cmocka_unit_test(test_every_truncation_refused),
    cmocka_unit_test(test_damaged_headers_refused),
    cmocka_unit_test(test_check_model),
#if GESTA_HAVE_GSTREAMER
    cmocka_unit_test(test_folder_listing_and_splits),
    cmocka_unit_test(test_random_split_seeded),
    cmocka_unit_test(test_empty_folder),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
