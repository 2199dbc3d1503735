/* gesta synth: builds the synthetic stick-figure dataset (UCF101 layout). */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gesta/synth.h"

static const char synth_usage[] = "gesta synth [OPTIONS] OUT_DIR";

static const char synth_help[] =
    "Writes a synthetic human-activity dataset laid out like UCF101: stick\n"
    "figures acting out six classes in three time-reversed pairs,\n"
    "SitDown/StandUp, RaiseArms/LowerArms and WalkLeft/WalkRight. Within a\n"
    "pair one class is the other played backwards, so a model that looks at\n"
    "single frames cannot tell the two apart and a temporal model can.\n"
    "\n"
    "Videos are 320x240, 25 fps, MPEG-4 part 2 in AVI, 40 to 150 frames:\n"
    "OUT_DIR/<Class>/v_<Class>_gGG_cCC.avi, where the clips of a group share\n"
    "a look (background, colours, proportions). OUT_DIR also gets\n"
    "classInd.txt, trainlist01.txt and testlist01.txt; the first groups are\n"
    "the test set, as in UCF101's split 1. The same seed and options give\n"
    "byte-identical files.\n"
    "\n"
    "Options:\n"
    "  -n, --videos-per-class N  videos per class (default 96)\n"
    "  -g, --groups G            groups, i.e. looks (default 96, at most 99)\n"
    "  -t, --test-groups T       groups 1..T are the test set (default: 7 in\n"
    "                            25 as UCF101, rounded; 27 for 96 groups)\n"
    "  -s, --seed S              seed (default 0)\n"
    "  -f, --force               write into OUT_DIR even when it is not\n"
    "                            empty (videos and lists are replaced)\n"
    "      --no-progress         no progress bar or lines\n" CLI_COMMON_HELP
    "\n"
    "Examples:\n"
    "  gesta synth synth-data      # what the bundled models learnt from\n"
    "  gesta synth -n 20 -g 10 small-synth\n"
    "\n" CLI_EXIT_CODES_HELP;

enum { SYNTH_OPT_NO_PROGRESS = 256 };

typedef struct synth_cli {
  gesta_synth_options opt;
  const char *out_dir;
  bool progress;
} synth_cli;

#if GESTA_HAVE_GSTREAMER
/* On a terminal one line redrawn in place; otherwise a line per video, so
 * a log shows what was written. */
