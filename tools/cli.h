/* gesta — helpers shared by the command-line subcommands: common options,
 * error reporting, number parsing and formatting. */
#ifndef GESTA_CLI_H
#define GESTA_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gesta/gesta.h"

/* Exit codes, also what gesta_status_exit_code() returns. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2 };

/* Where a command that runs a model runs it (--backend, --device,
 * --no-kernel-cache, --strict). */
typedef struct cli_backend_options {
  const char *backend; /* "auto" (default), "cpu" or "opencl" */
  bool backend_given;  /* --backend was on the command line */
  const char *device;  /* --device; NULL: $GESTA_DEVICE, else the default */
  bool device_given;   /* --device was on the command line */
  bool no_kernel_cache;
  bool strict;    /* a layer falling back to the CPU is an error; for
                     gesta_plan_options.strict */
  bool profiling; /* OpenCL profiling events (set by gesta bench) */
  bool no_tuning; /* CLBlast at its own parameters (set by gesta tune) */
} cli_backend_options;

/* What every subcommand accepts besides its own options. */
typedef struct cli_common {
  const char *command; /* "info", "init", "run" */
  const char *usage;   /* the one-line synopsis, without "Usage: " */
  gesta_context ctx;
  char program[64]; /* argv[0] while getopt_long runs: "gesta info" */
  cli_backend_options backend;
} cli_common;

/* Long options every subcommand lists after its own. */
#define CLI_COMMON_LONG_OPTIONS                                                \
  {"help", no_argument, NULL, 'h'}, {"verbose", no_argument, NULL, 'v'}, {     \
    "quiet", no_argument, NULL, 'q'                                            \
  }
/* Short options for the same, to append to a subcommand's optstring. */
#define CLI_COMMON_SHORT_OPTIONS "hvq"
/* Help lines for the same. */
#define CLI_COMMON_HELP                                                        \
  "  -v, --verbose           more messages on stderr (twice: debug detail)\n"  \
  "  -q, --quiet             only errors on stderr\n"                          \
  "  -h, --help              this help\n"

/* Long options of the commands that run a model, to list before
 * CLI_COMMON_LONG_OPTIONS; -b is their short option (add
 * CLI_BACKEND_SHORT_OPTIONS to the optstring) and cli_backend_option()
 * handles them. */
enum {
  CLI_OPT_DEVICE = 0x4000,
  CLI_OPT_NO_KERNEL_CACHE,
  CLI_OPT_STRICT,
};
#define CLI_BACKEND_LONG_OPTIONS                                               \
  {"backend", required_argument, NULL, 'b'},                                   \
      {"device", required_argument, NULL, CLI_OPT_DEVICE},                     \
      {"no-kernel-cache", no_argument, NULL, CLI_OPT_NO_KERNEL_CACHE}, {       \
    "strict", no_argument, NULL, CLI_OPT_STRICT                                \
  }
#define CLI_BACKEND_SHORT_OPTIONS "b:"
#define CLI_BACKEND_HELP                                                       \
  "  -b, --backend NAME      auto (default: the default OpenCL device if\n"    \
  "                          there is one, else the CPU), cpu or opencl\n"     \
  "      --device SPEC       OpenCL device: an index P:D or part of its\n"     \
  "                          name, platform or vendor (see gesta devices);\n"  \
  "                          default: $GESTA_DEVICE, else the first GPU\n"     \
  "      --no-kernel-cache   build OpenCL programs from source, store none\n"  \
  "      --strict            fail instead of running a layer the device\n"     \
  "                          cannot run on the CPU reference\n"

#define CLI_EXIT_CODES_HELP                                                    \
  "Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.\n"

void cli_common_init(cli_common *common, const char *command,
                     const char *usage);

/* Prepares argv for getopt_long (its messages then start with
 * "gesta COMMAND:") and resets getopt's state. argv[0] then points into
 * common, which must outlive the parsing. */
