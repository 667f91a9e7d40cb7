/* qsweep: one binary, subcommands. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "blas_fix.h"
#include "cli.h"
#include "err.h"
#include "simd.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qsweep COMMAND [options]\n"
            "  train    train one phase (float, retrain or clr), no MPI\n"
            "  bench    training speed of a model (img/s, GFLOP/s, BLAS core)\n"
            "  info     parameter count, cost and layers of a model\n"
            "  GRID.json [--db results.db] [--dry-run] [--retry-failed]\n"
            "           run a sweep (under mpirun: rank 0 coordinates, the rest train)\n"
            "  run-until-done GRID.json [--db F] [--retries N] [-- MPIRUN_OPTIONS]\n"
            "           run a sweep under mpirun, rerun it after a lost rank or node\n"
            "  expand GRID.json   the phases of a grid, their parameters and cost\n"
            "  status [--db F] [--sweep S] [--json]   progress of the sweeps in a database\n"
            "  serve [--db F] [--port 8080] [--bind 127.0.0.1]   the dashboard\n"
            "  report table5|table4|best|pivot|pareto [--db F] [--sweep S] [--dataset D]\n"
            "           [--format text|markdown|csv]   tables of the results\n"
            "  checkpoint get --db F --phase ID --out FILE   a phase's checkpoint as a file\n"
            "  export --from CK --out FILE   integer weight codes and scales\n"
            "  version  version, BLAS core and kernel paths of this machine\n"
            "run 'qsweep COMMAND --help' for a command's options; docs/cli.md has them all\n");
}

int main(int argc, char **argv)
{
    qs_blas_autofix(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (qs_simd_check_env() != QS_OK) {
        fprintf(stderr, "qsweep: %s\n", qs_errmsg());
        return 2;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return qs_print_version(stdout);
    if (strcmp(cmd, "train") == 0)
        return qs_cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return qs_cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0)
        return qs_cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "run-until-done") == 0)
        return qs_cmd_run_until_done(argc - 1, argv + 1);
    if (strcmp(cmd, "expand") == 0)
        return qs_cmd_expand(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return qs_cmd_status(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return qs_cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return qs_cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return qs_cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "checkpoint") == 0)
        return qs_cmd_checkpoint(argc - 1, argv + 1);
    size_t len = strlen(cmd);
    if (len > 5 && strcmp(cmd + len - 5, ".json") == 0)
        return qs_cmd_sweep(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "qsweep: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
