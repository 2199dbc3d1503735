/* gesta eval: a model on a labelled dataset (a clip cache or a dataset
 * folder): loss, accuracy, per-class precision, recall and F1, and the
 * confusion matrix as text, JSON and a PNG heatmap. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "eval.h"
#include "metrics_report.h"
#if GESTA_HAVE_GSTREAMER
#include "gesta/cpu.h"
#include "gesta/plot.h"
#endif

static const char eval_usage[] = "gesta eval [OPTIONS] MODEL.yaml DATA";

static const char eval_help[] =
    "Evaluates a model on labelled clips and prints the loss (categorical\n"
    "cross-entropy), the accuracy, precision, recall and F1 per class with\n"
    "their macro and weighted averages (scikit-learn's definitions), and the\n"
    "confusion matrix (rows: true class, columns: predicted class).\n"
    "DATA is a clip cache (gesta dataset build) or a dataset folder laid out\n"
    "like UCF101 (<Class>/*.avi, classInd.txt, trainlist01.txt,\n"
    "testlist01.txt, as gesta synth writes it), whose videos are then\n"
    "decoded here. A per-frame model (like cnn) gives a clip the mean of its\n"
    "frames' probabilities, and the loss is taken on that mean. The model's\n"
    "classes must be the data's, in the same order.\n"
    "\n"
    "Options:\n"
    "      --split NAME        test (default), val, train or all; a folder\n"
    "                          has no val split (it is drawn at training)\n"
    "      --batch N           clips per forward pass (default 8)\n"
    "      --threads N         threads of the CPU backend's kernels\n"
    "                          (default: the CPUs)\n"
    "  -w, --weights FILE      weights (safetensors); default: the file the\n"
    "                          model names\n"
    "      --json              one JSON object with every number instead of\n"
    "                          the text report\n"
    "      --heatmap FILE.png  also draw the confusion matrix as a PNG "
    "heatmap\n" CLI_BACKEND_HELP CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta eval runs/lrcn/model.yaml synth.gcc\n"
    "  gesta eval lrcn synth-data --split all --json\n"
    "  gesta eval cnn synth.gcc --weights runs/cnn/best.safetensors \\\n"
    "      --heatmap cnn-confusion.png\n"
    "\n" CLI_EXIT_CODES_HELP;

enum {
  EVAL_OPT_JSON = 256,
  EVAL_OPT_HEATMAP,
  EVAL_OPT_SPLIT,
  EVAL_OPT_BATCH,
  EVAL_OPT_THREADS
};

#define EVAL_MAX_BATCH 4096

static bool eval_parse_split(const char *text, int *split) {
  static const struct {
    const char *name;
    int split;
  } names[] = {{"test", GESTA_SPLIT_TEST},
               {"val", GESTA_SPLIT_VAL},
               {"train", GESTA_SPLIT_TRAIN},
               {"all", EVAL_SPLIT_ALL}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(text, names[i].name) == 0) {
      *split = names[i].split;
      return true;
    }
  return false;
}

static int eval_parse(cli_common *common, int argc, char **argv,
                      eval_options *opt, bool *done) {
  static const struct option options[] = {
      {"json", no_argument, NULL, EVAL_OPT_JSON},
      {"heatmap", required_argument, NULL, EVAL_OPT_HEATMAP},
      {"split", required_argument, NULL, EVAL_OPT_SPLIT},
      {"batch", required_argument, NULL, EVAL_OPT_BATCH},
      {"threads", required_argument, NULL, EVAL_OPT_THREADS},
      {"weights", required_argument, NULL, 'w'},
      CLI_BACKEND_LONG_OPTIONS,
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  int c, rc = CLI_EXIT_OK;
  cli_getopt_begin(common, argv);
  while (
      (c = getopt_long(argc, argv,
                       "w:" CLI_BACKEND_SHORT_OPTIONS CLI_COMMON_SHORT_OPTIONS,
                       options, NULL)) != -1) {
    switch (c) {
    case EVAL_OPT_JSON:
      opt->json = true;
      break;
    case EVAL_OPT_HEATMAP:
      opt->heatmap = optarg;
      break;
    case EVAL_OPT_SPLIT:
      if (!eval_parse_split(optarg, &opt->split))
        return cli_usage_error(
            common, "--split wants test, val, train or all, got '%s'", optarg);
      break;
    case EVAL_OPT_BATCH:
      if (!cli_parse_int64(optarg, 1, EVAL_MAX_BATCH, &opt->batch))
        return cli_usage_error(common,
                               "--batch wants a number from 1 to %d, got '%s'",
                               EVAL_MAX_BATCH, optarg);
      break;
    case EVAL_OPT_THREADS: {
      int64_t n;
      if ((rc = cli_parse_threads(common, optarg, &n)))
        return rc;
      gesta_cpu_set_threads((int)n);
      break;
    }
    case 'w':
      opt->weights = optarg;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", eval_usage, eval_help);
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
  if (argc - optind < 2)
    return cli_usage_error(common, argc - optind == 0
                                       ? "missing MODEL.yaml and DATA"
                                       : "missing DATA (a clip cache or a "
                                         "dataset folder)");
  if (argc - optind > 2)
    return cli_usage_error(common,
                           "too many arguments: one MODEL.yaml and one DATA");
  opt->model = argv[optind];
  opt->data = argv[optind + 1];
#if !GESTA_HAVE_GSTREAMER
  if (opt->heatmap)
    return cli_usage_error(common, "--heatmap needs cairo, which comes with "
                                   "the video pipeline: this gesta was built "
                                   "with GESTA_GSTREAMER=OFF");
#endif
  return CLI_EXIT_OK;
}

static gesta_status eval_load_weights(eval_state *st, gesta_error *err) {
  gesta_model *m = st->model;
  if (st->opt->weights)
    st->weights = st->opt->weights;
  else if (m->weights_path[0] && cli_file_exists(m->weights_path))
    st->weights = m->weights_path;
  else if (m->weights_path[0])
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "model '%s' has no weights yet: %s does not exist and no --weights "
        "was given. Pass the trained weights (RUN_DIR/best.safetensors from "
        "gesta train) with --weights",
        m->name, m->weights_path);
  else
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "model '%s' declares no weights file and no "
                           "--weights was given",
                           m->name);
  gesta_log(&st->common->ctx, GESTA_LOG_INFO, "loading weights from %s",
            st->weights);
  return gesta_model_load_weights(m, st->weights, err);
}

/* The pending clips through the model into st->probs. A per-frame model
 * runs a clip's frames as rows of one batch and the clip gets their mean,
 * as gesta predict does. */
