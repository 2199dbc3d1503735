/* gesta bench: how fast a model runs on a backend: start-up (kernel builds
 * from source against the kernel cache), the whole forward pass over K
 * iterations (median and spread, no per-layer waits), clips or frames per
 * second, and where the time goes layer by layer; with --train, training
 * steps instead (bench_train.c). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_train.h"
#include "cli.h"
#include "gesta/cpu.h"

#if GESTA_HAVE_OPENCL
#include "gesta/opencl.h"
#endif

static const char bench_usage[] = "gesta bench [OPTIONS] MODEL.yaml";

static const char bench_help[] =
    "Times a model on one backend with a seeded random input: start-up\n"
    "(backend, plan and first run; on OpenCL once with programs built from\n"
    "source and once from the kernel cache), the forward pass (median, min\n"
    "and max over the iterations, nothing waited for between layers),\n"
    "clips/s (frames/s for a per-frame model) and per-layer times. On\n"
    "OpenCL, per-layer times are device times from profiling events of\n"
    "ordinary runs (nothing waits between layers), with the share of\n"
    "CLBlast's GEMMs; on the CPU they come from runs that stop after each\n"
    "layer and copy its output, so they add up to more than the forward.\n"
    "\n"
    "With --train it times training steps instead, as gesta train runs\n"
    "them: forward in training mode, loss, backward and an Adam update\n"
    "(Keras' defaults) on one seeded random batch with random one-hot\n"
    "targets; median, min and max step time and clips/s (frames/s).\n"
    "\n"
    "Options:\n" CLI_BACKEND_HELP
    "  -n, --batch N           batch size (default 1; 4 with --train)\n"
    "  -k, --iterations K      timed forward passes or steps (default 10)\n"
    "      --warmup W          untimed passes or steps first (default 2)\n"
    "      --train             time training steps instead of forward passes\n"
    "      --threads N         threads of the CPU backend's kernels\n"
    "                          (default: the CPUs)\n"
    "  -w, --weights FILE      weights; default: the model's file, else\n"
    "                          seeded random weights (speed does not care)\n"
    "  -s, --seed N            seed of the input (default 0)\n"
    "      --json              print one JSON object instead of "
    "tables\n" CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta bench models/lrcn.yaml --backend cpu --batch 8\n"
    "  gesta bench models/cnn.yaml --device 0:0 --iterations 50 --json\n"
    "  gesta bench models/lrcn.yaml --backend cpu --train --threads 2\n"
    "\n" CLI_EXIT_CODES_HELP;

enum {
  BENCH_OPT_JSON = 256,
  BENCH_OPT_WARMUP,
  BENCH_OPT_TRAIN,
  BENCH_OPT_THREADS
};

#define BENCH_MAX_BATCH 4096
#define BENCH_MAX_ITER 100000

typedef struct bench_options {
  const char *model, *weights;
  int64_t batch, iterations, warmup, threads; /* threads 0: the default */
  uint64_t seed;
  bool json, train, batch_given;
} bench_options;

typedef struct bench_state {
  gesta_model *model;
  gesta_backend *backend;
  gesta_plan *plan;
  float *input, *output;
  const char *weights;
  bool opencl;
  double first_ms, source_ms, cached_ms; /* start-ups; < 0: not measured */
  double *forward;                       /* iterations ms, sorted */
  double *layer_ms;                      /* n_nodes x iterations */
  /* OpenCL only, from profiling events: */
  double *layer_gemm_ms;         /* n_nodes x iterations */
  double *span_ms, *busy_ms;     /* iterations: device span, busy */
  double *gemm_ms, *transfer_ms; /* iterations: GEMMs, uploads+downloads */
  int gemm_calls;                /* GEMMs in one forward pass */
  double mark;                   /* observer clock */
  int64_t iteration, n_iterations;
} bench_state;

static int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double bench_median(double *v, int64_t n) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static gesta_status bench_weights(const bench_options *opt, bench_state *st,
                                  gesta_error *err) {
  gesta_status s = cli_load_weights_or_random(st->model, opt->weights,
                                              opt->seed, &st->weights, err);
  if (!st->weights)
    st->weights = "seeded random";
  return s;
}

