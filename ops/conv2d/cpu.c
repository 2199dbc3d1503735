/* conv2d on the CPU: NHWC im2col in tiles of output pixels, each tile one
 * GEMM against the kernel viewed as (kh * kw * C) x filters, which yields
 * NHWC output rows directly. Tiling keeps the im2col scratch cache-sized
 * instead of a whole batch's (N * OH * OW) x (kh * kw * C) matrix.
 *
 * Backward walks the same tiles: dkernel += col^T . dz, and dcol = dz .
 * kernel^T scattered back onto the input (col2im). With a fused softmax,
 * the logits go to `saved` whenever the caller gives one, for the loss. */
#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "activation.h"
#include "op_util.h"
#include "train_ops.h"

/* Scratch per tile; large enough that each GEMM has a useful height. */
#define CONV2D_TILE_BYTES ((int64_t)1 << 20)
#define CONV2D_MIN_TILE_ROWS 64

typedef struct conv2d_geom {
  int64_t n, h, w, c;      /* input */
  int64_t oh, ow, filters; /* output */
  int64_t kh, kw, sh, sw;
  int64_t pad_top, pad_left;
  int64_t k;         /* kh * kw * c: im2col row length */
  int64_t rows;      /* n * oh * ow output pixels */
  int64_t tile_rows; /* output pixels per GEMM */
  bool direct;       /* 1x1, stride 1: the input already is the matrix */
} conv2d_geom;

static void conv2d_geometry(const gesta_op_call *call, conv2d_geom *g) {
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
  g->tile_rows = CONV2D_TILE_BYTES / (g->k * (int64_t)sizeof(float));
  if (g->tile_rows < CONV2D_MIN_TILE_ROWS)
    g->tile_rows = CONV2D_MIN_TILE_ROWS;
  if (g->tile_rows > g->rows)
    g->tile_rows = g->rows;
}

/* Writes im2col rows [r0, r0 + m) into col (m x k); taps that fall in the
 * `same` padding are zeros. Row layout (ky, kx, c) matches the Keras kernel
 * (kh, kw, C, filters) read as a (kh * kw * C) x filters matrix. */
static void conv2d_im2col(const conv2d_geom *g, const float *x, int64_t r0,
                          int64_t m, float *col) {
  size_t pixel = (size_t)g->c * sizeof(float);
  for (int64_t i = 0; i < m; i++) {
    int64_t r = r0 + i;
    int64_t img = r / (g->oh * g->ow);
    int64_t p = r % (g->oh * g->ow);
    int64_t y0 = (p / g->ow) * g->sh - g->pad_top;
    int64_t x0 = (p % g->ow) * g->sw - g->pad_left;
    float *dst = col + i * g->k;
    for (int64_t ky = 0; ky < g->kh; ky++) {
      int64_t iy = y0 + ky;
      for (int64_t kx = 0; kx < g->kw; kx++, dst += g->c) {
        int64_t ix = x0 + kx;
        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
          memset(dst, 0, pixel);
        else
          memcpy(dst, x + ((img * g->h + iy) * g->w + ix) * g->c, pixel);
      }
    }
  }
}

static size_t conv2d_workspace_bytes(const gesta_op_call *call) {
  conv2d_geom g;
  conv2d_geometry(call, &g);
  if (g.direct)
    return 0;
  return (size_t)(g.tile_rows * g.k) * sizeof(float);
}

static gesta_status conv2d_forward(const gesta_op_call *call,
                                   gesta_error *err) {
  conv2d_geom g;
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  const float *kernel = gesta_tensor_host_data(&call->params[0]);
  const float *bias =
      call->n_params > 1 ? gesta_tensor_host_data(&call->params[1]) : NULL;
  float *y = gesta_tensor_host_data(call->output);
  float *col = NULL;
  gesta_activation act = gesta_node_attr_enum(call->node, "activation");

  conv2d_geometry(call, &g);
  if (g.rows == 0)
    return GESTA_STATUS_OK;
  if (g.k > INT_MAX || g.filters > INT_MAX || g.tile_rows > INT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "conv2d: a %lld x %lld matrix product is beyond "
                           "the BLAS interface's int sizes",
                           (long long)g.k, (long long)g.filters);
  if (!g.direct) {
    if (!call->workspace)
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "conv2d: the executor gave no workspace");
    col = gesta_tensor_host_data(call->workspace);
  }

  for (int64_t r0 = 0; r0 < g.rows; r0 += g.tile_rows) {
    int64_t m = g.rows - r0 < g.tile_rows ? g.rows - r0 : g.tile_rows;
    const float *a = x + r0 * g.c;
    float *out = y + r0 * g.filters;
    if (!g.direct) {
      conv2d_im2col(&g, x, r0, m, col);
      a = col;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m,
                (int)g.filters, (int)g.k, 1.0f, a, (int)g.k, kernel,
                (int)g.filters, 0.0f, out, (int)g.filters);
    if (bias)
      for (int64_t i = 0; i < m; i++)
        for (int64_t f = 0; f < g.filters; f++)
          out[i * g.filters + f] += bias[f];
    if (call->saved && act == GESTA_ACTIVATION_SOFTMAX)
      memcpy(gesta_tensor_host_data(call->saved) + r0 * g.filters, out,
             (size_t)(m * g.filters) * sizeof(float));
    gesta_activation_apply(act, out, m, g.filters);
  }
  return GESTA_STATUS_OK;
}

