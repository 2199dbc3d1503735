/* conv2d on the CPU: NHWC im2col in tiles of output pixels, each tile one
 * GEMM against the kernel viewed as (kh * kw * C) x filters, which yields
 * NHWC output rows directly. Tiling keeps the im2col scratch cache-sized
 * instead of a whole batch's (N * OH * OW) x (kh * kw * C) matrix. */
#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "activation.h"
#include "op_util.h"

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
    gesta_activation_apply(act, out, m, g.filters);
  }
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_conv2d_cpu = {
    .forward = conv2d_forward,
    .workspace_bytes = conv2d_workspace_bytes,
};
