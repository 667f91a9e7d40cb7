/* `qsweep report`: options, `best` (the best design per block at a budget)
 * and `pivot` (model x bit setting of any sweep). Table 5 / Table 4 and
 * the claims: report_tables.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "err.h"
#include "lsq_model.h"
#include "report.h"
#include "stats.h"
#include "parse.h"

typedef struct {
    double mean, std; /* std NAN for one seed */
    int n;
} cell;

static cell make_cell(double sum, double sumsq, int n)
{
    cell c = {NAN, NAN, n};
    qs_mean_std_sums(&c.mean, &c.std, sum, sumsq, n);
    return c;
}

/* mean±std, the mean alone for one seed. */
static void fmt_cell(char *buf, size_t n, cell c)
{
    if (c.n == 0 || isnan(c.mean))
        snprintf(buf, n, "-");
    else if (c.n > 1)
        snprintf(buf, n, "%.2f±%.2f", c.mean, c.std);
    else
        snprintf(buf, n, "%.2f", c.mean);
}

/* quant: the quantizer whose phases compete (float phases belong to all). */
static int report_best(qs_db *db, const char *sweep, double budget, const char *bits,
                       double tol, const char *quant, int fmt)
{
    int wb = 32, ab = 32;
    if (strcmp(bits, "float") != 0 &&
        (sscanf(bits, "w%da%d", &wb, &ab) != 2 || wb < 1 || ab < 1)) {
        if (sscanf(bits, "w%daf", &wb) == 1)
            ab = 32;
        else if (sscanf(bits, "wfa%d", &ab) == 1)
            wb = 32;
        else
            return qs_err(QS_EINVAL, "--bits \"%s\": expected float, wXaY, wXaf or wfaY (e.g. w2a2)", bits);
    }
    sqlite3_stmt *st;
    const char *sql =
        "SELECT block, depth, width, params, phase, regularizer, AVG(test_acc), "
        "SUM(test_acc * test_acc), SUM(test_acc), COUNT(*) FROM (SELECT DISTINCT phase_id, "
        "COALESCE(block, arch) AS block, depth, width, params, phase, regularizer, test_acc "
        "FROM runs WHERE status = 'done' AND test_acc IS NOT NULL AND wbits = ?2 AND abits = ?3 "
        "AND params BETWEEN ?4 AND ?5 AND (?1 IS NULL OR sweep = ?1) "
        "AND quantizer IN ('none', ?6)) "
        "GROUP BY block, depth, width, phase, regularizer ORDER BY block, AVG(test_acc) DESC";
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, wb);
    sqlite3_bind_int(st, 3, ab);
    sqlite3_bind_double(st, 4, budget * (1 - tol));
    sqlite3_bind_double(st, 5, budget * (1 + tol));
    sqlite3_bind_text(st, 6, quant, -1, SQLITE_STATIC);
    char last[32] = "";
    int found = 0;
    if (fmt == QS_FMT_CSV)
        printf("block,depth,width,params,phase,regularizer,test_acc,std,n\n");
    else
        printf("best design per block at %s (%s), %.3gM parameters +-%.0f%%:\n", bits, quant,
               budget / 1e6, 100 * tol);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *block = (const char *)sqlite3_column_text(st, 0);
        if (!strcmp(block, last))
            continue; /* rows come best first within a block */
        snprintf(last, sizeof last, "%s", block);
        found++;
        cell c = make_cell(sqlite3_column_double(st, 8), sqlite3_column_double(st, 7),
                           sqlite3_column_int(st, 9));
        char sd[32] = "";
        if (c.n > 1)
            snprintf(sd, sizeof sd, fmt == QS_FMT_CSV ? "%.2f" : " ± %.2f", c.std);
        if (fmt == QS_FMT_CSV)
            printf("%s,%d,%d,%lld,%s,%s,%.2f,%s,%d\n", block, sqlite3_column_int(st, 1),
                   sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3),
                   sqlite3_column_text(st, 4), sqlite3_column_text(st, 5), c.mean, sd, c.n);
        else
            printf("  %-9s depth %3d width %3d (%lld params), %s%s: %.2f%%%s over %d seed(s)\n",
                   block, sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
                   sqlite3_column_int64(st, 3), sqlite3_column_text(st, 4),
                   strcmp((const char *)sqlite3_column_text(st, 5), "none")
                       ? " + lipschitz" : "", c.mean, sd, c.n);
    }
    sqlite3_finalize(st);
    if (!found && fmt != QS_FMT_CSV)
        printf("  (no done phase at these bits within the budget; try --tolerance)\n");
    return QS_OK;
}

/* ---------------------------------------------------------------- pivot */

#define PIVOT_MAXCOL 24

/* Column label of a phase: float, W2AF, WFA2, W2A2 (F = 32 bits), with
 * "+lip" for the Lipschitz regularizer, "+clr" for the clr phase and
 * "[lsq+]" for a quantizer other than the default (the paper's). */
