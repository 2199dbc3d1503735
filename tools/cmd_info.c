/* gesta info: a Keras-like summary of a model, or the list of ops. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char info_usage[] = "gesta info [OPTIONS] MODEL.yaml\n"
                                 "       gesta info --ops [--json]";

static const char info_help[] =
    "Describes a model: its input, every layer with its output shape and\n"
    "parameter count, the totals as Keras reports them, the classes, the\n"
    "preprocessing and whether its weights file is there. With --ops, lists\n"
    "every op this build knows and its attributes.\n"
    "\n"
    "MODEL is a model file, or the name of a bundled model (lrcn, cnn).\n"
    "\n"
    "Options:\n"
    "      --json              print one JSON object instead of the table\n"
    "      --ops               list the ops compiled in, with their "
    "attributes\n" CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta info models/lrcn.yaml\n"
    "  gesta info --json models/cnn.yaml\n"
    "  gesta info --ops\n"
    "\n" CLI_EXIT_CODES_HELP;

enum { INFO_OPT_JSON = 256, INFO_OPT_OPS };

/* Bounds a schema leaves open are written as huge values or infinities. */
static bool info_bound_open(double v) {
  return isinf(v) || fabs(v) >= 1e15;
}

static const char *info_attr_type_name(gesta_attr_type type) {
  switch (type) {
  case GESTA_ATTR_INT:
    return "int";
  case GESTA_ATTR_FLOAT:
    return "float";
  case GESTA_ATTR_BOOL:
    return "bool";
  case GESTA_ATTR_ENUM:
    return "enum";
  case GESTA_ATTR_PAIR:
    return "pair";
  }
  return "?";
}

static bool info_attr_has_bounds(const gesta_attr_def *a) {
  if (a->type != GESTA_ATTR_INT && a->type != GESTA_ATTR_FLOAT &&
      a->type != GESTA_ATTR_PAIR)
    return false;
  return !(a->min == 0 && a->max == 0) &&
         !(info_bound_open(a->min) && info_bound_open(a->max));
}

static char *info_attr_bounds(const gesta_attr_def *a, char *buf, size_t size) {
  buf[0] = '\0';
  if (!info_attr_has_bounds(a))
    return buf;
  if (info_bound_open(a->max))
    snprintf(buf, size, ">= %.10g", a->min);
  else if (info_bound_open(a->min))
    snprintf(buf, size, "<= %.10g", a->max);
  else
    snprintf(buf, size, "%.10g..%.10g", a->min, a->max);
  return buf;
}

static void info_print_ops(void) {
  for (int i = 0; i < gesta_op_count(); i++) {
    const gesta_op_entry *e = gesta_op_at(i);
    const gesta_op_def *d = e->def;
    printf("%s: %s\n", d->name, d->summary ? d->summary : "");
    if (d->min_inputs == d->max_inputs)
      printf("  inputs: %d", d->min_inputs);
    else
      printf("  inputs: %d..%d", d->min_inputs, d->max_inputs);
    printf("; time_distributed: %s; kernels: cpu %s, opencl %s\n",
           d->allows_time_distributed ? "allowed" : "no",
           e->kernels[GESTA_BACKEND_CPU] ? "yes" : "no (falls back)",
           e->kernels[GESTA_BACKEND_OPENCL] ? "yes" : "no (falls back)");
    if (d->n_attrs == 0)
      printf("  no attributes\n");
    for (int k = 0; k < d->n_attrs; k++) {
      const gesta_attr_def *a = &d->attrs[k];
      char bounds[96];
      printf("  %s (%s", a->name, info_attr_type_name(a->type));
      if (a->required)
        printf(", required");
      else if (a->default_value)
        printf(", default %s", a->default_value);
      if (a->type == GESTA_ATTR_ENUM && a->choices)
        printf(", one of %s", a->choices);
      else if (info_attr_has_bounds(a))
        printf(", %s", info_attr_bounds(a, bounds, sizeof bounds));
      printf(")%s%s\n", a->doc ? ": " : "", a->doc ? a->doc : "");
    }
  }
}

