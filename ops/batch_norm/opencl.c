/* batch_norm on OpenCL: one kernel folds the statistics into a per-channel
 * scale and shift in the workspace, a second applies them to every
 * element. At inference the statistics are the moving ones; in training
 * (Keras 3) the batch's mean and biased variance, summed per channel in two
 * passes in double where the device has it; they go to `saved` as mean and
 * 1 / sqrt(var + eps) for backward and move the moving statistics in
 * place (batch_norm_train.cl). */
#include <assert.h>
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

static int64_t batch_norm_opencl_channels(const gesta_op_call *call) {
  const gesta_shape *in = &call->inputs[0].shape;
  assert(in->rank >= 1);
  return in->dims[in->rank - 1];
}

static int64_t batch_norm_opencl_rows(const gesta_op_call *call) {
  int64_t c = batch_norm_opencl_channels(call);
  return c > 0 ? gesta_shape_count(&call->inputs[0].shape) / c : 0;
}

/* Scale and shift; in training also the variance and the column sums'
 * scratch. */
static size_t batch_norm_opencl_workspace_bytes(const gesta_op_call *call) {
  size_t c = (size_t)batch_norm_opencl_channels(call);
  if (!call->training)
    return 2 * c * sizeof(float);
  return (3 * c + gesta_cl_colsum_scratch(
                      (cl_ulong)batch_norm_opencl_rows(call), (cl_uint)c)) *
         sizeof(float);
}

static size_t batch_norm_opencl_saved_bytes(const gesta_op_call *call) {
  return 2 * (size_t)batch_norm_opencl_channels(call) * sizeof(float);
}

/* Training: the batch's statistics into saved and ws (see
 * batch_norm_train_stats), the moving statistics moved. */
static gesta_status batch_norm_opencl_batch_stats(gesta_opencl *cl,
                                                  const gesta_op_call *call,
                                                  gesta_error *err) {
  int64_t c64 = batch_norm_opencl_channels(call);
  cl_uint channels = (cl_uint)c64;
  cl_ulong rows = (cl_ulong)batch_norm_opencl_rows(call);
  double eps = gesta_node_attr_float(call->node, "epsilon");
  cl_float eps_hi = (cl_float)eps;
  cl_float eps_lo = (cl_float)(eps - (double)eps_hi);
  cl_float momentum = (cl_float)gesta_node_attr_float(call->node, "momentum");
  gesta_cl_span x = gesta_cl_span_of(&call->inputs[0]);
  gesta_cl_span saved = gesta_cl_span_of(call->saved);
  gesta_cl_span ws = gesta_cl_span_of(call->workspace);
  gesta_cl_span mean = gesta_cl_span_at(saved, 0, channels);
  gesta_cl_span var = gesta_cl_span_at(ws, 2 * (cl_ulong)channels, channels);
  gesta_cl_span scratch = gesta_cl_span_at(ws, 3 * (cl_ulong)channels, 0);
  gesta_cl_span p[4];
  gesta_status st;
  for (int i = 0; i < 4; i++)
    p[i] = gesta_cl_span_of(&call->params[i]);
  st = gesta_cl_colsums(cl, GESTA_CL_SUM, x, x, x, rows, channels, true,
                        scratch, mean, err);
  if (st == GESTA_STATUS_OK)
    st = gesta_cl_colsums(cl, GESTA_CL_SUM_SQDEV, x, x, mean, rows, channels,
                          true, scratch, var, err);
  if (st != GESTA_STATUS_OK)
    return st;
  {
    size_t global[1] = {(size_t)channels};
    gesta_cl_arg args[] = {GESTA_CL_ARG(saved.mem), GESTA_CL_ARG(saved.offset),
                           GESTA_CL_ARG(ws.mem),    GESTA_CL_ARG(ws.offset),
                           GESTA_CL_ARG(p[0].mem),  GESTA_CL_ARG(p[0].offset),
                           GESTA_CL_ARG(p[1].mem),  GESTA_CL_ARG(p[1].offset),
                           GESTA_CL_ARG(p[2].mem),  GESTA_CL_ARG(p[2].offset),
                           GESTA_CL_ARG(p[3].mem),  GESTA_CL_ARG(p[3].offset),
                           GESTA_CL_ARG(channels),  GESTA_CL_ARG(momentum),
                           GESTA_CL_ARG(eps_hi),    GESTA_CL_ARG(eps_lo)};
    return gesta_opencl_launch(cl, "batch_norm", "batch_norm_train_stats", 1,
                               global, NULL, args,
                               (int)(sizeof args / sizeof args[0]), err);
  }
}

