/* gesta — the OpenCL backend: any vendor's devices through the ICD loader,
 * GEMMs through CLBlast. Present when gesta was built with GESTA_OPENCL
 * (GESTA_HAVE_OPENCL is then defined to 1 for users of the library). */
#ifndef GESTA_OPENCL_H
#define GESTA_OPENCL_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gesta_opencl_options {
  /* Which device: NULL or "" = the default (first GPU, else first device);
   * "P:D" = platform P, device D (as `gesta devices` numbers them); any
   * other text = the first device whose platform, name, vendor, device
   * version or driver version contains it, case-insensitively ("pocl",
   * "nvidia"). */
  const char *device_spec;
  bool no_kernel_cache;  /* build every program from source, write nothing */
  const char *cache_dir; /* NULL: $XDG_CACHE_HOME/gesta, or ~/.cache/gesta */
  bool profiling;        /* queue with profiling events (gesta bench) */
  bool no_tuning;        /* leave CLBlast at its own parameters even when gesta
                            tune saved some for the device (gesta tune's
                            baseline); no_kernel_cache implies it */
} gesta_opencl_options;

typedef struct gesta_opencl_device_info {
  int platform_index, device_index;
  char platform[128];
  char name[128];
  char vendor[128];
  char type[16]; /* "GPU", "CPU", "ACCELERATOR", "OTHER" */
  char driver_version[64];
  char device_version[64];
  char opencl_c_version[64];
  char platform_version[256];
  unsigned compute_units;
  uint64_t global_mem_bytes, max_alloc_bytes, local_mem_bytes;
  bool fp16, fp64;
  bool is_default; /* the device an empty device_spec selects */
} gesta_opencl_device_info;

/* Every device of every platform. No platform at all is not an error: *n
 * is 0. (transfer full) free *out with free(). */
gesta_status gesta_opencl_list_devices(gesta_opencl_device_info **out, int *n,
                                       gesta_error *err);

/* Opens the chosen device: one context, one in-order queue. */
gesta_status gesta_backend_opencl_new(const gesta_context *ctx,
                                      const gesta_opencl_options *options,
                                      gesta_backend **out, gesta_error *err);

/* Device times from OpenCL profiling events, for gesta bench. On a backend
 * opened with options.profiling, gesta_opencl_profile_begin starts
 * recording an event for every kernel, CLBlast GEMM and buffer copy the
 * backend enqueues, tagged with the layer the executor is running, and
 * gesta_opencl_profile_take waits for the queue once, reads the events and
 * stops. Nothing waits between commands, so the run being measured is the
 * ordinary one. */
typedef struct gesta_opencl_profile_layer {
  char label[GESTA_NAME_MAX]; /* the layer's name; "" for commands outside
                                 any layer (the input upload, the output
                                 download) */
  uint64_t busy_ns;           /* sum of its commands' device times */
  uint64_t gemm_ns, copy_ns;  /* of which CLBlast GEMMs, buffer copies */
  int commands, gemms;
} gesta_opencl_profile_layer;

typedef struct gesta_opencl_profile {
  gesta_opencl_profile_layer *layers; /* in the order they first ran */
  int n_layers;
  uint64_t span_ns; /* first command's start to the last one's end */
  uint64_t busy_ns, gemm_ns, copy_ns; /* sums over every command */
  int commands, gemms;
  uint64_t *gemm_sizes; /* m * n * k of each GEMM, in order (gemms) */
  int lost;             /* commands not recorded (out of host memory) */
} gesta_opencl_profile;

/* BAD_INPUT when the backend is not OpenCL or was opened without
 * options.profiling. Drops anything an earlier begin recorded. */
gesta_status gesta_opencl_profile_begin(gesta_backend *backend,
                                        gesta_error *err);
/* (transfer full) free with gesta_opencl_profile_free. Waits for the
 * queue. */
gesta_status gesta_opencl_profile_take(gesta_backend *backend,
                                       gesta_opencl_profile *out,
                                       gesta_error *err);
void gesta_opencl_profile_free(gesta_opencl_profile *profile);

/* CLBlast's GEMM tuning (gesta tune). A parameter set for one of CLBlast's
 * kernels: "Xgemm" (large GEMMs), "XgemmDirect" (small ones) or
 * "GemmRoutine" (XGEMM_MIN_INDIRECT_SIZE: a GEMM with m * n * k below its
 * cube takes the direct kernel). */
#define GESTA_CLBLAST_PARAMS_MAX 16
typedef struct gesta_clblast_params {
  char kernel[16];
  int n;
  char names[GESTA_CLBLAST_PARAMS_MAX][24];
  uint64_t values[GESTA_CLBLAST_PARAMS_MAX];
} gesta_clblast_params;

/* The sets gesta tune tries for "Xgemm" or "XgemmDirect": CLBlast's limited
 * search space, less the sets that break its divisibility rules or exceed
 * the device's local memory or work-group size. (transfer full) free(*out).
 */
gesta_status gesta_clblast_candidates(gesta_backend *backend,
                                      const char *kernel,
                                      gesta_clblast_params **out, int *n,
                                      gesta_error *err);
/* CLBlast uses params on the backend's device from its next GEMM on
 * (recompiling its kernels), for every backend of the process: CLBlast's
 * parameters are process-wide. */
gesta_status gesta_opencl_clblast_override(gesta_backend *backend,
                                           const gesta_clblast_params *params,
                                           gesta_error *err);
/* Where gesta tune keeps the tuning of this device (with cache_dir as in
 * gesta_opencl_options; NULL: the default); false when there is no cache
 * directory. The file need not exist. */
bool gesta_opencl_tuning_path(const gesta_opencl_device_info *info,
                              const char *cache_dir, char *path, size_t size);
/* Writes the device's tuning file (next to the kernel cache; atomically),
 * which every later OpenCL backend on the device applies when it opens.
 * note becomes a comment line. The file's path goes to path. */
gesta_status gesta_opencl_tuning_save(gesta_backend *backend,
                                      const gesta_clblast_params *sets, int n,
                                      const char *note, char *path,
                                      size_t path_size, gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
