/* Accuracy against model size: the points of `qsweep report pareto` and
 * the frontier rule, kept here so that every view of the front (the
 * report, an API endpoint) marks the same points.
 *
 * A point is one design in one bit setting on one dataset: the done
 * phases of one (dataset, model, bits, regularizer, phase), averaged over
 * seeds. Its size is model_bits (weights at their bit widths) or BOPs.
 * The frontier is taken per dataset (accuracies of different datasets are
 * not comparable): a point is on it when no other point of its dataset is
 * at most as large and more accurate, or smaller and as accurate. */
#ifndef QS_PARETO_H
#define QS_PARETO_H

#include <sqlite3.h>

typedef struct {
    char dataset[32], block[16], model[64], setting[40];
    int wbits, abits;
    double model_bits, bops; /* means over the seeds */
    double x;                /* the size the front is taken on */
    double acc, std;         /* test accuracy %, std NAN below 2 seeds */
    int n;                   /* seeds */
    int front;               /* 1: on its dataset's frontier */
} qs_pareto_pt;

/* Marks p[i].front from x, acc and dataset. */
void qs_pareto_mark(qs_pareto_pt *p, int n);

/* The points of the runs view (sweep, dataset NULL: all), ordered by
 * dataset, then x; use_bops picks x. *out is malloc'd. */
int qs_pareto_load(qs_pareto_pt **out, int *n, sqlite3 *db, const char *dbpath,
                   const char *sweep, const char *dataset, int use_bops);

#endif
