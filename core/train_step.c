/* The trainer's steps: forward in training or evaluation mode, the loss on
 * the host (a classifier's output is small), backward in reverse layer
 * order, the gradient hook and the optimiser's update; and the accessors
 * for weights, gradients and optimiser state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_private.h"

static uint64_t step_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* The masks' seed of layer `node` at step `step`. */
static uint64_t step_seed(uint64_t seed, int64_t step, int node) {
  uint64_t s = step_mix(seed + 0x9e3779b97f4a7c15ULL * ((uint64_t)step + 1));
  return step_mix(s ^ (0xd1b54a32d192ed03ULL * ((uint64_t)node + 1)));
}

static gesta_status step_layer_error(const gesta_trainer *t, int node,
                                     const char *what, gesta_status st,
                                     gesta_error *err) {
  const gesta_node *n = &t->model->nodes[node];
  gesta_error_prefix(err, "layer '%s' (%s) on %s, %s: ", n->name,
                     n->op->def->name, gesta_backend_device_name(t->backend),
                     what);
  return st;
}

static gesta_status step_forward(gesta_trainer *t, const float *input,
                                 bool training, gesta_error *err) {
  const gesta_model *m = t->model;
  gesta_tensor in = gesta_trainer_value_tensor(t, 0);
  gesta_status st =
      gesta_buffer_upload(in.buffer, 0, input, gesta_tensor_bytes(&in), err);
  for (int i = 0; i < m->n_nodes && st == GESTA_STATUS_OK; i++) {
    train_layer *l = &t->layers[i];
    l->call.training = training;
    l->call.seed = training ? step_seed(t->options.seed, t->steps, i) : 0;
    st = l->kernel->forward(&l->call, err);
    if (st != GESTA_STATUS_OK)
      st = step_layer_error(t, i, "forward", st, err);
  }
  return st;
}

/* Downloads the output (and logits), computes the loss and, when `grad`,
 * uploads dL/d(output or logits) as the output layer's gradient. */
static gesta_status step_loss(gesta_trainer *t, const float *targets, bool grad,
                              gesta_train_stats *stats, gesta_error *err) {
  const gesta_model *m = t->model;
  int out = m->output_node;
  gesta_tensor o = gesta_trainer_value_tensor(t, out + 1);
  size_t bytes = gesta_tensor_bytes(&o);
  float *g = grad ? t->host_grad : NULL;
  double loss;
  gesta_status st =
      gesta_buffer_download(o.buffer, 0, t->host_output, bytes, err);
  if (st == GESTA_STATUS_OK && t->loss_source == TRAIN_LOSS_SAVED_LOGITS &&
      t->layers[out].call.saved)
    st = gesta_buffer_download(t->saved[out], 0, t->host_logits, bytes, err);
  if (st == GESTA_STATUS_OK && t->loss_source == TRAIN_LOSS_INPUT_LOGITS)
    st = gesta_buffer_download(t->values[m->nodes[out].inputs[0] + 1], 0,
                               t->host_logits, bytes, err);
  if (st != GESTA_STATUS_OK)
    return st;
  if (t->loss_source == TRAIN_LOSS_PROBS)
    loss = gesta_loss_cross_entropy(t->host_output, targets, t->out_rows,
                                    t->out_cols, g);
  else
    loss = gesta_loss_softmax_cross_entropy(t->host_logits, targets,
                                            t->out_rows, t->out_cols, g);
  if (stats) {
    stats->loss = loss;
    stats->rows = t->out_rows;
    stats->correct = gesta_loss_count_correct(t->host_output, targets,
                                              t->out_rows, t->out_cols);
  }
  if (!isfinite(loss))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "the loss is %s after %lld steps: training "
                           "diverged or the data holds NaN or infinity "
                           "(check the inputs, lower the learning rate)",
                           isnan(loss) ? "NaN" : "infinite",
                           (long long)t->steps);
  if (grad)
    st = gesta_buffer_upload(t->value_grads[out + 1], 0, t->host_grad, bytes,
                             err);
  return st;
}

