/* gesta tune: CLBlast's GEMM kernels tuned for one OpenCL device on the
 * GEMMs that models really run there, the winners kept next to the kernel
 * cache for every later run on that device. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#if GESTA_HAVE_OPENCL
#include "gesta/opencl.h"
#endif

static const char tune_usage[] = "gesta tune [OPTIONS] MODEL.yaml...";

static const char tune_help[] =
    "Tunes CLBlast's matrix-product kernels for one OpenCL device on the\n"
    "GEMMs the models run there, and keeps the fastest parameters next to\n"
    "the kernel cache: every later gesta command on that device (same\n"
    "driver) uses them. It times the models' GEMMs (device profiling\n"
    "events, median of K runs per model) with CLBlast's own parameters,\n"
    "then each candidate of CLBlast's limited search space for its large-\n"
    "GEMM kernel (Xgemm) and its small-GEMM kernel (XgemmDirect), then the\n"
    "size at which CLBlast switches between them. A candidate whose output\n"
    "differs from the first run's by more than 1e-4 (relative RMS) or that\n"
    "fails to build is rejected. Nothing is written when CLBlast's own\n"
    "parameters were as fast. docs/opencl.md has the details.\n"
    "\n"
    "Options:\n"
    "      --device SPEC       OpenCL device: an index P:D or part of its\n"
    "                          name, platform or vendor (see gesta devices);\n"
    "                          default: $GESTA_DEVICE, else the first GPU\n"
    "  -n, --batch N           batch size of every model (default 1)\n"
    "  -k, --iterations K      timed runs per model and candidate (default "
    "5)\n"
    "  -m, --max-candidates N  at most N sets per kernel, drawn with --seed\n"
    "                          (default 64; 0: all of them)\n"
    "  -w, --weights FILE      weights of a single model; default: each\n"
    "                          model's file, else seeded random weights\n"
    "  -s, --seed N            seed of the inputs and the draw (default 0)\n"
    "      --dry-run           tune and report, write nothing\n"
    "      --strict            fail instead of running a layer the device\n"
    "                          cannot run on the CPU "
    "reference\n" CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta tune models/lrcn.yaml --device nvidia\n"
    "  gesta tune models/lrcn.yaml models/cnn.yaml --batch 8 -m 0\n"
    "\n" CLI_EXIT_CODES_HELP;

#define TUNE_MAX_BATCH 4096
#define TUNE_MAX_ITER 1000
#define TUNE_MAX_MODELS 8
/* Relative RMS difference from the first run that rejects a candidate:
 * other tiles sum in another order (about 1e-7 here), a broken kernel
 * is far off. */
#define TUNE_TOLERANCE 1e-4

enum { TUNE_OPT_DRY_RUN = 0x100 };

typedef struct tune_options {
  const char *models[TUNE_MAX_MODELS];
  int n_models;
  int64_t batch, iterations, max_candidates;
  const char *weights;
  uint64_t seed;
  bool dry_run;
} tune_options;

#if GESTA_HAVE_OPENCL
typedef struct tune_model {
  gesta_model *model;
  gesta_plan *plan;
  float *input, *output, *reference;
  int64_t out_count;
} tune_model;

typedef struct tune_state {
  const cli_common *common;
  const tune_options *opt;
  gesta_backend *backend;
  tune_model models[TUNE_MAX_MODELS];
  int n_models;
  uint64_t sizes[256]; /* distinct m * n * k of the models' GEMMs */
  int n_sizes, gemms;
  double *times; /* opt->iterations */
} tune_state;

static int tune_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double tune_rel_rms(const float *a, const float *ref, int64_t n) {
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)ref[i];
    num += d * d;
    den += (double)ref[i] * (double)ref[i];
  }
  return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static void tune_note_sizes(tune_state *st, const gesta_opencl_profile *p) {
  st->gemms += p->gemms;
  for (int i = 0; i < p->gemms; i++) {
    int j = 0;
    while (j < st->n_sizes && st->sizes[j] != p->gemm_sizes[i])
      j++;
    if (j == st->n_sizes &&
        st->n_sizes < (int)(sizeof st->sizes / sizeof st->sizes[0]))
      st->sizes[st->n_sizes++] = p->gemm_sizes[i];
  }
}

/* Milliseconds of GEMMs per run: the median over the iterations of each
 * model, summed over the models; *matches says whether every output stayed
 * within TUNE_TOLERANCE of the first run's. */
