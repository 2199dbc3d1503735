/* Checkpoints: a save/load round trip restores weights, optimiser state,
 * step count and the run's state exactly (so a resumed run continues bit
 * for bit); a checkpoint from another model, a weights file, a damaged
 * state and an unwritable path are errors that leave the previous file
 * alone; the model fingerprint follows layers and shapes only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>

#include "gesta/checkpoint.h"
#include "gesta/gesta.h"

static const char ck_yaml[] =
    "gesta: 1\n"
    "name: %s\n"
    "classes: [a, b, c]\n"
    "input: {name: x, shape: [6]}\n"
    "layers:\n"
    "  - {name: fc1, op: dense, units: %d, activation: relu}\n"
    "  - {name: drop, op: dropout, rate: %s}\n"
    "  - {name: out, op: dense, units: 3, activation: softmax}\n";

static gesta_model *ck_model(const char *name, int units, const char *rate) {
  char text[1024];
  gesta_context ctx;
  gesta_model *m = NULL;
  gesta_error err;
  gesta_context_init(&ctx);
  int n = snprintf(text, sizeof text, ck_yaml, name, units, rate);
  assert_int_equal(
      gesta_model_load_string(&ctx, text, (size_t)n, "ck.yaml", NULL, &m, &err),
      GESTA_STATUS_OK);
  assert_int_equal(gesta_model_init_weights(m, 7, &err), GESTA_STATUS_OK);
  return m;
}

typedef struct ck_env {
  gesta_context ctx;
  gesta_backend *cpu;
  gesta_error err;
  char path[512];
} ck_env;

static int ck_setup(void **state) {
  ck_env *e = calloc(1, sizeof *e);
  gesta_context_init(&e->ctx);
  assert_int_equal(gesta_backend_cpu_new(&e->ctx, &e->cpu, &e->err),
                   GESTA_STATUS_OK);
  mkdir(GESTA_TEST_TMP, 0777);
  snprintf(e->path, sizeof e->path, "%s/ck-test.safetensors", GESTA_TEST_TMP);
  remove(e->path);
  *state = e;
  return 0;
}

static int ck_teardown(void **state) {
  ck_env *e = *state;
  gesta_backend_free(e->cpu);
  remove(e->path);
  free(e);
  return 0;
}

/* A few steps on fixed data. */
static void ck_steps(gesta_trainer *t, int n) {
  float x[4 * 6], y[4 * 3];
  gesta_error err;
  for (int i = 0; i < 4 * 6; i++)
    x[i] = (float)((i * 37) % 11) / 11.0f - 0.4f;
  memset(y, 0, sizeof y);
  for (int r = 0; r < 4; r++)
    y[r * 3 + r % 3] = 1;
  for (int i = 0; i < n; i++)
    assert_int_equal(gesta_trainer_step(t, x, y, NULL, &err), GESTA_STATUS_OK);
}

static void ck_params_equal(const gesta_model *a, const gesta_model *b) {
  assert_int_equal(a->n_params, b->n_params);
  for (int i = 0; i < a->n_params; i++)
    assert_memory_equal(a->params[i].data, b->params[i].data,
                        (size_t)gesta_shape_count(&a->params[i].spec.shape) *
                            sizeof(float));
}

static void test_round_trip_continues_exactly(void **state) {
  ck_env *e = *state;
  gesta_trainer_options opt;
  gesta_trainer *t1 = NULL, *t2 = NULL, *t3 = NULL;
  gesta_model *m1 = ck_model("ck", 8, "0.25"), *m2 = ck_model("ck", 8, "0.25");
  gesta_model *m3 = ck_model("ck", 8, "0.25");
  gesta_trainer_options_init(&opt);
  opt.seed = 3;
  assert_int_equal(gesta_trainer_new(m1, e->cpu, 4, &opt, &t1, &e->err), 0);
  assert_int_equal(gesta_trainer_new(m2, e->cpu, 4, &opt, &t2, &e->err), 0);
  ck_steps(t1, 10); /* uninterrupted */
  ck_steps(t2, 4);  /* interrupted after 4 */
  gesta_train_state s, back;
  gesta_train_state_init(&s);
  s.epoch = 2;
  s.batch_done = 1;
  s.sum_loss = 1.0 / 3.0;
  s.seed = 0xfedcba9876543210ull;
  s.rng[0] = 0xffffffffffffffffull;
  s.step = gesta_trainer_step_count(t2);
  snprintf(s.data, sizeof s.data, "/some/where.clips");
  s.augment = s.augment_mirror = true;
  s.augment_time = 8;
  snprintf(s.mirror_swap, sizeof s.mirror_swap, "WalkLeft:WalkRight");
  s.warmup = 5;
  gesta_history_row row = {1, 1.1, 0.5, NAN, 0.25, 0.125, 1e-3};
  assert_int_equal(gesta_train_state_add_history(&s, &row, &e->err), 0);
  assert_int_equal(gesta_trainer_download_weights(t2, m2, &e->err), 0);
  assert_int_equal(gesta_checkpoint_save(e->path, m2, t2, &s, &e->err), 0);

  /* A fresh model and trainer pick up where t2 stopped. */
  assert_int_equal(gesta_trainer_new(m3, e->cpu, 4, &opt, &t3, &e->err), 0);
  assert_int_equal(gesta_checkpoint_load(e->path, m3, t3, &back, &e->err),
                   GESTA_STATUS_OK);
  assert_int_equal(gesta_trainer_step_count(t3), 4);
  assert_int_equal(back.epoch, 2);
  assert_int_equal(back.batch_done, 1);
  assert_true(back.sum_loss == 1.0 / 3.0); /* exact, not 15 digits */
  assert_true(back.seed == 0xfedcba9876543210ull);
  assert_true(back.rng[0] == 0xffffffffffffffffull);
  assert_string_equal(back.data, "/some/where.clips");
  assert_true(back.augment && back.augment_mirror);
  assert_int_equal(back.augment_time, 8);
  assert_string_equal(back.mirror_swap, "WalkLeft:WalkRight");
  assert_int_equal(back.warmup, 5);
  assert_string_equal(back.model_name, "ck");
  assert_int_equal(back.n_history, 1);
  assert_true(isnan(back.history[0].val_loss));
  assert_true(back.history[0].loss == 1.1);
  ck_steps(t3, 6);
  assert_int_equal(gesta_trainer_download_weights(t1, m1, &e->err), 0);
  assert_int_equal(gesta_trainer_download_weights(t3, m3, &e->err), 0);
  ck_params_equal(m1, m3);

  gesta_train_state_free(&s);
  gesta_train_state_free(&back);
  gesta_trainer_free(t1);
  gesta_trainer_free(t2);
  gesta_trainer_free(t3);
  gesta_model_free(m1);
  gesta_model_free(m2);
  gesta_model_free(m3);
}

