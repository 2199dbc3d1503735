/* The op table: every op, on every backend, against a reference written here
 * from the op's mathematical definition (direct loops, double accumulation),
 * never against gesta's own kernels or activation helpers. Each case is a
 * one-layer model read from YAML, so the loader, shape inference, the
 * parameter list (Keras names, shapes and order) and the executor are
 * exercised with the op. Shape-inference cases, good and bad, follow.
 *
 * Every case runs on the CPU reference backend and on every OpenCL device
 * the ICD loader lists (Oclgrind, a simulator that checks each memory
 * access, only with small cases), each compared with the naive reference;
 * plans are strict, so an op a device lacks fails instead of falling back.
 *
 * Usage: test_ops [--op NAME] [--backend cpu|opencl] [--device SPEC]
 * (SPEC: P:D or text in a platform, device or vendor name). A filter that
 * matches nothing fails, and a full run fails when an op in the registry
 * has no case. Skipped cases are counted on their own line; the last line
 * is "N passed, M failed"; the exit status is non-zero on any failure. */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesta/backend.h"
#include "gesta/context.h"
#include "gesta/error.h"
#include "gesta/executor.h"
#include "gesta/model.h"
#include "gesta/op.h"
#if GESTA_HAVE_OPENCL
#include "gesta/opencl.h"
#endif
#include "gesta/tensor.h"

enum { ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_SOFTMAX };

/* What the reference needs to know about a case, written out by hand next
 * to the YAML attributes it mirrors. */
typedef struct ot_args {
  int units;  /* conv2d filters, dense and lstm units */
  int kh, kw; /* conv2d kernel, max_pool2d pool size */
  int sh, sw; /* strides, written out even where the op derives them */
  bool same;  /* padding: same */
  int act;    /* fused activation */
  bool no_bias;
  bool seq; /* lstm return_sequences */
  double eps;
} ot_args;

typedef struct ot_case ot_case;

typedef struct ot_io {
  const ot_case *c;
  const gesta_model *model;
  int64_t batch;  /* N, or N*T for a time-distributed layer */
  gesta_shape in; /* per-frame input shape */
  const float *x;
  double *y;     /* NULL: only the output shape is wanted */
  int act;       /* the activation op's function */
  int n_used;    /* parameters the reference read, in order */
  char bad[256]; /* why the layer's parameters do not fit the reference */
} ot_io;

/* Sets *out to the per-frame output shape and, when io->y is set, fills it
 * for io->batch frames. */
typedef void (*ot_ref_fn)(ot_io *io, gesta_shape *out);

struct ot_case {
  const char *op;
  int64_t n;         /* batch */
  gesta_shape x;     /* per-sample input shape */
  const char *attrs; /* the layer's YAML attributes besides name and op */
  ot_args a;
  double shift, scale; /* input = shift + scale * U(-1, 1); scale 0 = 1 */
};

typedef struct ot_shape_case {
  const char *op;
  gesta_shape x;
  const char *attrs;
  gesta_shape want; /* per-sample output; rank 0: the loader must reject the
                       layer with a bad-input error naming it */
} ot_shape_case;

typedef struct ot_tally {
  int passed, failed, skipped;
} ot_tally;

/* ---- small helpers (independent of the library) ------------------------ */

static uint64_t ot_next(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double ot_uniform(uint64_t *state, double lo, double hi) {
  return lo + (hi - lo) * (double)(ot_next(state) >> 11) * 0x1.0p-53;
}

static int64_t ot_count(const gesta_shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++)
    n *= s->dims[i];
  return n;
}

static bool ot_shape_same(const gesta_shape *a, const gesta_shape *b) {
  if (a->rank != b->rank)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i])
      return false;
  return true;
}

/* "[7,5,3]", or with sep ", " the YAML list "[7, 5, 3]". */
typedef struct ot_text {
  char s[96];
} ot_text;

static ot_text ot_dims(const gesta_shape *shape, const char *sep) {
  ot_text t = {"["};
  size_t k = 1;
  for (int i = 0; i < shape->rank && k < sizeof t.s; i++)
    k += (size_t)snprintf(t.s + k, sizeof t.s - k, "%s%lld", i ? sep : "",
                          (long long)shape->dims[i]);
  if (k < sizeof t.s)
    snprintf(t.s + k, sizeof t.s - k, "]");
  return t;
}

/* Prepends a leading dimension. */
static gesta_shape ot_prepend(int64_t d, const gesta_shape *s) {
  gesta_shape r = {s->rank + 1, {d}};
  for (int i = 0; i < s->rank; i++)
    r.dims[i + 1] = s->dims[i];
  return r;
}

static bool ot_is_td(const char *attrs) {
  return attrs && strstr(attrs, "time_distributed: true") != NULL;
}

static double ot_sigmoid(double v) {
  return 1.0 / (1.0 + exp(-v));
}

/* An activation straight from its definition, over one row (softmax spans
 * the row; the others are elementwise). */
static void ot_activate(double *row, int64_t n, int act) {
  if (act == ACT_SOFTMAX) {
    double m = row[0], sum = 0.0;
    for (int64_t i = 1; i < n; i++)
      m = row[i] > m ? row[i] : m;
    for (int64_t i = 0; i < n; i++)
      sum += exp(row[i] - m);
    for (int64_t i = 0; i < n; i++)
      row[i] = exp(row[i] - m) / sum;
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    if (act == ACT_RELU)
      row[i] = row[i] > 0.0 ? row[i] : 0.0;
    else if (act == ACT_SIGMOID)
      row[i] = ot_sigmoid(row[i]);
    else if (act == ACT_TANH)
      row[i] = tanh(row[i]);
  }
}

/* The layer's parameter `name`, which must be the next one in the op's
 * declared order and have the Keras shape dims. */
static const float *ot_param(ot_io *io, const char *name, int rank,
                             const int64_t *dims) {
  const gesta_node *node = &io->model->nodes[0];
  gesta_shape want = {rank, {0}};
  for (int i = 0; i < rank; i++)
    want.dims[i] = dims[i];
  for (int i = 0; i < node->n_params; i++) {
    const gesta_param *p = &io->model->params[node->first_param + i];
    if (strcmp(p->spec.name, name) != 0)
      continue;
    if (!io->bad[0] && i != io->n_used)
      snprintf(io->bad, sizeof io->bad,
               "parameter '%s' is number %d, expected number %d", name, i,
               io->n_used);
    if (!io->bad[0] && !ot_shape_same(&want, &p->spec.shape)) {
      snprintf(io->bad, sizeof io->bad,
               "parameter '%s' has shape %s, expected %s", name,
               ot_dims(&p->spec.shape, ",").s, ot_dims(&want, ",").s);
    }
    io->n_used++;
    return io->bad[0] ? NULL : p->data;
  }
  if (!io->bad[0])
    snprintf(io->bad, sizeof io->bad, "parameter '%s' is missing", name);
  return NULL;
}

/* ---- naive references -------------------------------------------------- */

static int64_t ot_out_len(int64_t in, int k, int s, bool same) {
  return same ? (in + s - 1) / s : (in - k) / s + 1;
}

/* TF 'same': the odd padding cell goes after. */
static int64_t ot_pad_before(int64_t in, int64_t out, int k, int s, bool same) {
  int64_t total = (out - 1) * s + k - in;
  return same && total > 0 ? total / 2 : 0;
}

