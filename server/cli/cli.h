/* The server layer's subcommands; each returns the process exit status
 * (worker/cmd/cmd.h lists the statuses and the worker's own commands). */
#ifndef QS_CLI_H
#define QS_CLI_H

#include "args.h"
#include "cmd.h"

int qs_cmd_expand(int argc, char **argv);
int qs_cmd_status(int argc, char **argv);
int qs_cmd_serve(int argc, char **argv);
int qs_cmd_report(int argc, char **argv);
/* `qsweep checkpoint get`: a phase's stored checkpoint written to a file. */
int qs_cmd_checkpoint(int argc, char **argv);
/* `mpirun -n N qsweep GRID.json [...]`: argv[0] is the grid path. */
int qs_cmd_sweep(int argc, char **argv);
/* `qsweep run-until-done GRID.json ...`: reruns after a lost rank. */
int qs_cmd_run_until_done(int argc, char **argv);

#endif
