/* gesta train after parsing: a new run or a resumed one set up (model,
 * data, backend, trainer, state), the epochs run, the run finished. */
#define _DEFAULT_SOURCE

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gesta/cpu.h"
#include "train_dataset.h"
#include "train_run.h"
#include "train_util.h"

static bool ts_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static gesta_status ts_mismatch(gesta_error *err, const char *run_dir,
                                const char *option, const char *theirs,
                                const char *mine) {
  return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                         "the run in %s was started with %s %s; resuming "
                         "with %s %s would not continue it: drop %s, or "
                         "start a new run in another folder",
                         run_dir, option, theirs, option, mine, option);
}

static gesta_status ts_mismatch_number(gesta_error *err, const char *run_dir,
                                       const char *option, double theirs,
                                       double mine) {
  char a[64], b[64];
  snprintf(a, sizeof a, "%g", theirs);
  snprintf(b, sizeof b, "%g", mine);
  return ts_mismatch(err, run_dir, option, a, b);
}

static gesta_status ts_mismatch_count(gesta_error *err, const char *run_dir,
                                      const char *option, int64_t theirs,
                                      int64_t mine) {
  char a[32], b[32];
  snprintf(a, sizeof a, "%lld", (long long)theirs);
  snprintf(b, sizeof b, "%lld", (long long)mine);
  return ts_mismatch(err, run_dir, option, a, b);
}

/* Options a resume may not change: they would make another run. */
static gesta_status ts_check_resume(const train_cli *cli,
                                    const gesta_train_state *s,
                                    gesta_error *err) {
  const char *dir = cli->resume;
  if (cli->batch_given && cli->batch != s->batch)
    return ts_mismatch_count(err, dir, "--batch-size", s->batch, cli->batch);
  if (cli->seed_given && cli->seed != s->seed) {
    char a[32], b[32];
    snprintf(a, sizeof a, "%llu", (unsigned long long)s->seed);
    snprintf(b, sizeof b, "%llu", (unsigned long long)cli->seed);
    return ts_mismatch(err, dir, "--seed", a, b);
  }
  if (cli->val_given && cli->validation_split != s->validation_split)
    return ts_mismatch_number(err, dir, "--validation-split",
                              s->validation_split, cli->validation_split);
  if (cli->optimizer_given &&
      strcmp(cli->optimizer, gesta_optim_name(s->optim.kind)) != 0)
    return ts_mismatch(err, dir, "--optimizer", gesta_optim_name(s->optim.kind),
                       cli->optimizer);
  if (cli->lr_given && cli->lr != s->optim.learning_rate)
    return ts_mismatch_number(err, dir, "--lr", s->optim.learning_rate,
                              cli->lr);
  if (cli->momentum_given && cli->momentum != s->optim.momentum)
    return ts_mismatch_number(err, dir, "--momentum", s->optim.momentum,
                              cli->momentum);
  if (cli->monitor_given && strcmp(cli->monitor, s->monitor) != 0)
    return ts_mismatch(err, dir, "--monitor", s->monitor, cli->monitor);
  if (cli->frames_given && cli->frames_per_clip != s->frames_per_clip)
    return ts_mismatch_count(err, dir, "--frames-per-clip", s->frames_per_clip,
                             cli->frames_per_clip);
  if (cli->val_by_group && !s->validation_by_group)
    return ts_mismatch(err, dir, "--validation-by-group", "off", "on");
  if (cli->aug_zoom_given && cli->aug_zoom != s->augment_zoom)
    return ts_mismatch_number(err, dir, "--augment-zoom", s->augment_zoom,
                              cli->aug_zoom);
  if (cli->aug_noise_given && cli->aug_noise != s->augment_noise)
    return ts_mismatch_number(err, dir, "--augment-noise", s->augment_noise,
                              cli->aug_noise);
  if (cli->aug_time_given && cli->aug_time != s->augment_time)
    return ts_mismatch_count(err, dir, "--augment-time", s->augment_time,
                             cli->aug_time);
  if (cli->warmup_given && cli->warmup != s->warmup)
    return ts_mismatch_count(err, dir, "--warmup", s->warmup, cli->warmup);
  if (cli->aug_mirror && !s->augment_mirror)
    return ts_mismatch(err, dir, "--augment-mirror", "off", "on");
  if (cli->mirror_swap && strcmp(cli->mirror_swap, s->mirror_swap) != 0)
    return ts_mismatch(err, dir, "--mirror-swap",
                       s->mirror_swap[0] ? s->mirror_swap : "(none)",
                       cli->mirror_swap);
  if (cli->augment && !s->augment)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "the run in %s was started without --augment; "
                           "resuming with it would not continue it: drop "
                           "--augment, or start a new run in another folder",
                           dir);
  return GESTA_STATUS_OK;
}

