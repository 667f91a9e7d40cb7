/* The paper's charts as data: test accuracy of done phases grouped by
 * (block, W/A setting, depth or width), with mean, std, min and max over
 * seeds. /api/depth, /api/width and /api/effect (Lipschitz and CLR). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_json.h"
#include "bits.h"

#define BLOCK_EXPR QS_API_BLOCK_EXPR

/* Columns after the group keys: the value, then what a tooltip shows. */
#define RUN_COLS "test_acc, phase_id, seed, depth AS run_depth, width AS run_width, params, model"

/* DISTINCT: a phase shared by two sweeps is one measurement, not two. */
/* Width is part of the group: at a fixed budget each depth has one width,
 * and where a sweep has several widths at one depth (FCDNNs 128-4 and
 * 256-4) their accuracies are not seeds of one model. */
/* quantizer is a key: a Hwang-PACT, an LSQ+ and a BitPruning retrain at
 * one W/A setting are three measurements, not seeds of one. */
static const char depth_sql[] =
    "SELECT DISTINCT " BLOCK_EXPR " AS block, wbits, abits, quantizer, depth, width, " RUN_COLS
    " FROM {RUNS} WHERE status = 'done' AND test_acc IS NOT NULL"
    " AND (?1 IS NULL OR sweep = ?1) AND (?2 IS NULL OR dataset = ?2)"
    " AND (phase = 'float' OR (phase = ?3 AND regularizer = ?4))"
    " AND (?5 IS NULL OR params BETWEEN ?5 / 1.25 AND ?5 * 1.25)"
    " AND (?6 IS NULL OR width = ?6)"
    " ORDER BY 1, 2 DESC, 3 DESC, 4, 5, 6, seed, phase_id";

static const char width_sql[] =
    "SELECT DISTINCT " BLOCK_EXPR " AS block, depth, wbits, abits, quantizer, width, " RUN_COLS
    " FROM {RUNS} WHERE status = 'done' AND test_acc IS NOT NULL"
    " AND (?1 IS NULL OR sweep = ?1) AND (?2 IS NULL OR dataset = ?2)"
    " AND (phase = 'float' OR (phase = ?3 AND regularizer = ?4))"
    " AND (?5 IS NULL OR depth = ?5)"
    " ORDER BY 1, 2, 3 DESC, 4 DESC, 5, 6, seed, phase_id";

/* Variants in the order of Table 4's columns and beyond. */
static const char effect_sql[] =
    "SELECT DISTINCT " BLOCK_EXPR " AS block,"
    " CASE WHEN phase = 'float' THEN 0 WHEN phase = 'retrain' AND regularizer = 'none' THEN 1"
    "  WHEN phase = 'retrain' THEN 2 WHEN regularizer = 'none' THEN 3 ELSE 4 END AS variant,"
    " depth, width, " RUN_COLS
    " FROM {RUNS} WHERE status = 'done' AND test_acc IS NOT NULL"
    " AND (?1 IS NULL OR sweep = ?1) AND (?2 IS NULL OR dataset = ?2)"
    " AND (?3 IS NULL OR " BLOCK_EXPR " = ?3)"
    " AND (phase = 'float' OR (wbits = ?4 AND abits = ?5))"
    " AND (?6 IS NULL OR width = ?6) AND phase != 'ptq'" /* the QAT variants only */
    " AND quantizer IN ('none', 'hwang-pact')" /* the paper's, like Table 4's cells */
    " ORDER BY 1, 2, 3, 4, seed, phase_id";

static const char *const variant_names[] = {"float", "retrain", "retrain+lipschitz", "clr",
                                            "lipschitz+clr"};

#define MAX_KEYS 6

typedef struct {
    int type;
    long long i;
    double d;
    char s[64];
} keyval;

static void key_read(keyval *k, sqlite3_stmt *st, int c)
{
    memset(k, 0, sizeof *k);
    k->type = sqlite3_column_type(st, c);
    if (k->type == SQLITE_INTEGER)
        k->i = sqlite3_column_int64(st, c);
    else if (k->type == SQLITE_FLOAT)
        k->d = sqlite3_column_double(st, c);
    else if (k->type == SQLITE_TEXT)
        snprintf(k->s, sizeof k->s, "%s", (const char *)sqlite3_column_text(st, c));
}

static int key_eq(const keyval *a, const keyval *b)
{
    return a->type == b->type && a->i == b->i && a->d == b->d && !strcmp(a->s, b->s);
}

