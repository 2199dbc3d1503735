/* gesta check: does every OpenCL device compute what the CPU reference
 * computes? Each device runs the model whole (every layer's output compared
 * with the CPU's) and every layer on its own with the CPU's inputs, so the
 * first op that diverges is named with what it takes to reproduce it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_report.h"
#include "cli.h"

static const char check_usage[] =
    "gesta check [OPTIONS] MODEL.yaml [--devices all|SPEC,...]";

static const char check_help[] =
    "Runs a model on OpenCL devices and on the CPU reference with the same\n"
    "seeded random input and compares them, layer by layer: each layer run\n"
    "on its own on the CPU's inputs ('alone': pinpoints the op), and the\n"
    "whole model on the device ('in_model': shows what builds up). The\n"
    "first layer that diverges is printed as a minimal reproduction. Each\n"
    "device's verdict is remembered next to the kernel cache and shown by\n"
    "gesta devices. docs/checks.md explains the tolerances.\n"
    "\n"
    "Options:\n"
    "  -d, --devices LIST      all (default) or comma-separated device specs:\n"
    "                          an index P:D or part of a platform, device or\n"
    "                          vendor name (see gesta devices)\n"
    "  -w, --weights FILE      weights (safetensors); default: the model's\n"
    "                          file, else seeded random weights\n"
    "  -s, --seed N            seed of the input and random weights "
    "(default 0)\n"
    "  -n, --batch N           batch size (default 1)\n"
    "      --layer NAME        check only this layer (on the CPU's inputs)\n"
    "  -t, --tolerance LIST    op=rel,... relative RMS errors allowed, e.g.\n"
    "                          conv2d=1e-3; 'model' is the whole model's "
    "output\n"
    "      --json FILE         write the whole report as JSON (- = stdout,\n"
    "                          and the table goes to stderr)\n"
    "      --no-kernel-cache   build OpenCL programs from source, store none\n"
    "      --strict            a layer falling back to the CPU fails the "
    "check\n" CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta check models/lrcn.yaml\n"
    "  gesta check models/cnn.yaml --devices 0:0 --batch 4 --json report.json\n"
    "  GESTA_CL_SOURCE_DIR=mykernels gesta check models/cnn.yaml\n"
    "\n"
    "Exit codes: 0 every device agrees with the CPU, 1 a device disagrees or\n"
    "failed, 2 bad usage or bad input.\n";

enum {
  CHECK_OPT_JSON = 256,
  CHECK_OPT_LAYER,
  CHECK_OPT_NO_CACHE,
  CHECK_OPT_STRICT
};

#define CHECK_MAX_BATCH 4096

typedef struct check_options {
  const char *model, *weights, *devices, *json, *layer;
  uint64_t seed;
  int64_t batch;
  bool no_kernel_cache, strict;
  check_tolerances tolerances;
} check_options;

static int check_parse(cli_common *common, int argc, char **argv,
                       check_options *opt, bool *done) {
  static const struct option options[] = {
      {"devices", required_argument, NULL, 'd'},
      {"weights", required_argument, NULL, 'w'},
      {"seed", required_argument, NULL, 's'},
      {"batch", required_argument, NULL, 'n'},
      {"tolerance", required_argument, NULL, 't'},
      {"layer", required_argument, NULL, CHECK_OPT_LAYER},
      {"json", required_argument, NULL, CHECK_OPT_JSON},
      {"no-kernel-cache", no_argument, NULL, CHECK_OPT_NO_CACHE},
      {"strict", no_argument, NULL, CHECK_OPT_STRICT},
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  char why[256];
  int c;
  cli_getopt_begin(common, argv);
  while ((c = getopt_long(argc, argv, "d:w:s:n:t:" CLI_COMMON_SHORT_OPTIONS,
                          options, NULL)) != -1) {
    switch (c) {
    case 'd':
      if (!*optarg)
        return cli_usage_error(common, "--devices wants 'all' or device specs");
      opt->devices = optarg;
      break;
    case 'w':
      opt->weights = optarg;
      break;
    case 's':
      if (!cli_parse_uint64(optarg, &opt->seed))
        return cli_usage_error(
            common, "--seed wants a whole number >= 0, got '%s'", optarg);
      break;
    case 'n':
      if (!cli_parse_int64(optarg, 1, CHECK_MAX_BATCH, &opt->batch))
        return cli_usage_error(common,
                               "--batch wants a number from 1 to %d, got '%s'",
                               CHECK_MAX_BATCH, optarg);
      break;
    case 't':
      if (!check_tolerances_parse(&opt->tolerances, optarg, why, sizeof why))
        return cli_usage_error(common, "--tolerance: %s", why);
      break;
    case CHECK_OPT_LAYER:
      opt->layer = optarg;
      break;
    case CHECK_OPT_JSON:
      opt->json = optarg;
      break;
    case CHECK_OPT_NO_CACHE:
      opt->no_kernel_cache = true;
      break;
    case CHECK_OPT_STRICT:
      opt->strict = true;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", check_usage, check_help);
      *done = true;
      return CLI_EXIT_OK;
    default:
      if (!cli_common_option(common, c))
        return cli_usage_hint(common);
    }
  }
  if (optind >= argc)
    return cli_usage_error(common, "missing MODEL.yaml");
  if (argc - optind > 1)
    return cli_usage_error(common, "one model at a time (got '%s' and '%s')",
                           argv[optind], argv[optind + 1]);
  opt->model = argv[optind];
  return CLI_EXIT_OK;
}

/* The CPU reference: every value of the model (0: the input, i + 1: layer
 * i's output), full shapes. */
