/* Model weights: save and load round trip, missing / extra / mis-shaped
 * tensors refused without touching the loaded weights, and Keras-style
 * initialisation checked against its definition. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "gesta/gesta.h"

/* conv1.kernel (3, 3, 3, 16), conv1.bias (16,), bn.* (16,),
 * lstm.kernel (16, 28), lstm.recurrent_kernel (7, 28), lstm.bias (28,),
 * out.kernel (7, 2), out.bias (2,). */
static const char tiny_yaml[] =
    "gesta: 1\n"
    "name: tiny\n"
    "classes: [a, b]\n"
    "input: {name: frames, shape: [4, 6, 6, 3]}\n"
    "layers:\n"
    "  - {name: conv1, op: conv2d, filters: 16, kernel: 3, time_distributed: "
    "true}\n"
    "  - {name: bn, op: batch_norm, time_distributed: true}\n"
    "  - {name: gap, op: global_avg_pool2d, time_distributed: true}\n"
    "  - {name: lstm, op: lstm, units: 7}\n"
    "  - {name: out, op: dense, units: 2, activation: softmax}\n";

static gesta_model *load_tiny(void) {
  gesta_context ctx;
  gesta_context_init(&ctx);
  gesta_model *model = NULL;
  gesta_error err;
  gesta_error_clear(&err);
  gesta_status s = gesta_model_load_string(
      &ctx, tiny_yaml, sizeof tiny_yaml - 1, "tiny.yaml", NULL, &model, &err);
  if (s != GESTA_STATUS_OK) {
    fail_msg("loading the test model failed: %s", err.message);
  }
  assert_int_equal(model->n_params, 11);
  return model;
}

static const gesta_param *param(const gesta_model *model, const char *name) {
  for (int i = 0; i < model->n_params; i++) {
    if (strcmp(model->params[i].name, name) == 0) {
      return &model->params[i];
    }
  }
  fail_msg("the model has no parameter '%s'", name);
  return NULL;
}

static size_t param_bytes(const gesta_param *p) {
  return (size_t)gesta_shape_count(&p->spec.shape) * sizeof(float);
}

static void tmp_path(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/w_%s.safetensors", GESTA_TEST_TMP, name);
}

static void expect_message(const gesta_error *err, const char *fragment) {
  if (!strstr(err->message, fragment)) {
    fail_msg("expected '%s' in: %s", fragment, err->message);
  }
}

