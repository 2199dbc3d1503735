/* softmax on the CPU, through the activation code conv2d and dense fuse. */
#include "activation.h"

static gesta_status softmax_forward(const gesta_op_call *call,
                                    gesta_error *err) {
  return gesta_activation_forward(call, GESTA_ACTIVATION_SOFTMAX, err);
}

static gesta_status softmax_backward(const gesta_op_grad_call *call,
                                     gesta_error *err) {
  return gesta_activation_op_grad(call, GESTA_ACTIVATION_SOFTMAX, err);
}

const gesta_op_kernel gesta_op_softmax_cpu = {
    .forward = softmax_forward,
    .workspace_bytes = NULL,
    .backward = softmax_backward,
};
