/* OpenCL gradients against the CPU reference's: every op's forward (in
 * training mode where the case says so) and backward on every OpenCL
 * device the ICD loader lists, with the same inputs, parameters, seed and
 * output gradient as on the CPU, whose backward kernels test_grad checks
 * against finite differences. Compared: the output, what forward saved for
 * the loss or backward where it is defined the same on both (softmax
 * logits, batch-norm statistics, lstm states), the moving statistics
 * batch_norm updates, the input's gradient and every trainable
 * parameter's. Unwritten elements show: the device's gradients start as
 * NaN.
 *
 * Tolerance: max |opencl - cpu| <= tol * max |cpu| per array, tol 1e-5 for
 * element-wise ops and 1e-4 where a GEMM (CLBlast's summation order), a
 * recurrence (lstm) or a batch reduction (batch_norm) is involved; dropout
 * must agree exactly (the same mask, the same multiply).
 *
 * Oclgrind (a simulator that checks every access) runs the cases of at most
 * GO_OCLGRIND_MAX elements, and any report in its log fails the case, as in
 * test_ops.
 *
 * Usage: test_grad_opencl [--op NAME] [--device SPEC]. The last line is
 * "N passed, M failed"; no OpenCL device is a pass with a note. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesta/backend.h"
#include "gesta/context.h"
#include "gesta/error.h"
#include "gesta/model.h"
#include "gesta/op.h"
#include "gesta/opencl.h"
#include "gesta/tensor.h"

#include "grad_opencl_util.h"

typedef struct go_case {
  const char *op;
  int64_t n;
  gesta_shape x;
  const char *attrs;
  bool training;
  bool logits;
} go_case;

#define S1(a)                                                                  \
  {                                                                            \
    1, {                                                                       \
      a                                                                        \
    }                                                                          \
  }
#define S2(a, b)                                                               \
  {                                                                            \
    2, {                                                                       \
      a, b                                                                     \
    }                                                                          \
  }
#define S3(a, b, c)                                                            \
  {                                                                            \
    3, {                                                                       \
      a, b, c                                                                  \
    }                                                                          \
  }
#define S4(a, b, c, d)                                                         \
  {                                                                            \
    4, {                                                                       \
      a, b, c, d                                                               \
    }                                                                          \
  }

static const go_case go_cases[] = {
    {"conv2d", 2, S3(6, 5, 3), "filters: 4, kernel: 3", false, false},
    {"conv2d", 2, S3(7, 6, 2),
     "filters: 3, kernel: 3, strides: 2, padding: same, activation: tanh",
     false, false},
    {"conv2d", 1, S3(6, 7, 3),
     "filters: 2, kernel: [2, 3], strides: [2, 1], use_bias: false", false,
     false},
    {"conv2d", 2, S3(4, 5, 3),
     "filters: 3, kernel: [3, 2], padding: same, activation: relu", false,
     false},
    {"conv2d", 2, S3(3, 4, 5), "filters: 3, kernel: 1, activation: sigmoid",
     false, false},
    {"conv2d", 2, S4(3, 5, 4, 2),
     "filters: 3, kernel: 3, padding: same, activation: relu, "
     "time_distributed: true",
     false, false},
    {"conv2d", 2, S3(3, 3, 2), "filters: 4, kernel: 3, activation: softmax",
     false, false},
    {"conv2d", 2, S3(3, 3, 2), "filters: 4, kernel: 3, activation: softmax",
     false, true},
    {"conv2d", 2, S3(32, 32, 16),
     "filters: 32, kernel: 3, padding: same, activation: relu", false, false},
    {"dense", 3, S1(5), "units: 4", false, false},
    {"dense", 3, S1(5), "units: 4, activation: relu", false, false},
    {"dense", 2, S2(3, 5), "units: 4, activation: tanh, use_bias: false", false,
     false},
    {"dense", 2, S1(6), "units: 3, activation: sigmoid", false, false},
    {"dense", 3, S1(5), "units: 4, activation: softmax", false, false},
    {"dense", 3, S1(5), "units: 4, activation: softmax", false, true},
    {"dense", 2, S2(3, 5), "units: 4, activation: relu, time_distributed: true",
     false, false},
    {"dense", 4, S1(300), "units: 70", false, false},
    {"lstm", 2, S2(4, 3), "units: 5", false, false},
    {"lstm", 2, S2(4, 3), "units: 5, return_sequences: true", false, false},
    {"lstm", 3, S2(3, 4), "units: 2, use_bias: false", false, false},
    {"lstm", 1, S2(1, 3), "units: 3", false, false},
    {"lstm", 4, S2(20, 256), "units: 32", false, false},
    {"max_pool2d", 2, S3(4, 6, 3), "pool_size: 2", false, false},
    {"max_pool2d", 1, S3(5, 5, 2), "pool_size: 3, strides: 2, padding: same",
     false, false},
    {"max_pool2d", 2, S3(4, 5, 2), "pool_size: [2, 3], strides: [1, 2]", false,
     false},
    {"max_pool2d", 2, S4(3, 4, 4, 2), "pool_size: 2, time_distributed: true",
     false, false},
    {"max_pool2d", 2, S3(5, 5, 3), "pool_size: 3, strides: 1", false, false},
    {"global_avg_pool2d", 2, S3(3, 4, 3), "", false, false},
    {"global_avg_pool2d", 2, S4(3, 2, 3, 2), "time_distributed: true", false,
     false},
    {"batch_norm", 4, S1(3), "", true, false},
    {"batch_norm", 2, S3(3, 2, 4), "epsilon: 0.01, momentum: 0.9", true, false},
    {"batch_norm", 2, S4(3, 2, 2, 3), "time_distributed: true", true, false},
    {"batch_norm", 3, S2(2, 4), "", false, false},
    {"batch_norm", 4, S3(30, 30, 8), "", true, false},
    {"dropout", 3, S2(4, 5), "rate: 0.3", true, false},
    {"dropout", 2, S4(3, 2, 2, 3), "rate: 0.5, time_distributed: true", true,
     false},
    {"dropout", 2, S1(6), "rate: 0.3", false, false},
    {"flatten", 2, S3(2, 3, 2), "", false, false},
    {"flatten", 2, S4(3, 2, 2, 2), "time_distributed: true", false, false},
    {"relu", 2, S2(3, 4), "", false, false},
    {"sigmoid", 2, S2(3, 4), "", false, false},
    {"tanh", 2, S1(5), "", false, false},
    {"linear", 2, S1(5), "", false, false},
    {"softmax", 2, S2(3, 4), "", false, false},
    {"softmax", 3, S1(5), "", false, true},
};

#define GO_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static double go_tolerance(const go_case *c) {
  if (strcmp(c->op, "dropout") == 0)
    return 0.0;
  if (strcmp(c->op, "conv2d") == 0 || strcmp(c->op, "dense") == 0 ||
      strcmp(c->op, "lstm") == 0 || strcmp(c->op, "batch_norm") == 0)
    return 1e-4;
  return 1e-5;
}

/* Loads the case's one-layer model with random parameters away from
 * trivial values (as test_grad does). */
