/* Public wrappers around a backend's vtable. */
#include <stdlib.h>

#include "gesta/backend.h"

void gesta_backend_free(gesta_backend *backend) {
  if (!backend)
    return;
  if (backend->iface->destroy)
    backend->iface->destroy(backend->impl);
  free(backend);
}

const char *gesta_backend_name(const gesta_backend *backend) {
  return backend->iface->name;
}

const char *gesta_backend_device_name(const gesta_backend *backend) {
  if (backend->iface->device_name)
    return backend->iface->device_name(backend->impl);
  return backend->iface->name;
}

const gesta_op_kernel *gesta_backend_kernel(const gesta_backend *backend,
                                            const gesta_op_entry *op) {
  int kind = backend->iface->kind;
  if (kind < 0 || kind >= GESTA_BACKEND_KINDS)
    return NULL;
  return op->kernels[kind];
}

gesta_status gesta_backend_synchronize(gesta_backend *backend,
                                       gesta_error *err) {
  return backend->iface->synchronize(backend->impl, err);
}

void gesta_backend_begin_layer(gesta_backend *backend, const char *layer) {
  if (backend->iface->begin_layer)
    backend->iface->begin_layer(backend->impl, layer);
}

gesta_status gesta_buffer_new(gesta_backend *backend, size_t bytes,
                              gesta_buffer **out, gesta_error *err) {
  gesta_buffer *buf = calloc(1, sizeof *buf);
  gesta_status st;
  if (!buf)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for a buffer record");
  st = backend->iface->buffer_alloc(backend->impl, bytes, &buf->handle, err);
  if (st != GESTA_STATUS_OK) {
    free(buf);
    return st;
  }
  buf->backend = backend;
  buf->size = bytes;
  *out = buf;
  return GESTA_STATUS_OK;
}

void gesta_buffer_free(gesta_buffer *buffer) {
  if (!buffer)
    return;
  buffer->backend->iface->buffer_free(buffer->backend->impl, buffer->handle);
  free(buffer);
}

static gesta_status buffer_check_range(const gesta_buffer *buffer,
                                       size_t offset, size_t bytes,
                                       gesta_error *err) {
  if (offset > buffer->size || bytes > buffer->size - offset)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "buffer access of %zu bytes at %zu is past its "
                           "%zu bytes",
                           bytes, offset, buffer->size);
  return GESTA_STATUS_OK;
}

gesta_status gesta_buffer_upload(gesta_buffer *buffer, size_t offset,
                                 const void *src, size_t bytes,
                                 gesta_error *err) {
  gesta_status st = buffer_check_range(buffer, offset, bytes, err);
  if (st != GESTA_STATUS_OK)
    return st;
  return buffer->backend->iface->upload(buffer->backend->impl, buffer->handle,
                                        offset, src, bytes, err);
}

gesta_status gesta_buffer_download(gesta_buffer *buffer, size_t offset,
                                   void *dst, size_t bytes, gesta_error *err) {
  gesta_status st = buffer_check_range(buffer, offset, bytes, err);
  if (st != GESTA_STATUS_OK)
    return st;
  return buffer->backend->iface->download(buffer->backend->impl, buffer->handle,
                                          offset, dst, bytes, err);
}
