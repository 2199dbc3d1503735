/* gesta check: comparing tensors, tolerances, the report as a table and as
 * JSON, and the record of passed checks next to the kernel cache. */
#define _POSIX_C_SOURCE 200809L

#include "check_report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- comparing --------------------------------------------------------- */

void check_stats_compute(const float *got, const float *want, int64_t n,
                         check_stats *out) {
  double se = 0.0, sr = 0.0, scale = 0.0;
  memset(out, 0, sizeof *out);
  for (int64_t i = 0; i < n; i++)
    if (isfinite(want[i]) && fabs(want[i]) > scale)
      scale = fabs(want[i]);
  /* Elements far below the tensor's magnitude are judged against it, not
   * against themselves (a ReLU output of 1e-9 is noise, not a value). */
  scale = scale > 0.0 ? 1e-3 * scale : 1e-30;
  for (int64_t i = 0; i < n; i++) {
    bool fg = isfinite(got[i]), fw = isfinite(want[i]);
    if (fg != fw || (!fg && !fw && !(got[i] == want[i]))) {
      out->nonfinite++;
      continue;
    }
    if (!fw)
      continue; /* the same infinity on both sides */
    double d = fabs((double)got[i] - (double)want[i]);
    double ref = fabs((double)want[i]) > scale ? fabs((double)want[i]) : scale;
    se += d * d;
    sr += (double)want[i] * want[i];
    out->max_abs = d > out->max_abs ? d : out->max_abs;
    out->max_rel = d / ref > out->max_rel ? d / ref : out->max_rel;
  }
  out->nmse = sr > 0.0 ? se / sr : se;
  out->valid = true;
}

double check_stats_rel(const check_stats *s) {
  return sqrt(s->nmse);
}

bool check_stats_pass(const check_stats *s, double tolerance) {
  return s->valid && s->nonfinite == 0 && check_stats_rel(s) <= tolerance;
}

/* ---- tolerances -------------------------------------------------------- */

/* Relative RMS errors (sqrt of NMSE) against the CPU reference, both in
 * float32 on the same inputs. Ops that only move or compare values must
 * match exactly (1e-6 leaves room for nothing but a wrong kernel); ops
 * with exp, tanh or a division carry OpenCL C's few-ulp functions (1e-5);
 * GEMM-based ops sum K products in another order (CLBlast's tiles against
 * OpenBLAS'), which moves a float32 result by about sqrt(K) ulp, and the
 * LSTM repeats that over T steps (1e-4). The whole model's output must stay
 * within 1e-5. */
static const struct {
  const char *op;
  double rel;
} check_default_tolerances[] = {
    {"relu", 1e-6},       {"linear", 1e-6},     {"dropout", 1e-6},
    {"flatten", 1e-6},    {"max_pool2d", 1e-6}, {"global_avg_pool2d", 1e-5},
    {"batch_norm", 1e-5}, {"sigmoid", 1e-5},    {"tanh", 1e-5},
    {"softmax", 1e-5},    {"conv2d", 1e-4},     {"dense", 1e-4},
    {"lstm", 1e-4},       {"model", 1e-5},
};

/* For an op the table does not name. */
#define CHECK_DEFAULT_REL 1e-5

static void check_tolerance_set(check_tolerances *t, const char *op,
                                double rel) {
  for (int i = 0; i < t->n; i++)
    if (strcmp(t->items[i].op, op) == 0) {
      t->items[i].rel = rel;
      return;
    }
  if (t->n < CHECK_MAX_TOLERANCES) {
    /* Names come from the op table, all shorter than the field. */
    size_t len = strnlen(op, sizeof t->items[t->n].op - 1);
    memcpy(t->items[t->n].op, op, len);
    t->items[t->n].op[len] = '\0';
    t->items[t->n++].rel = rel;
  }
}

void check_tolerances_default(check_tolerances *t) {
  t->n = 0;
  for (size_t i = 0;
       i < sizeof check_default_tolerances / sizeof check_default_tolerances[0];
       i++)
    check_tolerance_set(t, check_default_tolerances[i].op,
                        check_default_tolerances[i].rel);
}

