/* gesta bench --train: training steps timed the way gesta train runs them
 * (gesta_trainer_step: forward in training mode, loss, backward, the
 * optimiser's update), on a fixed random batch so that nothing but the step
 * is measured. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_train.h"

typedef struct bench_train_result {
  double setup_ms;    /* backend + trainer */
  double first_ms;    /* the first step (warm-up or timed) */
  double *step;       /* iterations ms, sorted once measured */
  double mean, loss;  /* mean step ms; the last step's loss */
  size_t memory;      /* backend bytes the trainer holds */
  const char *device; /* device_name, once the backend is open */
  char device_name[128], backend_name[32];
} bench_train_result;

static int bt_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Clips for a model with a (T, H, W, C) input, frames for a per-frame
 * one: per second, from a step time in ms. */
static double bt_per_s(const bench_train_options *opt, double ms) {
  return ms > 0.0 ? 1e3 * (double)opt->batch / ms : 0.0;
}

static gesta_status bt_fill(const gesta_trainer *tr, uint64_t seed,
                            float **input, float **targets, gesta_error *err) {
  gesta_shape in = gesta_trainer_input_shape(tr);
  gesta_shape out = gesta_trainer_output_shape(tr);
  int64_t n_in = gesta_shape_count(&in), n_out = gesta_shape_count(&out);
  int64_t cols = out.dims[out.rank - 1], rows = cols > 0 ? n_out / cols : 0;
  gesta_rng rng;
  *input = malloc((size_t)n_in * sizeof **input + 1);
  *targets = calloc((size_t)n_out + 1, sizeof **targets);
  if (!*input || !*targets)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for a training batch of %" PRId64
                           "; try a smaller --batch",
                           in.dims[0]);
  gesta_rng_seed(&rng, seed);
  for (int64_t i = 0; i < n_in; i++)
    (*input)[i] = (float)gesta_rng_uniform(&rng);
  for (int64_t r = 0; r < rows; r++)
    (*targets)[r * cols + (int64_t)(gesta_rng_next(&rng) % (uint64_t)cols)] =
        1.0f;
  return GESTA_STATUS_OK;
}

static gesta_status bt_measure(cli_common *common, gesta_model *model,
                               const bench_train_options *opt,
                               bench_train_result *res, gesta_error *err) {
  gesta_backend *backend = NULL;
  gesta_trainer *tr = NULL;
  gesta_trainer_options to;
  gesta_train_stats stats = {0};
  float *input = NULL, *targets = NULL;
  double t0 = cli_now_ms();
  gesta_status s = cli_backend_open(common, &backend, err);
  gesta_trainer_options_init(&to);
  to.seed = opt->seed;
  if (s == GESTA_STATUS_OK)
    s = gesta_trainer_new(model, backend, opt->batch, &to, &tr, err);
  res->setup_ms = cli_now_ms() - t0;
  if (s == GESTA_STATUS_OK)
    s = bt_fill(tr, opt->seed, &input, &targets, err);
  if (s == GESTA_STATUS_OK) {
    snprintf(res->device_name, sizeof res->device_name, "%s",
             gesta_backend_device_name(backend));
    snprintf(res->backend_name, sizeof res->backend_name, "%s",
             gesta_backend_name(backend));
    res->device = res->device_name;
    res->memory = gesta_trainer_memory_bytes(tr);
  }
  for (int64_t i = 0; s == GESTA_STATUS_OK && i < opt->warmup; i++) {
    t0 = cli_now_ms();
    s = gesta_trainer_step(tr, input, targets, &stats, err);
    if (i == 0)
      res->first_ms = cli_now_ms() - t0;
  }
  for (int64_t i = 0; s == GESTA_STATUS_OK && i < opt->iterations; i++) {
    t0 = cli_now_ms();
    s = gesta_trainer_step(tr, input, targets, &stats, err);
    res->step[i] = cli_now_ms() - t0;
    res->mean += res->step[i] / (double)opt->iterations;
    if (i == 0 && opt->warmup == 0)
      res->first_ms = res->step[i];
  }
  res->loss = stats.loss;
  qsort(res->step, (size_t)opt->iterations, sizeof *res->step, bt_cmp);
  gesta_trainer_free(tr);
  gesta_backend_free(backend);
  free(input);
  free(targets);
  return s;
}

