/* `qsweep serve` against hostile clients and files, end to end (the real
 * binary on 127.0.0.1, raw sockets): symlinks out of the web directory,
 * NUL and control bytes in the request target, JSON for the errors that
 * libmicrohttpd's limits used to answer in HTML, slow clients holding
 * connections, and a database left by kill -9 with its rows in the WAL,
 * which the server must read without changing the file. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>

#include "gen_db.h"
#include "http.h"
#include "http_client.h"
#include "tharness.h"

static char g_dir[256];  /* scratch directory */
static char g_db[300];   /* generated database */
static char g_web[300];  /* a copy of web/ with hostile entries */
static pid_t g_pid = -1; /* the server under test, on g_db and g_web */
static int g_port;

/* ------------------------------------------------------------ helpers */

/* `qsweep serve --db db --port 0 [--web web]`; its URL's port. On failure
 * nothing is left running. */
static int start_server(const char *db, const char *web, pid_t *pid, int *port)
{
    char *args[] = {g_bin, "serve", "--db", (char *)db, "--port", "0",
                    web ? "--web" : NULL, (char *)web, NULL};
    proc p;
    char log[400], out[512];
    snprintf(log, sizeof log, "%s/server-%ld.log", g_dir, (long)time(NULL));
    *pid = -1;
    if (spawn_log(&p, args, log))
        return -1;
    *pid = p.pid;
    read_until(p.out_fd, out, sizeof out, 10000, "/\n");
    close(p.out_fd);
    close(p.err_fd);
    if (sscanf(out, "qsweep serve: http://127.0.0.1:%d/", port) != 1) {
        printf("# server said: %s\n", out);
        kill(p.pid, SIGKILL); /* a failed case leaves no server behind */
        waitpid(p.pid, NULL, 0);
        *pid = -1;
        return -1;
    }
    return 0;
}

/* SIGTERM; the exit status, or -1 (then killed) when it does not stop. */
static int stop_server(pid_t *pid)
{
    if (*pid <= 0)
        return -1;
    kill(*pid, SIGTERM);
    int st = wait_exit(*pid, 10000);
    if (st < 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = -1;
    return st;
}

static int request(const void *req, size_t len, resp *r) { return raw_request_port(g_port, req, len, r); }

/* A JSON object with an "error" string, served as JSON. */
static int json_error(const resp *r)
{
    char ct[128];
    cJSON *j = r->body ? cJSON_Parse(r->body) : NULL;
    int ok = j && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")) &&
             strstr(header(r, "Content-Type", ct, sizeof ct), "application/json");
    cJSON_Delete(j);
    return ok;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc;
}

/* ------------------------------------------------------------ cases */

/* web/p.txt -> /etc/passwd and friends: only regular files that resolve
 * inside the web directory are served. */
static void symlink_out_of_web(void)
{
    static const struct {
        const char *path, *must_not;
    } out[] = {
        {"/p.txt", "root:"},              /* absolute symlink out */
        {"/o.txt", "outside the web dir"}, /* relative symlink to ../outside.txt */
        {"/d.txt", NULL},                 /* a directory */
        {"/up.html", NULL},               /* a symlink to the web directory's parent */
    };
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        char req[256];
        resp r;
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", out[i].path);
        request(req, (size_t)n, &r);
        int st = r.status, leaked = out[i].must_not && r.body && strstr(r.body, out[i].must_not);
        resp_free(&r);
        T_CHECK(!leaked, "%s: the file outside the web directory was served", out[i].path);
        T_CHECK(st == 404, "%s -> %d, want 404", out[i].path, st);
    }
    /* A symlink to another file of the web directory is fine. */
    resp r;
    const char in[] = "GET /in.html HTTP/1.0\r\n\r\n";
    request(in, sizeof in - 1, &r);
    int st = r.status, same = r.body && strstr(r.body, "app.js") != NULL;
    resp_free(&r);
    T_CHECK(st == 200 && same, "/in.html (-> index.html) -> %d", st);
}

