/* dense: a fully connected layer on the last axis, like Keras Dense (any
 * leading axes are kept). */
#include "op_util.h"

static const gesta_attr_def dense_attrs[] = {
    {.name = "units",
     .type = GESTA_ATTR_INT,
     .required = true,
     .min = 1,
     .max = 1048576,
     .doc = "number of outputs"},
    {.name = "activation",
     .type = GESTA_ATTR_ENUM,
     .default_value = "linear",
     .choices = GESTA_ACTIVATION_CHOICES,
     .doc = "activation applied to the output"},
    {.name = "use_bias",
     .type = GESTA_ATTR_BOOL,
     .default_value = "true",
     .doc = "add a learned bias per unit"},
};

static gesta_status dense_infer(const gesta_node *node,
                                const gesta_shape *inputs, int n_inputs,
                                gesta_shape *out, gesta_error *err) {
  gesta_status st;
  (void)n_inputs;
  st = gesta_op_expect_nonscalar("dense", &inputs[0], err);
  if (st != GESTA_STATUS_OK)
    return st;
  *out = inputs[0];
  out->dims[out->rank - 1] = gesta_node_attr_int(node, "units");
  return GESTA_STATUS_OK;
}

static gesta_status dense_params(const gesta_node *node,
                                 const gesta_shape *inputs,
                                 gesta_param_spec *specs, int *n_specs,
                                 gesta_error *err) {
  int64_t features = inputs[0].dims[inputs[0].rank - 1];
  int64_t units = gesta_node_attr_int(node, "units");
  (void)err;
  gesta_param_spec_set(&specs[0], "kernel", 2,
                       (const int64_t[]){features, units},
                       GESTA_INIT_GLOROT_UNIFORM, true);
  *n_specs = 1;
  if (gesta_node_attr_bool(node, "use_bias")) {
    gesta_param_spec_set(&specs[1], "bias", 1, &units, GESTA_INIT_ZEROS, true);
    *n_specs = 2;
  }
  return GESTA_STATUS_OK;
}

const gesta_op_def gesta_op_dense = {
    .name = "dense",
    .summary = "fully connected layer on the last axis (Keras Dense)",
    .attrs = dense_attrs,
    .n_attrs = (int)(sizeof dense_attrs / sizeof dense_attrs[0]),
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = dense_infer,
    .params = dense_params,
};
