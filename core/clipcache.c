/* Clip caches: reading (mmap, every offset checked against the file before
 * use). The layout is in clipcache_format.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clipcache_format.h"
#include "gesta/clipcache.h"

struct gesta_clipcache {
  char *path;
  const unsigned char *map;
  size_t size;
  gesta_preprocess pp;
  gesta_clip_dtype dtype;
  char model_name[CC_NAME + 1];
  gesta_shape model_input;
  int64_t n_clips, clip_floats, frame_floats;
  int64_t split_counts[3];
  uint64_t clip_bytes, data, table, strings, strings_size;
  int n_classes;
  const char **classes; /* into the map */
  float lut[256];       /* u8 value -> float, as gesta_preprocess_frame */
};

const char *gesta_split_name(gesta_split split) {
  switch (split) {
  case GESTA_SPLIT_TRAIN:
    return "train";
  case GESTA_SPLIT_VAL:
    return "val";
  case GESTA_SPLIT_TEST:
    return "test";
  }
  return "?";
}

static void cc_fill_lut(gesta_clipcache *c) {
  for (int v = 0; v < 256; v++)
    c->lut[v] = (float)((double)v * c->pp.scale);
}

static gesta_status cc_corrupt(const char *path, const char *what,
                               gesta_error *err) {
  return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                         "%s is not a usable clip cache (%s); rebuild it with "
                         "`gesta dataset build`",
                         path, what);
}

/* a * b + c without wrapping, or false. */
static bool cc_mul_add(uint64_t a, uint64_t b, uint64_t c, uint64_t *out) {
  if (b && a > (UINT64_MAX - c) / b)
    return false;
  *out = a * b + c;
  return true;
}

static gesta_status cc_parse_header(gesta_clipcache *c, gesta_error *err) {
  const unsigned char *h = c->map;
  const char *path = c->path;
  if (c->size < CC_HEADER || memcmp(h, cc_magic, sizeof cc_magic) != 0) {
    if (c->size >= sizeof cc_magic && memcmp(h, cc_magic, sizeof cc_magic) == 0)
      return cc_corrupt(path, "truncated header", err);
    return cc_corrupt(path, "wrong magic: not made by gesta dataset build",
                      err);
  }
  uint32_t version = cc_get32(h + CC_OFF_VERSION);
  if (version != GESTA_CLIPCACHE_VERSION)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s is a clip cache of format version %u; this "
                           "gesta reads version %d: rebuild it with `gesta "
                           "dataset build`",
                           path, version, GESTA_CLIPCACHE_VERSION);
  uint32_t dtype = cc_get32(h + CC_OFF_DTYPE);
  if (dtype > GESTA_CLIP_F32)
    return cc_corrupt(path, "unknown pixel type", err);
  c->dtype = (gesta_clip_dtype)dtype;
  uint32_t n_classes = cc_get32(h + CC_OFF_CLASSES);
  uint32_t channels = cc_get32(h + CC_OFF_CHANNELS);
  if (n_classes < 1 || n_classes > 100000 || channels > GESTA_CHANNELS_GRAY)
    return cc_corrupt(path, "bad class count or channel order", err);
  c->n_classes = (int)n_classes;
  c->n_clips = (int64_t)cc_get64(h + CC_OFF_CLIPS);
  int64_t dims[4];
  for (int i = 0; i < 4; i++) {
    dims[i] = (int64_t)cc_get64(h + CC_OFF_DIMS + 8 * i);
    if (dims[i] < 1 || dims[i] > 100000)
      return cc_corrupt(path, "bad clip shape", err);
  }
  int want_ch = channels == GESTA_CHANNELS_GRAY ? 1 : 3;
  if (dims[3] != want_ch)
    return cc_corrupt(path, "channel count does not match channel order", err);
  c->pp.frames = dims[0];
  c->pp.height = dims[1];
  c->pp.width = dims[2];
  c->pp.channels = (gesta_channel_order)channels;
  c->pp.sampling = GESTA_SAMPLING_UNIFORM;
  c->pp.scale = cc_get_double(h + CC_OFF_SCALE);
  if (!isfinite(c->pp.scale) || c->pp.scale <= 0)
    return cc_corrupt(path, "bad scale", err);
  uint32_t rank = cc_get32(h + CC_OFF_INPUT_RANK);
  if (rank < 1 || rank > GESTA_MAX_DIMS)
    return cc_corrupt(path, "bad model input rank", err);
  c->model_input.rank = (int)rank;
  for (uint32_t i = 0; i < rank; i++)
    c->model_input.dims[i] = (int64_t)cc_get64(h + CC_OFF_INPUT_DIMS + 8 * i);
  memcpy(c->model_name, h + CC_OFF_NAME, CC_NAME);
  c->model_name[CC_NAME] = '\0';

  c->frame_floats = dims[1] * dims[2] * dims[3];
  c->clip_floats = c->frame_floats * dims[0];
  c->clip_bytes = cc_get64(h + CC_OFF_CLIP_BYTES);
  c->data = cc_get64(h + CC_OFF_DATA);
  c->table = cc_get64(h + CC_OFF_TABLE);
  c->strings = cc_get64(h + CC_OFF_STRINGS);
  c->strings_size = cc_get64(h + CC_OFF_STRINGS_SIZE);
  uint64_t elem = c->dtype == GESTA_CLIP_U8 ? 1 : 4;
  uint64_t end_data, end_table;
  if (c->clip_bytes != (uint64_t)c->clip_floats * elem || c->n_clips < 0 ||
      c->data < CC_HEADER || c->data % 4 != 0)
    return cc_corrupt(path, "inconsistent header", err);
  if (!cc_mul_add((uint64_t)c->n_clips, c->clip_bytes, c->data, &end_data) ||
      end_data != c->table ||
      !cc_mul_add((uint64_t)c->n_clips, CC_RECORD, c->table, &end_table) ||
      end_table != c->strings || c->strings_size < n_classes ||
      c->strings > UINT64_MAX - c->strings_size)
    return cc_corrupt(path, "inconsistent header", err);
  if (c->strings + c->strings_size != c->size) {
    char what[128];
    snprintf(what, sizeof what, "%s: %zu bytes, the header says %llu",
             c->strings + c->strings_size > c->size ? "truncated"
                                                    : "trailing bytes",
             c->size, (unsigned long long)(c->strings + c->strings_size));
    return cc_corrupt(path, what, err);
  }
  return GESTA_STATUS_OK;
}

