/* /api/table5 and /api/table4: our cells beside the published numbers,
 * the difference ours - published (null where we have no done run; the
 * dashboard shows "-"), and the paper's claims with the difference each
 * rests on, its 95 % Welch interval and the verdict. The cells and the
 * verdicts are cells.c / claims.c, shared with `qsweep report`. */
#include <math.h>
#include <string.h>

#include "api.h"
#include "api_json.h"
#include "cells.h"

static void cell_write(qs_jw *w, const char *key, const qs_cell *c)
{
    if (c->n == 0) {
        qs_jw_null(w, key);
        return;
    }
    qs_jw_obj(w, key);
    qs_jw_num(w, "mean", c->mean);
    qs_jw_num(w, "std", c->std); /* NAN (one seed) -> null */
    qs_jw_int(w, "n", c->n);
    qs_jw_num(w, "params", c->params);
    qs_jw_arr(w, "values");
    for (int i = 0; i < c->n; i++)
        qs_jw_num(w, NULL, c->v[i]);
    qs_jw_end_arr(w);
    qs_jw_arr(w, "seeds");
    for (int i = 0; i < c->n; i++)
        qs_jw_int(w, NULL, c->seed[i]);
    qs_jw_end_arr(w);
    qs_jw_end_obj(w);
}

static void cmp_write(qs_jw *w, const qs_cmp *m)
{
    qs_jw_str(w, "what", m->what);
    qs_jw_str(w, "a", m->a);
    qs_jw_str(w, "b", m->b);
    qs_jw_num(w, "diff", m->w.diff);
    qs_jw_num(w, "ci_low", m->w.lo);
    qs_jw_num(w, "ci_high", m->w.hi);
    qs_jw_num(w, "df", m->w.df);
    qs_jw_int(w, "n_a", m->w.na);
    qs_jw_int(w, "n_b", m->w.nb);
    qs_jw_str(w, "verdict", qs_verdict_names[m->w.v]);
    qs_jw_num(w, "published_diff", m->published);
}

static void claims_write(qs_jw *w, const qs_cells *t)
{
    qs_claim c[QS_CLAIMS_MAX];
    int n = qs_claims_eval(c, t);
    qs_jw_str(w, "interval", "95% Welch interval over seeds (docs/verdicts.md)");
    qs_jw_arr(w, "claims");
    for (int i = 0; i < n; i++) {
        qs_jw_obj(w, NULL);
        qs_jw_int(w, "id", c[i].id);
        qs_jw_str(w, "text", c[i].text);
        qs_jw_str(w, "rule", c[i].rule);
        qs_jw_str(w, "verdict", qs_verdict_names[c[i].v]);
        /* The comparison the verdict rests on, also at the claim's level. */
        if (c[i].decisive >= 0) {
            qs_jw_int(w, "decisive", c[i].decisive);
            cmp_write(w, &c[i].cmp[c[i].decisive]);
        } else {
            qs_jw_null(w, "decisive");
        }
        qs_jw_arr(w, "comparisons");
        for (int k = 0; k < c[i].ncmp; k++) {
            qs_jw_obj(w, NULL);
            cmp_write(w, &c[i].cmp[k]);
            qs_jw_end_obj(w);
        }
        qs_jw_end_arr(w);
        qs_jw_end_obj(w);
    }
    qs_jw_end_arr(w);
}

