/* The OpenCL backend itself, on every device the ICD loader lists (PoCL,
 * and Oclgrind in the test environment: shapes stay tiny for it):
 * discovery and the default device, device specs, buffers, launches,
 * CLBlast GEMMs against a naive loop, build errors with their log, and the
 * disk cache (reuse, corruption, bypass). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../backends/opencl/opencl_private.h"
#include "gesta/gesta.h"

#ifndef GESTA_TEST_TMP
#define GESTA_TEST_TMP "/tmp"
#endif

typedef struct test_log {
  char text[16384];
  size_t used;
} test_log;

static void test_log_fn(void *user, gesta_log_level level,
                        const char *message) {
  test_log *log = user;
  int n;
  (void)level;
  if (log->used >= sizeof log->text)
    return;
  n = snprintf(log->text + log->used, sizeof log->text - log->used, "%s\n",
               message);
  if (n > 0)
    log->used += (size_t)n;
}

static void test_context(gesta_context *ctx, test_log *log) {
  gesta_context_init(ctx);
  ctx->log_level = GESTA_LOG_DEBUG;
  ctx->log_fn = test_log_fn;
  ctx->log_user = log;
  memset(log, 0, sizeof *log);
}

/* Every device, as "P:D" specs. */
typedef struct test_devices {
  gesta_opencl_device_info *info;
  int n;
} test_devices;

static int test_devices_setup(void **state) {
  static test_devices devices;
  gesta_error err;
  if (gesta_opencl_list_devices(&devices.info, &devices.n, &err) !=
      GESTA_STATUS_OK) {
    fprintf(stderr, "listing devices: %s\n", err.message);
    return -1;
  }
  *state = &devices;
  return 0;
}

static int test_devices_teardown(void **state) {
  test_devices *devices = *state;
  free(devices->info);
  return 0;
}

static gesta_backend *test_open(const gesta_context *ctx,
                                const gesta_opencl_device_info *info,
                                const char *cache_dir, bool no_cache) {
  char spec[32];
  gesta_opencl_options options = {0};
  gesta_backend *b = NULL;
  gesta_error err;
  snprintf(spec, sizeof spec, "%d:%d", info->platform_index,
           info->device_index);
  options.device_spec = spec;
  options.cache_dir = cache_dir;
  options.no_kernel_cache = no_cache;
  if (gesta_backend_opencl_new(ctx, &options, &b, &err) != GESTA_STATUS_OK)
    fail_msg("opening %s: %s", spec, err.message);
  return b;
}

static const gesta_opencl_device_info *
test_default(const test_devices *devices) {
  for (int i = 0; i < devices->n; i++)
    if (devices->info[i].is_default)
      return &devices->info[i];
  return NULL;
}

static void test_listing(void **state) {
  test_devices *devices = *state;
  int defaults = 0;
  if (devices->n == 0)
    skip(); /* no OpenCL driver installed: nothing else to test */
  for (int i = 0; i < devices->n; i++) {
    const gesta_opencl_device_info *d = &devices->info[i];
    assert_true(d->name[0] != '\0');
    assert_true(d->compute_units > 0);
    assert_true(d->max_alloc_bytes > 0);
    assert_true(d->max_alloc_bytes <= d->global_mem_bytes);
    defaults += d->is_default;
    print_message("  %d:%d %s | %s | %s%s\n", d->platform_index,
                  d->device_index, d->name, d->platform, d->type,
                  d->is_default ? " (default)" : "");
  }
  assert_int_equal(defaults, 1);
  /* Oclgrind simulates every access: never the default when another
   * device exists. */
  if (devices->n > 1)
    assert_false(gesta_opencl_is_simulator(test_default(devices)));
}

