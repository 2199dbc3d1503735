/* Shared op helpers: see op_util.h. */
#include "op_util.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "cpu/parallel.h"

bool gesta_window_geometry(int64_t in, int64_t k, int64_t stride, bool same,
                           int64_t *out, int64_t *pad_before) {
  assert(in >= 0 && k >= 1 && stride >= 1);
  if (same) {
    int64_t o = (in + stride - 1) / stride;
    int64_t pad_total = (o - 1) * stride + k - in;
    if (pad_total < 0)
      pad_total = 0;
    *out = o;
    *pad_before = pad_total / 2;
    return o >= 1;
  }
  *pad_before = 0;
  if (in < k) {
    *out = 0;
    return false;
  }
  *out = (in - k) / stride + 1;
  return true;
}

gesta_status gesta_op_expect_rank(const gesta_node *node, const char *op,
                                  const gesta_shape *shape, int rank,
                                  const char *layout, gesta_error *err) {
  char text[GESTA_SHAPE_TEXT];
  const gesta_op_entry *entry = node ? node->op : NULL;
  bool hint;
  if (shape->rank == rank)
    return GESTA_STATUS_OK;
  gesta_shape_format(shape, text, sizeof text);
  hint = shape->rank == rank + 1 && node && !node->time_distributed && entry &&
         entry->def->allows_time_distributed;
  return gesta_error_set(
      err, GESTA_STATUS_BAD_INPUT, "%s needs an input of rank %d %s, got %s%s",
      op, rank, layout, text,
      hint ? " (to apply it to every frame of a sequence, set "
             "time_distributed: true)"
           : "");
}

gesta_status gesta_op_expect_nonscalar(const char *op, const gesta_shape *shape,
                                       gesta_error *err) {
  char text[GESTA_SHAPE_TEXT];
  if (shape->rank >= 1 && gesta_shape_count(shape) > 0)
    return GESTA_STATUS_OK;
  gesta_shape_format(shape, text, sizeof text);
  return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                         "%s needs a non-empty input of rank 1 or more, got %s",
                         op, text);
}

gesta_status gesta_op_infer_identity(const gesta_node *node,
                                     const gesta_shape *inputs, int n_inputs,
                                     gesta_shape *out, gesta_error *err) {
  (void)node;
  (void)n_inputs;
  (void)err;
  *out = inputs[0];
  return GESTA_STATUS_OK;
}

gesta_status gesta_op_copy_forward(const gesta_op_call *call,
                                   gesta_error *err) {
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  float *y = gesta_tensor_host_data(call->output);
  size_t bytes = gesta_tensor_bytes(&call->inputs[0]);
  (void)err;
  assert(bytes == gesta_tensor_bytes(call->output));
  gesta_cpu_copy(y, x, (int64_t)(bytes / sizeof(float)));
  return GESTA_STATUS_OK;
}

gesta_status gesta_op_copy_grad(const gesta_op_grad_call *call,
                                gesta_error *err) {
  const float *dy = gesta_tensor_host_data(call->output_grad);
  (void)err;
  if (!call->input_grads || !call->input_grads[0].buffer)
    return GESTA_STATUS_OK;
  gesta_cpu_copy(gesta_tensor_host_data(&call->input_grads[0]), dy,
                 gesta_shape_count(&call->output_grad->shape));
  return GESTA_STATUS_OK;
}

void gesta_param_spec_set(gesta_param_spec *spec, const char *name, int rank,
                          const int64_t *dims, gesta_init_kind init,
                          bool trainable) {
  memset(spec, 0, sizeof *spec);
  snprintf(spec->name, sizeof spec->name, "%s", name);
  spec->shape = gesta_shape_make(rank, dims);
  spec->init = init;
  spec->trainable = trainable;
}

void gesta_node_attr_pair_or(const gesta_node *node, const char *name,
                             const int64_t fallback[2], int64_t out[2]) {
  int index = gesta_op_attr_index(node->op->def, name);
  assert(index >= 0);
  if (node->attr_given[index]) {
    gesta_node_attr_pair(node, name, out);
  } else {
    out[0] = fallback[0];
    out[1] = fallback[1];
  }
}
