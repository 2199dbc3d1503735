/* gesta annotate: a video written back with the recognised activity drawn
 * on every frame.
 *
 * Two passes over the input, so neither holds more than a window of
 * frames: the first runs the model on sliding windows (as predict
 * --window does) and keeps only each window's probabilities; the second
 * decodes the video again at its own size and writes every frame with the
 * label of the latest window that covers it. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#if GESTA_HAVE_GSTREAMER
#include "gesta/video.h"
#include "gesta/video_writer.h"
#endif

static const char annotate_usage[] = "gesta annotate [OPTIONS] MODEL.yaml IN "
                                     "OUT";

static const char annotate_help[] =
    "Writes IN back as OUT with the recognised activity and its confidence\n"
    "drawn on every frame, at IN's size and frame rate. The model runs on\n"
    "sliding windows of T frames (as predict --window does); each frame\n"
    "shows the label of the latest window that covers it, or with\n"
    "--segments that of the run of same-label windows it falls in. A\n"
    "per-frame model (like cnn) labels a window by the mean of its frames'\n"
    "probabilities.\n"
    "\n"
    "OUT's extension picks the format: .mp4 H.264 in MP4, .mkv H.264 in\n"
    "Matroska, .avi MPEG-4 part 2 in AVI. OUT appears only once complete.\n"
    "\n"
    "Options:\n"
    "      --window T          frames per window (a clip model's T is its\n"
    "                          input's; default: the model's clip length)\n"
    "      --stride S          frames between window starts (default T)\n"
    "  -k, --top-k K           draw the K most likely classes (default 1)\n"
    "      --segments          label frames by merged segments, with the\n"
    "                          segment's mean confidence\n"
    "      --batch B           windows per forward pass (default 4)\n"
    "  -w, --weights FILE      weights (safetensors); default: the file the\n"
    "                          model names\n"
    "      --no-progress       no progress line on a "
    "terminal\n" CLI_BACKEND_HELP CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta annotate lrcn clip.avi clip-labelled.mp4\n"
    "  gesta annotate models/cnn.yaml long.mkv out.avi --window 10 --stride "
    "5 --top-k 3\n"
    "\n" CLI_EXIT_CODES_HELP;

enum {
  ANNOTATE_OPT_WINDOW = 256,
  ANNOTATE_OPT_STRIDE,
  ANNOTATE_OPT_BATCH,
  ANNOTATE_OPT_SEGMENTS,
  ANNOTATE_OPT_NO_PROGRESS
};

#define ANNOTATE_MAX_BATCH 4096
#define ANNOTATE_MAX_FRAMES 100000

typedef struct annotate_options {
  const char *model, *in, *out, *weights;
  int64_t top_k, window, stride, batch;
  bool segments, progress;
} annotate_options;

/* Whether two paths name the same existing file. */
static bool annotate_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

static bool annotate_number(cli_common *common, const char *name,
                            const char *arg, int64_t max, int64_t *out,
                            int *rc) {
  if (cli_parse_int64(arg, 1, max, out))
    return true;
  *rc = cli_usage_error(common,
                        "%s wants a number from 1 to %" PRId64 ", got '%s'",
                        name, max, arg);
  return false;
}

