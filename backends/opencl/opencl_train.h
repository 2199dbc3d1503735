/* What the OpenCL op kernels' backward passes share (backends/opencl/
 * optim.c, kernels in train.cl): fills, copies, activation derivatives,
 * column sums and the dropout mask on device memory. Everything enqueues on
 * the backend's in-order queue and never waits. Offsets and counts are in
 * floats. */
#ifndef GESTA_OPENCL_TRAIN_H
#define GESTA_OPENCL_TRAIN_H

#include "opencl_internal.h"

/* A region of a device buffer: memory, offset and length in floats. */
typedef struct gesta_cl_span {
  cl_mem mem;
  cl_uint offset;
  cl_ulong count;
} gesta_cl_span;

/* The whole tensor; a tensor without a buffer gives mem NULL. */
gesta_cl_span gesta_cl_span_of(const gesta_tensor *t);
/* Gradient k of a grad call's array, mem NULL when it is not wanted. */
gesta_cl_span gesta_cl_grad_span(const gesta_tensor *grads, int k);
/* floats past the span's start. */
gesta_cl_span gesta_cl_span_at(gesta_cl_span s, cl_ulong floats,
                               cl_ulong count);

gesta_status gesta_cl_fill_zero(gesta_opencl *cl, gesta_cl_span dst,
                                gesta_error *err);
/* dst = src (src.count floats); nothing when both are the same memory. */
gesta_status gesta_cl_copy(gesta_opencl *cl, gesta_cl_span src,
                           gesta_cl_span dst, gesta_error *err);

/* dz = dL/d(pre-activation) from dy and the activation's output y, rows of
 * `cols` (softmax spans a row). With `logits` and softmax, dy already is
 * dL/dz and is copied. dz may be dy. */
gesta_status gesta_cl_activation_backward(gesta_opencl *cl,
                                          gesta_activation act, bool logits,
                                          gesta_cl_span y, gesta_cl_span dy,
                                          gesta_cl_span dz, cl_ulong rows,
                                          cl_uint cols, gesta_error *err);

/* What a column sum adds per element (see train.cl). */
typedef enum gesta_cl_colsum_mode {
  GESTA_CL_SUM = 0,       /* a */
  GESTA_CL_SUM_SQDEV,     /* (a - stats[j])^2 */
  GESTA_CL_SUM_PROD_NORM, /* b * (a - stats[j]) * stats[cols + j] */
} gesta_cl_colsum_mode;

/* Scratch floats gesta_cl_colsums needs for a rows x cols matrix. */
size_t gesta_cl_colsum_scratch(cl_ulong rows, cl_uint cols);

/* out[j] = sum over rows of the mode's term (divided by rows when `mean`),
 * in double where the device has it, in two passes through `scratch`
 * (gesta_cl_colsum_scratch floats). b and stats only for the modes that
 * read them. */
gesta_status gesta_cl_colsums(gesta_opencl *cl, gesta_cl_colsum_mode mode,
                              gesta_cl_span a, gesta_cl_span b,
                              gesta_cl_span stats, cl_ulong rows, cl_uint cols,
                              bool mean, gesta_cl_span scratch,
                              gesta_cl_span out, gesta_error *err);

/* dst = dropout(src) with the mask of `seed` (core/train_ops.h). */
gesta_status gesta_cl_dropout(gesta_opencl *cl, gesta_cl_span src,
                              gesta_cl_span dst, uint64_t seed, double rate,
                              gesta_error *err);

/* The whole backward of a stand-alone activation op (relu, sigmoid, tanh,
 * linear, softmax over the last axis; softmax honours
 * output_grad_is_logits). */
gesta_status gesta_cl_activation_op_backward(const gesta_op_grad_call *call,
                                             gesta_activation act,
                                             gesta_error *err);

/* The backward of ops whose output is their input's values (flatten,
 * dropout outside training): the gradient is copied. */
gesta_status gesta_cl_copy_backward(const gesta_op_grad_call *call,
                                    gesta_error *err);

/* The OpenCL backend from a kernel call, or an INTERNAL error naming the
 * op when the call is on another backend. */
gesta_opencl *gesta_cl_from_call(const gesta_op_call *call, const char *op,
                                 gesta_error *err);

#endif
