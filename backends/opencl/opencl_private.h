/* What the files of backends/opencl/ share among themselves (and with
 * tests/test_opencl.c): the backend object, device discovery, the program
 * and kernel caches, the on-disk binary cache. Op kernels use
 * opencl_internal.h only. */
#ifndef GESTA_OPENCL_PRIVATE_H
#define GESTA_OPENCL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opencl_internal.h"

#include "gesta/context.h"

#define GESTA_OPENCL_PATH_MAX 4096

/* Counters the tests read to prove where programs came from. */
typedef struct gesta_opencl_stats {
  int built_from_source; /* clBuildProgram on source text */
  int loaded_from_cache; /* clBuildProgram on a cached binary */
  int cache_written;     /* binaries written to the disk cache */
  int cache_rejected;    /* cache files found but not trusted */
} gesta_opencl_stats;

typedef struct gesta_opencl_program {
  char name[64];
  cl_program program;
} gesta_opencl_program;

typedef struct gesta_opencl_kernel {
  int program; /* index in programs */
  char name[128];
  cl_kernel kernel;
  size_t max_group; /* CL_KERNEL_WORK_GROUP_SIZE */
} gesta_opencl_kernel;

/* One profiled command: its event (NULL when the enqueue failed) and, for
 * a CLBlast GEMM, a marker enqueued just before it: CLBlast may run
 * several kernels and reports only the last one's event, so the GEMM is
 * timed from the marker's end to its event's end. */
typedef struct gesta_opencl_record {
  cl_event event, start;
  int label; /* index in the profile's labels; -1 outside any layer */
  gesta_opencl_command kind;
  char what[64];      /* kernel name or GEMM shape, for debug logs */
  uint64_t gemm_size; /* m * n * k of a GEMM */
} gesta_opencl_record;

/* What gesta_opencl_profile_begin starts recording. */
typedef struct gesta_opencl_profiler {
  bool enabled; /* the queue was created with profiling */
  bool active;  /* between profile_begin and profile_take */
  int label;    /* the layer running now, -1 for none */
  gesta_opencl_record *records;
  int n_records, cap_records;
  char (*labels)[GESTA_NAME_MAX];
  int n_labels, cap_labels;
  int lost; /* commands not recorded for want of memory */
} gesta_opencl_profiler;

/* One opened device. Used from one thread at a time, like the backend. */
struct gesta_opencl {
  const gesta_context *ctx; /* borrowed */
  gesta_opencl_device_info info;
  char platform_version[256];
  char label[320];       /* "NAME (PLATFORM, P:D)" for messages */
  char device_name[200]; /* "opencl (NAME, P:D)": the vtable's device_name */
  cl_platform_id platform;
  cl_device_id device;
  cl_context context;
  cl_command_queue queue;
  bool no_kernel_cache;
  /* Work-group size of 1-D launches that name none: $GESTA_OPENCL_GROUP
   * when set, else 0 (the driver picks). */
  size_t group_1d;
  bool cpu;                              /* CL_DEVICE_TYPE has the CPU bit */
  char cache_dir[GESTA_OPENCL_PATH_MAX]; /* "" = no disk cache */
  gesta_opencl_program *programs;
  int n_programs, cap_programs;
  gesta_opencl_kernel *kernels;
  int n_kernels, cap_kernels;
  gesta_opencl_stats stats;
  gesta_opencl_profiler profile;
};

/* --- devices.c --- */

/* A platform whose devices are never the default (simulators). */
bool gesta_opencl_is_simulator(const gesta_opencl_device_info *info);

/* Resolves a device spec (see gesta_opencl_options) to platform and device
 * handles and the device's description. BAD_INPUT listing every device when
 * nothing matches; UNSUPPORTED when there is no OpenCL device at all. */
gesta_status gesta_opencl_find_device(const char *spec,
                                      gesta_opencl_device_info *info,
                                      cl_platform_id *platform,
                                      cl_device_id *device, gesta_error *err);

/* --- program.c --- */

/* The source of program `program`: the prelude files, then the files of
 * ops/<program>/ in order (the prelude alone for "prelude"), each replaced
 * by $GESTA_CL_SOURCE_DIR/<program>/<file> when that file exists.
 * (transfer full) free *out with free(). BAD_INPUT when the program has
 * no files; IO_ERROR when a replacement cannot be read. */
gesta_status gesta_opencl_program_source(const gesta_context *ctx,
                                         const char *program, char **out,
                                         size_t *length, gesta_error *err);

/* Builds `source` as program `name` for the backend's device, through the
 * disk cache. (transfer full) *out is released by the caller. */
gesta_status gesta_opencl_build_source(gesta_opencl *cl, const char *name,
                                       const char *source, size_t length,
                                       cl_program *out, gesta_error *err);

/* The kernel `kernel` of program `program`, built on first use. (borrowed) */
gesta_status gesta_opencl_kernel_get(gesta_opencl *cl, const char *program,
                                     const char *kernel, cl_kernel *out,
                                     gesta_error *err);

/* Releases every cached kernel and program. */
void gesta_opencl_programs_free(gesta_opencl *cl);

/* --- cache.c --- */

/* The build options every program gets. */
#define GESTA_OPENCL_BUILD_OPTIONS "-cl-std=CL1.2"

/* Default cache root: $XDG_CACHE_HOME/gesta, else $HOME/.cache/gesta.
 * false when neither variable is set. */
bool gesta_opencl_default_cache_dir(char *buf, size_t size);

/* The cache file's path for this source on this device; false when the
 * backend has no disk cache. */
bool gesta_opencl_cache_path(const gesta_opencl *cl, const char *name,
                             const char *source, size_t length, uint64_t *key,
                             char *path, size_t size);

/* A cached binary for `key` at `path`, checked (magic, version, key,
 * length, checksum); NULL (and a DEBUG line saying why) when there is none
 * or it is not trusted. (transfer full) free() the result. */
unsigned char *gesta_opencl_cache_read(gesta_opencl *cl, const char *path,
                                       uint64_t key, size_t *length);

/* Stores the program's binary; failures are logged, never errors. */
void gesta_opencl_cache_write(gesta_opencl *cl, const char *path, uint64_t key,
                              cl_program program);

uint64_t gesta_opencl_fnv1a(uint64_t hash, const void *data, size_t length);

/* mkdir -p with mode 0700; true when dir is a directory afterwards. */
bool gesta_opencl_cache_make_dirs(const char *dir);

/* --- profile.c --- */

/* The vtable's begin_layer: tags the commands that follow. */
void gesta_opencl_profile_label(void *impl, const char *layer);
/* Releases every recorded event and the profiler's memory. */
void gesta_opencl_profile_release(gesta_opencl *cl);
/* The record gesta_opencl_profile_event last handed out. */
gesta_opencl_record *gesta_opencl_profile_last(gesta_opencl *cl);

/* --- clblast.c --- */

/* CLBlast keeps compiled kernels in process-wide caches: tell it a backend
 * that used it is going away (the last one clears them). */
void gesta_opencl_clblast_acquire(gesta_opencl *cl);
void gesta_opencl_clblast_release(gesta_opencl *cl);

/* --- clblast_tune.c --- */

/* Hands CLBlast the parameters of this device's tuning file, if gesta tune
 * wrote one; a damaged line is a warning, never an error. */
void gesta_opencl_tuning_apply(gesta_opencl *cl);

#endif