static int annotate_parse(cli_common *common, int argc, char **argv,
                          annotate_options *opt, bool *done) {
  static const struct option options[] = {
      {"top-k", required_argument, NULL, 'k'},
      {"window", required_argument, NULL, ANNOTATE_OPT_WINDOW},
      {"stride", required_argument, NULL, ANNOTATE_OPT_STRIDE},
      {"batch", required_argument, NULL, ANNOTATE_OPT_BATCH},
      {"segments", no_argument, NULL, ANNOTATE_OPT_SEGMENTS},
      {"no-progress", no_argument, NULL, ANNOTATE_OPT_NO_PROGRESS},
      {"weights", required_argument, NULL, 'w'},
      CLI_BACKEND_LONG_OPTIONS,
      CLI_COMMON_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  int c, rc = CLI_EXIT_OK;
  cli_getopt_begin(common, argv);
  while ((c = getopt_long(
              argc, argv,
              "k:w:" CLI_BACKEND_SHORT_OPTIONS CLI_COMMON_SHORT_OPTIONS,
              options, NULL)) != -1) {
    switch (c) {
    case 'k':
      if (!annotate_number(common, "--top-k", optarg, 1000000, &opt->top_k,
                           &rc))
        return rc;
      break;
    case ANNOTATE_OPT_WINDOW:
      if (!annotate_number(common, "--window", optarg, ANNOTATE_MAX_FRAMES,
                           &opt->window, &rc))
        return rc;
      break;
    case ANNOTATE_OPT_STRIDE:
      if (!annotate_number(common, "--stride", optarg, ANNOTATE_MAX_FRAMES,
                           &opt->stride, &rc))
        return rc;
      break;
    case ANNOTATE_OPT_BATCH:
      if (!annotate_number(common, "--batch", optarg, ANNOTATE_MAX_BATCH,
                           &opt->batch, &rc))
        return rc;
      break;
    case ANNOTATE_OPT_SEGMENTS:
      opt->segments = true;
      break;
    case ANNOTATE_OPT_NO_PROGRESS:
      opt->progress = false;
      break;
    case 'w':
      opt->weights = optarg;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", annotate_usage, annotate_help);
      *done = true;
      return CLI_EXIT_OK;
    default:
      if (cli_backend_option(common, c, optarg, &rc)) {
        if (rc != CLI_EXIT_OK)
          return rc;
        break;
      }
      if (!cli_common_option(common, c))
        return cli_usage_hint(common);
    }
  }
  if (argc - optind < 3)
    return cli_usage_error(common, "%s",
                           argc - optind == 0   ? "missing MODEL.yaml"
                           : argc - optind == 1 ? "missing the input video IN"
                                                : "missing the output video "
                                                  "OUT");
  if (argc - optind > 3)
    return cli_usage_error(common,
                           "too many arguments: annotate reads one video IN "
                           "and writes one OUT");
  opt->model = argv[optind];
  opt->in = argv[optind + 1];
  opt->out = argv[optind + 2];
  if (annotate_same_file(opt->in, opt->out))
    return cli_usage_error(common,
                           "OUT is the input video %s; name another "
                           "file to write",
                           opt->in);
  return CLI_EXIT_OK;
}

#if GESTA_HAVE_GSTREAMER

/* One window's result: its frames and its class probabilities (in
 * annotate_state.probs). */
typedef struct annotate_window {
  int64_t first, last;
} annotate_window;

typedef struct annotate_state {
  cli_common *common;
  const annotate_options *opt;
  gesta_model *model;
  gesta_backend *backend;
  gesta_classifier *cls;
  int64_t frames, stride;
  int n_classes;
  gesta_window *pending; /* the windows in the batch being filled */
  float *batch_probs;
  annotate_window *wins; /* every window's result, in order */
  float *probs;          /* n_wins * n_classes */
  int *order;            /* n_classes, for the top K */
  int64_t n_wins, cap_wins;
  int64_t frame_count; /* decodable frames, from the first pass */
  bool tty;
} annotate_state;

static gesta_status annotate_load_weights(annotate_state *st,
                                          gesta_error *err) {
  return cli_load_weights(st->common, st->model, st->opt->weights, NULL, err);
}

static void annotate_progress(const annotate_state *st, const char *what,
                              int64_t done, int64_t total) {
  enum { WIDTH = 30 };
  char bar[WIDTH + 1];
  if (!st->tty)
    return;
  if (total <= 0) {
    fprintf(stderr, "\r%s: frame %" PRId64 "   ", what, done);
  } else {
    int fill = (int)(done * WIDTH / total);
    for (int i = 0; i < WIDTH; i++)
      bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r%s: [%s] %" PRId64 "/%" PRId64 " frames", what, bar,
            done, total);
  }
  fflush(stderr);
}

static void annotate_progress_end(const annotate_state *st) {
  if (st->tty)
    fputc('\n', stderr);
}

static gesta_status annotate_keep(annotate_state *st, const gesta_window *w,
                                  const float *p, gesta_error *err) {
  size_t k = (size_t)st->n_classes;
  if (st->n_wins == st->cap_wins) {
    int64_t cap = st->cap_wins ? 2 * st->cap_wins : 64;
    annotate_window *wins = realloc(st->wins, sizeof *wins * (size_t)cap);
    float *probs;
    if (!wins)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory keeping window results");
    st->wins = wins;
    probs = realloc(st->probs, sizeof *probs * k * (size_t)cap);
    if (!probs)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory keeping window results");
    st->probs = probs;
    st->cap_wins = cap;
  }
  st->wins[st->n_wins].first = w->first;
  st->wins[st->n_wins].last = w->last;
  memcpy(st->probs + (size_t)st->n_wins * k, p, sizeof *p * k);
  st->n_wins++;
  return GESTA_STATUS_OK;
}

