/* Helpers shared by the gesta subcommands. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#if GESTA_HAVE_OPENCL
#include "gesta/opencl.h"
#endif

#ifndef GESTA_MODELS_DIR
#define GESTA_MODELS_DIR "models"
#endif

void cli_common_init(cli_common *common, const char *command,
                     const char *usage) {
  common->command = command;
  common->usage = usage;
  gesta_context_init(&common->ctx);
  memset(&common->backend, 0, sizeof common->backend);
  common->backend.backend = "auto";
}

void cli_getopt_begin(cli_common *common, char **argv) {
  snprintf(common->program, sizeof common->program, "gesta %s",
           common->command);
  argv[0] = common->program;
  optind = 1;
  opterr = 1;
}

bool cli_common_option(cli_common *common, int c) {
  switch (c) {
  case 'v':
    if (common->ctx.log_level < GESTA_LOG_DEBUG)
      common->ctx.log_level++;
    return true;
  case 'q':
    common->ctx.log_level = GESTA_LOG_ERROR;
    return true;
  default:
    return false;
  }
}

bool cli_backend_option(cli_common *common, int c, const char *arg, int *rc) {
  switch (c) {
  case 'b':
    if (strcmp(arg, "auto") != 0 && strcmp(arg, "cpu") != 0 &&
        strcmp(arg, "opencl") != 0) {
      *rc = cli_usage_error(
          common, "unknown backend '%s' (choices: auto, cpu, opencl)", arg);
      return true;
    }
    common->backend.backend = arg;
    common->backend.backend_given = true;
    return true;
  case CLI_OPT_DEVICE:
    if (!*arg) {
      *rc = cli_usage_error(common, "--device wants a device: an index P:D "
                                    "or part of its name (see gesta devices)");
      return true;
    }
    common->backend.device = arg;
    common->backend.device_given = true;
    return true;
  case CLI_OPT_NO_KERNEL_CACHE:
    common->backend.no_kernel_cache = true;
    return true;
  case CLI_OPT_STRICT:
    common->backend.strict = true;
    return true;
  default:
    return false;
  }
}

#if GESTA_HAVE_OPENCL
static gesta_status cli_open_opencl(const cli_common *common,
                                    const char *device, gesta_backend **out,
                                    gesta_error *err) {
  gesta_opencl_options options = {0};
  options.device_spec = device;
  options.no_kernel_cache = common->backend.no_kernel_cache;
  options.profiling = common->backend.profiling;
  options.no_tuning = common->backend.no_tuning;
  return gesta_backend_opencl_new(&common->ctx, &options, out, err);
}
#endif

gesta_status cli_backend_open(const cli_common *common, gesta_backend **out,
                              gesta_error *err) {
  const cli_backend_options *opt = &common->backend;
  const char *env = getenv("GESTA_DEVICE");
  const char *device = opt->device ? opt->device : (env && *env ? env : NULL);
  /* --device names an OpenCL device: asking for one is asking for OpenCL. */
  bool want_opencl = strcmp(opt->backend, "opencl") == 0 ||
                     (strcmp(opt->backend, "auto") == 0 && opt->device_given);
  gesta_status st;

  *out = NULL;
  if (strcmp(opt->backend, "cpu") == 0) {
    if (opt->device_given)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "--device %s names an OpenCL device, but "
                             "--backend is cpu; drop one of them",
                             opt->device);
    st = gesta_backend_cpu_new(&common->ctx, out, err);
    if (st == GESTA_STATUS_OK)
      gesta_log(&common->ctx, GESTA_LOG_INFO, "backend: cpu (as asked)");
    return st;
  }