static cJSON *info_ops_json(void) {
  cJSON *root = cJSON_CreateObject();
  cJSON *ops = cJSON_AddArrayToObject(root, "ops");
  for (int i = 0; i < gesta_op_count(); i++) {
    const gesta_op_entry *e = gesta_op_at(i);
    const gesta_op_def *d = e->def;
    cJSON *op = cJSON_CreateObject();
    cJSON *kernels, *attrs;
    cJSON_AddStringToObject(op, "name", d->name);
    cJSON_AddStringToObject(op, "summary", d->summary ? d->summary : "");
    cJSON_AddNumberToObject(op, "min_inputs", d->min_inputs);
    cJSON_AddNumberToObject(op, "max_inputs", d->max_inputs);
    cJSON_AddBoolToObject(op, "time_distributed", d->allows_time_distributed);
    kernels = cJSON_AddObjectToObject(op, "kernels");
    cJSON_AddBoolToObject(kernels, "cpu",
                          e->kernels[GESTA_BACKEND_CPU] != NULL);
    cJSON_AddBoolToObject(kernels, "opencl",
                          e->kernels[GESTA_BACKEND_OPENCL] != NULL);
    attrs = cJSON_AddArrayToObject(op, "attributes");
    for (int k = 0; k < d->n_attrs; k++) {
      const gesta_attr_def *a = &d->attrs[k];
      cJSON *attr = cJSON_CreateObject();
      cJSON_AddStringToObject(attr, "name", a->name);
      cJSON_AddStringToObject(attr, "type", info_attr_type_name(a->type));
      cJSON_AddBoolToObject(attr, "required", a->required);
      if (!a->required && a->default_value)
        cJSON_AddStringToObject(attr, "default", a->default_value);
      if (a->type == GESTA_ATTR_ENUM && a->choices)
        cJSON_AddStringToObject(attr, "choices", a->choices);
      if (info_attr_has_bounds(a)) {
        if (!info_bound_open(a->min))
          cJSON_AddNumberToObject(attr, "min", a->min);
        if (!info_bound_open(a->max))
          cJSON_AddNumberToObject(attr, "max", a->max);
      }
      cJSON_AddStringToObject(attr, "doc", a->doc ? a->doc : "");
      cJSON_AddItemToArray(attrs, attr);
    }
    cJSON_AddItemToArray(ops, op);
  }
  return root;
}

/* A layer whose input is not simply the layer before it (or the model
 * input, for the first) makes the summary show a "Connected to" column. */
static bool info_is_sequential(const gesta_model *m) {
  for (int i = 0; i < m->n_nodes; i++)
    if (m->nodes[i].n_inputs != 1 || m->nodes[i].inputs[0] != i - 1)
      return false;
  return true;
}

static char *info_layer_label(const gesta_node *n, char *buf, size_t size) {
  snprintf(buf, size, "%s (%s%s)", n->name, n->op->def->name,
           n->time_distributed ? ", time_distributed" : "");
  return buf;
}

static char *info_connections(const gesta_model *m, const gesta_node *n,
                              char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int k = 0; k < n->n_inputs && used < size; k++) {
    const char *src =
        n->inputs[k] < 0 ? m->input_name : m->nodes[n->inputs[k]].name;
    used +=
        (size_t)snprintf(buf + used, size - used, "%s%s", k ? ", " : "", src);
  }
  return buf;
}

static void info_rule(char c, int width) {
  for (int i = 0; i < width; i++)
    putchar(c);
  putchar('\n');
}

static const char *info_channels_name(gesta_channel_order c) {
  switch (c) {
  case GESTA_CHANNELS_BGR:
    return "bgr";
  case GESTA_CHANNELS_RGB:
    return "rgb";
  case GESTA_CHANNELS_GRAY:
    return "gray";
  }
  return "?";
}

static const char *info_sampling_name(gesta_sampling s) {
  return s == GESTA_SAMPLING_WINDOW ? "window" : "uniform";
}