static gesta_status cc_parse_tables(gesta_clipcache *c, gesta_error *err) {
  const char *s = (const char *)c->map + c->strings;
  uint64_t n = c->strings_size, pos = 0;
  if (s[n - 1] != '\0')
    return cc_corrupt(c->path, "string table not terminated", err);
  c->classes = calloc((size_t)c->n_classes, sizeof *c->classes);
  if (!c->classes)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory opening %s", c->path);
  for (int i = 0; i < c->n_classes; i++) {
    if (pos >= n)
      return cc_corrupt(c->path, "class names missing", err);
    c->classes[i] = s + pos;
    pos += strlen(s + pos) + 1;
  }
  for (int64_t i = 0; i < c->n_clips; i++) {
    const unsigned char *r = c->map + c->table + (uint64_t)i * CC_RECORD;
    uint32_t label = cc_get32(r), split = cc_get32(r + 4);
    uint64_t src = cc_get64(r + 8);
    if (label >= (uint32_t)c->n_classes || split > GESTA_SPLIT_TEST ||
        src >= n) {
      char what[96];
      snprintf(what, sizeof what, "bad record for clip %lld", (long long)i);
      return cc_corrupt(c->path, what, err);
    }
    c->split_counts[split]++;
  }
  return GESTA_STATUS_OK;
}

gesta_status gesta_clipcache_open(const char *path, gesta_clipcache **out,
                                  gesta_error *err) {
  gesta_status status;
  struct stat st;
  *out = NULL;
  gesta_clipcache *c = calloc(1, sizeof *c);
  if (!c || !(c->path = strdup(path))) {
    free(c);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory opening %s", path);
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    status = gesta_error_set(
        err, errno == ENOENT ? GESTA_STATUS_BAD_INPUT : GESTA_STATUS_IO_ERROR,
        "cannot open clip cache %s: %s", path, strerror(errno));
    goto fail;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s is not a clip cache file", path);
    goto fail;
  }
  c->size = (size_t)st.st_size;
  if (c->size < CC_HEADER) {
    status = cc_corrupt(
        path, c->size == 0 ? "empty file" : "shorter than a header", err);
    goto fail;
  }
  void *map = mmap(NULL, c->size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot map %s: %s",
                             path, strerror(errno));
    goto fail;
  }
  c->map = map;
  close(fd);
  fd = -1;
  status = cc_parse_header(c, err);
  if (status == GESTA_STATUS_OK)
    status = cc_parse_tables(c, err);
  if (status != GESTA_STATUS_OK)
    goto fail;
  cc_fill_lut(c);
  *out = c;
  return GESTA_STATUS_OK;
