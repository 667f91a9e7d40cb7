/* /api/pareto: test accuracy against model size (bits of the weights) or
 * BOPs, one point per model and W/A setting (mean over seeds), and the
 * frontier, marked by the rule of `qsweep report pareto` (qs_pareto_mark,
 * per dataset), so the page and the report agree point for point.
 * The selection is the depth and width charts' (qs_api_chart_params). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_json.h"
#include "pareto.h"

/* One row per done run; a phase shared by two sweeps is one run (DISTINCT).
 * ?5 picks the cost column. Ordered by the point's keys, then seed. */
static const char pareto_sql[] =
    "SELECT DISTINCT " QS_API_BLOCK_EXPR " AS block, depth, width, wbits, abits, model,"
    " CASE WHEN ?5 = 'bops' THEN bops ELSE model_bits END AS cost,"
    " test_acc, phase_id, seed, phase, regularizer, clr, dataset, quantizer"
    " FROM runs WHERE status = 'done' AND test_acc IS NOT NULL"
    " AND (?1 IS NULL OR sweep = ?1) AND (?2 IS NULL OR dataset = ?2)"
    " AND (phase = 'float' OR (phase = ?3 AND regularizer = ?4))"
    " AND (CASE WHEN ?5 = 'bops' THEN bops ELSE model_bits END) > 0"
    " ORDER BY dataset, 1, 2, 3, 4 DESC, 5 DESC, quantizer, seed, phase_id";

typedef struct {
    char block[32], model[64], dataset[32], quantizer[32];
    long long depth, width, wbits, abits;
    double cost, sum, sumsq;
    int n, frontier;
    qs_buf runs; /* the point's run objects, comma separated */
} pareto_pt;

typedef struct {
    pareto_pt *v;
    size_t n, cap;
} pareto_set;

static void set_free(pareto_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        qs_buf_free(&s->v[i].runs);
    free(s->v);
}

static double pt_mean(const pareto_pt *p) { return p->sum / p->n; }

/* Cheapest first; at one cost the most accurate first. */
static int by_cost(const void *a, const void *b)
{
    const pareto_pt *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    double mx = pt_mean(x), my = pt_mean(y);
    return mx > my ? -1 : mx < my ? 1 : 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

static int same_point(const pareto_pt *p, sqlite3_stmt *st)
{
    return !strcmp(p->dataset, col_text(st, 13)) && !strcmp(p->block, (const char *)sqlite3_column_text(st, 0)) &&
           p->depth == sqlite3_column_int64(st, 1) && p->width == sqlite3_column_int64(st, 2) &&
           p->wbits == sqlite3_column_int64(st, 3) && p->abits == sqlite3_column_int64(st, 4) &&
           !strcmp(p->quantizer, col_text(st, 14));
}

/* Reads every row into points; QS_ENOMEM / QS_EINTERNAL with a message. */
static int read_points(pareto_set *s, sqlite3_stmt *st)
{
    int step;
    while ((step = qs_api_step(st)) == SQLITE_ROW) {
        pareto_pt *p = s->n ? &s->v[s->n - 1] : NULL;
        if (!p || !same_point(p, st)) {
            if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 64;
                pareto_pt *v = realloc(s->v, cap * sizeof *v);
                if (!v)
                    return qs_err(QS_ENOMEM, "pareto: out of memory for %zu points", cap);
                s->v = v;
                s->cap = cap;
            }
            p = &s->v[s->n++];
            memset(p, 0, sizeof *p);
            qs_buf_init(&p->runs);
            snprintf(p->block, sizeof p->block, "%s", (const char *)sqlite3_column_text(st, 0));
            p->depth = sqlite3_column_int64(st, 1);
            p->width = sqlite3_column_int64(st, 2);
            p->wbits = sqlite3_column_int64(st, 3);
            p->abits = sqlite3_column_int64(st, 4);
            snprintf(p->model, sizeof p->model, "%s", (const char *)sqlite3_column_text(st, 5));
            p->cost = sqlite3_column_double(st, 6);
            snprintf(p->dataset, sizeof p->dataset, "%s", col_text(st, 13));
            snprintf(p->quantizer, sizeof p->quantizer, "%s", col_text(st, 14));
        }
        double acc = sqlite3_column_double(st, 7);
        p->n++;
        p->sum += acc;
        p->sumsq += acc * acc;
        qs_jw rw;
        qs_jw_init(&rw, &p->runs);
        rw.first[0] = p->n == 1;
        qs_jw_obj(&rw, NULL);
        qs_jw_col(&rw, "phase_id", st, 8);
        qs_jw_col(&rw, "seed", st, 9);
        qs_jw_col(&rw, "test_acc", st, 7);
        qs_jw_col(&rw, "phase", st, 10);
        qs_jw_col(&rw, "regularizer", st, 11);
        qs_jw_end_obj(&rw);
        if (p->runs.oom)
            return qs_err(QS_ENOMEM, "pareto: out of memory for the runs of %s", p->model);
    }
    return step == SQLITE_DONE ? QS_OK : QS_EINTERNAL;
}

