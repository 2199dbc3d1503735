/* safetensors reader and writer. The whole file is read into memory and
 * every number in the header is checked against the file before any tensor
 * data is handed out, so a corrupt or hostile file ends in an error, never in
 * an out-of-bounds read. */
#define _POSIX_C_SOURCE 200809L

#include "gesta/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tensor data is copied between the file and host floats byte for byte. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gesta reads and writes safetensors on little-endian hosts only"
#endif

/* Same limit as the reference implementation: a larger header is far more
 * likely a corrupt length than a real file. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
#define ST_MAX_DIM ((int64_t)1 << 31)
#define ST_METADATA_KEY "__metadata__"

struct gesta_safetensors {
  unsigned char *bytes; /* the whole file */
  cJSON *header;        /* entry names and metadata point into it */
  const cJSON *metadata;
  gesta_safetensors_entry *entries; /* sorted by data offset */
  int n_entries;
};

void gesta_safetensors_close(gesta_safetensors *file) {
  if (file) {
    cJSON_Delete(file->header);
    free(file->entries);
    free(file->bytes);
    free(file);
  }
}

static gesta_status st_read_file(const char *path, unsigned char **out,
                                 size_t *out_size, gesta_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                           "cannot open weights file %s: %s", path,
                           strerror(errno));
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                           "cannot read %s: not a regular file", path);
  }
  size_t size = (size_t)st.st_size;
  unsigned char *bytes = malloc(size ? size : 1);
  if (!bytes) {
    fclose(f);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory reading %s (%zu bytes)", path, size);
  }
  size_t got = size ? fread(bytes, 1, size, f) : 0;
  int e = ferror(f) ? errno : 0;
  if (fclose(f) != 0 || got != size) {
    free(bytes);
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                           "cannot read %s: %s (read %zu of %zu bytes)", path,
                           e ? strerror(e) : "short read", got, size);
  }
  *out = bytes;
  *out_size = size;
  return GESTA_STATUS_OK;
}

/* A JSON number that is a whole number in [0, max]; doubles hold every
 * integer up to 2^53 exactly, far above any offset a real file has. */
static int st_json_uint(const cJSON *item, uint64_t max, uint64_t *out) {
  if (!cJSON_IsNumber(item)) {
    return 0;
  }
  double v = item->valuedouble;
  if (!(v >= 0.0) || v != floor(v) || v > (double)max) {
    return 0;
  }
  *out = (uint64_t)v;
  return 1;
}

static int st_name_cmp(const void *a, const void *b) {
  const cJSON *const *x = a, *const *y = b;
  return strcmp((*x)->string, (*y)->string);
}

/* cJSON keeps repeated keys, and a later lookup would silently pick one. */
static gesta_status st_check_unique(const cJSON *object, const char *path,
                                    gesta_error *err) {
  int n = cJSON_GetArraySize(object);
  if (n < 2) {
    return GESTA_STATUS_OK;
  }
  const cJSON **items = malloc((size_t)n * sizeof *items);
  if (!items) {
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory reading %s", path);
  }
  int i = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, object) {
    items[i++] = item;
  }
  qsort(items, (size_t)n, sizeof *items, st_name_cmp);
  gesta_status status = GESTA_STATUS_OK;
  for (i = 1; i < n; i++) {
    if (strcmp(items[i - 1]->string, items[i]->string) == 0) {
      status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                               "%s: the header names '%s' more than once", path,
                               items[i]->string);
      break;
    }
  }
  free(items);
  return status;
}

static gesta_status st_check_metadata(const cJSON *meta, const char *path,
                                      gesta_error *err) {
  if (!cJSON_IsObject(meta)) {
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "%s: '" ST_METADATA_KEY "' must be an object of strings", path);
  }
  const cJSON *item;
  cJSON_ArrayForEach(item, meta) {
    if (!cJSON_IsString(item)) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: metadata value '%s' is not a string", path,
                             item->string);
    }
  }
  return st_check_unique(meta, path, err);
}

