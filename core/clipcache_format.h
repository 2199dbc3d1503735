/* The clip cache file format, shared by its reader and writer.
 *
 * Layout, all integers little-endian:
 *   0    "GESTACLP" magic, u32 version, u32 dtype, u32 n_classes,
 *        u32 channel order, i64 n_clips, i64 frames, height, width,
 *        channels, f64 scale, u32 model input rank, u32 0,
 *        i64 model input dims[5], u64 table, strings, strings size, data,
 *        clip bytes, char model name[64]   (CC_HEADER bytes in all)
 *   data   n_clips clips of clip bytes each
 *   table  n_clips records: u32 label, u32 split, u64 source offset
 *   strings class names then sources, each NUL-terminated */
#ifndef GESTA_CLIPCACHE_FORMAT_H
#define GESTA_CLIPCACHE_FORMAT_H

#include <stdint.h>
#include <string.h>

#define CC_HEADER 256
#define CC_RECORD 16
#define CC_NAME 64
static const char cc_magic[8]
    __attribute__((unused)) = {'G', 'E', 'S', 'T', 'A', 'C', 'L', 'P'};

enum {
  CC_OFF_VERSION = 8,
  CC_OFF_DTYPE = 12,
  CC_OFF_CLASSES = 16,
  CC_OFF_CHANNELS = 20,
  CC_OFF_CLIPS = 24,
  CC_OFF_DIMS = 32, /* frames, height, width, channels */
  CC_OFF_SCALE = 64,
  CC_OFF_INPUT_RANK = 72,
  CC_OFF_INPUT_DIMS = 80,
  CC_OFF_TABLE = 120,
  CC_OFF_STRINGS = 128,
  CC_OFF_STRINGS_SIZE = 136,
  CC_OFF_DATA = 144,
  CC_OFF_CLIP_BYTES = 152,
  CC_OFF_NAME = 160
};

static inline uint64_t cc_get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static inline uint32_t cc_get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline void cc_put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static inline void cc_put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static inline double cc_get_double(const unsigned char *p) {
  uint64_t bits = cc_get64(p);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

#endif