static void info_print_model(const gesta_model *m) {
  gesta_param_counts counts = gesta_model_count_params(m);
  bool sequential = info_is_sequential(m);
  int w_layer = (int)strlen("Layer (type)"),
      w_shape = (int)strlen("Output Shape"), w_param = (int)strlen("Param #"),
      w_conn = (int)strlen("Connected to");
  int width;
  char a[256], b[256], c[64], d[64];

  for (int i = 0; i < m->n_nodes; i++) {
    const gesta_node *n = &m->nodes[i];
    int l = (int)strlen(info_layer_label(n, a, sizeof a));
    int s = (int)strlen(
        cli_format_batch_shape(&n->output_shape, "None", b, sizeof b));
    int p = (int)strlen(
        cli_format_count(gesta_node_param_count(m, i), c, sizeof c));
    int k = (int)strlen(info_connections(m, n, a, sizeof a));
    w_layer = l > w_layer ? l : w_layer;
    w_shape = s > w_shape ? s : w_shape;
    w_param = p > w_param ? p : w_param;
    w_conn = k > w_conn ? k : w_conn;
  }
  width = 1 + w_layer + 3 + w_shape + 3 + w_param + 1;
  if (!sequential)
    width += 3 + w_conn;

  printf("Model: \"%s\" (%s)\n", m->name, m->path);
  printf("Input: %s %s\n", m->input_name,
         cli_format_batch_shape(&m->input_shape, "None", b, sizeof b));
  info_rule('_', width);
  printf(" %-*s   %-*s   %*s", w_layer, "Layer (type)", w_shape, "Output Shape",
         w_param, "Param #");
  if (!sequential)
    printf("   %s", "Connected to");
  putchar('\n');
  info_rule('=', width);
  for (int i = 0; i < m->n_nodes; i++) {
    const gesta_node *n = &m->nodes[i];
    printf(
        " %-*s   %-*s   %*s", w_layer, info_layer_label(n, a, sizeof a),
        w_shape, cli_format_batch_shape(&n->output_shape, "None", b, sizeof b),
        w_param, cli_format_count(gesta_node_param_count(m, i), c, sizeof c));
    if (!sequential)
      printf("   %s", info_connections(m, n, a, sizeof a));
    putchar('\n');
  }
  info_rule('=', width);
  printf("Total params: %s (%s)\n", cli_format_count(counts.total, c, sizeof c),
         cli_format_bytes(4.0 * (double)counts.total, d, sizeof d));
  printf("Trainable params: %s (%s)\n",
         cli_format_count(counts.trainable, c, sizeof c),
         cli_format_bytes(4.0 * (double)counts.trainable, d, sizeof d));
  printf("Non-trainable params: %s (%s)\n",
         cli_format_count(counts.non_trainable, c, sizeof c),
         cli_format_bytes(4.0 * (double)counts.non_trainable, d, sizeof d));
  info_rule('_', width);

  printf("Output: %s %s\n", m->nodes[m->output_node].name,
         cli_format_batch_shape(&m->nodes[m->output_node].output_shape, "None",
                                b, sizeof b));
  printf("Classes (%d):", m->n_classes);
  for (int i = 0; i < m->n_classes; i++)
    printf("%s %s", i ? "," : "", m->classes[i]);
  printf("%s\n", m->n_classes ? "" : " none declared");
  if (m->has_preprocess) {
    const gesta_preprocess *p = &m->preprocess;
    printf("Preprocess: %" PRId64 " frames sampled %s, resized to %" PRId64
           "x%" PRId64 " (height x width), channels %s, pixels times %.9g%s\n",
           p->frames, info_sampling_name(p->sampling), p->height, p->width,
           info_channels_name(p->channels), p->scale,
           fabs(p->scale * 255.0 - 1.0) < 1e-9 ? " (1/255)" : "");
  } else {
    printf("Preprocess: none declared\n");
  }
  if (!m->weights_path[0])
    printf("Weights: none declared (pass --weights to gesta run)\n");
  else if (cli_file_exists(m->weights_path))
    printf("Weights: %s\n", m->weights_path);
  else
    printf("Weights: %s (not there yet: train the model, or make random "
           "weights with 'gesta init %s -o FILE')\n",
           m->weights_path, m->path);
}

static cJSON *info_shape_json(const gesta_shape *shape, bool batch) {
  cJSON *arr = cJSON_CreateArray();
  if (batch)
    cJSON_AddItemToArray(arr, cJSON_CreateNull());
  for (int i = 0; i < shape->rank; i++)
    cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)shape->dims[i]));
  return arr;
}

