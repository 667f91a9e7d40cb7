/* The worker layer's subcommands (the server's are server/cli/cli.h); each
 * returns the process exit status (interfaces.md:
 * 0 success, 1 training failure, 2 bad usage or input). */
#ifndef QS_CMD_H
#define QS_CMD_H

int qs_cmd_train(int argc, char **argv);
int qs_cmd_bench(int argc, char **argv);
int qs_cmd_info(int argc, char **argv);
int qs_cmd_export(int argc, char **argv);

/* Process exit statuses: the one list (README, docs/cluster.md). A sweep
 * exits 0 only when every phase is done and every result is committed;
 * a diverged phase (docs/methods.md, "Divergence") is a failed one. */
enum {
    QS_EXIT_OK = 0,
    QS_EXIT_FAILED = 1,   /* training failure; for a sweep: some phase failed */
    QS_EXIT_USAGE = 2,    /* bad usage or input; database held by a live coordinator */
    QS_EXIT_STORAGE = 3,  /* a sweep could not write its database (disk full, I/O) */
    QS_EXIT_SIGNAL = 130  /* stopped by SIGINT/SIGTERM */
};

/* Exit status for a core error code. */
int qs_exit_status(int rc);

#endif
