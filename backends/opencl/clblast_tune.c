/* CLBlast's GEMM tuning parameters: the candidate sets gesta tune tries,
 * handing a set to CLBlast, and the per-device tuning file that every
 * OpenCL backend applies when it opens.
 *
 * CLBlast's own tuners are C++ programs outside its C API; what the C API
 * has is CLBlastOverrideParameters, which makes the next GEMM recompile
 * with the given parameters. So gesta searches CLBlast's limited parameter
 * space itself, on the GEMMs a model really runs, and keeps the winners in
 * a text file next to the kernel cache, keyed like the cached binaries by
 * device, device version, driver and platform version. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* First: it sets the OpenCL version the CL headers target. */
#include "opencl_private.h"

#include <clblast_c.h>

#define TUNE_FNV_OFFSET 0xcbf29ce484222325ull
/* Bump when the file's meaning changes. */
#define TUNE_FORMAT "gesta-clblast-tuning 1"

static void tune_set(gesta_clblast_params *p, const char *name,
                     uint64_t value) {
  snprintf(p->names[p->n], sizeof p->names[0], "%s", name);
  p->values[p->n++] = value;
}

static bool tune_multiple(uint64_t x, uint64_t of) {
  return of != 0 && x % of == 0;
}

/* CLBlast's exhaustive "limited" space for Xgemm (its tuner's first
 * variation): work-group tiles of 16-64, thread blocks of 8-32 with the
 * loading blocks equal to them, vectors of 1-4, local memory for both
 * matrices or neither. */
static int tune_xgemm(uint64_t local_mem, uint64_t max_wg,
                      gesta_clblast_params *out) {
  static const uint64_t wg[] = {16, 32, 64}, dim[] = {8, 16, 32},
                        vw[] = {1, 2, 4};
  const uint64_t kwg = 32;
  int n = 0;
  for (int sa = 0; sa <= 1; sa++)
    for (int a = 0; a < 3; a++)             /* MWG */
      for (int b = 0; b < 3; b++)           /* NWG */
        for (int c = 0; c < 3; c++)         /* MDIMC = MDIMA */
          for (int d = 0; d < 3; d++)       /* NDIMC = NDIMB */
            for (int e = 0; e < 3; e++)     /* VWM */
              for (int f = 0; f < 3; f++) { /* VWN */
                uint64_t mwg = wg[a], nwg = wg[b], mdim = dim[c], ndim = dim[d];
                uint64_t lmem = (uint64_t)sa * kwg * (mwg + nwg) * 4u;
                if (!tune_multiple(mwg, mdim * vw[e]) ||
                    !tune_multiple(nwg, ndim * vw[f]) ||
                    !tune_multiple(kwg, ndim) || !tune_multiple(kwg, mdim) ||
                    mdim * ndim > max_wg || lmem > local_mem)
                  continue;
                if (out) {
                  gesta_clblast_params *p = &out[n];
                  memset(p, 0, sizeof *p);
                  snprintf(p->kernel, sizeof p->kernel, "Xgemm");
                  tune_set(p, "GEMMK", 0);
                  tune_set(p, "KREG", 1);
                  tune_set(p, "KWG", kwg);
                  tune_set(p, "KWI", 2);
                  tune_set(p, "MDIMA", mdim);
                  tune_set(p, "MDIMC", mdim);
                  tune_set(p, "MWG", mwg);
                  tune_set(p, "NDIMB", ndim);
                  tune_set(p, "NDIMC", ndim);
                  tune_set(p, "NWG", nwg);
                  tune_set(p, "SA", (uint64_t)sa);
                  tune_set(p, "SB", (uint64_t)sa);
                  tune_set(p, "STRM", 0);
                  tune_set(p, "STRN", 0);
                  tune_set(p, "VWM", vw[e]);
                  tune_set(p, "VWN", vw[f]);
                }
                n++;
              }
  return n;
}

/* The same for XgemmDirect, the kernel CLBlast uses for small GEMMs: one
 * square work-group tile of 8-32, thread blocks of 8-32, vectors of 1-8. */
