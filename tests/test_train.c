/* Training: the losses against hand computation, Adam and SGD against
 * hand-computed step sequences, the trainer's gradients against finite
 * differences of its own loss, a toy problem learnt to 100 %, a scaled-down
 * LRCN whose loss falls, bit-identical weights for the same seed, the
 * gradient hook, and the errors a user can run into. */
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
#include "gesta/train.h"
#include "train_internal.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t tt_next(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double tt_uniform(uint64_t *state, double lo, double hi) {
  return lo + (hi - lo) * (double)(tt_next(state) >> 11) * 0x1.0p-53;
}

typedef struct tt_env {
  gesta_context ctx;
  gesta_backend *cpu;
  gesta_model *model;
  gesta_trainer *trainer;
  gesta_error err;
} tt_env;

static void tt_open(tt_env *e, const char *yaml, uint64_t init_seed) {
  memset(e, 0, sizeof *e);
  gesta_context_init(&e->ctx);
  e->ctx.log_level = GESTA_LOG_ERROR;
  assert_int_equal(gesta_backend_cpu_new(&e->ctx, &e->cpu, &e->err),
                   GESTA_STATUS_OK);
  if (gesta_model_load_string(&e->ctx, yaml, strlen(yaml), "t.yaml", NULL,
                              &e->model, &e->err) != GESTA_STATUS_OK)
    fail_msg("%s", e->err.message);
  assert_int_equal(gesta_model_init_weights(e->model, init_seed, &e->err),
                   GESTA_STATUS_OK);
}

static void tt_trainer(tt_env *e, int64_t batch,
                       const gesta_trainer_options *options) {
  if (gesta_trainer_new(e->model, e->cpu, batch, options, &e->trainer,
                        &e->err) != GESTA_STATUS_OK)
    fail_msg("%s", e->err.message);
}

static void tt_close(tt_env *e) {
  gesta_trainer_free(e->trainer);
  gesta_model_free(e->model);
  gesta_backend_free(e->cpu);
}

static float *tt_random(int64_t n, uint64_t *rng, double lo, double hi) {
  float *p = malloc((size_t)n * sizeof *p);
  assert_non_null(p);
  for (int64_t i = 0; i < n; i++)
    p[i] = (float)tt_uniform(rng, lo, hi);
  return p;
}

/* One-hot rows, class i % classes (or random). */
static float *tt_one_hot(int64_t rows, int64_t classes, uint64_t *rng) {
  float *y = calloc((size_t)(rows * classes), sizeof *y);
  assert_non_null(y);
  for (int64_t r = 0; r < rows; r++)
    y[r * classes +
      (rng ? (int64_t)(tt_next(rng) % (uint64_t)classes) : r % classes)] = 1;
  return y;
}

/* ---- loss --------------------------------------------------------------- */

static void test_loss_softmax_cross_entropy(void **state) {
  const float z[6] = {1, 2, 3, 1000, 0, -1000};
  const float y[6] = {0, 0, 1, 0, 1, 0};
  float g[6];
  double want0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0;
  double loss;
  (void)state;
  loss = gesta_loss_softmax_cross_entropy(z, y, 2, 3, g);
  /* Row 2: logsumexp(1000, 0, -1000) - 0 = 1000, no overflow. */
  assert_true(fabs(loss - (want0 + 1000.0) / 2.0) < 1e-9);
  for (int j = 0; j < 3; j++) {
    double p = exp(z[j]) / (exp(1.0) + exp(2.0) + exp(3.0));
    assert_true(fabs(g[j] - (p - y[j]) / 2.0) < 1e-7);
  }
  assert_true(fabs(g[3] - 0.5) < 1e-7 && fabs(g[4] + 0.5) < 1e-7 &&
              fabs(g[5]) < 1e-7);
  /* Huge logits of either sign stay finite. */
  const float big[3] = {3e38f, -3e38f, 0};
  const float yb[3] = {0, 1, 0};
  loss = gesta_loss_softmax_cross_entropy(big, yb, 1, 3, g);
  assert_true(isfinite(loss) && fabs(loss - 6e38) / 6e38 < 1e-6);
  assert_true(isfinite(g[0]) && isfinite(g[1]) && isfinite(g[2]));
}

