/* Programs and kernels: sources assembled from the embedded .cl files (or
 * their replacements under $GESTA_CL_SOURCE_DIR), built once per backend
 * through the disk cache, kernels looked up by name, checked launches. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opencl_private.h"

static double program_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct program_text {
  char *data;
  size_t length, cap;
} program_text;

static bool program_append(program_text *t, const char *s, size_t n) {
  if (t->length + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    char *p;
    while (cap < t->length + n + 1)
      cap *= 2;
    if (!(p = realloc(t->data, cap)))
      return false;
    t->data = p;
    t->cap = cap;
  }
  memcpy(t->data + t->length, s, n);
  t->length += n;
  t->data[t->length] = '\0';
  return true;
}

/* The replacement for one embedded file, when $GESTA_CL_SOURCE_DIR has it.
 * *text is NULL when there is none. */
static gesta_status program_read_override(const gesta_context *ctx,
                                          const gesta_cl_source *src,
                                          char **text, size_t *length,
                                          gesta_error *err) {
  const char *dir = getenv("GESTA_CL_SOURCE_DIR");
  char path[GESTA_OPENCL_PATH_MAX];
  FILE *f;
  long size;
  int n;

  *text = NULL;
  if (!dir || !*dir)
    return GESTA_STATUS_OK;
  n = snprintf(path, sizeof path, "%s/%s/%s", dir, src->program, src->file);
  if (n <= 0 || (size_t)n >= sizeof path || !(f = fopen(path, "rb")))
    return GESTA_STATUS_OK;
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                           "cannot read %s (from GESTA_CL_SOURCE_DIR)", path);
  }
  *text = malloc((size_t)size + 1);
  if (!*text || fread(*text, 1, (size_t)size, f) != (size_t)size) {
    fclose(f);
    free(*text);
    *text = NULL;
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                           "cannot read %s (from GESTA_CL_SOURCE_DIR)", path);
  }
  fclose(f);
  (*text)[size] = '\0';
  *length = (size_t)size;
  gesta_log(ctx, GESTA_LOG_INFO, "OpenCL source %s/%s: using %s", src->program,
            src->file, path);
  return GESTA_STATUS_OK;
}

static gesta_status program_add_file(const gesta_context *ctx, program_text *t,
                                     const gesta_cl_source *src,
                                     gesta_error *err) {
  char line[256];
  char *override = NULL;
  size_t length = 0;
  bool ok;
  gesta_status st = program_read_override(ctx, src, &override, &length, err);
  if (st != GESTA_STATUS_OK)
    return st;
  /* Build logs then name the file and its own line numbers. */
  snprintf(line, sizeof line, "#line 1 \"%s/%s\"\n", src->program, src->file);
  ok = program_append(t, line, strlen(line)) &&
       program_append(t, override ? override : src->text,
                      override ? length : src->length) &&
       program_append(t, "\n", 1);
  free(override);
  if (!ok)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory assembling OpenCL program '%s'",
                           src->program);
  return GESTA_STATUS_OK;
}

gesta_status gesta_opencl_program_source(const gesta_context *ctx,
                                         const char *program, char **out,
                                         size_t *length, gesta_error *err) {
  program_text t = {0};
  int own = 0;
  gesta_status st = GESTA_STATUS_OK;
  bool is_prelude = strcmp(program, "prelude") == 0;

  *out = NULL;
  for (int pass = 0; pass < 2 && st == GESTA_STATUS_OK; pass++) {
    const char *want = pass == 0 ? "prelude" : program;
    if (pass == 1 && is_prelude)
      break;
    for (int i = 0; i < gesta_cl_source_count && st == GESTA_STATUS_OK; i++) {
      if (strcmp(gesta_cl_sources[i].program, want) != 0)
        continue;
      st = program_add_file(ctx, &t, &gesta_cl_sources[i], err);
      if (pass == 1 || is_prelude)
        own++;
    }
  }
  if (st == GESTA_STATUS_OK && own == 0)
    st = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                         "no OpenCL program '%s' in this gesta (it has no "
                         "ops/%s/*.cl files)",
                         program, program);
  if (st != GESTA_STATUS_OK) {
    free(t.data);
    return st;
  }
  *out = t.data;
  *length = t.length;
  return GESTA_STATUS_OK;
}

