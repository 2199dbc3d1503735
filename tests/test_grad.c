/* Gradients: every op's backward kernel against central finite
 * differences. Each case is a one-layer model read from YAML (so shapes,
 * parameters and time-distributed folding are the library's own), run
 * through the layer's kernels directly. The loss is L = sum(y * R) for
 * fixed random weights R, accumulated in double, so dL/dy = R; every input
 * element and every trainable parameter element is perturbed by +-eps and
 * the difference quotient compared with what backward wrote.
 *
 * Piecewise-linear ops (relu, max pooling) have kinks: an element whose
 * one-sided quotients disagree straddles one and is skipped, and a case
 * fails when more than a quarter of its elements are skipped.
 *
 * `logits` cases check the softmax shortcut: given dL/dz for the logits z,
 * backward must pass it through, which is compared with the differences of
 * the same layer with the softmax replaced by the identity.
 *
 * Usage: test_grad [--op NAME]. A filter that matches nothing fails, and a
 * full run fails when an op in the registry has no case. The last line is
 * "N passed, M failed"; the exit status is non-zero on any failure. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesta/backend.h"
#include "gesta/context.h"
#include "gesta/error.h"
#include "gesta/model.h"
#include "gesta/op.h"
#include "gesta/tensor.h"

typedef struct gg_case {
  const char *op;
  int64_t n;
  gesta_shape x;
  const char *attrs;
  bool training; /* dropout masks, batch_norm on batch statistics */
  bool logits;   /* backward given dL/d(logits) of a fused softmax */
  double eps;    /* 0: 1e-2 */
} gg_case;

#define X1(a)                                                                  \
  {                                                                            \
    1, {                                                                       \
      a                                                                        \
    }                                                                          \
  }
#define X2(a, b)                                                               \
  {                                                                            \
    2, {                                                                       \
      a, b                                                                     \
    }                                                                          \
  }
#define X3(a, b, c)                                                            \
  {                                                                            \
    3, {                                                                       \
      a, b, c                                                                  \
    }                                                                          \
  }
#define X4(a, b, c, d)                                                         \
  {                                                                            \
    4, {                                                                       \
      a, b, c, d                                                               \
    }                                                                          \
  }

