/* Shared pieces of the CPU backward kernels: see train_ops.h. */
#include "train_ops.h"

#include <math.h>
#include <string.h>

void gesta_activation_backward(gesta_activation act, bool logits,
                               const float *y, const float *dy, float *dz,
                               int64_t rows, int64_t cols) {
  int64_t n = rows * cols;
  switch (act) {
  case GESTA_ACTIVATION_LINEAR:
    if (dz != dy && n > 0)
      memcpy(dz, dy, (size_t)n * sizeof(float));
    break;
  case GESTA_ACTIVATION_RELU:
    /* The output is positive exactly where the input was: relu'(0) = 0,
     * as TF takes it. */
    for (int64_t k = 0; k < n; k++)
      dz[k] = y[k] > 0.0f ? dy[k] : 0.0f;
    break;
  case GESTA_ACTIVATION_SIGMOID:
    for (int64_t k = 0; k < n; k++)
      dz[k] = dy[k] * y[k] * (1.0f - y[k]);
    break;
  case GESTA_ACTIVATION_TANH:
    for (int64_t k = 0; k < n; k++)
      dz[k] = dy[k] * (1.0f - y[k] * y[k]);
    break;
  case GESTA_ACTIVATION_SOFTMAX:
    if (logits) {
      if (dz != dy && n > 0)
        memcpy(dz, dy, (size_t)n * sizeof(float));
      break;
    }
    /* Jacobian-vector product: dz_j = y_j (dy_j - sum_k dy_k y_k). */
    for (int64_t r = 0; r < rows; r++) {
      const float *yr = y + r * cols, *dyr = dy + r * cols;
      float *dzr = dz + r * cols;
      double dot = 0.0;
      for (int64_t j = 0; j < cols; j++)
        dot += (double)dyr[j] * yr[j];
      for (int64_t j = 0; j < cols; j++)
        dzr[j] = yr[j] * (float)((double)dyr[j] - dot);
    }
    break;
  }
}

gesta_status gesta_activation_op_backward(const gesta_op_grad_call *call,
                                          gesta_activation act,
                                          gesta_error *err) {
  const gesta_tensor *out = call->forward->output;
  float *dx = gesta_grad_host(call->input_grads, 0);
  int64_t count = gesta_shape_count(&out->shape);
  int64_t cols = out->shape.rank > 0 ? out->shape.dims[out->shape.rank - 1] : 1;
  (void)err;
  if (!dx || count == 0)
    return GESTA_STATUS_OK;
  gesta_activation_backward(
      act, call->output_grad_is_logits, gesta_tensor_host_data(out),
      gesta_tensor_host_data(call->output_grad), dx, count / cols, cols);
  return GESTA_STATUS_OK;
}

gesta_status gesta_op_copy_backward(const gesta_op_grad_call *call,
                                    gesta_error *err) {
  float *dx = gesta_grad_host(call->input_grads, 0);
  const float *dy = gesta_tensor_host_data(call->output_grad);
  size_t bytes = gesta_tensor_bytes(call->output_grad);
  (void)err;
  if (dx && dx != dy && bytes > 0)
    memcpy(dx, dy, bytes);
  return GESTA_STATUS_OK;
}

void gesta_grad_column_sums(const float *m, int64_t rows, int64_t cols,
                            float *out) {
  /* Row by row over blocks of columns: one pass over memory, in order. */
  enum { BLOCK = 256 };
  for (int64_t j0 = 0; j0 < cols; j0 += BLOCK) {
    int64_t w = cols - j0 < BLOCK ? cols - j0 : BLOCK;
    double acc[BLOCK] = {0};
    for (int64_t r = 0; r < rows; r++) {
      const float *row = m + r * cols + j0;
      for (int64_t j = 0; j < w; j++)
        acc[j] += row[j];
    }
    for (int64_t j = 0; j < w; j++)
      out[j0 + j] = (float)acc[j];
  }
}

uint32_t gesta_dropout_threshold(double rate) {
  double t = ceil(rate * 16777216.0);
  if (!(t > 0.0))
    return 0;
  return t >= 16777216.0 ? 16777216u : (uint32_t)t;
}

float gesta_dropout_scale(double rate) {
  return rate < 1.0 ? (float)(1.0 / (1.0 - rate)) : 0.0f;
}
