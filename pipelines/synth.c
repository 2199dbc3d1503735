/* gesta synth: the dataset on disk, laid out like UCF101: one folder per
 * class of v_<Class>_gGG_cCC.avi, classInd.txt, and split 1's lists. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "synth_internal.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

void gesta_synth_options_init(gesta_synth_options *opt) {
  memset(opt, 0, sizeof *opt);
  /* What the bundled models are trained on: one clip per class in each of
   * 96 looks. Fewer looks and the LRCN learns the looks, not the motion. */
  opt->videos_per_class = 96;
  opt->groups = 96;
  opt->test_groups = -1;
}

int gesta_synth_test_groups(const gesta_synth_options *opt) {
  int t;
  if (opt->test_groups >= 0)
    return opt->test_groups;
  if (opt->groups < 2)
    return 0;
  /* UCF101's split 1 tests on 7 of its 25 groups. */
  t = (opt->groups * 7 + 12) / 25;
  return t < 1 ? 1 : t > opt->groups - 1 ? opt->groups - 1 : t;
}

static int synth_clips_in_group(const gesta_synth_options *opt, int group) {
  return opt->videos_per_class / opt->groups +
         (group - 1 < opt->videos_per_class % opt->groups ? 1 : 0);
}

static gesta_status synth_check_options(const gesta_synth_options *opt,
                                        gesta_error *err) {
  int test = gesta_synth_test_groups(opt);
  if (opt->groups < 1 || opt->groups > GESTA_SYNTH_MAX_GROUPS)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "--groups must be from 1 to %d (file names carry "
                           "two digits), got %d",
                           GESTA_SYNTH_MAX_GROUPS, opt->groups);
  if (opt->videos_per_class < opt->groups)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "--videos-per-class %d is fewer than --groups %d: "
                           "every group needs at least one video",
                           opt->videos_per_class, opt->groups);
  if (synth_clips_in_group(opt, 1) > GESTA_SYNTH_MAX_CLIPS_PER_GROUP)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "--videos-per-class %d over %d groups makes more "
                           "than %d clips per group; add groups",
                           opt->videos_per_class, opt->groups,
                           GESTA_SYNTH_MAX_CLIPS_PER_GROUP);
  if (test < 0 || test >= opt->groups)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "--test-groups must be from 0 to %d (one group at "
                           "least must be left for training), got %d",
                           opt->groups - 1, test);
  return GESTA_STATUS_OK;
}

static gesta_status synth_path(char *buf, const char *dir, const char *a,
                               const char *b, gesta_error *err) {
  int n = b ? snprintf(buf, PATH_MAX, "%s/%s/%s", dir, a, b)
            : snprintf(buf, PATH_MAX, "%s/%s", dir, a);
  if (n < 0 || n >= PATH_MAX)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "output path too long: %s/%s", dir, a);
  return GESTA_STATUS_OK;
}

static gesta_status synth_mkdir(const char *path, gesta_error *err) {
  struct stat st;
  if (mkdir(path, 0777) == 0 ||
      (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
    return GESTA_STATUS_OK;
  if (errno == EEXIST)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s exists and is not a folder; choose another "
                           "output folder",
                           path);
  return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                         "cannot create %s: %s; choose a folder you can write "
                         "to",
                         path, strerror(errno));
}

/* mkdir -p: each missing parent in turn. */
static gesta_status synth_mkdir_parents(const char *path, gesta_error *err) {
  char buf[PATH_MAX];
  size_t n = strlen(path);
  if (n >= sizeof buf)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "output path too long: %s", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i < n; i++) {
    if (buf[i] != '/')
      continue;
    buf[i] = '\0';
    if (synth_mkdir(buf, err) != GESTA_STATUS_OK)
      return err ? err->status : GESTA_STATUS_BAD_INPUT;
    buf[i] = '/';
  }
  return synth_mkdir(buf, err);
}

