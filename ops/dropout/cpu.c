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

static void dropout_part(void *ctx, int p) {
  const dropout_args *a = ctx;
  const float *src = a->src;
  float *dst = a->dst;
  uint64_t seed = a->seed;
  uint32_t threshold = a->threshold;
  float scale = a->scale;
  int64_t i1 = gesta_cpu_split(a->count, a->parts, p + 1);
  for (int64_t i = gesta_cpu_split(a->count, a->parts, p); i < i1; i++)
    dst[i] = gesta_dropout_keep(seed, (uint64_t)i, threshold) ? src[i] * scale
                                                              : 0.0f;
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