static void test_save_load_round_trip(void **state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "round_trip");
  gesta_model *a = load_tiny(), *b = load_tiny();
  gesta_error err;
  assert_false(gesta_model_has_weights(a));
  assert_int_equal(gesta_model_save_weights(a, path, &err),
                   GESTA_STATUS_BAD_INPUT);
  expect_message(&err, "'conv1.kernel' has no values");

  assert_int_equal(gesta_model_init_weights(a, 5, &err), GESTA_STATUS_OK);
  assert_true(gesta_model_has_weights(a));
  assert_int_equal(gesta_model_save_weights(a, path, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_model_init_weights(b, 6, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_model_load_weights(b, path, &err), GESTA_STATUS_OK);
  for (int i = 0; i < a->n_params; i++) {
    assert_string_equal(a->params[i].name, b->params[i].name);
    assert_memory_equal(a->params[i].data, b->params[i].data,
                        param_bytes(&a->params[i]));
  }

  gesta_safetensors *file = NULL;
  assert_int_equal(gesta_safetensors_open(path, &file, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_safetensors_count(file), a->n_params);
  assert_string_equal(gesta_safetensors_metadata(file, "format"), "gesta");
  assert_string_equal(gesta_safetensors_metadata(file, "model"), "tiny");
  gesta_safetensors_close(file);
  gesta_model_free(a);
  gesta_model_free(b);
}

/* Writes the model's parameters, with `drop` left out, `reshape` given a
 * different shape and n_extra tensors the model lacks (extra.0, ...). */
static void write_variant(const gesta_model *model, const char *path,
                          const char *drop, const char *reshape, int n_extra) {
  gesta_named_tensor t[24];
  char names[8][32];
  int n = 0;
  static float pool[4096];
  for (int i = 0; i < model->n_params; i++) {
    const gesta_param *p = &model->params[i];
    if (drop && strcmp(p->name, drop) == 0) {
      continue;
    }
    t[n].name = p->name;
    t[n].shape = p->spec.shape;
    t[n].data = pool;
    if (reshape && strcmp(p->name, reshape) == 0) {
      t[n].shape.dims[t[n].shape.rank - 1] /= 2;
    }
    assert_true(gesta_shape_count(&t[n].shape) <= 4096);
    n++;
  }
  int64_t dims[] = {3};
  for (int i = 0; i < n_extra && i < 8; i++) {
    snprintf(names[i], sizeof names[i], "extra.%d", i);
    t[n++] = (gesta_named_tensor){names[i], gesta_shape_make(1, dims), pool};
  }
  gesta_error err;
  assert_int_equal(gesta_safetensors_write(path, t, n, NULL, 0, &err),
                   GESTA_STATUS_OK);
}

/* Loads path into a model with seed-1 weights; the load must fail with
 * status and every fragment in the message, leaving the weights alone. */
static void expect_load_fails(const char *path, gesta_status status,
                              const char *fragment1, const char *fragment2,
                              const char *fragment3) {
  gesta_model *model = load_tiny();
  gesta_error err;
  assert_int_equal(gesta_model_init_weights(model, 1, &err), GESTA_STATUS_OK);
  float *before_ptr[16], *before[16];
  for (int i = 0; i < model->n_params; i++) {
    before_ptr[i] = model->params[i].data;
    before[i] = malloc(param_bytes(&model->params[i]));
    assert_non_null(before[i]);
    memcpy(before[i], model->params[i].data, param_bytes(&model->params[i]));
  }
  gesta_error_clear(&err);
  assert_int_equal(gesta_model_load_weights(model, path, &err), status);
  const char *fragments[] = {path, fragment1, fragment2, fragment3};
  for (int i = 0; i < 4; i++) {
    if (fragments[i]) {
      expect_message(&err, fragments[i]);
    }
  }
  for (int i = 0; i < model->n_params; i++) {
    assert_ptr_equal(model->params[i].data, before_ptr[i]);
    assert_memory_equal(model->params[i].data, before[i],
                        param_bytes(&model->params[i]));
    free(before[i]);
  }
  gesta_model_free(model);
}

static void test_load_errors(void **state) {
  (void)state;
  char path[512];
  gesta_model *model = load_tiny();

  tmp_path(path, sizeof path, "missing");
  write_variant(model, path, "conv1.kernel", NULL, 0);
  expect_load_fails(path, GESTA_STATUS_BAD_INPUT, "no tensor 'conv1.kernel'",
                    "(expected shape (3, 3, 3, 16))", NULL);

  tmp_path(path, sizeof path, "extra");
  write_variant(model, path, NULL, NULL, 1);
  expect_load_fails(path, GESTA_STATUS_BAD_INPUT,
                    "1 tensor the model 'tiny' does not have", "'extra.0'",
                    NULL);
  tmp_path(path, sizeof path, "extras");
  write_variant(model, path, NULL, NULL, 5);
  expect_load_fails(path, GESTA_STATUS_BAD_INPUT,
                    "5 tensors the model 'tiny' does not have",
                    "'extra.0', 'extra.1', 'extra.2' and 2 more", NULL);

  tmp_path(path, sizeof path, "misshaped");
  write_variant(model, path, NULL, "conv1.kernel", 0);
  expect_load_fails(path, GESTA_STATUS_BAD_INPUT, "tensor 'conv1.kernel'",
                    "has shape (3, 3, 3, 8)",
                    "the model expects (3, 3, 3, 16)");

  tmp_path(path, sizeof path, "misshaped_bias");
  write_variant(model, path, NULL, "lstm.bias", 0);
  expect_load_fails(path, GESTA_STATUS_BAD_INPUT, "tensor 'lstm.bias'",
                    "has shape (14,)", "the model expects (28,)");

  tmp_path(path, sizeof path, "corrupt");
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs("garbage", f);
  fclose(f);
  expect_load_fails(path, GESTA_STATUS_BAD_INPUT, "not a safetensors file",
                    NULL, NULL);

  tmp_path(path, sizeof path, "nonexistent");
  remove(path);
  expect_load_fails(path, GESTA_STATUS_IO_ERROR, "cannot open", NULL, NULL);
  gesta_model_free(model);
}

static void test_init_is_seeded(void **state) {
  (void)state;
  gesta_model *a = load_tiny(), *b = load_tiny();
  gesta_error err;
  assert_int_equal(gesta_model_init_weights(a, 42, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_model_init_weights(b, 42, &err), GESTA_STATUS_OK);
  for (int i = 0; i < a->n_params; i++) {
    assert_memory_equal(a->params[i].data, b->params[i].data,
                        param_bytes(&a->params[i]));
  }
  assert_int_equal(gesta_model_init_weights(b, 43, &err), GESTA_STATUS_OK);
  const char *random[] = {"conv1.kernel", "lstm.kernel",
                          "lstm.recurrent_kernel", "out.kernel"};
  for (int i = 0; i < 4; i++) {
    const gesta_param *pa = param(a, random[i]), *pb = param(b, random[i]);
    assert_memory_not_equal(pa->data, pb->data, param_bytes(pa));
  }
  gesta_model_free(a);
  gesta_model_free(b);
}

static void test_init_glorot_uniform(void **state) {
  (void)state;
  gesta_model *model = load_tiny();
  gesta_error err;
  assert_int_equal(gesta_model_init_weights(model, 7, &err), GESTA_STATUS_OK);
  /* (name, fan_in, fan_out) from Keras' compute_fans. */
  const struct {
    const char *name;
    double fan_in, fan_out;
  } kernels[] = {{"conv1.kernel", 3 * 3 * 3, 3 * 3 * 16},
                 {"lstm.kernel", 16, 28},
                 {"out.kernel", 7, 2}};
  double sum = 0, sum_sq = 0;
  int64_t n = 0;
  for (int k = 0; k < 3; k++) {
    const gesta_param *p = param(model, kernels[k].name);
    assert_int_equal(p->spec.init, GESTA_INIT_GLOROT_UNIFORM);
    double limit = sqrt(6.0 / (kernels[k].fan_in + kernels[k].fan_out));
    int64_t count = gesta_shape_count(&p->spec.shape);
    for (int64_t i = 0; i < count; i++) {
      double v = p->data[i];
      assert_true(fabs(v) <= limit);
      sum += v / limit;
      sum_sq += (v / limit) * (v / limit);
      n++;
    }
  }
  /* Uniform on [-1, 1]: mean 0, variance 1/3 (limit^2 / 3 unscaled). */
  double mean = sum / (double)n, var = sum_sq / (double)n - mean * mean;
  assert_true(fabs(mean) < 0.05);
  assert_true(fabs(var - 1.0 / 3.0) < 0.04);
  gesta_model_free(model);
}

static void assert_orthonormal_rows(const float *w, int64_t rows,
                                    int64_t cols) {
  for (int64_t i = 0; i < rows; i++) {
    for (int64_t j = 0; j < rows; j++) {
      double dot = 0;
      for (int64_t k = 0; k < cols; k++) {
        dot += (double)w[i * cols + k] * w[j * cols + k];
      }
      assert_true(fabs(dot - (i == j ? 1.0 : 0.0)) < 1e-5);
    }
  }
}

static void assert_orthonormal_cols(const float *w, int64_t rows,
                                    int64_t cols) {
  for (int64_t i = 0; i < cols; i++) {
    for (int64_t j = 0; j < cols; j++) {
      double dot = 0;
      for (int64_t k = 0; k < rows; k++) {
        dot += (double)w[k * cols + i] * w[k * cols + j];
      }
      assert_true(fabs(dot - (i == j ? 1.0 : 0.0)) < 1e-5);
    }
  }
}

static void test_init_fixed_values(void **state) {
  (void)state;
  gesta_model *model = load_tiny();
  gesta_error err;
  assert_int_equal(gesta_model_init_weights(model, 3, &err), GESTA_STATUS_OK);

  const gesta_param *rk = param(model, "lstm.recurrent_kernel");
  assert_int_equal(rk->spec.init, GESTA_INIT_ORTHOGONAL);
  assert_int_equal(rk->spec.shape.dims[0], 7);
  assert_int_equal(rk->spec.shape.dims[1], 28);
  assert_orthonormal_rows(rk->data, 7, 28);

  const gesta_param *bias = param(model, "lstm.bias");
  assert_int_equal(bias->spec.shape.dims[0], 28);
  for (int i = 0; i < 28; i++) {
    assert_true(bias->data[i] == (i >= 7 && i < 14 ? 1.0f : 0.0f));
  }
  const char *ones[] = {"bn.gamma", "bn.moving_variance"};
  const char *zeros[] = {"bn.beta", "bn.moving_mean", "conv1.bias", "out.bias"};
  for (int k = 0; k < 2; k++) {
    const gesta_param *p = param(model, ones[k]);
    for (int64_t i = 0; i < gesta_shape_count(&p->spec.shape); i++) {
      assert_true(p->data[i] == 1.0f);
    }
  }
  for (int k = 0; k < 4; k++) {
    const gesta_param *p = param(model, zeros[k]);
    for (int64_t i = 0; i < gesta_shape_count(&p->spec.shape); i++) {
      assert_true(p->data[i] == 0.0f);
    }
  }
  gesta_model_free(model);
}

/* Orthogonal on shapes no bundled op declares: tall, square and a
 * convolution-like kernel flattened to (kh*kw*in, out). Only params are
 * touched by init, so a bare model holding them is enough. */
static void test_init_orthogonal_shapes(void **state) {
  (void)state;
  static const int64_t tall[] = {28, 7}, square[] = {9, 9},
                       conv[] = {3, 3, 4, 5}, wide[] = {2, 3, 20};
  const int64_t *dims[] = {tall, square, conv, wide};
  const int ranks[] = {2, 2, 4, 3};
  gesta_model model;
  gesta_param params[4];
  memset(&model, 0, sizeof model);
  memset(params, 0, sizeof params);
  for (int i = 0; i < 4; i++) {
    snprintf(params[i].name, sizeof params[i].name, "p%d.kernel", i);
    params[i].spec.shape = gesta_shape_make(ranks[i], dims[i]);
    params[i].spec.init = GESTA_INIT_ORTHOGONAL;
  }
  model.params = params;
  model.n_params = 4;
  gesta_error err;
  assert_int_equal(gesta_model_init_weights(&model, 11, &err), GESTA_STATUS_OK);
  assert_orthonormal_cols(params[0].data, 28, 7);
  assert_orthonormal_cols(params[1].data, 9, 9);
  assert_orthonormal_rows(params[1].data, 9, 9);
  assert_orthonormal_cols(params[2].data, 36, 5);
  assert_orthonormal_rows(params[3].data, 6, 20);

  /* A rank-1 orthogonal parameter is a bug in an op, reported, and the
   * weights already there stay. */
  float *kept = params[0].data;
  params[1].spec.shape = gesta_shape_make(1, square);
  assert_int_equal(gesta_model_init_weights(&model, 11, &err),
                   GESTA_STATUS_INTERNAL);
  expect_message(&err, "p1.kernel");
  assert_ptr_equal(params[0].data, kept);
  for (int i = 0; i < 4; i++) {
    free(params[i].data);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_save_load_round_trip),
      cmocka_unit_test(test_load_errors),
      cmocka_unit_test(test_init_is_seeded),
      cmocka_unit_test(test_init_glorot_uniform),
      cmocka_unit_test(test_init_fixed_values),
      cmocka_unit_test(test_init_orthogonal_shapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
