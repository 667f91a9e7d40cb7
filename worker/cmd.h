/* Subcommands; each returns the process exit status (interfaces.md:
 * 0 success, 1 training failure, 2 bad usage or input). */
#ifndef QS_CMD_H
#define QS_CMD_H

int qs_cmd_train(int argc, char **argv);
int qs_cmd_bench(int argc, char **argv);
int qs_cmd_info(int argc, char **argv);

/* Exit status for a core error code. */
int qs_exit_status(int rc);

#endif
