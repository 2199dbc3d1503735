/* dropout: Keras Dropout. At inference it is the identity, so the executor
 * hands the output the input's buffer; training zeroes a `rate` share of
 * the inputs and scales the rest by 1 / (1 - rate). */
#include "op_util.h"

static const gesta_attr_def dropout_attrs[] = {
    {.name = "rate",
     .type = GESTA_ATTR_FLOAT,
     .required = true,
     .min = 0,
     .max = 1,
     .doc = "training: share of inputs set to zero"},
};

const gesta_op_def gesta_op_dropout = {
    .name = "dropout",
    .summary = "random zeroing while training, identity at inference (Keras "
               "Dropout)",
    .attrs = dropout_attrs,
    .n_attrs = (int)(sizeof dropout_attrs / sizeof dropout_attrs[0]),
    .min_inputs = 1,
    .max_inputs = 1,
    .allows_time_distributed = true,
    .view_at_inference = true,
    .infer = gesta_op_infer_identity,
    .params = NULL,
};
