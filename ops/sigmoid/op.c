/* sigmoid: the element-wise activation 1 / (1 + exp(-x)) (Keras
 * Activation("sigmoid")). */
#include "op_util.h"

const gesta_op_def gesta_op_sigmoid = {
    .name = "sigmoid",
    .summary = "element-wise 1 / (1 + exp(-x))",
    .attrs = NULL,
    .n_attrs = 0,
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = gesta_op_infer_identity,
    .params = NULL,
};
