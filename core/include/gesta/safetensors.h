/* gesta — safetensors files: an 8-byte little-endian header length, a JSON
 * header mapping names to {dtype, shape, data_offsets}, then raw
 * little-endian data. gesta reads and writes F32 only; every offset and size
 * is checked against the file before it is used. */
#ifndef GESTA_SAFETENSORS_H
#define GESTA_SAFETENSORS_H

#include <stddef.h>

#include "gesta/error.h"
#include "gesta/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gesta_safetensors gesta_safetensors;

typedef struct gesta_safetensors_entry {
  const char *name;  /* borrowed from the file object */
  gesta_shape shape; /* rank <= GESTA_MAX_DIMS */
  const void *data;  /* borrowed, possibly unaligned: copy with
                        gesta_safetensors_read() */
  size_t bytes;
} gesta_safetensors_entry;

/* Reads and validates the whole file. (transfer full) */
gesta_status gesta_safetensors_open(const char *path, gesta_safetensors **out,
                                    gesta_error *err);
void gesta_safetensors_close(gesta_safetensors *file);

int gesta_safetensors_count(const gesta_safetensors *file);
/* Entries in file order (by data offset). */
const gesta_safetensors_entry *
gesta_safetensors_entry_at(const gesta_safetensors *file, int index);
const gesta_safetensors_entry *
gesta_safetensors_find(const gesta_safetensors *file, const char *name);
/* Value of a `__metadata__` key, NULL if absent. */
const char *gesta_safetensors_metadata(const gesta_safetensors *file,
                                       const char *key);
/* Copies an entry's floats into dst (entry->bytes bytes). */
void gesta_safetensors_read(const gesta_safetensors_entry *entry, float *dst);

typedef struct gesta_named_tensor {
  const char *name;
  gesta_shape shape;
  const float *data;
} gesta_named_tensor;

typedef struct gesta_metadata_pair {
  const char *key, *value;
} gesta_metadata_pair;

/* Writes atomically (temporary file, fsync, rename): a failure never leaves
 * a half-written file at path. */
gesta_status gesta_safetensors_write(const char *path,
                                     const gesta_named_tensor *tensors,
                                     int n_tensors,
                                     const gesta_metadata_pair *metadata,
                                     int n_metadata, gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
