/* Confusion matrix and the metrics read from it; definitions in
 * gesta/metrics.h. */
#include "gesta/metrics.h"

#include <math.h>
#include <stdlib.h>

/* Large enough for any real label set, small enough that the n*n matrix
 * is a few megabytes at most. */
#define METRICS_MAX_CLASSES 1000

gesta_status gesta_confusion_init(gesta_confusion *cm, int n_classes,
                                  gesta_error *err) {
  cm->n_classes = 0;
  cm->counts = NULL;
  cm->total = 0;
  if (n_classes < 1 || n_classes > METRICS_MAX_CLASSES)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "a confusion matrix needs 1 to %d classes, not %d",
                           METRICS_MAX_CLASSES, n_classes);
  cm->counts =
      calloc((size_t)n_classes * (size_t)n_classes, sizeof *cm->counts);
  if (!cm->counts)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory for a %dx%d confusion matrix",
                           n_classes, n_classes);
  cm->n_classes = n_classes;
  return GESTA_STATUS_OK;
}

void gesta_confusion_free(gesta_confusion *cm) {
  if (!cm)
    return;
  free(cm->counts);
  cm->counts = NULL;
  cm->n_classes = 0;
  cm->total = 0;
}

gesta_status gesta_confusion_add(gesta_confusion *cm, int true_label,
                                 int predicted, gesta_error *err) {
  int n = cm->n_classes;
  if (true_label < 0 || true_label >= n)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "true label %d is outside the %d classes (0 to %d)",
                           true_label, n, n - 1);
  if (predicted < 0 || predicted >= n)
    return gesta_error_set(
        err, GESTA_STATUS_BAD_INPUT,
        "predicted label %d is outside the %d classes (0 to %d)", predicted, n,
        n - 1);
  cm->counts[(size_t)true_label * (size_t)n + (size_t)predicted]++;
  cm->total++;
  return GESTA_STATUS_OK;
}

gesta_status gesta_confusion_add_labels(gesta_confusion *cm,
                                        const int *true_labels,
                                        const int *predicted, int64_t n,
                                        gesta_error *err) {
  for (int64_t i = 0; i < n; i++) {
    gesta_status status =
        gesta_confusion_add(cm, true_labels[i], predicted[i], err);
    if (status != GESTA_STATUS_OK)
      return status;
  }
  return GESTA_STATUS_OK;
}

int64_t gesta_confusion_at(const gesta_confusion *cm, int true_label,
                           int predicted) {
  if (true_label < 0 || true_label >= cm->n_classes || predicted < 0 ||
      predicted >= cm->n_classes)
    return 0;
  return cm
      ->counts[(size_t)true_label * (size_t)cm->n_classes + (size_t)predicted];
}

int gesta_argmax(const float *values, int n) {
  int best = -1;
  for (int i = 0; i < n; i++)
    if (!isnan(values[i]) && (best < 0 || values[i] > values[best]))
      best = i;
  return best;
}

/* x / y, or 0 when y is 0 (scikit-learn's zero_division=0). */
static double metrics_ratio(int64_t x, int64_t y) {
  return y > 0 ? (double)x / (double)y : 0.0;
}

void gesta_confusion_metrics(const gesta_confusion *cm,
                             gesta_class_metrics *per_class,
                             gesta_metrics_summary *summary) {
  int n = cm->n_classes;
  gesta_metrics_summary s = {0};
  for (int c = 0; c < n; c++) {
    gesta_class_metrics m = {0};
    double pr_sum;
    for (int k = 0; k < n; k++) {
      m.support += gesta_confusion_at(cm, c, k);
      m.predicted += gesta_confusion_at(cm, k, c);
    }
    m.true_positives = gesta_confusion_at(cm, c, c);
    m.precision = metrics_ratio(m.true_positives, m.predicted);
    m.recall = metrics_ratio(m.true_positives, m.support);
    pr_sum = m.precision + m.recall;
    m.f1 = pr_sum > 0 ? 2.0 * m.precision * m.recall / pr_sum : 0.0;
    if (per_class)
      per_class[c] = m;
    s.correct += m.true_positives;
    if (m.support > 0 || m.predicted > 0) {
      s.macro_classes++;
      s.macro_precision += m.precision;
      s.macro_recall += m.recall;
      s.macro_f1 += m.f1;
    }
    s.weighted_precision += m.precision * (double)m.support;
    s.weighted_recall += m.recall * (double)m.support;
    s.weighted_f1 += m.f1 * (double)m.support;
  }
  s.total = cm->total;
  s.accuracy = metrics_ratio(s.correct, s.total);
  if (s.macro_classes > 0) {
    s.macro_precision /= s.macro_classes;
    s.macro_recall /= s.macro_classes;
    s.macro_f1 /= s.macro_classes;
  }
  if (s.total > 0) {
    s.weighted_precision /= (double)s.total;
    s.weighted_recall /= (double)s.total;
    s.weighted_f1 /= (double)s.total;
  }
  if (summary)
    *summary = s;
}