static gesta_status go_model(const gesta_context *ctx, const go_case *c,
                             uint64_t *rng, gesta_model **out,
                             gesta_error *err) {
  char yaml[1024], dims[96];
  size_t k = 0;
  gesta_status st;
  for (int i = 0; i < c->x.rank; i++)
    k += (size_t)snprintf(dims + k, sizeof dims - k, "%s%lld", i ? ", " : "",
                          (long long)c->x.dims[i]);
  snprintf(yaml, sizeof yaml,
           "gesta: 1\nname: g\ninput: {name: x, shape: [%s]}\nlayers:\n"
           "  - {name: l, op: %s%s%s}\n",
           dims, c->op, c->attrs[0] ? ", " : "", c->attrs);
  st = gesta_model_load_string(ctx, yaml, strlen(yaml), "grad.yaml", NULL, out,
                               err);
  if (st == GESTA_STATUS_OK)
    st = gesta_model_init_weights(*out, 7, err);
  if (st != GESTA_STATUS_OK)
    return st;
  for (int i = 0; i < (*out)->n_params; i++) {
    gesta_param *p = &(*out)->params[i];
    double lo = -0.5, hi = 0.5;
    if (strcmp(p->spec.name, "moving_variance") == 0)
      lo = 0.1, hi = 1.5;
    else if (strcmp(p->spec.name, "gamma") == 0)
      lo = 0.5, hi = 1.5;
    for (int64_t j = 0; j < gesta_shape_count(&p->spec.shape); j++)
      p->data[j] = (float)gou_uniform(rng, lo, hi);
  }
  return GESTA_STATUS_OK;
}

