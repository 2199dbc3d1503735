/* conv2d on OpenCL: NHWC im2col in tiles of output pixels into the
 * workspace, one CLBlast GEMM per tile writing NHWC output rows directly,
 * then one pass for bias and activation over the whole output. Tiles keep
 * the workspace bounded (a clip of the LRCN's conv2 alone is 81920 x 144
 * floats); a 1x1, stride-1 convolution needs no im2col at all. */
#include <assert.h>
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"

/* The im2col tile: at most this many bytes, or a quarter of the device's
 * largest allocation if that is smaller. */
#define CONV2D_OPENCL_TILE_BYTES ((size_t)32 << 20)

typedef struct conv2d_opencl_geom {
  int64_t n, h, w, c;
  int64_t oh, ow, filters;
  int64_t kh, kw, sh, sw;
  int64_t pad_top, pad_left;
  int64_t k;    /* kh * kw * c: im2col row length */
  int64_t rows; /* n * oh * ow output pixels */
  bool direct;  /* 1x1, stride 1: the input already is the matrix */
} conv2d_opencl_geom;

static void conv2d_opencl_geometry(const gesta_op_call *call,
                                   conv2d_opencl_geom *g) {
  const gesta_shape *in = &call->inputs[0].shape;
  int64_t kernel[2], strides[2];
  bool same = gesta_node_attr_enum(call->node, "padding") == GESTA_PADDING_SAME;
  bool ok;
  assert(in->rank == 4);
  gesta_node_attr_pair(call->node, "kernel", kernel);
  gesta_node_attr_pair(call->node, "strides", strides);
  g->n = in->dims[0];
  g->h = in->dims[1];
  g->w = in->dims[2];
  g->c = in->dims[3];
  g->kh = kernel[0];
  g->kw = kernel[1];
  g->sh = strides[0];
  g->sw = strides[1];
  g->filters = gesta_node_attr_int(call->node, "filters");
  ok = gesta_window_geometry(g->h, g->kh, g->sh, same, &g->oh, &g->pad_top) &&
       gesta_window_geometry(g->w, g->kw, g->sw, same, &g->ow, &g->pad_left);
  assert(ok && "conv2d shapes are checked by infer()");
  (void)ok;
  g->k = g->kh * g->kw * g->c;
  g->rows = g->n * g->oh * g->ow;
  g->direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1;
}

static size_t conv2d_opencl_workspace_bytes(const gesta_op_call *call) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  size_t budget = CONV2D_OPENCL_TILE_BYTES, row_bytes;
  int64_t tile_rows;
  cl_ulong max_alloc = 0;
  conv2d_opencl_geom g;
  conv2d_opencl_geometry(call, &g);
  if (g.direct || g.rows == 0)
    return 0;
  if (cl &&
      clGetDeviceInfo(gesta_opencl_device(cl), CL_DEVICE_MAX_MEM_ALLOC_SIZE,
                      sizeof max_alloc, &max_alloc, NULL) == CL_SUCCESS &&
      max_alloc / 4 < budget)
    budget = (size_t)(max_alloc / 4);
  row_bytes = (size_t)g.k * sizeof(float);
  tile_rows = (int64_t)(budget / row_bytes);
  if (tile_rows < 1)
    tile_rows = 1;
  if (tile_rows > g.rows)
    tile_rows = g.rows;
  return (size_t)tile_rows * row_bytes;
}

static gesta_status conv2d_opencl_im2col(gesta_opencl *cl,
                                         const conv2d_opencl_geom *g,
                                         const gesta_op_call *call, cl_ulong r0,
                                         cl_uint m, gesta_error *err) {
  cl_mem x = gesta_opencl_mem(&call->inputs[0]);
  cl_mem col = gesta_opencl_mem(call->workspace);
  cl_uint x_off = gesta_opencl_offset(&call->inputs[0]);
  cl_uint col_off = gesta_opencl_offset(call->workspace);
  cl_int h = (cl_int)g->h, w = (cl_int)g->w, c = (cl_int)g->c;
  cl_int oh = (cl_int)g->oh, ow = (cl_int)g->ow;
  cl_int kh = (cl_int)g->kh, kw = (cl_int)g->kw;
  cl_int sh = (cl_int)g->sh, sw = (cl_int)g->sw;
  cl_int pad_top = (cl_int)g->pad_top, pad_left = (cl_int)g->pad_left;
  size_t global[2] = {(size_t)g->k, (size_t)m};
  gesta_cl_arg args[] = {
      GESTA_CL_ARG(x),       GESTA_CL_ARG(x_off),   GESTA_CL_ARG(col),
      GESTA_CL_ARG(col_off), GESTA_CL_ARG(r0),      GESTA_CL_ARG(m),
      GESTA_CL_ARG(h),       GESTA_CL_ARG(w),       GESTA_CL_ARG(c),
      GESTA_CL_ARG(oh),      GESTA_CL_ARG(ow),      GESTA_CL_ARG(kh),
      GESTA_CL_ARG(kw),      GESTA_CL_ARG(sh),      GESTA_CL_ARG(sw),
      GESTA_CL_ARG(pad_top), GESTA_CL_ARG(pad_left)};
  return gesta_opencl_launch(cl, "conv2d", "conv2d_im2col", 2, global, NULL,
                             args, (int)(sizeof args / sizeof args[0]), err);
}

