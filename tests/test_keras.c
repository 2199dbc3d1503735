/* Keras parity: the seed's two models, trained and saved by Keras itself
 * (tests/goldens/, made by tools/make-keras-goldens), converted by
 * tools/keras2gesta and run on the CPU reference and on every OpenCL device.
 * Every layer whose output Keras stored must match it:
 *
 *   max |gesta - keras| / max |keras|  <=  1e-5   (per layer)
 *
 * Both sides compute in float32; only the order of the additions differs
 * (im2col GEMM vs Keras' convolution, a different BLAS, the LSTM's fused
 * projection), which moves each value by a few units in the last place of
 * the largest partial sums. 1e-5 relative to the layer's largest value
 * leaves room for that over the LSTM's 20 steps while any real difference
 * (a transposed kernel, a wrong gate order, padding off by one) is orders
 * of magnitude larger.
 *
 * The inputs are "pattern" tensors both sides compute exactly, so only
 * their seeds are stored: x[i] = float32(((i + 7919 * seed) * 2654435761
 * mod 2^32) >> 24) / 255.
 *
 * Usage: test_keras [--case NAME] [--backend cpu|opencl] */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gesta/gesta.h"
#if GESTA_HAVE_OPENCL
#include "gesta/opencl.h"
#endif

extern char **environ;

#define KT_TOLERANCE 1e-5
#define KT_MAX_TARGETS 8
/* Oclgrind simulates every work item: only the smallest case runs there
 * (the op table checks every kernel's memory accesses on it). */
#define KT_OCLGRIND_MAX_INPUT 512

typedef struct kt_case {
  const char *name;        /* "cnn.h5@16x16" */
  const char *model;       /* under tests/goldens */
  const char *golden;      /* under tests/goldens */
  const char *input_shape; /* --input-shape, NULL: the model's own */
  bool every_layer;        /* the golden holds (or aliases) every layer */
} kt_case;

static const kt_case kt_cases[] = {
    {"cnn.h5@8x8", "cnn.h5", "cnn-8-forward", "8,8,3", true},
    {"cnn.h5", "cnn.h5", "cnn-forward", NULL, false},
    {"cnn.keras", "cnn.keras", "cnn-forward", NULL, false},
    {"cnn-k3.h5", "cnn-k3.h5", "cnn-forward", NULL, false},
    {"cnn.h5@16x16", "cnn.h5", "cnn-16-forward", "16,16,3", true},
    {"cnn.keras@16x16", "cnn.keras", "cnn-16-forward", "16,16,3", true},
    {"cnn-k3.h5@16x16", "cnn-k3.h5", "cnn-16-forward", "16,16,3", true},
    {"lrcn.h5", "lrcn.h5", "lrcn-forward", NULL, false},
    {"lrcn.keras", "lrcn.keras", "lrcn-forward", NULL, false},
    {"lrcn.h5@T=1", "lrcn.h5", "lrcn-t1-forward", "1,64,64,3", true},
    {"lrcn.keras@T=1", "lrcn.keras", "lrcn-t1-forward", "1,64,64,3", true},
};

typedef struct kt_target {
  gesta_backend *backend;
  char label[192];
  bool oclgrind;
} kt_target;

typedef struct kt_tally {
  int passed, failed, skipped;
} kt_tally;

/* What the observer compares against, and what it found. */
typedef struct kt_check {
  const gesta_model *model;
  gesta_safetensors *golden;
  int compared;
  int failed;
  double worst;
  char worst_layer[GESTA_NAME_MAX];
} kt_check;

static void kt_pattern(float *x, int64_t n, uint64_t seed) {
  for (int64_t i = 0; i < n; i++) {
    uint64_t v = (((uint64_t)i + 7919u * seed) * 2654435761u) % 4294967296u;
    x[i] = (float)(v >> 24) / 255.0f;
  }
}

