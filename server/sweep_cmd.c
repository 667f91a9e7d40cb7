/* `mpirun -n N qsweep GRID.json [--db results.db] [--dry-run] [--retry-failed]`:
 * rank 0 validates the grid, registers the sweep and coordinates; every
 * other rank trains. With one rank, rank 0 also trains. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>

#include "num.h"
#include "cmd.h"
#include "coord.h"
#include "db.h"
#include "db_phase.h"
#include "err.h"
#include "grid.h"
#include "mpi_msg.h"

#ifndef QS_VERSION
#define QS_VERSION "dev"
#endif

static void usage(void)
{
    fprintf(stderr, "usage: mpirun -n N qsweep GRID.json [--db results.db] [--dry-run] "
                    "[--retry-failed] [--ckpt-interval SECONDS] [--quiet]\n"
                    "rank 0 coordinates and writes the database, ranks 1..N-1 train; "
                    "with -n 1 rank 0 also trains.\n");
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

static int coordinator(int argc, char **argv, int size)
{
    const char *path = argv[0], *dbpath = "results.db";
    int dry = 0, retry = 0, quiet = 0, rc;
    double ckpt_interval = 10.0;
    char *errors = NULL;
    qs_grid g;
    qs_db db;
    int64_t sweep_id = 0;
    memset(&g, 0, sizeof g);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            dbpath = argv[++i];
        else if (!strcmp(argv[i], "--dry-run"))
            dry = 1;
        else if (!strcmp(argv[i], "--retry-failed"))
            retry = 1;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
        else if (!strcmp(argv[i], "--ckpt-interval") && i + 1 < argc) {
            if (qs_parse_double(&ckpt_interval, argv[++i], 0, 1e9)) {
                fprintf(stderr, "qsweep: --ckpt-interval %s: expected seconds from 0 to 1e9\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "qsweep: unknown or incomplete option \"%s\"\n", argv[i]);
            usage();
            return 2;
        }
    }
    /* Everything is validated before the database is opened: a bad grid
     * never touches it. */
    if ((rc = qs_grid_load(&g, path, !dry, &errors)) != QS_OK) {
        fprintf(stderr, "qsweep: %s has problems; nothing was run:\n%s", path,
                errors ? errors : qs_errmsg());
        if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
            fputc('\n', stderr);
        free(errors);
        return 2;
    }
    if (dry) {
        rc = dry_run(&g, dbpath);
        qs_grid_free(&g);
        return rc;
    }
    if ((rc = qs_db_open(&db, dbpath, 0)) != QS_OK) {
        fprintf(stderr, "qsweep: %s\n", qs_errmsg());
        qs_grid_free(&g);
        return 2;
    }
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    if ((rc = qs_db_sweep_begin(&db, &g, host, QS_VERSION, size, &sweep_id)) == QS_OK && retry)
        rc = qs_db_retry_failed(&db, sweep_id);
    if (rc == QS_OK) {
        qs_coord_opts o = {ckpt_interval, !quiet, QS_VERSION};
        rc = qs_coord_run(&g, &db, sweep_id, size, &o);
        if (rc == QS_OK)
            rc = qs_db_sweep_end(&db, sweep_id);
    }
    if (rc && rc != QS_EINTR)
        fprintf(stderr, "qsweep: %s\n", qs_errmsg());
    qs_db_close(&db);
    qs_grid_free(&g);
    if (rc == QS_EINTR)
        return 130;
    return qs_exit_status(rc);
}

/* Debian's MPICH 4.0 with UCX over TCP can leave ranks on different hosts
 * spinning in MPI_Finalize (reproduced without qsweep; docs/cluster.md).
 * By then the database is closed and every result is written, so after
 * QSWEEP_FINALIZE_TIMEOUT seconds (default 30) the rank exits anyway. */
static volatile sig_atomic_t finalize_status;
static void finalize_timeout(int sig)
{
    static const char msg[] = "qsweep: MPI_Finalize did not return within "
                              "QSWEEP_FINALIZE_TIMEOUT; leaving (every result is "
                              "written; docs/cluster.md)\n";
    (void)sig;
    /* write(2) is async-signal-safe; a silent exit would look like a crash */
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(finalize_status);
}

int qs_cmd_sweep(int argc, char **argv)
{
    int rank = 0, size = 1, status;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    qs_install_stop_handlers();
    if (rank == 0) {
        status = coordinator(argc, argv, size);
        if (status == 2 && size > 1)
            qs_coord_dismiss(size); /* refused before any work was handed out */
    } else {
        double ckpt_interval = 10.0;
        for (int i = 1; i + 1 < argc; i++)
            if (!strcmp(argv[i], "--ckpt-interval"))
                qs_parse_double(&ckpt_interval, argv[i + 1], 0, 1e9); /* checked by rank 0 */
        status = qs_worker_loop(ckpt_interval) == QS_OK ? 0 : 1;
    }
    finalize_status = status;
    signal(SIGALRM, finalize_timeout);
    alarm(getenv("QSWEEP_FINALIZE_TIMEOUT") ? (unsigned)atoi(getenv("QSWEEP_FINALIZE_TIMEOUT")) : 30);
    MPI_Finalize();
    alarm(0);
    return status;
}