static void ot_ref_conv2d(ot_io *io, gesta_shape *out) {
  const ot_args *a = &io->c->a;
  int64_t H = io->in.dims[0], W = io->in.dims[1], C = io->in.dims[2];
  int64_t F = a->units;
  int64_t OH = ot_out_len(H, a->kh, a->sh, a->same);
  int64_t OW = ot_out_len(W, a->kw, a->sw, a->same);
  *out = (gesta_shape){3, {OH, OW, F}};
  if (!io->y)
    return;
  const float *k = ot_param(io, "kernel", 4, (int64_t[]){a->kh, a->kw, C, F});
  const float *bias = a->no_bias ? NULL : ot_param(io, "bias", 1, &F);
  if (!k || (!a->no_bias && !bias))
    return;
  int64_t pt = ot_pad_before(H, OH, a->kh, a->sh, a->same);
  int64_t pl = ot_pad_before(W, OW, a->kw, a->sw, a->same);
  for (int64_t b = 0; b < io->batch; b++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        double *row = io->y + ((b * OH + oy) * OW + ox) * F;
        for (int64_t f = 0; f < F; f++) {
          double acc = bias ? bias[f] : 0.0;
          for (int64_t ky = 0; ky < a->kh; ky++)
            for (int64_t kx = 0; kx < a->kw; kx++) {
              int64_t iy = oy * a->sh + ky - pt, ix = ox * a->sw + kx - pl;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                continue;
              for (int64_t c = 0; c < C; c++)
                acc += (double)io->x[((b * H + iy) * W + ix) * C + c] *
                       k[((ky * a->kw + kx) * C + c) * F + f];
            }
          row[f] = acc;
        }
        ot_activate(row, F, a->act);
      }
}

/* Padding cells never win: TF's max pool ignores them. */
static void ot_ref_max_pool2d(ot_io *io, gesta_shape *out) {
  const ot_args *a = &io->c->a;
  int64_t H = io->in.dims[0], W = io->in.dims[1], C = io->in.dims[2];
  int64_t OH = ot_out_len(H, a->kh, a->sh, a->same);
  int64_t OW = ot_out_len(W, a->kw, a->sw, a->same);
  *out = (gesta_shape){3, {OH, OW, C}};
  if (!io->y)
    return;
  int64_t pt = ot_pad_before(H, OH, a->kh, a->sh, a->same);
  int64_t pl = ot_pad_before(W, OW, a->kw, a->sw, a->same);
  for (int64_t b = 0; b < io->batch; b++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++)
        for (int64_t c = 0; c < C; c++) {
          double m = -INFINITY;
          for (int64_t ky = 0; ky < a->kh; ky++)
            for (int64_t kx = 0; kx < a->kw; kx++) {
              int64_t iy = oy * a->sh + ky - pt, ix = ox * a->sw + kx - pl;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                continue;
              double v = io->x[((b * H + iy) * W + ix) * C + c];
              m = v > m ? v : m;
            }
          io->y[((b * OH + oy) * OW + ox) * C + c] = m;
        }
}

static void ot_ref_global_avg_pool2d(ot_io *io, gesta_shape *out) {
  int64_t H = io->in.dims[0], W = io->in.dims[1], C = io->in.dims[2];
  *out = (gesta_shape){1, {C}};
  if (!io->y)
    return;
  for (int64_t b = 0; b < io->batch; b++)
    for (int64_t c = 0; c < C; c++) {
      double sum = 0.0;
      for (int64_t i = 0; i < H * W; i++)
        sum += io->x[(b * H * W + i) * C + c];
      io->y[b * C + c] = sum / (double)(H * W);
    }
}

static void ot_ref_batch_norm(ot_io *io, gesta_shape *out) {
  int64_t C = io->in.dims[io->in.rank - 1];
  int64_t rows = io->batch * ot_count(&io->in) / C;
  *out = io->in;
  if (!io->y)
    return;
  const float *gamma = ot_param(io, "gamma", 1, &C);
  const float *beta = ot_param(io, "beta", 1, &C);
  const float *mean = ot_param(io, "moving_mean", 1, &C);
  const float *var = ot_param(io, "moving_variance", 1, &C);
  if (!gamma || !beta || !mean || !var)
    return;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < C; c++)
      io->y[r * C + c] = (double)gamma[c] *
                             ((double)io->x[r * C + c] - mean[c]) /
                             sqrt((double)var[c] + io->c->a.eps) +
                         beta[c];
}

/* Keras Dense: the last axis times the kernel, other axes kept. */
static void ot_ref_dense(ot_io *io, gesta_shape *out) {
  const ot_args *a = &io->c->a;
  int64_t F = io->in.dims[io->in.rank - 1], U = a->units;
  int64_t rows = io->batch * ot_count(&io->in) / F;
  *out = io->in;
  out->dims[out->rank - 1] = U;
  if (!io->y)
    return;
  const float *k = ot_param(io, "kernel", 2, (int64_t[]){F, U});
  const float *bias = a->no_bias ? NULL : ot_param(io, "bias", 1, &U);
  if (!k || (!a->no_bias && !bias))
    return;
  for (int64_t r = 0; r < rows; r++) {
    double *row = io->y + r * U;
    for (int64_t u = 0; u < U; u++) {
      double acc = bias ? bias[u] : 0.0;
      for (int64_t f = 0; f < F; f++)
        acc += (double)io->x[r * F + f] * k[f * U + u];
      row[u] = acc;
    }
    ot_activate(row, U, a->act);
  }
}

static void ot_ref_identity(ot_io *io, gesta_shape *out) {
  *out = io->in;
  if (io->y)
    for (int64_t i = 0; i < io->batch * ot_count(&io->in); i++)
      io->y[i] = io->x[i];
}

static void ot_ref_flatten(ot_io *io, gesta_shape *out) {
  ot_ref_identity(io, out);
  *out = (gesta_shape){1, {ot_count(&io->in)}};
}

/* The activation ops: a->act over rows of the last axis. */
static void ot_ref_activation(ot_io *io, gesta_shape *out) {
  int64_t C = io->in.dims[io->in.rank - 1];
  ot_ref_identity(io, out);
  if (io->y)
    for (int64_t r = 0; r < io->batch * ot_count(&io->in) / C; r++)
      ot_activate(io->y + r * C, C, io->act);
}

/* Keras LSTM: z = x_t K + h R + b, gates i, f, c, o in column quarters. */
static void ot_ref_lstm(ot_io *io, gesta_shape *out) {
  const ot_args *a = &io->c->a;
  int64_t T = io->in.dims[0], F = io->in.dims[1], u = a->units;
  *out = a->seq ? (gesta_shape){2, {T, u}} : (gesta_shape){1, {u}};
  if (!io->y)
    return;
  const float *k = ot_param(io, "kernel", 2, (int64_t[]){F, 4 * u});
  const float *r = ot_param(io, "recurrent_kernel", 2, (int64_t[]){u, 4 * u});
  const float *bias =
      a->no_bias ? NULL : ot_param(io, "bias", 1, (int64_t[]){4 * u});
  if (!k || !r || (!a->no_bias && !bias))
    return;
  double *h = calloc((size_t)(6 * u), sizeof *h), *c = h + u, *z = c + u;
  if (!h) {
    snprintf(io->bad, sizeof io->bad, "out of memory in the reference");
    return;
  }
  for (int64_t b = 0; b < io->batch; b++) {
    memset(h, 0, (size_t)u * sizeof *h);
    memset(c, 0, (size_t)u * sizeof *c);
    for (int64_t t = 0; t < T; t++) {
      const float *xt = io->x + (b * T + t) * F;
      for (int64_t j = 0; j < 4 * u; j++) {
        double acc = bias ? bias[j] : 0.0;
        for (int64_t f = 0; f < F; f++)
          acc += (double)xt[f] * k[f * 4 * u + j];
        for (int64_t q = 0; q < u; q++)
          acc += h[q] * r[q * 4 * u + j];
        z[j] = acc;
      }
      for (int64_t q = 0; q < u; q++) {
        double ig = ot_sigmoid(z[q]), fg = ot_sigmoid(z[u + q]);
        double g = tanh(z[2 * u + q]), og = ot_sigmoid(z[3 * u + q]);
        c[q] = fg * c[q] + ig * g;
        h[q] = og * tanh(c[q]);
      }
      if (a->seq)
        memcpy(io->y + (b * T + t) * u, h, (size_t)u * sizeof *h);
    }
    if (!a->seq)
      memcpy(io->y + b * u, h, (size_t)u * sizeof *h);
  }
  free(h);
}