/* Checks one tensor entry and fills it in (data points into the file). */
static gesta_status st_parse_entry(const cJSON *item, const unsigned char *data,
                                   uint64_t data_size, const char *path,
                                   gesta_safetensors_entry *entry,
                                   gesta_error *err) {
  const char *name = item->string;
  if (!cJSON_IsObject(item)) {
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: tensor '%s' is not an object with dtype, "
                           "shape and data_offsets",
                           path, name);
  }
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  const cJSON *dims = cJSON_GetObjectItemCaseSensitive(item, "shape");
  const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  if (!cJSON_IsString(dtype)) {
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: tensor '%s' has no dtype string", path, name);
  }
  if (strcmp(dtype->valuestring, "F32") != 0) {
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: tensor '%s' has dtype %s; gesta reads F32 "
                           "only — convert it",
                           path, name, dtype->valuestring);
  }
  if (!cJSON_IsArray(dims)) {
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: tensor '%s' has no shape array", path, name);
  }
  int rank = cJSON_GetArraySize(dims);
  if (rank > GESTA_MAX_DIMS) {
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: tensor '%s' has %d dimensions; gesta "
                           "supports at most %d",
                           path, name, rank, GESTA_MAX_DIMS);
  }
  memset(entry, 0, sizeof *entry);
  entry->name = name;
  entry->shape.rank = rank;
  /* The limit keeps count * 4 and offset sums far from wrapping. */
  uint64_t count = 1;
  int d = 0;
  const cJSON *dim;
  cJSON_ArrayForEach(dim, dims) {
    uint64_t v;
    if (!st_json_uint(dim, (uint64_t)ST_MAX_DIM, &v)) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: tensor '%s': dimension %d of its shape is "
                             "not an integer in [0, 2^31]",
                             path, name, d);
    }
    entry->shape.dims[d++] = (int64_t)v;
    /* Refused even when a later dimension is 0: no real tensor is shaped so,
     * and it keeps the check simple. */
    if (v != 0 && count > UINT64_MAX / 8 / v) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: tensor '%s': the product of its dimensions "
                             "overflows",
                             path, name);
    }
    count *= v;
  }
  uint64_t begin, end;
  if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
      !st_json_uint(cJSON_GetArrayItem(offsets, 0), UINT64_MAX / 2, &begin) ||
      !st_json_uint(cJSON_GetArrayItem(offsets, 1), UINT64_MAX / 2, &end)) {
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: tensor '%s' has no data_offsets [begin, end] "
                           "of two non-negative integers",
                           path, name);
  }
  if (begin > end || end > data_size) {
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: tensor '%s': data_offsets [%" PRIu64
                           ", %" PRIu64 "] are out of range: the data "
                           "section has %" PRIu64 " bytes (truncated file?)",
                           path, name, begin, end, data_size);
  }
  if (end - begin != count * 4) {
    char buf[128];
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: tensor '%s' of shape %s needs %" PRIu64
                           " bytes but its data_offsets span %" PRIu64,
                           path, name,
                           gesta_shape_format(&entry->shape, buf, sizeof buf),
                           count * 4, end - begin);
  }
  entry->data = data + begin;
  entry->bytes = (size_t)(end - begin);
  return GESTA_STATUS_OK;
}

/* Entries all point into one buffer, so pointer order is offset order. */
static int st_entry_cmp(const void *a, const void *b) {
  const gesta_safetensors_entry *x = a, *y = b;
  const unsigned char *px = x->data, *py = y->data;
  if (px != py) {
    return px < py ? -1 : 1;
  }
  if (x->bytes != y->bytes) {
    return x->bytes < y->bytes ? -1 : 1;
  }
  return strcmp(x->name, y->name);
}

