/* The model YAML loader: a valid model with its defaults, the bundled
 * models, and every kind of mistake with its exact position and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "gesta/gesta.h"

/* Four lines every error case builds on; its layers start on line 5. */
#define HEAD "gesta: 1\nname: t\ninput: {shape: [6]}\nlayers:\n"

static gesta_status load(const char *text, const char *base_dir,
                         gesta_model **out, gesta_error *err) {
  gesta_context ctx;
  gesta_context_init(&ctx);
  return gesta_model_load_string(&ctx, text, strlen(text), "t.yaml", base_dir,
                                 out, err);
}

static const gesta_node *find_node(const gesta_model *m, const char *name) {
  for (int i = 0; i < m->n_nodes; i++)
    if (!strcmp(m->nodes[i].name, name))
      return &m->nodes[i];
  fail_msg("no layer '%s'", name);
  return NULL;
}

static void expect_shape(const gesta_shape *s, int rank, const int64_t *dims) {
  assert_int_equal(s->rank, rank);
  for (int i = 0; i < rank; i++)
    assert_int_equal(s->dims[i], dims[i]);
}

/* The load fails with `status`, the message starts with `where` (the
 * position) and contains `part`, and *out is left alone. */
static void expect_error(const char *text, gesta_status status,
                         const char *where, const char *part) {
  gesta_model untouched;
  gesta_model *m = &untouched;
  gesta_error err;
  gesta_status st;
  gesta_error_clear(&err);
  st = load(text, NULL, &m, &err);
  if (st != status || strncmp(err.message, where, strlen(where)) != 0 ||
      !strstr(err.message, part))
    print_error("expected %s '%s...%s...', got %s '%s'\n",
                gesta_status_name(status), where, part, gesta_status_name(st),
                err.message);
  assert_int_equal(st, status);
  assert_ptr_equal(m, &untouched);
  assert_int_equal(strncmp(err.message, where, strlen(where)), 0);
  assert_non_null(strstr(err.message, part));
}

