/* Device discovery: every device of every platform the ICD loader knows,
 * the default device, and device specs ("0:1", "pocl"). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_private.h"

#include <CL/cl_ext.h>

/* No real machine has more; a loader reporting more is clipped. */
#define DEVICES_MAX_PLATFORMS 32
#define DEVICES_MAX_PER_PLATFORM 64

/* Copies an info string, cut to fit dst: drivers' version strings can be
 * longer than the fields that show them. */
static void devices_copy(char *dst, size_t size, const char *src,
                         cl_int status) {
  snprintf(dst, size, "%s", status == CL_SUCCESS ? src : "?");
  /* Drivers pad some strings with spaces ("Intel(R) ... "). */
  for (size_t n = strlen(dst); n > 0 && isspace((unsigned char)dst[n - 1]);)
    dst[--n] = '\0';
}

static const char *devices_type_name(cl_device_type type) {
  cl_device_type kinds = type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_CPU |
                                 CL_DEVICE_TYPE_ACCELERATOR);
  /* A device claiming several types (simulators do) is none of them. */
  if (kinds == CL_DEVICE_TYPE_GPU)
    return "GPU";
  if (kinds == CL_DEVICE_TYPE_CPU)
    return "CPU";
  if (kinds == CL_DEVICE_TYPE_ACCELERATOR)
    return "ACCELERATOR";
  return "OTHER";
}

static bool devices_has_extension(cl_device_id device, const char *name) {
  size_t size = 0;
  char *text;
  bool found = false;
  if (clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, 0, NULL, &size) !=
          CL_SUCCESS ||
      size == 0)
    return false;
  text = malloc(size + 1);
  if (!text)
    return false;
  if (clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, size, text, NULL) ==
      CL_SUCCESS) {
    size_t len = strlen(name);
    text[size] = '\0';
    for (const char *p = strstr(text, name); p && !found;
         p = strstr(p + 1, name))
      found = (p == text || p[-1] == ' ') && (p[len] == '\0' || p[len] == ' ');
  }
  free(text);
  return found;
}

static void devices_describe(cl_platform_id platform, cl_device_id device,
                             int p, int d, gesta_opencl_device_info *info) {
  cl_device_type type = 0;
  cl_uint units = 0;
  cl_ulong global = 0, alloc = 0, local = 0;
  char text[1024] = "";
  cl_int rc;
  memset(info, 0, sizeof *info);
  info->platform_index = p;
  info->device_index = d;
  text[0] = '\0';
  rc = clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof text - 1, text,
                         NULL);
  devices_copy(info->platform, sizeof info->platform, text, rc);
  text[0] = '\0';
  rc = clGetPlatformInfo(platform, CL_PLATFORM_VERSION, sizeof text - 1, text,
                         NULL);
  devices_copy(info->platform_version, sizeof info->platform_version, text, rc);
#define DEVICES_STRING(field, param)                                           \
  text[0] = '\0';                                                              \
  rc = clGetDeviceInfo(device, param, sizeof text - 1, text, NULL);            \
  devices_copy(info->field, sizeof info->field, text, rc)
  DEVICES_STRING(name, CL_DEVICE_NAME);
  DEVICES_STRING(vendor, CL_DEVICE_VENDOR);
  DEVICES_STRING(driver_version, CL_DRIVER_VERSION);
  DEVICES_STRING(device_version, CL_DEVICE_VERSION);
  DEVICES_STRING(opencl_c_version, CL_DEVICE_OPENCL_C_VERSION);
#undef DEVICES_STRING
  clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
  clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units,
                  NULL);
  clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global, &global,
                  NULL);
  clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof alloc, &alloc,
                  NULL);
  clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
  snprintf(info->type, sizeof info->type, "%s", devices_type_name(type));
  info->compute_units = units;
  info->global_mem_bytes = global;
  info->max_alloc_bytes = alloc;
  info->local_mem_bytes = local;
  info->fp16 = devices_has_extension(device, "cl_khr_fp16");
  info->fp64 = devices_has_extension(device, "cl_khr_fp64");
}