bool check_tolerances_parse(check_tolerances *t, const char *text, char *why,
                            size_t size) {
  const char *p = text;
  while (*p) {
    size_t len = strcspn(p, ",");
    char item[96], *eq, *end;
    if (len == 0 || len >= sizeof item) {
      snprintf(why, size, "empty or overlong item in '%s'", text);
      return false;
    }
    memcpy(item, p, len);
    item[len] = '\0';
    eq = strchr(item, '=');
    if (!eq || eq == item || eq - item >= 32) {
      snprintf(why, size, "'%s' is not OP=REL (e.g. conv2d=1e-4)", item);
      return false;
    }
    *eq = '\0';
    if (strcmp(item, "model") != 0 && !gesta_op_find(item)) {
      snprintf(why, size,
               "'%s' is not an op (see gesta info --ops) nor 'model'", item);
      return false;
    }
    errno = 0;
    double rel = strtod(eq + 1, &end);
    if (errno || end == eq + 1 || *end || !(rel >= 0.0) || !isfinite(rel)) {
      snprintf(why, size, "tolerance '%s' for %s is not a number >= 0", eq + 1,
               item);
      return false;
    }
    check_tolerance_set(t, item, rel);
    p += len;
    if (*p == ',')
      p++;
  }
  return true;
}

double check_tolerance_for(const check_tolerances *t, const char *op) {
  for (int i = 0; i < t->n; i++)
    if (strcmp(t->items[i].op, op) == 0)
      return t->items[i].rel;
  return CHECK_DEFAULT_REL;
}

/* ---- text report ------------------------------------------------------- */

void check_rerun_command(const check_report *r, const check_device *d,
                         int layer, char *buf, size_t size) {
  int n = snprintf(buf, size,
                   "gesta check %s --devices %s --seed %" PRIu64
                   " --batch %" PRId64,
                   r->model_arg, d->spec, r->seed, r->batch);
  if (n > 0 && (size_t)n < size && !r->random_weights)
    n += snprintf(buf + n, size - (size_t)n, " --weights %s", r->weights);
  if (n > 0 && (size_t)n < size && layer >= 0)
    snprintf(buf + n, size - (size_t)n, " --layer %s",
             r->model->nodes[layer].name);
}

/* The layer as one line of model YAML, every attribute written out. */
static void check_layer_yaml(const gesta_node *node, char *buf, size_t size) {
  const gesta_op_def *def = node->op->def;
  size_t k =
      (size_t)snprintf(buf, size, "{name: %s, op: %s", node->name, def->name);
  for (int i = 0; i < def->n_attrs && k < size; i++) {
    const gesta_attr_def *a = &def->attrs[i];
    const gesta_attr_value *v = &node->attrs[i];
    k += (size_t)snprintf(buf + k, size - k, ", %s: ", a->name);
    if (k >= size)
      break;
    switch (a->type) {
    case GESTA_ATTR_INT:
      k += (size_t)snprintf(buf + k, size - k, "%" PRId64, v->i[0]);
      break;
    case GESTA_ATTR_FLOAT:
      k += (size_t)snprintf(buf + k, size - k, "%.9g", v->f);
      break;
    case GESTA_ATTR_BOOL:
      k += (size_t)snprintf(buf + k, size - k, "%s", v->b ? "true" : "false");
      break;
    case GESTA_ATTR_PAIR:
      k += (size_t)snprintf(buf + k, size - k, "[%" PRId64 ", %" PRId64 "]",
                            v->i[0], v->i[1]);
      break;
    case GESTA_ATTR_ENUM: {
      const char *c = a->choices ? a->choices : "";
      for (int64_t j = 0; j < v->i[0] && strchr(c, '|'); j++)
        c = strchr(c, '|') + 1;
      k += (size_t)snprintf(buf + k, size - k, "%.*s", (int)strcspn(c, "|"), c);
      break;
    }
    }
  }
  if (k < size && node->time_distributed)
    k += (size_t)snprintf(buf + k, size - k, ", time_distributed: true");
  if (k < size)
    snprintf(buf + k, size - k, "}");
}

