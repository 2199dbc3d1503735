/* Training on OpenCL outside the ops' own kernels: the trainer's table
 * (gradient sums, zeroing, Adam and SGD updates on device memory, so the
 * optimiser's state never leaves the device) and the helpers the ops'
 * backward passes share (opencl_train.h). Kernels in train.cl, part of
 * every program's prelude and launched through the "prelude" program. */
#include <limits.h>

/* First: it sets the OpenCL version the CL headers target. */
#include "opencl_train.h"

#include "train_internal.h"
#include "train_ops.h"

/* Rows each work item of the first column-sum pass adds up. */
#define OPTIM_COLSUM_CHUNK 256u

#define OPTIM_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static gesta_status optim_launch(gesta_opencl *cl, const char *kernel,
                                 cl_uint dims, const size_t *global,
                                 const gesta_cl_arg *args, int n_args,
                                 gesta_error *err) {
  return gesta_opencl_launch(cl, "prelude", kernel, dims, global, NULL, args,
                             n_args, err);
}

gesta_cl_span gesta_cl_span_of(const gesta_tensor *t) {
  gesta_cl_span s = {NULL, 0, 0};
  if (!t || !t->buffer)
    return s;
  s.mem = gesta_opencl_mem(t);
  s.offset = gesta_opencl_offset(t);
  s.count = (cl_ulong)gesta_shape_count(&t->shape);
  return s;
}

gesta_cl_span gesta_cl_grad_span(const gesta_tensor *grads, int k) {
  gesta_cl_span none = {NULL, 0, 0};
  return grads ? gesta_cl_span_of(&grads[k]) : none;
}

gesta_cl_span gesta_cl_span_at(gesta_cl_span s, cl_ulong floats,
                               cl_ulong count) {
  s.offset += (cl_uint)floats;
  s.count = count;
  return s;
}

gesta_opencl *gesta_cl_from_call(const gesta_op_call *call, const char *op,
                                 gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  if (!cl)
    gesta_error_set(err, GESTA_STATUS_INTERNAL,
                    "%s: the OpenCL kernel ran on a non-OpenCL backend", op);
  return cl;
}

gesta_status gesta_cl_fill_zero(gesta_opencl *cl, gesta_cl_span dst,
                                gesta_error *err) {
  size_t global[1] = {(size_t)dst.count};
  gesta_cl_arg args[] = {GESTA_CL_ARG(dst.mem), GESTA_CL_ARG(dst.offset),
                         GESTA_CL_ARG(dst.count)};
  if (dst.count == 0)
    return GESTA_STATUS_OK;
  return optim_launch(cl, "gesta_train_fill_zero", 1, global, args,
                      OPTIM_N(args), err);
}

gesta_status gesta_cl_copy(gesta_opencl *cl, gesta_cl_span src,
                           gesta_cl_span dst, gesta_error *err) {
  if (src.count == 0 || (src.mem == dst.mem && src.offset == dst.offset))
    return GESTA_STATUS_OK;
  return gesta_opencl_check(
      clEnqueueCopyBuffer(gesta_opencl_queue(cl), src.mem, dst.mem,
                          (size_t)src.offset * sizeof(float),
                          (size_t)dst.offset * sizeof(float),
                          (size_t)src.count * sizeof(float), 0, NULL,
                          gesta_opencl_profile_event(cl, GESTA_OPENCL_COPY)),
      "clEnqueueCopyBuffer(gradient)", err);
}

gesta_status gesta_cl_activation_backward(gesta_opencl *cl,
                                          gesta_activation act, bool logits,
                                          gesta_cl_span y, gesta_cl_span dy,
                                          gesta_cl_span dz, cl_ulong rows,
                                          cl_uint cols, gesta_error *err) {
  cl_ulong count = rows * cols;
  if (count == 0)
    return GESTA_STATUS_OK;
  if (act == GESTA_ACTIVATION_LINEAR ||
      (act == GESTA_ACTIVATION_SOFTMAX && logits)) {
    dy.count = count;
    return gesta_cl_copy(cl, dy, dz, err);
  }
  if (act == GESTA_ACTIVATION_SOFTMAX) {
    size_t global[1] = {(size_t)rows};
    gesta_cl_arg args[] = {GESTA_CL_ARG(y.mem),  GESTA_CL_ARG(y.offset),
                           GESTA_CL_ARG(dy.mem), GESTA_CL_ARG(dy.offset),
                           GESTA_CL_ARG(dz.mem), GESTA_CL_ARG(dz.offset),
                           GESTA_CL_ARG(rows),   GESTA_CL_ARG(cols)};
    return optim_launch(cl, "gesta_train_softmax_backward", 1, global, args,
                        OPTIM_N(args), err);
  }
  {
    cl_int a = (cl_int)act;
    size_t global[1] = {(size_t)count};
    gesta_cl_arg args[] = {GESTA_CL_ARG(y.mem),  GESTA_CL_ARG(y.offset),
                           GESTA_CL_ARG(dy.mem), GESTA_CL_ARG(dy.offset),
                           GESTA_CL_ARG(dz.mem), GESTA_CL_ARG(dz.offset),
                           GESTA_CL_ARG(count),  GESTA_CL_ARG(a)};
    return optim_launch(cl, "gesta_train_act_backward", 1, global, args,
                        OPTIM_N(args), err);
  }
}