/* What a resume may change: how long the run goes, and threads. */
static void ts_apply_resume(const train_cli *cli, gesta_train_state *s) {
  if (cli->epochs_given)
    s->epochs = cli->epochs;
  if (cli->early_stopping)
    s->early_stopping = true;
  if (cli->threads_given)
    s->threads = (int)cli->threads;
}

static void ts_fresh_state(const train_cli *cli, const cli_common *common,
                           const gesta_model *model, gesta_train_state *s) {
  snprintf(s->model_name, sizeof s->model_name, "%s", model->name);
  s->fingerprint = gesta_model_fingerprint(model);
  s->batch = cli->batch;
  s->seed = cli->seed;
  s->validation_split = cli->validation_split;
  if (strcmp(cli->optimizer, "sgd") == 0)
    gesta_optim_config_sgd(&s->optim);
  else
    gesta_optim_config_adam(&s->optim);
  if (cli->lr_given)
    s->optim.learning_rate = cli->lr;
  s->optim.momentum = cli->momentum;
  gesta_cpu_set_threads(0);
  s->threads = cli->threads_given ? (int)cli->threads : gesta_cpu_threads();
  s->epochs = cli->epochs;
  s->early_stopping = cli->early_stopping;
  snprintf(s->monitor, sizeof s->monitor, "%s", cli->monitor);
  s->patience = cli->patience;
  s->augment = cli->augment;
  s->augment_zoom = cli->aug_zoom;
  s->augment_noise = cli->aug_noise;
  s->augment_time = cli->aug_time;
  s->augment_mirror = cli->aug_mirror;
  s->warmup = cli->warmup;
  snprintf(s->mirror_swap, sizeof s->mirror_swap, "%s",
           cli->mirror_swap ? cli->mirror_swap : "");
  s->validation_by_group = cli->val_by_group;
  s->frames_per_clip = cli->frames_per_clip;
  s->lr_factor = cli->lr_factor;
  s->lr_patience = cli->lr_patience;
  s->min_lr = cli->min_lr;
  snprintf(s->backend, sizeof s->backend, "%s", common->backend.backend);
  if (common->backend.device_given)
    snprintf(s->device, sizeof s->device, "%s", common->backend.device);
  gesta_rng rng;
  gesta_rng_seed(&rng, cli->seed);
  memcpy(s->rng, rng.s, sizeof s->rng);
}

/* A resume goes on where the run trained unless --backend or --device
 * says otherwise. The state's strings outlive the command's use of them. */
static void ts_resume_backend(cli_common *common, const gesta_train_state *s) {
  if (!common->backend.backend_given && s->backend[0])
    common->backend.backend = s->backend;
  if (!common->backend.device_given && !common->backend.backend_given &&
      s->device[0]) {
    common->backend.device = s->device;
    common->backend.device_given = true;
  }
}

/* The trainer on the backend asked for; with --backend auto, a model the
 * OpenCL device cannot train yet goes to the CPU with a warning. */
static gesta_status ts_trainer(train_run *run, gesta_backend **backend,
                               gesta_error *err) {
  cli_common *common = run->common;
  gesta_trainer_options opt;
  gesta_trainer_options_init(&opt);
  opt.optim = run->state.optim;
  opt.seed = run->state.seed;
  gesta_status st = cli_backend_open(common, backend, err);
  if (st != GESTA_STATUS_OK)
    return st;
  st = gesta_trainer_new(run->model, *backend, run->state.batch, &opt,
                         &run->trainer, err);
  if (st == GESTA_STATUS_UNSUPPORTED &&
      strcmp(common->backend.backend, "auto") == 0 &&
      !common->backend.device_given &&
      strcmp(gesta_backend_device_name(*backend), "cpu") != 0) {
    gesta_log(&common->ctx, GESTA_LOG_WARNING, "%s; training on the CPU",
              err->message);
    gesta_backend_free(*backend);
    *backend = NULL;
    gesta_error_clear(err);
    st = gesta_backend_cpu_new(&common->ctx, backend, err);
    if (st == GESTA_STATUS_OK)
      st = gesta_trainer_new(run->model, *backend, run->state.batch, &opt,
                             &run->trainer, err);
  }
  return st;
}

