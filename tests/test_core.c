/* Core: errors, shapes, the random generator, attribute parsing, graph
 * resolution and the executor's buffer planning, on models built by hand
 * (the YAML loader has its own tests). */
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

static void test_error_position_and_prefix(void **state) {
  gesta_error err;
  (void)state;
  gesta_error_clear(&err);
  assert_int_equal(gesta_error_set_at(&err, GESTA_STATUS_BAD_INPUT, "m.yaml",
                                      (gesta_mark){14, 5}, "unknown key '%s'",
                                      "unit"),
                   GESTA_STATUS_BAD_INPUT);
  assert_string_equal(err.message, "m.yaml:14:5: unknown key 'unit'");
  gesta_error_prefix(&err, "while %s: ", "loading");
  assert_string_equal(err.message, "while loading: m.yaml:14:5: unknown key "
                                   "'unit'");
  assert_int_equal(gesta_status_exit_code(GESTA_STATUS_BAD_INPUT), 2);
  assert_int_equal(gesta_status_exit_code(GESTA_STATUS_BACKEND_ERROR), 1);
  assert_int_equal(gesta_status_exit_code(GESTA_STATUS_OK), 0);
  /* A NULL error is allowed: the status still comes back. */
  assert_int_equal(gesta_error_set(NULL, GESTA_STATUS_IO_ERROR, "x"),
                   GESTA_STATUS_IO_ERROR);
}

static void test_shape_helpers(void **state) {
  int64_t dims[] = {2, 20, 64, 64, 3};
  gesta_shape s = gesta_shape_make(5, dims), one = gesta_shape_make(1, dims);
  gesta_shape scalar = gesta_shape_make(0, dims);
  char buf[64];
  (void)state;
  assert_int_equal(gesta_shape_count(&s), 2 * 20 * 64 * 64 * 3);
  assert_int_equal(gesta_shape_count(&scalar), 1);
  assert_string_equal(gesta_shape_format(&s, buf, sizeof buf),
                      "(2, 20, 64, 64, 3)");
  assert_string_equal(gesta_shape_format(&one, buf, sizeof buf), "(2,)");
  assert_true(gesta_shape_equal(&s, &s));
  assert_false(gesta_shape_equal(&s, &one));
}

static void test_rng_is_deterministic(void **state) {
  gesta_rng a, b;
  double sum = 0, sum_sq = 0;
  (void)state;
  gesta_rng_seed(&a, 42);
  gesta_rng_seed(&b, 42);
  for (int i = 0; i < 1000; i++)
    assert_true(gesta_rng_next(&a) == gesta_rng_next(&b));
  gesta_rng_seed(&b, 43);
  assert_false(gesta_rng_next(&a) == gesta_rng_next(&b));
  for (int i = 0; i < 20000; i++) {
    double u = gesta_rng_uniform(&a), z = gesta_rng_normal(&a);
    assert_true(u >= 0.0 && u < 1.0);
    sum += z;
    sum_sq += z * z;
  }
  assert_true(sum / 20000 > -0.05 && sum / 20000 < 0.05);
  assert_true(sum_sq / 20000 > 0.95 && sum_sq / 20000 < 1.05);
}

