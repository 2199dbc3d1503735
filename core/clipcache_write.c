/* Clip caches: writing. Clips are streamed to a temporary file, the tables
 * appended, the header written last (a file cut short never has a valid
 * magic), fsync, rename. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clipcache_format.h"
#include "gesta/clipcache.h"

/* ---- writing ----------------------------------------------------------- */

struct gesta_clipcache_writer {
  char *path, *tmp;
  FILE *f;
  unsigned char header[CC_HEADER];
  uint64_t clip_bytes;
  int64_t count;
  unsigned char *table;
  size_t table_cap;
  char *strings;
  size_t strings_len, strings_cap;
};

static bool ccw_append_string(gesta_clipcache_writer *w, const char *s,
                              uint64_t *offset) {
  size_t n = strlen(s) + 1;
  if (w->strings_len + n > w->strings_cap) {
    size_t cap = w->strings_cap ? w->strings_cap * 2 : 4096;
    while (cap < w->strings_len + n)
      cap *= 2;
    char *p = realloc(w->strings, cap);
    if (!p)
      return false;
    w->strings = p;
    w->strings_cap = cap;
  }
  if (offset)
    *offset = w->strings_len;
  memcpy(w->strings + w->strings_len, s, n);
  w->strings_len += n;
  return true;
}

static void ccw_free(gesta_clipcache_writer *w) {
  if (w->f)
    fclose(w->f);
  if (w->tmp)
    unlink(w->tmp);
  free(w->tmp);
  free(w->path);
  free(w->table);
  free(w->strings);
  free(w);
}

void gesta_clipcache_writer_abort(gesta_clipcache_writer *w) {
  if (w)
    ccw_free(w);
}

gesta_status gesta_clipcache_writer_new(
    const char *path, const gesta_preprocess *pp, gesta_clip_dtype dtype,
    const char *model_name, gesta_shape model_input, const char *const *classes,
    int n_classes, gesta_clipcache_writer **out, gesta_error *err) {
  gesta_status status;
  *out = NULL;
  int channels = pp->channels == GESTA_CHANNELS_GRAY ? 1 : 3;
  if (n_classes < 1 || pp->frames < 1 || pp->height < 1 || pp->width < 1 ||
      model_input.rank < 1 || model_input.rank > GESTA_MAX_DIMS)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "cannot write clip cache %s: no classes or an "
                           "empty clip shape",
                           path);
  gesta_clipcache_writer *w = calloc(1, sizeof *w);
  if (!w)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory writing %s", path);
  size_t tmp_size = strlen(path) + 32;
  w->path = strdup(path);
  w->tmp = malloc(tmp_size);
  if (!w->path || !w->tmp) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory writing %s", path);
    goto fail;
  }
  snprintf(w->tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
  for (int i = 0; i < n_classes; i++) {
    if (!ccw_append_string(w, classes[i], NULL)) {
      status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory writing %s", path);
      goto fail;
    }
  }
  unsigned char *h = w->header;
  memcpy(h, cc_magic, sizeof cc_magic);
  cc_put32(h + CC_OFF_VERSION, GESTA_CLIPCACHE_VERSION);
  cc_put32(h + CC_OFF_DTYPE, (uint32_t)dtype);
  cc_put32(h + CC_OFF_CLASSES, (uint32_t)n_classes);
  cc_put32(h + CC_OFF_CHANNELS, (uint32_t)pp->channels);
  int64_t dims[4] = {pp->frames, pp->height, pp->width, channels};
  for (int i = 0; i < 4; i++)
    cc_put64(h + CC_OFF_DIMS + 8 * i, (uint64_t)dims[i]);
  uint64_t bits;
  memcpy(&bits, &pp->scale, sizeof bits);
  cc_put64(h + CC_OFF_SCALE, bits);
  cc_put32(h + CC_OFF_INPUT_RANK, (uint32_t)model_input.rank);
  for (int i = 0; i < model_input.rank; i++)
    cc_put64(h + CC_OFF_INPUT_DIMS + 8 * i, (uint64_t)model_input.dims[i]);
  w->clip_bytes = (uint64_t)(dims[0] * dims[1] * dims[2] * dims[3]) *
                  (dtype == GESTA_CLIP_U8 ? 1 : 4);
  cc_put64(h + CC_OFF_DATA, CC_HEADER);
  cc_put64(h + CC_OFF_CLIP_BYTES, w->clip_bytes);
  strncpy((char *)h + CC_OFF_NAME, model_name ? model_name : "", CC_NAME - 1);
  w->f = fopen(w->tmp, "wb");
  if (!w->f) {
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot create %s: %s",
                             w->tmp, strerror(errno));
    free(w->tmp);
    w->tmp = NULL;
    goto fail;
  }
  /* A placeholder: the real header goes in last, so a file cut short
   * never has a valid magic. */
  static const unsigned char zero[CC_HEADER];
  if (fwrite(zero, 1, CC_HEADER, w->f) != CC_HEADER) {
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s",
                             w->tmp, strerror(errno));
    goto fail;
  }
  *out = w;
  return GESTA_STATUS_OK;
