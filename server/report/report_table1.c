/* `qsweep report table1`: the paper's Table 1 (ImageNet ResNets, float vs
 * W2A2) beside ours: float and W2A2 accuracy over seeds, and the drop
 * float - W2A2 with its 95 % Welch interval (stats.c). A paper row is
 * matched to our imagenet-resnet models of its depth and stage table; rows
 * that share both (the two ResNet-50s) are matched in width order, so a
 * sweep at other widths (sweeps/table1-tiny.json) still lines up. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "paper.h"
#include "report.h"
#include "stats.h"

#define T1_MAX_MODELS 256
#define T1_MAX_SEEDS 64

typedef struct {
    char name[96];
    int depth, width, blocks[4];
    double params;
    double acc[2][T1_MAX_SEEDS]; /* [0] float, [1] W2A2 */
    int n[2];
    int used;                    /* matched to a paper row */
} t1_model;

/* The stage table from the model's name ("...-3.4.5.2"). */
static int name_blocks(int *b, const char *name)
{
    const char *p = strrchr(name, '-');
    return p && sscanf(p + 1, "%d.%d.%d.%d", &b[0], &b[1], &b[2], &b[3]) == 4;
}

static int read_models(t1_model *m, int *nm, const qs_report_sel *sel, const char *dataset)
{
    sqlite3_stmt *st;
    qs_db *db = sel->db;
    const char *sql =
        "SELECT DISTINCT phase_id, model, depth, width, params, wbits, test_acc FROM runs "
        "WHERE status = 'done' AND test_acc IS NOT NULL AND arch = 'imagenet-resnet' "
        "AND regularizer = 'none' AND quantizer IN ('none', 'hwang-pact') "
        "AND phase IN ('float', 'retrain') AND ((wbits = 32 AND abits = 32) OR "
        "(wbits = 2 AND abits = 2)) AND (?1 IS NULL OR sweep = ?1) AND dataset = ?2 "
        "ORDER BY depth, width, model, phase_id";
    int s, rc = QS_OK;
    *nm = 0;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (sel->sweep)
        sqlite3_bind_text(st, 1, sel->sweep, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, dataset, -1, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        int k = 0;
        while (k < *nm && strcmp(m[k].name, name))
            k++;
        if (k == *nm) {
            if (*nm == T1_MAX_MODELS)
                continue; /* more models than Table 1 could use */
            memset(&m[k], 0, sizeof m[k]);
            snprintf(m[k].name, sizeof m[k].name, "%s", name);
            if (!name_blocks(m[k].blocks, name))
                continue;
            m[k].depth = sqlite3_column_int(st, 2);
            m[k].width = sqlite3_column_int(st, 3);
            m[k].params = sqlite3_column_double(st, 4);
            (*nm)++;
        }
        int q = sqlite3_column_int(st, 5) == 2;
        if (m[k].n[q] < T1_MAX_SEEDS)
            m[k].acc[q][m[k].n[q]++] = sqlite3_column_double(st, 6);
    }
    if (s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    return rc;
}

/* Our model for paper row i: same depth and stage table, the same rank in
 * width among the paper rows and ours that share them. */
static t1_model *match(t1_model *m, int nm, int i)
{
    const qs_paper_t1_row *r = &qs_paper_table1[i];
    int rank = 0;
    for (int j = 0; j < qs_paper_table1_rows; j++) {
        const qs_paper_t1_row *o = &qs_paper_table1[j];
        if (o->depth == r->depth && !memcmp(o->blocks, r->blocks, sizeof r->blocks) &&
            o->width < r->width)
            rank++;
    }
    for (int k = 0; k < nm; k++) /* m is in width order within a depth */
        if (m[k].depth == r->depth && !memcmp(m[k].blocks, r->blocks, sizeof r->blocks) &&
            rank-- == 0)
            return &m[k];
    return NULL;
}

static void fmt_num(char *buf, size_t n, double v, const char *f)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, f, v);
}

