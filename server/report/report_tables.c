/* `qsweep report table5|table4`: our cells beside the published ones and
 * the paper's claims evaluated on ours, each with the difference it rests
 * on, the 95 % Welch interval, seeds per side and the verdict. The cells
 * and verdicts come from cells.c / claims.c, the same computation as
 * /api/table5 and /api/table4; this file only prints. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cells.h"
#include "err.h"
#include "report.h"

static void fmt_num(char *buf, size_t n, double v, const char *f)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, f, v);
}

static void fmt_cell(char *buf, size_t n, const qs_cell *c, int fmt)
{
    qs_fmt_stat(buf, n, c->mean, c->std, c->n, fmt);
}

static void print_table(const qs_cells *t, int fmt)
{
    const char *labels[QS_CELLS_MAXCOLS];
    for (int s = 0; s < t->ncols; s++)
        labels[s] = qs_cells_col_label(t, s);
    int ncol = t->ncols;
    if (fmt == QS_FMT_CSV) {
        printf("block,depth,paper_width,our_width,paper_params_m,our_params_m");
        for (int s = 0; s < ncol; s++)
            printf(",%s_paper,%s_ours,%s_std,%s_n,%s_diff", labels[s], labels[s], labels[s],
                   labels[s], labels[s]);
        printf("\n");
    } else if (fmt == QS_FMT_MD) {
        printf("| block | depth | width (paper / ours) | params M (paper / ours) |");
        for (int s = 0; s < ncol; s++)
            printf(" %s paper | %s ours | diff |", labels[s], labels[s]);
        printf("\n|---|---|---|---|");
        for (int s = 0; s < ncol; s++)
            printf("---|---|---|");
        printf("\n");
    } else {
        printf("%-9s %5s %9s %11s", "block", "depth", "width p/o", "params p/o");
        for (int s = 0; s < ncol; s++)
            printf(" | %-6s %6s %12s %6s", labels[s], "paper", "ours", "diff");
        printf("\n");
    }
    for (int i = 0; i < t->n; i++) {
        const qs_cells_row *r = &t->r[i];
        char pw[16], ow[16], pp[16], op[16], w[40], p[40];
        double oparams = NAN;
        for (int s = 0; s < ncol && isnan(oparams); s++)
            oparams = r->ours[s].params / 1e6;
        fmt_num(pw, sizeof pw, r->pwidth ? r->pwidth : NAN, "%.0f");
        fmt_num(ow, sizeof ow, r->owidth ? r->owidth : NAN, "%.0f");
        fmt_num(pp, sizeof pp, r->pparams_m, "%.2f");
        fmt_num(op, sizeof op, oparams, "%.3f");
        snprintf(w, sizeof w, "%s/%s", pw, ow);
        snprintf(p, sizeof p, "%s/%s", pp, op);
        if (fmt == QS_FMT_CSV)
            printf("%s,%d,%s,%s,%s,%s", r->block, r->depth, pw, ow, pp, op);
        else if (fmt == QS_FMT_MD)
            printf("| %s | %d | %s / %s | %s / %s |", r->block, r->depth, pw, ow, pp, op);
        else
            printf("%-9s %5d %9s %11s", r->block, r->depth, w, p);
        for (int s = 0; s < ncol; s++) {
            const qs_cell *o = &r->ours[s];
            char a[32], b[48], c[32], sd[32];
            fmt_num(a, sizeof a, r->paper[s], "%.2f");
            fmt_cell(b, sizeof b, o, fmt);
            fmt_num(c, sizeof c, o->n ? o->mean - r->paper[s] : NAN, "%+.2f");
            if (fmt == QS_FMT_CSV) {
                fmt_num(sd, sizeof sd, o->std, "%.2f"); /* "-" as every missing number here */
                printf(",%s,%s,%s,%d,%s", a, b, sd, o->n, c);
            } else if (fmt == QS_FMT_MD) {
                printf(" %s | %s | %s |", a, b, c);
            } else {
                printf(" | %-6s %6s %12s %6s", "", a, b, c);
            }
        }
        printf("\n");
    }
}

/* ------------------------------------------------------------- claims */