static void test_valid_model(void **state) {
  const char *text =
      "gesta: 1\n"
      "name: tiny\n"
      "classes: [a, b, c]\n"
      "input: {name: frames, shape: [4, 8, 8, 3]}\n"
      "preprocess: {size: [8, 8]}\n"
      "weights: tiny.safetensors\n"
      "layers:\n"
      "  - {name: conv, op: conv2d, filters: 2, kernel: 3, padding: same,\n"
      "     time_distributed: true}\n"
      "  - {name: pool, op: max_pool2d, time_distributed: true}\n"
      "  - {name: flat, op: flatten, time_distributed: true}\n"
      "  - {name: lstm, op: lstm, units: 5}\n"
      "  - name: out\n"
      "    op: dense\n"
      "    inputs: lstm\n"
      "    units: 3\n"
      "    activation: softmax\n";
  static const int64_t conv_out[] = {4, 8, 8, 2}, pool_out[] = {4, 4, 4, 2},
                       flat_out[] = {4, 32}, lstm_out[] = {5}, out_out[] = {3};
  gesta_model *m = NULL;
  gesta_error err;
  const gesta_node *conv, *pool, *out;
  int64_t pair[2];
  (void)state;
  gesta_error_clear(&err);
  assert_int_equal(load(text, "/models", &m, &err), GESTA_STATUS_OK);
  assert_non_null(m);
  assert_string_equal(m->path, "t.yaml");
  assert_string_equal(m->name, "tiny");
  assert_int_equal(m->format_version, 1);
  assert_int_equal(m->n_classes, 3);
  assert_string_equal(m->classes[2], "c");
  assert_string_equal(m->input_name, "frames");
  assert_string_equal(m->weights_path, "/models/tiny.safetensors");
  assert_int_equal(m->n_nodes, 5);

  /* Preprocessing defaults; frames follows the clip length. */
  assert_true(m->has_preprocess);
  assert_int_equal(m->preprocess.height, 8);
  assert_int_equal(m->preprocess.width, 8);
  assert_int_equal(m->preprocess.channels, GESTA_CHANNELS_BGR);
  assert_true(fabs(m->preprocess.scale - 1.0 / 255.0) < 1e-15);
  assert_int_equal(m->preprocess.sampling, GESTA_SAMPLING_UNIFORM);
  assert_int_equal(m->preprocess.frames, 4);

  conv = find_node(m, "conv");
  assert_string_equal(conv->op->def->name, "conv2d");
  assert_true(conv->time_distributed);
  assert_int_equal(conv->mark.line, 8);
  assert_int_equal(conv->mark.column, 5);
  assert_int_equal(gesta_node_attr_int(conv, "filters"), 2);
  gesta_node_attr_pair(conv, "kernel", pair);
  assert_int_equal(pair[0], 3);
  assert_int_equal(pair[1], 3);
  gesta_node_attr_pair(conv, "strides", pair); /* default "1" */
  assert_int_equal(pair[0], 1);
  assert_int_equal(pair[1], 1);
  assert_true(gesta_node_attr_bool(conv, "use_bias"));
  assert_true(conv->attr_given[gesta_op_attr_index(conv->op->def, "filters")]);
  assert_false(conv->attr_given[gesta_op_attr_index(conv->op->def, "strides")]);
  assert_int_equal(
      conv->attr_marks[gesta_op_attr_index(conv->op->def, "filters")].column,
      39);
  expect_shape(&conv->output_shape, 4, conv_out);

  /* strides has no default: left for the op to derive from pool_size. */
  pool = find_node(m, "pool");
  assert_false(pool->attr_given[gesta_op_attr_index(pool->op->def, "strides")]);
  expect_shape(&pool->output_shape, 4, pool_out);
  expect_shape(&find_node(m, "flat")->output_shape, 2, flat_out);
  expect_shape(&find_node(m, "lstm")->output_shape, 1, lstm_out);

  out = find_node(m, "out");
  assert_int_equal(out->n_inputs, 1);
  assert_string_equal(out->input_names[0], "lstm");
  assert_int_equal(out->input_marks[0].line, 15);
  assert_int_equal(out->input_marks[0].column, 13);
  assert_int_equal(gesta_node_attr_enum(out, "activation"),
                   GESTA_ACTIVATION_SOFTMAX);
  expect_shape(&out->output_shape, 1, out_out);
  assert_ptr_equal(&m->nodes[m->output_node], out);
  /* conv kernel+bias, lstm kernel+recurrent+bias, dense kernel+bias */
  assert_int_equal(m->n_params, 7);
  gesta_model_free(m);
}

static void test_minimal_model_and_paths(void **state) {
  gesta_model *m = NULL;
  gesta_error err;
  (void)state;
  gesta_error_clear(&err);
  /* No preprocess, no classes; `inputs` may name the model input. */
  assert_int_equal(load(HEAD "  - {name: fc, op: dense, units: 2, inputs: "
                             "[input]}\nweights: w/a.safetensors\n",
                        NULL, &m, &err),
                   GESTA_STATUS_OK);
  assert_false(m->has_preprocess);
  assert_int_equal(m->n_classes, 0);
  assert_string_equal(m->input_name, "input");
  assert_string_equal(m->weights_path, "w/a.safetensors");
  assert_int_equal(m->nodes[0].inputs[0], -1);
  gesta_model_free(m);

  /* Absolute weights paths are kept; base_dir ends with a slash or not. */
  assert_int_equal(load(HEAD "  - {name: fc, op: dense, units: 2}\n"
                             "weights: /abs/w.safetensors\n",
                        "/models/", &m, &err),
                   GESTA_STATUS_OK);
  assert_string_equal(m->weights_path, "/abs/w.safetensors");
  gesta_model_free(m);
  assert_int_equal(load(HEAD "  - {name: fc, op: dense, units: 2}\n"
                             "weights: w.safetensors\n",
                        "/models/", &m, &err),
                   GESTA_STATUS_OK);
  assert_string_equal(m->weights_path, "/models/w.safetensors");
  gesta_model_free(m);

  /* The error object is optional. */
  assert_int_equal(load("gesta: 2\n", NULL, &m, NULL), GESTA_STATUS_BAD_INPUT);
  assert_int_equal(
      load(HEAD "  - {name: d, op: dense, units: x}\n", NULL, &m, NULL),
      GESTA_STATUS_BAD_INPUT);

  /* A per-frame model samples 20 frames unless told otherwise. */
  assert_int_equal(
      load("gesta: 1\nname: f\ninput: {shape: [4, 4, 1]}\n"
           "preprocess: {size: [4, 4], channels: gray, scale: 0.5,\n"
           "             sampling: window}\n"
           "layers: [{name: gap, op: global_avg_pool2d}]\n",
           NULL, &m, &err),
      GESTA_STATUS_OK);
  assert_int_equal(m->preprocess.frames, 20);
  assert_int_equal(m->preprocess.channels, GESTA_CHANNELS_GRAY);
  assert_int_equal(m->preprocess.sampling, GESTA_SAMPLING_WINDOW);
  assert_true(m->preprocess.scale == 0.5);
  gesta_model_free(m);
}

