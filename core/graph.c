/* The graph: resolving layer inputs, ordering, shape inference, parameter
 * lists, and the model's lifetime. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesta/model.h"

void gesta_model_free(gesta_model *model) {
  if (!model)
    return;
  for (int i = 0; i < model->n_classes; i++)
    free(model->classes[i]);
  free(model->classes);
  for (int i = 0; i < model->n_params; i++)
    free(model->params[i].data);
  free(model->params);
  free(model->nodes);
  free(model);
}

static int node_attr_lookup(const gesta_node *node, const char *name) {
  int index = gesta_op_attr_index(node->op->def, name);
  assert(index >= 0 && "op asked for an attribute it does not declare");
  return index;
}

int64_t gesta_node_attr_int(const gesta_node *node, const char *name) {
  return node->attrs[node_attr_lookup(node, name)].i[0];
}

void gesta_node_attr_pair(const gesta_node *node, const char *name,
                          int64_t out[2]) {
  const gesta_attr_value *v = &node->attrs[node_attr_lookup(node, name)];
  out[0] = v->i[0];
  out[1] = v->i[1];
}

double gesta_node_attr_float(const gesta_node *node, const char *name) {
  return node->attrs[node_attr_lookup(node, name)].f;
}

bool gesta_node_attr_bool(const gesta_node *node, const char *name) {
  return node->attrs[node_attr_lookup(node, name)].b;
}

int gesta_node_attr_enum(const gesta_node *node, const char *name) {
  return (int)node->attrs[node_attr_lookup(node, name)].i[0];
}

static gesta_status graph_error_at(const gesta_model *model,
                                   const gesta_node *node, gesta_mark mark,
                                   gesta_error *err, const char *what) {
  return gesta_error_set_at(err, GESTA_STATUS_BAD_INPUT, model->path, mark,
                            "in layer '%s': %s", node->name, what);
}

static int graph_find_node(const gesta_model *model, const char *name) {
  for (int i = 0; i < model->n_nodes; i++)
    if (strcmp(model->nodes[i].name, name) == 0)
      return i;
  return -1;
}

static gesta_status graph_resolve_inputs(gesta_model *model, gesta_error *err) {
  char what[512];
  for (int i = 0; i < model->n_nodes; i++) {
    gesta_node *node = &model->nodes[i];
    const gesta_op_def *def = node->op->def;
    if (node->n_inputs == 0) {
      node->inputs[0] = i - 1; /* the previous layer; -1 is the model input */
      node->n_inputs = 1;
      node->input_names[0][0] = '\0';
    } else {
      for (int k = 0; k < node->n_inputs; k++) {
        const char *name = node->input_names[k];
        int j = strcmp(name, model->input_name) == 0
                    ? -1
                    : graph_find_node(model, name);
        if (j == -1 && strcmp(name, model->input_name) != 0) {
          snprintf(what, sizeof what,
                   "unknown input '%s': no layer and not the model input "
                   "'%s'",
                   name, model->input_name);
          return graph_error_at(model, node, node->input_marks[k], err, what);
        }
        if (j == i) {
          snprintf(what, sizeof what, "a layer cannot be its own input");
          return graph_error_at(model, node, node->input_marks[k], err, what);
        }
        node->inputs[k] = j;
      }
    }
    if (node->n_inputs < def->min_inputs || node->n_inputs > def->max_inputs) {
      snprintf(what, sizeof what, "op %s takes %d to %d inputs, got %d",
               def->name, def->min_inputs, def->max_inputs, node->n_inputs);
      return graph_error_at(model, node, node->mark, err, what);
    }
  }
  return GESTA_STATUS_OK;
}

/* Kahn's algorithm, always taking the earliest ready layer so a model whose
 * file order is already valid keeps it. */
