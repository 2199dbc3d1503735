/* gesta run: a model on a stored or random input tensor. The hook for
 * golden tests: inputs and outputs are safetensors files. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char run_usage[] =
    "gesta run [OPTIONS] MODEL.yaml (--input X.safetensors | --random-input "
    "N)";

static const char run_help[] =
    "Runs a model on a batch of inputs and prints each sample's outputs; for\n"
    "a classifier also its most likely class and that class' probability.\n"
    "\n"
    "The input file's tensor is the one named like the model's input (see\n"
    "gesta info), or the file's only tensor; its shape is the model's input\n"
    "shape with a batch dimension first: (N, 20, 64, 64, 3) for the LRCN.\n"
    "Weights come from --weights, or else from the file the model names.\n"
    "\n"
    "Options:\n"
    "  -i, --input FILE        input tensor (safetensors, float32)\n"
    "  -r, --random-input N    a batch of N random inputs, uniform in [0, 1)\n"
    "  -w, --weights FILE      weights (safetensors); default: the file\n"
    "                          the model names\n"
    "  -s, --seed N            seed for --random-input (default 0)\n"
    "  -o, --output FILE       write the output tensor (safetensors), named\n"
    "                          after the model's last layer\n"
    "      --save-input FILE   write the input tensor too (to replay it with\n"
    "                          --input)\n"
    "      --json              print one JSON object instead of "
    "text\n" CLI_BACKEND_HELP CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta init models/lrcn.yaml -o lrcn-random.safetensors --seed 1\n"
    "  gesta run models/lrcn.yaml --weights lrcn-random.safetensors "
    "--random-input 2\n"
    "  gesta run models/lrcn.yaml --input clip.safetensors -o "
    "probs.safetensors\n"
    "\n" CLI_EXIT_CODES_HELP;

enum { RUN_OPT_JSON = 256, RUN_OPT_SAVE_INPUT };

/* Largest batch --random-input makes; a bigger one is a typo. */
#define RUN_MAX_BATCH 65536
/* Values printed per sample before eliding (-o writes them all). */
#define RUN_MAX_PRINTED 16

typedef struct run_options {
  const char *model, *input, *weights, *output, *save_input;
  int64_t random_batch; /* 0: --input */
  uint64_t seed;
  bool json;
} run_options;

typedef struct run_state {
  gesta_model *model;
  gesta_backend *backend;
  gesta_plan *plan;
  float *input, *output;
  gesta_shape input_shape, output_shape; /* full, batch first */
  const char *weights;
  double run_ms;
} run_state;

static gesta_status run_load_weights(const cli_common *common,
                                     const run_options *opt, run_state *st,
                                     gesta_error *err) {
  return cli_load_weights(common, st->model, opt->weights, &st->weights, err);
}

/* The file's tensor named like the model input, or its only tensor. */
static gesta_status run_read_input(const run_options *opt, run_state *st,
                                   gesta_error *err) {
  const gesta_model *m = st->model;
  gesta_safetensors *file = NULL;
  const gesta_safetensors_entry *entry;
  gesta_status status;
  char got[128], want[128];
  bool ok;

  status = gesta_safetensors_open(opt->input, &file, err);
  if (status != GESTA_STATUS_OK)
    return status;
  entry = gesta_safetensors_find(file, m->input_name);
  if (!entry && gesta_safetensors_count(file) == 1)
    entry = gesta_safetensors_entry_at(file, 0);
  if (!entry) {
    status = gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "%s: no tensor named '%s' (the input of model '%s') and %d tensors "
        "to choose from; name the input tensor '%s'",
        opt->input, m->input_name, m->name, gesta_safetensors_count(file),
        m->input_name);
    goto done;
  }
  ok =
      entry->shape.rank == m->input_shape.rank + 1 && entry->shape.dims[0] >= 1;
  for (int i = 0; ok && i < m->input_shape.rank; i++)
    ok = entry->shape.dims[i + 1] == m->input_shape.dims[i];
  if (!ok) {
    gesta_shape_format(&entry->shape, got, sizeof got);
    cli_format_batch_shape(&m->input_shape, "N", want, sizeof want);
    status = gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "%s: tensor '%s' has shape %s but model '%s' wants its input '%s' as "
        "%s (a batch of N samples)%s",
        opt->input, entry->name, got, m->name, m->input_name, want,
        gesta_shape_equal(&entry->shape, &m->input_shape)
            ? "; add a batch dimension of 1 in front"
            : "");
    goto done;
  }
  st->input_shape = entry->shape;
  st->input = malloc(entry->bytes ? entry->bytes : 1);
  if (!st->input) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory reading %s (%zu bytes)", opt->input,
                             entry->bytes);
    goto done;
  }
  gesta_safetensors_read(entry, st->input);
  status = GESTA_STATUS_OK;