static gesta_status synth_prepare_dir(const char *dir, bool force,
                                      gesta_error *err) {
  struct stat st;
  DIR *d;
  struct dirent *e;
  char first[256] = "";
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "cannot create %s: %s; choose a folder you can "
                             "write to",
                             dir, strerror(errno));
    return synth_mkdir_parents(dir, err);
  }
  if (!S_ISDIR(st.st_mode))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s exists and is not a folder; choose another "
                           "output folder",
                           dir);
  if (!(d = opendir(dir)))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT, "cannot read %s: %s",
                           dir, strerror(errno));
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      snprintf(first, sizeof first, "%s", e->d_name);
      break;
    }
  closedir(d);
  if (first[0] && !force)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s is not empty (it holds '%s'); choose a new "
                           "folder, or pass --force to write the dataset into "
                           "it (its videos and lists are replaced)",
                           dir, first);
  if (access(dir, W_OK | X_OK) != 0)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "cannot write into %s: %s; choose a folder you can "
                           "write to",
                           dir, strerror(errno));
  return GESTA_STATUS_OK;
}

static void synth_video_name(char *buf, size_t size, gesta_synth_class cls,
                             int group, int clip) {
  const char *name = gesta_synth_class_name(cls);
  snprintf(buf, size, "v_%s_g%02d_c%02d.avi", name, group, clip);
}

/* Leftovers of an earlier dataset in the same folder: partial files, and
 * videos this one does not have (fewer groups or clips). Only names this
 * command writes are ever removed. */
static bool synth_is_stale(const gesta_synth_options *opt,
                           gesta_synth_class cls, const char *file) {
  char want[64], canonical[64];
  int group, clip, end = 0;
  snprintf(want, sizeof want, "v_%s_g%%2d_c%%2d.avi%%n",
           gesta_synth_class_name(cls));
  if (sscanf(file, want, &group, &clip, &end) != 2 || end < 1 || group < 0 ||
      clip < 0)
    return false;
  /* Exactly the name this command would write, digits and all. */
  synth_video_name(canonical, sizeof canonical, cls, group, clip);
  if (strlen(canonical) != (size_t)end || strncmp(file, canonical, end) != 0)
    return false;
  if (file[end] == '\0')
    return group < 1 || group > opt->groups || clip < 1 ||
           clip > synth_clips_in_group(opt, group);
  return strcmp(file + end, ".part") == 0;
}

static void synth_remove_stale(const gesta_context *ctx, const char *dir,
                               const gesta_synth_options *opt,
                               gesta_synth_class cls) {
  char path[PATH_MAX];
  DIR *d = opendir(dir);
  struct dirent *e;
  if (!d)
    return;
  while ((e = readdir(d))) {
    if (!synth_is_stale(opt, cls, e->d_name) ||
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
            (int)sizeof path)
      continue;
    if (unlink(path) == 0)
      gesta_log(ctx, GESTA_LOG_INFO, "removed %s (not part of this dataset)",
                path);
  }
  closedir(d);
}

/* Encodes to NAME.part and renames, so a video exists under its final name
 * only once it is whole. */
static gesta_status synth_write_video(const char *out_dir,
                                      const gesta_synth_clip *clip,
                                      gesta_synth_class cls, bool reversed,
                                      int group, int index, char *rel,
                                      size_t rel_size, gesta_error *err) {
  char name[64], path[PATH_MAX], part[PATH_MAX + 8];
  gesta_status status;
  synth_video_name(name, sizeof name, cls, group, index);
  snprintf(rel, rel_size, "%s/%s", gesta_synth_class_name(cls), name);
  status = synth_path(path, out_dir, gesta_synth_class_name(cls), name, err);
  if (status != GESTA_STATUS_OK)
    return status;
  snprintf(part, sizeof part, "%s.part", path);
  status = gesta_synth_encoder_write(clip, reversed, part, err);
  if (status == GESTA_STATUS_OK && rename(part, path) != 0)
    status = gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                             "cannot rename %s to %s: %s", part, path,
                             strerror(errno));
  if (status != GESTA_STATUS_OK)
    unlink(part);
  return status;
}

typedef enum synth_list { SYNTH_CLASS_IND, SYNTH_TRAIN, SYNTH_TEST } synth_list;