typedef struct check_reference {
  float **values;
  int n_values;
} check_reference;

#if GESTA_HAVE_OPENCL

static gesta_status check_keep_value(void *user, int layer,
                                     const gesta_shape *shape,
                                     const float *data, gesta_error *err) {
  check_reference *ref = user;
  size_t bytes = (size_t)gesta_shape_count(shape) * sizeof(float);
  ref->values[layer + 1] = malloc(bytes ? bytes : 1);
  if (!ref->values[layer + 1])
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory keeping the CPU's output of layer "
                           "%d (%zu bytes)",
                           layer, bytes);
  memcpy(ref->values[layer + 1], data, bytes);
  return GESTA_STATUS_OK;
}

static gesta_status check_run_reference(const cli_common *common,
                                        const gesta_model *model, int64_t batch,
                                        check_reference *ref,
                                        gesta_error *err) {
  gesta_backend *cpu = NULL;
  gesta_plan *plan = NULL;
  float *out = NULL;
  gesta_status st = gesta_backend_cpu_new(&common->ctx, &cpu, err);
  if (st == GESTA_STATUS_OK)
    st = gesta_plan_new(model, cpu, batch, &plan, err);
  if (st == GESTA_STATUS_OK) {
    gesta_shape os = gesta_plan_output_shape(plan);
    out = malloc((size_t)gesta_shape_count(&os) * sizeof(float) + 1);
    if (!out)
      st = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for the model output");
  }
  if (st == GESTA_STATUS_OK)
    st = gesta_plan_run_observed(plan, ref->values[0], out, check_keep_value,
                                 ref, err);
  if (st != GESTA_STATUS_OK)
    gesta_error_prefix(err, "the CPU reference failed: ");
  free(out);
  gesta_plan_free(plan);
  gesta_backend_free(cpu);
  return st;
}

/* What a device run compares as it goes. */
typedef struct check_observe {
  const check_reference *ref;
  check_device *device;
  const check_tolerances *tolerances;
} check_observe;

static gesta_status check_compare_value(void *user, int layer,
                                        const gesta_shape *shape,
                                        const float *data, gesta_error *err) {
  check_observe *o = user;
  check_layer *l = &o->device->layers[layer];
  (void)err;
  check_stats_compute(data, o->ref->values[layer + 1], gesta_shape_count(shape),
                      &l->chained);
  /* Rounding builds up along the model: a layer in the whole run gets ten
   * times its op's tolerance before it counts as drifting. */
  l->chained_ok = check_stats_pass(&l->chained, 10.0 * l->tolerance);
  return GESTA_STATUS_OK;
}

static void check_layers_init(const check_options *opt,
                              const gesta_model *model, gesta_plan *plan,
                              check_device *d) {
  for (int i = 0; i < model->n_nodes; i++) {
    check_layer *l = &d->layers[i];
    const gesta_placement *p = gesta_plan_placement_at(plan, i);
    l->node = &model->nodes[i];
    l->shape = gesta_plan_layer_output_shape(plan, i);
    l->tolerance =
        check_tolerance_for(&opt->tolerances, l->node->op->def->name);
    if (p) {
      l->fallback = p->fallback;
      snprintf(l->placement, sizeof l->placement, "%s%s%s%s",
               p->fallback ? "FALLBACK to " : "", p->device,
               p->fallback ? ": " : "", p->fallback ? p->reason : "");
    }
  }
}

