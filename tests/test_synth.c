/* The synthetic dataset's promise, checked on frames in memory: the two
 * classes of a pair are the same frames in opposite orders (so a per-frame
 * model sees identical inputs), rendering is deterministic, and the seed,
 * group and pair all change what is drawn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gesta/synth.h"

#define FRAME_BYTES ((size_t)GESTA_SYNTH_WIDTH * GESTA_SYNTH_HEIGHT * 3)

static const gesta_synth_class drawn[] = {
    GESTA_SYNTH_RAISE_ARMS, GESTA_SYNTH_SIT_DOWN, GESTA_SYNTH_WALK_RIGHT};

static gesta_synth_clip render(uint64_t seed, int group, int clip,
                               gesta_synth_class cls) {
  gesta_synth_clip out;
  gesta_error err;
  gesta_error_clear(&err);
  if (gesta_synth_render(seed, group, clip, cls, &out, &err) != GESTA_STATUS_OK)
    fail_msg("render %s g%d c%d: %s", gesta_synth_class_name(cls), group, clip,
             err.message);
  assert_int_equal(out.width, GESTA_SYNTH_WIDTH);
  assert_int_equal(out.height, GESTA_SYNTH_HEIGHT);
  assert_in_range(out.frame_count, GESTA_SYNTH_MIN_FRAMES,
                  GESTA_SYNTH_MAX_FRAMES);
  return out;
}

static const uint8_t *frame(const gesta_synth_clip *c, int i) {
  return c->rgb + FRAME_BYTES * (size_t)i;
}

static bool same_clip(const gesta_synth_clip *a, const gesta_synth_clip *b) {
  return a->frame_count == b->frame_count &&
         memcmp(a->rgb, b->rgb, FRAME_BYTES * (size_t)a->frame_count) == 0;
}

static void test_classes(void **state) {
  static const char *const names[] = {"LowerArms", "RaiseArms", "SitDown",
                                      "StandUp",   "WalkLeft",  "WalkRight"};
  (void)state;
  for (int c = 0; c < GESTA_SYNTH_CLASS_COUNT; c++) {
    gesta_synth_class cls = (gesta_synth_class)c;
    gesta_synth_class partner = gesta_synth_class_partner(cls);
    assert_string_equal(gesta_synth_class_name(cls), names[c]);
    assert_int_not_equal(partner, cls);
    assert_int_equal(gesta_synth_class_partner(partner), cls);
    /* Exactly one of each pair is drawn, the other is its reverse. */
    assert_true(gesta_synth_class_is_drawn(cls) !=
                gesta_synth_class_is_drawn(partner));
  }
  assert_null(gesta_synth_class_name(GESTA_SYNTH_CLASS_COUNT));
  /* Alphabetical, as classInd.txt numbers them. */
  for (int c = 1; c < GESTA_SYNTH_CLASS_COUNT; c++)
    assert_true(strcmp(names[c - 1], names[c]) < 0);
}

/* Class B's frame i is class A's frame n-1-i, byte for byte. */
static void test_pairs_are_time_reverses(void **state) {
  (void)state;
  for (int p = 0; p < 3; p++)
    for (int clip = 1; clip <= 2; clip++) {
      gesta_synth_clip a = render(11, 3, clip, drawn[p]);
      gesta_synth_clip b =
          render(11, 3, clip, gesta_synth_class_partner(drawn[p]));
      int n = a.frame_count;
      assert_int_equal(b.frame_count, n);
      for (int i = 0; i < n; i++)
        assert_memory_equal(frame(&b, i), frame(&a, n - 1 - i), FRAME_BYTES);
      /* And the order does matter: the clip is not its own reverse. */
      assert_false(same_clip(&a, &b));
      gesta_synth_clip_free(&a);
      gesta_synth_clip_free(&b);
    }
}

