/* The trainer's per-backend arithmetic outside the ops: summing gradients,
 * zeroing, and the optimisers' element-wise updates. One small table per
 * backend kind; the CPU's works through host pointers. A backend joins
 * training by adding its table to gesta_train_kernels_for() (optim.c). */
#ifndef GESTA_TRAIN_INTERNAL_H
#define GESTA_TRAIN_INTERNAL_H

#include "gesta/train.h"

/* One update's scalars, computed once per step on the host. */
typedef struct gesta_optim_step {
  float learning_rate;
  /* Adam: lr * sqrt(1 - beta2^t) / (1 - beta1^t), and 1 - beta1,
   * 1 - beta2 as Keras multiplies by them. */
  float alpha, one_minus_beta1, one_minus_beta2, epsilon;
  float momentum; /* SGD */
  bool nesterov;
} gesta_optim_step;

typedef struct gesta_train_kernels {
  /* dst += src over dst's shape. */
  gesta_status (*accumulate)(const gesta_tensor *dst, const gesta_tensor *src,
                             gesta_error *err);
  gesta_status (*fill_zero)(const gesta_tensor *t, gesta_error *err);
  /* Keras 3's Adam on one parameter: m += (g - m) * (1 - beta1);
   * v += (g^2 - v) * (1 - beta2); param -= m * alpha / (sqrt(v) + eps). */
  gesta_status (*adam)(const gesta_optim_step *step, const gesta_tensor *param,
                       const gesta_tensor *grad, const gesta_tensor *m,
                       const gesta_tensor *v, gesta_error *err);
  /* Keras 3's SGD; momentum NULL for plain SGD (param -= lr * g), else
   * m = m * momentum - lr * g and param += m (Nesterov: param +=
   * m * momentum - lr * g). */
  gesta_status (*sgd)(const gesta_optim_step *step, const gesta_tensor *param,
                      const gesta_tensor *grad, const gesta_tensor *momentum,
                      gesta_error *err);
} gesta_train_kernels;

/* The table for a backend, NULL when it cannot train yet. */
const gesta_train_kernels *gesta_train_kernels_for(const gesta_backend *b);

#if GESTA_HAVE_OPENCL
/* The OpenCL backend's table (backends/opencl/optim.c). */
const gesta_train_kernels *gesta_opencl_train_kernels(void);
#endif

/* This step's scalars for update number `t` (1-based). */
gesta_optim_step gesta_optim_step_make(const gesta_optim_config *config,
                                       int64_t t);

#endif