/* Backend + plan + first run, timed; the plan and backend are kept in st
 * when keep is set, else freed. */
static gesta_status bench_start(const cli_common *common,
                                const bench_options *opt, bench_state *st,
                                bool keep, double *ms, gesta_error *err) {
  gesta_backend *b = NULL;
  gesta_plan *p = NULL;
  gesta_plan_options po = {.strict = common->backend.strict};
  double t0 = cli_now_ms();
  gesta_status s = cli_backend_open(common, &b, err);
  if (s == GESTA_STATUS_OK)
    s = gesta_plan_new_with_options(st->model, b, opt->batch, &po, &p, err);
  if (s == GESTA_STATUS_OK)
    s = gesta_plan_run(p, st->input, st->output, err);
  *ms = cli_now_ms() - t0;
  if (s == GESTA_STATUS_OK && keep) {
    st->backend = b;
    st->plan = p;
    return s;
  }
  gesta_plan_free(p);
  gesta_backend_free(b);
  return s;
}

static gesta_status bench_layer_time(void *user, int layer,
                                     const gesta_shape *shape,
                                     const float *data, gesta_error *err) {
  bench_state *st = user;
  double now = cli_now_ms();
  (void)shape, (void)data, (void)err;
  st->layer_ms[(size_t)layer * (size_t)st->n_iterations +
               (size_t)st->iteration] = now - st->mark;
  /* The next layer's time starts once this callback is done. */
  st->mark = cli_now_ms();
  return GESTA_STATUS_OK;
}

#if GESTA_HAVE_OPENCL
/* One ordinary forward pass with profiling events, its times filed by
 * layer name under iteration i. */
static gesta_status bench_profile_run(bench_state *st, int64_t i,
                                      gesta_error *err) {
  const gesta_model *m = st->model;
  int64_t k = st->n_iterations;
  gesta_opencl_profile prof;
  gesta_status s = gesta_opencl_profile_begin(st->backend, err);
  if (s == GESTA_STATUS_OK)
    s = gesta_plan_run(st->plan, st->input, st->output, err);
  if (s != GESTA_STATUS_OK)
    return s;
  if ((s = gesta_opencl_profile_take(st->backend, &prof, err)) !=
      GESTA_STATUS_OK)
    return s;
  st->span_ms[i] = 1e-6 * (double)prof.span_ns;
  st->busy_ms[i] = 1e-6 * (double)prof.busy_ns;
  st->gemm_ms[i] = 1e-6 * (double)prof.gemm_ns;
  st->gemm_calls = prof.gemms;
  for (int l = 0; l < prof.n_layers; l++) {
    const gesta_opencl_profile_layer *pl = &prof.layers[l];
    if (!pl->label[0]) {
      st->transfer_ms[i] += 1e-6 * (double)pl->busy_ns;
      continue;
    }
    for (int n = 0; n < m->n_nodes; n++)
      if (strcmp(m->nodes[n].name, pl->label) == 0) {
        size_t at = (size_t)n * (size_t)k + (size_t)i;
        st->layer_ms[at] = 1e-6 * (double)pl->busy_ns;
        st->layer_gemm_ms[at] = 1e-6 * (double)pl->gemm_ns;
        break;
      }
  }
  gesta_opencl_profile_free(&prof);
  return GESTA_STATUS_OK;
}
#endif

/* Per-layer times: device times on OpenCL, wall clock around each layer
 * (waiting for it) elsewhere. */
static gesta_status bench_layers(bench_state *st, gesta_error *err) {
  int64_t k = st->n_iterations;
  gesta_status s;
#if GESTA_HAVE_OPENCL
  if (st->opencl) {
    size_t n = (size_t)(st->model->n_nodes * k);
    st->layer_gemm_ms = calloc(n ? n : 1, sizeof *st->layer_gemm_ms);
    st->span_ms = calloc((size_t)k, sizeof *st->span_ms);
    st->busy_ms = calloc((size_t)k, sizeof *st->busy_ms);
    st->gemm_ms = calloc((size_t)k, sizeof *st->gemm_ms);
    st->transfer_ms = calloc((size_t)k, sizeof *st->transfer_ms);
    if (!st->layer_gemm_ms || !st->span_ms || !st->busy_ms || !st->gemm_ms ||
        !st->transfer_ms)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < k; i++)
      if ((s = bench_profile_run(st, i, err)) != GESTA_STATUS_OK)
        return s;
    return GESTA_STATUS_OK;
  }
