/* gesta — helpers shared by the op folders: sliding-window arithmetic,
 * shape checks with messages that name the shapes, parameter specs. */
#ifndef GESTA_OP_UTIL_H
#define GESTA_OP_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/error.h"
#include "gesta/model.h"
#include "gesta/op.h"
#include "gesta/tensor.h"

/* Room for any gesta_shape_format() result. */
#define GESTA_SHAPE_TEXT 128

/* Padding choices of conv2d and max_pool2d, in the order of the enum. */
#define GESTA_PADDING_CHOICES "valid|same"
enum { GESTA_PADDING_VALID = 0, GESTA_PADDING_SAME = 1 };

/* One axis of a sliding window, Keras/TF rules: `valid` gives
 * floor((in - k) / stride) + 1 and no padding; `same` gives
 * ceil(in / stride) with pad_total = max((out - 1) * stride + k - in, 0), of
 * which floor(pad_total / 2) comes before. Returns false when a `valid`
 * window is larger than the input (no output). */
bool gesta_window_geometry(int64_t in, int64_t k, int64_t stride, bool same,
                           int64_t *out, int64_t *pad_before);

/* BAD_INPUT unless shape has exactly `rank` dims; layout names them, e.g.
 * "(H, W, C)". When the shape has one dim too many and the op could be
 * time-distributed, the message suggests `time_distributed: true`. */
gesta_status gesta_op_expect_rank(const gesta_node *node, const char *op,
                                  const gesta_shape *shape, int rank,
                                  const char *layout, gesta_error *err);
/* BAD_INPUT unless shape has at least one dim and none is zero. */
gesta_status gesta_op_expect_nonscalar(const char *op, const gesta_shape *shape,
                                       gesta_error *err);

/* infer() of ops whose output has the input's shape. */
gesta_status gesta_op_infer_identity(const gesta_node *node,
                                     const gesta_shape *inputs, int n_inputs,
                                     gesta_shape *out, gesta_error *err);

/* CPU forward of ops that are views at inference (dropout, flatten): copies
 * the input to the output unless both are the same memory. */
gesta_status gesta_op_copy_forward(const gesta_op_call *call, gesta_error *err);

/* The CPU backward of ops whose output is their input's values (flatten,
 * and dropout outside training): the gradient is copied, unless the caller
 * wants none or gives the same memory. */
gesta_status gesta_op_copy_grad(const gesta_op_grad_call *call,
                                gesta_error *err);

/* A PAIR attribute without a default: its value when the layer gives it,
 * else `fallback` (max_pool2d's strides fall back to pool_size). */
void gesta_node_attr_pair_or(const gesta_node *node, const char *name,
                             const int64_t fallback[2], int64_t out[2]);

/* Fills one parameter spec; rank and dims as for gesta_shape_make. */
void gesta_param_spec_set(gesta_param_spec *spec, const char *name, int rank,
                          const int64_t *dims, gesta_init_kind init,
                          bool trainable);

#endif