static gesta_status st_parse_header(gesta_safetensors *file,
                                    const unsigned char *data,
                                    uint64_t data_size, const char *path,
                                    gesta_error *err) {
  gesta_status status = st_check_unique(file->header, path, err);
  int n = cJSON_GetArraySize(file->header);
  if (status != GESTA_STATUS_OK || n == 0) {
    return status;
  }
  file->entries = calloc((size_t)n, sizeof *file->entries);
  if (!file->entries) {
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory reading %s", path);
  }
  const cJSON *item;
  cJSON_ArrayForEach(item, file->header) {
    if (strcmp(item->string, ST_METADATA_KEY) == 0) {
      file->metadata = item;
      status = st_check_metadata(item, path, err);
    } else {
      status = st_parse_entry(item, data, data_size, path,
                              &file->entries[file->n_entries++], err);
    }
    if (status != GESTA_STATUS_OK) {
      return status;
    }
  }
  gesta_safetensors_entry *e = file->entries;
  if (file->n_entries > 1) {
    qsort(e, (size_t)file->n_entries, sizeof *e, st_entry_cmp);
  }
  /* Empty tensors occupy no bytes and cannot overlap anything. */
  int prev = -1;
  for (int i = 0; i < file->n_entries; i++) {
    if (e[i].bytes == 0) {
      continue;
    }
    if (prev >= 0 && (const unsigned char *)e[i].data <
                         (const unsigned char *)e[prev].data + e[prev].bytes) {
      uint64_t b0 = (uint64_t)((const unsigned char *)e[prev].data - data);
      uint64_t b1 = (uint64_t)((const unsigned char *)e[i].data - data);
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: the data of tensors '%s' [%" PRIu64
                             ", %" PRIu64 ") and '%s' [%" PRIu64 ", %" PRIu64
                             ") overlap",
                             path, e[prev].name, b0, b0 + e[prev].bytes,
                             e[i].name, b1, b1 + e[i].bytes);
    }
    prev = i;
  }
  return GESTA_STATUS_OK;
}

gesta_status gesta_safetensors_open(const char *path, gesta_safetensors **out,
                                    gesta_error *err) {
  *out = NULL;
  gesta_status status;
  char *text = NULL;
  size_t size = 0;
  gesta_safetensors *file = calloc(1, sizeof *file);
  if (!file) {
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory reading %s", path);
  }
  status = st_read_file(path, &file->bytes, &size, err);
  if (status != GESTA_STATUS_OK) {
    goto fail;
  }
  if (size < 8) {
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s is not a safetensors file: it has %zu bytes, "
                             "fewer than the 8-byte header length",
                             path, size);
    goto fail;
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; i--) {
    header_len = (header_len << 8) | file->bytes[i];
  }
  uint64_t rest = (uint64_t)size - 8;
  if (header_len > rest) {
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: the header length %" PRIu64
                             " is past the end of the file (%" PRIu64
                             " bytes follow it): truncated or not a "
                             "safetensors file",
                             path, header_len, rest);
    goto fail;
  }
  if (header_len > ST_MAX_HEADER) {
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: the header is %" PRIu64
                             " bytes, over the 100 MB limit",
                             path, header_len);
    goto fail;
  }
  /* cJSON wants a terminated string; the file's bytes are not one. */
  text = malloc((size_t)header_len + 1);
  if (!text) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory reading %s", path);
    goto fail;
  }
  memcpy(text, file->bytes + 8, (size_t)header_len);
  text[header_len] = '\0';
  const char *end = NULL;
  file->header = cJSON_ParseWithLengthOpts(text, (size_t)header_len, &end, 0);
  /* Only the writer's space padding may follow the JSON value. */
  while (file->header && end < text + header_len && strchr(" \t\r\n", *end) &&
         *end) {
    end++;
  }
  if (!file->header || end != text + header_len) {
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: the %" PRIu64 "-byte header is not valid "
                             "JSON (truncated or not a safetensors file?)",
                             path, header_len);
    goto fail;
  }
  if (!cJSON_IsObject(file->header)) {
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: the header is JSON but not an object", path);
    goto fail;
  }
  status = st_parse_header(file, file->bytes + 8 + header_len,
                           rest - header_len, path, err);
  if (status != GESTA_STATUS_OK) {
    goto fail;
  }
  free(text);
  *out = file;
  return GESTA_STATUS_OK;
