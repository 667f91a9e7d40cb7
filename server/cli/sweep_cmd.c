/* `mpirun -n N qsweep GRID.json [--db results.db] [--dry-run] [--retry-failed]`:
 * rank 0 validates the grid, registers the sweep and coordinates; every
 * other rank trains. With one rank, rank 0 also trains. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>

#include "parse.h"
#include "cli.h"
#include "coord.h"
#include "db.h"
#include "db_phase.h"
#include "err.h"
#include "grid.h"
#include "db_lock.h"
#include "mpi_msg.h"

#ifndef QS_VERSION
#define QS_VERSION "dev"
#endif

static const qs_opt sweep_opts[] = {
    {"--db", "FILE", "results database, created if missing (default results.db)"},
    {"--dry-run", NULL, "list the phases and which would run; train nothing, write nothing"},
    {"--retry-failed", NULL, "failed phases of this sweep run again"},
    {"--ckpt-interval", "S", "seconds between a running phase's checkpoints (default 10)"},
    {"--lock-wait", "S", "wait up to S seconds for another coordinator's claim (default 0)"},
    {"--quiet", NULL, "no progress line on stderr"},
    {NULL, NULL, NULL}};
static const qs_cmd_spec sweep_spec = {
    "", "GRID.json [options]   (under mpirun -n N)", sweep_opts,
    "rank 0 coordinates and writes the database, ranks 1..N-1 train; with -n 1\n"
    "rank 0 also trains. Exit statuses: docs/cluster.md.\n", 0, 0, NULL};

/* A seconds option, if given: -1 when fine, else 2 with the message. */
static int seconds_opt(double *out, const qs_args *a, const char *flag)
{
    const char *v = qs_arg(a, flag);
    if (v && qs_parse_double(out, v, 0, 1e9))
        return qs_args_fail(&sweep_spec, "%s %s: expected seconds from 0 to 1e9", flag, v);
    return -1;
}

/* --dry-run: what would run, against the database if there is one. */
static int dry_run(const qs_grid *g, const char *dbpath)
{
    qs_db db;
    int have_db = access(dbpath, F_OK) == 0 && qs_db_open(&db, dbpath, 1) == QS_OK;
    int todo = 0;
    for (int j = 0; j < g->njobs; j++) {
        const qs_grid_job *jb = &g->jobs[j];
        qs_db_phase_state st = {0};
        if (have_db)
            qs_db_phase_state_get(&db, jb->id, &st);
        const char *status = st.status[0] ? st.status : "new";
        int run = strcmp(status, "done") != 0 && strcmp(status, "failed") != 0;
        todo += run;
        printf("{\"phase_id\":\"%s\",\"phase\":\"%s\",\"parent\":\"%s\",\"model\":\"%s\","
               "\"wbits\":%d,\"abits\":%d,\"regularizer\":\"%s\",\"clr\":%s,\"seed\":%lld,"
               "\"status\":\"%s\",\"would_run\":%s,\"gflop\":%.1f}\n",
               jb->id, qs_phase_name(jb->phase), jb->parent, jb->model_name, jb->model.wbits,
               jb->model.abits, jb->regularizer, jb->clr ? "true" : "false", jb->seed, status,
               run ? "true" : "false", jb->gflop);
    }
    printf("{\"phases\":%d,\"would_run\":%d}\n", g->njobs, todo);
    if (have_db)
        qs_db_close(&db);
    return 0;
}

/* The claim, registration and run on an open database; the exit status. */
static int run_on_db(qs_db *db, qs_grid *g, int size, int retry, double lock_wait,
                     const qs_coord_opts *base)
{
    qs_db_lock lock;
    qs_coord_opts o = *base;
    char host[64] = "", note[512];
    int64_t sweep_id = 0;
    int nfailed = 0, rc;
    gethostname(host, sizeof host - 1);
    /* Claimed before the registration: it requeues 'running' phases, which
     * only the sole coordinator may do. */
    if ((rc = qs_db_lock_claim(&lock, db, g->name, lock_wait, &qs_stop_requested, note,
                               sizeof note))) {
        fprintf(stderr, "qsweep: %s\n", qs_errmsg());
        if (size > 1)
            qs_coord_dismiss(size);
        return rc == QS_EBUSY ? QS_EXIT_USAGE : rc == QS_EINTR ? QS_EXIT_SIGNAL : QS_EXIT_STORAGE;
    }
    if (note[0] && base->progress)
        fprintf(stderr, "qsweep: %s\n", note);
    o.lock = &lock;
    if ((rc = qs_db_sweep_begin(db, g, host, QS_VERSION, size, &sweep_id)) == QS_OK && retry)
        rc = qs_db_retry_failed(db, sweep_id);
    if (rc == QS_OK) {
        rc = qs_coord_run(&nfailed, g, db, sweep_id, size, &o);
        /* `finished`: this run ended on its own terms (the dashboard tells
         * it from a coordinator that died). */
        if (rc == QS_OK || rc == QS_EINTR) {
            int rc2 = qs_db_sweep_end(db, sweep_id);
            if (rc2) {
                fprintf(stderr, "qsweep: database error: %s\n", qs_errmsg());
                rc = rc2;
            }
        }
    } else {
        fprintf(stderr, "qsweep: database error: %s\n", qs_errmsg());
        if (size > 1)
            qs_coord_dismiss(size);
    }
    qs_db_lock_release(&lock, db);
    if (rc == QS_EINTR)
        return QS_EXIT_SIGNAL;
    if (rc) {
        /* Only what a read of the file confirms. */
        qs_db_progress p;
        if (qs_db_progress_get(db, g->name, &p) == QS_OK)
            fprintf(stderr, "qsweep: %s holds %d of %d phases done, as committed before the "
                    "error; fix the storage and run the same command again to continue\n",
                    db->path, p.done, g->njobs);
        return QS_EXIT_STORAGE;
    }
    if (nfailed) {
        fprintf(stderr, "qsweep: %d phase(s) failed (qsweep status lists them; "
                "--retry-failed reruns them)\n", nfailed);
        return QS_EXIT_FAILED;
    }
    return QS_EXIT_OK;
}

