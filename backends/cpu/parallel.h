/* gesta — how the CPU kernels split their work across threads. Internal to
 * the library.
 *
 * A loop is cut into `parts` contiguous ranges, run by gesta_cpu_run on the
 * caller and the pool's workers, with the same cuts whatever thread runs
 * them: results depend on the part count alone. Kernels that sum across
 * parts keep one partial per part and add the partials in part order. A
 * loop body is a function of (context, part) with its arguments in a small
 * struct. */
#ifndef GESTA_CPU_PARALLEL_H
#define GESTA_CPU_PARALLEL_H

#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>

#include "gesta/cpu.h"

/* Before a loop the compiler vectorises only with AVX-512 (64-bit
 * multiplies, as in a hash per element): builds it for AVX-512 as well as
 * the baseline, and the loader picks one for the CPU. Results are the
 * same either way (integer work, or float work without reordering). */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define GESTA_CPU_AVX512_CLONES                                                \
  __attribute__((target_clones("arch=x86-64-v4", "default")))
#endif
#endif
#ifndef GESTA_CPU_AVX512_CLONES
#define GESTA_CPU_AVX512_CLONES
#endif

/* The least work worth a thread of its own, in floats (or multiply-adds
 * for products): waking a sleeping thread and joining it costs a few
 * microseconds, which a part this size repays. A build with
 * -DGESTA_CPU_SPLIT_ALL cuts every loop however small, so that the test
 * suite's small tensors go through the threaded paths. */
#ifdef GESTA_CPU_SPLIT_ALL
#define GESTA_CPU_GRAIN_COPY ((int64_t)1)
#define GESTA_CPU_GRAIN_MATH ((int64_t)1)
#define GESTA_CPU_GRAIN_GEMM ((int64_t)1)
#define GESTA_CPU_GEMM_STRIP 1
#else
/* Copies, comparisons and multiply-adds per element: */
#define GESTA_CPU_GRAIN_COPY ((int64_t)1 << 15)
/* Elements that go through exp or tanh: */
#define GESTA_CPU_GRAIN_MATH ((int64_t)1 << 12)
/* Multiply-adds of a matrix product: */
#define GESTA_CPU_GRAIN_GEMM ((int64_t)1 << 20)
/* Rows (or columns) of C per part of a product, at least: OpenBLAS'
 * register blocks stay full. */
#define GESTA_CPU_GEMM_STRIP 16
#endif

/* The most threads gesta_cpu_set_threads() accepts; workspaces scale with
 * the count. */
#define GESTA_CPU_MAX_THREADS 256

/* Runs fn(ctx, p) for every part p in [0, parts): part 0 on the calling
 * thread, the others on the pool's workers, and returns when all are done.
 * parts is at most gesta_cpu_threads(). Runs every part on the caller, in
 * order, when parts <= 1, inside a part (a kernel called by a kernel), or
 * while another thread's job holds the pool. */
void gesta_cpu_run(int parts, void (*fn)(void *ctx, int part), void *ctx);

/* True on a thread that is running a part of a split. */
bool gesta_cpu_in_part(void);

/* Sets OpenBLAS to one thread unless it is already. */
void gesta_cpu_blas_single(void);

/* How many parts to cut `work` units into: gesta_cpu_threads(), but no
 * more than work / grain, at least 1, and 1 inside a part of a split (the
 * caller is already one part). Keeps OpenBLAS at one thread. */
int gesta_cpu_parts(int64_t work, int64_t grain);

/* Start of part p of n items cut into `parts` (part p is [split(p),
 * split(p + 1))). */
static inline int64_t gesta_cpu_split(int64_t n, int parts, int p) {
  return n / parts * p + (n % parts) * p / parts;
}

/* cblas_sgemm (row-major) with C's rows, or its columns when it has few
 * rows, cut across threads when the product is large enough; each part is
 * a single-threaded OpenBLAS call. */
void gesta_cpu_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n,
                     int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc);

/* dst[i] = src[i] for n floats, cut across threads; dst == src is a no-op. */
void gesta_cpu_copy(float *dst, const float *src, int64_t n);

/* Adds bias (cols) to every row of y (rows x cols), cut across threads. */
void gesta_cpu_add_bias(float *y, const float *bias, int64_t rows,
                        int64_t cols);

/* n floats set to 0, cut across threads. */
void gesta_cpu_zero(float *dst, int64_t n);

#endif