static gesta_status tune_measure(tune_state *st, double *gemm_ms,
                                 double *span_ms, bool *matches,
                                 gesta_error *err) {
  int64_t k = st->opt->iterations;
  gesta_status s;
  *gemm_ms = *span_ms = 0.0;
  *matches = true;
  for (int m = 0; m < st->n_models; m++) {
    tune_model *tm = &st->models[m];
    double span = 0.0;
    /* The first run after new parameters compiles CLBlast's kernels. */
    if ((s = gesta_plan_run(tm->plan, tm->input, tm->output, err)) !=
        GESTA_STATUS_OK)
      return s;
    for (int64_t i = 0; i < k; i++) {
      gesta_opencl_profile prof;
      if ((s = gesta_opencl_profile_begin(st->backend, err)) !=
              GESTA_STATUS_OK ||
          (s = gesta_plan_run(tm->plan, tm->input, tm->output, err)) !=
              GESTA_STATUS_OK ||
          (s = gesta_opencl_profile_take(st->backend, &prof, err)) !=
              GESTA_STATUS_OK)
        return s;
      st->times[i] = 1e-6 * (double)prof.gemm_ns;
      span += 1e-6 * (double)prof.span_ns;
      if (!tm->reference && i == 0)
        tune_note_sizes(st, &prof);
      gesta_opencl_profile_free(&prof);
    }
    qsort(st->times, (size_t)k, sizeof *st->times, tune_cmp);
    *gemm_ms += st->times[k / 2];
    *span_ms += span / (double)k;
    if (!tm->reference) {
      tm->reference = malloc((size_t)tm->out_count * sizeof(float) + 1);
      if (!tm->reference)
        return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory");
      memcpy(tm->reference, tm->output, (size_t)tm->out_count * sizeof(float));
    } else if (tune_rel_rms(tm->output, tm->reference, tm->out_count) >
               TUNE_TOLERANCE) {
      *matches = false;
    }
  }
  return GESTA_STATUS_OK;
}