/* Bias and the element-wise activations in one pass; softmax normalises
 * each output pixel's filters afterwards with the softmax op's kernel. */
static gesta_status conv2d_opencl_finish(gesta_opencl *cl,
                                         const conv2d_opencl_geom *g,
                                         const gesta_op_call *call,
                                         gesta_error *err) {
  gesta_activation act = gesta_node_attr_enum(call->node, "activation");
  cl_mem y = gesta_opencl_mem(call->output);
  cl_uint y_off = gesta_opencl_offset(call->output);
  cl_ulong rows = (cl_ulong)g->rows, count = (cl_ulong)(g->rows * g->filters);
  cl_uint cols = (cl_uint)g->filters;
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
    st = gesta_opencl_launch(cl, "conv2d", "conv2d_bias_activate", 1, global,
                             NULL, args, (int)(sizeof args / sizeof args[0]),
                             err);
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

static gesta_status conv2d_opencl_forward(const gesta_op_call *call,
                                          gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  conv2d_opencl_geom g;
  cl_mem x, kernel, y, col = NULL;
  size_t x_off, kernel_off, y_off, col_off = 0;
  int64_t tile_rows;
  gesta_status st;

  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "conv2d: the OpenCL kernel ran on a non-OpenCL "
                           "backend");
  conv2d_opencl_geometry(call, &g);
  if (g.rows == 0 || g.filters == 0)
    return GESTA_STATUS_OK;
  /* The im2col kernel indexes one frame and one row with 32-bit ints. */
  if (g.h > INT_MAX / 2 || g.w > INT_MAX / 2 || g.c > INT_MAX ||
      g.oh * g.ow > INT_MAX || g.k > UINT_MAX || g.filters > UINT_MAX ||
      g.kh > INT_MAX / 2 || g.kw > INT_MAX / 2)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "conv2d: a %lld x %lld x %lld frame with a %lld x "
                           "%lld kernel is beyond the OpenCL kernels' 32-bit "
                           "sizes",
                           (long long)g.h, (long long)g.w, (long long)g.c,
                           (long long)g.kh, (long long)g.kw);
  x = gesta_opencl_mem(&call->inputs[0]);
  x_off = gesta_opencl_offset(&call->inputs[0]);
  kernel = gesta_opencl_mem(&call->params[0]);
  kernel_off = gesta_opencl_offset(&call->params[0]);
  y = gesta_opencl_mem(call->output);
  y_off = gesta_opencl_offset(call->output);
  if (g.direct) {
    tile_rows = g.rows;
  } else {
    if (!call->workspace)
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "conv2d: the executor gave no workspace");
    col = gesta_opencl_mem(call->workspace);
    col_off = gesta_opencl_offset(call->workspace);
    /* Use what the executor gave (at least what workspace_bytes asked). */
    tile_rows = call->workspace->shape.dims[0] / g.k;
    if (tile_rows > g.rows)
      tile_rows = g.rows;
    if (tile_rows > UINT_MAX)
      tile_rows = UINT_MAX;
    if (tile_rows < 1)
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "conv2d: the workspace holds no im2col row");
  }

  for (int64_t r0 = 0; r0 < g.rows; r0 += tile_rows) {
    int64_t m = g.rows - r0 < tile_rows ? g.rows - r0 : tile_rows;
    cl_mem a = x;
    size_t a_off = x_off + (size_t)(r0 * g.c);
    if (!g.direct) {
      st = conv2d_opencl_im2col(cl, &g, call, (cl_ulong)r0, (cl_uint)m, err);
      if (st != GESTA_STATUS_OK)
        return st;
      a = col;
      a_off = col_off;
    }
    st = gesta_opencl_sgemm(
        cl, false, false, (size_t)m, (size_t)g.filters, (size_t)g.k, 1.0f, a,
        a_off, (size_t)g.k, kernel, kernel_off, (size_t)g.filters, 0.0f, y,
        y_off + (size_t)(r0 * g.filters), (size_t)g.filters, err);
    if (st != GESTA_STATUS_OK)
      return st;
  }
  return conv2d_opencl_finish(cl, &g, call, err);
}

const gesta_op_kernel gesta_op_conv2d_opencl = {
    .forward = conv2d_opencl_forward,
    .workspace_bytes = conv2d_opencl_workspace_bytes,
};
