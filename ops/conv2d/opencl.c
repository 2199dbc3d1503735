/* conv2d on OpenCL. On CPU devices forward is one direct-convolution
 * kernel, bias and activation included. Elsewhere: NHWC im2col in tiles of
 * output pixels into the workspace, one CLBlast GEMM per tile writing NHWC
 * output rows directly, then one pass for bias and activation over the
 * whole output. Tiles keep the workspace bounded (a clip of the LRCN's
 * conv2 alone is 81920 x 144 floats); a 1x1, stride-1 convolution needs no
 * im2col at all. With a fused softmax the logits go to `saved` whenever
 * the caller gives one (the trainer), for the loss.
 *
 * Backward walks the same tiles: dkernel += col^T . dz and dcol = dz .
 * kernel^T through CLBlast, dcol gathered back onto the input
 * (conv2d_backward.cl), dbias = dz's column sums. */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

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

/* CPU devices (PoCL) run forward as one direct-convolution kernel: there
 * CLBlast's untuned GEMM plus im2col's trip through memory cost several
 * times the arithmetic, and the kernel's vectors map onto SIMD registers.
 * GPUs keep im2col + CLBlast, which is tuned for them. GESTA_OPENCL_CONV
 * (gemm or direct) overrides the choice, to measure one path on a device
 * that would take the other. */
static bool conv2d_opencl_use_direct(gesta_opencl *cl) {
  const char *path = getenv("GESTA_OPENCL_CONV");
  if (path && strcmp(path, "gemm") == 0)
    return false;
  if (path && strcmp(path, "direct") == 0)
    return true;
  return cl && gesta_opencl_is_cpu(cl);
}