static void pivot_label(char *buf, size_t n, const char *phase, int wb, int ab,
                        const char *reg, const char *quant)
{
    char w[12], a[12];
    snprintf(w, sizeof w, wb >= 32 ? "F" : "%d", wb % 100);
    snprintf(a, sizeof a, ab >= 32 ? "F" : "%d", ab % 100);
    if (wb >= 32 && ab >= 32)
        snprintf(buf, n, "float%s%s", strcmp(reg, "none") ? "+lip" : "",
                 strcmp(phase, "clr") ? "" : "+clr");
    else
        snprintf(buf, n, "W%sA%s%s%s", w, a, strcmp(reg, "none") ? "+lip" : "",
                 strcmp(phase, "clr") ? "" : "+clr");
    if (strcmp(quant, "none") && strcmp(quant, "hwang-pact"))
        snprintf(buf + strlen(buf), n - strlen(buf), "[%s]", quant);
}

/* Rows: models (their order in the database: arch, width, depth); columns:
 * the bit settings present, float first. Mean ± std over seeds of the
 * final test accuracy of done phases. */
static int report_pivot(qs_db *db, const char *sweep, const char *dataset, int fmt)
{
    const char *sql =
        "SELECT model, phase, wbits, abits, regularizer, SUM(test_acc), "
        "SUM(test_acc * test_acc), COUNT(*), quantizer FROM (SELECT DISTINCT phase_id, arch, "
        "width, depth, block, residual, model, phase, wbits, abits, regularizer, quantizer, "
        "test_acc FROM runs WHERE "
        "status = 'done' AND test_acc IS NOT NULL AND (?1 IS NULL OR sweep = ?1)) "
        "GROUP BY model, phase, wbits, abits, regularizer, quantizer "
        "ORDER BY MIN(arch), MIN(COALESCE(block, '')), MIN(residual), MIN(depth), "
        "MIN(width), model, wbits = 32 AND abits = 32 DESC, abits DESC, wbits DESC, "
        "quantizer = 'lsq+', regularizer, "
        "CASE phase WHEN 'float' THEN 0 WHEN 'retrain' THEN 1 ELSE 2 END";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    char cols[PIVOT_MAXCOL][40];
    int ncol = 0, nrow = 0, cap = 0, rc = QS_OK, s;
    struct prow {
        char model[64];
        cell c[PIVOT_MAXCOL];
    } *r = NULL;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(st, 0);
        char lab[40];
        pivot_label(lab, sizeof lab, (const char *)sqlite3_column_text(st, 1),
                    sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
                    (const char *)sqlite3_column_text(st, 4),
                    (const char *)sqlite3_column_text(st, 8));
        int k = 0;
        while (k < ncol && strcmp(cols[k], lab))
            k++;
        if (k == ncol) {
            if (ncol == PIVOT_MAXCOL)
                continue; /* said below */
            snprintf(cols[ncol++], sizeof cols[0], "%s", lab);
        }
        if (!nrow || strcmp(r[nrow - 1].model, model)) {
            if (nrow == cap) {
                cap = cap ? 2 * cap : 16;
                struct prow *g = realloc(r, sizeof *r * cap);
                if (!g) {
                    rc = qs_err(QS_ENOMEM, "out of memory");
                    break;
                }
                r = g;
            }
            memset(&r[nrow], 0, sizeof *r);
            snprintf(r[nrow++].model, sizeof r->model, "%s", model);
        }
        r[nrow - 1].c[k] = make_cell(sqlite3_column_double(st, 5),
                                     sqlite3_column_double(st, 6), sqlite3_column_int(st, 7));
    }
    if (rc == QS_OK && s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    if (rc != QS_OK) {
        free(r);
        return rc;
    }
    const char *sep = fmt == QS_FMT_CSV ? "," : fmt == QS_FMT_MD ? " | " : "  ";
    if (fmt == QS_FMT_CSV) {
        printf("model");
        for (int k = 0; k < ncol; k++)
            printf(",%s,%s_std,%s_n", cols[k], cols[k], cols[k]);
        printf("\n");
    } else if (nrow) {
        printf(fmt == QS_FMT_MD ? "| %s" : "%-22s", "model");
        for (int k = 0; k < ncol; k++)
            printf(fmt == QS_FMT_MD ? "%s%s" : "%s%-14s", sep, cols[k]);
        printf(fmt == QS_FMT_MD ? " |\n|---" : "\n");
        for (int k = 0; fmt == QS_FMT_MD && k < ncol; k++)
            printf("|---:");
        if (fmt == QS_FMT_MD)
            printf("|\n");
    }
    for (int i = 0; i < nrow; i++) {
        printf(fmt == QS_FMT_MD ? "| %s" : fmt == QS_FMT_CSV ? "%s" : "%-22s", r[i].model);
        for (int k = 0; k < ncol; k++) {
            cell c = r[i].c[k];
            char b[64];
            if (fmt == QS_FMT_CSV) {
                if (c.n > 1)
                    printf(",%.2f,%.2f,%d", c.mean, c.std, c.n);
                else if (c.n)
                    printf(",%.2f,,%d", c.mean, c.n); /* one seed: no std */
                else
                    printf(",,,0");
                continue;
            }
            fmt_cell(b, sizeof b, c);
            if (c.n)
                snprintf(b + strlen(b), sizeof b - strlen(b), " (%d)", c.n);
            printf(fmt == QS_FMT_MD ? "%s%s" : "%s%-14s", sep, b);
        }
        printf(fmt == QS_FMT_MD ? " |\n" : "\n");
    }
    if (fmt != QS_FMT_CSV) {
        if (!nrow)
            printf("(no done phase%s%s)\n", sweep ? " in sweep " : "", sweep ? sweep : "");
        else
            printf("test accuracy %%, mean±std over seeds (number of seeds)%s\n",
                   ncol == PIVOT_MAXCOL ? "; more bit settings than columns, some left out" : "");
    }
    free(r);
    /* A ResNet sweep of Table 5's design: its claims too. */
    return nrow ? qs_report_claims_if_any(db, sweep, dataset, fmt) : QS_OK;
}

