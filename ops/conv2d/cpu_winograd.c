/* conv2d inference on the CPU by Winograd's F(4x4, 3x3) (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2015).
 *
 * Each 4x4 block of output pixels ("tile") comes from a 6x6 patch of the
 * input. Patch and kernel are transformed (V = B^T d B, U = G g G^T), and
 * the 36 element-wise products summed over input channels give the tile's
 * transform M, from which Y = A^T M A. Per tile that is 36 x C x F
 * multiply-adds instead of 16 x 9 x C x F: 4x fewer (F(2x2, 3x3) saves
 * 2.25x), and they are the work (the transforms are a few additions per
 * value). For each of the 36 positions the sum over channels is a 1x1
 * convolution of the tiles, which conv2d_taps_rows runs at the FMA units'
 * rate.
 *
 * The results differ from the direct sum by rounding (the transforms add
 * and subtract before multiplying), so training keeps the direct kernels:
 * its bit-exact runs and gradient checks stay as they were. */
#include "cpu_winograd.h"

#include "cpu/parallel.h"

/* Measured at one thread: the LRCN's conv2 (16 channels, where F(2x2,
 * 3x3) lost to conv2d_taps_rows) became 1.3-1.5x as fast as
 * conv2d_taps_rows, its conv3 (32) 1.7x as fast as with F(2x2, 3x3), and
 * the CNN's forward too. Fewer channels are not tried: the transforms
 * would weigh more than the products. */
#define WINO_MIN_C 16
#define WINO_MAX_C 64
#define WINO_MAX_F 64
#define WINO_MAX_TILES 32        /* tiles per chunk: V and M stay in L2 */
#define WINO_T 6                 /* patch side */
#define WINO_M 4                 /* tile side */
#define WINO_P (WINO_T * WINO_T) /* positions */

/* Inputs in the padding, and the bias of layers without one. */
static const float
    wino_zeros[WINO_MAX_C > WINO_MAX_F ? WINO_MAX_C : WINO_MAX_F];

bool conv2d_winograd_fits(const conv2d_geom *g) {
  return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 &&
         g->c >= WINO_MIN_C && g->c <= WINO_MAX_C && g->filters >= 8 &&
         g->filters <= WINO_MAX_F && (g->filters & (g->filters - 1)) == 0 &&
         g->oh > 0 && g->ow > 0;
}

typedef struct wino_layout {
  int64_t tiles_y, tiles_x; /* per image */
  int64_t chunk;            /* tiles per chunk, at most WINO_MAX_TILES */
  int64_t chunks_x;         /* chunks per row of tiles */
  int64_t items;            /* chunks in all */
  int64_t u_floats;         /* the transformed kernel, 36 x C x F */
  int64_t slot_floats;      /* per thread: V (36 x chunk x C), M */
} wino_layout;

static void wino_layout_make(const conv2d_geom *g, wino_layout *l) {
  l->tiles_y = (g->oh + WINO_M - 1) / WINO_M;
  l->tiles_x = (g->ow + WINO_M - 1) / WINO_M;
  l->chunks_x = (l->tiles_x + WINO_MAX_TILES - 1) / WINO_MAX_TILES;
  l->chunk = (l->tiles_x + l->chunks_x - 1) / l->chunks_x;
  l->items = g->n * l->tiles_y * l->chunks_x;
  l->u_floats = conv2d_lines(WINO_P * g->c * g->filters);
  l->slot_floats = conv2d_lines(WINO_P * l->chunk * g->c) +
                   conv2d_lines(WINO_P * l->chunk * g->filters);
}

int64_t conv2d_winograd_workspace(const conv2d_geom *g, int parts) {
  wino_layout l;
  wino_layout_make(g, &l);
  return l.u_floats + parts * l.slot_floats;
}

/* o = G k along lines of n values, with G = [1/4 0 0; -1/6 -1/6 -1/6;
 * -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]. Multiplications
 * by the reciprocals: a division would be the slowest step. */
static inline void wino_g(const float *restrict k0, const float *restrict k1,
                          const float *restrict k2, float *restrict o0,
                          float *restrict o1, float *restrict o2,
                          float *restrict o3, float *restrict o4,
                          float *restrict o5, int64_t n) {
  const float sixth = 1.0f / 6.0f, twelfth = 1.0f / 12.0f;
  const float twenty_fourth = 1.0f / 24.0f;
  for (int64_t i = 0; i < n; i++) {
    float a = k0[i], b = k1[i], c = k2[i];
    o0[i] = 0.25f * a;
    o1[i] = -sixth * (a + b + c);
    o2[i] = -sixth * (a - b + c);
    o3[i] = twenty_fourth * a + twelfth * b + sixth * c;
    o4[i] = twenty_fourth * a - twelfth * b + sixth * c;
    o5[i] = c;
  }
}