/* The cells of one table for the request's sweep and dataset. */
static int load(qs_api_req *r, qs_cells *t, int table4, const char **dataset)
{
    sqlite3_stmt *st = NULL;
    const char *sweep;
    int rc = qs_cells_init(t, table4);
    if (!rc)
        rc = qs_api_str(r, "sweep", &sweep);
    if (!rc)
        rc = qs_api_str(r, "dataset", dataset);
    if (!rc)
        rc = qs_api_prepare_src(r, table4 ? qs_cells_t4_sql : qs_cells_t5_sql, &st);
    if (rc)
        goto cleanup;
    if (!*dataset)
        *dataset = qs_cells_default_dataset(table4);
    rc = qs_cells_read(t, st, sweep, *dataset, QS_EINTERNAL, "database read failed");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* published / ours / diff of one row, keyed by the column names. */
static void row_cells(qs_jw *w, const qs_cells_row *p, int ncols, const char *const *keys)
{
    qs_jw_obj(w, "published");
    for (int k = 0; k < ncols; k++)
        qs_jw_num(w, keys[k], p->paper[k]);
    qs_jw_end_obj(w);
    qs_jw_obj(w, "ours");
    for (int k = 0; k < ncols; k++)
        cell_write(w, keys[k], &p->ours[k]);
    qs_jw_end_obj(w);
    qs_jw_obj(w, "diff");
    for (int k = 0; k < ncols; k++)
        qs_jw_num(w, keys[k], p->ours[k].n ? p->ours[k].mean - p->paper[k] : NAN);
    qs_jw_end_obj(w);
}

int qs_api_table5(qs_api_req *r)
{
    qs_cells t;
    const char *dataset = NULL, *keys[QS_PAPER_NSETTINGS];
    int rc = load(r, &t, 0, &dataset);
    if (rc)
        goto cleanup;
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_str(&w, "source", qs_paper_source);
    qs_jw_str(&w, "table", "Table 5: 1M-parameter architecture selection");
    qs_jw_str(&w, "dataset", dataset);
    qs_jw_arr(&w, "settings");
    for (int k = 0; k < QS_PAPER_NSETTINGS; k++) {
        keys[k] = qs_paper_settings[k].key;
        qs_jw_obj(&w, NULL);
        qs_jw_str(&w, "key", qs_paper_settings[k].key);
        qs_jw_str(&w, "label", qs_paper_settings[k].label);
        qs_jw_int(&w, "wbits", qs_paper_settings[k].wbits);
        qs_jw_int(&w, "abits", qs_paper_settings[k].abits);
        qs_jw_end_obj(&w);
    }
    qs_jw_end_arr(&w);
    qs_jw_arr(&w, "rows");
    for (int i = 0; i < t.n; i++) {
        const qs_cells_row *p = &t.r[i];
        double oparams = NAN;
        for (int k = 0; k < QS_PAPER_NSETTINGS && isnan(oparams); k++)
            oparams = p->ours[k].params / 1e6;
        qs_jw_obj(&w, NULL);
        qs_jw_str(&w, "block", p->block);
        qs_jw_int(&w, "depth", p->depth);
        if (p->pwidth)
            qs_jw_int(&w, "width", p->pwidth);
        else
            qs_jw_null(&w, "width"); /* a depth of ours the paper has not */
        qs_jw_num(&w, "params_m", p->pparams_m);
        if (p->owidth)
            qs_jw_int(&w, "ours_width", p->owidth);
        else
            qs_jw_null(&w, "ours_width");
        qs_jw_num(&w, "ours_params_m", oparams);
        row_cells(&w, p, QS_PAPER_NSETTINGS, keys);
        qs_jw_end_obj(&w);
    }
    qs_jw_end_arr(&w);
    qs_jw_int(&w, "cells_matched", qs_cells_matched(&t));
    qs_jw_int(&w, "rows_left_out", t.ambiguous);
    claims_write(&w, &t);
    qs_jw_end_obj(&w);
cleanup:
    qs_cells_free(&t);
    return rc;
}

int qs_api_table4(qs_api_req *r)
{
    qs_cells t;
    const char *dataset = NULL;
    int rc = load(r, &t, 1, &dataset);
    if (rc)
        goto cleanup;
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
    qs_jw_arr(&w, "rows");
    for (int i = 0; i < t.n; i++) {
        qs_jw_obj(&w, NULL);
        qs_jw_int(&w, "depth", t.r[i].depth);
        row_cells(&w, &t.r[i], QS_PAPER_T4_NCOLS, (const char *const *)qs_paper_table4_columns);
        qs_jw_end_obj(&w);
    }
    qs_jw_end_arr(&w);
    qs_jw_int(&w, "cells_matched", qs_cells_matched(&t));
    claims_write(&w, &t);
    qs_jw_end_obj(&w);
cleanup:
    qs_cells_free(&t);
    return rc;
}