static void check_print_repro(FILE *out, const check_report *r,
                              const check_device *d, int layer, bool isolated) {
  const gesta_node *node = r->model->nodes + layer;
  const check_layer *l = &d->layers[layer];
  const check_stats *s = isolated ? &l->isolated : &l->chained;
  char yaml[1024], cmd[GESTA_PATH_MAX + 256], shape[128];
  check_layer_yaml(node, yaml, sizeof yaml);
  check_rerun_command(r, d, isolated ? layer : -1, cmd, sizeof cmd);
  fprintf(out,
          "FIRST DIVERGENCE on %s: layer '%s' (%s)%s: relative error %.2e "
          "> %.0e%s\n",
          d->label, node->name, node->op->def->name,
          isolated ? ", run on its own with the CPU's inputs"
                   : " in the whole-model run (each layer alone passes: the "
                     "error builds up)",
          check_stats_rel(s), l->tolerance,
          s->nonfinite ? " and non-finite values" : "");
  fprintf(out, "  layer:   %s\n", yaml);
  for (int k = 0; k < node->n_inputs; k++) {
    gesta_shape in = {node->input_shapes[k].rank + 1, {r->batch}};
    int src = node->inputs[k];
    const gesta_shape *ps =
        src < 0 ? &r->model->input_shape : &r->model->nodes[src].output_shape;
    in.rank = ps->rank + 1;
    for (int i = 0; i < ps->rank; i++)
      in.dims[i + 1] = ps->dims[i];
    fprintf(out, "  input:   %s from %s\n",
            gesta_shape_format(&in, shape, sizeof shape),
            src < 0 ? "the model input" : r->model->nodes[src].name);
  }
  fprintf(out,
          "  inputs:  seeded uniform [0, 1), seed %" PRIu64 ", batch %" PRId64
          "; weights: %s\n",
          r->seed, r->batch, r->weights);
  fprintf(out, "  rerun:   %s\n", cmd);
  fprintf(out,
          "  kernel:  copy ops/%s/*.cl to DIR/%s/, edit, and rerun with "
          "GESTA_CL_SOURCE_DIR=DIR\n",
          node->op->def->name, node->op->def->name);
}

static void check_print_device(FILE *out, const check_report *r,
                               const check_device *d) {
  char shape[96];
  fprintf(out, "\n== %s, driver %s: %s\n", d->label, d->driver,
          d->passed ? "PASS" : "FAIL");
  if (d->error[0]) {
    fprintf(out, "error: %s\n", d->error);
    if (!d->layers)
      return;
  }
  fprintf(out, "%-12s %-17s %-20s %9s %9s %9s %7s %-5s %9s  %s\n", "layer",
          "op", "shape", "max_abs", "max_rel", "nmse", "tol", "alone",
          "in_model", "placement");
  for (int i = 0; i < r->model->n_nodes; i++) {
    const check_layer *l = &d->layers[i];
    if (r->only_layer && strcmp(l->node->name, r->only_layer) != 0)
      continue;
    char chained[16] = "-";
    if (l->chained.valid)
      snprintf(chained, sizeof chained, "%.1e%s", check_stats_rel(&l->chained),
               l->chained_ok ? "" : "!");
    if (l->isolated.valid)
      fprintf(out, "%-12s %-17s %-20s %9.2e %9.2e %9.2e %7.0e %-5s %9s  %s\n",
              l->node->name, l->node->op->def->name,
              gesta_shape_format(&l->shape, shape, sizeof shape),
              l->isolated.max_abs, l->isolated.max_rel, l->isolated.nmse,
              l->tolerance, l->isolated_ok ? "ok" : "FAIL", chained,
              l->placement);
    else
      fprintf(out, "%-12s %-17s %-20s %9s %9s %9s %7.0e %-5s %9s  %s\n",
              l->node->name, l->node->op->def->name,
              gesta_shape_format(&l->shape, shape, sizeof shape), "-", "-", "-",
              l->tolerance, "-", chained, l->placement);
  }
  if (d->output.valid)
    fprintf(out,
            "model output after a whole run: relative error %.2e (max abs "
            "%.2e, max rel %.2e), tolerance %.0e: %s\n",
            check_stats_rel(&d->output), d->output.max_abs, d->output.max_rel,
            check_tolerance_for(&r->tolerances, "model"),
            d->output_ok ? "ok" : "FAIL");
  if (d->first_bad >= 0)
    check_print_repro(out, r, d, d->first_bad, true);
  else if (!d->passed && d->first_drift >= 0)
    check_print_repro(out, r, d, d->first_drift, false);
}

