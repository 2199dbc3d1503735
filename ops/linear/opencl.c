/* linear on OpenCL: the identity, so the output is a device-side
 * copy of the input (nothing at all when the executor gives both the same
 * memory). */
#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

static gesta_status linear_opencl_forward(const gesta_op_call *call,
                                          gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  const gesta_tensor *in = &call->inputs[0];
  size_t bytes = gesta_tensor_bytes(in);
  cl_mem x, y;
  if (!cl)
    return gesta_error_set(
        err, GESTA_STATUS_INTERNAL,
        "linear: the OpenCL kernel ran on a non-OpenCL backend");
  x = gesta_opencl_mem(in);
  y = gesta_opencl_mem(call->output);
  if (bytes == 0 || (x == y && in->offset == call->output->offset))
    return GESTA_STATUS_OK;
  return gesta_opencl_check(
      clEnqueueCopyBuffer(gesta_opencl_queue(cl), x, y, in->offset,
                          call->output->offset, bytes, 0, NULL,
                          gesta_opencl_profile_event(cl, GESTA_OPENCL_COPY)),
      "clEnqueueCopyBuffer(linear)", err);
}

static gesta_status linear_opencl_backward(const gesta_op_grad_call *call,
                                           gesta_error *err) {
  return gesta_cl_activation_op_backward(call, GESTA_ACTIVATION_LINEAR, err);
}

const gesta_op_kernel gesta_op_linear_opencl = {
    .forward = linear_opencl_forward,
    .workspace_bytes = NULL,
    .backward = linear_opencl_backward,
};
