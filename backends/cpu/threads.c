/* The CPU backend's thread count and the helpers that split work with it:
 * see gesta/cpu.h and parallel.h.
 *
 * The count is the one piece of process-wide state here, on purpose:
 * OpenMP's thread team and OpenBLAS' threads are per process too. OpenBLAS
 * is kept at one thread because its idle workers spin while gesta's own
 * loops run, and a threaded product inside a part of gesta's split would
 * put two threads on each core. */
#include <omp.h>
#include <stdatomic.h>
#include <string.h>

#include "parallel.h"

/* 0: never set, the default. */
static atomic_int cpu_threads_chosen;

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
  /* The CPUs of this process's affinity mask, not of the machine. */
  n = omp_get_num_procs();
  if (n > GESTA_CPU_MAX_THREADS)
    n = GESTA_CPU_MAX_THREADS;
  return n > 0 ? n : 1;
}

int gesta_cpu_parts(int64_t work, int64_t grain) {
  int64_t parts;
  gesta_cpu_blas_single();
  if (omp_in_parallel())
    return 1;
  parts = grain > 0 ? work / grain : work;
  if (parts > gesta_cpu_threads())
    parts = gesta_cpu_threads();
  return parts > 1 ? (int)parts : 1;
}

void gesta_cpu_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n,
                     int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
  /* The longer side of C, so that each part still has a useful shape. */
  int rows = m >= n;
  int64_t side = rows ? m : n;
  int parts = gesta_cpu_parts((int64_t)m * n * k, GESTA_CPU_GRAIN_GEMM);
  if (parts > side / GESTA_CPU_GEMM_STRIP)
    parts = side / GESTA_CPU_GEMM_STRIP > 1 ? (int)(side / GESTA_CPU_GEMM_STRIP)
                                            : 1;
  if (parts == 1) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
    return;
  }
#pragma omp parallel for num_threads(parts) schedule(static)
  for (int p = 0; p < parts; p++) {
    int s0 = (int)gesta_cpu_split(side, parts, p);
    int s1 = (int)gesta_cpu_split(side, parts, p + 1);
    if (rows) {
      /* Rows s0..s1 of C come from rows (columns, transposed) of A. */
      const float *ap = ta == CblasNoTrans ? a + (int64_t)s0 * lda : a + s0;
      cblas_sgemm(CblasRowMajor, ta, tb, s1 - s0, n, k, alpha, ap, lda, b, ldb,
                  beta, c + (int64_t)s0 * ldc, ldc);
    } else {
      const float *bp = tb == CblasNoTrans ? b + s0 : b + (int64_t)s0 * ldb;
      cblas_sgemm(CblasRowMajor, ta, tb, m, s1 - s0, k, alpha, a, lda, bp, ldb,
                  beta, c + s0, ldc);
    }
  }
}

void gesta_cpu_copy(float *dst, const float *src, int64_t n) {
  int parts;
  if (dst == src || n <= 0)
    return;
  parts = gesta_cpu_parts(n, GESTA_CPU_GRAIN_COPY);
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int p = 0; p < parts; p++) {
    int64_t i0 = gesta_cpu_split(n, parts, p);
    int64_t i1 = gesta_cpu_split(n, parts, p + 1);
    memcpy(dst + i0, src + i0, (size_t)(i1 - i0) * sizeof(float));
  }
}

void gesta_cpu_zero(float *dst, int64_t n) {
  int parts;
  if (n <= 0)
    return;
  parts = gesta_cpu_parts(n, GESTA_CPU_GRAIN_COPY);
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int p = 0; p < parts; p++) {
    int64_t i0 = gesta_cpu_split(n, parts, p);
    int64_t i1 = gesta_cpu_split(n, parts, p + 1);
    memset(dst + i0, 0, (size_t)(i1 - i0) * sizeof(float));
  }
}

void gesta_cpu_add_bias(float *y, const float *bias, int64_t rows,
                        int64_t cols) {
  int parts = gesta_cpu_parts(rows * cols, GESTA_CPU_GRAIN_COPY);
  if (parts > rows)
    parts = rows > 1 ? (int)rows : 1;
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int p = 0; p < parts; p++) {
    int64_t r1 = gesta_cpu_split(rows, parts, p + 1);
    for (int64_t r = gesta_cpu_split(rows, parts, p); r < r1; r++)
      for (int64_t j = 0; j < cols; j++)
        y[r * cols + j] += bias[j];
  }
}