static void test_attr_parse(void **state) {
  gesta_attr_def int_def = {
      .name = "filters", .type = GESTA_ATTR_INT, .min = 1, .max = 1024};
  gesta_attr_def pair_def = {
      .name = "kernel", .type = GESTA_ATTR_PAIR, .min = 1, .max = 64};
  gesta_attr_def enum_def = {
      .name = "padding", .type = GESTA_ATTR_ENUM, .choices = "valid|same"};
  gesta_attr_def float_def = {
      .name = "rate", .type = GESTA_ATTR_FLOAT, .min = 0, .max = 1};
  gesta_attr_def bool_def = {.name = "use_bias", .type = GESTA_ATTR_BOOL};
  gesta_attr_value v;
  gesta_error err;
  (void)state;
  assert_int_equal(gesta_attr_parse(&int_def, "16", &v, &err), 0);
  assert_int_equal(v.i[0], 16);
  assert_int_equal(gesta_attr_parse(&int_def, "16x", &v, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "'filters' must be an integer"));
  assert_int_equal(gesta_attr_parse(&int_def, "0", &v, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "between 1 and 1024"));
  assert_int_equal(gesta_attr_parse(&int_def, "99999999999999999999", &v, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_int_equal(gesta_attr_parse(&pair_def, "3", &v, &err), 0);
  assert_true(v.i[0] == 3 && v.i[1] == 3);
  assert_int_equal(gesta_attr_parse(&pair_def, "[3, 2]", &v, &err), 0);
  assert_true(v.i[0] == 3 && v.i[1] == 2);
  assert_int_equal(gesta_attr_parse(&pair_def, "[3, 2, 1]", &v, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_int_equal(gesta_attr_parse(&pair_def, "[3, 0]", &v, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_int_equal(gesta_attr_parse(&enum_def, "same", &v, &err), 0);
  assert_int_equal(v.i[0], 1);
  assert_int_equal(gesta_attr_parse(&enum_def, "sam", &v, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "valid|same"));
  assert_int_equal(gesta_attr_parse(&float_def, "0.25", &v, &err), 0);
  assert_true(v.f == 0.25);
  assert_int_equal(gesta_attr_parse(&float_def, "nan", &v, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_int_equal(gesta_attr_parse(&float_def, "1.5", &v, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_int_equal(gesta_attr_parse(&bool_def, "false", &v, &err), 0);
  assert_false(v.b);
  assert_int_equal(gesta_attr_parse(&bool_def, "yes", &v, &err),
                   GESTA_STATUS_BAD_INPUT);
}

/* A model built without YAML: `ops` layers in a chain (or with explicit
 * inputs), each with its defaults applied. */
static gesta_model *core_model_new(const int64_t *input_dims, int input_rank,
                                   int n, const char *const *ops) {
  gesta_model *m = calloc(1, sizeof *m);
  gesta_error err;
  assert_non_null(m);
  snprintf(m->path, sizeof m->path, "hand.yaml");
  snprintf(m->name, sizeof m->name, "hand");
  snprintf(m->input_name, sizeof m->input_name, "x");
  m->input_shape = gesta_shape_make(input_rank, input_dims);
  m->nodes = calloc((size_t)n, sizeof(gesta_node));
  m->n_nodes = n;
  for (int i = 0; i < n; i++) {
    gesta_node *node = &m->nodes[i];
    const gesta_op_def *def;
    snprintf(node->name, sizeof node->name, "l%d", i);
    node->op = gesta_op_find(ops[i]);
    assert_non_null(node->op);
    node->mark = (gesta_mark){i + 5, 3};
    def = node->op->def;
    for (int a = 0; a < def->n_attrs; a++)
      if (def->attrs[a].default_value)
        assert_int_equal(gesta_attr_parse(&def->attrs[a],
                                          def->attrs[a].default_value,
                                          &node->attrs[a], &err),
                         GESTA_STATUS_OK);
  }
  return m;
}

static void core_set_attr(gesta_model *m, int node, const char *name,
                          const char *text) {
  gesta_node *n = &m->nodes[node];
  int a = gesta_op_attr_index(n->op->def, name);
  gesta_error err;
  assert_true(a >= 0);
  assert_int_equal(
      gesta_attr_parse(&n->op->def->attrs[a], text, &n->attrs[a], &err),
      GESTA_STATUS_OK);
  n->attr_given[a] = true;
}

static void test_graph_orders_layers_and_finds_output(void **state) {
  const int64_t dims[] = {4};
  const char *const ops[] = {"relu", "tanh", "sigmoid"};
  gesta_model *m = core_model_new(dims, 1, 3, ops);
  gesta_error err;
  (void)state;
  /* l0 reads l2, which reads l1, which reads x: file order is not run
   * order. */
  snprintf(m->nodes[0].input_names[0], GESTA_NAME_MAX, "l2");
  m->nodes[0].n_inputs = 1;
  snprintf(m->nodes[1].input_names[0], GESTA_NAME_MAX, "x");
  m->nodes[1].n_inputs = 1;
  snprintf(m->nodes[2].input_names[0], GESTA_NAME_MAX, "l1");
  m->nodes[2].n_inputs = 1;
  assert_int_equal(gesta_model_finalize(m, &err), GESTA_STATUS_OK);
  assert_string_equal(m->nodes[0].name, "l1");
  assert_string_equal(m->nodes[1].name, "l2");
  assert_string_equal(m->nodes[2].name, "l0");
  assert_int_equal(m->output_node, 2);
  assert_int_equal(m->nodes[2].inputs[0], 1);
  assert_int_equal(m->nodes[0].inputs[0], -1);
  gesta_model_free(m);
}

static void test_graph_cycle_and_unknown_input(void **state) {
  const int64_t dims[] = {4};
  const char *const ops[] = {"relu", "tanh"};
  gesta_model *m = core_model_new(dims, 1, 2, ops);
  gesta_error err;
  (void)state;
  snprintf(m->nodes[0].input_names[0], GESTA_NAME_MAX, "l1");
  m->nodes[0].n_inputs = 1;
  assert_int_equal(gesta_model_finalize(m, &err), GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "hand.yaml:5:3: in layer 'l0'"));
  assert_non_null(strstr(err.message, "cycle"));
  gesta_model_free(m);

  m = core_model_new(dims, 1, 2, ops);
  snprintf(m->nodes[1].input_names[0], GESTA_NAME_MAX, "nope");
  m->nodes[1].input_marks[0] = (gesta_mark){9, 17};
  m->nodes[1].n_inputs = 1;
  assert_int_equal(gesta_model_finalize(m, &err), GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "hand.yaml:9:17: in layer 'l1'"));
  assert_non_null(strstr(err.message, "unknown input 'nope'"));
  gesta_model_free(m);
}

static void test_graph_shape_error_names_layer_and_shapes(void **state) {
  const int64_t dims[] = {5, 7, 3};
  const char *const ops[] = {"lstm"};
  gesta_model *m = core_model_new(dims, 3, 1, ops);
  gesta_error err;
  (void)state;
  core_set_attr(m, 0, "units", "4");
  assert_int_equal(gesta_model_finalize(m, &err), GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "hand.yaml:5:3: in layer 'l0' (lstm)"));
  assert_non_null(strstr(err.message, "(5, 7, 3)"));
  gesta_model_free(m);
}

/* Time-distributed dense over (T, F): T is kept, the op sees F. */
static void test_time_distributed_shapes_and_run(void **state) {
  const int64_t dims[] = {3, 2};
  const char *const ops[] = {"dense", "flatten", "relu"};
  gesta_model *m = core_model_new(dims, 2, 3, ops);
  gesta_context ctx;
  gesta_backend *cpu;
  gesta_plan *plan;
  gesta_error err;
  float in[2 * 3 * 2], out[2 * 3 * 4];
  (void)state;
  gesta_context_init(&ctx);
  core_set_attr(m, 0, "units", "4");
  m->nodes[0].time_distributed = true;
  assert_int_equal(gesta_model_finalize(m, &err), GESTA_STATUS_OK);
  assert_int_equal(m->nodes[0].input_shapes[0].rank, 1);
  assert_int_equal(m->nodes[0].output_shape.rank, 2);
  assert_int_equal(m->nodes[0].output_shape.dims[0], 3);
  assert_int_equal(m->nodes[0].output_shape.dims[1], 4);
  assert_int_equal(m->nodes[1].output_shape.dims[0], 12);
  assert_int_equal(gesta_model_count_params(m).total, 2 * 4 + 4);
  /* kernel[f][u] = f + 1 for unit u == f, else 0; bias 0.5: each output is
   * (f+1) * x[f] + 0.5 for the first two units and 0.5 for the others. */
  assert_int_equal(gesta_model_init_weights(m, 1, &err), GESTA_STATUS_OK);
  memset(m->params[0].data, 0, sizeof(float) * 8);
  m->params[0].data[0 * 4 + 0] = 1;
  m->params[0].data[1 * 4 + 1] = 2;
  for (int u = 0; u < 4; u++)
    m->params[1].data[u] = 0.5f;
  for (int i = 0; i < 12; i++)
    in[i] = (float)i - 6.0f;
  assert_int_equal(gesta_backend_cpu_new(&ctx, &cpu, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_new(m, cpu, 2, &plan, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_output_shape(plan).dims[1], 12);
  assert_int_equal(gesta_plan_run(plan, in, out, &err), GESTA_STATUS_OK);
  for (int row = 0; row < 6; row++) {
    float x0 = in[row * 2], x1 = in[row * 2 + 1];
    float want[4] = {x0 + 0.5f, 2 * x1 + 0.5f, 0.5f, 0.5f};
    for (int u = 0; u < 4; u++)
      assert_float_equal(out[row * 4 + u], want[u] > 0 ? want[u] : 0, 1e-6);
  }
  gesta_plan_free(plan);
  gesta_backend_free(cpu);
  gesta_model_free(m);
}

/* A chain of elementwise layers needs two activation buffers however long
 * it is, and views add none. */
static void test_plan_reuses_buffers(void **state) {
  const int64_t dims[] = {1000};
  const char *const ops[] = {"relu", "tanh",    "dropout", "sigmoid",
                             "relu", "flatten", "tanh"};
  gesta_model *m = core_model_new(dims, 1, 7, ops);
  gesta_context ctx;
  gesta_backend *cpu;
  gesta_plan *plan;
  gesta_error err;
  float in[1000], out[1000];
  (void)state;
  gesta_context_init(&ctx);
  core_set_attr(m, 2, "rate", "0.5");
  assert_int_equal(gesta_model_finalize(m, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_backend_cpu_new(&ctx, &cpu, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_new(m, cpu, 1, &plan, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_activation_bytes(plan), 2 * 1000 * sizeof(float));
  for (int i = 0; i < 1000; i++)
    in[i] = (float)(i - 500) / 100.0f;
  assert_int_equal(gesta_plan_run(plan, in, out, &err), GESTA_STATUS_OK);
  for (int i = 0; i < 1000; i++) {
    double x = in[i] > 0 ? in[i] : 0;
    x = tanh(x);
    x = 1.0 / (1.0 + exp(-x));
    x = tanh(x > 0 ? x : 0);
    assert_float_equal(out[i], x, 1e-6);
  }
  gesta_plan_free(plan);
  assert_int_equal(gesta_plan_new(m, cpu, 0, &plan, &err),
                   GESTA_STATUS_BAD_INPUT);
  gesta_backend_free(cpu);
  gesta_model_free(m);
}

static void test_plan_needs_weights(void **state) {
  const int64_t dims[] = {3};
  const char *const ops[] = {"dense"};
  gesta_model *m = core_model_new(dims, 1, 1, ops);
  gesta_context ctx;
  gesta_backend *cpu;
  gesta_plan *plan = NULL;
  gesta_error err;
  (void)state;
  gesta_context_init(&ctx);
  core_set_attr(m, 0, "units", "2");
  assert_int_equal(gesta_model_finalize(m, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_backend_cpu_new(&ctx, &cpu, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_new(m, cpu, 1, &plan, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_null(plan);
  assert_non_null(strstr(err.message, "l0.kernel"));
  gesta_backend_free(cpu);
  gesta_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_position_and_prefix),
      cmocka_unit_test(test_shape_helpers),
      cmocka_unit_test(test_rng_is_deterministic),
      cmocka_unit_test(test_attr_parse),
      cmocka_unit_test(test_graph_orders_layers_and_finds_output),
      cmocka_unit_test(test_graph_cycle_and_unknown_input),
      cmocka_unit_test(test_graph_shape_error_names_layer_and_shapes),
      cmocka_unit_test(test_time_distributed_shapes_and_run),
      cmocka_unit_test(test_plan_reuses_buffers),
      cmocka_unit_test(test_plan_needs_weights),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