static void usage(void)
{
    fprintf(stderr, "usage: qsweep report table5|table4 [--db results.db] [--sweep NAME] "
                    "[--dataset cifar10] [--format text|markdown|csv]\n"
                    "       qsweep report best --budget 1e6 --bits w2a2 [--db results.db] "
                    "[--sweep NAME] [--tolerance 0.25]\n"
                    "                         [--quantizer hwang-pact|lsq+]\n"
                    "       qsweep report pivot [--db results.db] [--sweep NAME] "
                    "[--dataset cifar10] [--format text|markdown|csv]\n"
                    "table5/table4 without --db print the published table alone; --dataset\n"
                    "picks the runs the tables and claims read (pivot: its claims only).\n");
}

int qs_cmd_report(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : NULL, *dbpath = NULL, *sweep = NULL,
               *bits = "w2a2", *dataset = NULL, *quant = "hwang-pact";
    double budget = 1e6, tol = 0.25;
    int fmt = QS_FMT_TEXT, rc;
    if (!kind || (strcmp(kind, "table5") && strcmp(kind, "table4") && strcmp(kind, "best") &&
                  strcmp(kind, "pivot"))) {
        usage();
        return kind && !strcmp(kind, "--help") ? 0 : 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "qsweep report: %s needs a value\n", f);
            return 2;
        }
        i++;
        if (!strcmp(f, "--db"))
            dbpath = v;
        else if (!strcmp(f, "--sweep"))
            sweep = v;
        else if (!strcmp(f, "--dataset"))
            dataset = v;
        else if (!strcmp(f, "--bits"))
            bits = v;
        else if (!strcmp(f, "--quantizer")) {
            qs_quantizer q;
            if (qs_quantizer_parse(&q, v)) {
                fprintf(stderr, "qsweep report: --quantizer: %s\n", qs_errmsg());
                return 2;
            }
            quant = qs_quantizer_name(q);
        }
        else if (!strcmp(f, "--budget") || !strcmp(f, "--tolerance")) {
            if (qs_parse_num(f[2] == 'b' ? &budget : &tol, f, v, f[2] == 'b' ? 1 : 0,
                             f[2] == 'b' ? 1e12 : 1)) {
                fprintf(stderr, "qsweep report: %s\n", qs_errmsg());
                return 2;
            }
        }
        else if (!strcmp(f, "--format")) {
            if (!strcmp(v, "text"))
                fmt = QS_FMT_TEXT;
            else if (!strcmp(v, "markdown"))
                fmt = QS_FMT_MD;
            else if (!strcmp(v, "csv"))
                fmt = QS_FMT_CSV;
            else {
                fprintf(stderr, "qsweep report: --format \"%s\" (allowed: text, markdown, csv)\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "qsweep report: unknown option \"%s\"\n", f);
            usage();
            return 2;
        }
    }
    if ((!strcmp(kind, "best") || !strcmp(kind, "pivot")) && !dbpath)
        dbpath = "results.db";
    if (!(budget > 0) || !(tol >= 0)) {
        fprintf(stderr, "qsweep report: --budget must be > 0 and --tolerance >= 0\n");
        return 2;
    }
    qs_db db;
    if (dbpath && (rc = qs_db_open(&db, dbpath, 1)) != QS_OK) {
        fprintf(stderr, "qsweep report: %s\n", qs_errmsg());
        return 2;
    }
    if (!strcmp(kind, "pivot"))
        rc = report_pivot(&db, sweep, dataset, fmt);
    else if (!strcmp(kind, "best"))
        rc = report_best(&db, sweep, budget, bits, tol, quant, fmt);
    else
        rc = qs_report_table(dbpath ? &db : NULL, sweep, dataset, fmt, !strcmp(kind, "table4"));
    if (dbpath)
        qs_db_close(&db);
    if (rc) {
        fprintf(stderr, "qsweep report: %s\n", qs_errmsg());
        return qs_exit_status(rc);
    }
    return 0;
}