bool gesta_opencl_is_simulator(const gesta_opencl_device_info *info) {
  /* Oclgrind checks every memory access and runs far too slowly to be
   * anyone's default; it is there to be asked for. */
  return strstr(info->platform, "Oclgrind") != NULL;
}

/* Every device with its handles; no platform is an empty list. */
typedef struct devices_list {
  gesta_opencl_device_info *info;
  cl_platform_id *platforms;
  cl_device_id *devices;
  int n;
} devices_list;

static void devices_list_free(devices_list *list) {
  free(list->info);
  free(list->platforms);
  free(list->devices);
  memset(list, 0, sizeof *list);
}

static void devices_mark_default(devices_list *list) {
  int pick = -1;
  for (int i = 0; i < list->n && pick < 0; i++)
    if (strcmp(list->info[i].type, "GPU") == 0 &&
        !gesta_opencl_is_simulator(&list->info[i]))
      pick = i;
  for (int i = 0; i < list->n && pick < 0; i++)
    if (!gesta_opencl_is_simulator(&list->info[i]))
      pick = i;
  if (pick < 0 && list->n > 0)
    pick = 0;
  if (pick >= 0)
    list->info[pick].is_default = true;
}

static gesta_status devices_enumerate(devices_list *list, gesta_error *err) {
  cl_platform_id platforms[DEVICES_MAX_PLATFORMS];
  cl_uint n_platforms = 0;
  int cap = 0;
  cl_int rc;

  memset(list, 0, sizeof *list);
  rc = clGetPlatformIDs(DEVICES_MAX_PLATFORMS, platforms, &n_platforms);
  /* The ICD loader answers CL_PLATFORM_NOT_FOUND_KHR when no driver is
   * installed: an empty list, which callers turn into advice. */
  if (rc == CL_PLATFORM_NOT_FOUND_KHR || (rc == CL_SUCCESS && !n_platforms))
    return GESTA_STATUS_OK;
  if (rc != CL_SUCCESS)
    return gesta_opencl_check(rc, "clGetPlatformIDs", err);
  if (n_platforms > DEVICES_MAX_PLATFORMS)
    n_platforms = DEVICES_MAX_PLATFORMS;
  for (cl_uint p = 0; p < n_platforms; p++) {
    cl_device_id devices[DEVICES_MAX_PER_PLATFORM];
    cl_uint n_devices = 0;
    rc = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL,
                        DEVICES_MAX_PER_PLATFORM, devices, &n_devices);
    /* A platform without devices (a GPU driver with no GPU) lists none. */
    if (rc == CL_DEVICE_NOT_FOUND || n_devices == 0)
      continue;
    if (rc != CL_SUCCESS) {
      devices_list_free(list);
      return gesta_opencl_check(rc, "clGetDeviceIDs", err);
    }
    if (n_devices > DEVICES_MAX_PER_PLATFORM)
      n_devices = DEVICES_MAX_PER_PLATFORM;
    if (list->n + (int)n_devices > cap) {
      int want = list->n + (int)n_devices;
      gesta_opencl_device_info *info =
          realloc(list->info, (size_t)want * sizeof *info);
      cl_platform_id *plats =
          info ? realloc(list->platforms, (size_t)want * sizeof *plats) : NULL;
      cl_device_id *devs =
          plats ? realloc(list->devices, (size_t)want * sizeof *devs) : NULL;
      if (info)
        list->info = info;
      if (plats)
        list->platforms = plats;
      if (!devs) {
        devices_list_free(list);
        return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory listing OpenCL devices");
      }
      list->devices = devs;
      cap = want;
    }
    for (cl_uint d = 0; d < n_devices; d++) {
      devices_describe(platforms[p], devices[d], (int)p, (int)d,
                       &list->info[list->n]);
      list->platforms[list->n] = platforms[p];
      list->devices[list->n] = devices[d];
      list->n++;
    }
  }
  devices_mark_default(list);
  return GESTA_STATUS_OK;
}