static void test_anchors_and_aliases(void **state) {
  gesta_model *m = NULL;
  gesta_error err;
  (void)state;
  gesta_error_clear(&err);
  /* An aliased value is read like the anchored one. */
  assert_int_equal(load("gesta: 1\nname: t\ninput: {shape: &s [6]}\n"
                        "layers:\n"
                        "  - {name: a, op: dense, units: &u 4}\n"
                        "  - {name: b, op: dense, units: *u}\n",
                        NULL, &m, &err),
                   GESTA_STATUS_OK);
  assert_int_equal(gesta_node_attr_int(&m->nodes[1], "units"), 4);
  gesta_model_free(m);
  /* The same layer twice through an alias is a duplicate name. */
  expect_error(HEAD "  - &l {name: a, op: relu}\n  - *l\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:15:", "duplicate layer name 'a'");
  /* A list containing itself is read once, as a wrong type. */
  expect_error("gesta: 1\nname: t\ninput: {shape: &s [6, *s]}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:3:16:", "key 'shape' must be an integer, got a list");
  expect_error(HEAD "  - {name: a, op: *nothing}\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:19:", "undefined alias");
}

static void test_syntax_error(void **state) {
  (void)state;
  expect_error("gesta: 1\nname: t\n  input: x\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:3:8:", "mapping values are not allowed");
  expect_error("gesta: 1\nlayers: [a, b\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:3:1:", "did not find expected ',' or ']'");
  /* Bytes that are not UTF-8 are placed by line and column too. */
  expect_error("gesta: 1\nname: t\xff\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:2:8:", "UTF-8");
}

static void test_empty_and_not_a_mapping(void **state) {
  (void)state;
  expect_error("", GESTA_STATUS_BAD_INPUT, "t.yaml:1:1:", "empty");
  expect_error("# nothing but a comment\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:1:1:", "empty");
  expect_error("- gesta\n- 1\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:1:1:", "top level must be a mapping");
  expect_error(HEAD "  - {name: fc, op: relu}\n---\nname: again\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:7:1:", "second YAML document");
}

static void test_unknown_keys(void **state) {
  (void)state;
  expect_error(HEAD "  - {name: fc, op: relu}\nweight: w.safetensors\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:6:1:", "unknown key 'weight' (did you mean 'weights'?)");
  expect_error(
      "gesta: 1\nname: t\ninput: {shap: [6]}\n", GESTA_STATUS_BAD_INPUT,
      "t.yaml:3:9:", "in 'input': unknown key 'shap' (did you mean 'shape'?)");
  expect_error("gesta: 1\nname: t\ninput: {shape: [4, 4, 3]}\n"
               "preprocess: {size: [4, 4], colour: rgb}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:4:28:",
               "in 'preprocess': unknown key 'colour' (known keys: size, "
               "channels");
  expect_error(HEAD "  - name: lstm\n    op: dense\n    unit: 3\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:7:5:",
               "in layer 'lstm': unknown key 'unit' (did you mean 'units'?)");
  /* Keras spellings point to ours. */
  expect_error(HEAD "  - {name: c, op: conv2d, filters: 1, kernel_size: 3}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:39:",
               "unknown key 'kernel_size' (did you mean 'kernel'?)");
}

