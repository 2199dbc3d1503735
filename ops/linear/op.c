/* linear: the element-wise activation the identity, y = x (Keras
 * Activation("linear")). */
#include "op_util.h"

const gesta_op_def gesta_op_linear = {
    .name = "linear",
    .summary = "element-wise the identity, y = x",
    .attrs = NULL,
    .n_attrs = 0,
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = gesta_op_infer_identity,
    .params = NULL,
};
