/* Host activations. Plain loops: the compiler vectorises the element-wise
 * ones, and they are a small share of any model's time next to the GEMMs. */
#include "activation.h"

#include <assert.h>
#include <math.h>
#include <string.h>

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

void gesta_activation_apply(gesta_activation act, float *data, int64_t rows,
                            int64_t cols) {
  int64_t n = rows * cols;
  switch (act) {
  case GESTA_ACTIVATION_LINEAR:
    break;
  case GESTA_ACTIVATION_RELU:
    for (int64_t k = 0; k < n; k++)
      data[k] = data[k] > 0.0f ? data[k] : 0.0f;
    break;
  case GESTA_ACTIVATION_SIGMOID:
    /* expf(-x) overflows to inf for very negative x, giving exactly 0. */
    for (int64_t k = 0; k < n; k++)
      data[k] = 1.0f / (1.0f + expf(-data[k]));
    break;
  case GESTA_ACTIVATION_TANH:
    for (int64_t k = 0; k < n; k++)
      data[k] = tanhf(data[k]);
    break;
  case GESTA_ACTIVATION_SOFTMAX:
    if (cols > 0)
      activation_softmax_rows(data, rows, cols);
    break;
  }
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
  if (x != y)
    memcpy(y, x, (size_t)count * sizeof(float));
  gesta_activation_apply(act, y, count / cols, cols);
  return GESTA_STATUS_OK;
}
