/* gesta plot: a training run's curves as the seed drew them, total and
 * validation loss, total and validation accuracy against epochs, as PNG. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "history.h"
#if GESTA_HAVE_GSTREAMER
#include "gesta/plot.h"
#endif

static const char plot_usage[] = "gesta plot [OPTIONS] RUN_DIR";

static const char plot_help[] =
    "Draws a training run's history (RUN_DIR/history.csv, else\n"
    "history.json, as gesta train writes them) as the seed's two figures:\n"
    "  loss.png      \"Total Loss vs Total Validation Loss\"\n"
    "  accuracy.png  \"Total Accuracy vs Total Validation Accuracy\"\n"
    "each against epochs, with the best epoch (the one whose weights gesta\n"
    "train restored) marked. RUN_DIR may also be a history.csv or\n"
    "history.json file. Missing values (a run without validation) are left\n"
    "out; a figure with no value at all is skipped with a warning.\n"
    "\n"
    "Options:\n"
    "  -o, --output DIR        write the PNGs into DIR (made if missing;\n"
    "                          default: the run folder)\n"
    "      --size WxH          image size in pixels (default "
    "800x500)\n" CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta train models/lrcn.yaml data.gcc -o runs/lrcn\n"
    "  gesta plot runs/lrcn\n"
    "  gesta plot runs/lrcn -o figures --size 1200x700\n"
    "\n" CLI_EXIT_CODES_HELP;

enum { PLOT_OPT_SIZE = 256 };

typedef struct plot_options {
  const char *run, *output;
  int width, height;
} plot_options;

static bool plot_parse_size(const char *text, int *w, int *h) {
  int64_t a, b;
  char buf[64];
  char *x;
  snprintf(buf, sizeof buf, "%s", text);
  x = strchr(buf, 'x');
  if (!x)
    return false;
  *x = '\0';
  if (!cli_parse_int64(buf, 200, 8000, &a) ||
      !cli_parse_int64(x + 1, 150, 8000, &b))
    return false;
  *w = (int)a;
  *h = (int)b;
  return true;
}

static int plot_parse(cli_common *common, int argc, char **argv,
                      plot_options *opt, bool *done) {
  static const struct option options[] = {
      {"output", required_argument, NULL, 'o'},
      {"size", required_argument, NULL, PLOT_OPT_SIZE},
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  int c;
  cli_getopt_begin(common, argv);
  while ((c = getopt_long(argc, argv, "o:" CLI_COMMON_SHORT_OPTIONS, options,
                          NULL)) != -1) {
    switch (c) {
    case 'o':
      opt->output = optarg;
      break;
    case PLOT_OPT_SIZE:
      if (!plot_parse_size(optarg, &opt->width, &opt->height))
        return cli_usage_error(common,
                               "--size wants WIDTHxHEIGHT from 200x150 to "
                               "8000x8000, got '%s'",
                               optarg);
      break;
    case 'h':
      printf("Usage: %s\n\n%s", plot_usage, plot_help);
      *done = true;
      return CLI_EXIT_OK;
    default:
      if (!cli_common_option(common, c))
        return cli_usage_hint(common);
    }
  }
  if (optind >= argc)
    return cli_usage_error(common, "missing RUN_DIR");
  if (argc - optind > 1)
    return cli_usage_error(common, "one RUN_DIR at a time, got %d",
                           argc - optind);
  opt->run = argv[optind];
  return CLI_EXIT_OK;
}

#if GESTA_HAVE_GSTREAMER

/* The folder the PNGs go to: -o (made when missing) or the run's. */
static gesta_status plot_out_dir(const plot_options *opt, const history *h,
                                 char *dir, size_t size, gesta_error *err) {
  struct stat st;
  if (!opt->output) {
    const char *slash = strrchr(h->source, '/');
    snprintf(dir, size, "%.*s", slash ? (int)(slash - h->source) : 1,
             slash ? h->source : ".");
    return GESTA_STATUS_OK;
  }
  snprintf(dir, size, "%s", opt->output);
  if (stat(dir, &st) == 0)
    return S_ISDIR(st.st_mode)
               ? GESTA_STATUS_OK
               : gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                                 "-o %s is a file, not a folder", dir);
  if (mkdir(dir, 0777) != 0)
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                           "cannot make the folder %s: %s", dir,
                           strerror(errno));
  return GESTA_STATUS_OK;
}

/* One figure: a metric and its validation twin, blue and red as the seed
 * drew them, legend labels the Keras history keys. Returns OK without a
 * file (and *written false) when neither has a value. */
