/* max_pool2d on OpenCL: one work item per output element, with the CPU
 * reference's TF window arithmetic; backward one per input element
 * (max_pool2d_backward.cl). */
#include <assert.h>
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

static gesta_status max_pool2d_opencl_forward(const gesta_op_call *call,
                                              gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  const gesta_shape *in = &call->inputs[0].shape;
  bool same = gesta_node_attr_enum(call->node, "padding") == GESTA_PADDING_SAME;
  int64_t pool[2], strides[2], oh, ow, pad_top, pad_left;
  int64_t geom[10];
  cl_int g[10];
  cl_mem x, y;
  cl_uint x_off, y_off;
  cl_ulong count;
  bool ok;
  assert(in->rank == 4);
  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "max_pool2d: the OpenCL kernel ran on a non-OpenCL "
                           "backend");
  gesta_node_attr_pair(call->node, "pool_size", pool);
  gesta_node_attr_pair_or(call->node, "strides", pool, strides);
  ok = gesta_window_geometry(in->dims[1], pool[0], strides[0], same, &oh,
                             &pad_top) &&
       gesta_window_geometry(in->dims[2], pool[1], strides[1], same, &ow,
                             &pad_left);
  assert(ok && "max_pool2d shapes are checked by infer()");
  (void)ok;
  count = (cl_ulong)(in->dims[0] * oh * ow * in->dims[3]);
  if (count == 0)
    return GESTA_STATUS_OK;
  /* h, w, c, oh, ow, pool, strides, padding: the kernel's int arguments. */
  geom[0] = in->dims[1];
  geom[1] = in->dims[2];
  geom[2] = in->dims[3];
  geom[3] = oh;
  geom[4] = ow;
  geom[5] = pool[0];
  geom[6] = pool[1];
  geom[7] = strides[0];
  geom[8] = strides[1];
  geom[9] = pad_top;
  for (int i = 0; i < 10; i++) {
    /* Window ends (oh * stride + pool) must stay within int too. */
    if (geom[i] > INT_MAX / 4)
      return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                             "max_pool2d: a %lld x %lld x %lld frame is beyond "
                             "the OpenCL kernel's 32-bit sizes",
                             (long long)in->dims[1], (long long)in->dims[2],
                             (long long)in->dims[3]);
    g[i] = (cl_int)geom[i];
  }
  {
    cl_int pad_w = (cl_int)pad_left;
    size_t global[1] = {(size_t)count};
    x = gesta_opencl_mem(&call->inputs[0]);
    x_off = gesta_opencl_offset(&call->inputs[0]);
    y = gesta_opencl_mem(call->output);
    y_off = gesta_opencl_offset(call->output);
    gesta_cl_arg args[] = {
        GESTA_CL_ARG(x),     GESTA_CL_ARG(x_off), GESTA_CL_ARG(y),
        GESTA_CL_ARG(y_off), GESTA_CL_ARG(count), GESTA_CL_ARG(g[0]),
        GESTA_CL_ARG(g[1]),  GESTA_CL_ARG(g[2]),  GESTA_CL_ARG(g[3]),
        GESTA_CL_ARG(g[4]),  GESTA_CL_ARG(g[5]),  GESTA_CL_ARG(g[6]),
        GESTA_CL_ARG(g[7]),  GESTA_CL_ARG(g[8]),  GESTA_CL_ARG(g[9]),
        GESTA_CL_ARG(pad_w)};
    return gesta_opencl_launch(cl, "max_pool2d", "max_pool2d_forward", 1,
                               global, NULL, args,
                               (int)(sizeof args / sizeof args[0]), err);
  }
}

static gesta_status max_pool2d_opencl_backward(const gesta_op_grad_call *call,
                                               gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  gesta_opencl *cl = gesta_cl_from_call(fw, "max_pool2d", err);
  const gesta_shape *in = &fw->inputs[0].shape;
  bool same = gesta_node_attr_enum(fw->node, "padding") == GESTA_PADDING_SAME;
  gesta_cl_span x = gesta_cl_span_of(&fw->inputs[0]);
  gesta_cl_span dy = gesta_cl_span_of(call->output_grad);
  gesta_cl_span dx = gesta_cl_grad_span(call->input_grads, 0);
  int64_t pool[2], strides[2], geom[12];
  cl_int g[12];
  bool ok;
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (!dx.mem || dx.count == 0)
    return GESTA_STATUS_OK;
  gesta_node_attr_pair(fw->node, "pool_size", pool);
  gesta_node_attr_pair_or(fw->node, "strides", pool, strides);
  /* h, w, c, oh, ow, pool, strides, padding: the kernel's ints. */
  geom[0] = in->dims[1];
  geom[1] = in->dims[2];
  geom[2] = in->dims[3];
  geom[5] = pool[0];
  geom[6] = pool[1];
  geom[7] = strides[0];
  geom[8] = strides[1];
  ok = gesta_window_geometry(geom[0], pool[0], strides[0], same, &geom[3],
                             &geom[9]) &&
       gesta_window_geometry(geom[1], pool[1], strides[1], same, &geom[4],
                             &geom[10]);
  assert(ok && "max_pool2d shapes are checked by infer()");
  (void)ok;
  for (int i = 0; i < 11; i++) {
    if (geom[i] > INT_MAX / 4)
      return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                             "max_pool2d: a %lld x %lld x %lld frame is beyond "
                             "the OpenCL kernel's 32-bit sizes",
                             (long long)in->dims[1], (long long)in->dims[2],
                             (long long)in->dims[3]);
    g[i] = (cl_int)geom[i];
  }
  {
    size_t global[1] = {(size_t)dx.count};
    gesta_cl_arg args[] = {GESTA_CL_ARG(x.mem),    GESTA_CL_ARG(x.offset),
                           GESTA_CL_ARG(dy.mem),   GESTA_CL_ARG(dy.offset),
                           GESTA_CL_ARG(dx.mem),   GESTA_CL_ARG(dx.offset),
                           GESTA_CL_ARG(dx.count), GESTA_CL_ARG(g[0]),
                           GESTA_CL_ARG(g[1]),     GESTA_CL_ARG(g[2]),
                           GESTA_CL_ARG(g[3]),     GESTA_CL_ARG(g[4]),
                           GESTA_CL_ARG(g[5]),     GESTA_CL_ARG(g[6]),
                           GESTA_CL_ARG(g[7]),     GESTA_CL_ARG(g[8]),
                           GESTA_CL_ARG(g[9]),     GESTA_CL_ARG(g[10])};
    return gesta_opencl_launch(cl, "max_pool2d", "max_pool2d_backward", 1,
                               global, NULL, args,
                               (int)(sizeof args / sizeof args[0]), err);
  }
}

const gesta_op_kernel gesta_op_max_pool2d_opencl = {
    .forward = max_pool2d_opencl_forward,
    .workspace_bytes = NULL,
    .backward = max_pool2d_opencl_backward,
};
