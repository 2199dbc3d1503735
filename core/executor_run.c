/* Running a plan: the flat list of calls, layers that fell back to the CPU
 * reference (copies in and out around the CPU kernel), observed runs that
 * show every layer's output, and single layers on their own. */
#include <stdlib.h>
#include <string.h>

#include "executor_internal.h"

static gesta_status run_call(plan_call *pc, gesta_error *err) {
  const gesta_node *node = pc->call.node;
  gesta_status st = GESTA_STATUS_OK;
  if (pc->fallback)
    for (int k = 0; k < node->n_inputs && st == GESTA_STATUS_OK; k++)
      st = gesta_buffer_download(pc->device_inputs[k].buffer,
                                 pc->device_inputs[k].offset,
                                 gesta_tensor_host_data(&pc->inputs[k]),
                                 gesta_tensor_bytes(&pc->inputs[k]), err);
  if (st == GESTA_STATUS_OK)
    st = pc->kernel->forward(&pc->call, err);
  if (st == GESTA_STATUS_OK && pc->fallback)
    st = gesta_buffer_upload(pc->device_output.buffer, pc->device_output.offset,
                             gesta_tensor_host_data(&pc->output),
                             gesta_tensor_bytes(&pc->output), err);
  if (st != GESTA_STATUS_OK)
    gesta_error_prefix(err, "layer '%s' (%s) on %s: ", node->name,
                       node->op->def->name,
                       gesta_backend_device_name(pc->call.backend));
  return st;
}

static gesta_status run_download_value(gesta_plan *plan, int value, float *host,
                                       gesta_error *err) {
  gesta_tensor t = gesta_plan_value_tensor(plan, value);
  return gesta_buffer_download(t.buffer, t.offset, host, gesta_tensor_bytes(&t),
                               err);
}

gesta_status gesta_plan_run_observed(gesta_plan *plan, const float *input,
                                     float *output,
                                     gesta_plan_observer observer, void *user,
                                     gesta_error *err) {
  const gesta_model *model = plan->model;
  gesta_tensor in = gesta_plan_value_tensor(plan, 0);
  float *scratch = NULL;
  gesta_status st = gesta_buffer_upload(in.buffer, in.offset, input,
                                        gesta_tensor_bytes(&in), err);
  if (st == GESTA_STATUS_OK && observer) {
    size_t largest = 0;
    for (int v = 1; v <= model->n_nodes; v++) {
      size_t bytes =
          (size_t)gesta_shape_count(&plan->shapes[v]) * sizeof(float);
      largest = bytes > largest ? bytes : largest;
    }
    scratch = malloc(largest ? largest : 1);
    if (!scratch)
      st =
          gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                          "out of memory for a %zu-byte layer output", largest);
  }
  for (int i = 0; i < model->n_nodes && st == GESTA_STATUS_OK; i++) {
    if (plan->node_call[i] >= 0) {
      gesta_backend_begin_layer(plan->backend, model->nodes[i].name);
      st = run_call(&plan->calls[plan->node_call[i]], err);
      gesta_backend_begin_layer(plan->backend, NULL);
    }
    if (st == GESTA_STATUS_OK && observer) {
      st = run_download_value(plan, i + 1, scratch, err);
      if (st == GESTA_STATUS_OK)
        st = observer(user, i, &plan->shapes[i + 1], scratch, err);
    }
  }
  free(scratch);
  if (st != GESTA_STATUS_OK)
    return st;
  return run_download_value(plan, model->output_node + 1, output, err);
}

gesta_status gesta_plan_run(gesta_plan *plan, const float *input, float *output,
                            gesta_error *err) {
  return gesta_plan_run_observed(plan, input, output, NULL, NULL, err);
}

gesta_shape gesta_plan_layer_input_shape(const gesta_plan *plan, int layer,
                                         int k) {
  return plan->shapes[plan->model->nodes[layer].inputs[k] + 1];
}

gesta_shape gesta_plan_layer_output_shape(const gesta_plan *plan, int layer) {
  return plan->shapes[layer + 1];
}

gesta_status gesta_plan_run_layer(gesta_plan *plan, int layer,
                                  const float *const *inputs, float *output,
                                  gesta_error *err) {
  const gesta_model *model = plan->model;
  const gesta_node *node;
  gesta_status st = GESTA_STATUS_OK;
  if (layer < 0 || layer >= model->n_nodes)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "layer %d is out of range (the model has %d)", layer,
                           model->n_nodes);
  node = &model->nodes[layer];
  if (plan->node_call[layer] < 0) {
    /* A view: its output is its input's bytes. */
    gesta_shape shape = plan->shapes[layer + 1];
    memcpy(output, inputs[0],
           (size_t)gesta_shape_count(&shape) * sizeof(float));
    return GESTA_STATUS_OK;
  }
  for (int k = 0; k < node->n_inputs && st == GESTA_STATUS_OK; k++) {
    gesta_tensor t = gesta_plan_value_tensor(plan, node->inputs[k] + 1);
    st = gesta_buffer_upload(t.buffer, t.offset, inputs[k],
                             gesta_tensor_bytes(&t), err);
  }
  if (st == GESTA_STATUS_OK)
    st = run_call(&plan->calls[plan->node_call[layer]], err);
  if (st == GESTA_STATUS_OK)
    st = run_download_value(plan, layer + 1, output, err);
  return st;
}