static void fmt_interval(char *buf, size_t n, const qs_welch *w)
{
    if (isnan(w->lo))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "[%+.2f, %+.2f]", w->lo, w->hi);
}

static void print_claims(const qs_claim *c, int nc, int fmt)
{
    if (fmt == QS_FMT_CSV) {
        printf("\nclaim,claim_verdict,comparison,a,b,diff,ci_low,ci_high,df,n_a,n_b,verdict,"
               "paper_diff\n");
        for (int i = 0; i < nc; i++) {
            if (!c[i].ncmp)
                printf("%d,%s,,,,,,,,0,0,%s,\n", c[i].id, qs_verdict_names[c[i].v],
                       qs_verdict_names[QS_V_NODATA]);
            for (int k = 0; k < c[i].ncmp; k++) {
                const qs_cmp *m = &c[i].cmp[k];
                char d[32], lo[32], hi[32], df[32], pd[32];
                fmt_num(d, sizeof d, m->w.diff, "%.4f");
                fmt_num(lo, sizeof lo, m->w.lo, "%.4f");
                fmt_num(hi, sizeof hi, m->w.hi, "%.4f");
                fmt_num(df, sizeof df, m->w.df, "%.2f");
                fmt_num(pd, sizeof pd, m->published, "%.2f");
                printf("%d,%s,%s,%s,%s,%s,%s,%s,%s,%d,%d,%s,%s\n", c[i].id,
                       qs_verdict_names[c[i].v], m->what, m->a, m->b, d, lo, hi, df, m->w.na,
                       m->w.nb, qs_verdict_names[m->w.v], pd);
            }
        }
        return;
    }
    if (fmt == QS_FMT_MD)
        printf("\n| claim | verdict | comparison (a vs b) | a - b | 95%% interval | seeds a/b | "
               "verdict | paper a - b |\n|---|---|---|---|---|---|---|---|\n");
    else
        printf("\nclaims: difference of our means a - b, 95%% Welch interval over seeds, "
               "seeds a/b, verdict; paper = the published difference\n");
    for (int i = 0; i < nc; i++) {
        if (fmt == QS_FMT_MD)
            printf("| %d. %s (%s) | **%s** | %s%s | | | | | |\n", c[i].id, c[i].text, c[i].rule,
                   qs_verdict_names[c[i].v], c[i].ncmp > 1 ? "decided by " : "",
                   c[i].ncmp > 1 ? c[i].cmp[c[i].decisive].what
                                 : c[i].ncmp ? "" : "no rows to compare");
        else
            printf("  %d. %s: %s%s%s%s\n     (%s)\n", c[i].id, c[i].text,
                   qs_verdict_names[c[i].v], c[i].ncmp > 1 ? " (decided by " : "",
                   c[i].ncmp > 1 ? c[i].cmp[c[i].decisive].what : "", c[i].ncmp > 1 ? ")" : "",
                   c[i].rule);
        if (!c[i].ncmp && fmt != QS_FMT_MD)
            printf("     no rows to compare\n");
        for (int k = 0; k < c[i].ncmp; k++) {
            const qs_cmp *m = &c[i].cmp[k];
            char d[32], ci[48], pd[32];
            fmt_num(d, sizeof d, m->w.diff, "%+.2f");
            fmt_interval(ci, sizeof ci, &m->w);
            fmt_num(pd, sizeof pd, m->published, "%+.2f");
            if (fmt == QS_FMT_MD)
                printf("| | | %s | %s | %s | %d/%d | %s | %s |\n", m->what, d, ci, m->w.na,
                       m->w.nb, qs_verdict_names[m->w.v], pd);
            else
                printf("     %-38s %7s %-18s n %d/%d  %-15s paper %s\n", m->what, d, ci, m->w.na,
                       m->w.nb, qs_verdict_names[m->w.v], pd);
        }
    }
}

/* A table with none of our cells says what a cell needs and what the
 * selection has instead (stderr in CSV, which stays one table). */
