/* The trainer on OpenCL: a small model with every op the seed's models
 * train takes the same steps on every OpenCL device as on the CPU
 * reference (losses, accuracy and the weights after the steps, with Adam
 * and, except on Oclgrind, with SGD + Nesterov momentum; then an
 * inference-mode evaluation), and
 * a scaled-down LRCN learns on every device that is not a simulator.
 *
 * Tolerances: per-step losses within 1e-4 relative (the devices sum in
 * other orders: CLBlast tiles, chunked column sums); weights after the
 * steps within 1e-3 of the largest weight (Adam's update is about lr per
 * step whatever the gradient's size, so a gradient near zero can move
 * either way on either backend).
 *
 * Usage: test_train_opencl [--device SPEC] [--bench [STEPS]]. --bench
 * measures (and asserts nothing about) the seed's LRCN at batch 4 on the
 * CPU and on every device: training clips per second after one warm-up
 * step. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gesta/gesta.h"
#include "gesta/opencl.h"
#include "gesta/train.h"

#include "grad_opencl_util.h"

/* Every op the seed's models train, a fused softmax at the end. */
static const char *to_mini =
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

/* The seed's LRCN scaled down: 8 frames of 32x32, the same layers. */
static const char *to_small_lrcn =
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

#define TO_MAX_STEPS 12

/* One run: `steps` steps on fixed random data from a fixed init. */
typedef struct to_result {
  double loss[TO_MAX_STEPS];
  int64_t correct[TO_MAX_STEPS];
  double eval_loss;
  gesta_model *model; /* the weights after the steps */
} to_result;

static gesta_status to_train(const gesta_context *ctx, gesta_backend *backend,
                             const char *yaml, int64_t batch, int steps,
                             const gesta_optim_config *optim, to_result *out,
                             gesta_error *err) {
  gesta_trainer *t = NULL;
  gesta_trainer_options opt;
  gesta_train_stats s;
  uint64_t rng = 4242;
  float *x = NULL, *y = NULL;
  gesta_status st;
  memset(out, 0, sizeof *out);
  st = gesta_model_load_string(ctx, yaml, strlen(yaml), "t.yaml", NULL,
                               &out->model, err);
  if (st == GESTA_STATUS_OK)
    st = gesta_model_init_weights(out->model, 3, err);
  if (st != GESTA_STATUS_OK)
    return st;
  gesta_trainer_options_init(&opt);
  opt.seed = 11;
  if (optim)
    opt.optim = *optim;
  st = gesta_trainer_new(out->model, backend, batch, &opt, &t, err);
  if (st != GESTA_STATUS_OK)
    return st;
  gesta_shape xs = gesta_trainer_input_shape(t);
  gesta_shape ys = gesta_trainer_output_shape(t);
  int64_t nx = gesta_shape_count(&xs), ny = gesta_shape_count(&ys);
  int64_t classes = ys.dims[ys.rank - 1];
  x = malloc((size_t)nx * sizeof *x);
  y = calloc((size_t)ny, sizeof *y);
  if (!x || !y) {
    st = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
    goto done;
  }
  for (int64_t i = 0; i < nx; i++)
    x[i] = (float)gou_uniform(&rng, 0, 1);
  for (int64_t r = 0; r < ny / classes; r++)
    y[r * classes + r % classes] = 1;
  for (int i = 0; i < steps && st == GESTA_STATUS_OK; i++) {
    st = gesta_trainer_step(t, x, y, &s, err);
    out->loss[i] = s.loss;
    out->correct[i] = s.correct;
  }
  if (st == GESTA_STATUS_OK)
    st = gesta_trainer_evaluate(t, x, y, NULL, &s, err);
  out->eval_loss = s.loss;
  if (st == GESTA_STATUS_OK)
    st = gesta_trainer_download_weights(t, out->model, err);
done:
  free(x);
  free(y);
  gesta_trainer_free(t);
  return st;
}

/* Largest weight difference relative to the largest CPU weight. */
static double to_weight_error(const gesta_model *cpu, const gesta_model *dev,
                              const char **where) {
  double scale = 0.0, worst = 0.0;
  for (int i = 0; i < cpu->n_params; i++)
    for (int64_t j = 0; j < gesta_shape_count(&cpu->params[i].spec.shape); j++)
      scale = fmax(scale, fabs(cpu->params[i].data[j]));
  for (int i = 0; i < cpu->n_params; i++)
    for (int64_t j = 0; j < gesta_shape_count(&cpu->params[i].spec.shape);
         j++) {
      double d = fabs((double)dev->params[i].data[j] - cpu->params[i].data[j]);
      if (!(d <= worst)) {
        worst = isnan(d) ? INFINITY : d;
        *where = cpu->params[i].name;
      }
    }
  return worst / fmax(scale, 1e-30);
}