static gesta_status plot_figure(cli_common *common, const plot_options *opt,
                                const history *h, const char *dir, int metric,
                                const char *title, const char *y_label,
                                const char *file, bool *written,
                                gesta_error *err) {
  gesta_plot_series series[2];
  gesta_line_chart chart;
  char path[GESTA_PATH_MAX + 64], mark[96];
  int cols[2] = {metric, metric + 2}, n = 0; /* val_x follows x by 2 */
  uint32_t colours[2] = {0x0000ff, 0xff0000};
  double best_value = NAN;

  *written = false;
  for (int k = 0; k < 2; k++) {
    if (!history_has_values(h, cols[k])) {
      gesta_log(&common->ctx, GESTA_LOG_INFO, "%s: no %s values", h->source,
                history_column_names[cols[k]]);
      continue;
    }
    series[n].label = history_column_names[cols[k]];
    series[n].y = h->column[cols[k]];
    series[n].rgb = colours[k];
    n++;
  }
  if (n == 0) {
    gesta_log(&common->ctx, GESTA_LOG_WARNING,
              "%s has no %s or %s values: %s not written", h->source,
              history_column_names[cols[0]], history_column_names[cols[1]],
              file);
    return GESTA_STATUS_OK;
  }
  gesta_line_chart_init(&chart);
  chart.title = title;
  chart.x_label = "Epoch";
  chart.y_label = y_label;
  chart.x = h->column[HISTORY_EPOCH];
  chart.n = h->n;
  chart.series = series;
  chart.n_series = n;
  chart.x_integer = 1;
  chart.width = opt->width;
  chart.height = opt->height;
  if (h->best_epoch > 0) {
    for (int64_t i = 0; i < h->n; i++)
      for (int c = 0; c < HISTORY_COLUMNS; c++)
        if (h->column[HISTORY_EPOCH][i] == (double)h->best_epoch &&
            strcmp(history_column_names[c], h->monitor) == 0)
          best_value = h->column[c][i];
    chart.mark_x = (double)h->best_epoch;
    if (isfinite(best_value))
      snprintf(mark, sizeof mark, "best epoch %lld (%s %.4f)",
               (long long)h->best_epoch, h->monitor, best_value);
    else
      snprintf(mark, sizeof mark, "best epoch %lld", (long long)h->best_epoch);
    chart.mark_label = mark;
  }
  snprintf(path, sizeof path, "%s/%s", dir, file);
  if (gesta_plot_lines_png(&chart, path, err) != GESTA_STATUS_OK)
    return err->status;
  *written = true;
  printf("wrote %s (%dx%d)\n", path, opt->width ? opt->width : 800,
         opt->height ? opt->height : 500);
  return GESTA_STATUS_OK;
}

static int plot_run(cli_common *common, const plot_options *opt) {
  history h;
  gesta_error err;
  char dir[GESTA_PATH_MAX];
  bool loss_written = false, acc_written = false;
  gesta_status status;
  gesta_error_clear(&err);
  status = history_load(opt->run, &h, &err);
  if (status == GESTA_STATUS_OK)
    status = plot_out_dir(opt, &h, dir, sizeof dir, &err);
  if (status == GESTA_STATUS_OK)
    gesta_log(&common->ctx, GESTA_LOG_INFO,
              "%s: %lld epochs%s%s, best epoch %lld by %s", h.source,
              (long long)h.n, h.model[0] ? " of " : "", h.model,
              (long long)h.best_epoch, h.monitor);
  if (status == GESTA_STATUS_OK)
    status = plot_figure(common, opt, &h, dir, HISTORY_LOSS,
                         "Total Loss vs Total Validation Loss", "Loss",
                         "loss.png", &loss_written, &err);
  if (status == GESTA_STATUS_OK)
    status = plot_figure(common, opt, &h, dir, HISTORY_ACCURACY,
                         "Total Accuracy vs Total Validation Accuracy",
                         "Accuracy", "accuracy.png", &acc_written, &err);
  if (status == GESTA_STATUS_OK && !loss_written && !acc_written)
    status = gesta_error_set(&err, GESTA_STATUS_BAD_INPUT,
                             "%s has no finite loss or accuracy value to "
                             "plot",
                             h.source);
  history_free(&h);
  return status == GESTA_STATUS_OK ? CLI_EXIT_OK : cli_report(common, &err);
}

#else

static int plot_run(cli_common *common, const plot_options *opt) {
  (void)common;
  (void)opt;
  fprintf(stderr, "gesta: error: this gesta was built without cairo, which "
                  "comes with the video pipeline (GESTA_GSTREAMER=OFF), so "
                  "it cannot draw figures; rebuild with "
                  "-DGESTA_GSTREAMER=ON\n");
  return CLI_EXIT_USAGE;
}

#endif

static int cmd_plot_main(int argc, char **argv) {
  cli_common common;
  plot_options opt = {0};
  bool done = false;
  int rc;
  cli_common_init(&common, "plot", plot_usage);
  rc = plot_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  return plot_run(&common, &opt);
}

const cli_command cli_command_plot = {
    .name = "plot",
    .summary = "draw a training run's loss and accuracy curves as PNG",
    .main = cmd_plot_main,
};