static void key_write(qs_jw *w, const char *name, const keyval *k)
{
    if (k->type == SQLITE_INTEGER)
        qs_jw_int(w, name, k->i);
    else if (k->type == SQLITE_FLOAT)
        qs_jw_num(w, name, k->d);
    else if (k->type == SQLITE_TEXT)
        qs_jw_str(w, name, k->s);
    else
        qs_jw_null(w, name);
}

void qs_api_setting_label(char *out, size_t n, long long wb, long long ab)
{
    qs_bits_label(out, n, (int)(wb > 32 ? 32 : wb), (int)(ab > 32 ? 32 : ab));
}

void qs_api_setting_label_q(char *out, size_t n, long long wb, long long ab, const char *quantizer)
{
    qs_api_setting_label(out, n, wb, ab);
    qs_quant_suffix(out, n, quantizer);
}

typedef struct {
    int nkey;
    const char *names[MAX_KEYS];
    int wbits_key, abits_key; /* key indices, -1 if absent */
    int quant_key;            /* key index of the quantizer, or -1 */
    int variant_key;          /* key index holding a variant number, or -1 */
} group_spec;

typedef struct {
    keyval keys[MAX_KEYS];
    int n;
    double sum, sumsq, min, max;
    qs_buf runs; /* the group's run objects, comma separated */
} group_acc;

static void group_emit(qs_jw *w, const group_spec *g, group_acc *a)
{
    qs_jw_obj(w, NULL);
    for (int k = 0; k < g->nkey; k++) {
        if (k == g->variant_key) {
            long long v = a->keys[k].i;
            qs_jw_str(w, g->names[k], v >= 0 && v < 5 ? variant_names[v] : "other");
        } else {
            key_write(w, g->names[k], &a->keys[k]);
        }
    }
    if (g->wbits_key >= 0) {
        char label[64];
        qs_api_setting_label_q(label, sizeof label, a->keys[g->wbits_key].i,
                               a->keys[g->abits_key].i,
                               g->quant_key >= 0 ? a->keys[g->quant_key].s : NULL);
        qs_jw_str(w, "setting", label);
    }
    double mean = a->sum / a->n;
    qs_jw_int(w, "n", a->n);
    qs_jw_num(w, "mean", mean);
    /* Sample std over seeds; undefined for one seed (no error bar). */
    if (a->n > 1) {
        double var = (a->sumsq - a->n * mean * mean) / (a->n - 1);
        qs_jw_num(w, "std", sqrt(var > 0 ? var : 0));
    } else {
        qs_jw_null(w, "std");
    }
    qs_jw_num(w, "min", a->min);
    qs_jw_num(w, "max", a->max);
    qs_jw_arr(w, "runs");
    if (a->runs.len)
        qs_buf_add(w->b, a->runs.p, a->runs.len);
    if (a->runs.oom)
        w->b->oom = 1;
    qs_jw_end_arr(w);
    qs_jw_end_obj(w);
}

/* Streams rows ordered by the keys into {"groups": [...]}. Columns: the
 * keys, test_acc, then the run's own columns. */
static int emit_groups(qs_api_req *r, sqlite3_stmt *st, const group_spec *g)
{
    group_acc a;
    memset(&a, 0, sizeof a);
    qs_buf_init(&a.runs);
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_arr(&w, "groups");
    int s, ncol = sqlite3_column_count(st), rc = QS_OK;
    long groups = 0;
    while ((s = qs_api_step(st)) == SQLITE_ROW) {
        keyval keys[MAX_KEYS];
        for (int k = 0; k < g->nkey; k++)
            key_read(&keys[k], st, k);
        int same = a.n > 0;
        for (int k = 0; same && k < g->nkey; k++)
            same = key_eq(&keys[k], &a.keys[k]);
        if (!same && a.n > 0) {
            group_emit(&w, g, &a);
            groups++;
        }
        if (!same) {
            memcpy(a.keys, keys, sizeof keys);
            a.n = 0;
            a.sum = a.sumsq = 0;
            qs_buf_reset(&a.runs);
        }
        double v = sqlite3_column_double(st, g->nkey);
        if (a.n == 0 || v < a.min)
            a.min = v;
        if (a.n == 0 || v > a.max)
            a.max = v;
        a.n++;
        a.sum += v;
        a.sumsq += v * v;
        /* The run as an object, written into the group's side buffer. */
        qs_jw rw;
        qs_jw_init(&rw, &a.runs);
        rw.first[0] = a.n == 1;
        qs_jw_obj(&rw, NULL);
        for (int c = g->nkey; c < ncol; c++)
            qs_jw_col(&rw, sqlite3_column_name(st, c), st, c);
        qs_jw_end_obj(&rw);
    }
    if (s != SQLITE_DONE) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    if (a.n > 0) {
        group_emit(&w, g, &a);
        groups++;
    }
    qs_jw_end_arr(&w);
    qs_jw_int(&w, "n", groups);
    qs_jw_end_obj(&w);
cleanup:
    qs_buf_free(&a.runs);
    return rc;
}

