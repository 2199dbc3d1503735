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

static gesta_status global_avg_pool2d_forward(const gesta_op_call *call,
                                              gesta_error *err) {
  const gesta_shape *in = &call->inputs[0].shape;
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  float *y = gesta_tensor_host_data(call->output);
  int64_t n, hw, c;
  int parts;
  (void)err;
  assert(in->rank == 4);
  n = in->dims[0];
  hw = in->dims[1] * in->dims[2];
  c = in->dims[3];
  parts = gesta_cpu_parts(n * hw * c, GESTA_CPU_GRAIN_COPY);
  if (parts > n)
    parts = n > 1 ? (int)n : 1;
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int p = 0; p < parts; p++)
    global_avg_pool2d_images(x, y, hw, c, gesta_cpu_split(n, parts, p),
                             gesta_cpu_split(n, parts, p + 1));
  return GESTA_STATUS_OK;
}

/* Every pixel of a frame gets 1 / (H * W) of its channel's gradient. */
static gesta_status global_avg_pool2d_backward(const gesta_op_grad_call *call,
                                               gesta_error *err) {
  const gesta_shape *in = &call->forward->inputs[0].shape;
  const float *dy = gesta_tensor_host_data(call->output_grad);
  float *dx = gesta_grad_host(call->input_grads, 0);
  int64_t n = in->dims[0], hw = in->dims[1] * in->dims[2], c = in->dims[3];
  int64_t pixels = n * hw;
  int parts;
  (void)err;
  if (!dx)
    return GESTA_STATUS_OK;
  parts = gesta_cpu_parts(pixels * c, GESTA_CPU_GRAIN_COPY);
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int p = 0; p < parts; p++) {
    int64_t q1 = gesta_cpu_split(pixels, parts, p + 1);
    for (int64_t q = gesta_cpu_split(pixels, parts, p); q < q1; q++) {
      const float *d = dy + q / hw * c;
      for (int64_t ch = 0; ch < c; ch++)
        dx[q * c + ch] = (float)((double)d[ch] / (double)hw);
    }
  }
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_global_avg_pool2d_cpu = {
    .forward = global_avg_pool2d_forward,
    .workspace_bytes = NULL,
    .backward = global_avg_pool2d_backward,
};