static const gg_case gg_cases[] = {
    {"conv2d", 2, X3(6, 5, 3), "filters: 4, kernel: 3", false, false, 0},
    {"conv2d", 2, X3(7, 6, 2),
     "filters: 3, kernel: 3, strides: 2, padding: same, activation: tanh",
     false, false, 0},
    {"conv2d", 1, X3(6, 7, 3),
     "filters: 2, kernel: [2, 3], strides: [2, 1], use_bias: false", false,
     false, 0},
    {"conv2d", 2, X3(4, 5, 3),
     "filters: 3, kernel: [3, 2], padding: same, activation: relu", false,
     false, 1e-3},
    {"conv2d", 2, X3(3, 4, 5), "filters: 3, kernel: 1, activation: sigmoid",
     false, false, 0},
    {"conv2d", 2, X4(3, 5, 4, 2),
     "filters: 3, kernel: 3, padding: same, activation: relu, "
     "time_distributed: true",
     false, false, 1e-3},
    {"conv2d", 2, X3(3, 3, 2), "filters: 4, kernel: 3, activation: softmax",
     false, false, 0},
    {"conv2d", 2, X3(3, 3, 2), "filters: 4, kernel: 3, activation: softmax",
     false, true, 0},
    {"dense", 3, X1(5), "units: 4", false, false, 0},
    {"dense", 3, X1(5), "units: 4, activation: relu", false, false, 0},
    {"dense", 2, X2(3, 5), "units: 4, activation: tanh, use_bias: false", false,
     false, 0},
    {"dense", 2, X1(6), "units: 3, activation: sigmoid", false, false, 0},
    {"dense", 3, X1(5), "units: 4, activation: softmax", false, false, 0},
    {"dense", 3, X1(5), "units: 4, activation: softmax", false, true, 0},
    {"dense", 2, X2(3, 5), "units: 4, activation: relu, time_distributed: true",
     false, false, 0},
    {"lstm", 2, X2(4, 3), "units: 5", false, false, 0},
    {"lstm", 2, X2(4, 3), "units: 5, return_sequences: true", false, false, 0},
    {"lstm", 3, X2(3, 4), "units: 2, use_bias: false", false, false, 0},
    {"lstm", 1, X2(1, 3), "units: 3", false, false, 0},
    {"max_pool2d", 2, X3(4, 6, 3), "pool_size: 2", false, false, 1e-3},
    {"max_pool2d", 1, X3(5, 5, 2), "pool_size: 3, strides: 2, padding: same",
     false, false, 1e-3},
    {"max_pool2d", 2, X3(4, 5, 2), "pool_size: [2, 3], strides: [1, 2]", false,
     false, 1e-3},
    {"max_pool2d", 2, X4(3, 4, 4, 2), "pool_size: 2, time_distributed: true",
     false, false, 1e-3},
    {"global_avg_pool2d", 2, X3(3, 4, 3), "", false, false, 0},
    {"global_avg_pool2d", 2, X4(3, 2, 3, 2), "time_distributed: true", false,
     false, 0},
    {"batch_norm", 4, X1(3), "", true, false, 0},
    {"batch_norm", 2, X3(3, 2, 4), "epsilon: 0.01, momentum: 0.9", true, false,
     0},
    {"batch_norm", 2, X4(3, 2, 2, 3), "time_distributed: true", true, false, 0},
    {"batch_norm", 3, X2(2, 4), "", false, false, 0},
    {"dropout", 3, X2(4, 5), "rate: 0.3", true, false, 0},
    {"dropout", 2, X4(3, 2, 2, 3), "rate: 0.5, time_distributed: true", true,
     false, 0},
    {"dropout", 2, X1(6), "rate: 0.3", false, false, 0},
    {"flatten", 2, X3(2, 3, 2), "", false, false, 0},
    {"flatten", 2, X4(3, 2, 2, 2), "time_distributed: true", false, false, 0},
    {"relu", 2, X2(3, 4), "", false, false, 0},
    {"sigmoid", 2, X2(3, 4), "", false, false, 0},
    {"tanh", 2, X1(5), "", false, false, 0},
    {"linear", 2, X1(5), "", false, false, 0},
    {"softmax", 2, X2(3, 4), "", false, false, 0},
    {"softmax", 3, X1(5), "", false, true, 0},
};

#define GG_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct gg_tally {
  int passed, failed;
} gg_tally;

