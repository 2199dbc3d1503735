/* Dataset folders: class folders, UCF101's classInd.txt and train/test
 * lists, and the splits (official lists, or the seed's seeded shuffle). */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gesta/dataset.h"

void gesta_dataset_options_init(gesta_dataset_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->split = GESTA_SPLIT_AUTO;
  opt->split_index = 1;
  opt->test_fraction = 0.25;
}

void gesta_dataset_free(gesta_dataset *ds) {
  if (!ds)
    return;
  for (int i = 0; i < ds->n_classes; i++)
    free(ds->classes[i]);
  free(ds->classes);
  for (int64_t i = 0; i < ds->n_videos; i++)
    free(ds->videos[i].path);
  free(ds->videos);
  free(ds->root);
  free(ds);
}

int64_t gesta_dataset_split_count(const gesta_dataset *ds, gesta_split split) {
  int64_t n = 0;
  for (int64_t i = 0; i < ds->n_videos; i++)
    n += ds->videos[i].split == split;
  return n;
}

static gesta_status ds_oom(gesta_error *err) {
  return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                         "out of memory listing a dataset");
}

static char *ds_join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s", a, b);
  return p;
}

static bool ds_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ds_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int ds_strcmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir that are folders (want_dirs) or
 * regular files, hidden ones left out. */
static gesta_status ds_list(const char *dir, bool want_dirs, char ***out,
                            int64_t *count, gesta_error *err) {
  DIR *d = opendir(dir);
  char **names = NULL;
  int64_t n = 0, cap = 0;
  *out = NULL;
  *count = 0;
  if (!d)
    return gesta_error_set(
        err,
        errno == ENOENT || errno == ENOTDIR ? GESTA_STATUS_BAD_INPUT
                                            : GESTA_STATUS_IO_ERROR,
        "cannot read dataset folder %s: %s", dir, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char *full = ds_join(dir, e->d_name);
    if (!full)
      goto oom;
    bool keep = want_dirs ? ds_is_dir(full) : ds_is_file(full);
    free(full);
    if (!keep)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **p = realloc(names, (size_t)cap * sizeof *p);
      if (!p)
        goto oom;
      names = p;
    }
    if (!(names[n] = strdup(e->d_name)))
      goto oom;
    n++;
  }
  closedir(d);
  if (n)
    qsort(names, (size_t)n, sizeof *names, ds_strcmp);
  *out = names;
  *count = n;
  return GESTA_STATUS_OK;
oom:
  closedir(d);
  for (int64_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return ds_oom(err);
}

static void ds_free_names(char **names, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

static void ds_chomp(char *line) {
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
               line[n - 1] == ' ' || line[n - 1] == '\t'))
    line[--n] = '\0';
}

/* classInd.txt: "INDEX NAME" lines, indices 1..n in order. */
static gesta_status ds_read_classind(gesta_dataset *ds, const char *path,
                                     gesta_error *err) {
  FILE *f = fopen(path, "r");
  char line[1024];
  int lineno = 0;
  if (!f)
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot read %s: %s",
                           path, strerror(errno));
  while (fgets(line, sizeof line, f)) {
    lineno++;
    ds_chomp(line);
    if (!line[0])
      continue;
    int index = 0, used = 0;
    if (sscanf(line, "%d %n", &index, &used) != 1 || !line[used] ||
        strchr(line + used, ' ') || index != ds->n_classes + 1) {
      fclose(f);
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s:%d: expected \"%d CLASSNAME\" (classes "
                             "numbered from 1 in order), got \"%s\"",
                             path, lineno, ds->n_classes + 1, line);
    }
    char **p = realloc(ds->classes, (size_t)(ds->n_classes + 1) * sizeof *p);
    if (!p || !(p[ds->n_classes] = strdup(line + used))) {
      if (p)
        ds->classes = p;
      fclose(f);
      return ds_oom(err);
    }
    ds->classes = p;
    ds->n_classes++;
  }
  fclose(f);
  if (ds->n_classes == 0)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT, "%s lists no classes",
                           path);
  return GESTA_STATUS_OK;
}

