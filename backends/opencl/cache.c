/* The on-disk cache of compiled program binaries.
 *
 * One file per (program source, build options, device, driver, platform):
 * all of them go into a 64-bit FNV-1a key that is both in the file name and
 * in the file, next to a checksum of the binary. A file that does not match
 * in every field is ignored and rebuilt from source: a stale or damaged
 * binary handed to a driver can crash it, so nothing is trusted. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opencl_private.h"

/* Bump when the file layout or what the key covers changes. */
#define CACHE_FORMAT_VERSION 1u
#define CACHE_MAGIC "GESTACLB"
/* No driver's binary for these kernels comes near this; a larger length
 * field is damage. */
#define CACHE_MAX_BINARY (256u << 20)

typedef struct cache_header {
  char magic[8];
  uint32_t version;
  uint32_t reserved;
  uint64_t key;
  uint64_t length;
  uint64_t checksum;
} cache_header;

uint64_t gesta_opencl_fnv1a(uint64_t hash, const void *data, size_t length) {
  const unsigned char *p = data;
  for (size_t i = 0; i < length; i++) {
    hash ^= p[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

#define CACHE_FNV_OFFSET 0xcbf29ce484222325ull

static uint64_t cache_hash_string(uint64_t hash, const char *s) {
  /* The terminating NUL separates fields: "ab"+"c" differs from "a"+"bc". */
  return gesta_opencl_fnv1a(hash, s, strlen(s) + 1);
}

bool gesta_opencl_default_cache_dir(char *buf, size_t size) {
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  int n;
  /* The XDG spec says a relative XDG_CACHE_HOME is to be ignored. */
  if (xdg && xdg[0] == '/')
    n = snprintf(buf, size, "%s/gesta", xdg);
  else if (home && *home)
    n = snprintf(buf, size, "%s/.cache/gesta", home);
  else
    return false;
  return n > 0 && (size_t)n < size;
}

bool gesta_opencl_cache_path(const gesta_opencl *cl, const char *name,
                             const char *source, size_t length, uint64_t *key,
                             char *path, size_t size) {
  uint32_t version = CACHE_FORMAT_VERSION;
  uint64_t h = CACHE_FNV_OFFSET;
  int n;
  if (cl->no_kernel_cache || !cl->cache_dir[0])
    return false;
  h = gesta_opencl_fnv1a(h, &version, sizeof version);
  h = gesta_opencl_fnv1a(h, source, length);
  h = cache_hash_string(h, GESTA_OPENCL_BUILD_OPTIONS);
  h = cache_hash_string(h, cl->info.name);
  h = cache_hash_string(h, cl->info.device_version);
  h = cache_hash_string(h, cl->info.driver_version);
  h = cache_hash_string(h, cl->platform_version);
  *key = h;
  n = snprintf(path, size, "%s/%s-%016llx.clbin", cl->cache_dir, name,
               (unsigned long long)h);
  return n > 0 && (size_t)n < size;
}

unsigned char *gesta_opencl_cache_read(gesta_opencl *cl, const char *path,
                                       uint64_t key, size_t *length) {
  cache_header h;
  unsigned char *binary = NULL;
  const char *why = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    gesta_log(cl->ctx, GESTA_LOG_DEBUG, "kernel cache: no %s", path);
    return NULL;
  }
  if (fread(&h, sizeof h, 1, f) != 1)
    why = "shorter than its header";
  else if (memcmp(h.magic, CACHE_MAGIC, sizeof h.magic) != 0)
    why = "not a gesta kernel cache file";
  else if (h.version != CACHE_FORMAT_VERSION)
    why = "written by another cache format version";
  else if (h.key != key)
    why = "its key does not match";
  else if (h.length == 0 || h.length > CACHE_MAX_BINARY)
    why = "its length is implausible";
  else if (!(binary = malloc((size_t)h.length)))
    why = "out of memory reading it";
  else if (fread(binary, 1, (size_t)h.length, f) != (size_t)h.length)
    why = "truncated";
  else if (fgetc(f) != EOF)
    why = "longer than its header says";
  else if (gesta_opencl_fnv1a(CACHE_FNV_OFFSET, binary, (size_t)h.length) !=
           h.checksum)
    why = "its checksum does not match";
  fclose(f);
  if (why) {
    gesta_log(cl->ctx, GESTA_LOG_DEBUG,
              "kernel cache: ignoring %s (%s); rebuilding from source", path,
              why);
    cl->stats.cache_rejected++;
    free(binary);
    return NULL;
  }
  *length = (size_t)h.length;
  return binary;
}

/* mkdir -p; true when the directory exists afterwards. */
bool gesta_opencl_cache_make_dirs(const char *dir) {
  char path[GESTA_OPENCL_PATH_MAX];
  struct stat st;
  int n = snprintf(path, sizeof path, "%s", dir);
  if (n <= 0 || (size_t)n >= sizeof path)
    return false;
  for (char *p = path + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
      return false;
    *p = '/';
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    return false;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static unsigned char *cache_program_binary(cl_program program, size_t *length) {
  size_t size = 0;
  unsigned char *binary;
  cl_uint n_devices = 0;
  if (clGetProgramInfo(program, CL_PROGRAM_NUM_DEVICES, sizeof n_devices,
                       &n_devices, NULL) != CL_SUCCESS ||
      n_devices != 1)
    return NULL;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size,
                       NULL) != CL_SUCCESS ||
      size == 0 || size > CACHE_MAX_BINARY)
    return NULL;
  binary = malloc(size);
  if (!binary)
    return NULL;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof binary, &binary,
                       NULL) != CL_SUCCESS) {
    free(binary);
    return NULL;
  }
  *length = size;
  return binary;
}

void gesta_opencl_cache_write(gesta_opencl *cl, const char *path, uint64_t key,
                              cl_program program) {
  char tmp[GESTA_OPENCL_PATH_MAX + 32];
  cache_header h;
  size_t length = 0;
  unsigned char *binary = cache_program_binary(program, &length);
  FILE *f = NULL;
  bool ok;

  if (!binary) {
    gesta_log(cl->ctx, GESTA_LOG_DEBUG,
              "kernel cache: the driver gave no binary to store for %s", path);
    return;
  }
  if (!gesta_opencl_cache_make_dirs(cl->cache_dir)) {
    gesta_log(cl->ctx, GESTA_LOG_INFO,
              "kernel cache: cannot create %s (%s); programs will be built "
              "from source next time too",
              cl->cache_dir, strerror(errno));
    free(binary);
    return;
  }
  memset(&h, 0, sizeof h);
  memcpy(h.magic, CACHE_MAGIC, sizeof h.magic);
  h.version = CACHE_FORMAT_VERSION;
  h.key = key;
  h.length = length;
  h.checksum = gesta_opencl_fnv1a(CACHE_FNV_OFFSET, binary, length);
  /* Written aside then renamed: a reader (another gesta at the same time)
   * sees the old file or the whole new one, never half of it. */
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  f = fopen(tmp, "wb");
  ok = f && fwrite(&h, sizeof h, 1, f) == 1 &&
       fwrite(binary, 1, length, f) == length;
  if (f && fclose(f) != 0)
    ok = false;
  if (ok && rename(tmp, path) == 0) {
    cl->stats.cache_written++;
    gesta_log(cl->ctx, GESTA_LOG_DEBUG, "kernel cache: wrote %s (%zu bytes)",
              path, length);
  } else {
    gesta_log(cl->ctx, GESTA_LOG_INFO,
              "kernel cache: cannot write %s (%s); programs will be built "
              "from source next time too",
              path, strerror(errno));
    remove(tmp);
  }
  free(binary);
}
