/* conv2d forward on the CPU without im2col: each output pixel walks its
 * kernel's taps over the input where it lies, with its filters in vector
 * registers. im2col copies every input pixel kh * kw times (9x for 3x3)
 * into a matrix the GEMM then reads again, and OpenBLAS runs the narrow
 * GEMMs of these models (16 to 64 filters, 27 to 576 deep) well below the
 * FMA units' rate. Here a block of neighbouring output pixels shares each
 * weight vector load, and every accumulator is independent, so the FMA
 * units stay busy.
 *
 * Each output value is the same sum in the same order (taps row by row,
 * channels in order, one fused multiply-add each) whatever the block, the
 * tile or the vector width: AVX-512 and AVX2 give the same bits. CPUs
 * without FMA (checked at run time) take the compiler's generic vectors,
 * which round each product. */
#include "cpu_taps.h"

#include <string.h>

#define TAPS_MAX_C 64
#define TAPS_MAX_FILTERS 64

/* Input values of taps that fall in the `same` padding. */
static const float taps_zeros[TAPS_MAX_C];

/* Where a block of output pixels reads from: per pixel, its image's first
 * value and its window's top-left corner. */
typedef struct taps_block {
  const float *image[16];
  int64_t y0[16], x0[16];
} taps_block;

static void taps_block_init(const conv2d_geom *g, const float *x, int64_t r,
                            int pixels, taps_block *b) {
  int64_t ohw = g->oh * g->ow;
  for (int p = 0; p < pixels; p++) {
    int64_t at = (r + p) % ohw;
    b->image[p] = x + (r + p) / ohw * g->h * g->w * g->c;
    b->y0[p] = at / g->ow * g->sh - g->pad_top;
    b->x0[p] = at % g->ow * g->sw - g->pad_left;
  }
}

static inline const float *taps_input(const conv2d_geom *g, const taps_block *b,
                                      int p, int64_t ky, int64_t kx) {
  int64_t iy = b->y0[p] + ky, ix = b->x0[p] + kx;
  if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
    return taps_zeros;
  return b->image[p] + (iy * g->w + ix) * g->c;
}

bool conv2d_taps_fits(const conv2d_geom *g) {
#if defined(__GNUC__)
  return !g->direct && g->c <= TAPS_MAX_C && g->filters % 8 == 0 &&
         g->filters <= TAPS_MAX_FILTERS && (g->filters & (g->filters - 1)) == 0;
#else
  (void)g;
  return false;
#endif
}

#if defined(__GNUC__)

/* One block: `pixels` output pixels from row r, `nv` vectors of `lanes`
 * filters each, both constants where it is expanded so the accumulators
 * are registers. VEC, ZERO, LOAD, STORE, SPLAT and FMA are the vector
 * type and operations of one instruction set; FINISH(v, f) adds bias
 * (filters f on) and applies relu as the caller asked. */
#define TAPS_BLOCK_BODY(VEC, ZERO, LOAD, STORE, SPLAT, FMA, FINISH, lanes,     \
                        pixels, nv)                                            \
  do {                                                                         \
    VEC acc[(pixels) * (nv)];                                                  \
    float *dst = out + (r - r0) * g->filters;                                  \
    taps_block b;                                                              \
    taps_block_init(g, x, r, pixels, &b);                                      \
    _Pragma("GCC unroll 24") for (int i = 0; i < (pixels) * (nv); i++)         \
        acc[i] = ZERO;                                                         \
    for (int64_t ky = 0; ky < g->kh; ky++)                                     \
      for (int64_t kx = 0; kx < g->kw; kx++) {                                 \
        const float *in[pixels];                                               \
        const float *wk = kernel + (ky * g->kw + kx) * g->c * g->filters;      \
        _Pragma("GCC unroll 16") for (int p = 0; p < (pixels); p++) in[p] =    \
            taps_input(g, &b, p, ky, kx);                                      \
        for (int64_t ci = 0; ci < g->c; ci++, wk += g->filters) {              \
          _Pragma("GCC unroll 16") for (int p = 0; p < (pixels); p++) {        \
            VEC value = SPLAT(in[p][ci]);                                      \
            _Pragma("GCC unroll 8") for (int v = 0; v < (nv); v++)             \
                acc[p * (nv) + v] =                                            \
                    FMA(value, LOAD(wk + v * (lanes)), acc[p * (nv) + v]);     \
          }                                                                    \
        }                                                                      \
      }                                                                        \
    _Pragma("GCC unroll 16") for (int p = 0; p < (pixels); p++)                \
        _Pragma("GCC unroll 8") for (int v = 0; v < (nv); v++)                 \
            STORE(dst + p * g->filters + v * (lanes),                          \
                  FINISH(acc[p * (nv) + v], v * (lanes)));                     \
  } while (0)

