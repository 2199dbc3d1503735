/* conv2d: 2-D convolution over (H, W, C) frames, Keras Conv2D semantics
 * (channels last, `valid` / `same` padding, optional fused activation). */
#include "op_util.h"

static const gesta_attr_def conv2d_attrs[] = {
    {.name = "filters",
     .type = GESTA_ATTR_INT,
     .required = true,
     .min = 1,
     .max = 65536,
     .doc = "number of output channels"},
    {.name = "kernel",
     .type = GESTA_ATTR_PAIR,
     .required = true,
     .min = 1,
     .max = 4096,
     .doc = "window size: n or [height, width]"},
    {.name = "strides",
     .type = GESTA_ATTR_PAIR,
     .default_value = "1",
     .min = 1,
     .max = 4096,
     .doc = "step between windows: n or [vertical, horizontal]"},
    {.name = "padding",
     .type = GESTA_ATTR_ENUM,
     .default_value = "valid",
     .choices = GESTA_PADDING_CHOICES,
     .doc = "valid: windows inside the frame; same: zero-pad to "
            "ceil(size / stride)"},
    {.name = "activation",
     .type = GESTA_ATTR_ENUM,
     .default_value = "linear",
     .choices = GESTA_ACTIVATION_CHOICES,
     .doc = "activation applied to the output"},
    {.name = "use_bias",
     .type = GESTA_ATTR_BOOL,
     .default_value = "true",
     .doc = "add a learned bias per filter"},
};

static gesta_status conv2d_infer(const gesta_node *node,
                                 const gesta_shape *inputs, int n_inputs,
                                 gesta_shape *out, gesta_error *err) {
  const gesta_shape *in = &inputs[0];
  int64_t kernel[2], strides[2], dims[3], pad;
  bool same = gesta_node_attr_enum(node, "padding") == GESTA_PADDING_SAME;
  char text[GESTA_SHAPE_TEXT];
  gesta_status st;
  (void)n_inputs;
  st = gesta_op_expect_rank(node, "conv2d", in, 3, "(H, W, C)", err);
  if (st != GESTA_STATUS_OK)
    return st;
  gesta_node_attr_pair(node, "kernel", kernel);
  gesta_node_attr_pair(node, "strides", strides);
  if (gesta_shape_count(in) < 1)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "conv2d needs a non-empty input, got %s",
                           gesta_shape_format(in, text, sizeof text));
  if (!gesta_window_geometry(in->dims[0], kernel[0], strides[0], same, &dims[0],
                             &pad) ||
      !gesta_window_geometry(in->dims[1], kernel[1], strides[1], same, &dims[1],
                             &pad))
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "conv2d with kernel [%lld, %lld] and padding valid needs an input of "
        "at least %lld x %lld, got %s (use padding: same or a smaller kernel)",
        (long long)kernel[0], (long long)kernel[1], (long long)kernel[0],
        (long long)kernel[1], gesta_shape_format(in, text, sizeof text));
  dims[2] = gesta_node_attr_int(node, "filters");
  *out = gesta_shape_make(3, dims);
  return GESTA_STATUS_OK;
}

static gesta_status conv2d_params(const gesta_node *node,
                                  const gesta_shape *inputs,
                                  gesta_param_spec *specs, int *n_specs,
                                  gesta_error *err) {
  int64_t kernel[2], filters = gesta_node_attr_int(node, "filters");
  (void)err;
  gesta_node_attr_pair(node, "kernel", kernel);
  gesta_param_spec_set(
      &specs[0], "kernel", 4,
      (const int64_t[]){kernel[0], kernel[1], inputs[0].dims[2], filters},
      GESTA_INIT_GLOROT_UNIFORM, true);
  *n_specs = 1;
  if (gesta_node_attr_bool(node, "use_bias")) {
    gesta_param_spec_set(&specs[1], "bias", 1, &filters, GESTA_INIT_ZEROS,
                         true);
    *n_specs = 2;
  }
  return GESTA_STATUS_OK;
}

const gesta_op_def gesta_op_conv2d = {
    .name = "conv2d",
    .summary = "2-D convolution of (H, W, C) frames (Keras Conv2D)",
    .attrs = conv2d_attrs,
    .n_attrs = (int)(sizeof conv2d_attrs / sizeof conv2d_attrs[0]),
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = conv2d_infer,
    .params = conv2d_params,
};
