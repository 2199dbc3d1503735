/* batch_norm inference on OpenCL: one kernel folds the moving statistics
 * into a per-channel scale and shift in the workspace, a second applies
 * them to every element. */
#include <assert.h>
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"

static int64_t batch_norm_opencl_channels(const gesta_op_call *call) {
  const gesta_shape *in = &call->inputs[0].shape;
  assert(in->rank >= 1);
  return in->dims[in->rank - 1];
}

static size_t batch_norm_opencl_workspace_bytes(const gesta_op_call *call) {
  return 2 * (size_t)batch_norm_opencl_channels(call) * sizeof(float);
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
  {
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
    if (st != GESTA_STATUS_OK)
      return st;
  }
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

const gesta_op_kernel gesta_op_batch_norm_opencl = {
    .forward = batch_norm_opencl_forward,
    .workspace_bytes = batch_norm_opencl_workspace_bytes,
};
