/* `qsweep serve` end to end: the real binary (bin/qsweep) on 127.0.0.1 with
 * --port 0, real HTTP over sockets, a real SQLite file from tests/gen_db.h.
 * Checks start-up errors, every API endpoint against the database, CSV,
 * static files, hostile requests, live updates while a writer commits,
 * concurrency and shutdown. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gen_db.h"
#include "http_client.h"
#include "http_cache.h"
#include "paper.h"
#include "tharness.h"

static char g_dir[256];   /* scratch directory */
static char g_db[300];    /* generated database, with sql/indexes.sql */
static char g_db2[300];   /* the same without them */
static pid_t g_pid = -1;  /* the server under test */
static int g_port;
static pid_t g_pid2 = -1; /* on g_db2, with --no-cache */
static int g_port2;

/* Runs `qsweep serve ARGS` expecting a start-up failure: status, stderr. */
static int run_serve_fail(const char *db, char *err, size_t cap, char *out, size_t ocap)
{
    char *args[] = {g_bin, "serve", "--db", (char *)db, "--port", "0", NULL};
    proc p;
    if (spawn(&p, args))
        return -1;
    read_until(p.err_fd, err, cap, 5000, NULL);
    read_until(p.out_fd, out, ocap, 100, NULL);
    int st = wait_exit(p.pid, 5000);
    if (st < 0) {
        kill(p.pid, SIGKILL);
        waitpid(p.pid, NULL, 0);
    }
    close(p.out_fd);
    close(p.err_fd);
    return st;
}

static int raw_request(const void *req, size_t reqlen, resp *r)
{
    return raw_request_port(g_port, req, reqlen, r);
}

static int get(const char *path, resp *r)
{
    char req[8192];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, g_port);
    return raw_request(req, (size_t)n, r);
}

/* GET path, expect 200 and JSON; returns the parsed document or NULL. */
static cJSON *get_json(const char *path, int *status)
{
    resp r;
    get(path, &r);
    *status = r.status;
    cJSON *j = r.body ? cJSON_Parse(r.body) : NULL;
    resp_free(&r);
    return j;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is_null(const cJSON *o, const char *k)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* ------------------------------------------------------------ database */

static sqlite3 *open_db(void)
{
    sqlite3 *db = NULL;
    sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL);
    return db;
}

static long long sql_int(const char *sql, const char *arg)
{
    sqlite3 *db = open_db();
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (arg)
            sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static uint64_t file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint64_t h = 1469598103934665603ULL;
    int c;
    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        h = (h ^ (unsigned)c) * 1099511628211ULL;
    fclose(f);
    return h;
}

/* ------------------------------------------------------------ cases */

/* The response cache on its own: generations, the previous answer while
 * the new one is computed, never older than ttl, never replaced by older. */
static void cache_rules(void)
{
    qs_cache *c;
    qs_resp a, r;
    int owner;
    T_CHECK(qs_cache_create(&c, 1 << 20, 2.0) == QS_OK, "create");
    qs_resp_init(&a);
    qs_resp_init(&r);
    T_CHECK(!qs_cache_get(c, "k", 1, 100.0, &r, &owner) && owner, "first request must query");
    qs_buf_puts(&a.body, "A");
    qs_cache_put(c, "k", 1, 100.0, &a, owner);
    T_CHECK(qs_cache_get(c, "k", 1, 100.5, &r, &owner) && !strcmp(r.body.p, "A"), "hit A");
    /* A commit: the next request queries; one arriving meanwhile gets A. */
    T_CHECK(!qs_cache_get(c, "k", 2, 101.0, &r, &owner) && owner, "after a commit: query");
    T_CHECK(qs_cache_get(c, "k", 2, 101.2, &r, &owner) && !strcmp(r.body.p, "A"), "previous answer meanwhile");
    qs_buf_reset(&a.body);
    qs_buf_puts(&a.body, "B");
    qs_cache_put(c, "k", 2, 101.0, &a, 1);
    T_CHECK(qs_cache_get(c, "k", 2, 101.3, &r, &owner) && !strcmp(r.body.p, "B"), "hit B");
    qs_buf_reset(&a.body);
    qs_buf_puts(&a.body, "old");
    qs_cache_put(c, "k", 1, 101.4, &a, 0);
    T_CHECK(qs_cache_get(c, "k", 2, 101.5, &r, &owner) && !strcmp(r.body.p, "B"), "an older answer replaced B");
    /* Past ttl the same generation is refreshed by one request. */
    T_CHECK(!qs_cache_get(c, "k", 2, 104.0, &r, &owner) && owner, "ttl: refresh");
    T_CHECK(qs_cache_get(c, "k", 2, 104.1, &r, &owner) && !strcmp(r.body.p, "B"), "ttl: same data meanwhile");
    qs_cache_put(c, "k", 2, 104.0, &a, 1); /* "old" body, generation 2: fine for the test */
    /* Errors are not kept; other keys are independent. */
    qs_resp_error(&a, 400, "x", "bad");
    T_CHECK(!qs_cache_get(c, "e", 2, 104.2, &r, &owner) && owner, "new key");
    qs_cache_put(c, "e", 2, 104.2, &a, owner);
    T_CHECK(!qs_cache_get(c, "e", 2, 104.3, &r, &owner) && owner, "an error answer was cached");
    qs_cache_put(c, "e", 2, 104.3, &a, owner);
    qs_resp_free(&a);
    qs_resp_free(&r);
    qs_cache_destroy(c);
}