static void tune_format(const gesta_clblast_params *p, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < p->n && used < size; i++) {
    int n = snprintf(buf + used, size - used, "%s%s=%" PRIu64, i ? " " : "",
                     p->names[i], p->values[i]);
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

static void tune_progress(const tune_state *st, const char *what, int done,
                          int total, double best) {
  bool tty = isatty(STDERR_FILENO);
  if (st->common->ctx.log_level < GESTA_LOG_WARNING)
    return;
  if (tty)
    fprintf(stderr, "\r%s: %d/%d, best %.3f ms%s", what, done, total, best,
            done == total ? "\n" : "");
  else if (done == total || done % 16 == 0)
    fprintf(stderr, "%s: %d/%d, best %.3f ms\n", what, done, total, best);
}

/* Tries every set in cands (each applied on top of `routing`) and leaves
 * the fastest in *best; false in *found when none ran correctly. */
static gesta_status tune_search(tune_state *st, const char *what,
                                const gesta_clblast_params *routing,
                                gesta_clblast_params *cands, int n,
                                gesta_clblast_params *best, double *best_ms,
                                int *rejected, gesta_error *err) {
  gesta_status s = gesta_opencl_clblast_override(st->backend, routing, err);
  *best_ms = INFINITY;
  *rejected = 0;
  if (s != GESTA_STATUS_OK)
    return s;
  for (int i = 0; i < n; i++) {
    double ms = 0.0, span;
    bool ok = false;
    char text[512];
    gesta_error cand_err;
    gesta_error_clear(&cand_err);
    s = gesta_opencl_clblast_override(st->backend, &cands[i], &cand_err);
    if (s == GESTA_STATUS_OK)
      s = tune_measure(st, &ms, &span, &ok, &cand_err);
    tune_format(&cands[i], text, sizeof text);
    if (s != GESTA_STATUS_OK || !ok) {
      (*rejected)++;
      gesta_log(&st->common->ctx, GESTA_LOG_INFO, "%s %s: rejected: %s", what,
                text,
                s != GESTA_STATUS_OK ? cand_err.message : "its output differs");
    } else {
      gesta_log(&st->common->ctx, GESTA_LOG_INFO, "%s %s: %.4f ms", what, text,
                ms);
      if (ms < *best_ms) {
        *best_ms = ms;
        *best = cands[i];
      }
    }
    tune_progress(st, what, i + 1, n, *best_ms);
  }
  if (*best_ms == INFINITY)
    return gesta_error_set(err, GESTA_STATUS_BACKEND_ERROR,
                           "no %s candidate ran correctly on this device (%d "
                           "rejected; -v says why)",
                           what, *rejected);
  return gesta_opencl_clblast_override(st->backend, best, err);
}

/* Up to max sets of kernel's space, drawn with the seed (Fisher-Yates). */
static gesta_status tune_draw(tune_state *st, const char *kernel,
                              gesta_clblast_params **cands, int *n, int *total,
                              gesta_error *err) {
  gesta_rng rng;
  gesta_status s = gesta_clblast_candidates(st->backend, kernel, cands, n, err);
  if (s != GESTA_STATUS_OK)
    return s;
  *total = *n;
  gesta_rng_seed(&rng, st->opt->seed);
  for (int i = *n - 1; i > 0; i--) {
    int j = (int)(gesta_rng_next(&rng) % (uint64_t)(i + 1));
    gesta_clblast_params t = (*cands)[i];
    (*cands)[i] = (*cands)[j];
    (*cands)[j] = t;
  }
  if (st->opt->max_candidates > 0 && *n > st->opt->max_candidates)
    *n = (int)st->opt->max_candidates;
  return GESTA_STATUS_OK;
}

static void tune_routing(gesta_clblast_params *p, uint64_t edge) {
  memset(p, 0, sizeof *p);
  snprintf(p->kernel, sizeof p->kernel, "GemmRoutine");
  snprintf(p->names[0], sizeof p->names[0], "XGEMM_MIN_INDIRECT_SIZE");
  p->values[0] = edge;
  p->n = 1;
}

/* The smallest edge e with e^3 > size: that size and all below it take the
 * direct kernel. */
static uint64_t tune_edge_above(uint64_t size) {
  uint64_t e = (uint64_t)cbrt((double)size);
  while (e > 0 && e * e * e > size)
    e--;
  while (e * e * e <= size)
    e++;
  return e;
}

static gesta_status tune_models_open(tune_state *st, gesta_error *err) {
  const tune_options *opt = st->opt;
  gesta_plan_options po = {.strict = st->common->backend.strict};
  gesta_status s;
  for (int m = 0; m < opt->n_models; m++) {
    tune_model *tm = &st->models[m];
    gesta_rng rng;
    gesta_shape in, out;
    if ((s = cli_load_model(st->common, opt->models[m], &tm->model, err)) !=
        GESTA_STATUS_OK)
      return s;
    st->n_models++;
    if ((s = cli_load_weights_or_random(tm->model, opt->weights, opt->seed,
                                        NULL, err)) != GESTA_STATUS_OK)
      return s;
    if ((s = gesta_plan_new_with_options(tm->model, st->backend, opt->batch,
                                         &po, &tm->plan, err)) !=
        GESTA_STATUS_OK)
      return s;
    in = gesta_plan_input_shape(tm->plan);
    out = gesta_plan_output_shape(tm->plan);
    tm->out_count = gesta_shape_count(&out);
    tm->input = malloc((size_t)gesta_shape_count(&in) * sizeof(float) + 1);
    tm->output = malloc((size_t)tm->out_count * sizeof(float) + 1);
    if (!tm->input || !tm->output)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory for a batch of %" PRId64
                             "; try a smaller --batch",
                             opt->batch);
    gesta_rng_seed(&rng, opt->seed + (uint64_t)m);
    for (int64_t i = 0; i < gesta_shape_count(&in); i++)
      tm->input[i] = (float)gesta_rng_uniform(&rng);
  }
  return GESTA_STATUS_OK;
}

