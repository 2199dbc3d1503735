/* Metrics: a confusion matrix small enough to check by hand, with a class
 * that is never predicted (precision 0 by scikit-learn's zero_division=0)
 * and a class absent from both labels (left out of the macro averages),
 * the arg-max used to turn probabilities into labels, and bad labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "gesta/metrics.h"

#define TM_EPS 1e-12

/* cmocka's float check rounds to float; these values need doubles. */
#define tm_near(got, want, eps)                                                \
  do {                                                                         \
    double tm_got_ = (got), tm_want_ = (want);                                 \
    if (!(fabs(tm_got_ - tm_want_) <= (eps)))                                  \
      fail_msg("%s = %.17g, want %.17g", #got, tm_got_, tm_want_);             \
  } while (0)

/* Rows true, columns predicted:
 *        p0 p1 p2 p3
 *   t0 [  5  1  0  0 ]   support 6
 *   t1 [  2  3  1  0 ]   support 6
 *   t2 [  0  0  4  0 ]   support 4
 *   t3 [  1  0  1  0 ]   support 2, never predicted
 * Column sums (predicted): 8 4 6 0; diagonal 5 3 4 0 = 12 of 18. */
static const int tm_matrix[4][4] = {
    {5, 1, 0, 0}, {2, 3, 1, 0}, {0, 0, 4, 0}, {1, 0, 1, 0}};

/* Fills cm (n_classes >= 4) from tm_matrix, one sample at a time through
 * the label-array entry point. */
static void tm_fill(gesta_confusion *cm, int n_classes) {
  int truth[18], pred[18], n = 0;
  gesta_error err;
  assert_int_equal(gesta_confusion_init(cm, n_classes, &err), GESTA_STATUS_OK);
  for (int t = 0; t < 4; t++)
    for (int p = 0; p < 4; p++)
      for (int k = 0; k < tm_matrix[t][p]; k++) {
        truth[n] = t;
        pred[n] = p;
        n++;
      }
  assert_int_equal(n, 18);
  assert_int_equal(gesta_confusion_add_labels(cm, truth, pred, n, &err),
                   GESTA_STATUS_OK);
}

static void test_counts(void **state) {
  gesta_confusion cm;
  (void)state;
  tm_fill(&cm, 4);
  assert_int_equal(cm.total, 18);
  for (int t = 0; t < 4; t++)
    for (int p = 0; p < 4; p++)
      assert_int_equal(gesta_confusion_at(&cm, t, p), tm_matrix[t][p]);
  assert_int_equal(gesta_confusion_at(&cm, 4, 0), 0); /* outside: 0 */
  gesta_confusion_free(&cm);
}

static void test_per_class(void **state) {
  gesta_confusion cm;
  gesta_class_metrics m[4];
  (void)state;
  tm_fill(&cm, 4);
  gesta_confusion_metrics(&cm, m, NULL);
  /* Class 0: TP 5, FP 3, FN 1. F1 = 2TP / (2TP + FP + FN) = 10/14. */
  assert_int_equal(m[0].support, 6);
  assert_int_equal(m[0].predicted, 8);
  assert_int_equal(m[0].true_positives, 5);
  tm_near(m[0].precision, 5.0 / 8, TM_EPS);
  tm_near(m[0].recall, 5.0 / 6, TM_EPS);
  tm_near(m[0].f1, 5.0 / 7, TM_EPS);
  /* Class 1: TP 3, FP 1, FN 3. */
  tm_near(m[1].precision, 3.0 / 4, TM_EPS);
  tm_near(m[1].recall, 1.0 / 2, TM_EPS);
  tm_near(m[1].f1, 3.0 / 5, TM_EPS);
  /* Class 2: TP 4, FP 2, FN 0. */
  tm_near(m[2].precision, 2.0 / 3, TM_EPS);
  tm_near(m[2].recall, 1.0, TM_EPS);
  tm_near(m[2].f1, 4.0 / 5, TM_EPS);
  /* Class 3 is never predicted: TP + FP = 0, so precision is 0/0, which
   * counts as 0 (scikit-learn's zero_division=0), and F1 is 0 too. */
  assert_int_equal(m[3].predicted, 0);
  assert_int_equal(m[3].support, 2);
  assert_true(m[3].precision == 0.0);
  assert_true(m[3].recall == 0.0);
  assert_true(m[3].f1 == 0.0);
  gesta_confusion_free(&cm);
}

static void tm_check_summary(const gesta_metrics_summary *s) {
  assert_int_equal(s->correct, 12);
  assert_int_equal(s->total, 18);
  tm_near(s->accuracy, 2.0 / 3, TM_EPS);
  assert_int_equal(s->macro_classes, 4);
  /* (5/8 + 3/4 + 2/3 + 0) / 4 = 49/96 */
  tm_near(s->macro_precision, 49.0 / 96, TM_EPS);
  /* (5/6 + 1/2 + 1 + 0) / 4 = 7/12 */
  tm_near(s->macro_recall, 7.0 / 12, TM_EPS);
  /* (5/7 + 3/5 + 4/5 + 0) / 4 = 37/70: the mean of the F1s, not the F1
   * of the mean precision and recall */
  tm_near(s->macro_f1, 37.0 / 70, TM_EPS);
  /* (6*5/8 + 6*3/4 + 4*2/3 + 2*0) / 18 = 131/216 */
  tm_near(s->weighted_precision, 131.0 / 216, TM_EPS);
  /* support-weighted recall is the accuracy */
  tm_near(s->weighted_recall, 2.0 / 3, TM_EPS);
  /* (6*5/7 + 6*3/5 + 4*4/5) / 18 = 194/315 */
  tm_near(s->weighted_f1, 194.0 / 315, TM_EPS);
}

static void test_summary(void **state) {
  gesta_confusion cm;
  gesta_metrics_summary s;
  (void)state;
  tm_fill(&cm, 4);
  gesta_confusion_metrics(&cm, NULL, &s);
  tm_check_summary(&s);
  gesta_confusion_free(&cm);
}

/* A fifth class that is neither true nor predicted anywhere: all its
 * values are 0 and it is left out of the macro averages, so they stay
 * the same as with four classes. */
static void test_absent_class(void **state) {
  gesta_confusion cm;
  gesta_class_metrics m[5];
  gesta_metrics_summary s;
  (void)state;
  tm_fill(&cm, 5);
  gesta_confusion_metrics(&cm, m, &s);
  assert_int_equal(m[4].support, 0);
  assert_int_equal(m[4].predicted, 0);
  assert_true(m[4].precision == 0.0 && m[4].recall == 0.0 && m[4].f1 == 0.0);
  tm_check_summary(&s);
  gesta_confusion_free(&cm);
}

static void test_perfect_and_empty(void **state) {
  gesta_confusion cm;
  gesta_metrics_summary s;
  gesta_class_metrics m[3];
  gesta_error err;
  (void)state;
  assert_int_equal(gesta_confusion_init(&cm, 3, &err), GESTA_STATUS_OK);
  gesta_confusion_metrics(&cm, m, &s);
  assert_int_equal(s.total, 0);
  assert_true(s.accuracy == 0.0 && s.macro_f1 == 0.0 && s.weighted_f1 == 0.0);
  assert_int_equal(s.macro_classes, 0);
  for (int c = 0; c < 3; c++)
    assert_int_equal(gesta_confusion_add(&cm, c, c, &err), GESTA_STATUS_OK);
  gesta_confusion_metrics(&cm, m, &s);
  tm_near(s.accuracy, 1.0, TM_EPS);
  tm_near(s.macro_precision, 1.0, TM_EPS);
  tm_near(s.macro_recall, 1.0, TM_EPS);
  tm_near(s.macro_f1, 1.0, TM_EPS);
  gesta_confusion_free(&cm);
}

static void test_bad_labels(void **state) {
  gesta_confusion cm;
  gesta_error err;
  int truth[2] = {0, 3}, pred[2] = {1, 0};
  (void)state;
  assert_int_equal(gesta_confusion_init(&cm, 0, &err), GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "not 0"));
  gesta_confusion_free(&cm); /* safe after a failed init */
  assert_int_equal(gesta_confusion_init(&cm, 3, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_confusion_add(&cm, -1, 0, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "true label -1"));
  assert_int_equal(gesta_confusion_add(&cm, 0, 3, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "predicted label 3"));
  /* The first pair goes in, the second stops the call. */
  assert_int_equal(gesta_confusion_add_labels(&cm, truth, pred, 2, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "true label 3"));
  assert_int_equal(cm.total, 1);
  assert_int_equal(gesta_confusion_at(&cm, 0, 1), 1);
  gesta_confusion_free(&cm);
}

static void test_argmax(void **state) {
  const float a[] = {0.1f, 0.7f, 0.2f};
  const float ties[] = {0.4f, 0.4f, 0.2f};
  const float with_nan[] = {NAN, 0.3f, 0.5f};
  const float all_nan[] = {NAN, NAN};
  (void)state;
  assert_int_equal(gesta_argmax(a, 3), 1);
  assert_int_equal(gesta_argmax(ties, 3), 0); /* the first, like numpy */
  assert_int_equal(gesta_argmax(with_nan, 3), 2);
  assert_int_equal(gesta_argmax(all_nan, 2), -1);
  assert_int_equal(gesta_argmax(a, 0), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts),
      cmocka_unit_test(test_per_class),
      cmocka_unit_test(test_summary),
      cmocka_unit_test(test_absent_class),
      cmocka_unit_test(test_perfect_and_empty),
      cmocka_unit_test(test_bad_labels),
      cmocka_unit_test(test_argmax),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
