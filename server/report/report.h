/* Pieces of `qsweep report` shared by its files: report_cmd.c (options,
 * dispatch), report_tables.c (Table 5 / Table 4 and the claims),
 * report_table1.c (Table 1),
 * report_best.c, report_pivot.c and pareto.c. */
#ifndef QS_REPORT_H
#define QS_REPORT_H

#include <stddef.h>

#include "db.h"

enum { QS_FMT_TEXT, QS_FMT_MD, QS_FMT_CSV };

/* What a report reads: one sweep or all (NULL), one dataset or each on its
 * own (NULL; Table 5/4: their own, cifar10), and how it prints. */
typedef struct {
    qs_db *db;
    const char *sweep, *dataset;
    int fmt;
} qs_report_sel;

/* Mean and seed std of one cell; std NAN below 2 seeds. */
typedef struct {
    double mean, std;
    int n;
} qs_rstat;

qs_rstat qs_rstat_sums(double sum, double sumsq, int n);
/* "mean±std"; the mean alone for one seed (it has no spread) and in CSV,
 * which has its own std column; "-" for no seed. */
void qs_fmt_stat(char *buf, size_t cap, double mean, double std, int n, int fmt);
/* The CSV std column: empty below 2 seeds, never 0.00. */
void qs_fmt_std_csv(char *buf, size_t cap, double std, int n);

/* QS_EINVAL when sel->sweep names no sweep of the database (the message
 * lists the sweeps there). */
int qs_report_check_sweep(const qs_report_sel *sel);
/* For an empty report: "datasets with done phases here: a (n), b (m)" of
 * the selection's sweep; "" when it has none. */
void qs_report_datasets(char *buf, size_t cap, const qs_report_sel *sel);

/* Table 5 or Table 4: the published rows beside ours (sel->db NULL:
 * published alone), then the claims with their intervals and verdicts. */
int qs_report_table(const qs_report_sel *sel, int table4);

/* Table 1 (ImageNet ResNets): the published rows beside ours on
 * sel->dataset (default imagenet): float, W2A2 and the drop with its 95 %
 * Welch interval over seeds (sel->db NULL: published alone). */
int qs_report_table1(const qs_report_sel *sel);

/* The Table 5 claims of a selection, printed only when at least one of
 * them has rows to compare (`report pivot` of a ResNet sweep). */
int qs_report_claims_if_any(const qs_report_sel *sel);

/* The best design per (dataset, block) at a bit setting and budget. */
int qs_report_best(const qs_report_sel *sel, double budget, double tol, int wbits, int abits,
                   const char *quantizer);
/* Models x bit settings (columns in the order of bits.h). */
int qs_report_pivot(const qs_report_sel *sel);
/* Accuracy against model size (bops = 0: model_bits; 1: BOPs), frontier marked. */
int qs_report_pareto(const qs_report_sel *sel, int bops);

#endif