static gesta_status tune_run(tune_state *st, gesta_error *err) {
  gesta_clblast_params *cands = NULL, best[3], routing;
  double base_ms, base_span, ms, span;
  int n, total, rejected;
  bool ok;
  char text[512], path[4096], note[512];
  gesta_status s;
  const tune_options *opt = st->opt;

  if ((s = tune_models_open(st, err)) != GESTA_STATUS_OK)
    return s;
  printf("device: %s\n", gesta_backend_device_name(st->backend));
  for (int m = 0; m < st->n_models; m++)
    printf("model: %s (%s), batch %" PRId64 "\n", st->models[m].model->name,
           opt->models[m], opt->batch);
  if ((s = tune_measure(st, &base_ms, &base_span, &ok, err)) != GESTA_STATUS_OK)
    return s;
  if (st->gemms == 0)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "the models run no CLBlast GEMM on %s: nothing to "
                           "tune",
                           gesta_backend_device_name(st->backend));
  printf("CLBlast's own parameters: GEMMs %.4f ms per run (%d call%s, %d "
         "size%s), device span %.4f ms\n",
         base_ms, st->gemms, st->gemms == 1 ? "" : "s", st->n_sizes,
         st->n_sizes == 1 ? "" : "s", base_span);
  fflush(stdout);

  /* Every GEMM through the large-GEMM kernel, then through the small. */
  for (int k = 0; k < 2; k++) {
    static const char *const kernels[2] = {"Xgemm", "XgemmDirect"};
    double kernel_ms = 0.0;
    tune_routing(&routing, k == 0 ? 0 : 1u << 20);
    if ((s = tune_draw(st, kernels[k], &cands, &n, &total, err)) ==
        GESTA_STATUS_OK)
      s = tune_search(st, kernels[k], &routing, cands, n, &best[k], &kernel_ms,
                      &rejected, err);
    free(cands);
    cands = NULL;
    if (s != GESTA_STATUS_OK)
      return s;
    tune_format(&best[k], text, sizeof text);
    printf("%s: %d of %d sets tried, %d rejected; all GEMMs through it "
           "%.4f ms: %s\n",
           kernels[k], n, total, rejected, kernel_ms, text);
  }

  /* Where to switch: below each size the models use, and never. */
  best[2].n = 0;
  ms = INFINITY;
  for (int i = -1; i < st->n_sizes; i++) {
    double t, tspan;
    tune_routing(&routing, i < 0 ? 0 : tune_edge_above(st->sizes[i]));
    if ((s = gesta_opencl_clblast_override(st->backend, &routing, err)) !=
            GESTA_STATUS_OK ||
        (s = tune_measure(st, &t, &tspan, &ok, err)) != GESTA_STATUS_OK)
      return s;
    gesta_log(&st->common->ctx, GESTA_LOG_INFO,
              "XGEMM_MIN_INDIRECT_SIZE=%" PRIu64 ": %.4f ms%s",
              routing.values[0], t, ok ? "" : " (output differs)");
    if (ok && t < ms) {
      ms = t;
      best[2] = routing;
    }
  }
  if (best[2].n == 0)
    return gesta_error_set(err, GESTA_STATUS_BACKEND_ERROR,
                           "the tuned kernels' output differs from CLBlast's "
                           "defaults at every switch size");
  if ((s = gesta_opencl_clblast_override(st->backend, &best[2], err)) !=
          GESTA_STATUS_OK ||
      (s = tune_measure(st, &ms, &span, &ok, err)) != GESTA_STATUS_OK)
    return s;
  printf("switch: XGEMM_MIN_INDIRECT_SIZE=%" PRIu64
         " (GEMMs with m*n*k below its cube take XgemmDirect)\n",
         best[2].values[0]);
  printf("tuned: GEMMs %.4f ms per run (%.2fx CLBlast's own), device span "
         "%.4f ms (was %.4f)\n",
         ms, base_ms / ms, span, base_span);
  if (!ok || ms >= base_ms) {
    printf("not written: CLBlast's own parameters were as fast%s\n",
           ok ? "" : " (or the tuned output differs)");
    return GESTA_STATUS_OK;
  }
  if (opt->dry_run) {
    printf("not written (--dry-run)\n");
    return GESTA_STATUS_OK;
  }
  snprintf(note, sizeof note,
           "gesta tune, batch %" PRId64 ": GEMMs %.4f ms -> %.4f ms per run",
           opt->batch, base_ms, ms);
  if ((s = gesta_opencl_tuning_save(st->backend, best, 3, note, path,
                                    sizeof path, err)) != GESTA_STATUS_OK)
    return s;
  printf("written: %s\n", path);
  return GESTA_STATUS_OK;
}
#endif