gesta_status gesta_opencl_list_devices(gesta_opencl_device_info **out, int *n,
                                       gesta_error *err) {
  devices_list list;
  gesta_status st = devices_enumerate(&list, err);
  *out = NULL;
  *n = 0;
  if (st != GESTA_STATUS_OK)
    return st;
  *out = list.info;
  *n = list.n;
  list.info = NULL;
  devices_list_free(&list);
  return GESTA_STATUS_OK;
}

static bool devices_contains(const char *text, const char *needle) {
  size_t n = strlen(needle);
  for (const char *p = text; *p; p++) {
    size_t i = 0;
    while (i < n && p[i] &&
           tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n)
      return true;
  }
  return n == 0;
}

/* "P:D" with both parts plain non-negative numbers. */
static bool devices_parse_index(const char *spec, int *p, int *d) {
  char *end;
  long a, b;
  if (!isdigit((unsigned char)spec[0]))
    return false;
  a = strtol(spec, &end, 10);
  if (*end != ':' || !isdigit((unsigned char)end[1]))
    return false;
  b = strtol(end + 1, &end, 10);
  if (*end != '\0' || a > 1000 || b > 1000)
    return false;
  *p = (int)a;
  *d = (int)b;
  return true;
}

static void devices_list_in_detail(const devices_list *list, gesta_error *err) {
  gesta_error_add_detail(err, "OpenCL devices:");
  for (int i = 0; i < list->n; i++)
    gesta_error_add_detail(
        err, "\n  %d:%d  %s (%s, %s)%s", list->info[i].platform_index,
        list->info[i].device_index, list->info[i].name, list->info[i].platform,
        list->info[i].type, list->info[i].is_default ? "  [default]" : "");
}

gesta_status gesta_opencl_find_device(const char *spec,
                                      gesta_opencl_device_info *info,
                                      cl_platform_id *platform,
                                      cl_device_id *device, gesta_error *err) {
  devices_list list;
  int pick = -1, p, d;
  gesta_status st = devices_enumerate(&list, err);
  if (st != GESTA_STATUS_OK)
    return st;
  if (list.n == 0)
    return gesta_error_set(
        err, GESTA_STATUS_UNSUPPORTED,
        "no OpenCL platform found (install pocl-opencl-icd for CPUs, or your "
        "GPU vendor's OpenCL driver); `gesta devices` lists what is seen");
  if (!spec || !*spec) {
    for (int i = 0; i < list.n && pick < 0; i++)
      if (list.info[i].is_default)
        pick = i;
  } else if (devices_parse_index(spec, &p, &d)) {
    for (int i = 0; i < list.n && pick < 0; i++)
      if (list.info[i].platform_index == p && list.info[i].device_index == d)
        pick = i;
  } else {
    for (int i = 0; i < list.n && pick < 0; i++)
      /* PoCL says its name only in its version strings ("OpenCL 3.0 PoCL
       * 3.1"); users call it by that name. */
      if (devices_contains(list.info[i].platform, spec) ||
          devices_contains(list.info[i].name, spec) ||
          devices_contains(list.info[i].vendor, spec) ||
          devices_contains(list.info[i].device_version, spec) ||
          devices_contains(list.info[i].driver_version, spec))
        pick = i;
  }
  if (pick < 0) {
    char names[768] = "";
    size_t used = 0;
    for (int i = 0; i < list.n && used < sizeof names; i++)
      used += (size_t)snprintf(names + used, sizeof names - used, "%s%d:%d %s",
                               i ? ", " : "", list.info[i].platform_index,
                               list.info[i].device_index, list.info[i].name);
    gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                    "no OpenCL device matches '%s'; the devices are: %s (give "
                    "an index P:D or part of a platform, device or vendor "
                    "name; see `gesta devices`)",
                    spec, names);
    devices_list_in_detail(&list, err);
    devices_list_free(&list);
    return GESTA_STATUS_BAD_INPUT;
  }
  *info = list.info[pick];
  *platform = list.platforms[pick];
  *device = list.devices[pick];
  devices_list_free(&list);
  return GESTA_STATUS_OK;
}