/* Every layer on its own, fed the CPU's values of its inputs. */
static gesta_status check_layers_alone(const check_options *opt,
                                       const gesta_model *model,
                                       gesta_plan *plan,
                                       const check_reference *ref,
                                       check_device *d, gesta_error *err) {
  for (int i = 0; i < model->n_nodes; i++) {
    const gesta_node *node = &model->nodes[i];
    const float *inputs[GESTA_MAX_INPUTS];
    check_layer *l = &d->layers[i];
    int64_t count = gesta_shape_count(&l->shape);
    float *out;
    gesta_status st;
    if (opt->layer && strcmp(opt->layer, node->name) != 0)
      continue;
    for (int k = 0; k < node->n_inputs; k++)
      inputs[k] = ref->values[node->inputs[k] + 1];
    out = malloc((size_t)count * sizeof *out + 1);
    if (!out)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory for layer '%s'", node->name);
    st = gesta_plan_run_layer(plan, i, inputs, out, err);
    if (st == GESTA_STATUS_OK) {
      check_stats_compute(out, ref->values[i + 1], count, &l->isolated);
      l->isolated_ok = check_stats_pass(&l->isolated, l->tolerance);
    }
    free(out);
    if (st != GESTA_STATUS_OK)
      return st;
    if (!l->isolated_ok && d->first_bad < 0)
      d->first_bad = i;
  }
  return GESTA_STATUS_OK;
}

