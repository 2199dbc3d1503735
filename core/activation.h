/* gesta — activation functions on the host, shared by the CPU kernels of
 * the activation ops and of the layers that fuse one (conv2d, dense). */
#ifndef GESTA_ACTIVATION_H
#define GESTA_ACTIVATION_H

#include <stdint.h>

#include "gesta/error.h"
#include "gesta/op.h"

/* Applies act in place to rows x cols floats, row-major. Softmax normalises
 * each row (subtracting the row's maximum first, so large logits do not
 * overflow); the others are element-wise and ignore the row structure. */
void gesta_activation_apply(gesta_activation act, float *data, int64_t rows,
                            int64_t cols);

/* The CPU forward of a stand-alone activation op: output = act(input), over
 * the input's last axis for softmax. Works in place when the executor gives
 * output the input's buffer. */
gesta_status gesta_activation_forward(const gesta_op_call *call,
                                      gesta_activation act, gesta_error *err);

#endif