static void startup_missing_db(void)
{
    char err[4096], out[256], path[400];
    snprintf(path, sizeof path, "%s/missing.db", g_dir);
    int st = run_serve_fail(path, err, sizeof err, out, sizeof out);
    T_CHECK(st == 2, "exit status %d, want 2 (stderr: %s)", st, err);
    T_CHECK(strstr(err, "missing.db") && strstr(err, "no such"), "message: %s", err);
    T_CHECK(out[0] == '\0', "stdout not empty: %s", out);
    struct stat sb;
    T_CHECK(stat(path, &sb) != 0, "a missing database was created");
}

static void startup_not_qsweep(void)
{
    char err[4096], out[256], path[400];
    snprintf(path, sizeof path, "%s/notes.txt", g_dir);
    FILE *f = fopen(path, "w");
    fputs("these are my notes, not a database\n", f);
    fclose(f);
    uint64_t h = file_hash(path);
    int st = run_serve_fail(path, err, sizeof err, out, sizeof out);
    T_CHECK(st == 2, "text file: exit status %d, want 2", st);
    T_CHECK(strstr(err, "not a") != NULL, "message: %s", err);
    T_CHECK(file_hash(path) == h, "the text file changed");

    /* An SQLite file of another application, and one of a future schema. */
    snprintf(path, sizeof path, "%s/other.db", g_dir);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "CREATE TABLE notes(x); INSERT INTO notes VALUES (1)", NULL, NULL, NULL);
    sqlite3_close(db);
    h = file_hash(path);
    st = run_serve_fail(path, err, sizeof err, out, sizeof out);
    T_CHECK(st == 2, "foreign SQLite: exit status %d, want 2", st);
    T_CHECK(strstr(err, "not a qsweep database") != NULL, "message: %s", err);
    T_CHECK(file_hash(path) == h, "the foreign database changed");

    snprintf(path, sizeof path, "%s/future.db", g_dir);
    sqlite3_open(path, &db);
    sqlite3_exec(db, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO meta VALUES ('application', 'qsweep'), ('schema_version', '99')",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    st = run_serve_fail(path, err, sizeof err, out, sizeof out);
    T_CHECK(st == 2, "schema 99: exit status %d, want 2", st);
    T_CHECK(strstr(err, "99") != NULL, "message does not name the version: %s", err);

    snprintf(path, sizeof path, "%s/empty.db", g_dir);
    fclose(fopen(path, "w"));
    st = run_serve_fail(path, err, sizeof err, out, sizeof out);
    T_CHECK(st == 2, "empty file: exit status %d, want 2", st);
    struct stat sb;
    T_CHECK(stat(path, &sb) == 0 && sb.st_size == 0, "the empty file was written to");
}

static void startup_bad_usage(void)
{
    char *args1[] = {g_bin, "serve", "--port", "70000", NULL};
    char *args2[] = {g_bin, "serve", "--db", g_db, "--bind", "not-an-address", "--port", "0", NULL};
    char *args3[] = {g_bin, "serve", "--frobnicate", NULL};
    char **all[] = {args1, args2, args3};
    for (int i = 0; i < 3; i++) {
        proc p;
        char err[4096];
        T_CHECK(spawn(&p, all[i]) == 0, "spawn");
        read_until(p.err_fd, err, sizeof err, 5000, NULL);
        int st = wait_exit(p.pid, 5000);
        close(p.out_fd);
        close(p.err_fd);
        T_CHECK(st == 2, "%s %s: exit %d, want 2 (%s)", all[i][2], all[i][3] ? all[i][3] : "", st, err);
    }
}