fail:
  if (fd >= 0)
    close(fd);
  gesta_clipcache_close(c);
  return status;
}

void gesta_clipcache_close(gesta_clipcache *c) {
  if (!c)
    return;
  if (c->map)
    munmap((void *)c->map, c->size);
  free(c->classes);
  free(c->path);
  free(c);
}

const char *gesta_clipcache_path(const gesta_clipcache *c) {
  return c->path;
}
int64_t gesta_clipcache_count(const gesta_clipcache *c) {
  return c->n_clips;
}

int64_t gesta_clipcache_split_count(const gesta_clipcache *c,
                                    gesta_split split) {
  return (unsigned)split <= GESTA_SPLIT_TEST ? c->split_counts[split] : 0;
}

gesta_shape gesta_clipcache_clip_shape(const gesta_clipcache *c) {
  int64_t dims[4] = {c->pp.frames, c->pp.height, c->pp.width,
                     c->frame_floats / (c->pp.height * c->pp.width)};
  return gesta_shape_make(4, dims);
}

int64_t gesta_clipcache_clip_floats(const gesta_clipcache *c) {
  return c->clip_floats;
}
int64_t gesta_clipcache_frame_floats(const gesta_clipcache *c) {
  return c->frame_floats;
}
int64_t gesta_clipcache_frames(const gesta_clipcache *c) {
  return c->pp.frames;
}
const gesta_preprocess *gesta_clipcache_preprocess(const gesta_clipcache *c) {
  return &c->pp;
}
gesta_clip_dtype gesta_clipcache_dtype(const gesta_clipcache *c) {
  return c->dtype;
}
const char *gesta_clipcache_model_name(const gesta_clipcache *c) {
  return c->model_name;
}
gesta_shape gesta_clipcache_model_input(const gesta_clipcache *c) {
  return c->model_input;
}
int gesta_clipcache_class_count(const gesta_clipcache *c) {
  return c->n_classes;
}

const char *gesta_clipcache_class_name(const gesta_clipcache *c, int i) {
  return i >= 0 && i < c->n_classes ? c->classes[i] : NULL;
}

static const unsigned char *cc_record(const gesta_clipcache *c, int64_t i) {
  return c->map + c->table + (uint64_t)i * CC_RECORD;
}

int gesta_clipcache_label(const gesta_clipcache *c, int64_t i) {
  return i >= 0 && i < c->n_clips ? (int)cc_get32(cc_record(c, i)) : -1;
}

gesta_split gesta_clipcache_split(const gesta_clipcache *c, int64_t i) {
  return i >= 0 && i < c->n_clips ? (gesta_split)cc_get32(cc_record(c, i) + 4)
                                  : GESTA_SPLIT_TRAIN;
}

const char *gesta_clipcache_source(const gesta_clipcache *c, int64_t i) {
  if (i < 0 || i >= c->n_clips)
    return NULL;
  return (const char *)c->map + c->strings + cc_get64(cc_record(c, i) + 8);
}

static void cc_convert(const gesta_clipcache *c, const unsigned char *src,
                       int64_t n, float *out) {
  if (c->dtype == GESTA_CLIP_F32) {
    memcpy(out, src, (size_t)n * sizeof(float));
    return;
  }
  for (int64_t k = 0; k < n; k++)
    out[k] = c->lut[src[k]];
}

gesta_status gesta_clipcache_read(const gesta_clipcache *c, int64_t i,
                                  float *out, gesta_error *err) {
  if (i < 0 || i >= c->n_clips)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: clip %lld is out of range (the cache has "
                           "%lld)",
                           c->path, (long long)i, (long long)c->n_clips);
  cc_convert(c, c->map + c->data + (uint64_t)i * c->clip_bytes, c->clip_floats,
             out);
  return GESTA_STATUS_OK;
}

