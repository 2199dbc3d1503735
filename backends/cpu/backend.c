/* The CPU reference backend: host memory; the ops' cpu.c kernels do the
 * work, split across threads (parallel.h), matrix products through
 * single-threaded CBLAS calls. */
#include <stdlib.h>
#include <string.h>

#include "gesta/backend.h"
#include "parallel.h"

/* Cache-line alignment keeps vector loads in the kernels aligned. */
#define CPU_ALIGNMENT 64

static gesta_status cpu_buffer_alloc(void *impl, size_t bytes, void **handle,
                                     gesta_error *err) {
  size_t rounded = (bytes + CPU_ALIGNMENT - 1) / CPU_ALIGNMENT * CPU_ALIGNMENT;
  void *p;
  (void)impl;
  if (rounded == 0)
    rounded = CPU_ALIGNMENT;
  p = aligned_alloc(CPU_ALIGNMENT, rounded);
  if (!p)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "cannot allocate %zu bytes of host memory", bytes);
  *handle = p;
  return GESTA_STATUS_OK;
}

static void cpu_buffer_free(void *impl, void *handle) {
  (void)impl;
  free(handle);
}

static gesta_status cpu_upload(void *impl, void *handle, size_t offset,
                               const void *src, size_t bytes,
                               gesta_error *err) {
  (void)impl;
  (void)err;
  if (bytes)
    memcpy((char *)handle + offset, src, bytes);
  return GESTA_STATUS_OK;
}

static gesta_status cpu_download(void *impl, void *handle, size_t offset,
                                 void *dst, size_t bytes, gesta_error *err) {
  (void)impl;
  (void)err;
  if (bytes)
    memcpy(dst, (const char *)handle + offset, bytes);
  return GESTA_STATUS_OK;
}

static gesta_status cpu_synchronize(void *impl, gesta_error *err) {
  (void)impl;
  (void)err;
  return GESTA_STATUS_OK;
}

static void cpu_destroy(void *impl) {
  (void)impl;
}

static const gesta_backend_iface cpu_iface = {
    .name = "cpu",
    .kind = GESTA_BACKEND_CPU,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .supports_op = NULL,
    .synchronize = cpu_synchronize,
    .destroy = cpu_destroy,
};

gesta_status gesta_backend_cpu_new(const gesta_context *ctx,
                                   gesta_backend **out, gesta_error *err) {
  gesta_backend *b = calloc(1, sizeof *b);
  if (!b)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory creating the CPU backend");
  /* Before the first product, so OpenBLAS never wakes its own threads. */
  gesta_cpu_blas_single();
  b->iface = &cpu_iface;
  b->impl = NULL;
  b->ctx = ctx;
  *out = b;
  return GESTA_STATUS_OK;
}
