/* The API behind the dashboard's Pareto view and run detail, end to end:
 * the real `qsweep serve` on 127.0.0.1 over a generated SQLite file.
 * /api/pareto's points and frontier are recomputed here from the file
 * (points in SQL, the frontier by the definition: no other point at most
 * as costly and at least as accurate); /api/run's parent chain, config and
 * reproduce command against the phases table; /api/config and
 * /api/checkpoint return the stored bytes, 404 with a message when there
 * are none, and 400 naming the parameter for a bad id. */
/* gen_db.h's live-sweep writer (qs_gen_advance) is test_http.c's, not ours. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "http_suite.h"

/* A checkpoint row the file gets before the server starts: its bytes must
 * come back unchanged from /api/checkpoint. */
static const unsigned char g_ckpt[] = {'Q', 'S', 'C', 'K', 0, 1, 2, 255, 0, 'x'};
static char g_ckpt_id[33];

static int seed_checkpoint(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = 1;
    if (sqlite3_open(g_db, &db) != SQLITE_OK)
        goto cleanup;
    if (sqlite3_prepare_v2(db, "SELECT id FROM phases WHERE status = 'done' AND phase = 'float' ORDER BY id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        goto cleanup;
    snprintf(g_ckpt_id, sizeof g_ckpt_id, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO checkpoints(phase_id, epoch, final, bytes, data, created)"
                               " VALUES(?, 1, 1, ?, ?, 0)", -1, &st, NULL) != SQLITE_OK)
        goto cleanup;
    sqlite3_bind_text(st, 1, g_ckpt_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)sizeof g_ckpt);
    sqlite3_bind_blob(st, 3, g_ckpt, (int)sizeof g_ckpt, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 1;
cleanup:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* The points /api/pareto must have for a sweep: one per model and W/A
 * setting among its done float and retrain (no regularizer) runs. */
#define PARETO_POINTS_SQL                                                                          \
    "SELECT count(*) FROM (SELECT DISTINCT coalesce(block, arch), residual, depth, width, wbits, abits" \
    " FROM runs WHERE sweep = ? AND status = 'done' AND test_acc IS NOT NULL AND model_bits > 0"   \
    " AND (phase = 'float' OR (phase = 'retrain' AND regularizer = 'none')))"

/* Frontier by definition, independent of the server's sort: a point is on
 * it when no other point costs at most as much and is at least as
 * accurate (strictly better in one), ties in both broken by list order. */
static int count_frontier(cJSON *pts, int *wrong)
{
    int n = cJSON_GetArraySize(pts), k = 0;
    *wrong = -1;
    for (int i = 0; i < n; i++) {
        cJSON *p = cJSON_GetArrayItem(pts, i);
        double x = num(p, "x"), y = num(p, "mean");
        int dominated = 0;
        for (int j = 0; j < n && !dominated; j++) {
            cJSON *q = cJSON_GetArrayItem(pts, j);
            double qx = num(q, "x"), qy = num(q, "mean");
            if (j != i && qx <= x && qy >= y && (qx < x || qy > y || j < i))
                dominated = 1;
        }
        k += !dominated;
        if (cJSON_IsTrue(cJSON_GetObjectItem(p, "frontier")) != !dominated && *wrong < 0)
            *wrong = i;
    }
    return k;
}

static void api_pareto(void)
{
    const char *xs[] = {"bits", "bops"};
    for (int t = 0; t < 2; t++) {
        char path[128];
        int st;
        snprintf(path, sizeof path, "/api/pareto?sweep=table5-cifar10&x=%s", xs[t]);
        cJSON *j = get_json(path, &st);
        T_CHECK(st == 200 && j, "%s -> %d", path, st);
        cJSON *pts = cJSON_GetObjectItem(j, "points");
        long long want = sql_int(PARETO_POINTS_SQL, "table5-cifar10");
        int n = cJSON_GetArraySize(pts), wrong;
        T_CHECK(want > 10 && n == want && num(j, "n") == n, "%s: %d points, the file has %lld", xs[t], n,
                want);
        int k = count_frontier(pts, &wrong);
        T_CHECK(wrong < 0, "%s: point %d's frontier flag is wrong", xs[t], wrong);
        T_CHECK(k >= 2 && k < n && num(j, "frontier") == k, "%s: frontier %g, by definition %d", xs[t],
                num(j, "frontier"), k);
        /* Each point's runs are done runs of the file with its accuracy. */
        cJSON *p0 = cJSON_GetArrayItem(pts, 0);
        cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(p0, "runs"), 0);
        T_CHECK(run && sql_int("SELECT count(*) FROM phases WHERE id = ? AND status = 'done'",
                               str(run, "phase_id")) == 1, "%s: a point's run is not a done phase", xs[t]);
        T_CHECK(num(p0, "n") == cJSON_GetArraySize(cJSON_GetObjectItem(p0, "runs")), "n vs runs");
        cJSON_Delete(j);
    }
    /* A selection without runs: no points, no frontier, no error. */
    int st;
    cJSON *j = get_json("/api/pareto?sweep=table5-cifar10&dataset=imagenet", &st);
    T_CHECK(st == 200 && num(j, "n") == 0 && num(j, "frontier") == 0, "empty selection -> %d", st);
    cJSON_Delete(j);
}

static void api_run_detail(void)
{
    char id[33], parent[33], grand[33], path[128];
    int st;
    sqlite3 *db = open_db();
    sqlite3_stmt *q;
    T_CHECK(sqlite3_prepare_v2(db, "SELECT c.id, c.parent_id, r.parent_id FROM phases c JOIN phases r"
                                   " ON r.id = c.parent_id WHERE c.phase = 'clr' ORDER BY c.id LIMIT 1",
                               -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW,
            "no clr phase in the file");
    snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(q, 0));
    snprintf(parent, sizeof parent, "%s", (const char *)sqlite3_column_text(q, 1));
    snprintf(grand, sizeof grand, "%s", (const char *)sqlite3_column_text(q, 2));
    sqlite3_finalize(q);
    sqlite3_close(db);
    snprintf(path, sizeof path, "/api/run?phase_id=%s", id);
    cJSON *j = get_json(path, &st);
    T_CHECK(st == 200 && j, "%s -> %d", path, st);
    cJSON *parents = cJSON_GetObjectItem(j, "parents");
    T_CHECK(cJSON_GetArraySize(parents) == 2, "%d parents, want 2 (retrain, float)",
            cJSON_GetArraySize(parents));
    T_CHECK(!strcmp(str(cJSON_GetArrayItem(parents, 0), "phase_id"), parent) &&
                !strcmp(str(cJSON_GetArrayItem(parents, 1), "phase_id"), grand),
            "parent chain out of order");
    T_CHECK(!strcmp(str(cJSON_GetArrayItem(parents, 1), "phase"), "float"), "chain does not end at float");
    cJSON *cfg = cJSON_GetObjectItem(j, "config");
    T_CHECK(cJSON_IsObject(cfg) && str(cfg, "phase") && !strcmp(str(cfg, "phase"), "clr"),
            "config is not the job JSON");
    char want[256];
    snprintf(want, sizeof want, "qsweep train --config %s.json --from %s.ckpt --save %s.ckpt", id, parent, id);
    T_CHECK(str(j, "reproduce") && !strcmp(str(j, "reproduce"), want), "reproduce: %s", str(j, "reproduce"));
    T_CHECK(is_null(j, "checkpoint"), "a checkpoint where the file has none");
    T_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "sweeps")) >= 1, "no sweep listed");
    cJSON_Delete(j);

    /* The float parent has the clr's parent among its children. */
    snprintf(path, sizeof path, "/api/run?phase_id=%s", grand);
    j = get_json(path, &st);
    cJSON *kids = cJSON_GetObjectItem(j, "children");
    int found = 0;
    for (int i = 0; i < cJSON_GetArraySize(kids); i++)
        found |= !strcmp(str(cJSON_GetArrayItem(kids, i), "phase_id"), parent);
    T_CHECK(st == 200 && found && cJSON_GetArraySize(cJSON_GetObjectItem(j, "parents")) == 0,
            "float phase: children or parents wrong");
    cJSON_Delete(j);
}

