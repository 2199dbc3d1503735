/* Host activations, cut across the CPU backend's threads when the tensor is
 * large enough (cpu/parallel.h). Each part is a plain loop the compiler
 * vectorises; softmax parts are whole rows. Every element's result is the
 * same whatever the cut. */
#include "activation.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "cpu/parallel.h"

static void activation_softmax_rows(float *data, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    float *row = data + r * cols;
    float max = row[0];
    double sum = 0.0;
    for (int64_t j = 1; j < cols; j++)
      if (row[j] > max)
        max = row[j];
    for (int64_t j = 0; j < cols; j++) {
      row[j] = expf(row[j] - max);
      sum += row[j];
    }
    /* sum >= 1: the maximum contributes exp(0). */
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < cols; j++)
      row[j] *= inv;
  }
}

/* act on elements [i0, i1) of data; softmax: on rows [i0, i1). */
static void activation_apply_range(gesta_activation act, float *data,
                                   int64_t i0, int64_t i1, int64_t cols) {
  switch (act) {
  case GESTA_ACTIVATION_LINEAR:
    break;
  case GESTA_ACTIVATION_RELU:
    for (int64_t k = i0; k < i1; k++)
      data[k] = data[k] > 0.0f ? data[k] : 0.0f;
    break;
  case GESTA_ACTIVATION_SIGMOID:
    /* expf(-x) overflows to inf for very negative x, giving exactly 0. */
    for (int64_t k = i0; k < i1; k++)
      data[k] = 1.0f / (1.0f + expf(-data[k]));
    break;
  case GESTA_ACTIVATION_TANH:
    for (int64_t k = i0; k < i1; k++)
      data[k] = tanhf(data[k]);
    break;
  case GESTA_ACTIVATION_SOFTMAX:
    activation_softmax_rows(data + i0 * cols, i1 - i0, cols);
    break;
  }
}

/* One call's arguments, for its parts: elements (rows for softmax) [0, n)
 * cut into `parts`. */
typedef struct activation_args {
  gesta_activation act;
  const float *y, *dy;
  float *data;
  int64_t n, cols;
  int parts;
} activation_args;

static void activation_apply_part(void *ctx, int p) {
  const activation_args *a = ctx;
  activation_apply_range(a->act, a->data, gesta_cpu_split(a->n, a->parts, p),
                         gesta_cpu_split(a->n, a->parts, p + 1), a->cols);
}

void gesta_activation_apply(gesta_activation act, float *data, int64_t rows,
                            int64_t cols) {
  bool softmax = act == GESTA_ACTIVATION_SOFTMAX;
  activation_args a = {act,  NULL, NULL, data, softmax ? rows : rows * cols,
                       cols, 1};
  if (act == GESTA_ACTIVATION_LINEAR || a.n <= 0 || cols <= 0)
    return;
  a.parts = gesta_cpu_parts(rows * cols, act == GESTA_ACTIVATION_RELU
                                             ? GESTA_CPU_GRAIN_COPY
                                             : GESTA_CPU_GRAIN_MATH);
  gesta_cpu_run(a.parts, activation_apply_part, &a);
}

gesta_status gesta_activation_forward(const gesta_op_call *call,
                                      gesta_activation act, gesta_error *err) {
  const gesta_tensor *in = &call->inputs[0];
  const float *x = gesta_tensor_host_data(in);
  float *y = gesta_tensor_host_data(call->output);
  int64_t count = gesta_shape_count(&in->shape);
  int64_t cols;
  (void)err;
  assert(count == gesta_shape_count(&call->output->shape));
  if (count == 0)
    return GESTA_STATUS_OK;
  cols = in->shape.rank > 0 ? in->shape.dims[in->shape.rank - 1] : 1;
  gesta_cpu_copy(y, x, count);
  gesta_activation_apply(act, y, count / cols, cols);
  return GESTA_STATUS_OK;
}

/* dz from dy and y on elements [i0, i1); softmax: on rows [i0, i1). */
static void activation_grad_range(gesta_activation act, const float *y,
                                  const float *dy, float *dz, int64_t i0,
                                  int64_t i1, int64_t cols) {
  switch (act) {
  case GESTA_ACTIVATION_LINEAR:
    if (dz != dy)
      memcpy(dz + i0, dy + i0, (size_t)(i1 - i0) * sizeof(float));
    break;
  case GESTA_ACTIVATION_RELU:
    /* The output is positive exactly where the input was: relu'(0) = 0,
     * as TF takes it. */
    /* dy is read whatever y says, so the loop is a select the compiler
     * vectorises, not a branch per value (half of them mispredicted). */
    for (int64_t k = i0; k < i1; k++) {
      float g = dy[k];
      dz[k] = y[k] > 0.0f ? g : 0.0f;
    }
    break;
  case GESTA_ACTIVATION_SIGMOID:
    for (int64_t k = i0; k < i1; k++)
      dz[k] = dy[k] * y[k] * (1.0f - y[k]);
    break;
  case GESTA_ACTIVATION_TANH:
    for (int64_t k = i0; k < i1; k++)
      dz[k] = dy[k] * (1.0f - y[k] * y[k]);
    break;
  case GESTA_ACTIVATION_SOFTMAX:
    /* Jacobian-vector product: dz_j = y_j (dy_j - sum_k dy_k y_k). */
    for (int64_t r = i0; r < i1; r++) {
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

static void activation_grad_part(void *ctx, int p) {
  const activation_args *a = ctx;
  activation_grad_range(a->act, a->y, a->dy, a->data,
                        gesta_cpu_split(a->n, a->parts, p),
                        gesta_cpu_split(a->n, a->parts, p + 1), a->cols);
}

void gesta_activation_grad(gesta_activation act, bool logits, const float *y,
                           const float *dy, float *dz, int64_t rows,
                           int64_t cols) {
  bool softmax = act == GESTA_ACTIVATION_SOFTMAX;
  activation_args a = {act, y, dy, dz, softmax ? rows : rows * cols, cols, 1};
  if (a.n <= 0 || cols <= 0)
    return;
  if (softmax && logits)
    a.act = GESTA_ACTIVATION_LINEAR, a.n = rows * cols;
  a.parts =
      gesta_cpu_parts(rows * cols, softmax && !logits ? GESTA_CPU_GRAIN_MATH
                                                      : GESTA_CPU_GRAIN_COPY);
  gesta_cpu_run(a.parts, activation_grad_part, &a);
}

gesta_status gesta_activation_op_grad(const gesta_op_grad_call *call,
                                      gesta_activation act, gesta_error *err) {
  const gesta_tensor *out = call->forward->output;
  const gesta_tensor *dy = call->output_grad;
  float *dx = NULL;
  int64_t count = gesta_shape_count(&out->shape);
  int64_t cols = out->shape.rank > 0 ? out->shape.dims[out->shape.rank - 1] : 1;
  (void)err;
  if (call->input_grads && call->input_grads[0].buffer)
    dx = gesta_tensor_host_data(&call->input_grads[0]);
  if (!dx || count == 0)
    return GESTA_STATUS_OK;
  gesta_activation_grad(act, call->output_grad_is_logits,
                        gesta_tensor_host_data(out), gesta_tensor_host_data(dy),
                        dx, count / cols, cols);
  return GESTA_STATUS_OK;
}