static gesta_status step_backward(gesta_trainer *t, gesta_error *err) {
  const gesta_model *m = t->model;
  gesta_status st = GESTA_STATUS_OK;
  for (int i = m->n_nodes - 1; i >= 0 && st == GESTA_STATUS_OK; i--) {
    train_layer *l = &t->layers[i];
    gesta_tensor grads[GESTA_MAX_INPUTS];
    gesta_op_grad_call g = l->grad_call;
    int n_in = m->nodes[i].n_inputs;
    if (!l->reaches_output)
      continue;
    for (int k = 0; k < n_in; k++) {
      grads[k] = l->input_grads[k];
      if (l->accumulate[k])
        grads[k].buffer = t->scratch[k];
    }
    g.input_grads = grads;
    st = l->kernel->backward(&g, err);
    for (int k = 0; k < n_in && st == GESTA_STATUS_OK; k++)
      if (l->accumulate[k])
        st = t->tk->accumulate(&l->input_grads[k], &grads[k], err);
    if (st != GESTA_STATUS_OK)
      st = step_layer_error(t, i, "backward", st, err);
  }
  return st;
}

static gesta_status step_update(gesta_trainer *t, gesta_error *err) {
  const gesta_optim_config *oc = &t->options.optim;
  gesta_optim_step s = gesta_optim_step_make(oc, t->steps + 1);
  gesta_status st = GESTA_STATUS_OK;
  int k = 0;
  for (int i = 0; i < t->model->n_params && st == GESTA_STATUS_OK; i++) {
    if (!t->grads[i])
      continue;
    if (oc->kind == GESTA_OPTIM_ADAM) {
      st = t->tk->adam(&s, &t->param_tensors[i], &t->grad_tensors[i],
                       &t->state_tensors[k], &t->state_tensors[k + 1], err);
      k += 2;
    } else if (oc->momentum != 0.0) {
      st = t->tk->sgd(&s, &t->param_tensors[i], &t->grad_tensors[i],
                      &t->state_tensors[k++], err);
    } else {
      st = t->tk->sgd(&s, &t->param_tensors[i], &t->grad_tensors[i], NULL, err);
    }
  }
  if (st == GESTA_STATUS_OK)
    t->steps++;
  return st;
}

gesta_status gesta_trainer_compute_gradients(gesta_trainer *t,
                                             const float *input,
                                             const float *targets,
                                             gesta_train_stats *stats,
                                             gesta_error *err) {
  gesta_status st = step_forward(t, input, true, err);
  if (st == GESTA_STATUS_OK)
    st = step_loss(t, targets, true, stats, err);
  if (st == GESTA_STATUS_OK)
    st = step_backward(t, err);
  return st;
}

gesta_status gesta_trainer_step(gesta_trainer *t, const float *input,
                                const float *targets, gesta_train_stats *stats,
                                gesta_error *err) {
  gesta_status st =
      gesta_trainer_compute_gradients(t, input, targets, stats, err);
  if (st == GESTA_STATUS_OK && t->hook)
    st = t->hook(t->hook_user, t, err);
  if (st == GESTA_STATUS_OK)
    st = step_update(t, err);
  return st;
}

gesta_status gesta_trainer_evaluate(gesta_trainer *t, const float *input,
                                    const float *targets, float *output,
                                    gesta_train_stats *stats,
                                    gesta_error *err) {
  gesta_status st = step_forward(t, input, false, err);
  if (st == GESTA_STATUS_OK && targets)
    st = step_loss(t, targets, false, stats, err);
  else if (st == GESTA_STATUS_OK && output) {
    gesta_tensor o = gesta_trainer_value_tensor(t, t->model->output_node + 1);
    st = gesta_buffer_download(o.buffer, 0, t->host_output,
                               gesta_tensor_bytes(&o), err);
  }
  if (st == GESTA_STATUS_OK && output)
    memcpy(output, t->host_output,
           (size_t)(t->out_rows * t->out_cols) * sizeof(float));
  return st;
}

/* ---- accessors ---------------------------------------------------------- */

void gesta_trainer_set_grad_hook(gesta_trainer *t, gesta_grad_hook hook,
                                 void *user) {
  t->hook = hook;
  t->hook_user = user;
}

void gesta_trainer_set_learning_rate(gesta_trainer *t, double lr) {
  t->options.optim.learning_rate = lr;
}

const gesta_optim_config *gesta_trainer_optim(const gesta_trainer *t) {
  return &t->options.optim;
}

gesta_shape gesta_trainer_input_shape(const gesta_trainer *t) {
  return t->shapes[0];
}

gesta_shape gesta_trainer_output_shape(const gesta_trainer *t) {
  return t->shapes[t->model->output_node + 1];
}