static gesta_status batch_norm_opencl_forward(const gesta_op_call *call,
                                              gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  int64_t c = batch_norm_opencl_channels(call);
  int64_t count = gesta_shape_count(&call->inputs[0].shape);
  double eps = gesta_node_attr_float(call->node, "epsilon");
  cl_float eps_hi = (cl_float)eps;
  cl_float eps_lo = (cl_float)(eps - (double)eps_hi);
  cl_uint channels = (cl_uint)c;
  cl_ulong n = (cl_ulong)count;
  cl_mem p[4], ws, x, y;
  cl_uint p_off[4], ws_off, x_off, y_off;
  gesta_status st;
  assert(call->n_params == 4);
  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "batch_norm: the OpenCL kernel ran on a non-OpenCL "
                           "backend");
  if (!call->workspace)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "batch_norm: the executor gave no workspace");
  if (count == 0 || c == 0)
    return GESTA_STATUS_OK;
  if (c > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "batch_norm over %lld channels is beyond the OpenCL "
                           "kernel's 32-bit channel count",
                           (long long)c);
  for (int i = 0; i < 4; i++) {
    p[i] = gesta_opencl_mem(&call->params[i]);
    p_off[i] = gesta_opencl_offset(&call->params[i]);
  }
  ws = gesta_opencl_mem(call->workspace);
  ws_off = gesta_opencl_offset(call->workspace);
  x = gesta_opencl_mem(&call->inputs[0]);
  x_off = gesta_opencl_offset(&call->inputs[0]);
  y = gesta_opencl_mem(call->output);
  y_off = gesta_opencl_offset(call->output);
  if (call->training) {
    if (!call->saved)
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "batch_norm: training without saved state");
    st = batch_norm_opencl_batch_stats(cl, call, err);
  } else {
    size_t global[1] = {(size_t)c};
    gesta_cl_arg args[] = {
        GESTA_CL_ARG(p[0]),     GESTA_CL_ARG(p_off[0]), GESTA_CL_ARG(p[1]),
        GESTA_CL_ARG(p_off[1]), GESTA_CL_ARG(p[2]),     GESTA_CL_ARG(p_off[2]),
        GESTA_CL_ARG(p[3]),     GESTA_CL_ARG(p_off[3]), GESTA_CL_ARG(ws),
        GESTA_CL_ARG(ws_off),   GESTA_CL_ARG(channels), GESTA_CL_ARG(eps_hi),
        GESTA_CL_ARG(eps_lo)};
    st = gesta_opencl_launch(cl, "batch_norm", "batch_norm_fold", 1, global,
                             NULL, args, (int)(sizeof args / sizeof args[0]),
                             err);
  }
  if (st != GESTA_STATUS_OK)
    return st;
  {
    size_t global[1] = {(size_t)count};
    gesta_cl_arg args[] = {GESTA_CL_ARG(x),        GESTA_CL_ARG(x_off),
                           GESTA_CL_ARG(y),        GESTA_CL_ARG(y_off),
                           GESTA_CL_ARG(ws),       GESTA_CL_ARG(ws_off),
                           GESTA_CL_ARG(channels), GESTA_CL_ARG(n)};
    return gesta_opencl_launch(cl, "batch_norm", "batch_norm_apply", 1, global,
                               NULL, args, (int)(sizeof args / sizeof args[0]),
                               err);
  }
}

/* (mean, invstd) at inference, then the sums dbeta and dgamma, then the
 * column sums' scratch. */
static size_t
batch_norm_opencl_backward_workspace_bytes(const gesta_op_grad_call *call) {
  const gesta_op_call *fw = call->forward;
  size_t c = (size_t)batch_norm_opencl_channels(fw);
  return (4 * c + gesta_cl_colsum_scratch((cl_ulong)batch_norm_opencl_rows(fw),
                                          (cl_uint)c)) *
         sizeof(float);
}

/* With xhat = (x - mean) * invstd: dbeta = sum dy, dgamma = sum dy * xhat,
 * and dx as batch_norm_backward_dx says. */