static gesta_status annotate_flush(annotate_state *st, gesta_error *err) {
  int64_t n = gesta_classifier_pending(st->cls);
  double ms;
  gesta_status status;
  if (n == 0)
    return GESTA_STATUS_OK;
  status = gesta_classifier_run(st->cls, st->batch_probs, &ms, err);
  if (status != GESTA_STATUS_OK)
    return status;
  gesta_log(&st->common->ctx, GESTA_LOG_INFO,
            "forward pass: %" PRId64 " window%s in %.2f ms on %s", n,
            n == 1 ? "" : "s", ms, gesta_backend_device_name(st->backend));
  for (int64_t i = 0; i < n && status == GESTA_STATUS_OK; i++)
    status = annotate_keep(st, &st->pending[i],
                           st->batch_probs + i * st->n_classes, err);
  return status;
}

/* First pass: every window's probabilities. */
static gesta_status annotate_predict(annotate_state *st, gesta_error *err) {
  gesta_video_options vo;
  gesta_window_reader *r = NULL;
  gesta_status status;
  const gesta_clip_stats *stats;
  bool got = true;

  gesta_video_options_init(&vo);
  status = gesta_window_reader_open(&st->common->ctx, st->opt->in, &vo,
                                    &st->model->preprocess, st->frames,
                                    st->stride, &r, err);
  while (status == GESTA_STATUS_OK) {
    float *slot = gesta_classifier_next_slot(st->cls);
    if (!slot) {
      status = annotate_flush(st, err);
      if (status != GESTA_STATUS_OK)
        break;
      slot = gesta_classifier_next_slot(st->cls);
    }
    status = gesta_window_reader_next(
        r, slot, &st->pending[gesta_classifier_pending(st->cls) - 1], &got,
        err);
    if (status != GESTA_STATUS_OK || !got) {
      gesta_classifier_drop_slot(st->cls);
      break;
    }
    annotate_progress(st, "predicting",
                      gesta_window_reader_stats(r)->frame_count, 0);
  }
  if (status == GESTA_STATUS_OK)
    status = annotate_flush(st, err);
  if (r) {
    stats = gesta_window_reader_stats(r);
    st->frame_count = stats->frame_count;
    annotate_progress_end(st);
    if (status == GESTA_STATUS_OK && stats->damaged)
      gesta_log(&st->common->ctx, GESTA_LOG_WARNING, "%s", stats->warning);
  }
  gesta_window_reader_free(r);
  return status;
}

static int annotate_best(const float *p, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (p[i] > p[best])
      best = i;
  return best;
}

/* Consecutive windows with the same label merge into a segment: printed
 * as predict prints them and, with --segments, every window of a segment
 * takes the segment's mean probabilities (whose best class is the
 * segment's label). */
static void annotate_segments(annotate_state *st) {
  int k = st->n_classes;
  int64_t i = 0;
  printf("%s: windows of %" PRId64 " frames, stride %" PRId64 "\nsegments:\n",
         st->opt->in, st->frames, st->stride);
  while (i < st->n_wins) {
    int label = annotate_best(st->probs + i * k, k);
    int64_t j = i;
    while (j < st->n_wins && annotate_best(st->probs + j * k, k) == label)
      j++;
    printf("  frames %" PRId64 "-%" PRId64 "  %s (%" PRId64
           " window%s, mean confidence ",
           st->wins[i].first, st->wins[j - 1].last, st->model->classes[label],
           j - i, j - i == 1 ? "" : "s");
    for (int c = 0; c < k; c++) {
      double sum = 0;
      for (int64_t w = i; w < j; w++)
        sum += st->probs[w * k + c];
      if (c == label)
        printf("%.4f)\n", sum / (double)(j - i));
      if (st->opt->segments)
        for (int64_t w = i; w < j; w++)
          st->probs[w * k + c] = (float)(sum / (double)(j - i));
    }
    i = j;
  }
}

