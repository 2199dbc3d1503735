/* Optimisers: configuration, the per-step scalars, and the CPU backend's
 * element-wise updates. The update rules are Keras 3's
 * (keras/src/optimizers/adam.py, sgd.py), in float like Keras' float32
 * variables; the step size is computed in float32, as Keras does. */
#include <math.h>
#include <string.h>

#include "cpu/parallel.h"
#include "train_internal.h"

void gesta_optim_config_adam(gesta_optim_config *config) {
  memset(config, 0, sizeof *config);
  config->kind = GESTA_OPTIM_ADAM;
  config->learning_rate = 1e-3;
  config->beta1 = 0.9;
  config->beta2 = 0.999;
  config->epsilon = 1e-7;
}

void gesta_optim_config_sgd(gesta_optim_config *config) {
  memset(config, 0, sizeof *config);
  config->kind = GESTA_OPTIM_SGD;
  config->learning_rate = 0.01;
}

const char *gesta_optim_name(gesta_optim_kind kind) {
  return kind == GESTA_OPTIM_SGD ? "sgd" : "adam";
}

gesta_optim_step gesta_optim_step_make(const gesta_optim_config *config,
                                       int64_t t) {
  gesta_optim_step s;
  memset(&s, 0, sizeof s);
  s.learning_rate = (float)config->learning_rate;
  s.momentum = (float)config->momentum;
  s.nesterov = config->nesterov;
  if (config->kind == GESTA_OPTIM_ADAM) {
    /* Keras computes the step size in float32 from float32 powers of beta;
     * computed exactly it is 6.6e-6 longer at step 1. */
    float b1t = powf((float)config->beta1, (float)t);
    float b2t = powf((float)config->beta2, (float)t);
    s.alpha = (float)config->learning_rate * sqrtf(1.0f - b2t) / (1.0f - b1t);
    s.one_minus_beta1 = (float)(1.0 - config->beta1);
    s.one_minus_beta2 = (float)(1.0 - config->beta2);
    s.epsilon = (float)config->epsilon;
  }
  return s;
}

/* ---- the CPU backend's table ------------------------------------------- */

/* The updates are element-wise: large tensors are cut across threads, and
 * every element's result is the same whatever the cut. */

/* One update's tensors and scalars, for its parts. */
typedef struct optim_args {
  float *p, *m, *v;
  const float *g;
  int64_t n;
  int parts;
  gesta_optim_step s;
} optim_args;

static void optim_accumulate_part(void *ctx, int q) {
  const optim_args *a = ctx;
  float *d = a->p;
  const float *s = a->g;
  int64_t i1 = gesta_cpu_split(a->n, a->parts, q + 1);
  for (int64_t i = gesta_cpu_split(a->n, a->parts, q); i < i1; i++)
    d[i] += s[i];
}

static gesta_status optim_cpu_accumulate(const gesta_tensor *dst,
                                         const gesta_tensor *src,
                                         gesta_error *err) {
  optim_args a = {0};
  (void)err;
  a.p = gesta_tensor_host_data(dst);
  a.g = gesta_tensor_host_data(src);
  a.n = gesta_shape_count(&dst->shape);
  a.parts = gesta_cpu_parts(a.n, GESTA_CPU_GRAIN_COPY);
  gesta_cpu_run(a.parts, optim_accumulate_part, &a);
  return GESTA_STATUS_OK;
}

static gesta_status optim_cpu_fill_zero(const gesta_tensor *t,
                                        gesta_error *err) {
  (void)err;
  if (gesta_tensor_bytes(t) > 0)
    gesta_cpu_zero(gesta_tensor_host_data(t), gesta_shape_count(&t->shape));
  return GESTA_STATUS_OK;
}

static void optim_adam_part(void *ctx, int q) {
  const optim_args *a = ctx;
  float *p = a->p, *m = a->m, *v = a->v;
  const float *g = a->g;
  gesta_optim_step s = a->s;
  int64_t i1 = gesta_cpu_split(a->n, a->parts, q + 1);
  for (int64_t i = gesta_cpu_split(a->n, a->parts, q); i < i1; i++) {
    m[i] += (g[i] - m[i]) * s.one_minus_beta1;
    v[i] += (g[i] * g[i] - v[i]) * s.one_minus_beta2;
    p[i] -= (m[i] * s.alpha) / (sqrtf(v[i]) + s.epsilon);
  }
}

static gesta_status optim_cpu_adam(const gesta_optim_step *step,
                                   const gesta_tensor *param,
                                   const gesta_tensor *grad,
                                   const gesta_tensor *m_t,
                                   const gesta_tensor *v_t, gesta_error *err) {
  optim_args a;
  (void)err;
  a.p = gesta_tensor_host_data(param);
  a.g = gesta_tensor_host_data(grad);
  a.m = gesta_tensor_host_data(m_t);
  a.v = gesta_tensor_host_data(v_t);
  a.n = gesta_shape_count(&param->shape);
  a.s = *step;
  /* A square root and a division per element. */
  a.parts = gesta_cpu_parts(a.n, GESTA_CPU_GRAIN_MATH);
  gesta_cpu_run(a.parts, optim_adam_part, &a);
  return GESTA_STATUS_OK;
}

static void optim_sgd_part(void *ctx, int q) {
  const optim_args *a = ctx;
  float *p = a->p, *m = a->m;
  const float *g = a->g;
  float lr = a->s.learning_rate, mu = a->s.momentum;
  bool nesterov = a->s.nesterov;
  int64_t i1 = gesta_cpu_split(a->n, a->parts, q + 1);
  for (int64_t i = gesta_cpu_split(a->n, a->parts, q); i < i1; i++) {
    if (!m) {
      p[i] -= g[i] * lr;
      continue;
    }
    m[i] = m[i] * mu - g[i] * lr;
    p[i] += nesterov ? m[i] * mu - g[i] * lr : m[i];
  }
}

static gesta_status optim_cpu_sgd(const gesta_optim_step *step,
                                  const gesta_tensor *param,
                                  const gesta_tensor *grad,
                                  const gesta_tensor *momentum,
                                  gesta_error *err) {
  optim_args a = {0};
  (void)err;
  a.p = gesta_tensor_host_data(param);
  a.g = gesta_tensor_host_data(grad);
  a.m = momentum ? gesta_tensor_host_data(momentum) : NULL;
  a.n = gesta_shape_count(&param->shape);
  a.s = *step;
  a.parts = gesta_cpu_parts(a.n, GESTA_CPU_GRAIN_COPY);
  gesta_cpu_run(a.parts, optim_sgd_part, &a);
  return GESTA_STATUS_OK;
}

static const gesta_train_kernels optim_cpu_kernels = {
    .accumulate = optim_cpu_accumulate,
    .fill_zero = optim_cpu_fill_zero,
    .adam = optim_cpu_adam,
    .sgd = optim_cpu_sgd,
};

const gesta_train_kernels *gesta_train_kernels_for(const gesta_backend *b) {
  if (b->iface->kind == GESTA_BACKEND_CPU)
    return &optim_cpu_kernels;
#if GESTA_HAVE_OPENCL
  if (b->iface->kind == GESTA_BACKEND_OPENCL)
    return gesta_opencl_train_kernels();
#endif
  return NULL;
}
