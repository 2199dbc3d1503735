/* batch_norm on the CPU. The per-channel scale and shift are folded once
 * into the workspace, so the loop over the data is one multiply-add per
 * element.
 *
 * Training (Keras 3's BatchNormalization): the statistics are the batch's
 * mean and biased variance over every axis but the last; they normalise the
 * batch, go to `saved` as mean and 1 / sqrt(var + eps) for backward, and
 * move the moving statistics in place: moving = moving * momentum + batch *
 * (1 - momentum), the biased variance included.
 *
 * Threads take contiguous rows; the per-channel sums are kept per thread
 * and added in thread order. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "cpu/parallel.h"
#include "op_util.h"
#include "train_ops.h"

static int64_t batch_norm_channels(const gesta_op_call *call) {
  const gesta_shape *in = &call->inputs[0].shape;
  assert(in->rank >= 1);
  return in->dims[in->rank - 1];
}

/* Parts a pass over `rows` rows of c channels may be cut into: no more
 * than there are rows, nor than `room` bytes hold `per_part` bytes each. */
static int batch_norm_parts(int64_t rows, int64_t c, size_t room,
                            size_t per_part) {
  int parts = gesta_cpu_parts(rows * c, GESTA_CPU_GRAIN_COPY);
  if (parts > rows)
    parts = rows > 1 ? (int)rows : 1;
  if (per_part > 0 && (size_t)parts > room / per_part)
    parts = (int)(room / per_part);
  return parts > 1 ? parts : 1;
}

static int batch_norm_max_parts(int64_t rows) {
  int t = gesta_cpu_threads();
  return rows < t ? (rows > 1 ? (int)rows : 1) : t;
}

static int64_t batch_norm_rows(const gesta_op_call *call) {
  int64_t c = batch_norm_channels(call);
  return c > 0 ? gesta_shape_count(&call->inputs[0].shape) / c : 0;
}

/* Inference: scale and shift (floats). Training: two sums per channel in
 * double for each thread. */
static size_t batch_norm_workspace_bytes(const gesta_op_call *call) {
  size_t c = (size_t)batch_norm_channels(call);
  return (size_t)batch_norm_max_parts(batch_norm_rows(call)) * 2 * c *
         sizeof(double);
}

static size_t batch_norm_saved_bytes(const gesta_op_call *call) {
  return 2 * (size_t)batch_norm_channels(call) * sizeof(float);
}

/* Adds every part's c partial sums onto part 0's, in part order. */
static void batch_norm_combine(double *acc, int parts, int64_t stride,
                               int64_t c) {
  for (int p = 1; p < parts; p++)
    for (int64_t ch = 0; ch < c; ch++)
      acc[ch] += acc[p * stride + ch];
}

/* A statistics pass's arguments, for its parts: rows of c channels, part
 * p's sums at acc + 2cp, its squares c further. */
typedef struct batch_norm_stats {
  const float *x;
  double *acc;
  int64_t rows, c;
  int parts;
} batch_norm_stats;

static void batch_norm_sum_part(void *ctx, int p) {
  const batch_norm_stats *a = ctx;
  const float *x = a->x;
  int64_t c = a->c;
  double *sum = a->acc + 2 * c * p;
  int64_t r1 = gesta_cpu_split(a->rows, a->parts, p + 1);
  memset(sum, 0, (size_t)c * sizeof(double));
  for (int64_t r = gesta_cpu_split(a->rows, a->parts, p); r < r1; r++)
    for (int64_t ch = 0; ch < c; ch++)
      sum[ch] += x[r * c + ch];
}

/* Squared deviations from the mean, which is at acc. */
static void batch_norm_square_part(void *ctx, int p) {
  const batch_norm_stats *a = ctx;
  const float *x = a->x;
  int64_t c = a->c;
  const double *center = a->acc;
  double *sq = a->acc + 2 * c * p + c;
  int64_t r1 = gesta_cpu_split(a->rows, a->parts, p + 1);
  memset(sq, 0, (size_t)c * sizeof(double));
  for (int64_t r = gesta_cpu_split(a->rows, a->parts, p); r < r1; r++)
    for (int64_t ch = 0; ch < c; ch++) {
      double d = x[r * c + ch] - center[ch];
      sq[ch] += d * d;
    }
}

/* Batch mean and 1 / sqrt(biased variance + eps) per channel into
 * mean / invstd; updates the moving statistics. Two passes, in double,
 * each thread summing its rows and the partial sums added in part order. */