static size_t conv2d_saved_bytes(const gesta_op_call *call) {
  if (gesta_node_attr_enum(call->node, "activation") !=
      GESTA_ACTIVATION_SOFTMAX)
    return 0;
  return gesta_tensor_bytes(call->output);
}

/* Adds im2col rows [r0, r0 + m) of dcol back onto dx: the transpose of
 * conv2d_im2col, padding taps dropped. */
static void conv2d_col2im(const conv2d_geom *g, const float *dcol, int64_t r0,
                          int64_t m, float *dx) {
  for (int64_t i = 0; i < m; i++) {
    int64_t r = r0 + i;
    int64_t img = r / (g->oh * g->ow);
    int64_t p = r % (g->oh * g->ow);
    int64_t y0 = (p / g->ow) * g->sh - g->pad_top;
    int64_t x0 = (p % g->ow) * g->sw - g->pad_left;
    const float *src = dcol + i * g->k;
    for (int64_t ky = 0; ky < g->kh; ky++) {
      int64_t iy = y0 + ky;
      for (int64_t kx = 0; kx < g->kw; kx++, src += g->c) {
        int64_t ix = x0 + kx;
        float *dst;
        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
          continue;
        dst = dx + ((img * g->h + iy) * g->w + ix) * g->c;
        for (int64_t ch = 0; ch < g->c; ch++)
          dst[ch] += src[ch];
      }
    }
  }
}

static bool conv2d_needs_dz(const gesta_op_grad_call *call) {
  gesta_activation act =
      gesta_node_attr_enum(call->forward->node, "activation");
  return act != GESTA_ACTIVATION_LINEAR &&
         !(act == GESTA_ACTIVATION_SOFTMAX && call->output_grad_is_logits);
}

/* dz (rows x filters) when the activation needs one, then col and dcol
 * (tile x k each) unless the convolution is direct. */
static size_t conv2d_backward_workspace_bytes(const gesta_op_grad_call *call) {
  conv2d_geom g;
  size_t floats = 0;
  conv2d_geometry(call->forward, &g);
  if (conv2d_needs_dz(call))
    floats += (size_t)(g.rows * g.filters);
  if (!g.direct)
    floats += 2 * (size_t)(g.tile_rows * g.k);
  return floats * sizeof(float);
}

static gesta_status conv2d_backward(const gesta_op_grad_call *call,
                                    gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  conv2d_geom g;
  const float *x = gesta_tensor_host_data(&fw->inputs[0]);
  const float *kernel = gesta_tensor_host_data(&fw->params[0]);
  const float *y = gesta_tensor_host_data(fw->output);
  const float *dz = gesta_tensor_host_data(call->output_grad);
  float *dx = gesta_grad_host(call->input_grads, 0);
  float *dkernel = gesta_grad_host(call->param_grads, 0);
  float *dbias =
      fw->n_params > 1 ? gesta_grad_host(call->param_grads, 1) : NULL;
  float *scratch = NULL, *col = NULL, *dcol = NULL;
  gesta_activation act = gesta_node_attr_enum(fw->node, "activation");

  conv2d_geometry(fw, &g);
  if (g.k > INT_MAX || g.filters > INT_MAX || g.tile_rows > INT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "conv2d: a %lld x %lld matrix product is beyond "
                           "the BLAS interface's int sizes",
                           (long long)g.k, (long long)g.filters);
  if (conv2d_backward_workspace_bytes(call) > 0) {
    if (!call->workspace)
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "conv2d: the trainer gave no backward workspace");
    scratch = gesta_tensor_host_data(call->workspace);
  }
  if (conv2d_needs_dz(call)) {
    gesta_activation_backward(act, false, y, dz, scratch, g.rows, g.filters);
    dz = scratch;
    scratch += g.rows * g.filters;
  }
  if (!g.direct) {
    col = scratch;
    dcol = col + g.tile_rows * g.k;
  }
  if (dx)
    memset(dx, 0, gesta_tensor_bytes(&fw->inputs[0]));
  if (dkernel)
    memset(dkernel, 0, (size_t)(g.k * g.filters) * sizeof(float));
  if (dbias)
    gesta_grad_column_sums(dz, g.rows, g.filters, dbias);

  for (int64_t r0 = 0; r0 < g.rows; r0 += g.tile_rows) {
    int64_t m = g.rows - r0 < g.tile_rows ? g.rows - r0 : g.tile_rows;
    const float *dzt = dz + r0 * g.filters;
    if (dkernel) {
      const float *a = x + r0 * g.c;
      if (!g.direct) {
        conv2d_im2col(&g, x, r0, m, col);
        a = col;
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.k,
                  (int)g.filters, (int)m, 1.0f, a, (int)g.k, dzt,
                  (int)g.filters, 1.0f, dkernel, (int)g.filters);
    }
    if (dx) {
      /* Direct: dcol rows are the input's own pixels. */
      float *d = g.direct ? dx + r0 * g.c : dcol;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)g.k,
                  (int)g.filters, 1.0f, dzt, (int)g.filters, kernel,
                  (int)g.filters, 0.0f, d, (int)g.k);
      if (!g.direct)
        conv2d_col2im(&g, dcol, r0, m, dx);
    }
  }
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_conv2d_cpu = {
    .forward = conv2d_forward,
    .workspace_bytes = conv2d_workspace_bytes,
    .backward = conv2d_backward,
    .backward_workspace_bytes = conv2d_backward_workspace_bytes,
    .saved_bytes = conv2d_saved_bytes,
};