static gesta_status synth_write_list(const char *out_dir, const char *file,
                                     const gesta_synth_options *opt,
                                     synth_list list, gesta_error *err) {
  char path[PATH_MAX], part[PATH_MAX + 8], name[64];
  int test = gesta_synth_test_groups(opt);
  FILE *f;
  bool ok;
  if (synth_path(path, out_dir, file, NULL, err) != GESTA_STATUS_OK)
    return err ? err->status : GESTA_STATUS_BAD_INPUT;
  snprintf(part, sizeof part, "%s.part", path);
  if (!(f = fopen(part, "w")))
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s",
                           part, strerror(errno));
  for (int c = 0; c < GESTA_SYNTH_CLASS_COUNT; c++) {
    const char *cname = gesta_synth_class_name((gesta_synth_class)c);
    if (list == SYNTH_CLASS_IND) {
      fprintf(f, "%d %s\n", c + 1, cname);
      continue;
    }
    for (int g = 1; g <= opt->groups; g++) {
      if ((g <= test) != (list == SYNTH_TEST))
        continue;
      for (int i = 1; i <= synth_clips_in_group(opt, g); i++) {
        synth_video_name(name, sizeof name, (gesta_synth_class)c, g, i);
        if (list == SYNTH_TRAIN)
          fprintf(f, "%s/%s %d\n", cname, name, c + 1);
        else
          fprintf(f, "%s/%s\n", cname, name);
      }
    }
  }
  ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(part, path) != 0) {
    gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot write %s: %s", path,
                    strerror(errno));
    unlink(part);
    return GESTA_STATUS_IO_ERROR;
  }
  return GESTA_STATUS_OK;
}

gesta_status gesta_synth_build(const gesta_context *ctx, const char *out_dir,
                               const gesta_synth_options *opt,
                               gesta_error *err) {
  char path[PATH_MAX], rel[128];
  gesta_synth_clip clip = {0};
  gesta_status status;
  int total = GESTA_SYNTH_CLASS_COUNT * opt->videos_per_class, done = 0;
  static const gesta_synth_class drawn[] = {
      GESTA_SYNTH_RAISE_ARMS, GESTA_SYNTH_SIT_DOWN, GESTA_SYNTH_WALK_RIGHT};

  if ((status = synth_check_options(opt, err)) != GESTA_STATUS_OK)
    return status;
  if ((status = gesta_synth_encoder_check(err)) != GESTA_STATUS_OK)
    return status;
  if ((status = synth_prepare_dir(out_dir, opt->force, err)) != GESTA_STATUS_OK)
    return status;
  for (int c = 0; c < GESTA_SYNTH_CLASS_COUNT; c++) {
    status = synth_path(
        path, out_dir, gesta_synth_class_name((gesta_synth_class)c), NULL, err);
    if (status == GESTA_STATUS_OK)
      status = synth_mkdir(path, err);
    if (status != GESTA_STATUS_OK)
      return status;
  }
  gesta_log(ctx, GESTA_LOG_INFO,
            "writing %d videos into %s: %d groups, %d for testing, seed %llu",
            total, out_dir, opt->groups, gesta_synth_test_groups(opt),
            (unsigned long long)opt->seed);
  if (opt->progress)
    opt->progress(opt->progress_user, 0, total, "");
  for (int g = 1; g <= opt->groups; g++)
    for (int i = 1; i <= synth_clips_in_group(opt, g); i++)
      for (int p = 0; p < 3; p++) {
        gesta_synth_class a = drawn[p], b = gesta_synth_class_partner(a);
        status = gesta_synth_render(opt->seed, g, i, a, &clip, err);
        if (status != GESTA_STATUS_OK)
          return status;
        for (int r = 0; r < 2 && status == GESTA_STATUS_OK; r++) {
          status = synth_write_video(out_dir, &clip, r ? b : a, r == 1, g, i,
                                     rel, sizeof rel, err);
          if (status == GESTA_STATUS_OK && opt->progress)
            opt->progress(opt->progress_user, ++done, total, rel);
        }
        gesta_synth_clip_free(&clip);
        if (status != GESTA_STATUS_OK)
          return status;
      }
  if ((status = synth_write_list(out_dir, "classInd.txt", opt, SYNTH_CLASS_IND,
                                 err)) != GESTA_STATUS_OK ||
      (status = synth_write_list(out_dir, "trainlist01.txt", opt, SYNTH_TRAIN,
                                 err)) != GESTA_STATUS_OK ||
      (status = synth_write_list(out_dir, "testlist01.txt", opt, SYNTH_TEST,
                                 err)) != GESTA_STATUS_OK)
    return status;
  for (int c = 0; c < GESTA_SYNTH_CLASS_COUNT; c++) {
    synth_path(path, out_dir, gesta_synth_class_name((gesta_synth_class)c),
               NULL, NULL);
    synth_remove_stale(ctx, path, opt, (gesta_synth_class)c);
  }
  return GESTA_STATUS_OK;
}
