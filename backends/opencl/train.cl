/* Training kernels every program shares (this file is part of the prelude,
 * after prelude.cl): the optimisers' element-wise updates, gradient sums
 * and fills, the activations' derivatives, column sums for bias and
 * batch-norm gradients, and the dropout mask. They follow the CPU reference
 * (core/optim.c, core/train_ops.c) formula for formula; the host side is
 * backends/opencl/optim.c. Launched through the "prelude" program. */
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
/* Sums in double, as the CPU reference does, where the device has it. */
typedef double gesta_train_acc;
#else
typedef float gesta_train_acc;
#endif

/* Activations, numbered like gesta_activation in gesta/op.h. */
#define GESTA_TRAIN_ACT_LINEAR 0
#define GESTA_TRAIN_ACT_RELU 1
#define GESTA_TRAIN_ACT_SIGMOID 2
#define GESTA_TRAIN_ACT_TANH 3

/* Keras 3's Adam (see core/train_internal.h). No contraction into fma:
 * the CPU reference rounds every product and sum. */
__kernel void gesta_train_adam(__global float *p, uint p_off,
                               __global const float *g, uint g_off,
                               __global float *m, uint m_off, __global float *v,
                               uint v_off, ulong count, float alpha,
                               float one_minus_beta1, float one_minus_beta2,
                               float epsilon) {
#pragma OPENCL FP_CONTRACT OFF
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  float gi = g[g_off + i];
  float mi = m[m_off + i], vi = v[v_off + i];
  mi += (gi - mi) * one_minus_beta1;
  vi += (gi * gi - vi) * one_minus_beta2;
  m[m_off + i] = mi;
  v[v_off + i] = vi;
  p[p_off + i] -= (mi * alpha) / (sqrt(vi) + epsilon);
}

/* Keras 3's SGD: plain when has_momentum is 0 (m is not read). */
__kernel void gesta_train_sgd(__global float *p, uint p_off,
                              __global const float *g, uint g_off,
                              __global float *m, uint m_off, ulong count,
                              float lr, float momentum, int has_momentum,
                              int nesterov) {
#pragma OPENCL FP_CONTRACT OFF
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  float gi = g[g_off + i];
  if (!has_momentum) {
    p[p_off + i] -= gi * lr;
    return;
  }
  float mi = m[m_off + i] * momentum - gi * lr;
  m[m_off + i] = mi;
  p[p_off + i] += nesterov ? mi * momentum - gi * lr : mi;
}

/* dst += src. */
__kernel void gesta_train_accumulate(__global float *dst, uint dst_off,
                                     __global const float *src, uint src_off,
                                     ulong count) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  dst[dst_off + i] += src[src_off + i];
}

__kernel void gesta_train_fill_zero(__global float *dst, uint dst_off,
                                    ulong count) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  dst[dst_off + i] = 0.0f;
}

/* dz = dy through an element-wise activation whose output is y (relu:
 * where the output is positive, relu'(0) = 0 as TF takes it). dz may be
 * dy. */
__kernel void gesta_train_act_backward(__global const float *y, uint y_off,
                                       __global const float *dy, uint dy_off,
                                       __global float *dz, uint dz_off,
                                       ulong count, int activation) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  float yi = y[y_off + i], d = dy[dy_off + i];
  switch (activation) {
  case GESTA_TRAIN_ACT_RELU:
    d = yi > 0.0f ? d : 0.0f;
    break;
  case GESTA_TRAIN_ACT_SIGMOID:
    d = d * yi * (1.0f - yi);
    break;
  case GESTA_TRAIN_ACT_TANH:
    d = d * (1.0f - yi * yi);
    break;
  default:
    break;
  }
  dz[dz_off + i] = d;
}

/* Softmax's Jacobian-vector product per row: dz_j = y_j (dy_j - sum_k dy_k
 * y_k). dz may be dy (each work item reads its row before writing it). */
