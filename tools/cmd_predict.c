/* gesta predict: a model on videos, the seed's answer per video (or per
 * sliding window), several clips batched into one forward pass. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesta/cpu.h"
#include "predict.h"

static const char predict_usage[] =
    "gesta predict [OPTIONS] MODEL.yaml VIDEO... | --camera DEV MODEL.yaml";

static const char predict_help[] =
    "Recognises the activity in each video: decodes it, samples frames as\n"
    "the model's preprocess section says (the seed's 20 evenly spaced\n"
    "frames, or sliding windows), resizes and scales them like OpenCV did in\n"
    "training and runs the model. Prints the seed's line per video:\n"
    "  Action Predicted: BabyCrawling Confidence: 0.9008\n"
    "A VIDEO is a file or any URI GStreamer reads (file://, http://, ...).\n"
    "A per-frame model (like cnn) gives a clip the mean of its frames'\n"
    "probabilities.\n"
    "\n"
    "Options:\n"
    "  -k, --top-k K           also list the K most likely classes\n"
    "      --json              one JSON object per video per line\n"
    "      --window T          sliding windows of T frames (a clip model's\n"
    "                          T is its input's), each with its time span;\n"
    "                          windows with the same label merge into\n"
    "                          segments\n"
    "      --stride S          frames between window starts (default T)\n"
    "      --batch B           clips or windows per forward pass (default "
    "4)\n"
    "      --decoders N        videos decoded at once, ahead of the model\n"
    "                          (default: one per core, at most 4)\n"
    "      --threads N         threads of the CPU backend's kernels\n"
    "                          (default: the CPUs)\n"
    "  -w, --weights FILE      weights (safetensors); default: the file the\n"
    "                          model names\n"
    "      --camera DEV        read a V4L2 camera (e.g. /dev/video0) in\n"
    "                          windows until interrupted\n" CLI_BACKEND_HELP
        CLI_COMMON_HELP "\n"
    "Examples:\n"
    "  gesta init models/lrcn.yaml -o lrcn-random.safetensors --seed 1\n"
    "  gesta predict models/lrcn.yaml clip.avi --weights "
    "lrcn-random.safetensors\n"
    "  gesta predict lrcn a.mp4 b.mkv --json --top-k 3\n"
    "  gesta predict lrcn long.mp4 --window 20 --stride 10\n"
    "\n"
    "Exit codes: 0 every video predicted, 1 runtime failure, 2 bad usage or\n"
    "a video without a result (missing, not a video, too short).\n";

enum {
  PREDICT_OPT_JSON = 256,
  PREDICT_OPT_WINDOW,
  PREDICT_OPT_STRIDE,
  PREDICT_OPT_BATCH,
  PREDICT_OPT_CAMERA,
  PREDICT_OPT_DECODERS,
  PREDICT_OPT_THREADS
};

#define PREDICT_MAX_BATCH 4096
#define PREDICT_MAX_FRAMES 100000

static int predict_parse(cli_common *common, int argc, char **argv,
                         predict_options *opt, bool *done) {
  static const struct option options[] = {
      {"top-k", required_argument, NULL, 'k'},
      {"json", no_argument, NULL, PREDICT_OPT_JSON},
      {"window", required_argument, NULL, PREDICT_OPT_WINDOW},
      {"stride", required_argument, NULL, PREDICT_OPT_STRIDE},
      {"batch", required_argument, NULL, PREDICT_OPT_BATCH},
      {"weights", required_argument, NULL, 'w'},
      {"camera", required_argument, NULL, PREDICT_OPT_CAMERA},
      {"decoders", required_argument, NULL, PREDICT_OPT_DECODERS},
      {"threads", required_argument, NULL, PREDICT_OPT_THREADS},
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
      if (!cli_parse_int64(optarg, 1, 1000000, &opt->top_k))
        return cli_usage_error(common, "--top-k wants a number >= 1, got '%s'",
                               optarg);
      break;
    case PREDICT_OPT_JSON:
      opt->json = true;
      break;
    case PREDICT_OPT_WINDOW:
      if (!cli_parse_int64(optarg, 1, PREDICT_MAX_FRAMES, &opt->window))
        return cli_usage_error(
            common, "--window wants a frame count from 1 to %d, got '%s'",
            PREDICT_MAX_FRAMES, optarg);
      break;
    case PREDICT_OPT_STRIDE:
      if (!cli_parse_int64(optarg, 1, PREDICT_MAX_FRAMES, &opt->stride))
        return cli_usage_error(
            common, "--stride wants a frame count from 1 to %d, got '%s'",
            PREDICT_MAX_FRAMES, optarg);
      break;
    case PREDICT_OPT_BATCH:
      if (!cli_parse_int64(optarg, 1, PREDICT_MAX_BATCH, &opt->batch))
        return cli_usage_error(common,
                               "--batch wants a number from 1 to %d, got '%s'",
                               PREDICT_MAX_BATCH, optarg);
      break;
    case PREDICT_OPT_THREADS: {
      int64_t n;
      if ((rc = cli_parse_threads(common, optarg, &n)))
        return rc;
      gesta_cpu_set_threads((int)n);
      break;
    }
    case PREDICT_OPT_DECODERS:
      if (!cli_parse_int64(optarg, 1, 4, &opt->decoders))
        return cli_usage_error(
            common, "--decoders wants a number from 1 to 4, got '%s'", optarg);
      break;
    case 'w':
      opt->weights = optarg;
      break;
    case PREDICT_OPT_CAMERA:
      opt->camera = optarg;
      break;
    case 'h':
      printf("Usage: %s\n\n%s", predict_usage, predict_help);
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
  if (optind >= argc)
    return cli_usage_error(common, "missing MODEL.yaml");
  opt->model = argv[optind];
  opt->videos = argv + optind + 1;
  opt->n_videos = argc - optind - 1;
  if (opt->n_videos == 0 && !opt->camera)
    return cli_usage_error(common, "no video: name one or more files or "
                                   "URIs, or a camera with --camera DEV");
  if (opt->n_videos > 0 && opt->camera)
    return cli_usage_error(common,
                           "--camera reads the camera only; drop the video "
                           "arguments or --camera");
  if (opt->stride && !opt->window)
    return cli_usage_error(common, "--stride needs --window T");
  return CLI_EXIT_OK;
}

#if GESTA_HAVE_GSTREAMER

static gesta_status predict_load_weights(predict_state *st, gesta_error *err) {
  return cli_load_weights(st->common, st->model, st->opt->weights, &st->weights,
                          err);
}

static void predict_fail(predict_state *st, const gesta_error *err) {
  int rc = cli_report(st->common, err);
  if (rc > st->rc)
    st->rc = rc;
}

/* Runs the pending clips and hands each result to its printer. */
static gesta_status predict_flush(predict_state *st, gesta_error *err) {
  int64_t n = gesta_classifier_pending(st->cls);
  int k = st->model->n_classes;
  double ms;
  gesta_status status;
  if (n == 0)
    return GESTA_STATUS_OK;
  status = gesta_classifier_run(st->cls, st->probs, &ms, err);
  if (status != GESTA_STATUS_OK)
    return status;
  gesta_log(&st->common->ctx, GESTA_LOG_INFO,
            "forward pass: %" PRId64 " clip%s in %.2f ms on %s", n,
            n == 1 ? "" : "s", ms, gesta_backend_device_name(st->backend));
  for (int64_t i = 0; i < n; i++) {
    const predict_item *it = &st->items[i];
    const float *p = st->probs + i * k;
    if (!it->is_window) {
      predict_uniform_result(st, it, p, ms / (double)n);
      continue;
    }
    st->infer_ms += ms / (double)n;
    predict_window_result_print(st, it->video, &it->window, p);
    status = predict_keep_window(st, &it->window, p, err);
    if (status != GESTA_STATUS_OK)
      return status;
  }
  return GESTA_STATUS_OK;
}

