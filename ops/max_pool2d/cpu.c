/* max_pool2d on the CPU. With `same` padding a window is clipped at the
 * border rather than padded, so padding never wins the max (as in TF).
 * Backward sends each window's gradient to its maximum; on a tie, to the
 * first one in row-major order, the one forward's strict comparison keeps
 * (TF does the same). Forward cuts output rows across threads, backward
 * whole images. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "cpu/parallel.h"
#include "op_util.h"
#include "train_ops.h"

#define MAX_POOL2D_BLOCK 64

typedef struct max_pool2d_geom {
  int64_t n, h, w, c, oh, ow, pad_top, pad_left;
  int64_t pool[2], strides[2];
} max_pool2d_geom;

static void max_pool2d_geometry(const gesta_op_call *call, max_pool2d_geom *g) {
  const gesta_shape *in = &call->inputs[0].shape;
  bool same = gesta_node_attr_enum(call->node, "padding") == GESTA_PADDING_SAME;
  bool ok;
  assert(in->rank == 4);
  g->n = in->dims[0];
  g->h = in->dims[1];
  g->w = in->dims[2];
  g->c = in->dims[3];
  gesta_node_attr_pair(call->node, "pool_size", g->pool);
  gesta_node_attr_pair_or(call->node, "strides", g->pool, g->strides);
  ok = gesta_window_geometry(g->h, g->pool[0], g->strides[0], same, &g->oh,
                             &g->pad_top) &&
       gesta_window_geometry(g->w, g->pool[1], g->strides[1], same, &g->ow,
                             &g->pad_left);
  assert(ok && "max_pool2d shapes are checked by infer()");
  (void)ok;
}

/* Output rows [q0, q1) of all images (row q is image q / oh, row q % oh). */
static void max_pool2d_forward_rows(const max_pool2d_geom *g, const float *x,
                                    float *y, int64_t q0, int64_t q1) {
  for (int64_t q = q0; q < q1; q++) {
    int64_t img = q / g->oh, oy = q % g->oh;
    const float *frame = x + img * g->h * g->w * g->c;
    int64_t y0 = oy * g->strides[0] - g->pad_top, y1 = y0 + g->pool[0];
    y0 = y0 < 0 ? 0 : y0;
    y1 = y1 > g->h ? g->h : y1;
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t x0 = ox * g->strides[1] - g->pad_left, x1 = x0 + g->pool[1];
      float *out = y + (q * g->ow + ox) * g->c;
      x0 = x0 < 0 ? 0 : x0;
      x1 = x1 > g->w ? g->w : x1;
      /* Windows are never empty (see gesta_window_geometry), so the
       * first pixel seeds the max and -inf inputs stay -inf. */
      memcpy(out, frame + (y0 * g->w + x0) * g->c,
             (size_t)g->c * sizeof(float));
      for (int64_t iy = y0; iy < y1; iy++)
        for (int64_t ix = x0; ix < x1; ix++) {
          const float *px = frame + (iy * g->w + ix) * g->c;
          for (int64_t ch = 0; ch < g->c; ch++)
            out[ch] = px[ch] > out[ch] ? px[ch] : out[ch];
        }
    }
  }
}

/* A call's arguments, for its parts: forward cuts `items` output rows,
 * backward `items` images. */
typedef struct max_pool2d_args {
  max_pool2d_geom g;
  const float *x, *dy;
  float *y; /* backward: dx */
  int64_t items;
  int parts;
} max_pool2d_args;

static void max_pool2d_forward_part(void *ctx, int p) {
  const max_pool2d_args *a = ctx;
  max_pool2d_forward_rows(&a->g, a->x, a->y,
                          gesta_cpu_split(a->items, a->parts, p),
                          gesta_cpu_split(a->items, a->parts, p + 1));
}

static gesta_status max_pool2d_forward(const gesta_op_call *call,
                                       gesta_error *err) {
  max_pool2d_args a;
  (void)err;
  a.x = gesta_tensor_host_data(&call->inputs[0]);
  a.y = gesta_tensor_host_data(call->output);
  max_pool2d_geometry(call, &a.g);
  a.items = a.g.n * a.g.oh;
  a.parts = gesta_cpu_parts(gesta_shape_count(&call->inputs[0].shape),
                            GESTA_CPU_GRAIN_COPY);
  if (a.parts > a.items)
    a.parts = a.items > 1 ? (int)a.items : 1;
  gesta_cpu_run(a.parts, max_pool2d_forward_part, &a);
  return GESTA_STATUS_OK;
}

