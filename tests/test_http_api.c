/* The JSON API of `qsweep serve` end to end, endpoint by endpoint: the real
 * binary on 127.0.0.1, real HTTP, answers checked against the generated
 * SQLite file itself (counts, means and stds recomputed in SQL), and every
 * bad parameter answered 4xx with a message naming it. */
/* gen_db.h's live-sweep writer (qs_gen_advance) is test_http.c's, not ours. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "http_suite.h"
#include "paper.h"

static void api_sweeps(void)
{
    int st;
    cJSON *j = get_json("/api/sweeps", &st);
    T_CHECK(st == 200 && j, "status %d", st);
    cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sweeps");
    T_CHECK(cJSON_GetArraySize(sw) == 5, "%d sweeps, want 5", cJSON_GetArraySize(sw));
    cJSON *s;
    int seen_live = 0, seen_t5 = 0;
    cJSON_ArrayForEach(s, sw) {
        const char *name = str(s, "name");
        long long n = sql_int("SELECT count(*) FROM runs WHERE sweep = ?", name);
        T_CHECK(num(s, "phases") == n, "%s: %g phases, database has %lld", name, num(s, "phases"), n);
        static const char *const states[] = {"queued", "running", "done", "failed"};
        double sum = 0;
        for (int k = 0; k < 4; k++) {
            char q[128];
            snprintf(q, sizeof q, "SELECT count(*) FROM runs WHERE sweep = ? AND status = '%s'", states[k]);
            long long c = sql_int(q, name);
            T_CHECK(num(s, states[k]) == c, "%s: %s %g, database %lld", name, states[k], num(s, states[k]), c);
            sum += c;
        }
        T_CHECK(sum == n, "%s: counts do not add up", name);
        if (!strcmp(name, "live")) {
            seen_live = 1;
            T_CHECK(!strcmp(str(s, "state"), "running"), "live: state %s", str(s, "state"));
            T_CHECK(num(s, "eta_s") > 0, "live: eta_s %g", num(s, "eta_s"));
            T_CHECK(num(s, "progress") > 0 && num(s, "progress") < 1, "live: progress %g", num(s, "progress"));
        }
        if (!strcmp(name, "table5-cifar10")) {
            seen_t5 = 1;
            T_CHECK(!strcmp(str(s, "state"), "finished"), "table5: state %s", str(s, "state"));
            T_CHECK(num(s, "eta_s") == 0, "table5: eta_s %g", num(s, "eta_s"));
        }
    }
    T_CHECK(seen_live && seen_t5, "sweeps missing");
    cJSON_Delete(j);
    j = get_json("/api/sweeps?sweep=live", &st);
    T_CHECK(st == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "sweeps")) == 1, "?sweep=live");
    cJSON_Delete(j);
}

static void api_failures(void)
{
    int st;
    cJSON *j = get_json("/api/failures", &st);
    T_CHECK(st == 200 && j, "status %d", st);
    long long n = sql_int("SELECT count(*) FROM runs WHERE status = 'failed'", NULL);
    T_CHECK(num(j, "total") == n && n >= 3, "total %g, database %lld", num(j, "total"), n);
    cJSON *rows = cJSON_GetObjectItem(j, "rows"), *r;
    int diverged = 0, parent = 0;
    cJSON_ArrayForEach(r, rows) {
        const char *e = str(r, "error");
        T_CHECK(e, "a failure without a reason");
        diverged += !strncmp(e, "diverged", 8);
        parent += !strncmp(e, "parent failed: ", 15);
    }
    T_CHECK(diverged && parent, "reasons missing (diverged %d, parent %d)", diverged, parent);
    /* A divergence's epoch and loss are left out of its reason: all the
     * diverged phases count under one "diverged". */
    long long nd = sql_int("SELECT count(*) FROM runs WHERE status = 'failed' AND "
                           "(error = 'diverged' OR error LIKE 'diverged at epoch %')", NULL);
    double got = -1;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "reasons"))
        if (str(r, "error") && !strcmp(str(r, "error"), "diverged"))
            got = num(r, "n");
    T_CHECK(nd >= 1 && got == nd, "reason diverged: n %g, database %lld", got, nd);
    cJSON_Delete(j);
    j = get_json("/api/failures?sweep=table5-cifar10", &st);
    T_CHECK(st == 200 && num(j, "total") == 0, "table5 has no failures");
    cJSON_Delete(j);
}

