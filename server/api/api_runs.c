/* /api/runs, /api/runs.csv and /api/decision_maps: rows of the `runs` view
 * selected by filters. The SQL text is assembled only from the constant
 * fragments below; every user value is bound, and the sort key is looked
 * up in a whitelist. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_json.h"
#include "db_lock.h"
#include "ptq_cfg.h"

enum { F_STR, F_INT, F_ENUM, F_BOOL, F_ID };

static const char *const block_vals[] = {"basic", "preact", "depthwise", "none", "bottleneck",
                                         NULL};
static const char *const reg_vals[] = {"none", "lipschitz", NULL};
static const char *const phase_vals[] = {"float", "retrain", "clr", "ptq", "compress", NULL};
static const char *const status_vals[] = {"queued", "running", "done", "failed", NULL};
/* The runs view's quantizer values: a float phase's "none", then the
 * quantizers (qs_quantizer_names, core/quant/lsq_model.c), and a ptq
 * phase's "ptq". */
static const char *const quant_vals[] = {"none", "hwang-pact", "lsq+", "ptq", NULL};
/* The runs view's method: none (float), qat (retrain, clr), ptq. */
static const char *const method_vals[] = {"none", "qat", "ptq", NULL};

static const struct {
    const char *name, *sql; /* sql: a condition with one placeholder */
    int kind;
    long long lo, hi;
    const char *const *vals;
} filters[] = {
    {"sweep", "sweep = ?", F_STR, 0, 0, NULL},
    {"dataset", "dataset = ?", F_STR, 0, 0, NULL},
    {"arch", "arch = ?", F_ENUM, 0, 0, qs_arch_names},
    {"block", "block = ?", F_ENUM, 0, 0, block_vals},
    {"depth", "depth = ?", F_INT, 1, 100000, NULL},
    {"width", "width = ?", F_INT, 1, 10000000, NULL},
    {"wbits", "wbits = ?", F_INT, 1, 32, NULL},
    {"abits", "abits = ?", F_INT, 1, 32, NULL},
    {"regularizer", "regularizer = ?", F_ENUM, 0, 0, reg_vals},
    {"quantizer", "quantizer = ?", F_ENUM, 0, 0, quant_vals},
    {"clr", "clr = ?", F_BOOL, 0, 0, NULL},
    {"method", "method = ?", F_ENUM, 0, 0, method_vals},
    {"rounding", "rounding = ?", F_ENUM, 0, 0, qs_ptq_rounding_names},
    {"equalize", "equalize = ?", F_BOOL, 0, 0, NULL},
    {"phase", "phase = ?", F_ENUM, 0, 0, phase_vals},
    {"status", "status = ?", F_ENUM, 0, 0, status_vals},
    {"seed", "seed = ?", F_INT, -(1LL << 62), 1LL << 62, NULL},
    {"phase_id", "phase_id = ?", F_ID, 0, 0, NULL},
};
#define NFILTERS ((int)(sizeof filters / sizeof filters[0]))

/* Sort keys: the parameter value maps to a column name written by us. */
static const char *const sort_keys[] = {
    "sweep", "phase_id", "phase", "status", "dataset", "arch", "block", "depth", "width",
    "params", "wbits", "abits", "regularizer", "quantizer", "clr", "seed", "epochs", "test_acc",
    "test_loss", "train_loss", "train_acc", "epochs_done", "seconds", "img_per_s",
    "model_bits", "bops", "error", "attempts", "started", "finished", "model", "method",
    "rounding", "equalize", NULL};
/* "config" (the default) groups runs the way the paper's tables read:
 * float, W2AF, WFA2, W2A2 within an architecture. */
static const char config_order[] =
    "sweep, dataset, arch, block, depth, width, phase, (wbits < 32) + 2 * (abits < 32), wbits DESC,"
    " abits DESC, regularizer, quantizer, clr, rounding, equalize, seed";

typedef struct {
    int kind;
    const char *s;
    long long i;
} bind_val;

typedef struct {
    qs_buf where; /* " WHERE ... AND ..." or "" */
    bind_val binds[NFILTERS];
    int nbinds;
    char order[256];
    long long limit, offset;
    int have_limit;
} run_query;

static void run_query_free(run_query *q) { qs_buf_free(&q->where); }

/* Reads filters, sort, order, limit and offset. max_limit bounds limit;
 * def_limit < 0 means no limit unless one is given. */