/* U[xi][c][f] = (G g G^T)[xi] for every input channel and filter, in
 * blocks of (channel, filter) pairs that lie side by side in the kernel,
 * so every step is a vector loop. */
#define WINO_KBLOCK 32
GESTA_CPU_AVX512_CLONES
static void wino_kernel_transform(const conv2d_geom *g, const float *kernel,
                                  float *u) {
  int64_t cf = g->c * g->filters;
  for (int64_t i0 = 0; i0 < cf; i0 += WINO_KBLOCK) {
    int64_t n = cf - i0 < WINO_KBLOCK ? cf - i0 : WINO_KBLOCK;
    float t[3][WINO_T][WINO_KBLOCK]; /* [column s][row r]: G g */
    const float *k = kernel + i0;
    for (int s = 0; s < 3; s++)
      wino_g(k + s * cf, k + (3 + s) * cf, k + (6 + s) * cf, t[s][0], t[s][1],
             t[s][2], t[s][3], t[s][4], t[s][5], n);
    for (int r = 0; r < WINO_T; r++) {
      float *o = u + r * WINO_T * cf + i0;
      wino_g(t[0][r], t[1][r], t[2][r], o, o + cf, o + 2 * cf, o + 3 * cf,
             o + 4 * cf, o + 5 * cf, n);
    }
  }
}

/* o = B^T d along one line of six vectors of n values, with B^T =
 * [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 * 0 2 -1 -2 1 0; 0 4 0 -5 0 1]. Each line is a loop over the channels,
 * which lie side by side; every vector its own restrict pointer, so the
 * compiler vectorises it without checking for overlaps. */
static inline void wino_bt(const float *restrict d0, const float *restrict d1,
                           const float *restrict d2, const float *restrict d3,
                           const float *restrict d4, const float *restrict d5,
                           float *restrict o0, float *restrict o1,
                           float *restrict o2, float *restrict o3,
                           float *restrict o4, float *restrict o5, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    o0[i] = 4.0f * d0[i] - 5.0f * d2[i] + d4[i];
    o1[i] = d3[i] + d4[i] - 4.0f * (d1[i] + d2[i]);
    o2[i] = d4[i] - d3[i] + 4.0f * (d1[i] - d2[i]);
    o3[i] = d4[i] - d2[i] + 2.0f * (d3[i] - d1[i]);
    o4[i] = d4[i] - d2[i] + 2.0f * (d1[i] - d3[i]);
    o5[i] = 4.0f * d1[i] - 5.0f * d3[i] + d5[i];
  }
}

/* V[xi][t][c] = (B^T d B)[xi] of tile t's 6x6 input patch. */
GESTA_CPU_AVX512_CLONES
static void wino_input_transform(const conv2d_geom *g, const float *x,
                                 int64_t img, int64_t ty, int64_t tx0,
                                 int64_t tiles, float *restrict v) {
  int64_t c = g->c, stride = tiles * c;
  float b[WINO_T][WINO_T][WINO_MAX_C]; /* [column s][row r] */
  for (int64_t t = 0; t < tiles; t++) {
    const float *d[WINO_T][WINO_T];
    int64_t y0 = WINO_M * ty - g->pad_top;
    int64_t x0 = WINO_M * (tx0 + t) - g->pad_left;
    for (int s = 0; s < WINO_T; s++)
      for (int r = 0; r < WINO_T; r++) {
        int64_t iy = y0 + r, ix = x0 + s;
        d[s][r] = iy < 0 || iy >= g->h || ix < 0 || ix >= g->w
                      ? wino_zeros
                      : x + ((img * g->h + iy) * g->w + ix) * c;
      }
    for (int s = 0; s < WINO_T; s++)
      wino_bt(d[s][0], d[s][1], d[s][2], d[s][3], d[s][4], d[s][5], b[s][0],
              b[s][1], b[s][2], b[s][3], b[s][4], b[s][5], c);
    for (int r = 0; r < WINO_T; r++) {
      float *o = v + r * WINO_T * stride + t * c;
      wino_bt(b[0][r], b[1][r], b[2][r], b[3][r], b[4][r], b[5][r], o,
              o + stride, o + 2 * stride, o + 3 * stride, o + 4 * stride,
              o + 5 * stride, c);
    }
  }
}

/* o = A^T m along one line of six vectors of n values, with A^T =
 * [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]. */