static void serve_prints_url(void)
{
    T_CHECK(g_pid > 0 && g_port > 0, "the server did not start (port %d)", g_port);
}

static void port_in_use(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", g_port);
    char *args[] = {g_bin, "serve", "--db", g_db, "--port", port, NULL};
    proc p;
    char err[4096];
    T_CHECK(spawn(&p, args) == 0, "spawn");
    read_until(p.err_fd, err, sizeof err, 5000, NULL);
    int st = wait_exit(p.pid, 5000);
    close(p.out_fd);
    close(p.err_fd);
    T_CHECK(st == 2, "second server on port %d: exit %d, want 2", g_port, st);
    T_CHECK(strstr(err, "cannot listen") != NULL, "message: %s", err);
}

static void static_files(void)
{
    resp r;
    char ct[128];
    get("/", &r);
    T_CHECK(r.status == 200, "GET / -> %d", r.status);
    T_CHECK(strstr(header(&r, "Content-Type", ct, sizeof ct), "text/html"), "Content-Type %s", ct);
    T_CHECK(strstr(r.body, "app.js") && strstr(r.body, "static/chart.js"), "index.html content");
    char csp[512];
    T_CHECK(header(&r, "Content-Security-Policy", csp, sizeof csp)[0], "no CSP on the page");
    resp_free(&r);
    const char *files[] = {"/index.html", "/app.js", "/style.css"};
    const char *types[] = {"text/html", "text/javascript", "text/css"};
    for (int i = 0; i < 3; i++) {
        get(files[i], &r);
        int st = r.status;
        header(&r, "Content-Type", ct, sizeof ct);
        resp_free(&r);
        T_CHECK(st == 200, "%s -> %d", files[i], st);
        T_CHECK(strstr(ct, types[i]), "%s: Content-Type %s", files[i], ct);
    }
    struct stat sb;
    int have = stat("/usr/share/javascript/chart.js/chart.min.js", &sb) == 0 ||
               stat("/usr/share/javascript/chart.js/chart.umd.js", &sb) == 0 ||
               stat("/usr/share/javascript/chart.js/chart.js", &sb) == 0;
    get("/static/chart.js", &r);
    int st = r.status;
    int looks = r.body && strstr(r.body, "Chart") != NULL;
    resp_free(&r);
    if (have)
        T_CHECK(st == 200 && looks, "/static/chart.js -> %d", st);
    else
        T_CHECK(st == 404, "/static/chart.js without the package -> %d", st);
    /* HEAD: headers only. */
    const char head_req[] = "HEAD / HTTP/1.0\r\n\r\n";
    raw_request(head_req, sizeof head_req - 1, &r);
    st = r.status;
    size_t len = r.len;
    resp_free(&r);
    T_CHECK(st == 200 && len == 0, "HEAD / -> %d with %zu body bytes", st, len);
}

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
        diverged += !strcmp(e, "diverged");
        parent += !strncmp(e, "parent failed: ", 15);
    }
    T_CHECK(diverged && parent, "reasons missing (diverged %d, parent %d)", diverged, parent);
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

/* paper.c against ../shared/spec/paper-results.json, where present. */
static void paper_constants(void)
{
    FILE *f = fopen("../shared/spec/paper-results.json", "rb");
    if (!f) {
        printf("# paper-results.json not found: constants not cross-checked\n");
        return;
    }
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    T_CHECK(j, "paper-results.json does not parse");
    cJSON *rows = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "table5_1m_param_architecture_selection"), "rows");
    T_CHECK(cJSON_GetArraySize(rows) == qs_paper_table5_rows, "table 5 row count");
    for (int i = 0; i < qs_paper_table5_rows; i++) {
        cJSON *r = cJSON_GetArrayItem(rows, i);
        const qs_paper_t5_row *p = &qs_paper_table5[i];
        T_CHECK(!strcmp(cJSON_GetArrayItem(r, 0)->valuestring, p->block) &&
                    cJSON_GetArrayItem(r, 1)->valueint == p->depth &&
                    cJSON_GetArrayItem(r, 2)->valueint == p->width &&
                    cJSON_GetArrayItem(r, 3)->valuedouble == p->params_m,
                "table 5 row %d differs", i);
        for (int k = 0; k < 4; k++)
            T_CHECK(cJSON_GetArrayItem(r, 4 + k)->valuedouble == p->acc[k], "table 5 row %d col %d", i, k);
    }
    rows = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "table4_resnet_depth_lipschitz_clr"), "rows");
    T_CHECK(cJSON_GetArraySize(rows) == qs_paper_table4_rows, "table 4 row count");
    for (int i = 0; i < qs_paper_table4_rows; i++) {
        cJSON *r = cJSON_GetArrayItem(rows, i);
        T_CHECK(cJSON_GetArrayItem(r, 0)->valueint == qs_paper_table4[i].depth, "table 4 depth %d", i);
        for (int k = 0; k < 3; k++)
            T_CHECK(cJSON_GetArrayItem(r, 1 + k)->valuedouble == qs_paper_table4[i].acc[k], "table 4 row %d", i);
    }
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