/* The next slot in the batch, running the batch first when it is full. */
static gesta_status predict_slot(predict_state *st, float **slot,
                                 predict_item **item, gesta_error *err) {
  gesta_status status;
  *slot = gesta_classifier_next_slot(st->cls);
  if (!*slot) {
    status = predict_flush(st, err);
    if (status != GESTA_STATUS_OK)
      return status;
    *slot = gesta_classifier_next_slot(st->cls);
  }
  *item = &st->items[gesta_classifier_pending(st->cls) - 1];
  return GESTA_STATUS_OK;
}

static void predict_warn(const predict_state *st, const gesta_clip_stats *s) {
  if (s->damaged)
    gesta_log(&st->common->ctx, GESTA_LOG_WARNING, "%s", s->warning);
}

/* Takes the video's clip from the decoding threads into the batch. */
static gesta_status predict_uniform(predict_state *st, predict_prefetch *pf,
                                    int video, gesta_error *err) {
  const predict_clip *clip = predict_prefetch_take(pf, video);
  const gesta_preprocess *pp = &st->model->preprocess;
  size_t floats =
      (size_t)st->frames * (size_t)pp->height * (size_t)pp->width *
      (size_t)gesta_pixel_format_channels(gesta_pixel_format_for(pp->channels));
  predict_item *it;
  float *slot;
  gesta_status status = clip->status;
  if (status != GESTA_STATUS_OK)
    *err = clip->err;
  else
    status = predict_slot(st, &slot, &it, err);
  if (status == GESTA_STATUS_OK) {
    memcpy(slot, clip->data, sizeof *slot * floats);
    memcpy(it->indices, clip->indices,
           sizeof *it->indices * (size_t)st->frames);
    it->video = video;
    it->is_window = false;
    it->stats = clip->stats;
    predict_warn(st, &it->stats);
  }
  predict_prefetch_done(pf, video);
  return status;
}