fail:
  free(text);
  gesta_safetensors_close(file);
  return status;
}

int gesta_safetensors_count(const gesta_safetensors *file) {
  return file->n_entries;
}

const gesta_safetensors_entry *
gesta_safetensors_entry_at(const gesta_safetensors *file, int index) {
  if (index < 0 || index >= file->n_entries) {
    return NULL;
  }
  return &file->entries[index];
}

const gesta_safetensors_entry *
gesta_safetensors_find(const gesta_safetensors *file, const char *name) {
  for (int i = 0; i < file->n_entries; i++) {
    if (strcmp(file->entries[i].name, name) == 0) {
      return &file->entries[i];
    }
  }
  return NULL;
}

const char *gesta_safetensors_metadata(const gesta_safetensors *file,
                                       const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(file->metadata, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

void gesta_safetensors_read(const gesta_safetensors_entry *entry, float *dst) {
  if (entry->bytes > 0) {
    memcpy(dst, entry->data, entry->bytes);
  }
}

static gesta_status st_check_tensors(const char *path,
                                     const gesta_named_tensor *tensors,
                                     int n_tensors, gesta_error *err) {
  uint64_t total = 0;
  for (int i = 0; i < n_tensors; i++) {
    const gesta_named_tensor *t = &tensors[i];
    if (!t->name || !t->name[0] || strcmp(t->name, ST_METADATA_KEY) == 0) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "cannot write %s: tensor %d has no usable name",
                             path, i);
    }
    for (int j = 0; j < i; j++) {
      if (strcmp(tensors[j].name, t->name) == 0) {
        return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                               "cannot write %s: tensor name '%s' is given "
                               "twice",
                               path, t->name);
      }
    }
    if (t->shape.rank < 0 || t->shape.rank > GESTA_MAX_DIMS) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "cannot write %s: tensor '%s' has rank %d", path,
                             t->name, t->shape.rank);
    }
    uint64_t count = 1;
    for (int d = 0; d < t->shape.rank; d++) {
      int64_t v = t->shape.dims[d];
      if (v < 0 || v > ST_MAX_DIM ||
          (v != 0 && count > UINT64_MAX / 8 / (uint64_t)v)) {
        return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                               "cannot write %s: tensor '%s' has an invalid "
                               "shape (dimension %d is %" PRId64 ")",
                               path, t->name, d, v);
      }
      count *= (uint64_t)v;
    }
    if (count > 0 && !t->data) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "cannot write %s: tensor '%s' has no data", path,
                             t->name);
    }
    if (count * 4 > UINT64_MAX / 2 - total) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "cannot write %s: the tensors are too large",
                             path);
    }
    total += count * 4;
  }
  return GESTA_STATUS_OK;
}

static cJSON *st_json_u64(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  return cJSON_CreateRaw(buf);
}

/* The header as the reference writer lays it out: metadata first, then the
 * tensors in the caller's order with contiguous data_offsets. */
