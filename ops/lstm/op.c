/* lstm: Keras LSTM over a (T, F) sequence with zero initial state, gates in
 * Keras order i, f, c, o (sigmoid gates, tanh cell and output). */
#include "op_util.h"

static const gesta_attr_def lstm_attrs[] = {
    {.name = "units",
     .type = GESTA_ATTR_INT,
     .required = true,
     .min = 1,
     .max = 65536,
     .doc = "size of the hidden state"},
    {.name = "return_sequences",
     .type = GESTA_ATTR_BOOL,
     .default_value = "false",
     .doc = "output every step's state (T, units) instead of the last "
            "(units)"},
    {.name = "use_bias",
     .type = GESTA_ATTR_BOOL,
     .default_value = "true",
     .doc = "add a learned bias to the gates"},
    {.name = "unit_forget_bias",
     .type = GESTA_ATTR_BOOL,
     .default_value = "true",
     .doc = "initialise the forget gate's bias to 1"},
};

static gesta_status lstm_infer(const gesta_node *node,
                               const gesta_shape *inputs, int n_inputs,
                               gesta_shape *out, gesta_error *err) {
  const gesta_shape *in = &inputs[0];
  int64_t units = gesta_node_attr_int(node, "units");
  char text[GESTA_SHAPE_TEXT];
  gesta_status st;
  (void)n_inputs;
  st = gesta_op_expect_rank(node, "lstm", in, 2, "(T, F)", err);
  if (st != GESTA_STATUS_OK)
    return st;
  if (in->dims[0] < 1 || in->dims[1] < 1)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "lstm needs at least one step of at least one "
                           "feature, got %s",
                           gesta_shape_format(in, text, sizeof text));
  if (gesta_node_attr_bool(node, "return_sequences"))
    *out = gesta_shape_make(2, (const int64_t[]){in->dims[0], units});
  else
    *out = gesta_shape_make(1, &units);
  return GESTA_STATUS_OK;
}

static gesta_status lstm_params(const gesta_node *node,
                                const gesta_shape *inputs,
                                gesta_param_spec *specs, int *n_specs,
                                gesta_error *err) {
  int64_t units = gesta_node_attr_int(node, "units");
  int64_t gates = 4 * units;
  (void)err;
  gesta_param_spec_set(&specs[0], "kernel", 2,
                       (const int64_t[]){inputs[0].dims[1], gates},
                       GESTA_INIT_GLOROT_UNIFORM, true);
  gesta_param_spec_set(&specs[1], "recurrent_kernel", 2,
                       (const int64_t[]){units, gates}, GESTA_INIT_ORTHOGONAL,
                       true);
  *n_specs = 2;
  if (gesta_node_attr_bool(node, "use_bias")) {
    gesta_param_spec_set(&specs[2], "bias", 1, &gates,
                         gesta_node_attr_bool(node, "unit_forget_bias")
                             ? GESTA_INIT_LSTM_BIAS
                             : GESTA_INIT_ZEROS,
                         true);
    *n_specs = 3;
  }
  return GESTA_STATUS_OK;
}

const gesta_op_def gesta_op_lstm = {
    .name = "lstm",
    .summary = "long short-term memory over a (T, F) sequence (Keras LSTM)",
    .attrs = lstm_attrs,
    .n_attrs = (int)(sizeof lstm_attrs / sizeof lstm_attrs[0]),
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = false,
    .view_at_inference = false,
    .infer = lstm_infer,
    .params = lstm_params,
};
