/* The model YAML loader: libyaml's document API turns the text into a node
 * tree, this file checks every key against the schema in
 * docs/model-format.md and fills a gesta_model, then gesta_model_finalize()
 * wires the graph and infers shapes. Every user mistake becomes an error
 * that starts with "file:line:column: ". */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "gesta/model.h"
#include "yaml_util.h"

/* Bounds for sizes written by hand; they keep every later product of
 * dimensions far from int64 overflow. */
#define MODEL_DIM_MAX ((int64_t)1 << 24)
#define MODEL_SAMPLE_MAX ((int64_t)1 << 32)
#define MODEL_FILE_MAX ((size_t)64 << 20)
#define MODEL_DEFAULT_FRAMES 20

static const char *const model_top_keys[] = {
    "gesta", "name", "classes", "input", "preprocess", "weights", "layers"};
static const char *const model_input_keys[] = {"name", "shape"};
static const char *const model_preprocess_keys[] = {"size", "channels", "scale",
                                                    "sampling", "frames"};
static const char *const model_layer_keys[] = {"name", "op", "inputs",
                                               "time_distributed"};
#define MODEL_N_LAYER_KEYS 4
#define MODEL_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Parameter names are "<layer>.<param>", so a layer name must not contain
 * '.', and tools print names unquoted. */
