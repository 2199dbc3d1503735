/* batch_norm on the CPU. The per-channel scale and shift are folded once
 * into the workspace, so the loop over the data is one multiply-add per
 * element.
 *
 * Training (Keras 3's BatchNormalization): the statistics are the batch's
 * mean and biased variance over every axis but the last; they normalise the
 * batch, go to `saved` as mean and 1 / sqrt(var + eps) for backward, and
 * move the moving statistics in place: moving = moving * momentum + batch *
 * (1 - momentum), the biased variance included. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "op_util.h"
#include "train_ops.h"

static int64_t batch_norm_channels(const gesta_op_call *call) {
  const gesta_shape *in = &call->inputs[0].shape;
  assert(in->rank >= 1);
  return in->dims[in->rank - 1];
}

/* Inference: scale and shift (floats). Training: two sums per channel in
 * double. */
static size_t batch_norm_workspace_bytes(const gesta_op_call *call) {
  return 2 * (size_t)batch_norm_channels(call) * sizeof(double);
}

static size_t batch_norm_saved_bytes(const gesta_op_call *call) {
  return 2 * (size_t)batch_norm_channels(call) * sizeof(float);
}

/* Batch mean and 1 / sqrt(biased variance + eps) per channel into
 * mean / invstd; updates the moving statistics. Two passes, in double. */
static void batch_norm_batch_stats(const gesta_op_call *call, int64_t rows,
                                   int64_t c, double *acc, float *mean,
                                   float *invstd) {
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  float *moving_mean = gesta_tensor_host_data(&call->params[2]);
  float *moving_var = gesta_tensor_host_data(&call->params[3]);
  float momentum = (float)gesta_node_attr_float(call->node, "momentum");
  double eps = gesta_node_attr_float(call->node, "epsilon");
  double *sum = acc, *sq = acc + c;
  memset(acc, 0, 2 * (size_t)c * sizeof(double));
  for (int64_t r = 0; r < rows; r++)
    for (int64_t ch = 0; ch < c; ch++)
      sum[ch] += x[r * c + ch];
  for (int64_t ch = 0; ch < c; ch++)
    sum[ch] /= (double)rows;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t ch = 0; ch < c; ch++) {
      double d = x[r * c + ch] - sum[ch];
      sq[ch] += d * d;
    }
  for (int64_t ch = 0; ch < c; ch++) {
    float var = (float)(sq[ch] / (double)rows);
    mean[ch] = (float)sum[ch];
    invstd[ch] = (float)(1.0 / sqrt((double)var + eps));
    moving_mean[ch] = moving_mean[ch] * momentum + mean[ch] * (1.0f - momentum);
    moving_var[ch] = moving_var[ch] * momentum + var * (1.0f - momentum);
  }
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
  if (call->training) {
    float *saved, *invstd;
    if (!call->saved)
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "batch_norm: training without saved state");
    if (rows == 0)
      return GESTA_STATUS_OK;
    saved = gesta_tensor_host_data(call->saved);
    invstd = saved + c;
    batch_norm_batch_stats(call, rows, c,
                           (double *)gesta_tensor_host_data(call->workspace),
                           saved, invstd);
    /* The workspace's sums are spent: reuse its start for scale, shift. */
    scale = gesta_tensor_host_data(call->workspace);
    shift = scale + c;
    for (int64_t ch = 0; ch < c; ch++) {
      scale[ch] = gamma[ch] * invstd[ch];
      shift[ch] = beta[ch] - saved[ch] * scale[ch];
    }
  } else {
    scale = gesta_tensor_host_data(call->workspace);
    shift = scale + c;
    for (int64_t ch = 0; ch < c; ch++) {
      double s = (double)gamma[ch] / sqrt((double)var[ch] + eps);
      scale[ch] = (float)s;
      shift[ch] = (float)((double)beta[ch] - (double)mean[ch] * s);
    }
  }
  for (int64_t r = 0; r < rows; r++)
    for (int64_t ch = 0; ch < c; ch++)
      y[r * c + ch] = x[r * c + ch] * scale[ch] + shift[ch];
  return GESTA_STATUS_OK;
}

/* Sums dbeta and dgamma per channel in double, then per-channel mean and
 * inverse deviation as floats. */
static size_t
batch_norm_backward_workspace_bytes(const gesta_op_grad_call *call) {
  size_t c = (size_t)batch_norm_channels(call->forward);
  return 2 * c * sizeof(double) + 2 * c * sizeof(float);
}

/* With xhat = (x - mean) * invstd: dbeta = sum dy, dgamma = sum dy * xhat,
 * and in training (the statistics depend on x)
 * dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma); at inference
 * (the moving statistics, constants) dx = gamma * invstd * dy. */
static gesta_status batch_norm_backward(const gesta_op_grad_call *call,
                                        gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  int64_t c = batch_norm_channels(fw);
  int64_t rows = c > 0 ? gesta_shape_count(&fw->inputs[0].shape) / c : 0;
  const float *x = gesta_tensor_host_data(&fw->inputs[0]);
  const float *gamma = gesta_tensor_host_data(&fw->params[0]);
  const float *dy = gesta_tensor_host_data(call->output_grad);
  float *dx = gesta_grad_host(call->input_grads, 0);
  float *dgamma = gesta_grad_host(call->param_grads, 0);
  float *dbeta = gesta_grad_host(call->param_grads, 1);
  double *sdb, *sdg, m = (double)rows;
  float *mean, *invstd;
  if (!call->workspace || (fw->training && !fw->saved))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "batch_norm: backward without its workspace or "
                           "saved statistics");
  sdb = (double *)gesta_tensor_host_data(call->workspace);
  sdg = sdb + c;
  mean = (float *)(sdg + c);
  invstd = mean + c;
  if (fw->training) {
    const float *saved = gesta_tensor_host_data(fw->saved);
    memcpy(mean, saved, 2 * (size_t)c * sizeof(float));
  } else {
    const float *mm = gesta_tensor_host_data(&fw->params[2]);
    const float *mv = gesta_tensor_host_data(&fw->params[3]);
    double eps = gesta_node_attr_float(fw->node, "epsilon");
    for (int64_t ch = 0; ch < c; ch++) {
      mean[ch] = mm[ch];
      invstd[ch] = (float)(1.0 / sqrt((double)mv[ch] + eps));
    }
  }
  memset(sdb, 0, 2 * (size_t)c * sizeof(double));
  for (int64_t r = 0; r < rows; r++)
    for (int64_t ch = 0; ch < c; ch++) {
      float d = dy[r * c + ch];
      sdb[ch] += d;
      sdg[ch] += (double)d * ((x[r * c + ch] - mean[ch]) * invstd[ch]);
    }
  for (int64_t ch = 0; ch < c; ch++) {
    if (dbeta)
      dbeta[ch] = (float)sdb[ch];
    if (dgamma)
      dgamma[ch] = (float)sdg[ch];
  }
  if (!dx)
    return GESTA_STATUS_OK;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t ch = 0; ch < c; ch++) {
      double d = dy[r * c + ch];
      if (fw->training) {
        double xhat = ((double)x[r * c + ch] - mean[ch]) * invstd[ch];
        d = (m * d - sdb[ch] - xhat * sdg[ch]) / m;
      }
      dx[r * c + ch] = (float)((double)gamma[ch] * invstd[ch] * d);
    }
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_batch_norm_cpu = {
    .forward = batch_norm_forward,
    .workspace_bytes = batch_norm_workspace_bytes,
    .backward = batch_norm_backward,
    .backward_workspace_bytes = batch_norm_backward_workspace_bytes,
    .saved_bytes = batch_norm_saved_bytes,
};