#if GESTA_HAVE_OPENCL
  {
    gesta_opencl_device_info *devices = NULL;
    int n = 0;
    gesta_error list_err;
    st = gesta_opencl_list_devices(&devices, &n, &list_err);
    free(devices);
    if (st == GESTA_STATUS_OK && n > 0) {
      st = cli_open_opencl(common, device, out, err);
      if (st != GESTA_STATUS_OK) {
        if (device && !opt->device)
          gesta_error_prefix(err, "GESTA_DEVICE=%s: ", device);
        return st;
      }
      if (want_opencl)
        gesta_log(&common->ctx, GESTA_LOG_INFO, "backend: %s",
                  gesta_backend_device_name(*out));
      else if (device)
        gesta_log(&common->ctx, GESTA_LOG_INFO,
                  "backend: %s (GESTA_DEVICE=%s; --backend cpu for the CPU "
                  "reference)",
                  gesta_backend_device_name(*out), device);
      else
        gesta_log(&common->ctx, GESTA_LOG_INFO,
                  "backend: %s (the default device; --backend cpu for the "
                  "CPU reference)",
                  gesta_backend_device_name(*out));
      return st;
    }
    if (want_opencl && st != GESTA_STATUS_OK) {
      *err = list_err;
      gesta_error_prefix(err, "cannot list OpenCL devices: ");
      return st;
    }
    if (want_opencl)
      return gesta_error_set(
          err, GESTA_STATUS_UNSUPPORTED,
          "%s asks for OpenCL, but no OpenCL platform was found (install "
          "pocl-opencl-icd for CPUs, or your GPU vendor's OpenCL driver); "
          "`gesta devices` shows what is seen, --backend cpu runs on the CPU",
          opt->device_given ? "--device" : "--backend opencl");
    if (st != GESTA_STATUS_OK)
      gesta_log(&common->ctx, GESTA_LOG_INFO, "cannot list OpenCL devices: %s",
                list_err.message);
    st = gesta_backend_cpu_new(&common->ctx, out, err);
    if (st == GESTA_STATUS_OK)
      gesta_log(&common->ctx, GESTA_LOG_INFO,
                "backend: cpu (chosen automatically: no OpenCL device found)");
    return st;
  }
#else
  (void)device;
  if (want_opencl)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "this gesta was built without OpenCL "
                           "(GESTA_OPENCL=OFF); use --backend cpu, or rebuild "
                           "with -DGESTA_OPENCL=ON");
  st = gesta_backend_cpu_new(&common->ctx, out, err);
  if (st == GESTA_STATUS_OK)
    gesta_log(&common->ctx, GESTA_LOG_INFO,
              "backend: cpu (auto: this gesta was built without OpenCL)");
  return st;
#endif
}

int cli_usage_hint(const cli_common *common) {
  fprintf(stderr, "Usage: %s\nTry 'gesta %s --help' for more information.\n",
          common->usage, common->command);
  return CLI_EXIT_USAGE;
}

int cli_usage_error(const cli_common *common, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "gesta %s: ", common->command);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return cli_usage_hint(common);
}

int cli_report(const cli_common *common, const gesta_error *err) {
  fprintf(stderr, "gesta: error: %s\n",
          err->message[0] ? err->message : gesta_status_name(err->status));
  if (err->detail[0] && common->ctx.log_level >= GESTA_LOG_INFO)
    fprintf(stderr, "gesta: detail: %s\n", err->detail);
  else if (err->detail[0])
    fprintf(stderr, "gesta: (run with --verbose for details)\n");
  return gesta_status_exit_code(err->status);
}

int cli_parse_threads(const cli_common *common, const char *text,
                      int64_t *out) {
  if (!cli_parse_int64(text, 1, 1024, out))
    return cli_usage_error(common, "--threads wants 1 to 1024, got '%s'", text);
  return CLI_EXIT_OK;
}

bool cli_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out) {
  char *end = NULL;
  long long v;
  if (!text || !*text)
    return false;
  errno = 0;
  v = strtoll(text, &end, 10);
  if (errno || *end != '\0' || v < min || v > max)
    return false;
  *out = (int64_t)v;
  return true;
}

bool cli_parse_uint64(const char *text, uint64_t *out) {
  char *end = NULL;
  unsigned long long v;
  /* strtoull accepts "-1" and wraps it; a seed must be written as is. */
  if (!text || *text < '0' || *text > '9')
    return false;
  errno = 0;
  v = strtoull(text, &end, 10);
  if (errno || *end != '\0')
    return false;
  *out = (uint64_t)v;
  return true;
}