static uint64_t gg_next(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double gg_uniform(uint64_t *state, double lo, double hi) {
  return lo + (hi - lo) * (double)(gg_next(state) >> 11) * 0x1.0p-53;
}

/* One layer laid out on the CPU backend with its own buffers. */
typedef struct gg_layer {
  gesta_model *model;
  const gesta_op_kernel *kernel;
  gesta_buffer *bufs[32];
  int n_bufs;
  gesta_tensor x, y, dy, dx, saved, ws;
  gesta_tensor params[GESTA_MAX_PARAMS], dparams[GESTA_MAX_PARAMS];
  gesta_op_call call;
  gesta_op_grad_call grad;
} gg_layer;

static gesta_status gg_tensor(gesta_backend *cpu, gg_layer *l,
                              const gesta_shape *shape, gesta_tensor *t,
                              gesta_error *err) {
  size_t bytes = (size_t)gesta_shape_count(shape) * sizeof(float);
  gesta_buffer *b;
  gesta_status st = gesta_buffer_new(cpu, bytes ? bytes : 4, &b, err);
  if (st != GESTA_STATUS_OK)
    return st;
  l->bufs[l->n_bufs++] = b;
  t->shape = *shape;
  t->buffer = b;
  t->offset = 0;
  memset(b->handle, 0, b->size);
  return GESTA_STATUS_OK;
}

static gesta_shape gg_full(int64_t n, const gesta_shape *s, bool td) {
  gesta_shape r = {s->rank + 1, {n}};
  for (int i = 0; i < s->rank; i++)
    r.dims[i + 1] = s->dims[i];
  if (td) { /* (N, T, ...) read as (N*T, ...) */
    r.rank--;
    r.dims[0] = n * s->dims[0];
    for (int i = 1; i < r.rank; i++)
      r.dims[i] = s->dims[i];
  }
  return r;
}

static void gg_layer_free(gg_layer *l) {
  for (int i = 0; i < l->n_bufs; i++)
    gesta_buffer_free(l->bufs[i]);
  gesta_model_free(l->model);
  memset(l, 0, sizeof *l);
}

static gesta_status gg_layer_make(const gesta_context *ctx, gesta_backend *cpu,
                                  const gg_case *c, const char *attrs,
                                  const char *op, gg_layer *l,
                                  gesta_error *err) {
  char yaml[1024], dims[96];
  size_t k = 0;
  gesta_status st;
  const gesta_node *node;
  bool td = strstr(attrs, "time_distributed: true") != NULL;
  gesta_shape xs, ys;
  size_t ws = 0;
  memset(l, 0, sizeof *l);
  for (int i = 0; i < c->x.rank; i++)
    k += (size_t)snprintf(dims + k, sizeof dims - k, "%s%lld", i ? ", " : "",
                          (long long)c->x.dims[i]);
  snprintf(yaml, sizeof yaml,
           "gesta: 1\nname: g\ninput: {name: x, shape: [%s]}\nlayers:\n"
           "  - {name: l, op: %s%s%s}\n",
           dims, op, attrs[0] ? ", " : "", attrs);
  st = gesta_model_load_string(ctx, yaml, strlen(yaml), "grad.yaml", NULL,
                               &l->model, err);
  if (st == GESTA_STATUS_OK)
    st = gesta_model_init_weights(l->model, 7, err);
  if (st != GESTA_STATUS_OK)
    return st;
  node = &l->model->nodes[0];
  l->kernel = gesta_backend_kernel(cpu, node->op);
  if (!l->kernel || !l->kernel->backward)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "op %s has no CPU backward kernel", op);
  xs = gg_full(c->n, &c->x, td);
  ys = gg_full(c->n, &node->output_shape, td);
  if ((st = gg_tensor(cpu, l, &xs, &l->x, err)) ||
      (st = gg_tensor(cpu, l, &xs, &l->dx, err)) ||
      (st = gg_tensor(cpu, l, &ys, &l->y, err)) ||
      (st = gg_tensor(cpu, l, &ys, &l->dy, err)))
    return st;
  for (int i = 0; i < node->n_params; i++) {
    const gesta_param *p = &l->model->params[node->first_param + i];
    if ((st = gg_tensor(cpu, l, &p->spec.shape, &l->params[i], err)))
      return st;
    memcpy(l->params[i].buffer->handle, p->data,
           gesta_tensor_bytes(&l->params[i]));
    if (p->spec.trainable &&
        (st = gg_tensor(cpu, l, &p->spec.shape, &l->dparams[i], err)))
      return st;
  }
  l->call.node = node;
  l->call.backend = cpu;
  l->call.inputs = &l->x;
  l->call.n_inputs = 1;
  l->call.params = l->params;
  l->call.n_params = node->n_params;
  l->call.output = &l->y;
  l->call.training = c->training;
  l->call.seed = 0x1234abcdULL;
  l->grad.forward = &l->call;
  l->grad.output_grad = &l->dy;
  l->grad.output_grad_is_logits = c->logits;
  l->grad.input_grads = &l->dx;
  l->grad.param_grads = l->dparams;
  if (l->kernel->saved_bytes && l->kernel->saved_bytes(&l->call) > 0) {
    gesta_shape s = {1, {(int64_t)(l->kernel->saved_bytes(&l->call) / 4 + 1)}};
    if ((st = gg_tensor(cpu, l, &s, &l->saved, err)))
      return st;
    l->call.saved = &l->saved;
  }
  if (l->kernel->workspace_bytes)
    ws = l->kernel->workspace_bytes(&l->call);
  if (l->kernel->backward_workspace_bytes &&
      l->kernel->backward_workspace_bytes(&l->grad) > ws)
    ws = l->kernel->backward_workspace_bytes(&l->grad);
  if (ws > 0) {
    gesta_shape s = {1, {(int64_t)(ws / 4 + 2)}};
    if ((st = gg_tensor(cpu, l, &s, &l->ws, err)))
      return st;
    l->call.workspace = &l->ws;
    l->grad.workspace = &l->ws;
  }
  return GESTA_STATUS_OK;
}

