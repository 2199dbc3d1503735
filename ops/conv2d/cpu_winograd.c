/* conv2d inference on the CPU by Winograd's F(2x2, 3x3) (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2015).
 *
 * Each 2x2 block of output pixels ("tile") comes from a 4x4 patch of the
 * input. Patch and kernel are transformed (V = B^T d B, U = G g G^T), and
 * the 16 element-wise products summed over input channels give the tile's
 * transform M, from which Y = A^T M A. Per tile that is 16 x C x F
 * multiply-adds instead of 4 x 9 x C x F: 2.25x fewer, and they are the
 * work (the transforms are a few additions per value). For each of the 16
 * positions the sum over channels is a 1x1 convolution of the tiles,
 * which conv2d_taps_rows runs at the FMA units' rate.
 *
 * The results differ from the direct sum by rounding (the transforms add
 * and subtract before multiplying), so training keeps the direct kernels:
 * its bit-exact runs and gradient checks stay as they were. */
#include "cpu_winograd.h"

#include "cpu/parallel.h"

/* Below 32 input channels the transforms cost more than the products
 * save: the LRCN's conv2 (16 channels) ran 10 % slower than with
 * conv2d_taps_rows, its conv3 (32) as fast, the CNN's conv2 (64) 1.5x as
 * fast. */
#define WINO_MIN_C 32
#define WINO_MAX_C 64
#define WINO_MAX_F 64
#define WINO_MAX_TILES 64 /* tiles per chunk: V and M stay in L2 */

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
  int64_t u_floats;         /* the transformed kernel, 16 x C x F */
  int64_t slot_floats;      /* per thread: V (16 x chunk x C), M */
} wino_layout;

static void wino_layout_make(const conv2d_geom *g, wino_layout *l) {
  l->tiles_y = (g->oh + 1) / 2;
  l->tiles_x = (g->ow + 1) / 2;
  l->chunks_x = (l->tiles_x + WINO_MAX_TILES - 1) / WINO_MAX_TILES;
  l->chunk = (l->tiles_x + l->chunks_x - 1) / l->chunks_x;
  l->items = g->n * l->tiles_y * l->chunks_x;
  l->u_floats = conv2d_lines(16 * g->c * g->filters);
  l->slot_floats = conv2d_lines(16 * l->chunk * g->c) +
                   conv2d_lines(16 * l->chunk * g->filters);
}

int64_t conv2d_winograd_workspace(const conv2d_geom *g, int parts) {
  wino_layout l;
  wino_layout_make(g, &l);
  return l.u_floats + parts * l.slot_floats;
}

/* U[xi][c][f] = (G g G^T)[xi] for every input channel and filter, with
 * G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. */
static void wino_kernel_transform(const conv2d_geom *g, const float *kernel,
                                  float *u) {
  int64_t cf = g->c * g->filters;
  for (int64_t i = 0; i < cf; i++) {
    float k[3][3], t[4][3];
    for (int r = 0; r < 3; r++)
      for (int s = 0; s < 3; s++)
        k[r][s] = kernel[(r * 3 + s) * cf + i];
    for (int s = 0; s < 3; s++) {
      t[0][s] = k[0][s];
      t[1][s] = 0.5f * (k[0][s] + k[1][s] + k[2][s]);
      t[2][s] = 0.5f * (k[0][s] - k[1][s] + k[2][s]);
      t[3][s] = k[2][s];
    }
    for (int r = 0; r < 4; r++) {
      u[(r * 4 + 0) * cf + i] = t[r][0];
      u[(r * 4 + 1) * cf + i] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
      u[(r * 4 + 2) * cf + i] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
      u[(r * 4 + 3) * cf + i] = t[r][2];
    }
  }
}

/* V[xi][t][c] = (B^T d B)[xi] of tile t's 4x4 input patch, with
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Every step is a loop
 * over the channels, which lie side by side: the compiler vectorises it. */
