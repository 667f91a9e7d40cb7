/* /api/table5 and /api/table4: our means beside the published numbers
 * (paper.c), with the difference ours - published; null where we have no
 * done run of that cell (the dashboard shows "-"). */
#include <math.h>
#include <string.h>

#include "api.h"
#include "api_json.h"
#include "paper.h"

typedef struct {
    int n;
    double mean, std; /* std NAN for one seed */
    double params;
} cell;

static void cell_read(cell *c, sqlite3_stmt *st, int col)
{
    c->n = sqlite3_column_int(st, col);
    c->mean = sqlite3_column_double(st, col + 1);
    double sumsq = sqlite3_column_double(st, col + 2);
    c->params = sqlite3_column_double(st, col + 3);
    if (c->n > 1) {
        double var = (sumsq - c->n * c->mean * c->mean) / (c->n - 1);
        c->std = sqrt(var > 0 ? var : 0);
    } else {
        c->std = NAN;
    }
}

static void cell_write(qs_jw *w, const char *key, const cell *c)
{
    if (c->n == 0) {
        qs_jw_null(w, key);
        return;
    }
    qs_jw_obj(w, key);
    qs_jw_num(w, "mean", c->mean);
    qs_jw_num(w, "std", c->std); /* NAN -> null */
    qs_jw_int(w, "n", c->n);
    qs_jw_num(w, "params", c->params);
    qs_jw_end_obj(w);
}

/* Done phases of the Table 5 protocol (no regularizer, no CLR), one row
 * per distinct phase, grouped per cell. */
static const char t5_sql[] =
    "SELECT block, depth, width, wbits, abits, count(*), avg(test_acc), total(test_acc * test_acc),"
    " avg(params) FROM (SELECT DISTINCT phase_id, block, depth, width, wbits, abits, test_acc, params"
    "  FROM {RUNS} WHERE status = 'done' AND test_acc IS NOT NULL AND arch = 'resnet'"
    "  AND (?1 IS NULL OR sweep = ?1) AND dataset = ?2"
    "  AND regularizer = 'none' AND clr = 0 AND phase IN ('float', 'retrain'))"
    " GROUP BY block, depth, width, wbits, abits";

static int table_params(qs_api_req *r, sqlite3_stmt *st, const char *def_dataset,
                        const char **dataset)
{
    const char *sweep;
    int rc = qs_api_str(r, "sweep", &sweep);
    if (!rc)
        rc = qs_api_str(r, "dataset", dataset);
    if (rc)
        return rc;
    if (!*dataset)
        *dataset = def_dataset;
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, *dataset, -1, SQLITE_STATIC);
    return QS_OK;
}