static void test_other_model_refused(void **state) {
  ck_env *e = *state;
  gesta_model *a = ck_model("a", 8, "0.25"), *b = ck_model("b", 9, "0.25");
  gesta_train_state s, back;
  gesta_train_state_init(&s);
  assert_int_equal(gesta_checkpoint_save(e->path, a, NULL, &s, &e->err), 0);
  assert_int_equal(gesta_checkpoint_load(e->path, b, NULL, &back, &e->err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(e->err.message, "made for model 'a'"));
  assert_non_null(strstr(e->err.message, "layers or shapes differ"));
  gesta_model_free(a);
  gesta_model_free(b);
}

static void test_fingerprint(void **state) {
  (void)state;
  gesta_model *a = ck_model("a", 8, "0.25"), *b = ck_model("other", 8, "0.25");
  gesta_model *c = ck_model("a", 9, "0.25"), *d = ck_model("a", 8, "0.5");
  /* The name and the weights do not count; layers, shapes and attributes
   * do. */
  assert_true(gesta_model_fingerprint(a) == gesta_model_fingerprint(b));
  assert_true(gesta_model_fingerprint(a) != gesta_model_fingerprint(c));
  assert_true(gesta_model_fingerprint(a) != gesta_model_fingerprint(d));
  gesta_model_free(a);
  gesta_model_free(b);
  gesta_model_free(c);
  gesta_model_free(d);
}

static void test_weights_file_is_not_a_checkpoint(void **state) {
  ck_env *e = *state;
  gesta_model *a = ck_model("a", 8, "0.25");
  gesta_train_state s;
  assert_int_equal(gesta_model_save_weights(a, e->path, &e->err), 0);
  assert_int_equal(gesta_checkpoint_read_state(e->path, &s, &e->err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(e->err.message, "not a training checkpoint"));
  gesta_model_free(a);
}

static void test_damaged_state(void **state) {
  ck_env *e = *state;
  gesta_model *a = ck_model("a", 8, "0.25");
  gesta_named_tensor t[8];
  for (int i = 0; i < a->n_params; i++) {
    t[i].name = a->params[i].name;
    t[i].shape = a->params[i].spec.shape;
    t[i].data = a->params[i].data;
  }
  gesta_metadata_pair meta[] = {{"gesta.checkpoint", "1"},
                                {"gesta.model", "a"},
                                {"gesta.fingerprint", "0"},
                                {"gesta.train", "{\"batch\": \"four\"}"},
                                {"gesta.history", "[]"}};
  assert_int_equal(
      gesta_safetensors_write(e->path, t, a->n_params, meta, 5, &e->err), 0);
  gesta_train_state s;
  assert_int_equal(gesta_checkpoint_read_state(e->path, &s, &e->err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(e->err.message, "missing or damaged"));
  gesta_model_free(a);
}

static void test_unwritable_keeps_previous(void **state) {
  ck_env *e = *state;
  gesta_model *a = ck_model("a", 8, "0.25");
  gesta_train_state s;
  char bad[600];
  gesta_train_state_init(&s);
  s.epoch = 1;
  assert_int_equal(gesta_checkpoint_save(e->path, a, NULL, &s, &e->err), 0);
  /* A path whose folder does not exist: the temporary file cannot be made. */
  snprintf(bad, sizeof bad, "%s/no-such-dir/ck.safetensors", GESTA_TEST_TMP);
  assert_int_equal(gesta_checkpoint_save(bad, a, NULL, &s, &e->err),
                   GESTA_STATUS_IO_ERROR);
  assert_non_null(strstr(e->err.message, "cannot save the checkpoint"));
  assert_non_null(strstr(e->err.message, "no-such-dir"));
  gesta_train_state back;
  assert_int_equal(gesta_checkpoint_read_state(e->path, &back, &e->err), 0);
  assert_int_equal(back.epoch, 1);
  gesta_train_state_free(&back);
  gesta_model_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_continues_exactly),
      cmocka_unit_test(test_other_model_refused),
      cmocka_unit_test(test_fingerprint),
      cmocka_unit_test(test_weights_file_is_not_a_checkpoint),
      cmocka_unit_test(test_damaged_state),
      cmocka_unit_test(test_unwritable_keeps_previous),
  };
  return cmocka_run_group_tests(tests, ck_setup, ck_teardown);
}