/* A request with NULs in it: the literal and its length without the
 * terminating NUL. */
#define RAW(lit) lit, sizeof lit - 1

static void raw_nul_and_control(void)
{
    static const struct {
        const char *name, *req;
        size_t len;
        int api;
    } cases[] = {
        {"nul-in-file-path", RAW("GET /index.html\0x HTTP/1.0\r\n\r\n"), 0},
        {"nul-in-api-path", RAW("GET /api/sweeps\0x HTTP/1.0\r\n\r\n"), 1},
        {"nul-in-query", RAW("GET /api/sweeps?sweep=live\0x HTTP/1.0\r\n\r\n"), 1},
        {"nul-at-end", RAW("GET /api/sweeps\0 HTTP/1.0\r\n\r\n"), 1},
        {"ctl-in-query", RAW("GET /api/sweeps?sweep=li\x01ve HTTP/1.0\r\n\r\n"), 1},
        {"esc-in-path", RAW("GET /index.html\x1b HTTP/1.0\r\n\r\n"), 0},
        {"del-in-api-path", RAW("GET /api/sweeps\x7f HTTP/1.0\r\n\r\n"), 1},
        {"tab-in-query", RAW("GET /api/runs?sweep=a\tb HTTP/1.0\r\n\r\n"), 1},
        {"encoded-ctl-in-path", RAW("GET /a%01.txt HTTP/1.0\r\n\r\n"), 0},
        {"encoded-ctl-in-name", RAW("GET /api/runs?sw%0aeep=x HTTP/1.0\r\n\r\n"), 1},
    };
    g_recv_timeout = 5;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        resp r;
        request(cases[i].req, cases[i].len, &r);
        int st = r.status, js = json_error(&r);
        resp_free(&r);
        T_CHECK(st == 400, "%s: status %d, want 400", cases[i].name, st);
        T_CHECK(!cases[i].api || js, "%s: the 400 has no JSON error body", cases[i].name);
    }
    T_CHECK(kill(g_pid, 0) == 0, "the server died");
}

/* Requests that libmicrohttpd itself used to refuse with an HTML page: each
 * /api request gets its status with a JSON body. */