void check_report_print(FILE *out, const check_report *r) {
  char shape[128];
  gesta_shape in = {r->model->input_shape.rank + 1, {r->batch}};
  for (int i = 0; i < r->model->input_shape.rank; i++)
    in.dims[i + 1] = r->model->input_shape.dims[i];
  fprintf(out, "model: %s (%s), batch %" PRId64 ", input %s\n", r->model->name,
          r->model->path, r->batch,
          gesta_shape_format(&in, shape, sizeof shape));
  fprintf(out, "input: seeded uniform [0, 1), seed %" PRIu64 "; weights: %s\n",
          r->seed, r->weights);
  fprintf(out, "reference: the CPU backend. Errors are relative to it; "
               "'alone' runs each layer on the CPU's inputs, 'in_model' is "
               "the relative RMS error in a whole-model run on the device.\n");
  for (int i = 0; i < r->n_devices; i++)
    check_print_device(out, r, &r->devices[i]);
  int failed = 0;
  for (int i = 0; i < r->n_devices; i++)
    failed += !r->devices[i].passed;
  fprintf(out, "\n%d device(s) checked: %d passed, %d failed\n", r->n_devices,
          r->n_devices - failed, failed);
}

/* ---- JSON report ------------------------------------------------------- */

static cJSON *check_json_shape(const gesta_shape *s) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < s->rank; i++)
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)s->dims[i]));
  return a;
}

static cJSON *check_json_stats(const check_stats *s, double tolerance,
                               bool ok) {
  cJSON *o;
  if (!s->valid)
    return cJSON_CreateNull();
  o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "max_abs", s->max_abs);
  cJSON_AddNumberToObject(o, "max_rel", s->max_rel);
  cJSON_AddNumberToObject(o, "nmse", s->nmse);
  cJSON_AddNumberToObject(o, "rel", check_stats_rel(s));
  cJSON_AddNumberToObject(o, "nonfinite", (double)s->nonfinite);
  cJSON_AddNumberToObject(o, "tolerance", tolerance);
  cJSON_AddBoolToObject(o, "pass", ok);
  return o;
}

static cJSON *check_json_divergence(const check_report *r,
                                    const check_device *d) {
  int layer = d->first_bad >= 0 ? d->first_bad : d->first_drift;
  char yaml[1024], cmd[GESTA_PATH_MAX + 256];
  cJSON *o;
  if (layer < 0 || (d->first_bad < 0 && d->passed))
    return cJSON_CreateNull();
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "layer", r->model->nodes[layer].name);
  cJSON_AddStringToObject(o, "op", r->model->nodes[layer].op->def->name);
  cJSON_AddStringToObject(o, "kind",
                          d->first_bad >= 0 ? "alone" : "accumulated");
  check_layer_yaml(&r->model->nodes[layer], yaml, sizeof yaml);
  cJSON_AddStringToObject(o, "yaml", yaml);
  check_rerun_command(r, d, d->first_bad >= 0 ? layer : -1, cmd, sizeof cmd);
  cJSON_AddStringToObject(o, "rerun", cmd);
  return o;
}

static cJSON *check_json_device(const check_report *r, const check_device *d) {
  cJSON *o = cJSON_CreateObject(), *layers;
  cJSON_AddStringToObject(o, "device", d->name);
  cJSON_AddStringToObject(o, "platform", d->platform);
  cJSON_AddStringToObject(o, "driver", d->driver);
  cJSON_AddStringToObject(o, "spec", d->spec);
  cJSON_AddBoolToObject(o, "passed", d->passed);
  if (d->error[0])
    cJSON_AddStringToObject(o, "error", d->error);
  else
    cJSON_AddNullToObject(o, "error");
  cJSON_AddItemToObject(
      o, "output",
      check_json_stats(&d->output, check_tolerance_for(&r->tolerances, "model"),
                       d->output_ok));
  cJSON_AddItemToObject(o, "first_divergence", check_json_divergence(r, d));
  layers = cJSON_AddArrayToObject(o, "layers");
  for (int i = 0; d->layers && i < r->model->n_nodes; i++) {
    const check_layer *l = &d->layers[i];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "layer", l->node->name);
    cJSON_AddStringToObject(j, "op", l->node->op->def->name);
    cJSON_AddItemToObject(j, "shape", check_json_shape(&l->shape));
    cJSON_AddStringToObject(j, "placement", l->placement);
    cJSON_AddBoolToObject(j, "fallback", l->fallback);
    cJSON_AddNumberToObject(j, "tolerance", l->tolerance);
    cJSON_AddItemToObject(
        j, "alone",
        check_json_stats(&l->isolated, l->tolerance, l->isolated_ok));
    cJSON_AddItemToObject(
        j, "in_model",
        check_json_stats(&l->chained, l->tolerance, l->chained_ok));
    cJSON_AddItemToArray(layers, j);
  }
  return o;
}

