/* Shared set-up and helpers of the `qsweep serve` end-to-end tests
 * (test_http.c: start-up, static files, hostile requests, live updates;
 * test_http_api.c: every API endpoint against the database): the scratch
 * directory, the generated databases, the server processes and the JSON
 * and SQL look-ups the cases use. Header-only, as http_client.h. */
#ifndef QS_HTTP_SUITE_H
#define QS_HTTP_SUITE_H

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
#include "tharness.h"

static char g_dir[256];   /* scratch directory */
static char g_db[300];    /* generated database, with sql/indexes.sql */
static char g_db2[300];   /* the same without them */
static pid_t g_pid = -1;  /* the server under test */
static int g_port;
/* Only test_http.c starts this second server (on g_db2, with --no-cache). */
static pid_t g_pid2 = -1;
static int g_port2 __attribute__((unused));

static inline int raw_request(const void *req, size_t reqlen, resp *r)
{
    return raw_request_port(g_port, req, reqlen, r);
}

static inline int get(const char *path, resp *r)
{
    char req[8192];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, g_port);
    return raw_request(req, (size_t)n, r);
}

/* GET path, expect 200 and JSON; returns the parsed document or NULL. */
static inline cJSON *get_json(const char *path, int *status)
{
    resp r;
    get(path, &r);
    *status = r.status;
    cJSON *j = r.body ? cJSON_Parse(r.body) : NULL;
    resp_free(&r);
    return j;
}

static inline double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static inline const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline int is_null(const cJSON *o, const char *k)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* ------------------------------------------------------------ database */

static inline sqlite3 *open_db(void)
{
    sqlite3 *db = NULL;
    sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL);
    return db;
}

static inline long long sql_int(const char *sql, const char *arg)
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

static inline uint64_t file_hash(const char *path)
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

/* Every suite ends by checking that serving never wrote to the database:
 * g_db_hash is taken after set-up, before the first request. */
static uint64_t g_db_hash;

static inline void database_untouched(void)
{
    T_CHECK(file_hash(g_db) == g_db_hash, "the server changed the database file");
}


static inline int start_server(const char *db, const char *extra, pid_t *pid, int *port)
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

/* The scratch directory and the same generated rows twice: g_db2 without
 * and g_db (when sql/indexes.sql exists) with the dashboard's covering
 * index. 0, or 1 after printing a FAIL line. */
static inline int suite_setup(const char *tag)
{
    signal(SIGPIPE, SIG_IGN);
    const char *bin = getenv("QSWEEP_BIN");
    snprintf(g_bin, sizeof g_bin, "%s", bin ? bin : "bin/qsweep");
    snprintf(g_dir, sizeof g_dir, "%s/qsweep-%s.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag);
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
    return 0;
}

/* Stops the servers and removes the scratch directory. */
static inline void suite_teardown(void)
{
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
}

/* After set-up: takes g_db_hash (database_untouched compares against it),
 * then starts `qsweep serve` on g_db. On failure prints "FAIL <what>",
 * tears the suite down and returns 1. */
static inline int suite_serve(const char *what)
{
    g_db_hash = file_hash(g_db);
    if (start_server(g_db, NULL, &g_pid, &g_port) == 0)
        return 0;
    printf("FAIL %s\n", what);
    suite_teardown();
    return 1;
}

#endif
