/* Training checkpoints: weights, optimiser state and the run's state in one
 * safetensors file, written atomically by gesta_safetensors_write. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesta/checkpoint.h"
#include "gesta/safetensors.h"

/* ---- fingerprint --------------------------------------------------------- */

static uint64_t ck_fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static uint64_t ck_fnv_str(uint64_t h, const char *s) {
  return ck_fnv(h, s, strlen(s) + 1);
}

static uint64_t ck_fnv_i64(uint64_t h, int64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)v >> (8 * i));
  return ck_fnv(h, b, 8);
}

static uint64_t ck_fnv_shape(uint64_t h, const gesta_shape *s) {
  h = ck_fnv_i64(h, s->rank);
  for (int i = 0; i < s->rank; i++)
    h = ck_fnv_i64(h, s->dims[i]);
  return h;
}

uint64_t gesta_model_fingerprint(const gesta_model *m) {
  uint64_t h = 0xcbf29ce484222325ull;
  h = ck_fnv_shape(h, &m->input_shape);
  for (int n = 0; n < m->n_nodes; n++) {
    const gesta_node *node = &m->nodes[n];
    const gesta_op_def *def = node->op->def;
    h = ck_fnv_str(h, node->name);
    h = ck_fnv_str(h, def->name);
    h = ck_fnv_i64(h, node->time_distributed);
    for (int a = 0; a < def->n_attrs; a++) {
      const gesta_attr_value *v = &node->attrs[a];
      int64_t fbits;
      memcpy(&fbits, &v->f, sizeof fbits);
      h = ck_fnv_i64(h, v->i[0]);
      h = ck_fnv_i64(h, v->i[1]);
      h = ck_fnv_i64(h, fbits);
      h = ck_fnv_i64(h, v->b);
    }
    for (int i = 0; i < node->n_inputs; i++)
      h = ck_fnv_i64(h, node->inputs[i]);
    h = ck_fnv_shape(h, &node->output_shape);
  }
  for (int p = 0; p < m->n_params; p++) {
    h = ck_fnv_str(h, m->params[p].name);
    h = ck_fnv_shape(h, &m->params[p].spec.shape);
  }
  return h;
}

/* ---- state --------------------------------------------------------------- */

void gesta_train_state_init(gesta_train_state *s) {
  memset(s, 0, sizeof *s);
  gesta_optim_config_adam(&s->optim);
  s->batch = 4;
  s->threads = 1;
  s->best = NAN;
  snprintf(s->monitor, sizeof s->monitor, "val_loss");
}

void gesta_train_state_free(gesta_train_state *s) {
  free(s->history);
  s->history = NULL;
  s->n_history = 0;
}

gesta_status gesta_train_state_add_history(gesta_train_state *s,
                                           const gesta_history_row *row,
                                           gesta_error *err) {
  gesta_history_row *p =
      realloc(s->history, (size_t)(s->n_history + 1) * sizeof *p);
  if (!p)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory keeping the training history");
  s->history = p;
  s->history[s->n_history++] = *row;
  return GESTA_STATUS_OK;
}

/* ---- JSON ---------------------------------------------------------------- */

/* Doubles that are not finite have no JSON number: null stands for NAN.
 * 17 significant digits read back to the same double (cJSON's own printing
 * settles for 15 when they compare nearly equal), so a resumed run's
 * history and running sums are exactly the uninterrupted run's. */
static cJSON *ck_num(double v) {
  char buf[40];
  if (!isfinite(v))
    return cJSON_CreateNull();
  snprintf(buf, sizeof buf, "%.17g", v);
  return cJSON_CreateRaw(buf);
}

static void ck_add_u64(cJSON *o, const char *key, uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%016" PRIx64, v);
  cJSON_AddStringToObject(o, key, buf);
}

