/* max_pool2d on the CPU. With `same` padding a window is clipped at the
 * border rather than padded, so padding never wins the max (as in TF). */
#include <assert.h>

#include "op_util.h"

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

const gesta_op_kernel gesta_op_max_pool2d_cpu = {
    .forward = max_pool2d_forward,
    .workspace_bytes = NULL,
};