/* Each op's reference; the activation ops share one. */
static const struct {
  const char *op;
  ot_ref_fn ref;
  int act;
} ot_refs[] = {
    {"conv2d", ot_ref_conv2d, 0},
    {"max_pool2d", ot_ref_max_pool2d, 0},
    {"global_avg_pool2d", ot_ref_global_avg_pool2d, 0},
    {"batch_norm", ot_ref_batch_norm, 0},
    {"dense", ot_ref_dense, 0},
    {"dropout", ot_ref_identity, 0},
    {"flatten", ot_ref_flatten, 0},
    {"lstm", ot_ref_lstm, 0},
    {"linear", ot_ref_activation, ACT_LINEAR},
    {"relu", ot_ref_activation, ACT_RELU},
    {"sigmoid", ot_ref_activation, ACT_SIGMOID},
    {"tanh", ot_ref_activation, ACT_TANH},
    {"softmax", ot_ref_activation, ACT_SOFTMAX},
};

/* ---- the tables -------------------------------------------------------- */

/* clang-format off */
#define X1(a) {1, {a}}
#define X2(a, b) {2, {a, b}}
#define X3(a, b, c) {3, {a, b, c}}
#define X4(a, b, c, d) {4, {a, b, c, d}}
#define BAD {0, {0}}
#define CONV(f, kh_, kw_, sh_, sw_, same_, act_, nb) \
  {.units = f, .kh = kh_, .kw = kw_, .sh = sh_, .sw = sw_, .same = same_, \
   .act = act_, .no_bias = nb}
#define POOL(kh_, kw_, sh_, sw_, same_) \
  {.kh = kh_, .kw = kw_, .sh = sh_, .sw = sw_, .same = same_}
#define DENSE(u, act_, nb) {.units = u, .act = act_, .no_bias = nb}
#define LSTM(u, seq_, nb) {.units = u, .seq = seq_, .no_bias = nb}
/* clang-format on */