static int ds_video_cmp(const void *a, const void *b) {
  const gesta_dataset_video *x = a, *y = b;
  if (x->label != y->label)
    return x->label - y->label;
  return strcmp(x->path, y->path);
}

static gesta_dataset_video *ds_find(gesta_dataset *ds, const char *path) {
  gesta_dataset_video key = {(char *)path, 0, GESTA_SPLIT_TRAIN};
  const char *slash = strchr(path, '/');
  if (!slash)
    return NULL;
  key.label = -1;
  for (int c = 0; c < ds->n_classes; c++) {
    size_t n = strlen(ds->classes[c]);
    if ((size_t)(slash - path) == n && strncmp(path, ds->classes[c], n) == 0)
      key.label = c;
  }
  if (key.label < 0)
    return NULL;
  return bsearch(&key, ds->videos, (size_t)ds->n_videos, sizeof key,
                 ds_video_cmp);
}

/* One official list: every line names a video (first field); a training
 * list's second field, when present, is its 1-based class. */
static gesta_status ds_read_list(gesta_dataset *ds, const char *path,
                                 gesta_split split, bool *listed,
                                 gesta_error *err) {
  FILE *f = fopen(path, "r");
  char line[4096];
  int lineno = 0;
  if (!f)
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot read %s: %s",
                           path, strerror(errno));
  while (fgets(line, sizeof line, f)) {
    lineno++;
    ds_chomp(line);
    char *name = line + strspn(line, " \t");
    if (!*name)
      continue;
    char *sp = strpbrk(name, " \t");
    int label = 0;
    if (sp) {
      *sp = '\0';
      char *end;
      long v = strtol(sp + 1, &end, 10);
      if (*end || v < 1 || v > ds->n_classes) {
        fclose(f);
        return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                               "%s:%d: the class index after %s must be 1 to "
                               "%d",
                               path, lineno, name, ds->n_classes);
      }
      label = (int)v;
    }
    gesta_dataset_video *v = ds_find(ds, name);
    if (!v) {
      fclose(f);
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s:%d: %s is not a video of the dataset (a "
                             "CLASS/FILE path below %s with a class of "
                             "classInd.txt)",
                             path, lineno, name, ds->root);
    }
    if (label && label - 1 != v->label) {
      fclose(f);
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s:%d: %s is in folder %s but the list gives "
                             "it class %d (%s)",
                             path, lineno, name, ds->classes[v->label], label,
                             ds->classes[label - 1]);
    }
    v->split = split;
    listed[v - ds->videos] = true;
  }
  fclose(f);
  return GESTA_STATUS_OK;
}

static void ds_shuffle(int64_t *idx, int64_t n, gesta_rng *rng) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(gesta_rng_next(rng) % (uint64_t)(i + 1));
    int64_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

/* Moves round(fraction * count) of the videos in split `from`, chosen by a
 * seeded shuffle, to split `to`. */
static gesta_status ds_carve(gesta_dataset *ds, gesta_split from,
                             gesta_split to, double fraction, uint64_t seed,
                             gesta_error *err) {
  int64_t n = 0;
  int64_t *idx =
      malloc((size_t)(ds->n_videos ? ds->n_videos : 1) * sizeof *idx);
  if (!idx)
    return ds_oom(err);
  for (int64_t i = 0; i < ds->n_videos; i++)
    if (ds->videos[i].split == from)
      idx[n++] = i;
  gesta_rng rng;
  gesta_rng_seed(&rng, seed);
  ds_shuffle(idx, n, &rng);
  int64_t k = (int64_t)(fraction * (double)n + 0.5);
  for (int64_t i = 0; i < k; i++)
    ds->videos[idx[i]].split = to;
  free(idx);
  return GESTA_STATUS_OK;
}

