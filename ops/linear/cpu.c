/* linear on the CPU, through the activation code conv2d and dense fuse. */
#include "activation.h"

static gesta_status linear_forward(const gesta_op_call *call,
                                   gesta_error *err) {
  return gesta_activation_forward(call, GESTA_ACTIVATION_LINEAR, err);
}

static gesta_status linear_backward(const gesta_op_grad_call *call,
                                    gesta_error *err) {
  return gesta_activation_op_grad(call, GESTA_ACTIVATION_LINEAR, err);
}

const gesta_op_kernel gesta_op_linear_cpu = {
    .forward = linear_forward,
    .workspace_bytes = NULL,
    .backward = linear_backward,
};