void cli_getopt_begin(cli_common *common, char **argv);

/* Handles -v, -q; returns false for any other option character. */
bool cli_common_option(cli_common *common, int c);

/* Handles the CLI_BACKEND_LONG_OPTIONS; returns false for any other
 * option. A bad value prints the usage error and sets *rc to
 * CLI_EXIT_USAGE (it stays untouched otherwise). */
bool cli_backend_option(cli_common *common, int c, const char *arg, int *rc);

/* Opens the backend common->backend names and says which in one INFO log
 * line. auto: the OpenCL device (--device, $GESTA_DEVICE or the default)
 * when any OpenCL platform exists, else the CPU. An explicit
 * `--backend opencl` (or --device) without OpenCL is an error
 * (UNSUPPORTED: exit 2). (transfer full) free with gesta_backend_free. */
gesta_status cli_backend_open(const cli_common *common, gesta_backend **out,
                              gesta_error *err);

/* Prints "gesta COMMAND: <message>", the synopsis and where to find help on
 * stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_common *common, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* For getopt_long's '?' (it has already named the option): the synopsis
 * and the pointer to --help. Returns CLI_EXIT_USAGE. */
int cli_usage_hint(const cli_common *common);

/* Prints "gesta: error: <message>" (and the detail with --verbose) on
 * stderr and returns the exit code for err->status. */
int cli_report(const cli_common *common, const gesta_error *err);

/* Strict integer parsing: the whole text, within [min, max]. */
bool cli_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out);
bool cli_parse_uint64(const char *text, uint64_t *out);
/* --threads N for the commands that run the CPU backend: 1 to 1024 into
 * *out, else the usage error's exit code (CLI_EXIT_OK on success). */
int cli_parse_threads(const cli_common *common, const char *text, int64_t *out);

/* "195973" -> "195,973". Returns buf. */
char *cli_format_count(int64_t value, char *buf, size_t size);
/* Keras' memory size: "765.52 KB", "0.00 B". Returns buf. */
char *cli_format_bytes(double bytes, char *buf, size_t size);
/* "(None, 20, 64, 64, 3)" for a per-sample shape. Returns buf. */
char *cli_format_batch_shape(const gesta_shape *shape, const char *batch,
                             char *buf, size_t size);

bool cli_file_exists(const char *path);

/* A model named on the command line: the path as given when it exists,
 * otherwise (for a bare name like "lrcn") the bundled model of that name.
 * Errors come from the loader and say which file was missing. */
gesta_status cli_load_model(const cli_common *common, const char *arg,
                            gesta_model **out, gesta_error *err);

/* Loads the weights a command runs with: `given` (--weights) or else the
 * file the model names. Neither there is bad input whose message says how
 * to get weights (train, or gesta init for random ones). *used (may be
 * NULL) gets the file read (borrowed). */
gesta_status cli_load_weights(const cli_common *common, gesta_model *model,
                              const char *given, const char **used,
                              gesta_error *err);

/* The weights of a command that measures or compares rather than
 * predicts: `given` (--weights), else the model's own file when it exists,
 * else seeded random ones. *used (may be NULL) gets the file read, or NULL
 * for random weights. */
gesta_status cli_load_weights_or_random(gesta_model *model, const char *given,
                                        uint64_t seed, const char **used,
                                        gesta_error *err);

/* Monotonic clock in milliseconds, for timings printed with --verbose. */
double cli_now_ms(void);

/* Subcommands: argv[0] is the subcommand's name. */
/* A subcommand: each tools/cmd_<name>.c exports `const cli_command
 * cli_command_<name>`; the build lists them in a generated table, so a new
 * command is one new file. */
typedef struct cli_command {
  const char *name;
  const char *summary; /* one line for `gesta --help` */
  int (*main)(int argc, char **argv);
} cli_command;

extern const cli_command *const cli_commands[];
extern const int cli_command_count;

#endif