static void limits_answer_json(void)
{
    enum { BIG = 40000 }; /* over the old 32 KiB buffer, under the 64 KiB one */
    static char uri[BIG + 100], onehdr[BIG + 100], manyhdr[16384], getbody[24000], postbody[24000];
    snprintf(uri, sizeof uri, "GET /api/runs?sweep=%0*d HTTP/1.0\r\n\r\n", BIG, 7);
    snprintf(onehdr, sizeof onehdr, "GET /api/runs HTTP/1.0\r\nX-Filler: %0*d\r\n\r\n", BIG, 7);
    int n = snprintf(manyhdr, sizeof manyhdr, "GET /api/sweeps HTTP/1.0\r\n");
    for (int i = 0; i < 200; i++)
        n += snprintf(manyhdr + n, sizeof manyhdr - (size_t)n, "X-Filler-%03d: %048d\r\n", i, i);
    snprintf(manyhdr + n, sizeof manyhdr - (size_t)n, "\r\n");
    n = snprintf(getbody, sizeof getbody, "GET /api/sweeps HTTP/1.0\r\nContent-Length: 20000\r\n\r\n");
    memset(getbody + n, 'x', 20000);
    getbody[n + 20000] = '\0';
    n = snprintf(postbody, sizeof postbody, "POST /api/runs HTTP/1.0\r\nContent-Length: 20000\r\n\r\n");
    memset(postbody + n, 'x', 20000);
    postbody[n + 20000] = '\0';

    static char just[QS_HTTP_MAX_URI + 100];
    snprintf(just, sizeof just, "GET /api/runs?sweep=%0*d HTTP/1.0\r\n\r\n", QS_HTTP_MAX_URI - 10, 7);
    const struct {
        const char *name, *req;
        int want;
    } cases[] = {
        {"no-host-http11", "GET /api/sweeps HTTP/1.1\r\nConnection: close\r\n\r\n", 400},
        {"two-hosts", "GET /api/sweeps HTTP/1.1\r\nHost: localhost\r\nHost: 127.0.0.1\r\n\r\n", 400},
        {"space-in-header-name", "GET /api/sweeps HTTP/1.1\r\nHost : localhost\r\n\r\n", 400},
        {"space-in-target", "GET /api/sw eeps HTTP/1.0\r\n\r\n", 400},
        {"uri-just-over", just, 414},
        {"uri-40k", uri, 414},
        {"header-40k", onehdr, 431},
        {"200-headers", manyhdr, 431},
        {"get-with-body", getbody, 400},
        {"post-with-body", postbody, 405},
    };
    int nc = (int)(sizeof cases / sizeof cases[0]);
    g_recv_timeout = 5;
    for (int i = 0; i < nc; i++) {
        resp r;
        request(cases[i].req, strlen(cases[i].req), &r);
        int st = r.status, js = json_error(&r);
        char start[48];
        snprintf(start, sizeof start, "%.40s", r.body ? r.body : "");
        resp_free(&r);
        T_CHECK(st == cases[i].want, "%s: status %d, want %d", cases[i].name, st, cases[i].want);
        T_CHECK(js, "%s: %d without a JSON error body (body starts %s)", cases[i].name, st, start);
    }
    /* What libmicrohttpd 0.9.75 answers before any callback of ours can
     * (docs/api.md lists them): refused, and the server lives on. */
    static const char *const mhd_own[] = {
        "GET /api/sweeps\r\n\r\n",                                  /* HTTP/0.9 */
        "GET /api/sweeps HTTP/1.0\r\nContent-Length: x\r\n\r\n",    /* bad Content-Length */
        "GET /api/sweeps HTTP/1.0\r\nno colon here\r\n\r\n",        /* header without ':' */
    };
    for (size_t i = 0; i < sizeof mhd_own / sizeof mhd_own[0]; i++) {
        resp r;
        request(mhd_own[i], strlen(mhd_own[i]), &r);
        int st = r.status;
        resp_free(&r);
        T_CHECK(st == 400 || st == -1, "libmicrohttpd's own refusal %zu: status %d", i, st);
    }
    T_CHECK(kill(g_pid, 0) == 0, "the server died");
}

/* Sockets from src that send nothing; returns how many connected. */
static int open_idle(int *fds, int n, const char *src)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = connect_from(src, g_port);
        ok += fds[i] >= 0;
    }
    return ok;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* GET /api/sweeps from 127.0.0.1 (a client other than the idle ones)
 * until it is answered 200 or bound_s pass: a client refused at the
 * connection limit (closed at once) tries again, as a browser would. The
 * last status, and the seconds until it came, in *secs. */
static int served_within(int bound_s, double *secs)
{
    char req[128];
    int n = snprintf(req, sizeof req, "GET /api/sweeps HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", g_port);
    double t0 = now_s();
    int st = -1;
    for (int tries = 0; tries < 10 * bound_s; tries++) {
        double left = bound_s - (now_s() - t0);
        if (left <= 0)
            break;
        resp r;
        g_recv_timeout = left < 1 ? 1 : (int)left;
        request(req, (size_t)n, &r);
        st = r.status;
        resp_free(&r);
        if (st == 200)
            break;
        usleep(100000); /* not to flood the server with refused connections */
    }
    *secs = now_s() - t0;
    return st;
}

/* 300 idle connections from one address: beyond QS_HTTP_MAX_PER_IP they
 * are refused at once, so another client is served at once (before, they
 * took all 256 slots for the 30 s timeout). */
static void slow_clients_one_address(void)
{
    enum { N = 300 };
    int fds[N];
    int ok = open_idle(fds, N, "127.0.0.2");
    double secs;
    int st = served_within(5, &secs);
    close_all(fds, N);
    printf("# another client served after %.2f s\n", secs);
    T_CHECK(ok == N, "only %d of %d idle connections", ok, N);
    T_CHECK(st == 200, "another client: status %d after %.1f s, want 200 within 5 s", st, secs);
}

