/* Route table and the per-request frame of every endpoint: parameter names
 * checked, one read transaction, errors turned into JSON responses. */
#include "api.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api_json.h"
#include "db.h"

/* Filters shared by the endpoints that select runs (api_runs.c). */
#define RUN_FILTERS                                                                   \
    "sweep dataset arch block depth width wbits abits regularizer quantizer clr phase status " \
    "seed phase_id"

static const qs_api_route routes[] = {
    {"/api/sweeps", qs_api_sweeps, "sweep"},
    {"/api/failures", qs_api_failures, "sweep limit"},
    {"/api/runs", qs_api_runs, RUN_FILTERS " sort order limit offset"},
    {"/api/runs.csv", qs_api_runs_csv, RUN_FILTERS " sort order limit offset"},
    {"/api/curves", qs_api_curves, "phase_id"},
    {"/api/bits", qs_api_bits, "phase_id"},
    {"/api/run", qs_api_run, "phase_id"},
    {"/api/config", qs_api_config, "phase_id"},
    {"/api/checkpoint", qs_api_checkpoint, "phase_id"},
    {"/api/decision_maps", qs_api_decision_maps, "sweep limit"},
    {"/api/decision_map", qs_api_decision_map, "phase_id format"},
    {"/api/depth", qs_api_depth, "sweep dataset phase regularizer budget width"},
    {"/api/width", qs_api_width, "sweep dataset phase regularizer depth"},
    {"/api/effect", qs_api_effect, "sweep dataset block wbits abits width"},
    {"/api/pareto", qs_api_pareto, "sweep dataset phase regularizer x"},
    {"/api/table5", qs_api_table5, "sweep dataset"},
    {"/api/table4", qs_api_table4, "sweep dataset"},
};

const qs_api_route *qs_api_find(const char *path)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(routes[i].path, path) == 0)
            return &routes[i];
    return NULL;
}

void qs_resp_init(qs_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->status = 200;
    resp->ctype = "application/json; charset=utf-8";
    qs_buf_init(&resp->body);
}

void qs_resp_free(qs_resp *resp) { qs_buf_free(&resp->body); }

void qs_resp_error(qs_resp *resp, int status, const char *param, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp->status = status;
    resp->ctype = "application/json; charset=utf-8";
    resp->disposition = NULL;
    qs_buf_reset(&resp->body);
    qs_jw w;
    qs_jw_init(&w, &resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_str(&w, "error", msg);
    if (param)
        qs_jw_str(&w, "parameter", param);
    qs_jw_end_obj(&w);
    qs_buf_add(&resp->body, "\n", 1);
}

/* Is name one of the space-separated words of list? */
static int word_in(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* Unknown and repeated parameters are refused: a typo in a filter would
 * otherwise silently widen the query. */
static int check_params(const qs_api_route *route, const qs_params *params, qs_resp *resp)
{
    for (int i = 0; i < params->n; i++) {
        const char *k = params->v[i].key;
        if (!word_in(route->params, k)) {
            char shown[64];
            snprintf(shown, sizeof shown, "%s", k);
            for (char *c = shown; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7F)
                    *c = '?';
            qs_resp_error(resp, 400, shown, "unknown parameter \"%s\" for %s (accepted: %s)",
                          shown, route->path, route->params);
            return QS_EINVAL;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(params->v[j].key, k) == 0) {
                qs_resp_error(resp, 400, k, "parameter \"%s\" given more than once", k);
                return QS_EINVAL;
            }
    }
    return QS_OK;
}

int qs_api_call(const qs_api_route *route, const qs_params *params, sqlite3 *db, int fast,
                qs_resp *resp)
{
    if (check_params(route, params, resp))
        return QS_OK;
    /* One read transaction per request: a consistent snapshot for all of
     * the endpoint's queries, released at the end so the next request sees
     * the sweep's newest commits. */
    char *msg = NULL;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, &msg) != SQLITE_OK) {
        qs_resp_error(resp, 503, NULL, "database: %s", msg ? msg : "cannot begin");
        sqlite3_free(msg);
        return QS_OK;
    }
    qs_api_req r = {params, db, resp, fast};
    int rc = route->fn(&r);
    /* A read transaction has nothing to keep: ROLLBACK ends it even when
     * the endpoint stopped half-way. */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (rc == QS_EINVAL && resp->status == 400)
        return QS_OK;
    if (rc == QS_OK)
        rc = qs_buf_ok(&resp->body);
    if (rc != QS_OK) {
        int busy = sqlite3_errcode(db) == SQLITE_BUSY || sqlite3_errcode(db) == SQLITE_LOCKED;
        qs_resp_error(resp, busy ? 503 : 500, NULL, "%s", qs_errmsg());
    }
    return QS_OK;
}

int qs_api_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        int rc = qs_err(QS_EINTERNAL, "database query failed: %s", sqlite3_errmsg(db));
        sqlite3_finalize(*st);
        *st = NULL;
        return rc;
    }
    return QS_OK;
}