static const ot_case ot_cases[] = {
    /* conv2d */
    {"conv2d", 2, X3(7, 5, 3),
     "filters: 4, kernel: 3, strides: 2, padding: same, activation: relu",
     CONV(4, 3, 3, 2, 2, true, ACT_RELU, false), 0, 0},
    {"conv2d", 1, X3(7, 5, 3), "filters: 4, kernel: 3",
     CONV(4, 3, 3, 1, 1, false, ACT_LINEAR, false), 0, 0},
    {"conv2d", 3, X3(6, 7, 2),
     "filters: 5, kernel: [3, 2], strides: [2, 1], padding: valid, "
     "activation: sigmoid",
     CONV(5, 3, 2, 2, 1, false, ACT_SIGMOID, false), 0, 0},
    {"conv2d", 2, X3(5, 6, 3),
     "filters: 3, kernel: [2, 3], strides: [1, 2], padding: same, "
     "activation: tanh",
     CONV(3, 2, 3, 1, 2, true, ACT_TANH, false), 0, 0},
    {"conv2d", 2, X3(5, 5, 4), "filters: 6, kernel: 1, activation: softmax",
     CONV(6, 1, 1, 1, 1, false, ACT_SOFTMAX, false), 0, 0},
    {"conv2d", 2, X3(6, 6, 3),
     "filters: 4, kernel: 4, strides: 3, padding: same, use_bias: false",
     CONV(4, 4, 4, 3, 3, true, ACT_LINEAR, true), 0, 0},
    {"conv2d", 1, X3(1, 5, 2),
     "filters: 3, kernel: [1, 3], padding: same, activation: relu",
     CONV(3, 1, 3, 1, 1, true, ACT_RELU, false), 0, 0},
    {"conv2d", 2, X3(1, 1, 3), "filters: 2, kernel: 3, padding: same",
     CONV(2, 3, 3, 1, 1, true, ACT_LINEAR, false), 0, 0},
    {"conv2d", 2, X3(7, 7, 2), "filters: 3, kernel: 2, strides: 3",
     CONV(3, 2, 2, 3, 3, false, ACT_LINEAR, false), 0, 0},
    {"conv2d", 2, X3(9, 9, 8),
     "filters: 16, kernel: 3, padding: same, activation: relu",
     CONV(16, 3, 3, 1, 1, true, ACT_RELU, false), 0, 0},
    {"conv2d", 2, X4(3, 6, 5, 2),
     "filters: 4, kernel: 3, strides: 2, padding: same, activation: relu, "
     "time_distributed: true",
     CONV(4, 3, 3, 2, 2, true, ACT_RELU, false), 0, 0},
    {"conv2d", 1, X4(4, 5, 5, 3),
     "filters: 2, kernel: 2, use_bias: false, time_distributed: true",
     CONV(2, 2, 2, 1, 1, false, ACT_LINEAR, true), 0, 0},
    {"conv2d", 3, X3(1, 1, 5), "filters: 3, kernel: 1",
     CONV(3, 1, 1, 1, 1, false, ACT_LINEAR, false), 0, 0},
    /* The CPU's kernel without im2col: each vector count, blocks with and
     * without a remainder, padding, strides */
    {"conv2d", 2, X3(9, 7, 3),
     "filters: 16, kernel: 3, padding: same, activation: relu",
     CONV(16, 3, 3, 1, 1, true, ACT_RELU, false), 0, 0},
    {"conv2d", 1, X3(8, 9, 3),
     "filters: 8, kernel: [3, 2], strides: 2, use_bias: false",
     CONV(8, 3, 2, 2, 2, false, ACT_LINEAR, true), 0, 0},
    {"conv2d", 2, X3(7, 6, 1), "filters: 64, kernel: 3, activation: tanh",
     CONV(64, 3, 3, 1, 1, false, ACT_TANH, false), 0, 0},
    {"conv2d", 1, X3(5, 5, 4),
     "filters: 32, kernel: 2, padding: same, activation: softmax",
     CONV(32, 2, 2, 1, 1, true, ACT_SOFTMAX, false), 0, 0},
    {"conv2d", 2, X3(7, 8, 64),
     "filters: 64, kernel: 3, padding: same, activation: relu",
     CONV(64, 3, 3, 1, 1, true, ACT_RELU, false), 0, 0},
    {"conv2d", 1, X3(9, 8, 16),
     "filters: 8, kernel: [2, 3], strides: [2, 1], padding: same",
     CONV(8, 2, 3, 2, 1, true, ACT_LINEAR, false), 0, 0},
    /* Winograd on the CPU (16 channels and more): a row of tiles cut into
     * two chunks, edges that cut tiles with valid and same padding */
    {"conv2d", 1, X3(3, 131, 32),
     "filters: 8, kernel: 3, padding: same, activation: relu",
     CONV(8, 3, 3, 1, 1, true, ACT_RELU, false), 0, 0},
    {"conv2d", 2, X3(6, 7, 32), "filters: 16, kernel: 3, use_bias: false",
     CONV(16, 3, 3, 1, 1, false, ACT_LINEAR, true), 0, 0},
    {"conv2d", 1, X3(9, 10, 16), "filters: 8, kernel: 3, padding: same",
     CONV(8, 3, 3, 1, 1, true, ACT_LINEAR, false), 0, 0},
    /* LRCN-sized GEMMs: CLBlast's tiled kernel instead of its direct one */
    {"conv2d", 1, X4(2, 16, 16, 16),
     "filters: 32, kernel: 3, padding: same, activation: relu, "
     "time_distributed: true",
     CONV(32, 3, 3, 1, 1, true, ACT_RELU, false), 0, 0},
    /* max_pool2d */
    {"max_pool2d", 2, X3(6, 4, 3), "", POOL(2, 2, 2, 2, false), 0, 0},
    {"max_pool2d", 2, X3(7, 5, 3), "pool_size: 2", POOL(2, 2, 2, 2, false), 0,
     0},
    {"max_pool2d", 2, X3(7, 5, 3), "pool_size: 2, padding: same",
     POOL(2, 2, 2, 2, true), 0, 0},
    {"max_pool2d", 2, X3(7, 5, 3), "pool_size: 2, padding: same",
     POOL(2, 2, 2, 2, true), -5, 1},
    {"max_pool2d", 1, X3(7, 7, 2), "pool_size: 3, strides: 2",
     POOL(3, 3, 2, 2, false), 0, 0},
    {"max_pool2d", 3, X3(7, 5, 2), "pool_size: 3, strides: 2, padding: same",
     POOL(3, 3, 2, 2, true), -5, 1},
    {"max_pool2d", 2, X3(5, 6, 2), "pool_size: [3, 2], strides: [1, 2]",
     POOL(3, 2, 1, 2, false), 0, 0},
    {"max_pool2d", 2, X3(1, 1, 4), "pool_size: 2, padding: same",
     POOL(2, 2, 2, 2, true), -5, 1},
    {"max_pool2d", 2, X4(3, 5, 4, 2), "pool_size: 2, time_distributed: true",
     POOL(2, 2, 2, 2, false), 0, 0},
    {"max_pool2d", 2, X3(3, 3, 2), "pool_size: 1", POOL(1, 1, 1, 1, false), 0,
     0},
    {"max_pool2d", 1, X4(2, 16, 16, 32), "pool_size: 4, time_distributed: true",
     POOL(4, 4, 4, 4, false), 0, 0},
    /* global_avg_pool2d */
    {"global_avg_pool2d", 2, X3(5, 3, 4), "", {0}, 0, 0},
    {"global_avg_pool2d", 1, X3(1, 1, 3), "", {0}, 0, 0},
    {"global_avg_pool2d", 3, X3(7, 7, 16), "", {0}, 3, 1},
    {"global_avg_pool2d",
     2,
     X4(3, 4, 5, 2),
     "time_distributed: true",
     {0},
     0,
     0},
    /* batch_norm */
    {"batch_norm", 3, X1(5), "", {.eps = 1e-3}, 0, 0},
    {"batch_norm", 2, X2(6, 4), "", {.eps = 1e-3}, 2, 3},
    {"batch_norm", 2, X3(4, 3, 6), "epsilon: 0.01", {.eps = 0.01}, 0, 0},
    {"batch_norm", 2, X3(3, 3, 1), "", {.eps = 1e-3}, 0, 0},
    {"batch_norm",
     2,
     X4(3, 4, 4, 5),
     "time_distributed: true",
     {.eps = 1e-3},
     0,
     0},
    /* dense */
    {"dense", 3, X1(6), "units: 4", DENSE(4, ACT_LINEAR, false), 0, 0},
    {"dense", 2, X2(5, 6), "units: 3, activation: relu",
     DENSE(3, ACT_RELU, false), 0, 0},
    {"dense", 2, X1(7), "units: 5, activation: sigmoid",
     DENSE(5, ACT_SIGMOID, false), 0, 0},
    {"dense", 2, X1(7), "units: 5, activation: tanh", DENSE(5, ACT_TANH, false),
     0, 0},
    {"dense", 3, X1(8), "units: 5, activation: softmax",
     DENSE(5, ACT_SOFTMAX, false), 0, 0},
    {"dense", 2, X1(6), "units: 4, use_bias: false", DENSE(4, ACT_LINEAR, true),
     0, 0},
    {"dense", 1, X1(1), "units: 1", DENSE(1, ACT_LINEAR, false), 0, 0},
    {"dense", 2, X3(4, 3, 6), "units: 2, activation: softmax",
     DENSE(2, ACT_SOFTMAX, false), 0, 0},
    {"dense", 2, X1(64), "units: 32, activation: relu",
     DENSE(32, ACT_RELU, false), 0, 0},
    {"dense", 2, X2(3, 6), "units: 4, activation: relu, time_distributed: true",
     DENSE(4, ACT_RELU, false), 0, 0},
    {"dense", 33, X1(300), "units: 130, activation: relu",
     DENSE(130, ACT_RELU, false), 0, 0},
    /* dropout and flatten: views at inference */
    {"dropout", 2, X2(5, 3), "rate: 0.5", {0}, 0, 0},
    {"dropout", 1, X1(7), "rate: 0.25", {0}, 0, 0},
    {"dropout",
     2,
     X4(3, 4, 4, 2),
     "rate: 0.5, time_distributed: true",
     {0},
     0,
     0},
    {"flatten", 2, X3(3, 4, 2), "", {0}, 0, 0},
    {"flatten", 3, X1(5), "", {0}, 0, 0},
    {"flatten", 2, X4(3, 4, 4, 2), "time_distributed: true", {0}, 0, 0},
    /* lstm */
    {"lstm", 2, X2(5, 3), "units: 7", LSTM(7, false, false), 0, 0},
    {"lstm", 2, X2(5, 3), "units: 7, return_sequences: true",
     LSTM(7, true, false), 0, 0},
    {"lstm", 3, X2(1, 3), "units: 1", LSTM(1, false, false), 0, 0},
    {"lstm", 1, X2(1, 3), "units: 7, return_sequences: true",
     LSTM(7, true, false), 0, 0},
    {"lstm", 2, X2(5, 3), "units: 1, return_sequences: true, use_bias: false",
     LSTM(1, true, true), 0, 0},
    {"lstm", 2, X2(5, 3), "units: 7, unit_forget_bias: false",
     LSTM(7, false, false), 0, 0},
    {"lstm", 2, X2(20, 16), "units: 32", LSTM(32, false, false), 0, 0},
    {"lstm", 3, X2(4, 6), "units: 5, return_sequences: true",
     LSTM(5, true, false), 0, 0},
    {"lstm", 2, X2(20, 1024), "units: 32", LSTM(32, false, false), 0, 0},
    /* above LSTM_OPENCL_STEP_UNITS: the recurrent product through CLBlast */
    {"lstm", 1, X2(2, 4), "units: 130, return_sequences: true",
     LSTM(130, true, false), 0, 0},
    /* activations */
    {"relu", 3, X1(7), "", {0}, 0, 0},
    {"relu", 2, X3(3, 4, 5), "", {0}, 0, 0},
    {"relu", 2, X2(3, 4), "time_distributed: true", {0}, 0, 0},
    {"relu", 1, X1(1), "", {0}, 0, 0},
    {"sigmoid", 1, X1(1), "", {0}, 0, 0},
    {"tanh", 1, X1(1), "", {0}, 0, 0},
    {"linear", 1, X1(1), "", {0}, 0, 0},
    {"softmax", 1, X1(1), "", {0}, 0, 0},
    {"sigmoid", 3, X1(7), "", {0}, 0, 0},
    {"sigmoid", 2, X3(3, 4, 5), "", {0}, 0, 0},
    {"sigmoid", 2, X1(9), "", {0}, 0, 100},
    {"tanh", 3, X1(7), "", {0}, 0, 0},
    {"tanh", 2, X3(3, 4, 5), "", {0}, 0, 0},
    {"tanh", 2, X1(9), "", {0}, 0, 50},
    {"linear", 3, X1(7), "", {0}, 0, 0},
    {"linear", 2, X3(3, 4, 5), "", {0}, 0, 0},
    {"softmax", 3, X1(7), "", {0}, 0, 0},
    {"softmax", 2, X3(3, 4, 5), "", {0}, 0, 0},
    {"softmax", 2, X2(3, 5), "", {0}, 0, 80},
    {"softmax", 2, X2(4, 6), "", {0}, 100, 5},
    {"softmax", 2, X2(4, 6), "", {0}, -100, 5},
    {"softmax", 2, X2(3, 4), "time_distributed: true", {0}, 0, 0},
};

