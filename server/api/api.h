/* The JSON API of `qsweep serve` (docs/api.md): the request and response
 * of one endpoint call, free of HTTP plumbing, plus the route table.
 * Endpoints read through a read-only SQLite connection inside one read
 * transaction per request, so every query of a response sees one snapshot
 * and each new request sees the sweep's latest commits. */
#ifndef QS_API_H
#define QS_API_H

#include <sqlite3.h>
#include <stddef.h>

#include "buf.h"

#define QS_API_MAX_PARAMS 32
#define QS_API_MAX_VALUE 256 /* longest accepted parameter value, bytes */

typedef struct {
    const char *key;
    const char *val; /* "" for a bare "?key" */
    size_t len;      /* bytes of val; differs from strlen(val) when it held a NUL */
} qs_param;

typedef struct {
    qs_param v[QS_API_MAX_PARAMS];
    int n;
} qs_params;

typedef struct {
    int status;              /* HTTP status, 200 unless an endpoint says otherwise */
    const char *ctype;       /* static string */
    const char *disposition; /* Content-Disposition, static, or NULL */
    qs_buf body;
} qs_resp;

typedef struct {
    const qs_params *params;
    sqlite3 *db;
    qs_resp *resp;
    int fast; /* the database has the covering index phases_read (sql/indexes.sql) */
} qs_api_req;

typedef int (*qs_api_fn)(qs_api_req *r);

typedef struct {
    const char *path;
    qs_api_fn fn;
    const char *params; /* accepted parameter names, space separated */
} qs_api_route;

void qs_resp_init(qs_resp *resp);
void qs_resp_free(qs_resp *resp);
/* A JSON error body {"error": msg[, "parameter": param]} with status. */
void qs_resp_error(qs_resp *resp, int status, const char *param, const char *fmt, ...)
    QS_PRINTF(4, 5);

/* The route for an /api/ path, or NULL. */
const qs_api_route *qs_api_find(const char *path);
/* Checks the parameters against the route, runs the endpoint inside a read
 * transaction and fills resp (also for errors: 400 bad parameter, 404,
 * 500/503 database trouble). Returns QS_OK when resp holds a response. */
int qs_api_call(const qs_api_route *route, const qs_params *params, sqlite3 *db, int fast,
                qs_resp *resp);

/* Parameter readers (api_params.c). An absent or empty parameter leaves
 * *present 0 (forms send empty fields). A bad value writes the 400
 * response naming the parameter and returns QS_EINVAL. */
int qs_api_str(qs_api_req *r, const char *name, const char **out);
int qs_api_int(qs_api_req *r, const char *name, long long lo, long long hi, long long *out,
               int *present);
int qs_api_real(qs_api_req *r, const char *name, double lo, double hi, double *out, int *present);
int qs_api_bool(qs_api_req *r, const char *name, int *out, int *present);
/* One of allowed (NULL-terminated); *out points into allowed or is NULL. */
int qs_api_enum(qs_api_req *r, const char *name, const char *const *allowed, const char **out);
/* A 32-hex-digit phase id. */
int qs_api_phase_id(qs_api_req *r, const char *name, const char **out, int required);
int qs_api_bad(qs_api_req *r, const char *name, const char *fmt, ...) QS_PRINTF(3, 4);

/* SQLite helpers: the error message names the query's purpose. */
int qs_api_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st);
/* Prepares a query template: {RUNS} becomes the `runs` view, or with the
 * covering index a narrow copy of it that reads phases only through
 * phases_read; {PHASES} becomes "phases p" (INDEXED BY phases_read when
 * present). Without statistics (ANALYZE) SQLite prefers the unique id
 * index and then reads the wide table rows, several times slower. The
 * narrow copy has the columns the filters, sort keys and charts use:
 * QS_API_FAST_COLUMNS. */
int qs_api_prepare_src(qs_api_req *r, const char *tmpl, sqlite3_stmt **st);
#define QS_API_FAST_COLUMNS                                                                 \
    "sweep phase_id phase status dataset arch block residual depth width params wbits abits " \
    "regularizer quantizer clr seed test_acc model epochs epochs_done img_per_s finished " \
    "method rounding equalize"
int qs_api_step(sqlite3_stmt *st); /* SQLITE_ROW / SQLITE_DONE, else sets qs_err */
/* Every row of st as the JSON array `key` of objects (qs_jw_row);
 * QS_EINTERNAL on a read error (message set by qs_api_step). */
struct qs_jw;
int qs_api_rows(struct qs_jw *w, const char *key, sqlite3_stmt *st);
/* The "sweep" (optional) and "limit" (1..10000, default 200) parameters of
 * the row listings. */
int qs_api_sweep_limit(qs_api_req *r, const char **sweep, long long *limit);
/* sql prepared with ?1 = sweep (NULL: left NULL, every sweep) and, when
 * limit > 0, ?2 = limit. sweep must outlive the statement. */
int qs_api_prepare_sweep(sqlite3 *db, const char *sql, const char *sweep, long long limit,
                         sqlite3_stmt **st);

/* The charts' shared pieces (api_agg.c). fcdnn models have no block; in
 * the charts they are a "block" of their own, and so is mobilenetv2. */
#define QS_API_BLOCK_EXPR                                                                \
    "CASE WHEN arch = 'fcdnn' THEN (CASE WHEN residual THEN 'fcdnn-res' ELSE 'fcdnn' END)" \
    " ELSE COALESCE(block, arch) END"
/* "float", "W2AF", "WFA2", "W2A2", "W4A8": the paper's names. */
void qs_api_setting_label(char *out, size_t n, long long wbits, long long abits);
/* The same, with a quantizer other than the paper's (Hwang-PACT; "none" for
 * float) appended as the pivot report spells it: "W2A2[lsq+]". NULL: none. */
void qs_api_setting_label_q(char *out, size_t n, long long wbits, long long abits,
                            const char *quantizer);
/* Reads sweep, dataset, phase (retrain | clr | float) and regularizer and
 * binds them to ?1..?4 of st: the selection of /api/depth, /api/width and
 * /api/pareto (float phases always in, phase picks the quantized ones). */
int qs_api_chart_params(qs_api_req *r, sqlite3_stmt *st);

/* Endpoints. */
int qs_api_sweeps(qs_api_req *r);         /* api_sweeps.c */
int qs_api_failures(qs_api_req *r);       /* api_sweeps.c */
int qs_api_runs(qs_api_req *r);           /* api_runs.c */
int qs_api_runs_csv(qs_api_req *r);       /* api_runs.c */
int qs_api_decision_maps(qs_api_req *r);  /* api_runs.c */
int qs_api_curves(qs_api_req *r);         /* api_phase.c */
int qs_api_decision_map(qs_api_req *r);   /* api_phase.c */
int qs_api_bits(qs_api_req *r);           /* api_phase.c */
int qs_api_run(qs_api_req *r);            /* api_run.c */
int qs_api_config(qs_api_req *r);         /* api_run.c */
int qs_api_checkpoint(qs_api_req *r);     /* api_run.c */
int qs_api_depth(qs_api_req *r);          /* api_agg.c */
int qs_api_width(qs_api_req *r);          /* api_agg.c */
int qs_api_effect(qs_api_req *r);         /* api_agg.c */
int qs_api_pareto(qs_api_req *r);         /* api_pareto.c */
int qs_api_table5(qs_api_req *r);         /* api_tables.c */
int qs_api_table4(qs_api_req *r);         /* api_tables.c */

#endif