static void test_wrong_types(void **state) {
  (void)state;
  expect_error(HEAD "  - name: c\n    op: conv2d\n    filters: abc\n"
                    "    kernel: 3\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:7:14:",
               "in layer 'c': key 'filters' must be an integer, got 'abc'");
  expect_error("gesta: 1\nname: {first: t}\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:2:7:", "key 'name' must be a string, got a mapping");
  expect_error("gesta: 1\nname: t\ninput: [6]\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:3:8:", "key 'input' must be a mapping, got a list");
  expect_error(
      "gesta: 1\nname: t\ninput: {shape: 6}\n", GESTA_STATUS_BAD_INPUT,
      "t.yaml:3:16:", "key 'shape' must be a list of integers, got a value");
  expect_error(HEAD "  - {name: c, op: conv2d, filters: 1, kernel: {h: 3}}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:47:",
               "key 'kernel' must be a value or a list, got a mapping");
  expect_error(
      HEAD "  - {name: c, op: conv2d, filters: 1, kernel: [3, 3, 3]}\n",
      GESTA_STATUS_BAD_INPUT,
      "t.yaml:5:47:", "'kernel' must be an integer or a list of two integers");
  expect_error(HEAD "  - {name: d, op: dense, units: 2, activation: gelu}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:48:", "'activation' must be one of linear|relu");
  expect_error(HEAD "  - {name: d, op: dense, units: 2, use_bias: yes}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:46:", "'use_bias' must be true or false, got 'yes'");
  expect_error(HEAD "  - {name: d, op: relu, time_distributed: 1}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:43:",
               "key 'time_distributed' must be true or false, got '1'");
  expect_error("gesta: 1\nname:\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:2:6:", "key 'name' has no value");
  expect_error(HEAD "  - {name: d, op: dense, units: 2, inputs: {a: 1}}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:44:",
               "key 'inputs' must be a layer name or a list of names");
  expect_error("gesta: 1\nname: t\ninput: {shape: [6]}\nlayers: fc\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:4:9:",
               "key 'layers' must be a list of layers, got a value");
  expect_error(HEAD "  - fc\n", GESTA_STATUS_BAD_INPUT, "t.yaml:5:5:",
               "in layer 1: a layer must be a mapping, got a value");
  expect_error(HEAD "  - {name: fc, op: relu}\nclasses: a\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:6:10:", "key 'classes' must be a list of names");
  expect_error("gesta: 1\nname: ''\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:2:7:", "key 'name' has no value");
  expect_error("gesta: 1\nname: \"a\\0b\"\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:2:7:", "NUL character");
}

static void test_duplicate_keys(void **state) {
  (void)state;
  expect_error("gesta: 1\nname: t\nname: u\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:3:1:", "key 'name' is given twice (first at line 2)");
  expect_error(HEAD "  - name: d\n    op: dense\n    units: 2\n    units: 3\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:8:5:",
               "in layer 1: key 'units' is given twice (first at line 7)");
  expect_error(HEAD "  - {name: d, op: relu}\nclasses: [a, b, a]\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:6:17:", "class 'a' is listed twice");
}

static void test_missing_keys(void **state) {
  (void)state;
  expect_error("gesta: 1\nname: t\ninput: {shape: [6]}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:1:1:", "missing required key 'layers'");
  expect_error("name: t\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:1:1:", "missing required key 'gesta'");
  expect_error("gesta: 1\nname: t\ninput: {name: x}\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:3:8:", "in 'input': missing required key 'shape'");
  expect_error("gesta: 1\nname: t\ninput: {shape: [4, 4, 3]}\n"
               "preprocess: {channels: rgb}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:4:13:", "in 'preprocess': missing required key 'size'");
  expect_error(HEAD "  - {op: relu}\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:5:", "in layer 1: missing required key 'name'");
  expect_error(HEAD "  - {name: r}\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:5:", "in layer 'r': missing required key 'op'");
  expect_error(HEAD "  - {name: relu1, op: relu}\n  - name: conv1\n"
                    "    op: conv2d\n    kernel: 3\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:6:5:",
               "in layer 'conv1': missing required attribute 'filters' of op "
               "conv2d");
  expect_error("gesta: 1\nname: t\ninput: {shape: [6]}\nlayers: []\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:4:9:", "a model needs at least one layer");
}