static const ot_shape_case ot_shape_cases[] = {
    {"conv2d", X3(7, 5, 3), "filters: 4, kernel: 3, strides: 2, padding: same",
     X3(4, 3, 4)},
    {"conv2d", X3(7, 5, 3), "filters: 4, kernel: 3", X3(5, 3, 4)},
    {"conv2d", X3(7, 5, 3), "filters: 2, kernel: [3, 2], strides: [2, 1]",
     X3(3, 4, 2)},
    {"conv2d", X4(4, 7, 5, 3),
     "filters: 6, kernel: 3, padding: same, time_distributed: true",
     X4(4, 7, 5, 6)},
    {"conv2d", X3(3, 3, 2), "filters: 4, kernel: 5", BAD},
    {"conv2d", X3(3, 8, 2), "filters: 4, kernel: [4, 1]", BAD},
    {"conv2d", X1(5), "filters: 4, kernel: 1", BAD},
    {"conv2d", X3(7, 5, 3), "filters: 4, kernel: 3, time_distributed: true",
     BAD},
    {"max_pool2d", X3(7, 5, 3), "", X3(3, 2, 3)},
    {"max_pool2d", X3(7, 5, 3), "padding: same", X3(4, 3, 3)},
    {"max_pool2d", X3(7, 5, 3), "pool_size: 3, strides: 2", X3(3, 2, 3)},
    {"max_pool2d", X3(3, 3, 2), "pool_size: 5", BAD},
    {"max_pool2d", X2(6, 6), "", BAD},
    {"global_avg_pool2d", X3(7, 5, 3), "", X1(3)},
    {"global_avg_pool2d", X4(4, 7, 5, 3), "time_distributed: true", X2(4, 3)},
    {"global_avg_pool2d", X1(5), "", BAD},
    {"batch_norm", X3(7, 5, 3), "", X3(7, 5, 3)},
    {"batch_norm", X1(5), "time_distributed: true", BAD},
    {"dense", X2(4, 6), "units: 3", X2(4, 3)},
    {"dense", X1(6), "units: 3", X1(3)},
    {"dense", X1(6), "units: 3, time_distributed: true", BAD},
    {"dropout", X3(7, 5, 3), "rate: 0.5", X3(7, 5, 3)},
    {"dropout", X1(6), "rate: 0.5, time_distributed: true", BAD},
    {"flatten", X3(3, 4, 2), "", X1(24)},
    {"flatten", X4(5, 4, 4, 2), "time_distributed: true", X2(5, 32)},
    {"flatten", X1(6), "time_distributed: true", BAD},
    {"lstm", X2(5, 3), "units: 7", X1(7)},
    {"lstm", X2(5, 3), "units: 7, return_sequences: true", X2(5, 7)},
    {"lstm", X3(5, 4, 3), "units: 7", BAD},
    {"lstm", X1(5), "units: 7", BAD},
    {"lstm", X3(5, 4, 3), "units: 7, time_distributed: true", BAD},
    {"relu", X3(3, 4, 5), "", X3(3, 4, 5)},
    {"relu", X1(5), "time_distributed: true", BAD},
    {"sigmoid", X2(3, 4), "", X2(3, 4)},
    {"sigmoid", X1(5), "time_distributed: true", BAD},
    {"tanh", X1(4), "", X1(4)},
    {"tanh", X1(5), "time_distributed: true", BAD},
    {"linear", X2(2, 3), "", X2(2, 3)},
    {"linear", X1(5), "time_distributed: true", BAD},
    {"softmax", X3(2, 3, 4), "", X3(2, 3, 4)},
    {"softmax", X1(5), "time_distributed: true", BAD},
};

#define OT_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- running ----------------------------------------------------------- */

/* While the OpenCL kernels were being written an op without one was a
 * visible SKIP; now every op must have one, so a missing kernel fails. */
#define OT_REQUIRE_OPENCL_KERNELS 1

/* Oclgrind simulates every work item and checks each access: only cases
 * whose input and output each have at most this many elements run there. */
#define OT_OCLGRIND_MAX_ELEMENTS 4096

#define OT_MAX_TARGETS 8
#define OT_GUARD 16
#define OT_SENTINEL 12345.0f

/* One backend the cases run on. */
typedef struct ot_target {
  gesta_backend *backend;
  char label[32]; /* "cpu", "opencl:1:0" (platform:device) */
  bool opencl;
  bool oclgrind; /* small cases only; its log is read after each */
} ot_target;

typedef struct ot_run {
  const gesta_context *ctx;
  ot_target targets[OT_MAX_TARGETS];
  int n_targets;
  char oclgrind_log[512];
  bool oclgrind_log_ours; /* made by this process: removed at the end */
  long oclgrind_seen;     /* bytes of the log already read */
  char vars[256];         /* the current case */
  ot_tally tally;
} ot_run;

/* "conv2d(n=2,x=[7,5,3],filters=4,kernel=[3,2])": the YAML attributes with
 * ": " as "=" and no spaces. */
static void ot_vars(const char *op, int64_t n, const gesta_shape *x,
                    const char *attrs, double shift, double scale, char *buf,
                    size_t size) {
  size_t k = (size_t)snprintf(buf, size, "%s(", op);
  if (n > 0)
    k += (size_t)snprintf(buf + k, size - k, "n=%lld,", (long long)n);
  k += (size_t)snprintf(buf + k, size - k, "x=%s%s", ot_dims(x, ",").s,
                        attrs[0] ? "," : "");
  for (const char *p = attrs; *p && k + 1 < size; p++)
    if (*p != ' ')
      buf[k++] = *p == ':' ? '=' : *p;
  buf[k] = '\0';
  if (scale != 0.0)
    k += (size_t)snprintf(buf + k, size - k, ",x~%g+-%g", shift, scale);
  snprintf(buf + k, size - k, ")");
}

static gesta_status ot_load(const gesta_context *ctx, const char *op,
                            const gesta_shape *x, const char *attrs,
                            gesta_model **model, gesta_error *err) {
  char yaml[1024];
  snprintf(yaml, sizeof yaml,
           "gesta: 1\nname: t\ninput: {name: x, shape: %s}\nlayers:\n"
           "  - {name: l, op: %s%s%s}\n",
           ot_dims(x, ", ").s, op, attrs[0] ? ", " : "", attrs);
  return gesta_model_load_string(ctx, yaml, strlen(yaml), "case.yaml", NULL,
                                 model, err);
}