static cJSON *info_model_json(const gesta_model *m) {
  gesta_param_counts counts = gesta_model_count_params(m);
  cJSON *root = cJSON_CreateObject();
  cJSON *input, *layers, *classes, *weights;

  cJSON_AddStringToObject(root, "name", m->name);
  cJSON_AddStringToObject(root, "file", m->path);
  cJSON_AddNumberToObject(root, "format", m->format_version);
  input = cJSON_AddObjectToObject(root, "input");
  cJSON_AddStringToObject(input, "name", m->input_name);
  cJSON_AddItemToObject(input, "shape", info_shape_json(&m->input_shape, true));
  layers = cJSON_AddArrayToObject(root, "layers");
  for (int i = 0; i < m->n_nodes; i++) {
    const gesta_node *n = &m->nodes[i];
    cJSON *layer = cJSON_CreateObject();
    cJSON *inputs = cJSON_CreateArray(), *params = cJSON_CreateArray();
    cJSON_AddStringToObject(layer, "name", n->name);
    cJSON_AddStringToObject(layer, "op", n->op->def->name);
    cJSON_AddBoolToObject(layer, "time_distributed", n->time_distributed);
    for (int k = 0; k < n->n_inputs; k++)
      cJSON_AddItemToArray(
          inputs,
          cJSON_CreateString(n->inputs[k] < 0 ? m->input_name
                                              : m->nodes[n->inputs[k]].name));
    cJSON_AddItemToObject(layer, "inputs", inputs);
    cJSON_AddItemToObject(layer, "output_shape",
                          info_shape_json(&n->output_shape, true));
    cJSON_AddNumberToObject(layer, "params",
                            (double)gesta_node_param_count(m, i));
    for (int p = n->first_param; p < n->first_param + n->n_params; p++) {
      const gesta_param *param = &m->params[p];
      cJSON *pj = cJSON_CreateObject();
      cJSON_AddStringToObject(pj, "name", param->name);
      cJSON_AddItemToObject(pj, "shape",
                            info_shape_json(&param->spec.shape, false));
      cJSON_AddBoolToObject(pj, "trainable", param->spec.trainable);
      cJSON_AddItemToArray(params, pj);
    }
    cJSON_AddItemToObject(layer, "parameters", params);
    cJSON_AddItemToArray(layers, layer);
  }
  cJSON_AddStringToObject(root, "output", m->nodes[m->output_node].name);
  cJSON_AddNumberToObject(root, "total_params", (double)counts.total);
  cJSON_AddNumberToObject(root, "trainable_params", (double)counts.trainable);
  cJSON_AddNumberToObject(root, "non_trainable_params",
                          (double)counts.non_trainable);
  cJSON_AddNumberToObject(root, "param_bytes", 4.0 * (double)counts.total);
  classes = cJSON_AddArrayToObject(root, "classes");
  for (int i = 0; i < m->n_classes; i++)
    cJSON_AddItemToArray(classes, cJSON_CreateString(m->classes[i]));
  if (m->has_preprocess) {
    const gesta_preprocess *p = &m->preprocess;
    cJSON *pj = cJSON_AddObjectToObject(root, "preprocess");
    cJSON *size = cJSON_AddArrayToObject(pj, "size");
    cJSON_AddItemToArray(size, cJSON_CreateNumber((double)p->height));
    cJSON_AddItemToArray(size, cJSON_CreateNumber((double)p->width));
    cJSON_AddStringToObject(pj, "channels", info_channels_name(p->channels));
    cJSON_AddNumberToObject(pj, "scale", p->scale);
    cJSON_AddStringToObject(pj, "sampling", info_sampling_name(p->sampling));
    cJSON_AddNumberToObject(pj, "frames", (double)p->frames);
  } else {
    cJSON_AddNullToObject(root, "preprocess");
  }
  weights = cJSON_AddObjectToObject(root, "weights");
  if (m->weights_path[0])
    cJSON_AddStringToObject(weights, "path", m->weights_path);
  else
    cJSON_AddNullToObject(weights, "path");
  cJSON_AddBoolToObject(weights, "exists", cli_file_exists(m->weights_path));
  return root;
}

static int info_print_json(cJSON *root) {
  char *text = root ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (!text) {
    fprintf(stderr, "gesta: error: out of memory while writing JSON\n");
    return CLI_EXIT_FAILURE;
  }
  printf("%s\n", text);
  cJSON_free(text);
  return CLI_EXIT_OK;
}

static int cmd_info_main(int argc, char **argv) {
  static const struct option options[] = {
      {"json", no_argument, NULL, INFO_OPT_JSON},
      {"ops", no_argument, NULL, INFO_OPT_OPS},
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  cli_common common;
  bool json = false, ops = false;
  gesta_model *model = NULL;
  gesta_error err;
  int c, rc;

  cli_common_init(&common, "info", info_usage);
  cli_getopt_begin(&common, argv);
  while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT_OPTIONS, options,
                          NULL)) != -1) {
    switch (c) {
    case INFO_OPT_JSON:
      json = true;
      break;
    case INFO_OPT_OPS:
      ops = true;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", info_usage, info_help);
      return CLI_EXIT_OK;
    default:
      if (!cli_common_option(&common, c))
        return cli_usage_hint(&common);
    }
  }
  if (ops) {
    if (optind < argc)
      return cli_usage_error(&common, "--ops takes no model (got '%s')",
                             argv[optind]);
    if (json)
      return info_print_json(info_ops_json());
    info_print_ops();
    return CLI_EXIT_OK;
  }
  if (optind >= argc)
    return cli_usage_error(&common, "missing MODEL.yaml");
  if (argc - optind > 1)
    return cli_usage_error(&common, "one model at a time (got '%s' and '%s')",
                           argv[optind], argv[optind + 1]);

  gesta_error_clear(&err);
  if (cli_load_model(&common, argv[optind], &model, &err) != GESTA_STATUS_OK)
    return cli_report(&common, &err);
  if (json) {
    rc = info_print_json(info_model_json(model));
  } else {
    info_print_model(model);
    rc = CLI_EXIT_OK;
  }
  gesta_model_free(model);
  return rc;
}

const cli_command cli_command_info = {
    .name = "info",
    .summary = "describe a model: layers, shapes, parameters; or list the ops",
    .main = cmd_info_main,
};
