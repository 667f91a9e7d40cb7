/* Pareto points and frontier (pareto.h), and `qsweep report pareto`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bits.h"
#include "err.h"
#include "pareto.h"
#include "report.h"
#include "stats.h"

/* O(n^2) over one dataset's points: a report's few thousand designs at
 * most, and the rule reads as it is stated. */
void qs_pareto_mark(qs_pareto_pt *p, int n)
{
    for (int i = 0; i < n; i++) {
        p[i].front = 1;
        for (int j = 0; j < n && p[i].front; j++)
            if (j != i && !strcmp(p[j].dataset, p[i].dataset) &&
                ((p[j].x <= p[i].x && p[j].acc > p[i].acc) ||
                 (p[j].x < p[i].x && p[j].acc >= p[i].acc)))
                p[i].front = 0;
    }
}

int qs_pareto_load(qs_pareto_pt **out, int *n, sqlite3 *db, const char *dbpath,
                   const char *sweep, const char *dataset, int use_bops)
{
    const char *sql =
        "SELECT dataset, block, model, wbits, abits, regularizer, phase, AVG(model_bits), "
        "AVG(bops), SUM(test_acc), SUM(test_acc * test_acc), COUNT(*), quantizer FROM (SELECT "
        "DISTINCT phase_id, dataset, COALESCE(block, arch) AS block, model, wbits, abits, "
        "regularizer, phase, model_bits, bops, test_acc, " QS_QUANT_COL_SQL " AS quantizer "
        "FROM runs WHERE status = 'done' AND test_acc IS NOT "
        "NULL AND model_bits > 0 AND bops > 0 AND (?1 IS NULL OR sweep = ?1) "
        "AND (?2 IS NULL OR dataset = ?2)) "
        "GROUP BY dataset, model, wbits, abits, regularizer, phase, quantizer "
        "ORDER BY dataset, CASE WHEN ?3 THEN AVG(bops) ELSE AVG(model_bits) END, model";
    sqlite3_stmt *st;
    qs_pareto_pt *p = NULL;
    int cap = 0, rc = QS_OK, s;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", dbpath, sqlite3_errmsg(db));
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    if (dataset)
        sqlite3_bind_text(st, 2, dataset, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, use_bops);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            qs_pareto_pt *g = realloc(p, sizeof *p * (size_t)cap);
            if (!g) {
                rc = qs_err(QS_ENOMEM, "out of memory");
                break;
            }
            p = g;
        }
        qs_pareto_pt *q = &p[(*n)++];
        const char *ds = (const char *)sqlite3_column_text(st, 0);
        memset(q, 0, sizeof *q);
        snprintf(q->dataset, sizeof q->dataset, "%s", ds ? ds : "?");
        snprintf(q->block, sizeof q->block, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(q->model, sizeof q->model, "%s", (const char *)sqlite3_column_text(st, 2));
        q->wbits = sqlite3_column_int(st, 3);
        q->abits = sqlite3_column_int(st, 4);
        qs_setting_label(q->setting, sizeof q->setting, q->wbits, q->abits,
                         strcmp((const char *)sqlite3_column_text(st, 5), "none") != 0,
                         !strcmp((const char *)sqlite3_column_text(st, 6), "clr"));
        qs_quant_suffix(q->setting, sizeof q->setting, (const char *)sqlite3_column_text(st, 12));
        q->model_bits = sqlite3_column_double(st, 7);
        q->bops = sqlite3_column_double(st, 8);
        q->x = use_bops ? q->bops : q->model_bits;
        q->n = sqlite3_column_int(st, 11);
        qs_mean_std_sums(&q->acc, &q->std, sqlite3_column_double(st, 9),
                         sqlite3_column_double(st, 10), q->n);
    }
    if (rc == QS_OK && s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", dbpath, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (rc) {
        free(p);
        *n = 0;
        return rc;
    }
    qs_pareto_mark(p, *n);
    *out = p;
    return QS_OK;
}

int qs_report_pareto(const qs_report_sel *sel, int bops)
{
    qs_pareto_pt *p;
    int n, fmt = sel->fmt;
    const char *xname = bops ? "bops" : "model_bits";
    int rc = qs_pareto_load(&p, &n, sel->db->h, sel->db->path, sel->sweep, sel->dataset, bops);
    if (rc)
        return rc;
    if (fmt == QS_FMT_CSV)
        printf("dataset,block,setting,model,model_bits,bops,test_acc,std,n,frontier\n");
    for (int i = 0; i < n; i++) {
        char acc[48], sd[32];
        const qs_pareto_pt *q = &p[i];
        qs_fmt_stat(acc, sizeof acc, q->acc, q->std, q->n, fmt);
        qs_fmt_std_csv(sd, sizeof sd, q->std, q->n);
        if (fmt == QS_FMT_CSV) {
            printf("%s,%s,%s,%s,%.0f,%.0f,%.2f,%s,%d,%d\n", q->dataset, q->block, q->setting,
                   q->model, q->model_bits, q->bops, q->acc, sd, q->n, q->front);
            continue;
        }
        if (i == 0 || strcmp(p[i - 1].dataset, q->dataset)) {
            int nf = 0, np = 0;
            for (int j = i; j < n && !strcmp(p[j].dataset, q->dataset); j++)
                nf += p[j].front, np++;
            if (fmt == QS_FMT_MD)
                printf("%s### dataset %s: %d points, %d on the frontier\n\n"
                       "| front | %s | test acc %% | seeds | block | setting | model |\n"
                       "|---|---:|---:|---:|---|---|---|\n", i ? "\n" : "", q->dataset, np, nf,
                       xname);
            else
                printf("%sdataset %s: %d points, %d on the frontier (*)\n  %-5s %12s %14s %5s  "
                       "%-9s %-14s %s\n", i ? "\n" : "", q->dataset, np, nf, "front", xname,
                       "test acc %", "seeds", "block", "setting", "model");
        }
        if (fmt == QS_FMT_MD)
            printf("| %s | %.4g | %s | %d | %s | %s | %s |\n", q->front ? "*" : "", q->x, acc,
                   q->n, q->block, q->setting, q->model);
        else
            printf("  %-5s %12.4g %14s %5d  %-9s %-14s %s\n", q->front ? "*" : "", q->x, acc, q->n,
                   q->block, q->setting, q->model);
    }
    if (fmt != QS_FMT_CSV) {
        if (!n) {
            char ds[512] = "";
            if (sel->dataset)
                qs_report_datasets(ds, sizeof ds, sel);
            printf("(no done phase with a test accuracy and a model size%s%s%s%s)\n",
                   sel->dataset ? " on dataset " : "", sel->dataset ? sel->dataset : "",
                   ds[0] ? "; " : "", ds);
        } else {
            printf("\nsize: %s (%s); test accuracy %%, mean±std over seeds; frontier (*): no "
                   "point of the dataset is at most as large and more accurate\n", xname,
                   bops ? "binary operations of one forward pass, weights x activations bits"
                        : "weight bits of the model as quantized");
        }
    }
    free(p);
    return QS_OK;
}