/* Parameters in a range where nothing is trivially zero or one: biases and
 * means away from zero, variances positive and small enough that epsilon
 * matters, kernels small enough that LSTM gates do not saturate. */
static void ot_randomize_params(gesta_model *model, uint64_t *rng) {
  for (int i = 0; i < model->n_params; i++) {
    gesta_param *p = &model->params[i];
    double lo = -0.5, hi = 0.5;
    if (strcmp(p->spec.name, "moving_variance") == 0)
      lo = 0.01, hi = 1.5;
    else if (strcmp(p->spec.name, "gamma") == 0)
      lo = 0.5, hi = 1.5;
    for (int64_t j = 0; j < ot_count(&p->spec.shape); j++)
      p->data[j] = (float)ot_uniform(rng, lo, hi);
  }
}

/* NMSE bounds against the double-precision references, the same on every
 * backend. float32 rounding alone gives about 1e-14 per element and OpenCL
 * C's exp and tanh (up to 3 and 5 ulp) about 1e-13; a product summed over
 * K terms in another order (BLAS or CLBlast tiles) grows with K, and the
 * LSTM feeds its rounding back through T steps: the GEMM-based ops get
 * 1e-7, everything else 1e-10. */
static double ot_tolerance(const char *op) {
  bool gemm = strcmp(op, "conv2d") == 0 || strcmp(op, "dense") == 0 ||
              strcmp(op, "lstm") == 0;
  return gemm ? 1e-7 : 1e-10;
}

/* One line per case and backend: "op.X  vars  backend  verdict". */
static void ot_report(ot_tally *tally, bool ok, const char *op,
                      const char *vars, const char *backend, const char *fmt,
                      ...) __attribute__((format(printf, 6, 7)));
static void ot_report(ot_tally *tally, bool ok, const char *op,
                      const char *vars, const char *backend, const char *fmt,
                      ...) {
  va_list ap;
  printf("op.%-18s %s  %s  ", op, vars, backend);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if (ok)
    tally->passed++;
  else
    tally->failed++;
}

/* Writes why one backend's output is wrong into fail ("" when it is right)
 * and nmse, max abs and max rel error into stats. */
static void ot_compare(const ot_case *c, const float *got, const float *again,
                       const double *want, int64_t count, int64_t row,
                       double stats[3], char *fail, size_t size) {
  double se = 0.0, sr = 0.0, max_abs = 0.0, max_rel = 0.0;
  int64_t worst = 0;
  fail[0] = '\0';
  for (int64_t i = 0; i < count; i++) {
    double d = fabs((double)got[i] - want[i]);
    if (!isfinite(got[i]) && !fail[0])
      snprintf(fail, size, "element %lld is %g, want %.9g", (long long)i,
               got[i], want[i]);
    se += d * d;
    sr += want[i] * want[i];
    if (d > max_abs)
      max_abs = d, worst = i;
    d /= fabs(want[i]) > 1e-3 ? fabs(want[i]) : 1e-3;
    max_rel = d > max_rel ? d : max_rel;
  }
  stats[0] = sr > 0.0 ? se / sr : se;
  stats[1] = max_abs;
  stats[2] = max_rel;
  for (int i = 0; i < OT_GUARD && !fail[0]; i++)
    if (got[count + i] != OT_SENTINEL)
      snprintf(fail, size, "wrote past the output's end");
  if (!fail[0] && memcmp(got, again, (size_t)count * sizeof *got) != 0)
    snprintf(fail, size, "a second run gave other values");
  bool softmax = strcmp(c->op, "softmax") == 0 || c->a.act == ACT_SOFTMAX;
  for (int64_t r = 0; softmax && !fail[0] && r < count / row; r++) {
    double sum = 0.0;
    for (int64_t i = 0; i < row; i++)
      sum += got[r * row + i];
    if (fabs(sum - 1.0) > 1e-5)
      snprintf(fail, size, "softmax row %lld sums to %.9g", (long long)r, sum);
  }
  if (!fail[0] && !(stats[0] <= ot_tolerance(c->op)))
    snprintf(fail, size, "nmse above %.0e; element %lld is %.9g, want %.9g",
             ot_tolerance(c->op), (long long)worst, got[worst], want[worst]);
}

/* Oclgrind reports invalid and racy accesses (and API misuse) as text in its
 * log and carries on: the kernel's status stays CL_SUCCESS. Any new text since
 * the last look is a failure; why gets its first line and the kernel it names.
 */
static bool ot_oclgrind_clean(ot_run *run, char *why, size_t size) {
  FILE *f = fopen(run->oclgrind_log, "rb");
  char line[256];
  bool clean = true;
  why[0] = '\0';
  if (!f)
    return true; /* nothing was ever logged */
  if (fseek(f, run->oclgrind_seen, SEEK_SET) != 0) {
    fclose(f);
    return true;
  }
  while (fgets(line, sizeof line, f)) {
    char *s = line + strspn(line, " \t\r\n");
    s[strcspn(s, "\r\n")] = '\0';
    if (!*s)
      continue;
    if (clean)
      snprintf(why, size, "Oclgrind: %s", s);
    else if (strncmp(s, "Kernel:", 7) == 0 && !strstr(why, "Kernel:"))
      snprintf(why + strlen(why), size - strlen(why), " (%s)", s);
    clean = false;
  }
  run->oclgrind_seen = ftell(f);
  fclose(f);
  return clean;
}

/* A skipped case is counted apart and shows why on its own line. */
static bool ot_skip_on_target(ot_run *run, const ot_case *c,
                              const gesta_model *model, const ot_target *t,
                              int64_t elements, char *why, size_t size) {
  const gesta_op_entry *op = model->nodes[0].op;
  why[0] = '\0';
  if (t->opencl && !op->def->view_at_inference &&
      !gesta_backend_kernel(t->backend, op) && !OT_REQUIRE_OPENCL_KERNELS)
    snprintf(why, size, "no opencl kernel for %s yet", c->op);
  else if (t->oclgrind && elements > OT_OCLGRIND_MAX_ELEMENTS)
    snprintf(why, size,
             "Oclgrind runs cases of at most %d elements; this one has %lld",
             OT_OCLGRIND_MAX_ELEMENTS, (long long)elements);
  if (why[0]) {
    printf("op.%-18s %s  %s  SKIP: %s\n", c->op, run->vars, t->label, why);
    run->tally.skipped++;
  }
  return why[0] != '\0';
}

