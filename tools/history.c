/* Reading a training history (history.csv / history.json) for gesta plot. */
#include "history.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define HISTORY_MAX_BYTES (64L << 20)
#define HISTORY_MAX_FIELDS 64

const char *const history_column_names[HISTORY_COLUMNS] = {
    "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "time_s", "lr"};

void history_free(history *h) {
  for (int c = 0; c < HISTORY_COLUMNS; c++) {
    free(h->column[c]);
    h->column[c] = NULL;
  }
  h->n = 0;
}

int history_has_values(const history *h, int c) {
  for (int64_t i = 0; i < h->n; i++)
    if (isfinite(h->column[c][i]))
      return 1;
  return 0;
}

static bool history_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The whole file, NUL-terminated. */
static gesta_status history_slurp(const char *path, char **out, long *size,
                                  gesta_error *err) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n;
  *out = NULL;
  if (!f)
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot open %s: %s",
                           path, strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot read %s: %s",
                           path, strerror(errno));
  }
  if (n > HISTORY_MAX_BYTES) {
    fclose(f);
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s is %ld bytes: too large for a training history",
                           path, n);
  }
  buf = malloc((size_t)n + 1);
  if (!buf) {
    fclose(f);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory reading %s", path);
  }
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    fclose(f);
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot read %s", path);
  }
  fclose(f);
  buf[n] = '\0';
  *out = buf;
  *size = n;
  return GESTA_STATUS_OK;
}

static gesta_status history_alloc(history *h, int64_t n, gesta_error *err) {
  h->n = n;
  for (int c = 0; c < HISTORY_COLUMNS; c++) {
    h->column[c] = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!h->column[c])
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory reading %s", h->source);
    for (int64_t i = 0; i < n; i++)
      h->column[c][i] = NAN;
  }
  return GESTA_STATUS_OK;
}

/* A CSV value: empty, "nan", "null" or a number (inf allowed). */
static bool history_number(char *text, double *out) {
  char *end, *e;
  while (isspace((unsigned char)*text))
    text++;
  e = text + strlen(text);
  while (e > text && isspace((unsigned char)e[-1]))
    *--e = '\0';
  if (!*text || strcmp(text, "null") == 0) {
    *out = NAN;
    return true;
  }
  errno = 0;
  *out = strtod(text, &end);
  return end != text && *end == '\0';
}

/* Splits line in place at commas; returns the number of fields. */
static int history_split(char *line, char **fields) {
  int n = 0;
  fields[n++] = line;
  for (char *p = line; *p; p++)
    if (*p == ',') {
      *p = '\0';
      if (n == HISTORY_MAX_FIELDS)
        return n + 1;
      fields[n++] = p + 1;
    }
  return n;
}