static float *gg_data(const gesta_tensor *t) {
  return (float *)t->buffer->handle;
}

/* L = sum(y * R) after a forward run, in double. */
static double gg_loss(gg_layer *l, const float *r, gesta_error *err, bool *ok) {
  double sum = 0.0;
  int64_t n = gesta_shape_count(&l->y.shape);
  if (l->kernel->forward(&l->call, err) != GESTA_STATUS_OK) {
    *ok = false;
    return 0.0;
  }
  for (int64_t i = 0; i < n; i++)
    sum += (double)gg_data(&l->y)[i] * r[i];
  return sum;
}

typedef struct gg_check {
  int64_t checked, skipped;
  double worst; /* largest |a - n| / (atol + rtol * max(|a|, |n|)) */
  char where[160];
} gg_check;

/* Compares analytic[i] with the central differences of `fd` (the layer
 * whose `target` floats are perturbed). */
static bool gg_compare(gg_layer *fd, float *target, int64_t count,
                       const float *analytic, const float *r, double eps,
                       const char *name, gg_check *chk, gesta_error *err) {
  double scale = 0.0, l0;
  bool ok = true;
  for (int64_t i = 0; i < count; i++)
    scale = fmax(scale, fabs(analytic[i]));
  l0 = gg_loss(fd, r, err, &ok);
  for (int64_t i = 0; i < count && ok; i++) {
    float saved = target[i];
    double lp, lm, num, dp, dm, tol, bad;
    target[i] = (float)(saved + eps);
    lp = gg_loss(fd, r, err, &ok);
    target[i] = (float)(saved - eps);
    lm = gg_loss(fd, r, err, &ok);
    target[i] = saved;
    /* The perturbation actually applied, after rounding to float. */
    num = (lp - lm) / ((double)(float)(saved + eps) - (float)(saved - eps));
    dp = (lp - l0) / eps;
    dm = (l0 - lm) / eps;
    tol = 2e-3 * fmax(scale, 1e-2) + 2e-2 * fmax(fabs(analytic[i]), fabs(num));
    if (fabs(dp - dm) > 0.2 * fmax(fabs(dp), fabs(dm)) + tol) {
      chk->skipped++; /* a kink between x - eps and x + eps */
      continue;
    }
    chk->checked++;
    bad = fabs(analytic[i] - num) / tol;
    if (bad > chk->worst) {
      chk->worst = bad;
      snprintf(chk->where, sizeof chk->where,
               "%s[%lld]: backward %.6g, differences %.6g", name, (long long)i,
               analytic[i], num);
    }
  }
  return ok;
}

static void gg_report(gg_tally *tally, bool ok, const gg_case *c,
                      const char *fmt, const char *detail) {
  printf("grad.%-18s %s(n=%lld,%s%s%s)  %s%s\n", c->op, c->op, (long long)c->n,
         c->attrs, c->training ? ",training" : "", c->logits ? ",logits" : "",
         fmt, detail);
  if (ok)
    tally->passed++;
  else
    tally->failed++;
}

/* The same layer with its softmax replaced by the identity. */
static void gg_linear_twin(const gg_case *c, char *attrs, size_t size,
                           const char **op) {
  const char *p = strstr(c->attrs, "activation: softmax");
  *op = c->op;
  if (strcmp(c->op, "softmax") == 0) {
    *op = "linear";
    snprintf(attrs, size, "%s", c->attrs);
  } else if (p) {
    snprintf(attrs, size, "%.*sactivation: linear%s", (int)(p - c->attrs),
             c->attrs, p + strlen("activation: softmax"));
  } else {
    snprintf(attrs, size, "%s", c->attrs);
  }
}