static void test_unknown_op(void **state) {
  (void)state;
  expect_error(HEAD "  - {name: c, op: conv2, filters: 1, kernel: 3}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:19:",
               "in layer 'c': unknown op 'conv2' (did you mean 'conv2d'?)");
  expect_error(HEAD "  - {name: c, op: transformer}\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:19:", "unknown op 'transformer' (known ops: ");
}

static void test_layer_names(void **state) {
  (void)state;
  expect_error(HEAD "  - {name: conv.1, op: relu}\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:12:",
               "key 'name' must use only letters, digits, '_' and '-', got "
               "'conv.1'");
  expect_error(HEAD "  - {name: a, op: relu}\n  - {name: b, op: relu}\n"
                    "  - {name: a, op: relu}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:7:12:",
               "in layer 3: duplicate layer name 'a' (first used at line 5, "
               "column 5)");
  expect_error(HEAD "  - {name: input, op: relu}\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:12:", "already the name of the model input");
  expect_error(HEAD "  - {name: "
                    "a123456789012345678901234567890123456789012345678901234567"
                    "890123, op: relu}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:12:",
               "key 'name' is too long (at most 63 characters)");
}

static void test_inputs(void **state) {
  (void)state;
  expect_error(HEAD "  - {name: a, op: relu}\n"
                    "  - {name: b, op: relu, inputs: [a, a, a, a, a]}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:6:33:",
               "key 'inputs' lists 5 layers, at most 4 are allowed");
  expect_error(HEAD "  - {name: a, op: relu}\n"
                    "  - {name: b, op: relu, inputs: [a, input]}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:6:33:", "op relu takes 1 to 1 input(s), got 2");
  expect_error(HEAD "  - {name: a, op: relu, inputs: []}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:33:", "key 'inputs' is empty");
  /* The rest come from gesta_model_finalize(), at the layer's position. */
  expect_error(HEAD "  - {name: a, op: relu}\n"
                    "  - {name: b, op: relu, inputs: aa}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:6:33:", "in layer 'b': unknown input 'aa'");
  expect_error(HEAD "  - {name: a, op: relu, inputs: b}\n"
                    "  - {name: b, op: relu, inputs: a}\n"
                    "  - {name: c, op: relu}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:5:", "in layer 'a': its inputs form a cycle");
}

static void test_shapes_from_finalize(void **state) {
  (void)state;
  expect_error("gesta: 1\nname: t\ninput: {shape: [8, 8, 3]}\nlayers:\n"
               "  - {name: seq, op: lstm, units: 4}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:5:", "in layer 'seq' (lstm)");
  expect_error(HEAD "  - {name: fc, op: dense, units: 4}\n"
                    "  - {name: c, op: conv2d, filters: 1, kernel: 3}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:6:5:", "in layer 'c' (conv2d)");
  expect_error("gesta: 1\nname: t\ninput: {shape: [6]}\nlayers:\n"
               "  - {name: fc, op: dense, units: 4, time_distributed: true}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:5:", "time_distributed needs inputs of rank >= 2");
  expect_error(HEAD "  - {name: l, op: lstm, units: 4, time_distributed: "
                    "true}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:53:", "op lstm cannot be time_distributed");
  /* classes must match the output, at the classes key. */
  expect_error("gesta: 1\nname: t\ninput: {shape: [6]}\nclasses: [a, b]\n"
               "layers:\n  - {name: out, op: dense, units: 3}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:4:1:",
               "key 'classes' lists 2 names but the output layer 'out' gives "
               "3 values");
}

static void test_version(void **state) {
  (void)state;
  expect_error("gesta: 2\nname: t\n", GESTA_STATUS_BAD_INPUT, "t.yaml:1:8:",
               "key 'gesta' is 2, but this version of gesta reads format "
               "version 1");
  expect_error("gesta: one\n", GESTA_STATUS_BAD_INPUT,
               "t.yaml:1:8:", "key 'gesta' must be an integer, got 'one'");
}

