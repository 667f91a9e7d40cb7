/* `qsweep run-until-done GRID.json [--db F] [--retries N] [sweep options]
 * [-- mpirun options]`: runs the sweep under mpirun and, when the job ends
 * the way a lost rank or node ends it, runs it again (done phases are kept,
 * interrupted ones resume from their checkpoints) until every phase is
 * done or the retry budget is spent. MPICH ends the whole job when one
 * rank dies, so rerunning is the recovery (docs/cluster.md). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "db_lock.h"
#include "parse.h"

#define QS_RERUN_DEFAULT_RETRIES 3
/* A rerun after a lost node may find rank 0's claim from that node, which
 * is taken over once its heartbeat is stale: it waits that long, and a
 * little more for clock differences. */
#define QS_RERUN_LOCK_WAIT_S (QS_LOCK_STALE_S + 10.0)
#define QS_RERUN_MAX_ARGS 256

static volatile sig_atomic_t child_pid, got_signal;

/* The signal goes on to mpirun, which hands it to the ranks (they requeue
 * their phases and exit 130); the loop then stops instead of rerunning. */
static void on_signal(int sig)
{
    got_signal = sig;
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static const qs_opt rerun_opts[] = {
    {"--db", "FILE", "results database (default results.db)"},
    {"--retries", "N", "reruns after a lost rank or node, 0..1000000 (default 3)"},
    {"--ckpt-interval", "S", "passed on to the sweep: seconds between checkpoints"},
    {"--quiet", NULL, "passed on to the sweep: no progress line"},
    {"--retry-failed", NULL, "failed phases run again (on the first run only)"},
    {"--mpirun", "PROGRAM", "the launcher (default $QSWEEP_MPIRUN, else mpirun)"},
    {NULL, NULL, NULL}};
static const qs_cmd_spec rerun_spec = {
    "run-until-done", "run-until-done GRID.json [options] [-- MPIRUN_OPTIONS...]", rerun_opts,
    "runs `mpirun MPIRUN_OPTIONS qsweep GRID.json ...` and reruns it after a lost rank\n"
    "or node, until every phase is done (exit 0) or the reruns are spent.\n"
    "Stops at once on what a rerun cannot fix: 1 failed phases, 2 bad grid or database\n"
    "held by another coordinator, 3 storage error, 130 SIGINT/SIGTERM.\n",
    1, 1, NULL};

/* What the exit status of one attempt means for the loop. */
static const char *final_reason(int code)
{
    switch (code) {
    case QS_EXIT_OK: return "every phase is done";
    case QS_EXIT_FAILED: return "some phases failed (qsweep status; --retry-failed reruns them)";
    case QS_EXIT_USAGE: return "bad usage or grid, or the database is held by another coordinator";
    case QS_EXIT_STORAGE: return "the database could not be written";
    case QS_EXIT_SIGNAL: return "stopped by SIGINT/SIGTERM";
    case 127: return "mpirun could not be started";
    default: return NULL; /* a lost rank or node, as far as can be told: rerun */
    }
}

/* One mpirun; its exit status, signals as 128 + number (as a shell has it). */
static int run_once(char **argv)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "qsweep run-until-done: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "qsweep run-until-done: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    child_pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

int qs_cmd_run_until_done(int argc, char **argv)
{
    const char *grid, *db, *mpirun = getenv("QSWEEP_MPIRUN");
    const char *pass[8];
    int npass = 0, retries = QS_RERUN_DEFAULT_RETRIES, retry_failed, st;
    char self[PATH_MAX], wait_s[32];
    qs_args a;
    if ((st = qs_args_parse(&a, &rerun_spec, argc, argv)) >= 0)
        return st;
    if (a.npos == 0)
        return qs_args_fail(&rerun_spec, "give the grid file (GRID.json)");
    grid = a.pos[0];
    db = qs_arg(&a, "--db") ? qs_arg(&a, "--db") : "results.db";
    if (qs_arg(&a, "--mpirun"))
        mpirun = qs_arg(&a, "--mpirun");
    if (!mpirun || !mpirun[0])
        mpirun = "mpirun";
    if (qs_arg(&a, "--retries") &&
        qs_parse_int(&retries, "--retries", qs_arg(&a, "--retries"), 0, 1000000))
        return qs_args_fail(&rerun_spec, "%s", qs_errmsg());
    retry_failed = qs_arg_given(&a, "--retry-failed");
    /* The sweep checks the values it is passed (exit 2 on the first run). */
    if (qs_arg(&a, "--ckpt-interval")) {
        pass[npass++] = "--ckpt-interval";
        pass[npass++] = qs_arg(&a, "--ckpt-interval");
    }
    if (qs_arg_given(&a, "--quiet"))
        pass[npass++] = "--quiet";
    int nmpi = a.nrest;
    char **mpi_args = a.rest;
    /* mpirun, its options, this binary, the grid, 3 + 2 + 1 own, passed on, NULL */
    if (nmpi + npass + 10 > QS_RERUN_MAX_ARGS) {
        fprintf(stderr, "qsweep run-until-done: too many arguments\n");
        return QS_EXIT_USAGE;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "qsweep run-until-done: cannot find its own binary: %s\n",
                strerror(errno));
        return QS_EXIT_USAGE;
    }
    self[n] = 0;
    snprintf(wait_s, sizeof wait_s, "%.0f", QS_RERUN_LOCK_WAIT_S);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int code = QS_EXIT_OK;
    for (int attempt = 0;; attempt++) {
        char *av[QS_RERUN_MAX_ARGS];
        int k = 0;
        av[k++] = (char *)mpirun;
        for (int j = 0; j < nmpi; j++)
            av[k++] = mpi_args[j];
        av[k++] = self;
        av[k++] = (char *)grid;
        av[k++] = "--db";
        av[k++] = (char *)db;
        for (int j = 0; j < npass; j++)
            av[k++] = (char *)pass[j];
        if (retry_failed && attempt == 0)
            av[k++] = "--retry-failed";
        if (attempt > 0) {
            av[k++] = "--lock-wait";
            av[k++] = wait_s;
        }
        av[k] = NULL;
        code = got_signal ? QS_EXIT_SIGNAL : run_once(av);
        if (got_signal || code == 128 + SIGINT || code == 128 + SIGTERM)
            code = QS_EXIT_SIGNAL;
        const char *why = final_reason(code);
        if (why) {
            fprintf(stderr, "qsweep run-until-done: %s (exit %d) after %d run(s)%s\n", why, code,
                    attempt + 1, code == QS_EXIT_OK || attempt == 0 ? "" : "; not rerun");
            return code == 127 ? QS_EXIT_USAGE : code;
        }
        if (attempt >= retries) {
            fprintf(stderr, "qsweep run-until-done: run %d ended with status %d and the %d "
                    "rerun(s) of --retries are spent; qsweep status --db %s shows what is left\n",
                    attempt + 1, code, retries, db);
            return code;
        }
        fprintf(stderr, "qsweep run-until-done: run %d ended with status %d (a rank or node "
                "lost?); rerunning (%d of %d reruns): done phases are kept, interrupted ones "
                "resume from their checkpoints\n", attempt + 1, code, attempt + 1, retries);
    }
}