static void gg_run_case(const gesta_context *ctx, gesta_backend *cpu, int index,
                        gg_tally *tally) {
  const gg_case *c = &gg_cases[index];
  gg_layer l, twin;
  gesta_error err;
  uint64_t rng = 0x6a0d0000u + (uint64_t)index;
  double eps = c->eps > 0 ? c->eps : 1e-2;
  gg_check chk = {0, 0, 0.0, ""};
  char twin_attrs[256], detail[300];
  const char *twin_op;
  float *r = NULL, *dx = NULL, *dp = NULL;
  bool ok = true;
  gg_layer *fd = &l;
  memset(&twin, 0, sizeof twin);
  gesta_error_clear(&err);
  if (gg_layer_make(ctx, cpu, c, c->attrs, c->op, &l, &err)) {
    gg_report(tally, false, c, "FAIL: ", err.message);
    return;
  }
  if (c->logits) {
    gg_linear_twin(c, twin_attrs, sizeof twin_attrs, &twin_op);
    if (gg_layer_make(ctx, cpu, c, twin_attrs, twin_op, &twin, &err)) {
      gg_report(tally, false, c, "FAIL: twin: ", err.message);
      goto done;
    }
    fd = &twin;
  }
  /* Parameters away from trivial values (as the op table does); the twin
   * gets the same ones. */
  for (int i = 0; i < l.call.n_params; i++) {
    const gesta_param *p = &l.model->params[i];
    double lo = -0.5, hi = 0.5;
    if (strcmp(p->spec.name, "moving_variance") == 0)
      lo = 0.1, hi = 1.5;
    else if (strcmp(p->spec.name, "gamma") == 0)
      lo = 0.5, hi = 1.5;
    for (int64_t j = 0; j < gesta_shape_count(&l.params[i].shape); j++)
      gg_data(&l.params[i])[j] = (float)gg_uniform(&rng, lo, hi);
    if (fd != &l)
      memcpy(gg_data(&fd->params[i]), gg_data(&l.params[i]),
             gesta_tensor_bytes(&l.params[i]));
  }
  int64_t nx = gesta_shape_count(&l.x.shape),
          ny = gesta_shape_count(&l.y.shape);
  r = malloc((size_t)ny * sizeof *r);
  dx = malloc((size_t)nx * sizeof *dx);
  if (!r || !dx) {
    gg_report(tally, false, c, "FAIL: ", "out of memory");
    goto done;
  }
  for (int64_t i = 0; i < nx; i++)
    gg_data(&l.x)[i] = gg_data(&fd->x)[i] = (float)gg_uniform(&rng, -1, 1);
  for (int64_t i = 0; i < ny; i++)
    r[i] = (float)gg_uniform(&rng, -1, 1);
  memcpy(gg_data(&l.dy), r, (size_t)ny * sizeof *r);
  /* Forward, then backward; the outputs are poisoned first so that an
   * element backward forgets to write shows. */
  for (int64_t i = 0; i < nx; i++)
    gg_data(&l.dx)[i] = NAN;
  if (l.kernel->forward(&l.call, &err) != GESTA_STATUS_OK ||
      l.kernel->backward(&l.grad, &err) != GESTA_STATUS_OK) {
    gg_report(tally, false, c, "FAIL: ", err.message);
    goto done;
  }
  memcpy(dx, gg_data(&l.dx), (size_t)nx * sizeof *dx);
  ok = gg_compare(fd, gg_data(&fd->x), nx, dx, r, eps, "dx", &chk, &err);
  for (int i = 0; ok && i < l.call.n_params; i++) {
    int64_t np = gesta_shape_count(&l.params[i].shape);
    char name[80];
    if (!l.dparams[i].buffer)
      continue;
    free(dp);
    dp = malloc((size_t)np * sizeof *dp);
    if (!dp) {
      ok = false;
      break;
    }
    memcpy(dp, gg_data(&l.dparams[i]), (size_t)np * sizeof *dp);
    snprintf(name, sizeof name, "d%s", l.model->params[i].spec.name);
    ok = gg_compare(fd, gg_data(&fd->params[i]), np, dp, r, eps, name, &chk,
                    &err);
  }
  if (!ok) {
    gg_report(tally, false, c, "FAIL: ", err.message);
    goto done;
  }
  snprintf(detail, sizeof detail, "checked=%lld skipped=%lld worst=%.2f%s%s",
           (long long)chk.checked, (long long)chk.skipped, chk.worst,
           chk.where[0] ? " at " : "", chk.where);
  ok = chk.worst <= 1.0 && chk.checked > 0 && chk.skipped * 3 <= chk.checked;
  gg_report(tally, ok, c, ok ? "OK " : "FAIL: ", detail);
done:
  free(r);
  free(dx);
  free(dp);
  gg_layer_free(&l);
  gg_layer_free(&twin);
}