static void print_row(const qs_paper_t1_row *r, const t1_model *o, int fmt)
{
    char ow[16], op[16], cell[2][48], sd[2][32], drop[16], lo[16], hi[16], ci[48], pb[16];
    double mean[2] = {NAN, NAN}, std[2] = {NAN, NAN};
    int n[2] = {0, 0};
    qs_welch w;
    memset(&w, 0, sizeof w);
    w.diff = w.lo = w.hi = NAN;
    if (o) {
        for (int q = 0; q < 2; q++) {
            n[q] = o->n[q];
            qs_mean_std(&mean[q], &std[q], o->acc[q], o->n[q]);
        }
        qs_welch_interval(&w, o->acc[0], o->n[0], o->acc[1], o->n[1], 0.95);
    }
    fmt_num(ow, sizeof ow, o ? o->width : NAN, "%.0f");
    fmt_num(op, sizeof op, o ? o->params / 1e6 : NAN, "%.3f");
    for (int q = 0; q < 2; q++) {
        qs_fmt_stat(cell[q], sizeof cell[q], mean[q], std[q], n[q], fmt);
        qs_fmt_std_csv(sd[q], sizeof sd[q], std[q], n[q]);
    }
    fmt_num(drop, sizeof drop, w.diff, fmt == QS_FMT_CSV ? "%.2f" : "%+.2f");
    fmt_num(lo, sizeof lo, w.lo, "%.2f");
    fmt_num(hi, sizeof hi, w.hi, "%.2f");
    if (isnan(w.lo))
        snprintf(ci, sizeof ci, "-");
    else
        snprintf(ci, sizeof ci, "[%s, %s]", lo, hi);
    snprintf(pb, sizeof pb, "%d.%d.%d.%d", r->blocks[0], r->blocks[1], r->blocks[2], r->blocks[3]);
    if (fmt == QS_FMT_CSV)
        printf("%s,%d,%s,%d,%s,%.1f,%s,%.1f,%s,%s,%d,%.1f,%s,%s,%d,%.1f,%s,%s,%s\n", r->model,
               r->depth, pb, r->width, ow, r->params_m, op, r->acc_float,
               n[0] ? cell[0] : "", sd[0], n[0], r->acc_w2a2, n[1] ? cell[1] : "", sd[1], n[1],
               r->diff, isnan(w.diff) ? "" : drop, isnan(w.lo) ? "" : lo, isnan(w.hi) ? "" : hi);
    else if (fmt == QS_FMT_MD)
        printf("| %s | %d | %s | %d / %s | %.1f / %s | %.1f | %s | %.1f | %s | %.1f | %s | %s |"
               " %d / %d |\n", r->model, r->depth, pb, r->width, ow, r->params_m, op,
               r->acc_float, cell[0], r->acc_w2a2, cell[1], r->diff, drop, ci, n[0], n[1]);
    else
        printf("%-9s %5d %-8s %3d/%-4s %4.1f/%-7s | %5.1f %12s | %5.1f %12s | %5.1f %7s %-16s"
               " %d/%d\n", r->model, r->depth, pb, r->width, ow, r->params_m, op, r->acc_float,
               cell[0], r->acc_w2a2, cell[1], r->diff, drop, ci, n[0], n[1]);
}

int qs_report_table1(const qs_report_sel *sel)
{
    const char *ds = sel->dataset ? sel->dataset : qs_paper_table1_dataset;
    t1_model *m = NULL;
    int nm = 0, found = 0, rc = QS_OK, fmt = sel->fmt;
    if (sel->db) {
        if (!(m = malloc(T1_MAX_MODELS * sizeof *m)))
            return qs_err(QS_ENOMEM, "out of memory");
        if ((rc = read_models(m, &nm, sel, ds)))
            goto cleanup;
    }
    if (fmt == QS_FMT_CSV) {
        printf("model,depth,blocks,paper_width,our_width,paper_params_m,our_params_m,"
               "float_paper,float_ours,float_std,float_n,w2a2_paper,w2a2_ours,w2a2_std,w2a2_n,"
               "drop_paper,drop_ours,drop_lo,drop_hi\n");
    } else {
        printf("Table 1: ImageNet ResNets, float vs W2A2 top-1 %% (paper: %s)%s%s\n",
               qs_paper_source, sel->db ? "; ours on " : "", sel->db ? ds : "");
        if (fmt == QS_FMT_MD)
            printf("\n| model | depth | blocks | width (paper / ours) | params M (paper / ours) |"
                   " float paper | float ours | W2A2 paper | W2A2 ours | drop paper | drop ours |"
                   " drop 95 %% | seeds (float / W2A2) |\n"
                   "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|---|\n");
        else
            printf("%-9s %5s %-8s %8s %12s | %5s %12s | %5s %12s | %5s %7s %-16s %s\n",
                   "model", "depth", "blocks", "width p/o", "params p/o", "float", "ours",
                   "W2A2", "ours", "drop", "ours", "drop 95%", "seeds");
    }
    for (int i = 0; i < qs_paper_table1_rows; i++) {
        t1_model *o = sel->db ? match(m, nm, i) : NULL;
        found += o != NULL;
        print_row(&qs_paper_table1[i], o, fmt);
    }
    if (sel->db && !found && fmt != QS_FMT_CSV) {
        char have[512];
        qs_report_datasets(have, sizeof have, sel);
        printf("  (no done imagenet-resnet float or W2A2 phase on %s%s%s)\n", ds,
               have[0] ? "; " : "", have);
    }
cleanup:
    free(m);
    return rc;
}
