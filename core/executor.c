/* The executor: a model laid out on a backend for one batch size.
 *
 * Planning walks the layers once: every activation gets a storage slot,
 * slots are reused once their last reader has run, views (flatten, dropout
 * at inference) share their input's slot, and what is left is a flat list of
 * kernel calls. */
#include <stdlib.h>
#include <string.h>

#include "gesta/executor.h"

/* Value index v: 0 is the model input, v = node + 1 a layer's output. */
typedef struct plan_slot {
  size_t bytes;
  bool in_use;
  gesta_buffer *buffer;
} plan_slot;

typedef struct plan_call {
  const gesta_op_kernel *kernel;
  gesta_op_call call;
  gesta_tensor inputs[GESTA_MAX_INPUTS];
  gesta_tensor output;
} plan_call;

struct gesta_plan {
  const gesta_model *model;
  gesta_backend *backend;
  int64_t batch;

  int n_values;
  int *value_slot;     /* value -> slot */
  gesta_shape *shapes; /* value -> full shape (batch first) */
  plan_slot *slots;
  int n_slots;

  gesta_buffer **param_buffers;
  gesta_tensor *param_tensors;
  gesta_buffer *workspace_buffer;
  gesta_tensor workspace;

  plan_call *calls;
  int n_calls;
};

static gesta_status plan_full_shape(const gesta_shape *sample, int64_t batch,
                                    gesta_shape *out, gesta_error *err) {
  int64_t count = batch;
  if (sample->rank + 1 > GESTA_MAX_DIMS)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "a per-sample shape of rank %d leaves no room for "
                           "the batch dimension",
                           sample->rank);
  out->rank = sample->rank + 1;
  out->dims[0] = batch;
  for (int i = 0; i < sample->rank; i++) {
    out->dims[i + 1] = sample->dims[i];
    if (sample->dims[i] > 0 && count > (INT64_MAX / 4) / sample->dims[i])
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "batch %lld makes a tensor too large to address",
                             (long long)batch);
    count *= sample->dims[i];
  }
  return GESTA_STATUS_OK;
}

/* The reading order of a value: the index of its last consumer, or
 * n_nodes for the model output (kept until it is downloaded). */
static void plan_last_uses(const gesta_model *model, int *last_use) {
  for (int v = 0; v <= model->n_nodes; v++)
    last_use[v] = -1;
  for (int i = 0; i < model->n_nodes; i++)
    for (int k = 0; k < model->nodes[i].n_inputs; k++)
      last_use[model->nodes[i].inputs[k] + 1] = i;
  last_use[model->output_node + 1] = model->n_nodes;
}

static bool plan_is_view(const gesta_node *node) {
  return node->op->def->view_at_inference && node->n_inputs == 1;
}

static int plan_take_slot(gesta_plan *plan, size_t bytes) {
  int best = -1;
  for (int s = 0; s < plan->n_slots; s++) {
    if (plan->slots[s].in_use)
      continue;
    /* Prefer the smallest slot that fits, else the largest (it grows). */
    if (best < 0)
      best = s;
    else if (plan->slots[s].bytes >= bytes)
      best = (plan->slots[best].bytes < bytes ||
              plan->slots[s].bytes < plan->slots[best].bytes)
                 ? s
                 : best;
    else if (plan->slots[best].bytes < bytes &&
             plan->slots[s].bytes > plan->slots[best].bytes)
      best = s;
  }
  if (best < 0)
    best = plan->n_slots++;
  if (plan->slots[best].bytes < bytes)
    plan->slots[best].bytes = bytes;
  plan->slots[best].in_use = true;
  return best;
}

static gesta_status plan_assign_slots(gesta_plan *plan, gesta_error *err) {
  const gesta_model *model = plan->model;
  int n = model->n_nodes;
  int *last_use = malloc(sizeof(int) * (size_t)(n + 1));
  /* A slot's last reader over every value that lives in it. */
  int *slot_last = malloc(sizeof(int) * (size_t)(n + 1));
  if (!last_use || !slot_last) {
    free(last_use);
    free(slot_last);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory planning buffers");
  }
  plan_last_uses(model, last_use);
  plan->value_slot[0] = plan_take_slot(
      plan, (size_t)gesta_shape_count(&plan->shapes[0]) * sizeof(float));
  slot_last[plan->value_slot[0]] = last_use[0];
  for (int i = 0; i < n; i++) {
    const gesta_node *node = &model->nodes[i];
    int v = i + 1;
    if (plan_is_view(node)) {
      int s = plan->value_slot[node->inputs[0] + 1];
      plan->value_slot[v] = s;
      if (last_use[v] > slot_last[s])
        slot_last[s] = last_use[v];
    } else {
      int s = plan_take_slot(plan, (size_t)gesta_shape_count(&plan->shapes[v]) *
                                       sizeof(float));
      plan->value_slot[v] = s;
      slot_last[s] = last_use[v];
    }
    /* Release after the output is placed, so no layer writes over its own
     * inputs. */
    for (int s = 0; s < plan->n_slots; s++)
      if (plan->slots[s].in_use && slot_last[s] <= i)
        plan->slots[s].in_use = false;
  }
  free(last_use);
  free(slot_last);
  return GESTA_STATUS_OK;
}

