/* The CPU backend's thread count and the helpers that split work with it:
 * see gesta/cpu.h and parallel.h.
 *
 * The count is process-wide on purpose, like the pool it sizes (pool.c)
 * and OpenBLAS' threads. OpenBLAS is kept at one thread because its idle
 * workers spin while gesta's own loops run, and a threaded product inside
 * a part of gesta's split would put two threads on each core. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "parallel.h"

/* 0: never set, the default. */
static atomic_int cpu_threads_chosen;
/* The default, once known (0 before): the affinity mask does not change
 * under a running model, and reading it is a system call per kernel. */
static atomic_int cpu_threads_default;

/* The CPUs of this process's affinity mask, not of the machine. */
static int cpu_available(void) {
  cpu_set_t set;
  int n = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    n = CPU_COUNT(&set);
  if (n <= 0)
    n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}

void gesta_cpu_blas_single(void) {
  if (openblas_get_num_threads() != 1)
    openblas_set_num_threads(1);
}

void gesta_cpu_set_threads(int n) {
  if (n > GESTA_CPU_MAX_THREADS)
    n = GESTA_CPU_MAX_THREADS;
  atomic_store(&cpu_threads_chosen, n > 0 ? n : 0);
  gesta_cpu_blas_single();
}

int gesta_cpu_threads(void) {
  int n = atomic_load_explicit(&cpu_threads_chosen, memory_order_relaxed);
  if (n > 0)
    return n;
  n = atomic_load_explicit(&cpu_threads_default, memory_order_relaxed);
  if (n > 0)
    return n;
  n = cpu_available();
  if (n > GESTA_CPU_MAX_THREADS)
    n = GESTA_CPU_MAX_THREADS;
  atomic_store_explicit(&cpu_threads_default, n, memory_order_relaxed);
  return n;
}

int gesta_cpu_parts(int64_t work, int64_t grain) {
  int64_t parts;
  gesta_cpu_blas_single();
  if (gesta_cpu_in_part())
    return 1;
  parts = grain > 0 ? work / grain : work;
  if (parts > gesta_cpu_threads())
    parts = gesta_cpu_threads();
  return parts > 1 ? (int)parts : 1;
}

typedef struct sgemm_args {
  CBLAS_TRANSPOSE ta, tb;
  int m, n, k, lda, ldb, ldc, parts;
  bool rows;
  int64_t side;
  float alpha, beta;
  const float *a, *b;
  float *c;
} sgemm_args;

static void sgemm_part(void *ctx, int p) {
  const sgemm_args *g = ctx;
  int s0 = (int)gesta_cpu_split(g->side, g->parts, p);
  int s1 = (int)gesta_cpu_split(g->side, g->parts, p + 1);
  if (g->rows) {
    /* Rows s0..s1 of C come from rows (columns, transposed) of A. */
    const float *ap =
        g->ta == CblasNoTrans ? g->a + (int64_t)s0 * g->lda : g->a + s0;
    cblas_sgemm(CblasRowMajor, g->ta, g->tb, s1 - s0, g->n, g->k, g->alpha, ap,
                g->lda, g->b, g->ldb, g->beta, g->c + (int64_t)s0 * g->ldc,
                g->ldc);
  } else {
    const float *bp =
        g->tb == CblasNoTrans ? g->b + s0 : g->b + (int64_t)s0 * g->ldb;
    cblas_sgemm(CblasRowMajor, g->ta, g->tb, g->m, s1 - s0, g->k, g->alpha,
                g->a, g->lda, bp, g->ldb, g->beta, g->c + s0, g->ldc);
  }
}

void gesta_cpu_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n,
                     int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
  /* The longer side of C, so that each part still has a useful shape. */
  sgemm_args g = {ta, tb,     m, n,     k,    lda, ldb, ldc,
                  1,  m >= n, 0, alpha, beta, a,   b,   c};
  g.side = g.rows ? m : n;
  g.parts = gesta_cpu_parts((int64_t)m * n * k, GESTA_CPU_GRAIN_GEMM);
  if (g.parts > g.side / GESTA_CPU_GEMM_STRIP)
    g.parts = g.side / GESTA_CPU_GEMM_STRIP > 1
                  ? (int)(g.side / GESTA_CPU_GEMM_STRIP)
                  : 1;
  if (g.parts == 1) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
    return;
  }
  gesta_cpu_run(g.parts, sgemm_part, &g);
}

/* dst = src (src non-NULL) or 0 over n floats in `parts` ranges. */
typedef struct fill_args {
  float *dst;
  const float *src;
  int64_t n;
  int parts;
} fill_args;

static void fill_part(void *ctx, int p) {
  const fill_args *f = ctx;
  int64_t i0 = gesta_cpu_split(f->n, f->parts, p);
  int64_t i1 = gesta_cpu_split(f->n, f->parts, p + 1);
  if (f->src)
    memcpy(f->dst + i0, f->src + i0, (size_t)(i1 - i0) * sizeof(float));
  else
    memset(f->dst + i0, 0, (size_t)(i1 - i0) * sizeof(float));
}

void gesta_cpu_copy(float *dst, const float *src, int64_t n) {
  fill_args f = {dst, src, n, 1};
  if (dst == src || n <= 0)
    return;
  f.parts = gesta_cpu_parts(n, GESTA_CPU_GRAIN_COPY);
  gesta_cpu_run(f.parts, fill_part, &f);
}

void gesta_cpu_zero(float *dst, int64_t n) {
  fill_args f = {dst, NULL, n, 1};
  if (n <= 0)
    return;
  f.parts = gesta_cpu_parts(n, GESTA_CPU_GRAIN_COPY);
  gesta_cpu_run(f.parts, fill_part, &f);
}

typedef struct bias_args {
  float *y;
  const float *bias;
  int64_t rows, cols;
  int parts;
} bias_args;

static void bias_part(void *ctx, int p) {
  const bias_args *b = ctx;
  float *y = b->y;
  const float *bias = b->bias;
  int64_t cols = b->cols, r1 = gesta_cpu_split(b->rows, b->parts, p + 1);
  for (int64_t r = gesta_cpu_split(b->rows, b->parts, p); r < r1; r++)
    for (int64_t j = 0; j < cols; j++)
      y[r * cols + j] += bias[j];
}

void gesta_cpu_add_bias(float *y, const float *bias, int64_t rows,
                        int64_t cols) {
  bias_args b = {y, bias, rows, cols, 1};
  b.parts = gesta_cpu_parts(rows * cols, GESTA_CPU_GRAIN_COPY);
  if (b.parts > rows)
    b.parts = rows > 1 ? (int)rows : 1;
  gesta_cpu_run(b.parts, bias_part, &b);
}