static void api_runs_filters(void)
{
    int st;
    cJSON *j = get_json("/api/runs?sweep=table5-cifar10&block=basic&depth=20&wbits=2&abits=2", &st);
    T_CHECK(st == 200 && j, "status %d", st);
    T_CHECK(num(j, "total") == 3, "total %g, want 3 seeds", num(j, "total"));
    cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "rows")) {
        T_CHECK(!strcmp(str(r, "block"), "basic") && num(r, "depth") == 20 && num(r, "wbits") == 2 &&
                    num(r, "abits") == 2 && !strcmp(str(r, "sweep"), "table5-cifar10"),
                "a row outside the filter");
        T_CHECK(!strcmp(str(r, "model"), "resnet-basic-20-31"), "model %s", str(r, "model"));
    }
    cJSON_Delete(j);

    /* Sorting and paging. */
    j = get_json("/api/runs?sweep=table5-cifar10&sort=test_acc&order=desc&limit=50", &st);
    T_CHECK(st == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows")) == 50, "limit 50");
    double prev = 1e9;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "rows")) {
        T_CHECK(num(r, "test_acc") <= prev, "not sorted by test_acc desc");
        prev = num(r, "test_acc");
    }
    const char *id50 = str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 49), "phase_id");
    cJSON *k = get_json("/api/runs?sweep=table5-cifar10&sort=test_acc&order=desc&limit=10&offset=49", &st);
    T_CHECK(st == 200 && !strcmp(str(cJSON_GetArrayItem(cJSON_GetObjectItem(k, "rows"), 0), "phase_id"), id50),
            "offset does not continue the order");
    cJSON_Delete(k);
    cJSON_Delete(j);

    struct {
        const char *q, *sql;
    } cases[] = {
        {"/api/runs?block=none&limit=1", "SELECT count(*) FROM runs WHERE block IS NULL"},
        {"/api/runs?clr=true&limit=1", "SELECT count(*) FROM runs WHERE clr = 1"},
        {"/api/runs?phase=float&dataset=cifar10&limit=1",
         "SELECT count(*) FROM runs WHERE phase = 'float' AND dataset = 'cifar10'"},
        {"/api/runs?status=running&limit=1", "SELECT count(*) FROM runs WHERE status = 'running'"},
        {"/api/runs?regularizer=lipschitz&limit=1", "SELECT count(*) FROM runs WHERE regularizer = 'lipschitz'"},
        {"/api/runs?width=16&seed=2&limit=1", "SELECT count(*) FROM runs WHERE width = 16 AND seed = 2"},
        {"/api/runs?arch=fcdnn&limit=1", "SELECT count(*) FROM runs WHERE arch = 'fcdnn'"},
        {"/api/runs?sweep=nonexistent", "SELECT 0"},
        /* Injection attempts are just values that match nothing. */
        {"/api/runs?sweep=%27%20OR%20%271%27=%271", "SELECT 0"},
        {"/api/runs?dataset=cifar10%22;%20DROP%20TABLE%20phases;--", "SELECT 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        j = get_json(cases[i].q, &st);
        long long want = sql_int(cases[i].sql, NULL);
        double got = j ? num(j, "total") : -1;
        cJSON_Delete(j);
        T_CHECK(st == 200 && got == want, "%s: status %d total %g, database %lld", cases[i].q, st, got, want);
    }
    T_CHECK(sql_int("SELECT count(*) FROM phases", NULL) > 0, "the phases table is gone");
}