static void test_numbers_out_of_range(void **state) {
  (void)state;
  expect_error(
      "gesta: 1\nname: t\ninput: {shape: [6, -1]}\n", GESTA_STATUS_BAD_INPUT,
      "t.yaml:3:20:", "key 'shape' must be between 1 and 16777216, got -1");
  expect_error("gesta: 1\nname: t\ninput: {shape: [99999999999999999999]}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:3:17:", "key 'shape' must be between 1 and 16777216");
  expect_error("gesta: 1\nname: t\ninput: {shape: [16777216, 16777216, 2]}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:3:16:", "more than 4294967296 values per sample");
  expect_error("gesta: 1\nname: t\ninput: {shape: [1, 2, 3, 4, 5]}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:3:16:", "key 'shape' must list 1 to 4 integers, got 5");
  expect_error(HEAD "  - {name: d, op: dense, units: -3}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:33:", "'units' must be");
  expect_error(HEAD "  - {name: d, op: dense, units: 1e400}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:5:33:", "'units' must be an integer");
  expect_error(HEAD "  - {name: d, op: dropout, rate: 1.5}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:5:34:", "'rate' must be");
  expect_error("gesta: 1\nname: t\ninput: {shape: [4, 4, 3]}\n"
               "preprocess: {size: [4, 0]}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:4:24:",
               "key 'size' must be between 1 and 16777216, got 0");
  expect_error("gesta: 1\nname: t\ninput: {shape: [4, 4, 3]}\n"
               "preprocess: {size: [4, 4], scale: -1}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:4:35:", "key 'scale' must be greater than 0");
  expect_error("gesta: 1\nname: t\ninput: {shape: [4, 4, 3]}\n"
               "preprocess: {size: [4, 4], frames: 0}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:4:36:", "key 'frames' must be between 1");
  expect_error("gesta: 1\nname: t\ninput: {shape: [4, 4, 3]}\n"
               "preprocess: {size: [4, 4], sampling: random}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:4:38:",
               "key 'sampling' must be one of uniform|window, got 'random'");
}

static void test_preprocess_matches_input(void **state) {
  (void)state;
  expect_error("gesta: 1\nname: t\ninput: {shape: [4, 4, 3]}\n"
               "preprocess: {size: [4, 5]}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:4:20:",
               "key 'size' is [4, 5] but the input shape holds frames of "
               "[4, 4]");
  expect_error("gesta: 1\nname: t\ninput: {shape: [4, 4, 3]}\n"
               "preprocess: {size: [4, 4], channels: gray}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:4:38:", "input shape's last dimension is 3");
  expect_error("gesta: 1\nname: t\ninput: {shape: [2, 4, 4, 3]}\n"
               "preprocess: {size: [4, 4], frames: 3}\n",
               GESTA_STATUS_BAD_INPUT, "t.yaml:4:36:",
               "key 'frames' is 3 but the input shape holds clips of 2 frames");
  expect_error("gesta: 1\nname: t\ninput: {shape: [6]}\n"
               "preprocess: {size: [4, 4]}\n",
               GESTA_STATUS_BAD_INPUT,
               "t.yaml:4:13:", "the input shape has rank 1");
}

static void test_file_errors(void **state) {
  gesta_model untouched;
  gesta_model *m = &untouched;
  gesta_context ctx;
  gesta_error err;
  (void)state;
  gesta_context_init(&ctx);
  gesta_error_clear(&err);
  assert_int_equal(
      gesta_model_load_file(&ctx, GESTA_TEST_TMP "/missing.yaml", &m, &err),
      GESTA_STATUS_IO_ERROR);
  assert_ptr_equal(m, &untouched);
  assert_non_null(strstr(err.message, GESTA_TEST_TMP "/missing.yaml"));
  assert_non_null(strstr(err.message, "No such file"));
  assert_int_equal(gesta_model_load_file(&ctx, GESTA_TEST_TMP, &m, &err),
                   GESTA_STATUS_IO_ERROR);
  assert_non_null(strstr(err.message, "Is a directory"));
}