gesta_status check_report_write_json(const check_report *r, const char *path,
                                     gesta_error *err) {
  cJSON *root = cJSON_CreateObject(), *tol, *devices;
  char *text;
  FILE *f;
  gesta_shape in = {r->model->input_shape.rank + 1, {r->batch}};
  for (int i = 0; i < r->model->input_shape.rank; i++)
    in.dims[i + 1] = r->model->input_shape.dims[i];
  cJSON_AddStringToObject(root, "model", r->model->name);
  cJSON_AddStringToObject(root, "file", r->model->path);
  cJSON_AddStringToObject(root, "weights", r->weights);
  cJSON_AddBoolToObject(root, "random_weights", r->random_weights);
  cJSON_AddNumberToObject(root, "seed", (double)r->seed);
  cJSON_AddNumberToObject(root, "batch", (double)r->batch);
  cJSON_AddItemToObject(root, "input_shape", check_json_shape(&in));
  if (r->only_layer)
    cJSON_AddStringToObject(root, "layer", r->only_layer);
  tol = cJSON_AddObjectToObject(root, "tolerances");
  for (int i = 0; i < r->tolerances.n; i++)
    cJSON_AddNumberToObject(tol, r->tolerances.items[i].op,
                            r->tolerances.items[i].rel);
  devices = cJSON_AddArrayToObject(root, "devices");
  for (int i = 0; i < r->n_devices; i++)
    cJSON_AddItemToArray(devices, check_json_device(r, &r->devices[i]));
  cJSON_AddBoolToObject(root, "passed", r->passed);
  text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory writing the JSON report");
  f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
  if (!f || fprintf(f, "%s\n", text) < 0 || (f != stdout && fclose(f) != 0)) {
    cJSON_free(text);
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR,
                           "cannot write the JSON report to %s: %s", path,
                           strerror(errno));
  }
  cJSON_free(text);
  return GESTA_STATUS_OK;
}

/* ---- the record of checks, next to the kernel cache -------------------- */

/* $XDG_CACHE_HOME/gesta, else $HOME/.cache/gesta (as the kernel cache). */
static bool check_results_path(char *dir, size_t dsize, char *path,
                               size_t psize) {
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  int n;
  if (xdg && *xdg)
    n = snprintf(dir, dsize, "%s/gesta", xdg);
  else if (home && *home)
    n = snprintf(dir, dsize, "%s/.cache/gesta", home);
  else
    return false;
  if (n <= 0 || (size_t)n >= dsize)
    return false;
  n = snprintf(path, psize, "%s/check-results.json", dir);
  return n > 0 && (size_t)n < psize;
}

static cJSON *check_results_read(const char *path) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  long len;
  cJSON *root = NULL;
  if (!f)
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && len < (1L << 24) &&
      fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)len + 1)) &&
      fread(text, 1, (size_t)len, f) == (size_t)len) {
    text[len] = '\0';
    root = cJSON_Parse(text);
  }
  free(text);
  fclose(f);
  if (root && !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    root = NULL;
  }
  return root;
}

static void check_results_key(const char *name, const char *driver, char *buf,
                              size_t size) {
  snprintf(buf, size, "%s | %s", name, driver);
}

static void check_mkdirs(char *dir) {
  for (char *p = dir + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      mkdir(dir, 0755);
      *p = '/';
    }
  mkdir(dir, 0755);
}