fail:
  ccw_free(w);
  return status;
}

gesta_status gesta_clipcache_writer_add(gesta_clipcache_writer *w,
                                        const uint8_t *pixels, int label,
                                        gesta_split split, const char *source,
                                        gesta_error *err) {
  uint32_t n_classes = cc_get32(w->header + CC_OFF_CLASSES);
  uint32_t dtype = cc_get32(w->header + CC_OFF_DTYPE);
  if (label < 0 || (uint32_t)label >= n_classes ||
      (unsigned)split > GESTA_SPLIT_TEST)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "clip %s: label %d or split out of range", source,
                           label);
  if ((size_t)(w->count + 1) * CC_RECORD > w->table_cap) {
    size_t cap = w->table_cap ? w->table_cap * 2 : 64 * CC_RECORD;
    unsigned char *p = realloc(w->table, cap);
    if (!p)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory writing %s", w->path);
    w->table = p;
    w->table_cap = cap;
  }
  uint64_t offset;
  if (!ccw_append_string(w, source ? source : "", &offset))
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory writing %s", w->path);
  bool ok;
  if (dtype == GESTA_CLIP_U8) {
    ok = fwrite(pixels, 1, w->clip_bytes, w->f) == w->clip_bytes;
  } else {
    double scale = cc_get_double(w->header + CC_OFF_SCALE);
    float row[1024];
    uint64_t n = w->clip_bytes / 4, done = 0;
    ok = true;
    while (ok && done < n) {
      uint64_t k = n - done < 1024 ? n - done : 1024;
      for (uint64_t j = 0; j < k; j++)
        row[j] = (float)((double)pixels[done + j] * scale);
      ok = fwrite(row, sizeof(float), k, w->f) == k;
      done += k;
    }
  }
  if (!ok)
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s",
                           w->tmp, strerror(errno));
  unsigned char *r = w->table + (size_t)w->count * CC_RECORD;
  cc_put32(r, (uint32_t)label);
  cc_put32(r + 4, (uint32_t)split);
  cc_put64(r + 8, offset);
  w->count++;
  return GESTA_STATUS_OK;
}

int64_t gesta_clipcache_writer_count(const gesta_clipcache_writer *w) {
  return w->count;
}

gesta_status gesta_clipcache_writer_finish(gesta_clipcache_writer *w,
                                           gesta_error *err) {
  gesta_status status = GESTA_STATUS_OK;
  uint64_t table = CC_HEADER + (uint64_t)w->count * w->clip_bytes;
  uint64_t strings = table + (uint64_t)w->count * CC_RECORD;
  cc_put64(w->header + CC_OFF_CLIPS, (uint64_t)w->count);
  cc_put64(w->header + CC_OFF_TABLE, table);
  cc_put64(w->header + CC_OFF_STRINGS, strings);
  cc_put64(w->header + CC_OFF_STRINGS_SIZE, w->strings_len);
  size_t tn = (size_t)w->count * CC_RECORD;
  bool ok = (tn == 0 || fwrite(w->table, 1, tn, w->f) == tn) &&
            fwrite(w->strings, 1, w->strings_len, w->f) == w->strings_len &&
            fseek(w->f, 0, SEEK_SET) == 0 &&
            fwrite(w->header, 1, CC_HEADER, w->f) == CC_HEADER &&
            fflush(w->f) == 0 && fsync(fileno(w->f)) == 0;
  int e = errno;
  if (fclose(w->f) != 0 && ok) {
    ok = false;
    e = errno;
  }
  w->f = NULL;
  if (!ok) {
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s",
                             w->tmp, strerror(e));
  } else if (rename(w->tmp, w->path) != 0) {
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                             "cannot rename %s to %s: %s", w->tmp, w->path,
                             strerror(errno));
  } else {
    free(w->tmp);
    w->tmp = NULL;
  }
  ccw_free(w);
  return status;
}
