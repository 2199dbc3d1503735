/* gesta — activation functions on the host, shared by the CPU kernels of
 * the activation ops and of the layers that fuse one (conv2d, dense). Each
 * call cuts its work across the CPU backend's threads when it is large
 * enough, or runs on the calling thread inside a part of a split. */
#ifndef GESTA_ACTIVATION_H
#define GESTA_ACTIVATION_H

#include <stdbool.h>
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

/* dz = dL/d(pre-activation) from dy = dL/d(output) and y = act(z), row by
 * row (softmax spans a row of `cols`). When `logits` is set and act is
 * softmax, dy already is dL/dz (the loss computed it from the logits) and is
 * copied. dz may be dy. */
void gesta_activation_grad(gesta_activation act, bool logits, const float *y,
                           const float *dy, float *dz, int64_t rows,
                           int64_t cols);

/* The CPU backward of a stand-alone activation op (softmax over the last
 * axis); honours output_grad_is_logits for softmax. */
gesta_status gesta_activation_op_grad(const gesta_op_grad_call *call,
                                      gesta_activation act, gesta_error *err);

#endif