static void api_runs_csv(void)
{
    resp r;
    get("/api/runs.csv?sweep=live&sort=test_acc&order=desc", &r);
    char ct[128], cd[256];
    header(&r, "Content-Type", ct, sizeof ct);
    header(&r, "Content-Disposition", cd, sizeof cd);
    int st = r.status;
    long lines = 0;
    for (size_t i = 0; i < r.len; i++)
        lines += r.body[i] == '\n';
    int starts = !strncmp(r.body, "sweep,phase_id,", 15);
    int has_err_quoted = strstr(r.body, "error: worker on rank 3 exited (signal 9)") != NULL;
    resp_free(&r);
    long long n = sql_int("SELECT count(*) FROM runs WHERE sweep = 'live'", NULL);
    T_CHECK(st == 200, "status %d", st);
    T_CHECK(strstr(ct, "text/csv"), "Content-Type %s", ct);
    T_CHECK(strstr(cd, "attachment"), "Content-Disposition %s", cd);
    T_CHECK(starts, "header line");
    T_CHECK(lines == n + 1, "%ld lines, want %lld rows + header", lines, n);
    T_CHECK(has_err_quoted, "the failure reason is not in the CSV");
    get("/api/runs.csv?depth=x", &r);
    st = r.status;
    resp_free(&r);
    T_CHECK(st == 400, "bad filter on CSV -> %d", st);
}

static void api_curves(void)
{
    int st;
    cJSON *j = get_json("/api/runs?sweep=live&status=running&limit=1", &st);
    T_CHECK(st == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows")) == 1, "a running phase");
    char id[40], path[128];
    snprintf(id, sizeof id, "%s", str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0), "phase_id"));
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/api/curves?phase_id=%s", id);
    j = get_json(path, &st);
    T_CHECK(st == 200 && j, "curves status %d", st);
    cJSON *run = cJSON_GetObjectItem(j, "run"), *ep = cJSON_GetObjectItem(j, "epochs");
    long long n = sql_int("SELECT count(*) FROM epochs WHERE phase_id = ?", id);
    T_CHECK(num(j, "n") == n && n > 0, "n %g, database %lld", num(j, "n"), n);
    cJSON *e = cJSON_GetObjectItem(ep, "epoch"), *acc = cJSON_GetObjectItem(ep, "test_acc");
    T_CHECK(cJSON_GetArraySize(e) == n && cJSON_GetArraySize(acc) == n, "column lengths");
    for (int i = 0; i < n; i++)
        T_CHECK(cJSON_GetArrayItem(e, i)->valuedouble == i + 1, "epoch %d out of order", i);
    T_CHECK(num(run, "epochs_done") == n, "epochs_done %g", num(run, "epochs_done"));
    T_CHECK(fabs(cJSON_GetArrayItem(acc, (int)n - 1)->valuedouble - num(run, "test_acc")) < 1e-9,
            "last epoch's test_acc is not the phase's");
    T_CHECK(cJSON_GetObjectItem(ep, "lr") && cJSON_GetObjectItem(ep, "test_loss"), "columns missing");
    cJSON_Delete(j);

    j = get_json("/api/curves?phase_id=ffffffffffffffffffffffffffffffff", &st);
    T_CHECK(st == 404 && str(j, "error"), "unknown phase -> %d", st);
    cJSON_Delete(j);
}

/* /api/bits: a done phase's learned widths in layer order, as phase_bits
 * holds them (rows written here: the generated database has none); a
 * phase without them has an empty list; the runs view's means follow. */