/* The `runs` view restricted to QS_API_FAST_COLUMNS, reading phases
 * through the covering index. Same join and plain columns as the view
 * (sql/schema.sql); its derived columns (quantizer, method, ...) are the
 * view's own text, each `-- derived {` ... `-- }` block of it copied here
 * once, so the two cannot disagree. quantizer reads the config off the
 * table row, which only a query naming that column pays for. */
static const char fast_head[] =
    "(SELECT s.name AS sweep, p.id AS phase_id, p.phase AS phase, p.status AS status,"
    " p.dataset AS dataset, p.arch AS arch, p.block AS block, p.residual AS residual,"
    " p.depth AS depth, p.width AS width, p.params AS params, p.wbits AS wbits, p.abits AS abits,"
    " p.regularizer AS regularizer,"
    " p.clr AS clr, p.seed AS seed, p.test_acc AS test_acc,"
    " p.model AS model, p.epochs AS epochs, p.epochs_done AS epochs_done,"
    " p.img_per_s AS img_per_s, p.finished AS finished,\n";
static const char fast_tail[] =
    " FROM sweep_phases sp JOIN sweeps s ON s.id = sp.sweep_id"
    " JOIN phases p INDEXED BY phases_read ON p.id = sp.phase_id)";
static char *runs_fast;
static pthread_once_t runs_fast_once = PTHREAD_ONCE_INIT;

static void runs_fast_build(void)
{
    /* the select list ends at the view's FROM (its comments hold ';') */
    const char *v = strstr(qs_schema_sql, "CREATE VIEW runs AS");
    const char *end = v ? strstr(v, "\nFROM sweep_phases sp") : NULL;
    qs_buf b;
    int blocks = 0;
    qs_buf_init(&b);
    qs_buf_puts(&b, fast_head);
    for (const char *p = v; p && end && (p = strstr(p, "-- derived {")) && p < end;) {
        const char *from = strchr(p, '\n'), *to = from ? strstr(from, "-- }") : NULL;
        if (!to || to > end)
            break;
        qs_buf_add(&b, from + 1, (size_t)(to - from - 1));
        blocks++;
        p = to;
    }
    /* every block ends in a comma: the last one goes */
    while (b.len && b.p[b.len - 1] != ',')
        b.len--;
    if (blocks && b.len)
        b.len--;
    qs_buf_puts(&b, fast_tail);
    if (blocks && qs_buf_ok(&b) == QS_OK)
        runs_fast = b.p;
    else
        qs_buf_free(&b);
}

int qs_api_prepare_src(qs_api_req *r, const char *tmpl, sqlite3_stmt **st)
{
    qs_buf sql;
    qs_buf_init(&sql);
    const char *p = tmpl;
    while (*p) {
        const char *runs = strstr(p, "{RUNS}"), *ph = strstr(p, "{PHASES}");
        const char *next = runs && (!ph || runs < ph) ? runs : ph;
        if (!next) {
            qs_buf_puts(&sql, p);
            break;
        }
        qs_buf_add(&sql, p, (size_t)(next - p));
        if (next == runs) {
            if (r->fast)
                pthread_once(&runs_fast_once, runs_fast_build);
            if (r->fast && !runs_fast) {
                qs_buf_free(&sql);
                return qs_err(QS_EINTERNAL, "the runs view in sql/schema.sql has no derived "
                              "column blocks to read, or no memory for them");
            }
            qs_buf_puts(&sql, r->fast ? runs_fast : "runs");
            p = next + 6;
        } else {
            qs_buf_puts(&sql, r->fast ? "phases p INDEXED BY phases_read" : "phases p");
            p = next + 8;
        }
    }
    int rc = qs_buf_ok(&sql);
    if (!rc)
        rc = qs_api_prepare(r->db, sql.p, st);
    qs_buf_free(&sql);
    return rc;
}

int qs_api_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        qs_err(QS_EINTERNAL, "database read failed: %s", sqlite3_errmsg(sqlite3_db_handle(st)));
    return rc;
}

int qs_api_rows(struct qs_jw *w, const char *key, sqlite3_stmt *st)
{
    int s;
    qs_jw_arr(w, key);
    while ((s = qs_api_step(st)) == SQLITE_ROW)
        qs_jw_row(w, NULL, st);
    if (s != SQLITE_DONE)
        return QS_EINTERNAL;
    qs_jw_end_arr(w);
    return QS_OK;
}

int qs_api_prepare_sweep(sqlite3 *db, const char *sql, const char *sweep, long long limit,
                         sqlite3_stmt **st)
{
    int rc = qs_api_prepare(db, sql, st);
    if (rc)
        return rc;
    if (sweep)
        sqlite3_bind_text(*st, 1, sweep, -1, SQLITE_STATIC);
    if (limit > 0)
        sqlite3_bind_int64(*st, 2, limit);
    return QS_OK;
}

int qs_api_sweep_limit(qs_api_req *r, const char **sweep, long long *limit)
{
    int have;
    *limit = 200;
    int rc = qs_api_str(r, "sweep", sweep);
    if (!rc)
        rc = qs_api_int(r, "limit", 1, 10000, limit, &have);
    return rc;
}