#endif
  for (st->iteration = 0; st->iteration < k; st->iteration++) {
    st->mark = cli_now_ms();
    if ((s = gesta_plan_run_observed(st->plan, st->input, st->output,
                                     bench_layer_time, st, err)) !=
        GESTA_STATUS_OK)
      return s;
  }
  return GESTA_STATUS_OK;
}

static gesta_status bench_measure(const cli_common *common,
                                  const bench_options *opt, bench_state *st,
                                  gesta_error *err) {
  int64_t k = opt->iterations, n = st->model->n_nodes;
  gesta_status s;
  /* Start-up: the run everyone gets, then (OpenCL) from source and from a
   * cache that the first start-up has just filled. */
  s = bench_start(common, opt, st, true, &st->first_ms, err);
  if (s != GESTA_STATUS_OK)
    return s;
  st->opencl = strcmp(gesta_backend_name(st->backend), "opencl") == 0;
  st->source_ms = st->cached_ms = -1.0;
  if (st->opencl && !common->backend.no_kernel_cache) {
    cli_common variant = *common;
    variant.backend.no_kernel_cache = true;
    /* One OpenCL backend at a time: CLBlast's process-wide cache is
     * cleared when the last one goes. */
    gesta_plan_free(st->plan);
    gesta_backend_free(st->backend);
    st->plan = NULL;
    st->backend = NULL;
    s = bench_start(&variant, opt, st, false, &st->source_ms, err);
    if (s == GESTA_STATUS_OK)
      s = bench_start(common, opt, st, true, &st->cached_ms, err);
    if (s != GESTA_STATUS_OK)
      return s;
  }
  st->forward = calloc((size_t)k, sizeof *st->forward);
  st->layer_ms = calloc((size_t)(n * k), sizeof *st->layer_ms);
  st->n_iterations = k;
  if (!st->forward || !st->layer_ms)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < opt->warmup; i++)
    if ((s = gesta_plan_run(st->plan, st->input, st->output, err)) !=
        GESTA_STATUS_OK)
      return s;
  for (int64_t i = 0; i < k; i++) {
    double t0 = cli_now_ms();
    if ((s = gesta_plan_run(st->plan, st->input, st->output, err)) !=
        GESTA_STATUS_OK)
      return s;
    st->forward[i] = cli_now_ms() - t0;
  }
  return bench_layers(st, err);
}

/* Clips for a model of T frames ((T, H, W, C) input), frames for a
 * per-frame one. */
static bool bench_is_clip(const gesta_model *m) {
  return m->input_shape.rank == 4;
}

