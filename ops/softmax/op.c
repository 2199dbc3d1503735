/* softmax: exp(x) / sum(exp(x)) over the last axis, computed after
 * subtracting each row's maximum (Keras Activation("softmax")). */
#include "op_util.h"

static gesta_status softmax_infer(const gesta_node *node,
                                  const gesta_shape *inputs, int n_inputs,
                                  gesta_shape *out, gesta_error *err) {
  gesta_status st;
  (void)node;
  (void)n_inputs;
  st = gesta_op_expect_nonscalar("softmax", &inputs[0], err);
  if (st != GESTA_STATUS_OK)
    return st;
  *out = inputs[0];
  return GESTA_STATUS_OK;
}

const gesta_op_def gesta_op_softmax = {
    .name = "softmax",
    .summary = "softmax over the last axis",
    .attrs = NULL,
    .n_attrs = 0,
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = softmax_infer,
    .params = NULL,
};