done:
  gesta_safetensors_close(file);
  return status;
}

static gesta_status run_random_input(const run_options *opt, run_state *st,
                                     gesta_error *err) {
  const gesta_model *m = st->model;
  int64_t count;
  gesta_rng rng;

  st->input_shape.rank = m->input_shape.rank + 1;
  st->input_shape.dims[0] = opt->random_batch;
  for (int i = 0; i < m->input_shape.rank; i++)
    st->input_shape.dims[i + 1] = m->input_shape.dims[i];
  count = gesta_shape_count(&st->input_shape);
  if (count <= 0 || (uint64_t)count > SIZE_MAX / sizeof(float) ||
      !(st->input = malloc((size_t)count * sizeof(float))))
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory making a random input of %" PRId64
                           " floats; try a smaller --random-input",
                           count);
  gesta_rng_seed(&rng, opt->seed);
  for (int64_t i = 0; i < count; i++)
    st->input[i] = (float)gesta_rng_uniform(&rng);
  return GESTA_STATUS_OK;
}

static gesta_status run_execute(const cli_common *common, run_state *st,
                                gesta_error *err) {
  int64_t count;
  double t0, t1, t2;
  gesta_status status;

  gesta_plan_options plan_options = {.strict = common->backend.strict};

  status = cli_backend_open(common, &st->backend, err);
  if (status != GESTA_STATUS_OK)
    return status;
  t0 = cli_now_ms();
  status = gesta_plan_new_with_options(st->model, st->backend,
                                       st->input_shape.dims[0], &plan_options,
                                       &st->plan, err);
  if (status != GESTA_STATUS_OK)
    return status;
  st->output_shape = gesta_plan_output_shape(st->plan);
  count = gesta_shape_count(&st->output_shape);
  st->output = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
  if (!st->output)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for the output (%" PRId64 " floats)",
                           count);
  t1 = cli_now_ms();
  status = gesta_plan_run(st->plan, st->input, st->output, err);
  if (status != GESTA_STATUS_OK)
    return status;
  t2 = cli_now_ms();
  st->run_ms = t2 - t1;
  gesta_log(&common->ctx, GESTA_LOG_INFO,
            "plan: %.2f ms (%zu bytes of activations); run: %.2f ms for a "
            "batch of %" PRId64 " on %s",
            t1 - t0, gesta_plan_activation_bytes(st->plan), st->run_ms,
            st->input_shape.dims[0], gesta_backend_device_name(st->backend));
  return GESTA_STATUS_OK;
}

/* The output is a class distribution when its per-sample shape is
 * (n_classes). */
static bool run_is_classifier(const run_state *st) {
  return st->model->n_classes > 0 && st->output_shape.rank == 2 &&
         st->output_shape.dims[1] == st->model->n_classes;
}

static int64_t run_argmax(const float *row, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (row[i] > row[best])
      best = i;
  return best;
}

static void run_print_text(const run_options *opt, const run_state *st) {
  const gesta_model *m = st->model;
  int64_t n = st->output_shape.dims[0];
  int64_t per = n > 0 ? gesta_shape_count(&st->output_shape) / n : 0;
  char shape[128];

  printf("model: %s (%s), weights: %s, backend: %s\n", m->name, m->path,
         st->weights, gesta_backend_device_name(st->backend));
  gesta_shape_format(&st->input_shape, shape, sizeof shape);
  if (opt->input)
    printf("input: %s %s from %s\n", m->input_name, shape, opt->input);
  else
    printf("input: %s %s, random uniform [0, 1), seed %" PRIu64 "\n",
           m->input_name, shape, opt->seed);
  printf("output: %s %s\n", m->nodes[m->output_node].name,
         gesta_shape_format(&st->output_shape, shape, sizeof shape));
  for (int64_t s = 0; s < n; s++) {
    const float *row = st->output + s * per;
    printf("  [%" PRId64 "]", s);
    for (int64_t i = 0; i < per && i < RUN_MAX_PRINTED; i++)
      printf(" %.6f", row[i]);
    if (per > RUN_MAX_PRINTED)
      printf(" ... (%" PRId64 " values)", per);
    if (run_is_classifier(st)) {
      int64_t best = run_argmax(row, per);
      printf("  -> %s (%.4f)", m->classes[best], row[best]);
    }
    putchar('\n');
  }
}