static int run_query_parse(qs_api_req *r, run_query *q, long long def_limit, long long max_limit)
{
    int rc, have;
    memset(q, 0, sizeof *q);
    qs_buf_init(&q->where);
    for (int f = 0; f < NFILTERS; f++) {
        bind_val b = {F_STR, NULL, 0};
        const char *cond = filters[f].sql;
        have = 0;
        switch (filters[f].kind) {
        case F_STR:
            rc = qs_api_str(r, filters[f].name, &b.s);
            have = b.s != NULL;
            break;
        case F_ENUM:
            rc = qs_api_enum(r, filters[f].name, filters[f].vals, &b.s);
            have = b.s != NULL;
            /* fcdnn models have no block: "none" selects them. */
            if (have && !strcmp(filters[f].name, "block") && !strcmp(b.s, "none"))
                cond = "block IS NULL", b.s = NULL;
            break;
        case F_ID:
            rc = qs_api_phase_id(r, filters[f].name, &b.s, 0);
            have = b.s != NULL;
            break;
        case F_BOOL: {
            int v = 0;
            rc = qs_api_bool(r, filters[f].name, &v, &have);
            b.kind = F_INT;
            b.i = v;
            break;
        }
        default:
            rc = qs_api_int(r, filters[f].name, filters[f].lo, filters[f].hi, &b.i, &have);
            b.kind = F_INT;
            break;
        }
        if (rc)
            return rc;
        if (!have)
            continue;
        qs_buf_puts(&q->where, q->where.len ? " AND " : " WHERE ");
        qs_buf_puts(&q->where, cond);
        if (strchr(cond, '?'))
            q->binds[q->nbinds++] = b;
    }
    const char *sort, *order;
    static const char *const orders[] = {"asc", "desc", NULL};
    static const char *const sorts_config[] = {"config", NULL};
    rc = qs_api_str(r, "sort", &sort);
    if (!rc)
        rc = qs_api_enum(r, "order", orders, &order);
    if (rc)
        return rc;
    const char *key = NULL;
    for (int i = 0; sort && sort_keys[i]; i++)
        if (!strcmp(sort, sort_keys[i]))
            key = sort_keys[i];
    if (sort && !key && strcmp(sort, sorts_config[0]) != 0)
        return qs_api_bad(r, "sort", "not a sortable column (use config or a column of /api/runs)");
    int desc = order && !strcmp(order, "desc");
    if (key)
        snprintf(q->order, sizeof q->order, " ORDER BY %s %s NULLS LAST, sweep, phase_id", key,
                 desc ? "DESC" : "ASC");
    else
        snprintf(q->order, sizeof q->order, " ORDER BY %s, phase_id", config_order);

    q->limit = def_limit;
    rc = qs_api_int(r, "limit", 1, max_limit, &q->limit, &q->have_limit);
    if (!rc)
        rc = qs_api_int(r, "offset", 0, 1LL << 40, &q->offset, &have);
    if (rc)
        return rc;
    return qs_buf_ok(&q->where);
}

static void bind_all(sqlite3_stmt *st, const run_query *q)
{
    for (int i = 0; i < q->nbinds; i++) {
        if (q->binds[i].kind == F_INT)
            sqlite3_bind_int64(st, i + 1, q->binds[i].i);
        else
            sqlite3_bind_text(st, i + 1, q->binds[i].s, -1, SQLITE_STATIC);
    }
}

/* Is the sort key one of the narrow source's columns (api.h)? */
static int narrow_sort(const run_query *q)
{
    char key[64];
    if (sscanf(q->order, " ORDER BY %63s", key) != 1 || !strcmp(key, "sweep,"))
        return 1; /* the config order: every column is narrow */
    size_t n = strlen(key);
    for (const char *p = QS_API_FAST_COLUMNS; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, key, n))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* Prepares "SELECT <what> FROM runs <where>" (paged 0), or a page of whole
 * rows in two steps: the page's keys sorted with LIMIT/OFFSET from the
 * narrow source (api.h: {RUNS}), then only those rows read whole from the
 * view. Sorting every selected row whole before the LIMIT cost several
 * times more on a 10,000-phase database. SQLite does not flatten a LIMIT
 * subquery into a join, so the two steps stay two. */
