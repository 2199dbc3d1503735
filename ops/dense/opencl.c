/* dense on OpenCL: every row of the input (all leading axes together) in
 * one CLBlast GEMM against the (features x units) kernel, then one pass for
 * bias and activation. With a fused softmax the logits go to `saved`
 * whenever the caller gives one (the trainer), for the loss.
 *
 * Backward: dz = dy through the activation (in the workspace unless the
 * activation is linear or the loss gave logits), then dX = dz . kernel^T
 * and dkernel = X^T . dz through CLBlast, dbias = dz's column sums. */
#include <assert.h>
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

/* Bias and the element-wise activations in one pass; softmax normalises
 * each row afterwards with the softmax op's kernel. */
static gesta_status dense_opencl_finish(gesta_opencl *cl,
                                        const gesta_op_call *call,
                                        int64_t rows64, int64_t units,
                                        gesta_error *err) {
  gesta_activation act = gesta_node_attr_enum(call->node, "activation");
  cl_mem y = gesta_opencl_mem(call->output);
  cl_uint y_off = gesta_opencl_offset(call->output);
  cl_ulong rows = (cl_ulong)rows64, count = (cl_ulong)(rows64 * units);
  cl_uint cols = (cl_uint)units;
  cl_int has_bias = call->n_params > 1;
  cl_int fused =
      act == GESTA_ACTIVATION_SOFTMAX ? GESTA_ACTIVATION_LINEAR : (cl_int)act;
  cl_mem bias = has_bias ? gesta_opencl_mem(&call->params[1]) : y;
  cl_uint bias_off = has_bias ? gesta_opencl_offset(&call->params[1]) : 0;
  gesta_status st;
  if (has_bias || fused != GESTA_ACTIVATION_LINEAR) {
    size_t global[1] = {(size_t)count};
    gesta_cl_arg args[] = {GESTA_CL_ARG(y),        GESTA_CL_ARG(y_off),
                           GESTA_CL_ARG(count),    GESTA_CL_ARG(cols),
                           GESTA_CL_ARG(bias),     GESTA_CL_ARG(bias_off),
                           GESTA_CL_ARG(has_bias), GESTA_CL_ARG(fused)};
    st =
        gesta_opencl_launch(cl, "dense", "dense_bias_activate", 1, global, NULL,
                            args, (int)(sizeof args / sizeof args[0]), err);
    if (st != GESTA_STATUS_OK)
      return st;
  }
  if (act == GESTA_ACTIVATION_SOFTMAX && call->saved) {
    gesta_cl_span logits = gesta_cl_span_of(call->output);
    st = gesta_cl_copy(cl, logits, gesta_cl_span_of(call->saved), err);
    if (st != GESTA_STATUS_OK)
      return st;
  }
  if (act == GESTA_ACTIVATION_SOFTMAX) {
    size_t global[1] = {(size_t)rows};
    gesta_cl_arg args[] = {GESTA_CL_ARG(y),    GESTA_CL_ARG(y_off),
                           GESTA_CL_ARG(y),    GESTA_CL_ARG(y_off),
                           GESTA_CL_ARG(rows), GESTA_CL_ARG(cols)};
    return gesta_opencl_launch(cl, "softmax", "softmax_rows", 1, global, NULL,
                               args, (int)(sizeof args / sizeof args[0]), err);
  }
  return GESTA_STATUS_OK;
}

static gesta_status dense_opencl_forward(const gesta_op_call *call,
                                         gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  const gesta_shape *in = &call->inputs[0].shape;
  int64_t features, units, rows;
  gesta_status st;
  assert(in->rank >= 1);
  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "dense: the OpenCL kernel ran on a non-OpenCL "
                           "backend");
  features = in->dims[in->rank - 1];
  units = gesta_node_attr_int(call->node, "units");
  rows = features > 0 ? gesta_shape_count(in) / features : 0;
  if (rows == 0)
    return GESTA_STATUS_OK;
  if (units > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "dense: %lld units are beyond the OpenCL kernel's "
                           "32-bit row length",
                           (long long)units);
  st = gesta_opencl_sgemm(
      cl, false, false, (size_t)rows, (size_t)units, (size_t)features, 1.0f,
      gesta_opencl_mem(&call->inputs[0]), gesta_opencl_offset(&call->inputs[0]),
      (size_t)features, gesta_opencl_mem(&call->params[0]),
      gesta_opencl_offset(&call->params[0]), (size_t)units, 0.0f,
      gesta_opencl_mem(call->output), gesta_opencl_offset(call->output),
      (size_t)units, err);
  if (st != GESTA_STATUS_OK)
    return st;
  return dense_opencl_finish(cl, call, rows, units, err);
}

