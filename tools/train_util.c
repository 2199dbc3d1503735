/* Helpers shared by gesta dataset and gesta train. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train_util.h"

/* A signal handler can only reach static storage: this flag is the one
 * piece of process state the commands share with it. */
static volatile sig_atomic_t train_sigint_count;
static struct sigaction train_old_int, train_old_term;

static void train_on_signal(int sig) {
  if (train_sigint_count++ > 0) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
}

void train_interrupt_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = train_on_signal;
  sigemptyset(&sa.sa_mask);
  train_sigint_count = 0;
  sigaction(SIGINT, &sa, &train_old_int);
  sigaction(SIGTERM, &sa, &train_old_term);
}

void train_interrupt_restore(void) {
  sigaction(SIGINT, &train_old_int, NULL);
  sigaction(SIGTERM, &train_old_term, NULL);
}

bool train_interrupted(void) {
  return train_sigint_count > 0;
}

bool train_interrupted_cb(void *user) {
  (void)user;
  return train_interrupted();
}

void train_format_bar(char *buf, size_t size, int64_t done, int64_t total,
                      int width) {
  char bar[128];
  if (width > (int)sizeof bar - 1)
    width = (int)sizeof bar - 1;
  int fill = total > 0 ? (int)(done * width / total) : width;
  for (int i = 0; i < width; i++)
    bar[i] = i < fill ? '=' : '.';
  if (fill > 0 && fill < width)
    bar[fill - 1] = '>';
  bar[width] = '\0';
  snprintf(buf, size, "%lld/%lld [%s]", (long long)done, (long long)total, bar);
}

void train_format_seconds(char *buf, size_t size, double s) {
  if (s < 1)
    snprintf(buf, size, "%.0fms", s * 1e3);
  else if (s < 60)
    snprintf(buf, size, "%.0fs", s);
  else if (s < 3600)
    snprintf(buf, size, "%dm %02ds", (int)(s / 60), (int)s % 60);
  else
    snprintf(buf, size, "%dh %02dm", (int)(s / 3600), (int)s / 60 % 60);
}

char *train_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s", dir, name);
  return p;
}

/* mkdir -p: a run folder may be several levels deep (runs/2026/lrcn). */
gesta_status train_make_dir(const char *dir, gesta_error *err) {
  struct stat st;
  char *path = strdup(dir);
  int saved = 0;
  if (!path)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  for (char *p = path + 1; *p && !saved; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
      saved = errno;
    *p = '/';
  }
  free(path);
  if (!saved &&
      (mkdir(dir, 0777) == 0 ||
       (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))))
    return GESTA_STATUS_OK;
  if (saved)
    errno = saved;
  return gesta_error_set(
      err, GESTA_STATUS_IO_ERROR, "cannot create the folder %s: %s", dir,
      errno == EEXIST ? "a file of that name exists" : strerror(errno));
}

gesta_status train_write_file(const char *path, const char *text, size_t n,
                              gesta_error *err) {
  size_t tn = strlen(path) + 32;
  char *tmp = malloc(tn);
  if (!tmp)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory writing %s", path);
  snprintf(tmp, tn, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    gesta_status s =
        gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot create %s: %s", tmp,
                        strerror(errno));
    free(tmp);
    return s;
  }
  bool ok =
      fwrite(text, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  if (fclose(f) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if (ok && rename(tmp, path) != 0) {
    ok = false;
    e = errno;
  }
  if (!ok) {
    unlink(tmp);
    free(tmp);
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s",
                           path, strerror(e));
  }
  free(tmp);
  return GESTA_STATUS_OK;
}

gesta_status train_copy_file(const char *from, const char *to,
                             gesta_error *err) {
  FILE *f = fopen(from, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;
  if (!f)
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot read %s: %s",
                           from, strerror(errno));
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 65536;
      char *p = realloc(buf, cap);
      if (!p) {
        fclose(f);
        free(buf);
        return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory copying %s", from);
      }
      buf = p;
    }
    size_t k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (k == 0)
      break;
  }
  bool bad = ferror(f);
  fclose(f);
  gesta_status s =
      bad ? gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot read %s", from)
          : train_write_file(to, buf, n, err);
  free(buf);
  return s;
}