static void check_device_run(const cli_common *common, const check_options *opt,
                             const gesta_model *model,
                             const check_reference *ref, check_device *d) {
  gesta_opencl_options cl = {.device_spec = d->spec,
                             .no_kernel_cache = opt->no_kernel_cache};
  gesta_plan_options po = {.strict = opt->strict};
  gesta_backend *backend = NULL;
  gesta_plan *plan = NULL;
  float *out = NULL;
  gesta_error err;
  gesta_status st;
  gesta_error_clear(&err);
  d->first_bad = d->first_drift = -1;
  d->layers = calloc((size_t)model->n_nodes, sizeof *d->layers);
  if (!d->layers) {
    snprintf(d->error, sizeof d->error, "out of memory");
    return;
  }
  st = gesta_backend_opencl_new(&common->ctx, &cl, &backend, &err);
  if (st == GESTA_STATUS_OK)
    st = gesta_plan_new_with_options(model, backend, opt->batch, &po, &plan,
                                     &err);
  if (st != GESTA_STATUS_OK)
    goto done;
  check_layers_init(opt, model, plan, d);
  if (!opt->layer) {
    gesta_shape os = gesta_plan_output_shape(plan);
    check_observe o = {ref, d, &opt->tolerances};
    out = malloc((size_t)gesta_shape_count(&os) * sizeof *out + 1);
    if (!out) {
      st = gesta_error_set(&err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for the model output");
      goto done;
    }
    st = gesta_plan_run_observed(plan, ref->values[0], out, check_compare_value,
                                 &o, &err);
    if (st != GESTA_STATUS_OK)
      goto done;
    check_stats_compute(out, ref->values[model->output_node + 1],
                        gesta_shape_count(&os), &d->output);
    d->output_ok = check_stats_pass(
        &d->output, check_tolerance_for(&opt->tolerances, "model"));
    for (int i = 0; i < model->n_nodes && d->first_drift < 0; i++)
      if (!d->layers[i].chained_ok)
        d->first_drift = i;
  } else {
    d->output_ok = true;
  }
  st = check_layers_alone(opt, model, plan, ref, d, &err);
done:
  if (st != GESTA_STATUS_OK) {
    snprintf(d->error, sizeof d->error, "%s", err.message);
    if (err.detail[0] && common->ctx.log_level >= GESTA_LOG_INFO)
      snprintf(d->error + strlen(d->error), sizeof d->error - strlen(d->error),
               "\n%s", err.detail);
  }
  d->passed = st == GESTA_STATUS_OK && d->first_bad < 0 && d->output_ok;
  for (int i = 0; d->passed && i < model->n_nodes; i++)
    if (opt->strict && d->layers[i].fallback)
      d->passed = false;
  free(out);
  gesta_plan_free(plan);
  gesta_backend_free(backend);
}

static bool check_spec_matches(const gesta_opencl_device_info *d,
                               const char *spec, size_t len) {
  char s[128];
  int p, q;
  char end;
  if (len == 0 || len >= sizeof s)
    return false;
  memcpy(s, spec, len);
  s[len] = '\0';
  if (sscanf(s, "%d:%d%c", &p, &q, &end) == 2)
    return p == d->platform_index && q == d->device_index;
  /* The same fields as --device: PoCL names itself in its versions. */
  const char *fields[] = {d->platform, d->name, d->vendor, d->device_version,
                          d->driver_version};
  for (int f = 0; f < 5; f++)
    for (const char *h = fields[f]; *h; h++) {
      size_t i = 0;
      while (i < len && h[i] &&
             (h[i] | 0x20) == (s[i] | 0x20) /* ASCII case folding */)
        i++;
      if (i == len)
        return true;
    }
  return false;
}

/* The devices --devices names, in `gesta devices` order. */
static gesta_status check_select_devices(const check_options *opt,
                                         check_report *r, gesta_error *err) {
  gesta_opencl_device_info *list = NULL;
  int n = 0;
  gesta_status st = gesta_opencl_list_devices(&list, &n, err);
  if (st != GESTA_STATUS_OK)
    return st;
  if (n == 0) {
    free(list);
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "no OpenCL device to check (install "
                           "pocl-opencl-icd for CPUs, or a GPU's OpenCL "
                           "driver; gesta devices lists what is seen)");
  }
  r->devices = calloc((size_t)n, sizeof *r->devices);
  if (!r->devices) {
    free(list);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  bool all = strcmp(opt->devices, "all") == 0;
  /* Every spec must match something: a typo is not a pass. */
  for (const char *p = opt->devices; !all && *p;) {
    size_t len = strcspn(p, ",");
    bool any = false;
    for (int i = 0; i < n; i++)
      any = any || check_spec_matches(&list[i], p, len);
    if (!any) {
      st = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "--devices: no OpenCL device matches '%.*s' (see "
                           "gesta devices)",
                           (int)len, p);
      free(list);
      return st;
    }
    p += len + (p[len] == ',');
  }
  for (int i = 0; i < n; i++) {
    bool pick = all;
    for (const char *p = opt->devices; !pick && *p;) {
      size_t len = strcspn(p, ",");
      pick = check_spec_matches(&list[i], p, len);
      p += len + (p[len] == ',');
    }
    if (!pick)
      continue;
    check_device *d = &r->devices[r->n_devices++];
    snprintf(d->spec, sizeof d->spec, "%d:%d", list[i].platform_index,
             list[i].device_index);
    snprintf(d->name, sizeof d->name, "%s", list[i].name);
    snprintf(d->platform, sizeof d->platform, "%s", list[i].platform);
    snprintf(d->driver, sizeof d->driver, "%s", list[i].driver_version);
    snprintf(d->label, sizeof d->label, "opencl %s %s (%s)", d->spec, d->name,
             d->platform);
  }
  free(list);
  return GESTA_STATUS_OK;
}

/* The model's weights: --weights, else its own file, else seeded random
 * ones (said in the report). */
static gesta_status check_weights(const check_options *opt, gesta_model *m,
                                  check_report *r, gesta_error *err) {
  const char *file = NULL;
  gesta_status s =
      cli_load_weights_or_random(m, opt->weights, opt->seed, &file, err);
  r->random_weights = !file;
  if (file)
    snprintf(r->weights, sizeof r->weights, "%s", file);
  else
    snprintf(r->weights, sizeof r->weights,
             "seeded random (gesta init --seed %" PRIu64
             "; the model has no weights file%s)",
             opt->seed, m->weights_path[0] ? " yet" : "");
  return s;
}