static void bench_print(const bench_options *opt, bench_state *st) {
  const gesta_model *m = st->model;
  int64_t k = opt->iterations;
  double med = bench_median(st->forward, k), sum = 0.0;
  double per_s = med > 0.0 ? 1e3 * (double)opt->batch / med : 0.0;
  char shape[96];
  printf("model: %s (%s), batch %" PRId64 ", weights: %s\n", m->name, m->path,
         opt->batch, st->weights);
  printf("backend: %s\n", gesta_backend_device_name(st->backend));
  printf("start-up (backend + plan + first run): %.1f ms", st->first_ms);
  if (st->source_ms >= 0.0)
    printf("; programs from source: %.1f ms; from the kernel cache: %.1f ms",
           st->source_ms, st->cached_ms);
  printf("\nforward: median %.2f ms, min %.2f, max %.2f over %" PRId64
         " runs (after %" PRId64 " warm-up)\n",
         med, st->forward[0], st->forward[k - 1], k, opt->warmup);
  if (bench_is_clip(m))
    printf("throughput: %.2f clips/s (%.1f frames/s)\n", per_s,
           per_s * (double)m->input_shape.dims[0]);
  else
    printf("throughput: %.1f frames/s\n", per_s);
  if (st->span_ms) {
    double span = bench_median(st->span_ms, k);
    double gemm = bench_median(st->gemm_ms, k);
    printf("device (profiling events, median): forward %.2f ms from first "
           "command to last, busy %.2f ms; CLBlast GEMMs %.2f ms in %d "
           "calls (%.1f%% of the forward); uploads and downloads %.2f ms\n",
           span, bench_median(st->busy_ms, k), gemm, st->gemm_calls,
           span > 0.0 ? 100.0 * gemm / span : 0.0,
           bench_median(st->transfer_ms, k));
    printf("\nper layer (median device time of its commands, of which "
           "CLBlast GEMMs):\n");
  } else {
    printf("\nper layer (median; each waits for the device and copies its "
           "output to the host):\n");
  }
  printf("%-12s %-18s %-22s %10s %6s", "layer", "op", "shape", "ms", "share");
  printf(st->span_ms ? " %10s\n" : "\n", "gemm ms");
  double *med_layer = calloc((size_t)m->n_nodes, sizeof *med_layer);
  for (int i = 0; med_layer && i < m->n_nodes; i++)
    sum += med_layer[i] = bench_median(st->layer_ms + (size_t)i * (size_t)k, k);
  for (int i = 0; med_layer && i < m->n_nodes; i++) {
    gesta_shape s = gesta_plan_layer_output_shape(st->plan, i);
    printf("%-12s %-18s %-22s %10.3f %5.1f%%", m->nodes[i].name,
           m->nodes[i].op->def->name,
           gesta_shape_format(&s, shape, sizeof shape), med_layer[i],
           sum > 0.0 ? 100.0 * med_layer[i] / sum : 0.0);
    if (st->span_ms)
      printf(" %10.3f\n",
             bench_median(st->layer_gemm_ms + (size_t)i * (size_t)k, k));
    else
      printf("\n");
  }
  printf("%-12s %-18s %-22s %10.3f\n", "sum", "", "", sum);
  free(med_layer);
}

static int bench_print_json(const bench_options *opt, bench_state *st) {
  const gesta_model *m = st->model;
  int64_t k = opt->iterations;
  double med = bench_median(st->forward, k), mean = 0.0;
  double per_s = med > 0.0 ? 1e3 * (double)opt->batch / med : 0.0;
  cJSON *root = cJSON_CreateObject(), *fw, *su, *layers;
  char *text;
  for (int64_t i = 0; i < k; i++)
    mean += st->forward[i] / (double)k;
  cJSON_AddStringToObject(root, "model", m->name);
  cJSON_AddStringToObject(root, "file", m->path);
  cJSON_AddStringToObject(root, "weights", st->weights);
  cJSON_AddStringToObject(root, "backend", gesta_backend_name(st->backend));
  cJSON_AddStringToObject(root, "device",
                          gesta_backend_device_name(st->backend));
  cJSON_AddNumberToObject(root, "batch", (double)opt->batch);
  cJSON_AddNumberToObject(root, "iterations", (double)k);
  cJSON_AddNumberToObject(root, "warmup", (double)opt->warmup);
  fw = cJSON_AddObjectToObject(root, "forward_ms");
  cJSON_AddNumberToObject(fw, "median", med);
  cJSON_AddNumberToObject(fw, "min", st->forward[0]);
  cJSON_AddNumberToObject(fw, "max", st->forward[k - 1]);
  cJSON_AddNumberToObject(fw, "mean", mean);
  if (bench_is_clip(m)) {
    cJSON_AddNumberToObject(root, "clips_per_s", per_s);
    cJSON_AddNumberToObject(root, "frames_per_s",
                            per_s * (double)m->input_shape.dims[0]);
  } else {
    cJSON_AddNumberToObject(root, "frames_per_s", per_s);
  }
  su = cJSON_AddObjectToObject(root, "startup_ms");
  cJSON_AddNumberToObject(su, "first", st->first_ms);
  if (st->source_ms >= 0.0) {
    cJSON_AddNumberToObject(su, "from_source", st->source_ms);
    cJSON_AddNumberToObject(su, "from_cache", st->cached_ms);
  }
  cJSON_AddStringToObject(root, "layer_times", st->span_ms ? "device" : "wall");
  cJSON_AddBoolToObject(root, "layer_times_include_sync", !st->span_ms);
  if (st->span_ms) {
    cJSON *dev = cJSON_AddObjectToObject(root, "device_ms");
    cJSON_AddNumberToObject(dev, "forward", bench_median(st->span_ms, k));
    cJSON_AddNumberToObject(dev, "busy", bench_median(st->busy_ms, k));
    cJSON_AddNumberToObject(dev, "gemm", bench_median(st->gemm_ms, k));
    cJSON_AddNumberToObject(dev, "transfers", bench_median(st->transfer_ms, k));
    cJSON_AddNumberToObject(dev, "gemm_calls", st->gemm_calls);
  }
  layers = cJSON_AddArrayToObject(root, "layers");
  for (int i = 0; i < m->n_nodes; i++) {
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "layer", m->nodes[i].name);
    cJSON_AddStringToObject(l, "op", m->nodes[i].op->def->name);
    cJSON_AddNumberToObject(
        l, "median_ms", bench_median(st->layer_ms + (size_t)i * (size_t)k, k));
    if (st->span_ms)
      cJSON_AddNumberToObject(
          l, "gemm_ms",
          bench_median(st->layer_gemm_ms + (size_t)i * (size_t)k, k));
    cJSON_AddItemToArray(layers, l);
  }
  text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) {
    fprintf(stderr, "gesta: error: out of memory while writing JSON\n");
    return CLI_EXIT_FAILURE;
  }
  printf("%s\n", text);
  cJSON_free(text);
  return CLI_EXIT_OK;
}