static void test_loss_cross_entropy_on_probabilities(void **state) {
  const float p[6] = {0.2f, 0.3f, 0.5f, 0.0f, 1.0f, 0.0f};
  const float y[6] = {0, 1, 0, 1, 0, 0};
  float g[6];
  double loss;
  (void)state;
  loss = gesta_loss_cross_entropy(p, y, 2, 3, g);
  /* Row 2 puts 0 on the target: Keras clips it to 1e-7. */
  assert_true(fabs(loss - (-log(0.3) - log(1e-7)) / 2.0) < 1e-6);
  /* Row 1 against central differences of the loss itself. */
  for (int j = 0; j < 3; j++) {
    float q[3] = {p[0], p[1], p[2]};
    double lp, lm, h = 1e-3;
    q[j] = (float)(p[j] + h);
    lp = gesta_loss_cross_entropy(q, y, 1, 3, NULL);
    q[j] = (float)(p[j] - h);
    lm = gesta_loss_cross_entropy(q, y, 1, 3, NULL);
    assert_true(fabs(g[j] * 2.0 - (lp - lm) / (2 * h)) < 1e-3);
  }
  assert_int_equal(gesta_loss_count_correct(p, y, 2, 3), 0);
  const float right[3] = {0.1f, 0.7f, 0.2f};
  assert_int_equal(gesta_loss_count_correct(right, y, 1, 3), 1);
}

/* ---- optimisers --------------------------------------------------------- */

typedef struct tt_vec {
  gesta_buffer *buf;
  gesta_tensor t;
} tt_vec;

static void tt_vec_new(gesta_backend *cpu, tt_vec *v, const float *init,
                       int64_t n) {
  gesta_error err;
  assert_int_equal(gesta_buffer_new(cpu, (size_t)n * 4, &v->buf, &err),
                   GESTA_STATUS_OK);
  v->t.shape = gesta_shape_make(1, &n);
  v->t.buffer = v->buf;
  v->t.offset = 0;
  memcpy(gesta_tensor_host_data(&v->t), init, (size_t)n * 4);
}

static void test_adam_matches_hand_computation(void **state) {
  const float grads[3][3] = {
      {0.5f, -1.0f, 2.0f}, {0.1f, -0.2f, 0.0f}, {-0.3f, 4.0f, 1e-4f}};
  const float zero[3] = {0, 0, 0}, init[3] = {1.0f, -2.0f, 0.5f};
  double p[3] = {1.0, -2.0, 0.5}, m[3] = {0}, v[3] = {0};
  gesta_context ctx;
  gesta_backend *cpu;
  gesta_error err;
  gesta_optim_config oc;
  tt_vec param, grad, mv, vv;
  const gesta_train_kernels *tk;
  (void)state;
  gesta_context_init(&ctx);
  assert_int_equal(gesta_backend_cpu_new(&ctx, &cpu, &err), GESTA_STATUS_OK);
  tk = gesta_train_kernels_for(cpu);
  assert_non_null(tk);
  gesta_optim_config_adam(&oc);
  assert_true(oc.learning_rate == 1e-3 && oc.beta1 == 0.9 &&
              oc.beta2 == 0.999 && oc.epsilon == 1e-7);
  tt_vec_new(cpu, &param, init, 3);
  tt_vec_new(cpu, &grad, zero, 3);
  tt_vec_new(cpu, &mv, zero, 3);
  tt_vec_new(cpu, &vv, zero, 3);
  for (int t = 1; t <= 3; t++) {
    gesta_optim_step s = gesta_optim_step_make(&oc, t);
    double alpha = 1e-3 * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
    memcpy(gesta_tensor_host_data(&grad.t), grads[t - 1], sizeof grads[0]);
    assert_int_equal(tk->adam(&s, &param.t, &grad.t, &mv.t, &vv.t, &err),
                     GESTA_STATUS_OK);
    for (int i = 0; i < 3; i++) {
      double g = grads[t - 1][i];
      m[i] += (g - m[i]) * (1 - 0.9);
      v[i] += (g * g - v[i]) * (1 - 0.999);
      p[i] -= m[i] * alpha / (sqrt(v[i]) + 1e-7);
      assert_true(fabs(gesta_tensor_host_data(&param.t)[i] - p[i]) < 1e-6);
      assert_true(fabs(gesta_tensor_host_data(&mv.t)[i] - m[i]) < 1e-6);
      assert_true(fabs(gesta_tensor_host_data(&vv.t)[i] - v[i]) < 1e-6);
    }
  }
  /* Step 1 moves every weight with a non-zero gradient by about lr. */
  assert_true(fabs(p[0] - 1.0) > 9e-4);
  gesta_buffer_free(param.buf);
  gesta_buffer_free(grad.buf);
  gesta_buffer_free(mv.buf);
  gesta_buffer_free(vv.buf);
  gesta_backend_free(cpu);
}

