/* The gesta command line: dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void gesta_print_help(FILE *out) {
  fprintf(out,
          "gesta %s: human activity recognition in video, on any backend.\n"
          "\n"
          "Usage: gesta COMMAND [OPTIONS] [ARGS]\n"
          "       gesta COMMAND --help\n"
          "       gesta --version\n"
          "\n"
          "Commands:\n",
          GESTA_VERSION);
  for (int i = 0; i < cli_command_count; i++)
    fprintf(out, "  %-9s  %s\n", cli_commands[i]->name,
            cli_commands[i]->summary);
  fprintf(out, "\n"
               "Options:\n"
               "  -h, --help      this help\n"
               "  -V, --version   print the version and exit\n"
               "\n"
               "Example:\n"
               "  gesta info models/lrcn.yaml\n"
               "\n" CLI_EXIT_CODES_HELP);
}

static int gesta_unknown(const char *name) {
  if (name[0] == '-')
    fprintf(stderr,
            "gesta: unknown option '%s' (options come after the "
            "command)\n",
            name);
  else
    fprintf(stderr, "gesta: unknown command '%s'\n", name);
  fprintf(stderr, "Usage: gesta COMMAND [OPTIONS] [ARGS]\n"
                  "Try 'gesta --help' for the list of commands.\n");
  return CLI_EXIT_USAGE;
}

int main(int argc, char **argv) {
  const char *name;
  if (argc < 2) {
    fprintf(stderr, "gesta: missing command\n"
                    "Usage: gesta COMMAND [OPTIONS] [ARGS]\n"
                    "Try 'gesta --help' for more information.\n");
    return CLI_EXIT_USAGE;
  }
  name = argv[1];
  /* "gesta help run" is "gesta run --help". */
  if (strcmp(name, "help") == 0 && argc >= 3) {
    static char help_flag[] = "--help";
    char *help_argv[] = {argv[2], help_flag, NULL};
    for (int i = 0; i < cli_command_count; i++)
      if (strcmp(argv[2], cli_commands[i]->name) == 0)
        return cli_commands[i]->main(2, help_argv);
    return gesta_unknown(argv[2]);
  }
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
      strcmp(name, "help") == 0) {
    gesta_print_help(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0 ||
      strcmp(name, "version") == 0) {
    printf("gesta %s\n", GESTA_VERSION);
    return CLI_EXIT_OK;
  }
  for (int i = 0; i < cli_command_count; i++)
    if (strcmp(name, cli_commands[i]->name) == 0)
      return cli_commands[i]->main(argc - 1, argv + 1);
  return gesta_unknown(name);
}
