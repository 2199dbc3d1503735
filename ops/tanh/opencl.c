/* tanh on OpenCL: one work item per element, in place when the executor
 * gives the output the input's buffer. */
#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

static gesta_status tanh_opencl_forward(const gesta_op_call *call,
                                        gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  cl_mem x = gesta_opencl_mem(&call->inputs[0]);
  cl_mem y = gesta_opencl_mem(call->output);
  cl_uint x_off = gesta_opencl_offset(&call->inputs[0]);
  cl_uint y_off = gesta_opencl_offset(call->output);
  cl_ulong count = (cl_ulong)gesta_shape_count(&call->inputs[0].shape);
  size_t global[1] = {(size_t)count};
  gesta_cl_arg args[] = {GESTA_CL_ARG(x), GESTA_CL_ARG(x_off), GESTA_CL_ARG(y),
                         GESTA_CL_ARG(y_off), GESTA_CL_ARG(count)};
  if (!cl)
    return gesta_error_set(
        err, GESTA_STATUS_INTERNAL,
        "tanh: the OpenCL kernel ran on a non-OpenCL backend");
  if (count == 0)
    return GESTA_STATUS_OK;
  return gesta_opencl_launch(cl, "tanh", "tanh_forward", 1, global, NULL, args,
                             (int)(sizeof args / sizeof args[0]), err);
}

static gesta_status tanh_opencl_backward(const gesta_op_grad_call *call,
                                         gesta_error *err) {
  return gesta_cl_activation_op_backward(call, GESTA_ACTIVATION_TANH, err);
}

const gesta_op_kernel gesta_op_tanh_opencl = {
    .forward = tanh_opencl_forward,
    .workspace_bytes = NULL,
    .backward = tanh_opencl_backward,
};