/* Rows [r0, r0 + m) in blocks of BLOCK(nv) pixels, what is left in
 * blocks of 4 (so a short row keeps four chains of FMAs going), then one
 * by one; `nv` picks among the expansions with constant counts. */
#define TAPS_ROWS_BODY(BLOCK, lanes)                                           \
  do {                                                                         \
    int nv = (int)(g->filters / (lanes));                                      \
    int64_t r = r0, end = r0 + m;                                              \
    switch (nv) {                                                              \
    case 1:                                                                    \
      for (; r + BLOCK##_PIXELS_1 <= end; r += BLOCK##_PIXELS_1)               \
        BLOCK(BLOCK##_PIXELS_1, 1);                                            \
      for (; r + 4 <= end && BLOCK##_PIXELS_1 > 4; r += 4)                     \
        BLOCK(4, 1);                                                           \
      for (; r < end; r++)                                                     \
        BLOCK(1, 1);                                                           \
      break;                                                                   \
    case 2:                                                                    \
      for (; r + BLOCK##_PIXELS_2 <= end; r += BLOCK##_PIXELS_2)               \
        BLOCK(BLOCK##_PIXELS_2, 2);                                            \
      for (; r + 4 <= end && BLOCK##_PIXELS_2 > 4; r += 4)                     \
        BLOCK(4, 2);                                                           \
      for (; r < end; r++)                                                     \
        BLOCK(1, 2);                                                           \
      break;                                                                   \
    case 4:                                                                    \
      for (; r + BLOCK##_PIXELS_4 <= end; r += BLOCK##_PIXELS_4)               \
        BLOCK(BLOCK##_PIXELS_4, 4);                                            \
      for (; r + 4 <= end && BLOCK##_PIXELS_4 > 4; r += 4)                     \
        BLOCK(4, 4);                                                           \
      for (; r < end; r++)                                                     \
        BLOCK(1, 4);                                                           \
      break;                                                                   \
    default:                                                                   \
      for (; r < end; r++)                                                     \
        BLOCK(1, 8);                                                           \
      break;                                                                   \
    }                                                                          \
  } while (0)

/* Generic vectors of 8: what the compiler makes of them on any target. */
typedef float taps_v8 __attribute__((vector_size(32)));

/* A statement expression: a function returning the vector would change
 * the ABI with the target. */
#define TAPS_V8_LOAD(p)                                                        \
  __extension__({                                                              \
    taps_v8 loaded_;                                                           \
    memcpy(&loaded_, (p), sizeof loaded_);                                     \
    loaded_;                                                                   \
  })
#define TAPS_V8_ZERO ((taps_v8){0})
#define TAPS_V8_STORE(p, v)                                                    \
  do {                                                                         \
    taps_v8 stored_ = (v);                                                     \
    memcpy((p), &stored_, sizeof stored_);                                     \
  } while (0)
#define TAPS_V8_SPLAT(s) ((taps_v8){0} + (s))
#define TAPS_V8_FMA(a, b, c) ((c) + (a) * (b))
typedef int32_t taps_i8 __attribute__((vector_size(32)));
/* ReLU as v > 0 ? v : 0 per lane (NaN and -0 give +0, as the scalar
 * loop does). */
#define TAPS_V8_FINISH(v, f)                                                   \
  __extension__({                                                              \
    taps_v8 out_ = (v);                                                        \
    if (bias)                                                                  \
      out_ += TAPS_V8_LOAD(bias + (f));                                        \
    if (relu)                                                                  \
      out_ = (taps_v8)((taps_i8)out_ & (out_ > TAPS_V8_ZERO));                 \
    out_;                                                                      \
  })
#define TAPS_GENERIC(pixels, nv)                                               \
  TAPS_BLOCK_BODY(taps_v8, TAPS_V8_ZERO, TAPS_V8_LOAD, TAPS_V8_STORE,          \
                  TAPS_V8_SPLAT, TAPS_V8_FMA, TAPS_V8_FINISH, 8, pixels, nv)
#define TAPS_GENERIC_PIXELS_1 4
#define TAPS_GENERIC_PIXELS_2 2
#define TAPS_GENERIC_PIXELS_4 1

static void taps_rows_generic(const conv2d_geom *g, const float *x,
                              const float *kernel, const float *bias, bool relu,
                              int64_t r0, int64_t m, float *out) {
  TAPS_ROWS_BODY(TAPS_GENERIC, 8);
}

#if defined(__x86_64__)
#include <immintrin.h>

/* Bias and ReLU for either width; max(v, 0) gives the second operand,
 * +0, for NaN and -0. */
#define TAPS_X86_FINISH(VEC, ADD, LOADU, MAX, ZERO, v, f)                      \
  __extension__({                                                              \
    VEC out_ = (v);                                                            \
    if (bias)                                                                  \
      out_ = ADD(out_, LOADU(bias + (f)));                                     \
    if (relu)                                                                  \
      out_ = MAX(out_, ZERO());                                                \
    out_;                                                                      \
  })

/* AVX2: 16 registers, 8 floats each. */
#define TAPS_AVX2_FINISH(v, f)                                                 \
  TAPS_X86_FINISH(__m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_max_ps,       \
                  _mm256_setzero_ps, v, f)
#define TAPS_AVX2(pixels, nv)                                                  \
  TAPS_BLOCK_BODY(__m256, _mm256_setzero_ps(), _mm256_loadu_ps,                \
                  _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps,           \
                  TAPS_AVX2_FINISH, 8, pixels, nv)
#define TAPS_AVX2_PIXELS_1 8
#define TAPS_AVX2_PIXELS_2 6
#define TAPS_AVX2_PIXELS_4 3

__attribute__((target("avx2,fma"))) static void
taps_rows_avx2(const conv2d_geom *g, const float *x, const float *kernel,
               const float *bias, bool relu, int64_t r0, int64_t m,
               float *out) {
  TAPS_ROWS_BODY(TAPS_AVX2, 8);
}

/* AVX-512: 32 registers, 16 floats each (filters 8 stay on AVX2). */
#define TAPS_AVX512_FINISH(v, f)                                               \
  TAPS_X86_FINISH(__m512, _mm512_add_ps, _mm512_loadu_ps, _mm512_max_ps,       \
                  _mm512_setzero_ps, v, f)
#define TAPS_AVX512(pixels, nv)                                                \
  TAPS_BLOCK_BODY(__m512, _mm512_setzero_ps(), _mm512_loadu_ps,                \
                  _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps,           \
                  TAPS_AVX512_FINISH, 16, pixels, nv)
#define TAPS_AVX512_PIXELS_1 12
#define TAPS_AVX512_PIXELS_2 12
#define TAPS_AVX512_PIXELS_4 6

__attribute__((target("avx512f,avx2,fma"))) static void
taps_rows_avx512(const conv2d_geom *g, const float *x, const float *kernel,
                 const float *bias, bool relu, int64_t r0, int64_t m,
                 float *out) {
  TAPS_ROWS_BODY(TAPS_AVX512, 16);
}
#endif

void conv2d_taps_rows(const conv2d_geom *g, const float *x, const float *kernel,
                      const float *bias, bool relu, int64_t r0, int64_t m,
                      float *out) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    if (g->filters >= 16 && __builtin_cpu_supports("avx512f"))
      taps_rows_avx512(g, x, kernel, bias, relu, r0, m, out);
    else
      taps_rows_avx2(g, x, kernel, bias, relu, r0, m, out);
    return;
  }
#endif
  taps_rows_generic(g, x, kernel, bias, relu, r0, m, out);
}

#else /* no vector extensions: conv2d_taps_fits takes nothing */

void conv2d_taps_rows(const conv2d_geom *g, const float *x, const float *kernel,
                      const float *bias, bool relu, int64_t r0, int64_t m,
                      float *out) {
  (void)g, (void)x, (void)kernel, (void)bias, (void)relu, (void)r0, (void)m,
      (void)out;
}

#endif