/* The text drawn on frames of window w: "Label 0.93", one line per class
 * of the top K. */
static void annotate_text(const annotate_state *st, int64_t w, char *buf,
                          size_t size) {
  const float *p = st->probs + w * st->n_classes;
  int *order = st->order;
  int64_t k = st->opt->top_k < st->n_classes ? st->opt->top_k : st->n_classes;
  size_t len = 0;
  for (int c = 0; c < st->n_classes; c++)
    order[c] = c;
  buf[0] = '\0';
  /* A partial selection sort: K is small. */
  for (int64_t r = 0; r < k; r++) {
    int64_t best = r;
    int keep;
    for (int64_t c = r + 1; c < st->n_classes; c++)
      if (p[order[c]] > p[order[best]])
        best = c;
    keep = order[r];
    order[r] = order[best];
    order[best] = keep;
    len += (size_t)snprintf(buf + len, size - len, "%s%s %.2f", r ? "\n" : "",
                            st->model->classes[order[r]], p[order[r]]);
    if (len >= size)
      return;
  }
}

static gesta_status annotate_open_writer(annotate_state *st, gesta_video *video,
                                         const gesta_frame *frame,
                                         gesta_video_writer **w,
                                         gesta_error *err) {
  gesta_video_writer_options wo = {
      .width = frame->width, .height = frame->height, .format = frame->format};
  gesta_video_framerate(video, &wo.fps_num, &wo.fps_den);
  return gesta_video_writer_open(&st->common->ctx, st->opt->out, &wo, w, err);
}

/* Second pass: every frame again, written with its window's label. */
static gesta_status annotate_write(annotate_state *st, gesta_error *err) {
  gesta_video_options vo;
  gesta_video *video = NULL;
  gesta_video_writer *w = NULL;
  gesta_status status;
  int64_t win = 0, text_win = -1;
  char text[4096];

  gesta_video_options_init(&vo);
  vo.format = GESTA_PIXEL_BGR;
  status = gesta_video_open(&st->common->ctx, st->opt->in, &vo, &video, err);
  while (status == GESTA_STATUS_OK) {
    gesta_frame frame;
    bool got;
    status = gesta_video_pull(video, &frame, &got, err);
    if (status != GESTA_STATUS_OK || !got)
      break;
    if (!w) {
      status = annotate_open_writer(st, video, &frame, &w, err);
      if (status != GESTA_STATUS_OK)
        break;
    }
    /* The latest window starting at or before this frame: it covers the
     * frame unless the stride leaves a gap, where the label holds. */
    while (win + 1 < st->n_wins && st->wins[win + 1].first <= frame.index)
      win++;
    if (win != text_win) {
      annotate_text(st, win, text, sizeof text);
      text_win = win;
    }
    status = gesta_video_writer_write(w, &frame, text, err);
    if (frame.index % 8 == 0 || frame.index + 1 == st->frame_count)
      annotate_progress(st, "writing", frame.index + 1, st->frame_count);
  }
  annotate_progress_end(st);
  if (status == GESTA_STATUS_OK && !w)
    status =
        gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                        "%s: no frame decoded on the second pass", st->opt->in);
  if (status == GESTA_STATUS_OK &&
      gesta_video_writer_frames(w) != st->frame_count)
    gesta_log(&st->common->ctx, GESTA_LOG_WARNING,
              "%s: %" PRId64 " frames decoded on the second pass, %" PRId64
              " on the first; the labels may be off",
              st->opt->in, gesta_video_writer_frames(w), st->frame_count);
  if (status == GESTA_STATUS_OK)
    status = gesta_video_writer_finish(w, err);
  if (status == GESTA_STATUS_OK) {
    int num, den;
    gesta_video_framerate(video, &num, &den);
    printf("wrote %s: %" PRId64 " frames", st->opt->out,
           gesta_video_writer_frames(w));
    if (num > 0)
      printf(" at %g fps", (double)num / den);
    printf("\n");
  }
  gesta_video_writer_free(w);
  gesta_video_close(video);
  return status;
}