/* The im2col tile bytes (forward on GPUs, and backward). */
static size_t conv2d_opencl_tile_bytes(const gesta_op_call *call) {
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

static size_t conv2d_opencl_workspace_bytes(const gesta_op_call *call) {
  if (conv2d_opencl_use_direct(gesta_opencl_from_backend(call->backend)))
    return 0;
  return conv2d_opencl_tile_bytes(call);
}

/* im2col rows [r0, r0 + m) into col at col_off (floats); m * k < 2^32
 * and m < 2^31, so the kernel's indices stay within 32 bits. */
static gesta_status conv2d_opencl_im2col(gesta_opencl *cl,
                                         const conv2d_opencl_geom *g,
                                         const gesta_op_call *call, cl_mem col,
                                         cl_uint col_off, cl_ulong r0,
                                         cl_uint m, gesta_error *err) {
  cl_mem x = gesta_opencl_mem(&call->inputs[0]);
  cl_uint x_off = gesta_opencl_offset(&call->inputs[0]);
  cl_int h = (cl_int)g->h, w = (cl_int)g->w, c = (cl_int)g->c;
  cl_int oh = (cl_int)g->oh, ow = (cl_int)g->ow;
  cl_int kh = (cl_int)g->kh, kw = (cl_int)g->kw;
  cl_int sh = (cl_int)g->sh, sw = (cl_int)g->sw;
  cl_int pad_top = (cl_int)g->pad_top, pad_left = (cl_int)g->pad_left;
  cl_ulong per_frame = (cl_ulong)(g->oh * g->ow);
  cl_ulong img0 = r0 / per_frame;
  cl_uint p0 = (cl_uint)(r0 % per_frame);
  /* conv2d.cl says why CPU devices copy a tap's channels per work item.
   * Only devices that are just a CPU: Oclgrind, which says it is every
   * type, takes the GPUs' layout, so the test suite runs both. */
  bool taps = cl && strcmp(gesta_opencl_device_type(cl), "CPU") == 0;
  size_t global[1] = {(size_t)m * (size_t)(g->kh * g->kw) *
                      (taps ? 1u : (size_t)g->c)};
  gesta_cl_arg args[] = {
      GESTA_CL_ARG(x),       GESTA_CL_ARG(x_off),   GESTA_CL_ARG(col),
      GESTA_CL_ARG(col_off), GESTA_CL_ARG(img0),    GESTA_CL_ARG(p0),
      GESTA_CL_ARG(m),       GESTA_CL_ARG(h),       GESTA_CL_ARG(w),
      GESTA_CL_ARG(c),       GESTA_CL_ARG(oh),      GESTA_CL_ARG(ow),
      GESTA_CL_ARG(kh),      GESTA_CL_ARG(kw),      GESTA_CL_ARG(sh),
      GESTA_CL_ARG(sw),      GESTA_CL_ARG(pad_top), GESTA_CL_ARG(pad_left)};
  assert(m <= INT_MAX && (uint64_t)m * (uint64_t)g->k <= UINT_MAX);
  return gesta_opencl_launch(
      cl, "conv2d", taps ? "conv2d_im2col_taps" : "conv2d_im2col", 1, global,
      NULL, args, (int)(sizeof args / sizeof args[0]), err);
}

/* Bias and the element-wise activations in one pass; softmax normalises
 * each output pixel's filters afterwards with the softmax op's kernel. */
static gesta_status conv2d_opencl_finish(gesta_opencl *cl,
                                         const conv2d_opencl_geom *g,
                                         const gesta_op_call *call,
                                         bool bias_done, gesta_error *err) {
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
  if (!bias_done && (has_bias || fused != GESTA_ACTIVATION_LINEAR)) {
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
  if (act == GESTA_ACTIVATION_SOFTMAX && call->saved) {
    st = gesta_cl_copy(cl, gesta_cl_span_of(call->output),
                       gesta_cl_span_of(call->saved), err);
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

/* The whole convolution, bias and element-wise activation in one kernel,
 * in the widest of conv2d.cl's variants that divides the filter count. */
static gesta_status conv2d_opencl_direct(gesta_opencl *cl,
                                         const conv2d_opencl_geom *g,
                                         const gesta_op_call *call,
                                         gesta_error *err) {
  gesta_activation act = gesta_node_attr_enum(call->node, "activation");
  cl_mem x = gesta_opencl_mem(&call->inputs[0]);
  cl_uint x_off = gesta_opencl_offset(&call->inputs[0]);
  cl_mem wt = gesta_opencl_mem(&call->params[0]);
  cl_uint w_off = gesta_opencl_offset(&call->params[0]);
  cl_int has_bias = call->n_params > 1;
  cl_mem bias = has_bias ? gesta_opencl_mem(&call->params[1]) : wt;
  cl_uint bias_off = has_bias ? gesta_opencl_offset(&call->params[1]) : 0;
  cl_mem y = gesta_opencl_mem(call->output);
  cl_uint y_off = gesta_opencl_offset(call->output);
  cl_ulong rows = (cl_ulong)g->rows;
  cl_uint filters = (cl_uint)g->filters;
  cl_int h = (cl_int)g->h, w = (cl_int)g->w, c = (cl_int)g->c;
  cl_int oh = (cl_int)g->oh, ow = (cl_int)g->ow;
  cl_int kh = (cl_int)g->kh, kw = (cl_int)g->kw;
  cl_int sh = (cl_int)g->sh, sw = (cl_int)g->sw;
  cl_int pad_top = (cl_int)g->pad_top, pad_left = (cl_int)g->pad_left;
  cl_int fused =
      act == GESTA_ACTIVATION_SOFTMAX ? GESTA_ACTIVATION_LINEAR : (cl_int)act;
  /* conv2d.cl's variants: filters and pixels per work item. */
  static const struct {
    unsigned filters, pixels;
    const char *kernel;
  } variants[] = {{32, 12, "conv2d_direct_32x12"},
                  {16, 8, "conv2d_direct_16x8"},
                  {4, 8, "conv2d_direct_4x8"},
                  {1, 8, "conv2d_direct_1x8"}};
  int v = 0;
  while (filters % variants[v].filters)
    v++;
  {
    size_t global[2] = {
        filters / variants[v].filters,
        (size_t)((rows + variants[v].pixels - 1) / variants[v].pixels)};
    gesta_cl_arg args[] = {
        GESTA_CL_ARG(x),        GESTA_CL_ARG(x_off),   GESTA_CL_ARG(wt),
        GESTA_CL_ARG(w_off),    GESTA_CL_ARG(bias),    GESTA_CL_ARG(bias_off),
        GESTA_CL_ARG(has_bias), GESTA_CL_ARG(y),       GESTA_CL_ARG(y_off),
        GESTA_CL_ARG(rows),     GESTA_CL_ARG(filters), GESTA_CL_ARG(h),
        GESTA_CL_ARG(w),        GESTA_CL_ARG(c),       GESTA_CL_ARG(oh),
        GESTA_CL_ARG(ow),       GESTA_CL_ARG(kh),      GESTA_CL_ARG(kw),
        GESTA_CL_ARG(sh),       GESTA_CL_ARG(sw),      GESTA_CL_ARG(pad_top),
        GESTA_CL_ARG(pad_left), GESTA_CL_ARG(fused)};
    gesta_status st =
        gesta_opencl_launch(cl, "conv2d", variants[v].kernel, 2, global, NULL,
                            args, (int)(sizeof args / sizeof args[0]), err);
    if (st != GESTA_STATUS_OK)
      return st;
  }
  return conv2d_opencl_finish(cl, g, call, true, err);
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
  if (conv2d_opencl_use_direct(cl))
    return conv2d_opencl_direct(cl, &g, call, err);
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
    /* The im2col kernel's 32-bit indices. */
    if (tile_rows > (int64_t)(UINT_MAX / (uint64_t)g.k))
      tile_rows = (int64_t)(UINT_MAX / (uint64_t)g.k);
    if (tile_rows > INT_MAX)
      tile_rows = INT_MAX;
    if (tile_rows < 1)
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "conv2d: the workspace holds no im2col row");
  }

  for (int64_t r0 = 0; r0 < g.rows; r0 += tile_rows) {
    int64_t m = g.rows - r0 < tile_rows ? g.rows - r0 : tile_rows;
    cl_mem a = x;
    size_t a_off = x_off + (size_t)(r0 * g.c);
    if (!g.direct) {
      st = conv2d_opencl_im2col(cl, &g, call, col, (cl_uint)col_off,
                                (cl_ulong)r0, (cl_uint)m, err);
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
  return conv2d_opencl_finish(cl, &g, call, false, err);
}

static size_t conv2d_opencl_saved_bytes(const gesta_op_call *call) {
  if (gesta_node_attr_enum(call->node, "activation") !=
      GESTA_ACTIVATION_SOFTMAX)
    return 0;
  return gesta_tensor_bytes(call->output);
}

static bool conv2d_opencl_needs_dz(const gesta_op_grad_call *call) {
  gesta_activation act =
      gesta_node_attr_enum(call->forward->node, "activation");
  return act != GESTA_ACTIVATION_LINEAR &&
         !(act == GESTA_ACTIVATION_SOFTMAX && call->output_grad_is_logits);
}

/* Where backward keeps things in its workspace, in floats: dz (when the
 * activation needs one), the bias sums' scratch, then col and dcol tiles
 * of tile_rows x k unless the convolution is direct. */
typedef struct conv2d_opencl_bw_layout {
  int64_t tile_rows;
  size_t dz, scratch, col, dcol, total;
} conv2d_opencl_bw_layout;

static void conv2d_opencl_bw_layout_of(const gesta_op_grad_call *call,
                                       const conv2d_opencl_geom *g,
                                       conv2d_opencl_bw_layout *l) {
  size_t at = 0;
  l->tile_rows = g->direct ? g->rows
                           : (int64_t)(conv2d_opencl_tile_bytes(call->forward) /
                                       ((size_t)g->k * sizeof(float)));
  l->dz = at;
  if (conv2d_opencl_needs_dz(call))
    at += (size_t)(g->rows * g->filters);
  l->scratch = at;
  at += gesta_cl_colsum_scratch((cl_ulong)g->rows, (cl_uint)g->filters);
  l->col = at;
  l->dcol = at + (g->direct ? 0 : (size_t)(l->tile_rows * g->k));
  l->total = l->dcol + (g->direct ? 0 : (size_t)(l->tile_rows * g->k));
}

static size_t
conv2d_opencl_backward_workspace_bytes(const gesta_op_grad_call *call) {
  conv2d_opencl_geom g;
  conv2d_opencl_bw_layout l;
  conv2d_opencl_geometry(call->forward, &g);
  if (g.rows == 0)
    return 0;
  conv2d_opencl_bw_layout_of(call, &g, &l);
  return l.total * sizeof(float);
}

/* Adds tile [r0, r0 + m) of dcol onto dx, over the frames it touches. */
static gesta_status conv2d_opencl_col2im(gesta_opencl *cl,
                                         const conv2d_opencl_geom *g,
                                         gesta_cl_span dcol, gesta_cl_span dx,
                                         cl_ulong r0, cl_uint m,
                                         gesta_error *err) {
  cl_ulong per_frame = (cl_ulong)(g->oh * g->ow);
  cl_ulong frame = (cl_ulong)(g->h * g->w * g->c);
  cl_ulong first = r0 / per_frame * frame;
  cl_ulong count = ((r0 + m - 1) / per_frame + 1) * frame - first;
  cl_int h = (cl_int)g->h, w = (cl_int)g->w, c = (cl_int)g->c;
  cl_int oh = (cl_int)g->oh, ow = (cl_int)g->ow;
  cl_int kh = (cl_int)g->kh, kw = (cl_int)g->kw;
  cl_int sh = (cl_int)g->sh, sw = (cl_int)g->sw;
  cl_int pad_top = (cl_int)g->pad_top, pad_left = (cl_int)g->pad_left;
  size_t global[1] = {(size_t)count};
  gesta_cl_arg args[] = {
      GESTA_CL_ARG(dcol.mem),  GESTA_CL_ARG(dcol.offset), GESTA_CL_ARG(dx.mem),
      GESTA_CL_ARG(dx.offset), GESTA_CL_ARG(first),       GESTA_CL_ARG(count),
      GESTA_CL_ARG(r0),        GESTA_CL_ARG(m),           GESTA_CL_ARG(h),
      GESTA_CL_ARG(w),         GESTA_CL_ARG(c),           GESTA_CL_ARG(oh),
      GESTA_CL_ARG(ow),        GESTA_CL_ARG(kh),          GESTA_CL_ARG(kw),
      GESTA_CL_ARG(sh),        GESTA_CL_ARG(sw),          GESTA_CL_ARG(pad_top),
      GESTA_CL_ARG(pad_left)};
  return gesta_opencl_launch(cl, "conv2d", "conv2d_col2im", 1, global, NULL,
                             args, (int)(sizeof args / sizeof args[0]), err);
}

/* One tile of output pixels: its share of dkernel and of dx. */
static gesta_status conv2d_opencl_backward_tile(
    gesta_opencl *cl, const conv2d_opencl_geom *g, const gesta_op_call *fw,
    const conv2d_opencl_bw_layout *l, gesta_cl_span ws, gesta_cl_span dz,
    gesta_cl_span dkernel, gesta_cl_span dx, int64_t r0, int64_t m,
    gesta_error *err) {
  gesta_cl_span x = gesta_cl_span_of(&fw->inputs[0]);
  gesta_cl_span kernel = gesta_cl_span_of(&fw->params[0]);
  gesta_cl_span col = gesta_cl_span_at(ws, l->col, (cl_ulong)(m * g->k));
  gesta_cl_span dcol = gesta_cl_span_at(ws, l->dcol, (cl_ulong)(m * g->k));
  size_t dz_off = dz.offset + (size_t)(r0 * g->filters);
  size_t k = (size_t)g->k, f = (size_t)g->filters;
  gesta_status st = GESTA_STATUS_OK;
  if (dkernel.mem) {
    cl_mem a = x.mem;
    size_t a_off = x.offset + (size_t)(r0 * g->c);
    if (!g->direct) {
      st = conv2d_opencl_im2col(cl, g, fw, col.mem, col.offset, (cl_ulong)r0,
                                (cl_uint)m, err);
      a = col.mem;
      a_off = col.offset;
    }
    if (st == GESTA_STATUS_OK)
      st = gesta_opencl_sgemm(cl, true, false, k, f, (size_t)m, 1.0f, a, a_off,
                              k, dz.mem, dz_off, f, r0 == 0 ? 0.0f : 1.0f,
                              dkernel.mem, dkernel.offset, f, err);
  }
  if (st != GESTA_STATUS_OK || !dx.mem)
    return st;
  if (g->direct)
    return gesta_opencl_sgemm(cl, false, true, (size_t)m, k, f, 1.0f, dz.mem,
                              dz_off, f, kernel.mem, kernel.offset, f, 0.0f,
                              dx.mem, dx.offset + (size_t)(r0 * g->c), k, err);
  st = gesta_opencl_sgemm(cl, false, true, (size_t)m, k, f, 1.0f, dz.mem,
                          dz_off, f, kernel.mem, kernel.offset, f, 0.0f,
                          dcol.mem, dcol.offset, k, err);
  if (st == GESTA_STATUS_OK)
    st = conv2d_opencl_col2im(cl, g, dcol, dx, (cl_ulong)r0, (cl_uint)m, err);
  return st;
}

static gesta_status conv2d_opencl_backward(const gesta_op_grad_call *call,
                                           gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  gesta_opencl *cl = gesta_cl_from_call(fw, "conv2d", err);
  gesta_activation act = gesta_node_attr_enum(fw->node, "activation");
  gesta_cl_span dz = gesta_cl_span_of(call->output_grad);
  gesta_cl_span dx = gesta_cl_grad_span(call->input_grads, 0);
  gesta_cl_span dkernel = gesta_cl_grad_span(call->param_grads, 0);
  gesta_cl_span dbias = fw->n_params > 1
                            ? gesta_cl_grad_span(call->param_grads, 1)
                            : gesta_cl_grad_span(NULL, 0);
  gesta_cl_span ws = gesta_cl_span_of(call->workspace);
  conv2d_opencl_geom g;
  conv2d_opencl_bw_layout l;
  gesta_status st = GESTA_STATUS_OK;
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  conv2d_opencl_geometry(fw, &g);
  if (g.rows == 0) {
    if (dkernel.mem)
      st = gesta_cl_fill_zero(cl, dkernel, err);
    if (st == GESTA_STATUS_OK && dbias.mem)
      st = gesta_cl_fill_zero(cl, dbias, err);
    return st;
  }
  conv2d_opencl_bw_layout_of(call, &g, &l);
  if (g.h > INT_MAX / 2 || g.w > INT_MAX / 2 || g.c > INT_MAX ||
      g.k > UINT_MAX || g.filters > UINT_MAX || g.rows > UINT_MAX ||
      (uint64_t)ws.offset + l.total > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "conv2d: a batch of %lld x %lld x %lld frames is "
                           "beyond the OpenCL backward kernels' 32-bit sizes",
                           (long long)g.h, (long long)g.w, (long long)g.c);
  if (!ws.mem || l.tile_rows < 1)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "conv2d: the trainer gave no backward workspace");
  if (conv2d_opencl_needs_dz(call)) {
    gesta_cl_span buf =
        gesta_cl_span_at(ws, l.dz, (cl_ulong)(g.rows * g.filters));
    st = gesta_cl_activation_backward(
        cl, act, false, gesta_cl_span_of(fw->output), dz, buf, (cl_ulong)g.rows,
        (cl_uint)g.filters, err);
    dz = buf;
  }
  if (st == GESTA_STATUS_OK && dbias.mem)
    st = gesta_cl_colsums(cl, GESTA_CL_SUM, dz, dz, dz, (cl_ulong)g.rows,
                          (cl_uint)g.filters, false,
                          gesta_cl_span_at(ws, l.scratch, 0), dbias, err);
  if (st == GESTA_STATUS_OK && dx.mem && !g.direct)
    st = gesta_cl_fill_zero(cl, dx, err);
  for (int64_t r0 = 0; r0 < g.rows && st == GESTA_STATUS_OK;
       r0 += l.tile_rows) {
    int64_t m = g.rows - r0 < l.tile_rows ? g.rows - r0 : l.tile_rows;
    st = conv2d_opencl_backward_tile(cl, &g, fw, &l, ws, dz, dkernel, dx, r0, m,
                                     err);
  }
  return st;
}

const gesta_op_kernel gesta_op_conv2d_opencl = {
    .forward = conv2d_opencl_forward,
    .workspace_bytes = conv2d_opencl_workspace_bytes,
    .backward = conv2d_opencl_backward,
    .backward_workspace_bytes = conv2d_opencl_backward_workspace_bytes,
    .saved_bytes = conv2d_opencl_saved_bytes,
};