static void test_load_file_resolves_weights(void **state) {
  const char *path = GESTA_TEST_TMP "/yaml_weights.yaml";
  gesta_model *m = NULL;
  gesta_context ctx;
  gesta_error err;
  FILE *f = fopen(path, "w");
  (void)state;
  assert_non_null(f);
  fputs(HEAD "  - {name: fc, op: dense, units: 2\n", f);
  fclose(f);
  gesta_context_init(&ctx);
  gesta_error_clear(&err);
  /* Errors name the file as given. */
  assert_int_equal(gesta_model_load_file(&ctx, path, &m, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_int_equal(strncmp(err.message, path, strlen(path)), 0);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(HEAD "  - {name: fc, op: dense, units: 2}\nweights: w.safetensors\n",
        f);
  fclose(f);
  assert_int_equal(gesta_model_load_file(&ctx, path, &m, &err),
                   GESTA_STATUS_OK);
  assert_string_equal(m->weights_path, GESTA_TEST_TMP "/w.safetensors");
  gesta_model_free(m);
  remove(path);
}

static gesta_model *load_bundled(const char *file) {
  gesta_model *m = NULL;
  gesta_context ctx;
  gesta_error err;
  char path[GESTA_PATH_MAX];
  gesta_context_init(&ctx);
  gesta_error_clear(&err);
  snprintf(path, sizeof path, "%s/models/%s", GESTA_SOURCE_DIR, file);
  if (gesta_model_load_file(&ctx, path, &m, &err) != GESTA_STATUS_OK)
    fail_msg("%s", err.message);
  return m;
}

static void test_bundled_lrcn(void **state) {
  static const int64_t in[] = {20, 64, 64, 3}, out[] = {5};
  gesta_model *m = load_bundled("seed/lrcn.yaml");
  gesta_param_counts counts = gesta_model_count_params(m);
  (void)state;
  assert_string_equal(m->name, "lrcn");
  assert_int_equal(m->n_nodes, 13);
  assert_int_equal(m->n_classes, 5);
  assert_string_equal(m->input_name, "frames");
  expect_shape(&m->input_shape, 4, in);
  expect_shape(&m->nodes[m->output_node].output_shape, 1, out);
  assert_int_equal(m->preprocess.frames, 20);
  assert_string_equal(m->weights_path,
                      GESTA_SOURCE_DIR "/models/seed/lrcn.safetensors");
  assert_int_equal(counts.total, 195973);
  assert_int_equal(counts.non_trainable, 0);
  gesta_model_free(m);
}

static void test_bundled_cnn(void **state) {
  static const int64_t in[] = {64, 64, 3}, out[] = {5};
  gesta_model *m = load_bundled("seed/cnn.yaml");
  gesta_param_counts counts = gesta_model_count_params(m);
  (void)state;
  assert_string_equal(m->name, "cnn");
  assert_int_equal(m->n_nodes, 8);
  expect_shape(&m->input_shape, 3, in);
  expect_shape(&m->nodes[m->output_node].output_shape, 1, out);
  assert_string_equal(m->weights_path,
                      GESTA_SOURCE_DIR "/models/seed/cnn.safetensors");
  assert_int_equal(counts.total, 57925);
  assert_int_equal(counts.trainable, 57285);
  assert_int_equal(counts.non_trainable, 640);
  gesta_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_model),
      cmocka_unit_test(test_minimal_model_and_paths),
      cmocka_unit_test(test_anchors_and_aliases),
      cmocka_unit_test(test_syntax_error),
      cmocka_unit_test(test_empty_and_not_a_mapping),
      cmocka_unit_test(test_unknown_keys),
      cmocka_unit_test(test_wrong_types),
      cmocka_unit_test(test_duplicate_keys),
      cmocka_unit_test(test_missing_keys),
      cmocka_unit_test(test_unknown_op),
      cmocka_unit_test(test_layer_names),
      cmocka_unit_test(test_inputs),
      cmocka_unit_test(test_shapes_from_finalize),
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_numbers_out_of_range),
      cmocka_unit_test(test_preprocess_matches_input),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_load_file_resolves_weights),
      cmocka_unit_test(test_bundled_lrcn),
      cmocka_unit_test(test_bundled_cnn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