static char *ck_state_json(const gesta_train_state *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddNumberToObject(o, "batch", (double)s->batch);
  ck_add_u64(o, "seed", s->seed);
  cJSON_AddItemToObject(o, "validation_split", ck_num(s->validation_split));
  cJSON_AddStringToObject(o, "optimizer", gesta_optim_name(s->optim.kind));
  cJSON_AddItemToObject(o, "lr", ck_num(s->optim.learning_rate));
  cJSON_AddItemToObject(o, "beta1", ck_num(s->optim.beta1));
  cJSON_AddItemToObject(o, "beta2", ck_num(s->optim.beta2));
  cJSON_AddItemToObject(o, "epsilon", ck_num(s->optim.epsilon));
  cJSON_AddItemToObject(o, "momentum", ck_num(s->optim.momentum));
  cJSON_AddBoolToObject(o, "nesterov", s->optim.nesterov);
  cJSON_AddNumberToObject(o, "threads", s->threads);
  cJSON_AddStringToObject(o, "data", s->data);
  cJSON_AddBoolToObject(o, "augment", s->augment);
  cJSON_AddItemToObject(o, "augment_zoom", ck_num(s->augment_zoom));
  cJSON_AddItemToObject(o, "augment_noise", ck_num(s->augment_noise));
  cJSON_AddNumberToObject(o, "augment_time", (double)s->augment_time);
  cJSON_AddBoolToObject(o, "augment_mirror", s->augment_mirror);
  cJSON_AddStringToObject(o, "mirror_swap", s->mirror_swap);
  cJSON_AddNumberToObject(o, "warmup", (double)s->warmup);
  cJSON_AddBoolToObject(o, "validation_by_group", s->validation_by_group);
  cJSON_AddNumberToObject(o, "frames_per_clip", (double)s->frames_per_clip);
  cJSON_AddItemToObject(o, "lr_factor", ck_num(s->lr_factor));
  cJSON_AddItemToObject(o, "min_lr", ck_num(s->min_lr));
  cJSON_AddNumberToObject(o, "lr_patience", (double)s->lr_patience);
  cJSON_AddNumberToObject(o, "lr_wait", (double)s->lr_wait);
  cJSON_AddStringToObject(o, "backend", s->backend);
  cJSON_AddStringToObject(o, "device", s->device);
  cJSON_AddNumberToObject(o, "epochs", (double)s->epochs);
  cJSON_AddBoolToObject(o, "early_stopping", s->early_stopping);
  cJSON_AddStringToObject(o, "monitor", s->monitor);
  cJSON_AddNumberToObject(o, "patience", (double)s->patience);
  cJSON_AddNumberToObject(o, "epoch", (double)s->epoch);
  cJSON_AddNumberToObject(o, "batch_done", (double)s->batch_done);
  cJSON_AddItemToObject(o, "sum_loss", ck_num(s->sum_loss));
  cJSON_AddItemToObject(o, "sum_time_s", ck_num(s->sum_time_s));
  cJSON_AddNumberToObject(o, "sum_correct", (double)s->sum_correct);
  cJSON_AddNumberToObject(o, "sum_rows", (double)s->sum_rows);
  cJSON_AddNumberToObject(o, "step", (double)s->step);
  cJSON *rng = cJSON_AddArrayToObject(o, "rng");
  for (int i = 0; rng && i < 4; i++) {
    char buf[24];
    snprintf(buf, sizeof buf, "%016" PRIx64, s->rng[i]);
    cJSON_AddItemToArray(rng, cJSON_CreateString(buf));
  }
  cJSON_AddItemToObject(o, "best", ck_num(s->best));
  cJSON_AddNumberToObject(o, "best_epoch", (double)s->best_epoch);
  cJSON_AddNumberToObject(o, "wait", (double)s->wait);
  cJSON_AddBoolToObject(o, "finished", s->finished);
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return text;
}