/* The first line of a build log that reports an error (else its first
 * line), trimmed, into buf; "" when the log has none. */
static void program_first_error(const char *log, char *buf, size_t size) {
  const char *line = NULL, *at = log;
  size_t n;
  while (*at) {
    const char *end = strchr(at, '\n');
    size_t len = end ? (size_t)(end - at) : strlen(at);
    if (!line && len > 0)
      line = at;
    for (size_t k = 0; k + 5 <= len; k++)
      if (strncmp(at + k, "error", 5) == 0) {
        line = at;
        goto found;
      }
    at += len + (end ? 1 : 0);
  }
found:
  buf[0] = '\0';
  if (!line)
    return;
  n = strcspn(line, "\n");
  while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
    n--;
  snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), line);
}

/* The build failure as an error: the program (the op), the device, the
 * driver's status and the first error of the build log in the message,
 * the whole log in the detail (--verbose). */
static void program_build_error(gesta_opencl *cl, cl_program program,
                                const char *name, cl_int rc, gesta_error *err) {
  size_t size = 0;
  char *log = NULL, first[240] = "";
  if (clGetProgramBuildInfo(program, cl->device, CL_PROGRAM_BUILD_LOG, 0, NULL,
                            &size) == CL_SUCCESS &&
      size > 0 && (log = malloc(size + 1)) &&
      clGetProgramBuildInfo(program, cl->device, CL_PROGRAM_BUILD_LOG, size,
                            log, NULL) == CL_SUCCESS) {
    log[size] = '\0';
    program_first_error(log, first, sizeof first);
  }
  gesta_error_set(err, GESTA_STATUS_BACKEND_ERROR,
                  "cannot build OpenCL program '%s' for %s: %s%s%s (run with "
                  "--verbose to see the build log)",
                  name, cl->label, gesta_opencl_status_name(rc),
                  first[0] ? ": " : "", first);
  /* The first errors say the most; detail keeps the start of a long log. */
  if (log && log[0])
    gesta_error_add_detail(err, "build log:\n%s", log);
  free(log);
}

/* A cached binary, if the driver accepts it; NULL otherwise. */
static cl_program program_from_binary(gesta_opencl *cl, const char *path,
                                      const unsigned char *binary,
                                      size_t length) {
  cl_int rc = CL_SUCCESS, binary_rc = CL_SUCCESS;
  cl_program program = clCreateProgramWithBinary(
      cl->context, 1, &cl->device, &length, &binary, &binary_rc, &rc);
  if (rc == CL_SUCCESS && binary_rc == CL_SUCCESS)
    rc = clBuildProgram(program, 1, &cl->device, GESTA_OPENCL_BUILD_OPTIONS,
                        NULL, NULL);
  else if (rc == CL_SUCCESS)
    rc = binary_rc;
  if (rc == CL_SUCCESS)
    return program;
  gesta_log(cl->ctx, GESTA_LOG_DEBUG,
            "kernel cache: the driver refused %s (%s); rebuilding from source",
            path, gesta_opencl_status_name(rc));
  cl->stats.cache_rejected++;
  if (program)
    clReleaseProgram(program);
  return NULL;
}

gesta_status gesta_opencl_build_source(gesta_opencl *cl, const char *name,
                                       const char *source, size_t length,
                                       cl_program *out, gesta_error *err) {
  char path[GESTA_OPENCL_PATH_MAX + 128];
  uint64_t key = 0;
  double t0 = program_now_ms();
  bool cached = gesta_opencl_cache_path(cl, name, source, length, &key, path,
                                        sizeof path);
  cl_program program = NULL;
  cl_int rc = CL_SUCCESS;

  if (cached) {
    size_t n = 0;
    unsigned char *binary = gesta_opencl_cache_read(cl, path, key, &n);
    if (binary) {
      program = program_from_binary(cl, path, binary, n);
      free(binary);
    }
    if (program) {
      cl->stats.loaded_from_cache++;
      gesta_log(cl->ctx, GESTA_LOG_INFO,
                "OpenCL program '%s' for %s: from the kernel cache in %.0f ms",
                name, cl->label, program_now_ms() - t0);
      *out = program;
      return GESTA_STATUS_OK;
    }
  }
  program = clCreateProgramWithSource(cl->context, 1, &source, &length, &rc);
  if (rc != CL_SUCCESS)
    return gesta_opencl_check(rc, "clCreateProgramWithSource", err);
  rc = clBuildProgram(program, 1, &cl->device, GESTA_OPENCL_BUILD_OPTIONS, NULL,
                      NULL);
  if (rc != CL_SUCCESS) {
    program_build_error(cl, program, name, rc, err);
    clReleaseProgram(program);
    return GESTA_STATUS_BACKEND_ERROR;
  }
  cl->stats.built_from_source++;
  gesta_log(cl->ctx, GESTA_LOG_INFO,
            "OpenCL program '%s' for %s: built from source in %.0f ms%s", name,
            cl->label, program_now_ms() - t0,
            cached ? "" : " (kernel cache off)");
  if (cached)
    gesta_opencl_cache_write(cl, path, key, program);
  *out = program;
  return GESTA_STATUS_OK;
}