/* DATA as a clip cache: the file itself, or a dataset folder cached into
 * RUN_DIR/clips.cache (reused by a resume). */
static gesta_status ts_open_data(train_run *run, const char *data,
                                 gesta_clipcache **cache, gesta_error *err) {
  gesta_status st = GESTA_STATUS_OK;
  char *path = NULL;
  if (ts_is_dir(data)) {
    path = train_path(run->run_dir, "clips.cache");
    if (!path)
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!cli_file_exists(path)) {
      train_build_request req;
      train_build_request_init(&req);
      req.dir = data;
      req.cache = path;
      req.model = run->model;
      req.seed = run->state.seed;
      st = train_build_cache(run->common, &req, err);
    }
    data = path;
  }
  if (st == GESTA_STATUS_OK)
    st = gesta_clipcache_open(data, cache, err);
  if (st == GESTA_STATUS_OK)
    st = gesta_clipcache_check_model(*cache, run->model, err);
  if (st == GESTA_STATUS_OK && !run->state.data[0]) {
    char *real = realpath(data, NULL);
    snprintf(run->state.data, sizeof run->state.data, "%s", real ? real : data);
    free(real);
  }
  free(path);
  return st;
}

static gesta_status ts_check_monitor(train_run *run, const train_cli *cli,
                                     gesta_error *err) {
  gesta_train_state *s = &run->state;
  if (run->data.n_val > 0 || strncmp(s->monitor, "val_", 4) != 0)
    return GESTA_STATUS_OK;
  if (cli->monitor_given ||
      (s->early_stopping && cli->resume == NULL && cli->val_given))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "--monitor %s needs validation clips: give "
                           "--validation-split > 0 (the training part has "
                           "%lld clips)",
                           s->monitor, (long long)run->data.n_train);
  gesta_log(&run->common->ctx, GESTA_LOG_WARNING,
            "no validation clips: the best epoch is the one with the lowest "
            "training loss");
  snprintf(s->monitor, sizeof s->monitor, "loss");
  return GESTA_STATUS_OK;
}

/* The run's end: with early stopping the best epoch's weights, else the
 * last epoch's, saved under the model's weights file name. */
static gesta_status ts_finish(train_run *run, gesta_error *err) {
  gesta_train_state *s = &run->state;
  gesta_status st = GESTA_STATUS_OK;
  const char *name = "weights.safetensors";
  if (run->model->weights_path[0]) {
    const char *slash = strrchr(run->model->weights_path, '/');
    name = slash ? slash + 1 : run->model->weights_path;
  }
  char *final = train_path(run->run_dir, name);
  if (!final)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  if (s->early_stopping && s->best_epoch > 0 && s->best_epoch != s->epoch) {
    st = gesta_model_load_weights(run->model, run->best_path, err);
    if (st == GESTA_STATUS_OK)
      printf("Restored the weights of epoch %lld (best %s %.4f)\n",
             (long long)s->best_epoch, s->monitor, s->best);
  } else {
    st = gesta_trainer_download_weights(run->trainer, run->model, err);
  }
  if (st == GESTA_STATUS_OK && strcmp(name, "checkpoint.safetensors") != 0)
    st = gesta_model_save_weights(run->model, final, err);
  if (st == GESTA_STATUS_OK)
    printf("trained %s: %lld epochs, best epoch %lld; weights in %s\n",
           run->model->name, (long long)s->epoch, (long long)s->best_epoch,
           final);
  free(final);
  return st;
}

