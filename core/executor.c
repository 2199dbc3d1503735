/* The executor: a model laid out on a backend for one batch size.
 *
 * Planning walks the layers once: every activation gets a storage slot,
 * slots are reused once their last reader has run, views (flatten, dropout
 * at inference) share their input's slot, and what is left is a flat list of
 * kernel calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor_internal.h"

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

gesta_tensor gesta_plan_value_tensor(const gesta_plan *plan, int v) {
  gesta_tensor t;
  t.shape = plan->shapes[v];
  t.buffer = plan->slots[plan->value_slot[v]].buffer;
  t.offset = 0;
  return t;
}

/* Names what slot s was for when its buffer cannot be allocated: the
 * biggest value placed in it (slots are sized for their biggest), as the
 * model input or a layer's output with its shape. */
static void plan_name_slot(const gesta_plan *plan, int s, gesta_error *err) {
  const gesta_model *model = plan->model;
  char shape[96];
  int best = -1;
  for (int v = 0; v <= model->n_nodes; v++)
    if (plan->value_slot[v] == s &&
        (best < 0 || gesta_shape_count(&plan->shapes[v]) >
                         gesta_shape_count(&plan->shapes[best])))
      best = v;
  if (best < 0)
    return;
  gesta_shape_format(&plan->shapes[best], shape, sizeof shape);
  if (best == 0)
    gesta_error_prefix(err, "the model input '%s' %s: ", model->input_name,
                       shape);
  else
    gesta_error_prefix(
        err, "the output of layer '%s' (%s) %s: ", model->nodes[best - 1].name,
        model->nodes[best - 1].op->def->name, shape);
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

/* Uploads every parameter to `backend` into buffers[i] / tensors[i]; with
 * `only_nodes`, just the parameters of layers flagged there. */
static gesta_status
plan_upload_params(const gesta_model *model, gesta_backend *backend,
                   const bool *only_nodes, gesta_buffer **buffers,
                   gesta_tensor *tensors, gesta_error *err) {
  for (int i = 0; i < model->n_params; i++) {
    const gesta_param *p = &model->params[i];
    size_t bytes = (size_t)gesta_shape_count(&p->spec.shape) * sizeof(float);
    gesta_status st;
    if (only_nodes && !only_nodes[p->node])
      continue;
    if (!p->data)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "model '%s' has no weights for '%s': load a "
                             "weights file or initialise the model first",
                             model->name, p->name);
    st = gesta_buffer_new(backend, bytes, &buffers[i], err);
    if (st == GESTA_STATUS_OK)
      st = gesta_buffer_upload(buffers[i], 0, p->data, bytes, err);
    if (st != GESTA_STATUS_OK) {
      char shape[96];
      gesta_error_prefix(
          err, "weight '%s' %s: ", p->name,
          gesta_shape_format(&p->spec.shape, shape, sizeof shape));
      return st;
    }
    tensors[i].shape = p->spec.shape;
    tensors[i].buffer = buffers[i];
    tensors[i].offset = 0;
  }
  return GESTA_STATUS_OK;
}

/* Why the backend cannot run this call, or false when it can. */
static bool plan_needs_fallback(const gesta_plan *plan, const plan_call *pc,
                                char *why, size_t why_size) {
  const gesta_backend_iface *iface = plan->backend->iface;
  if (!pc->kernel || !pc->kernel->forward) {
    snprintf(why, why_size, "op %s has no %s kernel",
             pc->call.node->op->def->name, iface->name);
    return true;
  }
  if (iface->supports_op &&
      !iface->supports_op(plan->backend->impl, &pc->call, why, why_size))
    return true;
  return false;
}

/* Gives a fallback layer host copies of its inputs and output and the CPU
 * kernel; the backend's tensors stay as the place to copy from and to. */