static gesta_status ds_scan_classes(gesta_dataset *ds, gesta_error *err) {
  gesta_status status = GESTA_STATUS_OK;
  char **dirs = NULL;
  int64_t n_dirs = 0;
  status = ds_list(ds->root, true, &dirs, &n_dirs, err);
  if (status != GESTA_STATUS_OK)
    return status;
  if (ds->n_classes == 0) {
    if (n_dirs == 0) {
      ds_free_names(dirs, n_dirs);
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s holds no class folders: a dataset is one "
                             "folder per class with its videos (CLASS/*.avi), "
                             "e.g. as `gesta synth %s` writes it",
                             ds->root, ds->root);
    }
    ds->classes = dirs;
    ds->n_classes = (int)n_dirs;
    return GESTA_STATUS_OK;
  }
  for (int c = 0; c < ds->n_classes && status == GESTA_STATUS_OK; c++) {
    char **hit =
        bsearch(&ds->classes[c], dirs, (size_t)n_dirs, sizeof *dirs, ds_strcmp);
    if (!hit)
      status =
          gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                          "%s/classInd.txt lists class %s but %s/%s is "
                          "not a folder",
                          ds->root, ds->classes[c], ds->root, ds->classes[c]);
  }
  ds_free_names(dirs, n_dirs);
  return status;
}

static gesta_status ds_scan_videos(gesta_dataset *ds, gesta_error *err) {
  int64_t cap = 0;
  for (int c = 0; c < ds->n_classes; c++) {
    char *dir = ds_join(ds->root, ds->classes[c]);
    char **files = NULL;
    int64_t n = 0;
    if (!dir)
      return ds_oom(err);
    gesta_status status = ds_list(dir, false, &files, &n, err);
    free(dir);
    if (status != GESTA_STATUS_OK)
      return status;
    for (int64_t i = 0; i < n; i++) {
      if (ds->n_videos == cap) {
        cap = cap ? cap * 2 : 256;
        gesta_dataset_video *p = realloc(ds->videos, (size_t)cap * sizeof *p);
        if (!p) {
          ds_free_names(files, n);
          return ds_oom(err);
        }
        ds->videos = p;
      }
      gesta_dataset_video *v = &ds->videos[ds->n_videos];
      v->path = ds_join(ds->classes[c], files[i]);
      v->label = c;
      v->split = GESTA_SPLIT_TRAIN;
      if (!v->path) {
        ds_free_names(files, n);
        return ds_oom(err);
      }
      ds->n_videos++;
    }
    ds_free_names(files, n);
  }
  if (ds->n_videos == 0)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s has class folders but no videos in them",
                           ds->root);
  qsort(ds->videos, (size_t)ds->n_videos, sizeof *ds->videos, ds_video_cmp);
  return GESTA_STATUS_OK;
}

static gesta_status ds_split_official(const gesta_context *ctx,
                                      gesta_dataset *ds, const char *train,
                                      const char *test, gesta_error *err) {
  bool *listed = calloc((size_t)ds->n_videos, sizeof *listed);
  gesta_status status;
  if (!listed)
    return ds_oom(err);
  status = ds_read_list(ds, train, GESTA_SPLIT_TRAIN, listed, err);
  if (status == GESTA_STATUS_OK)
    status = ds_read_list(ds, test, GESTA_SPLIT_TEST, listed, err);
  if (status != GESTA_STATUS_OK) {
    free(listed);
    return status;
  }
  int64_t kept = 0, dropped = 0;
  for (int64_t i = 0; i < ds->n_videos; i++) {
    if (listed[i]) {
      ds->videos[kept++] = ds->videos[i];
    } else {
      if (dropped++ < 5)
        gesta_log(ctx, GESTA_LOG_WARNING,
                  "%s/%s is in neither %s nor %s: left out", ds->root,
                  ds->videos[i].path, train, test);
      free(ds->videos[i].path);
    }
  }
  if (dropped > 5)
    gesta_log(ctx, GESTA_LOG_WARNING, "%lld more videos in no list left out",
              (long long)dropped - 5);
  ds->n_videos = kept;
  free(listed);
  return GESTA_STATUS_OK;
}