/* Runs /usr/bin/python3 tools/keras2gesta; true when it exits 0. */
static bool kt_convert(const kt_case *c, const char *out_yaml) {
  char tool[1024], model[1024];
  snprintf(tool, sizeof tool, "%s/tools/keras2gesta", GESTA_SOURCE_DIR);
  snprintf(model, sizeof model, "%s/tests/goldens/%s", GESTA_SOURCE_DIR,
           c->model);
  char *argv[10] = {"/usr/bin/python3",
                    tool,
                    model,
                    "-o",
                    (char *)out_yaml,
                    "-q",
                    NULL,
                    NULL,
                    NULL,
                    NULL};
  if (c->input_shape) {
    argv[6] = "--input-shape";
    argv[7] = (char *)c->input_shape;
  }
  pid_t pid;
  int status = 0;
  if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0) {
    printf("  cannot start /usr/bin/python3\n");
    return false;
  }
  if (waitpid(pid, &status, 0) < 0)
    return false;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    printf("  keras2gesta %s failed (exit %d)\n", c->model,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return false;
  }
  return true;
}

static bool kt_parse_shape(const char *text, gesta_shape *shape) {
  shape->rank = 0;
  while (*text && shape->rank < GESTA_MAX_DIMS) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || v < 1)
      return false;
    shape->dims[shape->rank++] = v;
    text = *end == ',' ? end + 1 : end;
  }
  return shape->rank > 0 && *text == '\0';
}

static gesta_status kt_observe(void *user, int layer, const gesta_shape *shape,
                               const float *data, gesta_error *err) {
  kt_check *k = user;
  const char *name = k->model->nodes[layer].name;
  char key[GESTA_NAME_MAX + 8];
  (void)err;
  snprintf(key, sizeof key, "alias.%s", name);
  const char *alias = gesta_safetensors_metadata(k->golden, key);
  const gesta_safetensors_entry *e =
      gesta_safetensors_find(k->golden, alias ? alias : name);
  if (!e)
    return GESTA_STATUS_OK; /* not stored: too big for the repository */
  char a[64], b[64];
  if (!gesta_shape_equal(&e->shape, shape)) {
    printf("  FAIL layer %s: shape %s, Keras %s\n", name,
           gesta_shape_format(shape, a, sizeof a),
           gesta_shape_format(&e->shape, b, sizeof b));
    k->failed++;
    k->compared++;
    return GESTA_STATUS_OK;
  }
  int64_t n = gesta_shape_count(shape);
  float *want = malloc((size_t)n * sizeof *want + 1);
  if (!want)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  gesta_safetensors_read(e, want);
  double max_diff = 0, max_ref = 0;
  bool finite = true;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(data[i]))
      finite = false;
    double d = fabs((double)data[i] - want[i]);
    if (d > max_diff)
      max_diff = d;
    if (fabs(want[i]) > max_ref)
      max_ref = fabs(want[i]);
  }
  free(want);
  double rel = max_diff / (max_ref > 1e-30 ? max_ref : 1e-30);
  k->compared++;
  if (!finite || rel > KT_TOLERANCE) {
    printf("  FAIL layer %s: max|diff| %.3g, max|keras| %.3g, relative "
           "%.3g > %g%s\n",
           name, max_diff, max_ref, rel, KT_TOLERANCE,
           finite ? "" : " (NaN or Inf in gesta's output)");
    k->failed++;
  }
  if (rel > k->worst || !finite) {
    k->worst = finite ? rel : INFINITY;
    snprintf(k->worst_layer, sizeof k->worst_layer, "%s", name);
  }
  return GESTA_STATUS_OK;
}

typedef enum kt_result { KT_PASS, KT_FAIL, KT_SKIP } kt_result;