/* Images [i0, i1): dx zeroed, then each window's gradient added to its
 * maximum. Windows may overlap (strides below the pool size), so a part
 * owns whole images. */
static void max_pool2d_backward_images(const max_pool2d_geom *g, const float *x,
                                       const float *dy, float *dx, int64_t i0,
                                       int64_t i1) {
  int64_t frame_size = g->h * g->w * g->c;
  memset(dx + i0 * frame_size, 0,
         (size_t)((i1 - i0) * frame_size) * sizeof(float));
  for (int64_t img = i0; img < i1; img++) {
    const float *frame = x + img * frame_size;
    float *dframe = dx + img * frame_size;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      int64_t y0 = oy * g->strides[0] - g->pad_top, y1 = y0 + g->pool[0];
      y0 = y0 < 0 ? 0 : y0;
      y1 = y1 > g->h ? g->h : y1;
      for (int64_t ox = 0; ox < g->ow; ox++) {
        int64_t x0 = ox * g->strides[1] - g->pad_left, x1 = x0 + g->pool[1];
        const float *d = dy + ((img * g->oh + oy) * g->ow + ox) * g->c;
        x0 = x0 < 0 ? 0 : x0;
        x1 = x1 > g->w ? g->w : x1;
        /* Channels in blocks, pixels in memory order: the running max
         * and where it is, per channel. */
        for (int64_t c0 = 0; c0 < g->c; c0 += MAX_POOL2D_BLOCK) {
          int64_t w =
              g->c - c0 < MAX_POOL2D_BLOCK ? g->c - c0 : MAX_POOL2D_BLOCK;
          float best[MAX_POOL2D_BLOCK];
          int32_t at[MAX_POOL2D_BLOCK]; /* as wide as a float: vectorises */
          const float *first = frame + (y0 * g->w + x0) * g->c + c0;
          for (int64_t j = 0; j < w; j++) {
            best[j] = first[j];
            at[j] = (int32_t)(y0 * g->w + x0);
          }
          for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++) {
              const float *px = frame + (iy * g->w + ix) * g->c + c0;
              int32_t here = (int32_t)(iy * g->w + ix);
              /* Selects, not branches: which pixel wins is data. */
              for (int64_t j = 0; j < w; j++) {
                int32_t wins = -(int32_t)(px[j] > best[j]);
                best[j] = wins ? px[j] : best[j];
                at[j] = (here & wins) | (at[j] & ~wins);
              }
            }
          for (int64_t j = 0; j < w; j++)
            dframe[(int64_t)at[j] * g->c + c0 + j] += d[c0 + j];
        }
      }
    }
  }
}

static void max_pool2d_backward_part(void *ctx, int p) {
  const max_pool2d_args *a = ctx;
  max_pool2d_backward_images(&a->g, a->x, a->dy, a->y,
                             gesta_cpu_split(a->items, a->parts, p),
                             gesta_cpu_split(a->items, a->parts, p + 1));
}

static gesta_status max_pool2d_backward(const gesta_op_grad_call *call,
                                        gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  max_pool2d_args a;
  a.x = gesta_tensor_host_data(&fw->inputs[0]);
  a.dy = gesta_tensor_host_data(call->output_grad);
  a.y = gesta_grad_host(call->input_grads, 0);
  if (!a.y)
    return GESTA_STATUS_OK;
  max_pool2d_geometry(fw, &a.g);
  if (a.g.h * a.g.w > INT32_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "max_pool2d: a %lld x %lld frame is too large to "
                           "train on the CPU",
                           (long long)a.g.h, (long long)a.g.w);
  a.items = a.g.n;
  a.parts = gesta_cpu_parts(gesta_shape_count(&fw->inputs[0].shape),
                            GESTA_CPU_GRAIN_COPY);
  if (a.parts > a.items)
    a.parts = a.items > 1 ? (int)a.items : 1;
  gesta_cpu_run(a.parts, max_pool2d_backward_part, &a);
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_max_pool2d_cpu = {
    .forward = max_pool2d_forward,
    .workspace_bytes = NULL,
    .backward = max_pool2d_backward,
};
