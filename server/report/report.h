/* Pieces of `qsweep report` shared by its files: report_cmd.c (options,
 * best, pivot) and report_tables.c (Table 5 / Table 4 and the claims). */
#ifndef QS_REPORT_H
#define QS_REPORT_H

#include "db.h"

enum { QS_FMT_TEXT, QS_FMT_MD, QS_FMT_CSV };

/* Table 5 or Table 4: the published rows beside ours (db NULL: published
 * alone), then the claims with their intervals and verdicts. dataset
 * NULL: the table's own (cifar10). */
int qs_report_table(qs_db *db, const char *sweep, const char *dataset, int fmt, int table4);

/* The Table 5 claims of a selection, printed only when at least one of
 * them has rows to compare (`report pivot` of a ResNet sweep). */
int qs_report_claims_if_any(qs_db *db, const char *sweep, const char *dataset, int fmt);

#endif