static gesta_status check_input(const check_options *opt, const gesta_model *m,
                                check_reference *ref, gesta_error *err) {
  gesta_shape in = {m->input_shape.rank + 1, {opt->batch}};
  gesta_rng rng;
  for (int i = 0; i < m->input_shape.rank; i++)
    in.dims[i + 1] = m->input_shape.dims[i];
  int64_t count = gesta_shape_count(&in);
  ref->n_values = m->n_nodes + 1;
  ref->values = calloc((size_t)ref->n_values, sizeof *ref->values);
  if (!ref->values ||
      !(ref->values[0] = malloc((size_t)count * sizeof(float) + 1)))
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for an input of %" PRId64
                           " floats; try a smaller --batch",
                           count);
  /* The same stream as gesta run --random-input with this seed. */
  gesta_rng_seed(&rng, opt->seed);
  for (int64_t i = 0; i < count; i++)
    ref->values[0][i] = (float)gesta_rng_uniform(&rng);
  return GESTA_STATUS_OK;
}

static int check_finish(const cli_common *common, const check_options *opt,
                        check_report *r) {
  gesta_error err;
  const char *override = getenv("GESTA_CL_SOURCE_DIR");
  r->passed = r->n_devices > 0;
  for (int i = 0; i < r->n_devices; i++)
    r->passed = r->passed && r->devices[i].passed;
  check_report_print(opt->json && strcmp(opt->json, "-") == 0 ? stderr : stdout,
                     r);
  gesta_error_clear(&err);
  if (opt->json &&
      check_report_write_json(r, opt->json, &err) != GESTA_STATUS_OK)
    return cli_report(common, &err);
  /* Only the kernels gesta ships, on the whole model, say a device passes. */
  if (override && *override)
    gesta_log(&common->ctx, GESTA_LOG_WARNING,
              "GESTA_CL_SOURCE_DIR is set: kernels come from %s, so this "
              "check is not recorded for gesta devices",
              override);
  else if (!opt->layer)
    check_results_record(&common->ctx, r);
  return r->passed ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

#endif

static int cmd_check_main(int argc, char **argv) {
  cli_common common;
  check_options opt = {.devices = "all", .batch = 1};
  check_report r;
  check_reference ref = {NULL, 0};
  gesta_model *model = NULL;
  gesta_error err;
  bool done = false;
  int rc;

  memset(&r, 0, sizeof r);
  check_tolerances_default(&opt.tolerances);
  cli_common_init(&common, "check", check_usage);
  rc = check_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  gesta_error_clear(&err);
#if GESTA_HAVE_OPENCL
  if (cli_load_model(&common, opt.model, &model, &err) != GESTA_STATUS_OK)
    goto fail;
  if (opt.layer) {
    bool found = false;
    for (int i = 0; i < model->n_nodes; i++)
      found = found || strcmp(model->nodes[i].name, opt.layer) == 0;
    if (!found) {
      gesta_error_set(&err, GESTA_STATUS_BAD_INPUT,
                      "--layer %s: model '%s' has no such layer (gesta info "
                      "%s lists them)",
                      opt.layer, model->name, opt.model);
      goto fail;
    }
  }
  r.model = model;
  r.model_arg = opt.model;
  r.seed = opt.seed;
  r.batch = opt.batch;
  r.only_layer = opt.layer;
  r.tolerances = opt.tolerances;
  if (check_weights(&opt, model, &r, &err) != GESTA_STATUS_OK ||
      check_select_devices(&opt, &r, &err) != GESTA_STATUS_OK ||
      check_input(&opt, model, &ref, &err) != GESTA_STATUS_OK ||
      check_run_reference(&common, model, opt.batch, &ref, &err) !=
          GESTA_STATUS_OK)
    goto fail;
  for (int i = 0; i < r.n_devices; i++) {
    gesta_log(&common.ctx, GESTA_LOG_INFO, "checking %s", r.devices[i].label);
    check_device_run(&common, &opt, model, &ref, &r.devices[i]);
  }
  rc = check_finish(&common, &opt, &r);
  goto cleanup;
#else
  gesta_error_set(&err, GESTA_STATUS_UNSUPPORTED,
                  "this gesta was built without OpenCL (GESTA_OPENCL=OFF): "
                  "there is no device to check against the CPU");
  goto fail;
#endif
fail:
  rc = cli_report(&common, &err);
#if GESTA_HAVE_OPENCL
cleanup:
#endif
  for (int i = 0; i < r.n_devices; i++)
    free(r.devices[i].layers);
  free(r.devices);
  for (int i = 0; i < ref.n_values; i++)
    free(ref.values[i]);
  free(ref.values);
  gesta_model_free(model);
  return rc;
}

const cli_command cli_command_check = {
    .name = "check",
    .summary = "compare every OpenCL device with the CPU reference, op by op",
    .main = cmd_check_main,
};