static gesta_status history_parse_csv(history *h, char *text,
                                      gesta_error *err) {
  char *fields[HISTORY_MAX_FIELDS + 1], *line, *next;
  int map[HISTORY_MAX_FIELDS], n_fields, got, lineno = 1;
  int64_t rows = 0, row = 0;
  gesta_status status;

  for (char *p = text; *p; p++) /* \r\n files too */
    if (*p == '\r')
      *p = ' ';
  if (!*text || strspn(text, " \t\n") == strlen(text))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s is empty: no header line (%s,...)", h->source,
                           history_column_names[0]);
  for (char *p = strchr(text, '\n'); p; p = strchr(p + 1, '\n'))
    rows += p[1] != '\0';
  next = strchr(text, '\n');
  if (next)
    *next++ = '\0';
  n_fields = history_split(text, fields);
  if (n_fields > HISTORY_MAX_FIELDS)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s:1: more than %d columns: not a training history",
                           h->source, HISTORY_MAX_FIELDS);
  for (int f = 0; f < n_fields; f++) {
    double dummy;
    map[f] = -1;
    for (int c = 0; c < HISTORY_COLUMNS; c++)
      if (strcmp(fields[f], history_column_names[c]) == 0)
        map[f] = c;
    if (f == 0 && history_number(fields[f], &dummy))
      return gesta_error_set(
          err, GESTA_STATUS_BAD_INPUT,
          "%s:1: the first line must be the header (epoch,loss,...), not "
          "numbers",
          h->source);
  }
  for (int c = HISTORY_EPOCH; c <= HISTORY_LOSS; c++) {
    bool found = false;
    for (int f = 0; f < n_fields; f++)
      found = found || map[f] == c;
    if (!found)
      return gesta_error_set(
          err, GESTA_STATUS_BAD_INPUT,
          "%s:1: no '%s' column in the header: is this a history.csv "
          "written by gesta train?",
          h->source, history_column_names[c]);
  }
  status = history_alloc(h, rows, err);
  if (status != GESTA_STATUS_OK)
    return status;
  for (line = next; line && *line; line = next) {
    lineno++;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    if (strspn(line, " \t") == strlen(line))
      continue; /* a blank line */
    got = history_split(line, fields);
    if (got != n_fields)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s:%d: %d values where the header has %d "
                             "columns",
                             h->source, lineno, got, n_fields);
    for (int f = 0; f < n_fields; f++) {
      double v;
      if (!history_number(fields[f], &v))
        return gesta_error_set(
            err, GESTA_STATUS_BAD_INPUT,
            "%s:%d: column %s: '%s' is not a number", h->source, lineno,
            map[f] >= 0 ? history_column_names[map[f]] : "(unused)", fields[f]);
      if (map[f] >= 0)
        h->column[map[f]][row] = v;
    }
    row++;
  }
  h->n = row;
  return GESTA_STATUS_OK;
}

static gesta_status history_json_number(history *h, const cJSON *item,
                                        const char *key, int64_t epoch_index,
                                        double *out, gesta_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, key);
  if (!v || cJSON_IsNull(v)) {
    *out = NAN;
    return GESTA_STATUS_OK;
  }
  if (!cJSON_IsNumber(v))
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s: epochs[%lld].%s is not a number", h->source,
                           (long long)epoch_index, key);
  *out = v->valuedouble;
  return GESTA_STATUS_OK;
}

/* The run-level fields (model, best_epoch, monitor) from a parsed JSON. */
static void history_json_meta(history *h, const cJSON *root) {
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  const cJSON *best = cJSON_GetObjectItemCaseSensitive(root, "best_epoch");
  const cJSON *monitor = cJSON_GetObjectItemCaseSensitive(root, "monitor");
  if (cJSON_IsString(model) && !h->model[0])
    snprintf(h->model, sizeof h->model, "%s", model->valuestring);
  if (cJSON_IsNumber(best))
    h->best_epoch = (int64_t)best->valuedouble;
  if (cJSON_IsString(monitor))
    snprintf(h->monitor, sizeof h->monitor, "%s", monitor->valuestring);
}

static gesta_status history_parse_json(history *h, const char *text,
                                       gesta_error *err) {
  cJSON *root = cJSON_Parse(text);
  const cJSON *epochs, *item;
  gesta_status status = GESTA_STATUS_OK;
  int64_t i = 0;
  if (!root)
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT, "%s is not valid JSON (near byte %ld)",
        h->source,
        cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - text) : 0L);
  epochs = cJSON_GetObjectItemCaseSensitive(root, "epochs");
  if (!cJSON_IsArray(epochs)) {
    cJSON_Delete(root);
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s has no \"epochs\" array: is this a "
                           "history.json written by gesta train?",
                           h->source);
  }
  status = history_alloc(h, cJSON_GetArraySize(epochs), err);
  cJSON_ArrayForEach(item, epochs) {
    if (status != GESTA_STATUS_OK)
      break;
    if (!cJSON_IsObject(item)) {
      status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                               "%s: epochs[%lld] is not an object", h->source,
                               (long long)i);
      break;
    }
    for (int c = 0; c < HISTORY_COLUMNS && status == GESTA_STATUS_OK; c++)
      status = history_json_number(h, item, history_column_names[c], i,
                                   &h->column[c][i], err);
    if (isnan(h->column[HISTORY_EPOCH][i]))
      h->column[HISTORY_EPOCH][i] = (double)(i + 1);
    i++;
  }
  if (status == GESTA_STATUS_OK)
    history_json_meta(h, root);
  cJSON_Delete(root);
  return status;
}