static bool model_name_is_valid(const char *name) {
  if (!*name)
    return false;
  for (const char *p = name; *p; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static gesta_status model_read_name(gesta_yaml_reader *r, const char *key,
                                    const yaml_node_t *value, char *out) {
  gesta_status st = gesta_yaml_get_string(r, key, value, out, GESTA_NAME_MAX);
  if (st != GESTA_STATUS_OK)
    return st;
  if (!model_name_is_valid(out))
    return gesta_yaml_fail(r, value,
                           "key '%s' must use only letters, digits, '_' and "
                           "'-', got '%s'",
                           key, out);
  return GESTA_STATUS_OK;
}

static gesta_status model_missing(gesta_yaml_reader *r, const yaml_node_t *map,
                                  const char *key) {
  return gesta_yaml_fail(r, map, "missing required key '%s'", key);
}

static gesta_status model_parse_input(gesta_yaml_reader *r, gesta_model *m,
                                      const yaml_node_t *map) {
  int64_t dims[GESTA_MAX_DIMS];
  int64_t count = 1;
  int rank;
  yaml_node_t *v;
  gesta_status st = gesta_yaml_check_mapping(r, map, "key 'input'");
  if (st != GESTA_STATUS_OK)
    return st;
  snprintf(r->where, sizeof r->where, "in 'input': ");
  if ((st = gesta_yaml_check_keys(r, map, model_input_keys,
                                  MODEL_COUNT(model_input_keys))) !=
      GESTA_STATUS_OK)
    return st;
  strcpy(m->input_name, "input");
  if ((v = gesta_yaml_lookup(r, map, "name", NULL)) &&
      (st = model_read_name(r, "name", v, m->input_name)) != GESTA_STATUS_OK)
    return st;
  if (!(v = gesta_yaml_lookup(r, map, "shape", NULL)))
    return model_missing(r, map, "shape");
  if ((st = gesta_yaml_get_ints(r, "shape", v, 1, 4, 1, MODEL_DIM_MAX, dims,
                                &rank)) != GESTA_STATUS_OK)
    return st;
  for (int i = 0; i < rank; i++) {
    count *= dims[i];
    if (count > MODEL_SAMPLE_MAX)
      return gesta_yaml_fail(r, v,
                             "key 'shape' describes more than %lld values per "
                             "sample",
                             (long long)MODEL_SAMPLE_MAX);
  }
  m->input_shape.rank = rank;
  memcpy(m->input_shape.dims, dims, (size_t)rank * sizeof dims[0]);
  r->where[0] = '\0';
  return GESTA_STATUS_OK;
}

/* What the video pipeline makes must be what the input expects, so the
 * frame size, channel count and clip length are checked against it. */
static gesta_status model_check_preprocess(gesta_yaml_reader *r,
                                           const gesta_model *m,
                                           const yaml_node_t *map) {
  const gesta_shape *in = &m->input_shape;
  const gesta_preprocess *p = &m->preprocess;
  yaml_node_t *v;
  int64_t channels = p->channels == GESTA_CHANNELS_GRAY ? 1 : 3;
  if (in->rank < 3)
    return gesta_yaml_fail(r, map,
                           "preprocessing makes frames (H, W, C) or clips "
                           "(T, H, W, C), but the input shape has rank %d",
                           in->rank);
  if (p->height != in->dims[in->rank - 3] || p->width != in->dims[in->rank - 2])
    return gesta_yaml_fail(r, gesta_yaml_lookup(r, map, "size", NULL),
                           "key 'size' is [%lld, %lld] but the input shape "
                           "holds frames of [%lld, %lld]",
                           (long long)p->height, (long long)p->width,
                           (long long)in->dims[in->rank - 3],
                           (long long)in->dims[in->rank - 2]);
  if (channels != in->dims[in->rank - 1]) {
    v = gesta_yaml_lookup(r, map, "channels", NULL);
    return gesta_yaml_fail(r, v ? v : map,
                           "channels %s give %lld value(s) per pixel but the "
                           "input shape's last dimension is %lld",
                           channels == 1 ? "'gray'" : "'bgr'/'rgb'",
                           (long long)channels,
                           (long long)in->dims[in->rank - 1]);
  }
  if (in->rank == 4 && p->frames != in->dims[0])
    return gesta_yaml_fail(r, gesta_yaml_lookup(r, map, "frames", NULL),
                           "key 'frames' is %lld but the input shape holds "
                           "clips of %lld frames",
                           (long long)p->frames, (long long)in->dims[0]);
  return GESTA_STATUS_OK;
}

static gesta_status model_parse_preprocess(gesta_yaml_reader *r, gesta_model *m,
                                           const yaml_node_t *map) {
  gesta_preprocess *p = &m->preprocess;
  int64_t size[2];
  int n, choice;
  yaml_node_t *v;
  gesta_status st = gesta_yaml_check_mapping(r, map, "key 'preprocess'");
  if (st != GESTA_STATUS_OK)
    return st;
  snprintf(r->where, sizeof r->where, "in 'preprocess': ");
  if ((st = gesta_yaml_check_keys(r, map, model_preprocess_keys,
                                  MODEL_COUNT(model_preprocess_keys))) !=
      GESTA_STATUS_OK)
    return st;
  if (!(v = gesta_yaml_lookup(r, map, "size", NULL)))
    return model_missing(r, map, "size");
  if ((st = gesta_yaml_get_ints(r, "size", v, 2, 2, 1, MODEL_DIM_MAX, size,
                                &n)) != GESTA_STATUS_OK)
    return st;
  p->height = size[0];
  p->width = size[1];
  p->channels = GESTA_CHANNELS_BGR;
  if ((v = gesta_yaml_lookup(r, map, "channels", NULL))) {
    if ((st = gesta_yaml_get_enum(r, "channels", v, "bgr|rgb|gray", &choice)) !=
        GESTA_STATUS_OK)
      return st;
    p->channels = (gesta_channel_order)choice;
  }
  p->scale = 1.0 / 255.0;
  if ((v = gesta_yaml_lookup(r, map, "scale", NULL))) {
    if ((st = gesta_yaml_get_number(r, "scale", v, -HUGE_VAL, HUGE_VAL,
                                    &p->scale)) != GESTA_STATUS_OK)
      return st;
    if (p->scale <= 0.0)
      return gesta_yaml_fail(r, v, "key 'scale' must be greater than 0");
  }
  p->sampling = GESTA_SAMPLING_UNIFORM;
  if ((v = gesta_yaml_lookup(r, map, "sampling", NULL))) {
    if ((st = gesta_yaml_get_enum(r, "sampling", v, "uniform|window",
                                  &choice)) != GESTA_STATUS_OK)
      return st;
    p->sampling = (gesta_sampling)choice;
  }
  p->frames =
      m->input_shape.rank == 4 ? m->input_shape.dims[0] : MODEL_DEFAULT_FRAMES;
  if ((v = gesta_yaml_lookup(r, map, "frames", NULL)) &&
      (st = gesta_yaml_get_int(r, "frames", v, 1, MODEL_DIM_MAX, &p->frames)) !=
          GESTA_STATUS_OK)
    return st;
  if ((st = model_check_preprocess(r, m, map)) != GESTA_STATUS_OK)
    return st;
  m->has_preprocess = true;
  r->where[0] = '\0';
  return GESTA_STATUS_OK;
}

static gesta_status model_parse_weights(gesta_yaml_reader *r, gesta_model *m,
                                        const yaml_node_t *v,
                                        const char *base_dir) {
  const char *text;
  int n;
  gesta_status st = gesta_yaml_get_text(r, "weights", v, &text);
  if (st != GESTA_STATUS_OK)
    return st;
  if (text[0] == '/' || !base_dir || !*base_dir)
    n = snprintf(m->weights_path, sizeof m->weights_path, "%s", text);
  else
    n = snprintf(m->weights_path, sizeof m->weights_path, "%s%s%s", base_dir,
                 base_dir[strlen(base_dir) - 1] == '/' ? "" : "/", text);
  if (n < 0 || (size_t)n >= sizeof m->weights_path)
    return gesta_yaml_fail(r, v,
                           "key 'weights' makes a path longer than %d "
                           "characters",
                           GESTA_PATH_MAX - 1);
  return GESTA_STATUS_OK;
}

static gesta_status model_parse_classes(gesta_yaml_reader *r, gesta_model *m,
                                        const yaml_node_t *v) {
  yaml_node_item_t *items;
  int n;
  if (v->type != YAML_SEQUENCE_NODE)
    return gesta_yaml_fail(r, v,
                           "key 'classes' must be a list of names, got %s",
                           gesta_yaml_kind(v));
  items = v->data.sequence.items.start;
  n = (int)(v->data.sequence.items.top - items);
  m->classes = calloc(n > 0 ? (size_t)n : 1, sizeof *m->classes);
  if (!m->classes)
    return gesta_error_set(r->err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory reading %d class names", n);
  m->n_classes = n;
  for (int i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(r->doc, items[i]);
    const char *text;
    size_t len;
    gesta_status st = gesta_yaml_get_text(r, "classes", item, &text);
    if (st != GESTA_STATUS_OK)
      return st;
    for (int j = 0; j < i; j++)
      if (!strcmp(m->classes[j], text))
        return gesta_yaml_fail(
            r, item, "class '%s' is listed twice (first at line %d)", text,
            gesta_yaml_mark(yaml_document_get_node(r->doc, items[j])).line);
    len = strlen(text);
    if (!(m->classes[i] = malloc(len + 1)))
      return gesta_error_set(r->err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory reading class names");
    memcpy(m->classes[i], text, len + 1);
  }
  return GESTA_STATUS_OK;
}

static gesta_status model_unknown_op(gesta_yaml_reader *r, const yaml_node_t *v,
                                     const char *text) {
  const char *names[128];
  int n = gesta_op_count() < 128 ? gesta_op_count() : 128;
  for (int i = 0; i < n; i++)
    names[i] = gesta_op_at(i)->def->name;
  return gesta_yaml_unknown(r, v, "op", text, names, n);
}

static gesta_status model_parse_inputs(gesta_yaml_reader *r, gesta_node *node,
                                       const yaml_node_t *v) {
  const gesta_op_def *def = node->op->def;
  yaml_node_item_t *items = NULL;
  int n = 1;
  if (v->type == YAML_SEQUENCE_NODE) {
    items = v->data.sequence.items.start;
    n = (int)(v->data.sequence.items.top - items);
  } else if (v->type != YAML_SCALAR_NODE) {
    return gesta_yaml_fail(r, v,
                           "key 'inputs' must be a layer name or a list of "
                           "names, got %s",
                           gesta_yaml_kind(v));
  }
  if (n == 0)
    return gesta_yaml_fail(r, v,
                           "key 'inputs' is empty; leave it out to read "
                           "the previous layer");
  if (n > GESTA_MAX_INPUTS)
    return gesta_yaml_fail(r, v,
                           "key 'inputs' lists %d layers, at most %d "
                           "are allowed",
                           n, GESTA_MAX_INPUTS);
  if (def->max_inputs > 0 && (n < def->min_inputs || n > def->max_inputs))
    return gesta_yaml_fail(r, v, "op %s takes %d to %d input(s), got %d",
                           def->name, def->min_inputs, def->max_inputs, n);
  for (int i = 0; i < n; i++) {
    const yaml_node_t *item =
        items ? yaml_document_get_node(r->doc, items[i]) : v;
    gesta_status st = gesta_yaml_get_string(
        r, "inputs", item, node->input_names[i], GESTA_NAME_MAX);
    if (st != GESTA_STATUS_OK)
      return st;
    node->input_marks[i] = gesta_yaml_mark(item);
  }
  node->n_inputs = n;
  return GESTA_STATUS_OK;
}

/* A list value reaches gesta_attr_parse() as the text "[a, b]". */
static gesta_status model_attr_text(gesta_yaml_reader *r, const char *key,
                                    const yaml_node_t *v, char *buf,
                                    size_t size, const char **text) {
  size_t used = 1;
  if (v->type == YAML_SCALAR_NODE)
    return gesta_yaml_get_text(r, key, v, text);
  if (v->type != YAML_SEQUENCE_NODE)
    return gesta_yaml_fail(r, v, "key '%s' must be a value or a list, got %s",
                           key, gesta_yaml_kind(v));
  strcpy(buf, "[");
  for (yaml_node_item_t *it = v->data.sequence.items.start;
       it < v->data.sequence.items.top; it++) {
    const yaml_node_t *item = yaml_document_get_node(r->doc, *it);
    const char *part;
    gesta_status st = gesta_yaml_get_text(r, key, item, &part);
    if (st != GESTA_STATUS_OK)
      return st;
    used +=
        (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                         it == v->data.sequence.items.start ? "" : ", ", part);
  }
  used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "]");
  if (used >= size)
    return gesta_yaml_fail(r, v, "key '%s' is too long", key);
  *text = buf;
  return GESTA_STATUS_OK;
}

static gesta_status model_parse_attrs(gesta_yaml_reader *r, gesta_node *node,
                                      const yaml_node_t *layer) {
  const gesta_op_def *def = node->op->def;
  for (int i = 0; i < def->n_attrs; i++) {
    const gesta_attr_def *ad = &def->attrs[i];
    const yaml_node_t *v = gesta_yaml_lookup(r, layer, ad->name, NULL);
    gesta_error parse_err;
    char buf[256];
    const char *text;
    gesta_status st;
    memset(&parse_err, 0, sizeof parse_err);
    if (v) {
      if ((st = model_attr_text(r, ad->name, v, buf, sizeof buf, &text)) !=
          GESTA_STATUS_OK)
        return st;
      /* gesta_attr_parse() names the attribute: "'filters' must be ...". */
      if (gesta_attr_parse(ad, text, &node->attrs[i], &parse_err) !=
          GESTA_STATUS_OK)
        return gesta_yaml_fail(r, v, "key %s", parse_err.message);
      node->attr_given[i] = true;
      node->attr_marks[i] = gesta_yaml_mark(v);
    } else if (ad->required) {
      return gesta_yaml_fail(r, layer,
                             "missing required attribute '%s' of op %s",
                             ad->name, def->name);
    } else if (ad->default_value &&
               gesta_attr_parse(ad, ad->default_value, &node->attrs[i],
                                &parse_err) != GESTA_STATUS_OK) {
      return gesta_error_set(r->err, GESTA_STATUS_INTERNAL,
                             "op %s: the default of attribute '%s' is "
                             "invalid: %s",
                             def->name, ad->name, parse_err.message);
    }
  }
  return GESTA_STATUS_OK;
}

static gesta_status model_parse_layer(gesta_yaml_reader *r, gesta_model *m,
                                      int index, const yaml_node_t *layer) {
  gesta_node *node = &m->nodes[index];
  const char *allowed[MODEL_N_LAYER_KEYS + GESTA_MAX_ATTRS];
  const gesta_op_def *def;
  const char *text;
  yaml_node_t *v;
  gesta_status st;
  snprintf(r->where, sizeof r->where, "in layer %d: ", index + 1);
  if ((st = gesta_yaml_check_mapping(r, layer, "a layer")) != GESTA_STATUS_OK)
    return st;
  node->mark = gesta_yaml_mark(layer);
  if (!(v = gesta_yaml_lookup(r, layer, "name", NULL)))
    return model_missing(r, layer, "name");
  if ((st = model_read_name(r, "name", v, node->name)) != GESTA_STATUS_OK)
    return st;
  for (int j = 0; j < index; j++)
    if (!strcmp(m->nodes[j].name, node->name))
      return gesta_yaml_fail(r, v,
                             "duplicate layer name '%s' (first used at line "
                             "%d, column %d)",
                             node->name, m->nodes[j].mark.line,
                             m->nodes[j].mark.column);
  if (!strcmp(node->name, m->input_name))
    return gesta_yaml_fail(r, v,
                           "layer name '%s' is already the name of the "
                           "model input",
                           node->name);
  snprintf(r->where, sizeof r->where, "in layer '%s': ", node->name);

  if (!(v = gesta_yaml_lookup(r, layer, "op", NULL)))
    return model_missing(r, layer, "op");
  if ((st = gesta_yaml_get_text(r, "op", v, &text)) != GESTA_STATUS_OK)
    return st;
  if (!(node->op = gesta_op_find(text)))
    return model_unknown_op(r, v, text);
  def = node->op->def;
  assert(def->n_attrs <= GESTA_MAX_ATTRS);

  for (int i = 0; i < MODEL_N_LAYER_KEYS; i++)
    allowed[i] = model_layer_keys[i];
  for (int i = 0; i < def->n_attrs; i++)
    allowed[MODEL_N_LAYER_KEYS + i] = def->attrs[i].name;
  if ((st = gesta_yaml_check_keys(r, layer, allowed,
                                  MODEL_N_LAYER_KEYS + def->n_attrs)) !=
      GESTA_STATUS_OK)
    return st;

  if ((v = gesta_yaml_lookup(r, layer, "inputs", NULL)) &&
      (st = model_parse_inputs(r, node, v)) != GESTA_STATUS_OK)
    return st;
  if ((v = gesta_yaml_lookup(r, layer, "time_distributed", NULL))) {
    if ((st = gesta_yaml_get_bool(r, "time_distributed", v,
                                  &node->time_distributed)) != GESTA_STATUS_OK)
      return st;
    if (node->time_distributed && !def->allows_time_distributed)
      return gesta_yaml_fail(r, v,
                             "op %s cannot be time_distributed (it reads the "
                             "whole sequence itself)",
                             def->name);
  }
  return model_parse_attrs(r, node, layer);
}

static gesta_status model_parse_layers(gesta_yaml_reader *r, gesta_model *m,
                                       const yaml_node_t *v) {
  yaml_node_item_t *items;
  int n;
  if (v->type != YAML_SEQUENCE_NODE)
    return gesta_yaml_fail(r, v,
                           "key 'layers' must be a list of layers, got %s",
                           gesta_yaml_kind(v));
  items = v->data.sequence.items.start;
  n = (int)(v->data.sequence.items.top - items);
  if (n == 0)
    return gesta_yaml_fail(r, v,
                           "key 'layers' is empty: a model needs at "
                           "least one layer");
  if (!(m->nodes = calloc((size_t)n, sizeof *m->nodes)))
    return gesta_error_set(r->err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory reading %d layers", n);
  m->n_nodes = n;
  for (int i = 0; i < n; i++) {
    gesta_status st =
        model_parse_layer(r, m, i, yaml_document_get_node(r->doc, items[i]));
    if (st != GESTA_STATUS_OK)
      return st;
  }
  r->where[0] = '\0';
  return GESTA_STATUS_OK;
}

static gesta_status model_parse(gesta_yaml_reader *r, gesta_model *m,
                                const yaml_node_t *root, const char *base_dir,
                                const yaml_node_t **classes_key) {
  yaml_node_t *v, *key;
  int64_t version;
  gesta_status st;
  if (root->type != YAML_MAPPING_NODE)
    return gesta_yaml_fail(r, root,
                           "the top level must be a mapping with keys gesta, "
                           "name, input and layers, got %s",
                           gesta_yaml_kind(root));
  if ((st = gesta_yaml_check_mapping(r, root, "the top level")) !=
          GESTA_STATUS_OK ||
      (st = gesta_yaml_check_keys(r, root, model_top_keys,
                                  MODEL_COUNT(model_top_keys))) !=
          GESTA_STATUS_OK)
    return st;

  if (!(v = gesta_yaml_lookup(r, root, "gesta", NULL)))
    return gesta_yaml_fail(r, root,
                           "missing required key 'gesta' (the format "
                           "version: 'gesta: 1')");
  if ((st = gesta_yaml_get_int(r, "gesta", v, INT64_MIN, INT64_MAX,
                               &version)) != GESTA_STATUS_OK)
    return st;
  if (version != 1)
    return gesta_yaml_fail(r, v,
                           "key 'gesta' is %lld, but this version of gesta "
                           "reads format version 1",
                           (long long)version);
  m->format_version = 1;

  if (!(v = gesta_yaml_lookup(r, root, "name", NULL)))
    return model_missing(r, root, "name");
  if ((st = gesta_yaml_get_string(r, "name", v, m->name, sizeof m->name)) !=
      GESTA_STATUS_OK)
    return st;
  if (!(v = gesta_yaml_lookup(r, root, "input", NULL)))
    return model_missing(r, root, "input");
  if ((st = model_parse_input(r, m, v)) != GESTA_STATUS_OK)
    return st;
  if ((v = gesta_yaml_lookup(r, root, "preprocess", NULL)) &&
      (st = model_parse_preprocess(r, m, v)) != GESTA_STATUS_OK)
    return st;
  if ((v = gesta_yaml_lookup(r, root, "weights", NULL)) &&
      (st = model_parse_weights(r, m, v, base_dir)) != GESTA_STATUS_OK)
    return st;
  if ((v = gesta_yaml_lookup(r, root, "classes", &key))) {
    *classes_key = key;
    if ((st = model_parse_classes(r, m, v)) != GESTA_STATUS_OK)
      return st;
  }
  if (!(v = gesta_yaml_lookup(r, root, "layers", NULL)))
    return model_missing(r, root, "layers");
  return model_parse_layers(r, m, v);
}

/* Known only once shapes are inferred, so checked after finalize. */
static gesta_status model_check_classes(gesta_yaml_reader *r,
                                        const gesta_model *m,
                                        const yaml_node_t *classes_key) {
  const gesta_node *out = &m->nodes[m->output_node];
  int64_t values = out->output_shape.rank > 0
                       ? out->output_shape.dims[out->output_shape.rank - 1]
                       : 1;
  if (!classes_key || values == m->n_classes)
    return GESTA_STATUS_OK;
  return gesta_yaml_fail(r, classes_key,
                         "key 'classes' lists %d names but the output layer "
                         "'%s' gives %lld values per sample",
                         m->n_classes, out->name, (long long)values);
}

gesta_status gesta_model_load_string(const gesta_context *ctx, const char *text,
                                     size_t length, const char *name,
                                     const char *base_dir, gesta_model **out,
                                     gesta_error *err) {
  yaml_document_t doc;
  gesta_yaml_reader reader;
  const yaml_node_t *classes_key = NULL;
  gesta_model *m;
  gesta_status st;
  (void)ctx;
  assert(text && out);
  if (!name)
    name = "<string>";
  if (strlen(name) >= sizeof m->path)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "model path is longer than %d characters",
                           GESTA_PATH_MAX - 1);
  if ((st = gesta_yaml_load(&doc, name, text, length, err)) != GESTA_STATUS_OK)
    return st;
  if (!(m = calloc(1, sizeof *m))) {
    yaml_document_delete(&doc);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory loading model %s", name);
  }
  strcpy(m->path, name);
  reader.doc = &doc;
  reader.file = name;
  reader.err = err;
  reader.where[0] = '\0';
  st = model_parse(&reader, m, yaml_document_get_root_node(&doc), base_dir,
                   &classes_key);
  if (st == GESTA_STATUS_OK)
    st = gesta_model_finalize(m, err);
  if (st == GESTA_STATUS_OK)
    st = model_check_classes(&reader, m, classes_key);
  yaml_document_delete(&doc);
  if (st != GESTA_STATUS_OK) {
    gesta_model_free(m);
    return st;
  }
  *out = m;
  return GESTA_STATUS_OK;
}

gesta_status gesta_model_load_file(const gesta_context *ctx, const char *path,
                                   gesta_model **out, gesta_error *err) {
  char dir[GESTA_PATH_MAX];
  const char *base_dir = NULL;
  const char *slash = strrchr(path, '/');
  char *text;
  size_t length;
  gesta_status st =
      gesta_yaml_read_file(path, MODEL_FILE_MAX, &text, &length, err);
  if (st != GESTA_STATUS_OK)
    return st;
  /* `weights:` is relative to the folder holding the YAML. */
  if (slash && (size_t)(slash - path) < sizeof dir) {
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, path, n);
    dir[n] = '\0';
    base_dir = dir;
  }
  st = gesta_model_load_string(ctx, text, length, path, base_dir, out, err);
  free(text);
  return st;
}
