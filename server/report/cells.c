/* Table 5 / Table 4 cells from the results database (cells.h). A cell is
 * every done phase of one (block, depth, width, column): float = the float
 * phase; W2AF / WFA2 / W2A2 = the retrain phase at those bits without
 * regularizer or CLR; Table 4's last column = the CLR phase after a
 * Lipschitz retrain. A phase shared by several sweeps counts once. Only
 * the paper's quantizer (Hwang-PACT) fills a cell: the published numbers
 * are of it, and an lsq+ phase of the same model is another experiment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "err.h"

struct qs_cells_cand {
    char block[16];
    int depth, width;
    qs_cell c[QS_CELLS_MAXCOLS];
};

/* Columns: phase_id, block, depth, width, params, seed, test_acc, col. */
const char qs_cells_t5_sql[] =
    "SELECT DISTINCT phase_id, COALESCE(block, ''), depth, width, params, seed, test_acc,"
    " CASE WHEN phase = 'float' THEN 0"
    "  WHEN wbits = 2 AND abits = 32 THEN 1 WHEN wbits = 32 AND abits = 2 THEN 2"
    "  WHEN wbits = 2 AND abits = 2 THEN 3 ELSE -1 END"
    " FROM {RUNS} WHERE status = 'done' AND test_acc IS NOT NULL AND arch = 'resnet'"
    " AND (?1 IS NULL OR sweep = ?1) AND dataset = ?2"
    " AND regularizer = 'none' AND clr = 0 AND phase IN ('float', 'retrain')"
    " AND quantizer IN ('none', 'hwang-pact')"
    " ORDER BY 2, 3, 4, 6, 1";

/* Table 4 is a fixed-width design (width multiplier 1): block and width
 * are the published ones (?3, ?4), depth varies. */
const char qs_cells_t4_sql[] =
    "SELECT DISTINCT phase_id, block, depth, width, params, seed, test_acc,"
    " CASE WHEN phase = 'float' THEN 0"
    "  WHEN phase = 'retrain' AND regularizer = 'none' AND wbits = 2 AND abits = 2 THEN 1"
    "  WHEN phase = 'clr' AND regularizer = 'lipschitz' AND wbits = 2 AND abits = 2 THEN 2"
    "  ELSE -1 END"
    " FROM {RUNS} WHERE status = 'done' AND test_acc IS NOT NULL AND arch = 'resnet'"
    " AND (?1 IS NULL OR sweep = ?1) AND dataset = ?2 AND block = ?3 AND width = ?4"
    " AND quantizer IN ('none', 'hwang-pact')"
    " ORDER BY 2, 3, 4, 6, 1";

static int block_rank(const char *b)
{
    return !strcmp(b, "basic") ? 0 : !strcmp(b, "preact") ? 1 : !strcmp(b, "depthwise") ? 2 : 3;
}

static int cmp_row(const void *a, const void *b)
{
    const qs_cells_row *x = a, *y = b;
    int d = block_rank(x->block) - block_rank(y->block);
    if (!d)
        d = strcmp(x->block, y->block);
    return d ? d : x->depth - y->depth;
}

static qs_cells_row *find_row(qs_cells *t, const char *block, int depth, int add)
{
    for (int i = 0; i < t->n; i++)
        if (t->r[i].depth == depth && !strcmp(t->r[i].block, block))
            return &t->r[i];
    if (!add)
        return NULL;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        qs_cells_row *nr = realloc(t->r, (size_t)cap * sizeof *nr);
        if (!nr)
            return NULL;
        t->r = nr;
        t->cap = cap;
    }
    qs_cells_row *r = &t->r[t->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->block, sizeof r->block, "%s", block);
    r->depth = depth;
    r->pparams_m = NAN;
    for (int s = 0; s < QS_CELLS_MAXCOLS; s++) {
        r->paper[s] = NAN;
        r->ours[s].mean = r->ours[s].std = r->ours[s].params = NAN;
    }
    return r;
}

int qs_cells_init(qs_cells *t, int table4)
{
    memset(t, 0, sizeof *t);
    t->table4 = table4;
    t->ncols = table4 ? QS_PAPER_T4_NCOLS : QS_PAPER_NSETTINGS;
    int nrows = table4 ? qs_paper_table4_rows : qs_paper_table5_rows;
    for (int i = 0; i < nrows; i++) {
        const char *block = table4 ? qs_paper_table4_block : qs_paper_table5[i].block;
        int depth = table4 ? qs_paper_table4[i].depth : qs_paper_table5[i].depth;
        qs_cells_row *r = find_row(t, block, depth, 1);
        if (!r) {
            qs_cells_free(t);
            return qs_err(QS_ENOMEM, "out of memory");
        }
        r->pwidth = table4 ? qs_paper_table4_width : qs_paper_table5[i].width;
        r->pparams_m = table4 ? NAN : qs_paper_table5[i].params_m;
        for (int s = 0; s < t->ncols; s++)
            r->paper[s] = table4 ? qs_paper_table4[i].acc[s] : qs_paper_table5[i].acc[s];
    }
    return QS_OK;
}

void qs_cells_free(qs_cells *t)
{
    free(t->r);
    free(t->cand);
    t->r = NULL;
    t->cand = NULL;
    t->n = t->cap = t->ncand = t->candcap = 0;
}

const char *qs_cells_default_dataset(int table4)
{
    return table4 ? qs_paper_table4_dataset : qs_paper_table5_dataset;
}

