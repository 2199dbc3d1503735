/* batch_norm inference on the CPU. The per-channel scale and shift are
 * folded once into the workspace, so the loop over the data is one
 * multiply-add per element. */
#include <assert.h>
#include <math.h>

#include "op_util.h"

static int64_t batch_norm_channels(const gesta_op_call *call) {
  const gesta_shape *in = &call->inputs[0].shape;
  assert(in->rank >= 1);
  return in->dims[in->rank - 1];
}

static size_t batch_norm_workspace_bytes(const gesta_op_call *call) {
  return 2 * (size_t)batch_norm_channels(call) * sizeof(float);
}

static gesta_status batch_norm_forward(const gesta_op_call *call,
                                       gesta_error *err) {
  int64_t c = batch_norm_channels(call);
  int64_t rows = c > 0 ? gesta_shape_count(&call->inputs[0].shape) / c : 0;
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  const float *gamma = gesta_tensor_host_data(&call->params[0]);
  const float *beta = gesta_tensor_host_data(&call->params[1]);
  const float *mean = gesta_tensor_host_data(&call->params[2]);
  const float *var = gesta_tensor_host_data(&call->params[3]);
  double eps = gesta_node_attr_float(call->node, "epsilon");
  float *y = gesta_tensor_host_data(call->output);
  float *scale, *shift;
  assert(call->n_params == 4);
  if (!call->workspace)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "batch_norm: the executor gave no workspace");
  scale = gesta_tensor_host_data(call->workspace);
  shift = scale + c;
  for (int64_t ch = 0; ch < c; ch++) {
    double s = (double)gamma[ch] / sqrt((double)var[ch] + eps);
    scale[ch] = (float)s;
    shift[ch] = (float)((double)beta[ch] - (double)mean[ch] * s);
  }
  for (int64_t r = 0; r < rows; r++)
    for (int64_t ch = 0; ch < c; ch++)
      y[r * c + ch] = x[r * c + ch] * scale[ch] + shift[ch];
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_batch_norm_cpu = {
    .forward = batch_norm_forward,
    .workspace_bytes = batch_norm_workspace_bytes,
};