static int program_find(gesta_opencl *cl, const char *name) {
  for (int i = 0; i < cl->n_programs; i++)
    if (strcmp(cl->programs[i].name, name) == 0)
      return i;
  return -1;
}

static gesta_status program_get(gesta_opencl *cl, const char *name, int *index,
                                gesta_error *err) {
  char *source = NULL;
  size_t length = 0;
  cl_program program = NULL;
  gesta_status st;

  if ((*index = program_find(cl, name)) >= 0)
    return GESTA_STATUS_OK;
  if (strlen(name) >= sizeof cl->programs[0].name)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "OpenCL program name '%s' is too long", name);
  if (cl->n_programs == cl->cap_programs) {
    int cap = cl->cap_programs ? cl->cap_programs * 2 : 16;
    gesta_opencl_program *p =
        realloc(cl->programs, (size_t)cap * sizeof *cl->programs);
    if (!p)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory caching OpenCL programs");
    cl->programs = p;
    cl->cap_programs = cap;
  }
  st = gesta_opencl_program_source(cl->ctx, name, &source, &length, err);
  if (st == GESTA_STATUS_OK)
    st = gesta_opencl_build_source(cl, name, source, length, &program, err);
  free(source);
  if (st != GESTA_STATUS_OK)
    return st;
  snprintf(cl->programs[cl->n_programs].name,
           sizeof cl->programs[cl->n_programs].name, "%s", name);
  cl->programs[cl->n_programs].program = program;
  *index = cl->n_programs++;
  return GESTA_STATUS_OK;
}

/* The kernel's entry, created on first use. */
static gesta_status kernel_entry(gesta_opencl *cl, const char *program,
                                 const char *kernel,
                                 const gesta_opencl_kernel **out,
                                 gesta_error *err) {
  int p;
  cl_int rc = CL_SUCCESS;
  cl_kernel k;
  size_t max_group = 0;
  gesta_status st = program_get(cl, program, &p, err);
  if (st != GESTA_STATUS_OK)
    return st;
  for (int i = 0; i < cl->n_kernels; i++)
    if (cl->kernels[i].program == p &&
        strcmp(cl->kernels[i].name, kernel) == 0) {
      *out = &cl->kernels[i];
      return GESTA_STATUS_OK;
    }
  if (strlen(kernel) >= sizeof cl->kernels[0].name)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "OpenCL kernel name '%s' is too long", kernel);
  if (cl->n_kernels == cl->cap_kernels) {
    int cap = cl->cap_kernels ? cl->cap_kernels * 2 : 32;
    gesta_opencl_kernel *ks =
        realloc(cl->kernels, (size_t)cap * sizeof *cl->kernels);
    if (!ks)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory caching OpenCL kernels");
    cl->kernels = ks;
    cl->cap_kernels = cap;
  }
  k = clCreateKernel(cl->programs[p].program, kernel, &rc);
  if (rc == CL_INVALID_KERNEL_NAME)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "OpenCL program '%s' has no kernel '%s'", program,
                           kernel);
  if (rc != CL_SUCCESS) {
    gesta_opencl_check(rc, "clCreateKernel", err);
    gesta_error_prefix(err, "kernel %s/%s: ", program, kernel);
    return err ? err->status : GESTA_STATUS_BACKEND_ERROR;
  }
  rc = clGetKernelWorkGroupInfo(k, cl->device, CL_KERNEL_WORK_GROUP_SIZE,
                                sizeof max_group, &max_group, NULL);
  if (rc != CL_SUCCESS) {
    clReleaseKernel(k);
    gesta_opencl_check(rc, "clGetKernelWorkGroupInfo", err);
    gesta_error_prefix(err, "kernel %s/%s: ", program, kernel);
    return err ? err->status : GESTA_STATUS_BACKEND_ERROR;
  }
  cl->kernels[cl->n_kernels].program = p;
  snprintf(cl->kernels[cl->n_kernels].name,
           sizeof cl->kernels[cl->n_kernels].name, "%s", kernel);
  cl->kernels[cl->n_kernels].kernel = k;
  cl->kernels[cl->n_kernels].max_group = max_group ? max_group : 1;
  *out = &cl->kernels[cl->n_kernels++];
  return GESTA_STATUS_OK;
}