static gesta_status plan_make_fallback(gesta_plan *plan, plan_call *pc,
                                       const char *why, gesta_error *err) {
  const gesta_node *node = pc->call.node;
  gesta_status st;
  if (plan->backend->iface->kind == GESTA_BACKEND_CPU ||
      !node->op->kernels[GESTA_BACKEND_CPU])
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "layer '%s': %s, and there is no CPU reference "
                           "kernel to fall back to",
                           node->name, why);
  if (plan->options.strict)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "layer '%s' (%s) cannot run on %s (%s), and strict "
                           "mode forbids falling back to the CPU reference",
                           node->name, node->op->def->name,
                           gesta_backend_device_name(plan->backend), why);
  if (!plan->cpu && (st = gesta_backend_cpu_new(plan->backend->ctx, &plan->cpu,
                                                err)) != GESTA_STATUS_OK)
    return st;
  pc->fallback = true;
  pc->kernel = node->op->kernels[GESTA_BACKEND_CPU];
  for (int k = 0; k <= node->n_inputs; k++) {
    gesta_tensor *host = k < node->n_inputs ? &pc->inputs[k] : &pc->output;
    gesta_tensor *device =
        k < node->n_inputs ? &pc->device_inputs[k] : &pc->device_output;
    *device = *host;
    st = gesta_buffer_new(plan->cpu, gesta_tensor_bytes(host),
                          &pc->host_buffers[k], err);
    if (st != GESTA_STATUS_OK)
      return st;
    host->buffer = pc->host_buffers[k];
    host->offset = 0;
  }
  pc->call.backend = plan->cpu;
  gesta_log(plan->backend->ctx, GESTA_LOG_WARNING,
            "layer '%s' (%s) runs on the CPU reference: %s", node->name,
            node->op->def->name, why);
  return GESTA_STATUS_OK;
}

static gesta_status plan_build_calls(gesta_plan *plan, gesta_error *err) {
  const gesta_model *model = plan->model;
  for (int i = 0; i < model->n_nodes; i++) {
    const gesta_node *node = &model->nodes[i];
    gesta_placement *place = &plan->placements[i];
    plan_call *pc;
    char why[160] = "";
    gesta_status st;
    place->layer = node->name;
    place->op = node->op->def->name;
    plan->node_call[i] = -1;
    if (plan_is_view(node)) {
      place->device = "view";
      continue;
    }
    pc = &plan->calls[plan->n_calls];
    plan->node_call[i] = plan->n_calls++;
    pc->node = i;
    pc->kernel = gesta_backend_kernel(plan->backend, node->op);
    for (int k = 0; k < node->n_inputs; k++) {
      pc->inputs[k] = gesta_plan_value_tensor(plan, node->inputs[k] + 1);
      if (node->time_distributed)
        pc->inputs[k].shape = plan_fold_time(&pc->inputs[k].shape);
    }
    pc->output = gesta_plan_value_tensor(plan, i + 1);
    if (node->time_distributed)
      pc->output.shape = plan_fold_time(&pc->output.shape);
    pc->call.node = node;
    pc->call.backend = plan->backend;
    pc->call.inputs = pc->inputs;
    pc->call.n_inputs = node->n_inputs;
    pc->call.n_params = node->n_params;
    pc->call.output = &pc->output;
    if (plan_needs_fallback(plan, pc, why, sizeof why) &&
        (st = plan_make_fallback(plan, pc, why, err)) != GESTA_STATUS_OK)
      return st;
    place->fallback = pc->fallback;
    snprintf(place->reason, sizeof place->reason, "%s",
             pc->fallback ? why : "");
    place->device = gesta_backend_device_name(pc->call.backend);
  }
  return GESTA_STATUS_OK;
}

/* Parameters and workspaces: on the backend for layers it runs, on the
 * host for layers that fell back. */
static gesta_status plan_bind_memory(gesta_plan *plan, gesta_error *err) {
  const gesta_model *model = plan->model;
  size_t workspace[2] = {0, 0}; /* backend, host */
  bool *fallback_nodes = calloc((size_t)model->n_nodes + 1, sizeof(bool));
  gesta_status st;
  if (!fallback_nodes)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory planning parameters");
  for (int c = 0; c < plan->n_calls; c++)
    fallback_nodes[plan->calls[c].node] = plan->calls[c].fallback;
  st = plan_upload_params(model, plan->backend, NULL, plan->param_buffers,
                          plan->param_tensors, err);
  if (st == GESTA_STATUS_OK && plan->cpu)
    st = plan_upload_params(model, plan->cpu, fallback_nodes,
                            plan->host_param_buffers, plan->host_param_tensors,
                            err);
  free(fallback_nodes);
  if (st != GESTA_STATUS_OK)
    return st;
  for (int c = 0; c < plan->n_calls; c++) {
    plan_call *pc = &plan->calls[c];
    const gesta_node *node = pc->call.node;
    gesta_tensor *params =
        pc->fallback ? plan->host_param_tensors : plan->param_tensors;
    pc->call.params = node->n_params ? &params[node->first_param] : NULL;
    if (pc->kernel->workspace_bytes) {
      size_t w = pc->kernel->workspace_bytes(&pc->call);
      if (w > workspace[pc->fallback])
        workspace[pc->fallback] = w;
    }
  }
  for (int side = 0; side < 2; side++) {
    gesta_buffer **buffer =
        side ? &plan->host_workspace_buffer : &plan->workspace_buffer;
    gesta_tensor *tensor = side ? &plan->host_workspace : &plan->workspace;
    if (workspace[side] == 0)
      continue;
    st = gesta_buffer_new(side ? plan->cpu : plan->backend, workspace[side],
                          buffer, err);
    if (st != GESTA_STATUS_OK) {
      gesta_error_prefix(err, "the layers' scratch workspace: ");
      return st;
    }
    tensor->shape.rank = 1;
    tensor->shape.dims[0] =
        (int64_t)((workspace[side] + sizeof(float) - 1) / sizeof(float));
    tensor->buffer = *buffer;
    tensor->offset = 0;
  }
  for (int c = 0; c < plan->n_calls; c++) {
    plan_call *pc = &plan->calls[c];
    if (pc->kernel->workspace_bytes)
      pc->call.workspace =
          pc->fallback ? &plan->host_workspace : &plan->workspace;
  }
  return GESTA_STATUS_OK;
}

