/* gesta train's epoch loop: shuffled batches, the progress output, the
 * validation pass, best weights, early stopping, a checkpoint per epoch. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_run.h"
#include "train_util.h"

/* The epoch's order: a Fisher-Yates shuffle drawn from the run's
 * generator, so a resumed run redraws the same order from the saved
 * state. */
static void tl_shuffle(gesta_rng *rng, int64_t *perm, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(gesta_rng_next(rng) % (uint64_t)(i + 1));
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

static long tl_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

static double tl_monitor(const gesta_history_row *r, const char *monitor) {
  if (strcmp(monitor, "loss") == 0)
    return r->loss;
  if (strcmp(monitor, "accuracy") == 0)
    return r->accuracy;
  if (strcmp(monitor, "val_accuracy") == 0)
    return r->val_accuracy;
  return r->val_loss;
}

static void tl_metrics(char *buf, size_t size, double loss, double acc) {
  snprintf(buf, size, "loss: %.4f - accuracy: %.4f", loss, acc);
}

static gesta_status tl_checkpoint(train_run *run, gesta_error *err) {
  gesta_status st =
      gesta_trainer_download_weights(run->trainer, run->model, err);
  if (st == GESTA_STATUS_OK)
    st = gesta_checkpoint_save(run->checkpoint_path, run->model, run->trainer,
                               &run->state, err);
  return st;
}

/* What a failed step leaves the user with. */
static void tl_step_failed(train_run *run, int64_t epoch, int64_t b, int64_t nb,
                           gesta_error *err) {
  const gesta_train_state *s = &run->state;
  gesta_error_prefix(err, "epoch %lld, batch %lld/%lld: ", (long long)epoch,
                     (long long)b + 1, (long long)nb);
  if (s->epoch > 0)
    snprintf(err->message + strlen(err->message),
             sizeof err->message - strlen(err->message),
             "; the last good checkpoint (epoch %lld) is %s",
             (long long)s->epoch, run->checkpoint_path);
  else
    snprintf(err->message + strlen(err->message),
             sizeof err->message - strlen(err->message),
             "; no epoch had finished, so there is no checkpoint");
}

static void tl_progress(train_run *run, int64_t epoch, int64_t b, int64_t nb,
                        double elapsed) {
  const gesta_train_state *s = &run->state;
  char bar[160], eta[32], m[96];
  double loss = s->sum_rows ? s->sum_loss / (double)s->sum_rows : NAN;
  double acc = s->sum_rows ? (double)s->sum_correct / (double)s->sum_rows : NAN;
  int64_t done = b + 1;
  tl_metrics(m, sizeof m, loss, acc);
  if (run->tty) {
    train_format_bar(bar, sizeof bar, done, nb, 30);
    train_format_seconds(eta, sizeof eta,
                         elapsed / (double)done * (double)(nb - done));
    printf("\r\033[K%s - ETA: %s - %s", bar, eta, m);
    fflush(stdout);
  } else if (run->log_every > 0 && done % run->log_every == 0 && done < nb) {
    printf("epoch %lld/%lld batch %lld/%lld - %s\n", (long long)epoch,
           (long long)s->epochs, (long long)done, (long long)nb, m);
    fflush(stdout);
  }
}

static gesta_status tl_end_epoch(train_run *run, int64_t epoch, int64_t nb,
                                 double seconds, const gesta_rng *next_rng,
                                 gesta_error *err) {
  gesta_train_state *s = &run->state;
  train_eval val;
  gesta_status st = train_evaluate(run->trainer, &run->data, run->data.val,
                                   run->data.n_val, &val, err);
  if (st != GESTA_STATUS_OK)
    return st;
  gesta_history_row row = {
      .epoch = epoch,
      .loss = s->sum_loss / (double)s->sum_rows,
      .accuracy = (double)s->sum_correct / (double)s->sum_rows,
      .val_loss = val.loss,
      .val_accuracy = val.accuracy,
      .time_s = seconds,
      .lr = gesta_trainer_optim(run->trainer)->learning_rate};
  st = gesta_train_state_add_history(s, &row, err);
  if (st != GESTA_STATUS_OK)
    return st;
  double v = tl_monitor(&row, s->monitor);
  bool maximise = strstr(s->monitor, "accuracy") != NULL;
  bool better = isfinite(v) && (s->best_epoch == 0 || !isfinite(s->best) ||
                                (maximise ? v > s->best : v < s->best));
  st = gesta_trainer_download_weights(run->trainer, run->model, err);
  if (st != GESTA_STATUS_OK)
    return st;
  double new_lr = 0;
  if (better) {
    s->best = v;
    s->best_epoch = epoch;
    s->wait = 0;
    s->lr_wait = 0;
    st = gesta_model_save_weights(run->model, run->best_path, err);
    if (st != GESTA_STATUS_OK)
      return st;
  } else {
    s->wait++;
    s->lr_wait++;
    /* Keras' ReduceLROnPlateau: the wait starts over after a change. A
     * plateau during the warm-up is the warm-up's. */
    if (epoch <= s->warmup)
      s->lr_wait = 0;
    if (s->lr_factor > 0 && s->lr_wait >= s->lr_patience) {
      double lr = s->optim.learning_rate * s->lr_factor;
      if (lr < s->min_lr)
        lr = s->min_lr;
      if (lr < s->optim.learning_rate) {
        new_lr = lr;
        s->optim.learning_rate = lr;
        gesta_trainer_set_learning_rate(run->trainer, lr);
      }
      s->lr_wait = 0;
    }
  }
  s->epoch = epoch;
  s->batch_done = 0;
  s->sum_loss = s->sum_time_s = 0;
  s->sum_correct = s->sum_rows = 0;
  memcpy(s->rng, next_rng->s, sizeof s->rng);
  if (s->early_stopping && s->wait >= s->patience)
    s->finished = true;

  char m[96], t[32], step[32];
  tl_metrics(m, sizeof m, row.loss, row.accuracy);
  train_format_seconds(t, sizeof t, seconds);
  train_format_seconds(step, sizeof step, seconds / (double)nb);
  if (run->tty) {
    char bar[160];
    train_format_bar(bar, sizeof bar, nb, nb, 30);
    printf("\r\033[K%s - %s %s/step - %s", bar, t, step, m);
  } else {
    printf("Epoch %lld/%lld - %s - %s", (long long)epoch, (long long)s->epochs,
           t, m);
  }
  if (run->data.n_val)
    printf(" - val_loss: %.4f - val_accuracy: %.4f", row.val_loss,
           row.val_accuracy);
  printf("%s\n", better ? " (best)" : "");
  if (new_lr > 0 && !s->finished)
    printf("%s has not improved for %lld epoch%s: learning rate now %g\n",
           s->monitor, (long long)s->lr_patience,
           s->lr_patience == 1 ? "" : "s", new_lr);
  if (s->finished)
    printf("Early stopping: %s has not improved for %lld epoch%s (best %.4f "
           "at epoch %lld)\n",
           s->monitor, (long long)s->wait, s->wait == 1 ? "" : "s", s->best,
           (long long)s->best_epoch);
  fflush(stdout);
  gesta_log(&run->common->ctx, GESTA_LOG_INFO,
            "epoch %lld: %.3f s, VmRSS %ld kB", (long long)epoch, seconds,
            tl_rss_kb());

  st = tl_checkpoint(run, err);
  if (st == GESTA_STATUS_OK)
    st = train_write_history(run, err);
  return st;
}

gesta_status train_run_epochs(train_run *run, bool *interrupted,
                              gesta_error *err) {
  gesta_train_state *s = &run->state;
  train_data *d = &run->data;
  int64_t n = train_data_samples(d), batch = s->batch, k = d->n_classes;
  int64_t nb = (n + batch - 1) / batch;
  float *input = malloc((size_t)(batch * d->sample_floats) * sizeof(float));
  float *targets = malloc((size_t)(batch * k) * sizeof(float));
  int64_t *perm = malloc((size_t)n * sizeof *perm);
  gesta_status st = GESTA_STATUS_OK;
  *interrupted = false;
  if (!input || !targets || !perm) {
    st = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                         "out of memory for a batch");
    goto done;
  }
  while (!s->finished && s->epoch < s->epochs) {
    int64_t epoch = s->epoch + 1;
    gesta_rng rng;
    memcpy(rng.s, s->rng, sizeof rng.s);
    tl_shuffle(&rng, perm, n);
    if (run->tty)
      printf("Epoch %lld/%lld\n", (long long)epoch, (long long)s->epochs);
    double t0 = cli_now_ms();
    for (int64_t b = s->batch_done; b < nb; b++) {
      gesta_train_stats stats;
      /* A last, partial batch is completed from the start of the epoch's
       * order: the trainer's batch size is fixed. */
      for (int64_t r = 0; r < batch && st == GESTA_STATUS_OK; r++)
        st =
            train_data_fill(d, perm[(b * batch + r) % n], epoch, b * batch + r,
                            input + r * d->sample_floats, targets + r * k, err);
      if (st == GESTA_STATUS_OK && s->step < s->warmup * nb)
        gesta_trainer_set_learning_rate(
            run->trainer, s->optim.learning_rate * (double)(s->step + 1) /
                              (double)(s->warmup * nb));
      if (st == GESTA_STATUS_OK)
        st = gesta_trainer_step(run->trainer, input, targets, &stats, err);
      if (st != GESTA_STATUS_OK) {
        if (run->tty)
          printf("\n");
        tl_step_failed(run, epoch, b, nb, err);
        goto done;
      }
      s->sum_loss += stats.loss * (double)stats.rows;
      s->sum_correct += stats.correct;
      s->sum_rows += stats.rows;
      s->batch_done = b + 1;
      s->step = gesta_trainer_step_count(run->trainer);
      tl_progress(run, epoch, b, nb,
                  s->sum_time_s + (cli_now_ms() - t0) / 1000);
      if (train_interrupted() && b + 1 < nb) {
        s->sum_time_s += (cli_now_ms() - t0) / 1000;
        if (run->tty)
          printf("\n");
        st = tl_checkpoint(run, err);
        *interrupted = true;
        goto done;
      }
    }
    st = tl_end_epoch(run, epoch, nb,
                      s->sum_time_s + (cli_now_ms() - t0) / 1000, &rng, err);
    if (st != GESTA_STATUS_OK)
      goto done;
    if (train_interrupted()) {
      *interrupted = true;
      goto done;
    }
  }
done:
  free(input);
  free(targets);
  free(perm);
  return st;
}

