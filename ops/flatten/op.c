/* flatten: (...) -> (product of the dims), Keras Flatten. The data is
 * already row-major, so at inference the output is the input's buffer. */
#include "op_util.h"

static gesta_status flatten_infer(const gesta_node *node,
                                  const gesta_shape *inputs, int n_inputs,
                                  gesta_shape *out, gesta_error *err) {
  int64_t count;
  gesta_status st;
  (void)node;
  (void)n_inputs;
  st = gesta_op_expect_nonscalar("flatten", &inputs[0], err);
  if (st != GESTA_STATUS_OK)
    return st;
  count = gesta_shape_count(&inputs[0]);
  *out = gesta_shape_make(1, &count);
  return GESTA_STATUS_OK;
}

const gesta_op_def gesta_op_flatten = {
    .name = "flatten",
    .summary = "flattens each sample to one axis (Keras Flatten)",
    .attrs = NULL,
    .n_attrs = 0,
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = true,
    .infer = flatten_infer,
    .params = NULL,
};