size_t gesta_cl_colsum_scratch(cl_ulong rows, cl_uint cols) {
  cl_ulong chunks = (rows + OPTIM_COLSUM_CHUNK - 1) / OPTIM_COLSUM_CHUNK;
  return (size_t)(2 * chunks * cols);
}

gesta_status gesta_cl_colsums(gesta_opencl *cl, gesta_cl_colsum_mode mode,
                              gesta_cl_span a, gesta_cl_span b,
                              gesta_cl_span stats, cl_ulong rows, cl_uint cols,
                              bool mean, gesta_cl_span scratch,
                              gesta_cl_span out, gesta_error *err) {
  cl_ulong chunks = (rows + OPTIM_COLSUM_CHUNK - 1) / OPTIM_COLSUM_CHUNK;
  cl_uint chunk = OPTIM_COLSUM_CHUNK, n_chunks = (cl_uint)chunks;
  cl_int m = (cl_int)mode;
  cl_ulong divisor = mean ? rows : 0;
  gesta_status st;
  if (cols == 0)
    return GESTA_STATUS_OK;
  if (rows == 0)
    return gesta_cl_fill_zero(cl, gesta_cl_span_at(out, 0, cols), err);
  if (chunks > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "a column sum over %llu rows is beyond the OpenCL "
                           "kernels' 32-bit chunk count",
                           (unsigned long long)rows);
  /* Buffers a mode does not read still need a valid argument. */
  if (!b.mem)
    b = a;
  if (!stats.mem)
    stats = a;
  {
    size_t global[2] = {(size_t)cols, (size_t)chunks};
    gesta_cl_arg args[] = {
        GESTA_CL_ARG(a.mem),       GESTA_CL_ARG(a.offset),
        GESTA_CL_ARG(b.mem),       GESTA_CL_ARG(b.offset),
        GESTA_CL_ARG(stats.mem),   GESTA_CL_ARG(stats.offset),
        GESTA_CL_ARG(m),           GESTA_CL_ARG(rows),
        GESTA_CL_ARG(cols),        GESTA_CL_ARG(chunk),
        GESTA_CL_ARG(scratch.mem), GESTA_CL_ARG(scratch.offset)};
    st = optim_launch(cl, "gesta_train_colsum_partial", 2, global, args,
                      OPTIM_N(args), err);
    if (st != GESTA_STATUS_OK)
      return st;
  }
  {
    size_t global[1] = {(size_t)cols};
    gesta_cl_arg args[] = {
        GESTA_CL_ARG(scratch.mem), GESTA_CL_ARG(scratch.offset),
        GESTA_CL_ARG(n_chunks),    GESTA_CL_ARG(cols),
        GESTA_CL_ARG(divisor),     GESTA_CL_ARG(out.mem),
        GESTA_CL_ARG(out.offset)};
    return optim_launch(cl, "gesta_train_colsum_final", 1, global, args,
                        OPTIM_N(args), err);
  }
}

gesta_status gesta_cl_dropout(gesta_opencl *cl, gesta_cl_span src,
                              gesta_cl_span dst, uint64_t seed, double rate,
                              gesta_error *err) {
  cl_ulong count = src.count, s = (cl_ulong)seed;
  cl_uint threshold = gesta_dropout_threshold(rate);
  cl_float scale = gesta_dropout_scale(rate);
  size_t global[1] = {(size_t)count};
  gesta_cl_arg args[] = {GESTA_CL_ARG(src.mem),   GESTA_CL_ARG(src.offset),
                         GESTA_CL_ARG(dst.mem),   GESTA_CL_ARG(dst.offset),
                         GESTA_CL_ARG(count),     GESTA_CL_ARG(s),
                         GESTA_CL_ARG(threshold), GESTA_CL_ARG(scale)};
  if (count == 0)
    return GESTA_STATUS_OK;
  return optim_launch(cl, "gesta_train_dropout", 1, global, args, OPTIM_N(args),
                      err);
}

gesta_status gesta_cl_activation_op_backward(const gesta_op_grad_call *call,
                                             gesta_activation act,
                                             gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  gesta_opencl *cl = gesta_cl_from_call(fw, fw->node->op->def->name, err);
  gesta_cl_span dx = gesta_cl_grad_span(call->input_grads, 0);
  const gesta_shape *s = &fw->output->shape;
  int64_t count = gesta_shape_count(s);
  int64_t cols = s->rank > 0 ? s->dims[s->rank - 1] : 1;
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (!dx.mem || count == 0 || cols == 0)
    return GESTA_STATUS_OK;
  if (cols > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "%s over %lld values per row is beyond the OpenCL "
                           "kernels' 32-bit row length",
                           fw->node->op->def->name, (long long)cols);
  return gesta_cl_activation_backward(
      cl, act, call->output_grad_is_logits, gesta_cl_span_of(fw->output),
      gesta_cl_span_of(call->output_grad), dx, (cl_ulong)(count / cols),
      (cl_uint)cols, err);
}

