/* relu: the element-wise activation max(x, 0) (Keras Activation("relu")). */
#include "op_util.h"

const gesta_op_def gesta_op_relu = {
    .name = "relu",
    .summary = "element-wise max(x, 0)",
    .attrs = NULL,
    .n_attrs = 0,
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = false,
    .infer = gesta_op_infer_identity,
    .params = NULL,
};