int qs_api_chart_params(qs_api_req *r, sqlite3_stmt *st)
{
    static const char *const phases[] = {"retrain", "clr", "float", NULL};
    static const char *const regs[] = {"none", "lipschitz", NULL};
    const char *sweep, *dataset, *phase, *reg;
    int rc = qs_api_str(r, "sweep", &sweep);
    if (!rc)
        rc = qs_api_str(r, "dataset", &dataset);
    if (!rc)
        rc = qs_api_enum(r, "phase", phases, &phase);
    if (!rc)
        rc = qs_api_enum(r, "regularizer", regs, &reg);
    if (rc)
        return rc;
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    if (dataset)
        sqlite3_bind_text(st, 2, dataset, -1, SQLITE_STATIC);
    /* The float phases are always in; phase picks the quantized ones. */
    sqlite3_bind_text(st, 3, phase ? phase : "retrain", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, reg ? reg : "none", -1, SQLITE_STATIC);
    return QS_OK;
}

int qs_api_depth(qs_api_req *r)
{
    sqlite3_stmt *st = NULL;
    double budget;
    long long width;
    int have_b, have_w;
    int rc = qs_api_real(r, "budget", 1, 1e12, &budget, &have_b);
    if (!rc)
        rc = qs_api_int(r, "width", 1, 10000000, &width, &have_w);
    if (rc)
        return rc;
    rc = qs_api_prepare_src(r, depth_sql, &st);
    if (rc)
        goto cleanup;
    rc = qs_api_chart_params(r, st);
    if (rc)
        goto cleanup;
    if (have_b)
        sqlite3_bind_double(st, 5, budget);
    if (have_w)
        sqlite3_bind_int64(st, 6, width);
    group_spec g = {6, {"block", "wbits", "abits", "quantizer", "depth", "width"}, 1, 2, 3, -1};
    rc = emit_groups(r, st, &g);
cleanup:
    sqlite3_finalize(st);
    return rc;
}

int qs_api_width(qs_api_req *r)
{
    sqlite3_stmt *st = NULL;
    long long depth;
    int have_d;
    int rc = qs_api_int(r, "depth", 1, 100000, &depth, &have_d);
    if (rc)
        return rc;
    rc = qs_api_prepare_src(r, width_sql, &st);
    if (rc)
        goto cleanup;
    rc = qs_api_chart_params(r, st);
    if (rc)
        goto cleanup;
    if (have_d)
        sqlite3_bind_int64(st, 5, depth);
    group_spec g = {6, {"block", "depth", "wbits", "abits", "quantizer", "width"}, 2, 3, 4, -1};
    rc = emit_groups(r, st, &g);
cleanup:
    sqlite3_finalize(st);
    return rc;
}

int qs_api_effect(qs_api_req *r)
{
    static const char *const blocks[] = {"basic", "preact", "depthwise", "fcdnn", "fcdnn-res",
                                         NULL};
    sqlite3_stmt *st = NULL;
    const char *sweep, *dataset, *block;
    long long wbits = 2, abits = 2, width;
    int have, have_w;
    int rc = qs_api_str(r, "sweep", &sweep);
    if (!rc)
        rc = qs_api_str(r, "dataset", &dataset);
    if (!rc)
        rc = qs_api_enum(r, "block", blocks, &block);
    if (!rc)
        rc = qs_api_int(r, "wbits", 1, 32, &wbits, &have);
    if (!rc)
        rc = qs_api_int(r, "abits", 1, 32, &abits, &have);
    if (!rc)
        rc = qs_api_int(r, "width", 1, 10000000, &width, &have_w);
    if (rc)
        return rc;
    rc = qs_api_prepare_src(r, effect_sql, &st);
    if (rc)
        goto cleanup;
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    if (dataset)
        sqlite3_bind_text(st, 2, dataset, -1, SQLITE_STATIC);
    if (block)
        sqlite3_bind_text(st, 3, block, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, wbits);
    sqlite3_bind_int64(st, 5, abits);
    if (have_w)
        sqlite3_bind_int64(st, 6, width);
    group_spec g = {4, {"block", "variant", "depth", "width"}, -1, -1, -1, 1};
    rc = emit_groups(r, st, &g);
cleanup:
    sqlite3_finalize(st);
    return rc;
}
