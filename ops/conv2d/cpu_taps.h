/* conv2d on the CPU: the geometry the kernels share, and the kernel that
 * walks the taps straight over the input (cpu_taps.c). */
#ifndef GESTA_CONV2D_CPU_TAPS_H
#define GESTA_CONV2D_CPU_TAPS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct conv2d_geom {
  int64_t n, h, w, c;      /* input */
  int64_t oh, ow, filters; /* output */
  int64_t kh, kw, sh, sw;
  int64_t pad_top, pad_left;
  int64_t k;    /* kh * kw * c: im2col row length */
  int64_t rows; /* n * oh * ow output pixels */
  /* Tiles: an image in `strips` strips of rows when an image is larger
   * than a tile, else whole images, `tiles` even groups of them. Either
   * way no tile holds part of two images, and a tile's bounds depend on
   * the shapes alone, never on the thread count. */
  int64_t tile_rows; /* output pixels per tile, at most */
  int64_t strips;    /* tiles per image, or 1 when tiles are images */
  int64_t tiles;
  bool direct; /* 1x1, stride 1: the input already is the matrix */
  bool taps;   /* forward by conv2d_taps_rows, no im2col */
} conv2d_geom;

/* Floats rounded up to whole cache lines, so threads' scratch never
 * shares one. */
static inline int64_t conv2d_lines(int64_t floats) {
  return (floats + 15) / 16 * 16;
}

/* Whether conv2d_taps_rows takes this convolution's forward pass. */
bool conv2d_taps_fits(const conv2d_geom *g);

/* Output rows [r0, r0 + m) (NHWC pixels, `filters` values each) into out,
 * straight from the input x and the Keras kernel (kh, kw, C, filters),
 * plus bias when not NULL, then ReLU when relu is set: the same values as
 * adding the bias and applying ReLU afterwards, without another pass. */
void conv2d_taps_rows(const conv2d_geom *g, const float *x, const float *kernel,
                      const float *bias, bool relu, int64_t r0, int64_t m,
                      float *out);

#endif