static double bt_median(const bench_train_options *opt,
                        const bench_train_result *res) {
  int64_t k = opt->iterations;
  return k % 2 ? res->step[k / 2]
               : 0.5 * (res->step[k / 2 - 1] + res->step[k / 2]);
}

static void bt_print(const gesta_model *model, const bench_train_options *opt,
                     const bench_train_result *res) {
  int64_t k = opt->iterations;
  double med = bt_median(opt, res), per_s = bt_per_s(opt, med);
  char mem[32];
  printf("model: %s (%s), batch %" PRId64 ", weights: %s\n", model->name,
         model->path, opt->batch, opt->weights);
  printf("backend: %s\n", res->device);
  printf("training: %s, one fixed random batch with random one-hot targets\n",
         gesta_optim_name(GESTA_OPTIM_ADAM));
  printf("set-up (backend + trainer): %.1f ms; first step: %.1f ms\n",
         res->setup_ms, res->first_ms);
  printf("training step (forward, loss, backward, update): median %.2f ms, "
         "min %.2f, max %.2f over %" PRId64 " steps (after %" PRId64
         " warm-up)\n",
         med, res->step[0], res->step[k - 1], k, opt->warmup);
  if (model->input_shape.rank == 4)
    printf("throughput: %.2f clips/s (%.1f frames/s)\n", per_s,
           per_s * (double)model->input_shape.dims[0]);
  else
    printf("throughput: %.1f frames/s\n", per_s);
  printf("trainer memory on the backend: %s; last loss %.4f\n",
         cli_format_bytes((double)res->memory, mem, sizeof mem), res->loss);
}

static int bt_print_json(const gesta_model *model,
                         const bench_train_options *opt,
                         const bench_train_result *res) {
  int64_t k = opt->iterations;
  double med = bt_median(opt, res), per_s = bt_per_s(opt, med);
  cJSON *root = cJSON_CreateObject(), *st;
  char *text;
  cJSON_AddStringToObject(root, "mode", "train");
  cJSON_AddStringToObject(root, "model", model->name);
  cJSON_AddStringToObject(root, "file", model->path);
  cJSON_AddStringToObject(root, "weights", opt->weights);
  cJSON_AddStringToObject(root, "backend", res->backend_name);
  cJSON_AddStringToObject(root, "device", res->device);
  cJSON_AddStringToObject(root, "optimizer",
                          gesta_optim_name(GESTA_OPTIM_ADAM));
  cJSON_AddNumberToObject(root, "batch", (double)opt->batch);
  cJSON_AddNumberToObject(root, "iterations", (double)k);
  cJSON_AddNumberToObject(root, "warmup", (double)opt->warmup);
  cJSON_AddNumberToObject(root, "setup_ms", res->setup_ms);
  cJSON_AddNumberToObject(root, "first_step_ms", res->first_ms);
  st = cJSON_AddObjectToObject(root, "step_ms");
  cJSON_AddNumberToObject(st, "median", med);
  cJSON_AddNumberToObject(st, "min", res->step[0]);
  cJSON_AddNumberToObject(st, "max", res->step[k - 1]);
  cJSON_AddNumberToObject(st, "mean", res->mean);
  if (model->input_shape.rank == 4) {
    cJSON_AddNumberToObject(root, "clips_per_s", per_s);
    cJSON_AddNumberToObject(root, "frames_per_s",
                            per_s * (double)model->input_shape.dims[0]);
  } else {
    cJSON_AddNumberToObject(root, "frames_per_s", per_s);
  }
  cJSON_AddNumberToObject(root, "memory_bytes", (double)res->memory);
  cJSON_AddNumberToObject(root, "loss", res->loss);
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

int bench_train_run(cli_common *common, gesta_model *model,
                    const bench_train_options *opt) {
  bench_train_result res;
  gesta_error err;
  int rc;
  memset(&res, 0, sizeof res);
  gesta_error_clear(&err);
  res.step = calloc((size_t)opt->iterations, sizeof *res.step);
  if (!res.step) {
    gesta_error_set(&err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
    return cli_report(common, &err);
  }
  if (bt_measure(common, model, opt, &res, &err) != GESTA_STATUS_OK)
    rc = cli_report(common, &err);
  else if (opt->json)
    rc = bt_print_json(model, opt, &res);
  else
    bt_print(model, opt, &res), rc = CLI_EXIT_OK;
  free(res.step);
  return rc;
}