static void synth_progress(void *user, int done, int total, const char *path) {
  bool tty = *(const bool *)user;
  enum { WIDTH = 30 };
  char bar[WIDTH + 1];
  int fill = total ? done * WIDTH / total : WIDTH;
  if (!tty) {
    if (done > 0)
      fprintf(stderr, "gesta synth: %d/%d %s\n", done, total, path);
    return;
  }
  for (int i = 0; i < WIDTH; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[WIDTH] = '\0';
  fprintf(stderr, "\r[%s] %3d/%d %-40.40s", bar, done, total, path);
  if (done == total)
    fputc('\n', stderr);
  fflush(stderr);
}

static int synth_parse(cli_common *common, int argc, char **argv,
                       synth_cli *cli, bool *done) {
  static const struct option options[] = {
      {"videos-per-class", required_argument, NULL, 'n'},
      {"groups", required_argument, NULL, 'g'},
      {"test-groups", required_argument, NULL, 't'},
      {"seed", required_argument, NULL, 's'},
      {"force", no_argument, NULL, 'f'},
      {"no-progress", no_argument, NULL, SYNTH_OPT_NO_PROGRESS},
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  int64_t v;
  int c;
  cli_getopt_begin(common, argv);
  while ((c = getopt_long(argc, argv, "n:g:t:s:f" CLI_COMMON_SHORT_OPTIONS,
                          options, NULL)) != -1) {
    switch (c) {
    case 'n':
      if (!cli_parse_int64(optarg, 1,
                           (int64_t)GESTA_SYNTH_MAX_GROUPS *
                               GESTA_SYNTH_MAX_CLIPS_PER_GROUP,
                           &v))
        return cli_usage_error(
            common,
            "--videos-per-class wants a number from 1 to "
            "%d, got '%s'",
            GESTA_SYNTH_MAX_GROUPS * GESTA_SYNTH_MAX_CLIPS_PER_GROUP, optarg);
      cli->opt.videos_per_class = (int)v;
      break;
    case 'g':
      if (!cli_parse_int64(optarg, 1, GESTA_SYNTH_MAX_GROUPS, &v))
        return cli_usage_error(common,
                               "--groups wants a number from 1 to %d, got '%s'",
                               GESTA_SYNTH_MAX_GROUPS, optarg);
      cli->opt.groups = (int)v;
      break;
    case 't':
      if (!cli_parse_int64(optarg, 0, GESTA_SYNTH_MAX_GROUPS - 1, &v))
        return cli_usage_error(
            common, "--test-groups wants a number from 0 to %d, got '%s'",
            GESTA_SYNTH_MAX_GROUPS - 1, optarg);
      cli->opt.test_groups = (int)v;
      break;
    case 's':
      if (!cli_parse_uint64(optarg, &cli->opt.seed))
        return cli_usage_error(
            common, "--seed wants a whole number >= 0, got '%s'", optarg);
      break;
    case 'f':
      cli->opt.force = true;
      break;
    case SYNTH_OPT_NO_PROGRESS:
      cli->progress = false;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", synth_usage, synth_help);
      *done = true;
      return CLI_EXIT_OK;
    default:
      if (!cli_common_option(common, c))
        return cli_usage_hint(common);
    }
  }
  if (optind >= argc)
    return cli_usage_error(common, "missing OUT_DIR");
  if (argc - optind > 1)
    return cli_usage_error(common, "one OUT_DIR at a time (got '%s' and '%s')",
                           argv[optind], argv[optind + 1]);
  cli->out_dir = argv[optind];
  if (cli->opt.videos_per_class < cli->opt.groups)
    return cli_usage_error(common,
                           "--videos-per-class %d is fewer than --groups %d: "
                           "every group needs at least one video",
                           cli->opt.videos_per_class, cli->opt.groups);
  if (gesta_synth_test_groups(&cli->opt) >= cli->opt.groups)
    return cli_usage_error(common,
                           "--test-groups %d leaves no group for training "
                           "(--groups %d)",
                           cli->opt.test_groups, cli->opt.groups);
  return CLI_EXIT_OK;
}

static int cmd_synth_main(int argc, char **argv) {
  cli_common common;
  synth_cli cli = {.progress = true};
  gesta_error err;
  bool done = false, tty;
  double t0;
  int rc;

  gesta_synth_options_init(&cli.opt);
  cli_common_init(&common, "synth", synth_usage);
  rc = synth_parse(&common, argc, argv, &cli, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  gesta_error_clear(&err);
  tty = isatty(STDERR_FILENO) == 1;
  if (cli.progress && common.ctx.log_level > GESTA_LOG_ERROR) {
    cli.opt.progress = synth_progress;
    cli.opt.progress_user = &tty;
  }
  t0 = cli_now_ms();
  if (gesta_synth_build(&common.ctx, cli.out_dir, &cli.opt, &err) !=
      GESTA_STATUS_OK) {
    if (tty && cli.opt.progress)
      fputc('\n', stderr);
    return cli_report(&common, &err);
  }
  printf("wrote %d videos (%d classes, %d groups: %d for training, %d for "
         "testing) to %s in %.1f s\n",
         GESTA_SYNTH_CLASS_COUNT * cli.opt.videos_per_class,
         GESTA_SYNTH_CLASS_COUNT, cli.opt.groups,
         cli.opt.groups - gesta_synth_test_groups(&cli.opt),
         gesta_synth_test_groups(&cli.opt), cli.out_dir,
         (cli_now_ms() - t0) / 1000);
  return CLI_EXIT_OK;
}
#else
/* The library has no synth without GStreamer: only --help works. */
static int cmd_synth_main(int argc, char **argv) {
  cli_common common;
  gesta_error err;
  cli_common_init(&common, "synth", synth_usage);
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      printf("Usage: %s\n\n%s", synth_usage, synth_help);
      return CLI_EXIT_OK;
    }
  gesta_error_clear(&err);
  gesta_error_set(&err, GESTA_STATUS_UNSUPPORTED,
                  "this gesta was built without GStreamer "
                  "(GESTA_GSTREAMER=OFF); rebuild with -DGESTA_GSTREAMER=ON "
                  "to write videos");
  return cli_report(&common, &err);
}
#endif

const cli_command cli_command_synth = {
    .name = "synth",
    .summary = "write a synthetic stick-figure activity dataset (UCF101 "
               "layout)",
    .main = cmd_synth_main,
};