/* At least 20 hostile requests; each gets the expected refusal (or a
 * closed connection where noted), and the server keeps answering. */
static void hostile_requests(void)
{
    static char longurl[6000], hugeurl[40000], bighdr[40000], manyparams[3000];
    memset(longurl, 0, sizeof longurl);
    strcpy(longurl, "GET /api/runs?sweep=");
    memset(longurl + strlen(longurl), 'a', 4500);
    strcat(longurl, " HTTP/1.0\r\n\r\n");
    strcpy(hugeurl, "GET /");
    memset(hugeurl + 5, 'b', 35000);
    strcpy(hugeurl + 35005, " HTTP/1.0\r\n\r\n");
    strcpy(bighdr, "GET / HTTP/1.0\r\nX-Filler: ");
    memset(bighdr + strlen(bighdr), 'c', 36000);
    strcat(bighdr, "\r\n\r\n");
    strcpy(manyparams, "GET /api/runs?");
    for (int i = 0; i < 40; i++)
        sprintf(manyparams + strlen(manyparams), "p%d=1&", i);
    strcat(manyparams, " HTTP/1.0\r\n\r\n");

    struct {
        const char *name, *req;
        size_t len; /* 0: strlen */
        int want;   /* expected status; 0: 4xx/5xx or a closed connection */
    } cases[] = {
        {"dotdot", "GET /../../etc/passwd HTTP/1.0\r\n\r\n", 0, 400},
        {"dotdot-api", "GET /api/../../etc/passwd HTTP/1.0\r\n\r\n", 0, 400},
        {"encoded-dots", "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.0\r\n\r\n", 0, 400},
        {"encoded-upper", "GET /%2E%2E%2Fetc%2Fpasswd HTTP/1.0\r\n\r\n", 0, 400},
        {"encoded-slash", "GET /..%2f..%2fetc%2fpasswd HTTP/1.0\r\n\r\n", 0, 400},
        {"encoded-backslash", "GET /..%5c..%5cwindows HTTP/1.0\r\n\r\n", 0, 400},
        {"backslash", "GET /\\..\\..\\etc\\passwd HTTP/1.0\r\n\r\n", 0, 400},
        {"overlong-utf8", "GET /%c0%ae%c0%ae/etc/passwd HTTP/1.0\r\n\r\n", 0, 400},
        {"nul-in-path", "GET /app.js%00.png HTTP/1.0\r\n\r\n", 0, 400},
        /* A raw NUL is refused wherever it is (tests/test_http_guard.c
         * has more). */
        {"raw-nul", "GET /..\0/index.html HTTP/1.0\r\n\r\n", 32, 400},
        {"dot-file", "GET /.git HTTP/1.0\r\n\r\n", 0, 404},
        {"subdir", "GET /static/../index.html HTTP/1.0\r\n\r\n", 0, 400},
        {"absolute-path-file", "GET //etc/passwd HTTP/1.0\r\n\r\n", 0, 404},
        {"long-url", longurl, 0, 414},
        {"huge-url", hugeurl, 0, 414},
        {"huge-header", bighdr, 0, 431},
        {"post", "POST /api/runs HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd", 0, 405},
        {"put", "PUT /index.html HTTP/1.0\r\nContent-Length: 1\r\n\r\nx", 0, 405},
        {"delete", "DELETE /api/runs HTTP/1.0\r\n\r\n", 0, 405},
        {"options-star", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 0, 405},
        {"absolute-uri", "GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 0, 400},
        {"foreign-host", "GET /api/sweeps HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n", 0, 403},
        {"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 0, 0},
        {"no-version", "GET /\r\n\r\n", 0, 0},
        {"bad-version", "GET / HTTP/7.0\r\n\r\n", 0, 505},
        {"sql-in-sort", "GET /api/runs?sort=test_acc%3BDROP%20TABLE%20phases HTTP/1.0\r\n\r\n", 0, 400},
        {"nul-in-param", "GET /api/runs?sweep=live%00x HTTP/1.0\r\n\r\n", 0, 400},
        {"ctl-in-param", "GET /api/runs?sweep=a%0d%0aSet-Cookie:x HTTP/1.0\r\n\r\n", 0, 400},
        {"huge-param", "GET /api/runs?sweep=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx HTTP/1.0\r\n\r\n", 0, 400},
        {"many-params", manyparams, 0, 400},
        {"bad-escape", "GET /api/runs?sweep=%zz%4 HTTP/1.0\r\n\r\n", 0, 200},
        {"truncated-escape", "GET /app.js% HTTP/1.0\r\n\r\n", 0, 400},
        {"chunked-get", "GET /api/sweeps HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzzzz\r\n", 0, 0},
        {"header-no-colon", "GET / HTTP/1.1\r\nHost: localhost\r\nthis is not a header\r\nConnection: close\r\n\r\n", 0, 0},
        {"half-request", "GET /api/swe", 0, -2},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    T_CHECK(n >= 20, "only %d hostile requests", n);
    g_recv_timeout = 2; /* no answer in 2 s counts as refused */
    for (int i = 0; i < n; i++) {
        resp r;
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].req);
        if (cases[i].want == -2) {
            /* Sends half a request and hangs up. */
            int fd = connect_port(g_port);
            T_CHECK(fd >= 0, "connect");
            send(fd, cases[i].req, len, MSG_NOSIGNAL);
            close(fd);
            continue;
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        raw_request(cases[i].req, len, &r);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (getenv("QS_TEST_VERBOSE"))
            printf("# %s: %.3f s\n", cases[i].name, (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec));
        int st = r.status;
        resp_free(&r);
        if (cases[i].want == 0)
            T_CHECK(st == -1 || st >= 400, "%s: status %d, want a refusal", cases[i].name, st);
        else
            T_CHECK(st == cases[i].want, "%s: status %d, want %d", cases[i].name, st, cases[i].want);
        T_CHECK(kill(g_pid, 0) == 0, "the server died after %s", cases[i].name);
    }
    g_recv_timeout = 10;
    int st;
    cJSON *j = get_json("/api/sweeps", &st);
    cJSON_Delete(j);
    T_CHECK(st == 200 && j, "the server stopped answering: %d", st);
    T_CHECK(waitpid(g_pid, NULL, WNOHANG) == 0, "the server exited");
}

typedef struct {
    int ok, bad;
} conc_result;

static void *conc_worker(void *arg)
{
    conc_result *res = arg;
    static const char *const paths[] = {"/api/sweeps", "/api/runs?limit=20&sort=test_acc",
                                        "/api/depth?sweep=table5-cifar10", "/api/table5",
                                        "/api/failures", "/", "/api/runs.csv?sweep=live"};
    for (int i = 0; i < 30; i++) {
        resp r;
        get(paths[i % 7], &r);
        if (r.status == 200 && r.len > 0)
            res->ok++;
        else
            res->bad++;
        resp_free(&r);
    }
    return NULL;
}

static void concurrent_requests(void)
{
    enum { N = 8 };
    g_recv_timeout = 10;
    pthread_t th[N];
    conc_result res[N];
    memset(res, 0, sizeof res);
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, conc_worker, &res[i]);
    int ok = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += res[i].ok;
        bad += res[i].bad;
    }
    T_CHECK(bad == 0 && ok == N * 30, "%d ok, %d failed", ok, bad);
}