gesta_status gesta_clipcache_read_frame(const gesta_clipcache *c, int64_t i,
                                        int64_t frame, float *out,
                                        gesta_error *err) {
  if (i < 0 || i >= c->n_clips || frame < 0 || frame >= c->pp.frames)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: clip %lld frame %lld is out of range (%lld "
                           "clips of %lld frames)",
                           c->path, (long long)i, (long long)frame,
                           (long long)c->n_clips, (long long)c->pp.frames);
  uint64_t elem = c->dtype == GESTA_CLIP_U8 ? 1 : 4;
  cc_convert(c,
             c->map + c->data + (uint64_t)i * c->clip_bytes +
                 (uint64_t)frame * (uint64_t)c->frame_floats * elem,
             c->frame_floats, out);
  return GESTA_STATUS_OK;
}

static const char *cc_channels_name(gesta_channel_order o) {
  return o == GESTA_CHANNELS_BGR   ? "bgr"
         : o == GESTA_CHANNELS_RGB ? "rgb"
                                   : "gray";
}

/* "[A, B, C]" into buf, cut short with "..." when it does not fit. */
static void cc_list(const char *const *names, int n, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && len + 8 < size; i++) {
    int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "[", names[i]);
    len += w > 0 ? (size_t)w : 0;
  }
  if (len + 5 >= size)
    snprintf(buf + size - 5, 5, "...");
  else
    snprintf(buf + len, size - len, "]");
}

static gesta_status cc_check_classes(const gesta_clipcache *c,
                                     const gesta_model *m, gesta_error *err) {
  bool same = m->n_classes == c->n_classes;
  for (int i = 0; same && i < c->n_classes; i++)
    same = strcmp(m->classes[i], c->classes[i]) == 0;
  if (same)
    return GESTA_STATUS_OK;
  char mine[400], theirs[400];
  cc_list((const char *const *)m->classes, m->n_classes, mine, sizeof mine);
  cc_list(c->classes, c->n_classes, theirs, sizeof theirs);
  return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                         "model '%s' (%s) has classes %s but the dataset in "
                         "%s has %s: set the model's `classes:` (and its "
                         "output layer's units) to the dataset's",
                         m->name, m->path, mine, c->path, theirs);
}

gesta_status gesta_clipcache_check_model(const gesta_clipcache *c,
                                         const gesta_model *m,
                                         gesta_error *err) {
  gesta_shape clip = gesta_clipcache_clip_shape(c);
  char a[64], b[64];
  bool per_frame = m->input_shape.rank == 3;
  gesta_shape want = clip;
  if (per_frame) {
    want.rank = 3;
    memmove(want.dims, want.dims + 1, 3 * sizeof want.dims[0]);
  }
  if (!gesta_shape_equal(&m->input_shape, &want))
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "model '%s' (%s) takes input %s but the clips in %s are %s (made for "
        "model '%s'): rebuild the cache with `gesta dataset build DIR -m %s`",
        m->name, m->path, gesta_shape_format(&m->input_shape, a, sizeof a),
        c->path, gesta_shape_format(&clip, b, sizeof b), c->model_name,
        m->path);
  if (m->has_preprocess) {
    const gesta_preprocess *p = &m->preprocess;
    if (p->height != c->pp.height || p->width != c->pp.width ||
        p->channels != c->pp.channels ||
        fabs(p->scale - c->pp.scale) > 1e-12 * fabs(c->pp.scale) ||
        (per_frame && p->frames != c->pp.frames))
      return gesta_error_set(
          err, GESTA_STATUS_BAD_INPUT,
          "model '%s' preprocesses %lldx%lld %s frames (scale %g, %lld per "
          "clip) but %s holds %lldx%lld %s frames (scale %g, %lld per clip): "
          "rebuild the cache with `gesta dataset build DIR -m %s`",
          m->name, (long long)p->width, (long long)p->height,
          cc_channels_name(p->channels), p->scale, (long long)p->frames,
          c->path, (long long)c->pp.width, (long long)c->pp.height,
          cc_channels_name(c->pp.channels), c->pp.scale,
          (long long)c->pp.frames, m->path);
  }
  return cc_check_classes(c, m, err);
}