static void api_bits(void)
{
    int st;
    cJSON *j = get_json("/api/runs?sweep=table5-cifar10&status=done&phase=retrain&limit=2", &st);
    cJSON *rows = cJSON_GetObjectItem(j, "rows");
    T_CHECK(st == 200 && cJSON_GetArraySize(rows) == 2, "two done retrains");
    char id[40], other[40], path[128];
    snprintf(id, sizeof id, "%s", str(cJSON_GetArrayItem(rows, 0), "phase_id"));
    snprintf(other, sizeof other, "%s", str(cJSON_GetArrayItem(rows, 1), "phase_id"));
    cJSON_Delete(j);
    sqlite3 *db = NULL;
    char *sql = sqlite3_mprintf("INSERT INTO phase_bits(phase_id, layer, node, kind, bits, count) "
                                "VALUES (%Q, 1, 7, 'a', 3, 4096), (%Q, 0, 4, 'w', 5, 2304), "
                                "(%Q, 2, 9, 'w', 2, 4608)", id, id, id);
    int ok = sqlite3_open(g_db, &db) == SQLITE_OK &&
             sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    sqlite3_free(sql);
    T_CHECK(ok, "inserting phase_bits rows");
    g_db_hash = file_hash(g_db); /* written here, not by the server */
    snprintf(path, sizeof path, "/api/bits?phase_id=%s", id);
    j = get_json(path, &st);
    cJSON *l = cJSON_GetObjectItem(j, "layers");
    T_CHECK(st == 200 && cJSON_GetArraySize(l) == 3, "status %d, %d layers", st,
            cJSON_GetArraySize(l));
    static const double want[3][4] = {{0, 4, 5, 2304}, {1, 7, 3, 4096}, {2, 9, 2, 4608}};
    static const char kinds[] = "waw";
    for (int i = 0; i < 3; i++) {
        cJSON *r = cJSON_GetArrayItem(l, i);
        T_CHECK(num(r, "layer") == want[i][0] && num(r, "node") == want[i][1] &&
                    num(r, "bits") == want[i][2] && num(r, "count") == want[i][3] &&
                    str(r, "kind") && str(r, "kind")[0] == kinds[i],
                "layer %d: %g %g %g %g", i, num(r, "layer"), num(r, "node"), num(r, "bits"),
                num(r, "count"));
    }
    cJSON_Delete(j);
    T_CHECK(sql_int("SELECT 100 * mean_wbits + mean_abits FROM runs WHERE phase_id = ?", id) ==
                353, "runs view means");
    snprintf(path, sizeof path, "/api/bits?phase_id=%s", other);
    j = get_json(path, &st);
    T_CHECK(st == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "layers")) == 0,
            "a phase without learned widths: status %d", st);
    cJSON_Delete(j);
    j = get_json("/api/bits?phase_id=ffffffffffffffffffffffffffffffff", &st);
    T_CHECK(st == 404 && str(j, "error"), "unknown phase -> %d", st);
    cJSON_Delete(j);
}

/* mean and sample std of the test_acc of runs matching a filter. */
static void stats_of(const char *q, double *mean, double *sd, int *n)
{
    int st;
    cJSON *j = get_json(q, &st), *r;
    double s = 0, ss = 0;
    *n = 0;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "rows")) {
        double v = num(r, "test_acc");
        s += v;
        ss += v * v;
        (*n)++;
    }
    *mean = *n ? s / *n : NAN;
    *sd = *n > 1 ? sqrt((ss - *n * *mean * *mean) / (*n - 1)) : NAN;
    cJSON_Delete(j);
}

static cJSON *find_group(cJSON *groups, const char *block, int wb, int ab, const char *xkey, int x)
{
    cJSON *g;
    cJSON_ArrayForEach(g, groups) {
        if (!strcmp(str(g, "block"), block) && num(g, "wbits") == wb && num(g, "abits") == ab &&
            num(g, xkey) == x)
            return g;
    }
    return NULL;
}