static gesta_status eval_forward(eval_state *st, gesta_error *err) {
  int k = st->model->n_classes;
  int64_t n = st->n_pending, per_clip = st->per_frame ? st->frames : 1;
  gesta_plan **plan = n == st->opt->batch ? &st->plan : &st->partial;
  gesta_plan_options po = {.strict = st->common->backend.strict};
  gesta_status status;
  if (plan == &st->partial && st->partial && st->partial_n != n) {
    gesta_plan_free(st->partial);
    st->partial = NULL;
  }
  if (!*plan) {
    status = gesta_plan_new_with_options(st->model, st->backend, n * per_clip,
                                         &po, plan, err);
    if (status != GESTA_STATUS_OK)
      return status;
    if (plan == &st->partial)
      st->partial_n = n;
  }
  status = gesta_plan_run(*plan, st->input, st->output, err);
  if (status != GESTA_STATUS_OK)
    return status;
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < k; j++) {
      double sum = 0;
      for (int64_t f = 0; f < per_clip; f++)
        sum += st->output[(i * per_clip + f) * k + j];
      st->probs[i * k + j] = (float)(sum / (double)per_clip);
    }
  return GESTA_STATUS_OK;
}

/* Runs the pending clips: each clip's arg-max into the matrix and its
 * cross-entropy into the loss. */
static gesta_status eval_flush(eval_state *st, gesta_error *err) {
  int64_t n = st->n_pending;
  int k = st->model->n_classes;
  gesta_status status;
  if (n == 0)
    return GESTA_STATUS_OK;
  status = eval_forward(st, err);
  if (status != GESTA_STATUS_OK)
    return status;
  memset(st->targets, 0, sizeof *st->targets * (size_t)(n * k));
  for (int64_t i = 0; i < n; i++) {
    int label = eval_label(st, st->pending[i]);
    int best = gesta_argmax(st->probs + i * k, k);
    if (best < 0)
      return gesta_error_set(
          err, GESTA_STATUS_BAD_INPUT,
          "the model's output for %s is not a number (NaN): the weights %s "
          "are broken (a diverged training?)",
          eval_source(st, st->pending[i]), st->weights);
    st->targets[i * k + label] = 1.0f;
    status = gesta_confusion_add(&st->cm, label, best, err);
    if (status != GESTA_STATUS_OK)
      return status;
  }
  st->loss_sum +=
      gesta_loss_cross_entropy(st->probs, st->targets, n, k, NULL) * (double)n;
  st->n_pending = 0;
  return GESTA_STATUS_OK;
}