static int tune_xgemm_direct(uint64_t local_mem, uint64_t max_wg,
                             gesta_clblast_params *out) {
  static const uint64_t wgd[] = {8, 16, 32}, dim[] = {8, 16, 32},
                        vw[] = {1, 2, 4, 8};
  int n = 0;
  for (int a = 0; a < 3; a++)
    for (int c = 0; c < 3; c++)
      for (int d = 0; d < 3; d++)
        for (int e = 0; e < 4; e++)
          for (int f = 0; f < 4; f++) {
            uint64_t w = wgd[a], mdim = dim[c], ndim = dim[d];
            uint64_t lmem = 2u * w * (w + 1) * 4u;
            if (!tune_multiple(w, mdim * vw[e]) ||
                !tune_multiple(w, ndim * vw[f]) || !tune_multiple(w, ndim) ||
                !tune_multiple(w, mdim) || mdim * ndim > max_wg ||
                lmem > local_mem)
              continue;
            if (out) {
              gesta_clblast_params *p = &out[n];
              memset(p, 0, sizeof *p);
              snprintf(p->kernel, sizeof p->kernel, "XgemmDirect");
              tune_set(p, "KWID", 2);
              tune_set(p, "MDIMAD", mdim);
              tune_set(p, "MDIMCD", mdim);
              tune_set(p, "NDIMBD", ndim);
              tune_set(p, "NDIMCD", ndim);
              tune_set(p, "PADA", 1);
              tune_set(p, "PADB", 1);
              tune_set(p, "VWMD", vw[e]);
              tune_set(p, "VWND", vw[f]);
              tune_set(p, "WGD", w);
            }
            n++;
          }
  return n;
}

gesta_status gesta_clblast_candidates(gesta_backend *backend,
                                      const char *kernel,
                                      gesta_clblast_params **out, int *n,
                                      gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(backend);
  int (*space)(uint64_t, uint64_t, gesta_clblast_params *);
  size_t max_wg = 0;
  *out = NULL;
  *n = 0;
  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "CLBlast candidates need an OpenCL backend");
  if (strcmp(kernel, "Xgemm") == 0)
    space = tune_xgemm;
  else if (strcmp(kernel, "XgemmDirect") == 0)
    space = tune_xgemm_direct;
  else
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "no CLBlast candidates for kernel '%s' (Xgemm or "
                           "XgemmDirect)",
                           kernel);
  if (clGetDeviceInfo(cl->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg,
                      &max_wg, NULL) != CL_SUCCESS)
    max_wg = 256;
  *n = space(cl->info.local_mem_bytes, max_wg, NULL);
  *out = calloc((size_t)(*n ? *n : 1), sizeof **out);
  if (!*out) {
    *n = 0;
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  space(cl->info.local_mem_bytes, max_wg, *out);
  return GESTA_STATUS_OK;
}

static gesta_status tune_override(gesta_opencl *cl,
                                  const gesta_clblast_params *p,
                                  gesta_error *err) {
  const char *names[GESTA_CLBLAST_PARAMS_MAX];
  size_t values[GESTA_CLBLAST_PARAMS_MAX];
  CLBlastStatusCode status;
  for (int i = 0; i < p->n; i++) {
    names[i] = p->names[i];
    values[i] = (size_t)p->values[i];
  }
  status =
      CLBlastOverrideParameters(cl->device, p->kernel, CLBlastPrecisionSingle,
                                (size_t)p->n, names, values);
  if (status == CLBlastSuccess)
    return GESTA_STATUS_OK;
  return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                         "CLBlastOverrideParameters(%s) on %s: %s (status %d)",
                         p->kernel, cl->label,
                         status == CLBlastMissingOverrideParameter
                             ? "a parameter this CLBlast needs is missing"
                         : status == CLBlastInvalidOverrideKernel ||
                                 status == CLBlastDatabaseError
                             ? "this CLBlast has no such kernel"
                             : "refused",
                         (int)status);
}

gesta_status gesta_opencl_clblast_override(gesta_backend *backend,
                                           const gesta_clblast_params *params,
                                           gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(backend);
  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "CLBlast parameters need an OpenCL backend");
  return tune_override(cl, params, err);
}

/* The tuning file of a device in a kernel-cache directory. */
static bool tune_path_in(const gesta_opencl_device_info *info,
                         const char *kernels_dir, char *path, size_t size) {
  uint64_t h = TUNE_FNV_OFFSET;
  const char *fields[] = {TUNE_FORMAT, info->name, info->device_version,
                          info->driver_version, info->platform_version};
  int n;
  if (!kernels_dir || !kernels_dir[0])
    return false;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    h = gesta_opencl_fnv1a(h, fields[i], strlen(fields[i]) + 1);
  n = snprintf(path, size, "%s/clblast-%016llx.tune", kernels_dir,
               (unsigned long long)h);
  return n > 0 && (size_t)n < size;
}

static bool tune_path(const gesta_opencl *cl, char *path, size_t size) {
  return tune_path_in(&cl->info, cl->cache_dir, path, size);
}

