/* softmax on OpenCL over the input's last axis; one work item per row. */
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

static gesta_status softmax_opencl_forward(const gesta_op_call *call,
                                           gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  const gesta_tensor *in = &call->inputs[0];
  int64_t count = gesta_shape_count(&in->shape);
  int64_t last = in->shape.rank > 0 ? in->shape.dims[in->shape.rank - 1] : 1;
  cl_mem x = gesta_opencl_mem(in), y = gesta_opencl_mem(call->output);
  cl_uint x_off = gesta_opencl_offset(in);
  cl_uint y_off = gesta_opencl_offset(call->output);
  cl_ulong rows = last > 0 ? (cl_ulong)(count / last) : 0;
  cl_uint cols = (cl_uint)last;
  size_t global[1] = {(size_t)rows};
  gesta_cl_arg args[] = {GESTA_CL_ARG(x),    GESTA_CL_ARG(x_off),
                         GESTA_CL_ARG(y),    GESTA_CL_ARG(y_off),
                         GESTA_CL_ARG(rows), GESTA_CL_ARG(cols)};
  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "softmax: the OpenCL kernel ran on a non-OpenCL "
                           "backend");
  if (count == 0)
    return GESTA_STATUS_OK;
  if (last > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "softmax over %lld values per row is beyond the "
                           "OpenCL kernel's 32-bit row length",
                           (long long)last);
  return gesta_opencl_launch(cl, "softmax", "softmax_rows", 1, global, NULL,
                             args, (int)(sizeof args / sizeof args[0]), err);
}

static gesta_status softmax_opencl_backward(const gesta_op_grad_call *call,
                                            gesta_error *err) {
  return gesta_cl_activation_op_backward(call, GESTA_ACTIVATION_SOFTMAX, err);
}

const gesta_op_kernel gesta_op_softmax_opencl = {
    .forward = softmax_opencl_forward,
    .workspace_bytes = NULL,
    .backward = softmax_opencl_backward,
};
