/* flatten on the CPU: a copy, for when the executor cannot alias the output
 * to the input (and in training, where every value has its own buffer);
 * backward copies the gradient back. */
#include "op_util.h"

const gesta_op_kernel gesta_op_flatten_cpu = {
    .forward = gesta_op_copy_forward,
    .workspace_bytes = NULL,
    .backward = gesta_op_copy_grad,
};