static int bench_parse(cli_common *common, int argc, char **argv,
                       bench_options *opt, bool *done) {
  static const struct option options[] = {
      {"batch", required_argument, NULL, 'n'},
      {"iterations", required_argument, NULL, 'k'},
      {"warmup", required_argument, NULL, BENCH_OPT_WARMUP},
      {"weights", required_argument, NULL, 'w'},
      {"seed", required_argument, NULL, 's'},
      {"json", no_argument, NULL, BENCH_OPT_JSON},
      {"train", no_argument, NULL, BENCH_OPT_TRAIN},
      {"threads", required_argument, NULL, BENCH_OPT_THREADS},
      CLI_BACKEND_LONG_OPTIONS,
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  int c, rc = CLI_EXIT_OK;
  cli_getopt_begin(common, argv);
  while ((c = getopt_long(
              argc, argv,
              "n:k:w:s:" CLI_BACKEND_SHORT_OPTIONS CLI_COMMON_SHORT_OPTIONS,
              options, NULL)) != -1) {
    switch (c) {
    case 'n':
      if (!cli_parse_int64(optarg, 1, BENCH_MAX_BATCH, &opt->batch))
        return cli_usage_error(common,
                               "--batch wants a number from 1 to %d, got '%s'",
                               BENCH_MAX_BATCH, optarg);
      opt->batch_given = true;
      break;
    case 'k':
      if (!cli_parse_int64(optarg, 1, BENCH_MAX_ITER, &opt->iterations))
        return cli_usage_error(
            common, "--iterations wants a number from 1 to %d, got '%s'",
            BENCH_MAX_ITER, optarg);
      break;
    case BENCH_OPT_WARMUP:
      if (!cli_parse_int64(optarg, 0, BENCH_MAX_ITER, &opt->warmup))
        return cli_usage_error(common,
                               "--warmup wants a number from 0 to %d, got '%s'",
                               BENCH_MAX_ITER, optarg);
      break;
    case 'w':
      opt->weights = optarg;
      break;
    case 's':
      if (!cli_parse_uint64(optarg, &opt->seed))
        return cli_usage_error(
            common, "--seed wants a whole number >= 0, got '%s'", optarg);
      break;
    case BENCH_OPT_JSON:
      opt->json = true;
      break;
    case BENCH_OPT_TRAIN:
      opt->train = true;
      break;
    case BENCH_OPT_THREADS:
      if ((rc = cli_parse_threads(common, optarg, &opt->threads)))
        return rc;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", bench_usage, bench_help);
      *done = true;
      return CLI_EXIT_OK;
    default:
      if (cli_backend_option(common, c, optarg, &rc))
        break;
      if (!cli_common_option(common, c))
        return cli_usage_hint(common);
    }
    if (rc != CLI_EXIT_OK)
      return rc;
  }
  if (optind >= argc)
    return cli_usage_error(common, "missing MODEL.yaml");
  if (argc - optind > 1)
    return cli_usage_error(common, "one model at a time (got '%s' and '%s')",
                           argv[optind], argv[optind + 1]);
  opt->model = argv[optind];
  if (opt->train && !opt->batch_given)
    opt->batch = 4;
  return CLI_EXIT_OK;
}

static int cmd_bench_main(int argc, char **argv) {
  cli_common common;
  bench_options opt = {.batch = 1, .iterations = 10, .warmup = 2};
  bench_state st;
  gesta_error err;
  gesta_rng rng;
  bool done = false;
  int rc;

  memset(&st, 0, sizeof st);
  cli_common_init(&common, "bench", bench_usage);
  rc = bench_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  gesta_error_clear(&err);
  if (cli_load_model(&common, opt.model, &st.model, &err) != GESTA_STATUS_OK ||
      bench_weights(&opt, &st, &err) != GESTA_STATUS_OK)
    goto fail;
  if (opt.threads > 0)
    gesta_cpu_set_threads((int)opt.threads);
  if (opt.train) {
    bench_train_options to = {opt.batch, opt.iterations, opt.warmup,
                              opt.seed,  opt.json,       st.weights};
    rc = bench_train_run(&common, st.model, &to);
    goto cleanup;
  }
  {
    gesta_shape in = {st.model->input_shape.rank + 1, {opt.batch}};
    gesta_shape out = {
        st.model->nodes[st.model->output_node].output_shape.rank + 1,
        {opt.batch}};
    for (int i = 0; i < st.model->input_shape.rank; i++)
      in.dims[i + 1] = st.model->input_shape.dims[i];
    for (int i = 1; i < out.rank; i++)
      out.dims[i] =
          st.model->nodes[st.model->output_node].output_shape.dims[i - 1];
    st.input = malloc((size_t)gesta_shape_count(&in) * sizeof(float) + 1);
    st.output = malloc((size_t)gesta_shape_count(&out) * sizeof(float) + 1);
    if (!st.input || !st.output) {
      gesta_error_set(&err, GESTA_STATUS_OUT_OF_MEMORY,
                      "out of memory for a batch of %" PRId64
                      "; try a smaller --batch",
                      opt.batch);
      goto fail;
    }
    gesta_rng_seed(&rng, opt.seed);
    for (int64_t i = 0; i < gesta_shape_count(&in); i++)
      st.input[i] = (float)gesta_rng_uniform(&rng);
  }
  /* Per-layer device times on OpenCL come from profiling events. */
  common.backend.profiling = true;
  if (bench_measure(&common, &opt, &st, &err) != GESTA_STATUS_OK)
    goto fail;
  if (opt.json)
    rc = bench_print_json(&opt, &st);
  else
    bench_print(&opt, &st);
  goto cleanup;
fail:
  rc = cli_report(&common, &err);
cleanup:
  gesta_plan_free(st.plan);
  gesta_backend_free(st.backend);
  gesta_model_free(st.model);
  free(st.input);
  free(st.output);
  free(st.forward);
  free(st.layer_ms);
  free(st.layer_gemm_ms);
  free(st.span_ms);
  free(st.busy_ms);
  free(st.gemm_ms);
  free(st.transfer_ms);
  return rc;
}

const cli_command cli_command_bench = {
    .name = "bench",
    .summary = "time a model on a backend: start-up, forward, per layer",
    .main = cmd_bench_main,
};