static void test_sgd_momentum_matches_hand_computation(void **state) {
  const float grads[3][2] = {{1.0f, -0.5f}, {0.25f, 2.0f}, {-1.0f, 0.0f}};
  const float zero[2] = {0, 0}, init[2] = {0.3f, -0.7f};
  gesta_context ctx;
  gesta_backend *cpu;
  gesta_error err;
  gesta_optim_config oc;
  const gesta_train_kernels *tk;
  (void)state;
  gesta_context_init(&ctx);
  assert_int_equal(gesta_backend_cpu_new(&ctx, &cpu, &err), GESTA_STATUS_OK);
  tk = gesta_train_kernels_for(cpu);
  for (int nesterov = 0; nesterov < 2; nesterov++) {
    double p[2] = {0.3, -0.7}, m[2] = {0, 0};
    tt_vec param, grad, mom;
    gesta_optim_config_sgd(&oc);
    assert_true(oc.learning_rate == 0.01 && oc.momentum == 0.0);
    oc.learning_rate = 0.1;
    oc.momentum = 0.9;
    oc.nesterov = nesterov;
    tt_vec_new(cpu, &param, init, 2);
    tt_vec_new(cpu, &grad, zero, 2);
    tt_vec_new(cpu, &mom, zero, 2);
    for (int t = 1; t <= 3; t++) {
      gesta_optim_step s = gesta_optim_step_make(&oc, t);
      memcpy(gesta_tensor_host_data(&grad.t), grads[t - 1], sizeof grads[0]);
      assert_int_equal(tk->sgd(&s, &param.t, &grad.t, &mom.t, &err),
                       GESTA_STATUS_OK);
      for (int i = 0; i < 2; i++) {
        double g = grads[t - 1][i];
        m[i] = m[i] * 0.9 - g * 0.1;
        p[i] += nesterov ? m[i] * 0.9 - g * 0.1 : m[i];
        assert_true(fabs(gesta_tensor_host_data(&param.t)[i] - p[i]) < 1e-6);
      }
    }
    gesta_buffer_free(param.buf);
    gesta_buffer_free(grad.buf);
    gesta_buffer_free(mom.buf);
  }
  /* Plain SGD: param -= lr * g, no state. */
  {
    tt_vec param, grad;
    gesta_optim_step s;
    gesta_optim_config_sgd(&oc);
    s = gesta_optim_step_make(&oc, 1);
    tt_vec_new(cpu, &param, init, 2);
    tt_vec_new(cpu, &grad, grads[0], 2);
    assert_int_equal(tk->sgd(&s, &param.t, &grad.t, NULL, &err),
                     GESTA_STATUS_OK);
    assert_true(fabs(gesta_tensor_host_data(&param.t)[0] - (0.3 - 0.01)) <
                1e-7);
    gesta_buffer_free(param.buf);
    gesta_buffer_free(grad.buf);
  }
  gesta_backend_free(cpu);
}

/* ---- the trainer's gradients -------------------------------------------- */

/* A small LRCN: every op the seed's models train, with a fused softmax. */
static const char *tt_mini_lrcn =
    "gesta: 1\nname: mini\nclasses: [a, b, c]\n"
    "input: {name: x, shape: [3, 6, 6, 2]}\nlayers:\n"
    "  - {name: c1, op: conv2d, filters: 3, kernel: 3, padding: same, "
    "activation: relu, time_distributed: true}\n"
    "  - {name: d1, op: dropout, rate: 0.25, time_distributed: true}\n"
    "  - {name: p1, op: max_pool2d, pool_size: 2, time_distributed: true}\n"
    "  - {name: bn, op: batch_norm, time_distributed: true}\n"
    "  - {name: f, op: flatten, time_distributed: true}\n"
    "  - {name: l, op: lstm, units: 4}\n"
    "  - {name: out, op: dense, units: 3, activation: softmax}\n";