static void api_depth_width(void)
{
    int st, n;
    double mean, sd;
    cJSON *j = get_json("/api/depth?sweep=table5-cifar10&dataset=cifar10&budget=1000000", &st);
    T_CHECK(st == 200 && j, "depth status %d", st);
    cJSON *groups = cJSON_GetObjectItem(j, "groups");
    /* 17 architectures x 4 settings. */
    T_CHECK(cJSON_GetArraySize(groups) == 68, "%d groups, want 68", cJSON_GetArraySize(groups));
    cJSON *g = find_group(groups, "basic", 2, 2, "depth", 20);
    T_CHECK(g, "no basic W2A2 depth 20 group");
    stats_of("/api/runs?sweep=table5-cifar10&block=basic&depth=20&wbits=2&abits=2&phase=retrain", &mean,
             &sd, &n);
    T_CHECK(num(g, "n") == 3 && n == 3, "n %g / %d", num(g, "n"), n);
    T_CHECK(fabs(num(g, "mean") - mean) < 1e-9, "mean %g, runs give %g", num(g, "mean"), mean);
    T_CHECK(fabs(num(g, "std") - sd) < 1e-9, "std %g, runs give %g", num(g, "std"), sd);
    T_CHECK(!strcmp(str(g, "setting"), "W2A2"), "setting %s", str(g, "setting"));
    T_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(g, "runs")) == 3, "runs listed");
    g = find_group(groups, "depthwise", 32, 32, "depth", 110);
    T_CHECK(g && !strcmp(str(g, "setting"), "float"), "depthwise float 110");
    cJSON_Delete(j);

    /* A budget no model is near selects nothing. */
    j = get_json("/api/depth?sweep=table5-cifar10&budget=10", &st);
    T_CHECK(st == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "groups")) == 0, "budget 10");
    cJSON_Delete(j);

    j = get_json("/api/width?sweep=width-basic20&depth=20", &st);
    T_CHECK(st == 200 && j, "width status %d", st);
    groups = cJSON_GetObjectItem(j, "groups");
    T_CHECK(cJSON_GetArraySize(groups) == 24, "%d width groups, want 6 widths x 4", cJSON_GetArraySize(groups));
    g = find_group(groups, "basic", 32, 2, "width", 8);
    T_CHECK(g && num(g, "n") == 2 && !strcmp(str(g, "setting"), "WFA2"), "basic WFA2 width 8");
    cJSON *g48 = find_group(groups, "basic", 32, 2, "width", 48);
    T_CHECK(g48 && num(g48, "mean") > num(g, "mean"), "wider is not better in the generated data");
    cJSON_Delete(j);

    /* Shared phases (width-basic20 and table4 share basic-20-16) count
     * once when no sweep is given. */
    j = get_json("/api/width?depth=20&dataset=cifar10", &st);
    g = find_group(cJSON_GetObjectItem(j, "groups"), "basic", 32, 32, "width", 16);
    T_CHECK(g && num(g, "n") == 2, "shared float phases counted %g times", g ? num(g, "n") : -1);
    cJSON_Delete(j);

    j = get_json("/api/depth?phase=clr&regularizer=lipschitz&sweep=table4-lipschitz", &st);
    T_CHECK(st == 200, "clr depth status %d", st);
    g = find_group(cJSON_GetObjectItem(j, "groups"), "basic", 2, 2, "depth", 20);
    T_CHECK(g && num(g, "n") == 2, "clr+lipschitz depth 20");
    cJSON_Delete(j);

    j = get_json("/api/effect?sweep=table4-lipschitz", &st);
    T_CHECK(st == 200 && j, "effect status %d", st);
    int variants = 0;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(j, "groups")) {
        if (num(g, "depth") == 20)
            variants++;
    }
    T_CHECK(variants == 5, "%d variants at depth 20, want 5", variants);
    cJSON_Delete(j);
}

