/* The trainer's setup: every value gets its own buffer and, when it
 * influences the loss, a gradient buffer; every layer gets its training
 * call, its saved state and its backward call; trainable parameters get a
 * gradient and the optimiser's state. Nothing is shared by lifetime: the
 * backward pass reads every activation of the forward pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_private.h"

void gesta_trainer_options_init(gesta_trainer_options *options) {
  memset(options, 0, sizeof *options);
  gesta_optim_config_adam(&options->optim);
}

static gesta_shape train_fold_time(const gesta_shape *full) {
  gesta_shape s;
  s.rank = full->rank - 1;
  s.dims[0] = full->dims[0] * full->dims[1];
  for (int i = 2; i < full->rank; i++)
    s.dims[i - 1] = full->dims[i];
  return s;
}

static gesta_status train_full_shape(const gesta_shape *sample, int64_t batch,
                                     gesta_shape *out, gesta_error *err) {
  if (sample->rank + 1 > GESTA_MAX_DIMS)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "a per-sample shape of rank %d leaves no room for "
                           "the batch dimension",
                           sample->rank);
  out->rank = sample->rank + 1;
  out->dims[0] = batch;
  memcpy(out->dims + 1, sample->dims, (size_t)sample->rank * sizeof(int64_t));
  return GESTA_STATUS_OK;
}

gesta_tensor gesta_trainer_value_tensor(const gesta_trainer *t, int v) {
  gesta_tensor x = {t->shapes[v], t->values[v], 0};
  return x;
}

static gesta_tensor train_tensor(gesta_shape shape, gesta_buffer *buffer) {
  gesta_tensor x = {shape, buffer, 0};
  return x;
}

static gesta_status train_alloc(gesta_trainer *t, const gesta_shape *shape,
                                gesta_buffer **out, gesta_error *err) {
  size_t bytes = (size_t)gesta_shape_count(shape) * sizeof(float);
  return gesta_buffer_new(t->backend, bytes ? bytes : sizeof(float), out, err);
}

/* Which layers influence the loss: the output layer and, walking back,
 * every layer one of them reads. */
static void train_mark_reached(gesta_trainer *t) {
  const gesta_model *m = t->model;
  t->layers[m->output_node].reaches_output = true;
  for (int i = m->n_nodes - 1; i >= 0; i--) {
    if (!t->layers[i].reaches_output)
      continue;
    for (int k = 0; k < m->nodes[i].n_inputs; k++)
      if (m->nodes[i].inputs[k] >= 0)
        t->layers[m->nodes[i].inputs[k]].reaches_output = true;
  }
}

/* The layer's kernel, or an error naming the layer when the backend cannot
 * train it (training does not fall back to the CPU: a step would copy every
 * activation both ways). */
static gesta_status train_pick_kernel(gesta_trainer *t, train_layer *l,
                                      gesta_error *err) {
  const gesta_node *node = &t->model->nodes[l->node];
  const gesta_backend_iface *iface = t->backend->iface;
  char why[160] = "";
  l->kernel = gesta_backend_kernel(t->backend, node->op);
  if (!l->kernel || !l->kernel->forward)
    snprintf(why, sizeof why, "op %s has no %s kernel", node->op->def->name,
             iface->name);
  else if (!l->kernel->backward)
    snprintf(why, sizeof why, "op %s has no backward kernel on %s",
             node->op->def->name, iface->name);
  else if (iface->supports_op &&
           !iface->supports_op(t->backend->impl, &l->call, why, sizeof why))
    ;
  else
    return GESTA_STATUS_OK;
  return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                         "layer '%s' (%s) cannot be trained on %s: %s; train "
                         "on the CPU backend instead",
                         node->name, node->op->def->name,
                         gesta_backend_device_name(t->backend), why);
}

static gesta_status train_setup_values(gesta_trainer *t, gesta_error *err) {
  const gesta_model *m = t->model;
  gesta_status st;
  if ((st = train_full_shape(&m->input_shape, t->batch, &t->shapes[0], err)))
    return st;
  for (int i = 0; i < m->n_nodes; i++)
    if ((st = train_full_shape(&m->nodes[i].output_shape, t->batch,
                               &t->shapes[i + 1], err)))
      return st;
  for (int v = 0; v <= m->n_nodes; v++) {
    if ((st = train_alloc(t, &t->shapes[v], &t->values[v], err)))
      return st;
    if (v > 0 && t->layers[v - 1].reaches_output &&
        (st = train_alloc(t, &t->shapes[v], &t->value_grads[v], err)))
      return st;
  }
  return GESTA_STATUS_OK;
}

