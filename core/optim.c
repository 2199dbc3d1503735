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

static gesta_status optim_cpu_accumulate(const gesta_tensor *dst,
                                         const gesta_tensor *src,
                                         gesta_error *err) {
  float *d = gesta_tensor_host_data(dst);
  const float *s = gesta_tensor_host_data(src);
  int64_t n = gesta_shape_count(&dst->shape);
  int parts = gesta_cpu_parts(n, GESTA_CPU_GRAIN_COPY);
  (void)err;
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int p = 0; p < parts; p++) {
    int64_t i1 = gesta_cpu_split(n, parts, p + 1);
    for (int64_t i = gesta_cpu_split(n, parts, p); i < i1; i++)
      d[i] += s[i];
  }
  return GESTA_STATUS_OK;
}

static gesta_status optim_cpu_fill_zero(const gesta_tensor *t,
                                        gesta_error *err) {
  (void)err;
  if (gesta_tensor_bytes(t) > 0)
    gesta_cpu_zero(gesta_tensor_host_data(t), gesta_shape_count(&t->shape));
  return GESTA_STATUS_OK;
}

static gesta_status optim_cpu_adam(const gesta_optim_step *step,
                                   const gesta_tensor *param,
                                   const gesta_tensor *grad,
                                   const gesta_tensor *m_t,
                                   const gesta_tensor *v_t, gesta_error *err) {
  float *p = gesta_tensor_host_data(param);
  const float *g = gesta_tensor_host_data(grad);
  float *m = gesta_tensor_host_data(m_t), *v = gesta_tensor_host_data(v_t);
  int64_t n = gesta_shape_count(&param->shape);
  gesta_optim_step s = *step;
  /* A square root and a division per element. */
  int parts = gesta_cpu_parts(n, GESTA_CPU_GRAIN_MATH);
  (void)err;
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int q = 0; q < parts; q++) {
    int64_t i1 = gesta_cpu_split(n, parts, q + 1);
    for (int64_t i = gesta_cpu_split(n, parts, q); i < i1; i++) {
      m[i] += (g[i] - m[i]) * s.one_minus_beta1;
      v[i] += (g[i] * g[i] - v[i]) * s.one_minus_beta2;
      p[i] -= (m[i] * s.alpha) / (sqrtf(v[i]) + s.epsilon);
    }
  }
  return GESTA_STATUS_OK;
}

static gesta_status optim_cpu_sgd(const gesta_optim_step *step,
                                  const gesta_tensor *param,
                                  const gesta_tensor *grad,
                                  const gesta_tensor *momentum,
                                  gesta_error *err) {
  float *p = gesta_tensor_host_data(param);
  const float *g = gesta_tensor_host_data(grad);
  float *m = momentum ? gesta_tensor_host_data(momentum) : NULL;
  int64_t n = gesta_shape_count(&param->shape);
  float lr = step->learning_rate, mu = step->momentum;
  bool nesterov = step->nesterov;
  int parts = gesta_cpu_parts(n, GESTA_CPU_GRAIN_COPY);
  (void)err;
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int q = 0; q < parts; q++) {
    int64_t i1 = gesta_cpu_split(n, parts, q + 1);
    for (int64_t i = gesta_cpu_split(n, parts, q); i < i1; i++) {
      if (!m) {
        p[i] -= g[i] * lr;
        continue;
      }
      m[i] = m[i] * mu - g[i] * lr;
      p[i] += nesterov ? m[i] * mu - g[i] * lr : m[i];
    }
  }
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