__kernel void gesta_train_softmax_backward(__global const float *y, uint y_off,
                                           __global const float *dy,
                                           uint dy_off, __global float *dz,
                                           uint dz_off, ulong rows, uint cols) {
  ulong r = get_global_id(0);
  if (r >= rows)
    return;
  __global const float *yr = y + y_off + r * cols;
  __global const float *dyr = dy + dy_off + r * cols;
  __global float *dzr = dz + dz_off + r * cols;
  gesta_train_acc dot = 0;
  for (uint j = 0; j < cols; j++)
    dot += (gesta_train_acc)dyr[j] * yr[j];
  for (uint j = 0; j < cols; j++)
    dzr[j] = yr[j] * (float)((gesta_train_acc)dyr[j] - dot);
}

/* What a column sum adds up, row r and column j of a (rows x cols)
 * matrix a: */
#define GESTA_TRAIN_SUM 0       /* a */
#define GESTA_TRAIN_SUM_SQDEV 1 /* (a - mean_j)^2, stats = mean */
#define GESTA_TRAIN_SUM_PROD_NORM                                              \
  2 /* b * (a - mean_j) * invstd_j, stats =                                    \
       mean then invstd */

/* First pass of column sums: work item (j, c) sums rows [c * chunk,
 * (c + 1) * chunk) of column j and stores the sum as a pair of floats
 * (the float nearest it and what that leaves), so no precision is lost
 * between the passes. */
__kernel void gesta_train_colsum_partial(__global const float *a, uint a_off,
                                         __global const float *b, uint b_off,
                                         __global const float *stats,
                                         uint stats_off, int mode, ulong rows,
                                         uint cols, uint chunk,
                                         __global float *part, uint part_off) {
  uint j = get_global_id(0);
  ulong c = get_global_id(1);
  ulong r0 = c * chunk, r1 = r0 + chunk;
  if (j >= cols || r0 >= rows)
    return;
  if (r1 > rows)
    r1 = rows;
  gesta_train_acc s = 0;
  float mean = mode != GESTA_TRAIN_SUM ? stats[stats_off + j] : 0.0f;
  float invstd =
      mode == GESTA_TRAIN_SUM_PROD_NORM ? stats[stats_off + cols + j] : 0.0f;
  for (ulong r = r0; r < r1; r++) {
    float x = a[a_off + r * cols + j];
    if (mode == GESTA_TRAIN_SUM) {
      s += x;
    } else if (mode == GESTA_TRAIN_SUM_SQDEV) {
      gesta_train_acc d = (gesta_train_acc)x - mean;
      s += d * d;
    } else {
      s += (gesta_train_acc)b[b_off + r * cols + j] * ((x - mean) * invstd);
    }
  }
  float hi = (float)s;
  ulong at = part_off + (c * cols + j) * 2;
  part[at] = hi;
  part[at + 1] = (float)(s - hi);
}

/* Second pass: out[j] = the chunks' sums, divided by `divisor` when it is
 * not 0 (a mean). */
__kernel void gesta_train_colsum_final(__global const float *part,
                                       uint part_off, uint chunks, uint cols,
                                       ulong divisor, __global float *out,
                                       uint out_off) {
  uint j = get_global_id(0);
  if (j >= cols)
    return;
  gesta_train_acc s = 0;
  for (uint c = 0; c < chunks; c++) {
    ulong at = part_off + ((ulong)c * cols + j) * 2;
    s += (gesta_train_acc)part[at] + (gesta_train_acc)part[at + 1];
  }
  if (divisor)
    s /= (gesta_train_acc)divisor;
  out[out_off + j] = (float)s;
}

/* splitmix64's output for counter index + 1 of the stream at seed: the
 * dropout mask's hash (core/train_ops.h). */
ulong gesta_train_dropout_hash(ulong seed, ulong index) {
  ulong z = seed + (index + 1) * 0x9e3779b97f4a7c15UL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
  return z ^ (z >> 31);
}

/* dst[i] = src[i] * scale where the mask keeps element i, else 0: dropout's
 * forward on the input and its backward on the output's gradient. */
__kernel void gesta_train_dropout(__global const float *src, uint src_off,
                                  __global float *dst, uint dst_off,
                                  ulong count, ulong seed, uint threshold,
                                  float scale) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  bool keep = (uint)(gesta_train_dropout_hash(seed, i) >> 40) >= threshold;
  dst[dst_off + i] = keep ? src[src_off + i] * scale : 0.0f;
}