static uint64_t g_db_hash;

static void database_untouched(void)
{
    T_CHECK(file_hash(g_db) == g_db_hash, "the server changed the database file");
}

/* The sweep goes on while the server runs: new epochs and statuses show
 * up in the next request, without a restart. */
static void live_updates(void)
{
    int st;
    cJSON *j = get_json("/api/sweeps?sweep=live", &st);
    cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "sweeps"), 0);
    double done0 = num(s, "done"), upd0 = num(s, "updated");
    cJSON_Delete(j);
    j = get_json("/api/runs?sweep=live&status=running&limit=1&sort=phase_id", &st);
    char id[40], path[128];
    snprintf(id, sizeof id, "%s", str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0), "phase_id"));
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/api/curves?phase_id=%s", id);
    j = get_json(path, &st);
    double n0 = num(j, "n");
    cJSON_Delete(j);

    char err[256];
    int added = qs_gen_advance(g_db, (double)time(NULL) + 5, err, sizeof err);
    T_CHECK(added > 0, "the writer failed: %s", err);
    j = get_json(path, &st);
    double n1 = num(j, "n");
    cJSON_Delete(j);
    T_CHECK(n1 == n0 + 1, "curves: %g epochs after a commit, want %g", n1, n0 + 1);

    /* Run the sweep to its end: phases finish, queued ones start. */
    int steps = 0;
    for (; steps < 400 && added > 0; steps++)
        added = qs_gen_advance(g_db, (double)time(NULL) + 10 + steps, err, sizeof err);
    T_CHECK(added == 0, "the live sweep did not finish: %s", added < 0 ? err : "");
    j = get_json("/api/sweeps?sweep=live", &st);
    s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "sweeps"), 0);
    double done1 = num(s, "done"), queued = num(s, "queued"), running = num(s, "running");
    double upd1 = num(s, "updated");
    const char *state = str(s, "state");
    int finished = state && !strcmp(state, "finished");
    double eta = num(s, "eta_s");
    cJSON_Delete(j);
    T_CHECK(done1 > done0 && queued == 0 && running == 0, "done %g -> %g, queued %g, running %g after %d steps",
            done0, done1, queued, running, steps);
    T_CHECK(upd1 > upd0, "updated did not move");
    T_CHECK(finished && eta == 0, "state of a finished sweep");
}