static void api_config_download(void)
{
    resp r;
    char path[128], disp[128];
    snprintf(path, sizeof path, "/api/config?phase_id=%s", g_ckpt_id);
    get(path, &r);
    int st = r.status;
    header(&r, "Content-Disposition", disp, sizeof disp);
    cJSON *j = r.body ? cJSON_Parse(r.body) : NULL;
    resp_free(&r);
    T_CHECK(st == 200 && cJSON_IsObject(j) && !strncmp(disp, "attachment", 10), "config -> %d (%s)", st, disp);
    T_CHECK(str(j, "phase") && !strcmp(str(j, "phase"), "float"), "not the phase's job JSON");
    cJSON_Delete(j);
}

static void api_checkpoint_download(void)
{
    resp r;
    char path[128], ct[128];
    snprintf(path, sizeof path, "/api/checkpoint?phase_id=%s", g_ckpt_id);
    get(path, &r);
    int st = r.status;
    header(&r, "Content-Type", ct, sizeof ct);
    int same = r.len == sizeof g_ckpt && r.body && !memcmp(r.body, g_ckpt, sizeof g_ckpt);
    resp_free(&r);
    T_CHECK(st == 200 && strstr(ct, "octet-stream") && same, "checkpoint -> %d %s, bytes %s", st, ct,
            same ? "same" : "differ");
    char id[33];
    snprintf(id, sizeof id, "%s", "");
    cJSON *rows = get_json("/api/runs?sweep=live&status=done&limit=1", &st);
    snprintf(id, sizeof id, "%s", str(cJSON_GetArrayItem(cJSON_GetObjectItem(rows, "rows"), 0), "phase_id"));
    cJSON_Delete(rows);
    snprintf(path, sizeof path, "/api/checkpoint?phase_id=%s", id);
    cJSON *j = get_json(path, &st);
    const char *err = j ? str(j, "error") : NULL;
    T_CHECK(st == 404 && err && strstr(err, "no checkpoint") && strstr(err, id), "no checkpoint -> %d: %s", st,
            err ? err : "(no JSON error)");
    cJSON_Delete(j);
}