static char *ck_history_json(const gesta_train_state *s) {
  cJSON *a = cJSON_CreateArray();
  if (!a)
    return NULL;
  for (int64_t i = 0; i < s->n_history; i++) {
    const gesta_history_row *r = &s->history[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "epoch", (double)r->epoch);
    cJSON_AddItemToObject(o, "loss", ck_num(r->loss));
    cJSON_AddItemToObject(o, "accuracy", ck_num(r->accuracy));
    cJSON_AddItemToObject(o, "val_loss", ck_num(r->val_loss));
    cJSON_AddItemToObject(o, "val_accuracy", ck_num(r->val_accuracy));
    cJSON_AddItemToObject(o, "time_s", ck_num(r->time_s));
    cJSON_AddItemToObject(o, "lr", ck_num(r->lr));
    cJSON_AddItemToArray(a, o);
  }
  char *text = cJSON_PrintUnformatted(a);
  cJSON_Delete(a);
  return text;
}

static double ck_get_num(const cJSON *o, const char *key, bool *ok) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (cJSON_IsNull(v))
    return NAN;
  if (!cJSON_IsNumber(v)) {
    *ok = false;
    return 0;
  }
  return v->valuedouble;
}

static int64_t ck_get_int(const cJSON *o, const char *key, bool *ok) {
  double d = ck_get_num(o, key, ok);
  if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0) {
    *ok = false;
    return 0;
  }
  return (int64_t)d;
}

static bool ck_get_bool(const cJSON *o, const char *key, bool *ok) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsBool(v))
    *ok = false;
  return cJSON_IsTrue(v);
}

static void ck_get_str(const cJSON *o, const char *key, char *out, size_t n,
                       bool *ok) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsString(v) || strlen(v->valuestring) >= n) {
    *ok = false;
    out[0] = '\0';
    return;
  }
  memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
}

static uint64_t ck_parse_u64(const char *text, bool *ok) {
  char *end;
  if (!text || !*text) {
    *ok = false;
    return 0;
  }
  uint64_t v = strtoull(text, &end, 16);
  if (*end)
    *ok = false;
  return v;
}