static char *st_build_header(const gesta_named_tensor *tensors, int n_tensors,
                             const gesta_metadata_pair *metadata,
                             int n_metadata) {
  char *text = NULL;
  cJSON *root = cJSON_CreateObject();
  if (!root) {
    return NULL;
  }
  if (n_metadata > 0) {
    cJSON *meta = cJSON_AddObjectToObject(root, ST_METADATA_KEY);
    if (!meta) {
      goto done;
    }
    for (int i = 0; i < n_metadata; i++) {
      if (!cJSON_AddStringToObject(meta, metadata[i].key, metadata[i].value)) {
        goto done;
      }
    }
  }
  uint64_t offset = 0;
  for (int i = 0; i < n_tensors; i++) {
    const gesta_named_tensor *t = &tensors[i];
    cJSON *entry = cJSON_AddObjectToObject(root, t->name);
    if (!entry || !cJSON_AddStringToObject(entry, "dtype", "F32")) {
      goto done;
    }
    cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
    cJSON *offsets = cJSON_AddArrayToObject(entry, "data_offsets");
    if (!shape || !offsets) {
      goto done;
    }
    for (int d = 0; d < t->shape.rank; d++) {
      cJSON *dim = st_json_u64((uint64_t)t->shape.dims[d]);
      if (!dim || !cJSON_AddItemToArray(shape, dim)) {
        cJSON_Delete(dim);
        goto done;
      }
    }
    uint64_t end = offset + (uint64_t)gesta_shape_count(&t->shape) * 4;
    cJSON *b = st_json_u64(offset), *e = st_json_u64(end);
    if (!b || !cJSON_AddItemToArray(offsets, b)) {
      cJSON_Delete(b);
      cJSON_Delete(e);
      goto done;
    }
    if (!e || !cJSON_AddItemToArray(offsets, e)) {
      cJSON_Delete(e);
      goto done;
    }
    offset = end;
  }
  text = cJSON_PrintUnformatted(root);
done:
  cJSON_Delete(root);
  return text;
}

static int st_write_all(FILE *f, const void *data, size_t bytes) {
  return bytes == 0 || fwrite(data, 1, bytes, f) == bytes;
}

gesta_status gesta_safetensors_write(const char *path,
                                     const gesta_named_tensor *tensors,
                                     int n_tensors,
                                     const gesta_metadata_pair *metadata,
                                     int n_metadata, gesta_error *err) {
  gesta_status status;
  for (int i = 0; i < n_metadata; i++) {
    if (!metadata[i].key || !metadata[i].value) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "cannot write %s: metadata entry %d is missing "
                             "its key or value",
                             path, i);
    }
    for (int j = 0; j < i; j++) {
      if (strcmp(metadata[j].key, metadata[i].key) == 0) {
        return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                               "cannot write %s: metadata key '%s' is given "
                               "twice",
                               path, metadata[i].key);
      }
    }
  }
  status = st_check_tensors(path, tensors, n_tensors, err);
  if (status != GESTA_STATUS_OK) {
    return status;
  }
  char *header = st_build_header(tensors, n_tensors, metadata, n_metadata);
  size_t tmp_size = strlen(path) + 32;
  char *tmp = malloc(tmp_size);
  FILE *f = NULL;
  if (!header || !tmp) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory writing %s", path);
    goto done;
  }
  snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
  size_t header_len = strlen(header);
  size_t padded = (header_len + 7) / 8 * 8;
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; i++) {
    len_bytes[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  }
  static const char spaces[] = "       ";
  f = fopen(tmp, "wb");
  if (!f) {
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot create %s: %s",
                             tmp, strerror(errno));
    free(tmp);
    tmp = NULL; /* nothing to remove */
    goto done;
  }
  int ok = st_write_all(f, len_bytes, 8) &&
           st_write_all(f, header, header_len) &&
           st_write_all(f, spaces, padded - header_len);
  for (int i = 0; ok && i < n_tensors; i++) {
    size_t bytes = (size_t)gesta_shape_count(&tensors[i].shape) * 4;
    ok = st_write_all(f, tensors[i].data, bytes);
  }
  /* The rename must not publish data still sitting in a cache. */
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  if (fclose(f) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  f = NULL;
  if (!ok) {
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s",
                             tmp, strerror(e));
    goto done;
  }
  if (rename(tmp, path) != 0) {
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                             "cannot rename %s to %s: %s", tmp, path,
                             strerror(errno));
    goto done;
  }
  free(tmp);
  tmp = NULL;
  status = GESTA_STATUS_OK;
done:
  if (tmp) {
    unlink(tmp);
  }
  free(tmp);
  free(header);
  return status;
}