/* The trainer's gradient of every trainable parameter against central
 * differences of the loss gesta_trainer_compute_gradients reports (same
 * step, so the same dropout masks). */
static void tt_check_trainer_grads(const char *yaml, int64_t batch) {
  tt_env e;
  uint64_t rng = 99;
  gesta_train_stats stats;
  int64_t nx, ny;
  float *x, *y;
  int checked = 0;
  tt_open(&e, yaml, 5);
  tt_trainer(&e, batch, NULL);
  gesta_shape xs = gesta_trainer_input_shape(e.trainer);
  gesta_shape ys = gesta_trainer_output_shape(e.trainer);
  nx = gesta_shape_count(&xs);
  ny = gesta_shape_count(&ys);
  x = tt_random(nx, &rng, -1, 1);
  y = tt_one_hot(ny / ys.dims[ys.rank - 1], ys.dims[ys.rank - 1], NULL);
  assert_int_equal(
      gesta_trainer_compute_gradients(e.trainer, x, y, &stats, &e.err),
      GESTA_STATUS_OK);
  for (int i = 0; i < e.model->n_params; i++) {
    gesta_param *p = &e.model->params[i];
    int64_t n = gesta_shape_count(&p->spec.shape);
    float *g;
    if (!p->spec.trainable) {
      assert_null(gesta_trainer_grad(e.trainer, i));
      continue;
    }
    g = malloc((size_t)n * sizeof *g);
    assert_non_null(g);
    assert_int_equal(gesta_trainer_read_grad(e.trainer, i, g, &e.err),
                     GESTA_STATUS_OK);
    double scale = 0;
    for (int64_t j = 0; j < n; j++)
      scale = fmax(scale, fabs(g[j]));
    for (int64_t j = 0; j<n; j += n> 40 ? 1 + n / 20 : 1) {
      float saved = p->data[j];
      double h = 5e-3, lp, lm, lz, num;
      gesta_train_stats s;
      p->data[j] = saved + (float)h;
      gesta_trainer_upload_weights(e.trainer, e.model, &e.err);
      gesta_trainer_compute_gradients(e.trainer, x, y, &s, &e.err);
      lp = s.loss;
      p->data[j] = saved - (float)h;
      gesta_trainer_upload_weights(e.trainer, e.model, &e.err);
      gesta_trainer_compute_gradients(e.trainer, x, y, &s, &e.err);
      lm = s.loss;
      p->data[j] = saved;
      gesta_trainer_upload_weights(e.trainer, e.model, &e.err);
      gesta_trainer_compute_gradients(e.trainer, x, y, &s, &e.err);
      lz = s.loss;
      num = (lp - lm) / (2 * h);
      /* A relu or max-pool kink inside the interval: skip. */
      if (fabs((lp - lz) / h - (lz - lm) / h) > 0.2 * fabs(num) + 1e-3)
        continue;
      checked++;
      if (fabs(num - g[j]) > 1e-3 * fmax(scale, 0.01) + 3e-2 * fabs(num))
        fail_msg("%s[%lld]: trainer %.6g, differences %.6g", p->name,
                 (long long)j, g[j], num);
    }
    free(g);
  }
  print_message("%s: %d gradient elements checked\n", e.model->name, checked);
  assert_true(checked >= 15);
  free(x);
  free(y);
  tt_close(&e);
}

static void test_trainer_gradients_match_differences(void **state) {
  (void)state;
  tt_check_trainer_grads(tt_mini_lrcn, 2);
  /* A standalone softmax (logits from its input) and a sigmoid head (Keras'
   * clipped cross-entropy on probabilities). */
  tt_check_trainer_grads(
      "gesta: 1\nname: s\ninput: {name: x, shape: [5]}\n"
      "layers:\n"
      "  - {name: h, op: dense, units: 4, activation: tanh}\n"
      "  - {name: z, op: dense, units: 3}\n"
      "  - {name: p, op: softmax}\n",
      3);
  tt_check_trainer_grads("gesta: 1\nname: s\ninput: {name: x, shape: [5]}\n"
                         "layers:\n"
                         "  - {name: z, op: dense, units: 3, "
                         "activation: sigmoid}\n",
                         3);
}