static gesta_status eval_loop(eval_state *st, gesta_error *err) {
  gesta_status status = GESTA_STATUS_OK;
  double start = cli_now_ms();
  for (int64_t i = 0; i < st->n_selected && status == GESTA_STATUS_OK; i++) {
    bool skip;
    if (st->n_pending == st->opt->batch) {
      status = eval_flush(st, err);
      if (status != GESTA_STATUS_OK)
        break;
    }
    status = eval_fill(st, st->selected[i],
                       st->input + st->clip_floats * (size_t)st->n_pending,
                       &skip, err);
    if (status == GESTA_STATUS_OK && !skip)
      st->pending[st->n_pending++] = st->selected[i];
    if (st->progress)
      fprintf(stderr, "\rgesta eval: %lld/%lld clips", (long long)i + 1,
              (long long)st->n_selected);
  }
  if (status == GESTA_STATUS_OK)
    status = eval_flush(st, err);
  if (st->progress)
    fprintf(stderr, "\r\033[K");
  st->seconds = (cli_now_ms() - start) / 1e3;
  if (st->skipped > EVAL_MAX_WARNINGS)
    gesta_log(&st->common->ctx, GESTA_LOG_WARNING, "%lld more videos skipped",
              (long long)(st->skipped - EVAL_MAX_WARNINGS));
  if (status == GESTA_STATUS_OK && st->cm.total == 0)
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "none of the %lld videos of %s could be read",
                             (long long)st->n_selected, st->opt->data);
  return status;
}

/* The model must give one probability per class for a frame or a clip. */
static gesta_status eval_check_model(const gesta_model *m, gesta_error *err) {
  const gesta_shape *out = &m->nodes[m->output_node].output_shape;
  if (m->input_shape.rank != 3 && m->input_shape.rank != 4)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: model '%s' takes input of rank %d; eval needs "
                           "frames [H, W, C] or clips [T, H, W, C]",
                           m->path, m->name, m->input_shape.rank);
  if (m->n_classes < 1 || out->rank != 1 || out->dims[0] != m->n_classes)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: model '%s' does not end in one probability "
                           "per class (%d classes)",
                           m->path, m->name, m->n_classes);
  if (!m->has_preprocess)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: model '%s' has no preprocess section, so gesta "
                           "does not know how its clips are made; add one "
                           "(see docs/model-format.md)",
                           m->path, m->name);
  return GESTA_STATUS_OK;
}

static gesta_status eval_setup(eval_state *st, gesta_error *err) {
  int64_t batch = st->opt->batch, rows;
  int k;
  gesta_status status =
      cli_load_model(st->common, st->opt->model, &st->model, err);
  if (status == GESTA_STATUS_OK)
    status = eval_check_model(st->model, err);
  if (status == GESTA_STATUS_OK)
    status = eval_open_data(st, err);
  if (status == GESTA_STATUS_OK)
    status = eval_load_weights(st, err);
  if (status == GESTA_STATUS_OK)
    status = cli_backend_open(st->common, &st->backend, err);
  if (status == GESTA_STATUS_OK)
    status = gesta_confusion_init(&st->cm, st->model->n_classes, err);
  if (status != GESTA_STATUS_OK)
    return status;
  k = st->model->n_classes;
  st->per_frame = st->model->input_shape.rank == 3;
  st->frames = st->per_frame ? st->model->preprocess.frames
                             : st->model->input_shape.dims[0];
  st->clip_floats = (size_t)gesta_shape_count(&st->model->input_shape) *
                    (size_t)(st->per_frame ? st->frames : 1);
  rows = batch * (st->per_frame ? st->frames : 1);
  st->input = malloc(sizeof *st->input * st->clip_floats * (size_t)batch);
  st->output = malloc(sizeof *st->output * (size_t)(rows * k));
  st->pending = malloc(sizeof *st->pending * (size_t)batch);
  st->probs = malloc(sizeof *st->probs * (size_t)(batch * k));
  st->targets = malloc(sizeof *st->targets * (size_t)(batch * k));
  if (!st->input || !st->output || !st->pending || !st->probs || !st->targets)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for a batch of %lld clips; try a "
                           "smaller --batch",
                           (long long)batch);
  return GESTA_STATUS_OK;
}

static void eval_cleanup(eval_state *st) {
  free(st->selected);
  free(st->pending);
  free(st->probs);
  free(st->targets);
  free(st->input);
  free(st->output);
  gesta_confusion_free(&st->cm);
  gesta_plan_free(st->plan);
  gesta_plan_free(st->partial);
#if GESTA_HAVE_GSTREAMER
  gesta_dataset_free(st->ds);
#endif
  if (st->cache)
    gesta_clipcache_close(st->cache);
  if (st->backend)
    gesta_backend_free(st->backend);
  if (st->model)
    gesta_model_free(st->model);
}

