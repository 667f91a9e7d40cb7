/* Our Table 5 / Table 4 cells and the paper's claims evaluated on them:
 * the one computation behind `qsweep report table5|table4|pivot`
 * (report_tables.c) and /api/table5, /api/table4 (api_tables.c).
 *
 * Owns: which done phases make a cell (cells.c: the query and its
 * columns), which width stands for a (block, depth) row, the cell's
 * mean / std (none for one seed) / seed count / per-seed values, the
 * merge with the published rows (paper.c), and the claims: which rows
 * each compares, the difference, its 95 % Welch interval and the verdict
 * (claims.c, the statistics in stats.c). Formatting stays with the
 * callers. How rows are picked and verdicts decided: docs/verdicts.md. */
#ifndef QS_CELLS_H
#define QS_CELLS_H

#include <sqlite3.h>

#include "paper.h"
#include "stats.h"

#define QS_CELL_MAXVALS 64 /* done phases in one cell; more is an error, not a cut */
#define QS_CELLS_MAXCOLS QS_PAPER_NSETTINGS

typedef struct {
    int n;            /* done phases (one a seed in a sweep) */
    double mean, std; /* std NAN when n < 2: one seed has no spread */
    double params;    /* mean parameter count */
    double v[QS_CELL_MAXVALS];   /* final test accuracy of each phase */
    long long seed[QS_CELL_MAXVALS];
} qs_cell;

typedef struct {
    char block[16];
    int depth;
    int pwidth;                        /* published width; 0: no published row */
    double pparams_m;                  /* published parameters, millions; NAN */
    double paper[QS_CELLS_MAXCOLS];    /* published accuracy; NAN */
    int owidth;                        /* width of our cells; 0: none */
    int nwidths;                       /* widths of ours seen at this (block, depth) */
    qs_cell ours[QS_CELLS_MAXCOLS];
} qs_cells_row;

typedef struct {
    int table4;   /* columns are Table 4's (QS_PAPER_T4_*), else Table 5's (QS_PAPER_*) */
    int ncols;
    int have_ours; /* a database was read (even an empty one) */
    int ambiguous; /* (block, depth) pairs left out: several widths, none the published one */
    qs_cells_row *r; /* sorted: basic, preact, depthwise, others; by depth */
    int n, cap;
    struct qs_cells_cand *cand; /* cells per (block, depth, width) while reading */
    int ncand, candcap;
} qs_cells;

/* The published rows alone (no database). */
int qs_cells_init(qs_cells *t, int table4);
void qs_cells_free(qs_cells *t);

/* The query of one table's done phases, with {RUNS} for the runs view (or
 * the API's narrow copy of it, qs_api_prepare_src). */
extern const char qs_cells_t5_sql[], qs_cells_t4_sql[];
/* The dataset a table reads when none is asked for: the paper's (cifar10). */
const char *qs_cells_default_dataset(int table4);
/* The table's cells from st, that query prepared by the caller: binds the
 * sweep (NULL: all) and dataset (NULL: the table's own), reads every row,
 * picks each row's width, computes the cells (one-seed std NAN) and sorts.
 * A read error is `read_err` with the message "WHAT: sqlite's message".
 * The one computation of a cell, for the report and the API alike. */
int qs_cells_read(qs_cells *t, sqlite3_stmt *st, const char *sweep, const char *dataset,
                  int read_err, const char *what);
/* qs_cells_read on the runs view of db (the report). */
int qs_cells_load(qs_cells *t, sqlite3 *db, const char *dbpath, const char *sweep,
                  const char *dataset);
int qs_cells_matched(const qs_cells *t); /* cells of ours with a done phase */
/* Column s's label: Table 5's float, W2AF, WFA2, W2A2, or Table 4's float,
 * W2A2, W2A2+lip+clr, spelled as qs_setting_label spells the same phases
 * in the pivot, so one setting has one name in every report. */
const char *qs_cells_col_label(const qs_cells *t, int s);

/* ---------------------------------------------------------------- claims */

typedef struct {
    char what[96];      /* "basic: depth 20 vs depth 8", the row pair in words */
    char a[40], b[40];  /* the two sides: "basic-20 float", "preact-32 drop" */
    qs_welch w;         /* a - b over seeds; the claim is a > b */
    double published;   /* the same difference on the published rows; NAN */
} qs_cmp;

#define QS_CLAIM_MAXCMP 8

typedef struct {
    int id;            /* 1-4 (Table 5), 5 (Table 4) */
    const char *text;  /* the claim as tested */
    const char *rule;  /* which rows it compares */
    int ncmp;
    qs_cmp cmp[QS_CLAIM_MAXCMP];
    qs_verdict v;      /* from the comparisons: every one must hold */
    int decisive;      /* the comparison that decides v; -1 when none */
} qs_claim;

#define QS_CLAIMS_MAX 4
/* The claims of t's table (4 for Table 5, 1 for Table 4); returns how many. */
int qs_claims_eval(qs_claim *out, const qs_cells *t);

#endif