static gesta_status predict_windows(predict_state *st, int video,
                                    int64_t frames, int64_t stride,
                                    gesta_error *err) {
  gesta_video_options vo;
  gesta_window_reader *r = NULL;
  gesta_status status;
  bool got = true;

  gesta_video_options_init(&vo);
  vo.camera = st->opt->camera != NULL;
  predict_clear_windows(st);
  st->infer_ms = 0;
  status =
      gesta_window_reader_open(&st->common->ctx, predict_name(st, video), &vo,
                               &st->model->preprocess, frames, stride, &r, err);
  if (status != GESTA_STATUS_OK)
    return status;
  if (!st->opt->json)
    printf("%s: windows of %" PRId64 " frames, stride %" PRId64 "\n",
           predict_name(st, video), frames, stride);
  while (status == GESTA_STATUS_OK) {
    predict_item *it;
    float *slot;
    status = predict_slot(st, &slot, &it, err);
    if (status != GESTA_STATUS_OK)
      break;
    it->video = video;
    it->is_window = true;
    status = gesta_window_reader_next(r, slot, &it->window, &got, err);
    if (status != GESTA_STATUS_OK || !got) {
      gesta_classifier_drop_slot(st->cls);
      break;
    }
  }
  if (status == GESTA_STATUS_OK)
    status = predict_flush(st, err);
  if (status == GESTA_STATUS_OK) {
    gesta_clip_stats s = *gesta_window_reader_stats(r);
    predict_warn(st, &s);
    predict_windows_done(st, video, &s, frames, stride);
  }
  gesta_window_reader_free(r);
  return status;
}

static gesta_status predict_setup(predict_state *st, gesta_error *err) {
  gesta_status status =
      cli_load_model(st->common, st->opt->model, &st->model, err);
  if (status == GESTA_STATUS_OK)
    status = predict_load_weights(st, err);
  return status;
}

static gesta_status predict_setup_batch(predict_state *st, gesta_error *err) {
  gesta_plan_options po = {.strict = st->common->backend.strict};
  gesta_status status = gesta_classifier_new(st->model, st->backend, st->batch,
                                             &po, &st->cls, err);
  if (status != GESTA_STATUS_OK)
    return status;
  st->frames = gesta_classifier_frames(st->cls);
  st->items = calloc((size_t)st->batch, sizeof *st->items);
  st->probs =
      malloc(sizeof *st->probs * (size_t)(st->batch * st->model->n_classes));
  if (!st->items || !st->probs)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < st->batch; i++)
    if (!(st->items[i].indices =
              malloc(sizeof *st->items[i].indices * (size_t)st->frames)))
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  return GESTA_STATUS_OK;
}

static void predict_cleanup(predict_state *st) {
  predict_clear_windows(st);
  free(st->wins);
  if (st->items)
    for (int64_t i = 0; i < st->batch; i++)
      free(st->items[i].indices);
  free(st->items);
  free(st->probs);
  gesta_classifier_free(st->cls);
  if (st->backend)
    gesta_backend_free(st->backend);
  if (st->model)
    gesta_model_free(st->model);
}

/* Uniform clips: decoding threads start before the backend opens, so the
 * first videos decode while an OpenCL device starts up. */
