/* relu on the CPU, through the activation code conv2d and dense fuse. */
#include "activation.h"

static gesta_status relu_forward(const gesta_op_call *call, gesta_error *err) {
  return gesta_activation_forward(call, GESTA_ACTIVATION_RELU, err);
}

static gesta_status relu_backward(const gesta_op_grad_call *call,
                                  gesta_error *err) {
  return gesta_activation_op_grad(call, GESTA_ACTIVATION_RELU, err);
}

const gesta_op_kernel gesta_op_relu_cpu = {
    .forward = relu_forward,
    .workspace_bytes = NULL,
    .backward = relu_backward,
};