/* ---- learning ----------------------------------------------------------- */

static void test_toy_problem_reaches_full_accuracy(void **state) {
  tt_env e;
  gesta_trainer_options opt;
  uint64_t rng = 7;
  const int64_t batch = 16, classes = 3, dims = 4;
  float centers[3][4];
  float x[16 * 4], y[16 * 3];
  gesta_train_stats s;
  int64_t correct = 0, total = 0;
  (void)state;
  tt_open(&e,
          "gesta: 1\nname: toy\ninput: {name: x, shape: [4]}\nlayers:\n"
          "  - {name: out, op: dense, units: 3, activation: softmax}\n",
          1);
  gesta_trainer_options_init(&opt);
  opt.optim.learning_rate = 0.01;
  tt_trainer(&e, batch, &opt);
  for (int c = 0; c < classes; c++)
    for (int d = 0; d < dims; d++)
      centers[c][d] = (float)tt_uniform(&rng, -2, 2);
  /* Blobs of radius 0.3 around centres at least ~1 apart: separable. */
  for (int step = 0; step < 400; step++) {
    memset(y, 0, sizeof y);
    for (int64_t r = 0; r < batch; r++) {
      int c = (int)(tt_next(&rng) % classes);
      for (int d = 0; d < dims; d++)
        x[r * dims + d] = centers[c][d] + (float)tt_uniform(&rng, -0.3, 0.3);
      y[r * classes + c] = 1;
    }
    if (step >= 350) {
      assert_int_equal(
          gesta_trainer_evaluate(e.trainer, x, y, NULL, &s, &e.err),
          GESTA_STATUS_OK);
      correct += s.correct;
      total += s.rows;
    } else if (gesta_trainer_step(e.trainer, x, y, &s, &e.err) !=
               GESTA_STATUS_OK) {
      fail_msg("%s", e.err.message);
    }
  }
  print_message("toy problem: %lld/%lld after 350 steps, loss %.4f\n",
                (long long)correct, (long long)total, s.loss);
  assert_true(correct == total);
  assert_int_equal(gesta_trainer_step_count(e.trainer), 350);
  tt_close(&e);
}

/* The seed's LRCN scaled down (8 frames of 32x32; the same layers) on
 * random clips: the loss on a fixed batch of 2 falls within 20 steps. */
static const char *tt_small_lrcn =
    "gesta: 1\nname: lrcn-small\nclasses: [a, b, c, d, e]\n"
    "input: {name: frames, shape: [8, 32, 32, 3]}\nlayers:\n"
    "  - {name: conv1, op: conv2d, filters: 16, kernel: [3, 3], padding: "
    "same, activation: relu, time_distributed: true}\n"
    "  - {name: drop1, op: dropout, rate: 0.25, time_distributed: true}\n"
    "  - {name: conv2, op: conv2d, filters: 32, kernel: [3, 3], padding: "
    "same, activation: relu, time_distributed: true}\n"
    "  - {name: pool2, op: max_pool2d, pool_size: [4, 4], time_distributed: "
    "true}\n"
    "  - {name: drop2, op: dropout, rate: 0.25, time_distributed: true}\n"
    "  - {name: conv3, op: conv2d, filters: 64, kernel: [3, 3], padding: "
    "same, activation: relu, time_distributed: true}\n"
    "  - {name: pool3, op: max_pool2d, pool_size: [2, 2], time_distributed: "
    "true}\n"
    "  - {name: drop3, op: dropout, rate: 0.25, time_distributed: true}\n"
    "  - {name: conv4, op: conv2d, filters: 64, kernel: [3, 3], padding: "
    "same, activation: relu, time_distributed: true}\n"
    "  - {name: pool4, op: max_pool2d, pool_size: [2, 2], time_distributed: "
    "true}\n"
    "  - {name: flatten, op: flatten, time_distributed: true}\n"
    "  - {name: lstm, op: lstm, units: 32}\n"
    "  - {name: out, op: dense, units: 5, activation: softmax}\n";