static size_t dense_opencl_saved_bytes(const gesta_op_call *call) {
  if (gesta_node_attr_enum(call->node, "activation") !=
      GESTA_ACTIVATION_SOFTMAX)
    return 0;
  return gesta_tensor_bytes(call->output);
}

static bool dense_opencl_needs_dz(const gesta_op_grad_call *call) {
  gesta_activation act =
      gesta_node_attr_enum(call->forward->node, "activation");
  return act != GESTA_ACTIVATION_LINEAR &&
         !(act == GESTA_ACTIVATION_SOFTMAX && call->output_grad_is_logits);
}

/* dz (rows x units) when the activation needs one, then the bias sums'
 * scratch. */
static size_t
dense_opencl_backward_workspace_bytes(const gesta_op_grad_call *call) {
  int64_t units = gesta_node_attr_int(call->forward->node, "units");
  int64_t rows =
      units ? gesta_shape_count(&call->output_grad->shape) / units : 0;
  size_t floats = gesta_cl_colsum_scratch((cl_ulong)rows, (cl_uint)units);
  if (dense_opencl_needs_dz(call))
    floats += (size_t)(rows * units);
  return floats * sizeof(float);
}

static gesta_status dense_opencl_backward(const gesta_op_grad_call *call,
                                          gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  gesta_opencl *cl = gesta_cl_from_call(fw, "dense", err);
  const gesta_shape *in = &fw->inputs[0].shape;
  int64_t features = in->dims[in->rank - 1];
  int64_t units = gesta_node_attr_int(fw->node, "units");
  int64_t rows = features > 0 ? gesta_shape_count(in) / features : 0;
  gesta_activation act = gesta_node_attr_enum(fw->node, "activation");
  gesta_cl_span x = gesta_cl_span_of(&fw->inputs[0]);
  gesta_cl_span kernel = gesta_cl_span_of(&fw->params[0]);
  gesta_cl_span dz = gesta_cl_span_of(call->output_grad);
  gesta_cl_span dx = gesta_cl_grad_span(call->input_grads, 0);
  gesta_cl_span dkernel = gesta_cl_grad_span(call->param_grads, 0);
  gesta_cl_span dbias = fw->n_params > 1
                            ? gesta_cl_grad_span(call->param_grads, 1)
                            : gesta_cl_grad_span(NULL, 0);
  gesta_cl_span ws = gesta_cl_span_of(call->workspace);
  gesta_status st = GESTA_STATUS_OK;
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (units > UINT_MAX || rows > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "dense: %lld rows of %lld units are beyond the "
                           "OpenCL kernels' 32-bit sizes",
                           (long long)rows, (long long)units);
  if (dense_opencl_backward_workspace_bytes(call) > 0 && !ws.mem)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "dense: the trainer gave no backward workspace");
  if (rows == 0) {
    if (dkernel.mem)
      st = gesta_cl_fill_zero(cl, dkernel, err);
    if (st == GESTA_STATUS_OK && dbias.mem)
      st = gesta_cl_fill_zero(cl, dbias, err);
    return st;
  }
  if (dense_opencl_needs_dz(call)) {
    gesta_cl_span buf = gesta_cl_span_at(ws, 0, (cl_ulong)(rows * units));
    st = gesta_cl_activation_backward(cl, act, false,
                                      gesta_cl_span_of(fw->output), dz, buf,
                                      (cl_ulong)rows, (cl_uint)units, err);
    dz = buf;
    ws = gesta_cl_span_at(ws, (cl_ulong)(rows * units), 0);
  }
  if (st == GESTA_STATUS_OK && dx.mem)
    st = gesta_opencl_sgemm(
        cl, false, true, (size_t)rows, (size_t)features, (size_t)units, 1.0f,
        dz.mem, dz.offset, (size_t)units, kernel.mem, kernel.offset,
        (size_t)units, 0.0f, dx.mem, dx.offset, (size_t)features, err);
  if (st == GESTA_STATUS_OK && dkernel.mem)
    st = gesta_opencl_sgemm(
        cl, true, false, (size_t)features, (size_t)units, (size_t)rows, 1.0f,
        x.mem, x.offset, (size_t)features, dz.mem, dz.offset, (size_t)units,
        0.0f, dkernel.mem, dkernel.offset, (size_t)units, err);
  if (st == GESTA_STATUS_OK && dbias.mem)
    st = gesta_cl_colsums(cl, GESTA_CL_SUM, dz, dz, dz, (cl_ulong)rows,
                          (cl_uint)units, false, ws, dbias, err);
  return st;
}

const gesta_op_kernel gesta_op_dense_opencl = {
    .forward = dense_opencl_forward,
    .workspace_bytes = NULL,
    .backward = dense_opencl_backward,
    .backward_workspace_bytes = dense_opencl_backward_workspace_bytes,
    .saved_bytes = dense_opencl_saved_bytes,
};