/* The frontier by the report's rule; returns how many points are on it. */
static int mark_frontier(pareto_set *s)
{
    qs_pareto_pt *q = calloc(s->n ? s->n : 1, sizeof *q);
    if (!q)
        return -1;
    for (size_t i = 0; i < s->n; i++) {
        snprintf(q[i].dataset, sizeof q[i].dataset, "%s", s->v[i].dataset);
        q[i].x = s->v[i].cost;
        q[i].acc = pt_mean(&s->v[i]);
    }
    qs_pareto_mark(q, (int)s->n);
    int k = 0;
    for (size_t i = 0; i < s->n; i++)
        k += s->v[i].frontier = q[i].front;
    free(q);
    return k;
}

static void write_point(qs_jw *w, const pareto_pt *p)
{
    char label[64];
    qs_api_setting_label_q(label, sizeof label, p->wbits, p->abits, p->quantizer);
    qs_jw_obj(w, NULL);
    qs_jw_str(w, "dataset", p->dataset);
    qs_jw_str(w, "block", p->block);
    qs_jw_str(w, "model", p->model);
    qs_jw_int(w, "depth", p->depth);
    qs_jw_int(w, "width", p->width);
    qs_jw_int(w, "wbits", p->wbits);
    qs_jw_int(w, "abits", p->abits);
    qs_jw_str(w, "quantizer", p->quantizer);
    qs_jw_str(w, "setting", label);
    qs_jw_num(w, "x", p->cost);
    double mean = pt_mean(p);
    qs_jw_num(w, "mean", mean);
    if (p->n > 1) { /* sample std over seeds; none for one seed */
        double var = (p->sumsq - p->n * mean * mean) / (p->n - 1);
        qs_jw_num(w, "std", sqrt(var > 0 ? var : 0));
    } else {
        qs_jw_null(w, "std");
    }
    qs_jw_int(w, "n", p->n);
    qs_jw_bool(w, "frontier", p->frontier);
    qs_jw_arr(w, "runs");
    qs_buf_add(w->b, p->runs.p, p->runs.len);
    qs_jw_end_arr(w);
    qs_jw_end_obj(w);
}

int qs_api_pareto(qs_api_req *r)
{
    static const char *const xs[] = {"bits", "bops", NULL};
    sqlite3_stmt *st = NULL;
    pareto_set s = {NULL, 0, 0};
    const char *x;
    int rc = qs_api_enum(r, "x", xs, &x);
    if (rc)
        return rc;
    x = x ? x : "bits";
    rc = qs_api_prepare(r->db, pareto_sql, &st);
    if (!rc)
        rc = qs_api_chart_params(r, st);
    if (rc)
        goto cleanup;
    sqlite3_bind_text(st, 5, x, -1, SQLITE_STATIC);
    rc = read_points(&s, st);
    if (rc)
        goto cleanup;
    qsort(s.v, s.n, sizeof *s.v, by_cost);
    int k = mark_frontier(&s);
    if (k < 0) {
        rc = qs_err(QS_ENOMEM, "pareto: out of memory for %zu points", s.n);
        goto cleanup;
    }
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_str(&w, "x", x);
    qs_jw_str(&w, "x_label", !strcmp(x, "bops") ? "BOPs per example"
                                                 : "model size (bits)");
    qs_jw_arr(&w, "points");
    for (size_t i = 0; i < s.n; i++)
        write_point(&w, &s.v[i]);
    qs_jw_end_arr(&w);
    qs_jw_int(&w, "n", (long long)s.n);
    qs_jw_int(&w, "frontier", k);
    qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    set_free(&s);
    return rc;
}