/* Runs `steps` steps on fixed random data; returns the per-step losses. */
static void tt_run_small_lrcn(uint64_t seed, int steps, double *losses,
                              gesta_model **weights_out) {
  tt_env e;
  gesta_trainer_options opt;
  uint64_t rng = 4242;
  float *x, *y;
  int64_t nx;
  gesta_train_stats s;
  tt_open(&e, tt_small_lrcn, 3);
  gesta_trainer_options_init(&opt);
  opt.seed = seed;
  tt_trainer(&e, 2, &opt);
  gesta_shape xs = gesta_trainer_input_shape(e.trainer);
  nx = gesta_shape_count(&xs);
  x = tt_random(nx, &rng, 0, 1);
  y = tt_one_hot(2, 5, NULL);
  for (int i = 0; i < steps; i++) {
    if (gesta_trainer_step(e.trainer, x, y, &s, &e.err) != GESTA_STATUS_OK)
      fail_msg("%s", e.err.message);
    losses[i] = s.loss;
  }
  assert_int_equal(gesta_trainer_download_weights(e.trainer, e.model, &e.err),
                   GESTA_STATUS_OK);
  *weights_out = e.model;
  e.model = NULL;
  free(x);
  free(y);
  tt_close(&e);
}

static void test_small_lrcn_loss_falls_and_is_deterministic(void **state) {
  double a[20], b[20], c[3];
  gesta_model *wa, *wb, *wc;
  bool same = true, differ = false;
  (void)state;
  tt_run_small_lrcn(11, 20, a, &wa);
  print_message("small LRCN losses: %.4f %.4f ... %.4f %.4f\n", a[0], a[1],
                a[18], a[19]);
  assert_true((a[17] + a[18] + a[19]) / 3 < 0.7 * (a[0] + a[1] + a[2]) / 3);
  /* Same seed: the same weights bit for bit; another seed (other dropout
   * masks): other weights. */
  tt_run_small_lrcn(11, 20, b, &wb);
  tt_run_small_lrcn(12, 3, c, &wc);
  for (int i = 0; i < wa->n_params; i++) {
    size_t bytes =
        (size_t)gesta_shape_count(&wa->params[i].spec.shape) * sizeof(float);
    same = same && memcmp(wa->params[i].data, wb->params[i].data, bytes) == 0;
    differ = differ || memcmp(wa->params[i].data, wc->params[i].data, bytes);
  }
  assert_true(same);
  assert_true(memcmp(a, b, sizeof a) == 0);
  assert_true(differ);
  gesta_model_free(wa);
  gesta_model_free(wb);
  gesta_model_free(wc);
}

/* ---- hook, state, evaluation, errors ------------------------------------ */

typedef struct tt_hook_state {
  int calls;
  bool fail;
  int64_t steps_seen;
} tt_hook_state;

static gesta_status tt_hook(void *user, gesta_trainer *trainer,
                            gesta_error *err) {
  tt_hook_state *h = user;
  h->calls++;
  h->steps_seen = gesta_trainer_step_count(trainer);
  /* Every trainable parameter's gradient is there. */
  if (!gesta_trainer_grad(trainer, 0))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL, "no gradient");
  if (h->fail)
    return gesta_error_set(err, GESTA_STATUS_BACKEND_ERROR, "reduce failed");
  return GESTA_STATUS_OK;
}

static void test_grad_hook_once_per_step(void **state) {
  tt_env e;
  tt_hook_state h = {0, false, -1};
  uint64_t rng = 1;
  float *x, *y, before[12], after[12];
  (void)state;
  tt_open(&e, tt_mini_lrcn, 2);
  tt_trainer(&e, 2, NULL);
  gesta_trainer_set_grad_hook(e.trainer, tt_hook, &h);
  gesta_shape xs = gesta_trainer_input_shape(e.trainer);
  x = tt_random(gesta_shape_count(&xs), &rng, -1, 1);
  y = tt_one_hot(2, 3, NULL);
  for (int i = 0; i < 3; i++)
    assert_int_equal(gesta_trainer_step(e.trainer, x, y, NULL, &e.err),
                     GESTA_STATUS_OK);
  assert_int_equal(h.calls, 3);
  assert_int_equal(h.steps_seen, 2); /* before the third update */
  /* A failing hook stops the step before the update. */
  h.fail = true;
  gesta_trainer_download_weights(e.trainer, e.model, &e.err);
  memcpy(before, e.model->params[0].data, sizeof before);
  assert_int_equal(gesta_trainer_step(e.trainer, x, y, NULL, &e.err),
                   GESTA_STATUS_BACKEND_ERROR);
  assert_string_equal(e.err.message, "reduce failed");
  gesta_trainer_download_weights(e.trainer, e.model, &e.err);
  memcpy(after, e.model->params[0].data, sizeof after);
  assert_memory_equal(before, after, sizeof before);
  assert_int_equal(gesta_trainer_step_count(e.trainer), 3);
  free(x);
  free(y);
  tt_close(&e);
}

