/* dense on the CPU: every row of the input (all leading axes together) in
 * one GEMM against the (features x units) kernel, cut by rows across
 * threads when it is large, then bias and the fused activation. With a fused
 * softmax, the logits go to `saved` whenever the caller gives one (the trainer,
 * in training and evaluation), so the loss can be computed from them stably. */
#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "activation.h"
#include "cpu/parallel.h"
#include "op_util.h"
#include "train_ops.h"

static size_t dense_saved_bytes(const gesta_op_call *call) {
  if (gesta_node_attr_enum(call->node, "activation") !=
      GESTA_ACTIVATION_SOFTMAX)
    return 0;
  return gesta_tensor_bytes(call->output);
}

static gesta_status dense_forward(const gesta_op_call *call, gesta_error *err) {
  const gesta_shape *in = &call->inputs[0].shape;
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  const float *kernel = gesta_tensor_host_data(&call->params[0]);
  const float *bias =
      call->n_params > 1 ? gesta_tensor_host_data(&call->params[1]) : NULL;
  float *y = gesta_tensor_host_data(call->output);
  int64_t features, units, rows;
  gesta_activation act = gesta_node_attr_enum(call->node, "activation");
  assert(in->rank >= 1);
  features = in->dims[in->rank - 1];
  units = gesta_node_attr_int(call->node, "units");
  rows = features > 0 ? gesta_shape_count(in) / features : 0;
  if (rows == 0)
    return GESTA_STATUS_OK;
  if (rows > INT_MAX || features > INT_MAX || units > INT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "dense: a %lld x %lld by %lld x %lld matrix "
                           "product is beyond the BLAS interface's int sizes",
                           (long long)rows, (long long)features,
                           (long long)features, (long long)units);
  gesta_cpu_sgemm(CblasNoTrans, CblasNoTrans, (int)rows, (int)units,
                  (int)features, 1.0f, x, (int)features, kernel, (int)units,
                  0.0f, y, (int)units);
  if (bias)
    gesta_cpu_add_bias(y, bias, rows, units);
  if (call->saved && act == GESTA_ACTIVATION_SOFTMAX)
    gesta_cpu_copy(gesta_tensor_host_data(call->saved), y, rows * units);
  gesta_activation_apply(act, y, rows, units);
  return GESTA_STATUS_OK;
}

/* Backward: dz = dy through the activation (in the workspace unless the
 * activation is linear or the loss gave logits), then dX = dz . kernel^T,
 * dkernel = X^T . dz and dbias = the column sums of dz. */
static size_t dense_backward_workspace_bytes(const gesta_op_grad_call *call) {
  return (size_t)gesta_shape_count(&call->output_grad->shape) * sizeof(float);
}

static gesta_status dense_backward(const gesta_op_grad_call *call,
                                   gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  const gesta_shape *in = &fw->inputs[0].shape;
  const float *x = gesta_tensor_host_data(&fw->inputs[0]);
  const float *kernel = gesta_tensor_host_data(&fw->params[0]);
  const float *y = gesta_tensor_host_data(fw->output);
  const float *dy = gesta_tensor_host_data(call->output_grad);
  float *dx = gesta_grad_host(call->input_grads, 0);
  float *dkernel = gesta_grad_host(call->param_grads, 0);
  float *dbias =
      fw->n_params > 1 ? gesta_grad_host(call->param_grads, 1) : NULL;
  gesta_activation act = gesta_node_attr_enum(fw->node, "activation");
  int64_t features = in->dims[in->rank - 1];
  int64_t units = gesta_node_attr_int(fw->node, "units");
  int64_t rows = features > 0 ? gesta_shape_count(in) / features : 0;
  const float *dz = dy;
  if (rows > INT_MAX || features > INT_MAX || units > INT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "dense: a %lld x %lld by %lld x %lld matrix "
                           "product is beyond the BLAS interface's int sizes",
                           (long long)rows, (long long)features,
                           (long long)features, (long long)units);
  if (act != GESTA_ACTIVATION_LINEAR &&
      !(act == GESTA_ACTIVATION_SOFTMAX && call->output_grad_is_logits)) {
    float *buf;
    if (!call->workspace)
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "dense: the trainer gave no backward workspace");
    buf = gesta_tensor_host_data(call->workspace);
    gesta_activation_grad(act, false, y, dy, buf, rows, units);
    dz = buf;
  }
  if (rows == 0) {
    if (dkernel)
      gesta_cpu_zero(dkernel, features * units);
    if (dbias)
      gesta_cpu_zero(dbias, units);
    return GESTA_STATUS_OK;
  }
  if (dx)
    gesta_cpu_sgemm(CblasNoTrans, CblasTrans, (int)rows, (int)features,
                    (int)units, 1.0f, dz, (int)units, kernel, (int)units, 0.0f,
                    dx, (int)features);
  if (dkernel)
    gesta_cpu_sgemm(CblasTrans, CblasNoTrans, (int)features, (int)units,
                    (int)rows, 1.0f, x, (int)features, dz, (int)units, 0.0f,
                    dkernel, (int)units);
  if (dbias)
    gesta_grad_column_sums(dz, rows, units, dbias);
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_dense_cpu = {
    .forward = dense_forward,
    .workspace_bytes = NULL,
    .backward = dense_backward,
    .backward_workspace_bytes = dense_backward_workspace_bytes,
    .saved_bytes = dense_saved_bytes,
};