static int tune_parse(cli_common *common, int argc, char **argv,
                      tune_options *opt, bool *done) {
  static const struct option options[] = {
      {"batch", required_argument, NULL, 'n'},
      {"iterations", required_argument, NULL, 'k'},
      {"max-candidates", required_argument, NULL, 'm'},
      {"weights", required_argument, NULL, 'w'},
      {"seed", required_argument, NULL, 's'},
      {"dry-run", no_argument, NULL, TUNE_OPT_DRY_RUN},
      CLI_BACKEND_LONG_OPTIONS,
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  int c, rc = CLI_EXIT_OK;
  cli_getopt_begin(common, argv);
  while ((c = getopt_long(
              argc, argv,
              "n:k:m:w:s:" CLI_BACKEND_SHORT_OPTIONS CLI_COMMON_SHORT_OPTIONS,
              options, NULL)) != -1) {
    switch (c) {
    case 'n':
      if (!cli_parse_int64(optarg, 1, TUNE_MAX_BATCH, &opt->batch))
        return cli_usage_error(common,
                               "--batch wants a number from 1 to %d, got '%s'",
                               TUNE_MAX_BATCH, optarg);
      break;
    case 'k':
      if (!cli_parse_int64(optarg, 1, TUNE_MAX_ITER, &opt->iterations))
        return cli_usage_error(
            common, "--iterations wants a number from 1 to %d, got '%s'",
            TUNE_MAX_ITER, optarg);
      break;
    case 'm':
      if (!cli_parse_int64(optarg, 0, 1000000, &opt->max_candidates))
        return cli_usage_error(
            common, "--max-candidates wants a number >= 0, got '%s'", optarg);
      break;
    case 'w':
      opt->weights = optarg;
      break;
    case 's':
      if (!cli_parse_uint64(optarg, &opt->seed))
        return cli_usage_error(
            common, "--seed wants a whole number >= 0, got '%s'", optarg);
      break;
    case TUNE_OPT_DRY_RUN:
      opt->dry_run = true;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", tune_usage, tune_help);
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
  if (common->backend.backend_given &&
      strcmp(common->backend.backend, "opencl") != 0)
    return cli_usage_error(common, "gesta tune tunes CLBlast on an OpenCL "
                                   "device; --backend must be opencl");
  common->backend.backend = "opencl";
  if (common->backend.no_kernel_cache && !opt->dry_run)
    return cli_usage_error(common, "--no-kernel-cache keeps no files, so the "
                                   "tuning could not be kept; add --dry-run "
                                   "to tune without keeping it");
  if (optind >= argc)
    return cli_usage_error(common, "missing MODEL.yaml");
  if (argc - optind > TUNE_MAX_MODELS)
    return cli_usage_error(common, "at most %d models at a time",
                           TUNE_MAX_MODELS);
  if (opt->weights && argc - optind > 1)
    return cli_usage_error(common, "--weights needs a single model");
  for (int i = optind; i < argc; i++)
    opt->models[opt->n_models++] = argv[i];
  return CLI_EXIT_OK;
}

static int cmd_tune_main(int argc, char **argv) {
  cli_common common;
  tune_options opt = {.batch = 1, .iterations = 5, .max_candidates = 64};
  gesta_error err;
  bool done = false;
  int rc;
  cli_common_init(&common, "tune", tune_usage);
  rc = tune_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  gesta_error_clear(&err);
#if GESTA_HAVE_OPENCL
  {
    tune_state st;
    memset(&st, 0, sizeof st);
    st.common = &common;
    st.opt = &opt;
    /* The baseline is CLBlast's own parameters, not an earlier tuning. */
    common.backend.no_tuning = true;
    common.backend.profiling = true;
    st.times = calloc((size_t)opt.iterations, sizeof *st.times);
    if (!st.times)
      gesta_error_set(&err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
    else if (cli_backend_open(&common, &st.backend, &err) == GESTA_STATUS_OK)
      tune_run(&st, &err);
    rc =
        err.status == GESTA_STATUS_OK ? CLI_EXIT_OK : cli_report(&common, &err);
    for (int m = 0; m < st.n_models; m++) {
      gesta_plan_free(st.models[m].plan);
      gesta_model_free(st.models[m].model);
      free(st.models[m].input);
      free(st.models[m].output);
      free(st.models[m].reference);
    }
    gesta_backend_free(st.backend);
    free(st.times);
  }
#else
  gesta_error_set(&err, GESTA_STATUS_BAD_INPUT,
                  "this gesta was built without OpenCL (GESTA_OPENCL=OFF)");
  rc = cli_report(&common, &err);
#endif
  return rc;
}

const cli_command cli_command_tune = {
    .name = "tune",
    .summary = "tune CLBlast's GEMM kernels for an OpenCL device",
    .main = cmd_tune_main,
};
