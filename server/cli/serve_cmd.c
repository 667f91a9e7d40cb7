/* `qsweep serve [--db results.db] [--port 8080] [--bind 127.0.0.1]`: the
 * results dashboard. Prints its URL on stdout, serves until SIGINT or
 * SIGTERM. Start-up problems (no database, not a qsweep database, port in
 * use) exit 2 with a message; the database file is only ever read. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "api_db.h"
#include "cli.h"
#include "err.h"
#include "http.h"
#include "http_static.h"

static const qs_opt serve_opts[] = {
    {"--db", "FILE", "results database (read only; default results.db)"},
    {"--port", "P", "TCP port; 0 picks a free one (default 8080)"},
    {"--bind", "ADDR", "address to listen on (default 127.0.0.1: this machine only)"},
    {"--web", "DIR", "the dashboard's files (default ../web next to the binary, then "
                     "/usr/share/qsweep/web)"},
    {"--threads", "N", "database queries at once, 1..64 (default 4; cached answers need none)"},
    {"--no-cache", NULL, "query the database on every request (for measurements; by default "
                         "identical requests between two commits share one answer for up to 2 s)"},
    {NULL, NULL, NULL}};
static const qs_cmd_spec serve_spec = {
    "serve", "serve [--db results.db] [--port 8080] [--bind 127.0.0.1] [--web DIR] "
    "[--threads N] [--no-cache]", serve_opts,
    "Prints the URL, then serves until Ctrl-C. The page and docs/api.md\n"
    "describe what it shows.\n", 0, 0, NULL};

int qs_cmd_serve(int argc, char **argv)
{
    qs_dbpool *pool = NULL;
    qs_cache *cache = NULL;
    qs_http *http = NULL;
    char webdir[PATH_MAX], chartjs[PATH_MAX];
    sigset_t sigs, old;
    int status = 2, masked = 0, port = 8080, threads = 4;
    qs_args a;
    if ((status = qs_args_parse(&a, &serve_spec, argc, argv)) >= 0)
        return status;
    status = 2;
    const char *db = qs_arg(&a, "--db") ? qs_arg(&a, "--db") : "results.db";
    const char *bind = qs_arg(&a, "--bind") ? qs_arg(&a, "--bind") : "127.0.0.1";
    if ((qs_arg(&a, "--port") && qs_parse_int(&port, "--port", qs_arg(&a, "--port"), 0, 65535)) ||
        (qs_arg(&a, "--threads") &&
         qs_parse_int(&threads, "--threads", qs_arg(&a, "--threads"), 1, 64)))
        return qs_args_fail(&serve_spec, "%s", qs_errmsg());
    /* --threads read connections: that many requests query at once; the
     * rest wait for a free one (cached answers need none). */
    if (qs_dbpool_create(&pool, db, threads)) {
        fprintf(stderr, "qsweep serve: %s\n", qs_errmsg());
        goto cleanup;
    }
    if (qs_static_find_webdir(qs_arg(&a, "--web"), webdir, sizeof webdir)) {
        fprintf(stderr, "qsweep serve: %s\n", qs_errmsg());
        goto cleanup;
    }
    qs_static_find_chartjs(chartjs, sizeof chartjs);
    if (!chartjs[0])
        fprintf(stderr, "qsweep serve: warning: Chart.js not found (Debian package "
                        "libjs-chart.js; make setup): the page will show no charts\n");

    /* The signals are blocked before the server threads start, so they
     * inherit the mask and only sigwait below receives them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    masked = 1;
    /* A client that hangs up mid-response must not kill the server. */
    signal(SIGPIPE, SIG_IGN);

    if (!qs_arg_given(&a, "--no-cache") && qs_cache_create(&cache, (size_t)64 << 20, 2.0)) {
        fprintf(stderr, "qsweep serve: %s\n", qs_errmsg());
        goto cleanup;
    }
    qs_http_cfg cfg = {bind, port, webdir, chartjs, pool, cache};
    if (qs_http_start(&http, &cfg)) {
        fprintf(stderr, "qsweep serve: %s\n", qs_errmsg());
        goto cleanup;
    }
    int v6 = strchr(bind, ':') != NULL;
    printf("qsweep serve: http://%s%s%s:%d/\n", v6 ? "[" : "", bind, v6 ? "]" : "",
           qs_http_port(http));
    fflush(stdout);
    fprintf(stderr, "qsweep serve: database %s (read only), web files %s\n", db, webdir);
    if (!qs_dbpool_fast(pool))
        fprintf(stderr, "qsweep serve: note: %s lacks the index phases_read (sql/indexes.sql); "
                        "large sweeps will answer slower\n", db);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    fprintf(stderr, "qsweep serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;
cleanup:
    qs_http_stop(http);
    qs_cache_destroy(cache);
    qs_dbpool_destroy(pool);
    if (masked)
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    return status;
}
