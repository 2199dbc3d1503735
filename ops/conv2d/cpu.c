/* conv2d on the CPU: NHWC im2col in tiles of output pixels, each tile one
 * GEMM against the kernel viewed as (kh * kw * C) x filters, which yields
 * NHWC output rows directly, then bias and activation while the tile's
 * output is still in cache. Tiling keeps the im2col scratch in the core's
 * own cache instead of a whole batch's (N * OH * OW) x (kh * kw * C)
 * matrix going through memory. The tiles are shared out across threads,
 * each with its own scratch in the workspace and a single-threaded GEMM.
 *
 * Backward cuts the batch by whole images across threads (col2im of
 * neighbouring output pixels adds onto the same input pixels, and images
 * never share one) and walks each part's tiles: dz from the activation,
 * dbias and each tile's col^T . dz added in double into the part's own
 * sums, and dcol = dz . kernel^T scattered back onto the input (col2im).
 * The parts' sums are then added in part order. Tile bounds depend on the
 * shapes alone, so only that last addition sees the thread count. With a
 * fused softmax, the logits go to `saved` whenever the caller gives one,
 * for the loss. */
#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "activation.h"
#include "cpu/parallel.h"
#include "cpu_taps.h"
#include "cpu_winograd.h"
#include "op_util.h"
#include "train_ops.h"

/* im2col scratch per tile: small enough to stay in a core's L2 cache next
 * to the GEMM's packed panels and the tile's output, large enough that each
 * GEMM has a useful height. On the LRCN (forward, 2 threads) 128 KiB beat
 * 64 KiB, 256 KiB, 512 KiB and 1 MiB by 5-15 %. */
#ifdef GESTA_CPU_SPLIT_ALL
#define CONV2D_TILE_BYTES ((int64_t)1)
#define CONV2D_MIN_TILE_ROWS 3
#else
#define CONV2D_TILE_BYTES ((int64_t)128 << 10)
#define CONV2D_MIN_TILE_ROWS 64
#endif

/* Start of part j of n items cut into `parts`. */
static int64_t conv2d_split(int64_t n, int64_t parts, int64_t j) {
  return n / parts * j + (n % parts) * j / parts;
}

static void conv2d_tiling(conv2d_geom *g) {
  int64_t ohw = g->oh * g->ow;
  int64_t want = CONV2D_TILE_BYTES / (g->k * (int64_t)sizeof(float));
  if (want < CONV2D_MIN_TILE_ROWS)
    want = CONV2D_MIN_TILE_ROWS;
  g->strips = 1;
  g->tiles = g->tile_rows = 0;
  if (g->rows == 0)
    return;
  if (ohw > want) {
    g->strips = (ohw + want - 1) / want;
    g->tiles = g->n * g->strips;
    g->tile_rows = (ohw + g->strips - 1) / g->strips;
  } else {
    int64_t per_tile = want / ohw < g->n ? want / ohw : g->n;
    g->tiles = (g->n + per_tile - 1) / per_tile;
    g->tile_rows = (g->n + g->tiles - 1) / g->tiles * ohw;
  }
}

/* Output rows [*r0, *r0 + *m) of tile t. */
static void conv2d_tile(const conv2d_geom *g, int64_t t, int64_t *r0,
                        int64_t *m) {
  int64_t ohw = g->oh * g->ow;
  if (g->strips > 1) {
    int64_t j = t % g->strips;
    int64_t a = conv2d_split(ohw, g->strips, j);
    *r0 = t / g->strips * ohw + a;
    *m = conv2d_split(ohw, g->strips, j + 1) - a;
  } else {
    int64_t i0 = conv2d_split(g->n, g->tiles, t);
    *r0 = i0 * ohw;
    *m = (conv2d_split(g->n, g->tiles, t + 1) - i0) * ohw;
  }
}

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
  g->taps = conv2d_taps_fits(g);
  conv2d_tiling(g);
}

/* Threads for `items` units of work (tiles, images): no more than there
 * are units. */
static int conv2d_max_parts(int64_t items) {
  int t = gesta_cpu_threads();
  return items < t ? (int)(items > 0 ? items : 1) : t;
}