static gesta_status ts_prepare(train_run *run, const train_cli *cli,
                               gesta_error *err) {
  gesta_status st;
  if (cli->resume) {
    if (!cli_file_exists(run->checkpoint_path))
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s has no checkpoint.safetensors: nothing to "
                             "resume (start a run with gesta train MODEL.yaml "
                             "DATA -o %s)",
                             run->run_dir, run->run_dir);
    st = gesta_checkpoint_read_state(run->checkpoint_path, &run->state, err);
    if (st == GESTA_STATUS_OK)
      st = ts_check_resume(cli, &run->state, err);
    return st;
  }
  if (cli_file_exists(run->checkpoint_path) && !cli->force)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s already holds a run (checkpoint.safetensors): "
                           "continue it with gesta train --resume %s, or add "
                           "--force to start over",
                           run->run_dir, run->run_dir);
  return train_make_dir(run->run_dir, err);
}

static gesta_status ts_load_model(train_run *run, const train_cli *cli,
                                  gesta_error *err) {
  char *yaml = NULL;
  const char *arg = cli->model;
  if (!arg) {
    yaml = train_path(run->run_dir, "model.yaml");
    arg = yaml;
  }
  gesta_status st = cli_load_model(run->common, arg, &run->model, err);
  free(yaml);
  if (st != GESTA_STATUS_OK || !cli->resume)
    return st;
  if (gesta_model_fingerprint(run->model) != run->state.fingerprint)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s/checkpoint.safetensors was made for model "
                           "'%s', whose layers or shapes differ from '%s' "
                           "(%s): resume with the run's own model (%s/"
                           "model.yaml), or start a new run",
                           run->run_dir, run->state.model_name,
                           run->model->name, run->model->path, run->run_dir);
  return GESTA_STATUS_OK;
}