static void batch_norm_batch_stats(const gesta_op_call *call, int64_t rows,
                                   int64_t c, double *acc, int parts,
                                   float *mean, float *invstd) {
  batch_norm_stats a = {gesta_tensor_host_data(&call->inputs[0]), acc, rows, c,
                        parts};
  float *moving_mean = gesta_tensor_host_data(&call->params[2]);
  float *moving_var = gesta_tensor_host_data(&call->params[3]);
  float momentum = (float)gesta_node_attr_float(call->node, "momentum");
  double eps = gesta_node_attr_float(call->node, "epsilon");
  gesta_cpu_run(parts, batch_norm_sum_part, &a);
  batch_norm_combine(acc, parts, 2 * c, c);
  for (int64_t ch = 0; ch < c; ch++)
    acc[ch] /= (double)rows;
  gesta_cpu_run(parts, batch_norm_square_part, &a);
  batch_norm_combine(acc + c, parts, 2 * c, c);
  for (int64_t ch = 0; ch < c; ch++) {
    float var = (float)(acc[c + ch] / (double)rows);
    mean[ch] = (float)acc[ch];
    invstd[ch] = (float)(1.0 / sqrt((double)var + eps));
    moving_mean[ch] = moving_mean[ch] * momentum + mean[ch] * (1.0f - momentum);
    moving_var[ch] = moving_var[ch] * momentum + var * (1.0f - momentum);
  }
}

/* y = x * scale + shift per channel, over rows cut into parts. */
typedef struct batch_norm_apply_args {
  const float *x, *scale, *shift;
  float *y;
  int64_t rows, c;
  int parts;
} batch_norm_apply_args;

static void batch_norm_apply_part(void *ctx, int p) {
  const batch_norm_apply_args *a = ctx;
  const float *x = a->x, *scale = a->scale, *shift = a->shift;
  float *y = a->y;
  int64_t c = a->c, r1 = gesta_cpu_split(a->rows, a->parts, p + 1);
  for (int64_t r = gesta_cpu_split(a->rows, a->parts, p); r < r1; r++)
    for (int64_t ch = 0; ch < c; ch++)
      y[r * c + ch] = x[r * c + ch] * scale[ch] + shift[ch];
}

static gesta_status batch_norm_forward(const gesta_op_call *call,
                                       gesta_error *err) {
  int64_t c = batch_norm_channels(call);
  int64_t rows = batch_norm_rows(call);
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  const float *gamma = gesta_tensor_host_data(&call->params[0]);
  const float *beta = gesta_tensor_host_data(&call->params[1]);
  const float *mean = gesta_tensor_host_data(&call->params[2]);
  const float *var = gesta_tensor_host_data(&call->params[3]);
  double eps = gesta_node_attr_float(call->node, "epsilon");
  float *y = gesta_tensor_host_data(call->output);
  float *scale, *shift;
  size_t room;
  batch_norm_apply_args apply;
  assert(call->n_params == 4);
  if (!call->workspace)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "batch_norm: the executor gave no workspace");
  room = gesta_tensor_bytes(call->workspace);
  if (room < 2 * (size_t)c * sizeof(double))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "batch_norm: the workspace is too small");
  if (call->training) {
    float *saved, *invstd;
    if (!call->saved)
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "batch_norm: training without saved state");
    if (rows == 0)
      return GESTA_STATUS_OK;
    saved = gesta_tensor_host_data(call->saved);
    invstd = saved + c;
    batch_norm_batch_stats(
        call, rows, c, (double *)gesta_tensor_host_data(call->workspace),
        batch_norm_parts(rows, c, room, 2 * (size_t)c * sizeof(double)), saved,
        invstd);
    /* The workspace's sums are spent: reuse its start for scale, shift. */
    scale = gesta_tensor_host_data(call->workspace);
    shift = scale + c;
    for (int64_t ch = 0; ch < c; ch++) {
      scale[ch] = gamma[ch] * invstd[ch];
      shift[ch] = beta[ch] - saved[ch] * scale[ch];
    }
  } else {
    scale = gesta_tensor_host_data(call->workspace);
    shift = scale + c;
    for (int64_t ch = 0; ch < c; ch++) {
      double s = (double)gamma[ch] / sqrt((double)var[ch] + eps);
      scale[ch] = (float)s;
      shift[ch] = (float)((double)beta[ch] - (double)mean[ch] * s);
    }
  }
  apply.x = x;
  apply.scale = scale;
  apply.shift = shift;
  apply.y = y;
  apply.rows = rows;
  apply.c = c;
  apply.parts = batch_norm_parts(rows, c, 0, 0);
  gesta_cpu_run(apply.parts, batch_norm_apply_part, &apply);
  return GESTA_STATUS_OK;
}

/* Per-channel mean and inverse deviation as floats (2c, rounded to whole
 * doubles), then dbeta and dgamma sums in double for each thread. */
static size_t
batch_norm_backward_workspace_bytes(const gesta_op_grad_call *call) {
  size_t c = (size_t)batch_norm_channels(call->forward);
  size_t parts = (size_t)batch_norm_max_parts(batch_norm_rows(call->forward));
  return (c + parts * 2 * c) * sizeof(double);
}

typedef struct batch_norm_bw {
  const float *x, *dy, *gamma, *mean, *invstd;
  float *dx;
  double *acc; /* part p: dbeta sums at acc + 2cp, dgamma's after them */
  int64_t rows, c;
  bool training;
  int parts;
} batch_norm_bw;

