/* gesta devices: every OpenCL platform and device, the default marked. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_report.h"
#include "cli.h"

#if GESTA_HAVE_OPENCL
#include "gesta/opencl.h"
#endif

static const char devices_usage[] = "gesta devices [OPTIONS]";

static const char devices_help[] =
    "Lists every OpenCL platform and device the OpenCL loader finds, with\n"
    "the index (P:D) that --device takes; '*' marks the device gesta uses\n"
    "when none is named (the first GPU, else the first device that is not a\n"
    "simulator). Without any OpenCL platform, gesta runs on the CPU.\n"
    "\n"
    "Options:\n"
    "      --json              print one JSON object instead of "
    "text\n" CLI_COMMON_HELP "\n"
    "Environment:\n"
    "  GESTA_DEVICE            the device other commands use when --device\n"
    "                          is not given\n"
    "  OCL_ICD_VENDORS         where the OpenCL loader looks for drivers\n"
    "\n"
    "Examples:\n"
    "  gesta devices\n"
    "  gesta run --device 0:1 models/cnn.yaml --random-input 1\n"
    "\n" CLI_EXIT_CODES_HELP;

enum { DEVICES_OPT_JSON = 256 };

static const char devices_none[] =
    "no OpenCL platform found (install pocl-opencl-icd for CPUs, or your "
    "GPU vendor's OpenCL driver)";

#if GESTA_HAVE_OPENCL
static const char *devices_size(uint64_t bytes, char *buf, size_t size) {
  return cli_format_bytes((double)bytes, buf, size);
}

/* What `gesta check` last found on this device with this driver. */
static const char *devices_check_status(const gesta_opencl_device_info *d,
                                        char *buf, size_t size) {
  const char *status = cli_check_status_for(d, buf, size);
  return status ? status : "not run with this driver";
}

/* The file gesta tune wrote for this device and driver, if there is one. */
static bool devices_tuning(const gesta_opencl_device_info *d, char *path,
                           size_t size) {
  return gesta_opencl_tuning_path(d, NULL, path, size) && cli_file_exists(path);
}

static void devices_print_text(const gesta_opencl_device_info *d, int n) {
  char global[32], alloc[32], local[32], check[256], tuning[4096];
  printf("OpenCL devices ('*' = the default):\n");
  for (int i = 0; i < n; i++) {
    if (i == 0 || d[i].platform_index != d[i - 1].platform_index)
      printf("platform %d: %s\n", d[i].platform_index, d[i].platform);
    printf(" %c %d:%d  %s\n", d[i].is_default ? '*' : ' ', d[i].platform_index,
           d[i].device_index, d[i].name);
    printf("        %s, vendor %s, driver %s, %s\n", d[i].type, d[i].vendor,
           d[i].driver_version, d[i].opencl_c_version);
    printf("        %u compute units, memory %s (max %s per buffer, local "
           "%s), fp16 %s, fp64 %s\n",
           d[i].compute_units,
           devices_size(d[i].global_mem_bytes, global, sizeof global),
           devices_size(d[i].max_alloc_bytes, alloc, sizeof alloc),
           devices_size(d[i].local_mem_bytes, local, sizeof local),
           d[i].fp16 ? "yes" : "no", d[i].fp64 ? "yes" : "no");
    printf("        gesta check: %s\n",
           devices_check_status(&d[i], check, sizeof check));
    printf("        CLBlast tuning: %s\n",
           devices_tuning(&d[i], tuning, sizeof tuning)
               ? tuning
               : "CLBlast's own (see gesta tune)");
  }
}

static int devices_print_json(const gesta_opencl_device_info *d, int n) {
  char check[256], tuning[4096];
  cJSON *root = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(root, "devices");
  char *text;
  for (int i = 0; i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    char index[32];
    snprintf(index, sizeof index, "%d:%d", d[i].platform_index,
             d[i].device_index);
    cJSON_AddStringToObject(o, "index", index);
    cJSON_AddNumberToObject(o, "platform_index", d[i].platform_index);
    cJSON_AddNumberToObject(o, "device_index", d[i].device_index);
    cJSON_AddStringToObject(o, "platform", d[i].platform);
    cJSON_AddStringToObject(o, "name", d[i].name);
    cJSON_AddStringToObject(o, "vendor", d[i].vendor);
    cJSON_AddStringToObject(o, "type", d[i].type);
    cJSON_AddStringToObject(o, "driver_version", d[i].driver_version);
    cJSON_AddStringToObject(o, "device_version", d[i].device_version);
    cJSON_AddStringToObject(o, "opencl_c_version", d[i].opencl_c_version);
    cJSON_AddNumberToObject(o, "compute_units", d[i].compute_units);
    cJSON_AddNumberToObject(o, "global_mem_bytes",
                            (double)d[i].global_mem_bytes);
    cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d[i].max_alloc_bytes);
    cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d[i].local_mem_bytes);
    cJSON_AddBoolToObject(o, "fp16", d[i].fp16);
    cJSON_AddBoolToObject(o, "fp64", d[i].fp64);
    cJSON_AddBoolToObject(o, "default", d[i].is_default);
    cJSON_AddStringToObject(o, "check",
                            devices_check_status(&d[i], check, sizeof check));
    if (devices_tuning(&d[i], tuning, sizeof tuning))
      cJSON_AddStringToObject(o, "clblast_tuning", tuning);
    else
      cJSON_AddNullToObject(o, "clblast_tuning");
    cJSON_AddItemToArray(list, o);
  }
  if (n == 0)
    cJSON_AddStringToObject(root, "message", devices_none);
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
#endif

static int cmd_devices_main(int argc, char **argv) {
  static const struct option options[] = {
      {"json", no_argument, NULL, DEVICES_OPT_JSON},
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  cli_common common;
  bool json = false;
  int c;

  cli_common_init(&common, "devices", devices_usage);
  cli_getopt_begin(&common, argv);
  while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT_OPTIONS, options,
                          NULL)) != -1) {
    switch (c) {
    case DEVICES_OPT_JSON:
      json = true;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", devices_usage, devices_help);
      return CLI_EXIT_OK;
    default:
      if (!cli_common_option(&common, c))
        return cli_usage_hint(&common);
    }
  }
  if (optind < argc)
    return cli_usage_error(&common, "unexpected argument '%s'", argv[optind]);
#if GESTA_HAVE_OPENCL
  {
    gesta_opencl_device_info *devices = NULL;
    gesta_error err;
    int n = 0, rc = CLI_EXIT_OK;
    if (gesta_opencl_list_devices(&devices, &n, &err) != GESTA_STATUS_OK)
      return cli_report(&common, &err);
    if (json)
      rc = devices_print_json(devices, n);
    else if (n == 0)
      printf("%s\n", devices_none);
    else
      devices_print_text(devices, n);
    free(devices);
    return rc;
  }
#else
  (void)json;
  (void)devices_none;
  fprintf(stderr, "gesta: error: this gesta was built without OpenCL "
                  "(GESTA_OPENCL=OFF): no devices to list; rebuild with "
                  "-DGESTA_OPENCL=ON\n");
  return CLI_EXIT_USAGE;
#endif
}

const cli_command cli_command_devices = {
    .name = "devices",
    .summary = "list OpenCL platforms and devices, and the default",
    .main = cmd_devices_main,
};