static cJSON *run_shape_json(const gesta_shape *shape) {
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; i < shape->rank; i++)
    cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)shape->dims[i]));
  return arr;
}

/* Where each layer ran, and why any fell back to the CPU reference. */
static cJSON *run_placement_json(const gesta_plan *plan) {
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; i < gesta_plan_placement_count(plan); i++) {
    const gesta_placement *p = gesta_plan_placement_at(plan, i);
    cJSON *row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "layer", p->layer);
    cJSON_AddStringToObject(row, "op", p->op);
    cJSON_AddStringToObject(row, "device", p->device);
    cJSON_AddBoolToObject(row, "fallback", p->fallback);
    if (p->fallback)
      cJSON_AddStringToObject(row, "reason", p->reason);
    cJSON_AddItemToArray(arr, row);
  }
  return arr;
}

static int run_print_json(const run_options *opt, const run_state *st) {
  const gesta_model *m = st->model;
  int64_t n = st->output_shape.dims[0];
  int64_t per = n > 0 ? gesta_shape_count(&st->output_shape) / n : 0;
  cJSON *root = cJSON_CreateObject();
  cJSON *input, *output, *samples;
  char *text;

  cJSON_AddStringToObject(root, "model", m->name);
  cJSON_AddStringToObject(root, "file", m->path);
  cJSON_AddStringToObject(root, "weights", st->weights);
  cJSON_AddStringToObject(root, "backend", gesta_backend_name(st->backend));
  cJSON_AddStringToObject(root, "device",
                          gesta_backend_device_name(st->backend));
  cJSON_AddItemToObject(root, "placement", run_placement_json(st->plan));
  input = cJSON_AddObjectToObject(root, "input");
  cJSON_AddStringToObject(input, "name", m->input_name);
  cJSON_AddItemToObject(input, "shape", run_shape_json(&st->input_shape));
  if (opt->input)
    cJSON_AddStringToObject(input, "file", opt->input);
  else
    cJSON_AddNumberToObject(input, "random_seed", (double)opt->seed);
  output = cJSON_AddObjectToObject(root, "output");
  cJSON_AddStringToObject(output, "name", m->nodes[m->output_node].name);
  cJSON_AddItemToObject(output, "shape", run_shape_json(&st->output_shape));
  samples = cJSON_AddArrayToObject(root, "samples");
  for (int64_t s = 0; s < n; s++) {
    const float *row = st->output + s * per;
    cJSON *sample = cJSON_CreateObject();
    cJSON *values = cJSON_AddArrayToObject(sample, "values");
    for (int64_t i = 0; i < per; i++)
      cJSON_AddItemToArray(values, cJSON_CreateNumber((double)row[i]));
    if (run_is_classifier(st)) {
      int64_t best = run_argmax(row, per);
      cJSON_AddStringToObject(sample, "class", m->classes[best]);
      cJSON_AddNumberToObject(sample, "index", (double)best);
      cJSON_AddNumberToObject(sample, "probability", (double)row[best]);
    }
    cJSON_AddItemToArray(samples, sample);
  }
  cJSON_AddNumberToObject(root, "run_ms", st->run_ms);
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

static gesta_status run_write_files(const cli_common *common,
                                    const run_options *opt, const run_state *st,
                                    gesta_error *err) {
  const gesta_model *m = st->model;
  gesta_metadata_pair meta[] = {{"model", m->name},
                                {"gesta_version", GESTA_VERSION}};
  gesta_status status;
  if (opt->save_input) {
    gesta_named_tensor t = {m->input_name, st->input_shape, st->input};
    status = gesta_safetensors_write(opt->save_input, &t, 1, meta, 2, err);
    if (status != GESTA_STATUS_OK)
      return status;
    gesta_log(&common->ctx, GESTA_LOG_INFO, "wrote the input to %s",
              opt->save_input);
  }
  if (opt->output) {
    gesta_named_tensor t = {m->nodes[m->output_node].name, st->output_shape,
                            st->output};
    status = gesta_safetensors_write(opt->output, &t, 1, meta, 2, err);
    if (status != GESTA_STATUS_OK)
      return status;
    gesta_log(&common->ctx, GESTA_LOG_INFO, "wrote the output to %s",
              opt->output);
  }
  return GESTA_STATUS_OK;
}

static int run_parse(cli_common *common, int argc, char **argv,
                     run_options *opt, bool *done) {
  static const struct option options[] = {
      {"input", required_argument, NULL, 'i'},
      {"random-input", required_argument, NULL, 'r'},
      {"weights", required_argument, NULL, 'w'},
      {"seed", required_argument, NULL, 's'},
      {"output", required_argument, NULL, 'o'},
      {"save-input", required_argument, NULL, RUN_OPT_SAVE_INPUT},
      {"json", no_argument, NULL, RUN_OPT_JSON},
      CLI_BACKEND_LONG_OPTIONS,
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  int c, rc = CLI_EXIT_OK;
  cli_getopt_begin(common, argv);
  while ((c = getopt_long(
              argc, argv,
              "i:r:w:s:o:" CLI_BACKEND_SHORT_OPTIONS CLI_COMMON_SHORT_OPTIONS,
              options, NULL)) != -1) {
    switch (c) {
    case 'i':
      opt->input = optarg;
      break;
    case 'r':
      if (!cli_parse_int64(optarg, 1, RUN_MAX_BATCH, &opt->random_batch))
        return cli_usage_error(common,
                               "--random-input wants a batch size from 1 to "
                               "%d, got '%s'",
                               RUN_MAX_BATCH, optarg);
      break;
    case 'w':
      opt->weights = optarg;
      break;
    case 's':
      if (!cli_parse_uint64(optarg, &opt->seed))
        return cli_usage_error(
            common, "--seed wants a whole number >= 0, got '%s'", optarg);
      break;
    case 'o':
      opt->output = optarg;
      break;
    case RUN_OPT_SAVE_INPUT:
      opt->save_input = optarg;
      break;
    case RUN_OPT_JSON:
      opt->json = true;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", run_usage, run_help);
      *done = true;
      return CLI_EXIT_OK;
    default:
      if (cli_backend_option(common, c, optarg, &rc)) {
        if (rc != CLI_EXIT_OK)
          return rc;
        break;
      }
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
  if (!opt->input && !opt->random_batch)
    return cli_usage_error(common, "no input: give --input X.safetensors or "
                                   "--random-input N");
  if (opt->input && opt->random_batch)
    return cli_usage_error(common,
                           "--input and --random-input exclude each other");
  return CLI_EXIT_OK;
}

static int cmd_run_main(int argc, char **argv) {
  cli_common common;
  run_options opt = {0};
  run_state st;
  gesta_error err;
  bool done = false;
  int rc;

  memset(&st, 0, sizeof st);
  cli_common_init(&common, "run", run_usage);
  rc = run_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;

  gesta_error_clear(&err);
  if (cli_load_model(&common, opt.model, &st.model, &err) != GESTA_STATUS_OK)
    goto fail;
  if (run_load_weights(&common, &opt, &st, &err) != GESTA_STATUS_OK)
    goto fail;
  if ((opt.input ? run_read_input(&opt, &st, &err)
                 : run_random_input(&opt, &st, &err)) != GESTA_STATUS_OK)
    goto fail;
  if (run_execute(&common, &st, &err) != GESTA_STATUS_OK)
    goto fail;
  if (run_write_files(&common, &opt, &st, &err) != GESTA_STATUS_OK)
    goto fail;
  if (opt.json)
    rc = run_print_json(&opt, &st);
  else
    run_print_text(&opt, &st);
  goto cleanup;

fail:
  rc = cli_report(&common, &err);
cleanup:
  if (st.plan)
    gesta_plan_free(st.plan);
  if (st.backend)
    gesta_backend_free(st.backend);
  if (st.model)
    gesta_model_free(st.model);
  free(st.input);
  free(st.output);
  return rc;
}

const cli_command cli_command_run = {
    .name = "run",
    .summary = "run a model on a stored or random input tensor",
    .main = cmd_run_main,
};