/* Rank 0. Every path dismisses the workers before it returns. */
static int coordinator(int argc, char **argv, int size)
{
    const char *path = argv[0], *dbpath = "results.db";
    int dry = 0, retry = 0, quiet = 0, rc, status;
    double ckpt_interval = 10.0, lock_wait = 0;
    char *errors = NULL;
    qs_grid g;
    qs_db db;
    memset(&g, 0, sizeof g);
    qs_args a;
    if (qs_args_parse(&a, &sweep_spec, argc, argv) >= 0) {
        status = QS_EXIT_USAGE; /* --help and --version never get here (qs_cmd_sweep) */
        goto dismiss;
    }
    if (qs_arg(&a, "--db"))
        dbpath = qs_arg(&a, "--db");
    dry = qs_arg_given(&a, "--dry-run");
    retry = qs_arg_given(&a, "--retry-failed");
    quiet = qs_arg_given(&a, "--quiet");
    if (seconds_opt(&ckpt_interval, &a, "--ckpt-interval") >= 0 ||
        seconds_opt(&lock_wait, &a, "--lock-wait") >= 0) {
        status = QS_EXIT_USAGE;
        goto dismiss;
    }
    /* Everything is validated before the database is opened: a bad grid
     * never touches it. */
    if ((rc = qs_grid_load(&g, path, !dry, &errors)) != QS_OK) {
        fprintf(stderr, "qsweep: %s has problems; nothing was run:\n%s", path,
                errors ? errors : qs_errmsg());
        if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
            fputc('\n', stderr);
        free(errors);
        status = QS_EXIT_USAGE;
        goto dismiss;
    }
    if (dry) {
        status = dry_run(&g, dbpath);
        goto dismiss;
    }
    if ((rc = qs_db_open(&db, dbpath, 0)) != QS_OK) {
        fprintf(stderr, "qsweep: %s\n", qs_errmsg());
        status = QS_EXIT_USAGE;
        goto dismiss;
    }
    qs_coord_opts o = {ckpt_interval, !quiet, QS_VERSION, NULL};
    status = run_on_db(&db, &g, size, retry, lock_wait, &o);
    qs_db_close(&db);
    qs_grid_free(&g);
    return status;
dismiss:
    /* Refused before any work was handed out. */
    if (size > 1)
        qs_coord_dismiss(size);
    qs_grid_free(&g);
    return status;
}

/* Debian's MPICH 4.0 with UCX over TCP can leave ranks on different hosts
 * spinning in MPI_Finalize (reproduced without qsweep; docs/cluster.md).
 * By then this rank has closed the database, so after
 * QSWEEP_FINALIZE_TIMEOUT seconds (default 30) it exits anyway, with the
 * status it had. */
static volatile sig_atomic_t finalize_status;
static void finalize_timeout(int sig)
{
    static const char msg[] = "qsweep: MPI_Finalize did not return within "
                              "QSWEEP_FINALIZE_TIMEOUT; leaving with the status this rank "
                              "had (docs/cluster.md)\n";
    (void)sig;
    /* write(2) is async-signal-safe; a silent exit would look like a crash */
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(finalize_status);
}

int qs_cmd_sweep(int argc, char **argv)
{
    int rank = 0, size = 1, status;
    /* Before MPI_Init: `qsweep GRID.json --help` needs no mpirun. */
    if ((status = qs_args_meta(&sweep_spec, argc, argv)) >= 0)
        return status;
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    qs_install_stop_handlers();
    if (rank == 0) {
        status = coordinator(argc, argv, size);
    } else {
        double ckpt_interval = 10.0;
        for (int i = 1; i + 1 < argc; i++)
            if (!strcmp(argv[i], "--ckpt-interval"))
                qs_parse_double(&ckpt_interval, argv[i + 1], 0, 1e9); /* checked by rank 0 */
        /* A signal mpiexec forwarded reached every rank: each exits 130.
         * mpiexec reported 0 for a SIGTERM when only rank 0 did (3 of 3
         * runs, MPICH 4.0.2), so the workers' status must agree. */
        int rc = qs_worker_loop(ckpt_interval);
        status = rc == QS_EINTR ? QS_EXIT_SIGNAL : rc != QS_OK ? QS_EXIT_FAILED : QS_EXIT_OK;
    }
    finalize_status = status;
    signal(SIGALRM, finalize_timeout);
    /* A bad value must not become alarm(0), which would disable the guard
     * against a rank stuck in MPI_Finalize: it keeps the default. */
    long long fin_s = 30;
    const char *fin = getenv("QSWEEP_FINALIZE_TIMEOUT");
    if (fin && qs_parse_ll(&fin_s, fin, 1, 86400) != QS_OK) {
        fprintf(stderr, "qsweep: QSWEEP_FINALIZE_TIMEOUT \"%s\": expected seconds from 1 to 86400; "
                        "using 30\n", fin);
        fin_s = 30;
    }
    alarm((unsigned)fin_s);
    MPI_Finalize();
    alarm(0);
    return status;
}
