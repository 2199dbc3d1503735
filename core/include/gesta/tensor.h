/* gesta — shapes and tensors.
 *
 * Tensors are float32, row-major and channels-last like Keras: a clip batch
 * is (N, T, H, W, C), frames (N, H, W, C), sequences (N, T, F). A tensor is a
 * shape plus a view into a backend-owned buffer; it never owns memory. */
#ifndef GESTA_TENSOR_H
#define GESTA_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GESTA_MAX_DIMS 5

typedef struct gesta_shape {
  int rank;
  int64_t dims[GESTA_MAX_DIMS];
} gesta_shape;

gesta_shape gesta_shape_make(int rank, const int64_t *dims);
/* Number of elements; 1 for rank 0. */
int64_t gesta_shape_count(const gesta_shape *shape);
bool gesta_shape_equal(const gesta_shape *a, const gesta_shape *b);
/* Writes "(2, 20, 64, 64, 3)" into buf and returns buf. */
char *gesta_shape_format(const gesta_shape *shape, char *buf, size_t size);

typedef struct gesta_backend gesta_backend;

/* Memory owned by a backend: host memory on the CPU, a cl_mem on OpenCL. */
typedef struct gesta_buffer {
  gesta_backend *backend; /* borrowed */
  void *handle;           /* backend-specific */
  size_t size;            /* bytes */
} gesta_buffer;

typedef struct gesta_tensor {
  gesta_shape shape;
  gesta_buffer *buffer; /* borrowed */
  size_t offset;        /* bytes from the start of the buffer */
} gesta_tensor;

static inline size_t gesta_tensor_bytes(const gesta_tensor *t) {
  return (size_t)gesta_shape_count(&t->shape) * sizeof(float);
}

/* Host pointer to a tensor's first element. Valid only for tensors whose
 * buffer lives on the CPU backend; CPU op kernels use it. */
float *gesta_tensor_host_data(const gesta_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
