/* gesta init: Keras-style random initial weights for a model. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char init_usage[] =
    "gesta init [OPTIONS] MODEL.yaml -o FILE.safetensors";

static const char init_help[] =
    "Writes initial weights for a model the way Keras would make them:\n"
    "Glorot-uniform kernels, orthogonal recurrent kernels, zero biases (the\n"
    "LSTM forget gate's set to one), batch normalisation gamma and variance\n"
    "one, beta and mean zero. Same seed, same file, on every machine.\n"
    "These weights are untrained: use them to try a model or to start\n"
    "training, not to recognise anything.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE       where to write the weights (safetensors); "
    "required\n"
    "  -s, --seed N            random seed, 0 to 18446744073709551615 (default "
    "0)\n"
    "  -f, --force             overwrite the model's own weights "
    "file\n" CLI_COMMON_HELP "\n"
    "Example:\n"
    "  gesta init models/lrcn.yaml -o lrcn-random.safetensors --seed 1\n"
    "  gesta run models/lrcn.yaml --weights lrcn-random.safetensors "
    "--random-input 2\n"
    "\n" CLI_EXIT_CODES_HELP;

/* Trained weights are precious: writing random ones over the file the
 * model itself names needs --force. */
static bool init_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (!a[0] || !b[0])
    return false;
  if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
    return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int cmd_init_main(int argc, char **argv) {
  static const struct option options[] = {
      {"output", required_argument, NULL, 'o'},
      {"seed", required_argument, NULL, 's'},
      {"force", no_argument, NULL, 'f'},
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  cli_common common;
  const char *output = NULL;
  uint64_t seed = 0;
  bool force = false;
  gesta_model *model = NULL;
  gesta_error err;
  gesta_param_counts counts;
  char total[32];
  int c;

  cli_common_init(&common, "init", init_usage);
  cli_getopt_begin(&common, argv);
  while ((c = getopt_long(argc, argv, "o:s:f" CLI_COMMON_SHORT_OPTIONS, options,
                          NULL)) != -1) {
    switch (c) {
    case 'o':
      output = optarg;
      break;
    case 's':
      if (!cli_parse_uint64(optarg, &seed))
        return cli_usage_error(
            &common, "--seed wants a whole number >= 0, got '%s'", optarg);
      break;
    case 'f':
      force = true;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", init_usage, init_help);
      return CLI_EXIT_OK;
    default:
      if (!cli_common_option(&common, c))
        return cli_usage_hint(&common);
    }
  }
  if (optind >= argc)
    return cli_usage_error(&common, "missing MODEL.yaml");
  if (argc - optind > 1)
    return cli_usage_error(&common, "one model at a time (got '%s' and '%s')",
                           argv[optind], argv[optind + 1]);
  if (!output || !output[0])
    return cli_usage_error(&common,
                           "missing -o FILE.safetensors (where to write the "
                           "weights)");

  gesta_error_clear(&err);
  common.ctx.seed = seed;
  if (cli_load_model(&common, argv[optind], &model, &err) != GESTA_STATUS_OK)
    goto fail;
  if (!force && init_same_file(output, model->weights_path)) {
    gesta_error_set(&err, GESTA_STATUS_BAD_INPUT,
                    "%s is the weights file model '%s' loads by default; "
                    "random weights would replace it. Write them elsewhere, "
                    "or pass --force",
                    output, model->name);
    goto fail;
  }
  if (gesta_model_init_weights(model, seed, &err) != GESTA_STATUS_OK)
    goto fail;
  if (gesta_model_save_weights(model, output, &err) != GESTA_STATUS_OK)
    goto fail;

  counts = gesta_model_count_params(model);
  printf("wrote %s: random initial (untrained) weights for model '%s', "
         "%d tensors, %s parameters, seed %" PRIu64 "\n",
         output, model->name, model->n_params,
         cli_format_count(counts.total, total, sizeof total), seed);
  gesta_model_free(model);
  return CLI_EXIT_OK;

fail:
  if (model)
    gesta_model_free(model);
  return cli_report(&common, &err);
}

const cli_command cli_command_init = {
    .name = "init",
    .summary = "write Keras-style random initial weights for a model",
    .main = cmd_init_main,
};