/* Parameters, their gradients (trainable ones of layers that reach the
 * loss) and the optimiser's state slots. */
static gesta_status train_setup_params(gesta_trainer *t, gesta_error *err) {
  const gesta_model *m = t->model;
  const gesta_optim_config *oc = &t->options.optim;
  int slots = oc->kind == GESTA_OPTIM_ADAM ? 2 : oc->momentum != 0.0 ? 1 : 0;
  const char *slot_names[2] = {oc->kind == GESTA_OPTIM_ADAM ? "m" : "momentum",
                               "v"};
  gesta_status st;
  for (int i = 0; i < m->n_params; i++) {
    const gesta_param *p = &m->params[i];
    size_t bytes = (size_t)gesta_shape_count(&p->spec.shape) * sizeof(float);
    if (!p->data)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "model '%s' has no weights for '%s': load a "
                             "weights file or initialise the model first",
                             m->name, p->name);
    if ((st = train_alloc(t, &p->spec.shape, &t->params[i], err)) ||
        (st = gesta_buffer_upload(t->params[i], 0, p->data, bytes, err)))
      return st;
    t->param_tensors[i] = train_tensor(p->spec.shape, t->params[i]);
    t->grad_tensors[i] = train_tensor(p->spec.shape, NULL);
    if (!p->spec.trainable || !t->layers[p->node].reaches_output)
      continue;
    if ((st = train_alloc(t, &p->spec.shape, &t->grads[i], err)))
      return st;
    t->grad_tensors[i].buffer = t->grads[i];
    for (int s = 0; s < slots; s++) {
      int k = t->n_state++;
      if ((st = train_alloc(t, &p->spec.shape, &t->state[k], err)))
        return st;
      t->state_tensors[k] = train_tensor(p->spec.shape, t->state[k]);
      t->state_param[k] = i;
      snprintf(t->state_names[k], sizeof t->state_names[k], "optimizer.%s.%s",
               slot_names[s], p->name);
      if ((st = t->tk->fill_zero(&t->state_tensors[k], err)))
        return st;
    }
  }
  return GESTA_STATUS_OK;
}

static gesta_status train_setup_layer(gesta_trainer *t, train_layer *l,
                                      size_t *workspace, gesta_error *err) {
  const gesta_node *node = &t->model->nodes[l->node];
  gesta_op_call *c = &l->call;
  gesta_op_grad_call *g = &l->grad_call;
  gesta_status st;
  for (int k = 0; k < node->n_inputs; k++) {
    int v = node->inputs[k] + 1;
    l->inputs[k] = gesta_trainer_value_tensor(t, v);
    l->input_grads[k] = train_tensor(l->inputs[k].shape, t->value_grads[v]);
    if (node->time_distributed) {
      l->inputs[k].shape = train_fold_time(&l->inputs[k].shape);
      l->input_grads[k].shape = l->inputs[k].shape;
    }
  }
  l->output = gesta_trainer_value_tensor(t, l->node + 1);
  if (node->time_distributed)
    l->output.shape = train_fold_time(&l->output.shape);
  l->output_grad = train_tensor(l->output.shape, t->value_grads[l->node + 1]);
  c->node = node;
  c->backend = t->backend;
  c->inputs = l->inputs;
  c->n_inputs = node->n_inputs;
  c->params = node->n_params ? &t->param_tensors[node->first_param] : NULL;
  c->n_params = node->n_params;
  c->output = &l->output;
  c->training = true;
  if ((st = train_pick_kernel(t, l, err)))
    return st;
  if (l->kernel->saved_bytes) {
    size_t bytes = l->kernel->saved_bytes(c);
    if (bytes > 0) {
      gesta_shape s = {1, {(int64_t)((bytes + 3) / 4)}};
      if ((st = train_alloc(t, &s, &t->saved[l->node], err)))
        return st;
      l->saved = train_tensor(s, t->saved[l->node]);
      c->saved = &l->saved;
    }
  }
  g->forward = c;
  g->output_grad = &l->output_grad;
  g->input_grads = l->input_grads;
  g->param_grads = node->n_params ? &t->grad_tensors[node->first_param] : NULL;
  if (l->kernel->workspace_bytes) {
    size_t w = l->kernel->workspace_bytes(c);
    *workspace = w > *workspace ? w : *workspace;
  }
  if (l->kernel->backward_workspace_bytes && l->reaches_output) {
    size_t w = l->kernel->backward_workspace_bytes(g);
    *workspace = w > *workspace ? w : *workspace;
  }
  return GESTA_STATUS_OK;
}