/* The parts a kernel may use: as planned, and no more than its workspace
 * has room for (the thread count may have changed since it was planned). */
static int conv2d_parts(int64_t work, int64_t items, int64_t slot_floats,
                        const gesta_tensor *workspace) {
  int parts = gesta_cpu_parts(work, GESTA_CPU_GRAIN_GEMM);
  if (parts > items)
    parts = (int)(items > 0 ? items : 1);
  if (slot_floats > 0) {
    int64_t room =
        workspace ? (int64_t)(gesta_tensor_bytes(workspace) / sizeof(float))
                  : 0;
    if (parts > room / slot_floats)
      parts = (int)(room / slot_floats);
  }
  return parts > 1 ? parts : 1;
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

/* Forward scratch per thread: one im2col tile. */
static int64_t conv2d_forward_slot(const conv2d_geom *g) {
  return g->direct || g->taps ? 0 : conv2d_lines(g->tile_rows * g->k);
}

static size_t conv2d_workspace_bytes(const gesta_op_call *call) {
  conv2d_geom g;
  conv2d_geometry(call, &g);
  int64_t floats = conv2d_max_parts(g.tiles) * conv2d_forward_slot(&g);
  if (conv2d_winograd_fits(&g)) {
    int64_t wino = conv2d_winograd_workspace(&g, gesta_cpu_threads());
    floats = wino > floats ? wino : floats;
  }
  return (size_t)floats * sizeof(float);
}

/* Inference of a 3x3, stride 1 layer without softmax: Winograd, on as
 * many threads as the workspace has room for. */
static bool conv2d_forward_winograd(const gesta_op_call *call,
                                    const conv2d_geom *g,
                                    gesta_activation act) {
  if (call->training || !conv2d_winograd_fits(g) || !call->workspace ||
      (act != GESTA_ACTIVATION_RELU && act != GESTA_ACTIVATION_LINEAR))
    return false;
  int64_t room = (int64_t)(gesta_tensor_bytes(call->workspace) / sizeof(float));
  int parts =
      gesta_cpu_parts(g->rows * g->k * g->filters, GESTA_CPU_GRAIN_GEMM);
  while (parts > 1 && conv2d_winograd_workspace(g, parts) > room)
    parts--;
  if (conv2d_winograd_workspace(g, parts) > room)
    return false;
  conv2d_winograd_forward(
      g, gesta_tensor_host_data(&call->inputs[0]),
      gesta_tensor_host_data(&call->params[0]),
      call->n_params > 1 ? gesta_tensor_host_data(&call->params[1]) : NULL,
      act == GESTA_ACTIVATION_RELU, gesta_tensor_host_data(call->output),
      gesta_tensor_host_data(call->workspace), parts);
  return true;
}

typedef struct conv2d_fw_args {
  const conv2d_geom *g;
  const float *x, *kernel, *bias;
  float *y, *saved;
  float *ws; /* part p's im2col tile at ws + p * slot, or NULL */
  int64_t slot;
  int parts;
  gesta_activation act;
} conv2d_fw_args;

/* Output rows [r0, r0 + m): GEMM, bias, logits for the loss, activation;
 * without im2col, bias and ReLU as the values are stored. */
static void conv2d_forward_tile(const conv2d_fw_args *a, int64_t r0, int64_t m,
                                float *col) {
  const conv2d_geom *g = a->g;
  const float *in = a->x + r0 * g->c;
  float *out = a->y + r0 * g->filters;
  if (g->taps) {
    bool fused = !a->saved && (a->act == GESTA_ACTIVATION_RELU ||
                               a->act == GESTA_ACTIVATION_LINEAR);
    conv2d_taps_rows(g, a->x, a->kernel, fused ? a->bias : NULL,
                     fused && a->act == GESTA_ACTIVATION_RELU, r0, m, out);
    if (fused)
      return;
  } else {
    if (!g->direct) {
      conv2d_im2col(g, a->x, r0, m, col);
      in = col;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m,
                (int)g->filters, (int)g->k, 1.0f, in, (int)g->k, a->kernel,
                (int)g->filters, 0.0f, out, (int)g->filters);
  }
  if (a->bias)
    for (int64_t i = 0; i < m; i++)
      for (int64_t f = 0; f < g->filters; f++)
        out[i * g->filters + f] += a->bias[f];
  if (a->saved)
    memcpy(a->saved + r0 * g->filters, out,
           (size_t)(m * g->filters) * sizeof(float));
  gesta_activation_apply(a->act, out, m, g->filters);
}

static void conv2d_forward_part(void *ctx, int p) {
  const conv2d_fw_args *a = ctx;
  int64_t t1 = gesta_cpu_split(a->g->tiles, a->parts, p + 1);
  for (int64_t t = gesta_cpu_split(a->g->tiles, a->parts, p); t < t1; t++) {
    int64_t r0, m;
    conv2d_tile(a->g, t, &r0, &m);
    conv2d_forward_tile(a, r0, m, a->ws ? a->ws + p * a->slot : NULL);
  }
}

static gesta_status conv2d_check_sizes(const conv2d_geom *g, gesta_error *err) {
  if (g->k > INT_MAX || g->filters > INT_MAX || g->tile_rows > INT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "conv2d: a %lld x %lld matrix product is beyond "
                           "the BLAS interface's int sizes",
                           (long long)g->k, (long long)g->filters);
  return GESTA_STATUS_OK;
}

static gesta_status conv2d_forward(const gesta_op_call *call,
                                   gesta_error *err) {
  conv2d_geom g;
  conv2d_fw_args a;
  float *ws = NULL;
  int64_t slot;
  gesta_status st;

  conv2d_geometry(call, &g);
  if (g.rows == 0)
    return GESTA_STATUS_OK;
  if ((st = conv2d_check_sizes(&g, err)))
    return st;
  if (conv2d_forward_winograd(call, &g,
                              gesta_node_attr_enum(call->node, "activation")))
    return GESTA_STATUS_OK;
  slot = conv2d_forward_slot(&g);
  if (slot > 0) {
    if (!call->workspace || (int64_t)gesta_tensor_bytes(call->workspace) <
                                slot * (int64_t)sizeof(float))
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "conv2d: the executor gave no workspace or too "
                             "small a one");
    ws = gesta_tensor_host_data(call->workspace);
  }
  a.g = &g;
  a.x = gesta_tensor_host_data(&call->inputs[0]);
  a.kernel = gesta_tensor_host_data(&call->params[0]);
  a.bias = call->n_params > 1 ? gesta_tensor_host_data(&call->params[1]) : NULL;
  a.y = gesta_tensor_host_data(call->output);
  a.act = gesta_node_attr_enum(call->node, "activation");
  a.saved = call->saved && a.act == GESTA_ACTIVATION_SOFTMAX
                ? gesta_tensor_host_data(call->saved)
                : NULL;
  a.ws = ws;
  a.slot = slot;
  a.parts =
      conv2d_parts(g.rows * g.k * g.filters, g.tiles, slot, call->workspace);
  gesta_cpu_run(a.parts, conv2d_forward_part, &a);
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

/* Backward scratch per thread, in floats: dbias and dkernel sums in
 * double, one tile's dkernel product, a tile of dz when the activation
 * needs one, and col and dcol tiles unless the convolution is direct. Each
 * tile's dkernel product is added in double, so the sum over thousands of
 * tiles loses no more than one product does. */
typedef struct conv2d_bw_slot {
  int64_t dk_sum, dk_tile, dz, col, dcol, size; /* offsets, then the total */
} conv2d_bw_slot;

static conv2d_bw_slot conv2d_backward_slot(const conv2d_geom *g,
                                           bool needs_dz) {
  conv2d_bw_slot s;
  int64_t tile = g->tile_rows * g->k;
  s.dk_sum = conv2d_lines(2 * g->filters);
  s.dk_tile = s.dk_sum + conv2d_lines(2 * g->k * g->filters);
  s.dz = s.dk_tile + conv2d_lines(g->k * g->filters);
  s.col = s.dz + (needs_dz ? conv2d_lines(g->tile_rows * g->filters) : 0);
  s.dcol = s.col + (g->direct ? 0 : conv2d_lines(tile));
  s.size = s.dcol + (g->direct ? 0 : conv2d_lines(tile));
  return s;
}

/* What backward cuts across threads: whole images, so that no two threads
 * add onto the same input pixels; a group is one image when images are cut
 * into strips, else one tile of whole images. */
static int64_t conv2d_groups(const conv2d_geom *g) {
  return g->strips > 1 ? g->n : g->tiles;
}

static size_t conv2d_backward_workspace_bytes(const gesta_op_grad_call *call) {
  conv2d_geom g;
  conv2d_geometry(call->forward, &g);
  return (size_t)(conv2d_max_parts(conv2d_groups(&g)) *
                  conv2d_backward_slot(&g, conv2d_needs_dz(call)).size) *
         sizeof(float);
}

typedef struct conv2d_bw_args {
  const conv2d_geom *g;
  conv2d_bw_slot slot;
  const float *x, *kernel, *y, *dy;
  float *dx;
  bool dkernel, dbias, needs_dz;
  gesta_activation act;
  float *ws;                 /* part p's scratch at ws + p * slot.size */
  int64_t groups, per_group; /* cut into parts, tiles per group */
  int parts;
} conv2d_bw_args;

/* Tiles [t0, t1) (whole images): their dx, and dkernel and dbias sums into
 * the part's scratch. */
static void conv2d_backward_part(const conv2d_bw_args *a, int64_t t0,
                                 int64_t t1, float *scratch) {
  const conv2d_geom *g = a->g;
  int64_t nk = g->k * g->filters, first, end, m;
  double *db = (double *)scratch, *dks = (double *)(scratch + a->slot.dk_sum);
  float *dkt = scratch + a->slot.dk_tile;
  float *col = scratch + a->slot.col, *dcol = scratch + a->slot.dcol;
  conv2d_tile(g, t0, &first, &m);
  conv2d_tile(g, t1 - 1, &end, &m);
  end += m;
  if (a->dx)
    memset(a->dx + first / (g->oh * g->ow) * g->h * g->w * g->c, 0,
           (size_t)((end - first) / (g->oh * g->ow) * g->h * g->w * g->c) *
               sizeof(float));
  memset(db, 0, (size_t)g->filters * sizeof(double));
  if (a->dkernel)
    memset(dks, 0, (size_t)nk * sizeof(double));
  for (int64_t t = t0; t < t1; t++) {
    int64_t r0;
    const float *dz;
    conv2d_tile(g, t, &r0, &m);
    dz = a->dy + r0 * g->filters;
    if (a->needs_dz) {
      float *buf = scratch + a->slot.dz;
      gesta_activation_grad(a->act, false, a->y + r0 * g->filters, dz, buf, m,
                            g->filters);
      dz = buf;
    }
    if (a->dbias)
      for (int64_t i = 0; i < m; i++)
        for (int64_t f = 0; f < g->filters; f++)
          db[f] += dz[i * g->filters + f];
    if (a->dkernel) {
      const float *in = a->x + r0 * g->c;
      if (!g->direct) {
        conv2d_im2col(g, a->x, r0, m, col);
        in = col;
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->k,
                  (int)g->filters, (int)m, 1.0f, in, (int)g->k, dz,
                  (int)g->filters, 0.0f, dkt, (int)g->filters);
      for (int64_t j = 0; j < nk; j++)
        dks[j] += dkt[j];
    }
    if (a->dx) {
      /* Direct: dcol rows are the input's own pixels. */
      float *d = g->direct ? a->dx + r0 * g->c : dcol;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)g->k,
                  (int)g->filters, 1.0f, dz, (int)g->filters, a->kernel,
                  (int)g->filters, 0.0f, d, (int)g->k);
      if (!g->direct)
        conv2d_col2im(g, dcol, r0, m, a->dx);
    }
  }
}