static gesta_status batch_norm_opencl_backward(const gesta_op_grad_call *call,
                                               gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  gesta_opencl *cl = gesta_cl_from_call(fw, "batch_norm", err);
  int64_t c64 = batch_norm_opencl_channels(fw);
  cl_uint channels = (cl_uint)c64;
  cl_ulong rows = (cl_ulong)batch_norm_opencl_rows(fw);
  cl_ulong count = rows * channels;
  cl_int training = fw->training;
  gesta_cl_span x = gesta_cl_span_of(&fw->inputs[0]);
  gesta_cl_span gamma = gesta_cl_span_of(&fw->params[0]);
  gesta_cl_span dy = gesta_cl_span_of(call->output_grad);
  gesta_cl_span dx = gesta_cl_grad_span(call->input_grads, 0);
  gesta_cl_span dgamma = gesta_cl_grad_span(call->param_grads, 0);
  gesta_cl_span dbeta = gesta_cl_grad_span(call->param_grads, 1);
  gesta_cl_span ws = gesta_cl_span_of(call->workspace);
  gesta_cl_span stats = gesta_cl_span_at(ws, 0, 2 * (cl_ulong)channels);
  gesta_cl_span sums = gesta_cl_span_at(ws, 2 * (cl_ulong)channels, 0);
  gesta_cl_span sdb = gesta_cl_span_at(sums, 0, channels);
  gesta_cl_span sdg = gesta_cl_span_at(sums, channels, channels);
  gesta_cl_span scratch = gesta_cl_span_at(ws, 4 * (cl_ulong)channels, 0);
  gesta_status st = GESTA_STATUS_OK;
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (!ws.mem || (fw->training && !fw->saved))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "batch_norm: backward without its workspace or "
                           "saved statistics");
  if (c64 == 0)
    return GESTA_STATUS_OK;
  if (c64 > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "batch_norm over %lld channels is beyond the OpenCL "
                           "kernel's 32-bit channel count",
                           (long long)c64);
  if (fw->training) {
    stats = gesta_cl_span_of(fw->saved);
  } else {
    double eps = gesta_node_attr_float(fw->node, "epsilon");
    cl_float eps_hi = (cl_float)eps;
    cl_float eps_lo = (cl_float)(eps - (double)eps_hi);
    gesta_cl_span mm = gesta_cl_span_of(&fw->params[2]);
    gesta_cl_span mv = gesta_cl_span_of(&fw->params[3]);
    size_t global[1] = {(size_t)channels};
    gesta_cl_arg args[] = {GESTA_CL_ARG(mm.mem),    GESTA_CL_ARG(mm.offset),
                           GESTA_CL_ARG(mv.mem),    GESTA_CL_ARG(mv.offset),
                           GESTA_CL_ARG(stats.mem), GESTA_CL_ARG(stats.offset),
                           GESTA_CL_ARG(channels),  GESTA_CL_ARG(eps_hi),
                           GESTA_CL_ARG(eps_lo)};
    st = gesta_opencl_launch(cl, "batch_norm", "batch_norm_moving_stats", 1,
                             global, NULL, args,
                             (int)(sizeof args / sizeof args[0]), err);
  }
  if (st == GESTA_STATUS_OK)
    st = gesta_cl_colsums(cl, GESTA_CL_SUM, dy, dy, dy, rows, channels, false,
                          scratch, sdb, err);
  if (st == GESTA_STATUS_OK)
    st = gesta_cl_colsums(cl, GESTA_CL_SUM_PROD_NORM, x, dy, stats, rows,
                          channels, false, scratch, sdg, err);
  if (st == GESTA_STATUS_OK && dbeta.mem)
    st = gesta_cl_copy(cl, sdb, dbeta, err);
  if (st == GESTA_STATUS_OK && dgamma.mem)
    st = gesta_cl_copy(cl, sdg, dgamma, err);
  if (st != GESTA_STATUS_OK || !dx.mem || count == 0)
    return st;
  {
    size_t global[1] = {(size_t)count};
    gesta_cl_arg args[] = {GESTA_CL_ARG(x.mem),     GESTA_CL_ARG(x.offset),
                           GESTA_CL_ARG(dy.mem),    GESTA_CL_ARG(dy.offset),
                           GESTA_CL_ARG(dx.mem),    GESTA_CL_ARG(dx.offset),
                           GESTA_CL_ARG(gamma.mem), GESTA_CL_ARG(gamma.offset),
                           GESTA_CL_ARG(stats.mem), GESTA_CL_ARG(stats.offset),
                           GESTA_CL_ARG(sums.mem),  GESTA_CL_ARG(sums.offset),
                           GESTA_CL_ARG(count),     GESTA_CL_ARG(channels),
                           GESTA_CL_ARG(training)};
    return gesta_opencl_launch(cl, "batch_norm", "batch_norm_backward_dx", 1,
                               global, NULL, args,
                               (int)(sizeof args / sizeof args[0]), err);
  }
}

const gesta_op_kernel gesta_op_batch_norm_opencl = {
    .forward = batch_norm_opencl_forward,
    .workspace_bytes = batch_norm_opencl_workspace_bytes,
    .backward = batch_norm_opencl_backward,
    .backward_workspace_bytes = batch_norm_opencl_backward_workspace_bytes,
    .saved_bytes = batch_norm_opencl_saved_bytes,
};