size_t gesta_trainer_memory_bytes(const gesta_trainer *t) {
  size_t total = t->workspace ? t->workspace->size : 0;
  for (int v = 0; v <= t->model->n_nodes; v++) {
    total += t->values[v] ? t->values[v]->size : 0;
    total += t->value_grads[v] ? t->value_grads[v]->size : 0;
    total += t->saved[v] ? t->saved[v]->size : 0;
  }
  for (int i = 0; i < t->model->n_params; i++)
    total += t->params[i]->size + (t->grads[i] ? t->grads[i]->size : 0);
  for (int k = 0; k < t->n_state; k++)
    total += t->state[k]->size;
  for (int k = 0; k < GESTA_MAX_INPUTS; k++)
    total += t->scratch[k] ? t->scratch[k]->size : 0;
  return total;
}

int64_t gesta_trainer_step_count(const gesta_trainer *t) {
  return t->steps;
}

void gesta_trainer_set_step_count(gesta_trainer *t, int64_t steps) {
  t->steps = steps < 0 ? 0 : steps;
}

const gesta_tensor *gesta_trainer_grad(const gesta_trainer *t, int param) {
  if (param < 0 || param >= t->model->n_params || !t->grads[param])
    return NULL;
  return &t->grad_tensors[param];
}

gesta_status gesta_trainer_read_grad(gesta_trainer *t, int param, float *host,
                                     gesta_error *err) {
  const gesta_tensor *g = gesta_trainer_grad(t, param);
  if (!g)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "parameter %d has no gradient (it is not "
                           "trainable or does not reach the loss)",
                           param);
  return gesta_buffer_download(g->buffer, 0, host, gesta_tensor_bytes(g), err);
}

static gesta_status step_check_model(const gesta_trainer *t,
                                     const gesta_model *model,
                                     gesta_error *err) {
  if (model == t->model)
    return GESTA_STATUS_OK;
  if (model->n_params != t->model->n_params)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "model '%s' has %d parameters, the trainer's "
                           "model '%s' has %d",
                           model->name, model->n_params, t->model->name,
                           t->model->n_params);
  for (int i = 0; i < model->n_params; i++)
    if (!gesta_shape_equal(&model->params[i].spec.shape,
                           &t->model->params[i].spec.shape))
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "parameter '%s' does not have the shape of the "
                             "trainer's '%s'",
                             model->params[i].name, t->model->params[i].name);
  return GESTA_STATUS_OK;
}

gesta_status gesta_trainer_download_weights(gesta_trainer *t,
                                            gesta_model *model,
                                            gesta_error *err) {
  gesta_status st = step_check_model(t, model, err);
  for (int i = 0; i < model->n_params && st == GESTA_STATUS_OK; i++)
    st = gesta_buffer_download(t->params[i], 0, model->params[i].data,
                               gesta_tensor_bytes(&t->param_tensors[i]), err);
  return st;
}

gesta_status gesta_trainer_upload_weights(gesta_trainer *t,
                                          const gesta_model *model,
                                          gesta_error *err) {
  gesta_status st = step_check_model(t, model, err);
  for (int i = 0; i < model->n_params && st == GESTA_STATUS_OK; i++) {
    if (!model->params[i].data)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "model '%s' has no weights for '%s'", model->name,
                             model->params[i].name);
    st = gesta_buffer_upload(t->params[i], 0, model->params[i].data,
                             gesta_tensor_bytes(&t->param_tensors[i]), err);
  }
  return st;
}

int gesta_trainer_state_count(const gesta_trainer *t) {
  return t->n_state;
}

const char *gesta_trainer_state_name(const gesta_trainer *t, int i,
                                     gesta_shape *shape) {
  if (i < 0 || i >= t->n_state)
    return NULL;
  if (shape)
    *shape = t->state_tensors[i].shape;
  return t->state_names[i];
}

gesta_status gesta_trainer_state_read(gesta_trainer *t, int i, float *host,
                                      gesta_error *err) {
  if (i < 0 || i >= t->n_state)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "optimizer state %d is out of range (%d tensors)", i,
                           t->n_state);
  return gesta_buffer_download(t->state[i], 0, host,
                               gesta_tensor_bytes(&t->state_tensors[i]), err);
}

gesta_status gesta_trainer_state_write(gesta_trainer *t, int i,
                                       const float *host, gesta_error *err) {
  if (i < 0 || i >= t->n_state)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "optimizer state %d is out of range (%d tensors)", i,
                           t->n_state);
  return gesta_buffer_upload(t->state[i], 0, host,
                             gesta_tensor_bytes(&t->state_tensors[i]), err);
}
