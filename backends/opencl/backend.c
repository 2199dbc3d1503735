/* The OpenCL backend object: one device, one context, one in-order queue,
 * and the vtable the executor drives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_private.h"

static const char *backend_size(uint64_t bytes, char *buf, size_t size) {
  if (bytes >= (1ull << 30))
    snprintf(buf, size, "%.2f GiB", (double)bytes / (double)(1ull << 30));
  else if (bytes >= (1ull << 20))
    snprintf(buf, size, "%.2f MiB", (double)bytes / (double)(1ull << 20));
  else
    snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
  return buf;
}

static gesta_status backend_buffer_alloc(void *impl, size_t bytes,
                                         void **handle, gesta_error *err) {
  gesta_opencl *cl = impl;
  char want[32], limit[32];
  cl_int rc = CL_SUCCESS;
  cl_mem mem;
  /* OpenCL refuses empty buffers; an empty tensor still needs a handle. */
  size_t alloc = bytes ? bytes : sizeof(float);
  if ((uint64_t)alloc > cl->info.max_alloc_bytes)
    return gesta_error_set(
        err, GESTA_STATUS_OUT_OF_MEMORY,
        "cannot allocate %s on %s: the device allows at most %s in one "
        "buffer; use a smaller batch or another device",
        backend_size(bytes, want, sizeof want), cl->label,
        backend_size(cl->info.max_alloc_bytes, limit, sizeof limit));
  mem = clCreateBuffer(cl->context, CL_MEM_READ_WRITE, alloc, NULL, &rc);
  if (rc == CL_MEM_OBJECT_ALLOCATION_FAILURE || rc == CL_OUT_OF_RESOURCES ||
      rc == CL_OUT_OF_HOST_MEMORY) {
    gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                    "out of device memory allocating %s on %s; use a smaller "
                    "batch or another device",
                    backend_size(bytes, want, sizeof want), cl->label);
    gesta_error_add_detail(err, "clCreateBuffer: %s",
                           gesta_opencl_status_name(rc));
    return GESTA_STATUS_OUT_OF_MEMORY;
  }
  if (rc != CL_SUCCESS)
    return gesta_opencl_check(rc, "clCreateBuffer", err);
  *handle = mem;
  return GESTA_STATUS_OK;
}

static void backend_buffer_free(void *impl, void *handle) {
  (void)impl;
  if (handle)
    clReleaseMemObject((cl_mem)handle);
}

static gesta_status backend_upload(void *impl, void *handle, size_t offset,
                                   const void *src, size_t bytes,
                                   gesta_error *err) {
  gesta_opencl *cl = impl;
  if (!bytes)
    return GESTA_STATUS_OK;
  /* Blocking: the caller may free or reuse src as soon as we return. */
  return gesta_opencl_check(
      clEnqueueWriteBuffer(cl->queue, (cl_mem)handle, CL_TRUE, offset, bytes,
                           src, 0, NULL,
                           gesta_opencl_profile_event(cl, GESTA_OPENCL_COPY)),
      "clEnqueueWriteBuffer", err);
}

static gesta_status backend_download(void *impl, void *handle, size_t offset,
                                     void *dst, size_t bytes,
                                     gesta_error *err) {
  gesta_opencl *cl = impl;
  if (!bytes)
    return GESTA_STATUS_OK;
  /* In-order queue: a blocking read also waits for every queued kernel. */
  return gesta_opencl_check(
      clEnqueueReadBuffer(cl->queue, (cl_mem)handle, CL_TRUE, offset, bytes,
                          dst, 0, NULL,
                          gesta_opencl_profile_event(cl, GESTA_OPENCL_COPY)),
      "clEnqueueReadBuffer", err);
}

static gesta_status backend_synchronize(void *impl, gesta_error *err) {
  gesta_opencl *cl = impl;
  return gesta_opencl_check(clFinish(cl->queue), "clFinish", err);
}

static const char *backend_device_name(void *impl) {
  const gesta_opencl *cl = impl;
  return cl->device_name;
}

static void backend_release(gesta_opencl *cl) {
  if (!cl)
    return;
  gesta_opencl_programs_free(cl);
  gesta_opencl_profile_release(cl);
  if (cl->queue) {
    clFinish(cl->queue);
    clReleaseCommandQueue(cl->queue);
  }
  if (cl->context)
    clReleaseContext(cl->context);
  free(cl);
}

static void backend_destroy(void *impl) {
  gesta_opencl *cl = impl;
  if (!cl)
    return;
  gesta_opencl_clblast_release(cl);
  backend_release(cl);
}

static const gesta_backend_iface backend_iface = {
    .name = "opencl",
    .kind = GESTA_BACKEND_OPENCL,
    .buffer_alloc = backend_buffer_alloc,
    .buffer_free = backend_buffer_free,
    .upload = backend_upload,
    .download = backend_download,
    .supports_op = NULL,
    .device_name = backend_device_name,
    .synchronize = backend_synchronize,
    .begin_layer = gesta_opencl_profile_label,
    .destroy = backend_destroy,
};

gesta_opencl *gesta_opencl_from_backend(gesta_backend *backend) {
  if (!backend || backend->iface != &backend_iface)
    return NULL;
  return backend->impl;
}

