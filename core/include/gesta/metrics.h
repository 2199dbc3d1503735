/* gesta — classification metrics: a confusion matrix built from true and
 * predicted labels, and what is read from it (accuracy, per-class
 * precision, recall and F1, their macro and support-weighted averages).
 *
 * The definitions are scikit-learn's (precision_recall_fscore_support with
 * zero_division=0), so numbers can be compared with a Python evaluation:
 *   precision_c = TP_c / (TP_c + FP_c), 0 when nothing was predicted as c
 *   recall_c    = TP_c / (TP_c + FN_c), 0 when c never occurs
 *   F1_c        = 2 P R / (P + R),     0 when P + R = 0
 * The macro averages are plain means of the per-class values over the
 * classes that occur in the true or the predicted labels (scikit-learn's
 * default label set); a class absent from both says nothing and is left
 * out. The weighted averages weigh each class by its support. */
#ifndef GESTA_METRICS_H
#define GESTA_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Counts of (true, predicted) pairs: counts[t * n_classes + p]. */
typedef struct gesta_confusion {
  int n_classes;
  int64_t *counts; /* n_classes * n_classes */
  int64_t total;   /* pairs added */
} gesta_confusion;

/* An empty matrix for n_classes classes (1 or more). Free with
 * gesta_confusion_free, also after a failed init. */
gesta_status gesta_confusion_init(gesta_confusion *cm, int n_classes,
                                  gesta_error *err);
void gesta_confusion_free(gesta_confusion *cm);

/* Adds one sample. A label outside [0, n_classes) is BAD_INPUT naming it. */
gesta_status gesta_confusion_add(gesta_confusion *cm, int true_label,
                                 int predicted, gesta_error *err);

/* Adds n samples from two label arrays. */
gesta_status gesta_confusion_add_labels(gesta_confusion *cm,
                                        const int *true_labels,
                                        const int *predicted, int64_t n,
                                        gesta_error *err);

int64_t gesta_confusion_at(const gesta_confusion *cm, int true_label,
                           int predicted);

/* The index of the largest of n values (the first on ties, like numpy's
 * argmax); NaN never wins. -1 when n is 0 or every value is NaN. */
int gesta_argmax(const float *values, int n);

typedef struct gesta_class_metrics {
  double precision, recall, f1;
  int64_t support;   /* samples whose true label is the class */
  int64_t predicted; /* samples predicted as the class */
  int64_t true_positives;
} gesta_class_metrics;

typedef struct gesta_metrics_summary {
  double accuracy; /* trace / total; 0 for an empty matrix */
  int64_t correct, total;
  double macro_precision, macro_recall, macro_f1;
  double weighted_precision, weighted_recall, weighted_f1;
  int macro_classes; /* classes the macro averages are taken over */
} gesta_metrics_summary;

/* Reads the metrics off the matrix. per_class (n_classes entries) may be
 * NULL; summary may be NULL. */
void gesta_confusion_metrics(const gesta_confusion *cm,
                             gesta_class_metrics *per_class,
                             gesta_metrics_summary *summary);

#ifdef __cplusplus
}
#endif
#endif