/* One converted model on one backend. */
static kt_result kt_run(const kt_case *c, const gesta_model *model,
                        gesta_safetensors *golden, const kt_target *t) {
  gesta_error err;
  gesta_error_clear(&err);
  gesta_shape in_shape;
  const char *shape_text = gesta_safetensors_metadata(golden, "input_shape");
  const char *seed_text = gesta_safetensors_metadata(golden, "input_seed");
  if (!shape_text || !seed_text || !kt_parse_shape(shape_text, &in_shape)) {
    printf("  FAIL %s: golden %s lacks input_shape/input_seed\n", c->name,
           c->golden);
    return KT_FAIL;
  }
  int64_t n_in = gesta_shape_count(&in_shape);
  if (t->oclgrind && n_in > KT_OCLGRIND_MAX_INPUT) {
    printf("  skip %s on %s: the simulator runs inputs of at most %d "
           "values\n",
           c->name, t->label, KT_OCLGRIND_MAX_INPUT);
    return KT_SKIP;
  }
  gesta_plan *plan = NULL;
  float *input = NULL, *output = NULL;
  bool ok = false;
  kt_check check = {.model = model, .golden = golden};
  if (gesta_plan_new(model, t->backend, in_shape.dims[0], &plan, &err) !=
      GESTA_STATUS_OK) {
    printf("  FAIL %s on %s: %s\n", c->name, t->label, err.message);
    return KT_FAIL;
  }
  gesta_shape out_shape = gesta_plan_output_shape(plan);
  input = malloc((size_t)n_in * sizeof *input);
  output = malloc((size_t)gesta_shape_count(&out_shape) * sizeof *output);
  if (!input || !output)
    goto done;
  kt_pattern(input, n_in, (uint64_t)strtoull(seed_text, NULL, 10));
  if (gesta_plan_run_observed(plan, input, output, kt_observe, &check, &err) !=
      GESTA_STATUS_OK) {
    printf("  FAIL %s on %s: %s\n", c->name, t->label, err.message);
    goto done;
  }
  int fallbacks = 0;
  for (int i = 0; i < gesta_plan_placement_count(plan); i++)
    fallbacks += gesta_plan_placement_at(plan, i)->fallback;
  if (check.compared == 0 ||
      (c->every_layer && check.compared != model->n_nodes)) {
    printf("  FAIL %s on %s: compared %d of %d layers\n", c->name, t->label,
           check.compared, model->n_nodes);
    goto done;
  }
  if (!gesta_safetensors_find(golden, model->nodes[model->output_node].name)) {
    printf("  FAIL %s: the golden lacks the output layer\n", c->name);
    goto done;
  }
  ok = check.failed == 0;
  printf("  %s %s on %s: %d layers match Keras, worst %.2g (%s)",
         ok ? "ok" : "FAIL", c->name, t->label, check.compared, check.worst,
         check.worst_layer);
  if (fallbacks)
    printf("; %d layer(s) ran on the CPU reference (no kernel yet)", fallbacks);
  printf("\n");
done:
  free(input);
  free(output);
  gesta_plan_free(plan);
  return ok ? KT_PASS : KT_FAIL;
}

static void kt_case_run(const gesta_context *ctx, const kt_case *c,
                        kt_target *targets, int n_targets, kt_tally *tally) {
  char yaml[1024], golden_path[1024], label[64];
  gesta_error err;
  gesta_model *model = NULL;
  gesta_safetensors *golden = NULL;
  gesta_error_clear(&err);
  printf("case %s (golden %s%s%s)\n", c->name, c->golden,
         c->input_shape ? ", --input-shape " : "",
         c->input_shape ? c->input_shape : "");
  snprintf(label, sizeof label, "%s", c->name);
  for (char *p = label; *p; p++)
    if (*p == '@' || *p == '=' || *p == '.')
      *p = '-';
  snprintf(yaml, sizeof yaml, "%s/keras-%s.yaml", GESTA_TEST_TMP, label);
  snprintf(golden_path, sizeof golden_path, "%s/tests/goldens/%s.safetensors",
           GESTA_SOURCE_DIR, c->golden);
  if (!kt_convert(c, yaml)) {
    tally->failed += n_targets;
    return;
  }
  if (gesta_model_load_file(ctx, yaml, &model, &err) != GESTA_STATUS_OK ||
      gesta_model_load_weights(model, model->weights_path, &err) !=
          GESTA_STATUS_OK ||
      gesta_safetensors_open(golden_path, &golden, &err) != GESTA_STATUS_OK) {
    printf("  FAIL %s: %s\n", c->name, err.message);
    tally->failed += n_targets;
    goto done;
  }
  for (int i = 0; i < n_targets; i++) {
    kt_result r = kt_run(c, model, golden, &targets[i]);
    if (r == KT_PASS)
      tally->passed++;
    else if (r == KT_FAIL)
      tally->failed++;
    else
      tally->skipped++;
  }
done:
  gesta_safetensors_close(golden);
  gesta_model_free(model);
}