/* The best epoch as Keras' EarlyStopping would pick it when the files do
 * not say: lowest val_loss, else lowest loss. */
static void history_pick_best(history *h) {
  int c =
      history_has_values(h, HISTORY_VAL_LOSS) ? HISTORY_VAL_LOSS : HISTORY_LOSS;
  int64_t best = -1;
  for (int64_t i = 0; i < h->n; i++)
    if (isfinite(h->column[c][i]) &&
        (best < 0 || h->column[c][i] < h->column[c][best]))
      best = i;
  h->best_epoch = best >= 0 ? (int64_t)h->column[HISTORY_EPOCH][best] : 0;
  snprintf(h->monitor, sizeof h->monitor, "%s", history_column_names[c]);
}

static gesta_status history_check(history *h, gesta_error *err) {
  bool best_found = false;
  if (h->n == 0)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "%s has no epochs yet: train for at least one "
                           "epoch first",
                           h->source);
  for (int64_t i = 0; i < h->n; i++) {
    double e = h->column[HISTORY_EPOCH][i];
    if (!isfinite(e) || (i > 0 && e <= h->column[HISTORY_EPOCH][i - 1]))
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s: epoch %g (row %lld) is not a number greater "
                             "than the one before",
                             h->source, e, (long long)i + 1);
    best_found = best_found || (double)h->best_epoch == e;
  }
  if (!best_found)
    history_pick_best(h);
  return GESTA_STATUS_OK;
}

/* best_epoch and monitor from a history.json next to a history.csv. */
static void history_sibling_json(history *h, const char *dir) {
  char path[GESTA_PATH_MAX + 16];
  char *text = NULL;
  long size;
  gesta_error ignored;
  cJSON *root;
  snprintf(path, sizeof path, "%s/history.json", dir);
  if (!cli_file_exists(path) ||
      history_slurp(path, &text, &size, &ignored) != GESTA_STATUS_OK)
    return;
  root = cJSON_Parse(text);
  if (root)
    history_json_meta(h, root);
  cJSON_Delete(root);
  free(text);
}

gesta_status history_load(const char *path, history *h, gesta_error *err) {
  char dir[GESTA_PATH_MAX];
  char *text = NULL;
  long size;
  bool json;
  gesta_status status;
  memset(h, 0, sizeof *h);
  if (history_is_dir(path)) {
    snprintf(dir, sizeof dir, "%s", path);
    snprintf(h->source, sizeof h->source, "%s/history.csv", path);
    if (!cli_file_exists(h->source))
      snprintf(h->source, sizeof h->source, "%s/history.json", path);
    if (!cli_file_exists(h->source))
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s has no history.csv or history.json: is it a "
                             "run folder written by gesta train -o?",
                             path);
  } else {
    const char *slash = strrchr(path, '/');
    struct stat st;
    if (stat(path, &st) != 0)
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s does not exist: name a run folder (gesta "
                             "train -o RUN_DIR) or its history.csv",
                             path);
    snprintf(h->source, sizeof h->source, "%s", path);
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1,
             slash ? path : ".");
  }
  json = strlen(h->source) >= 5 &&
         strcmp(h->source + strlen(h->source) - 5, ".json") == 0;
  status = history_slurp(h->source, &text, &size, err);
  if (status == GESTA_STATUS_OK && memchr(text, '\0', (size_t)size))
    status = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "%s is binary, not a training history", h->source);
  if (status == GESTA_STATUS_OK)
    status = json ? history_parse_json(h, text, err)
                  : history_parse_csv(h, text, err);
  free(text);
  if (status == GESTA_STATUS_OK && !json)
    history_sibling_json(h, dir);
  if (status == GESTA_STATUS_OK)
    status = history_check(h, err);
  return status;
}