static uint64_t frame_hash(const uint8_t *p) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  for (size_t i = 0; i < FRAME_BYTES; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* What a per-frame model sees: the same multiset of frames in both classes
 * of a pair, while the classes of different pairs share none. */
static void test_pair_frame_multisets(void **state) {
  gesta_synth_clip clips[GESTA_SYNTH_CLASS_COUNT];
  uint64_t *hashes[GESTA_SYNTH_CLASS_COUNT];
  (void)state;
  for (int c = 0; c < GESTA_SYNTH_CLASS_COUNT; c++) {
    clips[c] = render(5, 2, 1, (gesta_synth_class)c);
    hashes[c] = malloc(sizeof(uint64_t) * (size_t)clips[c].frame_count);
    assert_non_null(hashes[c]);
    for (int i = 0; i < clips[c].frame_count; i++)
      hashes[c][i] = frame_hash(frame(&clips[c], i));
    qsort(hashes[c], (size_t)clips[c].frame_count, sizeof(uint64_t),
          compare_u64);
  }
  for (int c = 0; c < GESTA_SYNTH_CLASS_COUNT; c++) {
    int partner = (int)gesta_synth_class_partner((gesta_synth_class)c);
    assert_int_equal(clips[c].frame_count, clips[partner].frame_count);
    assert_memory_equal(hashes[c], hashes[partner],
                        sizeof(uint64_t) * (size_t)clips[c].frame_count);
    for (int o = 0; o < GESTA_SYNTH_CLASS_COUNT; o++)
      if (o != c && o != partner)
        assert_false(clips[o].frame_count == clips[c].frame_count &&
                     memcmp(hashes[o], hashes[c],
                            sizeof(uint64_t) * (size_t)clips[c].frame_count) ==
                         0);
  }
  for (int c = 0; c < GESTA_SYNTH_CLASS_COUNT; c++) {
    free(hashes[c]);
    gesta_synth_clip_free(&clips[c]);
  }
}

static void test_deterministic_and_seeded(void **state) {
  gesta_synth_clip a, b, other_seed, other_group, other_clip;
  (void)state;
  a = render(42, 1, 1, GESTA_SYNTH_SIT_DOWN);
  b = render(42, 1, 1, GESTA_SYNTH_SIT_DOWN);
  other_seed = render(43, 1, 1, GESTA_SYNTH_SIT_DOWN);
  other_group = render(42, 2, 1, GESTA_SYNTH_SIT_DOWN);
  other_clip = render(42, 1, 2, GESTA_SYNTH_SIT_DOWN);
  assert_true(same_clip(&a, &b));
  assert_false(same_clip(&a, &other_seed));
  assert_false(same_clip(&a, &other_group));
  assert_false(same_clip(&a, &other_clip));
  /* Something moves: the first and last frames differ. */
  assert_memory_not_equal(frame(&a, 0), frame(&a, a.frame_count - 1),
                          FRAME_BYTES);
  gesta_synth_clip_free(&a);
  gesta_synth_clip_free(&b);
  gesta_synth_clip_free(&other_seed);
  gesta_synth_clip_free(&other_group);
  gesta_synth_clip_free(&other_clip);
}

static void test_lengths_cover_the_range(void **state) {
  int shortest = GESTA_SYNTH_MAX_FRAMES, longest = 0;
  (void)state;
  for (int clip = 1; clip <= 12; clip++) {
    gesta_synth_clip c = render(9, 1, clip, GESTA_SYNTH_WALK_RIGHT);
    shortest = c.frame_count < shortest ? c.frame_count : shortest;
    longest = c.frame_count > longest ? c.frame_count : longest;
    gesta_synth_clip_free(&c);
  }
  /* Twelve uniform draws from 40..150 spread over more than half of it. */
  assert_true(longest - shortest > 55);
}

static void test_bad_arguments(void **state) {
  gesta_synth_clip c;
  gesta_error err;
  (void)state;
  assert_int_equal(gesta_synth_render(0, 0, 1, GESTA_SYNTH_SIT_DOWN, &c, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "g0 c1"));
  assert_null(c.rgb);
  assert_int_equal(
      gesta_synth_render(0, 1, 100, GESTA_SYNTH_SIT_DOWN, &c, &err),
      GESTA_STATUS_BAD_INPUT);
  assert_int_equal(
      gesta_synth_render(0, 1, 1, GESTA_SYNTH_CLASS_COUNT, &c, &err),
      GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "class"));
  gesta_synth_clip_free(&c);
  gesta_synth_clip_free(NULL);
}

static void test_default_split(void **state) {
  gesta_synth_options opt;
  (void)state;
  gesta_synth_options_init(&opt);
  assert_int_equal(opt.videos_per_class, 96);
  assert_int_equal(opt.groups, 96);
  assert_int_equal(gesta_synth_test_groups(&opt), 27);
  opt.groups = 10;
  assert_int_equal(gesta_synth_test_groups(&opt), 3);
  opt.groups = 25;
  assert_int_equal(gesta_synth_test_groups(&opt), 7); /* UCF101's split 1 */
  opt.groups = 2;
  assert_int_equal(gesta_synth_test_groups(&opt), 1);
  opt.groups = 1;
  assert_int_equal(gesta_synth_test_groups(&opt), 0);
  opt.test_groups = 0;
  opt.groups = 10;
  assert_int_equal(gesta_synth_test_groups(&opt), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classes),
      cmocka_unit_test(test_pairs_are_time_reverses),
      cmocka_unit_test(test_pair_frame_multisets),
      cmocka_unit_test(test_deterministic_and_seeded),
      cmocka_unit_test(test_lengths_cover_the_range),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_default_split),
  };
  return cmocka_run_group_tests_name("synth", tests, NULL, NULL);
}