/* The dropout mask: about `rate` of the elements dropped, the rest scaled
 * by 1 / (1 - rate), the same mask for the same seed and another for
 * another seed. */
static void gg_dropout_mask(const gesta_context *ctx, gesta_backend *cpu,
                            gg_tally *tally) {
  gg_case c = {"dropout", 4, X2(50, 50), "rate: 0.3", true, false, 0};
  gg_layer l;
  gesta_error err;
  int64_t n = 4 * 50 * 50, dropped = 0, wrong = 0, differ = 0;
  float *first = malloc((size_t)n * sizeof *first);
  bool ok = first != NULL;
  char detail[200];
  gesta_error_clear(&err);
  if (!ok || gg_layer_make(ctx, cpu, &c, c.attrs, c.op, &l, &err)) {
    gg_report(tally, false, &c, "FAIL: mask: ", err.message);
    free(first);
    return;
  }
  for (int64_t i = 0; i < n; i++)
    gg_data(&l.x)[i] = 1.0f;
  ok = l.kernel->forward(&l.call, &err) == GESTA_STATUS_OK;
  memcpy(first, gg_data(&l.y), (size_t)n * sizeof *first);
  for (int64_t i = 0; ok && i < n; i++) {
    float v = first[i];
    dropped += v == 0.0f;
    wrong += v != 0.0f && fabsf(v - 1.0f / 0.7f) > 1e-6f;
  }
  ok = ok && l.kernel->forward(&l.call, &err) == GESTA_STATUS_OK &&
       memcmp(first, gg_data(&l.y), (size_t)n * sizeof *first) == 0;
  l.call.seed++;
  ok = ok && l.kernel->forward(&l.call, &err) == GESTA_STATUS_OK;
  for (int64_t i = 0; ok && i < n; i++)
    differ += first[i] != gg_data(&l.y)[i];
  snprintf(detail, sizeof detail,
           "dropped %.4f of %lld (rate 0.3), %lld wrongly scaled, %lld differ "
           "with the next seed",
           (double)dropped / (double)n, (long long)n, (long long)wrong,
           (long long)differ);
  ok = ok && fabs((double)dropped / (double)n - 0.3) < 0.02 && wrong == 0 &&
       differ > n / 5;
  gg_report(tally, ok, &c, ok ? "mask OK " : "FAIL: mask: ", detail);
  free(first);
  gg_layer_free(&l);
}

static bool gg_has_case(const char *op) {
  for (int i = 0; i < GG_N(gg_cases); i++)
    if (strcmp(gg_cases[i].op, op) == 0)
      return true;
  return false;
}

int main(int argc, char **argv) {
  const char *filter = NULL;
  gesta_context ctx;
  gesta_backend *cpu = NULL;
  gesta_error err;
  gg_tally tally = {0, 0};
  int matched = 0;
  if (argc == 3 && strcmp(argv[1], "--op") == 0) {
    filter = argv[2];
  } else if (argc != 1) {
    fprintf(stderr, "usage: %s [--op NAME]\n", argv[0]);
    return 2;
  }
  gesta_context_init(&ctx);
  gesta_error_clear(&err);
  if (gesta_backend_cpu_new(&ctx, &cpu, &err) != GESTA_STATUS_OK) {
    printf("cpu backend: FAIL: %s\n", err.message);
    return 1;
  }
  for (int i = 0; i < GG_N(gg_cases); i++)
    if (!filter || strcmp(filter, gg_cases[i].op) == 0) {
      matched++;
      gg_run_case(&ctx, cpu, i, &tally);
    }
  if (!filter || strcmp(filter, "dropout") == 0)
    gg_dropout_mask(&ctx, cpu, &tally);
  if (matched == 0) {
    fprintf(stderr, "test_grad: no case matches --op %s\n", filter);
    tally.failed++;
  }
  for (int i = 0; !filter && i < gesta_op_count(); i++)
    if (!gg_has_case(gesta_op_at(i)->def->name)) {
      printf("grad.%s  FAIL: the op has no gradient case\n",
             gesta_op_at(i)->def->name);
      tally.failed++;
    }
  gesta_backend_free(cpu);
  printf("%d passed, %d failed\n", tally.passed, tally.failed);
  return tally.failed ? 1 : 0;
}
