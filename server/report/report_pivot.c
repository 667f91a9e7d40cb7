/* `qsweep report pivot`: rows = (dataset, model), columns = the bit
 * settings present in the one order of bits.h (float, W2AF, WFA2, W2A2,
 * W2A2+lip, W2A2+clr, W2A2+lip+clr, ...); each cell the mean ± std over
 * seeds of the final test accuracy of done phases. The same model on two
 * datasets is two rows, never one average. A quantizer other than the
 * paper's gets its own columns after each setting's ("W4A8[lsq+]"), and so
 * does each ptq variant of the same float parent ("W4A8[ptq]",
 * "W4A8[ptq+cle]", "W4A8[ptq+adaround]", "W4A8[ptq+adaround+cle]"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bits.h"
#include "err.h"
#include "report.h"

#define PIVOT_MAXCOL 48

/* The order of a setting's columns: the paper's quantizer, then the
 * others, the ptq variants last. */
static int quant_rank(const char *q)
{
    static const char *const order[] = {"hwang-pact", "lsq+", "ptq", "ptq+cle", "ptq+adaround",
                                        "ptq+adaround+cle", NULL};
    for (int i = 0; order[i]; i++)
        if (!strcmp(q, order[i]))
            return i;
    return 7;
}

typedef struct {
    char label[40];
    long rank;
} pcol;

typedef struct {
    char dataset[32], model[64];
    qs_rstat c[PIVOT_MAXCOL]; /* by discovery index; printed in rank order */
} prow;

static int cmp_col(const void *a, const void *b)
{
    long x = ((const pcol *)a)->rank, y = ((const pcol *)b)->rank;
    return x < y ? -1 : x > y;
}

/* Rows are read in model order; columns are collected as they appear and
 * sorted once at the end, so a column first seen on a later row still
 * takes its place in the order. */
