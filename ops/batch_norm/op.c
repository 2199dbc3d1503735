/* batch_norm: Keras BatchNormalization over the last axis. Inference uses
 * the moving statistics: y = gamma * (x - mean) / sqrt(var + eps) + beta. */
#include "op_util.h"

static const gesta_attr_def batch_norm_attrs[] = {
    {.name = "epsilon",
     .type = GESTA_ATTR_FLOAT,
     .default_value = "0.001",
     .min = 0,
     .max = 100,
     .doc = "added to the variance before the square root"},
    {.name = "momentum",
     .type = GESTA_ATTR_FLOAT,
     .default_value = "0.99",
     .min = 0,
     .max = 1,
     .doc = "training: weight of the old moving statistics in each update"},
};

static gesta_status batch_norm_infer(const gesta_node *node,
                                     const gesta_shape *inputs, int n_inputs,
                                     gesta_shape *out, gesta_error *err) {
  gesta_status st;
  (void)node;
  (void)n_inputs;
  st = gesta_op_expect_nonscalar("batch_norm", &inputs[0], err);
  if (st != GESTA_STATUS_OK)
    return st;
  *out = inputs[0];
  return GESTA_STATUS_OK;
}

static gesta_status batch_norm_params(const gesta_node *node,
                                      const gesta_shape *inputs,
                                      gesta_param_spec *specs, int *n_specs,
                                      gesta_error *err) {
  const int64_t *channels = &inputs[0].dims[inputs[0].rank - 1];
  (void)node;
  (void)err;
  gesta_param_spec_set(&specs[0], "gamma", 1, channels, GESTA_INIT_ONES, true);
  gesta_param_spec_set(&specs[1], "beta", 1, channels, GESTA_INIT_ZEROS, true);
  gesta_param_spec_set(&specs[2], "moving_mean", 1, channels, GESTA_INIT_ZEROS,
                       false);
  gesta_param_spec_set(&specs[3], "moving_variance", 1, channels,
                       GESTA_INIT_ONES, false);
  *n_specs = 4;
  return GESTA_STATUS_OK;
}

const gesta_op_def gesta_op_batch_norm = {
    .name = "batch_norm",
    .summary = "batch normalisation over the last axis (Keras "
               "BatchNormalization)",
    .attrs = batch_norm_attrs,
    .n_attrs = (int)(sizeof batch_norm_attrs / sizeof batch_norm_attrs[0]),
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = batch_norm_infer,
    .params = batch_norm_params,
};