static void ot_run_target(ot_run *run, const ot_case *c,
                          const gesta_model *model, const ot_target *t,
                          const gesta_shape *full, const float *x,
                          const double *want) {
  const char *vars = run->vars;
  int64_t count = ot_count(full);
  int64_t n_in = c->n * ot_count(&c->x);
  /* A missing kernel must fail, never fall back to the CPU quietly. */
  gesta_plan_options options = {.strict = true};
  gesta_plan *plan = NULL;
  gesta_error err;
  char fail[256], why[256];
  double stats[3];
  float *got = NULL, *again = NULL;
  gesta_error_clear(&err);
  if (ot_skip_on_target(run, c, model, t, n_in > count ? n_in : count, why,
                        sizeof why))
    return;
  got = malloc((size_t)(count + OT_GUARD) * sizeof *got);
  again = malloc((size_t)(count + OT_GUARD) * sizeof *again);
  if (!got || !again) {
    ot_report(&run->tally, false, c->op, vars, t->label, "FAIL: out of memory");
    goto done;
  }
  /* NaN shows an element the kernel never wrote. */
  for (int64_t i = 0; i < count + OT_GUARD; i++)
    got[i] = again[i] = i < count ? NAN : OT_SENTINEL;
  if (gesta_plan_new_with_options(model, t->backend, c->n, &options, &plan,
                                  &err) != GESTA_STATUS_OK) {
    ot_report(&run->tally, false, c->op, vars, t->label, "FAIL: plan: %s",
              err.message);
    goto done;
  }
  gesta_shape shape = gesta_plan_output_shape(plan);
  if (!ot_shape_same(&shape, full)) {
    ot_report(&run->tally, false, c->op, vars, t->label,
              "FAIL: plan output shape %s, expected %s", ot_dims(&shape, ",").s,
              ot_dims(full, ",").s);
    goto done;
  }
  if (gesta_plan_run(plan, x, got, &err) != GESTA_STATUS_OK ||
      gesta_plan_run(plan, x, again, &err) != GESTA_STATUS_OK) {
    ot_report(&run->tally, false, c->op, vars, t->label, "FAIL: run: %s",
              err.message);
    goto done;
  }
  ot_compare(c, got, again, want, count, full->dims[full->rank - 1], stats,
             fail, sizeof fail);
  if (!fail[0] && t->oclgrind && !ot_oclgrind_clean(run, why, sizeof why))
    snprintf(fail, sizeof fail, "%s", why);
  ot_report(&run->tally, !fail[0], c->op, vars, t->label,
            "nmse=%.1e  max_abs=%.1e  max_rel=%.1e  %s%s", stats[0], stats[1],
            stats[2], fail[0] ? "FAIL: " : "OK", fail);
done:
  /* Whatever the verdict, the next case starts with a fresh log. */
  if (t->oclgrind)
    ot_oclgrind_clean(run, why, sizeof why);
  gesta_plan_free(plan);
  free(got);
  free(again);
}

static void ot_run_case(ot_run *run, int index) {
  const ot_case *c = &ot_cases[index];
  gesta_model *model = NULL;
  float *x = NULL;
  double *want = NULL;
  gesta_error err;
  const char *vars = run->vars;
  uint64_t rng = 0x5eed0000u + (uint64_t)index;
  bool td = ot_is_td(c->attrs);
  ot_io io = {.c = c, .batch = c->n, .in = c->x};
  ot_ref_fn ref = NULL;
  gesta_error_clear(&err);
  ot_vars(c->op, c->n, &c->x, c->attrs, c->shift, c->scale, run->vars,
          sizeof run->vars);
  for (int i = 0; i < OT_N(ot_refs); i++)
    if (strcmp(ot_refs[i].op, c->op) == 0)
      ref = ot_refs[i].ref, io.act = ot_refs[i].act;
  if (!ref) {
    ot_report(&run->tally, false, c->op, vars, "-", "FAIL: no reference");
    goto done;
  }
  if (ot_load(run->ctx, c->op, &c->x, c->attrs, &model, &err) !=
          GESTA_STATUS_OK ||
      gesta_model_init_weights(model, 7, &err) != GESTA_STATUS_OK) {
    ot_report(&run->tally, false, c->op, vars, "-", "FAIL: %s", err.message);
    goto done;
  }
  ot_randomize_params(model, &rng);
  int64_t n_in = c->n * ot_count(&c->x);
  x = malloc((size_t)n_in * sizeof *x);
  if (!x) {
    ot_report(&run->tally, false, c->op, vars, "-", "FAIL: out of memory");
    goto done;
  }
  double scale = c->scale != 0.0 ? c->scale : 1.0;
  for (int64_t i = 0; i < n_in; i++)
    x[i] = (float)(c->shift + scale * ot_uniform(&rng, -1.0, 1.0));

  /* A time-distributed layer is its op on N*T frames. */
  io.model = model;
  io.x = x;
  if (td) {
    io.batch = c->n * c->x.dims[0];
    io.in.rank = c->x.rank - 1;
    memmove(io.in.dims, c->x.dims + 1, (size_t)io.in.rank * sizeof(int64_t));
  }
  gesta_shape out;
  ref(&io, &out);
  gesta_shape sample = td ? ot_prepend(c->x.dims[0], &out) : out;
  const gesta_shape *inferred = &model->nodes[0].output_shape;
  if (!ot_shape_same(inferred, &sample)) {
    ot_report(&run->tally, false, c->op, vars, "-",
              "FAIL: output shape %s, expected %s", ot_dims(inferred, ",").s,
              ot_dims(&sample, ",").s);
    goto done;
  }
  gesta_shape full = ot_prepend(c->n, &sample);
  want = calloc((size_t)ot_count(&full), sizeof *want);
  if (!want) {
    ot_report(&run->tally, false, c->op, vars, "-", "FAIL: out of memory");
    goto done;
  }
  io.y = want;
  ref(&io, &out);
  if (!io.bad[0] && io.n_used != model->nodes[0].n_params)
    snprintf(io.bad, sizeof io.bad, "the layer has %d parameters, expected %d",
             model->nodes[0].n_params, io.n_used);
  if (io.bad[0]) {
    ot_report(&run->tally, false, c->op, vars, "-", "FAIL: %s", io.bad);
    goto done;
  }
  for (int i = 0; i < run->n_targets; i++)
    ot_run_target(run, c, model, &run->targets[i], &full, x, want);
done:
  gesta_model_free(model);
  free(x);
  free(want);
}

static void ot_run_shape_case(const gesta_context *ctx, const ot_shape_case *s,
                              ot_tally *tally) {
  gesta_model *model = NULL;
  gesta_error err;
  char vars[256];
  gesta_error_clear(&err);
  ot_vars("shape", 0, &s->x, s->attrs, 0.0, 0.0, vars, sizeof vars);
  gesta_status st = ot_load(ctx, s->op, &s->x, s->attrs, &model, &err);
  if (s->want.rank == 0) {
    bool ok = st == GESTA_STATUS_BAD_INPUT && strstr(err.message, "'l'");
    ot_report(tally, ok, s->op, vars, "-", "%s: %s",
              ok ? "rejected OK"
                 : "FAIL: expected a bad-input error naming 'l', got",
              st == GESTA_STATUS_OK ? "success" : err.message);
  } else if (st != GESTA_STATUS_OK) {
    ot_report(tally, false, s->op, vars, "-", "FAIL: %s", err.message);
  } else {
    const gesta_shape *got = &model->nodes[model->output_node].output_shape;
    bool ok = ot_shape_same(got, &s->want);
    ot_report(tally, ok, s->op, vars, "-", "-> %s %s%s", ot_dims(got, ",").s,
              ok ? "OK" : "FAIL: expected ",
              ok ? "" : ot_dims(&s->want, ",").s);
  }
  gesta_model_free(model);
}

static bool ot_has_case(const char *op) {
  for (int i = 0; i < OT_N(ot_cases); i++)
    if (strcmp(ot_cases[i].op, op) == 0)
      return true;
  return false;
}

/* ---- targets: the CPU reference and every OpenCL device ---------------- */

static void ot_add_target(ot_run *run, gesta_backend *backend,
                          const char *label, bool opencl, bool oclgrind) {
  ot_target *t = &run->targets[run->n_targets++];
  t->backend = backend;
  snprintf(t->label, sizeof t->label, "%s", label);
  t->opencl = opencl;
  t->oclgrind = oclgrind;
}

#if GESTA_HAVE_OPENCL
/* Case-insensitive substring test. */
static bool ot_contains(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t i = 0;
    while (i < n && hay[i] &&
           tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n)
      return true;
  }
  return n == 0;
}

/* --device: "P:D" exactly, or text in the platform, name or vendor, as
 * gesta_opencl_options.device_spec reads it (but every match, not the
 * first). */
