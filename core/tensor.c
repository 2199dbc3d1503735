/* Shapes and tensor views. */
#include "gesta/tensor.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "gesta/backend.h"

gesta_shape gesta_shape_make(int rank, const int64_t *dims) {
  gesta_shape s;
  assert(rank >= 0 && rank <= GESTA_MAX_DIMS);
  memset(&s, 0, sizeof s);
  s.rank = rank;
  for (int i = 0; i < rank; i++)
    s.dims[i] = dims[i];
  return s;
}

int64_t gesta_shape_count(const gesta_shape *shape) {
  int64_t n = 1;
  for (int i = 0; i < shape->rank; i++)
    n *= shape->dims[i];
  return n;
}

bool gesta_shape_equal(const gesta_shape *a, const gesta_shape *b) {
  if (a->rank != b->rank)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i])
      return false;
  return true;
}

char *gesta_shape_format(const gesta_shape *shape, char *buf, size_t size) {
  size_t used = 0;
  if (size == 0)
    return buf;
  buf[0] = '\0';
  used += (size_t)snprintf(buf, size, "(");
  for (int i = 0; i < shape->rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                             (long long)shape->dims[i]);
  /* Python writes a 1-tuple as "(n,)"; so do we, to read like Keras. */
  if (shape->rank == 1 && used < size)
    used += (size_t)snprintf(buf + used, size - used, ",");
  if (used < size)
    snprintf(buf + used, size - used, ")");
  return buf;
}

float *gesta_tensor_host_data(const gesta_tensor *t) {
  assert(t->buffer && t->buffer->backend);
  assert(t->buffer->backend->iface->kind == GESTA_BACKEND_CPU);
  return (float *)((char *)t->buffer->handle + t->offset);
}