static int predict_run_uniform(predict_state *st, gesta_error *err) {
  const predict_options *opt = st->opt;
  predict_prefetch *pf = NULL;
  gesta_status status = GESTA_STATUS_OK;
  if (st->model->has_preprocess && st->model->preprocess.frames >= 1)
    status = predict_prefetch_start(&st->common->ctx, opt->videos,
                                    opt->n_videos, &st->model->preprocess,
                                    (int)opt->decoders, &pf, err);
  if (status == GESTA_STATUS_OK)
    status = cli_backend_open(st->common, &st->backend, err);
  if (status == GESTA_STATUS_OK)
    status = predict_setup_batch(st, err);
  if (status != GESTA_STATUS_OK) {
    predict_prefetch_free(pf);
    return cli_report(st->common, err);
  }
  for (int v = 0; v < opt->n_videos; v++) {
    if (predict_uniform(st, pf, v, err) != GESTA_STATUS_OK) {
      /* Earlier videos' results first, so output stays in order. */
      gesta_error flush_err;
      gesta_error_clear(&flush_err);
      if (predict_flush(st, &flush_err) != GESTA_STATUS_OK)
        predict_fail(st, &flush_err);
      predict_fail(st, err);
      gesta_error_clear(err);
    }
  }
  predict_prefetch_free(pf);
  if (predict_flush(st, err) != GESTA_STATUS_OK)
    predict_fail(st, err);
  return st->rc;
}

static int predict_run_windows(predict_state *st, gesta_error *err) {
  const predict_options *opt = st->opt;
  int64_t stride;
  if (cli_backend_open(st->common, &st->backend, err) != GESTA_STATUS_OK ||
      predict_setup_batch(st, err) != GESTA_STATUS_OK)
    return cli_report(st->common, err);
  stride = opt->stride ? opt->stride : st->frames;
  for (int v = 0; v < (opt->camera ? 1 : opt->n_videos); v++) {
    if (predict_windows(st, v, st->frames, stride, err) != GESTA_STATUS_OK) {
      gesta_error flush_err;
      gesta_error_clear(&flush_err);
      if (predict_flush(st, &flush_err) != GESTA_STATUS_OK)
        predict_fail(st, &flush_err);
      predict_fail(st, err);
      gesta_error_clear(err);
    }
  }
  if (predict_flush(st, err) != GESTA_STATUS_OK)
    predict_fail(st, err);
  return st->rc;
}

static int cmd_predict_main(int argc, char **argv) {
  cli_common common;
  predict_options opt = {.top_k = 1};
  predict_state st;
  gesta_error err;
  bool done = false, windows;
  int rc;

  memset(&st, 0, sizeof st);
  cli_common_init(&common, "predict", predict_usage);
  rc = predict_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  st.common = &common;
  st.opt = &opt;
  /* A camera has no end to wait for: a window at a time. */
  st.batch = opt.batch ? opt.batch : opt.camera ? 1 : 4;
  gesta_error_clear(&err);
  if (predict_setup(&st, &err) != GESTA_STATUS_OK) {
    rc = cli_report(&common, &err);
    predict_cleanup(&st);
    return rc;
  }
  windows = opt.window || opt.camera ||
            st.model->preprocess.sampling == GESTA_SAMPLING_WINDOW;
  if (windows && opt.window && st.model->input_shape.rank == 4 &&
      opt.window != st.model->input_shape.dims[0]) {
    rc = cli_usage_error(&common,
                         "model '%s' takes clips of %" PRId64
                         " frames, so --window must be %" PRId64,
                         st.model->name, st.model->input_shape.dims[0],
                         st.model->input_shape.dims[0]);
    predict_cleanup(&st);
    return rc;
  }
  /* A per-frame model averages whatever a window holds. */
  if (windows && opt.window)
    st.model->preprocess.frames = opt.window;
  rc =
      windows ? predict_run_windows(&st, &err) : predict_run_uniform(&st, &err);
  predict_cleanup(&st);
  return rc;
}

#else

static int cmd_predict_main(int argc, char **argv) {
  cli_common common;
  predict_options opt = {.top_k = 1, .batch = 4};
  bool done = false;
  int rc;
  cli_common_init(&common, "predict", predict_usage);
  rc = predict_parse(&common, argc, argv, &opt, &done);
  if (rc != CLI_EXIT_OK || done)
    return rc;
  fprintf(stderr, "gesta: error: this gesta was built without GStreamer "
                  "(GESTA_GSTREAMER=OFF), so it cannot read video; rebuild "
                  "with -DGESTA_GSTREAMER=ON\n");
  return CLI_EXIT_USAGE;
}

#endif

const cli_command cli_command_predict = {
    .name = "predict",
    .summary = "recognise the activity in videos (seed's label, top-k, JSON)",
    .main = cmd_predict_main,
};