static void to_same_steps(const gesta_context *ctx, gou_run *run,
                          gesta_backend *cpu, const char *name,
                          const gesta_optim_config *optim, bool simulators) {
  const int steps = 5;
  to_result ref, dev;
  gesta_error err;
  gesta_error_clear(&err);
  if (to_train(ctx, cpu, to_mini, 2, steps, optim, &ref, &err)) {
    gou_report(run, false, "trainer", name, "cpu", "FAIL: %s", err.message);
    gesta_model_free(ref.model);
    return;
  }
  for (int k = 0; k < run->n_targets; k++) {
    gou_target *tg = &run->targets[k];
    char fail[400] = "", why[256];
    double worst_loss = 0.0, werr = 0.0;
    const char *where = "";
    if (tg->oclgrind && !simulators)
      continue;
    if (to_train(ctx, tg->backend, to_mini, 2, steps, optim, &dev, &err)) {
      snprintf(fail, sizeof fail, "%.300s", err.message);
    } else {
      for (int i = 0; i <= steps; i++) {
        double a = i < steps ? ref.loss[i] : ref.eval_loss;
        double b = i < steps ? dev.loss[i] : dev.eval_loss;
        double e = fabs(a - b) / fmax(fabs(a), 1e-6);
        worst_loss = !(e <= worst_loss) ? e : worst_loss;
        if (!(e <= 1e-4) && !fail[0])
          snprintf(fail, sizeof fail, "%s loss %.9g, cpu %.9g",
                   i < steps ? "step" : "evaluation", b, a);
        if (i < steps && ref.correct[i] != dev.correct[i] && !fail[0])
          snprintf(fail, sizeof fail, "step %d: %lld correct, cpu %lld", i,
                   (long long)dev.correct[i], (long long)ref.correct[i]);
      }
      werr = to_weight_error(ref.model, dev.model, &where);
      if (!(werr <= 1e-3) && !fail[0])
        snprintf(fail, sizeof fail, "weights differ by %.2e (in %s)", werr,
                 where);
    }
    if (tg->oclgrind && !gou_oclgrind_clean(run, why, sizeof why) && !fail[0])
      snprintf(fail, sizeof fail, "%.300s", why);
    gou_report(run, !fail[0], "trainer", name, tg->label,
               "losses %.6f .. %.6f, loss error %.1e, weight error %.1e%s%s",
               dev.loss[0], dev.loss[steps - 1], worst_loss, werr,
               fail[0] ? "  FAIL: " : "  OK", fail);
    gesta_model_free(dev.model);
  }
  gesta_model_free(ref.model);
}

/* The scaled-down LRCN's loss on a fixed batch of 2 falls within 10 steps
 * (on the CPU: by about half; here it must fall by a fifth). */
static void to_lrcn_learns(const gesta_context *ctx, gou_run *run) {
  const int steps = 10;
  for (int k = 0; k < run->n_targets; k++) {
    gou_target *tg = &run->targets[k];
    to_result r;
    gesta_error err;
    char fail[400] = "";
    double first, last;
    gesta_error_clear(&err);
    if (tg->oclgrind)
      continue; /* far too slow in a simulator; the mini model ran there */
    if (to_train(ctx, tg->backend, to_small_lrcn, 2, steps, NULL, &r, &err)) {
      gou_report(run, false, "trainer", "lrcn-small learns", tg->label,
                 "FAIL: %s", err.message);
      gesta_model_free(r.model);
      continue;
    }
    first = (r.loss[0] + r.loss[1] + r.loss[2]) / 3;
    last = (r.loss[steps - 3] + r.loss[steps - 2] + r.loss[steps - 1]) / 3;
    if (!(last < 0.8 * first))
      snprintf(fail, sizeof fail, "the loss went from %.4f to %.4f", first,
               last);
    gou_report(run, !fail[0], "trainer", "lrcn-small learns", tg->label,
               "losses %.4f %.4f %.4f ... %.4f %.4f %.4f%s%s", r.loss[0],
               r.loss[1], r.loss[2], r.loss[steps - 3], r.loss[steps - 2],
               r.loss[steps - 1], fail[0] ? "  FAIL: " : "  OK", fail);
    gesta_model_free(r.model);
  }
}

