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

typedef struct {
    const char *db, *bind, *web;
    int port, threads, cache;
} serve_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qsweep serve [--db results.db] [--port 8080] [--bind 127.0.0.1]\n"
            "                    [--web DIR] [--threads N] [--no-cache]\n"
            "  --db F       results database (read only; default results.db)\n"
            "  --port P     TCP port; 0 picks a free one (default 8080)\n"
            "  --bind A     address to listen on (default 127.0.0.1: this machine only)\n"
            "  --web DIR    the dashboard's files (default ../web next to the binary,\n"
            "               then /usr/share/qsweep/web)\n"
            "  --threads N  database queries at once (default 4; each connection has\n"
            "               its own thread, cached answers need no query)\n"
            "  --no-cache   query the database on every request (for measurements;\n"
            "               by default identical requests between two commits of\n"
            "               the sweep share one answer for up to 2 s)\n"
            "Prints the URL, then serves until Ctrl-C. The page and docs/api.md\n"
            "describe what it shows.\n");
}

static int parse_int(const char *flag, const char *s, long lo, long hi, int *out)
{
    return qs_parse_int(out, flag, s, lo, hi);
}

static int parse(serve_opts *o, int argc, char **argv, int *help)
{
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return QS_OK;
        }
        if (!strcmp(a, "--no-cache")) {
            o->cache = 0;
            continue;
        }
        static const char *const known[] = {"--db", "--bind", "--web", "--port", "--threads"};
        int ok = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok |= !strcmp(a, known[k]);
        if (!ok)
            return qs_err(QS_EINVAL, "%s option %s (see qsweep serve --help)",
                          a[0] == '-' ? "unknown" : "unexpected argument, not an", a);
        if (i + 1 >= argc)
            return qs_err(QS_EINVAL, "%s needs a value", a);
        const char *v = argv[++i];
        int rc = QS_OK;
        if (!strcmp(a, "--db"))
            o->db = v;
        else if (!strcmp(a, "--bind"))
            o->bind = v;
        else if (!strcmp(a, "--web"))
            o->web = v;
        else if (!strcmp(a, "--port"))
            rc = parse_int(a, v, 0, 65535, &o->port);
        else
            rc = parse_int(a, v, 1, 64, &o->threads);
        if (rc)
            return rc;
    }
    return QS_OK;
}

int qs_cmd_serve(int argc, char **argv)
{
    serve_opts o = {"results.db", "127.0.0.1", NULL, 8080, 4, 1};
    qs_dbpool *pool = NULL;
    qs_cache *cache = NULL;
    qs_http *http = NULL;
    char webdir[PATH_MAX], chartjs[PATH_MAX];
    sigset_t sigs, old;
    int help, status = 2, masked = 0;

    if (parse(&o, argc, argv, &help)) {
        fprintf(stderr, "qsweep serve: %s\n", qs_errmsg());
        usage(stderr);
        return 2;
    }
    if (help) {
        usage(stdout);
        return 0;
    }
    /* --threads read connections: that many requests query at once; the
     * rest wait for a free one (cached answers need none). */
    if (qs_dbpool_create(&pool, o.db, o.threads)) {
        fprintf(stderr, "qsweep serve: %s\n", qs_errmsg());
        goto cleanup;
    }
    if (qs_static_find_webdir(o.web, webdir, sizeof webdir)) {
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

    if (o.cache && qs_cache_create(&cache, (size_t)64 << 20, 2.0)) {
        fprintf(stderr, "qsweep serve: %s\n", qs_errmsg());
        goto cleanup;
    }
    qs_http_cfg cfg = {o.bind, o.port, webdir, chartjs, pool, cache};
    if (qs_http_start(&http, &cfg)) {
        fprintf(stderr, "qsweep serve: %s\n", qs_errmsg());
        goto cleanup;
    }
    int v6 = strchr(o.bind, ':') != NULL;
    printf("qsweep serve: http://%s%s%s:%d/\n", v6 ? "[" : "", o.bind, v6 ? "]" : "",
           qs_http_port(http));
    fflush(stdout);
    fprintf(stderr, "qsweep serve: database %s (read only), web files %s\n", o.db, webdir);
    if (!qs_dbpool_fast(pool))
        fprintf(stderr, "qsweep serve: note: %s lacks the index phases_read (sql/indexes.sql); "
                        "large sweeps will answer slower\n", o.db);

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