gesta_status gesta_plan_new_with_options(const gesta_model *model,
                                         gesta_backend *backend, int64_t batch,
                                         const gesta_plan_options *options,
                                         gesta_plan **out, gesta_error *err) {
  gesta_plan *plan;
  gesta_status st;
  int n = model->n_nodes;
  size_t n_params = (size_t)model->n_params + 1;
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
  if (options)
    plan->options = *options;
  plan->value_slot = calloc((size_t)n + 1, sizeof(int));
  plan->shapes = calloc((size_t)n + 1, sizeof(gesta_shape));
  plan->slots = calloc((size_t)n + 1, sizeof(plan_slot));
  plan->param_buffers = calloc(n_params, sizeof(gesta_buffer *));
  plan->param_tensors = calloc(n_params, sizeof(gesta_tensor));
  plan->host_param_buffers = calloc(n_params, sizeof(gesta_buffer *));
  plan->host_param_tensors = calloc(n_params, sizeof(gesta_tensor));
  plan->calls = calloc((size_t)n + 1, sizeof(plan_call));
  plan->node_call = calloc((size_t)n + 1, sizeof(int));
  plan->placements = calloc((size_t)n + 1, sizeof(gesta_placement));
  if (!plan->value_slot || !plan->shapes || !plan->slots ||
      !plan->param_buffers || !plan->param_tensors ||
      !plan->host_param_buffers || !plan->host_param_tensors || !plan->calls ||
      !plan->node_call || !plan->placements) {
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
                               &plan->slots[s].buffer, err)) !=
        GESTA_STATUS_OK) {
      plan_name_slot(plan, s, err);
      goto fail;
    }
  if ((st = plan_build_calls(plan, err)) != GESTA_STATUS_OK ||
      (st = plan_bind_memory(plan, err)) != GESTA_STATUS_OK)
    goto fail;
  *out = plan;
  return GESTA_STATUS_OK;
fail:
  gesta_plan_free(plan);
  return st;
}

gesta_status gesta_plan_new(const gesta_model *model, gesta_backend *backend,
                            int64_t batch, gesta_plan **out, gesta_error *err) {
  return gesta_plan_new_with_options(model, backend, batch, NULL, out, err);
}

void gesta_plan_free(gesta_plan *plan) {
  if (!plan)
    return;
  if (plan->slots)
    for (int s = 0; s < plan->n_slots; s++)
      gesta_buffer_free(plan->slots[s].buffer);
  for (int i = 0; i < plan->model->n_params; i++) {
    if (plan->param_buffers)
      gesta_buffer_free(plan->param_buffers[i]);
    if (plan->host_param_buffers)
      gesta_buffer_free(plan->host_param_buffers[i]);
  }
  if (plan->calls)
    for (int c = 0; c < plan->n_calls; c++)
      for (int k = 0; k <= GESTA_MAX_INPUTS; k++)
        gesta_buffer_free(plan->calls[c].host_buffers[k]);
  gesta_buffer_free(plan->workspace_buffer);
  gesta_buffer_free(plan->host_workspace_buffer);
  gesta_backend_free(plan->cpu);
  free(plan->value_slot);
  free(plan->shapes);
  free(plan->slots);
  free(plan->param_buffers);
  free(plan->param_tensors);
  free(plan->host_param_buffers);
  free(plan->host_param_tensors);
  free(plan->calls);
  free(plan->node_call);
  free(plan->placements);
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

int gesta_plan_placement_count(const gesta_plan *plan) {
  return plan->model->n_nodes;
}

const gesta_placement *gesta_plan_placement_at(const gesta_plan *plan,
                                               int layer) {
  if (layer < 0 || layer >= plan->model->n_nodes)
    return NULL;
  return &plan->placements[layer];
}