void check_results_record(const gesta_context *ctx, const check_report *r) {
  char dir[GESTA_PATH_MAX], path[GESTA_PATH_MAX + 32], tmp[GESTA_PATH_MAX + 64];
  char date[16], key[256];
  time_t now = time(NULL);
  struct tm tm;
  cJSON *root, *devices;
  char *text;
  FILE *f;
  if (!check_results_path(dir, sizeof dir, path, sizeof path))
    return;
  strftime(date, sizeof date, "%Y-%m-%d", localtime_r(&now, &tm));
  root = check_results_read(path);
  if (!root)
    root = cJSON_CreateObject();
  if (!cJSON_GetObjectItem(root, "format"))
    cJSON_AddNumberToObject(root, "format", 1);
  devices = cJSON_GetObjectItem(root, "devices");
  if (!cJSON_IsObject(devices)) {
    cJSON_DeleteItemFromObject(root, "devices");
    devices = cJSON_AddObjectToObject(root, "devices");
  }
  for (int i = 0; i < r->n_devices; i++) {
    const check_device *d = &r->devices[i];
    cJSON *dev, *models, *m;
    check_results_key(d->name, d->driver, key, sizeof key);
    dev = cJSON_GetObjectItem(devices, key);
    if (!cJSON_IsObject(dev)) {
      cJSON_DeleteItemFromObject(devices, key);
      dev = cJSON_AddObjectToObject(devices, key);
      cJSON_AddStringToObject(dev, "device", d->name);
      cJSON_AddStringToObject(dev, "platform", d->platform);
      cJSON_AddStringToObject(dev, "driver", d->driver);
    }
    models = cJSON_GetObjectItem(dev, "models");
    if (!cJSON_IsObject(models)) {
      cJSON_DeleteItemFromObject(dev, "models");
      models = cJSON_AddObjectToObject(dev, "models");
    }
    cJSON_DeleteItemFromObject(models, r->model->name);
    m = cJSON_AddObjectToObject(models, r->model->name);
    cJSON_AddBoolToObject(m, "passed", d->passed);
    cJSON_AddStringToObject(m, "date", date);
    cJSON_AddStringToObject(m, "file", r->model->path);
    cJSON_AddNumberToObject(m, "batch", (double)r->batch);
    cJSON_AddNumberToObject(m, "seed", (double)r->seed);
    cJSON_AddStringToObject(m, "gesta", GESTA_VERSION);
    int bad = d->first_bad >= 0 ? d->first_bad : d->first_drift;
    if (!d->passed && bad >= 0) {
      char what[160];
      snprintf(what, sizeof what, "%s (%s)", r->model->nodes[bad].name,
               r->model->nodes[bad].op->def->name);
      cJSON_AddStringToObject(m, "first_divergence", what);
    }
  }
  text = cJSON_Print(root);
  cJSON_Delete(root);
  check_mkdirs(dir);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  f = text ? fopen(tmp, "w") : NULL;
  if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0 ||
      rename(tmp, path) != 0) {
    gesta_log(ctx, GESTA_LOG_WARNING,
              "could not record the check in %s: %s (the verdict above "
              "stands)",
              path, strerror(errno));
    remove(tmp);
  } else {
    gesta_log(ctx, GESTA_LOG_INFO, "recorded the check in %s", path);
  }
  cJSON_free(text);
}

#if GESTA_HAVE_OPENCL
const char *cli_check_status_for(const gesta_opencl_device_info *d, char *buf,
                                 size_t n) {
  char dir[GESTA_PATH_MAX], path[GESTA_PATH_MAX + 32], key[256];
  char passed[256] = "", failed[256] = "", date[16] = "";
  cJSON *root, *m;
  if (!check_results_path(dir, sizeof dir, path, sizeof path) ||
      !(root = check_results_read(path)))
    return NULL;
  check_results_key(d->name, d->driver_version, key, sizeof key);
  cJSON *models = cJSON_GetObjectItem(
      cJSON_GetObjectItem(cJSON_GetObjectItem(root, "devices"), key), "models");
  cJSON_ArrayForEach(m, models) {
    cJSON *ok = cJSON_GetObjectItem(m, "passed");
    cJSON *when = cJSON_GetObjectItem(m, "date");
    cJSON *where = cJSON_GetObjectItem(m, "first_divergence");
    char *list = cJSON_IsTrue(ok) ? passed : failed;
    size_t used = strlen(list);
    if (!m->string)
      continue;
    snprintf(list + used, sizeof passed - used, "%s%s%s%s", used ? ", " : "",
             m->string, cJSON_IsString(where) ? ": " : "",
             cJSON_IsString(where) ? where->valuestring : "");
    if (cJSON_IsString(when) && strcmp(when->valuestring, date) > 0)
      snprintf(date, sizeof date, "%s", when->valuestring);
  }
  cJSON_Delete(root);
  if (failed[0])
    snprintf(buf, n, "FAILED (%s; %s)", failed, date);
  else if (passed[0])
    snprintf(buf, n, "passed (%s; %s)", passed, date);
  else
    return NULL;
  return buf;
}
#endif