/* 261 idle connections from 9 addresses, each under the per-address limit,
 * fill every slot: the idle timeout frees them, so a new client is served
 * within QS_HTTP_IDLE_S and a margin. */
static void slow_clients_many_addresses(void)
{
    enum { PER = 29, ADDRS = 9 };
    int fds[PER * ADDRS];
    int ok = 0;
    for (int a = 0; a < ADDRS; a++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.0.%d", 3 + a);
        ok += open_idle(fds + a * PER, PER, src);
    }
    double secs;
    int st = served_within(QS_HTTP_IDLE_S + 8, &secs);
    close_all(fds, PER * ADDRS);
    printf("# a new client served after %.2f s\n", secs);
    T_CHECK(ok == PER * ADDRS, "only %d idle connections", ok);
    T_CHECK(st == 200, "a new client: status %d after %.1f s, want 200 within %d s", st, secs,
            QS_HTTP_IDLE_S + 8);
}

static int sha256_of(const char *path, char *out, size_t cap)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int ok = fscanf(p, "%64s", out) == 1 && strlen(out) == 64 && cap > 64;
    return pclose(p) == 0 && ok ? 0 : -1;
}

/* A writer killed (-9) after committing, its rows only in the WAL: the
 * server must serve them, and leave the file as it was (size, sha256 and
 * mtime), even when it stops. Before, its read-write connections folded
 * the WAL into the file on exit. Then a new writer commits while the
 * server reads. */
static void killed_writer_db_untouched(void)
{
    char path[400], wal[420], err[256];
    snprintf(path, sizeof path, "%s/killed.db", g_dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    qs_gen_cfg cfg = {"sql/schema.sql", NULL, 0, 0, 7, (double)time(NULL)};
    T_CHECK(qs_gen_db(path, &cfg, err, sizeof err) == 0, "generating: %s", err);
    pid_t w = fork();
    T_CHECK(w >= 0, "fork");
    if (w == 0) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
                                  "INSERT INTO sweeps(name, grid, grid_path, host, version, ranks, started)"
                                  " VALUES('wal-only', '{}', 'sweeps/wal-only.json', 'node9', 'v', 1, 1)",
                              NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            _exit(3);
        raise(SIGKILL); /* committed, never closed, never checkpointed */
        _exit(4);
    }
    int wst;
    waitpid(w, &wst, 0);
    T_CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL, "the writer did not die by SIGKILL (%d)", wst);
    struct stat before, after, wal_before, wal_after;
    char sha_before[80], sha_after[80];
    T_CHECK(stat(wal, &wal_before) == 0 && wal_before.st_size > 0, "no WAL left by the writer");
    T_CHECK(stat(path, &before) == 0 && sha256_of(path, sha_before, sizeof sha_before) == 0, "sha256");

    pid_t pid;
    int port;
    T_CHECK(start_server(path, NULL, &pid, &port) == 0, "the server did not start on the database");
    resp r;
    get_port(port, "/api/sweeps?sweep=wal-only", &r);
    cJSON *j = r.body ? cJSON_Parse(r.body) : NULL;
    int st = r.status;
    int seen = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "sweeps")) == 1;
    cJSON_Delete(j);
    resp_free(&r);
    int ex = stop_server(&pid);
    T_CHECK(st == 200 && seen, "the WAL's committed sweep was not served (status %d)", st);
    T_CHECK(ex == 0, "exit status %d after SIGTERM", ex);

    T_CHECK(stat(path, &after) == 0 && sha256_of(path, sha_after, sizeof sha_after) == 0, "sha256");
    T_CHECK(after.st_size == before.st_size, "size %lld -> %lld", (long long)before.st_size,
            (long long)after.st_size);
    T_CHECK(!strcmp(sha_before, sha_after), "sha256 changed");
    T_CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec,
            "mtime changed");
    T_CHECK(stat(wal, &wal_after) == 0 && wal_after.st_size == wal_before.st_size,
            "the WAL was checkpointed or truncated");

    /* A new sweep then writes into the WAL the dead one left, while the
     * server reads: its commit shows up in the next answer. */
    T_CHECK(start_server(path, NULL, &pid, &port) == 0, "the server did not start again");
    sqlite3 *wdb = NULL;
    int wrc = sqlite3_open_v2(path, &wdb, SQLITE_OPEN_READWRITE, NULL);
    if (wrc == SQLITE_OK)
        wrc = sqlite3_exec(wdb, "INSERT INTO sweeps(name, grid, grid_path, host, version, ranks, started)"
                                " VALUES('after-kill', '{}', 'sweeps/after-kill.json', 'node9', 'v', 1, 2)",
                           NULL, NULL, NULL);
    get_port(port, "/api/sweeps?sweep=after-kill", &r);
    j = r.body ? cJSON_Parse(r.body) : NULL;
    st = r.status;
    seen = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "sweeps")) == 1;
    cJSON_Delete(j);
    resp_free(&r);
    sqlite3_close(wdb);
    ex = stop_server(&pid);
    T_CHECK(wrc == SQLITE_OK, "the second writer failed: %d", wrc);
    T_CHECK(st == 200 && seen, "a commit made while serving was not served (status %d)", st);
    T_CHECK(ex == 0, "exit status %d after SIGTERM", ex);
}