static inline void wino_at(const float *restrict m0, const float *restrict m1,
                           const float *restrict m2, const float *restrict m3,
                           const float *restrict m4, const float *restrict m5,
                           float *restrict o0, float *restrict o1,
                           float *restrict o2, float *restrict o3, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float p12 = m1[i] + m2[i], n12 = m1[i] - m2[i];
    float p34 = m3[i] + m4[i], n34 = m3[i] - m4[i];
    o0[i] = m0[i] + p12 + p34;
    o1[i] = n12 + 2.0f * n34;
    o2[i] = p12 + 4.0f * p34;
    o3[i] = n12 + 8.0f * n34 + m5[i];
  }
}

/* Y = A^T M A per tile, then bias and ReLU, into the output pixels that
 * exist (an edge that is not a multiple of 4 drops part of a tile); loops
 * over the filters, side by side, as above. */
GESTA_CPU_AVX512_CLONES
static void wino_output_transform(const conv2d_geom *g, const float *m,
                                  const float *bias, bool relu, int64_t img,
                                  int64_t ty, int64_t tx0, int64_t tiles,
                                  float *y) {
  int64_t f = g->filters, stride = tiles * f;
  float a[WINO_M][WINO_T][WINO_MAX_F]; /* [column s'][row r]: M A */
  float out[WINO_M][WINO_M][WINO_MAX_F];
  if (!bias)
    bias = wino_zeros;
  for (int64_t t = 0; t < tiles; t++) {
    for (int r = 0; r < WINO_T; r++) {
      const float *row = m + r * WINO_T * stride + t * f;
      wino_at(row, row + stride, row + 2 * stride, row + 3 * stride,
              row + 4 * stride, row + 5 * stride, a[0][r], a[1][r], a[2][r],
              a[3][r], f);
    }
    for (int s = 0; s < WINO_M; s++)
      wino_at(a[s][0], a[s][1], a[s][2], a[s][3], a[s][4], a[s][5], out[0][s],
              out[1][s], out[2][s], out[3][s], f);
    int64_t oy = WINO_M * ty, ox = WINO_M * (tx0 + t);
    for (int r = 0; r < WINO_M && oy + r < g->oh; r++)
      for (int s = 0; s < WINO_M && ox + s < g->ow; s++) {
        float *dst = y + ((img * g->oh + oy + r) * g->ow + ox + s) * f;
        for (int64_t j = 0; j < f; j++) {
          float value = out[r][s][j] + bias[j];
          dst[j] = relu && value < 0.0f ? 0.0f : value;
        }
      }
  }
}

typedef struct wino_args {
  const conv2d_geom *g;
  const wino_layout *l;
  const float *x, *u, *bias;
  bool relu;
  float *y, *slots;
  int parts;
} wino_args;

static void wino_part(void *ctx, int p) {
  const wino_args *a = ctx;
  const conv2d_geom *g = a->g;
  const wino_layout *l = a->l;
  float *v = a->slots + p * l->slot_floats;
  float *m = v + conv2d_lines(WINO_P * l->chunk * g->c);
  int64_t end = gesta_cpu_split(l->items, a->parts, p + 1);
  for (int64_t item = gesta_cpu_split(l->items, a->parts, p); item < end;
       item++) {
    int64_t row = item / l->chunks_x, img = row / l->tiles_y;
    int64_t ty = row % l->tiles_y, tx0 = item % l->chunks_x * l->chunk;
    int64_t tiles = l->tiles_x - tx0 < l->chunk ? l->tiles_x - tx0 : l->chunk;
    /* Position xi's products: the tiles as a row of pixels with C
     * channels through a 1x1 convolution with U[xi]. */
    conv2d_geom dot = {.n = 1,
                       .h = 1,
                       .w = tiles,
                       .c = g->c,
                       .oh = 1,
                       .ow = tiles,
                       .filters = g->filters,
                       .kh = 1,
                       .kw = 1,
                       .sh = 1,
                       .sw = 1,
                       .k = g->c,
                       .rows = tiles};
    wino_input_transform(g, a->x, img, ty, tx0, tiles, v);
    for (int xi = 0; xi < WINO_P; xi++)
      conv2d_taps_rows(&dot, v + xi * tiles * g->c,
                       a->u + xi * g->c * g->filters, NULL, false, 0, tiles,
                       m + xi * tiles * g->filters);
    wino_output_transform(g, m, a->bias, a->relu, img, ty, tx0, tiles, a->y);
  }
}

void conv2d_winograd_forward(const conv2d_geom *g, const float *x,
                             const float *kernel, const float *bias, bool relu,
                             float *y, float *ws, int parts) {
  wino_layout l;
  wino_layout_make(g, &l);
  if (parts > l.items)
    parts = (int)(l.items > 0 ? l.items : 1);
  wino_kernel_transform(g, kernel, ws);
  wino_args a = {g, &l, x, ws, bias, relu, y, ws + l.u_floats, parts};
  gesta_cpu_run(parts, wino_part, &a);
}