static bool ot_device_matches(const gesta_opencl_device_info *d,
                              const char *spec) {
  int p, q;
  char end;
  if (sscanf(spec, "%d:%d%c", &p, &q, &end) == 2)
    return p == d->platform_index && q == d->device_index;
  return ot_contains(d->platform, spec) || ot_contains(d->name, spec) ||
         ot_contains(d->vendor, spec) || ot_contains(d->device_version, spec) ||
         ot_contains(d->driver_version, spec);
}

/* Oclgrind's checks on, its reports in a log of this process (an
 * OCLGRIND_* setting the caller made wins). Before any OpenCL call: the
 * simulator reads them when the ICD loader first loads it. */
static void ot_oclgrind_setup(ot_run *run) {
  const char *user = getenv("OCLGRIND_LOG");
  if (user && *user) {
    snprintf(run->oclgrind_log, sizeof run->oclgrind_log, "%s", user);
  } else {
    snprintf(run->oclgrind_log, sizeof run->oclgrind_log, "%s/oclgrind-%ld.log",
             GESTA_TEST_TMP, (long)getpid());
    remove(run->oclgrind_log);
    setenv("OCLGRIND_LOG", run->oclgrind_log, 1);
    run->oclgrind_log_ours = true;
  }
  /* Out-of-bounds accesses are always checked. Not OCLGRIND_UNINITIALIZED:
   * in Oclgrind 21.10 that (experimental) plugin reports writes of values
   * it lost track of and makes some kernels read zeros from their input. */
  setenv("OCLGRIND_CHECK_API", "1", 0);
  setenv("OCLGRIND_DATA_RACES", "1", 0);
  FILE *f = fopen(run->oclgrind_log, "rb");
  if (f && fseek(f, 0, SEEK_END) == 0)
    run->oclgrind_seen = ftell(f);
  if (f)
    fclose(f);
}

static void ot_open_opencl(ot_run *run, const char *device_filter) {
  gesta_opencl_device_info *list = NULL;
  gesta_error err;
  int n = 0;
  gesta_error_clear(&err);
  if (gesta_opencl_list_devices(&list, &n, &err) != GESTA_STATUS_OK) {
    printf("backend opencl: FAIL: %s\n", err.message);
    run->tally.failed++;
    return;
  }
  if (n == 0)
    printf("backend opencl: no OpenCL device; the op table runs on the CPU "
           "only\n");
  for (int i = 0; i < n && run->n_targets < OT_MAX_TARGETS; i++) {
    const gesta_opencl_device_info *d = &list[i];
    char spec[24], label[32];
    gesta_backend *backend = NULL;
    if (device_filter && !ot_device_matches(d, device_filter))
      continue;
    snprintf(spec, sizeof spec, "%d:%d", d->platform_index, d->device_index);
    snprintf(label, sizeof label, "opencl:%s", spec);
    gesta_opencl_options options = {.device_spec = spec};
    if (gesta_backend_opencl_new(run->ctx, &options, &backend, &err) !=
        GESTA_STATUS_OK) {
      printf("backend %s: FAIL: %s\n", label, err.message);
      run->tally.failed++;
      continue;
    }
    bool oclgrind = strstr(d->platform, "Oclgrind") != NULL;
    printf("backend %s: %s (%s), driver %s%s\n", label, d->name, d->platform,
           d->driver_version,
           oclgrind ? "; memory checks on, small cases only" : "");
    ot_add_target(run, backend, label, true, oclgrind);
  }
  free(list);
}
#endif

/* The CPU reference backend and the OpenCL devices the filters let in.
 * false when a filter matches nothing. */
static bool ot_open_targets(ot_run *run, const char *backend_filter,
                            const char *device_filter) {
  bool want_cpu =
      !device_filter && (!backend_filter || strcmp(backend_filter, "cpu") == 0);
  bool want_opencl = !backend_filter || strcmp(backend_filter, "opencl") == 0;
  if (want_cpu) {
    gesta_backend *cpu = NULL;
    gesta_error err;
    gesta_error_clear(&err);
    if (gesta_backend_cpu_new(run->ctx, &cpu, &err) == GESTA_STATUS_OK) {
      ot_add_target(run, cpu, "cpu", false, false);
    } else {
      printf("backend cpu: FAIL: %s\n", err.message);
      run->tally.failed++;
    }
  }
#if GESTA_HAVE_OPENCL
  if (want_opencl)
    ot_open_opencl(run, device_filter);
#else
  if (want_opencl && (backend_filter || device_filter))
    printf("backend opencl: this build has no OpenCL (GESTA_OPENCL=OFF)\n");
#endif
  return run->n_targets > 0 || (!backend_filter && !device_filter);
}

static int ot_usage(const char *program) {
  fprintf(stderr,
          "usage: %s [--op NAME] [--backend cpu|opencl] [--device SPEC]\n"
          "  SPEC: P:D, or text in an OpenCL platform, device or vendor "
          "name\n",
          program);
  return 2;
}

int main(int argc, char **argv) {
  const char *filter = NULL, *backend_filter = NULL, *device_filter = NULL;
  gesta_context ctx;
  ot_run run;
  int matched = 0;

  memset(&run, 0, sizeof run);
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc)
      return ot_usage(argv[0]);
    if (strcmp(argv[i], "--op") == 0)
      filter = argv[i + 1];
    else if (strcmp(argv[i], "--backend") == 0 &&
             (strcmp(argv[i + 1], "cpu") == 0 ||
              strcmp(argv[i + 1], "opencl") == 0))
      backend_filter = argv[i + 1];
    else if (strcmp(argv[i], "--device") == 0)
      device_filter = argv[i + 1];
    else
      return ot_usage(argv[0]);
  }
#if GESTA_HAVE_OPENCL
  ot_oclgrind_setup(&run);
#endif
  gesta_context_init(&ctx);
  run.ctx = &ctx;
  if (!ot_open_targets(&run, backend_filter, device_filter)) {
    fprintf(stderr, "test_ops: no backend matches%s%s%s%s\n",
            backend_filter ? " --backend " : "",
            backend_filter ? backend_filter : "",
            device_filter ? " --device " : "",
            device_filter ? device_filter : "");
    run.tally.failed++;
  }

  for (int i = 0; i < OT_N(ot_cases); i++)
    if (!filter || strcmp(filter, ot_cases[i].op) == 0) {
      matched++;
      ot_run_case(&run, i);
    }
  /* Shape inference does not depend on the backend. */
  for (int i = 0; i < OT_N(ot_shape_cases); i++)
    if ((!filter || strcmp(filter, ot_shape_cases[i].op) == 0)) {
      matched++;
      if (!backend_filter && !device_filter)
        ot_run_shape_case(&ctx, &ot_shape_cases[i], &run.tally);
    }
  if (matched == 0) {
    fprintf(stderr, "test_ops: no case matches --op %s\n", filter);
    run.tally.failed++;
  }
  /* A new op folder without cases must not pass quietly. */
  for (int i = 0; !filter && i < gesta_op_count(); i++)
    if (!ot_has_case(gesta_op_at(i)->def->name)) {
      printf("op.%s  FAIL: the op has no case in the op table\n",
             gesta_op_at(i)->def->name);
      run.tally.failed++;
    }

  for (int i = 0; i < run.n_targets; i++)
    gesta_backend_free(run.targets[i].backend);
  if (run.oclgrind_log_ours)
    remove(run.oclgrind_log);
  if (run.tally.skipped)
    printf("%d skipped\n", run.tally.skipped);
  printf("%d passed, %d failed\n", run.tally.passed, run.tally.failed);
  return run.tally.failed ? 1 : 0;
}