static void test_optimizer_state_round_trip(void **state) {
  tt_env e;
  uint64_t rng = 3;
  float *x, *y;
  gesta_shape shape;
  int trainable = 0;
  (void)state;
  tt_open(&e, tt_mini_lrcn, 2);
  tt_trainer(&e, 2, NULL);
  for (int i = 0; i < e.model->n_params; i++)
    trainable += e.model->params[i].spec.trainable;
  assert_int_equal(gesta_trainer_state_count(e.trainer), 2 * trainable);
  assert_string_equal(gesta_trainer_state_name(e.trainer, 0, &shape),
                      "optimizer.m.c1.kernel");
  assert_string_equal(gesta_trainer_state_name(e.trainer, 1, NULL),
                      "optimizer.v.c1.kernel");
  assert_int_equal(shape.rank, 4);
  assert_null(gesta_trainer_state_name(e.trainer, 1000, NULL));
  gesta_shape xs = gesta_trainer_input_shape(e.trainer);
  x = tt_random(gesta_shape_count(&xs), &rng, -1, 1);
  y = tt_one_hot(2, 3, NULL);
  assert_int_equal(gesta_trainer_step(e.trainer, x, y, NULL, &e.err),
                   GESTA_STATUS_OK);
  int64_t n = gesta_shape_count(&shape);
  float *m = malloc((size_t)n * sizeof *m), *m2 = malloc((size_t)n * 4);
  assert_int_equal(gesta_trainer_state_read(e.trainer, 0, m, &e.err),
                   GESTA_STATUS_OK);
  bool nonzero = false;
  for (int64_t i = 0; i < n; i++)
    nonzero = nonzero || m[i] != 0.0f;
  assert_true(nonzero);
  m[0] = 42.0f;
  assert_int_equal(gesta_trainer_state_write(e.trainer, 0, m, &e.err),
                   GESTA_STATUS_OK);
  assert_int_equal(gesta_trainer_state_read(e.trainer, 0, m2, &e.err),
                   GESTA_STATUS_OK);
  assert_memory_equal(m, m2, (size_t)n * 4);
  assert_int_equal(gesta_trainer_state_read(e.trainer, -1, m2, &e.err),
                   GESTA_STATUS_BAD_INPUT);
  free(m);
  free(m2);
  free(x);
  free(y);
  tt_close(&e);
}

/* Evaluation is inference: the executor's output for the same weights. */
static void test_evaluate_matches_inference(void **state) {
  tt_env e;
  gesta_plan *plan;
  uint64_t rng = 8;
  float *x, *y, out[6], want[6];
  gesta_train_stats s;
  (void)state;
  tt_open(&e, tt_mini_lrcn, 2);
  tt_trainer(&e, 2, NULL);
  gesta_shape xs = gesta_trainer_input_shape(e.trainer);
  x = tt_random(gesta_shape_count(&xs), &rng, -1, 1);
  y = tt_one_hot(2, 3, NULL);
  /* Train a little so that batch_norm's moving statistics move. */
  for (int i = 0; i < 3; i++)
    assert_int_equal(gesta_trainer_step(e.trainer, x, y, NULL, &e.err),
                     GESTA_STATUS_OK);
  assert_int_equal(gesta_trainer_evaluate(e.trainer, x, y, out, &s, &e.err),
                   GESTA_STATUS_OK);
  assert_int_equal(gesta_trainer_download_weights(e.trainer, e.model, &e.err),
                   GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_new(e.model, e.cpu, 2, &plan, &e.err),
                   GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_run(plan, x, want, &e.err), GESTA_STATUS_OK);
  for (int i = 0; i < 6; i++)
    assert_true(fabsf(out[i] - want[i]) < 1e-6f);
  assert_true(s.rows == 2 && isfinite(s.loss));
  gesta_plan_free(plan);
  free(x);
  free(y);
  tt_close(&e);
}

