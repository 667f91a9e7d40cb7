/* `qsweep serve` end to end: the real binary (bin/qsweep) on 127.0.0.1 with
 * --port 0, real HTTP over sockets, a real SQLite file from tests/gen_db.h.
 * Checks start-up errors, static files, hostile requests, live updates
 * while a writer commits, the cached and uncached answers agreeing,
 * concurrency and shutdown. The API's endpoints: test_http_api.c. */
#include "http_cache.h"
#include "http_suite.h"
#include "paper.h"

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
    /* Every script the page loads (one file per view) is served. */
    char scripts[16][64];
    int nscripts = 0;
    for (const char *p = strstr(r.body, "<script src=\""); p && nscripts < 16; p = strstr(p + 1, "<script src=\"")) {
        p += strlen("<script src=\"");
        size_t n = strcspn(p, "\"");
        snprintf(scripts[nscripts], sizeof scripts[0], "/%.*s", (int)(n < 60 ? n : 60), p);
        nscripts++;
    }
    resp_free(&r);
    T_CHECK(nscripts >= 2, "index.html loads %d scripts", nscripts);
    for (int i = 0; i < nscripts; i++) {
        get(scripts[i], &r);
        int st = r.status;
        header(&r, "Content-Type", ct, sizeof ct);
        resp_free(&r);
        T_CHECK(st == 200 && strstr(ct, "javascript"), "%s (loaded by index.html) -> %d %s", scripts[i], st, ct);
    }
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

int main(void)
{
    if (suite_setup("http"))
        return 1;
    T_RUN(cache_rules);
    T_RUN(startup_missing_db);
    T_RUN(startup_not_qsweep);
    T_RUN(startup_bad_usage);
    T_RUN(paper_constants);
    if (suite_serve("serve_prints_url: no URL on stdout"))
        return 1;
    if (start_server(g_db2, "--no-cache", &g_pid2, &g_port2) != 0)
        g_pid2 = -1;
    T_RUN(serve_prints_url);
    T_RUN(port_in_use);
    T_RUN(static_files);
    T_RUN(hostile_requests);
    T_RUN(concurrent_requests);
    T_RUN(database_untouched);
    T_RUN(fast_and_plain_agree);
    T_RUN(live_updates);
    T_RUN(sigterm_stops);
    suite_teardown();
    T_EXIT();
}
