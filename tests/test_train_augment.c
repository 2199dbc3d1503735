/* gesta train's augmentation (tools/train_augment.c, train_data.c): a
 * sample drawn with --augment-mirror is, pixel for pixel, the sample the
 * same seed draws without it, mirrored left-right or left alone; about half
 * are mirrored; a mirrored sample's target is the class --mirror-swap pairs
 * with its own; --mirror-swap's pairs are checked against the model's
 * classes. */
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
#include "train_run.h"

#define TA_FRAMES 3
#define TA_H 6
#define TA_W 7
#define TA_C 3
#define TA_FRAME (TA_H * TA_W * TA_C)
#define TA_CLIP (TA_FRAMES * TA_FRAME)
#define TA_DRAWS 200

static const char *const ta_classes[] = {"WalkLeft", "WalkRight", "Jump"};

/* A cache of one training clip per class, with values that differ pixel
 * by pixel so that any wrong move shows. */
static gesta_clipcache *ta_cache(void) {
  char path[512], command[1100];
  mkdir(GESTA_TEST_TMP, 0777);
  snprintf(path, sizeof path, "%s/train-augment.clips", GESTA_TEST_TMP);
  snprintf(command, sizeof command, "rm -f '%s'", path);
  assert_int_equal(system(command), 0);
  gesta_preprocess pp = {
      TA_H,     TA_W, GESTA_CHANNELS_BGR, 1.0 / 255.0, GESTA_SAMPLING_UNIFORM,
      TA_FRAMES};
  int64_t in[4] = {TA_FRAMES, TA_H, TA_W, TA_C};
  gesta_clipcache_writer *w = NULL;
  gesta_error err;
  uint8_t px[TA_CLIP];
  assert_int_equal(gesta_clipcache_writer_new(path, &pp, GESTA_CLIP_U8, "m",
                                              gesta_shape_make(4, in),
                                              ta_classes, 3, &w, &err),
                   GESTA_STATUS_OK);
  for (int c = 0; c < 3; c++) {
    for (int i = 0; i < TA_CLIP; i++)
      px[i] = (uint8_t)(i * 37 + c * 11 + 5);
    assert_int_equal(gesta_clipcache_writer_add(w, px, c, GESTA_SPLIT_TRAIN,
                                                ta_classes[c], &err),
                     GESTA_STATUS_OK);
  }
  assert_int_equal(gesta_clipcache_writer_finish(w, &err), GESTA_STATUS_OK);
  gesta_clipcache *cache = NULL;
  assert_int_equal(gesta_clipcache_open(path, &cache, &err), GESTA_STATUS_OK);
  return cache;
}

static int64_t ta_train[3] = {0, 1, 2};

static void ta_data(train_data *d, gesta_clipcache *cache, bool mirror,
                    int *map) {
  memset(d, 0, sizeof *d);
  d->cache = cache;
  d->frames = TA_FRAMES;
  d->n_classes = 3;
  d->train = ta_train;
  d->n_train = 3;
  d->sample_floats = TA_CLIP;
  d->seed = 5;
  d->augment = true;
  d->aug_time = 1;
  d->aug_mirror = mirror;
  d->mirror_label = map;
  d->scratch = malloc(TA_FRAME * sizeof(float));
  assert_non_null(d->scratch);
}

static void ta_mirror_matches_plain_draw(void **state) {
  (void)state;
  gesta_clipcache *cache = ta_cache();
  gesta_error err;
  train_data plain, mirrored;
  ta_data(&plain, cache, false, NULL);
  ta_data(&mirrored, cache, true, NULL);
  static float original[TA_CLIP], a[TA_CLIP], b[TA_CLIP];
  assert_int_equal(gesta_clipcache_read(cache, 0, original, &err),
                   GESTA_STATUS_OK);
  int flips = 0, changed = 0;
  for (uint64_t s = 0; s < TA_DRAWS; s++) {
    uint64_t seed = train_augment_seed(7, 1, (int64_t)s);
    memcpy(a, original, sizeof a);
    memcpy(b, original, sizeof b);
    assert_false(train_augment_sample(&plain, a, seed));
    bool flipped = train_augment_sample(&mirrored, b, seed);
    flips += flipped;
    changed += memcmp(a, original, sizeof a) != 0;
    for (int f = 0; f < TA_FRAMES; f++)
      for (int y = 0; y < TA_H; y++)
        for (int x = 0; x < TA_W; x++)
          for (int c = 0; c < TA_C; c++) {
            int xm = flipped ? TA_W - 1 - x : x;
            float want = a[((f * TA_H + y) * TA_W + xm) * TA_C + c];
            float got = b[((f * TA_H + y) * TA_W + x) * TA_C + c];
            if (want != got)
              fail_msg("draw %d frame %d (%d, %d, %d): %g, want %g%s", (int)s,
                       f, y, x, c, (double)got, (double)want,
                       flipped ? " (mirrored)" : "");
          }
  }
  /* 200 fair coin tosses land within 70..130 heads but for odds of 1e-5. */
  assert_in_range(flips, 70, 130);
  assert_int_equal(changed, TA_DRAWS);
  free(plain.scratch);
  free(mirrored.scratch);
  gesta_clipcache_close(cache);
}