static void eval_print(const eval_state *st) {
  const char *const *names = (const char *const *)st->model->classes;
  double loss = st->loss_sum / (double)st->cm.total;
  gesta_metrics_summary s;
  gesta_confusion_metrics(&st->cm, NULL, &s);
  if (st->opt->json) {
    cJSON *root = cJSON_CreateObject();
    char *text;
    cJSON_AddStringToObject(root, "model", st->model->name);
    cJSON_AddStringToObject(root, "model_path", st->model->path);
    cJSON_AddStringToObject(root, "weights", st->weights);
    cJSON_AddStringToObject(root, "data", st->opt->data);
    cJSON_AddStringToObject(root, "data_kind", st->cache ? "cache" : "folder");
    cJSON_AddStringToObject(root, "split", eval_split_name(st->opt->split));
    cJSON_AddStringToObject(root, "split_source", st->split_source);
    cJSON_AddStringToObject(root, "device",
                            gesta_backend_device_name(st->backend));
    cJSON_AddNumberToObject(root, "skipped", (double)st->skipped);
    cJSON_AddNumberToObject(root, "loss", loss);
    metrics_report_json(root, &st->cm, names);
    cJSON_AddNumberToObject(root, "time_s", st->seconds);
    text = cJSON_Print(root);
    if (text)
      printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(root);
    return;
  }
  printf("Model %s (%s), weights %s\n", st->model->name, st->model->path,
         st->weights);
  printf("Data %s, split %s (%s): %lld clips", st->opt->data,
         eval_split_name(st->opt->split), st->split_source,
         (long long)st->cm.total);
  if (st->skipped)
    printf(", %lld skipped", (long long)st->skipped);
  printf(", %.2f s on %s\n\n", st->seconds,
         gesta_backend_device_name(st->backend));
  printf("loss: %.4f - accuracy: %.4f (%lld/%lld)\n\n", loss, s.accuracy,
         (long long)s.correct, (long long)s.total);
  metrics_report_table(stdout, &st->cm, names);
  printf("\nConfusion matrix (rows: true class, columns: predicted class):\n");
  metrics_report_matrix(stdout, &st->cm, names);
}

static gesta_status eval_heatmap(const eval_state *st, gesta_error *err) {
#if GESTA_HAVE_GSTREAMER
  char title[GESTA_NAME_MAX + 96];
  gesta_metrics_summary s;
  gesta_status status;
  gesta_confusion_metrics(&st->cm, NULL, &s);
  snprintf(title, sizeof title, "%s on the %s split: accuracy %.1f %%",
           st->model->name, eval_split_name(st->opt->split),
           100.0 * s.accuracy);
  status =
      gesta_plot_confusion_png(&st->cm, (const char *const *)st->model->classes,
                               title, st->opt->heatmap, err);
  if (status == GESTA_STATUS_OK)
    gesta_log(&st->common->ctx, GESTA_LOG_INFO, "wrote %s", st->opt->heatmap);
  return status;
#else
  (void)st;
  return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                         "--heatmap needs cairo (GESTA_GSTREAMER=ON)");
#endif
}

static int cmd_eval_main(int argc, char **argv) {
  cli_common common;
  eval_options opt = {.split = GESTA_SPLIT_TEST, .batch = 8};
  eval_state st;
  gesta_error err;
  bool done = false;
  gesta_status status;
  int rc;

  memset(&st, 0, sizeof st);
  cli_common_init(&common, "eval", eval_usage);
  rc = eval_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  st.common = &common;
  st.opt = &opt;
  st.progress =
      isatty(STDERR_FILENO) && common.ctx.log_level >= GESTA_LOG_WARNING;
  gesta_error_clear(&err);
  status = eval_setup(&st, &err);
  if (status == GESTA_STATUS_OK)
    status = eval_loop(&st, &err);
  if (status == GESTA_STATUS_OK && opt.heatmap)
    status = eval_heatmap(&st, &err);
  if (status == GESTA_STATUS_OK)
    eval_print(&st);
  rc = status == GESTA_STATUS_OK ? CLI_EXIT_OK : cli_report(&common, &err);
  eval_cleanup(&st);
  return rc;
}

const cli_command cli_command_eval = {
    .name = "eval",
    .summary = "evaluate a model on a dataset: loss, accuracy, per-class "
               "metrics, confusion matrix",
    .main = cmd_eval_main,
};