/* Same JSON, numbers equal to 1e-9 relative (sums over seeds may be
 * added in another order by another query plan). */
static int json_same(const cJSON *a, const cJSON *b)
{
    if ((a->type & 0xFF) != (b->type & 0xFF))
        return 0;
    if (cJSON_IsNumber(a))
        return T_CLOSE(a->valuedouble, b->valuedouble, 1e-9, 1e-9);
    if (cJSON_IsString(a))
        return !strcmp(a->valuestring, b->valuestring);
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if ((x->string || y->string) && (!x->string || !y->string || strcmp(x->string, y->string)))
                return 0;
            else if (!json_same(x, y))
                return 0;
        return !x && !y;
    }
    return 1;
}

/* The same answers from the covering-index queries (g_db, cached) and the
 * plain ones through the runs view (g_db2, --no-cache). */
static void fast_and_plain_agree(void)
{
    T_CHECK(g_pid2 > 0, "the second server did not start");
    static const char *const paths[] = {
        "/api/runs", "/api/runs?sort=test_acc&order=desc&limit=500",
        "/api/runs?sweep=table4-lipschitz&sort=seconds&order=desc",
        "/api/runs?sweep=live&sort=status&limit=7&offset=3", "/api/runs?block=none&clr=0&limit=1000",
        "/api/runs?sort=model&order=desc&limit=20", "/api/runs.csv?sweep=synthetic-fcdnn",
        "/api/depth?sweep=table5-cifar10&budget=1000000", "/api/depth", "/api/width?dataset=cifar10",
        "/api/width?dataset=synthetic", "/api/effect?sweep=table4-lipschitz", "/api/effect",
        "/api/table5", "/api/table4", "/api/failures", "/api/decision_maps",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        resp a, b;
        get_port(g_port, paths[i], &a);
        get_port(g_port2, paths[i], &b);
        int same = a.status == 200 && b.status == 200 && a.len == b.len && !memcmp(a.body, b.body, a.len);
        if (!same && a.status == 200 && b.status == 200) {
            cJSON *ja = cJSON_Parse(a.body), *jb = cJSON_Parse(b.body);
            same = ja && jb && json_same(ja, jb);
            cJSON_Delete(ja);
            cJSON_Delete(jb);
        }
        size_t at = 0;
        while (!same && at < a.len && at < b.len && a.body[at] == b.body[at])
            at++;
        char ctx[120];
        snprintf(ctx, sizeof ctx, "%.50s | %.50s", a.body ? a.body + (at > 20 ? at - 20 : 0) : "",
                 b.body ? b.body + (at > 20 ? at - 20 : 0) : "");
        int sa = a.status, sb = b.status;
        resp_free(&a);
        resp_free(&b);
        T_CHECK(same, "%s: answers differ (status %d/%d) at byte %zu: %s", paths[i], sa, sb, at, ctx);
    }
    kill(g_pid2, SIGTERM);
    T_CHECK(wait_exit(g_pid2, 10000) == 0, "second server exit");
    g_pid2 = -1;
}

