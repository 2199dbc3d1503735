/* tanh: the element-wise activation tanh(x) (Keras Activation("tanh")). */
#include "op_util.h"

const gesta_op_def gesta_op_tanh = {
    .name = "tanh",
    .summary = "element-wise tanh(x)",
    .attrs = NULL,
    .n_attrs = 0,
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = gesta_op_infer_identity,
    .params = NULL,
};
