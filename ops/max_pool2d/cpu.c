/* max_pool2d on the CPU. With `same` padding a window is clipped at the
 * border rather than padded, so padding never wins the max (as in TF).
 * Backward sends each window's gradient to its maximum; on a tie, to the
 * first one in row-major order, the one forward's strict comparison keeps
 * (TF does the same). */
#include <assert.h>
#include <string.h>

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

static gesta_status max_pool2d_forward(const gesta_op_call *call,
                                       gesta_error *err) {
  const gesta_shape *in = &call->inputs[0].shape;
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  float *y = gesta_tensor_host_data(call->output);
  bool same = gesta_node_attr_enum(call->node, "padding") == GESTA_PADDING_SAME;
  int64_t pool[2], strides[2], oh, ow, pad_top, pad_left;
  int64_t n, h, w, c;
  bool ok;
  (void)err;
  assert(in->rank == 4);
  n = in->dims[0];
  h = in->dims[1];
  w = in->dims[2];
  c = in->dims[3];
  gesta_node_attr_pair(call->node, "pool_size", pool);
  gesta_node_attr_pair_or(call->node, "strides", pool, strides);
  ok = gesta_window_geometry(h, pool[0], strides[0], same, &oh, &pad_top) &&
       gesta_window_geometry(w, pool[1], strides[1], same, &ow, &pad_left);
  assert(ok && "max_pool2d shapes are checked by infer()");
  (void)ok;

  for (int64_t img = 0; img < n; img++) {
    const float *frame = x + img * h * w * c;
    for (int64_t oy = 0; oy < oh; oy++) {
      int64_t y0 = oy * strides[0] - pad_top, y1 = y0 + pool[0];
      if (y0 < 0)
        y0 = 0;
      if (y1 > h)
        y1 = h;
      for (int64_t ox = 0; ox < ow; ox++) {
        int64_t x0 = ox * strides[1] - pad_left, x1 = x0 + pool[1];
        float *out = y + ((img * oh + oy) * ow + ox) * c;
        if (x0 < 0)
          x0 = 0;
        if (x1 > w)
          x1 = w;
        /* Windows are never empty (see gesta_window_geometry), so the
         * first pixel seeds the max and -inf inputs stay -inf. */
        for (int64_t ch = 0; ch < c; ch++)
          out[ch] = frame[(y0 * w + x0) * c + ch];
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) {
            const float *px = frame + (iy * w + ix) * c;
            for (int64_t ch = 0; ch < c; ch++)
              if (px[ch] > out[ch])
                out[ch] = px[ch];
          }
      }
    }
  }
  return GESTA_STATUS_OK;
}

static gesta_status max_pool2d_backward(const gesta_op_grad_call *call,
                                        gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  const float *x = gesta_tensor_host_data(&fw->inputs[0]);
  const float *dy = gesta_tensor_host_data(call->output_grad);
  float *dx = gesta_grad_host(call->input_grads, 0);
  max_pool2d_geom g;
  (void)err;
  if (!dx)
    return GESTA_STATUS_OK;
  max_pool2d_geometry(fw, &g);
  memset(dx, 0, gesta_tensor_bytes(&fw->inputs[0]));
  for (int64_t img = 0; img < g.n; img++) {
    const float *frame = x + img * g.h * g.w * g.c;
    float *dframe = dx + img * g.h * g.w * g.c;
    for (int64_t oy = 0; oy < g.oh; oy++) {
      int64_t y0 = oy * g.strides[0] - g.pad_top, y1 = y0 + g.pool[0];
      y0 = y0 < 0 ? 0 : y0;
      y1 = y1 > g.h ? g.h : y1;
      for (int64_t ox = 0; ox < g.ow; ox++) {
        int64_t x0 = ox * g.strides[1] - g.pad_left, x1 = x0 + g.pool[1];
        const float *d = dy + ((img * g.oh + oy) * g.ow + ox) * g.c;
        x0 = x0 < 0 ? 0 : x0;
        x1 = x1 > g.w ? g.w : x1;
        /* Channels in blocks, pixels in memory order: the running max
         * and where it is, per channel. */
        for (int64_t c0 = 0; c0 < g.c; c0 += MAX_POOL2D_BLOCK) {
          int64_t w = g.c - c0 < MAX_POOL2D_BLOCK ? g.c - c0 : MAX_POOL2D_BLOCK;
          float best[MAX_POOL2D_BLOCK];
          int64_t at[MAX_POOL2D_BLOCK];
          const float *first = frame + (y0 * g.w + x0) * g.c + c0;
          for (int64_t j = 0; j < w; j++) {
            best[j] = first[j];
            at[j] = y0 * g.w + x0;
          }
          for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++) {
              const float *px = frame + (iy * g.w + ix) * g.c + c0;
              for (int64_t j = 0; j < w; j++)
                if (px[j] > best[j]) {
                  best[j] = px[j];
                  at[j] = iy * g.w + ix;
                }
            }
          for (int64_t j = 0; j < w; j++)
            dframe[at[j] * g.c + c0 + j] += d[c0 + j];
        }
      }
    }
  }
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_max_pool2d_cpu = {
    .forward = max_pool2d_forward,
    .workspace_bytes = NULL,
    .backward = max_pool2d_backward,
};
