/* global_avg_pool2d on the CPU; sums in double so that a large frame's
 * mean keeps full float precision. */
#include <assert.h>

#include "op_util.h"
#include "train_ops.h"

static gesta_status global_avg_pool2d_forward(const gesta_op_call *call,
                                              gesta_error *err) {
  const gesta_shape *in = &call->inputs[0].shape;
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  float *y = gesta_tensor_host_data(call->output);
  int64_t n, hw, c;
  (void)err;
  assert(in->rank == 4);
  n = in->dims[0];
  hw = in->dims[1] * in->dims[2];
  c = in->dims[3];
  for (int64_t img = 0; img < n; img++) {
    const float *frame = x + img * hw * c;
    for (int64_t ch = 0; ch < c; ch++) {
      double sum = 0.0;
      for (int64_t p = 0; p < hw; p++)
        sum += frame[p * c + ch];
      y[img * c + ch] = (float)(sum / (double)hw);
    }
  }
  return GESTA_STATUS_OK;
}

/* Every pixel of a frame gets 1 / (H * W) of its channel's gradient. */
static gesta_status global_avg_pool2d_backward(const gesta_op_grad_call *call,
                                               gesta_error *err) {
  const gesta_shape *in = &call->forward->inputs[0].shape;
  const float *dy = gesta_tensor_host_data(call->output_grad);
  float *dx = gesta_grad_host(call->input_grads, 0);
  int64_t n = in->dims[0], hw = in->dims[1] * in->dims[2], c = in->dims[3];
  (void)err;
  if (!dx)
    return GESTA_STATUS_OK;
  for (int64_t img = 0; img < n; img++)
    for (int64_t p = 0; p < hw; p++)
      for (int64_t ch = 0; ch < c; ch++)
        dx[(img * hw + p) * c + ch] =
            (float)((double)dy[img * c + ch] / (double)hw);
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_global_avg_pool2d_cpu = {
    .forward = global_avg_pool2d_forward,
    .workspace_bytes = NULL,
    .backward = global_avg_pool2d_backward,
};