typedef struct conv2d_reduce_args {
  float *out;
  const float *ws;
  int64_t slot_size, offset, n;
  int parts, chunks;
} conv2d_reduce_args;

static void conv2d_reduce_chunk(void *ctx, int q) {
  const conv2d_reduce_args *a = ctx;
  int64_t j1 = gesta_cpu_split(a->n, a->chunks, q + 1);
  for (int64_t j = gesta_cpu_split(a->n, a->chunks, q); j < j1; j++) {
    double sum = 0.0;
    for (int p = 0; p < a->parts; p++)
      sum += ((const double *)(a->ws + p * a->slot_size + a->offset))[j];
    a->out[j] = (float)sum;
  }
}

/* out[j] = the parts' sums at `offset` of each slot added in part order. */
static void conv2d_reduce(float *out, const float *ws, int64_t slot_size,
                          int64_t offset, int parts, int64_t n) {
  conv2d_reduce_args a = {out, ws, slot_size, offset, n, parts, 1};
  a.chunks = gesta_cpu_parts(n * parts, GESTA_CPU_GRAIN_COPY);
  gesta_cpu_run(a.chunks, conv2d_reduce_chunk, &a);
}

static void conv2d_backward_part_run(void *ctx, int p) {
  const conv2d_bw_args *a = ctx;
  conv2d_backward_part(
      a, gesta_cpu_split(a->groups, a->parts, p) * a->per_group,
      gesta_cpu_split(a->groups, a->parts, p + 1) * a->per_group,
      a->ws + p * a->slot.size);
}