static int read_rows(prow **rows, int *nrow, pcol *cols, int *ncol, int *cut,
                     const qs_report_sel *sel)
{
    const char *sql =
        "SELECT dataset, model, phase, wbits, abits, regularizer, SUM(test_acc), "
        "SUM(test_acc * test_acc), COUNT(*), quantizer FROM (SELECT DISTINCT phase_id, dataset, "
        "arch, width, depth, block, residual, model, phase, wbits, abits, regularizer, "
        QS_QUANT_COL_SQL " AS quantizer, test_acc FROM "
        "runs WHERE status = 'done' AND test_acc IS NOT NULL AND (?1 IS NULL OR sweep = ?1) "
        "AND (?2 IS NULL OR dataset = ?2)) "
        "GROUP BY dataset, model, phase, wbits, abits, regularizer, quantizer "
        "ORDER BY dataset, MIN(arch), MIN(COALESCE(block, '')), MIN(residual), MIN(depth), "
        "MIN(width), model";
    sqlite3_stmt *st;
    qs_db *db = sel->db;
    int cap = 0, rc = QS_OK, s;
    prow *r = NULL;
    *nrow = *ncol = *cut = 0;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (sel->sweep)
        sqlite3_bind_text(st, 1, sel->sweep, -1, SQLITE_STATIC);
    if (sel->dataset)
        sqlite3_bind_text(st, 2, sel->dataset, -1, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ds = (const char *)sqlite3_column_text(st, 0);
        const char *model = (const char *)sqlite3_column_text(st, 1);
        int wb = sqlite3_column_int(st, 3), ab = sqlite3_column_int(st, 4);
        int lip = strcmp((const char *)sqlite3_column_text(st, 5), "none") != 0;
        int clr = !strcmp((const char *)sqlite3_column_text(st, 2), "clr");
        char lab[40];
        ds = ds ? ds : "?";
        const char *q = (const char *)sqlite3_column_text(st, 9);
        /* A quantizer other than the paper's is its own column, after the
         * paper's: "W2A2[lsq+]". */
        qs_setting_label(lab, sizeof lab, wb, ab, lip, clr);
        int other_q = qs_quant_suffix(lab, sizeof lab, q);
        int k = 0;
        while (k < *ncol && strcmp(cols[k].label, lab))
            k++;
        if (k == *ncol) {
            if (*ncol == PIVOT_MAXCOL) {
                *cut = 1; /* said under the table */
                continue;
            }
            snprintf(cols[k].label, sizeof cols[k].label, "%s", lab);
            cols[k].rank = 8L * qs_setting_rank(wb, ab, lip, clr) + (other_q ? quant_rank(q) : 0);
            (*ncol)++;
        }
        if (!*nrow || strcmp(r[*nrow - 1].model, model) || strcmp(r[*nrow - 1].dataset, ds)) {
            if (*nrow == cap) {
                cap = cap ? 2 * cap : 16;
                prow *g = realloc(r, sizeof *r * cap);
                if (!g) {
                    rc = qs_err(QS_ENOMEM, "out of memory");
                    break;
                }
                r = g;
            }
            memset(&r[*nrow], 0, sizeof *r);
            snprintf(r[*nrow].dataset, sizeof r->dataset, "%s", ds);
            snprintf(r[(*nrow)++].model, sizeof r->model, "%s", model);
        }
        r[*nrow - 1].c[k] = qs_rstat_sums(sqlite3_column_double(st, 6),
                                          sqlite3_column_double(st, 7), sqlite3_column_int(st, 8));
    }
    if (rc == QS_OK && s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    *rows = r;
    return rc;
}

int qs_report_pivot(const qs_report_sel *sel)
{
    pcol cols[PIVOT_MAXCOL], sorted[PIVOT_MAXCOL];
    int ord[PIVOT_MAXCOL], nrow, ncol, cut, fmt = sel->fmt, multi = 0;
    prow *r = NULL;
    int rc = read_rows(&r, &nrow, cols, &ncol, &cut, sel);
    if (rc) {
        free(r);
        return rc;
    }
    /* ord[j]: the discovery index of the j-th column in print order. */
    memcpy(sorted, cols, sizeof cols[0] * (size_t)ncol);
    qsort(sorted, (size_t)ncol, sizeof sorted[0], cmp_col);
    for (int j = 0; j < ncol; j++)
        for (int k = 0; k < ncol; k++)
            if (!strcmp(sorted[j].label, cols[k].label))
                ord[j] = k;
    for (int i = 1; i < nrow; i++)
        multi |= strcmp(r[i].dataset, r[0].dataset) != 0;
    const char *sep = fmt == QS_FMT_CSV ? "," : fmt == QS_FMT_MD ? " | " : "  ";
    if (fmt == QS_FMT_CSV) {
        printf("model");
        for (int j = 0; j < ncol; j++)
            printf(",%s,%s_std,%s_n", sorted[j].label, sorted[j].label, sorted[j].label);
        printf(",dataset\n");
    } else if (nrow) {
        printf(fmt == QS_FMT_MD ? "| %s" : "%-22s", "model");
        if (multi)
            printf(fmt == QS_FMT_MD ? " | dataset" : "  %-13s", "dataset");
        for (int j = 0; j < ncol; j++)
            printf(fmt == QS_FMT_MD ? "%s%s" : "%s%-14s", sep, sorted[j].label);
        printf(fmt == QS_FMT_MD ? " |\n|---" : "\n");
        if (fmt == QS_FMT_MD && multi)
            printf("|---");
        for (int j = 0; fmt == QS_FMT_MD && j < ncol; j++)
            printf("|---:");
        if (fmt == QS_FMT_MD)
            printf("|\n");
    }
    for (int i = 0; i < nrow; i++) {
        printf(fmt == QS_FMT_MD ? "| %s" : fmt == QS_FMT_CSV ? "%s" : "%-22s", r[i].model);
        if (multi && fmt != QS_FMT_CSV)
            printf(fmt == QS_FMT_MD ? " | %s" : "  %-13s", r[i].dataset);
        for (int j = 0; j < ncol; j++) {
            qs_rstat c = r[i].c[ord[j]];
            char b[64], sd[32];
            if (fmt == QS_FMT_CSV) {
                qs_fmt_std_csv(sd, sizeof sd, c.std, c.n);
                if (c.n)
                    printf(",%.2f,%s,%d", c.mean, sd, c.n);
                else
                    printf(",,,0");
                continue;
            }
            qs_fmt_stat(b, sizeof b, c.mean, c.std, c.n, fmt);
            if (c.n)
                snprintf(b + strlen(b), sizeof b - strlen(b), " (%d)", c.n);
            printf(fmt == QS_FMT_MD ? "%s%s" : "%s%-14s", sep, b);
        }
        printf(fmt == QS_FMT_MD ? " |\n" : fmt == QS_FMT_CSV ? ",%s\n" : "\n",
               r[i].dataset);
    }
    if (fmt != QS_FMT_CSV) {
        if (!nrow) {
            char ds[512] = "";
            if (sel->dataset)
                qs_report_datasets(ds, sizeof ds, sel);
            printf("(no done phase%s%s%s%s%s%s)\n", sel->sweep ? " in sweep " : "",
                   sel->sweep ? sel->sweep : "", sel->dataset ? " on dataset " : "",
                   sel->dataset ? sel->dataset : "", ds[0] ? "; " : "", ds);
        } else {
            printf("test accuracy %%, mean±std over seeds (number of seeds)%s\n",
                   cut ? "; more bit settings than columns, some left out" : "");
        }
    }
    free(r);
    /* A ResNet sweep of Table 5's design: its claims too. */
    return nrow ? qs_report_claims_if_any(sel) : QS_OK;
}