cl_command_queue gesta_opencl_queue(const gesta_opencl *cl) {
  return cl->queue;
}
cl_context gesta_opencl_context(const gesta_opencl *cl) {
  return cl->context;
}
cl_device_id gesta_opencl_device(const gesta_opencl *cl) {
  return cl->device;
}
bool gesta_opencl_is_cpu(const gesta_opencl *cl) {
  return cl->cpu;
}
const char *gesta_opencl_device_type(const gesta_opencl *cl) {
  return cl->info.type;
}

static gesta_status backend_open(gesta_opencl *cl,
                                 const gesta_opencl_options *options,
                                 gesta_error *err) {
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                   (cl_context_properties)cl->platform, 0};
  cl_command_queue_properties queue_props =
      options->profiling ? CL_QUEUE_PROFILING_ENABLE : 0;
  cl_int rc = CL_SUCCESS;

  cl->context = clCreateContext(props, 1, &cl->device, NULL, NULL, &rc);
  if (rc != CL_SUCCESS)
    return gesta_opencl_check(rc, "clCreateContext", err);
  /* clCreateCommandQueue is deprecated in 2.0 but is what 1.2 drivers
   * (and PoCL, Oclgrind) all have. */
  cl->queue = clCreateCommandQueue(cl->context, cl->device, queue_props, &rc);
  cl->profile.enabled = options->profiling;
  cl->profile.label = -1;
  return gesta_opencl_check(rc, "clCreateCommandQueue", err);
}

/* The driver picks the work-group size of 1-D launches unless
 * GESTA_OPENCL_GROUP names one: 128 measured no faster than the NVIDIA
 * driver's own pick for inference and half as fast for training
 * (docs/benchmarks.md). The tests set an odd size, so that every kernel's
 * check that it is past its end runs. */
static size_t backend_group_1d(const gesta_opencl *cl) {
  const char *env = getenv("GESTA_OPENCL_GROUP");
  if (env && *env) {
    char *end = NULL;
    unsigned long v = strtoul(env, &end, 10);
    if (end && !*end && v <= 4096)
      return (size_t)v;
    gesta_log(cl->ctx, GESTA_LOG_WARNING,
              "GESTA_OPENCL_GROUP='%s' is not a size from 0 (the driver "
              "picks) to 4096; ignored",
              env);
  }
  return 0;
}

gesta_status gesta_backend_opencl_new(const gesta_context *ctx,
                                      const gesta_opencl_options *options,
                                      gesta_backend **out, gesta_error *err) {
  static const gesta_opencl_options no_options = {0};
  gesta_backend *b = NULL;
  gesta_opencl *cl = NULL;
  gesta_status st;

  *out = NULL;
  if (!options)
    options = &no_options;
  cl = calloc(1, sizeof *cl);
  b = calloc(1, sizeof *b);
  if (!cl || !b) {
    st = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                         "out of memory creating the OpenCL backend");
    goto fail;
  }
  cl->ctx = ctx;
  st = gesta_opencl_find_device(options->device_spec, &cl->info, &cl->platform,
                                &cl->device, err);
  if (st != GESTA_STATUS_OK)
    goto fail;
  snprintf(cl->label, sizeof cl->label, "%s (%s, %d:%d)", cl->info.name,
           cl->info.platform, cl->info.platform_index, cl->info.device_index);
  snprintf(cl->device_name, sizeof cl->device_name, "opencl (%s, %d:%d)",
           cl->info.name, cl->info.platform_index, cl->info.device_index);
  if (clGetPlatformInfo(cl->platform, CL_PLATFORM_VERSION,
                        sizeof cl->platform_version, cl->platform_version,
                        NULL) != CL_SUCCESS)
    snprintf(cl->platform_version, sizeof cl->platform_version, "?");
  cl->platform_version[sizeof cl->platform_version - 1] = '\0';
  st = backend_open(cl, options, err);
  if (st != GESTA_STATUS_OK) {
    gesta_error_prefix(err, "cannot open OpenCL device %s: ", cl->label);
    goto fail;
  }
  cl->no_kernel_cache = options->no_kernel_cache;
  cl->group_1d = backend_group_1d(cl);
  {
    cl_device_type type = 0;
    cl->cpu = clGetDeviceInfo(cl->device, CL_DEVICE_TYPE, sizeof type, &type,
                              NULL) == CL_SUCCESS &&
              (type & CL_DEVICE_TYPE_CPU);
  }
  if (!cl->no_kernel_cache) {
    int n = 0;
    char root[GESTA_OPENCL_PATH_MAX];
    if (options->cache_dir && *options->cache_dir)
      n = snprintf(cl->cache_dir, sizeof cl->cache_dir, "%s/kernels",
                   options->cache_dir);
    else if (gesta_opencl_default_cache_dir(root, sizeof root))
      n = snprintf(cl->cache_dir, sizeof cl->cache_dir, "%s/kernels", root);
    if (n <= 0 || (size_t)n >= sizeof cl->cache_dir)
      cl->cache_dir[0] = '\0';
  }
  gesta_opencl_clblast_acquire(cl);
  if (!options->no_tuning)
    gesta_opencl_tuning_apply(cl);
  b->iface = &backend_iface;
  b->impl = cl;
  b->ctx = ctx;
  gesta_log(ctx, GESTA_LOG_INFO, "OpenCL device %s, %s, driver %s", cl->label,
            cl->info.device_version, cl->info.driver_version);
  *out = b;
  return GESTA_STATUS_OK;

fail:
  backend_release(cl);
  free(b);
  return st;
}