gesta_status gesta_cl_copy_backward(const gesta_op_grad_call *call,
                                    gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  gesta_opencl *cl = gesta_cl_from_call(fw, fw->node->op->def->name, err);
  gesta_cl_span dx = gesta_cl_grad_span(call->input_grads, 0);
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (!dx.mem)
    return GESTA_STATUS_OK;
  return gesta_cl_copy(cl, gesta_cl_span_of(call->output_grad), dx, err);
}

/* ---- the trainer's table ------------------------------------------------ */

static gesta_opencl *optim_cl(const gesta_tensor *t, gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(t->buffer->backend);
  if (!cl)
    gesta_error_set(err, GESTA_STATUS_INTERNAL,
                    "an OpenCL training kernel got a buffer of another "
                    "backend");
  return cl;
}

static gesta_status optim_accumulate(const gesta_tensor *dst,
                                     const gesta_tensor *src,
                                     gesta_error *err) {
  gesta_opencl *cl = optim_cl(dst, err);
  gesta_cl_span d = gesta_cl_span_of(dst), s = gesta_cl_span_of(src);
  size_t global[1] = {(size_t)d.count};
  gesta_cl_arg args[] = {GESTA_CL_ARG(d.mem), GESTA_CL_ARG(d.offset),
                         GESTA_CL_ARG(s.mem), GESTA_CL_ARG(s.offset),
                         GESTA_CL_ARG(d.count)};
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (d.count == 0)
    return GESTA_STATUS_OK;
  return optim_launch(cl, "gesta_train_accumulate", 1, global, args,
                      OPTIM_N(args), err);
}

static gesta_status optim_fill_zero(const gesta_tensor *t, gesta_error *err) {
  gesta_opencl *cl = optim_cl(t, err);
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  return gesta_cl_fill_zero(cl, gesta_cl_span_of(t), err);
}

static gesta_status optim_adam(const gesta_optim_step *step,
                               const gesta_tensor *param,
                               const gesta_tensor *grad, const gesta_tensor *m,
                               const gesta_tensor *v, gesta_error *err) {
  gesta_opencl *cl = optim_cl(param, err);
  gesta_cl_span p = gesta_cl_span_of(param), g = gesta_cl_span_of(grad);
  gesta_cl_span ms = gesta_cl_span_of(m), vs = gesta_cl_span_of(v);
  cl_float alpha = step->alpha, b1 = step->one_minus_beta1;
  cl_float b2 = step->one_minus_beta2, eps = step->epsilon;
  size_t global[1] = {(size_t)p.count};
  gesta_cl_arg args[] = {
      GESTA_CL_ARG(p.mem),    GESTA_CL_ARG(p.offset),  GESTA_CL_ARG(g.mem),
      GESTA_CL_ARG(g.offset), GESTA_CL_ARG(ms.mem),    GESTA_CL_ARG(ms.offset),
      GESTA_CL_ARG(vs.mem),   GESTA_CL_ARG(vs.offset), GESTA_CL_ARG(p.count),
      GESTA_CL_ARG(alpha),    GESTA_CL_ARG(b1),        GESTA_CL_ARG(b2),
      GESTA_CL_ARG(eps)};
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (p.count == 0)
    return GESTA_STATUS_OK;
  return optim_launch(cl, "gesta_train_adam", 1, global, args, OPTIM_N(args),
                      err);
}

static gesta_status optim_sgd(const gesta_optim_step *step,
                              const gesta_tensor *param,
                              const gesta_tensor *grad,
                              const gesta_tensor *momentum, gesta_error *err) {
  gesta_opencl *cl = optim_cl(param, err);
  gesta_cl_span p = gesta_cl_span_of(param), g = gesta_cl_span_of(grad);
  /* Plain SGD reads no state; the argument still needs a buffer. */
  gesta_cl_span m = momentum ? gesta_cl_span_of(momentum) : p;
  cl_float lr = step->learning_rate, mu = step->momentum;
  cl_int has_momentum = momentum != NULL, nesterov = step->nesterov;
  size_t global[1] = {(size_t)p.count};
  gesta_cl_arg args[] = {GESTA_CL_ARG(p.mem),   GESTA_CL_ARG(p.offset),
                         GESTA_CL_ARG(g.mem),   GESTA_CL_ARG(g.offset),
                         GESTA_CL_ARG(m.mem),   GESTA_CL_ARG(m.offset),
                         GESTA_CL_ARG(p.count), GESTA_CL_ARG(lr),
                         GESTA_CL_ARG(mu),      GESTA_CL_ARG(has_momentum),
                         GESTA_CL_ARG(nesterov)};
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (p.count == 0)
    return GESTA_STATUS_OK;
  return optim_launch(cl, "gesta_train_sgd", 1, global, args, OPTIM_N(args),
                      err);
}

static const gesta_train_kernels optim_opencl_kernels = {
    .accumulate = optim_accumulate,
    .fill_zero = optim_fill_zero,
    .adam = optim_adam,
    .sgd = optim_sgd,
};

const gesta_train_kernels *gesta_opencl_train_kernels(void) {
  return &optim_opencl_kernels;
}