/* Values read by several layers that reach the loss: the first writer
 * (in backward order, the last reader) writes the gradient, the others
 * write a scratch buffer that is added to it. */
static gesta_status train_setup_accumulation(gesta_trainer *t,
                                             gesta_error *err) {
  const gesta_model *m = t->model;
  bool *written = calloc((size_t)m->n_nodes + 1, sizeof(bool));
  gesta_shape largest = {1, {1}};
  bool need = false;
  gesta_status st = GESTA_STATUS_OK;
  if (!written)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory planning gradients");
  for (int i = m->n_nodes - 1; i >= 0; i--) {
    if (!t->layers[i].reaches_output)
      continue;
    for (int k = 0; k < m->nodes[i].n_inputs; k++) {
      int v = m->nodes[i].inputs[k] + 1;
      if (v == 0)
        continue;
      t->layers[i].accumulate[k] = written[v];
      if (written[v]) {
        need = true;
        if (gesta_shape_count(&t->shapes[v]) > largest.dims[0])
          largest.dims[0] = gesta_shape_count(&t->shapes[v]);
      }
      written[v] = true;
    }
  }
  free(written);
  for (int k = 0; need && k < GESTA_MAX_INPUTS && !st; k++)
    st = train_alloc(t, &largest, &t->scratch[k], err);
  return st;
}

/* How the loss reads the output layer (see train_loss_source). */
static gesta_status train_setup_loss(gesta_trainer *t, gesta_error *err) {
  const gesta_model *m = t->model;
  const gesta_node *out = &m->nodes[m->output_node];
  const gesta_shape *s = &t->shapes[m->output_node + 1];
  train_layer *l = &t->layers[m->output_node];
  size_t n;
  t->out_cols = s->dims[s->rank - 1];
  t->out_rows = t->out_cols ? gesta_shape_count(s) / t->out_cols : 0;
  n = (size_t)gesta_shape_count(s);
  if (strcmp(out->op->def->name, "softmax") == 0 && out->inputs[0] >= 0)
    t->loss_source = TRAIN_LOSS_INPUT_LOGITS;
  else if (gesta_op_attr_index(out->op->def, "activation") >= 0 &&
           gesta_node_attr_enum(out, "activation") ==
               GESTA_ACTIVATION_SOFTMAX) {
    if (!l->call.saved || l->saved.buffer->size < n * sizeof(float))
      return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                             "layer '%s' (%s) on %s does not keep the logits "
                             "of its softmax, which the loss needs",
                             out->name, out->op->def->name,
                             gesta_backend_device_name(t->backend));
    t->loss_source = TRAIN_LOSS_SAVED_LOGITS;
  } else {
    t->loss_source = TRAIN_LOSS_PROBS;
  }
  l->grad_call.output_grad_is_logits = t->loss_source != TRAIN_LOSS_PROBS;
  t->host_output = malloc(n * sizeof(float) + 1);
  t->host_logits = malloc(n * sizeof(float) + 1);
  t->host_grad = malloc(n * sizeof(float) + 1);
  if (!t->host_output || !t->host_logits || !t->host_grad)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for the loss");
  return GESTA_STATUS_OK;
}