static void api_tables(void)
{
    int st;
    cJSON *j = get_json("/api/table5?sweep=table5-cifar10", &st);
    T_CHECK(st == 200 && j, "table5 status %d", st);
    cJSON *rows = cJSON_GetObjectItem(j, "rows");
    T_CHECK(cJSON_GetArraySize(rows) == qs_paper_table5_rows && qs_paper_table5_rows == 17, "17 rows");
    T_CHECK(num(j, "cells_matched") == 68, "%g cells matched, want 68", num(j, "cells_matched"));
    cJSON *r = cJSON_GetArrayItem(rows, 2); /* basic 20 31 */
    cJSON *ours = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "ours"), "w2a2");
    double pub = num(cJSON_GetObjectItem(r, "published"), "w2a2");
    double diff = num(cJSON_GetObjectItem(r, "diff"), "w2a2");
    T_CHECK(pub == 92.65, "published basic-20 W2A2 %g", pub);
    T_CHECK(fabs(num(ours, "mean") - pub - diff) < 1e-9, "diff is not ours - published");
    T_CHECK(num(ours, "n") == 3, "n %g", num(ours, "n"));
    cJSON *vals = cJSON_GetObjectItem(ours, "values");
    double sum = 0;
    for (int i = 0; i < cJSON_GetArraySize(vals); i++)
        sum += cJSON_GetArrayItem(vals, i)->valuedouble;
    T_CHECK(cJSON_GetArraySize(vals) == 3 && fabs(sum / 3 - num(ours, "mean")) < 1e-9,
            "per-seed values do not give the mean");
    /* The claims with their intervals (the numbers: tests/test_verdict.c). */
    cJSON *claims = cJSON_GetObjectItem(j, "claims");
    T_CHECK(cJSON_GetArraySize(claims) == 4, "%d claims", cJSON_GetArraySize(claims));
    for (int i = 0; i < 4; i++) {
        cJSON *c = cJSON_GetArrayItem(claims, i);
        const char *v = str(c, "verdict");
        T_CHECK(v && (!strcmp(v, "holds") || !strcmp(v, "within noise") ||
                      !strcmp(v, "contradicted") || !strcmp(v, "not enough data")),
                "claim %d verdict %s", i + 1, v ? v : "(none)");
        cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "comparisons"), 0);
        T_CHECK(m && num(m, "n_a") == 3 && num(m, "ci_low") <= num(m, "diff") &&
                    num(m, "diff") <= num(m, "ci_high"),
                "claim %d comparison", i + 1);
        T_CHECK(num(c, "diff") == num(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "comparisons"),
                                                         (int)num(c, "decisive")), "diff"),
                "claim %d: the claim's difference is not its deciding comparison's", i + 1);
    }
    cJSON_Delete(j);

    /* A sweep with none of the architectures: every cell "-" (null). */
    j = get_json("/api/table5?sweep=width-basic20", &st);
    T_CHECK(st == 200 && num(j, "cells_matched") == 0, "width sweep matched cells");
    T_CHECK(num(j, "rows_left_out") == 1, "basic-20 at six widths is not left out");
    r = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0);
    T_CHECK(is_null(cJSON_GetObjectItem(r, "ours"), "float") && is_null(cJSON_GetObjectItem(r, "diff"), "float"),
            "missing cells are not null");
    T_CHECK(num(cJSON_GetObjectItem(r, "published"), "float") == 93.26, "published stays");
    cJSON_Delete(j);

    j = get_json("/api/table4?sweep=table4-lipschitz", &st);
    T_CHECK(st == 200 && j, "table4 status %d", st);
    rows = cJSON_GetObjectItem(j, "rows");
    T_CHECK(cJSON_GetArraySize(rows) == 4, "4 rows");
    /* Depth 110: one CLR phase running, the other's parent diverged. */
    r = cJSON_GetArrayItem(rows, 3);
    T_CHECK(num(r, "depth") == 110 && is_null(cJSON_GetObjectItem(r, "ours"), "w2a2_lipschitz_clr"),
            "depth 110 Lipschitz+CLR should be missing");
    T_CHECK(num(j, "cells_matched") == 11, "%g cells matched, want 11", num(j, "cells_matched"));
    cJSON_Delete(j);
}


static void api_decision_map(void)
{
    int st;
    cJSON *j = get_json("/api/decision_maps?sweep=synthetic-fcdnn", &st);
    T_CHECK(st == 200 && j, "list status %d", st);
    cJSON *rows = cJSON_GetObjectItem(j, "rows");
    long long n = sql_int("SELECT count(*) FROM decision_maps", NULL);
    T_CHECK(cJSON_GetArraySize(rows) == n && n == 36, "%d maps listed, database %lld", cJSON_GetArraySize(rows), n);
    char id[40], path[128];
    snprintf(id, sizeof id, "%s", str(cJSON_GetArrayItem(rows, 0), "phase_id"));
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/api/decision_map?phase_id=%s", id);
    j = get_json(path, &st);
    T_CHECK(st == 200 && j, "map status %d", st);
    cJSON *lab = cJSON_GetObjectItem(j, "labels");
    T_CHECK(num(j, "width") == 256 && num(j, "height") == 256 && cJSON_GetArraySize(lab) == 65536,
            "size %gx%g, %d labels", num(j, "width"), num(j, "height"), cJSON_GetArraySize(lab));
    int ones = 0;
    cJSON *v;
    cJSON_ArrayForEach(v, lab) {
        T_CHECK(v->valueint == 0 || v->valueint == 1, "label %d", v->valueint);
        ones += v->valueint;
    }
    T_CHECK(ones > 1000 && ones < 64000, "a degenerate map (%d ones)", ones);
    cJSON_Delete(j);

    resp r;
    snprintf(path, sizeof path, "/api/decision_map?phase_id=%s&format=png", id);
    get(path, &r);
    char ct[64];
    header(&r, "Content-Type", ct, sizeof ct);
    int png = r.len > 33 && !memcmp(r.body, "\x89PNG\r\n\x1a\n", 8) && !memcmp(r.body + 12, "IHDR", 4) &&
              r.body[16] == 0 && (unsigned char)r.body[18] == 1 && r.body[22] == 1; /* 256 x 256 */
    st = r.status;
    resp_free(&r);
    T_CHECK(st == 200 && !strcmp(ct, "image/png") && png, "PNG: status %d type %s", st, ct);

    /* A cifar10 phase has no map. */
    j = get_json("/api/runs?dataset=cifar10&limit=1", &st);
    snprintf(path, sizeof path, "/api/decision_map?phase_id=%s",
             str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0), "phase_id"));
    cJSON_Delete(j);
    get(path, &r);
    st = r.status;
    resp_free(&r);
    T_CHECK(st == 404, "no map -> %d", st);
}

