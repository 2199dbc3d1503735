/* Rendering metrics as text and JSON (see metrics_report.h). */
#include "metrics_report.h"

#include <stdlib.h>
#include <string.h>

static int report_name_width(const gesta_confusion *cm,
                             const char *const *names, int least) {
  int w = least;
  for (int c = 0; c < cm->n_classes; c++)
    if ((int)strlen(names[c]) > w)
      w = (int)strlen(names[c]);
  return w;
}

void metrics_report_table(FILE *out, const gesta_confusion *cm,
                          const char *const *names) {
  int n = cm->n_classes, w = report_name_width(cm, names, 12);
  gesta_class_metrics *m = malloc(sizeof *m * (size_t)n);
  gesta_metrics_summary s;
  if (!m) {
    fprintf(out, "(out of memory for the report)\n");
    return;
  }
  gesta_confusion_metrics(cm, m, &s);
  fprintf(out, "%*s  %10s %10s %10s %10s\n", w, "", "precision", "recall",
          "f1-score", "support");
  for (int c = 0; c < n; c++)
    fprintf(out, "%*s  %10.4f %10.4f %10.4f %10lld\n", w, names[c],
            m[c].precision, m[c].recall, m[c].f1, (long long)m[c].support);
  fprintf(out, "\n%*s  %10s %10s %10.4f %10lld\n", w, "accuracy", "", "",
          s.accuracy, (long long)s.total);
  fprintf(out, "%*s  %10.4f %10.4f %10.4f %10lld\n", w, "macro avg",
          s.macro_precision, s.macro_recall, s.macro_f1, (long long)s.total);
  fprintf(out, "%*s  %10.4f %10.4f %10.4f %10lld\n", w, "weighted avg",
          s.weighted_precision, s.weighted_recall, s.weighted_f1,
          (long long)s.total);
  free(m);
}

void metrics_report_matrix(FILE *out, const gesta_confusion *cm,
                           const char *const *names) {
  int n = cm->n_classes, w = report_name_width(cm, names, 4), cell = 3;
  int index_w = n >= 100 ? 3 : n >= 10 ? 2 : 1;
  char buf[32];
  for (int64_t i = 0; i < (int64_t)n * n; i++) {
    int len = snprintf(buf, sizeof buf, "%lld", (long long)cm->counts[i]);
    if (len + 1 > cell)
      cell = len + 1;
  }
  if (index_w + 1 > cell)
    cell = index_w + 1;
  fprintf(out, "%*s", index_w + 2 + w, "");
  for (int p = 0; p < n; p++)
    fprintf(out, " %*d", cell, p + 1);
  fprintf(out, "\n");
  for (int t = 0; t < n; t++) {
    fprintf(out, "%*d %-*s ", index_w, t + 1, w, names[t]);
    for (int p = 0; p < n; p++)
      fprintf(out, " %*lld", cell, (long long)gesta_confusion_at(cm, t, p));
    fprintf(out, "\n");
  }
}

static cJSON *report_avg(double p, double r, double f1) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "precision", p);
  cJSON_AddNumberToObject(o, "recall", r);
  cJSON_AddNumberToObject(o, "f1", f1);
  return o;
}

void metrics_report_json(cJSON *obj, const gesta_confusion *cm,
                         const char *const *names) {
  int n = cm->n_classes;
  gesta_class_metrics *m = malloc(sizeof *m * (size_t)n);
  gesta_metrics_summary s;
  cJSON *classes, *per, *matrix, *macro;
  if (!m)
    return;
  gesta_confusion_metrics(cm, m, &s);
  cJSON_AddNumberToObject(obj, "accuracy", s.accuracy);
  cJSON_AddNumberToObject(obj, "correct", (double)s.correct);
  cJSON_AddNumberToObject(obj, "samples", (double)s.total);
  classes = cJSON_AddArrayToObject(obj, "classes");
  per = cJSON_AddArrayToObject(obj, "per_class");
  matrix = cJSON_AddArrayToObject(obj, "confusion_matrix");
  for (int c = 0; c < n; c++) {
    cJSON *o = cJSON_CreateObject(), *row = cJSON_CreateArray();
    cJSON_AddItemToArray(classes, cJSON_CreateString(names[c]));
    cJSON_AddStringToObject(o, "class", names[c]);
    cJSON_AddNumberToObject(o, "precision", m[c].precision);
    cJSON_AddNumberToObject(o, "recall", m[c].recall);
    cJSON_AddNumberToObject(o, "f1", m[c].f1);
    cJSON_AddNumberToObject(o, "support", (double)m[c].support);
    cJSON_AddNumberToObject(o, "predicted", (double)m[c].predicted);
    cJSON_AddItemToArray(per, o);
    for (int p = 0; p < n; p++)
      cJSON_AddItemToArray(
          row, cJSON_CreateNumber((double)gesta_confusion_at(cm, c, p)));
    cJSON_AddItemToArray(matrix, row);
  }
  macro = report_avg(s.macro_precision, s.macro_recall, s.macro_f1);
  cJSON_AddNumberToObject(macro, "classes", s.macro_classes);
  cJSON_AddItemToObject(obj, "macro_avg", macro);
  cJSON_AddItemToObject(
      obj, "weighted_avg",
      report_avg(s.weighted_precision, s.weighted_recall, s.weighted_f1));
  free(m);
}