static gesta_status graph_sort(gesta_model *model, gesta_error *err) {
  int n = model->n_nodes;
  int *order = malloc(sizeof(int) * (size_t)n);
  int *position = malloc(sizeof(int) * (size_t)n);
  bool *placed = calloc((size_t)n, sizeof(bool));
  gesta_node *sorted = malloc(sizeof(gesta_node) * (size_t)n);
  gesta_status st = GESTA_STATUS_OK;
  if (!order || !position || !placed || !sorted) {
    st = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                         "out of memory ordering %d layers", n);
    goto done;
  }
  for (int count = 0; count < n; count++) {
    int pick = -1;
    for (int i = 0; i < n && pick < 0; i++) {
      bool ready = !placed[i];
      for (int k = 0; ready && k < model->nodes[i].n_inputs; k++) {
        int j = model->nodes[i].inputs[k];
        ready = j < 0 || placed[j];
      }
      if (ready)
        pick = i;
    }
    if (pick < 0) {
      for (int i = 0; i < n; i++)
        if (!placed[i]) {
          st =
              graph_error_at(model, &model->nodes[i], model->nodes[i].mark, err,
                             "its inputs form a cycle (a layer depends, "
                             "through its inputs, on itself)");
          goto done;
        }
    }
    placed[pick] = true;
    order[count] = pick;
    position[pick] = count;
  }
  for (int count = 0; count < n; count++) {
    sorted[count] = model->nodes[order[count]];
    for (int k = 0; k < sorted[count].n_inputs; k++)
      if (sorted[count].inputs[k] >= 0)
        sorted[count].inputs[k] = position[sorted[count].inputs[k]];
  }
  memcpy(model->nodes, sorted, sizeof(gesta_node) * (size_t)n);
done:
  free(order);
  free(position);
  free(placed);
  free(sorted);
  return st;
}

static gesta_status graph_find_output(gesta_model *model, gesta_error *err) {
  int output = -1;
  for (int i = 0; i < model->n_nodes; i++) {
    bool used = false;
    for (int j = 0; j < model->n_nodes && !used; j++)
      for (int k = 0; k < model->nodes[j].n_inputs; k++)
        used = used || model->nodes[j].inputs[k] == i;
    if (used)
      continue;
    if (output >= 0) {
      char what[512];
      snprintf(what, sizeof what,
               "neither this layer nor layer '%s' feeds another layer; a "
               "model has exactly one output",
               model->nodes[output].name);
      return graph_error_at(model, &model->nodes[i], model->nodes[i].mark, err,
                            what);
    }
    output = i;
  }
  model->output_node = output;
  return GESTA_STATUS_OK;
}

static gesta_status graph_infer_node(gesta_model *model, int index,
                                     gesta_error *err) {
  gesta_node *node = &model->nodes[index];
  const gesta_op_def *def = node->op->def;
  char what[512], a[96], b[96];
  int64_t steps = 0;
  gesta_shape out;
  gesta_status st;
  for (int k = 0; k < node->n_inputs; k++) {
    int j = node->inputs[k];
    gesta_shape in = j < 0 ? model->input_shape : model->nodes[j].output_shape;
    if (node->time_distributed) {
      if (in.rank < 2) {
        snprintf(what, sizeof what,
                 "time_distributed needs inputs of rank >= 2 (T, ...), got %s",
                 gesta_shape_format(&in, a, sizeof a));
        return graph_error_at(model, node, node->mark, err, what);
      }
      if (k > 0 && in.dims[0] != steps) {
        snprintf(what, sizeof what,
                 "time_distributed inputs disagree on T: %lld and %lld",
                 (long long)steps, (long long)in.dims[0]);
        return graph_error_at(model, node, node->mark, err, what);
      }
      steps = in.dims[0];
      in = gesta_shape_make(in.rank - 1, in.dims + 1);
    }
    node->input_shapes[k] = in;
  }
  memset(&out, 0, sizeof out);
  st = def->infer(node, node->input_shapes, node->n_inputs, &out, err);
  if (st != GESTA_STATUS_OK) {
    gesta_error_prefix(err, "%s:%d:%d: in layer '%s' (%s): ", model->path,
                       node->mark.line, node->mark.column, node->name,
                       def->name);
    return st;
  }
  if (node->time_distributed) {
    if (out.rank + 1 > GESTA_MAX_DIMS - 1) {
      snprintf(what, sizeof what,
               "time-distributed output %s has too many dimensions",
               gesta_shape_format(&out, a, sizeof a));
      return graph_error_at(model, node, node->mark, err, what);
    }
    memmove(out.dims + 1, out.dims, sizeof(int64_t) * (size_t)out.rank);
    out.dims[0] = steps;
    out.rank++;
  }
  if (out.rank > GESTA_MAX_DIMS - 1) {
    snprintf(what, sizeof what,
             "output %s has more than %d dimensions per sample",
             gesta_shape_format(&out, b, sizeof b), GESTA_MAX_DIMS - 1);
    return graph_error_at(model, node, node->mark, err, what);
  }
  node->output_shape = out;
  return GESTA_STATUS_OK;
}