static void print_no_cells_hint(const qs_report_sel *sel, int table4, const char *dataset)
{
    char ds[512], want[160];
    FILE *f = sel->fmt == QS_FMT_CSV ? stderr : stdout;
    qs_report_datasets(ds, sizeof ds, sel);
    if (table4)
        snprintf(want, sizeof want, "a ResNet %s block of width %d: float, W2A2 retrain, or "
                 "W2A2 CLR after a Lipschitz retrain", qs_paper_table4_block,
                 qs_paper_table4_width);
    else
        snprintf(want, sizeof want, "a ResNet: float, or retrain at W2AF, WFA2 or W2A2 without "
                 "regularizer or CLR");
    fprintf(f, "\nno %s cells of ours: the selection (dataset %s, %s%s) has no done phase of %s"
               ".\n%s\n(sweeps/%s runs the design; --dataset picks another dataset)\n",
            table4 ? "Table 4" : "Table 5", dataset, sel->sweep ? "sweep " : "every sweep",
            sel->sweep ? sel->sweep : "", want, ds[0] ? ds : "it has no done phase at all",
            table4 ? "table4.json" : "table5.json");
}

int qs_report_table(const qs_report_sel *sel, int table4)
{
    qs_cells t;
    qs_claim claims[QS_CLAIMS_MAX];
    qs_db *db = sel->db;
    int fmt = sel->fmt;
    const char *dataset = sel->dataset ? sel->dataset : qs_cells_default_dataset(table4);
    int rc = qs_cells_init(&t, table4);
    if (rc)
        return rc;
    if (db && (rc = qs_cells_load(&t, db->h, db->path, sel->sweep, dataset)) != QS_OK)
        goto cleanup;
    if (fmt != QS_FMT_CSV) {
        printf("%s%s (%s): published%s\n", fmt == QS_FMT_MD ? "### " : "",
               table4 ? "Table 4, basic ResNets, Lipschitz + CLR" : "Table 5, ~1M parameters",
               qs_paper_source, db ? " and ours (mean±std over seeds; diff = ours - paper)" : "");
        if (db)
            printf("%sours: dataset %s%s%s\n", fmt == QS_FMT_MD ? "\n" : "", dataset,
                   sel->sweep ? ", sweep " : ", every sweep", sel->sweep ? sel->sweep : "");
        if (t.ambiguous)
            printf("%s%d (block, depth) pair(s) left out: several widths there and none the "
                   "published one, not one fixed-budget design (select a sweep with --sweep)\n",
                   fmt == QS_FMT_MD ? "\n" : "", t.ambiguous);
        if (fmt == QS_FMT_MD)
            printf("\n");
    }
    print_table(&t, fmt);
    if (db && !qs_cells_matched(&t) && !t.ambiguous)
        print_no_cells_hint(sel, table4, dataset);
    if (!db && fmt != QS_FMT_CSV)
        printf("\n(no database: the claims' comparisons on the published rows, whose single "
               "numbers give a direction, not a verdict)");
    print_claims(claims, qs_claims_eval(claims, &t), fmt);
cleanup:
    qs_cells_free(&t);
    return rc;
}

int qs_report_claims_if_any(const qs_report_sel *sel)
{
    qs_db *db = sel->db;
    int fmt = sel->fmt;
    qs_cells t;
    qs_claim claims[QS_CLAIMS_MAX];
    int rc = qs_cells_init(&t, 0);
    if (rc)
        return rc;
    if ((rc = qs_cells_load(&t, db->h, db->path, sel->sweep, sel->dataset)) != QS_OK) {
        /* The pivot above stands on its own: a selection the cells cannot
         * take (too many phases in one cell) leaves out only the claims. */
        if (rc == QS_EINVAL) {
            printf("\n(claims not evaluated: %s)\n", qs_errmsg());
            rc = QS_OK;
        }
        goto cleanup;
    }
    int nc = qs_claims_eval(claims, &t), any = 0;
    for (int i = 0; i < nc; i++)
        any |= claims[i].ncmp > 0;
    if (any) {
        if (fmt != QS_FMT_CSV)
            printf("\nTable 5's claims on the ResNet cells of this selection "
                   "(qsweep report table5 shows the cells):");
        print_claims(claims, nc, fmt);
    }
cleanup:
    qs_cells_free(&t);
    return rc;
}
