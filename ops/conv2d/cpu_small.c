/* conv2d on the CPU for few input channels, as in a first layer on RGB
 * frames. There the im2col row is only kh * kw * C long (27) and the GEMM
 * as narrow as the filters (16 in the LRCN), shapes OpenBLAS runs at a
 * small fraction of its speed, while the im2col matrix is 9x the input.
 * A direct loop keeps one output pixel's filters in vector registers and
 * reads the input where it lies.
 *
 * On x86-64 CPUs with AVX2 and FMA the loop uses them (checked at run
 * time, so one binary serves every x86-64); elsewhere it is written with
 * the compiler's generic vectors. The two round differently (FMA rounds
 * once), as BLAS kernels differ between machines. */
#include "cpu_small.h"

#include <string.h>

#define CONV2D_SMALL_MAX_C 4
#define CONV2D_LANES 8
#define CONV2D_MAX_VECTORS (64 / CONV2D_LANES)

#if defined(__GNUC__)

bool conv2d_small_fits(const conv2d_geom *g) {
  return !g->direct && g->c <= CONV2D_SMALL_MAX_C &&
         (g->filters == 8 || g->filters == 16 || g->filters == 32 ||
          g->filters == 64);
}

/* Calls body(nv) with nv, the filters' vector count, a constant, so that
 * the accumulators of the unrolled loops live in registers. */
#define CONV2D_SMALL_DISPATCH(nv, body)                                        \
  switch (nv) {                                                                \
  case 1:                                                                      \
    body(1);                                                                   \
    break;                                                                     \
  case 2:                                                                      \
    body(2);                                                                   \
    break;                                                                     \
  case 4:                                                                      \
    body(4);                                                                   \
    break;                                                                     \
  default:                                                                     \
    body(8);                                                                   \
    break;                                                                     \
  }

/* The input pixel under tap (ky, kx) of the output pixel at (y0, x0), or
 * NULL in the padding. */
static inline const float *conv2d_small_tap(const conv2d_geom *g,
                                            const float *x, int64_t img,
                                            int64_t iy, int64_t ix) {
  if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
    return NULL;
  return x + ((img * g->h + iy) * g->w + ix) * g->c;
}

typedef float conv2d_v8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) void
conv2d_small_pixel(const conv2d_geom *g, const float *x, const float *kernel,
                   int64_t img, int64_t y0, int64_t x0, float *out,
                   const int nv) {
  conv2d_v8 acc[CONV2D_MAX_VECTORS];
#pragma GCC unroll 8
  for (int v = 0; v < nv; v++)
    acc[v] = (conv2d_v8){0};
  for (int64_t ky = 0; ky < g->kh; ky++)
    for (int64_t kx = 0; kx < g->kw; kx++) {
      const float *px = conv2d_small_tap(g, x, img, y0 + ky, x0 + kx);
      if (!px)
        continue;
      const float *wk = kernel + (ky * g->kw + kx) * g->c * g->filters;
      for (int64_t ci = 0; ci < g->c; ci++, wk += g->filters) {
        float value = px[ci];
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
          conv2d_v8 weights;
          memcpy(&weights, wk + v * CONV2D_LANES, sizeof weights);
          acc[v] += value * weights;
        }
      }
    }
#pragma GCC unroll 8
  for (int v = 0; v < nv; v++)
    memcpy(out + v * CONV2D_LANES, &acc[v], sizeof acc[v]);
}

static void conv2d_small_rows_generic(const conv2d_geom *g, const float *x,
                                      const float *kernel, int64_t r0,
                                      int64_t m, float *out) {
  int64_t ohw = g->oh * g->ow;
  int nv = (int)(g->filters / CONV2D_LANES);
  for (int64_t i = 0; i < m; i++, out += g->filters) {
    int64_t r = r0 + i, p = r % ohw;
    int64_t y0 = (p / g->ow) * g->sh - g->pad_top;
    int64_t x0 = (p % g->ow) * g->sw - g->pad_left;
#define CONV2D_SMALL_GENERIC(n)                                                \
  conv2d_small_pixel(g, x, kernel, r / ohw, y0, x0, out, n)
    CONV2D_SMALL_DISPATCH(nv, CONV2D_SMALL_GENERIC)
#undef CONV2D_SMALL_GENERIC
  }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma"), always_inline)) static inline void
conv2d_small_pixel_avx2(const conv2d_geom *g, const float *x,
                        const float *kernel, int64_t img, int64_t y0,
                        int64_t x0, float *out, const int nv) {
  __m256 acc[CONV2D_MAX_VECTORS];
#pragma GCC unroll 8
  for (int v = 0; v < nv; v++)
    acc[v] = _mm256_setzero_ps();
  for (int64_t ky = 0; ky < g->kh; ky++)
    for (int64_t kx = 0; kx < g->kw; kx++) {
      const float *px = conv2d_small_tap(g, x, img, y0 + ky, x0 + kx);
      if (!px)
        continue;
      const float *wk = kernel + (ky * g->kw + kx) * g->c * g->filters;
      for (int64_t ci = 0; ci < g->c; ci++, wk += g->filters) {
        __m256 value = _mm256_set1_ps(px[ci]);
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
          acc[v] = _mm256_fmadd_ps(
              value, _mm256_loadu_ps(wk + v * CONV2D_LANES), acc[v]);
      }
    }
#pragma GCC unroll 8
  for (int v = 0; v < nv; v++)
    _mm256_storeu_ps(out + v * CONV2D_LANES, acc[v]);
}

__attribute__((target("avx2,fma"))) static void
conv2d_small_rows_avx2(const conv2d_geom *g, const float *x,
                       const float *kernel, int64_t r0, int64_t m, float *out) {
  int64_t ohw = g->oh * g->ow;
  int nv = (int)(g->filters / CONV2D_LANES);
  for (int64_t i = 0; i < m; i++, out += g->filters) {
    int64_t r = r0 + i, p = r % ohw;
    int64_t y0 = (p / g->ow) * g->sh - g->pad_top;
    int64_t x0 = (p % g->ow) * g->sw - g->pad_left;
#define CONV2D_SMALL_AVX2(n)                                                   \
  conv2d_small_pixel_avx2(g, x, kernel, r / ohw, y0, x0, out, n)
    CONV2D_SMALL_DISPATCH(nv, CONV2D_SMALL_AVX2)
#undef CONV2D_SMALL_AVX2
  }
}

static bool conv2d_small_has_avx2(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

void conv2d_small_rows(const conv2d_geom *g, const float *x,
                       const float *kernel, int64_t r0, int64_t m, float *out) {
#if defined(__x86_64__)
  if (conv2d_small_has_avx2()) {
    conv2d_small_rows_avx2(g, x, kernel, r0, m, out);
    return;
  }
#endif
  conv2d_small_rows_generic(g, x, kernel, r0, m, out);
}

#else /* no vector extensions: the im2col path takes every convolution */

bool conv2d_small_fits(const conv2d_geom *g) {
  (void)g;
  return false;
}

void conv2d_small_rows(const conv2d_geom *g, const float *x,
                       const float *kernel, int64_t r0, int64_t m, float *out) {
  (void)g, (void)x, (void)kernel, (void)r0, (void)m, (void)out;
}

#endif