static void test_bad_spec(void **state) {
  test_devices *devices = *state;
  gesta_context ctx;
  test_log log;
  gesta_opencl_options options = {.device_spec = "no-such-device-xyz"};
  gesta_backend *b = NULL;
  gesta_error err;
  if (devices->n == 0)
    skip();
  test_context(&ctx, &log);
  assert_int_equal(gesta_backend_opencl_new(&ctx, &options, &b, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_null(b);
  assert_non_null(strstr(err.message, "no-such-device-xyz"));
  assert_non_null(strstr(err.message, devices->info[0].name));
  options.device_spec = "99:0";
  assert_int_equal(gesta_backend_opencl_new(&ctx, &options, &b, &err),
                   GESTA_STATUS_BAD_INPUT);
  /* A name substring, case-insensitively. */
  options.device_spec = "PORTABLE";
  if (strstr(devices->info[0].platform, "Portable") ||
      (devices->n > 1 && strstr(devices->info[1].platform, "Portable"))) {
    assert_int_equal(gesta_backend_opencl_new(&ctx, &options, &b, &err),
                     GESTA_STATUS_OK);
    assert_string_equal(gesta_backend_name(b), "opencl");
    assert_int_equal(strncmp(gesta_backend_device_name(b), "opencl (", 8), 0);
    gesta_backend_free(b);
  }
}

static void test_status_names(void **state) {
  gesta_error err;
  (void)state;
  assert_string_equal(gesta_opencl_status_name(CL_OUT_OF_RESOURCES),
                      "CL_OUT_OF_RESOURCES");
  assert_string_equal(gesta_opencl_status_name(-1001),
                      "CL_PLATFORM_NOT_FOUND_KHR");
  assert_int_equal(gesta_opencl_check(CL_SUCCESS, "x", &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_opencl_check(CL_INVALID_KERNEL_ARGS,
                                      "clEnqueueNDRangeKernel(k)", &err),
                   GESTA_STATUS_BACKEND_ERROR);
  assert_string_equal(err.message,
                      "clEnqueueNDRangeKernel(k): CL_INVALID_KERNEL_ARGS");
}

/* Upload, download, offsets; and an allocation past the device's limit. */
static void test_buffers(void **state) {
  test_devices *devices = *state;
  for (int i = 0; i < devices->n; i++) {
    gesta_context ctx;
    test_log log;
    gesta_backend *b;
    gesta_buffer *buf = NULL;
    gesta_error err;
    float in[37], out[37];
    test_context(&ctx, &log);
    b = test_open(&ctx, &devices->info[i], NULL, true);
    for (int k = 0; k < 37; k++)
      in[k] = (float)k * 0.5f - 3.0f;
    assert_int_equal(gesta_buffer_new(b, sizeof in, &buf, &err),
                     GESTA_STATUS_OK);
    assert_int_equal(gesta_buffer_upload(buf, 0, in, sizeof in, &err),
                     GESTA_STATUS_OK);
    memset(out, 0, sizeof out);
    assert_int_equal(gesta_buffer_download(buf, 0, out, sizeof out, &err),
                     GESTA_STATUS_OK);
    assert_memory_equal(in, out, sizeof in);
    /* Overwrite floats 5..14 with floats 20..29 of the host array. */
    assert_int_equal(gesta_buffer_upload(buf, 5 * sizeof(float), in + 20,
                                         10 * sizeof(float), &err),
                     GESTA_STATUS_OK);
    assert_int_equal(gesta_buffer_download(buf, 3 * sizeof(float), out,
                                           14 * sizeof(float), &err),
                     GESTA_STATUS_OK);
    assert_memory_equal(out, in + 3, 2 * sizeof(float));
    assert_memory_equal(out + 2, in + 20, 10 * sizeof(float));
    assert_memory_equal(out + 12, in + 15, 2 * sizeof(float));
    assert_int_equal(gesta_backend_synchronize(b, &err), GESTA_STATUS_OK);
    gesta_buffer_free(buf);
    buf = NULL;
    assert_int_equal(
        gesta_buffer_new(b, (size_t)devices->info[i].max_alloc_bytes + 4096,
                         &buf, &err),
        GESTA_STATUS_OUT_OF_MEMORY);
    assert_null(buf);
    assert_non_null(strstr(err.message, devices->info[i].name));
    gesta_backend_free(b);
  }
}

static void test_naive_gemm(bool ta, bool tb, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb,
                            float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0.0;
      for (int p = 0; p < k; p++)
        s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
             (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * ldc + j] = (float)(alpha * s + beta * c[i * ldc + j]);
    }
}

/* Row-major GEMMs with offsets, padded leading dimensions and every
 * transpose combination against a double-precision loop. */
static void test_check_sgemm(gesta_backend *b, const char *what) {
  enum { M = 5, N = 3, K = 4, PAD = 2, OFF = 3, SIZE = 64 };
  gesta_opencl *cl = gesta_opencl_from_backend(b);
  assert_non_null(cl);
  for (int t = 0; t < 4; t++) {
    bool ta = t & 1, tb = t & 2;
    int lda = (ta ? M : K) + PAD, ldb = (tb ? K : N) + PAD, ldc = N + PAD;
    float a[SIZE], bm[SIZE], c[SIZE], want[SIZE];
    gesta_buffer *da = NULL, *db = NULL, *dc = NULL;
    gesta_error err;
    for (int x = 0; x < SIZE; x++) {
      a[x] = (float)((x * 7) % 11) * 0.25f - 1.0f;
      bm[x] = (float)((x * 5) % 13) * 0.125f - 0.5f;
      c[x] = want[x] = (float)(x % 3) - 1.0f;
    }
    test_naive_gemm(ta, tb, M, N, K, 1.5f, a + OFF, lda, bm + OFF, ldb, 0.5f,
                    want + OFF, ldc);
    assert_int_equal(gesta_buffer_new(b, sizeof a, &da, &err), GESTA_STATUS_OK);
    assert_int_equal(gesta_buffer_new(b, sizeof bm, &db, &err),
                     GESTA_STATUS_OK);
    assert_int_equal(gesta_buffer_new(b, sizeof c, &dc, &err), GESTA_STATUS_OK);
    assert_int_equal(gesta_buffer_upload(da, 0, a, sizeof a, &err),
                     GESTA_STATUS_OK);
    assert_int_equal(gesta_buffer_upload(db, 0, bm, sizeof bm, &err),
                     GESTA_STATUS_OK);
    assert_int_equal(gesta_buffer_upload(dc, 0, c, sizeof c, &err),
                     GESTA_STATUS_OK);
    if (gesta_opencl_sgemm(cl, ta, tb, M, N, K, 1.5f, da->handle, OFF,
                           (size_t)lda, db->handle, OFF, (size_t)ldb, 0.5f,
                           dc->handle, OFF, (size_t)ldc,
                           &err) != GESTA_STATUS_OK)
      fail_msg("%s: %s", what, err.message);
    assert_int_equal(gesta_buffer_download(dc, 0, c, sizeof c, &err),
                     GESTA_STATUS_OK);
    for (int x = 0; x < SIZE; x++)
      if (!(c[x] - want[x] < 1e-5f && want[x] - c[x] < 1e-5f))
        fail_msg("%s, trans %d%d: c[%d] = %g, want %g", what, ta, tb, x, c[x],
                 want[x]);
    gesta_buffer_free(da);
    gesta_buffer_free(db);
    gesta_buffer_free(dc);
  }
}

static void test_sgemm(void **state) {
  test_devices *devices = *state;
  for (int i = 0; i < devices->n; i++) {
    gesta_context ctx;
    test_log log;
    gesta_backend *b;
    gesta_opencl *cl;
    test_context(&ctx, &log);
    b = test_open(&ctx, &devices->info[i], NULL, true);
    cl = gesta_opencl_from_backend(b);
    test_check_sgemm(b, devices->info[i].name);
    /* A bad leading dimension is CLBlast's error, named. */
    {
      gesta_buffer *d = NULL;
      gesta_error err;
      assert_int_equal(gesta_buffer_new(b, 256, &d, &err), GESTA_STATUS_OK);
      assert_int_equal(gesta_opencl_sgemm(cl, false, false, 4, 4, 4, 1.0f,
                                          d->handle, 0, 2, d->handle, 0, 4,
                                          0.0f, d->handle, 0, 4, &err),
                       GESTA_STATUS_BACKEND_ERROR);
      assert_non_null(strstr(err.message, "CLBlastInvalidLeadDimA"));
      gesta_buffer_free(d);
    }
    gesta_backend_free(b);
  }
}

static void test_write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static void test_mkdir(const char *path) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
  assert_int_equal(system(cmd), 0);
}

/* A prelude replaced through GESTA_CL_SOURCE_DIR with one that has a
 * kernel: launches on every device, with the prelude's activations. */
static void test_launch(void **state) {
  static const char test_kernel[] =
      "kernel void gesta_test_fill(global float *y, uint offset, uint n,\n"
      "                            float v, int act) {\n"
      "  uint i = get_global_id(0);\n"
      "  if (i < n) y[offset + i] = gesta_activate(v * (float)i, act);\n"
      "}\n";
  test_devices *devices = *state;
  char dir[512], path[600], *source = NULL;
  size_t length = 0;
  const gesta_cl_source *prelude = NULL;
  FILE *f;
  gesta_error err;

  for (int i = 0; i < gesta_cl_source_count && !prelude; i++)
    if (strcmp(gesta_cl_sources[i].program, "prelude") == 0)
      prelude = &gesta_cl_sources[i];
  assert_non_null(prelude);
  snprintf(dir, sizeof dir, "%s/opencl-src", GESTA_TEST_TMP);
  test_mkdir(dir);
  snprintf(path, sizeof path, "%s/prelude", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/prelude/%s", dir, prelude->file);
  f = fopen(path, "wb");
  assert_non_null(f);
  fwrite(prelude->text, 1, prelude->length, f);
  fputs("\n", f);
  fputs(test_kernel, f);
  assert_int_equal(fclose(f), 0);
  setenv("GESTA_CL_SOURCE_DIR", dir, 1);

  assert_int_equal(
      gesta_opencl_program_source(NULL, "prelude", &source, &length, &err),
      GESTA_STATUS_OK);
  assert_non_null(strstr(source, "gesta_test_fill"));
  free(source);
  assert_int_equal(
      gesta_opencl_program_source(NULL, "no_such_op", &source, &length, &err),
      GESTA_STATUS_BAD_INPUT);

  for (int d = 0; d < devices->n; d++) {
    enum { N = 19, LOCAL = 8, OFF = 2 };
    gesta_context ctx;
    test_log log;
    gesta_backend *b;
    gesta_opencl *cl;
    gesta_buffer *buf = NULL;
    float out[N + OFF + 4];
    cl_mem mem;
    cl_uint offset = OFF, n = N;
    float v = 0.25f;
    int act = 2, bad = 0;
    size_t global = N, local = LOCAL;
    test_context(&ctx, &log);
    b = test_open(&ctx, &devices->info[d], NULL, true);
    cl = gesta_opencl_from_backend(b);
    assert_int_equal(gesta_buffer_new(b, sizeof out, &buf, &err),
                     GESTA_STATUS_OK);
    memset(out, 0, sizeof out);
    assert_int_equal(gesta_buffer_upload(buf, 0, out, sizeof out, &err),
                     GESTA_STATUS_OK);
    mem = buf->handle;
    {
      gesta_cl_arg args[] = {GESTA_CL_ARG(mem), GESTA_CL_ARG(offset),
                             GESTA_CL_ARG(n), GESTA_CL_ARG(v),
                             GESTA_CL_ARG(act)};
      /* global 19 is rounded up to 24: the kernel's bound check holds. */
      if (gesta_opencl_launch(cl, "prelude", "gesta_test_fill", 1, &global,
                              &local, args, 5, &err) != GESTA_STATUS_OK)
        fail_msg("%s\n%s", err.message, err.detail);
      /* A wrong argument size names the kernel and the argument. */
      args[2].size = 1;
      assert_int_equal(gesta_opencl_launch(cl, "prelude", "gesta_test_fill", 1,
                                           &global, NULL, args, 5, &err),
                       GESTA_STATUS_BACKEND_ERROR);
      assert_non_null(strstr(err.message, "gesta_test_fill, arg 2"));
      assert_int_equal(gesta_opencl_launch(cl, "prelude", "no_such_kernel", 1,
                                           &global, NULL, args, 5, &err),
                       GESTA_STATUS_INTERNAL);
    }
    assert_int_equal(gesta_buffer_download(buf, 0, out, sizeof out, &err),
                     GESTA_STATUS_OK);
    for (int k = 0; k < (int)(sizeof out / sizeof out[0]); k++) {
      float want = k >= OFF && k < OFF + N
                       ? 1.0f / (1.0f + expf(-0.25f * (float)(k - OFF)))
                       : 0.0f;
      bad += !(out[k] - want < 1e-6f && want - out[k] < 1e-6f);
    }
    assert_int_equal(bad, 0);
    gesta_buffer_free(buf);
    gesta_backend_free(b);
  }
  unsetenv("GESTA_CL_SOURCE_DIR");
}

/* A syntax error: BACKEND_ERROR naming program and device, the log in the
 * detail. Through GESTA_CL_SOURCE_DIR, as a kernel developer meets it. */
static void test_build_error(void **state) {
  test_devices *devices = *state;
  const gesta_opencl_device_info *info = test_default(devices);
  char dir[512], path[600];
  gesta_context ctx;
  test_log log;
  gesta_backend *b;
  cl_kernel k;
  gesta_error err;
  const char *file = NULL;
  if (!info)
    skip();
  for (int i = 0; i < gesta_cl_source_count && !file; i++)
    if (strcmp(gesta_cl_sources[i].program, "prelude") == 0)
      file = gesta_cl_sources[i].file;
  snprintf(dir, sizeof dir, "%s/opencl-broken", GESTA_TEST_TMP);
  test_mkdir(dir);
  snprintf(path, sizeof path, "%s/prelude", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/prelude/%s", dir, file);
  test_write_file(path, "float broken(float x) { return x +* ; }\n");
  setenv("GESTA_CL_SOURCE_DIR", dir, 1);
  test_context(&ctx, &log);
  b = test_open(&ctx, info, NULL, true);
  assert_int_equal(gesta_opencl_kernel_get(gesta_opencl_from_backend(b),
                                           "prelude", "anything", &k, &err),
                   GESTA_STATUS_BACKEND_ERROR);
  assert_non_null(strstr(err.message, "cannot build OpenCL program 'prelude'"));
  assert_non_null(strstr(err.message, info->name));
  assert_non_null(strstr(err.message, "--verbose"));
  assert_non_null(strstr(err.detail, "build log:"));
  assert_non_null(strstr(err.detail, "error"));
  assert_non_null(strstr(log.text, "using "));
  gesta_backend_free(b);
  unsetenv("GESTA_CL_SOURCE_DIR");
}

static const char test_cache_source[] =
    "kernel void gesta_test_scale(global float *x, float s) {\n"
    "  x[get_global_id(0)] *= s;\n"
    "}\n";

/* Builds the test program, runs it once, returns the backend's counters. */
static gesta_opencl_stats test_cache_round(const gesta_opencl_device_info *info,
                                           const char *cache_dir, bool no_cache,
                                           test_log *log) {
  gesta_context ctx;
  gesta_backend *b;
  gesta_opencl *cl;
  gesta_opencl_stats stats;
  cl_program program = NULL;
  cl_kernel kernel;
  cl_int rc;
  gesta_buffer *buf = NULL;
  gesta_error err;
  float x[4] = {1, 2, 3, 4}, s = 2.0f;
  size_t global = 4;
  cl_mem mem;

  test_context(&ctx, log);
  b = test_open(&ctx, info, cache_dir, no_cache);
  cl = gesta_opencl_from_backend(b);
  if (gesta_opencl_build_source(cl, "cachetest", test_cache_source,
                                strlen(test_cache_source), &program,
                                &err) != GESTA_STATUS_OK)
    fail_msg("%s\n%s", err.message, err.detail);
  /* Whatever the program came from, it must run. */
  kernel = clCreateKernel(program, "gesta_test_scale", &rc);
  assert_int_equal(rc, CL_SUCCESS);
  assert_int_equal(gesta_buffer_new(b, sizeof x, &buf, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_buffer_upload(buf, 0, x, sizeof x, &err),
                   GESTA_STATUS_OK);
  mem = buf->handle;
  assert_int_equal(clSetKernelArg(kernel, 0, sizeof mem, &mem), CL_SUCCESS);
  assert_int_equal(clSetKernelArg(kernel, 1, sizeof s, &s), CL_SUCCESS);
  assert_int_equal(clEnqueueNDRangeKernel(gesta_opencl_queue(cl), kernel, 1,
                                          NULL, &global, NULL, 0, NULL, NULL),
                   CL_SUCCESS);
  assert_int_equal(gesta_buffer_download(buf, 0, x, sizeof x, &err),
                   GESTA_STATUS_OK);
  assert_true(x[0] == 2.0f && x[3] == 8.0f);
  clReleaseKernel(kernel);
  clReleaseProgram(program);
  gesta_buffer_free(buf);
  stats = cl->stats;
  gesta_backend_free(b);
  return stats;
}

/* The single cache file in dir (its path), or fails. */
static void test_cache_file(const char *dir, char *path, size_t size) {
  char cmd[1024];
  FILE *p;
  snprintf(cmd, sizeof cmd, "ls '%s'/kernels/cachetest-*.clbin", dir);
  p = popen(cmd, "r");
  assert_non_null(p);
  assert_non_null(fgets(path, (int)size, p));
  path[strcspn(path, "\n")] = '\0';
  pclose(p);
}

static void test_disk_cache(void **state) {
  test_devices *devices = *state;
  const gesta_opencl_device_info *info = test_default(devices);
  char dir[512], path[1024], cmd[1200];
  gesta_opencl_stats s;
  test_log log;
  struct stat st;
  FILE *f;
  if (!info)
    skip();
  snprintf(dir, sizeof dir, "%s/opencl-cache", GESTA_TEST_TMP);
  test_mkdir(dir);

  s = test_cache_round(info, dir, false, &log);
  assert_int_equal(s.built_from_source, 1);
  assert_int_equal(s.loaded_from_cache, 0);
  assert_int_equal(s.cache_written, 1);
  assert_non_null(strstr(log.text, "built from source in"));

  s = test_cache_round(info, dir, false, &log);
  assert_int_equal(s.built_from_source, 0);
  assert_int_equal(s.loaded_from_cache, 1);
  assert_int_equal(s.cache_written, 0);
  assert_non_null(strstr(log.text, "from the kernel cache"));

  /* Damage inside the binary: the checksum catches it, the program is
   * rebuilt and the file replaced. */
  test_cache_file(dir, path, sizeof path);
  assert_int_equal(stat(path, &st), 0);
  f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, (long)st.st_size - 9, SEEK_SET), 0);
  fputs("garbage", f);
  assert_int_equal(fclose(f), 0);
  s = test_cache_round(info, dir, false, &log);
  assert_int_equal(s.cache_rejected, 1);
  assert_int_equal(s.built_from_source, 1);
  assert_int_equal(s.cache_written, 1);
  assert_non_null(strstr(log.text, "checksum"));
  s = test_cache_round(info, dir, false, &log);
  assert_int_equal(s.loaded_from_cache, 1);

  /* Truncated (a crash mid-copy, a full disk). */
  assert_int_equal(truncate(path, st.st_size / 2), 0);
  s = test_cache_round(info, dir, false, &log);
  assert_int_equal(s.cache_rejected, 1);
  assert_int_equal(s.built_from_source, 1);

  /* Not a cache file at all. */
  test_write_file(path, "GESTACLB but not really");
  s = test_cache_round(info, dir, false, &log);
  assert_int_equal(s.cache_rejected, 1);
  assert_int_equal(s.built_from_source, 1);

  /* --no-kernel-cache: reads nothing, writes nothing. */
  snprintf(dir, sizeof dir, "%s/opencl-nocache", GESTA_TEST_TMP);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
  s = test_cache_round(info, dir, true, &log);
  assert_int_equal(s.built_from_source, 1);
  assert_int_equal(s.cache_written, 0);
  assert_int_not_equal(stat(dir, &st), 0);
}

static uint64_t test_param(const gesta_clblast_params *p, const char *name) {
  for (int i = 0; i < p->n; i++)
    if (strcmp(p->names[i], name) == 0)
      return p->values[i];
  fail_msg("%s has no parameter %s", p->kernel, name);
  return 0;
}

static void test_routing(gesta_backend *b, uint64_t edge) {
  gesta_clblast_params r = {.kernel = "GemmRoutine", .n = 1};
  gesta_error err;
  snprintf(r.names[0], sizeof r.names[0], "XGEMM_MIN_INDIRECT_SIZE");
  r.values[0] = edge;
  assert_int_equal(gesta_opencl_clblast_override(b, &r, &err), GESTA_STATUS_OK);
}

/* gesta tune's parts: candidate sets that keep CLBlast's rules, GEMMs that
 * stay right under other parameters through either kernel, and the tuning
 * file written, applied by the next backend, skipped on request and
 * survived when damaged. On the default device only: every candidate is a
 * CLBlast compile. Runs last: CLBlast's parameters are process-wide. */
static void test_clblast_tuning(void **state) {
  test_devices *devices = *state;
  const gesta_opencl_device_info *info = test_default(devices);
  gesta_clblast_params *xg = NULL, *direct = NULL, sets[3];
  int n_xg = 0, n_direct = 0;
  char dir[512], path[4096];
  gesta_context ctx;
  test_log log;
  gesta_backend *b;
  gesta_error err;
  FILE *f;
  if (!info)
    skip();
  test_context(&ctx, &log);
  snprintf(dir, sizeof dir, "%s/opencl-tune", GESTA_TEST_TMP);
  b = test_open(&ctx, info, dir, false);
  assert_int_equal(gesta_clblast_candidates(b, "Xgemm", &xg, &n_xg, &err),
                   GESTA_STATUS_OK);
  assert_int_equal(
      gesta_clblast_candidates(b, "XgemmDirect", &direct, &n_direct, &err),
      GESTA_STATUS_OK);
  assert_true(n_xg > 0 && n_direct > 0);
  for (int i = 0; i < n_xg; i++) {
    const gesta_clblast_params *p = &xg[i];
    assert_int_equal(p->n, 16);
    assert_int_equal(test_param(p, "MWG") %
                         (test_param(p, "MDIMC") * test_param(p, "VWM")),
                     0);
    assert_int_equal(test_param(p, "NWG") %
                         (test_param(p, "NDIMC") * test_param(p, "VWN")),
                     0);
    assert_true(test_param(p, "SA") * 4 * test_param(p, "KWG") *
                    (test_param(p, "MWG") + test_param(p, "NWG")) <=
                info->local_mem_bytes);
  }
  for (int i = 0; i < n_direct; i++)
    assert_int_equal(
        test_param(&direct[i], "WGD") %
            (test_param(&direct[i], "MDIMCD") * test_param(&direct[i], "VWMD")),
        0);
  {
    gesta_clblast_params *none = NULL;
    int n_none = 0;
    assert_int_equal(gesta_clblast_candidates(b, "Xaxpy", &none, &n_none, &err),
                     GESTA_STATUS_BAD_INPUT);
    assert_non_null(strstr(err.message, "Xaxpy"));
    assert_null(none);
  }

  /* The last sets of each space (the largest tiles and vectors), every
   * GEMM through Xgemm, then every GEMM through XgemmDirect. */
  sets[0] = xg[n_xg - 1];
  sets[1] = direct[n_direct - 1];
  assert_int_equal(gesta_opencl_clblast_override(b, &sets[0], &err),
                   GESTA_STATUS_OK);
  assert_int_equal(gesta_opencl_clblast_override(b, &sets[1], &err),
                   GESTA_STATUS_OK);
  test_routing(b, 0);
  test_check_sgemm(b, "Xgemm overridden");
  test_routing(b, 1u << 20);
  test_check_sgemm(b, "XgemmDirect overridden");
  sets[0].n = 3; /* CLBlast wants every parameter */
  assert_int_equal(gesta_opencl_clblast_override(b, &sets[0], &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "missing"));
  sets[0] = xg[n_xg - 1];

  memset(&sets[2], 0, sizeof sets[2]);
  snprintf(sets[2].kernel, sizeof sets[2].kernel, "GemmRoutine");
  snprintf(sets[2].names[0], sizeof sets[2].names[0],
           "XGEMM_MIN_INDIRECT_SIZE");
  sets[2].values[0] = 64;
  sets[2].n = 1;
  assert_int_equal(
      gesta_opencl_tuning_save(b, sets, 3, "a test", path, sizeof path, &err),
      GESTA_STATUS_OK);
  assert_non_null(strstr(path, dir));
  gesta_backend_free(b);

  test_context(&ctx, &log);
  b = test_open(&ctx, info, dir, false);
  assert_non_null(strstr(log.text, "CLBlast tuning for"));
  assert_non_null(strstr(log.text, "(3 kernels)"));
  test_check_sgemm(b, "tuning file applied");
  gesta_backend_free(b);

  {
    gesta_opencl_options options = {0};
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", info->platform_index,
             info->device_index);
    options.device_spec = spec;
    options.cache_dir = dir;
    options.no_tuning = true;
    test_context(&ctx, &log);
    assert_int_equal(gesta_backend_opencl_new(&ctx, &options, &b, &err),
                     GESTA_STATUS_OK);
    assert_null(strstr(log.text, "CLBlast tuning for"));
    gesta_backend_free(b);
  }

  /* A damaged file costs its bad lines, not the backend. */
  f = fopen(path, "a");
  assert_non_null(f);
  fputs("Xgemm MWG=\nNoSuchKernel A=1\n", f);
  fclose(f);
  test_context(&ctx, &log);
  b = test_open(&ctx, info, dir, false);
  assert_non_null(strstr(log.text, ":7: not 'KERNEL NAME=VALUE"));
  assert_non_null(
      strstr(log.text, ":8: CLBlastOverrideParameters(NoSuchKernel"));
  assert_non_null(strstr(log.text, "(3 kernels)"));
  gesta_backend_free(b);
  free(xg);
  free(direct);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_listing),        cmocka_unit_test(test_bad_spec),
      cmocka_unit_test(test_status_names),   cmocka_unit_test(test_buffers),
      cmocka_unit_test(test_sgemm),          cmocka_unit_test(test_launch),
      cmocka_unit_test(test_build_error),    cmocka_unit_test(test_disk_cache),
      cmocka_unit_test(test_clblast_tuning),
  };
  return cmocka_run_group_tests(tests, test_devices_setup,
                                test_devices_teardown);
}