static double to_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The seed's LRCN (models/lrcn.yaml's layers), batch 4: clips per second
 * over `steps` steps after one warm-up step. */
static void to_bench_one(const gesta_context *ctx, gesta_backend *backend,
                         const char *label, int steps) {
  char path[512];
  gesta_model *model = NULL;
  gesta_trainer *t = NULL;
  gesta_train_stats s;
  gesta_error err;
  uint64_t rng = 1;
  float *x = NULL, *y = NULL;
  double t0 = 0.0;
  gesta_error_clear(&err);
  snprintf(path, sizeof path, "%s/models/lrcn.yaml", GESTA_SOURCE_DIR);
  if (gesta_model_load_file(ctx, path, &model, &err) ||
      gesta_model_init_weights(model, 1, &err) ||
      gesta_trainer_new(model, backend, 4, NULL, &t, &err)) {
    printf("bench %s: %s\n", label, err.message);
    goto done;
  }
  gesta_shape xs = gesta_trainer_input_shape(t);
  int64_t nx = gesta_shape_count(&xs);
  x = malloc((size_t)nx * sizeof *x);
  y = calloc(4 * 5, sizeof *y);
  if (!x || !y)
    goto done;
  for (int64_t i = 0; i < nx; i++)
    x[i] = (float)gou_uniform(&rng, 0, 1);
  for (int r = 0; r < 4; r++)
    y[r * 5 + r] = 1;
  for (int i = 0; i <= steps; i++) {
    if (i == 1)
      t0 = to_now();
    if (gesta_trainer_step(t, x, y, &s, &err) != GESTA_STATUS_OK) {
      printf("bench %s: %s\n", label, err.message);
      goto done;
    }
  }
  double secs = to_now() - t0;
  printf("bench %s: LRCN batch 4, %d steps in %.2f s: %.2f s/step, %.2f "
         "clips/s (loss %.4f), %.0f MiB on the backend\n",
         label, steps, secs, secs / steps, 4.0 * steps / secs, s.loss,
         (double)gesta_trainer_memory_bytes(t) / (1 << 20));
done:
  free(x);
  free(y);
  gesta_trainer_free(t);
  gesta_model_free(model);
}

int main(int argc, char **argv) {
  const char *device = NULL;
  int bench = 0;
  gesta_context ctx;
  gesta_backend *cpu = NULL;
  gesta_error err;
  gou_run run;
  gesta_optim_config sgd;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
      device = argv[++i];
    } else if (strcmp(argv[i], "--bench") == 0) {
      bench = 4;
      if (i + 1 < argc && atoi(argv[i + 1]) > 0)
        bench = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: %s [--device SPEC] [--bench [STEPS]]\n", argv[0]);
      return 2;
    }
  }
  memset(&run, 0, sizeof run);
  run.prefix = "train_opencl";
  gou_oclgrind_setup(&run);
  gesta_context_init(&ctx);
  ctx.log_level = GESTA_LOG_ERROR;
  gesta_error_clear(&err);
  if (gesta_backend_cpu_new(&ctx, &cpu, &err) != GESTA_STATUS_OK) {
    printf("cpu backend: FAIL: %s\n", err.message);
    return 1;
  }
  gou_open_devices(&ctx, &run, device);
  if (bench) {
    to_bench_one(&ctx, cpu, "cpu", bench);
    for (int k = 0; k < run.n_targets; k++)
      if (!run.targets[k].oclgrind)
        to_bench_one(&ctx, run.targets[k].backend, run.targets[k].label, bench);
  } else {
    /* Oclgrind simulates slowly: the Adam run only. */
    to_same_steps(&ctx, &run, cpu, "mini adam", NULL, true);
    gesta_optim_config_sgd(&sgd);
    sgd.momentum = 0.9;
    sgd.nesterov = true;
    to_same_steps(&ctx, &run, cpu, "mini sgd-nesterov", &sgd, false);
    to_lrcn_learns(&ctx, &run);
  }
  gou_close(&run);
  gesta_backend_free(cpu);
  printf("%d passed, %d failed\n", run.passed, run.failed);
  return run.failed ? 1 : 0;
}