static gesta_status conv2d_backward(const gesta_op_grad_call *call,
                                    gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  conv2d_geom g;
  conv2d_bw_args a;
  float *dkernel, *dbias;
  int64_t nk;
  gesta_status st;

  conv2d_geometry(fw, &g);
  if ((st = conv2d_check_sizes(&g, err)))
    return st;
  nk = g.k * g.filters;
  a.g = &g;
  a.needs_dz = conv2d_needs_dz(call);
  a.slot = conv2d_backward_slot(&g, a.needs_dz);
  a.x = gesta_tensor_host_data(&fw->inputs[0]);
  a.kernel = gesta_tensor_host_data(&fw->params[0]);
  a.y = gesta_tensor_host_data(fw->output);
  a.dy = gesta_tensor_host_data(call->output_grad);
  a.dx = gesta_grad_host(call->input_grads, 0);
  dkernel = gesta_grad_host(call->param_grads, 0);
  dbias = fw->n_params > 1 ? gesta_grad_host(call->param_grads, 1) : NULL;
  a.dkernel = dkernel != NULL;
  a.dbias = dbias != NULL;
  a.act = gesta_node_attr_enum(fw->node, "activation");
  if (g.rows == 0) {
    if (a.dx)
      gesta_cpu_zero(a.dx, gesta_shape_count(&fw->inputs[0].shape));
    if (dkernel)
      gesta_cpu_zero(dkernel, nk);
    if (dbias)
      gesta_cpu_zero(dbias, g.filters);
    return GESTA_STATUS_OK;
  }
  if (!call->workspace || (int64_t)gesta_tensor_bytes(call->workspace) <
                              a.slot.size * (int64_t)sizeof(float))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "conv2d: the trainer gave no backward workspace or "
                           "too small a one");
  a.ws = gesta_tensor_host_data(call->workspace);
  a.groups = conv2d_groups(&g);
  a.per_group = g.strips;
  a.parts = conv2d_parts(g.rows * g.k * g.filters, a.groups, a.slot.size,
                         call->workspace);
  gesta_cpu_run(a.parts, conv2d_backward_part_run, &a);
  if (dkernel)
    conv2d_reduce(dkernel, a.ws, a.slot.size, a.slot.dk_sum, a.parts, nk);
  if (dbias)
    conv2d_reduce(dbias, a.ws, a.slot.size, 0, a.parts, g.filters);
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_conv2d_cpu = {
    .forward = conv2d_forward,
    .workspace_bytes = conv2d_workspace_bytes,
    .backward = conv2d_backward,
    .backward_workspace_bytes = conv2d_backward_workspace_bytes,
    .saved_bytes = conv2d_saved_bytes,
};