static void api_errors(void)
{
    struct {
        const char *path;
        int status;
        const char *param; /* the "parameter" the error names, or NULL */
    } cases[] = {
        {"/api/nothing", 404, NULL},
        {"/api", 404, NULL},
        {"/nothing.html", 404, NULL},
        {"/api/runs?depth=abc", 400, "depth"},
        {"/api/runs?depth=-3", 400, "depth"},
        {"/api/runs?wbits=33", 400, "wbits"},
        {"/api/runs?status=sleeping", 400, "status"},
        {"/api/runs?phase=train", 400, "phase"},
        {"/api/runs?clr=maybe", 400, "clr"},
        {"/api/runs?sort=config;DROP", 400, "sort"},
        {"/api/runs?order=sideways", 400, "order"},
        {"/api/runs?limit=0", 400, "limit"},
        {"/api/runs?limit=1000000", 400, "limit"},
        {"/api/runs?offset=-1", 400, "offset"},
        {"/api/runs?colour=red", 400, "colour"},
        {"/api/runs?depth=1&depth=2", 400, "depth"},
        {"/api/curves", 400, "phase_id"},
        {"/api/curves?phase_id=xyz", 400, "phase_id"},
        {"/api/curves?phase_id=0123456789abcdef0123456789abcdeg", 400, "phase_id"},
        {"/api/bits", 400, "phase_id"},
        {"/api/bits?phase_id=xyz", 400, "phase_id"},
        {"/api/decision_map?phase_id=0123456789abcdef0123456789abcdef&format=gif", 400, "format"},
        {"/api/depth?budget=lots", 400, "budget"},
        {"/api/depth?phase=float2", 400, "phase"},
        {"/api/width?depth=1e3", 400, "depth"},
        {"/api/effect?block=round", 400, "block"},
        {"/api/failures?limit=x", 400, "limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st;
        cJSON *j = get_json(cases[i].path, &st);
        const char *err = j ? str(j, "error") : NULL;
        const char *param = j ? str(j, "parameter") : NULL;
        int ok = st == cases[i].status && err &&
                 (!cases[i].param || (param && !strcmp(param, cases[i].param)));
        char shown[200];
        snprintf(shown, sizeof shown, "%s", err ? err : "(no JSON error)");
        cJSON_Delete(j);
        T_CHECK(ok, "%s: status %d (want %d), error: %s", cases[i].path, st, cases[i].status, shown);
    }
}

/* ------------------------------------------------------------ main */

int main(void)
{
    if (suite_setup("http-api"))
        return 1;
    if (suite_serve("setup: qsweep serve printed no URL"))
        return 1;
    T_RUN(api_sweeps);
    T_RUN(api_failures);
    T_RUN(api_runs_filters);
    T_RUN(api_runs_csv);
    T_RUN(api_curves);
    T_RUN(api_bits);
    T_RUN(api_depth_width);
    T_RUN(api_tables);
    T_RUN(api_decision_map);
    T_RUN(api_errors);
    T_RUN(database_untouched);
    suite_teardown();
    T_EXIT();
}