gesta_status gesta_dataset_open(const gesta_context *ctx, const char *dir,
                                const gesta_dataset_options *opt,
                                gesta_dataset **out, gesta_error *err) {
  gesta_dataset_options defaults;
  gesta_status status;
  char *classind = NULL, *train = NULL, *test = NULL;
  char name[64];
  *out = NULL;
  if (!opt) {
    gesta_dataset_options_init(&defaults);
    opt = &defaults;
  }
  if (opt->test_fraction < 0 || opt->test_fraction >= 1 ||
      opt->val_fraction < 0 || opt->val_fraction >= 1)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "split fractions must be in [0, 1)");
  if (!ds_is_dir(dir))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "dataset folder %s does not exist or is not a "
                           "folder",
                           dir);
  gesta_dataset *ds = calloc(1, sizeof *ds);
  if (!ds || !(ds->root = strdup(dir))) {
    free(ds);
    return ds_oom(err);
  }
  size_t len = strlen(ds->root);
  while (len > 1 && ds->root[len - 1] == '/')
    ds->root[--len] = '\0';
  int split = opt->split_index > 0 ? opt->split_index : 1;
  classind = ds_join(ds->root, "classInd.txt");
  snprintf(name, sizeof name, "trainlist%02d.txt", split);
  train = ds_join(ds->root, name);
  snprintf(name, sizeof name, "testlist%02d.txt", split);
  test = ds_join(ds->root, name);
  if (!classind || !train || !test) {
    status = ds_oom(err);
    goto fail;
  }
  if (ds_is_file(classind)) {
    status = ds_read_classind(ds, classind, err);
    if (status != GESTA_STATUS_OK)
      goto fail;
  }
  status = ds_scan_classes(ds, err);
  if (status == GESTA_STATUS_OK)
    status = ds_scan_videos(ds, err);
  if (status != GESTA_STATUS_OK)
    goto fail;

  bool have_lists = ds_is_file(train) && ds_is_file(test);
  if (opt->split == GESTA_SPLIT_OFFICIAL && !have_lists) {
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "--split official needs %s and %s", train, test);
    goto fail;
  }
  if (have_lists && opt->split != GESTA_SPLIT_RANDOM) {
    status = ds_split_official(ctx, ds, train, test, err);
    if (status != GESTA_STATUS_OK)
      goto fail;
    ds->official = true;
    snprintf(ds->split_desc, sizeof ds->split_desc,
             "trainlist%02d.txt/testlist%02d.txt", split, split);
  } else {
    status = ds_carve(ds, GESTA_SPLIT_TRAIN, GESTA_SPLIT_TEST,
                      opt->test_fraction, opt->seed, err);
    if (status != GESTA_STATUS_OK)
      goto fail;
    snprintf(ds->split_desc, sizeof ds->split_desc,
             "random %.0f/%.0f (seed %llu)", 100 * (1 - opt->test_fraction),
             100 * opt->test_fraction, (unsigned long long)opt->seed);
  }
  if (opt->val_fraction > 0) {
    /* A seed of its own, so the validation clips do not depend on how the
     * test split was drawn. */
    status = ds_carve(ds, GESTA_SPLIT_TRAIN, GESTA_SPLIT_VAL, opt->val_fraction,
                      opt->seed ^ 0x76616c6964617465ull, err);
    if (status != GESTA_STATUS_OK)
      goto fail;
  }
  free(classind);
  free(train);
  free(test);
  *out = ds;
  return GESTA_STATUS_OK;
fail:
  free(classind);
  free(train);
  free(test);
  gesta_dataset_free(ds);
  return status;
}