static gesta_tensor plan_value_tensor(const gesta_plan *plan, int v) {
  gesta_tensor t;
  t.shape = plan->shapes[v];
  t.buffer = plan->slots[plan->value_slot[v]].buffer;
  t.offset = 0;
  return t;
}

/* Time-distributed layers see T folded into the batch: (N, T, ...) is read
 * as (N*T, ...), the same bytes. */
static gesta_shape plan_fold_time(const gesta_shape *full) {
  gesta_shape s;
  s.rank = full->rank - 1;
  s.dims[0] = full->dims[0] * full->dims[1];
  for (int i = 2; i < full->rank; i++)
    s.dims[i - 1] = full->dims[i];
  return s;
}

static gesta_status plan_upload_params(gesta_plan *plan, gesta_error *err) {
  const gesta_model *model = plan->model;
  for (int i = 0; i < model->n_params; i++) {
    const gesta_param *p = &model->params[i];
    size_t bytes = (size_t)gesta_shape_count(&p->spec.shape) * sizeof(float);
    gesta_status st;
    if (!p->data)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "model '%s' has no weights for '%s': load a "
                             "weights file or initialise the model first",
                             model->name, p->name);
    st = gesta_buffer_new(plan->backend, bytes, &plan->param_buffers[i], err);
    if (st == GESTA_STATUS_OK)
      st = gesta_buffer_upload(plan->param_buffers[i], 0, p->data, bytes, err);
    if (st != GESTA_STATUS_OK)
      return st;
    plan->param_tensors[i].shape = p->spec.shape;
    plan->param_tensors[i].buffer = plan->param_buffers[i];
    plan->param_tensors[i].offset = 0;
  }
  return GESTA_STATUS_OK;
}

static gesta_status plan_build_calls(gesta_plan *plan, gesta_error *err) {
  const gesta_model *model = plan->model;
  size_t workspace_bytes = 0;
  for (int i = 0; i < model->n_nodes; i++) {
    const gesta_node *node = &model->nodes[i];
    plan_call *pc;
    if (plan_is_view(node))
      continue;
    pc = &plan->calls[plan->n_calls];
    pc->kernel = gesta_backend_kernel(plan->backend, node->op);
    if (!pc->kernel || !pc->kernel->forward)
      return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                             "layer '%s': op %s has no kernel on the %s "
                             "backend",
                             node->name, node->op->def->name,
                             gesta_backend_name(plan->backend));
    for (int k = 0; k < node->n_inputs; k++) {
      pc->inputs[k] = plan_value_tensor(plan, node->inputs[k] + 1);
      if (node->time_distributed)
        pc->inputs[k].shape = plan_fold_time(&pc->inputs[k].shape);
    }
    pc->output = plan_value_tensor(plan, i + 1);
    if (node->time_distributed)
      pc->output.shape = plan_fold_time(&pc->output.shape);
    pc->call.node = node;
    pc->call.backend = plan->backend;
    pc->call.inputs = pc->inputs;
    pc->call.n_inputs = node->n_inputs;
    pc->call.params =
        node->n_params ? &plan->param_tensors[node->first_param] : NULL;
    pc->call.n_params = node->n_params;
    pc->call.output = &pc->output;
    pc->call.workspace = NULL;
    if (pc->kernel->workspace_bytes) {
      size_t w = pc->kernel->workspace_bytes(&pc->call);
      if (w > workspace_bytes)
        workspace_bytes = w;
    }
    plan->n_calls++;
  }
  if (workspace_bytes > 0) {
    gesta_status st = gesta_buffer_new(plan->backend, workspace_bytes,
                                       &plan->workspace_buffer, err);
    if (st != GESTA_STATUS_OK)
      return st;
    plan->workspace.shape.rank = 1;
    plan->workspace.shape.dims[0] =
        (int64_t)((workspace_bytes + sizeof(float) - 1) / sizeof(float));
    plan->workspace.buffer = plan->workspace_buffer;
    plan->workspace.offset = 0;
    for (int c = 0; c < plan->n_calls; c++)
      if (plan->calls[c].kernel->workspace_bytes)
        plan->calls[c].call.workspace = &plan->workspace;
  }
  return GESTA_STATUS_OK;
}

