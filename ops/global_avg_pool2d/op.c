/* global_avg_pool2d: the mean of each channel over a whole (H, W, C) frame
 * (Keras GlobalAveragePooling2D). */
#include "op_util.h"

static gesta_status global_avg_pool2d_infer(const gesta_node *node,
                                            const gesta_shape *inputs,
                                            int n_inputs, gesta_shape *out,
                                            gesta_error *err) {
  const gesta_shape *in = &inputs[0];
  char text[GESTA_SHAPE_TEXT];
  gesta_status st;
  (void)n_inputs;
  st = gesta_op_expect_rank(node, "global_avg_pool2d", in, 3, "(H, W, C)", err);
  if (st != GESTA_STATUS_OK)
    return st;
  if (gesta_shape_count(in) < 1)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "global_avg_pool2d needs a non-empty input, got %s",
                           gesta_shape_format(in, text, sizeof text));
  *out = gesta_shape_make(1, &in->dims[2]);
  return GESTA_STATUS_OK;
}

const gesta_op_def gesta_op_global_avg_pool2d = {
    .name = "global_avg_pool2d",
    .summary = "mean over height and width of (H, W, C) frames (Keras "
               "GlobalAveragePooling2D)",
    .attrs = NULL,
    .n_attrs = 0,
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = global_avg_pool2d_infer,
    .params = NULL,
};
