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

/* A device that runs nothing itself: host memory behind a non-CPU kind, so
 * every layer must fall back to the CPU reference through copies. */
static gesta_status mock_alloc(void *impl, size_t bytes, void **handle,
                               gesta_error *err) {
  (void)impl;
  (void)err;
  *handle = calloc(1, bytes ? bytes : 1);
  return *handle ? GESTA_STATUS_OK : GESTA_STATUS_OUT_OF_MEMORY;
}
static void mock_free(void *impl, void *handle) {
  (void)impl;
  free(handle);
}
static gesta_status mock_upload(void *impl, void *handle, size_t offset,
                                const void *src, size_t bytes,
                                gesta_error *err) {
  int *transfers = impl;
  (void)err;
  (*transfers)++;
  memcpy((char *)handle + offset, src, bytes);
  return GESTA_STATUS_OK;
}
static gesta_status mock_download(void *impl, void *handle, size_t offset,
                                  void *dst, size_t bytes, gesta_error *err) {
  int *transfers = impl;
  (void)err;
  (*transfers)++;
  memcpy(dst, (char *)handle + offset, bytes);
  return GESTA_STATUS_OK;
}
static bool mock_supports(void *impl, const gesta_op_call *call, char *why,
                          size_t why_size) {
  (void)impl;
  snprintf(why, why_size, "the mock device lacks %s",
           call->node->op->def->name);
  return false;
}
static gesta_status mock_sync(void *impl, gesta_error *err) {
  (void)impl;
  (void)err;
  return GESTA_STATUS_OK;
}
static const char *mock_device_name(void *impl) {
  (void)impl;
  return "mock (test device)";
}
static const gesta_backend_iface mock_iface = {
    .name = "mock",
    .kind = GESTA_BACKEND_OPENCL,
    .buffer_alloc = mock_alloc,
    .buffer_free = mock_free,
    .upload = mock_upload,
    .download = mock_download,
    .supports_op = mock_supports,
    .device_name = mock_device_name,
    .synchronize = mock_sync,
    .destroy = NULL,
};

static gesta_model *core_dense_relu_model(void) {
  const int64_t dims[] = {3};
  const char *const ops[] = {"dense", "flatten", "relu"};
  gesta_model *m = core_model_new(dims, 1, 3, ops);
  gesta_error err;
  core_set_attr(m, 0, "units", "4");
  assert_int_equal(gesta_model_finalize(m, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_model_init_weights(m, 7, &err), GESTA_STATUS_OK);
  for (int u = 0; u < 4; u++)
    m->params[1].data[u] = 0.25f * (float)u - 0.3f;
  return m;
}

static void test_fallback_runs_on_cpu_and_reports_it(void **state) {
  gesta_model *m = core_dense_relu_model();
  gesta_context ctx;
  gesta_backend *cpu, *mock = calloc(1, sizeof *mock);
  gesta_plan *ref_plan, *plan = NULL;
  gesta_plan_options strict = {.strict = true};
  gesta_error err;
  int transfers = 0;
  float in[2 * 3] = {1, -2, 0.5f, -1, 3, 2}, want[8], got[8];
  (void)state;
  gesta_context_init(&ctx);
  ctx.log_level = GESTA_LOG_ERROR; /* the fallback warnings are expected */
  mock->iface = &mock_iface;
  mock->impl = &transfers;
  mock->ctx = &ctx;
  assert_int_equal(gesta_backend_cpu_new(&ctx, &cpu, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_new(m, cpu, 2, &ref_plan, &err), 0);
  assert_int_equal(gesta_plan_run(ref_plan, in, want, &err), 0);

  assert_int_equal(
      gesta_plan_new_with_options(m, mock, 2, &strict, &plan, &err),
      GESTA_STATUS_UNSUPPORTED);
  assert_null(plan);
  assert_non_null(strstr(err.message, "layer 'l0' (dense)"));
  assert_non_null(strstr(err.message, "strict"));

  assert_int_equal(gesta_plan_new(m, mock, 2, &plan, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_placement_count(plan), 3);
  assert_true(gesta_plan_placement_at(plan, 0)->fallback);
  assert_string_equal(gesta_plan_placement_at(plan, 0)->device, "cpu");
  /* Without an OpenCL build the op has no kernel for the mock's kind; with
   * one, the mock refuses it: either way the reason names the op. */
  assert_non_null(strstr(gesta_plan_placement_at(plan, 0)->reason, "dense"));
  assert_string_equal(gesta_plan_placement_at(plan, 1)->device, "view");
  assert_false(gesta_plan_placement_at(plan, 1)->fallback);
  transfers = 0;
  assert_int_equal(gesta_plan_run(plan, in, got, &err), GESTA_STATUS_OK);
  /* input up; per fallback layer one copy in and one out; output down. */
  assert_int_equal(transfers, 1 + 2 * 2 + 1);
  for (int i = 0; i < 8; i++)
    assert_true(got[i] == want[i]);
  gesta_plan_free(plan);
  gesta_plan_free(ref_plan);
  gesta_backend_free(cpu);
  free(mock);
  gesta_model_free(m);
}

typedef struct observed {
  int calls;
  float last_dense[8];
} observed;

static gesta_status observe_layer(void *user, int layer,
                                  const gesta_shape *shape, const float *data,
                                  gesta_error *err) {
  observed *o = user;
  (void)err;
  o->calls++;
  if (layer == 0) {
    assert_int_equal(gesta_shape_count(shape), 8);
    memcpy(o->last_dense, data, sizeof o->last_dense);
  }
  return GESTA_STATUS_OK;
}

/* Every layer's output is shown, and running a layer on its own from those
 * outputs gives the same numbers. */
static void test_observed_run_and_single_layers(void **state) {
  gesta_model *m = core_dense_relu_model();
  gesta_context ctx;
  gesta_backend *cpu;
  gesta_plan *plan;
  gesta_error err;
  observed o = {0, {0}};
  float in[6] = {1, -2, 0.5f, -1, 3, 2}, out[8], dense[8], relu[8];
  const float *dense_in[] = {in}, *relu_in[] = {dense};
  gesta_shape s;
  (void)state;
  gesta_context_init(&ctx);
  assert_int_equal(gesta_backend_cpu_new(&ctx, &cpu, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_plan_new(m, cpu, 2, &plan, &err), GESTA_STATUS_OK);
  assert_int_equal(
      gesta_plan_run_observed(plan, in, out, observe_layer, &o, &err), 0);
  assert_int_equal(o.calls, 3);
  s = gesta_plan_layer_input_shape(plan, 0, 0);
  assert_int_equal(s.rank, 2);
  assert_int_equal(s.dims[1], 3);
  assert_int_equal(gesta_plan_run_layer(plan, 0, dense_in, dense, &err), 0);
  for (int i = 0; i < 8; i++)
    assert_true(dense[i] == o.last_dense[i]);
  assert_int_equal(gesta_plan_run_layer(plan, 2, relu_in, relu, &err), 0);
  for (int i = 0; i < 8; i++)
    assert_true(relu[i] == out[i]);
  assert_int_equal(gesta_plan_run_layer(plan, 9, relu_in, relu, &err),
                   GESTA_STATUS_BAD_INPUT);
  gesta_plan_free(plan);
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
      cmocka_unit_test(test_fallback_runs_on_cpu_and_reports_it),
      cmocka_unit_test(test_observed_run_and_single_layers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