/* Bad ids and values: 4xx with a message naming the parameter. */
static void api_views_errors(void)
{
    struct {
        const char *path;
        int status;
    } cases[] = {
        {"/api/pareto?x=flops", 400},
        {"/api/pareto?phase=train", 400},
        {"/api/pareto?regularizer=l2", 400},
        {"/api/pareto?colour=red", 400},
        {"/api/run", 400},
        {"/api/run?phase_id=xyz", 400},
        {"/api/run?phase_id=0123456789abcdef0123456789abcdeg", 400},
        {"/api/run?phase_id=ffffffffffffffffffffffffffffffff", 404},
        {"/api/config?phase_id=", 400},
        {"/api/config?phase_id=ffffffffffffffffffffffffffffffff", 404},
        {"/api/checkpoint?phase_id=../../etc/passwd", 400},
        {"/api/checkpoint?phase_id=ffffffffffffffffffffffffffffffff", 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st;
        cJSON *j = get_json(cases[i].path, &st);
        const char *err = j ? str(j, "error") : NULL;
        const char *param = j ? str(j, "parameter") : NULL;
        char shown[200];
        snprintf(shown, sizeof shown, "%s", err ? err : "(no JSON error)");
        int ok = st == cases[i].status && err && param;
        cJSON_Delete(j);
        T_CHECK(ok, "%s: status %d (want %d), error: %s", cases[i].path, st, cases[i].status, shown);
    }
}

int main(void)
{
    if (suite_setup("http-views"))
        return 1;
    if (seed_checkpoint()) {
        printf("FAIL setup: cannot add a checkpoint row to %s\n", g_db);
        suite_teardown();
        return 1;
    }
    if (suite_serve("setup: qsweep serve printed no URL"))
        return 1;
    T_RUN(api_pareto);
    T_RUN(api_run_detail);
    T_RUN(api_config_download);
    T_RUN(api_checkpoint_download);
    T_RUN(api_views_errors);
    T_RUN(database_untouched);
    suite_teardown();
    T_EXIT();
}