/* Compares one array; appends to `fail` when it is off. */
static void go_compare(const char *name, const float *cpu, const float *dev,
                       int64_t n, double tol, double *worst, char *fail,
                       size_t size) {
  double scale = 0.0, max_diff = 0.0;
  int64_t at = 0;
  for (int64_t i = 0; i < n; i++)
    scale = fmax(scale, fabs(cpu[i]));
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)dev[i] - cpu[i]);
    if (!(d <= max_diff)) { /* NaN counts as the worst */
      max_diff = isnan(d) ? INFINITY : d;
      at = i;
    }
  }
  double rel = max_diff / fmax(scale, 1e-30);
  if (scale == 0.0 && max_diff == 0.0)
    rel = 0.0;
  if (rel > *worst)
    *worst = rel;
  if (!(rel <= tol) && !fail[0])
    snprintf(fail, size, "%s[%lld] = %.9g, cpu %.9g (max error %.2e of %.3g)",
             name, (long long)at, dev[at], cpu[at], rel, scale);
}

static void go_run_case(const gesta_context *ctx, gou_run *run,
                        gesta_backend *cpu, int index) {
  const go_case *c = &go_cases[index];
  gesta_model *model = NULL;
  gesta_error err;
  gou_layer ref;
  uint64_t rng = 0x0c1a0000u + (uint64_t)index;
  char label[256];
  float *x = NULL, *dy = NULL;
  int64_t nx, ny;
  memset(&ref, 0, sizeof ref);
  gesta_error_clear(&err);
  snprintf(label, sizeof label, "%s(n=%lld,%s%s%s)", c->op, (long long)c->n,
           c->attrs, c->training ? ",training" : "",
           c->logits ? ",logits" : "");
  if (go_model(ctx, c, &rng, &model, &err) != GESTA_STATUS_OK ||
      gou_layer_make(cpu, model, c->n, c->training, c->logits, &ref, &err) !=
          GESTA_STATUS_OK) {
    gou_report(run, false, c->op, label, "cpu", "FAIL: %s", err.message);
    goto done;
  }
  nx = gesta_shape_count(&ref.x.shape);
  ny = gesta_shape_count(&ref.y.shape);
  x = malloc((size_t)nx * sizeof *x);
  dy = malloc((size_t)ny * sizeof *dy);
  if (!x || !dy) {
    gou_report(run, false, c->op, label, "cpu", "FAIL: out of memory");
    goto done;
  }
  for (int64_t i = 0; i < nx; i++)
    x[i] = (float)gou_uniform(&rng, -1, 1);
  for (int64_t i = 0; i < ny; i++)
    dy[i] = (float)gou_uniform(&rng, -1, 1);
  if (gou_layer_run(&ref, x, dy, &err) != GESTA_STATUS_OK ||
      gou_layer_fetch(&ref, &err) != GESTA_STATUS_OK) {
    gou_report(run, false, c->op, label, "cpu", "FAIL: %s", err.message);
    goto done;
  }
  for (int t = 0; t < run->n_targets; t++) {
    gou_target *tg = &run->targets[t];
    gou_layer dev;
    char fail[320] = "", why[256];
    double worst = 0.0, tol = go_tolerance(c);
    int64_t elements = nx > ny ? nx : ny;
    if (tg->oclgrind && elements > GOU_OCLGRIND_MAX) {
      printf("grad_opencl.%-18s %s  %s  SKIP: Oclgrind runs cases of at most "
             "%d elements\n",
             c->op, label, tg->label, GOU_OCLGRIND_MAX);
      run->skipped++;
      continue;
    }
    memset(&dev, 0, sizeof dev);
    if (gou_layer_make(tg->backend, model, c->n, c->training, c->logits, &dev,
                       &err) != GESTA_STATUS_OK ||
        gou_layer_run(&dev, x, dy, &err) != GESTA_STATUS_OK ||
        gou_layer_fetch(&dev, &err) != GESTA_STATUS_OK) {
      snprintf(fail, sizeof fail, "%.300s", err.message);
    } else {
      go_compare("y", ref.host_y, dev.host_y, ny, tol, &worst, fail,
                 sizeof fail);
      if (ref.host_saved && dev.host_saved &&
          ref.saved_floats == dev.saved_floats)
        go_compare("saved", ref.host_saved, dev.host_saved, ref.saved_floats,
                   tol, &worst, fail, sizeof fail);
      else if ((ref.host_saved != NULL) != (dev.host_saved != NULL) ||
               ref.saved_floats != dev.saved_floats)
        snprintf(fail, sizeof fail,
                 "saved holds %lld floats on the cpu and %lld on the device",
                 (long long)ref.saved_floats, (long long)dev.saved_floats);
      go_compare("dx", ref.host_dx, dev.host_dx, nx, tol, &worst, fail,
                 sizeof fail);
      for (int i = 0; i < ref.n_params; i++) {
        char name[80];
        int64_t np = gesta_shape_count(&ref.params[i].shape);
        snprintf(name, sizeof name, "%s%s", ref.host_dparams[i] ? "d" : "",
                 model->params[i].spec.name);
        /* Trainable: its gradient; otherwise (moving statistics) its
         * value after forward. */
        go_compare(
            name,
            ref.host_dparams[i] ? ref.host_dparams[i] : ref.host_params[i],
            dev.host_dparams[i] ? dev.host_dparams[i] : dev.host_params[i], np,
            tol, &worst, fail, sizeof fail);
      }
    }
    if (tg->oclgrind && !gou_oclgrind_clean(run, why, sizeof why) && !fail[0])
      snprintf(fail, sizeof fail, "%.300s", why);
    gou_report(run, !fail[0], c->op, label, tg->label, "max error %.1e%s%s",
               worst, fail[0] ? "  FAIL: " : "  OK", fail);
    gou_layer_free(&dev);
  }
done:
  gou_layer_free(&ref);
  gesta_model_free(model);
  free(x);
  free(dy);
}

