/* gesta train: trains a model on a clip cache (or a dataset folder, cached
 * first) into a run folder, with a checkpoint per epoch and --resume. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "train_run.h"

static const char train_usage[] =
    "gesta train [OPTIONS] MODEL.yaml DATA -o RUN_DIR | "
    "gesta train --resume RUN_DIR [OPTIONS]";

static const char train_help[] =
    "Trains a model from its initial weights (seeded) on DATA: a clip cache\n"
    "from gesta dataset build, or a dataset folder (then cached into\n"
    "RUN_DIR/clips.cache first). Categorical cross-entropy; Adam with\n"
    "Keras' defaults unless told otherwise. Each epoch shuffles the\n"
    "training clips with the seed and ends with a validation pass and a\n"
    "checkpoint. A per-frame model (input H x W x C) trains on single\n"
    "frames labelled with their video's class and is validated per video\n"
    "on the mean of its frames' probabilities.\n"
    "\n"
    "RUN_DIR gets: checkpoint.safetensors (the latest state, for --resume),\n"
    "best.safetensors (the weights of the best epoch by --monitor),\n"
    "history.csv and history.json (per epoch: loss, accuracy, val_loss,\n"
    "val_accuracy, time_s, lr), model.yaml (a copy of the model) and the\n"
    "final weights under the file name the model's `weights:` gives.\n"
    "Ctrl-C saves a checkpoint at the end of the current batch and exits\n"
    "with status 130. The same seed, data, options and --threads on the CPU\n"
    "backend give the same weights, bit for bit, also across a --resume.\n"
    "\n"
    "Options:\n"
    "  -o, --output RUN_DIR    the run folder (created)\n"
    "  -e, --epochs N          epochs in all (default 20); with --resume,\n"
    "                          raise it to train longer\n"
    "      --batch-size B      clips (frames for a per-frame model) per\n"
    "                          step (default 4)\n"
    "      --validation-split F  part of the training clips held out for\n"
    "                          validation, seeded (default 0.25; ignored\n"
    "                          when the cache has validation clips)\n"
    "      --validation-by-group  draw the validation part as whole groups\n"
    "                          (UCF101's _gNN_ in the file names), so it\n"
    "                          shows looks training never sees\n"
    "  -s, --seed S            initial weights, dropout masks, shuffling and\n"
    "                          the validation split (default 0)\n"
    "      --lr LR             learning rate (Adam 0.001, SGD 0.01)\n"
    "      --optimizer NAME    adam (default) or sgd\n"
    "      --momentum M        SGD momentum (default 0)\n"
    "      --early-stopping    stop when --monitor has not improved for\n"
    "                          --patience epochs; either way the run ends\n"
    "                          with the best epoch's weights restored\n"
    "      --monitor NAME      val_loss (default), val_accuracy, loss or\n"
    "                          accuracy\n"
    "      --patience N        epochs without improvement (default 15)\n"
    "      --reduce-lr F       multiply the learning rate by F when --monitor\n"
    "                          has not improved for --lr-patience epochs\n"
    "                          (Keras' ReduceLROnPlateau; default: off)\n"
    "      --lr-patience N     epochs without improvement before each\n"
    "                          reduction (default 5)\n"
    "      --min-lr LR         the learning rate's floor (default 0)\n"
    "      --warmup N          raise the learning rate linearly from\n"
    "                          almost 0 to --lr over the first N epochs'\n"
    "                          steps; no --reduce-lr before (default 0)\n"
    "      --threads N         threads of the CPU backend (default: the\n"
    "                          CPUs); part of the bit-exact reproducibility\n"
    "      --augment           each training sample with a random look, alike\n"
    "                          for all of a clip's frames: channel order,\n"
    "                          inverted or not, contrast, brightness and a\n"
    "                          shift of up to 1/8 of the frame (no\n"
    "                          mirroring unless --augment-mirror)\n"
    "      --augment-zoom Z    --augment, and the picture scaled by a factor\n"
    "                          from 1/(1+Z) to 1+Z (default 0: not scaled)\n"
    "      --augment-noise S   --augment, and grain of a standard deviation\n"
    "                          up to S x the value range, new in every frame\n"
    "                          (default 0: none)\n"
    "      --augment-time N    --augment, and a clip's frames moved by up to\n"
    "                          N earlier or later, the first or last frame\n"
    "                          repeated (default 0: not moved)\n"
    "      --augment-mirror    --augment, and half the samples mirrored\n"
    "                          left-right (labels kept unless\n"
    "                          --mirror-swap names them)\n"
    "      --mirror-swap A:B[,C:D...]  --augment-mirror, and a mirrored\n"
    "                          sample of class A labelled B and the other\n"
    "                          way round (a walk to the left mirrored is a\n"
    "                          walk to the right)\n"
    "      --frames-per-clip K  a per-frame model learns from K evenly\n"
    "                          spaced frames of each clip per epoch, from\n"
    "                          an offset drawn per epoch (default: all)\n"
    "      --log-every N       without a terminal, a progress line every N\n"
    "                          batches (default 10; 0: none)\n"
    "      --resume RUN_DIR    continue a run from its checkpoint; MODEL,\n"
    "                          DATA, --backend and --device default to the\n"
    "                          run's\n"
    "  -f, --force             start over in a RUN_DIR that holds a "
    "run\n" CLI_BACKEND_HELP CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta synth synth-data\n"
    "  gesta dataset build synth-data -m lrcn-synth.yaml -o synth.clips\n"
    "  gesta train lrcn-synth.yaml synth.clips -o runs/lrcn --epochs 30 \\\n"
    "      --early-stopping --patience 10 --backend cpu\n"
    "  gesta train --resume runs/lrcn\n"
    "\n"
    "Exit codes: 0 trained, 1 runtime failure (a diverging loss included),\n"
    "2 bad usage or input, 130 interrupted (checkpoint saved).\n";

enum {
  TR_OPT_BATCH = 256,
  TR_OPT_VAL,
  TR_OPT_LR,
  TR_OPT_OPTIMIZER,
  TR_OPT_MOMENTUM,
  TR_OPT_EARLY,
  TR_OPT_MONITOR,
  TR_OPT_PATIENCE,
  TR_OPT_THREADS,
  TR_OPT_LOG_EVERY,
  TR_OPT_RESUME,
  TR_OPT_AUGMENT,
  TR_OPT_FRAMES,
  TR_OPT_REDUCE_LR,
  TR_OPT_LR_PATIENCE,
  TR_OPT_MIN_LR,
  TR_OPT_VAL_GROUPS,
  TR_OPT_AUG_ZOOM,
  TR_OPT_AUG_NOISE,
  TR_OPT_AUG_TIME,
  TR_OPT_AUG_MIRROR,
  TR_OPT_MIRROR_SWAP,
  TR_OPT_WARMUP
};

static bool tr_parse_double(const char *text, double min, double max,
                            double *out) {
  char *end;
  double v = strtod(text, &end);
  if (end == text || *end || !(v >= min && v <= max))
    return false;
  *out = v;
  return true;
}

static int train_parse(cli_common *common, int argc, char **argv,
                       train_cli *cli, bool *done) {
  static const struct option options[] = {
      {"output", required_argument, NULL, 'o'},
      {"epochs", required_argument, NULL, 'e'},
      {"batch-size", required_argument, NULL, TR_OPT_BATCH},
      {"validation-split", required_argument, NULL, TR_OPT_VAL},
      {"seed", required_argument, NULL, 's'},
      {"lr", required_argument, NULL, TR_OPT_LR},
      {"optimizer", required_argument, NULL, TR_OPT_OPTIMIZER},
      {"momentum", required_argument, NULL, TR_OPT_MOMENTUM},
      {"early-stopping", no_argument, NULL, TR_OPT_EARLY},
      {"monitor", required_argument, NULL, TR_OPT_MONITOR},
      {"patience", required_argument, NULL, TR_OPT_PATIENCE},
      {"threads", required_argument, NULL, TR_OPT_THREADS},
      {"log-every", required_argument, NULL, TR_OPT_LOG_EVERY},
      {"resume", required_argument, NULL, TR_OPT_RESUME},
      {"augment", no_argument, NULL, TR_OPT_AUGMENT},
      {"frames-per-clip", required_argument, NULL, TR_OPT_FRAMES},
      {"reduce-lr", required_argument, NULL, TR_OPT_REDUCE_LR},
      {"lr-patience", required_argument, NULL, TR_OPT_LR_PATIENCE},
      {"min-lr", required_argument, NULL, TR_OPT_MIN_LR},
      {"validation-by-group", no_argument, NULL, TR_OPT_VAL_GROUPS},
      {"augment-zoom", required_argument, NULL, TR_OPT_AUG_ZOOM},
      {"augment-noise", required_argument, NULL, TR_OPT_AUG_NOISE},
      {"augment-time", required_argument, NULL, TR_OPT_AUG_TIME},
      {"augment-mirror", no_argument, NULL, TR_OPT_AUG_MIRROR},
      {"mirror-swap", required_argument, NULL, TR_OPT_MIRROR_SWAP},
      {"warmup", required_argument, NULL, TR_OPT_WARMUP},
      {"force", no_argument, NULL, 'f'},
      CLI_BACKEND_LONG_OPTIONS,
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  int c, rc = CLI_EXIT_OK;
  cli_getopt_begin(common, argv);
  while ((c = getopt_long(
              argc, argv,
              "o:e:s:f" CLI_BACKEND_SHORT_OPTIONS CLI_COMMON_SHORT_OPTIONS,
              options, NULL)) != -1) {
    switch (c) {
    case 'o':
      cli->output = optarg;
      break;
    case 'e':
      if (!cli_parse_int64(optarg, 1, 1000000, &cli->epochs))
        return cli_usage_error(common, "--epochs wants a number >= 1, got '%s'",
                               optarg);
      cli->epochs_given = true;
      break;
    case TR_OPT_BATCH:
      if (!cli_parse_int64(optarg, 1, 65536, &cli->batch))
        return cli_usage_error(
            common, "--batch-size wants 1 to 65536, got '%s'", optarg);
      cli->batch_given = true;
      break;
    case TR_OPT_VAL:
      if (!tr_parse_double(optarg, 0, 0.99, &cli->validation_split))
        return cli_usage_error(common,
                               "--validation-split wants a fraction from 0 to "
                               "0.99, got '%s'",
                               optarg);
      cli->val_given = true;
      break;
    case 's':
      if (!cli_parse_uint64(optarg, &cli->seed))
        return cli_usage_error(
            common, "--seed wants a whole number >= 0, got '%s'", optarg);
      cli->seed_given = true;
      break;
    case TR_OPT_LR:
      if (!tr_parse_double(optarg, 1e-30, 1e30, &cli->lr))
        return cli_usage_error(common, "--lr wants a number > 0, got '%s'",
                               optarg);
      cli->lr_given = true;
      break;
    case TR_OPT_OPTIMIZER:
      if (strcmp(optarg, "adam") != 0 && strcmp(optarg, "sgd") != 0)
        return cli_usage_error(common, "--optimizer is adam or sgd, got '%s'",
                               optarg);
      cli->optimizer = optarg;
      cli->optimizer_given = true;
      break;
    case TR_OPT_MOMENTUM:
      if (!tr_parse_double(optarg, 0, 0.9999, &cli->momentum))
        return cli_usage_error(
            common, "--momentum wants a number in [0, 1), got '%s'", optarg);
      cli->momentum_given = true;
      break;
    case TR_OPT_EARLY:
      cli->early_stopping = true;
      break;
    case TR_OPT_MONITOR:
      if (strcmp(optarg, "val_loss") != 0 &&
          strcmp(optarg, "val_accuracy") != 0 && strcmp(optarg, "loss") != 0 &&
          strcmp(optarg, "accuracy") != 0)
        return cli_usage_error(common,
                               "--monitor is val_loss, val_accuracy, loss or "
                               "accuracy, got '%s'",
                               optarg);
      cli->monitor = optarg;
      cli->monitor_given = true;
      break;
    case TR_OPT_PATIENCE:
      if (!cli_parse_int64(optarg, 0, 1000000, &cli->patience))
        return cli_usage_error(
            common, "--patience wants a number >= 0, got '%s'", optarg);
      break;
    case TR_OPT_THREADS:
      if ((rc = cli_parse_threads(common, optarg, &cli->threads)))
        return rc;
      cli->threads_given = true;
      break;
    case TR_OPT_LOG_EVERY:
      if (!cli_parse_int64(optarg, 0, 1000000000, &cli->log_every))
        return cli_usage_error(
            common, "--log-every wants a number >= 0, got '%s'", optarg);
      break;
    case TR_OPT_RESUME:
      cli->resume = optarg;
      break;
    case TR_OPT_AUGMENT:
      cli->augment = true;
      break;
    case TR_OPT_AUG_ZOOM:
      if (!tr_parse_double(optarg, 0, 1, &cli->aug_zoom))
        return cli_usage_error(
            common, "--augment-zoom wants a number from 0 to 1, got '%s'",
            optarg);
      cli->augment = cli->aug_zoom_given = true;
      break;
    case TR_OPT_AUG_NOISE:
      if (!tr_parse_double(optarg, 0, 0.5, &cli->aug_noise))
        return cli_usage_error(
            common, "--augment-noise wants a number from 0 to 0.5, got '%s'",
            optarg);
      cli->augment = cli->aug_noise_given = true;
      break;
    case TR_OPT_AUG_TIME:
      if (!cli_parse_int64(optarg, 0, 1000, &cli->aug_time))
        return cli_usage_error(
            common,
            "--augment-time wants a number of frames from 0 to 1000, "
            "got '%s'",
            optarg);
      cli->augment = cli->aug_time_given = true;
      break;
    case TR_OPT_AUG_MIRROR:
      cli->augment = cli->aug_mirror = true;
      break;
    case TR_OPT_MIRROR_SWAP:
      if (!*optarg || strlen(optarg) >= 256)
        return cli_usage_error(common,
                               "--mirror-swap wants pairs of classes, "
                               "CLASS:CLASS[,CLASS:CLASS...], got '%s'",
                               optarg);
      cli->mirror_swap = optarg;
      cli->augment = cli->aug_mirror = true;
      break;
    case TR_OPT_REDUCE_LR:
      if (!tr_parse_double(optarg, 1e-6, 0.999999, &cli->lr_factor))
        return cli_usage_error(
            common, "--reduce-lr wants a factor between 0 and 1, got '%s'",
            optarg);
      break;
    case TR_OPT_WARMUP:
      if (!cli_parse_int64(optarg, 0, 1000000, &cli->warmup))
        return cli_usage_error(
            common, "--warmup wants a number of epochs >= 0, got '%s'", optarg);
      cli->warmup_given = true;
      break;
    case TR_OPT_LR_PATIENCE:
      if (!cli_parse_int64(optarg, 1, 1000000, &cli->lr_patience))
        return cli_usage_error(
            common, "--lr-patience wants a number >= 1, got '%s'", optarg);
      break;
    case TR_OPT_VAL_GROUPS:
      cli->val_by_group = true;
      break;
    case TR_OPT_MIN_LR:
      if (!tr_parse_double(optarg, 0, 1e30, &cli->min_lr))
        return cli_usage_error(common, "--min-lr wants a number >= 0, got '%s'",
                               optarg);
      break;
    case TR_OPT_FRAMES:
      if (!cli_parse_int64(optarg, 1, 1000000, &cli->frames_per_clip))
        return cli_usage_error(
            common, "--frames-per-clip wants a number >= 1, got '%s'", optarg);
      cli->frames_given = true;
      break;
    case 'f':
      cli->force = true;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", train_usage, train_help);
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
  int left = argc - optind;
  if (left > 2)
    return cli_usage_error(common, "too many arguments: MODEL.yaml DATA");
  cli->model = left > 0 ? argv[optind] : NULL;
  cli->data = left > 1 ? argv[optind + 1] : NULL;
  if (cli->resume) {
    if (cli->output && strcmp(cli->output, cli->resume) != 0)
      return cli_usage_error(common, "--resume continues in RUN_DIR itself; "
                                     "drop -o");
    return CLI_EXIT_OK;
  }
  if (!cli->model)
    return cli_usage_error(common, "missing MODEL.yaml");
  if (!cli->data)
    return cli_usage_error(common, "missing DATA: a clip cache (gesta dataset "
                                   "build) or a dataset folder");
  if (!cli->output)
    return cli_usage_error(common, "missing -o RUN_DIR: where the checkpoints "
                                   "and history go");
  return CLI_EXIT_OK;
}

static int cmd_train_main(int argc, char **argv) {
  cli_common common;
  train_cli cli;
  bool done = false;
  memset(&cli, 0, sizeof cli);
  cli.epochs = 20;
  cli.batch = 4;
  cli.validation_split = 0.25;
  cli.patience = 15;
  cli.lr_patience = 5;
  cli.log_every = 10;
  cli.optimizer = "adam";
  cli.monitor = "val_loss";
  cli_common_init(&common, "train", train_usage);
  int rc = train_parse(&common, argc, argv, &cli, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  return train_command(&common, &cli);
}

const cli_command cli_command_train = {
    .name = "train",
    .summary = "train a model on a clip cache or dataset folder, with "
               "checkpoints and --resume",
    .main = cmd_train_main,
};
