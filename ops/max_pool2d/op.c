/* max_pool2d: the maximum over each window of (H, W, C) frames, per
 * channel (Keras MaxPooling2D). */
#include "op_util.h"

static const gesta_attr_def max_pool2d_attrs[] = {
    {.name = "pool_size",
     .type = GESTA_ATTR_PAIR,
     .default_value = "2",
     .min = 1,
     .max = 4096,
     .doc = "window size: n or [height, width]"},
    {.name = "strides",
     .type = GESTA_ATTR_PAIR,
     .min = 1,
     .max = 4096,
     .doc = "step between windows: n or [vertical, horizontal]; defaults "
            "to pool_size"},
    {.name = "padding",
     .type = GESTA_ATTR_ENUM,
     .default_value = "valid",
     .choices = GESTA_PADDING_CHOICES,
     .doc = "valid: windows inside the frame; same: ceil(size / stride) "
            "windows, clipped at the border"},
};

static gesta_status max_pool2d_infer(const gesta_node *node,
                                     const gesta_shape *inputs, int n_inputs,
                                     gesta_shape *out, gesta_error *err) {
  const gesta_shape *in = &inputs[0];
  int64_t pool[2], strides[2], dims[3], pad;
  bool same = gesta_node_attr_enum(node, "padding") == GESTA_PADDING_SAME;
  char text[GESTA_SHAPE_TEXT];
  gesta_status st;
  (void)n_inputs;
  st = gesta_op_expect_rank(node, "max_pool2d", in, 3, "(H, W, C)", err);
  if (st != GESTA_STATUS_OK)
    return st;
  gesta_node_attr_pair(node, "pool_size", pool);
  gesta_node_attr_pair_or(node, "strides", pool, strides);
  if (gesta_shape_count(in) < 1)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "max_pool2d needs a non-empty input, got %s",
                           gesta_shape_format(in, text, sizeof text));
  if (!gesta_window_geometry(in->dims[0], pool[0], strides[0], same, &dims[0],
                             &pad) ||
      !gesta_window_geometry(in->dims[1], pool[1], strides[1], same, &dims[1],
                             &pad))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "max_pool2d with pool_size [%lld, %lld] and padding "
                           "valid needs an input of at least %lld x %lld, got "
                           "%s (use padding: same or a smaller pool_size)",
                           (long long)pool[0], (long long)pool[1],
                           (long long)pool[0], (long long)pool[1],
                           gesta_shape_format(in, text, sizeof text));
  dims[2] = in->dims[2];
  *out = gesta_shape_make(3, dims);
  return GESTA_STATUS_OK;
}

const gesta_op_def gesta_op_max_pool2d = {
    .name = "max_pool2d",
    .summary = "2-D max pooling of (H, W, C) frames (Keras MaxPooling2D)",
    .attrs = max_pool2d_attrs,
    .n_attrs = (int)(sizeof max_pool2d_attrs / sizeof max_pool2d_attrs[0]),
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = max_pool2d_infer,
    .params = NULL,
};
