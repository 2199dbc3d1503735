/* dense on OpenCL: every row of the input (all leading axes together) in
 * one CLBlast GEMM against the (features x units) kernel, then one pass for
 * bias and activation. */
#include <assert.h>
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"

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

const gesta_op_kernel gesta_op_dense_opencl = {
    .forward = dense_opencl_forward,
    .workspace_bytes = NULL,
};