static void test_nan_loss_stops_before_update(void **state) {
  tt_env e;
  float x[2 * 5], y[2 * 3], before[15], after[15];
  (void)state;
  tt_open(&e,
          "gesta: 1\nname: n\ninput: {name: x, shape: [5]}\nlayers:\n"
          "  - {name: out, op: dense, units: 3, activation: softmax}\n",
          1);
  tt_trainer(&e, 2, NULL);
  for (int i = 0; i < 10; i++)
    x[i] = i == 3 ? NAN : 0.5f;
  memset(y, 0, sizeof y);
  y[0] = y[4] = 1;
  memcpy(before, e.model->params[0].data, sizeof before);
  assert_int_equal(gesta_trainer_step(e.trainer, x, y, NULL, &e.err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(e.err.message, "the loss is NaN"));
  gesta_trainer_download_weights(e.trainer, e.model, &e.err);
  memcpy(after, e.model->params[0].data, sizeof after);
  assert_memory_equal(before, after, sizeof before);
  assert_int_equal(gesta_trainer_step_count(e.trainer), 0);
  tt_close(&e);
}

/* A backend that cannot run one op: training names the layer and says
 * what to do instead of falling back. */
static bool tt_no_lstm(void *impl, const gesta_op_call *call, char *why,
                       size_t size) {
  (void)impl;
  if (strcmp(call->node->op->def->name, "lstm") != 0)
    return true;
  snprintf(why, size, "no lstm here");
  return false;
}

static void test_untrainable_layer_is_an_error(void **state) {
  tt_env e;
  gesta_backend_iface iface;
  const gesta_backend_iface *orig;
  gesta_trainer *t = NULL;
  (void)state;
  tt_open(&e, tt_mini_lrcn, 2);
  orig = e.cpu->iface;
  iface = *orig;
  iface.supports_op = tt_no_lstm;
  e.cpu->iface = &iface;
  assert_int_equal(gesta_trainer_new(e.model, e.cpu, 2, NULL, &t, &e.err),
                   GESTA_STATUS_UNSUPPORTED);
  assert_null(t);
  assert_non_null(strstr(e.err.message, "layer 'l' (lstm)"));
  assert_non_null(strstr(e.err.message, "no lstm here"));
  e.cpu->iface = orig;
  assert_int_equal(gesta_trainer_new(e.model, e.cpu, 0, NULL, &t, &e.err),
                   GESTA_STATUS_BAD_INPUT);
  /* A model without weights. */
  gesta_model *bare;
  const char *yaml = "gesta: 1\nname: b\ninput: {name: x, shape: [2]}\n"
                     "layers:\n  - {name: d, op: dense, units: 2}\n";
  assert_int_equal(gesta_model_load_string(&e.ctx, yaml, strlen(yaml), "b.yaml",
                                           NULL, &bare, &e.err),
                   GESTA_STATUS_OK);
  assert_int_equal(gesta_trainer_new(bare, e.cpu, 2, NULL, &t, &e.err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(e.err.message, "no weights"));
  gesta_model_free(bare);
  tt_close(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loss_softmax_cross_entropy),
      cmocka_unit_test(test_loss_cross_entropy_on_probabilities),
      cmocka_unit_test(test_adam_matches_hand_computation),
      cmocka_unit_test(test_sgd_momentum_matches_hand_computation),
      cmocka_unit_test(test_trainer_gradients_match_differences),
      cmocka_unit_test(test_toy_problem_reaches_full_accuracy),
      cmocka_unit_test(test_small_lrcn_loss_falls_and_is_deterministic),
      cmocka_unit_test(test_grad_hook_once_per_step),
      cmocka_unit_test(test_optimizer_state_round_trip),
      cmocka_unit_test(test_evaluate_matches_inference),
      cmocka_unit_test(test_nan_loss_stops_before_update),
      cmocka_unit_test(test_untrainable_layer_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