gesta_status gesta_opencl_kernel_get(gesta_opencl *cl, const char *program,
                                     const char *kernel, cl_kernel *out,
                                     gesta_error *err) {
  const gesta_opencl_kernel *entry = NULL;
  gesta_status st = kernel_entry(cl, program, kernel, &entry, err);
  *out = st == GESTA_STATUS_OK ? entry->kernel : NULL;
  return st;
}

void gesta_opencl_programs_free(gesta_opencl *cl) {
  for (int i = 0; i < cl->n_kernels; i++)
    clReleaseKernel(cl->kernels[i].kernel);
  for (int i = 0; i < cl->n_programs; i++)
    clReleaseProgram(cl->programs[i].program);
  free(cl->kernels);
  free(cl->programs);
  cl->kernels = NULL;
  cl->programs = NULL;
  cl->n_kernels = cl->cap_kernels = 0;
  cl->n_programs = cl->cap_programs = 0;
}

gesta_status gesta_opencl_launch(gesta_opencl *cl, const char *program,
                                 const char *kernel, cl_uint dims,
                                 const size_t *global, const size_t *local,
                                 const gesta_cl_arg *args, int n_args,
                                 gesta_error *err) {
  char what[256];
  size_t rounded[3], group[1];
  cl_event *event;
  const gesta_opencl_kernel *entry = NULL;
  cl_kernel k;
  cl_int rc;
  gesta_status st;

  if (dims < 1 || dims > 3)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "kernel %s/%s launched with %u dimensions", program,
                           kernel, (unsigned)dims);
  st = kernel_entry(cl, program, kernel, &entry, err);
  if (st != GESTA_STATUS_OK)
    return st;
  k = entry->kernel;
  /* A 1-D range in work-groups of cl->group_1d when one is set, the global
   * size rounded up: every kernel returns early past its end. */
  if (!local && dims == 1 && cl->group_1d) {
    group[0] =
        cl->group_1d < entry->max_group ? cl->group_1d : entry->max_group;
    local = group;
  }
  for (int i = 0; i < n_args; i++) {
    rc = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].value);
    if (rc != CL_SUCCESS) {
      snprintf(what, sizeof what, "clSetKernelArg(%s, arg %d)", kernel, i);
      return gesta_opencl_check(rc, what, err);
    }
  }
  for (cl_uint d = 0; d < dims; d++) {
    /* An empty tensor: nothing to run (OpenCL 1.2 rejects a 0 size). */
    if (global[d] == 0)
      return GESTA_STATUS_OK;
    rounded[d] = global[d];
    if (local && local[d])
      rounded[d] = (global[d] + local[d] - 1) / local[d] * local[d];
  }
  event = gesta_opencl_profile_event(cl, GESTA_OPENCL_KERNEL);
  if (event)
    snprintf(gesta_opencl_profile_last(cl)->what,
             sizeof gesta_opencl_profile_last(cl)->what, "%s", kernel);
  rc = clEnqueueNDRangeKernel(cl->queue, k, dims, NULL, rounded, local, 0, NULL,
                              event);
  if (rc != CL_SUCCESS) {
    snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s)", kernel);
    return gesta_opencl_check(rc, what, err);
  }
  return GESTA_STATUS_OK;
}