gesta_status gesta_plan_new(const gesta_model *model, gesta_backend *backend,
                            int64_t batch, gesta_plan **out, gesta_error *err) {
  gesta_plan *plan;
  gesta_status st;
  int n = model->n_nodes;
  if (batch < 1)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "batch size must be at least 1, got %lld",
                           (long long)batch);
  plan = calloc(1, sizeof *plan);
  if (!plan)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory creating a plan");
  plan->model = model;
  plan->backend = backend;
  plan->batch = batch;
  plan->n_values = n + 1;
  plan->value_slot = calloc((size_t)n + 1, sizeof(int));
  plan->shapes = calloc((size_t)n + 1, sizeof(gesta_shape));
  plan->slots = calloc((size_t)n + 1, sizeof(plan_slot));
  plan->param_buffers =
      calloc((size_t)model->n_params + 1, sizeof(gesta_buffer *));
  plan->param_tensors =
      calloc((size_t)model->n_params + 1, sizeof(gesta_tensor));
  plan->calls = calloc((size_t)n + 1, sizeof(plan_call));
  if (!plan->value_slot || !plan->shapes || !plan->slots ||
      !plan->param_buffers || !plan->param_tensors || !plan->calls) {
    st = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                         "out of memory creating a plan");
    goto fail;
  }
  if ((st = plan_full_shape(&model->input_shape, batch, &plan->shapes[0],
                            err)) != GESTA_STATUS_OK)
    goto fail;
  for (int i = 0; i < n; i++)
    if ((st = plan_full_shape(&model->nodes[i].output_shape, batch,
                              &plan->shapes[i + 1], err)) != GESTA_STATUS_OK)
      goto fail;
  if ((st = plan_assign_slots(plan, err)) != GESTA_STATUS_OK)
    goto fail;
  for (int s = 0; s < plan->n_slots; s++)
    if ((st = gesta_buffer_new(backend, plan->slots[s].bytes,
                               &plan->slots[s].buffer, err)) != GESTA_STATUS_OK)
      goto fail;
  if ((st = plan_upload_params(plan, err)) != GESTA_STATUS_OK ||
      (st = plan_build_calls(plan, err)) != GESTA_STATUS_OK)
    goto fail;
  *out = plan;
  return GESTA_STATUS_OK;
fail:
  gesta_plan_free(plan);
  return st;
}

void gesta_plan_free(gesta_plan *plan) {
  if (!plan)
    return;
  if (plan->slots)
    for (int s = 0; s < plan->n_slots; s++)
      gesta_buffer_free(plan->slots[s].buffer);
  if (plan->param_buffers)
    for (int i = 0; i < plan->model->n_params; i++)
      gesta_buffer_free(plan->param_buffers[i]);
  gesta_buffer_free(plan->workspace_buffer);
  free(plan->value_slot);
  free(plan->shapes);
  free(plan->slots);
  free(plan->param_buffers);
  free(plan->param_tensors);
  free(plan->calls);
  free(plan);
}

gesta_shape gesta_plan_input_shape(const gesta_plan *plan) {
  return plan->shapes[0];
}

gesta_shape gesta_plan_output_shape(const gesta_plan *plan) {
  return plan->shapes[plan->model->output_node + 1];
}

size_t gesta_plan_activation_bytes(const gesta_plan *plan) {
  size_t total = 0;
  for (int s = 0; s < plan->n_slots; s++)
    total += plan->slots[s].bytes;
  return total;
}

gesta_status gesta_plan_run(gesta_plan *plan, const float *input, float *output,
                            gesta_error *err) {
  gesta_tensor in = plan_value_tensor(plan, 0);
  gesta_tensor out = plan_value_tensor(plan, plan->model->output_node + 1);
  gesta_status st =
      gesta_buffer_upload(in.buffer, 0, input, gesta_tensor_bytes(&in), err);
  if (st != GESTA_STATUS_OK)
    return st;
  for (int c = 0; c < plan->n_calls; c++) {
    plan_call *pc = &plan->calls[c];
    st = pc->kernel->forward(&pc->call, err);
    if (st != GESTA_STATUS_OK) {
      gesta_error_prefix(err, "layer '%s' (%s) on %s: ", pc->call.node->name,
                         pc->call.node->op->def->name,
                         gesta_backend_name(plan->backend));
      return st;
    }
  }
  return gesta_buffer_download(out.buffer, 0, output, gesta_tensor_bytes(&out),
                               err);
}