static bool ck_parse_state(const char *text, gesta_train_state *s) {
  cJSON *o = cJSON_Parse(text);
  bool ok = cJSON_IsObject(o);
  char name[16];
  if (!ok) {
    cJSON_Delete(o);
    return false;
  }
  s->batch = ck_get_int(o, "batch", &ok);
  const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
  s->seed = ck_parse_u64(cJSON_GetStringValue(seed), &ok);
  s->validation_split = ck_get_num(o, "validation_split", &ok);
  ck_get_str(o, "optimizer", name, sizeof name, &ok);
  if (strcmp(name, "adam") == 0)
    gesta_optim_config_adam(&s->optim);
  else if (strcmp(name, "sgd") == 0)
    gesta_optim_config_sgd(&s->optim);
  else
    ok = false;
  s->optim.learning_rate = ck_get_num(o, "lr", &ok);
  s->optim.beta1 = ck_get_num(o, "beta1", &ok);
  s->optim.beta2 = ck_get_num(o, "beta2", &ok);
  s->optim.epsilon = ck_get_num(o, "epsilon", &ok);
  s->optim.momentum = ck_get_num(o, "momentum", &ok);
  s->optim.nesterov = ck_get_bool(o, "nesterov", &ok);
  s->threads = (int)ck_get_int(o, "threads", &ok);
  ck_get_str(o, "data", s->data, sizeof s->data, &ok);
  /* Later additions: a checkpoint without them trained without
   * augmentation on the backend given again at resume. */
  bool later = true;
  s->augment = ck_get_bool(o, "augment", &later);
  s->validation_by_group = ck_get_bool(o, "validation_by_group", &later);
  s->frames_per_clip = ck_get_int(o, "frames_per_clip", &later);
  s->lr_factor = ck_get_num(o, "lr_factor", &later);
  s->min_lr = ck_get_num(o, "min_lr", &later);
  s->lr_patience = ck_get_int(o, "lr_patience", &later);
  s->lr_wait = ck_get_int(o, "lr_wait", &later);
  ck_get_str(o, "backend", s->backend, sizeof s->backend, &later);
  ck_get_str(o, "device", s->device, sizeof s->device, &later);
  if (!later) {
    s->augment = false;
    s->validation_by_group = false;
    s->frames_per_clip = 0;
    s->lr_factor = s->min_lr = 0;
    s->lr_patience = s->lr_wait = 0;
    s->backend[0] = s->device[0] = '\0';
  }
  /* Added together, later still: without them, none of the three. */
  bool augment_more = true;
  s->augment_zoom = ck_get_num(o, "augment_zoom", &augment_more);
  s->augment_noise = ck_get_num(o, "augment_noise", &augment_more);
  s->augment_time = ck_get_int(o, "augment_time", &augment_more);
  if (!augment_more) {
    s->augment_zoom = s->augment_noise = 0;
    s->augment_time = 0;
  }
  /* Added together, later again: without them, none of the three. */
  bool mirror_warmup = true;
  s->augment_mirror = ck_get_bool(o, "augment_mirror", &mirror_warmup);
  ck_get_str(o, "mirror_swap", s->mirror_swap, sizeof s->mirror_swap,
             &mirror_warmup);
  s->warmup = ck_get_int(o, "warmup", &mirror_warmup);
  if (!mirror_warmup) {
    s->augment_mirror = false;
    s->mirror_swap[0] = '\0';
    s->warmup = 0;
  }
  s->epochs = ck_get_int(o, "epochs", &ok);
  s->early_stopping = ck_get_bool(o, "early_stopping", &ok);
  ck_get_str(o, "monitor", s->monitor, sizeof s->monitor, &ok);
  s->patience = ck_get_int(o, "patience", &ok);
  s->epoch = ck_get_int(o, "epoch", &ok);
  s->batch_done = ck_get_int(o, "batch_done", &ok);
  s->sum_loss = ck_get_num(o, "sum_loss", &ok);
  s->sum_time_s = ck_get_num(o, "sum_time_s", &ok);
  s->sum_correct = ck_get_int(o, "sum_correct", &ok);
  s->sum_rows = ck_get_int(o, "sum_rows", &ok);
  s->step = ck_get_int(o, "step", &ok);
  const cJSON *rng = cJSON_GetObjectItemCaseSensitive(o, "rng");
  if (cJSON_GetArraySize(rng) != 4)
    ok = false;
  for (int i = 0; ok && i < 4; i++)
    s->rng[i] =
        ck_parse_u64(cJSON_GetStringValue(cJSON_GetArrayItem(rng, i)), &ok);
  s->best = ck_get_num(o, "best", &ok);
  s->best_epoch = ck_get_int(o, "best_epoch", &ok);
  s->wait = ck_get_int(o, "wait", &ok);
  s->finished = ck_get_bool(o, "finished", &ok);
  cJSON_Delete(o);
  return ok && s->batch > 0 && s->epoch >= 0 && s->step >= 0;
}

static bool ck_parse_history(const char *text, gesta_train_state *s) {
  cJSON *a = cJSON_Parse(text);
  bool ok = cJSON_IsArray(a);
  const cJSON *o;
  cJSON_ArrayForEach(o, a) {
    if (!ok)
      break;
    gesta_history_row r;
    r.epoch = ck_get_int(o, "epoch", &ok);
    r.loss = ck_get_num(o, "loss", &ok);
    r.accuracy = ck_get_num(o, "accuracy", &ok);
    r.val_loss = ck_get_num(o, "val_loss", &ok);
    r.val_accuracy = ck_get_num(o, "val_accuracy", &ok);
    r.time_s = ck_get_num(o, "time_s", &ok);
    r.lr = ck_get_num(o, "lr", &ok);
    if (ok && gesta_train_state_add_history(s, &r, NULL) != GESTA_STATUS_OK)
      ok = false;
  }
  cJSON_Delete(a);
  return ok;
}

/* ---- save ---------------------------------------------------------------- */