/* ------------------------------------------------------------ main */

static int make_web(void)
{
    static const char *const files[] = {"index.html", "app.js", "style.css"};
    char a[400], b[400];
    snprintf(g_web, sizeof g_web, "%s/web", g_dir);
    if (mkdir(g_web, 0755))
        return -1;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(a, sizeof a, "web/%s", files[i]);
        snprintf(b, sizeof b, "%s/%s", g_web, files[i]);
        if (copy_file(a, b))
            return -1;
    }
    snprintf(a, sizeof a, "%s/outside.txt", g_dir);
    FILE *f = fopen(a, "w");
    if (!f || fputs("outside the web dir\n", f) < 0 || fclose(f))
        return -1;
    snprintf(b, sizeof b, "%s/p.txt", g_web);
    int rc = symlink("/etc/passwd", b);
    snprintf(b, sizeof b, "%s/o.txt", g_web);
    rc |= symlink("../outside.txt", b);
    snprintf(b, sizeof b, "%s/in.html", g_web);
    rc |= symlink("index.html", b);
    snprintf(b, sizeof b, "%s/up.html", g_web);
    rc |= symlink("..", b);
    snprintf(b, sizeof b, "%s/d.txt", g_web);
    rc |= mkdir(b, 0755);
    return rc;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    (void)qs_gen_advance; /* gen_db.h's writer: not needed here */
    const char *bin = getenv("QSWEEP_BIN");
    snprintf(g_bin, sizeof g_bin, "%s", bin ? bin : "bin/qsweep");
    snprintf(g_dir, sizeof g_dir, "%s/qsweep-guard.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    if (access(g_bin, X_OK) != 0) {
        printf("FAIL setup: %s is missing (run make)\n", g_bin);
        return 1;
    }
    snprintf(g_db, sizeof g_db, "%s/results.db", g_dir);
    qs_gen_cfg cfg = {"sql/schema.sql", NULL, 0, 0, 42, (double)time(NULL)};
    char err[512];
    if (qs_gen_db(g_db, &cfg, err, sizeof err) || make_web()) {
        printf("FAIL setup: the database or the web directory: %s\n", err);
        return 1;
    }
    if (start_server(g_db, g_web, &g_pid, &g_port) != 0) {
        printf("FAIL setup: the server did not start\n");
        return 1;
    }
    T_RUN(symlink_out_of_web);
    T_RUN(raw_nul_and_control);
    T_RUN(limits_answer_json);
    T_RUN(slow_clients_one_address);
    T_RUN(slow_clients_many_addresses);
    stop_server(&g_pid);
    T_RUN(killed_writer_db_untouched);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", g_dir);
    T_EXIT();
}