static void batch_norm_grad_sums(void *ctx, int p) {
  const batch_norm_bw *b = ctx;
  int parts = b->parts;
  int64_t c = b->c, r1 = gesta_cpu_split(b->rows, parts, p + 1);
  double *sdb = b->acc + 2 * c * p, *sdg = sdb + c;
  memset(sdb, 0, 2 * (size_t)c * sizeof(double));
  for (int64_t r = gesta_cpu_split(b->rows, parts, p); r < r1; r++)
    for (int64_t ch = 0; ch < c; ch++) {
      float d = b->dy[r * c + ch];
      sdb[ch] += d;
      sdg[ch] += (double)d * ((b->x[r * c + ch] - b->mean[ch]) * b->invstd[ch]);
    }
}

static void batch_norm_grad_input(void *ctx, int p) {
  const batch_norm_bw *b = ctx;
  int parts = b->parts;
  int64_t c = b->c, r1 = gesta_cpu_split(b->rows, parts, p + 1);
  const double *sdb = b->acc, *sdg = b->acc + c;
  double m = (double)b->rows;
  for (int64_t r = gesta_cpu_split(b->rows, parts, p); r < r1; r++)
    for (int64_t ch = 0; ch < c; ch++) {
      double d = b->dy[r * c + ch];
      if (b->training) {
        double xhat = ((double)b->x[r * c + ch] - b->mean[ch]) * b->invstd[ch];
        d = (m * d - sdb[ch] - xhat * sdg[ch]) / m;
      }
      b->dx[r * c + ch] = (float)((double)b->gamma[ch] * b->invstd[ch] * d);
    }
}

/* With xhat = (x - mean) * invstd: dbeta = sum dy, dgamma = sum dy * xhat,
 * and in training (the statistics depend on x)
 * dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma); at inference
 * (the moving statistics, constants) dx = gamma * invstd * dy. */
static gesta_status batch_norm_backward(const gesta_op_grad_call *call,
                                        gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  batch_norm_bw b;
  float *dgamma = gesta_grad_host(call->param_grads, 0);
  float *dbeta = gesta_grad_host(call->param_grads, 1);
  float *mean, *invstd;
  size_t room;
  b.c = batch_norm_channels(fw);
  b.rows = batch_norm_rows(fw);
  b.x = gesta_tensor_host_data(&fw->inputs[0]);
  b.gamma = gesta_tensor_host_data(&fw->params[0]);
  b.dy = gesta_tensor_host_data(call->output_grad);
  b.dx = gesta_grad_host(call->input_grads, 0);
  b.training = fw->training;
  if (!call->workspace || (fw->training && !fw->saved))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "batch_norm: backward without its workspace or "
                           "saved statistics");
  room = gesta_tensor_bytes(call->workspace);
  if (room < 3 * (size_t)b.c * sizeof(double))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "batch_norm: the backward workspace is too small");
  mean = gesta_tensor_host_data(call->workspace);
  invstd = mean + b.c;
  b.mean = mean;
  b.invstd = invstd;
  b.acc = (double *)gesta_tensor_host_data(call->workspace) + b.c;
  if (fw->training) {
    const float *saved = gesta_tensor_host_data(fw->saved);
    memcpy(mean, saved, 2 * (size_t)b.c * sizeof(float));
  } else {
    const float *mm = gesta_tensor_host_data(&fw->params[2]);
    const float *mv = gesta_tensor_host_data(&fw->params[3]);
    double eps = gesta_node_attr_float(fw->node, "epsilon");
    for (int64_t ch = 0; ch < b.c; ch++) {
      mean[ch] = mm[ch];
      invstd[ch] = (float)(1.0 / sqrt((double)mv[ch] + eps));
    }
  }
  b.parts = batch_norm_parts(b.rows, b.c, room - (size_t)b.c * sizeof(double),
                             2 * (size_t)b.c * sizeof(double));
  gesta_cpu_run(b.parts, batch_norm_grad_sums, &b);
  batch_norm_combine(b.acc, b.parts, 2 * b.c, 2 * b.c);
  for (int64_t ch = 0; ch < b.c; ch++) {
    if (dbeta)
      dbeta[ch] = (float)b.acc[ch];
    if (dgamma)
      dgamma[ch] = (float)b.acc[b.c + ch];
  }
  if (!b.dx)
    return GESTA_STATUS_OK;
  b.parts = batch_norm_parts(b.rows, b.c, 0, 0);
  gesta_cpu_run(b.parts, batch_norm_grad_input, &b);
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_batch_norm_cpu = {
    .forward = batch_norm_forward,
    .workspace_bytes = batch_norm_workspace_bytes,
    .backward = batch_norm_backward,
    .backward_workspace_bytes = batch_norm_backward_workspace_bytes,
    .saved_bytes = batch_norm_saved_bytes,
};