bool gesta_opencl_tuning_path(const gesta_opencl_device_info *info,
                              const char *cache_dir, char *path, size_t size) {
  char root[GESTA_OPENCL_PATH_MAX], kernels[GESTA_OPENCL_PATH_MAX + 16];
  if (cache_dir && *cache_dir)
    snprintf(root, sizeof root, "%s", cache_dir);
  else if (!gesta_opencl_default_cache_dir(root, sizeof root))
    return false;
  snprintf(kernels, sizeof kernels, "%s/kernels", root);
  return tune_path_in(info, kernels, path, size);
}

gesta_status gesta_opencl_tuning_save(gesta_backend *backend,
                                      const gesta_clblast_params *sets, int n,
                                      const char *note, char *path,
                                      size_t path_size, gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(backend);
  char tmp[GESTA_OPENCL_PATH_MAX + 16];
  FILE *f;
  bool ok;
  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "a CLBlast tuning file needs an OpenCL backend");
  if (!tune_path(cl, path, path_size))
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                           "no cache directory to keep the CLBlast tuning in "
                           "(set XDG_CACHE_HOME or HOME, and leave out "
                           "--no-kernel-cache)");
  if (!gesta_opencl_cache_make_dirs(cl->cache_dir))
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot create %s: %s",
                           cl->cache_dir, strerror(errno));
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
  f = fopen(tmp, "w");
  if (!f)
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s",
                           tmp, strerror(errno));
  fprintf(f, "# %s\n# device: %s, %s, driver %s, platform %s\n", TUNE_FORMAT,
          cl->info.name, cl->info.device_version, cl->info.driver_version,
          cl->info.platform_version);
  if (note && *note)
    fprintf(f, "# %s\n", note);
  for (int i = 0; i < n; i++) {
    fputs(sets[i].kernel, f);
    for (int j = 0; j < sets[i].n; j++)
      fprintf(f, " %s=%llu", sets[i].names[j],
              (unsigned long long)sets[i].values[j]);
    fputc('\n', f);
  }
  ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s",
                           path, strerror(e));
  }
  return GESTA_STATUS_OK;
}

/* One line: KERNEL NAME=VALUE... ; false when it is not that. */
static bool tune_parse_line(char *line, gesta_clblast_params *p) {
  char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
  memset(p, 0, sizeof *p);
  if (!tok || strlen(tok) >= sizeof p->kernel)
    return false;
  snprintf(p->kernel, sizeof p->kernel, "%s", tok);
  while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
    char *eq = strchr(tok, '='), *end = NULL;
    unsigned long long v;
    if (!eq || eq == tok || (size_t)(eq - tok) >= sizeof p->names[0] ||
        p->n >= GESTA_CLBLAST_PARAMS_MAX)
      return false;
    errno = 0;
    v = strtoull(eq + 1, &end, 10);
    if (errno || end == eq + 1 || *end)
      return false;
    memcpy(p->names[p->n], tok, (size_t)(eq - tok));
    p->values[p->n++] = v;
  }
  return p->n > 0;
}

void gesta_opencl_tuning_apply(gesta_opencl *cl) {
  char path[GESTA_OPENCL_PATH_MAX], line[1024];
  int lineno = 0, applied = 0;
  FILE *f;
  if (cl->no_kernel_cache || !tune_path(cl, path, sizeof path))
    return;
  f = fopen(path, "r");
  if (!f) {
    gesta_log(cl->ctx, GESTA_LOG_DEBUG,
              "no CLBlast tuning for %s (%s): CLBlast's defaults", cl->label,
              path);
    return;
  }
  while (fgets(line, sizeof line, f)) {
    gesta_clblast_params p;
    gesta_error err;
    lineno++;
    if (line[0] == '#' || line[0] == '\n')
      continue;
    gesta_error_clear(&err);
    if (!tune_parse_line(line, &p)) {
      gesta_log(cl->ctx, GESTA_LOG_WARNING,
                "%s:%d: not 'KERNEL NAME=VALUE ...'; line ignored (run "
                "gesta tune again to rewrite the file)",
                path, lineno);
      continue;
    }
    if (tune_override(cl, &p, &err) != GESTA_STATUS_OK) {
      gesta_log(cl->ctx, GESTA_LOG_WARNING, "%s:%d: %s; line ignored", path,
                lineno, err.message);
      continue;
    }
    applied++;
  }
  fclose(f);
  gesta_log(cl->ctx, GESTA_LOG_INFO,
            "CLBlast tuning for %s from %s (%d kernel%s)", cl->label, path,
            applied, applied == 1 ? "" : "s");
}