int train_command(cli_common *common, const train_cli *cli) {
  gesta_error err;
  train_run run;
  gesta_backend *backend = NULL;
  gesta_clipcache *cache = NULL;
  bool interrupted = false;
  char *yaml_copy = NULL;
  int rc = CLI_EXIT_OK;
  gesta_status st;
  memset(&run, 0, sizeof run);
  gesta_error_clear(&err);
  gesta_train_state_init(&run.state);
  run.common = common;
  run.run_dir = cli->resume ? cli->resume : cli->output;
  run.checkpoint_path = train_path(run.run_dir, "checkpoint.safetensors");
  run.best_path = train_path(run.run_dir, "best.safetensors");
  yaml_copy = train_path(run.run_dir, "model.yaml");
  if (!run.checkpoint_path || !run.best_path || !yaml_copy) {
    st = gesta_error_set(&err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
    goto fail;
  }
  st = ts_prepare(&run, cli, &err);
  if (st == GESTA_STATUS_OK)
    st = ts_load_model(&run, cli, &err);
  if (st != GESTA_STATUS_OK)
    goto fail;
  if (!cli->resume)
    ts_fresh_state(cli, common, run.model, &run.state);
  else
    ts_resume_backend(common, &run.state);
  if (cli->resume && run.state.finished) {
    printf("the run in %s already ended by early stopping at epoch %lld\n",
           run.run_dir, (long long)run.state.epoch);
    goto done;
  }
  st = ts_open_data(&run, cli->data ? cli->data : run.state.data, &cache, &err);
  if (st == GESTA_STATUS_OK)
    st =
        train_data_init(&run.data, cache, run.model, run.state.validation_split,
                        run.state.validation_by_group, run.state.seed, &err);
  if (st == GESTA_STATUS_OK && run.state.validation_by_group &&
      !run.data.val_by_group && run.data.n_val > 0)
    gesta_log(&common->ctx, GESTA_LOG_WARNING,
              "--validation-by-group: the clips' file names carry no groups "
              "(or only one); the validation clips are drawn one by one");
  run.data.augment = run.state.augment;
  run.data.aug_zoom = run.state.augment_zoom;
  run.data.aug_noise = run.state.augment_noise;
  run.data.aug_time = run.state.augment_time;
  run.data.aug_mirror = run.state.augment_mirror;
  if (st == GESTA_STATUS_OK && run.state.mirror_swap[0]) {
    run.data.mirror_label =
        malloc((size_t)run.model->n_classes * sizeof *run.data.mirror_label);
    st = run.data.mirror_label
             ? train_mirror_labels(run.state.mirror_swap, run.model,
                                   run.data.mirror_label, &err)
             : gesta_error_set(&err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory");
  }
  run.data.frames_per_clip = run.state.frames_per_clip;
  if (st == GESTA_STATUS_OK && run.state.frames_per_clip && !run.data.per_frame)
    st = gesta_error_set(&err, GESTA_STATUS_BAD_INPUT,
                         "--frames-per-clip is for per-frame models; %s "
                         "takes whole clips",
                         run.model->name);
  if (st == GESTA_STATUS_OK && !cli->resume)
    st = ts_check_monitor(&run, cli, &err);
  if (st == GESTA_STATUS_OK)
    st = gesta_model_init_weights(run.model, run.state.seed, &err);
  if (st != GESTA_STATUS_OK)
    goto fail;
  if (cli->resume)
    ts_apply_resume(cli, &run.state);
  /* The CPU kernels split their work by the thread count: fixing it keeps
   * results reproducible bit for bit. Set before the trainer sizes its
   * per-thread workspaces. */
  gesta_cpu_set_threads(run.state.threads);
  st = ts_trainer(&run, &backend, &err);
  if (st != GESTA_STATUS_OK)
    goto fail;
  if (cli->resume) {
    gesta_train_state loaded;
    st = gesta_checkpoint_load(run.checkpoint_path, run.model, run.trainer,
                               &loaded, &err);
    if (st != GESTA_STATUS_OK)
      goto fail;
    gesta_train_state_free(&run.state);
    run.state = loaded;
    ts_apply_resume(cli, &run.state);
    gesta_cpu_set_threads(run.state.threads);
  } else if (strcmp(run.model->path, yaml_copy) != 0) {
    st = train_copy_file(run.model->path, yaml_copy, &err);
    if (st != GESTA_STATUS_OK)
      goto fail;
  }
  char params[32], samples[64] = "";
  if (run.data.per_frame)
    snprintf(samples, sizeof samples, " (single frames, %lld per clip%s)",
             (long long)train_data_frames_per_clip(&run.data),
             run.state.augment ? ", augmented" : "");
  else if (run.state.augment)
    snprintf(samples, sizeof samples, " (augmented)");
  int64_t nb =
      (train_data_samples(&run.data) + run.state.batch - 1) / run.state.batch;
  cli_format_count(gesta_model_count_params(run.model).total, params,
                   sizeof params);
  printf("%s %s (%s parameters) on %s: %lld training and %lld validation "
         "clips%s, batch %lld, %lld steps per epoch, %s lr %g, seed %llu, "
         "%d thread%s\n",
         cli->resume ? "resuming" : "training", run.model->name, params,
         gesta_backend_device_name(backend), (long long)run.data.n_train,
         (long long)run.data.n_val, samples, (long long)run.state.batch,
         (long long)nb, gesta_optim_name(run.state.optim.kind),
         run.state.optim.learning_rate, (unsigned long long)run.state.seed,
         run.state.threads, run.state.threads == 1 ? "" : "s");
  if (cli->resume && run.state.batch_done)
    printf("continuing epoch %lld at batch %lld/%lld\n",
           (long long)run.state.epoch + 1, (long long)run.state.batch_done + 1,
           (long long)nb);
  else if (cli->resume)
    printf("continuing after epoch %lld\n", (long long)run.state.epoch);
  fflush(stdout);
  run.tty = isatty(STDOUT_FILENO) == 1;
  run.log_every = cli->log_every;
  train_interrupt_install();
  st = train_run_epochs(&run, &interrupted, &err);
  train_interrupt_restore();
  if (st != GESTA_STATUS_OK)
    goto fail;
  if (interrupted) {
    fprintf(stderr,
            "gesta: interrupted: checkpoint saved at epoch %lld%s in %s; "
            "continue with gesta train --resume %s\n",
            (long long)run.state.epoch + (run.state.batch_done ? 1 : 0),
            run.state.batch_done ? " (part done)" : "", run.checkpoint_path,
            run.run_dir);
    rc = TRAIN_EXIT_INTERRUPTED;
    goto done;
  }
  st = ts_finish(&run, &err);
  if (st != GESTA_STATUS_OK)
    goto fail;
  goto done;
fail:
  rc = cli_report(common, &err);
done:
  gesta_trainer_free(run.trainer);
  gesta_backend_free(backend);
  train_data_free(&run.data);
  gesta_clipcache_close(cache);
  gesta_model_free(run.model);
  gesta_train_state_free(&run.state);
  free(run.checkpoint_path);
  free(run.best_path);
  free(yaml_copy);
  return rc;
}