gesta_status gesta_trainer_new(const gesta_model *model, gesta_backend *backend,
                               int64_t batch,
                               const gesta_trainer_options *options,
                               gesta_trainer **out, gesta_error *err) {
  gesta_trainer *t;
  gesta_status st;
  size_t n = (size_t)model->n_nodes + 1, np = (size_t)model->n_params + 1;
  size_t workspace = 0;
  if (batch < 1)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "batch size must be at least 1, got %lld",
                           (long long)batch);
  t = calloc(1, sizeof *t);
  if (!t)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory creating a trainer");
  t->model = model;
  t->backend = backend;
  t->batch = batch;
  if (options)
    t->options = *options;
  else
    gesta_trainer_options_init(&t->options);
  t->tk = gesta_train_kernels_for(backend);
  if (!t->tk) {
    st = gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                         "%s has no training kernels (gradient sums, "
                         "optimiser updates); train on the CPU backend",
                         gesta_backend_device_name(backend));
    goto fail;
  }
  t->shapes = calloc(n, sizeof *t->shapes);
  t->values = calloc(n, sizeof *t->values);
  t->value_grads = calloc(n, sizeof *t->value_grads);
  t->saved = calloc(n, sizeof *t->saved);
  t->layers = calloc(n, sizeof *t->layers);
  t->params = calloc(np, sizeof *t->params);
  t->param_tensors = calloc(np, sizeof *t->param_tensors);
  t->grads = calloc(np, sizeof *t->grads);
  t->grad_tensors = calloc(np, sizeof *t->grad_tensors);
  t->state = calloc(2 * np, sizeof *t->state);
  t->state_tensors = calloc(2 * np, sizeof *t->state_tensors);
  t->state_param = calloc(2 * np, sizeof *t->state_param);
  t->state_names = calloc(2 * np, sizeof *t->state_names);
  if (!t->shapes || !t->values || !t->value_grads || !t->saved || !t->layers ||
      !t->params || !t->param_tensors || !t->grads || !t->grad_tensors ||
      !t->state || !t->state_tensors || !t->state_param || !t->state_names) {
    st = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                         "out of memory creating a trainer");
    goto fail;
  }
  for (int i = 0; i < model->n_nodes; i++)
    t->layers[i].node = i;
  train_mark_reached(t);
  if ((st = train_setup_values(t, err)) || (st = train_setup_params(t, err)))
    goto fail;
  for (int i = 0; i < model->n_nodes; i++)
    if ((st = train_setup_layer(t, &t->layers[i], &workspace, err)))
      goto fail;
  if ((st = train_setup_accumulation(t, err)) ||
      (st = train_setup_loss(t, err)))
    goto fail;
  if (workspace > 0) {
    gesta_shape s = {1, {(int64_t)((workspace + 7) / 4)}};
    if ((st = train_alloc(t, &s, &t->workspace, err)))
      goto fail;
    t->workspace_tensor = train_tensor(s, t->workspace);
    for (int i = 0; i < model->n_nodes; i++) {
      t->layers[i].call.workspace = &t->workspace_tensor;
      t->layers[i].grad_call.workspace = &t->workspace_tensor;
    }
  }
  *out = t;
  return GESTA_STATUS_OK;
fail:
  gesta_trainer_free(t);
  return st;
}

void gesta_trainer_free(gesta_trainer *t) {
  if (!t)
    return;
  for (int v = 0; v <= t->model->n_nodes; v++) {
    if (t->values)
      gesta_buffer_free(t->values[v]);
    if (t->value_grads)
      gesta_buffer_free(t->value_grads[v]);
    if (t->saved)
      gesta_buffer_free(t->saved[v]);
  }
  for (int i = 0; i < t->model->n_params; i++) {
    if (t->params)
      gesta_buffer_free(t->params[i]);
    if (t->grads)
      gesta_buffer_free(t->grads[i]);
  }
  for (int k = 0; k < t->n_state; k++)
    gesta_buffer_free(t->state[k]);
  for (int k = 0; k < GESTA_MAX_INPUTS; k++)
    gesta_buffer_free(t->scratch[k]);
  gesta_buffer_free(t->workspace);
  free(t->shapes);
  free(t->values);
  free(t->value_grads);
  free(t->saved);
  free(t->layers);
  free(t->params);
  free(t->param_tensors);
  free(t->grads);
  free(t->grad_tensors);
  free(t->state);
  free(t->state_tensors);
  free(t->state_param);
  free(t->state_names);
  free(t->host_output);
  free(t->host_logits);
  free(t->host_grad);
  free(t);
}