static void sigterm_stops(void)
{
    T_CHECK(kill(g_pid, SIGTERM) == 0, "kill");
    int st = wait_exit(g_pid, 10000);
    g_pid = -1;
    T_CHECK(st == 0, "exit status %d after SIGTERM, want 0", st);
}

/* ------------------------------------------------------------ main */

static int start_server(const char *db, const char *extra, pid_t *pid, int *port)
{
    char *args[] = {g_bin, "serve", "--db", (char *)db, "--port", "0", (char *)extra, NULL};
    proc p;
    char log[400];
    snprintf(log, sizeof log, "%s/server-%d.log", g_dir, extra ? 2 : 1);
    if (spawn_log(&p, args, log))
        return -1;
    char out[512];
    read_until(p.out_fd, out, sizeof out, 10000, "/\n");
    close(p.out_fd);
    close(p.err_fd);
    *pid = p.pid;
    int a, b, c, d;
    if (sscanf(out, "qsweep serve: http://%d.%d.%d.%d:%d/", &a, &b, &c, &d, port) != 5 ||
        a != 127) {
        printf("# server said: %s\n", out);
        return -1;
    }
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *bin = getenv("QSWEEP_BIN");
    snprintf(g_bin, sizeof g_bin, "%s", bin ? bin : "bin/qsweep");
    snprintf(g_dir, sizeof g_dir, "%s/qsweep-http.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    snprintf(g_db, sizeof g_db, "%s/results.db", g_dir);
    snprintf(g_db2, sizeof g_db2, "%s/plain.db", g_dir);
    qs_gen_cfg cfg = {"sql/schema.sql", NULL, 0, 0, 42, (double)time(NULL)};
    char err[512];
    if (access(g_bin, X_OK) != 0) {
        printf("FAIL setup: %s is missing (run make)\n", g_bin);
        return 1;
    }
    /* The same rows twice: without and (when sql/indexes.sql exists) with
     * the dashboard's covering index. */
    if (qs_gen_db(g_db2, &cfg, err, sizeof err)) {
        printf("FAIL setup: generating the database: %s\n", err);
        return 1;
    }
    if (access("sql/indexes.sql", R_OK) == 0)
        cfg.indexes_path = "sql/indexes.sql";
    if (qs_gen_db(g_db, &cfg, err, sizeof err)) {
        printf("FAIL setup: generating the database: %s\n", err);
        return 1;
    }
    T_RUN(cache_rules);
    T_RUN(startup_missing_db);
    T_RUN(startup_not_qsweep);
    T_RUN(startup_bad_usage);
    T_RUN(paper_constants);
    g_db_hash = file_hash(g_db);
    if (start_server(g_db, NULL, &g_pid, &g_port) != 0) {
        printf("FAIL serve_prints_url: no URL on stdout\n");
        if (g_pid > 0)
            kill(g_pid, SIGKILL);
        return 1;
    }
    if (start_server(g_db2, "--no-cache", &g_pid2, &g_port2) != 0)
        g_pid2 = -1;
    T_RUN(serve_prints_url);
    T_RUN(port_in_use);
    T_RUN(static_files);
    T_RUN(api_sweeps);
    T_RUN(api_failures);
    T_RUN(api_runs_filters);
    T_RUN(api_runs_csv);
    T_RUN(api_curves);
    T_RUN(api_depth_width);
    T_RUN(api_tables);
    T_RUN(api_decision_map);
    T_RUN(api_errors);
    T_RUN(hostile_requests);
    T_RUN(concurrent_requests);
    T_RUN(database_untouched);
    T_RUN(fast_and_plain_agree);
    T_RUN(live_updates);
    T_RUN(sigterm_stops);
    if (g_pid > 0) {
        kill(g_pid, SIGKILL);
        waitpid(g_pid, NULL, 0);
    }
    if (g_pid2 > 0) {
        kill(g_pid2, SIGKILL);
        waitpid(g_pid2, NULL, 0);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", g_dir);
    T_EXIT();
}