char *cli_format_count(int64_t value, char *buf, size_t size) {
  char digits[32];
  size_t n, j = 0;
  int len =
      snprintf(digits, sizeof digits, "%" PRId64, value < 0 ? -value : value);
  if (size == 0)
    return buf;
  if (value < 0 && j + 1 < size)
    buf[j++] = '-';
  n = (size_t)len;
  for (size_t i = 0; i < n && j + 1 < size; i++) {
    if (i > 0 && (n - i) % 3 == 0 && j + 2 < size)
      buf[j++] = ',';
    buf[j++] = digits[i];
  }
  buf[j] = '\0';
  return buf;
}

char *cli_format_bytes(double bytes, char *buf, size_t size) {
  static const char *const units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  size_t u = 0;
  /* Keras' readable_memory_size: divide by 1024 while the result stays
   * at least 1. */
  while (u + 1 < sizeof units / sizeof units[0] && bytes / 1024.0 >= 1.0) {
    bytes /= 1024.0;
    u++;
  }
  snprintf(buf, size, "%.2f %s", bytes, units[u]);
  return buf;
}

char *cli_format_batch_shape(const gesta_shape *shape, const char *batch,
                             char *buf, size_t size) {
  size_t used;
  if (size == 0)
    return buf;
  used = (size_t)snprintf(buf, size, "(%s", batch);
  for (int i = 0; i < shape->rank && used < size; i++)
    used +=
        (size_t)snprintf(buf + used, size - used, ", %" PRId64, shape->dims[i]);
  if (used < size)
    snprintf(buf + used, size - used, ")");
  return buf;
}

bool cli_file_exists(const char *path) {
  struct stat st;
  return path && *path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

gesta_status cli_load_model(const cli_common *common, const char *arg,
                            gesta_model **out, gesta_error *err) {
  char bundled[GESTA_PATH_MAX];
  /* A bare name ("lrcn") that is not a file here means a bundled model. */
  if (!cli_file_exists(arg) && !strchr(arg, '/')) {
    const char *ext = strstr(arg, ".yaml") ? "" : ".yaml";
    int n = snprintf(bundled, sizeof bundled, "%s/%s%s", GESTA_MODELS_DIR, arg,
                     ext);
    if (n > 0 && (size_t)n < sizeof bundled && cli_file_exists(bundled)) {
      gesta_log(&common->ctx, GESTA_LOG_INFO, "using the bundled model %s",
                bundled);
      return gesta_model_load_file(&common->ctx, bundled, out, err);
    }
  }
  return gesta_model_load_file(&common->ctx, arg, out, err);
}

double cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

gesta_status cli_load_weights_or_random(gesta_model *m, const char *given,
                                        uint64_t seed, const char **used,
                                        gesta_error *err) {
  const char *weights = given;
  if (!weights && m->weights_path[0] && cli_file_exists(m->weights_path))
    weights = m->weights_path;
  if (used)
    *used = weights;
  if (weights)
    return gesta_model_load_weights(m, weights, err);
  return gesta_model_init_weights(m, seed, err);
}

gesta_status cli_load_weights(const cli_common *common, gesta_model *m,
                              const char *given, const char **used,
                              gesta_error *err) {
  const char *weights = given;
  if (!weights && m->weights_path[0] && cli_file_exists(m->weights_path))
    weights = m->weights_path;
  if (!weights && m->weights_path[0])
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "model '%s' has no weights yet: %s does not exist and no --weights "
        "was given. Train the model, or try it with random (untrained) "
        "weights: gesta init %s -o %s-random.safetensors, then add "
        "--weights %s-random.safetensors",
        m->name, m->weights_path, m->path, m->name, m->name);
  if (!weights)
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "model '%s' declares no weights file and no --weights was given. "
        "Pass --weights FILE, or make random (untrained) ones with gesta "
        "init %s -o FILE",
        m->name, m->path);
  if (used)
    *used = weights;
  gesta_log(&common->ctx, GESTA_LOG_INFO, "loading weights from %s", weights);
  return gesta_model_load_weights(m, weights, err);
}
