/* Building a clip cache from a dataset folder, with progress output. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "train_dataset.h"
#include "train_util.h"
#if GESTA_HAVE_GSTREAMER
#include "gesta/dataset.h"
#endif

void train_build_request_init(train_build_request *req) {
  memset(req, 0, sizeof *req);
  req->split_index = 1;
  req->test_fraction = 0.25;
  req->progress = true;
}

#if GESTA_HAVE_GSTREAMER
typedef struct build_progress {
  bool tty;
  bool quiet;
  double t0;
} build_progress;

static void build_on_progress(void *user, int64_t done, int64_t total,
                              const char *video, const char *skipped) {
  build_progress *p = user;
  if (skipped) {
    /* The warning gets a line of its own, above the bar. */
    fprintf(stderr, "%sgesta: warning: skipped %s\n", p->tty ? "\r\033[K" : "",
            skipped);
  }
  if (p->quiet)
    return;
  if (!p->tty) {
    fprintf(stderr, "gesta dataset: %lld/%lld %s%s\n", (long long)done,
            (long long)total, video, skipped ? " (skipped)" : "");
    return;
  }
  char bar[160], eta[32];
  double el = (cli_now_ms() - p->t0) / 1000;
  train_format_bar(bar, sizeof bar, done, total, 30);
  train_format_seconds(eta, sizeof eta,
                       done ? el / (double)done * (double)(total - done) : 0);
  fprintf(stderr, "\r\033[K%s - ETA: %s - %.40s", bar, eta, video);
  if (done == total)
    fputc('\n', stderr);
  fflush(stderr);
}

gesta_status train_build_cache(cli_common *common,
                               const train_build_request *req,
                               gesta_error *err) {
  gesta_dataset_options dopt;
  gesta_dataset_build_options bopt;
  gesta_dataset_summary sum;
  gesta_dataset *ds = NULL;
  build_progress prog = {
      isatty(STDERR_FILENO) == 1,
      !req->progress || common->ctx.log_level <= GESTA_LOG_ERROR, cli_now_ms()};
  gesta_dataset_options_init(&dopt);
  dopt.split = (gesta_split_mode)req->split;
  dopt.split_index = req->split_index;
  dopt.test_fraction = req->test_fraction;
  dopt.val_fraction = req->val_fraction;
  dopt.seed = req->seed;
  gesta_status status =
      gesta_dataset_open(&common->ctx, req->dir, &dopt, &ds, err);
  if (status != GESTA_STATUS_OK)
    return status;
  printf("dataset %s: %d classes, %lld videos, split %s (%lld train, %lld "
         "val, %lld test)\n",
         ds->root, ds->n_classes, (long long)ds->n_videos, ds->split_desc,
         (long long)gesta_dataset_split_count(ds, GESTA_SPLIT_TRAIN),
         (long long)gesta_dataset_split_count(ds, GESTA_SPLIT_VAL),
         (long long)gesta_dataset_split_count(ds, GESTA_SPLIT_TEST));
  fflush(stdout);
  gesta_dataset_build_options_init(&bopt);
  bopt.dtype = req->dtype;
  bopt.progress = build_on_progress;
  bopt.progress_user = &prog;
  bopt.cancelled = train_interrupted_cb;
  train_interrupt_install();
  status = gesta_dataset_build(&common->ctx, ds, req->model, req->cache, &bopt,
                               &sum, err);
  train_interrupt_restore();
  if (status == GESTA_STATUS_OK) {
    char size[32];
    cli_format_bytes((double)sum.bytes, size, sizeof size);
    printf("wrote %s: %lld clips (%lld train, %lld val, %lld test) of %lld "
           "frames, %s, in %.1f s; %lld video%s skipped\n",
           req->cache, (long long)sum.clips,
           (long long)sum.per_split[GESTA_SPLIT_TRAIN],
           (long long)sum.per_split[GESTA_SPLIT_VAL],
           (long long)sum.per_split[GESTA_SPLIT_TEST],
           (long long)req->model->preprocess.frames, size, sum.seconds,
           (long long)sum.skipped, sum.skipped == 1 ? "" : "s");
  } else if (prog.tty && !prog.quiet) {
    fputc('\n', stderr);
  }
  gesta_dataset_free(ds);
  return status;
}
#else
gesta_status train_build_cache(cli_common *common,
                               const train_build_request *req,
                               gesta_error *err) {
  (void)common;
  return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                         "this gesta was built without GStreamer "
                         "(GESTA_GSTREAMER=OFF) and cannot decode the videos "
                         "in %s; rebuild with -DGESTA_GSTREAMER=ON, or give "
                         "a clip cache built elsewhere",
                         req->dir);
}
#endif
