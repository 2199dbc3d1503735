/* gesta dataset: builds a clip cache from a UCF101-style folder, and
 * describes one. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gesta/clipcache.h"
#include "train_dataset.h"
#include "train_util.h"

static const char dataset_usage[] =
    "gesta dataset build [OPTIONS] DIR -m MODEL.yaml -o CACHE | "
    "gesta dataset info CACHE";

static const char dataset_help[] =
    "build: decodes every video of a dataset folder once, with the model's\n"
    "preprocessing (the seed's uniformly sampled frames, resized and\n"
    "scaled), and stores the clips in one file that gesta train and gesta\n"
    "eval map into memory. DIR holds a folder per class with its videos;\n"
    "classInd.txt, trainlist0N.txt and testlist0N.txt (UCF101's lists, as\n"
    "gesta synth writes them) give the classes' order and the split.\n"
    "Videos that cannot be read or are too short are skipped with a\n"
    "warning and counted.\n"
    "\n"
    "info: the cache's shape, classes and clips per split.\n"
    "\n"
    "Options (build):\n"
    "  -m, --model MODEL.yaml  the model whose preprocessing makes the clips\n"
    "                          (a bundled name like lrcn works)\n"
    "  -o, --output CACHE      the cache file to write\n"
    "      --split MODE        official (the lists), random (a seeded\n"
    "                          shuffle, per video) or auto (default: the\n"
    "                          lists when present, else random)\n"
    "      --split-index N     use trainlist0N/testlist0N (default 1)\n"
    "      --test FRACTION     random split: the test part (default 0.25)\n"
    "      --val FRACTION      also set aside this part of the training\n"
    "                          videos for validation (default 0: gesta\n"
    "                          train takes its --validation-split)\n"
    "  -s, --seed S            seed of the random and validation splits\n"
    "                          (default 0)\n"
    "      --float32           store floats (4x the size) instead of 8-bit\n"
    "                          pixels scaled when read\n"
    "      --no-progress       no progress bar or lines\n"
    "Options (info):\n"
    "      --list              also list every clip: split, class, "
    "source\n" CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta synth synth-data\n"
    "  gesta dataset build synth-data -m lrcn-synth.yaml -o synth.clips\n"
    "  gesta dataset info synth.clips\n"
    "\n" CLI_EXIT_CODES_HELP;

enum {
  DS_OPT_SPLIT = 256,
  DS_OPT_SPLIT_INDEX,
  DS_OPT_TEST,
  DS_OPT_VAL,
  DS_OPT_FLOAT32,
  DS_OPT_NO_PROGRESS,
  DS_OPT_LIST
};

typedef struct dataset_cli {
  const char *action, *dir, *model, *output;
  train_build_request req;
  bool list;
} dataset_cli;

static bool ds_parse_fraction(const char *text, double max, double *out) {
  char *end;
  double v = strtod(text, &end);
  if (end == text || *end || !(v >= 0 && v < max))
    return false;
  *out = v;
  return true;
}

static int dataset_parse(cli_common *common, int argc, char **argv,
                         dataset_cli *cli, bool *done) {
  static const struct option options[] = {
      {"model", required_argument, NULL, 'm'},
      {"output", required_argument, NULL, 'o'},
      {"split", required_argument, NULL, DS_OPT_SPLIT},
      {"split-index", required_argument, NULL, DS_OPT_SPLIT_INDEX},
      {"test", required_argument, NULL, DS_OPT_TEST},
      {"val", required_argument, NULL, DS_OPT_VAL},
      {"validation-split", required_argument, NULL, DS_OPT_VAL},
      {"seed", required_argument, NULL, 's'},
      {"float32", no_argument, NULL, DS_OPT_FLOAT32},
      {"no-progress", no_argument, NULL, DS_OPT_NO_PROGRESS},
      {"list", no_argument, NULL, DS_OPT_LIST},
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  int c;
  int64_t v;
  cli_getopt_begin(common, argv);
  while ((c = getopt_long(argc, argv, "m:o:s:" CLI_COMMON_SHORT_OPTIONS,
                          options, NULL)) != -1) {
    switch (c) {
    case 'm':
      cli->model = optarg;
      break;
    case 'o':
      cli->output = optarg;
      break;
    case DS_OPT_SPLIT:
      if (strcmp(optarg, "auto") == 0)
        cli->req.split = 0;
      else if (strcmp(optarg, "official") == 0)
        cli->req.split = 1;
      else if (strcmp(optarg, "random") == 0)
        cli->req.split = 2;
      else
        return cli_usage_error(common,
                               "--split is official, random or auto, got "
                               "'%s'",
                               optarg);
      break;
    case DS_OPT_SPLIT_INDEX:
      if (!cli_parse_int64(optarg, 1, 99, &v))
        return cli_usage_error(common, "--split-index wants 1 to 99, got '%s'",
                               optarg);
      cli->req.split_index = (int)v;
      break;
    case DS_OPT_TEST:
      if (!ds_parse_fraction(optarg, 1, &cli->req.test_fraction))
        return cli_usage_error(
            common, "--test wants a fraction in [0, 1), got '%s'", optarg);
      break;
    case DS_OPT_VAL:
      if (!ds_parse_fraction(optarg, 1, &cli->req.val_fraction))
        return cli_usage_error(
            common, "--val wants a fraction in [0, 1), got '%s'", optarg);
      break;
    case 's':
      if (!cli_parse_uint64(optarg, &cli->req.seed))
        return cli_usage_error(
            common, "--seed wants a whole number >= 0, got '%s'", optarg);
      break;
    case DS_OPT_FLOAT32:
      cli->req.dtype = GESTA_CLIP_F32;
      break;
    case DS_OPT_NO_PROGRESS:
      cli->req.progress = false;
      break;
    case DS_OPT_LIST:
      cli->list = true;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", dataset_usage, dataset_help);
      *done = true;
      return CLI_EXIT_OK;
    default:
      if (!cli_common_option(common, c))
        return cli_usage_hint(common);
    }
  }
  if (optind >= argc)
    return cli_usage_error(common, "missing the action: build or info");
  cli->action = argv[optind++];
  if (strcmp(cli->action, "build") != 0 && strcmp(cli->action, "info") != 0)
    return cli_usage_error(common, "unknown action '%s': build or info",
                           cli->action);
  if (optind >= argc)
    return cli_usage_error(common, "missing %s",
                           cli->action[0] == 'b' ? "DIR" : "CACHE");
  if (argc - optind > 1)
    return cli_usage_error(common, "one %s at a time (got '%s' and '%s')",
                           cli->action[0] == 'b' ? "DIR" : "CACHE",
                           argv[optind], argv[optind + 1]);
  cli->dir = argv[optind];
  if (cli->action[0] == 'b' && !cli->model)
    return cli_usage_error(common, "build needs -m MODEL.yaml: the model's "
                                   "preprocessing makes the clips");
  if (cli->action[0] == 'b' && !cli->output)
    return cli_usage_error(common, "build needs -o CACHE: the file to write");
  return CLI_EXIT_OK;
}

static int dataset_info(cli_common *common, const dataset_cli *cli) {
  gesta_error err;
  gesta_clipcache *c = NULL;
  char shape[64], input[64];
  gesta_error_clear(&err);
  if (gesta_clipcache_open(cli->dir, &c, &err) != GESTA_STATUS_OK)
    return cli_report(common, &err);
  gesta_shape s = gesta_clipcache_clip_shape(c);
  gesta_shape in = gesta_clipcache_model_input(c);
  const gesta_preprocess *pp = gesta_clipcache_preprocess(c);
  printf("clip cache %s\n", cli->dir);
  printf("  clips:   %lld (%lld train, %lld val, %lld test)\n",
         (long long)gesta_clipcache_count(c),
         (long long)gesta_clipcache_split_count(c, GESTA_SPLIT_TRAIN),
         (long long)gesta_clipcache_split_count(c, GESTA_SPLIT_VAL),
         (long long)gesta_clipcache_split_count(c, GESTA_SPLIT_TEST));
  printf("  clip:    %s, %s, scale %.17g, %s\n",
         gesta_shape_format(&s, shape, sizeof shape),
         pp->channels == GESTA_CHANNELS_BGR   ? "bgr"
         : pp->channels == GESTA_CHANNELS_RGB ? "rgb"
                                              : "gray",
         pp->scale,
         gesta_clipcache_dtype(c) == GESTA_CLIP_U8 ? "uint8" : "float32");
  printf("  model:   %s, input %s\n", gesta_clipcache_model_name(c),
         gesta_shape_format(&in, input, sizeof input));
  printf("  classes:");
  for (int i = 0; i < gesta_clipcache_class_count(c); i++)
    printf(" %s", gesta_clipcache_class_name(c, i));
  printf("\n");
  if (cli->list) {
    for (int64_t i = 0; i < gesta_clipcache_count(c); i++)
      printf("%s %s %s\n", gesta_split_name(gesta_clipcache_split(c, i)),
             gesta_clipcache_class_name(c, gesta_clipcache_label(c, i)),
             gesta_clipcache_source(c, i));
  }
  gesta_clipcache_close(c);
  return CLI_EXIT_OK;
}

static int cmd_dataset_main(int argc, char **argv) {
  cli_common common;
  dataset_cli cli;
  gesta_error err;
  gesta_model *model = NULL;
  bool done = false;
  memset(&cli, 0, sizeof cli);
  train_build_request_init(&cli.req);
  cli_common_init(&common, "dataset", dataset_usage);
  int rc = dataset_parse(&common, argc, argv, &cli, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  if (strcmp(cli.action, "info") == 0)
    return dataset_info(&common, &cli);
  gesta_error_clear(&err);
  if (cli_load_model(&common, cli.model, &model, &err) != GESTA_STATUS_OK)
    return cli_report(&common, &err);
  cli.req.dir = cli.dir;
  cli.req.cache = cli.output;
  cli.req.model = model;
  if (train_build_cache(&common, &cli.req, &err) != GESTA_STATUS_OK) {
    rc = cli_report(&common, &err);
    if (train_interrupted())
      rc = 130; /* as a shell reports a Ctrl-C */
  }
  gesta_model_free(model);
  return rc;
}

const cli_command cli_command_dataset = {
    .name = "dataset",
    .summary = "decode a video dataset once into a clip cache for training",
    .main = cmd_dataset_main,
};
