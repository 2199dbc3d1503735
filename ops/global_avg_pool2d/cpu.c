/* global_avg_pool2d on the CPU; sums in double so that a large frame's
 * mean keeps full float precision. Threads take whole images (forward) or
 * pixel ranges (backward); each channel's sum runs over the pixels in
 * order whatever the cut. */
#include <assert.h>

#include "cpu/parallel.h"
#include "op_util.h"
#include "train_ops.h"

/* Channels per block of running sums. */
#define GAP_BLOCK 64

static void global_avg_pool2d_images(const float *x, float *y, int64_t hw,
                                     int64_t c, int64_t i0, int64_t i1) {
  for (int64_t img = i0; img < i1; img++) {
    const float *frame = x + img * hw * c;
    for (int64_t c0 = 0; c0 < c; c0 += GAP_BLOCK) {
      int64_t w = c - c0 < GAP_BLOCK ? c - c0 : GAP_BLOCK;
      double sum[GAP_BLOCK] = {0};
      for (int64_t p = 0; p < hw; p++)
        for (int64_t j = 0; j < w; j++)
          sum[j] += frame[p * c + c0 + j];
      for (int64_t j = 0; j < w; j++)
        y[img * c + c0 + j] = (float)(sum[j] / (double)hw);
    }
  }
}

/* A call's arguments, for its parts: n images of hw pixels, c channels. */
typedef struct gap_args {
  const float *x;
  float *y;
  int64_t n, hw, c;
  int parts;
} gap_args;

static void global_avg_pool2d_forward_part(void *ctx, int p) {
  const gap_args *a = ctx;
  global_avg_pool2d_images(a->x, a->y, a->hw, a->c,
                           gesta_cpu_split(a->n, a->parts, p),
                           gesta_cpu_split(a->n, a->parts, p + 1));
}

static gesta_status global_avg_pool2d_forward(const gesta_op_call *call,
                                              gesta_error *err) {
  const gesta_shape *in = &call->inputs[0].shape;
  gap_args a;
  (void)err;
  assert(in->rank == 4);
  a.x = gesta_tensor_host_data(&call->inputs[0]);
  a.y = gesta_tensor_host_data(call->output);
  a.n = in->dims[0];
  a.hw = in->dims[1] * in->dims[2];
  a.c = in->dims[3];
  a.parts = gesta_cpu_parts(a.n * a.hw * a.c, GESTA_CPU_GRAIN_COPY);
  if (a.parts > a.n)
    a.parts = a.n > 1 ? (int)a.n : 1;
  gesta_cpu_run(a.parts, global_avg_pool2d_forward_part, &a);
  return GESTA_STATUS_OK;
}

/* Pixels [n * hw) cut into parts; x is dy, y is dx. */
static void global_avg_pool2d_backward_part(void *ctx, int p) {
  const gap_args *a = ctx;
  const float *dy = a->x;
  float *dx = a->y;
  int64_t hw = a->hw, c = a->c, pixels = a->n * a->hw;
  int64_t q1 = gesta_cpu_split(pixels, a->parts, p + 1);
  for (int64_t q = gesta_cpu_split(pixels, a->parts, p); q < q1; q++) {
    const float *d = dy + q / hw * c;
    for (int64_t ch = 0; ch < c; ch++)
      dx[q * c + ch] = (float)((double)d[ch] / (double)hw);
  }
}

/* Every pixel of a frame gets 1 / (H * W) of its channel's gradient. */
static gesta_status global_avg_pool2d_backward(const gesta_op_grad_call *call,
                                               gesta_error *err) {
  const gesta_shape *in = &call->forward->inputs[0].shape;
  gap_args a;
  (void)err;
  a.x = gesta_tensor_host_data(call->output_grad);
  a.y = gesta_grad_host(call->input_grads, 0);
  a.n = in->dims[0];
  a.hw = in->dims[1] * in->dims[2];
  a.c = in->dims[3];
  if (!a.y)
    return GESTA_STATUS_OK;
  a.parts = gesta_cpu_parts(a.n * a.hw * a.c, GESTA_CPU_GRAIN_COPY);
  gesta_cpu_run(a.parts, global_avg_pool2d_backward_part, &a);
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_global_avg_pool2d_cpu = {
    .forward = global_avg_pool2d_forward,
    .workspace_bytes = NULL,
    .backward = global_avg_pool2d_backward,
};