int qs_api_table5(qs_api_req *r)
{
    enum { MAXROWS = 64 };
    cell ours[MAXROWS][QS_PAPER_NSETTINGS];
    sqlite3_stmt *st = NULL;
    const char *dataset;
    memset(ours, 0, sizeof ours);
    int rc = qs_api_prepare_src(r, t5_sql, &st);
    if (rc)
        goto cleanup;
    rc = table_params(r, st, qs_paper_table5_dataset, &dataset);
    if (rc)
        goto cleanup;
    int s;
    while ((s = qs_api_step(st)) == SQLITE_ROW) {
        const char *block = (const char *)sqlite3_column_text(st, 0);
        int depth = sqlite3_column_int(st, 1), width = sqlite3_column_int(st, 2);
        int wb = sqlite3_column_int(st, 3), ab = sqlite3_column_int(st, 4);
        int set = -1, row = -1;
        for (int k = 0; k < QS_PAPER_NSETTINGS; k++)
            if (qs_paper_settings[k].wbits == wb && qs_paper_settings[k].abits == ab)
                set = k;
        for (int i = 0; block && i < qs_paper_table5_rows && i < MAXROWS; i++)
            if (!strcmp(qs_paper_table5[i].block, block) && qs_paper_table5[i].depth == depth &&
                qs_paper_table5[i].width == width)
                row = i;
        if (set >= 0 && row >= 0)
            cell_read(&ours[row][set], st, 5);
    }
    if (s != SQLITE_DONE) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_str(&w, "source", qs_paper_source);
    qs_jw_str(&w, "table", "Table 5: 1M-parameter architecture selection");
    qs_jw_str(&w, "dataset", dataset);
    qs_jw_arr(&w, "settings");
    for (int k = 0; k < QS_PAPER_NSETTINGS; k++) {
        qs_jw_obj(&w, NULL);
        qs_jw_str(&w, "key", qs_paper_settings[k].key);
        qs_jw_str(&w, "label", qs_paper_settings[k].label);
        qs_jw_int(&w, "wbits", qs_paper_settings[k].wbits);
        qs_jw_int(&w, "abits", qs_paper_settings[k].abits);
        qs_jw_end_obj(&w);
    }
    qs_jw_end_arr(&w);
    int matched = 0;
    qs_jw_arr(&w, "rows");
    for (int i = 0; i < qs_paper_table5_rows && i < MAXROWS; i++) {
        const qs_paper_t5_row *p = &qs_paper_table5[i];
        qs_jw_obj(&w, NULL);
        qs_jw_str(&w, "block", p->block);
        qs_jw_int(&w, "depth", p->depth);
        qs_jw_int(&w, "width", p->width);
        qs_jw_num(&w, "params_m", p->params_m);
        qs_jw_obj(&w, "published");
        for (int k = 0; k < QS_PAPER_NSETTINGS; k++)
            qs_jw_num(&w, qs_paper_settings[k].key, p->acc[k]);
        qs_jw_end_obj(&w);
        qs_jw_obj(&w, "ours");
        for (int k = 0; k < QS_PAPER_NSETTINGS; k++) {
            cell_write(&w, qs_paper_settings[k].key, &ours[i][k]);
            matched += ours[i][k].n > 0;
        }
        qs_jw_end_obj(&w);
        qs_jw_obj(&w, "diff");
        for (int k = 0; k < QS_PAPER_NSETTINGS; k++)
            qs_jw_num(&w, qs_paper_settings[k].key,
                      ours[i][k].n ? ours[i][k].mean - p->acc[k] : NAN);
        qs_jw_end_obj(&w);
        qs_jw_end_obj(&w);
    }
    qs_jw_end_arr(&w);
    qs_jw_int(&w, "cells_matched", matched);
    qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* Table 4's three columns: the float model, W2A2 retrained plainly, and
 * W2A2 with the Lipschitz regularizer followed by CLR fine-tuning. */
static const char t4_sql[] =
    "SELECT depth, col, count(*), avg(test_acc), total(test_acc * test_acc), avg(params)"
    " FROM (SELECT DISTINCT phase_id, depth, test_acc, params,"
    "  CASE WHEN phase = 'float' THEN 0"
    "   WHEN phase = 'retrain' AND regularizer = 'none' AND wbits = 2 AND abits = 2 THEN 1"
    "   WHEN phase = 'clr' AND regularizer = 'lipschitz' AND wbits = 2 AND abits = 2 THEN 2"
    "   ELSE -1 END AS col"
    "  FROM {RUNS} WHERE status = 'done' AND test_acc IS NOT NULL AND arch = 'resnet'"
    "  AND (?1 IS NULL OR sweep = ?1) AND dataset = ?2 AND block = ?3 AND width = ?4)"
    " WHERE col >= 0 GROUP BY depth, col";

int qs_api_table4(qs_api_req *r)
{
    enum { MAXROWS = 16 };
    cell ours[MAXROWS][QS_PAPER_T4_NCOLS];
    sqlite3_stmt *st = NULL;
    const char *dataset;
    memset(ours, 0, sizeof ours);
    int rc = qs_api_prepare_src(r, t4_sql, &st);
    if (rc)
        goto cleanup;
    rc = table_params(r, st, qs_paper_table4_dataset, &dataset);
    if (rc)
        goto cleanup;
    sqlite3_bind_text(st, 3, qs_paper_table4_block, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, qs_paper_table4_width);
    int s;
    while ((s = qs_api_step(st)) == SQLITE_ROW) {
        int depth = sqlite3_column_int(st, 0), col = sqlite3_column_int(st, 1);
        for (int i = 0; i < qs_paper_table4_rows && i < MAXROWS; i++)
            if (qs_paper_table4[i].depth == depth && col >= 0 && col < QS_PAPER_T4_NCOLS)
                cell_read(&ours[i][col], st, 2);
    }
    if (s != SQLITE_DONE) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_str(&w, "source", qs_paper_source);
    qs_jw_str(&w, "table", "Table 4: ResNet depth with the Lipschitz regularizer and CLR");
    qs_jw_str(&w, "dataset", dataset);
    qs_jw_str(&w, "block", qs_paper_table4_block);
    qs_jw_int(&w, "width", qs_paper_table4_width);
    qs_jw_str(&w, "settings", qs_paper_table4_settings);
    qs_jw_arr(&w, "columns");
    for (int k = 0; k < QS_PAPER_T4_NCOLS; k++)
        qs_jw_str(&w, NULL, qs_paper_table4_columns[k]);
    qs_jw_end_arr(&w);
    int matched = 0;
    qs_jw_arr(&w, "rows");
    for (int i = 0; i < qs_paper_table4_rows && i < MAXROWS; i++) {
        const qs_paper_t4_row *p = &qs_paper_table4[i];
        qs_jw_obj(&w, NULL);
        qs_jw_int(&w, "depth", p->depth);
        qs_jw_obj(&w, "published");
        for (int k = 0; k < QS_PAPER_T4_NCOLS; k++)
            qs_jw_num(&w, qs_paper_table4_columns[k], p->acc[k]);
        qs_jw_end_obj(&w);
        qs_jw_obj(&w, "ours");
        for (int k = 0; k < QS_PAPER_T4_NCOLS; k++) {
            cell_write(&w, qs_paper_table4_columns[k], &ours[i][k]);
            matched += ours[i][k].n > 0;
        }
        qs_jw_end_obj(&w);
        qs_jw_obj(&w, "diff");
        for (int k = 0; k < QS_PAPER_T4_NCOLS; k++)
            qs_jw_num(&w, qs_paper_table4_columns[k],
                      ours[i][k].n ? ours[i][k].mean - p->acc[k] : NAN);
        qs_jw_end_obj(&w);
        qs_jw_end_obj(&w);
    }
    qs_jw_end_arr(&w);
    qs_jw_int(&w, "cells_matched", matched);
    qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    return rc;
}