static int prepare_runs(qs_api_req *r, const run_query *q, const char *what, int paged,
                        sqlite3_stmt **st)
{
    qs_buf sql;
    qs_buf_init(&sql);
    const char *where = q->where.p ? q->where.p : "";
    if (paged)
        qs_buf_printf(&sql,
                      "SELECT r.* FROM (SELECT sweep AS k_sweep, phase_id AS k_id FROM %s%s%s"
                      " LIMIT ? OFFSET ?) AS k JOIN runs r ON r.sweep = k.k_sweep AND r.phase_id = k.k_id%s",
                      narrow_sort(q) ? "{RUNS}" : "runs", where, q->order, q->order);
    else
        qs_buf_printf(&sql, "SELECT %s FROM %s%s", what, strcmp(what, "*") ? "{RUNS}" : "runs", where);
    int rc = qs_buf_ok(&sql);
    if (!rc)
        rc = qs_api_prepare_src(r, sql.p, st);
    qs_buf_free(&sql);
    if (rc)
        return rc;
    bind_all(*st, q);
    if (paged) {
        sqlite3_bind_int64(*st, q->nbinds + 1, q->limit);
        sqlite3_bind_int64(*st, q->nbinds + 2, q->offset);
    }
    return QS_OK;
}

int qs_api_runs(qs_api_req *r)
{
    run_query q;
    sqlite3_stmt *st = NULL;
    int rc = run_query_parse(r, &q, 100, 10000);
    if (rc)
        goto cleanup;
    rc = prepare_runs(r, &q, "count(*)", 0, &st);
    if (rc)
        goto cleanup;
    long long total = 0;
    if (qs_api_step(st) != SQLITE_ROW) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;

    rc = prepare_runs(r, &q, "*", 1, &st);
    if (rc)
        goto cleanup;
    /* Whether rows with status running are being run (docs/api.md). */
    int live = qs_db_running_is_live(r->db);
    if (live < 0) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_int(&w, "total", total);
    qs_jw_bool(&w, "running_live", live);
    qs_jw_int(&w, "limit", q.limit);
    qs_jw_int(&w, "offset", q.offset);
    rc = qs_api_rows(&w, "rows", st);
    if (!rc)
        qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    run_query_free(&q);
    return rc;
}

int qs_api_runs_csv(qs_api_req *r)
{
    run_query q;
    sqlite3_stmt *st = NULL;
    /* The whole selection unless limited: an export is for a spreadsheet. */
    int rc = run_query_parse(r, &q, -1, 10000000);
    if (rc)
        goto cleanup;
    rc = prepare_runs(r, &q, "*", 1, &st);
    if (rc)
        goto cleanup;
    qs_buf *b = &r->resp->body;
    r->resp->ctype = "text/csv; charset=utf-8";
    r->resp->disposition = "attachment; filename=\"runs.csv\"";
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        if (i)
            qs_buf_add(b, ",", 1);
        qs_buf_csv_text(b, name, strlen(name));
    }
    qs_buf_add(b, "\r\n", 2);
    int s;
    while ((s = qs_api_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < n; i++) {
            if (i)
                qs_buf_add(b, ",", 1);
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                qs_buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, i));
                break;
            case SQLITE_FLOAT:
                qs_buf_printf(b, "%.15g", sqlite3_column_double(st, i));
                break;
            case SQLITE_TEXT:
                qs_buf_csv_text(b, (const char *)sqlite3_column_text(st, i),
                                (size_t)sqlite3_column_bytes(st, i));
                break;
            default:
                break; /* NULL and blobs: an empty field */
            }
        }
        qs_buf_add(b, "\r\n", 2);
        if (b->oom)
            break;
    }
    if (s != SQLITE_DONE && s != SQLITE_ROW)
        rc = QS_EINTERNAL;
cleanup:
    sqlite3_finalize(st);
    run_query_free(&q);
    return rc;
}

static const char maps_sql[] =
    "SELECT r.sweep, r.phase_id, r.phase, r.status, r.dataset, r.arch, r.residual, r.model,"
    " r.depth, r.width, r.params, r.wbits, r.abits, r.regularizer, r.clr, r.seed, r.test_acc,"
    " d.width AS map_width, d.height AS map_height"
    " FROM runs r JOIN decision_maps d ON d.phase_id = r.phase_id"
    " WHERE ?1 IS NULL OR r.sweep = ?1"
    " ORDER BY r.sweep, r.dataset, r.residual, r.width, r.depth, r.wbits DESC, r.abits DESC,"
    " r.regularizer, r.clr, r.seed LIMIT ?2";

int qs_api_decision_maps(qs_api_req *r)
{
    const char *sweep;
    long long limit;
    sqlite3_stmt *st = NULL;
    int rc = qs_api_sweep_limit(r, &sweep, &limit);
    if (rc)
        return rc;
    rc = qs_api_prepare_sweep(r->db, maps_sql, sweep, limit, &st);
    if (rc)
        goto cleanup;
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    rc = qs_api_rows(&w, "rows", st);
    if (!rc)
        qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    return rc;
}