static void tl_csv_num(char *buf, size_t size, double v) {
  if (isfinite(v))
    snprintf(buf, size, "%.17g", v);
  else
    buf[0] = '\0';
}

gesta_status train_write_history(const train_run *run, gesta_error *err) {
  const gesta_train_state *s = &run->state;
  size_t cap = 256 + (size_t)s->n_history * 512;
  char *csv = malloc(cap), *json = malloc(cap + 256);
  char *csv_path = train_path(run->run_dir, "history.csv");
  char *json_path = train_path(run->run_dir, "history.json");
  gesta_status st = GESTA_STATUS_OK;
  if (!csv || !json || !csv_path || !json_path) {
    st = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                         "out of memory writing the history");
    goto done;
  }
  size_t c = (size_t)snprintf(csv, cap,
                              "epoch,loss,accuracy,val_loss,val_accuracy,"
                              "time_s,lr\n");
  size_t j = (size_t)snprintf(
      json, cap + 256, "{\"model\": \"%s\", \"epochs\": [", run->model->name);
  for (int64_t i = 0; i < s->n_history; i++) {
    const gesta_history_row *r = &s->history[i];
    double v[6] = {r->loss,         r->accuracy, r->val_loss,
                   r->val_accuracy, r->time_s,   r->lr};
    char t[6][40];
    for (int q = 0; q < 6; q++)
      tl_csv_num(t[q], sizeof t[q], v[q]);
    c += (size_t)snprintf(csv + c, cap - c, "%lld,%s,%s,%s,%s,%s,%s\n",
                          (long long)r->epoch, t[0], t[1], t[2], t[3], t[4],
                          t[5]);
    for (int q = 0; q < 6; q++)
      if (!t[q][0])
        snprintf(t[q], sizeof t[q], "null");
    j += (size_t)snprintf(
        json + j, cap + 256 - j,
        "%s\n  {\"epoch\": %lld, \"loss\": %s, \"accuracy\": %s, "
        "\"val_loss\": %s, \"val_accuracy\": %s, \"time_s\": %s, \"lr\": %s}",
        i ? "," : "", (long long)r->epoch, t[0], t[1], t[2], t[3], t[4], t[5]);
  }
  j += (size_t)snprintf(json + j, cap + 256 - j,
                        "\n], \"best_epoch\": %lld, \"monitor\": \"%s\"}\n",
                        (long long)s->best_epoch, s->monitor);
  st = train_write_file(csv_path, csv, c, err);
  if (st == GESTA_STATUS_OK)
    st = train_write_file(json_path, json, j, err);
done:
  free(csv);
  free(json);
  free(csv_path);
  free(json_path);
  return st;
}