const char *qs_cells_col_label(const qs_cells *t, int s)
{
    static const char *const t4[QS_PAPER_T4_NCOLS] = {"float", "W2A2", "W2A2+lip+clr"};
    return t->table4 ? t4[s] : qs_paper_settings[s].label;
}

static void bind(sqlite3_stmt *st, int table4, const char *sweep, const char *dataset)
{
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, dataset ? dataset : qs_cells_default_dataset(table4), -1,
                      SQLITE_STATIC);
    if (table4) {
        sqlite3_bind_text(st, 3, qs_paper_table4_block, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, qs_paper_table4_width);
    }
}

static int add(qs_cells *t, sqlite3_stmt *st)
{
    const char *block = (const char *)sqlite3_column_text(st, 1);
    int depth = sqlite3_column_int(st, 2), width = sqlite3_column_int(st, 3);
    int col = sqlite3_column_int(st, 7);
    if (!block || col < 0 || col >= t->ncols)
        return QS_OK;
    struct qs_cells_cand *c = NULL;
    /* Rows arrive ordered by block, depth, width: the last one or a new one. */
    if (t->ncand) {
        c = &t->cand[t->ncand - 1];
        if (c->depth != depth || c->width != width || strcmp(c->block, block))
            c = NULL;
    }
    if (!c) {
        if (t->ncand == t->candcap) {
            int cap = t->candcap ? 2 * t->candcap : 32;
            struct qs_cells_cand *nc = realloc(t->cand, (size_t)cap * sizeof *nc);
            if (!nc)
                return qs_err(QS_ENOMEM, "out of memory");
            t->cand = nc;
            t->candcap = cap;
        }
        c = &t->cand[t->ncand++];
        memset(c, 0, sizeof *c);
        snprintf(c->block, sizeof c->block, "%s", block);
        c->depth = depth;
        c->width = width;
    }
    qs_cell *cell = &c->c[col];
    if (cell->n == QS_CELL_MAXVALS)
        return qs_err(QS_EINVAL,
                      "resnet-%s-%d-%d: more than %d done phases in one cell (select one sweep)",
                      block, depth, width, QS_CELL_MAXVALS);
    cell->v[cell->n] = sqlite3_column_double(st, 6);
    cell->seed[cell->n] = sqlite3_column_int64(st, 5);
    cell->params += sqlite3_column_double(st, 4); /* a sum until finish() */
    cell->n++;
    return QS_OK;
}

/* The width that stands for (block, depth): the published one when we
 * ran it, else the only width we ran there (a reduced-budget design
 * such as sweeps/table5-small.json); several widths and none published
 * is no fixed-budget design (a width sweep): left out, counted. */
static int finish(qs_cells *t)
{
    t->have_ours = 1;
    for (int i = 0; i < t->ncand;) {
        int j = i;
        while (j < t->ncand && t->cand[j].depth == t->cand[i].depth &&
               !strcmp(t->cand[j].block, t->cand[i].block))
            j++;
        qs_cells_row *r = find_row(t, t->cand[i].block, t->cand[i].depth, 0);
        int pick = -1;
        for (int k = i; k < j; k++)
            if (r && r->pwidth == t->cand[k].width)
                pick = k;
        if (pick < 0 && j - i == 1)
            pick = i;
        if (pick < 0)
            t->ambiguous++;
        else {
            if (!r && !(r = find_row(t, t->cand[i].block, t->cand[i].depth, 1)))
                return qs_err(QS_ENOMEM, "out of memory");
            r->owidth = t->cand[pick].width;
            r->nwidths = j - i;
            for (int s = 0; s < t->ncols; s++) {
                qs_cell *c = &r->ours[s];
                *c = t->cand[pick].c[s];
                if (c->n) {
                    qs_mean_std(&c->mean, &c->std, c->v, c->n);
                    c->params /= c->n;
                } else {
                    c->mean = c->std = c->params = NAN;
                }
            }
        }
        i = j;
    }
    free(t->cand);
    t->cand = NULL;
    t->ncand = t->candcap = 0;
    qsort(t->r, (size_t)t->n, sizeof *t->r, cmp_row);
    return QS_OK;
}

int qs_cells_read(qs_cells *t, sqlite3_stmt *st, const char *sweep, const char *dataset,
                  int read_err, const char *what)
{
    int rc, s;
    bind(st, t->table4, sweep, dataset);
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = add(t, st)) != QS_OK)
            return rc;
    if (s != SQLITE_DONE)
        return qs_err(read_err, "%s: %s", what, sqlite3_errmsg(sqlite3_db_handle(st)));
    return finish(t);
}

int qs_cells_load(qs_cells *t, sqlite3 *db, const char *dbpath, const char *sweep,
                  const char *dataset)
{
    const char *tmpl = t->table4 ? qs_cells_t4_sql : qs_cells_t5_sql;
    const char *at = strstr(tmpl, "{RUNS}");
    char sql[2048];
    sqlite3_stmt *st = NULL;
    int rc;
    snprintf(sql, sizeof sql, "%.*sruns%s", (int)(at - tmpl), tmpl, at + 6);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        rc = qs_err(QS_EIO, "%s: %s", dbpath, sqlite3_errmsg(db));
    else
        rc = qs_cells_read(t, st, sweep, dataset, QS_EIO, dbpath);
    sqlite3_finalize(st);
    return rc;
}

int qs_cells_matched(const qs_cells *t)
{
    int m = 0;
    for (int i = 0; i < t->n; i++)
        for (int s = 0; s < t->ncols; s++)
            m += t->r[i].ours[s].n > 0;
    return m;
}