gesta_status gesta_checkpoint_save(const char *path, const gesta_model *model,
                                   gesta_trainer *trainer,
                                   const gesta_train_state *state,
                                   gesta_error *err) {
  gesta_status status = GESTA_STATUS_OK;
  int n_state = trainer ? gesta_trainer_state_count(trainer) : 0;
  int n = model->n_params + n_state;
  gesta_named_tensor *t = calloc((size_t)(n ? n : 1), sizeof *t);
  float **bufs = calloc((size_t)(n_state ? n_state : 1), sizeof *bufs);
  char *train_json = ck_state_json(state);
  char *history_json = ck_history_json(state);
  char version[16], fingerprint[24];
  if (!t || !bufs || !train_json || !history_json) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory writing checkpoint %s", path);
    goto done;
  }
  for (int i = 0; i < model->n_params; i++) {
    if (!model->params[i].data) {
      status = gesta_error_set(err, GESTA_STATUS_INTERNAL,
                               "checkpoint %s: parameter %s has no weights",
                               path, model->params[i].name);
      goto done;
    }
    t[i].name = model->params[i].name;
    t[i].shape = model->params[i].spec.shape;
    t[i].data = model->params[i].data;
  }
  for (int i = 0; i < n_state; i++) {
    gesta_named_tensor *e = &t[model->n_params + i];
    e->name = gesta_trainer_state_name(trainer, i, &e->shape);
    bufs[i] = malloc((size_t)gesta_shape_count(&e->shape) * sizeof(float) + 4);
    if (!bufs[i]) {
      status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory writing checkpoint %s", path);
      goto done;
    }
    status = gesta_trainer_state_read(trainer, i, bufs[i], err);
    if (status != GESTA_STATUS_OK)
      goto done;
    e->data = bufs[i];
  }
  snprintf(version, sizeof version, "%d", GESTA_CHECKPOINT_VERSION);
  snprintf(fingerprint, sizeof fingerprint, "%016" PRIx64,
           gesta_model_fingerprint(model));
  gesta_metadata_pair meta[] = {{"gesta.checkpoint", version},
                                {"gesta.model", model->name},
                                {"gesta.fingerprint", fingerprint},
                                {"gesta.train", train_json},
                                {"gesta.history", history_json}};
  status = gesta_safetensors_write(path, t, n, meta,
                                   (int)(sizeof meta / sizeof meta[0]), err);
  if (status != GESTA_STATUS_OK)
    gesta_error_prefix(err, "cannot save the checkpoint (the previous one, if "
                            "any, is kept): ");
done:
  for (int i = 0; bufs && i < n_state; i++)
    free(bufs[i]);
  free(bufs);
  free(t);
  cJSON_free(train_json);
  cJSON_free(history_json);
  return status;
}

/* ---- load ---------------------------------------------------------------- */

static gesta_status ck_open(const char *path, gesta_safetensors **out,
                            gesta_error *err) {
  gesta_status status = gesta_safetensors_open(path, out, err);
  if (status != GESTA_STATUS_OK)
    return status;
  const char *v = gesta_safetensors_metadata(*out, "gesta.checkpoint");
  if (!v) {
    gesta_safetensors_close(*out);
    *out = NULL;
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s is a weights file, not a training checkpoint "
                           "(it has no gesta.checkpoint metadata)",
                           path);
  }
  if (atoi(v) != GESTA_CHECKPOINT_VERSION) {
    gesta_safetensors_close(*out);
    *out = NULL;
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s is a checkpoint of format version %s; this "
                           "gesta reads version %d",
                           path, v, GESTA_CHECKPOINT_VERSION);
  }
  return GESTA_STATUS_OK;
}

static gesta_status ck_read_state(const gesta_safetensors *f, const char *path,
                                  gesta_train_state *s, gesta_error *err) {
  const char *model = gesta_safetensors_metadata(f, "gesta.model");
  const char *fp = gesta_safetensors_metadata(f, "gesta.fingerprint");
  const char *train = gesta_safetensors_metadata(f, "gesta.train");
  const char *history = gesta_safetensors_metadata(f, "gesta.history");
  bool ok =
      model && fp && train && history && strlen(model) < sizeof s->model_name;
  gesta_train_state_init(s);
  if (ok) {
    snprintf(s->model_name, sizeof s->model_name, "%s", model);
    s->fingerprint = ck_parse_u64(fp, &ok);
  }
  ok = ok && ck_parse_state(train, s) && ck_parse_history(history, s);
  if (!ok) {
    gesta_train_state_free(s);
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "checkpoint %s: its training state "
                           "(gesta.* metadata) is missing or damaged",
                           path);
  }
  return GESTA_STATUS_OK;
}