static void ta_mirror_swaps_targets(void **state) {
  (void)state;
  gesta_clipcache *cache = ta_cache();
  gesta_error err;
  int map[3] = {1, 0, 2};
  train_data d;
  ta_data(&d, cache, true, map);
  static float input[TA_CLIP], again[TA_CLIP];
  float target[3];
  int swapped = 0, kept = 0;
  for (int64_t pos = 0; pos < 60; pos++) {
    int64_t s = pos % 3;
    assert_int_equal(train_data_fill(&d, s, 2, pos, input, target, &err),
                     GESTA_STATUS_OK);
    assert_int_equal(gesta_clipcache_read(cache, s, again, &err),
                     GESTA_STATUS_OK);
    bool flipped =
        train_augment_sample(&d, again, train_augment_seed(d.seed, 2, pos));
    assert_memory_equal(input, again, sizeof input);
    int want = flipped ? map[s] : (int)s;
    for (int c = 0; c < 3; c++)
      assert_true(target[c] == (c == want ? 1.0f : 0.0f));
    swapped += flipped && s < 2;
    kept += flipped && s == 2;
  }
  assert_true(swapped > 0 && kept > 0);
  free(d.scratch);
  gesta_clipcache_close(cache);
}

static void ta_swap_spec(void **state) {
  (void)state;
  char *classes[] = {"WalkLeft", "WalkRight", "Jump", "Sit"};
  gesta_model model;
  memset(&model, 0, sizeof model);
  snprintf(model.name, sizeof model.name, "m");
  model.classes = classes;
  model.n_classes = 4;
  int map[4];
  gesta_error err;
  assert_int_equal(train_mirror_labels("WalkLeft:WalkRight", &model, map, &err),
                   GESTA_STATUS_OK);
  assert_int_equal(map[0], 1);
  assert_int_equal(map[1], 0);
  assert_int_equal(map[2], 2);
  assert_int_equal(map[3], 3);
  assert_int_equal(
      train_mirror_labels("WalkRight:WalkLeft,Jump:Sit", &model, map, &err),
      GESTA_STATUS_OK);
  assert_int_equal(map[2], 3);
  assert_int_equal(map[3], 2);
  assert_int_equal(train_mirror_labels("", &model, map, &err), GESTA_STATUS_OK);
  assert_int_equal(map[0], 0);
  static const char *const bad[][2] = {
      {"WalkLeft", "not a pair"},
      {"WalkLeft:Walk", "'Walk' is not one of m's classes"},
      {"Walk:WalkRight", "'Walk' is not one of m's classes"},
      {"WalkLeft:WalkLeft", "one pair of two different"},
      {"WalkLeft:WalkRight,Jump:WalkLeft", "one pair of two different"},
      {"WalkLeft:WalkRight,", NULL}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    gesta_status st = train_mirror_labels(bad[i][0], &model, map, &err);
    if (!bad[i][1]) {
      assert_int_equal(st, GESTA_STATUS_OK);
      continue;
    }
    assert_int_equal(st, GESTA_STATUS_BAD_INPUT);
    if (!strstr(err.message, bad[i][1]))
      fail_msg("'%s': message '%s' lacks '%s'", bad[i][0], err.message,
               bad[i][1]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ta_mirror_matches_plain_draw),
      cmocka_unit_test(ta_mirror_swaps_targets),
      cmocka_unit_test(ta_swap_spec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
