/* gesta — the backend interface: one small vtable per backend.
 *
 * Callers use the gesta_backend_* / gesta_buffer_* wrappers, never the
 * vtable directly. */
#ifndef GESTA_BACKEND_H
#define GESTA_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "gesta/context.h"
#include "gesta/error.h"
#include "gesta/op.h"
#include "gesta/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gesta_backend_iface {
  const char *name; /* "cpu", "opencl" */
  int kind;         /* GESTA_BACKEND_CPU, ... : column of the op table */
  gesta_status (*buffer_alloc)(void *impl, size_t bytes, void **handle,
                               gesta_error *err);
  void (*buffer_free)(void *impl, void *handle);
  gesta_status (*upload)(void *impl, void *handle, size_t offset,
                         const void *src, size_t bytes, gesta_error *err);
  /* Blocks until the data is in dst (after all queued work). */
  gesta_status (*download)(void *impl, void *handle, size_t offset, void *dst,
                           size_t bytes, gesta_error *err);
  /* Optional, NULL = the op runs wherever it has a kernel for this kind.
   * On false, `why` says what the device lacks. */
  bool (*supports_op)(void *impl, const gesta_op_call *call, char *why,
                      size_t why_size);
  /* Optional, NULL = the backend's name: what runs the work, for logs and
   * placement reports ("opencl (NVIDIA A100)"). */
  const char *(*device_name)(void *impl);
  /* Waits for queued work; a no-op on the CPU. */
  gesta_status (*synchronize)(void *impl, gesta_error *err);
  /* Optional: the executor is about to run layer `layer` (NULL: between
   * layers), so a profiling backend can tag what it enqueues. */
  void (*begin_layer)(void *impl, const char *layer);
  void (*destroy)(void *impl);
} gesta_backend_iface;

struct gesta_backend {
  const gesta_backend_iface *iface;
  void *impl;
  const gesta_context *ctx; /* borrowed, outlives the backend */
};

/* The CPU reference backend. */
gesta_status gesta_backend_cpu_new(const gesta_context *ctx,
                                   gesta_backend **out, gesta_error *err);
void gesta_backend_free(gesta_backend *backend);
const char *gesta_backend_name(const gesta_backend *backend);
/* Backend and device, as device_name() says; the name when it has none. */
const char *gesta_backend_device_name(const gesta_backend *backend);

/* The kernel for an op on this backend, NULL if it has none. */
const gesta_op_kernel *gesta_backend_kernel(const gesta_backend *backend,
                                            const gesta_op_entry *op);
gesta_status gesta_backend_synchronize(gesta_backend *backend,
                                       gesta_error *err);
/* Tells the backend which layer's work comes next (NULL: none); a no-op
 * unless the backend profiles. */
void gesta_backend_begin_layer(gesta_backend *backend, const char *layer);

/* (transfer full) free with gesta_buffer_free. */
gesta_status gesta_buffer_new(gesta_backend *backend, size_t bytes,
                              gesta_buffer **out, gesta_error *err);
void gesta_buffer_free(gesta_buffer *buffer);
gesta_status gesta_buffer_upload(gesta_buffer *buffer, size_t offset,
                                 const void *src, size_t bytes,
                                 gesta_error *err);
gesta_status gesta_buffer_download(gesta_buffer *buffer, size_t offset,
                                   void *dst, size_t bytes, gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