static gesta_status graph_collect_params(gesta_model *model, gesta_error *err) {
  for (int i = 0; i < model->n_nodes; i++) {
    gesta_node *node = &model->nodes[i];
    gesta_param_spec specs[GESTA_MAX_PARAMS];
    gesta_param *grown;
    int n = 0;
    node->first_param = model->n_params;
    node->n_params = 0;
    if (!node->op->def->params)
      continue;
    memset(specs, 0, sizeof specs);
    if (node->op->def->params(node, node->input_shapes, specs, &n, err) !=
        GESTA_STATUS_OK) {
      gesta_error_prefix(err, "%s:%d:%d: in layer '%s' (%s): ", model->path,
                         node->mark.line, node->mark.column, node->name,
                         node->op->def->name);
      return err ? err->status : GESTA_STATUS_BAD_INPUT;
    }
    assert(n >= 0 && n <= GESTA_MAX_PARAMS);
    if (n == 0)
      continue;
    grown = realloc(model->params,
                    sizeof(gesta_param) * (size_t)(model->n_params + n));
    if (!grown)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory listing parameters");
    model->params = grown;
    for (int k = 0; k < n; k++) {
      gesta_param *p = &model->params[model->n_params + k];
      memset(p, 0, sizeof *p);
      snprintf(p->name, sizeof p->name, "%.63s.%.31s", node->name,
               specs[k].name);
      p->spec = specs[k];
      p->node = i;
      p->data = NULL;
    }
    model->n_params += n;
    node->n_params = n;
  }
  return GESTA_STATUS_OK;
}

gesta_status gesta_model_finalize(gesta_model *model, gesta_error *err) {
  gesta_status st;
  if (model->n_nodes == 0)
    return gesta_error_set_at(err, GESTA_STATUS_BAD_INPUT, model->path,
                              (gesta_mark){0, 0}, "the model has no layers");
  if ((st = graph_resolve_inputs(model, err)) != GESTA_STATUS_OK ||
      (st = graph_sort(model, err)) != GESTA_STATUS_OK ||
      (st = graph_find_output(model, err)) != GESTA_STATUS_OK)
    return st;
  for (int i = 0; i < model->n_nodes; i++)
    if ((st = graph_infer_node(model, i, err)) != GESTA_STATUS_OK)
      return st;
  for (int i = 0; i < model->n_params; i++)
    free(model->params[i].data);
  free(model->params);
  model->params = NULL;
  model->n_params = 0;
  return graph_collect_params(model, err);
}

int64_t gesta_node_param_count(const gesta_model *model, int node) {
  int64_t total = 0;
  const gesta_node *n = &model->nodes[node];
  for (int k = 0; k < n->n_params; k++)
    total += gesta_shape_count(&model->params[n->first_param + k].spec.shape);
  return total;
}

gesta_param_counts gesta_model_count_params(const gesta_model *model) {
  gesta_param_counts c = {0, 0, 0};
  for (int i = 0; i < model->n_params; i++) {
    int64_t n = gesta_shape_count(&model->params[i].spec.shape);
    c.total += n;
    if (model->params[i].spec.trainable)
      c.trainable += n;
    else
      c.non_trainable += n;
  }
  return c;
}