gesta_status gesta_checkpoint_read_state(const char *path,
                                         gesta_train_state *state,
                                         gesta_error *err) {
  gesta_safetensors *f = NULL;
  gesta_train_state local;
  gesta_status status = ck_open(path, &f, err);
  if (status == GESTA_STATUS_OK)
    status = ck_read_state(f, path, &local, err);
  gesta_safetensors_close(f);
  if (status == GESTA_STATUS_OK)
    *state = local;
  return status;
}

static gesta_status ck_read_tensor(const gesta_safetensors *f, const char *path,
                                   const char *name, const gesta_shape *shape,
                                   float *dst, gesta_error *err) {
  const gesta_safetensors_entry *e = gesta_safetensors_find(f, name);
  char a[64], b[64];
  if (!e)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "checkpoint %s has no tensor %s", path, name);
  if (!gesta_shape_equal(&e->shape, shape))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "checkpoint %s: %s is %s, the model wants %s", path,
                           name, gesta_shape_format(&e->shape, a, sizeof a),
                           gesta_shape_format(shape, b, sizeof b));
  gesta_safetensors_read(e, dst);
  return GESTA_STATUS_OK;
}

gesta_status gesta_checkpoint_load(const char *path, gesta_model *model,
                                   gesta_trainer *trainer,
                                   gesta_train_state *state, gesta_error *err) {
  gesta_safetensors *f = NULL;
  gesta_train_state local;
  float *buf = NULL;
  gesta_train_state_init(&local);
  gesta_status status = ck_open(path, &f, err);
  if (status == GESTA_STATUS_OK)
    status = ck_read_state(f, path, &local, err);
  if (status != GESTA_STATUS_OK)
    goto done;
  uint64_t mine = gesta_model_fingerprint(model);
  if (local.fingerprint != mine) {
    status = gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "checkpoint %s was made for model '%s' (fingerprint %016" PRIx64
        "), not for '%s' from %s (fingerprint %016" PRIx64
        "): their layers or shapes differ. Resume with the model the run "
        "started with, or start a new run in another folder",
        path, local.model_name, local.fingerprint, model->name, model->path,
        mine);
    goto done;
  }
  for (int i = 0; i < model->n_params && status == GESTA_STATUS_OK; i++) {
    if (!model->params[i].data) {
      status = gesta_error_set(err, GESTA_STATUS_INTERNAL,
                               "loading %s: the model's weights are not "
                               "allocated",
                               path);
      goto done;
    }
    status = ck_read_tensor(f, path, model->params[i].name,
                            &model->params[i].spec.shape, model->params[i].data,
                            err);
  }
  if (status != GESTA_STATUS_OK || !trainer)
    goto done;
  status = gesta_trainer_upload_weights(trainer, model, err);
  for (int i = 0;
       status == GESTA_STATUS_OK && i < gesta_trainer_state_count(trainer);
       i++) {
    gesta_shape shape;
    const char *name = gesta_trainer_state_name(trainer, i, &shape);
    free(buf);
    buf = malloc((size_t)gesta_shape_count(&shape) * sizeof(float) + 4);
    if (!buf) {
      status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory loading %s", path);
      goto done;
    }
    status = ck_read_tensor(f, path, name, &shape, buf, err);
    if (status == GESTA_STATUS_OK)
      status = gesta_trainer_state_write(trainer, i, buf, err);
  }
  if (status == GESTA_STATUS_OK)
    gesta_trainer_set_step_count(trainer, local.step);
done:
  free(buf);
  gesta_safetensors_close(f);
  if (status == GESTA_STATUS_OK && state) {
    *state = local;
  } else {
    gesta_train_state_free(&local);
  }
  return status;
}
