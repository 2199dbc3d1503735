/* sigmoid on the CPU, through the activation code conv2d and dense fuse. */
#include "activation.h"

static gesta_status sigmoid_forward(const gesta_op_call *call,
                                    gesta_error *err) {
  return gesta_activation_forward(call, GESTA_ACTIVATION_SIGMOID, err);
}

static gesta_status sigmoid_backward(const gesta_op_grad_call *call,
                                     gesta_error *err) {
  return gesta_activation_op_grad(call, GESTA_ACTIVATION_SIGMOID, err);
}

const gesta_op_kernel gesta_op_sigmoid_cpu = {
    .forward = sigmoid_forward,
    .workspace_bytes = NULL,
    .backward = sigmoid_backward,
};
