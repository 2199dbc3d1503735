/* GEMMs through CLBlast on backend-owned buffers, and CLBlast's cache. */
#include <stdatomic.h>
#include <stdio.h>

/* First: it sets the OpenCL version the CL headers target. */
#include "opencl_private.h"

#include <clblast_c.h>

/* CLBlast compiles its kernels once per device and keeps them (with the
 * contexts they hold) in caches that are global to the process; only
 * CLBlastClearCache() frees them, and clearing them under a backend that
 * is still running GEMMs would force a rebuild or worse. So this is the
 * one piece of process-wide state in gesta: a count of the OpenCL backends
 * alive, mirroring CLBlast's own global cache; the last one to go clears
 * it. */
static atomic_int clblast_backends;

void gesta_opencl_clblast_acquire(gesta_opencl *cl) {
  (void)cl;
  atomic_fetch_add(&clblast_backends, 1);
}

void gesta_opencl_clblast_release(gesta_opencl *cl) {
  if (atomic_fetch_sub(&clblast_backends, 1) == 1) {
    /* Programs CLBlast compiled retain our context: release them while the
     * context still exists. */
    CLBlastClearCache();
    gesta_log(cl->ctx, GESTA_LOG_DEBUG, "CLBlast cache cleared");
  }
}

static const char *clblast_status_name(CLBlastStatusCode status) {
  switch (status) {
#define CLBLAST_NAME(x)                                                        \
  case x:                                                                      \
    return #x
    CLBLAST_NAME(CLBlastNotImplemented);
    CLBLAST_NAME(CLBlastInvalidMatrixA);
    CLBLAST_NAME(CLBlastInvalidMatrixB);
    CLBLAST_NAME(CLBlastInvalidMatrixC);
    CLBLAST_NAME(CLBlastInvalidVectorX);
    CLBLAST_NAME(CLBlastInvalidVectorY);
    CLBLAST_NAME(CLBlastInvalidDimension);
    CLBLAST_NAME(CLBlastInvalidLeadDimA);
    CLBLAST_NAME(CLBlastInvalidLeadDimB);
    CLBLAST_NAME(CLBlastInvalidLeadDimC);
    CLBLAST_NAME(CLBlastInvalidIncrementX);
    CLBLAST_NAME(CLBlastInvalidIncrementY);
    CLBLAST_NAME(CLBlastInsufficientMemoryA);
    CLBLAST_NAME(CLBlastInsufficientMemoryB);
    CLBLAST_NAME(CLBlastInsufficientMemoryC);
    CLBLAST_NAME(CLBlastInsufficientMemoryX);
    CLBLAST_NAME(CLBlastInsufficientMemoryY);
    CLBLAST_NAME(CLBlastInsufficientMemoryTemp);
    CLBLAST_NAME(CLBlastInvalidBatchCount);
    CLBLAST_NAME(CLBlastInvalidOverrideKernel);
    CLBLAST_NAME(CLBlastMissingOverrideParameter);
    CLBLAST_NAME(CLBlastInvalidLocalMemUsage);
    CLBLAST_NAME(CLBlastNoHalfPrecision);
    CLBLAST_NAME(CLBlastNoDoublePrecision);
    CLBLAST_NAME(CLBlastInvalidVectorScalar);
    CLBLAST_NAME(CLBlastInsufficientMemoryScalar);
    CLBLAST_NAME(CLBlastDatabaseError);
    CLBLAST_NAME(CLBlastUnknownError);
    CLBLAST_NAME(CLBlastUnexpectedError);
#undef CLBLAST_NAME
  default:
    /* The others are OpenCL's own codes, under their OpenCL names. */
    return gesta_opencl_status_name((cl_int)status);
  }
}

gesta_status gesta_opencl_sgemm(gesta_opencl *cl, bool trans_a, bool trans_b,
                                size_t m, size_t n, size_t k, float alpha,
                                cl_mem a, size_t a_offset, size_t lda, cl_mem b,
                                size_t b_offset, size_t ldb, float beta,
                                cl_mem c, size_t c_offset, size_t ldc,
                                gesta_error *err) {
  CLBlastStatusCode status;
  gesta_status st;
  cl_event *event;
  gesta_opencl_record *record;
  if (m == 0 || n == 0)
    return GESTA_STATUS_OK;
  event = gesta_opencl_profile_event(cl, GESTA_OPENCL_GEMM);
  record = event ? gesta_opencl_profile_last(cl) : NULL;
  if (record) {
    snprintf(record->what, sizeof record->what, "sgemm %zux%zux%zu", m, n, k);
    record->gemm_size = (uint64_t)m * (uint64_t)n * (uint64_t)k;
  }
  /* A marker's end is when CLBlast's first kernel can start; without one
   * the GEMM is timed by its last kernel alone. */
  if (record && clEnqueueMarkerWithWaitList(cl->queue, 0, NULL,
                                            &record->start) != CL_SUCCESS)
    record->start = NULL;
  status = CLBlastSgemm(CLBlastLayoutRowMajor,
                        trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m,
                        n, k, alpha, a, a_offset, lda, b, b_offset, ldb, beta,
                        c, c_offset, ldc, &cl->queue, event);
  if (status == CLBlastSuccess)
    return GESTA_STATUS_OK;
  st = status == CLBlastTempBufferAllocFailure ||
               status == CLBlastOpenCLOutOfHostMemory
           ? GESTA_STATUS_OUT_OF_MEMORY
           : GESTA_STATUS_BACKEND_ERROR;
  gesta_error_set(err, st, "CLBlastSgemm(m=%zu, n=%zu, k=%zu%s%s) on %s: %s", m,
                  n, k, trans_a ? ", A transposed" : "",
                  trans_b ? ", B transposed" : "", cl->label,
                  clblast_status_name(status));
  gesta_error_add_detail(err,
                         "CLBlast status %d; offsets a=%zu b=%zu c=%zu, "
                         "leading dimensions %zu %zu %zu",
                         (int)status, a_offset, b_offset, c_offset, lda, ldb,
                         ldc);
  return st;
}