#if GESTA_HAVE_OPENCL
static void kt_open_opencl(const gesta_context *ctx, kt_target *targets, int *n,
                           kt_tally *tally) {
  gesta_opencl_device_info *list = NULL;
  gesta_error err;
  int count = 0;
  gesta_error_clear(&err);
  if (gesta_opencl_list_devices(&list, &count, &err) != GESTA_STATUS_OK) {
    printf("opencl: FAIL: %s\n", err.message);
    tally->failed++;
    return;
  }
  if (count == 0)
    printf("opencl: no OpenCL device; Keras parity runs on the CPU only\n");
  for (int i = 0; i < count && *n < KT_MAX_TARGETS; i++) {
    char spec[24];
    snprintf(spec, sizeof spec, "%d:%d", list[i].platform_index,
             list[i].device_index);
    gesta_opencl_options options = {.device_spec = spec};
    kt_target *t = &targets[*n];
    if (gesta_backend_opencl_new(ctx, &options, &t->backend, &err) !=
        GESTA_STATUS_OK) {
      printf("opencl %s: FAIL: %s\n", spec, err.message);
      tally->failed++;
      continue;
    }
    snprintf(t->label, sizeof t->label, "opencl:%s (%s)", spec, list[i].name);
    t->oclgrind = strstr(list[i].platform, "Oclgrind") != NULL;
    (*n)++;
  }
  free(list);
}
#endif

int main(int argc, char **argv) {
  const char *only_case = NULL, *only_backend = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--case") == 0 && i + 1 < argc)
      only_case = argv[++i];
    else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
      only_backend = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--case NAME] [--backend cpu|opencl]\n",
              argv[0]);
      return 2;
    }
  }
  gesta_context ctx;
  gesta_context_init(&ctx);
  ctx.log_level = GESTA_LOG_ERROR; /* fallback warnings are counted instead */
  kt_tally tally = {0};
  kt_target targets[KT_MAX_TARGETS] = {0};
  int n_targets = 0;
  gesta_error err;
  gesta_error_clear(&err);
  if (!only_backend || strcmp(only_backend, "cpu") == 0) {
    if (gesta_backend_cpu_new(&ctx, &targets[0].backend, &err) !=
        GESTA_STATUS_OK) {
      printf("cpu: FAIL: %s\n", err.message);
      return 1;
    }
    snprintf(targets[0].label, sizeof targets[0].label, "cpu");
    n_targets = 1;
  }
  if (!only_backend || strcmp(only_backend, "opencl") == 0) {
#if GESTA_HAVE_OPENCL
    kt_open_opencl(&ctx, targets, &n_targets, &tally);
#else
    printf("opencl: this gesta was built without OpenCL (GESTA_OPENCL=OFF); "
           "Keras parity runs on the CPU only\n");
#endif
  }
  int matched = 0;
  for (size_t i = 0; i < sizeof kt_cases / sizeof kt_cases[0]; i++) {
    if (only_case && strcmp(only_case, kt_cases[i].name) != 0)
      continue;
    matched++;
    kt_case_run(&ctx, &kt_cases[i], targets, n_targets, &tally);
  }
  if (only_case && matched == 0) {
    printf("no case named '%s'\n", only_case);
    tally.failed++;
  }
  for (int i = 0; i < n_targets; i++)
    gesta_backend_free(targets[i].backend);
  printf("%d passed, %d failed, %d skipped\n", tally.passed, tally.failed,
         tally.skipped);
  return tally.failed == 0 && tally.passed > 0 ? 0 : 1;
}