static gesta_status annotate_setup(annotate_state *st, gesta_error *err) {
  const annotate_options *opt = st->opt;
  gesta_model *m;
  gesta_plan_options po = {.strict = st->common->backend.strict};
  gesta_video_container container;
  gesta_status status = cli_load_model(st->common, opt->model, &st->model, err);
  if (status == GESTA_STATUS_OK)
    status = annotate_load_weights(st, err);
  if (status == GESTA_STATUS_OK)
    status = cli_backend_open(st->common, &st->backend, err);
  /* Missing encoders and an unwritable OUT before the first pass, which
   * may take long. */
  if (status == GESTA_STATUS_OK)
    status = gesta_video_container_for(opt->out, &container, err);
  if (status == GESTA_STATUS_OK)
    status = gesta_video_writer_check(container, err);
  if (status == GESTA_STATUS_OK)
    status = gesta_video_writer_check_path(opt->out, err);
  if (status != GESTA_STATUS_OK)
    return status;
  m = st->model;
  if (opt->window && m->input_shape.rank == 4 &&
      opt->window != m->input_shape.dims[0])
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "model '%s' takes clips of %" PRId64
                           " frames, so --window must be %" PRId64,
                           m->name, m->input_shape.dims[0],
                           m->input_shape.dims[0]);
  /* A per-frame model averages whatever a window holds. */
  if (opt->window)
    m->preprocess.frames = opt->window;
  status = gesta_classifier_new(m, st->backend, opt->batch, &po, &st->cls, err);
  if (status != GESTA_STATUS_OK)
    return status;
  st->n_classes = m->n_classes;
  st->frames = gesta_classifier_frames(st->cls);
  st->stride = opt->stride ? opt->stride : st->frames;
  st->pending = calloc((size_t)opt->batch, sizeof *st->pending);
  st->order = malloc(sizeof *st->order * (size_t)m->n_classes);
  st->batch_probs =
      malloc(sizeof *st->batch_probs * (size_t)(opt->batch * m->n_classes));
  if (!st->pending || !st->batch_probs || !st->order)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  return GESTA_STATUS_OK;
}

static void annotate_cleanup(annotate_state *st) {
  free(st->pending);
  free(st->order);
  free(st->batch_probs);
  free(st->wins);
  free(st->probs);
  gesta_classifier_free(st->cls);
  if (st->backend)
    gesta_backend_free(st->backend);
  if (st->model)
    gesta_model_free(st->model);
}

static int annotate_run(cli_common *common, const annotate_options *opt,
                        gesta_error *err) {
  annotate_state st;
  gesta_status status;
  memset(&st, 0, sizeof st);
  st.common = common;
  st.opt = opt;
  st.tty = opt->progress && isatty(STDERR_FILENO) == 1 &&
           common->ctx.log_level > GESTA_LOG_ERROR;
  status = annotate_setup(&st, err);
  if (status == GESTA_STATUS_OK)
    status = annotate_predict(&st, err);
  if (status == GESTA_STATUS_OK) {
    annotate_segments(&st);
    fflush(stdout);
    status = annotate_write(&st, err);
  }
  annotate_cleanup(&st);
  return status == GESTA_STATUS_OK ? CLI_EXIT_OK : cli_report(common, err);
}

static int cmd_annotate_main(int argc, char **argv) {
  cli_common common;
  annotate_options opt = {.top_k = 1, .batch = 4, .progress = true};
  gesta_video_container container;
  gesta_error err;
  bool done = false;
  int rc;

  cli_common_init(&common, "annotate", annotate_usage);
  rc = annotate_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  gesta_error_clear(&err);
  if (gesta_video_container_for(opt.out, &container, &err) != GESTA_STATUS_OK)
    return cli_usage_error(&common, "%s", err.message);
  return annotate_run(&common, &opt, &err);
}

#else

static int cmd_annotate_main(int argc, char **argv) {
  cli_common common;
  annotate_options opt = {.top_k = 1, .batch = 4, .progress = true};
  bool done = false;
  int rc;
  cli_common_init(&common, "annotate", annotate_usage);
  rc = annotate_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  fprintf(stderr, "gesta: error: this gesta was built without GStreamer "
                  "(GESTA_GSTREAMER=OFF), so it cannot read or write video; "
                  "rebuild with -DGESTA_GSTREAMER=ON\n");
  return CLI_EXIT_USAGE;
}

#endif

const cli_command cli_command_annotate = {
    .name = "annotate",
    .summary = "write a video with the recognised activity drawn on each "
               "frame",
    .main = cmd_annotate_main,
};
