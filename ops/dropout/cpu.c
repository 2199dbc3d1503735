/* dropout on the CPU. At inference a copy, for when the executor cannot
 * alias the output to the input. In training element i of the output is
 * kept when gesta_dropout_keep(seed, i) says so and scaled by
 * 1 / (1 - rate) (Keras); the mask is a pure function of the step's seed
 * and the index, so backward recomputes it instead of storing it. */
#include "cpu/parallel.h"
#include "op_util.h"
#include "train_ops.h"

typedef struct dropout_args {
  const float *src;
  float *dst;
  uint64_t seed;
  uint32_t threshold;
  float scale;
  int64_t count;
  int parts;
} dropout_args;

/* Elements [i0, i1). Both sides computed, then selected: a quarter of
 * the draws would otherwise mispredict a branch, and the select lets the
 * hash's 64-bit multiplies run eight at a time on AVX-512. */
GESTA_CPU_AVX512_CLONES
static void dropout_range(const float *src, float *dst, uint64_t seed,
                          uint32_t threshold, float scale, int64_t i0,
                          int64_t i1) {
  for (int64_t i = i0; i < i1; i++) {
    float kept = src[i] * scale;
    dst[i] = gesta_dropout_keep(seed, (uint64_t)i, threshold) ? kept : 0.0f;
  }
}

static void dropout_part(void *ctx, int p) {
  const dropout_args *a = ctx;
  dropout_range(a->src, a->dst, a->seed, a->threshold, a->scale,
                gesta_cpu_split(a->count, a->parts, p),
                gesta_cpu_split(a->count, a->parts, p + 1));
}

/* dst[i] = src[i] * scale where the mask keeps i, else 0. The mask is a
 * function of the index, so any cut across threads gives the same. */
static void dropout_apply(const gesta_op_call *call, const float *src,
                          float *dst) {
  double rate = gesta_node_attr_float(call->node, "rate");
  dropout_args a = {src,
                    dst,
                    call->seed,
                    gesta_dropout_threshold(rate),
                    gesta_dropout_scale(rate),
                    gesta_shape_count(&call->output->shape),
                    1};
  /* A hash per element: worth a thread sooner than a copy. */
  a.parts = gesta_cpu_parts(a.count, GESTA_CPU_GRAIN_MATH);
  gesta_cpu_run(a.parts, dropout_part, &a);
}

static gesta_status dropout_forward(const gesta_op_call *call,
                                    gesta_error *err) {
  if (!call->training)
    return gesta_op_copy_forward(call, err);
  dropout_apply(call, gesta_tensor_host_data(&call->inputs[0]),
                gesta_tensor_host_data(call->output));
  return GESTA_STATUS_OK;
}

static gesta_status dropout_backward(const gesta_op_grad_call *call,
                                     gesta_error *err) {
  float *dx = gesta_grad_host(call->input_grads, 0);
  if (!call->forward->training)
    return gesta_op_copy_grad(call, err);
  if (dx)
    dropout_apply(call->forward, gesta_tensor_host_data(call->output_grad), dx);
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_dropout_cpu = {
    .forward = dropout_forward,
    .workspace_bytes = NULL,
    .backward = dropout_backward,
};