static void wino_input_transform(const conv2d_geom *g, const float *x,
                                 int64_t img, int64_t ty, int64_t tx0,
                                 int64_t tiles, float *restrict v) {
  int64_t c = g->c, stride = tiles * c;
  float b[4][4][WINO_MAX_C];
  for (int64_t t = 0; t < tiles; t++) {
    const float *d[4][4];
    int64_t y0 = 2 * ty - g->pad_top, x0 = 2 * (tx0 + t) - g->pad_left;
    for (int r = 0; r < 4; r++)
      for (int s = 0; s < 4; s++) {
        int64_t iy = y0 + r, ix = x0 + s;
        d[r][s] = iy < 0 || iy >= g->h || ix < 0 || ix >= g->w
                      ? wino_zeros
                      : x + ((img * g->h + iy) * g->w + ix) * c;
      }
    for (int s = 0; s < 4; s++) {
      const float *d0 = d[0][s], *d1 = d[1][s], *d2 = d[2][s], *d3 = d[3][s];
      for (int64_t ci = 0; ci < c; ci++) {
        b[0][s][ci] = d0[ci] - d2[ci];
        b[1][s][ci] = d1[ci] + d2[ci];
        b[2][s][ci] = d2[ci] - d1[ci];
        b[3][s][ci] = d1[ci] - d3[ci];
      }
    }
    for (int r = 0; r < 4; r++) {
      float *out = v + r * 4 * stride + t * c;
      for (int64_t ci = 0; ci < c; ci++) {
        out[ci] = b[r][0][ci] - b[r][2][ci];
        out[stride + ci] = b[r][1][ci] + b[r][2][ci];
        out[2 * stride + ci] = b[r][2][ci] - b[r][1][ci];
        out[3 * stride + ci] = b[r][1][ci] - b[r][3][ci];
      }
    }
  }
}

/* Y = A^T M A per tile, A^T = [1 1 1 0; 0 1 -1 -1], then bias and ReLU,
 * into the output pixels that exist (an odd edge drops half a tile);
 * loops over the filters, side by side, as above. */
static void wino_output_transform(const conv2d_geom *g, const float *m,
                                  const float *bias, bool relu, int64_t img,
                                  int64_t ty, int64_t tx0, int64_t tiles,
                                  float *y) {
  int64_t f = g->filters, stride = tiles * f;
  float a[4][2][WINO_MAX_F], out[2][2][WINO_MAX_F];
  if (!bias)
    bias = wino_zeros;
  for (int64_t t = 0; t < tiles; t++) {
    for (int r = 0; r < 4; r++) {
      const float *row = m + r * 4 * stride + t * f;
      for (int64_t j = 0; j < f; j++) {
        a[r][0][j] = row[j] + row[stride + j] + row[2 * stride + j];
        a[r][1][j] =
            row[stride + j] - row[2 * stride + j] - row[3 * stride + j];
      }
    }
    for (int s = 0; s < 2; s++)
      for (int64_t j = 0; j < f; j++) {
        out[0][s][j] = a[0][s][j] + a[1][s][j] + a[2][s][j] + bias[j];
        out[1][s][j] = a[1][s][j] - a[2][s][j] - a[3][s][j] + bias[j];
      }
    if (relu)
      for (int r = 0; r < 2; r++)
        for (int s = 0; s < 2; s++)
          for (int64_t j = 0; j < f; j++) {
            float value = out[r][s][j];
            out[r][s][j] = value > 0.0f ? value : 0.0f;
          }
    int64_t oy = 2 * ty, ox = 2 * (tx0 + t);
    for (int r = 0; r < 2 && oy + r < g->oh; r++)
      for (int s = 0; s < 2 && ox + s < g->ow; s++)
        for (int64_t j = 0; j < f; j++) /* inline, unlike a memcpy call */
          y[((img * g->oh + oy + r) * g->ow + ox + s) * f + j] = out[r][s][j];
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
  float *m = v + conv2d_lines(16 * l->chunk * g->c);
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
    for (int xi = 0; xi < 16; xi++)
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