static bool go_has_case(const char *op) {
  for (int i = 0; i < GO_N(go_cases); i++)
    if (strcmp(go_cases[i].op, op) == 0)
      return true;
  return false;
}

int main(int argc, char **argv) {
  const char *filter = NULL, *device = NULL;
  gesta_context ctx;
  gesta_backend *cpu = NULL;
  gesta_error err;
  gou_run run;
  int matched = 0;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 < argc && strcmp(argv[i], "--op") == 0)
      filter = argv[i + 1];
    else if (i + 1 < argc && strcmp(argv[i], "--device") == 0)
      device = argv[i + 1];
    else {
      fprintf(stderr, "usage: %s [--op NAME] [--device SPEC]\n", argv[0]);
      return 2;
    }
  }
  memset(&run, 0, sizeof run);
  run.prefix = "grad_opencl";
  gou_oclgrind_setup(&run);
  gesta_context_init(&ctx);
  ctx.log_level = GESTA_LOG_ERROR;
  gesta_error_clear(&err);
  if (gesta_backend_cpu_new(&ctx, &cpu, &err) != GESTA_STATUS_OK) {
    printf("cpu backend: FAIL: %s\n", err.message);
    return 1;
  }
  gou_open_devices(&ctx, &run, device);
  for (int i = 0; i < GO_N(go_cases); i++)
    if (!filter || strcmp(filter, go_cases[i].op) == 0) {
      matched++;
      go_run_case(&ctx, &run, cpu, i);
    }
  if (matched == 0) {
    fprintf(stderr, "test_grad_opencl: no case matches --op %s\n", filter);
    run.failed++;
  }
  for (int i = 0; !filter && i < gesta_op_count(); i++)
    if (!go_has_case(gesta_op_at(i)->def->name)) {
      printf("grad_opencl.%s  FAIL: the op has no case\n",
             gesta_op_at(i)->def->name);
      run.failed++;
    }
  gou_close(&run);
  gesta_backend_free(cpu);
  if (run.skipped)
    printf("%d skipped\n", run.skipped);
  printf("%d passed, %d failed\n", run.passed, run.failed);
  return run.failed ? 1 : 0;
}
