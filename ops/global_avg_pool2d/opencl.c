/* global_avg_pool2d on OpenCL: one work item per (frame, channel); backward
 * one per input element. */
#include <assert.h>
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

static gesta_status global_avg_pool2d_opencl_forward(const gesta_op_call *call,
                                                     gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  const gesta_shape *in = &call->inputs[0].shape;
  int64_t hw64, c64;
  cl_mem x, y;
  cl_uint x_off, y_off, hw, c;
  cl_ulong frames;
  assert(in->rank == 4);
  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "global_avg_pool2d: the OpenCL kernel ran on a "
                           "non-OpenCL backend");
  hw64 = in->dims[1] * in->dims[2];
  c64 = in->dims[3];
  if (in->dims[0] == 0 || hw64 == 0 || c64 == 0)
    return GESTA_STATUS_OK;
  if (hw64 > UINT_MAX || c64 > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "global_avg_pool2d: a %lld x %lld frame of %lld "
                           "channels is beyond the OpenCL kernel's 32-bit "
                           "sizes",
                           (long long)in->dims[1], (long long)in->dims[2],
                           (long long)c64);
  x = gesta_opencl_mem(&call->inputs[0]);
  x_off = gesta_opencl_offset(&call->inputs[0]);
  y = gesta_opencl_mem(call->output);
  y_off = gesta_opencl_offset(call->output);
  frames = (cl_ulong)in->dims[0];
  hw = (cl_uint)hw64;
  c = (cl_uint)c64;
  {
    size_t global[1] = {(size_t)(frames * c)};
    gesta_cl_arg args[] = {GESTA_CL_ARG(x),      GESTA_CL_ARG(x_off),
                           GESTA_CL_ARG(y),      GESTA_CL_ARG(y_off),
                           GESTA_CL_ARG(frames), GESTA_CL_ARG(hw),
                           GESTA_CL_ARG(c)};
    return gesta_opencl_launch(cl, "global_avg_pool2d",
                               "global_avg_pool2d_forward", 1, global, NULL,
                               args, (int)(sizeof args / sizeof args[0]), err);
  }
}

static gesta_status
global_avg_pool2d_opencl_backward(const gesta_op_grad_call *call,
                                  gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  gesta_opencl *cl = gesta_cl_from_call(fw, "global_avg_pool2d", err);
  const gesta_shape *in = &fw->inputs[0].shape;
  gesta_cl_span dx = gesta_cl_grad_span(call->input_grads, 0);
  gesta_cl_span dy = gesta_cl_span_of(call->output_grad);
  int64_t hw64 = in->dims[1] * in->dims[2], c64 = in->dims[3];
  cl_uint hw = (cl_uint)hw64, c = (cl_uint)c64;
  size_t global[1] = {(size_t)dx.count};
  gesta_cl_arg args[] = {GESTA_CL_ARG(dy.mem),   GESTA_CL_ARG(dy.offset),
                         GESTA_CL_ARG(dx.mem),   GESTA_CL_ARG(dx.offset),
                         GESTA_CL_ARG(dx.count), GESTA_CL_ARG(hw),
                         GESTA_CL_ARG(c)};
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (!dx.mem || dx.count == 0)
    return GESTA_STATUS_OK;
  if (hw64 > UINT_MAX || c64 > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "global_avg_pool2d: a %lld x %lld frame of %lld "
                           "channels is beyond the OpenCL kernel's 32-bit "
                           "sizes",
                           (long long)in->dims[1], (long long)in->dims[2],
                           (long long)c64);
  return gesta_opencl_launch(cl, "global_avg_pool2d",
                             "global_avg_pool2d_backward", 1, global, NULL,
                             args, (int)(sizeof args / sizeof args[0]), err);
}

const gesta_op_kernel gesta_op_global_avg_pool2d_opencl = {
    .forward = global_avg_pool2d_opencl_forward,
    .workspace_bytes = NULL,
    .backward = global_avg_pool2d_opencl_backward,
};
